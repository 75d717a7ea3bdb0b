//! Hitless upgrade with real processes, as root: an `l2tpd` LNS in one network namespace,
//! `l2tpd loadgen` (many sessions) and a real `l2tpd` client with a TUN and a continuous
//! `ping` through it in another, joined by a veth pair. `l2tpctl upgrade` (the management
//! request) hands the LNS over to a second copy of the binary, then SIGUSR2 hands it over
//! once more: every session is still up with the same ids and addresses, the client and
//! loadgen logged no session or tunnel going down and no PPP coming up again, the LNS pid
//! changed, the metrics endpoint still answers; the ping gap is measured and printed (not
//! asserted: tests never assert timings). A new binary that refuses the snapshot leaves
//! the old daemon running, and the request says why.
//!
//! Without root (or `ip`, `ping`) each test says so loudly, and fails when `CI=true`.
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (peers); LNS end of PPP 198.51.100.1; pool
//! 203.0.113.10-250. Namespaces and processes are removed by name / pid when a test ends.

mod support;
use support::lns_lab::{life_events, metrics, ping_replies, privileged, session_set, Lab, L2TPD};
use support::{ok, request, sessions, sh, wait_for};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use l2tp_mgmt::{Request, Response};

/// loadgen: tunnels × sessions (plus the client's one session).
const LOADGEN: (u32, u32) = (2, 60);

fn upgraded(resp: &Response) -> (u32, u32, u64, u64, (u64, u64)) {
    match resp {
        Response::Upgraded {
            old_pid,
            new_pid,
            tunnels,
            sessions,
            pause_us,
            snapshot_bytes,
        } => (
            *old_pid,
            *new_pid,
            *tunnels,
            *sessions,
            (*pause_us, *snapshot_bytes),
        ),
        other => panic!("upgrade refused: {other:?}"),
    }
}

/// The pid in the last "took over" line of the LNS's log.
fn last_takeover_pid(log: &str) -> Option<u32> {
    log.lines()
        .rev()
        .find(|l| l.contains("upgrade: took over"))?
        .rsplit("(pid ")
        .next()?
        .trim_end_matches(')')
        .parse()
        .ok()
}

