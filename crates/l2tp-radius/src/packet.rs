//! The RADIUS packet (RFC 2865 §3): code, identifier, authenticator and a list of attributes,
//! decoded without trusting any length and encoded without signing (see [`crate::crypt`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::attr::AttrType;
use crate::error::{ApiError, DecodeError};

/// Smallest packet: the header.
pub const HEADER_LEN: usize = 20;
/// RFC 2865 §3: "The maximum length is 4096."
pub const MAX_PACKET_LEN: usize = 4096;
/// Longest attribute value (one length octet covering type and length too).
pub const MAX_VALUE_LEN: usize = 253;

/// A packet code (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3), open: unknown codes decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    /// Access-Request.
    pub const ACCESS_REQUEST: Code = Code(1);
    /// Access-Accept.
    pub const ACCESS_ACCEPT: Code = Code(2);
    /// Access-Reject.
    pub const ACCESS_REJECT: Code = Code(3);
    /// Accounting-Request.
    pub const ACCOUNTING_REQUEST: Code = Code(4);
    /// Accounting-Response.
    pub const ACCOUNTING_RESPONSE: Code = Code(5);
    /// Access-Challenge.
    pub const ACCESS_CHALLENGE: Code = Code(11);
    /// Status-Server.
    pub const STATUS_SERVER: Code = Code(12);
    /// Disconnect-Request.
    pub const DISCONNECT_REQUEST: Code = Code(40);
    /// Disconnect-ACK.
    pub const DISCONNECT_ACK: Code = Code(41);
    /// Disconnect-NAK.
    pub const DISCONNECT_NAK: Code = Code(42);
    /// CoA-Request.
    pub const COA_REQUEST: Code = Code(43);
    /// CoA-ACK.
    pub const COA_ACK: Code = Code(44);
    /// CoA-NAK.
    pub const COA_NAK: Code = Code(45);

    /// Whether the Request Authenticator of this request code is an MD5 over the packet
    /// (RFC 2866 §3, RFC 5176 §2.3) rather than random (Access-Request, Status-Server).
    pub fn request_authenticator_is_hash(self) -> bool {
        matches!(
            self,
            Code::ACCOUNTING_REQUEST | Code::DISCONNECT_REQUEST | Code::COA_REQUEST
        )
    }
}

/// One attribute, value as on the wire (for User-Password and Tunnel-Password: hidden).
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    /// Type.
    pub typ: AttrType,
    /// Value octets (at most 253).
    pub value: Vec<u8>,
}

impl std::fmt::Debug for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            // Hidden values are still derived from the secret: keep them out of logs.
            AttrType::USER_PASSWORD | AttrType::TUNNEL_PASSWORD => {
                write!(f, "Attr({}, <redacted>)", self.typ.0)
            }
            t => write!(f, "Attr({}, {:02x?})", t.0, self.value),
        }
    }
}

impl Attr {
    /// An attribute with raw value octets.
    pub fn new(typ: AttrType, value: impl Into<Vec<u8>>) -> Attr {
        Attr {
            typ,
            value: value.into(),
        }
    }
    /// An `integer` (4 octets, network order).
    pub fn u32(typ: AttrType, v: u32) -> Attr {
        Attr::new(typ, v.to_be_bytes())
    }
    /// An `ipaddr`.
    pub fn ipv4(typ: AttrType, a: Ipv4Addr) -> Attr {
        Attr::new(typ, a.octets())
    }
    /// An `ipv6addr` (RFC 3162).
    pub fn ipv6(typ: AttrType, a: Ipv6Addr) -> Attr {
        Attr::new(typ, a.octets())
    }
    /// A Vendor-Specific attribute carrying one sub-attribute (RFC 2865 §5.26's
    /// recommended format).
    pub fn vendor(vendor: u32, vtype: u8, data: &[u8]) -> Attr {
        let mut v = Vec::with_capacity(6 + data.len());
        v.extend_from_slice(&vendor.to_be_bytes());
        v.push(vtype);
        v.push((data.len() + 2).min(255) as u8);
        v.extend_from_slice(data);
        Attr::new(AttrType::VENDOR_SPECIFIC, v)
    }
    /// A tagged attribute (RFC 2868 §3): tag octet, then the value.
    pub fn tagged(typ: AttrType, tag: u8, data: &[u8]) -> Attr {
        let mut v = Vec::with_capacity(1 + data.len());
        v.push(tag);
        v.extend_from_slice(data);
        Attr::new(typ, v)
    }
    /// A tagged integer (Tunnel-Type, Tunnel-Medium-Type: tag + 3-octet value).
    pub fn tagged_u24(typ: AttrType, tag: u8, v: u32) -> Attr {
        let b = v.to_be_bytes();
        Attr::new(typ, [tag, b[1], b[2], b[3]])
    }

    /// The value as an `integer`.
    pub fn as_u32(&self) -> Result<u32, DecodeError> {
        let b: [u8; 4] = self
            .value
            .as_slice()
            .try_into()
            .map_err(|_| DecodeError::BadValue {
                attr: self.typ.0,
                reason: "integer must be 4 octets",
            })?;
        Ok(u32::from_be_bytes(b))
    }
    /// The value as an `ipaddr`.
    pub fn as_ipv4(&self) -> Result<Ipv4Addr, DecodeError> {
        let b: [u8; 4] = self
            .value
            .as_slice()
            .try_into()
            .map_err(|_| DecodeError::BadValue {
                attr: self.typ.0,
                reason: "address must be 4 octets",
            })?;
        Ok(Ipv4Addr::from(b))
    }
    /// The value as `text` (UTF-8; RFC 2865 §5 says text is UTF-8).
    pub fn as_text(&self) -> Result<&str, DecodeError> {
        std::str::from_utf8(&self.value).map_err(|_| DecodeError::BadValue {
            attr: self.typ.0,
            reason: "text is not UTF-8",
        })
    }
    /// A tagged value: (tag, rest). For attributes whose tag is optional, a first octet
    /// above 0x1F is data and the tag is 0 (RFC 2868 §3.3).
    pub fn as_tagged(&self) -> (u8, &[u8]) {
        match self.value.split_first() {
            Some((&t, rest)) if t <= 0x1f => (t, rest),
            _ => (0, &self.value),
        }
    }
}

