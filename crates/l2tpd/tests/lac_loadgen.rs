//! `l2tpd loadgen --pppoe-interface` through our LAC to our LNS, over real raw sockets: 40
//! emulated PPPoE subscribers (discovery, LCP, CHAP-MD5, IPCP) on one end of a veth pair,
//! `l2tpd lac` on the other (in a namespace this test creates), relaying each into an L2TP
//! call to `l2tpd lns` on that namespace's loopback. Every subscriber must come up with an
//! address from the LNS's pool, all different, and exactly the addresses the LNS lists for
//! its sessions. Needs root and iproute2; skipped loudly otherwise, a failure under
//! `CI=true`.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use support::segment::Segment;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

const N: usize = 40;

#[test]
fn every_generated_pppoe_subscriber_gets_its_own_address_from_the_lns_pool() {
    if !requires(
        "LAC PPPoE load generator",
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    ) {
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
    let out = gen.log_text();
    let json: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report:\n{out}\n{}", logs()));
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
    drop(lac);
    drop(lns);
}
