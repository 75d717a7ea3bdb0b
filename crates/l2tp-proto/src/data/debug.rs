//! Rate-limited debug messages: the driver's per-tunnel and per-session debug mask, through
//! `tracing`, behind a token bucket so that a busy system is never swamped (the seed warns the
//! kernel's messages are not rate-limited).
//!
//! The bucket runs on the `now` the datapath is given (no clock is read). When messages were
//! suppressed, the next one that passes says how many.

use std::time::{Duration, Instant};

/// A token bucket: `burst` messages at once, then `per_sec` a second.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RateLimiter {
    tokens: u32,
    burst: u32,
    interval: Duration,
    #[serde(with = "l2tp_snap::opt_instant")]
    last: Option<Instant>,
    suppressed: u64,
    /// Total suppressed since creation.
    pub(crate) total_suppressed: u64,
}

impl RateLimiter {
    /// A limiter allowing `burst` messages at once and `per_sec` per second after that
    /// (`per_sec` 0 means no message after the burst).
    pub(crate) fn new(per_sec: u32, burst: u32) -> Self {
        let interval = if per_sec == 0 {
            Duration::MAX
        } else {
            Duration::from_secs(1) / per_sec
        };
        RateLimiter {
            tokens: burst,
            burst,
            interval,
            last: None,
            suppressed: 0,
            total_suppressed: 0,
        }
    }

    /// Takes a token. `Some(n)`: emit, `n` messages were suppressed since the last one emitted.
    /// `None`: suppress this one.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            None => self.last = Some(now),
            Some(last) if self.tokens < self.burst && self.interval != Duration::MAX => {
                let elapsed = now.saturating_duration_since(last);
                let n = elapsed.as_nanos() / self.interval.as_nanos().max(1);
                if n > 0 {
                    let add = u32::try_from(n).unwrap_or(u32::MAX);
                    self.tokens = self.tokens.saturating_add(add).min(self.burst);
                    // Keep the remainder so the long-run rate is exact.
                    let step = self.interval.saturating_mul(add);
                    self.last = Some(last.checked_add(step).unwrap_or(now).min(now));
                }
            }
            Some(_) => self.last = Some(now),
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            self.total_suppressed += 1;
            None
        }
    }
}

/// Emits a debug message in `category` when `mask` has it and the limiter allows.
macro_rules! l2tp_debug {
    ($limiter:expr, $now:expr, $mask:expr, $cat:ident, $($arg:tt)+) => {
        if $mask.contains($crate::data::DebugMask::$cat) {
            if let Some(suppressed) = $limiter.allow($now) {
                tracing::debug!(target: "l2tp::data", category = stringify!($cat), suppressed, $($arg)+);
            }
        }
    };
}
pub(crate) use l2tp_debug;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate_then_reports_suppressed() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 3);
        assert_eq!(rl.allow(t0), Some(0));
        assert_eq!(rl.allow(t0), Some(0));
        assert_eq!(rl.allow(t0), Some(0));
        for _ in 0..1000 {
            assert_eq!(rl.allow(t0), None);
        }
        // 100 ms later one token is back, and the message says 1000 were suppressed.
        assert_eq!(rl.allow(t0 + Duration::from_millis(100)), Some(1000));
        assert_eq!(rl.allow(t0 + Duration::from_millis(100)), None);
        assert_eq!(rl.total_suppressed, 1001);
        // Tokens never exceed the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        let passed = (0..10).filter(|_| rl.allow(later).is_some()).count();
        assert_eq!(passed, 3);
    }
}
