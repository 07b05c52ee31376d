use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64;
        a:    map |n: u64| n + 1 from c;
        b:    map |n: u64| n * 2;
        c:    merge b, gen;
        out:  sink collect() from b;
    };
}
