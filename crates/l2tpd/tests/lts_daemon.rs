//! Tunnel switching with the daemons on loopback: `l2tpd loadgen` (L2TP clients with their
//! own PPP) dials a switching LAC (`role = "lac"`, `[lac] switching = true`), which relays
//! each call into a call toward the LNS of `lac.lns`; the LNS terminates the PPP. The
//! sessions must come up on the LNS with the user's address and their tunnel from the
//! switch, be listed by the switch (`l2tpctl pppoe`: interface `l2tp`, relaying, frames both
//! ways), and a stopped loadgen must clear the calls on both hops. No root needed.

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
