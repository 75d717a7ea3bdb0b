//! Message-ladder tests of the tunnel state machine (RFC 2661 §7.2.1): establishment in both
//! roles, tunnel authentication, hidden AVPs, the tie breaker, HELLO, StopCCN and the §5.7
//! hold, the retry budget, and the idle/unexpected-message rows.

mod control_support;

use std::time::Duration;

use control_support::*;
use l2tp_proto::control::{
    EndpointConfig, Event, PeerAuth, TunnelDownReason, TunnelOptions, TunnelStateKind,
};
use l2tp_wire::{ControlMessage, Header, ResultCode, SessionId, TunnelId};

fn pair(lac_cfg: EndpointConfig, lns_cfg: EndpointConfig) -> (Peer, Peer) {
    (
        Peer::new(lac_addr(), lac_cfg, 1),
        Peer::new(lns_addr(), lns_cfg, 2),
    )
}

fn secret_auth(secret: &[u8], hide: bool) -> PeerAuth {
    PeerAuth {
        secret: Some(secret.to_vec()),
        hide_avps: hide,
        require_tunnel_auth: true,
    }
}

fn up_tunnels(events: &[Event]) -> Vec<TunnelId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TunnelUp { tunnel, .. } => Some(*tunnel),
            _ => None,
        })
        .collect()
}

fn down_reasons(events: &[Event]) -> Vec<TunnelDownReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TunnelDown { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn establishment_ladder_originator_and_recipient() {
    let (mut lac, mut lns) = pair(quiet_config("lac"), quiet_config("lns"));
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::WaitCtlReply
    );
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A SCCRP", "A>B SCCCN"]);
    // The last SCCCN is acknowledged by a ZLB after the ack delay.
    l.advance(&mut lac, &mut lns, Duration::from_millis(200));
    assert_eq!(l.log.last().unwrap(), "B>A ZLB");

    let lac_ev = lac.take_events();
    let lns_ev = lns.take_events();
    assert_eq!(up_tunnels(&lac_ev), [tid]);
    let lns_tid = up_tunnels(&lns_ev)[0];
    let a = lac.ep.tunnel_info(tid).unwrap();
    let b = lns.ep.tunnel_info(lns_tid).unwrap();
    assert_eq!(a.state, TunnelStateKind::Established);
    assert_eq!(b.state, TunnelStateKind::Established);
    // Each side knows the other's id, and the peer's host name.
    assert_eq!(a.peer_tunnel, lns_tid);
    assert_eq!(b.peer_tunnel, tid);
    assert_eq!(a.peer_host_name, b"lns");
    assert_eq!(b.peer_host_name, b"lac");
    assert_eq!(a.counters.tx_messages, 2);
    assert_eq!(b.counters.rx_messages, 2);
    assert_eq!(a.counters.tx_retransmits, 0);
    assert!(!tid.is_zero() && !lns_tid.is_zero());
}

