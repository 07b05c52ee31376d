//! Opening what the walk found relative to the root's directory
//! descriptor, never through a symbolic link.
//!
//! The walk lists a directory and later opens what it listed; in between,
//! anything can be renamed. Opening by path would follow a directory or a
//! file swapped for a symlink and read something outside the root under an
//! in-tree name. So every open below a root starts at the root's descriptor
//! and refuses symlinks in every component: `openat2` with
//! `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH` where the kernel has it (Linux
//! 5.6), else one `openat(O_NOFOLLOW)` per component, the way fts walks.
//! A swapped entry then fails with `ELOOP` (a symlink), `ENOTDIR` (a
//! directory turned into something else) or `ENOENT`, and is reported.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{openat, openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Whether `openat2` works here: 0 not known yet, 1 yes, 2 no.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// Opens `rel` (a relative path of plain names) below the directory `root`
/// with `flags`, following no symbolic link in any component; `CLOEXEC`
/// and `NOFOLLOW` are always added.
///
/// # Errors
///
/// The OS error of the open that failed: `ELOOP` if a component is a
/// symlink, `ENOTDIR` if a directory on the way is no longer one.
pub(crate) fn open_beneath(root: BorrowedFd<'_>, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if rel.as_os_str().is_empty() {
        return Ok(openat(root, ".", flags, Mode::empty())?);
    }
    if OPENAT2.load(Ordering::Relaxed) != 2 {
        let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
        match openat2(root, rel, flags, Mode::empty(), resolve) {
            // ENOSYS: an older kernel; EPERM: a seccomp filter that
            // refuses the call (container runtimes did, before they knew it).
            Err(Errno::NOSYS) | Err(Errno::PERM) if OPENAT2.load(Ordering::Relaxed) == 0 => {
                OPENAT2.store(2, Ordering::Relaxed);
            }
            Err(Errno::AGAIN) => {} // a rename raced the lookup: walk it by hand
            result => {
                OPENAT2.store(1, Ordering::Relaxed);
                return Ok(result?);
            }
        }
    }
    open_by_components(root, rel, flags)
}

/// [`open_beneath`] without `openat2`: each directory on the way opened
/// with `O_NOFOLLOW | O_DIRECTORY` relative to the one before.
fn open_by_components(root: BorrowedFd<'_>, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let names: Vec<&[u8]> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.as_bytes()),
            _ => None,
        })
        .collect();
    let Some((last, dirs)) = names.split_last() else {
        return Ok(openat(root, ".", flags, Mode::empty())?);
    };
    let mut held: Option<OwnedFd> = None;
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for name in dirs {
        let at = held.as_ref().map_or(root, AsFd::as_fd);
        held = Some(openat(at, *name, dir_flags, Mode::empty())?);
    }
    let at = held.as_ref().map_or(root, AsFd::as_fd);
    Ok(openat(at, *last, flags, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn root(dir: &Path) -> OwnedFd {
        openat(
            rustix::fs::CWD,
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    fn errno(result: io::Result<OwnedFd>) -> Option<i32> {
        result.err().and_then(|e| e.raw_os_error())
    }

    #[test]
    fn symlinks_are_refused_in_every_component_both_ways() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("f"), b"secret").unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        fs::write(t.path().join("d/f"), b"inside").unwrap();
        symlink(outside.path(), t.path().join("link")).unwrap();
        symlink(outside.path().join("f"), t.path().join("d/lf")).unwrap();
        let fd = root(t.path());
        let by = [
            |fd: BorrowedFd<'_>, rel: &Path| open_beneath(fd, rel, OFlags::RDONLY),
            |fd: BorrowedFd<'_>, rel: &Path| {
                open_by_components(fd, rel, OFlags::RDONLY | OFlags::NOFOLLOW)
            },
        ];
        for open in by {
            assert!(open(fd.as_fd(), Path::new("d/f")).is_ok());
            // openat2 says ELOOP; O_DIRECTORY | O_NOFOLLOW on a link, ENOTDIR.
            assert!(matches!(
                errno(open(fd.as_fd(), Path::new("link/f"))),
                Some(libc::ELOOP | libc::ENOTDIR)
            ));
            assert_eq!(
                errno(open(fd.as_fd(), Path::new("d/lf"))),
                Some(libc::ELOOP)
            );
            assert_eq!(
                errno(open(fd.as_fd(), Path::new("d/f/x"))),
                Some(libc::ENOTDIR)
            );
        }
    }
}
