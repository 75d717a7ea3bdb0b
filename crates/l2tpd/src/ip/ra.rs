//! IPv6 addressing over PPP: IPv6CP (RFC 5072) only negotiates interface identifiers, so the
//! LNS announces each session's prefix with a Router Advertisement (RFC 4861 §4.2) and the
//! client forms its global address from that prefix and its negotiated identifier
//! (RFC 5072 §5: "stateless address autoconfiguration"). Both ends are the daemon itself —
//! there is no kernel PPP interface to run SLAAC on — so this module builds and parses the
//! few ICMPv6 messages involved: Router Solicitation (133) and Router Advertisement (134)
//! with Prefix Information (RFC 4861 §4.6.2), MTU (§4.6.4) and Route Information
//! (RFC 4191 §2.3) options.

use std::net::Ipv6Addr;

const ICMPV6: u8 = 58;
const ROUTER_SOLICITATION: u8 = 133;
const ROUTER_ADVERTISEMENT: u8 = 134;
const OPT_PREFIX_INFORMATION: u8 = 3;
const OPT_MTU: u8 = 5;
const OPT_ROUTE_INFORMATION: u8 = 24;
/// All-nodes multicast, the destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// What the LNS advertises to one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    /// The session's /64 (on-link, autonomous: the client forms prefix + its identifier).
    pub prefix: Ipv6Addr,
    /// A prefix reachable through us (the whole pool, where the LNS's own address lives).
    pub route: Option<(Ipv6Addr, u8)>,
    /// Link MTU.
    pub mtu: u32,
    /// Router lifetime in seconds (0: not a default router).
    pub router_lifetime: u16,
}

fn checksum(src: &Ipv6Addr, dst: &Ipv6Addr, body: &[u8]) -> u16 {
    super::inet::ipv6_checksum(src, dst, ICMPV6, body)
}

fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + body.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.push(ICMPV6);
    p.push(255); // RFC 4861 §6.1.2: hop limit 255 proves the message is on-link.
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(body);
    p
}

/// A Router Advertisement from `src` (our link-local address) to `dst`.
pub fn router_advertisement(src: Ipv6Addr, dst: Ipv6Addr, ad: &Advertisement) -> Vec<u8> {
    let mut b = vec![ROUTER_ADVERTISEMENT, 0, 0, 0, 64, 0];
    b.extend_from_slice(&ad.router_lifetime.to_be_bytes());
    b.extend_from_slice(&[0; 8]); // reachable time, retrans timer: unspecified
                                  // Prefix Information: /64, on-link and autonomous, 1 day valid, 4 h preferred.
    b.extend_from_slice(&[OPT_PREFIX_INFORMATION, 4, 64, 0xc0]);
    b.extend_from_slice(&86_400u32.to_be_bytes());
    b.extend_from_slice(&14_400u32.to_be_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&ad.prefix.octets());
    b.extend_from_slice(&[OPT_MTU, 1, 0, 0]);
    b.extend_from_slice(&ad.mtu.to_be_bytes());
    if let Some((route, len)) = ad.route {
        // Route Information (RFC 4191): full 16 octets of prefix (length 3), 1 day.
        b.extend_from_slice(&[OPT_ROUTE_INFORMATION, 3, len, 0]);
        b.extend_from_slice(&86_400u32.to_be_bytes());
        b.extend_from_slice(&route.octets());
    }
    let cs = checksum(&src, &dst, &b);
    b[2..4].copy_from_slice(&cs.to_be_bytes());
    ipv6_packet(src, dst, &b)
}

/// A Router Solicitation from `src` to all routers.
pub fn router_solicitation(src: Ipv6Addr) -> Vec<u8> {
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
    let mut b = vec![ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    let cs = checksum(&src, &dst, &b);
    b[2..4].copy_from_slice(&cs.to_be_bytes());
    ipv6_packet(src, dst, &b)
}

/// The ICMPv6 type of an on-link (hop limit 255) ICMPv6 packet with a valid checksum.
fn ndp_type(packet: &[u8]) -> Option<(u8, &[u8])> {
    if packet.len() < 48 || packet[0] >> 4 != 6 || packet[6] != ICMPV6 || packet[7] != 255 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let body = packet.get(40..40 + plen)?;
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).ok()?);
    let mut zeroed = body.to_vec();
    zeroed[2] = 0;
    zeroed[3] = 0;
    (checksum(&src, &dst, &zeroed) == u16::from_be_bytes([body[2], body[3]]))
        .then_some((body[0], body))
}