#[test]
fn challenge_authentication_with_hidden_avps() {
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.auth = secret_auth(b"s3cret", true);
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.auth = secret_auth(b"s3cret", true);
    let (mut lac, mut lns) = pair(lac_cfg, lns_cfg);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    // The SCCRQ carries a Challenge; its tunnel-setup AVPs stay in clear (only the
    // subscriber's AVPs are hidden: real peers cannot set up a tunnel otherwise).
    let sccrq = lac.ep.poll_transmit().unwrap();
    let d = Header::decode(&sccrq.payload).unwrap();
    let avps: Vec<_> = l2tp_wire::AvpIter::new(d.payload)
        .map(|a| a.unwrap())
        .collect();
    assert!(avps.iter().all(|a| !a.hidden));
    assert!(avps
        .iter()
        .any(|a| a.attr == l2tp_wire::AvpType::ASSIGNED_TUNNEL_ID));
    assert!(avps.iter().any(|a| a.attr == l2tp_wire::AvpType::CHALLENGE));
    lns.ep
        .handle_datagram(l.now, sccrq.to, sccrq.local, &sccrq.payload);
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["B>A SCCRP", "A>B SCCCN"]);
    assert_eq!(up_tunnels(&lac.take_events()), [tid]);
    assert_eq!(up_tunnels(&lns.take_events()).len(), 1);

    // A call's Calling Number is hidden, behind a Random Vector, and the LNS reads it.
    let params = l2tp_proto::control::CallParams {
        calling_number: Some("5551234".into()),
        ..Default::default()
    };
    lac.ep.place_incoming_call(l.now, tid, params).unwrap();
    let icrq = lac.ep.poll_transmit().unwrap();
    let d = Header::decode(&icrq.payload).unwrap();
    let avps: Vec<_> = l2tp_wire::AvpIter::new(d.payload)
        .map(|a| a.unwrap())
        .collect();
    assert!(avps
        .iter()
        .any(|a| a.attr == l2tp_wire::AvpType::RANDOM_VECTOR));
    assert!(avps
        .iter()
        .any(|a| a.hidden && a.attr == l2tp_wire::AvpType::CALLING_NUMBER));
    assert!(avps
        .iter()
        .any(|a| !a.hidden && a.attr == l2tp_wire::AvpType::ASSIGNED_SESSION_ID));
    // What the call says about the line is hidden too, padded to 16-octet blocks so the
    // lengths do not tell the values (§4.3): every ICRQ the daemon sends has these.
    for a in avps.iter().filter(|a| {
        [
            l2tp_wire::AvpType::CALL_SERIAL_NUMBER,
            l2tp_wire::AvpType::CALLING_NUMBER,
        ]
        .contains(&a.attr)
    }) {
        assert!(a.hidden, "{:?} in clear", a.attr);
        assert_eq!(a.value.len() % 16, 0, "{:?} not padded", a.attr);
    }
    assert!(avps
        .iter()
        .any(|a| a.attr == l2tp_wire::AvpType::CALL_SERIAL_NUMBER));
    match l2tp_wire::Packet::decode(&icrq.payload, Some(b"s3cret")).unwrap() {
        l2tp_wire::Packet::Control {
            message: l2tp_wire::ControlMessage::Icrq(m),
            ..
        } => assert_eq!(m.calling_number.as_deref(), Some(&b"5551234"[..])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_secret_is_rejected_with_stopccn_not_authorized() {
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.auth = secret_auth(b"right", false);
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.auth = secret_auth(b"wrong", false);
    let (mut lac, mut lns) = pair(lac_cfg, lns_cfg);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    // The LAC checks the SCCRP's Challenge Response and refuses.
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A SCCRP", "A>B StopCCN"]);
    assert_eq!(
        down_reasons(&lac.take_events()),
        [TunnelDownReason::AuthFailed]
    );
    let lns_down = down_reasons(&lns.take_events());
    match &lns_down[..] {
        [TunnelDownReason::Peer(rc)] => {
            assert_eq!(rc.result, ResultCode::STOPCCN_NOT_AUTHORIZED)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Closing
    );
}

#[test]
fn wrong_secret_detected_by_the_recipient_in_scccn() {
    // The LNS challenges; the LAC answers with the wrong secret in SCCCN.
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.auth = PeerAuth {
        secret: Some(b"wrong".to_vec()),
        hide_avps: false,
        require_tunnel_auth: false,
    };
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.auth = secret_auth(b"right", false);
    let (mut lac, mut lns) = pair(lac_cfg, lns_cfg);
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(
        l.messages(),
        ["A>B SCCRQ", "B>A SCCRP", "A>B SCCCN", "B>A StopCCN"]
    );
    assert_eq!(
        down_reasons(&lns.take_events()),
        [TunnelDownReason::AuthFailed]
    );
    let lac_ev = lac.take_events();
    assert_eq!(up_tunnels(&lac_ev).len(), 1, "the LAC thought it was up");
    assert!(matches!(&down_reasons(&lac_ev)[..], [TunnelDownReason::Peer(rc)] if rc.result == 4));
}

#[test]
fn challenge_without_a_secret_is_refused() {
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.auth = secret_auth(b"x", false);
    let (mut lac, mut lns) = pair(lac_cfg, quiet_config("lns"));
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A StopCCN"]);
    // Refused on the SCCRQ's content: no tunnel was created, so none goes down.
    assert!(lns.take_events().is_empty());
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert_eq!(lns.ep.stats().sccrq_rejected, 1);
    assert!(
        matches!(&down_reasons(&lac.take_events())[..], [TunnelDownReason::Peer(rc)] if rc.result == 4)
    );
}

#[test]
fn per_peer_override_lets_a_windows_client_in_without_auth() {
    // The LNS demands authentication by default, but not from this peer.
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.auth = secret_auth(b"x", true);
    lns_cfg.peers = vec![(lac_addr().ip(), PeerAuth::default())];
    let (mut lac, mut lns) = pair(quiet_config("lac"), lns_cfg);
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(up_tunnels(&lns.take_events()).len(), 1);
}

fn collide(lac_seed: u64, lns_seed: u64, tie: bool) -> (Peer, Peer, Ladder, TunnelId, TunnelId) {
    let mut lac = Peer::new(lac_addr(), quiet_config("a"), lac_seed);
    let mut lns = Peer::new(lns_addr(), quiet_config("b"), lns_seed);
    let l = Ladder::new();
    let opts = TunnelOptions {
        auth: None,
        tie_breaker: tie,
        host_name: None,
    };
    let ta = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), opts.clone())
        .unwrap();
    let tb = lns
        .ep
        .open_tunnel(l.now, lns_addr(), lac_addr(), opts)
        .unwrap();
    (lac, lns, l, ta, tb)
}

#[test]
fn tie_breaker_collision_leaves_one_tunnel() {
    let (mut a, mut b, mut l, ta, tb) = collide(1, 2, true);
    // Both SCCRQs cross on the wire.
    l.exchange(&mut a, &mut b);
    l.advance(&mut a, &mut b, Duration::from_secs(2));
    let ea = a.take_events();
    let eb = b.take_events();
    assert_eq!(up_tunnels(&ea), [ta], "each caller's tunnel id stays valid");
    assert_eq!(up_tunnels(&eb), [tb]);
    assert_eq!(a.ep.tunnel_count(), 1);
    assert_eq!(b.ep.tunnel_count(), 1);
    let ia = a.ep.tunnel_info(ta).unwrap();
    assert_eq!(ia.peer_tunnel, tb);
    assert_eq!(b.ep.tunnel_info(tb).unwrap().peer_tunnel, ta);
    // Exactly one side discarded an SCCRQ as the winner, the other answered as the loser.
    assert_eq!(
        a.ep.stats().tie_breaker_discards + b.ep.stats().tie_breaker_discards,
        2
    );
    assert!(down_reasons(&ea).is_empty() && down_reasons(&eb).is_empty());
}

#[test]
fn no_tie_breaker_means_two_tunnels() {
    let (mut a, mut b, mut l, _, _) = collide(1, 2, false);
    l.exchange(&mut a, &mut b);
    assert_eq!(up_tunnels(&a.take_events()).len(), 2);
    assert_eq!(up_tunnels(&b.take_events()).len(), 2);
}

#[test]
fn equal_tie_breakers_discard_both_tunnels() {
    // Same seed: same tunnel id draw, same tie breaker value.
    let (mut a, mut b, mut l, ta, tb) = collide(9, 9, true);
    l.exchange(&mut a, &mut b);
    assert_eq!(
        down_reasons(&a.take_events()),
        [TunnelDownReason::TieBreaker]
    );
    assert_eq!(
        down_reasons(&b.take_events()),
        [TunnelDownReason::TieBreaker]
    );
    assert!(a.ep.tunnel_info(ta).is_none() && b.ep.tunnel_info(tb).is_none());
}

#[test]
fn hello_keepalive_on_an_idle_tunnel() {
    let mut cfg = quiet_config("lac");
    cfg.hello_interval = Some(Duration::from_secs(30));
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.hello_interval = Some(Duration::from_secs(45));
    let (mut lac, mut lns) = pair(cfg, lns_cfg);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    l.clear();
    l.advance(&mut lac, &mut lns, Duration::from_secs(29));
    assert!(l.messages().is_empty());
    l.advance(&mut lac, &mut lns, Duration::from_secs(2));
    // The LAC's HELLO also resets the LNS's quiet timer, so only the LAC sends HELLO.
    assert_eq!(l.messages(), ["A>B HELLO"]);
    l.advance(&mut lac, &mut lns, Duration::from_secs(60));
    assert_eq!(l.messages(), ["A>B HELLO", "A>B HELLO", "A>B HELLO"]);
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );
}

#[test]
fn dead_peer_is_detected_by_hello_retransmissions() {
    let mut cfg = quiet_config("lac");
    cfg.hello_interval = Some(Duration::from_secs(10));
    let (mut lac, mut lns) = pair(cfg, quiet_config("lns"));
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    l.advance(&mut lac, &mut lns, Duration::from_millis(200));
    lac.take_events();
    // The LNS vanishes (iOS does this): everything it would send is lost.
    l.drop_from_b = usize::MAX;
    l.drop_from_a = usize::MAX;
    l.advance(&mut lac, &mut lns, Duration::from_secs(40));
    assert!(down_reasons(&lac.take_events()).is_empty());
    l.advance(&mut lac, &mut lns, Duration::from_secs(10));
    // 10 s quiet + 31 s of retransmissions (1+2+4+8+8+8).
    assert_eq!(
        down_reasons(&lac.take_events()),
        [TunnelDownReason::RetriesExhausted]
    );
    assert!(lac.ep.tunnel_info(tid).is_none());
}

