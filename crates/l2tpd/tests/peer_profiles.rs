//! Per-peer profiles (`[[peer]]`) on one LNS, in virtual time: Windows-like clients with no
//! tunnel secret and a LAC with one share the LNS. The LAC, named by its Host Name, must
//! authenticate its tunnel with its secret and see the Host Name its profile gives the LNS;
//! a client matching no profile is admitted without a secret; a peer that claims the LAC's
//! Host Name, or comes from a prefix whose profile demands a secret, without knowing it, is
//! refused.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::{PeerAuth, TunnelStateKind};
use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tpd::config::profiles::PeerProfile;
use l2tpd::core::DialPeer;
use support::sim::{
    client_config, client_core_from, lns_config, lns_core_from, up_sessions, SimCore, LNS_ADDR,
};

const LAC_SECRET: &str = "lac-tunnel-secret";

/// The LNS: no tunnel secret by default (Windows clients have none); the LAC, known by its
/// Host Name, must use `LAC_SECRET`, sees us as `lns-for-lac` with a Receive Window Size of
/// 5, and gets a HELLO after 3 s of silence; 198.51.100.0/24 must use the secret too.
fn lns(now: Instant) -> SimCore {
    let mut cfg = lns_config(1, None);
    let profiles = [
        PeerProfile {
            host_name: Some("lac-1".into()),
            secret: Some(LAC_SECRET.into()),
            our_host_name: Some("lns-for-lac".into()),
            receive_window: Some(5),
            hello_interval: Some(3),
            ..PeerProfile::default()
        },
        PeerProfile {
            address: Some("198.51.100.0/24".parse().unwrap()),
            secret: Some(LAC_SECRET.into()),
            ..PeerProfile::default()
        },
    ];
    cfg.endpoint.auth = PeerAuth::default();
    cfg.endpoint.peer_rules = profiles
        .iter()
        .map(|p| p.rule(&cfg.endpoint.auth))
        .collect();
    lns_core_from(cfg, now)
}

/// A client at `addr` naming itself `host_name`, with tunnel secret `secret` if any.
fn peer(addr: &str, host_name: &str, secret: Option<&str>, now: Instant) -> SimCore {
    let lns = DialPeer::Addr(LNS_ADDR.parse().unwrap());
    let listen: SocketAddr = addr.parse().unwrap();
    let mut cfg = client_config(7, 1, vec![lns], vec![listen]);
    cfg.endpoint.host_name = host_name.into();
    if let Some(s) = secret {
        cfg.endpoint.auth = PeerAuth {
            secret: Some(s.as_bytes().to_vec()),
            hide_avps: false,
            require_tunnel_auth: true,
        };
    }
    client_core_from(cfg, now)
}

/// Runs the LNS and `peers` for `limit` of virtual time (or until every peer is up).
fn run(h: &mut Harness, lns: &mut SimCore, peers: &mut [SimCore], limit: Duration) {
    run_until(h, lns, peers, limit, |p, now| {
        p.iter().all(|p| !up_sessions(p, now).is_empty())
    })
}

/// Runs the LNS and `peers` for `limit` of virtual time, or until `done`.
fn run_until(
    h: &mut Harness,
    lns: &mut SimCore,
    peers: &mut [SimCore],
    limit: Duration,
    done: impl Fn(&[SimCore], Instant) -> bool,
) {
    let deadline = h.now + limit;
    for _ in 0..100_000 {
        if done(peers, h.now) {
            return;
        }
        let mut nodes: Vec<&mut dyn Node> = vec![lns];
        for p in peers.iter_mut() {
            nodes.push(p);
        }
        if !h.step(&mut nodes, deadline) {
            return;
        }
    }
}

