//! Errors, split by who is at fault: [`DecodeError`] (the bytes), [`AuthError`] (the
//! authenticators: forged or wrong secret), [`ApiError`] (the caller).

use thiserror::Error;

/// A datagram that is not a well-formed RADIUS packet (RFC 2865 §3, §5).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Shorter than the 20-octet header.
    #[error("packet of {0} octets is shorter than the 20-octet header")]
    TooShort(usize),
    /// The Length field is below 20, above 4096 or beyond the datagram.
    #[error("length field {declared} invalid for a datagram of {actual} octets")]
    BadLength {
        /// The Length field.
        declared: usize,
        /// Octets received.
        actual: usize,
    },
    /// An attribute header runs past the packet or has a length below 2.
    #[error("attribute at offset {offset} is truncated or has length < 2")]
    BadAttribute {
        /// Offset of the attribute in the packet.
        offset: usize,
    },
    /// An attribute's value has the wrong size or content for its type.
    #[error("attribute {attr}: {reason}")]
    BadValue {
        /// Attribute type.
        attr: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// A Vendor-Specific attribute whose sub-attributes do not add up.
    #[error("malformed Vendor-Specific attribute (vendor {vendor})")]
    BadVendorSpecific {
        /// Vendor-Id, 0 when too short to carry one.
        vendor: u32,
    },
}

/// A packet that parses but fails the authenticator checks (RFC 2865 §3, RFC 3579 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The Response/Request Authenticator does not match (forged, or another secret).
    #[error("bad authenticator")]
    BadAuthenticator,
    /// No Message-Authenticator where one is required (BlastRADIUS, CVE-2024-3596).
    #[error("Message-Authenticator missing")]
    MissingMessageAuthenticator,
    /// Message-Authenticator present but wrong (or not 16 octets).
    #[error("bad Message-Authenticator")]
    BadMessageAuthenticator,
}

/// A request the caller cannot make.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// An attribute value longer than 253 octets.
    #[error("attribute {0} value too long")]
    AttributeTooLong(u8),
    /// The packet would exceed 4096 octets.
    #[error("packet too long")]
    PacketTooLong,
    /// Too many requests outstanding (the configured bound, or all 256 ids of every server).
    #[error("too many outstanding requests")]
    TooManyOutstanding,
    /// No server configured for this kind of request.
    #[error("no server configured")]
    NoServer,
    /// A password longer than 128 octets (RFC 2865 §5.2).
    #[error("password too long")]
    PasswordTooLong,
}
