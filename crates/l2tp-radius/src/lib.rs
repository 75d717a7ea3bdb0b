//! A sans-IO RADIUS client for the LNS, and the dynamic-authorization (RFC 5176) core.
//!
//! Layers, each a module with one job:
//! - [`packet`], [`attr`], [`crypt`]: the codec (RFC 2865/2866/2868/2869/2548/5176): packets,
//!   attributes, Vendor-Specific, tagged tunnel attributes, password hiding, authenticators,
//!   Message-Authenticator on every request and required on every reply (BlastRADIUS).
//!
//! Nothing here but the shell reads a clock or touches a socket: time comes in as `now`,
//! randomness from an injected RNG, outputs are drained after every input.

pub mod acct;
pub mod attr;
pub mod client;
pub mod crypt;
pub mod dae;
pub mod error;
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
