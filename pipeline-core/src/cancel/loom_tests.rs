//! The cancel signal, model-checked with loom (`RUSTFLAGS="--cfg
//! pipeline_loom"`, see [`crate::link`]'s `loom_tests` for how the models
//! run): a cancel from one thread while another is about to wait, to
//! follow the signal or to hook a link to it. The flag and the locks are
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
fn a_hook_added_while_the_signal_closes_runs_once() {
    model(|| {
        let cancel = Cancel::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let hooks = spawn({
            let (cancel, ran) = (cancel.clone(), ran.clone());
            move || {
                cancel.on_close(Box::new(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                }))
            }
        });
        cancel.cancel();
        join(hooks);
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    });
}
