//! Shared test support for the control-plane tests: endpoints wrapped as simulator nodes, a
//! message-ladder recorder, and a scripted raw peer that speaks through its own reliable
//! channel so tests can send any message (bad ones included) with correct Ns/Nr.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::reliable::{Channel, ReliableConfig};
use l2tp_proto::control::{Endpoint, EndpointConfig, Event};
use l2tp_sim::Node;
use l2tp_wire::{ControlMessage, Header, SessionId, TunnelId};
use rand::SeedableRng;

/// The LAC's address in every test.
pub fn lac_addr() -> SocketAddr {
    "127.0.0.1:1701".parse().unwrap()
}

/// The LNS's address in every test.
pub fn lns_addr() -> SocketAddr {
    "127.0.0.2:1701".parse().unwrap()
}

/// A seeded RNG for an endpoint.
pub fn rng(seed: u64) -> Box<rand_chacha::ChaCha8Rng> {
    Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
}

/// An endpoint at an address, with the events it produced.
pub struct Peer {
    pub ep: Endpoint,
    pub addr: SocketAddr,
    pub events: Vec<Event>,
}

impl Peer {
    pub fn new(addr: SocketAddr, cfg: EndpointConfig, seed: u64) -> Self {
        Peer {
            ep: Endpoint::new(cfg, rng(seed)),
            addr,
            events: Vec::new(),
        }
    }

    /// Moves pending events to `events`.
    pub fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes the events seen so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }
}

impl Node for Peer {
    fn owns(&self, addr: SocketAddr) -> bool {
        addr == self.addr
    }
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        self.ep.handle_datagram(now, local, from, data);
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        self.drain();
        self.ep.poll_transmit().map(|t| (t.local, t.to, t.payload))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}

/// Name of the message in a control datagram ("ZLB" for an acknowledgement). The Message
/// Type AVP is never hidden, so no secret is needed.
pub fn message_name(dgram: &[u8]) -> String {
    let d = match Header::decode(dgram) {
        Ok(d) => d,
        Err(e) => return format!("BAD({e})"),
    };
    if !d.header.is_control() {
        return "DATA".into();
    }
    let p = d.payload;
    if p.is_empty() {
        return "ZLB".into();
    }
    if p.len() < 8 {
        return "BAD".into();
    }
    let mt = l2tp_wire::MessageType(u16::from_be_bytes([p[6], p[7]]));
    mt.name()
        .map(str::to_string)
        .unwrap_or(format!("type{}", mt.0))
}

/// Two endpoints exchanging datagrams directly, with a transcript of what went where.
pub struct Ladder {
    pub now: Instant,
    pub log: Vec<String>,
    /// Drop the next n datagrams from a (for loss scenarios).
    pub drop_from_a: usize,
    /// Drop the next n datagrams from b.
    pub drop_from_b: usize,
}

impl Ladder {
    pub fn new() -> Self {
        Ladder {
            now: Instant::now(),
            log: Vec::new(),
            drop_from_a: 0,
            drop_from_b: 0,
        }
    }

