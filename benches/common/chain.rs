//! The `chain` graph written every way the benches compare (see
//! `benches/chain.rs`).

use std::sync::mpsc::sync_channel;

use super::sq;
use pipeline::{pipeline, Pipeline, StageConfig};

/// `pipeline!`: every stage with the same buffer and batch.
pub fn with_macro(n: u64, buffer: usize, batch: usize) -> u64 {
    pipeline! {
        gen: source 0..n [buffer = buffer, batch = batch];
        sq:  map sq [buffer = buffer, batch = batch];
        sum: sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the chain runs")
}

/// `pipeline!` with no options: buffers of [`pipeline::DEFAULT_BUFFER`]
/// items, packets adaptive.
pub fn with_macro_default(n: u64) -> u64 {
    pipeline! {
        gen: source 0..n;
        sq:  map sq;
        sum: sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the chain runs")
}

/// The builder with no options.
pub fn with_builder_default(n: u64) -> u64 {
    Pipeline::new()
        .from_iter("gen", 0..n)
        .map("sq", sq)
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the chain runs")
}

/// The builder: what the macro expands to, written out.
pub fn with_builder(n: u64, buffer: usize, batch: usize) -> u64 {
    let cfg = |name: &str| StageConfig::new(name).buffer(buffer).batch(batch);
    Pipeline::new()
        .from_iter(cfg("gen"), 0..n)
        .map(cfg("sq"), sq)
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the chain runs")
}

/// Hand-wired on the framework's executor: a task per stage (the sink
/// too, as `Run::run` runs it), one item per message.
pub fn hand(n: u64, buffer: usize) -> u64 {
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
    pipeline::block_on(pipeline::spawn(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx2.recv().await {
            sum = sum.wrapping_add(v);
        }
        gen.await;
        work.await;
        sum
    }))
}

/// Hand-wired with `Vec`s of `batch` items per message, in channels of
/// as many packets as hold `buffer` items (the framework's buffer counts
/// items).
pub fn hand_batched(n: u64, buffer: usize, batch: usize) -> u64 {
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
    pipeline::block_on(pipeline::spawn(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx2.recv().await {
            sum = v.into_iter().fold(sum, u64::wrapping_add);
        }
        gen.await;
        work.await;
        sum
    }))
}

/// std threads joined by `sync_channel`s: the same graph without async.
pub fn std_threads(n: u64, buffer: usize) -> u64 {
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

/// Tasks on tokio's multi-threaded runtime and bounded `tokio::sync::mpsc`
/// channels: what a tokio user writes for the same graph.
pub fn tokio_mpsc(n: u64, buffer: usize) -> u64 {
    let rt = super::tokio_runtime();
    let (tx1, mut rx1) = tokio::sync::mpsc::channel(buffer);
    let (tx2, mut rx2) = tokio::sync::mpsc::channel(buffer);
    let gen = rt.spawn(async move {
        for i in 0..n {
            if tx1.send(i).await.is_err() {
                return;
            }
        }
    });
    let work = rt.spawn(async move {
        while let Some(i) = rx1.recv().await {
            if tx2.send(sq(i)).await.is_err() {
                return;
            }
        }
    });
    rt.block_on(async move {
        let sink = tokio::spawn(async move {
            let mut sum = 0u64;
            while let Some(v) = rx2.recv().await {
                sum = sum.wrapping_add(v);
            }
            sum
        });
        let sum = sink.await.expect("the sink ends");
        gen.await.expect("gen ends");
        work.await.expect("sq ends");
        sum
    })
}

/// A thread per stage and bounded `crossbeam-channel`s.
pub fn crossbeam(n: u64, buffer: usize) -> u64 {
    let (tx1, rx1) = crossbeam_channel::bounded(buffer);
    let (tx2, rx2) = crossbeam_channel::bounded(buffer);
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

variants!("chain", "linear");
