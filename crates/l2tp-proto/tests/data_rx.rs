//! Receive rules of the datapath (DESIGN §4), each asserting the driver's counters:
//! classification, peer check, shared vs per-tunnel sockets, Offset and Priority, the
//! sequencing rules (the kernel's cases), reordering with timeout and expiry, out-of-order
//! discard with recovery, the wrap 65535 → 0, and encapsulation.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::data::{
    ControlReason, Datapath, DatapathConfig, DebugMask, DropReason, L2tpStats, RxResult,
    SessionConfig, SessionKey, SessionOption, SessionOptions, SocketId,
};
use l2tp_wire::{Header, MessageKind, SeqNum, Sequence, SessionId, TunnelId};

const T: TunnelId = TunnelId(10);
const S: SessionId = SessionId(20);

fn peer() -> SocketAddr {
    "192.0.2.7:1701".parse().unwrap()
}

fn setup(opts: SessionOptions) -> (Datapath, SessionKey) {
    setup_with(DatapathConfig::default(), opts)
}

fn setup_with(config: DatapathConfig, opts: SessionOptions) -> (Datapath, SessionKey) {
    let mut dp = Datapath::new(config);
    dp.create_tunnel(T, SocketId::SHARED, peer()).unwrap();
    let key = dp
        .create_session(
            SessionConfig::new(T, S, TunnelId(30), SessionId(40), peer()).with_options(opts),
        )
        .unwrap();
    (dp, key)
}

/// A data message for our session; the payload names its Ns so delivery order is visible.
fn data(ns: Option<u16>, tag: u16) -> Vec<u8> {
    let mut h = Header::data(T, S);
    h.sequence = ns.map(|n| Sequence {
        ns: SeqNum(n),
        nr: SeqNum(0),
    });
    h.encode_with_payload(&[0xff, 0x03, (tag >> 8) as u8, tag as u8])
}

fn tag(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[2], frame[3]])
}

/// Feeds one datagram and returns the tags delivered because of it, in order.
fn feed(dp: &mut Datapath, now: Instant, d: &[u8]) -> (RxResult, Vec<u16>) {
    let r = dp.receive(now, peer(), d);
    let mut out = Vec::new();
    if let RxResult::Deliver { frame, .. } = &r {
        out.push(tag(&d[frame.clone()]));
    }
    out.extend(drain(dp));
    (r, out)
}

fn drain(dp: &mut Datapath) -> Vec<u16> {
    let mut out = Vec::new();
    while let Some(d) = dp.poll_deliver() {
        out.push(tag(&d.frame));
        dp.recycle(d.frame);
    }
    out
}

/// Feeds sequenced packets with the given Ns (tag = Ns) and returns all tags delivered.
fn feed_seq(dp: &mut Datapath, now: Instant, ns: &[u16]) -> Vec<u16> {
    ns.iter()
        .flat_map(|&n| feed(dp, now, &data(Some(n), n)).1)
        .collect()
}

fn session_stats(dp: &Datapath) -> L2tpStats {
    dp.stats(T, S).unwrap()
}

fn seq_opts(reorder_ms: u64) -> SessionOptions {
    SessionOptions {
        send_seq: true,
        lns_mode: true,
        reorder_timeout: Duration::from_millis(reorder_ms),
        ..SessionOptions::default()
    }
}

// ---- classification --------------------------------------------------------------------

