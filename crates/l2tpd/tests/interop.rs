//! Interoperability with real L2TP implementations from Debian's packages, started in network
//! namespaces by the scripts in `tests/interop/` (see `docs/interop.md`):
//!
//! - our client → **l2tpns** LNS (+ FreeRADIUS): CHAP-MD5 and PAP, pool and fixed RADIUS
//!   addresses, ICMP through the tunnel, several sessions in one tunnel, a wrong password
//!   (l2tpns answers with a CDN), hang-up from either side;
//! - our client → **xl2tpd** LNS (+ a pppd stand-in): xl2tpd challenges us, CHAP-MD5, IPCP, ICMP;
//! - **xl2tpd** LAC → our LNS: tunnel authentication both ways, PPP with a user of our users
//!   file, an address from our pool, ICMP, xl2tpd's hang-up (StopCCN without CDN) frees the
//!   session and the address;
//! - every capture judged by tshark (no malformed packets, no error-level expert info), plus
//!   our own checks on the control messages we send (L and S bits, Message Type first, Ns/Nr).
//!
//! Needs root and the peer packages (`l2tpns xl2tpd freeradius freeradius-utils ppp tshark`):
//! without them each test prints a loud SKIPPED line, and fails under `CI=true`.
//! Every test has its own namespaces (`iop-*-ID`) and run directory `/tmp/l2tpd-interop-ID`,
//! removed at the end (kept, with logs and captures, when the test fails or with
//! `L2TPD_INTEROP_KEEP=1`); every wait is bounded.

mod support;
use support::{request, sessions, stats};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, Request, Response};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// Our addresses on the three links (the DUT side of each veth).
const DUT_ADDRS: [&str; 3] = ["192.0.2.2", "192.0.2.18", "192.0.2.34"];

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Root and every peer package present; otherwise SKIPPED (or a failure under CI=true).
fn ready(what: &str, cmds: &[&str]) -> bool {
    let root = l2tp_mgmt::is_root();
    let mut need = vec![
        "ip", "ping", "tshark", "dumpcap", "python3", "timeout", "setsid",
    ];
    need.extend_from_slice(cmds);
    let missing: Vec<&str> = need.into_iter().filter(|c| !have(c)).collect();
    if root && missing.is_empty() {
        return true;
    }
    let why = format!("root={root} missing={missing:?}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "interop test {what} cannot run under CI=true ({why}): it needs root and \
             apt-get install l2tpns xl2tpd freeradius freeradius-utils ppp tshark"
        );
    }
    // Straight to the stderr handle: the test harness captures eprintln!, not this.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: interop test {what} needs root and the peer packages ({why}); \
         apt-get install l2tpns xl2tpd freeradius freeradius-utils ppp tshark ***\n"
    );
    false
}

const L2TPNS: &[&str] = &["l2tpns", "freeradius", "radtest"];
const XL2TPD: &[&str] = &["xl2tpd", "xl2tpd-control"];

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn read(p: &Path) -> String {
    strip_ansi(&std::fs::read_to_string(p).unwrap_or_default())
}

fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("timed out after {limit:?} waiting for {what}"))
}

