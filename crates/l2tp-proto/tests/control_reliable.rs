//! Property tests of the reliable control channel (RFC 2661 §5.8): whatever the network does
//! (loss, duplication, reordering, delay), every message is delivered exactly once and in
//! order, both ways, and the senders end idle. Plus congestion-window behaviour.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use l2tp_proto::control::reliable::{Channel, ReliableConfig};
use l2tp_wire::{Header, SeqNum, SessionId};
use proptest::prelude::*;

struct Link {
    // (arrival time, to_b, bytes)
    q: Vec<(Instant, bool, Vec<u8>)>,
}

fn drive(
    seed_ops: &[(u8, u8)],
    msgs: usize,
    loss_pct: u8,
    start_seq: u16,
) -> (Vec<u32>, Vec<u32>, bool) {
    let t0 = Instant::now();
    let cfg = ReliableConfig {
        initial_seq: SeqNum(start_seq),
        max_retries: 50,
        ..ReliableConfig::default()
    };
    let mut a = Channel::new(cfg);
    let mut b = Channel::new(cfg);
    a.set_peer_window(8);
    b.set_peer_window(8);
    let mut link = Link { q: Vec::new() };
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    let mut ops: VecDeque<(u8, u8)> = seed_ops.iter().copied().collect();
    let mut next = || ops.pop_front().unwrap_or((50, 50));
    for i in 0..msgs as u32 {
        a.send(t0, SessionId(1), i.to_be_bytes().to_vec());
        b.send(t0, SessionId(2), (i + 1_000_000).to_be_bytes().to_vec());
    }
    let mut now = t0;
    for _ in 0..200_000 {
        // Move transmits into the link with random fate.
        for (ch, to_b) in [(&mut a, true), (&mut b, false)] {
            while let Some(d) = ch.poll_transmit() {
                let (r1, r2) = next();
                if r1 % 100 < loss_pct {
                    continue;
                }
                let delay = Duration::from_millis(5 + u64::from(r2 % 40));
                if r2 % 17 == 0 {
                    link.q.push((now + delay * 2, to_b, d.clone()));
                }
                link.q.push((now + delay, to_b, d));
            }
        }
        let t_link = link.q.iter().map(|x| x.0).min();
        let t_timer = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = [t_link, t_timer].into_iter().flatten().min() else {
            break;
        };
        now = now.max(t);
        let (due, rest): (Vec<_>, Vec<_>) = link.q.drain(..).partition(|x| x.0 <= now);
        link.q = rest;
        for (_, to_b, d) in due {
            let h = Header::decode(&d).unwrap();
            let s = h.header.sequence.unwrap();
            let (ch, got) = if to_b {
                (&mut b, &mut got_b)
            } else {
                (&mut a, &mut got_a)
            };
            for (_, body) in ch
                .receive(now, s.ns, s.nr, h.header.session_id, h.payload)
                .delivered
            {
                got.push(u32::from_be_bytes(body.try_into().unwrap()));
            }
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        if a.failure().is_some() || b.failure().is_some() {
            break;
        }
    }
    let idle = a.is_idle() && b.is_idle() && a.failure().is_none() && b.failure().is_none();
    (got_a, got_b, idle)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn exactly_once_in_order_under_loss_dup_reorder(
        ops in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..2000),
        msgs in 1usize..60,
        loss in 0u8..35,
        start in prop_oneof![Just(0u16), Just(65_520u16), any::<u16>()],
    ) {
        let (got_a, got_b, idle) = drive(&ops, msgs, loss, start);
        let want_b: Vec<u32> = (0..msgs as u32).collect();
        let want_a: Vec<u32> = (0..msgs as u32).map(|i| i + 1_000_000).collect();
        prop_assert_eq!(got_b, want_b);
        prop_assert_eq!(got_a, want_a);
        prop_assert!(idle, "everything acknowledged");
    }
}

#[test]
fn timeout_collapses_the_congestion_window_and_acks_reopen_it() {
    let t0 = Instant::now();
    let mut a = Channel::new(ReliableConfig::default());
    a.set_peer_window(8);
    // Open the window to 8 by acknowledging one message at a time.
    let mut ns = 0u16;
    for _ in 0..7 {
        a.send(t0, SessionId(0), vec![1]);
        while a.poll_transmit().is_some() {}
        ns += 1;
        a.receive(t0, SeqNum(0), SeqNum(ns), SessionId(0), &[]);
    }
    assert_eq!(a.congestion_window(), 8);
    for _ in 0..8 {
        a.send(t0, SessionId(0), vec![2]);
    }
    assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 8);
    // Nothing acknowledged: all 8 time out together and are retransmitted; CWND = 1,
    // SSTHRESH = 4.
    a.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(a.congestion_window(), 1);
    assert_eq!(a.counters().tx_retransmits, 8);
    // Slow start up to SSTHRESH, then one per window.
    let before = a.outstanding();
    a.receive(
        t0 + Duration::from_secs(1),
        SeqNum(0),
        SeqNum(ns + 1),
        SessionId(0),
        &[],
    );
    assert_eq!(a.outstanding(), before - 1);
    assert_eq!(a.congestion_window(), 2);
}

#[test]
fn receive_window_zero_is_ignored_and_absent_means_four() {
    let t0 = Instant::now();
    let mut a = Channel::new(ReliableConfig::default());
    assert_eq!(a.peer_window(), 4);
    a.set_peer_window(0);
    assert_eq!(a.peer_window(), 4);
    let _ = t0;
}

#[test]
fn beyond_our_window_is_dropped_and_counted() {
    let t0 = Instant::now();
    let cfg = ReliableConfig {
        receive_window: 4,
        ..ReliableConfig::default()
    };
    let mut b = Channel::new(cfg);
    let r = b.receive(t0, SeqNum(4), SeqNum(0), SessionId(0), b"x");
    assert!(r.delivered.is_empty());
    assert_eq!(b.counters().rx_out_of_window, 1);
    b.receive(t0, SeqNum(3), SeqNum(0), SessionId(0), b"y");
    assert_eq!(b.counters().rx_out_of_order, 1);
}

#[test]
fn bogus_nr_is_ignored() {
    let t0 = Instant::now();
    let mut a = Channel::new(ReliableConfig::default());
    a.send(t0, SessionId(0), vec![1]);
    a.poll_transmit();
    // Nr 5 acknowledges messages never sent.
    a.receive(t0, SeqNum(0), SeqNum(5), SessionId(0), &[]);
    assert_eq!(a.outstanding(), 1);
    a.receive(t0, SeqNum(0), SeqNum(1), SessionId(0), &[]);
    assert!(a.is_idle());
}
