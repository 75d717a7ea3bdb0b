//! The L2TP/IPsec recipe of docs/ipsec.md, run as written: in the kernel-vm guest (Debian's
//! kernel, which has ESP; the host's has not) with strongSwan from Debian's packages, an LNS
//! namespace runs `examples/ipsec/swanctl-lns.conf` in front of our LNS
//! (`examples/ipsec/lns.toml`), and a client namespace behind a NAT runs
//! `examples/ipsec/swanctl-client.conf` under our client (`examples/ipsec/client.toml`).
//! IKEv1 with the pre-shared key, ESP in transport mode, NAT-T (ESP in UDP 4500, because the
//! NAT is really there). Checked: PPP comes up and IP crosses it; the L2TP packets travel
//! inside ESP (the SAs' packet counters grow with the traffic); plain L2TP from a host without
//! IPsec is refused by the kernel's policy (XfrmInPolBlock grows, no tunnel on the LNS) while
//! the protected session carries on.
//!
//! Needs root, qemu and apt (see the `l2tp-guest` test kit); skipped loudly otherwise, a failure
//! under `CI=true`.

use std::time::Instant;

use l2tp_guest::{repo_root, workspace_binary, Guest};

/// The guest image with strongSwan, nftables (the NAT) and the kernel's ESP and DRBG modules
/// (ESP's IV generator needs the kernel's random number generator), kept apart from the
/// default image.
const IMAGE: &[(&str, &str)] = &[
    ("KVMPEER_DIR", "/var/tmp/l2tp-rs-kvm-ipsec"),
    (
        "KVMPEER_EXTRA_PKGS",
        "strongswan-charon strongswan-libcharon libstrongswan libstrongswan-standard-plugins \
         strongswan-swanctl nftables",
    ),
    ("KVMPEER_EXTRA_BINS", "usr/sbin/swanctl usr/sbin/nft"),
    ("KVMPEER_EXTRA_TREES", "usr/lib/ipsec"),
    (
        "KVMPEER_EXTRA_MODULES",
        "esp4 xfrm_user xfrm_algo authenc echainiv seqiv cbc sha1_generic sha256_generic hmac \
         drbg jitterentropy_rng nf_tables nft_chain_nat nft_masq nf_nat nf_conntrack",
    ),
];

/// Two charon daemons share the guest: each gets its own settings (vici socket, log) and,
/// through its own mount namespace, its own /run (pid file).
fn strongswan_conf(ns: &str) -> String {
    format!(
        "charon {{\n  plugins {{ vici {{ socket = unix:///tmp/{ns}/charon.vici }} }}\n  \
         load = random nonce openssl aes sha1 sha2 hmac gmp kernel-netlink socket-default vici pem pkcs1 x509 pubkey\n  \
         install_routes = no\n  filelog {{\n    log {{ path = /tmp/{ns}/charon.log\n      default = 1\n      ike = 2\n      flush_line = yes }}\n  }}\n}}\n"
    )
}

