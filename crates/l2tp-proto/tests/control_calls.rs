//! Message-ladder tests of the four call state machines (RFC 2661 §7.4.1, §7.4.2, §7.5.1,
//! §7.5.2): every transition, CDN from either side in every state, WEN, SLI, proxy AVPs,
//! unknown AVPs and messages not valid in a state.

mod control_support;

use std::time::{Duration, Instant};

use control_support::*;
use l2tp_proto::control::{
    CallKind, CallParams, EndpointConfig, Event, SessionDownReason, SessionStateKind, TunnelOptions,
};
use l2tp_wire::{ControlMessage, ResultCode, SessionId, TunnelId};

struct Setup {
    lac: Peer,
    lns: Peer,
    l: Ladder,
    lac_tid: TunnelId,
    lns_tid: TunnelId,
}

fn setup(lac_cfg: EndpointConfig, lns_cfg: EndpointConfig) -> Setup {
    let mut lac = Peer::new(lac_addr(), lac_cfg, 11);
    let mut lns = Peer::new(lns_addr(), lns_cfg, 12);
    let mut l = Ladder::new();
    let lac_tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    l.exchange(&mut lac, &mut lns);
    l.advance(&mut lac, &mut lns, Duration::from_millis(200));
    let lns_tid = lac.ep.tunnel_info(lac_tid).unwrap().peer_tunnel;
    lac.take_events();
    lns.take_events();
    l.clear();
    Setup {
        lac,
        lns,
        l,
        lac_tid,
        lns_tid,
    }
}

fn default_setup() -> Setup {
    setup(quiet_config("lac"), quiet_config("lns"))
}

fn session_up(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| matches!(e, Event::SessionUp { .. }))
        .cloned()
        .collect()
}

fn session_down(events: &[Event]) -> Vec<(SessionId, SessionDownReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SessionDown {
                session, reason, ..
            } => Some((*session, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn lac_incoming_call_ladder() {
    let mut s = default_setup();
    let params = CallParams {
        calling_number: Some("5551234".into()),
        sequencing_required: true,
        connect_speed: 64_000,
        ..CallParams::default()
    };
    let sid = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, params)
        .unwrap();
    assert_eq!(
        s.lac.ep.session_info(s.lac_tid, sid).unwrap().state,
        SessionStateKind::WaitReply
    );
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["A>B ICRQ", "B>A ICRP", "A>B ICCN"]);
    let lac_up = session_up(&s.lac.take_events());
    let lns_up = session_up(&s.lns.take_events());
    let (
        Event::SessionUp {
            session: a_sid,
            peer_session: a_peer,
            peer_tunnel: a_pt,
            kind: a_kind,
            sequencing_required: a_seq,
            ..
        },
        Event::SessionUp {
            session: b_sid,
            peer_session: b_peer,
            peer_tunnel: b_pt,
            kind: b_kind,
            sequencing_required: b_seq,
            connect_speed,
            peer,
            proxy,
            ..
        },
    ) = (&lac_up[0], &lns_up[0])
    else {
        panic!()
    };
    assert_eq!(*a_sid, sid);
    assert_eq!(*a_peer, *b_sid);
    assert_eq!(*b_peer, sid);
    assert_eq!((*a_pt, *b_pt), (s.lns_tid, s.lac_tid));
    assert_eq!(
        (*a_kind, *b_kind),
        (CallKind::LacIncoming, CallKind::LnsIncoming)
    );
    // The LAC asked for sequencing in ICCN: the LNS must send sequence numbers.
    assert!(!a_seq && *b_seq);
    assert_eq!(*connect_speed, 64_000);
    assert_eq!(*peer, lac_addr());
    assert!(proxy.is_none());
    let info = s.lns.ep.session_info(s.lns_tid, *b_sid).unwrap();
    assert_eq!(info.state, SessionStateKind::Established);
    assert_eq!((info.rx_messages, info.tx_messages), (2, 1));
    assert_eq!(s.lac.ep.sessions(s.lac_tid).count(), 1);
}

#[test]
fn call_placed_before_the_tunnel_is_up_waits_for_it() {
    let mut lac = Peer::new(lac_addr(), quiet_config("lac"), 1);
    let mut lns = Peer::new(lns_addr(), quiet_config("lns"), 2);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    let sid = lac
        .ep
        .place_incoming_call(l.now, tid, CallParams::default())
        .unwrap();
    assert_eq!(
        lac.ep.session_info(tid, sid).unwrap().state,
        SessionStateKind::WaitTunnel
    );
    l.exchange(&mut lac, &mut lns);
    assert_eq!(
        l.messages(),
        [
            "A>B SCCRQ",
            "B>A SCCRP",
            "A>B SCCCN",
            "A>B ICRQ",
            "B>A ICRP",
            "A>B ICCN"
        ]
    );
    assert_eq!(session_up(&lac.take_events()).len(), 1);
}

#[test]
fn closing_a_call_in_wait_tunnel_sends_nothing() {
    let mut lac = Peer::new(lac_addr(), quiet_config("lac"), 1);
    let mut lns = Peer::new(lns_addr(), quiet_config("lns"), 2);
    let mut l = Ladder::new();
    let tid = lac
        .ep
        .open_tunnel(l.now, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    let sid = lac
        .ep
        .place_incoming_call(l.now, tid, CallParams::default())
        .unwrap();
    let rc = ResultCode::new(ResultCode::CDN_ADMINISTRATIVE);
    lac.ep.close_session(l.now, tid, sid, rc.clone()).unwrap();
    l.exchange(&mut lac, &mut lns);
    assert_eq!(l.messages(), ["A>B SCCRQ", "B>A SCCRP", "A>B SCCCN"]);
    assert_eq!(
        session_down(&lac.take_events()),
        [(sid, SessionDownReason::Local(rc))]
    );
}

#[test]
fn lns_decides_on_incoming_calls() {
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.decide_incoming_calls = true;
    let mut s = setup(quiet_config("lac"), lns_cfg);
    let params = CallParams {
        called_number: Some("100".into()),
        ..CallParams::default()
    };
    let a1 = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, params.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["A>B ICRQ"]);
    let ev = s.lns.take_events();
    let Some(Event::IncomingCall {
        session,
        kind,
        info,
        ..
    }) = ev.first().cloned()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(kind, CallKind::LnsIncoming);
    assert_eq!(info.called_number.as_deref(), Some(&b"100"[..]));
    assert_eq!(
        s.lns.ep.session_info(s.lns_tid, session).unwrap().state,
        SessionStateKind::WaitDecision
    );
    s.lns.ep.accept_call(s.l.now, s.lns_tid, session).unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["A>B ICRQ", "B>A ICRP", "A>B ICCN"]);
    assert_eq!(session_up(&s.lns.take_events()).len(), 1);

    // Refused: CDN with the caller's result code.
    s.l.clear();
    let a2 = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, params)
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let Some(Event::IncomingCall { session: b2, .. }) = s.lns.take_events().first().cloned() else {
        panic!()
    };
    let rc = ResultCode::with_error(ResultCode::CDN_NO_FACILITIES_TEMPORARY, 0, None);
    s.lns
        .ep
        .reject_call(s.l.now, s.lns_tid, b2, rc.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["A>B ICRQ", "B>A CDN"]);
    assert_eq!(
        session_down(&s.lac.take_events()),
        [(
            a2,
            SessionDownReason::Peer {
                result: rc,
                q931_cause: None
            }
        )]
    );
    assert!(s.lac.ep.session_info(s.lac_tid, a2).is_none());
    assert!(s.lac.ep.session_info(s.lac_tid, a1).is_some());
}

