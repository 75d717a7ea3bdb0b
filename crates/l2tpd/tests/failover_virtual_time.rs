//! RFC 4951 failover between daemon cores in virtual time, over a lossy network (5 % loss,
//! duplicates, reordering), four seeds. One side is snapshotted, the two sides exchange more
//! control messages, and that side is replaced by a fresh core restored from the now stale
//! snapshot, as after a failure that lost its latest control state. The restored side runs
//! `Core::recover_restored_tunnels`: it recovers its tunnel from the peer (recovery tunnel,
//! Suggested Control Sequence), carries on at exactly the suggested Ns/Nr, keeps its sessions
//! and their data without StopCCN, CDN or LCP renegotiation, and clears a session the peer
//! no longer has through the Failover Session Query/Response. A peer that did not offer
//! failover is never sent a recovery tunnel.

mod support;
use support::sim::{
    client_config, client_core_from, is_teardown, lns_config, lns_core_from, ping_each_way,
    run_until, up_sessions, SimCore, LNS_ADDR,
};

use std::time::{Duration, Instant};

use l2tp_sim::{seeds, Harness, NetConfig, Network};
use l2tp_wire::{
    ControlMessage, FailoverAvp, FailoverCapability, Packet, SuggestedControlSequence, TunnelId,
    TunnelRecovery,
};
use l2tpd::core::{DialPeer, Input, NodeConfig};

const SEEDS: &[u64] = &[41, 42, 43, 44];

fn cap() -> Option<FailoverCapability> {
    Some(FailoverCapability {
        control: true,
        data: false,
        recovery_time_ms: 30_000,
    })
}

/// Quiet links (no LCP echo) so that the tunnels fall silent and send HELLOs: control
/// messages the stale snapshot misses.
fn quiet(mut cfg: NodeConfig, failover: bool) -> NodeConfig {
    cfg.ppp_echo_interval = None;
    cfg.endpoint.failover = if failover { cap() } else { None };
    cfg
}

fn lns_cfg(seed: u64, failover: bool) -> NodeConfig {
    quiet(lns_config(seed, None), failover)
}

fn client_cfg(seed: u64, failover: bool) -> NodeConfig {
    let lns = DialPeer::Addr(LNS_ADDR.parse().unwrap());
    let listen = vec![support::sim::CLIENT_ADDR.parse().unwrap()];
    let mut cfg = quiet(client_config(seed, 2, vec![lns], listen), failover);
    if let l2tpd::core::RoleSettings::Client(c) = &mut cfg.role {
        // A call the LNS clears is dialled again only after the stale snapshot is restored
        // (a call set up after it would be one the restored state never heard of).
        c.redial_initial = Duration::from_secs(20);
        c.redial_max = Duration::from_secs(20);
    }
    cfg
}

/// Tunnel and two calls up.
fn up(seed: u64, lns_fo: bool, client_fo: bool) -> (Harness, SimCore, SimCore) {
    let t0 = Instant::now();
    let mut h = Harness::new(Network::new(seed, NetConfig::lossy(0.05)), t0);
    let mut lns = lns_core_from(lns_cfg(seed, lns_fo), t0);
    let mut client = client_core_from(client_cfg(seed, client_fo), t0);
    client.input(t0, Input::Tick);
    let ok = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(300),
        |l, c, now| up_sessions(l, now).len() == 2 && up_sessions(c, now).len() == 2,
    );
    assert!(ok, "seed {seed}: sessions not up");
    (h, lns, client)
}

/// Control messages a node sent from wire index `from` on: (tunnel id in the header, Ns,
/// message); and (session id, LCP code) of the LCP packets it sent.
type Wire = (Vec<(u16, u16, ControlMessage)>, Vec<(u16, u8)>);

