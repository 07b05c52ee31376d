//! A cache of digests beside a tree, so that a run reads again only the
//! files that changed since the last one (`md5pipe --cache FILE`).
//!
//! # What a run does
//!
//! The cache holds one [`Record`] per file: its path as printed, its
//! [`Key`] (size, modification and change times in nanoseconds, inode and
//! device) and its digest, sorted by the bytes of the path, which is the
//! order md5pipe's walk yields one root's files in. So a run joins the
//! two as it goes, holding one record at a time:
//!
//! 1. The walk stats each file as it lists its directory (relative to the
//!    directory's descriptor; one `stat` per file, before the file is
//!    read). If the cache's record for that path has the same key, the
//!    digest is the record's: the file is not opened. Otherwise it is
//!    read as without a cache.
//! 2. Each digest the run hands out, in order, is written to a new cache
//!    with the key its walk took: a file without a name in the cache's
//!    directory (`O_TMPFILE`; a named `.NAME.PID.N.tmp` beside the cache
//!    where the file system makes no unnamed files, see `cache/temp.rs`). Files
//!    that were not found are dropped; files that failed are left out.
//!    A directory that could not be read (or a root, or a file that could
//!    not be stat'ed) keeps the old records at and below it: what is
//!    there is not known to have changed, and the next run that can read
//!    it checks each record's key as usual.
//! 3. At the end the new cache replaces the old one (a `rename`, so a
//!    reader sees one or the other whole), unless it would hold the same
//!    records: as long as every file's digest came from its old record,
//!    with no old record passed over, nothing is written; the first
//!    difference copies the old records so far into the new cache, and the
//!    run goes on writing it. An unchanged tree leaves its cache
//!    untouched. If the run stopped early (a signal, a closed output,
//!    `--fail-fast`), the old records after the
//!    last path handed out are copied in first: the cache then holds
//!    everything learnt so far and the next run goes on from there. A
//!    process killed outright leaves the old cache as it was, and nothing
//!    else (but for the named file where unnamed ones are refused).
//!
//! A cache inside the tree walked is left out of the walk, and so are
//! names `.NAME.*.tmp` beside it: this run's new cache and another run's
//! at the moment it is put in place.
//!
//! # What it trusts
//!
//! A file whose key is unchanged is taken to have unchanged contents. The
//! change time (`ctime`) carries the weight: the kernel sets it to the
//! current time on every write, truncation, `chmod` or `utime`, and no
//! call sets it to a chosen value, so a file written and then given back
//! its old modification time (as `touch -d`, `cp -p`, `rsync -t`, `tar`
//! do) still shows a new key. What fools it: writing to the raw device
//! under the file system, changing the system clock back to the same
//! instant, or a file system that does not keep change times.
//!
//! Times are as fine as the file system keeps them (1 ns on ext4, XFS,
//! btrfs and tmpfs, 1 s on ext3 or ext4 with small inodes, 2 s for FAT's
//! modification time), and a file changed twice within one such step
//! shows the same times twice: the "racy git" problem. So a record is
//! kept only for a file whose modification and change times are both
//! well before the run started ([`Key::settled`]): at least 1 s before it
//! when either time has a fraction of a second (a file system that keeps
//! fine times), at least 3 s when both are whole seconds. A file changed
//! after its `stat` in the same step then has times later than that,
//! which were not trusted. Files changed just before a run are read
//! again by the next one; a file whose times are in the future is read
//! every time. The margin also covers a file system clock (a network
//! server's) that lags this machine's by less than it.
//!
//! # A cache that is not right
//!
//! Every frame of the file carries an MD5 of itself and its place, and a
//! record is used only once its frame was read whole and checked (see
//! [`file`]). A cache cut short, damaged or out of order is used up to
//! the damage and no further: the files after it are read (a cold run
//! from there) and the run reports it; the new cache is whole again. A
//! file that is not a cache at all (another file given by mistake), or
//! a cache of a format this version does not read, is refused before
//! anything is read and left as it is. An empty file is an empty cache.
//! The checks find accidents, not forgeries: whoever can write the cache
//! can make md5pipe print a digest a file does not have, as whoever can
//! write a manifest can.
//!
//! A record's file is not opened, so a record could tell a user the
//! digest of a file they may not read. A cache's records are used only by
//! the user who owns the cache file (its writer), and by root: a cache of
//! another user's is read as no cache (every file is read, with a
//! warning) and replaced by the run's own. A file made unreadable since
//! its record was written (`chmod`) has a new change time, so it is read
//! again and its error reported; a user who has since lost a group that
//! let them read a file still gets its record.

