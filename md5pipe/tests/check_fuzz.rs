//! A differential fuzzer: random and mutated check lists (NUL, CR, BOM,
//! escapes, BSD lines, bad hex, comments, blanks) go through `md5pipe -c`
//! and `md5sum -c` with random flags, and stdout, stderr (but for the
//! program's name) and the exit status must be the same.
//!
//! The seed is fixed and the budget small, so the suite stays quick and
//! repeatable. Run it longer by hand:
//!
//!     MD5PIPE_FUZZ_CASES=20000 MD5PIPE_FUZZ_SEED=7 \
//!         cargo test -p md5pipe --test check_fuzz
//!
//! A failure prints the seed, the case number, the flags and the list.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

/// Cases run by default.
const CASES: u64 = 150;
/// The seed used by default.
const SEED: u64 = 0x5eed_15c4;

/// Files in the fuzzed directory: names chosen to hit md5sum's escapes.
const FILES: &[(&[u8], &[u8])] = &[
    (b"a", b"alpha"),
    (b"b c", b"with a space"),
    (b"back\\slash", b"backslash"),
    (b"new\nline", b"newline"),
    (b"cr\r", b"carriage return"),
    (b"cr", b"sibling of cr\\r"),
    (b" lead", b"leading space"),
    (b"*star", b"star"),
    (b"p)q", b"paren"),
    (b"\xef\xbb\xbfbom", b"byte order mark"),
    (b"\xff", b"not utf-8"),
    (b"-", b"a file named dash"),
];

/// Names a line may carry: present, missing, and a directory.
const NAMES: &[&[u8]] = &[
    b"a",
    b"b c",
    b"back\\slash",
    b"new\nline",
    b"cr\r",
    b"cr",
    b" lead",
    b"*star",
    b"p)q",
    b"\xef\xbb\xbfbom",
    b"\xff",
    b"missing",
    b"sub",
    b"a\0b",
    b"-",
];

fn md5_hex(content: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(content)
        .expect("write");
    let out = child.wait_with_output().expect("md5sum ends");
    String::from_utf8_lossy(&out.stdout[..32]).into_owned()
}

/// The digest a line names: right, wrong, odd case or malformed.
fn digest(rng: &mut Rng, name: &[u8], sums: &[(Vec<u8>, String)]) -> Vec<u8> {
    let right = sums.iter().find(|(n, _)| n == name).map_or_else(
        || "d41d8cd98f00b204e9800998ecf8427e".to_string(),
        |s| s.1.clone(),
    );
    let hex = match rng.below(10) {
        0 => "0".repeat(32),
        1 => right.to_uppercase(),
        2 => right[..31].to_string(),
        3 => format!("{right}0"),
        4 => format!("{}g", &right[..31]),
        _ => right,
    };
    hex.into_bytes()
}

