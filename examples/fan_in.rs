//! The article's fan-out and fan-in, with the builder: two `sq` stages read
//! the same channel (each item goes to one of them), and `merge` joins their
//! outputs into one channel that closes when both are done.
//!
//!     cargo run --example fan_in

use pipeline::{Error, Pipeline};

fn sq(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), Error> {
    let p = Pipeline::new();
    let input = p.from_iter("gen", [2u64, 3]);
    // Two readers of one channel: fan-out.
    let c1 = input.clone().map("sq1", sq);
    let c2 = input.map("sq2", sq);
    // Fan-in: 4 and 9, in either order.
    p.merge("merge", [c1, c2])
        .for_each(|n| println!("{n}"))
        .run()?;
    Ok(())
}
