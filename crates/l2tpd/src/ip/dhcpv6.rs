//! DHCPv6 (RFC 8415) messages as the LNS's server reads and writes them on a session's PPP
//! link: the UDP/IPv6 envelope (ports 546/547, checksum checked and computed), the message
//! header (type, transaction id) and its options as type-length-value, with typed views of
//! the few the server uses: Client and Server Identifier, IA_NA, IA_PD with IA Prefix,
//! Option Request, Rapid Commit, Status Code and DNS Recursive Name Server (RFC 3646).
//! Parsing never panics: bytes from the network are checked and a [`DecodeError`] says what
//! was wrong.

use std::net::Ipv6Addr;

/// UDP port clients listen on (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// UDP port servers and relay agents listen on.
pub const SERVER_PORT: u16 = 547;
/// RFC 8415 §7.1 All_DHCP_Relay_Agents_and_Servers: "A link-scoped multicast address used
/// by a client to communicate with neighboring (i.e., on-link) relay agents and servers".
pub const ALL_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

const UDP: u8 = 17;

/// A message type (RFC 8415 §7.3); unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(pub u8);

#[allow(missing_docs)] // the names are the RFC's
impl MessageType {
    pub const SOLICIT: MessageType = MessageType(1);
    pub const ADVERTISE: MessageType = MessageType(2);
    pub const REQUEST: MessageType = MessageType(3);
    pub const CONFIRM: MessageType = MessageType(4);
    pub const RENEW: MessageType = MessageType(5);
    pub const REBIND: MessageType = MessageType(6);
    pub const REPLY: MessageType = MessageType(7);
    pub const RELEASE: MessageType = MessageType(8);
    pub const DECLINE: MessageType = MessageType(9);
    pub const INFORMATION_REQUEST: MessageType = MessageType(11);
}

/// Option codes (RFC 8415 §21, RFC 3646).
pub mod code {
    #![allow(missing_docs)] // the names are the RFC's
    pub const CLIENTID: u16 = 1;
    pub const SERVERID: u16 = 2;
    pub const IA_NA: u16 = 3;
    pub const ORO: u16 = 6;
    pub const ELAPSED_TIME: u16 = 8;
    pub const STATUS_CODE: u16 = 13;
    pub const RAPID_COMMIT: u16 = 14;
    pub const DNS_SERVERS: u16 = 23;
    pub const IA_PD: u16 = 25;
    pub const IAPREFIX: u16 = 26;
}

/// Status codes (RFC 8415 §21.13).
pub mod status {
    #![allow(missing_docs)] // the names are the RFC's
    pub const SUCCESS: u16 = 0;
    pub const NO_ADDRS_AVAIL: u16 = 2;
    pub const NO_BINDING: u16 = 3;
    pub const NO_PREFIX_AVAIL: u16 = 6;
}

