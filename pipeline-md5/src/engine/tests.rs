//! Unit tests of the engine's parts; the property test over every engine
//! is `tests/engine.rs`.

use md5::{Digest, Md5};

use super::emulated::ternlog;
use super::kernel::truth;
use super::*;

/// Every engine to test here: the CPU's, and the emulated 16-lane one.
fn engines() -> Vec<Engine> {
    let mut engines = Engine::available();
    engines.push(Engine::emulated());
    engines
}

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn truth_tables_are_md5s_boolean_functions() {
    let words = [
        0u32,
        !0,
        0x0F0F_0F0F,
        0x3333_3333,
        0x5555_5555,
        0xDEAD_BEEF,
        0x1234_5678,
    ];
    for &x in &words {
        for &y in &words {
            for &z in &words {
                assert_eq!(ternlog(truth::F, x, y, z), (x & y) | (!x & z));
                assert_eq!(ternlog(truth::G, x, y, z), (x & z) | (y & !z));
                assert_eq!(ternlog(truth::H, x, y, z), x ^ y ^ z);
                assert_eq!(ternlog(truth::I, x, y, z), y ^ (x | !z));
            }
        }
    }
}

#[test]
fn rfc_1321_test_suite_in_every_lane() {
    let suite: [(&[u8], &str); 7] = [
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"a", "0cc175b9c0f1b6a831c399e269772661"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            b"abcdefghijklmnopqrstuvwxyz",
            "c3fcd3d76192e4007dfb496cca67e13b",
        ),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];
    for engine in engines() {
        let mut md = MultiMd5::new(engine);
        for lane in 0..md.lanes() {
            let (message, hex) = suite[lane % suite.len()];
            md.start(lane);
            md.update(lane, message);
            assert_eq!(
                crate::digest::to_hex(&md.digest(lane)),
                hex,
                "{engine} lane {lane}"
            );
        }
    }
}

#[test]
fn padding_edges_match_md5_in_one_call_and_byte_by_byte() {
    let lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000];
    for engine in engines() {
        let messages: Vec<Vec<u8>> = lengths.iter().map(|&n| bytes(n, n as u8)).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let want: Vec<[u8; 16]> = refs.iter().map(|m| md5(m)).collect();
        for chunk in [1, 7, 64, 100, 4096] {
            let mut md = MultiMd5::new(engine);
            assert_eq!(
                digest_chunked(&mut md, &refs, chunk),
                want,
                "{engine}, chunk {chunk}"
            );
        }
    }
}

#[test]
fn a_lane_finishes_while_the_others_keep_their_partial_blocks() {
    for engine in engines() {
        let mut md = MultiMd5::new(engine);
        let long = bytes(10_000, 1);
        for lane in 0..md.lanes() {
            md.start(lane);
            md.update(lane, &long[..100 + lane]);
        }
        // Lane 0 ends now; the others hold 100 + lane bytes and go on.
        assert_eq!(md.digest(0), md5(&long[..100]), "{engine}");
        assert_eq!(md.status(0), LaneStatus::Idle);
        for lane in 1..md.lanes() {
            md.update(lane, &long[100 + lane..5_000 + lane]);
        }
        md.start(0);
        md.update(0, b"abc");
        assert_eq!(md.digest(0), md5(b"abc"), "{engine}");
        for lane in (1..md.lanes()).rev() {
            assert_eq!(
                md.digest(lane),
                md5(&long[..5_000 + lane]),
                "{engine} lane {lane}"
            );
        }
    }
}

#[test]
fn compress_stops_at_the_first_hungry_or_done_lane_and_skips_idle_ones() {
    let md = MultiMd5::new(Engine::emulated());
    let mut md = md;
    assert_eq!(md.compress(), 0, "all lanes idle");
    md.start(3);
    md.update(3, &[7; 64 * 5 + 10]);
    md.start(9);
    md.update(9, &[8; 64 * 2]);
    assert_eq!(md.status(3), LaneStatus::Busy);
    // Lanes 3 and 9 hold streams; the 14 idle lanes are masked.
    assert_eq!(md.compress(), 2);
    assert_eq!(md.status(9), LaneStatus::Hungry);
    assert_eq!(md.buffered(3), 64 * 3 + 10);
    assert_eq!(md.compress(), 0, "lane 9 is hungry");
    md.finish(9);
    assert_eq!(md.compress(), 1, "lane 9's padding block, lane 3 along");
    assert_eq!(md.status(9), LaneStatus::Done);
    assert_eq!(md.compress(), 0, "lane 9 is done");
    assert_eq!(md.digest(9), md5(&[8; 128]));
    assert_eq!(md.compress(), 2, "lane 3 alone");
    assert_eq!(md.status(3), LaneStatus::Hungry);
    assert_eq!(md.digest(3), md5(&[7; 64 * 5 + 10]));
}

#[test]
fn fill_reads_into_the_lane_and_an_error_changes_nothing() {
    for engine in engines() {
        let mut md = MultiMd5::new(engine);
        md.start(0);
        let n = md.fill(0, 100, |room| {
            room[..5].copy_from_slice(b"hello");
            Ok::<_, ()>(5)
        });
        assert_eq!(n, Ok(5));
        let failed = md.fill(0, 100, |room| {
            room.fill(b'x');
            Err("read failed")
        });
        assert_eq!(failed, Err("read failed"));
        md.update(0, b"\n");
        assert_eq!(md.digest(0), md5(b"hello\n"), "{engine}");
    }
}

