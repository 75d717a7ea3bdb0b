//! The reliable control channel of one tunnel (RFC 2661 §5.8 and Appendix A).
//!
//! It carries opaque message bodies (the AVP bytes after the header) and knows nothing about
//! what they mean: it numbers them (Ns), acknowledges the peer's (Nr), retransmits with
//! exponential backoff, bounds what is outstanding by the peer's Receive Window Size and a
//! congestion window (slow start and congestion avoidance), holds messages that arrive ahead
//! of the expected Ns and delivers them in order, and re-acknowledges duplicates.
//!
//! Invariants: `unacked` holds every message not yet acknowledged, `[oldest, next_ns)` in Ns
//! order; those already sent (with a retransmission deadline) are a prefix of it, and a new
//! one is sent only while fewer than the send window are outstanding; every comparison of
//! sequence numbers is modulo 2^16 ([`SeqNum::serial_cmp`]); nothing here panics on peer input.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};

/// Parameters of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReliableConfig {
    /// The Receive Window Size we advertise: how many messages ahead of the expected Ns we
    /// hold for in-order delivery.
    pub receive_window: u16,
    /// First retransmission timeout (RFC 2661 §5.8 recommends 1 s).
    pub retransmit_initial: Duration,
    /// Cap of the exponential backoff (RFC 2661 §5.8: no less than 8 s).
    pub retransmit_cap: Duration,
    /// Retransmissions of one message *with no response from the peer* before the channel
    /// gives up (RFC 2661 §5.8: "if no peer response is detected after several
    /// retransmissions", default 5). A peer that answers anything in between proves it is
    /// alive and does not use up the budget; four times this many retransmissions of one
    /// message clear the channel regardless.
    pub max_retries: u32,
    /// How long an acknowledgement may wait for a message to piggy-back on before a ZLB goes.
    pub ack_delay: Duration,
    /// Ns of our first message and the Ns we expect first from the peer (0 per RFC 2661 §5.8;
    /// injectable so tests can start near the wrap).
    pub initial_seq: SeqNum,
}

impl Default for ReliableConfig {
    fn default() -> Self {
        ReliableConfig {
            receive_window: 16,
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            max_retries: 5,
            ack_delay: Duration::from_millis(100),
            initial_seq: SeqNum(0),
        }
    }
}

/// Counters of one channel, as operators read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControlCounters {
    /// Control messages sent for the first time (ZLBs excluded).
    pub tx_messages: u64,
    /// Retransmissions.
    pub tx_retransmits: u64,
    /// ZLB acknowledgements sent.
    pub tx_zlbs: u64,
    /// Control messages received and delivered in order (ZLBs excluded).
    pub rx_messages: u64,
    /// Duplicates received (and acknowledged again).
    pub rx_duplicates: u64,
    /// Messages received ahead of the expected Ns and held.
    pub rx_out_of_order: u64,
    /// Messages dropped because they were beyond our receive window.
    pub rx_out_of_window: u64,
    /// ZLB acknowledgements received.
    pub rx_zlbs: u64,
}

