//! PPPoE frames (RFC 2516 §4): the Ethernet header, the 6-octet PPPoE header (VER, TYPE,
//! CODE, SESSION_ID, LENGTH) and either a TAG list (Discovery) or a PPP frame (Session).
//!
//! RFC 2516 §4: "The VER field is four bits and MUST be set to 0x1 for this version of the
//! PPPoE specification. The TYPE field is four bits and MUST be set to 0x1 for this version
//! of the PPPoE specification." and "The LENGTH field is sixteen bits. The value, in network
//! byte order, indicates the length of the PPPoE payload. It does not include the length of
//! the Ethernet or PPPoE headers." Octets after LENGTH (Ethernet padding) are ignored.

use std::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::eth::{EthHeader, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION};
use crate::tag::{decode_tags, encode_tags, Tag};

/// Length of the PPPoE header.
pub const PPPOE_HEADER_LEN: usize = 6;
/// VER = 1, TYPE = 1.
pub const VER_TYPE: u8 = 0x11;

/// A discovery CODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u8);

impl Code {
    /// 0x09 PPPoE Active Discovery Initiation.
    pub const PADI: Code = Code(0x09);
    /// 0x07 PPPoE Active Discovery Offer.
    pub const PADO: Code = Code(0x07);
    /// 0x19 PPPoE Active Discovery Request.
    pub const PADR: Code = Code(0x19);
    /// 0x65 PPPoE Active Discovery Session-confirmation.
    pub const PADS: Code = Code(0x65);
    /// 0xa7 PPPoE Active Discovery Terminate.
    pub const PADT: Code = Code(0xa7);

    /// The RFC 2516 name, `None` for codes it does not define.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Code::PADI => "PADI",
            Code::PADO => "PADO",
            Code::PADR => "PADR",
            Code::PADS => "PADS",
            Code::PADT => "PADT",
            _ => return None,
        })
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "code {:#04x}", self.0),
        }
    }
}

/// A Discovery packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Discovery {
    /// PADI, PADO, PADR, PADS or PADT.
    pub code: Code,
    /// SESSION_ID (0 except in PADS and PADT).
    pub session_id: u16,
    /// The TAGs, in order.
    pub tags: Vec<Tag>,
}

/// What follows the Ethernet header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pppoe<'a> {
    /// EtherType 0x8863.
    Discovery(Discovery),
    /// EtherType 0x8864: "The PPPoE payload contains a PPP frame. The frame begins with the
    /// PPP Protocol-ID." (RFC 2516 §6).
    Session {
        /// SESSION_ID.
        session_id: u16,
        /// The PPP frame (protocol field first), borrowed from the input.
        payload: &'a [u8],
    },
}

/// A decoded PPPoE frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame<'a> {
    /// Ethernet header (VLAN tags kept).
    pub eth: EthHeader,
    /// The PPPoE part.
    pub pppoe: Pppoe<'a>,
}

impl<'a> Frame<'a> {
    /// Decodes one Ethernet frame.
    pub fn decode(frame: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        let (eth, rest) = EthHeader::decode(frame)?;
        if eth.ethertype != ETHERTYPE_DISCOVERY && eth.ethertype != ETHERTYPE_SESSION {
            return Err(DecodeError::NotPppoe(eth.ethertype));
        }
        let Some(h) = rest.get(..PPPOE_HEADER_LEN) else {
            return Err(DecodeError::Truncated {
                need: eth.len() + PPPOE_HEADER_LEN,
                have: frame.len(),
            });
        };
        if h[0] != VER_TYPE {
            return Err(DecodeError::BadVersion {
                ver: h[0] >> 4,
                ty: h[0] & 0x0f,
            });
        }
        let code = Code(h[1]);
        let session_id = u16::from_be_bytes([h[2], h[3]]);
        let declared = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let body = &rest[PPPOE_HEADER_LEN..];
        let Some(payload) = body.get(..declared) else {
            return Err(DecodeError::BadLength {
                declared,
                available: body.len(),
            });
        };
        let pppoe = if eth.ethertype == ETHERTYPE_SESSION {
            if code.0 != 0 {
                return Err(DecodeError::SessionCode(code.0));
            }
            Pppoe::Session {
                session_id,
                payload,
            }
        } else {
            if code.name().is_none() {
                return Err(DecodeError::UnknownCode(code.0));
            }
            Pppoe::Discovery(Discovery {
                code,
                session_id,
                tags: decode_tags(payload)?,
            })
        };
        Ok(Frame { eth, pppoe })
    }

