//! Access control lists: CreateAcls, DescribeAcls and DeleteAcls.
//!
//! Any broker answers (Kafka forwards ACL changes to its controller).
//! The typed ACLs are `durian_core::acl`'s, re-exported at the crate root,
//! so the admin client and durian's broker read the same codes the same way.

use durian_core::acl::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType,
    ResourcePattern, ResourceType,
};
use durian_core::{Error, Result, Target};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::DeleteAclsMatchingAcl;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::routing::{check, send_versioned};
use crate::types::ItemResults;
use crate::Admin;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn optional(value: &Option<String>) -> Option<StrBytes> {
    value.as_deref().map(text)
}

/// A code from a broker this version does not know.
fn unknown(what: &str, code: i8) -> Error {
    Error::Protocol(format!(
        "broker answered with unknown ACL {what} code {code}"
    ))
}

/// The typed ACL of one response entry.
#[allow(clippy::too_many_arguments)]
fn binding(
    resource_type: i8,
    name: &StrBytes,
    pattern_type: i8,
    principal: &StrBytes,
    host: &StrBytes,
    operation: i8,
    permission_type: i8,
) -> Result<AclBinding> {
    Ok(AclBinding::new(
        ResourcePattern::new(
            ResourceType::from_code(resource_type)
                .ok_or_else(|| unknown("resource type", resource_type))?,
            name.to_string(),
            PatternType::from_code(pattern_type)
                .ok_or_else(|| unknown("pattern type", pattern_type))?,
        ),
        AccessControlEntry::new(
            principal.to_string(),
            host.to_string(),
            AclOperation::from_code(operation).ok_or_else(|| unknown("operation", operation))?,
            AclPermissionType::from_code(permission_type)
                .ok_or_else(|| unknown("permission type", permission_type))?,
        ),
    ))
}

pub(crate) fn creation(acl: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(acl.pattern.resource_type.code())
        .with_resource_name(text(&acl.pattern.name))
        .with_resource_pattern_type(acl.pattern.pattern_type.code())
        .with_principal(text(&acl.entry.principal))
        .with_host(text(&acl.entry.host))
        .with_operation(acl.entry.operation.code())
        .with_permission_type(acl.entry.permission_type.code())
}

/// `$message` with the seven filter fields of `$filter` set: DescribeAcls
/// requests and DeleteAcls filters name them alike but are distinct types.
macro_rules! with_filter {
    ($message:expr, $filter:expr) => {{
        let filter: &AclBindingFilter = $filter;
        $message
            .with_resource_type_filter(filter.pattern.resource_type.code())
            .with_resource_name_filter(optional(&filter.pattern.name))
            .with_pattern_type_filter(filter.pattern.pattern_type.code())
            .with_principal_filter(optional(&filter.entry.principal))
            .with_host_filter(optional(&filter.entry.host))
            .with_operation(filter.entry.operation.code())
            .with_permission_type(filter.entry.permission_type.code())
    }};
}

pub(crate) fn describe_request(filter: &AclBindingFilter) -> DescribeAclsRequest {
    with_filter!(DescribeAclsRequest::default(), filter)
}

pub(crate) fn delete_filter(filter: &AclBindingFilter) -> DeleteAclsFilter {
    with_filter!(DeleteAclsFilter::default(), filter)
}

/// One result per binding, matched by position as Kafka answers.
pub(crate) fn parse_create(
    acls: &[AclBinding],
    response: &CreateAclsResponse,
) -> Result<ItemResults<AclBinding, ()>> {
    if response.results.len() != acls.len() {
        return Err(Error::Protocol(format!(
            "CreateAcls answered {} results for {} ACLs",
            response.results.len(),
            acls.len()
        )));
    }
    Ok(acls
        .iter()
        .cloned()
        .zip(&response.results)
        .map(|(acl, r)| (acl, check(r.error_code, r.error_message.as_ref())))
        .collect())
}

pub(crate) fn parse_describe(response: &DescribeAclsResponse) -> Result<Vec<AclBinding>> {
    check(response.error_code, response.error_message.as_ref())?;
    let mut out = Vec::new();
    for resource in &response.resources {
        for acl in &resource.acls {
            out.push(binding(
                resource.resource_type,
                &resource.resource_name,
                resource.pattern_type,
                &acl.principal,
                &acl.host,
                acl.operation,
                acl.permission_type,
            )?);
        }
    }
    Ok(out)
}

fn matching(acl: &DeleteAclsMatchingAcl) -> Result<AclBinding> {
    check(acl.error_code, acl.error_message.as_ref())?;
    binding(
        acl.resource_type,
        &acl.resource_name,
        acl.pattern_type,
        &acl.principal,
        &acl.host,
        acl.operation,
        acl.permission_type,
    )
}

