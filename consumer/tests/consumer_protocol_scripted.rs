//! `group.protocol=consumer` against testkit's scripted fake broker, for
//! what a real broker rarely shows on demand: the heartbeats on the wire
//! (every field on a join, only changes afterwards, the acknowledgement of
//! an assignment by topic id), FENCED_MEMBER_EPOCH losing the partitions
//! and rejoining with epoch 0 and the same member id, a stale commit not
//! following the member past such a fence, a stale background commit
//! not following it past a revocation, the leave with epoch -1 on
//! close, and a broker without ConsumerGroupHeartbeat refused with
//! an error that names `group.protocol=classic`.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use durian_consumer::{Consumer, GroupProtocol, RebalanceListener, TopicPartition};
use durian_core::{ClientConfig, KafkaCode};
use durian_testkit::scripted::{api_versions, metadata, FakeBroker, Reply, Request, NODE_ID};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    FindCoordinatorResponse, MetadataRequest, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

const TOPIC_ID: Uuid = Uuid::from_u128(0x848);
const LIMIT: Duration = Duration::from_secs(20);

fn coordinator(request: &Request) -> Reply {
    request.reply(
        &FindCoordinatorResponse::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(i32::from(request.port)),
    )
}

/// Every topic asked for, with id `TOPIC_ID` and two partitions.
fn metadata_with_ids(request: &Request) -> Reply {
    let asked: MetadataRequest = request.decode();
    let mut response = metadata(request.port, &asked);
    for topic in &mut response.topics {
        topic.topic_id = TOPIC_ID;
        let second = topic.partitions[0].clone().with_partition_index(1);
        topic.partitions.push(second);
    }
    request.reply(&response)
}

fn consumer(bootstrap: &str) -> durian_consumer::ConsumerBuilder {
    let client = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    Consumer::builder()
        .client_config(client)
        .group_id("g")
        .group_protocol(GroupProtocol::Consumer)
        .enable_auto_commit(false)
}

#[tokio::test]
async fn a_broker_without_the_api_is_refused_naming_the_classic_protocol() {
    let broker = FakeBroker::start(|request: Request| match request.api {
        ApiKey::ApiVersions => request.reply(&api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::FindCoordinator, 0, 3),
        ])),
        ApiKey::Metadata => metadata_with_ids(&request),
        ApiKey::FindCoordinator => coordinator(&request),
        other => panic!("this fake broker does not serve {other:?}"),
    })
    .await;
    let mut consumer = consumer(&broker.bootstrap()).build().unwrap();
    consumer.subscribe(["t"]).unwrap();
    let deadline = Instant::now() + LIMIT;
    let error = loop {
        match consumer.poll(Duration::from_millis(100)).await {
            Err(error) => break error,
            Ok(_) => assert!(Instant::now() < deadline, "no error from poll"),
        }
    };
    let message = error.to_string();
    assert!(
        message.contains("group.protocol=classic") && message.contains("ConsumerGroupHeartbeat"),
        "{message}"
    );
}

/// What the listener saw, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl RebalanceListener for Events {
    async fn on_partitions_revoked(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        self.0
            .lock()
            .unwrap()
            .push(format!("revoked {partitions:?}"));
    }
    async fn on_partitions_assigned(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        self.0
            .lock()
            .unwrap()
            .push(format!("assigned {partitions:?}"));
    }
    async fn on_partitions_lost(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        self.0.lock().unwrap().push(format!("lost {partitions:?}"));
    }
}

/// A consumer of `broker` built from `builder` with a listener recording
/// into the returned events, subscribed to `t`.
fn subscribed(builder: durian_consumer::ConsumerBuilder) -> (Consumer, Events) {
    let events = Events::default();
    let mut consumer = builder.rebalance_listener(events.clone()).build().unwrap();
    consumer.subscribe(["t"]).unwrap();
    (consumer, events)
}

