//! Crash recovery with real processes, as root: an `l2tpd` LNS with `daemon.state_dir` in
//! one network namespace, `l2tpd loadgen` (many sessions) and a real `l2tpd` client with a
//! TUN and a continuous `ping` through it in another, joined by a veth pair. The LNS is
//! killed with SIGKILL — no StopCCN, nothing written on the way out — and started again on
//! the same state directory: its per-session interfaces outlived it (persistent TUNs), every
//! session is back with the same ids and addresses, the client and loadgen logged no
//! session or tunnel going down and no PPP coming up again, the stats and metrics say what
//! was recovered; the ping gap and the pings lost are measured and printed (not asserted:
//! tests never assert timings). A clean stop afterwards removes the interfaces and the
//! journal.
//!
//! Without root (or `ip`, `ping`) the test says so loudly, and fails when `CI=true`.
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (peers); LNS end of PPP 198.51.100.1; pool
//! 203.0.113.10-250. Namespaces and processes are removed by name / pid when the test ends.

mod support;
use support::lns_lab::{
    life_events, metrics, ping_replies, privileged, session_link_indexes, session_links,
    session_set, unix_now, Lab, L2TPD,
};
use support::{ok, request, sessions, wait_for};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response};

/// loadgen: tunnels × sessions (plus the client's one session).
const LOADGEN: (u32, u32) = (2, 60);

