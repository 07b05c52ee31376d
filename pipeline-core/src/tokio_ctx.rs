//! With the `tokio` feature, stage functions run inside a tokio runtime
//! context, so `tokio::time`, `tokio::net`, `tokio::fs` and the libraries
//! built on them (reqwest, tonic, sqlx...) work in a stage unchanged.
//!
//! How: every thread that runs stage functions (the executor's threads,
//! the threads standing in for one that blocks, and the blocking pool's)
//! enters the handle of one tokio runtime for as long as it lives. The
//! runtime is the runtime's own, started on first use with one worker
//! thread and every driver (timers, I/O), and never shut down: the drivers
//! run on that thread and wake our tasks through their wakers, so a timer
//! or a socket awaited in a stage completes wherever the stage runs. This
//! is what the `async-compat` crate does around every poll; entering once
//! per thread costs nothing per poll. A runtime borrowed from the caller
//! (`Handle::current()` at first use) would die with the caller's
//! `#[tokio::main]` or test while later runs still used it.

use std::sync::OnceLock;

/// The handle every stage thread enters, or `None` when the runtime could
/// not start (no thread, memory or descriptor left for its driver:
/// `ulimit -n`, `-u`, `-v`). Then no thread enters a context, the run goes on as
/// without the feature, and a stage that uses tokio fails with tokio's
/// own "no reactor running" panic, which the run reports as that stage's
/// error, rather than every executor thread dying at start.
fn handle() -> Option<&'static tokio::runtime::Handle> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            // tokio returns an error when its driver cannot start, but
            // panics when the OS refuses its worker thread ("OS can't
            // spawn worker thread"): both mean no context.
            std::panic::catch_unwind(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("pipeline-tokio")
                    .enable_all()
                    .build()
                    .ok()
            })
            .ok()
            .flatten()
        })
        .as_ref()
        .map(|runtime| runtime.handle())
}

/// Enters the tokio context on this thread for as long as it lives.
///
/// The guard is forgotten, not kept in a thread-local: a kept guard would
/// be dropped by the thread-local destructors at thread exit, after
/// tokio's own context may already be gone (a panic, "cannot access a
/// Thread Local Storage value during or after destruction"). Forgotten,
/// the context stays set until the thread ends and tokio's destructor
/// releases the handle it holds. Guards entered later on this thread (a
/// stage that enters another runtime) nest above it and drop in order.
pub(crate) fn enter_for_good() {
    thread_local! {
        static ENTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !ENTERED.get() {
        if let Some(handle) = handle() {
            std::mem::forget(handle.enter());
        }
        ENTERED.set(true);
    }
}