#[test]
fn lns_outgoing_call_ladder() {
    let mut s = default_setup();
    let params = CallParams {
        called_number: Some("0800".into()),
        ..CallParams::default()
    };
    let sid = s
        .lns
        .ep
        .place_outgoing_call(s.l.now, s.lns_tid, params)
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["B>A OCRQ", "A>B OCRP", "A>B OCCN"]);
    let lns_up = session_up(&s.lns.take_events());
    let lac_up = session_up(&s.lac.take_events());
    assert!(
        matches!(&lns_up[0], Event::SessionUp { session, kind: CallKind::LnsOutgoing, .. } if *session == sid)
    );
    assert!(
        matches!(&lac_up[0], Event::SessionUp { kind: CallKind::LacOutgoing, peer_session, .. } if *peer_session == sid)
    );
}

#[test]
fn lns_outgoing_wait_connect_then_occn() {
    // A scripted LAC answers OCRQ with OCRP only; the LNS waits in wait-connect.
    let now = Instant::now();
    let mut lac = Peer::new(lac_addr(), raw_config("lac"), 1);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let tid = lac
        .ep
        .open_tunnel(now, lac_addr(), raw.addr, TunnelOptions::default())
        .unwrap();
    raw.recv(now, &mut lac);
    raw.set_tunnel(tid);
    raw.send(now, &mut lac, SessionId(0), sccrp(50));
    raw.recv(now, &mut lac);
    // Our endpoint here plays the LNS placing an outgoing call.
    let sid = lac
        .ep
        .place_outgoing_call(now, tid, CallParams::default())
        .unwrap();
    assert_eq!(raw.recv(now, &mut lac), ["OCRQ"]);
    let Some(ControlMessage::Ocrq(q)) = raw.last().cloned() else {
        panic!()
    };
    assert_eq!(q.assigned_session_id, sid);
    raw.send(
        now,
        &mut lac,
        sid,
        l2tp_wire::Ocrp {
            assigned_session_id: SessionId(900),
            physical_channel_id: None,
            unknown: vec![],
        },
    );
    let info = lac.ep.session_info(tid, sid).unwrap();
    assert_eq!(info.state, SessionStateKind::WaitConnect);
    assert_eq!(info.peer_session, SessionId(900));
    raw.send(
        now,
        &mut lac,
        sid,
        l2tp_wire::Occn {
            tx_connect_speed: 9600,
            framing_type: l2tp_wire::FramingCapabilities::SYNC,
            rx_connect_speed: None,
            sequencing_required: true,
            unknown: vec![],
        },
    );
    let up = session_up(&lac.take_events());
    assert!(matches!(
        &up[..],
        [Event::SessionUp {
            sequencing_required: true,
            connect_speed: 9600,
            ..
        }]
    ));
}

