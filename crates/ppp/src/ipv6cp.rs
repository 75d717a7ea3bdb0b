//! IPv6CP option policy (RFC 5072): Interface-Identifier negotiation with collision handling.
//!
//! Each side proposes a random, non-zero identifier with the universal/local bit cleared
//! (RFC 5072 §4.1). A zero or colliding identifier from the peer is Naked with a fresh
//! suggestion; IPv6-Compression-Protocol is rejected.

use rand::RngCore;

use crate::fsm::Policy;
use crate::options::{self, RawOption, Reply, Verdict};

/// IPv6CP option types (RFC 5072 §4).
pub mod opt {
    /// Interface-Identifier.
    pub const INTERFACE_IDENTIFIER: u8 = 1;
    /// IPv6-Compression-Protocol.
    pub const COMPRESSION: u8 = 2;
}

/// A random interface identifier: non-zero, "u" bit (0x02 of the first octet) zero.
pub fn random_iid(rng: &mut dyn RngCore, not: &[[u8; 8]]) -> [u8; 8] {
    loop {
        let mut iid = [0u8; 8];
        rng.fill_bytes(&mut iid);
        iid[0] &= !0x02;
        if iid != [0; 8] && !not.contains(&iid) {
            return iid;
        }
    }
}

/// IPv6CP's [`Policy`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Ipv6cpPolicy {
    local: [u8; 8],
    req_iid: bool,
    peer: Option<[u8; 8]>,
    suggestion: Option<[u8; 8]>,
}

impl Ipv6cpPolicy {
    /// A policy proposing `local` (see [`random_iid`]).
    pub fn new(local: [u8; 8]) -> Self {
        Ipv6cpPolicy {
            local,
            req_iid: true,
            peer: None,
            suggestion: None,
        }
    }

    /// Our interface identifier.
    pub fn local(&self) -> [u8; 8] {
        self.local
    }

    /// The peer's interface identifier (zero if it did not state one).
    pub fn peer(&self) -> [u8; 8] {
        self.peer.unwrap_or([0; 8])
    }
}

impl Policy for Ipv6cpPolicy {
    fn reset(&mut self) {
        self.req_iid = true;
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        if self.req_iid {
            options::push(&mut v, opt::INTERFACE_IDENTIFIER, &self.local);
        }
        v
    }

    fn check_request(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]) -> Verdict {
        self.peer = None;
        let mut r = Reply::default();
        for o in opts {
            match (o.kind, <[u8; 8]>::try_from(o.data)) {
                (opt::INTERFACE_IDENTIFIER, Ok(iid)) => {
                    let ours = if self.req_iid { self.local } else { [0; 8] };
                    if iid == [0; 8] && ours == [0; 8] {
                        // RFC 5072 §4.1: both zero, no unique identifier can be negotiated.
                        r.reject(o);
                    } else if iid == [0; 8] || iid == ours {
                        // RFC 5072 §4.1: Nak with a different non-zero suggestion, kept stable
                        // across retransmissions.
                        let s = match self.suggestion {
                            Some(s) if s != ours => s,
                            _ => random_iid(rng, &[ours]),
                        };
                        self.suggestion = Some(s);
                        r.nak(opt::INTERFACE_IDENTIFIER, &s);
                    } else {
                        self.peer = Some(iid);
                    }
                }
                _ => r.reject(o),
            }
        }
        r.verdict()
    }

    fn nak_received(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]) {
        for o in opts {
            if let (opt::INTERFACE_IDENTIFIER, Ok(iid)) = (o.kind, <[u8; 8]>::try_from(o.data)) {
                // RFC 5072 §4.1: use the peer's suggestion unless it is unusable.
                let peer = self.peer.unwrap_or([0; 8]);
                self.local = if iid != [0; 8] && iid != peer {
                    iid
                } else {
                    random_iid(rng, &[peer, self.local])
                };
            }
        }
    }

    fn reject_received(&mut self, opts: &[RawOption<'_>]) {
        if opts.iter().any(|o| o.kind == opt::INTERFACE_IDENTIFIER) {
            self.req_iid = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    #[test]
    fn collision_and_zero_are_naked_with_a_stable_suggestion() {
        let mut rng = StepRng::new(0x0101_0101_0101_0101, 0x1111);
        let mine = [0x10, 1, 2, 3, 4, 5, 6, 7];
        let mut p = Ipv6cpPolicy::new(mine);
        let mut req = vec![1, 10];
        req.extend_from_slice(&mine);
        let Verdict::Nak(n1) = p.check_request(&mut rng, &options::decode(&req).unwrap()) else {
            panic!("collision must be naked")
        };
        let Verdict::Nak(n2) = p.check_request(
            &mut rng,
            &options::decode(&[1, 10, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
        ) else {
            panic!("zero must be naked")
        };
        assert_eq!(n1, n2);
        assert_ne!(&n1[2..], &mine[..]);
        assert_eq!(n1[2] & 0x02, 0, "u bit cleared");
        let other = [1, 10, 0x20, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(
            p.check_request(&mut rng, &options::decode(&other).unwrap()),
            Verdict::Ack
        );
        assert_eq!(p.peer(), [0x20, 0, 0, 0, 0, 0, 0, 9]);
        // A Nak for us: adopt the suggestion.
        p.nak_received(
            &mut rng,
            &options::decode(&[1, 10, 0x30, 0, 0, 0, 0, 0, 0, 1]).unwrap(),
        );
        assert_eq!(p.local(), [0x30, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            p.check_request(&mut rng, &options::decode(&[2, 4, 0, 0x4f]).unwrap()),
            Verdict::Reject(vec![2, 4, 0, 0x4f])
        );
    }
}
