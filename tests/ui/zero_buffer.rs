use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64 [buffer = 0];
        sq:  map |n: u64| n * n;
        out: sink collect();
    };
}