#[test]
fn retry_budget_is_configurable() {
    let mut cfg = quiet_config("lac");
    cfg.max_retries = 2;
    let (mut lac, mut lns) = pair(cfg, quiet_config("lns"));
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.drop_from_a = usize::MAX;
    l.advance(&mut lac, &mut lns, Duration::from_secs(6));
    assert!(down_reasons(&lac.take_events()).is_empty());
    l.advance(&mut lac, &mut lns, Duration::from_secs(2));
    // 1 s, then 2 s, then 4 s: given up at 7 s after two retransmissions.
    assert_eq!(
        down_reasons(&lac.take_events()),
        [TunnelDownReason::RetriesExhausted]
    );
    assert_eq!(l.log.len(), 3);
}

#[test]
fn stopccn_is_acked_and_state_held_for_a_retransmission_cycle() {
    let (mut lac, mut lns) = pair(quiet_config("lac"), quiet_config("lns"));
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.advance(&mut lac, &mut lns, Duration::from_millis(200));
    let lns_tid = up_tunnels(&lns.take_events())[0];
    lac.take_events();
    l.clear();
    let rc = ResultCode::new(ResultCode::STOPCCN_GENERAL_REQUEST);
    lac.ep.close_tunnel(l.now, tid, rc.clone()).unwrap();
    // The LNS's acknowledgement of the StopCCN is lost: the LAC retransmits, and the LNS,
    // holding the tunnel's state, acknowledges the duplicate.
    l.drop_from_b = 1;
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.log, ["A>B StopCCN", "B>A ZLB (lost)"]);
    assert_eq!(
        down_reasons(&lac.take_events()),
        [TunnelDownReason::Local(rc.clone())]
    );
    assert_eq!(
        down_reasons(&lns.take_events()),
        [TunnelDownReason::Peer(rc)]
    );
    l.advance(&mut lac, &mut lns, Duration::from_millis(1500));
    assert_eq!(
        l.log,
        ["A>B StopCCN", "B>A ZLB (lost)", "A>B StopCCN", "B>A ZLB"]
    );
    let held = lns.ep.tunnel_info(lns_tid).unwrap();
    assert_eq!(held.state, TunnelStateKind::Closing);
    assert_eq!(held.counters.rx_duplicates, 1);
    let lns_live = held.counters;
    // Commands on a closing tunnel are refused.
    assert!(lac
        .ep
        .place_incoming_call(l.now, tid, Default::default())
        .is_err());
    // After a full retransmission cycle (31 s) both forget the tunnel.
    l.advance(&mut lac, &mut lns, Duration::from_secs(31));
    assert!(lac.ep.tunnel_info(tid).is_none());
    assert!(lns.ep.tunnel_info(lns_tid).is_none());
    assert_eq!(lac.ep.tunnel_count() + lns.ep.tunnel_count(), 0);
    // The tunnel is gone, its counts are not: totals never go down.
    let closed = lns.ep.closed_tunnel_counters();
    assert_eq!(closed.rx_duplicates, 1);
    assert!(closed.rx_messages >= lns_live.rx_messages && closed.rx_messages >= 2);
    assert!(closed.tx_messages >= 1 && lac.ep.closed_tunnel_counters().tx_messages >= 2);
}

#[test]
fn incoming_tunnel_decision_accept_and_reject() {
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.decide_incoming_tunnels = true;
    let (mut lac, mut lns) = pair(quiet_config("lac"), lns_cfg);
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ"]);
    let ev = lns.take_events();
    let Some(Event::IncomingTunnel {
        tunnel, host_name, ..
    }) = ev.first().cloned()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(host_name, b"lac");
    assert_eq!(
        lns.ep.tunnel_info(tunnel).unwrap().state,
        TunnelStateKind::WaitDecision
    );
    lns.ep.accept_tunnel(l.now, tunnel).unwrap();
    assert!(lns.ep.accept_tunnel(l.now, tunnel).is_err());
    l.exchange(&mut lac, &mut lns);
    assert_eq!(up_tunnels(&lns.take_events()), [tunnel]);

    // A second tunnel, refused.
    l.clear();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    let Some(Event::IncomingTunnel { tunnel: t2, .. }) = lns.take_events().first().cloned() else {
        panic!()
    };
    let rc = ResultCode::with_error(ResultCode::STOPCCN_GENERAL_ERROR, 4, None);
    lns.ep.reject_tunnel(l.now, t2, rc.clone()).unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A StopCCN"]);
    let lac_ev = lac.take_events();
    assert_eq!(
        down_reasons(&lac_ev).last(),
        Some(&TunnelDownReason::Peer(rc))
    );
}

#[test]
fn incoming_tunnels_refused_by_configuration() {
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.accept_incoming_tunnels = false;
    let (mut lac, mut lns) = pair(quiet_config("lac"), lns_cfg);
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A StopCCN"]);
    assert!(
        matches!(&down_reasons(&lac.take_events())[..], [TunnelDownReason::Peer(rc)] if rc.result == 4)
    );
}

#[test]
fn nat_clients_sharing_address_and_port_get_separate_tunnels() {
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let now = std::time::Instant::now();
    let nat: std::net::SocketAddr = "127.0.0.9:1701".parse().unwrap();
    let mut c1 = Raw::new(nat);
    let mut c2 = Raw::new(nat);
    let t1 = raw_tunnel(now, &mut c1, &mut lns, 1);
    let t2 = raw_tunnel(now, &mut c2, &mut lns, 1000);
    assert_ne!(t1, t2);
    assert_eq!(lns.ep.tunnel_count(), 2);
    // An SCCRQ naming c1's established tunnel (same address, same assigned id) finds that
    // tunnel, not c2's: it is not acknowledged, c1's tunnel is probed with a HELLO.
    let dup = sccrq_datagram(sccrq(1));
    lns.ep.handle_datagram(now, lns_addr(), nat, &dup);
    assert_eq!(lns.ep.tunnel_count(), 2);
    assert_eq!(lns.ep.stats().sccrq_for_established, 1);
    let t = lns.ep.poll_transmit().expect("a probe of c1's tunnel");
    assert_eq!(message_name(&t.payload), "HELLO");
    assert_eq!(
        Header::decode(&t.payload).unwrap().header.tunnel_id,
        TunnelId(1)
    );
    assert!(lns.ep.poll_transmit().is_none());
    // Before the tunnel is complete, a retransmitted SCCRQ is a duplicate: acknowledged.
    let mut c3 = Raw::new(nat);
    c3.send(now, &mut lns, SessionId(0), sccrq(77));
    assert_eq!(c3.recv(now, &mut lns), ["SCCRP"]);
    lns.ep
        .handle_datagram(now, lns_addr(), nat, &sccrq_datagram(sccrq(77)));
    let t = lns
        .ep
        .poll_transmit()
        .expect("duplicate must be acknowledged");
    assert_eq!(message_name(&t.payload), "ZLB");
    assert_eq!(
        Header::decode(&t.payload).unwrap().header.tunnel_id,
        TunnelId(77)
    );
    assert_eq!(lns.ep.tunnel_count(), 3);
}

