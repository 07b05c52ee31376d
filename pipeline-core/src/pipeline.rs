//! The typed builder: a [`Pipeline`] makes sources, each a [`Flow`]; a flow
//! grows stages and ends in a sink, which gives a [`Run`].
//!
//! Declaring spawns nothing: channels are made as stages are declared, and
//! every task is spawned when the run starts.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use async_channel::{Receiver, Sender};
use futures::{FutureExt, Stream};
use smol::Task;

use crate::cancel::Cancel;
use crate::channel::{channel, Packet, Reader, Writer};
use crate::config::{ErrorPolicy, StageConfig};
use crate::error::{panic_message, BoxError, Error};
use crate::executor::{block_on, LiveTasks};
use crate::op::{
    Blocking, FilterMapOp, FilterOp, FlatMapOp, Inline, InspectOp, MapOp, Op, SyncOp, ThenOp,
    TryFilterMapOp, TryFlatMapOp, TryMapOp, TryThenOp,
};
use crate::sink::{join_all, outcome, RunIter, RunStream, SinkFuture};
use crate::source::{
    async_source, blocking_source, iter_source, make_emitter, stream_source, AsyncEmitter, Emitter,
};
use crate::stage::{spawn_ordered_or_not, RunCtx};
use crate::stats::{Kind, Local, StageStats, Stats};

type Spawn = Box<dyn FnOnce(&RunCtx) -> Vec<Task<()>> + Send>;

#[derive(Default)]
struct Plan {
    policy: ErrorPolicy,
    spawns: Vec<Spawn>,
    config_errors: Vec<Error>,
    bound: usize,
    started: bool,
}

/// One run's graph under construction, shared by its flows.
pub(crate) struct Graph {
    cancel: Cancel,
    live: LiveTasks,
    stats: Stats,
    errors: Errors,
    plan: Mutex<Plan>,
}

impl Graph {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one node: its spawn function if its settings are valid, or
    /// the configuration error.
    fn add(&self, cfg: &StageConfig, extra: Option<String>, bound: usize, spawn: Spawn) {
        let mut plan = self.plan();
        match (cfg.validate(), extra) {
            (Ok(()), None) => {
                plan.bound += bound;
                plan.spawns.push(spawn);
            }
            (Err(m), _) | (Ok(()), Some(m)) => plan.config_errors.push(Error::Config {
                stage: cfg.name.clone(),
                message: m,
            }),
        }
    }

