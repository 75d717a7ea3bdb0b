//! LNS failover at scale, with real processes: `l2tpd loadgen --pppoe-interface` brings up
//! 150 emulated PPPoE subscribers, arriving over time, through our LAC (`role = "lac"`,
//! in a namespace this test creates) whose default group holds two of our LNSes of equal
//! preference (on 127.0.0.1 and 127.0.0.2 of that namespace's loopback, each with its own
//! pool). Mid-run one LNS is killed with SIGKILL (it sends no StopCCN: the LAC only finds
//! out from its retransmissions going unanswered), or stopped with SIGTERM (StopCCN). Every subscriber must end up either up on
//! the survivor or ended with a PADT (none hangs), the ones up on the dead LNS hear a PADT,
//! calls being placed toward it go to the survivor, the dead LNS is locked out and no call
//! is placed toward it afterwards, and the LAC's counters and `l2tpctl pppoe` agree with
//! what the load generator saw. The time from the kill to the last affected subscriber up
//! again is printed, not asserted. Needs root and iproute2; skipped loudly otherwise, a
//! failure under `CI=true`.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::segment::Segment;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

const N: usize = 150;
const A: &str = "127.0.0.1:1701";
const B: &str = "127.0.0.2:1701";

fn privileged(test: &str) -> bool {
    requires(
        test,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    )
}

/// An LNS listening on `listen`, handing out `pool`, as `who` in `seg`'s namespace; its
/// process and management socket, once the socket is there.
fn lns(
    seg: &Segment,
    d: &Path,
    who: &str,
    listen: &str,
    pool: &str,
    local: &str,
) -> (Proc, PathBuf) {
    let sock = d.join(format!("{who}.sock"));
    let cfg = d.join(format!("{who}.toml"));
    std::fs::write(
        &cfg,
        format!(
            r#"role = "lns"
[daemon]
management_socket = "{sock}"
[tunnel]
secret = "wholesale"
hello_interval = 2
[ppp]
auth = ["chap-md5"]
[lns]
listen = ["{listen}"]
ipv4_pool = "{pool}"
local_ipv4 = "{local}"
interface_mode = "none"
[[lns.users]]
name = "load@isp.example"
password = "load-password"
"#,
            sock = sock.display()
        ),
    )
    .expect("write config");
    let p = seg.spawn(d, who, &["run", "--config", cfg.to_str().unwrap()]);
    (p, sock)
}

/// The LAC's counters.
fn lac_stats(sock: &Path) -> l2tp_mgmt::LacStats {
    *support::stats(sock).lac.expect("a LAC's counters")
}

/// `l2tpctl pppoe`: the LAC's subscribers.
fn subscribers(sock: &Path) -> Vec<l2tp_mgmt::PppoeSessionInfo> {
    match support::request(sock, l2tp_mgmt::Request::ListPppoe) {
        l2tp_mgmt::Response::PppoeSessions(v) => v,
        other => panic!("{other:?}"),
    }
}

/// Sessions of an LNS with PPP's network phase up.
fn up_at(sock: &Path) -> usize {
    support::sessions(sock)
        .iter()
        .filter(|s| s.state == "established/ppp-network" && s.ipv4.is_some())
        .count()
}

fn in_pool(a: Ipv4Addr, prefix: [u8; 3]) -> bool {
    a.octets()[..3] == prefix
}

/// How LNS A is stopped.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL: no StopCCN, no CDN; the LAC finds out from unanswered retransmissions.
    Kill,
    /// SIGTERM: the LNS closes its tunnels with StopCCN and exits.
    Term,
}

#[test]
fn subscribers_of_a_killed_lns_move_to_the_survivor_or_hear_a_padt() {
    if !privileged("LAC failover between two LNSes (SIGKILL)") {
        return;
    }
    failover(Stop::Kill);
}

#[test]
fn subscribers_of_a_stopped_lns_move_to_the_survivor_or_hear_a_padt() {
    if !privileged("LAC failover between two LNSes (SIGTERM)") {
        return;
    }
    failover(Stop::Term);
}

