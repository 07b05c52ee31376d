//! The `tracing` feature: a span per stage task (name, role, width, index),
//! an event per stage error and panic, and each stage's counters as an
//! event when the run ends, all seen by the subscriber current where the
//! run started, whichever threads run its tasks. A small collector of our
//! own records what it is sent.
//!
//! Run with `cargo test -p pipeline-core --features tracing --test tracing`.
#![cfg(feature = "tracing")]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pipeline_core::{Error, ErrorPolicy, Pipeline, StageConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span's or an event's fields by name, `message` included.
type Fields = BTreeMap<String, String>;

/// What the collector was sent.
#[derive(Default)]
struct Seen {
    /// Every span made, by id.
    spans: BTreeMap<u64, Fields>,
    /// Every event, with the span it happened in (if any).
    events: Vec<(Option<u64>, Fields)>,
}

/// A subscriber that records every span and event.
#[derive(Clone, Default)]
struct Collector {
    seen: Arc<Mutex<Seen>>,
    next: Arc<AtomicU64>,
}

thread_local! {
    /// The spans this thread is in, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::new();
        fields.insert("name".into(), span.metadata().name().into());
        span.record(&mut Visitor(&mut fields));
        self.seen.lock().unwrap().spans.insert(id, fields);
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        fields.insert("target".into(), event.metadata().target().into());
        event.record(&mut Visitor(&mut fields));
        let span = ENTERED.with(|e| e.borrow().last().copied());
        self.seen.lock().unwrap().events.push((span, fields));
    }
    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &Id) {
        ENTERED.with(|e| e.borrow_mut().pop());
    }
}

impl Collector {
    /// Runs `f` with this collector as the subscriber of this thread.
    fn collect<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::subscriber::with_default(self.clone(), f)
    }

    /// The spans of stage `stage`: (role, width, worker index).
    fn spans_of(&self, stage: &str) -> BTreeSet<(String, u64, u64)> {
        let seen = self.seen.lock().unwrap();
        seen.spans
            .values()
            .filter(|f| f.get("stage").map(String::as_str) == Some(stage))
            .map(|f| {
                (
                    f["role"].clone(),
                    f["width"].parse().unwrap(),
                    f["worker"].parse().unwrap(),
                )
            })
            .collect()
    }

    /// How many spans stage `stage` has.
    fn span_count(&self, stage: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.spans
            .values()
            .filter(|f| f.get("stage").map(String::as_str) == Some(stage))
            .count()
    }

    /// The events whose message is `message`, with the stage of the span
    /// each happened in.
    fn events(&self, message: &str) -> Vec<(Option<String>, Fields)> {
        let seen = self.seen.lock().unwrap();
        seen.events
            .iter()
            .filter(|(_, f)| f.get("message").map(String::as_str) == Some(message))
            .map(|(span, f)| {
                let stage = span
                    .and_then(|s| seen.spans.get(&s))
                    .map(|s| s["stage"].clone());
                (stage, f.clone())
            })
            .collect()
    }
}

fn set(items: &[(&str, u64, u64)]) -> BTreeSet<(String, u64, u64)> {
    items
        .iter()
        .map(|(r, w, i)| (r.to_string(), *w, *i))
        .collect()
}

#[test]
fn every_task_of_every_stage_has_a_span_with_its_name_width_and_index() {
    let c = Collector::default();
    let sum = c.collect(|| {
        let p = Pipeline::new();
        let gen = p.from_iter("gen", 0..10_000u64);
        let a = gen
            .clone()
            .map(StageConfig::new("sq").workers(3), |n| n * n);
        let b = gen.map("id", |n| n);
        p.merge("both", [a, b])
            .map(StageConfig::new("ord").workers(2).ordered(), |n| n)
            .fold(0u64, |acc, n| acc + n)
            .name("total")
            .run()
    });
    assert!(sum.is_ok());
    assert_eq!(c.spans_of("gen"), set(&[("source", 1, 0)]));
    assert_eq!(
        c.spans_of("sq"),
        set(&[("worker", 3, 0), ("worker", 3, 1), ("worker", 3, 2)])
    );
    assert_eq!(
        c.spans_of("both"),
        set(&[("forwarder", 2, 0), ("forwarder", 2, 1)])
    );
    assert_eq!(
        c.spans_of("ord"),
        set(&[
            ("dispatcher", 2, 0),
            ("worker", 2, 0),
            ("worker", 2, 1),
            ("collector", 2, 0)
        ])
    );
    assert_eq!(c.spans_of("total"), set(&[("sink", 1, 0)]));
    assert_eq!(c.spans_of("id"), set(&[("worker", 1, 0)]));
    // A span per task, none per item: 10,000 items, 12 spans.
    let spans: Vec<_> = c.seen.lock().unwrap().spans.values().cloned().collect();
    assert_eq!(spans.len(), 12, "{spans:?}");
}