mod file;
mod join;
mod temp;

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::walk::io_reason;

use file::{Reader, Start};
pub(crate) use join::{open, Recorder, Shared};

/// What a file's `stat` says that a change of its contents changes: the
/// cache's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Change time (of the contents or the inode): seconds and
    /// nanoseconds since the epoch.
    pub ctime: (i64, u32),
    /// Inode number.
    pub ino: u64,
    /// Device of the file system.
    pub dev: u64,
}

/// How long before a run a file's times must be when either has a
/// fraction of a second, for the run to keep its record.
pub const SETTLE_FINE: Duration = Duration::from_secs(1);

/// How long before a run a file's times must be when both are whole
/// seconds (a file system keeping seconds, or FAT's two).
pub const SETTLE_COARSE: Duration = Duration::from_secs(3);

impl Key {
    /// The key of what `stat` returned.
    // The field types of `stat` differ by target (`i64` here, `i32`
    // there): the conversions are useless only on some.
    #[allow(clippy::useless_conversion)]
    pub(crate) fn of_stat(st: &rustix::fs::Stat) -> Key {
        Key {
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (
                i64::try_from(st.st_mtime).unwrap_or(0),
                u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            ),
            ctime: (
                i64::try_from(st.st_ctime).unwrap_or(0),
                u32::try_from(st.st_ctime_nsec).unwrap_or(0),
            ),
            ino: u64::try_from(st.st_ino).unwrap_or(0),
            dev: u64::try_from(st.st_dev).unwrap_or(0),
        }
    }

    /// The key of `meta`.
    pub(crate) fn of_metadata(meta: &std::fs::Metadata) -> Key {
        Key {
            size: meta.size(),
            mtime: (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0)),
            ctime: (meta.ctime(), u32::try_from(meta.ctime_nsec()).unwrap_or(0)),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// Whether a run that started at `start` and took this key may keep
    /// it for the next run: both times at least [`SETTLE_FINE`] before
    /// `start` ([`SETTLE_COARSE`] if both are whole seconds). See the
    /// [module docs](self) for why.
    pub fn settled(&self, start: SystemTime) -> bool {
        let ns = |(s, n): (i64, u32)| i128::from(s) * 1_000_000_000 + i128::from(n);
        let start = match start.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        let margin = if self.mtime.1 == 0 && self.ctime.1 == 0 {
            SETTLE_COARSE
        } else {
            SETTLE_FINE
        };
        ns(self.mtime).max(ns(self.ctime)) + margin.as_nanos() as i128 <= start
    }
}

/// One file in the cache: its path as printed, its key, its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The path, raw bytes, as md5pipe prints it.
    pub path: Vec<u8>,
    /// The file's key when it was read.
    pub key: Key,
    /// The file's MD5.
    pub digest: [u8; 16],
}

/// What a run did with its cache, once kept ([`crate::Digests::save_cache`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The cache file kept.
    pub path: PathBuf,
    /// Files whose digest came from the cache (not read).
    pub unchanged: u64,
    /// Records the cache holds now.
    pub kept: u64,
    /// The cache was written anew; `false` when it would have held the
    /// same records, and was left as it was.
    pub rewritten: bool,
    /// Files digested but not kept: changed too recently to trust their
    /// times ([`Key::settled`]), or changed while they were read.
    pub recent: u64,
    /// Records of the old cache for paths the run did not find.
    pub dropped: u64,
    /// The run went through the whole tree; otherwise the old records
    /// after the last file it handed out were kept as they were.
    pub complete: bool,
    /// Why the old cache was used only in part, or not at all (damage,
    /// another algorithm), worded for a warning.
    pub warning: Option<String>,
}

