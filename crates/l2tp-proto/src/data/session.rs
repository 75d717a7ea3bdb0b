//! Per-tunnel and per-session state, and the receive rules applied to one data packet of a
//! known session (DESIGN §4, as `net/l2tp/l2tp_core.c` applies them):
//!
//! 1. sequencing presence (RFC 2661 §5.4): the LAC follows the LNS's choice, RECVSEQ drops
//!    packets without Ns, LNS mode drops them while it sends Ns;
//! 2. the window: Ns must be within half the sequence space ahead of the expected Nr;
//! 3. REORDERTO > 0: hold out-of-order packets in Ns order, release in order, drop those that
//!    waited longer than the timeout and resynchronise to the next held one;
//! 4. REORDERTO = 0: drop out-of-order packets, but after [`OOS_RESYNC_RUN`] consecutive
//!    packets in order among themselves, resynchronise to them.
//!
//! The first sequenced packet sets the expected Nr. A packet without sequence numbers that
//! the rules accept carries no order: it is delivered on arrival (the kernel queues it behind
//! any held packets; with no Ns it cannot be put in order anyway).
//!
//! Deliberate differences from the kernel, each for a reason:
//! - the reorder queue is bounded (the kernel's is not); when full, the gap is given up and
//!   the held packets released, so nothing received is lost to the bound;
//! - duplicates of a held Ns are dropped (the kernel would hold both and stall);
//! - packets outside the window count `rx_seq_discards` as well as `rx_errors` (the kernel
//!   counts only `rx_errors`), so every sequencing drop shows in the sequencing counter;
//! - the REORDERTO = 0 resynchronisation needs one packet fewer (see [`OOS_RESYNC_RUN`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use l2tp_wire::{SeqNum, Sequence, SessionId, TunnelId};

use super::debug::{l2tp_debug, RateLimiter};
use super::error::DropReason;
use super::options::{DebugMask, SessionOptions};
use super::reorder::{Insert, ReorderQueue};
use super::stats::L2tpStats;
use super::table::{SessionKey, SocketId};
use super::Delivery;

/// REORDERTO = 0: this many consecutive out-of-order packets, each following the previous,
/// make the expected Nr jump to follow them. The kernel (`nr_oos_count_max = 4`) counts the
/// run from the packet after the first out-of-order one, so it drops one more packet than we
/// do before it recovers.
pub const OOS_RESYNC_RUN: u8 = 4;

/// Half the 16-bit sequence space: Ns must be less than this far ahead of the expected Nr.
const WINDOW: u16 = 0x8000;

/// A tunnel management handle's state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tunnel {
    pub(crate) id: TunnelId,
    pub(crate) socket: SocketId,
    pub(crate) peer: SocketAddr,
    pub(crate) debug: DebugMask,
    pub(crate) stats: L2tpStats,
    pub(crate) sessions: usize,
}

/// A frame copied into an owned buffer because it had to wait.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct HeldFrame {
    pub(crate) buf: Vec<u8>,
    pub(crate) priority: bool,
}

/// State shared by all sessions while one packet is processed: released frames, spare
/// buffers, the debug rate limiter, reorder timers.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Shared {
    #[serde(skip)]
    pub(crate) ready: VecDeque<Delivery>,
    #[serde(skip)]
    pub(crate) pool: Vec<Vec<u8>>,
    pub(crate) pool_max: usize,
    pub(crate) limiter: RateLimiter,
    #[serde(with = "l2tp_snap::heap")]
    pub(crate) timers: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl Shared {
    /// An owned copy of `frame`, in a recycled buffer when one is spare.
    pub(crate) fn copy(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        buf
    }

    /// Keeps `buf` for reuse (up to the pool's bound).
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < self.pool_max && buf.capacity() > 0 {
            self.pool.push(buf);
        }
    }
}

/// What the rules decided for one packet of a known session.
#[derive(Debug)]
pub(crate) enum SessionRx {
    /// Deliver the frame in place (nothing released before it is waiting).
    Deliver,
    /// Held, or copied to the release list: the caller drains `poll_deliver`.
    Queued,
    /// Dropped and counted.
    Dropped(DropReason),
}