fn wire_since(node: &SimCore, from: usize) -> Wire {
    let mut control = Vec::new();
    let mut lcp = Vec::new();
    for (_, _, bytes) in &node.wire[from..] {
        match Packet::decode(bytes, None) {
            Ok(Packet::Control { header, message }) => control.push((
                header.tunnel_id.0,
                header.sequence.map_or(0, |s| s.ns.0),
                message,
            )),
            Ok(Packet::Data {
                header, payload, ..
            }) => {
                let p = payload.strip_prefix(&[0xff, 0x03]).unwrap_or(payload);
                if p.len() >= 3 && p[0] == 0xc0 && p[1] == 0x21 {
                    lcp.push((header.session_id.0, p[2]));
                }
            }
            _ => {}
        }
    }
    (control, lcp)
}

/// The Suggested Control Sequence the peer's SCCRP carried, if it sent one.
fn suggestion(w: &Wire) -> Option<SuggestedControlSequence> {
    w.0.iter().find_map(|(_, _, m)| match m {
        ControlMessage::Sccrp(s) => SuggestedControlSequence::find(&s.unknown).and_then(Result::ok),
        _ => None,
    })
}

/// The recovery SCCRQs a node sent (those with a Tunnel Recovery AVP).
fn recovery_sccrqs(w: &Wire) -> usize {
    w.0.iter()
        .filter(|(_, _, m)| {
            matches!(m, ControlMessage::Sccrq(s) if TunnelRecovery::find(&s.unknown).is_some())
        })
        .count()
}

/// Which side fails.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Lns,
    Client,
}

/// Replaces `side`'s core by a fresh one restored from `stale`, and runs the recovery;
/// the tunnels not taken.
fn restore_stale(
    side: Side,
    seed: u64,
    fo: bool,
    stale: &[u8],
    node: &mut SimCore,
    now: Instant,
) -> Vec<TunnelId> {
    let cfg = match side {
        Side::Lns => lns_cfg(seed ^ 0xdead, fo),
        Side::Client => client_cfg(seed ^ 0xbeef, fo),
    };
    let mut core = l2tpd::core::Core::new(cfg, node.addrs.clone(), now).unwrap();
    core.restore(stale, now).expect("restore");
    node.core = core;
    let left = node.core.recover_restored_tunnels(now);
    node.input(now, Input::Tick);
    left
}

fn failover_stats(node: &mut SimCore, now: Instant) -> l2tp_mgmt::FailoverStats {
    match node.manage(now, l2tp_mgmt::Request::Stats) {
        Some(l2tp_mgmt::Response::Stats(s)) => *s.failover.expect("failover stats"),
        other => panic!("{other:?}"),
    }
}

/// (failing side, its peer).
fn pick<'a>(
    side: Side,
    lns: &'a mut SimCore,
    client: &'a mut SimCore,
) -> (&'a mut SimCore, &'a mut SimCore) {
    match side {
        Side::Lns => (lns, client),
        Side::Client => (client, lns),
    }
}

