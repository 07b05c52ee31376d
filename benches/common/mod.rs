//! What the per-item overhead benches share: the item count, the grid of
//! buffers and batches, criterion's settings, and the Go reference.
//!
//! Every variant moves `items()` `u64`s through the same graph and returns
//! the sum of the squares, which the bench checks, so no stage can be
//! optimised away and every variant provably did the same work.

#![allow(dead_code)] // each bench uses a part of this module

/// `VARIANTS` of a graph module whose functions have the names
/// [`Variants`] lists: `variants!("chain", "linear")`.
macro_rules! variants {
    ($group:literal, $go_variant:literal) => {
        /// Every variant of this graph, for the benches.
        pub const VARIANTS: super::Variants = super::Variants {
            group: $group,
            go_variant: $go_variant,
            macro_default: with_macro_default,
            builder_default: with_builder_default,
            with_macro,
            with_builder,
            hand,
            hand_batched,
            std_threads,
            tokio_mpsc,
            crossbeam,
        };
    };
}

pub mod chain;
pub mod fanout;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{BenchmarkGroup, SamplingMode, Throughput};

/// Items per run: `BENCH_ITEMS`, default 1,000,000. With 1M items a run's
/// time in milliseconds reads directly as nanoseconds per item.
pub fn items() -> u64 {
    std::env::var("BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1_000_000)
}

/// Items for one variant: [`items`], or a tenth of it for the variants
/// that cost microseconds per item (one-slot channels without batching),
/// so that the whole bench still ends in a few minutes. The per-item
/// figure does not depend on the count.
pub fn items_for(buffer: usize, batch: usize) -> u64 {
    if buffer <= 1 && batch == 1 {
        (items() / 10).max(1)
    } else {
        items()
    }
}

/// Channel capacities compared (1 is the closest to Go's unbuffered
/// channels that a bounded async-channel allows; 64 is the default buffer).
pub const BUFFERS: [usize; 2] = [1, 64];

/// Items per packet swept for the framework's variants.
pub const BATCHES: [usize; 3] = [1, 64, 256];

/// The work of the `sq` stage.
#[inline]
pub fn sq(n: u64) -> u64 {
    n.wrapping_mul(n)
}

/// What every variant must return for `0..n`.
pub fn expected(n: u64) -> u64 {
    (0..n).map(sq).fold(0, u64::wrapping_add)
}

/// Applies the settings every group uses: few samples of whole runs, so
/// that one `cargo bench --bench X` ends in a few minutes on 2 cores.
/// Criterion's own flags (`--sample-size`, `--measurement-time`) override them.
pub fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, n: u64) {
    g.throughput(Throughput::Elements(n))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

/// The article's Go `sq` program (`../shared/anchors/go/sq`), if built:
/// `$SQ`, else `$ANCHORS/sq`, else `/tmp/anchors/sq` (scripts/anchors.sh
/// builds it there).
pub fn go_sq() -> Option<PathBuf> {
    let path = std::env::var_os("SQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let dir = std::env::var_os("ANCHORS").unwrap_or_else(|| "/tmp/anchors".into());
            PathBuf::from(dir).join("sq")
        });
    path.is_file().then_some(path)
}

/// Runs `sq VARIANT n BUF` once and checks that it moved `n` items. The
/// time includes the Go process's start (well under a millisecond, so
/// under 1 ns/item at 1M items).
pub fn run_go(sq: &PathBuf, variant: &str, n: u64, buf: usize) {
    let out = Command::new(sq)
        .args([variant, &n.to_string(), &buf.to_string()])
        .output()
        .expect("the Go sq anchor must start");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!(" items={n} ")),
        "sq {variant} {n} {buf} failed: {text}"
    );
}

