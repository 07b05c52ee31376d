//! MD5 digests of whole trees, the way the Go pipelines article builds
//! `MD5All` (serial, parallel and bounded), on the `pipeline` framework; and
//! the library the `md5pipe` binary (an `md5sum` for trees, in its own
//! crate) is built on. It has no command-line dependencies: arguments,
//! signals, the progress bar and the exit status are `md5pipe`'s.
//!
//! ```
//! use pipeline_md5::{md5_all_bounded, md5_all_parallel, md5_all_serial};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("sub"))?;
//! std::fs::write(dir.path().join("sub/b.txt"), b"hello\n")?;
//! std::fs::write(dir.path().join("a.txt"), b"")?;
//!
//! let sums = md5_all_bounded(dir.path(), 4)?;
//! assert_eq!(sums.len(), 2);
//! assert!(sums[0].path.ends_with("a.txt")); // bytewise path order
//! assert_eq!(sums[1].hex(), "b1946ac92492d2347c6235b4d2611184");
//! // The three designs agree.
//! assert_eq!(sums, md5_all_parallel(dir.path())?);
//! assert_eq!(sums, md5_all_serial(dir.path())?);
//!
//! // The first error is returned, naming its path.
//! let err = md5_all_bounded(dir.path().join("missing"), 4).unwrap_err();
//! assert_eq!(err.reason(), "No such file or directory");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The article's functions return a whole map; [`digest_tree`] streams
//! instead: results in order, as soon as everything before them is known,
//! with per-file errors in their place or fail-fast, and the run's cancel
//! signal, per-stage stats and progress at hand. `md5pipe` is built on it.
//!
//! - [`walk`]: the walk of one root in bytewise path order, and Go's path cleaning.
//! - [`digest`]: digesting one file in chunks without ever blocking on a FIFO.
//! - [`algorithm`]: SHA-1, SHA-256, SHA-512 and BLAKE3 besides MD5, and the digest value.
//! - [`engine`]: the multi-lane MD5 engine (scalar, AVX2 x8 and 2x8, AVX-512 x16), chosen at run time; the bounded digesters and check mode run it.
//! - [`filter`]: which files below a root the walk yields (globs, depth, `.gitignore`).
//! - [`escape`]: md5sum's output lines, its name escaping both ways, and its quoting.
//! - [`checklist`]: parsing `md5sum -c` lists and wording their results.
//! - [`check`]: verifying lists with the same pipeline.
//! - [`audit`]: a manifest against a tree, as a streaming merge-join.
//! - [`cache`]: digests kept beside a tree, so that a run reads only what changed.
//! - [`stdio`]: which standard descriptors the process started without.
//!
//! # The life of a file (the bounded design)
//!
//! 1. The walk lists each directory once and takes each entry's type from
//!    the listing (`d_type`): no `stat` per entry, in bytewise path order.
//! 2. Files gather in groups of [`Options::group`] (256), numbered in walk
//!    order; the walk's last files are split among the digesters, and an
//!    end marker follows them.
//! 3. A digester (on the blocking pool) takes a group and shares its
//!    [`engine`]'s lanes among the group's files: each file is opened
//!    without blocking, checked by one `fstat`, read in chunks straight
//!    into its lane, and digested beside up to 15 others; a pass over
//!    few lanes runs on a narrower kernel.
//! 4. A file still long to read when the rest of its group is done
//!    leaves its lane, suspended, for a pool the digesters share; later
//!    groups take it on in their lanes, beside their own files and the
//!    other long ones, and the end marker's digester drains the pool with
//!    the others, so large files never run alone for long.
//! 5. A digester hands on the outcomes it finished, numbered, as one
//!    packet (one wake-up per group); the `order` stage puts them back in
//!    walk order. A long file may lag at most [`Options::window`] groups
//!    behind the files it holds up, so what waits there stays bounded;
//!    [`Digests`] hands the outcomes out one by one.
//!
//! # With a cache ([`cache`], `md5pipe --cache`)
//!
//! The walk also stats each file as it lists its directory and looks it up
//! in the old cache as it goes (both in path order); a file whose key
//! matches carries its digest from there through steps 2-5 without being
//! opened, and the consumer writes every digest with its key to the new
//! cache.
//!
//! # Reading files: blocking beats async
//!
//! Digesters read with `std::fs` in a blocking stage by default ([`Io`]):
//! one hop to the blocking pool per group of small files ([`Options::group`])
//! or per large file. An async reader hops to the pool for every open and
//! every read. Measured on 2 cores (release build, warm cache, median of
//! 5) with `async-fs`: 20,000 small files (206 MB) took 0.40 s blocking,
//! 0.64 s blocking one file per hop, 1.54 s with `async-fs`; 4 files of
//! 256 MiB took 1.17 s blocking and 1.39 s with `async-fs`. The async
//! design stays available as [`Io::Async`] (`md5pipe --io async`). It
//! reads through `smol::Unblock`, the reader `async-fs` is built on, with
//! one chunk of read-ahead: `async-fs`'s `File` reads up to 8 MiB ahead
//! for each open file, which held 270 MiB with 32 digesters.

#![warn(missing_docs)]

pub mod algorithm;
pub mod audit;
pub mod cache;
pub mod check;
pub mod checklist;
pub mod digest;
pub mod engine;
pub mod escape;
pub mod filter;
pub mod roots;
pub mod stdio;
pub mod walk;

