//! `md5pipe -c [LIST]...`: verify md5sum lists, worded as `md5sum -c`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::bar::Bar;
use super::digest::message;
use super::output::{Lines, WriteFailed};
use super::{final_status, Common, Interrupts, USAGE};
use pipeline_md5::check::{check_lists, CheckItem, ListSource, Outcome};
use pipeline_md5::checklist::{format_check_result, CheckStatus, Counts, Warning};
use pipeline_md5::digest::DigestError;
use pipeline_md5::escape::quote;
use pipeline_md5::Error;

/// What `md5pipe -c` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct CheckCommand {
    /// The lists, in order (standard input if none was given).
    pub lists: Vec<ListSource>,
    /// Lines end in NUL (`-z`).
    pub zero: bool,
    /// No `OK` lines (`--quiet`).
    pub quiet: bool,
    /// No output at all but errors opening files; the status says it all
    /// (`--status`).
    pub status_only: bool,
    /// An improperly formatted line fails the check (`--strict`).
    pub strict: bool,
    /// Warn about each improperly formatted line (`-w`).
    pub warn: bool,
    /// Missing files are neither reported nor failures (`--ignore-missing`).
    pub ignore_missing: bool,
    /// Settings shared with digest mode.
    pub common: Common,
}

/// The per-list bookkeeping md5sum does.
struct State<'a> {
    cmd: &'a CheckCommand,
    lists: &'a [ListSource],
    counts: Counts,
    failed: bool,
}

impl State<'_> {
    /// Handles one item; returns the line for stdout, if any.
    fn item(&mut self, item: CheckItem, bar: &Bar) -> Option<Vec<u8>> {
        let cmd = self.cmd;
        match item {
            CheckItem::Verified { path, outcome, .. } => {
                self.counts.parsed += 1;
                let status = match outcome {
                    Outcome::Matched => {
                        self.counts.matched += 1;
                        CheckStatus::Ok
                    }
                    Outcome::Mismatched => {
                        self.counts.mismatched += 1;
                        CheckStatus::Failed
                    }
                    Outcome::Unreadable(DigestError::Open(err))
                        if cmd.ignore_missing && err.kind() == io::ErrorKind::NotFound =>
                    {
                        return None;
                    }
                    Outcome::Unreadable(err) => {
                        self.counts.unreadable += 1;
                        let path = PathBuf::from(OsStr::from_bytes(&path));
                        bar.warn(&message(&Error::Read { path, source: err }));
                        CheckStatus::FailedOpenOrRead
                    }
                    // An outcome this binary does not know is no match.
                    _ => {
                        self.counts.mismatched += 1;
                        CheckStatus::Failed
                    }
                };
                let quiet = cmd.quiet && status == CheckStatus::Ok;
                (!cmd.status_only && !quiet).then(|| format_check_result(&path, status))
            }
            CheckItem::Improper {
                list,
                line,
                algorithm,
            } => {
                self.counts.improper += 1;
                if cmd.warn && !cmd.status_only {
                    let list = self.lists[list].name();
                    let warning = Warning::ImproperLine {
                        list,
                        line,
                        algorithm,
                    };
                    bar.warn(&warning.to_bytes());
                }
                None
            }
            CheckItem::ListFailed { list, reason, .. } => {
                let name = quote(self.lists[list].name());
                bar.warn(&[&name[..], b": ", reason.as_bytes()].concat());
                self.failed = true;
                self.counts = Counts::default();
                None
            }
            CheckItem::ListEnd { list } => {
                let counts = std::mem::take(&mut self.counts);
                let name = self.lists[list].name();
                for warning in counts.warnings(name, cmd.ignore_missing, cmd.status_only) {
                    bar.warn(&warning.to_bytes());
                }
                if !counts.success(cmd.strict) {
                    self.failed = true;
                }
                None
            }
            // Items this binary does not know print nothing.
            _ => None,
        }
    }
}

/// Runs check mode: verifies the listed files in parallel, prints each
/// result in input order and md5sum's warnings after each list. Returns the
/// exit status (see [`crate::cli`]).
pub fn run_check(cmd: &CheckCommand, interrupts: &Interrupts) -> i32 {
    let lists = if cmd.lists.is_empty() {
        vec![ListSource::Stdin]
    } else {
        cmd.lists.clone()
    };
    let mut run = match check_lists(lists.clone(), cmd.zero, &cmd.common.options) {
        Ok(run) => run,
        Err(err) => {
            pipeline_md5::stdio::to_stderr(format!("md5pipe: {err}\n").as_bytes());
            return USAGE;
        }
    };
    interrupts.watch(run.cancel_signal());
    let mut out = Lines::new();
    out.cancel_when_closed(run.cancel_signal());
    let mut bar = Bar::start(run.progress(), cmd.common.progress);
    let mut state = State {
        cmd,
        lists: &lists,
        counts: Counts::default(),
        failed: false,
    };
    for item in &mut run {
        let item = match item {
            Ok(item) => item,
            Err(err) if err.is_cancelled() => {
                state.failed |= super::stopped_unasked(interrupts, out.is_closed(), &bar);
                break;
            }
            Err(err) => {
                bar.warn(err.to_string().as_bytes());
                state.failed = true;
                break;
            }
        };
        let Some(line) = state.item(item, &bar) else {
            continue;
        };
        match out.line(&line) {
            Ok(()) => {}
            Err(WriteFailed::Closed) => break,
            Err(WriteFailed::Other(reason)) => {
                bar.warn(format!("write error: {reason}").as_bytes());
                state.failed = true;
                break;
            }
        }
    }
    run.cancel_signal().cancel();
    let stats = run.stats();
    drop(run);
    final_status(
        interrupts,
        &mut out,
        Ok(()),
        state.failed,
        cmd.common
            .stats
            .then(|| (&stats, format!("md5: {}", cmd.common.options.engine.name()))),
        &mut bar,
    )
}
