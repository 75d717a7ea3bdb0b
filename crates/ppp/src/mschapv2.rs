//! MS-CHAPv2 (RFC 2759) computations and message formats, with the DES/NT-hash pieces of
//! MS-CHAPv1 (RFC 2433) it builds on.
//!
//! Pure functions: the CHAP exchange itself (identifiers, retransmission) is in `auth`.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::{Digest as _, Md4};
use sha1::Sha1;

/// Value-Size of an MS-CHAPv2 Challenge (RFC 2759 §3).
pub const CHALLENGE_LEN: usize = 16;
/// Value-Size of an MS-CHAPv2 Response (RFC 2759 §4).
pub const RESPONSE_LEN: usize = 49;

/// RFC 2759 §4: the user name without any `DOMAIN\` prefix, as used in the hashes.
pub fn strip_domain(user: &str) -> &str {
    user.rsplit_once('\\').map_or(user, |(_, u)| u)
}

/// RFC 2759 §8.3 NtPasswordHash: MD4 of the password in UTF-16LE.
pub fn nt_password_hash(password: &str) -> [u8; 16] {
    let mut h = Md4::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_le_bytes());
    }
    h.finalize().into()
}

/// RFC 2759 §8.4 HashNtPasswordHash.
pub fn hash_nt_password_hash(hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(hash).into()
}

