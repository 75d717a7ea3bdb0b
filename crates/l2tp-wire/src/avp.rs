//! AVP framing (RFC 2661 §4.1): the attribute-type open enum, a zero-copy raw view of one
//! AVP, an iterator over a message's AVP area, and the raw encoder.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Attribute Type        |        Attribute Value...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Typed values live in [`crate::values`] and [`crate::result`], typed messages in
//! [`crate::message`]; this module only frames.

use std::fmt;

use crate::error::{DecodeError, EncodeError};

/// M bit: the receiver must tear down the session/tunnel if it does not recognise the AVP.
pub const AVP_FLAG_MANDATORY: u16 = 0x8000;
/// H bit: the value is hidden (RFC 2661 §4.3).
pub const AVP_FLAG_HIDDEN: u16 = 0x4000;
/// The four reserved bits after M and H.
pub const AVP_RESERVED_MASK: u16 = 0x3c00;
/// The 10-bit Length field.
pub const AVP_LENGTH_MASK: u16 = 0x03ff;
/// Size of the AVP header (flags/length, vendor, attribute type).
pub const AVP_HEADER_LEN: usize = 6;
/// Largest AVP (10-bit Length field), header included.
pub const AVP_MAX_LEN: usize = 1023;
/// Vendor ID 0: attributes defined by the IETF.
pub const VENDOR_IETF: u16 = 0;

/// An AVP attribute type (open enum: any 16-bit value is representable).
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
pub struct AvpType(pub u16);

/// Static facts about an IETF AVP type: name, M bit, whether it may be hidden.
struct AvpInfo {
    name: &'static str,
    mandatory: bool,
    may_hide: bool,
}

const fn info(name: &'static str, mandatory: bool, may_hide: bool) -> Option<AvpInfo> {
    Some(AvpInfo {
        name,
        mandatory,
        may_hide,
    })
}

/// RFC 2661 §4.4: name, "The M-bit for this AVP MUST be set to ...", "This AVP may be hidden".
const AVP_TABLE: [Option<AvpInfo>; 40] = [
    info("Message Type", true, false),
    info("Result Code", true, false),
    info("Protocol Version", true, false),
    info("Framing Capabilities", true, true),
    info("Bearer Capabilities", true, true),
    info("Tie Breaker", false, false),
    info("Firmware Revision", false, true),
    info("Host Name", true, false),
    info("Vendor Name", false, true),
    info("Assigned Tunnel ID", true, true),
    info("Receive Window Size", true, false),
    info("Challenge", true, true),
    info("Q.931 Cause Code", true, false),
    info("Challenge Response", true, true),
    info("Assigned Session ID", true, true),
    info("Call Serial Number", true, true),
    info("Minimum BPS", true, true),
    info("Maximum BPS", true, true),
    info("Bearer Type", true, true),
    info("Framing Type", true, true),
    None, // 20: unassigned in RFC 2661
    info("Called Number", true, true),
    info("Calling Number", true, true),
    info("Sub-Address", true, true),
    info("Tx Connect Speed", true, true),
    info("Physical Channel ID", false, true),
    info("Initial Received LCP CONFREQ", false, true),
    info("Last Sent LCP CONFREQ", false, true),
    info("Last Received LCP CONFREQ", false, true),
    info("Proxy Authen Type", false, true),
    info("Proxy Authen Name", false, true),
    info("Proxy Authen Challenge", false, true),
    info("Proxy Authen ID", false, true),
    info("Proxy Authen Response", false, true),
    info("Call Errors", true, true),
    info("ACCM", true, true),
    info("Random Vector", true, false),
    info("Private Group ID", false, true),
    info("Rx Connect Speed", false, true),
    info("Sequencing Required", true, false),
];