#[test]
fn engines_by_name() {
    assert_eq!(Engine::from_name("scalar"), Ok(Engine::scalar()));
    assert_eq!(Engine::scalar().name(), "scalar x1");
    assert_eq!(Engine::from_name("auto"), Ok(Engine::best()));
    assert_eq!(
        Engine::from_name("sse9"),
        Err(EngineError::Unknown("sse9".to_string()))
    );
    for name in ENGINE_NAMES {
        match Engine::from_name(name) {
            Ok(engine) => assert_eq!(engine.id(), name),
            Err(err) => assert_eq!(err, EngineError::Unsupported(name)),
        }
    }
    let avx2 = Engine::from_name("avx2");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(avx2.is_ok(), std::arch::is_x86_feature_detected!("avx2"));
    if let Ok(avx2) = avx2 {
        assert_eq!((avx2.name().as_str(), avx2.lanes()), ("avx2 x8", 8));
    }
    let portable = Engine::from_name("portable").expect("portable runs everywhere");
    assert_eq!(
        (portable.name().as_str(), portable.lanes()),
        ("portable x4", 4)
    );
    assert_eq!(Engine::available()[0], Engine::scalar());
    assert_eq!(Engine::available()[1], portable);
    assert_eq!(Engine::available().last(), Some(&Engine::best()));
}

#[test]
fn a_pass_runs_on_the_narrowest_kernel_that_holds_its_lanes() {
    let width = |engine: Engine, taken| engine.kernel_for(taken).map(|(_, width)| width);
    for engine in engines() {
        if engine.kernel().is_none() {
            assert_eq!(width(engine, 1), None, "{engine}: md-5's own path");
            continue;
        }
        for taken in 1..=5 {
            assert_eq!(width(engine, taken), Some(taken), "{engine}: side by side");
        }
        assert_eq!(
            width(engine, engine.lanes()),
            Some(engine.lanes()),
            "{engine}"
        );
        let avx2_too = engine.id() == "avx512" && Engine::from_name("avx2").is_ok();
        if engine.id() == "avx2-dual" || avx2_too {
            assert_eq!(width(engine, 6), Some(8), "{engine}: the 8-lane chain");
            assert_eq!(width(engine, 8), Some(8), "{engine}: the 8-lane chain");
            assert_eq!(width(engine, 9), Some(16), "{engine}: all its lanes");
        }
    }
}

#[test]
fn a_few_long_streams_side_by_side_give_md5s_digests() {
    // `long` streams outlast ten short ones, so the passes after the short
    // ones end run `long` lanes on the scalar kernel of that width (and
    // the last of each length on the narrower ones); on the scalar engine,
    // through md-5.
    for long in 1..=7 {
        let data: Vec<Vec<u8>> = (0..long)
            .map(|i| bytes(60_000 + 4_133 * i, i as u8))
            .chain((0..10).map(|i| bytes(64 * i + 55, 40 + i as u8)))
            .collect();
        let messages: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        for engine in engines() {
            let got = digest_chunked(&mut MultiMd5::new(engine), &messages, 3_000);
            for (message, digest) in messages.iter().zip(&got) {
                assert_eq!(*digest, md5(message), "{engine}, {long} long");
            }
        }
    }
}

#[test]
fn lanes_left_alone_or_few_give_md5s_digests() {
    // One long message among short ones: it ends alone on the one-lane
    // kernel; eight of sixteen end together on the 8-lane chain.
    let long = bytes(300_000, 7);
    let short: Vec<Vec<u8>> = (0..15).map(|i| bytes(100 + 997 * i, i as u8)).collect();
    let mut messages: Vec<&[u8]> = vec![&long];
    messages.extend(short.iter().map(Vec::as_slice));
    let halves: Vec<Vec<u8>> = (0..16)
        .map(|i| bytes(if i < 8 { 5_000 } else { 90_000 }, i as u8))
        .collect();
    for engine in engines() {
        let mut md = MultiMd5::new(engine);
        let got = digest_chunked(&mut md, &messages, 4096);
        for (message, digest) in messages.iter().zip(&got) {
            assert_eq!(*digest, md5(message), "{engine}");
        }
        let halves: Vec<&[u8]> = halves.iter().map(Vec::as_slice).collect();
        let got = digest_chunked(&mut md, &halves, 4096);
        for (message, digest) in halves.iter().zip(&got) {
            assert_eq!(*digest, md5(message), "{engine}");
        }
    }
}

#[test]
fn a_suspended_stream_resumes_in_another_lane_and_another_multi_md5() {
    for engine in engines() {
        let lanes = engine.lanes();
        let messages: Vec<Vec<u8>> = (0..lanes).map(|i| bytes(1000 + 777 * i, i as u8)).collect();
        let mut first = MultiMd5::new(engine);
        let mut second = MultiMd5::new(engine);
        // Every lane takes the first 3 blocks and 5 bytes (some of it still
        // uncompressed), then its stream moves to the mirror lane of the
        // other set of lanes, which feeds the rest.
        let cut = 3 * 64 + 5;
        for (lane, message) in messages.iter().enumerate() {
            first.start(lane);
            first.update(lane, &message[..cut]);
        }
        first.compress();
        for (lane, message) in messages.iter().enumerate() {
            let stream = first.suspend(lane);
            assert_eq!(first.status(lane), LaneStatus::Idle, "{engine}");
            let to = lanes - 1 - lane;
            second.resume(to, stream);
            second.update(to, &message[cut..]);
        }
        for (lane, message) in messages.iter().enumerate() {
            assert_eq!(second.digest(lanes - 1 - lane), md5(message), "{engine}");
        }
        // The lanes left behind take new streams as usual.
        first.start(0);
        first.update(0, b"abc");
        assert_eq!(first.digest(0), md5(b"abc"), "{engine}");
    }
}
