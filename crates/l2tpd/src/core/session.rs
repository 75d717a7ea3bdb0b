//! One session's daemon-side state, shaped by its stage of life: while PPP establishes and
//! the peer authenticates, a session holds at most the authentication request its backend
//! has not answered; once admitted (the backend said yes, or the link reached its network
//! phase) it holds who the user is, what was granted (address lease, rate limits), its
//! interface and its IPv4/IPv6 state, with an unanswered request possible only while no
//! network protocol is up (LCP renegotiated and the peer authenticates again).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use l2tp_proto::data::{L2tpStats, SessionKey};
use ppp::{Ipv4Params, Link};

use super::aaa::AuthRequest;
use super::radius::SessionAcct;
use super::sessions::SessionSnapshot;
use super::shaper::Shaper;

/// One session's daemon-side state.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Session {
    pub link: Link,
    /// The deadline currently armed in the timer heap (stale heap entries are skipped).
    #[serde(with = "l2tp_snap::opt_instant")]
    pub timer: Option<Instant>,
    #[serde(with = "l2tp_snap::instant")]
    pub since: Instant,
    /// Shrink the link's queues once they are drained (set when negotiation finishes).
    pub shrink_pending: bool,
    /// Datapath rx_packets at the last housekeeping pass, and when it last changed.
    pub last_rx_packets: u64,
    #[serde(with = "l2tp_snap::instant")]
    pub last_activity: Instant,
    /// RADIUS state (NAS-Port, Acct-Session-Id, what the server authorized): from the call
    /// coming up to its end, whatever the stage.
    pub radius: Option<Box<SessionAcct>>,
    /// Line-quality history (once the first period closed), whatever the stage.
    pub quality: Option<Box<super::quality::QualityLog>>,
    /// What the session holds at its stage.
    pub state: SessionState,
}

/// A session's stage of life and what it holds there.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum SessionState {
    /// LCP and authentication; nothing granted yet. `pending`: the request an asynchronous
    /// backend has not answered yet (LNS).
    Establishing {
        /// The unanswered authentication request.
        pending: Option<Box<AuthRequest>>,
    },
    /// The peer is admitted (LNS: the backend accepted it; client: the LNS accepted us, or
    /// the link reached its network phase without authentication): everything the session
    /// holds until it ends (boxed: sessions of a large LNS spend little time before this).
    Admitted(Box<Admitted>),
}

/// What an admitted session holds.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Admitted {
    /// The authenticated name, once the link confirmed the credentials.
    pub user: Option<String>,
    /// LNS: the address leased to the peer (fixed or from the pool), returned at the end.
    pub lease: Option<Ipv4Addr>,
    /// Rate limits (RADIUS), when the session has any (boxed: most sessions have none).
    pub shaper: Option<Box<Shaper>>,
    /// The interface carrying the session's IP, once IPCP came up.
    pub interface: Option<Interface>,
    /// IPv6 state, once IPv6CP has come up (boxed: most sessions of an IPv4-only LNS never
    /// need it).
    pub ipv6: Option<Box<Ipv6State>>,
    /// Which network protocols are up.
    pub network: Network,
}

/// The network protocols of an admitted session.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum Network {
    /// None up (not yet, or no longer). After LCP renegotiated the peer authenticates
    /// again: `reauth` is the request its backend has not answered yet.
    Down {
        /// The unanswered authentication request.
        reauth: Option<Box<AuthRequest>>,
    },
    /// IPCP or IPv6CP (or both) opened.
    Up {
        /// IPCP's result, while IPCP is opened.
        ipv4: Option<Ipv4Params>,
        /// IPv6CP is opened.
        ipv6: bool,
    },
}

impl Default for Network {
    fn default() -> Self {
        Network::Down { reauth: None }
    }
}

impl Network {
    /// The state with IPv4 set (`Some`: IPCP opened) or cleared.
    fn with_ipv4(&self, ipv4: Option<Ipv4Params>) -> Network {
        Network::up(ipv4, self.ipv6_up())
    }

    fn with_ipv6(&self, up: bool) -> Network {
        Network::up(self.ipv4(), up)
    }

    fn up(ipv4: Option<Ipv4Params>, ipv6: bool) -> Network {
        if ipv4.is_none() && !ipv6 {
            Network::Down { reauth: None }
        } else {
            Network::Up { ipv4, ipv6 }
        }
    }

    fn ipv4(&self) -> Option<Ipv4Params> {
        match self {
            Network::Up { ipv4, .. } => *ipv4,
            Network::Down { .. } => None,
        }
    }

    fn ipv6_up(&self) -> bool {
        matches!(self, Network::Up { ipv6: true, .. })
    }
}

/// The interface carrying a session's IP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Interface {
    /// The shared TUN (its name).
    Shared(String),
    /// The session's own TUN, asked of the shell and not yet reported up.
    Opening,
    /// The session's own TUN, up.
    Own(String),
}

