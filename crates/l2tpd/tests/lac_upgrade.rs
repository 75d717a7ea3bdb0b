//! Hitless upgrade of a relaying LAC, over real raw sockets: `l2tpd loadgen
//! --pppoe-interface` subscribers on one end of a veth pair, `l2tpd lac` (started from flags,
//! no configuration file) on the other in a namespace this test creates, relaying each into
//! an L2TP call to `l2tpd lns` on that namespace's loopback. While the subscribers send LCP
//! echoes through the relay, the management request (what `l2tpctl upgrade` sends) hands the
//! LAC over to a second copy of its binary: the PPPoE sockets travel with `SCM_RIGHTS`, the
//! subscribers in the snapshot. Afterwards every subscriber is still up on the same PPPoE
//! session and the same L2TP call, the LNS still has every session it had, no subscriber
//! lost its session (PADT or LCP down), and the echoes were answered; the figures are
//! printed. The same on a VLAN trunk (`--vlan-trunk`, subscribers on four VLANs: its one
//! socket handed over, each subscriber still on its VLAN), and with the LAC running as
//! `daemon.user = "nobody"` (the new process started by nobody takes the sockets over
//! without any privilege). Needs root and iproute2; skipped loudly otherwise, a failure
//! under `CI=true`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response};
use support::segment::Segment;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

const N: usize = 40;

/// Ends a process that is not our child (the new LAC), by pid, and waits (bounded).
struct Adopted(u32);

impl Drop for Adopted {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(8);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
        }
    }
}

/// (interface, PPPoE id, MAC, VLANs, state, tunnel, session) of a subscriber the LAC lists.
type Listed = (
    String,
    u16,
    String,
    Vec<u16>,
    String,
    Option<u16>,
    Option<u16>,
);

/// Every subscriber the LAC lists, sorted.
fn subscribers(sock: &Path) -> Vec<Listed> {
    match support::request(sock, Request::ListPppoe) {
        Response::PppoeSessions(v) => {
            let mut v: Vec<_> = v
                .into_iter()
                .map(|s| {
                    (
                        s.interface,
                        s.pppoe_session,
                        s.mac,
                        s.vlans,
                        s.state,
                        s.tunnel,
                        s.session,
                    )
                })
                .collect();
            v.sort();
            v
        }
        other => panic!("{other:?}"),
    }
}

