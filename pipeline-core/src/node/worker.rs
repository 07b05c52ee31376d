//! The workers of an unordered stage: `width` workers share one input
//! link (fan-out) and one output link (fan-in); the output closes when the
//! last worker ends. The per-item path is in [`fast`]; the worker's loop
//! here does what may wait.

use std::sync::Arc;

use smol::Task;

use crate::build::StageConfig;
use crate::link::{LinkRx, LinkTx, Poll, Reader, Refill, Writer};
use crate::node::op::{Op, Out};
use crate::node::own_thread;
use crate::node::step::{apply, emit};
use crate::run::ctx::RunCtx;
use crate::stats::{Local, StageStats};
use crate::trace::Worker;

mod fast;

use fast::{after, push_step, work_ready, Ready};

/// How a worker's loop goes on after one step.
#[must_use]
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
                let Ok(clear) = output.clear(&mut stats).await else {
                    return;
                };
                // A batch stays whole in the reader, for the bulk path.
                match input.refill(&mut stats, clear).await {
                    Refill::Item(m) => {
                        first = Some(m);
                        continue;
                    }
                    Refill::Batch => continue,
                    Refill::Empty | Refill::Closed => break,
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
                let Ok(clear) = output.clear(&mut stats).await else {
                    return;
                };
                // The siblings wait for the lock meanwhile, as they would
                // for the channel.
                match input.lock().await.next(&mut stats, clear).await {
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

/// Which worker of the stage of `cfg` the one at `index` is, for its span.
fn worker_of(cfg: &StageConfig, index: usize) -> Worker<'_> {
    Worker {
        stage: &cfg.name,
        role: "worker",
        width: cfg.workers,
        index,
    }
}

/// Spawns the worker at `index` of the stage of `cfg`: as a task, or on
/// a thread of its own (`own`, see [`own_thread`]).
fn spawn_one(
    own: bool,
    cfg: &StageConfig,
    index: usize,
    ctx: &RunCtx,
    fut: impl std::future::Future<Output = ()> + Send + 'static,
) -> Task<()> {
    if own {
        let fut = crate::trace::instrument(worker_of(cfg, index), fut);
        ctx.spawn(
            &cfg.name,
            own_thread::run(cfg.name.clone(), ctx.clone(), fut),
        )
    } else {
        ctx.spawn_worker(worker_of(cfg, index), fut)
    }
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
    let writer = || Writer::for_node(tx.clone(), cfg, ctx.stop.clone());
    // A blocking stage's first workers, one per executor thread (core),
    // run on threads of their own, unless each call must be left behind at
    // its item timeout. Wider stages (calls that wait on I/O more than
    // they use a core) hand their other workers' calls to the pool, whose
    // threads start only when calls wait for one.
    let own = |index: usize| {
        O::BLOCKING && cfg.item_timeout.is_none() && index < crate::executor::threads()
    };
    if cfg.workers > 1 && !O::INLINE {
        let input = Arc::new(async_lock::Mutex::new(Reader::new(rx, ctx.stop.clone())));
        return (0..cfg.workers)
            .map(|index| {
                spawn_one(
                    own(index),
                    cfg,
                    index,
                    ctx,
                    shared_worker(
                        op.clone(),
                        input.clone(),
                        writer(),
                        cfg.name.clone(),
                        ctx.clone(),
                        Local::new(stats.clone()),
                    ),
                )
            })
            .collect();
    }
    (0..cfg.workers)
        .map(|index| {
            spawn_one(
                own(index),
                cfg,
                index,
                ctx,
                worker(
                    op.clone(),
                    Reader::new(rx.clone(), ctx.stop.clone()),
                    writer(),
                    cfg.name.clone(),
                    ctx.clone(),
                    Local::new(stats.clone()),
                ),
            )
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

        use crate::executor::LiveTasks;
        use crate::link::channel::channel;
        use crate::link::{LinkRx, LinkTx, Packet, Reader, Writer};
        use crate::node::op::{Inline, MapOp};
        use crate::node::worker::worker;
        use crate::run::ctx::RunCtx;
        use crate::stats::{Kind, Local, StageStats};
        use crate::stop::Stop;
        use crate::ErrorPolicy;

        let stop = Stop::new();
        let (tx_in, rx_in) = channel::<u64>(8, &stop);
        let (tx_out, rx_out) = channel::<u64>(8, &stop);
        // Batches that wait in the channel, and one that arrives while the
        // worker waits for input.
        let mut sent = Vec::new();
        for k in 0..3u64 {
            let batch: Vec<u64> = (k * 4..k * 4 + 4).collect();
            sent.push(batch.as_ptr() as usize);
            tx_in.try_send(Packet::Items(batch)).unwrap();
        }
        let ctx = RunCtx {
            stop: stop.clone(),
            live: LiveTasks::default(),
            policy: ErrorPolicy::FailFast,
        };
        let stats = || Local::new(StageStats::new("sq".into(), Kind::Stage, 1));
        let work = ctx.spawn(
            "sq",
            worker(
                Arc::new(Inline(MapOp(|n: u64| n * n))),
                Reader::new(
                    LinkRx {
                        rx: rx_in,
                        permits: None,
                    },
                    stop.clone(),
                ),
                Writer::new(
                    LinkTx {
                        tx: tx_out,
                        permits: None,
                    },
                    stop.clone(),
                    4,
                    false,
                ),
                "sq".into(),
                ctx.clone(),
                stats(),
            ),
        );
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
