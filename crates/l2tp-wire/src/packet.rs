//! Whole datagrams: header plus control message, ZLB acknowledgement, or data payload.
//!
//! [`Packet::decode`] is what a receiver calls on a UDP payload; [`encode_packet`] builds a
//! complete control datagram (header with the right Length, then the AVP area).

use crate::error::{DecodeError, EncodeError};
use crate::header::{Header, CONTROL_HEADER_LEN};
use crate::message::{ControlMessage, Hiding};

/// A decoded L2TPv2 datagram.
// A packet lives on the stack for one receive; boxing the message would only cost an
// allocation and make matching clumsier for the state machine.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A control message.
    Control {
        /// Its header (T, L, S set).
        header: Header,
        /// The message.
        message: ControlMessage,
    },
    /// A Zero-Length Body control message: an explicit acknowledgement (RFC 2661 §5.8).
    Zlb {
        /// Its header: Nr acknowledges, Ns is the next Ns the sender will use.
        header: Header,
    },
    /// A data message carrying a PPP frame (RFC 2661 §5.3).
    Data {
        /// Its header.
        header: Header,
        /// The PPP frame, after any offset padding, borrowed from the datagram.
        payload: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Decodes a UDP payload. `secret` unhides hidden AVPs (see [`ControlMessage::decode`]).
    pub fn decode(datagram: &'a [u8], secret: Option<&[u8]>) -> Result<Self, DecodeError> {
        let d = Header::decode(datagram)?;
        if !d.header.is_control() {
            return Ok(Packet::Data {
                header: d.header,
                payload: d.payload,
            });
        }
        if d.payload.is_empty() {
            return Ok(Packet::Zlb { header: d.header });
        }
        let message = ControlMessage::decode(d.payload, secret)?;
        Ok(Packet::Control {
            header: d.header,
            message,
        })
    }

    /// The packet's header.
    pub fn header(&self) -> &Header {
        match self {
            Packet::Control { header, .. }
            | Packet::Zlb { header }
            | Packet::Data { header, .. } => header,
        }
    }
}

/// Encodes a complete control datagram: `header` (normally [`Header::control`]) with its
/// Length field set, followed by the message's AVPs.
pub fn encode_packet(
    header: &Header,
    message: &ControlMessage,
    hiding: Option<Hiding<'_>>,
) -> Result<Vec<u8>, EncodeError> {
    let hlen = header.encoded_len();
    let mut out = vec![0u8; hlen];
    out.reserve(128);
    message.encode(&mut out, hiding)?;
    let payload_len = out.len() - hlen;
    if out.len() > usize::from(u16::MAX) && header.has_length {
        return Err(EncodeError::MessageTooLong { len: out.len() });
    }
    header.encode_into(&mut out[..hlen], payload_len);
    Ok(out)
}

/// Encodes a ZLB acknowledgement (a control header and nothing else).
pub fn encode_zlb(header: &Header) -> Vec<u8> {
    debug_assert_eq!(header.encoded_len(), CONTROL_HEADER_LEN);
    header.encode_with_payload(&[])
}
