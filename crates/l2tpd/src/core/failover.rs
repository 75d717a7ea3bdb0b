//! RFC 4951 failover in the daemon, both as the peer of a failing endpoint and as the failing
//! endpoint. The protocol is the control plane's (`l2tp_proto::control`); this room keeps
//! the daemon's side of it:
//!
//! * As the peer: a recovery tunnel set up by a peer that failed carries no session and is
//!   not one of ours to admit, dial or give a datapath; its coming up is counted (the old
//!   tunnel, its sessions and their data stay as they are) and its going down is quiet.
//! * As the failing endpoint: [`Core::recover_restored_tunnels`] takes every established
//!   tunnel of a restored (stale) state whose peer offered control channel failover, and
//!   recovers it from the peer: the stale control channel is forgotten, a recovery tunnel
//!   names the old one, the old tunnel resumes at the peer's Suggested Control Sequence
//!   with the sessions we had, and one Failover Session Query asks which the peer still
//!   has. The core's sessions (PPP links, leases, datapath) are kept throughout.
//!
//! RFC 4951 §6 on sessions in doubt is read as follows here: every session of a recovered
//! tunnel whose peer session id we knew is queried; one the peer answers with Session ID 0
//! is cleared here without a CDN. A session whose set-up was still in flight in the
//! restored state has no PPP link to resume: it is cleared with a CDN (or, when we never
//! learnt the peer's id for it, forgotten; the peer's own call timers clear its side).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use l2tp_proto::control::{
    Event as CtlEvent, FailoverInfo, SessionDownReason, SessionToRecover, TunnelDownReason,
    TunnelStateKind, TunnelToRecover,
};
use l2tp_proto::data::SessionKey;
use l2tp_wire::result::ResultCode;
use l2tp_wire::TunnelId;

use super::Core;

/// What became of one tunnel we set out to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its recovery tunnel is being set up.
    Recovering,
    /// It resumed at the peer's Suggested Control Sequence.
    Recovered,
    /// The peer refused the recovery or never answered: its sessions are gone.
    Lost,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Recovering => "recovering",
            Outcome::Recovered => "recovered",
            Outcome::Lost => "lost",
        }
    }
}

/// One tunnel we set out to recover.
#[derive(Debug, Clone)]
struct Attempt {
    tunnel: TunnelId,
    peer: SocketAddr,
    sessions: u32,
    outcome: Outcome,
}

/// The daemon's failover state (not carried in snapshots: counters start at zero).
#[derive(Debug, Default)]
pub(super) struct FailoverState {
    /// Failing endpoint: our recovery tunnels → index in `attempts`.
    via: HashMap<TunnelId, usize>,
    /// Failing endpoint: every tunnel we set out to recover, in order.
    attempts: Vec<Attempt>,
    /// Peer side: recovery tunnels our peers set up, up now.
    answering: HashMap<TunnelId, TunnelId>,
    recoveries_answered: u64,
    sessions_cleared: u64,
    sessions_dropped: u64,
}

/// The result text the control plane gives a session a Failover Session Response cleared.
const FSR_CLEARED: &str = "Failover Session Response";

/// A tunnel's failover state as the management API shows it.
pub(super) fn tunnel_failover(f: &FailoverInfo) -> l2tp_mgmt::TunnelFailover {
    l2tp_mgmt::TunnelFailover {
        peer_offered: f.peer.is_some(),
        peer_control: f.peer.is_some_and(|c| c.control),
        peer_data: f.peer.is_some_and(|c| c.data),
        peer_recovery_time_ms: f.peer.map_or(0, |c| c.recovery_time_ms),
        recoverable: f.recoverable,
        recoveries: f.recoveries,
        session_queries: f.session_queries,
    }
}

