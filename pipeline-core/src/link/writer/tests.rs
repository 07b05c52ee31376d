//! The writer's own tests: cancel, room, batches.

use super::*;
use crate::error::Error;
use crate::link::channel::channel;
use crate::link::reader::Reader;
use crate::link::LinkRx;
use crate::stats::tests::local;

#[test]
fn a_cancel_wakes_a_blocked_writer_which_stops() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(1, &stop);
    let mut w = Writer::new(LinkTx { tx, permits: None }, stop.clone(), 1, false);
    let mut stats = local();
    assert_eq!(w.push(Ok(1), &mut stats), Pushed::Done);
    assert_eq!(w.push(Ok(2), &mut stats), Pushed::Full);
    let blocked = std::thread::spawn(move || smol::block_on(w.send_waiting(&mut stats)));
    stop.cancel().cancel();
    assert!(blocked.join().unwrap().is_err());
    drop(rx);
}

#[test]
fn room_taken_for_a_packet_sent_early_goes_back_at_a_flush() {
    let stop = Stop::new();
    let cfg = StageConfig::new("s").buffer(4);
    let (tx, rx) = crate::link::link::<u32>(&cfg, &stop);
    let permits = tx.permits.clone().expect("adaptive links are counted");
    let mut w = Writer::for_node(tx, &cfg, stop.clone());
    let mut stats = local();
    // The consumer is idle: the item goes at once, alone, and the
    // writer keeps the room it took for the rest of the packet.
    assert_eq!(w.push(Ok(1), &mut stats), Pushed::Done);
    assert!(!w.has_partial());
    assert!(w.holds());
    assert_eq!(permits.free(), 0);
    smol::block_on(w.flush(&mut stats)).unwrap();
    assert!(!w.holds());
    assert_eq!(permits.free(), 3, "only the item sent holds a permit");
    drop((w, rx));
}

#[test]
fn clearing_before_a_wait_leaves_the_writer_holding_nothing() {
    let stop = Stop::new();
    let cfg = StageConfig::new("s").buffer(4);
    let (tx, rx) = crate::link::link::<u32>(&cfg, &stop);
    let permits = tx.permits.clone().expect("adaptive links are counted");
    let mut w = Writer::for_node(tx, &cfg, stop.clone());
    let mut stats = local();
    assert_eq!(w.push(Ok(1), &mut stats), Pushed::Done);
    assert!(w.holds());
    let _clear = smol::block_on(w.clear(&mut stats)).unwrap();
    assert!(!w.holds());
    assert_eq!(permits.free(), 3);
    drop((w, rx));
}

#[test]
fn a_batch_keeps_errors_in_their_place_and_items_in_order() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(4, &stop);
    let mut w = Writer::new(LinkTx { tx, permits: None }, stop.clone(), 3, false);
    let mut stats = local();
    let sent: Vec<Msg<u32>> = vec![
        Ok(1),
        Ok(2),
        Ok(3), // a packet of items only
        Ok(4),
        Err(Error::Cancelled),
        Ok(6), // a packet that holds an error
        Ok(7), // a partial batch, flushed
    ];
    for m in sent {
        assert_eq!(w.push(m, &mut stats), Pushed::Done);
    }
    assert!(w.has_partial());
    smol::block_on(w.flush(&mut stats)).unwrap();
    drop(w);
    let mut r = Reader::new(LinkRx { rx, permits: None }, stop);
    let mut got = Vec::new();
    while let Some(m) = smol::block_on(r.next(&mut stats, Clear::no_output())) {
        got.push(m.map_err(|e| e.to_string()));
    }
    assert_eq!(
        got,
        [
            Ok(1),
            Ok(2),
            Ok(3),
            Ok(4),
            Err("pipeline cancelled".to_string()),
            Ok(6),
            Ok(7)
        ]
    );
    assert!(r.exhausted());
}
