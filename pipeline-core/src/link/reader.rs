//! The reading end of a link: takes packets from the channel, hands
//! messages (or whole batches) to a worker, and on a counted link gives a
//! packet's permits back once it is used up.

use async_channel::{Receiver, TryRecvError};

use crate::cancel::Cancel;
use crate::link::permits::Held;
use crate::link::{Clear, LinkRx, Msg, Packet};
use crate::stats::{Local, Stopwatch};
use crate::stop::Stop;

/// What is left of the batch a reader is working through.
enum Pending<T> {
    /// A batch of items as it came, none taken yet: a bulk map can take it
    /// whole ([`Reader::take_batch`]) and map it in place in one loop that
    /// the compiler sees from its start (so it can vectorize it).
    Whole(Vec<T>),
    Items(std::vec::IntoIter<T>),
    Many(std::vec::IntoIter<Msg<T>>),
}

impl<T> Pending<T> {
    /// How many messages are left.
    fn len(&self) -> usize {
        match self {
            Pending::Whole(v) => v.len(),
            Pending::Items(it) => it.len(),
            Pending::Many(it) => it.len(),
        }
    }

    #[inline(always)]
    fn next(&mut self) -> Option<Msg<T>> {
        match self {
            Pending::Items(it) => it.next().map(Ok),
            Pending::Many(it) => it.next(),
            Pending::Whole(_) => self.items().next().map(Ok),
        }
    }

    /// The items left, as an iterator, once a [`Whole`](Pending::Whole)
    /// batch is started; `None` for a batch that holds errors.
    #[inline(always)]
    fn started(&mut self) -> Option<&mut std::vec::IntoIter<T>> {
        if let Pending::Whole(v) = self {
            *self = Pending::Items(std::mem::take(v).into_iter());
        }
        match self {
            Pending::Items(it) => Some(it),
            _ => None,
        }
    }

    /// The items left of a batch of items, started.
    #[inline(always)]
    fn items(&mut self) -> &mut std::vec::IntoIter<T> {
        self.started()
            .expect("only a batch of items is started as one")
    }
}

/// The reading end of a link, owned by one worker.
pub(crate) struct Reader<T> {
    rx: Receiver<Packet<T>>,
    /// The run's stop: its signal, and why the run stopped.
    stop: Stop,
    pending: Pending<T>,
    /// Set once the input was seen closed and drained (not cancelled).
    exhausted: bool,
    /// The permits of the packet being read, on a counted link. After
    /// `rx`, so that it is dropped after it (see [`Held`]).
    held: Held,
}

/// Counts what the reader drops unread with the run's lost items: the
/// rest of its packet and, once the run is cancelled, what is left in the
/// channel (closed first, so that no packet arrives after the count; a
/// writer that finds it closed counts its own).
impl<T> Drop for Reader<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Unwinding: the run fails with the panic, and counts nothing.
            return;
        }
        let mut lost = self.pending.len();
        if self.stop.cancel().is_cancelled() {
            self.rx.close();
            while let Ok(p) = self.rx.try_recv() {
                lost += p.len();
            }
        }
        if lost > 0 {
            self.stop.lose(lost);
        }
    }
}

/// What [`Reader::try_next`] found.
#[must_use]
pub(crate) enum Poll<T> {
    Item(Msg<T>),
    Empty,
    Closed,
}

/// What a refill found ([`Reader::try_refill`], or [`Reader::refill`],
/// which waits and so never finds the input empty).
#[must_use]
pub(crate) enum Refill<T> {
    /// A message: the next of the current batch, or a packet of one.
    Item(Msg<T>),
    /// A batch packet, now the batch being read, whole.
    Batch,
    /// Nothing waits in the input now.
    Empty,
    /// The input is closed and drained, or the run cancelled.
    Closed,
}

/// What [`Reader::try_packet`] found.
#[must_use]
pub(crate) enum Taken<T> {
    /// The next packet, whole.
    Packet(Packet<T>),
    /// Nothing waits in the input now.
    Empty,
    /// The input is closed and drained, or the run cancelled.
    Closed,
}

