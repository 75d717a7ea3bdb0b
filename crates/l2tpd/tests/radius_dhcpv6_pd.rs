//! DHCPv6 prefix delegation, end to end, with a DHCPv6 client we did not write: an `l2tpd`
//! LNS authenticating against a real FreeRADIUS (whose Access-Accept carries
//! Delegated-IPv6-Prefix and DNS-Server-IPv6-Address) in one namespace, an `l2tpd` client
//! in another, and Debian's `dhcpcd` on the client's session interface asking for a prefix
//! (IA_PD) and numbering a downstream interface from it. Checked: dhcpcd got exactly the
//! RADIUS prefix and DNS server, the downstream interface got an address in it, and a ping
//! from the LNS's side to that address is answered through the session. Needs root,
//! iproute2, ping, FreeRADIUS and dhcpcd (package dhcpcd-base): otherwise the test says so
//! loudly, and fails under `CI=true`.
//!
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (client); PPP 198.51.100.1 and the pool
//! 203.0.113.10-20; IPv6 on the sessions from 2001:db8:1::/64 (the LNS 2001:db8:1::1); the
//! delegated prefix 2001:db8:7700::/56; FreeRADIUS on the LNS namespace's 127.0.0.1.

#[path = "../../l2tp-radius/tests/support/mod.rs"]
mod freeradius;
mod support;
use support::{ok, sh};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{sessions, wait_for, Proc, TempDir, L2TPD};

const TEST: &str = "radius_dhcpv6_prefix_delegation";

const USERS: &str = r#"
cpe	Cleartext-Password := "cpe-pw"
	Framed-IP-Address = 255.255.255.254,
	Delegated-IPv6-Prefix = 2001:db8:7700::/56,
	DNS-Server-IPv6-Address = 2001:db8::53
"#;

/// The LNS's and the client's namespaces joined by a veth pair, with a LAN interface on
/// the client's side for dhcpcd to number; removed on drop.
struct Topology {
    lns: String,
    cli: String,
    dir: TempDir,
}

