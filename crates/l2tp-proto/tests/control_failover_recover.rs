//! RFC 4951 failover as the failing endpoint, against our own peer side, in virtual time: a
//! LAC that restarted without its control channel state recovers its old tunnel from the LNS
//! (recovery tunnel, Suggested Control Sequence, StopCCN of the recovery tunnel), carries on
//! with it, and clears the sessions the LNS's FSR says it no longer has; no attempt towards a
//! peer without failover; a refused recovery is a clean `TunnelDown` of the recovery tunnel;
//! the peer's retransmission of what we lost is taken in order.

mod control_support;

use control_support::*;
use l2tp_proto::control::{
    ApiError, CallParams, EndpointConfig, Event, SessionDownReason, SessionStateKind,
    SessionToRecover, TunnelDownReason, TunnelOptions, TunnelStateKind, TunnelToRecover,
};
use l2tp_wire::{FailoverCapability, ResultCode, SessionId, TunnelId};

fn cap() -> FailoverCapability {
    FailoverCapability {
        control: true,
        data: true,
        recovery_time_ms: 5000,
    }
}

fn failover_config(host: &str) -> EndpointConfig {
    EndpointConfig {
        failover: Some(cap()),
        ..quiet_config(host)
    }
}

/// A LAC and an LNS with an established tunnel; returns the LAC's tunnel id.
fn tunnel(l: &mut Ladder, lac: &mut Peer, lns: &mut Peer) -> TunnelId {
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(lac, lns);
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );
    tid
}

/// An incoming call from the LAC, up on both sides; returns the LAC's session id.
fn call(l: &mut Ladder, lac: &mut Peer, lns: &mut Peer, tid: TunnelId) -> SessionId {
    let sid = lac
        .ep
        .place_incoming_call(l.now, tid, CallParams::default())
        .unwrap();
    l.exchange(lac, lns);
    assert_eq!(
        lac.ep.session_info(tid, sid).unwrap().state,
        SessionStateKind::Established
    );
    sid
}

/// What the LAC's caller kept about a tunnel (the state that survives the restart).
fn record(lac: &Peer, tid: TunnelId) -> TunnelToRecover {
    let t = lac.ep.tunnel_info(tid).unwrap();
    TunnelToRecover {
        local: t.local,
        peer: t.peer,
        tunnel: t.tunnel,
        peer_tunnel: t.peer_tunnel,
        peer_failover: t.failover.peer,
        sessions: lac
            .ep
            .sessions(tid)
            .map(|s| SessionToRecover {
                session: s.session,
                peer_session: s.peer_session,
                kind: s.kind,
            })
            .collect(),
    }
}

fn lns_tunnel(lns: &Peer) -> TunnelId {
    lns.ep.tunnels().next().unwrap().tunnel
}

#[test]
fn a_restarted_lac_recovers_its_tunnel_and_carries_on_with_the_suggested_sequence() {
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 1);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 2);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    let kept = call(&mut l, &mut lac, &mut lns, tid);
    let gone = call(&mut l, &mut lac, &mut lns, tid);
    // The caller's record is taken here; afterwards the LNS clears one call (the LAC saw
    // the CDN, but the record is stale), and then the LAC restarts without its state.
    let rec = record(&lac, tid);
    let lns_tid = lns_tunnel(&lns);
    let lns_gone = lac.ep.session_info(tid, gone).unwrap().peer_session;
    let lns_kept = lac.ep.session_info(tid, kept).unwrap().peer_session;
    lns.ep
        .close_session(l.now, lns_tid, lns_gone, ResultCode::new(3))
        .unwrap();
    // Long enough for the LAC's acknowledgement: the LNS has nothing outstanding.
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(1));
    assert_eq!(lns.ep.sessions(lns_tid).count(), 1);
    let lns_rx_before = lns.ep.tunnel_info(lns_tid).unwrap().counters.rx_messages;
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 3);
    lns.take_events();
    l.clear();

    let via = lac.ep.recover_tunnel(l.now, rec).unwrap();
    assert_ne!(via, tid);
    l.exchange(&mut lac, &mut lns);
    assert_eq!(
        l.messages(),
        [
            "A>B SCCRQ",
            "B>A SCCRP",
            "A>B SCCCN",
            "A>B StopCCN",
            "A>B FSQ",
            "B>A HELLO",
            "B>A FSR",
        ]
    );
    // The old tunnel is back under its old id; the recovery tunnel is closing.
    let info = lac.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.state, TunnelStateKind::Established);
    assert_eq!(
        info.peer_tunnel,
        lns.ep.tunnel_info(lns_tid).unwrap().tunnel
    );
    assert_eq!(info.failover.recoveries, 1);
    assert_eq!(
        lac.ep.tunnel_info(via).unwrap().state,
        TunnelStateKind::Closing
    );
    assert_eq!(lns.ep.tunnel_info(lns_tid).unwrap().failover.recoveries, 1);
    // The LNS took our FSQ in sequence on the old tunnel (Ns as it suggested), and we its
    // HELLO and FSR (Nr as it suggested).
    assert_eq!(
        lns.ep.tunnel_info(lns_tid).unwrap().counters.rx_messages,
        lns_rx_before + 1
    );
    let c = lac.ep.tunnel_info(tid).unwrap().counters;
    assert_eq!((c.rx_messages, c.rx_out_of_order), (2, 0));
    // The FSR cleared the call the LNS no longer has, and only that one.
    let downs: Vec<_> = lac
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SessionDown {
                tunnel,
                session,
                reason,
            } => Some((tunnel, session, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(downs.len(), 1, "{downs:?}");
    assert_eq!((downs[0].0, downs[0].1), (tid, gone));
    assert!(matches!(downs[0].2, SessionDownReason::Peer { .. }));
    let left: Vec<_> = lac.ep.sessions(tid).map(|s| s.session).collect();
    assert_eq!(left, [kept]);
    assert_eq!(
        lac.ep.session_info(tid, kept).unwrap().peer_session,
        lns_kept
    );

    // The old tunnel carries on: a new call on it is accepted by the LNS, in sequence.
    l.clear();
    let sid = call(&mut l, &mut lac, &mut lns, tid);
    assert_eq!(l.messages(), ["A>B ICRQ", "B>A ICRP", "A>B ICCN"]);
    assert_eq!(lns.ep.tunnel_info(lns_tid).unwrap().sessions, 2);
    assert!(lac.ep.session_info(tid, sid).is_some());
    // ... and so does a HELLO after a while, with both sides still up.
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(120));
    assert_eq!(
        lns.ep.tunnel_info(lns_tid).unwrap().state,
        TunnelStateKind::Established
    );
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );
    assert_eq!(lns.ep.stats().unexpected_messages, 0);
    assert_eq!(lns.ep.stats().unknown_messages, 0);
}

