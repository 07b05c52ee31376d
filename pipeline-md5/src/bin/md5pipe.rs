//! `md5pipe`: md5sum for trees, on the article's pipelines. The command
//! line is parsed here; everything else is in `pipeline_md5::cli`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use pipeline_md5::check::ListSource;
use pipeline_md5::cli::{self, CheckCommand, Common, DigestCommand, Interrupts};
use pipeline_md5::{Io, Mode, Options};

const AFTER_HELP: &str = "\
Digest mode prints `HEX  PATH` for every regular file below each PATH (a
file PATH: that file), each PATH's files sorted by the bytes of their path,
as GNU md5sum prints them; `md5sum -c` and `md5pipe -c` verify the output.

Exit status: 0 all good; 1 some file could not be read or did not verify;
2 usage error; 130 interrupted (SIGINT), 143 terminated (SIGTERM); 141 when
the reader of stdout went away (as for a process ended by SIGPIPE).";

/// Compute and check MD5 digests of whole trees, in parallel.
#[derive(Debug, Parser)]
#[command(name = "md5pipe", version, after_help = AFTER_HELP)]
struct Args {
    /// Files or directories to digest (default: `.`); with -c, lists to
    /// check (default or `-`: standard input).
    #[arg(value_name = "PATH")]
    paths: Vec<OsString>,

    /// Read MD5 lists from the FILEs and check them.
    #[arg(short = 'c', long)]
    check: bool,

    /// End each output line with NUL, not newline, and do not escape names
    /// (with -c: lists have NUL-terminated lines).
    #[arg(short = 'z', long)]
    zero: bool,

    /// Print BSD-style lines: `MD5 (PATH) = HEX`.
    #[arg(long, conflicts_with = "check")]
    tag: bool,

    /// Follow symbolic links below the PATHs; a loop is an error.
    #[arg(short = 'L', long, conflicts_with = "check")]
    follow: bool,

    /// The design: bounded (walker, N digesters), parallel (a task per file)
    /// or serial. All print the same bytes.
    #[arg(long, value_name = "MODE", default_value = "bounded", value_parser = parse_mode)]
    mode: Mode,

    /// Digesters reading files at once [default: number of CPUs].
    #[arg(short = 'j', long, value_name = "N", value_parser = positive)]
    digesters: Option<usize>,

    /// Capacity of the channels between stages [default: 64].
    #[arg(long, value_name = "N", value_parser = positive)]
    buffer: Option<usize>,

    /// How many finished digests may wait for a slower one ahead of them
    /// [default: 64, or twice the digesters if more].
    #[arg(long, value_name = "N", value_parser = positive)]
    window: Option<usize>,

    /// Bytes read at a time [default: 65536].
    #[arg(long, value_name = "BYTES", value_parser = positive)]
    chunk_size: Option<usize>,

    /// Most small files handed to a digester at once (bounded mode, blocking
    /// reads) [default: 16].
    #[arg(long, value_name = "N", value_parser = positive)]
    group: Option<usize>,

    /// How digesters read: blocking (std::fs on a blocking pool) or async
    /// (async-fs).
    #[arg(long, value_name = "IO", default_value = "blocking", value_parser = parse_io)]
    io: Io,

    /// Stop at the first error: report it, print nothing more, exit 1.
    #[arg(long, conflicts_with = "check")]
    fail_fast: bool,

    /// With -c: do not print OK for each verified file.
    #[arg(long, requires = "check")]
    quiet: bool,

    /// With -c: print nothing; the exit status tells.
    #[arg(long, requires = "check")]
    status: bool,

    /// With -c: exit 1 on improperly formatted lines.
    #[arg(long, requires = "check")]
    strict: bool,

    /// With -c: warn about improperly formatted lines.
    #[arg(short = 'w', long, requires = "check")]
    warn: bool,

    /// With -c: don't fail or report status for missing files.
    #[arg(long, requires = "check")]
    ignore_missing: bool,

    /// After the run, print each stage's counters on stderr.
    #[arg(long)]
    stats: bool,

    /// Never show the progress bar (shown only on a terminal, for long runs).
    #[arg(long)]
    no_progress: bool,
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_io(s: &str) -> Result<Io, String> {
    s.parse()
}

/// md5sum's `--quiet`, `--status` and `-w` override each other: the last
/// one given wins. Returns (quiet, status, warn).
fn last_of_quiet_status_warn(matches: &clap::ArgMatches) -> (bool, bool, bool) {
    let last = |id: &str| {
        matches
            .indices_of(id)
            .and_then(|i| i.max())
            .filter(|_| matches.get_flag(id))
    };
    let winner = [
        ("quiet", last("quiet")),
        ("status", last("status")),
        ("warn", last("warn")),
    ]
    .into_iter()
    .filter_map(|(id, at)| at.map(|at| (at, id)))
    .max()
    .map(|(_, id)| id);
    (
        winner == Some("quiet"),
        winner == Some("status"),
        winner == Some("warn"),
    )
}

fn main() {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(err) => err.exit(),
    };
    let (quiet, status_only, warn) = last_of_quiet_status_warn(&matches);
    let mut options = Options::default()
        .mode(args.mode)
        .follow_links(args.follow)
        .fail_fast(args.fail_fast)
        .io(args.io);
    if let Some(n) = args.digesters {
        options = options.digesters(n);
    }
    if let Some(n) = args.buffer {
        options = options.buffer(n);
    }
    if let Some(n) = args.window {
        options = options.window(n);
    }
    if let Some(n) = args.group {
        options = options.group(n);
    }
    if let Some(n) = args.chunk_size {
        options = options.chunk(n);
    }
    let mut common = Common::new(options);
    common.stats = args.stats;
    common.progress = !args.no_progress;

    let interrupts = match Interrupts::install() {
        Ok(interrupts) => interrupts,
        Err(err) => {
            eprintln!("md5pipe: cannot handle signals: {err}");
            std::process::exit(cli::FAILURE);
        }
    };
    let status = if args.check {
        let mut cmd = CheckCommand::default();
        cmd.lists = args
            .paths
            .iter()
            .map(|p| ListSource::from_arg(p.as_bytes()))
            .collect();
        cmd.zero = args.zero;
        cmd.quiet = quiet;
        cmd.status_only = status_only;
        cmd.strict = args.strict;
        cmd.warn = warn;
        cmd.ignore_missing = args.ignore_missing;
        cmd.common = common;
        cli::run_check(&cmd, &interrupts)
    } else {
        let mut cmd = DigestCommand::default();
        cmd.roots = args.paths.into_iter().map(PathBuf::from).collect();
        cmd.zero = args.zero;
        cmd.tag = args.tag;
        cmd.common = common;
        cli::run_digest(&cmd, &interrupts)
    };
    std::process::exit(status);
}
