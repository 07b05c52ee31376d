//! Fan-in: `merge` forwards several streams of one type into one channel,
//! one forwarder task per input (the article's `merge`); the output closes
//! when every forwarder has finished.

use async_channel::{Receiver, Sender};

use crate::cancel::Cancel;
use crate::channel::{or_cancel, recv_timed, Packet};
use crate::stats::Local;

/// Forwards every packet of `rx` to `tx` until `rx` closes or the run is
/// cancelled. Packets pass as they are: batches stay batches.
pub(crate) async fn forward<T>(
    rx: Receiver<Packet<T>>,
    tx: Sender<Packet<T>>,
    cancel: Cancel,
    mut stats: Local,
) {
    loop {
        let Some(p) = recv_timed(&rx, &cancel, &mut stats).await else {
            return;
        };
        if cancel.is_cancelled() {
            return;
        }
        let n = p.len() as u64;
        stats.item_in(n);
        let p = match tx.try_send(p) {
            Ok(()) => {
                stats.items_out += n;
                continue;
            }
            Err(async_channel::TrySendError::Closed(_)) => return,
            Err(async_channel::TrySendError::Full(p)) => p,
        };
        let t0 = std::time::Instant::now();
        let sent = or_cancel(tx.send(p), &cancel).await;
        stats.wait_out += t0.elapsed();
        match sent {
            Some(Ok(())) => stats.items_out += n,
            _ => return,
        }
    }
}
