//! `durian acl`: add, list and remove ACLs, through the admin client.
//!
//! A resource is named with one of `--topic`, `--group`, `--cluster` or
//! `--transactional-id`, matched LITERAL unless `--prefixed`; operations
//! and permissions use Kafka's names (`read`, `describe-configs`, ...).

use clap::{Args, Subcommand};
use durian::admin::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, Admin, PatternType, ResourcePattern, ResourcePatternFilter, ResourceType,
};

use crate::table::{print_stdout, Table};
use crate::topic::admin_client;
use crate::{CliError, GlobalOpts};

/// Options of `durian acl`.
#[derive(Debug, Args)]
pub struct AclArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AclAction,
}

/// The resource an ACL command is about (at most one).
#[derive(Debug, Args, Default)]
#[group(multiple = false)]
pub struct ResourceArgs {
    /// A topic (with `--prefixed`: every topic starting with it; `*`: every topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// A consumer group.
    #[arg(long)]
    pub group: Option<String>,
    /// The cluster (`kafka-cluster`).
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id.
    #[arg(long = "transactional-id")]
    pub transactional_id: Option<String>,
}

impl ResourceArgs {
    fn named(&self) -> Option<(ResourceType, String)> {
        if let Some(topic) = &self.topic {
            Some((ResourceType::Topic, topic.clone()))
        } else if let Some(group) = &self.group {
            Some((ResourceType::Group, group.clone()))
        } else if self.cluster {
            Some((ResourceType::Cluster, "kafka-cluster".to_owned()))
        } else {
            self.transactional_id
                .as_ref()
                .map(|id| (ResourceType::TransactionalId, id.clone()))
        }
    }
}

/// The `durian acl` subcommands.
#[derive(Debug, Subcommand)]
pub enum AclAction {
    /// Add ACLs: one per `--operation` (ALLOW unless `--deny`).
    Add {
        /// The resource.
        #[command(flatten)]
        resource: ResourceArgs,
        /// Match every name starting with the resource name.
        #[arg(long)]
        prefixed: bool,
        /// The principal, `User:name` (`User:*`: every user).
        #[arg(long)]
        principal: String,
        /// The client IP address the ACL applies to.
        #[arg(long, default_value = "*")]
        host: String,
        /// An operation, e.g. `read`, `write`, `describe`, `all` (repeatable).
        #[arg(short = 'o', long = "operation", required = true)]
        operations: Vec<AclOperation>,
        /// Deny instead of allow (a DENY beats every ALLOW).
        #[arg(long)]
        deny: bool,
    },
    /// List ACLs (all of them, or those of a resource or principal).
    List {
        /// Only ACLs of this resource.
        #[command(flatten)]
        resource: ResourceArgs,
        /// Only ACLs of this principal.
        #[arg(long)]
        principal: Option<String>,
        /// How the resource name selects patterns: `literal`, `prefixed`,
        /// `match` (every pattern applying to the name) or `any`.
        #[arg(long, default_value = "any")]
        pattern: PatternType,
    },
    /// Remove the ACLs a resource and/or principal selects.
    Remove {
        /// The resource.
        #[command(flatten)]
        resource: ResourceArgs,
        /// Only ACLs of this principal.
        #[arg(long)]
        principal: Option<String>,
        /// How the resource name selects patterns (as in `list`).
        #[arg(long, default_value = "literal")]
        pattern: PatternType,
        /// Only ACLs of this operation.
        #[arg(short = 'o', long = "operation")]
        operation: Option<AclOperation>,
    },
}

