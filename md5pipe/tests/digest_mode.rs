//! md5pipe in digest mode against GNU md5sum, the oracle: the same bytes
//! on stdout for every name md5sum escapes, in bytewise order, in every
//! mode, width and buffer; errors worded as md5sum words them.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Stdio;

use common::*;

/// `md5pipe ARGS .` in the tree, and md5sum over the same files.
fn both(dir: &std::path::Path, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let files = regular_files(dir);
    let oracle = md5sum_of(dir, args, &files);
    let mut cmd = md5pipe();
    cmd.args(args).arg(".");
    let out = run_in(cmd, dir);
    assert!(out.status.success(), "md5pipe failed: {out:?}");
    assert!(out.stderr.is_empty(), "stderr: {}", show(&out.stderr));
    (out.stdout, oracle)
}

#[test]
fn tricky_names_and_order_traps_match_md5sum_byte_for_byte() {
    let dir = tricky_tree();
    for args in [&[][..], &["--tag"], &["-z"], &["-z", "--tag"]] {
        let (ours, theirs) = both(dir.path(), args);
        assert_eq!(show(&ours), show(&theirs), "args {args:?}");
        assert_eq!(ours, theirs, "args {args:?}");
    }
}

#[test]
fn every_mode_width_and_buffer_prints_the_same_bytes() {
    let dir = tricky_tree();
    let (expected, oracle) = both(dir.path(), &[]);
    assert_eq!(expected, oracle);
    let mut runs = Vec::new();
    for mode in ["bounded", "parallel", "serial"] {
        for width in ["1", "2", "7"] {
            for buffer in ["1", "3", "64"] {
                runs.push(vec!["--mode", mode, "-j", width, "--buffer", buffer]);
            }
        }
    }
    runs.push(vec!["-j", "5", "--window", "1", "--chunk-size", "3"]);
    runs.push(vec!["-j", "3", "--group", "1", "--buffer", "1"]);
    runs.push(vec!["-j", "2", "--group", "5", "--window", "2"]);
    runs.push(vec!["--io", "async", "-j", "3", "--buffer", "2"]);
    runs.push(vec!["--io", "async", "-j", "1", "--chunk-size", "1"]);
    for args in runs {
        let mut cmd = md5pipe();
        cmd.args(&args).arg(".");
        let out = run_in(cmd, dir.path());
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(show(&out.stdout), show(&expected), "args {args:?}");
    }
}

#[test]
fn paths_are_joined_and_cleaned_like_go_and_roots_keep_their_order() {
    let dir = open_tempdir();
    file(dir.path(), b"dir/sub/f", b"f");
    file(dir.path(), b"dir/g", b"g");
    file(dir.path(), b"other/h", b"h");
    let run = |args: &[&str]| {
        let mut cmd = md5pipe();
        cmd.args(args);
        let out = run_in(cmd, dir.path());
        assert!(out.status.success(), "{out:?}");
        show(&out.stdout)
    };
    let names =
        |text: String| -> Vec<String> { text.lines().map(|l| l[34..].to_string()).collect() };
    assert_eq!(names(run(&["dir/"])), ["dir/g", "dir/sub/f"]);
    assert_eq!(names(run(&["./dir//sub/.."])), ["dir/g", "dir/sub/f"]);
    assert_eq!(
        names(run(&["other", "dir", "./dir/sub/f"])),
        ["other/h", "dir/g", "dir/sub/f", "./dir/sub/f"],
        "roots in the order given; a file root is printed as given"
    );
    let here = run(&[]);
    assert_eq!(names(here.clone()), ["dir/g", "dir/sub/f", "other/h"]);
    let oracle = md5sum_of(dir.path(), &[], &regular_files(dir.path()));
    assert_eq!(here, show(&oracle));
}