/// A sub-attribute of a Vendor-Specific attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorAttr {
    /// Vendor-Id (SMI Network Management Private Enterprise Code).
    pub vendor: u32,
    /// Vendor type.
    pub vtype: u8,
    /// Data.
    pub data: Vec<u8>,
}

/// Splits a Vendor-Specific value into its sub-attributes (RFC 2865 §5.26 format).
pub fn parse_vendor_specific(value: &[u8]) -> Result<Vec<VendorAttr>, DecodeError> {
    if value.len() < 4 {
        return Err(DecodeError::BadVendorSpecific { vendor: 0 });
    }
    let vendor = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
    let mut rest = &value[4..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(DecodeError::BadVendorSpecific { vendor });
        }
        let len = rest[1] as usize;
        if len < 2 || len > rest.len() {
            return Err(DecodeError::BadVendorSpecific { vendor });
        }
        out.push(VendorAttr {
            vendor,
            vtype: rest[0],
            data: rest[2..len].to_vec(),
        });
        rest = &rest[len..];
    }
    Ok(out)
}

/// A decoded (or to-be-encoded) packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Code.
    pub code: Code,
    /// Identifier: matches a reply to its request.
    pub id: u8,
    /// Request or Response Authenticator.
    pub authenticator: [u8; 16],
    /// Attributes in wire order.
    pub attrs: Vec<Attr>,
}

impl Packet {
    /// A packet without attributes.
    pub fn new(code: Code, id: u8, authenticator: [u8; 16]) -> Packet {
        Packet {
            code,
            id,
            authenticator,
            attrs: Vec::new(),
        }
    }

    /// Decodes one datagram. Octets past the Length field are padding and ignored
    /// (RFC 2865 §3); a Length beyond the datagram is an error.
    pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
        let body = frame(bytes)?;
        let mut attrs = Vec::new();
        let mut off = HEADER_LEN;
        while off < body.len() {
            if off + 2 > body.len() {
                return Err(DecodeError::BadAttribute { offset: off });
            }
            let len = body[off + 1] as usize;
            if len < 2 || off + len > body.len() {
                return Err(DecodeError::BadAttribute { offset: off });
            }
            attrs.push(Attr::new(AttrType(body[off]), &body[off + 2..off + len]));
            off += len;
        }
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&body[4..20]);
        Ok(Packet {
            code: Code(body[0]),
            id: body[1],
            authenticator,
            attrs,
        })
    }

    /// Encodes as is (no signing).
    pub fn encode(&self) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.attrs.len() * 8);
        out.push(self.code.0);
        out.push(self.id);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.authenticator);
        for a in &self.attrs {
            if a.value.len() > MAX_VALUE_LEN {
                return Err(ApiError::AttributeTooLong(a.typ.0));
            }
            out.push(a.typ.0);
            out.push((a.value.len() + 2) as u8);
            out.extend_from_slice(&a.value);
        }
        if out.len() > MAX_PACKET_LEN {
            return Err(ApiError::PacketTooLong);
        }
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        Ok(out)
    }

    /// Appends an attribute.
    pub fn push(&mut self, a: Attr) -> &mut Self {
        self.attrs.push(a);
        self
    }

    /// The first attribute of a type.
    pub fn get(&self, t: AttrType) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.typ == t)
    }

    /// Every attribute of a type, in order.
    pub fn all(&self, t: AttrType) -> impl Iterator<Item = &Attr> {
        self.attrs.iter().filter(move |a| a.typ == t)
    }

    /// Every sub-attribute of one vendor and type, in order. Malformed Vendor-Specific
    /// attributes are an error, not skipped.
    pub fn vendor_attrs(&self, vendor: u32, vtype: u8) -> Result<Vec<Vec<u8>>, DecodeError> {
        let mut out = Vec::new();
        for a in self.all(AttrType::VENDOR_SPECIFIC) {
            for v in parse_vendor_specific(&a.value)? {
                if v.vendor == vendor && v.vtype == vtype {
                    out.push(v.data);
                }
            }
        }
        Ok(out)
    }
}

/// The packet proper within a datagram: checks the Length field.
pub(crate) fn frame(bytes: &[u8]) -> Result<&[u8], DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    let declared = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
    if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&declared) || declared > bytes.len() {
        return Err(DecodeError::BadLength {
            declared,
            actual: bytes.len(),
        });
    }
    Ok(&bytes[..declared])
}

/// Offset of the first attribute of type `t` in an encoded packet (the value's offset).
pub(crate) fn find_attr(bytes: &[u8], t: AttrType) -> Option<(usize, usize)> {
    let mut off = HEADER_LEN;
    while off + 2 <= bytes.len() {
        let len = bytes[off + 1] as usize;
        if len < 2 || off + len > bytes.len() {
            return None;
        }
        if bytes[off] == t.0 {
            return Some((off + 2, len - 2));
        }
        off += len;
    }
    None
}
