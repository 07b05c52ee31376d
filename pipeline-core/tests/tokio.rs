//! The `tokio` feature: stage functions run inside a tokio runtime
//! context. Real tokio timers and a real loopback TCP echo server, in
//! async, blocking and inline stages and in sources; a run awaited from a
//! tokio task, and a stream consumed by one.

#![cfg(feature = "tokio")]

use std::time::Duration;

use futures::StreamExt;
use pipeline_core::{Pipeline, StageConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP server on loopback that echoes every byte, on a tokio runtime of
/// its own; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// Sends `n` as text to the echo server and reads it back.
async fn echo(addr: std::net::SocketAddr, n: u64) -> std::io::Result<u64> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let text = n.to_string();
    stream.write_all(text.as_bytes()).await?;
    let mut back = vec![0; text.len()];
    stream.read_exact(&mut back).await?;
    Ok(String::from_utf8(back).unwrap().parse().unwrap())
}

#[test]
fn async_stages_await_tokio_timers_and_sockets() {
    let addr = echo_server();
    let got = Pipeline::new()
        .from_iter("gen", 0..50u64)
        .then(StageConfig::new("sleep").workers(8), |n| async move {
            tokio::time::sleep(Duration::from_millis(n % 3)).await;
            n
        })
        .try_then(StageConfig::new("echo").workers(4).ordered(), move |n| {
            echo(addr, n)
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_tokio_timeout_in_a_stage_fires() {
    let got = Pipeline::new()
        .from_iter("gen", 0..3u64)
        .then("wait", |n| async move {
            let never = std::future::pending::<()>();
            tokio::time::timeout(Duration::from_millis(5), never)
                .await
                .map_or(n, |()| u64::MAX)
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn blocking_and_inline_stages_and_sources_see_the_runtime() {
    let addr = echo_server();
    let got = Pipeline::new()
        .from_async("gen", |mut em| async move {
            for n in 0..10u64 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if em.send(n).await.is_err() {
                    return;
                }
            }
        })
        .map(
            StageConfig::new("blocking").blocking().workers(2),
            move |n| {
                let handle = tokio::runtime::Handle::current();
                handle.block_on(echo(addr, n)).unwrap()
            },
        )
        .map("inline", |n| {
            // The context is there: spawning on it works.
            let task = tokio::runtime::Handle::current().spawn(async move { n * 2 });
            drop(task);
            n
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_awaited_from_tokio_and_a_stream_consumed_by_a_tokio_task() {
    let sum = Pipeline::new()
        .from_iter("gen", 0..1000u64)
        .then(StageConfig::new("sleep").workers(16), |n| async move {
            tokio::time::sleep(Duration::from_micros(n % 7)).await;
            n
        })
        .fold(0u64, |a, n| a + n)
        .run_async()
        .await
        .unwrap();
    assert_eq!(sum, (0..1000).sum::<u64>());
    let task = tokio::spawn(async {
        let mut s = Pipeline::new().from_iter("gen", 0..100u64).stream();
        let mut n = 0;
        while let Some(item) = s.next().await {
            n += item.unwrap();
        }
        n
    });
    assert_eq!(task.await.unwrap(), (0..100).sum::<u64>());
}
