//! RFC 4951 failover as the peer of a failing endpoint, in virtual time: the Failover
//! Capability exchange, a recovery SCCRQ answered with a Suggested Control Sequence that lets
//! the old tunnel carry on, refusals, FSQ answered with FSR, and peers that do not offer
//! failover seeing nothing new.

mod control_support;

use std::time::{Duration, Instant};

use control_support::*;
use l2tp_proto::control::{CallParams, EndpointConfig, TunnelOptions, TunnelStateKind};
use l2tp_wire::{
    ControlMessage, FailoverAvp, FailoverCapability, FailoverSessionState, Fsq, Fsr, MessageType,
    ResultCode, SessionId, SuggestedControlSequence, TunnelId, TunnelRecovery,
};

const RAW_ADDR: &str = "127.0.0.9:1701";

fn cap(ms: u32) -> FailoverCapability {
    FailoverCapability {
        control: true,
        data: true,
        recovery_time_ms: ms,
    }
}

fn failover_config(host: &str, ms: u32) -> EndpointConfig {
    EndpointConfig {
        failover: Some(cap(ms)),
        ..raw_config(host)
    }
}

/// A scripted peer's tunnel, offering failover when `offer`; returns (our tunnel, SCCRP).
fn raw_tunnel_with(
    now: Instant,
    raw: &mut Raw,
    ep: &mut Peer,
    assigned: u16,
    offer: bool,
) -> (TunnelId, l2tp_wire::Sccrp) {
    let mut rq = sccrq(assigned);
    if offer {
        rq.unknown.push(cap(3000).to_avp());
    }
    raw.send(now, ep, SessionId(0), rq);
    raw.recv(now, ep);
    let Some(ControlMessage::Sccrp(rp)) = raw.last().cloned() else {
        panic!("expected SCCRP, got {:?}", raw.last())
    };
    raw.set_tunnel(rp.assigned_tunnel_id);
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
    (rp.assigned_tunnel_id, rp)
}

fn recovery_sccrq(assigned: u16, old_ours: u16, old_theirs: TunnelId) -> l2tp_wire::Sccrq {
    let mut rq = sccrq(assigned);
    rq.unknown.push(cap(3000).to_avp());
    rq.unknown.push(
        TunnelRecovery {
            recover_tunnel_id: TunnelId(old_ours),
            recover_remote_tunnel_id: old_theirs,
        }
        .to_avp(),
    );
    rq
}

#[test]
fn failover_offers_are_exchanged_and_shown_in_tunnel_info() {
    let mut lac = Peer::new(lac_addr(), failover_config("lac", 2000), 1);
    let mut lns = Peer::new(lns_addr(), failover_config("lns", 5000), 2);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    let ours = lac.ep.tunnel_info(tid).unwrap();
    assert_eq!(ours.state, TunnelStateKind::Established);
    assert_eq!(ours.failover.peer, Some(cap(5000)));
    assert!(ours.failover.recoverable);
    let theirs = lns.ep.tunnels().next().unwrap();
    assert_eq!(theirs.failover.peer, Some(cap(2000)));
    assert!(theirs.failover.recoverable);
    assert_eq!(theirs.failover.recovery_of, None);
}

#[test]
fn peers_without_failover_are_unaffected() {
    let now = Instant::now();
    // We offer, the peer does not: the tunnel is up, nothing is recoverable.
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 3);
    let mut raw = Raw::new(RAW_ADDR.parse().unwrap());
    let (tid, rp) = raw_tunnel_with(now, &mut raw, &mut ep, 60, false);
    assert_eq!(FailoverCapability::find(&rp.unknown), Some(Ok(cap(5000))));
    let info = ep.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.state, TunnelStateKind::Established);
    assert_eq!(info.failover.peer, None);
    assert!(!info.failover.recoverable);

    // Failover not configured: our SCCRP carries no new AVP, the peer's offer is only noted,
    // and an FSQ is still an unknown mandatory message that clears the tunnel.
    let mut ep = Peer::new(lns_addr(), raw_config("lns"), 4);
    let mut raw = Raw::new(RAW_ADDR.parse().unwrap());
    let (tid, rp) = raw_tunnel_with(now, &mut raw, &mut ep, 60, true);
    assert!(rp.unknown.is_empty(), "{:?}", rp.unknown);
    let info = ep.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.failover.peer, Some(cap(3000)));
    assert!(!info.failover.recoverable);
    let fsq = Fsq {
        sessions: vec![FailoverSessionState::default()],
    };
    raw.send(now, &mut ep, SessionId(0), fsq.to_message());
    assert_eq!(raw.recv(now, &mut ep), ["StopCCN"]);
    assert_eq!(
        ep.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Closing
    );
}

