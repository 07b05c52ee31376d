//! How items enter a pipeline: the task of a source over an iterator, a
//! stream, or a producer that pushes into an emitter
//! ([`emitter`](crate::node::emitter)).

use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::link::{Pushed, Writer};
use crate::node::emitter::{AsyncEmitter, Emitter};
use crate::run::pool::Share;
use crate::stats::Local;

/// The task of a source over an iterator: fills and sends batches
/// without waiting while there is room.
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

/// The task of a source over an async stream; a partial batch goes
/// before the stream makes it wait.
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

/// The task of a blocking producer: runs it on the blocking pool, with a
/// thread of its own, and makes its panic the run's error.
pub(crate) async fn blocking_source<T, F>(f: F, mut em: Emitter<T>)
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
    let res = crate::run::blocking_pool::unblock(move || {
        let cancel = em.stop.cancel().clone();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cancel.enter(|| f(&mut em))));
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
            stop.fail_panicked(name, &*p);
        }
        Err(unstarted) => {
            stop.fail(Error::Stage {
                stage: name,
                source: Arc::new(unstarted),
            });
        }
    }
}

/// The task of an async producer, dropped at the cancel wherever it
/// waits; its panic is the run's error.
pub(crate) async fn async_source<T, F, Fut>(f: F, em: AsyncEmitter<T>)
where
    F: FnOnce(AsyncEmitter<T>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let stop = em.inner.stop.clone();
    let name = em.inner.name.clone();
    // An async producer is dropped at the cancel, wherever it is waiting.
    let run = std::panic::AssertUnwindSafe(f(em)).catch_unwind();
    if let Some(Err(p)) = crate::cancel::or_cancel(run, stop.cancel()).await {
        stop.fail_panicked(name, &*p);
    }
}
