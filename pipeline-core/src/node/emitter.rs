//! The handles a producer pushes items into: [`Emitter`] for a blocking
//! producer, [`AsyncEmitter`] for an async one, and [`Cancelled`], their
//! answer once the run is cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::build::{ErrorPolicy, StageConfig};
use crate::cancel::Cancel;
use crate::error::BoxError;
use crate::link::{LinkTx, Pushed, Writer};
use crate::outcome::Raised;
use crate::run::ctx::RunCtx;
use crate::stats::Local;
use crate::stop::Stop;

/// Why an emitter refused an item: the run was cancelled or drained (see
/// [`Drain`](crate::Drain)), or its consumers are gone. The producer
/// should stop and return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline was cancelled")]
pub struct Cancelled;

/// The handle a blocking producer pushes items into
/// ([`Pipeline::from_blocking`](crate::Pipeline::from_blocking)).
///
/// [`emit`](Self::emit) blocks while the stage's channel is full and returns
/// [`Cancelled`] as soon as the run is cancelled, or at the next packet once
/// it is drained, so a producer loop written with `?` stops promptly.
pub struct Emitter<T> {
    pub(crate) writer: Writer<T>,
    pub(crate) stats: Local,
    pub(crate) name: Arc<str>,
    pub(crate) stop: Stop,
    pub(crate) policy: ErrorPolicy,
}

impl<T> Emitter<T> {
    /// Sends one item downstream, blocking while there is no room. An
    /// item refused is dropped.
    ///
    /// # Errors
    /// [`Cancelled`] once the run is cancelled or nobody reads any more,
    /// and once it is drained (for the first item of a packet: with a
    /// [`batch`](crate::StageConfig::batch) set, the packet being filled
    /// is filled first).
    pub fn emit(&mut self, item: T) -> Result<(), Cancelled> {
        if !self.writer.has_partial() && self.writer.draining() {
            return Err(Cancelled);
        }
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

    /// A signal that closes when the producer should stop: at a drain
    /// ([`Drain`](crate::Drain)), or with the run's signal. A producer
    /// that waits for its input on something other than `emit` can wait
    /// on this too ([`Cancel::cancelled`], [`Cancel::wait_blocking`]),
    /// so that a drain does not wait for its next item.
    pub fn stop_signal(&self) -> &Cancel {
        self.stop.drain().sources()
    }
}

/// The handle an async producer sends items into
/// ([`Pipeline::from_async`](crate::Pipeline::from_async)). Items are sent one
/// per packet (an async source does not batch).
///
/// At a drain ([`Drain`](crate::Drain)) the producer is dropped wherever
/// it waits, except inside a [`send`](Self::send) waiting for room: that
/// item is delivered first.
pub struct AsyncEmitter<T> {
    pub(crate) inner: Emitter<T>,
    /// Set while a [`send`](Self::send) waits for room: the source's task
    /// does not drop the producer at a drain meanwhile.
    pub(crate) sending: Arc<AtomicBool>,
}

impl<T> AsyncEmitter<T> {
    pub(crate) fn new(inner: Emitter<T>) -> Self {
        AsyncEmitter {
            inner,
            sending: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sends one item downstream, waiting while there is no room. An
    /// item refused is dropped.
    ///
    /// # Errors
    /// [`Cancelled`] once the run is cancelled or drained, or nobody reads
    /// any more.
    pub async fn send(&mut self, item: T) -> Result<(), Cancelled> {
        let e = &mut self.inner;
        if e.writer.draining() {
            return Err(Cancelled);
        }
        match e.writer.push(Ok(item), &mut e.stats) {
            Pushed::Done => Ok(()),
            Pushed::Stopped => Err(Cancelled),
            Pushed::Full => {
                self.sending.store(true, Ordering::Release);
                let sent = e.writer.send_waiting(&mut e.stats).await;
                self.sending.store(false, Ordering::Release);
                sent.map_err(|_| Cancelled)
            }
        }
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

    /// A signal that closes when the producer should stop: at a drain,
    /// or with the run's signal (see [`Emitter::stop_signal`]).
    pub fn stop_signal(&self) -> &Cancel {
        self.inner.stop_signal()
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
