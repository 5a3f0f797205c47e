//! CreateAcls (key 30), versions 1–3.
//!
//! Needs ALTER on the cluster (else CLUSTER_AUTHORIZATION_FAILED for every
//! creation, as Kafka answers). Each creation is checked as Kafka checks
//! it (concrete types, LITERAL or PREFIXED, `Type:name` principal, the
//! cluster named `kafka-cluster`): a bad one gets INVALID_REQUEST, the
//! others are stored together (an ACL that exists already is a success).
//! A storage failure answers UNKNOWN_SERVER_ERROR for the valid ones.

use durian_core::acl::AclBinding;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::acl_context::{parse_change, AclContext, ParsedItems, WireAcl};
use super::{text, versions, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 3);

/// Answers CreateAcls.
pub async fn handle(
    acls: &AclContext<'_>,
    request: CreateAclsRequest,
    ctx: &RequestContext,
) -> CreateAclsResponse {
    let failed = |error: ResponseError, message: String| {
        AclCreationResult::default()
            .with_error_code(error.code())
            .with_error_message(Some(text(message)))
    };
    let items = parse_change(acls, ctx, "create", &request.creations, wire, failed);
    let ParsedItems { parsed, valid } = match items {
        Ok(items) => items,
        Err(refused) => return CreateAclsResponse::default().with_results(refused),
    };
    let stored = acls.authorizer.create(&valid);
    if let Err(e) = &stored {
        tracing::error!(error = %e, "cannot store ACLs");
    }
    let results = parsed
        .into_iter()
        .map(|p| match (p, &stored) {
            (Err(why), _) => failed(ResponseError::InvalidRequest, why),
            (Ok(_), Err(e)) => failed(ResponseError::UnknownServerError, e.to_string()),
            (Ok(_), Ok(())) => AclCreationResult::default(),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// The ACL one creation asks for, checked as Kafka checks it.
fn wire(c: &AclCreation) -> Result<AclBinding, String> {
    WireAcl {
        resource_type: c.resource_type,
        resource_name: Some(&c.resource_name),
        pattern_type: c.resource_pattern_type,
        principal: Some(&c.principal),
        host: Some(&c.host),
        operation: c.operation,
        permission_type: c.permission_type,
    }
    .binding()
}
