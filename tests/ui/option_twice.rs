use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64;
        sq:  map |n: u64| n * n [workers = 2, buffer = 4, workers = 3];
        out: sink collect();
    };
}
