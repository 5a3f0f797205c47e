//! DeleteAcls (key 31), versions 1–3.
//!
//! Needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED for every
//! filter). Removes every ACL any valid filter selects, in one change, and
//! reports per filter the ACLs it matched. A filter with an unknown code
//! gets INVALID_REQUEST; a storage failure UNKNOWN_SERVER_ERROR for all.

use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclBindingFilter;

use super::acl_context::{parse_change, AclContext, ParsedItems, WireAcl};
use super::{text, versions, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 3);

/// Answers DeleteAcls.
pub async fn handle(
    acls: &AclContext<'_>,
    request: DeleteAclsRequest,
    ctx: &RequestContext,
) -> DeleteAclsResponse {
    let failed = |error: ResponseError, message: String| {
        DeleteAclsFilterResult::default()
            .with_error_code(error.code())
            .with_error_message(Some(text(message)))
    };
    let items = parse_change(acls, ctx, "delete", &request.filters, wire, failed);
    let ParsedItems { parsed, valid } = match items {
        Ok(items) => items,
        Err(refused) => return DeleteAclsResponse::default().with_filter_results(refused),
    };
    let mut removed = match acls.authorizer.delete(&valid) {
        Ok(removed) => removed.into_iter(),
        Err(e) => {
            tracing::error!(error = %e, "cannot store ACLs");
            let results = parsed
                .iter()
                .map(|_| failed(ResponseError::UnknownServerError, e.to_string()))
                .collect();
            return DeleteAclsResponse::default().with_filter_results(results);
        }
    };
    let results = parsed
        .into_iter()
        .map(|p| match p {
            Err(why) => failed(ResponseError::InvalidRequest, why),
            Ok(_) => {
                let matching = removed
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|acl| {
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(acl.pattern.resource_type.code())
                            .with_resource_name(text(acl.pattern.name))
                            .with_pattern_type(acl.pattern.pattern_type.code())
                            .with_principal(text(acl.entry.principal))
                            .with_host(text(acl.entry.host))
                            .with_operation(acl.entry.operation.code())
                            .with_permission_type(acl.entry.permission_type.code())
                    })
                    .collect();
                DeleteAclsFilterResult::default().with_matching_acls(matching)
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

/// The filter one wire filter describes.
fn wire(f: &DeleteAclsFilter) -> Result<AclBindingFilter, String> {
    WireAcl {
        resource_type: f.resource_type_filter,
        resource_name: f.resource_name_filter.as_ref(),
        pattern_type: f.pattern_type_filter,
        principal: f.principal_filter.as_ref(),
        host: f.host_filter.as_ref(),
        operation: f.operation,
        permission_type: f.permission_type,
    }
    .filter()
}
