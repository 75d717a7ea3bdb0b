//! PAP packet formats (RFC 1334 §2.2).

use crate::error::DecodeError;

/// PAP codes (RFC 1334 §2.2).
pub mod code {
    /// Authenticate-Request.
    pub const REQUEST: u8 = 1;
    /// Authenticate-Ack.
    pub const ACK: u8 = 2;
    /// Authenticate-Nak.
    pub const NAK: u8 = 3;
}

/// An Authenticate-Request body (RFC 1334 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Peer-ID.
    pub peer_id: &'a [u8],
    /// Password.
    pub password: &'a [u8],
}

impl<'a> Request<'a> {
    /// Decode: Peer-ID Length, Peer-ID, Passwd-Length, Password.
    pub fn decode(data: &'a [u8]) -> Result<Self, DecodeError> {
        let bad = DecodeError::Malformed("PAP Authenticate-Request");
        let (&idlen, rest) = data.split_first().ok_or(bad)?;
        let peer_id = rest.get(..usize::from(idlen)).ok_or(bad)?;
        let rest = &rest[usize::from(idlen)..];
        let (&pwlen, rest) = rest.split_first().ok_or(bad)?;
        let password = rest.get(..usize::from(pwlen)).ok_or(bad)?;
        Ok(Request { peer_id, password })
    }

    /// Encode (fields longer than 255 octets are truncated).
    pub fn encode(peer_id: &[u8], password: &[u8]) -> Vec<u8> {
        let peer_id = &peer_id[..peer_id.len().min(255)];
        let password = &password[..password.len().min(255)];
        let mut v = Vec::with_capacity(2 + peer_id.len() + password.len());
        v.push(peer_id.len() as u8);
        v.extend_from_slice(peer_id);
        v.push(password.len() as u8);
        v.extend_from_slice(password);
        v
    }
}

/// Encode an Authenticate-Ack/Nak body: Msg-Length, Message (RFC 1334 §2.2.2).
pub fn encode_message(msg: &[u8]) -> Vec<u8> {
    let msg = &msg[..msg.len().min(255)];
    let mut v = Vec::with_capacity(1 + msg.len());
    v.push(msg.len() as u8);
    v.extend_from_slice(msg);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codec() {
        let b = Request::encode(b"bob", b"pw");
        assert_eq!(b, [3, b'b', b'o', b'b', 2, b'p', b'w']);
        let r = Request::decode(&b).unwrap();
        assert_eq!((r.peer_id, r.password), (&b"bob"[..], &b"pw"[..]));
        assert!(Request::decode(&[5, b'a']).is_err());
        assert!(Request::decode(&[1, b'a']).is_err());
        assert!(Request::decode(&[1, b'a', 3, b'x']).is_err());
        assert!(Request::decode(&[]).is_err());
    }
}
