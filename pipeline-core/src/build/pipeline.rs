//! The typed builder: a [`Pipeline`] makes sources, each a [`Flow`]; a flow
//! grows stages and ends in a sink, which gives a [`Run`](crate::Run).
//!
//! Declaring spawns nothing: channels are made as stages are declared, and
//! every task is spawned when the run starts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream};
use smol::Task;

use crate::build::bound::{held_by_workers, source_bound};
use crate::build::flow::Flow;
use crate::build::graph::{Graph, Plan};
use crate::build::guard::node_misfit;
use crate::build::{ErrorPolicy, StageConfig};
use crate::cancel::Cancel;

use crate::executor::LiveTasks;
use crate::link::{link, LinkTx, Writer};
use crate::node::emitter::{make_emitter, AsyncEmitter, Emitter};
use crate::node::source::{async_source, blocking_source, iter_source, stream_source};
use crate::run::ctx::RunCtx;
use crate::run::{Drain, Errors};
use crate::stats::{Kind, Local, StageStats, Stats};
use crate::stop::Stop;
use crate::trace::Worker;
use crate::Item;

/// Where a pipeline is declared: makes its sources and holds what every
/// stage of one run shares (the cancel signal, the error policy, the stats,
/// the live-task count).
///
/// A `Pipeline` describes one run. To run the same layout again, declare it
/// again (the `pipeline!` macro's reusable form does that for you).
///
/// ```
/// use pipeline_core::{Pipeline, StageConfig};
///
/// // The article's gen -> sq -> sink, with two sq workers.
/// let mut out = Pipeline::new()
///     .from_iter("gen", [2u64, 3])
///     .map(StageConfig::new("sq").workers(2), |n| n * n)
///     .collect::<Vec<_>>()
///     .run()
///     .unwrap();
/// out.sort();
/// assert_eq!(out, [4, 9]);
/// ```
#[derive(Clone)]
pub struct Pipeline {
    pub(crate) graph: Arc<Graph>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// A new, empty pipeline with the fail-fast policy.
    pub fn new() -> Self {
        Pipeline {
            graph: Arc::new(Graph {
                stop: Stop::new(),
                live: LiveTasks::default(),
                stats: Stats::default(),
                errors: Errors::default(),
                plan: Mutex::new(Plan::default()),
            }),
        }
    }

    /// Sets the error policy of the run.
    pub fn with_policy(self, policy: ErrorPolicy) -> Self {
        self.graph.plan().policy = policy;
        self
    }

    /// Ends the run at `deadline` at the latest, as [`Run::deadline`](crate::Run::deadline)
    /// does; here for a run whose sink starts it at once
    /// ([`Flow::stream`], [`Flow::iter`]). When the deadline passes the
    /// run is cancelled, and its stream or iterator ends with
    /// [`Error::Timeout`](crate::Error::Timeout), then `None`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use pipeline_core::{Error, Pipeline};
    ///
    /// let soon = Instant::now() + Duration::from_millis(50);
    /// let mut it = Pipeline::new().with_deadline(soon).from_iter("gen", 0u64..).iter();
    /// let last = it.by_ref().find(|r| r.is_err());
    /// assert!(matches!(last, Some(Err(Error::Timeout { .. }))));
    /// assert!(it.next().is_none());
    /// ```
    pub fn with_deadline(self, deadline: Instant) -> Self {
        self.graph.plan().deadline.at(deadline);
        self
    }

