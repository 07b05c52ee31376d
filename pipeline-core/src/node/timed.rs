//! A stage's item timeout ([`StageConfig::item_timeout`](crate::StageConfig::item_timeout)):
//! an async call raced against a timer and dropped at the limit
//! ([`Timed`]), and a blocking call given a signal of its own that closes
//! at the limit, waited for, and its result discarded ([`unblock_within`]).
//! Only stages with a limit are built with either: the others pay nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{select, Either};
use smol::Timer;

use crate::cancel::Cancel;
use crate::error::{BoxError, ItemTimeout};
use crate::node::op::{Bulk, Op, OpResult};
use crate::run::blocking_pool::unblock;

/// An async stage function whose calls end at `limit`: a call still
/// running then is dropped, and the item is an [`ItemTimeout`] error.
pub(crate) struct Timed<O> {
    pub(crate) op: O,
    pub(crate) limit: Duration,
}

impl<T, U, O> Op<T, U> for Timed<O>
where
    U: Send,
    O: Op<T, U>,
{
    type Fut = TimedCall<O::Fut>;
    const DROP_AT_CANCEL: bool = O::DROP_AT_CANCEL;
    const BLOCKING: bool = O::BLOCKING;

    fn call(&self, item: T) -> Self::Fut {
        TimedCall {
            call: Box::pin(self.op.call(item)),
            timer: Timer::after(self.limit),
            limit: self.limit,
        }
    }
}

/// One call of a [`Timed`] function: its future, unless the timer fires
/// first.
pub(crate) struct TimedCall<F> {
    call: Pin<Box<F>>,
    timer: Timer,
    limit: Duration,
}

impl<U, F: Future<Output = OpResult<U>>> Future for TimedCall<F> {
    type Output = OpResult<U>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(result) = self.call.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        match Pin::new(&mut self.timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(Box::new(ItemTimeout::new(self.limit)) as BoxError)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T, U, O> Bulk<T, U> for Timed<O> {}

/// Runs `f` on the blocking pool with a signal of its own as
/// [`Cancel::current`]: one that follows the run's signal `run` and also
/// closes at `limit`. If `f` returns within the limit, its value;
/// otherwise, once `f` has returned (the thread cannot be stopped, and
/// nothing may outlive the run), [`ItemTimeout`] and `f`'s value dropped.
/// `Err` if no thread could be started for `f`.
pub(crate) async fn unblock_within<R: Send + 'static>(
    limit: Duration,
    run: &Cancel,
    f: impl FnOnce() -> R + Send + 'static,
) -> std::io::Result<Result<R, ItemTimeout>> {
    let item = Cancel::new();
    item.follow(run);
    let signal = item.clone();
    let mut call = std::pin::pin!(unblock(move || signal.enter(f)));
    match select(call.as_mut(), Timer::after(limit)).await {
        Either::Left((returned, _)) => returned.map(Ok),
        Either::Right(_) => {
            item.cancel();
            let late = call.await;
            late.map(|value| {
                drop(value);
                Err(ItemTimeout::new(limit))
            })
        }
    }
}