#[test]
fn control_messages_and_unknown_sessions_go_to_the_control_plane() {
    let (mut dp, _) = setup(SessionOptions::default());
    let now = Instant::now();
    let zlb = Header::control(T, SessionId(0), SeqNum(0), SeqNum(1)).encode_with_payload(&[]);
    assert_eq!(
        dp.receive(now, peer(), &zlb),
        RxResult::ToControl(l2tp_proto::data::ToControl {
            reason: ControlReason::Control,
            tunnel: T,
            session: SessionId(0),
            socket: SocketId::SHARED,
        })
    );
    for (t, s) in [(10, 21), (11, 20), (10, 0), (0, 0)] {
        let d = Header::data(TunnelId(t), SessionId(s)).encode_with_payload(&[1, 2]);
        match dp.receive(now, peer(), &d) {
            RxResult::ToControl(tc) => {
                assert_eq!(tc.reason, ControlReason::UnknownSession);
                assert_eq!((tc.tunnel, tc.session), (TunnelId(t), SessionId(s)));
            }
            other => panic!("{other:?}"),
        }
    }
    let c = dp.counters();
    assert_eq!((c.control, c.unknown_session), (1, 4));
    // None of it touched the session or the tunnel.
    assert_eq!(session_stats(&dp), L2tpStats::default());
    assert_eq!(dp.stats(T, SessionId(0)).unwrap(), L2tpStats::default());
}

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    let (mut dp, _) = setup(SessionOptions::default());
    let now = Instant::now();
    for bad in [
        &[][..],
        &[0x00],
        &[0x00, 0x03, 0, 10, 0, 20],
        &[0x02, 0x02, 0, 10, 0, 20, 0, 9],
    ] {
        assert!(matches!(
            dp.receive(now, peer(), bad),
            RxResult::Dropped(DropReason::Malformed(_))
        ));
    }
    assert_eq!(dp.counters().malformed, 4);
}

#[test]
fn data_from_another_address_or_port_is_dropped() {
    let (mut dp, key) = setup(SessionOptions::default());
    let now = Instant::now();
    let d = data(None, 1);
    for from in ["192.0.2.7:1702", "192.0.2.8:1701", "[2001:db8::7]:1701"] {
        let from: SocketAddr = from.parse().unwrap();
        assert_eq!(
            dp.receive(now, from, &d),
            RxResult::Dropped(DropReason::WrongPeer { tunnel: T, from })
        );
    }
    assert_eq!(dp.counters().wrong_peer, 3);
    assert_eq!(dp.stats(T, SessionId(0)).unwrap().rx_errors, 3);
    // The session's own counters are not a spoofer's to move.
    assert_eq!(session_stats(&dp), L2tpStats::default());
    // The real peer, also as an IPv4-mapped IPv6 address (dual-stack socket), is accepted.
    let mapped: SocketAddr = "[::ffff:192.0.2.7]:1701".parse().unwrap();
    assert!(
        matches!(dp.receive(now, mapped, &d), RxResult::Deliver { session, .. } if session == key)
    );
    assert_eq!(session_stats(&dp).rx_packets, 1);
}

#[test]
fn nated_clients_sharing_address_and_port_1701_are_told_apart_by_tunnel_id() {
    // Several clients behind one NAT: same public address; two share source port 1701 with
    // a third on 1701 of another NAT. Each tunnel is keyed by our tunnel id and checks its peer.
    let nat_a: SocketAddr = "198.51.100.1:1701".parse().unwrap();
    let nat_a2: SocketAddr = "198.51.100.1:4500".parse().unwrap();
    let mut dp = Datapath::new(DatapathConfig::default());
    let mut keys = Vec::new();
    for (t, p) in [(1u16, nat_a), (2, nat_a), (3, nat_a2)] {
        dp.create_tunnel(TunnelId(t), SocketId::SHARED, p).unwrap();
        keys.push(
            dp.create_session(SessionConfig::new(
                TunnelId(t),
                SessionId(7),
                TunnelId(9),
                SessionId(9),
                p,
            ))
            .unwrap(),
        );
    }
    let now = Instant::now();
    for (i, (t, p)) in [(1u16, nat_a), (2, nat_a), (3, nat_a2)]
        .into_iter()
        .enumerate()
    {
        let d = Header::data(TunnelId(t), SessionId(7)).encode_with_payload(&[t as u8]);
        assert!(
            matches!(dp.receive(now, p, &d), RxResult::Deliver { session, .. } if session == keys[i])
        );
    }
    // Tunnel 3's ids from tunnel 1's source port: refused.
    let d = Header::data(TunnelId(3), SessionId(7)).encode_with_payload(&[3]);
    assert!(matches!(
        dp.receive(now, nat_a, &d),
        RxResult::Dropped(DropReason::WrongPeer { .. })
    ));
    for t in 1..=3 {
        assert_eq!(dp.stats(TunnelId(t), SessionId(7)).unwrap().rx_packets, 1);
    }
    assert_eq!(dp.stats(TunnelId(3), SessionId(0)).unwrap().rx_errors, 1);
}

