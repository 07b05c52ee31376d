//! Reading check lists and standard input so that nothing blocks a
//! cancelled run: a list that is a pipe, a FIFO or a terminal is only read
//! once `poll` says a read will not wait, and the run's cancel signal is
//! asked in between (at least every [`POLL_EVERY`]). A FIFO is opened
//! without blocking, so a list nobody writes to does not hold the run in
//! `open` either.
//!
//! Lines are bounded: a line longer than [`MAX_LINE`] ends the list, as it
//! ends the list for md5sum when its line buffer can grow no more (`md5sum
//! -c /dev/zero` under a memory limit says `no properly formatted checksum
//! lines found`); memory stays at one bounded line whatever the list holds.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use pipeline::Cancel;

/// The longest line a list may have: far more than any line naming a file
/// the system can open (a name is at most `PATH_MAX` bytes, 4096, twice
/// that escaped).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// How often a wait for input looks at the cancel signal.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(50);

/// How much is read at a time.
const READ_SIZE: usize = 64 * 1024;

/// Why a read gave nothing.
#[derive(Debug)]
pub(crate) enum ReadFailed {
    /// The run was cancelled while waiting or between reads.
    Cancelled,
    /// The OS refused the read.
    Io(io::Error),
}

/// A descriptor read without ever waiting past a cancel.
pub(crate) struct CancellableFd {
    /// Kept open for as long as it is read; `None` for standard input.
    _file: Option<File>,
    fd: RawFd,
    /// Whether reads must wait for `poll`: anything but a regular file.
    poll: bool,
    /// Standard input was closed when the process started
    /// ([`crate::stdio::is_closed`]): descriptor 0 may now be anything
    /// md5pipe opened since (its signal watcher's socket), so it is never
    /// read and every read fails with `EBADF`, as md5sum's does.
    closed: bool,
    cancel: Cancel,
}

impl CancellableFd {
    /// Standard input, as it is.
    pub(crate) fn stdin(cancel: Cancel) -> CancellableFd {
        let fd = libc::STDIN_FILENO;
        let closed = crate::stdio::is_closed(fd);
        CancellableFd {
            _file: None,
            fd,
            poll: !closed && !fd_is_regular(fd),
            closed,
            cancel,
        }
    }

    /// Opens `name` for reading without blocking (a FIFO with no writer
    /// yet does not hold the run in `open`).
    ///
    /// # Errors
    ///
    /// The OS refused the open or the `fstat`.
    pub(crate) fn open(name: &[u8], cancel: Cancel) -> io::Result<CancellableFd> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(OsStr::from_bytes(name))?;
        let poll = !file.metadata()?.file_type().is_file();
        Ok(CancellableFd {
            fd: file.as_raw_fd(),
            _file: Some(file),
            poll,
            closed: false,
            cancel,
        })
    }

    /// Reads into `buf` once input is there; `Ok(0)` at the end. Retries
    /// interrupted calls, but only after asking the cancel signal.
    ///
    /// # Errors
    ///
    /// [`ReadFailed::Cancelled`] once the run is cancelled,
    /// [`ReadFailed::Io`] if the read fails.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, ReadFailed> {
        loop {
            if self.cancel.is_cancelled() {
                return Err(ReadFailed::Cancelled);
            }
            if self.closed {
                return Err(ReadFailed::Io(io::Error::from_raw_os_error(libc::EBADF)));
            }
            if self.poll && !self.wait_readable()? {
                continue;
            }
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the
            // whole call; `fd` is open (owned by `_file`, or stdin that was
            // open at start).
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock if self.poll => {}
                _ => return Err(ReadFailed::Io(err)),
            }
        }
    }

    /// Whether a read now would wait for input: a pipe or a terminal
    /// with nothing in it yet (never a regular file).
    pub(crate) fn would_wait(&self) -> bool {
        if !self.poll {
            return false;
        }
        let mut fds = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `fds` is one valid pollfd that outlives the call.
        let ready = unsafe { libc::poll(&mut fds, 1, 0) };
        ready == 0
    }

    /// Waits up to [`POLL_EVERY`] for input (or its end); whether it came.
    fn wait_readable(&self) -> Result<bool, ReadFailed> {
        let mut fds = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = POLL_EVERY.as_millis() as libc::c_int;
        // SAFETY: `fds` is one valid pollfd that outlives the call.
        let ready = unsafe { libc::poll(&mut fds, 1, timeout) };
        if ready > 0 {
            return Ok(true);
        }
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(ReadFailed::Io(err));
            }
        }
        Ok(false)
    }
}

