//! PPPoE discovery TAGs (RFC 2516 Appendix A, RFC 4638): TAG_TYPE (2 octets), TAG_LENGTH
//! (2 octets), TAG_VALUE, all in network byte order.
//!
//! Decoding keeps every TAG, in order, including ones it does not know (RFC 2516 §4: "Unknown
//! TAG_TYPEs MUST be ignored unless otherwise specified in this document"); so a reply can
//! echo what it must and re-encoding gives the same bytes.

use crate::error::{DecodeError, EncodeError};
use crate::tr101::VendorTag;

/// A TAG_TYPE (open enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagType(pub u16);

impl TagType {
    /// 0x0000 End-Of-List: "This TAG indicates that there are no further TAGs in the list.
    /// The TAG_LENGTH of this TAG MUST always be zero."
    pub const END_OF_LIST: TagType = TagType(0x0000);
    /// 0x0101 Service-Name.
    pub const SERVICE_NAME: TagType = TagType(0x0101);
    /// 0x0102 AC-Name.
    pub const AC_NAME: TagType = TagType(0x0102);
    /// 0x0103 Host-Uniq.
    pub const HOST_UNIQ: TagType = TagType(0x0103);
    /// 0x0104 AC-Cookie.
    pub const AC_COOKIE: TagType = TagType(0x0104);
    /// 0x0105 Vendor-Specific.
    pub const VENDOR_SPECIFIC: TagType = TagType(0x0105);
    /// 0x0110 Relay-Session-Id.
    pub const RELAY_SESSION_ID: TagType = TagType(0x0110);
    /// 0x0120 PPP-Max-Payload (RFC 4638).
    pub const PPP_MAX_PAYLOAD: TagType = TagType(0x0120);
    /// 0x0201 Service-Name-Error.
    pub const SERVICE_NAME_ERROR: TagType = TagType(0x0201);
    /// 0x0202 AC-System-Error.
    pub const AC_SYSTEM_ERROR: TagType = TagType(0x0202);
    /// 0x0203 Generic-Error.
    pub const GENERIC_ERROR: TagType = TagType(0x0203);
}

/// One TAG.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tag {
    /// End-Of-List (always empty). Decoding stops at it; what follows is ignored.
    EndOfList,
    /// Service-Name: "an UTF-8 string that is NOT NULL terminated. When the TAG_LENGTH is
    /// zero this TAG is used to indicate that any service is acceptable." Kept as octets.
    ServiceName(Vec<u8>),
    /// AC-Name: "a string ... which uniquely identifies this particular Access Concentrator".
    AcName(Vec<u8>),
    /// Host-Uniq: "binary data of any value and length that the Host chooses. It is not
    /// interpreted by the Access Concentrator."
    HostUniq(Vec<u8>),
    /// AC-Cookie: "binary data of any value and length and is not interpreted by the Host."
    AcCookie(Vec<u8>),
    /// Vendor-Specific: a 4-octet vendor id and vendor data (TR-101 sub-options for the
    /// Broadband Forum's id).
    VendorSpecific(VendorTag),
    /// Relay-Session-Id: "opaque to both the Host and the Access Concentrator".
    RelaySessionId(Vec<u8>),
    /// PPP-Max-Payload (RFC 4638): the largest PPP payload (protocol field included) the
    /// sender can carry, 2 octets.
    PppMaxPayload(u16),
    /// Service-Name-Error, with an optional UTF-8 explanation.
    ServiceNameError(Vec<u8>),
    /// AC-System-Error, with an optional UTF-8 explanation.
    AcSystemError(Vec<u8>),
    /// Generic-Error, with an optional UTF-8 explanation.
    GenericError(Vec<u8>),
    /// A TAG this codec does not interpret, kept whole.
    Unknown {
        /// TAG_TYPE.
        tag_type: TagType,
        /// TAG_VALUE.
        value: Vec<u8>,
    },
}

impl Tag {
    /// The TAG_TYPE.
    pub fn tag_type(&self) -> TagType {
        match self {
            Tag::EndOfList => TagType::END_OF_LIST,
            Tag::ServiceName(_) => TagType::SERVICE_NAME,
            Tag::AcName(_) => TagType::AC_NAME,
            Tag::HostUniq(_) => TagType::HOST_UNIQ,
            Tag::AcCookie(_) => TagType::AC_COOKIE,
            Tag::VendorSpecific(_) => TagType::VENDOR_SPECIFIC,
            Tag::RelaySessionId(_) => TagType::RELAY_SESSION_ID,
            Tag::PppMaxPayload(_) => TagType::PPP_MAX_PAYLOAD,
            Tag::ServiceNameError(_) => TagType::SERVICE_NAME_ERROR,
            Tag::AcSystemError(_) => TagType::AC_SYSTEM_ERROR,
            Tag::GenericError(_) => TagType::GENERIC_ERROR,
            Tag::Unknown { tag_type, .. } => *tag_type,
        }
    }

