//! How a stage runs: `width` workers share one input channel (fan-out) and
//! one output channel (fan-in); the output closes when the last worker ends.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::future::join;
use futures::FutureExt;

use crate::cancel::{Cancel, WithCancel};
use crate::channel::{or_cancel, LinkRx, LinkTx, Msg, Poll, Pushed, Reader, Refill, Writer};
use crate::config::{ErrorPolicy, StageConfig};
use crate::error::{panic_message, Error};
use crate::executor::{spawn_counted, LiveTasks};
use crate::many::{Many, Stop};
use crate::op::{Op, OpResult, Out};
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
    partial: Option<(&mut Writer<U>, &mut Local)>,
) -> Step<U> {
    let item = match call_inline(op, item) {
        Ok(called) => return step(called, name, ctx),
        Err(item) => item,
    };
    let mut call = std::pin::pin!(AssertUnwindSafe(async { op.call(item).await }).catch_unwind());
    // Most calls finish at once; only one that would wait races the signal.
    let result = match futures::poll!(call.as_mut()) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => {
            let call = async {
                if O::DROP_AT_CANCEL {
                    or_cancel(call, &ctx.cancel).await
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
                None => return Step::Cancelled,
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
        Ok(Err(e)) => {
            let err = Error::stage(name.clone(), e);
            match ctx.policy {
                ErrorPolicy::Continue => Step::Error(err),
                _ => Step::Fail(err),
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
        Out::Many(many) => match many.send(w, stats, &ctx.cancel).await {
            Ok(()) => true,
            Err(Stop::Stopped) => false,
            Err(Stop::Panicked(message)) => {
                stats.errors += 1;
                ctx.cancel.fail(Error::Panic {
                    stage: name.clone(),
                    message,
                });
                false
            }
            Err(Stop::Unstarted(err)) => {
                stats.errors += 1;
                ctx.cancel.fail(Error::Stage {
                    stage: name.clone(),
                    source: Arc::new(err),
                });
                false
            }
        },
    }
}

/// Where a worker's synchronous per-item path stopped, and what the async
/// loop around it must do next.
enum Ready<T, U> {
    /// Go on with the next message.
    Continue,
    /// No message waits in the input: flush the partial batch, then wait.
    Empty,
    /// The input is closed and drained, or the run cancelled.
    Closed,
    /// The output is full: send its stalled packet, waiting for room.
    Full,
    /// The function must be awaited (async or blocking) for this item.
    Await(T),
    /// A `flat_map` produced an iterator: send its items, waiting as needed.
    Many(Many<U>),
    /// The run stopped (failed, cancelled, or nobody reads any more).
    Stop,
}

/// How a worker's loop goes on after a push that did not wait.
#[inline(always)]
fn after<T, U>(pushed: Pushed) -> Ready<T, U> {
    match pushed {
        Pushed::Done => Ready::Continue,
        Pushed::Stopped => Ready::Stop,
        Pushed::Full => Ready::Full,
    }
}

/// Pushes what one call produced, without waiting.
#[inline(always)]
fn push_step<T, U>(step: Step<U>, output: &mut Writer<U>, stats: &mut Local) -> Ready<T, U> {
    let pushed = match step {
        Step::Items(Out::One(u)) => output.push(Ok(u), stats),
        Step::Items(Out::None) => return Ready::Continue,
        Step::Items(Out::Many(v)) => return Ready::Many(v),
        Step::Error(e) => {
            stats.errors += 1;
            output.push(Err(e), stats)
        }
        Step::Fail(e) => {
            stats.errors += 1;
            output.fail(e, stats);
            return Ready::Stop;
        }
        Step::Stop => {
            stats.errors += 1;
            return Ready::Stop;
        }
        Step::Cancelled => return Ready::Stop,
    };
    after(pushed)
}

/// Works on one message without waiting: an error travelling as an item
/// is passed on, an item goes through an inline function at once. Called
/// only inside [`work_ready`]'s `catch_unwind`.
#[inline(always)]
fn work_one<T, U, O: Op<T, U>>(
    op: &O,
    msg: Msg<T>,
    output: &mut Writer<U>,
    name: &Arc<str>,
    ctx: &RunCtx,
    stats: &mut Local,
) -> Ready<T, U> {
    match msg {
        // Under the continue policy errors travel as items: pass it on.
        Err(e) => after(output.push(Err(e), stats)),
        Ok(item) => match op.call_inline(item) {
            Ok(result) => push_step(step(Ok(result), name, ctx), output, stats),
            Err(item) => Ready::Await(item),
        },
    }
}

/// The per-item fast path of a worker: `first` (a message the worker
/// waited for), then every message that can be had without waiting,
/// through an inline function, into the output batch or channel, in plain
/// (not async) code; returns at the first thing that needs the async loop.
///
/// One `catch_unwind` covers the whole stretch rather than each call: a
/// panic fails the run, so what the stretch leaves half-done (a message in
/// hand, a partial batch) is simply dropped, as it would be at a cancel.
#[inline]
fn work_ready<T, U, O: Op<T, U>>(
    op: &O,
    first: Option<Msg<T>>,
    input: &mut Reader<T>,
    output: &mut Writer<U>,
    name: &Arc<str>,
    ctx: &RunCtx,
    stats: &mut Local,
) -> Ready<T, U> {
    let stretch = AssertUnwindSafe(|| {
        if let Some(m) = first {
            match work_one(op, m, output, name, ctx, stats) {
                Ready::Continue => {}
                other => return other,
            }
        }
        loop {
            // A map over a batch of items into a batch: one loop.
            if O::MAP_BULK {
                while let Some((buf, room, idle)) = output.bulk() {
                    // A whole packet into an empty batch, with no reason to
                    // stop half-way: one map in place, the loop a hand-written
                    // stage would run.
                    let whole = if buf.is_empty() && !idle.adaptive() {
                        input.take_batch(room)
                    } else {
                        None
                    };
                    let n = if let Some(batch) = whole {
                        let n = batch.len();
                        match op.map_batch(batch) {
                            Ok(mapped) => *buf = mapped,
                            Err(_) => unreachable!("a bulk map maps batches"),
                        }
                        n
                    } else {
                        let Some(items) = input.pending_items() else {
                            break;
                        };
                        let before = buf.len();
                        if idle.adaptive() {
                            // Every result goes at once to an idle consumer.
                            op.map_bulk_until(items, buf, room, &|| idle.now());
                        } else {
                            op.map_bulk(items, buf, room);
                        }
                        buf.len() - before
                    };
                    match after(output.added(n, stats)) {
                        Ready::Continue => {}
                        other => return other,
                    }
                }
            }
            let msg = if O::MAP_BULK {
                // A batch from the channel stays whole, for the bulk loop.
                match input.try_refill(stats) {
                    Refill::Item(m) => m,
                    Refill::Batch => continue,
                    Refill::Empty => return Ready::Empty,
                    Refill::Closed => return Ready::Closed,
                }
            } else {
                match input.try_next(stats) {
                    Poll::Item(m) => m,
                    Poll::Empty => return Ready::Empty,
                    Poll::Closed => return Ready::Closed,
                }
            };
            match work_one(op, msg, output, name, ctx, stats) {
                Ready::Continue => {}
                other => return other,
            }
        }
    });
    match std::panic::catch_unwind(stretch) {
        Ok(ready) => ready,
        Err(payload) => {
            stats.errors += 1;
            let _ = step::<U>(Err(payload), name, ctx);
            Ready::Stop
        }
    }
}

/// How a worker's loop goes on after one step.
enum Settled {
    /// With the next message.
    Go,
    /// The input is closed and drained: flush the partial batch and end.
    Closed,
    /// The run stopped: end at once.
    Stop,
}

/// Finishes one step of a worker's loop: the part that may wait (room for
/// a stalled packet, a `flat_map`'s many items).
async fn settle<T, U: Send + 'static>(
    next: Ready<T, U>,
    output: &mut Writer<U>,
    stats: &mut Local,
    name: &Arc<str>,
    ctx: &RunCtx,
) -> Settled {
    let ok = match next {
        Ready::Continue | Ready::Empty | Ready::Await(_) => true,
        Ready::Closed => return Settled::Closed,
        Ready::Stop => false,
        Ready::Full => output.send_waiting(stats).await.is_ok(),
        Ready::Many(v) => emit(Out::Many(v), output, stats, name, ctx).await,
    };
    if ok {
        Settled::Go
    } else {
        Settled::Stop
    }
}

/// One worker of an unordered stage. The per-item path is
/// [`work_ready`]; this loop does what may wait: an empty input, a full
/// output, an async or blocking function, a `flat_map`'s many items.
async fn worker<T, U: Send + 'static, O: Op<T, U>>(
    op: Arc<O>,
    mut input: Reader<T>,
    mut output: Writer<U>,
    name: Arc<str>,
    ctx: RunCtx,
    mut stats: Local,
) {
    let op = &*op;
    let mut first = None;
    loop {
        let next = match work_ready(
            op,
            first.take(),
            &mut input,
            &mut output,
            &name,
            &ctx,
            &mut stats,
        ) {
            Ready::Empty => {
                // About to wait: send the partial batch, and give back the room
                // taken for it, first.
                if output.holds() && output.flush(&mut stats).await.is_err() {
                    return;
                }
                // A batch stays whole in the reader, for the bulk path.
                match input.refill(&mut stats).await {
                    Some(m) => {
                        first = m;
                        continue;
                    }
                    None => break,
                }
            }
            Ready::Await(item) => {
                let partial = Some((&mut output, &mut stats));
                let step = apply(op, item, &name, &ctx, partial).await;
                push_step::<T, U>(step, &mut output, &mut stats)
            }
            other => other,
        };
        match settle(next, &mut output, &mut stats, &name, &ctx).await {
            Settled::Go => {}
            Settled::Closed => break,
            Settled::Stop => return,
        }
    }
    let _ = output.flush(&mut stats).await;
}

/// One worker of an unordered stage whose function may wait (async or
/// blocking) and that has siblings: the workers share one reader and take
/// one message at a time, so no item waits in the rest of a packet held by
/// a worker that is waiting on its function while a sibling is idle.
async fn shared_worker<T, U: Send + 'static, O: Op<T, U>>(
    op: Arc<O>,
    input: Arc<async_lock::Mutex<Reader<T>>>,
    mut output: Writer<U>,
    name: Arc<str>,
    ctx: RunCtx,
    mut stats: Local,
) {
    let op = &*op;
    loop {
        let polled = input.lock().await.try_next(&mut stats);
        let msg = match polled {
            Poll::Item(m) => m,
            Poll::Closed => break,
            Poll::Empty => {
                // About to wait: send the partial batch, and give back the room
                // taken for it, first.
                if output.holds() && output.flush(&mut stats).await.is_err() {
                    return;
                }
                // The siblings wait for the lock meanwhile, as they would
                // for the channel.
                match input.lock().await.next(&mut stats).await {
                    Some(m) => m,
                    None => break,
                }
            }
        };
        let next = match msg {
            Err(e) => after(output.push(Err(e), &mut stats)),
            Ok(item) => {
                let partial = Some((&mut output, &mut stats));
                let step = apply(op, item, &name, &ctx, partial).await;
                push_step::<T, U>(step, &mut output, &mut stats)
            }
        };
        match settle(next, &mut output, &mut stats, &name, &ctx).await {
            Settled::Go => {}
            Settled::Closed => break,
            Settled::Stop => return,
        }
    }
    let _ = output.flush(&mut stats).await;
}

/// Spawns the `cfg.workers` workers of an unordered stage.
pub(crate) fn spawn_unordered<T, U, O>(
    op: O,
    cfg: &StageConfig,
    rx: LinkRx<T>,
    tx: LinkTx<U>,
    stats: &Arc<StageStats>,
    ctx: &RunCtx,
) -> Vec<Task<()>>
where
    T: Send + 'static,
    U: Send + 'static,
    O: Op<T, U>,
{
    let op = Arc::new(op);
    let writer = || Writer::for_node(tx.clone(), cfg, ctx.cancel.clone());
    if cfg.workers > 1 && !O::INLINE {
        let input = Arc::new(async_lock::Mutex::new(Reader::new(rx, ctx.cancel.clone())));
        return (0..cfg.workers)
            .map(|_| {
                ctx.spawn(shared_worker(
                    op.clone(),
                    input.clone(),
                    writer(),
                    cfg.name.clone(),
                    ctx.clone(),
                    Local::new(stats.clone()),
                ))
            })
            .collect();
    }
    (0..cfg.workers)
        .map(|_| {
            ctx.spawn(worker(
                op.clone(),
                Reader::new(rx.clone(), ctx.cancel.clone()),
                writer(),
                cfg.name.clone(),
                ctx.clone(),
                Local::new(stats.clone()),
            ))
        })
        .collect()
    // `tx` and `rx` drop here: the output closes when the last worker ends.
}

#[cfg(test)]
mod tests {
    use crate::{Error, Pipeline, StageConfig};

    #[test]
    fn a_batched_map_keeps_every_item_in_order_whatever_the_batch_sizes() {
        for (b_in, b_out) in [(1, 7), (7, 1), (256, 64), (64, 256), (5, 5), (3, 1000)] {
            let got = Pipeline::new()
                .from_iter(StageConfig::new("gen").batch(b_in).buffer(2), 0..2000u64)
                .map(StageConfig::new("sq").batch(b_out).buffer(2), |n| n * n)
                .collect::<Vec<_>>()
                .run()
                .unwrap();
            let want: Vec<u64> = (0..2000u64).map(|n| n * n).collect();
            assert_eq!(got, want, "batch in {b_in}, out {b_out}");
            // A map whose output has another layout cannot reuse the
            // input batch's allocation.
            let got = Pipeline::new()
                .from_iter(StageConfig::new("gen").batch(b_in).buffer(2), 0..2000u32)
                .map(StageConfig::new("pair").batch(b_out).buffer(2), |n| (n, !n))
                .collect::<Vec<_>>()
                .run()
                .unwrap();
            let want: Vec<(u32, u32)> = (0..2000u32).map(|n| (n, !n)).collect();
            assert_eq!(got, want, "pairs, batch in {b_in}, out {b_out}");
        }
    }

    #[test]
    fn a_map_worker_passes_whole_batches_on_in_their_allocations() {
        use std::sync::Arc;

        use crate::cancel::Cancel;
        use crate::channel::{channel, LinkRx, LinkTx, Packet, Reader, Writer};
        use crate::executor::LiveTasks;
        use crate::op::{Inline, MapOp};
        use crate::stage::{worker, RunCtx};
        use crate::stats::{Kind, Local, StageStats};
        use crate::ErrorPolicy;

        let cancel = Cancel::new();
        let (tx_in, rx_in) = channel::<u64>(8, &cancel);
        let (tx_out, rx_out) = channel::<u64>(8, &cancel);
        // Batches that wait in the channel, and one that arrives while the
        // worker waits for input.
        let mut sent = Vec::new();
        for k in 0..3u64 {
            let batch: Vec<u64> = (k * 4..k * 4 + 4).collect();
            sent.push(batch.as_ptr() as usize);
            tx_in.try_send(Packet::Items(batch)).unwrap();
        }
        let ctx = RunCtx {
            cancel: cancel.clone(),
            live: LiveTasks::default(),
            policy: ErrorPolicy::FailFast,
        };
        let stats = || Local::new(StageStats::new("sq".into(), Kind::Stage, 1));
        let work = ctx.spawn(worker(
            Arc::new(Inline(MapOp(|n: u64| n * n))),
            Reader::new(
                LinkRx {
                    rx: rx_in,
                    permits: None,
                },
                cancel.clone(),
            ),
            Writer::new(
                LinkTx {
                    tx: tx_out,
                    permits: None,
                },
                cancel.clone(),
                4,
                false,
            ),
            "sq".into(),
            ctx.clone(),
            stats(),
        ));
        let mut got = Vec::new();
        let mut out_at = Vec::new();
        for k in 0..4u64 {
            if k == 3 {
                let batch: Vec<u64> = (12..16).collect();
                sent.push(batch.as_ptr() as usize);
                smol::block_on(tx_in.send(Packet::Items(batch))).unwrap();
            }
            match smol::block_on(rx_out.recv()).unwrap() {
                Packet::Items(v) => {
                    out_at.push(v.as_ptr() as usize);
                    got.extend(v);
                }
                _ => panic!("a batch of four comes out as one packet"),
            }
        }
        drop(tx_in);
        smol::block_on(work);
        assert_eq!(got, (0..16u64).map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(
            out_at, sent,
            "every batch went on in the allocation it came in"
        );
    }

    #[test]
    fn a_panic_inside_a_batched_map_fails_the_run_naming_the_stage() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let err = p
            .from_iter(StageConfig::new("gen").batch(64), 0..10_000u64)
            .map(StageConfig::new("boom").batch(64), |n| {
                assert!(n != 5000, "item 5000");
                n
            })
            .for_each(|_| {})
            .run()
            .unwrap_err();
        assert!(matches!(&err, Error::Panic { stage, .. } if &**stage == "boom"));
        assert_eq!(live.get(), 0);
    }
}
