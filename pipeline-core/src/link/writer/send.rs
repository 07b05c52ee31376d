//! How a writer sends its packets: without waiting where there is room
//! (the fast path), and the slow path that waits for room in the channel
//! or for a permit.

use async_channel::TrySendError;

use crate::build::PREALLOCATED_ITEMS;
use crate::link::{Packet, Pushed, Stopped, Writer};
use crate::stats::{Local, Stopwatch};

impl<T> Writer<T> {
    /// Sends a packet if there is room, without waiting; keeps it as the
    /// stalled packet if there is none.
    #[inline(always)]
    pub(super) fn try_send_packet(&mut self, p: Packet<T>, stats: &mut Local) -> Pushed {
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
        if self.stop.cancel().is_cancelled() {
            self.stop.lose(p.len());
            return Pushed::Stopped;
        }
        match self.tx.try_send(p) {
            Ok(()) => {
                stats.tick();
                Pushed::Done
            }
            Err(TrySendError::Closed(p)) => {
                self.stop.lose(p.len());
                Pushed::Stopped
            }
            Err(TrySendError::Full(p)) => full(self, p),
        }
    }

    /// Sends the partial batch if there is room; keeps it if there is none
    /// (another worker filled the channel first).
    #[inline]
    pub(super) fn send_partial(&mut self, stats: &mut Local) -> Pushed {
        match self.take_partial() {
            Some(packet) => self.try_send_partial(packet, stats),
            None => Pushed::Done,
        }
    }

    /// Sends a partial packet if there is room, without waiting; puts it
    /// back as the batch being filled if there is none.
    #[inline]
    pub(super) fn try_send_partial(&mut self, p: Packet<T>, stats: &mut Local) -> Pushed {
        self.try_send_or(p, stats, |w, p| {
            match p {
                Packet::One(item) => {
                    if w.buf.capacity() == 0 {
                        w.buf.reserve_exact(w.batch.min(PREALLOCATED_ITEMS));
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
    /// cancel closes the channel (see [`link`](crate::link::link)) and wakes the permits'
    /// waiters, which ends the wait.
    pub(crate) async fn send_waiting(&mut self, stats: &mut Local) -> Result<(), Stopped> {
        loop {
            if let Some(p) = self.stalled.take() {
                let t0 = Stopwatch::start();
                // As a reader does (see `Reader::packet`): one look after
                // the executor ran its other tasks, then register to be woken.
                smol::future::yield_now().await;
                let sent = match self.tx.try_send(p) {
                    Ok(()) => true,
                    Err(TrySendError::Closed(p)) => {
                        self.stop.lose(p.len());
                        false
                    }
                    Err(TrySendError::Full(p)) => match self.tx.send(p).await {
                        Ok(()) => true,
                        Err(async_channel::SendError(p)) => {
                            self.stop.lose(p.len());
                            false
                        }
                    },
                };
                stats.wait_out += t0.elapsed();
                if !sent || self.stop.cancel().is_cancelled() {
                    return Err(Stopped);
                }
                stats.tick();
            }
            let Some(m) = self.waiting.take() else {
                return Ok(());
            };
            let t0 = Stopwatch::start();
            let want = self.batch - self.partial_len();
            let cancel = self.stop.cancel();
            let got = self
                .room
                .wait_one(want, &self.tx, || cancel.is_cancelled())
                .await;
            stats.wait_out += t0.elapsed();
            if !got {
                self.stop.lose(1);
                return Err(Stopped);
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
