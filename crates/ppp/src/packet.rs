//! The Code / Identifier / Length packet header shared by LCP, IPCP, IPv6CP, PAP and CHAP
//! (RFC 1661 §5, RFC 1334 §2.2, RFC 1994 §4).

use crate::error::DecodeError;

/// Control packet codes (RFC 1661 §5; open enum, values per protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    /// Configure-Request.
    pub const CONFIGURE_REQUEST: Code = Code(1);
    /// Configure-Ack.
    pub const CONFIGURE_ACK: Code = Code(2);
    /// Configure-Nak.
    pub const CONFIGURE_NAK: Code = Code(3);
    /// Configure-Reject.
    pub const CONFIGURE_REJECT: Code = Code(4);
    /// Terminate-Request.
    pub const TERMINATE_REQUEST: Code = Code(5);
    /// Terminate-Ack.
    pub const TERMINATE_ACK: Code = Code(6);
    /// Code-Reject.
    pub const CODE_REJECT: Code = Code(7);
    /// Protocol-Reject (LCP only).
    pub const PROTOCOL_REJECT: Code = Code(8);
    /// Echo-Request (LCP only).
    pub const ECHO_REQUEST: Code = Code(9);
    /// Echo-Reply (LCP only).
    pub const ECHO_REPLY: Code = Code(10);
    /// Discard-Request (LCP only).
    pub const DISCARD_REQUEST: Code = Code(11);
    /// Identification (LCP, RFC 1570 §2.1).
    pub const IDENTIFICATION: Code = Code(12);
    /// Time-Remaining (LCP, RFC 1570 §2.2).
    pub const TIME_REMAINING: Code = Code(13);
}

/// A decoded control packet borrowing its data from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Code.
    pub code: Code,
    /// Identifier.
    pub id: u8,
    /// Data (after the 4-octet header, up to Length; padding beyond Length dropped).
    pub data: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Decode a packet. RFC 1661 §5: octets beyond Length are padding and ignored; a Length
    /// larger than the packet means it must be discarded.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let [code, id, hi, lo, ..] = *buf else {
            return Err(DecodeError::Truncated);
        };
        let len = u16::from_be_bytes([hi, lo]);
        if len < 4 {
            return Err(DecodeError::BadLength(len));
        }
        let data = buf
            .get(4..usize::from(len))
            .ok_or(DecodeError::LengthOverrun {
                claimed: len,
                available: buf.len(),
            })?;
        Ok(Packet {
            code: Code(code),
            id,
            data,
        })
    }
}

/// Encode a control packet (header + data). Data longer than 65531 octets is truncated so
/// the Length field stays valid (never happens with what this crate builds).
pub fn encode(code: Code, id: u8, data: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(usize::from(u16::MAX) - 4)];
    let len = (data.len() + 4) as u16;
    let mut out = Vec::with_capacity(usize::from(len));
    out.extend_from_slice(&[code.0, id]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rules() {
        let p = Packet::decode(&[1, 7, 0, 6, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!((p.code, p.id, p.data), (Code(1), 7, &[0xaa, 0xbb][..]));
        assert_eq!(Packet::decode(&[1, 7, 0]), Err(DecodeError::Truncated));
        assert_eq!(
            Packet::decode(&[1, 7, 0, 3]),
            Err(DecodeError::BadLength(3))
        );
        assert_eq!(
            Packet::decode(&[1, 7, 0, 9, 0]),
            Err(DecodeError::LengthOverrun {
                claimed: 9,
                available: 5
            })
        );
        assert_eq!(encode(Code(9), 1, &[1, 2]), [9, 1, 0, 6, 1, 2]);
    }
}
