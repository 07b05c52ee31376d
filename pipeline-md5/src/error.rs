//! The crate's error type: what went wrong, and with which path.

use std::path::{Path, PathBuf};

use std::os::unix::ffi::OsStrExt;

use crate::digest::DigestError;
use crate::walk::WalkError;

/// Why a digest of a tree, or of one file in it, failed.
///
/// Every variant about a file or directory carries its path as it would
/// be printed (see [`crate::walk::Entry::display`]), and
/// [`reason`](Self::reason) words the cause as `md5sum` does
/// (`Permission denied`, without Rust's `(os error 13)`).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The walk could not read a directory, `stat` an entry, or found a
    /// symlink loop (with links followed).
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// A file could not be opened or read.
    #[error("{}: {}", path.display(), source.reason())]
    Read {
        /// The file, as printed.
        path: PathBuf,
        /// What failed.
        #[source]
        source: DigestError,
    },
    /// The run was cancelled from outside (its [`pipeline::Cancel`]) before
    /// it finished.
    #[error("cancelled")]
    Cancelled,
    /// A setting is out of range (a width, buffer, window or chunk of 0);
    /// nothing ran.
    #[error("invalid setting: {0}")]
    Config(String),
    /// The cache (`Options::cache`) could not be used or kept: it could
    /// not be read, is not a cache, or could not be written; the cache on
    /// disk is then as it was.
    #[error("{}: {reason}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What went wrong, worded for a message.
        reason: String,
    },
    /// The pipeline runtime failed for a reason of its own (a panicking
    /// stage, named in the error).
    #[error(transparent)]
    Pipeline(pipeline::Error),
}

impl Error {
    /// The path the error is about, raw bytes as printed; `None` for errors
    /// about no file.
    pub fn path(&self) -> Option<&[u8]> {
        match self {
            Error::Walk(e) => Some(e.path()),
            Error::Read { path, .. } => Some(path.as_os_str().as_bytes()),
            _ => None,
        }
    }

    /// The reason as `md5sum` words it (`No such file or directory`), or
    /// the error's text for errors about no file.
    pub fn reason(&self) -> String {
        match self {
            Error::Walk(e) => e.reason(),
            Error::Read { source, .. } => source.reason(),
            other => other.to_string(),
        }
    }

    /// Whether this is [`Error::Cancelled`], also when the runtime reports
    /// the cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            Error::Cancelled
                | Error::Read {
                    source: DigestError::Cancelled,
                    ..
                }
                | Error::Pipeline(pipeline::Error::Cancelled)
        )
    }

    pub(crate) fn read(path: &Path, source: DigestError) -> Error {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<pipeline::Error> for Error {
    /// Unwraps the crate's own errors that crossed the pipeline as stage
    /// errors; maps a cancellation to [`Error::Cancelled`] and a width or
    /// buffer of 0 to [`Error::Config`].
    fn from(err: pipeline::Error) -> Error {
        if let Some(own) = err.downcast_ref::<Error>() {
            return own.clone();
        }
        match err {
            pipeline::Error::Cancelled => Error::Cancelled,
            pipeline::Error::Config { stage, message } => {
                Error::Config(format!("stage `{stage}`: {message}"))
            }
            other => Error::Pipeline(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn own_errors_come_back_out_of_the_pipeline() {
        let own = Error::read(
            Path::new("dir/f"),
            DigestError::Open(io::Error::from_raw_os_error(libc::EACCES)),
        );
        let back = Error::from(pipeline::Error::stage("digest", own));
        assert_eq!(back.path(), Some(&b"dir/f"[..]));
        assert_eq!(back.reason(), "Permission denied");
        assert_eq!(back.to_string(), "dir/f: Permission denied");
        assert!(Error::from(pipeline::Error::Cancelled).is_cancelled());
        let cfg = Error::from(pipeline::Error::Config {
            stage: "digest".into(),
            message: "workers must be at least 1".into(),
        });
        assert!(matches!(cfg, Error::Config(m) if m.contains("digest")));
    }
}
