//! The blocking thread pool's size: `workers = n` on a blocking stage means
//! n calls at once, so the pool grows by n while the stage runs.
//!
//! Blocking stage functions and blocking sources run on the runtime's own
//! pool of threads ([`blocking_pool`](crate::run::blocking_pool)), which has one limit for the
//! process: 500 threads, or `BLOCKING_MAX_THREADS` (the variable smol's
//! pool reads, kept so that one setting serves both). Left alone, a stage
//! of 600 workers
//! would run 500 calls at once, and two stages of 300 would share 500
//! threads. Instead each blocking stage, and each blocking source, takes a
//! [`Share`] of the pool for as long as it runs, and the limit is the
//! base limit plus every share taken: the pool's own threads stay for
//! everyone else, and a stage of n workers always finds n threads. Threads
//! are started only when work waits for one, so a share costs nothing
//! until it is used.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The most workers a blocking stage can have: each is a thread. The
/// same ceiling as the one `BLOCKING_MAX_THREADS` can set the pool to.
pub const MAX_BLOCKING_WORKERS: usize = 10_000;

/// Threads taken by the shares alive now.
static TAKEN: Mutex<usize> = Mutex::new(0);

/// The pool's limit before any share: `BLOCKING_MAX_THREADS` (1 to
/// 10000), 500 if unset or invalid.
fn base() -> usize {
    static BASE: OnceLock<usize> = OnceLock::new();
    *BASE.get_or_init(|| {
        std::env::var("BLOCKING_MAX_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map(|v| v.clamp(1, MAX_BLOCKING_WORKERS))
            .unwrap_or(500)
    })
}

/// Counts `add` more threads taken and `sub` given back, and sets the
/// pool's limit to the base plus what is taken.
fn adjust(add: usize, sub: usize) {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    *taken = (*taken + add).saturating_sub(sub);
    LIMIT.store(base().saturating_add(*taken), Ordering::Relaxed);
}

/// The pool's size limit now: the base plus every share taken.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// How many threads the pool may have now (the base until a share is
/// taken).
pub(crate) fn limit() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        0 => base(),
        n => n,
    }
}

/// A blocking node's share of the pool: `n` threads, taken at its first
/// call ([`take`](Self::take)) and given back when the share is dropped
/// (when the node's last worker ends, before the run returns).
pub(crate) struct Share {
    n: usize,
    taken: AtomicBool,
}

impl Share {
    /// A share of `n` threads, not taken yet.
    pub(crate) fn new(n: usize) -> Self {
        Share {
            n,
            taken: AtomicBool::new(false),
        }
    }

    /// Takes the share, once: call before each piece of work is handed to
    /// the pool. One atomic load once taken.
    #[inline]
    pub(crate) fn take(&self) {
        if !self.taken.load(Ordering::Acquire) && !self.taken.swap(true, Ordering::AcqRel) {
            adjust(self.n, 0);
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if *self.taken.get_mut() {
            adjust(0, self.n);
        }
    }
}
