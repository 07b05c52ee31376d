//! `--json`: every line is a JSON object; digests and sizes agree with
//! md5sum and the file system on random trees; names that are not UTF-8
//! come back byte for byte from `path_bytes` (decoded by coreutils'
//! `base64 -d`); unreadable files and directories are objects with an
//! `error`, in their place, and the exit status is 1; every object names
//! its algorithm, whose digests agree with sha1sum, sha256sum and
//! sha512sum.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// What one JSON line says, checked for shape: exactly one of `path` and
/// `path_bytes` (the bytes decoded), an `algorithm` always, and `size`
/// and `digest` set exactly when `error` is not.
#[derive(Debug, PartialEq)]
struct Record {
    path: Vec<u8>,
    size: Option<u64>,
    algorithm: String,
    digest: Option<String>,
    error: Option<String>,
}

/// Decodes standard base64 with coreutils' `base64 -d`.
fn base64_decode(text: &str) -> Vec<u8> {
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "base64 -d {text:?}: {out:?}");
    out.stdout
}

/// Parses every line of `stdout`; panics on a line that is not one JSON
/// object of the documented shape.
fn records(stdout: &[u8]) -> Vec<Record> {
    let text = std::str::from_utf8(stdout).expect("JSON output is UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let object = value.as_object().expect("each line is an object");
            for key in object.keys() {
                assert!(
                    ["path", "path_bytes", "size", "algorithm", "digest", "error"]
                        .contains(&key.as_str()),
                    "unknown key {key}: {line}"
                );
            }
            let path = match (object.get("path"), object.get("path_bytes")) {
                (Some(Value::String(p)), None) => p.as_bytes().to_vec(),
                (None, Some(Value::String(b))) => {
                    let bytes = base64_decode(b);
                    assert!(
                        std::str::from_utf8(&bytes).is_err(),
                        "path_bytes only for names that are not UTF-8: {line}"
                    );
                    bytes
                }
                other => panic!("exactly one of path and path_bytes: {other:?} in {line}"),
            };
            let record = Record {
                path,
                size: object["size"].as_u64(),
                algorithm: object["algorithm"]
                    .as_str()
                    .unwrap_or_else(|| panic!("an algorithm on every line: {line}"))
                    .to_owned(),
                digest: object["digest"].as_str().map(str::to_owned),
                error: object["error"].as_str().map(str::to_owned),
            };
            let fine = record.error.is_none();
            assert_eq!(record.size.is_some(), fine, "{line}");
            assert_eq!(record.digest.is_some(), fine, "{line}");
            assert!(object["error"].is_null() || object["error"].is_string());
            record
        })
        .collect()
}

/// `md5sum -z` over `files` (named as md5pipe names them, from `dir`):
/// (name, hex) in order.
fn md5sum_digests(dir: &Path, files: &[Vec<u8>]) -> Vec<(Vec<u8>, String)> {
    if files.is_empty() {
        return Vec::new();
    }
    md5sum_of(dir, &["-z"], files)
        .split(|&b| b == 0)
        .filter(|l| !l.is_empty())
        .map(|l| (l[34..].to_vec(), show(&l[..32])))
        .collect()
}

/// A random name of 1 to 10 bytes, never `.`, `..` or containing NUL or
/// `/`; often bytes that are not UTF-8, JSON's escapes and md5sum's.
fn name(rng: &mut Rng) -> Vec<u8> {
    const SPECIAL: &[u8] = b"\n\r\t\\\"\x08\x0c\x01\x1f\x7f\xff\xfe\xc3\xa9 .aZ";
    loop {
        let len = 1 + rng.below(10);
        let name: Vec<u8> = (0..len)
            .map(|_| match rng.below(3) {
                0 => 1 + rng.below(255) as u8,
                _ => rng.pick(SPECIAL),
            })
            .map(|b| if b == b'/' { b'_' } else { b })
            .collect();
        if name != b"." && name != b".." {
            return name;
        }
    }
}