/// A session handle's state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Session {
    pub(crate) key: SessionKey,
    pub(crate) tunnel_slot: usize,
    pub(crate) peer_tunnel: TunnelId,
    pub(crate) peer_session: SessionId,
    pub(crate) opts: SessionOptions,
    /// Next Ns to send. RFC 2661 §5.4: if the LNS re-enables sequencing, "the sequence number
    /// state picks up where it left off before" — so it is never reset.
    pub(crate) ns: SeqNum,
    /// Expected Ns of the next packet; `None` until the first sequenced packet.
    pub(crate) nr: Option<SeqNum>,
    /// Resynchronise to the next held packet (set when one expired).
    pub(crate) skip: bool,
    /// Last Ns of the current run of out-of-order packets (REORDERTO = 0).
    pub(crate) oos_last: Option<SeqNum>,
    /// Length of that run.
    pub(crate) oos_run: u8,
    pub(crate) queue: ReorderQueue<HeldFrame>,
    pub(crate) stats: L2tpStats,
}

impl Session {
    /// Applies the receive rules to one data packet (already checked to come from the peer).
    ///
    /// The common cases are decided inline: nothing held, nothing waiting to be drained, no
    /// DATA debugging, and either no sequence numbers where none are required and none are
    /// sent, or exactly the expected Ns where the sequencing choice does not change. Every
    /// other packet takes [`Session::receive_rules`], which applies the rules in full; both
    /// give the same result for the packets the fast path takes.
    #[inline]
    pub(crate) fn receive(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        seq: Option<Sequence>,
        frame: &[u8],
        priority: bool,
    ) -> SessionRx {
        if self.queue.is_empty()
            && sh.ready.is_empty()
            && !self.skip
            && !self.opts.debug.contains(DebugMask::DATA)
        {
            let fast = match seq {
                None => !self.opts.recv_seq && !self.opts.send_seq,
                Some(s) => {
                    (self.opts.send_seq || self.opts.lns_mode) && self.nr == Some(s.ns) && {
                        self.nr = Some(s.ns.next());
                        self.oos_run = 0;
                        self.oos_last = None;
                        true
                    }
                }
            };
            if fast {
                let len = frame.len() as u64;
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += len;
                tun.stats.rx_packets += 1;
                tun.stats.rx_bytes += len;
                return SessionRx::Deliver;
            }
        }
        self.receive_rules(tun, sh, now, seq, frame, priority)
    }