/// The coordinator's side of the script: heartbeats seen, and whether
/// the member was fenced already.
#[derive(Default)]
struct Coordinator {
    heartbeats: Vec<ConsumerGroupHeartbeatRequest>,
    /// Answer the first acknowledgement with FENCED_MEMBER_EPOCH.
    fence_the_ack: bool,
    fenced: bool,
    /// Hand a joined member this epoch at its next heartbeat.
    bump_to: Option<i32>,
    /// The epoch the member has as far as the coordinator is concerned.
    current: i32,
    /// The member epoch of every OffsetCommit.
    commits: Vec<i32>,
    /// Refuse the next OffsetCommit as STALE_MEMBER_EPOCH and fence the
    /// member at its next heartbeat: its epoch moved on and it lost its
    /// partitions while the commit was on its way.
    fence_at_commit: bool,
    /// Answer the next heartbeat of a joined member with FENCED_MEMBER_EPOCH.
    fence_next: bool,
    /// Joins assign t-1 besides t-0.
    both: bool,
    /// Move the member at epoch 1 to these partitions of `t`, keeping the
    /// epoch while it revokes the others (as Kafka does); the heartbeat
    /// that acknowledges the revocation brings epoch 2 and fires
    /// `revoked`.
    revoke_to: Option<Vec<i32>>,
    /// Fired when the member reached epoch 2 by acknowledging the revocation.
    revoked: Option<oneshot::Sender<()>>,
    /// Hold the answer to that acknowledgement until this fires.
    hold_ack: Option<oneshot::Receiver<()>>,
    /// Fired by the next OffsetCommit.
    commit_seen: Option<oneshot::Sender<()>>,
    /// Hold the answer to the next OffsetCommit until this fires, then
    /// answer it as the coordinator stands by then.
    hold_commit: Option<oneshot::Receiver<()>>,
}

/// `partitions` of `t` by topic id, as heartbeats carry them both ways.
fn of_t(partitions: &[i32]) -> Vec<TopicPartitions> {
    if partitions.is_empty() {
        return Vec::new();
    }
    vec![TopicPartitions::default()
        .with_topic_id(TOPIC_ID)
        .with_partitions(partitions.to_vec())]
}

fn assignment_of(partitions: &[i32]) -> Assignment {
    Assignment::default().with_topic_partitions(of_t(partitions))
}

fn heartbeat(state: &Mutex<Coordinator>, request: &Request) -> Reply {
    let beat: ConsumerGroupHeartbeatRequest = request.decode();
    let mut state = state.lock().unwrap();
    state.heartbeats.push(beat.clone());
    let mut response = ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(beat.member_id.clone()))
        .with_heartbeat_interval_ms(100);
    let acked = beat
        .topic_partitions
        .as_ref()
        .is_some_and(|owned| owned.len() == 1 && owned[0].topic_id == TOPIC_ID);
    let joined: &[i32] = if state.both { &[0, 1] } else { &[0] };
    let mut hold = None;
    response = match beat.member_epoch {
        // First join: epoch 1 and t-0. Rejoin after the fence: epoch 3.
        0 if !state.fenced => response
            .with_member_epoch(1)
            .with_assignment(Some(assignment_of(joined))),
        0 => response
            .with_member_epoch(3)
            .with_assignment(Some(assignment_of(joined))),
        epoch if epoch > 0 && state.fence_next => {
            state.fence_next = false;
            state.fenced = true;
            response.with_error_code(110) // FENCED_MEMBER_EPOCH
        }
        1 if state.revoke_to.is_some() => {
            let target = state.revoke_to.clone().unwrap_or_default();
            let owned: Option<Vec<i32>> = beat.topic_partitions.as_ref().map(|topics| {
                topics
                    .iter()
                    .filter(|t| t.topic_id == TOPIC_ID)
                    .flat_map(|t| t.partitions.iter().copied())
                    .collect()
            });
            if owned.as_deref() == Some(target.as_slice()) {
                state.revoke_to = None;
                if let Some(revoked) = state.revoked.take() {
                    let _ = revoked.send(());
                }
                hold = state.hold_ack.take();
                response.with_member_epoch(2)
            } else {
                response
                    .with_member_epoch(1)
                    .with_assignment(Some(assignment_of(&target)))
            }
        }
        1 if acked && state.fence_the_ack => {
            state.fenced = true;
            response.with_error_code(110) // FENCED_MEMBER_EPOCH
        }
        epoch => response.with_member_epoch(state.bump_to.filter(|_| epoch > 0).unwrap_or(epoch)),
    };
    if response.error_code == 0 {
        state.current = response.member_epoch;
    }
    match hold {
        None => request.reply(&response),
        Some(release) => {
            let version = request.version;
            Reply::later(async move {
                let _ = release.await;
                durian_testkit::scripted::encode(&response, version)
            })
        }
    }
}

