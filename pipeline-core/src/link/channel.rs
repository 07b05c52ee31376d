//! A link's channel and its two ends: bounded (or counted by permits),
//! and closed when the run's signal is.

use std::sync::Arc;

use async_channel::{Receiver, Sender, TryRecvError};

use crate::build::{StageConfig, PREALLOCATED_PACKETS};
use crate::cancel::{or_cancel, Cancel};
use crate::link::closers::Closer;
use crate::link::{Packet, Permits};
use crate::stats::{Local, Stopwatch};
use crate::stop::Stop;

/// A bounded channel of `capacity` packets, closed when the run's signal is.
pub(crate) fn channel<T: Send + 'static>(
    capacity: usize,
    stop: &Stop,
) -> (Sender<Packet<T>>, Receiver<Packet<T>>) {
    let (tx, rx) = async_channel::bounded(capacity.max(1));
    close_on_cancel(stop, &tx, None);
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
/// writers woken) when the run's signal is. Counted by permits when the node
/// batches adaptively, or when it may hold more packets than are worth
/// allocating up front (see [`StageConfig::counted`]): its channel then
/// never fills before its permits run out, since every packet in it holds
/// at least one item.
pub(crate) fn link<T: Send + 'static>(cfg: &StageConfig, stop: &Stop) -> (LinkTx<T>, LinkRx<T>) {
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
        close_on_cancel(stop, &tx, Some(&permits));
        (tx, rx, Some(permits))
    } else {
        let (tx, rx) = channel(cfg.channel_packets(), stop);
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

/// Closes `tx`'s channel when the run's signal is closed (at once if it
/// already is), with a closer registered on the run's [`Stop`]: closing
/// wakes every send and receive blocked on it. This is how a stage's
/// blocked send or receive hears the signal: it waits on its
/// channel alone, rather than racing every wait against
/// [`Cancel::cancelled`], which would add a listener on the one signal all
/// tasks share to every wait. Holds a weak handle, so the channel still
/// closes normally when its senders are gone.
///
/// On a link counted by `permits`, the writers waiting for a permit are
/// woken once the channel is closed, and give up.
fn close_on_cancel<T: Send + 'static>(
    stop: &Stop,
    tx: &async_channel::Sender<T>,
    permits: Option<&Arc<Permits>>,
) {
    let weak = tx.downgrade();
    let permits = permits.map(Arc::downgrade);
    let close: Closer = Box::new(move || {
        if let Some(tx) = weak.upgrade() {
            tx.close();
        }
        if let Some(p) = permits.and_then(|p| p.upgrade()) {
            p.wake();
        }
    });
    stop.on_close(close);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_channel_registered_after_the_cancel_is_closed_at_once() {
        let stop = Stop::new();
        stop.cancel().cancel();
        let (tx, _rx) = channel::<u32>(1, &stop);
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
