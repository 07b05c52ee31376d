//! `md5pipe --diff MANIFEST [PATH]`: a tree against a manifest, path by
//! path (see [`pipeline_md5::audit`]).

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use pipeline::Cancel;

use super::bar::Bar;
use super::digest::message;
use super::output::{Lines, WriteFailed};
use super::{final_status, Common, Interrupts, FAILURE};
use pipeline_md5::audit::{Counts, Join, Manifest, Mark};
use pipeline_md5::digest_tree;
use pipeline_md5::escape::{needs_escape, push_name, quote};

/// What `md5pipe --diff` was asked to do.
#[derive(Debug, Clone, Default)]
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
    let mut manifest = match Manifest::open(&cmd.manifest, cmd.zero, &reading) {
        Ok(m) => m,
        Err(_) if interrupts.exit_status().is_some() => {
            return interrupts.exit_status().unwrap_or(FAILURE);
        }
        Err(err) => {
            let reason = pipeline_md5::walk::io_reason(&err);
            pipeline_md5::stdio::to_stderr(format!("md5pipe: {name}: {reason}\n").as_bytes());
            return FAILURE;
        }
    };
    let root = cmd.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let options = cmd.common.options.clone().fail_fast(false);
    let mut run = match digest_tree(vec![root], &options) {
        Ok(run) => run,
        Err(err) => return super::cache::not_started(&err),
    };
    interrupts.watch(run.cancel_signal());
    let mut out = Lines::new();
    out.cancel_when_closed(run.cancel_signal());
    let mut bar = Bar::start(run.progress(), cmd.common.progress);
    let mut failed = false;
    let mut wrote: Result<(), WriteFailed> = Ok(());
    let out_closed = out.closed_flag();
    let zero = cmd.zero;
    let mut emit = |wrote: &mut Result<(), WriteFailed>, mark: Mark, path: &[u8]| {
        if wrote.is_ok() {
            *wrote = bar.suspend(|| out.line(&mark_line(mark, path, zero)));
        }
    };
    let mut join = Join::new(manifest.by_ref());
    let mut broken = None;
    let mut stopped = false;
    for item in &mut run {
        let fed = match item {
            Ok(digest) => join.file(
                digest.path.as_os_str().as_bytes(),
                digest.sum.to_md5().as_ref(),
                &mut |m, p| emit(&mut wrote, m, p),
            ),
            Err(err) if err.is_cancelled() => {
                stopped = true;
                break;
            }
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
    failed |= super::cache::keep(&mut run, cmd.common.stats, &bar);
    let interrupted = interrupts.exit_status().is_some();
    // A reader that went away (`| head -1`) ends the run quietly, as a
    // signal does: the files not reached are not missing, and no counts
    // are printed. (The output's own thread may see the closed pipe
    // before any write here fails.)
    let closed = out_closed.load(Ordering::SeqCst);
    // Stopped with nothing asking: the files not reached are not missing.
    let unasked = stopped && super::stopped_unasked(interrupts, closed, &bar);
    failed |= unasked;
    let counts = match broken {
        Some(err) => Err(err),
        None if interrupted || unasked || closed || wrote.is_err() => Ok(Counts::default()),
        None => join.finish(&mut |m, p| emit(&mut wrote, m, p)),
    };
    // The marks still buffered go out before the counts: a reader found
    // gone now ends the run as quietly (the counts would speak of marks
    // nobody read).
    if wrote.is_ok() {
        wrote = out.flush();
    }
    let closed = closed || out.is_closed();
    let stats = run.stats();
    drop(run);
    match counts {
        Err(_) if interrupts.exit_status().is_some() => {}
        Err(err) => {
            let reason = pipeline_md5::walk::io_reason(&err);
            bar.warn(format!("{name}: {reason}").as_bytes());
            failed = true;
        }
        Ok(counts) if !interrupted && !unasked && !closed && wrote.is_ok() => {
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
    final_status(
        interrupts,
        &mut out,
        wrote,
        failed,
        cmd.common
            .stats
            .then(|| (&stats, super::engine_in_use(&cmd.common.options))),
        &mut bar,
    )
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