fn recover_after_stale_restore(side: Side) {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} {side:?} fails (replay: L2TP_SIM_SEED={seed})");
        let (mut h, mut lns, mut client) = up(seed, true, true);
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 1),
            "{ctx}: traffic"
        );
        let tid_l = lns.core.endpoint().tunnels().next().unwrap();
        assert!(tid_l.failover.recoverable, "{ctx}: both offered failover");
        let now = h.now;
        let stale = match side {
            Side::Lns => lns.core.snapshot(now),
            Side::Client => client.core.snapshot(now),
        }
        .expect("snapshot");
        // The tunnel falls silent: HELLOs (and their acknowledgements) the snapshot misses.
        let rx_before = |n: &SimCore| {
            n.core
                .endpoint()
                .tunnels()
                .next()
                .unwrap()
                .counters
                .rx_messages
        };
        let (rl, rc) = (rx_before(&lns), rx_before(&client));
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(150),
            |_, _, _| false,
        );
        assert!(
            rx_before(&lns) > rl || rx_before(&client) > rc,
            "{ctx}: no control message after the snapshot"
        );
        let keys_l = up_sessions(&lns, h.now);
        let keys_c = up_sessions(&client, h.now);
        let ups = (
            lns.core.counters().sessions_up_total,
            client.core.counters().sessions_up_total,
        );
        let (mark_l, mark_c) = (lns.wire.len(), client.wire.len());

        let now = h.now;
        let old = {
            let (failing, _) = pick(side, &mut lns, &mut client);
            let old = failing.core.endpoint().tunnels().next().unwrap().tunnel;
            let left = restore_stale(side, seed, true, &stale, failing, now);
            assert_eq!(left, vec![], "{ctx}: the tunnel is taken for recovery");
            old
        };

        let resumed = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |l, c, _| {
                let f = match side {
                    Side::Lns => l,
                    Side::Client => c,
                };
                f.core
                    .endpoint()
                    .tunnel_info(old)
                    .is_some_and(|t| t.failover.recoveries == 1)
            },
        );
        assert!(resumed, "{ctx}: not resumed");
        let resumed_after = h.now - now;
        let recovered = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |l, c, _| {
                let (f, p) = match side {
                    Side::Lns => (l, c),
                    Side::Client => (c, l),
                };
                f.core.endpoint().tunnel_count() == 1
                    && f.core
                        .endpoint()
                        .tunnel_info(old)
                        .is_some_and(|t| t.failover.recoveries == 1)
                    && p.core
                        .endpoint()
                        .tunnels()
                        .all(|t| t.failover.recovery_of.is_none())
            },
        );
        assert!(recovered, "{ctx}: not recovered");
        eprintln!(
            "failover: seed {seed}, {side:?} failed: old tunnel resumed {resumed_after:?} after \
             the restore, recovery tunnels gone on both sides after {:?} (virtual time)",
            h.now - now
        );
        {
            // A second call finds nothing left to recover.
            let now = h.now;
            let (failing, _) = pick(side, &mut lns, &mut client);
            assert_eq!(failing.core.recover_restored_tunnels(now), vec![], "{ctx}");
            assert_eq!(failing.core.endpoint().tunnel_count(), 1, "{ctx}");
        }
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 2),
            "{ctx}: traffic after"
        );
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(150),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 3),
            "{ctx}: traffic later"
        );

        assert_eq!(up_sessions(&lns, h.now), keys_l, "{ctx}: LNS sessions");
        assert_eq!(
            up_sessions(&client, h.now),
            keys_c,
            "{ctx}: client sessions"
        );
        assert_eq!(
            (
                lns.core.counters().sessions_up_total,
                client.core.counters().sessions_up_total
            ),
            ups,
            "{ctx}: no session came up again"
        );
        for n in [&lns, &client] {
            let t = n.core.endpoint().tunnels().next().unwrap();
            assert_eq!(n.core.endpoint().tunnel_count(), 1, "{ctx}");
            assert_eq!(t.sessions, 2, "{ctx}");
        }

        // Exactly the suggested sequence: the failing side's first message on the old
        // tunnel is at the Suggested Ns, the peer's first after the recovery at the
        // Suggested Nr, and the peer took the failing side's FSQ (in sequence, or it
        // would never have been delivered).
        let (wl, wc) = (wire_since(&lns, mark_l), wire_since(&client, mark_c));
        let (wf, wp) = match side {
            Side::Lns => (&wl, &wc),
            Side::Client => (&wc, &wl),
        };
        let (failing, peer) = pick(side, &mut lns, &mut client);
        let s = suggestion(wp).unwrap_or_else(|| panic!("{ctx}: no suggestion in {:?}", wp.0));
        let peer_old = peer.core.endpoint().tunnels().next().unwrap();
        let failing_old = failing.core.endpoint().tunnel_info(old).unwrap();
        let first = |w: &Wire, to: u16| {
            w.0.iter()
                .find(|(t, _, _)| *t == to)
                .map(|(_, ns, m)| (*ns, m.clone()))
        };
        let (ns, m) =
            first(wf, failing_old.peer_tunnel.0).expect("failing side sent on the old tunnel");
        assert_eq!(ns, s.ns.0, "{ctx}: first message {m:?}");
        let (ns, m) = first(wp, peer_old.peer_tunnel.0).expect("peer sent on the old tunnel");
        assert_eq!(ns, s.nr.0, "{ctx}: peer's first message {m:?}");
        assert_eq!(
            peer_old.failover.session_queries, 1,
            "{ctx}: FSQ taken: failing {:?}\npeer {:?}",
            wf.0, wp.0
        );
        assert_eq!(peer_old.failover.recoveries, 1, "{ctx}");

        // No StopCCN or CDN on the old tunnel, no LCP renegotiation anywhere.
        for (who, w, to) in [
            ("failing side", wf, failing_old.peer_tunnel.0),
            ("peer", wp, peer_old.peer_tunnel.0),
        ] {
            assert!(
                !w.0.iter().any(|(t, _, m)| *t == to && is_teardown(m)),
                "{ctx}: {who} tore something down: {:?}",
                w.0
            );
            assert!(
                w.1.iter().all(|(_, c)| *c == 9 || *c == 10),
                "{ctx}: {who} LCP after the restore: {:?}",
                w.1
            );
        }
        // What was counted.
        let now = h.now;
        let fs = failover_stats(failing, now);
        assert_eq!(
            (fs.tunnels_recovered, fs.tunnels_lost, fs.sessions_cleared),
            (1, 0, 0),
            "{ctx}: {fs:?}"
        );
        assert_eq!(fs.tunnels[0].outcome, "recovered", "{ctx}");
        let ps = failover_stats(peer, now);
        assert_eq!(ps.recoveries_answered, 1, "{ctx}: {ps:?}");
        assert_eq!(ps.session_queries_answered, 1, "{ctx}: {ps:?}");
    }
}

