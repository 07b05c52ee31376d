//! No silent loss: a flow that is built and never reaches the sink that
//! runs is a configuration error at `run()`, naming the stage, never a
//! quiet drop of items. Every position of a graph is tried.

use pipeline_core::{Error, Pipeline, StageConfig};

const N: u64 = 10_000;

/// The run's error is a configuration error naming `stage`, and nothing ran.
fn assert_unread(res: Result<impl std::fmt::Debug, Error>, stage: &str, p: &Pipeline) {
    match res {
        Err(Error::Config { stage: s, message }) => {
            assert_eq!(&*s, stage, "{message}");
            assert!(message.contains("nothing reads"), "{message}");
        }
        other => panic!("expected a config error naming `{stage}`, got {other:?}"),
    }
    assert_eq!(p.live_tasks().get(), 0);
    assert_eq!(
        p.stats()
            .snapshot()
            .iter()
            .map(|s| s.items_out)
            .sum::<u64>(),
        0,
        "nothing ran"
    );
}

#[test]
fn a_fan_out_branch_dropped_without_a_sink_is_a_config_error_naming_it() {
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    let lost = gen.clone().map("lost", |n| n);
    drop(lost);
    let res = gen.map("kept", |n| n).collect::<Vec<_>>().run();
    assert_unread(res, "lost", &p);
}

#[test]
fn a_source_never_read_is_a_config_error() {
    let p = Pipeline::new();
    let _orphan = p.from_iter("orphan", 0..3u64);
    let res = p.from_iter("gen", 0..3u64).collect::<Vec<_>>().run();
    assert_unread(res, "orphan", &p);
}

#[test]
fn a_branch_dropped_after_a_merge_is_a_config_error() {
    let p = Pipeline::new();
    let a = p.from_iter("a", 0..N);
    let b = p.from_iter("b", N..2 * N);
    let both = p.merge("both", [a, b]);
    let _side = both.clone().map("side", |n| n + 1);
    let res = both.collect::<Vec<_>>().run();
    assert_unread(res, "side", &p);
}

#[test]
fn a_merge_whose_output_is_dropped_is_a_config_error() {
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    let x = gen.clone().map("x", |n| n);
    let y = gen.clone().map("y", |n| n);
    let _joined = p.merge("joined", [x, y]);
    let res = gen.map("kept", |n| n).collect::<Vec<_>>().run();
    assert_unread(res, "joined", &p);
}

#[test]
fn a_deep_branch_is_named_at_its_end() {
    // The branch's first stages are read (by the stages after them); its
    // last is not, and it is the one named.
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    let _tail = gen
        .clone()
        .map(StageConfig::new("b1").workers(2), |n| n)
        .filter("b2", |_| true)
        .map(StageConfig::new("b3").ordered(), |n| n);
    let res = gen.collect::<Vec<_>>().run();
    assert_unread(res, "b3", &p);
}

#[test]
fn a_branch_ended_by_a_sink_that_never_runs_is_a_config_error() {
    // Dropped ...
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    drop(gen.clone().map("side", |n| n).collect::<Vec<_>>());
    let res = gen.collect::<Vec<_>>().run();
    assert_unread(res, "side", &p);
    // ... or kept but not the one run.
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    let other = gen.clone().map("other", |n| n).collect::<Vec<_>>();
    let res = gen.map("main", |n| n).fold(0u64, |a, _| a + 1).run();
    assert_unread(res, "other", &p);
    drop(other);
}

#[test]
fn a_stream_or_iter_sink_reports_the_unread_branch_as_its_only_item() {
    let p = Pipeline::new();
    let gen = p.from_iter("gen", 0..N);
    let _lost = gen.clone().map("lost", |n| n);
    let items: Vec<_> = gen.iter().collect();
    assert_eq!(items.len(), 1);
    assert!(
        matches!(&items[0], Err(Error::Config { stage, .. }) if &**stage == "lost"),
        "{items:?}"
    );
}

#[test]
fn a_clone_dropped_unread_beside_a_reader_loses_nothing() {
    // A reader that never reads takes no item: a bare clone dropped (here,
    // of a source and of a merge's output) is not an error, and every item
    // arrives.
    for _ in 0..20 {
        let p = Pipeline::new();
        let gen = p.from_iter(StageConfig::new("gen").buffer(4), 0..N);
        drop(gen.clone());
        let a = gen.clone().map(StageConfig::new("a").workers(3), |n| n);
        let b = gen.map("b", |n| n);
        let both = p.merge("both", [a, b]);
        drop(both.clone());
        let mut got = both.collect::<Vec<_>>().run().unwrap();
        got.sort_unstable();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    }
}
