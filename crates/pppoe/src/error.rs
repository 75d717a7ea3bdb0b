//! Typed errors of the PPPoE codec: every malformed frame maps to one variant, and every
//! variant to one [`DropReason`](crate::stats::DropReason) counter.

use thiserror::Error;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than a header needs.
    #[error("frame truncated: {need} bytes needed, {have} present")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The EtherType (after any VLAN tags) is neither PPPoE Discovery nor Session.
    #[error("EtherType {0:#06x} is not PPPoE")]
    NotPppoe(u16),
    /// More stacked VLAN tags than [`MAX_VLAN_TAGS`](crate::eth::MAX_VLAN_TAGS).
    #[error("more than {0} VLAN tags")]
    TooManyVlanTags(usize),
    /// VER or TYPE is not 1 (RFC 2516 §4).
    #[error("PPPoE VER {ver} TYPE {ty}, both must be 1")]
    BadVersion {
        /// VER nibble.
        ver: u8,
        /// TYPE nibble.
        ty: u8,
    },
    /// The LENGTH field says more than the frame holds.
    #[error("PPPoE LENGTH {declared} but only {available} payload bytes")]
    BadLength {
        /// LENGTH field.
        declared: usize,
        /// Bytes after the PPPoE header.
        available: usize,
    },
    /// A session frame whose CODE is not 0x00 (RFC 2516 §6).
    #[error("session frame with CODE {0:#04x}, must be 0x00")]
    SessionCode(u8),
    /// A discovery CODE RFC 2516 does not define.
    #[error("unknown discovery CODE {0:#04x}")]
    UnknownCode(u8),
    /// A TAG header or value runs past the payload.
    #[error("TAG at offset {offset} runs past the payload")]
    TagTruncated {
        /// Offset of the TAG in the payload.
        offset: usize,
    },
    /// A TAG whose length is impossible for its type.
    #[error("TAG {tag_type:#06x} with length {length}")]
    BadTagLength {
        /// TAG_TYPE.
        tag_type: u16,
        /// TAG_LENGTH.
        length: usize,
    },
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A TAG value longer than 65535 octets.
    #[error("TAG {tag_type:#06x} value of {len} octets does not fit")]
    TagTooLong {
        /// TAG_TYPE.
        tag_type: u16,
        /// Value length.
        len: usize,
    },
    /// The payload is longer than 65535 octets.
    #[error("PPPoE payload of {0} octets does not fit the LENGTH field")]
    PayloadTooLong(usize),
    /// More VLAN tags than [`MAX_VLAN_TAGS`](crate::eth::MAX_VLAN_TAGS).
    #[error("more than {0} VLAN tags")]
    TooManyVlanTags(usize),
}
