//! SIGINT and SIGTERM, turned into a cancel of the running pipeline.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use pipeline::Cancel;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Default)]
struct Inner {
    /// The first signal received, 0 before.
    received: AtomicI32,
    /// The runs to cancel when one arrives.
    runs: Mutex<Vec<Cancel>>,
}

/// Watches SIGINT and SIGTERM from a thread of its own: the first one
/// cancels every run handed to [`watch`](Self::watch) (also a run handed
/// over after the signal came), through the run's close-to-cancel signal.
/// The process then ends as the runs do: promptly, with whole lines. A
/// second signal ends the process at once, with the first one's status.
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

impl Interrupts {
    /// Installs the handlers (replacing the default action, which would end
    /// the process at once) and starts the watching thread.
    ///
    /// # Errors
    ///
    /// The OS refused to install a handler or to start the thread.
    pub fn install() -> std::io::Result<Interrupts> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        std::thread::Builder::new()
            .name("md5pipe-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let first = shared.received.compare_exchange(
                        0,
                        signal,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                    if let Err(code) = first {
                        // Asked twice: the user does not want to wait for
                        // the run to wind down.
                        std::process::exit(128 + code);
                    }
                    for run in shared.runs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        run.cancel();
                    }
                }
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
    /// SIGINT, 143 for SIGTERM).
    pub fn exit_status(&self) -> Option<i32> {
        self.received().map(|s| 128 + s)
    }
}
