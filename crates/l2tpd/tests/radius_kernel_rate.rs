//! A RADIUS-given rate on the kernel datapath, end to end: our LNS with `datapath =
//! "kernel"` in the kernel-vm guest (Debian's kernel with `l2tp_ppp`, `sch_tbf` and
//! `act_police`) authenticates against a real FreeRADIUS (Debian's `freeradius`, on the host
//! side of the guest's link, the guest its only client). Alice's Access-Accept carries
//! `Filter-Id = "rate=2M/1M"`: `tc` on her session's `pppN` shows the token bucket towards
//! her and the policer on what she sends, and iperf3 through the session measures both
//! directions bounded by them; a CoA (`radclient`) changes the rate and `tc` shows the new
//! one, which iperf3 measures again. Bob has no rate: his session, in the same run, carries
//! well over alice's limit (three times). Rates are measured, not timed: a limited session
//! stays under twice its limit.
//!
//! Needs root, qemu, apt (the guest kit) and FreeRADIUS with radclient on the host; skipped
//! loudly otherwise, a failure under `CI=true`.
//!
//! Addresses: guest link 198.51.100.1 (host side, FreeRADIUS) / 198.51.100.2 (guest: the
//! LNS's RADIUS and DAE address); in the guest a veth 203.0.113.1 (LNS) / 203.0.113.2 (the
//! clients' namespace `c`); PPP: the LNS 192.0.2.1, the pool 192.0.2.10-20.

#[path = "../../l2tp-radius/tests/support/mod.rs"]
mod freeradius;
mod support;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::guest::{self, Guest};
use support::L2TPD;

const TEST: &str = "RADIUS rate on the kernel datapath (guest)";
const DAE_SECRET: &str = "dae-guest-secret";
const CTL: &str = "/host/l2tpctl --socket /run/lns.sock";

/// Alice is rate-limited, bob is not; both get an address from the LNS's pool.
const USERS: &str = r#"
alice	Cleartext-Password := "alice-pw"
	Framed-IP-Address = 255.255.255.254,
	Filter-Id = "rate=2M/1M"

bob	Cleartext-Password := "bob-pw"
	Framed-IP-Address = 255.255.255.254
"#;

/// What the guest needs before the LNS starts: the clients' namespace behind a veth pair.
const SETUP: &str = "set -e
ip netns add c; ip -n c link set lo up
ip link add vlns type veth peer name vc; ip link set vc netns c
ip addr add 203.0.113.1/24 dev vlns; ip link set vlns up
ip -n c addr add 203.0.113.2/24 dev vc; ip -n c link set vc up
mkdir -p /tmp/spool";

fn lns_toml(fr: &freeradius::FreeRadius) -> String {
    format!(
        r#"role = "lns"
[daemon]
management_socket = "/run/lns.sock"
datapath = "kernel"
[ppp]
lcp_echo_interval = 0
quality_interval = 0
[lns]
listen = ["203.0.113.1:1701"]
ipv4_pool = "192.0.2.10-192.0.2.20"
local_ipv4 = "192.0.2.1"
auth = "radius"
[radius]
nas_identifier = "lns-guest"
timeout_ms = 2000
rate_limit_attribute = "Filter-Id:rate="
dae_listen = "198.51.100.2:3799"
spool_dir = "/tmp/spool"
[[radius.auth_servers]]
address = "{auth}"
secret = "{secret}"
[[radius.acct_servers]]
address = "{acct}"
secret = "{secret}"
[[radius.dae_clients]]
address = "198.51.100.1"
secret = "{DAE_SECRET}"
"#,
        auth = fr.auth,
        acct = fr.acct,
        secret = freeradius::SECRET,
    )
}