fn failover(how: Stop) {
    // Each variant its own namespace and directory: the tests run in parallel.
    let tag = if how == Stop::Kill { "k" } else { "t" };
    let seg = Segment::new(tag);
    let dir = TempDir::new(&format!("lac-failover-{tag}"));
    let d = &dir.0;
    let (lns_a, sock_a) = lns(&seg, d, "lns-a", A, "192.0.2.0/24", "203.0.113.1");
    let (lns_b, sock_b) = lns(&seg, d, "lns-b", B, "198.51.100.0/24", "203.0.113.2");
    let lac_sock = d.join("lac.sock");
    let lac_cfg = d.join("lac.toml");
    // Hellos every 2 s and 3 retransmissions: a dead LNS is noticed within seconds. The
    // lockout outlasts the test.
    std::fs::write(
        &lac_cfg,
        format!(
            r#"role = "lac"
[daemon]
management_socket = "{sock}"
log_level = "info"
[tunnel]
secret = "wholesale"
hello_interval = 2
retries = 3
[lac]
pppoe_interfaces = ["{ifname}"]
lns = [{{ address = "{A}" }}, {{ address = "{B}" }}]
auth = ["chap-md5"]
lockout = 600
"#,
            sock = lac_sock.display(),
            ifname = seg.ac_if,
        ),
    )
    .expect("write config");
    let lac = seg.spawn(d, "lac", &["run", "--config", lac_cfg.to_str().unwrap()]);
    let mut lns_a = Some(lns_a);
    let logs = |lns_a: &Option<Proc>| {
        format!(
            "LAC:\n{}\nLNS A:\n{}\nLNS B:\n{}",
            lac.log_tail(),
            lns_a.as_ref().map(Proc::log_tail).unwrap_or_default(),
            lns_b.log_tail()
        )
    };
    wait_for(Duration::from_secs(10), "the LAC and both LNSes", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
            && sock_a.exists()
            && sock_b.exists()
    });
    let n = N.to_string();
    // 30 new subscribers a second: 5 s of arrivals, the kill in the middle of them.
    #[rustfmt::skip]
    let mut gen = Proc::spawn(L2TPD, d, "loadgen", &[
        "loadgen", "--pppoe-interface", &seg.host_if, "--subscribers", &n,
        "--user", "load@isp.example", "--password", "load-password", "--rate", "30",
        "--hold", "300", "--timeout", "120", "--json",
    ]);
    let t0 = Instant::now();
    while up_at(&sock_a) < 20 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "LNS A never got 20 subscribers:\n{}",
            logs(&lns_a)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let on_a = up_at(&sock_a);
    // By pid: SIGKILL (no StopCCN, no CDN) or SIGTERM.
    let mut a = lns_a.take().expect("running");
    match how {
        Stop::Kill => {
            let _ = a.child.kill();
        }
        Stop::Term => a.terminate(),
    }
    let _ = a.child.wait();
    let killed = Instant::now();
    let before = lac_stats(&lac_sock);
    println!(
        "stopped LNS A ({}): {on_a} subscribers up on it, {} calls placed so far",
        if how == Stop::Kill {
            "SIGKILL"
        } else {
            "SIGTERM"
        },
        before.calls_placed
    );
    drop(a);

    // Settled: every subscriber either relaying to B or gone with a PADT, and none left at
    // the LAC that is not relaying. Bounded.
    let mut last_b = 0;
    let mut last_b_at = killed;
    wait_for(Duration::from_secs(90), "every subscriber settled", || {
        let b = up_at(&sock_b);
        if b != last_b {
            (last_b, last_b_at) = (b, Instant::now());
        }
        let gone = lac.log_text().matches("PPPoE session down").count();
        let subs = subscribers(&lac_sock);
        b + gone == N && subs.iter().all(|s| s.state == "relaying")
    });
    println!(
        "from the kill to the last affected subscriber up on LNS B: {:.2} s",
        last_b_at.duration_since(killed).as_secs_f64()
    );
    let subs = subscribers(&lac_sock);
    let on_b = up_at(&sock_b);
    assert_eq!(subs.len(), on_b, "{subs:?}");
    for s in &subs {
        assert_eq!(s.lns.as_deref(), Some(B), "{s:?}");
        assert_eq!(s.state, "relaying", "{s:?}");
    }
    let stats = lac_stats(&lac_sock);
    // One LNS died: one lockout, however many calls it failed.
    assert_eq!(stats.lns_lockouts, 1, "{stats:?}");
    assert_eq!(stats.lns_locked_out, vec![A.to_string()], "{stats:?}");
    assert_eq!(stats.relaying as usize, on_b, "{stats:?}");

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
        .unwrap_or_else(|| panic!("no report:\n{out}\n{}", logs(&None)));
    println!("loadgen: {json}");
    let established = json["established"].as_u64().unwrap() as usize;
    let lost = json["lost"].as_u64().unwrap() as usize;
    let failed = json["failed"].as_u64().unwrap() as usize;
    assert_eq!(established + failed, N, "none hangs: {json}");
    assert_eq!(established - lost, on_b, "up at the end = up on B: {json}");
    let addrs: Vec<Ipv4Addr> = json["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    let (from_a, from_b): (Vec<Ipv4Addr>, Vec<Ipv4Addr>) =
        addrs.iter().partition(|a| in_pool(**a, [192, 0, 2]));
    assert!(
        from_b.iter().all(|a| in_pool(*a, [198, 51, 100])),
        "{addrs:?}"
    );
    // The ones up on A heard a PADT when its tunnel was found dead; the rest are on B.
    assert_eq!(from_a.len(), lost, "lost = those up on A: {json}");
    assert_eq!(from_b.len(), on_b, "{json}");
    let distinct: BTreeSet<Ipv4Addr> = from_b.iter().copied().collect();
    assert_eq!(distinct.len(), on_b, "{from_b:?}");
    // The LAC's counters: one call per subscriber that came up, plus the calls placed again
    // toward B after A failed them, plus those of subscribers that failed.
    // A call up at the LAC whose subscriber had not finished IPCP when A went is ended with
    // a PADT like those up (the loadgen counts it as never up).
    assert!(
        (established..=established + failed).contains(&(stats.calls_up as usize)),
        "calls up = subscribers up: {stats:?} {json}"
    );
    assert_eq!(
        stats.calls_placed,
        stats.calls_up + stats.calls_retried + stats.calls_failed,
        "{stats:?}"
    );
    // After the lockout no call went toward A.
    let log = lac.log_text();
    let locked = log
        .find("locked out")
        .unwrap_or_else(|| panic!("no lockout logged:\n{}", lac.log_tail()));
    let toward_a = log[locked..]
        .lines()
        .filter(|l| l.contains("calling LNS") && l.contains(A))
        .count();
    assert_eq!(toward_a, 0, "calls placed toward the locked-out LNS");
    println!(
        "LAC: {} calls placed, {} placed again toward B, {} lockouts, {} failed; loadgen: {established} up, {lost} lost (PADT), {failed} never up, {} ended on B",
        stats.calls_placed, stats.calls_retried, stats.lns_lockouts, stats.calls_failed, on_b
    );
    drop(lac);
    drop(lns_b);
}