#[test]
fn lac_decides_on_outgoing_calls() {
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.decide_incoming_calls = true;
    let mut s = setup(lac_cfg, quiet_config("lns"));
    s.lns
        .ep
        .place_outgoing_call(s.l.now, s.lns_tid, CallParams::default())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let Some(Event::IncomingCall { session, kind, .. }) = s.lac.take_events().first().cloned()
    else {
        panic!()
    };
    assert_eq!(kind, CallKind::LacOutgoing);
    s.lac.ep.accept_call(s.l.now, s.lac_tid, session).unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["B>A OCRQ", "A>B OCRP", "A>B OCCN"]);
    assert_eq!(session_up(&s.lns.take_events()).len(), 1);
    // Nothing left to decide.
    assert!(s.lac.ep.accept_call(s.l.now, s.lac_tid, session).is_err());
}

/// CDN from either side, in every state a session can be in.
#[test]
fn cdn_from_either_side_in_every_state() {
    let rc = ResultCode::new(ResultCode::CDN_ADMINISTRATIVE);
    let peer_rc = SessionDownReason::Peer {
        result: rc.clone(),
        q931_cause: None,
    };

    // LAC wait-reply, closed by the LAC: the CDN crosses the ICRP (LNS wait-connect).
    let mut s = default_setup();
    let sid = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    let icrq = s.lac.ep.poll_transmit().unwrap();
    s.lac
        .ep
        .close_session(s.l.now, s.lac_tid, sid, rc.clone())
        .unwrap();
    s.lns
        .ep
        .handle_datagram(s.l.now, icrq.to, icrq.local, &icrq.payload);
    s.l.exchange(&mut s.lac, &mut s.lns);
    // The LNS's ICRP then meets a LAC with no such session: "idle, receive ICRP → send CDN".
    assert_eq!(s.l.messages(), ["A>B CDN", "B>A ICRP", "A>B CDN"]);
    let lns_down = session_down(&s.lns.take_events());
    assert_eq!(lns_down.len(), 1);
    assert_eq!(lns_down[0].1, peer_rc);
    assert_eq!(s.lns.ep.sessions(s.lns_tid).count(), 0);
    assert_eq!(s.lac.ep.sessions(s.lac_tid).count(), 0);

    // LNS wait-connect, closed by the LNS (the ICCN is still in flight): LAC cleans up.
    let mut s = default_setup();
    let sid = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    let icrq = s.lac.ep.poll_transmit().unwrap();
    s.lns
        .ep
        .handle_datagram(s.l.now, icrq.to, icrq.local, &icrq.payload);
    let lns_sid = s.lns.ep.sessions(s.lns_tid).next().unwrap().session;
    assert_eq!(
        s.lns.ep.session_info(s.lns_tid, lns_sid).unwrap().state,
        SessionStateKind::WaitConnect
    );
    s.lns
        .ep
        .close_session(s.l.now, s.lns_tid, lns_sid, rc.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["B>A ICRP", "B>A CDN", "A>B ICCN"]);
    assert_eq!(session_down(&s.lac.take_events()), [(sid, peer_rc.clone())]);
    // The late ICCN for a cleared session is ignored (idle row: clean up).
    assert_eq!(s.lns.ep.sessions(s.lns_tid).count(), 0);

    // Established, closed by either side.
    for lac_closes in [true, false] {
        let mut s = default_setup();
        let sid = s
            .lac
            .ep
            .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
            .unwrap();
        s.l.exchange(&mut s.lac, &mut s.lns);
        let lns_sid = s.lns.ep.sessions(s.lns_tid).next().unwrap().session;
        s.lac.take_events();
        s.lns.take_events();
        s.l.clear();
        if lac_closes {
            s.lac
                .ep
                .close_session(s.l.now, s.lac_tid, sid, rc.clone())
                .unwrap();
        } else {
            s.lns
                .ep
                .close_session(s.l.now, s.lns_tid, lns_sid, rc.clone())
                .unwrap();
        }
        s.l.exchange(&mut s.lac, &mut s.lns);
        assert_eq!(s.l.messages().len(), 1);
        let (closer, other, other_sid) = if lac_closes {
            (&mut s.lac, &mut s.lns, lns_sid)
        } else {
            (&mut s.lns, &mut s.lac, sid)
        };
        assert!(matches!(
            &session_down(&closer.take_events())[..],
            [(_, SessionDownReason::Local(_))]
        ));
        assert_eq!(
            session_down(&other.take_events()),
            [(other_sid, peer_rc.clone())]
        );
    }

    // LNS outgoing wait-reply, closed by the LNS before the OCRQ arrives; and LAC
    // outgoing established, closed by the LAC.
    let mut s = default_setup();
    let sid = s
        .lns
        .ep
        .place_outgoing_call(s.l.now, s.lns_tid, CallParams::default())
        .unwrap();
    s.lns
        .ep
        .close_session(s.l.now, s.lns_tid, sid, rc.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    // The LAC's OCRP then meets an LNS with no such session: "idle, receive OCRP → send CDN".
    assert_eq!(
        s.l.messages(),
        ["B>A OCRQ", "B>A CDN", "A>B OCRP", "A>B OCCN", "B>A CDN"]
    );
    assert_eq!(
        s.lac.ep.sessions(s.lac_tid).count(),
        0,
        "LAC cleaned up on CDN"
    );
    assert_eq!(s.lns.ep.sessions(s.lns_tid).count(), 0);

    let mut s = default_setup();
    s.lns
        .ep
        .place_outgoing_call(s.l.now, s.lns_tid, CallParams::default())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let lac_sid = s.lac.ep.sessions(s.lac_tid).next().unwrap().session;
    s.lac
        .ep
        .close_session(s.l.now, s.lac_tid, lac_sid, rc.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.lns.ep.sessions(s.lns_tid).count(), 0);
    assert_eq!(session_down(&s.lns.take_events()).len(), 1);
}

#[test]
fn stopccn_takes_every_session_down() {
    let mut s = default_setup();
    for _ in 0..3 {
        s.lac
            .ep
            .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
            .unwrap();
    }
    s.l.exchange(&mut s.lac, &mut s.lns);
    s.lns.take_events();
    s.lac
        .ep
        .close_tunnel(s.l.now, s.lac_tid, ResultCode::new(1))
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let ev = s.lns.take_events();
    let downs = session_down(&ev);
    assert_eq!(downs.len(), 3);
    assert!(downs
        .iter()
        .all(|(_, r)| *r == SessionDownReason::TunnelDown));
    assert!(matches!(ev.last(), Some(Event::TunnelDown { .. })));
}

/// Brings a call up between a scripted LAC and the endpoint as LNS, returning
/// (tunnel, our session, raw's session).
fn raw_call(
    now: Instant,
    raw: &mut Raw,
    lns: &mut Peer,
    iccn: l2tp_wire::Iccn,
) -> (TunnelId, SessionId) {
    let tid = raw_tunnel(now, raw, lns, 60);
    raw.send(
        now,
        lns,
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
    assert_eq!(raw.recv(now, lns), ["ICRP"]);
    let Some(ControlMessage::Icrp(r)) = raw.last().cloned() else {
        panic!()
    };
    raw.send(now, lns, r.assigned_session_id, iccn);
    raw.recv(now, lns);
    (tid, r.assigned_session_id)
}

fn iccn() -> l2tp_wire::Iccn {
    l2tp_wire::Iccn::new(1_000_000, l2tp_wire::FramingCapabilities::SYNC)
}

#[test]
fn proxy_lcp_and_authentication_avps_are_exposed() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let mut m = iccn();
    m.initial_received_lcp_confreq = Some(vec![1, 4, 5, 0xdc]);
    m.last_sent_lcp_confreq = Some(vec![3, 6, 0, 0, 0, 0]);
    m.last_received_lcp_confreq = Some(vec![1, 4, 5, 0xdc]);
    m.proxy_authen_type = Some(l2tp_wire::ProxyAuthenType::CHAP);
    m.proxy_authen_name = Some(b"alice".to_vec());
    m.proxy_authen_challenge = Some(vec![9; 16]);
    m.proxy_authen_id = Some(7);
    m.proxy_authen_response = Some(vec![8; 16]);
    raw_call(now, &mut raw, &mut lns, m);
    let up = session_up(&lns.take_events());
    let [Event::SessionUp { proxy: Some(p), .. }] = &up[..] else {
        panic!("{up:?}")
    };
    assert_eq!(p.authen_type, Some(2));
    assert_eq!(p.authen_name.as_deref(), Some(&b"alice"[..]));
    assert_eq!(p.authen_id, Some(7));
    assert_eq!(
        p.initial_received_lcp_confreq.as_deref(),
        Some(&[1, 4, 5, 0xdc][..])
    );
    assert_eq!(
        p.last_sent_lcp_confreq.as_deref(),
        Some(&[3, 6, 0, 0, 0, 0][..])
    );
    assert_eq!(p.authen_response.as_deref(), Some(&[8; 16][..]));
}

#[test]
fn wen_and_sli_are_events_on_either_side() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let (tid, sid) = raw_call(now, &mut raw, &mut lns, iccn());
    lns.take_events();
    raw.send(
        now,
        &mut lns,
        sid,
        l2tp_wire::Wen {
            call_errors: l2tp_wire::CallErrors {
                crc_errors: 1,
                framing_errors: 2,
                hardware_overruns: 3,
                buffer_overruns: 4,
                timeout_errors: 5,
                alignment_errors: 6,
            },
            unknown: vec![],
        },
    );
    // macOS sends SLI to the server: accepted.
    raw.send(
        now,
        &mut lns,
        sid,
        l2tp_wire::Sli {
            accm: l2tp_wire::Accm {
                send_accm: 0xffff_ffff,
                receive_accm: 0,
            },
            unknown: vec![],
        },
    );
    let ev = lns.take_events();
    assert!(matches!(
        &ev[..],
        [
            Event::WanErrorNotify {
                crc_errors: 1,
                alignment_errors: 6,
                ..
            },
            Event::SetLinkInfo {
                send_accm: 0xffff_ffff,
                receive_accm: 0,
                ..
            }
        ]
    ));
    assert_eq!(
        lns.ep.session_info(tid, sid).unwrap().state,
        SessionStateKind::Established
    );
    // The WEN counters are kept with the session (cumulative: the last report is the total).
    let (n, e) = lns.ep.session_info(tid, sid).unwrap().wan_errors.unwrap();
    assert_eq!((n, e.crc_errors, e.alignment_errors), (1, 1, 6));

    // SLI from an LNS to a LAC.
    let mut s = default_setup();
    s.lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    s.lac.take_events();
    // Nothing in the endpoint API sends SLI (the daemon's PPP does, later): script it.
    let info = s.lns.ep.sessions(s.lns_tid).next().unwrap();
    let mut raw = Raw::new(lns_addr());
    raw.set_tunnel(s.lac_tid);
    // A fresh channel would start at Ns 0: align it with the LNS's next Ns.
    let next = s
        .lns
        .ep
        .tunnel_info(s.lns_tid)
        .unwrap()
        .counters
        .tx_messages as u16;
    raw.ch = l2tp_proto::control::reliable::Channel::new(l2tp_proto::control::ReliableConfig {
        initial_seq: l2tp_wire::SeqNum(next),
        ..Default::default()
    });
    raw.set_tunnel(s.lac_tid);
    raw.send(
        s.l.now,
        &mut s.lac,
        info.peer_session,
        l2tp_wire::Sli {
            accm: l2tp_wire::Accm {
                send_accm: 0,
                receive_accm: 0xa0000,
            },
            unknown: vec![],
        },
    );
    assert!(matches!(
        &s.lac.take_events()[..],
        [Event::SetLinkInfo {
            receive_accm: 0xa0000,
            ..
        }]
    ));
}