#[test]
fn symlinks_are_skipped_unless_followed_and_a_loop_is_an_error() {
    let dir = open_tempdir();
    let root = dir.path();
    file(root, b"real/x", b"x");
    file(root, b"g", b"g");
    symlink("real", root.join("a")).unwrap();
    symlink("g", root.join("lg")).unwrap();
    file(root, b"a-b", b"");
    let (plain, oracle) = both(root, &[]);
    assert_eq!(show(&plain), show(&oracle), "links are not followed");

    // Followed: a link to a directory sorts as a directory (`a-b` < `a/x`).
    let followed: Vec<Vec<u8>> = [&b"a-b"[..], b"a/x", b"g", b"lg", b"real/x"]
        .iter()
        .map(|p| p.to_vec())
        .collect();
    let oracle = md5sum_of(root, &[], &followed);
    let mut cmd = md5pipe();
    cmd.args(["-L", "."]);
    let out = run_in(cmd, root);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), show(&oracle));

    // A loop is reported (once per way into it), the rest still printed,
    // status 1.
    symlink("..", root.join("real/up")).unwrap();
    let mut cmd = md5pipe();
    cmd.args(["-L", "."]);
    let out = run_in(cmd, root);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(show(&out.stdout), show(&oracle));
    assert_eq!(
        show(&out.stderr),
        "md5pipe: a/up: File system loop detected\n\
         md5pipe: real/up: File system loop detected\n"
    );
}

#[test]
fn fifos_and_devices_are_skipped_and_never_block() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    fifo(&dir.path().join("fifo"));
    file(dir.path(), b"z", b"z");
    // No writer ever opens the FIFO: a blocking open would hang the run.
    let (ours, theirs) = both(dir.path(), &[]);
    assert_eq!(show(&ours), show(&theirs));
    let mut cmd = md5pipe();
    cmd.args(["fifo", "/dev/null", "a"]);
    let out = run_in(cmd, dir.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        show(&out.stdout),
        show(&md5sum_of(dir.path(), &[], &[b"a".to_vec()]))
    );
}

#[test]
fn empty_tree_prints_nothing_and_a_missing_root_is_worded_like_md5sum() {
    let dir = open_tempdir();
    fs::create_dir(dir.path().join("empty")).unwrap();
    let mut cmd = md5pipe();
    cmd.arg("empty");
    let out = run_in(cmd, dir.path());
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");

    let mut ours = md5pipe();
    ours.args(["missing", "it's here", "empty"]);
    let ours = run_in(ours, dir.path());
    let mut theirs = md5sum();
    theirs.args(["missing", "it's here"]);
    let theirs = run_in(theirs, dir.path());
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        show(&ours.stderr),
        show(&theirs.stderr).replace("md5sum:", "md5pipe:")
    );
}

