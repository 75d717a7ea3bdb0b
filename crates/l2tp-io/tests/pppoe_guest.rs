//! Subscribers nobody here wrote: the real pppd 2.4.9 with its PPPoE plugin (kernel PPPoE,
//! in the guest of `scripts/kernel-vm`, since this host's kernel has no PPP) dials over the
//! guest's Ethernet link to our access concentrator on the host (the `pppoe_ac` example on
//! the guest's tap device, in the guest's network namespace). pppd must log our PADO and PADS
//! and its PPP session; our side must learn the user from pppd's PAP request with LCP
//! captured, then end the session with a PADT that pppd sees as a hangup. A second dial with
//! a 1508-octet MTU checks RFC 4638: PPP-Max-Payload 1500 offered and agreed; a third with
//! CHAP-MD5 checks that pppd's captured response verifies against its password, as an LNS
//! given the proxy authentication AVPs would.
//!
//! Needs root, qemu-system-x86_64 and apt (CI has all three): without them the test says so
//! loudly and returns, and fails when `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_guest::{build_image, example_binary, have, is_root, Guest};

fn skip(why: &str) {
    l2tp_guest::skip("PPPoE guest test", why);
}

/// Our access concentrator, running in the guest's namespace; killed by pid when dropped.
struct Ac {
    child: Child,
    out: PathBuf,
}

impl Ac {
    fn start(bin: &Path, guest: &Guest, args: &[&str], tag: &str) -> Ac {
        let out = guest.run.join(format!("pppoe_ac-{tag}.out"));
        let f = std::fs::File::create(&out).expect("output file");
        let child = Command::new("ip")
            .args(["netns", "exec", &guest.netns])
            .arg(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn pppoe_ac");
        let ac = Ac { child, out };
        // Bounded wait until it listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ac.output().contains("ok: listening") {
            assert!(
                Instant::now() < deadline,
                "pppoe_ac did not start: {}",
                ac.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ac
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits (bounded) for the example to exit by itself; its output.
    fn finish(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                let out = self.output();
                assert!(st.success(), "pppoe_ac failed ({st}):\n{out}");
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "pppoe_ac still running:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ac {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const PPPD: &str = "pppd plugin pppoe.so eth0 user alice@isp.example password secret \
    nodetach debug noauth noipdefault nodefaultroute maxfail 1";

#[test]
fn real_pppd_completes_discovery_and_presents_its_user_to_our_access_concentrator() {
    if !is_root() {
        return skip("needs root (qemu in a network namespace, tap device)");
    }
    if !have("apt-get") || !have("qemu-system-x86_64") {
        return skip("needs apt-get and qemu-system-x86_64 (package qemu-system-x86)");
    }
    if let Err(why) = build_image() {
        return skip(&why);
    }
    let bin = example_binary("l2tp-io", "pppoe_ac").expect("example binary");
    let guest = Guest::boot("pppoe", "pe").expect("guest boots");
    let (rc, out) = guest.run(30, "modprobe pppoe && ls /usr/lib/pppd/*/pppoe.so");
    assert_eq!(rc, 0, "kernel PPPoE and the plugin in the guest:\n{out}");

    // 1. Plain Ethernet MTU: PADI ... PADS, LCP, PAP; our PADT ends it.
    let ac = Ac::start(&bin, &guest, &["tap0", "40", "1"], "plain");
    let (rc, out) = guest.run(40, &format!("{PPPD} logfile /host/pppd-plain.log"));
    let log = std::fs::read_to_string(guest.share().join("pppd-plain.log")).unwrap_or_default();
    let ours = ac.finish();
    eprintln!("pppd log:\n{log}\npppoe_ac:\n{ours}");
    assert_ne!(rc, 137, "pppd hung:\n{out}");
    for line in [
        "Recv PPPOE Discovery V1T1 PADO",
        "[AC-name l2tp-rs-lac]",
        "[AC-cookie",
        "Recv PPPOE Discovery V1T1 PADS session 0x1",
        "PPP session is 1",
        "rcvd [LCP ConfAck",
        "sent [PAP AuthReq",
        "Modem hangup",
    ] {
        assert!(log.contains(line), "pppd log lacks `{line}`:\n{log}");
    }
    // The Host-Uniq pppd sent is echoed in PADO and PADS.
    let uniq = log
        .lines()
        .find(|l| l.contains("[host-uniq"))
        .and_then(|l| l.split("[host-uniq").nth(1))
        .expect("pppd sends a Host-Uniq")
        .to_string();
    assert_eq!(
        log.matches(&uniq).count(),
        4,
        "Host-Uniq in PADI, PADO, PADR, PADS:\n{log}"
    );
    for line in [
        "ok: session up id 1",
        "max mru 1492",
        "ok: user alice@isp.example realm isp.example proxy type 3 lcp captured",
        "ok: PADT sent for session 1",
        "padi 1 pado 1 padr 1 pads 1 padt rx 0 tx 1",
        "dropped 0",
    ] {
        assert!(
            ours.contains(line),
            "pppoe_ac output lacks `{line}`:\n{ours}"
        );
    }

    // 2. RFC 4638: a 1508-octet link, pppd asks for 1500, we offer 1500.
    let ok = Command::new("ip")
        .args(["-n", &guest.netns, "link", "set", "tap0", "mtu", "1508"])
        .status()
        .expect("ip");
    assert!(ok.success());
    let ac = Ac::start(
        &bin,
        &guest,
        &["tap0", "40", "1", "--max-payload", "1500"],
        "jumbo",
    );
    let (rc, out) = guest.run(
        40,
        &format!(
            "ip link set eth0 mtu 1508 && {PPPD} mtu 1500 mru 1500 logfile /host/pppd-jumbo.log"
        ),
    );
    let log = std::fs::read_to_string(guest.share().join("pppd-jumbo.log")).unwrap_or_default();
    let ours = ac.finish();
    eprintln!("pppd log:\n{log}\npppoe_ac:\n{ours}");
    assert_ne!(rc, 137, "pppd hung:\n{out}");
    let pads = log
        .lines()
        .skip_while(|l| !l.starts_with("Recv PPPOE Discovery V1T1 PADS"))
        .nth(2)
        .unwrap_or_default();
    assert!(
        pads.contains("[PPP-max-payload  05 dc]"),
        "PADS tags: {pads}\n{log}"
    );
    assert!(ours.contains("max mru 1500"), "{ours}");
    assert!(ours.contains("ok: user alice@isp.example"), "{ours}");

    // 3. CHAP-MD5: pppd's real response, captured for Proxy Authen Type 2, verifies against
    // the password as the LNS would check it.
    let ac = Ac::start(
        &bin,
        &guest,
        &["tap0", "40", "1", "--chap", "--check-password", "secret"],
        "chap",
    );
    let (rc, out) = guest.run(40, &format!("{PPPD} logfile /host/pppd-chap.log"));
    let log = std::fs::read_to_string(guest.share().join("pppd-chap.log")).unwrap_or_default();
    let ours = ac.finish();
    eprintln!("pppd log:\n{log}\npppoe_ac:\n{ours}");
    assert_ne!(rc, 137, "pppd hung:\n{out}");
    assert!(log.contains("sent [CHAP Response"), "{log}");
    assert!(ours.contains("proxy type 2 lcp captured"), "{ours}");
    assert!(ours.contains("ok: CHAP response verifies"), "{ours}");
}
