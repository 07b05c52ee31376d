use pipeline::pipeline;

// Every problem of one pipeline is reported in one build.
fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64 [buffer = 0];
        sq:   squish |n: u64| n * n;
        cube: map |n: u64| n * n * n [workers = 2, wokers = 3];
        out:  sink collect() from cubes;
    };
}
