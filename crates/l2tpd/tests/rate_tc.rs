//! Rate limits on an interface with `tc`, as the daemon puts them on a kernel-datapath
//! session's `pppN` (whose packets never reach its token buckets): a token bucket filter
//! towards the user, a policer on what the user sends, replaced when a CoA changes the
//! rate. Checked on a veth in a network namespace the test creates. Needs root, iproute2
//! and tc; the policer needs the kernel's u32 classifier and police action: where the host's
//! kernel lacks them, the same `tc` batch the daemon runs is checked in the kernel-vm guest
//! (Debian's kernel), which has them.

mod support;

use std::process::Command;

use l2tp_radius::reply::RateLimit;
use l2tpd::node::tc::Tc;

fn sh(args: &[&str]) -> (bool, String) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run command");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// A namespace with a veth pair (v0 up); removed on drop.
struct Ns(String);

impl Ns {
    fn new() -> Ns {
        let ns = Ns(format!("tc-{}", std::process::id() % 100_000));
        assert!(sh(&["ip", "netns", "add", &ns.0]).0);
        let (ok, out) = sh(&[
            "ip", "-n", &ns.0, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ]);
        assert!(ok, "{out}");
        assert!(sh(&["ip", "-n", &ns.0, "link", "set", "v0", "up"]).0);
        ns
    }

    fn tc(&self, args: &[&str]) -> (bool, String) {
        let mut v = vec!["ip", "netns", "exec", &self.0, "tc"];
        v.extend_from_slice(args);
        sh(&v)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.0]);
    }
}

#[test]
fn tc_shapes_towards_the_user_polices_from_the_user_and_follows_a_coa() {
    let test = "tc_shapes_towards_the_user_polices_from_the_user_and_follows_a_coa";
    if !support::requires(
        test,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            ("tc", support::have_tool("tc")),
        ],
    ) {
        return;
    }
    let ns = Ns::new();
    let mut tc = Tc::with_command(&["ip", "netns", "exec", &ns.0, "tc"]);
    let limit = |down, up| RateLimit {
        down_bps: down,
        up_bps: up,
    };
    tc.apply("v0", limit(10_000_000, 2_000_000));
    tc.wait();
    let (_, q) = ns.tc(&["qdisc", "show", "dev", "v0"]);
    assert!(q.contains("tbf") && q.contains("rate 10Mbit"), "{q}");
    // A CoA: the new rate replaces the old one.
    tc.apply("v0", limit(4_000_000, 1_000_000));
    tc.wait();
    let (_, q) = ns.tc(&["qdisc", "show", "dev", "v0"]);
    assert!(q.contains("rate 4Mbit") && !q.contains("10Mbit"), "{q}");
    assert_eq!(q.matches("tbf").count(), 1, "{q}");

    // From the user: the policer on the ingress.
    let (_, f) = ns.tc(&["filter", "show", "dev", "v0", "ingress"]);
    if !f.contains("police") {
        // Is it the kernel? Try the same classifier on the other end.
        let _ = ns.tc(&["qdisc", "add", "dev", "v1", "handle", "ffff:", "ingress"]);
        #[rustfmt::skip]
        let (supported, why) = ns.tc(&[
            "filter", "add", "dev", "v1", "parent", "ffff:", "protocol", "all", "prio", "1",
            "u32", "match", "u32", "0", "0", "action", "police", "rate", "1000000bit",
            "burst", "6000", "conform-exceed", "drop",
        ]);
        assert!(!supported, "the kernel polices, but not what we asked: {f}");
        eprintln!(
            "rate_tc: this kernel cannot police ({}): the policer is checked in the guest",
            why.trim()
        );
        policer_in_the_guest(test, limit(4_000_000, 1_000_000));
        return;
    }
    assert!(f.contains("rate 1Mbit"), "{f}");
}

/// The daemon's `tc` batch for `limit`, run on a veth in the kernel-vm guest (Debian's
/// kernel, with the u32 classifier and the police action): both halves in place.
fn policer_in_the_guest(test: &str, limit: RateLimit) {
    let Some(g) = support::guest::Guest::start("tc", test) else {
        return;
    };
    std::fs::write(g.share().join("batch"), l2tpd::node::tc::batch("v0", limit))
        .expect("write the batch");
    let out = g.ok(
        "ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && \
         tc -force -batch /host/batch; tc qdisc show dev v0; tc filter show dev v0 ingress",
    );
    assert!(out.contains("tbf") && out.contains("rate 4Mbit"), "{out}");
    assert!(
        out.contains("police") && out.contains("rate 1Mbit"),
        "{out}"
    );
}
