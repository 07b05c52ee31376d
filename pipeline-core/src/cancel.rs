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

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::future::{select, Either};

use crate::sync::{AtomicBool, Mutex, MutexGuard};

enum Never {}

/// Told when a signal closes, once, on the thread that closes it, before
/// [`Cancel::cancel`] returns (see [`Cancel::listen`]).
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
        let inner = CURRENT.with(Cell::get);
        if inner.is_null() {
            return None;
        }
        // SAFETY: a non-null `CURRENT` was set by `enter` to
        // `Arc::as_ptr(&self.inner)` of a `Cancel` that `enter` borrows for
        // as long as the pointer stays set: `enter` puts the previous value
        // back before it returns, also when `f` unwinds (the `Restore`
        // guard). So here the allocation is live with a strong count of at
        // least one, and adding one count for the `Arc` built from the same
        // pointer is sound.
        unsafe {
            Arc::increment_strong_count(inner);
            Some(Cancel {
                inner: Arc::from_raw(inner),
            })
        }
    }

    /// Runs `f` with `self` as [`Cancel::current`] on this thread.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        // A pointer, not a clone: this runs at every poll of every task,
        // and cloning would touch the reference count that every task of
        // the run shares (a contended atomic per poll, across threads).
        let prev = CURRENT.with(|c| c.replace(Arc::as_ptr(&self.inner)));
        struct Restore(*const Inner);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(prev);
        f()
    }
}

thread_local! {
    /// The signal of the run being polled or called on this thread, as a
    /// pointer borrowed from the `Cancel` that [`Cancel::enter`] holds.
    static CURRENT: Cell<*const Inner> = const { Cell::new(std::ptr::null()) };
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
    fn current_is_the_entered_signal_and_outlives_enter() {
        assert!(Cancel::current().is_none());
        let outer = Cancel::new();
        let inner = Cancel::new();
        let kept = outer.enter(|| {
            let seen = Cancel::current().expect("set inside enter");
            assert!(Arc::ptr_eq(&seen.inner, &outer.inner));
            inner.enter(|| {
                let nested = Cancel::current().expect("set inside nested enter");
                assert!(Arc::ptr_eq(&nested.inner, &inner.inner));
            });
            let back = Cancel::current().expect("restored after nested enter");
            assert!(Arc::ptr_eq(&back.inner, &outer.inner));
            seen
        });
        assert!(Cancel::current().is_none());
        // The clone handed out holds its own count: dropping every other
        // handle leaves it usable.
        drop(outer);
        assert!(!kept.is_cancelled());
        kept.cancel();
        assert!(kept.is_cancelled());
    }

    #[test]
    fn current_is_restored_when_the_entered_function_panics() {
        let outer = Cancel::new();
        outer.enter(|| {
            let inner = Cancel::new();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.enter(|| panic!("stage function panicked"))
            }));
            assert!(r.is_err());
            let back = Cancel::current().expect("restored after the panic");
            assert!(Arc::ptr_eq(&back.inner, &outer.inner));
        });
        assert!(Cancel::current().is_none());
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
}
