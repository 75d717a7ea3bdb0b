//! The LNS with RADIUS, against a real FreeRADIUS: an `l2tpd` LNS and FreeRADIUS in one
//! network namespace, an `l2tpd` client in another, joined by a veth pair. A user FreeRADIUS
//! accepts gets the address FreeRADIUS names and pings through the tunnel; accounting
//! Accounting-On, Start and Stop reach FreeRADIUS's detail file with the octets the session
//! carried; `radclient` disconnects the session; a user FreeRADIUS rejects is refused with a
//! CDN. Needs root, iproute2, ping and FreeRADIUS: without them the test says so loudly, and
//! fails under `CI=true`.
//!
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (client); LNS end of PPP 198.51.100.1; pool
//! 203.0.113.10-20; FreeRADIUS on the LNS namespace's 127.0.0.1.

#[path = "../../l2tp-radius/tests/support/mod.rs"]
mod freeradius;
mod support;
use support::{ok, sh};

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{sessions, stats, wait_for, Proc, L2TPD};

const DAE_SECRET: &str = "dae-test-secret";

/// Alice gets a fixed address, a DNS server and a Class; bob gets one from our pool.
const USERS: &str = r#"
alice	Cleartext-Password := "alice-pw"
	Framed-IP-Address = 203.0.113.77,
	MS-Primary-DNS-Server = 192.0.2.53,
	Session-Timeout = 3600,
	Class = "gold-plan"

bob	Cleartext-Password := "bob-pw"
	Framed-IP-Address = 255.255.255.254

carol	Cleartext-Password := "carol-pw"
	Framed-IP-Address = 203.0.113.12

dave	Cleartext-Password := "dave-pw"
	Framed-IP-Address = 203.0.113.12

frank	Cleartext-Password := "frank-pw"
	Framed-Pool = "business",
	Framed-Route = "198.51.100.128/26 0.0.0.0 1"

grace	Cleartext-Password := "grace-pw"
	Framed-IP-Address = 203.0.113.200,
	Framed-IP-Netmask = 255.255.255.248

heidi	Cleartext-Password := "heidi-pw"
	Framed-Route = "198.51.100.128/26 0.0.0.0 1"

ivan	Cleartext-Password := "ivan-pw"
	Framed-Pool = "nosuch"

kim	Cleartext-Password := "kim-pw"
	Framed-IPv6-Prefix = 2001:db8:77::/64,
	Delegated-IPv6-Prefix = 2001:db8:7700::/56

lee	Cleartext-Password := "lee-pw"
	Delegated-IPv6-Prefix = 2001:db8:7700::/56

judy	Cleartext-Password := "judy-pw"
	Framed-MTU = 1300

mallory	Auth-Type := Reject
	Reply-Message = "Account suspended, call support"
"#;

fn can_run(test: &str) -> bool {
    let freeradius = std::path::Path::new("/usr/sbin/freeradius").exists()
        && std::path::Path::new("/etc/freeradius/3.0").exists();
    support::requires(
        test,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            ("ping", support::have_tool("ping")),
            ("the freeradius package", freeradius),
            (
                "radclient (freeradius-utils)",
                support::have_tool("radclient"),
            ),
        ],
    )
}

/// Two namespaces joined by a veth pair, and a scratch directory; removed on drop.
struct Topology {
    lns: String,
    cli: String,
    dir: support::TempDir,
}

impl Topology {
    fn new(tag: &str) -> Topology {
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let t = Topology {
            lns: format!("rl-{id}"),
            cli: format!("rc-{id}"),
            dir: support::TempDir::new(&format!("radius-{tag}")),
        };
        ok(&["ip", "netns", "add", &t.lns]);
        ok(&["ip", "netns", "add", &t.cli]);
        let (a, b) = (format!("r{id}a"), format!("r{id}b"));
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// The LNS in its namespace, authenticating and accounting with `fr`, DAE on
    /// 127.0.0.1:`dae_port`.
    fn start_lns(&self, fr: &freeradius::FreeRadius, dae_port: u16) -> Proc {
        self.start_lns_with(fr, dae_port, "")
    }

    /// The same with `ppp` inserted as the `[ppp]` section's body.
    fn start_lns_with(&self, fr: &freeradius::FreeRadius, dae_port: u16, ppp: &str) -> Proc {
        self.start_lns_full(fr, dae_port, ppp, "", "")
    }

    /// The same with `lns` added to the `[lns]` section.
    fn start_lns_lns(&self, fr: &freeradius::FreeRadius, lns: &str) -> Proc {
        self.start_lns_config(fr, freeradius::free_udp_port(), ["", "", "", lns])
    }

    /// The same with `radius` added to the `[radius]` section and `daemon` to `[daemon]`.
    fn start_lns_full(
        &self,
        fr: &freeradius::FreeRadius,
        dae_port: u16,
        ppp: &str,
        radius: &str,
        daemon: &str,
    ) -> Proc {
        self.start_lns_config(fr, dae_port, [ppp, radius, daemon, ""])
    }

    /// The LNS with `[ppp]`, `[radius]`, `[daemon]` and `[lns]` additions.
    fn start_lns_config(
        &self,
        fr: &freeradius::FreeRadius,
        dae_port: u16,
        [ppp, radius, daemon, lns]: [&str; 4],
    ) -> Proc {
        let cfg = self.path("lns.toml");
        std::fs::write(
            &cfg,
            format!(
                r#"role = "lns"
[daemon]
management_socket = "{sock}"
{daemon}
[tunnel]
host_name = "lns-under-test"
[ppp]
{ppp}
[lns]
listen = ["192.0.2.1:1701"]
ipv4_pool = "203.0.113.10-203.0.113.20"
local_ipv4 = "198.51.100.1"
{mode}
{lns}
[radius]
nas_identifier = "lns-under-test"
timeout_ms = 1000
dae_listen = "127.0.0.1:{dae_port}"
spool_dir = "{spool}"
{radius}
[[radius.auth_servers]]
address = "{auth}"
secret = "{secret}"
[[radius.acct_servers]]
address = "{acct}"
secret = "{secret}"
[[radius.dae_clients]]
address = "127.0.0.1"
secret = "{DAE_SECRET}"
"#,
                sock = self.path("lns.sock").display(),
                mode = if lns.contains("interface_mode") {
                    ""
                } else {
                    "interface_mode = \"shared\""
                },
                spool = self.path("spool").display(),
                auth = fr.auth,
                acct = fr.acct,
                secret = freeradius::SECRET,
            ),
        )
        .expect("write config");
        let p = self.spawn(
            &self.lns,
            "lns",
            &["run", "--config", cfg.to_str().unwrap()],
        );
        let sock = self.path("lns.sock");
        wait_for(
            Duration::from_secs(10),
            "the LNS's management socket",
            || l2tp_mgmt::Client::connect(&sock).is_ok(),
        );
        p
    }

    fn start_client(&self, who: &str, user: &str, password: &str) -> Proc {
        let sock = self.path(&format!("{who}.sock"));
        #[rustfmt::skip]
        let args = [
            "client", "--server", "192.0.2.1", "--user", user, "--password", password,
            "--socket", sock.to_str().unwrap(),
        ];
        self.spawn(&self.cli, who, &args)
    }

    /// `l2tpd ARGS` inside `ns` (`ip netns exec` execs it: the pid is the daemon's).
    fn spawn(&self, ns: &str, who: &str, args: &[&str]) -> Proc {
        let log = self.path(&format!("{who}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, L2TPD])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn l2tpd");
        Proc { child, log }
    }

    /// `radclient` in the LNS's namespace; its output.
    fn radclient(&self, to: &str, command: &str, input: &str) -> String {
        self.radclient_with(to, command, DAE_SECRET, input)
    }

    /// The same with another secret.
    fn radclient_with(&self, to: &str, command: &str, secret: &str, input: &str) -> String {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.lns,
                "radclient",
                "-x",
                "-r",
                "1",
                "-t",
                "2",
            ])
            .args([to, command, secret])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn radclient");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.lns]);
        let _ = sh(&["ip", "netns", "del", &self.cli]);
    }
}

