//! Benchmark stage configurations of a pipeline: which width, buffer,
//! window and batch make it fastest, and which stage holds it back.
//!
//! Copy this file for your own pipeline: declare it with `pipeline!` in the
//! reusable form (or build it with the builder), list the settings to try
//! with `Sweep`, and run one pipeline per point in the closure.
//!
//! ```text
//! cargo run --release --example sweep                       # the CPU-bound demo
//! cargo run --release --example sweep -- --md5 DIR          # md5pipe's bounded design over DIR
//!     --runs N        timed runs per point (default 3)
//!     --items N       items of the demo pipeline (default 40000)
//!     --svg PATH      also write the chart as SVG
//!     --csv PATH      also write the numbers as CSV
//! ```
//!
//! The table shows, per point, the median throughput, the spread of the
//! runs, each stage's load (busy time / (width x run time)) and the
//! bottleneck: the stage whose workers never rest.

use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::prelude::*;
use pipeline_sweep::{Report, Sample, Setting, Sweep};

pipeline! {
    /// The demo: `gen` counts, `hash` does a few microseconds of CPU work
    /// per item on `workers` workers, `sum` folds the results.
    pub Hashes(n: u64, rounds: u32) -> u64 {
        gen:  source 0..n;
        hash: map move |x: u64| spin_hash(x, rounds);
        sum:  sink fold(0u64, |acc: u64, h: u64| acc ^ h);
    }
}

/// CPU work that cannot be optimised away: `rounds` steps of a 64-bit
/// mixing function.
fn spin_hash(mut x: u64, rounds: u32) -> u64 {
    for _ in 0..rounds {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 29;
    }
    x
}

/// Sweeps the demo: hash's width against the buffers and batches around it.
fn demo(items: u64, runs: usize) -> Result<Report, pipeline::Error> {
    let width = pipeline::threads();
    Sweep::new("hashes")
        .workers("hash", [1, width, 4 * width])
        .buffer("hash", [1, 64])
        .batch("gen", [1, 64])
        .repetitions(runs)
        .progress(true)
        .run(|point| {
            let mut p = Hashes::new(items, 2_000);
            // Apply the point's settings to the stages it names.
            point.apply_to(&mut p, Hashes::stage_mut)?;
            p.run()?;
            Ok(Sample::items(items).with_stats(&p.stats()))
        })
}

/// Sweeps md5pipe's bounded design (walk -> digest x N, ordered -> out)
/// over the tree at `dir`: digesters against the reorder window, the
/// channel buffers and the files handed to a digester at once. md5pipe's
/// options map onto the grid: `digest.workers` is `digesters`,
/// `digest.window` the window, `digest.buffer` the buffer of every
/// channel, `walk.batch` the group size.
fn md5(dir: PathBuf, runs: usize) -> Result<Report, pipeline_md5::Error> {
    use pipeline_md5::{digest_tree, Mode, Options};
    let cpus = pipeline::threads();
    Sweep::new("md5 bounded")
        .workers("digest", [1, cpus, 2 * cpus, 4 * cpus])
        .window("digest", [2, 16])
        .buffer("digest", [1, 64])
        .batch("walk", [1, 16])
        .repetitions(runs)
        .progress(true)
        .run(|point| {
            let mut opts = Options::default().mode(Mode::Bounded).fail_fast(true);
            if let Some(n) = point.get("digest", Setting::Workers) {
                opts = opts.digesters(n);
            }
            if let Some(n) = point.get("digest", Setting::Window) {
                opts = opts.window(n);
            }
            if let Some(n) = point.get("digest", Setting::Buffer) {
                opts = opts.buffer(n);
            }
            if let Some(n) = point.get("walk", Setting::Batch) {
                opts = opts.group(n);
            }
            let run = digest_tree([dir.clone()], &opts)?;
            let stats = run.stats();
            let progress = run.progress();
            let mut files = 0;
            for digest in run {
                digest?;
                files += 1;
            }
            let bytes = progress.snapshot().bytes_done;
            Ok(Sample::items(files).with_bytes(bytes).with_stats(&stats))
        })
}

/// Command-line flags.
struct Args {
    md5: Option<PathBuf>,
    runs: usize,
    items: u64,
    svg: Option<PathBuf>,
    csv: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        md5: None,
        runs: 3,
        items: 40_000,
        svg: None,
        csv: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--md5" => args.md5 = Some(value()?.into()),
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--items" => args.items = value()?.parse().map_err(|e| format!("--items: {e}"))?,
            "--svg" => args.svg = Some(value()?.into()),
            "--csv" => args.csv = Some(value()?.into()),
            _ => {
                return Err(format!(
                    "unknown flag {flag} (see the top of examples/sweep.rs)"
                ))
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sweep: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match &args.md5 {
        Some(dir) => md5(dir.clone(), args.runs).map_err(|e| e.to_string()),
        None => demo(args.items, args.runs).map_err(|e| e.to_string()),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sweep: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{report}");
    let mut status = ExitCode::SUCCESS;
    if let Some(path) = &args.svg {
        match report.write_svg(path) {
            Ok(()) => eprintln!("sweep: chart written to {}", path.display()),
            Err(e) => {
                eprintln!("sweep: {}: {e}", path.display());
                status = ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &args.csv {
        if let Err(e) = std::fs::write(path, report.to_csv()) {
            eprintln!("sweep: {}: {e}", path.display());
            status = ExitCode::FAILURE;
        }
    }
    status
}
