//! The cancel signal and what listens to it, model-checked with loom
//! (`RUSTFLAGS="--cfg pipeline_loom"`, see [`crate::link`]'s `loom_tests`
//! for how the models run): a cancel from one thread while another is
//! about to wait, to follow the signal, to register a link's closer on
//! the run's [`Stop`], or to fail the run. The flag and the locks are
//! loom's ([`crate::sync`]); the signal's channel, which wakes the
//! waiters, is one step per operation.
//!
//! The happens-before edge that the channel's close gives (its SeqCst
//! close seen by the waiter's receive) is std's code here, invisible to
//! loom: a waiter released by the close may still read the flag stale in
//! loom's eyes. So a released waiter's own look at the flag is not
//! asserted; the flag is asserted set after a `join`, which loom sees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::cancel::Cancel;
use crate::error::Error;
use crate::stop::Stop;
use crate::sync::model::{block_on, join, model, spawn};

#[test]
fn a_cancel_always_releases_a_waiter_about_to_wait() {
    model(|| {
        let cancel = Cancel::new();
        let waiter = spawn({
            let cancel = cancel.clone();
            move || block_on(cancel.cancelled())
        });
        cancel.cancel();
        assert!(cancel.is_cancelled());
        // A lost wake-up would leave the waiter waiting: a loom deadlock.
        join(waiter);
        let seen = spawn(move || cancel.is_cancelled());
        assert!(join(seen), "another thread sees the signal closed");
    });
}

#[test]
fn a_follower_added_while_its_parent_closes_is_closed() {
    model(|| {
        let parent = Cancel::new();
        let child = Cancel::new();
        let follows = spawn({
            let (parent, child) = (parent.clone(), child.clone());
            move || child.follow(&parent)
        });
        parent.cancel();
        join(follows);
        assert!(child.is_cancelled());
    });
}

#[test]
fn a_closer_added_while_the_signal_closes_runs_once() {
    model(|| {
        let stop = Stop::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let adds = spawn({
            let (stop, ran) = (stop.clone(), ran.clone());
            move || {
                stop.on_close(Box::new(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                }))
            }
        });
        // From outside, through a clone of the signal: the stop's closers
        // hear it as a listener of the signal.
        let outside = stop.cancel().clone();
        outside.cancel();
        join(adds);
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn a_failure_is_the_runs_error_exactly_when_it_came_before_a_cancel() {
    model(|| {
        let stop = Stop::new();
        let fails = spawn({
            let stop = stop.clone();
            move || stop.fail(Error::stage("s", "boom"))
        });
        stop.cancel().clone().cancel();
        let won = join(fails);
        match stop.outcome() {
            Err(Error::Stage { .. }) => assert!(won, "reported, so it was first"),
            Err(Error::Cancelled) => assert!(!won, "lost, so not reported"),
            other => panic!("a failure or the cancel, not {other:?}"),
        }
    });
}

#[test]
fn an_error_raised_after_a_cancel_from_outside_never_wins() {
    model(|| {
        let stop = Stop::new();
        // A stage that sees the signal closed, then fails with an error
        // that echoes the cancel: while the cancelling thread may still be
        // telling the signal's listeners.
        let echoes = spawn({
            let stop = stop.clone();
            move || {
                while !stop.cancel().is_cancelled() {
                    loom::thread::yield_now();
                }
                stop.fail(Error::stage("s", "cancelled"))
            }
        });
        stop.cancel().clone().cancel();
        assert!(!join(echoes), "the echo lost");
        assert!(matches!(stop.outcome(), Err(Error::Cancelled)));
    });
}
