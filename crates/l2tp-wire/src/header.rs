//! The L2TPv2 header (RFC 2661 §3.1), for control and data messages, zero-copy.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Tunnel ID           |           Session ID          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Ns (opt)          |             Nr (opt)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`Header::decode`] borrows the payload from the datagram; [`Header::encode_into`] writes a
//! header in front of a payload the caller already placed, so the datapath never copies it.

use crate::error::DecodeError;
use crate::ids::{SessionId, TunnelId};
use crate::seq::SeqNum;

/// T bit: 1 for control messages.
pub const FLAG_TYPE: u16 = 0x8000;
/// L bit: Length field present.
pub const FLAG_LENGTH: u16 = 0x4000;
/// S bit: Ns and Nr present.
pub const FLAG_SEQUENCE: u16 = 0x0800;
/// O bit: Offset Size present.
pub const FLAG_OFFSET: u16 = 0x0200;
/// P bit: priority treatment requested (data messages only).
pub const FLAG_PRIORITY: u16 = 0x0100;
/// Mask of the version nibble.
pub const VERSION_MASK: u16 = 0x000f;
/// The only version this codec handles.
pub const VERSION_2: u8 = 2;
/// UDP port assigned to L2TP (RFC 2661 §8.1).
pub const L2TP_PORT: u16 = 1701;
/// Largest header: flags, length, ids, Ns, Nr, offset size (without offset padding).
pub const MAX_HEADER_LEN: usize = 14;
/// Header length of a control message (T, L, S always set, no offset).
pub const CONTROL_HEADER_LEN: usize = 12;

/// Whether a message is a control or data message (the T bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// T = 1: a control message (or a ZLB acknowledgement when it carries no AVPs).
    Control,
    /// T = 0: a data message carrying a PPP frame.
    Data,
}

/// Ns and Nr as carried when the S bit is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sequence {
    /// Sequence number of this message.
    pub ns: SeqNum,
    /// Next sequence number expected from the peer (data: reserved, sent as 0 and ignored).
    pub nr: SeqNum,
}

/// A decoded (or to-be-encoded) L2TPv2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Control or data.
    pub kind: MessageKind,
    /// Whether the Length field is present (L bit). Always true for control messages.
    pub has_length: bool,
    /// Tunnel ID of the receiver.
    pub tunnel_id: TunnelId,
    /// Session ID of the receiver (0 for tunnel-level control messages).
    pub session_id: SessionId,
    /// Ns/Nr when the S bit is set.
    pub sequence: Option<Sequence>,
    /// Offset Size when the O bit is set: number of padding bytes after the field.
    pub offset: Option<u16>,
    /// P bit (data messages only).
    pub priority: bool,
}

/// A header together with the bytes that follow it, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The header.
    pub header: Header,
    /// Everything after the header (and after any offset padding), bounded by Length.
    pub payload: &'a [u8],
    /// Index of the first payload byte in the datagram.
    pub payload_start: usize,
}

impl Header {
    /// A control message header (T, L, S set) for the given ids and sequence numbers.
    pub const fn control(
        tunnel_id: TunnelId,
        session_id: SessionId,
        ns: SeqNum,
        nr: SeqNum,
    ) -> Self {
        Header {
            kind: MessageKind::Control,
            has_length: true,
            tunnel_id,
            session_id,
            sequence: Some(Sequence { ns, nr }),
            offset: None,
            priority: false,
        }
    }

    /// A minimal data message header (no Length, no sequence, no offset).
    pub const fn data(tunnel_id: TunnelId, session_id: SessionId) -> Self {
        Header {
            kind: MessageKind::Data,
            has_length: false,
            tunnel_id,
            session_id,
            sequence: None,
            offset: None,
            priority: false,
        }
    }

    /// True for control messages.
    pub const fn is_control(&self) -> bool {
        matches!(self.kind, MessageKind::Control)
    }

    /// Number of bytes the header occupies when encoded (including offset padding).
    pub const fn encoded_len(&self) -> usize {
        let mut n = 6;
        if self.has_length {
            n += 2;
        }
        if self.sequence.is_some() {
            n += 4;
        }
        if let Some(off) = self.offset {
            n += 2 + off as usize;
        }
        n
    }

