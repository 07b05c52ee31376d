//! How items enter a pipeline: the task of a source over an iterator, a
//! stream, or a producer that pushes into an emitter
//! ([`emitter`](crate::node::emitter)).

use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::executor::LiveGuard;
use crate::link::{Pushed, Writer};
use crate::node::emitter::{AsyncEmitter, Emitter};
use crate::run::pool::Share;
use crate::stats::Local;

/// The task of a source over an iterator: fills and sends batches
/// without waiting while there is room. Stops taking items at a drain,
/// before the next batch; a batch waiting for room still goes.
pub(crate) async fn iter_source<I>(iter: I, mut w: Writer<I::Item>, mut stats: Local)
where
    I: IntoIterator,
{
    let mut iter = iter.into_iter();
    loop {
        if w.draining() {
            break;
        }
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

/// The task of a source over an async stream; a partial batch goes
/// before the stream makes it wait. `sources` is the run's sources'
/// signal (a drain or a cancel): the source stops before its next packet
/// once it closes, and at once if it is waiting for the stream then.
pub(crate) async fn stream_source<S>(
    stream: S,
    mut w: Writer<S::Item>,
    mut stats: Local,
    sources: Cancel,
) where
    S: Stream,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        // Once a packet: a partial batch is in flight, and goes first.
        if !w.has_partial() && sources.is_cancelled() {
            break;
        }
        // Flush a partial batch before the stream makes us wait.
        let next = match futures::poll!(stream.next()) {
            std::task::Poll::Ready(n) => n,
            std::task::Poll::Pending => {
                if w.flush(&mut stats).await.is_err() {
                    return;
                }
                match crate::cancel::or_cancel(stream.next(), &sources).await {
                    Some(n) => n,
                    None => break,
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

/// The task of a blocking producer: runs it on the blocking pool, with a
/// thread of its own, and makes its panic the run's error. The producer's
/// thread holds `live` (the run's live count) until the producer returns,
/// even if this task is dropped first (the run's future dropped).
pub(crate) async fn blocking_source<T, F>(f: F, mut em: Emitter<T>, live: LiveGuard)
where
    T: Send + 'static,
    F: FnOnce(&mut Emitter<T>) + Send + 'static,
{
    let stop = em.stop.clone();
    let name = em.name.clone();
    // The producer keeps a thread of the blocking pool for as long as it
    // runs: the pool grows by one meanwhile, so that many blocking sources
    // never wait for threads that others hold (see `pool`).
    let share = Share::new(1);
    share.take();
    // The producer's thread reports in the source's span.
    let carry = crate::trace::Carry::current();
    let res = crate::run::blocking_pool::unblock(move || {
        let _live = live;
        let cancel = em.stop.cancel().clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            carry.enter(|| cancel.enter(|| f(&mut em)))
        }));
        if r.is_ok() {
            let _ = smol::block_on(em.writer.flush(&mut em.stats));
        }
        r
    })
    .await;
    drop(share);
    match res {
        Ok(Ok(())) => {}
        Ok(Err(p)) => {
            stop.fail_panicked(name, p);
        }
        Err(unstarted) => {
            stop.fail(Error::Stage {
                stage: name,
                source: Arc::new(unstarted),
            });
        }
    }
}

/// The task of an async producer, dropped at a drain or a cancel
/// wherever it waits, except inside a [`AsyncEmitter::send`] that waits
/// for room (its item was made and goes first); its panic is the run's
/// error.
pub(crate) async fn async_source<T, F, Fut>(f: F, em: AsyncEmitter<T>)
where
    F: FnOnce(AsyncEmitter<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    use std::future::Future;
    use std::task::Poll;
    let stop = em.inner.stop.clone();
    let name = em.inner.name.clone();
    let sending = em.sending.clone();
    let sources = stop.drain().sources().clone();
    let mut run = std::pin::pin!(std::panic::AssertUnwindSafe(f(em)).catch_unwind());
    let mut stopping = std::pin::pin!(sources.cancelled());
    let ran = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = run.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        // `cancelled` is polled until it is ready, never after.
        let stopped = sources.is_cancelled() || stopping.as_mut().poll(cx).is_ready();
        if stopped && !sending.load(std::sync::atomic::Ordering::Acquire) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await;
    if let Some(Err(p)) = ran {
        stop.fail_panicked(name, p);
    }
}
