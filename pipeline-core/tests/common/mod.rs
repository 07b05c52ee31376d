//! What several test files share: the watchdog that turns a hang into a
//! failure (never a timing assertion: a run that ends passes however long
//! it took, short of a bound only a broken runtime would exceed).

use std::fmt::Display;
use std::sync::mpsc;
use std::time::Duration;

/// Upper bound on any wait that only a broken runtime would exceed.
pub const GUARD: Duration = Duration::from_secs(60);

/// Runs `f` on a thread and returns its value; panics naming `what` if it
/// has not returned within [`GUARD`] (a hang) or panicked.
pub fn watchdog<R: Send + 'static>(
    what: impl Display,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(GUARD)
        .unwrap_or_else(|_| panic!("{what}: hung, or panicked"))
}
