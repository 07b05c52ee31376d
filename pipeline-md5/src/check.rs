//! Verifying `md5sum -c` lists with the digest pipeline: a source reads
//! the lists line by line, N verifiers digest the listed files, and the
//! results leave in input order.
//!
//! [`check_lists`] gives an iterator of [`CheckItem`]s: one per line that
//! names a file (with its [`Outcome`]), one per improperly formatted line,
//! and one at the end of each list (or instead of a list that cannot be
//! opened). Wording and counting them as `md5sum -c` does is up to the
//! caller; [`crate::checklist`] has the pieces, and the `md5pipe` binary
//! does it.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use pipeline::{pipeline, Cancel, Cancelled, Declared, Emitter, LiveTasks, RunIter, Stats};

use crate::algorithm::{Algorithm, Hash};
use crate::checkfile::{digest_listed, digest_stdin};
use crate::checklist::{Line, ParsedLine, Parser};
use crate::descriptors::LaneFile;
use crate::digest::{DigestError, Sum};
use crate::engine::Engine;
use crate::error::Error;
use crate::lanes::{Lanes, Opened};
use crate::listread::{CancellableFd, Lines, Next, ReadFailed};
use crate::progress::Progress;
use crate::tree::Options;

/// Where a list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListSource {
    /// Standard input (`-`, or no list given).
    Stdin,
    /// A file.
    File(Vec<u8>),
}

impl ListSource {
    /// `-` is standard input; anything else a file.
    pub fn from_arg(arg: &[u8]) -> ListSource {
        if arg == b"-" {
            ListSource::Stdin
        } else {
            ListSource::File(arg.to_vec())
        }
    }

    /// The list's name as md5sum gives it in messages: `standard input`, or
    /// the file name as given.
    pub fn name(&self) -> &[u8] {
        match self {
            ListSource::Stdin => b"standard input",
            ListSource::File(name) => name,
        }
    }
}

/// What became of one listed file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// Its digest is the one listed.
    Matched,
    /// Its digest differs from the one listed.
    Mismatched,
    /// It could not be opened or read (or is not a regular file).
    Unreadable(DigestError),
}

/// One item of a check run, in input order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CheckItem {
    /// A line naming a file, verified.
    Verified {
        /// Index of the list in the order given.
        list: usize,
        /// 1-based line number in the list.
        line: u64,
        /// The file name, unescaped.
        path: Vec<u8>,
        /// What became of it.
        outcome: Outcome,
    },
    /// An improperly formatted line.
    Improper {
        /// Index of the list.
        list: usize,
        /// 1-based line number.
        line: u64,
        /// The algorithm a warning about it names
        /// ([`Parser::warning_algorithm`](crate::checklist::Parser::warning_algorithm)).
        algorithm: Algorithm,
    },
    /// The list could not be opened or read; if read part way, the items
    /// of the lines read come before this.
    ListFailed {
        /// Index of the list.
        list: usize,
        /// Why.
        error: io::ErrorKind,
        /// The reason as md5sum words it.
        reason: String,
    },
    /// The end of a list that was read to its end.
    ListEnd {
        /// Index of the list.
        list: usize,
    },
}

/// The most verifiers a check runs, whatever `-j` says: each one is a
/// thread blocked on a file, and a disk gains nothing from more.
pub const MAX_VERIFIERS: usize = 256;

/// The most groups of lines a channel or the reorder window holds.
pub const MAX_IN_FLIGHT: usize = 1 << 16;

/// The largest chunk a verifier reads at a time (16 MiB).
pub const MAX_CHUNK: usize = 16 << 20;

/// A line to verify, or something to pass on in its place.
#[derive(Debug)]
enum Job {
    Verify {
        list: usize,
        line: u64,
        parsed: ParsedLine,
    },
    Pass(CheckItem),
}

/// Lines handed to one verifier at once, so that the hop to a verifier and
/// the channel sends are paid once per group, not once per file.
type Group = Vec<Job>;

