//! One tunnel: its control connection state machine (RFC 2661 §7.2), tunnel authentication
//! (§5.1.1), HELLO keepalive (§5.5), teardown with StopCCN and the post-teardown hold (§5.7).
//!
//! A state owns its data: the Challenge we sent lives in `WaitCtlReply` / `WaitCtlConn`, the
//! peer's Challenge in `WaitDecision`. The call state machines of the tunnel's sessions are in
//! [`super::session`]; both send through the tunnel's reliable [`Channel`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use l2tp_wire::{
    challenge_response, AvpType, BearerCapabilities, ControlMessage, DecodeError, FailoverAvp,
    FramingCapabilities, Hiding, MessageType, ProtocolVersion, ResultCode, Scccn, Sccrp, Sccrq,
    SeqNum, SessionId, StopCcn, SuggestedControlSequence, TunnelId,
};

use super::config::{EndpointConfig, PeerAuth};
use super::endpoint::{Ctx, Transmit};
use super::error::ProtocolError;
use super::event::{
    Event, FailoverInfo, SessionDownReason, SessionStateKind, TunnelDownReason, TunnelStateKind,
};
use super::reliable::Channel;
use super::session::Session;

/// AVPs hidden when `hide_avps` is on (RFC 2661 §4.3: "sensitive control message data such
/// as user passwords or user IDs"): everything a call message says about the subscriber and
/// their line (numbers, bearer and framing, speeds, channel, proxy LCP and authentication,
/// line errors and ACCM, the call's serial number). The tunnel-setup AVPs (ids,
/// capabilities, host name) and the session ids stay in clear: hiding them gains nothing the
/// Challenge does not already give, and real peers (xl2tpd: "Unable to handle hidden
/// mandatory AVP") cannot set up a tunnel when they are hidden.
const SENSITIVE_AVPS: &[AvpType] = &[
    AvpType::CALL_SERIAL_NUMBER,
    AvpType::MINIMUM_BPS,
    AvpType::MAXIMUM_BPS,
    AvpType::BEARER_TYPE,
    AvpType::FRAMING_TYPE,
    AvpType::CALLED_NUMBER,
    AvpType::CALLING_NUMBER,
    AvpType::SUB_ADDRESS,
    AvpType::TX_CONNECT_SPEED,
    AvpType::RX_CONNECT_SPEED,
    AvpType::PHYSICAL_CHANNEL_ID,
    AvpType::PROXY_AUTHEN_TYPE,
    AvpType::PROXY_AUTHEN_NAME,
    AvpType::PROXY_AUTHEN_CHALLENGE,
    AvpType::PROXY_AUTHEN_ID,
    AvpType::PROXY_AUTHEN_RESPONSE,
    AvpType::INITIAL_RECEIVED_LCP_CONFREQ,
    AvpType::LAST_SENT_LCP_CONFREQ,
    AvpType::LAST_RECEIVED_LCP_CONFREQ,
    AvpType::PRIVATE_GROUP_ID,
    AvpType::CALL_ERRORS,
    AvpType::ACCM,
];
/// Message Type values used as the ID of a Challenge Response (RFC 2661 §4.4.3).
const SCCRP_ID: u8 = 2;
const SCCCN_ID: u8 = 3;

/// Tunnel state (RFC 2661 §7.2.1); idle is "not in the table".
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum TunnelState {
    /// We sent SCCRQ, with this Challenge if we demand authentication.
    WaitCtlReply { challenge: Option<[u8; 16]> },
    /// An SCCRQ arrived; the caller decides. Keeps the peer's Challenge to answer in SCCRP.
    WaitDecision { peer_challenge: Option<Vec<u8>> },
    /// We sent SCCRP, with this Challenge if we demand authentication.
    WaitCtlConn { challenge: Option<[u8; 16]> },
    /// Established.
    Established,
    /// StopCCN sent or received: keep acknowledging until `until` (RFC 2661 §5.7).
    Closing {
        #[serde(with = "l2tp_snap::instant")]
        until: Instant,
    },
}