/// What was wrong with bytes that should have been a DHCPv6 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than its headers say.
    #[error("truncated ({0})")]
    Truncated(&'static str),
    /// The UDP checksum does not match.
    #[error("bad UDP checksum")]
    BadChecksum,
    /// An option's length runs past the end of what holds it.
    #[error("option {code} overruns its container")]
    OptionOverrun {
        /// The option's code.
        code: u16,
    },
    /// An option's value is not what its code requires.
    #[error("option {code}: {reason}")]
    BadOption {
        /// The option's code.
        code: u16,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A UDP datagram over IPv6 (no extension headers: a PPP link's DHCPv6 has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The UDP payload.
    pub payload: &'a [u8],
}

fn checksum(src: &Ipv6Addr, dst: &Ipv6Addr, udp: &[u8]) -> u16 {
    super::inet::ipv6_checksum(src, dst, UDP, udp)
}

/// The DHCPv6 server datagram in an IPv6 packet: `Ok(None)` when the packet is not UDP to
/// the server port (not ours to take), an error when it is but is malformed.
pub fn server_datagram(packet: &[u8]) -> Result<Option<Datagram<'_>>, DecodeError> {
    if packet.len() < 48 || packet[0] >> 4 != 6 || packet[6] != UDP {
        return Ok(None);
    }
    let dst_port = u16::from_be_bytes([packet[42], packet[43]]);
    if dst_port != SERVER_PORT {
        return Ok(None);
    }
    // RFC 8415 §7.1/§13: a client sends to All_DHCP_Relay_Agents_and_Servers, or to a
    // server's link-local address on this link. DHCPv6 to any other address is the
    // subscriber's traffic to a server beyond us: routed like the rest, not answered.
    let mut to = [0u8; 16];
    to.copy_from_slice(&packet[24..40]);
    let to = Ipv6Addr::from(to);
    if to != ALL_SERVERS && to.segments()[0] & 0xffc0 != 0xfe80 {
        return Ok(None);
    }
    let payload_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let udp = packet
        .get(40..40 + payload_len)
        .ok_or(DecodeError::Truncated("IPv6 payload length"))?;
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len < 8 || udp_len > udp.len() {
        return Err(DecodeError::Truncated("UDP length"));
    }
    let udp = &udp[..udp_len];
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&packet[at..at + 16]);
        Ipv6Addr::from(o)
    };
    let (src, dst) = (addr(8), addr(24));
    // RFC 8200 §8.1: the UDP checksum is mandatory over IPv6.
    let mut zeroed = udp.to_vec();
    zeroed[6..8].fill(0);
    let sum = checksum(&src, &dst, &zeroed);
    let sent = u16::from_be_bytes([udp[6], udp[7]]);
    if sent == 0 || (sum != sent && !(sum == 0 && sent == 0xffff)) {
        return Err(DecodeError::BadChecksum);
    }
    Ok(Some(Datagram {
        src,
        dst,
        src_port: u16::from_be_bytes([udp[0], udp[1]]),
        dst_port,
        payload: &udp[8..],
    }))
}

/// An IPv6 packet carrying `payload` in UDP from `src`:`src_port` to `dst`:`dst_port`.
pub fn udp_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut udp = Vec::with_capacity(len);
    udp.extend_from_slice(&src_port.to_be_bytes());
    udp.extend_from_slice(&dst_port.to_be_bytes());
    udp.extend_from_slice(&(len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let sum = match checksum(&src, &dst, &udp) {
        0 => 0xffff,
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut p = Vec::with_capacity(40 + len);
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.push(UDP);
    p.push(64);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&udp);
    p
}

/// One option, its value uninterpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpOption {
    /// Option code.
    pub code: u16,
    /// Option data.
    pub data: Vec<u8>,
}

impl DhcpOption {
    /// An option with `data`.
    pub fn new(code: u16, data: impl Into<Vec<u8>>) -> DhcpOption {
        DhcpOption {
            code,
            data: data.into(),
        }
    }
}

/// Options one after the other (RFC 8415 §21.1: code, length, data).
pub fn parse_options(mut b: &[u8]) -> Result<Vec<DhcpOption>, DecodeError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(DecodeError::Truncated("option header"));
        }
        let code = u16::from_be_bytes([b[0], b[1]]);
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        let data = b
            .get(4..4 + len)
            .ok_or(DecodeError::OptionOverrun { code })?;
        out.push(DhcpOption::new(code, data));
        b = &b[4 + len..];
    }
    Ok(out)
}

fn emit_options(options: &[DhcpOption], out: &mut Vec<u8>) {
    for o in options {
        out.extend_from_slice(&o.code.to_be_bytes());
        out.extend_from_slice(&(o.data.len() as u16).to_be_bytes());
        out.extend_from_slice(&o.data);
    }
}

/// A client/server message (RFC 8415 §8): relay messages are not taken here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub msg_type: MessageType,
    /// Transaction id, copied into the answer.
    pub transaction_id: [u8; 3],
    /// Its options, in order.
    pub options: Vec<DhcpOption>,
}

impl Message {
    /// Parses a UDP payload.
    pub fn decode(b: &[u8]) -> Result<Message, DecodeError> {
        if b.len() < 4 {
            return Err(DecodeError::Truncated("message header"));
        }
        Ok(Message {
            msg_type: MessageType(b[0]),
            transaction_id: [b[1], b[2], b[3]],
            options: parse_options(&b[4..])?,
        })
    }