#[test]
fn unknown_tunnel_ids_are_counted_not_fatal() {
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let now = std::time::Instant::now();
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    raw.set_tunnel(TunnelId(4242));
    raw.send(
        now,
        &mut lns,
        SessionId(0),
        l2tp_wire::Hello { unknown: vec![] },
    );
    // Garbage too.
    lns.ep
        .handle_datagram(now, lns_addr(), raw.addr, &[0xc8, 0x02, 0, 3]);
    lns.ep.handle_datagram(now, lns_addr(), raw.addr, &[]);
    // SCCRP / SCCCN for tunnel 0 (idle rows of §7.2.1): dropped.
    let mut raw0 = Raw::new("127.0.0.9:1701".parse().unwrap());
    raw0.send(now, &mut lns, SessionId(0), sccrp(5));
    let s = lns.ep.stats();
    assert_eq!(s.unknown_tunnel, 2);
    assert_eq!(s.malformed, 2);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.ep.poll_transmit().is_none());
}

#[test]
fn unknown_mandatory_avp_clears_the_tunnel_and_optional_one_is_ignored() {
    let now = std::time::Instant::now();
    // M=0: ignored, tunnel established.
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let mut m = sccrq(7);
    m.unknown.push(unknown_avp(false));
    raw.send(now, &mut lns, SessionId(0), m);
    raw.recv(now, &mut lns);
    assert!(matches!(raw.last(), Some(ControlMessage::Sccrp(_))));

    // M=1 in SCCRQ: StopCCN, result 2 (general error), error 8 (unknown mandatory AVP).
    let mut raw = Raw::new("127.0.0.10:1701".parse().unwrap());
    let mut m = sccrq(8);
    m.unknown.push(unknown_avp(true));
    raw.send(now, &mut lns, SessionId(0), m);
    raw.recv(now, &mut lns);
    match raw.last() {
        Some(ControlMessage::StopCcn(s)) => {
            assert_eq!(s.result_code.result, ResultCode::STOPCCN_GENERAL_ERROR);
            assert_eq!(
                s.result_code.error,
                Some(ResultCode::ERROR_UNKNOWN_MANDATORY_AVP)
            );
        }
        other => panic!("{other:?}"),
    }

    // M=1 in a HELLO on an established tunnel: StopCCN as well.
    let mut raw = Raw::new("127.0.0.11:1701".parse().unwrap());
    let tid = raw_tunnel(now, &mut raw, &mut lns, 9);
    let mut h = l2tp_wire::Hello { unknown: vec![] };
    h.unknown.push(unknown_avp(true));
    raw.send(now, &mut lns, SessionId(0), h);
    raw.recv(now, &mut lns);
    assert!(matches!(raw.last(), Some(ControlMessage::StopCcn(_))));
    assert_eq!(
        lns.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Closing
    );
}

#[test]
fn unexpected_tunnel_messages_are_answered_with_stopccn() {
    let now = std::time::Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    // established: receive SCCRP → StopCCN (FSM error), clean up.
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let tid = raw_tunnel(now, &mut raw, &mut lns, 9);
    raw.send(now, &mut lns, SessionId(0), sccrp(9));
    raw.recv(now, &mut lns);
    match raw.last() {
        Some(ControlMessage::StopCcn(s)) => {
            assert_eq!(s.result_code.result, ResultCode::STOPCCN_FSM_ERROR)
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &down_reasons(&lns.take_events())[..],
        [TunnelDownReason::Protocol(_)]
    ));
    assert_eq!(
        lns.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Closing
    );

    // wait-ctl-conn: receive SCCRP → StopCCN.
    let mut raw = Raw::new("127.0.0.10:1701".parse().unwrap());
    raw.send(now, &mut lns, SessionId(0), sccrq(10));
    raw.recv(now, &mut lns);
    let Some(ControlMessage::Sccrp(r)) = raw.last().cloned() else {
        panic!()
    };
    raw.set_tunnel(r.assigned_tunnel_id);
    raw.send(now, &mut lns, SessionId(0), sccrp(10));
    assert_eq!(raw.recv(now, &mut lns), ["StopCCN"]);

    // wait-ctl-reply (we originated): receive SCCCN → StopCCN.
    let mut lac = Peer::new(lac_addr(), raw_config("lac"), 4);
    let mut raw = Raw::new("127.0.0.12:1701".parse().unwrap());
    let tid = lac
        .ep
        .open_tunnel(now, lac_addr(), raw.addr, TunnelOptions::default())
        .unwrap();
    assert_eq!(raw.recv(now, &mut lac), ["SCCRQ"]);
    raw.set_tunnel(tid);
    raw.send(
        now,
        &mut lac,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    assert_eq!(raw.recv(now, &mut lac), ["StopCCN"]);
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Closing
    );
    // Session messages before the tunnel is up are refused the same way.
    let mut raw = Raw::new("127.0.0.13:1701".parse().unwrap());
    let tid = lac
        .ep
        .open_tunnel(now, lac_addr(), raw.addr, TunnelOptions::default())
        .unwrap();
    raw.recv(now, &mut lac);
    raw.set_tunnel(tid);
    raw.send(
        now,
        &mut lac,
        SessionId(0),
        l2tp_wire::Icrp {
            assigned_session_id: SessionId(5),
            unknown: vec![],
        },
    );
    assert_eq!(raw.recv(now, &mut lac), ["StopCCN"]);
}

