//! `md5pipe --diff MANIFEST PATH` against the marks worked out here from
//! the two sides (`=` same, `*` changed, `+` new, `-` missing, `!`
//! unreadable): on random trees edited at random, with manifests written
//! by md5sum in a shuffled order and by md5pipe itself.
//! `MD5PIPE_FUZZ_CASES` and `MD5PIPE_FUZZ_SEED` run it longer by hand.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use common::*;

fn diff(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = md5pipe();
    cmd.arg("--diff").args(args).args(["-j", "3"]);
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The files below `t` (names relative to `dir`, `t/...`) and their MD5,
/// as md5sum computes them.
fn digests(dir: &Path) -> BTreeMap<Vec<u8>, String> {
    let names: Vec<Vec<u8>> = regular_files(&dir.join("t"))
        .into_iter()
        .map(|n| [b"t/".as_slice(), &n].concat())
        .collect();
    let out = md5sum_of(dir, &["-z"], &names);
    out.split(|&b| b == 0)
        .filter(|l| !l.is_empty())
        .map(|l| {
            (
                l[34..].to_vec(),
                String::from_utf8(l[..32].to_vec()).unwrap(),
            )
        })
        .collect()
}

/// The marks, in path order, that the two sides call for.
fn expected(manifest: &BTreeMap<Vec<u8>, String>, tree: &BTreeMap<Vec<u8>, String>) -> Vec<u8> {
    let mut all: Vec<&Vec<u8>> = manifest.keys().chain(tree.keys()).collect();
    all.sort();
    all.dedup();
    let mut out = Vec::new();
    for name in all {
        let mark = match (manifest.get(name), tree.get(name)) {
            (Some(a), Some(b)) if a == b => b'=',
            (Some(_), Some(_)) => b'*',
            (None, Some(_)) => b'+',
            (Some(_), None) => b'-',
            (None, None) => unreachable!(),
        };
        out.extend([mark, b' ']);
        out.extend(name);
        out.push(0);
    }
    out
}

fn manifest_text(m: &BTreeMap<Vec<u8>, String>, rng: &mut Rng) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = m
        .iter()
        .map(|(name, hex)| [hex.as_bytes(), b"  ", name, b"\0"].concat())
        .collect();
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.below(i + 1));
    }
    lines.concat()
}

#[test]
fn random_edits_get_the_marks_worked_out_from_both_sides() {
    let cases = env_u64("MD5PIPE_FUZZ_CASES", 12);
    let mut rng = Rng(env_u64("MD5PIPE_FUZZ_SEED", 0x5eed_a0d1));
    let names: [&[u8]; 9] = [
        b"a", b"a-b", b"a.b", b"b", b"x y", b"n\nl", b"\\", b"c\r", b"u\xff",
    ];
    for case in 0..cases {
        let dir = open_tempdir();
        let t = dir.path().join("t");
        fs::create_dir(&t).unwrap();
        for i in 0..rng.below(40) {
            let sub = rng.pick(&[&b""[..], b"d/", b"d/e/", b"a/"]);
            let name = [sub, rng.pick(&names), format!("{i}").as_bytes()].concat();
            let path = t.join(raw(&name));
            // A name that is a directory already (or under a file) is
            // skipped.
            if fs::create_dir_all(path.parent().unwrap()).is_ok() {
                let _ = fs::write(&path, format!("{}", rng.next() % 3));
            }
        }
        let before = digests(dir.path());
        // Edit: rewrite some, delete some, add some.
        for name in before.keys() {
            let path = dir.path().join(raw(name));
            match rng.below(6) {
                0 => fs::write(&path, b"changed").unwrap(),
                1 => fs::remove_file(&path).unwrap(),
                2 => fs::write(&path, fs::read(&path).unwrap()).unwrap(),
                _ => {}
            }
        }
        for i in 0..rng.below(5) {
            fs::write(t.join(format!("new{i}")), b"new").unwrap();
        }
        let after = digests(dir.path());
        let want = expected(&before, &after);
        let list = manifest_text(&before, &mut rng);
        // From a file, shuffled (sorted on disk), and from stdin.
        fs::write(dir.path().join("m"), &list).unwrap();
        let from_file = diff(dir.path(), &["m", "-z", "t"], b"");
        let from_stdin = diff(dir.path(), &["-", "-z", "t"], &list);
        for out in [&from_file, &from_stdin] {
            assert_eq!(show(&out.stdout), show(&want), "case {case}");
            let same = before == after;
            assert_eq!(
                out.status.code(),
                Some(if same { 0 } else { 1 }),
                "case {case}"
            );
        }
    }
}