impl AvpType {
    /// 0: Message Type (RFC 2661 §4.4.1).
    pub const MESSAGE_TYPE: AvpType = AvpType(0);
    /// 1: Result Code (§4.4.2).
    pub const RESULT_CODE: AvpType = AvpType(1);
    /// 2: Protocol Version (§4.4.3).
    pub const PROTOCOL_VERSION: AvpType = AvpType(2);
    /// 3: Framing Capabilities.
    pub const FRAMING_CAPABILITIES: AvpType = AvpType(3);
    /// 4: Bearer Capabilities.
    pub const BEARER_CAPABILITIES: AvpType = AvpType(4);
    /// 5: Tie Breaker.
    pub const TIE_BREAKER: AvpType = AvpType(5);
    /// 6: Firmware Revision.
    pub const FIRMWARE_REVISION: AvpType = AvpType(6);
    /// 7: Host Name.
    pub const HOST_NAME: AvpType = AvpType(7);
    /// 8: Vendor Name.
    pub const VENDOR_NAME: AvpType = AvpType(8);
    /// 9: Assigned Tunnel ID.
    pub const ASSIGNED_TUNNEL_ID: AvpType = AvpType(9);
    /// 10: Receive Window Size.
    pub const RECEIVE_WINDOW_SIZE: AvpType = AvpType(10);
    /// 11: Challenge.
    pub const CHALLENGE: AvpType = AvpType(11);
    /// 12: Q.931 Cause Code (§4.4.4).
    pub const Q931_CAUSE_CODE: AvpType = AvpType(12);
    /// 13: Challenge Response.
    pub const CHALLENGE_RESPONSE: AvpType = AvpType(13);
    /// 14: Assigned Session ID.
    pub const ASSIGNED_SESSION_ID: AvpType = AvpType(14);
    /// 15: Call Serial Number.
    pub const CALL_SERIAL_NUMBER: AvpType = AvpType(15);
    /// 16: Minimum BPS.
    pub const MINIMUM_BPS: AvpType = AvpType(16);
    /// 17: Maximum BPS.
    pub const MAXIMUM_BPS: AvpType = AvpType(17);
    /// 18: Bearer Type.
    pub const BEARER_TYPE: AvpType = AvpType(18);
    /// 19: Framing Type.
    pub const FRAMING_TYPE: AvpType = AvpType(19);
    /// 21: Called Number.
    pub const CALLED_NUMBER: AvpType = AvpType(21);
    /// 22: Calling Number.
    pub const CALLING_NUMBER: AvpType = AvpType(22);
    /// 23: Sub-Address.
    pub const SUB_ADDRESS: AvpType = AvpType(23);
    /// 24: (Tx) Connect Speed.
    pub const TX_CONNECT_SPEED: AvpType = AvpType(24);
    /// 25: Physical Channel ID.
    pub const PHYSICAL_CHANNEL_ID: AvpType = AvpType(25);
    /// 26: Initial Received LCP CONFREQ (§4.4.5, proxy LCP).
    pub const INITIAL_RECEIVED_LCP_CONFREQ: AvpType = AvpType(26);
    /// 27: Last Sent LCP CONFREQ.
    pub const LAST_SENT_LCP_CONFREQ: AvpType = AvpType(27);
    /// 28: Last Received LCP CONFREQ.
    pub const LAST_RECEIVED_LCP_CONFREQ: AvpType = AvpType(28);
    /// 29: Proxy Authen Type.
    pub const PROXY_AUTHEN_TYPE: AvpType = AvpType(29);
    /// 30: Proxy Authen Name.
    pub const PROXY_AUTHEN_NAME: AvpType = AvpType(30);
    /// 31: Proxy Authen Challenge.
    pub const PROXY_AUTHEN_CHALLENGE: AvpType = AvpType(31);
    /// 32: Proxy Authen ID.
    pub const PROXY_AUTHEN_ID: AvpType = AvpType(32);
    /// 33: Proxy Authen Response.
    pub const PROXY_AUTHEN_RESPONSE: AvpType = AvpType(33);
    /// 34: Call Errors (§4.4.6).
    pub const CALL_ERRORS: AvpType = AvpType(34);
    /// 35: ACCM.
    pub const ACCM: AvpType = AvpType(35);
    /// 36: Random Vector.
    pub const RANDOM_VECTOR: AvpType = AvpType(36);
    /// 37: Private Group ID.
    pub const PRIVATE_GROUP_ID: AvpType = AvpType(37);
    /// 38: Rx Connect Speed.
    pub const RX_CONNECT_SPEED: AvpType = AvpType(38);
    /// 39: Sequencing Required.
    pub const SEQUENCING_REQUIRED: AvpType = AvpType(39);

