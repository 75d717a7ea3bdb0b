//! A sans-IO RADIUS client for the LNS, and the dynamic-authorization (RFC 5176) core.
//!
//! Layers, each a module with one job:
//! - [`packet`], [`attr`], [`crypt`]: the codec (RFC 2865/2866/2868/2869/2548/5176): packets,
//!   attributes, Vendor-Specific, tagged tunnel attributes, User-Password hiding,
//!   Tunnel-Password, Request/Response Authenticators, and a Message-Authenticator on every
//!   request, required and verified on every reply (BlastRADIUS, CVE-2024-3596);
//! - [`request`], [`reply`], [`acct`]: what the LNS asks (from `ppp`'s credentials), what it
//!   gets back as a typed [`reply::Authorization`], accounting records;
//! - [`client`]: the state machine: servers by priority, retransmission, failover, matching;
//! - [`dae`]: Disconnect/CoA requests in, typed requests out, ACK/NAK back;
//! - [`spool`], [`shell`]: the I/O: the on-disk Stop spool and UDP sockets.
//!
//! Invariants: nothing but [`spool`] and [`shell`] reads a clock or touches the world; time
//! comes in as `now`, randomness from an injected RNG, outputs are drained after every
//! input. No reply decides anything unless it comes from the server's address, answers an
//! outstanding identifier and carries both authenticators. Secrets never reach `Debug`.
//!
//! ```
//! use std::time::Instant;
//! use l2tp_radius::client::{Client, ClientConfig, ServerConfig};
//! use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo};
//! use l2tp_radius::Secret;
//! use rand::SeedableRng;
//!
//! let server = ServerConfig { addr: "192.0.2.5:1812".parse().unwrap(), secret: Secret::new("s3cret"), priority: 1 };
//! let nas = NasIdentity { identifier: Some("lns-1".into()), ..Default::default() };
//! let mut client = Client::new(ClientConfig::new(vec![server], vec![], nas), rand::rngs::StdRng::seed_from_u64(1));
//! let now = Instant::now();
//! let request = client.authenticate(now, AccessRequest {
//!     session: SessionInfo {
//!         user_name: "alice".into(), nas_port: 1, acct_session_id: "00000001".into(),
//!         calling_station_id: None, called_station_id: None, tunnel: None,
//!     },
//!     credentials: ppp::Credentials::Pap { password: b"pw".to_vec() },
//! }).unwrap();
//! let datagram = client.poll_transmit().unwrap();   // send it; feed replies to handle_datagram
//! assert_eq!(datagram.to, "192.0.2.5:1812".parse().unwrap());
//! assert!(client.poll_timeout().is_some());          // call handle_timeout then
//! # let _ = request;
//! ```

pub mod acct;
pub mod attr;
pub mod client;
pub mod crypt;
pub mod dae;
pub mod error;
pub mod fuzzing;
pub mod packet;
pub mod ratelog;
pub mod reply;
pub mod request;
pub mod shell;
pub mod spool;

pub use attr::AttrType;
pub use crypt::Secret;
pub use error::{ApiError, AuthError, DecodeError};
pub use packet::{Attr, Code, Packet};
