//! Ethernet II header with optional stacked 802.1Q / 802.1ad VLAN tags, kept as received so
//! a reply goes back on the same VLANs.

use std::fmt;

use crate::error::{DecodeError, EncodeError};

/// EtherType of PPPoE Discovery frames (RFC 2516 §4: "ETHER_TYPE is set to either 0x8863
/// (Discovery Stage) or 0x8864 (PPP Session Stage)").
pub const ETHERTYPE_DISCOVERY: u16 = 0x8863;
/// EtherType of PPPoE Session frames.
pub const ETHERTYPE_SESSION: u16 = 0x8864;
/// 802.1Q customer VLAN tag.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad service VLAN tag (QinQ outer tag).
pub const TPID_8021AD: u16 = 0x88a8;
/// Pre-standard QinQ outer tag some switches still send.
pub const TPID_QINQ_LEGACY: u16 = 0x9100;
/// Most VLAN tags decoded (double tagging is the common case; a little room beyond).
pub const MAX_VLAN_TAGS: usize = 4;
/// Length of the destination, source and EtherType fields.
pub const ETH_HEADER_LEN: usize = 14;

/// A 48-bit Ethernet address.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// True for the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True for group (multicast or broadcast) addresses: the I/G bit of the first octet.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// One VLAN tag: its TPID and its Tag Control Information (PCP, DEI, VID).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct VlanTag {
    /// Tag protocol identifier (0x8100, 0x88a8 or 0x9100).
    pub tpid: u16,
    /// Tag control information.
    pub tci: u16,
}

impl VlanTag {
    /// A 802.1Q tag with VLAN id `vid` (priority 0).
    pub fn dot1q(vid: u16) -> Self {
        VlanTag {
            tpid: TPID_8021Q,
            tci: vid & 0x0fff,
        }
    }

    /// The 12-bit VLAN identifier.
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
}

fn is_vlan_tpid(t: u16) -> bool {
    matches!(t, TPID_8021Q | TPID_8021AD | TPID_QINQ_LEGACY)
}

/// The Ethernet header of a PPPoE frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthHeader {
    /// Destination address.
    pub dst: MacAddr,
    /// Source address.
    pub src: MacAddr,
    /// VLAN tags, outermost first.
    pub vlans: Vec<VlanTag>,
    /// The EtherType after the tags.
    pub ethertype: u16,
}

/// Appends an Ethernet header (`vlans` outermost first) to `out`, without building an
/// [`EthHeader`] (the per-frame path borrows its session's tags).
pub fn encode_header(
    dst: MacAddr,
    src: MacAddr,
    vlans: &[VlanTag],
    ethertype: u16,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if vlans.len() > MAX_VLAN_TAGS {
        return Err(EncodeError::TooManyVlanTags(MAX_VLAN_TAGS));
    }
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    for v in vlans {
        out.extend_from_slice(&v.tpid.to_be_bytes());
        out.extend_from_slice(&v.tci.to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    Ok(())
}

impl EthHeader {
    /// Decodes the header; returns it and the bytes after it.
    pub fn decode(frame: &[u8]) -> Result<(EthHeader, &[u8]), DecodeError> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(DecodeError::Truncated {
                need: ETH_HEADER_LEN,
                have: frame.len(),
            });
        }
        let mut dst = [0; 6];
        let mut src = [0; 6];
        dst.copy_from_slice(&frame[0..6]);
        src.copy_from_slice(&frame[6..12]);
        let mut pos = 12;
        let mut vlans = Vec::new();
        loop {
            let Some(t) = frame.get(pos..pos + 2) else {
                return Err(DecodeError::Truncated {
                    need: pos + 2,
                    have: frame.len(),
                });
            };
            let t = u16::from_be_bytes([t[0], t[1]]);
            if !is_vlan_tpid(t) {
                return Ok((
                    EthHeader {
                        dst: MacAddr(dst),
                        src: MacAddr(src),
                        vlans,
                        ethertype: t,
                    },
                    &frame[pos + 2..],
                ));
            }
            if vlans.len() == MAX_VLAN_TAGS {
                return Err(DecodeError::TooManyVlanTags(MAX_VLAN_TAGS));
            }
            let Some(tci) = frame.get(pos + 2..pos + 4) else {
                return Err(DecodeError::Truncated {
                    need: pos + 4,
                    have: frame.len(),
                });
            };
            vlans.push(VlanTag {
                tpid: t,
                tci: u16::from_be_bytes([tci[0], tci[1]]),
            });
            pos += 4;
        }
    }

    /// Length of the encoded header.
    pub fn len(&self) -> usize {
        ETH_HEADER_LEN + 4 * self.vlans.len()
    }

    /// Always false: a header has at least 14 octets (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_header(self.dst, self.src, &self.vlans, self.ethertype, out)
    }

    /// The header of a reply: source and destination swapped (our address as the source),
    /// same VLAN tags.
    pub fn reply(&self, ours: MacAddr, ethertype: u16) -> EthHeader {
        EthHeader {
            dst: self.src,
            src: ours,
            vlans: self.vlans.clone(),
            ethertype,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_and_double_tagged() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x88, 0x63, 0xaa]);
        let (h, rest) = EthHeader::decode(&f).unwrap();
        assert!(h.dst.is_broadcast() && h.vlans.is_empty());
        assert_eq!((h.ethertype, rest), (ETHERTYPE_DISCOVERY, &[0xaa][..]));
        assert_eq!(h.src.to_string(), "02:00:00:00:00:01");

        let h2 = EthHeader {
            vlans: vec![
                VlanTag {
                    tpid: TPID_8021AD,
                    tci: 0x2064,
                },
                VlanTag::dot1q(7),
            ],
            ..h.clone()
        };
        let mut out = Vec::new();
        h2.encode(&mut out).unwrap();
        assert_eq!(out.len(), h2.len());
        assert_eq!(&out[12..20], &[0x88, 0xa8, 0x20, 0x64, 0x81, 0, 0, 7]);
        let (back, rest) = EthHeader::decode(&out).unwrap();
        assert_eq!((back, rest.len()), (h2.clone(), 0));
        assert_eq!(h2.vlans[0].vid(), 0x064);
    }

    #[test]
    fn truncated_and_too_many_tags() {
        assert_eq!(
            EthHeader::decode(&[0; 13]),
            Err(DecodeError::Truncated { need: 14, have: 13 })
        );
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x81, 0, 0]);
        assert_eq!(
            EthHeader::decode(&f),
            Err(DecodeError::Truncated { need: 16, have: 15 })
        );
        let mut f = vec![0; 12];
        for _ in 0..5 {
            f.extend_from_slice(&[0x81, 0, 0, 1]);
        }
        f.extend_from_slice(&[0x88, 0x63]);
        assert_eq!(
            EthHeader::decode(&f),
            Err(DecodeError::TooManyVlanTags(MAX_VLAN_TAGS))
        );
    }
}
