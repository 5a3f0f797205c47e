//! The broker's [`MarkerWriter`]: transaction markers appended to the
//! partition logs through the storage engine, stamped with the
//! partition's current leader epoch, waking the partition's fetches.

use std::sync::{Arc, Weak};

use kafka_protocol::ResponseError;

use super::BrokerState;
use crate::clock::now_ms;
use crate::txn::{MarkerError, MarkerWriter, TxnMarker};

/// Writes markers into the logs of one broker state. Holds the state
/// weakly: the state owns the coordinator that owns this writer.
pub(crate) struct PartitionMarkers {
    state: Weak<BrokerState>,
}

impl PartitionMarkers {
    /// The writer for `state`.
    pub(crate) fn new(state: &Arc<BrokerState>) -> PartitionMarkers {
        PartitionMarkers {
            state: Arc::downgrade(state),
        }
    }
}

impl MarkerWriter for PartitionMarkers {
    fn write_marker(
        &self,
        topic: &str,
        partition: i32,
        marker: TxnMarker,
    ) -> Result<(), MarkerError> {
        let failed = |code: i16, message: String| MarkerError {
            topic: topic.to_owned(),
            partition,
            code,
            message,
        };
        let Some(state) = self.state.upgrade() else {
            return Err(failed(
                ResponseError::CoordinatorNotAvailable.code(),
                "the broker is shutting down".to_owned(),
            ));
        };
        let leader_epoch = state.topology.placement(topic, partition).leader_epoch;
        let written = state.with_partition(topic, partition, |log| {
            log.append_marker(marker, leader_epoch, now_ms())
        });
        match written {
            // A deleted partition has nothing left to commit or abort.
            None => Ok(()),
            Some(Ok(_offset)) => {
                state.appends.notify(topic, partition);
                Ok(())
            }
            Some(Err(e)) => Err(failed(e.kafka_error_code(), e.to_string())),
        }
    }
}

impl BrokerState {
    /// Gives the transaction coordinator its marker writer and completes,
    /// in the background, the transactions the last run left prepared.
    pub(crate) fn start_transactions(self: &Arc<Self>) {
        self.transactions
            .set_markers(Arc::new(PartitionMarkers::new(self)));
        let transactions = Arc::clone(&self.transactions);
        tokio::spawn(async move { transactions.recover().await });
    }
}
