//! Who gets in: new tunnels (per-source SCCRQ rate, allowed peers, the tunnel limit, refusal
//! while shutting down) and new calls (the session limit, the wait for ICCN). The half-open
//! tunnel table itself lives in the control plane (`max_half_open_tunnels`), and so does the
//! wait for a call's next set-up message (`connect_timeout`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::data::SessionKey;
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};

use super::{Core, RoleSettings};

/// New tunnels accepted per second from one source address.
const NEW_TUNNELS_PER_SOURCE: u32 = 50;

/// Fixed one-second windows counting SCCRQs per source address: a flood from one address
/// cannot churn the half-open table (every SCCRQ accepted may evict the oldest half-open
/// tunnel), and no address is sent more than this many SCCRPs a second (a reflector bound
/// for spoofed sources).
///
/// There is no global limit: it would refuse a real peer exactly as often as a flood from
/// many (spoofed) addresses exceeds it, the lock-out the half-open table's eviction exists
/// to prevent. State is bounded by `max_half_open_tunnels` instead.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct TunnelRate {
    #[serde(with = "l2tp_snap::instant")]
    window: Instant,
    per_source: HashMap<std::net::IpAddr, u32>,
}

impl TunnelRate {
    /// Counts one SCCRQ from `source`; `Some(why)` when it is over the limit.
    fn over(&mut self, now: Instant, source: std::net::IpAddr) -> Option<&'static str> {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.per_source.clear();
            if self.per_source.capacity() > 1024 {
                self.per_source.shrink_to_fit();
            }
        }
        let n = self.per_source.entry(source).or_insert(0);
        *n = n.saturating_add(1);
        (*n > NEW_TUNNELS_PER_SOURCE).then_some("too many new tunnels from this address")
    }
}

/// Admission state.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Admission {
    rate: TunnelRate,
    /// LNS: calls accepted and waiting for the peer's ICCN, since when (the control plane
    /// clears a call that never completes: `connect_timeout`).
    #[serde(with = "l2tp_snap::map_values")]
    pending_calls: HashMap<SessionKey, Instant>,
    /// Established tunnels, since when.
    #[serde(with = "l2tp_snap::map_values")]
    pub tunnel_since: HashMap<TunnelId, Instant>,
    /// Established tunnels' peers (for the session-down and tunnel-down lines).
    pub tunnel_peer: HashMap<TunnelId, SocketAddr>,
    /// Shutting down: new tunnels are refused with a StopCCN.
    pub draining: bool,
}

impl Admission {
    pub fn new(now: Instant) -> Admission {
        Admission {
            rate: TunnelRate {
                window: now,
                per_source: HashMap::new(),
            },
            pending_calls: HashMap::new(),
            tunnel_since: HashMap::new(),
            tunnel_peer: HashMap::new(),
            draining: false,
        }
    }

    /// A call is up (or gone): it no longer waits for its ICCN.
    pub fn call_settled(&mut self, key: SessionKey) {
        self.pending_calls.remove(&key);
    }

    /// A burst of set-ups is over: give the table's capacity back.
    pub fn shrink(&mut self) {
        if self.pending_calls.is_empty() && self.pending_calls.capacity() > 64 {
            self.pending_calls.shrink_to_fit();
        }
    }

    pub fn compact(&mut self) {
        self.tunnel_since.shrink_to_fit();
        self.tunnel_peer.shrink_to_fit();
        self.pending_calls.shrink_to_fit();
    }
}

impl Core {
    /// Counts a refused tunnel; returns the total when this refusal should be logged. One
    /// line per refusal would let a flood fill the log: the first, then every 1000th.
    fn count_refused_tunnel(&mut self) -> Option<u64> {
        self.counters.tunnels_refused += 1;
        let n = self.counters.tunnels_refused;
        (n == 1 || n.is_multiple_of(1000)).then_some(n)
    }

