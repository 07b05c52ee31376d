//! md5pipe -c against md5sum -c: the same stdout, the same messages on
//! stderr (but for the program's name) and the same exit status.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

/// Runs `cmd` in `dir` with `input` on stdin.
fn run_with_input(mut cmd: Command, dir: &Path, input: &[u8]) -> Output {
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("waits")
}

/// Checks with both tools and compares all they say.
fn same_as_md5sum(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut ours = md5pipe();
    ours.arg("-c").args(args).args(["-j", "4"]);
    let ours = run_with_input(ours, dir, input);
    let mut theirs = md5sum();
    theirs.arg("-c").args(args);
    let theirs = run_with_input(theirs, dir, input);
    assert_eq!(
        show(&ours.stdout),
        show(&theirs.stdout),
        "stdout, args {args:?}"
    );
    assert_eq!(
        show(&ours.stderr),
        show(&theirs.stderr).replace("md5sum:", "md5pipe:"),
        "stderr, args {args:?}"
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "status, args {args:?}"
    );
    ours
}

/// A tree with tricky names, its md5sum list in `sums` (and a `--tag` list
/// in `tagged`), then one file corrupted and one removed.
fn damaged_tree() -> tempfile::TempDir {
    let dir = tricky_tree();
    let files = regular_files(dir.path());
    let sums = md5sum_of(dir.path(), &[], &files);
    let tagged = md5sum_of(dir.path(), &["--tag"], &files);
    fs::write(dir.path().join("sums"), sums).unwrap();
    fs::write(dir.path().join("tagged"), tagged).unwrap();
    fs::write(dir.path().join(raw(b"new\nline")), b"corrupted").unwrap();
    fs::remove_file(dir.path().join("a.b")).unwrap();
    dir
}

