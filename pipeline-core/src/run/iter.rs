//! A run whose sink is the caller's thread: [`RunIter`] is a
//! [`RunStream`] read by a blocking iterator.

use futures::{FutureExt, StreamExt};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::executor::blocking;
use crate::run::join::take;
use crate::run::stream::RunStream;

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
        self.stream.as_ref().map(|s| s.stop.cancel())
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
            s.stop.finish();
            let tasks = take(&s.tasks);
            blocking(|| smol::block_on(tasks.join()));
        }
    }
}