    /// The receive rules in full.
    fn receive_rules(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        seq: Option<Sequence>,
        frame: &[u8],
        priority: bool,
    ) -> SessionRx {
        // Rule 1. RFC 2661 §5.4: "if the LAC receives a data message without sequence numbers
        // present, it MUST stop sending sequence numbers ... If the LAC receives a data message
        // with sequence numbers present, it MUST begin sending sequence numbers".
        let Some(seq) = seq else {
            if self.opts.recv_seq {
                return self.drop(tun, sh, now, DropReason::SequenceRequired);
            }
            if self.opts.send_seq {
                if self.opts.lns_mode {
                    // We are the LNS and send Ns: a LAC without them is broken.
                    return self.drop(tun, sh, now, DropReason::SequenceMissing);
                }
                self.opts.send_seq = false;
                l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                    session = %self.key, "LNS stopped sending Ns: SENDSEQ off");
            }
            return self.deliver_in_place(tun, sh, now, frame, priority);
        };
        if !self.opts.lns_mode && !self.opts.send_seq {
            self.opts.send_seq = true;
            l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                session = %self.key, "LNS sends Ns: SENDSEQ on");
        }
        if !self.queue.is_empty() {
            self.service(tun, sh, now);
        }
        let ns = seq.ns;
        // The first sequenced packet sets the expected Nr.
        let mut expected = *self.nr.get_or_insert(ns);
        // Rule 2: only Ns within half the sequence space ahead of the expected Nr.
        if ns.distance_from(expected) >= WINDOW {
            return self.drop(tun, sh, now, DropReason::OutsideWindow { ns, expected });
        }
        if self.skip && self.queue.is_empty() {
            // A held packet expired: resynchronise to this one (the kernel's reorder_skip).
            self.skip = false;
            self.nr = Some(ns);
            expected = ns;
            l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                session = %self.key, nr = ns.0, "resynchronised after expiry");
        }
        if self.opts.reorder_timeout.is_zero() {
            return self.receive_no_reorder(tun, sh, now, ns, expected, frame, priority);
        }
        // Rule 3.
        if ns == expected {
            if !self.queue.is_empty() {
                // It arrived after later ones that are waiting for it.
                self.count_oos(tun);
            }
            self.nr = Some(ns.next());
            let r = self.deliver_in_place(tun, sh, now, frame, priority);
            self.release_in_order(tun, sh, now);
            return r;
        }
        // A REORDERTO too large for the clock means "wait as long as it can": never panic.
        let deadline = now
            .checked_add(self.opts.reorder_timeout)
            .or_else(|| now.checked_add(std::time::Duration::from_secs(86_400)))
            .unwrap_or(now);
        let held = HeldFrame {
            buf: sh.copy(frame),
            priority,
        };
        match self.queue.insert(ns, deadline, held) {
            Insert::Held { out_of_order } => {
                if out_of_order {
                    self.count_oos(tun);
                }
                sh.timers.push(Reverse((deadline, self.key.raw())));
                l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                    session = %self.key, ns = ns.0, nr = expected.0, held = self.queue.len(), "held for reordering");
                SessionRx::Queued
            }
            Insert::Duplicate(h) => {
                sh.recycle(h.buf);
                self.drop(tun, sh, now, DropReason::Duplicate { ns })
            }
            Insert::Full(h) => self.overflow(tun, sh, now, ns, deadline, h),
        }
    }

    /// REORDERTO = 0 (rule 4).
    #[allow(clippy::too_many_arguments)]
    fn receive_no_reorder(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        ns: SeqNum,
        expected: SeqNum,
        frame: &[u8],
        priority: bool,
    ) -> SessionRx {
        if ns == expected {
            self.nr = Some(ns.next());
            self.oos_last = None;
            self.oos_run = 0;
            return self.deliver_in_place(tun, sh, now, frame, priority);
        }
        if self.oos_last.map(SeqNum::next) == Some(ns) {
            self.oos_run = self.oos_run.saturating_add(1);
        } else {
            self.oos_run = 1;
        }
        self.oos_last = Some(ns);
        if self.oos_run >= OOS_RESYNC_RUN {
            // The peer's numbering moved on: follow it from the next packet.
            self.nr = Some(ns.next());
            self.oos_last = None;
            self.oos_run = 0;
            l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                session = %self.key, nr = ns.next().0, "resynchronised after a run of out-of-order packets");
        }
        self.drop(tun, sh, now, DropReason::OutOfOrder { ns, expected })
    }

    /// The queue is at its bound: declare the gap lost, resynchronise to the earliest packet
    /// we have (held or this one) and release what is then in order. Nothing received is lost.
    fn overflow(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        ns: SeqNum,
        deadline: Instant,
        held: HeldFrame,
    ) -> SessionRx {
        let head = self.queue.head().map(|h| h.ns).unwrap_or(ns);
        l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
            session = %self.key, nr = ?self.nr.map(|n| n.0), resync = head.0.min(ns.0), "reorder queue full: skipping the gap");
        if ns.is_before(head) {
            self.count_oos(tun);
            self.nr = Some(ns.next());
            self.push_ready(tun, sh, now, held);
            self.release_in_order(tun, sh, now);
            return SessionRx::Queued;
        }
        self.nr = Some(head);
        self.release_in_order(tun, sh, now);
        if self.nr == Some(ns) {
            self.nr = Some(ns.next());
            self.push_ready(tun, sh, now, held);
            self.release_in_order(tun, sh, now);
            return SessionRx::Queued;
        }
        match self.queue.insert(ns, deadline, held) {
            Insert::Held { out_of_order } => {
                if out_of_order {
                    self.count_oos(tun);
                }
                sh.timers.push(Reverse((deadline, self.key.raw())));
                SessionRx::Queued
            }
            Insert::Duplicate(h) | Insert::Full(h) => {
                sh.recycle(h.buf);
                self.drop(tun, sh, now, DropReason::Duplicate { ns })
            }
        }
    }

    /// Expires held packets and releases those now in order (the kernel's
    /// `l2tp_recv_dequeue`): walking from the earliest Ns, a packet past its deadline is
    /// dropped and the expected Nr resynchronises to the next one held.
    pub(crate) fn service(&mut self, tun: &mut Tunnel, sh: &mut Shared, now: Instant) {
        while let Some(head) = self.queue.head() {
            if now >= head.deadline {
                let ns = head.ns;
                if let Some(h) = self.queue.pop_head() {
                    sh.recycle(h.item.buf);
                }
                self.skip = true;
                self.count_drop(tun, true);
                l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                    session = %self.key, ns = ns.0, "held packet expired: dropped");
                continue;
            }
            if self.skip {
                self.skip = false;
                self.nr = Some(head.ns);
                l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
                    session = %self.key, nr = head.ns.0, "resynchronised after expiry");
            }
            if Some(head.ns) != self.nr {
                break;
            }
            self.release_in_order(tun, sh, now);
        }
    }

    /// Moves held packets that are next in order to the release list.
    fn release_in_order(&mut self, tun: &mut Tunnel, sh: &mut Shared, now: Instant) {
        while let Some(head) = self.queue.head() {
            if Some(head.ns) != self.nr {
                break;
            }
            let ns = head.ns;
            if let Some(h) = self.queue.pop_head() {
                self.nr = Some(ns.next());
                self.push_ready(tun, sh, now, h.item);
            }
        }
    }

    /// Delivers in place, unless frames released earlier are still waiting to be drained (then
    /// it joins them, copied, to keep the order).
    fn deliver_in_place(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        frame: &[u8],
        priority: bool,
    ) -> SessionRx {
        if sh.ready.is_empty() {
            self.count_rx(tun, sh, now, frame.len());
            SessionRx::Deliver
        } else {
            let buf = sh.copy(frame);
            self.push_ready(tun, sh, now, HeldFrame { buf, priority });
            SessionRx::Queued
        }
    }

    fn push_ready(&mut self, tun: &mut Tunnel, sh: &mut Shared, now: Instant, h: HeldFrame) {
        self.count_rx(tun, sh, now, h.buf.len());
        sh.ready.push_back(Delivery {
            session: self.key,
            frame: h.buf,
            priority: h.priority,
        });
    }

    fn count_rx(&mut self, tun: &mut Tunnel, sh: &mut Shared, now: Instant, len: usize) {
        let len = len as u64;
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += len;
        tun.stats.rx_packets += 1;
        tun.stats.rx_bytes += len;
        l2tp_debug!(sh.limiter, now, self.opts.debug, DATA,
            session = %self.key, len, "frame delivered");
    }

    fn count_oos(&mut self, tun: &mut Tunnel) {
        self.stats.rx_oos_packets += 1;
        tun.stats.rx_oos_packets += 1;
    }

    fn count_drop(&mut self, tun: &mut Tunnel, sequencing: bool) {
        self.stats.rx_errors += 1;
        tun.stats.rx_errors += 1;
        if sequencing {
            self.stats.rx_seq_discards += 1;
            tun.stats.rx_seq_discards += 1;
        }
    }

    fn drop(
        &mut self,
        tun: &mut Tunnel,
        sh: &mut Shared,
        now: Instant,
        reason: DropReason,
    ) -> SessionRx {
        self.count_drop(tun, reason.is_sequencing());
        l2tp_debug!(sh.limiter, now, self.opts.debug, SEQ,
            session = %self.key, reason = ?reason, "packet dropped");
        SessionRx::Dropped(reason)
    }
}