#[test]
fn every_line_parses_and_agrees_with_md5sum_on_random_trees() {
    let seed = env_u64("MD5PIPE_FUZZ_SEED", 0x150_0e5);
    let mut rng = Rng(seed | 1);
    for case in 0..8 {
        let dir = open_tempdir();
        let root = dir.path();
        for _ in 0..(5 + rng.below(40)) {
            let depth = rng.below(3);
            let mut rel: Vec<u8> = Vec::new();
            for _ in 0..depth {
                rel.extend(name(&mut rng));
                rel.push(b'/');
            }
            rel.extend(name(&mut rng));
            let target = root.join(raw(&rel));
            if target.symlink_metadata().is_ok() || target.ancestors().skip(1).any(|a| a.is_file())
            {
                continue;
            }
            let len = match rng.below(10) {
                0 => 70_000 + rng.below(200_000),
                _ => rng.below(3000),
            };
            let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            file(root, &rel, &body);
        }
        let files = regular_files(root);
        let width = (1 + rng.below(4)).to_string();
        let mut cmd = md5pipe();
        cmd.args(["--json", "-j", &width, "."]);
        let out = run_in(cmd, root);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "case {case}: {out:?}"
        );
        let got = records(&out.stdout);
        let want = md5sum_digests(root, &files);
        assert_eq!(got.len(), want.len(), "case {case}: one line per file");
        for (record, (name, hex)) in got.iter().zip(&want) {
            assert_eq!(
                &record.path, name,
                "case {case}: the order of md5sum's list"
            );
            assert_eq!(record.digest.as_deref(), Some(hex.as_str()), "case {case}");
            let size = fs::metadata(root.join(raw(name))).unwrap().len();
            assert_eq!(record.size, Some(size), "case {case}: {}", show(name));
            assert_eq!(record.error, None);
            assert_eq!(record.algorithm, "md5", "case {case}");
        }
        // The same order as the normal output (unescaped with -z).
        let mut plain = md5pipe();
        plain.args(["-z", "."]);
        let plain = run_in(plain, root);
        let names: Vec<Vec<u8>> = plain
            .stdout
            .split(|&b| b == 0)
            .filter(|l| !l.is_empty())
            .map(|l| l[34..].to_vec())
            .collect();
        let ours: Vec<Vec<u8>> = got.into_iter().map(|r| r.path).collect();
        assert_eq!(ours, names, "case {case}");
    }
}

#[test]
fn names_that_are_not_utf8_round_trip_through_path_bytes() {
    let dir = tricky_tree();
    let root = dir.path();
    let out = run_in(
        {
            let mut cmd = md5pipe();
            cmd.args(["--json", "--mode", "serial", "."]);
            cmd
        },
        root,
    );
    assert!(out.status.success(), "{out:?}");
    let text = show(&out.stdout);
    assert!(text.contains("\"path_bytes\":"), "{text}");
    assert!(text.contains("\"path\":\"new\\nline\""), "{text}");
    let got: Vec<(Vec<u8>, Option<String>)> = records(&out.stdout)
        .into_iter()
        .map(|r| (r.path, r.digest))
        .collect();
    let want: Vec<(Vec<u8>, Option<String>)> = md5sum_digests(root, &regular_files(root))
        .into_iter()
        .map(|(n, h)| (n, Some(h)))
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().any(|(n, _)| n == b"\xff\xfe not utf-8"));
}