    fn decode_one(tag_type: u16, value: &[u8]) -> Result<Tag, DecodeError> {
        let bad = || DecodeError::BadTagLength {
            tag_type,
            length: value.len(),
        };
        let v = value.to_vec();
        Ok(match TagType(tag_type) {
            TagType::END_OF_LIST if value.is_empty() => Tag::EndOfList,
            TagType::END_OF_LIST => return Err(bad()),
            TagType::SERVICE_NAME => Tag::ServiceName(v),
            TagType::AC_NAME => Tag::AcName(v),
            TagType::HOST_UNIQ => Tag::HostUniq(v),
            TagType::AC_COOKIE => Tag::AcCookie(v),
            TagType::VENDOR_SPECIFIC => {
                Tag::VendorSpecific(VendorTag::decode(value).ok_or_else(bad)?)
            }
            TagType::RELAY_SESSION_ID => Tag::RelaySessionId(v),
            TagType::PPP_MAX_PAYLOAD => match value {
                [a, b] => Tag::PppMaxPayload(u16::from_be_bytes([*a, *b])),
                _ => return Err(bad()),
            },
            TagType::SERVICE_NAME_ERROR => Tag::ServiceNameError(v),
            TagType::AC_SYSTEM_ERROR => Tag::AcSystemError(v),
            TagType::GENERIC_ERROR => Tag::GenericError(v),
            t => Tag::Unknown {
                tag_type: t,
                value: v,
            },
        })
    }

    /// Appends the TAG to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&self.tag_type().0.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        match self {
            Tag::EndOfList => {}
            Tag::ServiceName(v)
            | Tag::AcName(v)
            | Tag::HostUniq(v)
            | Tag::AcCookie(v)
            | Tag::RelaySessionId(v)
            | Tag::ServiceNameError(v)
            | Tag::AcSystemError(v)
            | Tag::GenericError(v)
            | Tag::Unknown { value: v, .. } => out.extend_from_slice(v),
            Tag::VendorSpecific(vt) => vt.encode(out),
            Tag::PppMaxPayload(n) => out.extend_from_slice(&n.to_be_bytes()),
        }
        let len = out.len() - start - 4;
        let Ok(len16) = u16::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::TagTooLong {
                tag_type: self.tag_type().0,
                len,
            });
        };
        out[start + 2..start + 4].copy_from_slice(&len16.to_be_bytes());
        Ok(())
    }
}

/// Decodes a TAG list (a discovery payload). Stops at End-Of-List (which is kept).
pub fn decode_tags(payload: &[u8]) -> Result<Vec<Tag>, DecodeError> {
    let mut tags = Vec::new();
    let mut pos = 0;
    while pos < payload.len() {
        let Some(h) = payload.get(pos..pos + 4) else {
            return Err(DecodeError::TagTruncated { offset: pos });
        };
        let tag_type = u16::from_be_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let Some(value) = payload.get(pos + 4..pos + 4 + len) else {
            return Err(DecodeError::TagTruncated { offset: pos });
        };
        let tag = Tag::decode_one(tag_type, value)?;
        pos += 4 + len;
        let end = tag == Tag::EndOfList;
        tags.push(tag);
        if end {
            break;
        }
    }
    Ok(tags)
}

/// Encodes a TAG list.
pub fn encode_tags(tags: &[Tag], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    tags.iter().try_for_each(|t| t.encode(out))
}

/// Typed look-ups over a TAG list.
pub trait TagList {
    /// Every Service-Name TAG's value.
    fn service_names(&self) -> Vec<&[u8]>;
    /// The first Host-Uniq TAG.
    fn host_uniq(&self) -> Option<&[u8]>;
    /// The first AC-Cookie TAG.
    fn ac_cookie(&self) -> Option<&[u8]>;
    /// The first Relay-Session-Id TAG.
    fn relay_session_id(&self) -> Option<&[u8]>;
    /// The first PPP-Max-Payload TAG.
    fn ppp_max_payload(&self) -> Option<u16>;
    /// The first AC-Name TAG.
    fn ac_name(&self) -> Option<&[u8]>;
    /// The first error TAG (Service-Name-Error, AC-System-Error, Generic-Error).
    fn error(&self) -> Option<&Tag>;
    /// Vendor-Specific TAGs.
    fn vendor_tags(&self) -> Vec<&VendorTag>;
    /// Whether a TAG that means one thing per packet (Host-Uniq, AC-Cookie,
    /// Relay-Session-Id, PPP-Max-Payload) appears more than once: which one counts would be
    /// a guess, and the sender's and the checker's guesses may differ.
    fn has_duplicate_singleton(&self) -> bool;
}

