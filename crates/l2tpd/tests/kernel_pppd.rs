//! `ppp.mode = "pppd"` in a real L2TP kernel: our LNS with `datapath = "kernel"` in the
//! kernel-vm guest hands each session's PPPoL2TP socket to the real pppd (Debian's, with its
//! `pppol2tp` plugin), dialled by our client on the host side of the guest's link (userspace
//! datapath, builtin PPP). PPP comes up between pppd and our client, IP crosses pppd's `ppp0`
//! both ways, `l2tpctl` shows the session with mode pppd and pppd's pid, and pppd's own log
//! shows it ran. A hitless upgrade is refused and the daemon carries on. pppd killed → the
//! call is cleared with a CDN saying why (and the client redials a new one, with a new pppd);
//! the client's StopCCN, the LNS's own StopCCN and the LNS's shutdown each leave no pppd,
//! `pppN`, PPPoX socket or kernel tunnel behind. Then the
//! other role: our client on the kernel datapath in the guest hands its session to pppd
//! (authenticating to our userspace LNS on the host side), IP both ways, and the LNS's
//! StopCCN leaves nothing in the guest.
//!
//! Also in the same guest: a second kernel-datapath daemon on the port the first one has is
//! refused at start ("cannot bind UDP …: Address in use"), and the first one's session stays
//! up (its SO_REUSEADDR, needed by the per-tunnel sockets, once let the second one start
//! and take the traffic).
//!
//! Needs root, qemu and apt (see the `l2tp-guest` test kit); skipped loudly otherwise, a failure
//! under `CI=true`.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::guest::{self, Guest};
use support::{stop, TempDir, L2TPD};

const LNS_TOML: &str = r#"role = "lns"
[daemon]
management_socket = "/run/l2tpd.sock"
datapath = "kernel"
log_level = "debug"
[ppp]
mode = "pppd"
pppd_options = ["require-mschap-v2", "192.0.2.1:192.0.2.10", "lcp-echo-interval", "0",
                "noccp", "nodefaultroute", "logfile", "/host/pppd.log", "debug"]
[lns]
listen = ["198.51.100.2:1701"]
ipv4_pool = "192.0.2.10-192.0.2.20"
local_ipv4 = "192.0.2.1"
[[lns.users]]
name = "alice"
password = "secret"
"#;

const CTL: &str = "/host/l2tpctl --socket /run/l2tpd.sock";

/// The client on the host side, in the guest's namespace (it redials by default).
fn start_client(netns: &str, dir: &Path, sock: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("client.log"))
        .expect("log");
    Command::new("ip")
        .args(["netns", "exec", netns, L2TPD, "client"])
        .args(["--server", "198.51.100.2", "--user", "alice"])
        .args(["--password", "secret", "--socket"])
        .arg(sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn the client")
}