mod beneath;
mod bounded;
mod checkfile;
mod descriptors;
mod error;
mod group;
mod lanes;
mod listing;
mod listread;
mod parallel;
mod pause;
mod progress;
mod relay;
mod reorder;
mod serial;
mod stages;
mod tree;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use error::Error;
pub use progress::{Progress, ProgressSnapshot};
pub use tree::{digest_tree, limits, Digests, Io, Mode, Options, DEFAULT_GROUP, DEFAULT_WINDOW};

use bounded::Job;
use stages::WalkErrors;

/// One file's digest, with its path as printed: the root joined with the path
/// below it and cleaned as Go's `filepath.Join` cleans (a root that is a
/// file: the root as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// The path, as printed.
    pub path: PathBuf,
    /// The digest of the file's contents (MD5 unless
    /// [`Options::algorithm`] chose another).
    pub sum: algorithm::Hash,
    /// How many bytes were digested: the file's size, unless it changed
    /// while it was read.
    pub size: u64,
}

impl FileDigest {
    pub(crate) fn new(display: &[u8], sum: digest::Sum) -> FileDigest {
        FileDigest {
            path: path_of(display),
            sum: sum.hash,
            size: sum.size,
        }
    }

    /// The digest in lowercase hex (32 digits for MD5).
    pub fn hex(&self) -> String {
        self.sum.hex()
    }

    /// The path's raw bytes.
    pub fn path_bytes(&self) -> &[u8] {
        self.path.as_os_str().as_bytes()
    }

    /// The line `md5sum` (or `sha256sum`, `b3sum`... for the digest's
    /// algorithm) prints for this file, terminator included; see
    /// [`escape::format_line_of`] for `zero` (`-z`) and `tag` (`--tag`,
    /// as `cksum -a` writes it).
    ///
    /// ```
    /// use pipeline_md5::algorithm::Hash;
    /// use pipeline_md5::FileDigest;
    /// let d = FileDigest { path: "a\nb".into(), sum: Hash::md5([0; 16]), size: 0 };
    /// assert_eq!(d.line(false, false), b"\\00000000000000000000000000000000  a\\nb\n");
    /// ```
    pub fn line(&self, zero: bool, tag: bool) -> Vec<u8> {
        let algorithm = self.sum.algorithm();
        escape::format_line_of(algorithm, &self.hex(), self.path_bytes(), zero, tag)
    }
}

pub(crate) fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Collects a run with the article's error semantics: the first error in
/// the stream is returned (the run is cancelled as the iterator drops), and
/// a walk error kept aside is returned once the digests are drained.
fn collect_article(
    digests: Digests,
    walk_error: &Mutex<Option<Error>>,
) -> Result<Vec<FileDigest>, Error> {
    let sums = digests.collect::<Result<Vec<_>, _>>()?;
    match walk_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(err) => Err(err),
        None => Ok(sums),
    }
}

fn article(root: &Path, opts: &Options) -> Result<Vec<FileDigest>, Error> {
    opts.validate()?;
    let walk_error = Arc::new(Mutex::new(None));
    let job = Job {
        roots: Arc::from([root.to_path_buf()]),
        follow_links: false,
        filter: Default::default(),
        files_from: None,
        chunk: opts.chunk,
        walk_errors: WalkErrors::Stash(walk_error.clone()),
        progress: Arc::new(Progress::new()),
        group: opts.group,
        window: opts.window_len(),
        fail_fast: opts.fail_fast,
        algorithm: opts.algorithm,
        engine: opts.engine,
        digesters: opts.digesters,
        cache: None,
    };
    collect_article(tree::start(job, opts), &walk_error)
}

/// The article's serial `MD5All`: every regular file below `root` (or
/// `root` itself if it is a file), digested one after another, in bytewise
/// path order. Symbolic links below `root` are not followed.
///
/// # Errors
///
/// The first error met, naming its path ([`Error::Walk`] or
/// [`Error::Read`]); the walk stops there.
pub fn md5_all_serial(root: impl AsRef<Path>) -> Result<Vec<FileDigest>, Error> {
    article(
        root.as_ref(),
        &Options::default().mode(Mode::Serial).fail_fast(true),
    )
}

/// The article's parallel `MD5All`: a task per regular file, started as the
/// walk finds it; the results in bytewise path order.
///
/// # Errors
///
/// As in the article: the first digest error cancels everything and is
/// returned; a walk error stops the walk and is returned once the files
/// already found are digested.
pub fn md5_all_parallel(root: impl AsRef<Path>) -> Result<Vec<FileDigest>, Error> {
    article(
        root.as_ref(),
        &Options::default().mode(Mode::Parallel).fail_fast(true),
    )
}

/// The article's bounded `MD5All`: a walker, `digesters` digesters, and the
/// results collected in bytewise path order. Declared with `pipeline!`.
///
/// # Errors
///
/// As [`md5_all_parallel`]; [`Error::Config`] if `digesters` is 0.
pub fn md5_all_bounded(root: impl AsRef<Path>, digesters: usize) -> Result<Vec<FileDigest>, Error> {
    article(
        root.as_ref(),
        &Options::default()
            .mode(Mode::Bounded)
            .digesters(digesters)
            .fail_fast(true),
    )
}