/// RFC 2661 §6.14: SLI sets "PPP-negotiated options ... on an active PPP session". Before
/// the call is established (ICRP sent, no ICCN yet) it is refused: CDN, no event.
#[test]
fn sli_before_the_call_is_established_is_refused() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    raw_tunnel(now, &mut raw, &mut lns, 60);
    raw.send(
        now,
        &mut lns,
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
    assert_eq!(raw.recv(now, &mut lns), ["ICRP"]);
    let Some(ControlMessage::Icrp(r)) = raw.last().cloned() else {
        panic!()
    };
    lns.take_events();
    raw.send(
        now,
        &mut lns,
        r.assigned_session_id,
        l2tp_wire::Sli {
            accm: l2tp_wire::Accm {
                send_accm: 0xffff_ffff,
                receive_accm: 0,
            },
            unknown: vec![],
        },
    );
    assert_eq!(raw.recv(now, &mut lns), ["CDN"]);
    let ev = lns.take_events();
    assert!(
        !ev.iter().any(|e| matches!(e, Event::SetLinkInfo { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, Event::SessionDown { .. })),
        "{ev:?}"
    );
}

#[test]
fn unknown_avps_in_session_messages() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let tid = raw_tunnel(now, &mut raw, &mut lns, 60);
    let icrq = |sid: u16, unknown| l2tp_wire::Icrq {
        assigned_session_id: SessionId(sid),
        call_serial_number: 1,
        bearer_type: None,
        physical_channel_id: None,
        calling_number: None,
        called_number: None,
        sub_address: None,
        unknown,
    };
    // M=0: ignored.
    raw.send(
        now,
        &mut lns,
        SessionId(0),
        icrq(1, vec![unknown_avp(false)]),
    );
    assert_eq!(raw.recv(now, &mut lns), ["ICRP"]);
    // M=1 in ICRQ: CDN to the peer's session, result 2 error 8; the tunnel stays.
    raw.send(
        now,
        &mut lns,
        SessionId(0),
        icrq(2, vec![unknown_avp(true)]),
    );
    assert_eq!(raw.recv(now, &mut lns), ["CDN"]);
    let (hdr_sid, Some(ControlMessage::Cdn(c))) = (raw.inbox.last().unwrap().0, raw.last()) else {
        panic!()
    };
    assert_eq!(hdr_sid, SessionId(2));
    assert_eq!(c.result_code.result, ResultCode::CDN_GENERAL_ERROR);
    assert_eq!(
        c.result_code.error,
        Some(ResultCode::ERROR_UNKNOWN_MANDATORY_AVP)
    );
    // M=1 in ICCN for the first call: CDN, session down with a protocol reason.
    let Some((_, ControlMessage::Icrp(r))) = raw
        .inbox
        .iter()
        .find(|(_, m)| matches!(m, ControlMessage::Icrp(_)))
        .cloned()
    else {
        panic!()
    };
    let mut m = iccn();
    m.unknown.push(unknown_avp(true));
    raw.send(now, &mut lns, r.assigned_session_id, m);
    assert_eq!(raw.recv(now, &mut lns), ["CDN"]);
    let downs = session_down(&lns.take_events());
    assert!(
        matches!(&downs[..], [(s, SessionDownReason::Protocol(rc))] if *s == r.assigned_session_id && rc.error == Some(8))
    );
    assert_eq!(
        lns.ep.tunnel_info(tid).unwrap().state,
        l2tp_proto::control::TunnelStateKind::Established
    );
}

