//! Crash recovery in virtual time: an LNS core keeps its crash journal (as the shell keeps
//! it in `daemon.state_dir`: a base and the records of each step, written before the step's
//! datagrams); it "dies" (its state gone, the client's datagrams unanswered for a few
//! seconds), and a fresh core replays the journal and resumes the tunnels with a HELLO.
//! The client sees nothing but the pause: no StopCCN, no CDN, no LCP renegotiation, data
//! flowing again — also when the journal is stale (Ns/Nr behind what was on the wire),
//! which the HELLO re-synchronises. And a journal that does not read is refused, whole.

mod support;
use support::sim::{
    client_config, client_core, client_core_from, is_teardown, lns_config, lns_core, lns_core_from,
    lns_core_with, ping_each_way, run_until, up_sessions, MemJournal, SimCore, CLIENT_ADDR,
    LNS_ADDR,
};

use std::time::{Duration, Instant};

use l2tp_sim::{seeds, Harness, NetConfig, Network};
use l2tp_wire::{ControlMessage, Packet};
use l2tpd::core::snapshot::{SnapshotError, VERSION};
use l2tpd::core::{DialPeer, Input, NodeConfig};

const SEEDS: &[u64] = &[41, 42, 43, 44];
/// How long the crashed LNS is away (its port answers nothing meanwhile).
const DOWN: Duration = Duration::from_secs(3);

/// "Quiet" links: no LCP echoes, a HELLO after 10 s without control traffic — so the
/// control channel's Ns and Nr move on while nothing else changes (a journal taken before
/// is stale in exactly that).
fn quiet(mut cfg: NodeConfig) -> NodeConfig {
    cfg.ppp_echo_interval = None;
    cfg.endpoint.hello_interval = Some(Duration::from_secs(10));
    cfg
}

fn lns_cfg(seed: u64, stale: bool) -> NodeConfig {
    let cfg = lns_config(seed, None);
    if stale {
        quiet(cfg)
    } else {
        cfg
    }
}

/// Tunnel and `sessions` calls up from `seed` over `net`, the LNS keeping a journal.
fn up(seed: u64, sessions: usize, net: NetConfig) -> (Harness, SimCore, SimCore) {
    up_with(seed, sessions, net, false)
}

fn up_with(seed: u64, sessions: usize, net: NetConfig, stale: bool) -> (Harness, SimCore, SimCore) {
    let t0 = Instant::now();
    let mut h = Harness::new(Network::new(seed, net), t0);
    let mut lns = lns_core_from(lns_cfg(seed, stale), t0);
    lns.start_journal(t0);
    let mut client = if stale {
        let peers = vec![DialPeer::Addr(LNS_ADDR.parse().unwrap())];
        let cfg = client_config(
            seed,
            sessions as u32,
            peers,
            vec![CLIENT_ADDR.parse().unwrap()],
        );
        client_core_from(quiet(cfg), t0)
    } else {
        client_core(seed, t0, sessions as u32)
    };
    client.input(t0, Input::Tick);
    let ok = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(300),
        |l, c, now| up_sessions(l, now).len() == sessions && up_sessions(c, now).len() == sessions,
    );
    assert!(ok, "seed {seed}: sessions not up");
    (h, lns, client)
}

/// Control messages (Ns, message) and LCP codes a node sent from wire index `from` on.
fn wire_since(node: &SimCore, from: usize) -> (Vec<(u16, ControlMessage)>, Vec<u8>) {
    let mut control = Vec::new();
    let mut lcp = Vec::new();
    for (_, _, bytes) in &node.wire[from..] {
        match Packet::decode(bytes, None) {
            Ok(Packet::Control { header, message }) => {
                control.push((header.sequence.map_or(0, |s| s.ns.0), message))
            }
            Ok(Packet::Data { payload, .. }) => {
                let p = payload.strip_prefix(&[0xff, 0x03]).unwrap_or(payload);
                if p.len() >= 3 && p[0] == 0xc0 && p[1] == 0x21 {
                    lcp.push(p[2]);
                }
            }
            _ => {}
        }
    }
    (control, lcp)
}

