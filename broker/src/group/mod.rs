//! The group coordinator: Kafka's classic consumer-group protocol and committed offsets.
//!
//! ```text
//!  JoinGroup ──► Group::join ──► parked until the join phase ends ──► members + leader
//!  SyncGroup ──► Group::sync ──► parked until the leader syncs    ──► each member's share
//!  Heartbeat / LeaveGroup ──► session bookkeeping, rebalance on departure
//!  OffsetCommit ──► generation check under the group lock ──► OffsetStore (log + fsync)
//!  OffsetFetch / DescribeGroups / ListGroups / DeleteGroups / OffsetDelete
//! ```
//!
//! Every group sits behind its own `tokio::sync::Mutex`; no lock is held while a request
//! waits for other members (JoinGroup and SyncGroup park on oneshot channels). One timer
//! task per group fires session expiry and rebalance timeouts, one sweeper task per
//! coordinator expires old offsets. Responses are shaped for the request's version. See
//! docs/GROUPS.md for the behaviour in full.

mod admin;
mod commit;
mod config;
pub(crate) mod consumer;
mod error;
mod heartbeat;
mod join;
mod member;
mod offset_log;
mod offset_record;
mod offsets;
mod retention;
mod state;
mod subscription;
mod sync;
mod timer;
mod txn_offsets;
pub mod versions;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use tokio::time::Instant;

pub use config::GroupConfig;
pub use error::GroupError;
pub use member::ClientInfo;
pub use txn_offsets::TxnOffset;

pub(crate) use join::join_error;
use join::JoinOutcome;
use member::JoinParams;
use offsets::OffsetStore;
use state::Group;
pub(crate) use sync::sync_error;
use sync::{SyncOutcome, SyncParams};
use timer::GroupSlot;

use crate::clock::now_ms;

