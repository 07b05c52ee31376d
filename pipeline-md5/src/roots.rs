//! The roots of a run read from a list (`--files-from FILE`, `-` for
//! standard input): one name a line, or a NUL-ended name with `-0`, raw
//! (no escapes, no byte special but the delimiter), empty lines skipped,
//! in the order given. The list is read as the walk goes, so it may be
//! endless and memory holds one name; every wait for more of it ends at
//! the run's cancel, as check mode's lists do.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use pipeline::Cancel;

use crate::check::ListSource;
use crate::listread::{CancellableFd, Lines, Next, ReadFailed};
use crate::walk::WalkError;

/// Where the names of a run's roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesFrom {
    /// The list.
    pub list: ListSource,
    /// Names end at NUL (`-0`), not at a newline.
    pub nul: bool,
}

/// The names of a [`FilesFrom`] list, as roots; an error if the list
/// cannot be opened or read (then nothing more).
pub(crate) struct Listed {
    lines: Option<Lines>,
    name: Vec<u8>,
    failed: Option<std::io::Error>,
}

impl Listed {
    pub(crate) fn new(from: &FilesFrom, cancel: Cancel) -> Listed {
        let (fd, name) = match &from.list {
            ListSource::Stdin => (Ok(CancellableFd::stdin(cancel)), b"-".to_vec()),
            ListSource::File(name) => (CancellableFd::open(name, cancel), name.clone()),
        };
        let delim = if from.nul { b'\0' } else { b'\n' };
        match fd {
            Ok(fd) => Listed {
                lines: Some(Lines::new(fd, delim)),
                name,
                failed: None,
            },
            Err(err) => Listed {
                lines: None,
                name,
                failed: Some(err),
            },
        }
    }
}

impl Listed {
    /// The next root, as [`Iterator::next`] gives it; `before_wait` is
    /// called each time no whole name is buffered and reading more would
    /// wait (a pipe whose writer is slow), so that what the walk holds
    /// back can go on meanwhile.
    pub(crate) fn next_root(
        &mut self,
        before_wait: &mut dyn FnMut(),
    ) -> Option<Result<PathBuf, WalkError>> {
        if let Some(source) = self.failed.take() {
            self.lines = None;
            let path = self.name.clone();
            return Some(Err(WalkError::Io { path, source }));
        }
        let lines = self.lines.as_mut()?;
        loop {
            match lines.next_line() {
                Next::Line(b"") => {}
                // A listed `-` is the file of that name, not stdin.
                Next::Line(b"-") => return Some(Ok(PathBuf::from("./-"))),
                Next::Line(name) => {
                    return Some(Ok(PathBuf::from(std::ffi::OsStr::from_bytes(name))));
                }
                Next::End => {
                    self.lines = None;
                    return None;
                }
                Next::NeedInput => {
                    if lines.would_wait() {
                        before_wait();
                    }
                    match lines.fill() {
                        Ok(()) => {}
                        Err(ReadFailed::Cancelled) => {
                            self.lines = None;
                            return None;
                        }
                        Err(ReadFailed::Io(err)) => {
                            self.failed = Some(err);
                            return self.next_root(before_wait);
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for Listed {
    type Item = Result<PathBuf, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_root(&mut || {})
    }
}
