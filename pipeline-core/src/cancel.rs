//! The close-to-cancel signal: the article's `done` channel.
//!
//! A [`Cancel`] is shared by every stage of one run. Cancelling it *closes* an
//! internal channel on which nothing is ever sent, so every task awaiting
//! [`Cancel::cancelled`] wakes at once — one call wakes every blocked send and
//! receive in every stage, however many there are, and nobody counts senders.
//!
//! The signal knows nothing of errors or channels. What else must happen
//! when it closes is a [`Listener`]'s business: a follower signal closes
//! in turn ([`Cancel::follow`]), a run's link closers close its channels
//! ([`link::closers`](crate::link::closers)). Why the run stopped is
//! recorded beside the signal, in the run's [`Stop`](crate::stop::Stop).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::future::{select, Either};

use crate::sync::{AtomicBool, Mutex, MutexGuard};

mod current;

pub(crate) use current::WithCancel;

enum Never {}

/// Told when a signal closes: once, on the thread that closes it, before
/// the [`Cancel::cancel`] that closed it returns (see [`Cancel::listen`]).
pub(crate) trait Listener: Send + Sync {
    /// The signal has closed.
    fn closed(&self);
}

struct Inner {
    flag: AtomicBool,
    tx: async_channel::Sender<Never>,
    rx: async_channel::Receiver<Never>,
    /// Told when the signal closes (see [`Cancel::listen`]), weakly: a
    /// follower's signal, or a run's link closers, are not kept alive by
    /// this one.
    listeners: Mutex<Vec<Weak<dyn Listener>>>,
}

impl Inner {
    /// Closes the signal: sets the flag, wakes every waiter, tells every
    /// listener. Closing again does nothing more.
    fn close(&self) {
        self.flag.store(true, Ordering::Release);
        crate::seen::mark();
        self.tx.close();
        let listeners = std::mem::take(&mut *self.listeners());
        for listener in listeners.iter().filter_map(Weak::upgrade) {
            listener.closed();
        }
    }

    fn listeners(&self) -> MutexGuard<'_, Vec<Weak<dyn Listener>>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A follower closes with the signal it follows.
impl Listener for Inner {
    fn closed(&self) {
        self.close();
    }
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
                listeners: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Cancels the run from outside: every stage stops at its next send,
    /// receive or chunk boundary, and the run returns
    /// [`Error::Cancelled`](crate::Error::Cancelled) unless it had already failed or finished.
    pub fn cancel(&self) {
        self.inner.close();
    }

    /// The flag alone, for a loop that looks at it after every call and
    /// asks [`is_cancelled`](Self::is_cancelled) once it is set.
    #[inline(always)]
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.inner.flag
    }

