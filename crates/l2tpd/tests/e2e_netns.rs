//! End to end, as an operator runs it: an `l2tpd` LNS and an `l2tpd` client as separate
//! processes in two network namespaces joined by a veth pair, real UDP, real TUN devices, and
//! the real `ping` crossing the tunnel. Needs root (CI runs as root): without it each test
//! says so loudly, and fails when `CI=true`.
//!
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (client); LNS end of PPP 198.51.100.1; pool
//! 203.0.113.0/24 ranges; IPv6 link-local from IPv6CP. Namespaces and processes are created
//! per test with unique names, and removed (by pid / name) when the test ends, pass or fail.

mod support;
use support::{ok, sh};
use support::{request, sessions, wait_for};

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, Request, Response};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

fn privileged() -> bool {
    support::requires(
        "e2e netns",
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            ("ping", support::have_tool("ping")),
        ],
    )
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Topology {
    lns: String,
    cli: String,
    dir: PathBuf,
}

impl Topology {
    fn new(tag: &str) -> Topology {
        let id = format!("{}{}", tag, std::process::id() % 100_000);
        let t = Topology {
            lns: format!("l2l-{id}"),
            cli: format!("l2c-{id}"),
            dir: std::env::temp_dir().join(format!("l2tpd-e2e-{id}")),
        };
        let _ = std::fs::remove_dir_all(&t.dir);
        std::fs::create_dir_all(&t.dir).expect("temp dir");
        ok(&["ip", "netns", "add", &t.lns]);
        ok(&["ip", "netns", "add", &t.cli]);
        let (a, b) = (format!("v{id}a"), format!("v{id}b"));
        ok(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        ok(&["ip", "link", "set", &a, "netns", &t.lns]);
        ok(&["ip", "link", "set", &b, "netns", &t.cli]);
        ok(&["ip", "-n", &t.lns, "addr", "add", "192.0.2.1/24", "dev", &a]);
        ok(&["ip", "-n", &t.cli, "addr", "add", "192.0.2.2/24", "dev", &b]);
        for (ns, dev) in [(&t.lns, &a), (&t.cli, &b)] {
            ok(&["ip", "-n", ns, "link", "set", dev, "up"]);
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        t
    }

    fn socket(&self, who: &str) -> PathBuf {
        self.dir.join(format!("{who}.sock"))
    }

    fn spawn(&self, ns: &str, who: &str, args: &[&str]) -> Daemon {
        self.spawn_logging(ns, who, args, "info")
    }

    fn spawn_logging(&self, ns: &str, who: &str, args: &[&str], level: &str) -> Daemon {
        let log = self.dir.join(format!("{who}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, L2TPD])
            .args(args)
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn l2tpd");
        Daemon {
            child: Some(child),
            log,
        }
    }

    fn lns_config(&self, extra: &str) -> PathBuf {
        let p = self.dir.join("lns.toml");
        let text = format!(
            r#"role = "lns"
[daemon]
management_socket = "{sock}"
[tunnel]
hello_interval = 5
[lns]
listen = ["192.0.2.1:1701"]
ipv4_pool = "203.0.113.10-203.0.113.20"
local_ipv4 = "198.51.100.1"
allowed_peers = ["192.0.2.0/24"]
{extra}
[[lns.users]]
name = "alice"
password = "secret"
"#,
            sock = self.socket("lns").display()
        );
        std::fs::write(&p, text).expect("write config");
        p
    }

    fn start_lns(&self, extra: &str) -> Daemon {
        let cfg = self.lns_config(extra);
        let d = self.spawn(
            &self.lns,
            "lns",
            &["run", "--config", cfg.to_str().expect("utf-8")],
        );
        wait_for(Duration::from_secs(10), "LNS management socket", || {
            Client::connect(self.socket("lns")).is_ok()
        });
        d
    }

    fn start_client(&self, sessions: u32, password: &str) -> Daemon {
        let sock = self.socket("client");
        let n = sessions.to_string();
        self.spawn(
            &self.cli,
            "client",
            &[
                "client",
                "--server",
                "192.0.2.1",
                "--user",
                "alice",
                "--password",
                password,
                "--sessions",
                &n,
                "--socket",
                sock.to_str().expect("utf-8"),
            ],
        )
    }

    /// IPv4 addresses on the client's l2tp interfaces: (interface, address).
    fn client_addresses(&self) -> Vec<(String, String)> {
        let o = sh(&["ip", "-n", &self.cli, "-o", "-4", "addr", "show"]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 3 && f[1].starts_with("l2tp"))
                    .then(|| (f[1].to_string(), f[3].to_string()))
            })
            .collect()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.lns]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
    }
}

/// A daemon we started; stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            support::stop(&mut c);
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ping(ns: &str, args: &[&str]) -> bool {
    let mut v = vec![
        "ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2",
    ];
    v.extend_from_slice(args);
    sh(&v).status.success()
}

#[test]
fn two_sessions_ping_v4_and_v6_counters_and_teardown() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("a");
    let lns = topo.start_lns(r#"ipv6_prefix = "2001:db8:1::/64""#);
    let mut client = topo.start_client(2, "secret");
    wait_for(
        Duration::from_secs(20),
        "two client interfaces with pool addresses",
        || topo.client_addresses().len() == 2,
    );
    let addrs = topo.client_addresses();
    for (ifname, addr) in &addrs {
        assert!(addr.starts_with("203.0.113."), "{ifname} got {addr}");
        assert!(
            ping(&topo.cli, &["-I", ifname, "198.51.100.1"]),
            "IPv4 ping over {ifname}\n{}",
            client.log()
        );
    }

    // The LNS sees both sessions with the user, the pool address and traffic counters.
    let lns_sock = topo.socket("lns");
    let s = sessions(&lns_sock);
    assert_eq!(s.len(), 2, "{s:?}");
    for si in &s {
        assert_eq!(si.user.as_deref(), Some("alice"));
        assert!(
            si.ipv4.is_some_and(|a| a.octets()[..3] == [203, 0, 113]),
            "{si:?}"
        );
        assert!(
            si.stats.rx_packets >= 3 && si.stats.tx_packets >= 3,
            "{si:?}"
        );
        assert_eq!(si.stats.rx_errors, 0);
    }

    // IPv6 over the same sessions: IPv6CP negotiates interface identifiers, the LNS
    // advertises 2001:db8:1::/64 (Router Advertisement), each client forms its global address
    // from it, and the LNS's own 2001:db8:1::1 answers through every session.
    wait_for(
        Duration::from_secs(10),
        "global IPv6 addresses on the client",
        || {
            sessions(&topo.socket("client")).iter().all(|s| {
                s.ipv6
                    .is_some_and(|a| a.segments()[..4] == [0x2001, 0xdb8, 1, 0])
            })
        },
    );
    let client_side = sessions(&topo.socket("client"));
    for si in sessions(&lns_sock) {
        let client_v6: Ipv6Addr = si.ipv6.expect("the LNS knows the client's address");
        let cs = client_side
            .iter()
            .find(|c| c.peer_session == si.session)
            .expect("client session matching the LNS's");
        assert_eq!(cs.ipv6, Some(client_v6), "both ends agree on the address");
        let ifname = cs.interface.clone().expect("client interface");
        let shown = String::from_utf8_lossy(
            &sh(&["ip", "-n", &topo.cli, "-6", "addr", "show", "dev", &ifname]).stdout,
        )
        .into_owned();
        assert!(
            shown.contains(&client_v6.to_string()),
            "{client_v6} on {ifname}:\n{shown}"
        );
        assert!(
            ping(
                &topo.cli,
                &["-6", "-I", &client_v6.to_string(), "2001:db8:1::1"]
            ),
            "IPv6 ping 2001:db8:1::1 from {client_v6}\n{}",
            client.log()
        );
    }

    // The LNS closes one session: the client sees the CDN and dials a replacement.
    let victim = s[0].clone();
    assert_eq!(
        request(
            &lns_sock,
            Request::CloseSession {
                tunnel: victim.tunnel,
                session: victim.session
            }
        ),
        Response::Ok
    );
    wait_for(
        Duration::from_secs(15),
        "the client to redial the closed session",
        || {
            let now = sessions(&lns_sock);
            now.len() == 2
                && now
                    .iter()
                    .all(|x| x.session != victim.session && x.ipv4.is_some())
        },
    );

    // The client hangs up (SIGTERM): the LNS clears everything and frees the addresses.
    client.stop();
    wait_for(
        Duration::from_secs(10),
        "the LNS to clear the sessions",
        || sessions(&lns_sock).is_empty(),
    );
    match request(&lns_sock, Request::Stats) {
        Response::Stats(st) => assert_eq!(st.sessions, 0, "{st:?}"),
        other => panic!("{other:?}"),
    }
    drop(lns);
}

#[test]
fn shared_interface_lns_and_client_redial_after_lns_restart() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("b");
    let mut lns = topo.start_lns("interface_mode = \"shared\"\nipv6_prefix = \"2001:db8:2::/48\"");
    let _client = topo.start_client(1, "secret");
    wait_for(Duration::from_secs(20), "the client interface", || {
        topo.client_addresses().len() == 1
    });
    let (ifname, _) = topo.client_addresses()[0].clone();
    assert!(
        ping(&topo.cli, &["-I", &ifname, "198.51.100.1"]),
        "ping through the shared-TUN LNS\n{}",
        lns.log()
    );
    // IPv6 with a prefix per session: the client's /64 comes out of 2001:db8:2::/48.
    wait_for(
        Duration::from_secs(10),
        "a global IPv6 address on the client",
        || {
            sessions(&topo.socket("client")).iter().all(|s| {
                s.ipv6
                    .is_some_and(|a| a.segments()[..2] == [0x2001, 0xdb8] && a.segments()[2] == 2)
            })
        },
    );
    assert!(
        ping(&topo.cli, &["-6", "2001:db8:2::1"]),
        "IPv6 ping through the shared-TUN LNS\n{}",
        lns.log()
    );

