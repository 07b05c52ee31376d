//! The links between stages: bounded async-channels of packets, read and
//! written through cancel-aware ends that batch items when asked to.
//!
//! Every blocking send or receive races the run's [`Cancel`]: closing the
//! signal wakes it, and it gives up. The fast paths (`try_send`,
//! `try_recv`) read no clock and touch no listener.

use std::time::Instant;

use async_channel::{Receiver, Sender, TryRecvError, TrySendError};
use futures::future::{select, Either};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::stats::Local;

/// An item, or under the continue policy an error travelling as an item.
pub(crate) type Msg<T> = Result<T, Error>;

/// What a channel carries: one message, or a batch of them.
pub(crate) enum Packet<T> {
    One(Msg<T>),
    Many(Vec<Msg<T>>),
}

impl<T> Packet<T> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Packet::One(_) => 1,
            Packet::Many(v) => v.len(),
        }
    }
}

/// A bounded channel of `capacity` packets.
pub(crate) fn channel<T>(capacity: usize) -> (Sender<Packet<T>>, Receiver<Packet<T>>) {
    async_channel::bounded(capacity.max(1))
}

/// Why a send did not happen: the run was cancelled, or nobody reads any more.
#[derive(Debug)]
pub(crate) struct Stopped;

/// The reading end of a link, owned by one worker.
pub(crate) struct Reader<T> {
    rx: Receiver<Packet<T>>,
    cancel: Cancel,
    pending: std::vec::IntoIter<Msg<T>>,
    /// Set once the input was seen closed and drained (not cancelled).
    exhausted: bool,
}

/// What [`Reader::try_next`] found.
pub(crate) enum Poll<T> {
    Item(Msg<T>),
    Empty,
    Closed,
}

impl<T> Reader<T> {
    pub(crate) fn new(rx: Receiver<Packet<T>>, cancel: Cancel) -> Self {
        Reader {
            rx,
            cancel,
            pending: Vec::new().into_iter(),
            exhausted: false,
        }
    }

    /// Whether the input ended because every sender was done, rather than
    /// because the run was cancelled or the reader stopped early.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Takes the next message without waiting. A cancelled run reads as closed.
    #[inline]
    pub(crate) fn try_next(&mut self, stats: &mut Local) -> Poll<T> {
        if let Some(m) = self.pending.next() {
            return Poll::Item(m);
        }
        if self.cancel.is_cancelled() {
            return Poll::Closed;
        }
        match self.rx.try_recv() {
            Ok(p) => Poll::Item(self.unpack(p, stats)),
            Err(TryRecvError::Empty) => Poll::Empty,
            Err(TryRecvError::Closed) => {
                self.exhausted = true;
                Poll::Closed
            }
        }
    }

    /// Waits for the next message; `None` once the input is closed and
    /// drained, or the run is cancelled.
    pub(crate) async fn next(&mut self, stats: &mut Local) -> Option<Msg<T>> {
        match self.try_next(stats) {
            Poll::Item(m) => Some(m),
            Poll::Closed => None,
            Poll::Empty => self.wait(stats).await,
        }
    }

    /// The slow path of [`next`](Self::next): block until a packet arrives.
    pub(crate) async fn wait(&mut self, stats: &mut Local) -> Option<Msg<T>> {
        let t0 = Instant::now();
        let got = {
            let recv = std::pin::pin!(self.rx.recv());
            let cancelled = std::pin::pin!(self.cancel.cancelled());
            match select(recv, cancelled).await {
                Either::Left((Ok(p), _)) => Some(p),
                Either::Left((Err(_), _)) => {
                    self.exhausted = true;
                    None
                }
                Either::Right(_) => None,
            }
        };
        stats.wait_in += t0.elapsed();
        got.map(|p| self.unpack(p, stats))
    }

    #[inline]
    fn unpack(&mut self, p: Packet<T>, stats: &mut Local) -> Msg<T> {
        match p {
            Packet::One(m) => {
                stats.item_in(1);
                m
            }
            Packet::Many(v) => {
                stats.item_in(v.len() as u64);
                self.pending = v.into_iter();
                self.pending
                    .next()
                    .expect("a batch packet is never sent empty")
            }
        }
    }
}

/// The writing end of a link, owned by one worker; buffers up to `batch`
/// messages before sending them as one packet.
pub(crate) struct Writer<T> {
    tx: Sender<Packet<T>>,
    cancel: Cancel,
    batch: usize,
    buf: Vec<Msg<T>>,
}

impl<T> Writer<T> {
    pub(crate) fn new(tx: Sender<Packet<T>>, cancel: Cancel, batch: usize) -> Self {
        Writer {
            tx,
            cancel,
            batch: batch.max(1),
            buf: Vec::new(),
        }
    }

    /// Sends (or buffers) one message.
    #[inline]
    pub(crate) async fn send(&mut self, m: Msg<T>, stats: &mut Local) -> Result<(), Stopped> {
        stats.items_out += 1;
        if self.batch == 1 {
            return self.send_packet(Packet::One(m), stats).await;
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(self.batch);
        }
        self.buf.push(m);
        if self.buf.len() >= self.batch {
            self.flush(stats).await
        } else {
            Ok(())
        }
    }

    /// Sends whatever is buffered.
    pub(crate) async fn flush(&mut self, stats: &mut Local) -> Result<(), Stopped> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.batch));
        self.send_packet(Packet::Many(full), stats).await
    }

    pub(crate) async fn send_packet(
        &mut self,
        p: Packet<T>,
        stats: &mut Local,
    ) -> Result<(), Stopped> {
        if self.cancel.is_cancelled() {
            return Err(Stopped);
        }
        let p = match self.tx.try_send(p) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(Stopped),
            Err(TrySendError::Full(p)) => p,
        };
        let t0 = Instant::now();
        let sent = {
            let send = std::pin::pin!(self.tx.send(p));
            let cancelled = std::pin::pin!(self.cancel.cancelled());
            matches!(select(send, cancelled).await, Either::Left((Ok(()), _)))
        };
        stats.wait_out += t0.elapsed();
        if sent {
            Ok(())
        } else {
            Err(Stopped)
        }
    }
}

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
            let t0 = Instant::now();
            let got = or_cancel(rx.recv(), cancel).await;
            stats.wait_in += t0.elapsed();
            got.and_then(Result::ok)
        }
    }
}
