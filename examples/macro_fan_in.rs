//! The article's fan-out and fan-in with `pipeline!`: two `sq` stages read
//! the same channel (each item goes to one of them), and `merge` joins
//! their outputs into one stream.
//!
//! Run it with `cargo run --example macro_fan_in`.

use pipeline::pipeline;

/// The article's `sq` stage function.
fn sq(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), pipeline::Error> {
    let run = pipeline! {
        gen:   source [2u64, 3];
        sq1:   map sq from gen;   // two readers of gen's channel ...
        sq2:   map sq from gen;
        both:  merge sq1, sq2;    // ... and their fan-in
        print: sink for_each(|n| println!("{n}"));
    };
    let stats = run.stats();
    run.run()?;
    // Which reader took which item depends on timing; the stats show it.
    println!("\n{stats}");
    Ok(())
}
