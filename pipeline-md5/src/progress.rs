//! How far a run has got: files and bytes found by the walk and done by
//! the digesters. Counting is a few relaxed atomic adds per file and per
//! chunk; a progress display reads them as often as it likes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one run, shared by its stages and whoever displays them.
///
/// ```
/// use pipeline_md5::{digest_tree, Options};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a"), b"hello")?;
/// let run = digest_tree([dir.path()], &Options::default())?;
/// let progress = run.progress();
/// assert_eq!(run.count(), 1);
/// let done = progress.snapshot();
/// assert_eq!((done.files_done, done.bytes_done), (1, 5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Progress {
    files_found: AtomicU64,
    bytes_found: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
}

/// A copy of the [`Progress`] counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressSnapshot {
    /// Regular files the walk has found so far.
    pub files_found: u64,
    /// Their sizes, summed, as far as known: the walk knows the sizes of
    /// roots and of files it followed a link to; the digesters add the
    /// others as they open them.
    pub bytes_found: u64,
    /// Files whose digest is finished (or failed).
    pub files_done: u64,
    /// Bytes read by the digesters.
    pub bytes_done: u64,
}

impl Progress {
    /// Counters at zero.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The walk found a regular file of `size` bytes.
    pub fn found(&self, size: u64) {
        self.files_found.fetch_add(1, Ordering::Relaxed);
        self.bytes_found.fetch_add(size, Ordering::Relaxed);
    }

    /// A digester opened a file of `size` bytes whose size the walk did
    /// not know (it takes types from the directory listing, not sizes).
    pub fn sized(&self, size: u64) {
        self.bytes_found.fetch_add(size, Ordering::Relaxed);
    }

    /// A digester read `n` bytes.
    pub fn read(&self, n: u64) {
        self.bytes_done.fetch_add(n, Ordering::Relaxed);
    }

    /// A digester finished one file.
    pub fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            files_found: self.files_found.load(Ordering::Relaxed),
            bytes_found: self.bytes_found.load(Ordering::Relaxed),
            files_done: self.files_done.load(Ordering::Relaxed),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
        }
    }
}
