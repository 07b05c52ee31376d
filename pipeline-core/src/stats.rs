//! Per-stage counters, and the table that shows the bottleneck (`table`).
//!
//! Counting is cheap enough to be always on: each worker counts in plain
//! local variables and adds them to the stage's shared atomics every 256
//! packets and when it ends; clocks are read only when a worker is about
//! to block, never on the fast path. A wait reads the clock twice, and a
//! pipeline of batches waits a few times per packet, so the clock is the
//! CPU's time-stamp counter where quanta finds it reliable (about 10 ns a
//! read here, against 27 ns for `Instant::now`), else the OS's monotonic
//! clock ([`Since`]). Its calibration runs on a thread of its own, so
//! that no run waits for it; until it is done, waits are timed with
//! `Instant`. It starts once some thread has timed [`CALIBRATE_AFTER`]
//! waits, not with the executor: it spins a core until its estimate
//! settles (up to 200 ms), which cost a short run (an md5pipe update of
//! 2,000 files, ~10 ms) about a third of its CPU.
//!
//! A measurement build with `RUSTFLAGS="--cfg pipeline_stats_off"` keeps
//! only the counts, published when a worker ends: it reads no clock when a
//! worker blocks and publishes nothing while it runs, so that
//! `benches/stats_cost.rs` can show what the always-on stats cost.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

mod table;

/// The time-stamp counter's clock, once calibrated.
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// Waits a thread times with `Instant` before it starts the calibration:
/// enough that a short run never pays for it, few enough that a busy run
/// soon reads the cheaper clock (2048 waits, 4096 reads of `Instant`,
/// cost under 0.1 ms more than the counter's).
const CALIBRATE_AFTER: u32 = 2048;

thread_local! {
    /// Waits this thread has timed with `Instant`, up to [`CALIBRATE_AFTER`].
    static OS_TIMED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts one wait timed with `Instant` in `timed`: true for the
/// [`CALIBRATE_AFTER`]th, the one that starts the calibration.
fn time_one_more(timed: &std::cell::Cell<u32>) -> bool {
    let n = timed.get();
    if n < CALIBRATE_AFTER {
        timed.set(n + 1);
    }
    n + 1 == CALIBRATE_AFTER
}

/// Starts the calibration of the time-stamp counter's clock on a thread
/// of its own, once per process: [`Since::now`] calls it once a thread
/// has timed [`CALIBRATE_AFTER`] waits. Nothing waits for it (see
/// [`Since`]); if the system refuses the thread, waits go on being timed
/// with `Instant`.
fn calibrate_clock() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("pipeline-clock".into())
            .spawn(|| CLOCK.get_or_init(quanta::Clock::new));
    });
}

/// A point in time to measure from: the time-stamp counter's raw ticks
/// once its clock is calibrated, else an [`Instant`]. Each reads the
/// same clock at both ends, so a measure started before the calibration
/// ended is still right.
#[derive(Clone, Copy)]
pub(crate) enum Since {
    /// Raw ticks of the calibrated clock.
    Ticks(&'static quanta::Clock, u64),
    /// The OS's monotonic clock.
    Os(Instant),
}

impl Since {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Self {
        match CLOCK.get() {
            Some(clock) => Since::Ticks(clock, clock.raw()),
            None => {
                if OS_TIMED.with(time_one_more) {
                    calibrate_clock();
                }
                Since::Os(Instant::now())
            }
        }
    }

    /// Nanoseconds since this point.
    #[inline]
    pub(crate) fn nanos(self) -> u64 {
        match self {
            Since::Ticks(clock, start) => clock.delta_as_nanos(start, clock.raw()),
            Since::Os(start) => u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }
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
    /// Time waiting for input, in nanoseconds.
    pub(crate) wait_in: u64,
    /// Time waiting to send, in nanoseconds.
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
        let wait_in = std::mem::take(&mut self.wait_in);
        let wait_out = std::mem::take(&mut self.wait_out);
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

/// Times a wait for the stats: reads the clock ([`Since`]) when a worker
/// is about to block and when it resumes. Reads nothing in a
/// `pipeline_stats_off` build (then every wait counts as zero).
#[derive(Clone, Copy)]
pub(crate) struct Stopwatch {
    #[cfg(not(pipeline_stats_off))]
    start: Since,
}

impl Stopwatch {
    #[inline]
    pub(crate) fn start() -> Self {
        Stopwatch {
            #[cfg(not(pipeline_stats_off))]
            start: Since::now(),
        }
    }

    /// The nanoseconds since [`start`](Self::start), for
    /// [`Local::wait_in`] or [`Local::wait_out`].
    #[inline]
    pub(crate) fn elapsed(self) -> u64 {
        #[cfg(not(pipeline_stats_off))]
        return self.start.nanos();
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

    /// What a [`Since`] measures across a nap of 5 ms, and the time
    /// around it by the OS's clock.
    fn measure(start: impl FnOnce() -> Since) -> (Duration, Duration, Duration) {
        let nap = Duration::from_millis(5);
        let outer = Instant::now();
        let since = start();
        std::thread::sleep(nap);
        let inner = Duration::from_nanos(since.nanos());
        (nap, inner, outer.elapsed())
    }

    #[test]
    fn the_clock_measures_in_nanoseconds_what_the_os_clock_sees_before_and_after_calibration() {
        let os = measure(|| Since::Os(Instant::now()));
        let clock = CLOCK.get_or_init(quanta::Clock::new);
        let ticks = measure(Since::now);
        assert!(matches!(Since::now(), Since::Ticks(..)));
        let tsc = measure(|| Since::Ticks(clock, clock.raw()));
        for (nap, inner, outer) in [os, ticks, tsc] {
            // The sleep lasts at least `nap`; the measure ran inside
            // `outer`. Slack for the scaling of the tick counter.
            assert!(inner >= nap.mul_f64(0.99), "{inner:?} < {nap:?}");
            assert!(inner <= outer.mul_f64(1.01), "{inner:?} > {outer:?}");
        }
    }

    #[test]
    fn the_calibration_starts_at_the_waits_a_short_run_does_not_reach() {
        let timed = std::cell::Cell::new(0);
        for _ in 1..CALIBRATE_AFTER {
            assert!(!time_one_more(&timed));
        }
        assert!(time_one_more(&timed), "the wait that starts it");
        for _ in 0..3 * CALIBRATE_AFTER {
            assert!(!time_one_more(&timed), "started once");
        }
    }

    #[test]
    fn the_clock_calibrates_on_a_thread_of_its_own() {
        calibrate_clock();
        let deadline = Instant::now() + Duration::from_secs(10);
        while CLOCK.get().is_none() {
            assert!(Instant::now() < deadline, "no calibration after 10 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
