//! The walk of one root: every regular file below it, in bytewise path order.
//!
//! [`Walk`] is a blocking iterator. It yields an [`Entry`] for each regular
//! file and a [`WalkError`] for each path it could not read, then goes on
//! with the rest, so the caller decides whether an error ends the run.
//!
//! Order: each directory's entries are sorted by their name bytes, where the
//! name of a directory compares as if it ended with `/`. A depth-first walk in
//! that order yields the full paths sorted bytewise, as `LC_ALL=C sort` and
//! Go's `sort.Strings` would sort them (`a-b`, `a.b`, `a/x`, `a0`).
//!
//! The walk is written by hand rather than on `walkdir`: `walkdir` sorts a
//! directory before it follows symbolic links, so with `-L` a link to a
//! directory would sort as a file, and some of its loop-check errors carry no
//! path. Here every entry's type is known (one `stat` per symlink when
//! following) before sorting, loops are found by device and inode of the
//! directories on the current branch, and every error names its path.
//!
//! Directories are listed through descriptors, and without `-L` everything
//! below a root is opened through no symbolic link (see [`Entry::open`]):
//! a file by its name in its directory's descriptor, kept open while the
//! directory's files wait to be read (up to a share of the process's
//! descriptor limit), else relative to the root's descriptor. An entry
//! swapped for a symlink between the listing and the open is reported
//! (`Too many levels of symbolic links`), never followed out of the tree.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pipeline::Cancel;
use rustix::fs::{fstat, openat, Mode, OFlags, CWD};

use crate::beneath::open_beneath;
use crate::cache::Key;
use crate::digest::Sum;
use crate::filter::Filter;
use crate::listing::{Kind, Listing};
use ignore::gitignore::Gitignore;

/// A regular file found by the walk (or standard input, for a root of
/// `-`). Open it with [`Entry::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path to open: the root as given, joined with the names below it.
    pub path: PathBuf,
    /// The path to print: Go's `filepath.Join(root, rel)`, cleaned; for a
    /// root that is itself a file, the root exactly as given. Raw bytes, so
    /// names that are not UTF-8 survive.
    pub display: Vec<u8>,
    /// The file's size in bytes when the walk stat'ed it: a root, or a
    /// symlink followed with `-L`. The walk takes the type of other entries
    /// from the directory listing and stats nothing, so their size is 0
    /// here; the digester learns it from the opened file. With
    /// [`Walk::stat_files`] every file is stat'ed and its size known.
    pub size: u64,
    /// How to open it.
    pub(crate) source: Source,
    /// Its stat key, taken before it is read: roots, and every file with
    /// [`Walk::stat_files`].
    pub(crate) key: Option<Key>,
    /// Its digest, known from a cache whose entry matches `key`: then the
    /// file is not read.
    pub(crate) known: Option<Sum>,
    /// Raised by [`Entry::open`] when the file opened is not the one the
    /// walk stat'ed, or has changed since (a directory swapped between the
    /// two, a write): its digest is then not kept in a cache under `key`.
    pub(crate) drift: Drift,
}

/// See [`Entry::drift`]: a flag shared with the cache's record of the
/// entry, for entries a cache will record; equal to every other (it is no
/// part of what the entry names).
#[derive(Debug, Clone, Default)]
pub(crate) struct Drift(Option<Arc<AtomicBool>>);

impl Drift {
    /// A flag to watch.
    pub(crate) fn watched() -> Drift {
        Drift(Some(Arc::default()))
    }

