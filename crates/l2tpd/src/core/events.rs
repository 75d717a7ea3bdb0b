//! Session life from the engines' events: the control plane's (tunnel and session up and
//! down, incoming tunnels and calls) and each PPP link's (authentication, network phases,
//! link down). A session is created here when its call is established and removed here,
//! with everything it holds, when either engine ends it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::{CallParams, Event as CtlEvent, SessionDownReason};
use l2tp_proto::data::{SessionConfig, SessionKey};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};
use ppp::{Event as PppEvent, Link};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::sessions::Session;
use super::{Core, RoleSettings};

impl Core {
    pub(super) fn on_control_event(&mut self, now: Instant, ev: CtlEvent) {
        let Some(ev) = self.failover_event(now, ev) else {
            return;
        };
        let Some(ev) = self.lac_control_event(now, ev) else {
            return;
        };
        match ev {
            CtlEvent::IncomingTunnel { tunnel, peer, .. } => {
                self.decide_tunnel(now, tunnel, peer);
            }
            CtlEvent::TunnelUp {
                tunnel,
                peer_tunnel,
                peer,
                local,
            } => {
                if self.enforce_tunnel_limit(now, tunnel, peer) {
                    return;
                }
                tracing::info!(node = %self.name, %tunnel, %peer_tunnel, %peer, "tunnel up");
                self.admission.tunnel_since.insert(tunnel, now);
                self.admission.tunnel_peer.insert(tunnel, peer);
                let socket = l2tp_proto::data::SocketId(self.socket_index(local) as u32);
                if let Err(e) = self.datapath.create_tunnel(tunnel, socket, peer) {
                    // A tunnel whose datapath cannot exist carries no session: refused
                    // (StopCCN, General error) rather than kept up empty.
                    tracing::error!(node = %self.name, %tunnel, "datapath tunnel: {e}");
                    let _ = self.endpoint.close_tunnel(
                        now,
                        tunnel,
                        ResultCode::with_error(
                            ResultCode::STOPCCN_GENERAL_ERROR,
                            ResultCode::ERROR_NO_RESOURCES,
                            Some("no datapath for the tunnel"),
                        ),
                    );
                    return;
                }
                if self.dialler.tunnel_up(tunnel) {
                    let n = match &self.role {
                        RoleSettings::Client(c) => c.sessions,
                        RoleSettings::Lns(_) | RoleSettings::Lac(_) => 0,
                    };
                    for _ in 0..n {
                        if let Err(e) =
                            self.endpoint
                                .place_incoming_call(now, tunnel, CallParams::default())
                        {
                            tracing::error!(node = %self.name, %tunnel, "placing call: {e}");
                        }
                    }
                }
            }
            CtlEvent::TunnelDown { tunnel, reason } => {
                if reason == l2tp_proto::control::TunnelDownReason::AuthFailed {
                    self.counters.tunnel_auth_failures += 1;
                }
                let cause = super::radius::tunnel_cause(&reason);
                let keys = self.sessions.keys_of_tunnel(tunnel);
                // Its sessions' lines first (with the tunnel's reason), then its own.
                let why = format!("tunnel down: {reason}");
                for k in &keys {
                    self.log_session_down(now, *k, &why);
                }
                self.log_tunnel_down(now, tunnel, keys.len(), &reason);
                self.remove_interfaces(&keys);
                for k in keys {
                    self.radius_cause(k, cause);
                    self.remove_session(now, k);
                }
                self.datapath.remove_tunnel(tunnel);
                self.admission.tunnel_since.remove(&tunnel);
                self.admission.tunnel_peer.remove(&tunnel);
                self.tunnel_gone(now, tunnel);
            }
            CtlEvent::IncomingCall {
                tunnel,
                session,
                info,
                kind,
            } => {
                self.radius_call(SessionKey::new(tunnel, session), &info);
                self.decide_call(now, tunnel, session, kind)
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
            } => {
                let ids = (tunnel, session, peer_tunnel, peer_session);
                self.session_up(now, ids, peer, sequencing_required, proxy);
            }
            CtlEvent::SessionDown {
                tunnel,
                session,
                reason,
            } => {
                // A tunnel going down reports each session, then itself: its sessions are
                // logged and removed together at `TunnelDown` (their interfaces in one
                // batch), with the tunnel's reason as their terminate cause.
                if !matches!(reason, SessionDownReason::TunnelDown) {
                    let key = SessionKey::new(tunnel, session);
                    self.radius_cause(key, super::radius::l2tp_cause(&reason));
                    self.log_session_down(now, key, &reason);
                    self.remove_session(now, key);
                }
                // The LNS hung up one call: dial it again after a pause.
                if self.dialler.is_up(tunnel) && !matches!(reason, SessionDownReason::TunnelDown) {
                    self.schedule_redial(now);
                }
            }
            CtlEvent::SetLinkInfo {
                tunnel,
                session,
                send_accm,
                receive_accm,
            } => {
                // RFC 2661 §6.14: the LNS sets "PPP-negotiated options" (the ACCM) on the
                // call: handed to the session's PPP link (established calls only).
                let key = SessionKey::new(tunnel, session);
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.link.set_accm(send_accm, receive_accm);
                }
                tracing::info!(node = %self.name, session = %key, send_accm = format_args!("{send_accm:#010x}"), receive_accm = format_args!("{receive_accm:#010x}"), "SLI: ACCM set");
            }
            CtlEvent::WanErrorNotify {
                tunnel,
                session,
                crc_errors,
                framing_errors,
                hardware_overruns,
                buffer_overruns,
                timeout_errors,
                alignment_errors,
            } => {
                // Kept per session by the control plane (`l2tpctl show session`).
                tracing::info!(node = %self.name, %tunnel, %session, crc_errors, framing_errors, hardware_overruns, buffer_overruns, timeout_errors, alignment_errors, "WAN error notify");
            }
        }
    }

    /// A call is established: its datapath session and its PPP link.
    fn session_up(
        &mut self,
        now: Instant,
        (tunnel, session, peer_tunnel, peer_session): (TunnelId, SessionId, TunnelId, SessionId),
        peer: SocketAddr,
        sequencing_required: bool,
        proxy: Option<Box<l2tp_proto::control::ProxyInfo>>,
    ) {
        self.admission
            .call_settled(SessionKey::new(tunnel, session));
        let mut opts = self.session_options;
        opts.lns_mode = matches!(self.role, RoleSettings::Lns(_));
        if sequencing_required {
            // RFC 2661 §4.4.6 Sequencing Required: data messages must carry sequence numbers.
            opts.send_seq = true;
        }
        let cfg =
            SessionConfig::new(tunnel, session, peer_tunnel, peer_session, peer).with_options(opts);
        let key = match self.datapath.create_session(cfg) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(node = %self.name, %tunnel, %session, "datapath session: {e}");
                let _ = self.endpoint.close_session(
                    now,
                    tunnel,
                    session,
                    ResultCode::with_error(
                        ResultCode::CDN_GENERAL_ERROR,
                        ResultCode::ERROR_NO_RESOURCES,
                        None,
                    ),
                );
                return;
            }
        };
        let link_cfg = self.link_config.clone();
        // Each link draws its few random values (magic number, CHAP challenges) straight
        // from the OS: no per-session RNG state to keep. Seeded nodes (tests) stay
        // reproducible with a seeded generator.
        let mut link = if self.seeded {
            let rng = StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy());
            Link::new(link_cfg, rng)
        } else {
            Link::new(link_cfg, rand::rngs::OsRng)
        };
        match self.datapath.ppp_process(key) {
            // PPP is pppd's: the link stays closed (no frame, no timer), kept for the table.
            Some(pid) => {
                tracing::info!(node = %self.name, session = %key, %peer, "session up, PPP handed to pppd (pid {pid})")
            }
            None => {
                tracing::info!(node = %self.name, session = %key, %peer, "session up, PPP starting");
                self.open_link(now, key, &mut link, proxy);
            }
        }
        let mut s = Session::new(link, now);
        s.radius = self.radius_session_up(key);
        self.sessions.insert(key, s);
        self.journal_mark(key);
        self.arm_timeouts(key);
        self.dirty.push(key);
        self.replay_early_frames(now, key);
    }

    pub(super) fn on_ppp_event(&mut self, now: Instant, key: SessionKey, ev: PppEvent) {
        // The crash journal follows the link from event to event (LCP up, authentication,
        // NCPs up or down): what the negotiation does in between, and the echoes once it is
        // up, change nothing a restart needs.
        self.journal_mark(key);
        match ev {
            PppEvent::LinkUp => tracing::debug!(node = %self.name, session = %key, "LCP up"),
            PppEvent::AuthRequest {
                ticket,
                user,
                method,
                credentials,
            } => self.authenticate(now, key, ticket, user, method, credentials),
            PppEvent::Authenticated { user, method } => {
                tracing::info!(node = %self.name, session = %key, %user, ?method, "authenticated");
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.admit().user = Some(user);
                }
            }
            PppEvent::NetworkUp { ipv4 } => {
                tracing::info!(node = %self.name, session = %key, local = %ipv4.local, peer = %ipv4.peer, "IPCP up");
                self.counters.sessions_up_total += 1;
                // A session that completed PPP proves the dial works: redial quickly next time.
                self.dialler.backoff = Duration::ZERO;
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.set_ipv4(Some(ipv4));
                    s.shrink_pending = true;
                }
                if matches!(self.role, RoleSettings::Lns(_)) {
                    self.sessions.route_v4(ipv4.peer, key);
                }
                if let Some(app) = self.app.as_mut() {
                    app.session_up(now, key, ipv4);
                }
                self.attach_ip(key, ipv4);
                self.radius_network_up(now, key);
            }
            PppEvent::NetworkDown => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    if let Some(p) = s.ipv4() {
                        s.set_ipv4(None);
                        self.sessions.unroute_v4(p.peer);
                    }
                }
            }
            PppEvent::Ipv6Up {
                local_iid,
                peer_iid,
            } => {
                let (local, peer) = (link_local(local_iid), link_local(peer_iid));
                tracing::info!(node = %self.name, session = %key, %local, %peer, "IPv6CP up");
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.ipv6_opened((local_iid, peer_iid), local);
                    s.shrink_pending = true;
                }
                self.setup_ipv6(key);
                if let Some(app) = self.app.as_mut() {
                    app.session_up_v6(now, key, local, peer);
                }
                // Accounting starts with the first network protocol up, IPv6 included.
                self.radius_network_up(now, key);
            }
            PppEvent::Ipv6Down => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.ipv6_closed();
                }
            }
            PppEvent::Ipv4Packet(p) | PppEvent::Ipv6Packet(p) => {
                if let Some(app) = self.app.as_mut() {
                    app.packet(now, key, &p, &mut self.outbox);
                }
            }
            PppEvent::Down { reason } => {
                self.radius_cause(key, super::radius::ppp_cause(&reason));
                let result = cdn_for_ppp_down(&reason);
                if is_auth_failure(&reason) {
                    self.counters.auth_failures += 1;
                    if let Some(suppressed) = self.log_limit.allow(now, "PPP authentication failed")
                    {
                        tracing::warn!(node = %self.name, session = %key, suppressed, reason = %reason, "PPP authentication failed");
                    }
                } else {
                    // The session-down line that follows carries the same words.
                    tracing::debug!(node = %self.name, session = %key, reason = %reason, "PPP down");
                }
                let _ = self
                    .endpoint
                    .close_session(now, key.tunnel, key.session, result);
            }
        }
    }

    /// The pppd running a session's PPP exited: the call is cleared (CDN) with why.
    pub(super) fn ppp_process_exited(
        &mut self,
        now: Instant,
        key: SessionKey,
        result: u16,
        why: &str,
    ) {
        tracing::warn!(node = %self.name, session = %key, "{why}: call cleared (CDN result {result})");
        let _ = self.endpoint.close_session(
            now,
            key.tunnel,
            key.session,
            ResultCode::with_error(result, 0, Some(why)),
        );
    }

    /// Ends a session: its link, its table entry and indexes, its addresses, its interface,
    /// its datapath handle, whatever was held for it.
    pub(super) fn remove_session(&mut self, now: Instant, key: SessionKey) {
        self.journal_mark(key);
        if let Some(mut s) = self.sessions.remove(key) {
            if let Some(req) = s.take_pending_auth() {
                self.out.push(super::Output::AuthCancel(*req));
            }
            self.radius_session_gone(now, key, &s);
            s.link.lower_down(now);
            // The link may already know it failed authentication (a client that refused the
            // only protocol the LNS offers, and was hung up on): count it like any other.
            while let Some(ev) = s.link.poll_event() {
                if let PppEvent::Down { reason } = ev {
                    if is_auth_failure(&reason) {
                        self.counters.auth_failures += 1;
                        if let Some(suppressed) =
                            self.log_limit.allow(now, "PPP authentication failed")
                        {
                            tracing::warn!(node = %self.name, session = %key, suppressed, reason = %reason, "PPP authentication failed");
                        }
                    }
                }
            }
            self.release_ip(key, &s);
            if let Some(app) = self.app.as_mut() {
                app.session_down(key);
            }
        }
        self.datapath.remove_session(key);
        self.frames.forget(key);
        self.deadlines.forget(key);
        self.admission.call_settled(key);
    }
}