/// The most lines in a [`Group`]. A group also leaves early when reading
/// the list would wait, so a line never waits for lines not yet written.
const GROUP_LINES: usize = 32;

/// Verifies a group's listed files together on `engine`'s lanes
/// ([`Lanes::digest`]); the other jobs pass through. Results in the
/// group's order.
fn verify_group(group: Group, engine: Engine, chunk: usize, progress: &Progress) -> Vec<CheckItem> {
    let cancel = Cancel::current();
    let cancelled = || cancel.as_ref().is_some_and(Cancel::is_cancelled);
    let mut on_bytes = |n| progress.read(n);
    let mut sums: Vec<Option<Result<Sum, DigestError>>> = vec![None; group.len()];
    let open = |i: usize| match &group[i] {
        Job::Verify { parsed, .. } => open_listed(
            Path::new(OsStr::from_bytes(&parsed.path)),
            parsed.expected.algorithm(),
            chunk,
            cancel.as_ref(),
            progress,
        ),
        Job::Pass(_) => Opened::Done(Ok(Sum {
            hash: Hash::md5([0; 16]),
            size: 0,
        })),
    };
    let done = |i: usize, sum| {
        if matches!(group[i], Job::Verify { .. }) {
            progress.file_done();
        }
        sums[i] = Some(sum);
        true
    };
    Lanes::with(engine, chunk, |lanes| {
        lanes.digest(group.len(), open, &cancelled, &mut on_bytes, done)
    });
    group
        .into_iter()
        .zip(sums)
        .map(|(job, sum)| match job {
            Job::Verify { list, line, parsed } => {
                // No outcome: the group was cancelled first.
                let sum = sum.unwrap_or(Err(DigestError::Cancelled));
                verified(list, line, parsed, sum)
            }
            Job::Pass(item) => item,
        })
        .collect()
}

/// Opens a listed file for a lane, as [`digest_listed`] opens it (without
/// blocking, checked by one `fstat`); what is not a regular file is left
/// to [`digest_listed`], which reads devices as md5sum does and refuses
/// the rest. Only MD5 runs in lanes: a file of another `algorithm` is
/// digested here and comes to the lanes done.
fn open_listed(
    path: &Path,
    algorithm: Algorithm,
    chunk: usize,
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Opened {
    crate::pause::before_open(path.as_os_str().as_bytes());
    if algorithm != Algorithm::Md5 {
        return Opened::Done(digest_listed(path, algorithm, chunk, cancel, progress));
    }
    let opened = LaneFile::open(|| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
    })
    .and_then(|file| {
        let meta = file.metadata()?;
        Ok((file, meta))
    });
    match opened {
        Err(err) => Opened::Done(Err(DigestError::Open(err))),
        Ok((file, meta)) if meta.is_file() => Opened::Lane(file, meta.len()),
        Ok((file, _)) => {
            // Closed before `digest_listed` opens it again: one descriptor
            // a file, as for every other file.
            drop(file);
            Opened::Done(digest_listed(path, algorithm, chunk, cancel, progress))
        }
    }
}

fn verified(
    list: usize,
    line: u64,
    parsed: ParsedLine,
    result: Result<Sum, DigestError>,
) -> CheckItem {
    let outcome = match result {
        Ok(sum) if sum.hash == parsed.expected => Outcome::Matched,
        Ok(_) => Outcome::Mismatched,
        Err(err) => Outcome::Unreadable(err),
    };
    CheckItem::Verified {
        list,
        line,
        path: parsed.path,
        outcome,
    }
}

/// The reading side: fills groups and sends them on.
struct Reader<'a> {
    em: &'a mut Emitter<Group>,
    group: Group,
    parser: Parser,
    delim: u8,
    chunk: usize,
    progress: &'a Progress,
}