/// What an operator compares: tunnels (ids, peer, sessions, control counters) and sessions
/// (key, phase, user, addresses), and the pool.
fn state(node: &SimCore, now: Instant) -> String {
    let mut tunnels: Vec<String> = node
        .core
        .endpoint()
        .tunnels()
        .map(|t| {
            format!(
                "{} {} {} {:?} {} {:?}",
                t.tunnel, t.peer_tunnel, t.peer, t.state, t.sessions, t.counters
            )
        })
        .collect();
    tunnels.sort();
    let sessions: Vec<String> = node
        .core
        .sessions(now)
        .iter()
        .map(|s| {
            format!(
                "{} {:?} {:?} {:?} {}",
                s.key, s.phase, s.user, s.ipv4, s.ipv6_up
            )
        })
        .collect();
    format!(
        "{tunnels:#?}\n{sessions:#?}\npool {:?}",
        node.core.pool_usage()
    )
}

/// The LNS dies: for [`DOWN`] its address answers nothing (its socket is gone), then a fresh
/// core replays `journal` and resumes the restored tunnels (HELLO). With `resume` false the
/// restored tunnels are not probed (the honesty check of the re-synchronisation).
fn crash_and_restart(
    h: &mut Harness,
    lns: &mut SimCore,
    client: &mut SimCore,
    seed: u64,
    journal: &MemJournal,
    resume: bool,
    stale: bool,
) -> l2tpd::core::snapshot::Restored {
    // Down: a core with nothing, which drops what it does not know (like a closed port).
    let now = h.now;
    lns.core = lns_core(seed ^ 0xdead, now).core;
    lns.journal = None;
    run_until(h, lns, client, DOWN, |_, _, _| false);
    let now = h.now;
    let mut fresh = lns_core_from(lns_cfg(seed ^ 0xbeef, stale), now);
    fresh.start_journal(now);
    let restored = fresh
        .core
        .replay_journal(&journal.base, &journal.slices(), now)
        .expect("journal replays");
    lns.core = fresh.core;
    lns.journal = fresh.journal;
    let ids = lns.core.take_restored_tunnels();
    if resume {
        assert_eq!(lns.core.resume_restored(now, &ids), ids.len());
    }
    lns.input(now, Input::Tick);
    restored
}