#[test]
fn no_recovery_is_attempted_towards_a_peer_without_failover() {
    // The LNS does not offer failover: the LAC records no offer and attempts nothing.
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 4);
    let mut lns = Peer::new(lns_addr(), quiet_config("lns"), 5);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    call(&mut l, &mut lac, &mut lns, tid);
    let rec = record(&lac, tid);
    assert_eq!(rec.peer_failover, None);
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 6);
    assert!(matches!(
        lac.ep.recover_tunnel(l.now, rec.clone()),
        Err(ApiError::NotRecoverable(_))
    ));
    assert!(lac.ep.poll_transmit().is_none());
    assert_eq!(lac.ep.tunnel_count(), 0);

    // Nor when the peer offered only data channel failover, or we do not offer it.
    let data_only = TunnelToRecover {
        peer_failover: Some(FailoverCapability {
            control: false,
            ..cap()
        }),
        ..rec.clone()
    };
    assert!(lac.ep.recover_tunnel(l.now, data_only).is_err());
    let mut plain = Peer::new(lac_addr(), quiet_config("lac"), 7);
    let offered = TunnelToRecover {
        peer_failover: Some(cap()),
        ..rec
    };
    assert!(matches!(
        plain.ep.recover_tunnel(l.now, offered),
        Err(ApiError::NotRecoverable(_))
    ));
    assert!(plain.ep.poll_transmit().is_none());
    assert!(lac.ep.poll_transmit().is_none());
}

#[test]
fn a_refused_recovery_is_a_clean_tunnel_down_of_the_recovery_tunnel() {
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 8);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 9);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    let rec = record(&lac, tid);
    // The LNS has cleared the old tunnel meanwhile (the LAC's record is stale).
    lns.ep
        .close_tunnel(l.now, lns_tunnel(&lns), ResultCode::new(6))
        .unwrap();
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(60));
    assert_eq!(lns.ep.tunnel_count(), 0);
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 10);
    l.clear();

    let via = lac.ep.recover_tunnel(l.now, rec).unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A StopCCN"]);
    let events = lac.take_events();
    let down = events
        .iter()
        .find_map(|e| match e {
            Event::TunnelDown { tunnel, reason } if *tunnel == via => Some(reason.clone()),
            _ => None,
        })
        .expect("the recovery tunnel goes down");
    let TunnelDownReason::Peer(rc) = down else {
        panic!("{down:?}")
    };
    assert_eq!(rc.result, ResultCode::STOPCCN_GENERAL_ERROR);
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::TunnelUp { .. } | Event::SessionDown { .. })));
    assert!(
        lac.ep.tunnel_info(tid).is_none(),
        "the old tunnel is not created"
    );
    assert_eq!(lns.ep.tunnel_count(), 0, "the LNS keeps no state for it");
}