    // Restart the LNS: the client is told (StopCCN), redials with backoff, and comes back.
    lns.stop();
    wait_for(
        Duration::from_secs(10),
        "the client interface to go away",
        || topo.client_addresses().is_empty(),
    );
    let _lns2 = topo.start_lns(r#"interface_mode = "shared""#);
    wait_for(Duration::from_secs(30), "the client to redial", || {
        topo.client_addresses().len() == 1
    });
    let (ifname, _) = topo.client_addresses()[0].clone();
    assert!(
        ping(&topo.cli, &["-I", &ifname, "198.51.100.1"]),
        "ping after the redial"
    );
}

#[test]
fn wrong_password_and_full_pool_are_refused_visibly() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("c");
    // A pool of one address: the second session must be refused with a CDN, not hang.
    let cfg = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace("203.0.113.10-203.0.113.20", "203.0.113.10-203.0.113.10");
    std::fs::write(&cfg, text).expect("config");
    let _lns = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });

    let mut bad = topo.start_client(1, "wrong");
    wait_for(
        Duration::from_secs(15),
        "an authentication failure on the LNS",
        || matches!(request(&lns_sock, Request::Stats), Response::Stats(s) if s.auth_failures >= 1),
    );
    assert!(
        topo.client_addresses().is_empty(),
        "no interface with a wrong password"
    );
    bad.stop();
    assert!(
        bad.log().contains("Auth"),
        "the client reports the authentication failure:\n{}",
        bad.log()
    );

    let client = topo.start_client(2, "secret");
    wait_for(Duration::from_secs(20), "one session up", || {
        topo.client_addresses().len() == 1
    });
    wait_for(
        Duration::from_secs(10),
        "the refusal of the second session",
        || client.log().contains("address pool exhausted"),
    );
    assert_eq!(topo.client_addresses().len(), 1);
}