#[test]
fn one_shared_socket_serves_many_tunnels() {
    let mut dp = Datapath::new(DatapathConfig::default());
    let peers: Vec<SocketAddr> = (1..=50u16)
        .map(|i| {
            format!("10.0.{}.{}:1701", i / 200, i % 200 + 1)
                .parse()
                .unwrap()
        })
        .collect();
    for (i, p) in peers.iter().enumerate() {
        let t = TunnelId(1000 + i as u16);
        dp.create_tunnel(t, SocketId::SHARED, *p).unwrap();
        for s in 1..=20 {
            dp.create_session(SessionConfig::new(
                t,
                SessionId(s),
                TunnelId(5),
                SessionId(s),
                *p,
            ))
            .unwrap();
        }
    }
    let now = Instant::now();
    for (i, p) in peers.iter().enumerate() {
        let t = TunnelId(1000 + i as u16);
        let d = Header::data(t, SessionId(13)).encode_with_payload(&[0xff, 0x03]);
        assert!(
            matches!(dp.receive(now, *p, &d), RxResult::Deliver { session, .. }
            if session == SessionKey::new(t, SessionId(13)))
        );
        assert_eq!(dp.stats(t, SessionId(13)).unwrap().rx_packets, 1);
        assert_eq!(dp.stats(t, SessionId(12)).unwrap().rx_packets, 0);
        assert_eq!(dp.stats(t, SessionId(0)).unwrap().rx_bytes, 2);
    }
}

#[test]
fn per_tunnel_sockets_accept_data_only_on_the_tunnels_socket() {
    // The seed's daemon: one (connected) UDP socket per tunnel.
    let mut dp = Datapath::new(DatapathConfig::default());
    let (pa, pb): (SocketAddr, SocketAddr) = (
        "192.0.2.1:1701".parse().unwrap(),
        "192.0.2.2:1701".parse().unwrap(),
    );
    dp.create_tunnel(TunnelId(1), SocketId(1), pa).unwrap();
    dp.create_tunnel(TunnelId(2), SocketId(2), pb).unwrap();
    let ka = dp
        .create_session(SessionConfig::new(
            TunnelId(1),
            SessionId(1),
            TunnelId(8),
            SessionId(8),
            pa,
        ))
        .unwrap();
    dp.create_session(SessionConfig::new(
        TunnelId(2),
        SessionId(1),
        TunnelId(8),
        SessionId(8),
        pb,
    ))
    .unwrap();
    let now = Instant::now();
    let d = Header::data(TunnelId(1), SessionId(1)).encode_with_payload(&[1]);
    assert!(matches!(
        dp.receive_on(now, SocketId(1), pa, &d),
        RxResult::Deliver { .. }
    ));
    // Right peer, wrong socket (another tunnel's, or the shared one): dropped.
    assert!(matches!(
        dp.receive_on(now, SocketId(2), pa, &d),
        RxResult::Dropped(DropReason::WrongPeer { .. })
    ));
    assert!(matches!(
        dp.receive(now, pa, &d),
        RxResult::Dropped(DropReason::WrongPeer { .. })
    ));
    assert_eq!(dp.stats(TunnelId(1), SessionId(0)).unwrap().rx_errors, 2);
    // Control messages report the socket they came on, for the control plane.
    let zlb =
        Header::control(TunnelId(2), SessionId(0), SeqNum(0), SeqNum(0)).encode_with_payload(&[]);
    assert!(
        matches!(dp.receive_on(now, SocketId(2), pb, &zlb), RxResult::ToControl(tc) if tc.socket == SocketId(2))
    );
    // Transmit names the tunnel's socket.
    let mut buf = [0u8; 32];
    let tx = dp.encapsulate(ka, &mut buf, 16, 1).unwrap();
    assert_eq!((tx.socket, tx.peer), (SocketId(1), pa));
}

#[test]
fn priority_is_sent_on_request() {
    let (mut dp, key) = setup(seq_opts(0));
    let mut buf = [0u8; 64];
    let tx = dp.encapsulate_priority(key, &mut buf, 16, 4).unwrap();
    let h = Header::decode(&buf[tx.range]).unwrap().header;
    assert!(h.priority);
    assert_eq!(h.sequence.map(|s| s.ns), Some(SeqNum(0)));
    let tx = dp.encapsulate(key, &mut buf, 16, 4).unwrap();
    let h = Header::decode(&buf[tx.range]).unwrap().header;
    assert!(!h.priority);
    assert_eq!(h.sequence.map(|s| s.ns), Some(SeqNum(1)));
}

