//! The typed builder: a [`Pipeline`] makes sources, each a [`Flow`]; a flow
//! grows stages and ends in a sink, which gives a [`Run`](crate::Run).
//!
//! Declaring spawns nothing: channels are made as stages are declared, and
//! every task is spawned when the run starts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{FutureExt, Stream};
use smol::Task;

use crate::cancel::Cancel;
use crate::channel::{link, LinkTx, Writer};
use crate::config::{ErrorPolicy, StageConfig};
use crate::error::{panic_message, Error};
use crate::executor::LiveTasks;
use crate::flow::{held_by_workers, Flow};
use crate::item::Item;
use crate::source::{
    async_source, blocking_source, iter_source, make_emitter, stream_source, AsyncEmitter, Emitter,
};
use crate::stage::RunCtx;
use crate::stats::{Kind, Local, StageStats, Stats};

pub(crate) type Spawn = Box<dyn FnOnce(&RunCtx) -> Vec<Task<()>> + Send>;

#[derive(Default)]
pub(crate) struct Plan {
    policy: ErrorPolicy,
    spawns: Vec<Spawn>,
    config_errors: Vec<Error>,
    pub(crate) bound: usize,
    started: bool,
    /// Every node declared (sources, stages, merges), by id: its name and
    /// how many stages and merges read its output.
    nodes: Vec<(Arc<str>, usize)>,
}

/// One run's graph under construction, shared by its flows.
pub(crate) struct Graph {
    pub(crate) cancel: Cancel,
    pub(crate) live: LiveTasks,
    pub(crate) stats: Stats,
    pub(crate) errors: Errors,
    plan: Mutex<Plan>,
}

impl Graph {
    pub(crate) fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one node, which reads the nodes `inputs` of this graph: its
    /// spawn function if its settings are valid, or the configuration
    /// error. Returns the node's id.
    pub(crate) fn add(
        &self,
        cfg: &StageConfig,
        extra: Option<String>,
        bound: usize,
        inputs: &[usize],
        spawn: Spawn,
    ) -> usize {
        let mut plan = self.plan();
        match (cfg.validate(), extra) {
            (Ok(()), None) => {
                plan.bound = plan.bound.saturating_add(bound);
                plan.spawns.push(spawn);
            }
            (Err(m), _) | (Ok(()), Some(m)) => plan.config_errors.push(Error::Config {
                stage: cfg.name.clone(),
                message: m,
            }),
        }
        for &i in inputs {
            plan.nodes[i].1 += 1;
        }
        plan.nodes.push((cfg.name.clone(), 0));
        plan.nodes.len() - 1
    }

    /// Spawns every task, once, for the sink that reads node `sink_input`.
    ///
    /// # Errors
    /// A setting is invalid, the pipeline ran before, or a node's output
    /// reaches no sink (no stage, merge or this sink reads it).
    pub(crate) fn start(&self, sink_input: usize) -> Result<(RunCtx, Vec<Task<()>>), Error> {
        let (spawns, policy) = {
            let mut plan = self.plan();
            if plan.started {
                return Err(Error::Config {
                    stage: "pipeline".into(),
                    message: "a pipeline runs once and has one sink".into(),
                });
            }
            plan.started = true;
            if let Some(e) = plan.config_errors.first() {
                return Err(e.clone());
            }
            if let Some(n) = plan.nodes.get_mut(sink_input) {
                n.1 += 1;
            }
            if let Some((name, _)) = plan.nodes.iter().find(|(_, readers)| *readers == 0) {
                return Err(Error::Config {
                    stage: name.clone(),
                    message: UNREAD.into(),
                });
            }
            (std::mem::take(&mut plan.spawns), plan.policy)
        };
        let ctx = RunCtx {
            cancel: self.cancel.clone(),
            live: self.live.clone(),
            policy,
        };
        let tasks = spawns.into_iter().flat_map(|s| s(&ctx)).collect();
        Ok((ctx, tasks))
    }
}

/// Why a node that nothing reads stops the run from starting.
const UNREAD: &str = "nothing reads this stage's output: it was built on a flow that was \
     dropped, or that ends in a sink other than the one run, so its items would be lost; \
     read it with a stage, merge it into the flow that reaches the sink, or do not build it";

/// Errors that reached a sink as items under [`ErrorPolicy::Continue`]:
/// the sinks that take plain items (`for_each`, `collect`, ...) put them
/// here, in the order they arrived, so none is dropped.
#[derive(Debug, Clone, Default)]
pub struct Errors(Arc<Mutex<Vec<Error>>>);

impl Errors {
    pub(crate) fn push(&self, e: Error) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// Takes the errors collected so far.
    pub fn take(&self) -> Vec<Error> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// How many errors were collected.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no error was collected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
                cancel: Cancel::new(),
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

    /// The run's close-to-cancel signal; [`Cancel::cancel`] on it stops the
    /// run from outside, and the run returns [`Error::Cancelled`].
    pub fn cancel_signal(&self) -> Cancel {
        self.graph.cancel.clone()
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
        let (tx, rx) = link(&cfg, &self.graph.cancel);
        let stats = StageStats::new(cfg.name.clone(), Kind::Source, 1);
        self.graph.stats.add(stats.clone());
        // The link, and the packet being filled (or stalled); on a counted
        // link only the one item waiting for a permit is not counted.
        let batch = cfg.packet_cap();
        let filling = if cfg.counted() { 1 } else { batch };
        let bound = filling.saturating_add(cfg.channel_items());
        let c = cfg.clone();
        let node = self.graph.add(
            &cfg,
            None,
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
            let w = Writer::for_node(tx, &cfg, ctx.cancel.clone());
            ctx.spawn(guard_panics(
                cfg.name,
                ctx.cancel.clone(),
                iter_source(iter, w, stats),
            ))
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
            let w = Writer::for_node(tx, &cfg, ctx.cancel.clone());
            ctx.spawn(guard_panics(
                cfg.name,
                ctx.cancel.clone(),
                stream_source(stream, w, stats, ctx.cancel.clone()),
            ))
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
            ctx.spawn(blocking_source(producer, em))
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
            let em = AsyncEmitter {
                inner: make_emitter(tx, cfg.name.clone(), &cfg, stats, ctx),
            };
            ctx.spawn(async_source(producer, em))
        })
    }

    /// Fan-in: one flow with every item of `flows` (the article's `merge`).
    /// Order across inputs is not kept. All flows must come from this
    /// pipeline, otherwise the run returns [`Error::Config`].
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
        let extra = foreign.then(|| "merges a flow of another pipeline".to_string());
        let (tx, rx) = link(&cfg, &self.graph.cancel);
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
                crate::merge::spawn_merge(inputs, &c, tx, &stats, ctx)
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

/// `cfg` with one item per packet (an async source does not batch).
fn unbatched(cfg: &StageConfig) -> StageConfig {
    cfg.clone().batch(1)
}

/// Catches a panic of a source task and makes it the run's error.
async fn guard_panics(name: Arc<str>, cancel: Cancel, fut: impl Future<Output = ()>) {
    if let Err(p) = AssertUnwindSafe(fut).catch_unwind().await {
        cancel.fail(Error::Panic {
            stage: name,
            message: panic_message(&*p),
        });
    }
}