impl<T> Reader<T> {
    pub(crate) fn new(link: LinkRx<T>, stop: Stop) -> Self {
        Reader {
            rx: link.rx,
            stop,
            pending: Pending::Items(Vec::new().into_iter()),
            exhausted: false,
            held: Held::new(link.permits),
        }
    }

    /// Whether the input ended because every sender was done, rather than
    /// because the run was cancelled or the reader stopped early.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// The run's signal, as this reader sees it.
    #[inline(always)]
    pub(crate) fn cancel(&self) -> &Cancel {
        self.stop.cancel()
    }

    /// The run's stop, as this reader sees it.
    pub(crate) fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The next message already in hand or waiting in the channel, without
    /// waiting and whatever the signal says (`None` if there is none): for
    /// a sink that may still find what it asked for among the items sent
    /// before the run failed. A closed channel still gives up what it holds.
    pub(crate) fn try_next_left(&mut self, stats: &mut Local) -> Option<Msg<T>> {
        if let Some(m) = self.pending.next() {
            return Some(m);
        }
        self.held.release();
        let p = self.rx.try_recv().ok()?;
        Some(match self.stash(p, stats) {
            Some(m) => m,
            None => self.first_of_batch(),
        })
    }

    /// Takes the next message without waiting. A cancelled run reads as closed.
    #[inline(always)]
    pub(crate) fn try_next(&mut self, stats: &mut Local) -> Poll<T> {
        match self.try_refill(stats) {
            Refill::Item(m) => Poll::Item(m),
            Refill::Batch => Poll::Item(self.first_of_batch()),
            Refill::Empty => Poll::Empty,
            Refill::Closed => Poll::Closed,
        }
    }

    /// Like [`try_next`](Self::try_next), but a batch packet taken from
    /// the channel stays whole as the batch being read
    /// ([`Refill::Batch`]), so a bulk map can take it in one piece.
    #[inline(always)]
    pub(crate) fn try_refill(&mut self, stats: &mut Local) -> Refill<T> {
        if let Some(m) = self.pending.next() {
            return Refill::Item(m);
        }
        // The packet is used up: its room goes back to the writers.
        self.held.release();
        if self.cancel().is_cancelled() {
            return Refill::Closed;
        }
        match self.rx.try_recv() {
            Ok(p) => match self.stash(p, stats) {
                Some(m) => Refill::Item(m),
                None => Refill::Batch,
            },
            Err(TryRecvError::Empty) => Refill::Empty,
            Err(TryRecvError::Closed) => {
                self.exhausted = true;
                Refill::Closed
            }
        }
    }

    /// What is left of the current packet, if it is a batch of items (no
    /// errors) with at least one left: for loops that work on a batch at
    /// once.
    #[inline(always)]
    pub(crate) fn pending_items(&mut self) -> Option<&mut std::vec::IntoIter<T>> {
        self.pending.started().filter(|it| it.len() > 0)
    }

    /// The current packet whole, if it is a batch of items none of which
    /// was taken yet and it has no more than `max`: for a bulk map, which
    /// maps it in place. `None` otherwise (then read it through
    /// [`pending_items`](Self::pending_items)).
    #[inline(always)]
    pub(crate) fn take_batch(&mut self, max: usize) -> Option<Vec<T>> {
        match &mut self.pending {
            Pending::Whole(v) if v.len() <= max && !v.is_empty() => Some(std::mem::take(v)),
            _ => None,
        }
    }

    /// Waits for the next message; `None` once the input is closed and
    /// drained, or the run is cancelled. `clear`: the node holds no room
    /// on its output while it waits.
    pub(crate) async fn next(&mut self, stats: &mut Local, clear: Clear) -> Option<Msg<T>> {
        match self.try_next(stats) {
            Poll::Item(m) => Some(m),
            Poll::Closed => None,
            Poll::Empty => self.wait(stats, clear).await,
        }
    }

    /// The slow path of [`next`](Self::next): block until a packet arrives.
    /// A cancel closes the channel (see [`channel`](crate::link::channel)), which ends the wait.
    pub(crate) async fn wait(&mut self, stats: &mut Local, clear: Clear) -> Option<Msg<T>> {
        match self.refill(stats, clear).await {
            Refill::Item(m) => Some(m),
            Refill::Batch => Some(self.first_of_batch()),
            Refill::Empty | Refill::Closed => None,
        }
    }

