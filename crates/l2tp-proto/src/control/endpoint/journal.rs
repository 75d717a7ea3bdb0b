//! One tunnel at a time out of and into an [`Endpoint`], for a daemon's crash journal: which
//! tunnels changed since the journal last looked, a tunnel's state as a record, a record
//! adopted back (with the endpoint's indexes and timer), and the probe that re-synchronises
//! a restored tunnel with its peer.

use std::collections::HashSet;
use std::time::Instant;

use l2tp_wire::{SeqNum, SessionId, TunnelId};

use super::super::session::Session;
use super::super::tunnel::{Tunnel, TunnelState};
use super::Endpoint;

/// A tunnel's state without its calls, borrowed for encoding (serde; decode it as a
/// [`TunnelRecord`]). Each call's control state goes in a record of its own
/// ([`CallRef`]), and calls being set up are not journaled: a tunnel's record costs about
/// the same whatever its number of calls (its retransmission queue aside).
#[derive(serde::Serialize)]
pub struct TunnelRef<'a>(&'a Tunnel);

/// One call's control-channel state (ids, state), borrowed for encoding (decode it as a
/// [`CallRecord`]).
#[derive(serde::Serialize)]
pub struct CallRef<'a>(&'a Session);

/// A call's control-channel state decoded from a journal.
#[derive(Debug, serde::Deserialize)]
pub struct CallRecord(Session);

/// A tunnel's state decoded from a journal (encoded from a [`TunnelRef`]).
#[derive(serde::Deserialize)]
pub struct TunnelRecord(Tunnel);

impl TunnelRecord {
    /// Our tunnel id.
    pub fn id(&self) -> TunnelId {
        self.0.id
    }

    /// The peer's address.
    pub fn peer(&self) -> std::net::SocketAddr {
        self.0.peer
    }

    /// (next Ns we send, next Ns expected from the peer).
    pub fn sequence(&self) -> (SeqNum, SeqNum) {
        (self.0.channel.next_ns(), self.0.channel.expected_ns())
    }
}

impl std::fmt::Debug for TunnelRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelRecord")
            .field("id", &self.0.id)
            .field("peer", &self.0.peer)
            .finish()
    }
}

impl Endpoint {
    /// Starts (or stops) noting which tunnels change: every tunnel whose state, timers or
    /// output moved, and every tunnel removed, until [`Endpoint::take_touched`].
    pub fn track_changes(&mut self, on: bool) {
        self.touched = on.then(HashSet::new);
    }

    /// The tunnels changed since the last call (present: changed; absent: removed).
    pub fn take_touched(&mut self) -> Vec<TunnelId> {
        match self.touched.as_mut() {
            Some(t) if !t.is_empty() => t.drain().collect(),
            _ => Vec::new(),
        }
    }

    /// Whether tunnel `tid` is one a journal keeps: established (a tunnel still being set
    /// up is not worth resuming: its peer retries from scratch).
    pub fn is_journaled(&self, tid: TunnelId) -> bool {
        self.tunnels
            .get(&tid)
            .is_some_and(|t| matches!(t.state, TunnelState::Established))
    }

    /// Encodes tunnel `tid`'s state without its calls with `encode`, if it is journaled.
    pub fn with_tunnel_ref<R>(
        &mut self,
        tid: TunnelId,
        encode: impl FnOnce(TunnelRef<'_>) -> R,
    ) -> Option<R> {
        if !self.is_journaled(tid) {
            return None;
        }
        let t = self.tunnels.get_mut(&tid)?;
        // Out of the record: the calls (each goes with its session's record) and the
        // bookkeeping of calls being set up (not journaled: their peer retries), which
        // would make a busy tunnel's record grow with its calls.
        let calls = std::mem::take(&mut t.sessions);
        let deadlines = std::mem::take(&mut t.call_deadlines);
        let ups = std::mem::take(&mut t.deferred_ups);
        let waits = std::mem::take(&mut t.connect_waits);
        let r = encode(TunnelRef(t));
        t.sessions = calls;
        t.call_deadlines = deadlines;
        t.deferred_ups = ups;
        t.connect_waits = waits;
        Some(r)
    }

    /// Call `session` of tunnel `tid`'s control state for a journal.
    pub fn call_ref(&self, tid: TunnelId, session: SessionId) -> Option<CallRef<'_>> {
        self.tunnels.get(&tid)?.sessions.get(&session).map(CallRef)
    }

    /// Puts a journaled call back into its tunnel (which must be there).
    pub fn adopt_call(&mut self, tid: TunnelId, session: SessionId, rec: CallRecord) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.sessions.insert(session, rec.0);
        }
    }

    /// Drops call `session` of tunnel `tid` without a word (a journal replay: it was gone).
    pub fn forget_call(&mut self, tid: TunnelId, session: SessionId) {
        if let Some(t) = self.tunnels.get_mut(&tid) {
            t.sessions.remove(&session);
        }
    }

    /// Puts a journaled tunnel back (replacing one with its id, whose calls it keeps),
    /// indexed and scheduled.
    pub fn adopt_tunnel(&mut self, rec: TunnelRecord) {
        let mut t = rec.0;
        let tid = t.id;
        if let Some(old) = self.tunnels.get_mut(&tid) {
            t.sessions = std::mem::take(&mut old.sessions);
        }
        self.remove_tunnel(tid);
        t.scheduled = None;
        t.counted_half_open = false;
        let peer_id = t.peer_id();
        if !peer_id.is_zero() {
            self.by_peer.insert((t.peer, peer_id), tid);
        }
        if let Some(to) = t.opened_to {
            self.originated.entry(to).or_default().push(tid);
        }
        self.tunnels.insert(tid, t);
        self.reschedule(tid);
    }

    /// Resumes tunnels restored from a journal: each established one of `tunnels` sends its
    /// peer a HELLO now (RFC 2661 §6.5), and the peer's first answer re-synchronises its Ns
    /// and Nr (see [`super::super::reliable::Channel::resync`]). A peer that no longer
    /// answers lets the HELLO's retransmissions run out and the tunnel goes down as any
    /// tunnel with a dead peer. Returns the tunnels probed.
    pub fn probe_restored(&mut self, now: Instant, tunnels: &[TunnelId]) -> Vec<TunnelId> {
        let mut probed = Vec::new();
        for &tid in tunnels {
            let Some(t) = self.tunnels.get_mut(&tid) else {
                continue;
            };
            if !matches!(t.state, TunnelState::Established) {
                continue;
            }
            t.send_hello(&mut self.ctx, now);
            self.resync.insert(tid);
            self.reschedule(tid);
            probed.push(tid);
        }
        probed
    }
}
