//! The library's public API: the article's three `MD5All`, and the
//! streaming `digest_tree` with its errors, cancel signal and live tasks.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::*;
use pipeline_md5::algorithm::Algorithm;
use pipeline_md5::{
    digest_tree, md5_all_bounded, md5_all_parallel, md5_all_serial, Error, FileDigest, Io, Mode,
    Options,
};

const MODES: [Mode; 3] = [Mode::Bounded, Mode::Parallel, Mode::Serial];

/// `HEX  PATH` lines without escaping, as the article's programs print.
fn lines(sums: &[FileDigest]) -> String {
    sums.iter()
        .map(|s| format!("{}  {}\n", s.hex(), show(s.path_bytes())))
        .collect()
}

#[test]
fn the_three_designs_agree_with_md5sum() {
    let dir = tricky_tree();
    let root = dir.path();
    let serial = md5_all_serial(root).unwrap();
    assert_eq!(serial, md5_all_parallel(root).unwrap());
    for digesters in [1, 3, 20] {
        assert_eq!(serial, md5_all_bounded(root, digesters).unwrap());
    }
    // md5sum over the same files, named as we name them, unescaped (-z).
    let files: Vec<Vec<u8>> = regular_files(root)
        .into_iter()
        .map(|f| [root.to_str().unwrap().as_bytes(), b"/", &f].concat())
        .collect();
    let oracle = md5sum_of(root, &["-z"], &files);
    let oracle = show(&oracle).replace('\0', "\n");
    assert_eq!(lines(&serial), oracle);
}

#[test]
fn every_digest_carries_the_size_of_what_it_read() {
    let dir = open_tempdir();
    let sizes = [0usize, 1, 63, 64, 65, 4096, 70_000, 300_001];
    for (i, size) in sizes.iter().enumerate() {
        let body: Vec<u8> = (0..*size).map(|j| (j * 31 + i) as u8).collect();
        file(dir.path(), format!("f{i}").as_bytes(), &body);
    }
    for mode in MODES {
        for io in [Io::Blocking, Io::Async] {
            let opts = Options::default().mode(mode).io(io).chunk(4096).group(3);
            let got: Vec<u64> = digest_tree([dir.path()], &opts)
                .unwrap()
                .map(|d| d.unwrap().size)
                .collect();
            let want: Vec<u64> = sizes.iter().map(|&s| s as u64).collect();
            assert_eq!(got, want, "{mode:?} {io:?}");
        }
    }
}

#[test]
fn every_algorithm_digests_alike_in_every_design() {
    let dir = open_tempdir();
    let sizes = [0usize, 3, 64, 1000, 70_000, 200_003];
    let mut bodies = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let body: Vec<u8> = (0..*size).map(|j| (j * 13 + i) as u8).collect();
        file(dir.path(), format!("d{}/f{i}", i % 2).as_bytes(), &body);
        bodies.push((format!("d{}/f{i}", i % 2), body));
    }
    bodies.sort();
    for algorithm in Algorithm::ALL {
        let want: Vec<(String, String)> = bodies
            .iter()
            .map(|(name, body)| {
                let mut h = algorithm.hasher();
                h.update(body);
                (name.clone(), h.finalize().hex())
            })
            .collect();
        for (mode, io) in [
            (Mode::Bounded, Io::Blocking),
            (Mode::Bounded, Io::Async),
            (Mode::Parallel, Io::Blocking),
            (Mode::Serial, Io::Blocking),
        ] {
            let opts = Options::default()
                .mode(mode)
                .io(io)
                .algorithm(algorithm)
                .chunk(4096)
                .group(2);
            let got: Vec<(String, String)> = digest_tree([dir.path()], &opts)
                .unwrap()
                .map(|d| {
                    let d = d.unwrap();
                    assert_eq!(d.sum.algorithm(), algorithm);
                    let name = d.path.strip_prefix(dir.path()).unwrap();
                    (name.to_string_lossy().into_owned(), d.hex())
                })
                .collect();
            assert_eq!(got, want, "{algorithm} {mode:?} {io:?}");
        }
    }
}

