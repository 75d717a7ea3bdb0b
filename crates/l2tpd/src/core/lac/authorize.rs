//! RADIUS steering on the LAC: once a subscriber's user name and credentials are known,
//! the relay asks the AAA backend (an Access-Request, [`crate::core::Output::Auth`]) before
//! placing the call. An Access-Reject is the subscriber's authentication failure (PAP Nak or
//! CHAP Failure from our link, then LCP Terminate and a PADT); an Access-Accept carrying
//! RFC 2868 L2TP tunnels steers the call to them (preference ordering them, the decrypted
//! Tunnel-Password as each tunnel's secret, Tunnel-Assignment-ID sharing tunnels); an
//! Access-Accept without tunnels leaves the call to the realm table.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use l2tp_proto::data::SessionKey;
use l2tp_radius::reply::TunnelAttrs;
use l2tp_wire::{SessionId, TunnelId};
use ppp::auth::AuthTicket;
use ppp::{AuthDecision, AuthMethod, Credentials};

use super::{LnsTarget, Stage, SubscriberId};
use crate::core::{AuthAnswer, AuthRequest, Core, Output};

/// Requests of the relay name no L2TP session: their key's tunnel is 0 (never a tunnel id,
/// RFC 2661 §3.1) and their session the subscriber's PPPoE SESSION_ID.
pub(crate) const LAC_AUTH_TUNNEL: TunnelId = TunnelId(0);

/// A subscriber's request to the backend, and its link's ticket.
pub(crate) struct PendingAuth {
    pub request: AuthRequest,
    pub link_ticket: AuthTicket,
}

impl Core {
    /// Whether the relay asks the backend before placing calls.
    pub(super) fn lac_authorizes(&self) -> bool {
        self.lac.as_deref().is_some_and(|l| l.settings.radius)
    }

    /// Asks the backend about subscriber `sid` (its link's `ticket`).
    pub(super) fn lac_authorize(
        &mut self,
        sid: SubscriberId,
        ticket: AuthTicket,
        user: String,
        method: AuthMethod,
        credentials: Credentials,
    ) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        lac.next_auth_ticket += 1;
        let our_ticket = AuthTicket(lac.next_auth_ticket);
        let Some(sub) = lac.subscribers.get_mut(&sid) else {
            return;
        };
        let request = AuthRequest {
            credentials,
            key: SessionKey::new(LAC_AUTH_TUNNEL, SessionId(sid.1)),
            ticket: our_ticket,
            user: user.clone(),
            method,
            radius: Some(Box::new(l2tp_radius::request::SessionInfo {
                user_name: user.clone(),
                nas_port: u32::from(sid.1),
                acct_session_id: String::new(),
                calling_station_id: Some(sub.mac.to_string()),
                called_station_id: None,
                tunnel: None,
            })),
        };
        sub.user = Some(user);
        sub.auth = Some(Box::new(PendingAuth {
            request: request.clone(),
            link_ticket: ticket,
        }));
        tracing::debug!(user = %request.user, pppoe_session = sid.1, "asking RADIUS where the call goes");
        self.out.push(Output::Auth(request));
    }

    /// The backend answered a relay request (`request.key.tunnel` is
    /// [`LAC_AUTH_TUNNEL`]); an answer for a subscriber gone is ignored.
    pub(in crate::core) fn lac_auth_decided(
        &mut self,
        now: Instant,
        request: AuthRequest,
        answer: AuthAnswer,
    ) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        let found = lac
            .subscribers
            .iter_mut()
            .find(|(_, s)| s.auth.as_ref().is_some_and(|p| p.request == request));
        let Some((&sid, sub)) = found else {
            tracing::debug!(user = %request.user, "RADIUS answer for no waiting subscriber: ignored");
            return;
        };
        let pending = sub.auth.take().expect("matched above");
        let user = request.user.clone();
        let (reject, tunnels) = match answer {
            AuthAnswer::Radius { authz, .. } => (None, authz.tunnels),
            AuthAnswer::Accept { .. } | AuthAnswer::Password { .. } => (None, Vec::new()),
            AuthAnswer::Reject => (Some(AuthDecision::Reject), Vec::new()),
            AuthAnswer::RejectWith(m) => (Some(AuthDecision::RejectWith(m)), Vec::new()),
        };
        if let Some(decision) = reject {
            lac.counters.auth_rejected += 1;
            tracing::info!(%user, pppoe_session = sid.1, "RADIUS refused the subscriber");
            if let Stage::Negotiating { link, .. } = &mut sub.stage {
                // Our link tells the subscriber (PAP Nak, CHAP Failure) and terminates LCP;
                // its Down ends the PPPoE session with a PADT.
                let _ = link.auth_decision(now, pending.link_ticket, decision);
            }
            return self.service_subscriber(now, sid);
        }
        let steered = steered_targets(&tunnels);
        if !tunnels.is_empty() && steered.is_empty() {
            tracing::warn!(%user, "RADIUS named tunnels but none with an LNS address: realm table used");
        }
        if !steered.is_empty() {
            lac.counters.radius_steered += 1;
        }
        self.place_call(now, sid, user, steered);
    }
}

/// The LNS candidates of RFC 2868 tunnels: those whose Tunnel-Server-Endpoint is an address
/// (`ADDR`, `ADDR:PORT`, `[V6]:PORT`); a host name cannot be resolved inside the core and is
/// skipped. Tunnel-Medium-Type, when given, must match the address family.
pub fn steered_targets(tunnels: &[TunnelAttrs]) -> Vec<LnsTarget> {
    tunnels
        .iter()
        .filter_map(|t| {
            let ep = t.server_endpoint.as_deref()?.trim();
            let addr = ep.parse::<SocketAddr>().ok().or_else(|| {
                ep.parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 1701))
            })?;
            let medium_ok = match t.medium {
                Some(l2tp_radius::attr::TUNNEL_MEDIUM_IPV4) => addr.is_ipv4(),
                Some(l2tp_radius::attr::TUNNEL_MEDIUM_IPV6) => addr.is_ipv6(),
                _ => true,
            };
            medium_ok.then(|| LnsTarget {
                secret: t.password.clone().filter(|p| !p.is_empty()),
                preference: t.preference.unwrap_or(0),
                assignment: t.assignment_id.clone(),
                client_name: t.client_auth_id.clone(),
                ..LnsTarget::new(addr)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnels_become_candidates_with_their_secret_and_preference() {
        let t = |ep: &str, pw: Option<&str>, pref, medium| TunnelAttrs {
            tag: 1,
            medium,
            server_endpoint: Some(ep.into()),
            password: pw.map(|p| p.as_bytes().to_vec()),
            preference: pref,
            assignment_id: Some("a".into()),
            client_auth_id: None,
        };
        let got = steered_targets(&[
            t("192.0.2.1", Some("pw"), Some(2), Some(1)),
            t("192.0.2.2:1702", None, None, None),
            t("lns.example.net", None, None, None),
            t("192.0.2.3", None, None, Some(2)),
            t("[2001:db8::1]:1701", None, None, Some(2)),
        ]);
        let addrs: Vec<String> = got.iter().map(|x| x.addr.to_string()).collect();
        assert_eq!(
            addrs,
            vec!["192.0.2.1:1701", "192.0.2.2:1702", "[2001:db8::1]:1701"]
        );
        assert_eq!(got[0].secret.as_deref(), Some(&b"pw"[..]));
        assert_eq!(got[0].preference, 2);
        assert_eq!(got[0].assignment.as_deref(), Some("a"));
        assert_eq!(got[1].secret, None);
    }
}