#[test]
fn recovery_sccrq_without_failover_is_refused_as_an_unknown_mandatory_avp() {
    let now = Instant::now();
    let mut ep = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new(RAW_ADDR.parse().unwrap());
    let (tid, _) = raw_tunnel_with(now, &mut raw, &mut ep, 60, true);
    let mut failing = Raw::new(RAW_ADDR.parse().unwrap());
    failing.ignore_others = true;
    failing.send(now, &mut ep, SessionId(0), recovery_sccrq(61, 60, tid));
    assert_eq!(failing.recv(now, &mut ep), ["StopCCN"]);
    let Some(ControlMessage::StopCcn(m)) = failing.last() else {
        panic!()
    };
    assert_eq!(
        m.result_code.error,
        Some(ResultCode::ERROR_UNKNOWN_MANDATORY_AVP)
    );
    assert_eq!(ep.ep.tunnel_count(), 1);
}

#[test]
fn recovery_of_an_unknown_or_non_failover_tunnel_is_refused_statelessly() {
    let now = Instant::now();
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 6);
    let mut raw = Raw::new(RAW_ADDR.parse().unwrap());
    // The peer did not offer failover on this tunnel.
    let (plain, _) = raw_tunnel_with(now, &mut raw, &mut ep, 60, false);
    for (old_ours, old_theirs, why) in [
        (60, plain, "failover not negotiated on that tunnel"),
        (60, TunnelId(plain.0.wrapping_add(1)), "no such tunnel"),
        (59, plain, "tunnel belongs to another peer"),
    ] {
        let mut failing = Raw::new(RAW_ADDR.parse().unwrap());
        failing.send(
            now,
            &mut ep,
            SessionId(0),
            recovery_sccrq(70, old_ours, old_theirs),
        );
        assert_eq!(failing.recv(now, &mut ep), ["StopCCN"], "{why}");
        let Some(ControlMessage::StopCcn(m)) = failing.last() else {
            panic!()
        };
        assert_eq!(m.result_code.message.as_deref(), Some(why));
        assert_eq!(ep.ep.tunnel_count(), 1, "{why}: no state created");
    }
    assert_eq!(
        ep.ep.tunnel_info(plain).unwrap().state,
        TunnelStateKind::Established
    );
}

/// The failing endpoint (scripted) lost its control connection state; its recovery tunnel
/// learns the Ns/Nr to resume with, and the old tunnel carries on: our message it never
/// acknowledged is retransmitted and accepted, and its next message is accepted too.
#[test]
fn recovery_sccrq_gets_the_suggested_sequence_and_the_old_tunnel_carries_on() {
    let mut now = Instant::now();
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 7);
    let mut old = Raw::new(RAW_ADDR.parse().unwrap());
    let (tid, rp) = raw_tunnel_with(now, &mut old, &mut ep, 60, true);
    assert_eq!(FailoverCapability::find(&rp.unknown), Some(Ok(cap(5000))));
    // Some traffic on the old tunnel, then a message of ours the failing endpoint never saw.
    old.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Hello { unknown: vec![] },
    );
    old.recv(now, &mut ep);
    ep.ep
        .place_incoming_call(now, tid, CallParams::default())
        .unwrap();
    while ep.ep.poll_transmit().is_some() {} // lost with the failing endpoint

    // What the failing endpoint had when it failed (the test's record of its lost state).
    let want = SuggestedControlSequence {
        ns: old.ch.next_ns(),
        nr: old.ch.expected_ns(),
    };

    let mut rec = Raw::new(RAW_ADDR.parse().unwrap());
    rec.send(now, &mut ep, SessionId(0), recovery_sccrq(61, 60, tid));
    assert_eq!(rec.recv(now, &mut ep), ["SCCRP"]);
    let Some(ControlMessage::Sccrp(answer)) = rec.last().cloned() else {
        panic!()
    };
    assert_eq!(
        SuggestedControlSequence::find(&answer.unknown),
        Some(Ok(want))
    );
    assert_eq!(
        FailoverCapability::find(&answer.unknown),
        Some(Ok(cap(5000)))
    );
    let recovery = answer.assigned_tunnel_id;
    assert_ne!(recovery, tid);
    assert_eq!(
        ep.ep.tunnel_info(recovery).unwrap().failover.recovery_of,
        Some(tid)
    );
    assert_eq!(ep.ep.tunnel_info(tid).unwrap().failover.recoveries, 0);
    rec.set_tunnel(recovery);
    rec.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    rec.recv(now, &mut ep);
    let info = ep.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.failover.recoveries, 1);
    assert_eq!(info.state, TunnelStateKind::Established);

    // The failing endpoint resumes the old tunnel with the suggested numbers (`old` has
    // exactly them): our ICRQ comes again and is in order for it.
    now += Duration::from_secs(2);
    let got = old.recv(now, &mut ep);
    assert!(got.contains(&"ICRQ".to_string()), "{got:?}");
    assert!(matches!(old.last(), Some(ControlMessage::Icrq(_))));
    old.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Hello { unknown: vec![] },
    );
    old.recv(now, &mut ep);
    assert_eq!(
        ep.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );
    assert_eq!(ep.ep.stats().unknown_messages, 0);
}

