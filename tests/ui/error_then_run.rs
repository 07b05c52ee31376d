use pipeline::pipeline;

// A rejected pipeline used as a value adds no errors of its own.
fn main() {
    let squares: Vec<u64> = pipeline! {
        gen: source 0..10u64;
        sq:  map |n: u64| n * n [workers = 0, buffer = 0];
        out: sink collect();
    }
    .run()
    .unwrap();
    println!("{squares:?}");
}