    /// Whether the file opened was not the one stat'ed.
    pub(crate) fn raised(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

impl PartialEq for Drift {
    fn eq(&self, _: &Drift) -> bool {
        true
    }
}

impl Eq for Drift {}

/// A path the walk could not read. The walk goes on after it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// A `stat`, `readdir` or symlink resolution failed.
    #[error("{}: {}", String::from_utf8_lossy(path), io_reason(source))]
    Io {
        /// The display path (see [`Entry::display`]) of what failed.
        path: Vec<u8>,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// With symlinks followed, a directory is its own ancestor; it is not
    /// entered again.
    #[error("{}: {}", String::from_utf8_lossy(path), LOOP_REASON)]
    Loop {
        /// The display path of the directory (usually a symlink) that loops.
        path: Vec<u8>,
        /// The path of the ancestor it is the same directory as.
        ancestor: PathBuf,
    },
}

impl Clone for WalkError {
    fn clone(&self) -> Self {
        match self {
            WalkError::Io { path, source } => WalkError::Io {
                path: path.clone(),
                source: clone_io(source),
            },
            WalkError::Loop { path, ancestor } => WalkError::Loop {
                path: path.clone(),
                ancestor: ancestor.clone(),
            },
        }
    }
}

/// A copy of an I/O error: the same OS error code, or the same kind and
/// text for errors that do not come from the operating system. (`io::Error`
/// is not `Clone`; errors cross the pipeline by reference.)
pub fn clone_io(err: &io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(err.kind(), err.to_string()),
    }
}

/// The reason given for [`WalkError::Loop`], worded as GNU `find` words it.
pub const LOOP_REASON: &str = "File system loop detected";

impl WalkError {
    /// The display path of what failed, raw bytes.
    pub fn path(&self) -> &[u8] {
        match self {
            WalkError::Io { path, .. } | WalkError::Loop { path, .. } => path,
        }
    }

    /// The reason as md5sum words it, e.g. `Permission denied` (no
    /// `(os error N)` suffix).
    pub fn reason(&self) -> String {
        match self {
            WalkError::Io { source, .. } => io_reason(source),
            WalkError::Loop { .. } => LOOP_REASON.to_owned(),
        }
    }

    /// The underlying OS error, if there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            WalkError::Io { source, .. } => Some(source),
            WalkError::Loop { .. } => None,
        }
    }
}

/// The text of an I/O error as C tools print it: `Permission denied`, without
/// the ` (os error 13)` that Rust appends. Errors that do not come from the
/// operating system are printed as they display.
pub fn io_reason(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            match text.strip_suffix(&suffix) {
                Some(reason) => reason.to_owned(),
                None => text,
            }
        }
        None => text,
    }
}

/// Lexically cleans a path the way Go's `filepath.Clean` does on Unix:
/// repeated `/` become one, `.` elements go, `x/..` pairs go, `..` at the
/// start of a rooted path goes, and an empty result is `.`. Works on bytes.
pub fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    let sep_at = |i: usize| i == n || path[i] == b'/';
    while r < n {
        if path[r] == b'/' || (path[r] == b'.' && sep_at(r + 1)) {
            // An empty or `.` element.
            r += 1;
        } else if path[r] == b'.' && path.get(r + 1) == Some(&b'.') && sep_at(r + 2) {
            r += 2;
            if out.len() > dotdot {
                // Back up to the previous separator (or to `dotdot`).
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// A blocking, sorted walk of one root; see the [module docs](self).
///
/// Symbolic links below the root are not followed unless `follow_links` is
/// set; unfollowed links, FIFOs, sockets and devices are skipped without being
/// opened. The root itself is always resolved (as `find -H` and `md5sum` do):
/// a root that is a symlink to a file yields that file, printed as given, and
/// a root that is a symlink to a directory is walked. A root of `-` is
/// standard input, printed as `-`.
///
/// Without `follow_links`, directories are opened relative to the root's
/// descriptor with no symlink allowed on the way (see [`Entry::open`]), so a
/// directory swapped for a symlink after it was listed is reported, never
/// entered.
///
/// Dropping the iterator stops the walk. Between calls to `next` it holds
/// the root's descriptor and, for each directory on the current branch, its
/// remaining entries (each directory is read whole, then closed).
#[derive(Debug)]
pub struct Walk {
    root: PathBuf,
    follow_links: bool,
    started: bool,
    anchor: Option<Arc<OwnedFd>>,
    /// Where a path below the root starts in the paths the walk joins.
    skip: usize,
    stack: Vec<Frame>,
    filter: Arc<Filter>,
    stat_files: bool,
}

/// One directory on the current branch: its identity, its path (as given)
/// and its unvisited entries.
#[derive(Debug)]
struct Frame {
    id: (u64, u64),
    path: PathBuf,
    listing: Listing,
    /// Its descriptor, if it is held for its files to be opened in it.
    dir: Option<Arc<HeldDir>>,
    /// Its `.gitignore`, with `--ignore-vcs`.
    rules: Option<Gitignore>,
}

/// Where an [`Entry`] is opened from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Its path, following symlinks (a root, or any file with `-L`).
    Path,
    /// Through no symlink: by its name in its directory's descriptor if
    /// `dir` holds one, else relative to the root's descriptor; its path
    /// below the root is the entry's `path` from byte `skip` on.
    Beneath {
        root: Arc<OwnedFd>,
        dir: Option<Arc<HeldDir>>,
        skip: usize,
    },
    /// Standard input (a root of `-`).
    Stdin,
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Path, Source::Path) | (Source::Stdin, Source::Stdin) => true,
            (
                Source::Beneath {
                    root: a, skip: x, ..
                },
                Source::Beneath {
                    root: b, skip: y, ..
                },
            ) => Arc::ptr_eq(a, b) && x == y,
            _ => false,
        }
    }
}