impl Reader<'_> {
    fn push(&mut self, job: Job) -> Result<(), Cancelled> {
        self.group.push(job);
        if self.group.len() >= GROUP_LINES {
            return self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Cancelled> {
        if self.group.is_empty() {
            return Ok(());
        }
        let group = std::mem::replace(&mut self.group, Vec::with_capacity(GROUP_LINES));
        self.em.emit(group)
    }

    /// Reads list number `list` to its end, or to a read error.
    fn list(&mut self, list: usize, source: &ListSource) -> Result<(), Cancelled> {
        let cancel = self.em.cancel_signal().clone();
        let fd = match source {
            ListSource::Stdin => CancellableFd::stdin(cancel.clone()),
            ListSource::File(name) => match CancellableFd::open(name, cancel.clone()) {
                Ok(fd) => fd,
                Err(err) => {
                    let item = list_failed(list, err.kind(), crate::walk::io_reason(&err));
                    return self.push(Job::Pass(item));
                }
            },
        };
        let is_stdin = *source == ListSource::Stdin;
        let mut lines = Lines::new(fd, self.delim);
        let mut line = 0;
        loop {
            let text = match lines.next_line() {
                Next::Line(text) => text,
                Next::End => return self.push(Job::Pass(CheckItem::ListEnd { list })),
                Next::NeedInput => {
                    self.flush()?;
                    match lines.fill() {
                        Ok(()) => continue,
                        Err(ReadFailed::Cancelled) => return Err(Cancelled),
                        Err(ReadFailed::Io(err)) => {
                            // md5sum words any failed read of a list so.
                            let item = list_failed(list, err.kind(), "read error".into());
                            return self.push(Job::Pass(item));
                        }
                    }
                }
            };
            line += 1;
            let job = match self.parser.parse_line(text, is_stdin) {
                Line::Parsed(parsed) if parsed.path == b"-" => {
                    // Standard input, read here: in the list's order, once.
                    self.flush()?;
                    let algorithm = parsed.expected.algorithm();
                    let result = digest_stdin(algorithm, self.chunk, &cancel, self.progress);
                    if matches!(result, Err(DigestError::Cancelled)) {
                        return Err(Cancelled);
                    }
                    self.progress.file_done();
                    Job::Pass(verified(list, line, parsed, result))
                }
                Line::Parsed(parsed) => Job::Verify { list, line, parsed },
                Line::Improper => Job::Pass(CheckItem::Improper {
                    list,
                    line,
                    algorithm: self.parser.warning_algorithm(),
                }),
                _ => continue,
            };
            self.push(job)?;
        }
    }
}

/// Reads every list in order and sends its lines on.
fn read_lists(
    lists: &[ListSource],
    zero: bool,
    untagged: Option<Algorithm>,
    chunk: usize,
    progress: &Progress,
    em: &mut Emitter<Group>,
) {
    let mut reader = Reader {
        em,
        group: Vec::with_capacity(GROUP_LINES),
        parser: match (zero, untagged) {
            (true, Some(a)) => Parser::raw().untagged(a),
            (true, None) => Parser::raw(),
            (false, Some(a)) => Parser::new().untagged(a),
            (false, None) => Parser::new(),
        },
        delim: if zero { b'\0' } else { b'\n' },
        chunk,
        progress,
    };
    for (list, source) in lists.iter().enumerate() {
        if reader.list(list, source).is_err() {
            return;
        }
    }
    let _ = reader.flush();
}

fn list_failed(list: usize, error: io::ErrorKind, reason: String) -> CheckItem {
    CheckItem::ListFailed {
        list,
        error,
        reason,
    }
}

pipeline! {
    /// `md5sum -c` as a pipeline: the lists are read in order, the
    /// listed files verified by `verifiers` workers, and the results
    /// put back in input order.
    pub(crate) Md5Check(lists: Arc<[ListSource]>, zero: bool, untagged: Option<Algorithm>, verifiers: usize, engine: Engine, chunk: usize, progress: Arc<Progress>, reader_progress: Arc<Progress>) -> Vec<CheckItem> {
        read:   source blocking move |em: &mut Emitter<Group>| {
                    read_lists(&lists, zero, untagged, chunk, &reader_progress, em)
                };
        verify: map move |group: Group| verify_group(group, engine, chunk, &progress)
                [workers = verifiers, ordered, blocking];
        out:    sink iter();
    }
}

/// A running check of one or more lists: [`CheckItem`]s in input order.
///
/// Dropping it cancels the run and waits for its tasks. If the run is
/// cancelled through [`cancel_signal`](Self::cancel_signal), the last item
/// is `Err(Error::Cancelled)`.
pub struct CheckRun {
    iter: RunIter<Vec<CheckItem>>,
    /// The rest of the group last received.
    pending: std::vec::IntoIter<CheckItem>,
    stats: Stats,
    cancel: Cancel,
    live: LiveTasks,
    progress: Arc<Progress>,
}

impl std::fmt::Debug for CheckRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckRun")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl CheckRun {
    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> Cancel {
        self.cancel.clone()
    }

    /// The run's per-stage counters.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Files and bytes verified so far.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// The run's live-task counter: 0 once it has ended.
    pub fn live_tasks(&self) -> LiveTasks {
        self.live.clone()
    }
}

