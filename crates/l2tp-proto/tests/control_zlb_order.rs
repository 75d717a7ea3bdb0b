//! Property test of the Ns we put on the wire (RFC 2661 §5.8): in send order, every first
//! transmission and every ZLB acknowledgement carries an Ns no smaller than the one before,
//! however the peer's window holds messages back. A ZLB takes the slot of the next message
//! actually sent, never a number already given to a message still waiting for the window.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use l2tp_proto::control::reliable::{Channel, ReliableConfig};
use l2tp_wire::{Header, SeqNum, SessionId};
use proptest::prelude::*;

/// One step of the script: what happens next between us (`a`) and the peer (`b`).
#[derive(Debug, Clone)]
enum Op {
    /// We queue this many messages.
    Send(u8),
    /// The peer sends this many messages (we must acknowledge them).
    PeerSend(u8),
    /// Our datagrams reach the peer.
    DeliverToPeer,
    /// The peer's datagrams reach us.
    DeliverToUs,
    /// Time passes (milliseconds).
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..20).prop_map(Op::Send),
        (1u8..6).prop_map(Op::PeerSend),
        Just(Op::DeliverToPeer),
        Just(Op::DeliverToUs),
        (1u16..1500).prop_map(Op::Wait),
    ]
}

fn ns_nr(d: &[u8]) -> (SeqNum, SeqNum, bool) {
    let h = Header::decode(d).expect("our own datagram decodes");
    let s = h.header.sequence.expect("control messages carry Ns/Nr");
    (s.ns, s.nr, h.payload.is_empty())
}

/// Runs the script and returns our datagrams in send order as (Ns, is ZLB, retransmission).
fn run(ops: &[Op], peer_window: u16, start: u16) -> Vec<(SeqNum, bool, bool)> {
    let t0 = Instant::now();
    let cfg = ReliableConfig {
        initial_seq: SeqNum(start),
        max_retries: 1000,
        ..ReliableConfig::default()
    };
    let mut a = Channel::new(cfg);
    let mut b = Channel::new(cfg);
    a.set_peer_window(peer_window);
    b.set_peer_window(16);
    let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
    let mut wire = Vec::new();
    let mut seen = HashSet::new();
    let mut now = t0;
    let mut n = 0u32;
    for op in ops {
        match op {
            Op::Send(k) => {
                for _ in 0..*k {
                    n += 1;
                    a.send(now, SessionId(1), n.to_be_bytes().to_vec());
                }
            }
            Op::PeerSend(k) => {
                for _ in 0..*k {
                    n += 1;
                    b.send(now, SessionId(2), n.to_be_bytes().to_vec());
                }
            }
            Op::DeliverToPeer => {
                for d in to_b.drain(..) {
                    let d: Vec<u8> = d;
                    let (ns, nr, _) = ns_nr(&d);
                    let body = Header::decode(&d).unwrap().payload.to_vec();
                    b.receive(now, ns, nr, SessionId(2), &body);
                }
            }
            Op::DeliverToUs => {
                for d in to_a.drain(..) {
                    let d: Vec<u8> = d;
                    let (ns, nr, _) = ns_nr(&d);
                    let body = Header::decode(&d).unwrap().payload.to_vec();
                    a.receive(now, ns, nr, SessionId(1), &body);
                }
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(*ms));
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        while let Some(d) = a.poll_transmit() {
            let (ns, _, zlb) = ns_nr(&d);
            let retransmission = !zlb && !seen.insert(ns.0);
            wire.push((ns, zlb, retransmission));
            to_b.push(d);
        }
        while let Some(d) = b.poll_transmit() {
            to_a.push(d);
        }
    }
    wire
}

/// The first Ns that goes backwards (serial order), if any, ignoring retransmissions.
fn first_backwards(wire: &[(SeqNum, bool, bool)]) -> Option<(usize, SeqNum, SeqNum)> {
    let mut last: Option<SeqNum> = None;
    for (i, (ns, _, rtx)) in wire.iter().enumerate() {
        if *rtx {
            continue;
        }
        if let Some(l) = last {
            if ns.is_before(l) {
                return Some((i, l, *ns));
            }
        }
        last = Some(*ns);
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ns_on_the_wire_never_goes_backwards(
        ops in proptest::collection::vec(op(), 1..120),
        window in 1u16..8,
        start in prop_oneof![Just(0u16), Just(65530u16), any::<u16>()],
    ) {
        let wire = run(&ops, window, start);
        prop_assert_eq!(first_backwards(&wire), None, "wire: {:?}", wire);
    }
}

/// The case from the field: messages queued behind a full window, then the peer's message
/// arrives and must be acknowledged. The ZLB carries the Ns of the first queued message.
#[test]
fn zlb_behind_a_full_window_carries_the_next_ns_sent() {
    let ops = [
        Op::Send(10),
        Op::PeerSend(1),
        Op::DeliverToUs,
        Op::Wait(200),
        Op::DeliverToPeer,
        Op::DeliverToUs,
    ];
    let wire = run(&ops, 4, 0);
    let zlb = wire
        .iter()
        .find(|(_, zlb, _)| *zlb)
        .expect("the peer's message is acknowledged by a ZLB");
    // Only Ns 0 was sent (congestion window 1): the next message on the wire is Ns 1.
    assert_eq!(zlb.0, SeqNum(1), "wire: {wire:?}");
    assert_eq!(first_backwards(&wire), None, "wire: {wire:?}");
}
