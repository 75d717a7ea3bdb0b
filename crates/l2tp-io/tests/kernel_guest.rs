//! The PPPoL2TP API against a real Linux L2TP/PPP kernel: builds the guest image
//! (`scripts/kernel-vm/build.sh --if-needed`), boots it once under qemu in a network namespace
//! of its own, runs the `pppol2tp_pair` example in it through the 9p share, and tears
//! everything down (qemu by pid, the namespace, the run directory).
//!
//! Needs root, qemu-system-x86_64 and apt (CI has all three): without them the test says so
//! loudly and returns, and fails when `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("kernel guest test cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED kernel guest test: {why}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// One guest, with its own run directory and namespace; stopped (by `down.sh`, which stops
/// qemu by its pid file) when dropped.
struct Guest {
    scripts: PathBuf,
    run: PathBuf,
    netns: String,
}

impl Guest {
    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(self.scripts.join(name))
            .env("KVMPEER_RUN", &self.run)
            .env("KVMPEER_NETNS", &self.netns);
        c
    }

    fn boot(scripts: PathBuf) -> Result<Self, String> {
        let pid = std::process::id();
        let guest = Guest {
            run: PathBuf::from(format!("/var/tmp/l2tp-rs-kvm/run-test-{pid}")),
            netns: format!("l2tprs-kt{pid}"),
            scripts,
        };
        let out = guest
            .script("up.sh")
            .output()
            .map_err(|e| format!("up.sh: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!(
                "up.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(guest)
    }

    fn share(&self) -> PathBuf {
        self.run.join("share")
    }

    /// Runs `cmd` in the guest (60 s limit); its output and exit code.
    fn run(&self, cmd: &str) -> (i32, String) {
        let out: Output = self
            .script("guest-run.sh")
            .args(["-t", "60", cmd])
            .output()
            .expect("guest-run.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("guest$ {cmd}\n{text}");
        (out.status.code().unwrap_or(-1), text)
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.script("down.sh").output();
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// An example binary, built for this profile next to this test's own binary.
fn example_binary(name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "-p", "l2tp-io", "--example", name]);
    // this test binary is target/<profile>/deps/kernel_guest-…; the example goes to
    // target/<profile>/examples/
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test binary path")?
        .to_path_buf();
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
    if !st.success() {
        return Err(format!("cargo build --example {name} failed"));
    }
    let bin = profile_dir.join("examples").join(name);
    if !bin.exists() {
        return Err(format!("{} missing after the build", bin.display()));
    }
    Ok(bin)
}

#[test]
fn pppol2tp_api_in_a_real_kernel() {
    if !is_root() {
        return skip("needs root (qemu in a network namespace, tap device)");
    }
    if !have("apt-get") || !have("qemu-system-x86_64") {
        return skip("needs apt-get and qemu-system-x86_64 (package qemu-system-x86)");
    }
    let scripts = repo_root().join("scripts/kernel-vm");

    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(scripts.join("build.sh"))
        .arg("--if-needed")
        .output()
        .expect("build.sh");
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return skip(&format!(
            "the guest image did not build (apt-get update done? network?): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let t_build = t0.elapsed();
    let bins = ["pppol2tp_pair", "kernel_lac"].map(|n| example_binary(n).expect("example binary"));

    let t1 = Instant::now();
    let guest = Guest::boot(scripts).expect("guest boots");
    let t_boot = t1.elapsed();
    for bin in &bins {
        std::fs::copy(bin, guest.share().join(bin.file_name().unwrap()))
            .expect("copy into the share");
    }

    let t2 = Instant::now();
    // The datapath checks, IPv4 then IPv6 (see the example's header for what each checks).
    let (rc, out) = guest.run("/host/pppol2tp_pair pair");
    assert_eq!(rc, 0, "pppol2tp_pair pair failed:\n{out}");
    for family in ["ipv4", "ipv6"] {
        for what in [
            "arrived unchanged",
            "shows A as R/S/LNS",
            "ip l2tp show session lists A",
            "rx_seq_discards 0 -> 1",
            "switched B to SENDSEQ",
            "A session stats = /proc",
            "B session stats = /proc",
            "after close no kernel tunnel",
        ] {
            let line = format!("ok: {family}: ");
            assert!(
                out.lines()
                    .any(|l| l.starts_with(&line) && l.contains(what)),
                "no `{line}...{what}` line in:\n{out}"
            );
        }
    }
    assert!(out.contains("ok: all checks passed"), "{out}");
    let (_, after) = guest.run("ip l2tp show tunnel; ls /sys/class/net");
    assert!(
        !after.contains("Tunnel") && !after.contains("ppp"),
        "left behind in the guest:\n{after}"
    );

    // The kernel's reorder queue at the sequence wrap (docs/datapath.md, "Kernel backend"):
    // in order away from the wrap, a stall then drops across it.
    let (rc, out) = guest.run("/host/pppol2tp_pair wrap");
    assert_eq!(rc, 0, "pppol2tp_pair wrap failed:\n{out}");
    assert!(
        out.contains("ok: wrap: 3,1,2 delivered in order at once"),
        "{out}"
    );
    assert!(
        out.contains("ok: wrap: 0,65534,65535 stalled for REORDERTO"),
        "{out}"
    );

    // Our control plane and PPP with the kernel datapath (the kernel backend minus the daemon)
    // against xl2tpd + pppd, an LNS in a namespace of the guest behind a veth pair, so that the
    // ping through our pppN really crosses the L2TP session.
    let (rc, out) = guest.run(
        "mkdir -p /run/xl2tpd && ip netns add lns && ip link add vlac type veth peer name vlns \
         && ip link set vlns netns lns && ip addr add 203.0.113.1/24 dev vlac && ip link set vlac up \
         && ip -n lns addr add 203.0.113.2/24 dev vlns && ip -n lns link set vlns up \
         && ip -n lns link set lo up \
         && ip netns exec lns xl2tpd -c /etc/xl2tpd/xl2tpd.conf -p /run/xl2tpd.pid -C /run/xl2tpd/l2tp-control >/dev/null 2>&1 \
         && sleep 1",
    );
    assert_eq!(rc, 0, "LNS setup in the guest:\n{out}");
    let (rc, out) = guest.run("/host/kernel_lac 203.0.113.2:1701 l2tptest l2tptest");
    assert_eq!(rc, 0, "kernel_lac against xl2tpd failed:\n{out}");
    for step in [
        "ok: tunnel up",
        "ok: session up",
        "ok: LCP opened",
        "ok: authenticated",
        "ok: IPCP opened: local 192.0.2.",
        "ok: ping answered through ppp",
        "ok: closed",
    ] {
        assert!(out.contains(step), "no `{step}` in:\n{out}");
    }
    let (_, after) = guest.run(
        "ip l2tp show tunnel; ls /sys/class/net; kill $(cat /run/xl2tpd.pid); grep -c 'Connection closed' /var/log/messages",
    );
    assert!(
        !after.contains("Tunnel") && !after.contains("ppp"),
        "left behind in the guest after kernel_lac:\n{after}"
    );

    // The probe: one clear error per missing module, "ok" once they are back. Autoloading is
    // turned off first (the kernel's modprobe hook points at /bin/false).
    let (rc, out) = guest.run(
        "echo /bin/false > /proc/sys/kernel/modprobe && modprobe -r l2tp_ppp pppox && /host/pppol2tp_pair probe",
    );
    assert_eq!(rc, 2, "{out}");
    assert!(
        out.contains("probe: missing module pppox (and l2tp_ppp)"),
        "{out}"
    );
    let (rc, out) = guest.run("modprobe pppox && /host/pppol2tp_pair probe");
    assert_eq!(rc, 2, "{out}");
    assert!(out.contains("probe: missing module l2tp_ppp"), "{out}");
    let (rc, out) = guest.run(
        "echo /sbin/modprobe > /proc/sys/kernel/modprobe && modprobe l2tp_ppp && /host/pppol2tp_pair probe",
    );
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("probe: ok"), "{out}");
    let t_run = t2.elapsed();

    drop(guest);
    eprintln!(
        "kernel guest timings: image {:.1} s (build.sh --if-needed), boot {:.1} s, checks {:.1} s",
        t_build.as_secs_f64(),
        t_boot.as_secs_f64(),
        t_run.as_secs_f64()
    );
}
