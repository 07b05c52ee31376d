//! Digesting one file: in chunks, cancellable between chunks, and never
//! blocking on a file that turned out not to be regular.
//!
//! The walk only yields regular files, but a file can be swapped for a FIFO
//! between the walk and the open. So the file is opened with `O_NONBLOCK`
//! (opening a FIFO for reading then returns at once instead of waiting for a
//! writer) and the *opened* file's type is checked with `fstat`; anything but
//! a regular file is [`DigestError::NotRegular`], which callers skip. Reads of
//! a regular file ignore `O_NONBLOCK`.
//!
//! These functions block; call them from a blocking worker.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::algorithm::{Algorithm, Hash};
use crate::descriptors::LaneFile;
use crate::walk::{clone_io, io_reason, Entry};

/// The chunk size `md5pipe` reads with unless told otherwise: 64 KiB.
pub const DEFAULT_CHUNK: usize = 64 * 1024;

/// A file's digest, and how many bytes it was taken over (the bytes read,
/// which is the file's size unless it changed while it was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sum {
    /// The digest of the bytes read.
    pub hash: Hash,
    /// How many bytes were read.
    pub size: u64,
}

/// Why a file has no digest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Opening the file, or `fstat` of the opened file, failed.
    #[error("{}", io_reason(.0))]
    Open(#[source] io::Error),
    /// Reading the file failed part way.
    #[error("{}", io_reason(.0))]
    Read(#[source] io::Error),
    /// The opened file is not a regular file (a FIFO, socket, device or
    /// directory). `md5pipe` skips such files silently in digest mode.
    #[error("{}", not_regular_reason(*.file_type))]
    NotRegular {
        /// The type of what was opened.
        file_type: fs::FileType,
    },
    /// `cancelled()` returned true between two chunks.
    #[error("cancelled")]
    Cancelled,
}

impl Clone for DigestError {
    fn clone(&self) -> Self {
        match self {
            DigestError::Open(err) => DigestError::Open(clone_io(err)),
            DigestError::Read(err) => DigestError::Read(clone_io(err)),
            DigestError::NotRegular { file_type } => DigestError::NotRegular {
                file_type: *file_type,
            },
            DigestError::Cancelled => DigestError::Cancelled,
        }
    }
}

fn not_regular_reason(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "Is a directory"
    } else {
        "Not a regular file"
    }
}

impl DigestError {
    /// The reason as md5sum words it, e.g. `Permission denied`, without
    /// Rust's `(os error N)`; `Is a directory` for a directory.
    pub fn reason(&self) -> String {
        self.to_string()
    }

    /// The underlying OS error, for [`DigestError::Open`] and
    /// [`DigestError::Read`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            DigestError::Open(err) | DigestError::Read(err) => Some(err),
            _ => None,
        }
    }
}

/// Digests files with one reused buffer, so memory stays at one chunk
/// whatever the sizes of the files.
#[derive(Debug)]
pub struct Digester {
    buf: Box<[u8]>,
    algorithm: Algorithm,
}

impl Digester {
    /// The number of bytes this digester reads at a time.
    pub fn chunk(&self) -> usize {
        self.buf.len()
    }

    /// A digester reading `chunk` bytes at a time (a `chunk` of 0 reads one
    /// byte at a time).
    ///
    /// # Panics
    ///
    /// If the buffer cannot be allocated; [`try_new`](Self::try_new) says so
    /// instead.
    pub fn new(chunk: usize) -> Digester {
        Digester {
            buf: vec![0; chunk.max(1)].into_boxed_slice(),
            algorithm: Algorithm::Md5,
        }
    }

    /// [`new`](Self::new), or `ENOMEM` if the buffer cannot be allocated.
    ///
    /// # Errors
    ///
    /// `Cannot allocate memory` (`ENOMEM`).
    pub fn try_new(chunk: usize) -> io::Result<Digester> {
        let mut buf = Vec::new();
        buf.try_reserve_exact(chunk.max(1))
            .map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        buf.resize(chunk.max(1), 0);
        Ok(Digester {
            buf: buf.into_boxed_slice(),
            algorithm: Algorithm::Md5,
        })
    }

    /// The algorithm this digester computes: MD5 unless
    /// [`set_algorithm`](Self::set_algorithm) said otherwise.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Makes the next digests ones of `algorithm`.
    pub fn set_algorithm(&mut self, algorithm: Algorithm) {
        self.algorithm = algorithm;
    }

