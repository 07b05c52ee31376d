//! Which of the standard descriptors 0–2 the process was started without.
//!
//! A user who runs `md5pipe DIR >&-` closed standard output; md5pipe must
//! then fail to write (`write error: Bad file descriptor`, exit 1) as
//! md5sum does, not print into whatever it opens next on descriptor 1, and
//! not open anything there itself. `md5pipe` therefore starts without
//! Rust's runtime start-up (which would reopen closed descriptors on
//! `/dev/null`), calls [`probe`] first, and every write to standard output
//! or standard error, and every read of standard input, asks
//! [`is_closed`] before touching the descriptor: once closed at start, a
//! descriptor number may later belong to a file being digested.

use std::sync::atomic::{AtomicU8, Ordering};

/// Bit `fd` set: descriptor `fd` was closed at start. Bit 7: probed.
static CLOSED: AtomicU8 = AtomicU8::new(0);
const PROBED: u8 = 1 << 7;

/// Records which of descriptors 0, 1 and 2 are closed now. Call it before
/// anything opens a descriptor; later calls change nothing.
pub fn probe() {
    let mut closed = PROBED;
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags; any number is
        // a valid argument (a closed one gives EBADF).
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            closed |= 1 << fd;
        }
    }
    let _ = CLOSED.compare_exchange(0, closed, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether descriptor `fd` (0, 1 or 2) was closed when [`probe`] ran;
/// false if it never ran (a library user's process).
pub fn is_closed(fd: i32) -> bool {
    (0..3).contains(&fd) && CLOSED.load(Ordering::SeqCst) & (1 << fd) != 0
}

/// Writes `bytes` to standard error unless it was closed at start; errors
/// are ignored (there is nowhere left to report them).
pub fn to_stderr(bytes: &[u8]) {
    use std::io::Write;
    if !is_closed(2) {
        let _ = std::io::stderr().lock().write_all(bytes);
    }
}