#[test]
fn offset_padding_is_skipped_and_priority_passed_through() {
    let (mut dp, _) = setup(SessionOptions::default());
    let mut h = Header::data(T, S);
    h.offset = Some(5);
    h.priority = true;
    h.has_length = true;
    let d = h.encode_with_payload(&[0xc0, 0x21, 9, 1]);
    match dp.receive(Instant::now(), peer(), &d) {
        RxResult::Deliver {
            frame, priority, ..
        } => {
            // 2 flags + 2 length + 4 ids + 2 offset size + 5 padding.
            assert_eq!(frame, 15..19);
            assert_eq!(&d[frame], &[0xc0, 0x21, 9, 1]);
            assert!(priority);
        }
        other => panic!("{other:?}"),
    }
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_bytes), (1, 4));
}

#[test]
fn ipv6_tunnels_work() {
    let p6: SocketAddr = "[2001:db8::1]:1701".parse().unwrap();
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(T, SocketId::SHARED, p6).unwrap();
    dp.create_session(SessionConfig::new(T, S, TunnelId(1), SessionId(1), p6))
        .unwrap();
    assert!(matches!(
        dp.receive(Instant::now(), p6, &data(None, 1)),
        RxResult::Deliver { .. }
    ));
}

// ---- sequencing presence (rule 1) ------------------------------------------------------

#[test]
fn lac_starts_sending_sequence_numbers_when_the_lns_does() {
    let (mut dp, key) = setup(SessionOptions::default()); // LAC, SENDSEQ off
    let now = Instant::now();
    let mut buf = [0u8; 64];
    let tx = dp.encapsulate(key, &mut buf, 16, 4).unwrap();
    assert_eq!(
        Header::decode(&buf[tx.range]).unwrap().header.sequence,
        None
    );

    let (r, got) = feed(&mut dp, now, &data(Some(0), 0));
    assert!(matches!(r, RxResult::Deliver { .. }));
    assert_eq!(got, vec![0]);
    assert!(dp.session_options(key).unwrap().send_seq);
    for expect_ns in 0..3u16 {
        let tx = dp.encapsulate(key, &mut buf, 16, 4).unwrap();
        let h = Header::decode(&buf[tx.range]).unwrap().header;
        assert_eq!(h.kind, MessageKind::Data);
        assert_eq!(h.sequence.map(|s| s.ns), Some(SeqNum(expect_ns)));
    }
    // ...and stops when the LNS stops (RFC 2661 §5.4); its Ns resumes where it left off.
    let (_, got) = feed(&mut dp, now, &data(None, 7));
    assert_eq!(got, vec![7]);
    assert!(!dp.session_options(key).unwrap().send_seq);
    let tx = dp.encapsulate(key, &mut buf, 16, 4).unwrap();
    assert_eq!(tx.range.len(), 6 + 4);
    feed(&mut dp, now, &data(Some(1), 1));
    let tx = dp.encapsulate(key, &mut buf, 16, 4).unwrap();
    let h = Header::decode(&buf[tx.range]).unwrap().header;
    assert_eq!(h.sequence.map(|s| s.ns), Some(SeqNum(3)));
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (3, 0, 0));
    assert_eq!((s.tx_packets, s.tx_bytes), (6, 24));
}

#[test]
fn lns_discards_packets_without_sequence_numbers_while_it_sends_them() {
    let (mut dp, key) = setup(seq_opts(0));
    let now = Instant::now();
    let (r, got) = feed(&mut dp, now, &data(None, 1));
    assert_eq!(r, RxResult::Dropped(DropReason::SequenceMissing));
    assert!(got.is_empty());
    assert!(
        dp.session_options(key).unwrap().send_seq,
        "the LNS keeps its choice"
    );
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (0, 1, 1));
    assert_eq!(dp.stats(T, SessionId(0)).unwrap().rx_seq_discards, 1);
    // An LNS that does not send them accepts packets without them.
    dp.set_option(key, SessionOption::SendSeq(false)).unwrap();
    assert!(matches!(
        feed(&mut dp, now, &data(None, 2)).0,
        RxResult::Deliver { .. }
    ));
    // And an LNS never starts sending because the LAC does.
    feed(&mut dp, now, &data(Some(0), 0));
    assert!(!dp.session_options(key).unwrap().send_seq);
}

