//! Per-item overhead of a three-stage chain, `gen -> sq -> sum`, over
//! `BENCH_ITEMS` (default 1M) `u64`s, written four ways with the same
//! channel capacities:
//!
//! - `macro`: declared with `pipeline!`;
//! - `builder`: the same with the builder API;
//! - `hand`: hand-wired tasks and async-channels on the framework's own
//!   executor (`pipeline::spawn`), the sink in `block_on` on the calling
//!   thread as `Run::run` does — so only the framework's layer differs;
//!   `hand-batched` sends `Vec`s of `batch` items, the ideal the
//!   framework's `batch` option is measured against;
//! - `sync_channel`: std threads and `std::sync::mpsc::sync_channel`;
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

use std::sync::mpsc::sync_channel;

use common::{configure, expected, go_sq, items, items_for, run_go, sq, BATCHES, BUFFERS};
use criterion::{criterion_group, criterion_main, Criterion};
use pipeline::{pipeline, Pipeline, StageConfig};

/// `pipeline!`: every stage with the same buffer and batch.
fn with_macro(n: u64, buffer: usize, batch: usize) -> u64 {
    pipeline! {
        gen: source 0..n [buffer = buffer, batch = batch];
        sq:  map sq [buffer = buffer, batch = batch];
        sum: sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the chain runs")
}

/// `pipeline!` with every stage batching adaptively, buffers at
/// [`pipeline::DEFAULT_BUFFER`] items.
fn with_macro_adaptive(n: u64) -> u64 {
    pipeline! {
        gen: source 0..n [adaptive];
        sq:  map sq [adaptive];
        sum: sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the chain runs")
}

/// The builder with every stage batching adaptively.
fn with_builder_adaptive(n: u64) -> u64 {
    Pipeline::new()
        .from_iter(StageConfig::new("gen").adaptive(), 0..n)
        .map(StageConfig::new("sq").adaptive(), sq)
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the chain runs")
}

/// The builder: what the macro expands to, written out.
fn with_builder(n: u64, buffer: usize, batch: usize) -> u64 {
    let cfg = |name: &str| StageConfig::new(name).buffer(buffer).batch(batch);
    Pipeline::new()
        .from_iter(cfg("gen"), 0..n)
        .map(cfg("sq"), sq)
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the chain runs")
}

/// Hand-wired on the framework's executor: a task per stage, one item per
/// message.
fn hand(n: u64, buffer: usize) -> u64 {
    let (tx1, rx1) = async_channel::bounded(buffer);
    let (tx2, rx2) = async_channel::bounded(buffer);
    let gen = pipeline::spawn(async move {
        for i in 0..n {
            if tx1.send(i).await.is_err() {
                return;
            }
        }
    });
    let work = pipeline::spawn(async move {
        while let Ok(i) = rx1.recv().await {
            if tx2.send(sq(i)).await.is_err() {
                return;
            }
        }
    });
    pipeline::block_on(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx2.recv().await {
            sum = sum.wrapping_add(v);
        }
        gen.await;
        work.await;
        sum
    })
}

/// Hand-wired with `Vec`s of `batch` items per message, in channels of
/// as many packets as hold `buffer` items (the framework's buffer counts
/// items).
fn hand_batched(n: u64, buffer: usize, batch: usize) -> u64 {
    let (tx1, rx1) = async_channel::bounded::<Vec<u64>>(buffer.div_ceil(batch));
    let (tx2, rx2) = async_channel::bounded::<Vec<u64>>(buffer.div_ceil(batch));
    let gen = pipeline::spawn(async move {
        let mut i = 0;
        while i < n {
            let end = (i + batch as u64).min(n);
            if tx1.send((i..end).collect()).await.is_err() {
                return;
            }
            i = end;
        }
    });
    let work = pipeline::spawn(async move {
        while let Ok(v) = rx1.recv().await {
            if tx2.send(v.into_iter().map(sq).collect()).await.is_err() {
                return;
            }
        }
    });
    pipeline::block_on(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx2.recv().await {
            sum = v.into_iter().fold(sum, u64::wrapping_add);
        }
        gen.await;
        work.await;
        sum
    })
}

/// std threads joined by `sync_channel`s: the same graph without async.
fn std_threads(n: u64, buffer: usize) -> u64 {
    let (tx1, rx1) = sync_channel(buffer);
    let (tx2, rx2) = sync_channel(buffer);
    let gen = std::thread::spawn(move || {
        for i in 0..n {
            if tx1.send(i).is_err() {
                return;
            }
        }
    });
    let work = std::thread::spawn(move || {
        for i in rx1 {
            if tx2.send(sq(i)).is_err() {
                return;
            }
        }
    });
    let sum = rx2.into_iter().fold(0u64, u64::wrapping_add);
    gen.join().expect("gen ends");
    work.join().expect("sq ends");
    sum
}

fn chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("chain");
    // Adaptive batching at the default buffer, next to Go at the same buffer (go/buf64).
    let n = items();
    let want = expected(n);
    configure(&mut g, n);
    g.bench_function("macro/adaptive", |b| {
        b.iter(|| assert_eq!(with_macro_adaptive(n), want))
    });
    g.bench_function("builder/adaptive", |b| {
        b.iter(|| assert_eq!(with_builder_adaptive(n), want))
    });
    for buffer in BUFFERS {
        for batch in BATCHES {
            let n = items_for(buffer, batch);
            let want = expected(n);
            configure(&mut g, n);
            let id = format!("buf{buffer}/batch{batch}");
            g.bench_function(format!("macro/{id}"), |b| {
                b.iter(|| assert_eq!(with_macro(n, buffer, batch), want))
            });
            g.bench_function(format!("builder/{id}"), |b| {
                b.iter(|| assert_eq!(with_builder(n, buffer, batch), want))
            });
            if batch == 1 {
                g.bench_function(format!("hand/{id}"), |b| {
                    b.iter(|| assert_eq!(hand(n, buffer), want))
                });
            } else {
                g.bench_function(format!("hand-batched/{id}"), |b| {
                    b.iter(|| assert_eq!(hand_batched(n, buffer, batch), want))
                });
            }
        }
        let n = items_for(buffer, 1);
        let want = expected(n);
        configure(&mut g, n);
        g.bench_function(format!("sync_channel/buf{buffer}/batch1"), |b| {
            b.iter(|| assert_eq!(std_threads(n, buffer), want))
        });
    }
    if let Some(go) = go_sq() {
        // Go gets the full count: a process start is ~1 ms.
        let n = items();
        configure(&mut g, n);
        for buffer in [0, 1, 64] {
            g.bench_function(format!("go/buf{buffer}/batch1"), |b| {
                b.iter(|| run_go(&go, "linear", n, buffer))
            });
        }
    } else {
        eprintln!("chain: Go sq anchor not built (scripts/anchors.sh): go/* skipped");
    }
    g.finish();
}

criterion_group!(benches, chain);
criterion_main!(benches);