impl Core {
    /// RFC 4951 as the failing endpoint, for a core whose state was restored stale (from a
    /// snapshot or journal older than what the peers saw): every established tunnel on
    /// which both sides offered control channel failover is recovered from its peer (see
    /// the module's documentation); the sessions and data of each carry on. Returns the
    /// tunnels NOT taken — the peer did not offer failover, we do not offer it now, or the
    /// tunnel was not established — for the caller to probe some other way (a HELLO).
    /// Call once, right after the restore, before other inputs.
    pub fn recover_restored_tunnels(&mut self, now: Instant) -> Vec<TunnelId> {
        self.clock = now;
        let ours = self.endpoint.config().failover.is_some_and(|c| c.control);
        // Our own recovery tunnels (a second call) and the peers' are not restored tunnels.
        let tunnels: Vec<_> = self
            .endpoint
            .tunnels()
            .filter(|t| {
                t.failover.recovery_of.is_none() && !self.failover.via.contains_key(&t.tunnel)
            })
            .filter(|t| {
                !self
                    .failover
                    .attempts
                    .iter()
                    .any(|a| a.tunnel == t.tunnel && a.outcome != Outcome::Lost)
            })
            .collect();
        let mut not_taken = Vec::new();
        for t in tunnels {
            if !ours || t.state != TunnelStateKind::Established || !t.failover.recoverable {
                not_taken.push(t.tunnel);
                continue;
            }
            let (known, unknown): (Vec<_>, Vec<_>) = self
                .endpoint
                .sessions(t.tunnel)
                .partition(|s| !s.peer_session.is_zero());
            let plan = TunnelToRecover {
                local: t.local,
                peer: t.peer,
                tunnel: t.tunnel,
                peer_tunnel: t.peer_tunnel,
                peer_failover: t.failover.peer,
                sessions: known
                    .iter()
                    .map(|s| SessionToRecover {
                        session: s.session,
                        peer_session: s.peer_session,
                        kind: s.kind,
                    })
                    .collect(),
            };
            // Calls whose peer id we never learnt cannot be named to the peer: forgotten.
            for s in &unknown {
                let key = SessionKey::new(t.tunnel, s.session);
                self.admission.call_settled(key);
                self.sessions_dropped_here(now, key);
            }
            let index = self.failover.attempts.len();
            self.failover.attempts.push(Attempt {
                tunnel: t.tunnel,
                peer: t.peer,
                sessions: known.len() as u32,
                outcome: Outcome::Recovering,
            });
            let _ = self.endpoint.forget_tunnel(t.tunnel);
            match self.endpoint.recover_tunnel(now, plan) {
                Ok(via) => {
                    tracing::info!(node = %self.name, tunnel = %t.tunnel, recovery = %via, peer = %t.peer, sessions = known.len(), "recovering the tunnel from its peer (RFC 4951)");
                    self.failover.via.insert(via, index);
                }
                Err(e) => {
                    tracing::warn!(node = %self.name, tunnel = %t.tunnel, peer = %t.peer, "cannot recover the tunnel: {e}");
                    self.recovery_lost(now, index, TunnelDownReason::SetupTimeout);
                }
            }
        }
        self.pump(now);
        not_taken
    }

    /// A session whose set-up was in flight in the restored state: its local state goes.
    fn sessions_dropped_here(&mut self, now: Instant, key: SessionKey) {
        self.failover.sessions_dropped += 1;
        if self.sessions.get(&key).is_some() {
            self.remove_interfaces(&[key]);
            self.remove_session(now, key);
        }
    }

    /// Control events of recovery tunnels (either side) are taken here; the others are
    /// handed back.
    pub(super) fn failover_event(&mut self, now: Instant, ev: CtlEvent) -> Option<CtlEvent> {
        match ev {
            CtlEvent::TunnelUp { tunnel, .. } if self.failover.via.contains_key(&tunnel) => {
                self.recovery_tunnel_up(now, tunnel);
                None
            }
            CtlEvent::TunnelDown { tunnel, reason } if self.failover.via.contains_key(&tunnel) => {
                let index = self.failover.via.remove(&tunnel).expect("checked");
                if self.failover.attempts[index].outcome == Outcome::Recovering {
                    tracing::warn!(node = %self.name, tunnel = %self.failover.attempts[index].tunnel, recovery = %tunnel, "recovery failed: {reason}");
                    self.recovery_lost(now, index, reason);
                }
                None
            }
            CtlEvent::TunnelUp { tunnel, peer, .. } => {
                let old = self
                    .endpoint
                    .tunnel_info(tunnel)
                    .and_then(|t| t.failover.recovery_of);
                let Some(old) = old else {
                    return Some(ev);
                };
                self.failover.recoveries_answered += 1;
                self.failover.answering.insert(tunnel, old);
                tracing::info!(node = %self.name, %tunnel, %old, %peer, "peer recovered its tunnel (RFC 4951): its sessions carry on");
                None
            }
            CtlEvent::TunnelDown { tunnel, .. }
                if self.failover.answering.contains_key(&tunnel) =>
            {
                self.failover.answering.remove(&tunnel);
                None
            }
            CtlEvent::SessionDown {
                reason: SessionDownReason::Peer { ref result, .. },
                ..
            } if result
                .message
                .as_deref()
                .is_some_and(|m| m.contains(FSR_CLEARED)) =>
            {
                self.failover.sessions_cleared += 1;
                Some(ev)
            }
            other => Some(other),
        }
    }

