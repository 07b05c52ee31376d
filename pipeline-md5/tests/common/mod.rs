//! Helpers for the library's integration tests: building trees, and GNU
//! md5sum (the oracle). md5pipe's tests use them too (its `tests/common`
//! includes this file), beside the ones that run the binary.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// GNU md5sum, in a fixed locale.
pub fn md5sum() -> Command {
    let mut cmd = Command::new("md5sum");
    cmd.env("LC_ALL", "C.UTF-8").stdin(Stdio::null());
    cmd
}

/// Runs `cmd` in `dir` and returns its output.
pub fn run_in(mut cmd: Command, dir: &Path) -> Output {
    cmd.current_dir(dir).output().expect("the command starts")
}

/// A path from raw bytes.
pub fn raw(name: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(name.to_vec()))
}

/// Writes `content` at `root/rel`, making parent directories.
pub fn file(root: &Path, rel: &[u8], content: &[u8]) {
    let path = root.join(raw(rel));
    fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

/// Makes a FIFO at `path`.
pub fn fifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// A temporary directory that other users can enter and read.
pub fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("md5pipe-test")
        .tempdir_in("/tmp")
        .expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// Every regular file below `dir`, not following symlinks, as paths
/// relative to `dir`, sorted by their bytes: what md5pipe must list.
pub fn regular_files(dir: &Path) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, rel: &[u8], out: &mut Vec<Vec<u8>>) {
        for entry in fs::read_dir(dir).expect("readable") {
            let entry = entry.expect("entry");
            let name = entry.file_name();
            let sub = if rel.is_empty() {
                name.as_bytes().to_vec()
            } else {
                [rel, b"/", name.as_bytes()].concat()
            };
            let meta = fs::symlink_metadata(entry.path()).expect("lstat");
            if meta.is_dir() {
                walk(&entry.path(), &sub, out);
            } else if meta.is_file() {
                out.push(sub);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, b"", &mut out);
    out.sort();
    out
}

/// What `md5sum [ARGS] -- FILES...` prints, run in `dir`.
pub fn md5sum_of(dir: &Path, args: &[&str], files: &[Vec<u8>]) -> Vec<u8> {
    let mut cmd = md5sum();
    cmd.args(args).arg("--");
    cmd.args(files.iter().map(|f| OsStr::from_bytes(f)));
    let out = run_in(cmd, dir);
    assert!(out.status.success(), "md5sum failed: {out:?}");
    out.stdout
}

/// Text for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tree with every name md5sum escapes or that looks like syntax, the
/// order traps, empty files and a deep path; returns the directory.
pub fn tricky_tree() -> tempfile::TempDir {
    let dir = open_tempdir();
    let root = dir.path();
    let names: &[&[u8]] = &[
        b"a-b",
        b"a.b",
        b"a/x",
        b"a/y/z",
        b"a0",
        b"p/a",
        b"p/a-b",
        b"p/a.b",
        b"p/a0",
        b"back\\slash",
        b"new\nline",
        b"carriage\rreturn",
        b"all\\three\n\r",
        b"\xff\xfe not utf-8",
        b"-leading-dash",
        b"--",
        b"sp ace",
        b" lead",
        b"trail ",
        b"tab\there",
        b"(par) = en",
        b"*star",
        b"B",
        b"\xc3\xa9t\xc3\xa9",
        b"dir with space/f",
    ];
    for (i, name) in names.iter().enumerate() {
        file(root, name, format!("content {i}\n").as_bytes());
    }
    file(root, b"empty", b"");
    file(root, b"e/mpty", b"");
    let deep: Vec<u8> = (0..60).flat_map(|_| b"d/".iter().copied()).collect();
    file(root, &[&deep[..], b"deep"].concat(), b"deep");
    dir
}

/// xorshift64*: small, seedable, deterministic, good enough to pick the
/// fuzzers' cases without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `true` in `percent` cases out of 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}
