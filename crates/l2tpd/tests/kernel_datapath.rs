//! The kernel datapath in a real L2TP kernel: our LNS with `datapath = "kernel"` in the
//! kernel-vm guest (Debian's kernel with `l2tp_ppp`), dialled by our client on the host side
//! of the guest's link (userspace datapath, in the guest's host namespace). PPP comes up
//! over the session's PPP channel, IP crosses `ppp0` both ways (`ping`), `l2tpctl` shows the
//! kernel's counters (equal to `/proc/net/pppol2tp` and to what the client counted), `l2tpctl
//! set` changes SENDSEQ and REORDERTO live in the kernel, and the client's StopCCN leaves no
//! kernel tunnel, session or `pppN` behind; once more over IPv6. Then the other way round: our client on the kernel
//! datapath in the guest dials our LNS (userspace) on the host side; IP both ways, SENDSEQ
//! set live on the client's kernel session, and the LNS's StopCCN leaves nothing in the
//! guest's kernel. And xl2tpd with the real pppd as LAC (in a namespace of the guest) dials
//! our kernel-datapath LNS: PPP up (MS-CHAPv2, IPCP), ping through both `ppp0`s, and
//! xl2tpd's hangup leaves nothing on our side.
//!
//! Needs root, qemu and apt (see the `l2tp-guest` test kit); skipped loudly otherwise, a failure
//! under `CI=true`.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::guest::{self, Guest};
use support::{stop, wait_sessions_up, TempDir, L2TPD};

const LNS_TOML: &str = r#"role = "lns"
[daemon]
management_socket = "/run/l2tpd.sock"
datapath = "kernel"
log_level = "debug"
[ppp]
lcp_echo_interval = 0
quality_interval = 0
[lns]
listen = ["198.51.100.2:1701", "[2001:db8:100::2]:1701"]
ipv4_pool = "192.0.2.10-192.0.2.20"
local_ipv4 = "192.0.2.1"
[[lns.users]]
name = "alice"
password = "secret"
"#;

const CTL: &str = "/host/l2tpctl --socket /run/l2tpd.sock";

const CLIENT_TOML: &str = r#"role = "client"
[daemon]
management_socket = "/run/client.sock"
datapath = "kernel"
log_level = "debug"
[ppp]
lcp_echo_interval = 0
[dial]
peers = ["198.51.100.1"]
user = "bob"
password = "secret"
redial = false
"#;

const CLIENT_CTL: &str = "/host/l2tpctl --socket /run/client.sock";

