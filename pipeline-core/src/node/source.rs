//! How items enter a pipeline: iterators, streams, and emitters that a
//! blocking or async producer pushes into.

use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::build::{ErrorPolicy, StageConfig};
use crate::cancel::Cancel;
use crate::error::BoxError;
use crate::link::{LinkTx, Pushed, Writer};
use crate::outcome::Raised;
use crate::run::ctx::RunCtx;
use crate::run::pool::Share;
use crate::stats::Local;

/// Why an emitter refused an item: the run was cancelled (or its consumers
/// are gone). The producer should stop and return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline was cancelled")]
pub struct Cancelled;

/// The handle a blocking producer pushes items into
/// ([`Pipeline::from_blocking`](crate::Pipeline::from_blocking)).
///
/// [`emit`](Self::emit) blocks while the stage's channel is full and returns
/// [`Cancelled`] as soon as the run is cancelled, so a producer loop written
/// with `?` stops promptly.
pub struct Emitter<T> {
    pub(crate) writer: Writer<T>,
    pub(crate) stats: Local,
    pub(crate) name: Arc<str>,
    pub(crate) cancel: Cancel,
    pub(crate) policy: ErrorPolicy,
}

impl<T> Emitter<T> {
    /// Sends one item downstream, blocking while there is no room.
    ///
    /// # Errors
    /// [`Cancelled`] once the run is cancelled or nobody reads any more.
    pub fn emit(&mut self, item: T) -> Result<(), Cancelled> {
        smol::block_on(self.writer.send(Ok(item), &mut self.stats)).map_err(|_| Cancelled)
    }

    /// Reports an error from the producer. Under the fail-fast policy it
    /// becomes the run's error (if first) and cancels the run; under the
    /// continue policy it travels downstream as an item.
    ///
    /// # Errors
    /// [`Cancelled`] if the run is (now) cancelled.
    pub fn error(&mut self, err: impl Into<BoxError>) -> Result<(), Cancelled> {
        self.stats.errors += 1;
        match self.policy.raise(self.name.clone(), err) {
            Raised::Travels(err) => {
                smol::block_on(self.writer.send(Err(err), &mut self.stats)).map_err(|_| Cancelled)
            }
            Raised::Fails(err) => {
                // What was emitted before the error goes first.
                self.writer.fail(err, &mut self.stats);
                Err(Cancelled)
            }
        }
    }

    /// Whether the run has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        &self.cancel
    }
}

/// The handle an async producer sends items into
/// ([`Pipeline::from_async`](crate::Pipeline::from_async)). Items are sent one
/// per packet (an async source does not batch).
pub struct AsyncEmitter<T> {
    pub(crate) inner: Emitter<T>,
}

impl<T> AsyncEmitter<T> {
    /// Sends one item downstream, waiting while there is no room.
    ///
    /// # Errors
    /// [`Cancelled`] once the run is cancelled or nobody reads any more.
    pub async fn send(&mut self, item: T) -> Result<(), Cancelled> {
        let e = &mut self.inner;
        e.writer
            .send(Ok(item), &mut e.stats)
            .await
            .map_err(|_| Cancelled)
    }

    /// Reports an error, as [`Emitter::error`] does.
    ///
    /// # Errors
    /// [`Cancelled`] if the run is (now) cancelled.
    pub async fn error(&mut self, err: impl Into<BoxError>) -> Result<(), Cancelled> {
        let e = &mut self.inner;
        e.stats.errors += 1;
        match e.policy.raise(e.name.clone(), err) {
            Raised::Travels(err) => e
                .writer
                .send(Err(err), &mut e.stats)
                .await
                .map_err(|_| Cancelled),
            Raised::Fails(err) => {
                e.writer.fail(err, &mut e.stats);
                Err(Cancelled)
            }
        }
    }

    /// Whether the run has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        &self.inner.cancel
    }
}

pub(crate) async fn iter_source<I>(iter: I, mut w: Writer<I::Item>, mut stats: Local)
where
    I: IntoIterator,
{
    let mut iter = iter.into_iter();
    loop {
        // The per-item (or per-batch) path is plain code; only a full
        // channel awaits.
        let (more, pushed) = w.fill(&mut iter, &mut stats);
        match pushed {
            Pushed::Done => {}
            Pushed::Stopped => return,
            Pushed::Full => {
                if w.send_waiting(&mut stats).await.is_err() {
                    return;
                }
            }
        }
        if !more {
            break;
        }
    }
    let _ = w.flush(&mut stats).await;
}

pub(crate) async fn stream_source<S>(
    stream: S,
    mut w: Writer<S::Item>,
    mut stats: Local,
    cancel: Cancel,
) where
    S: Stream,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        // Flush a partial batch before the stream makes us wait.
        let next = match futures::poll!(stream.next()) {
            std::task::Poll::Ready(n) => n,
            std::task::Poll::Pending => {
                if w.flush(&mut stats).await.is_err() {
                    return;
                }
                match crate::cancel::or_cancel(stream.next(), &cancel).await {
                    Some(n) => n,
                    None => return,
                }
            }
        };
        let Some(item) = next else { break };
        stats.items_in += 1;
        if w.send(Ok(item), &mut stats).await.is_err() {
            return;
        }
    }
    let _ = w.flush(&mut stats).await;
}

pub(crate) async fn blocking_source<T, F>(f: F, mut em: Emitter<T>)
where
    T: Send + 'static,
    F: FnOnce(&mut Emitter<T>) + Send + 'static,
{
    let ctx_cancel = em.cancel.clone();
    let name = em.name.clone();
    // The producer keeps a thread of the blocking pool for as long as it
    // runs: the pool grows by one meanwhile, so that many blocking sources
    // never wait for threads that others hold (see `pool`).
    let share = Share::new(1);
    share.take();
    let res = smol::unblock(move || {
        let cancel = em.cancel.clone();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cancel.enter(|| f(&mut em))));
        if r.is_ok() {
            let _ = smol::block_on(em.writer.flush(&mut em.stats));
        }
        r
    })
    .await;
    drop(share);
    if let Err(p) = res {
        ctx_cancel.fail_panicked(name, &*p);
    }
}

pub(crate) async fn async_source<T, F, Fut>(f: F, em: AsyncEmitter<T>)
where
    F: FnOnce(AsyncEmitter<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let cancel = em.inner.cancel.clone();
    let name = em.inner.name.clone();
    // An async producer is dropped at the cancel, wherever it is waiting.
    let run = std::panic::AssertUnwindSafe(f(em)).catch_unwind();
    if let Some(Err(p)) = crate::cancel::or_cancel(run, &cancel).await {
        cancel.fail_panicked(name, &*p);
    }
}

pub(crate) fn make_emitter<T>(
    tx: LinkTx<T>,
    name: Arc<str>,
    cfg: &StageConfig,
    stats: Local,
    ctx: &RunCtx,
) -> Emitter<T> {
    Emitter {
        writer: Writer::for_node(tx, cfg, ctx.cancel.clone()),
        stats,
        name,
        cancel: ctx.cancel.clone(),
        policy: ctx.policy,
    }
}