    /// Spawns every task, once.
    fn start(&self) -> Result<(RunCtx, Vec<Task<()>>), Error> {
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

/// Errors that reached a sink as items under [`ErrorPolicy::Continue`]:
/// the sinks that take plain items (`for_each`, `collect`, ...) put them
/// here, in the order they arrived, so none is dropped.
#[derive(Debug, Clone, Default)]
pub struct Errors(Arc<Mutex<Vec<Error>>>);

impl Errors {
    fn push(&self, e: Error) {
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
    graph: Arc<Graph>,
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
        make: impl FnOnce(Sender<Packet<T>>, StageConfig, Local, &RunCtx) -> Task<()> + Send + 'static,
    ) -> Flow<T> {
        let cfg = cfg.into();
        let (tx, rx) = channel(cfg.buffer);
        let stats = StageStats::new(cfg.name.clone(), Kind::Source, 1);
        self.graph.stats.add(stats.clone());
        let bound = cfg.batch + cfg.buffer * cfg.batch;
        let batch = cfg.batch;
        let c = cfg.clone();
        self.graph.add(
            &cfg,
            None,
            bound,
            Box::new(move |ctx| vec![make(tx, c, Local::new(stats), ctx)]),
        );
        Flow {
            graph: self.graph.clone(),
            rx,
            batch,
        }
    }

    /// A source that sends every item of `iter`. The iterator runs on the
    /// executor: use [`from_blocking`](Self::from_blocking) for one that blocks.
    pub fn from_iter<I>(&self, cfg: impl Into<StageConfig>, iter: I) -> Flow<I::Item>
    where
        I: IntoIterator + Send + 'static,
        I::IntoIter: Send,
        I::Item: Send + 'static,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let w = Writer::new(tx, ctx.cancel.clone(), cfg.batch);
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
        S::Item: Send + 'static,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let w = Writer::new(tx, ctx.cancel.clone(), cfg.batch);
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
        T: Send + 'static,
        F: FnOnce(&mut Emitter<T>) + Send + 'static,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let em = make_emitter(tx, cfg.name.clone(), cfg.batch, stats, ctx);
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
        T: Send + 'static,
        F: FnOnce(AsyncEmitter<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.source(cfg, move |tx, cfg, stats, ctx| {
            let em = AsyncEmitter {
                inner: make_emitter(tx, cfg.name.clone(), 1, stats, ctx),
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
        let max_batch = flows.iter().map(|f| f.batch).max().unwrap_or(1);
        let (tx, rx) = channel(cfg.buffer);
        let stats = StageStats::new(cfg.name.clone(), Kind::Merge, flows.len());
        self.graph.stats.add(stats.clone());
        let bound = flows.iter().map(|f| f.batch).sum::<usize>() + cfg.buffer * max_batch;
        self.graph.add(
            &cfg,
            extra,
            bound,
            Box::new(move |ctx| {
                flows
                    .into_iter()
                    .map(|f| {
                        ctx.spawn(crate::merge::forward(
                            f.rx,
                            tx.clone(),
                            ctx.cancel.clone(),
                            Local::new(stats.clone()),
                        ))
                    })
                    .collect()
            }),
        );
        Flow {
            graph: self.graph.clone(),
            rx,
            batch: max_batch,
        }
    }
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

/// A stream of `T` inside a pipeline under construction: the output of a
/// source, stage or merge. Add stages to it, then end it with a sink.
///
/// Cloning a flow makes one more reader of the same channel: two stages
/// built on clones of one flow share its items between them (fan-out, the
/// article's two `sq` readers of one channel), they do not each get a copy.
pub struct Flow<T> {
    graph: Arc<Graph>,
    rx: Receiver<Packet<T>>,
    batch: usize,
}

impl<T> Clone for Flow<T> {
    fn clone(&self) -> Self {
        Flow {
            graph: self.graph.clone(),
            rx: self.rx.clone(),
            batch: self.batch,
        }
    }
}

impl<T: Send + 'static> Flow<T> {
    fn stage<U: Send + 'static, O: Op<T, U>>(self, cfg: StageConfig, op: O) -> Flow<U> {
        let (tx, rx) = channel(cfg.buffer);
        let stats = StageStats::new(cfg.name.clone(), Kind::Stage, cfg.workers);
        self.graph.stats.add(stats.clone());
        let (b_in, b_out, w) = (self.batch, cfg.batch, cfg.workers);
        let held = if cfg.ordered {
            b_in + w + cfg.window_len() + b_out - 1
        } else {
            w * (b_in + b_out - 1)
        };
        let input = self.rx;
        let c = cfg.clone();
        self.graph.add(
            &cfg,
            None,
            held + cfg.buffer * b_out,
            Box::new(move |ctx| spawn_ordered_or_not(op, &c, input, tx, &stats, ctx)),
        );
        Flow {
            graph: self.graph,
            rx,
            batch: b_out,
        }
    }

    fn sync_stage<U: Send + 'static, S: SyncOp<T, U>>(
        self,
        cfg: impl Into<StageConfig>,
        op: S,
    ) -> Flow<U> {
        let cfg = cfg.into();
        if cfg.blocking {
            let cancel = self.graph.cancel.clone();
            self.stage(
                cfg,
                Blocking {
                    op: Arc::new(op),
                    cancel,
                },
            )
        } else {
            self.stage(cfg, Inline(op))
        }
    }

    /// Applies `f` to every item.
    ///
    /// ```
    /// use pipeline_core::{Pipeline, StageConfig};
    /// let v = Pipeline::new()
    ///     .from_iter("gen", 1..=3u32)
    ///     .map(StageConfig::new("double").workers(2).ordered(), |n| n * 2)
    ///     .collect::<Vec<_>>()
    ///     .run()
    ///     .unwrap();
    /// assert_eq!(v, [2, 4, 6]);
    /// ```
    pub fn map<U, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.sync_stage(cfg, MapOp(f))
    }

    /// Applies a fallible `f` to every item; an `Err` follows the run's
    /// [`ErrorPolicy`].
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let err = Pipeline::new()
    ///     .from_iter("gen", ["1", "2", "x"])
    ///     .try_map("parse", |s| s.parse::<u32>())
    ///     .collect::<Vec<_>>()
    ///     .run()
    ///     .unwrap_err();
    /// assert_eq!(err.stage_name(), Some("parse"));
    /// ```
    pub fn try_map<U, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        E: Into<BoxError>,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, TryMapOp(f))
    }

