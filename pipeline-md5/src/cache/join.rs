//! The join of a run with its cache: the walk's side looks each file up
//! in the old cache ([`Walking`]), the consumer's side writes each digest
//! handed out, with the key the walk took, to the new one ([`Recorder`]).
//! Both go in path order; between them travel only the keys of the files
//! in flight.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::file::{Reader, Start, Writer};
use super::temp::{is_temp_name, Temp};
use super::{open_old, os_reason, Found, Key, Record, Summary};
use crate::algorithm::Hash;
use crate::digest::Sum;
use crate::error::Error;
use crate::walk::{clean, io_reason, Drift, Entry, WalkError};
use crate::FileDigest;

/// What the walk and the consumer of a run share: the old cache, read by
/// the walk, and the keys of the files in flight, for the consumer to
/// write with their digests.
#[derive(Debug)]
pub(crate) struct Shared {
    old: Mutex<Old>,
    pending: Mutex<VecDeque<Pending>>,
    unchanged: AtomicU64,
    dropped: AtomicU64,
    warning: Mutex<Option<String>>,
    /// The device and inode of the old cache and of the new one being
    /// written: files of the cache itself, never digested when the cache
    /// lies inside the tree.
    own: Vec<(u64, u64)>,
    /// The device and inode of the cache's directory, and the cache's
    /// name: the walk also leaves out that name and the temporary names
    /// beside it (another run's new cache, for the moment it has one).
    own_dir: Option<(u64, u64)>,
    own_name: Vec<u8>,
}

/// What the walk hands the consumer, in path order.
#[derive(Debug)]
enum Pending {
    /// The key of a file walked, for the consumer to write with its
    /// digest, whether that digest is the old record's, and the flag its
    /// digester raises if the file it read was not the one with that key.
    Key(Vec<u8>, Key, bool, Drift),
    /// An old record at or below a path the walk could not read, kept as
    /// it was.
    Kept(Record),
}

impl Pending {
    fn path(&self) -> &[u8] {
        match self {
            Pending::Key(path, ..) => path,
            Pending::Kept(record) => &record.path,
        }
    }
}

/// The old cache as the walk reads it: the reader (`None` at its end or
/// after damage) and the record read but not yet passed.
#[derive(Debug, Default)]
struct Old {
    reader: Option<Reader<File>>,
    head: Option<Record>,
}

impl Shared {
    fn warn(&self, text: String) {
        let mut warning = self.warning.lock().unwrap_or_else(|p| p.into_inner());
        warning.get_or_insert(text);
    }

    /// Whether `display` (a path the walk found) names the cache or a
    /// temporary name beside it (see [`super::temp`]): only a name that
    /// matches is looked at further, with a `stat` of its directory.
    fn is_own_path(&self, display: &[u8]) -> bool {
        let (dir, name) = match display.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &display[1..]),
            Some(at) => (&display[..at], &display[at + 1..]),
            None => (&b"."[..], display),
        };
        if name != self.own_name.as_slice() && !is_temp_name(name, &self.own_name) {
            return false;
        }
        let dir = std::fs::metadata(OsStr::from_bytes(dir)).ok();
        dir.is_some_and(|m| Some((m.dev(), m.ino())) == self.own_dir)
    }

    /// The walk's side of the join, held for the walk's length.
    pub(crate) fn walking(&self) -> Walking<'_> {
        Walking {
            shared: self,
            old: self.old.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// The walk's side: looks each walked file up in the old cache.
pub(crate) struct Walking<'a> {
    shared: &'a Shared,
    old: MutexGuard<'a, Old>,
}

