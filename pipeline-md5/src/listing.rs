//! One directory, read whole through its descriptor and sorted for the
//! walk.
//!
//! The names live in one byte buffer and each child is a few words beside
//! it, so a directory of `n` entries costs about `n × (40 + name length)`
//! bytes while the walk is below it; only the directories on the current
//! branch are held at once. A directory of 200,000 entries with 20-byte
//! names holds about 12 MB.

use std::cmp::Ordering;
use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{statat, AtFlags, FileType, RawDir, Stat};

use crate::cache::Key;

/// What the walk knows of a child before it visits it.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A regular file, and its size and stat key when it was stat'ed (a
    /// symlink followed with `-L`, a file system that gives no type in its
    /// listing, or every file when the listing stats files for a cache);
    /// 0 and `None` when the listing's type was enough.
    File { size: u64, key: Option<Key> },
    /// A directory, and its device and inode when it was stat'ed (for an
    /// early loop check with `-L`; the walk checks again once it is open).
    Dir { id: Option<(u64, u64)> },
    /// `stat` (or, with `-L`, resolving the link) failed.
    Failed(io::Error),
}

impl Kind {
    /// The kind of what `stat` describes; `None` for what the walk skips
    /// (symlinks not followed, FIFOs, sockets, devices).
    pub(crate) fn of(stat: &Stat) -> Option<Kind> {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Some(Kind::File {
                size: u64::try_from(stat.st_size).unwrap_or(0),
                key: Some(Key::of_stat(stat)),
            }),
            FileType::Directory => Some(Kind::Dir {
                id: Some((stat.st_dev, stat.st_ino)),
            }),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Child {
    start: usize,
    len: usize,
    kind: Kind,
}

/// A directory's files, directories and failures, sorted so that a
/// depth-first walk gives bytewise-sorted full paths.
#[derive(Debug)]
pub(crate) struct Listing {
    names: Vec<u8>,
    /// Sorted in reverse, so that `pop` gives the next.
    children: Vec<Child>,
    /// A `readdir` that failed part way; the listing holds what came before.
    pub(crate) error: Option<io::Error>,
}

impl Listing {
    /// Reads the directory open at `dir`, from where its offset is. Symlinks are
    /// resolved if `follow_links`, else skipped with FIFOs and devices;
    /// directories are stat'ed (for their device and inode) if `stat_dirs`;
    /// regular files are stat'ed (for their [`Key`], relative to `dir`,
    /// following no symlink) if `stat_files`.
    ///
    /// # Errors
    ///
    /// Only if nothing could be read; a failure part way is kept in
    /// [`error`](Self::error).
    pub(crate) fn read(
        dir: BorrowedFd<'_>,
        follow_links: bool,
        stat_dirs: bool,
        stat_files: bool,
    ) -> io::Result<Listing> {
        let mut listing = Listing {
            names: Vec::new(),
            children: Vec::new(),
            error: None,
        };
        let mut buf = Vec::with_capacity(32 * 1024);
        let mut entries = RawDir::new(dir, buf.spare_capacity_mut());
        while let Some(dent) = entries.next() {
            let dent = match dent {
                Ok(dent) => dent,
                Err(err) => {
                    listing.error = Some(err.into());
                    break;
                }
            };
            let name = dent.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            // The listing's type is enough for files and directories: only
            // a symlink to follow, a file system that gives no type
            // (`DT_UNKNOWN`), a directory when its device matters
            // (`stat_dirs`), or a file when a cache needs its key
            // (`stat_files`), costs a `stat`.
            let stat = |flags| statat(dir, dent.file_name(), flags).map_err(io::Error::from);
            let kind = match dent.file_type() {
                FileType::RegularFile if !stat_files => Kind::File { size: 0, key: None },
                FileType::RegularFile => match stat(AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => match Kind::of(&st) {
                        Some(kind) => kind,
                        None => continue,
                    },
                    Err(err) => Kind::Failed(err),
                },
                FileType::Directory if !stat_dirs => Kind::Dir { id: None },
                FileType::Directory => match stat(AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => match Kind::of(&st) {
                        Some(kind) => kind,
                        None => continue,
                    },
                    Err(err) => Kind::Failed(err),
                },
                FileType::Symlink if follow_links => match stat(AtFlags::empty()) {
                    Ok(st) => match Kind::of(&st) {
                        Some(kind) => kind,
                        None => continue,
                    },
                    Err(err) => Kind::Failed(err),
                },
                FileType::Unknown => match stat(AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        if !follow_links {
                            continue;
                        }
                        match stat(AtFlags::empty()) {
                            Ok(st) => match Kind::of(&st) {
                                Some(kind) => kind,
                                None => continue,
                            },
                            Err(err) => Kind::Failed(err),
                        }
                    }
                    Ok(st) => match Kind::of(&st) {
                        Some(kind) => kind,
                        None => continue,
                    },
                    Err(err) => Kind::Failed(err),
                },
                _ => continue,
            };
            listing.push(name, kind);
        }
        let names = &listing.names;
        listing
            .children
            .sort_unstable_by(|a, b| sort_key_cmp(names, a, b).reverse());
        listing.names.shrink_to_fit();
        listing.children.shrink_to_fit();
        Ok(listing)
    }

    fn push(&mut self, name: &[u8], kind: Kind) {
        let start = self.names.len();
        self.names.extend_from_slice(name);
        self.children.push(Child {
            start,
            len: name.len(),
            kind,
        });
    }

    /// The next child in walk order: its name and kind.
    pub(crate) fn pop(&mut self) -> Option<(&[u8], Kind)> {
        let child = self.children.pop()?;
        Some((
            &self.names[child.start..child.start + child.len],
            child.kind,
        ))
    }
}

/// Orders two children of one directory so that a depth-first walk gives
/// bytewise-sorted full paths: names compare as bytes, a directory's name as
/// if it ended with `/`.
fn sort_key_cmp(names: &[u8], a: &Child, b: &Child) -> Ordering {
    fn key<'a>(names: &'a [u8], c: &Child) -> impl Iterator<Item = &'a u8> {
        let slash: &[u8] = if matches!(c.kind, Kind::Dir { .. }) {
            b"/"
        } else {
            b""
        };
        names[c.start..c.start + c.len].iter().chain(slash)
    }
    key(names, a).cmp(key(names, b))
}