/// Runs md5pipe as `nobody` on a tree with a file and a directory that
/// `nobody` cannot read; md5sum as `nobody` says what to expect.
#[test]
fn unreadable_files_are_reported_like_md5sum_and_the_rest_is_printed() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let dir = open_tempdir();
    let root = dir.path();
    file(root, b"a", b"a");
    file(root, b"locked file", b"secret");
    file(root, b"m/x", b"x");
    file(root, b"shut/y", b"y");
    file(root, b"z", b"z");
    for f in ["a", "m/x", "z", "shut/y"] {
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(root.join("m"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("locked file"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(root.join("shut"), fs::Permissions::from_mode(0o000)).unwrap();

    let readable: Vec<Vec<u8>> = [&b"a"[..], b"m/x", b"z"]
        .iter()
        .map(|p| p.to_vec())
        .collect();
    let mut md5sum = as_nobody(OsStr::new("md5sum"));
    md5sum.args(["a", "locked file", "m/x", "z"]);
    let theirs = run_in(md5sum, root);
    assert_eq!(theirs.status.code(), Some(1), "{theirs:?}");
    let expected_out = md5sum_of(root, &[], &readable);
    assert_eq!(show(&theirs.stdout), show(&expected_out));

    for mode in ["bounded", "parallel", "serial"] {
        let mut cmd = as_nobody(OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
        cmd.args(["--mode", mode, "."]);
        let ours = run_in(cmd, root);
        assert_eq!(ours.status.code(), Some(1), "{mode}: {ours:?}");
        assert_eq!(show(&ours.stdout), show(&expected_out), "{mode}");
        assert_eq!(
            show(&ours.stderr),
            show(&theirs.stderr).replace("md5sum:", "md5pipe:")
                + "md5pipe: shut: Permission denied\n",
            "{mode}"
        );
    }

    // --fail-fast: the first error is reported, then nothing more. (With
    // two unreadable paths the first to fail would depend on timing.)
    fs::set_permissions(root.join("shut"), fs::Permissions::from_mode(0o755)).unwrap();
    for mode in ["bounded", "parallel", "serial"] {
        let mut cmd = as_nobody(OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
        cmd.args(["--fail-fast", "-j", "1", "--mode", mode, "."]);
        let ours = run_in(cmd, root);
        assert_eq!(ours.status.code(), Some(1), "{mode}: {ours:?}");
        assert_eq!(
            show(&ours.stderr),
            "md5pipe: 'locked file': Permission denied\n",
            "{mode}"
        );
        let printed = show(&ours.stdout);
        assert!(
            show(&expected_out).starts_with(&printed) && !printed.contains("x\n"),
            "{mode}: only lines before the error: {printed:?}"
        );
    }
}

#[test]
fn zero_widths_and_misplaced_options_are_usage_errors() {
    let dir = open_tempdir();
    for args in [
        &["-j", "0"][..],
        &["--digesters=0"],
        &["--buffer", "0"],
        &["--window", "0"],
        &["--chunk-size", "0"],
        &["--mode", "fast"],
        &["--quiet"],
        &["--status", "."],
        &["-c", "--tag"],
        &["--no-such-flag"],
    ] {
        let mut cmd = md5pipe();
        cmd.args(args);
        let out = run_in(cmd, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty() && !out.stderr.is_empty(), "{args:?}");
    }
    for args in [["--help"], ["--version"]] {
        let mut cmd = md5pipe();
        cmd.args(args);
        let out = run_in(cmd, dir.path());
        assert!(out.status.success(), "{out:?}");
        assert!(show(&out.stdout).contains("md5pipe"), "{out:?}");
    }
}

#[test]
fn stats_table_names_every_stage_on_stderr() {
    let dir = tricky_tree();
    for (mode, stages) in [
        ("bounded", &["walk", "digest", "order", "out"][..]),
        ("parallel", &["walk", "collect", "keep", "out"]),
        ("serial", &["md5all", "out"]),
    ] {
        let mut cmd = md5pipe();
        cmd.args(["--stats", "-j", "3", "--mode", mode, "."]);
        let out = run_in(cmd, dir.path());
        assert!(out.status.success(), "{out:?}");
        let table = show(&out.stderr);
        let header = table.lines().next().unwrap_or_default();
        for column in ["stage", "width", "in", "out", "busy", "wait in", "wait out"] {
            assert!(header.contains(column), "{mode}: {table}");
        }
        let mut lines: Vec<&str> = table.lines().skip(1).collect();
        let engine = lines.pop().unwrap_or_default();
        assert!(
            engine.starts_with("md5: "),
            "{mode}: the engine last: {table}"
        );
        let rows: Vec<&str> = lines
            .iter()
            .map(|l| l.split_whitespace().next().unwrap_or_default())
            .collect();
        assert_eq!(rows, stages, "{mode}: {table}");
    }
}

/// The reader of stdout goes away after one line while md5pipe is reading
/// a large file: md5pipe ends with status 141 and says nothing.
#[test]
fn closed_stdout_ends_the_run_quietly() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    let big = fs::File::create(dir.path().join("b")).unwrap();
    big.set_len(16 << 30).unwrap(); // sparse: 16 GiB of zeros, minutes to read
    for mode in ["bounded", "parallel", "serial"] {
        let mut child = md5pipe()
            .args(["--mode", mode, "-j", "2", "."])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = Vec::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_until(b'\n', &mut first).unwrap();
        assert!(first.ends_with(b"  a\n"), "{}", show(&first));
        drop(stdout); // like `head -1`
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(141), "{mode}: {out:?}");
        assert!(out.stderr.is_empty(), "{mode}: {}", show(&out.stderr));
    }
}

#[test]
fn leading_dash_names_are_paths_after_double_dash() {
    let dir = open_tempdir();
    file(dir.path(), b"-x", b"dash");
    let mut cmd = md5pipe();
    cmd.args(["--", "-x"]);
    let out = run_in(cmd, dir.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, md5sum_of(dir.path(), &[], &[b"-x".to_vec()]));
    let _ = OsStr::from_bytes(b"");
}