/// One test's lab: a run id, its directory, its namespaces. `stop.sh all` on drop.
struct Lab {
    id: String,
    run: PathBuf,
    dut: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let lab = Lab {
            run: PathBuf::from(format!("/tmp/l2tpd-interop-{id}")),
            dut: format!("iop-dut-{id}"),
            id,
        };
        // Leftovers of an earlier run that had the same id (same pid, same tag): only ours.
        let _ = lab.script("stop.sh", &["all"], &[]);
        std::fs::create_dir_all(&lab.run).expect("run dir");
        lab
    }

    fn script(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new("timeout");
        c.arg("120")
            .arg("bash")
            .arg(interop_dir().join(name))
            .args(args)
            .env("IOP_ID", &self.id)
            .env("IOP_RUN", &self.run)
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run interop script")
    }

    /// Runs a script that must succeed; returns its stdout.
    fn must(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.script(name, args, env);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{name} {args:?} failed ({}):\n{out}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.run.join(rel)
    }

    fn socket(&self, who: &str) -> PathBuf {
        self.run.join(format!("{who}.sock"))
    }

    /// Starts `l2tpd ARGS` in the DUT namespace, logging to `WHO.log`.
    fn spawn(&self, who: &str, args: &[&str]) -> Daemon {
        let log = self.run.join(format!("{who}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.dut, L2TPD])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
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

    /// A config file (mode 0600) in the run directory.
    fn write_config(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.run.join(name);
        std::fs::write(&p, text).expect("write config");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        p
    }

    /// Our client, from a config file: `sessions` calls to `server`; `extra` is appended
    /// after the `[dial]` fields (more of them, then other sections: `[tunnel]`, `[ppp]`).
    fn client(
        &self,
        server: &str,
        user: &str,
        password: &str,
        sessions: u32,
        extra: &str,
    ) -> Daemon {
        let sock = self.socket("client");
        let cfg = self.write_config(
            "client.toml",
            &format!(
                r#"role = "client"
[daemon]
management_socket = "{sock}"
[dial]
peers = ["{server}"]
user = "{user}"
password = "{password}"
sessions = {sessions}
{extra}
"#,
                sock = sock.display()
            ),
        );
        let d = self.spawn("client", &["run", "--config", cfg.to_str().expect("utf-8")]);
        wait_for(
            Duration::from_secs(10),
            "the client's management socket",
            || Client::connect(&sock).is_ok(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
        d
    }

    /// IPv4 addresses on our l2tp interfaces: (interface, address).
    fn tun_addresses(&self) -> Vec<(String, String)> {
        let o = Command::new("ip")
            .args(["-n", &self.dut, "-o", "-4", "addr", "show"])
            .output()
            .expect("ip addr");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 3 && f[1].starts_with("l2tp"))
                    .then(|| (f[1].to_string(), f[3].to_string()))
            })
            .collect()
    }

    fn ping(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args([
                "netns", "exec", &self.dut, "ping", "-c", "3", "-i", "0.2", "-W", "2",
            ])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// l2tpns CLI output (the `enable` prefix is added for the drop commands).
    fn l2tpns_cli(&self, cmds: &[&str]) -> String {
        self.must("l2tpns-cli.sh", cmds, &[])
    }

    fn capture_start(&self, name: &str) {
        self.must("capture.sh", &["start", name], &[]);
    }

    /// Stops the capture and judges it: tshark must find no malformed packet and no
    /// error-level expert info, and our control messages must pass `check_control`.
    /// Returns the judge's output (conversation list and control lines).
    fn capture_judge(&self, name: &str) -> String {
        self.capture_judged(name).0
    }

    /// [`Lab::capture_judge`], also returning the capture's path.
    fn capture_judged(&self, name: &str) -> (String, String) {
        let pcap = self.must("capture.sh", &["stop", name], &[]);
        let pcap = pcap.trim().lines().last().unwrap_or_default().to_string();
        let o = self.script("judge.sh", &[&pcap, "--list", "--control"], &[]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        eprintln!("{name}: {}", err.trim());
        assert!(
            matches!(o.status.code(), Some(0) | Some(2)),
            "tshark judges {pcap}: malformed packets or error-level expert info ({}):\n{out}\n{err}",
            o.status
        );
        assert!(
            !err.contains("judge: 0 L2TP packets"),
            "nothing captured in {pcap}"
        );
        if let Err(e) = check_control(&out) {
            panic!("{pcap}: {e}\n{out}");
        }
        (out, pcap)
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for rel in [
            "client.log",
            "lns.log",
            "l2tpns/l2tpns.log",
            "xlns/xl2tpd.log",
            "xlac/xl2tpd.log",
            "xlns/ppp.log",
            "xlac/ppp.log",
        ] {
            let p = self.path(rel);
            if p.exists() {
                s += &format!(
                    "--- {} (last lines)\n{}\n",
                    p.display(),
                    tail(&read(&p), 40)
                );
            }
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let keep = std::env::var("L2TPD_INTEROP_KEEP").is_ok_and(|v| v == "1");
        if std::thread::panicking() || keep {
            eprintln!(
                "interop: keeping logs and captures in {}",
                self.run.display()
            );
            let _ = self.script("stop.sh", &["all", "--keep-logs"], &[]);
        } else {
            let _ = self.script("stop.sh", &["all"], &[]);
        }
    }
}

/// An `l2tpd` we started in the DUT namespace; SIGTERM (then SIGKILL) on drop.
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
        read(&self.log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One control message line of `judge.sh --control`.
#[derive(Debug)]
struct Ctrl {
    frame: String,
    src: String,
    flow: String,
    l_bit: bool,
    s_bit: bool,
    ns: u16,
    nr: u16,
    msg_type: Option<u16>,
    avps: Vec<u16>,
}

fn parse_control(out: &str) -> Vec<Ctrl> {
    let flag = |s: &str| matches!(s, "1" | "True" | "true");
    out.lines()
        .filter_map(|l| l.strip_prefix("CTRL\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 11, "bad control line {l:?}");
            let avps: Vec<u16> = f[10]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().expect("AVP type"))
                .collect();
            Ctrl {
                frame: f[0].into(),
                src: f[1].into(),
                flow: format!("{}:{}>{}:{}", f[1], f[2], f[3], f[4]),
                l_bit: flag(f[6]),
                s_bit: flag(f[7]),
                ns: f[8].parse().unwrap_or(u16::MAX),
                nr: f[9].parse().unwrap_or(u16::MAX),
                msg_type: f.get(11).and_then(|s| s.split(',').next()?.parse().ok()),
                avps,
            }
        })
        .collect()
}

/// What tshark does not check, on every control message we sent: L and S bits, Message Type
/// the first AVP, Ns starting at 0 with SCCRQ/SCCRP and advancing by one per message (equal
/// for a retransmission, not advanced by a ZLB), Nr never going back.
fn check_control(out: &str) -> Result<(), String> {
    // flow -> (next Ns, last Nr)
    let mut flows: HashMap<String, (u16, u16)> = HashMap::new();
    let ours = parse_control(out)
        .into_iter()
        .filter(|c| DUT_ADDRS.contains(&c.src.as_str()));
    for c in ours {
        let here = format!("frame {} ({})", c.frame, c.flow);
        if !(c.l_bit && c.s_bit) {
            return Err(format!("{here}: control message without the L or S bit"));
        }
        let zlb = c.avps.is_empty();
        if !zlb && c.avps[0] != 0 {
            return Err(format!(
                "{here}: first AVP is {} (Message Type must be first)",
                c.avps[0]
            ));
        }
        if matches!(c.msg_type, Some(1) | Some(2)) {
            if c.ns != 0 {
                return Err(format!("{here}: SCCRQ/SCCRP with Ns {}", c.ns));
            }
            flows.insert(c.flow.clone(), (1, c.nr));
            continue;
        }
        let Some((next, last_nr)) = flows.get_mut(&c.flow) else {
            return Err(format!(
                "{here}: control message before SCCRQ/SCCRP in this flow"
            ));
        };
        if c.nr.wrapping_sub(*last_nr) >= 0x8000 {
            return Err(format!("{here}: Nr went back from {} to {}", last_nr, c.nr));
        }
        *last_nr = c.nr;
        if zlb {
            if c.ns != *next {
                return Err(format!("{here}: ZLB with Ns {} (expected {})", c.ns, next));
            }
        } else if c.ns == *next {
            *next = next.wrapping_add(1);
        } else if next.wrapping_sub(c.ns) > 64 {
            return Err(format!(
                "{here}: Ns {} (expected {} or a retransmission)",
                c.ns, next
            ));
        }
    }
    Ok(())
}

/// AVP types of the control messages of type `msg_type` sent by `src`.
fn avps_of(out: &str, src: &str, msg_type: u16) -> Vec<Vec<u16>> {
    parse_control(out)
        .into_iter()
        .filter(|c| c.src == src && c.msg_type == Some(msg_type))
        .map(|c| c.avps)
        .collect()
}

/// Packets of the conversation list (`judge.sh --list`) sent by `src` whose summary
/// contains `what`.
fn sent(conv: &str, src: &str, what: &str) -> usize {
    conv.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() > 9 && f[1].split(',').next() == Some(src) && f[9].contains(what)
        })
        .count()
}

/// Keepalives both ways for `secs` idle seconds (our HELLO after a second without anything
/// from the peer, LCP Echo every two seconds, from the `KEEPALIVE` config): the session must
/// survive them.
fn idle_with_keepalives(lab: &Lab, secs: u64) {
    let before = sessions(&lab.socket("client"));
    std::thread::sleep(Duration::from_secs(secs));
    let after = sessions(&lab.socket("client"));
    assert!(
        before.len() == after.len()
            && before
                .iter()
                .zip(&after)
                .all(|(a, b)| a.session == b.session),
        "sessions changed while idle with keepalives: {before:?} -> {after:?}\n{}",
        lab.logs()
    );
}

/// Client config: HELLO after 1 s of silence, LCP Echo-Request every 2 s and no line-quality
/// probes (timed echoes every second by default). Data from the peer (the echo replies
/// included) postpones HELLO (RFC 2661 §5.5), so echoes every second would race the HELLO
/// interval and a HELLO might never be due.
const KEEPALIVE: &str =
    "[tunnel]\nhello_interval = 1\n[ppp]\nlcp_echo_interval = 2\nquality_interval = 0\n";

const SCCRQ: u16 = 1;
const SCCRP: u16 = 2;
const SCCCN: u16 = 3;
const AVP_CHALLENGE: u16 = 11;
const AVP_CHALLENGE_RESPONSE: u16 = 13;

fn in_l2tpns_pool(addr: &str) -> bool {
    // ip_pool 203.0.113.0/26
    addr.strip_prefix("203.0.113.")
        .and_then(|h| h.parse::<u8>().ok())
        .is_some_and(|h| h < 64)
}

/// A session of l2tpns' `show session`: (SID, TID, user, IP).
fn l2tpns_sessions(cli: &str) -> Vec<(String, String, String, String)> {
    cli.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 5 && f[0].parse::<u32>().is_ok())
                .then(|| (f[0].into(), f[2].into(), f[3].into(), f[4].into()))
        })
        .collect()
}

