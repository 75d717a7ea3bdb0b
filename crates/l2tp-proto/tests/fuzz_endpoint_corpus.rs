//! The stateful `endpoint_stateful` fuzz target's logic, and the replay of its committed corpus
//! (fuzz/corpus/endpoint_stateful) on stable Rust.
//!
//! The fuzz target (`fuzz/fuzz_targets/endpoint_stateful.rs`) includes this file as a module
//! and calls [`run`]; the tests below call the same function on every corpus file, so CI
//! catches a regression on any seed without a fuzzer. `L2TP_WRITE_ENDPOINT_CORPUS=1`
//! regenerates the seeds.
//!
//! Setup: an LNS-side [`Endpoint`] ("B", the one under test) and a LAC-side `Endpoint` ("A",
//! the legitimate peer) complete a tunnel (with tunnel authentication and hidden AVPs) and one
//! call through a sans-IO handshake. The input is then read as a sequence of operations
//! (time advances, raw datagrams from one of four sources, sequenced control messages with
//! fuzzed bodies, typed messages out of state, SCCRQs, commands on A). Between operations
//! the datagrams B and A send each other are delivered (unless the input drops them), so the
//! established tunnel stays alive while it is attacked.
//!
//! Invariants checked after every operation: no panic; after `handle_timeout(now)`,
//! `poll_timeout()` is later than `now`; tunnels and sessions are bounded by what the input
//! could have created and half-open tunnels by `max_half_open_tunnels`; the established
//! tunnel and session keep their peer address (no spoofed source can take them over); the
//! output queues are drained (bounded per operation). At the end, with the world silent,
//! every tunnel times out and B holds nothing (no leaked state).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::{
    CallParams, Endpoint, EndpointConfig, Event, PeerAuth, SessionStateKind, TunnelOptions,
    TunnelStateKind,
};
use l2tp_wire::message::Hiding;
use l2tp_wire::{ControlMessage, Header, SeqNum, SessionId, TunnelId};
use rand::SeedableRng;

/// The legitimate peer (A, the LAC).
const A_ADDR: &str = "192.0.2.1:1701";
/// The endpoint under test (B, the LNS).
const B_ADDR: &str = "192.0.2.2:1701";
/// The four sources a raw datagram can come from: A itself, A's address with another port
/// (spoofing a port), another host that has a per-peer entry without a secret (it can open
/// tunnels), and a third host under the default (secret) authentication.
const SOURCES: [&str; 4] = [
    A_ADDR,
    "192.0.2.1:40000",
    "198.51.100.7:1701",
    "203.0.113.9:5555",
];
const SECRET: &[u8] = b"fuzz-secret";
const MAX_HALF_OPEN: usize = 4;
/// Operations read from one input (bounds the work per execution).
const MAX_OPS: usize = 512;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn rng(seed: u64) -> Box<rand::rngs::StdRng> {
    Box::new(rand::rngs::StdRng::seed_from_u64(seed))
}

fn b_config() -> EndpointConfig {
    EndpointConfig {
        host_name: "lns".into(),
        ack_delay: Duration::from_millis(50),
        auth: PeerAuth {
            secret: Some(SECRET.to_vec()),
            hide_avps: true,
            require_tunnel_auth: true,
        },
        peers: vec![(addr(SOURCES[2]).ip(), PeerAuth::default())],
        max_half_open_tunnels: MAX_HALF_OPEN,
        ..EndpointConfig::default()
    }
}

fn a_config() -> EndpointConfig {
    EndpointConfig {
        host_name: "lac".into(),
        ack_delay: Duration::from_millis(50),
        auth: PeerAuth {
            secret: Some(SECRET.to_vec()),
            hide_avps: true,
            require_tunnel_auth: true,
        },
        accept_incoming_tunnels: false,
        ..EndpointConfig::default()
    }
}

/// Reads the input front to back; missing bytes read as zero.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.data.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

/// The world: both endpoints, virtual time, and what the invariants need to know.
struct World {
    now: Instant,
    a: Endpoint,
    b: Endpoint,
    a_tid: TunnelId,
    b_tid: TunnelId,
    b_sid: SessionId,
    a_sid: SessionId,
    /// Datagrams handed to B so far (each can create at most one tunnel or session).
    to_b: usize,
    /// Calls A placed (each can create one session on B).
    calls: usize,
    /// Drop what B sends to A during the next shuttle.
    drop_b_to_a: bool,
    drop_a_to_b: bool,
}

