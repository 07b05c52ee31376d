use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64;
        sq:  map |n: u64| n * n [worker = 2];
        out: sink collect();
    };
}