pub(crate) fn parse_delete(
    filters: usize,
    response: &DeleteAclsResponse,
) -> Result<Vec<Result<Vec<AclBinding>>>> {
    if response.filter_results.len() != filters {
        return Err(Error::Protocol(format!(
            "DeleteAcls answered {} results for {filters} filters",
            response.filter_results.len()
        )));
    }
    Ok(response
        .filter_results
        .iter()
        .map(|r| {
            check(r.error_code, r.error_message.as_ref())?;
            r.matching_acls.iter().map(matching).collect()
        })
        .collect())
}

impl Admin {
    /// Creates `acls`; one result per ACL (an ACL that exists already is a
    /// success). Needs ALTER on the cluster: without it every ACL fails
    /// with CLUSTER_AUTHORIZATION_FAILED.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "create_acls"))]
    pub async fn create_acls(&self, acls: Vec<AclBinding>) -> Result<ItemResults<AclBinding, ()>> {
        if acls.is_empty() {
            return Ok(ItemResults::new());
        }
        self.retrying(|| async {
            let request =
                CreateAclsRequest::default().with_creations(acls.iter().map(creation).collect());
            let (_, response) = send_versioned(&self.client, &Target::Any, |_| Ok(request)).await?;
            parse_create(&acls, &response)
        })
        .await
    }

    /// Every ACL `filter` selects (`AclBindingFilter::any()` for all).
    /// Needs DESCRIBE on the cluster.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_acls"))]
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        self.retrying(|| async {
            let (_, response) =
                send_versioned(&self.client, &Target::Any, |_| Ok(describe_request(filter)))
                    .await?;
            parse_describe(&response)
        })
        .await
    }

    /// Deletes every ACL any of `filters` selects; per filter, in order,
    /// the ACLs it deleted or why it failed. Needs ALTER on the cluster.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "delete_acls"))]
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>>>> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        self.retrying(|| async {
            let request = DeleteAclsRequest::default()
                .with_filters(filters.iter().map(delete_filter).collect());
            let (_, response) = send_versioned(&self.client, &Target::Any, |_| Ok(request)).await?;
            parse_delete(filters.len(), &response)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::create_acls_response::AclCreationResult;
    use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};

    fn acl() -> AclBinding {
        AclBinding::new(
            ResourcePattern::new(ResourceType::Topic, "t-", PatternType::Prefixed),
            AccessControlEntry::new("User:a", "*", AclOperation::Read, AclPermissionType::Allow),
        )
    }

    #[test]
    fn requests_carry_kafka_codes_and_null_filters() {
        let created = creation(&acl());
        assert_eq!(
            (
                created.resource_type,
                created.resource_pattern_type,
                created.operation
            ),
            (2, 4, 3)
        );
        let filter = AclBindingFilter::any();
        let describe = describe_request(&filter);
        assert_eq!(describe.resource_name_filter, None);
        assert_eq!(describe.principal_filter, None);
        assert_eq!((describe.resource_type_filter, describe.operation), (1, 1));
        let mut named = AclBindingFilter::any();
        named.pattern.name = Some("t-".to_string());
        named.entry.principal = Some("User:a".to_string());
        let delete = delete_filter(&named);
        assert_eq!(
            (
                delete.resource_name_filter,
                delete.principal_filter,
                delete.host_filter,
                delete.permission_type
            ),
            (Some(text("t-")), Some(text("User:a")), None, 1)
        );
    }

    #[test]
    fn responses_become_typed_acls_and_per_item_errors() {
        let response = CreateAclsResponse::default().with_results(vec![
            AclCreationResult::default(),
            AclCreationResult::default().with_error_code(31),
        ]);
        let mut other = acl();
        other.pattern.name = "u".to_string();
        let results = parse_create(&[acl(), other.clone()], &response).unwrap();
        assert!(results[&acl()].is_ok());
        assert_eq!(
            results[&other].as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
        );
        let described =
            DescribeAclsResponse::default().with_resources(vec![DescribeAclsResource::default()
                .with_resource_type(2)
                .with_resource_name(text("t-"))
                .with_pattern_type(4)
                .with_acls(vec![AclDescription::default()
                    .with_principal(text("User:a"))
                    .with_host(text("*"))
                    .with_operation(3)
                    .with_permission_type(3)])]);
        assert_eq!(parse_describe(&described).unwrap(), vec![acl()]);
        let refused = DescribeAclsResponse::default().with_error_code(31);
        assert!(parse_describe(&refused).is_err());
        let bad =
            DescribeAclsResponse::default().with_resources(vec![DescribeAclsResource::default()
                .with_resource_type(99)
                .with_acls(vec![AclDescription::default()
                    .with_operation(3)
                    .with_permission_type(3)])]);
        assert!(matches!(parse_describe(&bad), Err(Error::Protocol(_))));
    }
}