/// Refuses a commit from an epoch other than the member's current one
/// with STALE_MEMBER_EPOCH, as Kafka does; when told to, only once
/// `hold_commit` fired.
fn offset_commit(state: &Arc<Mutex<Coordinator>>, request: &Request) -> Reply {
    let asked: OffsetCommitRequest = request.decode();
    let held = {
        let mut state = state.lock().unwrap();
        state.commits.push(asked.generation_id_or_member_epoch);
        if let Some(seen) = state.commit_seen.take() {
            let _ = seen.send(());
        }
        state.hold_commit.take()
    };
    let Some(release) = held else {
        return request.reply(&commit_answer(&mut state.lock().unwrap(), &asked));
    };
    let (state, version) = (state.clone(), request.version);
    Reply::later(async move {
        let _ = release.await;
        let answer = commit_answer(&mut state.lock().unwrap(), &asked);
        durian_testkit::scripted::encode(&answer, version)
    })
}

/// The coordinator's answer to `asked` as it stands now.
fn commit_answer(state: &mut Coordinator, asked: &OffsetCommitRequest) -> OffsetCommitResponse {
    let code = if std::mem::take(&mut state.fence_at_commit) {
        state.fence_next = true;
        113 // STALE_MEMBER_EPOCH
    } else if asked.generation_id_or_member_epoch == state.current {
        0
    } else {
        113 // STALE_MEMBER_EPOCH
    };
    let topics = asked
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

fn offset_fetch(request: &Request) -> Reply {
    let asked: OffsetFetchRequest = request.decode();
    let topics = asked
        .topics
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            OffsetFetchResponseTopic::default()
                .with_name(t.name)
                .with_partitions(
                    t.partition_indexes
                        .iter()
                        .map(|p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(0)
                        })
                        .collect(),
                )
        })
        .collect();
    request.reply(&OffsetFetchResponse::default().with_topics(topics))
}

/// The APIs and versions the scripted coordinators offer.
const SERVED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::OffsetCommit, 8, 9),
];

/// Polls until the listener saw three events, which must be: `t-0`
/// assigned, lost, and assigned again (the rejoin).
async fn polls_until_lost_and_assigned_again(
    consumer: &mut Consumer,
    events: &Events,
    deadline: Instant,
) {
    loop {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        if events.0.lock().unwrap().len() >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no rejoin: {:?}",
            events.0.lock().unwrap()
        );
    }
    let t0 = format!("{:?}", [TopicPartition::new("t", 0)]);
    assert_eq!(
        *events.0.lock().unwrap(),
        [
            format!("assigned {t0}"),
            format!("lost {t0}"),
            format!("assigned {t0}")
        ]
    );
}

/// Polls until the member has epoch 1 and the listener saw t-0 assigned.
async fn polls_until_joined(consumer: &mut Consumer, events: &Events, deadline: Instant) {
    while consumer.group_metadata().unwrap().generation_id != 1
        || events.0.lock().unwrap().is_empty()
    {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "never joined");
    }
}

/// A coordinator following `state`'s script, with a partition that
/// commits say starts at 0 and fetches that never answer.
async fn scripted_coordinator(state: Arc<Mutex<Coordinator>>) -> FakeBroker {
    let script = state;
    FakeBroker::start(move |request: Request| match request.api {
        ApiKey::ApiVersions => request.reply(&api_versions(SERVED)),
        ApiKey::Metadata => metadata_with_ids(&request),
        ApiKey::FindCoordinator => coordinator(&request),
        ApiKey::ConsumerGroupHeartbeat => heartbeat(&script, &request),
        ApiKey::OffsetCommit => offset_commit(&script, &request),
        ApiKey::OffsetFetch => offset_fetch(&request),
        // Fetches stay parked: only membership is under test.
        ApiKey::Fetch => Reply::later(std::future::pending()),
        other => panic!("this fake broker does not serve {other:?}"),
    })
    .await
}

