//! Stage functions: what a worker calls for each item.
//!
//! Plain closures run inline on the worker; `blocking` ones run on smol's
//! blocking pool; async ones are awaited. All return an [`Out`]: zero, one or
//! many items, or an error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{ready, Ready};

use crate::build::PREALLOCATED_ITEMS;
use crate::error::BoxError;
use crate::executor::LiveTasks;
use crate::node::many::{Chunks, Many};
use crate::node::timed::unblock_within;
use crate::run::pool::Share;
use crate::stop::Stop;

/// What one call of a stage function produced.
pub(crate) enum Out<U> {
    None,
    One(U),
    /// A `flat_map`'s items, made as they are sent.
    Many(Many<U>),
}

pub(crate) type OpResult<U> = Result<Out<U>, BoxError>;

/// A stage function as the worker sees it. Its [`Bulk`] side is that of
/// the plain function for [`Inline`], and none for the others.
pub(crate) trait Op<T, U>: Bulk<T, U> + Send + Sync + 'static {
    type Fut: Future<Output = OpResult<U>> + Send;
    /// Whether a call still waiting at a cancel may simply be dropped. True
    /// for async functions; false for blocking ones, whose thread cannot be
    /// stopped: the worker waits for them (they check the signal between
    /// chunks), so no work outlives the run.
    const DROP_AT_CANCEL: bool = true;
    /// Whether every call is a plain function run inline, which never
    /// waits ([`Inline`]); false for async and blocking functions.
    const INLINE: bool = false;
    /// Whether calls run on the blocking pool ([`Blocking`]).
    const BLOCKING: bool = false;
    fn call(&self, item: T) -> Self::Fut;
    /// Calls the function at once if it is a plain function run inline,
    /// with no future in between (the per-item fast path); otherwise hands
    /// the item back for [`call`](Self::call).
    #[inline]
    fn call_inline(&self, item: T) -> Result<OpResult<U>, T> {
        Err(item)
    }
    /// Calls a blocking function on this thread, which is a worker's own
    /// ([`own_thread`](crate::node::own_thread)), if it may run here;
    /// otherwise hands the item back for [`call`](Self::call).
    fn call_here(&self, item: T) -> Result<OpResult<U>, T> {
        Err(item)
    }
}

/// Mapping a batch of items in one loop, for functions that map every
/// item to exactly one, infallibly (`map`); the defaults are for all the
/// others, which go item by item.
pub(crate) trait Bulk<T, U> {
    /// Whether [`map_bulk`](Self::map_bulk) does the work.
    const MAP_BULK: bool = false;
    /// If [`MAP_BULK`](Self::MAP_BULK): moves up to `max` items of `items`
    /// through the function into `out` in one loop (which the compiler can
    /// vectorize). Otherwise does nothing.
    #[inline]
    fn map_bulk(&self, items: &mut std::vec::IntoIter<T>, out: &mut Vec<U>, max: usize) {
        let _ = (items, out, max);
    }
    /// If [`MAP_BULK`](Self::MAP_BULK): maps a whole batch into a batch,
    /// in its allocation when `T` and `U` have the same layout (std's
    /// in-place collect), in one loop the compiler sees from its start.
    /// Otherwise hands the batch back.
    #[inline]
    fn map_batch(&self, batch: Vec<T>) -> Result<Vec<U>, Vec<T>> {
        Err(batch)
    }
    /// If [`MAP_BULK`](Self::MAP_BULK): like [`map_bulk`](Self::map_bulk),
    /// but asks `stop` after every item and stops once it says so (the
    /// consumer went idle: adaptive batching). Otherwise does nothing.
    #[inline]
    fn map_bulk_until(
        &self,
        items: &mut std::vec::IntoIter<T>,
        out: &mut Vec<U>,
        max: usize,
        stop: &impl Fn() -> bool,
    ) {
        let _ = (items, out, max, stop);
    }
}

/// A synchronous stage function.
pub(crate) trait SyncOp<T, U>: Bulk<T, U> + Send + Sync + 'static {
    fn call(&self, item: T) -> OpResult<U>;
}

/// Runs a [`SyncOp`] inline, on the worker's thread.
pub(crate) struct Inline<S>(pub(crate) S);

impl<T, U: Send, S: SyncOp<T, U>> Op<T, U> for Inline<S> {
    type Fut = Ready<OpResult<U>>;
    const INLINE: bool = true;
    #[inline]
    fn call(&self, item: T) -> Self::Fut {
        ready(self.0.call(item))
    }
    #[inline]
    fn call_inline(&self, item: T) -> Result<OpResult<U>, T> {
        Ok(self.0.call(item))
    }
}

