use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:  source 0..10u64;
        sq:   map |n: u64| n * n [item_timeout = std::time::Duration::from_millis(5)];
        dbl:  then |n: u64| async move { n * 2 } [retry = 3];
        chk:  try_map |n: u64| Ok::<u64, String>(n) [retry = 0];
        slow: try_then |n: u64| async move { Ok::<u64, String>(n) } [item_timeout = 5];
        out:  sink collect();
    };
}
