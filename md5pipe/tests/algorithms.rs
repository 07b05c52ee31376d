//! `-a/--algorithm`: md5pipe prints what `sha1sum`, `sha256sum` and
//! `sha512sum` print (coreutils, the oracle), byte for byte, plain, `-z`
//! and `--tag` (compared with `cksum -a`, whose format `--tag` follows);
//! their `-c` verifies md5pipe's lists. BLAKE3's expected lines are
//! sha256sum's with each digest replaced by the `blake3` crate's (b3sum
//! prints the same format), and b3sum itself when it is installed.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// What `TOOL [ARGS] -- FILES...` prints, run in `dir`.
fn tool_of(tool: &str, dir: &Path, args: &[&str], files: &[Vec<u8>]) -> Vec<u8> {
    let mut cmd = Command::new(tool);
    cmd.env("LC_ALL", "C.UTF-8").args(args).arg("--");
    cmd.args(files.iter().map(|f| OsStr::from_bytes(f)));
    let out = run_in(cmd, dir);
    assert!(out.status.success(), "{tool} failed: {out:?}");
    out.stdout
}

/// md5pipe's output for `args` in `dir`; it must succeed quietly.
fn ours(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut cmd = md5pipe();
    cmd.args(args);
    let out = run_in(cmd, dir);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{args:?}: {out:?}"
    );
    out.stdout
}

/// The tricky names, and files around the block sizes and the chunk.
fn tree() -> tempfile::TempDir {
    let dir = tricky_tree();
    let mut rng = Rng(0xa1905);
    for (i, size) in [55usize, 56, 64, 111, 128, 1000, 65_537, 300_000]
        .iter()
        .enumerate()
    {
        let body: Vec<u8> = (0..*size).map(|_| rng.next() as u8).collect();
        file(dir.path(), format!("sizes/{i}").as_bytes(), &body);
    }
    dir
}

#[test]
fn sha_lines_are_what_coreutils_prints() {
    let dir = tree();
    let root = dir.path();
    let files = regular_files(root);
    for algorithm in ["sha1", "sha256", "sha512"] {
        let tool = format!("{algorithm}sum");
        for mode in ["bounded", "parallel", "serial"] {
            for args in [&[][..], &["-z"]] {
                let want = tool_of(&tool, root, args, &files);
                let got = ours(
                    root,
                    &[&["-a", algorithm, "--mode", mode], args, &["."]].concat(),
                );
                assert_eq!(show(&got), show(&want), "{algorithm} {mode} {args:?}");
            }
        }
        for args in [&[][..], &["-z"]] {
            let want = tool_of("cksum", root, &[&["-a", algorithm], args].concat(), &files);
            let got = ours(root, &[&["-a", algorithm, "--tag"], args, &["."]].concat());
            assert_eq!(show(&got), show(&want), "{algorithm} --tag {args:?}");
        }
    }
}

#[test]
fn coreutils_check_verifies_our_lists() {
    let dir = tree();
    let root = dir.path();
    let lists = open_tempdir();
    for algorithm in ["sha1", "sha256", "sha512"] {
        for tag in [false, true] {
            let mut args = vec!["-a", algorithm, "."];
            if tag {
                args.insert(0, "--tag");
            }
            let list = lists.path().join(format!("{algorithm}-{tag}"));
            fs::write(&list, ours(root, &args)).unwrap();
            let mut check = Command::new(format!("{algorithm}sum"));
            check
                .env("LC_ALL", "C.UTF-8")
                .arg("--strict")
                .arg("-c")
                .arg(&list);
            let out = run_in(check, root);
            assert!(out.status.success(), "{algorithm} tag {tag}: {out:?}");
            let oks = show(&out.stdout).matches(": OK\n").count();
            assert_eq!(oks, regular_files(root).len(), "{algorithm} tag {tag}");
        }
    }
}

