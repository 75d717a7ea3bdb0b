//! The four call state machines (RFC 2661 §7.4.1 LAC incoming, §7.4.2 LNS incoming, §7.5.1
//! LAC outgoing, §7.5.2 LNS outgoing), CDN from either side in every state, WEN and SLI.
//!
//! A session is small on purpose (the LNS holds 100,000 of them): ids, kind, state and two
//! counters; call parameters live only while the call is being set up.

use std::time::Instant;

use l2tp_wire::access_line::AccessLine;
use l2tp_wire::{
    BearerCapabilities, CallErrors, Cdn, ControlMessage, FramingCapabilities, Iccn, Icrp, Icrq,
    Occn, Ocrp, Ocrq, ProxyAuthenType, ResultCode, SeqNum, SessionId,
};

use super::config::CallParams;
use super::endpoint::Ctx;
use super::error::ProtocolError;
use super::event::{CallInfo, CallKind, Event, ProxyInfo, SessionDownReason, SessionStateKind};
use super::ids;
use super::tunnel::{check_unknown, Tunnel, TunnelState};

/// One call.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Session {
    pub peer_id: SessionId,
    pub kind: CallKind,
    pub state: SessionStateKind,
    pub tx: u32,
    pub rx: u32,
    /// Parameters kept until the message that needs them is sent (ICRQ/ICCN, OCRQ).
    pub params: Option<Box<CallParams>>,
    /// The peer's WEN reports: how many, and the last Call Errors (cumulative counters,
    /// RFC 2661 §6.13). Boxed: most calls never get one.
    pub wan_errors: Option<Box<(u32, CallErrors)>>,
}

impl Session {
    /// A session of a recovered tunnel, established as the caller kept it (RFC 4951).
    pub(crate) fn restored(kind: CallKind, peer_id: SessionId) -> Self {
        Session::new(kind, SessionStateKind::Established, peer_id)
    }

    fn new(kind: CallKind, state: SessionStateKind, peer_id: SessionId) -> Self {
        Session {
            peer_id,
            kind,
            state,
            tx: 0,
            rx: 0,
            params: None,
            wan_errors: None,
        }
    }
}

fn message_name(m: &ControlMessage) -> String {
    m.message_type().to_string()
}

impl Tunnel {
    /// Allocates a random, non-zero session id unique in this tunnel.
    pub(crate) fn allocate_session(&self, ctx: &mut Ctx) -> Option<SessionId> {
        ids::allocate(&mut *ctx.rng, |i| self.sessions.contains_key(&SessionId(i))).map(SessionId)
    }

    fn send_session(&mut self, ctx: &mut Ctx, now: Instant, sid: SessionId, msg: ControlMessage) {
        let peer = match self.sessions.get_mut(&sid) {
            Some(s) => {
                s.tx = s.tx.saturating_add(1);
                s.peer_id
            }
            None => SessionId::NONE,
        };
        self.send(ctx, now, peer, msg);
    }

    /// Places a call (LAC ICRQ or LNS OCRQ). Waits for the tunnel when it is not up yet
    /// (the wait-tunnel state).
    pub(crate) fn place_call(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        sid: SessionId,
        kind: CallKind,
        params: CallParams,
    ) {
        let mut s = Session::new(kind, SessionStateKind::WaitTunnel, SessionId::NONE);
        s.params = Some(Box::new(params));
        self.sessions.insert(sid, s);
        if matches!(self.state, TunnelState::Established) {
            self.send_call_request(ctx, now, sid);
        }
    }

    /// A call the caller was asked about must be decided two retransmission cycles from now.
    fn arm_call_deadline(&mut self, now: Instant, sid: SessionId) {
        let d = now + 2 * self.channel.full_retransmit_cycle();
        self.call_deadlines.push_back((d, sid));
    }

    /// Refuses calls the caller did not decide on in time (the peer, whose request we
    /// acknowledged, would otherwise wait for ever). Calls waiting for the *peer* have no
    /// such timer: under a flood of calls a reply can legitimately wait minutes behind the
    /// peer's send window.
    pub(crate) fn expire_calls(&mut self, ctx: &mut Ctx, now: Instant) {
        while let Some(&(d, sid)) = self.call_deadlines.front() {
            if d > now {
                break;
            }
            self.call_deadlines.pop_front();
            if self.call_deadlines.is_empty() && self.call_deadlines.capacity() > 64 {
                // A burst of calls is over: give its queue back.
                self.call_deadlines.shrink_to_fit();
            }
            let pending = self
                .sessions
                .get(&sid)
                .is_some_and(|s| s.state == SessionStateKind::WaitDecision);
            if pending {
                tracing::warn!(tunnel = %self.id, session = %sid, "no decision on the call in time");
                let rc = ResultCode::with_error(
                    ResultCode::CDN_TIMEOUT,
                    ResultCode::ERROR_NONE,
                    Some("call not answered in time"),
                );
                self.close_session(ctx, now, sid, rc, SessionDownReason::SetupTimeout);
            }
        }
    }