    /// Shuttles datagrams both ways until neither side has anything to send. Each one is
    /// logged as "A>B NAME" or "B>A NAME".
    pub fn exchange(&mut self, a: &mut Peer, b: &mut Peer) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = a.ep.poll_transmit() {
                moved = true;
                if self.drop_from_a > 0 {
                    self.drop_from_a -= 1;
                    self.log
                        .push(format!("A>B {} (lost)", message_name(&t.payload)));
                    continue;
                }
                self.log.push(format!("A>B {}", message_name(&t.payload)));
                b.ep.handle_datagram(self.now, t.to, t.local, &t.payload);
            }
            while let Some(t) = b.ep.poll_transmit() {
                moved = true;
                if self.drop_from_b > 0 {
                    self.drop_from_b -= 1;
                    self.log
                        .push(format!("B>A {} (lost)", message_name(&t.payload)));
                    continue;
                }
                self.log.push(format!("B>A {}", message_name(&t.payload)));
                a.ep.handle_datagram(self.now, t.to, t.local, &t.payload);
            }
            a.drain();
            b.drain();
            if !moved {
                return;
            }
        }
        panic!("exchange did not settle");
    }

    /// Advances virtual time by `d`, firing timers and exchanging datagrams on the way.
    pub fn advance(&mut self, a: &mut Peer, b: &mut Peer, d: Duration) {
        let end = self.now + d;
        self.exchange(a, b);
        for _ in 0..100_000 {
            let next = [a.ep.poll_timeout(), b.ep.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    a.ep.handle_timeout(self.now);
                    b.ep.handle_timeout(self.now);
                    self.exchange(a, b);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// The transcript without ZLBs (their timing depends on the ack delay).
    pub fn messages(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|l| !l.ends_with("ZLB"))
            .cloned()
            .collect()
    }

    pub fn clear(&mut self) {
        self.log.clear();
    }
}

impl Default for Ladder {
    fn default() -> Self {
        Self::new()
    }
}

/// A scripted peer: sends whatever the test says through its own reliable channel and
/// records what the endpoint sends back.
pub struct Raw {
    pub ch: Channel,
    pub addr: SocketAddr,
    pub secret: Option<Vec<u8>>,
    pub inbox: Vec<(SessionId, ControlMessage)>,
    pub zlbs: usize,
    /// Drop datagrams the endpoint sends to others instead of failing the test.
    pub ignore_others: bool,
}

impl Raw {
    pub fn new(addr: SocketAddr) -> Self {
        Raw {
            ch: Channel::new(ReliableConfig::default()),
            addr,
            secret: None,
            inbox: Vec::new(),
            zlbs: 0,
            ignore_others: false,
        }
    }

    /// Sets the tunnel id written in headers (the endpoint's id for this tunnel).
    pub fn set_tunnel(&mut self, tid: TunnelId) {
        self.ch.peer_tunnel = tid;
    }

    /// Sends `msg` (addressed to the endpoint's session `sid`) and delivers it.
    pub fn send(
        &mut self,
        now: Instant,
        ep: &mut Peer,
        sid: SessionId,
        msg: impl Into<ControlMessage>,
    ) {
        let mut body = Vec::new();
        msg.into().encode(&mut body, None).unwrap();
        self.ch.send(now, sid, body);
        self.flush(now, ep);
    }

    /// Sends raw AVP bytes as a message body.
    pub fn send_body(&mut self, now: Instant, ep: &mut Peer, sid: SessionId, body: Vec<u8>) {
        self.ch.send(now, sid, body);
        self.flush(now, ep);
    }

    /// Delivers whatever our channel has to send (messages, acks).
    pub fn flush(&mut self, now: Instant, ep: &mut Peer) {
        while let Some(d) = self.ch.poll_transmit() {
            ep.ep.handle_datagram(now, ep.addr, self.addr, &d);
        }
        ep.drain();
    }

    /// Receives what the endpoint sent to us; returns the message names in order.
    pub fn recv(&mut self, now: Instant, ep: &mut Peer) -> Vec<String> {
        // Due acknowledgements (tests use ack_delay 0 with scripted peers) go out first.
        ep.ep.handle_timeout(now);
        let mut names = Vec::new();
        let mut others = Vec::new();
        while let Some(t) = ep.ep.poll_transmit() {
            if t.to != self.addr {
                others.push(t);
                continue;
            }
            names.push(message_name(&t.payload));
            let d = Header::decode(&t.payload).unwrap();
            let s = d.header.sequence.unwrap();
            let r = self
                .ch
                .receive(now, s.ns, s.nr, d.header.session_id, d.payload);
            if r.zlb {
                self.zlbs += 1;
            }
            for (sid, body) in r.delivered {
                let m = ControlMessage::decode(&body, self.secret.as_deref()).unwrap();
                self.inbox.push((sid, m));
            }
        }
        // Acknowledge at once so the endpoint's queue drains.
        self.ch.flush_ack();
        self.flush(now, ep);
        ep.drain();
        assert!(
            self.ignore_others || others.is_empty(),
            "datagrams to other peers: {}",
            others.len()
        );
        names
    }

    /// The last message received, if any.
    pub fn last(&self) -> Option<&ControlMessage> {
        self.inbox.last().map(|(_, m)| m)
    }
}

/// A default configuration with HELLO disabled (ladder tests control time exactly).
pub fn quiet_config(host: &str) -> EndpointConfig {
    EndpointConfig {
        host_name: host.into(),
        hello_interval: None,
        ..EndpointConfig::default()
    }
}

/// A configuration for tests against a scripted peer: no HELLO, immediate acknowledgements.
pub fn raw_config(host: &str) -> EndpointConfig {
    EndpointConfig {
        ack_delay: Duration::ZERO,
        ..quiet_config(host)
    }
}

/// A minimal SCCRQ from a scripted peer.
pub fn sccrq(assigned: u16) -> l2tp_wire::Sccrq {
    l2tp_wire::Sccrq {
        protocol_version: l2tp_wire::ProtocolVersion::V1_0,
        host_name: b"raw".to_vec(),
        framing_capabilities: l2tp_wire::FramingCapabilities::SYNC,
        assigned_tunnel_id: TunnelId(assigned),
        bearer_capabilities: None,
        receive_window_size: Some(8),
        challenge: None,
        tie_breaker: None,
        firmware_revision: None,
        vendor_name: None,
        unknown: vec![],
    }
}

/// A minimal SCCRP from a scripted peer.
pub fn sccrp(assigned: u16) -> l2tp_wire::Sccrp {
    l2tp_wire::Sccrp {
        protocol_version: l2tp_wire::ProtocolVersion::V1_0,
        framing_capabilities: l2tp_wire::FramingCapabilities::SYNC,
        host_name: b"raw".to_vec(),
        assigned_tunnel_id: TunnelId(assigned),
        bearer_capabilities: None,
        firmware_revision: None,
        vendor_name: None,
        receive_window_size: None,
        challenge: None,
        challenge_response: None,
        unknown: vec![],
    }
}

/// An unknown vendor AVP with the given M bit.
pub fn unknown_avp(mandatory: bool) -> l2tp_wire::UnknownAvp {
    l2tp_wire::UnknownAvp {
        vendor: 311,
        attr: l2tp_wire::AvpType(99),
        mandatory,
        hidden: false,
        reserved: 0,
        value: vec![1, 2, 3],
    }
}

/// Brings a scripted peer's tunnel to established against `ep` (the endpoint as recipient).
/// Returns the endpoint's tunnel id.
pub fn raw_tunnel(now: Instant, raw: &mut Raw, ep: &mut Peer, assigned: u16) -> TunnelId {
    raw.send(now, ep, SessionId(0), sccrq(assigned));
    raw.recv(now, ep);
    let tid = match raw.last() {
        Some(ControlMessage::Sccrp(m)) => m.assigned_tunnel_id,
        other => panic!("expected SCCRP, got {other:?}"),
    };
    raw.set_tunnel(tid);
    raw.send(
        now,
        ep,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    raw.recv(now, ep);
    tid
}
