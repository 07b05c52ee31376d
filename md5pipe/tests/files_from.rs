//! `--files-from LIST` against md5sum given the same names: the same
//! lines in the list's order, the same messages, the same status; `-0`
//! names with any byte; an endless list read as the run goes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

fn with_stdin(mut cmd: Command, dir: &Path, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn a_list_digests_exactly_its_names_in_order_as_md5sum_does() {
    let mut rng = Rng(env_u64("MD5PIPE_FUZZ_SEED", 0xf1e5));
    let dir = tricky_tree();
    let files = regular_files(dir.path());
    for case in 0..env_u64("MD5PIPE_FUZZ_CASES", 6) {
        // Some names, shuffled, one twice, one missing.
        let mut names: Vec<Vec<u8>> = files.iter().filter(|_| rng.chance(60)).cloned().collect();
        names.push(files[rng.below(files.len())].clone());
        names.insert(rng.below(names.len()), b"no such file".to_vec());
        for i in (1..names.len()).rev() {
            names.swap(i, rng.below(i + 1));
        }
        let list: Vec<u8> = names
            .iter()
            .flat_map(|n| [&n[..], b"\0"].concat())
            .collect();
        let mut ours = md5pipe();
        ours.args(["--files-from", "-", "-0", "-j", "3"]);
        let ours = with_stdin(ours, dir.path(), &list);
        let mut theirs = md5sum();
        theirs.args(["-z", "--files0-from=-"]);
        let theirs = with_stdin(theirs, dir.path(), &list);
        // md5sum -z ends its lines with NUL; ours end with a newline and
        // escape names as md5sum's default does: compare with md5sum's
        // plain lines instead.
        let plain = md5sum_of(
            dir.path(),
            &[],
            &names
                .iter()
                .filter(|n| n.as_slice() != b"no such file")
                .cloned()
                .collect::<Vec<_>>(),
        );
        assert_eq!(show(&ours.stdout), show(&plain), "case {case}");
        assert_eq!(ours.status.code(), Some(1), "case {case}");
        assert_eq!(theirs.status.code(), Some(1));
        assert_eq!(
            show(&ours.stderr),
            "md5pipe: 'no such file': No such file or directory\n",
            "case {case}"
        );
    }
}

#[test]
fn names_from_a_file_follow_the_paths_given() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    file(dir.path(), b"b", b"b");
    file(dir.path(), b"-", b"dash");
    std::fs::write(dir.path().join("list"), b"b\n\n-\na\n").unwrap();
    let mut cmd = md5pipe();
    cmd.args(["a", "--files-from", "list"]);
    let out = run_in(cmd, dir.path());
    let names: Vec<Vec<u8>> = ["a", "b", "./-", "a"]
        .iter()
        .map(|n| n.as_bytes().to_vec())
        .collect();
    assert_eq!(show(&out.stdout), show(&md5sum_of(dir.path(), &[], &names)));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let mut cmd = md5pipe();
    cmd.args(["--files-from", "missing"]);
    let out = run_in(cmd, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        show(&out.stderr),
        "md5pipe: missing: No such file or directory\n"
    );
}

#[test]
fn an_endless_list_is_read_as_the_run_goes() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    let out = Command::new("timeout")
        .args(["-s", "KILL", "60", "sh", "-c"])
        .arg(r#"yes a | "$0" --files-from - | head -n 3"#)
        .arg(env!("CARGO_BIN_EXE_md5pipe"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    assert_eq!(
        show(&out.stdout),
        "0cc175b9c0f1b6a831c399e269772661  a\n".repeat(3)
    );
}

#[test]
fn the_files_of_the_roots_listed_so_far_are_printed_while_the_list_waits() {
    // A list that pauses (a pipe whose writer has more to say later): the
    // files of the roots read so far are digested and printed at once in
    // every design, not held back until more of the list or its end comes.
    // Two files large enough to be handed from lane to lane between
    // groups, and small ones after them.
    let dir = open_tempdir();
    let large = |len: usize, step: u32| -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(step) >> 3) as u8)
            .collect()
    };
    file(dir.path(), b"d/a", &large(8 << 20, 13));
    file(dir.path(), b"d/b", &large(6 << 20, 29));
    for name in [&b"d/c"[..], b"d/e", b"d/f"] {
        file(dir.path(), name, name);
    }
    let names: Vec<Vec<u8>> = ["d/a", "d/b", "d/c", "d/e", "d/f"]
        .iter()
        .map(|n| n.as_bytes().to_vec())
        .collect();
    let expected = md5sum_of(dir.path(), &[], &names);
    for mode in ["bounded", "parallel", "serial"] {
        let mut child = md5pipe()
            .args(["--mode", mode, "--files-from", "-"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"d\n").unwrap();
        // A watchdog: a run that holds the lines back is killed, so its
        // output ends short instead of the test waiting for ever.
        let pid = child.id();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if stopped
                .recv_timeout(std::time::Duration::from_secs(60))
                .is_err()
            {
                // SAFETY: kill has no memory preconditions; `pid` is our child, not yet waited for.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut got = Vec::new();
        for _ in 0..names.len() {
            if lines.read_until(b'\n', &mut got).unwrap() == 0 {
                break;
            }
        }
        let _ = stop.send(());
        watchdog.join().unwrap();
        drop(stdin);
        child.wait().unwrap();
        assert_eq!(show(&got), show(&expected), "--mode {mode}");
    }
}

#[test]
fn files_from_conflicts_with_check_diff_and_tree_digest() {
    let dir = open_tempdir();
    for extra in [["-c", "x"], ["--diff", "m"], ["--tree-digest", "."]] {
        let mut cmd = md5pipe();
        cmd.args(["--files-from", "l"]).args(extra);
        assert_eq!(run_in(cmd, dir.path()).status.code(), Some(2), "{extra:?}");
    }
}