#[test]
fn a_client_restored_from_a_stale_state_recovers_its_tunnel_from_the_lns() {
    recover_after_stale_restore(Side::Client);
}

#[test]
fn an_lns_restored_from_a_stale_state_recovers_its_tunnel_from_the_client() {
    recover_after_stale_restore(Side::Lns);
}

#[test]
fn a_session_the_peer_cleared_after_the_snapshot_is_cleared_by_the_fsr() {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} (replay: L2TP_SIM_SEED={seed})");
        let (mut h, mut lns, mut client) = up(seed, true, true);
        let now = h.now;
        let stale = client.core.snapshot(now).expect("snapshot");
        // After the snapshot the LNS clears one call (the client saw the CDN: its restored
        // state has not); the other is fine.
        let keys = up_sessions(&client, now);
        let (gone, kept) = (keys[0].0, keys[1].0);
        let lns_gone = lns
            .core
            .endpoint()
            .tunnels()
            .next()
            .map(|t| {
                lns.core
                    .endpoint()
                    .sessions(t.tunnel)
                    .find(|s| s.peer_session == gone.session)
                    .unwrap()
            })
            .unwrap();
        let r = lns.manage(
            now,
            l2tp_mgmt::Request::CloseSession {
                tunnel: lns_gone.tunnel.0,
                session: lns_gone.session.0,
            },
        );
        assert_eq!(r, Some(l2tp_mgmt::Response::Ok), "{ctx}");
        let cleared = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, c, now| {
                up_sessions(l, now).len() == 1
                    && up_sessions(c, now).len() == 1
                    && l.core.endpoint().tunnels().all(|t| t.sessions == 1)
            },
        );
        assert!(cleared, "{ctx}: call not cleared");
        // Acknowledged: the LNS has nothing outstanding, and will not send the CDN again.
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(5),
            |_, _, _| false,
        );
        let mark_c = client.wire.len();
        let now = h.now;
        let left = restore_stale(Side::Client, seed, true, &stale, &mut client, now);
        assert!(left.is_empty(), "{ctx}");
        // The stale state still has both calls, until the FSR.
        let ok = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |_, c, now| {
                !up_sessions(c, now).iter().any(|(k, _)| *k == gone)
                    && c.core
                        .endpoint()
                        .tunnel_info(gone.tunnel)
                        .is_some_and(|t| t.failover.recoveries == 1)
            },
        );
        assert!(ok, "{ctx}: the session in doubt was not cleared");
        assert!(
            up_sessions(&client, h.now).iter().any(|(k, _)| *k == kept),
            "{ctx}: the other call stays"
        );
        assert!(
            client
                .core
                .endpoint()
                .session_info(gone.tunnel, gone.session)
                .is_none(),
            "{ctx}"
        );
        let now = h.now;
        let fs = failover_stats(&mut client, now);
        assert_eq!(fs.sessions_cleared, 1, "{ctx}: {fs:?}");
        // Cleared by the answer, not by a CDN of ours.
        let wc = wire_since(&client, mark_c);
        let lns_tid = client
            .core
            .endpoint()
            .tunnel_info(gone.tunnel)
            .unwrap()
            .peer_tunnel
            .0;
        assert!(
            !wc.0.iter().any(|(t, _, m)| *t == lns_tid && is_teardown(m)),
            "{ctx}: {:?}",
            wc.0
        );
        // Data headers carry the receiver's session id: the LNS's for the kept call.
        let kept_at_lns = client
            .core
            .endpoint()
            .session_info(kept.tunnel, kept.session)
            .unwrap()
            .peer_session
            .0;
        assert!(
            wc.1.iter()
                .all(|(s, c)| *s != kept_at_lns || *c == 9 || *c == 10),
            "{ctx}: the kept call renegotiated LCP: {:?}",
            wc.1
        );
        // The kept call carries data; the client dials its second call again.
        let back = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(120),
            |l, c, now| up_sessions(l, now).len() == 2 && up_sessions(c, now).len() == 2,
        );
        assert!(
            back,
            "{ctx}: the second call was not dialled again: {:?} {:?} {:?} {:?}",
            up_sessions(&lns, h.now),
            up_sessions(&client, h.now),
            lns.core
                .sessions(h.now)
                .iter()
                .map(|s| (s.key, s.phase))
                .collect::<Vec<_>>(),
            client
                .core
                .sessions(h.now)
                .iter()
                .map(|s| (s.key, s.phase))
                .collect::<Vec<_>>(),
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 7),
            "{ctx}: traffic"
        );
    }
}