impl Eq for Source {}

impl Entry {
    /// An entry opened by its path, `display` printed.
    pub(crate) fn at_path(path: PathBuf, display: Vec<u8>, size: u64) -> Entry {
        Entry {
            path,
            display,
            size,
            source: Source::Path,
            key: None,
            known: None,
            drift: Drift::default(),
        }
    }

    /// Whether this is standard input (a root of `-`).
    pub fn is_stdin(&self) -> bool {
        self.source == Source::Stdin
    }

    /// Opens the file for reading, without blocking (a FIFO swapped in
    /// opens at once) and, below a root walked without `-L`, relative to
    /// the root's descriptor through no symbolic link: what was swapped for
    /// a symlink since the walk fails with `ELOOP` instead of being
    /// followed. Standard input is a new descriptor for it (never 0–2).
    ///
    /// # Errors
    ///
    /// The OS error of the open (`EBADF` for a closed standard input).
    pub fn open(&self) -> io::Result<fs::File> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match &self.source {
            Source::Path => openat(CWD, &self.path, flags, Mode::empty())?,
            Source::Beneath { dir: Some(dir), .. } => {
                // The walk names every entry by a last component: no
                // symlink is on the way, and NOFOLLOW refuses one there.
                let path = self.path.as_os_str().as_bytes();
                let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
                let name = OsStr::from_bytes(name);
                let flags = flags | OFlags::NOFOLLOW;
                openat(dir.0.as_fd(), name, flags, Mode::empty())?
            }
            Source::Beneath { root, skip, .. } => {
                let rel = rel_of(&self.path, *skip);
                open_beneath(root.as_fd(), rel, flags)?
            }
            Source::Stdin if crate::stdio::is_closed(0) => {
                return Err(io::Error::from_raw_os_error(libc::EBADF));
            }
            Source::Stdin => {
                // SAFETY: fd 0 is only borrowed for the length of the call;
                // if it is closed, fcntl fails with EBADF and nothing is used.
                let stdin = unsafe { BorrowedFd::borrow_raw(0) };
                rustix::io::fcntl_dupfd_cloexec(stdin, 3)?
            }
        };
        let file = fs::File::from(fd);
        if let (Some(key), Some(flag)) = (self.key, &self.drift.0) {
            // The key the cache will keep must be the key of what is read.
            let opened = file.metadata().map(|meta| Key::of_metadata(&meta));
            if opened.map_or(true, |opened| opened != key) {
                flag.store(true, Ordering::Relaxed);
            }
        }
        Ok(file)
    }
}

/// `path` from byte `skip` on (its part below the root), without the
/// separators that join it to the root.
fn rel_of(path: &Path, skip: usize) -> &Path {
    let bytes = path.as_os_str().as_bytes();
    let rel = bytes.get(skip..).unwrap_or_default();
    let start = rel.iter().position(|&b| b != b'/').unwrap_or(rel.len());
    Path::new(OsStr::from_bytes(&rel[start..]))
}

/// A directory's descriptor, kept open while the files listed from it wait
/// to be opened by name in it (cheaper than a lookup of their whole path
/// from the root). At most [`held_limit`] are open at once; a directory
/// listed beyond that is closed at once and its files are opened from the
/// root.
#[derive(Debug)]
pub(crate) struct HeldDir(OwnedFd);

/// How many directory descriptors are held now.
static HELD: AtomicUsize = AtomicUsize::new(0);

