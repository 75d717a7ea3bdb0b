//! Tunnel switching with the daemons on loopback: `l2tpd loadgen` (L2TP clients with their
//! own PPP) dials a switching LAC (`role = "lac"`, `[lac] switching = true`), which relays
//! each call into a call toward the LNS of `lac.lns`; the LNS terminates the PPP. The
//! sessions must come up on the LNS with the user's address and their tunnel from the
//! switch, be listed by the switch (`l2tpctl pppoe`: interface `l2tp`, relaying, frames both
//! ways), and a stopped loadgen must clear the calls on both hops. And the switch upgrades
//! (`l2tpctl upgrade`) under its calls: each one relayed on by the new process, the LNS's
//! sessions untouched, and cleared on both hops by the new process when the loadgen goes.
//! No root needed.

mod support;

use std::time::{Duration, Instant};

use support::{request, start_lns, wait_for, wait_sessions_up, Proc, TempDir};

/// The switch: listens on a free loopback port, sends everyone to `lns`.
fn start_switch(
    dir: &std::path::Path,
    lns: std::net::SocketAddr,
) -> (Proc, std::net::SocketAddr, std::path::PathBuf) {
    let port = support::free_udp_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let sock = dir.join("lts.sock");
    let cfg = dir.join("lts.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"role = "lac"
[daemon]
management_socket = "{sock}"
[tunnel]
hello_interval = 60
[lac]
switching = true
listen = ["{addr}"]
lns = "{lns}"
"#,
            sock = sock.display()
        ),
    )
    .unwrap();
    let p = Proc::l2tpd(dir, "lts", &["run", "--config", cfg.to_str().unwrap()]);
    let t0 = Instant::now();
    while l2tp_mgmt::Client::connect(&sock).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "switch did not start:\n{}",
            p.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (p, addr, sock)
}

fn switched(sock: &std::path::Path) -> Vec<l2tp_mgmt::PppoeSessionInfo> {
    match request(sock, l2tp_mgmt::Request::ListPppoe) {
        l2tp_mgmt::Response::PppoeSessions(v) => v,
        r => panic!("ListPppoe answered {r:?}"),
    }
}

#[test]
fn loadgen_calls_through_a_switching_lac_come_up_on_the_lns() {
    let dir = TempDir::new("lts-daemon");
    let (lns, lns_addr, lns_sock) = start_lns(&dir.0, "");
    let (lts, lts_addr, lts_sock) = start_switch(&dir.0, lns_addr);
    let gen = Proc::loadgen(&dir.0, lts_addr, 1, 4, 60);
    let logs = || format!("LNS:\n{}\nLTS:\n{}", lns.log_tail(), lts.log_tail());
    let up = wait_sessions_up(&lns_sock, 4, &logs);
    assert!(
        up.iter().all(|s| s.user.as_deref() == Some("alice")),
        "{up:?}"
    );
    // The LNS's calls come from the switch's socket, not the loadgen's.
    let tunnels = match request(&lns_sock, l2tp_mgmt::Request::ListTunnels) {
        l2tp_mgmt::Response::Tunnels(t) => t,
        r => panic!("ListTunnels answered {r:?}"),
    };
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert_eq!(tunnels[0].peer_addr, lts_addr.to_string());
    // The switch relays the four calls, frames both ways (LCP echoes every second).
    wait_for(Duration::from_secs(10), "frames relayed both ways", || {
        let s = switched(&lts_sock);
        s.len() == 4
            && s.iter().all(|c| {
                c.interface == "l2tp"
                    && c.state == "relaying"
                    && c.up_frames > 0
                    && c.down_frames > 0
            })
    });

    // The loadgen goes away: its calls end, and the switch clears them toward the LNS.
    gen.terminate();
    wait_for(
        Duration::from_secs(20),
        "calls cleared on both hops",
        || switched(&lts_sock).is_empty() && support::sessions(&lns_sock).is_empty(),
    );
}

/// Ends a process that is not our child (the new switch), by pid, and waits (bounded).
struct Adopted(u32);

impl Drop for Adopted {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        for sig in ["-TERM", "-KILL"] {
            let _ = std::process::Command::new("kill")
                .args([sig, &pid])
                .status();
            let deadline = Instant::now() + Duration::from_secs(8);
            while std::path::Path::new(&format!("/proc/{pid}")).exists()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
    }
}

/// (incoming tunnel, incoming session, state) of each switched call, sorted.
fn calls(sock: &std::path::Path) -> Vec<(Option<u16>, Option<u16>, String)> {
    let mut v: Vec<_> = switched(sock)
        .into_iter()
        .map(|c| (c.tunnel, c.session, c.state))
        .collect();
    v.sort();
    v
}

#[test]
fn switched_calls_survive_an_upgrade_of_the_switch() {
    let dir = TempDir::new("lts-upgrade");
    let (lns, lns_addr, lns_sock) = start_lns(&dir.0, "");
    let (mut lts, lts_addr, lts_sock) = start_switch(&dir.0, lns_addr);
    let gen = Proc::loadgen(&dir.0, lts_addr, 1, 4, 60);
    let lts_log = lts.log.clone();
    let logs = || {
        let text = std::fs::read_to_string(&lts_log).unwrap_or_default();
        format!("LNS:\n{}\nLTS:\n{text}", lns.log_tail())
    };
    wait_sessions_up(&lns_sock, 4, &logs);
    wait_for(Duration::from_secs(10), "four calls relayed", || {
        let s = switched(&lts_sock);
        s.len() == 4 && s.iter().all(|c| c.state == "relaying")
    });
    let before = calls(&lts_sock);
    let lns_before: Vec<_> = support::sessions(&lns_sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4))
        .collect();
    let frames_before: u64 = switched(&lts_sock).iter().map(|c| c.down_frames).sum();

    let second = dir.0.join("l2tpd-second");
    std::fs::copy(env!("CARGO_BIN_EXE_l2tpd"), &second).expect("a second copy of the binary");
    let resp = request(
        &lts_sock,
        l2tp_mgmt::Request::Upgrade {
            binary: Some(second.display().to_string()),
        },
    );
    let l2tp_mgmt::Response::Upgraded {
        new_pid,
        tunnels,
        sessions,
        ..
    } = resp
    else {
        panic!("upgrade refused: {resp:?}\n{}", logs());
    };
    let _new = Adopted(new_pid);
    // The loadgen's tunnel in, the LNS's out; the four switched calls.
    assert_eq!((tunnels, sessions), (2, 4));
    wait_for(Duration::from_secs(5), "the old switch to exit", || {
        !lts.alive()
    });

    // The LNS's echoes (every second) keep crossing the switch, now the new process.
    wait_for(
        Duration::from_secs(10),
        "frames relayed after the upgrade",
        || {
            switched(&lts_sock)
                .iter()
                .map(|c| c.down_frames)
                .sum::<u64>()
                > frames_before + 8
        },
    );
    assert_eq!(calls(&lts_sock), before, "{}", logs());
    let lns_after: Vec<_> = support::sessions(&lns_sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4))
        .collect();
    assert_eq!(lns_after, lns_before, "{}", logs());

    // The carried calls still end on both hops when the loadgen goes.
    gen.terminate();
    wait_for(
        Duration::from_secs(20),
        "calls cleared on both hops",
        || switched(&lts_sock).is_empty() && support::sessions(&lns_sock).is_empty(),
    );
}
