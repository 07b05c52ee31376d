//! md5pipe in digest mode against a hostile user: closed and full
//! outputs, readers that stop reading, signals wherever it is blocked,
//! `ulimit`, settings far past what a machine holds, and md5sum's flags.

mod common;

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Upper bound on any wait that only a hung md5pipe would exceed.
const GUARD: Duration = Duration::from_secs(60);

/// Asserts that `out` is a run that printed `want`, nothing on stderr,
/// and ended with status 0; `what` names the case.
fn succeeded(out: &std::process::Output, want: &str, what: &str) {
    assert_eq!(show(&out.stderr), "", "{what}");
    assert_eq!(out.status.code(), Some(0), "{what}");
    assert_eq!(show(&out.stdout), want, "{what}");
}

/// `sh -c SCRIPT md5pipe ARGS...` in `dir`: the script runs the binary as
/// `"$0" "$@"` after changing what it inherits. Killed after two minutes,
/// so that a hang fails the test instead of stalling the suite.
fn shell(dir: &std::path::Path, script: &str, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .args(["-s", "KILL", "120", "sh", "-c"])
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_md5pipe"))
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn small_tree(files: usize) -> tempfile::TempDir {
    let dir = open_tempdir();
    for i in 0..files {
        file(
            dir.path(),
            format!("f{i:05}").as_bytes(),
            format!("{i}\n").as_bytes(),
        );
    }
    dir
}

#[test]
fn closed_stdout_is_a_write_error_reported_once_with_status_1() {
    let dir = small_tree(3);
    let out = shell(dir.path(), r#"exec "$0" "$@" >&-"#, &["."]);
    assert_eq!(
        show(&out.stderr),
        "md5pipe: write error: Bad file descriptor\n"
    );
    assert_eq!(out.status.code(), Some(1));
    // Nothing to write: nothing to fail, as md5sum.
    let empty = open_tempdir();
    let out = shell(empty.path(), r#"exec "$0" "$@" >&-"#, &["."]);
    assert_eq!(
        (out.status.code(), show(&out.stderr)),
        (Some(0), String::new())
    );
}

#[test]
fn a_full_device_is_reported_once() {
    let dir = small_tree(3000); // well over 64 KiB of lines
    let out = shell(dir.path(), r#"exec "$0" "$@" >/dev/full"#, &["."]);
    assert_eq!(
        show(&out.stderr),
        "md5pipe: write error: No space left on device\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn dash_reads_standard_input_and_a_closed_one_is_an_error() {
    let dir = small_tree(1);
    let out = shell(dir.path(), r#"printf 'hi\n' | "$0" "$@""#, &["f00000", "-"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let f = show(&md5sum_of(dir.path(), &[], &[b"f00000".to_vec()]));
    assert_eq!(
        show(&out.stdout),
        f + "764efa883dda1e11db47671c4a3bbd9e  -\n"
    );
    let out = shell(dir.path(), r#"exec "$0" "$@" <&-"#, &["-"]);
    assert_eq!(show(&out.stderr), "md5pipe: -: Bad file descriptor\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_closed_stdin_is_an_error_in_every_mode_that_reads_it() {
    // Closed at start, descriptor 0 is the first one md5pipe opens (its
    // signal watcher's socket): reading a list or a manifest from it
    // waited forever and swallowed the signals meant to end the run.
    let dir = small_tree(1);
    fs::write(
        dir.path().join("dash.md5"),
        "0cc175b9c0f1b6a831c399e269772661  -\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("m.md5"),
        md5sum_of(dir.path(), &[], &[b"f00000".to_vec()]),
    )
    .unwrap();
    // A short guard of its own: a hang is status 137 here, not a stalled
    // suite.
    let closed = r#"exec timeout -s KILL 30 "$0" "$@" <&-"#;
    for list in [&["-c"][..], &["-c", "-"]] {
        let out = shell(dir.path(), closed, list);
        assert_eq!(out.status.code(), Some(1), "{list:?}: {out:?}");
        assert_eq!(show(&out.stdout), "", "{list:?}");
        assert_eq!(
            show(&out.stderr),
            "md5pipe: 'standard input': read error\n",
            "{list:?}"
        );
    }
    // `-` in a list is standard input: as md5sum, it fails to open.
    let out = shell(dir.path(), closed, &["-c", "dash.md5"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(show(&out.stdout), "-: FAILED open or read\n");
    assert_eq!(
        show(&out.stderr),
        "md5pipe: -: Bad file descriptor\n\
         md5pipe: WARNING: 1 listed file could not be read\n"
    );
    for args in [
        &["--files-from", "-"][..],
        &["--files-from", "-", "-0"],
        &["--json", "--files-from", "-"],
        &["--diff", "-", "."],
    ] {
        let out = shell(dir.path(), closed, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        // --json reports the list's error as an object on stdout.
        let said = show(&out.stderr) + &show(&out.stdout);
        assert!(said.contains("Bad file descriptor"), "{args:?}: {out:?}");
    }
}

#[test]
fn settings_past_their_limits_are_usage_errors_naming_the_limit() {
    let dir = small_tree(2);
    let max = usize::MAX.to_string();
    let over = "184467440737095516160";
    for (flag, limit) in [
        ("-j", "1024"),
        ("--buffer", "65536"),
        ("--window", "65536"),
        ("--chunk-size", "268435456"),
        ("--group", "4096"),
    ] {
        for value in [max.as_str(), over, "100000000000"] {
            let mut cmd = md5pipe();
            cmd.args([flag, value, "."]);
            let out = run_in(cmd, dir.path());
            assert_eq!(out.status.code(), Some(2), "{flag} {value}: {out:?}");
            assert!(
                show(&out.stderr).contains(&format!("must be at most {limit}")),
                "{flag} {value}: {}",
                show(&out.stderr)
            );
        }
    }
    let mut cmd = md5pipe();
    cmd.args([
        "-j", "1024", "--buffer", "65536", "--window", "65536", "--group", "4096",
    ]);
    cmd.args(["--chunk-size", "268435456", "."]);
    let out = run_in(cmd, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(show(&out.stdout).lines().count(), 2);
}

/// A run under `ulimit`: a clear `md5pipe: ` error and status 1, or
/// success; never a panic, an abort or half a line.
fn under_ulimit(limit: &str, dir: &std::path::Path) -> std::process::Output {
    let script = format!(r#"ulimit {limit}; exec "$0" "$@""#);
    let out = shell(dir, &script, &["."]);
    let stderr = show(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "ulimit {limit}: {:?} {stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("memory allocation"),
        "{stderr}"
    );
    for line in stderr.lines() {
        assert!(line.starts_with("md5pipe: "), "ulimit {limit}: {stderr}");
    }
    assert!(out.stdout.is_empty() || out.stdout.ends_with(b"\n"));
    out
}

#[test]
fn out_of_descriptors_is_a_clear_error_not_a_panic() {
    let dir = small_tree(20);
    for n in 4..=12 {
        let out = under_ulimit(&format!("-n {n}"), dir.path());
        if n <= 6 {
            assert_eq!(out.status.code(), Some(1), "ulimit -n {n}");
        }
    }
}

#[test]
fn directories_held_for_their_files_stay_under_the_descriptor_limit() {
    // 300 directories of one file each: under `ulimit -n 80` the walk may
    // hold 4 of them open for their files, and opens the rest from the
    // root; at the usual limit it holds up to 240. Either way every file
    // is digested, with no "Too many open files", by every design.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        let sub = dir.path().join(format!("d{i:03}"));
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("f"), format!("{i}\n")).unwrap();
    }
    let names: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("d{i:03}/f").into_bytes())
        .collect();
    let expected = md5sum_of(dir.path(), &[], &names);
    for limit in ["-n 80", "-n 1024"] {
        for mode in ["bounded", "serial", "parallel"] {
            let script = format!(r#"ulimit {limit}; exec "$0" "$@""#);
            let out = shell(dir.path(), &script, &["--mode", mode, "."]);
            succeeded(&out, &show(&expected), &format!("ulimit {limit}, {mode}"));
        }
    }
}

#[test]
fn the_descriptor_table_is_grown_before_threads_start() {
    // A table shared by threads grows only after an RCU grace period (the
    // opening thread stalls for milliseconds), so md5pipe grows it first,
    // for the directories the walk may hold: /proc shows its size while
    // md5pipe waits for standard input.
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    if soft < 1024 {
        eprintln!("skipped: the descriptor limit here is {soft}, under 1024");
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_md5pipe"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let fd_size = || -> Option<u64> {
        let text = fs::read_to_string(&status).ok()?;
        let line = text.lines().find(|l| l.starts_with("FDSize:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut size = None;
    while Instant::now() < deadline {
        size = fd_size();
        if size.is_some_and(|n| n > 256) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // 240 directories and 256 more under a limit of 1024 or more.
    assert!(size.is_some_and(|n| n >= 496), "FDSize {size:?}");
}

#[test]
fn out_of_memory_is_a_clear_error_not_an_abort() {
    let dir = small_tree(20);
    let low = smallest_loading_limit_kib();
    for kib in [
        low,
        low + 2_000,
        low + 8_000,
        low + 10_000,
        low + 12_000,
        low + 50_000,
    ] {
        under_ulimit(&format!("-v {kib}"), dir.path());
    }
}

#[test]
fn every_memory_limit_ends_in_an_answer_not_a_stall() {
    // Swept finely: somewhere in this range the executor's threads start
    // but a blocking worker's thread cannot (its stack does not fit). The
    // run must then fail with that error, not wait for a thread for ever
    // (or spin on one core, as smol's pool does when a spawn keeps
    // failing). Several workers, so that several threads are needed.
    let dir = small_tree(600);
    let low = smallest_loading_limit_kib();
    for kib in (low..=low + 50_000).step_by(1_000) {
        let script = format!(r#"ulimit -v {kib}; exec timeout -s KILL 20 "$0" "$@""#);
        let out = shell(dir.path(), &script, &["-j", "4", "--group", "4", "."]);
        let stderr = show(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "ulimit -v {kib}: {:?} {stderr}",
            out.status
        );
        for line in stderr.lines() {
            assert!(line.starts_with("md5pipe: "), "ulimit -v {kib}: {stderr}");
        }
        if out.status.code() == Some(0) {
            assert_eq!(show(&out.stdout).lines().count(), 600);
        }
    }
}

#[test]
fn md5sum_flags_are_accepted_as_md5sum_accepts_them() {
    let dir = small_tree(1);
    let run = |args: &[&str]| {
        let mut cmd = md5pipe();
        cmd.args(args);
        run_in(cmd, dir.path())
    };
    let out = run(&["-b", "f00000"]);
    assert_eq!(
        show(&out.stdout),
        show(&md5sum_of(dir.path(), &["-b"], &[b"f00000".to_vec()]))
    );
    let out = run(&["-b", "-t", "-z", "f00000"]);
    assert_eq!(
        out.stdout,
        md5sum_of(dir.path(), &["-b", "-t", "-z"], &[b"f00000".to_vec()])
    );
    let out = run(&["-j", "1", "-j", "2", "--tag", "--tag", "f00000"]);
    assert_eq!(
        out.stdout,
        md5sum_of(dir.path(), &["--tag"], &[b"f00000".to_vec()])
    );
    fs::write(
        dir.path().join("list"),
        md5sum_of(dir.path(), &[], &[b"f00000".to_vec()]),
    )
    .unwrap();
    let out = run(&["-c", "--quiet", "--quiet", "list"]);
    assert_eq!(
        (out.status.code(), out.stdout.len()),
        (Some(0), 0),
        "{out:?}"
    );
    let out = run(&["-c", "-b", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(show(&out.stderr).starts_with(
        "md5pipe: the --binary and --text options are meaningless when verifying checksums\n"
    ));
    let out = run(&["--tag", "-t", "f00000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(show(&out.stderr).starts_with("md5pipe: --tag does not support --text mode\n"));
}

/// The signals `pid` ignores, from /proc.
fn ignored_signals(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap();
    u64::from_str_radix(mask.trim(), 16).unwrap()
}

#[test]
fn an_inherited_ignored_sigint_stays_ignored() {
    let dir = small_tree(3);
    let fifo_dir = tempfile::tempdir().unwrap();
    let handshake = fifo_dir.path().join("pause");
    fifo(&handshake);
    let child = Command::new("sh")
        .args([
            "-c",
            r#"trap '' INT; exec "$0" "$@""#,
            env!("CARGO_BIN_EXE_md5pipe"),
            ".",
        ])
        .current_dir(dir.path())
        .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", "f00001")
        .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_pause(&handshake);
    let sigint = 1u64 << (libc::SIGINT - 1);
    assert_ne!(
        ignored_signals(child.id()) & sigint,
        0,
        "SIGINT handled, not ignored"
    );
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let go = go_on(&handshake);
    let out = child.wait_with_output().unwrap();
    drop(go);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(show(&out.stdout).lines().count(), 3);
}

#[test]
fn fail_fast_prints_every_line_before_the_first_error_on_every_run() {
    let dir = open_tempdir();
    for i in 0..40 {
        file(
            dir.path(),
            format!("f{i:02}").as_bytes(),
            format!("{i}\n").as_bytes(),
        );
    }
    fs::remove_file(dir.path().join("f20")).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.path().join("f20")).unwrap();
    let before: Vec<Vec<u8>> = (0..20).map(|i| format!("f{i:02}").into_bytes()).collect();
    let want = show(&md5sum_of(dir.path(), &[], &before));
    for args in [
        &["-j", "4", "--group", "1"][..],
        &["-j", "2"],
        &["--mode", "parallel"],
    ] {
        for _ in 0..5 {
            let mut cmd = md5pipe();
            cmd.args(args).args(["-L", "--fail-fast", "."]);
            let out = run_in(cmd, dir.path());
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(show(&out.stdout), want, "{args:?}");
            assert_eq!(
                show(&out.stderr),
                "md5pipe: f20: No such file or directory\n"
            );
        }
    }
}

/// Whether a thread of `pid` sleeps in a write to a full pipe.
fn blocked_on_pipe(pid: u32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        fs::read_to_string(task.path().join("wchan")).is_ok_and(|w| w.contains("pipe_write"))
    })
}

#[test]
fn a_signal_ends_a_run_blocked_on_a_full_stdout_pipe_with_whole_lines() {
    let dir = small_tree(6000); // about 240 KB of lines, the pipe holds 64 KiB
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mut child = md5pipe()
            .arg(".")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !blocked_on_pipe(child.id()) {
            assert!(started.elapsed() < GUARD, "md5pipe never filled the pipe");
            std::thread::yield_now();
        }
        // SAFETY: kill has no memory-safety preconditions; the pid is our child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > GUARD {
                let _ = child.kill();
                panic!("signal {signal} did not end a run blocked on stdout");
            }
            std::thread::yield_now();
        };
        assert_eq!(status.code(), Some(128 + signal));
        let mut stdout = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        assert!(stdout.ends_with(b"\n"), "half a line");
        for line in show(&stdout).lines() {
            assert_eq!(line.len(), 32 + 2 + 6, "{line:?}");
        }
    }
}

/// Whether this CPU runs the avx2-dual engine (16 lanes); prints a note
/// when it does not.
fn has_avx2_dual() -> bool {
    let probe = md5pipe()
        .env("MD5PIPE_ENGINE", "avx2-dual")
        .arg("-")
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!("skipped: this CPU has no avx2-dual engine");
    }
    probe.status.success()
}

/// `dirs` directories `dNN` of ten files `fN` of 256 KiB of xorshift bytes
/// from `seed`, each read in several reads (so it stays open in its lane
/// while others are read), and their names.
fn files_of_256_kib(dirs: usize, mut seed: u32) -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let dir = open_tempdir();
    let mut names = Vec::new();
    for d in 0..dirs {
        for f in 0..10 {
            let body: Vec<u8> = (0..256 * 1024)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let name = format!("d{d:02}/f{f}").into_bytes();
            file(dir.path(), &name, &body);
            names.push(name);
        }
    }
    (dir, names)
}

#[test]
fn a_digester_waits_for_a_descriptor_its_own_lanes_hold() {
    // One digester of sixteen lanes under `ulimit -n 20`: its lanes hold
    // more files than the limit leaves, so some opens fail with EMFILE
    // while its other lanes hold files. Those files wait for a lane to be
    // done with one and are digested; none is reported.
    if !has_avx2_dual() {
        return;
    }
    let (dir, names) = files_of_256_kib(4, 0x2545_f491);
    let expected = md5sum_of(dir.path(), &[], &names);
    for limit in [16, 20, 24] {
        let script = format!(r#"ulimit -n {limit}; MD5PIPE_ENGINE=avx2-dual exec "$0" "$@""#);
        let out = shell(dir.path(), &script, &["-j", "1", "--mode", "bounded", "."]);
        succeeded(&out, &show(&expected), &format!("ulimit -n {limit}"));
    }
}

#[test]
fn more_lanes_than_descriptors_wait_for_a_free_descriptor_not_fail() {
    // 200 files of 256 KiB, each read in several reads so it stays open
    // in its lane while the others are read. Under a low `ulimit -n`,
    // eight digesters of sixteen lanes want more files open than the
    // limit allows: a file that cannot be opened while other files hold
    // descriptors waits for one of them to close, whether the lanes that
    // hold them are its digester's or another's, in digest and in check
    // mode; so does a file of the parallel mode (a task per file), and a
    // directory the walk opens. (Before, a digester whose own lanes held
    // no file, and each task of the parallel mode, reported the file:
    // "Too many open files", exit 1; the parallel mode's walk reported
    // directories so.)
    if !has_avx2_dual() {
        return;
    }
    let (dir, names) = files_of_256_kib(20, 0x9e37_79b9);
    let expected = md5sum_of(dir.path(), &[], &names);
    let lists = open_tempdir();
    let list = lists.path().join("list.md5");
    std::fs::write(&list, &expected).unwrap();
    let list = list.to_str().expect("a temporary path in UTF-8");
    let checked: String = names
        .iter()
        .map(|name| format!("{}: OK\n", show(name)))
        .collect();
    for limit in [64, 24, 16] {
        let script = format!(r#"ulimit -n {limit}; MD5PIPE_ENGINE=avx2-dual exec "$0" "$@""#);
        for mode in ["bounded", "parallel"] {
            let out = shell(dir.path(), &script, &["-j", "8", "--mode", mode, "."]);
            succeeded(
                &out,
                &show(&expected),
                &format!("{mode}, ulimit -n {limit}"),
            );
        }
        let out = shell(dir.path(), &script, &["-j", "8", "-c", list]);
        succeeded(&out, &checked, &format!("check, ulimit -n {limit}"));
    }
}

#[test]
fn check_lists_of_other_algorithms_wait_for_a_free_descriptor_not_fail() {
    // A line of a check list that is not MD5 is digested outside the
    // lanes. Its file was not counted as open, so under a low `ulimit -n`
    // another line's open that found no descriptor free saw no file to
    // wait for and reported its file (`ulimit -n` 32 and 24, 32
    // verifiers, 2,000 lines: "Too many open files" in 3 runs of 3 at
    // each). A sha256sum list, and one that mixes md5sum lines with `cksum
    // -a sha256` tagged lines, each naming 200 files ten times, must
    // verify every line. (Limits with room for the process's own
    // descriptors: at 12, the list itself could not always be opened on
    // a loaded machine.)
    let (dir, names) = files_of_256_kib(20, 0x1b87_3593);
    let md5 = md5sum_of(dir.path(), &[], &names);
    let mut sha256 = Command::new("sha256sum");
    sha256.arg("--").args(names.iter().map(|n| show(n)));
    let sha256 = sha256.current_dir(dir.path()).output().unwrap();
    assert!(sha256.status.success(), "sha256sum: {sha256:?}");
    let mixed: String = show(&md5)
        .lines()
        .zip(show(&sha256.stdout).lines())
        .enumerate()
        .map(|(i, (md5, sha))| match i % 2 {
            0 => format!("{md5}\n"),
            _ => {
                let (hex, name) = sha.split_once("  ").expect("a sha256sum line");
                format!("SHA256 ({name}) = {hex}\n")
            }
        })
        .collect();
    let lists = open_tempdir();
    let checked: String = names
        .iter()
        .map(|name| format!("{}: OK\n", show(name)))
        .collect::<String>()
        .repeat(10);
    for (name, text) in [("sha256", sha256.stdout), ("mixed", mixed.into_bytes())] {
        let list = lists.path().join(name);
        fs::write(&list, text.repeat(10)).unwrap();
        let list = list.to_str().expect("a temporary path in UTF-8");
        for limit in [48, 24] {
            let script = format!(r#"ulimit -n {limit}; exec "$0" "$@""#);
            let out = shell(dir.path(), &script, &["-j", "32", "-c", list]);
            succeeded(&out, &checked, &format!("{name}, ulimit -n {limit}"));
        }
    }
}

#[test]
fn async_reads_wait_for_a_free_descriptor_not_fail() {
    // `--io async` opened its files uncounted and did not wait when an
    // open found no descriptor free: under `ulimit -n` 32 and 24 with 32
    // digesters it reported files ("Too many open files", exit 1) in 3
    // runs of 3. Its files are counted and wait as the blocking
    // digesters' do. (Limits with room for the process's own descriptors
    // and the walk's directories, which are not counted: at 13, a loaded
    // machine saw the walk wait its 2 s for them.)
    let (dir, names) = files_of_256_kib(20, 0x68e3_1da4);
    let expected = md5sum_of(dir.path(), &[], &names);
    for limit in [32, 24] {
        let script = format!(r#"ulimit -n {limit}; exec "$0" "$@""#);
        let out = shell(dir.path(), &script, &["-j", "32", "--io", "async", "."]);
        succeeded(&out, &show(&expected), &format!("ulimit -n {limit}"));
    }
}

#[test]
fn async_waiters_leave_the_pool_its_threads() {
    // An async digester that found no descriptor free waited on a thread
    // of smol's blocking pool, the pool whose tasks read and close the
    // files that hold the descriptors: with the pool capped at 4 threads,
    // 32 digesters under `ulimit -n 24` took every thread to wait, no
    // file was closed again, and the run hung with no output. Its waits
    // are timers now.
    let dir = open_tempdir();
    let mut names = Vec::new();
    for i in 0..600 {
        let name = format!("f{i:03}");
        file(dir.path(), name.as_bytes(), name.repeat(400).as_bytes());
        names.push(name.into_bytes());
    }
    let expected = md5sum_of(dir.path(), &[], &names);
    let script = r#"ulimit -n 24; BLOCKING_MAX_THREADS=4 exec "$0" "$@""#;
    let out = shell(dir.path(), script, &["--io", "async", "-j", "32", "."]);
    succeeded(&out, &show(&expected), "killed by the guard: hung");
}

#[test]
fn files_of_two_roots_wait_for_descriptors_held_for_long() {
    // Two roots of twelve 4 MiB files, so each root's descriptor is held
    // beside the files, and files stay open long enough for many waiters
    // to be woken by the same close. A waiter woken with others must not
    // take another's open in progress for a free descriptor and give up
    // (under `ulimit -n 12`, eight digesters, scalar, one lane each,
    // reported some of these files so in most runs).
    let dir = open_tempdir();
    let mut names = Vec::new();
    let mut seed = 0x2545_f491u32;
    for root in ["a", "b"] {
        for f in 0..12 {
            let body: Vec<u8> = (0..4 << 20)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let name = format!("{root}/f{f:02}").into_bytes();
            file(dir.path(), &name, &body);
            names.push(name);
        }
    }
    let expected = md5sum_of(dir.path(), &[], &names);
    // (At 12, CI's load showed the walk waiting its 2 s for a root's
    // descriptor while the digesters' waiters took each one freed.)
    for (limit, modes) in [(16, &["bounded", "parallel", "serial"][..])] {
        for mode in modes {
            let script = format!(r#"ulimit -n {limit}; MD5PIPE_ENGINE=scalar exec "$0" "$@""#);
            let out = shell(dir.path(), &script, &["-j", "8", "--mode", mode, "a", "b"]);
            succeeded(
                &out,
                &show(&expected),
                &format!("{mode}, ulimit -n {limit}"),
            );
        }
    }
}

/// 5000 small files in 20 directories, their md5sum lines, and a list
/// of them to check (in a directory of its own).
fn five_thousand_small_files() -> (tempfile::TempDir, tempfile::TempDir, Vec<Vec<u8>>, Vec<u8>) {
    let dir = open_tempdir();
    let mut names = Vec::new();
    for d in 0..20 {
        for f in 0..250 {
            let name = format!("d{d:02}/file_with_a_rather_long_name_{f:03}");
            file(dir.path(), name.as_bytes(), format!("{d} {f}\n").as_bytes());
            names.push(name.into_bytes());
        }
    }
    let expected = md5sum_of(dir.path(), &[], &names);
    let lists = open_tempdir();
    std::fs::write(lists.path().join("list.md5"), &expected).unwrap();
    (dir, lists, names, expected)
}

#[test]
fn small_files_waiting_for_a_descriptor_are_never_dropped() {
    // Under `ulimit -n 32` a lane's open fails with EMFILE while the
    // digester's other lanes hold files, so the file waits for one of
    // them. When those lanes all finished in the same round, the digester
    // ended its group with the file still waiting: it and the rest of the
    // group were never digested. In digest mode the output stopped there
    // with status 0 and no message (5 runs of 6 lost files); in check
    // mode they were reported as "cancelled". Every file must be printed
    // or reported (itself or its directory), and a report means status 1.
    let (dir, lists, names, expected) = five_thousand_small_files();
    let list = lists.path().join("list.md5");
    let list = list.to_str().expect("a temporary path in UTF-8");
    let expected = show(&expected);
    let script = r#"ulimit -n 32; exec "$0" "$@""#;
    for round in 0..3 {
        for j in ["1", "8"] {
            let out = shell(dir.path(), script, &["-j", j, "."]);
            let said = format!("digest, -j {j}, round {round}");
            let (stdout, stderr) = (show(&out.stdout), show(&out.stderr));
            assert!(!stderr.contains("cancelled"), "{said}: {stderr}");
            assert_eq!(
                out.status.code(),
                Some(if stderr.is_empty() { 0 } else { 1 }),
                "{said}"
            );
            let mut printed = stdout.lines();
            for (line, name) in expected.lines().zip(&names) {
                let name = show(name);
                let dir_of = name.split('/').next().unwrap_or_default();
                let reported = stderr.contains(&format!("md5pipe: {name}: "))
                    || stderr.contains(&format!("md5pipe: {dir_of}: "));
                if !reported {
                    assert_eq!(printed.next(), Some(line), "{said}: {name} lost");
                }
            }
            assert_eq!(printed.next(), None, "{said}");
            let out = shell(dir.path(), script, &["-j", j, "-c", list]);
            let said = format!("check, -j {j}, round {round}");
            let (stdout, stderr) = (show(&out.stdout), show(&out.stderr));
            assert!(!stderr.contains("cancelled"), "{said}: {stderr}");
            assert_eq!(
                out.status.code(),
                Some(if stderr.is_empty() { 0 } else { 1 }),
                "{said}"
            );
            assert_eq!(stdout.lines().count(), names.len(), "{said}");
        }
    }
}

#[test]
fn directories_opened_while_lanes_hold_the_descriptors_wait_for_one() {
    // The same runs in bounded mode print every file with no error, as
    // --mode parallel and serial do at this limit: a directory whose open
    // fails with EMFILE while the digesters' lanes hold files waits for
    // one of them to close. (Before, it was reported, "md5pipe: d18: Too
    // many open files", exit 1, and its 250 files were not read.)
    let (dir, _lists, _names, expected) = five_thousand_small_files();
    let script = r#"ulimit -n 32; exec "$0" "$@""#;
    for round in 0..3 {
        for j in ["1", "8", "1024"] {
            let out = shell(dir.path(), script, &["-j", j, "."]);
            let said = format!("-j {j}, round {round}");
            succeeded(&out, &show(&expected), &said);
        }
    }
}

#[test]
fn a_run_stopped_from_inside_with_nothing_asking_is_a_failure_not_a_short_output() {
    // A run whose signal closes while no signal came and stdout is open
    // (what a bug that ends a run early looks like, made here by the test
    // hook: the pause's byte `c` cancels the run just before an open)
    // must not end with status 0 and part of the files: it says so and
    // exits 1, in digest, check, audit and tree-digest modes.
    let dir = small_tree(40);
    let lists = open_tempdir();
    let names: Vec<Vec<u8>> = (0..40).map(|i| format!("f{i:05}").into_bytes()).collect();
    let list = lists.path().join("list.md5");
    std::fs::write(&list, md5sum_of(dir.path(), &[], &names)).unwrap();
    let list = list.to_str().expect("a temporary path in UTF-8");
    let modes: [&[&str]; 4] = [
        &["-j", "1", "."],
        &["-j", "1", "-c", list],
        &["-j", "1", "--diff", list, "."],
        &["-j", "1", "--tree-digest", "."],
    ];
    for args in modes {
        let fifo_dir = open_tempdir();
        let handshake = fifo_dir.path().join("pause");
        fifo(&handshake);
        let child = md5pipe()
            .args(args)
            .current_dir(dir.path())
            .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", "f00020")
            .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // "I am here", then "cancel and go on".
        wait_for_pause(&handshake);
        let go = cancel_and_go_on(&handshake);
        let out = child.wait_with_output().unwrap();
        drop(go);
        let stderr = show(&out.stderr);
        assert!(
            stderr.contains("md5pipe: the run stopped before every file was read"),
            "{args:?}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("missing"), "{args:?}: {stderr}");
    }
}
