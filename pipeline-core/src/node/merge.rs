//! Fan-in: `merge` forwards several flows of one type into one link, one
//! forwarder task per input (the article's `merge`); the output closes
//! when every forwarder has finished.

use std::sync::Arc;

use smol::Task;

use crate::build::{StageConfig, PREALLOCATED_ITEMS};
use crate::link::{LinkRx, LinkTx, Packet, Pushed, Reader, Taken, Writer};
use crate::run::ctx::RunCtx;
use crate::stats::{Local, StageStats};
use crate::trace::Worker;

/// Spawns one forwarder per input. Its output is packed and counted by the
/// merge's own settings, as any stage's output is.
pub(crate) fn spawn_merge<T: Send + 'static>(
    inputs: Vec<LinkRx<T>>,
    cfg: &StageConfig,
    tx: LinkTx<T>,
    stats: &Arc<StageStats>,
    ctx: &RunCtx,
) -> Vec<Task<()>> {
    let width = inputs.len();
    inputs
        .into_iter()
        .enumerate()
        .map(|(index, rx)| {
            let worker = Worker {
                stage: &cfg.name,
                role: "forwarder",
                width,
                index,
            };
            ctx.spawn_worker(
                worker,
                forward(
                    Reader::new(rx, ctx.stop.clone()),
                    Writer::for_node(tx.clone(), cfg, ctx.stop.clone()),
                    Local::new(stats.clone()),
                ),
            )
        })
        .collect()
    // `tx` drops here: the output closes when the last forwarder ends.
}

/// Forwards every packet of `input` to `output` until the input closes or
/// the run is cancelled: whole where the output takes it so (see
/// [`Writer::try_forward`]), otherwise item by item, a batch's items in
/// bulk. Both links are closed at a cancel, so a forwarder blocked on
/// either wakes then; it checks the signal before each packet.
pub(crate) async fn forward<T>(mut input: Reader<T>, mut output: Writer<T>, mut stats: Local) {
    loop {
        let p = match input.try_packet(&mut stats) {
            Taken::Packet(p) => p,
            Taken::Closed => break,
            Taken::Empty => {
                // About to wait: what is batched goes first.
                let Ok(clear) = output.clear(&mut stats).await else {
                    return;
                };
                match input.packet(&mut stats, clear).await {
                    Some(p) => p,
                    None => break,
                }
            }
        };
        let p = match output.try_forward(p, &mut stats) {
            Ok(pushed) => {
                if !settled(pushed, &mut output, &mut stats).await {
                    return;
                }
                continue;
            }
            Err(p) => p,
        };
        if !forward_items(p, &mut output, &mut stats).await {
            return;
        }
    }
    let _ = output.flush(&mut stats).await;
}

/// Sends the items of `p` one by one (a batch of items in bulk where the
/// writer takes them so); `false` if the run stopped.
async fn forward_items<T>(p: Packet<T>, output: &mut Writer<T>, stats: &mut Local) -> bool {
    let msgs = match p {
        Packet::One(item) => return output.send(Ok(item), stats).await.is_ok(),
        Packet::Many(v) => v,
        Packet::Items(v) => {
            let mut items = v.into_iter();
            while items.len() > 0 {
                let pushed = match output.bulk() {
                    Some(mut add) => {
                        let (buf, room, _) = add.parts();
                        buf.reserve_exact(room.min(PREALLOCATED_ITEMS));
                        buf.extend(items.by_ref().take(room));
                        add.commit(stats)
                    }
                    // No room for a batch (no permit free): one item, which waits.
                    None => {
                        let item = items.next().expect("the batch holds an item");
                        output.push(Ok(item), stats)
                    }
                };
                if !settled(pushed, output, stats).await {
                    output.lose(items.len());
                    return false;
                }
            }
            return true;
        }
    };
    let mut msgs = msgs.into_iter();
    while let Some(m) = msgs.next() {
        if output.send(m, stats).await.is_err() {
            output.lose(msgs.len());
            return false;
        }
    }
    true
}

/// Finishes a push that did not wait: sends a stalled packet (or waits for
/// a permit); `false` if the run stopped.
async fn settled<T>(pushed: Pushed, output: &mut Writer<T>, stats: &mut Local) -> bool {
    match pushed {
        Pushed::Done => true,
        Pushed::Stopped => false,
        Pushed::Full => output.send_waiting(stats).await.is_ok(),
    }
}