impl Walking<'_> {
    /// The old record at the head, read if needed; `None` at the end or
    /// after damage (reported once).
    fn head(&mut self) -> Option<&Record> {
        let old = &mut *self.old;
        if old.head.is_none() {
            match old.reader.as_mut()?.next() {
                Some(Ok(record)) => old.head = Some(record),
                Some(Err(damage)) => {
                    old.reader = None;
                    self.shared
                        .warn(format!("{damage}; the files after it were read again"));
                }
                None => old.reader = None,
            }
        }
        old.head.as_ref()
    }

    /// Looks `entry` up: if the old cache has a record for its path with
    /// its key, the entry's digest is known. Its key is queued for the
    /// consumer either way. Entries must come in bytewise path order (one
    /// out of order is only not found). Returns `false` for the cache's
    /// own files (the old cache, the new one being written), which the
    /// walk leaves out.
    pub(crate) fn entry(&mut self, entry: &mut Entry) -> bool {
        let Some(key) = entry.key else { return true };
        if self.shared.own.contains(&(key.dev, key.ino)) || self.shared.is_own_path(&entry.display)
        {
            return false;
        }
        while let Some(head) = self.head() {
            match head.path.as_slice().cmp(&entry.display) {
                std::cmp::Ordering::Less => {
                    self.old.head = None;
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                std::cmp::Ordering::Equal => {
                    let record = self.old.head.take().expect("the head was just read");
                    if record.key == key {
                        entry.known = Some(Sum {
                            hash: Hash::md5(record.digest),
                            size: key.size,
                        });
                        self.shared.unchanged.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let hit = entry.known.is_some();
        if !hit {
            entry.drift = Drift::watched();
        }
        let drift = entry.drift.clone();
        pending.push_back(Pending::Key(entry.display.clone(), key, hit, drift));
        true
    }

    /// Takes note of a walk error: returns `false` for one about the
    /// cache's own names (another run's new cache vanishing between the
    /// listing and the `stat`), which the walk leaves out. The old
    /// records at and below a path that could not be read (a directory,
    /// a root, a file that could not be stat'ed) are kept as they were;
    /// those of a path that vanished are dropped with the others the walk
    /// passes. Errors must come in their place in the walk's order.
    pub(crate) fn failed(&mut self, err: &WalkError) -> bool {
        if self.shared.is_own_path(err.path()) {
            return false;
        }
        let vanished = err.io_error().is_none_or(|source| {
            matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            )
        });
        if vanished {
            return true;
        }
        let path = clean(err.path());
        let prefix = match path.as_slice() {
            b"." => Vec::new(),
            p if p.ends_with(b"/") => p.to_vec(),
            p => [p, b"/"].concat(),
        };
        while let Some(head) = self.head() {
            let at = head.path.as_slice();
            if at == path.as_slice() || at.starts_with(&prefix) {
                let record = self.old.head.take().expect("the head was just read");
                let mut pending = self
                    .shared
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                pending.push_back(Pending::Kept(record));
            } else if at < prefix.as_slice() {
                self.old.head = None;
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                break;
            }
        }
        true
    }

    /// Counts the old records left as dropped: the walk has ended.
    fn drain(&mut self) {
        while self.head().is_some() {
            self.old.head = None;
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The consumer's side: writes each digest handed out, with its key, to
/// the new cache, and keeps the new cache at the end.
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    /// The cache to replace.
    path: PathBuf,
    /// The new cache, until kept or failed.
    writer: Option<Writer<Temp>>,
    /// The first error writing it.
    failed: Option<io::Error>,
    /// When the run started: keys later than this (less the margins) are
    /// not kept.
    start: SystemTime,
    /// The last path handed out.
    last: Option<Vec<u8>>,
    /// The old cache, opened again, while the new one is the same so far
    /// (see [`Recorder::differs`]).
    same_as: Option<File>,
    /// While the new cache is the same as the old one so far, the path of
    /// its last record: the records up to it are not written, unless a
    /// difference comes.
    same_to: Option<Vec<u8>>,
    kept: u64,
    recent: u64,
    complete: bool,
}

/// Opens the cache at `path` for a run: reads the start of the old one
/// (if any), and starts the new one beside it. Returns the walk's and
/// the consumer's sides.
///
/// # Errors
///
/// [`Error::Cache`]: the old cache cannot be read, is not a cache, or is
/// of a format this version does not read; or nothing can be written
/// beside it.
pub(crate) fn open(path: &Path) -> Result<(Arc<Shared>, Recorder), Error> {
    let start = SystemTime::now();
    let failed = |reason: String| Error::Cache {
        path: path.to_path_buf(),
        reason,
    };
    // A symlink is followed, and its target replaced (created, when the
    // link dangles, as `> LINK` would create it).
    let target = resolve_links(path).map_err(|err| failed(io_reason(&err)))?;
    let Found {
        reader: old,
        mode,
        warning,
        id,
    } = open_old(&target).map_err(failed)?;
    // A second reader of the old cache, for the records to copy once the
    // new one differs from it: the same file (another run may have put
    // its cache in place meanwhile).
    let same_as = id.and_then(|id| {
        File::open(&target)
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| (m.dev(), m.ino()) == id))
    });
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target.file_name().unwrap_or(OsStr::new("cache"));
    let mut own: Vec<(u64, u64)> = std::fs::metadata(&target)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
        .into_iter()
        .collect();
    let own_dir = std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()));
    let temp = Temp::beside(dir, name, unnamed_temp())
        .and_then(|temp| {
            if let Some(mode) = mode {
                let perms = std::fs::Permissions::from_mode(mode & 0o7777);
                temp.as_file().set_permissions(perms)?;
            }
            let meta = temp.as_file().metadata()?;
            own.push((meta.dev(), meta.ino()));
            Ok(temp)
        })
        .and_then(Writer::new)
        .map_err(|err| failed(format!("cannot write beside it: {}", os_reason(&err))))?;
    let shared = Arc::new(Shared {
        old: Mutex::new(Old {
            reader: old,
            head: None,
        }),
        pending: Mutex::default(),
        unchanged: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        warning: Mutex::new(warning),
        own,
        own_dir,
        own_name: name.as_bytes().to_vec(),
    });
    let recorder = Recorder {
        shared: shared.clone(),
        path: target,
        writer: Some(temp),
        failed: None,
        start,
        last: None,
        same_as,
        same_to: None,
        kept: 0,
        recent: 0,
        complete: false,
    };
    Ok((shared, recorder))
}

/// Whether the new cache may be an unnamed file: unless
/// `MD5PIPE_TEST_NAMED_TEMP` is set, for the tests of the named one.
fn unnamed_temp() -> bool {
    std::env::var_os("MD5PIPE_TEST_NAMED_TEMP").is_none()
}

/// `path` with its symlinks followed, the last of them possibly dangling:
/// the file a cache at `path` is read from and written to.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    // As many links as the kernel follows before ELOOP.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {}
            _ => return Ok(path),
        }
        match std::fs::canonicalize(&path) {
            Ok(target) => return Ok(target),
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            Err(_) => {}
        }
        let link = std::fs::read_link(&path)?;
        path = match path.parent() {
            Some(dir) => dir.join(link),
            None => link,
        };
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

