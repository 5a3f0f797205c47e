//! How a transactional request's error code is handled, per request, as
//! the Java client's `TransactionManager` handlers classify them.
//!
//! The table (docs/PRODUCER.md repeats it):
//!
//! | class | codes |
//! |---|---|
//! | find the coordinator again, retry | `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE` |
//! | retry after a backoff | `COORDINATOR_LOAD_IN_PROGRESS`, `CONCURRENT_TRANSACTIONS`, `REQUEST_TIMED_OUT`; `UNKNOWN_TOPIC_OR_PARTITION` for AddPartitionsToTxn and TxnOffsetCommit |
//! | fenced (fatal) | `PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH`, `TRANSACTION_COORDINATOR_FENCED` |
//! | abortable | `TRANSACTION_ABORTABLE`; `TOPIC_AUTHORIZATION_FAILED`, `UNKNOWN_PRODUCER_ID` and `OPERATION_NOT_ATTEMPTED` for AddPartitionsToTxn; `GROUP_AUTHORIZATION_FAILED` for AddOffsetsToTxn and TxnOffsetCommit; `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, `FENCED_INSTANCE_ID`, `TOPIC_AUTHORIZATION_FAILED` for TxnOffsetCommit; any produce failure of a batch |
//! | fatal | `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`, `CLUSTER_AUTHORIZATION_FAILED`, `INVALID_TXN_STATE`, `INVALID_PRODUCER_ID_MAPPING`, `UNSUPPORTED_VERSION`, `INVALID_TRANSACTION_TIMEOUT`, and every code not listed |

use durian_core::KafkaCode;

/// The transactional request an error answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// InitProducerId with the transactional id (also the epoch bump after
    /// an abort).
    InitProducerId,
    /// AddPartitionsToTxn (transactions V1).
    AddPartitions,
    /// AddOffsetsToTxn.
    AddOffsets,
    /// TxnOffsetCommit, to the group coordinator.
    TxnOffsetCommit,
    /// EndTxn, commit or abort.
    EndTxn,
}

/// What to do about an error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The coordinator moved: look it up again, then retry.
    FindCoordinator,
    /// Transient: retry the same request after a backoff.
    Retry,
    /// The transaction cannot commit; `abort_transaction` recovers.
    Abortable,
    /// A newer producer with the same transactional id took over.
    Fenced,
    /// The producer cannot go on.
    Fatal,
}

/// Classifies `code` answered to `request` (see the module table).
pub(crate) fn classify(request: TxnRequest, code: KafkaCode) -> ErrorClass {
    use TxnRequest::*;
    match code {
        KafkaCode::NOT_COORDINATOR | KafkaCode::COORDINATOR_NOT_AVAILABLE => {
            ErrorClass::FindCoordinator
        }
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS
        | KafkaCode::CONCURRENT_TRANSACTIONS
        | KafkaCode::REQUEST_TIMED_OUT => ErrorClass::Retry,
        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
            if matches!(request, AddPartitions | TxnOffsetCommit) =>
        {
            ErrorClass::Retry
        }
        KafkaCode::PRODUCER_FENCED
        | KafkaCode::INVALID_PRODUCER_EPOCH
        | KafkaCode::TRANSACTION_COORDINATOR_FENCED => ErrorClass::Fenced,
        KafkaCode::TRANSACTION_ABORTABLE => ErrorClass::Abortable,
        KafkaCode::TOPIC_AUTHORIZATION_FAILED
        | KafkaCode::UNKNOWN_PRODUCER_ID
        | KafkaCode::OPERATION_NOT_ATTEMPTED
            if request == AddPartitions =>
        {
            ErrorClass::Abortable
        }
        KafkaCode::GROUP_AUTHORIZATION_FAILED
            if matches!(request, AddOffsets | TxnOffsetCommit) =>
        {
            ErrorClass::Abortable
        }
        KafkaCode::UNKNOWN_MEMBER_ID
        | KafkaCode::ILLEGAL_GENERATION
        | KafkaCode::FENCED_INSTANCE_ID
        | KafkaCode::TOPIC_AUTHORIZATION_FAILED
            if request == TxnOffsetCommit =>
        {
            ErrorClass::Abortable
        }
        _ => ErrorClass::Fatal,
    }
}