/// Crash, restart on the journal, carry on: the client sees a pause and nothing else.
fn recover(stale: bool) {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} stale {stale} (replay: L2TP_SIM_SEED={seed})");
        let (mut h, mut lns, mut client) = up_with(seed, 2, NetConfig::lossy(0.05), stale);
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 1),
            "{ctx}: no traffic before"
        );
        // The journal as it was now; then life goes on (echoes, HELLOs both ways: Ns and Nr
        // move on both sides).
        let early = lns.journal.clone().expect("journal");
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(150),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 2),
            "{ctx}: no traffic before"
        );
        let journal = if stale {
            early
        } else {
            lns.journal.clone().expect("journal")
        };
        if !stale {
            // Replayed, the journal is the core: the same tunnels, sessions and leases.
            let mut replayed = lns_core(seed ^ 0x5eed, h.now);
            replayed
                .core
                .replay_journal(&journal.base, &journal.slices(), h.now)
                .expect("replay");
            assert_eq!(
                state(&replayed, h.now),
                state(&lns, h.now),
                "{ctx}: replay = core"
            );
        }
        let keys_lns = up_sessions(&lns, h.now);
        let keys_client = up_sessions(&client, h.now);
        let ups_client = client.core.counters().sessions_up_total;
        let pool = lns.core.pool_usage();
        let mark_c = client.wire.len();
        let mark_l = lns.wire.len();

        let restored =
            crash_and_restart(&mut h, &mut lns, &mut client, seed, &journal, true, stale);
        assert_eq!((restored.tunnels, restored.sessions), (1, 2), "{ctx}");

        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 3),
            "{ctx}: no traffic after"
        );
        // Across the HELLO's retransmission budget and more echoes and HELLOs.
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(150),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 4),
            "{ctx}: no traffic later"
        );

        assert_eq!(up_sessions(&lns, h.now), keys_lns, "{ctx}: LNS sessions");
        assert_eq!(
            up_sessions(&client, h.now),
            keys_client,
            "{ctx}: client sessions"
        );
        assert_eq!(lns.core.pool_usage(), pool, "{ctx}: leases recovered");
        assert_eq!(
            client.core.counters().sessions_up_total,
            ups_client,
            "{ctx}: the client's sessions never came up again"
        );
        let (after_l, lcp_l) = wire_since(&lns, mark_l);
        let (after_c, lcp_c) = wire_since(&client, mark_c);
        for (who, msgs) in [("LNS", &after_l), ("client", &after_c)] {
            assert!(
                !msgs.iter().any(|(_, m)| is_teardown(m)),
                "{ctx}: {who} sent a StopCCN/CDN: {msgs:?}"
            );
        }
        assert!(
            after_l
                .iter()
                .any(|(_, m)| matches!(m, ControlMessage::Hello(_))),
            "{ctx}: the restarted LNS probed its peer"
        );
        if stale {
            // The HELLOs moved Ns/Nr on after the journal was taken: it was stale.
            let hellos = |n: &SimCore| {
                wire_since(n, 0)
                    .0
                    .iter()
                    .filter(|(_, m)| matches!(m, ControlMessage::Hello(_)))
                    .count()
            };
            assert!(
                hellos(&client) >= 3 && hellos(&lns) >= 3,
                "{ctx}: HELLOs exchanged"
            );
        }
        for (who, codes) in [("LNS", &lcp_l), ("client", &lcp_c)] {
            assert!(
                codes.iter().all(|c| *c == 9 || *c == 10),
                "{ctx}: {who} LCP codes after the restart: {codes:?}"
            );
        }
        // The control channel works both ways: the client hangs one call up through it.
        let (gone, _) = keys_client[0];
        let now = h.now;
        let r = client.manage(
            now,
            l2tp_mgmt::Request::HangUp {
                tunnel: Some(gone.tunnel.0),
                session: Some(gone.session.0),
            },
        );
        assert_eq!(r, Some(l2tp_mgmt::Response::Ok), "{ctx}");
        let cleared = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |l, c, now| up_sessions(l, now).len() == 1 && up_sessions(c, now).len() == 1,
        );
        assert!(
            cleared,
            "{ctx}: the call was not cleared through the recovered tunnel"
        );
        assert_eq!(lns.core.endpoint().tunnel_count(), 1, "{ctx}");
        assert_eq!(client.core.endpoint().tunnel_count(), 1, "{ctx}");
        let u = lns
            .core
            .daemon_stats(h.now)
            .upgrade
            .expect("recovery stats");
        assert!(u.recovery, "{ctx}");
        assert_eq!((u.tunnels_resumed, u.tunnels_lost), (1, 0), "{ctx}");
        assert_eq!(u.tunnels[0].outcome, "recovered", "{ctx}");
        assert_eq!((u.recoveries, u.upgrades), (1, 0), "{ctx}");
        // An upgrade after the recovery: the recoveries counted go on with the state (a
        // counter never goes down), the upgrade is counted on top.
        let snap = lns.core.snapshot(h.now).expect("snapshot");
        let mut upgraded = lns_core_from(lns_cfg(seed ^ 0xf00d, stale), h.now);
        upgraded.core.restore(&snap, h.now).expect("restore");
        let u = upgraded
            .core
            .daemon_stats(h.now)
            .upgrade
            .expect("upgrade stats");
        assert!(!u.recovery, "{ctx}");
        assert_eq!((u.recoveries, u.upgrades), (1, 1), "{ctx}");
    }
}

#[test]
fn a_crashed_lns_restarted_on_its_journal_carries_on_and_the_client_sees_nothing() {
    recover(false);
}

#[test]
fn a_stale_journal_is_resynchronised_by_the_hello_and_the_client_sees_nothing() {
    recover(true);
}

/// Honesty: the same stale journal without the HELLO probe is not re-synchronised — the
/// LNS's next message carries an Ns the client has seen already, and the tunnel is lost.
#[test]
fn without_the_resynchronisation_a_stale_journal_loses_the_tunnel() {
    let seed = 41;
    let (mut h, mut lns, mut client) =
        up_with(seed, 1, NetConfig::perfect(Duration::from_millis(5)), true);
    let early = lns.journal.clone().expect("journal");
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(150),
        |_, _, _| false,
    );
    crash_and_restart(&mut h, &mut lns, &mut client, seed, &early, false, true);
    let lost = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(1200),
        |l, c, _| l.core.endpoint().tunnel_count() == 0 || c.core.endpoint().tunnel_count() == 0,
    );

    assert!(lost, "the unsynchronised tunnel did not survive");
}

