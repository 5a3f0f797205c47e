//! DeleteTopics (key 20), versions 1–6.
//!
//! Deletes topics by name (v1–v5 `topic_names`) or by name or id (v6
//! `topics`), removing their logs. Not supported: `timeout_ms` (deletion is
//! synchronous).
//! Authorization: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;
use uuid::Uuid;

use super::{text, topic_name, versions, RequestContext, TopicAdminContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 6);

/// Answers DeleteTopics.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: DeleteTopicsRequest,
    ctx: &RequestContext,
) -> DeleteTopicsResponse {
    let version = ctx.version;
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n.0.to_string()), Uuid::nil()))
            .collect()
    };
    let access = admin.access(ctx);
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let name = name.or_else(|| admin.topic_by_id(id).map(|t| t.name));
        let result = match name {
            None => DeletableTopicResult::default()
                .with_topic_id(id)
                .with_error_code(ResponseError::UnknownTopicId.code()),
            Some(name) if !access.topic(AclOperation::Delete, &name) => {
                DeletableTopicResult::default()
                    .with_name(Some(topic_name(&name)))
                    .with_topic_id(id)
                    .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            }
            Some(name) => match admin.topics.delete_topic(&name).await {
                Ok(topic) => DeletableTopicResult::default()
                    .with_name(Some(topic_name(&name)))
                    .with_topic_id(if version >= 6 { topic.id } else { Uuid::nil() }),
                Err(e) => {
                    let result = DeletableTopicResult::default()
                        .with_name(Some(topic_name(&name)))
                        .with_error_code(e.code);
                    if version >= 5 {
                        result.with_error_message(Some(text(e.message)))
                    } else {
                        result
                    }
                }
            },
        };
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