    /// Waits for the next packet without taking a message out of a batch:
    /// a batch becomes what [`try_next`](Self::try_next) and
    /// [`pending_items`](Self::pending_items) read next ([`Refill::Batch`]),
    /// so a bulk map can take it whole; a packet of one message is handed
    /// back ([`Refill::Item`]). [`Refill::Closed`] once the input is closed
    /// and drained, or the run cancelled; never [`Refill::Empty`].
    pub(crate) async fn refill(&mut self, stats: &mut Local, clear: Clear) -> Refill<T> {
        let Some(p) = self.packet(stats, clear).await else {
            return Refill::Closed;
        };
        match self.unpack(p) {
            Some(m) => Refill::Item(m),
            None => Refill::Batch,
        }
    }

    /// Takes the next packet whole, without waiting. For a forwarder,
    /// which never reads a packet item by item: the previous packet taken
    /// counts as used up.
    #[inline]
    pub(crate) fn try_packet(&mut self, stats: &mut Local) -> Taken<T> {
        self.held.release();
        if self.cancel().is_cancelled() {
            return Taken::Closed;
        }
        match self.rx.try_recv() {
            Ok(p) => Taken::Packet(self.take_whole(p, stats)),
            Err(TryRecvError::Empty) => Taken::Empty,
            Err(TryRecvError::Closed) => {
                self.exhausted = true;
                Taken::Closed
            }
        }
    }

    /// Waits for the next packet and takes it whole (see
    /// [`try_packet`](Self::try_packet)); `None` once the input is closed
    /// and drained, or the run cancelled.
    pub(crate) async fn packet(&mut self, stats: &mut Local, clear: Clear) -> Option<Packet<T>> {
        let _: Clear = clear;
        self.held.release();
        let t0 = Stopwatch::start();
        // Once, let the executor run its other tasks (the producer, most
        // often, about to send) and look again before registering to be
        // woken (see the [link](crate::link) module).
        smol::future::yield_now().await;
        let got = match self.rx.try_recv() {
            Ok(p) => Ok(p),
            Err(TryRecvError::Closed) => Err(async_channel::RecvError),
            Err(TryRecvError::Empty) => self.rx.recv().await,
        };
        stats.wait_in += t0.elapsed();
        if self.cancel().is_cancelled() {
            // A packet that came with the cancel stays in hand, for
            // `try_next_left`.
            if let Ok(p) = got {
                let p = self.take_whole(p, stats);
                self.pending = match p {
                    Packet::One(item) => Pending::Items(vec![item].into_iter()),
                    Packet::Items(v) => Pending::Whole(v),
                    Packet::Many(v) => Pending::Many(v.into_iter()),
                };
            }
            return None;
        }
        match got {
            Ok(p) => Some(self.take_whole(p, stats)),
            Err(_) => {
                self.exhausted = true;
                None
            }
        }
    }

    /// Counts a packet taken whole in, and holds its permits until the
    /// next one is taken.
    #[inline(always)]
    fn take_whole(&mut self, p: Packet<T>, stats: &mut Local) -> Packet<T> {
        let n = p.len();
        stats.item_in(n as u64);
        self.held.hold(n);
        p
    }

    /// Counts a packet in; hands back its message if it has only one,
    /// otherwise keeps it as the batch being read.
    #[inline(always)]
    fn stash(&mut self, p: Packet<T>, stats: &mut Local) -> Option<Msg<T>> {
        let p = self.take_whole(p, stats);
        self.unpack(p)
    }

    /// Hands back a packet's message if it has only one, otherwise keeps
    /// it as the batch being read.
    #[inline(always)]
    fn unpack(&mut self, p: Packet<T>) -> Option<Msg<T>> {
        match p {
            Packet::One(item) => return Some(Ok(item)),
            Packet::Items(v) => self.pending = Pending::Whole(v),
            Packet::Many(v) => self.pending = Pending::Many(v.into_iter()),
        }
        None
    }

    /// The first message of the batch just stashed.
    #[inline(always)]
    fn first_of_batch(&mut self) -> Msg<T> {
        self.pending
            .next()
            .expect("a batch packet is never sent empty")
    }
}

#[cfg(test)]
mod tests;
