//! The links between stages: bounded async-channels of packets, read and
//! written through cancel-aware ends that batch items when asked to.
//!
//! Every channel between stages is closed when the run's [`Cancel`] is, so
//! a blocked send or receive wakes at a cancel and gives up; the fast paths
//! (`try_send`, `try_recv`) read no clock and touch no listener.
//!
//! A link whose writer batches adaptively is *counted*: its buffer is a
//! number of item permits (see [`crate::permits`]) that cover the packet
//! being filled and the packet being read as well as the channel, so the
//! link holds at most its buffer however its items are packed. Other links
//! count packets in the channel, and the packets at either end come on top.

use std::ops::ControlFlow;
use std::sync::Arc;

use async_channel::{Receiver, Sender, TryRecvError, TrySendError};
use futures::future::{select, Either};

use crate::cancel::Cancel;
use crate::config::StageConfig;
use crate::error::Error;
use crate::permits::{Held, Permits};
use crate::stats::{Local, Stopwatch};

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

/// What is left of the batch a reader is working through.
enum Pending<T> {
    Items(std::vec::IntoIter<T>),
    Many(std::vec::IntoIter<Msg<T>>),
}

impl<T> Pending<T> {
    #[inline(always)]
    fn next(&mut self) -> Option<Msg<T>> {
        match self {
            Pending::Items(it) => it.next().map(Ok),
            Pending::Many(it) => it.next(),
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
/// batches adaptively: its channel then never fills before its permits run
/// out, since every packet in it holds at least one item.
pub(crate) fn link<T: Send + 'static>(
    cfg: &StageConfig,
    cancel: &Cancel,
) -> (LinkTx<T>, LinkRx<T>) {
    let (tx, rx, permits) = if cfg.counted() {
        let permits = Permits::new(cfg.buffer);
        let (tx, rx) = async_channel::bounded(cfg.buffer);
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

/// The reading end of a link, owned by one worker.
pub(crate) struct Reader<T> {
    rx: Receiver<Packet<T>>,
    cancel: Cancel,
    pending: Pending<T>,
    /// Set once the input was seen closed and drained (not cancelled).
    exhausted: bool,
    /// The permits of the packet being read, on a counted link. After
    /// `rx`, so that it is dropped after it (see [`Held`]).
    held: Held,
}

/// What [`Reader::try_next`] found.
pub(crate) enum Poll<T> {
    Item(Msg<T>),
    Empty,
    Closed,
}

/// Why [`Reader::fold_ready`] returned.
pub(crate) enum Drained {
    /// Nothing more waits in the input.
    Empty,
    /// The input is closed and drained, or the run cancelled.
    Closed,
    /// The fold broke off.
    Broke,
}

/// What [`Reader::try_refill`] found.
pub(crate) enum Refill<T> {
    /// A message: the next of the current batch, or a packet of one.
    Item(Msg<T>),
    /// A batch packet, now the batch being read, whole.
    Batch,
    Empty,
    Closed,
}

impl<T> Reader<T> {
    pub(crate) fn new(link: LinkRx<T>, cancel: Cancel) -> Self {
        Reader {
            rx: link.rx,
            cancel,
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
        if self.cancel.is_cancelled() {
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
        match &mut self.pending {
            Pending::Items(it) if it.len() > 0 => Some(it),
            _ => None,
        }
    }

    /// Folds every message that can be had without waiting into `acc`:
    /// what is left of the current packet, then whatever packets wait in
    /// the channel. Plain code, so a sink's per-item path builds no future.
    #[inline]
    pub(crate) fn fold_ready<A>(
        &mut self,
        stats: &mut Local,
        mut acc: A,
        f: &mut impl FnMut(A, Msg<T>) -> ControlFlow<A, A>,
    ) -> (A, Drained) {
        loop {
            // The rest of a batch of items in one tight loop.
            if let Pending::Items(it) = &mut self.pending {
                acc = match it.try_fold(acc, |a, item| f(a, Ok(item))) {
                    ControlFlow::Continue(a) => a,
                    ControlFlow::Break(a) => return (a, Drained::Broke),
                };
            }
            let m = match self.try_next(stats) {
                Poll::Item(m) => m,
                Poll::Empty => return (acc, Drained::Empty),
                Poll::Closed => return (acc, Drained::Closed),
            };
            acc = match f(acc, m) {
                ControlFlow::Continue(a) => a,
                ControlFlow::Break(a) => return (a, Drained::Broke),
            };
        }
    }

    /// Folds messages into `acc` until the input ends (`false`) or `f`
    /// breaks (`true`); only waiting for input is async.
    pub(crate) async fn fold<A>(
        &mut self,
        stats: &mut Local,
        mut acc: A,
        mut f: impl FnMut(A, Msg<T>) -> ControlFlow<A, A>,
    ) -> (A, bool) {
        loop {
            acc = match self.fold_ready(stats, acc, &mut f) {
                (a, Drained::Broke) => return (a, true),
                (a, Drained::Closed) => return (a, false),
                (a, Drained::Empty) => a,
            };
            let Some(m) = self.wait(stats).await else {
                return (acc, false);
            };
            acc = match f(acc, m) {
                ControlFlow::Continue(a) => a,
                ControlFlow::Break(a) => return (a, true),
            };
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
    /// A cancel closes the channel (see [`channel`]), which ends the wait.
    pub(crate) async fn wait(&mut self, stats: &mut Local) -> Option<Msg<T>> {
        match self.refill(stats).await? {
            Some(m) => Some(m),
            None => Some(self.first_of_batch()),
        }
    }

    /// Waits for the next packet without taking a message out of a batch:
    /// a batch becomes what [`try_next`](Self::try_next) and
    /// [`pending_items`](Self::pending_items) read next (`Some(None)`), so
    /// a bulk map can take it whole; a packet of one message is handed back
    /// (`Some(Some(m))`). `None` once the input is closed and drained, or
    /// the run cancelled.
    pub(crate) async fn refill(&mut self, stats: &mut Local) -> Option<Option<Msg<T>>> {
        self.held.release();
        let t0 = Stopwatch::start();
        let got = self.rx.recv().await;
        stats.wait_in += t0.elapsed();
        if self.cancel.is_cancelled() {
            return None;
        }
        match got {
            Ok(p) => Some(self.stash(p, stats)),
            Err(_) => {
                self.exhausted = true;
                None
            }
        }
    }

    /// Takes the next packet whole, without waiting: `Err(true)` once the
    /// input is closed and drained or the run cancelled, `Err(false)` if
    /// none waits. For a forwarder, which never reads a packet item by
    /// item: the previous packet taken counts as used up.
    #[inline]
    pub(crate) fn try_packet(&mut self, stats: &mut Local) -> Result<Packet<T>, bool> {
        self.held.release();
        if self.cancel.is_cancelled() {
            return Err(true);
        }
        match self.rx.try_recv() {
            Ok(p) => Ok(self.take_whole(p, stats)),
            Err(TryRecvError::Empty) => Err(false),
            Err(TryRecvError::Closed) => {
                self.exhausted = true;
                Err(true)
            }
        }
    }

    /// Waits for the next packet and takes it whole (see
    /// [`try_packet`](Self::try_packet)); `None` once the input is closed
    /// and drained, or the run cancelled.
    pub(crate) async fn packet(&mut self, stats: &mut Local) -> Option<Packet<T>> {
        self.held.release();
        let t0 = Stopwatch::start();
        let got = self.rx.recv().await;
        stats.wait_in += t0.elapsed();
        if self.cancel.is_cancelled() {
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
    #[inline]
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
        let n = p.len();
        stats.item_in(n as u64);
        self.held.hold(n);
        match p {
            Packet::One(item) => return Some(Ok(item)),
            Packet::Items(v) => self.pending = Pending::Items(v.into_iter()),
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

/// The writing end of a link, owned by one worker; buffers up to `batch`
/// messages before sending them as one packet.
///
/// When `adaptive`, a partial packet is also sent as soon as the channel
/// is found empty after a message is added (the consumer has nothing
/// queued, so holding the message back would only delay it): packets grow
/// only while the consumer is busy.
///
/// On a counted link the writer takes a permit for every message before
/// it joins the batch, taking room for the rest of the packet at once
/// where it can; permits it took and did not use go back when it is about
/// to wait ([`flush`](Self::flush)) and when it goes.
pub(crate) struct Writer<T> {
    tx: Sender<Packet<T>>,
    cancel: Cancel,
    batch: usize,
    adaptive: bool,
    /// The batch being filled while it holds only items.
    buf: Vec<T>,
    /// The batch being filled once it holds an error: non-empty only then.
    mixed: Vec<Msg<T>>,
    /// A packet that found the channel full, for [`send_waiting`](Self::send_waiting).
    stalled: Option<Packet<T>>,
    /// The link's permits, if it is counted by them.
    permits: Option<Arc<Permits>>,
    /// Permits taken for messages not yet added: at most the room left in
    /// the batch being filled.
    held: usize,
    /// A message that found no permit, for [`send_waiting`](Self::send_waiting).
    waiting: Option<Msg<T>>,
}

/// What [`Writer::push`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Sent, or buffered for a later packet.
    Done,
    /// The run was cancelled, or nobody reads any more.
    Stopped,
    /// The channel is full: the packet waits in the writer until
    /// [`Writer::send_waiting`] sends it.
    Full,
}

/// How to tell, while adding items in bulk, that the consumer went idle.
pub(crate) struct Idle<'a, T>(Option<&'a Sender<Packet<T>>>);

impl<T> Idle<'_, T> {
    /// Whether the partial batch should be sent now: adaptive batching and
    /// an empty channel.
    #[inline(always)]
    pub(crate) fn now(&self) -> bool {
        self.0.is_some_and(|tx| tx.is_empty())
    }

    /// Whether it is worth asking [`now`](Self::now) after every item.
    #[inline(always)]
    pub(crate) fn adaptive(&self) -> bool {
        self.0.is_some()
    }
}

impl<T> Writer<T> {
    /// A writer that sends packets of up to `batch` items; adaptively (see
    /// [`Writer`]) if `adaptive`.
    pub(crate) fn new(link: LinkTx<T>, cancel: Cancel, batch: usize, adaptive: bool) -> Self {
        let batch = batch.max(1);
        Writer {
            tx: link.tx,
            cancel,
            batch,
            adaptive: adaptive && batch > 1,
            buf: Vec::new(),
            mixed: Vec::new(),
            stalled: None,
            // One item per packet needs no permits: the channel counts items.
            permits: link.permits.filter(|_| batch > 1),
            held: 0,
            waiting: None,
        }
    }

    /// How many messages the batch being filled holds.
    #[inline(always)]
    fn partial_len(&self) -> usize {
        if self.mixed.is_empty() {
            self.buf.len()
        } else {
            self.mixed.len()
        }
    }

    /// Takes a permit for one message about to join the batch; `false` on
    /// a counted link with none free. Takes room for the rest of the batch
    /// at once when it can.
    #[inline(always)]
    fn permit(&mut self) -> bool {
        if let Some(p) = &self.permits {
            if self.held == 0 {
                self.held = p.try_take(self.batch - self.partial_len());
                if self.held == 0 {
                    return false;
                }
            }
            self.held -= 1;
        }
        true
    }

    /// Gives back the permits taken and not used.
    #[inline]
    fn give_back(&mut self) {
        if let Some(p) = &self.permits {
            p.give(std::mem::take(&mut self.held));
        }
    }

    /// Whether packets are sent adaptively (see [`Writer`]).
    #[inline]
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    /// Whether the consumer has nothing queued and the partial batch should
    /// go now (adaptive batching only).
    #[inline(always)]
    fn idle(&self) -> bool {
        self.adaptive && self.tx.is_empty()
    }

    /// Sends (or buffers) one message without waiting: the per-item fast
    /// path, a plain function so that a worker's loop builds no future for
    /// an item that finds room. After [`Pushed::Full`], call
    /// [`send_waiting`](Self::send_waiting) before pushing again.
    #[inline(always)]
    pub(crate) fn push(&mut self, m: Msg<T>, stats: &mut Local) -> Pushed {
        stats.items_out += 1;
        if self.batch > 1 && !self.permit() {
            return self.no_permit(m, stats);
        }
        self.put(m, stats)
    }

    /// No permit is free for `m`: the batch goes now, so that its reader
    /// can use it up and give room back, and `m` waits for
    /// [`send_waiting`](Self::send_waiting).
    #[cold]
    fn no_permit(&mut self, m: Msg<T>, stats: &mut Local) -> Pushed {
        self.waiting = Some(m);
        if self.has_partial() {
            if let Some(p) = self.take_partial() {
                if self.try_send_packet(p, stats) == Pushed::Stopped {
                    return Pushed::Stopped;
                }
            }
        }
        Pushed::Full
    }

    /// Adds a message that holds its permit (if the link is counted) to
    /// the batch, sending the batch if it is full or the consumer idle.
    #[inline(always)]
    fn put(&mut self, m: Msg<T>, stats: &mut Local) -> Pushed {
        if self.batch == 1 {
            let packet = match m {
                Ok(item) => Packet::One(item),
                Err(e) => Packet::Many(vec![Err(e)]),
            };
            return self.try_send_packet(packet, stats);
        }
        let packet = match m {
            Ok(item) if self.mixed.is_empty() => {
                if self.buf.is_empty() && self.idle() {
                    // Alone and awaited: one item, no allocation.
                    return self.try_send_partial(Packet::One(item), stats);
                }
                if self.buf.capacity() == 0 {
                    self.buf.reserve_exact(self.batch);
                }
                self.buf.push(item);
                if self.buf.len() < self.batch {
                    return if self.idle() {
                        self.send_partial(stats)
                    } else {
                        Pushed::Done
                    };
                }
                Packet::Items(std::mem::take(&mut self.buf))
            }
            m => {
                // An error joins this batch: from here on it holds messages.
                if self.mixed.is_empty() {
                    self.mixed.reserve_exact(self.batch);
                    self.mixed.extend(self.buf.drain(..).map(Ok));
                }
                self.mixed.push(m);
                if self.mixed.len() < self.batch {
                    return if self.idle() {
                        self.send_partial(stats)
                    } else {
                        Pushed::Done
                    };
                }
                Packet::Many(std::mem::take(&mut self.mixed))
            }
        };
        self.try_send_packet(packet, stats)
    }

    /// The batch being filled, how many more items it takes, and how to
    /// tell that it should go before it is full, when items can be added
    /// to it in bulk (batching, and no error in the batch). The batch may
    /// have no allocation yet: whoever adds reserves (or puts a whole `Vec`
    /// in its place). After adding, call [`added`](Self::added).
    ///
    /// On a counted link the room is what the writer holds permits for
    /// (taking more first); with none free, `None`, and the caller goes
    /// item by item through [`push`](Self::push), which waits.
    #[inline(always)]
    pub(crate) fn bulk(&mut self) -> Option<(&mut Vec<T>, usize, Idle<'_, T>)> {
        if self.batch == 1 || !self.mixed.is_empty() {
            return None;
        }
        let mut room = self.batch - self.buf.len();
        if let Some(p) = &self.permits {
            if self.held < room {
                self.held += p.try_take(room - self.held);
            }
            room = self.held;
            if room == 0 {
                return None;
            }
        }
        let idle = Idle(self.adaptive.then_some(&self.tx));
        Some((&mut self.buf, room, idle))
    }

    /// Counts `n` items added through [`bulk`](Self::bulk) and sends the
    /// batch if it is full (or, adaptively, if the consumer is idle),
    /// without waiting.
    #[inline(always)]
    pub(crate) fn added(&mut self, n: usize, stats: &mut Local) -> Pushed {
        stats.items_out += n as u64;
        if self.permits.is_some() {
            self.held -= n;
        }
        if self.buf.len() < self.batch {
            return if !self.buf.is_empty() && self.idle() {
                self.send_partial(stats)
            } else {
                Pushed::Done
            };
        }
        // No allocation for the next batch yet: a bulk map may hand over
        // its input's allocation instead.
        let full = std::mem::take(&mut self.buf);
        self.try_send_packet(Packet::Items(full), stats)
    }

    /// A source's fast path: fills the batch from `iter` and sends it if
    /// full (or, adaptively, as soon as the consumer is idle), without
    /// waiting. Returns `false` once `iter` has ended (a partial batch then
    /// waits for [`flush`](Self::flush)), and what happened to the batch.
    /// Without batching, takes one item.
    #[inline]
    pub(crate) fn fill<I: Iterator<Item = T>>(
        &mut self,
        iter: &mut I,
        stats: &mut Local,
    ) -> (bool, Pushed) {
        let Some((buf, room, idle)) = self.bulk() else {
            return match iter.next() {
                Some(item) => {
                    stats.items_in += 1;
                    (true, self.push(Ok(item), stats))
                }
                None => (false, Pushed::Done),
            };
        };
        let before = buf.len();
        buf.reserve_exact(room);
        let ended = if idle.adaptive() {
            // Ask after every item: the iterator may be slow, and an idle
            // consumer should not wait for the rest of the batch.
            let mut ended = true;
            for item in iter.take(room) {
                buf.push(item);
                if idle.now() {
                    ended = false;
                    break;
                }
            }
            ended && buf.len() - before < room
        } else {
            buf.extend(iter.take(room));
            buf.len() - before < room
        };
        let n = buf.len() - before;
        stats.items_in += n as u64;
        if ended {
            stats.items_out += n as u64;
            return (false, Pushed::Done);
        }
        (true, self.added(n, stats))
    }

    /// Sends a packet as it is, without waiting, if the link takes it so:
    /// counted in packets (not by permits), with no batch being filled, and
    /// no bigger than this writer's packets. Otherwise hands it back, to go
    /// item by item.
    #[inline]
    pub(crate) fn try_forward(
        &mut self,
        p: Packet<T>,
        stats: &mut Local,
    ) -> Result<Pushed, Packet<T>> {
        if self.permits.is_some() || self.has_partial() || p.len() > self.batch {
            return Err(p);
        }
        stats.items_out += p.len() as u64;
        Ok(self.try_send_packet(p, stats))
    }

    /// Sends (or buffers) one message, waiting while the channel is full.
    #[inline]
    pub(crate) async fn send(&mut self, m: Msg<T>, stats: &mut Local) -> Result<(), Stopped> {
        match self.push(m, stats) {
            Pushed::Done => Ok(()),
            Pushed::Stopped => Err(Stopped),
            Pushed::Full => self.send_waiting(stats).await,
        }
    }

    /// Whether a partial batch waits to be sent.
    #[inline]
    pub(crate) fn has_partial(&self) -> bool {
        !self.buf.is_empty() || !self.mixed.is_empty()
    }

    /// The batch being filled as a packet to send (`None` if empty); one
    /// item travels alone, and the allocation stays for the next batch.
    #[inline]
    fn take_partial(&mut self) -> Option<Packet<T>> {
        Some(if !self.mixed.is_empty() {
            Packet::Many(std::mem::take(&mut self.mixed))
        } else if self.buf.len() == 1 {
            Packet::One(self.buf.pop().expect("the batch holds one item"))
        } else if !self.buf.is_empty() {
            Packet::Items(std::mem::take(&mut self.buf))
        } else {
            return None;
        })
    }

    /// Sends whatever is buffered, and gives back the permits taken and
    /// not used: called when the writer is about to wait (for input, for
    /// a slow stage function) or is done.
    pub(crate) async fn flush(&mut self, stats: &mut Local) -> Result<(), Stopped> {
        self.give_back();
        let Some(packet) = self.take_partial() else {
            return Ok(());
        };
        match self.try_send_packet(packet, stats) {
            Pushed::Done => Ok(()),
            Pushed::Stopped => Err(Stopped),
            Pushed::Full => self.send_waiting(stats).await,
        }
    }

    /// Sends a packet if there is room, without waiting; keeps it as the
    /// stalled packet if there is none.
    #[inline(always)]
    fn try_send_packet(&mut self, p: Packet<T>, stats: &mut Local) -> Pushed {
        self.try_send_or(p, stats, |w, p| {
            w.stalled = Some(p);
            Pushed::Full
        })
    }

    /// Sends a packet if there is room and the run is not cancelled;
    /// hands it to `full` (with the writer) if the channel has no room.
    #[inline(always)]
    fn try_send_or(
        &mut self,
        p: Packet<T>,
        stats: &mut Local,
        full: impl FnOnce(&mut Self, Packet<T>) -> Pushed,
    ) -> Pushed {
        if self.cancel.is_cancelled() {
            return Pushed::Stopped;
        }
        match self.tx.try_send(p) {
            Ok(()) => {
                stats.tick();
                Pushed::Done
            }
            Err(TrySendError::Closed(_)) => Pushed::Stopped,
            Err(TrySendError::Full(p)) => full(self, p),
        }
    }

    /// Sends the partial batch if there is room; keeps it if there is none
    /// (another worker filled the channel first).
    #[inline]
    fn send_partial(&mut self, stats: &mut Local) -> Pushed {
        match self.take_partial() {
            Some(packet) => self.try_send_partial(packet, stats),
            None => Pushed::Done,
        }
    }

    /// Sends a partial packet if there is room, without waiting; puts it
    /// back as the batch being filled if there is none.
    #[inline]
    fn try_send_partial(&mut self, p: Packet<T>, stats: &mut Local) -> Pushed {
        self.try_send_or(p, stats, |w, p| {
            match p {
                Packet::One(item) => {
                    if w.buf.capacity() == 0 {
                        w.buf.reserve_exact(w.batch);
                    }
                    w.buf.push(item);
                }
                Packet::Items(v) => w.buf = v,
                Packet::Many(v) => w.mixed = v,
            }
            Pushed::Done
        })
    }

    /// The slow path: waits for room for the stalled packet, or for a
    /// permit for the waiting message (the time counts as `wait_out`). A
    /// cancel closes the channel (see [`link`]) and wakes the permits'
    /// waiters, which ends the wait.
    pub(crate) async fn send_waiting(&mut self, stats: &mut Local) -> Result<(), Stopped> {
        loop {
            if let Some(p) = self.stalled.take() {
                let t0 = Stopwatch::start();
                let sent = self.tx.send(p).await;
                stats.wait_out += t0.elapsed();
                if sent.is_err() || self.cancel.is_cancelled() {
                    return Err(Stopped);
                }
                stats.tick();
            }
            let Some(m) = self.waiting.take() else {
                return Ok(());
            };
            let permits = self
                .permits
                .clone()
                .expect("only a counted link runs out of permits");
            let t0 = Stopwatch::start();
            let got = permits
                .take(self.batch - self.partial_len(), &self.tx)
                .await;
            stats.wait_out += t0.elapsed();
            match got {
                Some(n) if !self.cancel.is_cancelled() => self.held = n - 1,
                Some(n) => {
                    permits.give(n);
                    return Err(Stopped);
                }
                None => return Err(Stopped),
            }
            match self.put(m, stats) {
                Pushed::Done => return Ok(()),
                Pushed::Stopped => return Err(Stopped),
                // Room for the packet, then done.
                Pushed::Full => {}
            }
        }
    }
}

impl<T> Drop for Writer<T> {
    /// Gives back the permits of what it took and will never send.
    fn drop(&mut self) {
        if let Some(p) = &self.permits {
            p.give(self.held + self.partial_len());
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
    use crate::stats::{Kind, StageStats};

    fn local() -> Local {
        Local::new(StageStats::new("test".into(), Kind::Stage, 1))
    }

    #[test]
    fn a_cancel_wakes_a_blocked_reader_which_reads_as_not_exhausted() {
        let cancel = Cancel::new();
        let (tx, rx) = channel::<u32>(1, &cancel);
        let waiter = std::thread::spawn({
            let cancel = cancel.clone();
            move || {
                let mut r = Reader::new(LinkRx { rx, permits: None }, cancel);
                let got = smol::block_on(r.wait(&mut local()));
                (got.is_none(), r.exhausted())
            }
        });
        cancel.cancel();
        assert_eq!(waiter.join().unwrap(), (true, false));
        drop(tx);
    }

    #[test]
    fn a_cancel_wakes_a_blocked_writer_which_stops() {
        let cancel = Cancel::new();
        let (tx, rx) = channel::<u32>(1, &cancel);
        let mut w = Writer::new(LinkTx { tx, permits: None }, cancel.clone(), 1, false);
        let mut stats = local();
        assert_eq!(w.push(Ok(1), &mut stats), Pushed::Done);
        assert_eq!(w.push(Ok(2), &mut stats), Pushed::Full);
        let blocked = std::thread::spawn(move || smol::block_on(w.send_waiting(&mut stats)));
        cancel.cancel();
        assert!(blocked.join().unwrap().is_err());
        drop(rx);
    }

    #[test]
    fn a_refilled_batch_stays_whole_in_its_allocation() {
        let cancel = Cancel::new();
        let (tx, rx) = channel::<u32>(4, &cancel);
        let mut r = Reader::new(LinkRx { rx, permits: None }, cancel);
        let mut stats = local();
        let batch = vec![1, 2, 3];
        let at = batch.as_ptr();
        tx.try_send(Packet::Items(batch)).unwrap();
        tx.try_send(Packet::One(4)).unwrap();
        tx.try_send(Packet::Items(vec![5, 6])).unwrap();
        drop(tx);
        // Waiting: the batch is not split, and it is the allocation sent.
        assert!(matches!(smol::block_on(r.refill(&mut stats)), Some(None)));
        let pending = r.pending_items().expect("the batch is pending");
        assert_eq!(pending.as_slice(), [1, 2, 3]);
        assert_eq!(pending.as_slice().as_ptr(), at);
        pending.next();
        // Not waiting: the rest of the batch first, then a one-item packet
        // comes back as its item, and a batch stays whole.
        assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(2))));
        assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(3))));
        assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(4))));
        assert!(matches!(r.try_refill(&mut stats), Refill::Batch));
        assert_eq!(
            r.pending_items().map(|p| p.as_slice().to_vec()),
            Some(vec![5, 6])
        );
        r.pending_items()
            .expect("the batch is pending")
            .for_each(drop);
        assert!(matches!(r.try_refill(&mut stats), Refill::Closed));
        assert!(r.exhausted());
    }

    #[test]
    fn a_channel_registered_after_the_cancel_is_closed_at_once() {
        let cancel = Cancel::new();
        cancel.cancel();
        let (tx, _rx) = channel::<u32>(1, &cancel);
        assert!(tx.is_closed());
    }

    #[test]
    fn a_batch_keeps_errors_in_their_place_and_items_in_order() {
        let cancel = Cancel::new();
        let (tx, rx) = channel::<u32>(4, &cancel);
        let mut w = Writer::new(LinkTx { tx, permits: None }, cancel.clone(), 3, false);
        let mut stats = local();
        let sent: Vec<Msg<u32>> = vec![
            Ok(1),
            Ok(2),
            Ok(3), // a packet of items only
            Ok(4),
            Err(Error::Cancelled),
            Ok(6), // a packet that holds an error
            Ok(7), // a partial batch, flushed
        ];
        for m in sent {
            assert_eq!(w.push(m, &mut stats), Pushed::Done);
        }
        assert!(w.has_partial());
        smol::block_on(w.flush(&mut stats)).unwrap();
        drop(w);
        let mut r = Reader::new(LinkRx { rx, permits: None }, cancel);
        let mut got = Vec::new();
        while let Some(m) = smol::block_on(r.next(&mut stats)) {
            got.push(m.map_err(|e| e.to_string()));
        }
        assert_eq!(
            got,
            [
                Ok(1),
                Ok(2),
                Ok(3),
                Ok(4),
                Err("pipeline cancelled".to_string()),
                Ok(6),
                Ok(7)
            ]
        );
        assert!(r.exhausted());
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