    /// Ends the run `timeout` after it starts at the latest, as
    /// [`Run::timeout`](crate::Run::timeout) does; here for a run whose
    /// sink starts it at once ([`Flow::stream`], [`Flow::iter`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipeline_core::{Error, Pipeline};
    ///
    /// let items: Vec<_> = Pipeline::new()
    ///     .with_timeout(Duration::from_millis(50))
    ///     .from_iter("gen", 0u64..)
    ///     .iter()
    ///     .collect();
    /// assert_eq!(
    ///     items.last().map(|r| r.as_ref().map_err(Error::to_string)),
    ///     Some(Err("the run's deadline passed after 50ms".to_string()))
    /// );
    /// ```
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.graph.plan().deadline.after(timeout);
        self
    }

    /// The run's close-to-cancel signal; [`Cancel::cancel`] on it stops the
    /// run from outside, and the run returns [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn cancel_signal(&self) -> Cancel {
        self.graph.stop.cancel().clone()
    }

    /// A handle that drains the run gracefully (see [`Drain`]); here for
    /// a run whose sink starts it at once ([`Flow::stream`],
    /// [`Flow::iter`]), or for a stage or sink function that drains its
    /// own run. Take it before the run starts.
    pub fn drain_handle(&self) -> Drain {
        self.graph.drain_handle()
    }

    /// The run's live-task counter.
    pub fn live_tasks(&self) -> LiveTasks {
        self.graph.live.clone()
    }

    /// The run's per-stage counters (filled as it runs).
    pub fn stats(&self) -> Stats {
        self.graph.stats.clone()
    }

    /// Errors that reached a plain sink under [`ErrorPolicy::Continue`].
    pub fn errors(&self) -> Errors {
        self.graph.errors.clone()
    }

    fn source<T: Send + 'static>(
        &self,
        cfg: impl Into<StageConfig>,
        make: impl FnOnce(LinkTx<T>, StageConfig, Local, &RunCtx) -> Task<()> + Send + 'static,
    ) -> Flow<T> {
        let cfg = cfg.into();
        let (tx, rx) = link(&cfg, &self.graph.stop);
        let stats = StageStats::new(cfg.name.clone(), Kind::Source, 1);
        self.graph.stats.add(stats.clone());
        let batch = cfg.packet_cap();
        let bound = source_bound(&cfg);
        let c = cfg.clone();
        let node = self.graph.add(
            &cfg,
            node_misfit(&cfg, "a source"),
            bound,
            &[],
            Box::new(move |ctx| vec![make(tx, c, Local::new(stats), ctx)]),
        );
        Flow {
            graph: self.graph.clone(),
            rx,
            batch,
            node,
        }
    }

    /// A source that sends every item of `iter`. The iterator runs on the
    /// executor: use [`from_blocking`](Self::from_blocking) for one that blocks.
    pub fn from_iter<I>(&self, cfg: impl Into<StageConfig>, iter: I) -> Flow<I::Item>
    where
        I: IntoIterator + Send + 'static,
        I::IntoIter: Send,
        I::Item: Item,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let w = Writer::for_node(tx, &cfg, ctx.stop.clone());
            ctx.spawn_worker(
                source_worker(&cfg),
                guard_panics(
                    cfg.name.clone(),
                    ctx.stop.clone(),
                    iter_source(iter, w, stats),
                ),
            )
        })
    }

    /// A source that sends every item of an async `stream`.
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let n = Pipeline::new().from_stream("s", futures::stream::iter(0..4u32))
    ///     .fold(0, |a, b| a + b).run().unwrap();
    /// assert_eq!(n, 6);
    /// ```
    pub fn from_stream<S>(&self, cfg: impl Into<StageConfig>, stream: S) -> Flow<S::Item>
    where
        S: Stream + Send + 'static,
        S::Item: Item,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let w = Writer::for_node(tx, &cfg, ctx.stop.clone());
            ctx.spawn_worker(
                source_worker(&cfg),
                guard_panics(
                    cfg.name.clone(),
                    ctx.stop.clone(),
                    stream_source(stream, w, stats, ctx.stop.drain().sources().clone()),
                ),
            )
        })
    }

    /// A source fed by a blocking producer (a directory walk, a reader),
    /// which runs on the blocking thread pool and pushes items into the
    /// [`Emitter`] it is given. `emit` returns [`Cancelled`](crate::Cancelled)
    /// once the run is cancelled, so `?` stops the producer promptly.
    ///
    /// The producer may block for any time between two items, so without
    /// a [`batch`](StageConfig::batch) each item is sent on its own, at
    /// once; with `batch(n)` items wait in a packet until it is full or the
    /// producer returns.
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    ///
    /// let n = Pipeline::new()
    ///     .from_blocking("count", |em| {
    ///         for i in 0..10u32 {
    ///             if em.emit(i).is_err() {
    ///                 return; // cancelled
    ///             }
    ///         }
    ///     })
    ///     .fold(0, |acc, i| acc + i)
    ///     .run()
    ///     .unwrap();
    /// assert_eq!(n, 45);
    /// ```
    pub fn from_blocking<T, F>(&self, cfg: impl Into<StageConfig>, producer: F) -> Flow<T>
    where
        T: Item,
        F: FnOnce(&mut Emitter<T>) + Send + 'static,
    {
        // The producer may block between two items for as long as it
        // likes: without a batch set, every item goes at once.
        let cfg = cfg.into();
        let cfg = if cfg.is_adaptive() {
            unbatched(&cfg)
        } else {
            cfg
        };
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let em = make_emitter(tx, cfg.name.clone(), &cfg, stats, ctx);
            ctx.spawn_worker(
                source_worker(&cfg),
                blocking_source(producer, em, ctx.live.guard()),
            )
        })
    }

    /// A source fed by an async producer, which is handed an
    /// [`AsyncEmitter`] and runs as a task of the run.
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let v = Pipeline::new()
    ///     .from_async("ticks", |mut em| async move {
    ///         for i in 0..3u32 {
    ///             if em.send(i).await.is_err() { return; }
    ///         }
    ///     })
    ///     .collect::<Vec<_>>().run().unwrap();
    /// assert_eq!(v, [0, 1, 2]);
    /// ```
    pub fn from_async<T, F, Fut>(&self, cfg: impl Into<StageConfig>, producer: F) -> Flow<T>
    where
        T: Item,
        F: FnOnce(AsyncEmitter<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.source(unbatched(&cfg.into()), move |tx, cfg, stats, ctx| {
            let em = AsyncEmitter::new(make_emitter(tx, cfg.name.clone(), &cfg, stats, ctx));
            ctx.spawn_worker(source_worker(&cfg), async_source(producer, em))
        })
    }

    /// Fan-in: one flow with every item of `flows` (the article's `merge`).
    /// Order across inputs is not kept. All flows must come from this
    /// pipeline, otherwise the run returns [`Error::Config`](crate::Error::Config).
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let p = Pipeline::new();
    /// let gen = p.from_iter("gen", 1..=4u64);
    /// let a = gen.clone().map("sq1", |n| n * n); // two readers of one channel
    /// let b = gen.map("sq2", |n| n * n);
    /// let mut all = p.merge("merge", [a, b]).collect::<Vec<_>>().run().unwrap();
    /// all.sort();
    /// assert_eq!(all, [1, 4, 9, 16]);
    /// ```
    pub fn merge<T: Send + 'static>(
        &self,
        cfg: impl Into<StageConfig>,
        flows: impl IntoIterator<Item = Flow<T>>,
    ) -> Flow<T> {
        let cfg = cfg.into();
        let flows: Vec<Flow<T>> = flows.into_iter().collect();
        let foreign = flows.iter().any(|f| !Arc::ptr_eq(&f.graph, &self.graph));
        let extra = foreign
            .then(|| "merges a flow of another pipeline".to_string())
            .or_else(|| node_misfit(&cfg, "a merge"));
        let (tx, rx) = link(&cfg, &self.graph.stop);
        let stats = StageStats::new(cfg.name.clone(), Kind::Merge, flows.len());
        self.graph.stats.add(stats.clone());
        // Each forwarder is a one-worker stage on its input.
        let one = cfg.clone().workers(1).unordered();
        let bound = flows
            .iter()
            .map(|f| held_by_workers(&one, f.held_in()))
            .fold(cfg.channel_items(), usize::saturating_add);
        // Flows of another pipeline are read by nothing of this one: their
        // own pipeline reports them, and this merge is refused.
        let inputs: Vec<usize> = flows
            .iter()
            .filter(|f| Arc::ptr_eq(&f.graph, &self.graph))
            .map(|f| f.node)
            .collect();
        let c = cfg.clone();
        let node = self.graph.add(
            &cfg,
            extra,
            bound,
            &inputs,
            Box::new(move |ctx| {
                let inputs = flows.into_iter().map(|f| f.rx).collect();
                crate::node::merge::spawn_merge(inputs, &c, tx, &stats, ctx)
            }),
        );
        Flow {
            graph: self.graph.clone(),
            rx,
            batch: cfg.packet_cap(),
            node,
        }
    }
}

/// The one task of the source of `cfg`, for its span.
fn source_worker(cfg: &StageConfig) -> Worker<'_> {
    Worker {
        stage: &cfg.name,
        role: "source",
        width: 1,
        index: 0,
    }
}

/// `cfg` with one item per packet (an async source does not batch).
fn unbatched(cfg: &StageConfig) -> StageConfig {
    cfg.clone().batch(1)
}

/// Catches a panic of a source task and makes it the run's error.
async fn guard_panics(name: Arc<str>, stop: Stop, fut: impl Future<Output = ()>) {
    if let Err(p) = AssertUnwindSafe(fut).catch_unwind().await {
        stop.fail_panicked(name, p);
    }
}
