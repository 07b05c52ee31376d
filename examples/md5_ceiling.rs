//! The MD5 ceiling: how fast this machine's build of md-5 digests bytes
//! already in memory, with no file system, no pipeline and no copies.
//! md5pipe cannot digest a tree faster than cores x this figure, since MD5
//! cannot be split inside one file.
//!
//!     cargo run --release --example md5_ceiling [-- --threads N] [--seconds S] [--engine NAME] [--streams N,N,...]
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
//!
//! `--engine NAME` (`scalar`, `avx2`, `avx2-dual`, `avx512`, or `all` for
//! every engine this CPU has) measures the multi-lane engine
//! (`pipeline_md5::engine`) instead, in the same run as md-5 itself: one
//! table row per engine and number of streams, one stream then one per
//! lane, the buffer split evenly between the streams and each fed chunk by
//! chunk through the engine's lanes (`engine::digest_chunked`, the feeding
//! loop of a digester). With `all`, the md5-many crate's `update_many`
//! runs the same streams for comparison. The last column is the rate over
//! md-5's single stream in this run. `--streams N,N,...` measures those
//! numbers of streams instead of one and one per lane. Every row's digests are checked
//! against md-5's before it is timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use pipeline_md5::digest::DEFAULT_CHUNK;
use pipeline_md5::engine::{digest_chunked, Engine, MultiMd5, ENGINE_NAMES};

const BUFFER: usize = 64 << 20;