#[tokio::test]
async fn a_fenced_member_loses_its_partitions_and_rejoins_with_epoch_zero() {
    let state = Arc::new(Mutex::new(Coordinator {
        fence_the_ack: true,
        ..Coordinator::default()
    }));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let t0 = format!("{:?}", [TopicPartition::new("t", 0)]);
    let wanted = [
        format!("assigned {t0}"),
        format!("lost {t0}"),
        format!("assigned {t0}"),
    ];
    let deadline = Instant::now() + LIMIT;
    loop {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        let seen = events.0.lock().unwrap().clone();
        let epoch = consumer.group_metadata().unwrap().generation_id;
        if seen.len() >= wanted.len() && epoch == 3 {
            assert_eq!(seen, wanted);
            break;
        }
        assert!(Instant::now() < deadline, "events {seen:?}, epoch {epoch}");
    }
    consumer.close().await.unwrap();

    let beats = std::mem::take(&mut state.lock().unwrap().heartbeats);
    let member = beats[0].member_id.clone();
    assert!(!member.is_empty(), "v1: the member id is the client's");
    assert!(
        beats.iter().all(|b| b.member_id == member),
        "one member id throughout"
    );
    // The join carries everything.
    let join = &beats[0];
    assert_eq!(join.member_epoch, 0);
    assert_eq!(
        join.subscribed_topic_names.as_ref().unwrap()[0].0.as_str(),
        "t"
    );
    assert_eq!(join.topic_partitions, Some(Vec::new()));
    assert!(join.rebalance_timeout_ms > 0);
    // Then the acknowledgement: owned partitions by topic id, and nothing
    // that did not change.
    let ack = &beats[1];
    assert_eq!(ack.member_epoch, 1);
    let owned = ack.topic_partitions.as_ref().unwrap();
    assert_eq!(
        (owned[0].topic_id, owned[0].partitions.clone()),
        (TOPIC_ID, vec![0])
    );
    assert_eq!(ack.subscribed_topic_names, None);
    assert_eq!(ack.rebalance_timeout_ms, -1);
    // Fenced on that ack: the rejoin starts over with every field.
    let rejoin = &beats[2];
    assert_eq!(rejoin.member_epoch, 0);
    assert!(rejoin.subscribed_topic_names.is_some());
    assert_eq!(rejoin.topic_partitions, Some(Vec::new()));
    // close() leaves with -1, the last heartbeat.
    assert_eq!(beats.last().unwrap().member_epoch, -1, "{beats:?}");
}

#[tokio::test]
async fn a_poll_timeout_leaves_with_epoch_minus_one_and_the_next_poll_rejoins() {
    let state = Arc::new(Mutex::new(Coordinator::default()));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) =
        subscribed(consumer(&broker.bootstrap()).max_poll_interval(Duration::from_millis(500)));
    let deadline = Instant::now() + LIMIT;
    while events.0.lock().unwrap().is_empty() {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "never assigned");
    }
    // No poll now: the member must leave by itself, with epoch -1.
    let left = |state: &Coordinator| state.heartbeats.iter().any(|b| b.member_epoch == -1);
    while !left(&state.lock().unwrap()) {
        assert!(Instant::now() < deadline, "no leave after the poll timeout");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let error = consumer.poll(Duration::from_millis(50)).await.unwrap_err();
    assert!(
        matches!(error, durian_consumer::ConsumerError::PollIntervalExceeded),
        "{error}"
    );
    polls_until_lost_and_assigned_again(&mut consumer, &events, deadline).await;
    let beats = std::mem::take(&mut state.lock().unwrap().heartbeats);
    let leave = beats.iter().position(|b| b.member_epoch == -1).unwrap();
    assert_eq!(
        beats[leave + 1].member_epoch,
        0,
        "rejoined with epoch 0: {beats:?}"
    );
    consumer.close().await.unwrap();
}

#[tokio::test]
async fn a_commit_from_a_stale_epoch_is_sent_again_with_the_next_one() {
    let state = Arc::new(Mutex::new(Coordinator::default()));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let deadline = Instant::now() + LIMIT;
    polls_until_joined(&mut consumer, &events, deadline).await;
    // The coordinator moves the member to epoch 2; the consumer learns
    // it only at its next heartbeat, after the commit below is refused.
    {
        let mut state = state.lock().unwrap();
        state.bump_to = Some(2);
        state.current = 2;
    }
    let offsets = [(
        TopicPartition::new("t", 0),
        durian_consumer::OffsetAndMetadata::new(1),
    )]
    .into();
    consumer.commit_offsets(offsets).await.unwrap();
    assert_eq!(state.lock().unwrap().commits, [1, 2]);
    assert_eq!(consumer.group_metadata().unwrap().generation_id, 2);
    consumer.close().await.unwrap();
}

