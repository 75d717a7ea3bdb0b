//! An access segment for LAC tests: a network namespace holding the LAC's end of a veth pair
//! (and whatever daemons the test starts there, on its loopback), the subscribers' end left
//! in the test's own namespace with no IP on it, so that the test's raw sockets and
//! `l2tpd loadgen --pppoe-interface` reach it. Both are removed on drop.

use super::{Proc, L2TPD};
use std::process::Command;

/// Runs a command, its output.
pub fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run command")
}

/// Runs a command, asserting success.
pub fn ok(args: &[&str]) {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A namespace with the LAC's end of a veth pair; the subscribers' end stays here.
pub struct Segment {
    /// The namespace.
    pub ns: String,
    /// The LAC's interface (in `ns`) and the subscribers' (in ours).
    pub ac_if: String,
    /// See `ac_if`.
    pub host_if: String,
}

impl Segment {
    /// A new segment named after this process and `tag` (one letter).
    pub fn new(tag: &str) -> Segment {
        let id = std::process::id() % 100_000;
        let s = Segment {
            ns: format!("l2{tag}-{id}"),
            ac_if: format!("l{tag}a{id}"),
            host_if: format!("l{tag}s{id}"),
        };
        ok(&["ip", "netns", "add", &s.ns]);
        ok(&[
            "ip", "link", "add", &s.host_if, "type", "veth", "peer", "name", &s.ac_if,
        ]);
        ok(&["ip", "link", "set", &s.ac_if, "netns", &s.ns]);
        // No IP on the access segment: only PPPoE crosses it.
        let _ = sh(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", s.host_if),
        ]);
        ok(&["ip", "link", "set", &s.host_if, "up"]);
        ok(&["ip", "-n", &s.ns, "link", "set", &s.ac_if, "up"]);
        ok(&["ip", "-n", &s.ns, "link", "set", "lo", "up"]);
        s
    }

    /// `l2tpd ARGS` in the namespace, logged to `DIR/WHO.log`.
    pub fn spawn(&self, dir: &std::path::Path, who: &str, args: &[&str]) -> Proc {
        let mut full = vec!["netns", "exec", &self.ns, L2TPD];
        full.extend_from_slice(args);
        Proc::spawn("ip", dir, who, &full)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = sh(&["ip", "link", "del", &self.host_if]);
        let _ = sh(&["ip", "netns", "del", &self.ns]);
    }
}
