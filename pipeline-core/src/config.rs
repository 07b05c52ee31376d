//! How a stage is set up: name, width, buffer, order, window, batch.

use std::sync::Arc;

/// Default capacity, in items, of the channel a stage sends into.
pub const DEFAULT_BUFFER: usize = 64;

/// The most items a packet holds when a stage batches adaptively (see
/// [`StageConfig::adaptive`]); a buffer smaller than this caps packets at
/// the buffer instead.
pub const DEFAULT_BATCH: usize = 64;

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
/// stage.
///
/// # Packets, buffers and memory
///
/// Items travel between stages in packets: by default one item each, so
/// items in flight stay within each stage's buffer plus its width (plus
/// the window of an ordered stage). With [`adaptive`](Self::adaptive) a
/// worker batches **adaptively**: it adds each
/// result to its outgoing packet, and sends the packet as soon as the
/// channel downstream is empty (the next stage has nothing queued), the
/// worker would wait (for input, or for an async or blocking stage
/// function), or the packet holds [`packet_cap`](Self::packet_cap) items.
/// So a stage whose consumer keeps up, or whose function is slow, sends
/// every result at once, and a fast stage in front of a busy one sends
/// full packets, which cuts the per-item cost of the channel by an order
/// of magnitude. A result waits in a packet at most while its worker
/// computes the next result with an inline function (or an iterator
/// source makes its next item). Sources fed by an
/// [`Emitter`](crate::Emitter) or an [`AsyncEmitter`](crate::AsyncEmitter)
/// do not batch unless asked: their producer may wait between items. The
/// workers of a stage with an async or blocking function and more than
/// one worker take their input one item at a time, so that no item waits
/// in one worker's packet while another worker is idle.
///
/// `batch(n)` fixes the cap at `n` and sends a packet only when it is full
/// or the worker would wait for input; `batch(1)`, the default, sends
/// every item on its own, at once.
///
/// The [`buffer`](Self::buffer) counts items: the channel holds
/// `ceil(buffer / cap)` packets, so at most the buffer rounded up to a
/// whole packet. Items in flight in a run (between leaving a source and
/// being consumed by the sink) are at most the sum over its nodes of
///
/// - source: `ceil(buffer / cap) × cap + cap`;
/// - unordered stage: `ceil(buffer / cap) × cap + width × (cap_in + cap − 1)`;
/// - ordered stage: `ceil(buffer / cap) × cap + cap_in + width + window + cap − 1`;
/// - merge: `ceil(buffer / cap) × cap + Σ cap_in` (cap: the largest cap_in);
/// - sink: `cap_in`;
///
/// where `cap` is the node's packet cap and `cap_in` its input's. With
/// every stage at the defaults (buffer 64, cap 1, one worker) that is 65
/// items per source and per stage and 1 for the sink; with every stage
/// adaptive (cap 64), 128 per source, 191 per stage and 64 for the sink.
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
    /// How many workers read the stage's input at once (fan-out width).
    pub workers: usize,
    /// Capacity, in items, of the channel the stage sends into (rounded up
    /// to a whole number of packets; see [Packets, buffers and
    /// memory](Self#packets-buffers-and-memory)).
    pub buffer: usize,
    /// Whether the stage keeps input order.
    pub ordered: bool,
    /// For ordered stages: how many finished results may wait for a slower
    /// one ahead of them; `None` means twice the width.
    pub reorder_window: Option<usize>,
    /// Run the stage function on the blocking thread pool.
    pub blocking: bool,
    /// Items per packet sent downstream: `Some(n)` fills packets of up to
    /// `n` items, sending a partial one only when the worker would wait for
    /// input (the default is `Some(1)`: every item alone); `None` batches
    /// adaptively up to [`packet_cap`](Self::packet_cap) items.
    pub batch: Option<usize>,
}

impl StageConfig {
    /// Defaults: 1 worker, buffer [`DEFAULT_BUFFER`], unordered, inline,
    /// one item per packet.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        StageConfig {
            name: name.into(),
            workers: 1,
            buffer: DEFAULT_BUFFER,
            ordered: false,
            reorder_window: None,
            blocking: false,
            batch: None,
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
    /// every item on its own, at once. Without this call a stage batches
    /// adaptively (see [Packets, buffers and
    /// memory](Self#packets-buffers-and-memory)).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = Some(n);
        self
    }

    /// Batches adaptively: results join a packet (of at most
    /// [`DEFAULT_BATCH`] items, or the buffer if smaller) only while the
    /// next stage has something queued, and go at once otherwise. Cuts the
    /// per-item cost of a busy chain several times over; items in flight
    /// may exceed buffer + width by up to a packet per worker (see
    /// [Packets, buffers and memory](Self#packets-buffers-and-memory)).
    pub fn adaptive(mut self) -> Self {
        self.batch = None;
        self
    }

    /// The most items a packet of this stage holds: the [`batch`](Self::batch)
    /// (1 by default); when [`adaptive`](Self::adaptive), [`DEFAULT_BATCH`]
    /// or the buffer if smaller.
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
    /// batching with packets of more than one item.
    pub(crate) fn counted(&self) -> bool {
        self.is_adaptive() && self.packet_cap() > 1
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
            self.channel_packets() * self.packet_cap()
        }
    }

    /// The effective reorder window.
    pub fn window_len(&self) -> usize {
        self.reorder_window.unwrap_or(2 * self.workers)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut bad = Vec::new();
        if self.workers == 0 {
            bad.push("workers must be at least 1");
        }
        if self.buffer == 0 {
            bad.push("buffer must be at least 1");
        }
        if self.batch == Some(0) {
            bad.push("batch must be at least 1");
        }
        if self.ordered && self.reorder_window == Some(0) {
            bad.push("window must be at least 1");
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join(", "))
        }
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