    fn info(self) -> Option<&'static AvpInfo> {
        AVP_TABLE.get(usize::from(self.0)).and_then(Option::as_ref)
    }

    /// The RFC 2661 (or RFC 4951) name of an IETF attribute type, `None` for other types.
    pub fn name(self) -> Option<&'static str> {
        self.info().map(|i| i.name).or(match self.0 {
            // RFC 4951 (failover); decoded by `crate::failover`, not by the RFC 2661 tables.
            76 => Some("Failover Capability"),
            77 => Some("Tunnel Recovery"),
            78 => Some("Suggested Control Sequence"),
            79 => Some("Failover Session State"),
            _ => None,
        })
    }

    /// True for the IETF attribute types RFC 2661 defines (0–39 except 20).
    pub fn is_known(self) -> bool {
        self.info().is_some()
    }

    /// The M bit RFC 2661 §4.4 requires for this attribute type (false for unknown types).
    pub fn rfc_mandatory(self) -> bool {
        self.info().is_some_and(|i| i.mandatory)
    }

    /// Whether RFC 2661 §4.4 allows hiding this attribute type ("may be hidden").
    pub fn may_be_hidden(self) -> bool {
        self.info().is_some_and(|i| i.may_hide)
    }
}

impl fmt::Display for AvpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "attribute {}", self.0),
        }
    }
}

/// One AVP as it appears on the wire, borrowing its value (which may still be hidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    /// M bit.
    pub mandatory: bool,
    /// H bit: `value` is the hidden subformat, not the attribute value.
    pub hidden: bool,
    /// The four reserved bits (RFC 2661 §4.1: an AVP with any of them set "MUST be treated
    /// as an unrecognized AVP").
    pub reserved: u8,
    /// Vendor ID (0 for IETF attributes).
    pub vendor: u16,
    /// Attribute type.
    pub attr: AvpType,
    /// The attribute value (Length − 6 bytes).
    pub value: &'a [u8],
    /// Offset of the AVP in the AVP area (for error messages).
    pub offset: usize,
}

impl RawAvp<'_> {
    /// True when the AVP is an IETF attribute this codec understands, i.e. vendor 0, no
    /// reserved bit set, and a type RFC 2661 defines.
    pub fn is_recognised(&self) -> bool {
        self.vendor == VENDOR_IETF && self.reserved == 0 && self.attr.is_known()
    }
}

/// Iterator over the AVPs of a control message's AVP area. Yields an error once (and then
/// stops) if the framing is broken.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> AvpIter<'a> {
    /// Iterates over `bytes`, the part of a control message after its header.
    pub fn new(bytes: &'a [u8]) -> Self {
        AvpIter {
            bytes,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<RawAvp<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        let offset = self.pos;
        if rest.len() < AVP_HEADER_LEN {
            self.failed = true;
            return Some(Err(DecodeError::AvpTruncated {
                offset,
                remaining: rest.len(),
            }));
        }
        let word = u16::from_be_bytes([rest[0], rest[1]]);
        let length = usize::from(word & AVP_LENGTH_MASK);
        // RFC 2661 §4.1: "The minimum Length of an AVP is 6."
        if length < AVP_HEADER_LEN || length > rest.len() {
            self.failed = true;
            return Some(Err(DecodeError::AvpBadLength {
                offset,
                length,
                remaining: rest.len(),
            }));
        }
        self.pos += length;
        Some(Ok(RawAvp {
            mandatory: word & AVP_FLAG_MANDATORY != 0,
            hidden: word & AVP_FLAG_HIDDEN != 0,
            reserved: ((word & AVP_RESERVED_MASK) >> 10) as u8,
            vendor: u16::from_be_bytes([rest[2], rest[3]]),
            attr: AvpType(u16::from_be_bytes([rest[4], rest[5]])),
            value: &rest[AVP_HEADER_LEN..length],
            offset,
        }))
    }
}

/// An AVP this codec does not interpret, kept whole so the state machine can apply the M-bit
/// rule (RFC 2661 §4.1) and so re-encoding reproduces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct UnknownAvp {
    /// Vendor ID.
    pub vendor: u16,
    /// Attribute type.
    pub attr: AvpType,
    /// M bit: if set, the session (or tunnel) must be torn down.
    pub mandatory: bool,
    /// H bit: `value` is still hidden (unknown AVPs are never unhidden).
    pub hidden: bool,
    /// Reserved flag bits as received (non-zero makes even a known type unrecognised).
    pub reserved: u8,
    /// The value bytes as received.
    pub value: Vec<u8>,
}

impl UnknownAvp {
    /// Copies a raw AVP.
    pub fn from_raw(raw: &RawAvp<'_>) -> Self {
        UnknownAvp {
            vendor: raw.vendor,
            attr: raw.attr,
            mandatory: raw.mandatory,
            hidden: raw.hidden,
            reserved: raw.reserved,
            value: raw.value.to_vec(),
        }
    }