/// A peer that gave up while the LNS was down: its tunnel is lost, cleared cleanly (no
/// half-restored session left), and counted as lost.
#[test]
fn a_tunnel_whose_peer_gave_up_is_cleared_and_counted_lost() {
    let seed = 45;
    let (mut h, mut lns, mut client) = up(seed, 2, NetConfig::perfect(Duration::from_millis(5)));
    let journal = lns.journal.clone().expect("journal");
    // The client forgets everything (it restarted too, without a journal).
    let now = h.now;
    client.core = client_core(seed ^ 0x1, now, 0).core;
    let restored = crash_and_restart(&mut h, &mut lns, &mut client, seed, &journal, true, false);
    assert_eq!(restored.tunnels, 1);
    let gone = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(120),
        |l, _, _| l.core.endpoint().tunnel_count() == 0,
    );
    assert!(gone, "the dead peer's tunnel was cleared");
    // Housekeeping (once a second) counts it.
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(2),
        |_, _, _| false,
    );
    assert!(lns.core.sessions(h.now).is_empty());
    assert_eq!(lns.core.pool_usage(), Some((11, 0)), "its leases returned");
    let u = lns
        .core
        .daemon_stats(h.now)
        .upgrade
        .expect("recovery stats");
    assert_eq!((u.tunnels_resumed, u.tunnels_lost), (0, 1), "{u:?}");
    assert_eq!((u.sessions_resumed, u.sessions_lost), (0, 2), "{u:?}");
    assert_eq!(u.tunnels[0].outcome, "lost");
}

/// A journal that does not read — a record cut short, a flipped byte, another format
/// version — is refused with a typed error and nothing of it is applied.
#[test]
fn a_damaged_journal_is_refused_whole_and_the_core_stays_clean() {
    let (mut h, mut lns, mut client) = up(46, 2, NetConfig::perfect(Duration::from_millis(5)));
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(30),
        |_, _, _| false,
    );
    let j = lns.journal.clone().expect("journal");
    assert!(!j.records.is_empty(), "records after the base");
    let now = h.now;
    let clean = |core: &SimCore| {
        assert_eq!(
            core.core.endpoint().tunnel_count(),
            0,
            "nothing half-restored"
        );
        assert!(core.core.sessions(now).is_empty(), "nothing half-restored");
        assert_eq!(core.core.pool_usage(), Some((11, 0)));
    };

    // A record cut short (the framing would drop a torn tail; a record that decodes short
    // is damage).
    let mut recs = j.records.clone();
    let last = recs.last_mut().unwrap();
    last.truncate(last.len() / 2);
    let slices: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    let mut fresh = lns_core(99, now);
    let e = fresh
        .core
        .replay_journal(&j.base, &slices, now)
        .expect_err("refused");
    assert!(matches!(e, SnapshotError::Decode(_)), "{e:?}");
    clean(&fresh);

    // A base with a flipped byte.
    let mut base = j.base.clone();
    let mid = base.len() / 2;
    base[mid] ^= 0x10;
    let mut fresh = lns_core(99, now);
    let e = fresh
        .core
        .replay_journal(&base, &j.slices(), now)
        .expect_err("refused");
    assert_eq!(e, SnapshotError::Checksum);
    clean(&fresh);

    // Another format version.
    let mut base = j.base.clone();
    base[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    let mut fresh = lns_core(99, now);
    let e = fresh
        .core
        .replay_journal(&base, &j.slices(), now)
        .expect_err("refused");
    assert!(matches!(e, SnapshotError::Version { .. }), "{e:?}");
    clean(&fresh);

    // The intact journal replays.
    let mut fresh = lns_core(99, now);
    let r = fresh
        .core
        .replay_journal(&j.base, &j.slices(), now)
        .expect("replays");
    assert_eq!((r.tunnels, r.sessions), (1, 2));
}

