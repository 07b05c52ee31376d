//! The article's early stop with `pipeline!`: read only the first value and
//! return. The rest of the pipeline is cancelled, and no stage is left
//! running: the live-task count is 0 once `run()` returns.
//!
//! Run it with `cargo run --example macro_early_stop`.

use pipeline::pipeline;

/// The article's `sq` stage function.
fn sq(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), pipeline::Error> {
    let run = pipeline! {
        gen:   source 2u64..;                 // an endless source
        sq1:   map sq from gen [workers = 2];
        sq2:   map sq from gen [workers = 2];
        both:  merge sq1, sq2;
        first: sink first();
    };
    let live = run.live_tasks();
    let first = run.run()?;
    println!("first value: {first:?}");
    println!("live tasks after the run: {}", live.get());
    assert_eq!(live.get(), 0);
    Ok(())
}
