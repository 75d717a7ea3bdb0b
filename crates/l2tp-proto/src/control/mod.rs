//! Control plane (issue 3): the reliable control channel, the tunnel and call state machines
//! of RFC 2661 §7, and the [`Endpoint`] that demultiplexes them — sans-IO.
//!
//! ```
//! use l2tp_proto::control::{Endpoint, EndpointConfig, Event, TunnelOptions};
//! use rand::SeedableRng;
//! use std::time::Instant;
//!
//! let now = Instant::now();
//! let lac_addr = "127.0.0.1:1701".parse().unwrap();
//! let lns_addr = "127.0.0.2:1701".parse().unwrap();
//! let rng = |s| Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(s));
//! let mut lac = Endpoint::new(EndpointConfig::default(), rng(1));
//! let mut lns = Endpoint::new(EndpointConfig::default(), rng(2));
//! let tunnel = lac.open_tunnel(now, lac_addr, lns_addr, TunnelOptions::default()).unwrap();
//! // Shuttle datagrams until both sides are quiet (a real node uses sockets and a clock).
//! for _ in 0..10 {
//!     while let Some(t) = lac.poll_transmit() { lns.handle_datagram(now, t.to, t.local, &t.payload); }
//!     while let Some(t) = lns.poll_transmit() { lac.handle_datagram(now, t.to, t.local, &t.payload); }
//! }
//! assert!(matches!(lac.poll_event(), Some(Event::TunnelUp { tunnel: t, .. }) if t == tunnel));
//! assert!(matches!(lns.poll_event(), Some(Event::TunnelUp { .. })));
//! ```

pub mod config;
pub mod endpoint;
pub mod error;
pub mod event;
pub(crate) mod failover;
pub mod ids;
pub mod recover;
pub mod reliable;
pub(crate) mod session;
pub(crate) mod tunnel;

pub use config::{CallParams, EndpointConfig, PeerAuth, PeerRule, TunnelOptions};
pub use endpoint::{
    CallRecord, CallRef, Endpoint, EndpointStats, Transmit, TunnelRecord, TunnelRef,
};
pub use error::{ApiError, ProtocolError};
pub use event::{
    CallInfo, CallKind, Event, FailoverInfo, ProxyInfo, SessionDownReason, SessionInfo,
    SessionStateKind, TunnelDownReason, TunnelInfo, TunnelStateKind,
};
pub use recover::{SessionToRecover, TunnelToRecover};
pub use reliable::{ChannelFailure, ControlCounters, ReliableConfig};