impl TunnelState {
    pub(crate) fn kind(&self) -> TunnelStateKind {
        match self {
            TunnelState::WaitCtlReply { .. } => TunnelStateKind::WaitCtlReply,
            TunnelState::WaitDecision { .. } => TunnelStateKind::WaitDecision,
            TunnelState::WaitCtlConn { .. } => TunnelStateKind::WaitCtlConn,
            TunnelState::Established => TunnelStateKind::Established,
            TunnelState::Closing { .. } => TunnelStateKind::Closing,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            TunnelState::WaitCtlReply { .. } => "wait-ctl-reply",
            TunnelState::WaitDecision { .. } => "wait-decision",
            TunnelState::WaitCtlConn { .. } => "wait-ctl-conn",
            TunnelState::Established => "established",
            TunnelState::Closing { .. } => "closing",
        }
    }
}

/// One tunnel and its sessions.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tunnel {
    pub id: TunnelId,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub state: TunnelState,
    pub channel: Channel,
    pub auth: PeerAuth,
    pub sessions: BTreeMap<SessionId, Session>,
    pub peer_host_name: Vec<u8>,
    /// Our Host Name toward this peer, when not the configured one (a per-peer profile).
    pub our_host_name: Option<String>,
    /// Receive Window Size toward this peer, when not the configured one (a profile).
    pub our_receive_window: Option<u16>,
    /// HELLO interval toward this peer, when not the configured one (zero: none).
    pub our_hello_interval: Option<std::time::Duration>,
    /// Last time anything arrived from the peer, or a HELLO went out (RFC 2661 §5.5).
    #[serde(with = "l2tp_snap::instant")]
    pub quiet_since: Instant,
    /// Tie Breaker we sent in SCCRQ (RFC 2661 §4.4.3).
    pub tie_breaker: Option<[u8; 8]>,
    /// The deadline queued in the endpoint's timer heap for this tunnel.
    #[serde(with = "l2tp_snap::opt_instant")]
    pub scheduled: Option<Instant>,
    /// Establishment must complete by then (no RFC timer covers a peer that acknowledges
    /// our SCCRQ/SCCRP but never answers it, or a caller that never decides).
    #[serde(with = "l2tp_snap::instant")]
    pub setup_deadline: Instant,
    /// The address we opened this tunnel to, when we did (the endpoint's index key).
    pub opened_to: Option<SocketAddr>,
    /// Whether the endpoint counts this tunnel as half-open.
    pub counted_half_open: bool,
    /// Calls waiting for the caller's decision, by deadline (arrival order, so deadlines are
    /// sorted). Entries for calls since decided or gone are skipped when they come due.
    #[serde(with = "l2tp_snap::deque_first")]
    pub call_deadlines: VecDeque<(Instant, SessionId)>,
    /// SessionUp events of calls we connected (ICCN/OCCN sent) held until that message is
    /// on the wire: PPP must not start before the peer can know the session, or its first
    /// frames arrive ahead of the connect and are lost while the window is full.
    pub deferred_ups: VecDeque<(SeqNum, Event)>,
    /// Calls waiting for the peer's next set-up message, in the order of the Ns of the
    /// message of ours they wait on (so the ones already sent come first), with the time it
    /// was seen on the wire (None while it waits for the window). Entries of calls since
    /// answered or gone are skipped when they come up.
    #[serde(with = "l2tp_snap::deque3_opt_last")]
    pub connect_waits: VecDeque<(SessionId, SeqNum, Option<Instant>)>,
    /// Last time the peer delivered a call set-up message in this tunnel.
    #[serde(with = "l2tp_snap::instant")]
    pub call_progress: Instant,
    /// RFC 4951 failover state (see [`super::failover`]).
    pub failover: FailoverInfo,
    /// On a recovery tunnel: the Suggested Control Sequence our SCCRP carries.
    pub suggest: Option<SuggestedControlSequence>,
    /// On a recovery tunnel: set until its coming up has been reported to the old tunnel.
    pub recovery_pending: bool,
    /// The peer stopped acknowledging a recoverable tunnel: kept until then for its
    /// recovery tunnel (RFC 4951 Recovery Time) instead of being cleared.
    #[serde(with = "l2tp_snap::opt_instant")]
    pub awaiting_recovery: Option<Instant>,
    /// The failing endpoint's side of a recovery (see [`super::recover`]). Not carried in
    /// snapshots: a recovery in progress across a hand-over is not resumed.
    #[serde(skip)]
    pub(crate) recovering: super::recover::Recovering,
}