#[test]
fn responder_may_answer_from_another_port() {
    // RFC 2661 §8.1: the SCCRP may come from a port other than 1701; the LAC adopts it.
    let now = std::time::Instant::now();
    let mut lac = Peer::new(lac_addr(), raw_config("lac"), 4);
    let mut raw = Raw::new("127.0.0.12:1701".parse().unwrap());
    let tid = lac
        .ep
        .open_tunnel(now, lac_addr(), raw.addr, TunnelOptions::default())
        .unwrap();
    raw.recv(now, &mut lac);
    raw.addr = "127.0.0.12:40000".parse().unwrap();
    raw.set_tunnel(tid);
    raw.send(now, &mut lac, SessionId(0), sccrp(77));
    assert_eq!(raw.recv(now, &mut lac), ["SCCCN"]);
    let info = lac.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.peer, raw.addr);
    assert_eq!(info.state, TunnelStateKind::Established);
    // Someone else on another address cannot speak for the tunnel.
    let mut intruder = Raw::new("127.0.0.99:1701".parse().unwrap());
    intruder.set_tunnel(tid);
    intruder.send(
        now,
        &mut lac,
        SessionId(0),
        l2tp_wire::Hello { unknown: vec![] },
    );
    assert_eq!(lac.ep.stats().wrong_peer, 1);
}

#[test]
fn undecided_incoming_tunnel_times_out() {
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.decide_incoming_tunnels = true;
    let (mut lac, mut lns) = pair(quiet_config("lac"), lns_cfg);
    let mut l = Ladder::new();
    lac.ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.advance(&mut lac, &mut lns, Duration::from_secs(61));
    // The SCCRQ was acknowledged, so the LAC would wait for ever: the LNS gives up.
    assert!(down_reasons(&lns.take_events()).is_empty());
    l.advance(&mut lac, &mut lns, Duration::from_secs(2));
    assert_eq!(
        down_reasons(&lns.take_events()),
        [TunnelDownReason::SetupTimeout]
    );
    // The LAC, which has waited as long, gives up too (or hears the StopCCN first).
    assert!(matches!(
        &down_reasons(&lac.take_events())[..],
        [TunnelDownReason::Peer(_) | TunnelDownReason::SetupTimeout]
    ));
}

#[test]
fn peer_restarting_with_the_same_tunnel_id_gets_a_new_tunnel() {
    let now = std::time::Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let t1 = raw_tunnel(now, &mut raw, &mut lns, 5);
    raw.send(
        now,
        &mut lns,
        SessionId(0),
        l2tp_wire::StopCcn {
            assigned_tunnel_id: TunnelId(5),
            result_code: ResultCode::new(1),
            unknown: vec![],
        },
    );
    raw.recv(now, &mut lns);
    assert_eq!(
        lns.ep.tunnel_info(t1).unwrap().state,
        TunnelStateKind::Closing
    );
    // Same address, same assigned id, Ns 0 again: a new tunnel, not a duplicate.
    redial_gets_a_new_tunnel(now, raw.addr, &mut lns, t1);
}

/// The restarted peer (a fresh channel, Ns 0, the same address and assigned id 5) opens a
/// tunnel: a new one, established, not `old`.
fn redial_gets_a_new_tunnel(
    now: std::time::Instant,
    addr: std::net::SocketAddr,
    lns: &mut Peer,
    old: TunnelId,
) {
    let mut again = Raw::new(addr);
    let t2 = raw_tunnel(now, &mut again, lns, 5);
    assert_ne!(old, t2);
    assert_eq!(
        lns.ep.tunnel_info(t2).unwrap().state,
        TunnelStateKind::Established
    );
}

/// A peer that restarts without a StopCCN and reuses its tunnel id: its SCCRQ names an
/// established tunnel. It must not be acknowledged (the peer would wait for an SCCRP that
/// never comes) nor keep the stale tunnel alive; the old tunnel is probed, cleared when the
/// probe goes unanswered, and the peer's next SCCRQ gets a new tunnel.
#[test]
fn peer_restarting_without_stopccn_gets_its_old_tunnel_cleared_then_a_new_one() {
    let mut now = std::time::Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let t1 = raw_tunnel(now, &mut raw, &mut lns, 5);
    lns.take_events();
    // The restarted peer's SCCRQ, retransmitted every second as a real peer would.
    let sccrq = sccrq_datagram(sccrq(5));
    let mut hellos = 0;
    let mut down = false;
    for _ in 0..120 {
        lns.ep.handle_datagram(now, lns_addr(), raw.addr, &sccrq);
        lns.ep.handle_timeout(now);
        while let Some(t) = lns.ep.poll_transmit() {
            let name = message_name(&t.payload);
            assert!(
                name != "SCCRP" && name != "ZLB",
                "the SCCRQ for an established tunnel was answered with {name}"
            );
            hellos += usize::from(name == "HELLO");
        }
        if lns
            .take_events()
            .iter()
            .any(|e| matches!(e, Event::TunnelDown { tunnel, .. } if *tunnel == t1))
        {
            down = true;
            break;
        }
        now += Duration::from_secs(1);
    }
    assert!(down, "the stale tunnel was never cleared");
    assert!(hellos >= 1, "the stale tunnel was not probed");
    assert!(lns.ep.stats().sccrq_for_established >= 1);
    // The peer's next SCCRQ: a new tunnel.
    redial_gets_a_new_tunnel(now, raw.addr, &mut lns, t1);
}

/// A late copy of the SCCRQ (delayed in the network) reaching a live tunnel: the probe is
/// answered and the tunnel stays.
#[test]
fn a_late_sccrq_copy_does_not_disturb_a_live_tunnel() {
    let mut now = std::time::Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let t1 = raw_tunnel(now, &mut raw, &mut lns, 5);
    lns.ep
        .handle_datagram(now, lns_addr(), raw.addr, &sccrq_datagram(sccrq(5)));
    assert_eq!(raw.recv(now, &mut lns), ["HELLO"]);
    for _ in 0..60 {
        now += Duration::from_secs(1);
        raw.recv(now, &mut lns);
    }
    assert_eq!(
        lns.ep.tunnel_info(t1).unwrap().state,
        TunnelStateKind::Established
    );
    assert!(!lns
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::TunnelDown { .. })));
}

#[test]
fn a_peer_starting_at_a_nonzero_ns_is_understood() {
    // RFC 2661 §5.8 says Ns begins at 0; a LAC starting near the wrap still gets through to
    // an LNS configured with the default.
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.initial_seq = l2tp_wire::SeqNum(65_534);
    let (mut lac, mut lns) = pair(lac_cfg, quiet_config("lns"));
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    for _ in 0..4 {
        lac.ep
            .place_incoming_call(l.now, tid, Default::default())
            .unwrap();
    }
    l.advance(&mut lac, &mut lns, Duration::from_secs(2));
    let lac_ev = lac.take_events();
    assert_eq!(up_tunnels(&lac_ev), [tid]);
    let ups = lac_ev
        .iter()
        .filter(|e| matches!(e, Event::SessionUp { .. }))
        .count();
    assert_eq!(ups, 4);
    assert_eq!(lac.ep.tunnel_info(tid).unwrap().counters.tx_retransmits, 0);
}

