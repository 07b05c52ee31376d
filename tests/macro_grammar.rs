//! Every form of the `pipeline!` grammar, run: each stage kind, each sink,
//! each source form, `from` before or after the options, forward
//! references, and expressions that look like options.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use pipeline::{pipeline, AsyncEmitter, Emitter, ErrorPolicy};

async fn double(n: u64) -> u64 {
    n * 2
}

#[test]
fn every_stage_kind_runs() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let out = pipeline! {
        gen:   source 0..10u64;
        pairs: flat_map |n: u64| [n, n];
        odd:   filter |n: &u64| n % 2 == 1;
        small: filter_map |n: u64| (n < 8).then_some(n);
        peek:  inspect move |_: &u64| {
            s.fetch_add(1, SeqCst);
        };
        dbl:   then double;
        half:  try_then |n: u64| async move { Ok::<u64, std::io::Error>(n / 2) };
        big:   try_map |n: u64| u32::try_from(n * 1000);
        split: try_flat_map |n: u32| Ok::<_, String>(vec![n; 1]);
        keep:  try_filter_map |n: u32| Ok::<_, String>((n != 9000).then_some(n));
        out:   sink collect::<BTreeSet<u32>>();
    }
    .run()
    .unwrap();
    assert_eq!(out, BTreeSet::from([1000, 3000, 5000, 7000]));
    assert_eq!(seen.load(SeqCst), 8);
}

#[test]
fn every_sink_runs() {
    let set = pipeline! {
        gen: source [3u8, 1, 3];
        out: sink collect::<HashSet<_>>();
    }
    .run()
    .unwrap();
    assert_eq!(set, HashSet::from([1, 3]));

    let first = pipeline! {
        gen: source 5..6u8;
        out: sink first();
    };
    assert_eq!(first.run().unwrap(), Some(5));

    let taken = pipeline! {
        gen: source 0u8..;
        out: sink take(4);
    };
    assert_eq!(taken.run().unwrap(), [0, 1, 2, 3]);

    let sum = pipeline! {
        gen: source 1..=4u32;
        out: sink fold(0u32, |a, n| a + n);
    };
    assert_eq!(sum.run().unwrap(), 10);

    let mut seen = Vec::new();
    let each = pipeline! {
        gen: source ['a', 'b'];
        out: sink for_each(move |c| seen.push(c));
    };
    each.run().unwrap();

    let all: Vec<u8> = pipeline! {
        gen: source 0..3u8;
        out: sink iter();
    }
    .map(Result::unwrap)
    .collect();
    assert_eq!(all, [0, 1, 2]);

    let streamed: Vec<u8> = smol::block_on(futures::StreamExt::collect::<Vec<_>>(pipeline! {
        gen: source 0..3u8;
        out: sink stream();
    }))
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<_>>();
    assert_eq!(streamed, [0, 1, 2]);
}

#[test]
fn every_source_form_runs() {
    let items = pipeline! {
        gen: source iter vec![1u8, 2];
        out: sink collect();
    };
    assert_eq!(items.run().unwrap(), [1, 2]);

    let stream = futures::stream::iter(0..3u8);
    let items = pipeline! {
        gen: source stream stream;
        out: sink collect();
    };
    assert_eq!(items.run().unwrap(), [0, 1, 2]);

    let items = pipeline! {
        gen: source blocking |em: &mut Emitter<u8>| {
            for i in 0..3 {
                if em.emit(i).is_err() {
                    return;
                }
            }
        } [buffer = 1, batch = 2];
        out: sink collect();
    };
    assert_eq!(items.run().unwrap(), [0, 1, 2]);

    let items = pipeline! {
        gen: source async |mut em: AsyncEmitter<u8>| async move {
            for i in 0..3 {
                if em.send(i).await.is_err() {
                    return;
                }
            }
        };
        out: sink collect();
    };
    assert_eq!(items.run().unwrap(), [0, 1, 2]);
}

#[test]
fn from_and_options_come_in_either_order_and_may_refer_forward() {
    let mut out = pipeline! {
        gen:  source 0..100u64;
        // `b` reads `a`, declared below it.
        b:    map |n: u64| n + 1 [workers = 2] from a;
        a:    map |n: u64| n * 2 from gen [workers = 3, buffer = 4];
        out:  sink collect() from b;
    }
    .run()
    .unwrap();
    out.sort_unstable();
    assert_eq!(out, (0..100u64).map(|n| n * 2 + 1).collect::<Vec<_>>());
}

#[test]
fn expressions_that_look_like_options_are_expressions() {
    let a = 7u8;
    let b = 9u8;
    // An array of locals, and a macro call with brackets: the items.
    let arr = pipeline! { gen: source [a, b]; out: sink collect(); };
    assert_eq!(arr.run().unwrap(), [7, 9]);
    let vec = pipeline! { gen: source vec![a, b]; out: sink collect(); };
    assert_eq!(vec.run().unwrap(), [7, 9]);
    // An index ending the expression goes in parentheses.
    let table = [[1u8, 2], [3, 4]];
    let i = 1;
    let idx = pipeline! { gen: source (table[i]); out: sink collect(); };
    assert_eq!(idx.run().unwrap(), [3, 4]);
    // Closure bodies may use a variable called `from`.
    let from = 1u8;
    let add = pipeline! {
        gen: source [1u8];
        add: map move |n: u8| n + from;
        out: sink collect();
    };
    assert_eq!(add.run().unwrap(), [2]);
}

#[test]
fn policy_can_be_any_expression() {
    let policy = ErrorPolicy::Continue;
    let run = pipeline! {
        policy = policy;
        gen:   source 0..4u32;
        check: try_map |n: u32| if n == 1 { Err("one") } else { Ok(n) };
        out:   sink collect();
    };
    let errors = run.errors();
    assert_eq!(run.run().unwrap(), [0, 2, 3]);
    assert_eq!(errors.len(), 1);

    let run = pipeline! {
        policy = fail_fast;
        gen:   source 0..4u32;
        check: try_map |n: u32| if n == 1 { Err("one") } else { Ok(n) };
        out:   sink collect();
    };
    assert!(run.run().is_err());
}

#[test]
fn raw_identifiers_name_stages_without_the_prefix() {
    let run = pipeline! {
        r#gen:  source 0..3u8;
        r#type: map |n: u8| n;
        out:    sink collect();
    };
    let stats = run.stats();
    run.run().unwrap();
    let names: Vec<String> = stats.snapshot().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["gen", "type", "out"]);
}
