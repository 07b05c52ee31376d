//! A run's link closers: what closes every channel of the run at once
//! when its signal closes.
//!
//! Each link registers a closer (see [`channel`](crate::link::channel));
//! the run's [`Stop`](crate::stop::Stop), which holds the registry and
//! listens to the run's [`Cancel`](crate::Cancel), runs them all when the
//! signal closes, synchronously, on the thread that closes it, so that a
//! blocked send or receive wakes at once.

use crate::sync::{Mutex, MutexGuard};

/// Run once when the run's signal closes: how a link closes its channel.
pub(crate) type Closer = Box<dyn FnOnce() + Send>;

/// The closers of a run's links, run when its signal closes.
pub(crate) struct Closers(Mutex<State>);

struct State {
    /// Whether the signal has closed (the closers have run).
    closed: bool,
    closers: Vec<Closer>,
}

impl Closers {
    /// An empty registry, its signal open.
    pub(crate) fn new() -> Self {
        Closers(Mutex::new(State {
            closed: false,
            closers: Vec::new(),
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `closer` when the signal closes ([`close`](Self::close)), or
    /// at once if it has. Kept until then, or until
    /// [`forget`](Self::forget).
    pub(crate) fn add(&self, closer: Closer) {
        {
            let mut state = self.state();
            if !state.closed {
                state.closers.push(closer);
                return;
            }
        }
        closer();
    }

    /// The signal has closed: runs every closer registered, and from now
    /// on each one added at once.
    pub(crate) fn close(&self) {
        let closers = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.closers)
        };
        for closer in closers {
            closer();
        }
    }

    /// Drops the closers not run yet, once every task of the run has
    /// ended: they hold weak handles to the run's channels, which would
    /// otherwise keep the channels' memory (and any item left in them)
    /// allocated as long as the registry lives. An early stop closes the
    /// signal, which runs and drops them, so no leftover item is kept
    /// either way.
    pub(crate) fn forget(&self) {
        let forgotten = std::mem::take(&mut self.state().closers);
        drop(forgotten);
    }

    /// How many closers wait for the signal.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.state().closers.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn counter(ran: &Arc<AtomicUsize>) -> Closer {
        let ran = ran.clone();
        Box::new(move || {
            ran.fetch_add(1, Ordering::Relaxed);
        })
    }

    #[test]
    fn closers_run_once_at_the_close_and_at_once_after() {
        let closers = Closers::new();
        let ran = Arc::new(AtomicUsize::new(0));
        closers.add(counter(&ran));
        closers.add(counter(&ran));
        assert_eq!((ran.load(Ordering::Relaxed), closers.waiting()), (0, 2));
        closers.close();
        assert_eq!(ran.load(Ordering::Relaxed), 2);
        closers.close();
        assert_eq!(ran.load(Ordering::Relaxed), 2, "run once");
        closers.add(counter(&ran));
        assert_eq!(ran.load(Ordering::Relaxed), 3, "a late closer runs at once");
        assert_eq!(closers.waiting(), 0);
    }

    #[test]
    fn forgotten_closers_are_dropped_and_never_run() {
        let closers = Closers::new();
        let ran = Arc::new(AtomicUsize::new(0));
        closers.add(counter(&ran));
        assert_eq!(Arc::strong_count(&ran), 2);
        closers.forget();
        assert_eq!(Arc::strong_count(&ran), 1, "the closer is dropped");
        closers.close();
        assert_eq!(ran.load(Ordering::Relaxed), 0);
    }
}