impl ControlCounters {
    /// Adds `other` into `self` (saturating): totals that outlive the channels they count.
    pub fn accumulate(&mut self, other: &ControlCounters) {
        self.tx_messages = self.tx_messages.saturating_add(other.tx_messages);
        self.tx_retransmits = self.tx_retransmits.saturating_add(other.tx_retransmits);
        self.tx_zlbs = self.tx_zlbs.saturating_add(other.tx_zlbs);
        self.rx_messages = self.rx_messages.saturating_add(other.rx_messages);
        self.rx_duplicates = self.rx_duplicates.saturating_add(other.rx_duplicates);
        self.rx_out_of_order = self.rx_out_of_order.saturating_add(other.rx_out_of_order);
        self.rx_out_of_window = self.rx_out_of_window.saturating_add(other.rx_out_of_window);
        self.rx_zlbs = self.rx_zlbs.saturating_add(other.rx_zlbs);
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Outstanding {
    ns: SeqNum,
    session: SessionId,
    body: Vec<u8>,
    // None until first transmitted (waiting for the window).
    #[serde(with = "l2tp_snap::opt_instant")]
    deadline: Option<Instant>,
    interval: Duration,
    retries: u32,
    // Consecutive timeouts with nothing heard from the peer.
    silent: u32,
    // `rx_epoch` when the message was last (re)transmitted.
    heard_at_send: u64,
    // When it was first transmitted (its acknowledgement, if it was never retransmitted, is a
    // round-trip sample).
    #[serde(with = "l2tp_snap::opt_instant")]
    first_sent: Option<Instant>,
}

/// What receiving a control datagram produced.
#[derive(Debug, Default)]
pub struct Received {
    /// Messages now deliverable in order: (session id from the header, body).
    pub delivered: Vec<(SessionId, Vec<u8>)>,
    /// True when the datagram was a ZLB acknowledgement.
    pub zlb: bool,
    /// True when the datagram was a duplicate (acknowledged again, not delivered).
    pub duplicate: bool,
}

/// Why the channel gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChannelFailure {
    /// A message was retransmitted `max_retries` times without any response from the peer
    /// (or four times that many without acknowledgement).
    RetriesExhausted,
}

/// The reliable delivery state of one tunnel's control connection.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    cfg: ReliableConfig,
    /// Tunnel id written in every header we send (the peer's id; 0 before it is known).
    pub peer_tunnel: TunnelId,
    next_ns: SeqNum,
    expected: SeqNum,
    peer_window: u16,
    cwnd: u16,
    ssthresh: u16,
    acks_in_ca: u16,
    // Sent (or waiting for the window), not yet acknowledged; Ns order.
    unacked: VecDeque<Outstanding>,
    // Messages received ahead of `expected`: slot i holds Ns expected+1+i.
    ahead: VecDeque<Option<(SessionId, Vec<u8>)>>,
    #[serde(with = "l2tp_snap::opt_instant")]
    ack_deadline: Option<Instant>,
    /// Messages delivered since we last acknowledged (piggy-backed or ZLB).
    rx_since_ack: u16,
    out: VecDeque<Vec<u8>>,
    failed: Option<ChannelFailure>,
    counters: ControlCounters,
    // Incremented by every datagram received from the peer (liveness for the retry budget).
    rx_epoch: u64,
    // Smoothed round-trip time and its variation (RFC 6298), from acknowledgements of
    // messages sent once; None before the first sample.
    rtt: Option<(Duration, Duration)>,
}

impl Channel {
    /// Changes the Receive Window Size we advertise and hold messages for (a per-peer
    /// profile, set before anything is received).
    pub fn set_receive_window(&mut self, w: u16) {
        self.cfg.receive_window = w.max(1);
    }

    /// A fresh channel. The peer's window is 4 until its Receive Window Size AVP is seen
    /// (RFC 2661 §4.4.3: "If absent, the peer must assume a window size of 4").
    pub fn new(cfg: ReliableConfig) -> Self {
        Channel {
            cfg,
            peer_tunnel: TunnelId::NONE,
            next_ns: cfg.initial_seq,
            expected: cfg.initial_seq,
            peer_window: 4,
            cwnd: 1,
            ssthresh: 4,
            acks_in_ca: 0,
            unacked: VecDeque::new(),
            ahead: VecDeque::new(),
            ack_deadline: None,
            rx_since_ack: 0,
            out: VecDeque::new(),
            failed: None,
            counters: ControlCounters::default(),
            rx_epoch: 0,
            rtt: None,
        }
    }

    /// Starts the receive side at `ns` instead of the configured initial Ns, if nothing has
    /// been received yet. Used for the peer's first message (SCCRQ or SCCRP): RFC 2661 §5.8
    /// says Ns begins at 0, but a peer that starts elsewhere is still understood (and tests
    /// can start one side near the wrap).
    pub fn start_receive_at(&mut self, ns: SeqNum) {
        if self.counters.rx_messages == 0 && self.ahead.is_empty() {
            self.expected = ns;
        }
    }

    /// Resumes a channel whose state was lost (RFC 4951 Suggested Control Sequence): the
    /// next message we send carries `ns`, and `nr` is the next Ns expected from the peer.
    pub fn resume_at(&mut self, ns: SeqNum, nr: SeqNum) {
        self.next_ns = ns;
        self.expected = nr;
    }