/// Unreadable paths are objects with an `error` in their place, nothing
/// goes to stderr, and the status is 1; `--fail-fast` ends after the first.
#[test]
fn unreadable_files_are_error_objects_in_their_place() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let dir = open_tempdir();
    let root = dir.path();
    file(root, b"a", b"a");
    file(root, b"locked \xff", b"secret");
    file(root, b"shut/y", b"y");
    file(root, b"z", b"zz");
    for f in ["a", "z", "shut/y"] {
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let locked = root.join(OsStr::from_bytes(b"locked \xff"));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(root.join("shut"), fs::Permissions::from_mode(0o000)).unwrap();
    let md5 = |body: &[u8]| {
        let files = [b"f".to_vec()];
        let tmp = open_tempdir();
        fs::write(tmp.path().join("f"), body).unwrap();
        md5sum_digests(tmp.path(), &files)[0].1.clone()
    };
    let fine = |path: &[u8], body: &[u8]| Record {
        path: path.to_vec(),
        size: Some(body.len() as u64),
        algorithm: "md5".into(),
        digest: Some(md5(body)),
        error: None,
    };
    let failed = |path: &[u8]| Record {
        path: path.to_vec(),
        size: None,
        algorithm: "md5".into(),
        digest: None,
        error: Some("Permission denied".into()),
    };
    for mode in ["bounded", "parallel", "serial"] {
        let mut cmd = as_nobody(OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
        cmd.args(["--json", "--mode", mode, "."]);
        let out = run_in(cmd, root);
        assert_eq!(out.status.code(), Some(1), "{mode}: {out:?}");
        assert_eq!(show(&out.stderr), "", "{mode}: errors are on stdout");
        assert_eq!(
            records(&out.stdout),
            [
                fine(b"a", b"a"),
                failed(b"locked \xff"),
                failed(b"shut"),
                fine(b"z", b"zz"),
            ],
            "{mode}"
        );
    }
    fs::set_permissions(root.join("shut"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = as_nobody(OsStr::new(env!("CARGO_BIN_EXE_md5pipe")));
    cmd.args(["--json", "--fail-fast", "-j", "1", "."]);
    let out = run_in(cmd, root);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        records(&out.stdout),
        [fine(b"a", b"a"), failed(b"locked \xff")]
    );
}

#[test]
fn json_with_line_format_options_is_a_usage_error() {
    let dir = open_tempdir();
    for other in ["--tag", "-z", "-c", "--tree-digest", "-b", "-t"] {
        let mut cmd = md5pipe();
        cmd.args(["--json", other]);
        let out = run_in(cmd, dir.path());
        assert_eq!(out.status.code(), Some(2), "{other}: {out:?}");
        assert!(show(&out.stderr).contains("--json"), "{other}: {out:?}");
        assert!(out.stdout.is_empty());
    }
}

/// `-a` digests are what coreutils' tools print, and every object, an
/// error's too, names the algorithm as `-a` does.
#[test]
fn each_object_names_its_algorithm() {
    let dir = tricky_tree();
    let root = dir.path();
    let files = regular_files(root);
    for algorithm in ["md5", "sha1", "sha256", "sha512", "blake3"] {
        let mut cmd = md5pipe();
        cmd.args(["--json", "-a", algorithm, ".", "gone"]);
        let out = run_in(cmd, root);
        assert_eq!(out.status.code(), Some(1), "{algorithm}: {out:?}");
        let got = records(&out.stdout);
        assert_eq!(got.len(), files.len() + 1, "{algorithm}");
        assert!(got.iter().all(|r| r.algorithm == algorithm), "{got:?}");
        let last = got.last().unwrap();
        assert_eq!(last.path, b"gone");
        assert_eq!(last.error.as_deref(), Some("No such file or directory"));
        let want: Vec<Option<String>> = match algorithm {
            "blake3" => files
                .iter()
                .map(|f| {
                    Some(
                        blake3::hash(&fs::read(root.join(raw(f))).unwrap())
                            .to_hex()
                            .to_string(),
                    )
                })
                .collect(),
            _ => {
                let mut sum = Command::new(format!("{algorithm}sum"));
                sum.arg("-z")
                    .arg("--")
                    .args(files.iter().map(|f| OsStr::from_bytes(f)));
                let out = run_in(sum, root);
                out.stdout
                    .split(|&b| b == 0)
                    .filter(|l| !l.is_empty())
                    .map(|l| Some(show(&l[..l.iter().position(|&b| b == b' ').unwrap()])))
                    .collect()
            }
        };
        let digests: Vec<Option<String>> = got[..files.len()]
            .iter()
            .map(|r| r.digest.clone())
            .collect();
        assert_eq!(digests, want, "{algorithm}");
    }
}
