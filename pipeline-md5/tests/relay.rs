//! The bounded design's digesters hand long files on across groups
//! (`src/relay.rs`): whatever the groups, digesters, engine and reorder
//! window, every file comes out once, digested right, in walk order; a
//! cancel while long files wait between groups closes them and leaves no
//! task behind.

mod common;

use std::fs;
use std::path::Path;

use md5::{Digest, Md5};
use pipeline_md5::engine::Engine;
use pipeline_md5::{digest_tree, Options};

use common::*;

/// Small files with long ones among them (long for reads of 4 KiB: up to
/// 75 reads), and what each should digest to (and its size), in walk
/// order.
fn tree() -> (tempfile::TempDir, Vec<(String, [u8; 16], u64)>) {
    let dir = open_tempdir();
    let mut rng = Rng(0xca11);
    let mut want = Vec::new();
    for i in 0..160 {
        let size = match i % 13 {
            0 => 100_000 + rng.below(200_000),
            5 => 40_000 + rng.below(30_000),
            _ => rng.below(6000),
        };
        let body: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let name = format!("d{}/f{i:03}", i % 4);
        file(dir.path(), name.as_bytes(), &body);
        want.push((name, Md5::digest(&body).into(), size as u64));
    }
    want.sort();
    (dir, want)
}

fn names_and_sums(dir: &Path, opts: &Options) -> Vec<(String, [u8; 16], u64)> {
    digest_tree([dir], opts)
        .unwrap()
        .map(|r| {
            let d = r.unwrap();
            let name = d.path.strip_prefix(dir).unwrap();
            (
                name.to_string_lossy().into_owned(),
                d.sum.to_md5().unwrap(),
                d.size,
            )
        })
        .collect()
}

#[test]
fn long_files_handed_on_across_groups_come_out_once_in_walk_order() {
    let (dir, want) = tree();
    for engine in Engine::available() {
        for (group, digesters, window) in [
            (1, 1, 64),
            (1, 3, 64),
            (3, 2, 64),
            (3, 2, 1),
            (16, 1, 64),
            (16, 4, 64),
            (16, 5, 2),
            (256, 2, 64),
        ] {
            let opts = Options::default()
                .engine(engine)
                .chunk(4096)
                .group(group)
                .digesters(digesters)
                .window(window);
            assert_eq!(
                names_and_sums(dir.path(), &opts),
                want,
                "{engine} group {group} digesters {digesters} window {window}"
            );
        }
    }
}

#[test]
fn a_walk_error_keeps_its_place_between_handed_on_files() {
    let (dir, _) = tree();
    std::os::unix::fs::symlink("nowhere", dir.path().join("d1/f050")).unwrap();
    let opts = Options::default()
        .chunk(4096)
        .group(4)
        .digesters(3)
        .follow_links(true);
    let items: Vec<String> = digest_tree([dir.path()], &opts)
        .unwrap()
        .map(|r| match r {
            Ok(d) => d
                .path
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string(),
            Err(err) => format!("error {}", err.reason()),
        })
        .collect();
    let at = items.iter().position(|i| i.starts_with("error")).unwrap();
    assert_eq!(items[at - 1], "d1/f049");
    assert_eq!(items[at + 1], "d1/f053");
    assert_eq!(items.len(), 161);
}

/// Descriptors this process has open on files below `dir`.
fn open_below(dir: &Path) -> usize {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

#[test]
fn a_cancel_while_long_files_wait_between_groups_closes_them() {
    let dir = open_tempdir();
    // Long files first, then many small ones, so that long streams wait
    // in the pool between groups when the cancel comes.
    for i in 0..24 {
        let f = fs::File::create(dir.path().join(format!("a{i:02}"))).unwrap();
        f.set_len(1 << 30).unwrap();
    }
    for i in 0..2000 {
        file(dir.path(), format!("b{i:04}").as_bytes(), b"x");
    }
    let opts = Options::default().group(8).digesters(2);
    let run = digest_tree([dir.path()], &opts).unwrap();
    let (cancel, progress, live) = (run.cancel_signal(), run.progress(), run.live_tasks());
    let waiter = std::thread::spawn(move || run.collect::<Vec<_>>());
    while progress.snapshot().bytes_done < 64 << 20 {
        std::thread::yield_now();
    }
    cancel.cancel();
    let items = waiter.join().unwrap();
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert!(last.is_cancelled(), "{last}");
    assert!(items.iter().filter(|r| r.is_err()).all(|r| matches!(
        r,
        Err(e) if e.is_cancelled()
    )));
    assert_eq!(live.get(), 0);
    assert_eq!(open_below(dir.path()), 0, "every file of the run is closed");
}

#[test]
fn a_long_file_ahead_of_many_small_ones_holds_them_up_without_a_stall() {
    // With a window of 2 groups of 4, the digesters soon wait for the
    // long file's outcome; whoever finishes it must let it count at once.
    let dir = open_tempdir();
    let long: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
    file(dir.path(), b"a", &long);
    for i in 0..400 {
        file(dir.path(), format!("b{i:03}").as_bytes(), &[i as u8; 10]);
    }
    let mut want = vec![(
        "a".to_string(),
        <[u8; 16]>::from(Md5::digest(&long)),
        long.len() as u64,
    )];
    for i in 0..400 {
        want.push((format!("b{i:03}"), Md5::digest([i as u8; 10]).into(), 10));
    }
    for digesters in [2, 3] {
        let opts = Options::default()
            .chunk(4096)
            .group(4)
            .window(2)
            .digesters(digesters);
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(names_and_sums(&path, &opts)));
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the run stalled");
        assert_eq!(got, want, "digesters {digesters}");
    }
}
