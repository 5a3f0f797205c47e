//! AlterUserScramCredentials (key 51), version 0.
//!
//! Upserts carry a salted password (the client salts and iterates; the
//! password never travels); the broker derives and stores the stored and
//! server keys ([`ScramCredential::from_salted_password`]) in the data
//! dir. Checks, as Kafka's: a known mechanism (UNSUPPORTED_SASL_MECHANISM),
//! a non-empty name, iterations within 4096..=16384, non-empty salt and
//! salted password (UNACCEPTABLE_CREDENTIAL), one change per user
//! (DUPLICATE_RESOURCE) and deletions of stored credentials only
//! (RESOURCE_NOT_FOUND). The valid changes are applied together.
//! Needs ALTER on the cluster: without it every user's result carries
//! CLUSTER_AUTHORIZATION_FAILED (Kafka's answer) and nothing changes.

use std::collections::HashMap;

use durian_core::security::scram::{
    ScramCredential, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS,
};
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, RequestContext, ScramContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 0);

type Change = (String, ScramMechanism, Option<ScramCredential>);
type Refusal = (ResponseError, String);

/// Answers AlterUserScramCredentials.
pub async fn handle(
    scram: &ScramContext<'_>,
    request: AlterUserScramCredentialsRequest,
    ctx: &RequestContext,
) -> AlterUserScramCredentialsResponse {
    if !scram.access(ctx).cluster(AclOperation::Alter) {
        return refused(&request);
    }
    let store = scram.store();
    let mut count: HashMap<String, usize> = HashMap::new();
    for name in request
        .deletions
        .iter()
        .map(|d| &d.name)
        .chain(request.upsertions.iter().map(|u| &u.name))
    {
        *count.entry(name.to_string()).or_default() += 1;
    }
    // One outcome per user, in request order.
    let mut outcomes: Vec<(String, Result<Change, Refusal>)> = Vec::new();
    for deletion in &request.deletions {
        let user = deletion.name.to_string();
        let outcome =
            check_user(&user, deletion.mechanism, &count).and_then(|mechanism| {
                match store.get(&user, mechanism) {
                    Some(_) => Ok((user.clone(), mechanism, None)),
                    None => Err((
                        ResponseError::ResourceNotFound,
                        format!("Attempt to delete a user credential that does not exist: {user}"),
                    )),
                }
            });
        outcomes.push((user, outcome));
    }
    for upsertion in &request.upsertions {
        let user = upsertion.name.to_string();
        let outcome = check_user(&user, upsertion.mechanism, &count).and_then(|mechanism| {
            let iterations = u32::try_from(upsertion.iterations).unwrap_or(0);
            if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
                return Err((
                    ResponseError::UnacceptableCredential,
                    format!(
                        "Iterations {} not in {MIN_ITERATIONS}..={MAX_ITERATIONS}",
                        upsertion.iterations
                    ),
                ));
            }
            if upsertion.salt.is_empty() || upsertion.salted_password.is_empty() {
                return Err((
                    ResponseError::UnacceptableCredential,
                    "Salt and salted password must not be empty".to_string(),
                ));
            }
            let credential = ScramCredential::from_salted_password(
                mechanism,
                &upsertion.salted_password,
                &upsertion.salt,
                iterations,
            );
            Ok((user.clone(), mechanism, Some(credential)))
        });
        outcomes.push((user, outcome));
    }
    let changes: Vec<Change> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().cloned())
        .collect();
    let stored = if changes.is_empty() {
        Ok(())
    } else {
        store.apply(changes)
    };
    let results = outcomes
        .into_iter()
        .map(|(user, outcome)| {
            let result = AlterUserScramCredentialsResult::default().with_user(text(user));
            let error = match (outcome, &stored) {
                (Err(error), _) => Some(error),
                (Ok(_), Err(e)) => Some((ResponseError::UnknownServerError, e.to_string())),
                (Ok(_), Ok(())) => None,
            };
            match error {
                Some((code, message)) => result
                    .with_error_code(code.code())
                    .with_error_message(Some(text(message))),
                None => result,
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// The answer without ALTER on the cluster: every deletion's and
/// upsertion's user refused.
fn refused(request: &AlterUserScramCredentialsRequest) -> AlterUserScramCredentialsResponse {
    let results = request
        .deletions
        .iter()
        .map(|d| &d.name)
        .chain(request.upsertions.iter().map(|u| &u.name))
        .map(|user| {
            AlterUserScramCredentialsResult::default()
                .with_user(user.clone())
                .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
                .with_error_message(Some(text(
                    "ALTER on the cluster is required to alter SCRAM credentials".to_string(),
                )))
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

fn check_user(
    user: &str,
    mechanism: i8,
    count: &HashMap<String, usize>,
) -> Result<ScramMechanism, Refusal> {
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".to_string(),
        ));
    }
    if count.get(user).copied().unwrap_or(0) > 1 {
        return Err((
            ResponseError::DuplicateResource,
            format!("A user credential cannot be altered twice in the same request: {user}"),
        ));
    }
    ScramMechanism::from_wire_type(mechanism).ok_or((
        ResponseError::UnsupportedSaslMechanism,
        format!("Unknown SCRAM mechanism {mechanism}"),
    ))
}