    /// A control datagram for tunnel 0 (an SCCRQ, normally) from `from`: false when its
    /// source address is over [`NEW_TUNNELS_PER_SOURCE`] this second. Checked before the
    /// datagram is decoded, so a flood from few addresses costs a hash lookup per datagram
    /// and never reaches the half-open table (where it would evict other peers' tunnels).
    /// Counted in `tunnels_refused`.
    pub(super) fn admit_new_tunnel_datagram(&mut self, now: Instant, from: SocketAddr) -> bool {
        let Some(why) = self.admission.rate.over(now, from.ip()) else {
            return true;
        };
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %from, refused_total = n, "incoming tunnel refused: {why}");
        }
        false
    }

    /// LNS: accepts or refuses a new tunnel (shutting down, allowed peers, tunnel limit; the
    /// rate per source was checked before the SCCRQ was decoded).
    ///
    /// A peer not allowed, or one arriving while we shut down, hears why (StopCCN, Result
    /// Code 4 or 6), statelessly: one StopCCN, not retransmitted, no tunnel held, at most 50
    /// such answers a second (`Endpoint::refuse_tunnel`). When the tunnel limit is reached,
    /// the SCCRQ is dropped without an answer and without state. Half-open tunnels do not
    /// count against `max_tunnels`: they have their own table in the endpoint, where an
    /// accepted tunnel evicts the oldest half-open one when it is full; the tunnel limit is
    /// enforced again when a tunnel comes up (`enforce_tunnel_limit`).
    pub(super) fn decide_tunnel(&mut self, now: Instant, tunnel: TunnelId, peer: SocketAddr) {
        let established = self.admission.tunnel_since.len();
        // RFC 2661 §4.4.2 StopCCN Result Codes: 4 "Requester is not authorized to establish
        // a control channel", 6 "Shutting down".
        let refusal = match &self.role {
            RoleSettings::Lns(_) if self.admission.draining => {
                Some(("shutting down", Some(ResultCode::STOPCCN_SHUTTING_DOWN)))
            }
            RoleSettings::Lns(lns) => {
                if lns.max_tunnels > 0 && established >= lns.max_tunnels {
                    Some(("tunnel limit reached", None))
                } else if !lns.allowed_peers.is_empty()
                    && !lns.allowed_peers.iter().any(|c| c.contains(peer.ip()))
                {
                    Some(("peer not allowed", Some(ResultCode::STOPCCN_NOT_AUTHORIZED)))
                } else if self.peer_limit_reached(tunnel, false) {
                    Some(("the peer's profile tunnel limit reached", None))
                } else {
                    None
                }
            }
            RoleSettings::Lac(l) if l.switching => None,
            RoleSettings::Client(_) | RoleSettings::Lac(_) => Some(("not accepting tunnels", None)),
        };
        let Some((why, answer)) = refusal else {
            // Per SCCRQ: debug (a flood of accepted SCCRQs must not fill the log; the
            // tunnel's coming up is logged at info).
            tracing::debug!(node = %self.name, %tunnel, %peer, "incoming tunnel accepted");
            if let Err(e) = self.endpoint.accept_tunnel(now, tunnel) {
                if let Some(suppressed) = self.log_limit.allow(now, "accept tunnel") {
                    tracing::warn!(node = %self.name, %tunnel, suppressed, "accept: {e}");
                }
            }
            return;
        };
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %peer, refused_total = n, "incoming tunnel refused: {why}");
        }
        match answer {
            Some(code) => {
                let result = ResultCode::with_error(code, 0, Some(why));
                let _ = self.endpoint.refuse_tunnel(now, tunnel, result);
            }
            None => {
                let _ = self.endpoint.discard_tunnel(tunnel);
            }
        }
    }

    /// LNS: a tunnel completed its handshake while `max_tunnels` were already established
    /// (SCCRQs accepted together, each within the limit when it arrived): it is closed with
    /// StopCCN (the peer answered our SCCRP, so it is not a spoofed source). True when the
    /// tunnel was refused.
    pub(super) fn enforce_tunnel_limit(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        peer: SocketAddr,
    ) -> bool {
        let RoleSettings::Lns(lns) = &self.role else {
            return false;
        };
        if lns.max_tunnels == 0 || self.admission.tunnel_since.len() < lns.max_tunnels {
            return false;
        }
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %tunnel, %peer, refused_total = n, "tunnel limit reached as the tunnel came up: StopCCN");
        }
        let result = ResultCode::with_error(
            ResultCode::STOPCCN_GENERAL_ERROR,
            ResultCode::ERROR_NO_RESOURCES,
            Some("tunnel limit reached"),
        );
        let _ = self.endpoint.close_tunnel(now, tunnel, result);
        true
    }

    /// LNS: accepts or refuses an incoming call. Calls being set up count against the
    /// session limit too, so a flood of ICRQs cannot hold more state than the limit allows.
    /// LNS: whether the per-peer profile of `tunnel`'s peer sets a limit (0: none) that its
    /// peers together reach with this tunnel (`sessions` false: tunnels, counting this one)
    /// or with one more call (`sessions` true: calls up or being admitted in their tunnels).
    fn peer_limit_reached(&self, tunnel: TunnelId, sessions: bool) -> bool {
        let RoleSettings::Lns(lns) = &self.role else {
            return false;
        };
        let Some(t) = self.endpoint.tunnel_info(tunnel) else {
            return false;
        };
        let Some(p) = lns
            .peer_policies
            .iter()
            .find(|p| p.rule.matches(t.peer.ip(), Some(&t.peer_host_name)))
        else {
            return false;
        };
        let max = if sessions {
            p.max_sessions
        } else {
            p.max_tunnels
        };
        if max == 0 {
            return false;
        }
        let theirs: std::collections::HashSet<TunnelId> = self
            .endpoint
            .tunnels()
            .filter(|x| x.state != l2tp_proto::control::TunnelStateKind::Closing)
            .filter(|x| p.rule.matches(x.peer.ip(), Some(&x.peer_host_name)))
            .map(|x| x.tunnel)
            .collect();
        if !sessions {
            // This tunnel is among them already.
            return theirs.len() > max;
        }
        let calls = self
            .sessions
            .iter()
            .map(|(k, _)| k)
            .chain(self.admission.pending_calls.keys())
            .filter(|k| theirs.contains(&k.tunnel))
            .count();
        calls >= max
    }

    pub(super) fn decide_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        kind: l2tp_proto::control::CallKind,
    ) {
        if let Err(result) = self.call_direction_allowed(kind) {
            self.refuse_call(now, tunnel, session, kind, result);
            return;
        }
        let full = match &self.role {
            RoleSettings::Lns(lns) => {
                (lns.max_sessions > 0
                    && self.sessions.len() + self.admission.pending_calls.len() >= lns.max_sessions)
                    || self.peer_limit_reached(tunnel, true)
            }
            RoleSettings::Client(_) | RoleSettings::Lac(_) => false,
        };
        let key = SessionKey::new(tunnel, session);
        if full {
            self.counters.sessions_refused += 1;
            let n = self.counters.sessions_refused;
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(node = %self.name, %tunnel, refused_total = n, "call refused: session limit reached");
            }
            let _ = self.endpoint.reject_call(
                now,
                tunnel,
                session,
                ResultCode::with_error(
                    ResultCode::CDN_NO_FACILITIES_TEMPORARY,
                    ResultCode::ERROR_NO_RESOURCES,
                    Some("session limit reached"),
                ),
            );
        } else if let Err(e) = self.endpoint.accept_call(now, tunnel, session) {
            if let Some(suppressed) = self.log_limit.allow(now, "accept call") {
                tracing::warn!(node = %self.name, %tunnel, %session, suppressed, "accept call: {e}");
            }
        } else {
            self.admission.pending_calls.insert(key, now);
        }
    }
}
