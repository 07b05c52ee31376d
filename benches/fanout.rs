//! Per-item overhead of the article's fan-out and fan-in: `gen`, two `sq`
//! stages reading gen's one channel, `merge` of their outputs (one
//! forwarder per input, as the article's `merge`), and a summing sink; over
//! `BENCH_ITEMS` (default 1M) `u64`s, written the same ways as
//! `benches/chain.rs`: `macro`, `builder`, `hand` (async-channel on the
//! framework's executor), `hand-batched`, `sync_channel` (std threads),
//! `tokio_mpsc` and `crossbeam` (the Rust peers, sq workers sending straight
//! into one merged channel) and
//! `go` (`sq fanout N BUF`, when built).
//!
//! Run: `cargo bench --bench fanout`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn fanout(c: &mut Criterion) {
    common::bench_variants(c, &common::fanout::VARIANTS);
}

criterion_group!(benches, fanout);
criterion_main!(benches);
