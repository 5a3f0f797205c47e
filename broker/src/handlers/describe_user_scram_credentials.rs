//! DescribeUserScramCredentials (key 50), version 0.
//!
//! Lists the SCRAM mechanisms and iteration counts stored for the named
//! users (all users when the list is null or empty); never salts or keys.
//! A named user without credentials gets RESOURCE_NOT_FOUND, a user named
//! twice DUPLICATE_RESOURCE, as in Kafka. Needs DESCRIBE on the cluster:
//! without it the response and every named user's result carry
//! CLUSTER_AUTHORIZATION_FAILED (Kafka's answer), and nothing is listed.

use std::collections::HashSet;

use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, RequestContext, ScramContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 0);

/// Answers DescribeUserScramCredentials.
pub async fn handle(
    scram: &ScramContext<'_>,
    request: DescribeUserScramCredentialsRequest,
    ctx: &RequestContext,
) -> DescribeUserScramCredentialsResponse {
    if !scram.access(ctx).cluster(AclOperation::Describe) {
        return refused(request);
    }
    let stored = scram.store().describe();
    let infos = |user: &str| {
        stored.get(user).map(|list| {
            list.iter()
                .map(|(mechanism, iterations)| {
                    CredentialInfo::default()
                        .with_mechanism(mechanism.wire_type())
                        .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                })
                .collect::<Vec<_>>()
        })
    };
    let named: Vec<String> = request
        .users
        .unwrap_or_default()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    let results = if named.is_empty() {
        stored
            .keys()
            .map(|user| {
                DescribeUserScramCredentialsResult::default()
                    .with_user(text(user.clone()))
                    .with_credential_infos(infos(user).unwrap_or_default())
            })
            .collect()
    } else {
        let mut seen = HashSet::new();
        let duplicated: HashSet<&String> = named.iter().filter(|u| !seen.insert(*u)).collect();
        let mut reported = HashSet::new();
        named
            .iter()
            .filter(|u| reported.insert(*u))
            .map(|user| {
                let result = DescribeUserScramCredentialsResult::default().with_user(text(user.clone()));
                if duplicated.contains(user) {
                    return result
                        .with_error_code(ResponseError::DuplicateResource.code())
                        .with_error_message(Some(text(format!("Cannot describe SCRAM credentials for the same user twice in a single request: {user}"))));
                }
                match infos(user) {
                    Some(list) => result.with_credential_infos(list),
                    None => result
                        .with_error_code(ResponseError::ResourceNotFound.code())
                        .with_error_message(Some(text(format!(
                            "Attempt to describe a user credential that does not exist: {user}"
                        )))),
                }
            })
            .collect()
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// The answer without DESCRIBE on the cluster: the error at the top and
/// on each named user, so a client reading either sees the refusal.
fn refused(request: DescribeUserScramCredentialsRequest) -> DescribeUserScramCredentialsResponse {
    let code = ResponseError::ClusterAuthorizationFailed.code();
    let message = "DESCRIBE on the cluster is required to describe SCRAM credentials";
    let results = request
        .users
        .unwrap_or_default()
        .into_iter()
        .map(|user| {
            DescribeUserScramCredentialsResult::default()
                .with_user(user.name)
                .with_error_code(code)
                .with_error_message(Some(text(message.to_string())))
        })
        .collect();
    DescribeUserScramCredentialsResponse::default()
        .with_error_code(code)
        .with_error_message(Some(text(message.to_string())))
        .with_results(results)
}