/// `line` with its digest (the `len` hex digits after an optional `\`,
/// or the last `len` before the line's end in a `tagged` line) replaced
/// by `hex`.
fn with_digest(line: &[u8], tagged: bool, len: usize, hex: &str) -> Vec<u8> {
    let at = if tagged {
        line.len() - 1 - len
    } else {
        usize::from(line.first() == Some(&b'\\'))
    };
    [&line[..at], hex.as_bytes(), &line[at + len..]].concat()
}

#[test]
fn blake3_lines_are_sha256sums_with_blake3_digests() {
    let dir = tree();
    let root = dir.path();
    let files = regular_files(root);
    let blake3_of = |f: &[u8]| {
        let body = fs::read(root.join(raw(f))).unwrap();
        blake3::hash(&body).to_hex().to_string()
    };
    for (args, tagged) in [(&[][..], false), (&["-z"][..], false), (&["--tag"], true)] {
        let template = if tagged {
            tool_of("cksum", root, &["-a", "sha256"], &files)
        } else {
            tool_of("sha256sum", root, args, &files)
        };
        let end = if args == ["-z"] { b'\0' } else { b'\n' };
        let want: Vec<u8> = template
            .split_inclusive(|&b| b == end)
            .zip(&files)
            .flat_map(|(line, f)| {
                let line = with_digest(line, tagged, 64, &blake3_of(f));
                if tagged {
                    let at = usize::from(line.first() == Some(&b'\\'));
                    [&line[..at], b"BLAKE3", &line[at + 6..]].concat()
                } else {
                    line
                }
            })
            .collect();
        for mode in ["bounded", "parallel", "serial"] {
            let got = ours(
                root,
                &[&["-a", "blake3", "--mode", mode], args, &["."]].concat(),
            );
            assert_eq!(show(&got), show(&want), "{mode} {args:?}");
        }
    }
    // b3sum itself, when this machine has it, over the names it escapes
    // as we do (it leaves a carriage return as it is).
    let plain: Vec<Vec<u8>> = files
        .iter()
        .filter(|f| !f.contains(&b'\r'))
        .cloned()
        .collect();
    let b3sum = Command::new("b3sum").arg("--version").output();
    if b3sum.is_ok_and(|o| o.status.success()) {
        let want = tool_of("b3sum", root, &[], &plain);
        let mut cmd = md5pipe();
        cmd.args(["-a", "blake3", "--"]);
        cmd.args(plain.iter().map(|f| OsStr::from_bytes(f)));
        let got = run_in(cmd, root);
        assert!(got.status.success(), "{got:?}");
        assert_eq!(show(&got.stdout), show(&want), "b3sum");
    } else {
        eprintln!("b3sum is not installed: checked against the blake3 crate only");
    }
}

#[test]
fn the_tree_digest_follows_the_algorithm() {
    let dir = tree();
    let root = dir.path();
    for algorithm in ["sha1", "sha256", "sha512"] {
        let listing = ours(root, &["-a", algorithm, "."]);
        let mut sum = Command::new(format!("{algorithm}sum"));
        sum.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = sum.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &listing).unwrap();
        let out = child.wait_with_output().unwrap();
        let hex = show(&out.stdout[..out.stdout.iter().position(|&b| b == b' ').unwrap()]);
        let tree = ours(root, &["-a", algorithm, "--tree-digest", "."]);
        assert_eq!(show(&tree), format!("{hex}  .\n"), "{algorithm}");
    }
}