    /// Appends the AVP to `out` exactly as received.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_raw(
            out,
            AvpFlags {
                mandatory: self.mandatory,
                hidden: self.hidden,
                reserved: self.reserved,
            },
            self.vendor,
            self.attr,
            &self.value,
        )
    }
}

/// The flag bits of an AVP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AvpFlags {
    /// M bit.
    pub mandatory: bool,
    /// H bit.
    pub hidden: bool,
    /// Reserved bits (4 bits; send 0).
    pub reserved: u8,
}

/// The 6-byte header of an AVP whose value is `value_len` bytes (caller checks the limit).
pub fn header_bytes(flags: AvpFlags, vendor: u16, attr: AvpType, value_len: usize) -> [u8; 6] {
    let mut word = (AVP_HEADER_LEN + value_len) as u16 & AVP_LENGTH_MASK;
    word |= u16::from(flags.reserved & 0x0f) << 10;
    if flags.mandatory {
        word |= AVP_FLAG_MANDATORY;
    }
    if flags.hidden {
        word |= AVP_FLAG_HIDDEN;
    }
    let [w0, w1] = word.to_be_bytes();
    let [v0, v1] = vendor.to_be_bytes();
    let [a0, a1] = attr.0.to_be_bytes();
    [w0, w1, v0, v1, a0, a1]
}

/// Appends one AVP (header and `value`) to `out`.
pub fn encode_raw(
    out: &mut Vec<u8>,
    flags: AvpFlags,
    vendor: u16,
    attr: AvpType,
    value: &[u8],
) -> Result<(), EncodeError> {
    if AVP_HEADER_LEN + value.len() > AVP_MAX_LEN {
        return Err(EncodeError::AvpTooLong {
            avp: attr,
            len: value.len(),
        });
    }
    out.extend_from_slice(&header_bytes(flags, vendor, attr, value.len()));
    out.extend_from_slice(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_reports_flags() {
        // Message Type SCCRQ (M), then a vendor AVP with H and a reserved bit set.
        let bytes = [
            0x80, 0x08, 0, 0, 0, 0, 0, 1, //
            0x44, 0x07, 0x01, 0x37, 0x00, 0x05, 0xaa,
        ];
        let avps: Vec<_> = AvpIter::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(avps.len(), 2);
        assert!(avps[0].mandatory && !avps[0].hidden && avps[0].is_recognised());
        assert_eq!(avps[0].value, &[0, 1]);
        assert!(!avps[1].mandatory && avps[1].hidden);
        assert_eq!(avps[1].reserved, 1);
        assert_eq!(avps[1].vendor, 311);
        assert_eq!(avps[1].attr, AvpType(5));
        assert_eq!(avps[1].offset, 8);
        assert!(!avps[1].is_recognised());
    }

    #[test]
    fn framing_errors_stop_iteration() {
        let mut it = AvpIter::new(&[0x80, 0x05, 0, 0, 0, 0]);
        assert_eq!(
            it.next(),
            Some(Err(DecodeError::AvpBadLength {
                offset: 0,
                length: 5,
                remaining: 6
            }))
        );
        assert_eq!(it.next(), None);
        let mut it = AvpIter::new(&[0x80, 0x06, 0, 0, 0, 0, 0x80]);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(
            it.next(),
            Some(Err(DecodeError::AvpTruncated {
                offset: 6,
                remaining: 1
            }))
        );
    }

    #[test]
    fn names_and_rules_follow_the_rfc() {
        assert_eq!(AvpType::HOST_NAME.to_string(), "Host Name (7)");
        assert_eq!(AvpType(20).to_string(), "attribute 20");
        assert!(AvpType::RESULT_CODE.rfc_mandatory());
        assert!(!AvpType::RESULT_CODE.may_be_hidden());
        assert!(!AvpType::TIE_BREAKER.rfc_mandatory());
        assert!(AvpType::ASSIGNED_SESSION_ID.may_be_hidden());
        assert!(!AvpType(40).is_known());
    }

    #[test]
    fn too_long_value_is_an_encode_error() {
        let mut out = Vec::new();
        let v = vec![0u8; 1018];
        assert_eq!(
            encode_raw(&mut out, AvpFlags::default(), 0, AvpType(8), &v),
            Err(EncodeError::AvpTooLong {
                avp: AvpType(8),
                len: 1018
            })
        );
        encode_raw(&mut out, AvpFlags::default(), 0, AvpType(8), &v[..1017]).unwrap();
        assert_eq!(out.len(), 1023);
    }
}
