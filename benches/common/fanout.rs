//! The `fanout` graph written every way the benches compare (see
//! `benches/fanout.rs`).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use super::sq;
use pipeline::{pipeline, Pipeline, StageConfig};

/// `pipeline!`: every stage (and the merge) with the same buffer and
/// batch.
pub fn with_macro(n: u64, buffer: usize, batch: usize) -> u64 {
    pipeline! {
        gen:  source 0..n [buffer = buffer, batch = batch];
        sq1:  map sq from gen [buffer = buffer, batch = batch];
        sq2:  map sq from gen [buffer = buffer, batch = batch];
        both: merge sq1, sq2 [buffer = buffer, batch = batch];
        sum:  sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the fan-out runs")
}

/// `pipeline!` with no options: buffers of [`pipeline::DEFAULT_BUFFER`]
/// items, packets adaptive.
pub fn with_macro_default(n: u64) -> u64 {
    pipeline! {
        gen:  source 0..n;
        sq1:  map sq from gen;
        sq2:  map sq from gen;
        both: merge sq1, sq2;
        sum:  sink fold(0u64, u64::wrapping_add);
    }
    .run()
    .expect("the fan-out runs")
}

/// The builder with no options.
pub fn with_builder_default(n: u64) -> u64 {
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..n);
    let sq1 = gen.clone().map("sq1", sq);
    let sq2 = gen.map("sq2", sq);
    p.merge("both", [sq1, sq2])
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the fan-out runs")
}

/// The builder: what the macro expands to, written out.
pub fn with_builder(n: u64, buffer: usize, batch: usize) -> u64 {
    let cfg = |name: &str| StageConfig::new(name).buffer(buffer).batch(batch);
    let p = Pipeline::new();
    let gen = p.from_iter(cfg("gen"), 0..n);
    let sq1 = gen.clone().map(cfg("sq1"), sq);
    let sq2 = gen.map(cfg("sq2"), sq);
    p.merge(cfg("both"), [sq1, sq2])
        .fold(0u64, u64::wrapping_add)
        .run()
        .expect("the fan-out runs")
}

/// Hand-wired on the framework's executor: `gen`, two `work` tasks sharing
/// its receiver, one forwarder per work output into the merged channel, and
/// the sink (a task too, as `Run::run` runs it). A message is one `u64`,
/// or a `Vec` of them when batched.
pub fn hand_wired<T, G, Fut>(
    buffer: usize,
    gen: G,
    work: fn(T) -> T,
    fold: fn(u64, T) -> u64,
) -> u64
where
    T: Send + 'static,
    G: FnOnce(async_channel::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx0, rx0) = async_channel::bounded(buffer);
    let (txm, rxm) = async_channel::bounded(buffer);
    let mut tasks = vec![pipeline::spawn(gen(tx0))];
    for _ in 0..2 {
        let (tx, rx) = async_channel::bounded(buffer);
        let input = rx0.clone();
        tasks.push(pipeline::spawn(async move {
            while let Ok(v) = input.recv().await {
                if tx.send(work(v)).await.is_err() {
                    return;
                }
            }
        }));
        let out = txm.clone();
        tasks.push(pipeline::spawn(async move {
            while let Ok(v) = rx.recv().await {
                if out.send(v).await.is_err() {
                    return;
                }
            }
        }));
    }
    drop((rx0, txm));
    pipeline::block_on(pipeline::spawn(async move {
        let mut sum = 0u64;
        while let Ok(v) = rxm.recv().await {
            sum = fold(sum, v);
        }
        for t in tasks {
            t.await;
        }
        sum
    }))
}

/// Hand-wired, one item per message.
pub fn hand(n: u64, buffer: usize) -> u64 {
    hand_wired(
        buffer,
        move |tx| async move {
            for i in 0..n {
                if tx.send(i).await.is_err() {
                    return;
                }
            }
        },
        sq,
        u64::wrapping_add,
    )
}

