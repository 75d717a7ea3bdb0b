//! Decode and encode errors: what was wrong with the bytes, precisely enough to log.

use thiserror::Error;

use crate::avp::AvpType;
use crate::message::MessageType;

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
    /// Fewer than 6 bytes remain where an AVP header should start (RFC 2661 §4.1).
    #[error("truncated AVP header at offset {offset}: {remaining} bytes left, need 6")]
    AvpTruncated {
        /// Offset of the AVP in the AVP area.
        offset: usize,
        /// Bytes left in the AVP area.
        remaining: usize,
    },
    /// An AVP Length field below 6 or past the end of the message (RFC 2661 §4.1).
    #[error("AVP at offset {offset} has length {length} but {remaining} bytes remain (minimum 6)")]
    AvpBadLength {
        /// Offset of the AVP in the AVP area.
        offset: usize,
        /// The AVP's Length field.
        length: usize,
        /// Bytes left in the AVP area from the AVP's start.
        remaining: usize,
    },
    /// A recognised AVP whose value has a length its format does not allow (RFC 2661 §4.4;
    /// Result Code general error 2, "Length is wrong").
    #[error("{avp} AVP value of {len} bytes has the wrong length")]
    InvalidAvpValue {
        /// Which AVP.
        avp: AvpType,
        /// Length of the (unhidden) value.
        len: usize,
    },
    /// A control message with no AVPs where a message was expected (a ZLB is decoded at the
    /// header level, not here).
    #[error("control message has no AVPs (no Message Type AVP)")]
    NoMessageType,
    /// The first AVP is not an IETF, cleartext Message Type AVP (RFC 2661 §4.4.1: "the Message
    /// Type AVP ... MUST be the first AVP in a message").
    #[error("first AVP is vendor {vendor} attribute {attr}, not Message Type")]
    MessageTypeNotFirst {
        /// Vendor ID of the first AVP.
        vendor: u16,
        /// Attribute type of the first AVP.
        attr: AvpType,
    },
    /// A required AVP is absent (RFC 2661 §6 lists them per message).
    #[error("{message} is missing the required {avp} AVP")]
    MissingAvp {
        /// The message being decoded.
        message: MessageType,
        /// The AVP it lacks.
        avp: AvpType,
    },
    /// A hidden AVP arrived and no shared secret is configured for this peer (RFC 2661 §4.3:
    /// "The H bit MUST only be set if a shared secret exists").
    #[error("hidden {avp} AVP but no shared secret is configured")]
    HiddenWithoutSecret {
        /// Which AVP.
        avp: AvpType,
    },
    /// A hidden AVP with no Random Vector AVP before it (RFC 2661 §4.3: the Random Vector
    /// "MUST precede the first AVP having an H bit of 1").
    #[error("hidden {avp} AVP without a preceding Random Vector AVP")]
    HiddenWithoutRandomVector {
        /// Which AVP.
        avp: AvpType,
    },
    /// After unhiding, the original-length prefix claims more bytes than the AVP holds
    /// (wrong secret, or a corrupt AVP). The prefix is never trusted to bound a read.
    #[error("hidden {avp} AVP: original length {declared} exceeds the {available} bytes present (wrong secret?)")]
    HiddenBadLength {
        /// Which AVP.
        avp: AvpType,
        /// The decrypted original-length prefix (0 when the value is too short to hold one).
        declared: usize,
        /// Bytes available after the prefix.
        available: usize,
    },
}

/// Why a message could not be encoded. Encoding errors are the caller's, never the peer's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// An AVP value longer than the 10-bit Length field allows (RFC 2661 §4.1: at most 1023
    /// octets per AVP including its 6-byte header; hiding adds 2 bytes).
    #[error("{avp} AVP value of {len} bytes exceeds the 1023-byte AVP limit")]
    AvpTooLong {
        /// Which AVP.
        avp: AvpType,
        /// Length of the value (after hiding, if hidden).
        len: usize,
    },
    /// The whole message would exceed the 16-bit Length field of the header.
    #[error("control message of {len} bytes exceeds 65535")]
    MessageTooLong {
        /// Encoded length.
        len: usize,
    },
}
