//! `md5pipe --cache FILE`: the output is byte for byte what a run without
//! a cache prints (md5sum is the oracle), whatever happened to the tree
//! since the cache was written; files whose key matches are not read
//! (`--stats` counts the bytes the digesters read); a damaged or foreign
//! cache never gives a wrong digest; an interrupted run leaves a cache the
//! next run goes on from.
//!
//! The cache keeps a file's record only once its times are a second old
//! (see pipeline_md5::cache): tests that need records wait for that with
//! [`settle`], which looks at the clock and the files' times, not at any
//! thread.

mod common;

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

/// The files of the test tree `t/`, with their contents.
fn small_tree(dir: &Path) {
    for (name, body) in [
        ("t/a", "alpha\n"),
        ("t/b b", "with a space\n"),
        ("t/d/e/f", "deep\n"),
        ("t/d/g", "g\n"),
        ("t/m", "middle\n"),
        ("t/new\nline", "newline in the name\n"),
        ("t/z", "last\n"),
    ] {
        file(dir, name.as_bytes(), body.as_bytes());
    }
}

/// Waits until every file below `dir` is old enough for a cache to keep:
/// its modification and change times at least a second in the past.
fn settle(dir: &Path) {
    let mut newest = UNIX_EPOCH;
    for rel in regular_files(dir) {
        let meta = fs::metadata(dir.join(raw(&rel))).unwrap();
        let ctime = UNIX_EPOCH + Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32);
        let mtime = meta.modified().unwrap();
        newest = newest.max(ctime).max(mtime);
    }
    let ready = newest + Duration::from_millis(1100);
    while let Ok(left) = ready.duration_since(SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// What md5sum prints for the files below `dir/t`, in md5pipe's order.
fn oracle(dir: &Path) -> Vec<u8> {
    let names: Vec<Vec<u8>> = regular_files(&dir.join("t"))
        .into_iter()
        .map(|n| [b"t/".as_slice(), &n].concat())
        .collect();
    md5sum_of(dir, &[], &names)
}

/// `md5pipe ARGS` in `dir`.
fn md5pipe_in(dir: &Path, args: &[&str]) -> Output {
    run_in(
        {
            let mut cmd = md5pipe();
            cmd.args(args);
            cmd
        },
        dir,
    )
}

/// What `--stats` says of the cache: files, unchanged, read, bytes read,
/// kept, too recent, dropped.
#[derive(Debug, PartialEq, Eq)]
struct CacheStats {
    files: u64,
    unchanged: u64,
    read: u64,
    bytes: u64,
    kept: u64,
    recent: u64,
    dropped: u64,
}

fn cache_stats(stderr: &[u8]) -> CacheStats {
    let text = show(stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("cache: "))
        .unwrap_or_else(|| panic!("no cache line in {text}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 7, "{line}");
    CacheStats {
        files: n[0],
        unchanged: n[1],
        read: n[2],
        bytes: n[3],
        kept: n[4],
        recent: n[5],
        dropped: n[6],
    }
}

/// `md5pipe --cache c --stats t` in `dir` (and EXTRA): checks that it
/// printed what md5sum prints, with no warning, and returns its stats.
fn cached(dir: &Path, extra: &[&str]) -> CacheStats {
    let mut args = vec!["--cache", "c", "--stats"];
    args.extend(extra);
    args.push("t");
    let out = md5pipe_in(dir, &args);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), show(&oracle(dir)), "{args:?}");
    let stderr = show(&out.stderr);
    assert!(!stderr.contains("md5pipe: "), "a warning: {stderr}");
    cache_stats(&out.stderr)
}

#[test]
fn an_unchanged_tree_is_not_read_and_prints_the_same_bytes() {
    let dir = open_tempdir();
    small_tree(dir.path());
    settle(dir.path());
    let first = cached(dir.path(), &[]);
    assert_eq!(
        (first.files, first.read, first.kept),
        (7, 7, 7),
        "{first:?}"
    );
    assert!(first.bytes > 0);
    let again = cached(dir.path(), &[]);
    let want = CacheStats {
        files: 7,
        unchanged: 7,
        read: 0,
        bytes: 0,
        kept: 7,
        recent: 0,
        dropped: 0,
    };
    assert_eq!(again, want);
}

#[test]
fn every_design_serves_unchanged_files_from_the_cache() {
    let dir = open_tempdir();
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    for design in [
        &["--mode", "serial"][..],
        &["--mode", "parallel"],
        &["--io", "async"],
        &["-j", "1", "--group", "1"],
    ] {
        let s = cached(dir.path(), design);
        assert_eq!((s.unchanged, s.bytes), (7, 0), "{design:?}: {s:?}");
    }
}

#[test]
fn edits_renames_deletions_additions_and_touches_print_what_a_cold_run_prints() {
    let dir = open_tempdir();
    let t = dir.path().join("t");
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    fs::write(t.join("a"), "alpha, longer now\n").unwrap(); // edited
    fs::rename(t.join("d/g"), t.join("d/h")).unwrap(); // renamed
    fs::remove_file(t.join("m")).unwrap(); // deleted
    file(dir.path(), b"t/n", b"added\n"); // added
    let earlier = SystemTime::now() - Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(t.join("z"))
        .unwrap()
        .set_modified(earlier)
        .unwrap(); // touched: mtime only
    let s = cached(dir.path(), &[]);
    // a, d/h, n and z are read; "b b", d/e/f and "new\nline" are not.
    assert_eq!((s.files, s.unchanged, s.read), (7, 3, 4), "{s:?}");
    assert_eq!(s.dropped, 2, "d/g and m: {s:?}");
    // Each change read once: now all of it is old enough, and unchanged.
    settle(dir.path());
    let s = cached(dir.path(), &[]);
    assert_eq!(s.read, 4, "changed files were too recent to keep: {s:?}");
    let s = cached(dir.path(), &[]);
    assert_eq!((s.unchanged, s.read, s.bytes), (7, 0, 0), "{s:?}");
}

#[test]
fn a_same_size_edit_with_its_mtime_restored_is_caught_by_the_change_time() {
    let dir = open_tempdir();
    let a = dir.path().join("t/a");
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    let old = fs::metadata(&a).unwrap();
    fs::write(&a, "ALPHA\n").unwrap(); // as long as "alpha\n"
    File::options()
        .write(true)
        .open(&a)
        .unwrap()
        .set_modified(old.modified().unwrap())
        .unwrap();
    let now = fs::metadata(&a).unwrap();
    assert_eq!((now.len(), now.mtime_nsec()), (old.len(), old.mtime_nsec()));
    assert_eq!(now.ino(), old.ino());
    let s = cached(dir.path(), &[]);
    assert_eq!((s.unchanged, s.read), (6, 1), "{s:?}");
}

#[test]
fn a_file_changed_just_before_a_run_is_not_trusted_by_the_next() {
    let dir = open_tempdir();
    let m = dir.path().join("t/m");
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    // Changed within the step of the clock the next run starts in: its
    // times could be those of a later change too, so its record is not
    // kept, and the run after reads it again though nothing changed.
    fs::write(&m, "MIDDLE\n").unwrap();
    let s = cached(dir.path(), &[]);
    assert_eq!((s.read, s.kept, s.recent), (1, 6, 1), "{s:?}");
    let s = cached(dir.path(), &[]);
    assert_eq!((s.read, s.recent), (1, 1), "{s:?}");
    settle(dir.path());
    let s = cached(dir.path(), &[]);
    assert_eq!((s.read, s.kept, s.recent), (1, 7, 0), "{s:?}");
    let s = cached(dir.path(), &[]);
    assert_eq!(s.read, 0, "{s:?}");
}

/// A tree of `n` files in a few directories, `t/dI/fJ`.
fn wide_tree(dir: &Path, n: usize) {
    for i in 0..n {
        let name = format!("t/d{}/f{:05}", i % 7, i);
        file(dir, name.as_bytes(), format!("file {i}\n").as_bytes());
    }
}

#[test]
fn a_damaged_cache_is_used_up_to_the_damage_and_made_whole_again() {
    let dir = open_tempdir();
    let c = dir.path().join("c");
    // Records of 2,000 files take several 64 KiB frames.
    wide_tree(dir.path(), 2000);
    settle(dir.path());
    cached(dir.path(), &[]);
    let good = fs::read(&c).unwrap();
    assert!(good.len() > 2 * 64 * 1024, "{}", good.len());
    let damages: [(&str, Vec<u8>); 3] = [
        ("a flipped byte", {
            let mut bad = good.clone();
            bad[good.len() / 2] ^= 0x10;
            bad
        }),
        ("cut short", good[..good.len() / 2].to_vec()),
        ("bytes after the end", [&good[..], b"x"].concat()),
    ];
    for (what, bad) in damages {
        fs::write(&c, &bad).unwrap();
        let out = md5pipe_in(dir.path(), &["--cache", "c", "--stats", "t"]);
        assert!(out.status.success(), "{what}: {out:?}");
        assert_eq!(show(&out.stdout), show(&oracle(dir.path())), "{what}");
        let stderr = show(&out.stderr);
        assert!(
            stderr.starts_with("md5pipe: c: damaged at byte "),
            "{what}: {stderr}"
        );
        let s = cache_stats(&out.stderr);
        if what == "bytes after the end" {
            assert_eq!(s.read, 0, "{what}: every record was whole: {s:?}");
        } else {
            assert!(s.unchanged > 0 && s.read > 0, "{what}: {s:?}");
        }
        // The run wrote a whole cache again.
        let s = cached(dir.path(), &[]);
        assert_eq!((s.unchanged, s.read), (2000, 0), "{what}: {s:?}");
    }
}

#[test]
fn a_file_that_is_not_a_cache_is_refused_and_left_as_it_is() {
    let dir = open_tempdir();
    small_tree(dir.path());
    let manifest = oracle(dir.path());
    let c = dir.path().join("c");
    for (what, body) in [
        ("a manifest", manifest.clone()),
        ("a newer format", b"md5pipe cache\n\x02\0\0\0".to_vec()),
    ] {
        fs::write(&c, &body).unwrap();
        let out = md5pipe_in(dir.path(), &["--cache", "c", "t"]);
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        assert!(out.stdout.is_empty(), "{what}: nothing is read");
        let stderr = show(&out.stderr);
        assert!(
            stderr.starts_with("md5pipe: c: ") && stderr.contains("left as it is"),
            "{what}: {stderr}"
        );
        assert_eq!(fs::read(&c).unwrap(), body, "{what}");
    }
    // A directory, and a FIFO nobody writes (which must not block).
    fs::remove_file(&c).unwrap();
    fs::create_dir(&c).unwrap();
    let out = md5pipe_in(dir.path(), &["--cache", "c", "t"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(show(&out.stderr), "md5pipe: c: not a regular file\n");
    fifo(&dir.path().join("f"));
    let out = md5pipe_in(dir.path(), &["--cache", "f", "t"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // An empty file is an empty cache; a missing one is made.
    fs::write(dir.path().join("e"), b"").unwrap();
    for name in ["e", "missing"] {
        let out = md5pipe_in(dir.path(), &["--cache", name, "t"]);
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(show(&out.stdout), show(&manifest));
        let kept = fs::read(dir.path().join(name)).unwrap();
        assert!(kept.starts_with(b"md5pipe cache\n"), "{name}");
    }
    // Nothing is left beside them.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["c", "e", "f", "missing", "t"]);
}

#[test]
fn modes_that_cannot_keep_a_cache_refuse_it() {
    let dir = open_tempdir();
    small_tree(dir.path());
    for args in [
        &["--cache", "c", "-c", "list"][..],
        &["--cache", "c", "--files-from", "list"],
        &["--cache", "c", "t", "t/d"],
        &["--cache", "c", "-"],
        &["--cache", "c", "-a", "sha256", "t"],
    ] {
        let out = md5pipe_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!dir.path().join("c").exists(), "{args:?}");
    }
}

#[test]
fn diff_tree_digest_and_json_are_served_from_the_cache() {
    let dir = open_tempdir();
    small_tree(dir.path());
    fs::write(dir.path().join("manifest"), oracle(dir.path())).unwrap();
    settle(dir.path());
    cached(dir.path(), &[]);
    let plain = [
        &["--diff", "manifest", "t"][..],
        &["--tree-digest", "t"],
        &["--json", "t"],
    ];
    for args in plain {
        let without = md5pipe_in(dir.path(), args);
        let with = md5pipe_in(dir.path(), &[&["--cache", "c", "--stats"], args].concat());
        assert_eq!(with.status.code(), without.status.code(), "{args:?}");
        assert_eq!(show(&with.stdout), show(&without.stdout), "{args:?}");
        let s = cache_stats(&with.stderr);
        assert_eq!((s.unchanged, s.bytes), (7, 0), "{args:?}: {s:?}");
    }
}

#[test]
fn an_interrupted_run_leaves_a_cache_the_next_run_goes_on_from() {
    let dir = open_tempdir();
    let t = dir.path().join("t");
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    fs::write(t.join("a"), "alpha, changed\n").unwrap();
    fs::write(t.join("z"), "last, changed\n").unwrap();
    settle(dir.path());
    // Stopped by SIGTERM while it waits to open t/z (changed, so read):
    // the files before it may or may not have been handed out by then,
    // and t/z itself if the signal is handled only after it goes on.
    let (child, _fifo_dir, handshake) = paused_at(dir.path(), &["--cache", "c", "t"], &[], "t/z");
    assert!(catches(child.id(), libc::SIGTERM));
    signal(&child, libc::SIGTERM);
    // "Go on", without waiting for a reader: md5pipe may have ended
    // without reading it (an interrupted run does not wait for a
    // blocked open).
    let mut go = File::options()
        .read(true)
        .write(true)
        .open(&handshake)
        .unwrap();
    std::io::Write::write_all(&mut go, b"g").unwrap();
    let out = child.wait_with_output().unwrap();
    drop(go);
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    let printed = show(&out.stdout);
    let all = show(&oracle(dir.path()));
    assert!(
        all.starts_with(&printed),
        "whole lines, in order: {printed}"
    );
    let unprinted = ["  t/a\n", "  t/z\n"]
        .iter()
        .filter(|name| !printed.contains(*name))
        .count() as u64;
    // The cache is whole: what was handed out is in it with its new
    // digest; the old records after it stayed. So the changed files t/a
    // and t/z are read again only if they were not handed out, and the
    // unchanged files are not read.
    let s = cached(dir.path(), &[]);
    assert_eq!((s.read, s.unchanged), (unprinted, 7 - unprinted), "{s:?}");
}

#[test]
fn a_cache_that_cannot_be_written_beside_is_an_error_before_anything_is_read() {
    let dir = open_tempdir();
    small_tree(dir.path());
    let out = md5pipe_in(dir.path(), &["--cache", "no/such/dir/c", "t"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        show(&out.stderr),
        "md5pipe: no/such/dir/c: cannot write beside it: No such file or directory\n"
    );
}

#[test]
fn a_cache_inside_the_tree_digests_neither_itself_nor_its_temporary_file() {
    let dir = open_tempdir();
    small_tree(dir.path());
    settle(dir.path());
    let cold = md5pipe_in(dir.path(), &["t"]);
    assert!(cold.status.success(), "{cold:?}");
    for run in 0..3 {
        let out = md5pipe_in(dir.path(), &["--cache", "t/.cache", "t"]);
        assert!(out.status.success(), "run {run}: {out:?}");
        assert_eq!(show(&out.stdout), show(&cold.stdout), "run {run}");
    }
    assert!(dir.path().join("t/.cache").is_file());
}

#[test]
fn a_cache_at_the_path_of_the_output_is_refused_and_the_output_kept() {
    let dir = open_tempdir();
    small_tree(dir.path());
    let out_path = dir.path().join("out");
    let out = md5pipe()
        .args(["--cache", "out", "t"])
        .current_dir(dir.path())
        .stdout(File::create(&out_path).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(show(&out.stderr).contains("standard output"), "{out:?}");
    assert_eq!(fs::read(&out_path).unwrap(), b"", "the output was replaced");
}

#[test]
fn a_dangling_symlink_as_cache_creates_its_target() {
    let dir = open_tempdir();
    small_tree(dir.path());
    std::os::unix::fs::symlink("kept", dir.path().join("link")).unwrap();
    let out = md5pipe_in(dir.path(), &["--cache", "link", "t"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), show(&oracle(dir.path())));
    assert!(dir.path().join("kept").is_file());
    assert!(fs::symlink_metadata(dir.path().join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// An md5pipe run of `args` in `dir`, with `env` set, paused just before
/// it opens `at` (see pipeline-md5/src/pause.rs): returned once it waits
/// there, with the handshake FIFO to tell it to go on ([`go_on`]) and the
/// directory holding it.
fn paused_at(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    at: &str,
) -> (std::process::Child, tempfile::TempDir, std::path::PathBuf) {
    let mut cmd = md5pipe();
    cmd.args(args).envs(env.iter().copied());
    paused_cmd_at(cmd, dir, at)
}

/// As [`paused_at`], for a command made by the caller.
fn paused_cmd_at(
    mut cmd: std::process::Command,
    dir: &Path,
    at: &str,
) -> (std::process::Child, tempfile::TempDir, std::path::PathBuf) {
    let fifo_dir = tempfile::tempdir().unwrap();
    let handshake = fifo_dir.path().join("pause");
    fifo(&handshake);
    let child = cmd
        .current_dir(dir)
        .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", at)
        .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog: should md5pipe end without pausing, it opens the FIFO
    // for writing so that the open below returns instead of waiting.
    let pid = child.id();
    let watched = handshake.clone();
    let here = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let told = here.clone();
    let watchdog = std::thread::spawn(move || {
        while !told.load(std::sync::atomic::Ordering::SeqCst) {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                let _ = File::options().read(true).write(true).open(&watched);
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    wait_for_pause(&handshake);
    here.store(true, std::sync::atomic::Ordering::SeqCst);
    watchdog.join().unwrap();
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "md5pipe ended without pausing at {at}"
    );
    (child, fifo_dir, handshake)
}

/// The names in `dir` that start with `.NAME.` and end with `.tmp`: a
/// cache `NAME`'s temporary files.
fn temp_files(dir: &Path, name: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}.")) && n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_run_killed_outright_leaves_no_temporary_file() {
    let dir = open_tempdir();
    small_tree(dir.path());
    settle(dir.path());
    cached(dir.path(), &[]);
    fs::write(dir.path().join("t/m"), "middle, changed\n").unwrap();
    let (mut child, _fifo_dir, _handshake) =
        paused_at(dir.path(), &["--cache", "c", "t"], &[], "t/m");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "killed: {out:?}");
    assert_eq!(temp_files(dir.path(), "c"), Vec::<String>::new());
    // The old cache is as it was, and serves the next run.
    let s = cached(dir.path(), &[]);
    assert_eq!((s.read, s.unchanged), (1, 6), "{s:?}");
}

/// Two runs at once, with their cache inside the tree they walk: one
/// waits to list `t/d` (after its new cache was made, before the other
/// has put its own in place), the other runs whole meanwhile. Neither
/// digests the other's new cache, named or not, nor the cache the other
/// put in place.
#[test]
fn two_runs_at_once_with_the_cache_inside_the_tree_print_what_md5sum_prints() {
    for named in [false, true] {
        let dir = open_tempdir();
        small_tree(dir.path());
        let want = show(&oracle(dir.path()));
        settle(dir.path());
        for round in 0..2 {
            let args = ["--cache", "t/d/c", "t"];
            let env: &[(&str, &str)] = if named {
                &[("MD5PIPE_TEST_NAMED_TEMP", "1")]
            } else {
                &[]
            };
            let (first, _fifo_dir, handshake) = paused_at(dir.path(), &args, env, "t/d");
            let mut second = md5pipe();
            second.args(args).envs(env.iter().copied());
            let second = run_in(second, dir.path());
            assert!(
                second.status.success(),
                "named {named} round {round}: {second:?}"
            );
            assert_eq!(show(&second.stdout), want, "named {named} round {round}");
            let go = go_on(&handshake);
            let first = first.wait_with_output().unwrap();
            drop(go);
            assert!(
                first.status.success(),
                "named {named} round {round}: {first:?}"
            );
            assert_eq!(show(&first.stdout), want, "named {named} round {round}");
            assert_eq!(
                temp_files(&dir.path().join("t/d"), "c"),
                Vec::<String>::new()
            );
        }
    }
}

/// `md5pipe --cache c --stats ARGS` in `dir` as `nobody`.
fn cached_as_nobody(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = as_nobody(std::ffi::OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
    cmd.args(["--cache", "c", "--stats"]).args(args);
    run_in(cmd, dir)
}

/// A directory or a root that cannot be read keeps its old records: once
/// readable again, the next run prints what a cold run prints and reads
/// nothing that did not change. A directory that vanished drops them.
#[test]
fn records_below_an_unreadable_directory_are_kept_and_below_a_vanished_one_dropped() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let dir = open_tempdir();
    let root = dir.path();
    small_tree(root);
    fs::set_permissions(root, fs::Permissions::from_mode(0o777)).unwrap();
    settle(root);
    let want = show(&oracle(root));
    let chmod = |rel: &str, mode: u32| {
        fs::set_permissions(root.join(rel), fs::Permissions::from_mode(mode)).unwrap();
    };
    let out = cached_as_nobody(root, &["t"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), want);
    assert_eq!(cache_stats(&out.stderr).kept, 7, "{out:?}");
    for (shut, reason) in [
        ("t/d", "md5pipe: t/d: Permission denied\n"),
        ("t/d/e", "md5pipe: t/d/e: Permission denied\n"),
        ("t", "md5pipe: t: Permission denied\n"),
    ] {
        chmod(shut, 0o000);
        let out = cached_as_nobody(root, &["t"]);
        chmod(shut, 0o755);
        assert_eq!(out.status.code(), Some(1), "{shut}: {out:?}");
        assert!(show(&out.stderr).starts_with(reason), "{shut}: {out:?}");
        let s = cache_stats(&out.stderr);
        assert_eq!((s.kept, s.dropped), (7, 0), "{shut}: {s:?}");
        let out = cached_as_nobody(root, &["t"]);
        assert!(out.status.success(), "{shut}: {out:?}");
        assert_eq!(show(&out.stdout), want, "{shut}");
        let s = cache_stats(&out.stderr);
        assert_eq!((s.read, s.unchanged, s.kept), (0, 7, 7), "{shut}: {s:?}");
    }
    // Gone: its records are dropped.
    fs::remove_dir_all(root.join("t/d")).unwrap();
    let out = cached_as_nobody(root, &["t"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), show(&oracle(root)));
    let s = cache_stats(&out.stderr);
    assert_eq!((s.read, s.kept, s.dropped), (0, 5, 2), "{s:?}");
}

/// The device, inode and modification time of `path`.
fn identity(path: &Path) -> (u64, u64, SystemTime) {
    let meta = fs::metadata(path).unwrap();
    (meta.dev(), meta.ino(), meta.modified().unwrap())
}

/// An update that would write the same records leaves the cache file as
/// it was; one that differs part way writes the old records before the
/// difference too, so that the next run reads only what changed.
#[test]
fn an_unchanged_tree_leaves_its_cache_untouched_and_a_change_rewrites_it_whole() {
    let dir = open_tempdir();
    let root = dir.path();
    let cache = root.join("c");
    small_tree(root);
    settle(root);
    cached(root, &[]);
    let before = identity(&cache);
    let s = cached(root, &[]);
    assert_eq!((s.read, s.unchanged, s.kept), (0, 7, 7), "{s:?}");
    assert_eq!(identity(&cache), before, "rewritten");

    fs::write(root.join("t/m"), "middle, changed\n").unwrap();
    settle(root);
    let s = cached(root, &[]);
    assert_eq!((s.read, s.unchanged, s.kept), (1, 6, 7), "{s:?}");
    assert_ne!(identity(&cache), before, "not rewritten");
    let s = cached(root, &[]);
    assert_eq!((s.read, s.unchanged, s.kept), (0, 7, 7), "{s:?}");

    fs::remove_file(root.join("t/d/g")).unwrap();
    let before = identity(&cache);
    let s = cached(root, &[]);
    assert_eq!(
        (s.read, s.unchanged, s.kept, s.dropped),
        (0, 6, 6, 1),
        "{s:?}"
    );
    assert_ne!(identity(&cache), before, "not rewritten");
    let s = cached(root, &[]);
    assert_eq!(
        (s.read, s.unchanged, s.kept, s.dropped),
        (0, 6, 6, 0),
        "{s:?}"
    );
}

/// A file root `d/f` is opened by its path when read, after the walk took
/// its key. If `d` is swapped for another directory in between, the run
/// reads another file (`e/f`) and the cache pairs the digest of that file
/// with the key of `d/f`. Once the directories are swapped back (a
/// directory's rename changes the times of neither file), the next run
/// finds `d/f`'s key unchanged and prints the other file's digest for it:
/// a wrong digest, status 0, on a tree whose files were never written
/// after the first run. A record must pair a digest with the key of the
/// file it was read from (fstat of the opened file against the walk's).
#[test]
fn a_directory_swapped_between_the_stat_and_the_open_never_pairs_a_digest_with_the_wrong_key() {
    let dir = open_tempdir();
    let d = dir.path();
    file(d, b"d/f", b"AAAA\n");
    file(d, b"e/f", b"BBBB\n");
    settle(d);
    let (child, _fifo_dir, handshake) = paused_at(d, &["--cache", "c", "d/f"], &[], "d/f");
    fs::rename(d.join("d"), d.join("tmp")).unwrap();
    fs::rename(d.join("e"), d.join("d")).unwrap();
    let go = go_on(&handshake);
    let first = child.wait_with_output().unwrap();
    drop(go);
    assert!(first.status.success(), "{first:?}");
    // Back as it was: d/f is the file the first run took the key of,
    // untouched.
    fs::rename(d.join("d"), d.join("e")).unwrap();
    fs::rename(d.join("tmp"), d.join("d")).unwrap();
    let want = show(&md5sum_of(d, &[], &[b"d/f".to_vec()]));
    let out = md5pipe_in(d, &["--cache", "c", "d/f"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout), want, "the digest of d/f as it is");
}

/// As above, inside a directory root: under `ulimit -n 64` the walk holds
/// no directory descriptor, so `t/d/f` is opened by its path below the
/// root, after the walk took its key. `t/d` and `t/e` are swapped while
/// the run waits to open `t/d/f`, and swapped back after it: the next run
/// prints `t/e/f`'s digest for `t/d/f`, whose file was never written.
#[test]
fn a_directory_swapped_below_the_root_never_pairs_a_digest_with_the_wrong_key() {
    use std::os::unix::process::CommandExt;
    let dir = open_tempdir();
    let d = dir.path();
    file(d, b"t/d/f", b"AAAA\n");
    file(d, b"t/e/f", b"BBBB\n");
    settle(d);
    let swap = || {
        fs::rename(d.join("t/d"), d.join("t/tmp")).unwrap();
        fs::rename(d.join("t/e"), d.join("t/d")).unwrap();
        fs::rename(d.join("t/tmp"), d.join("t/e")).unwrap();
    };
    let mut cmd = md5pipe();
    cmd.args(["--cache", "c", "t"]);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (child, _fifo_dir, handshake) = paused_cmd_at(cmd, d, "t/d/f");
    swap();
    let go = go_on(&handshake);
    let first = child.wait_with_output().unwrap();
    drop(go);
    assert!(first.status.success(), "{first:?}");
    swap();
    let out = md5pipe_in(d, &["--cache", "c", "t"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        show(&out.stdout),
        show(&oracle(d)),
        "the digests of t as it is"
    );
}

/// A cache written by a user who can read every file (root), used by one
/// who cannot read `t/s` (nobody, with the cache shared to it): a cold
/// run as nobody says `t/s: Permission denied` and exits 1, and `--diff`
/// marks it `!`; the cached run prints its digest, exits 0, and `--diff`
/// calls it `=`: a key hit never opens the file, so the denial is never
/// seen. The output should be what a cold run prints.
#[test]
fn a_file_the_user_cannot_read_is_not_served_from_a_cache_someone_else_wrote() {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let dir = open_tempdir();
    let root = dir.path();
    file(root, b"t/p", b"public\n");
    file(root, b"t/s", b"secret\n");
    fs::set_permissions(root, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(root.join("t/s"), fs::Permissions::from_mode(0o600)).unwrap();
    settle(root);
    let manifest = md5pipe_in(root, &["--cache", "c", "t"]);
    assert!(manifest.status.success(), "{manifest:?}");
    fs::write(root.join("m"), &manifest.stdout).unwrap();
    fs::set_permissions(root.join("c"), fs::Permissions::from_mode(0o666)).unwrap();
    let nobody = || as_nobody(std::ffi::OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
    let mut cold = nobody();
    cold.arg("t");
    let cold = run_in(cold, root);
    assert_eq!(cold.status.code(), Some(1), "{cold:?}");
    let mut warm = nobody();
    warm.args(["--cache", "c", "t"]);
    let warm = run_in(warm, root);
    assert_eq!(
        show(&warm.stdout),
        show(&cold.stdout),
        "what a cold run prints"
    );
    assert_eq!(warm.status.code(), Some(1), "{warm:?}");
    let mut audit = nobody();
    audit.args(["--cache", "c", "--diff", "m", "t"]);
    let audit = run_in(audit, root);
    assert_eq!(show(&audit.stdout), "= t/p\n! t/s\n");
    assert_eq!(audit.status.code(), Some(1), "{audit:?}");
}

#[test]
fn a_file_of_another_user_that_is_no_cache_is_left_as_it_is() {
    // The check of a cache's owner came before the check that the file is
    // a cache at all: another user's notes given as `--cache`, in a
    // directory the user may write, were replaced by a cache (status 0)
    // instead of refused and left as they were.
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let dir = open_tempdir();
    let root = dir.path();
    file(root, b"t/a", b"a\n");
    fs::set_permissions(root, fs::Permissions::from_mode(0o777)).unwrap();
    fs::write(root.join("c"), "notes, not a cache\n").unwrap();
    let mut run = as_nobody(std::ffi::OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
    run.args(["--cache", "c", "t"]);
    let out = run_in(run, root);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        show(&out.stderr).contains("not an md5pipe cache; left as it is"),
        "{}",
        show(&out.stderr)
    );
    assert_eq!(fs::read(root.join("c")).unwrap(), b"notes, not a cache\n");
}
