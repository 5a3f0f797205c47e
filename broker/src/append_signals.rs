//! Per-partition "new data" signals that wake long-polling fetches.
//!
//! Each partition has a `watch` channel whose value counts its appends. A
//! fetch subscribes to the partitions it reads *before* looking for data,
//! so an append that lands between the look and the wait still wakes it
//! (the receiver sees the counter move), and only fetches that read the
//! partition are woken.
//!
//! A fetch may name partitions that do not exist (a client's mistake or a
//! hostile one), and subscribes before it knows. So a channel lives only
//! while a fetch holds its receiver: channels nobody receives on are
//! dropped whenever the number of channels has doubled since the last
//! sweep, which keeps the table at most about twice the live
//! subscriptions (and at least [`SWEEP_FLOOR`]) at an amortised constant
//! cost per new channel.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// Keyed by topic, then partition, so `notify` (once per appended
/// partition on the produce path) looks up by `&str` without allocating.
type TopicChannels = HashMap<String, HashMap<i32, watch::Sender<u64>>>;

/// Channels kept before the first sweep (and never swept below).
const SWEEP_FLOOR: usize = 1024;

/// The signals of the partitions that long-polling fetches wait on.
#[derive(Debug, Default)]
pub struct AppendSignals {
    channels: Mutex<Channels>,
}

/// The table and its sweep bookkeeping.
#[derive(Debug, Default)]
struct Channels {
    topics: TopicChannels,
    /// Channels in `topics`.
    count: usize,
    /// Sweep when `count` reaches this (0 until the first subscription).
    sweep_at: usize,
}

impl Channels {
    /// Drops every channel no receiver is left on.
    fn sweep(&mut self) {
        let mut count = 0;
        self.topics.retain(|_, partitions| {
            partitions.retain(|_, sender| sender.receiver_count() > 0);
            count += partitions.len();
            !partitions.is_empty()
        });
        self.count = count;
        self.sweep_at = (count * 2).max(SWEEP_FLOOR);
    }
}

impl AppendSignals {
    /// Wakes every fetch waiting on `topic`-`partition`.
    pub fn notify(&self, topic: &str, partition: i32) {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.topics.get(topic).and_then(|p| p.get(&partition)) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver that changes on every append to `topic`-`partition`.
    pub fn subscribe(&self, topic: &str, partition: i32) -> watch::Receiver<u64> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let existing = channels
            .topics
            .get(topic)
            .and_then(|partitions| partitions.get(&partition))
            .map(watch::Sender::subscribe);
        if let Some(receiver) = existing {
            return receiver;
        }
        if channels.count >= channels.sweep_at {
            channels.sweep();
        }
        let (sender, receiver) = watch::channel(0);
        channels
            .topics
            .entry(topic.to_owned())
            .or_default()
            .insert(partition, sender);
        channels.count += 1;
        receiver
    }

    /// Drops the signals of a deleted topic (its waiting fetches see the
    /// channel close and answer at once).
    pub fn forget_topic(&self, topic: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(partitions) = channels.topics.remove(topic) {
            channels.count -= partitions.len();
        }
    }

    /// Channels in the table (for tests of its bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.topics.values().map(HashMap::len).sum()
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

    #[test]
    fn fetches_of_partitions_nobody_waits_on_leave_no_channels_behind() {
        let signals = AppendSignals::default();
        let held = signals.subscribe("real", 0);
        for n in 0..100_000 {
            drop(signals.subscribe(&format!("missing-{n}"), n));
        }
        assert!(
            signals.len() <= 2 * SWEEP_FLOOR,
            "{} channels kept for 1 live subscription",
            signals.len()
        );
        // The live one survives every sweep and still wakes its fetch.
        signals.notify("real", 0);
        assert!(held.has_changed().unwrap());
        // Resubscribing to a swept partition gets a fresh channel that works.
        let mut again = signals.subscribe("missing-7", 7);
        signals.notify("missing-7", 7);
        assert!(again.has_changed().unwrap());
        again.borrow_and_update();
    }
}
