//! Verifying `md5sum -c` lists with the digest pipeline: a source reads
//! the lists line by line, N verifiers digest the listed files, and the
//! results leave in input order.
//!
//! [`check_lists`] gives an iterator of [`CheckItem`]s: one per line that
//! names a file (with its [`Outcome`]), one per improperly formatted line,
//! and one at the end of each list (or instead of a list that cannot be
//! opened). Wording and counting them as `md5sum -c` does is up to the
//! caller; [`crate::cli`] does it for `md5pipe`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use pipeline::{pipeline, Cancel, Emitter, LiveTasks, RunIter, Stats};

use crate::checklist::{Line, ParsedLine, Parser};
use crate::digest::DigestError;
use crate::error::Error;
use crate::progress::Progress;
use crate::stages::digest_path;
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

fn verify(job: Job, chunk: usize, progress: &Progress) -> CheckItem {
    let (list, line, parsed) = match job {
        Job::Verify { list, line, parsed } => (list, line, parsed),
        Job::Pass(item) => return item,
    };
    let path = Path::new(OsStr::from_bytes(&parsed.path));
    let cancel = Cancel::current();
    let outcome = match digest_path(path, chunk, cancel.as_ref(), progress) {
        Ok(sum) if sum == parsed.expected => Outcome::Matched,
        Ok(_) => Outcome::Mismatched,
        Err(err) => Outcome::Unreadable(err),
    };
    progress.file_done();
    CheckItem::Verified {
        list,
        line,
        path: parsed.path,
        outcome,
    }
}

/// Standard input, read so that a cancelled run does not wait for input
/// that may never come: it polls for data and asks the signal in between.
struct CancellableStdin {
    cancel: Cancel,
}

impl Read for CancellableStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.cancel.is_cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
            let mut fds = libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `fds` is one valid pollfd that outlives the call.
            let ready = unsafe { libc::poll(&mut fds, 1, 100) };
            if ready > 0 {
                return io::stdin().lock().read(buf);
            }
            if ready < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// Reads every list in order and sends its lines on.
fn read_lists(lists: &[ListSource], zero: bool, em: &mut Emitter<Job>) {
    let delim = if zero { b'\0' } else { b'\n' };
    let mut parser = Parser::new();
    for (list, source) in lists.iter().enumerate() {
        let reader: Box<dyn Read> = match source {
            ListSource::Stdin => Box::new(CancellableStdin {
                cancel: em.cancel_signal().clone(),
            }),
            ListSource::File(name) => match File::open(OsStr::from_bytes(name)) {
                Ok(file) => Box::new(file),
                Err(err) => {
                    if em.emit(Job::Pass(list_failed(list, &err))).is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        let is_stdin = *source == ListSource::Stdin;
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let mut buf = Vec::new();
        let mut line = 0;
        let end = loop {
            buf.clear();
            match reader.read_until(delim, &mut buf) {
                Ok(0) => break Job::Pass(CheckItem::ListEnd { list }),
                Ok(_) => {}
                Err(err) if em.is_cancelled() => {
                    let _ = err;
                    return;
                }
                Err(err) => break Job::Pass(list_failed(list, &err)),
            }
            line += 1;
            let text = buf.strip_suffix(&[delim]).unwrap_or(&buf);
            let job = match parser.parse_line(text, is_stdin) {
                Line::Parsed(parsed) => Job::Verify { list, line, parsed },
                Line::Improper => Job::Pass(CheckItem::Improper { list, line }),
                _ => continue,
            };
            if em.emit(job).is_err() {
                return;
            }
        };
        if em.emit(end).is_err() {
            return;
        }
    }
}

fn list_failed(list: usize, err: &io::Error) -> CheckItem {
    CheckItem::ListFailed {
        list,
        error: err.kind(),
        reason: crate::walk::io_reason(err),
    }
}

#[allow(dead_code)]
mod declared {
    use super::*;

    pipeline! {
        /// `md5sum -c` as a pipeline: the lists are read in order, the
        /// listed files verified by `verifiers` workers, and the results
        /// put back in input order.
        pub(crate) Md5Check(lists: Arc<[ListSource]>, zero: bool, verifiers: usize, chunk: usize, progress: Arc<Progress>) -> CheckItem {
            read:   source blocking move |em: &mut Emitter<Job>| read_lists(&lists, zero, em);
            verify: map move |job: Job| verify(job, chunk, &progress)
                    [workers = verifiers, ordered, blocking];
            out:    sink iter();
        }
    }
}

use declared::Md5Check;

/// A running check of one or more lists: [`CheckItem`]s in input order.
///
/// Dropping it cancels the run and waits for its tasks. If the run is
/// cancelled through [`cancel_signal`](Self::cancel_signal), the last item
/// is `Err(Error::Cancelled)`.
pub struct CheckRun {
    iter: RunIter<CheckItem>,
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
        self.iter.next().map(|r| r.map_err(Error::from))
    }
}

/// Starts verifying `lists` in order, with `opts.digesters` verifiers,
/// `opts.buffer`, `opts.window` and `opts.chunk`; lines end in NUL if
/// `zero`. One md5sum line parser serves every list, as in md5sum.
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
    let mut p = Md5Check::new(
        lists.into(),
        zero,
        opts.digesters,
        opts.chunk,
        progress.clone(),
    )
    .with_policy(pipeline::ErrorPolicy::FailFast);
    let config = p.config_mut();
    config.read.buffer = opts.buffer;
    config.verify.buffer = opts.buffer;
    if opts.digesters > 1 {
        config.verify.reorder_window = Some(opts.window_len());
    }
    let iter = p.build();
    Ok(CheckRun {
        iter,
        stats: p.stats(),
        cancel: p.cancel_signal(),
        live: p.live_tasks(),
        progress,
    })
}
