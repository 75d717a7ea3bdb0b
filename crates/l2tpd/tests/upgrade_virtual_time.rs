//! Snapshots of the daemon core in virtual time: an LNS core and a client core with
//! sessions carrying data; one of them is snapshotted mid-life and replaced by a fresh core
//! restored from the snapshot (what a hitless upgrade does across processes). The peer sees
//! nothing: no StopCCN, no CDN, no LCP renegotiation, control Ns continuing, data flowing.
//! And a snapshot a binary cannot read (corrupt, truncated, another version, another role)
//! is refused with a typed error, leaving a clean core that still works.

mod support;
use support::sim::{
    client_core, is_teardown, lns_core, ping_each_way, run_until, up_sessions, SimCore,
};

use std::time::{Duration, Instant};

use l2tp_sim::{seeds, Harness, NetConfig, Network};
use l2tp_wire::{ControlMessage, Packet};
use l2tpd::core::radius::RadiusSettings;
use l2tpd::core::snapshot::{SnapshotError, HEADER_LEN, MAGIC, VERSION};
use l2tpd::core::Input;

const SEEDS: &[u64] = &[11, 12, 13, 14];

/// Tunnel and `sessions` calls up from `seed` over `net`.
fn up(seed: u64, sessions: usize, net: NetConfig) -> (Harness, SimCore, SimCore) {
    let t0 = Instant::now();
    let mut h = Harness::new(Network::new(seed, net), t0);
    let mut lns = lns_core(seed, t0);
    let mut client = client_core(seed, t0, sessions as u32);
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

/// What a node put on the wire from index `from` on: control messages (Ns, message) and
/// LCP codes seen in data packets.
fn wire_since(node: &SimCore, from: usize) -> (Vec<(u16, ControlMessage)>, Vec<u8>) {
    let mut control = Vec::new();
    let mut lcp = Vec::new();
    for (_, _, bytes) in &node.wire[from..] {
        match Packet::decode(bytes, None) {
            Ok(Packet::Control { header, message }) => {
                control.push((header.sequence.map_or(0, |s| s.ns.0), message))
            }
            Ok(Packet::Data { payload, .. }) => {
                // PPP in L2TP: address/control (ff 03) may precede the protocol field.
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

/// Which side is replaced.
#[derive(Clone, Copy, Debug)]
enum Side {
    Lns,
    Client,
}

fn replace(side: Side, seed: u64, lns: &mut SimCore, client: &mut SimCore, now: Instant) {
    replace_with(side, seed, lns, client, now, 2);
}

/// Replaces one side's core by a fresh one restored from its snapshot (`sessions` carried).
fn replace_with(
    side: Side,
    seed: u64,
    lns: &mut SimCore,
    client: &mut SimCore,
    now: Instant,
    sessions: usize,
) {
    let (node, fresh) = match side {
        Side::Lns => (lns, lns_core(seed ^ 0xdead, now)),
        Side::Client => (client, client_core(seed ^ 0xbeef, now, 2)),
    };
    let bytes = node.core.snapshot(now).expect("snapshot");
    assert_eq!(&bytes[..8], &MAGIC);
    let mut core = fresh.core;
    let restored = core.restore(&bytes, now).expect("restore");
    assert_eq!(restored.tunnels, 1);
    assert_eq!(restored.sessions, sessions);
    node.core = core;
}

fn carry_on_after_restore(side: Side) {
    for seed in seeds(SEEDS) {
        let ctx = format!("seed {seed} {side:?} (replay: L2TP_SIM_SEED={seed})");
        let (mut h, mut lns, mut client) = up(seed, 2, NetConfig::lossy(0.05));
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 1),
            "{ctx}: no traffic before"
        );
        // Some life: echoes, a HELLO or two.
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(75),
            |_, _, _| false,
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 2),
            "{ctx}: no traffic before"
        );
        let keys_lns = up_sessions(&lns, h.now);
        let keys_client = up_sessions(&client, h.now);
        let ups_client = client.core.counters().sessions_up_total;
        let ups_lns = lns.core.counters().sessions_up_total;
        let pool = lns.core.pool_usage();
        let (before_l, _) = wire_since(&lns, 0);
        let (before_c, _) = wire_since(&client, 0);
        let last_ns = |v: &[(u16, ControlMessage)]| v.iter().map(|(ns, _)| *ns).max().unwrap();
        let (max_l, max_c) = (last_ns(&before_l), last_ns(&before_c));
        let (mark_l, mark_c) = (lns.wire.len(), client.wire.len());

        let now = h.now;
        replace(side, seed, &mut lns, &mut client, now);

        // Data flows at once, and keeps flowing across echoes and HELLOs.
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 3),
            "{ctx}: no traffic after"
        );
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
        assert_eq!(lns.core.pool_usage(), pool, "{ctx}: leases carried");
        assert_eq!(
            client.core.counters().sessions_up_total,
            ups_client,
            "{ctx}: the client's sessions never came up again"
        );
        assert_eq!(lns.core.counters().sessions_up_total, ups_lns, "{ctx}");
        let (after_l, lcp_l) = wire_since(&lns, mark_l);
        let (after_c, lcp_c) = wire_since(&client, mark_c);
        for (who, msgs) in [("LNS", &after_l), ("client", &after_c)] {
            assert!(
                !msgs.iter().any(|(_, m)| is_teardown(m)),
                "{ctx}: {who} sent a StopCCN/CDN: {msgs:?}"
            );
        }
        // LCP after the swap: only Echo-Request/Reply (9, 10), no Configure/Terminate.
        for (who, codes) in [("LNS", &lcp_l), ("client", &lcp_c)] {
            assert!(
                codes.iter().all(|c| *c == 9 || *c == 10),
                "{ctx}: {who} LCP codes after the restore: {codes:?}"
            );
            assert!(!codes.is_empty(), "{ctx}: {who}: LCP echoes go on");
        }
        // The control channel goes on where it stopped: the client hangs one call up (a
        // CDN through the carried tunnel, which the other end takes in sequence), the
        // tunnel and the other call stay, and no control message went back in Ns.
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
            "{ctx}: the call was not cleared through the restored tunnel"
        );
        assert!(
            ping_each_way(&mut h, &mut lns, &mut client, 5),
            "{ctx}: no traffic at the end"
        );
        assert_eq!(lns.core.endpoint().tunnel_count(), 1, "{ctx}");
        assert_eq!(client.core.endpoint().tunnel_count(), 1, "{ctx}");
        let (after_l, _) = wire_since(&lns, mark_l);
        let (after_c, _) = wire_since(&client, mark_c);
        assert!(
            after_c
                .iter()
                .any(|(ns, m)| matches!(m, ControlMessage::Cdn(_)) && *ns >= max_c),
            "{ctx}: the client's CDN: {after_c:?}"
        );
        for (who, msgs, max) in [("LNS", &after_l, max_l), ("client", &after_c, max_c)] {
            assert!(
                msgs.iter().all(|(ns, _)| *ns >= max),
                "{ctx}: {who} control Ns went back below {max}: {msgs:?}"
            );
        }
    }
}

