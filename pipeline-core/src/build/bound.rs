//! The in-flight bound's arithmetic: what each node adds to
//! [`Run::in_flight_bound`](crate::Run::in_flight_bound), as
//! [`StageConfig`]'s docs state it.

use crate::build::StageConfig;

/// What a source adds to the bound: its link, and the packet being filled
/// (or stalled); on a counted link only the one item waiting for a permit
/// is not counted.
pub(crate) fn source_bound(cfg: &StageConfig) -> usize {
    let filling = if cfg.counted() { 1 } else { cfg.packet_cap() };
    filling.saturating_add(cfg.channel_items())
}

/// What the workers of a node hold that its output link does not count,
/// beyond what its inputs count: see `StageConfig`'s docs. `held_in` is
/// what one reader of the input holds outside the input's count.
pub(crate) fn held_by_workers(cfg: &StageConfig, held_in: usize) -> usize {
    // The packet being filled, unless the output link counts it.
    let filling = if cfg.counted() {
        0
    } else {
        cfg.packet_cap() - 1
    };
    // Saturating: a huge setting makes a huge bound, not an overflow.
    if cfg.ordered {
        // The dispatcher's packet, the jobs and results the window admits,
        // the collector's packet.
        held_in
            .saturating_add(cfg.workers)
            .saturating_add(cfg.window_len())
            .saturating_add(filling)
    } else {
        // Per worker: the packet read (or, on a counted input, the one
        // message in hand that a sibling may have released), and the
        // packet being filled.
        cfg.workers
            .saturating_mul(held_in.max(1).saturating_add(filling))
    }
}
