//! A run whose sink is the caller: [`RunStream`] hands the last link's
//! items out as an async stream, then the run's outcome.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::stream::{Fuse, FusedStream};
use futures::{Stream, StreamExt};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::link::{Clear, Reader};
use crate::node::sink_read::Budget;
use crate::run::join::{take, Spawned, Tasks};
use crate::stats::{Local, Stats};
use crate::stop::Stop;

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
/// [`block_on`](crate::block_on) (or [`RunIter`](crate::RunIter)), which keeps the executor
/// going while the thread blocks; another `block_on` would hold up one of
/// the executor's threads.
///
/// Dropping the stream cancels the run; its tasks then end on their own.
/// To cancel *and wait* for them, use [`close`](Self::close).
pub struct RunStream<T> {
    inner: Fuse<futures::stream::BoxStream<'static, Result<T, Error>>>,
    pub(super) stop: Stop,
    pub(super) tasks: Tasks,
    budget: Budget,
    /// The budget is spent: yield before the next item.
    spent: bool,
}

impl<T: Send + 'static> RunStream<T> {
    /// The stream of a run whose last link `reader` reads, counting in
    /// `stats` (its row of the run's `table`); `startup` is the error that
    /// kept the run from starting, if any.
    pub(crate) fn new(
        reader: Reader<T>,
        stats: Local,
        table: Stats,
        stop: Stop,
        tasks: Spawned,
        startup: Option<Error>,
    ) -> Self {
        let tasks: Tasks = Arc::new(Mutex::new(Some(tasks)));
        struct State<T> {
            reader: Reader<T>,
            stats: Local,
            table: Stats,
            stop: Stop,
            tasks: Tasks,
            done: bool,
        }
        let state = State {
            reader,
            stats,
            table,
            stop: stop.clone(),
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
                if !s.stop.cancel().is_cancelled() {
                    if let Some(m) = s.reader.next(&mut s.stats, Clear::no_output()).await {
                        return Some((m, s));
                    }
                }
                s.done = true;
                // End of stream: every sender is gone, or the run was
                // cancelled. Wait for every task, then report.
                let tasks = take(&s.tasks);
                tasks.join().await;
                s.stop.forget_closers();
                // The sink's own counts too, before the stats are reported.
                s.stats.publish();
                crate::trace::publish(&s.table);
                match s.stop.outcome() {
                    Err(e) => Some((Err(e), s)),
                    Ok(()) => None,
                }
            })
            .boxed(),
        };
        RunStream {
            inner: inner.fuse(),
            stop,
            tasks,
            budget: Budget::new(),
            spent: false,
        }
    }

    /// Cancels the run and waits until every task of it has ended.
    pub async fn close(self) {
        self.stop.finish();
        let tasks = take(&self.tasks);
        tasks.join().await;
        self.stop.forget_closers();
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        self.stop.cancel()
    }
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
        self.stop.finish();
        take(&self.tasks).detach();
    }
}