#[test]
fn fsq_is_answered_with_fsr_for_the_sessions_we_know() {
    let now = Instant::now();
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 8);
    let mut raw = Raw::new(RAW_ADDR.parse().unwrap());
    let (tid, _) = raw_tunnel_with(now, &mut raw, &mut ep, 60, true);
    raw.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Icrq {
            assigned_session_id: SessionId(61),
            call_serial_number: 1,
            bearer_type: None,
            physical_channel_id: None,
            calling_number: None,
            called_number: None,
            sub_address: None,
            unknown: vec![],
        },
    );
    assert_eq!(raw.recv(now, &mut ep), ["ICRP"]);
    let Some(ControlMessage::Icrp(r)) = raw.last().cloned() else {
        panic!()
    };
    let ours = r.assigned_session_id;
    raw.send(
        now,
        &mut ep,
        ours,
        l2tp_wire::Iccn::new(1_000_000, l2tp_wire::FramingCapabilities::SYNC),
    );
    raw.recv(now, &mut ep);

    let q = |sid: u16, remote: SessionId| FailoverSessionState {
        session_id: SessionId(sid),
        remote_session_id: remote,
    };
    let fsq = Fsq {
        sessions: vec![
            q(61, ours),                       // known, ids match
            q(62, SessionId(ours.0 ^ 0x5555)), // not ours
            q(63, ours),                       // our session, but not with that peer id
        ],
    };
    raw.send(now, &mut ep, SessionId(0), fsq.to_message());
    assert_eq!(raw.recv(now, &mut ep), ["FSR"]);
    let msg = raw.last().unwrap();
    assert_eq!(msg.message_type(), MessageType::FSR);
    let fsr = Fsr::from_message(msg).unwrap();
    assert_eq!(
        fsr.sessions,
        vec![
            FailoverSessionState {
                session_id: ours,
                remote_session_id: SessionId(61)
            },
            FailoverSessionState {
                session_id: SessionId(0),
                remote_session_id: SessionId(62)
            },
            FailoverSessionState {
                session_id: SessionId(0),
                remote_session_id: SessionId(63)
            },
        ]
    );
    let info = ep.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.failover.session_queries, 1);
    assert_eq!(info.sessions, 1, "a query changes no session");

    // A malformed FSQ (no Failover Session State) clears the tunnel with a typed error.
    raw.send(now, &mut ep, SessionId(0), Fsq::default().to_message());
    assert_eq!(raw.recv(now, &mut ep), ["StopCCN"]);
}

/// Runs the endpoint's timers up to `until` (bounded), feeding nothing back: the failing
/// endpoint is silent.
fn run_silent(ep: &mut Peer, now: &mut Instant, until: Instant) {
    for _ in 0..10_000 {
        match ep.ep.poll_timeout() {
            Some(t) if t <= until => {
                *now = (*now).max(t);
                ep.ep.handle_timeout(*now);
                while ep.ep.poll_transmit().is_some() {}
                ep.drain();
            }
            _ => break,
        }
    }
    *now = until;
}

fn tunnel_downs(ep: &mut Peer) -> usize {
    ep.take_events()
        .iter()
        .filter(|e| matches!(e, l2tp_proto::control::Event::TunnelDown { .. }))
        .count()
}

