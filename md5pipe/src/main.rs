//! `md5pipe`: md5sum for whole trees, on the Go article's pipelines.
//!
//! It digests every regular file below each PATH in parallel and prints
//! lines GNU `md5sum -c` verifies, in bytewise path order as they become
//! known; `-c` verifies such lists, `--diff` audits a tree against one,
//! `--tree-digest` prints one digest per tree, `--json` a JSON object per
//! file, `--cache` reads only the files that changed since the last run,
//! and `-a` picks SHA-1, SHA-256, SHA-512 or BLAKE3 instead of MD5.
//! Its usage is in `docs/md5pipe.md`; the work is done by the library
//! `pipeline_md5` (walk, digest engines, list checking, audit), which has
//! no command-line dependencies. This crate is the command line: its
//! arguments are parsed here, and [`cli`] runs each mode with the signals,
//! the progress bar and the output a terminal tool needs.
//!
//! The binary has its own C `main` instead of Rust's start-up: that
//! start-up reopens any of descriptors 0–2 the user closed on `/dev/null`,
//! so `md5pipe DIR >&-` would print into nothing and exit 0. Here a closed
//! descriptor stays closed and is recorded first thing
//! ([`pipeline_md5::stdio`]); writing to a closed stdout is then the error
//! md5sum reports. What Rust's start-up did besides is done here: SIGPIPE
//! is ignored (a closed pipe is seen as `EPIPE`), and a panic ends the
//! process with status 101 rather than unwinding out of `main`.

// The C `main` below is the entry point; a unit-test build keeps the test
// harness's own, and leaves the command line unused.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]
#![warn(missing_docs)]

mod cli;
mod oom;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use cli::{AuditCommand, CheckCommand, Common, DigestCommand, Interrupts};
use pipeline_md5::algorithm::Algorithm;
use pipeline_md5::check::ListSource;
use pipeline_md5::engine::{Engine, ENGINE_VAR};
use pipeline_md5::filter::Filter;
use pipeline_md5::roots::FilesFrom;
use pipeline_md5::{limits, Io, Mode, Options};

/// Out of memory is `md5pipe: out of memory` and status 1, not an abort.
#[global_allocator]
static ALLOCATOR: oom::ExitOnOom = oom::ExitOnOom;

const AFTER_HELP: &str = "\
Digest mode prints `HEX  PATH` for every regular file below each PATH (a
file PATH: that file), each PATH's files sorted by the bytes of their path,
as GNU md5sum prints them; `md5sum -c` and `md5pipe -c` verify the output.
With -a sha1|sha256|sha512|blake3 the lines are those of sha1sum,
sha256sum, sha512sum or b3sum, which verify them too.

Exit status: 0 all good; 1 some file could not be read or did not verify;
2 usage error; 130 interrupted (SIGINT), 143 terminated (SIGTERM); 141 when
the reader of stdout went away (as for a process ended by SIGPIPE).

MD5 runs on the fastest engine this CPU has (several files at once in the
lanes of AVX2 or AVX-512F registers, or side by side in plain registers;
--stats names it). MD5PIPE_ENGINE=NAME forces one: scalar, portable, avx2,
avx2-dual or avx512 (auto: the default).";

/// Compute and check MD5 (or SHA, BLAKE3) digests of whole trees, in parallel.
#[derive(Debug, Parser)]
#[command(name = "md5pipe", version, after_help = AFTER_HELP, args_override_self = true)]
struct Args {
    /// Files or directories to digest (default: `.`); with -c, lists to
    /// check (default or `-`: standard input).
    #[arg(value_name = "PATH")]
    paths: Vec<OsString>,

    /// Read MD5 lists from the FILEs and check them.
    #[arg(short = 'c', long)]
    check: bool,

    /// Audit PATH (one tree, default `.`) against MANIFEST (a list md5pipe
    /// or md5sum wrote, in any order; `-`: standard input): print
    /// `= PATH` (same digest), `* PATH` (changed), `+ PATH` (new), `- PATH`
    /// (missing) or `! PATH` (unreadable) for every path, the counts on
    /// stderr; exit 1 on any difference.
    #[arg(long, value_name = "MANIFEST", conflicts_with_all = ["check", "tag", "binary", "text", "fail_fast"])]
    diff: Option<OsString>,

