//! Helpers for md5pipe's integration tests: building trees, running the
//! binary and GNU md5sum (the oracle), and running as an unprivileged user.

#![allow(dead_code)]

// Building trees, md5sum and the fuzzers' generator are the library's
// test helpers: one copy serves both crates.
#[path = "../../../pipeline-md5/tests/common/mod.rs"]
mod library;
pub use library::*;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// The md5pipe binary under test.
pub fn md5pipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_md5pipe"));
    cmd.env("LC_ALL", "C.UTF-8").stdin(Stdio::null());
    cmd
}

/// A command that runs `program` as the unprivileged user `nobody`
/// (uid and gid 65534, no supplementary groups), through `setpriv`.
pub fn as_nobody(program: &OsStr) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null());
    cmd
}

/// Whether this process runs as root (then permissions do not bind it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The number in environment variable `name`, or `default` (the fuzzers'
/// `MD5PIPE_FUZZ_CASES` and `MD5PIPE_FUZZ_SEED`).
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The smallest `ulimit -v` (KiB, in steps of 1000) under which the
/// md5pipe binary loads and runs `--version`. Below it the dynamic loader
/// fails before any of md5pipe's code runs (a debug binary maps ~90 MB),
/// so memory sweeps start here rather than at a fixed figure that a larger
/// build would fall under.
#[allow(dead_code)]
pub fn smallest_loading_limit_kib() -> u64 {
    let bin = env!("CARGO_BIN_EXE_md5pipe");
    (4_000..=200_000)
        .step_by(1_000)
        .find(|kib| {
            Command::new("sh")
                .args([
                    "-c",
                    &format!(r#"ulimit -v {kib}; exec "$0" --version"#),
                    bin,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("md5pipe --version must run under some limit up to 200 MB")
}

/// Sends `sig` to `child`.
pub fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Whether `pid` holds a descriptor open on `path`.
pub fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Bytes the process has read so far (`rchar` of /proc/PID/io). The
/// dynamic loader's reads count too: wait for [`catches`] before taking a
/// baseline.
pub fn bytes_read(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Whether `pid` has installed a handler for `sig` (its bit in `SigCgt`
/// of /proc/PID/status): before that, a signal takes its default action.
pub fn catches(pid: u32, sig: libc::c_int) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// "Go on" for an md5pipe paused at `MD5PIPE_TEST_PAUSE_FIFO` (see
/// pipeline-md5/src/pause.rs): one byte written into the FIFO. Keep the
/// returned end open until the child has been waited for: closed early,
/// the byte would be lost if md5pipe had not opened the FIFO yet.
pub fn go_on(handshake: &Path) -> fs::File {
    answer(handshake, b"g")
}

/// As [`go_on`], after md5pipe cancels its run from inside (the byte `c`):
/// a run stopped with nothing outside asking.
pub fn cancel_and_go_on(handshake: &Path) -> fs::File {
    answer(handshake, b"c")
}

fn answer(handshake: &Path, byte: &[u8; 1]) -> fs::File {
    use std::io::Write;
    let mut go = fs::File::create(handshake).expect("open the handshake FIFO");
    go.write_all(byte).expect("write to the handshake FIFO");
    go
}

/// Waits for "I am here" from an md5pipe set to pause at
/// `MD5PIPE_TEST_PAUSE_FIFO`: it opens the FIFO for writing and closes it.
pub fn wait_for_pause(handshake: &Path) {
    use std::io::Read;
    fs::File::open(handshake)
        .expect("open the handshake FIFO")
        .read_to_end(&mut Vec::new())
        .expect("read the handshake FIFO");
}