impl Topology {
    fn new() -> Topology {
        let id = std::process::id() % 100_000;
        let t = Topology {
            lns: format!("pl-{id}"),
            cli: format!("pc-{id}"),
            dir: TempDir::new("dhcpv6-pd"),
        };
        ok(&["ip", "netns", "add", &t.lns]);
        ok(&["ip", "netns", "add", &t.cli]);
        let (a, b) = (format!("p{id}a"), format!("p{id}b"));
        ok(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        ok(&["ip", "link", "set", &a, "netns", &t.lns]);
        ok(&["ip", "link", "set", &b, "netns", &t.cli]);
        ok(&["ip", "-n", &t.lns, "addr", "add", "192.0.2.1/24", "dev", &a]);
        ok(&["ip", "-n", &t.cli, "addr", "add", "192.0.2.2/24", "dev", &b]);
        for (ns, dev) in [(&t.lns, &a), (&t.cli, &b)] {
            ok(&["ip", "-n", ns, "link", "set", dev, "up"]);
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        // The CPE's LAN: a veth pair (up at both ends) inside its namespace.
        ok(&[
            "ip", "-n", &t.cli, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1",
        ]);
        ok(&["ip", "-n", &t.cli, "link", "set", "lan0", "up"]);
        ok(&["ip", "-n", &t.cli, "link", "set", "lan1", "up"]);
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// `BIN ARGS` inside `ns` (`ip netns exec` execs it: the pid is the program's).
    fn spawn(&self, ns: &str, who: &str, bin: &str, args: &[&str]) -> Proc {
        let log = self.path(&format!("{who}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, bin])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn");
        Proc { child, log }
    }

    fn start_lns(&self, fr: &freeradius::FreeRadius) -> Proc {
        let cfg = self.path("lns.toml");
        std::fs::write(
            &cfg,
            format!(
                r#"role = "lns"
[daemon]
management_socket = "{sock}"
[lns]
listen = ["192.0.2.1:1701"]
ipv4_pool = "203.0.113.10-203.0.113.20"
local_ipv4 = "198.51.100.1"
ipv6_prefix = "2001:db8:1::/64"
interface_mode = "shared"
[radius]
nas_identifier = "lns-under-test"
timeout_ms = 1000
spool_dir = "{spool}"
[[radius.auth_servers]]
address = "{auth}"
secret = "{secret}"
"#,
                sock = self.path("lns.sock").display(),
                spool = self.path("spool").display(),
                auth = fr.auth,
                secret = freeradius::SECRET,
            ),
        )
        .expect("write config");
        let p = self.spawn(
            &self.lns,
            "lns",
            L2TPD,
            &["run", "--config", cfg.to_str().unwrap()],
        );
        let sock = self.path("lns.sock");
        wait_for(Duration::from_secs(10), "the LNS's socket", || {
            l2tp_mgmt::Client::connect(&sock).is_ok()
        });
        p
    }

    fn start_client(&self) -> Proc {
        let sock = self.path("cpe.sock");
        #[rustfmt::skip]
        let args = [
            "client", "--server", "192.0.2.1", "--user", "cpe", "--password", "cpe-pw",
            "--socket", sock.to_str().unwrap(),
        ];
        self.spawn(&self.cli, "cpe", L2TPD, &args)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.lns]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
    }
}

/// dhcpcd's configuration: DHCPv6 only, no Router Solicitations of its own (the session's
/// are the daemon's), a prefix asked for and its first /64 put on `lan0`.
const DHCPCD_CONF: &str = "ipv6only\nnoipv6rs\nnohook resolv.conf\noption dhcp6_name_servers\n\
ia_pd 1 lan0/0/64\n";

fn can_run() -> bool {
    support::requires(
        TEST,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            ("ping", support::have_tool("ping")),
            (
                "freeradius",
                Path::new("/usr/sbin/freeradius").exists()
                    && Path::new("/etc/freeradius/3.0").exists(),
            ),
            ("dhcpcd (package dhcpcd-base)", support::have_tool("dhcpcd")),
        ],
    )
}

#[test]
fn radius_dhcpv6_prefix_delegation() {
    if !can_run() {
        return;
    }
    let topo = Topology::new();
    let fr = freeradius::FreeRadius::start_with("l2tpd-dhcpv6", USERS, Some(&topo.lns));
    let lns = topo.start_lns(&fr);
    let mut cpe = topo.start_client();
    let cpe_sock = topo.path("cpe.sock");
    let log = || format!("LNS:\n{}\nclient:\n{}", lns.log_tail(), cpe.log_tail());
    support::wait_sessions_up(&topo.path("lns.sock"), 1, &log);
    // The client's session interface, once its IPv6 is up.
    let mut ifname = String::new();
    wait_for(Duration::from_secs(15), "the client's IPv6", || {
        let Some(s) = sessions(&cpe_sock).into_iter().find(|s| s.ipv6.is_some()) else {
            return false;
        };
        ifname = s.interface.clone().unwrap_or_default();
        !ifname.is_empty()
    });

    // dhcpcd on it, as a CPE would run it on its PPP interface.
    let conf = topo.path("dhcpcd.conf");
    std::fs::write(&conf, DHCPCD_CONF).expect("dhcpcd.conf");
    #[rustfmt::skip]
    let dhcpcd = topo.spawn(&topo.cli, "dhcpcd", "dhcpcd", &[
        "-B", "-d", "-6", "-f", conf.to_str().unwrap(), "-c", "/bin/true", "-t", "60", &ifname,
    ]);
    let addrs = || ok(&["ip", "-n", &topo.cli, "-6", "addr", "show", "dev", "lan0"]);
    wait_for(
        Duration::from_secs(40),
        "an address from the delegated prefix on lan0",
        || addrs().contains("inet6 2001:db8:7700:"),
    );
    let text = dhcpcd.log_text();
    eprintln!("dhcpcd:\n{text}");
    // Exactly the RADIUS prefix, and its DNS server.
    assert!(
        text.contains("delegated prefix 2001:db8:7700::/56"),
        "{text}"
    );
    let delegated: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("delegated prefix"))
        .collect();
    assert!(
        delegated.iter().all(|l| l.contains("2001:db8:7700::/56")),
        "{delegated:?}"
    );
    let lease = ok(&[
        "ip", "netns", "exec", &topo.cli, "dhcpcd", "-U", "-6", &ifname,
    ]);
    assert!(lease.contains("dhcp6_name_servers=2001:db8::53"), "{lease}");
    let lan = addrs();
    let addr = lan
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .filter(|a| a.starts_with("2001:db8:7700:"))
        .unwrap_or_else(|| panic!("no delegated address on lan0:\n{lan}"))
        .to_string();
    // Traffic to it from the LNS's side reaches the CPE through the session (once the
    // address passed duplicate address detection).
    let ping = || {
        sh(&[
            "ip", "netns", "exec", &topo.lns, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2",
            &addr,
        ])
        .status
        .success()
    };
    let mut answered = false;
    for _ in 0..10 {
        answered = ping();
        if answered {
            break;
        }
    }
    assert!(
        answered,
        "ping {addr} from the LNS's side unanswered\nLNS routes:\n{}\nCPE routes:\n{}\n{}",
        ok(&["ip", "-n", &topo.lns, "-6", "route"]),
        ok(&["ip", "-n", &topo.cli, "-6", "route"]),
        log()
    );
    // What an operator sees: the LNS counts the DHCPv6 messages it answered.
    let st = support::stats(&topo.path("lns.sock"));
    assert!(
        st.dhcpv6_answered >= 1 && st.dhcpv6_dropped == 0,
        "l2tpctl stats: DHCPv6 answered {}, dropped {}",
        st.dhcpv6_answered,
        st.dhcpv6_dropped
    );
    stop_dhcpcd(dhcpcd);
    support::stop(&mut cpe.child);
}

/// The processes whose parent is `pid`, and theirs.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut level = vec![pid];
    for _ in 0..4 {
        let mut next = Vec::new();
        for p in &level {
            let o = sh(&["pgrep", "-P", &p.to_string()]);
            next.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse::<u32>().ok()),
            );
        }
        if next.is_empty() {
            break;
        }
        out.extend(&next);
        level = next;
    }
    out
}

/// Stops dhcpcd by its pid (SIGTERM: it takes its privilege-separation helpers with it),
/// and any helper of it still there after a bounded wait.
fn stop_dhcpcd(mut p: Proc) {
    let helpers = descendants(p.child.id());
    p.terminate();
    for _ in 0..50 {
        if !p.alive() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(p);
    std::thread::sleep(Duration::from_millis(200));
    for h in helpers {
        let _ = sh(&["kill", "-KILL", &h.to_string()]);
    }
}
