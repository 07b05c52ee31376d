//! The article's first pipeline, with the builder: `gen -> sq -> print`,
//! then `sq(sq(gen))`.
//!
//!     cargo run --example sq

use pipeline::{Error, Pipeline};

fn main() -> Result<(), Error> {
    // gen(2, 3) -> sq -> print: 4 then 9.
    Pipeline::new()
        .from_iter("gen", [2u64, 3])
        .map("sq", |n| n * n)
        .for_each(|n| println!("{n}"))
        .run()?;

    // Stages compose: sq(sq(gen(2, 3))) prints 16 then 81.
    Pipeline::new()
        .from_iter("gen", [2u64, 3])
        .map("sq", |n| n * n)
        .map("sq again", |n| n * n)
        .for_each(|n| println!("{n}"))
        .run()?;
    Ok(())
}
