//! A [`Flow`]: the output of a source, stage or merge, and the stages that
//! grow from it.

use std::future::Future;
use std::sync::Arc;

use crate::build::bound::held_by_workers;
use crate::build::guard::{stage_misfit, Calls};
use crate::build::{Graph, Pipeline};
use crate::build::{StageConfig, PREALLOCATED_ITEMS};
use crate::cancel::Cancel;
use crate::error::BoxError;
use crate::link::{link, LinkRx};
use crate::node::op::{
    Blocking, FilterMapOp, FilterOp, FlatMapOp, Inline, InspectOp, MapOp, Op, SyncOp, ThenOp,
    TryFilterMapOp, TryFlatMapOp, TryMapOp, TryThenOp,
};
use crate::node::ordered::spawn_ordered;
use crate::node::timed::Timed;
use crate::node::worker::spawn_unordered;
use crate::run::pool::Share;
use crate::stats::{Kind, StageStats};
use crate::Item;

/// A stream of `T` inside a pipeline under construction: the output of a
/// source, stage or merge. Add stages to it, then end it with a sink.
///
/// Cloning a flow makes one more reader of the same channel: two stages
/// built on clones of one flow share its items between them (fan-out, the
/// article's two `sq` readers of one channel), they do not each get a copy.
///
/// Every flow built must be read: by a stage, a merge, or the sink that
/// runs. A stage whose output is dropped (or ends in a sink that is not
/// the one run) would take items from its input and lose them, so the run
/// refuses to start and returns [`Error::Config`](crate::Error::Config)
/// naming that stage. A clone dropped unread is harmless when another
/// reader of the same flow exists: a reader that never reads takes no item.
pub struct Flow<T> {
    pub(crate) graph: Arc<Graph>,
    pub(crate) rx: LinkRx<T>,
    pub(crate) batch: usize,
    /// The node whose output this is, in its graph.
    pub(crate) node: usize,
}

impl<T> Flow<T> {
    /// The most items one reader of this flow holds outside the count of
    /// its link: none if the link is counted by permits (the packet being
    /// read holds them), otherwise a packet.
    pub(crate) fn held_in(&self) -> usize {
        if self.rx.counted() {
            0
        } else {
            self.batch
        }
    }
}

impl<T> Clone for Flow<T> {
    fn clone(&self) -> Self {
        Flow {
            graph: self.graph.clone(),
            rx: self.rx.clone(),
            batch: self.batch,
            node: self.node,
        }
    }
}