impl World {
    /// A and B with an established tunnel and one established call.
    fn new() -> World {
        let now = Instant::now();
        let mut w = World {
            now,
            a: Endpoint::new(a_config(), rng(1)),
            b: Endpoint::new(b_config(), rng(2)),
            a_tid: TunnelId(0),
            b_tid: TunnelId(0),
            b_sid: SessionId(0),
            a_sid: SessionId(0),
            to_b: 0,
            calls: 0,
            drop_b_to_a: false,
            drop_a_to_b: false,
        };
        let a_tid =
            w.a.open_tunnel(now, addr(A_ADDR), addr(B_ADDR), TunnelOptions::default())
                .expect("open tunnel");
        w.a_tid = a_tid;
        let a_sid =
            w.a.place_incoming_call(now, a_tid, CallParams::default())
                .expect("place call");
        w.a_sid = a_sid;
        for _ in 0..20 {
            w.shuttle();
            w.advance(Duration::from_millis(60));
        }
        let t =
            w.b.tunnels()
                .next()
                .expect("setup: B has the tunnel A opened");
        assert_eq!(t.state, TunnelStateKind::Established, "setup: tunnel up");
        w.b_tid = t.tunnel;
        let s =
            w.b.sessions(t.tunnel)
                .next()
                .expect("setup: B has the session A placed");
        assert_eq!(s.state, SessionStateKind::Established, "setup: session up");
        w.b_sid = s.session;
        w.to_b = 0;
        w
    }

    /// Delivers what A and B have for each other (a bounded number of rounds); datagrams to
    /// other addresses are drained and dropped.
    fn shuttle(&mut self) {
        let a_addr = addr(A_ADDR);
        for _ in 0..8 {
            let mut moved = false;
            let mut n = 0usize;
            while let Some(t) = self.b.poll_transmit() {
                n += 1;
                assert!(n <= 10_000, "B emitted more than 10,000 datagrams at once");
                if t.to == a_addr && !self.drop_b_to_a {
                    moved = true;
                    self.a.handle_datagram(self.now, t.to, t.local, &t.payload);
                }
            }
            let mut n = 0usize;
            while let Some(t) = self.a.poll_transmit() {
                n += 1;
                assert!(n <= 10_000, "A emitted more than 10,000 datagrams at once");
                if !self.drop_a_to_b {
                    moved = true;
                    self.to_b += 1;
                    self.b.handle_datagram(self.now, t.to, t.local, &t.payload);
                }
            }
            self.drain_events();
            if !moved {
                break;
            }
        }
        self.drop_b_to_a = false;
        self.drop_a_to_b = false;
    }

    fn drain_events(&mut self) {
        let mut n = 0usize;
        while let Some(e) = self.b.poll_event() {
            n += 1;
            assert!(n <= 100_000, "unbounded events from B");
            if let Event::TunnelUp { tunnel, peer, .. } = e {
                assert!(
                    self.b.tunnel_info(tunnel).is_some(),
                    "TunnelUp for a tunnel B does not hold"
                );
                assert_ne!(peer.port(), 0);
            }
        }
        while self.a.poll_event().is_some() {}
    }

