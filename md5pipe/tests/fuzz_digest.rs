//! A differential fuzzer: random trees with random names (every byte but
//! NUL and `/`: newlines, carriage returns, backslashes, bytes that are not
//! UTF-8) through md5pipe's digest mode, against GNU md5sum over the same
//! files listed `find | LC_ALL=C sort` style. The output must match byte
//! for byte, plain, `--tag` and `-z`.
//!
//! A fixed seed and a small budget by default; run longer by hand with
//! `MD5PIPE_FUZZ_CASES=500 MD5PIPE_FUZZ_SEED=7 cargo test -p md5pipe
//! --test fuzz_digest`. A failure prints the seed and case to replay.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// A random name: 1 to 12 bytes, none NUL or `/`, never `.` or `..`;
/// often made of the bytes md5sum escapes and the ones that sort oddly.
fn name(rng: &mut Rng) -> Vec<u8> {
    const SPECIAL: &[u8] = b"\n\r\\ -.0aAz*()=\xff\xc3\xa9\x01\x7f";
    loop {
        let len = 1 + rng.below(12);
        let name: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(2) == 0 {
                    SPECIAL[rng.below(SPECIAL.len())]
                } else {
                    1 + rng.below(255) as u8
                }
            })
            .map(|b| if b == b'/' { b'_' } else { b })
            .collect();
        if name != b"." && name != b".." {
            return name;
        }
    }
}

/// Fills `dir` with a random tree of up to `budget` entries.
fn grow(rng: &mut Rng, dir: &Path, depth: u32, budget: &mut u32) {
    while *budget > 0 && rng.below(6) != 0 {
        *budget -= 1;
        let path = dir.join(raw(&name(rng)));
        if path.symlink_metadata().is_ok() {
            continue;
        }
        match rng.below(10) {
            0..=1 if depth < 4 => {
                fs::create_dir(&path).unwrap();
                grow(rng, &path, depth + 1, budget);
            }
            2 => std::os::unix::fs::symlink("elsewhere", &path).unwrap(),
            _ => {
                let len = rng.below(3000);
                let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                fs::write(&path, body).unwrap();
            }
        }
    }
}

#[test]
fn random_trees_print_what_md5sum_prints_byte_for_byte() {
    let seed = env_u64("MD5PIPE_FUZZ_SEED", 0x5eed_1505);
    let cases = env_u64("MD5PIPE_FUZZ_CASES", 12);
    let mut rng = Rng(seed | 1);
    for case in 0..cases {
        let dir = open_tempdir();
        let mut budget = 40;
        grow(&mut rng, dir.path(), 0, &mut budget);
        let files = regular_files(dir.path());
        let width = (1 + rng.below(4)).to_string();
        for args in [&[][..], &["--tag"], &["-z"]] {
            let want = if files.is_empty() {
                Vec::new()
            } else {
                md5sum_of(dir.path(), args, &files)
            };
            let mut cmd = md5pipe();
            cmd.args(args).args(["-j", &width, "."]);
            let out = run_in(cmd, dir.path());
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "seed {seed} case {case} {args:?}: {out:?}"
            );
            assert_eq!(
                out.stdout,
                want,
                "seed {seed} case {case} {args:?}:\n{}\nwant\n{}",
                show(&out.stdout),
                show(&want)
            );
        }
    }
}
