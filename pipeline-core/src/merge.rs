//! Fan-in: `merge` forwards several streams of one type into one channel,
//! one forwarder task per input (the article's `merge`); the output closes
//! when every forwarder has finished.

use async_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::cancel::Cancel;
use crate::channel::Packet;
use crate::stats::{Local, Stopwatch};

/// Forwards every packet of `rx` to `tx` until `rx` closes or the run is
/// cancelled. Packets pass as they are: batches stay batches.
///
/// Both channels are closed at a cancel (see `channel::channel`), so a
/// forwarder blocked on either wakes then; it checks the signal before
/// each packet.
pub(crate) async fn forward<T>(
    rx: Receiver<Packet<T>>,
    tx: Sender<Packet<T>>,
    cancel: Cancel,
    mut stats: Local,
) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let p = match rx.try_recv() {
            Ok(p) => p,
            Err(TryRecvError::Closed) => return,
            Err(TryRecvError::Empty) => {
                let t0 = Stopwatch::start();
                let got = rx.recv().await;
                stats.wait_in += t0.elapsed();
                match got {
                    Ok(p) if !cancel.is_cancelled() => p,
                    _ => return,
                }
            }
        };
        let n = p.len() as u64;
        stats.item_in(n);
        let p = match tx.try_send(p) {
            Ok(()) => {
                stats.items_out += n;
                continue;
            }
            Err(TrySendError::Closed(_)) => return,
            Err(TrySendError::Full(p)) => p,
        };
        let t0 = Stopwatch::start();
        let sent = tx.send(p).await;
        stats.wait_out += t0.elapsed();
        if sent.is_err() {
            return;
        }
        stats.items_out += n;
    }
}
