//! Item permits: how a link that batches adaptively keeps its items within
//! its buffer.
//!
//! A link counted by permits starts with `buffer` of them. A writer takes
//! one for every item *before* it adds the item to the packet it is
//! filling, and a reader gives back a packet's permits only once it has
//! used the packet up (when it asks for the next one, or goes). So every
//! item of the link — in a packet being filled, queued in the channel, or
//! in the packet a reader is working through — holds a permit, and a link
//! never holds more than its buffer, however its items are packed.
//!
//! Writers that find no permit wait on an [`Event`]; a reader that gives
//! permits back, a reader that goes, and a cancel wake them. Taking and
//! giving are one atomic operation each on the fast path, and they happen
//! once per packet, not per item, wherever a writer can take room for a
//! whole packet at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_channel::Sender;

use crate::sync::{AtomicUsize, Event};

/// The permits of one link (see the module docs).
pub(crate) struct Permits {
    free: AtomicUsize,
    /// Notified when permits come back, a reader goes, or the run is
    /// cancelled: the writers waiting for room look again.
    changed: Event,
}

impl Permits {
    /// `n` permits, all free.
    pub(crate) fn new(n: usize) -> Arc<Self> {
        Arc::new(Permits {
            free: AtomicUsize::new(n),
            changed: Event::new(),
        })
    }

    /// Takes up to `want` permits without waiting; how many it took (0 if
    /// none is free).
    #[inline]
    pub(crate) fn try_take(&self, want: usize) -> usize {
        let mut free = self.free.load(Ordering::Relaxed);
        loop {
            if free == 0 || want == 0 {
                return 0;
            }
            let take = free.min(want);
            match self.free.compare_exchange_weak(
                free,
                free - take,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => free = now,
            }
        }
    }

    /// Takes between 1 and `want` permits, waiting until one is free;
    /// `None` once the link's channel is closed (every reader gone, or the
    /// run cancelled: a cancel closes the channel, then calls
    /// [`wake`](Self::wake)).
    pub(crate) async fn take<T>(&self, want: usize, tx: &Sender<T>) -> Option<usize> {
        loop {
            let n = self.try_take(want);
            if n > 0 {
                return Some(n);
            }
            if tx.is_closed() {
                return None;
            }
            // Listen first, then look again: permits given back between the
            // two looks notify this listener.
            let listener = self.changed.listen();
            let n = self.try_take(want);
            if n > 0 {
                return Some(n);
            }
            if tx.is_closed() {
                return None;
            }
            listener.await;
        }
    }

    /// Gives `n` permits back and wakes the writers waiting for them.
    #[inline]
    pub(crate) fn give(&self, n: usize) {
        if n > 0 {
            self.free.fetch_add(n, Ordering::Release);
            // Cheap when nobody listens: a fence and a load.
            self.changed.notify(usize::MAX);
        }
    }

    /// Wakes every waiting writer so that it looks at the channel again (a
    /// reader went, or the run was cancelled).
    pub(crate) fn wake(&self) {
        self.changed.notify(usize::MAX);
    }

    /// Free permits now (for tests).
    #[cfg(test)]
    pub(crate) fn free(&self) -> usize {
        self.free.load(Ordering::Acquire)
    }
}

/// The room a writer holds on its link: on a counted link, permits taken
/// for items not added to a packet yet (at most the room left in the
/// packet being filled); nothing to hold on an uncounted link. Whatever
/// it still holds goes back to the link when it is dropped.
pub(crate) struct Room {
    permits: Option<Arc<Permits>>,
    held: usize,
}

impl Room {
    /// Room on a link counted by `permits`, or on an uncounted link.
    pub(crate) fn new(permits: Option<Arc<Permits>>) -> Self {
        Room { permits, held: 0 }
    }

    /// Whether the link is counted by permits.
    #[inline(always)]
    pub(crate) fn counted(&self) -> bool {
        self.permits.is_some()
    }

    /// Whether it holds permits not used yet.
    #[inline(always)]
    pub(crate) fn holds(&self) -> bool {
        self.held > 0
    }

    /// Takes room for one item about to join a packet; `false` on a
    /// counted link with no permit free. When it holds none, it first
    /// takes up to `want()` at once: room for the rest of the packet.
    #[inline(always)]
    pub(crate) fn take_one(&mut self, want: impl FnOnce() -> usize) -> bool {
        if let Some(p) = &self.permits {
            if self.held == 0 {
                self.held = p.try_take(want());
                if self.held == 0 {
                    return false;
                }
            }
            self.held -= 1;
        }
        true
    }