/// An assigned topic id that no metadata names (a topic this broker has
/// not heard of yet, or one deleted meanwhile) is looked up with an
/// all-topics Metadata request, but not on every heartbeat: the lookups
/// back off from one second while the id stays unknown.
#[tokio::test]
async fn an_unknown_assigned_topic_id_is_looked_up_with_backoff_not_per_heartbeat() {
    const UNKNOWN_ID: Uuid = Uuid::from_u128(0x999);
    const SECOND_UNKNOWN_ID: Uuid = Uuid::from_u128(0x99a);
    #[derive(Default)]
    struct Seen {
        heartbeats: usize,
        all_topics_lookups: usize,
        /// Assign a second unknown id too from now on.
        second: bool,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let script = seen.clone();
    let broker = FakeBroker::start(move |request: Request| match request.api {
        ApiKey::ApiVersions => request.reply(&api_versions(SERVED)),
        ApiKey::Metadata => {
            let asked: MetadataRequest = request.decode();
            if asked.topics.is_none() {
                script.lock().unwrap().all_topics_lookups += 1;
            }
            metadata_with_ids(&request)
        }
        ApiKey::FindCoordinator => coordinator(&request),
        ApiKey::ConsumerGroupHeartbeat => {
            let beat: ConsumerGroupHeartbeatRequest = request.decode();
            let mut seen = script.lock().unwrap();
            seen.heartbeats += 1;
            let ids = if seen.second {
                vec![UNKNOWN_ID, SECOND_UNKNOWN_ID]
            } else {
                vec![UNKNOWN_ID]
            };
            let owned = ids
                .into_iter()
                .map(|id| {
                    TopicPartitions::default()
                        .with_topic_id(id)
                        .with_partitions(vec![0])
                })
                .collect();
            request.reply(
                &ConsumerGroupHeartbeatResponse::default()
                    .with_member_id(Some(beat.member_id))
                    .with_member_epoch(if seen.second { 2 } else { 1 })
                    .with_heartbeat_interval_ms(50)
                    .with_assignment(Some(Assignment::default().with_topic_partitions(owned))),
            )
        }
        ApiKey::OffsetFetch => offset_fetch(&request),
        ApiKey::Fetch => Reply::later(std::future::pending()),
        other => panic!("this fake broker does not serve {other:?}"),
    })
    .await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let deadline = Instant::now() + LIMIT;
    while seen.lock().unwrap().heartbeats < 40 {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "heartbeats stopped");
    }
    let (beats, lookups) = {
        let seen = seen.lock().unwrap();
        (seen.heartbeats, seen.all_topics_lookups)
    };
    assert!(lookups >= 1, "the unknown id was never looked up");
    // Without the backoff there is one lookup per heartbeat.
    assert!(
        lookups * 4 <= beats,
        "{lookups} all-topics lookups in {beats} heartbeats"
    );
    assert!(
        events.0.lock().unwrap().is_empty(),
        "nothing is assigned while the topic id is unknown"
    );
    // A newly assigned unknown id is looked up at once, not after the
    // backoff the first one has built up (seconds by now).
    let (switched_at, lookups_before) = {
        let mut seen = seen.lock().unwrap();
        seen.second = true;
        (seen.heartbeats, seen.all_topics_lookups)
    };
    while seen.lock().unwrap().heartbeats < switched_at + 4 {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "heartbeats stopped");
    }
    let lookups_after = seen.lock().unwrap().all_topics_lookups;
    assert!(
        lookups_after > lookups_before,
        "the new id waited for the old id's backoff"
    );
    consumer.close().await.unwrap();
}

