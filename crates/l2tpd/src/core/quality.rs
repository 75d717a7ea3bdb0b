//! Line quality, always on: every session's PPP link probes its peer with LCP echoes
//! (`ppp::probe`), and every 100 seconds the core closes a period per session — probes sent and
//! lost, shortest/mean/longest round trip, bytes each way from the datapath's counters — into
//! a history of 24 hours. A period is packed into [`PERIOD_BYTES`] bytes, so a session's full
//! day costs [`MAX_HISTORY_BYTES`] (7.6 KiB), allocated as the session ages (one hour: 324 B).

use std::time::{Duration, Instant};

use l2tp_mgmt as mgmt;
use l2tp_proto::data::SessionKey;
use ppp::probe::ProbeStats;

use super::Core;

/// Length of a period.
pub const PERIOD: Duration = Duration::from_secs(100);
/// Periods kept: 24 hours.
pub const PERIODS_KEPT: usize = 864;
/// Bytes of one packed period.
pub const PERIOD_BYTES: usize = 9;
/// A full day of history, per session.
pub const MAX_HISTORY_BYTES: usize = PERIODS_KEPT * PERIOD_BYTES;
/// The history grows by an hour of periods at a time.
const GROWTH: usize = 36;

/// One closed period, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Period {
    /// Probes sent.
    pub sent: u32,
    /// Probes lost.
    pub lost: u32,
    /// Shortest, mean and longest round trip.
    pub rtt: Option<(Duration, Duration, Duration)>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
}

/// Round trips are kept on a logarithmic scale: code 1 is 100 µs and each step is 5 % more
/// (code 255: 24 s), so a stored value is within 2.5 % of the measured one; 0 is "none".
fn rtt_code(d: Duration) -> u8 {
    let us = d.as_secs_f64() * 1e6;
    if us <= 100.0 {
        return 1;
    }
    (1.0 + (us / 100.0).ln() / 1.05f64.ln())
        .round()
        .clamp(1.0, 255.0) as u8
}

fn rtt_of(code: u8) -> Duration {
    Duration::from_secs_f64(100e-6 * 1.05f64.powi(i32::from(code) - 1))
}

/// Byte counts are kept as 16-bit floats: 11 bits of mantissa, 5 of exponent (exact below
/// 2048, within 0.05 % above, up to 4.4 TB a period).
fn bytes_code(v: u64) -> u16 {
    if v < 2048 {
        return v as u16;
    }
    let mut e = 64 - v.leading_zeros() - 11;
    let mut m = ((u128::from(v) + (1u128 << (e - 1))) >> e) as u64; // rounded
    if m >= 2048 {
        m >>= 1;
        e += 1;
    }
    if e > 31 {
        return u16::MAX;
    }
    ((e as u16) << 11) | m as u16
}

fn bytes_of(code: u16) -> u64 {
    u64::from(code & 0x7ff) << (code >> 11)
}

impl Period {
    fn pack(&self) -> [u8; PERIOD_BYTES] {
        let (lo, avg, hi) = self
            .rtt
            .map(|(a, b, c)| (rtt_code(a), rtt_code(b), rtt_code(c)))
            .unwrap_or((0, 0, 0));
        let rx = bytes_code(self.rx_bytes).to_be_bytes();
        let tx = bytes_code(self.tx_bytes).to_be_bytes();
        [
            self.sent.min(255) as u8,
            self.lost.min(255) as u8,
            lo,
            avg,
            hi,
            rx[0],
            rx[1],
            tx[0],
            tx[1],
        ]
    }

    fn unpack(b: &[u8; PERIOD_BYTES]) -> Self {
        Period {
            sent: u32::from(b[0]),
            lost: u32::from(b[1]),
            rtt: (b[2] != 0).then(|| (rtt_of(b[2]), rtt_of(b[3]), rtt_of(b[4]))),
            rx_bytes: bytes_of(u16::from_be_bytes([b[5], b[6]])),
            tx_bytes: bytes_of(u16::from_be_bytes([b[7], b[8]])),
        }
    }

