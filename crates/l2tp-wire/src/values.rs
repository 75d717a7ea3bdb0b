//! Typed attribute values of RFC 2661 §4.4 and the [`AvpValue`] trait that converts them to
//! and from value bytes (after unhiding). Each impl checks the length its format requires.

use std::fmt;

use crate::avp::AvpType;
use crate::error::DecodeError;
use crate::ids::{SessionId, TunnelId};

/// A type that is the value of some AVP: decoded from the (unhidden) value bytes and encoded
/// back to them.
pub trait AvpValue: Sized {
    /// Decodes the value of an AVP of type `attr` (used only for error reports).
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError>;
    /// Appends the value bytes to `out`.
    fn encode_value(&self, out: &mut Vec<u8>);
}

fn bad(attr: AvpType, value: &[u8]) -> DecodeError {
    DecodeError::InvalidAvpValue {
        avp: attr,
        len: value.len(),
    }
}

fn be16(v: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([v[i], v[i + 1]])
}

fn be32(v: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]])
}

impl AvpValue for u16 {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        match value {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(bad(attr, value)),
        }
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl AvpValue for u32 {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        match value {
            [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(bad(attr, value)),
        }
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

/// Octet strings (Host Name, Challenge, Called Number, proxy LCP …): any length.
impl AvpValue for Vec<u8> {
    fn decode_value(_attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(value.to_vec())
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> AvpValue for [u8; N] {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        <[u8; N]>::try_from(value).map_err(|_| bad(attr, value))
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl AvpValue for TunnelId {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        u16::decode_value(attr, value).map(TunnelId)
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.0.encode_value(out);
    }
}

impl AvpValue for SessionId {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        u16::decode_value(attr, value).map(SessionId)
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.0.encode_value(out);
    }
}

/// Protocol Version AVP (RFC 2661 §4.4.3): Ver 1, Rev 0 for L2TPv2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolVersion {
    /// Ver field (1).
    pub version: u8,
    /// Rev field (0).
    pub revision: u8,
}

impl ProtocolVersion {
    /// "Ver field ... containing the value 1. Rev field ... containing 0."
    pub const V1_0: ProtocolVersion = ProtocolVersion {
        version: 1,
        revision: 0,
    };
}

impl AvpValue for ProtocolVersion {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        match value {
            [version, revision] => Ok(ProtocolVersion {
                version: *version,
                revision: *revision,
            }),
            _ => Err(bad(attr, value)),
        }
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.version, self.revision]);
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.version, self.revision)
    }
}

/// Framing Capabilities / Framing Type bit mask (RFC 2661 §4.4.3, §4.4.5): A = async, S = sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FramingCapabilities(pub u32);

/// The Framing Type AVP has the same layout as Framing Capabilities.
pub type FramingType = FramingCapabilities;

impl FramingCapabilities {
    /// S bit: synchronous framing.
    pub const SYNC: FramingCapabilities = FramingCapabilities(0x1);
    /// A bit: asynchronous framing.
    pub const ASYNC: FramingCapabilities = FramingCapabilities(0x2);
    /// Both bits.
    pub const BOTH: FramingCapabilities = FramingCapabilities(0x3);
    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: FramingCapabilities) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Bearer Capabilities / Bearer Type bit mask (RFC 2661 §4.4.3, §4.4.5): A = analog, D = digital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BearerCapabilities(pub u32);

/// The Bearer Type AVP has the same layout as Bearer Capabilities.
pub type BearerType = BearerCapabilities;

impl BearerCapabilities {
    /// D bit: digital access.
    pub const DIGITAL: BearerCapabilities = BearerCapabilities(0x1);
    /// A bit: analog access.
    pub const ANALOG: BearerCapabilities = BearerCapabilities(0x2);
    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: BearerCapabilities) -> bool {
        self.0 & other.0 == other.0
    }
}

