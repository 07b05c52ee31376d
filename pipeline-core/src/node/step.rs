//! One call of a stage function, and what the error policy makes of it:
//! items to send, an error to send as an item, an error that fails the
//! run, or a stop. A panic becomes the run's error here, naming the stage.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::future::join;
use futures::FutureExt;

use crate::cancel::or_cancel;
use crate::error::Error;
use crate::link::Writer;
use crate::node::many::Stop;
use crate::node::op::{Op, OpResult, Out};
use crate::outcome::Raised;
use crate::run::ctx::RunCtx;
use crate::stats::Local;

/// What a worker should do after calling the stage function once.
#[must_use]
pub(crate) enum Step<U> {
    /// Send these downstream.
    Items(Out<U>),
    /// Under the continue policy: send this error downstream as an item.
    Error(Error),
    /// Under the fail-fast policy: fail the run with this error, once what
    /// the worker made before it is sent (see [`Writer::fail`]).
    Fail(Error),
    /// The run failed (a panic): stop now.
    Stop,
    /// The run was cancelled while the function was waiting: stop now.
    Cancelled,
}

/// What a call of a stage function gave: its result, or a panic's payload.
type Called<U> = Result<OpResult<U>, Box<dyn Any + Send>>;

/// Calls the stage function on one item, turning errors and panics into
/// what the policy says.
#[inline]
///
/// If the call has to wait (an async function waiting, a blocking one on
/// its thread) and `partial` holds an adaptive partial batch, the batch is
/// sent meanwhile: results do not wait in a packet for a slow call.
pub(crate) async fn apply<T, U, O: Op<T, U>>(
    op: &O,
    item: T,
    name: &Arc<str>,
    ctx: &RunCtx,
    mut partial: Option<(&mut Writer<U>, &mut Local)>,
) -> Step<U> {
    let mut item = match call_inline(op, item) {
        Ok(called) => return step(called, name, ctx),
        Err(item) => item,
    };
    // A blocking call on the worker's own thread runs here, and the
    // thread does nothing else meanwhile: a partial adaptive batch goes
    // first (a failed send, a cancel, shows at the next one).
    if O::BLOCKING && crate::node::own_thread::here() {
        if let Some((w, stats)) = partial.as_mut() {
            if w.is_adaptive() && w.holds() {
                let _ = w.flush(stats).await;
            }
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| op.call_here(item))) {
            Ok(Ok(result)) => return step(Ok(result), name, ctx),
            Ok(Err(back)) => item = back,
            Err(payload) => return step(Err(payload), name, ctx),
        }
    }
    let mut call = std::pin::pin!(AssertUnwindSafe(async { op.call(item).await }).catch_unwind());
    // Most calls finish at once; only one that would wait races the signal.
    let result = match futures::poll!(call.as_mut()) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => {
            let call = async {
                if O::DROP_AT_CANCEL {
                    or_cancel(call, ctx.cancel()).await
                } else {
                    Some(call.await)
                }
            };
            let result = match partial {
                // A failed flush (cancel) shows at the next send.
                Some((w, stats)) if w.is_adaptive() && w.holds() => {
                    join(call, w.flush(stats)).await.0
                }
                _ => call.await,
            };
            match result {
                Some(r) => r,
                None => {
                    // The item goes with the call.
                    ctx.stop.lose(1);
                    return Step::Cancelled;
                }
            }
        }
    };
    step(result, name, ctx)
}

/// Calls an inline stage function at once under `catch_unwind`, without a
/// future; hands the item back if the function must be awaited.
#[inline(always)]
pub(crate) fn call_inline<T, U, O: Op<T, U>>(op: &O, item: T) -> Result<Called<U>, T> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| op.call_inline(item))) {
        Ok(Ok(result)) => Ok(Ok(result)),
        Ok(Err(item)) => Err(item),
        Err(payload) => Ok(Err(payload)),
    }
}

/// What the policy makes of one call's result.
#[inline(always)]
pub(crate) fn step<U>(called: Called<U>, name: &Arc<str>, ctx: &RunCtx) -> Step<U> {
    match called {
        Ok(Ok(out)) => Step::Items(out),
        Ok(Err(e)) => match ctx.policy.raise(name.clone(), e) {
            Raised::Travels(err) => Step::Error(err),
            Raised::Fails(err) => Step::Fail(err),
        },
        Err(payload) => {
            ctx.stop.fail_panicked(name.clone(), payload);
            Step::Stop
        }
    }
}

/// Sends what one call produced; `false` if the run stopped. A
/// `flat_map`'s iterator that panics fails the run, naming the stage.
#[inline]
pub(crate) async fn emit<U: Send + 'static>(
    out: Out<U>,
    w: &mut Writer<U>,
    stats: &mut Local,
    name: &Arc<str>,
    ctx: &RunCtx,
) -> bool {
    match out {
        Out::None => true,
        Out::One(u) => w.send(Ok(u), stats).await.is_ok(),
        Out::Many(many) => match many.send(w, stats, ctx.cancel()).await {
            Ok(()) => true,
            Err(Stop::Stopped) => false,
            Err(Stop::Panicked(payload)) => {
                stats.errors += 1;
                ctx.stop.fail_panicked(name.clone(), payload);
                false
            }
            Err(Stop::Unstarted(err)) => {
                stats.errors += 1;
                ctx.stop.fail(Error::Stage {
                    stage: name.clone(),
                    source: Arc::new(err),
                });
                false
            }
        },
    }
}