    /// Encodes the frame (no Ethernet padding: the NIC pads short frames).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        let mut eth = self.eth.clone();
        eth.ethertype = match self.pppoe {
            Pppoe::Discovery(_) => ETHERTYPE_DISCOVERY,
            Pppoe::Session { .. } => ETHERTYPE_SESSION,
        };
        eth.encode(&mut out)?;
        match &self.pppoe {
            Pppoe::Discovery(d) => {
                let start = out.len();
                out.extend_from_slice(&[VER_TYPE, d.code.0]);
                out.extend_from_slice(&d.session_id.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                encode_tags(&d.tags, &mut out)?;
                let len = out.len() - start - PPPOE_HEADER_LEN;
                let len = u16::try_from(len).map_err(|_| EncodeError::PayloadTooLong(len))?;
                out[start + 4..start + 6].copy_from_slice(&len.to_be_bytes());
            }
            Pppoe::Session {
                session_id,
                payload,
            } => {
                session_header_into(*session_id, payload.len(), &mut out)?;
                out.extend_from_slice(payload);
            }
        }
        Ok(out)
    }
}

/// Appends the 6-octet PPPoE Session header for a `payload_len`-octet PPP frame (for the
/// data path, which writes the Ethernet header, this, then the PPP frame).
pub fn session_header_into(
    session_id: u16,
    payload_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let len = u16::try_from(payload_len).map_err(|_| EncodeError::PayloadTooLong(payload_len))?;
    out.extend_from_slice(&[VER_TYPE, 0]);
    out.extend_from_slice(&session_id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::{MacAddr, VlanTag};
    use crate::tag::TagList;

    /// A PADI as the Linux pppd rp-pppoe plugin sends it (Service-Name empty, Host-Uniq).
    const PADI: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0x63, //
        0x11, 0x09, 0x00, 0x00, 0x00, 0x0c, //
        0x01, 0x01, 0x00, 0x00, //
        0x01, 0x03, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78,
    ];

    #[test]
    fn decodes_a_padi_and_round_trips() {
        let f = Frame::decode(&PADI).unwrap();
        assert!(f.eth.dst.is_broadcast());
        let Pppoe::Discovery(d) = &f.pppoe else {
            panic!("not discovery")
        };
        assert_eq!((d.code, d.session_id), (Code::PADI, 0));
        assert_eq!(d.tags.service_names(), vec![&b""[..]]);
        assert_eq!(d.tags.host_uniq(), Some(&[0x12, 0x34, 0x56, 0x78][..]));
        assert_eq!(f.encode().unwrap(), PADI);
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut padded = PADI.to_vec();
        padded.resize(60, 0);
        let f = Frame::decode(&padded).unwrap();
        assert_eq!(f.encode().unwrap(), PADI);
    }

    #[test]
    fn session_frame_with_vlan_borrows_payload() {
        let f = Frame {
            eth: EthHeader {
                dst: MacAddr([2, 0, 0, 0, 0, 2]),
                src: MacAddr([2, 0, 0, 0, 0, 1]),
                vlans: vec![VlanTag::dot1q(100)],
                ethertype: 0,
            },
            pppoe: Pppoe::Session {
                session_id: 0x1234,
                payload: &[0xc0, 0x21, 1, 1, 0, 4],
            },
        };
        let b = f.encode().unwrap();
        assert_eq!(&b[16..18], &[0x88, 0x64]);
        assert_eq!(&b[18..24], &[0x11, 0, 0x12, 0x34, 0, 6]);
        let back = Frame::decode(&b).unwrap();
        assert_eq!(back.eth.vlans, vec![VlanTag::dot1q(100)]);
        assert_eq!(back.pppoe, f.pppoe);
    }

    #[test]
    fn malformed_headers_are_typed_errors() {
        let mut b = PADI;
        b[14] = 0x21;
        assert_eq!(
            Frame::decode(&b),
            Err(DecodeError::BadVersion { ver: 2, ty: 1 })
        );
        let mut b = PADI;
        b[19] = 0x20;
        assert_eq!(
            Frame::decode(&b),
            Err(DecodeError::BadLength {
                declared: 32,
                available: 12
            })
        );
        let mut b = PADI;
        b[15] = 0x42;
        assert_eq!(Frame::decode(&b), Err(DecodeError::UnknownCode(0x42)));
        let mut b = PADI;
        b[13] = 0x64;
        assert_eq!(Frame::decode(&b), Err(DecodeError::SessionCode(0x09)));
        let mut b = PADI;
        b[12] = 0x08;
        b[13] = 0x00;
        assert_eq!(Frame::decode(&b), Err(DecodeError::NotPppoe(0x0800)));
        assert_eq!(
            Frame::decode(&PADI[..17]),
            Err(DecodeError::Truncated { need: 20, have: 17 })
        );
    }
}
