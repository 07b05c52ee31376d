//! `md5pipe --tree-digest PATH...`: one digest per tree.
//!
//! The tree digest of PATH is the MD5 of exactly the bytes `md5pipe .`
//! prints when run inside PATH: one md5sum line (`HEX  NAME`, LF-ended) per
//! regular file, NAME relative to PATH with `/` between its parts and
//! escaped as md5sum escapes names, the lines in the bytewise order of the
//! names. So it does not depend on where the tree is or on the machine, and
//! standard tools reproduce it: `cd PATH && find . -type f | sed 's|^\./||'
//! | LC_ALL=C sort | xargs -d '\n' md5sum | md5sum` for names without
//! newlines. A file PATH counts as a tree of one file named by its last
//! part. With `-a ALGORITHM` the lines and the tree digest are of that
//! algorithm (`sha256sum` for `md5sum` above).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::bar::Bar;
use super::digest::{message, DigestCommand};
use super::output::{Lines, WriteFailed};
use super::{final_status, Interrupts};
use pipeline_md5::escape::format_line_of;
use pipeline_md5::walk::clean;
use pipeline_md5::{digest_tree, Progress};

/// Runs `--tree-digest`: a line per root, `HEX  PATH` (or `MD5 (PATH) =
/// HEX` with `--tag`); a root with an unreadable file gets no line, its
/// errors go to stderr and the exit status is 1.
pub fn run_tree_digest(cmd: &DigestCommand, interrupts: &Interrupts) -> i32 {
    let roots = if cmd.roots.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        cmd.roots.clone()
    };
    let mut out = Lines::new();
    let mut bar = Bar::start(std::sync::Arc::new(Progress::default()), false);
    let mut failed = false;
    let mut stats = None;
    for root in &roots {
        let options = cmd.common.options.clone().fail_fast(false);
        let mut run = match digest_tree(vec![root.clone()], &options) {
            Ok(run) => run,
            Err(err) => return super::cache::not_started(&err),
        };
        interrupts.watch(run.cancel_signal());
        out.cancel_when_closed(run.cancel_signal());
        bar = Bar::start(run.progress(), cmd.common.progress);
        let prefix = prefix_of(root);
        let algorithm = cmd.common.options.algorithm;
        let mut hasher = algorithm.hasher();
        let mut complete = true;
        for item in &mut run {
            match item {
                Ok(d) => {
                    let shown = d.path.as_os_str().as_bytes();
                    let name = relative(shown, &prefix);
                    hasher.update(&format_line_of(algorithm, &d.hex(), name, false, false));
                }
                Err(err) if err.is_cancelled() => {
                    complete = false;
                    failed |= super::stopped_unasked(interrupts, out.is_closed(), &bar);
                    break;
                }
                Err(err) => {
                    complete = false;
                    failed = true;
                    bar.warn(&message(&err));
                }
            }
        }
        run.cancel_signal().cancel();
        failed |= super::cache::keep(&mut run, cmd.common.stats, &bar);
        stats = Some(run.stats());
        drop(run);
        if interrupts.exit_status().is_some() {
            break;
        }
        if complete {
            let hex = hasher.finalize().hex();
            let path = root.as_os_str().as_bytes();
            let line = format_line_of(algorithm, &hex, path, cmd.zero, cmd.tag);
            match bar.suspend(|| out.line(&line)) {
                Ok(()) => {}
                Err(WriteFailed::Closed) => break,
                Err(WriteFailed::Other(reason)) => {
                    bar.warn(format!("write error: {reason}").as_bytes());
                    failed = true;
                    break;
                }
            }
        }
    }
    final_status(
        interrupts,
        &mut out,
        Ok(()),
        failed,
        stats
            .as_ref()
            .filter(|_| cmd.common.stats)
            .map(|stats| (stats, super::engine_in_use(&cmd.common.options))),
        &mut bar,
    )
}

/// What the walk puts before a file's name below `root`: the cleaned root
/// and a `/` (nothing for `.`; `/` for `/`).
fn prefix_of(root: &Path) -> Vec<u8> {
    let clean = clean(root.as_os_str().as_bytes());
    match clean.as_slice() {
        b"." => Vec::new(),
        b"/" => b"/".to_vec(),
        _ => [clean.as_slice(), b"/"].concat(),
    }
}

/// The name of a file below `root` relative to it; a root that is a file
/// is named by its last part.
fn relative<'a>(shown: &'a [u8], prefix: &[u8]) -> &'a [u8] {
    match shown.strip_prefix(prefix) {
        Some(name) if !name.is_empty() => name,
        _ => shown.rsplit(|&b| b == b'/').next().unwrap_or(shown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_root_as_the_walk_shows_them() {
        let cases: [(&str, &str, &str); 6] = [
            (".", "a/b", "a/b"),
            ("./", "a", "a"),
            ("t", "t/a", "a"),
            ("t//sub/", "t/sub/x/y", "x/y"),
            ("/", "/etc/x", "etc/x"),
            ("t/f", "t/f", "f"),
        ];
        for (root, shown, want) in cases {
            let root = Path::new(root);
            let got = relative(shown.as_bytes(), &prefix_of(root));
            assert_eq!(got, want.as_bytes(), "{root:?} {shown}");
        }
    }
}
