//! The lines an operator reads when a session or a tunnel ends: who (user, address, peer),
//! for how long, how many bytes each way, and why, in words. One line per established
//! session or tunnel (bounded by what admission lets up); calls that never came up are
//! logged under a rate limit, since a peer can send as many as it likes.

use std::fmt::Display;
use std::time::Instant;

use l2tp_proto::control::TunnelDownReason;
use l2tp_proto::data::SessionKey;
use l2tp_wire::{SessionId, TunnelId};

use super::{Core, RoleSettings};

impl Core {
    /// The session-down line of `key` (still in the tables), ended for `reason`.
    pub(super) fn log_session_down(&mut self, now: Instant, key: SessionKey, reason: &dyn Display) {
        let peer = self.admission.tunnel_peer.get(&key.tunnel).copied();
        let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        let Some(s) = self.sessions.get(&key) else {
            // A relaying LAC's calls are its subscribers' (bounded by them), with no PPP
            // session of ours; the relay logs the subscriber's side.
            if matches!(self.role, RoleSettings::Lac(_)) {
                tracing::info!(node = %self.name, session = %key, %peer, reason = %reason, "relayed call down");
                return;
            }
            if let Some(suppressed) = self.log_limit.allow(now, "call down") {
                tracing::info!(node = %self.name, session = %key, %peer, suppressed, reason = %reason, "call down before it was established");
            }
            return;
        };
        let lns = matches!(self.role, RoleSettings::Lns(_));
        let address = s
            .ipv4()
            .map(|p| if lns { p.peer } else { p.local })
            .or(s.lease())
            .map_or_else(|| "-".to_string(), |a| a.to_string());
        let user = s.user().unwrap_or("-");
        let duration_s = now.saturating_duration_since(s.since).as_secs();
        let stats = self
            .datapath
            .stats(key.tunnel, key.session)
            .unwrap_or_default();
        tracing::info!(
            node = %self.name,
            session = %key,
            user = %user,
            address = %address,
            peer = %peer,
            duration_s,
            bytes_in = stats.rx_bytes,
            bytes_out = stats.tx_bytes,
            reason = %reason,
            "session down"
        );
    }

    /// The tunnel-down line of `tunnel` (its sessions still in the tables).
    pub(super) fn log_tunnel_down(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        sessions: usize,
        reason: &TunnelDownReason,
    ) {
        let Some(since) = self.admission.tunnel_since.get(&tunnel).copied() else {
            // Never established: a peer can provoke as many of these as it likes.
            if let Some(suppressed) = self.log_limit.allow(now, "tunnel set-up failed") {
                tracing::info!(node = %self.name, %tunnel, suppressed, reason = %reason, "tunnel down before it was established");
            }
            return;
        };
        let peer = self.admission.tunnel_peer.get(&tunnel).copied();
        let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        let stats = self
            .datapath
            .stats(tunnel, SessionId(0))
            .unwrap_or_default();
        tracing::info!(
            node = %self.name,
            %tunnel,
            peer = %peer,
            sessions,
            duration_s = now.saturating_duration_since(since).as_secs(),
            bytes_in = stats.rx_bytes,
            bytes_out = stats.tx_bytes,
            reason = %reason,
            "tunnel down"
        );
    }
}
