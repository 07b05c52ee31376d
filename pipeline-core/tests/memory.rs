//! Memory follows what a run uses, not what its settings allow: a counting
//! global allocator measures the peak of live heap bytes over a run. One
//! test in this binary, so no other test's allocations count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use pipeline_core::{Pipeline, StageConfig};

/// A setting under test: its name, and how it changes a stage.
type Setting = (&'static str, fn(StageConfig) -> StageConfig);

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// plain atomics and never affect what is allocated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), SeqCst) + layout.size();
        PEAK.fetch_max(now, SeqCst);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), SeqCst);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = LIVE.fetch_add(new_size - layout.size(), SeqCst) + new_size - layout.size();
            PEAK.fetch_max(now, SeqCst);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, SeqCst);
        }
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most heap bytes live at once while `f` runs, above those live
/// before it.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = LIVE.load(SeqCst);
    PEAK.store(before, SeqCst);
    let r = f();
    (r, PEAK.load(SeqCst).saturating_sub(before))
}

const MB: usize = 1 << 20;

#[test]
fn a_run_allocates_for_what_it_holds_not_for_what_its_settings_allow() {
    // Warm up: the executor's threads and the clock, once per process.
    Pipeline::new()
        .from_iter("gen", 0..10u64)
        .collect::<Vec<_>>()
        .run()
        .unwrap();

    let cases: [Setting; 6] = [
        ("buffer 10_000_000", |c| c.buffer(10_000_000)),
        ("buffer MAX", |c| c.buffer(usize::MAX)),
        ("batch 1, buffer 10_000_000", |c| {
            c.batch(1).buffer(10_000_000)
        }),
        ("batch 10_000_000", |c| c.batch(10_000_000)),
        ("batch MAX", |c| c.batch(usize::MAX)),
        ("window 10_000_000", |c| c.window(10_000_000)),
    ];
    for (what, cfg) in cases {
        let (got, peak) = peak_of(|| {
            let p = Pipeline::new();
            let gen = p.from_iter(cfg(StageConfig::new("gen")), 0..10u64);
            let a = gen.clone().map(cfg(StageConfig::new("a")), |n| n);
            let b = gen.map(cfg(StageConfig::new("b").ordered()), |n| n);
            p.merge(cfg(StageConfig::new("m")), [a, b])
                .collect::<Vec<_>>()
                .run()
                .unwrap()
        });
        assert_eq!(got.len(), 10, "{what}");
        assert!(
            peak < 4 * MB,
            "{what}: a 10-item run peaked at {peak} bytes"
        );
    }

    // A flat_map of 30 million items, of which the sink wants one.
    let (first, peak) = peak_of(|| {
        Pipeline::new()
            .from_iter("gen", [1u64])
            .flat_map("fm", |_| 0..30_000_000u64)
            .first()
            .run()
            .unwrap()
    });
    assert_eq!(first, Some(0));
    assert!(
        peak < 4 * MB,
        "flat_map then first() peaked at {peak} bytes"
    );
}
