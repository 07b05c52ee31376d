use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64 from nothing;
        sq1:  map |n: u64| n * n;
        sq2:  map |n: u64| n + 1 from gen;
        one:  merge sq1;
        both: merge from sq1, sq2;
        out:  sink collect();
        more: map |n: u64| n from out;
    };
}
