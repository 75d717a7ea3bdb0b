//! Hitless upgrade on the kernel datapath, in a real L2TP kernel: our LNS with
//! `datapath = "kernel"` in the kernel-vm guest (Debian's kernel with `l2tp_ppp`), with two
//! peers: our client on the host side of the guest's link (userspace datapath, a TUN, a
//! continuous `ping` through it) and xl2tpd with the real pppd as LAC in a namespace of the
//! guest (LCP echoes every second). LCP echoes and HELLOs every 1–2 s on our side too.
//!
//! Upgrades a binary refuses leave the old process running with its sessions, even when the
//! refusing process had taken (and closed) its copies of the kernel's descriptors: `/bin/true`
//! (exits without a word), a configuration asking for the userspace datapath, a configuration
//! of another role. Then `l2tpctl upgrade` to a second copy of the binary, and SIGUSR2 to
//! the new process: the kernel's tunnels and sessions are the same objects (same ids in
//! `/proc/net/pppol2tp`, counters going on, `pppN` with the same ifindex, addresses, routes
//! and a qdisc set before), the sessions are the same for `l2tpctl`, the peers logged no
//! StopCCN, CDN or LCP going down (our client: no session/tunnel down, no IPCP up again, no
//! control retransmission; pppd and xl2tpd: nothing terminated), the control channel's
//! counters go on. The ping gap is measured and printed (not asserted: tests never assert
//! timings). Then the peers hang up and the new process closes what it took over.
//!
//! And the client role: our client on the kernel datapath in the guest, dialling our LNS on
//! the host side, upgraded under a ping: the same kernel objects afterwards, nothing down on
//! the LNS, and the LNS's StopCCN leaves nothing in the guest.
//!
//! Needs root, qemu and apt (see the `l2tp-guest` test kit); skipped loudly otherwise, a failure
//! under `CI=true`.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::guest::{self, Guest};
use support::{stop, wait_sessions_up, TempDir, L2TPD};

/// Puts the l2tpd binary in the share as `name`, without its debug information: the test
/// copies both binaries into the guest's memory (`/run`), where two debug builds with theirs
/// (over 100 MB each) do not fit. `strip` is binutils' (the toolchain's linker needs it);
/// without it the whole binary goes.
fn put_l2tpd(g: &Guest, name: &str) {
    let to = g.share().join(name);
    let stripped = Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&to)
        .arg(L2TPD)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        g.put(Path::new(L2TPD), name);
    }
}

const LNS_TOML: &str = r#"role = "lns"
[daemon]
management_socket = "/run/l2tpd.sock"
datapath = "kernel"
log_level = "info"
[tunnel]
hello_interval = 2
[ppp]
lcp_echo_interval = 1
quality_interval = 0
[lns]
listen = ["198.51.100.2:1701", "203.0.113.1:1701"]
ipv4_pool = "192.0.2.10-192.0.2.20"
local_ipv4 = "192.0.2.1"
[[lns.users]]
name = "alice"
password = "secret"
[[lns.users]]
name = "l2tptest"
password = "l2tptest"
"#;

const CTL: &str = "/host/l2tpctl --socket /run/l2tpd.sock";

/// pppd's options as xl2tpd's LAC: LCP echoes every second (three unanswered: down).
const PPPD_LAC: &str = "name l2tptest\nnoauth\nnoccp\nmtu 1400\nmru 1400\nnodefaultroute\n\
                        lcp-echo-interval 1\nlcp-echo-failure 3\ndebug\nlogfile /host/pppd-lac.log\n";

const XL2TPD_LAC: &str = "[global]\nport = 1701\naccess control = no\ndebug tunnel = yes\n\
                          [lac host]\nlns = 203.0.113.1\nname = l2tptest\n\
                          pppoptfile = /host/options.lac\nlength bit = yes\nredial = no\n\
                          autodial = no\n";