/// One graph written every way the per-item benches compare: each
/// function moves `n` items and returns the sum of their squares.
pub struct Variants {
    /// The criterion group's name: `chain` or `fanout`.
    pub group: &'static str,
    /// The Go anchor's variant for the same graph (`sq VARIANT N BUF`).
    pub go_variant: &'static str,
    /// `pipeline!` with no options: every setting at its default.
    pub macro_default: fn(u64) -> u64,
    /// The builder with no options: every setting at its default.
    pub builder_default: fn(u64) -> u64,
    /// `pipeline!` at (n, buffer, batch).
    pub with_macro: fn(u64, usize, usize) -> u64,
    /// The builder at (n, buffer, batch).
    pub with_builder: fn(u64, usize, usize) -> u64,
    /// Hand-wired async-channel, one item per message, at (n, buffer).
    pub hand: fn(u64, usize) -> u64,
    /// Hand-wired async-channel with `Vec` batches, at (n, buffer, batch).
    pub hand_batched: fn(u64, usize, usize) -> u64,
    /// std threads and `sync_channel`s, at (n, buffer).
    pub std_threads: fn(u64, usize) -> u64,
    /// What a tokio user wires by hand: a task per stage on tokio's
    /// multi-threaded runtime, joined by bounded `tokio::sync::mpsc`
    /// channels, one item per message, at (n, buffer).
    pub tokio_mpsc: fn(u64, usize) -> u64,
    /// A thread per stage joined by bounded `crossbeam-channel`s, one item
    /// per message, at (n, buffer).
    pub crossbeam: fn(u64, usize) -> u64,
}

/// The tokio runtime the `tokio_mpsc` variants run on: multi-threaded,
/// one worker per core, made once (as the framework's executor is).
pub fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// Benches every variant of `v` over the grid of [`BUFFERS`] and
/// [`BATCHES`], then Go's `sq` at buffers 0, 1 and 64 when it is built.
pub fn bench_variants(c: &mut criterion::Criterion, v: &Variants) {
    let mut g = c.benchmark_group(v.group);
    // The default configuration (buffer 64, adaptive packets counted in
    // it), next to Go at the same buffer (go/buf64).
    let n = items();
    let want = expected(n);
    configure(&mut g, n);
    g.bench_function("macro/default", |b| {
        b.iter(|| assert_eq!((v.macro_default)(n), want))
    });
    g.bench_function("builder/default", |b| {
        b.iter(|| assert_eq!((v.builder_default)(n), want))
    });
    for buffer in BUFFERS {
        for batch in BATCHES {
            let n = items_for(buffer, batch);
            let want = expected(n);
            configure(&mut g, n);
            let id = format!("buf{buffer}/batch{batch}");
            g.bench_function(format!("macro/{id}"), |b| {
                b.iter(|| assert_eq!((v.with_macro)(n, buffer, batch), want))
            });
            g.bench_function(format!("builder/{id}"), |b| {
                b.iter(|| assert_eq!((v.with_builder)(n, buffer, batch), want))
            });
            if batch == 1 {
                g.bench_function(format!("hand/{id}"), |b| {
                    b.iter(|| assert_eq!((v.hand)(n, buffer), want))
                });
            } else {
                g.bench_function(format!("hand-batched/{id}"), |b| {
                    b.iter(|| assert_eq!((v.hand_batched)(n, buffer, batch), want))
                });
            }
        }
        let n = items_for(buffer, 1);
        let want = expected(n);
        configure(&mut g, n);
        g.bench_function(format!("sync_channel/buf{buffer}/batch1"), |b| {
            b.iter(|| assert_eq!((v.std_threads)(n, buffer), want))
        });
        g.bench_function(format!("tokio_mpsc/buf{buffer}/batch1"), |b| {
            b.iter(|| assert_eq!((v.tokio_mpsc)(n, buffer), want))
        });
        g.bench_function(format!("crossbeam/buf{buffer}/batch1"), |b| {
            b.iter(|| assert_eq!((v.crossbeam)(n, buffer), want))
        });
    }
    if let Some(go) = go_sq() {
        // Go gets the full count: a process start is ~1 ms.
        let n = items();
        configure(&mut g, n);
        for buffer in [0, 1, 64] {
            g.bench_function(format!("go/buf{buffer}/batch1"), |b| {
                b.iter(|| run_go(&go, v.go_variant, n, buffer))
            });
        }
    } else {
        eprintln!(
            "{}: Go sq anchor not built (scripts/anchors.sh): go/* skipped",
            v.group
        );
    }
    g.finish();
}
