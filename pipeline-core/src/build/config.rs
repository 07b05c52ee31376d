//! How a stage is set up: name, width, buffer, order, window, batch,
//! item timeout and retries.

use std::sync::Arc;
use std::time::Duration;

use crate::build::retry::Retry;

/// Default capacity, in items, of the channel a stage sends into.
pub const DEFAULT_BUFFER: usize = 64;

/// The most items a packet holds when a stage batches adaptively (the
/// default; see [`StageConfig::adaptive`]); a buffer smaller than this
/// caps packets at the buffer instead.
pub const DEFAULT_BATCH: usize = 64;

/// The most workers a stage can have (an inline or async stage; a
/// blocking one can have [`MAX_BLOCKING_WORKERS`]): each is a task,
/// spawned when the run starts. More is an
/// [`Error::Config`](crate::Error::Config) naming the stage.
pub const MAX_WORKERS: usize = 1 << 16;

pub use crate::run::pool::MAX_BLOCKING_WORKERS;

/// The most packets a link allocates room for up front. A link that may
/// hold more (a large buffer) counts its items with permits and allocates
/// room as items arrive, so memory follows what the link holds, not what
/// it may hold.
pub(crate) const PREALLOCATED_PACKETS: usize = 1024;

/// The most items a packet allocates room for up front; a larger batch
/// grows its packet as items join it.
pub(crate) const PREALLOCATED_ITEMS: usize = 1024;

/// The error policy of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// The first error (or panic) cancels the run and is the error it
    /// returns; errors raised afterwards because of the cancellation are
    /// dropped (errgroup semantics). The default.
    #[default]
    FailFast,
    /// Errors of `try_` stages and sources travel downstream as items, in
    /// their place; nothing is cancelled and no error is dropped. Panics
    /// still cancel the run.
    Continue,
}

