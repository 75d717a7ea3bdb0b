//! Simulation: calls in both directions (LAC incoming and LNS outgoing) set up and torn down
//! from both sides through a lossy, duplicating, reordering network, then the tunnel closed
//! with StopCCN; both sides end with nothing, and nothing is reported twice.
//!
//! Replay one seed: `L2TP_SIM_SEED=1234 cargo test -p l2tp-proto --test sim_teardown`.

mod control_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use control_support::*;
use l2tp_proto::control::{
    CallKind, CallParams, EndpointConfig, Event, SessionDownReason, TunnelDownReason, TunnelOptions,
};
use l2tp_sim::{seeds, Harness, NetConfig, Network, Node};
use l2tp_wire::{ResultCode, SessionId};

const SEEDS: &[u64] = &[21, 22, 23];

fn config(host: &str) -> EndpointConfig {
    EndpointConfig {
        host_name: host.into(),
        ..EndpointConfig::default()
    }
}

fn run_for(h: &mut Harness, lac: &mut Peer, lns: &mut Peer, d: Duration) {
    let deadline = h.now + d;
    h.run_until(
        &mut [lac as &mut dyn Node, lns],
        deadline,
        2_000_000,
        |_| false,
    );
}

fn up_sessions(p: &Peer, kind: CallKind) -> Vec<SessionId> {
    p.events
        .iter()
        .filter_map(|e| match e {
            Event::SessionUp {
                session, kind: k, ..
            } if *k == kind => Some(*session),
            _ => None,
        })
        .collect()
}

#[test]
fn calls_both_ways_torn_down_from_both_sides_then_stopccn() {
    for seed in seeds(SEEDS) {
        let start = Instant::now();
        let mut lac = Peer::new(lac_addr(), config("lac"), seed);
        let mut lns = Peer::new(lns_addr(), config("lns"), seed + 7);
        let mut h = Harness::new(Network::new(seed, NetConfig::lossy(0.10)), start);
        let tid = lac
            .ep
            .open_tunnel(start, lac_addr(), lns_addr(), TunnelOptions::default())
            .unwrap();
        for _ in 0..100 {
            lac.ep
                .place_incoming_call(start, tid, CallParams::default())
                .unwrap();
        }
        run_for(&mut h, &mut lac, &mut lns, Duration::from_secs(120));
        let lns_tid = lac.ep.tunnel_info(tid).unwrap().peer_tunnel;
        for _ in 0..100 {
            lns.ep
                .place_outgoing_call(h.now, lns_tid, CallParams::default())
                .unwrap();
        }
        run_for(&mut h, &mut lac, &mut lns, Duration::from_secs(120));
        let lac_in = up_sessions(&lac, CallKind::LacIncoming);
        let lac_out = up_sessions(&lac, CallKind::LacOutgoing);
        let lns_in = up_sessions(&lns, CallKind::LnsIncoming);
        let lns_out = up_sessions(&lns, CallKind::LnsOutgoing);
        assert_eq!(
            (lac_in.len(), lac_out.len(), lns_in.len(), lns_out.len()),
            (100, 100, 100, 100),
            "seed {seed}"
        );
        // The LAC hangs up its incoming calls, the LNS its outgoing ones, at the same time.
        let rc = ResultCode::new(ResultCode::CDN_ADMINISTRATIVE);
        for s in &lac_in {
            lac.ep.close_session(h.now, tid, *s, rc.clone()).unwrap();
        }
        for s in &lns_out {
            lns.ep
                .close_session(h.now, lns_tid, *s, rc.clone())
                .unwrap();
        }
        run_for(&mut h, &mut lac, &mut lns, Duration::from_secs(120));
        assert_eq!(lac.ep.sessions(tid).count(), 0, "seed {seed}");
        assert_eq!(lns.ep.sessions(lns_tid).count(), 0, "seed {seed}");
        // Every session went down exactly once on each side: locally or by the peer's CDN.
        for (name, p, n) in [("LAC", &lac, 200), ("LNS", &lns, 200)] {
            let downs: Vec<_> = p
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::SessionDown {
                        session, reason, ..
                    } => Some((*session, reason.clone())),
                    _ => None,
                })
                .collect();
            assert_eq!(downs.len(), n, "{name} seed {seed}");
            let unique: HashSet<_> = downs.iter().map(|d| d.0).collect();
            assert_eq!(unique.len(), n, "{name} seed {seed}: reported twice");
            assert!(downs.iter().all(|(_, r)| matches!(
                r,
                SessionDownReason::Local(_) | SessionDownReason::Peer { .. }
            )));
        }
        // Then the tunnel.
        lac.ep
            .close_tunnel(
                h.now,
                tid,
                ResultCode::new(ResultCode::STOPCCN_GENERAL_REQUEST),
            )
            .unwrap();
        run_for(&mut h, &mut lac, &mut lns, Duration::from_secs(120));
        let reasons = |p: &Peer| -> Vec<TunnelDownReason> {
            p.events
                .iter()
                .filter_map(|e| match e {
                    Event::TunnelDown { reason, .. } => Some(reason.clone()),
                    _ => None,
                })
                .collect()
        };
        assert!(
            matches!(&reasons(&lac)[..], [TunnelDownReason::Local(_)]),
            "seed {seed}"
        );
        assert!(
            matches!(&reasons(&lns)[..], [TunnelDownReason::Peer(_)]),
            "seed {seed}"
        );
        // The closing hold is over: both forgot the tunnel.
        assert_eq!(
            lac.ep.tunnel_count() + lns.ep.tunnel_count(),
            0,
            "seed {seed}"
        );
    }
}
