//! The journal of a group chaos run (reliability/tests/group_chaos.rs) and
//! its judge: what every member read and committed, in order, and the
//! replay that checks the commit and duplicate promises.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use durian_reliability::ReadRecord;

/// One entry of the journal; `member` is the incarnation number.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// `poll` handed the member this record.
    Read {
        member: u32,
        partition: i32,
        offset: i64,
    },
    /// The member is about to commit `offset` (the one after the last
    /// record it read there).
    CommitSent {
        member: u32,
        partition: i32,
        offset: i64,
    },
    /// That commit succeeded.
    Committed {
        member: u32,
        partition: i32,
        offset: i64,
    },
    /// That commit failed; `fenced` when the coordinator refused it
    /// because the group rebalanced (certainly not applied), else its
    /// outcome is unknown.
    CommitFailed {
        member: u32,
        partition: i32,
        offset: i64,
        fenced: bool,
    },
    /// The member was killed; nothing of it follows.
    Killed { member: u32 },
    /// The coordinator reported `offset` as the group's committed offset
    /// of `partition` (read during the drain, when the journal fell short
    /// of the end offset).
    Observed { partition: i32, offset: i64 },
}

/// Everything the members did, in the order they did it.
#[derive(Default)]
pub struct Journal {
    pub events: Vec<Event>,
    /// The first copy read of each record (the checker's input).
    pub first_copies: BTreeMap<(i32, i64), ReadRecord>,
    /// Copies that differ from the first one read.
    pub differing_copies: Vec<String>,
    /// Poll errors, per-partition errors, positions that disagree with
    /// the records handed out.
    pub problems: Vec<String>,
    /// The latest successful commit per partition (tells when the drain
    /// is done).
    pub committed: BTreeMap<i32, i64>,
    /// Times a member saw its assignment change after a poll.
    pub assignment_changes: u64,
    /// Each live member's assignment after its latest poll (partitions).
    pub assignments: BTreeMap<u32, BTreeSet<i32>>,
    /// Failed commits by error.
    pub commit_errors: BTreeMap<String, u64>,
}

impl Journal {
    pub fn read(&mut self, member: u32, partition: i32, offset: i64, timestamp: i64, value: Bytes) {
        self.events.push(Event::Read {
            member,
            partition,
            offset,
        });
        match self.first_copies.get(&(partition, offset)) {
            Some(first) if first.value != value => self.differing_copies.push(format!(
                "partition {partition} offset {offset}: member {member} read other bytes than the first copy"
            )),
            Some(_) => {}
            None => {
                self.first_copies.insert(
                    (partition, offset),
                    ReadRecord {
                        partition,
                        offset,
                        timestamp,
                        value,
                    },
                );
            }
        }
    }
}

pub type SharedJournal = Arc<Mutex<Journal>>;

pub fn journal(shared: &SharedJournal) -> std::sync::MutexGuard<'_, Journal> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the journal shows once every check on it passed.
#[derive(Debug, Default)]
pub struct Verdict {
    pub reads: usize,
    pub duplicates: usize,
    /// Re-reads whose earlier reader was killed before committing past them.
    pub after_kill: usize,
    /// Re-reads whose earlier reader had a commit covering them refused.
    pub after_failed_commit: usize,
    /// Times a member started (or restarted) reading a partition.
    pub starts: usize,
    /// Starts at a commit whose outcome the journal did not know yet.
    pub starts_at_commit_in_doubt: usize,
    /// Commits in doubt that the coordinator's committed offsets showed
    /// applied (nobody started after them: nothing was left to read).
    pub settled_by_coordinator: usize,
    pub commits: usize,
    pub failed_commits: usize,
}

/// A commit whose outcome the journal does not know (yet).
#[derive(Clone, Copy, Debug)]
struct InDoubt {
    member: u32,
    /// Sent and not answered yet (otherwise: its member was killed while
    /// it was in flight, or it failed with an error other than the fence).
    pending: bool,
}

/// The partition an event is about (`None` for a kill).
pub fn event_partition(event: &Event) -> Option<i32> {
    match *event {
        Event::Read { partition, .. }
        | Event::CommitSent { partition, .. }
        | Event::Committed { partition, .. }
        | Event::CommitFailed { partition, .. }
        | Event::Observed { partition, .. } => Some(partition),
        Event::Killed { .. } => None,
    }
}