    /// Advances virtual time by `d`, firing timers of both endpoints on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..1_000 {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.tick();
                    self.shuttle();
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
        self.tick();
    }

    fn tick(&mut self) {
        self.b.handle_timeout(self.now);
        if let Some(t) = self.b.poll_timeout() {
            assert!(
                t > self.now,
                "B's poll_timeout is not after now once handled"
            );
        }
        self.a.handle_timeout(self.now);
        self.drain_events();
    }

    /// B's next expected Ns on the established tunnel, and the Nr acknowledging all it sent.
    fn b_sequence(&self) -> (SeqNum, SeqNum) {
        match self.b.tunnel_info(self.b_tid) {
            Some(t) => (
                SeqNum(t.counters.rx_messages as u16),
                SeqNum(t.counters.tx_messages as u16),
            ),
            None => (SeqNum(0), SeqNum(0)),
        }
    }

    fn send_to_b(&mut self, from: SocketAddr, dgram: &[u8]) {
        self.to_b += 1;
        let b_addr = addr(B_ADDR);
        self.b.handle_datagram(self.now, b_addr, from, dgram);
    }

    fn session_choice(&self, sel: u8, raw: u16) -> SessionId {
        match sel % 4 {
            0 => SessionId(0),
            1 | 2 => self.b_sid,
            _ => SessionId(raw),
        }
    }

    fn tunnel_choice(&self, sel: u8, raw: u16) -> TunnelId {
        match sel % 4 {
            0 => TunnelId(0),
            1 | 2 => self.b_tid,
            _ => TunnelId(raw),
        }
    }

    /// Invariants that hold after every operation.
    fn check(&mut self) {
        let tunnels = self.b.tunnel_count();
        assert!(
            tunnels <= 1 + self.to_b,
            "{tunnels} tunnels from {} datagrams",
            self.to_b
        );
        assert!(
            self.b.half_open_tunnels() <= MAX_HALF_OPEN,
            "{} half-open tunnels, limit {MAX_HALF_OPEN}",
            self.b.half_open_tunnels()
        );
        let sessions: usize = self.b.tunnels().map(|t| t.sessions).sum();
        assert!(
            sessions <= 1 + self.to_b + self.calls,
            "{sessions} sessions from {} datagrams",
            self.to_b
        );
        // The established tunnel and session never change peer.
        if let Some(t) = self.b.tunnel_info(self.b_tid) {
            if t.peer_host_name == b"lac" {
                assert_eq!(t.peer, addr(A_ADDR), "the established tunnel changed peer");
            }
        }
        if let Some(s) = self.b.session_info(self.b_tid, self.b_sid) {
            assert_eq!(s.peer, addr(A_ADDR), "the established session changed peer");
        }
    }

    /// With nobody answering, every tunnel must eventually be cleared (HELLO or
    /// retransmissions unanswered): nothing is held forever.
    fn finish(&mut self) {
        for _ in 0..100_000 {
            match self.b.poll_timeout() {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.b.handle_timeout(self.now);
                    while self.b.poll_transmit().is_some() {}
                    while self.b.poll_event().is_some() {}
                }
                None => break,
            }
        }
        assert_eq!(
            self.b.tunnel_count(),
            0,
            "tunnels left after the peers went silent: {:?}",
            self.b.tunnels().collect::<Vec<_>>()
        );
        assert_eq!(self.b.half_open_tunnels(), 0, "half-open count leaked");
    }
}

/// Operation codes (low 3 bits of the operation byte).
pub mod op {
    /// `[op, ms_hi, ms_lo]`: advance time by ms×16 (up to ~17 min).
    pub const ADVANCE: u8 = 0;
    /// `[op|src<<3, len, bytes…]`: a raw datagram from source `src`.
    pub const RAW: u8 = 1;
    /// `[op|tsel<<3, ssel, raw_sid(2), ns_off, nr_off, len_hi, len_lo, body…]`: a control
    /// message with a fuzzed body from A's address, with B's current Ns/Nr plus offsets.
    pub const SEQUENCED: u8 = 2;
    /// `[op|src<<3, ssel, raw_sid(2), len, payload…]`: a data message for B's tunnel.
    pub const DATA: u8 = 3;
    /// `[op|which<<3]`: drop the next shuttle's datagrams (which: 1 B→A, 2 A→B, 3 both).
    pub const DROP: u8 = 4;
    /// `[op|cmd<<3]`: a command on A (0 place a call, 1 close its first session, 2 close
    /// its tunnel, 3 SLI, 4 WEN).
    pub const COMMAND: u8 = 5;
    /// `[op|src<<3, assigned(2), hidden]`: a well-formed SCCRQ from source `src`.
    pub const SCCRQ: u8 = 6;
    /// `[op|hide<<3, index, tsel, ssel, raw_sid(2), ns_off]`: one of every message type,
    /// typed and valid, addressed to B's tunnel from A's address, out of state.
    pub const TYPED: u8 = 7;
}

