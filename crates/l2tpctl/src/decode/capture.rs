//! Capture files to UDP payloads: pcap and pcapng (via `pcap-file`), link layers Ethernet
//! (with VLAN tags), Linux cooked SLL and SLL2, raw IP and BSD loopback, IPv4 and IPv6, UDP.
//! Packets that are not UDP to or from one of the L2TP ports are skipped; IP fragments
//! are skipped too (no reassembly).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// One L2TP datagram (UDP payload) and where it came from.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// 1-based frame number in the capture (line number for hex input).
    pub frame: usize,
    /// Seconds since the first frame of the capture.
    pub time: Option<Duration>,
    /// UDP source.
    pub src: Option<SocketAddr>,
    /// UDP destination.
    pub dst: Option<SocketAddr>,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LOOP: u32 = 108;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Extracts the L2TP datagrams of a pcap or pcapng capture held in `bytes`.
pub fn l2tp_datagrams(bytes: &[u8], ports: &BTreeSet<u16>) -> Result<Vec<Datagram>, String> {
    let frames = frames(bytes)?;
    let start = frames.first().map(|f| f.0).unwrap_or_default();
    let mut out = Vec::new();
    for (i, (ts, linktype, data)) in frames.into_iter().enumerate() {
        let Some((src, dst, payload)) = udp_of_frame(linktype, &data) else {
            continue;
        };
        if !ports.contains(&src.port()) && !ports.contains(&dst.port()) {
            continue;
        }
        out.push(Datagram {
            frame: i + 1,
            time: Some(ts.saturating_sub(start)),
            src: Some(src),
            dst: Some(dst),
            payload: payload.to_vec(),
        });
    }
    Ok(out)
}

type Frame = (Duration, u32, Vec<u8>);

fn frames(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    match bytes.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => pcapng_frames(bytes),
        Some(m)
            if [0xa1b2_c3d4u32, 0xa1b2_3c4d]
                .iter()
                .any(|magic| m == magic.to_be_bytes() || m == magic.to_le_bytes()) =>
        {
            pcap_frames(bytes)
        }
        _ => Err("not a pcap or pcapng capture".into()),
    }
}

fn pcap_frames(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut r = PcapReader::new(bytes).map_err(|e| e.to_string())?;
    let linktype = u32::from(r.header().datalink);
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => out.push((p.timestamp, linktype, p.data.into_owned())),
            Err(e) => {
                eprintln!(
                    "l2tpctl decode: capture truncated after {} frames: {e}",
                    out.len()
                );
                break;
            }
        }
    }
    Ok(out)
}

fn pcapng_frames(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut r = PcapNgReader::new(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(b) = r.next_block() {
        let block = match b {
            Ok(b) => b.into_owned(),
            Err(e) => {
                eprintln!(
                    "l2tpctl decode: capture truncated after {} frames: {e}",
                    out.len()
                );
                break;
            }
        };
        let linktype_of = |id: u32| {
            r.interfaces()
                .get(id as usize)
                .map(|i| u32::from(i.linktype))
        };
        match block {
            Block::EnhancedPacket(p) => {
                if let Some(lt) = linktype_of(p.interface_id) {
                    out.push((p.timestamp, lt, p.data.into_owned()));
                }
            }
            Block::SimplePacket(p) => {
                if let Some(lt) = linktype_of(0) {
                    out.push((Duration::ZERO, lt, p.data.into_owned()));
                }
            }
            Block::Packet(p) => {
                if let Some(lt) = linktype_of(u32::from(p.interface_id)) {
                    out.push((Duration::from_micros(p.timestamp), lt, p.data.into_owned()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The UDP datagram inside a link-layer frame, if any.
fn udp_of_frame(linktype: u32, f: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let ip = match linktype {
        LINKTYPE_ETHERNET => {
            let mut ethertype = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
            let mut pos = 14;
            // 802.1Q / 802.1ad tags (at most two).
            for _ in 0..2 {
                if ethertype != 0x8100 && ethertype != 0x88a8 {
                    break;
                }
                ethertype = u16::from_be_bytes([*f.get(pos + 2)?, *f.get(pos + 3)?]);
                pos += 4;
            }
            match ethertype {
                0x0800 | 0x86dd => f.get(pos..)?,
                _ => return None,
            }
        }
        LINKTYPE_LINUX_SLL => f.get(16..)?,
        LINKTYPE_LINUX_SLL2 => f.get(20..)?,
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => f,
        LINKTYPE_NULL | LINKTYPE_LOOP => f.get(4..)?,
        _ => return None,
    };
    match ip.first()? >> 4 {
        4 => udp_of_ipv4(ip),
        6 => udp_of_ipv6(ip),
        _ => None,
    }
}

fn udp_of_ipv4(ip: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    if ihl < 20 || *ip.get(9)? != 17 || frag & 0x3fff != 0 {
        return None; // not UDP, or a fragment
    }
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?);
    let end = total.min(ip.len());
    udp(IpAddr::V4(src), IpAddr::V4(dst), ip.get(ihl..end)?)
}

fn udp_of_ipv6(ip: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?);
    let end = (40 + payload_len).min(ip.len());
    let mut next = *ip.get(6)?;
    let mut pos = 40;
    // Skip hop-by-hop (0), routing (43) and destination options (60); give up on fragments.
    for _ in 0..8 {
        match next {
            17 => return udp(IpAddr::V6(src), IpAddr::V6(dst), ip.get(pos..end)?),
            0 | 43 | 60 => {
                next = *ip.get(pos)?;
                pos += (usize::from(*ip.get(pos + 1)?) + 1) * 8;
            }
            _ => return None,
        }
    }
    None
}

fn udp(src: IpAddr, dst: IpAddr, u: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let sport = u16::from_be_bytes([*u.first()?, *u.get(1)?]);
    let dport = u16::from_be_bytes([*u.get(2)?, *u.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*u.get(4)?, *u.get(5)?]));
    // UDP length 0 is used with IPv6 jumbograms; otherwise bound the payload by it.
    let end = if len >= 8 { len.min(u.len()) } else { u.len() };
    Some((
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        u.get(8..end)?,
    ))
}
