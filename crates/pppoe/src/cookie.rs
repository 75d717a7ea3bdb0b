//! AC-Cookies: the access concentrator's proof that a PADR comes from the address it sent
//! the PADO to (RFC 2516 §8: "The Access Concentrator SHOULD be able to uniquely regenerate
//! the TAG_VALUE based on the PADR SOURCE_ADDR. Using this, the Access Concentrator can
//! ensure that the PADI SOURCE_ADDR is indeed reachable and can then limit concurrent
//! sessions for that address. What algorithm to use is not defined and left as an
//! implementation detail. An example is HMAC [3] over the Host MAC address using a key known
//! only to the Access Concentrator.").
//!
//! A cookie is the 4-octet number of the time window it was issued in, then the first 16
//! octets of HMAC-SHA1(secret, window ‖ MAC ‖ VLAN tags). It is accepted in its window and
//! the next, so it lives between one and two windows. Nothing is stored per PADI.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::eth::{MacAddr, VlanTag};

/// Octets of the MAC kept in a cookie.
pub const COOKIE_MAC_LEN: usize = 16;
/// Length of a cookie.
pub const COOKIE_LEN: usize = 4 + COOKIE_MAC_LEN;

/// Issues and checks cookies.
#[derive(Clone)]
pub struct CookieJar {
    key: Vec<u8>,
    window: Duration,
    epoch: Instant,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar")
            .field("key", &"<redacted>")
            .field("window", &self.window)
            .finish()
    }
}

impl CookieJar {
    /// Cookies keyed by `secret`, windows of `window` (at least 1 s) counted from `epoch`.
    pub fn new(secret: &[u8], window: Duration, epoch: Instant) -> Self {
        CookieJar {
            key: secret.to_vec(),
            window: window.max(Duration::from_secs(1)),
            epoch,
        }
    }

    fn slot(&self, now: Instant) -> u32 {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        (secs / self.window.as_secs()) as u32
    }

    fn mac(&self, slot: u32, peer: MacAddr, vlans: &[VlanTag]) -> Hmac<Sha1> {
        let mut m = <Hmac<Sha1> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        m.update(&slot.to_be_bytes());
        m.update(&peer.0);
        for v in vlans {
            m.update(&v.tpid.to_be_bytes());
            m.update(&v.tci.to_be_bytes());
        }
        m
    }

    /// A cookie for `peer` on `vlans`, now.
    pub fn issue(&self, now: Instant, peer: MacAddr, vlans: &[VlanTag]) -> Vec<u8> {
        let slot = self.slot(now);
        let tag = self.mac(slot, peer, vlans).finalize().into_bytes();
        let mut c = slot.to_be_bytes().to_vec();
        c.extend_from_slice(&tag[..COOKIE_MAC_LEN]);
        c
    }

    /// Whether `cookie` was issued to `peer` on `vlans` in this window or the previous one.
    pub fn verify(&self, now: Instant, peer: MacAddr, vlans: &[VlanTag], cookie: &[u8]) -> bool {
        let Some((slot, tag)) = cookie.split_first_chunk::<4>() else {
            return false;
        };
        let slot = u32::from_be_bytes(*slot);
        let cur = self.slot(now);
        if tag.len() != COOKIE_MAC_LEN || !(slot == cur || slot.wrapping_add(1) == cur) {
            return false;
        }
        // Constant-time comparison of the truncated tag.
        self.mac(slot, peer, vlans)
            .verify_truncated_left(tag)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_binds_mac_vlan_and_time() {
        let t0 = Instant::now();
        let jar = CookieJar::new(b"secret", Duration::from_secs(30), t0);
        let a = MacAddr([2, 0, 0, 0, 0, 1]);
        let b = MacAddr([2, 0, 0, 0, 0, 2]);
        let v = [VlanTag::dot1q(10)];
        let c = jar.issue(t0, a, &v);
        assert_eq!(c.len(), COOKIE_LEN);
        assert!(jar.verify(t0, a, &v, &c));
        assert!(jar.verify(t0 + Duration::from_secs(59), a, &v, &c));
        assert!(
            !jar.verify(t0 + Duration::from_secs(60), a, &v, &c),
            "expired"
        );
        assert!(!jar.verify(t0, b, &v, &c), "other MAC");
        assert!(!jar.verify(t0, a, &[], &c), "other VLAN");
        let other = CookieJar::new(b"other", Duration::from_secs(30), t0);
        assert!(!other.verify(t0, a, &v, &c), "other secret");
        let mut bad = c.clone();
        bad[10] ^= 1;
        assert!(!jar.verify(t0, a, &v, &bad));
        assert!(!jar.verify(t0, a, &v, &c[..COOKIE_LEN - 1]));
        assert!(!jar.verify(t0, a, &v, &[]));
    }
}
