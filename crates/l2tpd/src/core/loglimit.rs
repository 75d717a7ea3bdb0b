//! Rate limits for log lines a peer can provoke: each kind of line gets a token bucket
//! ([`PER_SEC`] lines a second, bursts of [`BURST`]); a line that passes says how many of its
//! kind were suppressed since the last one that did.

use std::collections::HashMap;
use std::time::Instant;

/// Lines of one kind per second, sustained.
pub(crate) const PER_SEC: u32 = 5;
/// Lines of one kind in a burst.
pub(crate) const BURST: u32 = 20;

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    refilled: Instant,
    suppressed: u64,
}

/// One token bucket per kind of line.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    buckets: HashMap<&'static str, Bucket>,
}

impl LogLimiter {
    /// Whether a line of `kind` may be logged at `now`: `Some(n)` with the number suppressed
    /// since the last one logged, `None` to drop it (counted).
    pub fn allow(&mut self, now: Instant, kind: &'static str) -> Option<u64> {
        let b = self.buckets.entry(kind).or_insert(Bucket {
            tokens: BURST,
            refilled: now,
            suppressed: 0,
        });
        let elapsed = now.saturating_duration_since(b.refilled);
        let earned = (elapsed.as_millis() * u128::from(PER_SEC) / 1000) as u64;
        if earned > 0 {
            b.tokens = (u64::from(b.tokens) + earned).min(u64::from(BURST)) as u32;
            b.refilled = now;
        }
        if b.tokens == 0 {
            b.suppressed += 1;
            return None;
        }
        b.tokens -= 1;
        Some(std::mem::take(&mut b.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_flood_gets_a_burst_then_the_rate_and_counts_the_rest() {
        let mut l = LogLimiter::default();
        let t0 = Instant::now();
        // 1000 lines in the same instant: the burst passes, the rest is counted.
        let passed = (0..1000).filter(|_| l.allow(t0, "x").is_some()).count();
        assert_eq!(passed, BURST as usize);
        // Another kind has its own bucket.
        assert_eq!(l.allow(t0, "y"), Some(0));
        // One second later: PER_SEC more, the first says how many were dropped.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.allow(t1, "x"), Some(1000 - u64::from(BURST)));
        let more = (0..100).filter(|_| l.allow(t1, "x").is_some()).count();
        assert_eq!(more, PER_SEC as usize - 1);
    }
}
