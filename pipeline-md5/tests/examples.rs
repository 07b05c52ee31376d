//! The md5 examples print what the article's Go programs print, byte for
//! byte. The Go programs are the anchors built into /tmp/anchors by
//! scripts/anchors.sh; the examples are built by `cargo test --workspace`
//! (or `cargo build --examples`). The test is skipped when either is
//! missing.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// Where cargo puts the examples of this build: beside `deps/`.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.is_file().then_some(path)
}

#[test]
fn md5_examples_print_what_the_go_programs_print() {
    let dir = tricky_tree();
    fifo(&dir.path().join("fifo"));
    let mut compared = 0;
    for name in ["serial", "parallel", "bounded"] {
        let go = PathBuf::from("/tmp/anchors").join(name);
        let (Some(ours), true) = (example(&format!("md5_{name}")), go.is_file()) else {
            eprintln!(
                "skipped md5_{name}: the example or {} is not built",
                go.display()
            );
            continue;
        };
        for root in [&dir.path().to_string_lossy()[..], "."] {
            let theirs = Command::new(&go)
                .arg(root)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let ours = Command::new(&ours)
                .arg(root)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(theirs.status.success() && ours.status.success(), "{name}");
            assert!(!theirs.stdout.is_empty(), "{name}");
            assert_eq!(show(&ours.stdout), show(&theirs.stdout), "{name} {root}");
            assert_eq!(ours.stdout, theirs.stdout, "{name} {root}");
        }
        compared += 1;
    }
    eprintln!("compared {compared} of 3 examples with the Go programs");
}
