//! Line-quality probes: LCP Echo-Requests sent at a steady rate, apart from the keepalive, so
//! that a daemon can draw a line's loss and round-trip time over the day. A reply is matched to
//! its request by the Identifier, which RFC 1661 §5.8 has the peer copy ("On reception, the
//! Identifier field of the Echo-Request is copied into the Identifier field of the Echo-Reply
//! packet"); a request not answered within the timeout counts as lost.
//!
//! The [`Prober`] only keeps counters for the period since the daemon last took them
//! ([`Prober::take`]): the history belongs to the daemon.

use std::time::{Duration, Instant};

/// How often to probe and how long to wait for each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeConfig {
    /// Time between two Echo-Requests.
    pub interval: Duration,
    /// A request unanswered for this long is lost.
    pub timeout: Duration,
}

impl ProbeConfig {
    /// Probes every `interval`, each waited for 5 s or two intervals, whichever is longer.
    pub fn every(interval: Duration) -> Self {
        ProbeConfig {
            interval,
            timeout: (interval * 2).max(Duration::from_secs(5)),
        }
    }
}

/// What the probes measured since the last [`Prober::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProbeStats {
    /// Echo-Requests sent.
    pub sent: u32,
    /// Replies received in time.
    pub answered: u32,
    /// Requests whose timeout ran out without a reply.
    pub lost: u32,
    /// Shortest round trip.
    pub rtt_min: Option<Duration>,
    /// Longest round trip.
    pub rtt_max: Option<Duration>,
    /// Sum of the round trips (the mean is `rtt_sum / answered`).
    pub rtt_sum: Duration,
}

impl ProbeStats {
    /// The mean round trip of the answered probes.
    pub fn rtt_avg(&self) -> Option<Duration> {
        (self.answered > 0).then(|| self.rtt_sum / self.answered)
    }

    fn answer(&mut self, rtt: Duration) {
        self.answered += 1;
        self.rtt_sum += rtt;
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = Some(self.rtt_max.map_or(rtt, |m| m.max(rtt)));
    }
}

/// Requests in flight at most (a longer timeout than this many intervals counts the oldest as
/// lost early: the table stays this small whatever the configuration).
const IN_FLIGHT: usize = 8;

/// The probe schedule and the requests in flight of one link.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Prober {
    cfg: ProbeConfig,
    #[serde(with = "l2tp_snap::instant")]
    next: Instant,
    #[serde(with = "l2tp_snap::array_opt_pair_last")]
    in_flight: [Option<(u8, Instant)>; IN_FLIGHT],
    stats: ProbeStats,
}

impl Prober {
    /// Probing starts one interval after `now`.
    pub fn new(cfg: ProbeConfig, now: Instant) -> Self {
        Prober {
            cfg,
            next: now + cfg.interval,
            in_flight: [None; IN_FLIGHT],
            stats: ProbeStats::default(),
        }
    }

    /// When [`Prober::due`] must next be asked.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// At `now`: counts the requests whose timeout ran out as lost, and says whether a new
    /// request is due (then call [`Prober::sent`] with its Identifier).
    pub fn due(&mut self, now: Instant) -> bool {
        for slot in &mut self.in_flight {
            if slot.is_some_and(|(_, at)| now.saturating_duration_since(at) >= self.cfg.timeout) {
                *slot = None;
                self.stats.lost += 1;
            }
        }
        if now < self.next {
            return false;
        }
        // Never fall behind by more than one probe (a daemon that was stopped for a while
        // does not send a burst).
        self.next = (self.next + self.cfg.interval).max(now + self.cfg.interval / 2);
        true
    }

    /// A request with Identifier `id` went out at `now`.
    pub fn sent(&mut self, id: u8, now: Instant) {
        self.stats.sent += 1;
        // A request still in flight under the same Identifier can no longer be told apart.
        let reuse = self
            .in_flight
            .iter()
            .position(|s| s.is_some_and(|(i, _)| i == id));
        let free = self.in_flight.iter().position(Option::is_none);
        let oldest = || {
            (0..IN_FLIGHT)
                .min_by_key(|&i| self.in_flight[i].map(|(_, at)| at))
                .unwrap_or(0)
        };
        let slot = reuse.or(free).unwrap_or_else(oldest);
        if self.in_flight[slot].is_some() {
            self.stats.lost += 1;
        }
        self.in_flight[slot] = Some((id, now));
    }

    /// An Echo-Reply with Identifier `id` arrived at `now`; true when it answered a probe.
    pub fn replied(&mut self, id: u8, now: Instant) -> bool {
        let Some(slot) = self
            .in_flight
            .iter()
            .position(|s| s.is_some_and(|(i, _)| i == id))
        else {
            return false;
        };
        let (_, at) = self.in_flight[slot].take().expect("slot found above");
        self.stats.answer(now.saturating_duration_since(at));
        true
    }

    /// The counters since the last [`Prober::take`].
    pub fn stats(&self) -> ProbeStats {
        self.stats
    }

    /// The counters since the last call, reset.
    pub fn take(&mut self) -> ProbeStats {
        std::mem::take(&mut self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_give_round_trips_and_silence_gives_loss() {
        let t0 = Instant::now();
        let s = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = Prober::new(ProbeConfig::every(Duration::from_secs(1)), t0);
        assert!(!p.due(s(500)));
        assert!(p.due(s(1000)));
        p.sent(7, s(1000));
        assert!(p.replied(7, s(1030)));
        assert!(!p.replied(7, s(1031)), "one answer per request");
        assert!(p.due(s(2000)));
        p.sent(8, s(2000));
        assert!(p.replied(8, s(2010)));
        assert!(p.due(s(3000)));
        p.sent(9, s(3000)); // never answered
        assert!(!p.replied(200, s(3100)), "not a probe's Identifier");
        for ms in [4000, 5000, 6000, 7000] {
            if p.due(s(ms)) {
                p.sent((ms / 1000) as u8 + 6, s(ms));
                assert!(p.replied((ms / 1000) as u8 + 6, s(ms + 20)));
            }
        }
        let _ = p.due(s(8000)); // 9 is 5 s old: lost
        let st = p.take();
        assert_eq!((st.sent, st.answered, st.lost), (7, 6, 1));
        assert_eq!(st.rtt_min, Some(Duration::from_millis(10)));
        assert_eq!(st.rtt_max, Some(Duration::from_millis(30)));
        assert_eq!(st.rtt_avg(), Some(Duration::from_millis(20)));
        assert_eq!(p.take(), ProbeStats::default(), "taken once");
    }

    #[test]
    fn a_stalled_caller_does_not_get_a_burst() {
        let t0 = Instant::now();
        let mut p = Prober::new(ProbeConfig::every(Duration::from_secs(1)), t0);
        assert!(p.due(t0 + Duration::from_secs(60)));
        assert!(!p.due(t0 + Duration::from_millis(60_100)));
        assert!(p.deadline() > t0 + Duration::from_secs(60));
    }

    #[test]
    fn the_in_flight_table_is_bounded() {
        let t0 = Instant::now();
        let cfg = ProbeConfig {
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(60),
        };
        let mut p = Prober::new(cfg, t0);
        for i in 0..100u8 {
            p.sent(i, t0 + Duration::from_millis(u64::from(i) * 10));
        }
        let st = p.take();
        assert_eq!((st.sent, st.lost), (100, 100 - IN_FLIGHT as u32));
    }
}