/// What the replay knows applied.
#[derive(Default)]
struct Known {
    /// The group's last commit per partition as far as the journal knows
    /// (0: none yet, where auto.offset.reset=earliest starts too).
    group_commit: HashMap<i32, i64>,
    /// Commits proved applied (by a start or by the coordinator) before
    /// their answer reached the journal: (member, partition, offset).
    revealed: HashSet<(u32, i32, i64)>,
    /// Per (member, partition): the highest commit known applied.
    applied: HashMap<(u32, i32), i64>,
}

/// Raises `map[key]` to `offset`.
fn raise(map: &mut HashMap<(u32, i32), i64>, key: (u32, i32), offset: i64) {
    let best = map.entry(key).or_insert(offset);
    *best = (*best).max(offset);
}

/// `member`'s commit of `offset` on partition `p`, in doubt until now,
/// proved applied (a reader started there, or the coordinator reports it):
/// it becomes the group's commit, and of the commits in doubt only newer
/// ones still in flight stay.
fn reveal(
    member: u32,
    p: i32,
    offset: i64,
    doubts: &mut BTreeMap<i64, InDoubt>,
    known: &mut Known,
) {
    known.revealed.insert((member, p, offset));
    raise(&mut known.applied, (member, p), offset);
    known.group_commit.insert(p, offset);
    doubts.retain(|&o, d| o > offset && d.pending);
}

fn fail(seed: u64, why: String) -> ! {
    panic!("seed {seed}: {why}")
}