#[test]
fn peers_outside_allowed_peers_are_refused() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("d");
    let cfg = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        r#"allowed_peers = ["192.0.2.0/24"]"#,
        r#"allowed_peers = ["198.51.100.0/24"]"#,
    );
    std::fs::write(&cfg, text).expect("config");
    let _lns = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });
    let client = topo.start_client(1, "secret");
    wait_for(
        Duration::from_secs(10),
        "the LNS to refuse the tunnel",
        || matches!(request(&lns_sock, Request::Stats), Response::Stats(s) if s.tunnels_refused >= 1),
    );
    wait_for(Duration::from_secs(5), "the client to hear why", || {
        client.log().contains("peer not allowed")
    });
    assert!(topo.client_addresses().is_empty());
    match request(&lns_sock, Request::ListTunnels) {
        Response::Tunnels(t) => assert!(t.iter().all(|t| t.state != "established"), "{t:?}"),
        other => panic!("{other:?}"),
    }
}

/// `l2tpctl` next to the `l2tpd` under test (built by `cargo test --workspace`).
fn l2tpctl() -> Option<PathBuf> {
    let p = Path::new(L2TPD).with_file_name("l2tpctl");
    let built = p.exists();
    support::requires(
        "e2e l2tpctl checks",
        &[(
            "l2tpctl built next to l2tpd (cargo build -p l2tpctl)",
            built,
        )],
    )
    .then_some(p)
}

