//! `item_timeout` and `retry` in the `pipeline!` grammar: the options set
//! the stage's `StageConfig`, a stage with `retry` is built through
//! `Flow::retrying`, and a reusable pipeline's retries can be changed at
//! run time on the stages declared with them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipeline::{pipeline, Declared, Error, ItemTimeout, Retry};

/// Fails the first `fails` calls, then succeeds.
fn flaky(fails: u32) -> impl Fn(u32) -> Result<u32, String> + Send + Sync + 'static {
    let calls = Arc::new(AtomicU32::new(0));
    move |n| {
        if calls.fetch_add(1, Ordering::Relaxed) < fails {
            Err(format!("call for {n} failed"))
        } else {
            Ok(n)
        }
    }
}

fn quick(attempts: u32) -> Retry {
    Retry::attempts(attempts).backoff(Duration::from_millis(1))
}

#[test]
fn retry_and_item_timeout_options_reach_the_stage() {
    let limit = Duration::from_millis(20);
    let run = pipeline! {
        gen:   source [1u32, 2, 3];
        fetch: try_map flaky(2) [blocking, retry = quick(3), item_timeout = limit];
        slow:  then |n: u32| async move {
                   if n == 2 {
                       std::future::pending::<()>().await;
                   }
                   n
               } [item_timeout = limit];
        out:   sink collect();
    };
    let stats = run.stats();
    let err = run.run().unwrap_err();
    assert_eq!(err.stage_name(), Some("slow"));
    assert_eq!(
        err.downcast_ref::<ItemTimeout>(),
        Some(&ItemTimeout::new(limit))
    );
    assert_eq!(stats.stage("fetch").unwrap().retries, 2);
}

#[test]
fn a_number_of_attempts_is_a_retry() {
    let got = pipeline! {
        gen:   source [4u32];
        fetch: try_then |n: u32| {
                   let f = flaky(1);
                   async move { f(n) }
               } [retry = 1];
        out:   sink collect();
    }
    .run();
    // One attempt: no retry, and this stage's function fails its first call.
    assert!(matches!(got, Err(Error::Stage { .. })), "{got:?}");
}

pipeline! {
    /// Fetches `ids` from a service that fails now and then.
    pub Fetch(ids: Vec<u32>, fails: u32) -> Vec<u32> {
        gen:   source ids;
        fetch: try_map flaky(fails) [retry = 1, ordered];
        check: try_map |n: u32| Ok::<u32, String>(n);
        out:   sink collect();
    }
}

#[test]
fn a_declared_retry_can_be_changed_at_run_time_on_the_stages_declared_with_one() {
    let mut p = Fetch::new(vec![1, 2, 3], 2);
    p.stage_mut("fetch").unwrap().retry = Some(quick(3));
    assert_eq!(p.run().unwrap(), [1, 2, 3]);
    assert_eq!(p.stats().stage("fetch").unwrap().retries, 2);

    // `check` was declared without `retry`: it cannot clone its items.
    let mut p = Fetch::new(vec![1], 0);
    p.stage_mut("check").unwrap().retry = Some(quick(3));
    match p.run() {
        Err(Error::Config { stage, message }) => {
            assert_eq!(&*stage, "check");
            assert!(message.contains("Flow::retrying"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}
