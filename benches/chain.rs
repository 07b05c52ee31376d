//! Per-item overhead of a three-stage chain, `gen -> sq -> sum`, over
//! `BENCH_ITEMS` (default 1M) `u64`s, written several ways with the same
//! channel capacities:
//!
//! - `macro`: declared with `pipeline!`;
//! - `builder`: the same with the builder API;
//! - `hand`: hand-wired tasks and async-channels on the framework's own
//!   executor (`pipeline::spawn`), the sink a task too, as `Run::run`
//!   runs it — so only the framework's layer differs;
//!   `hand-batched` sends `Vec`s of `batch` items, the ideal the
//!   framework's `batch` option is measured against;
//! - `sync_channel`: std threads and `std::sync::mpsc::sync_channel`;
//! - `tokio_mpsc`, `crossbeam`: tokio tasks with `tokio::sync::mpsc`, and
//!   threads with `crossbeam-channel` (what a Rust user wires by hand);
//! - `go`: the article's Go program (`sq linear N BUF`), when built.
//!
//! Throughput is in items, so criterion prints items/s; with 1M items the
//! time per iteration in ms is the cost in ns/item. One-slot channels
//! without batching cost microseconds per item, so those variants move a
//! tenth of the items (the per-item figure does not depend on the count);
//! `benches/overhead_table.py` turns the results into ns/item either way.
//!
//! Run: `cargo bench --bench chain` (a filter narrows it:
//! `cargo bench --bench chain -- 'buf64/'`).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn chain(c: &mut Criterion) {
    common::bench_variants(c, &common::chain::VARIANTS);
}

criterion_group!(benches, chain);
criterion_main!(benches);