    /// Keeps the items for which `f` returns true.
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let n = Pipeline::new().from_iter("gen", 0..10u32).filter("even", |n| n % 2 == 0)
    ///     .fold(0, |a, _| a + 1).run().unwrap();
    /// assert_eq!(n, 5);
    /// ```
    pub fn filter<F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.sync_stage(cfg, FilterOp(f))
    }

    /// Applies `f` and keeps the `Some` results.
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    /// let mut v = Pipeline::new().from_iter("gen", ["1", "x", "3"])
    ///     .filter_map("parse", |s| s.parse::<u32>().ok())
    ///     .collect::<Vec<_>>().run().unwrap();
    /// v.sort();
    /// assert_eq!(v, [1, 3]);
    /// ```
    pub fn filter_map<U, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        F: Fn(T) -> Option<U> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, FilterMapOp(f))
    }

    /// Fallible [`filter_map`](Self::filter_map): `Ok(None)` drops the item,
    /// `Err` follows the run's [`ErrorPolicy`].
    pub fn try_filter_map<U, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        E: Into<BoxError>,
        F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, TryFilterMapOp(f))
    }

    /// Applies `f` and sends every item of what it returns.
    ///
    /// ```
    /// use pipeline_core::{Pipeline, StageConfig};
    /// let v = Pipeline::new().from_iter("gen", 1..=3u32)
    ///     .flat_map(StageConfig::new("repeat").ordered(), |n| vec![n; n as usize])
    ///     .collect::<Vec<_>>().run().unwrap();
    /// assert_eq!(v, [1, 2, 2, 3, 3, 3]);
    /// ```
    pub fn flat_map<U, I, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        F: Fn(T) -> I + Send + Sync + 'static,
    {
        self.sync_stage(cfg, FlatMapOp(f))
    }

    /// Fallible [`flat_map`](Self::flat_map).
    pub fn try_flat_map<U, I, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        E: Into<BoxError>,
        F: Fn(T) -> Result<I, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, TryFlatMapOp(f))
    }

    /// Calls `f` on every item and passes it on unchanged.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use pipeline_core::Pipeline;
    /// let seen = Arc::new(AtomicU32::new(0));
    /// let s = seen.clone();
    /// Pipeline::new().from_iter("gen", 0..5u32)
    ///     .inspect("count", move |_| { s.fetch_add(1, Ordering::Relaxed); })
    ///     .for_each(|_| {}).run().unwrap();
    /// assert_eq!(seen.load(Ordering::Relaxed), 5);
    /// ```
    pub fn inspect<F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<T>
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.sync_stage(cfg, InspectOp(f))
    }

    /// Applies an async `f` to every item (an async closure or `async fn`).
    /// `blocking` has no effect on async stages.
    ///
    /// ```
    /// use pipeline_core::{Pipeline, StageConfig};
    /// async fn square(n: u64) -> u64 { n * n }
    /// let v = Pipeline::new().from_iter("gen", 1..=3u64)
    ///     .then(StageConfig::new("sq").workers(8).ordered(), square)
    ///     .collect::<Vec<_>>().run().unwrap();
    /// assert_eq!(v, [1, 4, 9]);
    /// ```
    pub fn then<U, F, Fut>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = U> + Send + 'static,
    {
        self.stage(cfg.into(), ThenOp(f))
    }

    /// Fallible [`then`](Self::then).
    pub fn try_then<U, E, F, Fut>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Send + 'static,
        E: Into<BoxError>,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send + 'static,
    {
        self.stage(cfg.into(), TryThenOp(f))
    }

    /// Fan-in of this flow and `others` (see [`Pipeline::merge`]).
    pub fn merge(
        self,
        cfg: impl Into<StageConfig>,
        others: impl IntoIterator<Item = Flow<T>>,
    ) -> Flow<T> {
        let p = Pipeline {
            graph: self.graph.clone(),
        };
        p.merge(cfg, std::iter::once(self).chain(others))
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> Cancel {
        self.graph.cancel.clone()
    }

    /// The pipeline this flow belongs to (its stats, live tasks, errors).
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            graph: self.graph.clone(),
        }
    }

    fn sink<O, F, Fut>(self, f: F) -> Run<O>
    where
        O: Send + 'static,
        F: FnOnce(Reader<T>, Local, Errors) -> Fut + Send + 'static,
        Fut: Future<Output = (O, bool)> + Send + 'static,
    {
        let batch = self.batch;
        let rx = self.rx;
        let errors = self.graph.errors.clone();
        Run {
            graph: self.graph,
            name: "sink".into(),
            held: batch,
            sink: Box::new(move |cancel, stats| {
                Box::pin(f(Reader::new(rx, cancel), stats, errors))
            }),
        }
    }

    /// Ends the pipeline: calls `f` on every item, in the caller's task.
    pub fn for_each<F>(self, mut f: F) -> Run<()>
    where
        F: FnMut(T) + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            while let Some(m) = r.next(&mut stats).await {
                match m {
                    Ok(t) => f(t),
                    Err(e) => errors.push(e),
                }
            }
            ((), r.exhausted())
        })
    }

    /// Ends the pipeline: folds every item into an accumulator.
    pub fn fold<A, F>(self, init: A, mut f: F) -> Run<A>
    where
        A: Send + 'static,
        F: FnMut(A, T) -> A + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            let mut acc = init;
            while let Some(m) = r.next(&mut stats).await {
                match m {
                    Ok(t) => acc = f(acc, t),
                    Err(e) => errors.push(e),
                }
            }
            (acc, r.exhausted())
        })
    }

    /// Ends the pipeline: collects every item.
    pub fn collect<C>(self) -> Run<C>
    where
        C: Default + Extend<T> + Send + 'static,
    {
        self.fold(C::default(), |mut c, t| {
            c.extend(std::iter::once(t));
            c
        })
    }

    /// Ends the pipeline after the first item: the rest of the run is
    /// cancelled and every task ends (the article's early stop).
    pub fn first(self) -> Run<Option<T>> {
        self.sink(move |mut r, mut stats, errors| async move {
            while let Some(m) = r.next(&mut stats).await {
                match m {
                    Ok(t) => return (Some(t), false),
                    Err(e) => errors.push(e),
                }
            }
            (None, r.exhausted())
        })
    }

    /// Ends the pipeline after `n` items, cancelling the rest of the run.
    ///
    /// ```
    /// use pipeline_core::{Pipeline, StageConfig};
    /// let v = Pipeline::new().from_iter("gen", 0u64..)
    ///     .map(StageConfig::new("sq").ordered().workers(2), |n| n * n)
    ///     .take(3).run().unwrap();
    /// assert_eq!(v, [0, 1, 4]);
    /// ```
    pub fn take(self, n: usize) -> Run<Vec<T>> {
        self.sink(move |mut r, mut stats, errors| async move {
            let mut v = Vec::with_capacity(n.min(1024));
            while v.len() < n {
                match r.next(&mut stats).await {
                    Some(Ok(t)) => v.push(t),
                    Some(Err(e)) => errors.push(e),
                    None => break,
                }
            }
            let exhausted = r.exhausted();
            (v, exhausted)
        })
    }

    /// Starts the run and hands its output to the caller as a [`RunStream`].
    ///
    /// ```
    /// use futures::StreamExt;
    /// use pipeline_core::Pipeline;
    /// let v: Vec<u32> = smol::block_on(
    ///     Pipeline::new().from_iter("gen", 0..3u32).stream().map(Result::unwrap).collect(),
    /// );
    /// assert_eq!(v, [0, 1, 2]);
    /// ```
    pub fn stream(self) -> RunStream<T> {
        self.named_stream("sink")
    }

    /// [`stream`](Self::stream) with the sink's row in the stats named
    /// `name` (what `pipeline!` uses for a `sink stream()` stage).
    pub fn named_stream(self, name: impl Into<Arc<str>>) -> RunStream<T> {
        let stats = StageStats::new(name.into(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let cancel = self.graph.cancel.clone();
        let reader = Reader::new(self.rx, cancel.clone());
        match self.graph.start() {
            Ok((_, tasks)) => RunStream::new(reader, Local::new(stats), cancel, tasks, None),
            Err(e) => RunStream::new(reader, Local::new(stats), cancel, Vec::new(), Some(e)),
        }
    }

    /// Starts the run and hands its output to the caller as a blocking
    /// [`RunIter`].
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    ///
    /// let p = Pipeline::new();
    /// let live = p.live_tasks();
    /// let mut it = p.from_iter("gen", 1u64..).map("sq", |n| n * n).iter();
    /// assert_eq!(it.next().unwrap().unwrap(), 1);
    /// drop(it); // cancels the run and waits for its tasks
    /// assert_eq!(live.get(), 0);
    /// ```
    pub fn iter(self) -> RunIter<T> {
        RunIter::new(self.stream())
    }

    /// [`iter`](Self::iter) with the sink's row in the stats named `name`
    /// (what `pipeline!` uses for a `sink iter()` stage).
    pub fn named_iter(self, name: impl Into<Arc<str>>) -> RunIter<T> {
        RunIter::new(self.named_stream(name))
    }
}

/// A sink: consumes the last flow; says what it made and whether its input
/// was exhausted (rather than left early).
type SinkFn<O> = Box<dyn FnOnce(Cancel, Local) -> SinkFuture<(O, bool)> + Send>;

/// A declared pipeline, ended by a sink, ready to run once.
#[must_use = "a Run does nothing until .run() or .run_async()"]
pub struct Run<O> {
    graph: Arc<Graph>,
    name: Arc<str>,
    held: usize,
    sink: SinkFn<O>,
}

impl<O: Send + 'static> Run<O> {
    /// Names the sink (its row in the stats, its panics).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs the pipeline to the end, blocking the calling thread while the
    /// executor's threads run the stages.
    ///
    /// # Errors
    /// The run's first error ([`Error::Stage`], [`Error::Panic`]),
    /// [`Error::Cancelled`] if cancelled from outside, [`Error::Config`] if a
    /// setting is invalid (then nothing ran). Every task of the run has ended
    /// when this returns, whatever it returns.
    pub fn run(self) -> Result<O, Error> {
        block_on(self.run_async())
    }

    /// Runs the pipeline inside async code; see [`run`](Self::run).
    pub async fn run_async(self) -> Result<O, Error> {
        let stats = StageStats::new(self.name.clone(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let (ctx, tasks) = self.graph.start()?;
        let fut = (self.sink)(ctx.cancel.clone(), Local::new(stats));
        let out = crate::cancel::WithCancel {
            cancel: ctx.cancel.clone(),
            fut: Box::pin(AssertUnwindSafe(fut).catch_unwind()),
        }
        .await;
        let out = match out {
            Ok((out, exhausted)) => {
                if !exhausted {
                    // The sink left early: release every stage still
                    // running. Errors they raise from now on are echoes.
                    ctx.cancel.finish();
                }
                Some(out)
            }
            Err(p) => {
                ctx.cancel.fail(Error::Panic {
                    stage: self.name.clone(),
                    message: panic_message(&*p),
                });
                None
            }
        };
        // Every sender is gone or released: wait for every task. A task that
        // fails while it ends (a panic unwinding past its sender) is still
        // heard, since nothing was marked finished.
        join_all(tasks).await;
        outcome(&ctx.cancel)?;
        Ok(out.expect("a sink panic is recorded as the run's error"))
    }

    /// The most items that can be in flight at once in this run: between
    /// leaving a source and being consumed by the sink. Holds for stages that
    /// emit at most one item per input (not `flat_map`).
    pub fn in_flight_bound(&self) -> usize {
        self.graph.plan().bound + self.held
    }

    /// The run's per-stage counters.
    pub fn stats(&self) -> Stats {
        self.graph.stats.clone()
    }

    /// The run's live-task counter.
    pub fn live_tasks(&self) -> LiveTasks {
        self.graph.live.clone()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> Cancel {
        self.graph.cancel.clone()
    }

    /// Errors that reach this run's sink as items under
    /// [`ErrorPolicy::Continue`] (see [`Pipeline::errors`]).
    pub fn errors(&self) -> Errors {
        self.graph.errors.clone()
    }
}
