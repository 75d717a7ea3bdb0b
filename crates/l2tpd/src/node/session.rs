//! Per-session state the daemon keeps beside the engines: the PPP link, its timer, what PPP
//! negotiated, and the pool address to give back.

use std::net::Ipv4Addr;
use std::time::Instant;

use l2tp_proto::data::{Datapath, L2tpStats, SessionKey};
use ppp::{Ipv4Params, Link, Phase};

/// One session's daemon-side state.
pub(super) struct SessionCtx {
    pub link: Link,
    /// The deadline currently armed in the node's timer heap (stale heap entries are skipped).
    pub timer: Option<Instant>,
    pub user: Option<String>,
    pub ipv4: Option<Ipv4Params>,
    pub ipv6_up: bool,
    /// IPv6 state, once IPv6CP has come up (boxed: most sessions of an IPv4-only LNS never
    /// need it, and the daemon holds 100,000 sessions).
    pub ipv6: Option<Box<Ipv6Ctx>>,
    /// Address taken from the pool (freed when the session ends).
    pub pool_addr: Option<Ipv4Addr>,
    /// TUN interface carrying the session's IP, if it has its own.
    pub interface: Option<String>,
    /// The session's own TUN (per-session mode).
    pub tun: Option<l2tp_io::tun::Tun>,
    pub since: Instant,
    /// Shrink the link's queues once they are drained (set when negotiation finishes).
    pub shrink_pending: bool,
    /// Datapath rx_packets at the last housekeeping pass, and when it last changed.
    pub last_rx_packets: u64,
    pub last_activity: Instant,
}

/// A session's IPv6 addressing.
#[derive(Default)]
pub(super) struct Ipv6Ctx {
    /// Our IPv6 link-local address (from the IPv6CP interface identifier).
    pub local: Option<std::net::Ipv6Addr>,
    /// IPv6CP interface identifiers (ours, the peer's).
    pub iids: Option<([u8; 8], [u8; 8])>,
    /// Our global IPv6 address (client: formed from the advertised prefix; LNS: the peer's).
    pub global: Option<std::net::Ipv6Addr>,
    /// LNS: the prefix lease of this session.
    pub lease: Option<crate::pool::Ipv6Lease>,
    /// IPv6 set up on the session's interface (addresses, routes, advertisement).
    pub configured: bool,
    /// Client: an advertisement received before the interface existed.
    pub pending_ra: Option<super::ra::Learned>,
}

/// What an operator sees of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// Local tunnel and session ids.
    pub key: SessionKey,
    /// PPP phase.
    pub phase: Phase,
    /// Authenticated user.
    pub user: Option<String>,
    /// IPCP result.
    pub ipv4: Option<Ipv4Params>,
    /// IPv6CP up.
    pub ipv6_up: bool,
    /// Seconds since the session came up.
    pub uptime_s: u64,
    /// The driver's eight counters.
    pub stats: L2tpStats,
}

impl SessionCtx {
    pub fn new(link: Link, now: Instant) -> Self {
        SessionCtx {
            link,
            timer: None,
            user: None,
            ipv4: None,
            ipv6_up: false,
            ipv6: None,
            pool_addr: None,
            interface: None,
            tun: None,
            since: now,
            shrink_pending: false,
            last_rx_packets: 0,
            last_activity: now,
        }
    }

    /// The session's IPv6 state, if IPv6CP ever came up.
    pub fn v6(&self) -> Option<&Ipv6Ctx> {
        self.ipv6.as_deref()
    }

    /// The session's IPv6 state, created empty on first use.
    pub fn v6_mut(&mut self) -> &mut Ipv6Ctx {
        self.ipv6.get_or_insert_with(Box::default)
    }

    /// Whether the network protocol for `proto` (IPv4 or IPv6) is up on this session.
    pub fn carries(&self, proto: ppp::Protocol) -> bool {
        if proto == ppp::Protocol::IPV4 {
            self.ipv4.is_some()
        } else {
            self.ipv6_up
        }
    }

    pub fn snapshot(&self, key: SessionKey, dp: &Datapath) -> SessionSnapshot {
        SessionSnapshot {
            key,
            phase: self.link.phase(),
            user: self.user.clone(),
            ipv4: self.ipv4,
            ipv6_up: self.ipv6_up,
            uptime_s: self.since.elapsed().as_secs(),
            stats: dp.stats(key.tunnel, key.session).unwrap_or_default(),
        }
    }
}

/// The CDN that clears a session whose PPP link went down: the reason in words (RFC 2661
/// §4.4.2 error message), with a result code that says whose doing it was.
pub(super) fn cdn_for_ppp_down(reason: &ppp::DownReason) -> l2tp_wire::result::ResultCode {
    use l2tp_wire::result::ResultCode;
    use ppp::DownReason as R;
    let (code, text) = match reason {
        R::AuthRefused => (
            ResultCode::CDN_GENERAL_ERROR,
            "PPP authentication failed: no authentication protocol both ends accept".to_string(),
        ),
        R::AuthFailed(why) => (
            ResultCode::CDN_GENERAL_ERROR,
            format!("PPP authentication failed: {why}"),
        ),
        R::EstablishTimeout => (
            ResultCode::CDN_TIMEOUT,
            "PPP establishment timed out".to_string(),
        ),
        R::KeepaliveTimeout => (
            ResultCode::CDN_LOST_CARRIER,
            "PPP keepalive timed out".to_string(),
        ),
        other => (ResultCode::CDN_ADMINISTRATIVE, format!("PPP: {other:?}")),
    };
    ResultCode::with_error(code, 0, Some(&text))
}

/// Whether a PPP link went down because authentication failed (either role).
pub(super) fn is_auth_failure(reason: &ppp::DownReason) -> bool {
    matches!(
        reason,
        ppp::DownReason::AuthRefused | ppp::DownReason::AuthFailed(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_wire::result::ResultCode;

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
