//! The one checker every scenario ends with.
//!
//! ```text
//! SendLedger (send order, outcomes) ──┐
//!                                     ├─▶ check() ─▶ Report { sent, acked, failed, read, lost, duplicated, reordered, ... }
//! records read back (partition, offset, value) ──┘
//! ```
//!
//! Verified: every acknowledged record is read, at the partition and offset
//! it was acknowledged with; no record is read twice (when the producer was
//! idempotent); within a partition, records come back in send order; no
//! record whose send failed is ever read; every value's checksum is valid
//! and belongs to this run.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;

use crate::ledger::{Outcome, SendLedger};
use crate::record::decode;

/// How many example problems a report keeps for its message.
const MAX_EXAMPLES: usize = 20;

/// One record as a consumer read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms).
    pub timestamp: i64,
    /// Its value (null values are read as empty and count as corrupt).
    pub value: Bytes,
}

/// What the run promised, so the checker knows what counts as a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expectations {
    /// With the idempotent producer a record is never written twice, so
    /// any duplicate is a violation; without it duplicates are counted only.
    pub idempotent: bool,
}

/// The verdict of one run; the scenarios assert on these counts and
/// docs/RELIABILITY.md quotes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Sends made.
    pub sent: usize,
    /// Sends acknowledged.
    pub acked: usize,
    /// Sends that definitely failed.
    pub failed: usize,
    /// Sends with an unknown outcome (may or may not be written).
    pub unknown: usize,
    /// Records read back (all copies).
    pub read: usize,
    /// Acknowledged records never read.
    pub lost: usize,
    /// Extra copies of records read more than once.
    pub duplicated: usize,
    /// Records read after a record of the same partition sent later.
    pub reordered: usize,
    /// Records of failed sends that were read anyway.
    pub failed_but_read: usize,
    /// Records of unknown outcome that were read (allowed once).
    pub unknown_read: usize,
    /// Values that are not valid test records (damaged or foreign bytes).
    pub corrupt: usize,
    /// Valid records of another run, or with a send index never sent.
    pub foreign: usize,
    /// Acknowledged records read at another partition or offset than acked.
    pub misplaced: usize,
    /// Whether duplicates count as violations.
    pub idempotent: bool,
    /// The first problems found, in words.
    pub examples: Vec<String>,
}

impl Report {
    /// Whether the run kept every promise it was held to.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.reordered == 0
            && self.failed_but_read == 0
            && self.corrupt == 0
            && self.foreign == 0
            && self.misplaced == 0
            && (!self.idempotent || self.duplicated == 0)
    }

    fn note(&mut self, problem: impl FnOnce() -> String) {
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(problem());
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} acked {} failed {} unknown {} read {} | lost {} duplicated {} reordered {} \
             failed-but-read {} unknown-read {} corrupt {} foreign {} misplaced {}",
            self.sent,
            self.acked,
            self.failed,
            self.unknown,
            self.read,
            self.lost,
            self.duplicated,
            self.reordered,
            self.failed_but_read,
            self.unknown_read,
            self.corrupt,
            self.foreign,
            self.misplaced
        )?;
        for example in &self.examples {
            write!(f, "\n  - {example}")?;
        }
        Ok(())
    }
}