    /// Whether the signal has been closed. One atomic load.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        let closed = self.inner.flag.load(Ordering::Acquire);
        if closed {
            crate::seen::mark();
        }
        closed
    }

    /// Resolves once the signal is closed (immediately if it already is).
    pub async fn cancelled(&self) {
        if self.is_cancelled() {
            return;
        }
        // Nothing is ever sent: `recv` only returns when the channel closes.
        let _ = self.inner.rx.recv().await;
        crate::seen::mark();
    }

    /// Blocks the current thread until the signal is closed; for blocking
    /// producers and stage functions that run off the executor.
    pub fn wait_blocking(&self) {
        if self.is_cancelled() {
            return;
        }
        let _ = self.inner.rx.recv_blocking();
        crate::seen::mark();
    }

    /// Makes this signal close when `parent` closes (at once if it already
    /// has), as [`cancel`](Self::cancel) does: the run of this signal then
    /// returns [`Error::Cancelled`](crate::Error::Cancelled) unless it had already failed or
    /// finished. A run started inside a stage of another follows that
    /// run's signal ([`Cancel::current`]) by itself; this is for a run
    /// started elsewhere that belongs to another (see
    /// [`Run::within`](crate::Run::within)).
    ///
    /// The parent holds its followers weakly: following costs nothing once
    /// the follower is gone.
    ///
    /// ```
    /// use pipeline_core::Cancel;
    ///
    /// let outer = Cancel::new();
    /// let inner = Cancel::new();
    /// inner.follow(&outer);
    /// outer.cancel();
    /// assert!(inner.is_cancelled());
    /// ```
    pub fn follow(&self, parent: &Cancel) {
        if Arc::ptr_eq(&self.inner, &parent.inner) {
            return;
        }
        let follower: Weak<Inner> = Arc::downgrade(&self.inner);
        parent.listen(follower);
    }

    /// Tells `listener` when the signal closes, at once (on this thread)
    /// if it already has. The signal holds it weakly, until it closes:
    /// a listener gone by then is skipped, and the list is pruned of the
    /// gone ones as it grows.
    pub(crate) fn listen(&self, listener: Weak<dyn Listener>) {
        {
            let mut listeners = self.inner.listeners();
            // `close` sets the flag before it takes the listeners, so a
            // listener added under the lock with the flag clear is taken.
            if !self.is_cancelled() {
                if listeners.len() == listeners.capacity() {
                    // Amortized: the list holds at most twice the live ones.
                    listeners.retain(|l| l.strong_count() > 0);
                }
                listeners.push(listener);
                return;
            }
        }
        if let Some(listener) = listener.upgrade() {
            listener.closed();
        }
    }
}

/// Awaits `fut` unless the signal closes first (then `None`): runs a
/// future until cancelled.
pub(crate) async fn or_cancel<F: std::future::Future>(
    fut: F,
    cancel: &Cancel,
) -> Option<F::Output> {
    if cancel.is_cancelled() {
        return None;
    }
    let fut = std::pin::pin!(fut);
    let cancelled = std::pin::pin!(cancel.cancelled());
    match select(fut, cancelled).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

#[cfg(all(test, pipeline_loom))]
mod loom_tests;

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
    fn a_follower_closes_with_its_parent_and_only_then() {
        let parent = Cancel::new();
        let child = Cancel::new();
        let grandchild = Cancel::new();
        child.follow(&parent);
        grandchild.follow(&child);
        child.follow(&child); // no effect
        assert!(!child.is_cancelled());
        parent.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        // Following a closed signal closes at once.
        let late = Cancel::new();
        late.follow(&parent);
        assert!(late.is_cancelled());
        // A follower's cancel does not reach its parent.
        let parent = Cancel::new();
        let child = Cancel::new();
        child.follow(&parent);
        child.cancel();
        assert!(!parent.is_cancelled());
    }

    #[test]
    fn a_parent_does_not_keep_its_gone_followers() {
        let parent = Cancel::new();
        for _ in 0..1000 {
            Cancel::new().follow(&parent);
        }
        let kept = parent.inner.listeners().len();
        assert!(kept <= 64, "{kept}");
    }

    /// Counts how often it is told.
    struct Count(std::sync::atomic::AtomicUsize);

    impl Listener for Count {
        fn closed(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count() -> Arc<Count> {
        Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)))
    }

    fn told(c: &Count) -> usize {
        c.0.load(Ordering::Relaxed)
    }

    #[test]
    fn a_listener_is_told_once_at_the_close_and_at_once_after() {
        let done = Cancel::new();
        let (early, gone, late) = (count(), count(), count());
        let listener: Weak<Count> = Arc::downgrade(&early);
        done.listen(listener);
        let listener: Weak<Count> = Arc::downgrade(&gone);
        done.listen(listener);
        drop(gone);
        assert_eq!(told(&early), 0);
        done.cancel();
        assert_eq!(told(&early), 1, "told before cancel returns");
        done.cancel();
        assert_eq!(told(&early), 1, "told once");
        let listener: Weak<Count> = Arc::downgrade(&late);
        done.listen(listener);
        assert_eq!(told(&late), 1, "told at once when the signal is closed");
    }
}
