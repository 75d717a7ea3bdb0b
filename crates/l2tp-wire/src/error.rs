//! Decode and encode errors: what was wrong with the bytes, precisely enough to log.

use thiserror::Error;

/// Why a datagram could not be decoded. Every variant says what was wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the header that the flags announce.
    #[error("truncated header: need {needed} bytes, have {have}")]
    TruncatedHeader {
        /// Bytes the header needs given its flags.
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// The version field is not 2. Version 3 (L2TPv3, RFC 3931) is recognised and reported.
    #[error("unsupported L2TP version {0} (only version 2 is handled)")]
    UnsupportedVersion(u8),
    /// The Length field disagrees with the datagram.
    #[error("length field {field} does not match datagram of {datagram} bytes")]
    LengthMismatch {
        /// Value of the Length field.
        field: usize,
        /// Actual datagram length.
        datagram: usize,
    },
    /// A control message without the L bit (RFC 2661 §3.1: L "MUST be set to 1 for control messages").
    #[error("control message without the L (length) bit")]
    ControlWithoutLength,
    /// A control message without the S bit (RFC 2661 §3.1: S "MUST be set to 1 for control messages").
    #[error("control message without the S (sequence) bit")]
    ControlWithoutSequence,
    /// A control message with the O bit (RFC 2661 §3.1: O "MUST be set to 0 for control messages").
    #[error("control message with the O (offset) bit")]
    ControlWithOffset,
    /// A control message with the P bit (RFC 2661 §3.1: P "MUST be set to 0 for control messages").
    #[error("control message with the P (priority) bit")]
    ControlWithPriority,
    /// The Offset Size points past the end of the datagram.
    #[error("offset size {offset} points past the end of the {len}-byte datagram")]
    OffsetPastEnd {
        /// Offset Size field.
        offset: usize,
        /// Bytes available after the Offset Size field.
        len: usize,
    },
}