/// RFC 2759 §8.2 ChallengeHash: first 8 octets of SHA1(PeerChallenge | AuthChallenge | UserName).
pub fn challenge_hash(peer_challenge: &[u8; 16], auth_challenge: &[u8; 16], user: &str) -> [u8; 8] {
    let mut h = Sha1::new();
    h.update(peer_challenge);
    h.update(auth_challenge);
    h.update(strip_domain(user).as_bytes());
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// RFC 2759 §8.6 DesEncrypt: expand a 7-octet key to a DES key (parity bits ignored) and
/// encrypt one block.
fn des_encrypt(clear: &[u8; 8], key7: &[u8]) -> [u8; 8] {
    let mut k = [0u8; 8];
    let mut bits: u64 = 0;
    for b in key7.iter().take(7) {
        bits = (bits << 8) | u64::from(*b);
    }
    for (i, byte) in k.iter_mut().enumerate() {
        // 7 key bits per octet, the low bit left for parity.
        *byte = (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1;
    }
    let cipher = des::Des::new(&k.into());
    let mut block = (*clear).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// RFC 2759 §8.5 ChallengeResponse: three DES encryptions with the zero-padded hash.
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = [0u8; 21];
    z[..16].copy_from_slice(password_hash);
    let mut out = [0u8; 24];
    for i in 0..3 {
        out[i * 8..i * 8 + 8].copy_from_slice(&des_encrypt(challenge, &z[i * 7..i * 7 + 7]));
    }
    out
}

/// RFC 2759 §8.1 GenerateNTResponse.
pub fn generate_nt_response(
    auth_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user: &str,
    password: &str,
) -> [u8; 24] {
    let c = challenge_hash(peer_challenge, auth_challenge, user);
    challenge_response(&c, &nt_password_hash(password))
}

/// RFC 2759 §8.7 GenerateAuthenticatorResponse (the 20 octets behind "S=").
pub fn generate_authenticator_response(
    password: &str,
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    auth_challenge: &[u8; 16],
    user: &str,
) -> [u8; 20] {
    const MAGIC1: &[u8] = b"Magic server to client signing constant";
    const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";
    let hh = hash_nt_password_hash(&nt_password_hash(password));
    let mut h = Sha1::new();
    h.update(hh);
    h.update(nt_response);
    h.update(MAGIC1);
    let digest = h.finalize();
    let challenge = challenge_hash(peer_challenge, auth_challenge, user);
    let mut h = Sha1::new();
    h.update(digest);
    h.update(challenge);
    h.update(MAGIC2);
    h.finalize().into()
}

/// RFC 2759 §5: `S=` followed by 40 uppercase hex digits.
pub fn format_authenticator_response(resp: &[u8; 20]) -> String {
    let mut s = String::with_capacity(42);
    s.push_str("S=");
    for b in resp {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// RFC 2759 §5/§8.8: extract the authenticator response from a Success message
/// (`S=<40 hex> M=<msg>`). Returns None if missing or malformed.
pub fn parse_success_message(msg: &[u8]) -> Option<[u8; 20]> {
    let hex = msg.strip_prefix(b"S=")?.get(..40)?;
    let mut out = [0u8; 20];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// RFC 2759 §6: a Failure message for `E=691` (authentication failure), no retry.
pub fn failure_message(auth_challenge: &[u8; 16]) -> String {
    failure_message_with(auth_challenge, "Authentication failed")
}

/// The same failure (E=691, no retry) with `message` as its "M=" text.
pub fn failure_message_with(auth_challenge: &[u8; 16], message: &str) -> String {
    let mut c = String::with_capacity(32);
    for b in auth_challenge {
        c.push_str(&format!("{b:02X}"));
    }
    format!("E=691 R=0 C={c} V=3 M={message}")
}

/// RFC 2759 §6: the new challenge of a Failure message that allows a retry ("R=1" and
/// "C=" with 32 hexadecimal digits); None when it does not.
pub fn retry_challenge(msg: &str) -> Option<[u8; 16]> {
    let mut words = msg.split(' ');
    let retry = words.clone().any(|w| w == "R=1");
    let hex = words.find_map(|w| w.strip_prefix("C="))?;
    if !retry || hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The same Failure message allowing no retry ("R=1" becomes "R=0").
pub fn without_retry(msg: &str) -> String {
    msg.split(' ')
        .map(|w| if w == "R=1" { "R=0" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Constant-time equality for secrets-derived values.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_allowing_a_retry_gives_its_challenge_and_can_be_made_final() {
        let m = "E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=try again";
        let c = retry_challenge(m).unwrap();
        assert_eq!(c[1], 0x11);
        assert_eq!(c[15], 0xff);
        let last = without_retry(m);
        assert_eq!(
            last,
            "E=691 R=0 C=00112233445566778899AABBCCDDEEFF V=3 M=try again"
        );
        assert_eq!(retry_challenge(&last), None);
        assert_eq!(retry_challenge("E=691 R=1 C=0011 V=3"), None, "short C=");
        assert_eq!(retry_challenge("E=691 R=1 V=3"), None, "no C=");
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    // RFC 2759 §9.2 hash example.
    const AUTH_CHALLENGE: &str = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28";
    const PEER_CHALLENGE: &str = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E";

    #[test]
    fn rfc2759_section_9_2_vectors() {
        let ac: [u8; 16] = h(AUTH_CHALLENGE).try_into().unwrap();
        let pc: [u8; 16] = h(PEER_CHALLENGE).try_into().unwrap();
        assert_eq!(
            challenge_hash(&pc, &ac, "User").to_vec(),
            h("D0 2E 43 86 BC E9 12 26")
        );
        let ph = nt_password_hash("clientPass");
        assert_eq!(
            ph.to_vec(),
            h("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
        );
        assert_eq!(
            hash_nt_password_hash(&ph).to_vec(),
            h("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
        );
        let nt = generate_nt_response(&ac, &pc, "User", "clientPass");
        assert_eq!(
            nt.to_vec(),
            h("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
        );
        let ar = generate_authenticator_response("clientPass", &nt, &pc, &ac, "User");
        let s = format_authenticator_response(&ar);
        assert_eq!(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
        assert_eq!(
            parse_success_message(format!("{s} M=ok").as_bytes()),
            Some(ar)
        );
        // A domain prefix does not enter the hashes (RFC 2759 §4).
        assert_eq!(
            generate_nt_response(&ac, &pc, "CORP\\User", "clientPass"),
            nt
        );
    }

    #[test]
    fn rfc2759_section_9_3_password_hash() {
        assert_eq!(
            nt_password_hash("MyPw").to_vec(),
            h("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")
        );
    }

    #[test]
    fn malformed_success_messages() {
        assert_eq!(parse_success_message(b""), None);
        assert_eq!(parse_success_message(b"S=12"), None);
        assert_eq!(
            parse_success_message(&[b'S', b'=', 0xff, 0xfe].repeat(12)),
            None
        );
        assert!(failure_message(&[0xab; 16]).starts_with("E=691 R=0 C=ABAB"));
    }
}