impl Tunnel {
    pub(crate) fn new(
        id: TunnelId,
        local: SocketAddr,
        peer: SocketAddr,
        auth: PeerAuth,
        cfg: &EndpointConfig,
        state: TunnelState,
        now: Instant,
    ) -> Self {
        let channel = Channel::new(cfg.reliable());
        let setup_deadline = now + 2 * channel.full_retransmit_cycle();
        Tunnel {
            id,
            local,
            peer,
            state,
            channel,
            auth,
            sessions: BTreeMap::new(),
            peer_host_name: Vec::new(),
            our_host_name: None,
            our_receive_window: None,
            our_hello_interval: None,
            quiet_since: now,
            tie_breaker: None,
            scheduled: None,
            setup_deadline,
            opened_to: None,
            counted_half_open: false,
            call_deadlines: VecDeque::new(),
            deferred_ups: VecDeque::new(),
            connect_waits: VecDeque::new(),
            call_progress: now,
            failover: FailoverInfo::default(),
            suggest: None,
            recovery_pending: false,
            awaiting_recovery: None,
            recovering: Default::default(),
        }
    }

    pub(crate) fn peer_id(&self) -> TunnelId {
        self.channel.peer_tunnel
    }

    /// The HELLO interval of this tunnel: its profile's, else the configured one.
    fn hello_interval(&self, cfg: &EndpointConfig) -> Option<std::time::Duration> {
        match self.our_hello_interval {
            Some(h) if h.is_zero() => None,
            Some(h) => Some(h),
            None => cfg.hello_interval,
        }
    }

    /// Applies a per-peer profile's settings (before anything is received).
    pub(crate) fn apply_rule(&mut self, rule: &super::PeerRule) {
        self.our_host_name = rule.our_host_name.clone();
        self.our_receive_window = rule.receive_window;
        self.our_hello_interval = rule.hello_interval;
        if let Some(w) = rule.receive_window {
            self.channel.set_receive_window(w);
        }
    }

    pub(crate) fn secret(&self) -> Option<&[u8]> {
        self.auth.secret.as_deref()
    }

    fn wants_challenge(&self) -> bool {
        self.auth.require_tunnel_auth && self.auth.secret.is_some()
    }