#[test]
fn corrupted_and_missing_files_are_reported_like_md5sum_c() {
    let dir = damaged_tree();
    for args in [
        &["sums"][..],
        &["tagged"],
        &["--quiet", "sums"],
        &["--status", "sums"],
        &["--ignore-missing", "sums"],
        &["sums", "tagged", "missing-list"],
    ] {
        let out = same_as_md5sum(dir.path(), args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn lists_on_stdin_and_improper_lines() {
    let dir = damaged_tree();
    let sums = fs::read(dir.path().join("sums")).unwrap();
    let mut with_junk = sums.clone();
    with_junk.extend_from_slice(b"not a checksum line\n# a comment\n\n");
    for (args, input) in [
        (&[][..], &sums),
        (&["-"][..], &sums),
        (&["-w"][..], &with_junk),
        (&["-w", "--strict", "--quiet"][..], &with_junk),
        (&["--quiet", "-w"][..], &with_junk),
        (&["--status", "-w"][..], &with_junk),
        (&["-w", "--status"][..], &with_junk),
        (&["--strict", "--status"][..], &with_junk),
        (&[][..], &b"junk\n".to_vec()),
    ] {
        same_as_md5sum(dir.path(), args, input);
    }
}

#[test]
fn good_lists_pass_and_ignore_missing_with_nothing_verified_fails() {
    let dir = tricky_tree();
    let files = regular_files(dir.path());
    fs::write(dir.path().join("sums"), md5sum_of(dir.path(), &[], &files)).unwrap();
    let out = same_as_md5sum(dir.path(), &["sums"], b"");
    assert!(out.status.success());
    let out = same_as_md5sum(dir.path(), &["--quiet", "sums"], b"");
    assert!(out.stdout.is_empty() && out.status.success());

    let only_missing = format!("{}  gone\n", "0".repeat(32));
    fs::write(dir.path().join("gone.md5"), only_missing).unwrap();
    let out = same_as_md5sum(dir.path(), &["--ignore-missing", "gone.md5"], b"");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn md5pipe_output_verifies_with_both_tools_in_input_order() {
    let dir = tricky_tree();
    let lists = open_tempdir();
    let list_path = lists.path().join("list");
    let list_arg = list_path.to_str().expect("a UTF-8 temp path");
    for args in [&[][..], &["--tag"]] {
        let mut cmd = md5pipe();
        cmd.args(args).args(["-j", "3", "."]);
        let list = run_in(cmd, dir.path()).stdout;
        // Reverse the list: results must come in the list's order.
        let mut lines: Vec<&[u8]> = list.split_inclusive(|&b| b == b'\n').collect();
        lines.reverse();
        fs::write(&list_path, lines.concat()).unwrap();
        let out = same_as_md5sum(dir.path(), &[list_arg], b"");
        assert!(out.status.success(), "{args:?}");
    }
}

#[test]
fn unreadable_listed_file_is_failed_open_or_read() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = open_tempdir();
    file(dir.path(), b"ok", b"ok");
    file(dir.path(), b"locked", b"locked");
    let list = md5sum_of(dir.path(), &[], &[b"locked".to_vec(), b"ok".to_vec()]);
    fs::write(dir.path().join("list"), list).unwrap();
    for f in ["ok", "list"] {
        fs::set_permissions(dir.path().join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(dir.path().join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    for extra in [&[][..], &["--status"]] {
        let mut ours = as_nobody(OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
        ours.arg("-c").args(extra).arg("list");
        let ours = run_in(ours, dir.path());
        let mut theirs = as_nobody(OsStr::new("md5sum"));
        theirs.arg("-c").args(extra).arg("list");
        let theirs = run_in(theirs, dir.path());
        assert_eq!(show(&ours.stdout), show(&theirs.stdout), "{extra:?}");
        assert_eq!(
            show(&ours.stderr),
            show(&theirs.stderr).replace("md5sum:", "md5pipe:"),
            "{extra:?}"
        );
        assert_eq!(ours.status.code(), Some(1));
    }
}

/// Runs `sh -c 'ulimit ...; exec PROGRAM ARGS'` in `dir`: the limit binds
/// only the child.
fn limited(limit: &str, program: &str, args: &[&str], dir: &Path) -> Output {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit {limit} && exec \"$@\""))
        .arg("sh")
        .arg(program)
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd.output().expect("sh starts")
}

#[test]
fn z_lists_keep_a_trailing_carriage_return_in_the_name() {
    let dir = open_tempdir();
    file(dir.path(), b"x", b"x");
    file(dir.path(), b"x\r", b"tampered");
    let x = show(&md5sum_of(dir.path(), &[], &[b"x".to_vec()]));
    let list = format!("{}  x\r\0", &x[..32]);
    fs::write(dir.path().join("list"), list).unwrap();
    let mut cmd = md5pipe();
    cmd.args(["-c", "-z", "list"]);
    let out = run_in(cmd, dir.path());
    assert_eq!(show(&out.stdout), "x\r: FAILED\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn dash_in_a_list_file_reads_stdin_and_dev_null_verifies() {
    let dir = open_tempdir();
    file(dir.path(), b"-", b"a file named dash");
    let list = "0cc175b9c0f1b6a831c399e269772661  -\n\
                d41d8cd98f00b204e9800998ecf8427e  /dev/null\n\
                d41d8cd98f00b204e9800998ecf8427e  -\n";
    fs::write(dir.path().join("list"), list).unwrap();
    let out = same_as_md5sum(dir.path(), &["list"], b"a");
    assert!(out.status.success());
    assert_eq!(show(&out.stdout), "-: OK\n/dev/null: OK\n-: OK\n");
}

#[test]
fn endless_devices_and_fifos_in_a_list_are_refused_without_blocking() {
    let dir = open_tempdir();
    fifo(&dir.path().join("fifo"));
    let zero = "0".repeat(32);
    let list = format!("{zero}  /dev/zero\n{zero}  fifo\n");
    fs::write(dir.path().join("list"), list).unwrap();
    let mut cmd = md5pipe();
    cmd.args(["-c", "list"]);
    let out = run_in(cmd, dir.path());
    assert_eq!(
        show(&out.stdout),
        "/dev/zero: FAILED open or read\nfifo: FAILED open or read\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_directory_as_list_is_a_read_error_as_in_md5sum() {
    let dir = open_tempdir();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let out = same_as_md5sum(dir.path(), &["sub"], b"");
    assert_eq!(show(&out.stderr), "md5pipe: sub: read error\n");
}

#[test]
fn an_endless_line_ends_the_list_as_md5sum_ends_it_out_of_memory() {
    let dir = open_tempdir();
    let bin = env!("CARGO_BIN_EXE_md5pipe");
    let ours = limited("-v 4000000", bin, &["-c", "/dev/zero"], dir.path());
    let theirs = limited("-v 400000", "md5sum", &["-c", "/dev/zero"], dir.path());
    assert_eq!(
        show(&ours.stderr),
        show(&theirs.stderr).replace("md5sum:", "md5pipe:")
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), Some(1));
}

#[test]
fn an_endless_line_under_any_memory_limit_is_an_answer_not_an_abort() {
    // Swept finely: somewhere here the line buffer cannot grow to its
    // bound of a mebibyte. That ends the list as a too-long line does
    // (md5sum's wording), or is `md5pipe: out of memory`; never Rust's
    // "memory allocation of N bytes failed" and an abort.
    let dir = open_tempdir();
    let bin = env!("CARGO_BIN_EXE_md5pipe");
    let low = smallest_loading_limit_kib();
    for kib in (low..=low + 30_000).step_by(1_000) {
        let out = limited(&format!("-v {kib}"), bin, &["-c", "/dev/zero"], dir.path());
        let stderr = show(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "ulimit -v {kib}: {stderr}");
        assert!(!stderr.is_empty());
        for line in stderr.lines() {
            assert!(line.starts_with("md5pipe: "), "ulimit -v {kib}: {stderr}");
        }
    }
}

#[test]
fn huge_settings_in_check_mode_are_no_crash() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    fs::write(
        dir.path().join("list"),
        "0cc175b9c0f1b6a831c399e269772661  a\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_md5pipe");
    let huge = "100000000000000";
    for flag in ["-j", "--buffer", "--chunk-size", "--window"] {
        let out = limited("-v 4000000", bin, &["-c", flag, huge, "list"], dir.path());
        let code = out.status.code();
        assert!(
            code == Some(2) || (code == Some(0) && out.stdout == b"a: OK\n"),
            "{flag}: {out:?}"
        );
    }
}