/// A session's IPv6 addressing, from IPv6CP's interface identifiers.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Ipv6State {
    /// IPv6CP interface identifiers (ours, the peer's).
    pub iids: ([u8; 8], [u8; 8]),
    /// Our IPv6 link-local address (from our interface identifier).
    pub local: Ipv6Addr,
    /// Our global IPv6 address (client: formed from the advertised prefix; LNS: the peer's).
    pub global: Option<Ipv6Addr>,
    /// LNS: the prefix lease of this session.
    pub lease: Option<crate::pool::Ipv6Lease>,
    /// IPv6 set up on the session's interface (addresses, routes, advertisement).
    pub configured: bool,
    /// Client: an advertisement received before the interface existed.
    pub pending_ra: Option<crate::ip::ra::Learned>,
}

impl Session {
    pub fn new(link: Link, now: Instant) -> Self {
        Session {
            link,
            timer: None,
            since: now,
            shrink_pending: false,
            last_rx_packets: 0,
            last_activity: now,
            radius: None,
            quality: None,
            state: SessionState::Establishing { pending: None },
        }
    }

    /// What the session holds once admitted.
    pub fn admitted(&self) -> Option<&Admitted> {
        match &self.state {
            SessionState::Admitted(a) => Some(a),
            SessionState::Establishing { .. } => None,
        }
    }

    /// What the session holds once admitted, mutably.
    pub fn admitted_mut(&mut self) -> Option<&mut Admitted> {
        match &mut self.state {
            SessionState::Admitted(a) => Some(a),
            SessionState::Establishing { .. } => None,
        }
    }

    /// Admits the session (if not yet): an unanswered authentication request is dropped,
    /// what an admitted session already holds is kept.
    pub fn admit(&mut self) -> &mut Admitted {
        match &mut self.state {
            SessionState::Admitted(a) => {
                if let Network::Down { reauth } = &mut a.network {
                    *reauth = None;
                }
            }
            SessionState::Establishing { .. } => {
                self.state = SessionState::Admitted(Box::default());
            }
        }
        match &mut self.state {
            SessionState::Admitted(a) => a,
            SessionState::Establishing { .. } => unreachable!("admitted above"),
        }
    }

    /// An asynchronous backend is asked: its request waits with the session. An admitted
    /// session asks again only after LCP renegotiated (its network protocols are down then;
    /// one still up is taken down here, and its IPv4, if any, returned to be unrouted).
    pub fn await_auth(&mut self, request: AuthRequest) -> Option<Ipv4Params> {
        let request = Some(Box::new(request));
        match &mut self.state {
            SessionState::Establishing { pending } => {
                *pending = request;
                None
            }
            SessionState::Admitted(a) => {
                let ipv4 = a.network.ipv4();
                a.network = Network::Down { reauth: request };
                ipv4
            }
        }
    }

    /// The unanswered authentication request, if any.
    pub fn pending_auth(&self) -> Option<&AuthRequest> {
        match &self.state {
            SessionState::Establishing { pending } => pending.as_deref(),
            SessionState::Admitted(a) => match &a.network {
                Network::Down { reauth } => reauth.as_deref(),
                Network::Up { .. } => None,
            },
        }
    }

    /// Takes the unanswered authentication request (answered, or the session ends).
    pub fn take_pending_auth(&mut self) -> Option<Box<AuthRequest>> {
        match &mut self.state {
            SessionState::Establishing { pending } => pending.take(),
            SessionState::Admitted(a) => match &mut a.network {
                Network::Down { reauth } => reauth.take(),
                Network::Up { .. } => None,
            },
        }
    }

    /// The authenticated user.
    pub fn user(&self) -> Option<&str> {
        self.admitted().and_then(|a| a.user.as_deref())
    }

    /// IPCP's result, while IPCP is opened.
    pub fn ipv4(&self) -> Option<Ipv4Params> {
        self.admitted().and_then(|a| a.network.ipv4())
    }

    /// IPCP opened (`Some`) or closed (`None`); the session is admitted by then.
    pub fn set_ipv4(&mut self, ipv4: Option<Ipv4Params>) {
        if ipv4.is_none() && self.admitted().is_none() {
            return;
        }
        let a = self.admit();
        a.network = a.network.with_ipv4(ipv4);
    }

    /// IPv6CP is opened.
    pub fn ipv6_up(&self) -> bool {
        self.admitted().is_some_and(|a| a.network.ipv6_up())
    }

    /// IPv6CP opened with these interface identifiers (ours, the peer's): what the session
    /// already knew of IPv6 (a lease, a global address) is kept.
    pub fn ipv6_opened(&mut self, iids: ([u8; 8], [u8; 8]), local: Ipv6Addr) {
        let a = self.admit();
        a.network = a.network.with_ipv6(true);
        match a.ipv6.as_deref_mut() {
            Some(v6) => {
                v6.iids = iids;
                v6.local = local;
            }
            None => {
                a.ipv6 = Some(Box::new(Ipv6State {
                    iids,
                    local,
                    global: None,
                    lease: None,
                    configured: false,
                    pending_ra: None,
                }))
            }
        }
    }

