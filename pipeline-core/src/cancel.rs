//! The close-to-cancel signal: the article's `done` channel.
//!
//! A [`Cancel`] is shared by every stage of one run. Cancelling it *closes* an
//! internal channel on which nothing is ever sent, so every task awaiting
//! [`Cancel::cancelled`] wakes at once — one call wakes every blocked send and
//! receive in every stage, however many there are, and nobody counts senders.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Error;

/// Why a run stopped early; the first reason recorded wins.
#[derive(Debug, Clone)]
pub(crate) enum Reason {
    /// The sink had all it wanted (`first`, `take`, a dropped stream).
    Finished,
    /// [`Cancel::cancel`] was called from outside.
    Cancelled,
    /// A stage failed or panicked: the run's first error.
    Failed(Error),
}

enum Never {}

struct Inner {
    flag: AtomicBool,
    tx: async_channel::Sender<Never>,
    rx: async_channel::Receiver<Never>,
    reason: Mutex<Option<Reason>>,
}

/// The close-to-cancel signal of a run (the article's `done` channel).
///
/// Cloning is cheap and every clone refers to the same signal. Cancelling is
/// idempotent and wakes every task waiting in [`cancelled`](Self::cancelled)
/// or [`wait_blocking`](Self::wait_blocking).
///
/// ```
/// use pipeline_core::Cancel;
///
/// let done = Cancel::new();
/// let waiter = done.clone();
/// let t = std::thread::spawn(move || waiter.wait_blocking());
/// assert!(!done.is_cancelled());
/// done.cancel();
/// t.join().unwrap();
/// assert!(done.is_cancelled());
/// ```
#[derive(Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

impl Cancel {
    /// A new signal, not yet cancelled.
    pub fn new() -> Self {
        let (tx, rx) = async_channel::bounded(1);
        Cancel {
            inner: Arc::new(Inner {
                flag: AtomicBool::new(false),
                tx,
                rx,
                reason: Mutex::new(None),
            }),
        }
    }

    /// Cancels the run from outside: every stage stops at its next send,
    /// receive or chunk boundary, and the run returns
    /// [`Error::Cancelled`] unless it had already failed or finished.
    pub fn cancel(&self) {
        self.close_with(Reason::Cancelled);
    }

    /// Whether the signal has been closed. One atomic load.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::Acquire)
    }

    /// Resolves once the signal is closed (immediately if it already is).
    pub async fn cancelled(&self) {
        if self.is_cancelled() {
            return;
        }
        // Nothing is ever sent: `recv` only returns when the channel closes.
        let _ = self.inner.rx.recv().await;
    }

    /// Blocks the current thread until the signal is closed; for blocking
    /// producers and stage functions that run off the executor.
    pub fn wait_blocking(&self) {
        if self.is_cancelled() {
            return;
        }
        let _ = self.inner.rx.recv_blocking();
    }

    /// Records `err` as the run's error if no other reason was recorded first,
    /// then closes the signal. Returns whether `err` won.
    pub(crate) fn fail(&self, err: Error) -> bool {
        self.close_with(Reason::Failed(err))
    }

    /// Closes the signal because the run has what it needs; not an error.
    pub(crate) fn finish(&self) {
        self.close_with(Reason::Finished);
    }

    fn close_with(&self, reason: Reason) -> bool {
        let won = {
            let mut slot = self.inner.reason.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(reason);
                true
            } else {
                false
            }
        };
        self.inner.flag.store(true, Ordering::Release);
        self.inner.tx.close();
        won
    }

    pub(crate) fn reason(&self) -> Option<Reason> {
        self.inner
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The signal of the run whose stage function is executing on this
    /// thread, if any.
    ///
    /// Stage functions use it to stop long work early: check
    /// [`is_cancelled`](Self::is_cancelled) between chunks. It is set for
    /// plain, async and blocking stage functions and for blocking sources.
    ///
    /// ```
    /// use pipeline_core::{Cancel, Pipeline};
    ///
    /// let seen = Pipeline::new()
    ///     .from_iter("gen", 0..3u32)
    ///     .map("check", |n| (n, Cancel::current().is_some()))
    ///     .collect::<Vec<_>>()
    ///     .run()
    ///     .unwrap();
    /// assert!(seen.iter().all(|(_, has)| *has));
    /// assert!(Cancel::current().is_none());
    /// ```
    pub fn current() -> Option<Cancel> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Runs `f` with `self` as [`Cancel::current`] on this thread.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let prev = CURRENT.with(|c| c.replace(Some(self.clone())));
        struct Restore(Option<Cancel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = prev);
            }
        }
        let _restore = Restore(prev);
        f()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

/// A future that makes `cancel` the [`Cancel::current`] signal while it is polled.
pub(crate) struct WithCancel<F> {
    pub(crate) cancel: Cancel,
    pub(crate) fut: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for WithCancel<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.get_mut();
        let fut = this.fut.as_mut();
        this.cancel.enter(|| fut.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_wakes_every_waiter() {
        let done = Cancel::new();
        let waiters: Vec<_> = (0..64)
            .map(|_| {
                let d = done.clone();
                std::thread::spawn(move || d.wait_blocking())
            })
            .collect();
        done.cancel();
        for w in waiters {
            w.join().unwrap();
        }
        smol::block_on(done.cancelled());
    }

    #[test]
    fn first_reason_wins() {
        let done = Cancel::new();
        assert!(done.fail(Error::Cancelled));
        assert!(!done.fail(Error::Config {
            stage: "x".into(),
            message: "later".into()
        }));
        done.finish();
        assert!(matches!(
            done.reason(),
            Some(Reason::Failed(Error::Cancelled))
        ));
    }
}