    /// Print one digest per PATH instead of a line per file: the digest
    /// (MD5, or -a's) of what `md5pipe .` prints inside PATH (names
    /// relative to PATH, in bytewise order), the same wherever the tree is.
    #[arg(long, conflicts_with_all = ["check", "diff", "binary", "text", "fail_fast"])]
    tree_digest: bool,

    /// Keep each file's digest in FILE with its size, times, inode and
    /// device, and read a file again only when these changed (a new FILE
    /// is created; one that is not a cache is refused). The output is the
    /// same as without it. One PATH; see the README for what it trusts.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "files_from"])]
    cache: Option<OsString>,

    /// End each output line with NUL, not newline, and do not escape names
    /// (with -c: lists have NUL-terminated lines).
    #[arg(short = 'z', long)]
    zero: bool,

    /// Print a JSON object per line instead (JSON Lines), in the same
    /// order: {"path","size","algorithm","digest","error"} per file; a file or
    /// directory that cannot be read is an object with "error" set (not a
    /// message on stderr; the exit status is still 1). A path that is not
    /// UTF-8 is given as "path_bytes", its bytes in base64.
    #[arg(long, conflicts_with_all = ["check", "diff", "tree_digest", "tag", "zero", "binary", "text"])]
    json: bool,

    /// The digest: md5 (on the multi-lane engine), sha1, sha256, sha512 or
    /// blake3. Lines are as `sha256sum`, `b3sum`... print them, BSD-style
    /// ones (--tag) as `cksum -a` does. With -c, lines of every algorithm
    /// are checked (by their tag, or their digest's length); -a names the
    /// one of untagged lines of its length (-a blake3 for b3sum lists).
    #[arg(short = 'a', long, value_name = "ALGORITHM", default_value = "md5", value_parser = parse_algorithm, conflicts_with = "diff")]
    algorithm: Algorithm,

    /// Print BSD-style lines: `MD5 (PATH) = HEX` (`SHA256 (PATH) = HEX`...).
    #[arg(long, conflicts_with = "check")]
    tag: bool,

    /// Mark names with `*` (binary mode; files are read the same either
    /// way, as on every GNU system).
    #[arg(short = 'b', long)]
    binary: bool,

    /// Mark names with a space (text mode, the default).
    #[arg(short = 't', long)]
    text: bool,

    /// Follow symbolic links below the PATHs; a loop is an error.
    #[arg(short = 'L', long, conflicts_with = "check")]
    follow: bool,

    /// Digest the files (or trees) named in FILE (`-`: standard input), one
    /// a line, in that order, after any PATH; the list is read as the run
    /// goes.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check", "diff", "tree_digest"])]
    files_from: Option<OsString>,

    /// With --files-from: names end at NUL (as `find -print0` writes them).
    #[arg(short = '0', long, requires = "files_from")]
    null: bool,

    /// Skip files and directories matching GLOB (.gitignore syntax: `*.tmp`
    /// at any depth, `build/` directories only, `/notes` at the root); an
    /// excluded directory is not read. Repeatable.
    #[arg(long, value_name = "GLOB", conflicts_with = "check")]
    exclude: Vec<String>,

    /// Digest only files matching GLOB (.gitignore syntax). Repeatable.
    #[arg(long, value_name = "GLOB", conflicts_with = "check")]
    include: Vec<String>,

    /// Digest files at most N levels below each PATH (1: its own files).
    #[arg(long, value_name = "N", conflicts_with = "check")]
    max_depth: Option<usize>,

    /// Do not enter directories on other file systems than their PATH's.
    #[arg(short = 'x', long, conflicts_with = "check")]
    one_file_system: bool,

    /// Skip what `.gitignore` files below each PATH ignore, and `.git`
    /// directories.
    #[arg(long, conflicts_with = "check")]
    ignore_vcs: bool,