impl Recorder {
    /// Takes note of an item the run hands out: a digest is written with
    /// its key; the end (`None`) of a run not `cancelled` means the run
    /// went through the tree.
    pub(crate) fn saw(&mut self, item: Option<&Result<FileDigest, Error>>, cancelled: bool) {
        let digest = match item {
            None => {
                self.complete = !cancelled;
                return;
            }
            Some(Ok(digest)) => digest,
            Some(Err(_)) => return,
        };
        let path = digest.path_bytes();
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(path);
        let key = {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let mut kept = Vec::new();
            let mut unsent = false;
            let key = loop {
                match pending.front() {
                    Some(p) if p.path() < path => match pending.pop_front() {
                        Some(Pending::Kept(record)) => kept.push(record),
                        // Walked, not handed out: it failed.
                        _ => unsent = true,
                    },
                    Some(Pending::Key(p, key, hit, drift)) if p.as_slice() == path => {
                        let key = (*key, *hit, drift.raised());
                        pending.pop_front();
                        break Some(key);
                    }
                    _ => break None,
                }
            };
            drop(pending);
            if unsent || self.shared.dropped.load(Ordering::Relaxed) > 0 {
                self.differs();
            }
            for record in &kept {
                self.push_same(record);
            }
            key
        };
        let Some((key, hit, drifted)) = key else {
            return;
        };
        if drifted || !key.settled(self.start) || key.size != digest.size {
            self.recent += 1;
            self.differs();
            return;
        }
        // The cache keeps MD5s only (`--cache` refuses other algorithms).
        let Some(md5) = digest.sum.to_md5() else {
            return;
        };
        let record = Record {
            path: path.to_vec(),
            key,
            digest: md5,
        };
        if hit {
            self.push_same(&record);
        } else {
            self.differs();
            self.push(&record);
        }
    }