    /// The 16-bit flags-and-version word this header encodes to.
    pub const fn flags_word(&self) -> u16 {
        let mut w = VERSION_2 as u16;
        if matches!(self.kind, MessageKind::Control) {
            w |= FLAG_TYPE;
        }
        if self.has_length {
            w |= FLAG_LENGTH;
        }
        if self.sequence.is_some() {
            w |= FLAG_SEQUENCE;
        }
        if self.offset.is_some() {
            w |= FLAG_OFFSET;
        }
        if self.priority {
            w |= FLAG_PRIORITY;
        }
        w
    }

    /// Decodes the header at the start of `datagram`.
    ///
    /// Rules enforced (RFC 2661 §3.1): version 2 only; the Length field, when present, must
    /// equal the datagram length; control messages must have L and S set and O and P clear;
    /// the offset padding must fit. Reserved bits are ignored on receipt as the RFC requires.
    pub fn decode(datagram: &[u8]) -> Result<Decoded<'_>, DecodeError> {
        if datagram.len() < 2 {
            return Err(DecodeError::TruncatedHeader {
                needed: 6,
                have: datagram.len(),
            });
        }
        let flags = u16::from_be_bytes([datagram[0], datagram[1]]);
        let version = (flags & VERSION_MASK) as u8;
        if version != VERSION_2 {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let control = flags & FLAG_TYPE != 0;
        let has_length = flags & FLAG_LENGTH != 0;
        let has_seq = flags & FLAG_SEQUENCE != 0;
        let has_offset = flags & FLAG_OFFSET != 0;
        let priority = flags & FLAG_PRIORITY != 0;
        if control {
            // RFC 2661 §3.1: "The L bit MUST be set to 1 for control messages."
            if !has_length {
                return Err(DecodeError::ControlWithoutLength);
            }
            // "The S bit MUST be set to 1 for control messages."
            if !has_seq {
                return Err(DecodeError::ControlWithoutSequence);
            }
            // "The O bit MUST be set to 0 (zero) for control messages."
            if has_offset {
                return Err(DecodeError::ControlWithOffset);
            }
            // "The P bit MUST be set to 0 (zero) for control messages."
            if priority {
                return Err(DecodeError::ControlWithPriority);
            }
        }
        let fixed = 6
            + if has_length { 2 } else { 0 }
            + if has_seq { 4 } else { 0 }
            + if has_offset { 2 } else { 0 };
        if datagram.len() < fixed {
            return Err(DecodeError::TruncatedHeader {
                needed: fixed,
                have: datagram.len(),
            });
        }
        let rd = |i: usize| u16::from_be_bytes([datagram[i], datagram[i + 1]]);
        let mut pos = 2;
        let mut end = datagram.len();
        if has_length {
            let field = rd(pos) as usize;
            if field != datagram.len() {
                return Err(DecodeError::LengthMismatch {
                    field,
                    datagram: datagram.len(),
                });
            }
            end = field;
            pos += 2;
        }
        let tunnel_id = TunnelId(rd(pos));
        let session_id = SessionId(rd(pos + 2));
        pos += 4;
        let sequence = if has_seq {
            let s = Sequence {
                ns: SeqNum(rd(pos)),
                nr: SeqNum(rd(pos + 2)),
            };
            pos += 4;
            Some(s)
        } else {
            None
        };
        let offset = if has_offset {
            let off = rd(pos);
            pos += 2;
            if pos + off as usize > end {
                return Err(DecodeError::OffsetPastEnd {
                    offset: off as usize,
                    len: end - pos,
                });
            }
            pos += off as usize;
            Some(off)
        } else {
            None
        };
        let header = Header {
            kind: if control {
                MessageKind::Control
            } else {
                MessageKind::Data
            },
            has_length,
            tunnel_id,
            session_id,
            sequence,
            offset,
            priority,
        };
        Ok(Decoded {
            header,
            payload: &datagram[pos..end],
            payload_start: pos,
        })
    }