    /// The design: bounded (walker, N digesters), parallel (a task per file)
    /// or serial. All print the same bytes.
    #[arg(long, value_name = "MODE", default_value = "bounded", value_parser = parse_mode)]
    mode: Mode,

    /// Digesters reading files at once, at most 1024 [default: number of
    /// CPUs].
    #[arg(short = 'j', long, value_name = "N", value_parser = positive::<{ limits::DIGESTERS }>)]
    digesters: Option<usize>,

    /// Capacity of the channels between stages, at most 65536 [default: 64].
    #[arg(long, value_name = "N", value_parser = positive::<{ limits::BUFFER }>)]
    buffer: Option<usize>,

    /// How many finished digests may wait for a slower one ahead of them
    /// (counted in groups with blocking reads), at most 65536 [default: 64,
    /// or twice the digesters if more].
    #[arg(long, value_name = "N", value_parser = positive::<{ limits::WINDOW }>)]
    window: Option<usize>,

    /// Bytes read at a time, shared by a digester's MD5 lanes (at least 64
    /// KiB a lane), at most 256 MiB [default: 65536].
    #[arg(long, value_name = "BYTES", value_parser = positive::<{ limits::CHUNK }>)]
    chunk_size: Option<usize>,

    /// Files handed to a digester at once, to share its MD5 lanes (bounded
    /// mode, blocking reads), at most 4096 [default: 256].
    #[arg(long, value_name = "N", value_parser = positive::<{ limits::GROUP }>)]
    group: Option<usize>,