#[test]
fn a_restored_lns_core_carries_on_and_the_client_sees_nothing() {
    carry_on_after_restore(Side::Lns);
}

#[test]
fn a_restored_client_core_carries_on_and_the_lns_sees_nothing() {
    carry_on_after_restore(Side::Client);
}

/// A snapshot of a live LNS (tunnel and two sessions).
fn live_snapshot() -> (Vec<u8>, Instant) {
    let (h, lns, _) = up(21, 2, NetConfig::perfect(Duration::from_millis(5)));
    (lns.core.snapshot(h.now).expect("snapshot"), h.now)
}

/// `core` refused a snapshot: it is still clean and serves a client from nothing.
fn still_clean_and_working(mut lns: SimCore, now: Instant) {
    assert_eq!(
        lns.core.endpoint().tunnel_count(),
        0,
        "nothing half-restored"
    );
    assert!(lns.core.sessions(now).is_empty(), "nothing half-restored");
    assert_eq!(lns.core.pool_usage(), Some((11, 0)));
    let mut h = Harness::new(
        Network::new(5, NetConfig::perfect(Duration::from_millis(5))),
        now,
    );
    let mut client = client_core(5, now, 1);
    client.input(now, Input::Tick);
    let ok = run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(60),
        |l, c, now| up_sessions(l, now).len() == 1 && up_sessions(c, now).len() == 1,
    );
    assert!(ok, "the refusing core still takes sessions");
}

