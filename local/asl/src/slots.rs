//! Task slots: how many Task states may run at once across all executions, with a queue behind
//! them, and a drain that lets running tasks finish while no new one starts.
//!
//! A task waits for its slot between `TaskScheduled` and `TaskStarted` (so the history shows the
//! time it queued, as a throttled Lambda's would), and its `TimeoutSeconds` counts from the start.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// The engine's task slots.
#[derive(Debug)]
pub(crate) struct TaskSlots {
    /// `None`: unbounded.
    limit: Option<Semaphore>,
    draining: AtomicBool,
    running: AtomicUsize,
    /// Woken whenever a task ends or the drain starts.
    changed: Notify,
}

/// A running task's slot; the task holds it until it ends.
pub(crate) struct Slot<'a> {
    slots: &'a TaskSlots,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.running.fetch_sub(1, Ordering::SeqCst);
        self.slots.changed.notify_waiters();
    }
}

/// What a drain left: tasks still running when its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub still_running: usize,
}

impl TaskSlots {
    /// At most `limit` tasks at once (`None` or 0: no limit).
    pub(crate) fn new(limit: Option<usize>) -> TaskSlots {
        TaskSlots {
            limit: limit.filter(|n| *n > 0).map(Semaphore::new),
            draining: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    /// Waits for a slot. While draining, it never returns: the task stays queued and its
    /// execution resumes from its checkpoint at the next start.
    pub(crate) async fn acquire(&self) -> Slot<'_> {
        if self.draining.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let permit = match &self.limit {
            Some(limit) => match limit.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => std::future::pending().await,
            },
            None => None,
        };
        if self.draining.load(Ordering::SeqCst) {
            drop(permit);
            return std::future::pending().await;
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        Slot { slots: self, _permit: permit }
    }

    /// Tasks running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Starts no new task from now on, and waits up to `timeout` for the running ones to end.
    pub(crate) async fn drain(&self, timeout: Duration) -> DrainReport {
        self.draining.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
        let idle = async {
            loop {
                let changed = self.changed.notified();
                if self.running() == 0 {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(timeout, idle).await;
        DrainReport { still_running: self.running() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn at_most_limit_tasks_run_and_the_rest_queue() {
        let slots = Arc::new(TaskSlots::new(Some(2)));
        let a = slots.acquire().await;
        let _b = slots.acquire().await;
        assert_eq!(slots.running(), 2);
        let waiting = {
            let slots = slots.clone();
            tokio::spawn(async move {
                let _c = slots.acquire().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a third task ran beside two");
        drop(a);
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("the queued task starts").unwrap();
    }

    #[tokio::test]
    async fn a_drain_waits_for_running_tasks_and_starts_no_new_one() {
        let slots = Arc::new(TaskSlots::new(None));
        let running = slots.acquire().await;
        let drain = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.drain(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!drain.is_finished(), "the drain ended while a task ran");
        drop(running);
        let report = tokio::time::timeout(Duration::from_secs(1), drain).await.unwrap().unwrap();
        assert_eq!(report, DrainReport { still_running: 0 });
        let blocked = slots.acquire();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), blocked).await.is_err(),
            "a task started while draining"
        );
    }

    #[tokio::test]
    async fn a_drain_gives_up_after_its_timeout() {
        let slots = TaskSlots::new(Some(1));
        let _stuck = slots.acquire().await;
        let report = slots.drain(Duration::from_millis(30)).await;
        assert_eq!(report.still_running, 1);
    }
}