/// (tunnel, session, peer tunnel, peer session, address, state) of the LNS's sessions.
fn lns_sessions(sock: &Path) -> Vec<(u16, u16, u16, u16, Option<std::net::Ipv4Addr>, String)> {
    let mut v: Vec<_> = support::sessions(sock)
        .into_iter()
        .map(|s| {
            (
                s.tunnel,
                s.session,
                s.peer_tunnel,
                s.peer_session,
                s.ipv4,
                s.state,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn pppoe_subscribers_stay_up_across_an_upgrade_of_the_lac() {
    upgrade_under_load("u", false, false);
}

#[test]
fn subscribers_on_the_vlans_of_a_trunk_stay_up_across_an_upgrade_of_the_lac() {
    upgrade_under_load("t", true, false);
}

#[test]
fn a_lac_running_as_nobody_upgrades_under_its_subscribers() {
    upgrade_under_load("n", false, true);
}

/// Subscribers through the LAC (on four VLANs of a trunk when `trunk`), the LAC upgraded
/// under them. `as_nobody`: the LAC runs from a configuration file with `daemon.user =
/// "nobody"` (its PPPoE sockets opened as root, then no privilege left), and the new process
/// is started by nobody.
fn upgrade_under_load(tag: &str, trunk: bool, as_nobody: bool) {
    if !requires(
        "LAC upgrade",
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            (
                "user nobody",
                l2tp_io::privileges::lookup_user("nobody").is_ok(),
            ),
        ],
    ) {
        return;
    }
    let seg = Segment::new(tag);
    let dir = TempDir::new(&format!("lac-upgrade-{tag}"));
    let d = &dir.0;
    let (lns_sock, lac_sock) = (d.join("lns.sock"), d.join("lac.sock"));
    #[rustfmt::skip]
    let lns = seg.spawn(d, "lns", &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.100-192.0.2.199",
        "--local-ip", "192.0.2.1", "--user", "load@isp.example:load-password",
        "--secret", "wholesale", "--socket", lns_sock.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    let mut lac_args = vec![
        "lac", "--pppoe-interface", &seg.ac_if, "--lns", "127.0.0.1:1701",
        "--secret", "wholesale", "--socket", lac_sock.to_str().unwrap(),
    ];
    if trunk {
        lac_args.push("--vlan-trunk");
    }
    let config = d.join("lac.toml");
    if as_nobody {
        std::fs::write(
            &config,
            format!(
                "role = \"lac\"\n[daemon]\nmanagement_socket = \"{}\"\nuser = \"nobody\"\n\
                 [tunnel]\nsecret = \"wholesale\"\n[lac]\npppoe_interfaces = [\"{}\"]\n\
                 lns = \"127.0.0.1:1701\"\n",
                lac_sock.display(),
                seg.ac_if
            ),
        )
        .expect("LAC configuration");
        lac_args = vec!["run", "--config", config.to_str().unwrap()];
    }
    let mut lac = seg.spawn(d, "lac", &lac_args);
    if as_nobody {
        let status = format!("/proc/{}/status", lac.child.id());
        wait_for(Duration::from_secs(10), "the LAC running as nobody", || {
            std::fs::read_to_string(&status)
                .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t65534\t")))
        });
    }
    wait_for(Duration::from_secs(10), "both daemons", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
            && lns_sock.exists()
    });
    let n = N.to_string();
    #[rustfmt::skip]
    let mut gen_args = vec![
        "loadgen", "--pppoe-interface", &seg.host_if, "--subscribers", &n,
        "--user", "load@isp.example", "--password", "load-password", "--rate", "50",
        "--hold", "300", "--timeout", "60", "--echo-interval-ms", "100", "--json",
    ];
    if trunk {
        gen_args.extend(["--vlans", "100-103"]);
    }
    let mut gen = Proc::spawn(L2TPD, d, "loadgen", &gen_args);
    let lac_log = lac.log.clone();
    let logs = || {
        let text = std::fs::read_to_string(&lac_log).unwrap_or_default();
        format!("LAC:\n{text}\nLNS:\n{}", lns.log_tail())
    };
    support::wait_sessions_up(&lns_sock, N, &logs);
    wait_for(Duration::from_secs(10), "every subscriber relaying", || {
        let s = subscribers(&lac_sock);
        s.len() == N && s.iter().all(|s| s.4 == "relaying")
    });
    // Echoes through the relay for a moment first.
    std::thread::sleep(Duration::from_secs(1));
    let before = subscribers(&lac_sock);
    let lns_before = lns_sessions(&lns_sock);
    assert_eq!(lns_before.len(), N);

    let second = d.join("l2tpd-second");
    std::fs::copy(L2TPD, &second).expect("a second copy of the binary");
    let resp = support::request(
        &lac_sock,
        Request::Upgrade {
            binary: Some(second.display().to_string()),
        },
    );
    let Response::Upgraded {
        old_pid,
        new_pid,
        tunnels,
        sessions,
        pause_us,
        snapshot_bytes,
    } = resp
    else {
        panic!("upgrade refused: {resp:?}\n{}", logs());
    };
    let _new = Adopted(new_pid);
    if as_nobody {
        let status = std::fs::read_to_string(format!("/proc/{new_pid}/status")).unwrap_or_default();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("Uid:\t65534\t65534\t65534")),
            "the new LAC runs as nobody: {status}"
        );
    }
    assert_eq!(
        old_pid,
        lac.child.id(),
        "the LAC answered, not another process"
    );
    assert_eq!((tunnels, sessions), (1, N as u64));
    wait_for(Duration::from_secs(5), "the old LAC to exit", || {
        !lac.alive()
    });
    let status = lac.child.try_wait().expect("wait").expect("exited");
    assert!(status.success(), "the old LAC exited with {status}");

    // Three seconds of echoes (every 100 ms per subscriber) through the new process.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        subscribers(&lac_sock),
        before,
        "the same PPPoE sessions on the same calls\n{}",
        logs()
    );
    assert_eq!(
        lns_sessions(&lns_sock),
        lns_before,
        "the LNS's sessions are untouched\n{}",
        logs()
    );
    let st = support::stats(&lac_sock);
    let u = st.upgrade.expect("what the upgrade carried");
    assert_eq!(
        (
            u.upgrades,
            u.tunnels_resumed,
            u.tunnels_lost,
            u.sessions_lost
        ),
        (1, 1, 0, 0),
        "{u:?}"
    );
    let l = st.lac.expect("LAC stats");
    assert_eq!((l.subscribers, l.relaying), (N as u64, N as u64));
    assert_eq!(l.padt_tx, 0, "the LAC sent PADTs");
    // The LNS was told nothing: no call or tunnel ended.
    let lns_log = lns.log_text();
    for what in ["StopCCN", "CDN", "session down", "tunnel down"] {
        assert!(!lns_log.contains(what), "the LNS logged {what}:\n{lns_log}");
    }

    gen.terminate();
    wait_for(
        Duration::from_secs(15),
        "the load generator's report",
        || !gen.alive(),
    );
    let out = gen.log_text();
    let json: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report:\n{out}\n{}", logs()));
    let (requests, replies) = (
        json["echo_requests"].as_u64().unwrap_or(0),
        json["echo_replies"].as_u64().unwrap_or(0),
    );
    println!(
        "LAC upgrade{}{}: {N} subscribers carried, {} lost; echoes {replies}/{requests} answered; \
         nothing read for {:.1} ms; snapshot {snapshot_bytes} bytes",
        if trunk { " (VLAN trunk)" } else { "" },
        if as_nobody { " (as nobody)" } else { "" },
        json["lost"],
        pause_us as f64 / 1000.0
    );
    assert_eq!(json["established"], N, "{json}");
    assert_eq!(json["lost"], 0, "subscribers lost their session: {json}");
    assert!(requests > 0, "{json}");
    // Echoes delayed by the hand-over are answered late, not lost; the last ones sent may
    // still be on their way when loadgen stops counting.
    assert!(
        replies + N as u64 >= requests,
        "echoes went unanswered: {replies}/{requests}"
    );
    let new_log = lac.log_text();
    assert!(
        new_log.contains("upgrade: took over 1 tunnels and 40 sessions"),
        "{new_log}"
    );
}
