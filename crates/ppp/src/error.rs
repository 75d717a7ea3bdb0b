//! Typed errors of the PPP crate, split by who is at fault (DESIGN.md §6.7).
//!
//! [`FrameError`] and [`DecodeError`] are about bytes the peer sent; [`ApiError`] is about a
//! call the caller made at the wrong time. None of them is ever a panic.

use thiserror::Error;

/// A PPP frame (as carried in L2TP) could not be classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The frame ends before a complete protocol field.
    #[error("frame truncated before the protocol field")]
    Truncated,
    /// RFC 1661 §2: the protocol field's least significant octet must be odd and the most
    /// significant octet even.
    #[error("invalid protocol field {0:#06x}")]
    BadProtocol(u16),
}

/// A control packet (LCP, NCP, PAP, CHAP) or its option list is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer than the 4 header octets (Code, Identifier, Length).
    #[error("packet shorter than its header")]
    Truncated,
    /// RFC 1661 §5: the Length field is below the header size.
    #[error("length field {0} below the header size")]
    BadLength(u16),
    /// RFC 1661 §5: the Length field claims more octets than were received.
    #[error("length field {claimed} exceeds the {available} octets received")]
    LengthOverrun {
        /// Octets the Length field claims.
        claimed: u16,
        /// Octets present.
        available: usize,
    },
    /// RFC 1661 §6: an option's Length is below 2.
    #[error("option {kind} has invalid length {len}")]
    BadOptionLength {
        /// Option type.
        kind: u8,
        /// Its length octet.
        len: u8,
    },
    /// An option's Length runs past the end of the packet.
    #[error("option {kind} of length {len} overruns the packet")]
    OptionOverrun {
        /// Option type.
        kind: u8,
        /// Its length octet.
        len: u8,
    },
    /// A packet body is too short or inconsistent for its code (PAP, CHAP, Echo …).
    #[error("malformed {0} packet")]
    Malformed(&'static str),
}

/// A call the caller made that the link cannot honour now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ApiError {
    /// The network-layer protocol for this packet is not open (IPCP / IPv6CP not Opened).
    #[error("network protocol not open")]
    NetworkNotUp,
    /// The packet is larger than the peer's MRU.
    #[error("packet of {len} octets exceeds the peer MRU {mru}")]
    TooBig {
        /// Packet length.
        len: usize,
        /// Peer's MRU.
        mru: u16,
    },
    /// `auth_decision` called while no authentication request is pending.
    #[error("no authentication request is pending")]
    NoPendingAuth,
}
