//! Management: answers requests (from `l2tpctl` through the management socket) from the
//! core's live state: tunnels and sessions with their counters, option changes applied to
//! the datapath as `setsockopt` would, closing, dialling and hanging up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use l2tp_mgmt as mgmt;
use l2tp_proto::control::{SessionStateKind, TunnelInfo, TunnelStateKind};
use l2tp_proto::data::{DebugMask, L2tpStats, SessionKey, SessionOption};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};
use ppp::Phase;

use super::session::Interface;
use super::{Core, RoleSettings};

pub(super) fn counters(s: L2tpStats) -> mgmt::DatapathCounters {
    mgmt::DatapathCounters {
        tx_packets: s.tx_packets,
        tx_bytes: s.tx_bytes,
        tx_errors: s.tx_errors,
        rx_packets: s.rx_packets,
        rx_bytes: s.rx_bytes,
        rx_seq_discards: s.rx_seq_discards,
        rx_oos_packets: s.rx_oos_packets,
        rx_errors: s.rx_errors,
    }
}

fn tunnel_state(s: TunnelStateKind) -> &'static str {
    match s {
        TunnelStateKind::WaitCtlReply => "wait-ctl-reply",
        TunnelStateKind::WaitDecision => "wait-decision",
        TunnelStateKind::WaitCtlConn => "wait-ctl-conn",
        TunnelStateKind::Established => "established",
        TunnelStateKind::Closing => "closing",
    }
}

fn session_state(s: SessionStateKind, phase: Option<Phase>) -> String {
    let l2tp = match s {
        SessionStateKind::WaitTunnel => "wait-tunnel",
        SessionStateKind::WaitDecision => "wait-decision",
        SessionStateKind::WaitReply => "wait-reply",
        SessionStateKind::WaitConnect => "wait-connect",
        SessionStateKind::Established => "established",
    };
    match phase {
        None => l2tp.to_string(),
        Some(p) => format!("{l2tp}/ppp-{}", format!("{p:?}").to_lowercase()),
    }
}