/// Adapts a [`CancellableFd`] to `Read` for the digester: a cancel shows
/// as an error of kind `Other` (never `Interrupted`, which readers retry).
impl io::Read for CancellableFd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match CancellableFd::read(self, buf) {
            Ok(n) => Ok(n),
            Err(ReadFailed::Io(err)) => Err(err),
            Err(ReadFailed::Cancelled) => Err(io::Error::other("cancelled")),
        }
    }
}

fn fd_is_regular(fd: RawFd) -> bool {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid `stat` to write into; a bad `fd` only makes
    // the call fail.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    ok && st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// One line of a list, or why there is none.
#[derive(Debug)]
pub(crate) enum Next<'a> {
    /// A line without its delimiter.
    Line(&'a [u8]),
    /// No whole line is buffered: call [`Lines::fill`] (which may wait).
    NeedInput,
    /// The list ended (also at a line longer than [`MAX_LINE`]).
    End,
}

/// Splits what a [`CancellableFd`] yields into lines ending at `delim`,
/// each at most [`MAX_LINE`] bytes, with one buffer for the whole list.
pub(crate) struct Lines {
    src: CancellableFd,
    delim: u8,
    buf: Vec<u8>,
    /// Where the next line starts.
    start: usize,
    /// Up to where the bytes after `start` hold no delimiter.
    scanned: usize,
    /// Where the bytes read end.
    end: usize,
    eof: bool,
    /// The buffer could not grow to hold the line being read: the list
    /// ends there.
    stuck: bool,
}

impl Lines {
    /// Lines of `src`, ending at `delim`.
    pub(crate) fn new(src: CancellableFd, delim: u8) -> Lines {
        Lines {
            src,
            delim,
            buf: vec![0; READ_SIZE],
            start: 0,
            scanned: 0,
            end: 0,
            eof: false,
            stuck: false,
        }
    }

    /// The next line from what is buffered; never reads.
    pub(crate) fn next_line(&mut self) -> Next<'_> {
        if let Some(at) = memchr(self.delim, &self.buf[self.scanned..self.end]) {
            let line = self.start..self.scanned + at;
            self.start = line.end + 1;
            self.scanned = self.start;
            return Next::Line(&self.buf[line]);
        }
        self.scanned = self.end;
        if self.end - self.start > MAX_LINE || self.stuck {
            return Next::End;
        }
        if !self.eof {
            return Next::NeedInput;
        }
        if self.start == self.end {
            return Next::End;
        }
        let line = self.start..self.end;
        self.start = self.end;
        self.scanned = self.end;
        Next::Line(&self.buf[line])
    }

    /// Whether [`fill`](Self::fill) would wait for input now.
    pub(crate) fn would_wait(&self) -> bool {
        !self.eof && !self.stuck && self.src.would_wait()
    }

    /// Reads more of the list (waiting for it if need be).
    ///
    /// # Errors
    ///
    /// As [`CancellableFd::read`].
    pub(crate) fn fill(&mut self) -> Result<(), ReadFailed> {
        let shift = self.make_room();
        self.scanned -= shift;
        if self.stuck {
            return Ok(());
        }
        let n = self.src.read(&mut self.buf[self.end..])?;
        self.end += n;
        self.eof = n == 0;
        Ok(())
    }
}

impl Lines {
    /// Moves the partial line to the front of the buffer and makes sure a
    /// read has room; returns how far the bytes moved.
    fn make_room(&mut self) -> usize {
        let shift = self.start;
        if shift > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= shift;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_SIZE / 2 {
            let len = (self.buf.len() * 2).min(MAX_LINE + READ_SIZE + 1);
            let len = len.max(self.end + READ_SIZE);
            // A buffer that cannot grow ends the list at this line, as
            // md5sum's does (its `-c /dev/zero` under a memory limit says
            // `no properly formatted checksum lines found`), instead of
            // aborting the process.
            if self.buf.try_reserve_exact(len - self.buf.len()).is_err() {
                self.stuck = true;
            } else {
                self.buf.resize(len, 0);
            }
        }
        shift
    }
}

/// Where `byte` first occurs in `haystack`.
fn memchr(byte: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == byte)
}
