//! `md5pipe --diff MANIFEST [PATH]`: a tree against a manifest, path by
//! path (see [`crate::audit`]).

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pipeline::Cancel;

use super::bar::Bar;
use super::digest::message;
use super::output::{Lines, WriteFailed};
use super::{final_status, Common, Interrupts, FAILURE, USAGE};
use crate::audit::{Counts, Join, Manifest, Mark};
use crate::digest_tree;
use crate::escape::{needs_escape, push_name, quote};
use crate::listread::CancellableFd;

/// What `md5pipe --diff` was asked to do.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuditCommand {
    /// The manifest (`-`: standard input).
    pub manifest: PathBuf,
    /// The tree (`.` if none was given).
    pub root: Option<PathBuf>,
    /// NUL-ended lines, in the manifest and on stdout (`-z`).
    pub zero: bool,
    /// Settings shared with the other modes.
    pub common: Common,
}

/// Runs the audit: prints `MARK PATH` for every path of the tree and the
/// manifest, in path order, and the counts on stderr. Exit status 0 when
/// tree and manifest agree, 1 when they differ or a file was unreadable.
pub fn run_audit(cmd: &AuditCommand, interrupts: &Interrupts) -> i32 {
    let name = quote(cmd.manifest.as_os_str().as_bytes());
    let name = String::from_utf8_lossy(&name).into_owned();
    let reading = Cancel::new();
    interrupts.watch(reading.clone());
    let mut manifest = match open_manifest(&cmd.manifest, cmd.zero, &reading) {
        Ok(m) => m,
        Err(_) if interrupts.exit_status().is_some() => {
            return interrupts.exit_status().unwrap_or(FAILURE);
        }
        Err(err) => {
            let reason = crate::walk::io_reason(&err);
            crate::stdio::to_stderr(format!("md5pipe: {name}: {reason}\n").as_bytes());
            return FAILURE;
        }
    };
    let root = cmd.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let options = cmd.common.options.clone().fail_fast(false);
    let mut run = match digest_tree(vec![root], &options) {
        Ok(run) => run,
        Err(err) => {
            crate::stdio::to_stderr(format!("md5pipe: {err}\n").as_bytes());
            return USAGE;
        }
    };
    interrupts.watch(run.cancel_signal());
    let mut out = Lines::new();
    out.cancel_when_closed(run.cancel_signal());
    let mut bar = Bar::start(run.progress(), cmd.common.progress);
    let mut failed = false;
    let mut wrote: Result<(), WriteFailed> = Ok(());
    let zero = cmd.zero;
    let mut emit = |wrote: &mut Result<(), WriteFailed>, mark: Mark, path: &[u8]| {
        if wrote.is_ok() {
            *wrote = bar.suspend(|| out.line(&mark_line(mark, path, zero)));
        }
    };
    let mut join = Join::new(manifest.by_ref());
    let mut broken = None;
    for item in &mut run {
        let fed = match item {
            Ok(digest) => join.file(
                digest.path.as_os_str().as_bytes(),
                Some(&digest.sum),
                &mut |m, p| emit(&mut wrote, m, p),
            ),
            Err(err) if err.is_cancelled() => break,
            Err(err) => {
                failed = true;
                bar.warn(&message(&err));
                match err.path() {
                    Some(path) => join.unreadable(path, &mut |m, p| emit(&mut wrote, m, p)),
                    None => Ok(()),
                }
            }
        };
        if let Err(err) = fed {
            broken = Some(err);
            break;
        }
        if wrote.is_err() {
            break;
        }
    }
    run.cancel_signal().cancel();
    let interrupted = interrupts.exit_status().is_some();
    let counts = match broken {
        Some(err) => Err(err),
        None if interrupted || wrote.is_err() => Ok(Counts::default()),
        None => join.finish(&mut |m, p| emit(&mut wrote, m, p)),
    };
    let stats = run.stats();
    drop(run);
    match counts {
        Err(_) if interrupts.exit_status().is_some() => {}
        Err(err) => {
            let reason = crate::walk::io_reason(&err);
            bar.warn(format!("{name}: {reason}").as_bytes());
            failed = true;
        }
        Ok(counts) if !interrupted && wrote.is_ok() => {
            failed |= !counts.agree();
            bar.warn(summary(&counts).as_bytes());
        }
        Ok(_) => {}
    }
    if manifest.improper() > 0 {
        let n = manifest.improper();
        let lines = if n == 1 { "line is" } else { "lines are" };
        bar.warn(format!("WARNING: {n} {lines} improperly formatted in {name}").as_bytes());
    }
    if let Err(WriteFailed::Other(reason)) = wrote.and_then(|()| out.flush()) {
        bar.warn(format!("write error: {reason}").as_bytes());
        failed = true;
    }
    let closed = out.is_closed();
    final_status(
        interrupts,
        closed,
        failed,
        cmd.common.stats.then_some(&stats),
        &mut bar,
    )
}

/// The manifest, sorted: a regular file is checked for order first and
/// then read again as it is (or sorted on disk if it is not); standard
/// input, a pipe or a FIFO is sorted on disk in runs whatever its order.
/// Every read waits only while `cancel` is open (a signal ends the wait
/// for a list nobody writes), and a FIFO does not block the open.
fn open_manifest(path: &Path, zero: bool, cancel: &Cancel) -> io::Result<Manifest> {
    if path.as_os_str() == OsStr::new("-") {
        let stdin = CancellableFd::stdin(cancel.clone());
        return Manifest::read(Box::new(stdin), None, zero);
    }
    let name = path.as_os_str().as_bytes();
    let open = || -> io::Result<Box<dyn Read>> {
        Ok(Box::new(CancellableFd::open(name, cancel.clone())?))
    };
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    Manifest::read(open()?, regular.then_some(&open as _), zero)
}

/// `MARK PATH`, escaped as md5sum escapes a name (a `\` first when it
/// needs escapes); raw and NUL-ended with `-z`.
fn mark_line(mark: Mark, path: &[u8], zero: bool) -> Vec<u8> {
    let escape = !zero && needs_escape(path);
    let mut line = Vec::with_capacity(path.len() + 4);
    if escape {
        line.push(b'\\');
    }
    line.extend([mark.symbol(), b' ']);
    push_name(path, escape, &mut line);
    line.push(if zero { b'\0' } else { b'\n' });
    line
}

/// The counts, for stderr.
fn summary(c: &Counts) -> String {
    format!(
        "{} same, {} changed, {} new, {} missing, {} unreadable",
        c.same, c.changed, c.new, c.missing, c.unreadable
    )
}
