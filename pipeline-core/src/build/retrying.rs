//! [`Retrying`]: the `try_` stages of a flow whose items can be cloned,
//! which honour their config's [`retry`](crate::StageConfig::retry).

use std::future::Future;

use crate::build::guard::{stage_misfit, Calls};
use crate::build::{Flow, StageConfig};
use crate::error::BoxError;
use crate::node::op::{Inline, Op, SyncOp, TryFilterMapOp, TryFlatMapOp, TryMapOp, TryThenOp};
use crate::node::retried::Retried;
use crate::node::timed::Timed;
use crate::stats::{Kind, StageStats};
use crate::Item;

/// A flow about to get a `try_` stage that retries the items whose call
/// fails, as its [`StageConfig::retry`] says; made by [`Flow::retrying`].
///
/// A retry calls the function again with a clone of the item (the last
/// attempt gets the item itself), hence `T: Clone`. Each method is the
/// [`Flow`] method of the same name; a stage whose config has no `retry`
/// (or one attempt) is exactly that stage, with no cost for retrying.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use pipeline_core::{Pipeline, Retry, StageConfig};
///
/// // Item 3 fails twice before it succeeds.
/// let failures = AtomicU32::new(0);
/// let p = Pipeline::new();
/// let stats = p.stats();
/// let got = p
///     .from_iter("gen", 1..=5u32)
///     .retrying()
///     .try_map(
///         StageConfig::new("flaky").retry(Retry::attempts(3).backoff(Duration::from_millis(1))),
///         move |n| {
///             if n == 3 && failures.fetch_add(1, Ordering::Relaxed) < 2 {
///                 Err("not yet")
///             } else {
///                 Ok(n * 10)
///             }
///         },
///     )
///     .collect::<Vec<_>>()
///     .run()?;
/// assert_eq!(got, [10, 20, 30, 40, 50]);
/// assert_eq!(stats.stage("flaky").unwrap().retries, 2);
/// # Ok::<(), pipeline_core::Error>(())
/// ```
#[must_use = "a Retrying flow declares nothing until one of its try_ stages is added"]
pub struct Retrying<T> {
    flow: Flow<T>,
}

impl<T> Flow<T> {
    /// The next stage, a `try_` one, retries the items whose call fails,
    /// as its [`StageConfig::retry`] says (see [`Retrying`]; its stages
    /// need `T: Clone`). Without this call a `try_` stage cannot clone its
    /// items, and a `retry` of more than one attempt on it is refused when
    /// the run starts.
    pub fn retrying(self) -> Retrying<T> {
        Retrying { flow: self }
    }
}

impl<T: Clone + Send + 'static> Retrying<T> {
    /// [`Flow::try_map`], retried.
    pub fn try_map<U, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        E: Into<BoxError>,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg.into(), TryMapOp(f))
    }

    /// [`Flow::try_filter_map`], retried.
    pub fn try_filter_map<U, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        E: Into<BoxError>,
        F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg.into(), TryFilterMapOp(f))
    }

    /// [`Flow::try_flat_map`], retried: an attempt is the call that
    /// returns the iterator.
    pub fn try_flat_map<U, I, E, F>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        I: IntoIterator<Item = U>,
        I::IntoIter: Send + 'static,
        E: Into<BoxError>,
        F: Fn(T) -> Result<I, E> + Send + Sync + 'static,
    {
        self.sync_stage(cfg.into(), TryFlatMapOp(f))
    }

    /// [`Flow::try_then`], retried: each attempt is a fresh future, and
    /// with an item timeout each has the whole limit.
    pub fn try_then<U, E, F, Fut>(self, cfg: impl Into<StageConfig>, f: F) -> Flow<U>
    where
        U: Item,
        E: Into<BoxError>,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send + 'static,
    {
        let cfg = cfg.into();
        let op = TryThenOp(f);
        match cfg.item_timeout {
            Some(limit) => self.stage(cfg, Timed { op, limit }),
            None => self.stage(cfg, op),
        }
    }

    fn sync_stage<U: Send + 'static, S: SyncOp<T, U>>(self, cfg: StageConfig, op: S) -> Flow<U> {
        if cfg.blocking {
            let op = self.flow.blocking_op(&cfg, op);
            self.stage(cfg, op)
        } else {
            self.stage(cfg, Inline(op))
        }
    }

    /// The stage calling `op` once per attempt, retried if `cfg` asks
    /// for more than one.
    fn stage<U: Send + 'static, O: Op<T, U>>(self, cfg: StageConfig, op: O) -> Flow<U> {
        let stats = StageStats::new(cfg.name.clone(), Kind::Stage, cfg.workers);
        let calls = Calls {
            inline: O::INLINE,
            blocking: O::BLOCKING,
            retrying: true,
        };
        let misfit = stage_misfit(&cfg, calls);
        match cfg.retry.clone().filter(|r| r.max_attempts() > 1) {
            Some(retry) => {
                let cancel = self.flow.graph.stop.cancel().clone();
                let op = Retried::new(op, retry, cancel, stats.clone());
                self.flow.node(cfg, stats, op, misfit)
            }
            None => self.flow.node(cfg, stats, op, misfit),
        }
    }
}
