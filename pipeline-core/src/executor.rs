//! The executor: one smol executor with a thread per core, shared by all runs.
//!
//! Stage workers are tasks on this executor, so they make progress whether
//! or not the caller is polling the output; blocking stage functions run on
//! smol's blocking thread pool instead, so they never stall the executor.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use smol::{Executor, Task};

static EXECUTOR: OnceLock<&'static Executor<'static>> = OnceLock::new();
static THREADS: OnceLock<usize> = OnceLock::new();
static LIVE_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// How many threads the executor runs: the `PIPELINE_THREADS` environment
/// variable if set to a positive number, else the number of CPUs.
pub fn threads() -> usize {
    *THREADS.get_or_init(|| {
        std::env::var("PIPELINE_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// How long an idle thread keeps looking for work before it sleeps.
///
/// Sleeping and being woken costs a futex (or eventfd) round trip and, on a
/// virtual machine, often an inter-processor interrupt: several
/// microseconds, against well under one for an item to cross a channel. A
/// pipeline's threads go idle between items all the time (a consumer
/// that has drained its input waits for the producer's next send), so
/// they look again for a short while first, as Go's scheduler does with
/// its spinning threads. A thread with nothing to do for this long sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Calls `ready` until it returns true or [`SPIN`] has passed (then false),
/// yielding the CPU between tries so that a spinning thread does not keep
/// a runnable one off the core.
#[inline]
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut tries = 0u32;
    loop {
        if ready() {
            return true;
        }
        tries = tries.wrapping_add(1);
        if tries % 8 == 0 {
            if start.elapsed() > SPIN {
                return false;
            }
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

thread_local! {
    /// Whether this thread runs the executor's tasks (one of its threads,
    /// or one standing in for a thread that blocks).
    static ON_EXECUTOR: Cell<bool> = const { Cell::new(false) };
}

/// An executor thread: runs tasks as they are scheduled; when there are
/// none, looks for one for [`SPIN`], then sleeps until one is scheduled.
fn run_thread(ex: &'static Executor<'static>) -> ! {
    ON_EXECUTOR.with(|on| on.set(true));
    #[cfg(feature = "tokio")]
    crate::tokio_ctx::enter_for_good();
    loop {
        if ex.try_tick() || spin_until(|| ex.try_tick()) {
            continue;
        }
        smol::block_on(ex.tick());
    }
}

/// A thread that runs the executor's tasks while one of its threads is
/// blocked (see [`blocking`](fn@blocking)); it ends when dropped.
struct StandIn {
    /// Closed (dropped) to send the stand-in away.
    _stop: async_channel::Sender<()>,
}

impl StandIn {
    fn start() -> Self {
        let (tx, rx) = async_channel::bounded::<()>(1);
        let ex = executor();
        // If the OS refuses a thread, the caller blocks as it would have
        // without one: a starved run, never a panic.
        let _ = std::thread::Builder::new()
            .name("pipeline-stand-in".into())
            .spawn(move || {
                ON_EXECUTOR.with(|on| on.set(true));
                #[cfg(feature = "tokio")]
                crate::tokio_ctx::enter_for_good();
                while !rx.is_closed() {
                    if ex.try_tick() || spin_until(|| ex.try_tick() || rx.is_closed()) {
                        continue;
                    }
                    let stop = async {
                        let _ = rx.recv().await;
                    };
                    smol::block_on(smol::future::or(ex.tick(), stop));
                }
            });
        StandIn { _stop: tx }
    }
}

/// Runs `f`, which blocks the calling thread until some of the executor's
/// tasks have run. On one of the executor's own threads (a run started
/// inside an inline stage), another thread runs tasks in its place
/// meanwhile: with every executor thread blocked so, nothing would run
/// the tasks they wait for.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    if !ON_EXECUTOR.with(Cell::get) {
        return f();
    }
    let _stand_in = StandIn::start();
    f()
}

/// The shared executor, started on first use.
pub(crate) fn executor() -> &'static Executor<'static> {
    EXECUTOR.get_or_init(|| {
        let ex: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
        for i in 0..threads() {
            std::thread::Builder::new()
                .name(format!("pipeline-{i}"))
                .spawn(move || run_thread(ex))
                .expect("the OS must let the executor start its threads");
        }
        ex
    })
}

/// Spawns `fut` on the shared executor; handy for hand-wired comparisons and
/// for tests that need a task beside a run.
pub fn spawn<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> Task<T> {
    executor().spawn(fut)
}

/// Blocks the current thread on `fut` while the executor's threads run the
/// stages. Called on one of the executor's threads (inside an inline
/// stage), it has another thread run the executor's tasks meanwhile, so
/// that the tasks `fut` waits for still run.
///
/// When `fut` waits, the thread looks for its wake-up for a few tens of
/// microseconds before it sleeps (see the executor's threads), so that a
/// sink reading a busy pipeline is not put to sleep and woken for every
/// item. I/O and timers keep working: smol's reactor runs on its own thread
/// while no other thread drives it.
pub fn block_on<T>(fut: impl Future<Output = T>) -> T {
    blocking(|| block_on_here(fut))
}

/// [`block_on`] on this thread, whichever it is.
fn block_on_here<T>(fut: impl Future<Output = T>) -> T {
    /// Wakes the blocked thread: a flag it spins on, then an unpark.
    struct Signal {
        woken: AtomicBool,
        thread: std::thread::Thread,
    }
    impl Wake for Signal {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if !self.woken.swap(true, Ordering::AcqRel) {
                // No system call unless the thread is really asleep.
                self.thread.unpark();
            }
        }
    }
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(false),
        thread: std::thread::current(),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        signal.woken.store(false, Ordering::Release);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let woken = || signal.woken.load(Ordering::Acquire);
        if !spin_until(woken) {
            while !woken() {
                std::thread::park();
            }
        }
    }
}

/// Counts the live tasks of one run (a testing and debugging aid).
///
/// Every task a run spawns — source, workers, merge forwarders, reorder
/// collectors — holds a guard on this counter from the moment it is spawned
/// until its future is dropped, and so does every blocking call, blocking
/// producer and blocking worker's thread until it returns (the thread
/// cannot be stopped, so it outlives its task if the run's future is
/// dropped). After a run has ended, however it ended, the count is zero: a
/// non-zero count is a leak.
///
/// ```
/// use pipeline_core::Pipeline;
///
/// let p = Pipeline::new();
/// let live = p.live_tasks();
/// let first = p.from_iter("gen", 1..).map("sq", |n: u64| n * n).first().run().unwrap();
/// assert_eq!(first, Some(1));
/// assert_eq!(live.get(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct LiveTasks {
    count: Arc<AtomicUsize>,
}

impl LiveTasks {
    /// Tasks of the run alive now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub(crate) fn guard(&self) -> LiveGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        LIVE_TOTAL.fetch_add(1, Ordering::SeqCst);
        LiveGuard(self.count.clone())
    }
}

/// Live tasks of every run in this process (a testing and debugging aid).
pub fn live_tasks_total() -> usize {
    LIVE_TOTAL.load(Ordering::SeqCst)
}

/// Decrements a [`LiveTasks`] counter when dropped.
pub(crate) struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        LIVE_TOTAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Spawns a task of a run, counted by `live`.
pub(crate) fn spawn_counted(
    live: &LiveTasks,
    fut: impl Future<Output = ()> + Send + 'static,
) -> Task<()> {
    let guard = live.guard();
    executor().spawn(async move {
        let _guard = guard;
        fut.await
    })
}