impl Iterator for CheckRun {
    type Item = Result<CheckItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.next() {
                return Some(Ok(item));
            }
            match self.iter.next()? {
                Ok(group) => self.pending = group.into_iter(),
                Err(err) => return Some(Err(Error::from(err))),
            }
        }
    }
}

/// Starts verifying `lists` in order, with `opts.digesters` verifiers,
/// `opts.buffer`, `opts.window` and `opts.chunk`; lines end in NUL if
/// `zero`. One md5sum line parser serves every list, as in md5sum.
///
/// Settings past what can help are capped, so that memory follows the
/// work and not the numbers asked for: at most [`MAX_VERIFIERS`]
/// verifiers, [`MAX_IN_FLIGHT`] groups of lines in a channel or the reorder
/// window, and a chunk of [`MAX_CHUNK`] bytes.
///
/// ```
/// use pipeline_md5::check::{check_lists, CheckItem, ListSource, Outcome};
/// use pipeline_md5::Options;
///
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("f");
/// std::fs::write(&file, b"hello\n")?;
/// let list = dir.path().join("sums");
/// let line = format!("b1946ac92492d2347c6235b4d2611184  {}\nnonsense\n", file.display());
/// std::fs::write(&list, line)?;
/// let name = list.to_str().unwrap().as_bytes();
/// let items: Vec<CheckItem> = check_lists(vec![ListSource::from_arg(name)], false, &Options::default())?
///     .collect::<Result<_, _>>()?;
/// assert!(matches!(items[0], CheckItem::Verified { outcome: Outcome::Matched, .. }));
/// assert!(matches!(items[1], CheckItem::Improper { line: 2, .. }));
/// assert!(matches!(items[2], CheckItem::ListEnd { list: 0 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Config`] if a count in `opts` is 0.
pub fn check_lists(lists: Vec<ListSource>, zero: bool, opts: &Options) -> Result<CheckRun, Error> {
    opts.validate()?;
    let progress = Arc::new(Progress::new());
    let verifiers = opts.digesters.min(MAX_VERIFIERS);
    let buffer = opts.buffer.min(MAX_IN_FLIGHT);
    let mut p = Md5Check::new(
        lists.into(),
        zero,
        opts.check_untagged,
        verifiers,
        opts.engine,
        opts.chunk.min(MAX_CHUNK),
        progress.clone(),
        progress.clone(),
    )
    .with_policy(pipeline::ErrorPolicy::FailFast);
    let config = p.config_mut();
    config.read.buffer = buffer;
    config.verify.buffer = buffer;
    if verifiers > 1 {
        config.verify.reorder_window = Some(opts.window_len().min(MAX_IN_FLIGHT));
    }
    let iter = p.build();
    Ok(CheckRun {
        iter,
        pending: Vec::new().into_iter(),
        stats: p.stats(),
        cancel: p.cancel_signal(),
        live: p.live_tasks(),
        progress,
    })
}