impl<T: Send + 'static> Flow<T> {
    /// A stage calling `op`, with counters of its own.
    fn stage<U: Send + 'static, O: Op<T, U>>(self, cfg: StageConfig, op: O) -> Flow<U> {
        let stats = StageStats::new(cfg.name.clone(), Kind::Stage, cfg.workers);
        let calls = Calls {
            inline: O::INLINE,
            blocking: O::BLOCKING,
            retrying: false,
        };
        let misfit = stage_misfit(&cfg, calls);
        self.node(cfg, stats, op, misfit)
    }

    /// Declares the stage calling `op` with counters `stats`; `misfit`
    /// says what in `cfg` it cannot honour, if anything (then the run
    /// refuses to start).
    pub(crate) fn node<U: Send + 'static, O: Op<T, U>>(
        self,
        cfg: StageConfig,
        stats: Arc<StageStats>,
        op: O,
        misfit: Option<String>,
    ) -> Flow<U> {
        let (tx, rx) = link(&cfg, &self.graph.stop);
        self.graph.stats.add(stats.clone());
        // What the workers hold, and the link; see `StageConfig`'s docs.
        let held = held_by_workers(&cfg, self.held_in());
        let b_out = cfg.packet_cap();
        let input = self.rx;
        let c = cfg.clone();
        let node = self.graph.add(
            &cfg,
            misfit,
            held.saturating_add(cfg.channel_items()),
            &[self.node],
            Box::new(move |ctx| {
                if c.ordered {
                    spawn_ordered(op, &c, input, tx, &stats, ctx)
                } else {
                    spawn_unordered(op, &c, input, tx, &stats, ctx)
                }
            }),
        );
        Flow {
            graph: self.graph,
            rx,
            batch: b_out,
            node,
        }
    }

    /// `op` run on the blocking pool as `cfg` says: a thread per worker,
    /// the item timeout if any.
    pub(crate) fn blocking_op<S>(&self, cfg: &StageConfig, op: S) -> Blocking<S> {
        Blocking {
            op: Arc::new(op),
            stop: self.graph.stop.clone(),
            share: Share::new(cfg.workers),
            // A flat_map's iterator runs a chunk at a time: at most a
            // packet, and at most the buffer.
            chunk: cfg.packet_cap().min(cfg.buffer).min(PREALLOCATED_ITEMS),
            name: cfg.name.clone(),
            limit: cfg.item_timeout,
            live: self.graph.live.clone(),
        }
    }

    fn sync_stage<U: Send + 'static, S: SyncOp<T, U>>(
        self,
        cfg: impl Into<StageConfig>,
        op: S,
    ) -> Flow<U> {
        let cfg = cfg.into();
        if cfg.blocking {
            let op = self.blocking_op(&cfg, op);
            self.stage(cfg, op)
        } else {
            self.stage(cfg, Inline(op))
        }
    }

    /// An async stage calling `op`, within the item timeout if any.
    fn async_stage<U, O>(self, cfg: StageConfig, op: O) -> Flow<U>
    where
        U: Send + 'static,
        O: Op<T, U>,
    {
        match cfg.item_timeout {
            Some(limit) => self.stage(cfg, Timed { op, limit }),
            None => self.stage(cfg, op),
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
        U: Item,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.sync_stage(cfg, MapOp(f))
    }

    /// Applies a fallible `f` to every item; an `Err` follows the run's
    /// [`ErrorPolicy`](crate::ErrorPolicy).
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
        U: Item,
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
        U: Item,
        F: Fn(T) -> Option<U> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, FilterMapOp(f))
    }

    /// Fallible [`filter_map`](Self::filter_map): `Ok(None)` drops the item,
    /// `Err` follows the run's [`ErrorPolicy`](crate::ErrorPolicy).
    pub fn try_filter_map<U, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        E: Into<BoxError>,
        F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg, TryFilterMapOp(f))
    }

    /// Applies `f` and sends every item of what it returns.
    ///
    /// The iterator is consumed lazily: each item is made when the one
    /// before it has been sent, so an iterator of any length, even an
    /// endless one, holds no more items than the stage's buffer and packet,
    /// and a cancel (or a sink that has what it wants, as `first()`) stops
    /// it. On a [`blocking`](StageConfig::blocking) stage the iterator runs
    /// on the blocking pool too, a chunk of up to a packet (and at most the
    /// buffer) at a time. An iterator that panics fails the run with
    /// [`Error::Panic`](crate::Error::Panic) naming the stage. Since it
    /// outlives the call that made it, the iterator must be `Send +
    /// 'static` (own what it iterates: `vec.into_iter()`, not `vec.iter()`).
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
        U: Item,
        I: IntoIterator<Item = U>,
        I::IntoIter: Send + 'static,
        F: Fn(T) -> I + Send + Sync + 'static,
    {
        self.sync_stage(cfg, FlatMapOp(f))
    }

    /// Fallible [`flat_map`](Self::flat_map).
    pub fn try_flat_map<U, I, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        I: IntoIterator<Item = U>,
        I::IntoIter: Send + 'static,
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
        U: Item,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = U> + Send + 'static,
    {
        self.async_stage(cfg.into(), ThenOp(f))
    }

    /// Fallible [`then`](Self::then).
    pub fn try_then<U, E, F, Fut>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        E: Into<BoxError>,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send + 'static,
    {
        self.async_stage(cfg.into(), TryThenOp(f))
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
        self.graph.stop.cancel().clone()
    }

    /// The pipeline this flow belongs to (its stats, live tasks, errors).
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            graph: self.graph.clone(),
        }
    }
}