#[test]
fn messages_not_valid_in_a_session_state_are_answered_with_cdn() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let (tid, sid) = raw_call(now, &mut raw, &mut lns, iccn());
    lns.take_events();
    // established: receive ICCN again (a new message, not a retransmission) → CDN, clean up.
    raw.send(now, &mut lns, sid, iccn());
    assert_eq!(raw.recv(now, &mut lns), ["CDN"]);
    assert!(matches!(
        &session_down(&lns.take_events())[..],
        [(_, SessionDownReason::Protocol(_))]
    ));
    assert!(lns.ep.session_info(tid, sid).is_none());
    // ICRP for a session we do not have → CDN naming the peer's session.
    raw.send(
        now,
        &mut lns,
        SessionId(4444),
        l2tp_wire::Icrp {
            assigned_session_id: SessionId(77),
            unknown: vec![],
        },
    );
    assert_eq!(raw.recv(now, &mut lns), ["CDN"]);
    assert_eq!(raw.inbox.last().unwrap().0, SessionId(77));
    // ICCN / CDN for unknown sessions: counted, ignored.
    raw.send(now, &mut lns, SessionId(4445), iccn());
    assert_eq!(raw.recv(now, &mut lns), ["ZLB"]);
    assert!(lns.ep.stats().unknown_sessions >= 2);
    assert_eq!(
        lns.ep.tunnel_info(tid).unwrap().state,
        l2tp_proto::control::TunnelStateKind::Established
    );
}