/// Classifies a produce error of a batch in a transaction: fencing and
/// authorization of the transactional id end the producer; any other
/// failed batch only dooms the transaction.
pub(crate) fn classify_produce(code: Option<KafkaCode>) -> ErrorClass {
    match code {
        Some(
            KafkaCode::PRODUCER_FENCED
            | KafkaCode::INVALID_PRODUCER_EPOCH
            | KafkaCode::TRANSACTION_COORDINATOR_FENCED,
        ) => ErrorClass::Fenced,
        Some(
            KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | KafkaCode::CLUSTER_AUTHORIZATION_FAILED
            | KafkaCode::INVALID_PRODUCER_ID_MAPPING
            | KafkaCode::INVALID_TXN_STATE,
        ) => ErrorClass::Fatal,
        _ => ErrorClass::Abortable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;
    use TxnRequest::*;

    /// Every row of the table in docs/PRODUCER.md.
    #[test]
    fn the_table_as_documented() {
        let all = [
            InitProducerId,
            AddPartitions,
            AddOffsets,
            TxnOffsetCommit,
            EndTxn,
        ];
        for request in all {
            for code in [
                KafkaCode::NOT_COORDINATOR,
                KafkaCode::COORDINATOR_NOT_AVAILABLE,
            ] {
                assert_eq!(
                    classify(request, code),
                    FindCoordinator,
                    "{request:?} {code:?}"
                );
            }
            for code in [
                KafkaCode::COORDINATOR_LOAD_IN_PROGRESS,
                KafkaCode::CONCURRENT_TRANSACTIONS,
                KafkaCode::REQUEST_TIMED_OUT,
            ] {
                assert_eq!(classify(request, code), Retry, "{request:?} {code:?}");
            }
            for code in [
                KafkaCode::PRODUCER_FENCED,
                KafkaCode::INVALID_PRODUCER_EPOCH,
                KafkaCode::TRANSACTION_COORDINATOR_FENCED,
            ] {
                assert_eq!(classify(request, code), Fenced, "{request:?} {code:?}");
            }
            assert_eq!(
                classify(request, KafkaCode::TRANSACTION_ABORTABLE),
                Abortable
            );
            for code in [
                KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                KafkaCode::CLUSTER_AUTHORIZATION_FAILED,
                KafkaCode::INVALID_TXN_STATE,
                KafkaCode::INVALID_PRODUCER_ID_MAPPING,
                KafkaCode::UNSUPPORTED_VERSION,
                KafkaCode::INVALID_TRANSACTION_TIMEOUT,
                KafkaCode::UNKNOWN_SERVER_ERROR,
            ] {
                assert_eq!(classify(request, code), Fatal, "{request:?} {code:?}");
            }
        }
        let topic = KafkaCode::UNKNOWN_TOPIC_OR_PARTITION;
        assert_eq!(classify(AddPartitions, topic), Retry);
        assert_eq!(classify(TxnOffsetCommit, topic), Retry);
        assert_eq!(classify(EndTxn, topic), Fatal);
        for code in [
            KafkaCode::TOPIC_AUTHORIZATION_FAILED,
            KafkaCode::UNKNOWN_PRODUCER_ID,
            KafkaCode::OPERATION_NOT_ATTEMPTED,
        ] {
            assert_eq!(classify(AddPartitions, code), Abortable, "{code:?}");
            assert_eq!(classify(EndTxn, code), Fatal, "{code:?}");
        }
        let group = KafkaCode::GROUP_AUTHORIZATION_FAILED;
        assert_eq!(classify(AddOffsets, group), Abortable);
        assert_eq!(classify(TxnOffsetCommit, group), Abortable);
        assert_eq!(classify(InitProducerId, group), Fatal);
        for code in [
            KafkaCode::UNKNOWN_MEMBER_ID,
            KafkaCode::ILLEGAL_GENERATION,
            KafkaCode::FENCED_INSTANCE_ID,
            KafkaCode::TOPIC_AUTHORIZATION_FAILED,
        ] {
            assert_eq!(classify(TxnOffsetCommit, code), Abortable, "{code:?}");
            assert_eq!(classify(AddOffsets, code), Fatal, "{code:?}");
        }
    }

    #[test]
    fn produce_failures_in_a_transaction() {
        assert_eq!(classify_produce(Some(KafkaCode::PRODUCER_FENCED)), Fenced);
        assert_eq!(
            classify_produce(Some(KafkaCode::INVALID_PRODUCER_EPOCH)),
            Fenced
        );
        assert_eq!(
            classify_produce(Some(KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)),
            Fatal
        );
        assert_eq!(classify_produce(Some(KafkaCode::INVALID_TXN_STATE)), Fatal);
        assert_eq!(
            classify_produce(Some(KafkaCode::MESSAGE_TOO_LARGE)),
            Abortable
        );
        assert_eq!(
            classify_produce(Some(KafkaCode::TOPIC_AUTHORIZATION_FAILED)),
            Abortable
        );
        assert_eq!(classify_produce(None), Abortable);
    }
}