#[test]
fn a_killed_lns_restarts_on_its_state_dir_and_no_peer_notices() {
    if !privileged("crash recovery e2e") {
        return;
    }
    let mut lab = Lab::new("k");
    lab.state_dir = true;
    lab.start_lns("lns");
    let lns_sock = lab.path("lns.sock");
    lab.start_client();
    let peers = lab.peers.clone();
    let (t, s) = LOADGEN;
    let (t, s) = (t.to_string(), s.to_string());
    #[rustfmt::skip]
    let args = [
        "loadgen", "--server", "192.0.2.1:1701", "--tunnels", &t, "--sessions", &s,
        "--user", "alice", "--password", "secret", "--hold", "600", "--timeout", "60",
    ];
    lab.spawn(&peers, "loadgen", L2TPD, &args);
    let total = (LOADGEN.0 * LOADGEN.1 + 1) as usize;
    wait_for(
        Duration::from_secs(90),
        "every session up on the LNS",
        || {
            let v = session_set(&lns_sock);
            v.len() == total
                && v.iter()
                    .all(|s| s.3 == "established/ppp-network" && s.2.is_some())
        },
    );
    let client_sock = lab.path("client.sock");
    wait_for(Duration::from_secs(20), "the client's session up", || {
        sessions(&client_sock).iter().any(|s| s.interface.is_some())
    });
    // A continuous ping through the client's TUN, the LNS's TUN and back.
    let ping_log = lab.path("ping.log");
    let f = std::fs::File::create(&ping_log).expect("ping log");
    let ping = Command::new("ip")
        .args([
            "netns", "exec", &peers, "ping", "-D", "-n", "-i", "0.01", "-W", "1",
        ])
        .arg("198.51.100.1")
        .stdout(f)
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
    let ping_pid = ping.id();
    lab.children.push(ping);
    wait_for(Duration::from_secs(10), "ping replies", || {
        ping_replies(&std::fs::read_to_string(&ping_log).unwrap_or_default()).len() > 50
    });

    let before = session_set(&lns_sock);
    let client_before = session_set(&client_sock);
    let client_events = life_events(&lab.log("client"));
    let loadgen_events = life_events(&lab.log("loadgen"));
    assert_eq!(session_links(&lab.lns), total, "one interface per session");

    // kill -9: nothing sent, nothing cleaned up.
    let killed_at = unix_now();
    let killed = Instant::now();
    let lns = lab.children.iter_mut().next().expect("the LNS");
    lns.kill().expect("SIGKILL");
    lns.wait().expect("reaped");
    assert_eq!(
        session_links(&lab.lns),
        total,
        "the session interfaces outlived the process (persistent TUNs)"
    );
    let pid2 = lab.start_lns("lns2");
    wait_for(
        Duration::from_secs(20),
        "the sessions back on the restarted LNS",
        || session_set(&lns_sock) == before,
    );
    println!(
        "crash e2e: {total} sessions back on the restarted LNS {:.0} ms after the kill \
         (restart included)",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    let log = lab.log("lns2");
    assert!(
        log.contains(&format!(
            "recovered {} tunnels and {total} sessions",
            LOADGEN.0 + 1
        )),
        "{log}"
    );
    // Past a few LCP echo intervals, HELLO intervals and the HELLO probe's answers.
    std::thread::sleep(Duration::from_secs(8));

    assert_eq!(
        session_set(&lns_sock),
        before,
        "the LNS's sessions after the restart"
    );
    assert_eq!(
        session_set(&client_sock),
        client_before,
        "the client's session"
    );
    assert_eq!(
        life_events(&lab.log("client")),
        client_events,
        "the client logged no session/tunnel down and no PPP up again:\n{}",
        lab.log("client")
    );
    assert_eq!(
        life_events(&lab.log("loadgen")),
        loadgen_events,
        "loadgen logged no session/tunnel down and no PPP up again"
    );
    let m = metrics(&lab.lns);
    assert!(m.contains("l2tpd_recoveries_total 1"), "metrics: {m}");
    // Both ways back were taken: our client offers RFC 4951 failover, so its tunnel was
    // recovered through it; the load generator's tunnels (no failover) by the HELLO probe.
    assert!(
        m.contains("l2tpd_failover_tunnels{outcome=\"recovered\"} 1"),
        "the client's tunnel recovered through RFC 4951: {m}"
    );
    let recovered = format!("l2tpd_recovery_sessions{{outcome=\"recovered\"}} {total}");
    assert!(m.contains(&recovered), "metrics: {m}");
    match request(&lns_sock, Request::Stats) {
        Response::Stats(st) => {
            assert_eq!(st.sessions as usize, total, "{st:?}");
            let u = st.upgrade.expect("the stats say what was recovered");
            assert!(u.recovery, "{u:?}");
            assert_eq!(u.tunnels_resumed, u64::from(LOADGEN.0) + 1, "{u:?}");
            assert_eq!((u.tunnels_lost, u.sessions_lost), (0, 0), "{u:?}");
            assert!(u.tunnels.iter().all(|t| t.outcome == "recovered"), "{u:?}");
        }
        other => panic!("stats: {other:?}"),
    }

    // The ping: still answered; how long it paused and what was lost.
    let _ = Command::new("kill")
        .args(["-INT", &ping_pid.to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    let replies = ping_replies(&std::fs::read_to_string(&ping_log).unwrap_or_default());
    let last_seq = replies.last().map_or(0, |r| r.1);
    let first_seq = replies.first().map_or(0, |r| r.1);
    let lost = (last_seq - first_seq + 1) as usize - replies.len();
    let gap = replies
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max);
    println!(
        "crash e2e: {total} sessions recovered after kill -9; ping every 10 ms: {} replies, \
         {lost} lost (≈ {:.0} ms of pings at 10 ms), largest gap between replies {:.1} ms",
        replies.len(),
        lost as f64 * 10.0,
        gap * 1000.0
    );
    let after = replies.iter().filter(|r| r.0 > killed_at + 1.0).count();
    assert!(
        after > 100,
        "the ping went on after the restart: {after} replies"
    );

    // A clean stop: the interfaces and the journal go.
    let lns2 = lab
        .children
        .iter_mut()
        .find(|c| c.id() == pid2)
        .expect("the restarted LNS");
    ok(&["kill", "-TERM", &pid2.to_string()]);
    wait_for(Duration::from_secs(15), "the LNS to stop", || {
        matches!(lns2.try_wait(), Ok(Some(_)))
    });
    assert_eq!(
        session_links(&lab.lns),
        0,
        "interfaces removed on a clean stop"
    );
    assert!(
        !lab.path("state").join("state.base").exists(),
        "the journal is removed on a clean stop"
    );
}

/// A journal that does not read after a `kill -9`: the restarted LNS says why, moves it
/// aside and starts clean — and removes the interfaces the dead process left, which would
/// otherwise keep routes to addresses its pool hands out again.
#[test]
fn a_corrupt_journal_after_a_kill_starts_clean_and_leaves_no_interface_behind() {
    if !privileged("crash recovery e2e, corrupt journal") {
        return;
    }
    let mut lab = Lab::new("j");
    lab.state_dir = true;
    lab.start_lns("lns");
    let lns_sock = lab.path("lns.sock");
    lab.start_client();
    let client_sock = lab.path("client.sock");
    wait_for(Duration::from_secs(30), "the client's session up", || {
        client_sock.exists() && sessions(&client_sock).iter().any(|s| s.interface.is_some())
    });
    wait_for(
        Duration::from_secs(10),
        "the LNS's session interface",
        || session_links(&lab.lns) == 1,
    );
    let left = session_link_indexes(&lab.lns);

    let lns = lab.children.iter_mut().next().expect("the LNS");
    lns.kill().expect("SIGKILL");
    lns.wait().expect("reaped");
    assert_eq!(
        session_link_indexes(&lab.lns),
        left,
        "the interface outlived the process (persistent TUN)"
    );
    // One byte of the base's state flipped: its checksum no longer matches.
    let base = lab.path("state").join("state.base");
    let mut bytes = std::fs::read(&base).expect("the journal's base");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&base, &bytes).expect("corrupt the base");

    lab.start_lns("lns2");
    let log = lab.log("lns2");
    assert!(log.contains("state journal unusable"), "{log}");
    assert!(
        lab.path("state").join("state.base.corrupt").exists(),
        "the corrupt journal is moved aside"
    );
    wait_for(
        Duration::from_secs(5),
        "the dead process's interface removed",
        || {
            let now = session_link_indexes(&lab.lns);
            left.iter().all(|i| !now.contains(i))
        },
    );
    assert!(lab
        .log("lns2")
        .contains("removed 1 interfaces left by a process that died"));
    match request(&lns_sock, Request::Stats) {
        Response::Stats(st) => {
            assert!(
                st.upgrade.as_ref().is_none_or(|u| !u.recovery),
                "nothing was recovered: {st:?}"
            );
        }
        other => panic!("stats: {other:?}"),
    }
}