    fn of(probes: ProbeStats, rx_bytes: u64, tx_bytes: u64) -> Self {
        Period {
            sent: probes.sent,
            lost: probes.lost,
            rtt: probes
                .rtt_min
                .zip(probes.rtt_avg())
                .zip(probes.rtt_max)
                .map(|((a, b), c)| (a, b, c)),
            rx_bytes,
            tx_bytes,
        }
    }
}

/// One session's history: the closed periods (a ring once a day is full) and where the
/// period in progress started.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct QualityLog {
    periods: Vec<[u8; PERIOD_BYTES]>,
    /// Index of the oldest period once the ring is full.
    oldest: usize,
    /// Seconds covered by the first period (the session came up inside it).
    first_seconds: u32,
    /// The datapath's byte counters when the period in progress started.
    rx_at_start: u64,
    tx_at_start: u64,
}

impl QualityLog {
    fn new() -> Self {
        QualityLog {
            periods: Vec::new(),
            oldest: 0,
            first_seconds: PERIOD.as_secs() as u32,
            rx_at_start: 0,
            tx_at_start: 0,
        }
    }

    fn push(&mut self, p: Period) {
        let packed = p.pack();
        if self.periods.len() < PERIODS_KEPT {
            if self.periods.len() == self.periods.capacity() {
                let more = GROWTH.min(PERIODS_KEPT - self.periods.len());
                self.periods.reserve_exact(more);
            }
            self.periods.push(packed);
        } else {
            self.periods[self.oldest] = packed;
            self.oldest = (self.oldest + 1) % PERIODS_KEPT;
            self.first_seconds = PERIOD.as_secs() as u32;
        }
    }

    /// Closed periods, oldest first.
    fn iter(&self) -> impl Iterator<Item = Period> + '_ {
        let (newer, older) = self.periods.split_at(self.oldest);
        older.iter().chain(newer).map(Period::unpack)
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.periods.capacity() * PERIOD_BYTES
    }
}

/// The core's period clock: when the period in progress ends.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct QualityClock {
    /// Probe interval (for the answer; the links carry the schedule).
    pub probe_interval: Option<Duration>,
    /// End of the period in progress.
    #[serde(with = "l2tp_snap::instant")]
    pub next_close: Instant,
    /// When the last period was closed.
    #[serde(with = "l2tp_snap::instant")]
    pub last_close: Instant,
}

impl QualityClock {
    pub fn new(probe_interval: Option<Duration>, now: Instant) -> Self {
        QualityClock {
            probe_interval,
            next_close: now + PERIOD,
            last_close: now,
        }
    }
}

fn period_info(p: Period, ended_s_ago: u64, seconds: u32) -> mgmt::QualityPeriod {
    let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
    mgmt::QualityPeriod {
        ended_s_ago,
        seconds,
        sent: p.sent,
        lost: p.lost,
        rtt_min_ms: p.rtt.map(|r| ms(r.0)),
        rtt_avg_ms: p.rtt.map(|r| ms(r.1)),
        rtt_max_ms: p.rtt.map(|r| ms(r.2)),
        rx_bytes: p.rx_bytes,
        tx_bytes: p.tx_bytes,
    }
}

impl Core {
    /// Every 100 s: closes the period in progress of every probing session.
    pub(super) fn close_quality_periods(&mut self, now: Instant) {
        if self.quality.probe_interval.is_none() || now < self.quality.next_close {
            return;
        }
        let since_last = now.saturating_duration_since(self.quality.last_close);
        self.quality.last_close = now;
        // The next boundary stays on the grid; a core that stalled skips what it missed.
        while self.quality.next_close <= now {
            self.quality.next_close += PERIOD;
        }
        for (key, s) in self.sessions.iter_mut() {
            let Some(probes) = s.link.take_probe_stats() else {
                continue;
            };
            let stats = self
                .datapath
                .stats(key.tunnel, key.session)
                .unwrap_or_default();
            let log = s.quality.get_or_insert_with(|| {
                let mut log = Box::new(QualityLog::new());
                log.first_seconds = now
                    .saturating_duration_since(s.since)
                    .min(since_last)
                    .as_secs()
                    .max(1) as u32;
                log
            });
            log.push(Period::of(
                probes,
                stats.rx_bytes.saturating_sub(log.rx_at_start),
                stats.tx_bytes.saturating_sub(log.tx_at_start),
            ));
            log.rx_at_start = stats.rx_bytes;
            log.tx_at_start = stats.tx_bytes;
        }
    }

