//! Helpers for md5pipe's integration tests: building trees, running the
//! binary and GNU md5sum (the oracle), and running as an unprivileged user.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The md5pipe binary under test.
pub fn md5pipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_md5pipe"));
    cmd.env("LC_ALL", "C.UTF-8").stdin(Stdio::null());
    cmd
}

/// GNU md5sum, in the same locale.
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

/// A command that runs `program` as the unprivileged user `nobody`
/// (uid and gid 65534, no supplementary groups), through `setpriv`.
pub fn as_nobody(program: &OsStr) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null());
    cmd
}

/// Whether this process runs as root (then permissions do not bind it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
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

/// The number in environment variable `name`, or `default` (the fuzzers'
/// `MD5PIPE_FUZZ_CASES` and `MD5PIPE_FUZZ_SEED`).
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

/// The smallest `ulimit -v` (KiB, in steps of 1000) under which the
/// md5pipe binary loads and runs `--version`. Below it the dynamic loader
/// fails before any of md5pipe's code runs (a debug binary maps ~90 MB),
/// so memory sweeps start here rather than at a fixed figure that a larger
/// build would fall under.
#[allow(dead_code)]
pub fn smallest_loading_limit_kib() -> u64 {
    let bin = env!("CARGO_BIN_EXE_md5pipe");
    (4_000..=200_000)
        .step_by(1_000)
        .find(|kib| {
            Command::new("sh")
                .args([
                    "-c",
                    &format!(r#"ulimit -v {kib}; exec "$0" --version"#),
                    bin,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("md5pipe --version must run under some limit up to 200 MB")
}

/// Sends `sig` to `child`.
pub fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Whether `pid` holds a descriptor open on `path`.
pub fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Bytes the process has read so far (`rchar` of /proc/PID/io). The
/// dynamic loader's reads count too: wait for [`catches`] before taking a
/// baseline.
pub fn bytes_read(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Whether `pid` has installed a handler for `sig` (its bit in `SigCgt`
/// of /proc/PID/status): before that, a signal takes its default action.
pub fn catches(pid: u32, sig: libc::c_int) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// "Go on" for an md5pipe paused at `MD5PIPE_TEST_PAUSE_FIFO` (see
/// pipeline-md5/src/pause.rs): one byte written into the FIFO. Keep the
/// returned end open until the child has been waited for: closed early,
/// the byte would be lost if md5pipe had not opened the FIFO yet.
pub fn go_on(handshake: &Path) -> fs::File {
    use std::io::Write;
    let mut go = fs::File::create(handshake).expect("open the handshake FIFO");
    go.write_all(b"g").expect("write to the handshake FIFO");
    go
}