// ----- admission under floods (issue 9): the half-open table, stateless refusals -----

/// An SCCRQ datagram (Ns 0) from a scripted source, as a flood would send it.
fn sccrq_datagram(m: l2tp_wire::Sccrq) -> Vec<u8> {
    let mut body = Vec::new();
    ControlMessage::from(m).encode(&mut body, None).unwrap();
    Header::control(
        TunnelId(0),
        SessionId(0),
        l2tp_wire::SeqNum(0),
        l2tp_wire::SeqNum(0),
    )
    .encode_with_payload(&body)
}

/// A distinct spoofed source per index.
fn spoofed(i: u32) -> std::net::SocketAddr {
    let [_, b, c, d] = (0x0a00_0000u32 + i).to_be_bytes();
    std::net::SocketAddr::from(([10, b, c, d], 1701))
}

/// Everything the endpoint sent so far: (destination, message name).
fn sent(ep: &mut l2tp_proto::control::Endpoint) -> Vec<(std::net::SocketAddr, String)> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| (t.to, message_name(&t.payload)))
        .collect()
}

#[test]
fn full_half_open_table_evicts_the_oldest_silently() {
    let now = std::time::Instant::now();
    let mut cfg = raw_config("lns");
    cfg.max_half_open_tunnels = 3;
    let mut lns = Peer::new(lns_addr(), cfg, 3);
    // Five SCCRQs that never complete: each is answered, the table holds the last three.
    for i in 0..5 {
        lns.ep
            .handle_datagram(now, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(100)));
    }
    let out = sent(&mut lns.ep);
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(out.iter().all(|(_, m)| m == "SCCRP"), "{out:?}");
    assert_eq!(lns.ep.half_open_tunnels(), 3);
    assert_eq!(lns.ep.tunnel_count(), 3);
    let st = lns.ep.stats();
    assert_eq!(st.half_open_evicted, 2);
    assert_eq!(st.half_open_refused, 0);
    // The evicted ones were the two oldest, and nothing (no StopCCN) went to them.
    let peers: Vec<_> = lns.ep.tunnels().map(|t| t.peer).collect();
    assert!(!peers.contains(&spoofed(0)) && !peers.contains(&spoofed(1)));
    assert!((2..5).all(|i| peers.contains(&spoofed(i))));
    assert!(lns.take_events().is_empty(), "eviction is silent");

    // The newest completes its handshake; a late SCCCN of an evicted one finds nothing.
    let mut newest = Raw::new(spoofed(4));
    newest.ch.start_receive_at(l2tp_wire::SeqNum(0));
    let tid = lns
        .ep
        .tunnels()
        .find(|t| t.peer == spoofed(4))
        .unwrap()
        .tunnel;
    // Its SCCRQ took Ns 0: the SCCCN is Ns 1, acknowledging the SCCRP.
    let mut body = Vec::new();
    ControlMessage::from(l2tp_wire::Scccn {
        challenge_response: None,
        unknown: vec![],
    })
    .encode(&mut body, None)
    .unwrap();
    let scccn = |t: TunnelId| {
        Header::control(t, SessionId(0), l2tp_wire::SeqNum(1), l2tp_wire::SeqNum(1))
            .encode_with_payload(&body)
    };
    lns.ep
        .handle_datagram(now, lns_addr(), spoofed(4), &scccn(tid));
    assert_eq!(up_tunnels(&lns.take_events()), [tid]);
    assert_eq!(lns.ep.half_open_tunnels(), 2);
    let unknown_before = lns.ep.stats().unknown_tunnel;
    lns.ep
        .handle_datagram(now, lns_addr(), spoofed(0), &scccn(TunnelId(0x7777)));
    assert_eq!(lns.ep.stats().unknown_tunnel, unknown_before + 1);
    drop(newest);
}

/// The point of eviction: a real peer gets in while SCCRQs from many sources keep the table
/// full. Its SCCCN finds the live tunnel when fewer than the table's size arrive during its
/// round trip, or the tunnel rebuilt from its eviction record (Challenge checked) when fewer
/// than five times the table's size do; with more, it fails (the test measures the
/// boundaries, so it can fail).
#[test]
fn a_real_peer_gets_in_during_a_many_source_sccrq_flood() {
    const CAP: usize = 64;
    let c = CAP as u32;
    for (during_rtt, should_succeed, restored) in [
        (c - 1, true, 0),
        (c, true, 1),
        (5 * c - 1, true, 1),
        (5 * c, false, 0),
    ] {
        let now = std::time::Instant::now();
        let mut cfg = raw_config("lns");
        cfg.max_half_open_tunnels = CAP;
        cfg.auth = secret_auth(b"s3cret", false);
        let mut lns = Peer::new(lns_addr(), cfg, 7);
        let mut n = 0u32;
        let mut flood = |lns: &mut Peer, k: u32| {
            for _ in 0..k {
                n += 1;
                lns.ep.handle_datagram(
                    now,
                    lns_addr(),
                    spoofed(n),
                    &sccrq_datagram(sccrq((n % 60000 + 1) as u16)),
                );
            }
        };
        // The table is full (and has turned over) before the real peer arrives.
        flood(&mut lns, 5 * c);
        assert_eq!(lns.ep.half_open_tunnels(), CAP);
        let _ = sent(&mut lns.ep);
        // The real peer's SCCRQ, then the flood during its round trip, then its SCCCN
        // answering the LNS's Challenge.
        let mut real = Raw::new("192.0.2.7:1701".parse().unwrap());
        real.ignore_others = true;
        real.send(now, &mut lns, SessionId(0), sccrq(4242));
        real.recv(now, &mut lns);
        flood(&mut lns, during_rtt);
        let Some(ControlMessage::Sccrp(r)) = real.last().cloned() else {
            panic!("the real peer got no SCCRP: {:?}", real.inbox)
        };
        let challenge = r.challenge.clone().expect("a Challenge");
        real.set_tunnel(r.assigned_tunnel_id);
        real.send(
            now,
            &mut lns,
            SessionId(0),
            l2tp_wire::Scccn {
                challenge_response: Some(l2tp_wire::challenge_response(3, b"s3cret", &challenge)),
                unknown: vec![],
            },
        );
        let ev = lns.take_events();
        let up = up_tunnels(&ev);
        assert_eq!(
            up == [r.assigned_tunnel_id],
            should_succeed,
            "{during_rtt} SCCRQs during the round trip with a table of {CAP}: up {up:?} {ev:?}"
        );
        let st = lns.ep.stats();
        assert_eq!(st.half_open_restored, restored, "{st:?}");
        assert!(lns.ep.half_open_tunnels() <= CAP);
        assert!(lns.ep.tunnel_count() <= CAP + 1);
        assert_eq!(
            st.half_open_evicted,
            4 * CAP as u64 + 1 + u64::from(during_rtt) + restored
        );
    }
}

