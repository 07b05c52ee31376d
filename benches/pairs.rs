//! Per-item overhead as ratios of runs made side by side: for each cell
//! of the grid, the framework's runs (`pipeline!` and the builder) and the
//! hand-wired reference alternate, `PAIRS_REPS` times (default 15), in a
//! rotating order, and the bench prints the median of the per-round
//! ratios with their interquartile range. The default configuration
//! (builder and `pipeline!`) and one item per packet are compared so with
//! the article's Go `sq` at the same
//! buffer (when built; its time includes its process start, well under
//! 1% of a run).
//!
//! Criterion's cells run one after another for seconds each, so on a
//! machine whose speed drifts (a shared VM) two cells can differ by more
//! than the effect measured; alternating single runs puts the drift on
//! both sides of each ratio.
//!
//! The default is also set beside the graphs a Rust user wires by hand
//! instead: tokio tasks with `tokio::sync::mpsc` and threads with
//! `crossbeam-channel` (ratios to the builder's default).
//!
//! Run: `cargo bench --bench pairs` (`PAIRS_REPS=31` for tighter figures;
//! `PAIRS_ONLY_GO=1` for the rows against Go alone; `PAIRS_CELL=buf64/batch256`
//! for the cells whose label contains it, and no Go row, as when profiling
//! one cell; `BENCH_ITEMS` as in the other benches).

mod common;

use std::time::Instant;

use common::{chain, expected, fanout, go_sq, items, items_for, run_go, Variants};

/// One timed run: ns per item, after checking the result.
fn time(n: u64, run: &dyn Fn(u64) -> u64) -> f64 {
    let t = Instant::now();
    let got = run(n);
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(got, expected(n), "every variant moves every item");
    ns
}

/// The value at fraction `q` of the sorted `xs`.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// A row: the contenders' median ns/item and their ratios to the first.
fn row(label: &str, n: u64, reps: usize, runs: &[&dyn Fn(u64) -> u64]) {
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for r in 0..reps {
        // Rotate who goes first, so no contender always runs on a warm
        // (or a cold) machine.
        for k in 0..runs.len() {
            let i = (r + k) % runs.len();
            ns[i].push(time(n, runs[i]));
        }
    }
    let mut out = format!("| {label} | {:.1} |", quantile(&ns[0], 0.5));
    for col in ns.iter().skip(1) {
        let ratios: Vec<f64> = col.iter().zip(&ns[0]).map(|(a, b)| a / b).collect();
        out += &format!(
            " {:.1} ({:.2}x; {:.2}-{:.2}) |",
            quantile(col, 0.5),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
        );
    }
    println!("{out}");
}

fn graph(v: &Variants, reps: usize) {
    println!("\n### {}: ns/item, median of {reps} rounds (ratio to the first column: median; interquartile range)\n", v.group);
    if std::env::var_os("PAIRS_ONLY_GO").is_none() {
        println!("| cell | hand-wired | builder | `pipeline!` |");
        println!("|---|---:|---|---|");
        let only = std::env::var("PAIRS_CELL").ok();
        for (buffer, batch) in [(64, 1), (1, 64), (1, 256), (64, 64), (64, 256)] {
            let label = format!("buf{buffer}/batch{batch}");
            if only.as_ref().is_some_and(|o| !label.contains(o.as_str())) {
                continue;
            }
            let n = items_for(buffer, batch);
            let hand = move |n| {
                if batch == 1 {
                    (v.hand)(n, buffer)
                } else {
                    (v.hand_batched)(n, buffer, batch)
                }
            };
            let builder = move |n| (v.with_builder)(n, buffer, batch);
            let with_macro = move |n| (v.with_macro)(n, buffer, batch);
            row(&label, n, reps, &[&hand, &builder, &with_macro]);
        }
    }
    if std::env::var_os("PAIRS_CELL").is_some() {
        return;
    }
    rust_peers(v, reps);
    let Some(go) = go_sq() else {
        eprintln!("pairs: Go sq anchor not built (scripts/anchors.sh): no Go rows");
        return;
    };
    println!(
        "\n| buffer 64 | Go `sq` | builder, default | `pipeline!`, default | builder, `batch(1)` |"
    );
    println!("|---|---:|---|---|---|");
    let n = items();
    let go_run = |n| {
        run_go(&go, v.go_variant, n, 64);
        expected(n)
    };
    let builder = move |n| (v.builder_default)(n);
    let with_macro = move |n| (v.macro_default)(n);
    let one = move |n| (v.with_builder)(n, 64, 1);
    row(
        "ns/item (ratio to Go)",
        n,
        reps,
        &[&go_run, &builder, &with_macro, &one],
    );
}

/// The framework's default configuration against what a Rust user wires
/// by hand instead, one item per message at buffer 64: tokio tasks with
/// `tokio::sync::mpsc`, and threads with `crossbeam-channel`.
fn rust_peers(v: &Variants, reps: usize) {
    println!(
        "\n| buffer 64 | builder, default | tokio mpsc tasks | crossbeam-channel threads | `pipeline!`, default |"
    );
    println!("|---|---:|---|---|---|");
    let n = items();
    let builder = move |n| (v.builder_default)(n);
    let tokio = move |n| (v.tokio_mpsc)(n, 64);
    let crossbeam = move |n| (v.crossbeam)(n, 64);
    let with_macro = move |n| (v.macro_default)(n);
    row(
        "ns/item (ratio to the builder)",
        n,
        reps,
        &[&builder, &tokio, &crossbeam, &with_macro],
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this bench takes no other arguments.
    let reps = std::env::var("PAIRS_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(15);
    graph(&chain::VARIANTS, reps);
    graph(&fanout::VARIANTS, reps);
}
