//! `md5pipe --tree-digest`: the MD5 of the md5sum lines of a tree's files,
//! names relative to the tree, in bytewise order: checked against md5sum
//! run twice (once over the files, once over its own output).

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::*;

/// md5sum of `bytes`, as `HEX`.
fn md5sum_bytes(bytes: &[u8]) -> String {
    let mut child = md5sum()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    show(&out.stdout)[..32].to_owned()
}

/// The tree digest as md5sum computes it: its lines for the files below
/// `root`, names relative to it, sorted; then the MD5 of those lines.
fn oracle(root: &Path) -> String {
    let mut names = regular_files(root);
    names.sort();
    md5sum_bytes(&md5sum_of(root, &[], &names))
}

fn tree_digest(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = md5pipe();
    cmd.arg("--tree-digest").args(args);
    run_in(cmd, dir)
}

#[test]
fn the_digest_is_md5sum_over_md5sums_lines_wherever_the_tree_is() {
    let tree = tricky_tree();
    let want = oracle(tree.path());
    let parent = tree.path().parent().unwrap();
    let name = tree.path().file_name().unwrap().to_str().unwrap();
    let out = tree_digest(parent, &[name]);
    assert_eq!(show(&out.stdout), format!("{want}  {name}\n"));
    assert_eq!(out.status.code(), Some(0));
    let inside = tree_digest(tree.path(), &[]);
    assert_eq!(show(&inside.stdout), format!("{want}  .\n"));
    // A copy elsewhere, under another name and through an odd spelling
    // of its path, has the same digest.
    let other = open_tempdir();
    let status = std::process::Command::new("cp")
        .args(["-a", &format!("{}/.", tree.path().display())])
        .arg(other.path().join("copy"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = tree_digest(other.path(), &["./copy//"]);
    assert_eq!(show(&out.stdout), format!("{want}  ./copy//\n"));
}

#[test]
fn contents_and_names_change_it_times_do_not() {
    let dir = open_tempdir();
    file(dir.path(), b"t/a", b"a");
    file(dir.path(), b"t/d/b", b"b");
    let first = show(&tree_digest(dir.path(), &["t"]).stdout);
    let now = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(dir.path().join("t/a"))
        .unwrap()
        .set_modified(now)
        .unwrap();
    assert_eq!(show(&tree_digest(dir.path(), &["t"]).stdout), first);
    fs::rename(dir.path().join("t/a"), dir.path().join("t/c")).unwrap();
    let renamed = show(&tree_digest(dir.path(), &["t"]).stdout);
    assert_ne!(renamed, first);
    assert_eq!(renamed[..32], oracle(&dir.path().join("t")));
    fs::write(dir.path().join("t/c"), b"A").unwrap();
    let edited = show(&tree_digest(dir.path(), &["t"]).stdout);
    assert_ne!(edited, renamed);
    assert_eq!(edited[..32], oracle(&dir.path().join("t")));
}

#[test]
fn a_root_with_an_error_gets_no_line_and_the_others_do() {
    let dir = open_tempdir();
    file(dir.path(), b"t/a", b"a");
    file(dir.path(), b"f", b"f");
    let out = tree_digest(dir.path(), &["t", "missing", "f", "--tag"]);
    let want_t = oracle(&dir.path().join("t"));
    let want_f = md5sum_bytes(&md5sum_of(dir.path(), &[], &[b"f".to_vec()]));
    assert_eq!(
        show(&out.stdout),
        format!("MD5 (t) = {want_t}\nMD5 (f) = {want_f}\n")
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        show(&out.stderr),
        "md5pipe: missing: No such file or directory\n"
    );
}