/// A rebuilt tunnel still checks the Challenge its SCCRP carried: a wrong answer is refused.
#[test]
fn a_restored_tunnel_checks_the_original_challenge() {
    let now = std::time::Instant::now();
    let mut cfg = raw_config("lns");
    cfg.max_half_open_tunnels = 2;
    cfg.auth = secret_auth(b"s3cret", false);
    let mut lns = Peer::new(lns_addr(), cfg, 7);
    let mut real = Raw::new("192.0.2.7:1701".parse().unwrap());
    real.ignore_others = true;
    real.send(now, &mut lns, SessionId(0), sccrq(4242));
    real.recv(now, &mut lns);
    let Some(ControlMessage::Sccrp(r)) = real.last().cloned() else {
        panic!("no SCCRP")
    };
    for i in 0..2 {
        lns.ep
            .handle_datagram(now, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(5)));
    }
    assert!(
        lns.ep.tunnel_info(r.assigned_tunnel_id).is_none(),
        "evicted"
    );
    // A stranger's message for the evicted id restores nothing.
    let mut stranger = Raw::new("192.0.2.8:1701".parse().unwrap());
    stranger.ignore_others = true;
    stranger.set_tunnel(r.assigned_tunnel_id);
    stranger.ch.start_receive_at(l2tp_wire::SeqNum(0));
    stranger.send(
        now,
        &mut lns,
        SessionId(0),
        l2tp_wire::Hello { unknown: vec![] },
    );
    assert_eq!(lns.ep.stats().half_open_restored, 0);
    // The real peer answers with a wrong response: restored, then refused.
    real.set_tunnel(r.assigned_tunnel_id);
    real.send(
        now,
        &mut lns,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: Some([0u8; 16]),
            unknown: vec![],
        },
    );
    assert_eq!(lns.ep.stats().half_open_restored, 1);
    assert_eq!(
        down_reasons(&lns.take_events()),
        [TunnelDownReason::AuthFailed]
    );
}

#[test]
fn accepting_an_undecided_tunnel_evicts_the_oldest_half_open_one() {
    let now = std::time::Instant::now();
    let mut cfg = raw_config("lns");
    cfg.max_half_open_tunnels = 2;
    cfg.decide_incoming_tunnels = true;
    let mut lns = Peer::new(lns_addr(), cfg, 3);
    let mut tids = Vec::new();
    for i in 0..3 {
        lns.ep
            .handle_datagram(now, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(9)));
        let Some(Event::IncomingTunnel { tunnel, .. }) = lns.take_events().pop() else {
            panic!("no IncomingTunnel")
        };
        // Undecided tunnels count as half-open but are never evicted by a newer SCCRQ: a
        // refused newcomer must not cost an accepted peer its slot.
        assert!(lns.ep.half_open_tunnels() <= 3);
        lns.ep.accept_tunnel(now, tunnel).unwrap();
        tids.push(tunnel);
    }
    assert_eq!(lns.ep.half_open_tunnels(), 2);
    assert_eq!(lns.ep.stats().half_open_evicted, 1);
    assert!(lns.ep.tunnel_info(tids[0]).is_none());
    // A newcomer the caller discards evicts nobody.
    lns.ep
        .handle_datagram(now, lns_addr(), spoofed(9), &sccrq_datagram(sccrq(9)));
    let Some(Event::IncomingTunnel { tunnel, .. }) = lns.take_events().pop() else {
        panic!("no IncomingTunnel")
    };
    assert_eq!(lns.ep.half_open_tunnels(), 3);
    lns.ep.discard_tunnel(tunnel).unwrap();
    assert_eq!(lns.ep.half_open_tunnels(), 2);
    assert_eq!(lns.ep.stats().half_open_evicted, 1);
    assert!(tids[1..].iter().all(|t| lns.ep.tunnel_info(*t).is_some()));
    // Undecided tunnels are bounded on their own.
    for i in 10..14 {
        lns.ep
            .handle_datagram(now, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(9)));
    }
    assert_eq!(lns.take_events().len(), 2);
    assert_eq!(lns.ep.stats().half_open_refused, 2);
}

