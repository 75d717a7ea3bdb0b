//! RFC 4951 failover against the real daemon over loopback UDP, without root: an LNS with
//! its default configuration (failover offered) and a scripted LAC that offers failover,
//! places two calls, then acts as a failing endpoint: it opens a recovery tunnel naming the
//! old one from a new socket, carries on on the old tunnel at the daemon's Suggested Control
//! Sequence, and asks with a Failover Session Query about one call the daemon has and one it
//! does not. The daemon answers each as RFC 4951 §6 says, keeps both calls, and shows what
//! happened in `l2tpctl tunnels` and `l2tpctl stats`.

mod support;
use support::{iccn, request, start_lns, ScriptedPeer, TempDir};

use std::time::Duration;

use l2tp_mgmt::{Request, Response};
use l2tp_wire::{
    ControlMessage, FailoverAvp, FailoverCapability, FailoverSessionState, Fsq, Fsr, SessionId,
    SuggestedControlSequence, TunnelRecovery,
};

const CAP: FailoverCapability = FailoverCapability {
    control: true,
    data: false,
    recovery_time_ms: 20_000,
};

/// An SCCRQ of a LAC offering failover, with `more` AVPs.
fn sccrq(tid: u16, more: Vec<l2tp_wire::UnknownAvp>) -> ControlMessage {
    let mut rq = l2tp_wire::testdata::windows_sccrq();
    rq.assigned_tunnel_id = l2tp_wire::TunnelId(tid);
    rq.unknown.push(CAP.to_avp());
    rq.unknown.extend(more);
    ControlMessage::Sccrq(rq)
}

/// The next control message that is not a HELLO (acknowledging what came).
fn next(peer: &mut ScriptedPeer) -> Option<ControlMessage> {
    for _ in 0..10 {
        let m = peer.recv(Duration::from_secs(5))?;
        peer.zlb();
        if !matches!(m, ControlMessage::Hello(_)) {
            return Some(m);
        }
    }
    None
}

/// Places a call; the daemon's session id.
fn call(peer: &mut ScriptedPeer, sid: u16) -> u16 {
    let icrq = l2tp_wire::Icrq {
        assigned_session_id: SessionId(sid),
        call_serial_number: u32::from(sid),
        bearer_type: None,
        physical_channel_id: None,
        calling_number: None,
        called_number: None,
        sub_address: None,
        unknown: vec![],
    };
    peer.send(0, &icrq.into());
    let Some(ControlMessage::Icrp(rp)) = next(peer) else {
        panic!("no ICRP");
    };
    let lns_sid = rp.assigned_session_id.0;
    peer.send(lns_sid, &iccn().into());
    lns_sid
}

#[test]
fn the_daemon_answers_a_failing_lacs_recovery_and_session_query() {
    let dir = TempDir::new("failover-lo");
    let (lns, server, sock) = start_lns(&dir.0, "");
    let mut lac = ScriptedPeer::new(server);
    let Some(ControlMessage::Sccrp(rp)) = ({
        let first = sccrq(5, vec![]);
        lac.send(0, &first);
        lac.recv(Duration::from_secs(5))
    }) else {
        panic!("no SCCRP\n{}", lns.log_tail());
    };
    // The daemon offers failover in its SCCRP, by default.
    let offer = FailoverCapability::find(&rp.unknown).expect("Failover Capability in the SCCRP");
    assert!(offer.expect("well-formed").control);
    lac.peer_tid = rp.assigned_tunnel_id.0;
    lac.send(
        0,
        &l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        }
        .into(),
    );
    let s1 = call(&mut lac, 7);
    let s2 = call(&mut lac, 8);
    std::thread::sleep(Duration::from_millis(300));
    lac.zlb();
    let Response::Tunnels(ts) = request(&sock, Request::ListTunnels) else {
        panic!("no tunnel list");
    };
    assert_eq!(ts.len(), 1, "{ts:?}");
    let f = ts[0].failover;
    assert!(f.peer_offered && f.peer_control && f.recoverable, "{f:?}");
    assert_eq!(f.peer_recovery_time_ms, 20_000);
    assert_eq!(ts[0].sessions, 2);
    let (ns, nr) = lac.seq();

    // The LAC "fails": a recovery tunnel from another socket names the old tunnel.
    let mut rescue = ScriptedPeer::new(server);
    let recovery = TunnelRecovery {
        recover_tunnel_id: l2tp_wire::TunnelId(5),
        recover_remote_tunnel_id: l2tp_wire::TunnelId(lac.peer_tid),
    };
    rescue.send(0, &sccrq(6, vec![recovery.to_avp()]));
    let Some(ControlMessage::Sccrp(rp)) = rescue.recv(Duration::from_secs(5)) else {
        panic!("no SCCRP to the recovery SCCRQ\n{}", lns.log_tail());
    };
    let s = SuggestedControlSequence::find(&rp.unknown)
        .expect("a Suggested Control Sequence")
        .expect("well-formed");
    // What the daemon expects next from the old tunnel, and its own next (all acknowledged).
    assert_eq!((s.ns.0, s.nr.0), (ns, nr));
    rescue.peer_tid = rp.assigned_tunnel_id.0;
    rescue.send(
        0,
        &l2tp_wire::Scccn {
            challenge_response: None,
            unknown: vec![],
        }
        .into(),
    );
    rescue.send(
        0,
        &l2tp_wire::StopCcn {
            assigned_tunnel_id: l2tp_wire::TunnelId(6),
            result_code: l2tp_wire::result::ResultCode::new(1),
            unknown: vec![],
        }
        .into(),
    );

    // On the old tunnel, at the suggested sequence: which of our calls does it still have?
    lac.resume_at(s.ns.0, s.nr.0);
    let fsq = Fsq {
        sessions: vec![
            FailoverSessionState {
                session_id: SessionId(7),
                remote_session_id: SessionId(s1),
            },
            FailoverSessionState {
                session_id: SessionId(9),
                remote_session_id: SessionId(s2 ^ 0x5555),
            },
        ],
    };
    lac.send(0, &fsq.to_message());
    let answer = (0..10)
        .find_map(|_| {
            let m = next(&mut lac)?;
            Fsr::from_message(&m).ok()
        })
        .unwrap_or_else(|| panic!("no FSR\n{}", lns.log_tail()));
    assert_eq!(
        answer.sessions,
        vec![
            FailoverSessionState {
                session_id: SessionId(s1),
                remote_session_id: SessionId(7),
            },
            FailoverSessionState {
                session_id: SessionId(0),
                remote_session_id: SessionId(9),
            },
        ]
    );

    // Both calls are still there; the tunnel counts one recovery and one query.
    let Response::Tunnels(ts) = request(&sock, Request::ListTunnels) else {
        panic!("no tunnel list");
    };
    let old = ts
        .iter()
        .find(|t| t.local_id == lac.peer_tid)
        .expect("the old tunnel");
    assert_eq!(old.sessions, 2, "{ts:?}");
    assert_eq!(
        (old.failover.recoveries, old.failover.session_queries),
        (1, 1)
    );
    let Response::Stats(st) = request(&sock, Request::Stats) else {
        panic!("no stats");
    };
    let f = st.failover.expect("failover stats");
    assert_eq!(f.recoveries_answered, 1, "{f:?}");
    assert_eq!(f.session_queries_answered, 1, "{f:?}");
    assert!(
        f.tunnels.is_empty(),
        "we recovered nothing ourselves: {f:?}"
    );
}
