//! Digesting one file named in a check list, as `md5sum -c` reads it, but
//! never blocking: a regular file is read in chunks; a character device is
//! read too (`/dev/null` verifies as md5sum verifies it) as long as it ends
//! within [`DEVICE_LIMIT`] bytes and never makes a read wait, so an endless
//! device (`/dev/zero`) or a terminal is refused; a FIFO, socket or
//! directory is refused at once. The name `-` is standard input, read so
//! that a cancel ends the wait for it.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use pipeline::Cancel;

use crate::algorithm::Algorithm;
use crate::descriptors::LaneFile;
use crate::digest::{DigestError, Digester, Sum};
use crate::listread::CancellableFd;
use crate::progress::Progress;

/// The most a character device may yield before it counts as endless.
pub(crate) const DEVICE_LIMIT: u64 = 16 << 20;

thread_local! {
    /// One read buffer per verifier thread, reused across files.
    static DIGESTER: RefCell<Option<Digester>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's digester of `chunk` bytes.
fn with_digester<T>(chunk: usize, f: impl FnOnce(&mut Digester) -> T) -> T {
    DIGESTER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let digester = match slot.as_mut() {
            Some(d) if d.chunk() == chunk.max(1) => d,
            _ => slot.insert(Digester::new(chunk)),
        };
        f(digester)
    })
}

/// The MD5 of the file named `path` in a list; see the [module docs](self).
/// `cancel` is asked between chunks.
///
/// # Errors
///
/// [`DigestError::Open`], [`DigestError::Read`],
/// [`DigestError::NotRegular`] for what is refused, and
/// [`DigestError::Cancelled`].
pub(crate) fn digest_listed(
    path: &Path,
    algorithm: Algorithm,
    chunk: usize,
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Result<Sum, DigestError> {
    let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
    let mut on_bytes = |n| progress.read(n);
    // Counted while open, as a lane's file is: a file of another list
    // line that finds no descriptor free waits for this one to close.
    let mut file = LaneFile::open(|| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
    })
    .map_err(DigestError::Open)?;
    let file_type = file.metadata().map_err(DigestError::Open)?.file_type();
    if file_type.is_file() {
        with_digester(chunk, |d| {
            d.set_algorithm(algorithm);
            d.digest_reader(&mut *file, &cancelled, &mut on_bytes)
        })
    } else if file_type.is_char_device() {
        digest_device(&mut file, algorithm, &cancelled).map_err(|err| match err {
            Some(err) => err,
            None => DigestError::NotRegular { file_type },
        })
    } else {
        Err(DigestError::NotRegular { file_type })
    }
}

/// A character device's MD5, or `Err(None)` if it is endless or would
/// make a read wait.
fn digest_device(
    file: &mut File,
    algorithm: Algorithm,
    cancelled: &dyn Fn() -> bool,
) -> Result<Sum, Option<DigestError>> {
    let mut hasher = algorithm.hasher();
    let mut buf = [0; 4096];
    let mut total = 0u64;
    loop {
        if cancelled() {
            return Err(Some(DigestError::Cancelled));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => {
                let hash = hasher.finalize();
                return Ok(Sum { hash, size: total });
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Err(None),
            Err(err) => return Err(Some(DigestError::Read(err))),
        };
        total += n as u64;
        if total > DEVICE_LIMIT {
            return Err(None);
        }
        hasher.update(&buf[..n]);
    }
}

/// The MD5 of standard input (the name `-` in a list), read `chunk` bytes
/// at a time; a cancel ends the wait for input.
///
/// # Errors
///
/// [`DigestError::Read`] if a read fails, [`DigestError::Cancelled`] once
/// `cancel` is.
pub(crate) fn digest_stdin(
    algorithm: Algorithm,
    chunk: usize,
    cancel: &Cancel,
    progress: &Progress,
) -> Result<Sum, DigestError> {
    let mut stdin = CancellableFd::stdin(cancel.clone());
    let cancelled = || cancel.is_cancelled();
    let mut on_bytes = |n| progress.read(n);
    let result = with_digester(chunk, |d| {
        d.set_algorithm(algorithm);
        d.digest_reader(&mut stdin, &cancelled, &mut on_bytes)
    });
    match result {
        Err(_) if cancel.is_cancelled() => Err(DigestError::Cancelled),
        other => other,
    }
}
