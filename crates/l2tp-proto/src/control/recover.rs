//! RFC 4951 failover as the failing endpoint: a restarted endpoint that lost its control
//! channel state, but knows an old tunnel's ids and peer, opens a recovery tunnel naming it,
//! resumes the old tunnel with the Suggested Control Sequence of the peer's SCCRP, closes the
//! recovery tunnel and asks the peer which of the old sessions it still has (FSQ/FSR).
//!
//! Behaviour, in this implementation (our reading of RFC 4951 §5 and §6):
//!
//! * Nothing is attempted unless failover is configured here with the C bit and the peer
//!   advertised control channel failover (C bit) on the old tunnel.
//! * The recovery SCCRQ carries our Failover Capability and a Tunnel Recovery AVP (our old
//!   tunnel id, the peer's old tunnel id). An SCCRP without a valid Suggested Control
//!   Sequence clears the recovery tunnel with a protocol error; a refusal (StopCCN) is an
//!   ordinary `TunnelDown` of the recovery tunnel. Either way the old tunnel is not created.
//! * Once the recovery tunnel is up (SCCCN sent), the old tunnel is created established,
//!   sending Ns = Suggested Ns and expecting Nr = Suggested Nr, with the sessions the caller
//!   named; the recovery tunnel is closed with a StopCCN (General request to clear).
//! * The sessions named are queried with one FSQ on the old tunnel. Each Failover Session
//!   State in the FSR that carries Session ID 0 (the peer does not have it) clears our session
//!   locally, without a CDN, with a `SessionDown` whose reason is a `Peer` result.

use std::net::SocketAddr;
use std::time::Instant;

use l2tp_wire::{
    ControlMessage, FailoverAvp, FailoverCapability, FailoverSessionState, Fsq, Fsr, ResultCode,
    SessionId, SuggestedControlSequence, TunnelId, TunnelRecovery, UnknownAvp,
};

use super::endpoint::Ctx;
use super::error::ProtocolError;
use super::event::{CallKind, Event, SessionDownReason};
use super::tunnel::Tunnel;

/// An old tunnel to recover, as the caller kept it across the restart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelToRecover {
    /// Our address on the old tunnel.
    pub local: SocketAddr,
    /// The peer's address on the old tunnel.
    pub peer: SocketAddr,
    /// Our old tunnel id.
    pub tunnel: TunnelId,
    /// The peer's old tunnel id.
    pub peer_tunnel: TunnelId,
    /// The Failover Capability the peer sent on the old tunnel (`None`: it sent none).
    pub peer_failover: Option<FailoverCapability>,
    /// Sessions of the old tunnel in doubt, to ask the peer about with an FSQ.
    pub sessions: Vec<SessionToRecover>,
}

/// A session of an old tunnel, as the caller kept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionToRecover {
    /// Our session id.
    pub session: SessionId,
    /// The peer's session id.
    pub peer_session: SessionId,
    /// The call's direction.
    pub kind: CallKind,
}

/// The failing endpoint's side of a recovery, kept on the recovery tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Recovering {
    /// On a recovery tunnel we opened: the old tunnel it recovers.
    pub plan: Option<Box<TunnelToRecover>>,
    /// On a recovered tunnel: an FSQ was sent and its FSR is awaited.
    pub awaiting_fsr: bool,
}

/// Why no recovery is attempted (`None`: it may be).
pub(crate) fn refusal(
    ours: Option<FailoverCapability>,
    r: &TunnelToRecover,
) -> Option<&'static str> {
    if !ours.is_some_and(|c| c.control) {
        return Some("control channel failover is not configured here");
    }
    if !r.peer_failover.is_some_and(|c| c.control) {
        return Some("the peer did not offer control channel failover");
    }
    if r.tunnel.is_zero() || r.peer_tunnel.is_zero() {
        return Some("tunnel id 0");
    }
    None
}

impl Tunnel {
    /// The Tunnel Recovery AVP of our recovery SCCRQ, if this is one.
    pub(crate) fn recovery_avp(&self) -> Option<UnknownAvp> {
        self.recovering.plan.as_ref().map(|p| {
            TunnelRecovery {
                recover_tunnel_id: p.tunnel,
                recover_remote_tunnel_id: p.peer_tunnel,
            }
            .to_avp()
        })
    }