/// The settings of one stage. Build it from a name (`"sq".into()`) and
/// chain the setters; every setting can come from a runtime value.
///
/// A width, buffer, window or batch of 0 is not a panic: the run refuses
/// to start and returns [`Error::Config`](crate::Error::Config) naming the
/// stage; so does a width above [`MAX_WORKERS`] (above
/// [`MAX_BLOCKING_WORKERS`] for a blocking stage). Any other value works,
/// up to `usize::MAX`, and memory follows what the run holds, not what a
/// setting allows: a link allocates room for at most 1024 packets up
/// front and a packet for at most 1024 items, and both grow as items
/// arrive. (A fixed `batch` larger than what the stage will ever send
/// before waiting for input holds everything it sends until then: with
/// an endless source, that is forever.)
///
/// # Packets, buffers and memory
///
/// Items travel between stages in packets. By default a worker batches
/// **adaptively**: it adds each result to its outgoing packet, and sends
/// the packet as soon as the channel downstream is empty (the next stage
/// has nothing queued), the worker would wait (for input, for room, or
/// for an async or blocking stage function), or the packet holds
/// [`packet_cap`](Self::packet_cap) items. So a stage whose consumer keeps
/// up, or whose function is slow, sends every result at once, and a fast
/// stage in front of a busy one sends packets of many items, which cuts
/// the per-item cost of the channel several times over. A result waits in
/// a packet at most while its worker computes the next result with an
/// inline function (or an iterator source makes its next item). Sources
/// fed by an [`Emitter`](crate::Emitter) or an
/// [`AsyncEmitter`](crate::AsyncEmitter) send every item on its own unless
/// given a `batch`: their producer may wait between items. The workers of
/// a stage with an async or blocking function and more than one worker
/// take their input one item at a time, so that no item waits in one
/// worker's packet while another worker is idle.
///
/// The [`buffer`](Self::buffer) counts items. An adaptive link counts
/// *every* item it holds with a permit — in the packet its writer is
/// filling, queued in the channel, and in the packet its reader is
/// working through, which gives its permits back once it has used the
/// packet up — so packing never lets a link hold more than its buffer.
///
/// `batch(n)` fixes the cap at `n` and sends a packet only when it is full
/// or the worker would wait for input; `batch(1)` sends every item on its
/// own, at once. Such a link holds `ceil(buffer / cap)` packets, so the
/// buffer rounded up to a whole packet, and the packets at its two ends
/// come on top.
///
/// Items in flight in a run (between leaving a source and being consumed
/// by the sink) are at most the sum over its nodes of
///
/// - source: `buffer + 1` if adaptive, else `ceil(buffer / cap) × cap + cap`;
/// - unordered stage: `L + width × (max(held_in, 1) + F)`;
/// - ordered stage: `L + held_in + width + window + F`;
/// - merge: `L + Σ (max(held_in, 1) + F)` over its inputs;
/// - sink: `held_in`;
///
/// where `L` is what the node's output link holds (its buffer if
/// adaptive, else `ceil(buffer / cap) × cap`), `F` the packet being filled
/// outside that count (0 if adaptive, else `cap − 1`), and `held_in` what
/// a reader of the input holds outside the input's count (0 if the input
/// is adaptive, else its cap). With every stage at the defaults (buffer
/// 64, adaptive, one worker) that is 65 items per source and per stage and
/// none for the sink: each stage's buffer plus its width, however the
/// items are packed.
/// [`Run::in_flight_bound`](crate::Run::in_flight_bound) computes it for a
/// run.
///
/// ```
/// use pipeline_core::StageConfig;
///
/// let digesters = 4;
/// let cfg = StageConfig::new("digest").workers(digesters).buffer(8).ordered().window(16);
/// assert_eq!(cfg.workers, 4);
/// assert_eq!(cfg.window_len(), 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageConfig {
    /// The stage's name, shown in stats and errors.
    pub name: Arc<str>,
    /// How many workers read the stage's input at once (fan-out width):
    /// from 1 to [`MAX_WORKERS`]. What `n` workers do at once depends on
    /// the stage function:
    ///
    /// - **inline** (a plain function, the default): `n` worker tasks on
    ///   the executor. A call holds an executor thread while it runs, so
    ///   at most `min(n, `[`threads()`](crate::threads)`)` calls run at
    ///   once; workers beyond that hold an item (or a packet) each, ready
    ///   for when a thread is free. Use `blocking` or an async function
    ///   for calls that wait.
    /// - **blocking** ([`blocking`](Self::blocking)): `n` calls at once,
    ///   each on its own thread of the blocking pool. In an unordered
    ///   stage without an item timeout, the first
    ///   `min(n, `[`threads()`](crate::threads)`)` workers keep their
    ///   thread for the whole run and call the function there, so a
    ///   CPU-bound stage goes from call to call without waking another
    ///   thread; the other workers take a thread for each call. While the stage
    ///   runs the pool grows by `n` threads on top of its own limit (500,
    ///   or `BLOCKING_MAX_THREADS`), so the stage never waits for threads
    ///   that other stages or other code use. At most
    ///   [`MAX_BLOCKING_WORKERS`]; more is
    ///   [`Error::Config`](crate::Error::Config). A call cannot be stopped
    ///   from outside: at a cancel, the run waits for the calls under way
    ///   to return, since nothing may outlive the run. A call that ignores
    ///   the signal ([`Cancel::current`](crate::Cancel::current)) therefore
    ///   delays the end of the run by whatever it has left to do.
    /// - **async** ([`then`](crate::Flow::then),
    ///   [`try_then`](crate::Flow::try_then)): `n` calls in progress at
    ///   once, their futures awaited side by side; a call waiting at a
    ///   cancel is dropped.
    pub workers: usize,
    /// Capacity, in items, of the link the stage sends into (with a fixed
    /// `batch`, rounded up to a whole number of packets; see [Packets,
    /// buffers and memory](Self#packets-buffers-and-memory)).
    pub buffer: usize,
    /// Whether the stage keeps input order.
    pub ordered: bool,
    /// For ordered stages: how many finished results may wait for a slower
    /// one ahead of them; `None` means twice the width.
    pub reorder_window: Option<usize>,
    /// Run the stage function on the blocking thread pool.
    pub blocking: bool,
    /// Items per packet sent downstream: `None` (the default) batches
    /// adaptively up to [`packet_cap`](Self::packet_cap) items, counted in
    /// the buffer; `Some(n)` fills packets of up to `n` items, sending a
    /// partial one only when the worker would wait for input (`Some(1)`:
    /// every item alone).
    pub batch: Option<usize>,
    /// The longest one call of the stage function may take for one item
    /// (async and blocking stages; see
    /// [`item_timeout`](Self::item_timeout)). `None`, the default: no limit.
    pub item_timeout: Option<Duration>,
    /// How a `try_` stage retries an item whose call failed (see
    /// [`retry`](Self::retry)). `None`, the default: one call per item.
    pub retry: Option<Retry>,
}