#[test]
fn session_ids_are_random_nonzero_and_unique() {
    let mut s = default_setup();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..300 {
        let sid = s
            .lac
            .ep
            .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
            .unwrap();
        assert!(!sid.is_zero());
        assert!(ids.insert(sid));
    }
    // Not sequential.
    let mut v: Vec<u16> = ids.iter().map(|s| s.0).collect();
    v.sort_unstable();
    assert!(v.windows(2).filter(|w| w[1] == w[0] + 1).count() < 10);
    s.l.advance(&mut s.lac, &mut s.lns, Duration::from_secs(5));
    assert_eq!(session_up(&s.lns.take_events()).len(), 300);
}

#[test]
fn lac_refuses_an_outgoing_call() {
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.decide_incoming_calls = true;
    let mut s = setup(lac_cfg, quiet_config("lns"));
    let lns_sid = s
        .lns
        .ep
        .place_outgoing_call(s.l.now, s.lns_tid, CallParams::default())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let Some(Event::IncomingCall { session, .. }) = s.lac.take_events().first().cloned() else {
        panic!()
    };
    let rc = ResultCode::new(ResultCode::CDN_NO_FACILITIES_PERMANENT);
    s.lac
        .ep
        .reject_call(s.l.now, s.lac_tid, session, rc.clone())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(s.l.messages(), ["B>A OCRQ", "A>B CDN"]);
    assert_eq!(
        session_down(&s.lns.take_events()),
        [(
            lns_sid,
            SessionDownReason::Peer {
                result: rc,
                q931_cause: None
            }
        )]
    );
}

#[test]
fn peer_cdn_in_lns_outgoing_wait_reply_and_wait_connect() {
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 1);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let tid = raw_tunnel(now, &mut raw, &mut lns, 70);
    let cdn = |sid: u16| l2tp_wire::Cdn {
        result_code: ResultCode::new(ResultCode::CDN_BUSY),
        assigned_session_id: SessionId(sid),
        q931_cause: Some(l2tp_wire::Q931Cause {
            cause_code: 17,
            cause_msg: 0,
            advisory: None,
        }),
        unknown: vec![],
    };
    // wait-reply: the LAC refuses before any OCRP (header session = ours).
    let s1 = lns
        .ep
        .place_outgoing_call(now, tid, CallParams::default())
        .unwrap();
    raw.recv(now, &mut lns);
    raw.send(now, &mut lns, s1, cdn(0));
    // wait-connect: OCRP, then CDN (busy line).
    let s2 = lns
        .ep
        .place_outgoing_call(now, tid, CallParams::default())
        .unwrap();
    raw.recv(now, &mut lns);
    raw.send(
        now,
        &mut lns,
        s2,
        l2tp_wire::Ocrp {
            assigned_session_id: SessionId(802),
            physical_channel_id: None,
            unknown: vec![],
        },
    );
    assert_eq!(
        lns.ep.session_info(tid, s2).unwrap().state,
        SessionStateKind::WaitConnect
    );
    raw.send(now, &mut lns, s2, cdn(802));
    let downs = session_down(&lns.take_events());
    let want = SessionDownReason::Peer {
        result: ResultCode::new(ResultCode::CDN_BUSY),
        q931_cause: Some(17),
    };
    assert_eq!(downs, [(s1, want.clone()), (s2, want)]);
    assert_eq!(lns.ep.sessions(tid).count(), 0);
}