/// Hand-wired, `Vec`s of `batch` items per message.
pub fn hand_batched(n: u64, buffer: usize, batch: usize) -> u64 {
    hand_wired(
        // The framework's buffer counts items: as many packets as hold it.
        buffer.div_ceil(batch),
        move |tx| async move {
            let mut i = 0;
            while i < n {
                let end = (i + batch as u64).min(n);
                if tx.send((i..end).collect::<Vec<u64>>()).await.is_err() {
                    return;
                }
                i = end;
            }
        },
        |v| v.into_iter().map(sq).collect(),
        |sum, v| v.into_iter().fold(sum, u64::wrapping_add),
    )
}

/// std threads and `sync_channel`s; the two `sq` threads share gen's
/// receiver behind a mutex, as std's single-consumer channel requires.
pub fn std_threads(n: u64, buffer: usize) -> u64 {
    let (tx0, rx0) = sync_channel(buffer);
    let rx0 = Arc::new(Mutex::new(rx0));
    let (txm, rxm) = sync_channel(buffer);
    let mut threads = vec![std::thread::spawn(move || {
        for i in 0..n {
            if tx0.send(i).is_err() {
                return;
            }
        }
    })];
    for _ in 0..2 {
        let (tx, rx): (SyncSender<u64>, Receiver<u64>) = sync_channel(buffer);
        let input = rx0.clone();
        threads.push(std::thread::spawn(move || loop {
            let next = input.lock().expect("no sq thread panics").recv();
            let Ok(i) = next else { return };
            if tx.send(sq(i)).is_err() {
                return;
            }
        }));
        let out = txm.clone();
        threads.push(std::thread::spawn(move || {
            for v in rx {
                if out.send(v).is_err() {
                    return;
                }
            }
        }));
    }
    drop(txm);
    let sum = rxm.into_iter().fold(0u64, u64::wrapping_add);
    for t in threads {
        t.join().expect("every thread ends");
    }
    sum
}

/// Tasks on tokio's multi-threaded runtime and bounded `tokio::sync::mpsc`
/// channels, as a tokio user writes the fan-out: the two `sq` tasks share
/// gen's receiver behind tokio's mutex (mpsc has one consumer) and send
/// into one merged channel through clones of its sender.
pub fn tokio_mpsc(n: u64, buffer: usize) -> u64 {
    let rt = super::tokio_runtime();
    let (tx0, rx0) = tokio::sync::mpsc::channel(buffer);
    let rx0 = Arc::new(tokio::sync::Mutex::new(rx0));
    let (txm, mut rxm) = tokio::sync::mpsc::channel(buffer);
    let mut tasks = vec![rt.spawn(async move {
        for i in 0..n {
            if tx0.send(i).await.is_err() {
                return;
            }
        }
    })];
    for _ in 0..2 {
        let input = rx0.clone();
        let out = txm.clone();
        tasks.push(rt.spawn(async move {
            loop {
                let next = input.lock().await.recv().await;
                let Some(i) = next else { return };
                if out.send(sq(i)).await.is_err() {
                    return;
                }
            }
        }));
    }
    drop(txm);
    rt.block_on(async move {
        let sink = tokio::spawn(async move {
            let mut sum = 0u64;
            while let Some(v) = rxm.recv().await {
                sum = sum.wrapping_add(v);
            }
            sum
        });
        let sum = sink.await.expect("the sink ends");
        for t in tasks {
            t.await.expect("every task ends");
        }
        sum
    })
}

/// A thread per stage and bounded `crossbeam-channel`s: the two `sq`
/// threads share gen's receiver (crossbeam's channels have many
/// consumers) and send into one merged channel.
pub fn crossbeam(n: u64, buffer: usize) -> u64 {
    let (tx0, rx0) = crossbeam_channel::bounded(buffer);
    let (txm, rxm) = crossbeam_channel::bounded(buffer);
    let mut threads = vec![std::thread::spawn(move || {
        for i in 0..n {
            if tx0.send(i).is_err() {
                return;
            }
        }
    })];
    for _ in 0..2 {
        let (input, out) = (rx0.clone(), txm.clone());
        threads.push(std::thread::spawn(move || {
            for i in input {
                if out.send(sq(i)).is_err() {
                    return;
                }
            }
        }));
    }
    drop((rx0, txm));
    let sum = rxm.into_iter().fold(0u64, u64::wrapping_add);
    for t in threads {
        t.join().expect("every thread ends");
    }
    sum
}

variants!("fanout", "fanout");
