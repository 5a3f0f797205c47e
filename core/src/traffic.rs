//! Traffic classes: which connection to a broker a request travels on.
//!
//! durian opens up to one connection per class to each broker, because
//! Kafka answers the requests of one connection strictly in order: a Fetch
//! that long-polls for `fetch.max.wait.ms`, or a JoinGroup parked for a whole
//! rebalance, would otherwise hold back every Produce queued behind it.

use kafka_protocol::messages::ApiKey;

/// The connection class a request is sent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrafficClass {
    /// Produce requests (and the producer's InitProducerId).
    Produce,
    /// Fetch requests, which may long-poll.
    Fetch,
    /// Group coordination, which may park requests for a rebalance.
    Group,
    /// Everything else: metadata, admin operations, offsets lookups.
    Admin,
}

impl TrafficClass {
    /// The default class for an API.
    pub fn for_api(api: ApiKey) -> TrafficClass {
        match api {
            ApiKey::Produce | ApiKey::InitProducerId => TrafficClass::Produce,
            ApiKey::Fetch | ApiKey::ShareFetch => TrafficClass::Fetch,
            ApiKey::JoinGroup
            | ApiKey::SyncGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::TxnOffsetCommit
            | ApiKey::ConsumerGroupHeartbeat
            | ApiKey::ShareGroupHeartbeat => TrafficClass::Group,
            _ => TrafficClass::Admin,
        }
    }

    /// All classes.
    pub const ALL: [TrafficClass; 4] = [
        TrafficClass::Produce,
        TrafficClass::Fetch,
        TrafficClass::Group,
        TrafficClass::Admin,
    ];
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_polling_apis_do_not_share_with_produce() {
        assert_eq!(
            TrafficClass::for_api(ApiKey::Produce),
            TrafficClass::Produce
        );
        assert_eq!(TrafficClass::for_api(ApiKey::Fetch), TrafficClass::Fetch);
        assert_eq!(
            TrafficClass::for_api(ApiKey::JoinGroup),
            TrafficClass::Group
        );
        assert_eq!(TrafficClass::for_api(ApiKey::Metadata), TrafficClass::Admin);
        assert_eq!(
            TrafficClass::for_api(ApiKey::CreateTopics),
            TrafficClass::Admin
        );
    }
}
