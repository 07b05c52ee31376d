//! The new cache while a run writes it, and how it takes the old one's
//! place.
//!
//! Where the file system allows it, the new cache is an unnamed file in
//! the cache's directory (`O_TMPFILE`): a process killed outright leaves
//! nothing behind (the kernel frees a file no name and no descriptor hold),
//! and a walk of the directory, this run's or another's, never meets it.
//! At the end it is given a name beside the cache (`linkat` of
//! `/proc/self/fd/N`, following that link to the open file) and renamed
//! over the cache, so a reader sees one cache or the other whole. Where
//! the file system refuses unnamed files (or `/proc` is not there to link
//! one), the new cache is the named file `.NAME.PID.N.tmp` from the start,
//! removed on failure and renamed at the end.
//!
//! Either way the name the new cache has for a moment is
//! `.NAME.PID.N.tmp`; [`is_temp_name`] tells a run to leave such names
//! beside its cache out of its walk.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Mode, OFlags, CWD};

/// How many names [`Temp`] tries before giving up (each one taken by
/// another file).
const TRIES: u32 = 1000;

/// The new cache being written; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Temp {
    file: File,
    /// The named file, removed when dropped (`None`: unnamed).
    named: Option<tempfile::TempPath>,
    dir: PathBuf,
    name: OsString,
}

/// Whether `file_name` is one a [`Temp`] beside a cache named `cache`
/// takes: `.CACHE.*.tmp`.
pub(crate) fn is_temp_name(file_name: &[u8], cache: &[u8]) -> bool {
    file_name.len() > cache.len() + 6
        && file_name[0] == b'.'
        && file_name[1..].starts_with(cache)
        && file_name[1 + cache.len()] == b'.'
        && file_name.ends_with(b".tmp")
}

/// The name `DIR/.NAME.PID.N.tmp` of try `n`.
fn temp_path(dir: &Path, name: &OsStr, n: u32) -> PathBuf {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut file_name = OsString::from(".");
    file_name.push(name);
    file_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        seed.wrapping_add(n)
    ));
    dir.join(file_name)
}

/// Whether an `O_TMPFILE` open failed because the file system (or the
/// kernel) does not make unnamed files, rather than for a reason a named
/// file would meet as well.
fn unnamed_refused(err: &rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL].contains(err)
}

impl Temp {
    /// A new file for the cache `DIR/NAME`, readable and writable by its
    /// owner only: unnamed if the file system allows, else
    /// `DIR/.NAME.PID.N.tmp`. `unnamed` false makes it named whatever the
    /// file system allows (the tests of the fallback).
    ///
    /// # Errors
    ///
    /// Nothing can be created in `dir`.
    pub(crate) fn beside(dir: &Path, name: &OsStr, unnamed: bool) -> io::Result<Temp> {
        let linkable = unnamed && Path::new("/proc/self/fd").is_dir();
        if linkable {
            let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
            match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => {
                    return Ok(Temp {
                        file: File::from(fd),
                        named: None,
                        dir: dir.to_path_buf(),
                        name: name.to_os_string(),
                    })
                }
                Err(err) if unnamed_refused(&err) => {}
                Err(err) => return Err(err.into()),
            }
        }
        for n in 0..TRIES {
            let path = temp_path(dir, name, n);
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match created {
                Ok(file) => {
                    return Ok(Temp {
                        file,
                        named: Some(tempfile::TempPath::try_from_path(path)?),
                        dir: dir.to_path_buf(),
                        name: name.to_os_string(),
                    })
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
        }
        Err(io::Error::from_raw_os_error(libc::EEXIST))
    }

    /// The file written.
    pub(crate) fn as_file(&self) -> &File {
        &self.file
    }

    /// Whether the file has no name (`O_TMPFILE`).
    #[cfg(test)]
    pub(crate) fn is_unnamed(&self) -> bool {
        self.named.is_none()
    }

    /// Puts the file, written whole, in place of `target` (a `rename`,
    /// so a reader sees the old file or the new one): an unnamed file is
    /// first linked to a name beside the cache.
    ///
    /// # Errors
    ///
    /// Linking or renaming failed; `target` is then as it was, and no
    /// name of the new file is left behind.
    pub(crate) fn persist(self, target: &Path) -> io::Result<()> {
        if let Some(named) = self.named {
            return named.persist(target).map_err(|err| err.error);
        }
        let fd = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        for n in 0..TRIES {
            let path = temp_path(&self.dir, &self.name, n);
            match rustix::fs::linkat(CWD, fd.as_str(), CWD, &path, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => {
                    let named = tempfile::TempPath::try_from_path(path)?;
                    return named.persist(target).map_err(|err| err.error);
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(io::Error::from_raw_os_error(libc::EEXIST))
    }
}

impl Write for Temp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// The names in `dir`.
    fn names(dir: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_unnamed_file_shows_no_name_until_it_replaces_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c"), b"old").unwrap();
        let mut temp = Temp::beside(dir.path(), OsStr::new("c"), true).unwrap();
        if !temp.is_unnamed() {
            eprintln!("this file system makes no unnamed files: the named one is tested");
        }
        temp.write_all(b"new").unwrap();
        if temp.is_unnamed() {
            assert_eq!(names(dir.path()), ["c"]);
        }
        temp.persist(&dir.path().join("c")).unwrap();
        assert_eq!(names(dir.path()), ["c"]);
        assert_eq!(std::fs::read(dir.path().join("c")).unwrap(), b"new");
    }

    #[test]
    fn a_named_file_replaces_the_cache_or_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut temp = Temp::beside(dir.path(), OsStr::new("c"), false).unwrap();
        assert!(!temp.is_unnamed());
        temp.write_all(b"new").unwrap();
        let listed = names(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(is_temp_name(listed[0].as_bytes(), b"c"), "{listed:?}");
        temp.persist(&dir.path().join("c")).unwrap();
        assert_eq!(names(dir.path()), ["c"]);

        drop(Temp::beside(dir.path(), OsStr::new("c"), false).unwrap());
        assert_eq!(names(dir.path()), ["c"], "dropped unkept: removed");
    }

    #[test]
    fn an_unnamed_file_dropped_unkept_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut temp = Temp::beside(dir.path(), OsStr::new("c"), true).unwrap();
        temp.write_all(b"new").unwrap();
        drop(temp);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn temp_names_are_dot_cache_dot_anything_dot_tmp() {
        assert!(is_temp_name(b".c.1.2.tmp", b"c"));
        assert!(is_temp_name(b".cache.123.4.tmp", b"cache"));
        assert!(!is_temp_name(b".c.tmp", b"c"));
        assert!(!is_temp_name(b".cx.1.tmp", b"c"));
        assert!(!is_temp_name(b"c.1.2.tmp", b"c"));
        assert!(!is_temp_name(b".c.1.2.tm", b"c"));
        assert!(!is_temp_name(b".c", b"c"));
    }
}
