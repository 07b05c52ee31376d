//! Explicit cancellation with `pipeline!`, the article's `done` channel:
//! another thread closes the run's cancel signal, every stage stops at its
//! next send or receive, and the run returns `Error::Cancelled` with no
//! task left running.
//!
//! Run it with `cargo run --example macro_cancel`.

use std::sync::mpsc;

use pipeline::{pipeline, Error};

/// The article's `sq` stage function.
fn sq(n: u64) -> u64 {
    n * n
}

fn main() {
    let (seen_tx, seen) = mpsc::channel();
    let run = pipeline! {
        gen:   source 0u64..;                       // never ends by itself
        sq:    map sq [workers = 4, buffer = 1];
        print: sink for_each(move |n| {
            println!("{n}");
            let _ = seen_tx.send(());
        });
    };
    let (done, live) = (run.cancel_signal(), run.live_tasks());

    // Someone else decides to stop: here, after the first three squares.
    let canceller = std::thread::spawn(move || {
        for _ in 0..3 {
            if seen.recv().is_err() {
                return;
            }
        }
        done.cancel();
    });

    let result = run.run();
    let _ = canceller.join();
    match result {
        Err(Error::Cancelled) => println!("cancelled from outside"),
        other => println!("unexpected: {other:?}"),
    }
    println!("live tasks after the run: {}", live.get());
}
