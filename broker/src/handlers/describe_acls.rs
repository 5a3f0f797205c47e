//! DescribeAcls (key 29), versions 1–3.
//!
//! Needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED).
//! Lists every ACL the filter selects (MATCH: every pattern applying to
//! the named resource), grouped by resource pattern in creation order. An
//! unknown code in the filter answers INVALID_REQUEST.

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::{AclOperation, ResourcePattern};

use super::acl_context::{AclContext, WireAcl};
use super::{text, versions, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 3);

/// Answers DescribeAcls.
pub async fn handle(
    acls: &AclContext<'_>,
    request: DescribeAclsRequest,
    ctx: &RequestContext,
) -> DescribeAclsResponse {
    let refuse = |error: ResponseError, message: String| {
        DescribeAclsResponse::default()
            .with_error_code(error.code())
            .with_error_message(Some(text(message)))
    };
    if !acls.access(ctx).cluster(AclOperation::Describe) {
        return refuse(
            ResponseError::ClusterAuthorizationFailed,
            "DESCRIBE on the cluster is required to list ACLs".to_string(),
        );
    }
    let filter = WireAcl {
        resource_type: request.resource_type_filter,
        resource_name: request.resource_name_filter.as_ref(),
        pattern_type: request.pattern_type_filter,
        principal: request.principal_filter.as_ref(),
        host: request.host_filter.as_ref(),
        operation: request.operation,
        permission_type: request.permission_type,
    }
    .filter();
    let filter = match filter {
        Ok(filter) => filter,
        Err(why) => return refuse(ResponseError::InvalidRequest, why),
    };
    let mut groups: Vec<(ResourcePattern, Vec<AclDescription>)> = Vec::new();
    for acl in acls.authorizer.describe(&filter) {
        let description = AclDescription::default()
            .with_principal(text(acl.entry.principal))
            .with_host(text(acl.entry.host))
            .with_operation(acl.entry.operation.code())
            .with_permission_type(acl.entry.permission_type.code());
        match groups.iter_mut().find(|(p, _)| *p == acl.pattern) {
            Some((_, list)) => list.push(description),
            None => groups.push((acl.pattern, vec![description])),
        }
    }
    let resources = groups
        .into_iter()
        .map(|(pattern, list)| {
            DescribeAclsResource::default()
                .with_resource_type(pattern.resource_type.code())
                .with_resource_name(text(pattern.name))
                .with_pattern_type(pattern.pattern_type.code())
                .with_acls(list)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}
