//! Per-stage counters, and the table that shows the bottleneck (`table`).
//!
//! Counting is cheap enough to be always on: each worker counts in plain
//! local variables and adds them to the stage's shared atomics every 256
//! packets and when it ends; clocks are read only when a worker is about
//! to block, never on the fast path. A wait reads the clock twice, and a
//! pipeline of batches waits a few times per packet, so the clock is the
//! CPU's time-stamp counter where quanta finds it reliable (about 10 ns a
//! read here, against 27 ns for `Instant::now`), else the OS's monotonic
//! clock; waits add up in its raw ticks, scaled to nanoseconds when
//! published.
//!
//! A measurement build with `RUSTFLAGS="--cfg pipeline_stats_off"` keeps
//! only the counts, published when a worker ends: it reads no clock when a
//! worker blocks and publishes nothing while it runs, so that
//! `benches/stats_cost.rs` can show what the always-on stats cost.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod table;

/// The clock that times waits, calibrated on first use (well under a
/// millisecond): [`executor`](crate::executor) starts it with its threads,
/// so no run pays for it mid-way.
pub(crate) fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Raw ticks of [`clock`] in nanoseconds.
fn nanos(ticks: u64) -> u64 {
    clock().delta_as_nanos(0, ticks)
}

/// What kind of node a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Items enter the pipeline here.
    Source,
    /// A transforming stage (map, filter, flat_map, ...).
    Stage,
    /// Fan-in of several streams.
    Merge,
    /// The end of the pipeline, run by the caller.
    Sink,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Source => "source",
            Kind::Stage => "stage",
            Kind::Merge => "merge",
            Kind::Sink => "sink",
        })
    }
}

/// The live counters of one stage, shared by its workers.
#[derive(Debug)]
pub struct StageStats {
    name: Arc<str>,
    kind: Kind,
    width: AtomicUsize,
    items_in: AtomicU64,
    items_out: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
    busy_ns: AtomicU64,
    wait_in_ns: AtomicU64,
    wait_out_ns: AtomicU64,
}

impl StageStats {
    pub(crate) fn new(name: Arc<str>, kind: Kind, width: usize) -> Arc<Self> {
        Arc::new(StageStats {
            name,
            kind,
            width: AtomicUsize::new(width),
            items_in: AtomicU64::new(0),
            items_out: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            wait_in_ns: AtomicU64::new(0),
            wait_out_ns: AtomicU64::new(0),
        })
    }

    /// Counts one more call of an item after a failed one. Straight to
    /// the shared counter: a retry follows a backoff pause, so it is rare
    /// next to the per-item counts kept in [`Local`].
    pub(crate) fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub fn snapshot(&self) -> StageSnapshot {
        let busy = self.busy_ns.load(Ordering::Relaxed);
        let wait_in = self.wait_in_ns.load(Ordering::Relaxed);
        let wait_out = self.wait_out_ns.load(Ordering::Relaxed);
        StageSnapshot {
            name: self.name.to_string(),
            kind: self.kind,
            width: self.width.load(Ordering::Relaxed),
            items_in: self.items_in.load(Ordering::Relaxed),
            items_out: self.items_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            busy: Duration::from_nanos(busy),
            wait_in: Duration::from_nanos(wait_in),
            wait_out: Duration::from_nanos(wait_out),
        }
    }
}

/// A worker's own counters, added to its stage's [`StageStats`] now and then
/// and when dropped.
pub(crate) struct Local {
    stats: Arc<StageStats>,
    /// `None` for helper tasks whose time is not the stage's work.
    started: Option<Instant>,
    pub(crate) items_in: u64,
    pub(crate) items_out: u64,
    pub(crate) errors: u64,
    /// Time waiting for input, in raw ticks of [`clock`].
    pub(crate) wait_in: u64,
    /// Time waiting to send, in raw ticks of [`clock`].
    pub(crate) wait_out: u64,
    unflushed: u32,
}

impl Local {
    pub(crate) fn new(stats: Arc<StageStats>) -> Self {
        Local {
            stats,
            started: Some(Instant::now()),
            items_in: 0,
            items_out: 0,
            errors: 0,
            wait_in: 0,
            wait_out: 0,
            unflushed: 0,
        }
    }

    /// Like [`Local::new`] for a helper task (an ordered stage's dispatcher
    /// or collector): its items and waits count, its lifetime is not busy time.
    pub(crate) fn new_uncounted(stats: Arc<StageStats>) -> Self {
        let mut l = Local::new(stats);
        l.started = None;
        l
    }

    /// Counts `n` items in, received as one packet (see [`tick`](Self::tick)).
    #[inline]
    pub(crate) fn item_in(&mut self, n: u64) {
        self.items_in += n;
        self.tick();
    }

    /// Notes one packet received or sent; publishes the counters every 256
    /// packets so a progress display sees them move. Counting items is a
    /// plain addition on a local field: sources add to `items_in` directly
    /// and `Writer` ticks once per packet it sends.
    #[inline]
    pub(crate) fn tick(&mut self) {
        #[cfg(not(pipeline_stats_off))]
        {
            self.unflushed += 1;
            if self.unflushed >= 256 {
                self.publish();
            }
        }
    }