/// md5sum's escaping of a name for a line that starts with `\`.
fn escape(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in name {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out
}

/// One line, well formed or nearly.
fn line(rng: &mut Rng, sums: &[(Vec<u8>, String)]) -> Vec<u8> {
    let name = rng.pick(NAMES);
    let hex = digest(rng, name, sums);
    let escaped = rng.chance(30);
    let shown = if escaped { escape(name) } else { name.to_vec() };
    let mut out = Vec::new();
    if rng.chance(10) {
        out.extend_from_slice(rng.pick(&[&b" "[..], b"\t", b"  "]));
    }
    if escaped {
        out.push(b'\\');
    }
    match rng.below(10) {
        0..=1 => {
            out.extend_from_slice(rng.pick(&[&b"MD5 ("[..], b"MD5(", b"MD5  (", b"md5 ("]));
            out.extend_from_slice(&shown);
            out.extend_from_slice(rng.pick(&[&b") = "[..], b")=", b") =\t", b" = "]));
            out.extend_from_slice(&hex);
        }
        2 => {
            out.extend_from_slice(&hex);
            out.push(b' ');
            out.extend_from_slice(&shown);
        }
        _ => {
            out.extend_from_slice(&hex);
            out.extend_from_slice(rng.pick(&[&b"  "[..], b" *", b"\t ", b"\0 ", b"  "]));
            out.extend_from_slice(&shown);
        }
    }
    match rng.below(12) {
        0 => out.push(b'\r'),
        1 => out.extend_from_slice(b"\0junk"),
        2 => out.push(b' '),
        _ => {}
    }
    out
}

/// Bytes a mutation inserts: the ones md5sum's parser looks at.
const SPICE: &[&[u8]] = &[
    b"\0",
    b"\r",
    b"\n",
    b"\\",
    b" ",
    b"\t",
    b"*",
    b"(",
    b")",
    b"=",
    b"#",
    b"MD5",
    b"a",
    b"0",
    b"\xef\xbb\xbf",
    b"\\n",
    b"\\r",
    b"\\\\",
];

fn mutate(rng: &mut Rng, list: &mut Vec<u8>) {
    for _ in 0..rng.below(4) {
        let at = rng.below(list.len() + 1);
        match rng.below(3) {
            0 if at < list.len() => {
                list.remove(at);
            }
            1 if at < list.len() => {
                list[at] = rng.pick(SPICE)[0];
            }
            _ => {
                let spice = rng.pick(SPICE);
                list.splice(at..at, spice.iter().copied());
            }
        }
    }
}

fn list(rng: &mut Rng, sums: &[(Vec<u8>, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    if rng.chance(5) {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    for _ in 0..1 + rng.below(6) {
        match rng.below(20) {
            0 => out.extend_from_slice(b"# a comment"),
            1 => {}
            2 => out.extend_from_slice(b"junk"),
            _ => out.extend(line(rng, sums)),
        }
        out.push(b'\n');
    }
    if rng.chance(15) {
        out.pop();
    }
    if rng.chance(40) {
        mutate(rng, &mut out);
    }
    out
}

fn run(mut cmd: Command, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = cmd
        .arg("-c")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut input = child.stdin.take().expect("piped");
    // A list naming `-` twice or a short read may leave input unread.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("ends")
}

/// md5pipe's messages with md5sum's program name.
fn renamed(stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stderr.len());
    let mut rest = stderr;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix(b"md5pipe:") {
            out.extend_from_slice(b"md5sum:");
            rest = tail;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[test]
fn check_lists_fuzzed_against_md5sum() {
    let cases = env_u64("MD5PIPE_FUZZ_CASES", CASES);
    let seed = env_u64("MD5PIPE_FUZZ_SEED", SEED);
    let dir = open_tempdir();
    for (name, content) in FILES {
        file(dir.path(), name, content);
    }
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let sums: Vec<(Vec<u8>, String)> = FILES
        .iter()
        .map(|(n, c)| (n.to_vec(), md5_hex(c)))
        .collect();
    let flags: &[&[&str]] = &[
        &[],
        &["-w"],
        &["--strict"],
        &["--quiet"],
        &["--status"],
        &["--ignore-missing"],
        &["-w", "--strict", "--ignore-missing"],
    ];
    let mut rng = Rng(seed | 1);
    for case in 0..cases {
        let list = list(&mut rng, &sums);
        let args = rng.pick(flags);
        let on_stdin = rng.chance(25);
        fs::write(dir.path().join("list"), &list).expect("write list");
        let mut all: Vec<&str> = args.to_vec();
        all.push(if on_stdin { "-" } else { "list" });
        let stdin: &[u8] = if on_stdin { &list } else { b"standard input" };
        let ours = run(md5pipe(), dir.path(), &all, stdin);
        let theirs = run(md5sum(), dir.path(), &all, stdin);
        let context = format!(
            "seed {seed} case {case}, args {all:?}, list {:?}",
            show(&list)
        );
        assert!(
            ours.stdout == theirs.stdout,
            "stdout, {context}:\n{:?}\nvs md5sum's\n{:?}",
            show(&ours.stdout),
            show(&theirs.stdout)
        );
        let stderr = renamed(&ours.stderr);
        assert!(
            stderr == theirs.stderr,
            "stderr, {context}:\n{}\nvs md5sum's\n{}",
            show(&stderr),
            show(&theirs.stderr)
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "status, {context}"
        );
    }
}