impl<T, U, S: Bulk<T, U>> Bulk<T, U> for Inline<S> {
    const MAP_BULK: bool = S::MAP_BULK;
    #[inline]
    fn map_bulk(&self, items: &mut std::vec::IntoIter<T>, out: &mut Vec<U>, max: usize) {
        self.0.map_bulk(items, out, max);
    }
    #[inline]
    fn map_batch(&self, batch: Vec<T>) -> Result<Vec<U>, Vec<T>> {
        self.0.map_batch(batch)
    }
    #[inline]
    fn map_bulk_until(
        &self,
        items: &mut std::vec::IntoIter<T>,
        out: &mut Vec<U>,
        max: usize,
        stop: &impl Fn() -> bool,
    ) {
        self.0.map_bulk_until(items, out, max, stop);
    }
}

/// Runs a [`SyncOp`] on the blocking thread pool, with the run's signal
/// as [`Cancel::current`](crate::Cancel::current) there. A `flat_map`'s
/// iterator runs there too, a chunk of at most `chunk` items at a time.
pub(crate) struct Blocking<S> {
    pub(crate) op: Arc<S>,
    /// The run's stop: its signal, and where a call that could not start
    /// fails the run.
    pub(crate) stop: Stop,
    /// The stage's share of the pool: a thread per worker.
    pub(crate) share: Share,
    pub(crate) chunk: usize,
    /// The stage's name, for the error when no thread can be started.
    pub(crate) name: Arc<str>,
    /// The stage's item timeout, if it has one (see [`unblock_within`]).
    pub(crate) limit: Option<Duration>,
    /// The run's live count: a call handed to the pool counts in it until
    /// it returns, even if the task that awaited it is dropped first (the
    /// run's future dropped), as a worker on a thread of its own does.
    pub(crate) live: LiveTasks,
}

impl<T: Send + 'static, U: Send + 'static, S: SyncOp<T, U>> Op<T, U> for Blocking<S> {
    type Fut = Pin<Box<dyn Future<Output = OpResult<U>> + Send>>;
    const DROP_AT_CANCEL: bool = false;
    const BLOCKING: bool = true;
    /// With no item timeout, the call runs here, with the run's signal
    /// current already (on a worker's own thread,
    /// [`own_thread`](crate::node::own_thread)).
    fn call_here(&self, item: T) -> Result<OpResult<U>, T> {
        if self.limit.is_none() {
            Ok(self.op.call(item))
        } else {
            Err(item)
        }
    }
    fn call(&self, item: T) -> Self::Fut {
        self.share.take();
        let op = self.op.clone();
        let stop = self.stop.clone();
        let chunk = self.chunk;
        let name = self.name.clone();
        let limit = self.limit;
        let live = self.live.clone();
        let guard = live.guard();
        Box::pin(async move {
            let c = stop.cancel().clone();
            let call = move || {
                let _live = guard;
                op.call(item)
            };
            let called = match limit {
                None => crate::run::blocking_pool::unblock(move || c.enter(call)).await,
                Some(limit) => unblock_within(limit, &c, call)
                    .await
                    .map(|r| r.unwrap_or_else(|late| Err(Box::new(late) as BoxError))),
            };
            match called {
                Ok(Ok(Out::Many(Many::Iter(it)))) => Ok(Out::Many(Many::Chunks(Chunks::new(
                    it,
                    chunk,
                    stop.cancel().clone(),
                    live,
                )))),
                Ok(other) => other,
                // No thread for the call: the system is out of threads or
                // memory, which no item's error policy can work around.
                // The run fails with it, once, whatever the policy.
                Err(unstarted) => {
                    let echo = std::io::Error::new(unstarted.kind(), unstarted.to_string());
                    stop.fail(crate::Error::Stage {
                        stage: name,
                        source: Arc::new(unstarted),
                    });
                    Err(Box::new(echo) as BoxError)
                }
            }
        })
    }
}

/// `map`: one in, one out.
pub(crate) struct MapOp<F>(pub(crate) F);
impl<T, U, F: Fn(T) -> U + Send + Sync + 'static> SyncOp<T, U> for MapOp<F> {
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        Ok(Out::One((self.0)(x)))
    }
}
impl<T, U, F: Fn(T) -> U> Bulk<T, U> for MapOp<F> {
    const MAP_BULK: bool = true;
    #[inline]
    fn map_bulk(&self, items: &mut std::vec::IntoIter<T>, out: &mut Vec<U>, max: usize) {
        if out.is_empty() && items.len() <= max {
            // The whole rest of the input batch becomes the output batch:
            // collected in place, in the input's allocation, when `T` and
            // `U` have the same layout (std's in-place collect), so the
            // batch travels on without a new allocation.
            let rest = std::mem::replace(items, Vec::new().into_iter());
            *out = rest.map(&self.0).collect();
        } else {
            out.extend(items.take(max).map(&self.0));
        }
    }
    #[inline]
    fn map_batch(&self, batch: Vec<T>) -> Result<Vec<U>, Vec<T>> {
        Ok(batch.into_iter().map(&self.0).collect())
    }
    #[inline]
    fn map_bulk_until(
        &self,
        items: &mut std::vec::IntoIter<T>,
        out: &mut Vec<U>,
        max: usize,
        stop: &impl Fn() -> bool,
    ) {
        if out.capacity() == 0 {
            out.reserve_exact(max.min(PREALLOCATED_ITEMS));
        }
        for item in items.take(max) {
            out.push((self.0)(item));
            if stop() {
                break;
            }
        }
    }
}