    /// The UDP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![
            self.msg_type.0,
            self.transaction_id[0],
            self.transaction_id[1],
            self.transaction_id[2],
        ];
        emit_options(&self.options, &mut out);
        out
    }

    /// The first option with `code`.
    pub fn option(&self, code: u16) -> Option<&DhcpOption> {
        self.options.iter().find(|o| o.code == code)
    }

    /// Every option with `code`.
    pub fn all(&self, code: u16) -> impl Iterator<Item = &DhcpOption> {
        self.options.iter().filter(move |o| o.code == code)
    }

    /// The option codes the client asked for (Option Request, RFC 8415 §21.7).
    pub fn requested(&self) -> Result<Vec<u16>, DecodeError> {
        let Some(o) = self.option(code::ORO) else {
            return Ok(Vec::new());
        };
        if o.data.len() % 2 != 0 {
            return Err(DecodeError::BadOption {
                code: code::ORO,
                reason: "odd length",
            });
        }
        Ok(o.data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect())
    }
}

/// An IA_PD (RFC 8415 §21.21) or IA_NA (§21.4): identifier, T1, T2 and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ia {
    /// IAID, chosen by the client.
    pub iaid: u32,
    /// T1 in seconds.
    pub t1: u32,
    /// T2 in seconds.
    pub t2: u32,
    /// IA Prefix, Status Code, …
    pub options: Vec<DhcpOption>,
}

impl Ia {
    /// Parses an IA_PD or IA_NA option's data.
    pub fn decode(o: &DhcpOption) -> Result<Ia, DecodeError> {
        let d = &o.data;
        if d.len() < 12 {
            return Err(DecodeError::BadOption {
                code: o.code,
                reason: "shorter than 12 octets",
            });
        }
        let u = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        Ok(Ia {
            iaid: u(0),
            t1: u(4),
            t2: u(8),
            options: parse_options(&d[12..])?,
        })
    }

    /// As option `code` (IA_PD or IA_NA).
    pub fn to_option(&self, code: u16) -> DhcpOption {
        let mut d = Vec::new();
        d.extend_from_slice(&self.iaid.to_be_bytes());
        d.extend_from_slice(&self.t1.to_be_bytes());
        d.extend_from_slice(&self.t2.to_be_bytes());
        emit_options(&self.options, &mut d);
        DhcpOption::new(code, d)
    }
}

/// An IA Prefix (RFC 8415 §21.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaPrefix {
    /// Preferred lifetime, seconds.
    pub preferred: u32,
    /// Valid lifetime, seconds.
    pub valid: u32,
    /// Prefix length.
    pub len: u8,
    /// The prefix.
    pub prefix: Ipv6Addr,
}

impl IaPrefix {
    /// Parses an IA Prefix option's data (its own options are not needed here).
    pub fn decode(o: &DhcpOption) -> Result<IaPrefix, DecodeError> {
        let d = &o.data;
        if d.len() < 25 {
            return Err(DecodeError::BadOption {
                code: code::IAPREFIX,
                reason: "shorter than 25 octets",
            });
        }
        let mut p = [0u8; 16];
        p.copy_from_slice(&d[9..25]);
        if d[8] > 128 {
            return Err(DecodeError::BadOption {
                code: code::IAPREFIX,
                reason: "prefix length over 128",
            });
        }
        Ok(IaPrefix {
            preferred: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
            valid: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            len: d[8],
            prefix: Ipv6Addr::from(p),
        })
    }

    /// As an option.
    pub fn to_option(&self) -> DhcpOption {
        let mut d = Vec::with_capacity(25);
        d.extend_from_slice(&self.preferred.to_be_bytes());
        d.extend_from_slice(&self.valid.to_be_bytes());
        d.push(self.len);
        d.extend_from_slice(&self.prefix.octets());
        DhcpOption::new(code::IAPREFIX, d)
    }
}

/// A Status Code option (RFC 8415 §21.13).
pub fn status_code(status: u16, message: &str) -> DhcpOption {
    let mut d = status.to_be_bytes().to_vec();
    d.extend_from_slice(message.as_bytes());
    DhcpOption::new(code::STATUS_CODE, d)
}