#[test]
fn recvseq_discards_packets_without_sequence_numbers() {
    let (mut dp, _) = setup(SessionOptions {
        recv_seq: true,
        ..SessionOptions::default()
    });
    let now = Instant::now();
    assert_eq!(
        feed(&mut dp, now, &data(None, 1)).0,
        RxResult::Dropped(DropReason::SequenceRequired)
    );
    assert_eq!(feed(&mut dp, now, &data(Some(0), 0)).1, vec![0]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (1, 1, 1));
}

// ---- window (rule 2) and first packet ---------------------------------------------------

#[test]
fn first_packet_sets_nr_and_the_window_is_half_the_space() {
    let (mut dp, _) = setup(seq_opts(0));
    let now = Instant::now();
    assert_eq!(feed_seq(&mut dp, now, &[5000, 5001]), vec![5000, 5001]);
    // Expected is 5002: 5002 + 32768 is outside; 5001 (a duplicate) and 4000 are behind.
    for ns in [5002u16 + 32768, 5001, 4000] {
        assert_eq!(
            feed(&mut dp, now, &data(Some(ns), ns)).0,
            RxResult::Dropped(DropReason::OutsideWindow {
                ns: SeqNum(ns),
                expected: SeqNum(5002)
            })
        );
    }
    assert_eq!(feed_seq(&mut dp, now, &[5002]), vec![5002]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (3, 3, 3));
}

// ---- REORDERTO = 0 (rule 4) -------------------------------------------------------------

#[test]
fn out_of_order_is_dropped_without_reordering_and_recovers_after_four() {
    let (mut dp, _) = setup(seq_opts(0));
    let now = Instant::now();
    assert_eq!(feed_seq(&mut dp, now, &[0, 1]), vec![0, 1]);
    // 2 is lost; 3 is out of order, and so is each packet after it until four in a row...
    assert_eq!(feed_seq(&mut dp, now, &[3, 4, 5]), Vec::<u16>::new());
    assert_eq!(
        feed(&mut dp, now, &data(Some(6), 6)).0,
        RxResult::Dropped(DropReason::OutOfOrder {
            ns: SeqNum(6),
            expected: SeqNum(2)
        })
    );
    // ...then the expected Nr has followed them.
    assert_eq!(feed_seq(&mut dp, now, &[7, 8]), vec![7, 8]);
    let s = session_stats(&dp);
    assert_eq!(
        (
            s.rx_packets,
            s.rx_seq_discards,
            s.rx_errors,
            s.rx_oos_packets
        ),
        (4, 4, 4, 0)
    );
    // The late 2 is now behind the window.
    assert!(matches!(
        feed(&mut dp, now, &data(Some(2), 2)).0,
        RxResult::Dropped(DropReason::OutsideWindow { .. })
    ));
}

#[test]
fn a_broken_run_does_not_resynchronise() {
    let (mut dp, _) = setup(seq_opts(0));
    let now = Instant::now();
    feed_seq(&mut dp, now, &[0]);
    // Out of order but not consecutive among themselves: no resync, the gap-filler still wins.
    assert!(feed_seq(&mut dp, now, &[3, 4, 6, 7, 8]).is_empty());
    assert_eq!(feed_seq(&mut dp, now, &[1, 2]), vec![1, 2]);
    assert_eq!(session_stats(&dp).rx_seq_discards, 5);
}

// ---- REORDERTO > 0 (rule 3) -------------------------------------------------------------