#[test]
fn what_the_peer_sent_and_we_lost_is_retransmitted_in_order_after_the_recovery() {
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 11);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 12);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    let sid = call(&mut l, &mut lac, &mut lns, tid);
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(1));
    let rec = record(&lac, tid);
    let lns_tid = lns_tunnel(&lns);
    let lns_sid = lac.ep.session_info(tid, sid).unwrap().peer_session;
    // The LNS clears the call; its CDN is lost with the LAC, which restarts.
    lns.ep
        .close_session(
            l.now,
            lns_tid,
            lns_sid,
            ResultCode::new(ResultCode::CDN_ADMINISTRATIVE),
        )
        .unwrap();
    while lns.ep.poll_transmit().is_some() {}
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 13);
    lns.take_events();

    lac.ep.recover_tunnel(l.now, rec).unwrap();
    // Retransmission of the CDN comes after the LNS's retransmission timeout.
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(10));
    let downs: Vec<_> = lac
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SessionDown {
                tunnel,
                session,
                reason,
            } => Some((tunnel, session, reason)),
            _ => None,
        })
        .collect();
    // The session goes by the peer's CDN (result 3), taken in order at the suggested Nr;
    // the FSR behind it finds nothing left to clear.
    assert_eq!(downs.len(), 1, "{downs:?}");
    assert_eq!((downs[0].0, downs[0].1), (tid, sid));
    let SessionDownReason::Peer { result, .. } = &downs[0].2 else {
        panic!("{downs:?}")
    };
    assert_eq!(result.result, ResultCode::CDN_ADMINISTRATIVE);
    assert_eq!(lac.ep.sessions(tid).count(), 0);
    for (ep, t) in [(&lac, tid), (&lns, lns_tid)] {
        let info = ep.ep.tunnel_info(t).unwrap();
        assert_eq!(info.state, TunnelStateKind::Established);
    }
    let lns_info = lns.ep.tunnel_info(lns_tid).unwrap();
    assert!(lns_info.counters.tx_retransmits >= 1, "{lns_info:?}");
}

#[test]
fn a_recovery_counts_when_the_scccn_comes_again_with_the_stopccn_behind_it() {
    // The recovery tunnel's SCCCN is lost: its retransmission and the StopCCN queued behind
    // it are delivered together, and the tunnel is closed as it comes up. The old tunnel
    // is recovered all the same.
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 14);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 15);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    call(&mut l, &mut lac, &mut lns, tid);
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(1));
    let rec = record(&lac, tid);
    let lns_tid = lns_tunnel(&lns);
    let mut lac = Peer::new(lac_addr(), failover_config("lac"), 16);
    lac.ep.recover_tunnel(l.now, rec).unwrap();
    // SCCRQ over, SCCRP back.
    let rq = lac.ep.poll_transmit().expect("SCCRQ");
    lns.ep.handle_datagram(l.now, rq.to, rq.local, &rq.payload);
    while let Some(t) = lns.ep.poll_transmit() {
        lac.ep.handle_datagram(l.now, t.to, t.local, &t.payload);
    }
    // The first of what the LAC sends now is its SCCCN: lost. The rest goes over.
    let mut sent: Vec<_> = std::iter::from_fn(|| lac.ep.poll_transmit()).collect();
    assert_eq!(message_name(&sent[0].payload), "SCCCN");
    sent.remove(0);
    for t in sent {
        lns.ep.handle_datagram(l.now, t.to, t.local, &t.payload);
    }
    assert_eq!(
        lns.ep.tunnel_info(lns_tid).unwrap().failover.recoveries,
        0,
        "not before the SCCCN"
    );
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(10));
    let info = lns.ep.tunnel_info(lns_tid).unwrap();
    assert_eq!(info.failover.recoveries, 1);
    assert_eq!(info.state, TunnelStateKind::Established);
    assert_eq!(
        lac.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );
}

#[test]
fn a_node_that_takes_no_tunnels_still_takes_a_recovery_tunnel_for_its_own() {
    // The LAC (a client: no incoming tunnels) is the peer; the LNS fails and recovers.
    let lac_cfg = EndpointConfig {
        accept_incoming_tunnels: false,
        ..failover_config("lac")
    };
    let mut lac = Peer::new(lac_addr(), lac_cfg, 17);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 18);
    let mut l = Ladder::new();
    let tid = tunnel(&mut l, &mut lac, &mut lns);
    call(&mut l, &mut lac, &mut lns, tid);
    l.advance(&mut lac, &mut lns, std::time::Duration::from_secs(1));
    let lns_tid = lns_tunnel(&lns);
    let rec = record(&lns, lns_tid);
    let mut lns = Peer::new(lns_addr(), failover_config("lns"), 19);
    lns.ep.recover_tunnel(l.now, rec).unwrap();
    l.clear();
    l.exchange(&mut lns, &mut lac);
    assert_eq!(
        &l.messages()[..3],
        ["A>B SCCRQ", "B>A SCCRP", "A>B SCCCN"],
        "{:?}",
        l.messages()
    );
    assert_eq!(lac.ep.tunnel_info(tid).unwrap().failover.recoveries, 1);
    assert_eq!(
        lns.ep.tunnel_info(lns_tid).unwrap().state,
        TunnelStateKind::Established
    );
    assert_eq!(lns.ep.sessions(lns_tid).count(), 1, "the FSR kept the call");

    // An ordinary SCCRQ is still refused.
    let mut other = Peer::new(lns_addr(), failover_config("other"), 20);
    other
        .ep
        .open_tunnel(l.now, lns_addr(), lac_addr(), TunnelOptions::default())
        .unwrap();
    l.clear();
    l.exchange(&mut other, &mut lac);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A StopCCN"]);
}