#[test]
fn users_reload_on_sighup_fallback_lns_default_route_and_l2tpctl() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("e");
    // The LNS reads its users from a file; bob is not in it yet.
    let users = topo.dir.join("users");
    std::fs::write(&users, "alice secret\n").expect("users");
    let cfg = topo.lns_config(&format!("users_file = \"{}\"", users.display()));
    let lns = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });

    // The client's first LNS does not answer (nothing on port 1702): after its retry budget
    // it falls back to the second, and routes everything through the tunnel.
    let ccfg = topo.dir.join("client.toml");
    std::fs::write(
        &ccfg,
        format!(
            r#"role = "client"
[daemon]
management_socket = "{}"
[tunnel]
retries = 1
[dial]
peers = ["192.0.2.1:1702", "192.0.2.1:1701"]
user = "bob"
password = "bobs-secret"
redial_initial = 1
redial_max = 2
default_route = true
"#,
            topo.socket("client").display()
        ),
    )
    .expect("client config");
    let client = topo.spawn(
        &topo.cli,
        "client",
        &["run", "--config", ccfg.to_str().expect("utf-8")],
    );
    wait_for(
        Duration::from_secs(30),
        "bob to be refused by the LNS",
        || matches!(request(&lns_sock, Request::Stats), Response::Stats(s) if s.auth_failures >= 1),
    );
    assert!(topo.client_addresses().is_empty());

    // Add bob and reload: the next redial gets in, without disturbing anything else.
    std::fs::write(&users, "alice secret\nbob bobs-secret\n").expect("users");
    ok(&[
        "kill",
        "-HUP",
        &lns.child.as_ref().expect("running").id().to_string(),
    ]);
    wait_for(
        Duration::from_secs(30),
        "bob's session after the reload",
        || topo.client_addresses().len() == 1,
    );
    // The users file was written with the default umask (0644): the LNS says so at start-up
    // and again when SIGHUP reads it.
    wait_for(Duration::from_secs(5), "the reload's log line", || {
        lns.log().contains("SIGHUP: users reloaded")
    });
    let mode_warnings = lns.log().matches("holds secrets but has mode 0644").count();
    assert!(
        mode_warnings >= 2,
        "{mode_warnings} warning(s) about the users file's mode:\n{}",
        lns.log()
    );
    let (ifname, _) = topo.client_addresses()[0].clone();
    let routes =
        String::from_utf8_lossy(&sh(&["ip", "-n", &topo.cli, "route"]).stdout).into_owned();
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("default") && l.contains(&ifname)),
        "default route through {ifname}:\n{routes}\n{}",
        client.log()
    );
    assert!(
        ping(&topo.cli, &["198.51.100.1"]),
        "ping via the default route"
    );

    // l2tpctl reads the running LNS like an operator would.
    if let Some(ctl) = l2tpctl() {
        let sock = lns_sock.to_str().expect("utf-8");
        let out = Command::new(&ctl)
            .args(["--socket", sock, "sessions"])
            .output()
            .expect("l2tpctl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("bob"), "{text}");
        let out = Command::new(&ctl)
            .args(["--socket", sock, "sessions", "--json"])
            .output()
            .expect("l2tpctl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let first = &v.as_array().expect("array of sessions")[0];
        assert_eq!(first["user"], "bob");
        assert!(
            first["stats"]["rx_packets"].as_u64().unwrap_or(0) >= 3,
            "{first}"
        );
        let out = Command::new(&ctl)
            .args(["--socket", sock, "stats"])
            .output()
            .expect("l2tpctl");
        assert!(out.status.success());

        // SENDSEQ switched on live on the LNS: its data now carries Ns, the client (a LAC
        // follows the LNS, as the kernel does) starts sending them too, and traffic still
        // flows without sequence discards.
        let (t, s) = (first["tunnel"].to_string(), first["session"].to_string());
        let out = Command::new(&ctl)
            .args(["--socket", sock, "set", "session", &t, &s, "sendseq", "on"])
            .output()
            .expect("l2tpctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            ping(&topo.cli, &["198.51.100.1"]),
            "ping with sequence numbers"
        );
        let out = Command::new(&ctl)
            .args(["--socket", sock, "show", "session", &t, &s, "--json"])
            .output()
            .expect("l2tpctl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["options"]["send_seq"], true, "{v}");
        assert_eq!(v["stats"]["rx_seq_discards"], 0, "{v}");
        let client_side = sessions(&topo.socket("client"));
        assert!(
            client_side[0].options.send_seq,
            "the client follows: {client_side:?}"
        );
    }
}

#[test]
fn demo_with_namespaces_pings_through_real_interfaces_and_cleans_up() {
    if !privileged() {
        return;
    }
    let out = Command::new(L2TPD)
        .args(["demo", "--netns", "--sessions", "2", "--pings", "2"])
        .output()
        .expect("run the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("demo OK: real ping through every session"),
        "{text}"
    );
    assert_eq!(
        text.matches("2 received, 0% packet loss").count(),
        2,
        "{text}"
    );
    let left = String::from_utf8_lossy(&sh(&["ip", "netns", "list"]).stdout).into_owned();
    assert!(
        !left.contains("l2tpdemo-"),
        "namespaces left behind: {left}"
    );
}

/// Issue 8: control traffic is not starved by data. While one session is saturated with UDP
/// (a blaster in the client namespace sending as fast as it can for 6 s), a second client
/// opens a new tunnel and session through the same LNS socket, and the loaded tunnel stays
/// established past its 5 s HELLO interval: nothing is lost to starved control traffic.
#[test]
fn tunnel_setup_and_hellos_complete_while_data_saturates() {
    if !privileged() {
        return;
    }
    if !support::requires(
        "tunnel_setup_and_hellos_complete_while_data_saturates",
        &[("python3 (the UDP blaster)", support::have_tool("python3"))],
    ) {
        return;
    }
    let topo = Topology::new("f");
    let _lns = topo.start_lns("");
    let lns_sock = topo.socket("lns");
    let _first = topo.start_client(1, "secret");
    wait_for(Duration::from_secs(20), "the first session", || {
        topo.client_addresses().len() == 1
    });
    let (ifname, addr) = topo.client_addresses()[0].clone();
    let src = addr.split('/').next().expect("address").to_string();
    let tunnels_before = match request(&lns_sock, Request::ListTunnels) {
        Response::Tunnels(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(tunnels_before.len(), 1);
    let hellos_before = tunnels_before[0].control.received;

    // Saturate the session: 1400-byte UDP datagrams to the LNS side as fast as possible.
    let blaster = format!(
        "import socket,time\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.bind(('{src}',0))\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,1<<20)\n\
         b=bytes(1400); end=time.time()+6; n=0\n\
         while time.time()<end:\n\
         \x20   try:\n\
         \x20       s.sendto(b,('198.51.100.1',9)); n+=1\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         print(n)\n"
    );
    let blast = Command::new("ip")
        .args(["netns", "exec", &topo.cli, "python3", "-c", &blaster])
        .stdout(Stdio::piped())
        .spawn()
        .expect("blaster");
    std::thread::sleep(Duration::from_millis(500));

    // A second client sets up a tunnel and a session through the loaded LNS.
    let sock2 = topo.dir.join("client2.sock");
    let second = topo.spawn(
        &topo.cli,
        "client2",
        &[
            "client",
            "--server",
            "192.0.2.1",
            "--user",
            "alice",
            "--password",
            "secret",
            "--interface",
            "l2tq%d",
            "--socket",
            sock2.to_str().expect("utf-8"),
        ],
    );
    let started = Instant::now();
    wait_for(
        Duration::from_secs(15),
        "the second tunnel under load",
        || {
            matches!(request(&lns_sock, Request::ListSessions), Response::Sessions(s)
            if s.iter().filter(|x| x.ipv4.is_some()).count() == 2)
        },
    );
    let setup = started.elapsed();
    let out = blast.wait_with_output().expect("blaster");
    let sent: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let tunnels = match request(&lns_sock, Request::ListTunnels) {
        Response::Tunnels(t) => t,
        other => panic!("{other:?}"),
    };
    let first = tunnels
        .iter()
        .find(|t| t.local_id == tunnels_before[0].local_id)
        .expect("the loaded tunnel is still there");
    eprintln!(
        "e2e: {sent} datagrams blasted through {ifname} in 6 s; second tunnel + session up in \
         {setup:?}; loaded tunnel control received {} -> {}",
        hellos_before, first.control.received
    );
    assert_eq!(first.state, "established", "{tunnels:?}\n{}", second.log());
    assert!(sent > 1000, "the blaster sent {sent} datagrams");
    // The loaded tunnel outlived the 5 s HELLO interval: data from the peer counts as a sign
    // of life (RFC 2661 §5.5), and whatever control traffic ran was not lost to the load.
    assert!(
        ping(&topo.cli, &["-I", &ifname, "198.51.100.1"]),
        "the loaded session still works"
    );
}

/// Issue 9: the LNS is killed (SIGKILL: no StopCCN) and started again; the client notices the
/// silence (HELLO unanswered), clears the old tunnel and redials. And at debug log level,
/// with a tunnel secret and PPP passwords in use, no secret appears in any log or in
/// `l2tpctl`'s answers.
#[test]
fn lns_killed_and_restarted_client_redials_and_secrets_stay_out_of_logs() {
    if !privileged() {
        return;
    }
    const SECRET: &str = "tunnel-secret-7f3a91";
    const PASSWORD: &str = "pass-word-c41d2e";
    let topo = Topology::new("g");
    let users = topo.dir.join("users");
    std::fs::write(&users, format!("carol {PASSWORD}\n")).expect("users");
    let cfg = topo.lns_config(&format!("users_file = \"{}\"", users.display()));
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "[tunnel]\n",
        &format!("[tunnel]\nsecret = \"{SECRET}\"\nhide_avps = true\n"),
    );
    std::fs::write(&cfg, text).expect("config");
    let lns_args = [
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--log-level",
        "debug",
    ];
    let mut lns = topo.spawn_logging(&topo.lns, "lns", &lns_args, "debug");
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });
    let ccfg = topo.dir.join("client.toml");
    std::fs::write(
        &ccfg,
        format!(
            r#"role = "client"
[daemon]
management_socket = "{}"
log_level = "debug"
[tunnel]
secret = "{SECRET}"
hide_avps = true
hello_interval = 1
retries = 2
[dial]
peers = ["192.0.2.1"]
user = "carol"
password = "{PASSWORD}"
redial_initial = 1
redial_max = 2
"#,
            topo.socket("client").display()
        ),
    )
    .expect("client config");
    let client = topo.spawn_logging(
        &topo.cli,
        "client",
        &["run", "--config", ccfg.to_str().expect("utf-8")],
        "debug",
    );
    wait_for(Duration::from_secs(20), "the session", || {
        topo.client_addresses().len() == 1
    });

    // SIGKILL: the LNS vanishes without a word, its TUNs with it.
    let pid = lns.child.as_ref().expect("running").id();
    ok(&["kill", "-KILL", &pid.to_string()]);
    let _ = lns.child.take().map(|mut c| c.wait());
    let lns_log_1 = lns.log();
    std::fs::rename(&lns.log, topo.dir.join("lns-1.log")).expect("keep the first log");
    let _lns2 = topo.spawn_logging(&topo.lns, "lns", &lns_args, "debug");
    wait_for(Duration::from_secs(10), "the restarted LNS", || {
        Client::connect(&lns_sock).is_ok()
    });
    wait_for(
        Duration::from_secs(40),
        "the client to redial the restarted LNS",
        || {
            matches!(request(&lns_sock, Request::ListSessions), Response::Sessions(s)
            if s.iter().any(|x| x.ipv4.is_some()))
        },
    );
    assert!(client.log().contains("tunnel down"), "{}", client.log());
    let (ifname, _) = topo.client_addresses()[0].clone();
    assert!(
        ping(&topo.cli, &["-I", &ifname, "198.51.100.1"]),
        "ping after the redial"
    );

    // No secret in any log line or management answer.
    let mut texts = vec![
        lns_log_1,
        std::fs::read_to_string(topo.dir.join("lns.log")).unwrap_or_default(),
        client.log(),
    ];
    for sock in [&lns_sock, &topo.socket("client")] {
        for req in [Request::ListSessions, Request::ListTunnels, Request::Stats] {
            texts.push(format!("{:?}", request(sock, req)));
        }
    }
    let debug_lines: usize = texts.iter().map(|t| t.matches("DEBUG").count()).sum();
    assert!(debug_lines > 0, "debug logging was on");
    for t in &texts {
        assert!(!t.contains(SECRET), "tunnel secret leaked:\n{t}");
        assert!(!t.contains(PASSWORD), "password leaked:\n{t}");
    }
}

/// Packets the daemon read from (`tx`) or wrote to (`rx`) the l2tp TUNs of a namespace.
fn tun_packets(ns: &str, dir: &str) -> u64 {
    let o = sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "sh",
        "-c",
        &format!("cat /sys/class/net/l2tp*/statistics/{dir}_packets"),
    ]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum()
}

