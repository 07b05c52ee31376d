//! `--cache FILE`: keeping the run's cache at its end, and saying what it
//! did (see [`pipeline_md5::cache`]).

use std::os::unix::ffi::OsStrExt;

use super::bar::Bar;
use super::{FAILURE, USAGE};
use pipeline_md5::escape::quote;
use pipeline_md5::{Digests, Error};

/// Keeps the cache of `run` (if it has one) once its items are consumed
/// or it was cancelled: reports a damaged or unusable old cache as a
/// warning, a failure to write the new one as an error, and with
/// `stats` what the cache did. Returns whether something failed.
pub(super) fn keep(run: &mut Digests, stats: bool, bar: &Bar) -> bool {
    let summary = match run.save_cache() {
        Ok(Some(summary)) => summary,
        Ok(None) => return false,
        Err(err) => {
            bar.warn(err.to_string().as_bytes());
            return true;
        }
    };
    if let Some(warning) = &summary.warning {
        let path = quote(summary.path.as_os_str().as_bytes());
        bar.warn(&[&path[..], b": ", warning.as_bytes()].concat());
    }
    if stats {
        let done = run.progress().snapshot();
        let read = done.files_found.saturating_sub(summary.unchanged);
        let line = format!(
            "cache: {} files, {} unchanged (not read), {read} read ({} bytes); \
                 {} kept, {} too recent to keep, {} dropped{}{}\n",
            done.files_found,
            summary.unchanged,
            done.bytes_done,
            summary.kept,
            summary.recent,
            summary.dropped,
            if summary.rewritten {
                ""
            } else {
                "; the same as before, not rewritten"
            },
            if summary.complete {
                ""
            } else {
                " (run stopped early)"
            },
        );
        bar.suspend(|| pipeline_md5::stdio::to_stderr(line.as_bytes()));
    }
    false
}

/// Reports why a run could not start and returns the exit status: 2 for
/// a setting out of range, 1 for a cache that cannot be used.
pub(super) fn not_started(err: &Error) -> i32 {
    pipeline_md5::stdio::to_stderr(format!("md5pipe: {err}\n").as_bytes());
    match err {
        Error::Config(_) => USAGE,
        _ => FAILURE,
    }
}