#[test]
fn a_missing_root_is_the_error_naming_it() {
    let dir = open_tempdir();
    let missing = dir.path().join("missing");
    for result in [
        md5_all_serial(&missing),
        md5_all_parallel(&missing),
        md5_all_bounded(&missing, 4),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Walk(_)), "{err:?}");
        assert_eq!(err.path(), Some(missing.to_str().unwrap().as_bytes()));
        assert_eq!(err.reason(), "No such file or directory");
    }
    assert!(matches!(
        md5_all_bounded(dir.path(), 0),
        Err(Error::Config(_))
    ));
}

/// With links followed, a dangling link is a walk error at its place.
fn tree_with_a_dangling_link() -> tempfile::TempDir {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a");
    symlink("nowhere", dir.path().join("b")).unwrap();
    file(dir.path(), b"c", b"c");
    dir
}

#[test]
fn errors_come_in_their_place_and_the_run_goes_on() {
    let dir = tree_with_a_dangling_link();
    for mode in MODES {
        let opts = Options::default().mode(mode).follow_links(true);
        let items: Vec<Result<FileDigest, Error>> =
            digest_tree([dir.path()], &opts).unwrap().collect();
        let shown: Vec<String> = items
            .iter()
            .map(|r| match r {
                Ok(d) => show(d.path.file_name().unwrap().as_encoded_bytes()),
                Err(e) => format!("error {}", e.reason()),
            })
            .collect();
        assert_eq!(
            shown,
            ["a", "error No such file or directory", "c"],
            "{mode:?}"
        );
    }
}

#[test]
fn fail_fast_ends_with_the_first_error() {
    let dir = tree_with_a_dangling_link();
    for mode in MODES {
        let opts = Options::default()
            .mode(mode)
            .follow_links(true)
            .fail_fast(true);
        let items: Vec<Result<FileDigest, Error>> =
            digest_tree([dir.path()], &opts).unwrap().collect();
        let (last, before) = items.split_last().unwrap();
        let err = last.as_ref().unwrap_err();
        assert!(err.path().unwrap().ends_with(b"/b"), "{mode:?}: {err:?}");
        assert!(
            before.len() <= 1 && before.iter().all(Result::is_ok),
            "{mode:?}"
        );
    }
}

#[test]
fn a_half_read_run_leaves_no_task_behind() {
    let dir = tricky_tree();
    for mode in MODES {
        let opts = Options::default().mode(mode).digesters(3).buffer(1);
        let mut run = digest_tree([dir.path()], &opts).unwrap();
        let live = run.live_tasks();
        assert!(run.next().unwrap().is_ok());
        drop(run);
        assert_eq!(live.get(), 0, "{mode:?}");
    }
}

#[test]
fn cancelling_mid_file_ends_the_run_with_cancelled() {
    let dir = open_tempdir();
    let f = fs::File::create(dir.path().join("huge")).unwrap();
    f.set_len(64 << 30).unwrap();
    for (mode, io) in [
        (Mode::Bounded, Io::Blocking),
        (Mode::Bounded, Io::Async),
        (Mode::Parallel, Io::Blocking),
        (Mode::Serial, Io::Blocking),
    ] {
        let run = digest_tree([dir.path()], &Options::default().mode(mode).io(io)).unwrap();
        let (cancel, progress, live) = (run.cancel_signal(), run.progress(), run.live_tasks());
        let waiter = std::thread::spawn(move || run.collect::<Vec<_>>());
        while progress.snapshot().bytes_done == 0 {
            std::thread::yield_now();
        }
        cancel.cancel();
        let items = waiter.join().unwrap();
        assert_eq!(items.len(), 1, "{mode:?} {io:?}");
        assert!(items[0].as_ref().unwrap_err().is_cancelled(), "{mode:?}");
        assert_eq!(live.get(), 0, "{mode:?} {io:?}");
    }
}

#[test]
fn zero_settings_are_refused_before_anything_runs() {
    for opts in [
        Options::default().digesters(0),
        Options::default().buffer(0),
        Options::default().window(0),
        Options::default().chunk(0),
        Options::default().group(0),
    ] {
        assert!(matches!(digest_tree(["."], &opts), Err(Error::Config(_))));
    }
}