    /// The MD5 of the regular file at `path`; see [`digest_file`].
    ///
    /// # Errors
    ///
    /// [`DigestError::Open`] if it cannot be opened or `fstat`ed,
    /// [`DigestError::NotRegular`] if what was opened is not a regular file,
    /// [`DigestError::Read`] if a read fails, [`DigestError::Cancelled`] if
    /// `cancelled()` returns true before a chunk is read.
    pub fn digest_file(
        &mut self,
        path: &Path,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<Sum, DigestError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(DigestError::Open)?;
        self.digest_regular(&mut file, cancelled, on_bytes)
    }

    /// The MD5 of a file the walk found, opened with [`Entry::open`] (so
    /// never through a symlink below a root walked without `-L`). Standard
    /// input (`-`) is read whatever it is, waiting for data without
    /// missing a cancel.
    ///
    /// # Errors
    ///
    /// As [`digest_file`](Self::digest_file).
    pub fn digest_entry(
        &mut self,
        entry: &Entry,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<Sum, DigestError> {
        crate::pause::before_open(&entry.display);
        if entry.is_stdin() {
            let file = entry.open().map_err(DigestError::Open)?;
            let mut waiting = Waiting { file, cancelled };
            return self.digest_reader(&mut waiting, cancelled, on_bytes);
        }
        // Counted while open, as the lanes' files are: an open that finds
        // no descriptor free may wait for it to close.
        let mut file = LaneFile::open(|| entry.open()).map_err(DigestError::Open)?;
        self.digest_regular(&mut file, cancelled, on_bytes)
    }

    fn digest_regular(
        &mut self,
        file: &mut File,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<Sum, DigestError> {
        let file_type = file.metadata().map_err(DigestError::Open)?.file_type();
        if !file_type.is_file() {
            return Err(DigestError::NotRegular { file_type });
        }
        self.digest_reader(file, cancelled, on_bytes)
    }

    /// The MD5 of everything `reader` yields, read in chunks. `cancelled()`
    /// is asked before each chunk; `on_bytes(n)` is told the size of each
    /// chunk read. Interrupted reads are retried.
    ///
    /// # Errors
    ///
    /// [`DigestError::Read`] if a read fails, [`DigestError::Cancelled`] on
    /// cancellation (the reader is left part way).
    pub fn digest_reader(
        &mut self,
        reader: &mut dyn Read,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<Sum, DigestError> {
        let mut hasher = self.algorithm.hasher();
        let mut size = 0u64;
        loop {
            if cancelled() {
                return Err(DigestError::Cancelled);
            }
            let n = match reader.read(&mut self.buf) {
                Ok(0) => {
                    let hash = hasher.finalize();
                    return Ok(Sum { hash, size });
                }
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(DigestError::Read(err)),
            };
            hasher.update(&self.buf[..n]);
            size += n as u64;
            on_bytes(n as u64);
        }
    }
}

/// A reader that waits for data (a pipe, a terminal) in slices of
/// [`WAIT_SLICE`], asking `cancelled` between them, so a cancel is seen
/// while nothing comes. Ends with `Interrupted` on a cancel, which
/// [`Digester::digest_reader`] retries after asking again.
struct Waiting<'a> {
    file: File,
    cancelled: &'a dyn Fn() -> bool,
}

/// How long a read of standard input waits before it asks for a cancel.
const WAIT_SLICE: i32 = 50;

impl Read for Waiting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if (self.cancelled)() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let mut fds = [libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: `fds` is one valid pollfd that outlives the call, on a
            // descriptor `self.file` keeps open.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, WAIT_SLICE) };
            if ready != 0 {
                // Ready, an error to read, or poll failed (then read says why).
                return self.file.read(buf);
            }
        }
    }
}