/// Our client on the host side, in the guest's namespace: LCP echoes every second.
fn start_client(netns: &str, dir: &Path, sock: &Path) -> Child {
    let log = std::fs::File::create(dir.join("client.log")).expect("log");
    let config = dir.join("client.toml");
    let toml = format!(
        "role = \"client\"\n[daemon]\nmanagement_socket = {sock:?}\nlog_level = \"info\"\n\
         [tunnel]\nhello_interval = 2\n[ppp]\nlcp_echo_interval = 1\nquality_interval = 0\n\
         [dial]\npeers = [\"198.51.100.2\"]\nuser = \"alice\"\npassword = \"secret\"\n"
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

/// The guest LNS's sessions (tunnel, session, interface, address, state), sorted.
fn lns_sessions(g: &Guest) -> Vec<(u64, u64, String, String, String)> {
    let (_, out) = g.run(30, &format!("{CTL} sessions --json"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_default();
    let mut s: Vec<_> = v
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (
                s["tunnel"].as_u64().unwrap_or_default(),
                s["session"].as_u64().unwrap_or_default(),
                text("interface"),
                text("ipv4"),
                text("state"),
            )
        })
        .collect();
    s.sort();
    s
}

/// The control counters (sent, retransmitted, received, duplicates) of each tunnel of the
/// guest LNS, by peer address.
fn lns_control(g: &Guest) -> Vec<(String, [u64; 4])> {
    let out = g.ok(&format!("{CTL} tunnels --json"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("tunnels json");
    let mut t: Vec<_> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            let c = &t["control"];
            let n = |k: &str| c[k].as_u64().unwrap_or_default();
            (
                t["peer_addr"].as_str().unwrap_or_default().to_string(),
                [
                    n("sent"),
                    n("retransmitted"),
                    n("received"),
                    n("duplicates"),
                ],
            )
        })
        .collect();
    t.sort();
    t
}

/// The pids of l2tpd in the guest (either copy).
fn lns_pids(g: &Guest) -> Vec<u32> {
    let (_, out) = g.run(10, "pidof l2tpd l2tpd-new");
    let mut v: Vec<u32> = out
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    v.sort();
    v
}

/// What must not change in the guest's kernel: the PPP interfaces (ifindex, name), their
/// addresses and routes, the qdisc set on `ppp0`, and the L2TP tunnels and sessions by id.
fn kernel_objects(g: &Guest) -> String {
    g.ok(
        "ip -o link show | grep -o '^[0-9]*: ppp[0-9]*'; ip -o -4 addr show | grep ' ppp' \
         | awk '{print $2, $4, $6}'; ip route show | grep ' ppp'; tc qdisc show dev ppp0 \
         | grep -o '^qdisc tbf [^ ]* root'; grep -o \"\\(TUNNEL\\|SESSION\\) '[^']*'\" \
         /proc/net/pppol2tp | sort",
    )
}

/// The kernel's (tx packets, rx packets) of session `tid/sid` in `/proc/net/pppol2tp`.
fn proc_counters(g: &Guest, tid: u64, sid: u64) -> (u64, u64) {
    let text = g.ok("cat /proc/net/pppol2tp");
    let name = format!("'sess {tid}/{sid}'");
    let mut lines = text.lines().skip_while(|l| !l.contains(&name));
    lines
        .next()
        .unwrap_or_else(|| panic!("{name} not in:\n{text}"));
    let _options = lines.next();
    // "   nr/ns tx-pkts/bytes/errs rx-pkts/bytes/errs"
    let f: Vec<&str> = lines
        .next()
        .expect("counters line")
        .split_whitespace()
        .collect();
    let first = |s: &str| s.split('/').next().and_then(|n| n.parse().ok());
    (first(f[1]).expect("tx"), first(f[2]).expect("rx"))
}

fn count(text: &str, what: &[&str]) -> usize {
    text.lines()
        .filter(|l| what.iter().any(|w| l.contains(w)))
        .count()
}

/// Lines of our client's log saying a session or tunnel went down, or PPP came up again.
fn client_events(log: &str) -> usize {
    count(log, &["session down", "tunnel down", "IPCP up", "LCP down"])
}

/// Lines of pppd's and xl2tpd's logs saying the link, call or tunnel ended.
fn lac_events(g: &Guest) -> (usize, String) {
    let out = g.ok("cat /host/pppd-lac.log /host/xl2tpd.log");
    let ended = [
        "Connection terminated",
        "LCP terminated",
        "Hangup",
        "Modem hangup",
        "No response to",
        "echo-requests",
        "StopCCN",
        "CDN",
        "Connection closed",
        "disconnect",
    ];
    (count(&out, &ended), out)
}

/// (timestamp, icmp_seq) of each reply in `ping -D` output.
fn ping_replies(text: &str) -> Vec<(f64, u64)> {
    text.lines()
        .filter_map(|l| {
            let ts = l.strip_prefix('[')?.split(']').next()?.parse().ok()?;
            let seq = l
                .split("icmp_seq=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            Some((ts, seq))
        })
        .collect()
}

/// The icmp_seq of each reply in busybox `ping` output.
fn busybox_replies(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.split("seq=").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// `l2tpctl upgrade` in the guest; its exit code and output.
fn upgrade(g: &Guest, args: &str) -> (i32, String) {
    g.run(60, &format!("{CTL} upgrade {args}"))
}

#[test]
fn the_kernel_datapath_lns_upgrades_hitlessly_in_a_real_kernel() {
    const TEST: &str = "kernel datapath upgrade guest test";
    let t0 = Instant::now();
    let l2tpctl = guest::workspace_binary("l2tpctl", "l2tpctl");
    let Some(g) = Guest::start("kup", TEST) else {
        return; // said loudly by the gate (a failure under CI=true)
    };
    let dir = TempDir::new("kernel-upgrade");
    put_l2tpd(&g, "l2tpd");
    put_l2tpd(&g, "l2tpd-new");
    g.put(&l2tpctl, "l2tpctl");
    std::fs::write(g.share().join("lns.toml"), LNS_TOML).expect("config");
    std::fs::write(g.share().join("options.lac"), PPPD_LAC).expect("pppd options");
    std::fs::write(g.share().join("xl2tpd-lac.conf"), XL2TPD_LAC).expect("xl2tpd config");
    // The binaries in the guest's memory: the share (9p without a cache, under an emulated
    // CPU on a busy host) takes seconds to page a debug build in, and a new process has
    // `upgrade::READY_TIMEOUT` (8 s) to say it is ready.
    g.ok("mkdir -p /run/bin && cp /host/l2tpd /host/l2tpd-new /run/bin/");
    // The LAC's namespace in the guest (203.0.113.0/24), then the LNS.
    g.ok(
        "mkdir -p /run/xl2tpd && ip netns add lac && ip link add vlns type veth peer name vlac \
         && ip link set vlac netns lac && ip addr add 203.0.113.1/24 dev vlns && ip link set vlns up \
         && ip -n lac addr add 203.0.113.2/24 dev vlac && ip -n lac link set vlac up \
         && ip -n lac link set lo up && chmod 600 /host/lns.toml \
         && (/run/bin/l2tpd run --config /host/lns.toml >/host/lns.log 2>&1 &)",
    );
    let t = Instant::now();
    while g.run(10, &format!("{CTL} stats")).0 != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{}",
            g.ok("cat /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let lns_pid = lns_pids(&g);
    assert_eq!(lns_pid.len(), 1, "one LNS: {lns_pid:?}");
    let lns_pid = lns_pid[0];

    // Peer 1: our client on the host side, with a continuous ping through its session.
    let client_sock = dir.0.join("client.sock");
    let mut client = start_client(&g.netns, &dir.0, &client_sock);
    let client_log = || std::fs::read_to_string(dir.0.join("client.log")).unwrap_or_default();
    support::wait_for(
        Duration::from_secs(20),
        "the client's management socket",
        || l2tp_mgmt::Client::connect(&client_sock).is_ok(),
    );
    wait_sessions_up(&client_sock, 1, &client_log);
    support::wait_for(Duration::from_secs(20), "the client's interface", || {
        client_log().contains(": interface l2tp0 up")
    });
    // Peer 2: xl2tpd + pppd in the guest's namespace `lac`.
    g.ok(
        "(ip netns exec lac xl2tpd -D -c /host/xl2tpd-lac.conf -p /run/xl2tpd-lac.pid \
         -C /run/xl2tpd/lac-control >/host/xl2tpd.log 2>&1 &) && sleep 1 \
         && echo 'c host' > /run/xl2tpd/lac-control",
    );
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
            t.elapsed() < Duration::from_secs(40),
            "pppd's ppp0 never got its address:\n{}",
            g.ok("tail -30 /host/pppd-lac.log; tail -30 /host/xl2tpd.log; tail -30 /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let t = Instant::now();
    let before = loop {
        let s = lns_sessions(&g);
        if s.len() == 2
            && s.iter()
                .all(|s| s.4 == "established/ppp-network" && !s.2.is_empty())
        {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "two sessions up on the LNS: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // A qdisc on ppp0, as a rate limit would put there: it stays with the interface.
    g.ok("tc qdisc add dev ppp0 root tbf rate 50mbit burst 64kb latency 100ms");
    let objects = kernel_objects(&g);
    // Each tunnel's management socket is a session 0 in /proc.
    assert_eq!(count(&objects, &["SESSION '"]), 4, "{objects}");
    assert_eq!(count(&objects, &["TUNNEL '"]), 2, "{objects}");
    assert!(objects.contains("qdisc tbf"), "{objects}");

    let ping_log = dir.0.join("ping.log");
    let ping = Command::new("ip")
        .args([
            "netns", "exec", &g.netns, "ping", "-D", "-n", "-i", "0.02", "-W", "1",
        ])
        .arg("192.0.2.1")
        .stdout(std::fs::File::create(&ping_log).expect("ping log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
    let mut ping = scopeguard(ping);
    g.ok("(ip netns exec lac ping -i 0.1 192.0.2.1 >/host/ping-lac.log 2>&1 &)");
    let ping_text = || std::fs::read_to_string(&ping_log).unwrap_or_default();
    support::wait_for(Duration::from_secs(20), "ping replies", || {
        ping_replies(&ping_text()).len() > 20
    });
    let client_before = client_events(&client_log());
    let (lac_before, _) = lac_events(&g);

    // 1. Upgrades a new process refuses: the old one carries on with every session.
    let refusals_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (rc, out) = upgrade(&g, "--binary /bin/true");
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("carries on"), "{out}");
    let good = LNS_TOML.to_string();
    let refusals = [
        (
            good.replace("datapath = \"kernel\"", "datapath = \"userspace\""),
            "asks for the userspace one",
        ),
        (
            "role = \"client\"\n[daemon]\nmanagement_socket = \"/run/l2tpd.sock\"\n\
             datapath = \"kernel\"\n[dial]\npeers = [\"198.51.100.9\"]\nuser = \"alice\"\n\
             password = \"secret\"\n"
                .to_string(),
            "snapshot of a lns node",
        ),
    ];
    for (config, why) in refusals {
        std::fs::write(g.share().join("lns.toml"), config).expect("config");
        let (rc, out) = upgrade(&g, "--binary /run/bin/l2tpd-new");
        std::fs::write(g.share().join("lns.toml"), &good).expect("config");
        assert_ne!(rc, 0, "{out}");
        assert!(
            out.contains("carries on") && out.contains(why),
            "{out}\n{}",
            g.ok("tail -30 /host/lns.log")
        );
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lns_pids(&g), [lns_pid], "the old LNS still runs, alone");
    assert_eq!(lns_sessions(&g), before, "the sessions after the refusals");
    assert_eq!(
        kernel_objects(&g),
        objects,
        "the kernel's objects after the refusals"
    );

    // 2. The upgrade: `l2tpctl upgrade` to the second copy, then SIGUSR2 to the new process.
    let control_before = lns_control(&g);
    let client_tunnel = |sock: &Path| match support::request(sock, l2tp_mgmt::Request::ListTunnels)
    {
        l2tp_mgmt::Response::Tunnels(t) => t[0].control,
        other => panic!("tunnels: {other:?}"),
    };
    let client_control_before = client_tunnel(&client_sock);
    let (tid, sid) = (before[0].0, before[0].1);
    let kernel_before = proc_counters(&g, tid, sid);
    let upgraded_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (rc, out) = upgrade(&g, "--binary /run/bin/l2tpd-new");
    assert_eq!(
        rc,
        0,
        "upgrade refused:\n{out}\n{}",
        g.ok("tail -40 /host/lns.log")
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("Upgraded: pid"))
        .unwrap_or_else(|| panic!("{out}"));
    let pause = line
        .split("nothing read for ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or("?")
        .to_string();
    assert!(
        line.contains("2 tunnels and 2 sessions carried over"),
        "{line}"
    );
    let new_pid: u32 = line
        .split("-> ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|p| p.parse().ok())
        .expect("new pid");
    assert_ne!(new_pid, lns_pid);
    support::wait_for(Duration::from_secs(10), "the old LNS to exit", || {
        lns_pids(&g) == [new_pid]
    });
    g.ok(&format!("kill -USR2 {new_pid}"));
    support::wait_for(Duration::from_secs(30), "the second take-over", || {
        let p = lns_pids(&g);
        p.len() == 1 && p[0] != new_pid
    });
    // Past a few LCP echo and HELLO intervals of both peers.
    std::thread::sleep(Duration::from_secs(8));

    let log = g.ok("cat /host/lns.log");
    assert_eq!(
        count(&log, &["upgrade: took over 2 tunnels and 2 sessions"]),
        2,
        "{log}"
    );
    // The two that took over and the one that refused the role after taking them.
    assert_eq!(
        count(
            &log,
            &["taken over (nothing re-created) tunnels=2 sessions=2"]
        ),
        3,
        "each new process took the kernel's tunnels and sessions over:\n{log}"
    );
    assert_eq!(
        lns_sessions(&g),
        before,
        "the LNS's sessions after two upgrades"
    );
    assert_eq!(
        kernel_objects(&g),
        objects,
        "the kernel's tunnels, sessions, interfaces, addresses, routes and qdisc"
    );
    let kernel_after = proc_counters(&g, tid, sid);
    assert!(
        kernel_after.0 > kernel_before.0 && kernel_after.1 > kernel_before.1,
        "the kernel session's counters went on: {kernel_before:?} -> {kernel_after:?}"
    );
    assert_eq!(
        client_events(&client_log()),
        client_before,
        "our client logged no session/tunnel down, no PPP up again:\n{}",
        client_log()
    );
    let (lac_after, lac_log) = lac_events(&g);
    assert_eq!(
        lac_after, lac_before,
        "pppd and xl2tpd logged no hangup:\n{lac_log}"
    );
    match support::request(&client_sock, l2tp_mgmt::Request::Stats) {
        l2tp_mgmt::Response::Stats(s) => assert_eq!(s.sessions, 1, "{s:?}"),
        other => panic!("client stats: {other:?}"),
    }
    let control_after = lns_control(&g);
    // Ns/Nr go on: the control counters continue from where they were (not from zero); the
    // new processes' HELLOs are taken in order by our client and acknowledged by xl2tpd (a
    // HELLO it did not take would be retransmitted). The peers' own messages are taken in
    // order at the end: their StopCCNs close the carried tunnels.
    assert_eq!(control_before.len(), 2);
    for ((peer, b), (peer2, a)) in control_before.iter().zip(&control_after) {
        assert_eq!(peer, peer2);
        assert!(a[0] > b[0], "tunnel to {peer}: sent {b:?} -> {a:?}");
        if peer.starts_with("203.0.113.2:") {
            assert_eq!(a[1], b[1], "tunnel to {peer}: retransmitted {b:?} -> {a:?}");
        }
    }
    let client_control = client_tunnel(&client_sock);
    assert!(
        client_control.received > client_control_before.received,
        "the client took the new processes' messages in order: \
         {client_control_before:?} -> {client_control:?}"
    );
    let stats = g.ok(&format!("{CTL} stats"));
    assert!(
        stats.contains("tunnels 2 resumed, 0 lost; sessions 2 resumed, 0 lost"),
        "{stats}"
    );

    // The pings: how long they paused.
    let _ = Command::new("kill")
        .args(["-INT", &ping.0.id().to_string()])
        .status();
    let _ = ping.0.wait();
    let lac_ping = g.ok("kill -INT $(pidof ping); sleep 1; cat /host/ping-lac.log");
    let replies = ping_replies(&ping_text());
    let (first, last) = (replies[0].1, replies[replies.len() - 1].1);
    let lost = (last - first + 1) as usize - replies.len();
    let largest_gap = |from: f64, to: f64| {
        replies
            .windows(2)
            .filter(|w| w[0].0 >= from && w[1].0 <= to)
            .map(|w| w[1].0 - w[0].0)
            .fold(0.0, f64::max)
    };
    let gap = largest_gap(upgraded_at, f64::MAX);
    // The same before anything was handed over: what the emulated guest does by itself.
    let baseline = largest_gap(0.0, refusals_at);
    let after = replies.iter().filter(|r| r.0 > upgraded_at).count();
    assert!(
        after > 100,
        "the ping went on after the upgrades: {after} replies"
    );
    let lac: std::collections::BTreeSet<u64> = busybox_replies(&lac_ping).into_iter().collect();
    let lac_lost = lac
        .last()
        .map_or(0, |l| (*l as usize + 1).saturating_sub(lac.len()));
    assert!(lac.len() > 50, "pppd's side answered: {lac_ping}");
    println!(
        "kernel upgrade: 2 sessions (our client, xl2tpd+pppd) carried twice, 3 upgrades \
         refused; the old processes read nothing for {pause}; client ping every 20 ms: {} \
         replies, {lost} lost, largest gap between replies {:.1} ms during the upgrades and \
         {:.1} ms before any (the emulated guest's own jitter); LAC ping every 100 ms: \
         {} replies, {lac_lost} lost; control messages the client retransmitted meanwhile: \
         {}; whole test {:.0} s",
        replies.len(),
        gap * 1000.0,
        baseline * 1000.0,
        lac.len(),
        client_control.retransmitted - client_control_before.retransmitted,
        t0.elapsed().as_secs_f64()
    );

    // The peers hang up (xl2tpd, then our client: StopCCN each): the new process takes
    // their messages in order and closes the tunnels and sessions it took over, leaving
    // nothing in the kernel.
    let gone = |what: &str, left: &dyn Fn(&str) -> bool| {
        let t = Instant::now();
        loop {
            let out = g.ok(&format!(
                "{CTL} sessions; ls /sys/class/net; cat /proc/net/pppol2tp"
            ));
            if !left(&out) {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{what}: left behind in the guest:\n{out}\n{}",
                g.ok("tail -20 /host/lns.log")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    // Our client dialled first: the pool's first address.
    let by_addr = |a: &str| {
        let s = before.iter().find(|s| s.3 == a).expect("session");
        (s.0, s.1)
    };
    let (client_tid, client_sid) = by_addr("192.0.2.10");
    let (lac_tid, lac_sid) = by_addr("192.0.2.11");
    let lac_session = format!("'sess {lac_tid}/{lac_sid}'");
    assert!(kernel_objects(&g).contains(&lac_session));
    g.ok("echo 'd host' > /run/xl2tpd/lac-control");
    gone("xl2tpd's hangup", &|out| {
        out.contains(&format!("'tunl {lac_tid}'")) || out.contains(&format!("{lac_tid}/{lac_sid}"))
    });
    stop(&mut client);
    gone("our client's StopCCN", &|out| {
        out.contains(&format!("'tunl {client_tid}'"))
            || out.contains(&format!("{client_tid}/{client_sid}"))
            || out.contains("ppp")
            || !out.contains("No sessions.")
    });
    g.ok("kill $(pidof l2tpd l2tpd-new) $(cat /run/xl2tpd-lac.pid); true");
    drop(g);
}

/// The ping, ended when the test ends however it ends.
struct Reaped(Child);

fn scopeguard(c: Child) -> Reaped {
    Reaped(c)
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Our client on the kernel datapath in the guest, dialling our LNS (userspace) on the host
/// side, upgraded under a ping: its kernel tunnel, session and `ppp0` are the same objects
/// afterwards and the LNS logged nothing going down.
#[test]
fn the_kernel_datapath_client_upgrades_hitlessly_in_a_real_kernel() {
    const TEST: &str = "kernel datapath client upgrade guest test";
    let l2tpctl = guest::workspace_binary("l2tpctl", "l2tpctl");
    let Some(g) = Guest::start("kupc", TEST) else {
        return; // said loudly by the gate (a failure under CI=true)
    };
    let dir = TempDir::new("kernel-upgrade-client");
    put_l2tpd(&g, "l2tpd");
    put_l2tpd(&g, "l2tpd-new");
    g.put(&l2tpctl, "l2tpctl");
    g.ok("mkdir -p /run/bin && cp /host/l2tpd /host/l2tpd-new /run/bin/");
    let lns_sock = dir.0.join("lns.sock");
    let log = std::fs::File::create(dir.0.join("lns.log")).expect("log");
    #[rustfmt::skip]
    let lns = Command::new("ip")
        .args(["netns", "exec", &g.netns, L2TPD, "lns", "--listen", "198.51.100.1:1701",
               "--pool", "203.0.113.10-203.0.113.20", "--local-ip", "203.0.113.1",
               "--user", "bob:secret", "--socket"])
        .arg(&lns_sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn the host LNS");
    let mut lns = scopeguard(lns);
    let lns_log = || std::fs::read_to_string(dir.0.join("lns.log")).unwrap_or_default();
    support::wait_for(Duration::from_secs(20), "the host LNS's socket", || {
        l2tp_mgmt::Client::connect(&lns_sock).is_ok()
    });
    const CLIENT: &str = "role = \"client\"\n[daemon]\nmanagement_socket = \"/run/client.sock\"\n\
                          datapath = \"kernel\"\nlog_level = \"info\"\n[tunnel]\nhello_interval = 2\n\
                          [ppp]\nlcp_echo_interval = 1\n[dial]\npeers = [\"198.51.100.1\"]\n\
                          user = \"bob\"\npassword = \"secret\"\nredial = false\n";
    const CCTL: &str = "/host/l2tpctl --socket /run/client.sock";
    std::fs::write(g.share().join("client.toml"), CLIENT).expect("config");
    g.ok("chmod 600 /host/client.toml; (/run/bin/l2tpd run --config /host/client.toml >/host/client.log 2>&1 &)");
    let up = wait_sessions_up(&lns_sock, 1, &lns_log);
    let lns_before: Vec<_> = support::sessions(&lns_sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4, s.state))
        .collect();
    let t = Instant::now();
    while g
        .run(
            10,
            "ip -o addr show dev ppp0 | grep -q 'peer 203.0.113.1/32'",
        )
        .0
        != 0
    {
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "the guest client has no ppp0:\n{}",
            g.ok("cat /host/client.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let objects = kernel_objects(&g);
    let client_before = g.ok(&format!("{CCTL} sessions"));
    let old_pid = lns_pids(&g);
    assert_eq!(old_pid.len(), 1, "{old_pid:?}");
    g.ok("(ping -i 0.1 203.0.113.1 >/host/ping.log 2>&1 &)");
    std::thread::sleep(Duration::from_secs(2));
    let lns_events = count(&lns_log(), &["session down", "tunnel down", "IPCP up"]);

    let (rc, out) = g.run(60, &format!("{CCTL} upgrade --binary /run/bin/l2tpd-new"));
    assert_eq!(
        rc,
        0,
        "upgrade refused:\n{out}\n{}",
        g.ok("tail -30 /host/client.log")
    );
    assert!(
        out.contains("1 tunnels and 1 sessions carried over"),
        "{out}"
    );
    support::wait_for(Duration::from_secs(10), "the old client to exit", || {
        let p = lns_pids(&g);
        p.len() == 1 && p != old_pid
    });
    // Past a few LCP echo and HELLO intervals.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(kernel_objects(&g), objects, "the client's kernel objects");
    // Session, user, address, peer, state, interface (then uptime and bytes, going on).
    let columns = |t: &str| -> Vec<String> {
        t.lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .take(6)
            .map(str::to_string)
            .collect()
    };
    let client_after = g.ok(&format!("{CCTL} sessions"));
    assert_eq!(columns(&client_before).len(), 6, "{client_before}");
    assert_eq!(
        columns(&client_after),
        columns(&client_before),
        "{client_after}"
    );
    let lns_after: Vec<_> = support::sessions(&lns_sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4, s.state))
        .collect();
    assert_eq!(lns_after, lns_before, "the LNS's session");
    assert_eq!(
        count(&lns_log(), &["session down", "tunnel down", "IPCP up"]),
        lns_events,
        "the LNS logged no session/tunnel down, no PPP up again:\n{}",
        lns_log()
    );
    let ping = g.ok("kill -INT $(pidof ping); sleep 1; cat /host/ping.log");
    let seqs: std::collections::BTreeSet<u64> = busybox_replies(&ping).into_iter().collect();
    let lost = seqs
        .last()
        .map_or(0, |l| (*l as usize + 1).saturating_sub(seqs.len()));
    assert!(seqs.len() > 50, "{ping}");
    println!(
        "kernel client upgrade: session {}/{} carried; ping every 100 ms from the guest: {} \
         replies, {lost} lost; {}",
        up[0].tunnel,
        up[0].session,
        seqs.len(),
        out.lines()
            .find(|l| l.starts_with("Upgraded"))
            .unwrap_or_default()
    );
    // The LNS's StopCCN: the new client process closes what it took over.
    let _ = Command::new("kill")
        .args(["-TERM", &lns.0.id().to_string()])
        .status();
    let _ = lns.0.wait();
    let t = Instant::now();
    loop {
        let out = g.ok("ls /sys/class/net; cat /proc/net/pppol2tp");
        if !out.contains("ppp0") && !out.contains("TUNNEL '") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "left behind after the LNS's StopCCN:\n{out}\n{}",
            g.ok("tail -20 /host/client.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    g.ok("kill $(pidof l2tpd l2tpd-new); true");
    drop(g);
}
