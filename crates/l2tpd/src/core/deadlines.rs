//! Session deadlines: Session-Timeout, Idle-Timeout and Interim-Updates (from `[lns]` or a
//! RADIUS server) kept in one heap, so housekeeping looks only at the sessions whose
//! deadline is due — never at every session. An entry is checked against the session's
//! state when it comes due and skipped if that state moved on (a CoA changed the timeout,
//! an interim was re-armed, the session is gone); a change pushes a new entry.
//!
//! Idle time is measured from the last IP packet the user sent: the userspace datapath
//! stamps it as the packet passes; with a kernel datapath (packets never reach the core)
//! the receive counter is compared when the idle deadline comes, and a session that moved
//! is looked at again an eighth of its Idle-Timeout later.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use l2tp_proto::data::SessionKey;

use super::{Core, RoleSettings};

/// What a deadline is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(super) enum Kind {
    /// Session-Timeout: the session has lived long enough.
    Session,
    /// Idle-Timeout: check for traffic.
    Idle,
    /// Acct-Interim-Interval: an Interim-Update is due.
    Interim,
}

/// The heap of session deadlines.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Deadlines {
    #[serde(with = "l2tp_snap::heap3")]
    heap: BinaryHeap<Reverse<(Instant, SessionKey, Kind)>>,
    /// The idle check each session is waiting for (other entries are stale).
    #[serde(with = "l2tp_snap::map_values")]
    idle_due: HashMap<SessionKey, Instant>,
    /// Sessions looked at when a deadline came due (stale entries included).
    pub visits: u64,
}

impl Deadlines {
    fn push(&mut self, t: Instant, key: SessionKey, kind: Kind) {
        self.heap.push(Reverse((t, key, kind)));
    }

