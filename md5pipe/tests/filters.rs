//! `--exclude`, `--include`, `--max-depth` and `--ignore-vcs` against the
//! tools that define them: `find` (`-name ... -prune`, `-maxdepth`) and
//! `git ls-files --exclude-standard`, on seeded random trees.
//! `MD5PIPE_FUZZ_CASES` and `MD5PIPE_FUZZ_SEED` run them longer by hand.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

/// The names md5pipe digests below `t` with `args`, sorted.
fn ours(dir: &Path, args: &[&str]) -> Vec<String> {
    let mut cmd = md5pipe();
    cmd.args(args).arg("t");
    let out = run_in(cmd, dir);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let mut names: Vec<String> = show(&out.stdout)
        .lines()
        .map(|l| l[34..].to_owned())
        .collect();
    names.sort();
    names
}

/// What `program args` prints, a name a line, sorted.
fn theirs(dir: &Path, program: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        show(&out.stderr)
    );
    let mut names: Vec<String> = show(&out.stdout).lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// The files git lists below `t` in `dir` (`git ls-files -co
/// --exclude-standard`, the tree made a repository for a moment), as
/// `t/...`, sorted; `None` without git. No user's or system's excludes
/// are read: the tree's `.gitignore` files only.
fn git_lists(dir: &Path) -> Option<Vec<String>> {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir.join("t"))
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
        .filter(|n| !n.contains("/.git/"))
        .collect();
    names.sort();
    Some(names)
}

fn random_tree(rng: &mut Rng) -> tempfile::TempDir {
    let dir = open_tempdir();
    let parts = ["a", "b.tmp", "c.rs", ".git", "build", "x.log", "d", "n m"];
    for i in 0..20 + rng.below(40) {
        let depth = 1 + rng.below(4);
        let mut path = dir.path().join("t");
        for _ in 1..depth {
            path.push(rng.pick(&parts));
        }
        path.push(format!("{}{i}", rng.pick(&parts)));
        if fs::create_dir_all(path.parent().unwrap()).is_ok() {
            let _ = fs::write(&path, format!("{i}"));
        }
    }
    dir
}

#[test]
fn filters_pick_what_find_and_git_pick() {
    let cases = env_u64("MD5PIPE_FUZZ_CASES", 8);
    let mut rng = Rng(env_u64("MD5PIPE_FUZZ_SEED", 0xf11e_7e55));
    let has_git = Command::new("git").arg("--version").output().is_ok();
    for case in 0..cases {
        let dir = random_tree(&mut rng);
        let d = dir.path();
        // --exclude by name at any depth: find's -name ... -prune.
        let pat = rng.pick(&["*.tmp", ".git", "build", "d", "*.rs"]);
        let want = theirs(
            d,
            "find",
            &["t", "-name", pat, "-prune", "-o", "-type", "f", "-print"],
        );
        assert_eq!(
            ours(d, &["--exclude", pat]),
            want,
            "case {case}: --exclude {pat}"
        );
        // --include: find's -name on files.
        let pat = rng.pick(&["*.rs", "a*", "*.log"]);
        let want = theirs(d, "find", &["t", "-type", "f", "-name", pat]);
        assert_eq!(
            ours(d, &["--include", pat]),
            want,
            "case {case}: --include {pat}"
        );
        // --max-depth: find's -maxdepth.
        let depth = 1 + rng.below(3);
        let n = depth.to_string();
        let want = theirs(d, "find", &["t", "-maxdepth", &n, "-type", "f"]);
        assert_eq!(
            ours(d, &["--max-depth", &n]),
            want,
            "case {case}: --max-depth {n}"
        );
        // --ignore-vcs: what git would track, with .gitignore files here
        // and there.
        if has_git {
            let dirs = theirs(d, "find", &["t", "-type", "d", "-not", "-path", "*/.git*"]);
            for sub in &dirs {
                if !rng.chance(40) {
                    continue;
                }
                let rules = rng.pick(&["*.log\n", "build/\n", "/a*\n!a1*\n", "c.rs*\n", "n m*\n"]);
                fs::write(d.join(sub).join(".gitignore"), rules).unwrap();
            }
            let want = git_lists(d).expect("git ran before");
            assert_eq!(
                ours(d, &["--ignore-vcs"]),
                want,
                "case {case}: --ignore-vcs"
            );
        }
    }
}

#[test]
fn filters_are_refused_in_check_mode() {
    let dir = open_tempdir();
    let mut cmd = md5pipe();
    cmd.args(["-c", "--exclude", "x", "list"]);
    assert_eq!(run_in(cmd, dir.path()).status.code(), Some(2));
}

/// `*/` (or `**/`) in a `.gitignore` ignores the directories below the
/// one it is in, not that directory itself: git lists the files beside
/// the `.gitignore` (`t/.gitignore` and `t/top`; with it in `t/x`, also
/// `t/x/.gitignore` and `t/x/f`). md5pipe applied the pattern to the
/// directory holding the `.gitignore` (even to the PATH, which is never
/// filtered): those files were dropped silently, status 0.
#[test]
fn a_gitignore_of_star_slash_ignores_the_directories_below_it_not_its_own() {
    for (at, rules) in [("t", "*/\n"), ("t", "**/\n"), ("t/x", "*/\n")] {
        let dir = open_tempdir();
        let d = dir.path();
        file(d, b"t/top", b"top\n");
        file(d, b"t/x/f", b"f\n");
        file(d, b"t/x/y/g", b"g\n");
        fs::write(d.join(at).join(".gitignore"), rules).unwrap();
        let Some(want) = git_lists(d) else {
            eprintln!("skipped: no git");
            return;
        };
        assert!(
            !want.is_empty(),
            "{at}/.gitignore {rules:?}: git lists files"
        );
        assert_eq!(
            ours(d, &["--ignore-vcs"]),
            want,
            "{at}/.gitignore {rules:?}"
        );
    }
}

// A differential fuzzer of `--ignore-vcs` alone: random trees with random
// `.gitignore` files in random directories, from a small alphabet of
// names and patterns so that they match often (stars, double stars, `?`,
// classes, anchors, directory-only patterns, negations), against git.
// A failure prints the seed, the case and the `.gitignore` files.

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
            ours(dir.path(), &["--ignore-vcs"]),
            want,
            "seed {seed:#x}, case {case}; .gitignore files: {ignores:#?}"
        );
    }
}
