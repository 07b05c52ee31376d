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
//! GNU md5sum quotes it ([`crate::escape::quote`]) and the reason worded as
//! md5sum words it.

mod bar;
mod check;
mod digest;
mod output;
mod signals;

pub use check::{run_check, CheckCommand};
pub use digest::{run_digest, DigestCommand};
pub use signals::Interrupts;

use pipeline::Stats;

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
#[non_exhaustive]
pub struct Common {
    /// The pipeline's settings.
    pub options: crate::Options,
    /// Print the per-stage table on stderr after the run (`--stats`).
    pub stats: bool,
    /// Show a progress bar when stderr is a terminal and the run is long.
    pub progress: bool,
}

impl Common {
    /// Settings with `options`, no stats, a progress bar when fitting.
    pub fn new(options: crate::Options) -> Common {
        Common {
            options,
            stats: false,
            progress: true,
        }
    }
}

/// The status to exit with once a run has ended: a signal wins, then a
/// closed stdout, then what the run found.
fn final_status(
    interrupts: &Interrupts,
    closed: bool,
    failed: bool,
    stats: Option<&Stats>,
    bar: &mut bar::Bar,
) -> i32 {
    bar.finish();
    if let Some(stats) = stats {
        eprint!("{stats}");
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
