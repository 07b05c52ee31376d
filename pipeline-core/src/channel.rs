//! The links between stages: bounded async-channels of packets, read and
//! written through cancel-aware ends that batch items when asked to.
//!
//! Every channel between stages is closed when the run's [`Cancel`] is, so
//! a blocked send or receive wakes at a cancel and gives up; the fast paths
//! (`try_send`, `try_recv`) read no clock and touch no listener.
//!
//! A worker that finds its input empty or its output full does not
//! register to be woken at once: it first yields, once, so that the
//! executor runs its other tasks, and looks again. Registering a waiter
//! and waking it costs both sides a lock on the channel's waiter list and
//! the executor a round trip, while the task that fills the input (or
//! drains the output) is most often running already and done within a
//! packet's time; the look after the yield finds its work without either.
//! On the per-item benches the framework's cells ran at 1.04-1.20x the
//! same graph hand-wired with `recv().await` and `send().await` before
//! this, and at 0.77-1.06x with it (BENCHMARKS.md). A cancel still ends the wait at
//! once: the yield returns at the next poll, and the look sees the
//! closed channel.
//!
//! A link whose writer batches adaptively is *counted*: its buffer is a
//! number of item permits (see [`crate::permits`]) that cover the packet
//! being filled and the packet being read as well as the channel, so the
//! link holds at most its buffer however its items are packed. Other links
//! count packets in the channel, and the packets at either end come on top.

use std::sync::Arc;

use async_channel::{Receiver, Sender, TryRecvError};
use futures::future::{select, Either};

use crate::cancel::Cancel;
use crate::config::{StageConfig, PREALLOCATED_PACKETS};
use crate::error::Error;
use crate::permits::Permits;
use crate::stats::{Local, Stopwatch};

pub(crate) use crate::reader::{Poll, Reader, Refill};
pub(crate) use crate::writer::{Pushed, Writer};

/// An item, or under the continue policy an error travelling as an item.
pub(crate) type Msg<T> = Result<T, Error>;

/// What a channel carries: one message, or a batch of them.
pub(crate) enum Packet<T> {
    /// One item (batch 1). An error travelling as an item at batch 1 goes
    /// as a `Many` of one, so that this, the common packet, is no bigger
    /// than the item (or a `Vec`).
    One(T),
    /// A batch of items with no error among them, the common case: stored
    /// without an error slot per item, so a batch of `u64`s moves 8 bytes
    /// per item between threads instead of a whole `Result<u64, Error>`.
    Items(Vec<T>),
    /// A batch in which errors travel as items (continue policy), in order.
    Many(Vec<Msg<T>>),
}

impl<T> Packet<T> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Packet::One(_) => 1,
            Packet::Items(v) => v.len(),
            Packet::Many(v) => v.len(),
        }
    }
}

/// A bounded channel of `capacity` packets, closed when `cancel` is.
pub(crate) fn channel<T: Send + 'static>(
    capacity: usize,
    cancel: &Cancel,
) -> (Sender<Packet<T>>, Receiver<Packet<T>>) {
    let (tx, rx) = async_channel::bounded(capacity.max(1));
    cancel.close_on_cancel(&tx, None);
    (tx, rx)
}

/// The writing side of a link: its channel, and its permits if it is
/// counted by them.
pub(crate) struct LinkTx<T> {
    pub(crate) tx: Sender<Packet<T>>,
    pub(crate) permits: Option<Arc<Permits>>,
}

/// The reading side of a link: its channel, and its permits if it is
/// counted by them.
pub(crate) struct LinkRx<T> {
    pub(crate) rx: Receiver<Packet<T>>,
    pub(crate) permits: Option<Arc<Permits>>,
}

impl<T> Clone for LinkTx<T> {
    fn clone(&self) -> Self {
        LinkTx {
            tx: self.tx.clone(),
            permits: self.permits.clone(),
        }
    }
}

impl<T> Clone for LinkRx<T> {
    fn clone(&self) -> Self {
        LinkRx {
            rx: self.rx.clone(),
            permits: self.permits.clone(),
        }
    }
}

impl<T> LinkRx<T> {
    /// Whether the packets its readers hold are counted in its buffer.
    pub(crate) fn counted(&self) -> bool {
        self.permits.is_some()
    }
}

/// The link a node with settings `cfg` sends into, closed (and its waiting
/// writers woken) when `cancel` is. Counted by permits when the node
/// batches adaptively, or when it may hold more packets than are worth
/// allocating up front (see [`StageConfig::counted`]): its channel then
/// never fills before its permits run out, since every packet in it holds
/// at least one item.
pub(crate) fn link<T: Send + 'static>(
    cfg: &StageConfig,
    cancel: &Cancel,
) -> (LinkTx<T>, LinkRx<T>) {
    let (tx, rx, permits) = if cfg.counted() {
        let permits = Permits::new(cfg.buffer);
        // The permits bound the link, so its channel needs no bound of its
        // own: past a size worth allocating up front, it allocates room
        // as packets arrive and frees it as they leave.
        let (tx, rx) = if cfg.buffer <= PREALLOCATED_PACKETS {
            async_channel::bounded(cfg.buffer)
        } else {
            async_channel::unbounded()
        };
        cancel.close_on_cancel(&tx, Some(&permits));
        (tx, rx, Some(permits))
    } else {
        let (tx, rx) = channel(cfg.channel_packets(), cancel);
        (tx, rx, None)
    };
    (
        LinkTx {
            tx,
            permits: permits.clone(),
        },
        LinkRx { rx, permits },
    )
}

/// Why a send did not happen: the run was cancelled, or nobody reads any more.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stopped;

/// Awaits `fut` unless the run is cancelled first (then `None`).
pub(crate) async fn or_cancel<F: std::future::Future>(
    fut: F,
    cancel: &Cancel,
) -> Option<F::Output> {
    if cancel.is_cancelled() {
        return None;
    }
    let fut = std::pin::pin!(fut);
    let cancelled = std::pin::pin!(cancel.cancelled());
    match select(fut, cancelled).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Receives from a raw channel: at once if something waits, otherwise
/// waits (adding the time to `stats.wait_in`) unless the run is cancelled.
/// `None` once the channel is closed and empty, or the run cancelled.
pub(crate) async fn recv_timed<T>(
    rx: &Receiver<T>,
    cancel: &Cancel,
    stats: &mut Local,
) -> Option<T> {
    match rx.try_recv() {
        Ok(v) => Some(v),
        Err(TryRecvError::Closed) => None,
        Err(TryRecvError::Empty) => {
            let t0 = Stopwatch::start();
            let got = or_cancel(rx.recv(), cancel).await;
            stats.wait_in += t0.elapsed();
            got.and_then(Result::ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_channel_registered_after_the_cancel_is_closed_at_once() {
        let cancel = Cancel::new();
        cancel.cancel();
        let (tx, _rx) = channel::<u32>(1, &cancel);
        assert!(tx.is_closed());
    }

    #[test]
    fn leftover_items_are_dropped_when_the_run_ends() {
        let token = Arc::new(());
        let p = crate::Pipeline::new();
        let signal = p.cancel_signal(); // kept past the run
        let items = std::iter::repeat_with({
            let token = token.clone();
            move || token.clone()
        });
        let first = p
            .from_iter(crate::StageConfig::new("gen").buffer(8), items)
            .map("id", |t| t)
            .first()
            .run()
            .unwrap();
        drop(first);
        assert_eq!(Arc::strong_count(&token), 1, "no item outlives the run");
        drop(signal);
    }
}