    /// Room for up to `want` items added in bulk: on a counted link what
    /// it holds once topped up towards `want` (`None` if that is none),
    /// on an uncounted link `want` itself. Mark what is used with
    /// [`used`](Self::used).
    #[inline(always)]
    pub(crate) fn up_to(&mut self, want: usize) -> Option<usize> {
        if let Some(p) = &self.permits {
            if self.held < want {
                self.held += p.try_take(want - self.held);
            }
            if self.held == 0 {
                return None;
            }
            return Some(self.held);
        }
        Some(want)
    }

    /// `n` items added in bulk use `n` of the permits held.
    #[inline(always)]
    pub(crate) fn used(&mut self, n: usize) {
        if self.permits.is_some() {
            self.held -= n;
        }
    }

    /// Waits until a permit is free, then takes up to `want` and uses one
    /// of them, as [`take_one`](Self::take_one) would; `false` once the
    /// link's channel `tx` is closed (every reader gone, or the run
    /// cancelled), or if `stop()` says so once the permits are taken (they
    /// go back then).
    ///
    /// # Panics
    /// On an uncounted link, which never runs out of room.
    pub(crate) async fn wait_one<T>(
        &mut self,
        want: usize,
        tx: &Sender<T>,
        stop: impl FnOnce() -> bool,
    ) -> bool {
        let permits = self
            .permits
            .clone()
            .expect("only a counted link runs out of permits");
        match permits.take(want, tx).await {
            Some(n) if !stop() => {
                self.held = n - 1;
                true
            }
            Some(n) => {
                permits.give(n);
                false
            }
            None => false,
        }
    }

    /// Gives back the permits held and `extra` more (those of items that
    /// will never be sent).
    #[inline]
    pub(crate) fn release(&mut self, extra: usize) {
        if let Some(p) = &self.permits {
            p.give(std::mem::take(&mut self.held) + extra);
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.release(0);
    }
}

/// The permits a reader holds for the packet it is working through, given
/// back when it is used up or when the reader goes.
///
/// Declared after the reader's receiver, so that when a reader is dropped
/// its receiver goes first: a writer woken by the drop then sees the
/// channel closed if this was its last reader.
pub(crate) struct Held {
    permits: Option<Arc<Permits>>,
    n: usize,
}

impl Held {
    pub(crate) fn new(permits: Option<Arc<Permits>>) -> Self {
        Held { permits, n: 0 }
    }

    /// Starts holding the permits of a packet of `n` items just taken.
    #[inline(always)]
    pub(crate) fn hold(&mut self, n: usize) {
        if self.permits.is_some() {
            self.n = n;
        }
    }

    /// Gives back the permits of the packet used up.
    #[inline(always)]
    pub(crate) fn release(&mut self) {
        if self.n > 0 {
            if let Some(p) = &self.permits {
                p.give(self.n);
            }
            self.n = 0;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(p) = &self.permits {
            p.give(std::mem::take(&mut self.n));
            p.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taking_never_goes_below_zero_and_giving_back_frees_room() {
        let p = Permits::new(5);
        assert_eq!(p.try_take(3), 3);
        assert_eq!(p.try_take(3), 2);
        assert_eq!(p.try_take(1), 0);
        p.give(4);
        assert_eq!(p.free(), 4);
        assert_eq!(p.try_take(0), 0);
    }

    #[test]
    fn room_goes_back_when_it_is_dropped() {
        let p = Permits::new(8);
        let mut room = Room::new(Some(p.clone()));
        assert!(room.take_one(|| 4));
        assert_eq!(p.free(), 4);
        assert!(room.holds());
        drop(room);
        // The one used stays with its item, until a reader gives it back.
        assert_eq!(p.free(), 7, "the three taken and not used go back");
        let mut uncounted = Room::new(None);
        assert!(uncounted.take_one(|| unreachable!("an uncounted link takes no permit")));
        assert_eq!(uncounted.up_to(5), Some(5));
    }

    #[test]
    fn a_waiting_writer_wakes_when_permits_come_back() {
        let p = Permits::new(1);
        let (tx, _rx) = async_channel::bounded::<()>(1);
        assert_eq!(p.try_take(1), 1);
        let waiter = std::thread::spawn({
            let p = p.clone();
            move || smol::block_on(p.take(8, &tx))
        });
        p.give(1);
        assert_eq!(waiter.join().unwrap(), Some(1));
    }

    #[test]
    fn a_waiting_writer_gives_up_when_its_last_reader_goes() {
        let p = Permits::new(0);
        let (tx, rx) = async_channel::bounded::<()>(1);
        let waiter = std::thread::spawn({
            let p = p.clone();
            move || smol::block_on(p.take(1, &tx))
        });
        {
            // A reader's parts, dropped in a reader's order: the receiver,
            // then the permits (locals drop in reverse order).
            let _held = Held::new(Some(p.clone()));
            let _rx = rx;
        }
        assert_eq!(waiter.join().unwrap(), None);
    }
}
