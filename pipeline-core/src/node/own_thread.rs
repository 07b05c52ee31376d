//! A worker of a blocking stage on a thread of its own: the worker's loop
//! runs on a thread of the blocking pool for the stage's whole life and
//! calls the stage function there, inline, instead of handing each call
//! to the pool from a task on the executor.
//!
//! Handing each call over costs a wake-up of an executor thread when the
//! call ends (to run the task that awaited it) and of a pool thread when
//! the next call starts. A woken thread on a virtual machine was seen to
//! wait 1–4 ms in the run queue of a core busy with another stage call
//! while the other core idled (the kernel does not pull work to a core
//! that idles often for short spells): a tenth of the time of md5pipe's
//! small tree. On a thread of its own, a worker sleeps only when its
//! input is empty or its output full, as an inline stage's worker does.
//!
//! A stage's first workers run so, as many as the executor has threads
//! (cores): a wider stage's calls wait on I/O more than they use a core,
//! and its other workers hand their calls to the pool, whose threads
//! start only when calls wait for one, so a wide stage with little to do
//! starts few threads.
//!
//! What stays as it was: each such worker's thread is one of the stage's
//! (the pool grows by one for each, as for a blocking source); the run's
//! signal is [`Cancel::current`](crate::Cancel::current) in the function;
//! a panic is the run's error naming the stage; a partial adaptive batch
//! is sent before each call, so no result waits for a slow call after it.
//! A stage with an item timeout still hands each call to the pool, so that
//! a call over its time can be left behind.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use crate::cancel::WithCancel;
use crate::error::Error;
use crate::run::ctx::RunCtx;
use crate::run::pool::Share;

thread_local! {
    /// Whether this thread runs a blocking stage's worker ([`run`]).
    static OWN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread runs a blocking stage's worker: its calls of the
/// stage function run here, inline.
#[inline]
pub(crate) fn here() -> bool {
    OWN_THREAD.with(Cell::get)
}

/// Sets [`here`] for as long as it lives, even through a panic.
struct Here;

impl Here {
    fn enter() -> Here {
        OWN_THREAD.with(|own| own.set(true));
        Here
    }
}

impl Drop for Here {
    fn drop(&mut self) {
        OWN_THREAD.with(|own| own.set(false));
    }
}

/// Runs `worker` (a worker's loop of the stage `name`, its span already
/// on it) on a thread of the blocking pool of its own, with the run's
/// signal current while it is polled. The task that awaits this counts
/// as the worker's, and so does the thread: the run's live tasks count it
/// until the loop has ended there, even if this future is dropped first.
/// If no thread can be started, the run fails with that error.
pub(crate) async fn run(
    name: Arc<str>,
    ctx: RunCtx,
    worker: impl Future<Output = ()> + Send + 'static,
) {
    let share = Share::new(1);
    share.take();
    let live = ctx.live.guard();
    let cancel = ctx.cancel().clone();
    let started = crate::run::blocking_pool::unblock(move || {
        let _live = live;
        let _here = Here::enter();
        crate::executor::block_on(WithCancel {
            cancel,
            fut: Box::pin(worker),
        });
    })
    .await;
    drop(share);
    if let Err(unstarted) = started {
        ctx.stop.fail(Error::Stage {
            stage: name,
            source: Arc::new(unstarted),
        });
    }
}