#[test]
fn api_errors_are_typed() {
    use l2tp_proto::control::ApiError;
    let mut s = default_setup();
    let long = CallParams {
        called_number: Some("9".repeat(2000)),
        ..CallParams::default()
    };
    assert!(matches!(
        s.lac.ep.place_incoming_call(s.l.now, s.lac_tid, long),
        Err(ApiError::Encode(_))
    ));
    assert_eq!(
        s.lac
            .ep
            .place_incoming_call(s.l.now, TunnelId(1), CallParams::default()),
        Err(ApiError::NoSuchTunnel(TunnelId(1)))
    );
    assert_eq!(
        s.lac
            .ep
            .close_session(s.l.now, s.lac_tid, SessionId(3), ResultCode::new(3)),
        Err(ApiError::NoSuchSession(s.lac_tid, SessionId(3)))
    );
    assert_eq!(
        s.lac.ep.accept_tunnel(s.l.now, s.lac_tid),
        Err(ApiError::NoDecisionPending("tunnel"))
    );
}

#[test]
fn lac_sends_proxy_avps_and_the_lns_sees_them() {
    let mut s = default_setup();
    let proxy = l2tp_proto::control::ProxyInfo {
        last_sent_lcp_confreq: Some(vec![1, 4, 5, 0xd4]),
        authen_type: Some(3),
        authen_name: Some(b"bob".to_vec()),
        authen_response: Some(b"pw".to_vec()),
        ..Default::default()
    };
    let params = CallParams {
        proxy: Some(Box::new(proxy.clone())),
        ..CallParams::default()
    };
    s.lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, params)
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let up = session_up(&s.lns.take_events());
    let [Event::SessionUp { proxy: Some(p), .. }] = &up[..] else {
        panic!("{up:?}")
    };
    assert_eq!(**p, proxy);
}

#[test]
fn calls_never_decided_time_out() {
    // The LNS is asked and never decides: after two retransmission cycles (62 s) it clears
    // the call with CDN result 10 (timeout); the LAC hears it.
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.decide_incoming_calls = true;
    // The LAC waits for the ICRP longer than the LNS waits for its own decision.
    let mut lac_cfg = quiet_config("lac");
    lac_cfg.connect_timeout = None;
    let mut s = setup(lac_cfg, lns_cfg);
    let sid = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    s.l.advance(&mut s.lac, &mut s.lns, Duration::from_secs(61));
    assert!(session_down(&s.lns.take_events()).is_empty());
    s.l.advance(&mut s.lac, &mut s.lns, Duration::from_secs(2));
    let lns_down = session_down(&s.lns.events);
    assert!(matches!(
        &lns_down[..],
        [(_, SessionDownReason::SetupTimeout)]
    ));
    let lac_down = session_down(&s.lac.take_events());
    assert!(matches!(
        &lac_down[..],
        [(x, SessionDownReason::Peer { result, .. })] if *x == sid && result.result == ResultCode::CDN_TIMEOUT
    ));
}

#[test]
fn sli_and_wen_commands_reach_the_peer() {
    let mut s = default_setup();
    let lac_sid = s
        .lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    // Not yet established: refused.
    assert!(s
        .lac
        .ep
        .wan_error_notify(s.l.now, s.lac_tid, lac_sid, Default::default())
        .is_err());
    s.l.exchange(&mut s.lac, &mut s.lns);
    s.lac.take_events();
    s.lns.take_events();
    let lns_sid = s.lns.ep.sessions(s.lns_tid).next().unwrap().session;
    s.lns
        .ep
        .set_link_info(s.l.now, s.lns_tid, lns_sid, 0, 0x000a_0000)
        .unwrap();
    let errors = l2tp_wire::CallErrors {
        crc_errors: 3,
        ..Default::default()
    };
    s.lac
        .ep
        .wan_error_notify(s.l.now, s.lac_tid, lac_sid, errors)
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert!(matches!(
        &s.lac.take_events()[..],
        [Event::SetLinkInfo { session, receive_accm: 0x000a_0000, .. }] if *session == lac_sid
    ));
    assert!(matches!(
        &s.lns.take_events()[..],
        [Event::WanErrorNotify { session, crc_errors: 3, .. }] if *session == lns_sid
    ));
}