    /// Re-synchronises a channel restored from a journal that may be behind what was on the
    /// wire, from the peer's datagrams after the restart (`ns`, `nr`; `message`: not a ZLB,
    /// which takes no Ns). RFC 2661 §3.1: "Nr indicates the sequence number expected in the
    /// next control message to be received"; §5.8: a message whose Ns is at or before the
    /// last received one "would be considered a duplicate of a message already received
    /// and ignored from processing. However, in order to ensure that all messages are
    /// acknowledged properly (...), receipt of duplicate messages MUST be acknowledged by
    /// the reliable transport." So a HELLO we send with a stale Ns is a duplicate to the
    /// peer, and its acknowledgement names the Ns it expects: an Nr past our next Ns
    /// becomes our next Ns (what we had queued is dropped: by the peer's state it has it).
    /// Our Nr becomes the later of the journaled one and the Ns of the peer's first
    /// message. True when anything changed.
    pub fn resync(&mut self, ns: SeqNum, nr: SeqNum, message: bool) -> bool {
        let mut changed = false;
        // Only forward: an Nr before what we have outstanding is an old datagram.
        if self.next_ns.is_before(nr) {
            self.unacked.clear();
            self.out.clear();
            self.next_ns = nr;
            changed = true;
        }
        if message && ns.is_after(self.expected) {
            self.expected = ns;
            self.ahead.clear();
            changed = true;
        }
        changed
    }

    /// Sets the peer's Receive Window Size (0 is invalid and ignored, RFC 2661 §5.8).
    pub fn set_peer_window(&mut self, window: u16) {
        if window == 0 {
            return;
        }
        self.peer_window = window;
        // Appendix A: SSTHRESH starts at the peer's maximum window.
        self.ssthresh = window;
        self.cwnd = self.cwnd.min(window);
    }

    /// The peer's Receive Window Size in force.
    pub fn peer_window(&self) -> u16 {
        self.peer_window
    }

    /// The congestion window (Appendix A CWND).
    pub fn congestion_window(&self) -> u16 {
        self.cwnd
    }

    /// Counters so far.
    pub fn counters(&self) -> ControlCounters {
        self.counters
    }

    /// Ns the next new message will carry.
    pub fn next_ns(&self) -> SeqNum {
        self.next_ns
    }

    /// Nr we send: the next Ns expected from the peer.
    pub fn expected_ns(&self) -> SeqNum {
        self.expected
    }

    /// Ns of the oldest message not yet acknowledged (sent or queued), else the next Ns: the
    /// first of ours the peer has not acknowledged.
    pub fn oldest_unacked(&self) -> SeqNum {
        self.unacked.front().map_or(self.next_ns, |m| m.ns)
    }