/// Sends `mb` MiB over TCP from namespace `from` to `to_addr` (a server in namespace `to`),
/// both ends in python3; returns (bytes, sha256) as the sender and the receiver saw them.
fn tcp_transfer(from: &str, to: &str, to_addr: &str, mb: usize) -> (String, String) {
    let server = r#"
import hashlib, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5999)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())
"#;
    let client = format!(
        r#"
import hashlib, socket, time
chunk = bytes((i * 7 + 3) & 255 for i in range(1 << 20))
for _ in range(100):
    try:
        c = socket.create_connection(("{to_addr}", 5999), timeout=30); break
    except OSError:
        time.sleep(0.1)
h = hashlib.sha256()
for _ in range({mb}):
    c.sendall(chunk); h.update(chunk)
c.close()
print({mb} << 20, h.hexdigest())
"#
    );
    let srv = Command::new("ip")
        .args([
            "netns", "exec", to, "timeout", "60", "python3", "-c", server,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let cli = sh(&[
        "ip", "netns", "exec", from, "timeout", "60", "python3", "-c", &client,
    ]);
    let srv = srv.wait_with_output().expect("server output");
    (
        String::from_utf8_lossy(&cli.stdout).trim().to_string()
            + &String::from_utf8_lossy(&cli.stderr),
        String::from_utf8_lossy(&srv.stdout).trim().to_string()
            + &String::from_utf8_lossy(&srv.stderr),
    )
}

/// TCP through the tunnel with TUN offloads on (TSO super-packets read and segmented by the
/// daemon, received segments coalesced into GSO TUN writes, UDP GSO for the segments): bytes
/// arrive intact both ways, with a per-session TUN and with the shared TUN on the LNS, and
/// the offloads are really used (far fewer TUN reads and writes than TCP segments).
#[test]
fn tcp_bulk_both_ways_through_offloading_tuns() {
    if !privileged() {
        return;
    }
    if !support::requires(
        "tcp_bulk_both_ways_through_offloading_tuns",
        &[("python3 (the TCP transfer)", support::have_tool("python3"))],
    ) {
        return;
    }
    for (tag, extra) in [("t", ""), ("u", r#"interface_mode = "shared""#)] {
        let topo = Topology::new(tag);
        let lns = topo.start_lns(extra);
        let _client = topo.start_client(1, "secret");
        wait_for(Duration::from_secs(20), "the client interface", || {
            topo.client_addresses().len() == 1
        });
        let (_, addr) = topo.client_addresses()[0].clone();
        let addr = addr.split('/').next().expect("address").to_string();
        assert!(ping(&topo.cli, &["198.51.100.1"]), "ping first");
        const MB: usize = 16;
        let segments = (MB << 20) as u64 / 1460;

        let (read0, wrote0) = (tun_packets(&topo.cli, "tx"), tun_packets(&topo.lns, "rx"));
        let (sent, got) = tcp_transfer(&topo.cli, &topo.lns, "198.51.100.1", MB);
        assert!(
            !sent.is_empty() && sent.lines().next() == got.lines().next(),
            "{extra:?} client -> LNS: sender {sent:?}, receiver {got:?}\n{}",
            lns.log()
        );
        let read = tun_packets(&topo.cli, "tx") - read0;
        let wrote = tun_packets(&topo.lns, "rx") - wrote0;
        eprintln!("{extra:?}: {MB} MiB client -> LNS: {read} TUN reads, {wrote} TUN writes");
        assert!(
            read < segments / 2 && wrote < segments / 2,
            "{extra:?}: {read} TUN reads on the client, {wrote} TUN writes on the LNS for \
             ≥ {segments} TCP segments: offloads not in use?"
        );

        let (sent, got) = tcp_transfer(&topo.lns, &topo.cli, &addr, MB);
        assert!(
            !sent.is_empty() && sent.lines().next() == got.lines().next(),
            "{extra:?} LNS -> client: sender {sent:?}, receiver {got:?}\n{}",
            lns.log()
        );
    }
}

/// A capture by tshark inside a namespace, stopped (SIGINT, by pid) and judged on demand.
struct Capture {
    child: Option<Child>,
    file: PathBuf,
}

impl Capture {
    /// Starts capturing UDP port 1701 on every interface of `ns`; None (loudly) without tshark.
    fn start(ns: &str, file: PathBuf) -> Option<Capture> {
        if Command::new("tshark").arg("-v").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "tshark is needed under CI=true"
            );
            eprintln!("\n*** SKIPPED: needs tshark ***\n");
            return None;
        }
        let _ = std::fs::remove_file(&file);
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "tshark",
                "-i",
                "any",
                "-Q",
                "-f",
                "udp port 1701",
            ])
            .arg("-w")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tshark");
        wait_for(Duration::from_secs(10), "tshark capturing", || {
            std::fs::metadata(&file).is_ok_and(|m| m.len() > 0)
        });
        std::thread::sleep(Duration::from_millis(300));
        Some(Capture {
            child: Some(child),
            file,
        })
    }

    /// Stops the capture and returns the file.
    fn finish(&mut self) -> PathBuf {
        if let Some(mut c) = self.child.take() {
            std::thread::sleep(Duration::from_millis(300));
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until && !matches!(c.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.finish();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().expect("tshark");
    assert!(out.status.success(), "tshark {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Control messages in a capture: (source address, Ns, Nr, message type; None for a ZLB), in
/// capture order. Also asserts Wireshark finds nothing malformed and no error.
fn control_messages(pcap: &Path) -> Vec<(String, u16, u16, Option<u16>)> {
    let r = pcap.to_str().expect("utf-8");
    let bad = tshark(&[
        "-r",
        r,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= error",
    ]);
    assert!(bad.trim().is_empty(), "tshark: bad packets:\n{bad}");
    let text = tshark(&[
        "-r",
        r,
        "-Y",
        "l2tp.type == 1",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "ip.src",
        "-e",
        "l2tp.Ns",
        "-e",
        "l2tp.Nr",
        "-e",
        "l2tp.avp.message_type",
    ]);
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 4, "{l:?}");
            let n = |s: &str| s.split(',').next().unwrap().parse::<u16>().expect(l);
            let mt = f[3].split(',').next().filter(|s| !s.is_empty()).map(n);
            (f[0].to_string(), n(f[1]), n(f[2]), mt)
        })
        .collect()
}

/// A busy set-up through a small window: 200 calls from one client while the LNS advertises
/// a receive window of 4, so the client's messages queue behind the window while it must
/// acknowledge the LNS's. Every Ns each side puts on the wire, ZLB acknowledgements included,
/// must be in order (RFC 2661 §5.8): a new message carries the next Ns, a ZLB the Ns of the
/// next message that side will send, and only a retransmission repeats an earlier Ns (with
/// the same message). Wireshark judges the capture too.
#[test]
fn busy_setup_through_a_small_window_keeps_every_ns_in_order() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("w");
    let cfg = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace(
            "hello_interval = 5",
            "hello_interval = 5\nreceive_window = 4",
        )
        .replace("203.0.113.10-203.0.113.20", "203.0.113.10-203.0.113.250");
    std::fs::write(&cfg, text).expect("config");
    let Some(mut cap) = Capture::start(&topo.lns, topo.dir.join("busy.pcapng")) else {
        return;
    };
    let _lns = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });
    let _client = topo.start_client(200, "secret");
    wait_for(Duration::from_secs(120), "200 calls established", || {
        let s = sessions(&lns_sock);
        s.len() == 200 && s.iter().all(|s| s.state.starts_with("established"))
    });
    let pcap = cap.finish();
    let msgs = control_messages(&pcap);
    let mut zlbs = 0;
    for side in ["192.0.2.1", "192.0.2.2"] {
        let mut next: Option<u16> = None;
        let mut sent: std::collections::HashMap<u16, u16> = std::collections::HashMap::new();
        for (i, (_, ns, _, mt)) in msgs.iter().enumerate().filter(|(_, m)| m.0 == side) {
            let want = *next.get_or_insert(*ns);
            match mt {
                None => {
                    zlbs += 1;
                    assert_eq!(*ns, want, "{side}: ZLB #{i} has Ns {ns}, next message is {want}");
                }
                Some(t) if *ns == want => {
                    sent.insert(*ns, *t);
                    next = Some(want.wrapping_add(1));
                }
                Some(t) => assert_eq!(
                    sent.get(ns),
                    Some(t),
                    "{side}: message #{i} (type {t}) has Ns {ns}, next is {want}: not a retransmission"
                ),
            }
        }
    }
    let icrqs = msgs.iter().filter(|m| m.3 == Some(10)).count();
    assert!(icrqs >= 200, "ICRQs captured: {icrqs}");
    assert!(
        zlbs > 0,
        "no ZLB in the capture: the test did not exercise them"
    );
    eprintln!(
        "busy set-up: {} control messages, {zlbs} ZLBs, every Ns in order",
        msgs.len()
    );
}

