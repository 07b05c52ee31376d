//! Explicit cancellation from outside, with the builder: another thread
//! closes the run's `done` signal; every stage stops at its next send or
//! receive (or chunk), the run returns `Error::Cancelled`, and no task is
//! left behind.
//!
//!     cargo run --example cancel

use std::sync::mpsc;

use pipeline::{Cancel, Error, Pipeline, StageConfig};

fn main() {
    let p = Pipeline::new();
    let done: Cancel = p.cancel_signal();
    let live = p.live_tasks();
    let (seen_tx, seen_rx) = mpsc::channel();

    let run = p
        .from_iter("gen", 0u64..) // would run forever
        .map(StageConfig::new("sq").workers(4), |n| n.wrapping_mul(n))
        .for_each(move |n| {
            let _ = seen_tx.send(n);
        });
    let worker = std::thread::spawn(move || run.run());

    // Let a thousand items through, then close `done`.
    let first: Vec<u64> = seen_rx.iter().take(1000).collect();
    done.cancel();
    let result = worker.join().expect("the run does not panic");

    println!("received {} items before the cancel", first.len());
    match result {
        Err(Error::Cancelled) => println!("run ended: cancelled"),
        other => println!("run ended: {other:?}"),
    }
    println!("live tasks: {}", live.get());
    assert_eq!(live.get(), 0);
}
