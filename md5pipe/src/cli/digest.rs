//! `md5pipe [PATH]...`: digest trees, print md5sum lines.

use std::path::PathBuf;

use super::bar::Bar;
use super::json;
use super::output::{Lines, WriteFailed};
use super::{final_status, Common, Interrupts};
use pipeline_md5::escape::quote;
use pipeline_md5::{digest_tree, Error};

/// What `md5pipe` in digest mode was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DigestCommand {
    /// The roots, in order (`.` if none was given).
    pub roots: Vec<PathBuf>,
    /// End lines with NUL, do not escape (`-z`).
    pub zero: bool,
    /// BSD-style lines (`--tag`).
    pub tag: bool,
    /// Mark names with `*`, as `md5sum -b` does (no effect on what is read).
    pub binary: bool,
    /// A JSON object per file and per error, on stdout (`--json`; see
    /// [`super::json`]).
    pub json: bool,
    /// Stop at the first error, in output order: every line before it is
    /// printed, nothing after it (`--fail-fast`).
    pub fail_fast: bool,
    /// Settings shared with check mode.
    pub common: Common,
}

/// Runs digest mode: prints a line per file on stdout, in order, and a
/// message per unreadable file or directory on stderr. Returns the exit
/// status (see [`crate::cli`]).
pub fn run_digest(cmd: &DigestCommand, interrupts: &Interrupts) -> i32 {
    let roots = if cmd.roots.is_empty() && cmd.common.options.files_from.is_none() {
        vec![PathBuf::from(".")]
    } else {
        cmd.roots.clone()
    };
    // Errors travel in their place and the first one ends the output
    // here, so that what is printed before it is the same on every run.
    let options = cmd.common.options.clone().fail_fast(false);
    let fail_fast = cmd.fail_fast || cmd.common.options.fail_fast;
    let mut run = match digest_tree(roots, &options) {
        Ok(run) => run,
        Err(err) => return super::cache::not_started(&err),
    };
    interrupts.watch(run.cancel_signal());
    let mut out = Lines::new();
    out.cancel_when_closed(run.cancel_signal());
    let mut bar = Bar::start(run.progress(), cmd.common.progress);
    let mut failed = false;
    for item in &mut run {
        match item {
            Ok(digest) => match bar.suspend(|| out.line(&line(&digest, cmd))) {
                Ok(()) => {}
                Err(WriteFailed::Closed) => break,
                Err(WriteFailed::Other(reason)) => {
                    bar.warn(format!("write error: {reason}").as_bytes());
                    failed = true;
                    break;
                }
            },
            Err(err) if err.is_cancelled() => {
                failed |= super::stopped_unasked(interrupts, out.is_closed(), &bar);
                break;
            }
            Err(err) => {
                failed = true;
                if cmd.json {
                    match bar
                        .suspend(|| out.line(&json::error_line(&err, cmd.common.options.algorithm)))
                    {
                        Ok(()) => {}
                        Err(WriteFailed::Closed) => break,
                        Err(WriteFailed::Other(reason)) => {
                            bar.warn(format!("write error: {reason}").as_bytes());
                            break;
                        }
                    }
                } else {
                    bar.warn(&message(&err));
                }
                if fail_fast {
                    break;
                }
            }
        }
    }
    // Stop the run (if a break left it running) and wait for its tasks.
    run.cancel_signal().cancel();
    failed |= super::cache::keep(&mut run, cmd.common.stats, &bar);
    let stats = run.stats();
    drop(run);
    final_status(
        interrupts,
        &mut out,
        Ok(()),
        failed,
        cmd.common
            .stats
            .then(|| (&stats, super::engine_in_use(&cmd.common.options))),
        &mut bar,
    )
}

/// The line for `digest`: md5sum's, with `*` before the name for `-b`;
/// a JSON object with `--json`.
fn line(digest: &pipeline_md5::FileDigest, cmd: &DigestCommand) -> Vec<u8> {
    if cmd.json {
        return json::digest_line(digest);
    }
    let mut line = digest.line(cmd.zero, cmd.tag);
    if cmd.binary && !cmd.tag {
        // `HEX  NAME` or `\HEX  NAME`: the second space becomes `*`.
        let at = usize::from(line.first() == Some(&b'\\')) + 33;
        if let Some(mark) = line.get_mut(at) {
            *mark = b'*';
        }
    }
    line
}

/// `NAME: REASON` for an error about a file, the text otherwise.
pub(super) fn message(err: &Error) -> Vec<u8> {
    match err.path() {
        Some(path) => [&quote(path)[..], b": ", err.reason().as_bytes()].concat(),
        None => err.to_string().into_bytes(),
    }
}