    /// An incoming tunnel between SCCRQ and SCCCN.
    pub(crate) fn is_half_open(&self) -> bool {
        self.opened_to.is_none()
            && matches!(
                self.state,
                TunnelState::WaitDecision { .. } | TunnelState::WaitCtlConn { .. }
            )
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.state, TunnelState::Closing { .. })
    }

    /// Encodes `msg` (hiding the sensitive AVPs when configured) and hands it to the
    /// reliable channel.
    pub(crate) fn send(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        session: SessionId,
        msg: ControlMessage,
    ) {
        let mut body = Vec::with_capacity(96);
        let mut rv = [0u8; 16];
        let mut padding = [0u8; 15];
        let hiding = match (&self.auth.secret, self.auth.hide_avps) {
            (Some(secret), true) => {
                ctx.rng.fill_bytes(&mut rv);
                ctx.rng.fill_bytes(&mut padding);
                Some(
                    Hiding::new(secret, &rv)
                        .only(SENSITIVE_AVPS)
                        .padded(&padding),
                )
            }
            _ => None,
        };
        if let Err(e) = msg.encode(&mut body, hiding) {
            // Only our own configuration (an over-long host name ...) can cause this.
            tracing::error!(tunnel = %self.id, message = %msg, "cannot encode: {e}");
            return;
        }
        self.channel.send(now, session, body);
    }

    /// Sends a HELLO now unless a message is already waiting for its acknowledgement (whose
    /// retransmissions probe the peer anyway): the peer must show it still knows the tunnel.
    pub(crate) fn probe_peer(&mut self, ctx: &mut Ctx, now: Instant) {
        if matches!(self.state, TunnelState::Established) && self.channel.is_idle() {
            self.send_hello(ctx, now);
        }
    }

    /// A HELLO (RFC 2661 §6.5); its retransmissions detect a dead peer.
    pub(crate) fn send_hello(&mut self, ctx: &mut Ctx, now: Instant) {
        self.quiet_since = now;
        let m = l2tp_wire::Hello {
            unknown: Vec::new(),
        };
        self.send(ctx, now, SessionId::NONE, m.into());
    }

    /// Moves datagrams the channel produced to the endpoint's transmit queue.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx) {
        while let Some(payload) = self.channel.poll_transmit() {
            ctx.transmits.push_back(Transmit {
                local: self.local,
                to: self.peer,
                payload,
            });
        }
        self.release_deferred_ups(ctx);
    }

    /// Reports the sessions whose connect message has now left (see `deferred_ups`); a
    /// session cleared meanwhile is not reported.
    fn release_deferred_ups(&mut self, ctx: &mut Ctx) {
        if self.deferred_ups.is_empty() {
            return;
        }
        while self
            .deferred_ups
            .front()
            .is_some_and(|(ns, _)| self.channel.has_sent(*ns))
        {
            let Some((_, ev)) = self.deferred_ups.pop_front() else {
                break;
            };
            if let Event::SessionUp { session, .. } = &ev {
                if self
                    .sessions
                    .get(session)
                    .is_some_and(|s| s.state == SessionStateKind::Established)
                {
                    ctx.events.push_back(ev);
                }
            }
        }
        if self.deferred_ups.is_empty() && self.deferred_ups.capacity() > 64 {
            // A burst of calls is over: give its queue back.
            self.deferred_ups.shrink_to_fit();
        }
    }

    fn build_sccrq(&self, ctx: &mut Ctx, challenge: Option<[u8; 16]>) -> Sccrq {
        let cfg = &ctx.config;
        Sccrq {
            protocol_version: ProtocolVersion::V1_0,
            host_name: self
                .our_host_name
                .as_ref()
                .unwrap_or(&cfg.host_name)
                .as_bytes()
                .to_vec(),
            framing_capabilities: FramingCapabilities(cfg.framing_capabilities),
            assigned_tunnel_id: self.id,
            bearer_capabilities: Some(BearerCapabilities(cfg.bearer_capabilities)),
            receive_window_size: Some(self.our_receive_window.unwrap_or(cfg.receive_window).max(1)),
            challenge: challenge.map(|c| c.to_vec()),
            tie_breaker: self.tie_breaker,
            firmware_revision: cfg.firmware_revision,
            vendor_name: cfg.vendor_name.as_ref().map(|v| v.as_bytes().to_vec()),
            unknown: super::failover::offer(cfg)
                .into_iter()
                .chain(self.recovery_avp())
                .collect(),
        }
    }

    /// Local open request from idle: send SCCRQ, go to wait-ctl-reply (RFC 2661 §7.2.1).
    pub(crate) fn open(&mut self, ctx: &mut Ctx, now: Instant) {
        let challenge = self.wants_challenge().then(|| random16(ctx));
        let m = self.build_sccrq(ctx, challenge);
        self.state = TunnelState::WaitCtlReply { challenge };
        self.send(ctx, now, SessionId::NONE, m.into());
    }

    /// An SCCRQ arrived for this (new) tunnel in idle: check it, then ask the caller or
    /// accept. Returns false when it was refused.
    pub(crate) fn on_sccrq(&mut self, ctx: &mut Ctx, now: Instant, m: Sccrq, ask: bool) -> bool {
        self.peer_host_name = m.host_name.clone();
        if let Some(w) = m.receive_window_size {
            self.channel.set_peer_window(w);
        }
        self.note_peer_offer(&ctx.config, &m.unknown);
        if let Some(err) = check_unknown(&m.unknown) {
            self.fail(ctx, now, err);
            return false;
        }
        if m.protocol_version.version != 1 {
            self.fail(ctx, now, ProtocolError::BadVersion);
            return false;
        }
        if m.challenge.is_some() && self.auth.secret.is_none() {
            // RFC 2661 §5.1.1: we cannot answer a Challenge without a shared secret.
            self.fail(
                ctx,
                now,
                ProtocolError::AuthFailed("peer sent a Challenge and no secret is configured"),
            );
            return false;
        }
        self.state = TunnelState::WaitDecision {
            peer_challenge: m.challenge,
        };
        if ask {
            ctx.events.push_back(Event::IncomingTunnel {
                tunnel: self.id,
                peer_tunnel: self.peer_id(),
                peer: self.peer,
                local: self.local,
                host_name: self.peer_host_name.clone(),
            });
        } else {
            self.accept(ctx, now);
        }
        true
    }

    /// Accept an SCCRQ: send SCCRP, go to wait-ctl-conn.
    pub(crate) fn accept(&mut self, ctx: &mut Ctx, now: Instant) {
        let peer_challenge = match &mut self.state {
            TunnelState::WaitDecision { peer_challenge } => peer_challenge.take(),
            _ => return,
        };
        let challenge = self.wants_challenge().then(|| random16(ctx));
        let response = match (&peer_challenge, self.secret()) {
            (Some(c), Some(s)) => Some(challenge_response(SCCRP_ID, s, c)),
            _ => None,
        };
        let cfg = &ctx.config;
        let mut unknown = super::failover::offer(cfg);
        unknown.extend(self.suggest.as_ref().map(FailoverAvp::to_avp));
        let m = Sccrp {
            protocol_version: ProtocolVersion::V1_0,
            framing_capabilities: FramingCapabilities(cfg.framing_capabilities),
            host_name: self
                .our_host_name
                .as_ref()
                .unwrap_or(&cfg.host_name)
                .as_bytes()
                .to_vec(),
            assigned_tunnel_id: self.id,
            bearer_capabilities: Some(BearerCapabilities(cfg.bearer_capabilities)),
            firmware_revision: cfg.firmware_revision,
            vendor_name: cfg.vendor_name.as_ref().map(|v| v.as_bytes().to_vec()),
            receive_window_size: Some(self.our_receive_window.unwrap_or(cfg.receive_window).max(1)),
            challenge: challenge.map(|c| c.to_vec()),
            challenge_response: response,
            unknown,
        };
        self.state = TunnelState::WaitCtlConn { challenge };
        self.send(ctx, now, SessionId::NONE, m.into());
    }

    /// The tunnel is established: tell the caller and start the sessions that waited for it
    /// (RFC 2661 §7.2.1 "Send tunnel-open event to waiting sessions").
    fn up(&mut self, ctx: &mut Ctx, now: Instant) {
        self.state = TunnelState::Established;
        self.quiet_since = now;
        ctx.events.push_back(Event::TunnelUp {
            tunnel: self.id,
            peer_tunnel: self.peer_id(),
            peer: self.peer,
            local: self.local,
        });
        self.start_waiting_sessions(ctx, now);
    }

    /// Sends StopCCN, takes every session down, reports the tunnel down and holds the state
    /// for a full retransmission cycle (RFC 2661 §5.7).
    pub(crate) fn stop(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        result: ResultCode,
        reason: TunnelDownReason,
    ) {
        if self.is_closing() {
            return;
        }
        let m = StopCcn {
            assigned_tunnel_id: self.id,
            result_code: result,
            unknown: Vec::new(),
        };
        self.send(ctx, now, SessionId::NONE, m.into());
        self.down(ctx, now, reason);
    }

    /// Takes sessions down, reports the tunnel down, enters the closing hold.
    fn down(&mut self, ctx: &mut Ctx, now: Instant, reason: TunnelDownReason) {
        let sessions = std::mem::take(&mut self.sessions);
        for sid in sessions.keys() {
            ctx.events.push_back(Event::SessionDown {
                tunnel: self.id,
                session: *sid,
                reason: SessionDownReason::TunnelDown,
            });
        }
        ctx.events.push_back(Event::TunnelDown {
            tunnel: self.id,
            reason,
        });
        self.state = TunnelState::Closing {
            until: now + self.channel.full_retransmit_cycle(),
        };
    }

    /// Clears the tunnel for a peer's protocol error, with the RFC's StopCCN result code.
    pub(crate) fn fail(&mut self, ctx: &mut Ctx, now: Instant, err: ProtocolError) {
        if ctx.log_limit.allow(now) {
            tracing::warn!(tunnel = %self.id, peer = %self.peer, "clearing tunnel: {err}");
        }
        let result = err.stopccn_result();
        let reason = match err {
            ProtocolError::AuthFailed(_) => TunnelDownReason::AuthFailed,
            _ => TunnelDownReason::Protocol(result.clone()),
        };
        self.stop(ctx, now, result, reason);
    }

    /// The retry budget ran out: clear without a goodbye (nobody is listening).
    pub(crate) fn lost(&mut self, ctx: &mut Ctx, now: Instant) {
        if self.is_closing() {
            return;
        }
        tracing::warn!(tunnel = %self.id, peer = %self.peer, "peer stopped acknowledging: clearing tunnel");
        self.down(ctx, now, TunnelDownReason::RetriesExhausted);
    }

    /// A message delivered in order by the channel.
    pub(crate) fn on_message(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        session: SessionId,
        msg: Result<ControlMessage, DecodeError>,
    ) {
        if self.is_closing() {
            // RFC 2661 §5.7: only the acknowledgements matter now. "The receiver of a
            // StopCCN MUST send a ZLB ACK": the peer's StopCCN crossing ours (both sides
            // closing) is acknowledged at once, not after the acknowledgement delay, which a
            // daemon on its way out would not wait for.
            if matches!(msg, Ok(ControlMessage::StopCcn(_))) {
                self.channel.flush_ack();
            }
            return;
        }
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                // A malformed message addressed to one of our calls costs only that call
                // (CDN), not the tunnel and every other call in it (a router's bad Result
                // Code in its CDN, say).
                let for_a_call = !session.is_zero() && self.sessions.contains_key(&session);
                let session_message = match &e {
                    DecodeError::MissingAvp { message, .. } => message.is_session_message(),
                    _ => true,
                };
                if for_a_call && session_message {
                    self.fail_session(ctx, now, session, ProtocolError::Decode(e));
                    return;
                }
                self.fail(ctx, now, ProtocolError::Decode(e));
                return;
            }
        };
        match msg {
            ControlMessage::Sccrp(m) => self.on_sccrp(ctx, now, m),
            ControlMessage::Scccn(m) => self.on_scccn(ctx, now, m),
            ControlMessage::StopCcn(m) => {
                tracing::info!(tunnel = %self.id, peer = %self.peer, "peer closed tunnel: {}", m.result_code);
                // Acknowledge at once: nothing else will carry our Nr.
                self.channel.flush_ack();
                self.down(ctx, now, TunnelDownReason::Peer(m.result_code));
            }
            ControlMessage::Hello(m) => {
                if let Some(err) = check_unknown(&m.unknown) {
                    self.fail(ctx, now, err);
                }
            }
            ControlMessage::Sccrq(_) => {
                // RFC 2661 §7.2.1: SCCRQ in wait-ctl-conn or established clears the tunnel.
                self.unexpected(ctx, now, "SCCRQ");
            }
            ControlMessage::Unknown {
                message_type: MessageType::FSQ,
                ..
            } if self.answers_fsq(&ctx.config) => self.on_fsq(ctx, now, &msg),
            ControlMessage::Unknown {
                message_type: MessageType::FSR,
                ..
            } if self.answers_fsq(&ctx.config) => {
                if !self.on_fsr(ctx, now, &msg) {
                    // No FSQ of ours is waiting for it: nothing to match it to.
                    ctx.stats.unexpected_messages += 1;
                    tracing::debug!(tunnel = %self.id, "ignoring an unsolicited FSR");
                }
            }
            ControlMessage::Unknown {
                message_type,
                mandatory,
                ..
            } => {
                ctx.stats.unknown_messages += 1;
                if mandatory {
                    // RFC 2661 §4.1/§4.4.1: an unknown message with M set clears the tunnel
                    // (or the session, for a session message: we cannot tell which).
                    self.fail(
                        ctx,
                        now,
                        ProtocolError::UnknownMandatoryAvp {
                            vendor: 0,
                            attr: message_type.0,
                        },
                    );
                } else {
                    tracing::debug!(tunnel = %self.id, "ignoring unknown message type {message_type}");
                }
            }
            other => self.on_session_message(ctx, now, session, other),
        }
    }

    fn unexpected(&mut self, ctx: &mut Ctx, now: Instant, what: &str) {
        ctx.stats.unexpected_messages += 1;
        let err = ProtocolError::UnexpectedMessage {
            message: what.to_string(),
            state: self.state.name(),
        };
        self.fail(ctx, now, err);
    }

    fn on_sccrp(&mut self, ctx: &mut Ctx, now: Instant, mut m: Sccrp) {
        let challenge = match &self.state {
            TunnelState::WaitCtlReply { challenge } => *challenge,
            _ => return self.unexpected(ctx, now, "SCCRP"),
        };
        self.channel.peer_tunnel = m.assigned_tunnel_id;
        self.peer_host_name = m.host_name.clone();
        if let Some(w) = m.receive_window_size {
            self.channel.set_peer_window(w);
        }
        self.note_peer_offer(&ctx.config, &m.unknown);
        // The Suggested Control Sequence (M bit set) answers our recovery SCCRQ.
        if let Err(err) = self.note_suggestion(&mut m.unknown) {
            return self.fail(ctx, now, err);
        }
        if let Some(err) = check_unknown(&m.unknown) {
            return self.fail(ctx, now, err);
        }
        if m.protocol_version.version != 1 {
            return self.fail(ctx, now, ProtocolError::BadVersion);
        }
        // RFC 2661 §5.1.1: check the response to our Challenge.
        if let (Some(c), Some(secret)) = (challenge, self.secret()) {
            let want = challenge_response(SCCRP_ID, secret, &c);
            match m.challenge_response {
                Some(r) if r == want => {}
                Some(_) => {
                    return self.fail(
                        ctx,
                        now,
                        ProtocolError::AuthFailed("wrong Challenge Response"),
                    )
                }
                None => {
                    return self.fail(ctx, now, ProtocolError::AuthFailed("no Challenge Response"))
                }
            }
        }
        let response = match (&m.challenge, self.secret()) {
            (Some(c), Some(s)) => Some(challenge_response(SCCCN_ID, s, c)),
            (Some(_), None) => {
                return self.fail(
                    ctx,
                    now,
                    ProtocolError::AuthFailed("peer sent a Challenge and no secret is configured"),
                )
            }
            _ => None,
        };
        let reply = Scccn {
            challenge_response: response,
            unknown: Vec::new(),
        };
        self.send(ctx, now, SessionId::NONE, reply.into());
        self.up(ctx, now);
    }

    fn on_scccn(&mut self, ctx: &mut Ctx, now: Instant, m: Scccn) {
        let challenge = match &self.state {
            TunnelState::WaitCtlConn { challenge } => *challenge,
            _ => return self.unexpected(ctx, now, "SCCCN"),
        };
        if let Some(err) = check_unknown(&m.unknown) {
            return self.fail(ctx, now, err);
        }
        if let (Some(c), Some(secret)) = (challenge, self.secret()) {
            let want = challenge_response(SCCCN_ID, secret, &c);
            if m.challenge_response != Some(want) {
                return self.fail(
                    ctx,
                    now,
                    ProtocolError::AuthFailed("wrong Challenge Response"),
                );
            }
        }
        self.up(ctx, now);
    }

    /// Something (data) was heard from the peer: the HELLO timer restarts.
    pub(crate) fn note_activity(&mut self, now: Instant) {
        if now > self.quiet_since {
            self.quiet_since = now;
        }
    }

    /// The soonest of this tunnel's timers: retransmission/ack, HELLO, end of the hold.
    pub(crate) fn next_timeout(&self, cfg: &EndpointConfig) -> Option<Instant> {
        if let Some(until) = self.awaiting_recovery {
            // Kept for a recovery: no other timer runs (they would fire and do nothing).
            return Some(until);
        }
        let hello = self.hello_interval(cfg);
        let mut t = self.channel.poll_timeout();
        let mut consider = |x: Instant| t = Some(t.map_or(x, |y: Instant| y.min(x)));
        match self.state {
            TunnelState::Closing { until } => consider(until),
            TunnelState::Established => {
                if let Some(h) = hello {
                    consider(self.quiet_since + h);
                }
                if let Some((d, _)) = self.call_deadlines.front() {
                    consider(*d);
                }
                if let Some(d) = self.next_connect_deadline(cfg.connect_timeout) {
                    consider(d);
                }
            }
            _ => consider(self.setup_deadline),
        }
        t
    }

    /// Fires due timers. Returns true when the tunnel should be forgotten.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx, now: Instant) -> bool {
        self.channel.handle_timeout(now);
        if self.channel.failure().is_some() {
            if self.is_closing() {
                return true;
            }
            if self.hold_for_recovery(now) {
                return false;
            }
            self.lost(ctx, now);
            // Nobody is listening: no point holding the state.
            return true;
        }
        match self.state {
            TunnelState::Closing { until } if now >= until => return true,
            TunnelState::WaitCtlReply { .. }
            | TunnelState::WaitDecision { .. }
            | TunnelState::WaitCtlConn { .. }
                if now >= self.setup_deadline =>
            {
                if ctx.log_limit.allow(now) {
                    tracing::warn!(tunnel = %self.id, peer = %self.peer, state = self.state.name(), "tunnel establishment timed out");
                }
                let rc = ResultCode::with_error(
                    ResultCode::STOPCCN_GENERAL_ERROR,
                    ResultCode::ERROR_NONE,
                    Some("establishment timed out"),
                );
                self.stop(ctx, now, rc, TunnelDownReason::SetupTimeout);
            }
            TunnelState::Established => {
                if let Some(h) = self.hello_interval(&ctx.config) {
                    if now >= self.quiet_since + h {
                        // RFC 2661 §5.5: HELLO after a period with nothing from the peer.
                        self.send_hello(ctx, now);
                    }
                }
                self.expire_calls(ctx, now);
                self.expire_connects(ctx, now);
            }
            _ => {}
        }
        false
    }
}

/// The first unknown AVP with the M bit set, as a protocol error (RFC 2661 §4.1); unknown
/// AVPs without it are ignored.
pub(crate) fn check_unknown(unknown: &[l2tp_wire::UnknownAvp]) -> Option<ProtocolError> {
    unknown
        .iter()
        .find(|u| u.mandatory)
        .map(|u| ProtocolError::UnknownMandatoryAvp {
            vendor: u.vendor,
            attr: u.attr.0,
        })
}

fn random16(ctx: &mut Ctx) -> [u8; 16] {
    let mut c = [0u8; 16];
    ctx.rng.fill_bytes(&mut c);
    c
}