/// RFC 4951 Recovery Time: a recoverable tunnel whose peer went silent outlives the RFC 2661
/// retry budget for the peer's Recovery Time, and a recovery in that time takes its control
/// channel back (our unacknowledged message goes out again at once and is in order).
#[test]
fn a_silent_recoverable_peer_is_waited_for_and_recovered() {
    let mut now = Instant::now();
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 9);
    let mut old = Raw::new(RAW_ADDR.parse().unwrap());
    // The scripted peer advertises 3 s in `raw_tunnel_with`; use a longer one here.
    let mut rq = sccrq(60);
    rq.unknown.push(cap(120_000).to_avp());
    old.send(now, &mut ep, SessionId(0), rq);
    old.recv(now, &mut ep);
    let Some(ControlMessage::Sccrp(rp)) = old.last().cloned() else {
        panic!()
    };
    let tid = rp.assigned_tunnel_id;
    old.set_tunnel(tid);
    old.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    old.recv(now, &mut ep);
    ep.take_events();
    ep.ep
        .place_incoming_call(now, tid, CallParams::default())
        .unwrap();
    while ep.ep.poll_transmit().is_some() {}

    // Well past the RFC 2661 retry budget (about 31 s with the defaults).
    let start = now;
    run_silent(&mut ep, &mut now, start + Duration::from_secs(90));
    assert_eq!(tunnel_downs(&mut ep), 0);
    assert_eq!(
        ep.ep.tunnel_info(tid).unwrap().state,
        TunnelStateKind::Established
    );

    let mut rec = Raw::new(RAW_ADDR.parse().unwrap());
    rec.ignore_others = true;
    rec.send(now, &mut ep, SessionId(0), recovery_sccrq(61, 60, tid));
    assert_eq!(rec.recv(now, &mut ep)[0], "SCCRP");
    rec.set_tunnel(rec_tunnel(&rec));
    rec.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    // The SCCCN brings the old tunnel back: its ICRQ goes out at once, to the same address.
    let mut got = Vec::new();
    while let Some(t) = ep.ep.poll_transmit() {
        got.push(t);
    }
    let mut icrq = false;
    for t in &got {
        let d = l2tp_wire::Header::decode(&t.payload).unwrap();
        if d.header.tunnel_id == TunnelId(60) && message_name(&t.payload) == "ICRQ" {
            let s = d.header.sequence.unwrap();
            let r = old
                .ch
                .receive(now, s.ns, s.nr, d.header.session_id, d.payload);
            icrq |= !r.delivered.is_empty();
        }
    }
    assert!(icrq, "the ICRQ was not resent in order on the old tunnel");
    let info = ep.ep.tunnel_info(tid).unwrap();
    assert_eq!(info.failover.recoveries, 1);
    assert_eq!(tunnel_downs(&mut ep), 0);
}

fn rec_tunnel(rec: &Raw) -> TunnelId {
    match rec.inbox.iter().rev().find_map(|(_, m)| match m {
        ControlMessage::Sccrp(p) => Some(p.assigned_tunnel_id),
        _ => None,
    }) {
        Some(t) => t,
        None => panic!("no SCCRP"),
    }
}

/// Without a recovery in the Recovery Time, the tunnel is cleared as RFC 2661 says.
#[test]
fn a_recoverable_peer_that_never_recovers_is_cleared_after_its_recovery_time() {
    let mut now = Instant::now();
    let mut ep = Peer::new(lns_addr(), failover_config("lns", 5000), 10);
    let mut old = Raw::new(RAW_ADDR.parse().unwrap());
    let mut rq = sccrq(60);
    rq.unknown.push(cap(20_000).to_avp());
    old.send(now, &mut ep, SessionId(0), rq);
    old.recv(now, &mut ep);
    let tid = rec_tunnel(&old);
    old.set_tunnel(tid);
    old.send(
        now,
        &mut ep,
        SessionId(0),
        l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        },
    );
    old.recv(now, &mut ep);
    ep.take_events();
    ep.ep
        .place_incoming_call(now, tid, CallParams::default())
        .unwrap();
    // The retry budget ends within 31 s; the 20 s Recovery Time keeps the tunnel past 40 s.
    let start = now;
    run_silent(&mut ep, &mut now, start + Duration::from_secs(40));
    assert_eq!(tunnel_downs(&mut ep), 0, "not kept for the Recovery Time");
    run_silent(&mut ep, &mut now, start + Duration::from_secs(90));
    assert_eq!(tunnel_downs(&mut ep), 1);
    assert!(ep.ep.tunnel_info(tid).is_none());
}
