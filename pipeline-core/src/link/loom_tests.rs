//! The room/permit protocol of a counted link, model-checked with loom
//! (`RUSTFLAGS="--cfg pipeline_loom"`; see the README): loom runs each
//! model in every order of its threads' steps that can matter,
//! within `LOOM_MAX_PREEMPTIONS` forced switches, and fails a model that
//! panics or in which every thread waits (a deadlock, or a lost wake-up).
//!
//! What runs is the link's own code: [`Permits`], [`Room`], [`Writer`]
//! (its push, bulk and slow paths), [`Reader`] and the channel with its
//! closer, run by the run's [`Stop`] when its signal closes. The permits'
//! atomics and their `Event`, and the flag and locks of the signal and the
//! stop, are loom's ([`crate::sync`]); async-channel is
//! one step per operation for loom (see [`crate::sync::model`]). smol's
//! executor does not run under loom: each task here is a loom thread
//! driving its future with [`block_on`], which is all the link asks of an
//! executor (poll again once woken), and a wait that nothing will end is
//! a loom deadlock.
//!
//! Modelled, one test each:
//! - two takers of the same permits at once never hold more than the
//!   link's buffer, and every permit comes back (a writer's room when it
//!   goes, a packet's when its reader gives it back);
//! - a writer that finds no permit, or the channel full, is woken by the
//!   reader that frees room, and a reader waiting on an empty link by the
//!   writer's packet: no lost wake-up either way, whatever the order;
//! - the same through a source's bulk path (`fill`, `BulkAdd::commit`);
//! - a cancel from a third thread while a writer and a reader are about
//!   to wait, or waiting: both are released, and the reader saw a prefix
//!   of what was sent, in order;
//! - the writer rule of f9dd053 (let go of room before waiting for
//!   input), with the rule followed and with it broken on purpose, to
//!   show that loom finds the hang the break caused.

use crate::build::StageConfig;
use crate::link::permits::Room;
use crate::link::{link, Clear, LinkRx, LinkTx, Permits, Pushed, Reader, Refill, Writer};
use crate::stats::tests::local;
use crate::stop::Stop;
use crate::sync::model::{block_on, join, model, spawn};

/// A counted link of `buffer` items (2 or more: adaptive batching with
/// packets of more than one item), closed when the signal of `stop` is,
/// with the settings its writer takes.
fn counted(buffer: usize, stop: &Stop) -> (StageConfig, LinkTx<u32>, LinkRx<u32>) {
    let cfg = StageConfig::new("l").buffer(buffer);
    let (tx, rx) = link::<u32>(&cfg, stop);
    assert!(
        tx.permits.is_some(),
        "an adaptive link of packets of 2 is counted"
    );
    (cfg, tx, rx)
}

/// Reads every message until the link closes (or the run is cancelled):
/// a sink, which holds no room of its own while it waits.
fn read_all(rx: LinkRx<u32>, stop: Stop) -> Vec<u32> {
    let mut r = Reader::new(rx, stop);
    let mut stats = local();
    let mut got = Vec::new();
    block_on(async {
        while let Some(m) = r.next(&mut stats, Clear::no_output()).await {
            got.push(m.expect("only items are sent"));
        }
    });
    got
}

#[test]
fn takers_never_overdraw_the_permits_and_every_permit_comes_back() {
    model(|| {
        let permits = Permits::new(2);
        // A writer taking room for a packet of two and putting one item
        // in it; its room stays alive until the end, so that both takes
        // overlap.
        let writer = spawn({
            let permits = permits.clone();
            move || {
                let mut room = Room::new(Some(permits));
                let got = room.up_to(2).unwrap_or(0);
                if got > 0 {
                    room.used(1);
                }
                (room, got)
            }
        });
        // Another writer of the same link, taking what it can at once.
        let theirs = permits.try_take(2);
        let (room, got) = join(writer);
        assert!(got + theirs <= 2, "{got} + {theirs} permits out of 2");
        // The room goes: the permits not used go back, the item's stays.
        drop(room);
        permits.give(theirs);
        let sent = usize::from(got > 0);
        assert_eq!(permits.free(), 2 - sent);
        // Its reader uses the item up and gives its permit back.
        permits.give(sent);
        assert_eq!(permits.free(), 2);
    });
}