    /// IPv6CP left Opened (its addressing is kept for when it opens again).
    pub fn ipv6_closed(&mut self) {
        if let Some(a) = self.admitted_mut() {
            a.network = a.network.with_ipv6(false);
        }
    }

    /// The session's IPv6 state, if IPv6CP ever came up.
    pub fn v6(&self) -> Option<&Ipv6State> {
        self.admitted().and_then(|a| a.ipv6.as_deref())
    }

    /// The session's IPv6 state, if IPv6CP ever came up, mutably.
    pub fn v6_mut(&mut self) -> Option<&mut Ipv6State> {
        self.admitted_mut().and_then(|a| a.ipv6.as_deref_mut())
    }

    /// LNS: the address leased to the peer.
    pub fn lease(&self) -> Option<Ipv4Addr> {
        self.admitted().and_then(|a| a.lease)
    }

    /// The interface carrying the session's IP.
    pub fn interface(&self) -> Option<&Interface> {
        self.admitted().and_then(|a| a.interface.as_ref())
    }

    /// The session's own TUN, when it is up: its name.
    pub fn own_tun(&self) -> Option<&str> {
        match self.interface() {
            Some(Interface::Own(name)) => Some(name),
            _ => None,
        }
    }

    /// The session's rate limits, if any.
    pub fn shaper_mut(&mut self) -> Option<&mut Shaper> {
        self.admitted_mut().and_then(|a| a.shaper.as_deref_mut())
    }

    /// New rate limits (RADIUS authorization or CoA, both for admitted sessions only).
    pub fn limit_rate(&mut self, shaper: Shaper) {
        if let Some(a) = self.admitted_mut() {
            a.shaper = Some(Box::new(shaper));
        }
    }

    /// Whether the network protocol for `proto` (IPv4 or IPv6) is up on this session.
    pub fn carries(&self, proto: ppp::Protocol) -> bool {
        if proto == ppp::Protocol::IPV4 {
            self.ipv4().is_some()
        } else {
            self.ipv6_up()
        }
    }

    pub fn snapshot(&self, key: SessionKey, now: Instant, stats: L2tpStats) -> SessionSnapshot {
        SessionSnapshot {
            key,
            phase: self.link.phase(),
            user: self.user().map(str::to_string),
            ipv4: self.ipv4(),
            ipv6_up: self.ipv6_up(),
            uptime_s: now.saturating_duration_since(self.since).as_secs(),
            stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn session(now: Instant) -> Session {
        let cfg = std::sync::Arc::new(ppp::LinkConfig::client("u", "p"));
        Session::new(Link::new(cfg, rand::rngs::StdRng::seed_from_u64(1)), now)
    }

    fn params() -> Ipv4Params {
        Ipv4Params {
            local: Ipv4Addr::new(198, 51, 100, 1),
            peer: Ipv4Addr::new(203, 0, 113, 9),
            dns: [None, None],
        }
    }

    fn request() -> AuthRequest {
        use l2tp_wire::{SessionId, TunnelId};
        AuthRequest {
            credentials: ppp::Credentials::Pap {
                password: b"p".to_vec(),
            },
            key: SessionKey::new(TunnelId(1), SessionId(2)),
            ticket: ppp::auth::AuthTicket(1),
            user: "alice".into(),
            method: ppp::AuthMethod::Pap,
            radius: None,
        }
    }

    #[test]
    fn a_pending_request_is_dropped_when_the_session_is_admitted() {
        let mut s = session(Instant::now());
        assert_eq!(s.await_auth(request()), None);
        assert_eq!(s.pending_auth().map(|r| r.user.as_str()), Some("alice"));
        s.admit().lease = Some(Ipv4Addr::new(203, 0, 113, 9));
        assert!(s.pending_auth().is_none());
        assert_eq!(s.lease(), Some(Ipv4Addr::new(203, 0, 113, 9)));
    }

    #[test]
    fn asking_again_takes_the_network_down_and_keeps_what_was_granted() {
        let mut s = session(Instant::now());
        s.admit().lease = Some(Ipv4Addr::new(203, 0, 113, 9));
        s.set_ipv4(Some(params()));
        assert!(s.carries(ppp::Protocol::IPV4));
        assert_eq!(s.await_auth(request()), Some(params()), "IPv4 to unroute");
        assert!(
            !s.carries(ppp::Protocol::IPV4),
            "no IP while re-authenticating"
        );
        assert!(s.pending_auth().is_some());
        assert_eq!(s.lease(), Some(Ipv4Addr::new(203, 0, 113, 9)));
        s.admit();
        assert!(s.pending_auth().is_none());
    }

    #[test]
    fn ipv6_addressing_outlives_ipv6cp_closing() {
        let mut s = session(Instant::now());
        s.ipv6_opened(([1; 8], [2; 8]), Ipv6Addr::LOCALHOST);
        s.v6_mut().unwrap().configured = true;
        assert!(s.ipv6_up());
        s.ipv6_closed();
        assert!(!s.ipv6_up());
        assert!(s.v6().is_some_and(|v| v.configured));
        assert!(matches!(
            s.admitted().unwrap().network,
            Network::Down { reauth: None }
        ));
    }
}