#[test]
fn windows_clients_without_a_secret_and_a_lac_with_one_share_the_lns() {
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(3, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns(t0);
    let mut ok = [
        peer("192.0.2.2:40000", "windows-pc", None, t0),
        peer("192.0.2.3:40001", "lac-1", Some(LAC_SECRET), t0),
    ];
    run(&mut h, &mut lns, &mut ok, Duration::from_secs(30));
    assert_eq!(
        up_sessions(&ok[0], h.now).len(),
        1,
        "the Windows-like client"
    );
    assert_eq!(up_sessions(&ok[1], h.now).len(), 1, "the LAC");
    // The LAC's tunnel was authenticated both ways with its secret (it demands our answer to
    // its Challenge), and it knows us by the profile's Host Name.
    let names: Vec<Vec<u8>> = ok[1]
        .core
        .endpoint()
        .tunnels()
        .map(|t| t.peer_host_name)
        .collect();
    assert_eq!(names, vec![b"lns-for-lac".to_vec()]);
    let windows_sees: Vec<Vec<u8>> = ok[0]
        .core
        .endpoint()
        .tunnels()
        .map(|t| t.peer_host_name)
        .collect();
    assert_eq!(windows_sees, vec![b"sim-lns".to_vec()]);
    // The Receive Window Size in the SCCRP to each: the profile's 5 to the LAC, the
    // configured 16 to the Windows-like client.
    let rws = |to: SocketAddr| {
        lns.wire
            .iter()
            .filter(|(_, dst, _)| *dst == to)
            .find_map(|(_, _, d)| {
                let dec = l2tp_wire::Header::decode(d).ok()?;
                match l2tp_wire::ControlMessage::decode(dec.payload, Some(LAC_SECRET.as_bytes())) {
                    Ok(l2tp_wire::ControlMessage::Sccrp(m)) => m.receive_window_size,
                    _ => None,
                }
            })
    };
    assert_eq!(rws(ok[1].addr), Some(5));
    assert_eq!(rws(ok[0].addr), Some(16));
    // Idle for a minute (data every 10 s: LCP echoes): the LAC's tunnel gets HELLOs in the
    // gaps, the Windows client's (60 s) none.
    let tx = |lns: &SimCore, peer: SocketAddr| {
        lns.core
            .endpoint()
            .tunnels()
            .find(|t| t.peer == peer)
            .map(|t| t.counters.tx_messages)
            .unwrap()
    };
    let before = (tx(&lns, ok[0].addr), tx(&lns, ok[1].addr));
    let until = h.now + Duration::from_secs(60);
    while h.now < until {
        let mut nodes: Vec<&mut dyn Node> = vec![&mut lns];
        for p in ok.iter_mut() {
            nodes.push(p);
        }
        if !h.step(&mut nodes, until) {
            break;
        }
    }
    let after = (tx(&lns, ok[0].addr), tx(&lns, ok[1].addr));
    assert_eq!(after.0, before.0, "no HELLO to the Windows-like client");
    assert!(
        after.1 >= before.1 + 5,
        "HELLOs to the LAC: {before:?} → {after:?}"
    );

    // Without the secret: one claims the LAC's Host Name, one comes from the prefix whose
    // profile demands the secret. Both are refused; nothing else is disturbed.
    let mut bad = [
        peer("192.0.2.4:40002", "lac-1", None, h.now),
        peer("198.51.100.9:40003", "windows-pc", None, h.now),
    ];
    run(&mut h, &mut lns, &mut bad, Duration::from_secs(20));
    for b in &bad {
        assert!(
            up_sessions(b, h.now).is_empty(),
            "admitted without the secret"
        );
    }
    // Each differs from the admitted Windows-like client only by its Host Name or its
    // address: the profile refused it (our SCCRP's Challenge, which it cannot answer).
    let now = h.now;
    for b in &mut bad {
        let Some(l2tp_mgmt::Response::Stats(st)) = b.manage(now, l2tp_mgmt::Request::Stats) else {
            panic!("no stats");
        };
        assert!(st.tunnel_auth_failures >= 1, "{}", st.tunnel_auth_failures);
        let addr = b.addr;
        let established = lns
            .core
            .endpoint()
            .tunnels()
            .filter(|t| t.peer == addr && t.state == TunnelStateKind::Established)
            .count();
        assert_eq!(established, 0);
    }
    assert_eq!(lns.core.sessions(h.now).len(), 2, "the first two stay up");
}

/// Limits per profile: the peers of 192.0.2.0/28 may have one tunnel and two sessions
/// between them; a peer outside it is not held by their limits.
#[test]
fn a_profile_limits_its_peers_tunnels_and_sessions_together() {
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(4, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut cfg = lns_config(2, None);
    cfg.endpoint.auth = PeerAuth::default();
    let profile = PeerProfile {
        address: Some("192.0.2.0/28".parse().unwrap()),
        max_tunnels: 1,
        max_sessions: 2,
        ..PeerProfile::default()
    };
    if let l2tpd::core::RoleSettings::Lns(l) = &mut cfg.role {
        l.peer_policies = vec![l2tpd::core::PeerPolicy {
            rule: profile.rule(&cfg.endpoint.auth),
            proxy: None,
            max_tunnels: profile.max_tunnels as usize,
            max_sessions: profile.max_sessions as usize,
        }];
    }
    let mut lns = lns_core_from(cfg, t0);
    let dial = |addr: &str, sessions: u32| {
        let lns = DialPeer::Addr(LNS_ADDR.parse().unwrap());
        client_core_from(
            client_config(9, sessions, vec![lns], vec![addr.parse().unwrap()]),
            t0,
        )
    };
    let mut peers = [dial("192.0.2.2:40000", 3), dial("198.51.100.9:40000", 3)];
    // The whole 20 s: a refused call may be placed again.
    run_until(
        &mut h,
        &mut lns,
        &mut peers,
        Duration::from_secs(20),
        |_, _| false,
    );
    assert_eq!(
        up_sessions(&peers[0], h.now).len(),
        2,
        "two of three in the profile"
    );
    assert_eq!(
        up_sessions(&peers[1], h.now).len(),
        3,
        "outside the profile: all three"
    );
    // A second peer of the profile: its tunnel is refused (one already).
    let mut second = [dial("192.0.2.5:40000", 1)];
    run_until(
        &mut h,
        &mut lns,
        &mut second,
        Duration::from_secs(10),
        |_, _| false,
    );
    assert!(up_sessions(&second[0], h.now).is_empty());
    let established = lns
        .core
        .endpoint()
        .tunnels()
        .filter(|t| t.peer == second[0].addr && t.state == TunnelStateKind::Established)
        .count();
    assert_eq!(established, 0);
    assert_eq!(lns.core.sessions(h.now).len(), 5);
}