#[tokio::test]
async fn a_stale_commit_is_not_sent_again_after_the_member_lost_its_partitions() {
    let state = Arc::new(Mutex::new(Coordinator::default()));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let deadline = Instant::now() + LIMIT;
    polls_until_joined(&mut consumer, &events, deadline).await;
    // The commit is refused as stale and the member is fenced before it
    // learns a newer epoch: it rejoins under epoch 3, and t-0 may have
    // another owner by then, so the commit must not follow it there.
    state.lock().unwrap().fence_at_commit = true;
    let offsets = [(
        TopicPartition::new("t", 0),
        durian_consumer::OffsetAndMetadata::new(1),
    )]
    .into();
    let error = consumer.commit_offsets(offsets).await.unwrap_err();
    assert!(
        matches!(
            error,
            durian_consumer::ConsumerError::CommitFailed(KafkaCode::STALE_MEMBER_EPOCH)
        ),
        "{error:?}"
    );
    assert_eq!(state.lock().unwrap().commits, [1]);
    polls_until_lost_and_assigned_again(&mut consumer, &events, deadline).await;
    consumer.close().await.unwrap();
}

/// KIP-848 keeps the member epoch while a partition is revoked and moves
/// it once the member acknowledged the revocation. A `commit_async` taken
/// before the revocation and refused as stale when the new epoch has come
/// must not be sent again with it: the partition may have another owner.
#[tokio::test]
async fn a_stale_background_commit_is_not_sent_again_after_its_partition_was_revoked() {
    let state = Arc::new(Mutex::new(Coordinator::default()));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let deadline = Instant::now() + LIMIT;
    polls_until_joined(&mut consumer, &events, deadline).await;
    let t0 = TopicPartition::new("t", 0);
    consumer.seek(&t0, 5).unwrap();
    let (revoked, release) = oneshot::channel();
    {
        let mut state = state.lock().unwrap();
        state.revoked = Some(revoked);
        state.hold_commit = Some(release);
    }
    // Taken at epoch 1 with t-0; answered only after the revocation.
    let commit = consumer.commit_async().unwrap();
    state.lock().unwrap().revoke_to = Some(Vec::new());
    let gone = format!("revoked {:?}", [t0]);
    loop {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        let seen = events.0.lock().unwrap().clone();
        let epoch = consumer.group_metadata().unwrap().generation_id;
        if seen.contains(&gone) && epoch == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "events {seen:?}, epoch {epoch}");
    }
    let outcome = tokio::time::timeout(LIMIT, commit)
        .await
        .expect("the commit never finished")
        .unwrap();
    assert!(
        matches!(
            outcome,
            Err(durian_consumer::ConsumerError::CommitFailed(
                KafkaCode::STALE_MEMBER_EPOCH
            ))
        ),
        "{outcome:?}"
    );
    assert_eq!(
        state.lock().unwrap().commits,
        [1],
        "sent again after the revocation"
    );
    consumer.close().await.unwrap();
}

/// The other side of the test above: a commit taken after the `poll`
/// that applied a revocation carries only partitions still owned, so when
/// it is refused as stale because the acknowledgement already moved the
/// coordinator to epoch 2, it follows the member there.
#[tokio::test]
async fn a_commit_taken_after_a_revocation_follows_the_epoch_it_brings() {
    let state = Arc::new(Mutex::new(Coordinator {
        both: true,
        ..Coordinator::default()
    }));
    let broker = scripted_coordinator(state.clone()).await;
    let (mut consumer, events) = subscribed(consumer(&broker.bootstrap()));
    let deadline = Instant::now() + LIMIT;
    polls_until_joined(&mut consumer, &events, deadline).await;
    let (t0, t1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    consumer.seek(&t0, 5).unwrap();
    let (revoked, acknowledged) = oneshot::channel();
    let (seen, release) = oneshot::channel();
    {
        let mut state = state.lock().unwrap();
        state.revoked = Some(revoked);
        state.hold_ack = Some(release);
        state.commit_seen = Some(seen);
        state.revoke_to = Some(vec![0]);
    }
    let gone = format!("revoked {:?}", [t1]);
    while !events.0.lock().unwrap().contains(&gone) {
        consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "t-1 never revoked");
    }
    // The coordinator has epoch 2 now; the member learns it only from the
    // held answer, released by the commit below.
    tokio::time::timeout(LIMIT, acknowledged)
        .await
        .expect("the revocation was never acknowledged")
        .unwrap();
    assert_eq!(consumer.group_metadata().unwrap().generation_id, 1);
    consumer.commit().await.unwrap();
    assert_eq!(state.lock().unwrap().commits, [1, 2]);
    assert_eq!(consumer.group_metadata().unwrap().generation_id, 2);
    consumer.close().await.unwrap();
}