/// The link-local IPv6 address fe80::/64 + interface identifier.
pub(super) fn link_local(iid: [u8; 8]) -> std::net::Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&iid);
    o.into()
}

/// The CDN that clears a session whose PPP link went down: the reason in words (RFC 2661
/// §4.4.2 error message), with a result code that says whose doing it was.
fn cdn_for_ppp_down(reason: &ppp::DownReason) -> l2tp_wire::result::ResultCode {
    use l2tp_wire::result::ResultCode;
    use ppp::DownReason as R;
    let code = match reason {
        R::AuthRefused | R::AuthFailed(_) => ResultCode::CDN_GENERAL_ERROR,
        R::EstablishTimeout => ResultCode::CDN_TIMEOUT,
        R::KeepaliveTimeout => ResultCode::CDN_LOST_CARRIER,
        _ => ResultCode::CDN_ADMINISTRATIVE,
    };
    // The same words as the session-down log line's reason.
    let text = format!("PPP {reason}");
    ResultCode::with_error(code, 0, Some(&text))
}

/// Whether a PPP link went down because authentication failed (either role).
fn is_auth_failure(reason: &ppp::DownReason) -> bool {
    matches!(
        reason,
        ppp::DownReason::AuthRefused | ppp::DownReason::AuthFailed(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppp_failures_become_cdns_that_say_why() {
        let rc = cdn_for_ppp_down(&ppp::DownReason::EstablishTimeout);
        assert_eq!(rc.result, ResultCode::CDN_TIMEOUT);
        assert_eq!(rc.message.as_deref(), Some("PPP establishment timed out"));
        let rc = cdn_for_ppp_down(&ppp::DownReason::AuthRefused);
        assert_eq!(rc.result, ResultCode::CDN_GENERAL_ERROR);
        assert!(rc.message.unwrap().contains("no authentication protocol"));
        assert!(is_auth_failure(&ppp::DownReason::AuthRefused));
        assert!(is_auth_failure(&ppp::DownReason::AuthFailed("x".into())));
        assert!(!is_auth_failure(&ppp::DownReason::EstablishTimeout));
    }
}
