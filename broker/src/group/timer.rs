//! A group's slot in the coordinator and the task that fires its timeouts.
//!
//! Every group that ever had a member owns one timer task. It sleeps until the group's
//! earliest deadline (a session expiring, the join phase or the sync phase running out) or
//! until a request changed the group and rang `wake`, whichever comes first, then applies
//! what has expired. The task ends when the group is dead or the coordinator is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, Notify};
use tokio::time::{sleep_until, Instant};

use super::state::{Group, GroupState};

/// A group behind its lock, with the bell that tells its timer to recompute deadlines.
pub(crate) struct GroupSlot {
    pub group: Mutex<Group>,
    /// Rung after every change to the group; a ring while the timer is busy is remembered.
    pub wake: Notify,
    timer_started: AtomicBool,
    /// Set when the coordinator is dropped: the timer task ends at its next wake-up.
    retired: AtomicBool,
}

impl GroupSlot {
    pub fn new(group: Group) -> Arc<GroupSlot> {
        Arc::new(GroupSlot {
            group: Mutex::new(group),
            wake: Notify::new(),
            timer_started: AtomicBool::new(false),
            retired: AtomicBool::new(false),
        })
    }

    /// Ends the timer task without touching the group (which may be locked right now).
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Starts the group's timer task unless it runs already. Must be called from within a
    /// tokio runtime (every coordinator request is).
    pub fn ensure_timer(self: &Arc<Self>) {
        if !self.timer_started.swap(true, Ordering::AcqRel) {
            tokio::spawn(run_timer(Arc::clone(self)));
        }
    }
}

async fn run_timer(slot: Arc<GroupSlot>) {
    loop {
        if slot.retired.load(Ordering::Acquire) {
            return;
        }
        let deadline = {
            let group = slot.group.lock().await;
            if group.state == GroupState::Dead {
                return;
            }
            group.next_deadline()
        };
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = sleep_until(deadline) => {}
                    () = slot.wake.notified() => continue,
                }
            }
            None => {
                slot.wake.notified().await;
                continue;
            }
        }
        let mut group = slot.group.lock().await;
        group.on_timer(Instant::now());
    }
}