fn get<'a>(rec: &'a [(String, String)], k: &str) -> Option<&'a str> {
    rec.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

fn num(rec: &[(String, String)], k: &str) -> u64 {
    get(rec, k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{k} missing or not a number in {rec:?}"))
}

/// The detail records with this Acct-Status-Type.
fn records(fr: &freeradius::FreeRadius, status: &str) -> Vec<Vec<(String, String)>> {
    fr.detail_records()
        .into_iter()
        .filter(|r| get(r, "Acct-Status-Type") == Some(status))
        .collect()
}

#[test]
fn radius_user_gets_its_address_pings_is_accounted_and_disconnected() {
    let test = "radius_user_gets_its_address_pings_is_accounted_and_disconnected";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("a");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-a", USERS, Some(&topo.lns));
    let dae_port = freeradius::free_udp_port();
    let lns = topo.start_lns(&fr, dae_port);
    let lns_sock = topo.path("lns.sock");
    wait_for(Duration::from_secs(10), "Accounting-On", || {
        !records(&fr, "Accounting-On").is_empty()
    });

    let client = topo.start_client("client", "alice", "alice-pw");
    let log = || format!("LNS:\n{}\nclient:\n{}", lns.log_tail(), client.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    assert_eq!(
        up[0].ipv4,
        Some("203.0.113.77".parse().unwrap()),
        "the address FreeRADIUS named"
    );
    assert_eq!(up[0].user.as_deref(), Some("alice"));

    // IP crosses the tunnel: 5 echo requests of 1028 octets each way.
    let ping = sh(&[
        "ip",
        "netns",
        "exec",
        &topo.cli,
        "ping",
        "-c",
        "5",
        "-i",
        "0.2",
        "-W",
        "2",
        "-s",
        "1000",
        "198.51.100.1",
    ]);
    assert!(
        ping.status.success(),
        "ping through the tunnel: {}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        log()
    );

    wait_for(Duration::from_secs(10), "accounting Start", || {
        !records(&fr, "Start").is_empty()
    });
    let start = records(&fr, "Start").remove(0);
    assert_eq!(get(&start, "User-Name"), Some("alice"));
    assert_eq!(get(&start, "Framed-IP-Address"), Some("203.0.113.77"));
    assert_eq!(get(&start, "NAS-Identifier"), Some("lns-under-test"));
    assert_eq!(get(&start, "NAS-Port-Type"), Some("Virtual"));
    assert_eq!(get(&start, "Tunnel-Client-Endpoint:1"), Some("192.0.2.2"));
    assert_eq!(get(&start, "Tunnel-Server-Endpoint:1"), Some("192.0.2.1"));
    assert_eq!(
        get(&start, "Class"),
        Some("0x676f6c642d706c616e"),
        "Class echoed: {start:?}"
    );
    let session_id = get(&start, "Acct-Session-Id").expect("Acct-Session-Id");

    // A Disconnect-Request for nobody: NAK, the session stays.
    let ma = "Message-Authenticator = 0x00";
    let dae = format!("127.0.0.1:{dae_port}");
    let out = topo.radclient(
        &dae,
        "disconnect",
        &format!("User-Name = \"carol\"\n{ma}\n"),
    );
    assert!(
        out.contains("Received Disconnect-NAK") && out.contains("Session-Context-Not-Found"),
        "{out}"
    );
    // The right session but the wrong secret: dropped unanswered, the session stays.
    let out = topo.radclient_with(
        &dae,
        "disconnect",
        "not-the-dae-secret",
        &format!("Acct-Session-Id = \"{session_id}\"\n{ma}\n"),
    );
    assert!(!out.contains("Received Disconnect"), "{out}");
    let before = sessions(&lns_sock);
    assert_eq!(before.len(), 1);
    let carried = before[0].stats;
    assert!(
        carried.rx_packets >= 5 && carried.rx_bytes >= 5 * 1028,
        "{carried:?}"
    );

    let out = topo.radclient(
        &dae,
        "disconnect",
        &format!("Acct-Session-Id = \"{session_id}\"\nUser-Name = \"alice\"\n{ma}\n"),
    );
    assert!(out.contains("Received Disconnect-ACK"), "{out}\n{}", log());
    wait_for(Duration::from_secs(10), "accounting Stop", || {
        !records(&fr, "Stop").is_empty()
    });
    let stop = records(&fr, "Stop").remove(0);
    assert_eq!(get(&stop, "Acct-Session-Id"), Some(session_id));
    assert_eq!(get(&stop, "Acct-Terminate-Cause"), Some("Admin-Reset"));
    assert_eq!(get(&stop, "Framed-IP-Address"), Some("203.0.113.77"));
    // What the datapath counted before the Disconnect, plus at most the few LCP frames
    // that closed the link.
    let (in_octets, in_packets) = (
        num(&stop, "Acct-Input-Octets"),
        num(&stop, "Acct-Input-Packets"),
    );
    assert!(
        in_octets >= carried.rx_bytes && in_octets < carried.rx_bytes + 200,
        "input octets {in_octets}, datapath had {}",
        carried.rx_bytes
    );
    assert!(in_packets >= carried.rx_packets && in_packets < carried.rx_packets + 5);
    let out_octets = num(&stop, "Acct-Output-Octets");
    assert!(
        out_octets >= carried.tx_bytes && out_octets < carried.tx_bytes + 200,
        "output octets {out_octets}, datapath had {}",
        carried.tx_bytes
    );
    assert_eq!(num(&stop, "Acct-Input-Gigawords"), 0);
    // What an operator sees (l2tpctl stats, the metrics): the server, its answers, the
    // Disconnects acknowledged, refused and dropped.
    let r = stats(&lns_sock).radius.expect("RADIUS figures");
    let auth = r
        .servers
        .iter()
        .find(|s| s.role == "auth")
        .expect("auth server");
    assert_eq!(auth.address, fr.auth.to_string());
    assert!(
        !auth.dead && auth.accepts >= 1 && auth.bad_replies == 0,
        "{auth:?}"
    );
    assert!(r
        .servers
        .iter()
        .any(|s| s.role == "acct" && s.accounting_responses >= 1));
    assert_eq!((r.dae_acks, r.dae_naks), (1, 1), "{r:?}");
    assert!(r.dae_dropped >= 1, "the wrong secret counted: {r:?}");
    wait_for(
        Duration::from_secs(10),
        "the session gone on the LNS",
        || {
            sessions(&lns_sock)
                .iter()
                .all(|s| (s.tunnel, s.session) != (before[0].tunnel, before[0].session))
        },
    );
}

#[test]
fn rejected_user_gets_a_cdn_and_pool_user_an_address() {
    let test = "rejected_user_gets_a_cdn_and_pool_user_an_address";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("b");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-b", USERS, Some(&topo.lns));
    let lns = topo.start_lns(&fr, freeradius::free_udp_port());
    let lns_sock = topo.path("lns.sock");

    let mut bad = topo.start_client("bad", "alice", "wrong-pw");
    wait_for(
        Duration::from_secs(15),
        "an authentication failure on the LNS",
        || stats(&lns_sock).auth_failures >= 1,
    );
    wait_for(
        Duration::from_secs(10),
        "no session left on the LNS",
        || sessions(&lns_sock).is_empty(),
    );
    assert!(
        lns.log_text().contains("Access-Reject"),
        "{}",
        lns.log_tail()
    );
    support::stop(&mut bad.child);
    let text = bad.log_text();
    assert!(
        text.contains("PPP authentication failed") && text.contains("session down"),
        "the client hears the refusal and its session ends:\n{text}"
    );
    assert!(
        records(&fr, "Start").is_empty(),
        "no accounting for a refused login"
    );

    let client = topo.start_client("client", "bob", "bob-pw");
    let log = || format!("LNS:\n{}\nclient:\n{}", lns.log_tail(), client.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    let a = up[0].ipv4.expect("an address");
    assert!(
        (u32::from(a) >= u32::from(std::net::Ipv4Addr::new(203, 0, 113, 10)))
            && (u32::from(a) <= u32::from(std::net::Ipv4Addr::new(203, 0, 113, 20))),
        "255.255.255.254: an address from our pool, got {a}"
    );
}

#[test]
fn a_stop_nobody_takes_is_spooled_and_delivered_after_a_restart() {
    let test = "a_stop_nobody_takes_is_spooled_and_delivered_after_a_restart";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("c");
    let mut fr = freeradius::FreeRadius::start_with("l2tpd-lns-c", USERS, Some(&topo.lns));
    let dae_port = freeradius::free_udp_port();
    // The daemon gives up root once its sockets are bound: the spool must stay writable.
    let nobody = "user = \"nobody\"";
    let mut lns = topo.start_lns_full(&fr, dae_port, "", "", nobody);
    let lns_sock = topo.path("lns.sock");
    let mut client = topo.start_client("client", "alice", "alice-pw");
    let log = || {
        format!(
            "LNS:\n{}\nclient:\n{}",
            std::fs::read_to_string(topo.path("lns.log")).unwrap_or_default(),
            std::fs::read_to_string(topo.path("client.log")).unwrap_or_default()
        )
    };
    support::wait_sessions_up(&lns_sock, 1, &log);
    wait_for(Duration::from_secs(10), "accounting Start", || {
        !records(&fr, "Start").is_empty()
    });
    let session_id = get(&records(&fr, "Start")[0], "Acct-Session-Id")
        .expect("Acct-Session-Id")
        .to_string();

    // FreeRADIUS goes away; then the client hangs up: the Stop has nowhere to go.
    fr.stop();
    support::stop(&mut client.child);
    let spool = topo.path("spool");
    let spooled = || {
        std::fs::read_dir(&spool)
            .map(|d| d.filter_map(Result::ok).count())
            .unwrap_or(0)
    };
    wait_for(Duration::from_secs(20), "the Stop in the spool", || {
        spooled() == 1
    });
    support::stop(&mut lns.child);
    assert!(records(&fr, "Stop").is_empty());

    // Both come back: the spooled Stop reaches FreeRADIUS and leaves the spool.
    fr.restart();
    let lns = topo.start_lns_full(&fr, dae_port, "", "", nobody);
    wait_for(
        Duration::from_secs(15),
        "the spooled Stop delivered",
        || !records(&fr, "Stop").is_empty(),
    );
    let stop = records(&fr, "Stop").remove(0);
    assert_eq!(get(&stop, "Acct-Session-Id"), Some(session_id.as_str()));
    assert_eq!(get(&stop, "User-Name"), Some("alice"));
    assert_eq!(get(&stop, "Acct-Terminate-Cause"), Some("Lost-Service"));
    assert!(
        num(&stop, "Acct-Delay-Time") >= 1,
        "Acct-Delay-Time says how late: {stop:?}"
    );
    wait_for(Duration::from_secs(5), "the spool emptied", || {
        spooled() == 0
    });

    // A clean stop says Accounting-Off.
    lns.terminate();
    wait_for(Duration::from_secs(10), "Accounting-Off", || {
        !records(&fr, "Accounting-Off").is_empty()
    });
}

#[test]
fn pap_chap_md5_and_mschapv2_are_each_accepted_and_rejected_by_freeradius() {
    let test = "pap_chap_md5_and_mschapv2_are_each_accepted_and_rejected_by_freeradius";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("d");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-d", USERS, Some(&topo.lns));
    let lns_sock = topo.path("lns.sock");
    for (method, logged) in [
        ("pap", "method=Pap"),
        ("chap-md5", "method=ChapMd5"),
        ("mschapv2", "method=MsChapV2"),
    ] {
        // The LNS asks for this one method only.
        let ppp = format!("auth = [\"{method}\"]");
        let mut lns = topo.start_lns_with(&fr, freeradius::free_udp_port(), &ppp);
        let mut bad = topo.start_client("bad", "bob", "not-bobs-pw");
        wait_for(
            Duration::from_secs(15),
            &format!("{method}: the wrong password refused"),
            || stats(&lns_sock).auth_failures >= 1,
        );
        support::stop(&mut bad.child);
        assert!(
            bad.log_text().contains("PPP authentication failed"),
            "{method}: {}",
            bad.log_tail()
        );
        if method == "mschapv2" {
            // FreeRADIUS's MS-CHAP-Error (RFC 2548 §2.1.5) is what the client reads in
            // the MS-CHAPv2 Failure packet (RFC 2759 §6), not a text of our own.
            let sent = fr
                .log_text()
                .lines()
                .filter_map(|l| l.split_once("MS-CHAP-Error = ").map(|(_, v)| v.to_string()))
                .next_back()
                .unwrap_or_else(|| panic!("FreeRADIUS sent no MS-CHAP-Error:\n{}", fr.log_text()));
            // As FreeRADIUS logs it: quoted, the Ident octet escaped first.
            let text = sent.trim_matches('"');
            let text = text.get(text.find("E=").unwrap_or(0)..).unwrap_or(text);
            assert!(text.starts_with("E=691 "), "{sent}");
            assert!(
                bad.log_text().contains(&format!("CHAP Failure: {text}")),
                "the client reads the server's {text:?}:\n{}",
                bad.log_text()
            );
        }
        // An account the server refuses with a Reply-Message: the client reads those words
        // (in the PAP Nak, the CHAP Failure, the MS-CHAPv2 Failure's M=).
        let mut refused = topo.start_client("refused", "mallory", "mallory-pw");
        wait_for(
            Duration::from_secs(15),
            &format!("{method}: mallory refused"),
            || refused.log_text().contains("PPP authentication failed"),
        );
        support::stop(&mut refused.child);
        let seen = match method {
            "pap" => "PAP Nak: Account suspended, call support",
            "chap-md5" => "CHAP Failure: Account suspended, call support",
            _ => "V=3 M=Account suspended, call support",
        };
        assert!(
            refused.log_text().contains(seen),
            "{method}: {seen:?} in\n{}",
            refused.log_text()
        );

        let mut good = topo.start_client("good", "bob", "bob-pw");
        let log = || format!("LNS:\n{}\nclient:\n{}", lns.log_tail(), good.log_tail());
        let up = support::wait_sessions_up(&lns_sock, 1, &log);
        assert_eq!(up[0].user.as_deref(), Some("bob"), "{method}");
        let text = lns.log_text();
        assert!(
            text.lines()
                .any(|l| l.contains("authenticated") && l.contains(logged)),
            "{method}: the LNS authenticated with {logged}:\n{text}"
        );
        support::stop(&mut good.child);
        support::stop(&mut lns.child);
    }
    assert_eq!(
        records(&fr, "Start").len(),
        3,
        "one Start per accepted login, none for the refused ones"
    );
}

#[test]
fn an_mschapv2_retry_after_freeradius_refuses_succeeds_in_the_same_lcp_session() {
    let test = "an_mschapv2_retry_after_freeradius_refuses_succeeds_in_the_same_lcp_session";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("m");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-m", USERS, Some(&topo.lns));
    let lns = topo.start_lns_with(&fr, freeradius::free_udp_port(), "auth = [\"mschapv2\"]");
    let lns_sock = topo.path("lns.sock");
    // Bob's client tries a stale password first, then the current one: FreeRADIUS's
    // MS-CHAP-Error allows a retry (E=691 R=1 C=…), the client answers the challenge it
    // carries, and the LNS takes that second Response within the same LCP session.
    let cfg = topo.path("bob.toml");
    std::fs::write(
        &cfg,
        format!(
            "role = \"client\"\n[daemon]\nmanagement_socket = {:?}\n[dial]\npeers = [\"192.0.2.1\"]\n\
             user = \"bob\"\npassword = \"stale-pw\"\nretry_password = \"bob-pw\"\nredial = false\n",
            topo.path("bob.sock")
        ),
    )
    .expect("client config");
    let bob = topo.spawn(
        &topo.cli,
        "bob",
        &["run", "--config", cfg.to_str().unwrap()],
    );
    let log = || format!("LNS:\n{}\nbob:\n{}", lns.log_tail(), bob.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    assert_eq!(up[0].user.as_deref(), Some("bob"));
    // FreeRADIUS saw both attempts: the first refused with a retry allowed, the second
    // (with the challenge of that refusal) accepted.
    let text = fr.log_text();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("MS-CHAP-Error = "))
        .collect();
    assert!(
        errors.iter().any(|l| l.contains("E=691 R=1 C=")),
        "FreeRADIUS allowed a retry: {errors:?}"
    );
    assert!(text.contains("Sent Access-Reject"), "{text}");
    assert!(text.contains("Sent Access-Accept"), "{text}");
    let challenge = errors
        .iter()
        .find_map(|l| l.split("C=").nth(1))
        .map(|c| c[..32].to_ascii_lowercase())
        .expect("C=");
    assert!(
        text.to_ascii_lowercase()
            .contains(&format!("ms-chap-challenge = 0x{challenge}")),
        "the second Access-Request carries the Failure's challenge {challenge}"
    );
    // One LCP session: no renegotiation, and no authentication failure counted.
    assert_eq!(stats(&lns_sock).auth_failures, 0, "{}", log());
    assert!(ping_in(&topo.cli, &["198.51.100.1"]), "{}", log());
}

#[test]
fn a_burst_of_logins_beyond_the_outstanding_bound_waits_its_turn() {
    let test = "a_burst_of_logins_beyond_the_outstanding_bound_waits_its_turn";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("e");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-e", USERS, Some(&topo.lns));
    // Two requests in flight at most; ten logins arrive together.
    let lns = topo.start_lns_full(
        &fr,
        freeradius::free_udp_port(),
        "",
        "max_outstanding = 2",
        "",
    );
    let lns_sock = topo.path("lns.sock");
    #[rustfmt::skip]
    let args = [
        "loadgen", "--server", "192.0.2.1:1701", "--tunnels", "1", "--sessions", "10",
        "--user", "bob", "--password", "bob-pw", "--hold", "30", "--timeout", "30",
    ];
    let load = topo.spawn(&topo.cli, "loadgen", &args);
    let log = || format!("LNS:\n{}\nloadgen:\n{}", lns.log_tail(), load.log_tail());
    support::wait_sessions_up(&lns_sock, 10, &log);
    assert_eq!(stats(&lns_sock).auth_failures, 0, "{}", log());
    wait_for(Duration::from_secs(10), "ten accounting Starts", || {
        records(&fr, "Start").len() == 10
    });
}

#[test]
fn a_silent_first_server_fails_over_to_freeradius() {
    let test = "a_silent_first_server_fails_over_to_freeradius";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("f");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-f", USERS, Some(&topo.lns));
    // Preferred (priority 0): a port where nobody answers.
    let silent = format!("127.0.0.1:{}", freeradius::free_udp_port());
    let radius = format!(
        "retries = 2\n[[radius.auth_servers]]\naddress = \"{silent}\"\nsecret = \"{}\"\npriority = 0\n",
        freeradius::SECRET
    );
    let lns = topo.start_lns_full(&fr, freeradius::free_udp_port(), "", &radius, "");
    let lns_sock = topo.path("lns.sock");
    let client = topo.start_client("client", "bob", "bob-pw");
    let log = || format!("LNS:\n{}\nclient:\n{}", lns.log_tail(), client.log_tail());
    support::wait_sessions_up(&lns_sock, 1, &log);
    let r = stats(&lns_sock).radius.expect("RADIUS figures");
    let dead = r
        .servers
        .iter()
        .find(|s| s.address == silent)
        .expect("the silent server");
    assert!(dead.dead && dead.timeouts >= 1, "{dead:?}");
    let live = r
        .servers
        .iter()
        .find(|s| s.role == "auth" && s.address == fr.auth.to_string())
        .expect("FreeRADIUS");
    assert!(live.accepts >= 1, "{live:?}");
    assert_eq!(stats(&lns_sock).auth_failures, 0);
}

#[test]
fn an_address_belongs_to_one_session_at_a_time() {
    let test = "an_address_belongs_to_one_session_at_a_time";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("g");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-g", USERS, Some(&topo.lns));
    let lns = topo.start_lns(&fr, freeradius::free_udp_port());
    let lns_sock = topo.path("lns.sock");
    let carol_ip: std::net::Ipv4Addr = "203.0.113.12".parse().unwrap();

    // carol: FreeRADIUS gives her .12, inside our pool.
    let mut carol = topo.start_client("carol", "carol", "carol-pw");
    let log = || format!("LNS:\n{}", lns.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    assert_eq!(up[0].ipv4, Some(carol_ip));

    // dave: FreeRADIUS gives him .12 too: refused, no second session with .12.
    let mut dave = topo.start_client("dave", "dave", "dave-pw");
    wait_for(Duration::from_secs(15), "dave refused", || {
        lns.log_text().contains("in use by another session")
    });
    support::stop(&mut dave.child);
    assert!(
        dave.log_text().contains("session down"),
        "dave's call is cleared: {}",
        dave.log_tail()
    );
    let now = sessions(&lns_sock);
    assert_eq!(
        now.iter().filter(|s| s.ipv4 == Some(carol_ip)).count(),
        1,
        "{now:?}"
    );

    // The pool (.10-.20, 11 addresses) less carol's: ten pool users, none given .12.
    #[rustfmt::skip]
    let args = [
        "loadgen", "--server", "192.0.2.1:1701", "--tunnels", "1", "--sessions", "10",
        "--user", "bob", "--password", "bob-pw", "--hold", "60", "--timeout", "30",
    ];
    let load = topo.spawn(&topo.cli, "loadgen", &args);
    let log = || format!("LNS:\n{}\nloadgen:\n{}", lns.log_tail(), load.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 11, &log);
    let mut addrs: Vec<_> = up.iter().filter_map(|s| s.ipv4).collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 11, "one address per session: {up:?}");
    assert_eq!(
        up.iter().filter(|s| s.ipv4 == Some(carol_ip)).count(),
        1,
        "{up:?}"
    );

    // carol hangs up: .12 is the pool's again, for the next pool user.
    support::stop(&mut carol.child);
    wait_for(Duration::from_secs(10), "carol's session gone", || {
        sessions(&lns_sock).iter().all(|s| s.ipv4 != Some(carol_ip))
    });
    let next = topo.start_client("next", "bob", "bob-pw");
    let log = || format!("LNS:\n{}\nnext:\n{}", lns.log_tail(), next.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 11, &log);
    assert_eq!(
        up.iter().filter(|s| s.ipv4 == Some(carol_ip)).count(),
        1,
        "the freed .12 leased again: {up:?}"
    );
}

/// `ip route show` in `ns`.
fn routes(ns: &str) -> String {
    String::from_utf8_lossy(&sh(&["ip", "-n", ns, "-4", "route", "show"]).stdout).into_owned()
}

#[test]
fn framed_pool_route_and_netmask_are_applied_and_each_held_by_one_session() {
    let test = "framed_pool_route_and_netmask_are_applied_and_each_held_by_one_session";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("h");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-h", USERS, Some(&topo.lns));
    let pools = "[[lns.pools]]\nname = \"business\"\nrange = \"198.51.100.10-198.51.100.11\"\n";
    let lns = topo.start_lns_lns(&fr, pools);
    let lns_sock = topo.path("lns.sock");

    // frank: an address from the pool FreeRADIUS names, and a prefix routed to him.
    let mut frank = topo.start_client("frank", "frank", "frank-pw");
    let log = || format!("LNS:\n{}\nfrank:\n{}", lns.log_tail(), frank.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    assert_eq!(
        up[0].ipv4,
        Some("198.51.100.10".parse().unwrap()),
        "Framed-Pool"
    );
    wait_for(Duration::from_secs(5), "frank's route", || {
        routes(&topo.lns).contains("198.51.100.128/26 dev l2tp0")
    });
    // Traffic for the prefix reaches frank: an address of it on his side answers a ping.
    ok(&[
        "ip",
        "-n",
        &topo.cli,
        "addr",
        "add",
        "198.51.100.129/32",
        "dev",
        "lo",
    ]);
    let ping = sh(&[
        "ip",
        "netns",
        "exec",
        &topo.lns,
        "ping",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        "198.51.100.129",
    ]);
    assert!(
        ping.status.success(),
        "ping into frank's routed prefix: {}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        routes(&topo.lns),
        log()
    );

    // grace: a fixed address with a netmask: the subnet is routed to her.
    let grace = topo.start_client("grace", "grace", "grace-pw");
    let log = || format!("LNS:\n{}\ngrace:\n{}", lns.log_tail(), grace.log_tail());
    let up = support::wait_sessions_up(&lns_sock, 2, &log);
    assert!(up
        .iter()
        .any(|s| s.ipv4 == Some("203.0.113.200".parse().unwrap())));
    wait_for(Duration::from_secs(5), "grace's subnet route", || {
        routes(&topo.lns).contains("203.0.113.200/29 dev l2tp0")
    });

    // heidi is given frank's prefix: refused, frank keeps it; ivan names no pool we have.
    for (who, why) in [
        (
            "heidi",
            "route 198.51.100.128/26 is routed to another session",
        ),
        ("ivan", "no such address pool"),
    ] {
        let mut c = topo.start_client(who, who, &format!("{who}-pw"));
        wait_for(Duration::from_secs(15), &format!("{who} refused"), || {
            lns.log_text().contains(why)
        });
        wait_for(
            Duration::from_secs(10),
            &format!("{who}'s call cleared"),
            || c.log_text().contains("session down"),
        );
        support::stop(&mut c.child);
        assert_eq!(sessions(&lns_sock).len(), 2, "{who}: {}", lns.log_tail());
    }
    assert!(routes(&topo.lns).contains("198.51.100.128/26 dev l2tp0"));

    // frank hangs up: his route goes with him.
    support::stop(&mut frank.child);
    wait_for(Duration::from_secs(10), "frank's route removed", || {
        !routes(&topo.lns).contains("198.51.100.128/26")
    });
    assert!(routes(&topo.lns).contains("203.0.113.200/29 dev l2tp0"));
}

/// `ip -6 route show` in `ns`.
fn routes6(ns: &str) -> String {
    String::from_utf8_lossy(&sh(&["ip", "-n", ns, "-6", "route", "show"]).stdout).into_owned()
}

/// Three pings in `ns` (`ping ARGS`); whether one was answered.
fn ping_in(ns: &str, args: &[&str]) -> bool {
    let mut v = vec![
        "ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2",
    ];
    v.extend_from_slice(args);
    sh(&v).status.success()
}

#[test]
fn framed_and_delegated_ipv6_prefixes_are_advertised_routed_and_held_by_one_session() {
    let test = "framed_and_delegated_ipv6_prefixes_are_advertised_routed_and_held_by_one_session";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("i");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-i", USERS, Some(&topo.lns));
    let lns = topo.start_lns_lns(&fr, "ipv6_prefix = \"2001:db8:1::/64\"");
    let lns_sock = topo.path("lns.sock");

    // kim: the /64 FreeRADIUS names is advertised to her (not one of lns.ipv6_prefix), and
    // both her prefixes are routed to her session.
    let mut kim = topo.start_client("kim", "kim", "kim-pw");
    let log = || format!("LNS:\n{}\nkim:\n{}", lns.log_tail(), kim.log_tail());
    support::wait_sessions_up(&lns_sock, 1, &log);
    wait_for(Duration::from_secs(10), "kim's address in her /64", || {
        sessions(&lns_sock).iter().any(|s| {
            s.ipv6
                .is_some_and(|a| a.segments()[..4] == [0x2001, 0xdb8, 0x77, 0])
        })
    });
    // Her accounting names both prefixes.
    wait_for(Duration::from_secs(10), "kim's accounting Start", || {
        !records(&fr, "Start").is_empty()
    });
    let start = records(&fr, "Start").remove(0);
    assert_eq!(
        get(&start, "Framed-IPv6-Prefix"),
        Some("2001:db8:77::/64"),
        "{start:?}"
    );
    assert_eq!(
        get(&start, "Delegated-IPv6-Prefix"),
        Some("2001:db8:7700::/56"),
        "{start:?}"
    );
    let r6 = routes6(&topo.lns);
    assert!(r6.contains("2001:db8:77::/64 dev l2tp0"), "{r6}");
    assert!(r6.contains("2001:db8:7700::/56 dev l2tp0"), "{r6}");
    // Traffic both ways: from her address in the advertised /64, and from one in her
    // delegated prefix (on her side's loopback), to the LNS.
    wait_for(Duration::from_secs(10), "IPv6 ping from kim's /64", || {
        ping_in(&topo.cli, &["-6", "2001:db8:1::1"])
    });
    ok(&[
        "ip",
        "-n",
        &topo.cli,
        "addr",
        "add",
        "2001:db8:7700::1/128",
        "dev",
        "lo",
    ]);
    assert!(
        ping_in(
            &topo.cli,
            &["-6", "-I", "2001:db8:7700::1", "2001:db8:1::1"]
        ),
        "IPv6 ping from kim's delegated prefix\n{}\n{}",
        routes6(&topo.lns),
        log()
    );

    // lee is given kim's delegated prefix: refused.
    let mut lee = topo.start_client("lee", "lee", "lee-pw");
    let why = "route 2001:db8:7700::/56 is routed to another session";
    wait_for(Duration::from_secs(15), "lee refused", || {
        lns.log_text().contains(why)
    });
    support::stop(&mut lee.child);
    assert_eq!(sessions(&lns_sock).len(), 1, "{}", lns.log_tail());

    // kim hangs up: her prefixes' routes go with her.
    support::stop(&mut kim.child);
    wait_for(Duration::from_secs(10), "kim's routes removed", || {
        let r6 = routes6(&topo.lns);
        !r6.contains("2001:db8:77::/64") && !r6.contains("2001:db8:7700::/56")
    });
}

#[test]
fn framed_mtu_caps_the_sessions_interface() {
    let test = "framed_mtu_caps_the_sessions_interface";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("j");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-j", USERS, Some(&topo.lns));
    // One interface per session, 1460 by default ([ppp] mtu).
    let mut lns = topo.start_lns_lns(&fr, "interface_mode = \"per-session\"");
    let lns_sock = topo.path("lns.sock");
    let links = || {
        String::from_utf8_lossy(&sh(&["ip", "-n", &topo.lns, "-o", "link", "show"]).stdout)
            .into_owned()
    };
    let mtu_of = |user: &str| {
        let s = sessions(&lns_sock);
        let ifname = s
            .iter()
            .find(|s| s.user.as_deref() == Some(user))
            .and_then(|s| s.interface.clone())?;
        links()
            .lines()
            .find(|l| l.contains(&format!(" {ifname}:")))
            .and_then(|l| l.split(" mtu ").nth(1))
            .and_then(|m| m.split_whitespace().next())
            .map(str::to_string)
    };
    let mut judy = topo.start_client("judy", "judy", "judy-pw");
    let mut bob = topo.start_client("bob", "bob", "bob-pw");
    let log = || {
        format!(
            "LNS:\n{}\njudy:\n{}\nbob:\n{}",
            lns.log_tail(),
            judy.log_tail(),
            bob.log_tail()
        )
    };
    support::wait_sessions_up(&lns_sock, 2, &log);
    wait_for(Duration::from_secs(10), "both interfaces", || {
        mtu_of("judy").is_some() && mtu_of("bob").is_some()
    });
    assert_eq!(mtu_of("judy").as_deref(), Some("1300"), "{}", links());
    assert_eq!(mtu_of("bob").as_deref(), Some("1460"), "{}", links());

    // One shared interface: judy's host route carries her MTU, bob's none.
    for p in [&mut judy, &mut bob, &mut lns] {
        support::stop(&mut p.child);
    }
    let lns = topo.start_lns_lns(&fr, "");
    let judy = topo.start_client("judy2", "judy", "judy-pw");
    let bob = topo.start_client("bob2", "bob", "bob-pw");
    let log = || {
        format!(
            "LNS:\n{}\njudy:\n{}\nbob:\n{}",
            lns.log_tail(),
            judy.log_tail(),
            bob.log_tail()
        )
    };
    let up = support::wait_sessions_up(&lns_sock, 2, &log);
    let route_of = |user: &str| {
        let a = up
            .iter()
            .find(|s| s.user.as_deref() == Some(user))
            .and_then(|s| s.ipv4)
            .expect("an address")
            .to_string();
        String::from_utf8_lossy(&sh(&["ip", "-n", &topo.lns, "route", "show", &a]).stdout)
            .into_owned()
    };
    wait_for(Duration::from_secs(5), "judy's route", || {
        route_of("judy").contains("dev l2tp0")
    });
    assert!(
        route_of("judy").contains("mtu 1300"),
        "{}",
        route_of("judy")
    );
    assert!(!route_of("bob").contains("mtu"), "{}", route_of("bob"));
}

/// Ends a process that is not our child (the LNS after an upgrade), by pid, bounded.
struct Adopted(u32);

impl Drop for Adopted {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        let _ = sh(&["kill", "-TERM", &pid]);
        let proc_dir = std::path::Path::new("/proc").join(&pid);
        let t0 = std::time::Instant::now();
        while proc_dir.exists() && t0.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if proc_dir.exists() {
            let _ = sh(&["kill", "-KILL", &pid]);
        }
    }
}

#[test]
fn sessions_authenticated_by_freeradius_survive_an_upgrade_accounted_and_disconnectable() {
    let test =
        "sessions_authenticated_by_freeradius_survive_an_upgrade_accounted_and_disconnectable";
    if !can_run(test) {
        return;
    }
    let topo = Topology::new("u");
    let fr = freeradius::FreeRadius::start_with("l2tpd-lns-u", USERS, Some(&topo.lns));
    let dae_port = freeradius::free_udp_port();
    let mut lns = topo.start_lns_full(&fr, dae_port, "", "interim_interval = 5", "");
    let lns_sock = topo.path("lns.sock");
    wait_for(Duration::from_secs(10), "Accounting-On", || {
        !records(&fr, "Accounting-On").is_empty()
    });
    let client = topo.start_client("client", "alice", "alice-pw");
    // Read from the files: the LNS process changes on the way.
    let tail = |who: &str| {
        let s = std::fs::read_to_string(topo.path(&format!("{who}.log"))).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let log = || format!("LNS:\n{}\nclient:\n{}", tail("lns"), tail("client"));
    let up = support::wait_sessions_up(&lns_sock, 1, &log);
    let ping = || {
        #[rustfmt::skip]
        let o = sh(&[
            "ip", "netns", "exec", &topo.cli,
            "ping", "-c", "5", "-i", "0.2", "-W", "2", "-s", "1000", "198.51.100.1",
        ]);
        assert!(o.status.success(), "ping through the tunnel\n{}", log());
    };
    ping();
    wait_for(Duration::from_secs(10), "accounting Start", || {
        !records(&fr, "Start").is_empty()
    });
    let session_id = get(&records(&fr, "Start")[0], "Acct-Session-Id")
        .expect("Acct-Session-Id")
        .to_string();

    // The upgrade, as `l2tpctl upgrade` asks for it (the daemon's own binary).
    let mut c = l2tp_mgmt::Client::connect(&lns_sock).expect("management socket");
    c.set_timeout(Duration::from_secs(45)).expect("timeout");
    let resp = c
        .request(&l2tp_mgmt::Request::Upgrade { binary: None })
        .expect("an answer");
    let l2tp_mgmt::Response::Upgraded {
        old_pid,
        new_pid,
        sessions: carried,
        pause_us,
        snapshot_bytes,
        ..
    } = resp
    else {
        panic!("upgrade refused: {resp:?}\n{}", log());
    };
    let _new = Adopted(new_pid);
    eprintln!(
        "RADIUS LNS upgrade: nothing read for {pause_us} us, snapshot {snapshot_bytes} bytes"
    );
    assert_eq!(old_pid, lns.child.id());
    assert_eq!(carried, 1);
    let t0 = std::time::Instant::now();
    while lns.alive() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!lns.alive(), "the old LNS exited");
    let interims_before = records(&fr, "Interim-Update").len();

    // The same session, through the new process.
    ping();
    let after = sessions(&lns_sock);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        (after[0].tunnel, after[0].session, after[0].ipv4),
        (up[0].tunnel, up[0].session, up[0].ipv4),
        "the session carried over"
    );
    let counted = after[0].stats;
    assert!(
        counted.rx_packets >= 10 && counted.rx_bytes >= 10 * 1028,
        "the octets from before the upgrade kept: {counted:?}"
    );
    // An Interim-Update from the new process: the same Acct-Session-Id, its octets
    // including those carried before the upgrade.
    wait_for(
        Duration::from_secs(15),
        "an Interim-Update after the upgrade",
        || {
            records(&fr, "Interim-Update")[interims_before..]
                .iter()
                .any(|r| num(r, "Acct-Input-Octets") >= counted.rx_bytes)
        },
    );
    for r in &records(&fr, "Interim-Update")[interims_before..] {
        assert_eq!(get(r, "Acct-Session-Id"), Some(session_id.as_str()));
    }
    assert_eq!(
        records(&fr, "Accounting-On").len(),
        1,
        "no Accounting-On from the new process: the NAS's sessions go on"
    );

    // A Disconnect-Request reaches the new process on the handed-over DAE socket.
    let out = topo.radclient(
        &format!("127.0.0.1:{dae_port}"),
        "disconnect",
        &format!("Acct-Session-Id = \"{session_id}\"\nMessage-Authenticator = 0x00\n"),
    );
    assert!(out.contains("Received Disconnect-ACK"), "{out}\n{}", log());
    wait_for(Duration::from_secs(10), "accounting Stop", || {
        !records(&fr, "Stop").is_empty()
    });
    let stop = records(&fr, "Stop").remove(0);
    assert_eq!(get(&stop, "Acct-Session-Id"), Some(session_id.as_str()));
    assert_eq!(get(&stop, "Acct-Terminate-Cause"), Some("Admin-Reset"));
    let in_octets = num(&stop, "Acct-Input-Octets");
    assert!(
        in_octets >= counted.rx_bytes && in_octets < counted.rx_bytes + 200,
        "input octets {in_octets}, datapath had {}",
        counted.rx_bytes
    );
    drop(client);
    wait_for(Duration::from_secs(10), "the session gone", || {
        sessions(&lns_sock).is_empty()
    });

    // A new login after the upgrade authenticates, with an Acct-Session-Id of its own.
    let bob = topo.start_client("bob", "bob", "bob-pw");
    let up = support::wait_sessions_up(&lns_sock, 1, &|| {
        format!("{}\n{}", tail("lns"), bob.log_tail())
    });
    assert_eq!(up[0].user.as_deref(), Some("bob"));
    wait_for(Duration::from_secs(10), "bob's accounting Start", || {
        records(&fr, "Start")
            .iter()
            .any(|r| get(r, "User-Name") == Some("bob"))
    });
    let ids: Vec<String> = records(&fr, "Start")
        .iter()
        .filter_map(|r| get(r, "Acct-Session-Id").map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(
        ids[0], ids[1],
        "Acct-Session-Ids stay unique across the upgrade"
    );
}