/// Runs one fuzz input. Panics when an invariant fails.
pub fn run(data: &[u8]) {
    let mut w = World::new();
    let mut input = Input { data };
    let every = l2tp_wire::testdata::every_message();
    let rv = l2tp_wire::testdata::RANDOM_VECTOR;
    for _ in 0..MAX_OPS {
        if input.done() {
            break;
        }
        let opb = input.u8();
        let arg = opb >> 3;
        match opb & 7 {
            op::ADVANCE => {
                let ms = u64::from(input.u16()) * 16;
                w.advance(Duration::from_millis(ms));
            }
            op::RAW => {
                let from = addr(SOURCES[usize::from(arg) % SOURCES.len()]);
                let len = usize::from(input.u8());
                let bytes = input.bytes(len).to_vec();
                w.send_to_b(from, &bytes);
            }
            op::SEQUENCED => {
                let ssel = input.u8();
                let raw_sid = input.u16();
                let ns_off = input.u8() as i8;
                let nr_off = input.u8() as i8;
                let len = usize::from(input.u16() % 2048);
                let body = input.bytes(len).to_vec();
                let (ns, nr) = w.b_sequence();
                let tid = w.tunnel_choice(arg, raw_sid);
                let sid = w.session_choice(ssel, raw_sid);
                let h = Header::control(
                    tid,
                    sid,
                    SeqNum(ns.0.wrapping_add(ns_off as u16)),
                    SeqNum(nr.0.wrapping_add(nr_off as u16)),
                );
                if h.encoded_len() + body.len() <= usize::from(u16::MAX) {
                    let d = h.encode_with_payload(&body);
                    w.send_to_b(addr(A_ADDR), &d);
                }
            }
            op::DATA => {
                let from = addr(SOURCES[usize::from(arg) % SOURCES.len()]);
                let ssel = input.u8();
                let raw_sid = input.u16();
                let len = usize::from(input.u8());
                let payload = input.bytes(len).to_vec();
                let h = Header::data(w.b_tid, w.session_choice(ssel, raw_sid));
                let d = h.encode_with_payload(&payload);
                w.send_to_b(from, &d);
            }
            op::DROP => {
                w.drop_b_to_a = arg & 1 != 0;
                w.drop_a_to_b = arg & 2 != 0;
            }
            op::COMMAND => {
                let now = w.now;
                match arg % 5 {
                    0 => {
                        if w.calls < 64
                            && w.a
                                .place_incoming_call(now, w.a_tid, CallParams::default())
                                .is_ok()
                        {
                            w.calls += 1;
                        }
                    }
                    1 => {
                        let _ =
                            w.a.close_session(now, w.a_tid, w.a_sid, l2tp_wire::ResultCode::new(3));
                    }
                    2 => {
                        let _ =
                            w.a.close_tunnel(now, w.a_tid, l2tp_wire::ResultCode::new(1));
                    }
                    3 => {
                        let _ = w.a.set_link_info(now, w.a_tid, w.a_sid, 0, 0xffff_ffff);
                    }
                    _ => {
                        let _ = w.a.wan_error_notify(
                            now,
                            w.a_tid,
                            w.a_sid,
                            l2tp_wire::CallErrors::default(),
                        );
                    }
                }
            }
            op::SCCRQ => {
                let src = usize::from(arg) % SOURCES.len();
                let assigned = input.u16();
                let hidden = input.u8();
                let mut m = l2tp_wire::testdata::windows_sccrq();
                m.assigned_tunnel_id = TunnelId(assigned);
                let h = Header::control(TunnelId(0), SessionId(0), SeqNum(0), SeqNum(0));
                let hiding = (hidden & 1 != 0).then(|| Hiding::new(SECRET, &rv));
                if let Ok(d) = l2tp_wire::encode_packet(&h, &ControlMessage::Sccrq(m), hiding) {
                    w.send_to_b(addr(SOURCES[src]), &d);
                }
            }
            _ => {
                let idx = usize::from(input.u8()) % every.len();
                let tsel = input.u8();
                let ssel = input.u8();
                let raw_sid = input.u16();
                let ns_off = input.u8() as i8;
                let (ns, nr) = w.b_sequence();
                let h = Header::control(
                    w.tunnel_choice(tsel, raw_sid),
                    w.session_choice(ssel, raw_sid),
                    SeqNum(ns.0.wrapping_add(ns_off as u16)),
                    nr,
                );
                // Hidden with the right secret, a wrong one, or not at all.
                let hiding = match arg % 3 {
                    0 => None,
                    1 => Some(Hiding::new(SECRET, &rv)),
                    _ => Some(Hiding::new(b"wrong-secret", &rv)),
                };
                if let Ok(d) = l2tp_wire::encode_packet(&h, &every[idx], hiding) {
                    w.send_to_b(addr(A_ADDR), &d);
                }
            }
        }
        w.shuttle();
        w.check();
    }
    w.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/endpoint_stateful")
    }

    fn seq(ns: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![op::SEQUENCED | (1 << 3), 1, 0, 0, ns, 0];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// Seeds: each operation kind alone, each typed message with and without hiding, the
    /// recorded setup exchange as raw datagrams, SCCRQ floods, drops with time passing.
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        out.push(("advance-hello".into(), vec![op::ADVANCE, 0x10, 0x00]));
        out.push(("advance-long".into(), vec![op::ADVANCE, 0xff, 0xff]));
        let n = l2tp_wire::testdata::every_message().len() as u8;
        for hide in 0..3u8 {
            let mut v = Vec::new();
            for i in 0..n {
                v.extend_from_slice(&[op::TYPED | (hide << 3), i, 1, 1, 0, 0, 0]);
            }
            out.push((format!("typed-all-hide{hide}"), v));
        }
        for i in 0..n {
            out.push((
                format!("typed-{i:02}-session0"),
                vec![op::TYPED, i, 1, 0, 0, 0, 0],
            ));
        }
        for (i, d) in l2tp_wire::testdata::tunnel_setup_exchange()
            .iter()
            .enumerate()
        {
            let mut v = vec![op::RAW | (2 << 3), d.bytes.len().min(255) as u8];
            v.extend_from_slice(&d.bytes[..d.bytes.len().min(255)]);
            out.push((format!("raw-setup-{i:02}"), v));
        }
        let mut flood = Vec::new();
        for i in 0..16u8 {
            flood.extend_from_slice(&[op::SCCRQ | ((i % 4) << 3), 0, i, i & 1]);
        }
        flood.extend_from_slice(&[op::ADVANCE, 0x20, 0x00]);
        out.push(("sccrq-flood".into(), flood));
        out.push((
            "sequenced-garbage".into(),
            seq(0, &[0x80, 0x08, 0, 0, 0, 0, 0, 6, 0x00, 0x06, 0, 0, 0, 0]),
        ));
        out.push((
            "sequenced-avp-short".into(),
            seq(0, &[0x80, 0x05, 0, 0, 0, 0, 0, 6]),
        ));
        out.push((
            "sequenced-avp-overrun".into(),
            seq(0, &[0x83, 0xff, 0, 0, 0, 0, 0, 6]),
        ));
        out.push((
            "data-spoofed".into(),
            vec![
                op::DATA | (1 << 3),
                1,
                0,
                0,
                8,
                0xff,
                0x03,
                0xc0,
                0x21,
                9,
                1,
                0,
                8,
            ],
        ));
        out.push((
            "commands".into(),
            vec![
                op::COMMAND,
                op::COMMAND | (3 << 3),
                op::COMMAND | (4 << 3),
                op::ADVANCE,
                0,
                100,
                op::COMMAND | (1 << 3),
                op::ADVANCE,
                1,
                0,
                op::COMMAND | (2 << 3),
                op::ADVANCE,
                0x10,
                0,
            ],
        ));
        out.push((
            "drops".into(),
            vec![
                op::DROP | (3 << 3),
                op::ADVANCE,
                0x10,
                0,
                op::DROP | (1 << 3),
                op::ADVANCE,
                0x10,
                0,
            ],
        ));
        out
    }

    #[test]
    fn replay_committed_corpus() {
        let dir = corpus_dir();
        if std::env::var_os("L2TP_WRITE_ENDPOINT_CORPUS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, data) in seeds() {
                std::fs::write(dir.join(name), data).unwrap();
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!("corpus missing at {}", dir.display());
        };
        let mut n = 0;
        for e in entries {
            let path = e.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "corpus file {} fails", path.display());
            n += 1;
        }
        assert!(n >= 10, "only {n} corpus files");
    }

    #[test]
    fn seeds_pass_without_the_committed_files() {
        for (name, data) in seeds() {
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "seed {name} fails");
        }
    }

    /// The target's Ns tracking is right: a typed HELLO with offset 0 is delivered in order
    /// (so fuzzed bodies reach the message decoder and state machines, not just the
    /// reliable layer's duplicate check).
    #[test]
    fn sequenced_messages_reach_the_tunnel() {
        let mut w = World::new();
        let before = w.b.tunnel_info(w.b_tid).unwrap().counters;
        let (ns, nr) = w.b_sequence();
        let h = Header::control(w.b_tid, SessionId(0), ns, nr);
        let d = l2tp_wire::encode_packet(
            &h,
            &ControlMessage::Hello(l2tp_wire::Hello { unknown: vec![] }),
            None,
        )
        .unwrap();
        w.send_to_b(addr(A_ADDR), &d);
        let after = w.b.tunnel_info(w.b_tid).unwrap().counters;
        assert_eq!(
            after.rx_messages,
            before.rx_messages + 1,
            "{before:?} -> {after:?}"
        );
        assert_eq!(after.rx_out_of_order, before.rx_out_of_order);
    }

    #[test]
    fn setup_establishes_a_tunnel_and_session() {
        let w = World::new();
        assert_eq!(w.b.tunnel_count(), 1);
        assert!(w.b.session_info(w.b_tid, w.b_sid).is_some());
    }
}