/// The reason for `err` as md5sum words it, without the path some
/// errors (tempfile's) add to their text.
fn os_reason(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => io_reason(&io::Error::from_raw_os_error(code)),
        None => io_reason(err),
    }
}

/// What is found at the cache's path before a run.
struct Found {
    /// The old cache, ready to read its records (`None`: there is none,
    /// or none usable).
    reader: Option<Reader<File>>,
    /// Its permissions, for the new one.
    mode: Option<u32>,
    /// Why it is not used whole.
    warning: Option<String>,
    /// The device and inode of the old cache, when it is read.
    id: Option<(u64, u64)>,
}

impl Found {
    fn new(reader: Option<Reader<File>>, mode: Option<u32>, warning: Option<String>) -> Found {
        Found {
            reader,
            mode,
            warning,
            id: None,
        }
    }
}

/// The old cache at `path`.
fn open_old(path: &Path) -> Result<Found, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Ok(Found::new(None, None, None))
        }
        Err(err) => return Err(io_reason(&err)),
        Ok(file) => file,
    };
    let meta = file.metadata().map_err(|err| io_reason(&err))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mode = Some(meta.mode());
    if meta.len() == 0 {
        return Ok(Found::new(None, mode, None));
    }
    match Reader::start(file).map_err(|err| io_reason(&err))? {
        // A record's file is not opened, so a cache another user wrote
        // could give this one the digests of files they cannot read: its
        // records serve only the user who wrote it, and root, who reads
        // every file. (Asked of a cache only: what is not one is refused
        // below, whoever owns it.)
        Start::Cache(_) if !owned_by_us(&meta) => {
            let warning = "written by another user, not used; every file was read".to_string();
            Ok(Found::new(None, mode, Some(warning)))
        }
        Start::Cache(reader) => Ok(Found {
            id: Some((meta.dev(), meta.ino())),
            ..Found::new(Some(reader), mode, None)
        }),
        Start::Foreign => Err("not an md5pipe cache; left as it is".into()),
        Start::Version(v) => Err(format!(
            "a cache of format {v}, which this md5pipe does not read; left as it is"
        )),
        Start::Algorithm(name) => {
            let warning = format!("holds {name} digests, not used");
            Ok(Found::new(None, mode, Some(warning)))
        }
        Start::Damaged(damage) => Ok(Found::new(None, mode, Some(format!("{damage}; not used")))),
    }
}

/// Whether this process's user owns the file of `meta`, or is root.
fn owned_by_us(meta: &std::fs::Metadata) -> bool {
    let user = rustix::process::geteuid();
    user.is_root() || meta.uid() == user.as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(mtime: (i64, u32), ctime: (i64, u32)) -> Key {
        Key {
            size: 1,
            mtime,
            ctime,
            ino: 2,
            dev: 3,
        }
    }

    #[test]
    fn a_key_is_kept_only_once_both_times_are_a_margin_before_the_run() {
        let start = UNIX_EPOCH + Duration::new(1000, 500_000_000);
        // Fine times: 1 s before the start, both of them.
        assert!(key((999, 500_000_000), (999, 400_000_000)).settled(start));
        assert!(!key((999, 500_000_001), (900, 1)).settled(start));
        assert!(!key((900, 1), (999, 600_000_000)).settled(start));
        // Whole seconds: 3 s.
        assert!(key((997, 0), (997, 0)).settled(start));
        assert!(!key((998, 0), (990, 0)).settled(start));
        // The future, and before the epoch.
        assert!(!key((5000, 1), (10, 1)).settled(start));
        assert!(key((-10, 1), (-10, 1)).settled(start));
    }
}
