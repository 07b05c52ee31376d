//! Fan-in: `merge` forwards several flows of one type into one link, one
//! forwarder task per input (the article's `merge`); the output closes
//! when every forwarder has finished.

use std::sync::Arc;

use smol::Task;

use crate::channel::{LinkRx, LinkTx, Reader, Writer};
use crate::config::StageConfig;
use crate::op::{Inline, MapOp};
use crate::stage::{worker, RunCtx};
use crate::stats::{Local, StageStats};

/// Passes an item on unchanged.
fn identity<T>(item: T) -> T {
    item
}

/// Spawns one forwarder per input: a worker of the identity function, so
/// that batches move whole (the bulk map hands a packet's allocation on)
/// and the output is packed and counted by the merge's own settings, as
/// any stage's output is. Each forwarder checks the signal between
/// packets, and both its links are closed at a cancel.
pub(crate) fn spawn_merge<T: Send + 'static>(
    inputs: Vec<LinkRx<T>>,
    cfg: &StageConfig,
    tx: LinkTx<T>,
    stats: &Arc<StageStats>,
    ctx: &RunCtx,
) -> Vec<Task<()>> {
    // The fn item, not a fn pointer: the identity inlines into the bulk
    // map, which then moves a batch without a call per item.
    let op = Arc::new(Inline(MapOp(identity::<T>)));
    inputs
        .into_iter()
        .map(|rx| {
            ctx.spawn(worker(
                op.clone(),
                Reader::new(rx, ctx.cancel.clone()),
                Writer::new(
                    tx.clone(),
                    ctx.cancel.clone(),
                    cfg.packet_cap(),
                    cfg.is_adaptive(),
                ),
                cfg.name.clone(),
                ctx.clone(),
                Local::new(stats.clone()),
            ))
        })
        .collect()
    // `tx` drops here: the output closes when the last forwarder ends.
}
