//! A CPU-bound map stage with as many workers as cores keeps every core
//! busy: this prints the process's CPU time over its wall time, which comes
//! out close to the number of cores (Linux: read from /proc/self/stat).
//!
//!     cargo run --release --example cpu_bound

use std::time::Instant;

use pipeline::{Error, Pipeline, StageConfig};

/// Burns about `rounds` multiply-adds: stand-in for real per-item work.
fn work(seed: u64, rounds: u32) -> u64 {
    let mut x = seed;
    for _ in 0..rounds {
        x = std::hint::black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    x
}

/// User + system CPU time of this process, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

fn main() -> Result<(), Error> {
    let cores = pipeline::threads();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let sum = Pipeline::new()
        .from_iter("gen", 0..(4000 * cores as u64))
        .map(StageConfig::new("work").workers(cores), |n| {
            work(n, 200_000)
        })
        .fold(0u64, |a, n| a ^ n)
        .run()?;
    let wall = t0.elapsed().as_secs_f64();
    println!("checksum {sum:x}");
    match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => println!(
            "cores {cores}: wall {wall:.2}s, cpu {:.2}s, cpu/wall {:.2}",
            b - a,
            (b - a) / wall
        ),
        _ => println!("cores {cores}: wall {wall:.2}s (no /proc: cpu time unknown)"),
    }
    Ok(())
}