#[test]
fn a_peer_without_failover_is_never_sent_a_recovery_tunnel() {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} (replay: L2TP_SIM_SEED={seed})");
        // The client offers failover, the LNS does not.
        let (mut h, mut lns, mut client) = up(seed, false, true);
        let t = client.core.endpoint().tunnels().next().unwrap();
        assert_eq!(t.failover.peer, None, "{ctx}");
        assert!(!t.failover.recoverable, "{ctx}");
        let now = h.now;
        let stale = client.core.snapshot(now).expect("snapshot");
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |_, _, _| false,
        );
        let mark = client.wire.len();
        let now = h.now;
        let left = restore_stale(Side::Client, seed, true, &stale, &mut client, now);
        assert_eq!(left, vec![t.tunnel], "{ctx}: handed back for another probe");
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |_, _, _| false,
        );
        let w = wire_since(&client, mark);
        assert_eq!(recovery_sccrqs(&w), 0, "{ctx}: {:?}", w.0);
        assert!(
            !w.0.iter()
                .any(|(_, _, m)| matches!(m, ControlMessage::Sccrq(_))),
            "{ctx}"
        );
        let now = h.now;
        let fs = failover_stats(&mut client, now);
        assert!(fs.tunnels.is_empty(), "{ctx}: {fs:?}");
    }
}

#[test]
fn both_sides_offer_failover_in_their_sccrq_and_sccrp() {
    let (_h, lns, client) = up(45, true, true);
    let offered = |n: &SimCore| {
        wire_since(n, 0).0.iter().any(|(_, _, m)| match m {
            ControlMessage::Sccrq(s) => FailoverCapability::find(&s.unknown).is_some(),
            ControlMessage::Sccrp(s) => FailoverCapability::find(&s.unknown).is_some(),
            _ => false,
        })
    };
    assert!(offered(&client), "client SCCRQ");
    assert!(offered(&lns), "LNS SCCRP");
    for n in [&lns, &client] {
        let t = n.core.endpoint().tunnels().next().unwrap();
        assert_eq!(t.failover.peer, cap(), "the peer's offer is recorded");
    }
}

