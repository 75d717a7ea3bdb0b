//! The wholesale LAC end to end, with a subscriber nobody here wrote: the real pppd with its
//! PPPoE plugin (kernel PPPoE, in the guest of `scripts/kernel-vm`) dials over the guest's
//! Ethernet link to our LAC (`l2tpd lac` on the guest's tap, in the guest's network
//! namespace), which learns the user from CHAP, picks the LNS by realm and relays the
//! session through L2TP to our LNS (`l2tpd lns` on that namespace's loopback). The
//! subscriber must get its address from the LNS and ping through; the LNS must say it used
//! the proxy authentication; tshark must show the proxy AVPs in the ICCN; pppd hanging up
//! must clear the call.
//!
//! The same pppd also reaches l2tpns (with FreeRADIUS, started by `tests/interop/` with the
//! guest's namespace as its DUT namespace) through our LAC: an address of l2tpns's pool, a
//! ping to l2tpns's side of the link, the session listed by l2tpns.
//!
//! Needs root, qemu and apt (see `support::guest`) and tshark (and for the second test the
//! peer packages); skipped loudly otherwise, a failure under `CI=true`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::guest::Guest;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

const TEST: &str = "LAC relay guest test";

/// `BIN ARGS` inside the guest's host-side namespace, logged to `DIR/WHO.log`.
fn in_netns(dir: &std::path::Path, ns: &str, who: &str, bin: &str, args: &[&str]) -> Proc {
    let mut full = vec!["netns", "exec", ns, bin];
    full.extend_from_slice(args);
    Proc::spawn("ip", dir, who, &full)
}

