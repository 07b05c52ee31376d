//! `md5pipe -c` ends promptly wherever it is blocked: reading a list from a
//! pipe or a FIFO, opening a FIFO nobody writes to, inside a long file, or
//! with its stdout reader gone. Nothing here waits a fixed time: each step
//! waits for what md5pipe shows (a line on stdout, an open descriptor, bytes
//! read in /proc), and a watchdog only turns a hang into a failure.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// Upper bound on any wait that only a hung md5pipe would exceed.
const GUARD: Duration = Duration::from_secs(60);

const A_SUM: &str = "0cc175b9c0f1b6a831c399e269772661"; // md5 of "a"

/// Waits for `child` to exit, failing (and killing it) after [`GUARD`].
fn exit_status(mut child: Child) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(GUARD) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("md5pipe -c did not end after the signal");
        }
    }
}

/// Reads one line from `stdout`, failing after [`GUARD`].
fn first_line(stdout: ChildStdout) -> (String, ChildStdout) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send((line, reader.into_inner()));
    });
    rx.recv_timeout(GUARD).expect("md5pipe printed no line")
}

/// The status for `sig`: 128 + sig, or killed by it (SIGHUP keeps its
/// default action).
fn ended_by(status: ExitStatus, sig: libc::c_int) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.code() == Some(128 + sig) || status.signal() == Some(sig)
}

fn dir_with_a() -> tempfile::TempDir {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    dir
}

/// md5pipe -c reading its list from a pipe we keep open, after it has
/// verified one line of it; returns the child and our end of its stdin.
fn blocked_on_stdin_pipe(dir: &Path) -> (Child, std::process::ChildStdin, ChildStdout) {
    let mut child = md5pipe()
        .arg("-c")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut input = child.stdin.take().expect("piped");
    input
        .write_all(format!("{A_SUM}  a\n").as_bytes())
        .expect("write");
    let (line, stdout) = first_line(child.stdout.take().expect("piped"));
    assert_eq!(line, "a: OK\n");
    (child, input, stdout)
}

#[test]
fn signals_end_a_check_reading_its_list_from_a_pipe() {
    let dir = dir_with_a();
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let (child, input, mut stdout) = blocked_on_stdin_pipe(dir.path());
        signal(&child, sig);
        let status = exit_status(child);
        assert!(ended_by(status, sig), "signal {sig}: {status:?}");
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).expect("read");
        assert!(rest.is_empty(), "signal {sig}: {}", show(&rest));
        drop(input);
    }
}

#[test]
fn a_closed_stdout_ends_a_check_reading_its_list_from_a_pipe() {
    let dir = dir_with_a();
    let (child, input, stdout) = blocked_on_stdin_pipe(dir.path());
    drop(stdout);
    let status = exit_status(child);
    assert_eq!(status.code(), Some(141), "{status:?}");
    drop(input);
}

#[test]
fn signals_end_a_check_whose_list_is_a_fifo_nobody_writes() {
    let dir = dir_with_a();
    let list = dir.path().join("list");
    fifo(&list);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let child = md5pipe()
            .args(["-c", "list"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let started = Instant::now();
        while !has_open(child.id(), &list) {
            assert!(
                started.elapsed() < GUARD,
                "md5pipe never opened the FIFO (blocked in open?)"
            );
            std::thread::yield_now();
        }
        signal(&child, sig);
        let status = exit_status(child);
        assert_eq!(status.code(), Some(128 + sig), "{status:?}");
    }
}

#[test]
fn signals_end_a_check_reading_a_fifo_list_part_way() {
    let dir = dir_with_a();
    let list = dir.path().join("list");
    fifo(&list);
    let mut child = md5pipe()
        .args(["-c", "list"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut writer = fs::OpenOptions::new()
        .write(true)
        .open(&list)
        .expect("open the FIFO for writing");
    writer
        .write_all(format!("{A_SUM}  a\n").as_bytes())
        .expect("write");
    let (line, _stdout) = first_line(child.stdout.take().expect("piped"));
    assert_eq!(line, "a: OK\n");
    signal(&child, libc::SIGINT);
    assert_eq!(exit_status(child).code(), Some(130));
    drop(writer);
}

#[test]
fn signals_end_a_check_inside_a_long_file() {
    let dir = dir_with_a();
    let huge = fs::File::create(dir.path().join("huge")).expect("create");
    huge.set_len(64 << 30).expect("sparse file");
    let zeros = "0".repeat(32);
    fs::write(
        dir.path().join("list"),
        format!("{A_SUM}  a\n{zeros}  huge\n{A_SUM}  a\n"),
    )
    .expect("write list");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let child = md5pipe()
            .args(["-c", "list", "-j", "2"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let started = Instant::now();
        while bytes_read(child.id()) < 64 << 20 {
            assert!(started.elapsed() < GUARD, "never got into the big file");
            std::thread::yield_now();
        }
        signal(&child, sig);
        let out = child.wait_with_output().expect("waits");
        assert_eq!(out.status.code(), Some(128 + sig), "{out:?}");
        let stdout = show(&out.stdout);
        assert!(
            stdout.is_empty() || stdout == "a: OK\n",
            "only whole lines before the big file: {stdout:?}"
        );
        assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    }
}

#[test]
fn sigint_ends_a_check_reading_a_listed_dash_from_a_pipe() {
    let dir = dir_with_a();
    fs::write(dir.path().join("list"), format!("{A_SUM}  a\n{A_SUM}  -\n")).expect("write list");
    let mut child = md5pipe()
        .args(["-c", "list"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let input = child.stdin.take().expect("piped");
    let (line, _stdout) = first_line(child.stdout.take().expect("piped"));
    assert_eq!(line, "a: OK\n");
    signal(&child, libc::SIGINT);
    assert_eq!(exit_status(child).code(), Some(130));
    drop(input);
}
