//! Our LAC in front of LNSs nobody here wrote, each started by the interop scripts
//! (`tests/interop/`) in a namespace of its own: l2tpns (with FreeRADIUS), and xl2tpd (with
//! the fake pppd of `tests/interop/fake-pppd.py`, the machines having no kernel PPP).
//! `l2tpd lac` relays PPPoE subscribers (`l2tpd loadgen --pppoe-interface`: discovery, LCP,
//! CHAP-MD5, IPCP) into L2TP calls to it. Every subscriber must get an address from that
//! LNS's pool, all different; l2tpns must list a session per subscriber under its user; LCP
//! echoes must go through the relay both ways while they are held.
//!
//! Needs root and the peer packages (`l2tpns freeradius freeradius-utils xl2tpd`); skipped
//! loudly otherwise, a failure under `CI=true`.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::segment::{ok, sh};
use support::{requires, wait_for, Proc, L2TPD};

const SUBS: usize = 5;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// This test's interop run: its id, its directory; `stop.sh all` on drop.
struct Lab {
    id: String,
    run: PathBuf,
    host_if: String,
}

impl Lab {
    fn script(&self, name: &str, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("120")
            .arg("bash")
            .arg(interop_dir().join(name))
            .args(args)
            .env("IOP_ID", &self.id)
            .env("IOP_RUN", &self.run)
            .stdin(Stdio::null())
            .output()
            .expect("run interop script")
    }

