//! SIGINT, SIGTERM and SIGHUP, turned into a cancel of the running
//! pipeline, and an exit that does not wait for a run stuck where no
//! cancel reaches (a write to a full pipe nobody reads).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline::Cancel;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long a cancelled run may take to wind down after a signal before
/// the process ends without it. A run ends within one chunk's work of a
/// cancel; only a thread blocked in a system call no cancel can reach
/// (writing to a full pipe) outlasts this. Output is written in whole
/// lines of at most `PIPE_BUF` bytes, so ending then leaves no half line.
const GRACE: Duration = Duration::from_millis(400);

/// Whether `signal` is ignored now (inherited so: a script's background
/// job starts with SIGINT ignored, and md5sum leaves it so).
fn ignored(signal: i32) -> bool {
    // SAFETY: all-zero bytes are a valid `sigaction`; with a null new
    // action, sigaction only writes the current one into `old`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `old` outlives the call.
    let got = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    got == 0 && old.sa_sigaction == libc::SIG_IGN
}

#[derive(Default)]
struct Inner {
    /// The first signal received, 0 before.
    received: AtomicI32,
    /// The runs to cancel when one arrives.
    runs: Mutex<Vec<Cancel>>,
}

/// Watches SIGINT, SIGTERM and SIGHUP from a thread of its own: the first
/// one cancels every run handed to [`watch`](Self::watch) (also a run
/// handed over after the signal came), through the run's close-to-cancel
/// signal. The process then ends as the runs do: promptly, with whole
/// lines; if it has not ended 400 ms later, it ends at once with the
/// signal's status. A signal ignored when the
/// process started stays ignored.
#[derive(Clone)]
pub struct Interrupts {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("received", &self.received())
            .finish()
    }
}

/// Ends the process at once: no destructor, no flush of anything a
/// blocked thread may hold.
fn exit_now(status: i32) -> ! {
    // SAFETY: _exit has no preconditions; it does not return.
    unsafe { libc::_exit(status) }
}

impl Interrupts {
    /// Installs the handlers (replacing the default action, which would end
    /// the process at once) and starts the watching thread.
    ///
    /// # Errors
    ///
    /// The OS refused to install a handler or to start the thread.
    pub fn install() -> std::io::Result<Interrupts> {
        let wanted: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|&s| !ignored(s))
            .collect();
        let mut signals = Signals::new(wanted)?;
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        std::thread::Builder::new()
            .name("md5pipe-signals".into())
            .stack_size(super::SMALL_STACK)
            .spawn(move || {
                let Some(signal) = signals.forever().next() else {
                    return;
                };
                shared.received.store(signal, Ordering::SeqCst);
                for run in shared.runs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                    run.cancel();
                }
                // The runs end within one chunk's work and the process
                // with them; if it is still here, something is stuck where
                // no cancel reaches. No new thread for this wait: under
                // `ulimit -v` none may start.
                std::thread::sleep(GRACE);
                exit_now(128 + signal);
            })?;
        Ok(Interrupts { inner })
    }

    /// Cancels `run` when a signal comes (at once if one already came).
    pub fn watch(&self, run: Cancel) {
        let mut runs = self.inner.runs.lock().unwrap_or_else(|p| p.into_inner());
        if self.received().is_some() {
            run.cancel();
        }
        runs.push(run);
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.inner.received.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// The exit status for the signal received: 128 + its number (130 for
    /// SIGINT, 143 for SIGTERM, 129 for SIGHUP).
    pub fn exit_status(&self) -> Option<i32> {
        self.received().map(|s| 128 + s)
    }
}