#[test]
fn sccrq_with_unknown_mandatory_avp_is_refused_without_state() {
    let now = std::time::Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 3);
    let mut m = sccrq(77);
    m.unknown.push(unknown_avp(true));
    let d = sccrq_datagram(m.clone());
    lns.ep.handle_datagram(now, lns_addr(), spoofed(1), &d);
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert!(lns.take_events().is_empty());
    assert!(lns.ep.poll_timeout().is_none(), "no timer: nothing is held");
    let t = lns.ep.poll_transmit().expect("a StopCCN");
    assert_eq!(t.to, spoofed(1));
    // To the peer's tunnel id, Nr acknowledging its SCCRQ, RFC 2661 §4.2 result codes.
    let d2 = Header::decode(&t.payload).unwrap();
    assert_eq!(d2.header.tunnel_id, TunnelId(77));
    let seq = d2.header.sequence.unwrap();
    assert_eq!((seq.ns.0, seq.nr.0), (0, 1));
    match l2tp_wire::Packet::decode(&t.payload, None).unwrap() {
        l2tp_wire::Packet::Control {
            message: ControlMessage::StopCcn(s),
            ..
        } => {
            assert_eq!(s.result_code.result, ResultCode::STOPCCN_GENERAL_ERROR);
            assert_eq!(
                s.result_code.error,
                Some(ResultCode::ERROR_UNKNOWN_MANDATORY_AVP)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(lns.ep.poll_transmit().is_none());
    // A flood of them: every one counted, at most 50 answers a second, never any state.
    for i in 0..500 {
        lns.ep.handle_datagram(now, lns_addr(), spoofed(i), &d);
    }
    assert_eq!(sent(&mut lns.ep).len(), 49);
    assert_eq!(lns.ep.stats().sccrq_rejected, 501);
    assert_eq!(lns.ep.tunnel_count(), 0);
    lns.ep
        .handle_datagram(now + Duration::from_secs(1), lns_addr(), spoofed(1), &d);
    assert_eq!(sent(&mut lns.ep).len(), 1, "a new second, a new budget");
}

#[test]
fn unanswered_sccrps_are_not_retransmitted_under_pressure() {
    let t0 = std::time::Instant::now();
    for (cap, pressure) in [(8usize, true), (4096, false)] {
        let mut cfg = raw_config("lns");
        cfg.max_half_open_tunnels = cap;
        let mut lns = Peer::new(lns_addr(), cfg, 3);
        // 8 spoofed SCCRQs (never answered) and one real peer that acknowledges its SCCRP.
        for i in 0..8 {
            lns.ep
                .handle_datagram(t0, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(5)));
        }
        let mut real = Raw::new("192.0.2.7:1701".parse().unwrap());
        real.ignore_others = true;
        real.send(t0, &mut lns, SessionId(0), sccrq(4242));
        real.recv(t0, &mut lns);
        let Some(ControlMessage::Sccrp(r)) = real.last().cloned() else {
            panic!("no SCCRP")
        };
        // Its acknowledgement (a ZLB to our tunnel id): the real peer has answered.
        let zlb = Header::control(
            r.assigned_tunnel_id,
            SessionId(0),
            l2tp_wire::SeqNum(1),
            l2tp_wire::SeqNum(1),
        )
        .encode_with_payload(&[]);
        lns.ep.handle_datagram(t0, lns_addr(), real.addr, &zlb);
        assert_eq!(lns.ep.half_open_tunnels(), 9.min(cap));
        let _ = sent(&mut lns.ep);
        // Past the first retransmission timeout.
        let later = t0 + Duration::from_millis(1500);
        lns.ep.handle_timeout(later);
        let out = sent(&mut lns.ep);
        let st = lns.ep.stats();
        if pressure {
            assert!(
                out.is_empty(),
                "retransmitted under pressure: {out:?} {st:?}"
            );
            assert_eq!(st.half_open_silenced, 7, "{st:?}");
        } else {
            assert_eq!(out.len(), 8, "{out:?}");
            assert!(out.iter().all(|(_, m)| m == "SCCRP"));
            assert_eq!(st.half_open_silenced, 0);
        }
        // The entries stay (until evicted or timed out): a peer whose SCCCN was lost still
        // gets in with its retransmission.
        assert_eq!(lns.ep.half_open_tunnels(), 9.min(cap));
        let late_tid = lns
            .ep
            .tunnels()
            .find(|t| t.peer == spoofed(7))
            .expect("still held")
            .tunnel;
        let mut body = Vec::new();
        ControlMessage::from(l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        })
        .encode(&mut body, None)
        .unwrap();
        let late_scccn = Header::control(
            late_tid,
            SessionId(0),
            l2tp_wire::SeqNum(1),
            l2tp_wire::SeqNum(1),
        )
        .encode_with_payload(&body);
        lns.ep
            .handle_datagram(later, lns_addr(), spoofed(7), &late_scccn);
        assert_eq!(up_tunnels(&lns.take_events()), [late_tid]);
        // Nothing more is sent to the silent ones up to their setup timeout (no StopCCN
        // either) under pressure; without pressure, they get retransmissions.
        let mut t = later;
        for _ in 0..80 {
            t += Duration::from_secs(1);
            lns.ep.handle_timeout(t);
        }
        let out = sent(&mut lns.ep);
        let to_silent = out
            .iter()
            .filter(|(to, _)| (0..7).any(|i| *to == spoofed(i)))
            .count();
        if pressure {
            assert_eq!(to_silent, 0, "{out:?}");
        } else {
            assert!(to_silent > 0);
        }
        assert_eq!(lns.ep.half_open_tunnels(), 0, "all timed out");
    }
}

#[test]
fn refuse_tunnel_answers_once_and_keeps_nothing() {
    let now = std::time::Instant::now();
    let mut cfg = raw_config("lns");
    cfg.decide_incoming_tunnels = true;
    let mut lns = Peer::new(lns_addr(), cfg, 3);
    let rc = ResultCode::with_error(ResultCode::STOPCCN_NOT_AUTHORIZED, 0, Some("not allowed"));
    for i in 0..80 {
        lns.ep
            .handle_datagram(now, lns_addr(), spoofed(i), &sccrq_datagram(sccrq(31)));
        let Some(Event::IncomingTunnel { tunnel, .. }) = lns.take_events().pop() else {
            panic!("no IncomingTunnel")
        };
        lns.ep.refuse_tunnel(now, tunnel, rc.clone()).unwrap();
        assert!(lns.ep.refuse_tunnel(now, tunnel, rc.clone()).is_err());
    }
    assert_eq!(lns.ep.tunnel_count(), 0);
    assert_eq!(lns.ep.half_open_tunnels(), 0);
    assert!(lns.take_events().is_empty());
    let out: Vec<_> = std::iter::from_fn(|| lns.ep.poll_transmit()).collect();
    // Nothing held, so nothing is ever retransmitted (stale timer entries just expire).
    lns.ep.handle_timeout(now + Duration::from_secs(120));
    assert!(lns.ep.poll_transmit().is_none());
    assert!(lns.ep.poll_timeout().is_none());
    assert_eq!(out.len(), 50, "answers limited to 50 a second");
    let d = Header::decode(&out[0].payload).unwrap();
    assert_eq!(d.header.tunnel_id, TunnelId(31));
    let seq = d.header.sequence.unwrap();
    assert_eq!((seq.ns.0, seq.nr.0), (0, 1));
    match l2tp_wire::Packet::decode(&out[0].payload, None).unwrap() {
        l2tp_wire::Packet::Control {
            message: ControlMessage::StopCcn(s),
            ..
        } => assert_eq!(s.result_code, rc),
        other => panic!("{other:?}"),
    }
}

/// An eviction record lives until the tunnel's setup deadline: an SCCCN after it restores
/// nothing (the peer has given up by then).
#[test]
fn eviction_records_expire_with_the_setup_deadline() {
    let now = std::time::Instant::now();
    let mut cfg = raw_config("lns");
    cfg.max_half_open_tunnels = 1;
    let mut lns = Peer::new(lns_addr(), cfg, 7);
    let mut real = Raw::new("192.0.2.7:1701".parse().unwrap());
    real.ignore_others = true;
    real.send(now, &mut lns, SessionId(0), sccrq(4242));
    real.recv(now, &mut lns);
    let Some(ControlMessage::Sccrp(r)) = real.last().cloned() else {
        panic!("no SCCRP")
    };
    lns.ep
        .handle_datagram(now, lns_addr(), spoofed(1), &sccrq_datagram(sccrq(5)));
    assert_eq!(lns.ep.stats().half_open_evicted, 1);
    // Long after (the other half-open tunnel timed out meanwhile).
    let later = now + Duration::from_secs(600);
    lns.ep.handle_timeout(later);
    real.set_tunnel(r.assigned_tunnel_id);
    real.send(
        later,
        &mut lns,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    assert_eq!(lns.ep.stats().half_open_restored, 0);
    assert!(up_tunnels(&lns.take_events()).is_empty());
    assert_eq!(lns.ep.tunnel_count(), 0);
}
