use pipeline::pipeline;

fn double(n: u64) -> u64 {
    n * 2
}

fn main() {
    let workers = 0;
    let table: [fn(u64) -> u64; 1] = [double];
    let _run = pipeline! {
        gen: source 0..10u64;
        op:  map table[workers];
        out: sink collect();
    };
}
