//! AVP hiding (RFC 2661 §4.3) and the tunnel-authentication Challenge Response (§4.2, §5.1.1).
//!
//! Hiding XORs the "Hidden AVP Subformat" (2-byte original length, value, padding) with an
//! MD5 key stream: `b1 = MD5(type ‖ secret ‖ RV)`, `bi = MD5(secret ‖ c(i−1))`. On receipt
//! the decrypted length prefix is checked against the bytes present and never trusted to
//! bound a read: a wrong secret yields [`DecodeError::HiddenBadLength`], not garbage reads.

use md5::{Digest, Md5};

use crate::avp::AvpType;
use crate::error::DecodeError;

/// XORs `data` in place with the §4.3 key stream. `cipher_of` picks, for each 16-byte block,
/// which bytes chain into the next hash: the ciphertext (which is `data` after XOR when
/// hiding, before XOR when unhiding).
fn xor_stream(attr: AvpType, secret: &[u8], random_vector: &[u8], data: &mut [u8], hiding: bool) {
    let mut h = Md5::new();
    h.update(attr.0.to_be_bytes());
    h.update(secret);
    h.update(random_vector);
    let mut key: [u8; 16] = h.finalize().into();
    for chunk in data.chunks_mut(16) {
        let mut cipher = [0u8; 16];
        for (i, b) in chunk.iter_mut().enumerate() {
            if hiding {
                *b ^= key[i];
                cipher[i] = *b;
            } else {
                cipher[i] = *b;
                *b ^= key[i];
            }
        }
        // b(i) = MD5(S + c(i-1)); a short final block only ever ends the stream.
        let mut h = Md5::new();
        h.update(secret);
        h.update(&cipher[..chunk.len()]);
        key = h.finalize().into();
    }
}

/// Hides `value` of an AVP of type `attr`: returns the Attribute Value field of the hidden
/// AVP (original length, value, `padding`, all XORed). Padding is caller-chosen (random in
/// production, fixed in tests), keeping this function deterministic.
pub fn hide(
    attr: AvpType,
    secret: &[u8],
    random_vector: &[u8],
    value: &[u8],
    padding: &[u8],
) -> Vec<u8> {
    let mut sub = Vec::with_capacity(2 + value.len() + padding.len());
    // The original length is at most 1017 (the 10-bit AVP Length minus the header).
    sub.extend_from_slice(&(value.len() as u16).to_be_bytes());
    sub.extend_from_slice(value);
    sub.extend_from_slice(padding);
    xor_stream(attr, secret, random_vector, &mut sub, true);
    sub
}

/// Recovers the original value of a hidden AVP of type `attr` from its Attribute Value field.
pub fn unhide(
    attr: AvpType,
    secret: &[u8],
    random_vector: &[u8],
    hidden: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    if hidden.len() < 2 {
        return Err(DecodeError::HiddenBadLength {
            avp: attr,
            declared: 0,
            available: hidden.len(),
        });
    }
    let mut sub = hidden.to_vec();
    xor_stream(attr, secret, random_vector, &mut sub, false);
    let declared = usize::from(u16::from_be_bytes([sub[0], sub[1]]));
    let available = sub.len() - 2;
    if declared > available {
        return Err(DecodeError::HiddenBadLength {
            avp: attr,
            declared,
            available,
        });
    }
    sub.truncate(2 + declared);
    sub.drain(..2);
    Ok(sub)
}

/// Challenge Response (RFC 2661 §4.4.3, §5.1.1): `MD5(ID ‖ secret ‖ challenge)` where ID is
/// the Message Type of the message carrying the response (2 for SCCRP, 3 for SCCCN).
pub fn challenge_response(msg_type_id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([msg_type_id]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_multi_block_values() {
        let rv = [7u8; 16];
        for len in [0usize, 1, 2, 13, 14, 15, 16, 30, 31, 32, 33, 100] {
            let value: Vec<u8> = (0..len as u8).collect();
            let h = hide(AvpType(14), b"secret", &rv, &value, &[9, 9, 9]);
            assert_eq!(h.len(), 2 + len + 3);
            if len > 0 {
                assert_ne!(&h[2..2 + len], &value[..], "value {len} not hidden");
            }
            assert_eq!(unhide(AvpType(14), b"secret", &rv, &h).unwrap(), value);
        }
    }

    #[test]
    fn first_block_matches_the_rfc_formula() {
        // Independent computation of c(1) = p1 xor MD5(type ‖ S ‖ RV) for a 2-byte value.
        let h = hide(AvpType(9), b"s", b"rv", &[0x12, 0x34], &[]);
        let mut m = Md5::new();
        m.update([0u8, 9]);
        m.update(b"s");
        m.update(b"rv");
        let k: [u8; 16] = m.finalize().into();
        assert_eq!(h, [k[0], 2 ^ k[1], 0x12 ^ k[2], 0x34 ^ k[3]]);
    }

    #[test]
    fn wrong_secret_or_type_is_detected_by_length_check() {
        let h = hide(AvpType(9), b"right", b"rv", &[0, 5], &[]);
        // With a wrong key the decrypted prefix is random; for this input it exceeds 2.
        let e = unhide(AvpType(9), b"wrong", b"rv", &h).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::HiddenBadLength { available: 2, .. }
        ));
        assert!(matches!(
            unhide(AvpType(9), b"right", b"rv", &[1]),
            Err(DecodeError::HiddenBadLength {
                declared: 0,
                available: 1,
                ..
            })
        ));
    }

    #[test]
    fn challenge_response_is_md5_of_id_secret_challenge() {
        let mut m = Md5::new();
        m.update([2u8]);
        m.update(b"secret");
        m.update([1u8, 2, 3]);
        let expect: [u8; 16] = m.finalize().into();
        assert_eq!(challenge_response(2, b"secret", &[1, 2, 3]), expect);
        assert_ne!(challenge_response(3, b"secret", &[1, 2, 3]), expect);
    }
}
