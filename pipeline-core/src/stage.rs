//! How a stage runs: `width` workers share one input channel (fan-out) and
//! one output channel (fan-in); the output closes when the last worker ends.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_channel::{Receiver, Sender};
use futures::FutureExt;

use crate::cancel::{Cancel, WithCancel};
use crate::channel::{or_cancel, Packet, Poll, Reader, Writer};
use crate::config::{ErrorPolicy, StageConfig};
use crate::error::{panic_message, Error};
use crate::executor::{spawn_counted, LiveTasks};
use crate::op::{Op, Out};
use crate::stats::{Local, StageStats};
use smol::Task;

/// What a run hands every task it spawns.
#[derive(Clone)]
pub(crate) struct RunCtx {
    pub(crate) cancel: Cancel,
    pub(crate) live: LiveTasks,
    pub(crate) policy: ErrorPolicy,
}

impl RunCtx {
    /// Spawns one task of the run, with the run's signal as
    /// [`Cancel::current`] while it is polled.
    pub(crate) fn spawn(
        &self,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Task<()> {
        spawn_counted(
            &self.live,
            WithCancel {
                cancel: self.cancel.clone(),
                fut: Box::pin(fut),
            },
        )
    }
}

/// What a worker should do after calling the stage function once.
pub(crate) enum Step<U> {
    /// Send these downstream.
    Items(Out<U>),
    /// Under the continue policy: send this error downstream as an item.
    Error(Error),
    /// The run failed (fail-fast error or panic): stop now.
    Stop,
    /// The run was cancelled while the function was waiting: stop now.
    Cancelled,
}

/// Calls the stage function on one item, turning errors and panics into
/// what the policy says.
#[inline]
pub(crate) async fn apply<T, U, O: Op<T, U>>(
    op: &O,
    item: T,
    name: &Arc<str>,
    ctx: &RunCtx,
) -> Step<U> {
    let mut call = std::pin::pin!(AssertUnwindSafe(async { op.call(item).await }).catch_unwind());
    // Most calls finish at once; only one that would wait races the signal.
    let result = match futures::poll!(call.as_mut()) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending if O::DROP_AT_CANCEL => match or_cancel(call, &ctx.cancel).await {
            Some(r) => r,
            None => return Step::Cancelled,
        },
        std::task::Poll::Pending => call.await,
    };
    match result {
        Ok(Ok(out)) => Step::Items(out),
        Ok(Err(e)) => {
            let err = Error::stage(name.clone(), e);
            match ctx.policy {
                ErrorPolicy::Continue => Step::Error(err),
                _ => {
                    ctx.cancel.fail(err);
                    Step::Stop
                }
            }
        }
        Err(payload) => {
            ctx.cancel.fail(Error::Panic {
                stage: name.clone(),
                message: panic_message(&*payload),
            });
            Step::Stop
        }
    }
}

/// Sends what one call produced; `false` if the run stopped.
#[inline]
pub(crate) async fn emit<U>(out: Out<U>, w: &mut Writer<U>, stats: &mut Local) -> bool {
    match out {
        Out::None => true,
        Out::One(u) => w.send(Ok(u), stats).await.is_ok(),
        Out::Many(v) => {
            for u in v {
                if w.send(Ok(u), stats).await.is_err() {
                    return false;
                }
            }
            true
        }
    }
}

/// One worker of an unordered stage.
async fn worker<T, U, O: Op<T, U>>(
    op: Arc<O>,
    mut input: Reader<T>,
    mut output: Writer<U>,
    name: Arc<str>,
    ctx: RunCtx,
    mut stats: Local,
) {
    loop {
        let msg = match input.try_next(&mut stats) {
            Poll::Item(m) => m,
            Poll::Closed => break,
            Poll::Empty => {
                // About to wait: send the partial batch first.
                if output.flush(&mut stats).await.is_err() {
                    return;
                }
                match input.wait(&mut stats).await {
                    Some(m) => m,
                    None => break,
                }
            }
        };
        let ok = match msg {
            Err(e) => output.send(Err(e), &mut stats).await.is_ok(),
            Ok(item) => match apply(&*op, item, &name, &ctx).await {
                Step::Items(out) => emit(out, &mut output, &mut stats).await,
                Step::Error(e) => {
                    stats.errors += 1;
                    output.send(Err(e), &mut stats).await.is_ok()
                }
                Step::Stop => {
                    stats.errors += 1;
                    false
                }
                Step::Cancelled => false,
            },
        };
        if !ok {
            return;
        }
    }
    let _ = output.flush(&mut stats).await;
}

/// Spawns the `cfg.workers` workers of an unordered stage.
pub(crate) fn spawn_unordered<T, U, O>(
    op: O,
    cfg: &StageConfig,
    rx: Receiver<Packet<T>>,
    tx: Sender<Packet<U>>,
    stats: &Arc<StageStats>,
    ctx: &RunCtx,
) -> Vec<Task<()>>
where
    T: Send + 'static,
    U: Send + 'static,
    O: Op<T, U>,
{
    let op = Arc::new(op);
    (0..cfg.workers)
        .map(|_| {
            ctx.spawn(worker(
                op.clone(),
                Reader::new(rx.clone(), ctx.cancel.clone()),
                Writer::new(tx.clone(), ctx.cancel.clone(), cfg.batch),
                cfg.name.clone(),
                ctx.clone(),
                Local::new(stats.clone()),
            ))
        })
        .collect()
    // `tx` and `rx` drop here: the output closes when the last worker ends.
}

/// Spawns an ordered or unordered stage, as `cfg` says.
pub(crate) fn spawn_ordered_or_not<T, U, O>(
    op: O,
    cfg: &StageConfig,
    rx: Receiver<Packet<T>>,
    tx: Sender<Packet<U>>,
    stats: &Arc<StageStats>,
    ctx: &RunCtx,
) -> Vec<Task<()>>
where
    T: Send + 'static,
    U: Send + 'static,
    O: Op<T, U>,
{
    if cfg.ordered {
        crate::ordered::spawn_ordered(op, cfg, rx, tx, stats, ctx)
    } else {
        spawn_unordered(op, cfg, rx, tx, stats, ctx)
    }
}
