//! Property tests of the receive path's sequencing against simple models:
//!
//! - under arbitrary loss, duplication, reordering and time steps, frames are never delivered
//!   out of order nor twice, the reorder queue never exceeds its bound, and every packet is
//!   accounted for (delivered + dropped + held = received);
//! - when every packet arrives, the first one first, and the queue cannot overflow nor expire,
//!   the output is exactly the sorted input and `rx_oos_packets` is the model's count of
//!   packets that arrived after a later one.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::data::{
    Datapath, DatapathConfig, RxResult, SessionConfig, SessionKey, SessionOptions, SocketId,
};
use l2tp_wire::{Header, SeqNum, Sequence, SessionId, TunnelId};
use proptest::prelude::*;

fn peer() -> SocketAddr {
    "192.0.2.7:1701".parse().unwrap()
}

fn setup(bound: usize, reorder_ms: u64) -> (Datapath, SessionKey) {
    let mut dp = Datapath::new(DatapathConfig {
        reorder_queue_len: bound,
        ..DatapathConfig::default()
    });
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    let key = dp
        .create_session(
            SessionConfig::new(TunnelId(1), SessionId(2), TunnelId(3), SessionId(4), peer())
                .with_options(SessionOptions {
                    send_seq: true,
                    lns_mode: true,
                    reorder_timeout: Duration::from_millis(reorder_ms),
                    ..SessionOptions::default()
                }),
        )
        .unwrap();
    (dp, key)
}

fn packet(ns: u16) -> Vec<u8> {
    let mut h = Header::data(TunnelId(1), SessionId(2));
    h.sequence = Some(Sequence {
        ns: SeqNum(ns),
        nr: SeqNum(0),
    });
    h.encode_with_payload(&ns.to_be_bytes())
}

fn ns_of(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[0], frame[1]])
}

/// Feeds one packet at `now` and appends what was delivered (Ns values) to `out`.
fn feed(dp: &mut Datapath, now: Instant, ns: u16, out: &mut Vec<u16>) {
    let d = packet(ns);
    if let RxResult::Deliver { frame, .. } = dp.receive(now, peer(), &d) {
        out.push(ns_of(&d[frame]));
    }
    while let Some(x) = dp.poll_deliver() {
        out.push(ns_of(&x.frame));
        dp.recycle(x.frame);
    }
}

/// One event of the chaotic network: deliver packet `start + offset`, after `dt_ms`.
/// Starting Ns: anywhere, but often just before the 65535 → 0 wrap.
fn start() -> impl Strategy<Value = u16> {
    prop_oneof![any::<u16>(), 65400u16..=65535]
}

fn events() -> impl Strategy<Value = Vec<(u16, u64)>> {
    prop::collection::vec((0u16..120, 0u64..40), 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_out_of_order_never_twice_never_over_the_bound(
        start in start(),
        bound in 1usize..12,
        reorder_ms in prop_oneof![Just(0u64), 1u64..200],
        evs in events(),
    ) {
        let (mut dp, key) = setup(bound, reorder_ms);
        let mut now = Instant::now();
        let mut out = Vec::new();
        for &(off, dt) in &evs {
            now += Duration::from_millis(dt);
            if dp.poll_timeout().is_some_and(|t| t <= now) {
                dp.handle_timeout(now);
                while let Some(x) = dp.poll_deliver() {
                    out.push(ns_of(&x.frame));
                }
            }
            feed(&mut dp, now, start.wrapping_add(off), &mut out);
            prop_assert!(dp.queued_len(key) <= bound);
        }
        // Drain by time: everything held eventually leaves. Each step pops at least one
        // timer and there is at most one timer per packet, so this is bounded.
        for _ in 0..=evs.len() {
            match dp.poll_timeout() {
                Some(t) => dp.handle_timeout(t.max(now)),
                None => break,
            }
            while let Some(x) = dp.poll_deliver() {
                out.push(ns_of(&x.frame));
            }
        }
        if reorder_ms > 0 {
            prop_assert_eq!(dp.queued_len(key), 0);
        }
        // Never twice.
        let unique: HashSet<u16> = out.iter().copied().collect();
        prop_assert_eq!(unique.len(), out.len());
        // Never out of order (serial order; all offsets are < 120 so no ambiguity).
        for w in out.windows(2) {
            prop_assert!(SeqNum(w[1]).is_after(SeqNum(w[0])), "{:?}", out);
        }
        // Everything accounted for.
        let s = dp.stats(TunnelId(1), SessionId(2)).unwrap();
        prop_assert_eq!(s.rx_packets as usize, out.len());
        prop_assert_eq!(
            s.rx_packets + s.rx_errors + dp.queued_len(key) as u64,
            evs.len() as u64
        );
        prop_assert_eq!(s.rx_errors, s.rx_seq_discards);
    }

    #[test]
    fn complete_reordered_input_comes_out_sorted(
        start in start(),
        rest in Just((1u16..60).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let (mut dp, _) = setup(64, 1000);
        let now = Instant::now();
        let mut arrivals = vec![0u16];
        arrivals.extend(rest);
        let mut out = Vec::new();
        for &off in &arrivals {
            feed(&mut dp, now, start.wrapping_add(off), &mut out);
        }
        let expected: Vec<u16> = (0u16..60).map(|o| start.wrapping_add(o)).collect();
        prop_assert_eq!(&out, &expected);
        // Model of rx_oos_packets: packets that arrived after a later one was already there.
        let mut max_seen = 0u16;
        let mut oos = 0u64;
        for &off in &arrivals {
            if off < max_seen {
                oos += 1;
            }
            max_seen = max_seen.max(off);
        }
        let s = dp.stats(TunnelId(1), SessionId(2)).unwrap();
        prop_assert_eq!(s.rx_oos_packets, oos);
        prop_assert_eq!((s.rx_packets, s.rx_errors), (60, 0));
    }
}