    /// Adds `record`, the same as the old cache's record for its path:
    /// not written while the new cache is the same as the old one so far.
    fn push_same(&mut self, record: &Record) {
        if self.same_as.is_none() {
            return self.push(record);
        }
        let to = self.same_to.get_or_insert_with(Vec::new);
        to.clear();
        to.extend_from_slice(&record.path);
        self.kept += 1;
    }

    /// The new cache differs from the old one: the old records up to the
    /// last one added are written to it, and from now on every record is.
    fn differs(&mut self) {
        let Some(old) = self.same_as.take() else {
            return;
        };
        let Some(to) = self.same_to.take() else {
            return;
        };
        self.kept = 0;
        let Ok(Start::Cache(reader)) = Reader::start(old) else {
            return;
        };
        for record in reader {
            let Ok(record) = record else { break };
            if record.path > to {
                break;
            }
            self.push(&record);
            if self.writer.is_none() {
                break;
            }
        }
    }

    fn push(&mut self, record: &Record) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.push(record) {
            Ok(()) => self.kept += 1,
            Err(err) => {
                self.failed = Some(err);
                self.writer = None;
            }
        }
    }

    /// Keeps the new cache in place of the old one: whole if the run went
    /// through the tree, else with the old records after the last path
    /// handed out. Call it once the run has ended or been cancelled; a
    /// second call does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] if the new cache could not be written or put in
    /// place; the old one is then as it was.
    pub(crate) fn save(&mut self) -> Result<Summary, Error> {
        let path = self.path.clone();
        let failed = |reason: String| Error::Cache {
            path: path.clone(),
            reason,
        };
        if let Some(err) = self.failed.take() {
            return Err(failed(format!("cannot write: {}", os_reason(&err))));
        }
        if self.writer.is_none() {
            return Err(failed("already kept".into()));
        }
        if self.complete {
            // The old records kept below the last paths the walk could
            // not read.
            let kept: Vec<Pending> = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
                .collect();
            for pending in kept {
                match pending {
                    Pending::Kept(record) => self.push_same(&record),
                    // Walked, not handed out: it failed.
                    Pending::Key(..) => self.differs(),
                }
            }
            // The walk has ended: what it did not reach was not found.
            if let Ok(old) = self.shared.old.try_lock() {
                Walking {
                    shared: &self.shared,
                    old,
                }
                .drain();
            }
            if self.shared.dropped.load(Ordering::Relaxed) > 0 {
                self.differs();
            }
        }
        let warning = self
            .shared
            .warning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if warning.is_some() {
            // The old cache is damaged: the new one is whole.
            self.differs();
        }
        let rewritten = self.same_as.is_none();
        if !rewritten {
            // The same records as the old cache (a run stopped early
            // would add the old ones after its last): left as it is.
            self.writer = None;
        } else if !self.complete {
            self.carry_old_tail();
        }
        if let Some(err) = self.failed.take() {
            return Err(failed(format!("cannot write: {}", os_reason(&err))));
        }
        if let Some(writer) = self.writer.take().filter(|_| rewritten) {
            let temp = writer
                .finish()
                .map_err(|err| failed(format!("cannot write: {}", os_reason(&err))))?;
            temp.persist(&self.path)
                .map_err(|err| failed(format!("cannot replace it: {}", os_reason(&err))))?;
        }
        Ok(Summary {
            path: self.path.clone(),
            unchanged: self.shared.unchanged.load(Ordering::Relaxed),
            kept: self.kept,
            rewritten,
            recent: self.recent,
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            complete: self.complete,
            warning,
        })
    }

    /// Copies the records of the cache on disk after the last path handed
    /// out (the run stopped before it got there), up to any damage.
    fn carry_old_tail(&mut self) {
        let Ok(file) = File::open(&self.path) else {
            return;
        };
        let Ok(Start::Cache(reader)) = Reader::start(file) else {
            return;
        };
        let last = self.last.clone().or_else(|| {
            self.writer
                .as_ref()
                .and_then(|w| w.last().map(<[u8]>::to_vec))
        });
        for record in reader {
            let Ok(record) = record else { break };
            if last
                .as_deref()
                .is_some_and(|last| record.path.as_slice() <= last)
            {
                continue;
            }
            self.push(&record);
            if self.writer.is_none() {
                break;
            }
        }
    }
}