macro_rules! bitmask_value {
    ($t:ty, $lo:literal, $hi:literal) => {
        impl AvpValue for $t {
            fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
                u32::decode_value(attr, value).map(Self)
            }
            fn encode_value(&self, out: &mut Vec<u8>) {
                self.0.encode_value(out);
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut parts = Vec::new();
                if self.0 & 0x2 != 0 {
                    parts.push($hi);
                }
                if self.0 & 0x1 != 0 {
                    parts.push($lo);
                }
                if self.0 & !0x3 != 0 {
                    return write!(f, "{:#x}", self.0);
                }
                if parts.is_empty() {
                    parts.push("none");
                }
                write!(f, "{}", parts.join("+"))
            }
        }
    };
}
bitmask_value!(FramingCapabilities, "sync", "async");
bitmask_value!(BearerCapabilities, "digital", "analog");

/// Proxy Authen Type (RFC 2661 §4.4.5), an open enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProxyAuthenType(pub u16);

impl ProxyAuthenType {
    /// 0: Reserved.
    pub const RESERVED: ProxyAuthenType = ProxyAuthenType(0);
    /// 1: Textual username/password exchange.
    pub const TEXTUAL: ProxyAuthenType = ProxyAuthenType(1);
    /// 2: PPP CHAP.
    pub const CHAP: ProxyAuthenType = ProxyAuthenType(2);
    /// 3: PPP PAP.
    pub const PAP: ProxyAuthenType = ProxyAuthenType(3);
    /// 4: No Authentication.
    pub const NONE: ProxyAuthenType = ProxyAuthenType(4);
    /// 5: Microsoft CHAP Version 1.
    pub const MSCHAP_V1: ProxyAuthenType = ProxyAuthenType(5);

    /// Name of a defined type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Reserved",
            1 => "Textual",
            2 => "CHAP",
            3 => "PAP",
            4 => "None",
            5 => "MS-CHAPv1",
            _ => return None,
        })
    }
}

impl AvpValue for ProxyAuthenType {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        u16::decode_value(attr, value).map(ProxyAuthenType)
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.0.encode_value(out);
    }
}

impl fmt::Display for ProxyAuthenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Q.931 Cause Code AVP (RFC 2661 §4.4.4): cause code, message code, optional advisory text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Q931Cause {
    /// Q.931 cause code.
    pub cause_code: u16,
    /// Q.931 message code (e.g. DISCONNECT).
    pub cause_msg: u8,
    /// Optional advisory message (non-UTF-8 bytes are replaced, see docs/wire-leniency.md).
    pub advisory: Option<String>,
}

impl AvpValue for Q931Cause {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        // "The Length of this AVP is 9, plus the size of the Advisory Message."
        if value.len() < 3 {
            return Err(bad(attr, value));
        }
        let advisory = (value.len() > 3).then(|| String::from_utf8_lossy(&value[3..]).into_owned());
        Ok(Q931Cause {
            cause_code: be16(value, 0),
            cause_msg: value[2],
            advisory,
        })
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cause_code.to_be_bytes());
        out.push(self.cause_msg);
        if let Some(a) = &self.advisory {
            out.extend_from_slice(a.as_bytes());
        }
    }
}

impl fmt::Display for Q931Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cause {} msg {}", self.cause_code, self.cause_msg)?;
        if let Some(a) = &self.advisory {
            write!(f, " {a:?}")?;
        }
        Ok(())
    }
}

/// Call Errors AVP (RFC 2661 §4.4.6): cumulative WAN error counters of a call.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct CallErrors {
    /// PPP frames received with CRC errors.
    pub crc_errors: u32,
    /// Improperly framed PPP packets.
    pub framing_errors: u32,
    /// Receive buffer over-runs.
    pub hardware_overruns: u32,
    /// Buffer over-runs.
    pub buffer_overruns: u32,
    /// Time-outs.
    pub timeout_errors: u32,
    /// Alignment errors.
    pub alignment_errors: u32,
}

