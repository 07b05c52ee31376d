//! Entries changed between the walk and the open, made deterministic with
//! md5pipe's pause before an open (`MD5PIPE_TEST_PAUSE_BEFORE_OPEN` and a
//! FIFO handshake): the test changes the tree while md5pipe waits at
//! exactly that point. Nothing outside the tree is ever read; every file
//! the walk listed ends as a line or an error.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Output, Stdio};

use common::*;

/// Runs `md5pipe ARGS` in `dir`, paused before opening `at`; `change` runs
/// while it waits. Returns its output.
fn with_pause(dir: &Path, args: &[&str], at: &str, change: impl FnOnce()) -> Output {
    paused(dir, args, None, at, change)
}

/// As [`with_pause`], under `ulimit -n 64`.
fn with_pause_limited(dir: &Path, args: &[&str], at: &str, change: impl FnOnce()) -> Output {
    paused(dir, args, Some("-n 64"), at, change)
}

fn paused(
    dir: &Path,
    args: &[&str],
    ulimit: Option<&str>,
    at: &str,
    change: impl FnOnce(),
) -> Output {
    let fifo_dir = tempfile::tempdir().unwrap();
    let handshake = fifo_dir.path().join("pause");
    fifo(&handshake);
    let mut command = match ulimit {
        Some(limit) => {
            let mut sh = std::process::Command::new("sh");
            sh.arg("-c")
                .arg(format!(r#"ulimit {limit} && exec "$0" "$@""#))
                .arg(md5pipe().get_program())
                .env("LC_ALL", "C.UTF-8")
                .stdin(Stdio::null());
            sh
        }
        None => md5pipe(),
    };
    let child = command
        .args(args)
        .current_dir(dir)
        .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", at)
        .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "I am here": md5pipe opens the FIFO for writing and closes it.
    wait_for_pause(&handshake);
    change();
    // "Go on": md5pipe reads a byte from the FIFO.
    let go = go_on(&handshake);
    let out = child.wait_with_output().unwrap();
    drop(go);
    out
}

/// A tree `t/` with `t/a`, `t/d/f`, `t/z`, and beside it `out/d/f`, a
/// secret of the same name outside the tree.
fn tree_and_outside() -> tempfile::TempDir {
    let dir = open_tempdir();
    file(dir.path(), b"t/a", b"a\n");
    file(dir.path(), b"t/d/f", b"inside\n");
    file(dir.path(), b"t/z", b"z\n");
    file(dir.path(), b"out/d/f", b"SECRET\n");
    dir
}

fn secret_hex(dir: &Path) -> String {
    show(&md5sum_of(dir, &[], &[b"out/d/f".to_vec()]))[..32].to_string()
}

#[test]
fn a_directory_swapped_for_a_symlink_after_the_walk_is_not_followed() {
    // The walk holds the directory it listed, and opens `f` by name in it:
    // the swap moved that directory to `t/d.old`, where `f` is still the
    // file listed, so it is digested as listed; the symlink now at `t/d`
    // is never looked at.
    for args in [
        &["-j", "1", "--group", "1", "t"][..],
        &["--mode", "serial", "t"],
        &["--io", "async", "t"],
    ] {
        let dir = tree_and_outside();
        let root = dir.path().to_path_buf();
        let inside = md5sum_of(dir.path(), &[], &[b"t/d/f".to_vec()]);
        let out = with_pause(dir.path(), args, "t/d/f", || {
            fs::rename(root.join("t/d"), root.join("t/d.old")).unwrap();
            symlink("../out/d", root.join("t/d")).unwrap();
        });
        let stdout = show(&out.stdout);
        assert!(
            !stdout.contains(&secret_hex(dir.path())),
            "{args:?}: read outside: {stdout}"
        );
        assert!(stdout.contains(&show(&inside)), "{args:?}: {stdout}");
        assert_eq!(show(&out.stderr), "", "{args:?}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(stdout.lines().count(), 3, "t/a, t/d/f, t/z: {stdout}");
    }
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed_past_the_held_directories() {
    // Under a descriptor limit of 64, no directory is held (64 are kept for
    // the files being read and the rest), so `t/d/f` is opened from the
    // root's descriptor, through no symlink: the swap is reported.
    let dir = tree_and_outside();
    let root = dir.path().to_path_buf();
    let out = with_pause_limited(
        dir.path(),
        &["-j", "1", "--group", "1", "t"],
        "t/d/f",
        || {
            fs::rename(root.join("t/d"), root.join("t/d.old")).unwrap();
            symlink("../out/d", root.join("t/d")).unwrap();
        },
    );
    let stdout = show(&out.stdout);
    assert!(
        !stdout.contains(&secret_hex(dir.path())),
        "read outside: {stdout}"
    );
    assert!(!stdout.contains("t/d/f"), "{stdout}");
    assert_eq!(
        show(&out.stderr),
        "md5pipe: t/d/f: Too many levels of symbolic links\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout.lines().count(),
        2,
        "t/a and t/z still printed: {stdout}"
    );
}

#[test]
fn a_file_swapped_for_a_symlink_after_the_walk_is_reported_not_followed() {
    let dir = tree_and_outside();
    let root = dir.path().to_path_buf();
    let out = with_pause(dir.path(), &["-j", "1", "t"], "t/d/f", || {
        fs::remove_file(root.join("t/d/f")).unwrap();
        symlink(root.join("out/d/f"), root.join("t/d/f")).unwrap();
    });
    assert!(!show(&out.stdout).contains(&secret_hex(dir.path())));
    assert_eq!(
        show(&out.stderr),
        "md5pipe: t/d/f: Too many levels of symbolic links\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_directory_listed_then_swapped_for_a_symlink_is_not_entered() {
    let dir = tree_and_outside();
    let root = dir.path().to_path_buf();
    let out = with_pause(dir.path(), &["t"], "t/d", || {
        fs::rename(root.join("t/d"), root.join("t/d.old")).unwrap();
        symlink("../out/d", root.join("t/d")).unwrap();
    });
    assert!(!show(&out.stdout).contains(&secret_hex(dir.path())));
    assert_eq!(show(&out.stderr), "md5pipe: t/d: Not a directory\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_turned_into_a_directory_is_reported_not_dropped() {
    for args in [
        &["-j", "1", "t"][..],
        &["--mode", "parallel", "t"],
        &["--io", "async", "t"],
    ] {
        let dir = tree_and_outside();
        let root = dir.path().to_path_buf();
        let out = with_pause(dir.path(), args, "t/d/f", || {
            fs::remove_file(root.join("t/d/f")).unwrap();
            fs::create_dir(root.join("t/d/f")).unwrap();
        });
        assert_eq!(
            show(&out.stderr),
            "md5pipe: t/d/f: Is a directory\n",
            "{args:?}"
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(show(&out.stdout).lines().count(), 2, "{args:?}");
    }
}

#[test]
fn a_file_swapped_for_a_fifo_is_skipped_without_blocking_and_growth_is_read() {
    let dir = tree_and_outside();
    let root = dir.path().to_path_buf();
    let out = with_pause(dir.path(), &["-j", "1", "t"], "t/d/f", || {
        fs::remove_file(root.join("t/d/f")).unwrap();
        fifo(&root.join("t/d/f"));
        fs::write(root.join("t/z"), b"z grown after the walk\n").unwrap();
    });
    assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    let want = md5sum_of(dir.path(), &[], &[b"t/a".to_vec(), b"t/z".to_vec()]);
    assert_eq!(show(&out.stdout), show(&want));
}

#[test]
fn a_file_deleted_after_the_walk_is_reported() {
    let dir = tree_and_outside();
    let root = dir.path().to_path_buf();
    let out = with_pause(dir.path(), &["t"], "t/d/f", || {
        fs::remove_file(root.join("t/d/f")).unwrap();
    });
    assert_eq!(
        show(&out.stderr),
        "md5pipe: t/d/f: No such file or directory\n"
    );
    assert_eq!(out.status.code(), Some(1));
}
