//! The reader's own tests: cancel, batches, what it drops.

use super::*;
use crate::link::channel::channel;
use crate::stats::tests::local;

#[test]
fn a_cancel_wakes_a_blocked_reader_which_reads_as_not_exhausted() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(1, &stop);
    let waiter = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut r = Reader::new(LinkRx { rx, permits: None }, stop);
            let got = smol::block_on(r.wait(&mut local(), Clear::no_output()));
            (got.is_none(), r.exhausted())
        }
    });
    stop.cancel().cancel();
    assert_eq!(waiter.join().unwrap(), (true, false));
    drop(tx);
}

#[test]
fn a_refilled_batch_stays_whole_in_its_allocation() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(4, &stop);
    let mut r = Reader::new(LinkRx { rx, permits: None }, stop);
    let mut stats = local();
    let batch = vec![1, 2, 3];
    let at = batch.as_ptr();
    tx.try_send(Packet::Items(batch)).unwrap();
    tx.try_send(Packet::One(4)).unwrap();
    tx.try_send(Packet::Items(vec![5, 6])).unwrap();
    drop(tx);
    // Waiting: the batch is not split, and it is the allocation sent.
    assert!(matches!(
        smol::block_on(r.refill(&mut stats, Clear::no_output())),
        Refill::Batch
    ));
    let pending = r.pending_items().expect("the batch is pending");
    assert_eq!(pending.as_slice(), [1, 2, 3]);
    assert_eq!(pending.as_slice().as_ptr(), at);
    pending.next();
    // Not waiting: the rest of the batch first, then a one-item packet
    // comes back as its item, and a batch stays whole.
    assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(2))));
    assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(3))));
    assert!(matches!(r.try_refill(&mut stats), Refill::Item(Ok(4))));
    assert!(matches!(r.try_refill(&mut stats), Refill::Batch));
    assert_eq!(
        r.pending_items().map(|p| p.as_slice().to_vec()),
        Some(vec![5, 6])
    );
    r.pending_items()
        .expect("the batch is pending")
        .for_each(drop);
    assert!(matches!(r.try_refill(&mut stats), Refill::Closed));
    assert!(r.exhausted());
}

#[test]
fn a_reader_dropped_after_a_cancel_counts_what_it_leaves_unread() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(4, &stop);
    let mut r = Reader::new(LinkRx { rx, permits: None }, stop.clone());
    let mut stats = local();
    tx.try_send(Packet::Items(vec![1, 2, 3])).unwrap();
    tx.try_send(Packet::One(4)).unwrap();
    tx.try_send(Packet::Items(vec![5, 6])).unwrap();
    assert!(matches!(r.try_next(&mut stats), Poll::Item(Ok(1))));
    stop.cancel().cancel();
    drop(r);
    // 2 and 3 of its packet, then 4, 5 and 6 in the channel.
    assert_eq!(stop.drain().lost(), 5);
    assert!(tx.is_closed());
}

#[test]
fn a_reader_that_ends_with_its_input_counts_nothing() {
    let stop = Stop::new();
    let (tx, rx) = channel::<u32>(4, &stop);
    let mut r = Reader::new(LinkRx { rx, permits: None }, stop.clone());
    let mut stats = local();
    tx.try_send(Packet::Items(vec![1, 2])).unwrap();
    drop(tx);
    while let Poll::Item(_) = r.try_next(&mut stats) {}
    drop(r);
    assert_eq!(stop.drain().lost(), 0);
}