#[test]
fn a_malformed_cdn_clears_its_call_not_the_tunnel() {
    // A CDN whose Result Code AVP is 1 octet long (7 bytes: too short even for the result)
    // cannot be decoded. It concerns one call: that call goes down (with a CDN of ours), the
    // tunnel and its other calls stay.
    let now = Instant::now();
    let mut lns = Peer::new(lns_addr(), raw_config("lns"), 5);
    let mut raw = Raw::new("127.0.0.9:1701".parse().unwrap());
    let (tid, sid) = raw_call(now, &mut raw, &mut lns, iccn());
    lns.take_events();
    let mut body = Vec::new();
    // Message Type = CDN (14), mandatory.
    body.extend_from_slice(&[0x80, 0x08, 0, 0, 0, 0, 0, 14]);
    // Result Code (type 1), mandatory, length 7: one octet of value.
    body.extend_from_slice(&[0x80, 0x07, 0, 0, 0, 1, 3]);
    // Assigned Session ID (type 14) = 61, the peer's id for this call.
    body.extend_from_slice(&[0x80, 0x08, 0, 0, 0, 14, 0, 61]);
    raw.send_body(now, &mut lns, sid, body);
    raw.recv(now, &mut lns);
    let downs = session_down(&lns.take_events());
    assert!(
        matches!(&downs[..], [(s, SessionDownReason::Protocol(_))] if *s == sid),
        "{downs:?}"
    );
    assert_eq!(
        lns.ep.tunnel_info(tid).unwrap().state,
        l2tp_proto::control::TunnelStateKind::Established
    );
}

/// A LAC reports a call up (and so starts PPP on it) only once its ICCN is on the wire. With
/// the peer's window full, an ICCN can wait behind other calls' ICRQs; PPP frames sent
/// meanwhile would reach an LNS that does not know the session yet.
#[test]
fn lac_reports_a_call_up_only_once_its_iccn_has_left() {
    use std::collections::VecDeque;
    let lns_cfg = EndpointConfig {
        receive_window: 1,
        ..quiet_config("lns")
    };
    let mut s = setup(quiet_config("lac"), lns_cfg);
    for _ in 0..3 {
        s.lac
            .ep
            .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
            .unwrap();
    }
    // Datagrams the LAC has handed out, in order; ICCNs are counted when handed out.
    let mut from_lac = VecDeque::new();
    let (mut iccns_out, mut ups, mut up_while_calls_wait) = (0, 0, false);
    for _ in 0..1_000 {
        while let Some(t) = s.lac.ep.poll_transmit() {
            iccns_out += usize::from(message_name(&t.payload) == "ICCN");
            from_lac.push_back(t);
        }
        ups += session_up(&s.lac.take_events()).len();
        assert!(
            ups <= iccns_out,
            "{ups} calls reported up, {iccns_out} ICCNs handed out"
        );
        up_while_calls_wait |= ups > 0 && ups < 3;
        if ups == 3 {
            break;
        }
        // One datagram at a time each way.
        let mut moved = false;
        if let Some(t) = from_lac.pop_front() {
            moved = true;
            s.lns.ep.handle_datagram(s.l.now, t.to, t.local, &t.payload);
        }
        if let Some(t) = s.lns.ep.poll_transmit() {
            moved = true;
            s.lac.ep.handle_datagram(s.l.now, t.to, t.local, &t.payload);
        }
        if !moved {
            // Delayed acknowledgements.
            s.l.now += Duration::from_millis(200);
            s.lac.ep.handle_timeout(s.l.now);
            s.lns.ep.handle_timeout(s.l.now);
        }
    }
    assert_eq!(ups, 3, "every call comes up in the end");
    assert!(up_while_calls_wait);
    for t in from_lac {
        s.lns.ep.handle_datagram(s.l.now, t.to, t.local, &t.payload);
    }
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(session_up(&s.lns.take_events()).len(), 3);
}

#[test]
fn lac_sends_access_line_avps_in_icrq_and_the_lns_reads_them() {
    use l2tp_wire::access_line::AccessLine;
    let mut lns_cfg = quiet_config("lns");
    lns_cfg.decide_incoming_calls = true;
    let mut s = setup(quiet_config("lac"), lns_cfg);
    let line = AccessLine {
        agent_circuit_id: Some(b"olt-1 pon 0/2/7:12".to_vec()),
        agent_remote_id: Some(b"subscriber-77".to_vec()),
        actual_data_rate_upstream: Some(100_000_000),
        actual_data_rate_downstream: Some(1_000_000_000),
        other: vec![],
    };
    let params = CallParams {
        calling_number: Some("olt-1 pon 0/2/7:12".into()),
        access_line: Some(Box::new(line.clone())),
        ..CallParams::default()
    };
    s.lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, params)
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let ev = s.lns.take_events();
    let Some(Event::IncomingCall { session, info, .. }) = ev.first().cloned() else {
        panic!("{ev:?}")
    };
    assert_eq!(info.access_line, Some(line));
    // M = 0 vendor AVPs: the call goes on.
    s.lns.ep.accept_call(s.l.now, s.lns_tid, session).unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    assert_eq!(session_up(&s.lns.take_events()).len(), 1);

    // Without access-line AVPs the field stays empty.
    s.lac
        .ep
        .place_incoming_call(s.l.now, s.lac_tid, CallParams::default())
        .unwrap();
    s.l.exchange(&mut s.lac, &mut s.lns);
    let ev = s.lns.take_events();
    let Some(Event::IncomingCall { info, .. }) = ev.first().cloned() else {
        panic!("{ev:?}")
    };
    assert_eq!(info.access_line, None);
}
