//! What the always-on per-stage stats cost.
//!
//! The stats' fast path is a few plain additions on a worker's own
//! counters (items in and out per packet or per batch, a tick per packet);
//! every 256 packets a worker adds its counters to the stage's atomics and
//! reads the clock once; and each time a worker blocks (an empty input, a
//! full output) it reads the clock before and after. This bench runs the
//! same pipelines in the default build and in a measurement build where
//! `--cfg pipeline_stats_off` removes the clock reads and the periodic
//! publishing (the counts are then published once, when a worker ends):
//!
//! ```text
//! export CRITERION_HOME=$PWD/target/criterion
//! cargo bench --bench stats_cost -- --save-baseline stats-on
//! RUSTFLAGS="--cfg pipeline_stats_off" CARGO_TARGET_DIR=target/stats-off \
//!     cargo bench --bench stats_cost -- --baseline stats-on
//! ```
//!
//! The second run prints each pipeline's change against the first: the
//! cost of the stats is that change, with the sign flipped. `clock/pair`
//! is what one blocked wait adds in the default build.
//!
//! The `tracing` feature's cost is measured the same way: the same
//! pipelines built with it, where no subscriber is set (its cost when
//! compiled in and unused, which should be none), against the baseline
//! without it; and, only in that build, the `traced/` variants, which run
//! them under a subscriber that takes every span and event (a span per
//! task, entered at each poll: the price of listening):
//!
//! ```text
//! cargo bench --bench stats_cost -- --save-baseline plain
//! cargo bench --bench stats_cost --features tracing -- --baseline plain
//! ```

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{chain, configure, expected, fanout, items};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn stats_cost(c: &mut Criterion) {
    let n = items();
    let mut g = c.benchmark_group("stats_cost");
    for (buffer, batch) in [(64, 1), (64, 256)] {
        configure(&mut g, n);
        let want = expected(n);
        g.bench_function(format!("chain/buf{buffer}/batch{batch}"), |b| {
            b.iter(|| assert_eq!(chain::with_builder(n, buffer, batch), want))
        });
        g.bench_function(format!("fanout/buf{buffer}/batch{batch}"), |b| {
            b.iter(|| assert_eq!(fanout::with_builder(n, buffer, batch), want))
        });
    }
    #[cfg(feature = "tracing")]
    traced(&mut g, n);
    // One clock read before a wait and one after: what a blocked send or
    // receive adds for the stats.
    g.throughput(Throughput::Elements(1));
    g.bench_function("clock/pair", |b| {
        b.iter(|| black_box(Instant::now()).elapsed())
    });
    g.finish();
}

/// The same pipelines under a subscriber that takes everything (the
/// `tracing` feature only).
#[cfg(feature = "tracing")]
fn traced(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: u64) {
    let want = expected(n);
    for (buffer, batch) in [(64, 1), (64, 256)] {
        configure(g, n);
        g.bench_function(format!("traced/chain/buf{buffer}/batch{batch}"), |b| {
            b.iter(|| {
                tracing::subscriber::with_default(listening::Everything, || {
                    assert_eq!(chain::with_builder(n, buffer, batch), want)
                })
            })
        });
    }
}

/// A subscriber that is interested in every span and event and keeps
/// nothing: what the runtime pays to be listened to.
#[cfg(feature = "tracing")]
mod listening {
    use std::sync::atomic::{AtomicU64, Ordering};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    pub struct Everything;

    static NEXT: AtomicU64 = AtomicU64::new(1);

    impl Subscriber for Everything {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed))
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

criterion_group!(benches, stats_cost);
criterion_main!(benches);
