//! A graceful stop: a [`Drain`] tells a run's sources to stop producing
//! while the items already in flight go on to the sink, and cancels the
//! run if they have not all arrived within the time it was given.
//!
//! The sources hear the drain through the run's *sources' signal*, a
//! [`Cancel`] that closes at the drain and with the run's own signal: a
//! source looks at it once a packet (an iterator's or a stream's source,
//! a producer's emitter), and one waiting for its input (a stream, an
//! async producer) races that wait against it. The time limit is kept by
//! the run's watch task (see [`crate::run::deadline`]), which cancels the
//! run through its [`Stop`](crate::stop::Stop) when the limit passes; the
//! run then ends with [`Error::DrainTimeout`](crate::Error::DrainTimeout),
//! which counts the items it let go of unfinished.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cancel::Cancel;

/// What a run's [`Drain`] handles and its sources share: the sources'
/// signal, the time the first drain gave the run, and the count of items
/// the run let go of unfinished.
pub(crate) struct DrainState {
    /// Closes at the drain, and with the run's signal (it follows it).
    sources: Cancel,
    /// The time limit of the first drain.
    within: Mutex<Option<Duration>>,
    /// Items dropped unfinished: see [`Error::DrainTimeout`](crate::Error::DrainTimeout).
    lost: AtomicU64,
}

impl DrainState {
    /// The drain state of a run whose signal is `cancel`.
    pub(crate) fn new(cancel: &Cancel) -> Self {
        let sources = Cancel::new();
        sources.follow(cancel);
        DrainState {
            sources,
            within: Mutex::new(None),
            lost: AtomicU64::new(0),
        }
    }

    /// The sources' signal: closed once the sources should stop producing
    /// (a drain, or the run's signal closed).
    #[inline(always)]
    pub(crate) fn sources(&self) -> &Cancel {
        &self.sources
    }

    /// The time limit of the drain, once there was one.
    pub(crate) fn within(&self) -> Option<Duration> {
        *self.within.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the drain with `within` (the first call only), then closes
    /// the sources' signal.
    fn start(&self, within: Duration) {
        self.within
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(within);
        self.sources.cancel();
    }

    /// Counts `n` items let go of unfinished.
    #[cold]
    pub(crate) fn lose(&self, n: usize) {
        if n > 0 {
            self.lost.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// How many items were let go of unfinished so far.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// A handle that drains a run: its sources stop producing, the items
/// already in flight go on through every stage to the sink, and the run
/// ends as it would have at the end of its input, with the sink's value.
/// If they have not all reached the sink within the time the drain gives
/// it, the run is cancelled and ends with
/// [`Error::DrainTimeout`](crate::Error::DrainTimeout), which says how
/// many items it dropped.
///
/// Get one before the run starts, from [`Run::drain_handle`](crate::Run::drain_handle)
/// or [`Pipeline::drain_handle`](crate::Pipeline::drain_handle) (for an
/// `iter()` or `stream()` sink); clones drain the same run.
///
/// Each kind of source stops at its next packet: an iterator's source
/// before it takes the next batch from the iterator (an iterator blocked
/// inside `next` is not interrupted: it runs on the executor and should
/// not block); a stream's source before its next packet, and at once if
/// it is waiting for the stream; an async producer's
/// [`send`](crate::AsyncEmitter::send) refuses the next item, and the
/// producer is dropped wherever it waits, except inside a `send` that
/// waits for room (that item was made: it is delivered first); a blocking
/// producer's [`emit`](crate::Emitter::emit) refuses the next item, and a
/// producer that waits on something else can wait on
/// [`Emitter::stop_signal`](crate::Emitter::stop_signal). A source
/// waiting for room downstream keeps its items: they are in flight.
///
/// A run started inside a stage of the drained run (a nested run) is
/// not drained: it is part of the work on an item in flight, so it runs
/// to its end. If the drain's time passes first, the outer run is
/// cancelled, and with it the nested run.
///
/// A drain after the run has ended, or after it was cancelled, does
/// nothing; a cancel after a drain cancels the run as usual
/// ([`Error::Cancelled`](crate::Error::Cancelled)). A run drained before
/// it starts starts drained: its sources make nothing, and it ends at
/// once with the sink's value for no items.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::{Pipeline, StageConfig};
///
/// let p = Pipeline::new();
/// let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
/// let seen = p
///     .from_iter("ticks", 0u64..) // never ends by itself
///     .map(StageConfig::new("double").workers(2), |n| n * 2)
///     .fold(0u64, move |seen, _| {
///         if seen == 1000 {
///             drain.drain(Duration::from_secs(60)); // e.g. at a SIGTERM
///         }
///         seen + 1
///     })
///     .run()?;
/// // The run ends with every item its source made: none was dropped.
/// let made = stats.stage("ticks").unwrap().items_out;
/// assert!(seen > 1000);
/// assert_eq!(seen, made);
/// assert_eq!(live.get(), 0);
/// # Ok::<(), pipeline_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Drain {
    pub(crate) state: Arc<DrainState>,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl Drain {
    /// Drains the run: its sources stop at their next packet, and the
    /// items in flight have `within` to reach the sink; after that the run
    /// is cancelled and ends with
    /// [`Error::DrainTimeout`](crate::Error::DrainTimeout). The first
    /// drain's `within` applies; later calls change nothing. Returns at
    /// once.
    pub fn drain(&self, within: Duration) {
        self.state.start(within);
    }

    /// Whether the run's sources were told to stop: by a drain, or
    /// because the run was cancelled or has ended early.
    pub fn is_draining(&self) -> bool {
        self.state.sources().is_cancelled()
    }
}