/// True for a Router Solicitation.
pub fn is_router_solicitation(packet: &[u8]) -> bool {
    matches!(ndp_type(packet), Some((ROUTER_SOLICITATION, _)))
}

/// What a client learns from a Router Advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Learned {
    /// Autonomous /64 prefixes to form addresses in.
    pub prefixes: Vec<Ipv6Addr>,
    /// Routes to install through the link.
    pub routes: Vec<(Ipv6Addr, u8)>,
    /// Router lifetime (0: not a default router).
    pub router_lifetime: u16,
}

/// Parses a Router Advertisement; `None` for anything else or a malformed one.
pub fn parse_router_advertisement(packet: &[u8]) -> Option<Learned> {
    let (ROUTER_ADVERTISEMENT, body) = ndp_type(packet)? else {
        return None;
    };
    let mut l = Learned {
        router_lifetime: u16::from_be_bytes([*body.get(6)?, *body.get(7)?]),
        ..Default::default()
    };
    let mut opts = body.get(16..)?;
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return None; // RFC 4861 §4.6: a zero-length option invalidates the packet.
        }
        let o = &opts[..len];
        match o[0] {
            OPT_PREFIX_INFORMATION if len == 32 && o[2] == 64 && o[3] & 0x40 != 0 => {
                l.prefixes
                    .push(Ipv6Addr::from(<[u8; 16]>::try_from(&o[16..32]).ok()?));
            }
            OPT_ROUTE_INFORMATION if len == 24 && o[2] <= 128 => {
                l.routes
                    .push((Ipv6Addr::from(<[u8; 16]>::try_from(&o[8..24]).ok()?), o[2]));
            }
            _ => {}
        }
        opts = &opts[len..];
    }
    Some(l)
}

/// `prefix` (its first 64 bits) with the interface identifier `iid`.
pub fn with_iid(prefix: Ipv6Addr, iid: [u8; 8]) -> Ipv6Addr {
    let mut o = prefix.octets();
    o[8..].copy_from_slice(&iid);
    Ipv6Addr::from(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisement_round_trips_and_checksums() {
        let lns: Ipv6Addr = "fe80::1".parse().unwrap();
        let ad = Advertisement {
            prefix: "2001:db8:1:5::".parse().unwrap(),
            route: Some(("2001:db8:1::".parse().unwrap(), 48)),
            mtu: 1460,
            router_lifetime: 1800,
        };
        let p = router_advertisement(lns, ALL_NODES, &ad);
        let l = parse_router_advertisement(&p).expect("valid RA");
        assert_eq!(
            l.prefixes,
            vec!["2001:db8:1:5::".parse::<Ipv6Addr>().unwrap()]
        );
        assert_eq!(l.routes, vec![("2001:db8:1::".parse().unwrap(), 48)]);
        assert_eq!(l.router_lifetime, 1800);
        // A flipped bit breaks the checksum; a hop limit below 255 is not on-link.
        let mut bad = p.clone();
        bad[60] ^= 1;
        assert_eq!(parse_router_advertisement(&bad), None);
        let mut far = p.clone();
        far[7] = 64;
        assert_eq!(parse_router_advertisement(&far), None);
        assert!(!is_router_solicitation(&p));
    }

    #[test]
    fn solicitation_is_recognised_and_addresses_are_formed() {
        let rs = router_solicitation("fe80::2".parse().unwrap());
        assert!(is_router_solicitation(&rs));
        assert_eq!(parse_router_advertisement(&rs), None);
        assert_eq!(
            with_iid(
                "2001:db8:1:5::".parse().unwrap(),
                [0, 0, 0, 0, 0, 0, 0x12, 0x34]
            ),
            "2001:db8:1:5::1234".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(parse_router_advertisement(&[0x60; 10]), None);
    }
}