#[test]
fn reordering_holds_and_releases_in_order() {
    let (mut dp, key) = setup(seq_opts(100));
    let now = Instant::now();
    assert_eq!(feed_seq(&mut dp, now, &[0]), vec![0]);
    assert_eq!(
        feed(&mut dp, now, &data(Some(3), 3)).0,
        RxResult::Queued { session: key }
    );
    assert_eq!(feed_seq(&mut dp, now, &[2]), Vec::<u16>::new());
    assert_eq!(dp.queued_len(key), 2);
    assert_eq!(dp.poll_timeout(), Some(now + Duration::from_millis(100)));
    // The gap-filler is delivered in place, the held ones right after it.
    let (r, got) = feed(&mut dp, now, &data(Some(1), 1));
    assert!(matches!(r, RxResult::Deliver { .. }));
    assert_eq!(got, vec![1, 2, 3]);
    assert_eq!(feed_seq(&mut dp, now, &[4]), vec![4]);
    assert_eq!(dp.queued_len(key), 0);
    let s = session_stats(&dp);
    // 2 arrived after 3, 1 after 2 and 3: two packets arrived out of order.
    assert_eq!(
        (
            s.rx_packets,
            s.rx_oos_packets,
            s.rx_seq_discards,
            s.rx_errors
        ),
        (5, 2, 0, 0)
    );
    assert_eq!(s.rx_bytes, 5 * 4);
    // Stale timers fire harmlessly.
    dp.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(dp.poll_timeout(), None);
    assert_eq!(session_stats(&dp), s);
}

#[test]
fn held_packets_expire_and_the_expected_nr_resynchronises() {
    let (mut dp, key) = setup(seq_opts(100));
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    assert_eq!(feed_seq(&mut dp, t0, &[0]), vec![0]);
    // 1 is lost; 2 waits from t0, 3 from t0 + 50 ms.
    assert!(feed_seq(&mut dp, t0, &[2]).is_empty());
    assert!(feed_seq(&mut dp, t0 + ms(50), &[3]).is_empty());
    dp.handle_timeout(t0 + ms(99));
    assert_eq!(dp.queued_len(key), 2);
    assert_eq!(dp.poll_timeout(), Some(t0 + ms(100)));
    // At its deadline 2 is dropped; the expected Nr resynchronises to 3, which is released.
    dp.handle_timeout(t0 + ms(100));
    assert_eq!(drain(&mut dp), vec![3]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (2, 1, 1));
    assert_eq!(dp.stats(T, SessionId(0)).unwrap().rx_seq_discards, 1);
    // Reception continues from 4; the lost 1 arriving late is outside the window.
    assert_eq!(feed_seq(&mut dp, t0 + ms(120), &[4, 1]), vec![4]);
    assert_eq!(session_stats(&dp).rx_seq_discards, 2);
}

#[test]
fn expiry_with_an_empty_queue_resyncs_to_the_next_arrival() {
    let (mut dp, _) = setup(seq_opts(100));
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    feed_seq(&mut dp, t0, &[0]);
    feed_seq(&mut dp, t0, &[5]); // 1..4 lost
    dp.handle_timeout(t0 + ms(100));
    assert!(drain(&mut dp).is_empty());
    // Expiry is also applied on arrival, without a timer call.
    assert_eq!(feed_seq(&mut dp, t0 + ms(150), &[9, 10]), vec![9, 10]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards), (3, 1));
}

#[test]
fn expiry_is_also_checked_when_packets_arrive() {
    let (mut dp, _) = setup(seq_opts(100));
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    feed_seq(&mut dp, t0, &[0]);
    feed_seq(&mut dp, t0, &[2]);
    feed_seq(&mut dp, t0 + ms(60), &[3]);
    // No handle_timeout: 4 arrives after 2's deadline: 2 is dropped, 3 and 4 released in order.
    assert_eq!(feed_seq(&mut dp, t0 + ms(100), &[4]), vec![3, 4]);
    assert_eq!(session_stats(&dp).rx_seq_discards, 1);
}

#[test]
fn reordering_across_the_wrap() {
    let (mut dp, key) = setup(seq_opts(100));
    let now = Instant::now();
    assert_eq!(feed_seq(&mut dp, now, &[65533]), vec![65533]);
    // 0 and 1 are after 65534 and 65535 (a plain `>` would deliver them first).
    assert!(feed_seq(&mut dp, now, &[1, 0, 65535]).is_empty());
    assert_eq!(dp.queued_len(key), 3);
    assert_eq!(feed_seq(&mut dp, now, &[65534]), vec![65534, 65535, 0, 1]);
    assert_eq!(feed_seq(&mut dp, now, &[2]), vec![2]);
    let s = session_stats(&dp);
    // 0 arrived after 1; 65535 after 0 and 1; 65534 after all of them.
    assert_eq!(
        (s.rx_packets, s.rx_oos_packets, s.rx_seq_discards),
        (6, 3, 0)
    );
}