impl HeldDir {
    /// Holds `fd` if fewer than [`held_limit`] are held, else gives it back.
    fn hold(fd: OwnedFd) -> Result<Arc<HeldDir>, OwnedFd> {
        let limit = held_limit();
        let taken = HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held < limit).then_some(held + 1)
        });
        match taken {
            Ok(_) => Ok(Arc::new(HeldDir(fd))),
            Err(_) => Err(fd),
        }
    }
}

impl Drop for HeldDir {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A quarter of the soft limit on open descriptors past the first 64, at
/// most 1024 (240 under the usual limit of 1024; none under 64 or less):
/// the rest stays for the files being read, the output and the caller.
fn held_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let quarter = soft.map_or(1024, |n| n.saturating_sub(64) / 4);
        usize::try_from(quarter).unwrap_or(1024).min(1024)
    })
}

/// Grows this process's descriptor table to hold the directories a walk may
/// hold (a quarter of the descriptor limit past 64, at most 1024) beside
/// the files being read. Call it while the process has one thread: a table
/// shared by threads grows only after an RCU grace period, which stalls
/// the thread whose open needed the room
/// (20–40 ms each time on the development VM, several times a run), while
/// a single thread's table grows at once. It never shrinks, so later opens
/// find the room. Nothing is opened: the lowest open descriptor of 0–2 is
/// duplicated to a high number and closed again (with all three closed,
/// nothing is done).
pub fn grow_descriptor_table() {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let want = u64::try_from(held_limit().saturating_add(256)).unwrap_or(u64::MAX);
    let top = soft.map_or(want, |soft| want.min(soft.saturating_sub(1)));
    let Ok(top) = i32::try_from(top) else {
        return;
    };
    if top < 64 {
        return;
    }
    for fd in 0..3 {
        if crate::stdio::is_closed(fd) {
            continue;
        }
        // SAFETY: `fd` is 0, 1 or 2 and was open when `stdio::probe` ran;
        // it is only borrowed for this call (if it was closed since, the
        // duplication fails with EBADF and nothing happens).
        let open = unsafe { BorrowedFd::borrow_raw(fd) };
        // The duplicate is closed as it drops.
        if rustix::io::fcntl_dupfd_cloexec(open, top).is_ok() {
            return;
        }
    }
}

/// Opens a directory to list: by path (following symlinks) for a root or
/// with `-L`, else below the root through no symlink.
///
/// An open that finds no descriptor free while files being digested hold
/// them waits for one of them to close, for at most [`DIR_WAIT_MAX`]:
/// not longer, for the files that hold them may be streams waiting for
/// digesters that wait for this walk.
fn open_dir(path: &Path, beneath: Option<(&OwnedFd, &Path)>) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let open = || match beneath {
        Some((root, rel)) => open_beneath(root.as_fd(), rel, flags),
        None => Ok(openat(CWD, path, flags, Mode::empty())?),
    };
    let no_descriptor =
        |r: &io::Result<OwnedFd>| r.as_ref().is_err_and(crate::descriptors::no_descriptor);
    let opened = open();
    if !no_descriptor(&opened) {
        return opened;
    }
    let cancel = Cancel::current();
    let until = Instant::now() + DIR_WAIT_MAX;
    let give_up = || cancel.as_ref().is_some_and(Cancel::is_cancelled) || Instant::now() >= until;
    crate::descriptors::reopened(&give_up, no_descriptor, open).unwrap_or(opened)
}

/// The longest a directory's open waits for a descriptor (see [`open_dir`]).
const DIR_WAIT_MAX: Duration = Duration::from_secs(2);