/// The networks: `cli` (198.51.100.2) behind `nat` (masquerading to 203.0.113.1) in front
/// of `srv` (the LNS, 203.0.113.2); `plain` (203.0.113.130) reaches `srv` without IPsec.
/// Then both charons, their swanctl configurations, and the LNS's policy refusing plain L2TP.
const SETUP: &str = r#"set -e
mkdir -p /dev/net; [ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200
for ns in cli nat srv plain; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add v-cli type veth peer name v-nat-in
ip link add v-srv type veth peer name v-nat-out
ip link add v-plain type veth peer name v-plain-gw
ip link set v-cli netns cli; ip link set v-nat-in netns nat; ip link set v-nat-out netns nat
ip link set v-srv netns srv; ip link set v-plain netns plain; ip link set v-plain-gw netns srv
ip -n cli addr add 198.51.100.2/24 dev v-cli; ip -n cli link set v-cli up
ip -n cli route add default via 198.51.100.1
ip -n nat addr add 198.51.100.1/24 dev v-nat-in; ip -n nat addr add 203.0.113.1/24 dev v-nat-out
ip -n nat link set v-nat-in up; ip -n nat link set v-nat-out up
ip netns exec nat sysctl -qw net.ipv4.ip_forward=1
printf 'table ip nat {\n chain post {\n  type nat hook postrouting priority srcnat;\n  oifname "v-nat-out" masquerade\n }\n}\n' > /tmp/nat.nft
ip netns exec nat nft -f /tmp/nat.nft
ip -n srv addr add 203.0.113.2/24 dev v-srv; ip -n srv link set v-srv up
ip -n srv addr add 203.0.113.129/25 dev v-plain-gw; ip -n srv link set v-plain-gw up
ip -n plain addr add 203.0.113.130/25 dev v-plain; ip -n plain link set v-plain up
ip -n plain route add default via 203.0.113.129
for ns in srv cli; do
  mkdir -p /tmp/$ns
  ip netns exec $ns sh -c "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=/host/strongswan-$ns.conf /usr/lib/ipsec/charon >/tmp/$ns/charon.out 2>&1 &"
done
for i in $(seq 1 30); do [ -S /tmp/srv/charon.vici ] && [ -S /tmp/cli/charon.vici ] && break; sleep 1; done
ip netns exec srv env STRONGSWAN_CONF=/host/strongswan-srv.conf swanctl --load-all --uri unix:///tmp/srv/charon.vici --file /host/swanctl-lns.conf
ip netns exec cli env STRONGSWAN_CONF=/host/strongswan-cli.conf swanctl --load-all --uri unix:///tmp/cli/charon.vici --file /host/swanctl-client.conf
ip -n srv xfrm policy add dir in proto 17 dport 1701 action block priority 2000000
"#;

const LNS_CTL: &str = "ip netns exec srv /host/l2tpctl --socket /run/l2tpd.sock";
const CLIENT_CTL: &str = "ip netns exec cli /host/l2tpctl --socket /run/l2tpd-client.sock";

/// Packets counted by the LNS's ESP SAs (both directions), and whether they are
/// UDP-encapsulated (NAT-T).
fn esp_packets(g: &Guest) -> (u64, bool) {
    let out = g.ok("ip -n srv -s xfrm state");
    let packets = out
        .lines()
        .filter_map(|l| l.trim().strip_suffix("(packets)"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    let sas = out.matches("proto esp").count();
    assert_eq!(sas, 2, "one ESP SA each way:\n{out}");
    (
        packets,
        out.contains("encap type espinudp sport 4500 dport 4500"),
    )
}

fn blocked(g: &Guest) -> u64 {
    let out = g.ok("ip netns exec srv cat /proc/net/xfrm_stat");
    out.lines()
        .find_map(|l| l.strip_prefix("XfrmInPolBlock"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no XfrmInPolBlock in\n{out}"))
}

#[test]
fn l2tp_ipsec_recipe_with_nat_traversal_and_plain_l2tp_refused() {
    let Some(g) = Guest::start_image("ipsec", "L2TP/IPsec recipe", IMAGE) else {
        return;
    };
    let examples = repo_root().join("examples/ipsec");
    for f in [
        "swanctl-lns.conf",
        "swanctl-client.conf",
        "lns.toml",
        "client.toml",
    ] {
        g.put(&examples.join(f), f);
    }
    g.put(&workspace_binary("l2tpd", "l2tpd"), "l2tpd");
    g.put(&workspace_binary("l2tpctl", "l2tpctl"), "l2tpctl");
    for ns in ["srv", "cli"] {
        std::fs::write(
            g.share().join(format!("strongswan-{ns}.conf")),
            strongswan_conf(ns),
        )
        .expect("strongswan.conf");
    }
    std::fs::write(g.share().join("setup.sh"), SETUP).expect("setup.sh");
    let (rc, out) = g.run(120, "sh /host/setup.sh");
    assert_eq!(rc, 0, "setup:\n{out}");

    // The LNS, then the client: its first packet to 203.0.113.2:1701 triggers IKE.
    g.ok("ip netns exec srv sh -c '/host/l2tpd run --config /host/lns.toml > /tmp/srv/l2tpd.log 2>&1 &'");
    g.ok("for i in $(seq 1 20); do [ -S /run/l2tpd.sock ] && exit 0; sleep 1; done; exit 1");
    g.ok("ip netns exec cli sh -c '/host/l2tpd run --config /host/client.toml > /tmp/cli/l2tpd.log 2>&1 &'");
    let started = Instant::now();
    let (rc, out) = g.run(
        100,
        &format!(
            "for i in $(seq 1 90); do {CLIENT_CTL} sessions 2>/dev/null | grep -q ppp-network && exit 0; sleep 1; done; \
             cat /tmp/cli/l2tpd.log /tmp/srv/l2tpd.log; tail -30 /tmp/srv/charon.log; exit 1"
        ),
    );
    assert_eq!(rc, 0, "the session did not come up through IPsec:\n{out}");
    eprintln!(
        "ipsec: IKE + L2TP + PPP up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ike = g.ok("grep -E 'IKE_SA .* established|CHILD_SA .* established' /tmp/srv/charon.log");
    assert!(
        ike.contains("203.0.113.1[198.51.100.2]"),
        "the LNS saw the client behind the NAT:\n{ike}"
    );
    assert!(ike.contains("[17/1701]"), "L2TP traffic selectors:\n{ike}");

    // IP over PPP over L2TP over ESP: the SAs count the packets.
    let (before, natt) = esp_packets(&g);
    assert!(natt, "ESP in UDP 4500 (NAT-T)");
    let ping = g.ok("ip netns exec cli ping -c 10 -i 0.2 -W 2 192.0.2.1");
    assert!(ping.contains("10 packets received"), "{ping}");
    let (after, _) = esp_packets(&g);
    assert!(
        after >= before + 20,
        "20 pings each way inside ESP: {before} -> {after} packets"
    );
    let sessions = g.ok(&format!("{LNS_CTL} sessions"));
    assert!(
        sessions.contains("alice") && sessions.contains("203.0.113.1:1701"),
        "{sessions}"
    );

    // Plain L2TP (no IPsec) to the LNS: dropped by the kernel's policy, no tunnel.
    let blocked_before = blocked(&g);
    let load = g
        .run(
            60,
            "ip netns exec plain /host/l2tpd loadgen --server 203.0.113.2:1701 --tunnels 1 \
             --sessions 1 --user alice --password 'correct horse' --timeout 10 --json",
        )
        .1;
    assert!(load.contains("\"established\":0"), "{load}");
    assert!(
        blocked(&g) > blocked_before,
        "the SCCRQs were refused by the IPsec policy"
    );
    let tunnels = g.ok(&format!("{LNS_CTL} tunnels"));
    assert_eq!(tunnels.matches("Tunnel ").count(), 1, "{tunnels}");
    let ping = g.ok("ip netns exec cli ping -c 3 -W 2 192.0.2.1");
    assert!(
        ping.contains("3 packets received"),
        "the protected session is unharmed: {ping}"
    );

    // The client hangs up: the LNS ends the tunnel.
    g.ok(&format!("{CLIENT_CTL} hangup"));
    let (rc, out) = g.run(
        40,
        &format!("for i in $(seq 1 30); do {LNS_CTL} tunnels | grep -q 'No tunnels' && exit 0; sleep 1; done; {LNS_CTL} tunnels; exit 1"),
    );
    assert_eq!(rc, 0, "the LNS still holds the tunnel:\n{out}");
}