    /// Starts the wait for the peer's answer to the message just sent for call `sid` (the
    /// last one queued on the channel).
    fn wait_for_peer(&mut self, now: Instant, sid: SessionId) {
        let ns = SeqNum(self.channel.next_ns().0.wrapping_sub(1));
        let sent = self.channel.has_sent(ns).then_some(now);
        self.connect_waits.push_back((sid, ns, sent));
    }

    /// Marks the waits whose message has gone on the wire since (acknowledgements opened the
    /// peer's window): their time starts now.
    pub(crate) fn note_connects_sent(&mut self, now: Instant) {
        for w in self.connect_waits.iter_mut() {
            if w.2.is_some() {
                continue;
            }
            if !self.channel.has_sent(w.1) {
                break; // sent messages are a prefix: none after this one either
            }
            w.2 = Some(now);
        }
    }

    /// True while call `sid` waits for the peer's next set-up message.
    fn waits_for_peer(&self, sid: SessionId) -> bool {
        self.sessions.get(&sid).is_some_and(|s| {
            matches!(
                (s.kind, s.state),
                (CallKind::LacIncoming, SessionStateKind::WaitReply)
                    | (CallKind::LnsIncoming, SessionStateKind::WaitConnect)
                    | (CallKind::LnsOutgoing, SessionStateKind::WaitReply)
                    | (CallKind::LnsOutgoing, SessionStateKind::WaitConnect)
            )
        })
    }

    /// When the oldest call waiting for the peer times out (see
    /// [`super::EndpointConfig::connect_timeout`]).
    pub(crate) fn next_connect_deadline(
        &self,
        timeout: Option<std::time::Duration>,
    ) -> Option<Instant> {
        let timeout = timeout?;
        // The oldest wait comes first (its message was sent first); stale entries only make
        // the wake-up early, which is harmless.
        let (_, _, sent) = self.connect_waits.front()?;
        Some((*sent)?.max(self.call_progress) + timeout)
    }

    /// Clears the calls that waited `connect_timeout` for the peer, counted from when our
    /// message was sent or the peer last delivered a call set-up message in this tunnel.
    pub(crate) fn expire_connects(&mut self, ctx: &mut Ctx, now: Instant) {
        let Some(timeout) = ctx.config.connect_timeout else {
            return;
        };
        while let Some(&(sid, _, sent)) = self.connect_waits.front() {
            if !self.waits_for_peer(sid) {
                self.connect_waits.pop_front();
                continue;
            }
            let Some(sent) = sent else {
                break; // still waiting for the window: not the peer's fault
            };
            if sent.max(self.call_progress) + timeout > now {
                break;
            }
            self.connect_waits.pop_front();
            let what = match self.sessions.get(&sid).map(|s| s.kind) {
                Some(CallKind::LnsIncoming) => "no ICCN",
                Some(CallKind::LacIncoming) => "no ICRP",
                _ => "no OCRP/OCCN",
            };
            if ctx.log_limit.allow(now) {
                tracing::warn!(tunnel = %self.id, session = %sid, "call set-up timed out: {what}");
            }
            let rc =
                ResultCode::with_error(ResultCode::CDN_TIMEOUT, ResultCode::ERROR_NONE, Some(what));
            self.close_session(ctx, now, sid, rc, SessionDownReason::SetupTimeout);
        }
        if self.connect_waits.is_empty() && self.connect_waits.capacity() > 64 {
            self.connect_waits.shrink_to_fit();
        }
    }