/// The journal's cost stays bounded: records are per changed tunnel or session, and the
/// log is folded into a new base once it outgrows the old one.
#[test]
fn the_journal_is_compacted_as_it_grows() {
    let (mut h, mut lns, mut client) = up(47, 4, NetConfig::perfect(Duration::from_millis(5)));
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(600),
        |_, _, _| false,
    );
    let j = lns.journal.as_ref().expect("journal");
    assert!(j.compactions > 0, "compacted");
    let logged: usize = j.records.iter().map(|r| r.len() + 8).sum();
    assert!(logged <= j.base.len(), "{logged} > {}", j.base.len());
    let mut fresh = lns_core(98, h.now);
    let r = fresh
        .core
        .replay_journal(&j.base, &j.slices(), h.now)
        .expect("replays");
    assert_eq!((r.tunnels, r.sessions), (1, 4));
}

/// With RADIUS accounting: the restarted LNS sends no new Start for what it recovered, and
/// a recovered session whose peer gave up ends with its Stop (same Acct-Session-Id).
#[test]
fn a_recovered_session_whose_peer_gave_up_gets_its_radius_stop() {
    use l2tp_radius::acct::{AcctRecord, SessionEvent};
    use l2tpd::core::radius::RadiusSettings;
    use l2tpd::core::AuthAnswer;
    let seed = 48;
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(seed, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let settings = || RadiusSettings {
        session_id_prefix: "C0DE".into(),
        interim_interval: None,
    };
    let mut lns = lns_core(seed, t0);
    lns.core.enable_radius(settings());
    lns.core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    lns.start_journal(t0);
    let mut client = client_core(seed, t0, 1);
    client.input(t0, Input::Tick);
    assert!(run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(30),
        |l, _, _| { !l.auth_requests.is_empty() }
    ));
    let request = lns.auth_requests.remove(0);
    let ppp::Credentials::MsChapV2 {
        authenticator_challenge,
        peer_challenge,
        nt_response,
    } = request.credentials.clone()
    else {
        panic!("MS-CHAPv2 credentials expected");
    };
    let authenticator_response = ppp::mschapv2::generate_authenticator_response(
        "secret",
        &nt_response,
        &peer_challenge,
        &authenticator_challenge,
        "alice",
    );
    let now = h.now;
    lns.input(
        now,
        Input::AuthDecision {
            request,
            answer: AuthAnswer::Radius {
                decision: ppp::AuthDecision::AcceptMsChapV2 {
                    authenticator_response,
                },
                authz: Box::default(),
            },
        },
    );
    assert!(run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(30),
        |l, c, now| { up_sessions(l, now).len() == 1 && up_sessions(c, now).len() == 1 }
    ));
    let ids = |lns: &SimCore| -> Vec<(String, bool)> {
        lns.accounting
            .iter()
            .filter_map(|r| match r {
                AcctRecord::Session { event, session, .. } => Some((
                    session.acct_session_id.clone(),
                    matches!(event, SessionEvent::Stop(..)),
                )),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        ids(&lns),
        vec![("C0DE00000001".to_string(), false)],
        "the Start"
    );
    let journal = lns.journal.clone().expect("journal");
    // The client forgets its tunnel (it restarted too); the LNS is killed and restarted.
    let now = h.now;
    client.core = client_core(seed ^ 0x1, now, 0).core;
    lns.core = lns_core(seed ^ 0xdead, now).core;
    lns.journal = None;
    run_until(&mut h, &mut lns, &mut client, DOWN, |_, _, _| false);
    let now = h.now;
    let mut fresh = lns_core(seed ^ 0xbeef, now);
    fresh.start_journal(now);
    fresh
        .core
        .replay_journal(&journal.base, &journal.slices(), now)
        .expect("replay");
    // What the daemon does: RADIUS resumed (no Accounting-On), then the tunnels probed.
    fresh.core.resume_radius(settings());
    fresh
        .core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    lns.core = fresh.core;
    lns.journal = fresh.journal;
    let restored = lns.core.take_restored_tunnels();
    lns.core.resume_restored(now, &restored);
    lns.input(now, Input::Tick);
    let gone = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(120),
        |l, _, _| l.core.endpoint().tunnel_count() == 0,
    );
    assert!(gone, "the dead peer's tunnel was cleared");
    assert_eq!(
        ids(&lns),
        vec![
            ("C0DE00000001".to_string(), false),
            ("C0DE00000001".to_string(), true)
        ],
        "one Stop for the recovered session, no new Start"
    );
}