    /// A session's history for `l2tpctl quality` / the graph: the closed periods and the one
    /// in progress.
    pub(super) fn quality_info(&self, now: Instant, key: SessionKey) -> Option<mgmt::QualityInfo> {
        let s = self.sessions.get(&key)?;
        let interval = self.quality.probe_interval?;
        let stats = self
            .datapath
            .stats(key.tunnel, key.session)
            .unwrap_or_default();
        let mut periods = Vec::new();
        let last_ago = now
            .saturating_duration_since(self.quality.last_close)
            .as_secs();
        let (rx0, tx0) = match s.quality.as_deref() {
            Some(log) => {
                let n = log.periods.len() as u64;
                for (i, p) in log.iter().enumerate() {
                    let newer = n - 1 - i as u64;
                    let seconds = if i == 0 && n < PERIODS_KEPT as u64 {
                        log.first_seconds
                    } else {
                        PERIOD.as_secs() as u32
                    };
                    periods.push(period_info(p, last_ago + newer * PERIOD.as_secs(), seconds));
                }
                (log.rx_at_start, log.tx_at_start)
            }
            None => (0, 0),
        };
        let in_progress = s.link.probe_stats().unwrap_or_default();
        let started = if periods.is_empty() {
            s.since.max(self.quality.last_close)
        } else {
            self.quality.last_close
        };
        periods.push(period_info(
            Period::of(
                in_progress,
                stats.rx_bytes.saturating_sub(rx0),
                stats.tx_bytes.saturating_sub(tx0),
            ),
            0,
            now.saturating_duration_since(started).as_secs() as u32,
        ));
        Some(mgmt::QualityInfo {
            tunnel: key.tunnel.0,
            session: key.session.0,
            user: s.user().map(str::to_string),
            probe_interval_ms: interval.as_millis().min(u128::from(u32::MAX)) as u32,
            period_s: PERIOD.as_secs() as u32,
            periods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_are_kept_within_two_and_a_half_percent() {
        for us in [100u64, 150, 999, 12_345, 80_000, 1_000_000, 20_000_000] {
            let d = Duration::from_micros(us);
            let back = rtt_of(rtt_code(d));
            let err = (back.as_secs_f64() - d.as_secs_f64()).abs() / d.as_secs_f64();
            assert!(err <= 0.026, "{us} µs came back as {back:?}");
        }
        assert_eq!(rtt_code(Duration::from_secs(3600)), 255, "saturates");
    }

    #[test]
    fn byte_counts_are_exact_below_2048_and_within_a_twentieth_of_a_percent_above() {
        for v in [
            0u64,
            1,
            2047,
            2048,
            2049,
            1_000_000,
            125_000_000_000,
            4_000_000_000_000,
        ] {
            let back = bytes_of(bytes_code(v));
            if v < 2048 {
                assert_eq!(back, v);
            } else {
                let err = (back as f64 - v as f64).abs() / v as f64;
                assert!(err <= 0.0005, "{v} came back as {back}");
            }
        }
        assert_eq!(bytes_code(u64::MAX), u16::MAX, "saturates");
    }

    #[test]
    fn a_day_of_history_is_a_bounded_ring() {
        let mut log = QualityLog::new();
        for i in 0..(PERIODS_KEPT + 100) as u32 {
            log.push(Period {
                sent: 100,
                lost: i % 7,
                rtt: None,
                rx_bytes: u64::from(i),
                tx_bytes: 0,
            });
            assert!(log.heap_bytes() <= MAX_HISTORY_BYTES);
        }
        assert_eq!(log.heap_bytes(), MAX_HISTORY_BYTES);
        let rx: Vec<u64> = log.iter().map(|p| p.rx_bytes).collect();
        assert_eq!(rx.len(), PERIODS_KEPT);
        assert_eq!(rx[0], 100, "the oldest 100 periods were dropped");
        assert_eq!(*rx.last().unwrap(), (PERIODS_KEPT + 99) as u64);
        assert!(rx.windows(2).all(|w| w[1] == w[0] + 1), "in order");
    }
}