    /// How digesters read: blocking (std::fs on a blocking pool) or async
    /// (an async reader, one chunk ahead).
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

/// A count from 1 to `MAX`.
fn positive<const MAX: usize>(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n > MAX => Err(format!("must be at most {MAX}")),
        Ok(n) => Ok(n),
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("must be at most {MAX}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// A usage error worded as md5sum words it, and exit status 2.
fn usage_error(message: &str) -> ! {
    pipeline_md5::stdio::to_stderr(
        format!("md5pipe: {message}\nTry 'md5pipe --help' for more information.\n").as_bytes(),
    );
    std::process::exit(cli::USAGE);
}

/// Whether `-b` (true) or `-t` (false) was given last; `None` for neither.
fn last_binary_or_text(matches: &clap::ArgMatches) -> Option<(bool, usize)> {
    let last = |id: &str| {
        matches
            .indices_of(id)
            .and_then(|i| i.max())
            .filter(|_| matches.get_flag(id))
    };
    match (last("binary"), last("text")) {
        (Some(b), Some(t)) => Some((b > t, b.max(t))),
        (Some(b), None) => Some((true, b)),
        (None, Some(t)) => Some((false, t)),
        (None, None) => None,
    }
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
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

/// Makes glibc's malloc serve every thread from its main arena. By default
/// a thread's first allocation may reserve a new 64–128 MiB arena with
/// `mmap`; under a `ulimit -v` that reservation fails, and glibc was seen
/// retrying it forever on an executor thread (a run spinning on one core
/// with no output). md5pipe's threads allocate little and rarely (buffers
/// are kept per thread), so one arena costs nothing measurable.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc tunable; it is called before
    // any other thread exists, as glibc asks for M_ARENA_MAX.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The process's entry point, called by the C runtime (see the crate docs
/// for why not Rust's).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    pipeline_md5::stdio::probe();
    pipeline_md5::walk::grow_descriptor_table();
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        // Threads of the runtime and the blocking pool run shallow stacks;
        // 1 MiB instead of 2 leaves room under `ulimit -v`. No thread runs
        // yet, so nothing reads the environment meanwhile.
        std::env::set_var("RUST_MIN_STACK", "1048576");
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no
    // preconditions; no other thread runs yet.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    one_malloc_arena();
    match std::panic::catch_unwind(run) {
        Ok(status) => std::process::exit(status),
        Err(_) => std::process::exit(101),
    }
}

fn run() -> i32 {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(err) => err.exit(),
    };
    let (quiet, status_only, warn) = last_of_quiet_status_warn(&matches);
    let binary = last_binary_or_text(&matches);
    if args.check && binary.is_some() {
        usage_error("the --binary and --text options are meaningless when verifying checksums");
    }
    if let (Some((false, text_at)), true) = (binary, args.tag) {
        let tag_at = matches.index_of("tag").unwrap_or(0);
        if text_at > tag_at {
            usage_error("--tag does not support --text mode");
        }
    }
    let engine = match Engine::detect() {
        Ok(engine) => engine,
        Err(err) => usage_error(&format!("{ENGINE_VAR}: {err}")),
    };
    let mut filter = Filter::default()
        .one_file_system(args.one_file_system)
        .ignore_vcs(args.ignore_vcs);
    if let Some(depth) = args.max_depth {
        filter = filter.max_depth(depth);
    }
    let filter = filter
        .exclude(&args.exclude)
        .and_then(|f| f.include(&args.include))
        .unwrap_or_else(|err| usage_error(&err.to_string()));
    if args.cache.is_some() {
        if args.paths.len() > 1 {
            usage_error("--cache keeps one tree: give at most one PATH");
        }
        if args.paths.first().is_some_and(|p| p == "-") {
            usage_error("--cache: standard input has nothing to keep");
        }
        if args.algorithm != Algorithm::Md5 {
            usage_error("--cache keeps MD5 digests only: leave out -a");
        }
    }
    if args.cache.as_deref().is_some_and(is_stdout) {
        usage_error("--cache: FILE is the standard output, which the cache would replace");
    }
    let mut options = Options::default()
        .cache(args.cache.map(PathBuf::from))
        .engine(engine)
        .filter(filter)
        .files_from(args.files_from.as_ref().map(|list| FilesFrom {
            list: ListSource::from_arg(list.as_bytes()),
            nul: args.null,
        }))
        .algorithm(args.algorithm)
        .check_untagged(
            (matches.value_source("algorithm") == Some(clap::parser::ValueSource::CommandLine))
                .then_some(args.algorithm),
        )
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
            let reason = pipeline_md5::walk::io_reason(&err);
            pipeline_md5::stdio::to_stderr(
                format!("md5pipe: cannot handle signals: {reason}\n").as_bytes(),
            );
            return cli::FAILURE;
        }
    };
    if let Err(reason) = cli::preflight() {
        pipeline_md5::stdio::to_stderr(format!("md5pipe: cannot start: {reason}\n").as_bytes());
        return cli::FAILURE;
    }
    let status = if let Some(manifest) = args.diff {
        if args.paths.len() > 1 {
            usage_error("--diff audits one tree: give at most one PATH");
        }
        let cmd = AuditCommand {
            manifest: PathBuf::from(manifest),
            root: args.paths.into_iter().next().map(PathBuf::from),
            zero: args.zero,
            common,
        };
        cli::run_audit(&cmd, &interrupts)
    } else if args.check {
        let cmd = CheckCommand {
            lists: args
                .paths
                .iter()
                .map(|p| ListSource::from_arg(p.as_bytes()))
                .collect(),
            zero: args.zero,
            quiet,
            status_only,
            strict: args.strict,
            warn,
            ignore_missing: args.ignore_missing,
            common,
        };
        cli::run_check(&cmd, &interrupts)
    } else {
        let cmd = DigestCommand {
            roots: args.paths.into_iter().map(PathBuf::from).collect(),
            zero: args.zero,
            tag: args.tag,
            binary: binary.is_some_and(|(b, _)| b),
            json: args.json,
            fail_fast: args.fail_fast,
            common,
        };
        if args.tree_digest {
            cli::run_tree_digest(&cmd, &interrupts)
        } else {
            cli::run_digest(&cmd, &interrupts)
        }
    };
    status
}

/// Whether `path` names the file standard output is open on (so that
/// writing a cache there would replace the output).
fn is_stdout(path: &std::ffi::OsStr) -> bool {
    let Ok(out) = rustix::fs::fstat(std::io::stdout()) else {
        return false;
    };
    rustix::fs::stat(path).is_ok_and(|st| st.st_dev == out.st_dev && st.st_ino == out.st_ino)
}