/// The MD5 of the regular file at `path`, read `chunk` bytes at a time into
/// one buffer. Opens without blocking and checks the opened file's type, so a
/// FIFO (even one swapped in after the walk) gives
/// [`DigestError::NotRegular`] and never blocks. `cancelled()` is asked
/// before each chunk; `on_bytes(n)` is told the size of each chunk read.
///
/// Use a [`Digester`] to reuse the buffer across files.
///
/// # Errors
///
/// As [`Digester::digest_file`].
pub fn digest_file(
    path: &Path,
    chunk: usize,
    cancelled: &dyn Fn() -> bool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Sum, DigestError> {
    Digester::new(chunk).digest_file(path, cancelled, on_bytes)
}

/// The 32 lowercase hex digits md5sum prints for a digest.
pub fn to_hex(digest: &[u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(32);
    for &b in digest {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    hex
}

/// The digest written as exactly 32 hex digits, upper or lower case (as
/// `md5sum -c` accepts them); `None` for anything else.
pub fn from_hex(hex: &[u8]) -> Option<[u8; 16]> {
    fn nibble(c: u8) -> Option<u8> {
        char::from(c).to_digit(16).map(|d| d as u8)
    }
    if hex.len() != 32 {
        return None;
    }
    let mut digest = [0; 16];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    use std::process::Command;

    fn md5sum_hex(path: &Path) -> String {
        let out = Command::new("md5sum").arg(path).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout[..32].to_vec()).unwrap()
    }

    fn never() -> bool {
        false
    }

    #[test]
    fn empty_file_matches_md5sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        fs::write(&path, b"").unwrap();
        let mut calls = 0;
        let digest = digest_file(&path, DEFAULT_CHUNK, &never, &mut |_| calls += 1).unwrap();
        assert_eq!(digest.hash.hex(), md5sum_hex(&path));
        assert_eq!(digest.hash.hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(digest.size, 0);
        assert_eq!(calls, 0);
    }

    #[test]
    fn file_of_many_chunks_matches_md5sum_and_counts_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..10_037u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&path, &data).unwrap();
        let (mut total, mut chunks) = (0, 0);
        let digest = digest_file(&path, 1000, &never, &mut |n| {
            total += n;
            chunks += 1;
        })
        .unwrap();
        assert_eq!(digest.hash.hex(), md5sum_hex(&path));
        assert_eq!(total, data.len() as u64);
        assert_eq!(digest.size, data.len() as u64);
        assert!(
            chunks >= 11,
            "read in chunks of at most 1000 bytes, got {chunks}"
        );
    }

    #[test]
    fn fifo_is_not_regular_and_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever opens the FIFO: a blocking open would hang here.
        let err = digest_file(&fifo, DEFAULT_CHUNK, &never, &mut |_| {}).unwrap_err();
        assert!(matches!(&err, DigestError::NotRegular { file_type } if file_type.is_fifo()));
        assert_eq!(err.reason(), "Not a regular file");
        let err = digest_file(dir.path(), DEFAULT_CHUNK, &never, &mut |_| {}).unwrap_err();
        assert_eq!(err.reason(), "Is a directory");
    }

    #[test]
    fn cancel_stops_between_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, vec![1u8; 10 * 512]).unwrap();
        let asked = Cell::new(0);
        let cancelled = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        let mut chunks = Vec::new();
        let err = digest_file(&path, 512, &cancelled, &mut |n| chunks.push(n)).unwrap_err();
        assert!(matches!(err, DigestError::Cancelled));
        assert_eq!(
            chunks,
            vec![512],
            "exactly one chunk read before the cancel"
        );
    }

    #[test]
    fn missing_file_gives_md5sum_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = digest_file(&dir.path().join("nope"), 16, &never, &mut |_| {}).unwrap_err();
        assert!(matches!(err, DigestError::Open(_)));
        assert_eq!(err.reason(), "No such file or directory");
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn a_digester_is_reused_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut digester = Digester::new(3);
        for (name, body) in [("a", &b"hello world"[..]), ("b", b"x"), ("c", b"")] {
            let path = dir.path().join(name);
            fs::write(&path, body).unwrap();
            let d = digester.digest_file(&path, &never, &mut |_| {}).unwrap();
            assert_eq!(d.hash.hex(), md5sum_hex(&path));
            assert_eq!(d.size, body.len() as u64);
        }
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let d = *b"\x00\x01\x7f\x80\xff\xfe\x10\x20\x30\x40\x50\x60\x70\x8a\x9b\xac";
        let hex = to_hex(&d);
        assert_eq!(hex, "00017f80fffe102030405060708a9bac");
        assert_eq!(from_hex(hex.as_bytes()), Some(d));
        assert_eq!(from_hex(hex.to_uppercase().as_bytes()), Some(d));
        assert_eq!(from_hex(&hex.as_bytes()[..31]), None);
        assert_eq!(from_hex(format!("{hex}0").as_bytes()), None);
        assert_eq!(from_hex(hex.replace('a', "g").as_bytes()), None);
        assert_eq!(
            from_hex("+0017f80fffe102030405060708a9bac".as_bytes()),
            None
        );
    }
}
