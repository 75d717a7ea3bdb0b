//! Per-session rate limits in the userspace datapath: a token bucket per direction (towards
//! the user, from the user), refilled from the `now` the core is handed, so a packet costs
//! a few integer operations and no syscall. A packet over the rate is dropped (policing);
//! the drops are counted. The rates come from RADIUS (Access-Accept, CoA).

use std::time::Instant;

use l2tp_radius::reply::RateLimit;

/// The shortest burst allowed: a few full-size frames, so a slow rate still passes them.
const MIN_BURST_BYTES: u64 = 4 * 1500;
/// The burst is this many milliseconds of the rate (for fast rates).
const BURST_MS: u64 = 50;

/// One direction's token bucket, in bytes.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct TokenBucket {
    bytes_per_sec: u64,
    burst: u64,
    tokens: u64,
    /// The time up to which tokens were added (whole bytes only: no drift at slow rates).
    #[serde(with = "l2tp_snap::instant")]
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `bits_per_sec`.
    pub fn new(bits_per_sec: u64, now: Instant) -> TokenBucket {
        let bytes_per_sec = (bits_per_sec / 8).max(1);
        let burst = (bytes_per_sec * BURST_MS / 1000).max(MIN_BURST_BYTES);
        TokenBucket {
            bytes_per_sec,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `len` bytes' worth of tokens if there are enough; false: drop the packet.
    pub fn allow(&mut self, now: Instant, len: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        if elapsed > 0 {
            let add = elapsed * u128::from(self.bytes_per_sec) / 1_000_000_000;
            if add > 0 {
                // Advance `last` only by the time the whole bytes added stand for.
                let used_ns = add * 1_000_000_000 / u128::from(self.bytes_per_sec);
                self.last += std::time::Duration::from_nanos(used_ns.min(u64::MAX as u128) as u64);
                self.tokens = (u128::from(self.tokens) + add).min(u128::from(self.burst)) as u64;
                if self.tokens == self.burst {
                    self.last = now;
                }
            }
        }
        let len = len as u64;
        if self.tokens >= len {
            self.tokens -= len;
            true
        } else {
            false
        }
    }
}

/// A session's limits.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Shaper {
    /// Towards the user.
    pub down: TokenBucket,
    /// From the user.
    pub up: TokenBucket,
}

impl Shaper {
    pub fn new(limit: RateLimit, now: Instant) -> Shaper {
        Shaper {
            down: TokenBucket::new(limit.down_bps, now),
            up: TokenBucket::new(limit.up_bps, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_passes_its_rate_plus_its_burst() {
        let t0 = Instant::now();
        // 800 kbit/s = 100,000 bytes/s, burst 6,000 bytes.
        let mut b = TokenBucket::new(800_000, t0);
        let mut passed = 0u64;
        // 4,000 packets of 1,000 bytes offered over 10 s (4x the rate), every 2.5 ms.
        for i in 0..4000u64 {
            let now = t0 + Duration::from_micros(2500 * i);
            if b.allow(now, 1000) {
                passed += 1000;
            }
        }
        let expected = 100_000 * 10 + 6_000;
        assert!(
            passed <= expected && passed + 2_000 >= expected,
            "passed {passed}, expected about {expected}"
        );
    }

    #[test]
    fn an_idle_bucket_holds_no_more_than_its_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(8_000_000, t0);
        let later = t0 + Duration::from_secs(60);
        let mut n = 0;
        while b.allow(later, 1500) {
            n += 1;
        }
        // 1,000,000 bytes/s: a 50 ms burst is 50,000 bytes, 33 full frames.
        assert_eq!(n, 33);
    }
}
