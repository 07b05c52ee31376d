//! The MD5 ceiling: how fast this machine's build of md-5 digests bytes
//! already in memory, with no file system, no pipeline and no copies.
//! md5pipe cannot digest a tree faster than cores x this figure, since MD5
//! cannot be split inside one file.
//!
//!     cargo run --release --example md5_ceiling [-- --threads N] [--seconds S]
//!
//! Digests a 64 MiB buffer in chunks of md5pipe's read size
//! (`pipeline_md5::digest::DEFAULT_CHUNK`), repeatedly for about `S` seconds
//! (default 1) on each of `N` threads at once (default 1), and prints
//! the median pass's rate summed over the threads as one line
//! `MBPS <number>` (MB = 10^6 bytes), which `scripts/compare.sh` reads.
//! The median, as the compare script reports median wall times: the two
//! figures are then alike, and a lucky pass does not set the bar.
//! With `--threads 2` on a 2-core machine it shows whether the two cores
//! really run MD5 at twice one core's speed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

const BUFFER: usize = 64 << 20;

/// The median rate, in bytes per second, of whole passes over `data`
/// during about `budget` (at least three passes).
fn median_rate(data: &[u8], chunk: usize, budget: Duration) -> f64 {
    let start = Instant::now();
    let mut rates = Vec::new();
    while rates.len() < 3 || start.elapsed() < budget {
        let pass = Instant::now();
        let mut md5 = Md5::new();
        for piece in data.chunks(chunk) {
            md5.update(piece);
        }
        black_box(md5.finalize());
        rates.push(data.len() as f64 / pass.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    let mut threads = 1usize;
    let mut seconds = 1f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<f64>().ok());
        match (arg.as_str(), value) {
            ("--threads", Some(n)) if n >= 1.0 && n.fract() == 0.0 => threads = n as usize,
            ("--seconds", Some(s)) if s > 0.0 => seconds = s,
            _ => {
                eprintln!("usage: md5_ceiling [--threads N] [--seconds S]");
                std::process::exit(2);
            }
        }
    }
    // Any bytes do: MD5 costs the same whatever the data.
    let data: Vec<u8> = (0..BUFFER as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect();
    let budget = Duration::from_secs_f64(seconds);
    let rate: f64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| median_rate(&data, pipeline_md5::digest::DEFAULT_CHUNK, budget))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a digesting thread does not panic"))
            .sum()
    });
    eprintln!(
        "md5_ceiling: {threads} thread(s), {} KiB chunks: {:.0} MB/s in all, {:.0} MB/s per thread",
        pipeline_md5::digest::DEFAULT_CHUNK / 1024,
        rate / 1e6,
        rate / 1e6 / threads as f64
    );
    println!("MBPS {:.0}", rate / 1e6);
}