/// The median rate, in bytes per second, of whole passes over `bytes`
/// bytes during about `budget` (at least three passes).
fn median_rate(bytes: usize, budget: Duration, mut pass: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut rates = Vec::new();
    while rates.len() < 3 || start.elapsed() < budget {
        let begun = Instant::now();
        pass();
        rates.push(bytes as f64 / begun.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// md-5 over `data`, one stream, fed chunk by chunk.
fn md5_pass(data: &[u8]) {
    let mut md5 = Md5::new();
    for piece in data.chunks(DEFAULT_CHUNK) {
        md5.update(piece);
    }
    black_box(md5.finalize());
}

/// md5-many over `streams` equal streams of `data`, one chunk of each per
/// `update_many` call.
fn md5_many_pass(data: &[u8], streams: usize) -> Vec<[u8; 16]> {
    let many = md5_many::Md5Many::new();
    let parts: Vec<&[u8]> = data.chunks(data.len().div_ceil(streams)).collect();
    let mut states = vec![md5_many::Md5State::new(); parts.len()];
    let mut offset = 0;
    while offset < parts[0].len() {
        let chunks: Vec<&[u8]> = parts
            .iter()
            .map(|part| &part[offset.min(part.len())..(offset + DEFAULT_CHUNK).min(part.len())])
            .collect();
        many.update_many(&mut states, &chunks);
        offset += DEFAULT_CHUNK;
    }
    let mut digests = vec![[0u8; 16]; parts.len()];
    many.finalize_many(&states, &mut digests);
    digests
}

/// The engine over `streams` equal streams of `data`.
fn engine_pass(md: &mut MultiMd5, data: &[u8], streams: usize) -> Vec<[u8; 16]> {
    let parts: Vec<&[u8]> = data.chunks(data.len().div_ceil(streams)).collect();
    digest_chunked(md, &parts, DEFAULT_CHUNK)
}

/// Exits unless `digests` are md-5's digests of `streams` equal streams
/// of `data`: a figure counts only for right answers.
fn check(name: &str, data: &[u8], streams: usize, digests: Vec<[u8; 16]>) {
    let want: Vec<[u8; 16]> = data
        .chunks(data.len().div_ceil(streams))
        .map(|part| Md5::digest(part).into())
        .collect();
    if digests != want {
        eprintln!("md5_ceiling: {name} with {streams} streams gave wrong digests");
        std::process::exit(1);
    }
}

/// `pass` on `threads` threads at once, each with its own state from
/// `init`: the sum of their median rates.
fn rate<S>(
    threads: usize,
    budget: Duration,
    init: impl Fn() -> S + Sync,
    pass: impl Fn(&mut S) + Sync,
) -> f64 {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init();
                    median_rate(BUFFER, budget, || pass(&mut state))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a digesting thread does not panic"))
            .sum()
    })
}

fn usage() -> ! {
    eprintln!("usage: md5_ceiling [--threads N] [--seconds S] [--engine scalar|portable|avx2|avx2-dual|avx512|all] [--streams N,N,...]");
    std::process::exit(2);
}

fn main() {
    let mut threads = 1usize;
    let mut seconds = 1f64;
    let mut engines: Option<(Vec<Engine>, bool)> = None;
    let mut counts: Option<Vec<usize>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = value.parse::<f64>().ok();
        match (arg.as_str(), number) {
            ("--threads", Some(n)) if n >= 1.0 && n.fract() == 0.0 => threads = n as usize,
            ("--seconds", Some(s)) if s > 0.0 => seconds = s,
            ("--streams", _) => {
                let parsed: Result<Vec<usize>, _> = value.split(',').map(str::parse).collect();
                match parsed {
                    Ok(list) if !list.is_empty() && !list.contains(&0) => counts = Some(list),
                    _ => usage(),
                }
            }
            ("--engine", _) if value == "all" => engines = Some((Engine::available(), true)),
            ("--engine", _) => match Engine::from_name(&value) {
                Ok(engine) => engines = Some((vec![engine], false)),
                Err(err) => {
                    let have: Vec<&str> = Engine::available().into_iter().map(Engine::id).collect();
                    eprintln!("md5_ceiling: {err}; this CPU has: {}", have.join(", "));
                    std::process::exit(2);
                }
            },
            _ => usage(),
        }
    }
    // Any bytes do: MD5 costs the same whatever the data.
    let data: Vec<u8> = (0..BUFFER as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect();
    let data = &data[..];
    let budget = Duration::from_secs_f64(seconds);
    let md5 = rate(threads, budget, || (), |_| md5_pass(data));
    let Some((engines, with_md5_many)) = engines else {
        eprintln!(
            "md5_ceiling: {threads} thread(s), {} KiB chunks: {:.0} MB/s in all, {:.0} MB/s per thread",
            DEFAULT_CHUNK / 1024,
            md5 / 1e6,
            md5 / 1e6 / threads as f64
        );
        println!("MBPS {:.0}", md5 / 1e6);
        return;
    };
    println!(
        "md5_ceiling: {threads} thread(s), {} KiB chunks, MB/s summed over the threads; engines known: {ENGINE_NAMES:?}",
        DEFAULT_CHUNK / 1024
    );
    println!(
        "{:<16} {:>7} {:>8} {:>8}",
        "engine", "streams", "MB/s", "x md-5"
    );
    let row = |name: &str, streams: usize, rate: f64| {
        println!(
            "{name:<16} {streams:>7} {:>8.0} {:>8.2}",
            rate / 1e6,
            rate / md5
        );
    };
    row("md-5", 1, md5);
    for engine in engines {
        let wanted = counts.clone().unwrap_or_else(|| vec![1, engine.lanes()]);
        for streams in wanted {
            let name = engine.name();
            check(
                &name,
                data,
                streams,
                engine_pass(&mut MultiMd5::new(engine), data, streams),
            );
            let rate = rate(
                threads,
                budget,
                || MultiMd5::new(engine),
                |md| {
                    black_box(engine_pass(md, data, streams));
                },
            );
            row(&name, streams, rate);
            if engine.lanes() == 1 && counts.is_none() {
                break;
            }
        }
    }
    if with_md5_many {
        for streams in [1, 8, 16] {
            check("md5-many", data, streams, md5_many_pass(data, streams));
            let rate = rate(
                threads,
                budget,
                || (),
                |_| {
                    black_box(md5_many_pass(data, streams));
                },
            );
            row("md5-many", streams, rate);
        }
    }
}
