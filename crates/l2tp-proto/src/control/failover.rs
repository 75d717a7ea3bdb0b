//! RFC 4951 failover, as the peer of a failing endpoint: offering the Failover Capability,
//! recording the peer's, checking a recovery SCCRQ against the old tunnel it names (§5) and
//! answering Failover Session Queries (§6). The failing endpoint's side (starting the
//! recovery) is in [`super::recover`].
//!
//! Behaviour on the peer side, in this implementation:
//!
//! * A recovery SCCRQ (one carrying a Tunnel Recovery AVP) is accepted only when failover is
//!   configured here, the old tunnel exists, is established, belongs to the same peer address
//!   and peer tunnel id, and both sides offered control channel failover (C bit) on it.
//!   Otherwise it is refused with a StopCCN (General error), without creating any state.
//! * The SCCRP that accepts it carries our Failover Capability and a Suggested Control
//!   Sequence: Ns = the Ns we next expect from the failing endpoint on the old tunnel, Nr =
//!   the Ns of our oldest message on the old tunnel it has not acknowledged (so nothing we
//!   sent and it may have lost is skipped: the retransmissions are accepted).
//! * When the recovery tunnel is up (SCCCN), the old tunnel counts a recovery and is probed
//!   with a HELLO when nothing of ours is outstanding; the recovery tunnel itself is an
//!   ordinary tunnel without sessions, for the failing endpoint to close.
//! * When a recoverable tunnel's retry budget runs out, it is kept (not cleared, no events)
//!   for the Recovery Time the peer advertised; a recovery in that time takes its control
//!   channel back into service (retry budget reset, unacknowledged messages sent again at
//!   once). Without a recovery it is cleared as before when the time is up.
//! * An FSQ on a tunnel where both sides offered failover is answered with an FSR holding,
//!   for each session queried, our Session ID when we have that session with that peer
//!   session id, or 0 when we do not (§6). Our sessions are not changed by the query.

use std::time::Instant;

use l2tp_wire::{
    ControlMessage, FailoverAvp, FailoverCapability, FailoverSessionState, Fsq, Fsr, SessionId,
    SuggestedControlSequence, TunnelId, TunnelRecovery, UnknownAvp,
};

use super::config::EndpointConfig;
use super::endpoint::Ctx;
use super::error::ProtocolError;
use super::tunnel::{Tunnel, TunnelState};

/// The AVPs offering failover in our SCCRQ/SCCRP (none when it is not configured).
pub(crate) fn offer(cfg: &EndpointConfig) -> Vec<UnknownAvp> {
    cfg.failover.iter().map(FailoverAvp::to_avp).collect()
}

impl Tunnel {
    /// Records the Failover Capability the peer sent in its SCCRQ or SCCRP. A malformed one
    /// (the AVP is not mandatory) counts as no offer.
    pub(crate) fn note_peer_offer(&mut self, cfg: &EndpointConfig, unknown: &[UnknownAvp]) {
        self.failover.peer = match FailoverCapability::find(unknown) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                tracing::debug!(tunnel = %self.id, "ignoring the peer's Failover Capability: {e}");
                None
            }
            None => None,
        };
        self.failover.recoverable = cfg.failover.is_some_and(|c| c.control)
            && self.failover.peer.is_some_and(|c| c.control);
    }

    /// Both sides offered failover (either bit): FSQ is understood on this tunnel.
    pub(crate) fn answers_fsq(&self, cfg: &EndpointConfig) -> bool {
        cfg.failover.is_some() && self.failover.peer.is_some()
    }

    /// RFC 4951 §6: answers a Failover Session Query with a Failover Session Response.
    pub(crate) fn on_fsq(&mut self, ctx: &mut Ctx, now: Instant, msg: &ControlMessage) {
        let query = match Fsq::from_message(msg) {
            Ok(q) => q,
            Err(e) => return self.fail(ctx, now, ProtocolError::Failover(e)),
        };
        let sessions = query
            .sessions
            .iter()
            .map(|q| {
                // The query names the session by the sender's id and ours as it knows it.
                let ours = self
                    .sessions
                    .get(&q.remote_session_id)
                    .filter(|s| s.peer_id == q.session_id)
                    .map_or(SessionId(0), |_| q.remote_session_id);
                FailoverSessionState {
                    session_id: ours,
                    remote_session_id: q.session_id,
                }
            })
            .collect();
        self.failover.session_queries += 1;
        self.send(ctx, now, SessionId::NONE, Fsr { sessions }.to_message());
    }
}

impl Tunnel {
    /// The retry budget ran out. On a tunnel the peer may recover, with a Recovery Time in
    /// its Failover Capability, the tunnel is kept that long for the recovery tunnel instead
    /// of being cleared. Returns true while it is kept.
    pub(crate) fn hold_for_recovery(&mut self, now: Instant) -> bool {
        let wait = match self.failover.peer {
            Some(c) if self.failover.recoverable && c.recovery_time_ms > 0 => {
                std::time::Duration::from_millis(u64::from(c.recovery_time_ms))
            }
            _ => return false,
        };
        match self.awaiting_recovery {
            None => {
                tracing::info!(tunnel = %self.id, peer = %self.peer, "peer stopped acknowledging: keeping the tunnel {wait:?} for its recovery (RFC 4951)");
                self.awaiting_recovery = Some(now + wait);
                true
            }
            Some(until) => now < until,
        }
    }

    /// The peer recovered this tunnel: a channel that had given up is taken back.
    pub(crate) fn recovered(&mut self, now: Instant) {
        self.failover.recoveries += 1;
        if self.awaiting_recovery.take().is_some() {
            self.channel.revive(now);
        }
    }
}

/// RFC 4951 §5: the old tunnel a recovery SCCRQ from `from` names, and the control sequence
/// to suggest for it; or why it cannot be recovered.
pub(crate) fn recovery_target<'a>(
    mut tunnels: impl FnMut(TunnelId) -> Option<&'a Tunnel>,
    from: std::net::SocketAddr,
    tr: TunnelRecovery,
) -> Result<(TunnelId, SuggestedControlSequence), ProtocolError> {
    let old = tr.recover_remote_tunnel_id;
    let t = tunnels(old).ok_or(ProtocolError::RecoveryRefused("no such tunnel"))?;
    if t.peer.ip() != from.ip() || t.peer_id() != tr.recover_tunnel_id {
        return Err(ProtocolError::RecoveryRefused(
            "tunnel belongs to another peer",
        ));
    }
    if !matches!(t.state, TunnelState::Established) {
        return Err(ProtocolError::RecoveryRefused("tunnel not established"));
    }
    if !t.failover.recoverable {
        return Err(ProtocolError::RecoveryRefused(
            "failover not negotiated on that tunnel",
        ));
    }
    Ok((
        old,
        SuggestedControlSequence {
            ns: t.channel.expected_ns(),
            nr: t.channel.oldest_unacked(),
        },
    ))
}