#[test]
fn a_writer_waiting_for_room_and_a_reader_waiting_for_items_always_wake() {
    model(|| {
        let stop = Stop::new();
        let (cfg, tx, rx) = counted(2, &stop);
        let permits = tx.permits.clone().expect("counted");
        // Three items through room for two: the writer runs out of
        // permits at least once, unless the reader is quick.
        let writer = spawn({
            let stop = stop.clone();
            move || {
                let mut w = Writer::for_node(tx, &cfg, stop);
                let mut stats = local();
                block_on(async {
                    for i in 0..3 {
                        w.send(Ok(i), &mut stats).await.expect("not cancelled");
                    }
                    w.flush(&mut stats).await.expect("not cancelled");
                });
            }
        });
        let got = read_all(rx, stop);
        join(writer);
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(permits.free(), 2, "every permit came back");
    });
}

#[test]
fn a_source_filling_in_bulk_is_woken_by_its_reader() {
    model(|| {
        let stop = Stop::new();
        let (cfg, tx, rx) = counted(2, &stop);
        let permits = tx.permits.clone().expect("counted");
        // `iter_source`'s loop: batches filled in bulk (room taken for
        // the batch, items added, then committed), the slow path when full.
        let source = spawn({
            let stop = stop.clone();
            move || {
                let mut w = Writer::for_node(tx, &cfg, stop);
                let mut stats = local();
                let mut items = 0..3u32;
                block_on(async {
                    loop {
                        let (more, pushed) = w.fill(&mut items, &mut stats);
                        match pushed {
                            Pushed::Done => {}
                            Pushed::Full => {
                                w.send_waiting(&mut stats).await.expect("not cancelled")
                            }
                            Pushed::Stopped => panic!("nothing cancels this run"),
                        }
                        if !more {
                            break;
                        }
                    }
                    w.flush(&mut stats).await.expect("not cancelled");
                });
            }
        });
        let got = read_all(rx, stop);
        join(source);
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(permits.free(), 2, "every permit came back");
    });
}

#[test]
fn a_cancel_releases_a_writer_and_a_reader_at_any_point() {
    model(|| {
        let stop = Stop::new();
        let (cfg, tx, rx) = counted(2, &stop);
        // Sends until stopped: with room for two and a reader that may be
        // slow, it may wait for room when the cancel comes.
        let writer = spawn({
            let stop = stop.clone();
            move || {
                let mut w = Writer::for_node(tx, &cfg, stop);
                let mut stats = local();
                block_on(async {
                    for i in 0..3 {
                        if w.send(Ok(i), &mut stats).await.is_err() {
                            return false;
                        }
                    }
                    w.flush(&mut stats).await.is_ok()
                })
            }
        });
        let reader = spawn({
            let stop = stop.clone();
            move || read_all(rx, stop)
        });
        stop.cancel().cancel();
        assert!(stop.cancel().is_cancelled());
        let _finished = join(writer);
        let got = join(reader);
        // What the reader took before the cancel came, in order.
        assert_eq!(got, (0..got.len() as u32).collect::<Vec<_>>());
    });
}

/// What a worker does before it waits for input.
#[derive(Clone, Copy)]
enum Rule {
    /// Lets go of what its writer holds, as [`Writer::clear`] does: sends
    /// the partial batch and gives back the room it took and did not use.
    Clear,
    /// The rule before f9dd053: sends a partial batch if there is one,
    /// and keeps the room. Room taken for a packet and not used (the
    /// bulk path takes room for a whole batch before it looks at the
    /// input) stays with a worker that waits for input; a sibling that
    /// holds an input packet then waits for that room for ever, and the
    /// source waits for the input room that packet holds, which the
    /// first worker's input waits for: a cycle, the hang of f9dd053.
    OnlyPartial,
}

