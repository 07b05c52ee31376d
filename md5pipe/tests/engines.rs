//! md5pipe with each MD5 engine forced (`MD5PIPE_ENGINE`): the scalar one
//! and every engine this CPU runs give md5sum's bytes on a small tree of
//! files around the block and chunk boundaries, in digest and check mode,
//! and `--stats` names the engine. The whole suite can also run with one
//! engine forced: `MD5PIPE_ENGINE=scalar cargo test -p md5pipe -p pipeline-md5`.

mod common;

use pipeline_md5::engine::{Engine, ENGINE_VAR};

use common::*;

/// Sizes around MD5's block (55, 56, 63, 64) and the 64 KiB reads, with
/// enough files to fill and refill every lane of a group.
const SIZES: &[usize] = &[
    0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 4095, 4096, 65535, 65536, 65537,
    131_072, 200_000, 333_333,
];

/// A tree of `SIZES` files in a few directories, then forty small ones.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0x5eed);
    for (i, &size) in SIZES.iter().enumerate() {
        let body: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        file(dir.path(), format!("d{}/f{i:02}", i % 3).as_bytes(), &body);
    }
    for i in 0..40 {
        let body: Vec<u8> = (0..rng.below(3000)).map(|_| rng.next() as u8).collect();
        file(dir.path(), format!("many/m{i:02}").as_bytes(), &body);
    }
    dir
}

/// Every engine to force: scalar, and whatever else this CPU runs.
fn engines() -> Vec<Engine> {
    let engines = Engine::available();
    assert_eq!(engines[0], Engine::scalar(), "scalar runs everywhere");
    engines
}

#[test]
fn every_engine_prints_md5sums_bytes_and_names_itself_in_stats() {
    let dir = tree();
    let oracle = md5sum_of(dir.path(), &[], &regular_files(dir.path()));
    for engine in engines() {
        for args in [&["--stats"][..], &["--stats", "-j", "1", "--group", "5"]] {
            let mut cmd = md5pipe();
            cmd.env(ENGINE_VAR, engine.id()).args(args).arg(".");
            let out = run_in(cmd, dir.path());
            assert!(out.status.success(), "{engine}: {out:?}");
            assert_eq!(show(&out.stdout), show(&oracle), "{engine} {args:?}");
            let stats = show(&out.stderr);
            let line = format!("md5: {}\n", engine.name());
            assert!(stats.ends_with(&line), "{engine}: stats {stats}");
        }
    }
}

#[test]
fn every_engine_verifies_a_list_and_finds_the_changed_file() {
    let dir = tree();
    let mut list = md5sum_of(dir.path(), &[], &regular_files(dir.path()));
    // The digest of the empty file d0/f00, now listed for d1/f01 (1 byte).
    let empty = b"d41d8cd98f00b204e9800998ecf8427e  d1/f01\n";
    list.extend_from_slice(empty);
    file(dir.path(), b"sums", &list);
    for engine in engines() {
        let mut cmd = md5pipe();
        cmd.env(ENGINE_VAR, engine.id())
            .args(["--stats", "-c", "--quiet", "sums"]);
        let out = run_in(cmd, dir.path());
        assert_eq!(out.status.code(), Some(1), "{engine}: {out:?}");
        assert_eq!(show(&out.stdout), "d1/f01: FAILED\n", "{engine}");
        let stderr = show(&out.stderr);
        assert!(
            stderr.contains("WARNING: 1 computed checksum did NOT match"),
            "{engine}: {stderr}"
        );
        assert!(
            stderr.ends_with(&format!("md5: {}\n", engine.name())),
            "{engine}: {stderr}"
        );
    }
}

#[test]
fn an_engine_the_cpu_lacks_or_an_unknown_one_is_a_usage_error() {
    let dir = tree();
    let mut cmd = md5pipe();
    cmd.env(ENGINE_VAR, "sse9").arg(".");
    let out = run_in(cmd, dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        show(&out.stderr).starts_with("md5pipe: MD5PIPE_ENGINE: unknown MD5 engine 'sse9'"),
        "{}",
        show(&out.stderr)
    );
}
