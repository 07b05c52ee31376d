//! md5pipe's bounds: memory that does not grow with a file's size, and a
//! prompt, clean end on SIGINT and SIGTERM in the middle of a large file.
//! Nothing here waits a fixed time: progress is read from /proc.

mod common;

use std::fs;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Upper bound on any wait that only a hung md5pipe would exceed.
const GUARD: Duration = Duration::from_secs(120);

/// MD5 of 2 GiB of zero bytes (`head -c 2G /dev/zero | md5sum`).
const ZEROS_2G: &str = "a981130cf2b7e09f4686dc273cf7187e";

/// Waits for `child` and returns its exit status and its peak RSS in KiB,
/// as `wait4` reports them for that one process. (The child is reaped
/// here, so `Child::wait` must not be called on it.)
fn wait_rss(child: &Child) -> (libc::c_int, i64) {
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child` is our unwaited child; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    (status, usage.ru_maxrss)
}

/// Runs md5pipe with `args` in `dir`, which must exit 0; its stdout and
/// peak RSS in KiB.
#[allow(clippy::zombie_processes)] // reaped by `wait_rss`, with wait4
fn run_for_rss(args: &[&str], dir: &std::path::Path) -> (Vec<u8>, i64) {
    let mut child = md5pipe()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let (status, rss_kib) = wait_rss(&child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{args:?}: status {status}"
    );
    (stdout, rss_kib)
}

#[test]
fn a_2gib_file_is_digested_in_little_memory() {
    let dir = open_tempdir();
    let f = fs::File::create(dir.path().join("sparse")).unwrap();
    f.set_len(2 << 30).unwrap();
    file(dir.path(), b"small", b"x");
    let (stdout, rss_kib) = run_for_rss(&["."], dir.path());
    assert_eq!(
        show(&stdout),
        format!("9dd4e461268c8034f5c8564e155c67a6  small\n{ZEROS_2G}  sparse\n"),
    );
    assert!(rss_kib < 64 * 1024, "peak RSS {rss_kib} KiB");
}

#[test]
fn async_digesters_read_ahead_one_chunk_not_megabytes() {
    // `--io async` read through `async-fs`'s `File`, which reads up to
    // 8 MiB ahead of the reader for each open file: 32 digesters on 32
    // files of 32 MiB peaked at 270 MiB. Each digester holds one chunk
    // of read-ahead now.
    let dir = open_tempdir();
    let mut names = Vec::new();
    for i in 0..32 {
        let name = format!("f{i:02}");
        fs::File::create(dir.path().join(&name))
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        names.push(name.into_bytes());
    }
    let expected = md5sum_of(dir.path(), &[], &names);
    let (stdout, rss_kib) = run_for_rss(&["--io", "async", "-j", "32", "."], dir.path());
    assert_eq!(show(&stdout), show(&expected));
    assert!(rss_kib < 64 * 1024, "peak RSS {rss_kib} KiB");
}

/// Bytes the process has read so far (`rchar` of /proc/PID/io).
fn bytes_read(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Starts md5pipe on small files and a huge sparse one, waits until it is
/// well into the huge one, sends `signal`, and checks the exit status and
/// that stdout holds whole lines only, each one a right line.
fn interrupt_mid_file(signal: libc::c_int, args: &[&str]) {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    file(dir.path(), b"b", b"b");
    let f = fs::File::create(dir.path().join("huge")).unwrap();
    f.set_len(64 << 30).unwrap();
    file(dir.path(), b"z", b"z");
    let expected = show(&md5sum_of(
        dir.path(),
        &[],
        &[b"a".to_vec(), b"b".to_vec(), b"z".to_vec()],
    ));

    let child = md5pipe()
        .args(args)
        .arg(".")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while bytes_read(child.id()) < 64 << 20 {
        assert!(
            started.elapsed() < GUARD,
            "md5pipe never got into the big file"
        );
        std::thread::yield_now();
    }
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + signal), "{args:?}: {out:?}");
    let stdout = show(&out.stdout);
    assert!(
        stdout.is_empty() || stdout.ends_with('\n'),
        "half a line: {stdout:?}"
    );
    for line in stdout.lines() {
        assert!(
            expected.lines().any(|e| e == line),
            "{args:?}: unexpected line {line:?}"
        );
    }
    assert!(out.stderr.is_empty(), "{args:?}: {}", show(&out.stderr));
}

#[test]
fn sigint_mid_file_exits_130_with_whole_lines() {
    interrupt_mid_file(libc::SIGINT, &["-j", "2"]);
    interrupt_mid_file(libc::SIGINT, &["--mode", "parallel"]);
    interrupt_mid_file(libc::SIGINT, &["--mode", "serial"]);
    interrupt_mid_file(libc::SIGINT, &["--io", "async", "-j", "2"]);
}

#[test]
fn sigterm_mid_file_exits_143() {
    interrupt_mid_file(libc::SIGTERM, &["-j", "1"]);
}
