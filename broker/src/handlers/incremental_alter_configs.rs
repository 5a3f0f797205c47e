//! IncrementalAlterConfigs (key 44), versions 0–1.
//!
//! Changes individual topic config overrides: SET (0) and DELETE (1, back
//! to the default). APPEND (2) and SUBTRACT (3) only make sense for list
//! settings, of which the broker accepts a single value (`cleanup.policy`
//! = delete), so they are refused with INVALID_CONFIG. `validate_only`
//! checks without applying. Broker settings are static (INVALID_REQUEST).
//! Authorization: ALTER_CONFIGS on the topic (else
//! TOPIC_AUTHORIZATION_FAILED) or the cluster for broker resources (else
//! CLUSTER_AUTHORIZATION_FAILED).

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::describe_configs::RESOURCE_TOPIC;
use super::topic_admin_context::config_refusal;
use super::{text, versions, RequestContext, TopicAdminContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 1);

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// Answers IncrementalAlterConfigs.
pub async fn handle(
    admin: &TopicAdminContext<'_>,
    request: IncrementalAlterConfigsRequest,
    ctx: &RequestContext,
) -> IncrementalAlterConfigsResponse {
    let access = admin.access(ctx);
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let refusal = config_refusal(
            &access,
            AclOperation::AlterConfigs,
            resource.resource_type,
            &resource.resource_name,
        );
        let outcome = match refusal {
            Some((error, message)) => Err((error.code(), message)),
            None => alter(admin, &resource, request.validate_only).await,
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
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

async fn alter(
    admin: &TopicAdminContext<'_>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    if resource.resource_type != RESOURCE_TOPIC {
        return Err((
            ResponseError::InvalidRequest.code(),
            format!(
                "resource type {} cannot be altered; broker settings are static",
                resource.resource_type
            ),
        ));
    }
    let name: &str = &resource.resource_name;
    let topic = admin.topic(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition.code(),
            format!("topic {name} does not exist"),
        )
    })?;
    let mut configs = topic.configs;
    for change in &resource.configs {
        let key = change.name.to_string();
        match (change.config_operation, &change.value) {
            (OP_SET, Some(value)) => {
                configs.insert(key, value.to_string());
            }
            (OP_SET, None) | (OP_DELETE, _) => {
                configs.remove(&key);
            }
            (op, _) => {
                return Err((
                    ResponseError::InvalidConfig.code(),
                    format!("operation {op} on {key} is not supported; use SET (0) or DELETE (1)"),
                ))
            }
        }
    }
    admin
        .topics
        .set_topic_configs(name, configs, validate_only)
        .await
        .map_err(|e| (e.code, e.message))
}