    /// Our recovery tunnel is up: the old tunnel resumed (or its id was taken meanwhile).
    fn recovery_tunnel_up(&mut self, now: Instant, via: TunnelId) {
        let index = self.failover.via[&via];
        let old = self.failover.attempts[index].tunnel;
        let resumed = self
            .endpoint
            .tunnel_info(old)
            .is_some_and(|t| t.failover.recoveries > 0 && t.state == TunnelStateKind::Established);
        if !resumed {
            self.failover.via.remove(&via);
            self.recovery_lost(now, index, TunnelDownReason::SetupTimeout);
            return;
        }
        self.failover.attempts[index].outcome = Outcome::Recovered;
        tracing::info!(node = %self.name, tunnel = %old, recovery = %via, "tunnel recovered (RFC 4951)");
        // Calls the peer knows but whose set-up we lost: no datapath session (made when a
        // call is established, for our PPP link or a LAC's relay) to resume.
        let stale: Vec<_> = self
            .endpoint
            .sessions(old)
            .map(|s| s.session)
            .filter(|s| {
                self.sessions.get(&SessionKey::new(old, *s)).is_none()
                    && self.datapath.stats(old, *s).is_err()
            })
            .collect();
        for s in stale {
            self.failover.sessions_dropped += 1;
            self.admission.call_settled(SessionKey::new(old, s));
            let _ = self.endpoint.close_session(
                now,
                old,
                s,
                ResultCode::with_error(
                    ResultCode::CDN_GENERAL_ERROR,
                    ResultCode::ERROR_NONE,
                    Some("call set-up lost in a failover"),
                ),
            );
        }
    }

    /// The recovery of `attempts[index]` failed: the old tunnel's sessions are cleared
    /// as if it had gone down.
    fn recovery_lost(&mut self, now: Instant, index: usize, reason: TunnelDownReason) {
        let a = &mut self.failover.attempts[index];
        a.outcome = Outcome::Lost;
        let tunnel = a.tunnel;
        self.on_control_event(now, CtlEvent::TunnelDown { tunnel, reason });
    }

    /// `l2tpctl stats`: failover counters (None: failover not offered, nothing happened).
    pub(super) fn failover_stats(&self) -> Option<l2tp_mgmt::FailoverStats> {
        let f = &self.failover;
        if self.endpoint.config().failover.is_none() && f.attempts.is_empty() {
            return None;
        }
        let count = |o: Outcome| f.attempts.iter().filter(|a| a.outcome == o).count() as u64;
        Some(l2tp_mgmt::FailoverStats {
            recoveries_answered: f.recoveries_answered,
            session_queries_answered: self
                .endpoint
                .tunnels()
                .map(|t| u64::from(t.failover.session_queries))
                .sum(),
            tunnels_recovered: count(Outcome::Recovered),
            tunnels_lost: count(Outcome::Lost),
            tunnels_recovering: count(Outcome::Recovering),
            sessions_cleared: f.sessions_cleared,
            sessions_dropped: f.sessions_dropped,
            tunnels: f
                .attempts
                .iter()
                .map(|a| l2tp_mgmt::CarriedTunnel {
                    local_id: a.tunnel.0,
                    peer_addr: a.peer.to_string(),
                    sessions: a.sessions,
                    outcome: a.outcome.name().into(),
                })
                .collect(),
        })
    }
}
