//! A differential fuzzer of `--ignore-vcs`: random trees with random
//! `.gitignore` files in random directories, md5pipe's files against the
//! files git lists (`git ls-files -co --exclude-standard`) in the same
//! tree made a repository for a moment. The names and patterns come from
//! a small alphabet, so that patterns match often: stars, double stars,
//! `?`, classes, anchors, directory-only patterns and negations.
//!
//! A fixed seed and a small budget by default; run longer by hand with
//! `MD5PIPE_FUZZ_CASES=500 MD5PIPE_FUZZ_SEED=7 cargo test -p md5pipe
//! --test fuzz_gitignore`. A failure prints the seed, the case and the
//! `.gitignore` files to replay it.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

const NAMES: &[&str] = &["a", "b", "ab", "x.t", "y.t", ".h", "d", "dd"];

/// One pattern: one to three parts joined by `/`, each a name, a star,
/// a double star, a `?` or a class; anchored, directory-only or negated
/// at random.
fn pattern(rng: &mut Rng) -> String {
    const PARTS: &[&str] = &[
        "a", "b", "ab", "d", "dd", "*", "**", "*.t", "?", "a*", "[ab]", "d*", ".h",
    ];
    let parts: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(PARTS)).collect();
    let mut p = parts.join("/");
    if rng.chance(20) {
        p.insert(0, '/');
    }
    if rng.chance(25) {
        p.push('/');
    }
    if rng.chance(20) {
        p.insert(0, '!');
    }
    p
}

/// Fills `dir` with files and directories from [`NAMES`], and now and
/// then a `.gitignore`; returns the `.gitignore` files written.
fn grow(rng: &mut Rng, root: &Path, rel: &str, depth: u32, ignores: &mut Vec<String>) {
    let dir = root.join(rel);
    fs::create_dir_all(&dir).unwrap();
    if rng.chance(45) {
        let rules: Vec<String> = (0..1 + rng.below(3)).map(|_| pattern(rng)).collect();
        let text = rules.join("\n") + "\n";
        fs::write(dir.join(".gitignore"), &text).unwrap();
        ignores.push(format!("{rel}/.gitignore: {text:?}"));
    }
    for name in NAMES {
        if !rng.chance(45) {
            continue;
        }
        let child = format!("{rel}/{name}");
        if depth < 3 && rng.chance(40) {
            grow(rng, root, &child, depth + 1, ignores);
        } else {
            fs::write(root.join(&child), name).unwrap();
        }
    }
}

/// The files git lists below `t`, as `t/...`, sorted; `None` without git.
fn git_lists(dir: &Path) -> Option<Vec<String>> {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir.join("t"))
            // No user's or system's excludes: the tree's files only.
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .output()
            .ok()?;
        assert!(out.status.success(), "git {args:?}: {}", show(&out.stderr));
        Some(out.stdout)
    };
    git(&["init", "-q", "--template="])?;
    let listed = git(&["ls-files", "-co", "--exclude-standard", "-z"])?;
    fs::remove_dir_all(dir.join("t/.git")).unwrap();
    let mut names: Vec<String> = listed
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| format!("t/{}", show(n)))
        .collect();
    names.sort();
    Some(names)
}

/// The files `md5pipe --ignore-vcs t` digests, sorted.
fn md5pipe_lists(dir: &Path) -> Vec<String> {
    let mut cmd = md5pipe();
    cmd.args(["--ignore-vcs", "t"]);
    let out = run_in(cmd, dir);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let mut names: Vec<String> = show(&out.stdout)
        .lines()
        .map(|l| l[34..].to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn ignore_vcs_keeps_the_files_git_lists() {
    let seed = env_u64("MD5PIPE_FUZZ_SEED", 0x5eed_0917);
    let cases = env_u64("MD5PIPE_FUZZ_CASES", 40);
    let mut rng = Rng(seed);
    for case in 0..cases {
        let dir = open_tempdir();
        let mut ignores = Vec::new();
        grow(&mut rng, dir.path(), "t", 0, &mut ignores);
        let Some(want) = git_lists(dir.path()) else {
            eprintln!("skipped: no git");
            return;
        };
        assert_eq!(
            md5pipe_lists(dir.path()),
            want,
            "seed {seed:#x}, case {case}; .gitignore files: {ignores:#?}"
        );
    }
}
