//! The link layer: how items travel between two nodes. A node's
//! [`Writer`] packs its items into [`Packet`]s and sends them into the
//! link's [`channel`]; the next node's [`Reader`] takes them out. A
//! counted link also keeps its [`permits`]: room for items, taken by the
//! writer before an item joins a packet and given back by the reader once
//! the packet is used up.
//!
//! The links between stages are bounded async-channels of packets, read
//! and written through cancel-aware ends that batch items when asked to.
//!
//! Every channel between stages is closed when the run's
//! [`Cancel`](crate::Cancel) is, by the closer each link registers with the
//! run ([`closers`]), so a blocked send or receive wakes at a cancel and
//! gives up; the fast paths (`try_send`, `try_recv`) read no clock and
//! touch no listener.
//!
//! A worker that finds its input empty or its output full does not
//! register to be woken at once: it first yields, once, so that the
//! executor runs its other tasks, and looks again. Registering a waiter
//! and waking it costs both sides a lock on the channel's waiter list and
//! the executor a round trip, while the task that fills the input (or
//! drains the output) is most often running already and done within a
//! packet's time; the look after the yield finds its work without either.
//! On the per-item benches the framework's cells ran at 1.04-1.20x the
//! same graph hand-wired with `recv().await` and `send().await` before
//! this, and at 0.77-1.06x with it (BENCHMARKS.md). A cancel still ends the wait at
//! once: the yield returns at the next poll, and the look sees the
//! closed channel.
//!
//! A link whose writer batches adaptively is *counted*: its buffer is a
//! number of item permits (see [`permits`]) that cover the packet
//! being filled and the packet being read as well as the channel, so the
//! link holds at most its buffer however its items are packed. Other links
//! count packets in the channel, and the packets at either end come on top.

pub(crate) mod channel;
pub(crate) mod closers;
pub(crate) mod item;
#[cfg(all(test, pipeline_loom))]
mod loom_tests;
pub(crate) mod packet;
pub(crate) mod permits;
pub(crate) mod reader;
pub(crate) mod writer;

pub(crate) use channel::{link, recv_timed, LinkRx, LinkTx, Stopped};
pub(crate) use packet::{Msg, Packet};
pub(crate) use permits::Permits;
pub(crate) use reader::{Poll, Reader, Refill, Taken};
pub(crate) use writer::{Clear, Pushed, Writer};
