//! Ordered stages: the reorder window.
//!
//! A dispatcher numbers the input and hands it to `width` workers; a
//! collector puts the results back in input order. The dispatcher takes one
//! of `width + window` permits before it hands an item out, and the collector
//! returns the permit once that item's results are sent downstream. So a slow
//! item at the head lets the other workers run ahead by up to `window`
//! finished results, and never further: memory stays bounded.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_channel::{Receiver, Sender};
use async_lock::{Semaphore, SemaphoreGuardArc};

use crate::build::StageConfig;
use crate::cancel::or_cancel;
use crate::link::{recv_timed, Clear, LinkRx, LinkTx, Msg, Reader, Writer};
use crate::node::op::{Op, Out};
use crate::node::step::{apply, emit, Step};
use crate::run::ctx::RunCtx;
use crate::stats::{Local, StageStats};
use crate::trace::Worker;
use smol::Task;

struct Job<T> {
    seq: u64,
    msg: Msg<T>,
    permit: SemaphoreGuardArc,
}

enum Done<U> {
    Out(Out<U>),
    Forward(Msg<U>),
}

struct Finished<U> {
    seq: u64,
    done: Done<U>,
    permit: SemaphoreGuardArc,
}

async fn dispatcher<T>(
    mut input: Reader<T>,
    jobs: Sender<Job<T>>,
    permits: Arc<Semaphore>,
    ctx: RunCtx,
    mut stats: Local,
) {
    let mut seq = 0;
    // Its output is the jobs channel, not a link: it holds no room.
    while let Some(msg) = input.next(&mut stats, Clear::no_output()).await {
        let Some(permit) = or_cancel(permits.acquire_arc(), ctx.cancel()).await else {
            ctx.stop.lose(1);
            return;
        };
        let job = Job { seq, msg, permit };
        match or_cancel(jobs.send(job), ctx.cancel()).await {
            Some(Ok(())) => {}
            _ => {
                ctx.stop.lose(1);
                return;
            }
        }
        seq += 1;
    }
}

async fn ordered_worker<T, U: Send + 'static, O: Op<T, U>>(
    op: Arc<O>,
    jobs: Receiver<Job<T>>,
    done: Sender<Finished<U>>,
    name: Arc<str>,
    ctx: RunCtx,
    mut stats: Local,
) {
    loop {
        if ctx.cancel().is_cancelled() {
            break;
        }
        let Some(job) = recv_timed(&jobs, ctx.cancel(), &mut stats).await else {
            break;
        };
        let done_item = match job.msg {
            Err(e) => Done::Forward(Err(e)),
            Ok(item) => match apply(&*op, item, &name, &ctx, None).await {
                Step::Items(out) => Done::Out(out),
                Step::Error(e) => {
                    stats.errors += 1;
                    Done::Forward(Err(e))
                }
                Step::Fail(e) => {
                    stats.errors += 1;
                    ctx.stop.fail(e);
                    break;
                }
                Step::Stop => {
                    stats.errors += 1;
                    break;
                }
                Step::Cancelled => break,
            },
        };
        let fin = Finished {
            seq: job.seq,
            done: done_item,
            permit: job.permit,
        };
        // Unbounded, but never holds more than `width + window` results:
        // each carries one of the permits.
        if done.try_send(fin).is_err() {
            ctx.stop.lose(1);
            break;
        }
    }
    // What the workers left in the jobs channel goes with the run.
    lose_rest(&jobs, &ctx);
}

async fn collector<U: Send + 'static>(
    done: Receiver<Finished<U>>,
    mut output: Writer<U>,
    name: Arc<str>,
    ctx: RunCtx,
    mut stats: Local,
) {
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, (Done<U>, SemaphoreGuardArc)> = BTreeMap::new();
    loop {
        let fin = match done.try_recv() {
            Ok(f) => f,
            Err(async_channel::TryRecvError::Closed) => break,
            Err(async_channel::TryRecvError::Empty) => {
                if output.flush(&mut stats).await.is_err() {
                    return lose_window(&done, waiting.len(), &ctx);
                }
                match or_cancel(done.recv(), ctx.cancel()).await {
                    Some(Ok(f)) => f,
                    Some(Err(_)) => break,
                    None => return lose_window(&done, waiting.len(), &ctx),
                }
            }
        };
        waiting.insert(fin.seq, (fin.done, fin.permit));
        while let Some((d, permit)) = waiting.remove(&next) {
            let ok = match d {
                Done::Out(out) => emit(out, &mut output, &mut stats, &name, &ctx).await,
                Done::Forward(m) => output.send(m, &mut stats).await.is_ok(),
            };
            drop(permit);
            if !ok {
                return lose_window(&done, waiting.len(), &ctx);
            }
            next += 1;
        }
    }
    // Closed: every worker is gone. Results still in the window (behind
    // one a worker dropped at a cancel) go with the run.
    ctx.stop.lose(waiting.len());
    let _ = output.flush(&mut stats).await;
}

/// Closes a channel of the stage's own once the run stopped, and counts
/// what is left in it with the run's lost items.
#[cold]
fn lose_rest<X>(rx: &Receiver<X>, ctx: &RunCtx) {
    rx.close();
    let mut lost = 0;
    while rx.try_recv().is_ok() {
        lost += 1;
    }
    ctx.stop.lose(lost);
}

/// The collector stopped with `waiting` results in its window: counts
/// them, and the results still on their way, with the run's lost items.
#[cold]
fn lose_window<U>(done: &Receiver<Finished<U>>, waiting: usize, ctx: &RunCtx) {
    ctx.stop.lose(waiting);
    lose_rest(done, ctx);
}

/// Spawns an ordered stage: dispatcher, `cfg.workers` workers, collector.
pub(crate) fn spawn_ordered<T, U, O>(
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
    let permits = Arc::new(Semaphore::new(cfg.workers.saturating_add(cfg.window_len())));
    let (jobs_tx, jobs_rx) = async_channel::bounded(cfg.workers);
    let (done_tx, done_rx) = async_channel::unbounded();
    // Items in are counted by the dispatcher, items out by the collector;
    // only the workers' time counts as busy.
    let mut tasks = Vec::with_capacity(cfg.workers + 2);
    let worker = |role, index| Worker {
        stage: &cfg.name,
        role,
        width: cfg.workers,
        index,
    };
    tasks.push(ctx.spawn_worker(
        worker("dispatcher", 0),
        dispatcher(
            Reader::new(rx, ctx.stop.clone()),
            jobs_tx,
            permits,
            ctx.clone(),
            Local::new_uncounted(stats.clone()),
        ),
    ));
    for index in 0..cfg.workers {
        tasks.push(ctx.spawn_worker(
            worker("worker", index),
            ordered_worker(
                op.clone(),
                jobs_rx.clone(),
                done_tx.clone(),
                cfg.name.clone(),
                ctx.clone(),
                Local::new(stats.clone()),
            ),
        ));
    }
    drop(done_tx);
    tasks.push(ctx.spawn_worker(
        worker("collector", 0),
        collector(
            done_rx,
            Writer::for_node(tx, cfg, ctx.stop.clone()),
            cfg.name.clone(),
            ctx.clone(),
            Local::new_uncounted(stats.clone()),
        ),
    ));
    tasks
}
