use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64;
        out: sink collect();
        sq:  map |n: u64| n * n;
    };
}
