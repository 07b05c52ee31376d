use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64 [adaptive];
        sq:  map |n: u64| n * n [adaptive, batch = 16];
        out: sink collect();
    };
}
