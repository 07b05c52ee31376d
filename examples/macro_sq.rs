//! The article's first pipeline with `pipeline!`: `gen -> sq -> print`, then
//! the same squares squared again, `sq(sq(gen))`.
//!
//! Run it with `cargo run --example macro_sq`.

use pipeline::pipeline;

/// The article's `sq` stage function.
fn sq(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), pipeline::Error> {
    // gen -> sq -> print
    pipeline! {
        gen:   source [2u64, 3];
        sq:    map sq;
        print: sink for_each(|n| println!("{n}"));
    }
    .run()?;

    // sq(sq(gen)): two sq stages in a row; `ordered` keeps the input order
    // even with two workers.
    let run = pipeline! {
        gen:   source [2u64, 3];
        sq1:   map sq;
        sq2:   map sq [workers = 2, ordered];
        print: sink for_each(|n| println!("{n}"));
    };
    run.run()?;
    Ok(())
}
