//! The transactional producer's states and the transitions allowed
//! between them, as the Java client's `TransactionManager` has them.
//!
//! ```text
//!  Uninitialized ─init─▶ Initializing ─▶ Ready ─begin─▶ InTransaction ─commit─▶ CommittingTransaction ─▶ Ready
//!                            │             ▲                │  │                       │
//!                            │             │                │  └─abort─▶ AbortingTransaction ─▶ Ready
//!                            │             │                ▼                ▲
//!                            │             └──────────── AbortableError ─abort┘
//!                            └──────────────── any state ─▶ FatalError (final)
//! ```

/// Where a transactional producer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionState {
    /// `init_transactions` has not run yet.
    Uninitialized,
    /// `init_transactions` is running (InitProducerId).
    Initializing,
    /// Initialized, no transaction open.
    Ready,
    /// Between `begin_transaction` and its commit or abort.
    InTransaction,
    /// `commit_transaction` is flushing and ending the transaction.
    CommittingTransaction,
    /// `abort_transaction` is ending the transaction.
    AbortingTransaction,
    /// The transaction cannot commit; only `abort_transaction` helps.
    AbortableError,
    /// The producer cannot go on (fenced, unauthorized, protocol error).
    FatalError,
}

impl TransactionState {
    /// Whether the producer may move from `self` to `to`.
    pub fn can_move_to(self, to: TransactionState) -> bool {
        use TransactionState::*;
        match to {
            Uninitialized => self == Initializing,
            Initializing => self == Uninitialized,
            Ready => matches!(
                self,
                Initializing | CommittingTransaction | AbortingTransaction
            ),
            InTransaction => self == Ready,
            CommittingTransaction => self == InTransaction,
            AbortingTransaction => matches!(self, InTransaction | AbortableError),
            AbortableError => {
                matches!(self, InTransaction | CommittingTransaction | AbortableError)
            }
            FatalError => true,
        }
    }
}

impl std::fmt::Display for TransactionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            TransactionState::Uninitialized => "Uninitialized",
            TransactionState::Initializing => "Initializing",
            TransactionState::Ready => "Ready",
            TransactionState::InTransaction => "InTransaction",
            TransactionState::CommittingTransaction => "CommittingTransaction",
            TransactionState::AbortingTransaction => "AbortingTransaction",
            TransactionState::AbortableError => "AbortableError",
            TransactionState::FatalError => "FatalError",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionState::*;

    #[test]
    fn the_happy_paths_are_allowed() {
        for path in [
            &[
                Uninitialized,
                Initializing,
                Ready,
                InTransaction,
                CommittingTransaction,
                Ready,
            ][..],
            &[Ready, InTransaction, AbortingTransaction, Ready],
            &[InTransaction, AbortableError, AbortingTransaction, Ready],
            &[InTransaction, CommittingTransaction, AbortableError],
            &[Initializing, Uninitialized],
        ] {
            for pair in path.windows(2) {
                assert!(pair[0].can_move_to(pair[1]), "{} -> {}", pair[0], pair[1]);
            }
        }
    }

    #[test]
    fn misuse_is_refused() {
        for (from, to) in [
            (Uninitialized, InTransaction),
            (Ready, CommittingTransaction),
            (Ready, AbortingTransaction),
            (InTransaction, InTransaction),
            (AbortableError, CommittingTransaction),
            (FatalError, Ready),
            (FatalError, AbortingTransaction),
            (Ready, Initializing),
        ] {
            assert!(!from.can_move_to(to), "{from} -> {to}");
        }
        assert!(Ready.can_move_to(FatalError));
    }
}