#[test]
fn each_stage_error_is_an_event_in_its_stages_span() {
    let c = Collector::default();
    let items: Vec<_> = c.collect(|| {
        Pipeline::new()
            .with_policy(ErrorPolicy::Continue)
            .from_iter("gen", 0..9u32)
            .try_map(StageConfig::new("check").workers(2), |n| {
                if n % 3 == 0 {
                    Err(format!("{n} is a multiple of 3"))
                } else {
                    Ok(n)
                }
            })
            .iter()
            .collect()
    });
    assert_eq!(items.iter().filter(|r| r.is_err()).count(), 3);
    let events = c.events("stage error");
    assert_eq!(events.len(), 3, "{events:?}");
    for (span, fields) in &events {
        assert_eq!(span.as_deref(), Some("check"));
        assert_eq!(fields["stage"], "check");
        assert_eq!(fields["target"], "pipeline");
        assert!(
            fields["error"].ends_with("is a multiple of 3"),
            "{fields:?}"
        );
    }

    // Under fail-fast, the run's error too.
    let c = Collector::default();
    let err = c.collect(|| {
        Pipeline::new()
            .from_iter("gen", [1u32])
            .try_map("parse", |_| Err::<u32, _>("bad input"))
            .collect::<Vec<_>>()
            .run()
            .unwrap_err()
    });
    assert_eq!(err.stage_name(), Some("parse"));
    let events = c.events("stage error");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].1["error"], "stage `parse`: bad input");
}

#[test]
fn a_panic_is_an_event_naming_its_stage() {
    let c = Collector::default();
    let err = c.collect(|| {
        Pipeline::new()
            .from_iter("gen", 0..10u32)
            .map(StageConfig::new("boom").blocking(), |n| {
                assert!(n != 5, "item five");
                n
            })
            .for_each(|_| {})
            .run()
            .unwrap_err()
    });
    assert!(matches!(err, Error::Panic { .. }));
    let events = c.events("stage panicked");
    assert_eq!(events.len(), 1, "{events:?}");
    let (span, fields) = &events[0];
    assert_eq!(span.as_deref(), Some("boom"));
    assert_eq!(fields["stage"], "boom");
    assert_eq!(fields["panic"], "item five");
}

#[test]
fn each_stage_publishes_its_counters_when_the_run_ends() {
    for read_as_iter in [false, true] {
        let c = Collector::default();
        let stats = c.collect(|| {
            let p = Pipeline::new();
            let stats = p.stats();
            let flow = p
                .from_iter("gen", 0..1000u64)
                .filter(StageConfig::new("even").workers(2), |n| n % 2 == 0);
            if read_as_iter {
                assert_eq!(flow.named_iter("out").count(), 500);
            } else {
                flow.for_each(|_| {}).name("out").run().unwrap();
            }
            stats.snapshot()
        });
        let events = c.events("stage stats");
        assert_eq!(events.len(), 3, "one per stage: {events:?}");
        for s in &stats {
            let (_, f) = events
                .iter()
                .find(|(_, f)| f["stage"] == s.name)
                .unwrap_or_else(|| panic!("no counters for {}", s.name));
            assert_eq!(f["kind"], s.kind.to_string());
            assert_eq!(f["width"], s.width.to_string());
            assert_eq!(f["items_in"], s.items_in.to_string());
            assert_eq!(f["items_out"], s.items_out.to_string());
            assert_eq!(f["errors"], "0");
            assert!(f.contains_key("busy_ns") && f.contains_key("wait_in_ns"));
        }
        let even = stats.iter().find(|s| s.name == "even").unwrap();
        assert_eq!((even.items_in, even.items_out), (1000, 500));
    }
}

#[test]
fn a_nested_run_reports_to_the_subscriber_of_the_run_around_it() {
    let c = Collector::default();
    let sums = c.collect(|| {
        Pipeline::new()
            .from_iter("jobs", 0..2u64)
            .map("outer", |_| {
                Pipeline::new()
                    .from_iter("inner-gen", 0..10u64)
                    .fold(0, |a, n| a + n)
                    .run()
                    .unwrap()
            })
            .collect::<Vec<_>>()
            .run()
    });
    assert_eq!(sums.unwrap(), [45, 45]);
    assert_eq!(c.span_count("inner-gen"), 2, "one per nested run");
    assert_eq!(
        c.events("stage stats")
            .iter()
            .filter(|(_, f)| f["stage"] == "inner-gen")
            .count(),
        2
    );
}