#[test]
fn a_manifest_md5pipe_wrote_audits_as_the_same_tree() {
    let dir = tricky_tree();
    let mut cmd = md5pipe();
    cmd.arg(".");
    let manifest = run_in(cmd, dir.path()).stdout;
    let elsewhere = open_tempdir();
    let m = elsewhere.path().join("m");
    fs::write(&m, &manifest).unwrap();
    let out = diff(dir.path(), &[m.to_str().unwrap(), "."], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let lines = show(&out.stdout);
    assert!(
        lines
            .lines()
            .all(|l| l.starts_with("= ") || l.starts_with("\\= ")),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), show(&manifest).lines().count());
    assert!(show(&out.stderr).starts_with("md5pipe: "));
    assert!(show(&out.stderr).contains(" same, 0 changed, 0 new, 0 missing, 0 unreadable"));
}

#[test]
fn unreadable_paths_are_marked_and_reported() {
    // Permissions bind only a user other than root: run as `nobody`.
    if !is_root() {
        eprintln!("skipped: needs root to run md5pipe as nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = open_tempdir();
    let root = dir.path();
    for f in ["t/a", "t/locked", "t/shut/y", "t/z"] {
        file(root, f.as_bytes(), f.as_bytes());
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let names: Vec<Vec<u8>> = ["t/a", "t/locked", "t/shut/y", "t/z"]
        .iter()
        .map(|n| n.as_bytes().to_vec())
        .collect();
    fs::write(root.join("m"), md5sum_of(root, &[], &names)).unwrap();
    fs::set_permissions(root.join("m"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(root.join("t"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("t/locked"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(root.join("t/shut"), fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = as_nobody(std::ffi::OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
    cmd.args(["--diff", "m", "t"]);
    let out = run_in(cmd, root);
    // The file is `!`, and so is the file of the directory that could not
    // be listed (it is not known to be gone); both errors are reported.
    assert_eq!(show(&out.stdout), "= t/a\n! t/locked\n! t/shut/y\n= t/z\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = show(&out.stderr);
    assert!(
        stderr.contains("md5pipe: t/locked: Permission denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("md5pipe: t/shut: Permission denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 same, 0 changed, 0 new, 0 missing, 2 unreadable"),
        "{stderr}"
    );
}

#[test]
fn a_large_unsorted_manifest_on_stdin_is_sorted_in_bounded_runs() {
    // More entries than one sorting run holds, in reverse order; the tree
    // has one of them.
    let dir = open_tempdir();
    file(dir.path(), b"t/k050000", b"x");
    let hex = show(&md5sum_of(dir.path(), &[], &[b"t/k050000".to_vec()]))[..32].to_owned();
    let mut list = String::new();
    for i in (0..100_000).rev() {
        list += &format!("{hex}  t/k{i:06}\n");
    }
    let out = diff(dir.path(), &["-", "t"], list.as_bytes());
    let stdout = show(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 100_000);
    assert_eq!(lines[0], "- t/k000000");
    assert_eq!(lines[50_000], "= t/k050000");
    assert!(
        lines.windows(2).all(|w| w[0][2..] < w[1][2..]),
        "in path order"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_and_a_missing_manifest() {
    let dir = open_tempdir();
    fs::create_dir(dir.path().join("t")).unwrap();
    let out = diff(dir.path(), &["m", "t", "t"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = diff(dir.path(), &["m", "-c"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = diff(dir.path(), &["m", "t"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(show(&out.stderr), "md5pipe: m: No such file or directory\n");
}

/// Upper bound on any wait that only a hung md5pipe would exceed.
const GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits for `child` to exit, killing it and failing after [`GUARD`].
fn exit_code(mut child: std::process::Child) -> Option<i32> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > GUARD {
            let _ = child.kill();
            panic!("md5pipe --diff did not end after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn signals_end_a_diff_waiting_for_its_manifest_on_a_fifo_or_a_pipe() {
    let dir = open_tempdir();
    file(dir.path(), b"t/a", b"a");
    let m = dir.path().join("m");
    fifo(&m);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // A FIFO nobody writes to: open must not block, the wait must end.
        let child = md5pipe()
            .args(["--diff", "m", "t"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !has_open(child.id(), &m) {
            assert!(started.elapsed() < GUARD, "never opened the FIFO");
            std::thread::yield_now();
        }
        signal(&child, sig);
        assert_eq!(exit_code(child), Some(128 + sig));

        // Standard input, a pipe kept open with half a line written.
        let mut child = md5pipe()
            .args(["--diff", "-", "t"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let started = std::time::Instant::now();
        while !catches(child.id(), sig) {
            assert!(started.elapsed() < GUARD, "never caught signal {sig}");
            std::thread::yield_now();
        }
        let before = bytes_read(child.id());
        stdin
            .write_all(b"0cc175b9c0f1b6a831c399e269772661  t/")
            .unwrap();
        let started = std::time::Instant::now();
        while bytes_read(child.id()) < before + 36 {
            assert!(started.elapsed() < GUARD, "never read its stdin");
            std::thread::yield_now();
        }
        signal(&child, sig);
        assert_eq!(exit_code(child), Some(128 + sig));
        drop(stdin);
    }
}

#[test]
fn a_sorted_manifest_that_lists_a_file_twice_with_another_digest_is_not_a_match() {
    // The manifest names t/a twice: with its digest, then with another
    // one (md5sum -c reports `t/a: FAILED` and exits 1). It stays in path
    // order, so md5pipe reads it as a file in its sorted path; the same
    // bytes on stdin go through the sorting path. Both must call t/a
    // changed, never `=` with exit 0.
    let dir = open_tempdir();
    file(dir.path(), b"t/a", b"a");
    file(dir.path(), b"t/b", b"b");
    let good = show(&md5sum_of(
        dir.path(),
        &[],
        &[b"t/a".to_vec(), b"t/b".to_vec()],
    ));
    let mut lines: Vec<&str> = good.lines().collect();
    let bad = "00000000000000000000000000000000  t/a";
    lines.insert(1, bad);
    let manifest = lines.join("\n") + "\n";
    fs::write(dir.path().join("m"), &manifest).unwrap();
    let from_stdin = diff(dir.path(), &["-", "t"], manifest.as_bytes());
    let from_file = diff(dir.path(), &["m", "t"], b"");
    assert_eq!(show(&from_stdin.stdout), "* t/a\n= t/b\n");
    assert_eq!(from_stdin.status.code(), Some(1));
    assert_eq!(
        show(&from_file.stdout),
        show(&from_stdin.stdout),
        "the same manifest from a file and from stdin"
    );
    assert_eq!(
        from_file.status.code(),
        Some(1),
        "{}",
        show(&from_file.stderr)
    );
}

#[test]
fn a_closed_stdout_mid_diff_ends_it_quietly_without_calling_the_rest_missing() {
    // `md5pipe --diff m t | head -1`: the reader goes away part way. The
    // run ends with 141 and, as the contract says of a closed stdout,
    // quietly. It printed the counts instead, with every manifest entry
    // not reached yet counted as missing (`md5pipe: 20 same, 0 changed,
    // 0 new, 20 missing, 0 unreadable` for a tree with none missing), in
    // every mode and with --io async. Made deterministic with the pause
    // hook: stdout is closed while md5pipe waits before opening t/f20.
    let dir = open_tempdir();
    let names: Vec<Vec<u8>> = (0..40).map(|i| format!("t/f{i:02}").into_bytes()).collect();
    for name in &names {
        file(dir.path(), name, name);
    }
    fs::write(dir.path().join("m"), md5sum_of(dir.path(), &[], &names)).unwrap();
    let designs: [&[&str]; 4] = [
        &["--mode", "bounded"],
        &["--mode", "bounded", "--io", "async"],
        &["--mode", "parallel"],
        &["--mode", "serial", "--io", "async"],
    ];
    for design in designs {
        let fifo_dir = open_tempdir();
        let handshake = fifo_dir.path().join("pause");
        fifo(&handshake);
        let mut child = md5pipe()
            .args(["-j", "1", "--diff", "m"])
            .args(design)
            .arg("t")
            .current_dir(dir.path())
            .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", "t/f20")
            .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_pause(&handshake);
        drop(child.stdout.take());
        let go = go_on(&handshake);
        let out = child.wait_with_output().unwrap();
        drop(go);
        let stderr = show(&out.stderr);
        assert!(!stderr.contains("missing"), "{design:?}: {stderr}");
        assert_eq!(stderr, "", "{design:?}");
        assert_eq!(out.status.code(), Some(141), "{design:?}: {stderr}");
    }
}