/// The client on the host side, in the guest's namespace. No LCP echoes or quality probes
/// on either side: the counters are compared at a quiet moment.
fn start_client(netns: &str, dir: &Path, sock: &Path, server: &str) -> Child {
    let log = std::fs::File::create(dir.join("client.log")).expect("log");
    let config = dir.join("client.toml");
    let toml = format!(
        "role = \"client\"\n[daemon]\nmanagement_socket = {sock:?}\n\
         [ppp]\nlcp_echo_interval = 0\nquality_interval = 0\n\
         [dial]\npeers = [{server:?}]\nuser = \"alice\"\npassword = \"secret\"\n"
    );
    std::fs::write(&config, toml).expect("client config");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    Command::new("ip")
        .args(["netns", "exec", netns, L2TPD, "run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn the client")
}

/// The guest LNS's one session as `l2tpctl sessions --json` shows it, once its network
/// phase is up (bounded wait).
fn lns_session(g: &Guest) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let (_, out) = g.run(20, &format!("{CTL} sessions --json"));
        if let Some(s) = serde_json::from_str::<serde_json::Value>(out.trim())
            .ok()
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .filter(|s| s["state"] == "established/ppp-network" && s["interface"].is_string())
        {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "no session up on the guest LNS:\n{out}\n{}",
            g.ok("cat /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The kernel's counters of session `tid/sid` in `/proc/net/pppol2tp`: (tx packets, tx
/// bytes, rx packets, rx bytes).
fn proc_counters(proc_text: &str, tid: u64, sid: u64) -> (u64, u64, u64, u64) {
    let name = format!("'sess {tid}/{sid}'");
    let mut lines = proc_text.lines().skip_while(|l| !l.contains(&name));
    lines
        .next()
        .unwrap_or_else(|| panic!("{name} not in:\n{proc_text}"));
    let _options = lines.next();
    // "   nr/ns tx-pkts/bytes/errs rx-pkts/bytes/errs"
    let counters = lines.next().expect("counters line");
    let f: Vec<&str> = counters.split_whitespace().collect();
    let tx: Vec<u64> = f[1].split('/').map(|n| n.parse().expect("tx")).collect();
    let rx: Vec<u64> = f[2].split('/').map(|n| n.parse().expect("rx")).collect();
    (tx[0], tx[1], rx[0], rx[1])
}

#[test]
fn lns_and_client_on_the_kernel_datapath_in_a_real_kernel() {
    const TEST: &str = "kernel datapath guest test";
    let t0 = Instant::now();
    let l2tpctl = guest::workspace_binary("l2tpctl", "l2tpctl");
    let Some(g) = Guest::start("kdp", TEST) else {
        return; // said loudly by the gate (a failure under CI=true)
    };
    let t_boot = t0.elapsed();
    let dir = TempDir::new("kernel-dp");
    g.put(Path::new(L2TPD), "l2tpd");
    g.put(&l2tpctl, "l2tpctl");
    std::fs::write(g.share().join("lns.toml"), LNS_TOML).expect("config");
    g.ok("chmod 600 /host/lns.toml; /host/l2tpd run --config /host/lns.toml >/host/lns.log 2>&1 &");
    // A debug build loads over 9p under an emulated CPU: seconds.
    let t = Instant::now();
    while g.run(10, &format!("{CTL} stats")).0 != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{}",
            g.ok("cat /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = g.ok("cat /host/lns.log");
    assert!(
        log.contains("datapath: kernel (configured; PPPoL2TP and /dev/ppp present)"),
        "{log}"
    );

    let client_sock = dir.0.join("client.sock");
    let mut client = start_client(&g.netns, &dir.0, &client_sock, "198.51.100.2");
    let client_log = || std::fs::read_to_string(dir.0.join("client.log")).unwrap_or_default();
    support::wait_for(
        Duration::from_secs(20),
        "the client's management socket",
        || l2tp_mgmt::Client::connect(&client_sock).is_ok(),
    );
    let up = wait_sessions_up(&client_sock, 1, &client_log);
    let s = lns_session(&g);
    let (tid, sid) = (
        s["tunnel"].as_u64().expect("tid"),
        s["session"].as_u64().expect("sid"),
    );
    assert_eq!(s["interface"], "ppp0", "{s}");
    assert_eq!(s["ipv4"], "192.0.2.10", "{s}");
    assert_eq!(
        up[0].ipv4.map(|a| a.to_string()).as_deref(),
        Some("192.0.2.10")
    );
    let log = g.ok("cat /host/lns.log; ip -o addr show dev ppp0");
    assert!(
        log.contains(&format!("session {tid}/{sid}: interface ppp0 up (kernel)")),
        "{log}"
    );
    assert!(log.contains("inet 192.0.2.1 peer 192.0.2.10/32"), "{log}");

    // IP both ways through ppp0: the client's pings to the LNS's address, the guest's to the
    // client's.
    let ping = Command::new("ip")
        .args([
            "netns", "exec", &g.netns, "ping", "-c", "5", "-i", "0.3", "-W", "3",
        ])
        .arg("192.0.2.1")
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "ping from the client: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    g.ok("ping -c 3 -W 3 192.0.2.10");

    // The counters: l2tpctl's (PPPIOCGL2TPSTATS) are the kernel's, and the kernel received
    // what the client sent (and the other way round). Read at a quiet moment: LNS, client,
    // LNS again; the two LNS readings agree.
    let mut matched = false;
    for _ in 0..5 {
        // l2tpctl, /proc, l2tpctl: when both l2tpctl readings agree, nothing moved in
        // between and /proc must say the same.
        let out = g.ok(&format!(
            "{CTL} show session {tid} {sid} --json; echo ====; cat /proc/net/pppol2tp; \
             echo ====; {CTL} show session {tid} {sid} --json"
        ));
        let parts: Vec<&str> = out.split("====").collect();
        let counters = |json: &str| {
            let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
            let st = &v["stats"];
            let get = |k: &str| st[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
            (
                get("tx_packets"),
                get("tx_bytes"),
                get("rx_packets"),
                get("rx_bytes"),
            )
        };
        let (before, after) = (counters(parts[0]), counters(parts[2]));
        if before != after {
            continue;
        }
        let kernel = proc_counters(parts[1], tid, sid);
        assert_eq!(
            before, kernel,
            "l2tpctl and /proc/net/pppol2tp disagree:\n{out}"
        );
        // 5 echo requests and 3 replies in each direction at least, besides PPP's frames.
        assert!(kernel.0 >= 8 && kernel.2 >= 8, "{out}");
        let c = support::sessions(&client_sock);
        let again = g.ok("cat /proc/net/pppol2tp; echo ====; cat /host/lns.log");
        let (again_proc, lns_log) = again.split_once("====").expect("two parts");
        if proc_counters(again_proc, tid, sid) == kernel {
            // Frames that reached the LNS before its kernel session existed (a LAC's first
            // LCP frame right behind its ICCN) were delivered by the daemon, not the kernel.
            let early = lns_log
                .matches("passed up before the kernel session existed")
                .count() as u64;
            assert_eq!(
                c[0].stats.rx_packets, kernel.0,
                "client rx vs the kernel's tx"
            );
            assert_eq!(
                c[0].stats.tx_packets,
                kernel.2 + early,
                "client tx vs the kernel's rx + {early} early frames"
            );
            matched = true;
            break;
        }
    }
    assert!(matched, "the counters never stood still");

    // Options live: SENDSEQ and REORDERTO on the session socket, seen by the kernel (which
    // keeps REORDERTO in ticks: 200 ms is a whole number of them at any HZ).
    g.ok(&format!(
        "{CTL} set session {tid} {sid} sendseq on && {CTL} set session {tid} {sid} reorderto 200"
    ));
    let out = g.ok("ip l2tp show session; cat /proc/net/pppol2tp");
    assert!(out.contains("sequence numbering: send"), "{out}");
    assert!(out.contains("reorder timeout: 200"), "{out}");
    let v: serde_json::Value = serde_json::from_str(
        g.ok(&format!("{CTL} show session {tid} {sid} --json"))
            .trim(),
    )
    .expect("json");
    assert_eq!(v["options"]["send_seq"], true, "{v}");
    assert_eq!(v["options"]["reorder_timeout_ms"], 200, "{v}");
    // Still carrying IP with sequence numbers on.
    g.ok("ping -c 2 -W 3 192.0.2.10");

    // Teardown from the client: StopCCN; the LNS closes the kernel's session and tunnel.
    stop(&mut client);
    let t = Instant::now();
    loop {
        let out = g.ok(&format!(
            "{CTL} sessions; ip l2tp show tunnel; ls /sys/class/net; grep -c \"^TUNNEL '\" /proc/net/pppol2tp || true"
        ));
        let clean = out.contains("No sessions.")
            && !out.contains("Tunnel")
            && !out.contains("ppp")
            && out.trim_end().ends_with("\n0");
        if clean {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "left behind in the guest:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // The same over IPv6: the tunnel's sockets with sockaddr_pppol2tpin6.
    let _ = std::fs::remove_file(&client_sock);
    let mut client = start_client(&g.netns, &dir.0, &client_sock, "[2001:db8:100::2]:1701");
    support::wait_for(
        Duration::from_secs(20),
        "the client's management socket",
        || l2tp_mgmt::Client::connect(&client_sock).is_ok(),
    );
    wait_sessions_up(&client_sock, 1, &client_log);
    let s = lns_session(&g);
    assert_eq!(s["interface"], "ppp0", "{s}");
    // The client's TUN opens just after its IPCP: until then a packet to it is dropped.
    support::wait_for(Duration::from_secs(20), "the client's interface", || {
        client_log().contains(": interface l2tp0 up")
    });
    let peer = s["ipv4"]
        .as_str()
        .expect("the client's address")
        .to_string();
    let out = g.ok(&format!("ip l2tp show tunnel; ping -c 2 -W 3 {peer}"));
    assert!(
        out.contains("From 2001:db8:100::2 to 2001:db8:100::1"),
        "{out}"
    );
    stop(&mut client);
    let t = Instant::now();
    loop {
        let out = g.ok(&format!(
            "{CTL} sessions; ip l2tp show tunnel; ls /sys/class/net"
        ));
        if out.contains("No sessions.") && !out.contains("Tunnel") && !out.contains("ppp") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "left behind in the guest (IPv6):\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    g.ok("kill $(pidof l2tpd)");

    xl2tpd_lac_to_the_kernel_lns(&g);
    client_on_the_kernel_datapath(&g, &dir.0);
    drop(g);
    eprintln!(
        "{TEST}: boot {:.1} s, whole test {:.1} s",
        t_boot.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// xl2tpd + pppd as LAC in namespace `lac` of the guest (behind a veth pair) against our LNS
/// on the kernel datapath in the guest's root namespace.
fn xl2tpd_lac_to_the_kernel_lns(g: &Guest) {
    let lns = LNS_TOML
        .replace("198.51.100.2:1701", "203.0.113.1:1701")
        .replace("\"alice\"", "\"l2tptest\"")
        .replace("\"secret\"", "\"l2tptest\"");
    std::fs::write(g.share().join("lns-xl2tpd.toml"), lns).expect("config");
    let lac = g.ok("cat /etc/xl2tpd/xl2tpd-lac.conf");
    let lac: String = lac
        .lines()
        .map(|l| {
            if l.starts_with("lns = ") {
                "lns = 203.0.113.1"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(g.share().join("xl2tpd-lac.conf"), lac + "\n").expect("config");
    g.ok(
        "mkdir -p /run/xl2tpd && ip netns add lac && ip link add vlns type veth peer name vlac \
         && ip link set vlac netns lac && ip addr add 203.0.113.1/24 dev vlns && ip link set vlns up \
         && ip -n lac addr add 203.0.113.2/24 dev vlac && ip -n lac link set vlac up \
         && ip -n lac link set lo up && chmod 600 /host/lns-xl2tpd.toml \
         && (/host/l2tpd run --config /host/lns-xl2tpd.toml >/host/lns-xl2tpd.log 2>&1 &)",
    );
    let t = Instant::now();
    while g.run(10, &format!("{CTL} stats")).0 != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{}",
            g.ok("cat /host/lns-xl2tpd.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    g.ok(
        "ip netns exec lac xl2tpd -c /host/xl2tpd-lac.conf -p /run/xl2tpd-lac.pid \
         -C /run/xl2tpd/lac-control >/dev/null 2>&1 && sleep 1 && echo 'c host' > /run/xl2tpd/lac-control",
    );
    let s = lns_session(g);
    assert_eq!(s["user"], "l2tptest", "{s}");
    assert_eq!(s["interface"], "ppp0", "{s}");
    let t = Instant::now();
    while g
        .run(
            10,
            "ip -n lac -o addr show dev ppp0 | grep -q 'peer 192.0.2.1/32'",
        )
        .0
        != 0
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "pppd's ppp0 never got its address:\n{}",
            g.ok("tail -20 /var/log/pppd-lac.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    g.ok("ip netns exec lac ping -c 3 -W 3 192.0.2.1 && ping -c 2 -W 3 192.0.2.10");
    let out = g.ok("cat /proc/net/pppol2tp");
    let (tx, _, rx, _) = proc_counters(
        &out,
        s["tunnel"].as_u64().expect("tid"),
        s["session"].as_u64().expect("sid"),
    );
    assert!(tx >= 5 && rx >= 5, "{out}");
    // xl2tpd hangs up (StopCCN): nothing left on our side.
    g.ok("echo 'd host' > /run/xl2tpd/lac-control");
    let t = Instant::now();
    loop {
        let out = g.ok(&format!(
            "{CTL} sessions; ip l2tp show tunnel; ls /sys/class/net; grep -c \"^TUNNEL '\" /proc/net/pppol2tp || true"
        ));
        if out.contains("No sessions.")
            && !out.contains("Tunnel")
            && !out.contains("ppp")
            && out.trim_end().ends_with("\n0")
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "left behind after xl2tpd's hangup:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    g.ok("kill $(pidof l2tpd) $(cat /run/xl2tpd-lac.pid); ip netns del lac; ip link del vlns 2>/dev/null; true");
}

/// The l2tpctl binary (built once by the test).
fn guest_l2tpctl() -> std::path::PathBuf {
    guest::workspace_binary("l2tpctl", "l2tpctl")
}

/// Our LNS on the host side (userspace, per-session TUN), our client in the guest on the
/// kernel datapath.
fn client_on_the_kernel_datapath(g: &Guest, dir: &Path) {
    let lns_sock = dir.join("host-lns.sock");
    let log = std::fs::File::create(dir.join("host-lns.log")).expect("log");
    let mut lns = Command::new("ip")
        .args(["netns", "exec", &g.netns, L2TPD, "lns"])
        .args([
            "--listen",
            "198.51.100.1:1701",
            "--pool",
            "203.0.113.10-203.0.113.20",
        ])
        .args([
            "--local-ip",
            "203.0.113.1",
            "--user",
            "bob:secret",
            "--socket",
        ])
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
    std::fs::write(g.share().join("client.toml"), CLIENT_TOML).expect("config");
    g.ok("chmod 600 /host/client.toml; /host/l2tpd run --config /host/client.toml >/host/client.log 2>&1 &");
    let up = wait_sessions_up(&lns_sock, 1, &lns_log);
    assert_eq!(
        up[0].ipv4.map(|a| a.to_string()).as_deref(),
        Some("203.0.113.10")
    );
    let t = Instant::now();
    let (tid, sid) = loop {
        let (_, out) = g.run(20, &format!("{CLIENT_CTL} sessions --json"));
        let s = serde_json::from_str::<serde_json::Value>(out.trim())
            .ok()
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .filter(|s| s["interface"] == "ppp0");
        if let Some(s) = s {
            break (
                s["tunnel"].as_u64().expect("tid"),
                s["session"].as_u64().expect("sid"),
            );
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "the guest client has no ppp0:\n{out}\n{}",
            g.ok("cat /host/client.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let log = g.ok("cat /host/client.log; ip -o addr show dev ppp0");
    assert!(
        log.contains("datapath: kernel (configured; PPPoL2TP and /dev/ppp present)"),
        "{log}"
    );
    assert!(
        log.contains("inet 203.0.113.10 peer 203.0.113.1/32"),
        "{log}"
    );
    g.ok("ping -c 3 -W 3 203.0.113.1");
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &g.netns,
            "ping",
            "-c",
            "3",
            "-W",
            "3",
            "203.0.113.10",
        ])
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "ping from the host LNS: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let out = g.ok(&format!(
        "cat /proc/net/pppol2tp; {CLIENT_CTL} show session {tid} {sid} --json"
    ));
    let (tx, _, rx, _) = proc_counters(&out, tid, sid);
    assert!(tx >= 6 && rx >= 6, "3 echoes each way at least:\n{out}");

    // Sequencing: the LNS decides (RFC 2661 §5.4), so the LNS turns SENDSEQ on and the
    // client's kernel session follows it; RECVSEQ and REORDERTO are set live on the client.
    let lns_ctl = |args: &str| {
        let out = Command::new(guest_l2tpctl())
            .arg("--socket")
            .arg(&lns_sock)
            .args(args.split_whitespace())
            .output()
            .expect("l2tpctl");
        assert!(out.status.success(), "l2tpctl {args}: {out:?}");
    };
    lns_ctl(&format!(
        "set session {} {} sendseq on",
        up[0].tunnel, up[0].session
    ));
    g.ok("ping -c 2 -W 3 203.0.113.1");
    g.ok(&format!(
        "{CLIENT_CTL} set session {tid} {sid} recvseq on && {CLIENT_CTL} set session {tid} {sid} reorderto 200"
    ));
    let out = g.ok("cat /proc/net/pppol2tp; ip l2tp show session");
    let name = format!("'sess {tid}/{sid}'");
    let opts = out
        .lines()
        .skip_while(|l| !l.contains(&name))
        .nth(1)
        .unwrap_or_default();
    // "mtu/mru/rcvseq/sendseq/lns debug reorderto"
    assert!(opts.contains("/R/S/LAC"), "{out}");
    assert!(opts.trim_end().ends_with(" 200"), "{out}");
    assert!(out.contains("reorder timeout: 200"), "{out}");
    g.ok("ping -c 2 -W 3 203.0.113.1");

    // Teardown from the LNS: its StopCCN closes the client's kernel tunnel and ppp0.
    stop(&mut lns);
    let t = Instant::now();
    loop {
        let out = g.ok(&format!(
            "{CLIENT_CTL} sessions; ip l2tp show tunnel; ls /sys/class/net"
        ));
        if out.contains("No sessions.") && !out.contains("Tunnel") && !out.contains("ppp") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "left behind in the guest after the LNS's StopCCN:\n{out}\n{}",
            g.ok("cat /host/client.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    g.ok("kill $(pidof l2tpd)");
}
