//! Adding many items to a writer's batch at once: a bulk map's or a
//! source's fast path, and a merge's forwarding of whole packets.

use async_channel::Sender;

use crate::build::PREALLOCATED_ITEMS;
use crate::link::{Packet, Pushed, Writer};
use crate::stats::Local;

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

/// Room in a writer's batch for items added in bulk, as
/// [`Writer::bulk`] hands it out: add items to the batch of
/// [`parts`](Self::parts), then [`commit`](Self::commit), which counts
/// them (and the permits they use) and sends the batch if it is full.
#[must_use = "items added in bulk count only once committed"]
pub(crate) struct BulkAdd<'a, T> {
    w: &'a mut Writer<T>,
    /// How many more items the batch takes.
    room: usize,
    /// The batch's length when the room was handed out.
    before: usize,
}

impl<T> BulkAdd<'_, T> {
    /// The batch being filled, how many more items it takes, and how to
    /// tell that it should go before it is full. The batch may have no
    /// allocation yet: whoever adds reserves (or, into an empty batch,
    /// puts a whole `Vec` in its place).
    #[inline(always)]
    pub(crate) fn parts(&mut self) -> (&mut Vec<T>, usize, Idle<'_, T>) {
        let w = &mut *self.w;
        (&mut w.buf, self.room, Idle(w.adaptive.then_some(&w.tx)))
    }

    /// Counts the items added since the room was handed out and sends the
    /// batch if it is full (or, adaptively, if the consumer is idle),
    /// without waiting.
    #[inline(always)]
    pub(crate) fn commit(self, stats: &mut Local) -> Pushed {
        let n = self.w.buf.len() - self.before;
        self.w.added(n, stats)
    }
}

impl<T> Writer<T> {
    /// Room to add items to the batch being filled in bulk, when it can
    /// take them so (batching, and no error in the batch): see
    /// [`BulkAdd`].
    ///
    /// On a counted link the room is what the writer holds permits for
    /// (taking more first); with none free, `None`, and the caller goes
    /// item by item through [`push`](Self::push), which waits.
    #[inline(always)]
    pub(crate) fn bulk(&mut self) -> Option<BulkAdd<'_, T>> {
        if self.batch == 1 || !self.mixed.is_empty() {
            return None;
        }
        let room = self.room.up_to(self.batch - self.buf.len())?;
        let before = self.buf.len();
        Some(BulkAdd {
            w: self,
            room,
            before,
        })
    }

    /// Counts `n` items added in bulk and sends the batch if it is full
    /// (or, adaptively, if the consumer is idle), without waiting: what
    /// [`BulkAdd::commit`] does.
    #[inline(always)]
    fn added(&mut self, n: usize, stats: &mut Local) -> Pushed {
        stats.items_out += n as u64;
        self.room.used(n);
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
        let Some(mut add) = self.bulk() else {
            return match iter.next() {
                Some(item) => {
                    stats.items_in += 1;
                    (true, self.push(Ok(item), stats))
                }
                None => (false, Pushed::Done),
            };
        };
        let (buf, room, idle) = add.parts();
        let before = buf.len();
        buf.reserve_exact(room.min(PREALLOCATED_ITEMS));
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
            // The batch waits for `flush`.
            stats.items_out += n as u64;
            return (false, Pushed::Done);
        }
        (true, add.commit(stats))
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
        if self.room.counted() || self.has_partial() || p.len() > self.batch {
            return Err(p);
        }
        stats.items_out += p.len() as u64;
        Ok(self.try_send_packet(p, stats))
    }
}
