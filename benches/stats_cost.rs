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
    // One clock read before a wait and one after: what a blocked send or
    // receive adds for the stats.
    g.throughput(Throughput::Elements(1));
    g.bench_function("clock/pair", |b| {
        b.iter(|| black_box(Instant::now()).elapsed())
    });
    g.finish();
}

criterion_group!(benches, stats_cost);
criterion_main!(benches);