#[test]
fn real_pppd_over_pppoe_reaches_our_lns_through_our_lac_with_proxy_authentication() {
    // (`tshark -V` would capture rather than print its version.)
    let tshark = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !requires(TEST, &[("tshark", tshark)]) {
        return;
    }
    let Some(g) = Guest::start("lacr", TEST) else {
        return;
    };
    let dir = TempDir::new("lac-relay");
    let d = &dir.0;
    let ns = g.netns.clone();
    let (lns_sock, lac_sock) = (d.join("lns.sock"), d.join("lac.sock"));
    let cap = d.join("l2tp.pcapng");

    // Every L2TP message between LAC and LNS, on the namespace's loopback.
    let mut capture = in_netns(
        d,
        &ns,
        "tshark",
        "tshark",
        &[
            "-i",
            "lo",
            "-f",
            "udp port 1701",
            "-w",
            cap.to_str().unwrap(),
        ],
    );
    wait_for(Duration::from_secs(20), "tshark capturing", || cap.exists());
    #[rustfmt::skip]
    let lns = in_netns(d, &ns, "lns", L2TPD, &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.10-192.0.2.20",
        "--local-ip", "192.0.2.1", "--user", "alice@isp.example:secret",
        "--secret", "wholesale", "--socket", lns_sock.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    let lac = in_netns(d, &ns, "lac", L2TPD, &[
        "lac", "--pppoe-interface", "tap0", "--realm", "isp.example=127.0.0.1:1701",
        "--secret", "wholesale", "--socket", lac_sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "both daemons up", || {
        lns.log_text().contains("listening") || lns_sock.exists()
    });
    wait_for(Duration::from_secs(10), "the LAC's PPPoE interface", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
    });

    // The subscriber: CHAP-MD5 (what the LAC asks first), its address from the LNS.
    let (rc, out) = g.run(
        60,
        "modprobe pppoe && pppd plugin pppoe.so eth0 user alice@isp.example password secret \
         updetach debug noauth noipdefault nodefaultroute maxfail 1 \
         logfile /host/pppd.log && ip -4 addr show ppp0 && ping -c 3 -W 3 192.0.2.1",
    );
    let pppd_log = std::fs::read_to_string(g.share().join("pppd.log")).unwrap_or_default();
    let report = || {
        format!(
            "pppd:\n{pppd_log}\nLAC:\n{}\nLNS:\n{}",
            lac.log_tail(),
            lns.log_tail()
        )
    };
    assert_eq!(rc, 0, "pppd up and ping through:\n{out}\n{}", report());
    assert!(
        out.contains("inet 192.0.2.1"),
        "ppp0 has a pool address:\n{out}"
    );
    assert!(out.contains("3 packets received"), "{out}");
    assert!(
        pppd_log.contains("rcvd [CHAP Success"),
        "the LNS answered the proxied CHAP:\n{}",
        report()
    );
    assert!(
        !pppd_log.contains("sent [LCP ConfReq")
            || pppd_log.matches("sent [LCP ConfReq").count() == 1,
        "LCP was not renegotiated:\n{}",
        report()
    );
    let lns_log = lns.log_text();
    assert!(
        lns_log.contains("using the LAC's proxy LCP and proxy authentication"),
        "{}",
        report()
    );
    assert!(lns_log.contains("user=alice@isp.example") || lns_log.contains("alice@isp.example"));
    assert!(
        lac.log_text().contains("relaying PPPoE session into L2TP"),
        "{}",
        report()
    );
    // `l2tpctl pppoe` on the LAC: the subscriber beside its call.
    let l2tpctl = support::guest::workspace_binary("l2tpctl", "l2tpctl");
    let ctl = Command::new(&l2tpctl)
        .args(["--socket", lac_sock.to_str().unwrap(), "pppoe"])
        .output()
        .expect("l2tpctl pppoe");
    let listing = String::from_utf8_lossy(&ctl.stdout);
    let line = listing
        .lines()
        .find(|l| l.starts_with("tap0/"))
        .unwrap_or_else(|| panic!("no subscriber in `l2tpctl pppoe`:\n{listing}"));
    for word in ["alice@isp.example", "relaying", "127.0.0.1:1701"] {
        assert!(line.contains(word), "`l2tpctl pppoe` lacks {word}: {line}");
    }

    // pppd hangs up: LCP Terminate-Request → the LAC clears the call (CDN) and the LNS's
    // session goes.
    g.ok("kill $(pidof pppd); sleep 3; true");
    wait_for(
        Duration::from_secs(15),
        "the call cleared on both sides",
        || lac.log_text().contains("PPPoE session down") && lns.log_text().contains("session down"),
    );

    // The ICCN on the wire carries the proxy AVPs.
    support::stop(&mut capture.child);
    let decoded = Command::new("tshark")
        .args([
            "-r",
            cap.to_str().unwrap(),
            "-V",
            "-Y",
            "l2tp.avp.type == 10 || l2tp",
        ])
        .output()
        .expect("tshark -r");
    let text = String::from_utf8_lossy(&decoded.stdout).to_lowercase();
    for avp in [
        "proxy authen type",
        "proxy authen name",
        "proxy authen challenge",
        "proxy authen id",
        "proxy authen response",
        "initial received lcp confreq",
        "last sent lcp confreq",
        "last received lcp confreq",
    ] {
        assert!(
            text.contains(avp),
            "tshark shows no {avp}:\n{}",
            &text[..text.len().min(20000)]
        );
    }
    drop(lac);
    drop(lns);
}

/// The interop scripts (`tests/interop/`) run with the guest's namespace as their DUT
/// namespace: the peers they start are reached from where our LAC runs.
struct InteropLab {
    id: String,
    run: std::path::PathBuf,
    dut: String,
}

impl InteropLab {
    fn script(&self, name: &str, args: &[&str]) -> std::process::Output {
        Command::new("timeout")
            .arg("120")
            .arg("bash")
            .arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/interop")
                    .join(name),
            )
            .args(args)
            .env("IOP_ID", &self.id)
            .env("IOP_RUN", &self.run)
            .env("IOP_DUT_NS", &self.dut)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("interop script")
    }

    fn must(&self, name: &str, args: &[&str]) -> String {
        let o = self.script(name, args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{name}: {out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }
}

impl Drop for InteropLab {
    fn drop(&mut self) {
        let _ = self.script("stop.sh", &["all"]);
    }
}

#[test]
fn real_pppd_over_pppoe_reaches_l2tpns_through_our_lac() {
    const TEST: &str = "LAC relay guest test with l2tpns";
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let peers = ["l2tpns", "freeradius", "radtest", "setsid"]
        .iter()
        .all(|c| have(c));
    if !requires(TEST, &[("l2tpns freeradius freeradius-utils", peers)]) {
        return;
    }
    let Some(g) = Guest::start("lacq", TEST) else {
        return;
    };
    let dir = TempDir::new("lac-relay-l2tpns");
    let d = &dir.0;
    let id = format!("lacq{}", std::process::id());
    let lab = InteropLab {
        run: std::path::PathBuf::from(format!("/tmp/l2tpd-interop-{id}")),
        id,
        dut: g.netns.clone(),
    };
    let _ = lab.script("stop.sh", &["all"]);
    std::fs::create_dir_all(&lab.run).unwrap();
    lab.must("l2tpns-start.sh", &[]);
    let lac_sock = d.join("lac.sock");
    #[rustfmt::skip]
    let lac = in_netns(d, &g.netns, "lac", L2TPD, &[
        "lac", "--pppoe-interface", "tap0", "--lns", "192.0.2.1:1701",
        "--secret", "secret", "--socket", lac_sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "the LAC's PPPoE interface", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
    });
    // pppd in the guest, CHAP-MD5 (what both the LAC and l2tpns ask first): an address from
    // l2tpns's pool (RADIUS), and a ping to l2tpns's side of the link.
    let (rc, out) = g.run(
        60,
        "modprobe pppoe && pppd plugin pppoe.so eth0 user l2tptest password l2tptest \
         updetach debug noauth noipdefault nodefaultroute maxfail 1 \
         logfile /host/pppd.log && ip -4 addr show ppp0 && ping -I ppp0 -c 3 -W 3 198.51.100.1",
    );
    let pppd_log = std::fs::read_to_string(g.share().join("pppd.log")).unwrap_or_default();
    let l2tpns_log = std::fs::read_to_string(lab.run.join("l2tpns/l2tpns.log")).unwrap_or_default();
    let report = || {
        format!(
            "pppd:\n{pppd_log}\nLAC:\n{}\nl2tpns:\n{}",
            lac.log_tail(),
            l2tpns_log
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    assert_eq!(rc, 0, "pppd up and ping through:\n{out}\n{}", report());
    assert!(
        out.contains("inet 203.0.113."),
        "ppp0 has an address of l2tpns's pool:\n{out}\n{}",
        report()
    );
    assert!(out.contains("3 packets received"), "{out}");
    let sessions = lab.must("l2tpns-cli.sh", &["show session"]);
    assert!(
        sessions.contains("l2tptest") && sessions.contains("203.0.113."),
        "l2tpns lists the session:\n{sessions}"
    );
    assert!(
        lac.log_text().contains("relaying PPPoE session into L2TP"),
        "{}",
        report()
    );
    g.ok("kill $(pidof pppd); sleep 3; true");
    wait_for(Duration::from_secs(15), "the call cleared", || {
        lac.log_text().contains("PPPoE session down")
    });
    drop(lac);
}