impl AvpValue for CallErrors {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        // "The Length (before hiding) of this AVP is 32": 2 reserved + 6 × 4.
        if value.len() != 26 {
            return Err(bad(attr, value));
        }
        Ok(CallErrors {
            crc_errors: be32(value, 2),
            framing_errors: be32(value, 6),
            hardware_overruns: be32(value, 10),
            buffer_overruns: be32(value, 14),
            timeout_errors: be32(value, 18),
            alignment_errors: be32(value, 22),
        })
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 0]);
        for v in [
            self.crc_errors,
            self.framing_errors,
            self.hardware_overruns,
            self.buffer_overruns,
            self.timeout_errors,
            self.alignment_errors,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

impl fmt::Display for CallErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crc={} framing={} hw_overruns={} buf_overruns={} timeouts={} alignment={}",
            self.crc_errors,
            self.framing_errors,
            self.hardware_overruns,
            self.buffer_overruns,
            self.timeout_errors,
            self.alignment_errors
        )
    }
}

/// ACCM AVP (RFC 2661 §4.4.6): the async control character maps negotiated by the LNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accm {
    /// ACCM the LAC uses on packets it sends.
    pub send_accm: u32,
    /// ACCM the LAC uses on packets it receives.
    pub receive_accm: u32,
}

impl Default for Accm {
    /// "The default values used by the LAC for both these fields are 0xFFFFFFFF."
    fn default() -> Self {
        Accm {
            send_accm: u32::MAX,
            receive_accm: u32::MAX,
        }
    }
}

impl AvpValue for Accm {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        // "The Length of this AVP is 16": 2 reserved + 4 + 4.
        if value.len() != 10 {
            return Err(bad(attr, value));
        }
        Ok(Accm {
            send_accm: be32(value, 2),
            receive_accm: be32(value, 6),
        })
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.send_accm.to_be_bytes());
        out.extend_from_slice(&self.receive_accm.to_be_bytes());
    }
}

impl fmt::Display for Accm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "send={:#010x} recv={:#010x}",
            self.send_accm, self.receive_accm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<T: AvpValue + PartialEq + fmt::Debug>(v: T, bytes: &[u8]) {
        let mut out = Vec::new();
        v.encode_value(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(T::decode_value(AvpType(0), bytes).unwrap(), v);
    }

    #[test]
    fn fixed_layouts() {
        rt(ProtocolVersion::V1_0, &[1, 0]);
        rt(FramingCapabilities::SYNC, &[0, 0, 0, 1]);
        rt(
            Accm {
                send_accm: 0,
                receive_accm: 0xffff_ffff,
            },
            &[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        );
        rt(
            Q931Cause {
                cause_code: 16,
                cause_msg: 0x45,
                advisory: Some("bye".into()),
            },
            &[0, 16, 0x45, b'b', b'y', b'e'],
        );
        let ce = CallErrors {
            crc_errors: 1,
            alignment_errors: 6,
            ..Default::default()
        };
        let mut b = vec![0u8; 26];
        b[5] = 1;
        b[25] = 6;
        rt(ce, &b);
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        let e = u16::decode_value(AvpType::ASSIGNED_TUNNEL_ID, &[1, 2, 3]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidAvpValue {
                avp: AvpType::ASSIGNED_TUNNEL_ID,
                len: 3
            }
        );
        assert!(Accm::decode_value(AvpType::ACCM, &[0; 9]).is_err());
        assert!(CallErrors::decode_value(AvpType::CALL_ERRORS, &[0; 27]).is_err());
        assert!(Q931Cause::decode_value(AvpType::Q931_CAUSE_CODE, &[0; 2]).is_err());
        assert!(<[u8; 8]>::decode_value(AvpType::TIE_BREAKER, &[0; 7]).is_err());
    }

    #[test]
    fn bitmasks_display() {
        assert_eq!(FramingCapabilities::BOTH.to_string(), "async+sync");
        assert_eq!(BearerCapabilities(0).to_string(), "none");
        assert!(FramingCapabilities::BOTH.contains(FramingCapabilities::SYNC));
        assert!(!BearerCapabilities::DIGITAL.contains(BearerCapabilities::ANALOG));
    }
}
