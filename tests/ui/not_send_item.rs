use std::rc::Rc;

use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64;
        wrap: map |n: u64| Rc::new(n);
        out:  sink collect();
    };
}