#[test]
fn a_call_whose_set_up_was_in_flight_in_the_stale_state_is_cleared_and_dialled_again() {
    use l2tp_proto::control::SessionStateKind;
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} (replay: L2TP_SIM_SEED={seed})");
        let (mut h, mut lns, mut client) = up(seed, true, true);
        // The client hangs one call up and dials it again (after its redial delay); the
        // LNS's state is taken while the new call waits for the client's ICCN.
        let keys = up_sessions(&client, h.now);
        let (gone, kept) = (keys[0].0, keys[1].0);
        let now = h.now;
        let r = client.manage(
            now,
            l2tp_mgmt::Request::HangUp {
                tunnel: Some(gone.tunnel.0),
                session: Some(gone.session.0),
            },
        );
        assert_eq!(r, Some(l2tp_mgmt::Response::Ok), "{ctx}");
        let in_flight = |l: &SimCore| {
            l.core.endpoint().tunnels().any(|t| {
                l.core
                    .endpoint()
                    .sessions(t.tunnel)
                    .any(|s| s.state == SessionStateKind::WaitConnect)
            })
        };
        let caught = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |l, _, _| in_flight(l),
        );
        assert!(caught, "{ctx}: the new call's set-up was not seen");
        let now = h.now;
        let stale = lns.core.snapshot(now).expect("snapshot");
        let lns_keys_stale: Vec<_> = up_sessions(&lns, now).iter().map(|(k, _)| *k).collect();
        let both = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |l, c, now| up_sessions(l, now).len() == 2 && up_sessions(c, now).len() == 2,
        );
        assert!(both, "{ctx}: the new call did not come up");
        let redialled = up_sessions(&client, h.now)
            .iter()
            .map(|(k, _)| *k)
            .find(|k| *k != kept)
            .unwrap();
        let mark_c = client.wire.len();

        let now = h.now;
        let left = restore_stale(Side::Lns, seed, true, &stale, &mut lns, now);
        assert!(left.is_empty(), "{ctx}");
        // The restored LNS has no PPP link for the call it was setting up: it clears it with
        // a CDN; the client dials it again; the call that was up all along stays.
        let cleared = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |_, c, now| !up_sessions(c, now).iter().any(|(k, _)| *k == redialled),
        );
        assert!(
            cleared,
            "{ctx}: the call in doubt was not cleared at the client"
        );
        let back = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(120),
            |l, c, now| up_sessions(l, now).len() == 2 && up_sessions(c, now).len() == 2,
        );
        assert!(back, "{ctx}: not dialled again");
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 9),
            "{ctx}: traffic"
        );
        assert!(
            up_sessions(&client, h.now).iter().any(|(k, _)| *k == kept),
            "{ctx}: the call that was up all along went"
        );
        for k in &lns_keys_stale {
            assert!(
                up_sessions(&lns, h.now).iter().any(|(l, _)| l == k),
                "{ctx}: the LNS lost {k:?}"
            );
        }
        let wc = wire_since(&client, mark_c);
        // Data headers carry the receiver's session id: the LNS's for the kept call.
        let kept_at_lns = client
            .core
            .endpoint()
            .session_info(kept.tunnel, kept.session)
            .unwrap()
            .peer_session
            .0;
        assert!(
            wc.1.iter()
                .all(|(s, c)| *s != kept_at_lns || *c == 9 || *c == 10),
            "{ctx}: the kept call renegotiated LCP: {:?}",
            wc.1
        );
        let now = h.now;
        let fs = failover_stats(&mut lns, now);
        assert_eq!(
            (fs.tunnels_recovered, fs.sessions_dropped),
            (1, 1),
            "{ctx}: {fs:?}"
        );
    }
}
