//! Sans-IO PPP (RFC 1661) for frames carried in L2TP: LCP, PAP, CHAP-MD5, MS-CHAPv2, IPCP
//! (with RFC 1877 DNS) and IPv6CP, in both the server (LNS) and client roles.
//!
//! A [`Link`] is one PPP link (one L2TP session). It never reads a clock, never does I/O and
//! takes its randomness from an injected RNG (DESIGN.md §3): every input (`open`,
//! `handle_frame`, `handle_timeout`, `auth_decision`, `close`) takes `now`, and after each the
//! caller drains `poll_transmit`, `poll_event` and re-arms its timer from `poll_timeout`.
//!
//! # Data path
//! The daemon classifies every received frame itself with [`classify`] (no allocation, no
//! state) and hands only control protocols (LCP, PAP, CHAP, IPCP, IPv6CP and unknown
//! protocols, i.e. [`Protocol::is_control`]) to [`Link::handle_frame`]. IPv4/IPv6 frames it
//! writes straight to the TUN device once [`Event::NetworkUp`]/[`Event::Ipv6Up`] arrived. IP
//! frames that do reach `handle_frame` are still delivered as [`Event::Ipv4Packet`] /
//! [`Event::Ipv6Packet`] (slow path, handy in tests). For sending, [`ip_frame_header`] gives
//! the prefix to write before a packet (zero-copy), or [`Link::send_ipv4`] builds the frame.
//!
//! # Authentication
//! Credentials are never looked up here: the server emits [`Event::AuthRequest`] and the daemon
//! answers with [`Link::auth_decision`], quoting the request's [`AuthTicket`] —
//! `AuthDecision::Password` (the link verifies PAP,
//! CHAP-MD5 or MS-CHAPv2 and builds the MS-CHAPv2 `S=` response), `Accept`/`AcceptMsChapV2`
//! (a backend such as RADIUS verified) or `Reject`. The LNS sets the peer's address from its pool
//! with [`Link::set_peer_ipv4`] before accepting.
//!
//! # Invariants
//! - Nothing a peer sends can panic: malformed input is counted in [`LinkStats::rx_errors`]
//!   and dropped; the automata stay consistent.
//! - [`Event::Down`] is emitted exactly once; after it the link is inert.
//! - Frames we send always carry FF 03 and a 2-octet protocol (every peer accepts that).
//!
//! ```
//! use std::time::Instant;
//! use ppp::{AuthDecision, AuthMethod, Event, Link, LinkConfig};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let now = Instant::now();
//! let mut server = Link::new(
//!     LinkConfig::server(vec![AuthMethod::MsChapV2], [10, 0, 0, 1].into(), [None, None]),
//!     StdRng::seed_from_u64(1),
//! );
//! let mut client = Link::new(LinkConfig::client("alice", "secret"), StdRng::seed_from_u64(2));
//! server.set_peer_ipv4([10, 0, 0, 2].into());
//! server.open(now);
//! client.open(now);
//! let mut up = None;
//! for _ in 0..20 {
//!     while let Some(f) = server.poll_transmit() { client.handle_frame(now, &f); }
//!     while let Some(f) = client.poll_transmit() { server.handle_frame(now, &f); }
//!     while let Some(e) = server.poll_event() {
//!         if let Event::AuthRequest { ticket, user, .. } = e {
//!             assert_eq!(user, "alice");
//!             let pw = AuthDecision::Password("secret".into());
//!             server.auth_decision(now, ticket, pw).unwrap();
//!         }
//!     }
//!     while let Some(e) = client.poll_event() {
//!         if let Event::NetworkUp { ipv4 } = e { up = Some(ipv4.local); }
//!     }
//! }
//! assert_eq!(up, Some([10, 0, 0, 2].into()));
//! ```

pub mod auth;
pub mod chap;
pub mod error;
pub mod event;
pub mod frame;
pub mod fsm;
pub mod fuzzing;
pub mod ipcp;
pub mod ipv6cp;
pub mod lcp;
pub mod link;
pub mod mschapv2;
pub mod options;
pub mod packet;
pub mod pap;
pub mod probe;
pub mod proxy;

pub use auth::{AuthDecision, AuthMethod, AuthTicket, Credentials};
pub use error::{ApiError, DecodeError, FrameError};
pub use event::{DownReason, Event, Ipv4Params, Phase};
pub use frame::{classify, encapsulate, ip_frame_header, Protocol};
pub use fsm::State;
pub use lcp::Role;
pub use link::{
    AuthConfig, Ipv4Config, Link, LinkConfig, LinkStats, ProxiedAuth, DEFAULT_LINK_MRU,
};