    /// Sends ICRQ/OCRQ for sessions in wait-tunnel, now that the tunnel is up.
    pub(crate) fn start_waiting_sessions(&mut self, ctx: &mut Ctx, now: Instant) {
        let waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.state == SessionStateKind::WaitTunnel)
            .map(|(k, _)| *k)
            .collect();
        for sid in waiting {
            self.send_call_request(ctx, now, sid);
        }
    }

    fn send_call_request(&mut self, ctx: &mut Ctx, now: Instant, sid: SessionId) {
        let serial = ctx.next_serial();
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.state = SessionStateKind::WaitReply;
        let p = s.params.as_deref().cloned().unwrap_or_default();
        let bearer = (p.bearer_type != 0).then_some(BearerCapabilities(p.bearer_type));
        let msg: ControlMessage = match s.kind {
            CallKind::LacIncoming => Icrq {
                assigned_session_id: sid,
                call_serial_number: serial,
                bearer_type: bearer,
                physical_channel_id: None,
                calling_number: p.calling_number.map(String::into_bytes),
                called_number: p.called_number.map(String::into_bytes),
                sub_address: p.sub_address.map(String::into_bytes),
                unknown: p
                    .access_line
                    .as_deref()
                    .map(AccessLine::to_avps)
                    .unwrap_or_default(),
            }
            .into(),
            _ => {
                // The OCRQ needs nothing later: drop the parameters now.
                s.params = None;
                Ocrq {
                    assigned_session_id: sid,
                    call_serial_number: serial,
                    minimum_bps: 0,
                    maximum_bps: u32::MAX,
                    bearer_type: bearer.unwrap_or(BearerCapabilities(0x3)),
                    framing_type: FramingCapabilities(framing_or_default(p.framing_type)),
                    called_number: p.called_number.map(String::into_bytes).unwrap_or_default(),
                    sub_address: p.sub_address.map(String::into_bytes),
                    unknown: Vec::new(),
                }
                .into()
            }
        };
        self.send_session(ctx, now, sid, msg);
        self.wait_for_peer(now, sid);
    }

    /// Accepts an incoming call the caller was asked about (ICRQ at the LNS, OCRQ at the LAC).
    pub(crate) fn accept_call(&mut self, ctx: &mut Ctx, now: Instant, sid: SessionId) -> bool {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return false;
        };
        if s.state != SessionStateKind::WaitDecision {
            return false;
        }
        match s.kind {
            CallKind::LnsIncoming => {
                // RFC 2661 §7.4.2: idle, receive ICRQ acceptable → send ICRP, wait-connect.
                s.state = SessionStateKind::WaitConnect;
                let m = Icrp {
                    assigned_session_id: sid,
                    unknown: Vec::new(),
                };
                self.send_session(ctx, now, sid, m.into());
                self.wait_for_peer(now, sid);
            }
            CallKind::LacOutgoing => {
                // RFC 2661 §7.5.1: send OCRP; with no bearer to dial, the call is answered at
                // once: send OCCN and enter established.
                s.state = SessionStateKind::Established;
                let p = s.params.take().map(|b| *b).unwrap_or_default();
                let ocrp = Ocrp {
                    assigned_session_id: sid,
                    physical_channel_id: None,
                    unknown: Vec::new(),
                };
                self.send_session(ctx, now, sid, ocrp.into());
                let occn = Occn {
                    tx_connect_speed: speed_or_default(p.connect_speed),
                    framing_type: FramingCapabilities(framing_or_default(p.framing_type)),
                    rx_connect_speed: None,
                    sequencing_required: p.sequencing_required,
                    unknown: Vec::new(),
                };
                self.send_session(ctx, now, sid, occn.into());
                self.session_up(ctx, sid, false, None, speed_or_default(p.connect_speed));
            }
            _ => return false,
        }
        true
    }

    /// Sends CDN (unless the call never left wait-tunnel) and forgets the session.
    pub(crate) fn close_session(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        sid: SessionId,
        result: ResultCode,
        reason: SessionDownReason,
    ) -> bool {
        let Some(s) = self.sessions.get(&sid) else {
            return false;
        };
        if s.state != SessionStateKind::WaitTunnel {
            let cdn = Cdn {
                result_code: result,
                assigned_session_id: sid,
                q931_cause: None,
                unknown: Vec::new(),
            };
            self.send_session(ctx, now, sid, cdn.into());
        }
        self.sessions.remove(&sid);
        ctx.events.push_back(Event::SessionDown {
            tunnel: self.id,
            session: sid,
            reason,
        });
        true
    }

    /// Clears a session for a peer's protocol error, with the RFC's CDN result code.
    pub(crate) fn fail_session(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        sid: SessionId,
        err: ProtocolError,
    ) {
        if ctx.log_limit.allow(now) {
            tracing::warn!(tunnel = %self.id, session = %sid, "clearing session: {err}");
        }
        let result = err.cdn_result();
        self.close_session(
            ctx,
            now,
            sid,
            result.clone(),
            SessionDownReason::Protocol(result),
        );
    }

    /// Answers a session message for which we have no session (idle in §7.4–§7.5) with a
    /// CDN naming the peer's session, so the peer clears it.
    fn cdn_to_unknown(&mut self, ctx: &mut Ctx, now: Instant, peer_sid: SessionId) {
        let cdn = Cdn {
            result_code: ProtocolError::UnknownSession(peer_sid).cdn_result(),
            assigned_session_id: SessionId::NONE,
            q931_cause: None,
            unknown: Vec::new(),
        };
        self.send(ctx, now, peer_sid, cdn.into());
    }

    fn session_up(
        &mut self,
        ctx: &mut Ctx,
        sid: SessionId,
        sequencing_required: bool,
        proxy: Option<Box<ProxyInfo>>,
        connect_speed: u32,
    ) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let ev = Event::SessionUp {
            tunnel: self.id,
            session: sid,
            peer_tunnel: self.peer_id(),
            peer_session: s.peer_id,
            peer: self.peer,
            local: self.local,
            kind: s.kind,
            sequencing_required,
            proxy,
            connect_speed,
        };
        // The LAC side has just queued its ICCN/OCCN: report the session once it is sent.
        let connect_ns = SeqNum(self.channel.next_ns().0.wrapping_sub(1));
        if matches!(s.kind, CallKind::LacIncoming | CallKind::LacOutgoing)
            && !self.channel.has_sent(connect_ns)
        {
            self.deferred_ups.push_back((connect_ns, ev));
        } else {
            ctx.events.push_back(ev);
        }
    }

    /// A session message (or SLI/WEN/CDN) delivered in order on an established tunnel.
    pub(crate) fn on_session_message(
        &mut self,
        ctx: &mut Ctx,
        now: Instant,
        sid: SessionId,
        msg: ControlMessage,
    ) {
        if !matches!(self.state, TunnelState::Established) {
            // Session traffic before the tunnel is up breaks §7.2's ordering.
            ctx.stats.unexpected_messages += 1;
            let err = ProtocolError::UnexpectedMessage {
                message: message_name(&msg),
                state: self.state.name(),
            };
            return self.fail(ctx, now, err);
        }
        if matches!(
            msg,
            ControlMessage::Icrq(_)
                | ControlMessage::Icrp(_)
                | ControlMessage::Iccn(_)
                | ControlMessage::Ocrq(_)
                | ControlMessage::Ocrp(_)
                | ControlMessage::Occn(_)
                | ControlMessage::Cdn(_)
        ) {
            // The peer is working through calls: waits for it restart (`connect_timeout`).
            self.call_progress = self.call_progress.max(now);
        }
        // Requests create sessions; everything else names one of ours.
        match msg {
            ControlMessage::Icrq(m) => {
                return self.on_request(ctx, now, CallKind::LnsIncoming, m.into())
            }
            ControlMessage::Ocrq(m) => {
                return self.on_request(ctx, now, CallKind::LacOutgoing, m.into())
            }
            ControlMessage::Cdn(m) => return self.on_cdn(ctx, sid, m),
            _ => {}
        }
        let Some(s) = self.sessions.get_mut(&sid) else {
            ctx.stats.unknown_sessions += 1;
            tracing::info!(tunnel = %self.id, session = %sid, "{} for unknown session", message_name(&msg));
            // RFC 2661 §7.4.2/§7.5.1 idle: a reply for no session is answered with CDN.
            match &msg {
                ControlMessage::Icrp(m) => self.cdn_to_unknown(ctx, now, m.assigned_session_id),
                ControlMessage::Ocrp(m) => self.cdn_to_unknown(ctx, now, m.assigned_session_id),
                _ => {}
            }
            return;
        };
        s.rx = s.rx.saturating_add(1);
        if let Some(err) = check_unknown(msg.unknown_avps()) {
            return self.fail_session(ctx, now, sid, err);
        }
        let (kind, state) = (s.kind, s.state);
        use CallKind::*;
        use SessionStateKind::*;
        match (msg, kind, state) {
            // §7.4.1 LAC incoming: wait-reply, ICRP acceptable → send ICCN, established.
            (ControlMessage::Icrp(m), LacIncoming, WaitReply) => {
                s.peer_id = m.assigned_session_id;
                s.state = Established;
                let p = s.params.take().map(|b| *b).unwrap_or_default();
                let proxy = p.proxy.map(|b| *b).unwrap_or_default();
                let iccn = Iccn {
                    tx_connect_speed: speed_or_default(p.connect_speed),
                    framing_type: FramingCapabilities(framing_or_default(p.framing_type)),
                    initial_received_lcp_confreq: proxy.initial_received_lcp_confreq,
                    last_sent_lcp_confreq: proxy.last_sent_lcp_confreq,
                    last_received_lcp_confreq: proxy.last_received_lcp_confreq,
                    proxy_authen_type: proxy.authen_type.map(ProxyAuthenType),
                    proxy_authen_name: proxy.authen_name,
                    proxy_authen_challenge: proxy.authen_challenge,
                    proxy_authen_id: proxy.authen_id,
                    proxy_authen_response: proxy.authen_response,
                    private_group_id: None,
                    rx_connect_speed: None,
                    sequencing_required: p.sequencing_required,
                    unknown: Vec::new(),
                };
                self.send_session(ctx, now, sid, iccn.into());
                self.session_up(ctx, sid, false, None, speed_or_default(p.connect_speed));
            }
            // §7.4.2 LNS incoming: wait-connect, ICCN → established.
            (ControlMessage::Iccn(m), LnsIncoming, WaitConnect) => {
                s.state = Established;
                let proxy = ProxyInfo {
                    initial_received_lcp_confreq: m.initial_received_lcp_confreq,
                    last_sent_lcp_confreq: m.last_sent_lcp_confreq,
                    last_received_lcp_confreq: m.last_received_lcp_confreq,
                    authen_type: m.proxy_authen_type.map(|t| t.0),
                    authen_name: m.proxy_authen_name,
                    authen_challenge: m.proxy_authen_challenge,
                    authen_id: m.proxy_authen_id,
                    authen_response: m.proxy_authen_response,
                };
                let proxy = (!proxy.is_empty()).then(|| Box::new(proxy));
                self.session_up(ctx, sid, m.sequencing_required, proxy, m.tx_connect_speed);
            }
            // §7.5.2 LNS outgoing: wait-reply, OCRP → wait-connect; wait-connect, OCCN →
            // established.
            (ControlMessage::Ocrp(m), LnsOutgoing, WaitReply) => {
                s.peer_id = m.assigned_session_id;
                s.state = WaitConnect;
            }
            (ControlMessage::Occn(m), LnsOutgoing, WaitConnect) => {
                s.state = Established;
                self.session_up(ctx, sid, m.sequencing_required, None, m.tx_connect_speed);
            }
            // SLI: to the LAC (RFC 2661 §6.14) — and macOS sends it to the LNS: accept both.
            // "to set PPP-negotiated options ... on an active PPP session": only once the call
            // is established; before that it is refused like any message the state tables
            // do not allow (CDN).
            (ControlMessage::Sli(m), _, Established) => {
                ctx.events.push_back(Event::SetLinkInfo {
                    tunnel: self.id,
                    session: sid,
                    send_accm: m.accm.send_accm,
                    receive_accm: m.accm.receive_accm,
                });
            }
            // WEN: from the LAC to the LNS (RFC 2661 §6.13); reported whichever side we are.
            (ControlMessage::Wen(m), _, _) => {
                let e = m.call_errors;
                // "The counters in this message are cumulative": the last report is the total.
                let w = s.wan_errors.get_or_insert_with(Default::default);
                w.0 = w.0.saturating_add(1);
                w.1 = e;
                ctx.events.push_back(Event::WanErrorNotify {
                    tunnel: self.id,
                    session: sid,
                    crc_errors: e.crc_errors,
                    framing_errors: e.framing_errors,
                    hardware_overruns: e.hardware_overruns,
                    buffer_overruns: e.buffer_overruns,
                    timeout_errors: e.timeout_errors,
                    alignment_errors: e.alignment_errors,
                });
            }
            // Anything else: "Send CDN, Clean up" (§7.4–§7.5 tables).
            (m, _, _) => {
                ctx.stats.unexpected_messages += 1;
                let err = ProtocolError::UnexpectedMessage {
                    message: message_name(&m),
                    state: state_name(state),
                };
                self.fail_session(ctx, now, sid, err);
            }
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx, now: Instant, kind: CallKind, req: Request) {
        let peer_sid = req.assigned_session_id;
        if let Some(err) = check_unknown(&req.unknown) {
            // No session of ours yet: refuse the call by naming the peer's session.
            if ctx.log_limit.allow(now) {
                tracing::warn!(tunnel = %self.id, "refusing call: {err}");
            }
            let cdn = Cdn {
                result_code: err.cdn_result(),
                assigned_session_id: SessionId::NONE,
                q931_cause: None,
                unknown: Vec::new(),
            };
            self.send(ctx, now, peer_sid, cdn.into());
            return;
        }
        let Some(sid) = self.allocate_session(ctx) else {
            let cdn = Cdn {
                result_code: ResultCode::with_error(
                    ResultCode::CDN_NO_FACILITIES_TEMPORARY,
                    ResultCode::ERROR_NO_RESOURCES,
                    None,
                ),
                assigned_session_id: SessionId::NONE,
                q931_cause: None,
                unknown: Vec::new(),
            };
            self.send(ctx, now, peer_sid, cdn.into());
            return;
        };
        let mut s = Session::new(kind, SessionStateKind::WaitDecision, peer_sid);
        s.rx = 1;
        self.sessions.insert(sid, s);
        if ctx.config.decide_incoming_calls {
            self.arm_call_deadline(now, sid);
            ctx.events.push_back(Event::IncomingCall {
                tunnel: self.id,
                session: sid,
                kind,
                info: req.info,
            });
        } else {
            self.accept_call(ctx, now, sid);
        }
    }

    fn on_cdn(&mut self, ctx: &mut Ctx, sid: SessionId, m: Cdn) {
        // A CDN sent before the peer learnt our id carries session 0 in the header: find the
        // call by the peer's Assigned Session ID instead.
        let sid = if sid.is_zero() {
            match self
                .sessions
                .iter()
                .find(|(_, s)| s.peer_id == m.assigned_session_id && !s.peer_id.is_zero())
            {
                Some((k, _)) => *k,
                None => return,
            }
        } else {
            sid
        };
        // RFC 2661 §7.4–§7.5: CDN in any state → clean up; in idle, nothing to do.
        if self.sessions.remove(&sid).is_none() {
            ctx.stats.unknown_sessions += 1;
            return;
        }
        ctx.events.push_back(Event::SessionDown {
            tunnel: self.id,
            session: sid,
            reason: SessionDownReason::Peer {
                result: m.result_code,
                q931_cause: m.q931_cause.map(|q| q.cause_code),
            },
        });
    }
}

