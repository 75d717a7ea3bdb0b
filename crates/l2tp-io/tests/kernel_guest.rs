//! The PPPoL2TP API against a real Linux L2TP/PPP kernel: builds the guest image
//! (`scripts/kernel-vm/build.sh --if-needed`), boots it once under qemu in a network namespace
//! of its own, runs the `pppol2tp_pair` example in it through the 9p share, and tears
//! everything down (qemu by pid, the namespace, the run directory).
//!
//! Needs root, qemu-system-x86_64 and apt (CI has all three): without them the test says so
//! loudly and returns, and fails when `CI=true`.

use std::time::Instant;

use l2tp_guest::{build_image, example_binary, have, is_root, Guest};

fn skip(why: &str) {
    l2tp_guest::skip("kernel guest test", why);
}

#[test]
fn pppol2tp_api_in_a_real_kernel() {
    if !is_root() {
        return skip("needs root (qemu in a network namespace, tap device)");
    }
    if !have("apt-get") || !have("qemu-system-x86_64") {
        return skip("needs apt-get and qemu-system-x86_64 (package qemu-system-x86)");
    }

    let t0 = Instant::now();
    if let Err(why) = build_image() {
        return skip(&why);
    }
    let t_build = t0.elapsed();
    let bins = ["pppol2tp_pair", "kernel_lac"]
        .map(|n| example_binary("l2tp-io", n).expect("example binary"));

    let t1 = Instant::now();
    let guest = Guest::boot("test", "kt").expect("guest boots");
    let t_boot = t1.elapsed();
    for bin in &bins {
        std::fs::copy(bin, guest.share().join(bin.file_name().unwrap()))
            .expect("copy into the share");
    }

    let t2 = Instant::now();
    // The datapath checks, IPv4 then IPv6 (see the example's header for what each checks).
    let (rc, out) = guest.run(60, "/host/pppol2tp_pair pair");
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
    let (_, after) = guest.run(60, "ip l2tp show tunnel; ls /sys/class/net");
    assert!(
        !after.contains("Tunnel") && !after.contains("ppp"),
        "left behind in the guest:\n{after}"
    );

    // The kernel's reorder queue at the sequence wrap (docs/datapath.md, "Kernel backend"):
    // in order away from the wrap, a stall then drops across it.
    let (rc, out) = guest.run(60, "/host/pppol2tp_pair wrap");
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
    let (rc, out) = guest.run(60,
        "mkdir -p /run/xl2tpd && ip netns add lns && ip link add vlac type veth peer name vlns \
         && ip link set vlns netns lns && ip addr add 203.0.113.1/24 dev vlac && ip link set vlac up \
         && ip -n lns addr add 203.0.113.2/24 dev vlns && ip -n lns link set vlns up \
         && ip -n lns link set lo up \
         && ip netns exec lns xl2tpd -c /etc/xl2tpd/xl2tpd.conf -p /run/xl2tpd.pid -C /run/xl2tpd/l2tp-control >/dev/null 2>&1 \
         && sleep 1",
    );
    assert_eq!(rc, 0, "LNS setup in the guest:\n{out}");
    let (rc, out) = guest.run(60, "/host/kernel_lac 203.0.113.2:1701 l2tptest l2tptest");
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
    let (_, after) = guest.run(60,
        "ip l2tp show tunnel; ls /sys/class/net; kill $(cat /run/xl2tpd.pid); grep -c 'Connection closed' /var/log/messages",
    );
    assert!(
        !after.contains("Tunnel") && !after.contains("ppp"),
        "left behind in the guest after kernel_lac:\n{after}"
    );

    // The probe: one clear error per missing module, "ok" once they are back. Autoloading is
    // turned off first (the kernel's modprobe hook points at /bin/false). The kernel frees a
    // closed tunnel asynchronously, so l2tp_ppp may still be in use for a moment: removal is
    // retried for up to 10 s, and its last error shown if it never succeeds.
    let (rc, out) = guest.run(
        60,
        "echo /bin/false > /proc/sys/kernel/modprobe && i=0; \
         until modprobe -r l2tp_ppp pppox 2>/tmp/rm.err; do \
         i=$((i+1)); [ $i -ge 20 ] && { cat /tmp/rm.err; exit 1; }; sleep 0.5; done; \
         /host/pppol2tp_pair probe",
    );
    assert_eq!(rc, 2, "{out}");
    assert!(
        out.contains("probe: missing module pppox (and l2tp_ppp)"),
        "{out}"
    );
    let (rc, out) = guest.run(60, "modprobe pppox && /host/pppol2tp_pair probe");
    assert_eq!(rc, 2, "{out}");
    assert!(out.contains("probe: missing module l2tp_ppp"), "{out}");
    let (rc, out) = guest.run(60,
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
