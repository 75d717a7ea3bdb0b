//! Simulation: the network between LAC and LNS goes dark. With the defaults a message is
//! retransmitted 1, 3, 7, 15 and 23 s after it was first sent and given up at 31 s, so an
//! outage shorter than 23 s is survived by every message (its last retransmission gets
//! through) and work placed during it completes; a long one makes both sides clear the tunnel
//! with `RetriesExhausted`. The network duplicates, reorders and jitters but does not lose
//! packets at random, so the outcome depends only on the outage.
//!
//! Replay one seed: `L2TP_SIM_SEED=1234 cargo test -p l2tp-proto --test sim_blackhole`.

mod control_support;

use std::time::{Duration, Instant};

use control_support::*;
use l2tp_proto::control::{
    CallParams, EndpointConfig, Event, SessionDownReason, TunnelDownReason, TunnelOptions,
};
use l2tp_sim::{seeds, Harness, NetConfig, Network, Node};
use l2tp_wire::TunnelId;

const SEEDS: &[u64] = &[11, 12, 13];

fn config(host: &str) -> EndpointConfig {
    EndpointConfig {
        host_name: host.into(),
        hello_interval: Some(Duration::from_secs(10)),
        ..EndpointConfig::default()
    }
}

struct World {
    lac: Peer,
    lns: Peer,
    h: Harness,
    tid: TunnelId,
    start: Instant,
}

impl World {
    fn new(seed: u64, sessions: usize) -> Self {
        let start = Instant::now();
        let mut lac = Peer::new(lac_addr(), config("lac"), seed);
        let lns = Peer::new(lns_addr(), config("lns"), seed + 1000);
        let net = Network::new(seed, NetConfig::lossy(0.0));
        let h = Harness::new(net, start);
        let tid = lac
            .ep
            .open_tunnel(start, lac_addr(), lns_addr(), TunnelOptions::default())
            .unwrap();
        for _ in 0..sessions {
            lac.ep
                .place_incoming_call(start, tid, CallParams::default())
                .unwrap();
        }
        let mut w = World {
            lac,
            lns,
            h,
            tid,
            start,
        };
        w.run_to(Duration::from_secs(30));
        w
    }

    fn run_to(&mut self, at: Duration) {
        let deadline = self.start + at;
        self.h.run_until(
            &mut [&mut self.lac as &mut dyn Node, &mut self.lns],
            deadline,
            1_000_000,
            |_| false,
        );
    }

    fn count(p: &Peer, f: impl Fn(&Event) -> bool) -> usize {
        p.events.iter().filter(|e| f(e)).count()
    }
}

fn ups(p: &Peer) -> usize {
    World::count(p, |e| matches!(e, Event::SessionUp { .. }))
}

#[test]
fn blackhole_shorter_than_the_retry_budget_is_survived() {
    for seed in seeds(SEEDS) {
        let mut w = World::new(seed, 20);
        assert_eq!((ups(&w.lac), ups(&w.lns)), (20, 20), "seed {seed}");
        // 20 s of darkness; calls placed in the middle.
        let from = w.start + Duration::from_secs(35);
        w.h.net.blackhole(from, from + Duration::from_secs(20));
        w.run_to(Duration::from_secs(45));
        for _ in 0..5 {
            w.lac
                .ep
                .place_incoming_call(w.h.now, w.tid, CallParams::default())
                .unwrap();
        }
        w.run_to(Duration::from_secs(300));
        let downs = |p: &Peer| {
            World::count(p, |e| {
                matches!(e, Event::TunnelDown { .. } | Event::SessionDown { .. })
            })
        };
        assert_eq!(downs(&w.lac) + downs(&w.lns), 0, "seed {seed}");
        assert!(
            w.h.net.stats().blackholed > 0,
            "seed {seed}: the blackhole bit"
        );
        assert_eq!((ups(&w.lac), ups(&w.lns)), (25, 25), "seed {seed}");
        let c = w.lac.ep.tunnel_info(w.tid).unwrap().counters;
        assert!(c.tx_retransmits > 0);
    }
}

#[test]
fn blackhole_longer_than_the_retry_budget_clears_both_sides() {
    for seed in seeds(SEEDS) {
        let mut w = World::new(seed, 20);
        let lns_tid = w.lac.ep.tunnel_info(w.tid).unwrap().peer_tunnel;
        let from = w.start + Duration::from_secs(35);
        w.h.net.blackhole(from, from + Duration::from_secs(600));
        w.run_to(Duration::from_secs(400));
        for (name, p, tid) in [("LAC", &w.lac, w.tid), ("LNS", &w.lns, lns_tid)] {
            let reasons: Vec<_> = p
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::TunnelDown { tunnel, reason } => Some((*tunnel, reason.clone())),
                    _ => None,
                })
                .collect();
            assert_eq!(
                reasons,
                [(tid, TunnelDownReason::RetriesExhausted)],
                "{name} seed {seed}"
            );
            let sessions_down = World::count(p, |e| {
                matches!(
                    e,
                    Event::SessionDown {
                        reason: SessionDownReason::TunnelDown,
                        ..
                    }
                )
            });
            assert_eq!(sessions_down, 20, "{name} seed {seed}");
            assert_eq!(p.ep.tunnel_count(), 0, "{name} seed {seed}: state released");
        }
    }
}