impl StageConfig {
    /// Defaults: 1 worker, buffer [`DEFAULT_BUFFER`], unordered, inline,
    /// adaptive packets.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        StageConfig {
            name: name.into(),
            workers: 1,
            buffer: DEFAULT_BUFFER,
            ordered: false,
            reorder_window: None,
            blocking: false,
            batch: None,
            item_timeout: None,
            retry: None,
        }
    }

    /// Sets the number of workers.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets the output channel's capacity, in items.
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = n;
        self
    }

    /// Keeps input order.
    pub fn ordered(mut self) -> Self {
        self.ordered = true;
        self
    }

    /// Does not keep input order (the default).
    pub fn unordered(mut self) -> Self {
        self.ordered = false;
        self
    }

    /// Sets the reorder window of an ordered stage (and makes it ordered).
    pub fn window(mut self, n: usize) -> Self {
        self.ordered = true;
        self.reorder_window = Some(n);
        self
    }

    /// Runs the stage function on the blocking thread pool.
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// Sends items downstream in packets of up to `n`, sending a partial
    /// packet only when the worker would wait for input; `batch(1)` sends
    /// every item on its own, at once. A fixed batch holds a slow stage's
    /// results back until the packet is full or the stage runs out of
    /// input; without this call a stage batches adaptively, which never
    /// does (see [Packets, buffers and
    /// memory](Self#packets-buffers-and-memory)).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = Some(n);
        self
    }

    /// Limits each call of the stage function to `limit`: an item whose
    /// call takes longer is the stage's error, an
    /// [`ItemTimeout`](crate::ItemTimeout) inside an
    /// [`Error::Stage`](crate::Error::Stage) naming the stage, under the
    /// run's [`ErrorPolicy`] (fail-fast fails the run; continue sends it
    /// downstream in the item's place). With [`retry`](Self::retry), each
    /// attempt has the whole limit, and a timed-out attempt is retried
    /// like any other error unless the predicate declines it.
    ///
    /// - **async** stages ([`then`](crate::Flow::then),
    ///   [`try_then`](crate::Flow::try_then)): at the limit the call's
    ///   future is dropped.
    /// - **blocking** stages: a thread cannot be stopped from outside, and
    ///   nothing may outlive the run, so the call is not abandoned. It runs
    ///   with a signal of its own as [`Cancel::current`](crate::Cancel::current),
    ///   which closes at the limit (and at a cancel of the run); a call
    ///   that checks it between chunks of its work returns soon after. Once
    ///   the call returns, whatever it returned is discarded and the item
    ///   is the timeout error (under fail-fast, the run fails then). The
    ///   worker takes its next item only then, so a stage never runs more
    ///   calls than its width.
    /// - **inline** stages (a plain function without
    ///   [`blocking`](Self::blocking)) cannot be timed: their call holds an
    ///   executor thread. A limit on one is refused when the run starts
    ///   ([`Error::Config`](crate::Error::Config)), as is one on a source
    ///   or a merge, and a limit of zero.
    ///
    /// A `flat_map`'s limit covers the call that returns the iterator,
    /// not the sending of its items. A stage without a limit pays nothing
    /// for this option: no timer, no allocation.
    pub fn item_timeout(mut self, limit: Duration) -> Self {
        self.item_timeout = Some(limit);
        self
    }

    /// Retries the items whose call fails, as `retry` says (a [`Retry`],
    /// or a number of attempts: `.retry(3)`), with a pause that grows
    /// between attempts; retries count in the stage's
    /// [`StageSnapshot::retries`](crate::StageSnapshot::retries).
    ///
    /// A retry calls the function again with a clone of the item, so only
    /// a `try_` stage built through [`Flow::retrying`](crate::Flow::retrying)
    /// (which asks for `T: Clone`) retries; any other stage with more than
    /// one attempt set is refused when the run starts
    /// ([`Error::Config`](crate::Error::Config)), so that a setting is
    /// never silently ignored. An item that fails every attempt is the
    /// error of its last attempt, under the run's [`ErrorPolicy`].
    pub fn retry(mut self, retry: impl Into<Retry>) -> Self {
        self.retry = Some(retry.into());
        self
    }

    /// Whether an item may get more than one call: a [`retry`](Self::retry)
    /// of two attempts or more.
    pub(crate) fn retries(&self) -> bool {
        self.retry.as_ref().is_some_and(|r| r.max_attempts() > 1)
    }

    /// Batches adaptively, the default (this undoes a [`batch`](Self::batch)):
    /// results join a packet (of at most [`DEFAULT_BATCH`] items, or the
    /// buffer if smaller) only while the next stage has something queued,
    /// and go at once otherwise; every item of the link, however packed,
    /// counts in its buffer (see [Packets, buffers and
    /// memory](Self#packets-buffers-and-memory)).
    pub fn adaptive(mut self) -> Self {
        self.batch = None;
        self
    }

    /// The most items a packet of this stage holds: the [`batch`](Self::batch)
    /// if set; when [`adaptive`](Self::adaptive) (the default),
    /// [`DEFAULT_BATCH`] or the buffer if smaller.
    ///
    /// ```
    /// use pipeline_core::StageConfig;
    /// assert_eq!(StageConfig::new("a").packet_cap(), 64);
    /// assert_eq!(StageConfig::new("a").batch(1).packet_cap(), 1);
    /// assert_eq!(StageConfig::new("a").adaptive().buffer(8).packet_cap(), 8);
    /// assert_eq!(StageConfig::new("a").buffer(8).batch(256).packet_cap(), 256);
    /// ```
    pub fn packet_cap(&self) -> usize {
        match self.batch {
            Some(n) => n.max(1),
            None => DEFAULT_BATCH.min(self.buffer).max(1),
        }
    }

    /// Whether packets are sent adaptively ([`adaptive`](Self::adaptive)).
    pub fn is_adaptive(&self) -> bool {
        self.batch.is_none()
    }

    /// Whether the output link counts its items with permits: adaptive
    /// batching with packets of more than one item, or a link of more
    /// packets than are allocated up front ([`PREALLOCATED_PACKETS`]).
    pub(crate) fn counted(&self) -> bool {
        (self.is_adaptive() && self.packet_cap() > 1)
            || self.buffer.div_ceil(self.packet_cap()) > PREALLOCATED_PACKETS
    }

    /// The capacity of an uncounted output channel in packets: the buffer
    /// over the packet cap, rounded up, at least 1.
    pub(crate) fn channel_packets(&self) -> usize {
        self.buffer.div_ceil(self.packet_cap()).max(1)
    }

    /// The most items the output link holds: the buffer if counted, else
    /// [`channel_packets`](Self::channel_packets) full packets (the packets
    /// at its two ends not included).
    pub(crate) fn channel_items(&self) -> usize {
        if self.counted() {
            self.buffer
        } else {
            self.channel_packets().saturating_mul(self.packet_cap())
        }
    }

    /// The effective reorder window.
    pub fn window_len(&self) -> usize {
        self.reorder_window
            .unwrap_or(self.workers.saturating_mul(2))
    }
}

impl From<&str> for StageConfig {
    fn from(name: &str) -> Self {
        StageConfig::new(name)
    }
}

impl From<String> for StageConfig {
    fn from(name: String) -> Self {
        StageConfig::new(name)
    }
}

impl From<Arc<str>> for StageConfig {
    fn from(name: Arc<str>) -> Self {
        StageConfig::new(name)
    }
}