/// A client with 100 sessions (100 interfaces) shutting down: one StopCCN, acknowledged, and
/// the interfaces removed in one netlink request. Removed one by one (≈ 20 ms each) they took
/// seconds during which the StopCCN sat unsent, then left twice (its retransmission timer had
/// run out meanwhile).
#[test]
fn client_with_100_sessions_shuts_down_with_one_stopccn() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("s");
    let cfg = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace("203.0.113.10-203.0.113.20", "203.0.113.10-203.0.113.250");
    std::fs::write(&cfg, text).expect("config");
    let lns = topo.spawn_logging(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
        "info",
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });
    let mut client = topo.start_client(100, "secret");
    wait_for(Duration::from_secs(90), "100 client interfaces", || {
        topo.client_addresses().len() == 100
    });
    let Some(mut cap) = Capture::start(&topo.lns, topo.dir.join("stop.pcapng")) else {
        return;
    };
    let t0 = Instant::now();
    client.stop();
    let took = t0.elapsed();
    let pcap = cap.finish();
    let msgs = control_messages(&pcap);
    let stops: Vec<_> = msgs
        .iter()
        .filter(|m| m.0 == "192.0.2.2" && m.3 == Some(4))
        .collect();
    if stops.len() != 1 {
        let r = pcap.to_str().expect("utf-8");
        let times = tshark(&[
            "-r",
            r,
            "-Y",
            "l2tp.type == 1",
            "-T",
            "fields",
            "-e",
            "frame.time_relative",
            "-e",
            "ip.src",
            "-e",
            "l2tp.Ns",
            "-e",
            "l2tp.Nr",
            "-e",
            "l2tp.avp.message_type",
        ]);
        let log = client.log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let lns_log = lns.log();
        let lns_tail: Vec<&str> = lns_log.lines().rev().take(40).collect();
        panic!("StopCCNs from the client: {stops:?}\n{times}\nclient log tail:\n{tail:#?}\nLNS log tail:\n{lns_tail:#?}");
    }
    let (_, stop_ns, _, _) = stops[0];
    assert!(
        msgs.iter()
            .any(|m| m.0 == "192.0.2.1" && m.2 == stop_ns.wrapping_add(1)),
        "the LNS acknowledged the StopCCN: {msgs:?}"
    );
    let left = sh(&["ip", "-n", &topo.cli, "-o", "link", "show"]);
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(!left.contains("l2tp"), "interfaces left:\n{left}");
    eprintln!("client with 100 sessions stopped in {took:?}");
}

