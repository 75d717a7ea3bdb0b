//! The relay's work inside the core: PPPoE frames in, the subscriber's negotiation until its
//! user name is known, the call placed, the control plane's answers, and PPP frames relayed
//! both ways once the call is up.

use std::cmp::Reverse;
use std::time::Instant;

use l2tp_proto::control::{
    CallParams, Event as CtlEvent, PeerAuth, SessionDownReason, TunnelDownReason, TunnelOptions,
};
use l2tp_proto::data::{SessionConfig, SessionKey};
use l2tp_wire::result::ResultCode;
use l2tp_wire::TunnelId;
use ppp::packet::Code;
use ppp::{Event as PppEvent, Link, Protocol};
use pppoe::{DownReason, Event as AcEvent, Received, SessionInfo};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{Attempt, Lac, LnsTarget, SendProxy, Stage, Subscriber, SubscriberId, TunnelUse};
use crate::core::Core;

/// How long LCP waits for the subscriber to speak first.
const LCP_START_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// PPP Address and Control fields (RFC 1662 §3.1).
const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
/// LCP Code 5, Terminate-Request (RFC 1661 §5.5).
const LCP_TERMINATE_REQUEST: u8 = 5;
/// LCP Code 6, Terminate-Ack.
const LCP_TERMINATE_ACK: u8 = 6;

impl Core {
    /// The LAC relay, when this node is one.
    fn lac_mut(&mut self) -> Option<&mut Lac> {
        self.lac.as_deref_mut()
    }

    /// An Ethernet frame read on PPPoE interface `iface`.
    pub(in crate::core) fn pppoe_frame(&mut self, now: Instant, iface: usize, frame: &[u8]) {
        let Some(Some(ac)) = self.lac_mut().and_then(|l| l.acs.get_mut(iface)) else {
            return;
        };
        if let Received::Session { id, ppp } = ac.handle_frame(now, frame) {
            self.subscriber_frame(now, (iface, id), ppp);
        }
        self.drain_ac(now, iface);
    }

    /// What an access concentrator queued: frames to send, sessions up and down.
    fn drain_ac(&mut self, now: Instant, iface: usize) {
        let mut events = Vec::new();
        if let Some(lac) = self.lac_mut() {
            let Some(Some(ac)) = lac.acs.get_mut(iface) else {
                return;
            };
            while let Some(f) = ac.poll_transmit() {
                lac.out.push(iface, &f);
            }
            while let Some(e) = ac.poll_event() {
                events.push(e);
            }
        }
        for e in events {
            match e {
                AcEvent::SessionUp(info) => self.subscriber_up(now, iface, info),
                AcEvent::SessionDown {
                    id,
                    reason: DownReason::PeerTerminated,
                    ..
                } => self.subscriber_gone(now, (iface, id), "subscriber sent PADT", false),
                AcEvent::SessionDown { .. } => {}
            }
        }
    }