/// The one session of the LNS once its network phase is up: (user, interface, address).
fn lns_session(g: &Guest, user: &str) -> (String, String) {
    let t0 = Instant::now();
    loop {
        let (_, out) = g.run(20, &format!("{CTL} sessions --json"));
        let found = serde_json::from_str::<serde_json::Value>(out.trim())
            .ok()
            .and_then(|v| {
                v.as_array()?.iter().find_map(|s| {
                    (s["state"] == "established/ppp-network"
                        && s["user"] == user
                        && s["interface"].is_string()
                        && s["ipv4"].is_string())
                    .then(|| {
                        (
                            s["interface"].as_str().unwrap_or_default().to_string(),
                            s["ipv4"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                })
            });
        if let Some(f) = found {
            return f;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no session of {user} up on the guest LNS:\n{out}\n{}",
            g.ok("cat /host/lns.log; cat /tmp/c-*.log")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Starts our client in the guest's namespace `c` as `user`; its pid there.
fn dial(g: &Guest, user: &str, password: &str) -> u32 {
    let out = g.ok(&format!(
        "ip netns exec c sh -c '/host/l2tpd client --server 203.0.113.1 --user {user} \
         --password {password} --socket /run/c-{user}.sock --datapath kernel \
         >/tmp/c-{user}.log 2>&1 & echo $!'"
    ));
    out.lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid: {out}"))
}

/// Hangs up: the client in `c` stopped by its pid, the LNS's session gone (bounded wait).
fn hang_up(g: &Guest, pid: u32) {
    g.ok(&format!("kill {pid}"));
    let (rc, out) = g.run(
        40,
        &format!(
            "for i in $(seq 1 30); do {CTL} sessions | grep -q 'ppp-network' || exit 0; sleep 1; done; \
             {CTL} sessions; exit 1"
        ),
    );
    assert_eq!(rc, 0, "the session outlived its client:\n{out}");
}

/// iperf3 through the session for 4 s, towards the user (`down`: from the LNS's side to
/// `user_addr`) or from the user; the receiver's rate in bit/s.
fn iperf(g: &Guest, user_addr: &str, down: bool) -> f64 {
    let (server, client) = if down {
        (
            format!("ip netns exec c iperf3 -s -1 -D -B {user_addr}"),
            format!("iperf3 -c {user_addr} -t 4 -J"),
        )
    } else {
        (
            "iperf3 -s -1 -D -B 192.0.2.1".to_string(),
            format!("ip netns exec c iperf3 -c 192.0.2.1 -B {user_addr} -t 4 -J"),
        )
    };
    g.ok(&format!("{server}; sleep 0.5"));
    let (rc, out) = g.run(40, &client);
    assert_eq!(rc, 0, "iperf3 failed:\n{out}");
    let json = &out[out.find('{').expect("iperf3 JSON")..out.rfind('}').expect("JSON") + 1];
    let v: serde_json::Value = serde_json::from_str(json).expect("iperf3 JSON");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no receiver rate in {v}"))
}

/// `tc` on the session's interface: (qdiscs, ingress filters).
fn tc_show(g: &Guest, ifname: &str) -> (String, String) {
    (
        g.ok(&format!("tc qdisc show dev {ifname}")),
        g.ok(&format!("tc filter show dev {ifname} ingress")),
    )
}

/// Waits (bounded) until `tc` on `ifname` shows both rates: the daemon runs `tc` without
/// waiting for it.
fn wait_tc(g: &Guest, ifname: &str, down: &str, up: &str) -> (String, String) {
    let t0 = Instant::now();
    loop {
        let (q, f) = tc_show(g, ifname);
        let want = q.contains("tbf") && q.contains(&format!("rate {down} "));
        if want && f.contains("police") && f.contains(&format!("rate {up} ")) {
            return (q, f);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "tc on {ifname} does not show {down}/{up}:\n{q}\n{f}\n{}",
            g.ok("cat /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `radclient` on the host side of the guest's link; its output.
fn radclient(netns: &str, command: &str, input: &str) -> String {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "radclient",
            "-x",
            "-r",
            "2",
            "-t",
            "3",
        ])
        .args(["198.51.100.2:3799", command, DAE_SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn radclient");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("radclient input");
    let out = child.wait_with_output().expect("radclient");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mbit(bps: f64) -> String {
    format!("{:.2} Mbit/s", bps / 1e6)
}

#[test]
fn a_radius_rate_bounds_a_kernel_datapath_session_and_a_coa_changes_it() {
    if !freeradius::can_run(TEST) {
        return;
    }
    let l2tpctl = guest::workspace_binary("l2tpctl", "l2tpctl");
    let Some(g) = Guest::start("krate", TEST) else {
        return; // said loudly by the gate (a failure under CI=true)
    };
    // FreeRADIUS on the host end of the guest's link, the guest its client.
    let fr = freeradius::FreeRadius::start_on(
        "krate",
        USERS,
        Some(&g.netns),
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 100, 2),
    );
    g.put(Path::new(L2TPD), "l2tpd");
    g.put(&l2tpctl, "l2tpctl");
    std::fs::write(g.share().join("lns.toml"), lns_toml(&fr)).expect("config");
    std::fs::write(g.share().join("setup.sh"), SETUP).expect("setup");
    g.ok("sh /host/setup.sh");
    g.ok("chmod 600 /host/lns.toml; /host/l2tpd run --config /host/lns.toml >/host/lns.log 2>&1 &");
    let t = Instant::now();
    while g.run(10, &format!("{CTL} stats")).0 != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the LNS did not start:\n{}",
            g.ok("cat /host/lns.log")
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Alice: FreeRADIUS gives her 2 Mbit/s towards her, 1 Mbit/s from her.
    let alice = dial(&g, "alice", "alice-pw");
    let (ifname, addr) = lns_session(&g, "alice");
    let (q, f) = wait_tc(&g, &ifname, "2Mbit", "1Mbit");
    eprintln!("tc on {ifname}:\n{q}{f}");
    let down = iperf(&g, &addr, true);
    let up = iperf(&g, &addr, false);
    eprintln!(
        "alice at 2M/1M: {} towards her, {} from her",
        mbit(down),
        mbit(up)
    );
    assert!(
        down > 0.0 && down < 4e6,
        "towards alice: {} (limit 2 Mbit/s)",
        mbit(down)
    );
    assert!(
        up > 0.0 && up < 2e6,
        "from alice: {} (limit 1 Mbit/s)",
        mbit(up)
    );

    // A CoA lowers her rate: tc shows the new one, iperf3 measures it.
    let ack = radclient(
        &g.netns,
        "coa",
        "User-Name = alice\nFilter-Id = \"rate=512k/256k\"\nMessage-Authenticator = 0x00\n",
    );
    assert!(ack.contains("CoA-ACK"), "{ack}");
    let (q, _) = wait_tc(&g, &ifname, "512Kbit", "256Kbit");
    assert!(!q.contains("2Mbit"), "the old rate is gone:\n{q}");
    let after = iperf(&g, &addr, true);
    eprintln!(
        "alice after the CoA (512k/256k): {} towards her",
        mbit(after)
    );
    assert!(
        after > 0.0 && after < 1.024e6,
        "towards alice after the CoA: {} (limit 512 kbit/s)",
        mbit(after)
    );
    hang_up(&g, alice);

    // Bob: no rate from FreeRADIUS, no tc on his interface, and well over alice's limit.
    let bob = dial(&g, "bob", "bob-pw");
    let (ifname, addr) = lns_session(&g, "bob");
    let (q, f) = tc_show(&g, &ifname);
    assert!(
        !q.contains("tbf") && !f.contains("police"),
        "bob has no limit:\n{q}{f}"
    );
    let free = iperf(&g, &addr, true);
    eprintln!("bob, no rate: {} towards him", mbit(free));
    assert!(
        free > 3.0 * 2e6,
        "towards bob: {}, not well over alice's 2 Mbit/s",
        mbit(free)
    );
    hang_up(&g, bob);
    drop(fr);
}
