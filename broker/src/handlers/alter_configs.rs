//! AlterConfigs (key 33), versions 0–2.
//!
//! Replaces a topic's whole set of config overrides (Kafka's
//! non-incremental semantics: settings not named go back to the default).
//! `validate_only` checks without applying. Broker settings are static and
//! cannot be altered (INVALID_REQUEST). Authorization: ALTER_CONFIGS on
//! the topic (else TOPIC_AUTHORIZATION_FAILED) or the cluster for broker
//! resources (else CLUSTER_AUTHORIZATION_FAILED).

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::describe_configs::RESOURCE_TOPIC;
use super::topic_admin_context::config_refusal;
use super::{text, versions, RequestContext, TopicAdminContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Answers AlterConfigs.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: AlterConfigsRequest,
    ctx: &RequestContext,
) -> AlterConfigsResponse {
    let access = admin.access(ctx);
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let refusal = config_refusal(
            &access,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        let outcome = if let Some((error, message)) = refusal {
            Err((error.code(), message))
        } else if resource.resource_type == RESOURCE_TOPIC {
            let configs: BTreeMap<String, String> = resource
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.to_string(), v.to_string()))
                })
                .collect();
            admin
                .topics
                .set_topic_configs(&resource.resource_name, configs, request.validate_only)
                .await
                .map_err(|e| (e.code, e.message))
        } else {
            Err((
                ResponseError::InvalidRequest.code(),
                format!(
                    "resource type {} cannot be altered; broker settings are static",
                    resource.resource_type
                ),
            ))
        };
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        responses.push(match outcome {
            Ok(()) => response.with_error_message(None),
            Err((code, message)) => response
                .with_error_code(code)
                .with_error_message(Some(text(message))),
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}
