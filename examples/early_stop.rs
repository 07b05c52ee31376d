//! The article's early stop, with the builder: read only the first value
//! and return. In Go, without `done` the upstream goroutines would block
//! forever on their sends; here the run cancels them, and the live-task
//! count shows that none is left.
//!
//!     cargo run --example early_stop

use pipeline::{Error, Pipeline, StageConfig};

fn main() -> Result<(), Error> {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let input = p.from_iter("gen", 1u64..); // endless
    let c1 = input
        .clone()
        .map(StageConfig::new("sq1").buffer(1), |n| n * n);
    let c2 = input.map(StageConfig::new("sq2").buffer(1), |n| n * n);
    let first = p.merge("merge", [c1, c2]).first().run()?;
    println!("first: {}", first.unwrap_or_default());
    println!("live tasks after return: {}", live.get());
    assert_eq!(live.get(), 0);
    Ok(())
}