    /// Writes the header into `out[..self.encoded_len()]` for a message whose payload (after
    /// the header) is `payload_len` bytes, and returns the header length. Offset padding is
    /// written as zeros.
    ///
    /// # Panics
    /// Panics if `out` is shorter than [`Header::encoded_len`], or if the Length field is
    /// present and the message would exceed 65535 bytes: both are caller bugs, not peer input.
    pub fn encode_into(&self, out: &mut [u8], payload_len: usize) -> usize {
        let hlen = self.encoded_len();
        assert!(out.len() >= hlen, "header buffer too short");
        out[0..2].copy_from_slice(&self.flags_word().to_be_bytes());
        let mut pos = 2;
        if self.has_length {
            let total = hlen + payload_len;
            let total = u16::try_from(total).expect("L2TP message longer than 65535 bytes");
            out[pos..pos + 2].copy_from_slice(&total.to_be_bytes());
            pos += 2;
        }
        out[pos..pos + 2].copy_from_slice(&self.tunnel_id.0.to_be_bytes());
        out[pos + 2..pos + 4].copy_from_slice(&self.session_id.0.to_be_bytes());
        pos += 4;
        if let Some(s) = self.sequence {
            out[pos..pos + 2].copy_from_slice(&s.ns.0.to_be_bytes());
            out[pos + 2..pos + 4].copy_from_slice(&s.nr.0.to_be_bytes());
            pos += 4;
        }
        if let Some(off) = self.offset {
            out[pos..pos + 2].copy_from_slice(&off.to_be_bytes());
            pos += 2;
            out[pos..pos + off as usize].fill(0);
            pos += off as usize;
        }
        debug_assert_eq!(pos, hlen);
        hlen
    }

    /// Encodes the header followed by `payload` into a new vector (convenience for tests and
    /// the control plane; the datapath uses [`Header::encode_into`]).
    pub fn encode_with_payload(&self, payload: &[u8]) -> Vec<u8> {
        let hlen = self.encoded_len();
        let mut v = vec![0u8; hlen + payload.len()];
        self.encode_into(&mut v, payload.len());
        v[hlen..].copy_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlb_control_golden() {
        // ZLB ack: T|L|S, ver 2, length 12, tunnel 7, session 0, Ns 3, Nr 9.
        let h = Header::control(TunnelId(7), SessionId(0), SeqNum(3), SeqNum(9));
        let bytes = h.encode_with_payload(&[]);
        assert_eq!(bytes, [0xc8, 0x02, 0x00, 0x0c, 0, 7, 0, 0, 0, 3, 0, 9]);
        let d = Header::decode(&bytes).unwrap();
        assert_eq!(d.header, h);
        assert!(d.payload.is_empty());
    }

    #[test]
    fn data_with_all_options_round_trips() {
        let h = Header {
            kind: MessageKind::Data,
            has_length: true,
            tunnel_id: TunnelId(0x1234),
            session_id: SessionId(0xabcd),
            sequence: Some(Sequence {
                ns: SeqNum(65535),
                nr: SeqNum(0),
            }),
            offset: Some(3),
            priority: true,
        };
        let bytes = h.encode_with_payload(&[0xff, 0x03, 0xc0, 0x21]);
        assert_eq!(bytes.len(), 14 + 3 + 4);
        let d = Header::decode(&bytes).unwrap();
        assert_eq!(d.header, h);
        assert_eq!(d.payload, &[0xff, 0x03, 0xc0, 0x21]);
        assert_eq!(d.payload_start, 17);
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(
            Header::decode(&[0x00]),
            Err(DecodeError::TruncatedHeader { needed: 6, have: 1 })
        );
        assert_eq!(
            Header::decode(&[0x00, 0x03, 0, 0, 0, 0]),
            Err(DecodeError::UnsupportedVersion(3))
        );
        assert_eq!(
            Header::decode(&[0x88, 0x02, 0, 1, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::ControlWithoutLength)
        );
        assert_eq!(
            Header::decode(&[0xc0, 0x02, 0, 8, 0, 1, 0, 0]),
            Err(DecodeError::ControlWithoutSequence)
        );
        assert_eq!(
            Header::decode(&[0xc8, 0x02, 0, 13, 0, 1, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::LengthMismatch {
                field: 13,
                datagram: 12
            })
        );
        assert_eq!(
            Header::decode(&[0x02, 0x02, 0, 1, 0, 1, 0, 9]),
            Err(DecodeError::OffsetPastEnd { offset: 9, len: 0 })
        );
    }
}
