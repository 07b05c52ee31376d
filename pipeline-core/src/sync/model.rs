//! The loom side of [`crate::sync`], built only with
//! `RUSTFLAGS="--cfg pipeline_loom"`: the atomics, lock and `Event` of the
//! permits and the cancel signal on loom's primitives, and, for the
//! `loom_tests` modules, the threads, `block_on` and `model` that run
//! them.
//!
//! Why not `--cfg loom`, as tokio has it: under that name the crates
//! below smol and async-channel (concurrent-queue, event-listener,
//! parking) switch to loom's primitives themselves, and then smol does
//! not build (async-io needs timed parking, which loom has not).
//!
//! So async-channel, and event-listener inside it, run their std code
//! here. For loom each of their operations is one step (there is no loom
//! operation inside one, so loom never switches threads in the middle of
//! it): the channel is modelled as atomic and sequentially consistent,
//! which is what it promises, and the model checks what this crate builds
//! on it. One thing needs care. event-listener wakes a waiting task while
//! it holds its list's std lock; a loom waker would make a loom operation
//! there, at which loom may switch to a thread that then blocks on that
//! same std lock, for real (all loom threads share one OS thread). So the
//! waker of [`block_on`] makes no loom operation: it queues the wake-up,
//! and the queue is delivered (a loom `Notify` for each) before every
//! operation of the primitives here, and before a thread of the model
//! waits, joins or ends. loom only switches threads at its operations, so
//! a woken thread may run from the same points on as with a waker that
//! notified at once: no order of the threads is lost.
//!
//! The permits' `Event` is one of loom's making (below), not
//! event-listener's: a writer listens, then looks at the permits again
//! with a relaxed load; event-listener's fences, which order the two
//! against a give and its notify, are invisible to loom, which would then
//! let the look read a stale count and report a lost wake-up that cannot
//! happen. Under a loom lock the order is one loom sees.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LockResult};
use std::task::{Context, Poll, Wake, Waker};

pub(crate) use loom::sync::MutexGuard;

std::thread_local! {
    /// Wake-ups queued by [`block_on`]'s wakers, not delivered yet. One
    /// queue per OS thread, so per model: a model's loom threads all run
    /// on the thread of its test.
    static QUEUED: RefCell<Vec<Arc<Parked>>> = const { RefCell::new(Vec::new()) };
}

/// A thread of the model waiting in [`block_on`].
struct Parked(loom::sync::Notify);

impl Wake for Parked {
    fn wake(self: Arc<Self>) {
        QUEUED.with(|q| q.borrow_mut().push(self));
    }
}

/// Whether this thread of the model unwinds: loom failed the run (a
/// deadlock, say) and tears its threads down. loom's operations panic
/// again then, which would abort the test, so what destructors do on the
/// way out (give permits back, wake writers) is skipped: the run is lost
/// anyway, and loom has reported why.
fn unwinding() -> bool {
    std::thread::panicking()
}

/// Delivers the wake-ups queued since the last delivery.
fn deliver() {
    if unwinding() {
        return;
    }
    loop {
        let queued = QUEUED.with(|q| std::mem::take(&mut *q.borrow_mut()));
        if queued.is_empty() {
            return;
        }
        for parked in queued {
            parked.0.notify();
        }
    }
}

/// `std::sync::atomic::AtomicUsize`, on loom's.
pub(crate) struct AtomicUsize(loom::sync::atomic::AtomicUsize);

impl AtomicUsize {
    pub(crate) fn new(v: usize) -> Self {
        AtomicUsize(loom::sync::atomic::AtomicUsize::new(v))
    }

    pub(crate) fn load(&self, order: Ordering) -> usize {
        deliver();
        self.0.load(order)
    }

    pub(crate) fn fetch_add(&self, v: usize, order: Ordering) -> usize {
        if unwinding() {
            return 0;
        }
        deliver();
        self.0.fetch_add(v, order)
    }

    pub(crate) fn compare_exchange_weak(
        &self,
        current: usize,
        new: usize,
        success: Ordering,
        failure: Ordering,
    ) -> Result<usize, usize> {
        deliver();
        self.0.compare_exchange_weak(current, new, success, failure)
    }
}

/// `std::sync::atomic::AtomicBool`, on loom's.
pub(crate) struct AtomicBool(loom::sync::atomic::AtomicBool);

impl AtomicBool {
    pub(crate) fn new(v: bool) -> Self {
        AtomicBool(loom::sync::atomic::AtomicBool::new(v))
    }

    pub(crate) fn load(&self, order: Ordering) -> bool {
        deliver();
        self.0.load(order)
    }

    pub(crate) fn store(&self, v: bool, order: Ordering) {
        deliver();
        self.0.store(v, order);
    }
}

/// `std::sync::Mutex`, on loom's.
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }

    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        deliver();
        self.0.lock()
    }
}

/// event-listener's `Event` as the permits use it: [`notify`](Self::notify)
/// wakes every listener made before it.
pub(crate) struct Event(loom::sync::Mutex<Listeners>);

struct Listeners {
    /// How many notifications there were.
    round: u64,
    /// The tasks waiting for the next one.
    wakers: Vec<Waker>,
}

/// Ready once the event is notified after [`Event::listen`] made it.
pub(crate) struct Listener<'a> {
    event: &'a Event,
    round: u64,
}

impl Event {
    pub(crate) fn new() -> Self {
        Event(loom::sync::Mutex::new(Listeners {
            round: 0,
            wakers: Vec::new(),
        }))
    }

    fn listeners(&self) -> loom::sync::MutexGuard<'_, Listeners> {
        deliver();
        self.0.lock().expect("no model thread panics holding it")
    }

    pub(crate) fn listen(&self) -> Listener<'_> {
        let round = self.listeners().round;
        Listener { event: self, round }
    }

    /// Wakes every listener (the permits notify all of them, always).
    pub(crate) fn notify(&self, _all: usize) {
        if unwinding() {
            return;
        }
        let wakers = {
            let mut l = self.listeners();
            l.round += 1;
            std::mem::take(&mut l.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Future for Listener<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut l = self.event.listeners();
        if l.round != self.round {
            return Poll::Ready(());
        }
        l.wakers.push(cx.waker().clone());
        Poll::Pending
    }
}

/// Runs `f` as a loom model (see [`loom::model`]), with no wake-up left
/// queued from an earlier run of it.
#[cfg(test)]
pub(crate) fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    loom::model(move || {
        QUEUED.with(|q| q.borrow_mut().clear());
        f();
        deliver();
    });
}

/// Drives `f` to its end on this thread of the model: polls it, and
/// waits (a loom wait) until it is woken before polling it again. A
/// model in which every thread waits so fails as a deadlock.
#[cfg(test)]
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let parked = Arc::new(Parked(loom::sync::Notify::new()));
    let waker = Waker::from(parked.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        let polled = f.as_mut().poll(&mut cx);
        // Whatever the poll woke (this thread too, if it yielded).
        deliver();
        if let Poll::Ready(v) = polled {
            return v;
        }
        parked.0.wait();
    }
}

/// Spawns a thread of the model; the wake-ups it leaves queued are
/// delivered when it ends.
#[cfg(test)]
pub(crate) fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> loom::thread::JoinHandle<T> {
    loom::thread::spawn(move || {
        let v = f();
        deliver();
        v
    })
}

/// Waits for a thread of the model to end, after delivering what this
/// one queued.
#[cfg(test)]
pub(crate) fn join<T>(h: loom::thread::JoinHandle<T>) -> T {
    deliver();
    h.join().expect("a thread of the model panicked")
}