/// State shared by the coordinator's API and its background tasks.
pub(crate) struct Shared {
    config: Arc<GroupConfig>,
    store: Arc<OffsetStore>,
    /// Never held across an await: it only maps ids to slots.
    groups: Mutex<HashMap<String, Arc<GroupSlot>>>,
    closed: AtomicBool,
    /// Offsets staged by open transactions (TxnOffsetCommit).
    pending_txn: Mutex<txn_offsets::PendingOffsets>,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, HashMap<String, Arc<GroupSlot>>> {
        // Registry operations are single inserts/removes; a poisoned map is still consistent.
        self.groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending_txn(&self) -> MutexGuard<'_, txn_offsets::PendingOffsets> {
        // Each update is one insert or remove; a poisoned map is still consistent.
        self.pending_txn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slot(&self, group_id: &str) -> Option<Arc<GroupSlot>> {
        self.registry().get(group_id).cloned()
    }

    /// The group's slot, created (Empty) if needed; `None` once the coordinator is closed.
    fn slot_or_create(&self, group_id: &str) -> Option<Arc<GroupSlot>> {
        let mut registry = self.registry();
        // Checked under the registry lock, which shutdown holds while it closes and drains
        // the registry: no group can slip in behind shutdown's back.
        if self.is_closed() {
            return None;
        }
        if let Some(slot) = registry.get(group_id) {
            return Some(Arc::clone(slot));
        }
        let group = Group::new(
            group_id.to_owned(),
            Arc::clone(&self.config),
            self.store.meta(group_id),
            now_ms(),
        );
        let slot = GroupSlot::new(group);
        registry.insert(group_id.to_owned(), Arc::clone(&slot));
        Some(slot)
    }

    /// Forgets a dead group, unless the id already names a newer incarnation.
    fn remove_slot(&self, group_id: &str, slot: &Arc<GroupSlot>) {
        let mut registry = self.registry();
        if registry.get(group_id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            registry.remove(group_id);
        }
    }

    fn snapshot(&self) -> Vec<(String, Arc<GroupSlot>)> {
        let mut slots: Vec<_> = self
            .registry()
            .iter()
            .map(|(id, slot)| (id.clone(), Arc::clone(slot)))
            .collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        slots
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The broker's group coordinator for every group (durian's broker coordinates all groups).
///
/// ```text
/// let coordinator = GroupCoordinator::open(dir, GroupConfig::default())?;
/// // ... hand requests to coordinator.join_group(req, version).await etc.
/// coordinator.shutdown().await;
/// ```
pub struct GroupCoordinator {
    shared: Arc<Shared>,
    sweeper_started: AtomicBool,
}

impl GroupCoordinator {
    /// Routes committed-offset writes through `faults` (tests).
    #[cfg(feature = "testing")]
    pub(crate) fn set_faults(&self, faults: crate::storage::Faults) {
        self.shared.store.set_faults(faults);
    }

    /// Opens the coordinator on `dir` (created if missing): replays the offset log, truncating
    /// a torn tail, and compacts it if mostly superseded. Groups with committed offsets come
    /// back Empty, with their protocol type and generation.
    pub fn open(dir: &Path, config: GroupConfig) -> Result<Arc<GroupCoordinator>, GroupError> {
        let store = OffsetStore::open(
            dir,
            config.fsync_offset_log,
            config.offset_log_compaction_min_dead,
        )?;
        let config = Arc::new(config);
        let mut groups = HashMap::new();
        let now = now_ms();
        for (id, stored) in store.groups() {
            let group = Group::new(id.clone(), Arc::clone(&config), stored.meta, now);
            groups.insert(id, GroupSlot::new(group));
        }
        let coordinator = Arc::new(GroupCoordinator {
            shared: Arc::new(Shared {
                config,
                store: Arc::new(store),
                groups: Mutex::new(groups),
                closed: AtomicBool::new(false),
                pending_txn: Mutex::default(),
            }),
            sweeper_started: AtomicBool::new(false),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            coordinator.ensure_sweeper();
        }
        Ok(coordinator)
    }

    /// Starts the offset-retention sweeper once (lazily if `open` ran outside a runtime).
    fn ensure_sweeper(&self) {
        if !self.sweeper_started.swap(true, Ordering::AcqRel) {
            tokio::spawn(retention::run_sweeper(Arc::downgrade(&self.shared)));
        }
    }

    /// JoinGroup without client details; see [`GroupCoordinator::join_group_from`].
    #[cfg(test)]
    pub async fn join_group(&self, req: JoinGroupRequest, version: i16) -> JoinGroupResponse {
        self.join_group_from(req, version, ClientInfo::default())
            .await
    }

    /// JoinGroup (v0-9). Waits until the group's join phase completes, then returns the
    /// generation (and, to the leader, every member's metadata). `client` names the sender
    /// for DescribeGroups and prefixes the member id.
    pub async fn join_group_from(
        &self,
        req: JoinGroupRequest,
        version: i16,
        client: ClientInfo,
    ) -> JoinGroupResponse {
        self.ensure_sweeper();
        let member_id = req.member_id.to_string();
        let error = |code: ResponseError| join_error(version, &member_id, code.code());
        if self.shared.is_closed() {
            return error(ResponseError::NotCoordinator);
        }
        let group_id = req.group_id.0.to_string();
        if group_id.is_empty() {
            return error(ResponseError::InvalidGroupId);
        }
        let config = &self.shared.config;
        let session_timeout = match u64::try_from(req.session_timeout_ms) {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => return error(ResponseError::InvalidSessionTimeout),
        };
        if session_timeout < config.min_session_timeout
            || session_timeout > config.max_session_timeout
        {
            return error(ResponseError::InvalidSessionTimeout);
        }
        // v0 has no rebalance timeout: the session timeout doubled as one.
        let rebalance_timeout = match u64::try_from(req.rebalance_timeout_ms) {
            Ok(ms) if version >= 1 && ms > 0 => Duration::from_millis(ms),
            _ => session_timeout,
        };
        let mut client = client;
        if client.client_id.is_empty() {
            client.client_id = "member".to_owned();
        }
        let params = JoinParams {
            member_id: member_id.clone(),
            instance_id: req.group_instance_id.as_ref().map(|id| id.to_string()),
            client,
            session_timeout,
            rebalance_timeout,
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            version,
        };
        let slot = if member_id.is_empty() {
            match self.shared.slot_or_create(&group_id) {
                Some(slot) => slot,
                None => return error(ResponseError::NotCoordinator),
            }
        } else {
            match self.shared.slot(&group_id) {
                Some(slot) => slot,
                None => return error(ResponseError::UnknownMemberId),
            }
        };
        slot.ensure_timer();
        let outcome = slot.group.lock().await.join(params, Instant::now());
        slot.wake.notify_one();
        drop(slot);
        match outcome {
            JoinOutcome::Respond(response) => response,
            // The sender vanished: the group was deleted or the coordinator shut down.
            JoinOutcome::Wait(reply) => reply
                .await
                .unwrap_or_else(|_| error(ResponseError::CoordinatorNotAvailable)),
        }
    }

    /// SyncGroup (v0-5). The leader's request carries the assignment; every member's
    /// request waits for it and returns that member's share.
    pub async fn sync_group(&self, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        self.ensure_sweeper();
        if self.shared.is_closed() {
            return sync_error(ResponseError::NotCoordinator.code());
        }
        let Some(slot) = self.shared.slot(&req.group_id.0) else {
            return sync_error(ResponseError::UnknownMemberId.code());
        };
        let params = SyncParams {
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|id| id.to_string()),
            generation: req.generation_id,
            protocol_type: req.protocol_type.as_ref().map(|t| t.to_string()),
            protocol_name: req.protocol_name.as_ref().map(|n| n.to_string()),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                .collect(),
            version,
        };
        let outcome = slot.group.lock().await.sync(params, Instant::now());
        slot.wake.notify_one();
        drop(slot);
        match outcome {
            SyncOutcome::Respond(response) => response,
            SyncOutcome::Wait(reply) => reply
                .await
                .unwrap_or_else(|_| sync_error(ResponseError::CoordinatorNotAvailable.code())),
        }
    }

    /// Heartbeat (v0-4): keeps the member's session alive; REBALANCE_IN_PROGRESS asks it to
    /// rejoin.
    pub async fn heartbeat(&self, req: HeartbeatRequest, version: i16) -> HeartbeatResponse {
        let _ = version; // every version carries the same fields that matter here
        self.ensure_sweeper();
        let code = if self.shared.is_closed() {
            ResponseError::NotCoordinator.code()
        } else if let Some(slot) = self.shared.slot(&req.group_id.0) {
            let code = slot.group.lock().await.heartbeat(
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id,
                Instant::now(),
            );
            slot.wake.notify_one();
            code
        } else {
            ResponseError::UnknownMemberId.code()
        };
        HeartbeatResponse::default().with_error_code(code)
    }

    /// LeaveGroup (v0-5; v3+ removes a batch of members, each with its own error code).
    pub async fn leave_group(&self, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        self.ensure_sweeper();
        if self.shared.is_closed() {
            return LeaveGroupResponse::default()
                .with_error_code(ResponseError::NotCoordinator.code());
        }
        let leaving: Vec<(String, Option<String>)> = if version >= 3 {
            req.members
                .iter()
                .map(|m| {
                    let instance = m.group_instance_id.as_ref().map(|id| id.to_string());
                    (m.member_id.to_string(), instance)
                })
                .collect()
        } else {
            vec![(req.member_id.to_string(), None)]
        };
        let mut codes = Vec::with_capacity(leaving.len());
        if let Some(slot) = self.shared.slot(&req.group_id.0) {
            let mut group = slot.group.lock().await;
            let now = Instant::now();
            for (member_id, instance_id) in &leaving {
                codes.push(group.leave(member_id, instance_id.as_deref(), now));
            }
            drop(group);
            slot.wake.notify_one();
        } else {
            codes.resize(leaving.len(), ResponseError::UnknownMemberId.code());
        }
        if version < 3 {
            let code = codes.first().copied().unwrap_or_default();
            return LeaveGroupResponse::default().with_error_code(code);
        }
        let members = leaving
            .into_iter()
            .zip(codes)
            .map(|((member_id, instance_id), code)| {
                MemberResponse::default()
                    .with_member_id(member_id.into())
                    .with_group_instance_id(instance_id.map(Into::into))
                    .with_error_code(code)
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    }

    /// Stops the coordinator: parked JoinGroup/SyncGroup requests are answered with
    /// NOT_COORDINATOR, later requests get NOT_COORDINATOR, and the offset log is synced.
    pub async fn shutdown(&self) {
        let slots: Vec<Arc<GroupSlot>> = {
            let mut registry = self.shared.registry();
            self.shared.closed.store(true, Ordering::Release);
            registry.drain().map(|(_, slot)| slot).collect()
        };
        for slot in slots {
            slot.group.lock().await.shut(ResponseError::NotCoordinator);
            slot.wake.notify_one();
        }
        let store = Arc::clone(&self.shared.store);
        let synced = tokio::task::spawn_blocking(move || store.sync()).await;
        match synced {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "syncing the offset log at shutdown failed"),
            Err(e) => tracing::error!(error = %e, "offset log sync task failed at shutdown"),
        }
    }
}

impl Drop for GroupCoordinator {
    /// A coordinator dropped without `shutdown` still stops its groups' timer tasks.
    fn drop(&mut self) {
        for slot in self.shared.registry().values() {
            slot.retire();
        }
    }
}
