//! How a stage is set up: name, width, buffer, order, window, batch.

use std::sync::Arc;

/// Default capacity, in packets, of the channel a stage sends into.
pub const DEFAULT_BUFFER: usize = 64;

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
    /// Capacity, in packets, of the channel the stage sends into.
    pub buffer: usize,
    /// Whether the stage keeps input order.
    pub ordered: bool,
    /// For ordered stages: how many finished results may wait for a slower
    /// one ahead of them; `None` means twice the width.
    pub reorder_window: Option<usize>,
    /// Run the stage function on the blocking thread pool.
    pub blocking: bool,
    /// Items per packet sent downstream. Batching cuts the per-item cost of
    /// the channel; a partial batch is sent as soon as the worker would wait
    /// for input, so it adds latency only while input keeps arriving.
    pub batch: usize,
}

impl StageConfig {
    /// Defaults: 1 worker, buffer [`DEFAULT_BUFFER`], unordered, inline, batch 1.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        StageConfig {
            name: name.into(),
            workers: 1,
            buffer: DEFAULT_BUFFER,
            ordered: false,
            reorder_window: None,
            blocking: false,
            batch: 1,
        }
    }

    /// Sets the number of workers.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets the output channel's capacity.
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

    /// Sends items downstream in packets of up to `n`.
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
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
        if self.batch == 0 {
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
