//! Identifier newtypes carried in every L2TP header (RFC 2661 §3.1).
//!
//! Zero is special: "zero tunnel / session ids are treated specially - zero ids are never
//! assigned to tunnels or sessions in the network" (seed document). Tunnel ID 0 appears only
//! in an SCCRQ before the peer's id is known; Session ID 0 marks tunnel-level messages.

use std::fmt;

/// A tunnel identifier (16 bits, locally significant to the receiver).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct TunnelId(pub u16);

/// A session identifier (16 bits, locally significant to the receiver).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SessionId(pub u16);

impl TunnelId {
    /// The reserved id 0 ("not yet assigned").
    pub const NONE: TunnelId = TunnelId(0);
    /// True for the reserved id 0.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl SessionId {
    /// The reserved id 0 (tunnel-level message / tunnel management handle).
    pub const NONE: SessionId = SessionId(0);
    /// True for the reserved id 0.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for TunnelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
