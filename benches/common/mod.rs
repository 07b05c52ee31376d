//! What the per-item overhead benches share: the item count, the grid of
//! buffers and batches, criterion's settings, and the Go reference.
//!
//! Every variant moves `items()` `u64`s through the same graph and returns
//! the sum of the squares, which the bench checks, so no stage can be
//! optimised away and every variant provably did the same work.

#![allow(dead_code)] // each bench uses a part of this module

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
