//! `md5pipe`'s commands: everything the binary does between parsing its
//! arguments and exiting with a status.
//!
//! Exit statuses: [`SUCCESS`] (0), [`FAILURE`] (1: some file or list could
//! not be read or did not verify), [`USAGE`] (2), 128 + the signal for an
//! interrupted run (130 for SIGINT, 143 for SIGTERM), and [`CLOSED_STDOUT`]
//! (141, what a shell shows for a process ended by SIGPIPE) when the reader
//! of stdout went away: the run then ends quietly, with no message.
//!
//! Messages on stderr are `md5pipe: NAME: REASON`, with the name quoted as
//! GNU md5sum quotes it ([`pipeline_md5::escape::quote`]) and the reason worded as
//! md5sum words it.

mod audit;
mod bar;
mod cache;
mod check;
mod digest;
mod json;
mod output;
mod signals;
mod treedigest;

pub use audit::{run_audit, AuditCommand};
pub use check::{run_check, CheckCommand};
pub use digest::{run_digest, DigestCommand};
pub use signals::Interrupts;
pub use treedigest::run_tree_digest;

use pipeline::Stats;
use pipeline_md5::algorithm::Algorithm;

/// The stack size of md5pipe's own helper threads (signals, output,
/// progress): they run a few frames deep, and under `ulimit -v` every
/// megabyte of address space counts.
pub(crate) const SMALL_STACK: usize = 256 * 1024;

/// Everything verified or digested.
pub const SUCCESS: i32 = 0;
/// Some file could not be read, or did not verify.
pub const FAILURE: i32 = 1;
/// The command line was wrong.
pub const USAGE: i32 = 2;
/// Stdout was closed by its reader; 128 + SIGPIPE.
pub const CLOSED_STDOUT: i32 = 128 + libc::SIGPIPE;

/// Settings both commands share.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// The pipeline's settings.
    pub options: pipeline_md5::Options,
    /// Print the per-stage table on stderr after the run (`--stats`).
    pub stats: bool,
    /// Show a progress bar when stderr is a terminal and the run is long.
    pub progress: bool,
}

impl Common {
    /// Settings with `options`, no stats, a progress bar when fitting.
    pub fn new(options: pipeline_md5::Options) -> Common {
        Common {
            options,
            stats: false,
            progress: true,
        }
    }
}

/// The status to exit with once a run has ended, after the output is
/// flushed (unless `wrote` already failed; a write error other than a
/// reader gone fails the run): a signal wins, then a closed stdout, then
/// what the run found.
fn final_status(
    interrupts: &Interrupts,
    out: &mut output::Lines,
    wrote: Result<(), output::WriteFailed>,
    mut failed: bool,
    stats: Option<(&Stats, String)>,
    bar: &mut bar::Bar,
) -> i32 {
    if let Err(output::WriteFailed::Other(reason)) = wrote.and_then(|()| out.flush()) {
        bar.warn(format!("write error: {reason}").as_bytes());
        failed = true;
    }
    let closed = out.is_closed();
    bar.finish();
    if let Some((stats, engine)) = stats {
        let engine = format!("{engine}\n");
        pipeline_md5::stdio::to_stderr(stats.to_string().as_bytes());
        pipeline_md5::stdio::to_stderr(engine.as_bytes());
    }
    if let Some(status) = interrupts.exit_status() {
        status
    } else if closed {
        CLOSED_STDOUT
    } else if failed {
        FAILURE
    } else {
        SUCCESS
    }
}

/// For a run that ended by its cancel: when no signal came and stdout is
/// still open, nothing asked it to stop, and the files it had not reached
/// were neither digested nor reported. Says so and returns `true` (the run
/// failed), so that such a stop can never end with status 0.
fn stopped_unasked(interrupts: &Interrupts, out_closed: bool, bar: &bar::Bar) -> bool {
    if interrupts.exit_status().is_some() || out_closed {
        return false;
    }
    bar.warn(b"the run stopped before every file was read");
    true
}

/// The algorithm and engine a digest run with `options` runs, as
/// `--stats` names them (`md5: avx2-dual x16`): MD5 in the bounded design
/// on blocking reads runs [`Options::engine`](pipeline_md5::Options::engine)
/// (as check mode does); the other designs read one file at a time with
/// md-5, the scalar engine, and so does every other algorithm
/// (`sha256: scalar`).
pub fn engine_in_use(options: &pipeline_md5::Options) -> String {
    let engine = match (options.algorithm, options.mode, options.io) {
        (Algorithm::Md5, pipeline_md5::Mode::Bounded, pipeline_md5::Io::Blocking) => {
            options.engine.name()
        }
        _ => pipeline_md5::engine::Engine::scalar().name(),
    };
    format!("{}: {engine}", options.algorithm)
}

/// Starts what every run needs before the first run does, so that a
/// process short of descriptors or memory (`ulimit -n`, `ulimit -v`) gets
/// a clear error instead of a panic deep in a dependency: smol's reactor
/// (an epoll, an eventfd, a timerfd and a thread), the runtime's executor
/// threads, and one thread of the blocking pool's stack size.
///
/// # Errors
///
/// What could not be started, worded for `md5pipe: cannot start: ...`.
pub fn preflight() -> Result<(), String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // The reactor first, on this thread: started later by the executor's
    // threads, its failure would be their panic, not ours to report.
    // A timer is what makes the reactor start here: a future that is
    // ready at once never looks at it, and a spawned task that ends before
    // this thread waits leaves its start to whichever thread is first to
    // wait later (with the tokio feature, after tokio took descriptors of
    // its own).
    // One poll of a far timer registers it, which starts the reactor; the
    // drop takes it out again, and nothing waits.
    let timer = || {
        let mut far = std::pin::pin!(smol::Timer::after(std::time::Duration::from_secs(3600)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(far.as_mut(), &mut cx);
    };
    let started = std::panic::catch_unwind(timer)
        .and_then(|()| std::panic::catch_unwind(|| smol::block_on(pipeline::spawn(async {}))));
    if started.is_err() {
        // The hook stays quiet: other threads (async-io's) may meet the
        // same failure before the process exits with this error.
        // The reactor's and the executor's panics carry no error value:
        // ask the OS the same questions again for the reason.
        let reason = match std::fs::File::open("/") {
            Err(err) => pipeline_md5::walk::io_reason(&err),
            Ok(_) => "cannot start threads or the event loop (out of memory?)".to_owned(),
        };
        return Err(reason);
    }
    std::panic::set_hook(previous);
    std::thread::Builder::new()
        .name("md5pipe-preflight".into())
        .spawn(|| ())
        .and_then(|t| t.join().map_err(|_| std::io::ErrorKind::Other.into()))
        .map_err(|err| {
            format!(
                "cannot start threads: {}",
                pipeline_md5::walk::io_reason(&err)
            )
        })?;
    // The pool that runs blocking stages says so when it cannot start a
    // thread; a run meeting that later fails with the same error.
    smol::block_on(pipeline::unblock(|| ())).map_err(|err| {
        format!(
            "cannot start threads: {}",
            pipeline_md5::walk::io_reason(&err)
        )
    })
}