/// A client configuration file in the topology's directory; `who` names it and its socket.
fn client_config(topo: &Topology, who: &str, ppp: &str, dial: &str) -> PathBuf {
    let p = topo.dir.join(format!("{who}.toml"));
    let text = format!(
        r#"role = "client"
[daemon]
management_socket = "{sock}"
[ppp]
{ppp}
[dial]
user = "alice"
password = "secret"
{dial}
"#,
        sock = topo.socket(who).display()
    );
    std::fs::write(&p, text).expect("write config");
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
    p
}

/// An LNS that asks only for PAP and a client that accepts only CHAP: both sides report an
/// authentication failure (log line, `auth_failures`), and the CDN says why; nothing stalls.
#[test]
fn pap_only_lns_and_chap_only_client_fail_authentication_on_both_sides() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("p");
    let cfg = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace("[lns]", "[ppp]\nauth = [\"pap\"]\n[lns]");
    std::fs::write(&cfg, text).expect("config");
    let lns = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let lns_sock = topo.socket("lns");
    wait_for(Duration::from_secs(10), "LNS socket", || {
        Client::connect(&lns_sock).is_ok()
    });
    let ccfg = client_config(
        &topo,
        "client",
        r#"auth = ["chap-md5"]"#,
        "peers = [\"192.0.2.1\"]\nredial = false",
    );
    let client = topo.spawn(
        &topo.cli,
        "client",
        &["run", "--config", ccfg.to_str().expect("utf-8")],
    );
    let cli_sock = topo.socket("client");
    wait_for(Duration::from_secs(10), "client socket", || {
        Client::connect(&cli_sock).is_ok()
    });
    wait_for(
        Duration::from_secs(30),
        "an authentication failure counted on both sides",
        || {
            support::stats(&lns_sock).auth_failures >= 1
                && support::stats(&cli_sock).auth_failures >= 1
        },
    );
    for (who, log) in [("LNS", lns.log()), ("client", client.log())] {
        assert!(
            log.contains("PPP authentication failed"),
            "{who} log:\n{log}"
        );
    }
    assert!(
        client
            .log()
            .contains("no authentication protocol both ends accept"),
        "the CDN tells the client why:\n{}",
        client.log()
    );
    assert!(topo.client_addresses().is_empty());
}

