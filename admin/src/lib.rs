//! durian-admin: the admin client of durian.
//!
//! [`Admin`] manages topics, partitions, configs, consumer groups, group
//! offsets, partition offsets and records, and inspects and aborts
//! transactions. Every request goes where Kafka wants it — the controller,
//! a group or transaction coordinator, or the partition leaders
//! — and operations on several items are split per broker, sent as one
//! request per broker, merged, and retried item by item (docs/ADMIN.md
//! describes the routing, the errors and every setting).
//!
//! ```no_run
//! # async fn demo() -> durian_core::Result<()> {
//! use durian_admin::{Admin, NewTopic};
//! let admin = Admin::builder().bootstrap_servers(["localhost:9092"]).connect().await?;
//! let results = admin.create_topics([NewTopic::new("web_log", 3)]).await;
//! for (topic, result) in results {
//!     match result {
//!         Ok(created) => println!("{topic}: id {}", created.topic_id),
//!         Err(error) => println!("{topic}: {error}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod acls;
mod cluster;
mod config;
mod configs;
mod consumer_groups;
mod elections;
mod group_offsets;
mod groups;
mod member_assignment;
mod offsets;
mod partitions;
mod routing;
mod scram;
mod topics;
mod transactions;
mod types;

use std::sync::Arc;
use std::time::Duration;

use durian_core::{Client, Result};
use tokio::time::Instant;

pub use config::{AdminBuilder, AdminConfig, ADMIN_PROPERTIES};
pub use consumer_groups::{ConsumerGroupDescription, ConsumerGroupMember, GroupProtocolKind};
pub use durian_core::acl::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, InvalidAcl, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType, UnknownAclName,
};
pub use durian_core::security::scram::ScramMechanism;
pub use elections::ElectionType;
pub use scram::{ScramCredentialInfo, UserScramCredentialAlteration};
pub use transactions::{
    AbortTransactionSpec, ProducerState, TransactionDescription, TransactionFilter,
    TransactionListing, TransactionState,
};
pub use types::*;

/// The admin client; cheap to clone, `Send + Sync`.
///
/// Operations on many items return one result per item
/// ([`ItemResults`]); operations without items return a plain `Result`.
#[derive(Clone, Debug)]
pub struct Admin {
    client: Client,
    settings: Arc<AdminSettings>,
}

#[derive(Debug)]
struct AdminSettings {
    default_api_timeout: Duration,
}

impl Admin {
    /// A builder for an admin client.
    pub fn builder() -> AdminBuilder {
        AdminBuilder::default()
    }

    /// An admin client for `config`; connects on first use. Must be
    /// called within a tokio runtime.
    pub fn new(config: AdminConfig) -> Result<Admin> {
        let client = Client::new(config.client)?;
        Ok(Admin::with_client(client, config.default_api_timeout))
    }

    /// An admin client that fetches metadata once, so a wrong
    /// `bootstrap.servers` fails here.
    pub async fn connect(config: AdminConfig) -> Result<Admin> {
        let admin = Admin::new(config)?;
        admin.client.refresh_metadata("admin client start").await?;
        Ok(admin)
    }

    /// An admin client from Kafka properties (`bootstrap.servers`,
    /// `default.api.timeout.ms`, ...); unknown keys are errors.
    pub fn from_properties<I, K, V>(properties: I) -> Result<Admin>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Admin::new(AdminConfig::from_properties(properties)?)
    }

    /// An admin client sharing an existing core client (its connections
    /// and metadata).
    pub fn with_client(client: Client, default_api_timeout: Duration) -> Admin {
        Admin {
            client,
            settings: Arc::new(AdminSettings {
                default_api_timeout,
            }),
        }
    }

    /// The core client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The deadline and backoff of an operation starting now.
    fn retry_settings(&self) -> routing::RetrySettings {
        let config = self.client.config();
        routing::RetrySettings {
            deadline: Instant::now() + self.settings.default_api_timeout,
            backoff_initial: config.retry_backoff,
            backoff_max: config.retry_backoff_max,
        }
    }

    /// Runs a single-answer operation with the core retry loop until the
    /// operation's deadline.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let settings = self.retry_settings();
        let mut backoff =
            durian_core::backoff::Backoff::new(settings.backoff_initial, settings.backoff_max);
        durian_core::retry::retry(settings.deadline, &mut backoff, || {
            let attempt = attempt();
            async move {
                attempt
                    .await
                    .map_err(durian_core::retry::AttemptError::from)
            }
        })
        .await
    }

    /// The `timeout_ms` sent to brokers for operations they may run
    /// asynchronously (topic creation and deletion, record deletion).
    fn broker_timeout_ms(&self) -> i32 {
        let timeout = self.client.config().request_timeout;
        i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn admin_is_send_sync_and_clone() {
        assert_send_sync_clone::<Admin>();
    }
}
