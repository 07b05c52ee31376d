//! Standard output for whole lines, and a watch on it being closed.

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use pipeline::Cancel;

fn lock(buffer: &Mutex<Buffer>) -> MutexGuard<'_, Buffer> {
    buffer.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long written lines may wait in the buffer.
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
/// into the buffer whole or not at all, and the buffer is written out by a
/// flusher thread every [`FLUSH_EVERY`] (so a line reaches `head -1` while
/// a big file is still being read), at the end, and after each line on a
/// terminal. So whatever ends the run, stdout never holds half a line.
pub(crate) struct Lines {
    shared: Arc<Mutex<Buffer>>,
    terminal: bool,
    closed: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

struct Buffer {
    out: BufWriter<Stdout>,
    dirty: bool,
    /// The first write error, kept for the writer to see.
    error: Option<io::Error>,
}

impl Buffer {
    fn flush(&mut self) {
        if self.dirty && self.error.is_none() {
            self.dirty = false;
            if let Err(err) = self.out.flush() {
                self.error = Some(err);
            }
        }
    }
}

impl Lines {
    pub(crate) fn new() -> Lines {
        let stdout = io::stdout();
        let terminal = stdout.is_terminal();
        let shared = Arc::new(Mutex::new(Buffer {
            out: BufWriter::with_capacity(64 * 1024, stdout),
            dirty: false,
            error: None,
        }));
        let (stop, stopped) = mpsc::channel::<()>();
        let buffer = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("md5pipe-flush".into())
            .spawn(move || {
                while stopped.recv_timeout(FLUSH_EVERY) == Err(RecvTimeoutError::Timeout) {
                    lock(&buffer).flush();
                }
            })
            .ok();
        Lines {
            shared,
            terminal,
            closed: Arc::new(AtomicBool::new(false)),
            stop: Some(stop),
            flusher,
        }
    }

    /// Writes one whole line.
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<(), WriteFailed> {
        let mut buffer = lock(&self.shared);
        if buffer.error.is_none() {
            if let Err(err) = buffer.out.write_all(line) {
                buffer.error = Some(err);
            }
            buffer.dirty = true;
            if self.terminal {
                buffer.flush();
            }
        }
        match buffer.error.take() {
            Some(err) => Err(self.failed(err)),
            None => Ok(()),
        }
    }

    /// Stops the flusher and writes out what is buffered.
    pub(crate) fn flush(&mut self) -> Result<(), WriteFailed> {
        drop(self.stop.take());
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        let mut buffer = lock(&self.shared);
        buffer.dirty = true;
        buffer.flush();
        match buffer.error.take() {
            Some(err) => Err(self.failed(err)),
            None => Ok(()),
        }
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