#[test]
fn duplicates_in_the_reorder_queue_are_dropped() {
    let (mut dp, _) = setup(seq_opts(100));
    let now = Instant::now();
    feed_seq(&mut dp, now, &[0]);
    feed_seq(&mut dp, now, &[2]);
    assert_eq!(
        feed(&mut dp, now, &data(Some(2), 2)).0,
        RxResult::Dropped(DropReason::Duplicate { ns: SeqNum(2) })
    );
    assert_eq!(feed_seq(&mut dp, now, &[1, 1]), vec![1, 2]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (3, 2, 2));
}

#[test]
fn a_full_reorder_queue_skips_the_gap_without_losing_what_it_holds() {
    let config = DatapathConfig {
        reorder_queue_len: 4,
        ..DatapathConfig::default()
    };
    let (mut dp, key) = setup_with(config, seq_opts(1000));
    let now = Instant::now();
    feed_seq(&mut dp, now, &[0]);
    assert!(feed_seq(&mut dp, now, &[2, 3, 5, 6]).is_empty());
    assert_eq!(dp.queued_len(key), 4);
    // A fifth: the gap at 1 is given up; 2 and 3 are released, then 5, 6, 7 wait for 4.
    assert_eq!(feed_seq(&mut dp, now, &[7]), vec![2, 3]);
    assert_eq!(dp.queued_len(key), 3);
    assert_eq!(feed_seq(&mut dp, now, &[4]), vec![4, 5, 6, 7]);
    let s = session_stats(&dp);
    assert_eq!((s.rx_packets, s.rx_seq_discards, s.rx_errors), (7, 0, 0));
}

#[test]
fn packets_without_numbers_in_lac_mode_switch_sequencing_off_and_are_delivered() {
    let (mut dp, key) = setup(SessionOptions {
        reorder_timeout: Duration::from_millis(100),
        ..SessionOptions::default()
    });
    let now = Instant::now();
    assert_eq!(feed_seq(&mut dp, now, &[0]), vec![0]);
    assert!(dp.session_options(key).unwrap().send_seq);
    assert_eq!(feed(&mut dp, now, &data(None, 99)).1, vec![99]);
    assert!(!dp.session_options(key).unwrap().send_seq);
}

// ---- statistics and debug -------------------------------------------------------------

#[test]
fn tunnel_statistics_aggregate_its_sessions() {
    let (mut dp, key) = setup(SessionOptions::default());
    let s2 = dp
        .create_session(SessionConfig::new(
            T,
            SessionId(21),
            TunnelId(30),
            SessionId(41),
            peer(),
        ))
        .unwrap();
    let now = Instant::now();
    feed(&mut dp, now, &data(None, 1));
    let d = Header::data(T, SessionId(21)).encode_with_payload(&[1, 2, 3]);
    dp.receive(now, peer(), &d);
    let mut buf = [0u8; 64];
    dp.encapsulate(key, &mut buf, 16, 10).unwrap();
    dp.encapsulate(s2, &mut buf, 16, 20).unwrap();
    dp.receive(now, "192.0.2.9:1701".parse().unwrap(), &d);
    let t = dp.stats(T, SessionId(0)).unwrap();
    assert_eq!(
        t,
        L2tpStats {
            tx_packets: 2,
            tx_bytes: 30,
            rx_packets: 2,
            rx_bytes: 7,
            rx_errors: 1,
            ..L2tpStats::default()
        }
    );
    assert_eq!(dp.stats(T, SessionId(21)).unwrap().rx_bytes, 3);
}

#[test]
fn debug_messages_are_rate_limited() {
    let (mut dp, key) = setup(seq_opts(0));
    let now = Instant::now();
    // Debug off: nothing is even attempted.
    for n in 0..500u16 {
        dp.receive(now, peer(), &data(Some(n * 7 + 3), n));
    }
    assert_eq!(dp.counters().debug_suppressed, 0);
    dp.set_option(key, SessionOption::Debug(DebugMask::ALL))
        .unwrap();
    for n in 0..1000u16 {
        dp.receive(now, peer(), &data(Some(n.wrapping_mul(7)), n));
    }
    // 1000 events in one instant: only the burst (100 by default) gets through.
    let c = dp.counters();
    assert!(c.debug_suppressed >= 900, "{c:?}");
    // A second later, 20 more are allowed.
    let later = now + Duration::from_secs(1);
    for n in 0..100u16 {
        dp.receive(later, peer(), &data(Some(n.wrapping_mul(7)), n));
    }
    assert!(dp.counters().debug_suppressed - c.debug_suppressed >= 75);
}

