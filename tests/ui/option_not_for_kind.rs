use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64 [workers = 4];
        dbl:  then |n: u64| async move { n * 2 } [blocking];
        out:  sink collect() [buffer = 8];
    };
}
