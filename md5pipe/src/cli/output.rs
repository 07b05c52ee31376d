//! Standard output for whole lines, and a watch on it being closed.

use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, BorrowedFd};
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
/// terminal. Each `write` holds whole lines and, where lines allow, at
/// most `PIPE_BUF` bytes, which a pipe takes all at once or not at all:
/// whatever ends the run, even while blocked on a full pipe, stdout never
/// holds half a line.
///
/// A write error is kept: the call that meets it returns it, once; later
/// lines are dropped. Standard output closed at start ([`pipeline_md5::stdio`])
/// fails the first line with `EBADF`, as md5sum's writes do.
pub(crate) struct Lines {
    shared: Arc<Mutex<Buffer>>,
    terminal: bool,
    closed: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

/// Bytes buffered before they are written out.
const CAPACITY: usize = 64 * 1024;

struct Buffer {
    bytes: Vec<u8>,
    /// Where each buffered line ends.
    ends: Vec<usize>,
    /// The first write error.
    error: Option<io::Error>,
    /// Whether it was handed to a caller.
    reported: bool,
}

impl Buffer {
    fn push(&mut self, line: &[u8]) {
        if self.error.is_none() {
            self.bytes.extend_from_slice(line);
            self.ends.push(self.bytes.len());
            if self.bytes.len() >= CAPACITY {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() && !self.bytes.is_empty() {
            if let Err(err) = write_lines(&self.bytes, &self.ends) {
                self.error = Some(err);
            }
        }
        self.bytes.clear();
        self.ends.clear();
    }

    /// The error, the first time it is asked for.
    fn take_error(&mut self) -> Option<io::Error> {
        if self.reported {
            return None;
        }
        let err = self.error.as_ref().map(pipeline_md5::walk::clone_io)?;
        self.reported = true;
        Some(err)
    }
}

/// Writes `bytes`, lines ending at `ends`, to descriptor 1, each `write`
/// whole lines of at most `PIPE_BUF` bytes (or one longer line).
fn write_lines(bytes: &[u8], ends: &[usize]) -> io::Result<()> {
    if pipeline_md5::stdio::is_closed(1) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: descriptor 1 was open at start (checked above) and nothing
    // in md5pipe closes it; it is only borrowed for these writes.
    let stdout = unsafe { BorrowedFd::borrow_raw(1) };
    let (mut start, mut i) = (0, 0);
    while i < ends.len() {
        let mut j = i;
        while j + 1 < ends.len() && ends[j + 1] - start <= libc::PIPE_BUF {
            j += 1;
        }
        let mut piece = &bytes[start..ends[j]];
        while !piece.is_empty() {
            match rustix::io::write(stdout, piece) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => piece = &piece[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(err) => return Err(err.into()),
            }
        }
        start = ends[j];
        i = j + 1;
    }
    Ok(())
}

impl Lines {
    pub(crate) fn new() -> Lines {
        let terminal = !pipeline_md5::stdio::is_closed(1) && io::stdout().is_terminal();
        let shared = Arc::new(Mutex::new(Buffer {
            bytes: Vec::new(),
            ends: Vec::new(),
            error: None,
            reported: false,
        }));
        let (stop, stopped) = mpsc::channel::<()>();
        let buffer = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("md5pipe-flush".into())
            .stack_size(crate::cli::SMALL_STACK)
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
        buffer.push(line);
        if self.terminal {
            buffer.flush();
        }
        match buffer.take_error() {
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
        buffer.flush();
        match buffer.take_error() {
            Some(err) => Err(self.failed(err)),
            None => Ok(()),
        }
    }

    fn failed(&self, err: io::Error) -> WriteFailed {
        if err.kind() == io::ErrorKind::BrokenPipe || self.is_closed() {
            self.closed.store(true, Ordering::SeqCst);
            WriteFailed::Closed
        } else {
            WriteFailed::Other(pipeline_md5::walk::io_reason(&err))
        }
    }

    /// Whether the reader of stdout is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A flag that reads as [`is_closed`](Self::is_closed) does, for code
    /// that cannot borrow these lines while it holds the flag.
    pub(crate) fn closed_flag(&self) -> Arc<AtomicBool> {
        self.closed.clone()
    }

    /// Cancels `run` as soon as the reader of stdout goes away, even while
    /// nothing is being written (a pipe's reader closing shows as an error
    /// condition on its write end). A thread waits for it; on anything but
    /// a pipe or socket it waits forever, harmlessly, until the process ends.
    pub(crate) fn cancel_when_closed(&self, run: Cancel) {
        if pipeline_md5::stdio::is_closed(1) {
            return;
        }
        let closed = self.closed.clone();
        let fd = io::stdout().as_raw_fd();
        let _ = std::thread::Builder::new()
            .name("md5pipe-stdout".into())
            .stack_size(crate::cli::SMALL_STACK)
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