/// Tunnels of l2tpns' `show tunnels`: (TID, sessions).
fn l2tpns_tunnels(cli: &str) -> Vec<(String, u32)> {
    cli.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[0].parse::<u32>().is_ok() && f.contains(&"Open")).then(|| {
                let i = f.iter().position(|x| *x == "Open").expect("Open");
                (
                    f[0].into(),
                    f.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0),
                )
            })
        })
        .collect()
}

/// l2tpns sessions that are still active (an address assigned; shut-down sessions linger
/// with 0.0.0.0 until they expire).
fn l2tpns_active(lab: &Lab) -> Vec<(String, String, String, String)> {
    l2tpns_sessions(&lab.l2tpns_cli(&["show session"]))
        .into_iter()
        .filter(|s| s.3 != "0.0.0.0")
        .collect()
}

// ------------------------------------------------------------------------------ l2tpns

#[test]
fn l2tpns_chap_pool_address_ping_and_hangup_from_our_side() {
    if !ready(
        "l2tpns_chap_pool_address_ping_and_hangup_from_our_side",
        L2TPNS,
    ) {
        return;
    }
    let lab = Lab::new("a");
    lab.must("l2tpns-start.sh", &[], &[]);
    lab.capture_start("chap");
    // No tunnel secret, no auth preference: l2tpns offers CHAP-MD5 first.
    let mut client = lab.client("192.0.2.1:1701", "l2tptest", "l2tptest", 1, KEEPALIVE);
    wait_for(
        Duration::from_secs(20),
        "a TUN address from the l2tpns pool",
        || lab.tun_addresses().len() == 1,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    let (ifname, addr) = lab.tun_addresses()[0].clone();
    let addr = addr.split('/').next().unwrap_or_default().to_string();
    assert!(in_l2tpns_pool(&addr), "{ifname} got {addr}");
    assert!(client.log().contains("method=ChapMd5"), "{}", client.log());
    assert!(
        lab.ping(&["-I", &ifname, "198.51.100.1"]),
        "ping 198.51.100.1 through l2tpns\n{}",
        lab.logs()
    );
    let active = l2tpns_active(&lab);
    assert!(
        active.len() == 1 && active[0].2 == "l2tptest" && active[0].3 == addr,
        "l2tpns show session: {active:?}"
    );
    let ours = sessions(&lab.socket("client"));
    assert!(
        ours.len() == 1 && ours[0].ipv4.map(|a| a.to_string()) == Some(addr.clone()),
        "{ours:?}"
    );
    assert!(
        ours[0].stats.rx_packets >= 3 && ours[0].stats.tx_packets >= 3,
        "{ours:?}"
    );
    idle_with_keepalives(&lab, 3);

    // We hang up (SIGTERM: StopCCN): l2tpns clears the tunnel and the session.
    client.stop();
    wait_for(
        Duration::from_secs(10),
        "l2tpns to clear tunnel and session",
        || {
            l2tpns_tunnels(&lab.l2tpns_cli(&["show tunnels"])).is_empty()
                && l2tpns_active(&lab).is_empty()
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    assert!(lab.tun_addresses().is_empty());
    let conv = lab.capture_judge("chap");
    assert!(conv.contains("StopCCN"), "{conv}");
    // l2tpns acknowledges our HELLOs and answers our LCP echoes.
    assert!(
        sent(&conv, "192.0.2.2", "Hello") >= 1,
        "our HELLOs:\n{conv}"
    );
    assert!(
        sent(&conv, "192.0.2.1", "Echo Reply") >= 1,
        "LCP Echo-Replies:\n{conv}"
    );
}

#[test]
fn l2tpns_pap_fixed_radius_address_with_tunnel_secret_configured() {
    if !ready(
        "l2tpns_pap_fixed_radius_address_with_tunnel_secret_configured",
        L2TPNS,
    ) {
        return;
    }
    let lab = Lab::new("b");
    // l2tpns offers only PAP here. The tunnel secret is configured on our side (l2tpns
    // never challenges, and our client does not challenge an LNS: see the ignored tests).
    lab.must("l2tpns-start.sh", &[], &[("L2TPNS_AUTHTYPES", "pap")]);
    lab.capture_start("pap");
    let client = lab.client(
        "192.0.2.1:1701",
        "l2tpfixed",
        "l2tpfixed",
        1,
        "[tunnel]\nsecret = \"secret\"\n",
    );
    wait_for(
        Duration::from_secs(20),
        "the fixed RADIUS address on our TUN",
        || lab.tun_addresses().len() == 1,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    let (ifname, addr) = lab.tun_addresses()[0].clone();
    assert!(addr.starts_with("203.0.113.200"), "{ifname} got {addr}");
    assert!(client.log().contains("method=Pap"), "{}", client.log());
    assert!(
        lab.ping(&["-I", &ifname, "198.51.100.1"]),
        "ping through l2tpns\n{}",
        lab.logs()
    );
    let active = l2tpns_active(&lab);
    assert!(
        active.len() == 1 && active[0].2 == "l2tpfixed" && active[0].3 == "203.0.113.200",
        "{active:?}"
    );
    drop(client);
    let conv = lab.capture_judge("pap");
    assert!(
        conv.contains("Authenticate-Request"),
        "PAP on the wire:\n{conv}"
    );
}

#[test]
fn l2tpns_pap_after_our_client_naks_chap() {
    if !ready("l2tpns_pap_after_our_client_naks_chap", L2TPNS) {
        return;
    }
    let lab = Lab::new("j");
    lab.must("l2tpns-start.sh", &[], &[]);
    lab.capture_start("papnak");
    // We accept only PAP: we Nak l2tpns' CHAP and it falls back to PAP.
    let client = lab.client(
        "192.0.2.1:1701",
        "l2tpfixed",
        "l2tpfixed",
        1,
        "[ppp]\nauth = [\"pap\"]\n",
    );
    wait_for(Duration::from_secs(20), "the session", || {
        lab.tun_addresses().len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    assert!(client.log().contains("method=Pap"), "{}", client.log());
    drop(client);
    let conv = lab.capture_judge("papnak");
    assert!(
        conv.contains("Authenticate-Request"),
        "PAP on the wire:\n{conv}"
    );
}

#[test]
fn l2tpns_three_sessions_one_tunnel_and_hangups_from_l2tpns() {
    if !ready(
        "l2tpns_three_sessions_one_tunnel_and_hangups_from_l2tpns",
        L2TPNS,
    ) {
        return;
    }
    let lab = Lab::new("c");
    lab.must("l2tpns-start.sh", &[], &[]);
    lab.capture_start("multi");
    let sock = lab.socket("client");
    let client = lab.client("192.0.2.1:1701", "l2tptest", "l2tptest", 3, "");
    let three_up = |lab: &Lab| {
        wait_for(
            Duration::from_secs(25),
            "three sessions with addresses",
            || {
                lab.tun_addresses().len() == 3
                    && sessions(&sock).iter().filter(|s| s.ipv4.is_some()).count() == 3
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    };
    three_up(&lab);
    let ours = sessions(&sock);
    let tunnel = ours[0].tunnel;
    assert!(
        ours.iter().all(|s| s.tunnel == tunnel),
        "one tunnel: {ours:?}"
    );
    let tunnels = l2tpns_tunnels(&lab.l2tpns_cli(&["show tunnels"]));
    assert!(
        tunnels.len() == 1 && tunnels[0].1 == 3,
        "l2tpns show tunnels: {tunnels:?}"
    );
    for (ifname, addr) in lab.tun_addresses() {
        assert!(
            in_l2tpns_pool(addr.split('/').next().unwrap_or_default()),
            "{addr}"
        );
        assert!(
            lab.ping(&["-I", &ifname, "198.51.100.1"]),
            "ping over {ifname}\n{}",
            lab.logs()
        );
    }

    // l2tpns hangs up one session (CDN): ours goes away (the client then redials it).
    let victim = ours[0].clone();
    let vaddr = victim.ipv4.expect("address").to_string();
    let lsid = l2tpns_active(&lab)
        .into_iter()
        .find(|s| s.3 == vaddr)
        .unwrap_or_else(|| panic!("l2tpns session with {vaddr}"))
        .0;
    let out = lab.l2tpns_cli(&["enable", &format!("drop session {lsid}")]);
    let gone = format!("session={}/{} ", victim.tunnel, victim.session);
    wait_for(
        Duration::from_secs(10),
        "our side to clear the dropped session",
        || {
            client
                .log()
                .lines()
                .any(|l| l.contains(&gone) && l.contains("reason=closed by the peer"))
                && sessions(&sock).iter().all(|s| s.session != victim.session)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{out}\n{}", lab.logs()));
    three_up(&lab);

    // We hang up one session (CDN): l2tpns clears it.
    let mine = sessions(&sock)[1].clone();
    let maddr = mine.ipv4.expect("address").to_string();
    let msid = l2tpns_active(&lab)
        .into_iter()
        .find(|s| s.3 == maddr)
        .unwrap_or_else(|| panic!("l2tpns session with {maddr}"))
        .0;
    assert_eq!(
        request(
            &sock,
            Request::CloseSession {
                tunnel: mine.tunnel,
                session: mine.session
            }
        ),
        Response::Ok
    );
    wait_for(
        Duration::from_secs(10),
        "l2tpns to clear the session we closed",
        || {
            l2tpns_active(&lab).iter().all(|s| s.0 != msid)
                && sessions(&sock).iter().all(|s| s.session != mine.session)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));

    // l2tpns drops the tunnel (StopCCN): every session of it is cleared on our side.
    let ltid = l2tpns_tunnels(&lab.l2tpns_cli(&["show tunnels"]))[0]
        .0
        .clone();
    let out = lab.l2tpns_cli(&["enable", &format!("drop tunnel {ltid}")]);
    wait_for(
        Duration::from_secs(10),
        "our side to clear the dropped tunnel",
        || {
            client.log().lines().any(|l| {
                l.contains(&format!("tunnel down node=client tunnel={tunnel} "))
                    && l.contains("reason=closed by the peer")
            }) && sessions(&sock).iter().all(|s| s.tunnel != tunnel)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{out}\n{}", lab.logs()));
    wait_for(
        Duration::from_secs(10),
        "l2tpns to clear the sessions of the dropped tunnel",
        || l2tpns_active(&lab).iter().all(|s| s.1 != ltid),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    drop(client);
    let conv = lab.capture_judge("multi");
    assert!(conv.contains("CDN") && conv.contains("StopCCN"), "{conv}");
}

#[test]
fn l2tpns_wrong_password_ends_with_cdn_and_is_reported() {
    if !ready(
        "l2tpns_wrong_password_ends_with_cdn_and_is_reported",
        L2TPNS,
    ) {
        return;
    }
    let lab = Lab::new("d");
    lab.must("l2tpns-start.sh", &[], &[]);
    lab.capture_start("badpw");
    let client = lab.client("192.0.2.1:1701", "l2tptest", "wrong", 1, "");
    // l2tpns answers a rejected CHAP Response with a CDN (Result Code 3), no CHAP Failure.
    wait_for(
        Duration::from_secs(15),
        "our client to report the CDN",
        || client.log().contains("session down") && client.log().contains("result 3: "),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    assert!(
        lab.tun_addresses().is_empty(),
        "no interface with a wrong password"
    );
    assert!(
        read(&lab.path("l2tpns/l2tpns.log")).contains("Authentication rejected"),
        "{}",
        lab.logs()
    );
    drop(client);
    let conv = lab.capture_judge("badpw");
    assert!(
        conv.lines()
            .any(|l| l.starts_with(|c: char| c.is_ascii_digit())
                && l.contains("\t192.0.2.1\t")
                && l.contains("CDN")),
        "a CDN from l2tpns:\n{conv}"
    );
    assert!(
        !conv.contains("\tFailure"),
        "no CHAP Failure expected:\n{conv}"
    );
}

#[test]
fn l2tpns_wrong_password_no_redial_when_redial_is_off() {
    if !ready("l2tpns_wrong_password_no_redial_when_redial_is_off", L2TPNS) {
        return;
    }
    let lab = Lab::new("e");
    lab.must("l2tpns-start.sh", &[], &[]);
    let client = lab.client("192.0.2.1:1701", "l2tptest", "wrong", 1, "redial = false\n");
    wait_for(Duration::from_secs(15), "the CDN", || {
        client.log().contains("session down")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    std::thread::sleep(Duration::from_secs(4));
    let log = client.log();
    assert_eq!(
        log.matches("PPP starting").count(),
        1,
        "one call only:\n{log}"
    );
    assert!(!log.contains("redial in"), "{log}");
}

#[test]
fn l2tpns_our_client_challenges_the_lns() {
    if !ready("l2tpns_our_client_challenges_the_lns", L2TPNS) {
        return;
    }
    let lab = Lab::new("f");
    lab.must("l2tpns-start.sh", &[], &[]);
    lab.capture_start("chal");
    let client = lab.client(
        "192.0.2.1:1701",
        "l2tptest",
        "l2tptest",
        1,
        "[tunnel]\nsecret = \"secret\"\n",
    );
    wait_for(Duration::from_secs(20), "the session", || {
        lab.tun_addresses().len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    drop(client);
    let conv = lab.capture_judge("chal");
    let sccrq = avps_of(&conv, "192.0.2.2", SCCRQ);
    assert!(
        sccrq.iter().all(|a| a.contains(&AVP_CHALLENGE)) && !sccrq.is_empty(),
        "our SCCRQ must carry a Challenge: {sccrq:?}"
    );
    let sccrp = avps_of(&conv, "192.0.2.1", SCCRP);
    assert!(
        sccrp.iter().any(|a| a.contains(&AVP_CHALLENGE_RESPONSE)),
        "l2tpns answers it: {sccrp:?}"
    );
}

// ------------------------------------------------------------------------------ xl2tpd LNS

#[test]
fn xl2tpd_lns_challenges_us_chap_md5_ipcp_and_ping() {
    if !ready("xl2tpd_lns_challenges_us_chap_md5_ipcp_and_ping", XL2TPD) {
        return;
    }
    let lab = Lab::new("g");
    lab.must("xl2tpd-lns-start.sh", &[], &[("XL2TPD_CHALLENGE", "yes")]);
    lab.capture_start("xlns");
    let mut client = lab.client(
        "192.0.2.17:1701",
        "l2tptest",
        "l2tptest",
        1,
        // KEEPALIVE, plus the tunnel secret
        "[tunnel]\nsecret = \"secret\"\nhello_interval = 1\n[ppp]\nlcp_echo_interval = 1\n",
    );
    wait_for(
        Duration::from_secs(25),
        "an address from xl2tpd's pool",
        || lab.tun_addresses().len() == 1,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    let (ifname, addr) = lab.tun_addresses()[0].clone();
    let host: u8 = addr
        .split('/')
        .next()
        .and_then(|a| a.strip_prefix("203.0.113."))
        .and_then(|h| h.parse().ok())
        .unwrap_or(0);
    assert!((10..=20).contains(&host), "{ifname} got {addr}");
    assert!(client.log().contains("method=ChapMd5"), "{}", client.log());
    assert!(
        lab.ping(&["-I", &ifname, "198.51.100.1"]),
        "ping through xl2tpd (answered by its pppd stand-in)\n{}",
        lab.logs()
    );
    idle_with_keepalives(&lab, 3);
    client.stop();
    let conv = lab.capture_judge("xlns");
    assert!(
        sent(&conv, "192.0.2.18", "Hello") >= 1,
        "our HELLOs:\n{conv}"
    );
    assert!(
        sent(&conv, "192.0.2.17", "Echo Reply") >= 1,
        "LCP Echo-Replies:\n{conv}"
    );
    let sccrp = avps_of(&conv, "192.0.2.17", SCCRP);
    assert!(
        sccrp.iter().any(|a| a.contains(&AVP_CHALLENGE)),
        "xl2tpd challenges us: {sccrp:?}"
    );
    let scccn = avps_of(&conv, "192.0.2.18", SCCCN);
    assert!(
        scccn.iter().any(|a| a.contains(&AVP_CHALLENGE_RESPONSE)),
        "we answer: {scccn:?}"
    );
}

#[test]
fn xl2tpd_lns_refuses_our_wrong_tunnel_secret_and_we_report_it() {
    if !ready(
        "xl2tpd_lns_refuses_our_wrong_tunnel_secret_and_we_report_it",
        XL2TPD,
    ) {
        return;
    }
    let lab = Lab::new("k");
    lab.must("xl2tpd-lns-start.sh", &[], &[("XL2TPD_CHALLENGE", "yes")]);
    lab.capture_start("badsecret");
    let client = lab.client(
        "192.0.2.17:1701",
        "l2tptest",
        "l2tptest",
        1,
        "[tunnel]\nsecret = \"not-the-secret\"\n",
    );
    // With a secret configured we challenge xl2tpd too, so the mismatch is caught on our side
    // first: xl2tpd's Challenge Response in its SCCRP is wrong for our secret, and we clear
    // the tunnel with a StopCCN (RFC 2661 §5.1.1) and say why.
    wait_for(
        Duration::from_secs(15),
        "our client to report the refusal",
        || {
            let log = client.log();
            log.contains("tunnel authentication failed") && log.contains("tunnel down")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    assert!(
        lab.tun_addresses().is_empty(),
        "no interface without a tunnel"
    );
    // And we back off between attempts instead of hammering the LNS.
    wait_for(Duration::from_secs(10), "a growing redial delay", || {
        client.log().contains("redial in 2s")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", client.log()));
    drop(client);
    let conv = lab.capture_judge("badsecret");
    assert!(conv.contains("StopCCN"), "{conv}");
}

#[test]
fn xl2tpd_lns_hidden_avps_from_our_client() {
    if !ready("xl2tpd_lns_hidden_avps_from_our_client", XL2TPD) {
        return;
    }
    let lab = Lab::new("l");
    lab.must("xl2tpd-lns-start.sh", &[], &[("XL2TPD_CHALLENGE", "yes")]);
    lab.capture_start("hidden");
    let client = lab.client(
        "192.0.2.17:1701",
        "l2tptest",
        "l2tptest",
        1,
        "[tunnel]\nsecret = \"secret\"\nhide_avps = true\n",
    );
    // xl2tpd reads the hidden call AVPs (serial number, bearer, framing, speeds) with the
    // tunnel secret: the session comes up and PPP gets an address.
    wait_for(Duration::from_secs(20), "the session", || {
        lab.tun_addresses().len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", lab.logs(), client.log()));
    drop(client);
    let (_, pcap) = lab.capture_judged("hidden");
    // tshark sees our ICRQ (Call Serial Number) and ICCN (Framing Type, Tx Connect Speed)
    // with hidden AVPs, each padded to one 16-octet block (AVP length 6 + 16).
    let out = std::process::Command::new("tshark")
        .args(["-r", &pcap, "-d", "udp.port==1701,l2tp", "-Y"])
        .args([
            "l2tp.avp.hidden == 1 && ip.src == 192.0.2.18",
            "-T",
            "fields",
        ])
        .args(["-e", "l2tp.avp.message_type", "-e", "l2tp.avp.hidden"])
        .args(["-e", "l2tp.avp.length"])
        .output()
        .expect("tshark");
    let fields = String::from_utf8_lossy(&out.stdout);
    let hidden_lengths = |msg_type: &str| -> Vec<String> {
        fields
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|f| f.len() == 3 && f[0] == msg_type)
            .flat_map(|f| {
                let (hidden, lengths) = (f[1].split(','), f[2].split(','));
                hidden
                    .zip(lengths)
                    .filter(|(h, _)| *h == "1")
                    .map(|(_, l)| l.to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(hidden_lengths("10"), ["22"], "ICRQ: {fields}");
    assert_eq!(hidden_lengths("12"), ["22", "22"], "ICCN: {fields}");
}

#[test]
fn xl2tpd_lns_our_client_challenges_xl2tpd() {
    if !ready("xl2tpd_lns_our_client_challenges_xl2tpd", XL2TPD) {
        return;
    }
    let lab = Lab::new("h");
    lab.must("xl2tpd-lns-start.sh", &[], &[("XL2TPD_CHALLENGE", "yes")]);
    lab.capture_start("xchal");
    let client = lab.client(
        "192.0.2.17:1701",
        "l2tptest",
        "l2tptest",
        1,
        "[tunnel]\nsecret = \"secret\"\n",
    );
    wait_for(Duration::from_secs(25), "the session", || {
        lab.tun_addresses().len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    drop(client);
    let conv = lab.capture_judge("xchal");
    let sccrq = avps_of(&conv, "192.0.2.18", SCCRQ);
    assert!(
        !sccrq.is_empty() && sccrq.iter().all(|a| a.contains(&AVP_CHALLENGE)),
        "our SCCRQ must carry a Challenge: {sccrq:?}"
    );
    let sccrp = avps_of(&conv, "192.0.2.17", SCCRP);
    assert!(
        sccrp.iter().any(|a| a.contains(&AVP_CHALLENGE_RESPONSE)),
        "xl2tpd answers it: {sccrp:?}"
    );
}

// ------------------------------------------------------------------------------ xl2tpd LAC

#[test]
fn xl2tpd_lac_to_our_lns_auth_both_ways_ping_and_stopccn_frees_the_address() {
    if !ready(
        "xl2tpd_lac_to_our_lns_auth_both_ways_ping_and_stopccn_frees_the_address",
        XL2TPD,
    ) {
        return;
    }
    let lab = Lab::new("i");
    // xl2tpd challenges us and adds Random Vector AVPs ("hidden bit"); we challenge it.
    lab.must(
        "xl2tpd-lac-start.sh",
        &[],
        &[("XL2TPD_CHALLENGE", "yes"), ("XL2TPD_HIDDEN", "yes")],
    );
    lab.capture_start("xlac");
    let users = lab.write_config(
        "users",
        "# interop users\nl2tptest l2tptest\nother other-pw\n",
    );
    let sock = lab.socket("lns");
    // A pool of one address: the redial after the hang-up gets it only if it was freed.
    let cfg = lab.write_config(
        "lns.toml",
        &format!(
            r#"role = "lns"
[daemon]
management_socket = "{sock}"
[tunnel]
secret = "secret"
hello_interval = 1
[ppp]
lcp_echo_interval = 1
[lns]
listen = ["192.0.2.34:1701"]
allowed_peers = ["192.0.2.32/28"]
users_file = "{users}"
ipv4_pool = "203.0.113.100-203.0.113.100"
local_ipv4 = "198.51.100.1"
"#,
            sock = sock.display(),
            users = users.display()
        ),
    );
    let lns = lab.spawn("lns", &["run", "--config", cfg.to_str().expect("utf-8")]);
    wait_for(
        Duration::from_secs(10),
        "our LNS's management socket",
        || Client::connect(&sock).is_ok(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lns.log()));

    for round in 1..=2 {
        let up = lab.script("xl2tpd-dial.sh", &["connect"], &[]);
        assert!(
            up.status.success(),
            "round {round}: xl2tpd's PPP did not come up\n{}\n{}",
            String::from_utf8_lossy(&up.stderr),
            lab.logs()
        );
        let line = String::from_utf8_lossy(&up.stdout).to_string();
        assert!(
            line.contains("local IP address 203.0.113.100"),
            "round {round}: {line}"
        );
        let s = sessions(&sock);
        assert!(
            s.len() == 1
                && s[0].user.as_deref() == Some("l2tptest")
                && s[0].ipv4.map(|a| a.to_string()).as_deref() == Some("203.0.113.100"),
            "round {round}: {s:?}"
        );
        assert!(
            lab.ping(&["203.0.113.100"]),
            "round {round}: ping the LAC's PPP end through the tunnel\n{}",
            lab.logs()
        );
        if round == 1 {
            // Keepalives both ways while idle (HELLO and LCP Echo every second from us).
            std::thread::sleep(Duration::from_secs(3));
            let again = sessions(&sock);
            assert!(
                again.len() == 1 && again[0].session == s[0].session,
                "the session survives keepalives: {again:?}\n{}",
                lab.logs()
            );
        }
        // xl2tpd hangs up with a StopCCN and no CDN before it.
        lab.must("xl2tpd-dial.sh", &["hangup"], &[]);
        wait_for(
            Duration::from_secs(10),
            "our LNS to free session and address",
            || {
                // A tunnel closed by the peer lingers in "closing" for a while (RFC 2661
                // §5.7: its StopCCN may have to be acknowledged again); nothing else may.
                let st = stats(&sock);
                sessions(&sock).is_empty()
                    && st.sessions == 0
                    && st.tunnels_by_state.keys().all(|k| k == "closing")
            },
        )
        .unwrap_or_else(|e| {
            let st = stats(&sock);
            panic!("round {round}: {e}\n{st:?}\n{}", lab.logs())
        });
        assert!(
            lab.tun_addresses().is_empty(),
            "round {round}: TUN left behind"
        );
    }
    let log = lns.log();
    assert!(log.contains("Goodbye!"), "xl2tpd's StopCCN seen:\n{log}");
    drop(lns);
    let conv = lab.capture_judge("xlac");
    let peer = "192.0.2.33";
    let sccrq = avps_of(&conv, peer, SCCRQ);
    assert!(
        sccrq.iter().all(|a| a.contains(&AVP_CHALLENGE)) && sccrq.len() == 2,
        "{sccrq:?}"
    );
    let sccrp = avps_of(&conv, "192.0.2.34", SCCRP);
    assert!(
        sccrp.len() == 2
            && sccrp
                .iter()
                .all(|a| a.contains(&AVP_CHALLENGE) && a.contains(&AVP_CHALLENGE_RESPONSE)),
        "our SCCRP answers and challenges: {sccrp:?}"
    );
    let scccn = avps_of(&conv, peer, SCCCN);
    assert!(
        scccn.iter().all(|a| a.contains(&AVP_CHALLENGE_RESPONSE)),
        "{scccn:?}"
    );
    assert!(
        !conv.contains("CDN"),
        "xl2tpd sends no CDN on hang-up:\n{conv}"
    );
    assert!(
        sent(&conv, "192.0.2.34", "Hello") >= 1,
        "our HELLOs:\n{conv}"
    );
    assert!(
        sent(&conv, peer, "Echo Reply") >= 1,
        "LCP Echo-Replies:\n{conv}"
    );
}