/// Compares what was sent in run `run_id` with what was read back.
///
/// `read` may come in any order; it is sorted by partition and offset here,
/// which is the order a consumer of each partition sees.
pub fn check(
    run_id: u64,
    ledger: &SendLedger,
    read: &[ReadRecord],
    expectations: Expectations,
) -> Report {
    let mut report = Report {
        sent: ledger.len(),
        acked: ledger.count(|o| matches!(o, Outcome::Acked { .. })),
        failed: ledger.count(|o| matches!(o, Outcome::Failed { .. })),
        unknown: ledger.count(|o| matches!(o, Outcome::Unknown { .. } | Outcome::Pending)),
        read: read.len(),
        idempotent: expectations.idempotent,
        ..Report::default()
    };
    let mut in_order: Vec<&ReadRecord> = read.iter().collect();
    in_order.sort_by_key(|r| (r.partition, r.offset));

    let mut copies = vec![0u32; ledger.len()];
    let mut last_index_of_partition: HashMap<i32, u64> = HashMap::new();
    for record in in_order {
        let id = match decode(&record.value) {
            Ok(id) => id,
            Err(error) => {
                report.corrupt += 1;
                report.note(|| format!("{}@{}: {error}", record.partition, record.offset));
                continue;
            }
        };
        let sent = ledger.get(id.send_index).filter(|s| s.id == id);
        let (Some(sent), true) = (sent, id.run_id == run_id) else {
            report.foreign += 1;
            report.note(|| {
                format!(
                    "{}@{}: {id:?} was not sent in this run",
                    record.partition, record.offset
                )
            });
            continue;
        };
        let slot = &mut copies[id.send_index as usize];
        *slot += 1;
        if *slot > 1 {
            report.duplicated += 1;
            report.note(|| {
                format!(
                    "{}@{}: send #{} read again",
                    record.partition, record.offset, id.send_index
                )
            });
            continue;
        }
        match &sent.outcome {
            Outcome::Acked { partition, offset } => {
                if *partition != record.partition || (*offset >= 0 && *offset != record.offset) {
                    report.misplaced += 1;
                    report.note(|| {
                        format!(
                            "send #{} acked at {partition}@{offset} but read at {}@{}",
                            id.send_index, record.partition, record.offset
                        )
                    });
                }
            }
            Outcome::Failed { reason } => {
                report.failed_but_read += 1;
                report.note(|| {
                    format!(
                        "send #{} failed ({reason}) but was read at {}@{}",
                        id.send_index, record.partition, record.offset
                    )
                });
            }
            Outcome::Unknown { .. } | Outcome::Pending => report.unknown_read += 1,
        }
        let last = last_index_of_partition
            .entry(record.partition)
            .or_insert(id.send_index);
        if id.send_index < *last {
            report.reordered += 1;
            report.note(|| {
                format!(
                    "{}@{}: send #{} after send #{}",
                    record.partition, record.offset, id.send_index, last
                )
            });
        } else {
            *last = id.send_index;
        }
    }
    for (sent, copies) in ledger.records().iter().zip(&copies) {
        if *copies == 0 && matches!(sent.outcome, Outcome::Acked { .. }) {
            report.lost += 1;
            report.note(|| {
                format!(
                    "send #{} ({:?}) acknowledged but never read",
                    sent.id.send_index, sent.outcome
                )
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SentRecord;
    use crate::record::RecordId;

    const RUN: u64 = 99;

    fn id(send_index: u64) -> RecordId {
        RecordId {
            run_id: RUN,
            key: (send_index % 3) as u32,
            sequence: send_index / 3,
            send_index,
        }
    }

    /// Six sends to partition 0, all acked at offsets 0..6.
    fn acked_ledger() -> SendLedger {
        let mut ledger = SendLedger::new();
        for n in 0..6 {
            assert!(ledger.push(SentRecord {
                id: id(n),
                partition: 0,
                outcome: Outcome::Acked {
                    partition: 0,
                    offset: n as i64
                },
            }));
        }
        ledger
    }

    fn read(partition: i32, offset: i64, send_index: u64) -> ReadRecord {
        ReadRecord {
            partition,
            offset,
            timestamp: 0,
            value: id(send_index).encode(8),
        }
    }

    fn faithful() -> Vec<ReadRecord> {
        (0..6).map(|n| read(0, n as i64, n)).collect()
    }

    const IDEMPOTENT: Expectations = Expectations { idempotent: true };

    #[test]
    fn a_faithful_read_is_clean() {
        let report = check(RUN, &acked_ledger(), &faithful(), IDEMPOTENT);
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            (report.sent, report.acked, report.read, report.lost),
            (6, 6, 6, 0)
        );
    }

    #[test]
    fn a_missing_record_is_lost() {
        let mut records = faithful();
        records.remove(3);
        let report = check(RUN, &acked_ledger(), &records, IDEMPOTENT);
        assert_eq!(report.lost, 1);
        assert!(!report.is_clean());
    }

    #[test]
    fn a_second_copy_is_a_duplicate_only_under_idempotence() {
        let mut records = faithful();
        records.push(read(0, 6, 2));
        let report = check(RUN, &acked_ledger(), &records, IDEMPOTENT);
        assert_eq!(report.duplicated, 1);
        assert!(!report.is_clean());
        let lenient = check(
            RUN,
            &acked_ledger(),
            &records,
            Expectations { idempotent: false },
        );
        assert_eq!(lenient.duplicated, 1);
        assert!(lenient.is_clean(), "{lenient}");
    }

    #[test]
    fn swapped_records_are_reordered_and_misplaced() {
        let mut records = faithful();
        records[1] = read(0, 1, 2);
        records[2] = read(0, 2, 1);
        let report = check(RUN, &acked_ledger(), &records, IDEMPOTENT);
        assert_eq!(report.reordered, 1);
        assert_eq!(report.misplaced, 2);
    }

    #[test]
    fn a_failed_send_must_not_be_read_and_an_unknown_one_may() {
        let mut ledger = acked_ledger();
        assert!(ledger.resolve(
            4,
            Outcome::Failed {
                reason: "rejected".into()
            }
        ));
        assert!(ledger.resolve(
            5,
            Outcome::Unknown {
                reason: "expired".into()
            }
        ));
        let report = check(RUN, &ledger, &faithful(), IDEMPOTENT);
        assert_eq!((report.failed, report.unknown), (1, 1));
        assert_eq!((report.failed_but_read, report.unknown_read), (1, 1));
        assert!(!report.is_clean());
        let without_failed: Vec<_> = faithful().into_iter().filter(|r| r.offset != 4).collect();
        let report = check(RUN, &ledger, &without_failed, IDEMPOTENT);
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn damaged_and_foreign_values_are_counted() {
        let mut records = faithful();
        let mut damaged = records[0].value.to_vec();
        damaged[10] ^= 0xFF;
        records[0].value = Bytes::from(damaged);
        records.push(ReadRecord {
            partition: 0,
            offset: 6,
            timestamp: 0,
            value: RecordId {
                run_id: RUN + 1,
                ..id(1)
            }
            .encode(8),
        });
        let report = check(RUN, &acked_ledger(), &records, IDEMPOTENT);
        assert_eq!((report.corrupt, report.foreign, report.lost), (1, 1, 1));
    }

    #[test]
    fn order_is_judged_per_partition() {
        let mut ledger = SendLedger::new();
        for n in 0..4u64 {
            let partition = (n % 2) as i32;
            ledger.push(SentRecord {
                id: id(n),
                partition,
                outcome: Outcome::Acked {
                    partition,
                    offset: (n / 2) as i64,
                },
            });
        }
        // Partition 1 is read before partition 0: fine, each is in order.
        let records = vec![read(1, 0, 1), read(1, 1, 3), read(0, 0, 0), read(0, 1, 2)];
        let report = check(RUN, &ledger, &records, IDEMPOTENT);
        assert!(report.is_clean(), "{report}");
    }
}
