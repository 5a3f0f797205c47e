//! Per-partition "new data" signals that wake long-polling fetches.
//!
//! Each partition has a `watch` channel whose value counts its appends. A
//! fetch subscribes to the partitions it reads *before* looking for data,
//! so an append that lands between the look and the wait still wakes it
//! (the receiver sees the counter move), and only fetches that read the
//! partition are woken.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// Keyed by topic, then partition, so `notify` (once per appended
/// partition on the produce path) looks up by `&str` without allocating.
type TopicChannels = HashMap<String, HashMap<i32, watch::Sender<u64>>>;

/// The signals of every partition that has been fetched or appended to.
#[derive(Debug, Default)]
pub struct AppendSignals {
    channels: Mutex<TopicChannels>,
}

impl AppendSignals {
    /// Wakes every fetch waiting on `topic`-`partition`.
    pub fn notify(&self, topic: &str, partition: i32) {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(topic).and_then(|p| p.get(&partition)) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver that changes on every append to `topic`-`partition`.
    pub fn subscribe(&self, topic: &str, partition: i32) -> watch::Receiver<u64> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let partitions = match channels.get_mut(topic) {
            Some(partitions) => partitions,
            None => channels.entry(topic.to_owned()).or_default(),
        };
        partitions
            .entry(partition)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Drops the signals of a deleted topic (its waiting fetches see the
    /// channel close and answer at once).
    pub fn forget_topic(&self, topic: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.remove(topic);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_appended_partition_wakes() {
        let signals = AppendSignals::default();
        let mut zero = signals.subscribe("t", 0);
        let mut one = signals.subscribe("t", 1);
        signals.notify("t", 1);
        assert!(one.has_changed().unwrap());
        assert!(!zero.has_changed().unwrap());
        one.borrow_and_update();
        signals.forget_topic("t");
        assert!(
            zero.changed().await.is_err(),
            "a deleted topic's waiters are released"
        );
    }
}