/// The loop of a worker of a bulk map stage (node/worker.rs's `worker`
/// with fast.rs's `work_ready`), down to its calls on the two links: the
/// identity function, items of one input packet each.
async fn worker(mut input: Reader<u32>, mut output: Writer<u32>, rule: Rule) {
    let mut stats = local();
    let mut first = None;
    'work: loop {
        // The part that does not wait: `work_ready`.
        let empty = 'ready: loop {
            if let Some(m) = first.take() {
                match output.push(m, &mut stats) {
                    Pushed::Done => {}
                    Pushed::Stopped => return,
                    Pushed::Full => {
                        if output.send_waiting(&mut stats).await.is_err() {
                            return;
                        }
                    }
                }
            }
            // The bulk map: room for a batch first, then the input.
            while let Some(mut add) = output.bulk() {
                let (buf, room, idle) = add.parts();
                let Some(items) = input.pending_items() else {
                    break;
                };
                for item in items.take(room) {
                    buf.push(item);
                    if idle.now() {
                        break;
                    }
                }
                match add.commit(&mut stats) {
                    Pushed::Done => {}
                    Pushed::Stopped => return,
                    Pushed::Full => {
                        if output.send_waiting(&mut stats).await.is_err() {
                            return;
                        }
                    }
                }
            }
            match input.try_refill(&mut stats) {
                Refill::Item(m) => first = Some(m),
                Refill::Batch => {}
                Refill::Empty => break 'ready true,
                Refill::Closed => break 'ready false,
            }
        };
        if !empty {
            break 'work;
        }
        // About to wait for input.
        let clear = match rule {
            Rule::Clear => match output.clear(&mut stats).await {
                Ok(clear) => clear,
                Err(_) => return,
            },
            Rule::OnlyPartial => {
                if output.has_partial() && output.flush(&mut stats).await.is_err() {
                    return;
                }
                // A proof it has no right to: the room may still be held.
                Clear::no_output()
            }
        };
        match input.refill(&mut stats, clear).await {
            Refill::Item(m) => first = Some(m),
            Refill::Batch => {}
            Refill::Empty | Refill::Closed => break 'work,
        }
    }
    let _ = output.flush(&mut stats).await;
}

/// The graph of f9dd053, at its smallest: a source sends two items, one
/// per packet, into a counted link of one item; two workers of a bulk
/// map stage share that input and a counted output of two items, which
/// is read once they are done (it holds both items, so no reader needs
/// to run meanwhile). Each worker follows `rule` before it waits for
/// input. Returns what the output holds, in some order.
fn two_workers(rule: Rule) -> Vec<u32> {
    let stop = Stop::new();
    let (input_tx, input_rx) = async_channel::bounded(1);
    let input_permits = Permits::new(1);
    let input_rx = LinkRx {
        rx: input_rx,
        permits: Some(input_permits.clone()),
    };
    let (cfg, out_tx, out_rx) = counted(2, &stop);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let input = Reader::new(input_rx.clone(), stop.clone());
            let output = Writer::for_node(out_tx.clone(), &cfg, stop.clone());
            spawn(move || block_on(worker(input, output, rule)))
        })
        .collect();
    drop((input_rx, out_tx));
    // The source, on this thread: one item per packet, a permit each.
    let link = LinkTx {
        tx: input_tx,
        permits: Some(input_permits),
    };
    let mut source = Writer::new(link, stop.clone(), 1, false);
    let mut stats = local();
    block_on(async {
        for i in 0..2 {
            source.send(Ok(i), &mut stats).await.expect("not cancelled");
        }
        source.flush(&mut stats).await.expect("not cancelled");
    });
    drop(source);
    for w in workers {
        join(w);
    }
    let mut got = read_all(out_rx, stop);
    got.sort_unstable();
    got
}

#[test]
fn workers_that_let_go_of_their_room_before_waiting_never_hang() {
    model(|| {
        assert_eq!(two_workers(Rule::Clear), [0, 1]);
    });
}

/// The proof that the model catches the hang of f9dd053: the same graph
/// with the rule broken on purpose ([`Rule::OnlyPartial`]) deadlocks in
/// some order of the threads, and loom finds it.
#[test]
#[should_panic(expected = "deadlock")]
fn loom_finds_the_hang_of_a_worker_that_waits_holding_room() {
    model(|| {
        two_workers(Rule::OnlyPartial);
    });
}
