//! A `flat_map`'s items: made lazily, one by one as they are sent, so an
//! inner iterator of any length (or an endless one) takes no more memory
//! than the stage's buffer and packet, and a cancel stops it.
//!
//! An inline stage's iterator runs on its worker, an item at a time, each
//! made when the item before it found room downstream. A blocking stage's
//! iterator may block too, so it runs on the blocking pool, a chunk of at
//! most a packet (and at most the buffer) at a time; the worker waits for
//! each chunk, as it waits for any blocking call, so no work outlives the
//! run.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::cancel::Cancel;
use crate::executor::LiveTasks;
use crate::link::Writer;
use crate::stats::Local;

/// An iterator of a flat_map's items, boxed.
pub(crate) type Items<U> = Box<dyn Iterator<Item = U> + Send>;

/// The items one call of a `flat_map` produced, not made yet.
pub(crate) enum Many<U> {
    /// An inline stage's iterator: each item made on the worker.
    Iter(Items<U>),
    /// A blocking stage's iterator: made on the blocking pool in chunks.
    Chunks(Chunks<U>),
}

/// Why sending a `flat_map`'s items stopped before the iterator ended.
pub(crate) enum Stop {
    /// The run stopped (cancelled, failed, or nobody reads any more).
    Stopped,
    /// The iterator panicked, with this payload.
    Panicked(Box<dyn Any + Send>),
    /// No thread could be started for the iterator's next chunk.
    Unstarted(std::io::Error),
}

impl<U: Send + 'static> Many<U> {
    /// Sends every item, each made once the one before it is sent (which
    /// waits while the link is full), until the iterator ends (`Ok`), the
    /// run stops, or the iterator panics. Looks at the signal before
    /// making each item, so a cancel stops an endless iterator.
    pub(crate) async fn send(
        self,
        w: &mut Writer<U>,
        stats: &mut Local,
        cancel: &Cancel,
    ) -> Result<(), Stop> {
        match self {
            Many::Iter(mut it) => loop {
                if cancel.is_cancelled() {
                    return Err(Stop::Stopped);
                }
                let next = catch_unwind(AssertUnwindSafe(|| it.next())).map_err(Stop::Panicked)?;
                let Some(u) = next else { return Ok(()) };
                w.send(Ok(u), stats).await.map_err(|_| Stop::Stopped)?;
            },
            Many::Chunks(mut c) => {
                while let Some(u) = c.next().await? {
                    w.send(Ok(u), stats).await.map_err(|_| Stop::Stopped)?;
                }
                Ok(())
            }
        }
    }
}

/// A blocking stage's iterator, made a chunk at a time on the blocking
/// pool, with the run's signal as [`Cancel::current`] there.
pub(crate) struct Chunks<U> {
    /// `None` once it has ended.
    iter: Option<Items<U>>,
    /// The most items made in one go.
    chunk: usize,
    cancel: Cancel,
    /// The run's live count, which counts each chunk being made until it
    /// is made (see [`Blocking`](crate::node::op::Blocking)).
    live: LiveTasks,
    /// The items of the last chunk not sent yet.
    ready: std::vec::IntoIter<U>,
}

impl<U: Send + 'static> Chunks<U> {
    pub(crate) fn new(iter: Items<U>, chunk: usize, cancel: Cancel, live: LiveTasks) -> Self {
        Chunks {
            iter: Some(iter),
            chunk: chunk.max(1),
            cancel,
            live,
            ready: Vec::new().into_iter(),
        }
    }

    /// The next item, making the next chunk if the last one is used up;
    /// `Ok(None)` once the iterator has ended.
    async fn next(&mut self) -> Result<Option<U>, Stop> {
        loop {
            if let Some(u) = self.ready.next() {
                return Ok(Some(u));
            }
            let Some(mut it) = self.iter.take() else {
                return Ok(None);
            };
            if self.cancel.is_cancelled() {
                return Err(Stop::Stopped);
            }
            let (chunk, cancel) = (self.chunk, self.cancel.clone());
            let live = self.live.guard();
            let (it, made) = crate::run::blocking_pool::unblock(move || {
                let _live = live;
                let made = catch_unwind(AssertUnwindSafe(|| {
                    cancel.enter(|| it.by_ref().take(chunk).collect::<Vec<U>>())
                }));
                (it, made)
            })
            .await
            .map_err(Stop::Unstarted)?;
            let made = made.map_err(Stop::Panicked)?;
            if made.len() == chunk {
                self.iter = Some(it);
            }
            self.ready = made.into_iter();
        }
    }
}