#[test]
fn bad_algorithms_and_audits_of_other_algorithms_are_usage_errors() {
    let dir = open_tempdir();
    for args in [
        &["-a", "sha3"][..],
        &["--algorithm", ""],
        &["--diff", "x", "-a", "sha1"],
    ] {
        let mut cmd = md5pipe();
        cmd.args(args);
        let out = run_in(cmd, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// `-c` reads the lists of sha1sum, sha256sum, sha512sum and cksum -a,
/// and prints what their own `-c` prints, failures and missing files
/// included (stderr but for the program's name).
#[test]
fn check_mode_reads_every_algorithm_as_coreutils_does() {
    let dir = tree();
    let root = dir.path();
    let lists = open_tempdir();
    let files = regular_files(root);
    for algorithm in ["sha1", "sha256", "sha512"] {
        let tool = format!("{algorithm}sum");
        let mut list = tool_of(&tool, root, &[], &files);
        list.extend(tool_of("cksum", root, &["-a", algorithm], &files));
        list.extend(
            format!(
                "{}  gone\n",
                "0".repeat(list.iter().position(|&b| b == b' ').unwrap())
            )
            .as_bytes(),
        );
        let path = lists.path().join(algorithm);
        fs::write(&path, &list).unwrap();
        fs::write(root.join("a-b"), b"changed since").unwrap();
        let theirs = run_in(
            {
                let mut c = Command::new(&tool);
                c.env("LC_ALL", "C.UTF-8").arg("-c").arg(&path);
                c
            },
            root,
        );
        let mut cmd = md5pipe();
        cmd.arg("-c").arg(&path);
        let got = run_in(cmd, root);
        assert_eq!(got.status.code(), Some(1), "{algorithm}: {got:?}");
        assert_eq!(got.status.code(), theirs.status.code(), "{algorithm}");
        assert_eq!(show(&got.stdout), show(&theirs.stdout), "{algorithm}");
        assert_eq!(
            show(&got.stderr),
            show(&theirs.stderr).replace(&format!("{tool}:"), "md5pipe:"),
            "{algorithm}"
        );
        assert!(show(&got.stdout).contains("a-b: FAILED\n"), "{algorithm}");
        fs::write(root.join("a-b"), b"content 0\n").unwrap();
    }
}

/// A list of every algorithm at once verifies; b3sum's untagged lines
/// need `-a blake3` (64 digits are SHA-256 otherwise), tagged ones do not.
#[test]
fn check_mode_takes_the_algorithm_from_the_tag_or_the_length() {
    let dir = tree();
    let root = dir.path();
    let n = regular_files(root).len();
    let mut all = Vec::new();
    for algorithm in ["md5", "sha1", "sha256", "sha512", "blake3"] {
        all.extend(ours(root, &["-a", algorithm, "--tag", "."]));
        if algorithm != "blake3" {
            all.extend(ours(root, &["-a", algorithm, "."]));
        }
    }
    let lists = open_tempdir();
    let path = lists.path().join("all");
    fs::write(&path, &all).unwrap();
    let mut cmd = md5pipe();
    cmd.args(["--strict", "-c"]).arg(&path);
    let out = run_in(cmd, root);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout).matches(": OK\n").count(), 9 * n);

    let b3 = lists.path().join("b3");
    fs::write(&b3, ours(root, &["-a", "blake3", "."])).unwrap();
    let mut cmd = md5pipe();
    cmd.args(["-c", "-a", "blake3"]).arg(&b3);
    let out = run_in(cmd, root);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(show(&out.stdout).matches(": OK\n").count(), n);
    let mut cmd = md5pipe();
    cmd.arg("-c").arg(&b3);
    let out = run_in(cmd, root);
    assert_eq!(out.status.code(), Some(1), "read as SHA-256: {out:?}");
    assert_eq!(show(&out.stdout).matches(": FAILED\n").count(), n);
}

/// `lines` with an improperly formatted line after the first and after
/// the last.
fn with_junk(lines: &[u8]) -> Vec<u8> {
    let first = lines.iter().position(|&b| b == b'\n').unwrap() + 1;
    [&lines[..first], b"junk\n", &lines[first..], b"more junk\n"].concat()
}

/// What `tool` (or md5pipe, for `None`) prints for `-c -w ARGS LIST` in
/// `root`: status, stdout and stderr with the program's name as md5pipe's.
fn check_w(tool: Option<&str>, args: &[&str], list: &Path, root: &Path) -> (Option<i32>, String) {
    let mut cmd = match tool {
        Some(tool) => Command::new(tool),
        None => md5pipe(),
    };
    cmd.env("LC_ALL", "C.UTF-8")
        .args(args)
        .args(["-c", "-w"])
        .arg(list);
    let out = run_in(cmd, root);
    let err = show(&out.stderr);
    let err = match tool {
        Some(tool) => err.replace(&format!("{tool}:"), "md5pipe:"),
        None => err,
    };
    (out.status.code(), format!("{}--\n{err}", show(&out.stdout)))
}

/// `-w` names the algorithm as the tool md5pipe stands in for does:
/// `-a sha256` as sha256sum (`improperly formatted SHA256 checksum
/// line`), a list read without `-a` as cksum's auto-detection (the last
/// properly formatted line's algorithm), BLAKE3 by its tag.
#[test]
fn warnings_name_the_algorithm_as_its_tool_does() {
    let dir = tree();
    let root = dir.path();
    let files = regular_files(root);
    let lists = open_tempdir();
    for algorithm in ["md5", "sha1", "sha256", "sha512"] {
        let tool = format!("{algorithm}sum");
        let plain = lists.path().join(algorithm);
        fs::write(&plain, with_junk(&tool_of(&tool, root, &[], &files))).unwrap();
        let want = check_w(Some(&tool), &[], &plain, root);
        assert!(want.1.contains("improperly formatted"), "{want:?}");
        assert_eq!(check_w(None, &["-a", algorithm], &plain, root), want);
        assert_eq!(check_w(None, &[], &plain, root), want, "{algorithm}");

        let tagged = lists.path().join(format!("{algorithm}.tag"));
        let cksum = tool_of("cksum", root, &["-a", algorithm], &files);
        fs::write(&tagged, with_junk(&cksum)).unwrap();
        let want = check_w(Some("cksum"), &[], &tagged, root);
        assert!(want.1.contains("improperly formatted"), "{want:?}");
        assert_eq!(check_w(None, &[], &tagged, root), want, "{algorithm}");
        let want = check_w(Some("cksum"), &["-a", algorithm], &tagged, root);
        assert_eq!(check_w(None, &["-a", algorithm], &tagged, root), want);
    }
    // A junk line before any other: md5sum's word, as cksum says its
    // default's (CRC); after lines of another algorithm, theirs.
    let mixed = lists.path().join("mixed");
    let sha1 = tool_of("sha1sum", root, &[], &files);
    fs::write(&mixed, [&b"junk\n"[..], &sha1, b"junk\n"].concat()).unwrap();
    let (_, got) = check_w(None, &[], &mixed, root);
    let mixed = show(mixed.as_os_str().as_bytes());
    assert!(
        got.contains(&format!(
            "{mixed}: 1: improperly formatted MD5 checksum line\n"
        )),
        "{got}"
    );
    let last = files.len() + 2;
    assert!(
        got.contains(&format!(
            "{mixed}: {last}: improperly formatted SHA1 checksum line\n"
        )),
        "{got}"
    );

    // b3sum has no -w: BLAKE3 is named by the tag md5pipe --tag writes.
    if Command::new("b3sum").arg("--version").output().is_err() {
        eprintln!("b3sum is not installed (it has no -w to compare with anyway)");
    }
    let b3 = lists.path().join("b3");
    fs::write(&b3, with_junk(&ours(root, &["-a", "blake3", "."]))).unwrap();
    let (status, got) = check_w(None, &["-a", "blake3"], &b3, root);
    assert_eq!(status, Some(0), "{got}");
    let b3 = show(b3.as_os_str().as_bytes());
    for line in [2, files.len() + 2] {
        let want = format!("md5pipe: {b3}: {line}: improperly formatted BLAKE3 checksum line\n");
        assert!(got.contains(&want), "{got}");
    }
}