/// Replays the journal and checks the commit and duplicate promises (see
/// the file's doc comment); panics on the first violation.
pub fn judge(events: &[Event], end: &BTreeMap<i32, i64>, seed: u64) -> Verdict {
    let mut verdict = Verdict::default();
    let mut known = Known::default();
    // Newer commits per partition that may or may not be applied: offset → who.
    let mut in_doubt: HashMap<i32, BTreeMap<i64, InDoubt>> = HashMap::new();
    // Commits sent and not answered yet, per (member, partition).
    let mut sent: HashMap<(u32, i32), i64> = HashMap::new();
    // Per (member, partition): the highest commit that failed or was cut
    // off by the kill.
    let mut not_applied: HashMap<(u32, i32), i64> = HashMap::new();
    let mut last_read: HashMap<(u32, i32), i64> = HashMap::new();
    let mut last_reader: HashMap<i32, u32> = HashMap::new();
    let mut readers: BTreeMap<(i32, i64), Vec<u32>> = BTreeMap::new();
    // Re-reads: (partition, offset, earlier reader, reader).
    let mut repeats: Vec<(i32, i64, u32, u32)> = Vec::new();
    let mut killed: HashSet<u32> = HashSet::new();

    for event in events {
        match *event {
            Event::Read {
                member,
                partition: p,
                offset: o,
            } => {
                verdict.reads += 1;
                if killed.contains(&member) {
                    fail(
                        seed,
                        format!("member {member} read {p}@{o} after it was killed"),
                    );
                }
                // A member starts reading a partition when it was not the
                // partition's last reader or jumps: then its position came
                // from the group's committed offset.
                let continuing = last_reader.get(&p) == Some(&member)
                    && last_read.get(&(member, p)) == Some(&(o - 1));
                let commit = known.group_commit.get(&p).copied().unwrap_or(0);
                let doubts = in_doubt.entry(p).or_default();
                if !continuing {
                    verdict.starts += 1;
                    if o == commit {
                        // The commits in doubt that were settled were not
                        // applied; those still in flight stay in doubt.
                        doubts.retain(|_, d| d.pending);
                    } else if let (Some(d), true) = (doubts.get(&o).copied(), o > commit) {
                        // That commit was applied after all.
                        verdict.starts_at_commit_in_doubt += 1;
                        reveal(d.member, p, o, doubts, &mut known);
                    } else {
                        fail(
                            seed,
                            format!(
                                "member {member} started reading partition {p} at {o}, but the \
                                 group's last commit there was {commit} (commits in doubt: \
                                 {doubts:?})"
                            ),
                        );
                    }
                }
                let previous = readers.entry((p, o)).or_default();
                if let Some(&earlier) = previous.last() {
                    verdict.duplicates += 1;
                    let commit = known.group_commit.get(&p).copied().unwrap_or(0);
                    if o < commit {
                        fail(
                            seed,
                            format!(
                                "{p}@{o} read again by member {member} although the group had \
                                 committed {commit} there"
                            ),
                        );
                    }
                    let earlier_commit = known.applied.get(&(earlier, p)).copied().unwrap_or(0);
                    if earlier_commit > o {
                        fail(
                            seed,
                            format!(
                                "{p}@{o} read again by member {member} although its earlier \
                                 reader, member {earlier}, had committed {earlier_commit} there"
                            ),
                        );
                    }
                    repeats.push((p, o, earlier, member));
                }
                previous.push(member);
                last_reader.insert(p, member);
                last_read.insert((member, p), o);
            }
            Event::CommitSent {
                member,
                partition: p,
                offset,
            } => {
                sent.insert((member, p), offset);
                in_doubt.entry(p).or_default().insert(
                    offset,
                    InDoubt {
                        member,
                        pending: true,
                    },
                );
            }
            Event::Committed {
                member,
                partition: p,
                offset,
            } => {
                verdict.commits += 1;
                sent.remove(&(member, p));
                let commit = known.group_commit.get(&p).copied().unwrap_or(0);
                if offset < commit && !known.revealed.contains(&(member, p, offset)) {
                    fail(
                        seed,
                        format!(
                            "member {member} committed {offset} for partition {p}, behind the \
                             group's commit {commit}: committed offsets went backwards"
                        ),
                    );
                }
                let commit = commit.max(offset);
                known.group_commit.insert(p, commit);
                in_doubt
                    .entry(p)
                    .or_default()
                    .retain(|&offset, _| offset > commit);
                raise(&mut known.applied, (member, p), offset);
            }
            Event::CommitFailed {
                member,
                partition: p,
                offset,
                fenced,
            } => {
                verdict.failed_commits += 1;
                sent.remove(&(member, p));
                raise(&mut not_applied, (member, p), offset);
                let doubts = in_doubt.entry(p).or_default();
                if fenced {
                    if known.revealed.contains(&(member, p, offset)) {
                        fail(
                            seed,
                            format!(
                                "member {member}'s commit of {offset} for partition {p} was \
                                 refused, yet the next reader started there"
                            ),
                        );
                    }
                    doubts.remove(&offset);
                } else if let Some(d) = doubts.get_mut(&offset) {
                    d.pending = false;
                }
            }
            Event::Observed {
                partition: p,
                offset,
            } => {
                let commit = known.group_commit.get(&p).copied().unwrap_or(0);
                let doubts = in_doubt.entry(p).or_default();
                if offset == commit {
                    continue;
                }
                let Some(d) = doubts.get(&offset).copied().filter(|_| offset > commit) else {
                    fail(
                        seed,
                        format!(
                            "the coordinator's committed offset of partition {p} is {offset}, \
                             but the group's last commit there was {commit} (commits in doubt: \
                             {doubts:?})"
                        ),
                    );
                };
                // That commit was applied, though its member never heard.
                verdict.settled_by_coordinator += 1;
                reveal(d.member, p, offset, doubts, &mut known);
            }
            Event::Killed { member } => {
                killed.insert(member);
                let cut: Vec<(i32, i64)> = sent
                    .iter()
                    .filter(|((m, _), _)| *m == member)
                    .map(|((_, p), o)| (*p, *o))
                    .collect();
                for (p, offset) in cut {
                    sent.remove(&(member, p));
                    raise(&mut not_applied, (member, p), offset);
                    if let Some(d) = in_doubt.entry(p).or_default().get_mut(&offset) {
                        d.pending = false;
                    }
                }
            }
        }
    }

    // Why each repeat happened, knowing the whole run: a member evicted
    // while alive (starved of heartbeats) learns it only when its commit
    // is refused, which may come after the new owner's re-read.
    for (p, o, earlier, member) in repeats {
        if killed.contains(&earlier) {
            verdict.after_kill += 1;
        } else if not_applied.get(&(earlier, p)).is_some_and(|&c| c > o) {
            verdict.after_failed_commit += 1;
        } else {
            fail(
                seed,
                format!(
                    "{p}@{o} read again by member {member}: its earlier reader, member {earlier}, \
                     was never killed and no commit of it covering the record failed"
                ),
            );
        }
    }
    // Every record's processing was acknowledged by a member that read it:
    // some reader committed past it.
    for ((p, o), who) in &readers {
        if !who
            .iter()
            .any(|m| known.applied.get(&(*m, *p)).is_some_and(|c| c > o))
        {
            fail(
                seed,
                format!(
                    "{p}@{o} was read (by members {who:?}) but none of its readers committed \
                     past it"
                ),
            );
        }
    }
    for (&p, &end) in end {
        let commit = known.group_commit.get(&p).copied().unwrap_or(0);
        if commit != end {
            fail(
                seed,
                format!(
                    "partition {p}: the journal's last commit is {commit}, the end offset {end}"
                ),
            );
        }
    }
    verdict
}