#[test]
fn lns_upgrades_twice_under_load_and_no_peer_notices() {
    if !privileged("upgrade e2e") {
        return;
    }
    let mut lab = Lab::new("u");
    let lns_pid = lab.start_lns("lns");
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
    let second = lab.path("l2tpd-second");
    std::fs::copy(L2TPD, &second).expect("second copy of the binary");

    // 1. The management request (what `l2tpctl upgrade --binary` sends).
    let resp = request(
        &lns_sock,
        Request::Upgrade {
            binary: Some(second.display().to_string()),
        },
    );
    let (old, new, tunnels, carried, (pause_us, snapshot_bytes)) = upgraded(&resp);
    lab.adopt_pid(new);
    assert_eq!(old, lns_pid, "the answer comes from the LNS we started");
    assert_ne!(new, lns_pid, "a new process runs the LNS");
    assert_eq!(tunnels, u64::from(LOADGEN.0) + 1);
    assert_eq!(carried, total as u64);
    let lns_child = lab.children.iter_mut().next().expect("the LNS");
    wait_for(Duration::from_secs(5), "the old LNS to exit", || {
        matches!(lns_child.try_wait(), Ok(Some(_)))
    });
    let status = lns_child.try_wait().unwrap().unwrap();
    assert!(status.success(), "the old LNS exited with {status}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        session_set(&lns_sock),
        before,
        "the LNS's sessions after the upgrade"
    );

    // 2. SIGUSR2 to the new process: it hands over to its own binary (the second copy).
    ok(&["kill", "-USR2", &new.to_string()]);
    wait_for(Duration::from_secs(10), "a second take-over", || {
        last_takeover_pid(&lab.log("lns")).is_some_and(|p| p != new)
    });
    let newest = last_takeover_pid(&lab.log("lns")).expect("pid");
    lab.adopt_pid(newest);
    wait_for(
        Duration::from_secs(5),
        "the first new process to exit",
        || {
            !Path::new(&format!("/proc/{new}")).exists()
                || std::fs::read_to_string(format!("/proc/{new}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        },
    );
    let upgraded_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Past a few LCP echo intervals and a HELLO interval.
    std::thread::sleep(Duration::from_secs(6));

    assert_eq!(
        session_set(&lns_sock),
        before,
        "the LNS's sessions after two upgrades"
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
    assert!(
        m.contains("l2tpd_upgrades_total 2"),
        "metrics after the upgrades: {m}"
    );
    let resumed = format!("l2tpd_upgrade_sessions{{outcome=\"resumed\"}} {total}");
    assert!(m.contains(&resumed), "metrics after the upgrades: {m}");
    match request(&lns_sock, Request::Stats) {
        Response::Stats(st) => {
            assert_eq!(st.sessions as usize, total, "{st:?}");
            let u = st.upgrade.expect("the stats say what was carried over");
            assert_eq!(u.upgrades, 2);
            assert_eq!(u.tunnels_resumed, u64::from(LOADGEN.0) + 1, "{u:?}");
            assert_eq!((u.tunnels_lost, u.sessions_lost), (0, 0), "{u:?}");
            assert!(u.tunnels.iter().all(|t| t.outcome == "resumed"), "{u:?}");
        }
        other => panic!("stats: {other:?}"),
    }

    // The ping: still answered, and how long it paused.
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
        "upgrade e2e: {total} sessions carried twice; nothing read for {:.1} ms (first \
         hand-over, as the LNS measured it; snapshot {snapshot_bytes} bytes); ping every 10 ms: {} replies, {lost} lost, \
         largest gap between replies {:.1} ms",
        pause_us as f64 / 1000.0,
        replies.len(),
        gap * 1000.0
    );
    let after = replies.iter().filter(|r| r.0 > upgraded_at).count();
    assert!(
        after > 100,
        "the ping went on after the upgrades: {after} replies"
    );
}

#[test]
fn a_binary_that_refuses_the_snapshot_leaves_the_daemon_running() {
    if !privileged("upgrade refused e2e") {
        return;
    }
    let mut lab = Lab::new("r");
    let lns_pid = lab.start_lns("lns");
    let lns_sock = lab.path("lns.sock");
    lab.start_client();
    wait_for(Duration::from_secs(20), "the session up", || {
        session_set(&lns_sock)
            .iter()
            .any(|s| s.3 == "established/ppp-network")
    });
    let before = session_set(&lns_sock);

    // A binary that is not l2tpd: it exits without a word.
    let resp = request(
        &lns_sock,
        Request::Upgrade {
            binary: Some("/bin/true".into()),
        },
    );
    match &resp {
        Response::Error { message } => assert!(
            message.contains("carries on") && message.contains("exited"),
            "{message}"
        ),
        other => panic!("expected a refusal: {other:?}"),
    }
    // A new process whose configuration is another role's: it refuses the LNS's snapshot.
    let cfg = lab.path("lns.toml");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let client_cfg = format!(
        "role = \"client\"\n[daemon]\nmanagement_socket = \"{}\"\n[dial]\npeers = \
         [\"192.0.2.9:1701\"]\nuser = \"alice\"\npassword = \"secret\"\n",
        lns_sock.display()
    );
    std::fs::write(&cfg, client_cfg).unwrap();
    let resp = request(&lns_sock, Request::Upgrade { binary: None });
    std::fs::write(&cfg, good).unwrap();
    match &resp {
        Response::Error { message } => {
            assert!(message.contains("snapshot of a lns node"), "{message}")
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    // The old daemon carries on: same pid, same sessions, still serving.
    let lns = lab.children.iter_mut().next().expect("the LNS");
    assert!(matches!(lns.try_wait(), Ok(None)), "the LNS still runs");
    assert_eq!(lns.id(), lns_pid);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(session_set(&lns_sock), before);
    assert!(
        sh(&[
            "ip",
            "netns",
            "exec",
            &lab.peers,
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "198.51.100.1"
        ])
        .status
        .success(),
        "traffic after the refused upgrades\n{}",
        lab.log("lns")
    );
    assert_eq!(
        life_events(&lab.log("client")).0,
        0,
        "{}",
        lab.log("client")
    );
}