fn dir_id(fd: &OwnedFd) -> io::Result<(u64, u64)> {
    let st = fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

impl Walk {
    /// A walk of `root`, which is used as given (not canonicalized). Nothing
    /// is read until the first call to `next`.
    pub fn new(root: impl Into<PathBuf>, follow_links: bool) -> Walk {
        Walk {
            root: root.into(),
            follow_links,
            started: false,
            anchor: None,
            skip: 0,
            stack: Vec::new(),
            filter: Arc::default(),
            stat_files: false,
        }
    }

    /// With `yes`, every file is stat'ed as its directory is listed
    /// (relative to the directory, following no symlink, or following it
    /// with `-L`), so that each [`Entry`] knows its size and stat key
    /// before it is read: what a cache ([`crate::cache`]) compares. A
    /// file that cannot be stat'ed then is a walk error, as one that
    /// cannot be opened is a read error.
    pub fn stat_files(mut self, yes: bool) -> Walk {
        self.stat_files = yes;
        self
    }

    /// The walk yields only what `filter` keeps (see [`crate::filter`]).
    pub fn filter(mut self, filter: Arc<Filter>) -> Walk {
        self.filter = filter;
        self
    }

    /// The `.gitignore` of the directory `path` (`rel` below the root), if
    /// the filter asks for them.
    fn rules(&self, path: &Path, rel: &Path) -> Option<Gitignore> {
        self.filter
            .reads_vcs_rules()
            .then(|| crate::filter::vcs_rules(path, rel))
            .flatten()
    }

    /// Whether listings stat their directories: only when the walk must
    /// stay on the root's device (`--one-file-system`), which it checks
    /// before entering one.
    fn listing_stats_dirs(&self) -> bool {
        !self.filter.crosses_devices()
    }

    /// Whether the filter skips `rel` (a directory if `is_dir`).
    fn skips(&self, rel: &Path, is_dir: bool) -> bool {
        if self.filter.is_empty() {
            return false;
        }
        let rules: Vec<&Gitignore> = self.stack.iter().filter_map(|f| f.rules.as_ref()).collect();
        self.filter.skips(rel, is_dir, &rules)
    }

    /// The first item: the root itself, a file to yield or a directory to enter.
    fn start(&mut self) -> Option<Result<Entry, WalkError>> {
        let display = self.root.as_os_str().as_bytes().to_vec();
        if display == b"-" {
            return Some(Ok(Entry {
                path: self.root.clone(),
                display,
                size: 0,
                source: Source::Stdin,
                key: None,
                known: None,
                drift: Drift::default(),
            }));
        }
        let meta = match fs::metadata(&self.root) {
            Ok(meta) => meta,
            Err(source) => return Some(Err(io_error(display, source))),
        };
        if meta.is_file() {
            let mut entry = Entry::at_path(self.root.clone(), display, meta.len());
            entry.key = Some(Key::of_metadata(&meta));
            return Some(Ok(entry));
        }
        if !meta.is_dir() {
            return None;
        }
        crate::pause::before_open(&display);
        let listed = open_dir(&self.root, None).and_then(|fd| {
            let id = dir_id(&fd)?;
            let listing = self.list(&fd)?;
            let anchor = (!self.follow_links).then(|| Arc::new(fd));
            Ok((id, anchor, listing))
        });
        match listed {
            Ok((id, anchor, listing)) => {
                self.anchor = anchor;
                let root = self.root.as_os_str().as_bytes();
                self.skip = root.len() + usize::from(!root.ends_with(b"/"));
                let rules = self.rules(&self.root, Path::new(""));
                self.stack.push(Frame {
                    id,
                    path: self.root.clone(),
                    listing,
                    dir: None,
                    rules,
                });
                None
            }
            Err(source) => Some(Err(io_error(display, source))),
        }
    }

    /// Lists the directory open as `fd`, as this walk lists directories.
    fn list(&self, fd: &OwnedFd) -> io::Result<Listing> {
        Listing::read(
            fd.as_fd(),
            self.follow_links,
            self.listing_stats_dirs(),
            self.stat_files,
        )
    }

    /// Opens and lists the directory `path` (`rel` below the root).
    fn enter(&self, path: &Path, rel: &Path, display: &[u8]) -> io::Result<Frame> {
        crate::pause::before_open(display);
        let beneath = self.anchor.as_deref().map(|root| (root, rel));
        let fd = open_dir(path, beneath)?;
        let id = dir_id(&fd)?;
        let listing = self.list(&fd)?;
        // Below the root without -L, files are opened in the directory's
        // descriptor while it can be held; with -L, by their path.
        let dir = self
            .anchor
            .is_some()
            .then(|| HeldDir::hold(fd).ok())
            .flatten();
        Ok(Frame {
            id,
            path: path.to_path_buf(),
            listing,
            dir,
            rules: self.rules(path, rel),
        })
    }
}

impl Iterator for Walk {
    type Item = Result<Entry, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.started = true;
            if let Some(item) = self.start() {
                return Some(item);
            }
        }
        loop {
            let top = self.stack.last_mut()?;
            let Some((name, kind)) = top.listing.pop() else {
                let done = self.stack.pop()?;
                if let Some(source) = done.listing.error {
                    // A failed readdir ended the listing: report it after
                    // what it did list.
                    let display = clean(done.path.as_os_str().as_bytes());
                    return Some(Err(io_error(display, source)));
                }
                continue;
            };
            let path = join(&top.path, name);
            let is_dir = matches!(kind, Kind::Dir { .. });
            if self.skips(rel_of(&path, self.skip), is_dir) {
                continue;
            }
            let display = clean(path.as_os_str().as_bytes());
            let id = match kind {
                Kind::File { size, key } => {
                    let source = match &self.anchor {
                        Some(root) => Source::Beneath {
                            root: root.clone(),
                            dir: self.stack.last().and_then(|top| top.dir.clone()),
                            skip: self.skip,
                        },
                        None => Source::Path,
                    };
                    return Some(Ok(Entry {
                        path,
                        display,
                        size,
                        source,
                        key,
                        known: None,
                        drift: Drift::default(),
                    }));
                }
                Kind::Failed(source) => return Some(Err(io_error(display, source))),
                Kind::Dir { id } => id,
            };
            // Without --one-file-system the listing stats no directory;
            // with it, every one (see `Walk::listing_stats_dirs`).
            let other_device = |id: (u64, u64)| self.stack.first().is_some_and(|r| r.id.0 != id.0);
            if !self.filter.crosses_devices() && id.is_some_and(other_device) {
                continue;
            }
            if let Some(frame) = id.and_then(|id| self.stack.iter().find(|f| f.id == id)) {
                let ancestor = frame.path.clone();
                return Some(Err(WalkError::Loop {
                    path: display,
                    ancestor,
                }));
            }
            match self.enter(&path, rel_of(&path, self.skip), &display) {
                Ok(frame) if self.stack.iter().any(|f| f.id == frame.id) => {
                    // Swapped since it was listed, for a directory on the branch.
                    let ancestor = self.stack.iter().find(|f| f.id == frame.id)?.path.clone();
                    return Some(Err(WalkError::Loop {
                        path: display,
                        ancestor,
                    }));
                }
                Ok(frame) => self.stack.push(frame),
                Err(source) => return Some(Err(io_error(display, source))),
            }
        }
    }
}