fn refused(bytes: &[u8], now: Instant) -> (SnapshotError, SimCore) {
    let mut fresh = lns_core(99, now);
    let err = fresh.core.restore(bytes, now).expect_err("refused");
    (err, fresh)
}

#[test]
fn a_corrupt_snapshot_is_refused_and_the_core_starts_clean() {
    let (mut bytes, now) = live_snapshot();
    let mid = HEADER_LEN + (bytes.len() - HEADER_LEN) / 2;
    bytes[mid] ^= 0x40;
    let (err, core) = refused(&bytes, now);
    assert_eq!(err, SnapshotError::Checksum);
    still_clean_and_working(core, now);

    let (mut bytes, _) = live_snapshot();
    bytes[..8].copy_from_slice(b"NOTASNAP");
    assert_eq!(refused(&bytes, now).0, SnapshotError::Magic);
}

#[test]
fn a_truncated_snapshot_is_refused_and_the_core_starts_clean() {
    let (bytes, now) = live_snapshot();
    let cut = &bytes[..bytes.len() - 100];
    let (err, core) = refused(cut, now);
    assert!(matches!(err, SnapshotError::Truncated { .. }), "{err:?}");
    still_clean_and_working(core, now);
    assert_eq!(refused(&bytes[..10], now).0, SnapshotError::TooShort(10));

    // A payload cut short whose header was rewritten to match (length and checksum right):
    // it fails to decode, and nothing of it is applied.
    let payload = &bytes[HEADER_LEN..bytes.len() - 100];
    let mut resealed = bytes[..16].to_vec();
    resealed.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    resealed.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    resealed.extend_from_slice(payload);
    let (err, core) = refused(&resealed, now);
    assert!(matches!(err, SnapshotError::Decode(_)), "{err:?}");
    still_clean_and_working(core, now);
}

