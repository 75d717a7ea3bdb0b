//! What the link tells the daemon: [`Event`]s, [`DownReason`]s and the [`Phase`] (RFC 1661 §3.2).

use std::net::Ipv4Addr;

use crate::auth::{AuthMethod, AuthTicket, Credentials};

/// Link phases of RFC 1661 §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// No link (before `open`, after the link finished).
    Dead,
    /// LCP negotiating.
    Establish,
    /// Authentication running.
    Authenticate,
    /// NCPs (IPCP, IPv6CP) running; IP may flow once they are up.
    Network,
    /// LCP Terminate exchange in progress.
    Terminate,
}

/// Why the link went down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DownReason {
    /// `Link::close` was called with this reason.
    AdminClose(String),
    /// The peer sent an LCP Terminate-Request.
    PeerTerminated,
    /// `Link::lower_down`: the L2TP session went away.
    LowerLayerDown,
    /// LCP did not converge (Max-Configure or Max-Failure exhausted, or a required option
    /// refused); the text says which.
    NegotiationFailed(String),
    /// No authentication protocol both ends accept. Authenticator: the peer refused every
    /// protocol we require. Peer: the authenticator kept asking for a protocol we do not
    /// accept, or gave up after we refused it.
    AuthRefused,
    /// Authentication failed (server: credentials rejected; client: Failure / PAP Nak /
    /// bad MS-CHAPv2 authenticator response / timeout).
    AuthFailed(String),
    /// `echo_failures` LCP Echo-Requests in a row went unanswered.
    KeepaliveTimeout,
    /// The link did not reach the network phase (LCP, authentication, an NCP) within
    /// `LinkConfig::establish_timeout`.
    EstablishTimeout,
    /// RFC 1661 §6.4: the link appears looped back (Magic-Number collisions persist).
    LoopedBack,
    /// Every network protocol failed to come up or was closed.
    NoNetworkProtocol,
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownReason::AdminClose(why) => write!(f, "closed: {why}"),
            DownReason::PeerTerminated => f.write_str("the peer ended the link (LCP Terminate)"),
            DownReason::LowerLayerDown => f.write_str("the L2TP session went away"),
            DownReason::NegotiationFailed(why) => write!(f, "LCP negotiation failed: {why}"),
            DownReason::AuthRefused => {
                f.write_str("authentication failed: no authentication protocol both ends accept")
            }
            DownReason::AuthFailed(why) => write!(f, "authentication failed: {why}"),
            DownReason::KeepaliveTimeout => f.write_str("keepalive timed out"),
            DownReason::EstablishTimeout => f.write_str("establishment timed out"),
            DownReason::LoopedBack => f.write_str("the link is looped back"),
            DownReason::NoNetworkProtocol => f.write_str("no network protocol is up"),
        }
    }
}

/// IPv4 parameters negotiated by IPCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ipv4Params {
    /// Our address.
    pub local: Ipv4Addr,
    /// The peer's address (unspecified if the peer did not state one).
    pub peer: Ipv4Addr,
    /// Primary and secondary DNS (server: what we offered and the peer accepted; client: what
    /// we were given).
    pub dns: [Option<Ipv4Addr>; 2],
}

/// Something the daemon must see or act on, drained with `Link::poll_event`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// LCP reached Opened.
    LinkUp,
    /// Server: the peer presented credentials; answer with `Link::auth_decision`.
    AuthRequest {
        /// Quote this in `Link::auth_decision`.
        ticket: AuthTicket,
        /// Which protocol carried them.
        method: AuthMethod,
        /// The peer's name as sent (for MS-CHAPv2 possibly `DOMAIN\user`).
        user: String,
        /// What the peer proved, for backends (RADIUS) that verify themselves.
        credentials: Credentials,
    },
    /// Authentication succeeded (server: the peer is `user`; client: we were accepted as `user`).
    Authenticated {
        /// Authenticated name.
        user: String,
        /// Method used.
        method: AuthMethod,
    },
    /// IPCP reached Opened.
    NetworkUp {
        /// The negotiated addresses.
        ipv4: Ipv4Params,
    },
    /// IPCP left Opened.
    NetworkDown,
    /// IPv6CP reached Opened.
    Ipv6Up {
        /// Our interface identifier.
        local_iid: [u8; 8],
        /// The peer's interface identifier.
        peer_iid: [u8; 8],
    },
    /// IPv6CP left Opened.
    Ipv6Down,
    /// An IPv4 packet arrived through `handle_frame` (slow path; see the crate docs).
    Ipv4Packet(Vec<u8>),
    /// An IPv6 packet arrived through `handle_frame` (slow path).
    Ipv6Packet(Vec<u8>),
    /// The link is finished; tear down the L2TP session. Emitted once.
    Down {
        /// Why.
        reason: DownReason,
    },
}