/// `filter_map`: one in, zero or one out.
pub(crate) struct FilterMapOp<F>(pub(crate) F);
impl<T, U, F: Fn(T) -> Option<U> + Send + Sync + 'static> SyncOp<T, U> for FilterMapOp<F> {
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        Ok((self.0)(x).map_or(Out::None, Out::One))
    }
}

/// `try_map`: one in, one out or an error.
pub(crate) struct TryMapOp<F>(pub(crate) F);
impl<T, U, E, F> SyncOp<T, U> for TryMapOp<F>
where
    F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        (self.0)(x).map(Out::One).map_err(Into::into)
    }
}

/// `try_filter_map`: one in, zero or one out, or an error.
pub(crate) struct TryFilterMapOp<F>(pub(crate) F);
impl<T, U, E, F> SyncOp<T, U> for TryFilterMapOp<F>
where
    F: Fn(T) -> Result<Option<U>, E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        (self.0)(x)
            .map(|o| o.map_or(Out::None, Out::One))
            .map_err(Into::into)
    }
}

/// `filter`: keep the items for which the predicate holds.
pub(crate) struct FilterOp<F>(pub(crate) F);
impl<T, F: Fn(&T) -> bool + Send + Sync + 'static> SyncOp<T, T> for FilterOp<F> {
    #[inline]
    fn call(&self, x: T) -> OpResult<T> {
        Ok(if (self.0)(&x) { Out::One(x) } else { Out::None })
    }
}

/// `inspect`: look at each item, pass it on.
pub(crate) struct InspectOp<F>(pub(crate) F);
impl<T, F: Fn(&T) + Send + Sync + 'static> SyncOp<T, T> for InspectOp<F> {
    #[inline]
    fn call(&self, x: T) -> OpResult<T> {
        (self.0)(&x);
        Ok(Out::One(x))
    }
}

/// `flat_map`: one in, any number out, made as they are sent.
pub(crate) struct FlatMapOp<F>(pub(crate) F);
impl<T, U, I, F> SyncOp<T, U> for FlatMapOp<F>
where
    U: 'static,
    F: Fn(T) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = U>,
    I::IntoIter: Send + 'static,
{
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        Ok(Out::Many(Many::Iter(Box::new((self.0)(x).into_iter()))))
    }
}

/// `try_flat_map`: one in, any number out, or an error.
pub(crate) struct TryFlatMapOp<F>(pub(crate) F);
impl<T, U, I, E, F> SyncOp<T, U> for TryFlatMapOp<F>
where
    U: 'static,
    F: Fn(T) -> Result<I, E> + Send + Sync + 'static,
    I: IntoIterator<Item = U>,
    I::IntoIter: Send + 'static,
    E: Into<BoxError>,
{
    #[inline]
    fn call(&self, x: T) -> OpResult<U> {
        (self.0)(x)
            .map(|i| Out::Many(Many::Iter(Box::new(i.into_iter()))))
            .map_err(Into::into)
    }
}

/// `then`: an async function, one in, one out.
pub(crate) struct ThenOp<F>(pub(crate) F);
impl<T, U, F, Fut> Op<T, U> for ThenOp<F>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = U> + Send,
{
    type Fut = futures::future::Map<Fut, fn(U) -> OpResult<U>>;
    fn call(&self, x: T) -> Self::Fut {
        use futures::FutureExt;
        (self.0)(x).map(|u| Ok(Out::One(u)))
    }
}

/// `try_then`: an async function, one in, one out or an error.
pub(crate) struct TryThenOp<F>(pub(crate) F);
impl<T, U, E, F, Fut> Op<T, U> for TryThenOp<F>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, E>> + Send,
    E: Into<BoxError>,
{
    type Fut = futures::future::Map<Fut, fn(Result<U, E>) -> OpResult<U>>;
    fn call(&self, x: T) -> Self::Fut {
        use futures::FutureExt;
        (self.0)(x).map(|r| r.map(Out::One).map_err(Into::into))
    }
}

// Item by item: every other stage function.
impl<T, U, S> Bulk<T, U> for Blocking<S> {}
impl<T, U, F> Bulk<T, U> for FilterMapOp<F> {}
impl<T, U, F> Bulk<T, U> for TryMapOp<F> {}
impl<T, U, F> Bulk<T, U> for TryFilterMapOp<F> {}
impl<T, F> Bulk<T, T> for FilterOp<F> {}
impl<T, F> Bulk<T, T> for InspectOp<F> {}
impl<T, U, F> Bulk<T, U> for FlatMapOp<F> {}
impl<T, U, F> Bulk<T, U> for TryFlatMapOp<F> {}
impl<T, U, F> Bulk<T, U> for ThenOp<F> {}
impl<T, U, F> Bulk<T, U> for TryThenOp<F> {}
