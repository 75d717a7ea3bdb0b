//! `l2tpd loadgen --pppoe-interface` through our LAC to our LNS, over real raw sockets: 40
//! emulated PPPoE subscribers (discovery, LCP, CHAP-MD5, IPCP) on one end of a veth pair,
//! `l2tpd lac` on the other (in a namespace this test creates), relaying each into an L2TP
//! call to `l2tpd lns` on that namespace's loopback. Every subscriber must come up with an
//! address from the LNS's pool, all different, and exactly the addresses the LNS lists for
//! its sessions. And on a VLAN trunk (`l2tpd lac --vlan-trunk`): subscribers on four
//! 802.1Q VLANs of one interface, each answered on its own VLAN (a subscriber takes nothing
//! else), listed by `l2tpctl pppoe` with its VLAN. Needs root and iproute2; skipped loudly
//! otherwise, a failure under `CI=true`.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use support::segment::Segment;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

const N: usize = 40;

fn privileged(test: &str) -> bool {
    requires(
        test,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    )
}

/// The report `l2tpd loadgen --json` printed.
fn report(gen: &Proc, logs: &dyn Fn() -> String) -> serde_json::Value {
    let out = gen.log_text();
    out.lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report:\n{out}\n{}", logs()))
}

#[test]
fn every_generated_pppoe_subscriber_gets_its_own_address_from_the_lns_pool() {
    if !privileged("LAC PPPoE load generator") {
        return;
    }
    let seg = Segment::new("g");
    let dir = TempDir::new("lac-loadgen");
    let d = &dir.0;
    let (lns_sock, lac_sock) = (d.join("lns.sock"), d.join("lac.sock"));
    #[rustfmt::skip]
    let lns = seg.spawn(d, "lns", &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.100-192.0.2.199",
        "--local-ip", "192.0.2.1", "--user", "load@isp.example:load-password",
        "--secret", "wholesale", "--socket", lns_sock.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    let lac = seg.spawn(d, "lac", &[
        "lac", "--pppoe-interface", &seg.ac_if, "--lns", "127.0.0.1:1701",
        "--secret", "wholesale", "--socket", lac_sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "both daemons", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
            && lns_sock.exists()
    });
    let n = N.to_string();
    #[rustfmt::skip]
    let mut gen = Proc::spawn(L2TPD, d, "loadgen", &[
        "loadgen", "--pppoe-interface", &seg.host_if, "--subscribers", &n,
        "--user", "load@isp.example", "--password", "load-password", "--rate", "50",
        "--hold", "300", "--timeout", "60", "--json",
    ]);
    let logs = || format!("LAC:\n{}\nLNS:\n{}", lac.log_tail(), lns.log_tail());
    // While they are held: the LNS's sessions.
    let at_lns = support::wait_sessions_up(&lns_sock, N, &logs);
    let lns_addrs: BTreeSet<Ipv4Addr> = at_lns.iter().filter_map(|s| s.ipv4).collect();
    gen.terminate();
    wait_for(
        Duration::from_secs(15),
        "the load generator's report",
        || !gen.alive(),
    );
    let json = report(&gen, &logs);
    assert_eq!(json["established"], N, "{json}");
    let addrs: Vec<Ipv4Addr> = json["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(addrs.len(), N, "{json}");
    let distinct: BTreeSet<Ipv4Addr> = addrs.iter().copied().collect();
    assert_eq!(distinct.len(), N, "every address different: {addrs:?}");
    for a in &addrs {
        let o = a.octets();
        assert!(
            o[..3] == [192, 0, 2] && (100..=199).contains(&o[3]),
            "{a} is outside the LNS pool"
        );
    }
    assert_eq!(distinct, lns_addrs, "the LNS gave exactly these addresses");
    // The subscribers' PADTs end their calls: one line each at the LAC, as relayed calls.
    wait_for(Duration::from_secs(10), "every relayed call down", || {
        lac.log_text().matches("relayed call down").count() == N
    });
    assert!(
        !lac.log_text()
            .contains("call down before it was established"),
        "{}",
        lac.log_tail()
    );
    drop(lac);
    drop(lns);
}

#[test]
fn subscribers_on_the_vlans_of_a_trunk_are_each_answered_on_their_own() {
    if !privileged("LAC on a VLAN trunk") {
        return;
    }
    const SUBS: usize = 12;
    let seg = Segment::new("v");
    let dir = TempDir::new("lac-trunk");
    let d = &dir.0;
    let (lns_sock, lac_sock) = (d.join("lns.sock"), d.join("lac.sock"));
    #[rustfmt::skip]
    let lns = seg.spawn(d, "lns", &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.100-192.0.2.199",
        "--local-ip", "192.0.2.1", "--user", "load@isp.example:load-password",
        "--secret", "wholesale", "--socket", lns_sock.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    let lac = seg.spawn(d, "lac", &[
        "lac", "--pppoe-interface", &seg.ac_if, "--vlan-trunk", "--lns", "127.0.0.1:1701",
        "--secret", "wholesale", "--socket", lac_sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "both daemons", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
            && lns_sock.exists()
    });
    let n = SUBS.to_string();
    #[rustfmt::skip]
    let mut gen = Proc::spawn(L2TPD, d, "loadgen", &[
        "loadgen", "--pppoe-interface", &seg.host_if, "--subscribers", &n,
        "--vlans", "100-103", "--user", "load@isp.example", "--password", "load-password",
        "--rate", "50", "--hold", "300", "--timeout", "60", "--json",
    ]);
    let logs = || format!("LAC:\n{}\nLNS:\n{}", lac.log_tail(), lns.log_tail());
    support::wait_sessions_up(&lns_sock, SUBS, &logs);
    // The LAC kept each subscriber's VLAN: subscriber i (MAC 02:4c:47 and i) is on 100 + i % 4.
    let subs = match support::request(&lac_sock, l2tp_mgmt::Request::ListPppoe) {
        l2tp_mgmt::Response::PppoeSessions(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(subs.len(), SUBS, "{subs:?}");
    for s in &subs {
        let i = usize::from_str_radix(&s.mac.replace(':', "")[6..], 16).unwrap();
        assert_eq!(s.vlans, vec![100 + (i % 4) as u16], "{s:?}");
        assert_eq!(s.state, "relaying", "{s:?}");
    }
    gen.terminate();
    wait_for(
        Duration::from_secs(15),
        "the load generator's report",
        || !gen.alive(),
    );
    let json = report(&gen, &logs);
    assert_eq!(json["established"], SUBS, "{json}");
    assert_eq!(json["distinct_addresses"], SUBS, "{json}");
    drop(lac);
    drop(lns);
}