/// The guest LNS's one session, handed to pppd, once a pppd's `pppN` is addressed (bounded
/// wait); `not_pid` skips a pppd already seen (which may still hold `ppp0` while it says
/// goodbye to its peer, so the new one's is `ppp1`).
fn pppd_session(g: &Guest, not_pid: Option<u64>) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let (_, out) = g.run(
            20,
            &format!("{CTL} sessions --json; echo ====; ip -o addr show"),
        );
        let (json, addr) = out.split_once("====").unwrap_or((&out, ""));
        if let Some(s) = serde_json::from_str::<serde_json::Value>(json.trim())
            .ok()
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .filter(|s| s["pppd_pid"].is_u64() && s["pppd_pid"].as_u64() != not_pid)
            .filter(|_| addr.contains("inet 192.0.2.1 peer 192.0.2.10/32"))
        {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no session handed to pppd with ppp0 up on the guest LNS:\n{out}\n{}",
            g.ok("cat /host/lns.log; cat /host/pppd.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The one session of our daemon on the host side behind `sock`, once its network phase is
/// up: pppd in the guest (started after the call, under an emulated CPU) gets a generous
/// bound.
fn host_session_up(sock: &Path, log: &dyn Fn() -> String) -> Vec<l2tp_mgmt::SessionInfo> {
    let t = Instant::now();
    loop {
        let up: Vec<_> = support::sessions(sock)
            .into_iter()
            .filter(|s| s.state == "established/ppp-network" && s.ipv4.is_some())
            .collect();
        if !up.is_empty() {
            return up;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no session up on the host side:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits (bounded) until the guest has no pppd, no `pppN`, no kernel L2TP tunnel or session
/// and the LNS (when `ctl`) no session.
fn nothing_left(g: &Guest, ctl: bool, what: &str) {
    let t = Instant::now();
    loop {
        let cmd = format!(
            "{}echo running: $(pidof pppd); ip l2tp show tunnel; ip l2tp show session; \
             ls /sys/class/net; grep -c \"^TUNNEL '\" /proc/net/pppol2tp || true",
            if ctl {
                format!("{CTL} sessions; ")
            } else {
                String::new()
            }
        );
        let out = g.ok(&cmd);
        let clean = (!ctl || out.contains("No sessions."))
            && out.contains("running:\n")
            && !out.contains("Tunnel")
            && !out.contains("Session")
            && !out.contains("ppp")
            && out.trim_end().ends_with("\n0");
        if clean {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "left behind in the guest after {what}:\n{out}\n{}",
            g.ok("tail -30 /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Pings from the host side (through the client's TUN) and from the guest (through pppd's
/// `ppp0`).
fn ping_both_ways(g: &Guest) {
    let ping = Command::new("ip")
        .args(["netns", "exec", &g.netns, "ping", "-c", "3", "-i", "0.3"])
        .args(["-W", "3", "192.0.2.1"])
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "ping from the client: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    g.ok("ping -c 3 -W 3 192.0.2.10");
}

#[test]
fn lns_hands_sessions_to_pppd_and_a_second_daemon_is_refused_the_port() {
    const TEST: &str = "kernel datapath pppd guest test";
    let t0 = Instant::now();
    let l2tpctl = guest::workspace_binary("l2tpctl", "l2tpctl");
    let Some(g) = Guest::start("kpd", TEST) else {
        return; // said loudly by the gate (a failure under CI=true)
    };
    let t_boot = t0.elapsed();
    let dir = TempDir::new("kernel-pppd");
    g.put(Path::new(L2TPD), "l2tpd");
    g.put(&l2tpctl, "l2tpctl");
    std::fs::write(g.share().join("lns.toml"), LNS_TOML).expect("config");
    // pppd authenticates the client itself, from its own secrets.
    g.ok("echo 'alice * secret *' >> /etc/ppp/chap-secrets; pidof pppd; true");
    let start_lns = || {
        g.ok("chmod 600 /host/lns.toml; /host/l2tpd run --config /host/lns.toml >>/host/lns.log 2>&1 &");
        let t = Instant::now();
        while g.run(10, &format!("{CTL} stats")).0 != 0 {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "{}",
                g.ok("cat /host/lns.log")
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    start_lns();
    let log = g.ok("cat /host/lns.log");
    assert!(
        log.contains("datapath: kernel (configured; PPPoL2TP and /dev/ppp present)"),
        "{log}"
    );

    let client_sock = dir.0.join("client.sock");
    let client_log = || std::fs::read_to_string(dir.0.join("client.log")).unwrap_or_default();
    let mut client = start_client(&g.netns, &dir.0, &client_sock);
    support::wait_for(
        Duration::from_secs(20),
        "the client's management socket",
        || l2tp_mgmt::Client::connect(&client_sock).is_ok(),
    );
    let up = host_session_up(&client_sock, &client_log);
    assert_eq!(
        up[0].ipv4.map(|a| a.to_string()).as_deref(),
        Some("192.0.2.10")
    );
    let s = pppd_session(&g, None);
    let (tid, sid) = (
        s["tunnel"].as_u64().expect("tid"),
        s["session"].as_u64().expect("sid"),
    );
    let pid = s["pppd_pid"].as_u64().expect("pid");
    assert_eq!(s["ppp_mode"], "pppd", "{s}");
    assert_eq!(s["state"], "established/pppd", "{s}");
    // The pid l2tpctl shows is the one pppd running in the guest, started with the socket.
    let out = g.ok(&format!(
        "pidof pppd; cat /proc/{pid}/cmdline | tr '\\0' ' '; echo; {CTL} show session {tid} {sid}"
    ));
    assert_eq!(out.lines().next(), Some(pid.to_string().as_str()), "{out}");
    assert!(out.contains("plugin pppol2tp.so pppol2tp "), "{out}");
    assert!(
        out.contains(&format!(
            " pppol2tp_tunnel_id {tid} pppol2tp_session_id {sid} pppol2tp_lns_mode nodetach require-mschap-v2 "
        )),
        "{out}"
    );
    assert!(out.contains(&format!("  PPP by pppd (pid {pid})")), "{out}");
    assert!(out.contains("  State established/pppd,"), "{out}");

    ping_both_ways(&g);
    // A hitless upgrade is refused (each session's PPP is a pppd, a child of this daemon):
    // the daemon carries on, with its session and the same pppd.
    let (rc, out) = g.run(60, &format!("{CTL} upgrade"));
    assert_ne!(rc, 0, "{out}");
    assert!(
        out.contains("carries on") && out.contains("ppp.mode = \"pppd\""),
        "{out}"
    );
    assert_eq!(g.ok("pidof pppd").trim(), pid.to_string());
    ping_both_ways(&g);
    // pppd's own log: the plugin with our ids, the authentication it did, the addresses.
    let out = g.ok("cat /host/pppd.log; cat /proc/net/pppol2tp");
    assert!(
        out.contains(&format!(
            "PPPoL2TP options: lnsmode tid {tid} sid {sid} debugmask 0"
        )),
        "{out}"
    );
    assert!(out.contains("name = \"alice\"]"), "{out}");
    assert!(out.contains("sent [CHAP Success"), "{out}");
    assert!(out.contains("remote IP address 192.0.2.10"), "{out}");
    assert!(out.contains(&format!("'sess {tid}/{sid}'")), "{out}");

    // A second kernel-datapath daemon on the same port: refused, as in userspace mode.
    std::fs::write(
        g.share().join("lns2.toml"),
        LNS_TOML.replace("/run/l2tpd.sock", "/run/l2tpd2.sock"),
    )
    .expect("config");
    let (rc, out) = g.run(
        90,
        "chmod 600 /host/lns2.toml; /host/l2tpd run --config /host/lns2.toml 2>&1",
    );
    assert!(
        rc != 0 && rc != 137,
        "the second daemon started (rc {rc}):\n{out}"
    );
    assert!(
        out.contains(
            "cannot bind UDP 198.51.100.2:1701: Address already in use (os error 98) (another l2tpd or L2TP daemon already has this port)"
        ),
        "{out}"
    );
    // The first one's session is still up and carrying IP.
    ping_both_ways(&g);
    assert_eq!(pppd_session(&g, None)["pppd_pid"].as_u64(), Some(pid));

    // pppd dies: the LNS sees it exit, clears the call with a CDN saying why; the client
    // redials on the same tunnel and gets a new pppd.
    g.ok(&format!("kill -KILL {pid}"));
    let s2 = pppd_session(&g, Some(pid));
    let log = g.ok("cat /host/lns.log");
    let line = format!("pppd (pid {pid}) exited, killed by signal 9: call cleared (CDN result 2)");
    assert!(log.contains(&line), "{log}");
    support::wait_for(
        Duration::from_secs(10),
        "the client's session-down line",
        || client_log().contains(&format!("pppd (pid {pid}) exited, killed by signal 9")),
    );
    assert_eq!(s2["tunnel"].as_u64(), Some(tid), "the same tunnel: {s2}");
    let pid2 = s2["pppd_pid"].as_u64().expect("pid");
    assert_eq!(g.ok("pidof pppd").trim(), pid2.to_string());
    host_session_up(&client_sock, &client_log);
    ping_both_ways(&g);

    // Teardown from the client (StopCCN): pppd told to stop and reaped, nothing left.
    stop(&mut client);
    nothing_left(&g, true, "the client's StopCCN");
    let log = g.ok("cat /host/lns.log");
    assert!(log.contains(&format!("pppd (pid {pid2}) ended")), "{log}");

    // Teardown from the LNS: its StopCCN (l2tpctl close tunnel), then its shutdown.
    let _ = std::fs::remove_file(&client_sock);
    let mut client = start_client(&g.netns, &dir.0, &client_sock);
    let s3 = pppd_session(&g, Some(pid2));
    let (tid3, pid3) = (
        s3["tunnel"].as_u64().expect("tid"),
        s3["pppd_pid"].as_u64().expect("pid"),
    );
    g.ok(&format!("{CTL} close tunnel {tid3}"));
    // The client redials a new tunnel at once: what must be gone is the old one's.
    let t = Instant::now();
    loop {
        let out = g.ok("echo running: $(pidof pppd); ip l2tp show tunnel; cat /host/lns.log");
        let gone = !out
            .lines()
            .next()
            .unwrap_or_default()
            .contains(&pid3.to_string())
            && !out.contains(&format!("Tunnel {tid3},"))
            && out.contains(&format!("pppd (pid {pid3}) ended"));
        if gone {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "left behind after the LNS's StopCCN:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // On the new tunnel, the LNS shuts down (SIGTERM).
    let s4 = pppd_session(&g, Some(pid3));
    g.ok("kill $(pidof l2tpd)");
    let t = Instant::now();
    while !g.ok("pidof l2tpd; true").trim().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the LNS did not stop"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    nothing_left(&g, false, "the LNS's shutdown");
    let log = g.ok("cat /host/lns.log");
    assert!(
        log.contains(&format!("pppd (pid {}) ended", s4["pppd_pid"])),
        "{log}"
    );
    stop(&mut client);
    client_hands_its_session_to_pppd(&g, &dir.0);
    drop(g);
    eprintln!(
        "{TEST}: boot {:.1} s, whole test {:.1} s",
        t_boot.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// The other role: our client on the kernel datapath in the guest hands its session to pppd
/// (LAC side: no `pppol2tp_lns_mode`; pppd authenticates to the LNS as `bob`), dialling our
/// LNS (userspace, builtin PPP) on the host side. PPP up, `ping` both ways through pppd's
/// `ppp0`, and the LNS's StopCCN leaves nothing in the guest.
fn client_hands_its_session_to_pppd(g: &Guest, dir: &Path) {
    const CLIENT_CTL: &str = "/host/l2tpctl --socket /run/client.sock";
    let lns_sock = dir.join("host-lns.sock");
    let log = std::fs::File::create(dir.join("host-lns.log")).expect("log");
    let mut lns = Command::new("ip")
        .args(["netns", "exec", &g.netns, L2TPD, "lns"])
        .args(["--listen", "198.51.100.1:1701", "--pool"])
        .args(["203.0.113.10-203.0.113.20", "--local-ip", "203.0.113.1"])
        .args(["--user", "bob:secret", "--socket"])
        .arg(&lns_sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn the host LNS");
    let lns_log = || std::fs::read_to_string(dir.join("host-lns.log")).unwrap_or_default();
    support::wait_for(Duration::from_secs(20), "the host LNS's socket", || {
        l2tp_mgmt::Client::connect(&lns_sock).is_ok()
    });
    let client = r#"role = "client"
[daemon]
management_socket = "/run/client.sock"
datapath = "kernel"
log_level = "debug"
[ppp]
mode = "pppd"
pppd_options = ["user", "bob", "password", "secret", "noauth", "noipdefault",
                "lcp-echo-interval", "0", "nodefaultroute", "logfile", "/host/pppd-client.log",
                "debug"]
[dial]
peers = ["198.51.100.1"]
user = "bob"
password = "secret"
redial = false
"#;
    std::fs::write(g.share().join("client.toml"), client).expect("config");
    g.ok("chmod 600 /host/client.toml; /host/l2tpd run --config /host/client.toml >/host/client.log 2>&1 &");
    // A debug build loads over 9p under an emulated CPU, and pppd starts after the call:
    // the bounds are generous for a busy machine.
    let t = Instant::now();
    while g.run(10, &format!("{CLIENT_CTL} stats")).0 != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{}",
            g.ok("cat /host/client.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let up = host_session_up(&lns_sock, &|| {
        format!(
            "{}\n{}",
            lns_log(),
            g.ok("cat /host/client.log; cat /host/pppd-client.log")
        )
    });
    assert_eq!(
        up[0].ipv4.map(|a| a.to_string()).as_deref(),
        Some("203.0.113.10")
    );
    let t = Instant::now();
    let s = loop {
        let (_, out) = g.run(
            20,
            &format!("{CLIENT_CTL} sessions --json; echo ====; ip -o addr show"),
        );
        let (json, addr) = out.split_once("====").unwrap_or((&out, ""));
        let s = serde_json::from_str::<serde_json::Value>(json.trim())
            .ok()
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .filter(|s| s["pppd_pid"].is_u64())
            .filter(|_| addr.contains("inet 203.0.113.10 peer 203.0.113.1/32"));
        if let Some(s) = s {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the guest client's pppd has no address:\n{out}\n{}",
            g.ok("cat /host/client.log; cat /host/pppd-client.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let (tid, sid, pid) = (
        s["tunnel"].as_u64().expect("tid"),
        s["session"].as_u64().expect("sid"),
        s["pppd_pid"].as_u64().expect("pid"),
    );
    assert_eq!(s["ppp_mode"], "pppd", "{s}");
    let out = g.ok(&format!(
        "pidof pppd; cat /proc/{pid}/cmdline | tr '\\0' ' '; echo; cat /host/pppd-client.log"
    ));
    assert_eq!(out.lines().next(), Some(pid.to_string().as_str()), "{out}");
    assert!(
        out.contains(&format!(
            " pppol2tp_tunnel_id {tid} pppol2tp_session_id {sid} nodetach user bob "
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "PPPoL2TP options: tid {tid} sid {sid} debugmask 0"
        )),
        "{out}"
    );
    assert!(out.contains("local  IP address 203.0.113.10"), "{out}");
    g.ok("ping -c 3 -W 3 203.0.113.1");
    let ping = Command::new("ip")
        .args(["netns", "exec", &g.netns, "ping", "-c", "3", "-W", "3"])
        .arg("203.0.113.10")
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "ping from the host LNS: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    // The LNS's StopCCN: the client's pppd is reaped, nothing is left in the guest.
    stop(&mut lns);
    nothing_left(g, false, "the host LNS's StopCCN");
    let log = g.ok("cat /host/client.log; kill $(pidof l2tpd)");
    assert!(log.contains(&format!("pppd (pid {pid}) ended")), "{log}");
}
