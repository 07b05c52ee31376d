//! Standard output for whole lines, and a watch on it being closed.

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline::Cancel;

/// How long written lines may wait in the buffer while more come.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Why a line could not be written.
#[derive(Debug)]
pub(crate) enum WriteFailed {
    /// The reader went away (`md5pipe | head -1`).
    Closed,
    /// Any other write error, as md5sum words it.
    Other(String),
}

/// Standard output, buffered, written only in whole lines: a line goes
/// into the buffer whole or not at all, and the buffer is flushed every
/// [`FLUSH_EVERY`], at the end, and after each line on a terminal. So
/// whatever ends the run, stdout never holds half a line.
pub(crate) struct Lines {
    out: BufWriter<Stdout>,
    terminal: bool,
    last_flush: Instant,
    closed: Arc<AtomicBool>,
}

impl Lines {
    pub(crate) fn new() -> Lines {
        let stdout = io::stdout();
        Lines {
            terminal: stdout.is_terminal(),
            out: BufWriter::with_capacity(64 * 1024, stdout),
            last_flush: Instant::now(),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Writes one whole line.
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<(), WriteFailed> {
        self.out.write_all(line).map_err(|e| self.failed(e))?;
        if self.terminal || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out what is buffered.
    pub(crate) fn flush(&mut self) -> Result<(), WriteFailed> {
        self.last_flush = Instant::now();
        self.out.flush().map_err(|e| self.failed(e))
    }

    fn failed(&self, err: io::Error) -> WriteFailed {
        if err.kind() == io::ErrorKind::BrokenPipe || self.is_closed() {
            self.closed.store(true, Ordering::SeqCst);
            WriteFailed::Closed
        } else {
            WriteFailed::Other(crate::walk::io_reason(&err))
        }
    }

    /// Whether the reader of stdout is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Cancels `run` as soon as the reader of stdout goes away, even while
    /// nothing is being written (a pipe's reader closing shows as an error
    /// condition on its write end). A thread waits for it; on anything but
    /// a pipe or socket it waits forever, harmlessly, until the process ends.
    pub(crate) fn cancel_when_closed(&self, run: Cancel) {
        let closed = self.closed.clone();
        let fd = io::stdout().as_raw_fd();
        let _ = std::thread::Builder::new()
            .name("md5pipe-stdout".into())
            .spawn(move || loop {
                let mut fds = libc::pollfd {
                    fd,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: `fds` is one valid pollfd that outlives the call;
                // stdout stays open for the life of the process.
                let ready = unsafe { libc::poll(&mut fds, 1, -1) };
                if ready > 0 && fds.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                    closed.store(true, Ordering::SeqCst);
                    run.cancel();
                    return;
                }
                if ready > 0
                    || (ready < 0
                        && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted)
                {
                    return; // POLLNVAL or a poll error: nothing to watch.
                }
            });
    }
}
