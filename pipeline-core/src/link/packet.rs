//! What a link's channel carries: packets of messages.

use crate::error::Error;

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
