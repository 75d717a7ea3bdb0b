//! CHAP packet formats (RFC 1994 §4) and the MD5 response (RFC 1994 §2, algorithm 5).
//!
//! MS-CHAPv2 (algorithm 0x81) shares these packet formats; its computations live in
//! [`crate::mschapv2`].

use md5::{Digest as _, Md5};

use crate::error::DecodeError;

/// CHAP codes (RFC 1994 §4).
pub mod code {
    /// Challenge.
    pub const CHALLENGE: u8 = 1;
    /// Response.
    pub const RESPONSE: u8 = 2;
    /// Success.
    pub const SUCCESS: u8 = 3;
    /// Failure.
    pub const FAILURE: u8 = 4;
}

/// A Challenge or Response body: Value-Size, Value, Name (RFC 1994 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueName<'a> {
    /// Value (challenge or response).
    pub value: &'a [u8],
    /// Name (the rest of the packet).
    pub name: &'a [u8],
}

impl<'a> ValueName<'a> {
    /// Decode a Challenge/Response body.
    pub fn decode(data: &'a [u8]) -> Result<Self, DecodeError> {
        let (&size, rest) = data.split_first().ok_or(DecodeError::Malformed("CHAP"))?;
        if size == 0 || rest.len() < usize::from(size) {
            return Err(DecodeError::Malformed("CHAP"));
        }
        let (value, name) = rest.split_at(usize::from(size));
        Ok(ValueName { value, name })
    }

    /// Encode a Challenge/Response body.
    pub fn encode(value: &[u8], name: &[u8]) -> Vec<u8> {
        let value = &value[..value.len().min(255)];
        let mut v = Vec::with_capacity(1 + value.len() + name.len());
        v.push(value.len() as u8);
        v.extend_from_slice(value);
        v.extend_from_slice(name);
        v
    }
}

/// RFC 1994 §2 (MD5 algorithm): Response = MD5(Identifier | secret | Challenge).
pub fn md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_known_answer() {
        // RFC 1994 gives no vectors; this one was computed independently with Python:
        // hashlib.md5(b"\x01secret" + bytes(range(16))).hexdigest()
        let challenge: Vec<u8> = (0u8..16).collect();
        let r = md5_response(1, b"secret", &challenge);
        assert_eq!(hex::encode(r), "740e86463bda3a4d7017d6e0fba0699d");
        assert_ne!(
            md5_response(2, b"secret", &challenge),
            r,
            "identifier is hashed"
        );
    }

    #[test]
    fn value_name_codec() {
        let b = ValueName::encode(&[1, 2, 3], b"lns");
        assert_eq!(b, [3, 1, 2, 3, b'l', b'n', b's']);
        let v = ValueName::decode(&b).unwrap();
        assert_eq!((v.value, v.name), (&[1u8, 2, 3][..], &b"lns"[..]));
        assert!(ValueName::decode(&[4, 1, 2]).is_err());
        assert!(ValueName::decode(&[]).is_err());
        assert!(ValueName::decode(&[0]).is_err());
    }
}