// ---- leniency ---------------------------------------------------------------------------

#[test]
fn data_with_tunnel_id_zero_is_matched_by_source_and_session() {
    // CLIENTS.md: some D-Link routers send data with tunnel id 0.
    let (mut dp, key) = setup(SessionOptions::default());
    let now = Instant::now();
    let d = Header::data(TunnelId(0), S).encode_with_payload(&[0xff, 0x03, 0, 1]);
    assert!(
        matches!(dp.receive(now, peer(), &d), RxResult::Deliver { session, .. } if session == key)
    );
    assert_eq!(dp.counters().zero_tunnel_id, 1);
    assert_eq!(session_stats(&dp).rx_packets, 1);
    // From anywhere else it names nothing: control plane.
    let other: SocketAddr = "192.0.2.7:1702".parse().unwrap();
    assert!(matches!(dp.receive(now, other, &d),
        RxResult::ToControl(tc) if tc.reason == ControlReason::UnknownSession && tc.tunnel == TunnelId(0)));
    // Ambiguous (two tunnels to the same peer with our session id 20): control plane.
    dp.create_tunnel(TunnelId(11), SocketId::SHARED, peer())
        .unwrap();
    let k2 = dp
        .create_session(SessionConfig::new(
            TunnelId(11),
            S,
            TunnelId(31),
            SessionId(41),
            peer(),
        ))
        .unwrap();
    assert!(matches!(
        dp.receive(now, peer(), &d),
        RxResult::ToControl(_)
    ));
    dp.remove_session(key).unwrap();
    assert!(
        matches!(dp.receive(now, peer(), &d), RxResult::Deliver { session, .. } if session == k2)
    );
    // The peer moved (NAT rebinding): the index follows.
    let moved: SocketAddr = "198.51.100.9:40000".parse().unwrap();
    dp.set_tunnel_peer(TunnelId(11), moved).unwrap();
    assert!(matches!(
        dp.receive(now, peer(), &d),
        RxResult::ToControl(_)
    ));
    assert!(
        matches!(dp.receive(now, moved, &d), RxResult::Deliver { session, .. } if session == k2)
    );
    assert_eq!(dp.counters().zero_tunnel_id, 3);
    dp.remove_tunnel(TunnelId(11)).unwrap();
    assert!(matches!(dp.receive(now, moved, &d), RxResult::ToControl(_)));
}

#[test]
fn tunnel_id_zero_leniency_can_be_turned_off() {
    let (mut dp, _) = setup_with(
        DatapathConfig {
            accept_zero_tunnel_id: false,
            ..DatapathConfig::default()
        },
        SessionOptions::default(),
    );
    let d = Header::data(TunnelId(0), S).encode_with_payload(&[1]);
    assert!(matches!(
        dp.receive(Instant::now(), peer(), &d),
        RxResult::ToControl(_)
    ));
    assert_eq!(dp.counters().zero_tunnel_id, 0);
}

// ---- totals ----------------------------------------------------------------------------

#[test]
fn totals_keep_the_counts_of_removed_tunnels() {
    let (mut dp, _) = setup(SessionOptions::default());
    let now = Instant::now();
    for tag in 0..5 {
        feed(&mut dp, now, &data(None, tag));
    }
    let live = dp.stats(T, SessionId(0)).unwrap();
    assert_eq!(live.rx_packets, 5);
    assert_eq!(dp.closed_tunnel_stats(), L2tpStats::default());
    dp.remove_tunnel(T).unwrap();
    // The tunnel is gone, its counts are not: live + closed never goes down.
    assert_eq!(dp.closed_tunnel_stats(), live);
    let (mut dp2, _) = (dp, ());
    dp2.create_tunnel(T, SocketId::SHARED, peer()).unwrap();
    dp2.create_session(SessionConfig::new(
        T,
        S,
        TunnelId(30),
        SessionId(40),
        peer(),
    ))
    .unwrap();
    feed(&mut dp2, now, &data(None, 9));
    dp2.remove_tunnel(T).unwrap();
    assert_eq!(dp2.closed_tunnel_stats().rx_packets, 6);
}