/// Two clients on one host both send from UDP port 1701 (`dial.local_port`), each to its own
/// LNS: both come up, and each LNS sees its client's tunnel from port 1701.
#[test]
fn two_clients_on_one_host_both_dial_from_port_1701() {
    if !privileged() {
        return;
    }
    let topo = Topology::new("r");
    // A second LNS address in the LNS namespace.
    let o = sh(&["ip", "-n", &topo.lns, "-o", "link", "show"]);
    let veth = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .find(|n| n.starts_with('v'))
        .expect("veth in the LNS namespace");
    ok(&[
        "ip",
        "-n",
        &topo.lns,
        "addr",
        "add",
        "192.0.2.3/24",
        "dev",
        &veth,
    ]);
    let cfg1 = topo.lns_config("");
    let text = std::fs::read_to_string(&cfg1).expect("config");
    let cfg2 = topo.dir.join("lns2.toml");
    std::fs::write(
        &cfg2,
        text.replace("192.0.2.1:1701", "192.0.2.3:1701")
            .replace("lns.sock", "lns2.sock"),
    )
    .expect("config");
    let _lns1 = topo.spawn(
        &topo.lns,
        "lns",
        &["run", "--config", cfg1.to_str().expect("utf-8")],
    );
    let _lns2 = topo.spawn(
        &topo.lns,
        "lns2",
        &["run", "--config", cfg2.to_str().expect("utf-8")],
    );
    for who in ["lns", "lns2"] {
        wait_for(Duration::from_secs(10), "LNS socket", || {
            Client::connect(topo.socket(who)).is_ok()
        });
    }
    let mut clients = Vec::new();
    for (who, server, ifname) in [
        ("c1", "192.0.2.1", "l2tpa%d"),
        ("c2", "192.0.2.3", "l2tpb%d"),
    ] {
        let c = client_config(
            &topo,
            who,
            "",
            &format!("peers = [\"{server}\"]\nlocal_port = 1701\ninterface = \"{ifname}\""),
        );
        clients.push(topo.spawn(
            &topo.cli,
            who,
            &["run", "--config", c.to_str().expect("utf-8")],
        ));
    }
    for who in ["lns", "lns2"] {
        let sock = topo.socket(who);
        wait_for(Duration::from_secs(30), "a session up at each LNS", || {
            let s = sessions(&sock);
            s.len() == 1 && s[0].ipv4.is_some()
        });
        match request(&sock, Request::ListTunnels) {
            Response::Tunnels(t) => {
                assert_eq!(t.len(), 1, "{t:?}");
                assert_eq!(t[0].peer_addr, "192.0.2.2:1701", "{who}: {t:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        topo.client_addresses().len(),
        2,
        "{:?}",
        topo.client_addresses()
    );
}