impl Core {
    /// Answers one management request; `None` when the answer comes later (a `dial` whose
    /// LNS name is being resolved), as an output quoting `token`.
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        token: u64,
        req: mgmt::Request,
    ) -> Option<mgmt::Response> {
        use mgmt::{Request as Q, Response as R};
        Some(match req {
            Q::ListTunnels => R::Tunnels(
                self.endpoint
                    .tunnels()
                    .map(|t| self.tunnel_info(now, &t))
                    .collect(),
            ),
            Q::ShowTunnel { id } => match self.endpoint.tunnel_info(TunnelId(id)) {
                Some(t) => R::Tunnel(self.tunnel_info(now, &t)),
                None => R::error(format!("no tunnel {id}")),
            },
            Q::ListSessions => {
                let tunnels: Vec<TunnelId> = self.endpoint.tunnels().map(|t| t.tunnel).collect();
                let mut v = Vec::new();
                for t in tunnels {
                    let ids: Vec<SessionId> =
                        self.endpoint.sessions(t).map(|s| s.session).collect();
                    v.extend(ids.into_iter().filter_map(|s| self.session_info(now, t, s)));
                }
                R::Sessions(v)
            }
            Q::ShowSession { tunnel, session } => {
                match self.session_info(now, TunnelId(tunnel), SessionId(session)) {
                    Some(s) => R::Session(s),
                    None => R::error(format!("no session {tunnel}/{session}")),
                }
            }
            Q::SetSessionOption {
                tunnel,
                session,
                option,
            } => {
                let key = SessionKey::new(TunnelId(tunnel), SessionId(session));
                let opt = match option {
                    mgmt::SessionOption::SendSeq(b) => SessionOption::SendSeq(b),
                    mgmt::SessionOption::RecvSeq(b) => SessionOption::RecvSeq(b),
                    mgmt::SessionOption::LnsMode(b) => SessionOption::LnsMode(b),
                    mgmt::SessionOption::ReorderTimeout(ms) => {
                        SessionOption::ReorderTimeout(Duration::from_millis(u64::from(ms)))
                    }
                    mgmt::SessionOption::Debug(m) => SessionOption::Debug(DebugMask(m)),
                };
                match self.datapath.set_option(key, opt) {
                    Ok(()) => {
                        if opt == SessionOption::SendSeq(true) {
                            // Put a sequenced frame on the wire at once: a LAC starts sending
                            // Ns when it sees ours, and an LNS drops its seq-less data until
                            // then (RFC 2661 §5.4; the kernel's rule), so with no traffic from
                            // us the session would stall until the next LCP echo.
                            if let Some(s) = self.sessions.get_mut(&key) {
                                if s.link.send_echo_request() {
                                    self.dirty.push(key);
                                }
                            }
                        }
                        R::Ok
                    }
                    Err(e) => R::error(e.to_string()),
                }
            }
            Q::SetTunnelDebug { tunnel, mask } => {
                match self
                    .datapath
                    .set_tunnel_debug(TunnelId(tunnel), DebugMask(mask))
                {
                    Ok(()) => R::Ok,
                    Err(e) => R::error(e.to_string()),
                }
            }
            Q::CloseSession { tunnel, session } => self.close_session_cmd(now, tunnel, session),
            // The shell answers it (it reads the configuration file); a core alone cannot.
            Q::Reload => R::error("reload: no configuration file to re-read"),
            Q::Upgrade { .. } => R::error("upgrade: only a daemon can hand itself over"),
            Q::ListPppoe => match self.lac.as_deref() {
                Some(l) => R::PppoeSessions(l.pppoe_infos(now)),
                None => R::error("pppoe: this daemon is not a relaying LAC (no [lac] section)"),
            },
            Q::CloseTunnel { tunnel } => self.close_tunnel_cmd(now, tunnel),
            Q::CloseMatching { selector } => self.close_matching_cmd(now, &selector),
            Q::HangUp {
                tunnel: Some(t),
                session: Some(s),
            } => self.close_session_cmd(now, t, s),
            Q::HangUp {
                tunnel: Some(t),
                session: None,
            } => self.close_tunnel_cmd(now, t),
            Q::HangUp { tunnel: None, .. } if matches!(self.role, RoleSettings::Lns(_)) => {
                // On an LNS "everything" is every subscriber's session: name a tunnel or
                // session (or use `close`), as `dial` is refused here too.
                R::error("hangup: this daemon is an LNS; name a tunnel (and session) to close")
            }
            Q::HangUp { tunnel: None, .. } => {
                for t in self.hang_up_all() {
                    let _ = self.close_tunnel_cmd(now, t.0);
                }
                R::Ok
            }
            Q::Dial { peer } => return self.dial_cmd(now, token, peer),
            Q::CallOut { tunnel, number } => self.call_out_cmd(now, tunnel, number),
            Q::Stats => R::Stats(self.daemon_stats(now)),
            Q::Quality { tunnel, session } => {
                let key = SessionKey::new(TunnelId(tunnel), SessionId(session));
                match self.quality_info(now, key) {
                    Some(q) => R::Quality(q),
                    None if self.quality.probe_interval.is_none() => {
                        R::error("quality: probing is off (ppp.quality_interval = 0)")
                    }
                    None => R::error(format!("no such session {tunnel}/{session}")),
                }
            }
        })
    }

    fn close_session_cmd(&mut self, now: Instant, tunnel: u16, session: u16) -> mgmt::Response {
        let result = ResultCode::with_error(
            ResultCode::CDN_ADMINISTRATIVE,
            0,
            Some("closed by operator"),
        );
        match self
            .endpoint
            .close_session(now, TunnelId(tunnel), SessionId(session), result)
        {
            Ok(()) => mgmt::Response::Ok,
            Err(e) => mgmt::Response::error(e.to_string()),
        }
    }

    /// Closes every session `selector` names (exactly those: a user's name is matched
    /// exactly, an address against each session's IPv4 and IPv6 address) and lists them.
    fn close_matching_cmd(
        &mut self,
        now: Instant,
        selector: &mgmt::SessionSelector,
    ) -> mgmt::Response {
        let matched: Vec<mgmt::SessionInfo> = self
            .endpoint
            .tunnels()
            .flat_map(|t| {
                self.endpoint
                    .sessions(t.tunnel)
                    .map(move |s| (t.tunnel, s.session))
            })
            .filter_map(|(t, s)| self.session_info(now, t, s))
            .filter(|info| match selector {
                mgmt::SessionSelector::User(u) => info.user.as_deref() == Some(u.as_str()),
                mgmt::SessionSelector::Address(std::net::IpAddr::V4(a)) => info.ipv4 == Some(*a),
                mgmt::SessionSelector::Address(std::net::IpAddr::V6(a)) => info.ipv6 == Some(*a),
            })
            .collect();
        if matched.is_empty() {
            return mgmt::Response::error(match selector {
                mgmt::SessionSelector::User(u) => format!("no session of user {u:?}"),
                mgmt::SessionSelector::Address(a) => format!("no session holds {a}"),
            });
        }
        for info in &matched {
            if let mgmt::Response::Error { message } =
                self.close_session_cmd(now, info.tunnel, info.session)
            {
                return mgmt::Response::error(format!(
                    "close {}/{}: {message}",
                    info.tunnel, info.session
                ));
            }
        }
        mgmt::Response::Sessions(matched)
    }

    fn close_tunnel_cmd(&mut self, now: Instant, tunnel: u16) -> mgmt::Response {
        let result = ResultCode::with_error(
            ResultCode::STOPCCN_GENERAL_REQUEST,
            0,
            Some("closed by operator"),
        );
        match self.endpoint.close_tunnel(now, TunnelId(tunnel), result) {
            Ok(()) => mgmt::Response::Ok,
            Err(e) => mgmt::Response::error(e.to_string()),
        }
    }

    fn tunnel_info(&self, now: Instant, t: &TunnelInfo) -> mgmt::TunnelInfo {
        let c = &t.counters;
        mgmt::TunnelInfo {
            local_id: t.tunnel.0,
            peer_id: t.peer_tunnel.0,
            local_addr: t.local.to_string(),
            peer_addr: t.peer.to_string(),
            peer_host_name: (!t.peer_host_name.is_empty())
                .then(|| String::from_utf8_lossy(&t.peer_host_name).into_owned()),
            state: tunnel_state(t.state).to_string(),
            sessions: t.sessions as u32,
            uptime_s: self
                .admission
                .tunnel_since
                .get(&t.tunnel)
                .map(|s| now.saturating_duration_since(*s).as_secs())
                .unwrap_or(0),
            debug: self
                .datapath
                .tunnel_debug(t.tunnel)
                .map(|d| d.0)
                .unwrap_or(0),
            control: control_counters(c),
            stats: counters(
                self.datapath
                    .stats(t.tunnel, SessionId(0))
                    .unwrap_or_default(),
            ),
            failover: super::failover::tunnel_failover(&t.failover),
        }
    }

    fn session_info(
        &self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
    ) -> Option<mgmt::SessionInfo> {
        let info = self.endpoint.session_info(tunnel, session)?;
        let key = SessionKey::new(tunnel, session);
        let ctx = self.sessions.get(&key);
        let opts = self.datapath.session_options(key).ok();
        let pppd = self.datapath.ppp_process(key);
        Some(mgmt::SessionInfo {
            tunnel: tunnel.0,
            session: session.0,
            peer_tunnel: info.peer_tunnel.0,
            peer_session: info.peer_session.0,
            state: match pppd {
                Some(_) => format!("{}/pppd", session_state(info.state, None)),
                None => session_state(info.state, ctx.map(|c| c.link.phase())),
            },
            user: ctx.and_then(|c| c.user().map(str::to_string)).or_else(|| {
                // A LAC's relayed call: the subscriber's user.
                let lac = self.lac.as_deref()?;
                lac.user_of_call(key).map(str::to_string)
            }),
            ipv4: ctx.and_then(|c| c.ipv4()).map(|p| match self.role {
                RoleSettings::Lns(_) => p.peer,
                RoleSettings::Client(_) | RoleSettings::Lac(_) => p.local,
            }),
            ipv6: ctx.and_then(|c| c.v6().map(|v| v.global.unwrap_or(v.local))),
            interface: ctx.and_then(|c| match c.interface()? {
                Interface::Shared(name) | Interface::Own(name) => Some(name.clone()),
                Interface::Opening => None,
            }),
            uptime_s: ctx
                .map(|c| now.saturating_duration_since(c.since).as_secs())
                .unwrap_or(0),
            options: opts
                .map(|o| mgmt::SessionOptions {
                    send_seq: o.send_seq,
                    recv_seq: o.recv_seq,
                    lns_mode: o.lns_mode,
                    reorder_timeout_ms: o.reorder_timeout.as_millis().min(u128::from(u32::MAX))
                        as u32,
                    debug: o.debug.0,
                })
                .unwrap_or_default(),
            stats: counters(self.datapath.stats(tunnel, session).unwrap_or_default()),
            wan_errors: info.wan_errors.map(|(reports, e)| mgmt::WanErrors {
                reports,
                crc_errors: e.crc_errors,
                framing_errors: e.framing_errors,
                hardware_overruns: e.hardware_overruns,
                buffer_overruns: e.buffer_overruns,
                timeout_errors: e.timeout_errors,
                alignment_errors: e.alignment_errors,
            }),
            accm: ctx.and_then(|c| c.link.accm()),
            ppp_mode: if pppd.is_some() { "pppd" } else { "builtin" }.into(),
            pppd_pid: pppd,
        })
    }

    /// Daemon-wide statistics (also the source of the Prometheus metrics).
    pub fn daemon_stats(&self, now: Instant) -> mgmt::DaemonStats {
        let mut tunnels_by_state = BTreeMap::new();
        let mut sessions_by_state = BTreeMap::new();
        // Totals start from the tunnels already gone, so they never go down.
        let mut control = control_counters(&self.endpoint.closed_tunnel_counters());
        let mut datapath = counters(self.datapath.closed_tunnel_stats());
        let mut sessions = 0u64;
        for t in self.endpoint.tunnels() {
            *tunnels_by_state
                .entry(tunnel_state(t.state).to_string())
                .or_insert(0) += 1;
            control.accumulate(&control_counters(&t.counters));
            datapath.accumulate(&counters(
                self.datapath
                    .stats(t.tunnel, SessionId(0))
                    .unwrap_or_default(),
            ));
            for s in self.endpoint.sessions(t.tunnel) {
                sessions += 1;
                let key = SessionKey::new(t.tunnel, s.session);
                let state = if self.datapath.ppp_process(key).is_some() {
                    format!("{}/pppd", session_state(s.state, None))
                } else {
                    session_state(s.state, self.sessions.get(&key).map(|c| c.link.phase()))
                };
                *sessions_by_state.entry(state).or_insert(0) += 1;
            }
        }
        mgmt::DaemonStats {
            role: match self.role {
                RoleSettings::Lns(_) => "lns".into(),
                RoleSettings::Client(_) => "client".into(),
                RoleSettings::Lac(_) => "lac".into(),
            },
            uptime_s: now.saturating_duration_since(self.started).as_secs(),
            tunnels: self.endpoint.tunnel_count() as u64,
            sessions,
            tunnels_by_state,
            sessions_by_state,
            control,
            datapath,
            auth_failures: self.counters.auth_failures,
            tunnel_auth_failures: self.counters.tunnel_auth_failures,
            tunnels_refused: self.counters.tunnels_refused,
            sessions_refused: self.counters.sessions_refused,
            half_open_tunnels: self.endpoint.half_open_tunnels() as u64,
            half_open_evicted: self.endpoint.stats().half_open_evicted,
            half_open_silenced: self.endpoint.stats().half_open_silenced,
            half_open_restored: self.endpoint.stats().half_open_restored,
            sccrq_rejected: self.endpoint.stats().sccrq_rejected,
            control_wrong_peer: self.endpoint.stats().wrong_peer,
            control_unknown_tunnel: self.endpoint.stats().unknown_tunnel,
            data_wrong_peer: self.datapath.counters().wrong_peer,
            ppp_bad_frames: self.counters.bad_frames,
            rate_limited: self.counters.rate_limited,
            dhcpv6_answered: self.counters.dhcpv6_answered,
            dhcpv6_dropped: self.counters.dhcpv6_dropped,
            pool_capacity: self.pool_usage().map(|p| p.0).unwrap_or(0),
            pool_in_use: self.pool_usage().map(|p| p.1).unwrap_or(0),
            radius: None,
            lac: self.lac.as_deref().map(|l| Box::new(l.stats(now))),
            upgrade: self.upgrade_stats(now).map(Box::new),
            failover: self.failover_stats().map(Box::new),
        }
    }
}

/// A control channel's counters as the management API shows them.
fn control_counters(c: &l2tp_proto::control::ControlCounters) -> mgmt::ControlCounters {
    mgmt::ControlCounters {
        sent: c.tx_messages,
        retransmitted: c.tx_retransmits,
        received: c.rx_messages,
        duplicates: c.rx_duplicates,
    }
}
