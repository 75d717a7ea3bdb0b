//! Minimal IPv4/IPv6 packet helpers the daemon needs without a kernel stack: the Internet
//! checksum, ICMP / ICMPv6 echo requests (the demo's pings), and answering an echo request
//! addressed to the LNS's own address when no TUN device terminates IP (demo mode).

use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 1071 Internet checksum over `data`, starting from a partial `sum` (the datapath's
/// one's complement sum, `l2tp_io::offload::sum`, complemented).
pub fn checksum(data: &[u8], sum: u32) -> u16 {
    use l2tp_io::offload;
    !offload::fold(offload::sum(data, u64::from(sum)))
}

/// The checksum of an upper-layer `body` over IPv6 (RFC 8200 §8.1: the pseudo-header of
/// source, destination, upper-layer length and `next_header`), with the body's own checksum
/// field zero.
pub fn ipv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, body: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in src.octets().chunks(2).chain(dst.octets().chunks(2)) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum += body.len() as u32 + u32::from(next_header);
    checksum(body, sum)
}

/// An IPv4 ICMP echo request from `src` to `dst` with the given id, sequence and payload size.
pub fn icmpv4_echo_request(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    seq: u16,
    payload: usize,
) -> Vec<u8> {
    let total = 20 + 8 + payload;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&seq.to_be_bytes());
    p[8] = 64; // TTL
    p[9] = 1; // ICMP
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let hc = checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&hc.to_be_bytes());
    p[20] = 8; // echo request
    p[24..26].copy_from_slice(&id.to_be_bytes());
    p[26..28].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[28..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let cc = checksum(&p[20..], 0);
    p[22..24].copy_from_slice(&cc.to_be_bytes());
    p
}

/// An ICMPv6 echo request from `src` to `dst`.
pub fn icmpv6_echo_request(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u16,
    seq: u16,
    payload: usize,
) -> Vec<u8> {
    let plen = 8 + payload;
    let mut p = vec![0u8; 40 + plen];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
    p[6] = 58; // ICMPv6
    p[7] = 64; // hop limit
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40] = 128; // echo request
    p[44..46].copy_from_slice(&id.to_be_bytes());
    p[46..48].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[48..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let cs = icmpv6_checksum(&p);
    p[42..44].copy_from_slice(&cs.to_be_bytes());
    p
}

fn icmpv6_checksum(packet: &[u8]) -> u16 {
    let plen = packet.len() - 40;
    let mut sum = 0u32;
    for c in packet[8..40].chunks_exact(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum += plen as u32;
    sum += 58;
    let mut body = packet[40..].to_vec();
    body[2] = 0;
    body[3] = 0;
    checksum(&body, sum)
}

/// What an echo reply says: which id/sequence it answers and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply {
    /// Echo identifier.
    pub id: u16,
    /// Echo sequence number.
    pub seq: u16,
}

/// Parses an IPv4 or IPv6 ICMP echo reply; `None` for anything else.
pub fn parse_echo_reply(packet: &[u8]) -> Option<EchoReply> {
    match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            if packet.len() < ihl + 8 || packet[9] != 1 || packet[ihl] != 0 {
                return None;
            }
            let icmp = &packet[ihl..];
            Some(EchoReply {
                id: u16::from_be_bytes([icmp[4], icmp[5]]),
                seq: u16::from_be_bytes([icmp[6], icmp[7]]),
            })
        }
        6 => {
            if packet.len() < 48 || packet[6] != 58 || packet[40] != 129 {
                return None;
            }
            Some(EchoReply {
                id: u16::from_be_bytes([packet[44], packet[45]]),
                seq: u16::from_be_bytes([packet[46], packet[47]]),
            })
        }
        _ => None,
    }
}

/// If `packet` is an ICMP/ICMPv6 echo request addressed to one of `local_v4`/`local_v6`,
/// returns the echo reply to send back (demo mode: the LNS answers for its own address).
pub fn answer_echo(
    packet: &[u8],
    local_v4: Option<Ipv4Addr>,
    local_v6: Option<Ipv6Addr>,
) -> Option<Vec<u8>> {
    match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            if ihl < 20 || packet.len() < ihl + 8 || packet[9] != 1 || packet[ihl] != 8 {
                return None;
            }
            let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            if Some(dst) != local_v4 {
                return None;
            }
            let mut r = packet.to_vec();
            r.copy_within(12..16, 16);
            r[12..16].copy_from_slice(&dst.octets());
            r[8] = 64;
            r[10] = 0;
            r[11] = 0;
            let hc = checksum(&r[..ihl], 0);
            r[10..12].copy_from_slice(&hc.to_be_bytes());
            r[ihl] = 0; // echo reply
            r[ihl + 2] = 0;
            r[ihl + 3] = 0;
            let cc = checksum(&r[ihl..], 0);
            r[ihl + 2..ihl + 4].copy_from_slice(&cc.to_be_bytes());
            Some(r)
        }
        6 => {
            if packet.len() < 48 || packet[6] != 58 || packet[40] != 128 {
                return None;
            }
            let mut dst = [0u8; 16];
            dst.copy_from_slice(&packet[24..40]);
            if Some(Ipv6Addr::from(dst)) != local_v6 {
                return None;
            }
            let mut r = packet.to_vec();
            r.copy_within(8..24, 24);
            r[8..24].copy_from_slice(&dst);
            r[7] = 64;
            r[40] = 129;
            let cs = icmpv6_checksum(&r);
            r[42..44].copy_from_slice(&cs.to_be_bytes());
            Some(r)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_echo_is_answered_with_valid_checksums() {
        let lns = Ipv4Addr::new(198, 51, 100, 1);
        let req = icmpv4_echo_request(Ipv4Addr::new(203, 0, 113, 10), lns, 7, 3, 32);
        assert_eq!(checksum(&req[..20], 0), 0, "IP header checksum verifies");
        assert_eq!(checksum(&req[20..], 0), 0, "ICMP checksum verifies");
        let rep = answer_echo(&req, Some(lns), None).expect("addressed to us");
        assert_eq!(checksum(&rep[..20], 0), 0);
        assert_eq!(checksum(&rep[20..], 0), 0);
        assert_eq!(parse_echo_reply(&rep), Some(EchoReply { id: 7, seq: 3 }));
        assert_eq!(
            answer_echo(&req, Some(Ipv4Addr::new(198, 51, 100, 2)), None),
            None
        );
    }

    #[test]
    fn v6_echo_is_answered_with_valid_checksum() {
        let lns: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let cli: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let req = icmpv6_echo_request(cli, lns, 1, 2, 16);
        assert_eq!(
            icmpv6_checksum(&req),
            u16::from_be_bytes([req[42], req[43]])
        );
        let rep = answer_echo(&req, None, Some(lns)).expect("addressed to us");
        assert_eq!(
            icmpv6_checksum(&rep),
            u16::from_be_bytes([rep[42], rep[43]])
        );
        assert_eq!(parse_echo_reply(&rep), Some(EchoReply { id: 1, seq: 2 }));
    }
}
