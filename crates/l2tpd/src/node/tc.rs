//! Per-session rate limits on an interface with `tc`, for the kernel datapath (its packets
//! never reach the daemon's token buckets): towards the user a token bucket filter as the
//! interface's root qdisc, from the user a policer on its ingress. `tc -batch` runs as a
//! child the event loop does not wait for; it is reaped later and a failure logged. The
//! burst follows the userspace shaper: 50 ms of the rate, at least 6000 bytes.

use std::io::Write;
use std::process::{Child, Command, Stdio};

use l2tp_radius::reply::RateLimit;

/// The shortest burst, in bytes (a few full-size frames).
const MIN_BURST: u64 = 6000;

/// `tc` children still running.
#[derive(Debug, Default)]
pub struct Tc {
    running: Vec<(String, Child)>,
    /// The command to run instead of `tc` (tests: `ip netns exec NS tc`).
    command: Vec<String>,
}

/// Bytes of burst for `bps` bits per second.
fn burst(bps: u64) -> u64 {
    (bps / 8 * 50 / 1000).max(MIN_BURST)
}

/// The `tc -batch` lines that put `limit` on `ifname` (replacing what was there; the first
/// two fail harmlessly when nothing was).
pub fn batch(ifname: &str, limit: RateLimit) -> String {
    let (down, up) = (limit.down_bps.max(8), limit.up_bps.max(8));
    format!(
        "qdisc del dev {ifname} root\n\
         qdisc del dev {ifname} ingress\n\
         qdisc add dev {ifname} root tbf rate {down}bit burst {} latency 50ms\n\
         qdisc add dev {ifname} handle ffff: ingress\n\
         filter add dev {ifname} parent ffff: protocol all prio 1 u32 match u32 0 0 \
         action police rate {up}bit burst {} conform-exceed drop\n",
        burst(down),
        burst(up),
    )
}

impl Tc {
    /// Runs `command` (program and leading arguments) instead of `tc`.
    pub fn with_command(command: &[&str]) -> Tc {
        Tc {
            running: Vec::new(),
            command: command.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Starts `tc` putting `limit` on `ifname`; does not wait for it.
    pub fn apply(&mut self, ifname: &str, limit: RateLimit) {
        self.reap();
        let (program, lead) = match self.command.split_first() {
            Some((p, lead)) => (p.as_str(), lead),
            None => ("tc", &[][..]),
        };
        let child = Command::new(program)
            .args(lead)
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%ifname, "rate limit not applied: cannot run tc: {e}");
                return;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A few hundred bytes: the pipe takes them without blocking.
            let _ = stdin.write_all(batch(ifname, limit).as_bytes());
        }
        tracing::info!(%ifname, down_bps = limit.down_bps, up_bps = limit.up_bps, "rate limit set with tc");
        self.running.push((ifname.to_string(), child));
    }

    /// Collects the children that finished; logs those that failed. Cheap when none runs.
    pub fn reap(&mut self) {
        self.running
            .retain_mut(|(ifname, child)| match child.try_wait() {
                Ok(None) => true,
                Ok(Some(status)) => {
                    // The two deletions fail when the interface had no limits yet: only the
                    // lines that add count.
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    let failed: Vec<&str> = err
                        .lines()
                        .filter(|l| l.starts_with("Command failed"))
                        .filter(|l| !l.ends_with(":1") && !l.ends_with(":2"))
                        .collect();
                    if !failed.is_empty() {
                        tracing::warn!(%ifname, %status, "rate limit: tc failed: {}", err.trim());
                    }
                    false
                }
                Err(_) => false,
            });
    }

    /// Waits for the children still running (tests: the daemon never waits for `tc`).
    pub fn wait(&mut self) {
        for (_, c) in &mut self.running {
            let _ = c.wait();
        }
        self.reap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_shapes_down_and_polices_up() {
        let b = batch(
            "ppp3",
            RateLimit {
                down_bps: 10_000_000,
                up_bps: 512_000,
            },
        );
        assert!(b.contains("qdisc add dev ppp3 root tbf rate 10000000bit burst 62500 latency"));
        assert!(b.contains("police rate 512000bit burst 6000 conform-exceed drop"));
        assert_eq!(b.lines().count(), 5);
    }
}