/// `dir` joined with `name` as [`Path::join`] joins them, in one allocation.
fn join(dir: &Path, name: &[u8]) -> PathBuf {
    let dir = dir.as_os_str().as_bytes();
    let mut joined = Vec::with_capacity(dir.len() + 1 + name.len());
    joined.extend_from_slice(dir);
    if !dir.is_empty() && !dir.ends_with(b"/") {
        joined.push(b'/');
    }
    joined.extend_from_slice(name);
    PathBuf::from(std::ffi::OsString::from_vec(joined))
}

fn io_error(path: Vec<u8>, source: io::Error) -> WalkError {
    WalkError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
    }

    fn raw(name: &[u8]) -> PathBuf {
        PathBuf::from(OsString::from(OsStr::from_bytes(name)))
    }

    /// The display paths of a walk, errors as `ERR <path>: <reason>`.
    fn walk(root: &Path, follow: bool) -> Vec<Vec<u8>> {
        Walk::new(root, follow)
            .map(|item| match item {
                Ok(e) => e.display,
                Err(e) => [b"ERR ".as_slice(), e.path(), b": ", e.reason().as_bytes()].concat(),
            })
            .collect()
    }

    /// Walks `dir` from inside as `.`, so displays are relative.
    fn walk_rel(dir: &Path, follow: bool) -> Vec<Vec<u8>> {
        let out = walk(dir, follow);
        let prefix = [dir.as_os_str().as_bytes(), b"/"].concat();
        out.into_iter()
            .map(|p| {
                p.strip_prefix(prefix.as_slice())
                    .map(<[u8]>::to_vec)
                    .unwrap_or(p)
            })
            .collect()
    }

    fn sorted(names: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
        v.sort();
        v
    }

    #[test]
    fn clean_matches_go_examples() {
        // Go's documented Clean examples and its cleantests, then Join's
        // examples (Join(a, b) is Clean(a + "/" + b)) and the roots we meet.
        let cases = "a/c a/c|a//c a/c|a/c/. a/c|a/c/b/.. a/c|/../a/c /a/c|/../a/b/../././/c /a/c|\
            abc abc|abc/def abc/def|. .|.. ..|../.. ../..|../../abc ../../abc|/abc /abc|/ /|\
            abc/ abc|./ .|../ ..|/abc/ /abc|abc//def//ghi abc/def/ghi|//abc /abc|///abc /abc|\
            //abc// /abc|abc/./def abc/def|/./abc/def /abc/def|abc/. abc|\
            abc/def/ghi/../jkl abc/def/jkl|abc/def/../ghi/../jkl abc/jkl|abc/def/.. abc|\
            abc/def/../.. .|/abc/def/../.. /|abc/def/../../.. ..|/abc/def/../../.. /|\
            abc/def/../../../ghi/jkl/../../../mno ../../mno|/../abc /abc|abc/./../def def|\
            abc//./../def def|abc/../../././../def ../../def|a/b/c a/b/c|a/b//c a/b/c|\
            a/b/../../../xyz ../xyz|./a/b a/b|dir//b dir/b|./x/../y/f y/f|..a/.b ..a/.b";
        assert_eq!(clean(b""), b".");
        for case in cases.split('|') {
            let (input, want) = case.split_once(' ').unwrap();
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "clean({input:?})");
        }
        assert_eq!(clean(b"./\xff\n/../\xfe"), b"\xfe");
    }

    #[test]
    fn io_reason_strips_os_error_suffix() {
        let err = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_reason(&err), "Permission denied");
        assert_eq!(io_reason(&io::Error::other("custom text")), "custom text");
    }

    #[test]
    fn order_is_bytewise_full_path_order() {
        let t = tempfile::tempdir().unwrap();
        let names: &[&[u8]] = &[
            b"a-b",
            b"a.b",
            b"a/x",
            b"a0",
            b"a/y/z",
            b"a/y-",
            b"b",
            b"B",
            b"a b",
            b"a/.h",
            b"\xff",
            b"c/d/e/f",
            b"c/d-e",
            b"c/d.e/g",
            b"new\nline",
            b"back\\slash",
        ];
        for name in names {
            touch(&t.path().join(raw(name)));
        }
        assert_eq!(walk_rel(t.path(), false), sorted(names));
        assert!(sorted(names).starts_with(&[b"B".to_vec(), b"a b".to_vec(), b"a-b".to_vec()]));
    }

    #[test]
    fn display_path_is_go_join_of_root_and_rel() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("dir/sub/f"));
        let base = t.path().as_os_str().as_bytes();
        let with = |suffix: &str| raw(&[base, suffix.as_bytes()].concat());
        let expect = [base, b"/dir/sub/f"].concat();
        for root in ["/dir", "/dir/", "/dir//", "/./dir/sub/..", "/dir/sub/../"] {
            assert_eq!(
                walk(&with(root), false),
                vec![expect.clone()],
                "root {root}"
            );
        }
        let e = Walk::new(with("/dir/"), false).next().unwrap().unwrap();
        assert_eq!(e.path, t.path().join("dir/sub/f"));
        assert_eq!(e.size, 0, "a listed file is not stat'ed");
        // A root that is a file is printed exactly as given.
        let file = with("/dir/./sub/f");
        let got = Walk::new(&file, false).next().unwrap().unwrap();
        assert_eq!(got.size, 1, "a root is stat'ed");
        assert_eq!(got.display, file.as_os_str().as_bytes());
        // A root of "." gives paths without "./".
        let here = Walk::new(".", false).next().unwrap().unwrap();
        assert!(!here.display.starts_with(b"./"), "{:?}", here.display);
    }

    #[test]
    fn empty_dir_yields_nothing_and_missing_root_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("empty")).unwrap();
        assert!(walk(t.path(), false).is_empty());
        let missing = t.path().join("nope/");
        let got = walk(&missing, false);
        let want = [
            b"ERR ",
            missing.as_os_str().as_bytes(),
            b": No such file or directory",
        ];
        assert_eq!(got, vec![want.concat()]);
    }

    #[test]
    fn symlinks_are_skipped_unless_followed() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("d/f"));
        touch(&t.path().join("g"));
        symlink("d", t.path().join("ld")).unwrap();
        symlink("g", t.path().join("lg")).unwrap();
        symlink("d", t.path().join("d-")).unwrap(); // sorts before "d/f" only as a file
        assert_eq!(walk_rel(t.path(), false), sorted(&[b"d/f", b"g"]));
        let followed = walk_rel(t.path(), true);
        assert_eq!(
            followed,
            vec![
                b"d-/f".to_vec(),
                b"d/f".to_vec(),
                b"g".to_vec(),
                b"ld/f".to_vec(),
                b"lg".to_vec()
            ]
        );
        // Roots are resolved either way, as find -H does.
        assert_eq!(
            walk(&t.path().join("lg"), false),
            vec![t.path().join("lg").as_os_str().as_bytes().to_vec()]
        );
        assert_eq!(walk_rel(&t.path().join("ld"), false), vec![b"f".to_vec()]);
    }

    #[test]
    fn followed_symlinked_dir_sorts_as_a_directory() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("real/x"));
        symlink("real", t.path().join("a")).unwrap();
        touch(&t.path().join("a-b"));
        touch(&t.path().join("a0"));
        assert_eq!(
            walk_rel(t.path(), true),
            sorted(&[b"a-b", b"a/x", b"a0", b"real/x"])
        );
    }

    #[test]
    fn dangling_symlink_is_an_error_only_when_followed() {
        let t = tempfile::tempdir().unwrap();
        symlink("nowhere", t.path().join("dangling")).unwrap();
        touch(&t.path().join("z"));
        assert_eq!(walk_rel(t.path(), false), vec![b"z".to_vec()]);
        let got = walk_rel(t.path(), true);
        let d = [t.path().as_os_str().as_bytes(), b"/dangling"].concat();
        assert_eq!(
            got,
            vec![
                [b"ERR ", d.as_slice(), b": No such file or directory"].concat(),
                b"z".to_vec()
            ]
        );
    }

    #[test]
    fn symlink_loops_are_errors_not_followed_forever() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("d/f"));
        symlink("..", t.path().join("d/up")).unwrap();
        symlink("self", t.path().join("self")).unwrap();
        let items: Vec<_> = Walk::new(t.path(), true).collect();
        assert_eq!(items.len(), 3, "{items:?}");
        let up = items[1].as_ref().unwrap_err();
        assert!(
            up.path().ends_with(b"/d/up") && matches!(up, WalkError::Loop { .. }),
            "{up:?}"
        );
        assert_eq!(up.reason(), LOOP_REASON);
        let me = items[2].as_ref().unwrap_err();
        assert_eq!(me.reason(), "Too many levels of symbolic links");
        assert!(me
            .to_string()
            .ends_with("/self: Too many levels of symbolic links"));
    }

    #[test]
    fn fifo_is_skipped_without_opening() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        touch(&t.path().join("file"));
        assert_eq!(walk_rel(t.path(), true), vec![b"file".to_vec()]);
        assert!(walk(&fifo, false).is_empty(), "a FIFO root is skipped too");
    }

    /// Permissions do not bind root, so as root the test runs itself again
    /// as `nobody` (the test binary and /tmp are reachable by everyone).
    #[test]
    fn unreadable_dir_is_an_error_and_the_walk_goes_on() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::process::CommandExt;
            let name = "walk::tests::unreadable_dir_is_an_error_and_the_walk_goes_on";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--test-threads=1"])
                .env("TMPDIR", "/tmp")
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{stdout}{out:?}"
            );
            return;
        }
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("a/f"));
        touch(&t.path().join("b/locked/f"));
        touch(&t.path().join("c"));
        let locked = t.path().join("b/locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let got = walk_rel(t.path(), false);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        let err = [
            b"ERR ",
            locked.as_os_str().as_bytes(),
            b": Permission denied",
        ]
        .concat();
        assert_eq!(got, vec![b"a/f".to_vec(), err, b"c".to_vec()]);
    }

    #[test]
    fn deep_tree_is_walked() {
        let t = tempfile::tempdir().unwrap();
        let mut rel = PathBuf::new();
        for _ in 0..200 {
            rel.push("d");
        }
        touch(&t.path().join(&rel).join("f"));
        touch(&t.path().join("d/g"));
        let got = walk_rel(t.path(), false);
        let deep = [rel.as_os_str().as_bytes(), b"/f"].concat();
        assert_eq!(got, vec![deep, b"d/g".to_vec()]);
    }
}