    /// Messages sent or queued and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.unacked.len()
    }

    /// True once the message given Ns `ns` has been put on the wire: a queued message waits
    /// for the window first. Sent messages are a prefix of the unacknowledged ones.
    pub fn has_sent(&self, ns: SeqNum) -> bool {
        match self.unacked.iter().find(|m| m.deadline.is_none()) {
            Some(first_unsent) => ns.is_before(first_unsent.ns),
            None => true,
        }
    }

    /// True while an acknowledgement of the peer's messages is owed (a ZLB is scheduled).
    pub fn ack_pending(&self) -> bool {
        self.ack_deadline.is_some()
    }

    /// True when everything we sent has been acknowledged.
    pub fn is_idle(&self) -> bool {
        self.unacked.is_empty()
    }

    /// Set when the retry budget ran out; the tunnel must then be cleared.
    pub fn failure(&self) -> Option<ChannelFailure> {
        self.failed
    }

    /// Encoded datagrams ready to go to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The soonest of the retransmission and delayed-acknowledgement timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed.is_some() {
            return None;
        }
        // Sent messages are a prefix of `unacked` (the rest wait for the window).
        let rtx = self.unacked.iter().map_while(|m| m.deadline).min();
        match (rtx, self.ack_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The first retransmission interval for a new message: RFC 2661 §5.8's "recommended
    /// default is 1 second" (`retransmit_initial`) as a floor, raised to the smoothed round
    /// trip plus the larger of four deviations (RFC 6298) and the round trip itself when the
    /// peer takes longer to acknowledge. A peer
    /// that acknowledges only on a one-second timer would otherwise have every message
    /// retransmitted just before its acknowledgement arrives, and each such timeout closes
    /// the congestion window (Appendix A) to one message. Capped by `retransmit_cap`.
    pub fn retransmit_timeout(&self) -> Duration {
        let floor = self.cfg.retransmit_initial;
        match self.rtt {
            None => floor,
            // The round trip itself at least on top of it: a peer acknowledging on its own
            // timer has a steady round trip and a small variation, yet its acknowledgements
            // still arrive some milliseconds either side of it.
            Some((srtt, rttvar)) => {
                (srtt + (4 * rttvar).max(srtt)).clamp(floor, self.cfg.retransmit_cap.max(floor))
            }
        }
    }

    fn rtt_sample(&mut self, r: Duration) {
        self.rtt = Some(match self.rtt {
            None => (r, r / 2),
            Some((srtt, rttvar)) => {
                let diff = srtt.abs_diff(r);
                (srtt * 7 / 8 + r / 8, rttvar * 3 / 4 + diff / 4)
            }
        });
    }

    fn send_window(&self) -> usize {
        usize::from(self.cwnd.min(self.peer_window).max(1))
    }

    fn encode(&self, ns: SeqNum, session: SessionId, body: &[u8]) -> Vec<u8> {
        Header::control(self.peer_tunnel, session, ns, self.expected).encode_with_payload(body)
    }

    /// Queues a message body for reliable delivery and sends it when the window allows.
    /// Returns the Ns it was given.
    pub fn send(&mut self, now: Instant, session: SessionId, body: Vec<u8>) -> SeqNum {
        let ns = self.next_ns;
        self.next_ns = ns.next();
        self.unacked.push_back(Outstanding {
            ns,
            session,
            body,
            deadline: None,
            interval: self.cfg.retransmit_initial,
            retries: 0,
            silent: 0,
            heard_at_send: 0,
            first_sent: None,
        });
        self.pump(now);
        ns
    }

    // Transmits messages that were waiting for the window.
    fn pump(&mut self, now: Instant) {
        let window = self.send_window();
        for i in 0..self.unacked.len().min(window) {
            if self.unacked[i].deadline.is_some() {
                continue;
            }
            let m = &self.unacked[i];
            let dgram = self.encode(m.ns, m.session, &m.body);
            self.out.push_back(dgram);
            let epoch = self.rx_epoch;
            let rto = self.retransmit_timeout();
            let m = &mut self.unacked[i];
            m.interval = rto;
            m.deadline = Some(now + m.interval);
            m.heard_at_send = epoch;
            m.first_sent = Some(now);
            self.counters.tx_messages += 1;
            // The message carries our Nr: no separate acknowledgement needed.
            self.ack_deadline = None;
            self.rx_since_ack = 0;
        }
    }

    /// Processes Ns/Nr and body of a control datagram from the peer (header already decoded).
    pub fn receive(
        &mut self,
        now: Instant,
        ns: SeqNum,
        nr: SeqNum,
        session: SessionId,
        body: &[u8],
    ) -> Received {
        let mut r = Received::default();
        self.rx_epoch += 1;
        self.process_ack(now, nr);
        if body.is_empty() {
            // A ZLB: acknowledgement only, takes no sequence slot (RFC 2661 §5.8).
            self.counters.rx_zlbs += 1;
            r.zlb = true;
            return r;
        }
        if ns == self.expected {
            self.counters.rx_messages += 1;
            r.delivered.push((session, body.to_vec()));
            self.expected = self.expected.next();
            // Release messages held ahead that are now in order. Slot 0 holds the new
            // expected Ns; popping an empty slot restores "slot i is expected+1+i".
            while let Some(slot) = self.ahead.pop_front() {
                match slot {
                    Some(m) => {
                        self.counters.rx_messages += 1;
                        r.delivered.push(m);
                        self.expected = self.expected.next();
                    }
                    None => break,
                }
            }
            // Acknowledge after a short delay so a reply can carry the Nr, but at once when
            // several messages wait: a peer whose window is full of messages that need no
            // reply (ICCNs of many calls) would otherwise stall for an ack delay per window.
            self.rx_since_ack = self.rx_since_ack.saturating_add(r.delivered.len() as u16);
            if self.rx_since_ack >= (self.cfg.receive_window / 2).clamp(1, 8) {
                self.ack_deadline = Some(now);
            } else if self.ack_deadline.is_none() {
                self.ack_deadline = Some(now + self.cfg.ack_delay);
            }
        } else if ns.is_before(self.expected) {
            // RFC 2661 §5.8: "receipt of duplicate messages MUST be acknowledged".
            self.counters.rx_duplicates += 1;
            r.duplicate = true;
            self.send_zlb();
        } else {
            let dist = usize::from(ns.distance_from(self.expected));
            if dist >= usize::from(self.cfg.receive_window.max(1)) {
                self.counters.rx_out_of_window += 1;
                return r;
            }
            // Hold it: slot dist-1 is Ns expected+dist.
            while self.ahead.len() < dist {
                self.ahead.push_back(None);
            }
            let slot = &mut self.ahead[dist - 1];
            if slot.is_some() {
                self.counters.rx_duplicates += 1;
                r.duplicate = true;
            } else {
                self.counters.rx_out_of_order += 1;
                *slot = Some((session, body.to_vec()));
            }
            // Tell the peer where we are, so a lost message is visible early.
            self.send_zlb();
        }
        r
    }

    fn process_ack(&mut self, now: Instant, nr: SeqNum) {
        let Some(front) = self.unacked.front() else {
            return;
        };
        // Nr acknowledges every message with Ns < Nr; it must lie within
        // (oldest unacked, next_ns] to mean anything.
        let acked = usize::from(nr.distance_from(front.ns));
        if acked == 0 || acked > self.unacked.len() {
            return;
        }
        // Only messages actually sent can be acknowledged.
        if self
            .unacked
            .iter()
            .take(acked)
            .any(|m| m.deadline.is_none())
        {
            return;
        }
        for _ in 0..acked {
            if let Some(m) = self.unacked.pop_front() {
                // Karn: only a message sent once gives an unambiguous round-trip sample.
                if let (0, Some(t)) = (m.retries, m.first_sent) {
                    self.rtt_sample(now.saturating_duration_since(t));
                }
            }
            // Appendix A: slow start below SSTHRESH, congestion avoidance above.
            if self.cwnd < self.ssthresh {
                self.cwnd += 1;
            } else {
                self.acks_in_ca += 1;
                if self.acks_in_ca >= self.cwnd {
                    self.acks_in_ca = 0;
                    if self.cwnd < self.peer_window {
                        self.cwnd += 1;
                    }
                }
            }
        }
        self.cwnd = self.cwnd.min(self.peer_window);
        self.pump(now);
    }

    /// Ns of the next message that will actually go on the wire: the first one still
    /// waiting for the window, else the next to be assigned. Messages are numbered when they
    /// are queued, so `next_ns` may be ahead of what the peer has seen.
    pub fn next_ns_on_wire(&self) -> SeqNum {
        self.unacked
            .iter()
            .find(|m| m.deadline.is_none())
            .map_or(self.next_ns, |m| m.ns)
    }

    fn send_zlb(&mut self) {
        // RFC 2661 §5.8: "All control messages take up one slot in the control message
        // sequence number space, except the ZLB acknowledgement. Thus, Ns is not incremented
        // after a ZLB message is sent." The ZLB's Ns is the slot of the next message the peer
        // will see: the first one still waiting for the window, not the next number assigned
        // to a queued message (a ZLB from the future, seen before messages numbered below
        // it, is out of order to the peer).
        let dgram = Header::control(
            self.peer_tunnel,
            SessionId::NONE,
            self.next_ns_on_wire(),
            self.expected,
        )
        .encode_with_payload(&[]);
        self.out.push_back(dgram);
        self.counters.tx_zlbs += 1;
        self.ack_deadline = None;
        self.rx_since_ack = 0;
    }

    /// Sends an acknowledgement now unless one is already implied.
    pub fn flush_ack(&mut self) {
        if self.ack_deadline.is_some() {
            self.send_zlb();
        }
    }

    /// Fires the timers due at `now`: the delayed ZLB, retransmissions with backoff.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.failed.is_some() {
            return;
        }
        if self.ack_deadline.is_some_and(|t| t <= now) {
            self.send_zlb();
        }
        let mut timed_out = false;
        for i in 0..self.unacked.len() {
            let Some(deadline) = self.unacked[i].deadline else {
                break; // not yet sent: neither is anything after it
            };
            if deadline > now {
                continue;
            }
            // RFC 2661 §5.8: "If no peer response is detected after several retransmissions
            // ... the tunnel and all sessions within MUST be cleared." Anything heard from the
            // peer since the last transmission of this message is a response.
            let epoch = self.rx_epoch;
            let m = &mut self.unacked[i];
            m.silent = if m.heard_at_send == epoch {
                m.silent + 1
            } else {
                0
            };
            let hard_cap = self.cfg.max_retries.saturating_mul(4).max(1);
            if m.silent > self.cfg.max_retries || m.retries >= hard_cap {
                self.failed = Some(ChannelFailure::RetriesExhausted);
                return;
            }
            timed_out = true;
            let m = &self.unacked[i];
            // RFC 2661 §5.8: same Ns, Nr updated to the next expected.
            let dgram = self.encode(m.ns, m.session, &m.body);
            self.out.push_back(dgram);
            let cap = self.cfg.retransmit_cap;
            let m = &mut self.unacked[i];
            m.retries += 1;
            m.heard_at_send = epoch;
            m.interval = (m.interval * 2).min(cap);
            m.deadline = Some(now + m.interval);
            self.counters.tx_retransmits += 1;
            self.ack_deadline = None;
        }
        if timed_out {
            // Appendix A: on a retransmission timeout SSTHRESH = CWND/2, CWND = 1.
            self.ssthresh = (self.cwnd / 2).max(1);
            self.cwnd = 1;
            self.acks_in_ca = 0;
        }
    }

    /// Takes a failed channel back into service (the peer recovered the tunnel, RFC 4951
    /// §5): the retry budget starts again and every message sent and not acknowledged goes
    /// out again at once.
    pub fn revive(&mut self, now: Instant) {
        self.failed = None;
        let initial = self.cfg.retransmit_initial;
        for m in self.unacked.iter_mut() {
            m.silent = 0;
            m.retries = 0;
            m.interval = initial;
            if m.deadline.is_some() {
                m.deadline = Some(now);
            }
        }
        self.handle_timeout(now);
    }

    /// Releases spare queue capacity (after a burst).
    pub fn shrink_to_fit(&mut self) {
        self.unacked.shrink_to_fit();
        self.ahead.shrink_to_fit();
        self.out.shrink_to_fit();
    }

    /// How long a full retransmission cycle lasts with this configuration: the time from the
    /// first transmission to giving up (RFC 2661 §5.7 holds a closed tunnel this long).
    pub fn full_retransmit_cycle(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut interval = self.cfg.retransmit_initial;
        for _ in 0..=self.cfg.max_retries {
            total += interval;
            interval = (interval * 2).min(self.cfg.retransmit_cap);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_wire::Header;

    fn decode(d: &[u8]) -> (SeqNum, SeqNum, usize) {
        let h = Header::decode(d).unwrap();
        let s = h.header.sequence.unwrap();
        (s.ns, s.nr, h.payload.len())
    }

    #[test]
    fn window_of_four_bounds_outstanding_and_slow_start_opens_it() {
        let t = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        for i in 0..10u8 {
            c.send(t, SessionId(0), vec![i; 4]);
        }
        // cwnd starts at 1.
        let mut sent = vec![];
        while let Some(d) = c.poll_transmit() {
            sent.push(decode(&d));
        }
        assert_eq!(sent, vec![(SeqNum(0), SeqNum(0), 4)]);
        // Ack of Ns 0: cwnd 2.
        c.receive(t, SeqNum(0), SeqNum(1), SessionId(0), &[]);
        let n = std::iter::from_fn(|| c.poll_transmit()).count();
        assert_eq!(n, 2);
        // Ack both: cwnd 4 (= peer window), 4 outstanding.
        c.receive(t, SeqNum(0), SeqNum(3), SessionId(0), &[]);
        let n = std::iter::from_fn(|| c.poll_transmit()).count();
        assert_eq!(n, 4);
        assert_eq!(c.congestion_window(), 4);
    }

    #[test]
    fn retransmits_with_backoff_capped_then_fails() {
        let t0 = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        c.send(t0, SessionId(0), vec![1]);
        c.poll_transmit().unwrap();
        let mut times = vec![];
        let mut now = t0;
        for _ in 0..20 {
            let Some(next) = c.poll_timeout() else { break };
            now = next;
            c.handle_timeout(now);
            if c.poll_transmit().is_some() {
                times.push((now - t0).as_secs());
            }
        }
        assert_eq!(times, vec![1, 3, 7, 15, 23]);
        assert_eq!(c.failure(), Some(ChannelFailure::RetriesExhausted));
        assert_eq!(now - t0, Duration::from_secs(31));
        assert_eq!(c.full_retransmit_cycle(), Duration::from_secs(31));
    }

    #[test]
    fn a_responsive_peer_does_not_use_up_the_budget_but_the_hard_cap_holds() {
        let t0 = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        c.send(t0, SessionId(0), vec![1]);
        c.poll_transmit().unwrap();
        let mut retransmits = 0;
        for _ in 0..100 {
            let Some(now) = c.poll_timeout() else { break };
            // The peer keeps talking (a ZLB that does not acknowledge our message).
            c.receive(now, SeqNum(0), SeqNum(0), SessionId(0), &[]);
            c.handle_timeout(now);
            if c.failure().is_some() {
                break;
            }
            retransmits += 1;
            c.poll_transmit();
        }
        // Far more than 5 retransmissions, but not for ever: 4 x 5.
        assert_eq!(retransmits, 20);
        assert_eq!(c.failure(), Some(ChannelFailure::RetriesExhausted));
    }

    #[test]
    fn duplicates_are_acknowledged_and_not_delivered() {
        let t = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        let r = c.receive(t, SeqNum(0), SeqNum(0), SessionId(0), b"abc");
        assert_eq!(r.delivered.len(), 1);
        let r = c.receive(t, SeqNum(0), SeqNum(0), SessionId(0), b"abc");
        assert!(r.duplicate && r.delivered.is_empty());
        let zlb = c.poll_transmit().expect("duplicate must be acked");
        assert_eq!(decode(&zlb), (SeqNum(0), SeqNum(1), 0));
        assert_eq!(c.counters().rx_duplicates, 1);
    }

    #[test]
    fn ahead_messages_are_held_and_delivered_in_order() {
        let t = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        assert!(c
            .receive(t, SeqNum(2), SeqNum(0), SessionId(0), b"c")
            .delivered
            .is_empty());
        assert!(c
            .receive(t, SeqNum(1), SeqNum(0), SessionId(0), b"b")
            .delivered
            .is_empty());
        let r = c.receive(t, SeqNum(0), SeqNum(0), SessionId(0), b"a");
        let bodies: Vec<_> = r.delivered.into_iter().map(|(_, b)| b).collect();
        assert_eq!(bodies, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(c.expected_ns(), SeqNum(3));
    }

    #[test]
    fn delayed_ack_is_a_zlb_unless_piggybacked() {
        let t = Instant::now();
        let mut c = Channel::new(ReliableConfig::default());
        c.receive(t, SeqNum(0), SeqNum(0), SessionId(0), b"a");
        assert!(c.poll_transmit().is_none());
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_millis(100)));
        c.handle_timeout(t + Duration::from_millis(100));
        assert_eq!(
            decode(&c.poll_transmit().unwrap()),
            (SeqNum(0), SeqNum(1), 0)
        );
        // Piggy-backed: a reply before the delay carries Nr and no ZLB follows.
        c.receive(t, SeqNum(1), SeqNum(0), SessionId(0), b"b");
        c.send(t, SessionId(0), b"reply".to_vec());
        assert_eq!(
            decode(&c.poll_transmit().unwrap()),
            (SeqNum(0), SeqNum(2), 5)
        );
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn works_across_the_wrap() {
        let t = Instant::now();
        let cfg = ReliableConfig {
            initial_seq: SeqNum(65534),
            ..ReliableConfig::default()
        };
        let mut a = Channel::new(cfg);
        let mut b = Channel::new(cfg);
        a.set_peer_window(16);
        let mut got = vec![];
        for i in 0..6u8 {
            a.send(t, SessionId(0), vec![i]);
            while let Some(d) = a.poll_transmit() {
                let h = Header::decode(&d).unwrap();
                let s = h.header.sequence.unwrap();
                got.extend(b.receive(t, s.ns, s.nr, SessionId(0), h.payload).delivered);
            }
            b.handle_timeout(t + Duration::from_secs(1));
            while let Some(d) = b.poll_transmit() {
                let h = Header::decode(&d).unwrap();
                let s = h.header.sequence.unwrap();
                a.receive(t, s.ns, s.nr, SessionId(0), h.payload);
            }
        }
        let bodies: Vec<u8> = got.iter().map(|(_, b)| b[0]).collect();
        assert_eq!(bodies, vec![0, 1, 2, 3, 4, 5]);
        assert!(a.is_idle());
        assert_eq!(a.next_ns(), SeqNum(4));
    }
}