/// The fields of ICRQ/OCRQ the request handling needs.
struct Request {
    assigned_session_id: SessionId,
    unknown: Vec<l2tp_wire::UnknownAvp>,
    info: CallInfo,
}

impl From<Icrq> for Request {
    fn from(m: Icrq) -> Self {
        let access_line = match AccessLine::from_avps(&m.unknown) {
            Ok(a) => (!a.is_empty()).then_some(a),
            Err(e) => {
                tracing::debug!("ICRQ access-line AVPs ignored: {e}");
                None
            }
        };
        Request {
            assigned_session_id: m.assigned_session_id,
            unknown: m.unknown,
            info: CallInfo {
                serial: m.call_serial_number,
                called_number: m.called_number,
                calling_number: m.calling_number,
                sub_address: m.sub_address,
                access_line,
            },
        }
    }
}

impl From<Ocrq> for Request {
    fn from(m: Ocrq) -> Self {
        Request {
            assigned_session_id: m.assigned_session_id,
            unknown: m.unknown,
            info: CallInfo {
                serial: m.call_serial_number,
                called_number: Some(m.called_number),
                calling_number: None,
                sub_address: m.sub_address,
                access_line: None,
            },
        }
    }
}

fn state_name(s: SessionStateKind) -> &'static str {
    match s {
        SessionStateKind::WaitTunnel => "wait-tunnel",
        SessionStateKind::WaitDecision => "wait-decision",
        SessionStateKind::WaitReply => "wait-reply",
        SessionStateKind::WaitConnect => "wait-connect",
        SessionStateKind::Established => "established",
    }
}

fn framing_or_default(f: u32) -> u32 {
    if f == 0 {
        FramingCapabilities::SYNC.0
    } else {
        f
    }
}

fn speed_or_default(s: u32) -> u32 {
    if s == 0 {
        100_000_000
    } else {
        s
    }
}