    /// Adds the counters to the stage's shared ones now.
    pub(crate) fn publish(&mut self) {
        let s = &self.stats;
        s.items_in
            .fetch_add(std::mem::take(&mut self.items_in), Ordering::Relaxed);
        s.items_out
            .fetch_add(std::mem::take(&mut self.items_out), Ordering::Relaxed);
        s.errors
            .fetch_add(std::mem::take(&mut self.errors), Ordering::Relaxed);
        let wait_in = nanos(std::mem::take(&mut self.wait_in));
        let wait_out = nanos(std::mem::take(&mut self.wait_out));
        if let Some(started) = self.started {
            let now = Instant::now();
            let busy = ((now - started).as_nanos() as u64).saturating_sub(wait_in + wait_out);
            self.started = Some(now);
            s.busy_ns.fetch_add(busy, Ordering::Relaxed);
        }
        s.wait_in_ns.fetch_add(wait_in, Ordering::Relaxed);
        s.wait_out_ns.fetch_add(wait_out, Ordering::Relaxed);
        self.unflushed = 0;
    }
}

/// Times a wait for the stats: reads [`clock`] when a worker is about to
/// block and when it resumes. Reads nothing in a `pipeline_stats_off`
/// build (then every wait counts as zero).
#[derive(Clone, Copy)]
pub(crate) struct Stopwatch {
    #[cfg(not(pipeline_stats_off))]
    start: u64,
}

impl Stopwatch {
    #[inline]
    pub(crate) fn start() -> Self {
        Stopwatch {
            #[cfg(not(pipeline_stats_off))]
            start: clock().raw(),
        }
    }

    /// The ticks since [`start`](Self::start), for [`Local::wait_in`] or
    /// [`Local::wait_out`].
    #[inline]
    pub(crate) fn elapsed(self) -> u64 {
        #[cfg(not(pipeline_stats_off))]
        return clock().raw().saturating_sub(self.start);
        #[cfg(pipeline_stats_off)]
        return 0;
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.publish();
    }
}

/// A point-in-time copy of one stage's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageSnapshot {
    /// The stage's name, as declared.
    pub name: String,
    /// What kind of node it is.
    pub kind: Kind,
    /// How many workers it ran.
    pub width: usize,
    /// Items received.
    pub items_in: u64,
    /// Items sent downstream.
    pub items_out: u64,
    /// Errors raised by its function.
    pub errors: u64,
    /// Calls of its function beyond the first for an item: the retries of
    /// a stage with [`StageConfig::retry`](crate::StageConfig::retry).
    pub retries: u64,
    /// Time its workers spent neither waiting for input nor waiting to send
    /// (summed over workers).
    pub busy: Duration,
    /// Time its workers spent waiting for input (summed over workers).
    pub wait_in: Duration,
    /// Time its workers spent waiting for room downstream (summed over workers).
    pub wait_out: Duration,
}

/// The per-stage counters of a run, in declaration order.
///
/// `Display` renders a table; the stage with the most `busy` time per
/// worker and little `wait in` is the bottleneck.
///
/// ```
/// use pipeline_core::Pipeline;
///
/// let p = Pipeline::new();
/// let stats = p.stats();
/// p.from_iter("gen", 0..100u64)
///     .map("double", |n| n * 2)
///     .for_each(|_| {})
///     .run()
///     .unwrap();
/// let snap = stats.snapshot();
/// assert_eq!(snap[1].name, "double");
/// assert_eq!(snap[1].items_in, 100);
/// println!("{stats}");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub(crate) stages: Arc<std::sync::Mutex<Vec<Arc<StageStats>>>>,
}

impl Stats {
    pub(crate) fn add(&self, s: Arc<StageStats>) {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s);
    }

    /// Copies of every stage's counters, in declaration order.
    pub fn snapshot(&self) -> Vec<StageSnapshot> {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| s.snapshot())
            .collect()
    }

    /// The counters of the stage called `name`.
    pub fn stage(&self, name: &str) -> Option<StageSnapshot> {
        self.snapshot().into_iter().find(|s| s.name == name)
    }
}

impl StageSnapshot {
    /// A snapshot of a stage called `name` with every counter at zero; set
    /// the public fields to fill it in (a report built from counters kept
    /// elsewhere, a test of code that reads snapshots).
    pub fn new(name: impl Into<String>, kind: Kind, width: usize) -> Self {
        StageSnapshot {
            name: name.into(),
            kind,
            width,
            items_in: 0,
            items_out: 0,
            errors: 0,
            retries: 0,
            busy: Duration::ZERO,
            wait_in: Duration::ZERO,
            wait_out: Duration::ZERO,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stage's counters, for the unit tests of a link's two ends.
    pub(crate) fn local() -> Local {
        Local::new(StageStats::new("test".into(), Kind::Stage, 1))
    }

    #[test]
    #[cfg(not(pipeline_stats_off))]
    fn a_stopwatch_measures_in_nanoseconds_what_the_os_clock_sees() {
        let nap = Duration::from_millis(5);
        let outer = Instant::now();
        let watch = Stopwatch::start();
        std::thread::sleep(nap);
        let inner = Duration::from_nanos(nanos(watch.elapsed()));
        let outer = outer.elapsed();
        // The sleep lasts at least `nap`; the watch ran inside `outer`.
        // Slack for the scaling of the tick counter to nanoseconds.
        assert!(inner >= nap.mul_f64(0.99), "{inner:?} < {nap:?}");
        assert!(inner <= outer.mul_f64(1.01), "{inner:?} > {outer:?}");
    }
}