    fn must(&self, name: &str, args: &[&str]) -> String {
        let o = self.script(name, args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{name} {args:?}: {out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    fn dut(&self) -> String {
        format!("iop-dut-{}", self.id)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = sh(&["ip", "link", "del", &self.host_if]);
        let keep = if std::thread::panicking() {
            "--keep-logs"
        } else {
            ""
        };
        let _ = self.script("stop.sh", &["all", keep]);
    }
}

/// Whether root and `tools` are there (else skipped loudly; a failure under CI).
fn ready(what: &str, tools: &[&str]) -> bool {
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = tools.iter().copied().filter(|c| !have(c)).collect();
    requires(
        what,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("the peer packages", missing.is_empty()),
        ],
    )
}

/// A lab whose peer `start` (an interop script) is up, with our LAC in the DUT namespace
/// relaying to `lns` and `SUBS` subscribers held with LCP echoes every 200 ms.
fn lab_with_subscribers(tag: &str, start: &str, lns: &str) -> (Lab, Proc, Proc) {
    let id = format!("{tag}{}", std::process::id() % 100_000);
    let lab = Lab {
        run: PathBuf::from(format!("/tmp/l2tpd-interop-{id}")),
        host_if: format!("l{id}"),
        id,
    };
    let _ = lab.script("stop.sh", &["all"]);
    std::fs::create_dir_all(&lab.run).unwrap();
    lab.must(start, &[]);
    // The access segment: the LAC's end in the DUT namespace, the subscribers' end here.
    let ac_if = format!("{}a", lab.host_if);
    ok(&[
        "ip",
        "link",
        "add",
        &lab.host_if,
        "type",
        "veth",
        "peer",
        "name",
        &ac_if,
    ]);
    ok(&["ip", "link", "set", &ac_if, "netns", &lab.dut()]);
    let _ = sh(&[
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{}.disable_ipv6=1", lab.host_if),
    ]);
    ok(&["ip", "link", "set", &lab.host_if, "up"]);
    ok(&["ip", "-n", &lab.dut(), "link", "set", &ac_if, "up"]);
    let d = &lab.run;
    let sock = d.join("lac.sock");
    #[rustfmt::skip]
    let lac = Proc::spawn("ip", d, "lac", &[
        "netns", "exec", &lab.dut(), L2TPD, "lac", "--pppoe-interface", &ac_if,
        "--lns", lns, "--secret", "secret", "--socket", sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "the LAC", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
    });
    let n = SUBS.to_string();
    #[rustfmt::skip]
    let gen = Proc::spawn(L2TPD, d, "loadgen", &[
        "loadgen", "--pppoe-interface", &lab.host_if, "--subscribers", &n,
        "--user", "l2tptest", "--password", "l2tptest", "--rate", "20",
        "--hold", "300", "--echo-interval-ms", "200", "--timeout", "60", "--json",
    ]);
    (lab, lac, gen)
}

/// Stops the generator; its report, checked: every subscriber up with its own address
/// inside `pool`, the echoes answered. Returns the addresses.
fn held_report(
    gen: &mut Proc,
    pool: impl Fn(Ipv4Addr) -> bool,
    logs: &dyn Fn() -> String,
) -> BTreeSet<Ipv4Addr> {
    gen.terminate();
    wait_for(
        Duration::from_secs(15),
        "the load generator's report",
        || !gen.alive(),
    );
    let out = gen.log_text();
    let json: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report:\n{out}\n{}", logs()));
    assert_eq!(json["established"], SUBS, "{json}\n{}", logs());
    let addrs: BTreeSet<Ipv4Addr> = json["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(addrs.len(), SUBS, "all different: {json}");
    for a in &addrs {
        assert!(pool(*a), "{a} is outside the LNS's pool");
    }
    let (req, rep) = (
        json["echo_requests"].as_u64().unwrap(),
        json["echo_replies"].as_u64().unwrap(),
    );
    assert!(
        req > 0 && rep + 2 * SUBS as u64 >= req,
        "echoes through: {json}"
    );
    addrs
}

#[test]
fn pppoe_subscribers_through_our_lac_get_addresses_from_l2tpns() {
    if !ready(
        "LAC in front of l2tpns",
        &["l2tpns", "freeradius", "radtest", "ip", "setsid", "timeout"],
    ) {
        return;
    }
    let (lab, lac, mut gen) = lab_with_subscribers("q", "l2tpns-start.sh", "192.0.2.1:1701");
    let d = lab.run.clone();
    let logs = || {
        format!(
            "LAC:\n{}\nl2tpns:\n{}",
            lac.log_tail(),
            std::fs::read_to_string(d.join("l2tpns/l2tpns.log"))
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    // l2tpns lists a session with an address for each subscriber.
    let mut active = Vec::new();
    let ok_up = (0..300).any(|_| {
        let cli = lab.must("l2tpns-cli.sh", &["show session"]);
        active = cli
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 5 && f[0].parse::<u32>().is_ok() && f[4] != "0.0.0.0")
                    .then(|| (f[3].to_string(), f[4].to_string()))
            })
            .collect();
        if active.len() >= SUBS {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
        false
    });
    assert!(ok_up, "l2tpns sessions: {active:?}\n{}", logs());
    assert!(
        active.iter().all(|(user, _)| user == "l2tptest"),
        "{active:?}"
    );
    let lns_addrs: BTreeSet<Ipv4Addr> = active.iter().map(|(_, a)| a.parse().unwrap()).collect();
    std::thread::sleep(Duration::from_secs(1));
    let addrs = held_report(
        &mut gen,
        |a| a.octets()[..3] == [203, 0, 113] && a.octets()[3] < 64,
        &logs,
    );
    assert_eq!(addrs, lns_addrs, "the addresses l2tpns gave");
    drop(lac);
}

#[test]
fn pppoe_subscribers_through_our_lac_get_addresses_from_xl2tpd() {
    if !ready(
        "LAC in front of xl2tpd",
        &["xl2tpd", "python3", "ip", "setsid", "timeout"],
    ) {
        return;
    }
    let (lab, lac, mut gen) = lab_with_subscribers("x", "xl2tpd-lns-start.sh", "192.0.2.17:1701");
    let d = lab.run.clone();
    let logs = || {
        format!(
            "LAC:\n{}\nxl2tpd:\n{}",
            lac.log_tail(),
            std::fs::read_to_string(d.join("xlns/xl2tpd.log")).unwrap_or_default()
        )
    };
    // Up: the LAC relays every subscriber (xl2tpd's fake pppd runs PPP).
    let sock = lab.run.join("lac.sock");
    wait_for(
        Duration::from_secs(40),
        "every subscriber relayed",
        || match support::request(&sock, l2tp_mgmt::Request::ListPppoe) {
            l2tp_mgmt::Response::PppoeSessions(v) => {
                v.len() == SUBS
                    && v.iter()
                        .all(|s| s.state == "relaying" && s.down_frames > 20)
            }
            _ => false,
        },
    );
    held_report(
        &mut gen,
        |a| a.octets()[..3] == [203, 0, 113] && (10..=20).contains(&a.octets()[3]),
        &logs,
    );
    drop(lac);
}