    /// Discovery completed: our link starts LCP with the subscriber.
    fn subscriber_up(&mut self, now: Instant, iface: usize, info: SessionInfo) {
        let seeded = self.seeded;
        let link = if seeded {
            let rng = StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy());
            Some(rng)
        } else {
            None
        };
        let Some(lac) = self.lac_mut() else {
            return;
        };
        let mut cfg = lac.link_config.clone();
        if info.max_mru() != cfg.mru {
            let mut c = (*cfg).clone();
            c.mru = info.max_mru();
            cfg = std::sync::Arc::new(c);
        }
        let link = match link {
            Some(rng) => Link::new(cfg, rng),
            None => Link::new(cfg, rand::rngs::OsRng),
        };
        // LCP starts when the subscriber's first frame arrives (its PPP is surely listening
        // then), or after a short wait for subscribers that wait for us.
        let start = now + LCP_START_WAIT;
        lac.timers.push(Reverse((start, (iface, info.id))));
        tracing::info!(interface = %lac.settings.interfaces[iface], mac = %info.peer, pppoe_session = info.id, "PPPoE session up");
        lac.subscribers.insert(
            (iface, info.id),
            Subscriber {
                mac: info.peer,
                user: None,
                auth: None,
                lns: None,
                stage: Stage::Negotiating {
                    link: Box::new(link),
                    capture: Box::default(),
                    timer: Some(start),
                },
                since: now,
                up_frames: 0,
                down_frames: 0,
                up_bytes: 0,
                down_bytes: 0,
            },
        );
        self.service_subscriber(now, (iface, info.id));
    }

    /// A PPP frame from a subscriber.
    fn subscriber_frame(&mut self, now: Instant, sid: SubscriberId, ppp: &[u8]) {
        let Some(lac) = self.lac_mut() else {
            return;
        };
        let Some(sub) = lac.subscribers.get_mut(&sid) else {
            return;
        };
        match &mut sub.stage {
            Stage::Negotiating { link, capture, .. } => {
                if link.phase() == ppp::Phase::Dead {
                    link.open(now);
                }
                capture.received(ppp);
                link.handle_frame(now, ppp);
                self.service_subscriber(now, sid);
            }
            Stage::Calling { attempt, .. } => {
                // RFC 1661 §5.8: "Upon reception of an Echo-Request in the LCP Opened state,
                // an Echo-Reply MUST be transmitted." The subscriber's LCP is open with us
                // while its call is placed (an LNS that does not answer can take tens of
                // seconds): its keepalives are answered so it does not hang up meanwhile.
                let magic = attempt.magic;
                let request = ppp::classify(ppp)
                    .ok()
                    .filter(|(proto, _)| *proto == Protocol::LCP)
                    .and_then(|(_, p)| ppp::packet::Packet::decode(p).ok())
                    .filter(|p| p.code == Code::ECHO_REQUEST && p.data.len() >= 4);
                match request {
                    Some(req) => {
                        let mut data = magic.to_be_bytes().to_vec();
                        data.extend_from_slice(&req.data[4..]);
                        let mut reply = Vec::new();
                        ppp::frame::encapsulate(
                            Protocol::LCP,
                            &ppp::packet::encode(Code::ECHO_REPLY, req.id, &data),
                            &mut reply,
                        );
                        lac.counters.echo_replied_while_calling += 1;
                        self.send_to_subscriber(sid, &reply);
                    }
                    None => lac.counters.dropped_while_calling += 1,
                }
            }
            Stage::Relaying { call } => {
                let call = *call;
                sub.up_frames += 1;
                sub.up_bytes += ppp.len() as u64;
                let terminate = match ppp::classify(ppp) {
                    Ok((Protocol::LCP, p)) if p.first() == Some(&LCP_TERMINATE_REQUEST) => {
                        p.get(1).copied()
                    }
                    _ => None,
                };
                // RFC 2661 §2: the LNS receives the PPP frame whole; PPPoE carries it
                // without Address and Control (RFC 2516 §7), which are put back.
                let prefix: &[u8] = if ppp.starts_with(&ADDRESS_CONTROL) {
                    &[]
                } else {
                    &ADDRESS_CONTROL
                };
                self.send_frame(call, prefix, ppp);
                if let Some(id) = terminate {
                    // RFC 1661 §5.5: "Upon reception of a Terminate-Request, a Terminate-Ack
                    // MUST be transmitted." The LNS hears the request too; the call ends.
                    let ack = [0xff, 0x03, 0xc0, 0x21, LCP_TERMINATE_ACK, id, 0, 4];
                    self.send_to_subscriber(sid, &ack);
                    tracing::info!(session = %call, "subscriber terminated LCP: CDN");
                    let rc = ResultCode::with_error(
                        ResultCode::CDN_ADMINISTRATIVE,
                        0,
                        Some("subscriber terminated PPP"),
                    );
                    let _ = self
                        .endpoint
                        .close_session(now, call.tunnel, call.session, rc);
                }
            }
        }
    }

    /// Sends a PPP frame to a subscriber (RFC 2516 §7: "The PPP packet ... begins with the
    /// PPP Protocol-ID", without Address and Control).
    fn send_to_subscriber(&mut self, (iface, id): SubscriberId, ppp: &[u8]) {
        if iface == super::switch::SWITCHED {
            return self.switch_frame_out((iface, id), ppp);
        }
        let ppp = ppp.strip_prefix(&ADDRESS_CONTROL).unwrap_or(ppp);
        let Some(lac) = self.lac_mut() else {
            return;
        };
        if let Some(Some(ac)) = lac.acs.get(iface) {
            lac.out
                .build(iface, |buf| ac.encapsulate_into(id, ppp, buf));
        }
    }

    /// Sends what the subscriber's link queued, acts on its events, re-arms its timer.
    pub(super) fn service_subscriber(&mut self, now: Instant, sid: SubscriberId) {
        let mut events = Vec::new();
        {
            let Some(lac) = self.lac_mut() else {
                return;
            };
            let Lac {
                acs,
                subscribers,
                out,
                timers,
                ..
            } = lac;
            let Some(sub) = subscribers.get_mut(&sid) else {
                return;
            };
            let Stage::Negotiating {
                link,
                capture,
                timer,
            } = &mut sub.stage
            else {
                return;
            };
            while let Some(f) = link.poll_transmit() {
                capture.sent(&f);
                let ppp = f.strip_prefix(&ADDRESS_CONTROL).unwrap_or(&f);
                if let Some(Some(ac)) = acs.get(sid.0) {
                    out.build(sid.0, |buf| ac.encapsulate_into(sid.1, ppp, buf));
                }
            }
            while let Some(e) = link.poll_event() {
                events.push(e);
            }
            if link.phase() != ppp::Phase::Dead {
                *timer = link.poll_timeout();
                if let Some(t) = *timer {
                    timers.push(Reverse((t, sid)));
                }
            }
        }
        for e in events {
            match e {
                PppEvent::AuthRequest {
                    ticket,
                    method,
                    user,
                    credentials,
                } => {
                    if self.lac_authorizes() {
                        self.lac_authorize(sid, ticket, user, method, credentials);
                        continue;
                    }
                    return self.place_call(now, sid, user, Vec::new());
                }
                PppEvent::Down { reason } => {
                    let why = format!("PPP {reason}");
                    return self.subscriber_gone(now, sid, &why, true);
                }
                _ => {}
            }
        }
    }

    /// The user name is known: the call goes to `steered` (RADIUS tunnels) when there are
    /// any, else to the LNS group of the user's realm, with what the subscriber negotiated as
    /// proxy AVPs.
    pub(super) fn place_call(
        &mut self,
        now: Instant,
        sid: SubscriberId,
        user: String,
        steered: Vec<LnsTarget>,
    ) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        let Some(sub) = lac.subscribers.get_mut(&sid) else {
            return;
        };
        let Stage::Negotiating { capture, .. } = &sub.stage else {
            return;
        };
        let proxy = super::proxy::proxy_info(capture.lcp().as_ref(), capture.auth());
        sub.user = Some(user.clone());
        let calling = format!("{}", sub.mac);
        let group = if steered.is_empty() {
            lac.settings.steering.group(&user)
        } else {
            &steered
        };
        if group.is_empty() {
            lac.counters.no_lns += 1;
            tracing::warn!(%user, "no LNS for this user's realm: PADT");
            return self.subscriber_gone(now, sid, "no LNS for this realm", true);
        }
        let ordered = super::steer::order(group, &mut self.rng);
        let lac = self.lac.as_deref_mut().expect("checked above");
        let candidates = lac.lockouts.arrange(ordered, now);
        let access_line = lac
            .acs
            .get(sid.0)
            .and_then(Option::as_ref)
            .and_then(|ac| ac.session(sid.1))
            .and_then(|s| s.access_line.as_ref())
            .map(access_line_avps);
        let params = CallParams {
            calling_number: Some(calling),
            // RFC 2661 §4.4.5 Framing Type: PPPoE frames are synchronous (no HDLC).
            framing_type: 1,
            bearer_type: 1,
            connect_speed: 10_000_000,
            proxy: (!proxy.is_empty()).then(|| Box::new(proxy)),
            access_line: access_line.filter(|a| !a.is_empty()).map(Box::new),
            ..CallParams::default()
        };
        self.try_candidates(now, sid, params, candidates);
    }

    /// Places subscriber `sid`'s call toward the first of `candidates` that takes it (a
    /// tunnel to it reused or opened); PADT when none is left.
    pub(super) fn try_candidates(
        &mut self,
        now: Instant,
        sid: SubscriberId,
        params: CallParams,
        candidates: Vec<LnsTarget>,
    ) {
        // Our Magic-Number with the subscriber: from its link, or from the call placed before.
        let magic = self
            .lac
            .as_deref()
            .and_then(|l| l.subscribers.get(&sid))
            .map_or(0, |s| match &s.stage {
                Stage::Negotiating { link, .. } => link.our_magic(),
                Stage::Calling { attempt, .. } => attempt.magic,
                Stage::Relaying { .. } => 0,
            });
        let mut left = candidates.into_iter();
        while let Some(target) = left.next() {
            let Some(tunnel) = self.tunnel_for(now, &target) else {
                continue;
            };
            // What this LNS is sent of the proxy AVPs (its per-peer profile).
            let mut this = params.clone();
            if let Some(lac) = self.lac.as_deref() {
                let send = lac
                    .settings
                    .send_proxy
                    .iter()
                    .find(|(r, _)| r.matches(target.addr.ip(), None))
                    .map_or(SendProxy::All, |(_, s)| *s);
                this.proxy = send.apply(this.proxy);
            }
            match self.endpoint.place_incoming_call(now, tunnel, this) {
                Ok(session) => {
                    let call = SessionKey::new(tunnel, session);
                    let lac = self.lac.as_deref_mut().expect("a LAC places calls");
                    let Some(sub) = lac.subscribers.get_mut(&sid) else {
                        return;
                    };
                    let user = sub.user.as_deref().unwrap_or("");
                    tracing::info!(%user, lns = %target.addr, session = %call, "calling LNS with proxy LCP and authentication");
                    sub.lns = Some(target.addr);
                    // The link (if still there) is dropped unanswered: the LNS answers the
                    // authentication.
                    sub.stage = Stage::Calling {
                        call,
                        attempt: Box::new(Attempt {
                            params,
                            target,
                            rest: left.collect(),
                            magic,
                        }),
                    };
                    lac.counters.calls_placed += 1;
                    lac.add_call(call, sid);
                    return;
                }
                Err(e) => tracing::warn!(lns = %target.addr, "cannot place the call: {e}"),
            }
        }
        self.subscriber_gone(now, sid, "no LNS of the group took the call", true);
    }

    /// A tunnel toward `target` with room for a call: one of ours, else a new one.
    fn tunnel_for(&mut self, now: Instant, target: &LnsTarget) -> Option<TunnelId> {
        let key = target.tunnel_key();
        let lac = self.lac.as_deref()?;
        if let Some(t) = lac.tunnel_with_room(&key) {
            return Some(t);
        }
        let lns = target.addr;
        let local = self
            .locals
            .iter()
            .copied()
            .find(|l| l.is_ipv4() == lns.is_ipv4())
            .unwrap_or(self.locals[0]);
        let auth = target.secret.as_ref().map(|s| PeerAuth {
            secret: Some(s.clone()),
            ..self.endpoint.config().auth_for(lns.ip()).clone()
        });
        let opts = TunnelOptions {
            auth,
            host_name: target.client_name.clone(),
            ..TunnelOptions::default()
        };
        match self.endpoint.open_tunnel(now, local, lns, opts) {
            Ok(t) => {
                tracing::info!(tunnel = %t, %lns, "dialing LNS");
                let lac = self.lac.as_deref_mut()?;
                lac.tunnels.entry(key.clone()).or_default().push(t);
                lac.tunnel_use.insert(
                    t,
                    TunnelUse {
                        key,
                        calls: 0,
                        max_calls: target.max_sessions_per_tunnel,
                    },
                );
                Some(t)
            }
            Err(e) => {
                tracing::error!(%lns, "cannot open a tunnel: {e}");
                None
            }
        }
    }

    /// A call still being placed failed (`why`): its LNS is locked out, and the call goes to
    /// the next candidate; PADT when none is left.
    fn call_failed(&mut self, now: Instant, sid: SubscriberId, why: &str) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        let Some(sub) = lac.subscribers.get_mut(&sid) else {
            return;
        };
        let Stage::Calling { attempt, .. } = &mut sub.stage else {
            return;
        };
        let params = std::mem::take(&mut attempt.params);
        let rest = std::mem::take(&mut attempt.rest);
        let lns = attempt.target.addr;
        let lockout = lac.settings.lockout;
        if lac.lockouts.lock(lns, now, lockout) {
            lac.counters.lockouts += 1;
            tracing::warn!(%lns, reason = why, lockout_s = lockout.as_secs(), "LNS failed a call: locked out");
        } else {
            tracing::debug!(%lns, reason = why, "LNS failed a call: locked out already");
        }
        if rest.is_empty() {
            return self.subscriber_gone(now, sid, "no LNS of the group answered", true);
        }
        lac.counters.calls_retried += 1;
        self.try_candidates(now, sid, params, rest);
    }

    /// A subscriber is gone (or must go): its call is cleared, a PADT sent when `padt`.
    pub(super) fn subscriber_gone(
        &mut self,
        now: Instant,
        sid: SubscriberId,
        why: &str,
        padt: bool,
    ) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        let Some(mut sub) = lac.subscribers.remove(&sid) else {
            return;
        };
        if padt {
            if let Some(Some(ac)) = lac.acs.get_mut(sid.0) {
                ac.terminate(sid.1, Some(why));
                while let Some(f) = ac.poll_transmit() {
                    lac.out.push(sid.0, &f);
                }
                while ac.poll_event().is_some() {}
            }
        }
        if !matches!(sub.stage, Stage::Relaying { .. }) {
            lac.counters.calls_failed += 1;
        }
        if let Some(p) = sub.auth.take() {
            self.out.push(crate::core::Output::AuthCancel(p.request));
        }
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        if sid.0 == super::switch::SWITCHED {
            tracing::info!(
                user = sub.user.as_deref().unwrap_or(""),
                reason = why,
                "switched call down"
            );
        } else {
            tracing::info!(interface = %lac.settings.interfaces[sid.0], mac = %sub.mac, pppoe_session = sid.1, user = sub.user.as_deref().unwrap_or(""), reason = why, "PPPoE session down");
        }
        let switched = sid.0 == super::switch::SWITCHED;
        if let Some(call) = sub.call().filter(|c| lac.remove_call(*c).is_some()) {
            let rc = ResultCode::with_error(ResultCode::CDN_LOST_CARRIER, 0, Some(why));
            let _ = self
                .endpoint
                .close_session(now, call.tunnel, call.session, rc);
            self.datapath.remove_session(call);
            self.frames.forget(call);
        }
        if switched {
            self.switch_gone(now, sid, why, padt);
        }
    }

    /// The control plane's events about our calls and tunnels; the others are given back.
    pub(in crate::core) fn lac_control_event(
        &mut self,
        now: Instant,
        ev: CtlEvent,
    ) -> Option<CtlEvent> {
        let Some(lac) = self.lac.as_deref_mut() else {
            return Some(ev);
        };
        match ev {
            CtlEvent::SessionUp {
                tunnel,
                session,
                peer_tunnel,
                peer_session,
                peer,
                sequencing_required,
                ..
            } if lac.by_call.contains_key(&SessionKey::new(tunnel, session)) => {
                let call = SessionKey::new(tunnel, session);
                let mut opts = self.session_options;
                opts.lns_mode = false;
                opts.send_seq |= sequencing_required;
                let cfg = SessionConfig::new(tunnel, session, peer_tunnel, peer_session, peer)
                    .with_options(opts);
                if let Err(e) = self.datapath.create_session(cfg) {
                    tracing::error!(session = %call, "datapath session: {e}");
                    let sid = self
                        .lac
                        .as_deref()
                        .and_then(|l| l.by_call.get(&call).copied());
                    if let Some(sid) = sid {
                        self.subscriber_gone(now, sid, "no datapath for the call", true);
                    }
                    return None;
                }
                let lac = self.lac.as_deref_mut().expect("checked above");
                let sid = lac.by_call[&call];
                if let Some(sub) = lac.subscribers.get_mut(&sid) {
                    sub.stage = Stage::Relaying { call };
                    lac.counters.calls_up += 1;
                    tracing::info!(session = %call, user = sub.user.as_deref().unwrap_or(""), mac = %sub.mac, "relaying PPPoE session into L2TP");
                }
                if sid.0 == super::switch::SWITCHED {
                    self.switch_flush_early(sid, call);
                }
                self.replay_early_frames(now, call);
                None
            }
            CtlEvent::SessionUp {
                tunnel,
                session,
                peer_tunnel,
                peer_session,
                peer,
                sequencing_required,
                proxy,
                ..
            } if lac.settings.switching => {
                let key = SessionKey::new(tunnel, session);
                self.switch_call_up(
                    now,
                    key,
                    (peer_tunnel, peer_session),
                    peer,
                    sequencing_required,
                    proxy,
                );
                None
            }
            CtlEvent::SessionDown {
                tunnel,
                session,
                reason,
            } if lac
                .by_incoming
                .contains_key(&SessionKey::new(tunnel, session)) =>
            {
                // The LAC cleared the incoming call: the call toward the LNS goes too.
                let key = SessionKey::new(tunnel, session);
                let sid = lac.by_incoming[&key];
                let why = format!("incoming call down: {reason}");
                if let Some(l) = self.lac.as_deref_mut() {
                    l.switched.remove(&sid.1);
                    l.by_incoming.remove(&key);
                    l.switch_early.remove(&sid);
                }
                self.datapath.remove_session(key);
                self.frames.forget(key);
                self.subscriber_gone(now, sid, &why, false);
                None
            }
            CtlEvent::SessionDown {
                tunnel,
                session,
                reason,
            } if lac.by_call.contains_key(&SessionKey::new(tunnel, session)) => {
                let call = SessionKey::new(tunnel, session);
                // The call is already gone: `subscriber_gone` has none to clear.
                let sid = lac.remove_call(call).expect("checked above");
                let calling = lac
                    .subscribers
                    .get(&sid)
                    .is_some_and(|s| matches!(s.stage, Stage::Calling { .. }));
                self.datapath.remove_session(call);
                self.frames.forget(call);
                let why = format!("L2TP session down: {reason}");
                match reason {
                    // A call refused or lost before it was up goes to the next LNS; not one
                    // we cleared ourselves.
                    SessionDownReason::Local(_) => {}
                    _ if calling => {
                        if reason == SessionDownReason::TunnelDown {
                            // The tunnel failed: no other call may be placed in it.
                            let lac = self.lac.as_deref_mut().expect("checked above");
                            lac.remove_tunnel(tunnel);
                        }
                        self.call_failed(now, sid, &why);
                        return None;
                    }
                    _ => {}
                }
                self.subscriber_gone(now, sid, &why, true);
                None
            }
            CtlEvent::TunnelDown { tunnel, ref reason } => {
                // An LNS that closed or lost a tunnel we did not close is locked out.
                if let Some(lns) = lac.remove_tunnel(tunnel) {
                    if !matches!(reason, TunnelDownReason::Local(_)) {
                        let lockout = lac.settings.lockout;
                        if lac.lockouts.lock(lns, now, lockout) {
                            lac.counters.lockouts += 1;
                            tracing::warn!(%lns, %reason, lockout_s = lockout.as_secs(), "tunnel to the LNS lost: locked out");
                        }
                    }
                }
                Some(ev)
            }
            ev => Some(ev),
        }
    }

    /// A PPP frame from the LNS for one of our calls: to its subscriber, untouched. False
    /// when the call is not ours.
    pub(in crate::core) fn lac_frame_from_lns(&mut self, key: SessionKey, frame: &[u8]) -> bool {
        let Some(lac) = self.lac_mut() else {
            return false;
        };
        let Some(&sid) = lac.by_call.get(&key) else {
            return self.switch_frame_in(key, frame);
        };
        if let Some(sub) = lac.subscribers.get_mut(&sid) {
            sub.down_frames += 1;
            sub.down_bytes += frame.len() as u64;
        }
        self.send_to_subscriber(sid, frame);
        true
    }

    /// Subscriber links whose timers are due.
    pub(in crate::core) fn lac_timers(&mut self, now: Instant) {
        let Some(lac) = self.lac_mut() else {
            return;
        };
        let mut due = Vec::new();
        while let Some(&Reverse((t, sid))) = lac.timers.peek() {
            if t > now {
                break;
            }
            lac.timers.pop();
            // Only the subscriber's current timer counts; older entries are stale.
            if let Some(Subscriber {
                stage: Stage::Negotiating { link, timer, .. },
                ..
            }) = lac.subscribers.get_mut(&sid)
            {
                if *timer == Some(t) {
                    *timer = None;
                    if link.phase() == ppp::Phase::Dead {
                        link.open(now);
                    }
                    link.handle_timeout(now);
                    due.push(sid);
                }
            }
        }
        for sid in due {
            self.service_subscriber(now, sid);
        }
    }

    /// Shutting down: every subscriber hears a PADT.
    pub(in crate::core) fn lac_shutdown(&mut self, now: Instant) {
        let Some(lac) = self.lac_mut() else {
            return;
        };
        let all: Vec<SubscriberId> = lac.subscribers.keys().copied().collect();
        for sid in all {
            self.subscriber_gone(now, sid, "LAC shutting down", true);
        }
    }
}

/// RFC 5515 access-line AVPs from a TR-101 tag (its rates are in kbit/s, the AVPs' in
/// bit/s).
fn access_line_avps(a: &pppoe::AccessLine) -> l2tp_wire::access_line::AccessLine {
    use pppoe::tr101::{SUB_ACTUAL_DATA_RATE_DOWN, SUB_ACTUAL_DATA_RATE_UP};
    l2tp_wire::access_line::AccessLine {
        agent_circuit_id: a.circuit_id().map(<[u8]>::to_vec),
        agent_remote_id: a.remote_id().map(<[u8]>::to_vec),
        actual_data_rate_upstream: a.rate(SUB_ACTUAL_DATA_RATE_UP).map(|r| u64::from(r) * 1000),
        actual_data_rate_downstream: a
            .rate(SUB_ACTUAL_DATA_RATE_DOWN)
            .map(|r| u64::from(r) * 1000),
        other: Vec::new(),
    }
}
