//! A `try_` stage function that retries ([`StageConfig::retry`](crate::StageConfig::retry)):
//! each failed attempt the policy allows is followed, after a jittered
//! backoff that the run's cancel signal interrupts, by a call on a clone
//! of the item; the last attempt gets the item itself. Only stages built
//! with a retry policy are built with it: the others pay nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use smol::Timer;

use crate::build::retry::{Jitter, Retry};
use crate::cancel::{or_cancel, Cancel};
use crate::node::op::{Bulk, Op, OpResult};
use crate::stats::StageStats;

/// What every call of a retried stage shares.
struct Shared<O> {
    /// One attempt: the stage function, with its item timeout if any.
    op: O,
    retry: Retry,
    cancel: Cancel,
    stats: Arc<StageStats>,
    /// The seed of this run's jitter.
    seed: u64,
    /// How many items have needed a retry so far: each draws its pauses
    /// from its own stream of the seed.
    streams: AtomicU64,
}

/// A stage function whose failed calls are retried as `retry` says.
pub(crate) struct Retried<O>(Arc<Shared<O>>);

impl<O> Retried<O> {
    /// `op` retried under `retry`, in the run of `cancel`, counting each
    /// retry in `stats`.
    pub(crate) fn new(op: O, retry: Retry, cancel: Cancel, stats: Arc<StageStats>) -> Self {
        let seed = retry.run_seed();
        Retried(Arc::new(Shared {
            op,
            retry,
            cancel,
            stats,
            seed,
            streams: AtomicU64::new(0),
        }))
    }
}

impl<O> Shared<O> {
    /// Up to the policy's attempts at `item`: the first success, or the
    /// error of the last attempt made (an error the predicate declines, or
    /// one met once the run is cancelled, ends the item at once).
    async fn attempts<T: Clone, U>(&self, item: T) -> OpResult<U>
    where
        O: Op<T, U>,
    {
        let mut jitter = None;
        for k in 1..self.retry.max_attempts() {
            let err = match self.op.call(item.clone()).await {
                Ok(out) => return Ok(out),
                Err(err) => err,
            };
            if !self.retry.should_retry(&*err) || self.cancel.is_cancelled() {
                return Err(err);
            }
            let jitter = jitter.get_or_insert_with(|| {
                Jitter::new(self.seed, self.streams.fetch_add(1, Ordering::Relaxed))
            });
            let pause = self.retry.delay(k, jitter);
            if or_cancel(Timer::after(pause), &self.cancel).await.is_none() {
                return Err(err);
            }
            self.stats.add_retry();
        }
        self.op.call(item).await
    }
}

impl<T, U, O> Op<T, U> for Retried<O>
where
    T: Clone + Send + 'static,
    U: Send + 'static,
    O: Op<T, U>,
{
    type Fut = Pin<Box<dyn Future<Output = OpResult<U>> + Send>>;
    const DROP_AT_CANCEL: bool = O::DROP_AT_CANCEL;
    const BLOCKING: bool = O::BLOCKING;

    fn call(&self, item: T) -> Self::Fut {
        let shared = self.0.clone();
        Box::pin(async move { shared.attempts(item).await })
    }
}

impl<T, U, O> Bulk<T, U> for Retried<O> {}
