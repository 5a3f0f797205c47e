//! The typed builder of [`Consumer`].

use std::sync::Arc;
use std::time::Duration;

use durian_core::ClientConfig;

use super::Consumer;
use crate::assignor::Assignor;
use crate::config::{ConsumerConfig, GroupProtocol, IsolationLevel, OffsetReset};
use crate::error::Result;
use crate::listener::RebalanceListener;

/// Builds a [`Consumer`]; every setter mirrors one property of
/// [`ConsumerConfig`], and `build` validates them all.
pub struct ConsumerBuilder {
    config: ConsumerConfig,
    listener: Option<Box<dyn RebalanceListener>>,
}

impl std::fmt::Debug for ConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    };
}

impl ConsumerBuilder {
    pub(super) fn new() -> Self {
        ConsumerBuilder {
            config: ConsumerConfig::new(ClientConfig::default()),
            listener: None,
        }
    }

    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.client.bootstrap_servers = durian_core::config::split_servers(servers);
        self
    }

    /// All connection-level settings at once (replaces `bootstrap_servers`).
    pub fn client_config(mut self, client: ClientConfig) -> Self {
        self.config.client = client;
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client.client_id = id.into();
        self
    }

    /// `group.id`.
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.config.group_id = Some(group.into());
        self
    }

    /// `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_instance_id = Some(id.into());
        self
    }

    /// `group.remote.assignor`: the broker-side assignor asked for under
    /// [`GroupProtocol::Consumer`].
    pub fn group_remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.config.group_remote_assignor = Some(assignor.into());
        self
    }

    /// `client.rack`.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.config.client_rack = Some(rack.into());
        self
    }

    /// `durian.fetch.sessions`: fetch sessions (KIP-227) with each broker
    /// (default on); off sends every fetch in full.
    pub fn fetch_sessions(mut self, enabled: bool) -> Self {
        self.config.fetch_sessions = enabled;
        self
    }

    /// `durian.fetch.buffer.bytes`: fetch ahead of buffered records only
    /// while fewer bytes than this are buffered (default 64 MiB; 0 never
    /// fetches ahead).
    pub fn fetch_buffer_bytes(mut self, bytes: usize) -> Self {
        self.config.fetch_buffer_bytes = bytes;
        self
    }

    /// `durian.fetch.max.in.flight.per.broker`: fetch requests in flight
    /// to one broker at a time, each for other partitions (default 4;
    /// 1 to [`crate::MAX_FETCHES_IN_FLIGHT`], checked when the consumer
    /// is built).
    pub fn fetch_max_in_flight(mut self, requests: usize) -> Self {
        self.config.fetch_max_in_flight = requests;
        self
    }

    /// `partition.assignment.strategy`, preferred first.
    pub fn assignors(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.config.assignors = assignors;
        self
    }

    setter!(/// `group.protocol`.
        group_protocol: GroupProtocol);
    setter!(/// `auto.offset.reset`.
        auto_offset_reset: OffsetReset);
    setter!(/// `enable.auto.commit`.
        enable_auto_commit: bool);
    setter!(/// `auto.commit.interval.ms`.
        auto_commit_interval: Duration);
    setter!(/// `session.timeout.ms`.
        session_timeout: Duration);
    setter!(/// `heartbeat.interval.ms`.
        heartbeat_interval: Duration);
    setter!(/// `max.poll.interval.ms` (also the rebalance timeout).
        max_poll_interval: Duration);
    setter!(/// `isolation.level`.
        isolation_level: IsolationLevel);
    setter!(/// `fetch.min.bytes`.
        fetch_min_bytes: i32);
    setter!(/// `fetch.max.wait.ms`.
        fetch_max_wait: Duration);
    setter!(/// `fetch.max.bytes`.
        fetch_max_bytes: i32);
    setter!(/// `max.partition.fetch.bytes`.
        max_partition_fetch_bytes: i32);
    setter!(/// `max.poll.records`.
        max_poll_records: usize);

    /// The rebalance listener.
    pub fn rebalance_listener(mut self, listener: impl RebalanceListener + 'static) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// Validates the settings and creates the consumer (within a tokio runtime).
    pub fn build(self) -> Result<Consumer> {
        let mut consumer = Consumer::new(self.config)?;
        *consumer.listener_slot() = self.listener;
        Ok(consumer)
    }
}
