//! Control-plane benchmark (no sockets, virtual time, one core):
//!
//! 1. tunnel+session establishments per second: a LAC opens N tunnels to an LNS and places
//!    one call in each (SCCRQ/SCCRP/SCCCN + ICRQ/ICRP/ICCN + ZLBs, both endpoints' work);
//! 2. session establishments per second in one tunnel;
//! 3. heap bytes per idle established session and per idle tunnel on the LNS, counted by a
//!    counting global allocator.
//!
//! Baseline measured in the same run: encoding and decoding the same six messages with the
//! wire codec alone, so the ratio shows what the state machines and reliable delivery cost
//! over the codec.
//!
//! Run: `cargo bench -p l2tp-proto --bench control_establish`

use std::alloc::System;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::{CallParams, Endpoint, EndpointConfig, Event, TunnelOptions};
use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tp_wire::{
    ControlMessage, FramingCapabilities, Iccn, Icrp, Icrq, ProtocolVersion, Scccn, Sccrp, Sccrq,
    SessionId, TunnelId,
};
use rand::SeedableRng;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct P {
    ep: Endpoint,
    addr: SocketAddr,
    ups: usize,
}

impl Node for P {
    fn owns(&self, a: SocketAddr) -> bool {
        a == self.addr
    }
    fn handle_datagram(&mut self, now: Instant, l: SocketAddr, f: SocketAddr, d: &[u8]) {
        self.ep.handle_datagram(now, l, f, d);
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        self.ep.poll_transmit().map(|t| (t.local, t.to, t.payload))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}

impl P {
    fn new(addr: &str, seed: u64) -> Self {
        let cfg = EndpointConfig {
            hello_interval: None,
            ..EndpointConfig::default()
        };
        P {
            ep: Endpoint::new(cfg, Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed))),
            addr: addr.parse().unwrap(),
            ups: 0,
        }
    }
    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            if matches!(e, Event::SessionUp { .. }) {
                self.ups += 1;
            }
        }
    }
}

/// LAC opens `tunnels` tunnels with `per_tunnel` calls each; runs until every call is up on
/// both sides and every acknowledgement is delivered. Returns (lac, lns).
fn establish(tunnels: usize, per_tunnel: usize) -> (P, P) {
    let start = Instant::now();
    let mut lac = P::new("127.0.0.1:1701", 1);
    let mut lns = P::new("127.0.0.2:1701", 2);
    let mut h = Harness::new(
        Network::new(1, NetConfig::perfect(Duration::from_millis(1))),
        start,
    );
    for _ in 0..tunnels {
        let t = lac
            .ep
            .open_tunnel(start, lac.addr, lns.addr, TunnelOptions::default())
            .unwrap();
        for _ in 0..per_tunnel {
            lac.ep
                .place_incoming_call(start, t, CallParams::default())
                .unwrap();
        }
    }
    let want = tunnels * per_tunnel;
    // Everything settles (acks included) well within an hour of virtual time.
    h.run_until(
        &mut [&mut lac as &mut dyn Node, &mut lns],
        start + Duration::from_secs(3600),
        100_000_000,
        |_| false,
    );
    assert_eq!((lac.ups, lns.ups), (want, want));
    (lac, lns)
}

fn codec_baseline(rounds: usize) -> Duration {
    let msgs: Vec<ControlMessage> = vec![
        Sccrq {
            protocol_version: ProtocolVersion::V1_0,
            host_name: b"lac".to_vec(),
            framing_capabilities: FramingCapabilities::SYNC,
            assigned_tunnel_id: TunnelId(1),
            bearer_capabilities: None,
            receive_window_size: Some(16),
            challenge: None,
            tie_breaker: None,
            firmware_revision: Some(1),
            vendor_name: Some(b"x".to_vec()),
            unknown: vec![],
        }
        .into(),
        Sccrp {
            protocol_version: ProtocolVersion::V1_0,
            framing_capabilities: FramingCapabilities::SYNC,
            host_name: b"lns".to_vec(),
            assigned_tunnel_id: TunnelId(2),
            bearer_capabilities: None,
            firmware_revision: Some(1),
            vendor_name: Some(b"x".to_vec()),
            receive_window_size: Some(16),
            challenge: None,
            challenge_response: None,
            unknown: vec![],
        }
        .into(),
        Scccn {
            challenge_response: None,
            unknown: vec![],
        }
        .into(),
        Icrq {
            assigned_session_id: SessionId(5),
            call_serial_number: 1,
            bearer_type: None,
            physical_channel_id: None,
            calling_number: None,
            called_number: None,
            sub_address: None,
            unknown: vec![],
        }
        .into(),
        Icrp {
            assigned_session_id: SessionId(6),
            unknown: vec![],
        }
        .into(),
        Iccn::new(1, FramingCapabilities::SYNC).into(),
    ];
    let t = Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            let mut out = Vec::new();
            m.encode(&mut out, None).unwrap();
            let back = ControlMessage::decode(std::hint::black_box(&out), None).unwrap();
            std::hint::black_box(back);
        }
    }
    t.elapsed()
}

fn live() -> isize {
    // stats_alloc already folds reallocation growth/shrink into allocated/deallocated.
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// Heap bytes the LNS holds for `tunnels` tunnels with `per_tunnel` idle sessions each.
fn lns_heap(tunnels: usize, per_tunnel: usize) -> isize {
    let before = live();
    let (lac, mut lns) = establish(tunnels, per_tunnel);
    drop(lac);
    lns.ep.shrink_to_fit();
    let held = live() - before;
    drop(lns);
    held
}

fn main() {
    // Ignore the arguments cargo bench passes (`--bench`).
    let n = 2000;
    let t = Instant::now();
    let (lac, lns) = establish(n, 1);
    let e1 = t.elapsed();
    drop((lac, lns));
    let base = codec_baseline(n);
    let rate = n as f64 / e1.as_secs_f64();
    println!(
        "tunnel+session establishments: {n} in {e1:.2?} -> {rate:.0}/s (both endpoints, one core)"
    );
    println!(
        "codec baseline (encode+decode the same 6 messages): {n} in {base:.2?} -> ratio {:.1}x",
        e1.as_secs_f64() / base.as_secs_f64()
    );

    let s = 10_000;
    let t = Instant::now();
    let (lac, lns) = establish(1, s);
    let e2 = t.elapsed();
    drop((lac, lns));
    println!(
        "sessions in one tunnel: {s} in {e2:.2?} -> {:.0}/s",
        s as f64 / e2.as_secs_f64()
    );

    let empty = lns_heap(10, 0);
    let full = lns_heap(10, 10_000);
    println!(
        "LNS heap per idle tunnel: {} bytes; per idle established session: {} bytes",
        empty / 10,
        (full - empty) / 100_000
    );
}