#[test]
fn a_snapshot_of_another_version_or_role_is_refused_with_its_reason() {
    let (mut bytes, now) = live_snapshot();
    bytes[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    let (err, core) = refused(&bytes, now);
    assert_eq!(
        err,
        SnapshotError::Version {
            found: VERSION + 1,
            supported: VERSION
        }
    );
    assert!(err.to_string().contains("version"), "{err}");
    still_clean_and_working(core, now);

    // An LNS's snapshot offered to a client core.
    let (bytes, now) = live_snapshot();
    let mut client = client_core(3, now, 1);
    let err = client.core.restore(&bytes, now).expect_err("refused");
    assert!(matches!(err, SnapshotError::Role { .. }), "{err:?}");
    assert_eq!(client.core.endpoint().tunnel_count(), 0);
}

#[test]
fn stats_say_per_tunnel_what_was_resumed_and_what_was_lost() {
    let (mut h, mut lns, mut client) = up(31, 2, NetConfig::perfect(Duration::from_millis(5)));
    assert_eq!(lns.core.daemon_stats(h.now).upgrade, None, "started afresh");
    let now = h.now;
    replace(Side::Lns, 31, &mut lns, &mut client, now);
    let u = lns.core.daemon_stats(h.now).upgrade.expect("carried over");
    assert_eq!(u.upgrades, 1);
    assert_eq!((u.tunnels_resumed, u.tunnels_lost), (1, 0));
    assert_eq!((u.sessions_resumed, u.sessions_lost), (2, 0));
    assert_eq!(u.tunnels.len(), 1);
    assert_eq!(u.tunnels[0].outcome, "resumed");
    assert_eq!(u.tunnels[0].sessions, 2);

    // Within the watch: one call ends (lost), the tunnel stays (resumed).
    let (gone, _) = up_sessions(&client, h.now)[0];
    let now = h.now;
    client.manage(
        now,
        l2tp_mgmt::Request::HangUp {
            tunnel: Some(gone.tunnel.0),
            session: Some(gone.session.0),
        },
    );
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(5),
        |_, _, _| false,
    );
    let u = lns.core.daemon_stats(h.now).upgrade.expect("carried over");
    assert_eq!((u.sessions_resumed, u.sessions_lost), (1, 1), "{u:?}");
    assert_eq!((u.tunnels_resumed, u.tunnels_lost), (1, 0), "{u:?}");

    // Another upgrade: counted; its own carried set.
    let now = h.now;
    // (The client may have dialled a replacement call meanwhile.)
    let n = lns.core.sessions(now).len();
    replace_with(Side::Lns, 32, &mut lns, &mut client, now, n);
    let u = lns.core.daemon_stats(h.now).upgrade.expect("carried over");
    assert_eq!(u.upgrades, 2);
    assert_eq!(
        (u.sessions_resumed, u.sessions_lost),
        (n as u64, 0),
        "{u:?}"
    );

    // The whole tunnel goes within the watch (the operator closes it): lost.
    let tunnel = lns
        .core
        .endpoint()
        .tunnels()
        .next()
        .expect("tunnel")
        .tunnel
        .0;
    let now = h.now;
    let r = lns.manage(now, l2tp_mgmt::Request::CloseTunnel { tunnel });
    assert_eq!(r, Some(l2tp_mgmt::Response::Ok));
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(50),
        |l, _, _| l.core.endpoint().tunnel_count() == 0,
    );
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(2),
        |_, _, _| false,
    );
    let u = lns.core.daemon_stats(h.now).upgrade.expect("carried over");
    assert_eq!((u.tunnels_resumed, u.tunnels_lost), (0, 1), "{u:?}");
    assert_eq!(u.tunnels[0].outcome, "lost");
    assert_eq!(
        (u.sessions_resumed, u.sessions_lost),
        (0, n as u64),
        "{u:?}"
    );
}

/// The snapshot of a fixed, seeded life has a fixed length: a tripwire for carried types that
/// change shape. postcard is positional, so a field added to, removed from or retyped in any
/// carried type makes snapshots of the old build unreadable (or misread) by the new one; the
/// header's version must then change. If this fails after such a change, bump
/// `l2tpd::core::snapshot::VERSION` and put the new lengths here. The second length is the
/// same life with the node's RADIUS state on (its settings, next NAS-Port, the dynamic
/// authorization answers kept for retransmissions, the servers' failover state).
#[test]
fn the_snapshot_format_changes_only_with_its_version() {
    const PINNED: (u32, usize, usize) = (5, 1426, 1439);
    let (h, mut lns, _) = up(41, 2, NetConfig::perfect(Duration::from_millis(5)));
    let len = lns.core.snapshot(h.now).expect("snapshot").len();
    lns.core.enable_radius(RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: Some(Duration::from_secs(300)),
    });
    let with_radius = lns.core.snapshot(h.now).expect("snapshot").len();
    assert_eq!(
        (VERSION, len, with_radius),
        PINNED,
        "the snapshot of the same seeded life changed length: a carried type changed shape; \
         bump snapshot::VERSION and pin the new lengths"
    );
}
