//! How a run ends: sinks that consume the last stage in the sink's task,
//! and the streams and iterators that hand the items to the caller.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{Fuse, FusedStream};
use futures::{FutureExt, Stream, StreamExt};
use smol::Task;

use crate::cancel::{Cancel, Reason};
use crate::channel::Reader;
use crate::error::Error;
use crate::executor::blocking;
use crate::sink_read::Budget;
use crate::stats::Local;

/// The run's error for the reason it stopped, if that reason is an error.
pub(crate) fn outcome(cancel: &Cancel) -> Result<(), Error> {
    match cancel.reason() {
        Some(Reason::Failed(e)) => Err(e),
        Some(Reason::Cancelled) => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

/// Waits for every task of a run to end.
pub(crate) async fn join_all(tasks: Vec<Task<()>>) {
    for t in tasks {
        t.await;
    }
}

type Tasks = Arc<Mutex<Option<Vec<Task<()>>>>>;

/// The output of a run as an async [`Stream`] of `Result<T, Error>`.
///
/// Items arrive as the last stage sends them. Under the continue policy
/// errors arrive as items in their place. When the pipeline ends the stream
/// first waits for every task of the run to finish; then, if the run failed,
/// it yields the run's error as its last item.
///
/// Once the run is cancelled or has failed, the stream yields nothing more
/// but that outcome, not even items already received. After its end it
/// yields `None` again ([`FusedStream`]). It yields to its caller within a
/// bounded budget of work (a few thousand items, or a millisecond), so a
/// timer or a `select!` beside it is polled on time.
///
/// To wait for it in sync code inside a stage, use this crate's
/// [`block_on`](crate::block_on) (or [`RunIter`]), which keeps the executor
/// going while the thread blocks; another `block_on` would hold up one of
/// the executor's threads.
///
/// Dropping the stream cancels the run; its tasks then end on their own.
/// To cancel *and wait* for them, use [`close`](Self::close).
pub struct RunStream<T> {
    inner: Fuse<futures::stream::BoxStream<'static, Result<T, Error>>>,
    cancel: Cancel,
    tasks: Tasks,
    budget: Budget,
    /// The budget is spent: yield before the next item.
    spent: bool,
}

impl<T: Send + 'static> RunStream<T> {
    pub(crate) fn new(
        reader: Reader<T>,
        stats: Local,
        cancel: Cancel,
        tasks: Vec<Task<()>>,
        startup: Option<Error>,
    ) -> Self {
        let tasks: Tasks = Arc::new(Mutex::new(Some(tasks)));
        struct State<T> {
            reader: Reader<T>,
            stats: Local,
            cancel: Cancel,
            tasks: Tasks,
            done: bool,
        }
        let state = State {
            reader,
            stats,
            cancel: cancel.clone(),
            tasks: tasks.clone(),
            done: false,
        };
        let inner = match startup {
            Some(e) => futures::stream::once(async move { Err(e) }).boxed(),
            None => futures::stream::unfold(state, |mut s| async move {
                if s.done {
                    return None;
                }
                // The sink is a stage: once the run is cancelled or has
                // failed, nothing more is handed out but the outcome.
                if !s.cancel.is_cancelled() {
                    if let Some(m) = s.reader.next(&mut s.stats).await {
                        return Some((m, s));
                    }
                }
                s.done = true;
                // End of stream: every sender is gone, or the run was
                // cancelled. Wait for every task, then report.
                let tasks = take(&s.tasks);
                join_all(tasks).await;
                s.cancel.forget_channels();
                match outcome(&s.cancel) {
                    Err(e) => Some((Err(e), s)),
                    Ok(()) => None,
                }
            })
            .boxed(),
        };
        RunStream {
            inner: inner.fuse(),
            cancel,
            tasks,
            budget: Budget::new(),
            spent: false,
        }
    }

    /// Cancels the run and waits until every task of it has ended.
    pub async fn close(self) {
        self.cancel.finish();
        let tasks = take(&self.tasks);
        join_all(tasks).await;
        self.cancel.forget_channels();
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        &self.cancel
    }
}

fn take(tasks: &Tasks) -> Vec<Task<()>> {
    tasks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}

impl<T> Stream for RunStream<T> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if std::mem::take(&mut this.spent) {
            this.budget.reset();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = this.inner.poll_next_unpin(cx);
        match polled {
            Poll::Ready(Some(_)) => this.spent = this.budget.spend(),
            Poll::Pending => this.budget.reset(),
            Poll::Ready(None) => {}
        }
        polled
    }
}

impl<T> FusedStream for RunStream<T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T> Drop for RunStream<T> {
    fn drop(&mut self) {
        self.cancel.finish();
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        for t in tasks {
            t.detach();
        }
    }
}

/// The output of a run as a blocking [`Iterator`] of `Result<T, Error>`,
/// for callers outside async code. Same items as [`RunStream`]; fused
/// ([`FusedIterator`](std::iter::FusedIterator)). Used inside an inline
/// stage, it has another thread run the executor's tasks while it blocks,
/// as [`Run::run`](crate::Run::run) does.
///
/// Dropping it cancels the run and blocks until every task of the run has
/// ended, so nothing outlives it.
pub struct RunIter<T> {
    stream: Option<RunStream<T>>,
}

impl<T: Send + 'static> RunIter<T> {
    pub(crate) fn new(stream: RunStream<T>) -> Self {
        RunIter {
            stream: Some(stream),
        }
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> Option<&Cancel> {
        self.stream.as_ref().map(|s| &s.cancel)
    }
}

impl<T: Send + 'static> Iterator for RunIter<T> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.stream.as_mut()?;
        // An item at hand costs no thread a stand-in (see `blocking`).
        if let Some(item) = s.next().now_or_never() {
            return item;
        }
        blocking(|| smol::block_on(s.next()))
    }
}

impl<T: Send + 'static> std::iter::FusedIterator for RunIter<T> {}

impl<T> Drop for RunIter<T> {
    fn drop(&mut self) {
        if let Some(s) = self.stream.as_mut() {
            s.cancel.finish();
            let tasks = take(&s.tasks);
            blocking(|| smol::block_on(join_all(tasks)));
        }
    }
}

/// A sink's future, boxed.
pub(crate) type SinkFuture<O> = BoxFuture<'static, O>;
