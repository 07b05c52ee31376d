use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64;
        sq1: map |n: u64| n * n;
        sq2: map |n: u64| n * n from generator;
        out: merge sq1, sq3;
        print: sink for_each(|n: u64| println!("{n}"));
    };
}