/// The client side too: a client daemon killed and restarted on its journal resumes its
/// tunnel and sessions; the LNS sees a pause and nothing else.
#[test]
fn a_crashed_client_restarted_on_its_journal_carries_on_and_the_lns_sees_nothing() {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} (replay: L2TP_SIM_SEED={seed})");
        let t0 = Instant::now();
        let mut h = Harness::new(Network::new(seed, NetConfig::lossy(0.05)), t0);
        let mut lns = lns_core(seed, t0);
        let mut client = client_core(seed, t0, 2);
        client.start_journal(t0);
        client.input(t0, Input::Tick);
        assert!(
            run_until(
                &mut h,
                &mut lns,
                &mut client,
                Duration::from_secs(300),
                |l, c, now| { up_sessions(l, now).len() == 2 && up_sessions(c, now).len() == 2 }
            ),
            "{ctx}: sessions not up"
        );
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(60),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 1),
            "{ctx}: no traffic before"
        );
        let keys_lns = up_sessions(&lns, h.now);
        let keys_client = up_sessions(&client, h.now);
        let journal = client.journal.clone().expect("journal");
        let mark_l = lns.wire.len();
        // Killed: its port answers nothing for a while; then restarted on the journal.
        let now = h.now;
        client.core = client_core(seed ^ 0xdead, now, 0).core;
        client.journal = None;
        run_until(&mut h, &mut lns, &mut client, DOWN, |_, _, _| false);
        let now = h.now;
        let mut fresh = client_core(seed ^ 0xbeef, now, 2);
        fresh.start_journal(now);
        let r = fresh
            .core
            .replay_journal(&journal.base, &journal.slices(), now)
            .expect("replay");
        assert_eq!((r.tunnels, r.sessions), (1, 2), "{ctx}");
        client.core = fresh.core;
        client.journal = fresh.journal;
        let ids = client.core.take_restored_tunnels();
        client.core.resume_restored(now, &ids);
        client.input(now, Input::Tick);
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 2),
            "{ctx}: no traffic after"
        );
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(120),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 3),
            "{ctx}: no traffic later"
        );
        assert_eq!(up_sessions(&lns, h.now), keys_lns, "{ctx}: LNS sessions");
        assert_eq!(
            up_sessions(&client, h.now),
            keys_client,
            "{ctx}: client sessions"
        );
        let (after_l, lcp_l) = wire_since(&lns, mark_l);
        assert!(
            !after_l.iter().any(|(_, m)| is_teardown(m)),
            "{ctx}: the LNS sent a StopCCN/CDN: {after_l:?}"
        );
        assert!(
            lcp_l.iter().all(|c| *c == 9 || *c == 10),
            "{ctx}: LNS LCP codes after the restart: {lcp_l:?}"
        );
    }
}

/// An address belongs to one session at a time, across a crash too: the IPv6 prefixes of
/// sessions set up after the journal's base are held again by the replayed pool, so a new
/// session cannot be handed one of them.
#[test]
fn the_replayed_pool_holds_the_ipv6_prefixes_of_the_restored_sessions() {
    for seed in seeds(SEEDS) {
        let t0 = Instant::now();
        let prefix = Some("2001:db8:100::/56");
        let mut h = Harness::new(Network::new(seed, NetConfig::lossy(0.05)), t0);
        let mut lns = lns_core_with(seed, t0, prefix);
        lns.start_journal(t0);
        lns.journal.as_mut().expect("journal").never_compact = true;
        let mut client = client_core(seed, t0, 2);
        client.input(t0, Input::Tick);
        let up = run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(300),
            |l, _, now| l.core.sessions(now).iter().filter(|s| s.ipv6_up).count() == 2,
        );
        assert!(up, "seed {seed}: IPv6 not up on both sessions");
        let live = lns.core.ipv6_pool_in_use();
        assert_eq!(live, Some(2), "seed {seed}: live pool");
        let journal = lns.journal.clone().expect("journal");
        assert_eq!(
            journal.compactions, 0,
            "seed {seed}: the sessions are in records"
        );
        let mut replayed = lns_core_with(seed ^ 0x5eed, h.now, prefix);
        replayed
            .core
            .replay_journal(&journal.base, &journal.slices(), h.now)
            .expect("replay");
        assert_eq!(
            replayed.core.ipv6_pool_in_use(),
            live,
            "seed {seed}: the replayed pool does not hold the restored sessions' prefixes"
        );
    }
}
