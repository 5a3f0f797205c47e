//! Coordinator tests against a fake marker writer: the state machine as
//! the APIs drive it, fencing, timeouts, and recovery after a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::ResponseError;

use super::markers::{MarkerError, MarkerWriter, TxnMarker};
use super::ops::ProducerRef;
use super::state::{StagedOffset, TxnState};
use super::{TransactionCoordinator, TxnConfig};
use crate::group::{GroupConfig, GroupCoordinator};
use crate::producer_ids::ProducerIdAllocator;

/// Remembers every marker written.
#[derive(Default)]
struct FakeMarkers {
    written: Mutex<Vec<(String, i32, TxnMarker)>>,
}

impl MarkerWriter for FakeMarkers {
    fn write_marker(
        &self,
        topic: &str,
        partition: i32,
        marker: TxnMarker,
    ) -> Result<(), MarkerError> {
        self.written
            .lock()
            .expect("lock")
            .push((topic.to_owned(), partition, marker));
        Ok(())
    }
}

impl FakeMarkers {
    fn written(&self) -> Vec<(String, i32, TxnMarker)> {
        self.written.lock().expect("lock").clone()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    markers: Arc<FakeMarkers>,
    groups: Arc<GroupCoordinator>,
    txn: Arc<TransactionCoordinator>,
}

fn open_in(dir: tempfile::TempDir, markers: Arc<FakeMarkers>) -> Setup {
    open_with(dir, markers, TxnConfig::default())
}

fn open_with(dir: tempfile::TempDir, markers: Arc<FakeMarkers>, config: TxnConfig) -> Setup {
    let ids = Arc::new(ProducerIdAllocator::open(dir.path()).expect("ids"));
    let groups =
        GroupCoordinator::open(&dir.path().join("groups"), GroupConfig::default()).expect("groups");
    let txn = TransactionCoordinator::open(&dir.path().join("txn"), config, ids, groups.clone())
        .expect("open");
    txn.set_markers(markers.clone());
    Setup {
        dir,
        markers,
        groups,
        txn,
    }
}

fn setup() -> Setup {
    open_in(tempfile::tempdir().expect("tempdir"), Arc::default())
}

fn tp(topic: &str, partition: i32) -> (String, i32) {
    (topic.to_owned(), partition)
}

fn producer(grant: super::init::Grant) -> ProducerRef {
    ProducerRef {
        producer_id: grant.producer_id,
        producer_epoch: grant.producer_epoch,
    }
}

/// Waits (bounded) until `id` reaches `state`.
async fn wait_state(txn: &Arc<TransactionCoordinator>, id: &str, state: TxnState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if txn.describe(id).map(|m| m.state) == Some(state) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never reached {state:?}: {:?}",
            txn.describe(id)
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn txn_coordinator_commits_with_markers_and_offsets() {
    let s = setup();
    let grant = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("init");
    assert_eq!(grant.producer_epoch, 0);
    let p = producer(grant);
    s.txn
        .add_partitions("tx", p, &[tp("a", 0), tp("b", 1)])
        .await
        .expect("add");
    s.txn
        .check_produce(Some("tx"), p, "a", 0)
        .expect("added partition");
    assert_eq!(
        s.txn.check_produce(Some("tx"), p, "a", 9),
        Err(ResponseError::InvalidTxnState)
    );
    assert_eq!(
        s.txn.verify_partitions("tx", p, &[tp("a", 0), tp("c", 0)]),
        Ok(vec![0, ResponseError::InvalidTxnState.code()])
    );
    s.txn.add_group("tx", p, "g").await.expect("add offsets");
    let staged = StagedOffset {
        offset: 42,
        leader_epoch: -1,
        metadata: String::new(),
    };
    s.txn
        .stage_offsets("tx", p, "g", vec![("in".into(), 0, staged)])
        .await
        .expect("stage");
    assert!(s.groups.has_pending_txn_offset("g", "in", 0));
    s.txn.end_txn("tx", p, true).await.expect("commit");
    wait_state(&s.txn, "tx", TxnState::CompleteCommit).await;
    let written = s.markers.written();
    assert_eq!(written.len(), 2);
    assert!(written
        .iter()
        .all(|(_, _, m)| m.commit && m.producer_id == grant.producer_id));
    assert!(!s.groups.has_pending_txn_offset("g", "in", 0));
    // A retried commit is answered; an abort now is not.
    s.txn.end_txn("tx", p, true).await.expect("retry");
    assert_eq!(
        s.txn.end_txn("tx", p, false).await,
        Err(ResponseError::InvalidTxnState)
    );
    assert_eq!(
        s.txn.check_produce(Some("tx"), p, "a", 0),
        Err(ResponseError::InvalidTxnState),
        "a completed transaction accepts no more batches"
    );
}

#[tokio::test]
async fn txn_coordinator_fences_and_validates() {
    let s = setup();
    assert_eq!(
        s.txn.init_producer_id("tx", 900_001, None).await,
        Err(ResponseError::InvalidTransactionTimeout)
    );
    assert_eq!(
        s.txn.init_producer_id("tx", 0, None).await,
        Err(ResponseError::InvalidTransactionTimeout)
    );
    let first = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("init");
    assert_eq!(
        s.txn.end_txn("tx", producer(first), true).await,
        Err(ResponseError::InvalidTxnState),
        "nothing to end"
    );
    s.txn
        .add_partitions("tx", producer(first), &[tp("a", 0)])
        .await
        .expect("add");
    // A second instance fences the first: its open transaction is aborted.
    assert_eq!(
        s.txn.init_producer_id("tx", 60_000, None).await,
        Err(ResponseError::ConcurrentTransactions)
    );
    wait_state(&s.txn, "tx", TxnState::CompleteAbort).await;
    let second = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("re-init");
    assert_eq!(second.producer_id, first.producer_id);
    assert_eq!(second.producer_epoch, first.producer_epoch + 2);
    let abort = s.markers.written();
    assert_eq!(abort.len(), 1);
    assert!(!abort[0].2.commit);
    assert_eq!(abort[0].2.producer_epoch, first.producer_epoch + 1);
    assert_eq!(
        s.txn
            .add_partitions("tx", producer(first), &[tp("a", 0)])
            .await,
        Err(ResponseError::ProducerFenced)
    );
    assert_eq!(
        s.txn.check_produce(Some("tx"), producer(first), "a", 0),
        Err(ResponseError::InvalidProducerEpoch)
    );
    let wrong_id = ProducerRef {
        producer_id: first.producer_id + 100,
        producer_epoch: 0,
    };
    assert_eq!(
        s.txn.end_txn("tx", wrong_id, true).await,
        Err(ResponseError::InvalidProducerIdMapping)
    );
    // KIP-360: the current id and epoch bump; a stale pair is fenced; a
    // retry of the last bump gets the same answer again.
    let third = s
        .txn
        .init_producer_id(
            "tx",
            60_000,
            Some((second.producer_id, second.producer_epoch)),
        )
        .await
        .expect("kip-360");
    assert_eq!(third.producer_epoch, second.producer_epoch + 1);
    let retried = s
        .txn
        .init_producer_id(
            "tx",
            60_000,
            Some((second.producer_id, second.producer_epoch)),
        )
        .await
        .expect("retry");
    assert_eq!(retried, third);
    assert_eq!(
        s.txn
            .init_producer_id(
                "tx",
                60_000,
                Some((first.producer_id, first.producer_epoch))
            )
            .await,
        Err(ResponseError::ProducerFenced)
    );
}

#[tokio::test]
async fn txn_coordinator_moves_to_a_new_id_when_the_epoch_is_exhausted() {
    let s = setup();
    let grant = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("init");
    {
        let _op = s.txn.ops.lock().await;
        let mut m = s.txn.describe("tx").expect("known");
        m.producer_epoch = i16::MAX - 1;
        s.txn.persist(m).await.expect("persist");
    }
    let next = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("init");
    assert_ne!(next.producer_id, grant.producer_id);
    assert_eq!(next.producer_epoch, 0);
}

#[tokio::test]
async fn txn_coordinator_aborts_timed_out_transactions_and_fences_the_zombie() {
    let s = setup();
    let grant = s
        .txn
        .init_producer_id("tx", 1_000, None)
        .await
        .expect("init");
    s.txn
        .add_partitions("tx", producer(grant), &[tp("a", 0)])
        .await
        .expect("add");
    let start = s.txn.describe("tx").expect("known").start_ms;
    assert_eq!(s.txn.abort_expired(start + 1_000).await, 0, "not yet");
    assert_eq!(s.txn.abort_expired(start + 1_001).await, 1);
    wait_state(&s.txn, "tx", TxnState::CompleteAbort).await;
    let m = s.txn.describe("tx").expect("known");
    assert_eq!(m.producer_epoch, grant.producer_epoch + 1);
    assert_eq!(
        s.txn.end_txn("tx", producer(grant), true).await,
        Err(ResponseError::ProducerFenced)
    );
}

#[tokio::test]
async fn txn_coordinator_recovers_a_prepared_commit_after_restart() {
    let s = setup();
    s.txn.hold_completions(true);
    let grant = s
        .txn
        .init_producer_id("tx", 60_000, None)
        .await
        .expect("init");
    let p = producer(grant);
    s.txn
        .add_partitions("tx", p, &[tp("a", 3)])
        .await
        .expect("add");
    s.txn.add_group("tx", p, "g").await.expect("group");
    let staged = StagedOffset {
        offset: 5,
        leader_epoch: 0,
        metadata: "m".into(),
    };
    s.txn
        .stage_offsets("tx", p, "g", vec![("in".into(), 1, staged)])
        .await
        .expect("stage");
    s.txn.end_txn("tx", p, true).await.expect("prepare");
    assert_eq!(
        s.txn.describe("tx").map(|m| m.state),
        Some(TxnState::PrepareCommit)
    );
    assert!(s.markers.written().is_empty(), "held: no markers yet");
    // "Crash": reopen everything on the same directory.
    let Setup {
        dir,
        markers,
        groups,
        txn,
        ..
    } = s;
    drop(txn);
    groups.shutdown().await;
    drop(groups);
    let s = open_in(dir, markers);
    assert_eq!(
        s.txn.describe("tx").map(|m| m.state),
        Some(TxnState::PrepareCommit)
    );
    assert!(
        s.groups.has_pending_txn_offset("g", "in", 1),
        "staged again on replay"
    );
    s.txn.recover().await;
    assert_eq!(
        s.txn.describe("tx").map(|m| m.state),
        Some(TxnState::CompleteCommit)
    );
    let written = s.markers.written();
    assert_eq!(written.len(), 1);
    assert_eq!((written[0].0.as_str(), written[0].1), ("a", 3));
    assert!(written[0].2.commit);
    assert!(!s.groups.has_pending_txn_offset("g", "in", 1));
    // And the completed state is what the next restart sees.
    let Setup {
        dir,
        markers,
        groups,
        txn,
        ..
    } = s;
    drop(txn);
    groups.shutdown().await;
    drop(groups);
    let s = open_in(dir, markers);
    assert_eq!(
        s.txn.describe("tx").map(|m| m.state),
        Some(TxnState::CompleteCommit)
    );
    let _ = &s.dir;
}

#[tokio::test]
async fn txn_coordinator_expires_idle_ids_durably() {
    let s = setup();
    let grant = s
        .txn
        .init_producer_id("idle", 60_000, None)
        .await
        .expect("init");
    let busy = s
        .txn
        .init_producer_id("busy", 60_000, None)
        .await
        .expect("init");
    s.txn
        .add_partitions("busy", producer(busy), &[tp("a", 0)])
        .await
        .expect("add");
    let later = s.txn.describe("idle").expect("known").last_update_ms
        + i64::try_from(TxnConfig::default().id_expiration.as_millis()).expect("fits")
        + 1;
    assert_eq!(
        s.txn.expire_idle(later - 2).await,
        0,
        "not idle long enough"
    );
    // The open transaction is not expired (its timeout aborts it instead).
    assert_eq!(s.txn.expire_idle(later).await, 1);
    assert!(s.txn.describe("idle").is_none());
    assert!(s.txn.describe("busy").is_some());
    assert_eq!(
        s.txn.check_produce(Some("idle"), producer(grant), "a", 0),
        Err(ResponseError::InvalidTxnState)
    );
    let Setup {
        dir,
        markers,
        groups,
        txn,
        ..
    } = s;
    drop(txn);
    groups.shutdown().await;
    drop(groups);
    let s = open_in(dir, markers);
    assert!(s.txn.describe("idle").is_none(), "the removal is durable");
    let again = s
        .txn
        .init_producer_id("idle", 60_000, None)
        .await
        .expect("init");
    assert_ne!(again.producer_id, grant.producer_id, "a new producer id");
}

#[tokio::test]
async fn txn_coordinator_compacts_its_log_and_keeps_the_latest_state() {
    let config = TxnConfig {
        compaction_min_dead: 3,
        ..TxnConfig::default()
    };
    let s = open_with(
        tempfile::tempdir().expect("tempdir"),
        Arc::default(),
        config.clone(),
    );
    let mut last = None;
    for _ in 0..10 {
        last = Some(
            s.txn
                .init_producer_id("c", 60_000, None)
                .await
                .expect("init"),
        );
    }
    let records = super::lock(&s.txn.log).record_count();
    assert!(
        records <= 4,
        "{records} records for one id: never compacted"
    );
    let Setup {
        dir,
        markers,
        groups,
        txn,
        ..
    } = s;
    drop(txn);
    groups.shutdown().await;
    drop(groups);
    let s = open_with(dir, markers, config);
    let m = s.txn.describe("c").expect("kept");
    assert_eq!(
        Some((m.producer_id, m.producer_epoch)),
        last.map(|g| (g.producer_id, g.producer_epoch))
    );
}

#[tokio::test]
async fn txn_coordinator_keeps_an_open_transaction_across_a_restart_until_its_timeout() {
    let s = setup();
    let grant = s
        .txn
        .init_producer_id("open", 5_000, None)
        .await
        .expect("init");
    s.txn
        .add_partitions("open", producer(grant), &[tp("a", 1)])
        .await
        .expect("add");
    let Setup {
        dir,
        markers,
        groups,
        txn,
        ..
    } = s;
    drop(txn);
    groups.shutdown().await;
    drop(groups);
    let s = open_in(dir, markers);
    let m = s.txn.describe("open").expect("kept");
    assert_eq!(m.state, TxnState::Ongoing);
    s.txn.recover().await;
    assert!(
        s.markers.written().is_empty(),
        "an open transaction is not ended"
    );
    s.txn
        .check_produce(Some("open"), producer(grant), "a", 1)
        .expect("the producer may go on");
    assert_eq!(s.txn.abort_expired(m.start_ms + 5_001).await, 1);
    wait_state(&s.txn, "open", TxnState::CompleteAbort).await;
    let written = s.markers.written();
    assert_eq!(written.len(), 1);
    assert!(!written[0].2.commit);
}