    fn pop_due(&mut self, now: Instant) -> Option<(Instant, SessionKey, Kind)> {
        match self.heap.peek() {
            Some(Reverse((t, _, _))) if *t <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Forgets a session that ended (its heap entries are skipped when they come due).
    pub fn forget(&mut self, key: SessionKey) {
        self.idle_due.remove(&key);
    }
}

/// The shortest wait between two idle checks of a session that moved (kernel datapath).
const MIN_IDLE_RECHECK: Duration = Duration::from_secs(1);

impl Core {
    /// The Session-Timeout and Idle-Timeout that hold for `key` (a RADIUS server's win over
    /// `[lns]`'s).
    fn timeouts(&self, key: SessionKey) -> (Option<Duration>, Option<Duration>) {
        let RoleSettings::Lns(lns) = &self.role else {
            return (None, None);
        };
        let r = self.sessions.get(&key).and_then(|s| s.radius.as_deref());
        (
            r.and_then(|r| r.session_timeout).or(lns.session_timeout),
            r.and_then(|r| r.idle_timeout).or(lns.idle_timeout),
        )
    }

    /// (Re)arms a session's Session-Timeout and Idle-Timeout deadlines from its current
    /// settings: at set-up, when an Access-Accept or CoA changed them, after a reload.
    pub(super) fn arm_timeouts(&mut self, key: SessionKey) {
        let (session, idle) = self.timeouts(key);
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let (since, last) = (s.since, s.last_activity);
        if let Some(t) = session {
            self.deadlines.push(since + t, key, Kind::Session);
        }
        match idle {
            Some(t) => {
                let due = last + t;
                if self.deadlines.idle_due.insert(key, due) != Some(due) {
                    self.deadlines.push(due, key, Kind::Idle);
                }
            }
            None => {
                self.deadlines.idle_due.remove(&key);
            }
        }
    }

    /// Re-arms every session's timeouts (a reload changed `[lns]`'s).
    pub(super) fn rearm_all_timeouts(&mut self) {
        let keys: Vec<SessionKey> = self.sessions.iter().map(|(k, _)| *k).collect();
        for k in keys {
            self.arm_timeouts(k);
        }
    }

    /// An Interim-Update is due for `key` at `t` (its RADIUS state says when).
    pub(super) fn arm_interim(&mut self, key: SessionKey, t: Instant) {
        // An Interim-Update went out (or the first is scheduled): the counters reported.
        self.journal_mark(key);
        self.deadlines.push(t, key, Kind::Interim);
    }

    /// Deadlines that came due: sessions closed for their timeouts, Interim-Updates sent.
    /// Costs the number of due entries, not the number of sessions.
    pub(super) fn fire_deadlines(&mut self, now: Instant) {
        let mut expired = Vec::new();
        while let Some((t, key, kind)) = self.deadlines.pop_due(now) {
            self.deadlines.visits += 1;
            if self.sessions.get(&key).is_none() {
                continue;
            }
            match kind {
                Kind::Session => {
                    let (session, _) = self.timeouts(key);
                    let since = self.sessions.get(&key).map(|s| s.since);
                    // Stale when the timeout changed since (a new entry holds the new one).
                    let listed = expired.iter().any(|(k, _)| *k == key);
                    if !listed && session.zip(since).is_some_and(|(d, s)| s + d == t) {
                        expired.push((key, "session timeout"));
                    }
                }
                Kind::Idle => {
                    if self.deadlines.idle_due.get(&key) != Some(&t) {
                        continue;
                    }
                    self.deadlines.idle_due.remove(&key);
                    let (_, Some(idle)) = self.timeouts(key) else {
                        continue;
                    };
                    if self.frames_via_backend {
                        // Kernel datapath: the counter says whether the user sent anything.
                        let rx = self
                            .datapath
                            .stats(key.tunnel, key.session)
                            .map(|st| st.rx_packets)
                            .unwrap_or(0);
                        if let Some(s) = self.sessions.get_mut(&key) {
                            if rx != s.last_rx_packets {
                                s.last_rx_packets = rx;
                                s.last_activity = now;
                                let next = now + (idle / 8).max(MIN_IDLE_RECHECK);
                                self.deadlines.idle_due.insert(key, next);
                                self.deadlines.push(next, key, Kind::Idle);
                                continue;
                            }
                        }
                    }
                    let last = self.sessions.get(&key).map_or(now, |s| s.last_activity);
                    if now.saturating_duration_since(last) >= idle {
                        expired.push((key, "idle timeout"));
                    } else {
                        let next = last + idle;
                        self.deadlines.idle_due.insert(key, next);
                        self.deadlines.push(next, key, Kind::Idle);
                    }
                }
                Kind::Interim => {
                    if let Some(next) = self.radius_interim(now, key, t) {
                        self.arm_interim(key, next);
                    }
                }
            }
        }
        for (key, why) in expired {
            tracing::info!(node = %self.name, session = %key, "closing: {why}");
            let cause = if why == "session timeout" {
                l2tp_radius::acct::TerminateCause::SessionTimeout
            } else {
                l2tp_radius::acct::TerminateCause::IdleTimeout
            };
            self.radius_cause(key, cause);
            if let Some(s) = self.sessions.get_mut(&key) {
                s.link.close(now, why);
            }
            self.dirty.push(key);
        }
    }

    /// Drops stale entries once they outnumber the sessions (many sessions ended).
    pub(super) fn compact_deadlines(&mut self) {
        let live = self.sessions.len();
        if self.deadlines.heap.len() <= 4 * live + 1024 {
            return;
        }
        let sessions = &self.sessions;
        let kept: Vec<_> = self
            .deadlines
            .heap
            .drain()
            .filter(|Reverse((_, k, _))| sessions.get(k).is_some())
            .collect();
        self.deadlines.heap = kept.into_iter().collect();
        self.deadlines.heap.shrink_to_fit();
        self.deadlines.idle_due.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_due_in_time_order() {
        let t0 = Instant::now();
        let k = |n| SessionKey::new(l2tp_wire::TunnelId(1), l2tp_wire::SessionId(n));
        let mut d = Deadlines::default();
        d.push(t0 + Duration::from_secs(5), k(1), Kind::Session);
        d.push(t0 + Duration::from_secs(1), k(2), Kind::Idle);
        d.push(t0 + Duration::from_secs(3), k(3), Kind::Interim);
        assert_eq!(d.pop_due(t0), None);
        let due: Vec<_> = std::iter::from_fn(|| d.pop_due(t0 + Duration::from_secs(3)))
            .map(|(_, k, kind)| (k, kind))
            .collect();
        assert_eq!(due, vec![(k(2), Kind::Idle), (k(3), Kind::Interim)]);
        assert_eq!(d.heap.len(), 1);
    }
}
