//! The handles a producer pushes items into: [`Emitter`] for a blocking
//! producer, [`AsyncEmitter`] for an async one, and [`Cancelled`], their
//! answer once the run is cancelled.

use std::sync::Arc;

use crate::build::{ErrorPolicy, StageConfig};
use crate::cancel::Cancel;
use crate::error::BoxError;
use crate::link::{LinkTx, Writer};
use crate::outcome::Raised;
use crate::run::ctx::RunCtx;
use crate::stats::Local;
use crate::stop::Stop;

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
    pub(crate) stop: Stop,
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
        self.stop.cancel().is_cancelled()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        self.stop.cancel()
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
        self.inner.is_cancelled()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> &Cancel {
        self.inner.cancel_signal()
    }
}

/// The emitter of the source whose settings are `cfg`, writing into `tx`.
pub(crate) fn make_emitter<T>(
    tx: LinkTx<T>,
    name: Arc<str>,
    cfg: &StageConfig,
    stats: Local,
    ctx: &RunCtx,
) -> Emitter<T> {
    Emitter {
        writer: Writer::for_node(tx, cfg, ctx.stop.clone()),
        stats,
        name,
        stop: ctx.stop.clone(),
        policy: ctx.policy,
    }
}