/// Runs `durian acl`.
pub async fn run(args: AclArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let admin = admin_client(global)?;
    match args.action {
        AclAction::Add {
            resource,
            prefixed,
            principal,
            host,
            operations,
            deny,
        } => {
            let pattern = if prefixed {
                PatternType::Prefixed
            } else {
                PatternType::Literal
            };
            let permission = if deny {
                AclPermissionType::Deny
            } else {
                AclPermissionType::Allow
            };
            add(
                &admin,
                &resource,
                pattern,
                &principal,
                &host,
                &operations,
                permission,
            )
            .await
        }
        AclAction::List {
            resource,
            principal,
            pattern,
        } => list(&admin, &filter(&resource, principal, pattern, None)).await,
        AclAction::Remove {
            resource,
            principal,
            pattern,
            operation,
        } => {
            if resource.named().is_none() && principal.is_none() {
                return Err(CliError::new(
                    "name what to remove: a resource (--topic, --group, --cluster, \
                     --transactional-id) and/or --principal",
                ));
            }
            remove(&admin, &filter(&resource, principal, pattern, operation)).await
        }
    }
}

fn filter(
    resource: &ResourceArgs,
    principal: Option<String>,
    pattern: PatternType,
    operation: Option<AclOperation>,
) -> AclBindingFilter {
    let (resource_type, name) = match resource.named() {
        Some((kind, name)) => (kind, Some(name)),
        None => (ResourceType::Any, None),
    };
    AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type,
            name,
            pattern_type: pattern,
        },
        entry: AccessControlEntryFilter {
            principal,
            operation: operation.unwrap_or(AclOperation::Any),
            ..AccessControlEntryFilter::any()
        },
    }
}

async fn add(
    admin: &Admin,
    resource: &ResourceArgs,
    pattern: PatternType,
    principal: &str,
    host: &str,
    operations: &[AclOperation],
    permission: AclPermissionType,
) -> Result<(), CliError> {
    let (kind, name) = resource.named().ok_or_else(|| {
        CliError::new("name the resource: --topic, --group, --cluster or --transactional-id")
    })?;
    let bindings: Vec<AclBinding> = operations
        .iter()
        .map(|op| {
            AclBinding::new(
                ResourcePattern::new(kind, name.clone(), pattern),
                AccessControlEntry::new(principal, host, *op, permission),
            )
        })
        .collect();
    for binding in &bindings {
        binding
            .validate()
            .map_err(|e| CliError::new(e.to_string()))?;
    }
    let results = admin
        .create_acls(bindings)
        .await
        .map_err(|e| CliError::new(format!("cannot add ACLs: {e}")))?;
    let mut out = String::new();
    for (binding, result) in results {
        result.map_err(|e| CliError::new(format!("cannot add {binding}: {e}")))?;
        out.push_str(&format!("added {binding}\n"));
    }
    print_stdout(&out)
}

fn table(acls: &[AclBinding]) -> Table {
    let mut table = Table::new([
        "PRINCIPAL",
        "HOST",
        "OPERATION",
        "PERMISSION",
        "RESOURCE",
        "NAME",
        "PATTERN",
    ]);
    for acl in acls {
        table.row([
            acl.entry.principal.clone(),
            acl.entry.host.clone(),
            acl.entry.operation.to_string(),
            acl.entry.permission_type.to_string(),
            acl.pattern.resource_type.to_string(),
            acl.pattern.name.clone(),
            acl.pattern.pattern_type.to_string(),
        ]);
    }
    table
}

async fn list(admin: &Admin, filter: &AclBindingFilter) -> Result<(), CliError> {
    let mut acls = admin
        .describe_acls(filter)
        .await
        .map_err(|e| CliError::new(format!("cannot list ACLs: {e}")))?;
    acls.sort();
    table(&acls).print()
}

async fn remove(admin: &Admin, filter: &AclBindingFilter) -> Result<(), CliError> {
    let mut results = admin
        .delete_acls(std::slice::from_ref(filter))
        .await
        .map_err(|e| CliError::new(format!("cannot remove ACLs: {e}")))?;
    let mut removed = results
        .pop()
        .ok_or_else(|| CliError::new("the broker answered no result"))?
        .map_err(|e| CliError::new(format!("cannot remove ACLs: {e}")))?;
    removed.sort();
    let mut out = format!("removed {} ACLs\n", removed.len());
    if !removed.is_empty() {
        out.push_str(&table(&removed).render());
    }
    print_stdout(&out)
}