/// A DNS Recursive Name Server option (RFC 3646 §3).
pub fn dns_servers(servers: &[Ipv6Addr]) -> DhcpOption {
    DhcpOption::new(
        code::DNS_SERVERS,
        servers.iter().flat_map(|a| a.octets()).collect::<Vec<u8>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn solicit() -> Message {
        Message {
            msg_type: MessageType::SOLICIT,
            transaction_id: [0x12, 0x34, 0x56],
            options: vec![
                DhcpOption::new(code::CLIENTID, vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 9]),
                DhcpOption::new(code::ELAPSED_TIME, vec![0, 0]),
                Ia {
                    iaid: 7,
                    t1: 0,
                    t2: 0,
                    options: vec![],
                }
                .to_option(code::IA_PD),
                DhcpOption::new(code::ORO, vec![0, 23]),
            ],
        }
    }

    #[test]
    fn a_solicit_in_udp_round_trips_with_its_checksum() {
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let m = solicit();
        let bytes = m.encode();
        // Golden: type, xid, then Client Identifier 0x0001 of 10 octets.
        assert_eq!(&bytes[..8], &[1, 0x12, 0x34, 0x56, 0, 1, 0, 10]);
        let p = udp_packet(src, ALL_SERVERS, CLIENT_PORT, SERVER_PORT, &bytes);
        let d = server_datagram(&p).unwrap().unwrap();
        assert_eq!((d.src, d.dst, d.src_port), (src, ALL_SERVERS, CLIENT_PORT));
        let back = Message::decode(d.payload).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.requested().unwrap(), vec![code::DNS_SERVERS]);
        let ia = Ia::decode(back.option(code::IA_PD).unwrap()).unwrap();
        assert_eq!(ia.iaid, 7);
        // A flipped bit breaks the checksum.
        let mut bad = p.clone();
        let n = bad.len() - 1;
        bad[n] ^= 1;
        assert_eq!(server_datagram(&bad), Err(DecodeError::BadChecksum));
        // Not to the server port: not ours.
        let other = udp_packet(src, ALL_SERVERS, CLIENT_PORT, 53, &bytes);
        assert_eq!(server_datagram(&other), Ok(None));
    }

    #[test]
    fn an_ia_prefix_round_trips_and_bad_options_are_errors() {
        let p = IaPrefix {
            preferred: 3600,
            valid: 7200,
            len: 56,
            prefix: "2001:db8:100::".parse().unwrap(),
        };
        assert_eq!(IaPrefix::decode(&p.to_option()), Ok(p));
        let short = DhcpOption::new(code::IAPREFIX, vec![0; 24]);
        assert!(matches!(
            IaPrefix::decode(&short),
            Err(DecodeError::BadOption { .. })
        ));
        assert_eq!(
            Message::decode(&[1, 0, 0, 0, 0, 1, 0, 9, 1]),
            Err(DecodeError::OptionOverrun { code: 1 })
        );
        assert_eq!(
            Message::decode(&[1, 0, 0]),
            Err(DecodeError::Truncated("message header"))
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(m) = Message::decode(&bytes) {
                prop_assert_eq!(Message::decode(&m.encode()), Ok(m.clone()));
                let _ = m.requested();
                for o in &m.options {
                    let _ = Ia::decode(o);
                    let _ = IaPrefix::decode(o);
                }
            }
            let mut p = udp_packet(
                "fe80::1".parse().unwrap(), ALL_SERVERS, CLIENT_PORT, SERVER_PORT, &bytes);
            let _ = server_datagram(&p);
            // Damaged headers: lengths that lie.
            for (i, b) in bytes.iter().take(48).enumerate() {
                p[i] = *b;
                let _ = server_datagram(&p);
            }
        }
    }

    #[test]
    fn dhcpv6_to_a_server_beyond_the_link_is_not_ours() {
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let bytes = [1, 0, 0, 1];
        for (dst, ours) in [
            (ALL_SERVERS, true),
            ("fe80::1".parse().unwrap(), true),
            ("2001:db8::547".parse().unwrap(), false),
        ] {
            let p = udp_packet(src, dst, CLIENT_PORT, SERVER_PORT, &bytes);
            assert_eq!(server_datagram(&p).unwrap().is_some(), ours, "to {dst}");
        }
    }
}
