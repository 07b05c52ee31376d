//! The writing end of a link: packs messages into packets (one item
//! each, a fixed batch, or adaptively), sends them without waiting where
//! it can, and on a counted link takes a permit for every message.

use async_channel::Sender;

use crate::build::{StageConfig, PREALLOCATED_ITEMS};
use crate::error::Error;
use crate::link::permits::Room;
use crate::link::{LinkTx, Msg, Packet, Stopped};
use crate::stats::Local;
use crate::stop::Stop;

mod bulk;
mod send;

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
    /// The run's stop: its signal, and where an error fails the run.
    stop: Stop,
    batch: usize,
    adaptive: bool,
    /// The batch being filled while it holds only items.
    buf: Vec<T>,
    /// The batch being filled once it holds an error: non-empty only then.
    mixed: Vec<Msg<T>>,
    /// A packet that found the channel full, for [`send_waiting`](Self::send_waiting).
    stalled: Option<Packet<T>>,
    /// The room it holds on a counted link.
    room: Room,
    /// A message that found no permit, for [`send_waiting`](Self::send_waiting).
    waiting: Option<Msg<T>>,
}

/// Proof that a node holds nothing its link's other writers may need
/// before it waits for input: what a [`Reader`](crate::link::Reader) asks
/// for before it waits. A worker gets it from its writer
/// ([`Writer::clear`]), which sends the partial batch and gives back the
/// room taken for it first; a node that writes into no link
/// ([`Clear::no_output`]) holds no room.
///
/// Waiting while holding room can starve the stage's other workers of
/// it, for ever: with this proof asked for at every wait, a worker that
/// waits without letting go of its room is not written by mistake.
#[must_use = "a reader waits only with the proof that its node holds no room"]
pub(crate) struct Clear(());

impl Clear {
    /// For a node whose output is no [`Writer`] (a sink, an ordered
    /// stage's dispatcher): it holds no room on a link.
    pub(crate) fn no_output() -> Self {
        Clear(())
    }
}

/// What [`Writer::push`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "after `Pushed::Full`, call `send_waiting` before pushing again"]
pub(crate) enum Pushed {
    /// Sent, or buffered for a later packet.
    Done,
    /// The run was cancelled, or nobody reads any more.
    Stopped,
    /// The channel is full: the packet waits in the writer until
    /// [`Writer::send_waiting`] sends it.
    Full,
}

impl<T> Writer<T> {
    /// A writer that sends packets of up to `batch` items; adaptively (see
    /// [`Writer`]) if `adaptive`.
    pub(crate) fn new(link: LinkTx<T>, stop: Stop, batch: usize, adaptive: bool) -> Self {
        let batch = batch.max(1);
        Writer {
            tx: link.tx,
            stop,
            batch,
            adaptive: adaptive && batch > 1,
            buf: Vec::new(),
            mixed: Vec::new(),
            stalled: None,
            room: Room::new(link.permits),
            waiting: None,
        }
    }

    /// The writer of the node whose settings are `cfg`, on the link made
    /// from them (see [`link`](crate::link::link)): its packet cap, and
    /// adaptive if the node batches adaptively.
    pub(crate) fn for_node(link: LinkTx<T>, cfg: &StageConfig, stop: Stop) -> Self {
        Writer::new(link, stop, cfg.packet_cap(), cfg.is_adaptive())
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
        let (batch, buf, mixed) = (self.batch, &self.buf, &self.mixed);
        // `partial_len`, on the fields the room does not hold.
        let partial = || {
            if mixed.is_empty() {
                buf.len()
            } else {
                mixed.len()
            }
        };
        self.room.take_one(|| batch - partial())
    }

    /// Gives back the permits taken and not used.
    #[inline]
    fn give_back(&mut self) {
        self.room.release(0);
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
        if !self.permit() {
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
        if let Some(p) = self.take_partial() {
            if self.try_send_packet(p, stats) == Pushed::Stopped {
                return Pushed::Stopped;
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
                    self.buf.reserve_exact(self.batch.min(PREALLOCATED_ITEMS));
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
                    self.mixed.reserve_exact(self.batch.min(PREALLOCATED_ITEMS));
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

    /// Sends (or buffers) one message, waiting while the channel is full.
    #[inline]
    pub(crate) async fn send(&mut self, m: Msg<T>, stats: &mut Local) -> Result<(), Stopped> {
        match self.push(m, stats) {
            Pushed::Done => Ok(()),
            Pushed::Stopped => Err(Stopped),
            Pushed::Full => self.send_waiting(stats).await,
        }
    }

    /// Whether the run's sources should stop producing (a drain, or the
    /// signal closed): what a source asks once a packet. One atomic load.
    #[inline]
    pub(crate) fn draining(&self) -> bool {
        self.stop.draining()
    }

    /// Counts `n` messages its node drops unsent once the run stopped
    /// (see [`Stop::lose`]).
    #[cold]
    pub(crate) fn lose(&self, n: usize) {
        self.stop.lose(n);
    }

    /// Whether a partial batch waits to be sent.
    #[inline]
    pub(crate) fn has_partial(&self) -> bool {
        !self.buf.is_empty() || !self.mixed.is_empty()
    }

    /// Whether the writer holds what its worker must let go of before it
    /// waits (see [`flush`](Self::flush)): a partial batch, or permits
    /// taken for items not added yet. A packet sent early to an idle
    /// consumer leaves the rest of the room taken for it with the writer;
    /// kept through a wait, that room is lost to the stage's other
    /// workers, which may then wait for it forever.
    #[inline]
    pub(crate) fn holds(&self) -> bool {
        self.has_partial() || self.room.holds()
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

    /// Lets go of what another worker may need before this one waits: if
    /// it holds anything (see [`holds`](Self::holds)), sends the partial
    /// batch and gives back the room not used, as [`flush`](Self::flush)
    /// does. Then it holds nothing, and its worker may wait for input.
    pub(crate) async fn clear(&mut self, stats: &mut Local) -> Result<Clear, Stopped> {
        if self.holds() {
            self.flush(stats).await?;
        }
        Ok(Clear(()))
    }

    /// Fails the run with `err` (under the fail-fast policy), after sending
    /// the partial batch if there is room: the items a worker made before
    /// its error reach the next stage ahead of the cancel, so a sink that
    /// finds what it asked for among them (`take`, `first`) has succeeded.
    pub(crate) fn fail(&mut self, err: Error, stats: &mut Local) {
        let _ = self.send_partial(stats);
        self.stop.fail(err);
    }
}

impl<T> Drop for Writer<T> {
    /// Gives back the permits of what it took and will never send, and
    /// counts what it drops unsent (nothing, after a flush) with the run's
    /// lost items.
    fn drop(&mut self) {
        let unsent = self.partial_len();
        self.room.release(unsent);
        let stalled = self.stalled.as_ref().map_or(0, Packet::len);
        let lost = unsent + stalled + usize::from(self.waiting.is_some());
        if lost > 0 {
            self.stop.lose(lost);
        }
    }
}

#[cfg(test)]
mod tests;