impl TagList for [Tag] {
    fn service_names(&self) -> Vec<&[u8]> {
        self.iter()
            .filter_map(|t| match t {
                Tag::ServiceName(v) => Some(&v[..]),
                _ => None,
            })
            .collect()
    }
    fn host_uniq(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tag::HostUniq(v) => Some(&v[..]),
            _ => None,
        })
    }
    fn ac_cookie(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tag::AcCookie(v) => Some(&v[..]),
            _ => None,
        })
    }
    fn relay_session_id(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tag::RelaySessionId(v) => Some(&v[..]),
            _ => None,
        })
    }
    fn ppp_max_payload(&self) -> Option<u16> {
        self.iter().find_map(|t| match t {
            Tag::PppMaxPayload(n) => Some(*n),
            _ => None,
        })
    }
    fn ac_name(&self) -> Option<&[u8]> {
        self.iter().find_map(|t| match t {
            Tag::AcName(v) => Some(&v[..]),
            _ => None,
        })
    }
    fn error(&self) -> Option<&Tag> {
        self.iter().find(|t| {
            matches!(
                t,
                Tag::ServiceNameError(_) | Tag::AcSystemError(_) | Tag::GenericError(_)
            )
        })
    }
    fn has_duplicate_singleton(&self) -> bool {
        let mut seen = [0u8; 4];
        for t in self {
            let k = match t {
                Tag::HostUniq(_) => 0,
                Tag::AcCookie(_) => 1,
                Tag::RelaySessionId(_) => 2,
                Tag::PppMaxPayload(_) => 3,
                _ => continue,
            };
            seen[k] += 1;
            if seen[k] > 1 {
                return true;
            }
        }
        false
    }
    fn vendor_tags(&self) -> Vec<&VendorTag> {
        self.iter()
            .filter_map(|t| match t {
                Tag::VendorSpecific(v) => Some(v),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tags_round_trip_and_stop_at_end_of_list() {
        let tags = vec![
            Tag::ServiceName(b"isp".to_vec()),
            Tag::HostUniq(vec![1, 2, 3, 4]),
            Tag::PppMaxPayload(1500),
            Tag::Unknown {
                tag_type: TagType(0x0106),
                value: vec![9],
            },
            Tag::EndOfList,
        ];
        let mut b = Vec::new();
        encode_tags(&tags, &mut b).unwrap();
        assert_eq!(&b[..7], &[0x01, 0x01, 0, 3, b'i', b's', b'p']);
        b.extend_from_slice(&[0xde, 0xad]); // after End-Of-List: ignored
        assert_eq!(decode_tags(&b).unwrap(), tags);
        assert_eq!(tags.ppp_max_payload(), Some(1500));
        assert_eq!(tags.host_uniq(), Some(&[1, 2, 3, 4][..]));
        assert_eq!(tags.service_names(), vec![&b"isp"[..]]);
    }

    #[test]
    fn malformed_tags_are_typed_errors() {
        assert_eq!(
            decode_tags(&[0x01, 0x01, 0]),
            Err(DecodeError::TagTruncated { offset: 0 })
        );
        assert_eq!(
            decode_tags(&[0x01, 0x01, 0, 0, 0x01, 0x03, 0, 5, 1]),
            Err(DecodeError::TagTruncated { offset: 4 })
        );
        assert_eq!(
            decode_tags(&[0x01, 0x20, 0, 1, 5]),
            Err(DecodeError::BadTagLength {
                tag_type: 0x0120,
                length: 1
            })
        );
        assert_eq!(
            decode_tags(&[0, 0, 0, 1, 5]),
            Err(DecodeError::BadTagLength {
                tag_type: 0,
                length: 1
            })
        );
        assert_eq!(
            decode_tags(&[0x01, 0x05, 0, 2, 0, 0]),
            Err(DecodeError::BadTagLength {
                tag_type: 0x0105,
                length: 2
            })
        );
    }

    #[test]
    fn overlong_value_is_an_encode_error() {
        let mut out = vec![7];
        let e = Tag::HostUniq(vec![0; 70_000]).encode(&mut out);
        assert_eq!(
            e,
            Err(EncodeError::TagTooLong {
                tag_type: 0x0103,
                len: 70_000
            })
        );
        assert_eq!(out, vec![7], "nothing half-written");
    }
}