    /// The peer's SCCRP to our recovery SCCRQ: keeps its Suggested Control Sequence, or
    /// returns why the recovery cannot go on.
    /// The AVP is taken out of `unknown` (it is understood).
    pub(crate) fn note_suggestion(
        &mut self,
        unknown: &mut Vec<UnknownAvp>,
    ) -> Result<(), ProtocolError> {
        if self.recovering.plan.is_none() {
            return Ok(());
        }
        match SuggestedControlSequence::find(unknown) {
            Some(Ok(s)) => {
                self.suggest = Some(s);
                unknown.retain(|a| !SuggestedControlSequence::matches(a));
                Ok(())
            }
            Some(Err(e)) => Err(ProtocolError::Failover(e)),
            None => Err(ProtocolError::RecoveryRefused(
                "SCCRP without a Suggested Control Sequence",
            )),
        }
    }

    /// The old tunnel, resumed established with the suggested sequence and its sessions.
    pub(crate) fn resumed(
        plan: &TunnelToRecover,
        via: &Tunnel,
        suggest: SuggestedControlSequence,
        cfg: &super::config::EndpointConfig,
        now: Instant,
    ) -> Tunnel {
        let mut t = Tunnel::new(
            plan.tunnel,
            plan.local,
            plan.peer,
            via.auth.clone(),
            cfg,
            super::tunnel::TunnelState::Established,
            now,
        );
        t.peer_host_name = via.peer_host_name.clone();
        t.our_host_name = via.our_host_name.clone();
        t.channel.peer_tunnel = plan.peer_tunnel;
        t.channel.set_peer_window(via.channel.peer_window());
        t.channel.resume_at(suggest.ns, suggest.nr);
        t.failover.peer = plan.peer_failover;
        t.failover.recoverable = true;
        t.failover.recoveries = 1;
        for s in &plan.sessions {
            t.sessions.insert(
                s.session,
                super::session::Session::restored(s.kind, s.peer_session),
            );
        }
        t
    }

    /// Asks the peer which of our sessions it still has (RFC 4951 §6).
    pub(crate) fn query_sessions(&mut self, ctx: &mut Ctx, now: Instant) {
        let sessions: Vec<_> = self
            .sessions
            .iter()
            .map(|(sid, s)| FailoverSessionState {
                session_id: *sid,
                remote_session_id: s.peer_id,
            })
            .collect();
        if sessions.is_empty() {
            return;
        }
        self.recovering.awaiting_fsr = true;
        self.send(ctx, now, SessionId::NONE, Fsq { sessions }.to_message());
    }

    /// The peer's FSR: clears the sessions it says it does not have. Returns false when no
    /// FSR was awaited.
    pub(crate) fn on_fsr(&mut self, ctx: &mut Ctx, now: Instant, msg: &ControlMessage) -> bool {
        if !std::mem::take(&mut self.recovering.awaiting_fsr) {
            return false;
        }
        let answer = match Fsr::from_message(msg) {
            Ok(a) => a,
            Err(e) => {
                self.fail(ctx, now, ProtocolError::Failover(e));
                return true;
            }
        };
        for st in answer.sessions {
            // The answer names our session as the peer knows it, and the peer's (0: none).
            let ours = st.remote_session_id;
            if !st.session_id.is_zero() || !self.sessions.contains_key(&ours) {
                continue;
            }
            self.sessions.remove(&ours);
            tracing::info!(tunnel = %self.id, session = %ours, "peer does not have the session any more (RFC 4951 FSR): cleared");
            ctx.events.push_back(Event::SessionDown {
                tunnel: self.id,
                session: ours,
                reason: SessionDownReason::Peer {
                    result: ResultCode::with_error(
                        ResultCode::CDN_GENERAL_ERROR,
                        ResultCode::ERROR_NONE,
                        Some("session not at the peer (Failover Session Response)"),
                    ),
                    q931_cause: None,
                },
            });
        }
        true
    }
}
