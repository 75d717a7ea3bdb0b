//! A rate limit for log lines about bad network input: at most one line per interval, and
//! the next line says how many were suppressed.

use std::time::{Duration, Instant};

/// One limiter per kind of message.
#[derive(Debug, Clone)]
pub struct RateLimitedLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    /// At most one line per `interval`.
    pub fn new(interval: Duration) -> Self {
        RateLimitedLog {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(suppressed since the last line)` when a line may be logged now.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

impl Default for RateLimitedLog {
    fn default() -> Self {
        RateLimitedLog::new(Duration::from_secs(10))
    }
}
