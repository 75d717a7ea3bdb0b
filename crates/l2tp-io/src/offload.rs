//! TUN offloads in software: the `virtio_net_hdr` a TUN opened with `IFF_VNET_HDR` puts in
//! front of every packet, checksum completion, and TCP segmentation.
//!
//! With [`TUN_OFFLOADS`] set on a TUN ([`crate::tun::Tun::set_offload`]), the kernel stops
//! segmenting TCP and computing checksums for packets routed into the TUN: one read returns a
//! TCP "super-packet" of up to 64 KiB (one IP and TCP header, then many MSS-sized payloads,
//! `gso_size` in the header) whose TCP checksum holds only the pseudo-header sum
//! (`NEEDS_CSUM`). A [`Segmenter`] turns that back into the wire packets the stack would
//! have sent: IPv4 total length, identification (+1 per segment) and header checksum, IPv6
//! payload length, TCP sequence number, flags (FIN and PSH on the last segment only, CWR on
//! the first only) and a complete TCP checksum per segment. A packet without GSO but with a
//! partial checksum (a small TCP segment, UDP) gets its checksum completed in place.
//!
//! Packets written to such a TUN carry a header too; [`crate::tun::Tun::send`] writes an
//! all-zero one (no GSO, checksum complete) in front of each packet.
//!
//! The header is the legacy `virtio_net_hdr` in host byte order (the TUN default without
//! `TUNSETVNETLE`), [`crate::tun::VNET_HDR_LEN`] bytes.
//!
//! ```
//! use l2tp_io::offload::{Segmenter, VnetHdr, GSO_TCPV4, F_NEEDS_CSUM};
//! // An IPv4/TCP packet with 3000 bytes of payload and gso_size 1000.
//! let mut pkt = vec![0u8; 40 + 3000];
//! pkt[0] = 0x45;
//! pkt[2..4].copy_from_slice(&3040u16.to_be_bytes());
//! pkt[8] = 64;
//! pkt[9] = 6;
//! pkt[12..16].copy_from_slice(&[192, 0, 2, 1]);
//! pkt[16..20].copy_from_slice(&[192, 0, 2, 2]);
//! pkt[32] = 5 << 4; // TCP data offset: 20 bytes
//! let hdr = VnetHdr { flags: F_NEEDS_CSUM, gso_type: GSO_TCPV4, hdr_len: 40, gso_size: 1000,
//!                     csum_start: 20, csum_offset: 16 };
//! let mut seg = Segmenter::new();
//! seg.load_packet(&hdr, &pkt).unwrap();
//! let mut lens = Vec::new();
//! while let Some(p) = seg.next_segment() {
//!     lens.push(p.len());
//! }
//! assert_eq!(lens, [1040, 1040, 1040]);
//! ```

use std::fmt;
use std::io;

use crate::tun::{Tun, VNET_HDR_LEN};

/// Offloads the daemon asks of its TUNs: partial checksums and TCP segmentation, IPv4 and
/// IPv6 ([`crate::tun::offload`] bits).
pub const TUN_OFFLOADS: u32 =
    crate::tun::offload::CSUM | crate::tun::offload::TSO4 | crate::tun::offload::TSO6;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds only the
/// pseudo-header sum; the rest is to be summed from `csum_start` to the end.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP` (UFO, not produced by current kernels).
pub const GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN` flag bit of `gso_type`.
pub const GSO_ECN: u8 = 0x80;

/// Largest packet a TUN read returns with offloads on (64 KiB IP packet).
pub const MAX_SUPER_PACKET: usize = 65_535;

/// The legacy `struct virtio_net_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// `F_NEEDS_CSUM` and friends.
    pub flags: u8,
    /// `GSO_*`.
    pub gso_type: u8,
    /// Length of the headers (a hint; not trusted here).
    pub hdr_len: u16,
    /// Payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// Where checksumming starts (the L4 header).
    pub csum_start: u16,
    /// Where, from `csum_start`, the checksum is stored.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Parses the first [`VNET_HDR_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        if b.len() < VNET_HDR_LEN {
            return None;
        }
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}

/// Why a packet read from an offloading TUN cannot be forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadError {
    /// Shorter than its headers, or offsets pointing outside the packet.
    Malformed,
    /// A GSO type we did not enable (UDP, ECN).
    UnsupportedGso(u8),
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffloadError::Malformed => write!(f, "malformed offloaded packet"),
            OffloadError::UnsupportedGso(t) => write!(f, "unsupported GSO type {t:#x}"),
        }
    }
}

impl std::error::Error for OffloadError {}

/// Reads packets from an offloading TUN and hands them out as wire-ready IP packets.
///
/// One buffer, reused: [`Segmenter::read`] (or [`Segmenter::load_packet`]), then
/// [`Segmenter::next_segment`] until `None`. No allocation per packet.
pub struct Segmenter {
    /// Virtio header followed by the packet.
    buf: Vec<u8>,
    /// Packet length (after the header).
    len: usize,
    /// Segment under construction.
    out: Vec<u8>,
    plan: Plan,
}

#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Nothing (left) to hand out.
    Empty,
    /// The packet as it is (checksum complete).
    Whole,
    /// TCP segmentation: headers `0..hdrs_end` (L4 at `l4`), payload from `next` in `mss`
    /// pieces; `index` segments done.
    Tcp {
        v4: bool,
        l4: usize,
        hdrs_end: usize,
        mss: usize,
        next: usize,
        index: u16,
    },
}

impl fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segmenter")
            .field("len", &self.len)
            .field("plan", &self.plan)
            .finish()
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Segmenter::new()
    }
}

impl Segmenter {
    /// A segmenter with room for the largest super-packet.
    pub fn new() -> Segmenter {
        Segmenter {
            buf: vec![0; VNET_HDR_LEN + MAX_SUPER_PACKET],
            len: 0,
            out: Vec::with_capacity(MAX_SUPER_PACKET),
            plan: Plan::Empty,
        }
    }

    /// Reads one packet (header included) from `tun`, opened with `vnet_hdr`. `WouldBlock`
    /// when none is queued; `InvalidData` (the packet dropped) when it cannot be forwarded.
    /// Returns the packet's length (before segmentation).
    pub fn read(&mut self, tun: &Tun) -> io::Result<usize> {
        self.plan = Plan::Empty;
        let n = tun.recv(&mut self.buf)?;
        let len = n.saturating_sub(VNET_HDR_LEN);
        self.load(len)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(len)
    }

    /// Copies `packet` in with header `hdr` (tests, and packets from elsewhere).
    pub fn load_packet(&mut self, hdr: &VnetHdr, packet: &[u8]) -> Result<(), OffloadError> {
        self.plan = Plan::Empty;
        if packet.len() > MAX_SUPER_PACKET {
            return Err(OffloadError::Malformed);
        }
        self.buf[..VNET_HDR_LEN].copy_from_slice(&hdr.encode());
        self.buf[VNET_HDR_LEN..VNET_HDR_LEN + packet.len()].copy_from_slice(packet);
        self.load(packet.len())
    }

    /// The packet as read (after the virtio header, before segmentation): its IP header
    /// routes every segment.
    pub fn packet(&self) -> &[u8] {
        &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + self.len]
    }

    /// Sets up the hand-out of the packet of `len` bytes in the buffer.
    fn load(&mut self, len: usize) -> Result<(), OffloadError> {
        self.len = len;
        self.plan = Plan::Empty;
        let hdr = VnetHdr::parse(&self.buf).ok_or(OffloadError::Malformed)?;
        let (head, pkt) = self.buf.split_at_mut(VNET_HDR_LEN);
        let _ = head;
        let pkt = &mut pkt[..len];
        match hdr.gso_type {
            GSO_NONE => {
                if hdr.flags & F_NEEDS_CSUM != 0 {
                    complete_checksum(pkt, hdr.csum_start.into(), hdr.csum_offset.into())?;
                }
                self.plan = Plan::Whole;
            }
            GSO_TCPV4 | GSO_TCPV6 => {
                let v4 = hdr.gso_type == GSO_TCPV4;
                let version = pkt.first().map(|b| b >> 4);
                if version != Some(if v4 { 4 } else { 6 }) {
                    return Err(OffloadError::Malformed);
                }
                let l4 = if hdr.flags & F_NEEDS_CSUM != 0 {
                    usize::from(hdr.csum_start)
                } else if v4 {
                    usize::from(pkt[0] & 0x0f) * 4
                } else {
                    40
                };
                let min_l3 = if v4 { 20 } else { 40 };
                if l4 < min_l3 || l4 + 20 > len {
                    return Err(OffloadError::Malformed);
                }
                if v4 && l4 != usize::from(pkt[0] & 0x0f) * 4 {
                    return Err(OffloadError::Malformed);
                }
                let th = usize::from(pkt[l4 + 12] >> 4) * 4;
                let hdrs_end = l4 + th;
                let mss = usize::from(hdr.gso_size);
                if th < 20 || hdrs_end > len || mss == 0 {
                    return Err(OffloadError::Malformed);
                }
                self.plan = Plan::Tcp {
                    v4,
                    l4,
                    hdrs_end,
                    mss,
                    next: hdrs_end,
                    index: 0,
                };
            }
            t => return Err(OffloadError::UnsupportedGso(t)),
        }
        Ok(())
    }

    /// True when the packet loaded is a TCP super-packet being cut into segments (all of
    /// one size but the last: a sender may let them share one UDP GSO send).
    pub fn is_segmenting(&self) -> bool {
        matches!(self.plan, Plan::Tcp { .. })
    }

    /// The next wire packet of the one loaded, `None` when all were handed out.
    pub fn next_segment(&mut self) -> Option<&[u8]> {
        match self.plan {
            Plan::Empty => None,
            Plan::Whole => {
                self.plan = Plan::Empty;
                Some(self.packet())
            }
            Plan::Tcp {
                v4,
                l4,
                hdrs_end,
                mss,
                next,
                index,
            } => {
                let total = self.len;
                let pay_len = mss.min(total - next);
                let first = index == 0;
                let last = next + pay_len >= total;
                self.plan = if last {
                    Plan::Empty
                } else {
                    Plan::Tcp {
                        v4,
                        l4,
                        hdrs_end,
                        mss,
                        next: next + pay_len,
                        index: index.wrapping_add(1),
                    }
                };
                let pkt = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + total];
                let out = &mut self.out;
                out.clear();
                out.extend_from_slice(&pkt[..hdrs_end]);
                out.extend_from_slice(&pkt[next..next + pay_len]);
                let seg_len = out.len();
                if v4 {
                    out[2..4].copy_from_slice(&(seg_len as u16).to_be_bytes());
                    let id = u16::from_be_bytes([out[4], out[5]]).wrapping_add(index);
                    out[4..6].copy_from_slice(&id.to_be_bytes());
                    out[10..12].copy_from_slice(&[0, 0]);
                    let c = !fold(sum(&out[..l4], 0));
                    out[10..12].copy_from_slice(&c.to_be_bytes());
                } else {
                    out[4..6].copy_from_slice(&((seg_len - 40) as u16).to_be_bytes());
                }
                let t = &mut out[l4..];
                let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]])
                    .wrapping_add((next - hdrs_end) as u32);
                t[4..8].copy_from_slice(&seq.to_be_bytes());
                if !last {
                    t[13] &= !(TCP_FIN | TCP_PSH);
                }
                if !first {
                    t[13] &= !TCP_CWR;
                }
                t[16..18].copy_from_slice(&[0, 0]);
                let tcp_len = seg_len - l4;
                let pseudo = if v4 {
                    sum(&out[12..20], 6 + tcp_len as u64)
                } else {
                    sum(&out[8..40], 6 + tcp_len as u64)
                };
                let c = !fold(sum(&out[l4..], pseudo));
                out[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
                Some(&self.out[..])
            }
        }
    }
}

/// Coalesces consecutive in-order TCP segments of one flow into one GSO write (what GRO
/// does in the kernel): the receive side's counterpart of [`Segmenter`]. A TUN opened with
/// `IFF_VNET_HDR` accepts the result as one packet plus a `virtio_net_hdr` asking the kernel
/// to treat it as `gso_size`-sized segments: one `write` instead of one per segment.
///
/// Rules (those of Linux's `tcp_gro_receive`, simplified): IPv4 without options or IPv6
/// without extension headers, not fragmented; TCP with payload, flags ACK (PSH allowed, and
/// it ends the run), every other flag clear; same addresses, ports, TOS/TTL (traffic class,
/// flow label, hop limit), ACK number, window and TCP options; sequence numbers contiguous;
/// every segment of the run the size of the first except the last, which may be shorter and
/// ends the run. A segment whose TCP checksum does not verify is never coalesced (written as
/// it came, for the kernel to drop and count). At most [`MAX_SUPER_PACKET`] bytes.
///
/// Use: [`Coalescer::push`] each packet; `false` means "not taken: write what
/// [`Coalescer::take`] returns first, then push again (or write this packet as it is)".
pub struct Coalescer {
    buf: Vec<u8>,
    len: usize,
    run: Option<Run>,
    hdr: [u8; VNET_HDR_LEN],
}

#[derive(Debug, Clone, Copy)]
struct Run {
    v4: bool,
    l4: usize,
    hdrs_end: usize,
    mss: usize,
    segments: usize,
    next_seq: u32,
    /// The run cannot grow (PSH, or a short segment).
    closed: bool,
}

impl fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalescer")
            .field("len", &self.len)
            .field("run", &self.run)
            .finish()
    }
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer::new()
    }
}

const TCP_ACK: u8 = 0x10;

/// A TCP packet's layout, if it may take part in a run: (v4, l4, hdrs_end, flags).
fn tcp_candidate(p: &[u8]) -> Option<(bool, usize, usize, u8)> {
    let v = p.first()? >> 4;
    let (v4, l4) = match v {
        4 => {
            if p.len() < 40 || p[0] & 0x0f != 5 || p[9] != 6 {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let frag = u16::from_be_bytes([p[6], p[7]]);
            if total != p.len() || frag & 0x3fff != 0 {
                return None;
            }
            (true, 20)
        }
        6 => {
            if p.len() < 60 || p[6] != 6 {
                return None;
            }
            let pay = usize::from(u16::from_be_bytes([p[4], p[5]]));
            if pay + 40 != p.len() {
                return None;
            }
            (false, 40)
        }
        _ => return None,
    };
    let th = usize::from(p[l4 + 12] >> 4) * 4;
    let hdrs_end = l4 + th;
    let flags = p[l4 + 13];
    if th < 20 || hdrs_end >= p.len() || flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    Some((v4, l4, hdrs_end, flags))
}

fn tcp_checksum_verifies(p: &[u8], v4: bool, l4: usize) -> bool {
    let tcp_len = (p.len() - l4) as u64;
    let pseudo = if v4 {
        sum(&p[12..20], 6 + tcp_len)
    } else {
        sum(&p[8..40], 6 + tcp_len)
    };
    fold(sum(&p[l4..], pseudo)) == 0xffff
}

impl Coalescer {
    /// An empty coalescer with room for the largest super-packet.
    pub fn new() -> Coalescer {
        Coalescer {
            buf: vec![0; MAX_SUPER_PACKET],
            len: 0,
            run: None,
            hdr: [0; VNET_HDR_LEN],
        }
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.run.is_none()
    }

    /// Segments held.
    pub fn segments(&self) -> usize {
        self.run.map_or(0, |r| r.segments)
    }

    /// Offers `packet`: `true` when held (started a run or joined the current one); `false`
    /// when it cannot join (take the run first) or can never be coalesced (write it as is).
    pub fn push(&mut self, packet: &[u8]) -> bool {
        let Some((v4, l4, hdrs_end, flags)) = tcp_candidate(packet) else {
            return false;
        };
        let pay = packet.len() - hdrs_end;
        let seq = u32::from_be_bytes([
            packet[l4 + 4],
            packet[l4 + 5],
            packet[l4 + 6],
            packet[l4 + 7],
        ]);
        match self.run {
            None => {
                if !tcp_checksum_verifies(packet, v4, l4) {
                    return false;
                }
                self.buf[..packet.len()].copy_from_slice(packet);
                self.len = packet.len();
                self.run = Some(Run {
                    v4,
                    l4,
                    hdrs_end,
                    mss: pay,
                    segments: 1,
                    next_seq: seq.wrapping_add(pay as u32),
                    closed: flags & TCP_PSH != 0,
                });
                true
            }
            Some(mut run) => {
                let held = &self.buf[..self.len];
                let same_flow = !run.closed
                    && v4 == run.v4
                    && hdrs_end == run.hdrs_end
                    && pay <= run.mss
                    && seq == run.next_seq
                    && self.len + pay <= MAX_SUPER_PACKET
                    && if v4 {
                        // TOS, TTL, protocol, addresses (not length, id, checksum).
                        held[1] == packet[1]
                            && held[6] & 0x40 == packet[6] & 0x40
                            && held[8..10] == packet[8..10]
                            && held[12..20] == packet[12..20]
                    } else {
                        // Version, traffic class, flow label; next header, hop limit, addresses.
                        held[..4] == packet[..4] && held[6..40] == packet[6..40]
                    }
                    // Ports, ACK number, data offset; window; options. (Not seq, flags, csum.)
                    && held[l4..l4 + 4] == packet[l4..l4 + 4]
                    && held[l4 + 8..l4 + 13] == packet[l4 + 8..l4 + 13]
                    && held[l4 + 14..l4 + 16] == packet[l4 + 14..l4 + 16]
                    && held[l4 + 20..hdrs_end] == packet[l4 + 20..hdrs_end];
                if !same_flow || !tcp_checksum_verifies(packet, v4, l4) {
                    return false;
                }
                self.buf[self.len..self.len + pay].copy_from_slice(&packet[hdrs_end..]);
                self.len += pay;
                // PSH travels to the super-packet; it and a short segment end the run.
                self.buf[l4 + 13] |= flags & TCP_PSH;
                run.segments += 1;
                run.next_seq = seq.wrapping_add(pay as u32);
                run.closed = flags & TCP_PSH != 0 || pay < run.mss;
                self.run = Some(run);
                true
            }
        }
    }

    /// The held run as one write: the `virtio_net_hdr` and the packet. A single segment comes
    /// back as it was pushed with an all-zero header; several as one super-packet (IP length
    /// and header checksum rewritten, TCP checksum left partial for the kernel, GSO header).
    /// `None` when nothing is held. The coalescer is empty afterwards.
    pub fn take(&mut self) -> Option<(&[u8; VNET_HDR_LEN], &[u8])> {
        let run = self.run.take()?;
        let len = self.len;
        self.len = 0;
        self.hdr = [0; VNET_HDR_LEN];
        if run.segments > 1 {
            let p = &mut self.buf[..len];
            let l4 = run.l4;
            let tcp_len = len - l4;
            let pseudo = if run.v4 {
                p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                p[10..12].copy_from_slice(&[0, 0]);
                let c = !fold(sum(&p[..20], 0));
                p[10..12].copy_from_slice(&c.to_be_bytes());
                sum(&p[12..20], 6 + tcp_len as u64)
            } else {
                p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
                sum(&p[8..40], 6 + tcp_len as u64)
            };
            // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not complemented.
            p[l4 + 16..l4 + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
            self.hdr = VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: if run.v4 { GSO_TCPV4 } else { GSO_TCPV6 },
                hdr_len: run.hdrs_end as u16,
                gso_size: run.mss as u16,
                csum_start: l4 as u16,
                csum_offset: 16,
            }
            .encode();
        }
        Some((&self.hdr, &self.buf[..len]))
    }
}

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Completes a partial checksum (`NEEDS_CSUM` without GSO): the field already holds the
/// pseudo-header sum, so the sum from `start` to the end, complemented, is the checksum.
fn complete_checksum(pkt: &mut [u8], start: usize, offset: usize) -> Result<(), OffloadError> {
    let at = start + offset;
    if at + 2 > pkt.len() {
        return Err(OffloadError::Malformed);
    }
    let mut c = !fold(sum(&pkt[start..], 0));
    // UDP (checksum at offset 6): a computed 0 is sent as 0xffff (RFC 768).
    if c == 0 && offset == 6 {
        c = 0xffff;
    }
    pkt[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// One's complement sum of `data` (big-endian 16-bit words, odd byte padded) plus `initial`,
/// not folded.
///
/// Summed as native-endian 32-bit words into a 64-bit accumulator (a loop the compiler
/// vectorises), folded, then byte-swapped into network order: the one's complement sum does
/// not depend on byte order beyond that swap (RFC 1071 §2(B)).
pub fn sum(data: &[u8], initial: u64) -> u64 {
    let mut chunks = data.chunks_exact(4);
    let mut acc: u64 = (&mut chunks)
        .map(|c| u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
        .sum();
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        acc += u64::from(u16::from_ne_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        acc += u64::from(u16::from_ne_bytes([rest[i], 0]));
    }
    initial + u64::from(u16::from_be(fold(acc)))
}

/// Folds a [`sum`] to 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 reference: 16-bit words, end-around carry.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            s += u32::from(w);
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    fn tcp4_super(payload: usize, flags: u8, options: usize) -> Vec<u8> {
        let th = 20 + options;
        let mut p = vec![0u8; 20 + th + payload];
        let total = p.len() as u16;
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[4..6].copy_from_slice(&0xfffeu16.to_be_bytes()); // id wraps during the run
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[198, 51, 100, 7]);
        p[16..20].copy_from_slice(&[203, 0, 113, 9]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&5201u16.to_be_bytes());
        t[4..8].copy_from_slice(&0xffff_f000u32.to_be_bytes()); // seq wraps too
        t[8..12].copy_from_slice(&77u32.to_be_bytes());
        t[12] = ((th / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&512u16.to_be_bytes());
        for (i, b) in t[20..th].iter_mut().enumerate() {
            *b = if i % 4 == 0 { 1 } else { i as u8 }; // NOPs and junk: copied as they are
        }
        for (i, b) in t[th..].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        // As the kernel hands it over: TCP checksum field = pseudo-header sum (not inverted).
        let pseudo = fold(sum(&p[12..20], 6 + (th + payload) as u64));
        p[20 + 16..20 + 18].copy_from_slice(&pseudo.to_be_bytes());
        p
    }

    fn tcp6_super(payload: usize, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40 + 20 + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((20 + payload) as u16).to_be_bytes());
        p[6] = 6;
        p[7] = 64;
        p[8] = 0x20;
        p[9] = 0x01;
        p[23] = 1;
        p[24] = 0x20;
        p[25] = 0x01;
        p[39] = 2;
        let t = &mut p[40..];
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        for (i, b) in t[20..].iter_mut().enumerate() {
            *b = (i * 13) as u8;
        }
        let pseudo = fold(sum(&p[8..40], 6 + (20 + payload) as u64));
        p[40 + 16..40 + 18].copy_from_slice(&pseudo.to_be_bytes());
        p
    }

    fn segments(seg: &mut Segmenter) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(p) = seg.next_segment() {
            v.push(p.to_vec());
        }
        v
    }

    /// A TCP segment's checksum verifies (sum over pseudo-header and segment is 0xffff).
    fn tcp_checksum_ok(p: &[u8], v4: bool) -> bool {
        let (l4, pseudo) = if v4 {
            let ihl = usize::from(p[0] & 15) * 4;
            (ihl, sum(&p[12..20], 6 + (p.len() - ihl) as u64))
        } else {
            (40, sum(&p[8..40], 6 + (p.len() - 40) as u64))
        };
        fold(sum(&p[l4..], pseudo)) == 0xffff
    }

    #[test]
    fn checksum_matches_rfc1071_reference_for_all_lengths() {
        let data: Vec<u8> = (0..301u32).map(|i| (i * 31 + 7) as u8).collect();
        for n in 0..data.len() {
            assert_eq!(
                !fold(sum(&data[..n], 0)),
                reference_checksum(&data[..n]),
                "{n}"
            );
        }
    }

    #[test]
    fn checksum_matches_reference_on_carry_heavy_and_long_data() {
        // All-0xff runs (every addition carries), then pseudo-random bytes, up to 64 KiB, at
        // odd offsets too; with an initial (pseudo-header) sum.
        let mut x: u32 = 0x1234_5678;
        let data: Vec<u8> = (0..65_600)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i < 3000 {
                    0xff
                } else {
                    x as u8
                }
            })
            .collect();
        for (start, len) in [
            (0, 3000),
            (1, 2999),
            (0, 65_535),
            (3, 40_001),
            (7, 1),
            (2, 0),
        ] {
            let d = &data[start..start + len];
            assert_eq!(!fold(sum(d, 0)), reference_checksum(d), "{start}+{len}");
            let mut with_pseudo = vec![0x12, 0x34, 0x00, 0x06];
            with_pseudo.extend_from_slice(d);
            if with_pseudo.len() % 2 == 1 {
                with_pseudo.push(0);
            }
            assert_eq!(
                !fold(sum(d, 0x1234 + 6)),
                reference_checksum(&with_pseudo),
                "{start}+{len} with an initial sum"
            );
        }
    }

    #[test]
    fn vnet_header_round_trips() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            hdr_len: 74,
            gso_size: 1388,
            csum_start: 54,
            csum_offset: 16,
        };
        assert_eq!(VnetHdr::parse(&h.encode()), Some(h));
        assert_eq!(VnetHdr::parse(&[0; 9]), None);
    }

    #[test]
    fn tcp4_super_packet_is_cut_into_valid_segments() {
        let mss = 1000;
        let options = 12; // timestamps-sized options
        let payload = 3 * mss + 345;
        let sup = tcp4_super(payload, TCP_FIN | TCP_PSH | TCP_CWR | 0x10, options);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 52,
            gso_size: mss as u16,
            csum_start: 20,
            csum_offset: 16,
        };
        let mut seg = Segmenter::new();
        seg.load_packet(&hdr, &sup).unwrap();
        assert!(seg.is_segmenting());
        let segs = segments(&mut seg);
        assert!(!seg.is_segmenting());
        assert_eq!(segs.len(), 4);
        let hl = 20 + 20 + options;
        let mut data = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let pay = if i < 3 { mss } else { 345 };
            assert_eq!(s.len(), hl + pay, "segment {i} length");
            assert_eq!(usize::from(u16::from_be_bytes([s[2], s[3]])), s.len());
            let id = u16::from_be_bytes([s[4], s[5]]);
            assert_eq!(
                id,
                0xfffeu16.wrapping_add(i as u16),
                "IPv4 id +1 per segment"
            );
            assert_eq!(reference_checksum(&s[..20]), 0, "IPv4 header checksum");
            assert!(tcp_checksum_ok(s, true), "TCP checksum of segment {i}");
            let seq = u32::from_be_bytes([s[24], s[25], s[26], s[27]]);
            assert_eq!(seq, 0xffff_f000u32.wrapping_add((i * mss) as u32));
            let flags = s[33];
            assert_eq!(flags & 0x10, 0x10, "ACK kept");
            assert_eq!(flags & TCP_CWR != 0, i == 0, "CWR on the first only");
            assert_eq!(
                flags & (TCP_FIN | TCP_PSH) != 0,
                i == 3,
                "FIN/PSH on the last only"
            );
            assert_eq!(&s[40..hl], &sup[40..hl], "options copied");
            data.extend_from_slice(&s[hl..]);
        }
        assert_eq!(&data[..], &sup[hl..], "payload in order, nothing lost");
    }

    #[test]
    fn tcp6_super_packet_is_cut_into_valid_segments() {
        let mss = 1200;
        let sup = tcp6_super(2 * mss, TCP_PSH | 0x10);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            hdr_len: 60,
            gso_size: mss as u16,
            csum_start: 40,
            csum_offset: 16,
        };
        let mut seg = Segmenter::new();
        seg.load_packet(&hdr, &sup).unwrap();
        let segs = segments(&mut seg);
        assert_eq!(segs.len(), 2);
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(s.len(), 60 + mss);
            assert_eq!(usize::from(u16::from_be_bytes([s[4], s[5]])), 20 + mss);
            assert!(tcp_checksum_ok(s, false), "segment {i}");
            let seq = u32::from_be_bytes([s[44], s[45], s[46], s[47]]);
            assert_eq!(seq, 1000 + (i * mss) as u32);
            assert_eq!(s[53] & TCP_PSH != 0, i == 1);
        }
    }

    #[test]
    fn super_packet_with_one_segment_of_payload_passes_whole() {
        let sup = tcp4_super(500, TCP_PSH | 0x10, 0);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            gso_size: 1000,
            csum_start: 20,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        let mut seg = Segmenter::new();
        seg.load_packet(&hdr, &sup).unwrap();
        let segs = segments(&mut seg);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].len(), sup.len());
        assert!(tcp_checksum_ok(&segs[0], true));
        assert_eq!(segs[0][33] & TCP_PSH, TCP_PSH);
    }

    #[test]
    fn partial_checksum_is_completed_in_place() {
        // A pure ACK (no payload) with NEEDS_CSUM and no GSO, as the kernel sends them.
        let p = tcp4_super(0, 0x10, 0);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        let mut seg = Segmenter::new();
        seg.load_packet(&hdr, &p).unwrap();
        let segs = segments(&mut seg);
        assert_eq!(segs.len(), 1);
        assert!(tcp_checksum_ok(&segs[0], true));
        // Odd-length UDP payload; checksum completed over it.
        let mut u = vec![0u8; 20 + 8 + 5];
        u[0] = 0x45;
        u[9] = 17;
        u[12..16].copy_from_slice(&[192, 0, 2, 1]);
        u[16..20].copy_from_slice(&[192, 0, 2, 2]);
        u[24..26].copy_from_slice(&13u16.to_be_bytes());
        u[28..].copy_from_slice(b"hello");
        let pseudo = fold(sum(&u[12..20], 17 + 13));
        u[26..28].copy_from_slice(&pseudo.to_be_bytes());
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: 6,
            ..VnetHdr::default()
        };
        seg.load_packet(&hdr, &u).unwrap();
        let out = seg.next_segment().unwrap().to_vec();
        let check = fold(sum(&out[20..], sum(&out[12..20], 17 + 13)));
        assert_eq!(check, 0xffff, "UDP checksum verifies");
        assert!(seg.next_segment().is_none());
    }

    #[test]
    fn plain_packets_pass_untouched_and_bad_ones_are_refused() {
        let p = tcp4_super(100, 0x10, 0);
        let mut seg = Segmenter::new();
        seg.load_packet(&VnetHdr::default(), &p).unwrap();
        assert!(!seg.is_segmenting());
        assert_eq!(seg.next_segment().unwrap(), &p[..]);
        assert!(seg.next_segment().is_none());

        let gso = |t: u8, start: u16| VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: t,
            gso_size: 100,
            csum_start: start,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        assert_eq!(
            seg.load_packet(&gso(5, 20), &p),
            Err(OffloadError::UnsupportedGso(5))
        );
        assert!(
            seg.next_segment().is_none(),
            "nothing handed out after an error"
        );
        assert_eq!(
            seg.load_packet(&gso(GSO_TCPV6, 40), &p),
            Err(OffloadError::Malformed),
            "IPv4 packet under a TCPv6 header"
        );
        assert_eq!(
            seg.load_packet(&gso(GSO_TCPV4, 24), &p),
            Err(OffloadError::Malformed),
            "csum_start is not the IPv4 header length"
        );
        assert_eq!(
            seg.load_packet(&gso(GSO_TCPV4, 20), &p[..30]),
            Err(OffloadError::Malformed),
            "truncated TCP header"
        );
        let bad_csum = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 100,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        assert_eq!(
            seg.load_packet(&bad_csum, &p[..110]),
            Err(OffloadError::Malformed)
        );
        let zero_mss = VnetHdr {
            gso_size: 0,
            ..gso(GSO_TCPV4, 20)
        };
        assert_eq!(seg.load_packet(&zero_mss, &p), Err(OffloadError::Malformed));
    }

    fn wire_segments(payload: usize, mss: usize, last_flags: u8) -> (Vec<u8>, Vec<Vec<u8>>) {
        let sup = tcp4_super(payload, 0x10 | last_flags, 12);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            gso_size: mss as u16,
            csum_start: 20,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        let mut seg = Segmenter::new();
        seg.load_packet(&hdr, &sup).unwrap();
        (sup, segments(&mut seg))
    }

    #[test]
    fn coalesced_segments_split_back_into_the_same_segments() {
        let (_, segs) = wire_segments(5 * 1000 + 10, 1000, TCP_PSH);
        let mut co = Coalescer::new();
        for s in &segs {
            assert!(co.push(s));
        }
        assert_eq!(co.segments(), 6);
        let (hdr, sup) = co.take().unwrap();
        let h = VnetHdr::parse(hdr).unwrap();
        assert_eq!(h.gso_type, GSO_TCPV4);
        assert_eq!(h.gso_size, 1000);
        assert_eq!(h.flags, F_NEEDS_CSUM);
        assert_eq!((h.csum_start, h.csum_offset, h.hdr_len), (20, 16, 52));
        assert_eq!(usize::from(u16::from_be_bytes([sup[2], sup[3]])), sup.len());
        assert_eq!(reference_checksum(&sup[..20]), 0);
        assert_eq!(sup[33] & TCP_PSH, TCP_PSH, "PSH of the last segment kept");
        // The kernel's view: segmenting it again gives back the very same wire packets.
        let (h, sup) = (h, sup.to_vec());
        let mut seg = Segmenter::new();
        seg.load_packet(&h, &sup).unwrap();
        let again = segments(&mut seg);
        assert_eq!(again.len(), segs.len());
        for (a, b) in again.iter().zip(&segs) {
            // The IPv4 id is rebuilt from the first one (+1 each), as the sender's were.
            assert_eq!(a, b);
        }
        assert!(co.is_empty());
        assert!(co.take().is_none());
    }

    #[test]
    fn coalescer_refuses_what_must_not_merge() {
        let (_, segs) = wire_segments(4 * 1000, 1000, 0);
        let mut co = Coalescer::new();
        // A single segment comes back untouched with an all-zero header.
        assert!(co.push(&segs[0]));
        let (h, p) = co.take().unwrap();
        assert_eq!(h, &[0; VNET_HDR_LEN]);
        assert_eq!(p, &segs[0][..]);

        // Out of order: the run must be taken first.
        assert!(co.push(&segs[0]));
        assert!(!co.push(&segs[2]));
        assert!(co.push(&segs[1]));
        assert_eq!(co.segments(), 2);
        co.take();

        // A corrupted segment is never held.
        let mut bad = segs[1].clone();
        bad[60] ^= 0xff;
        assert!(co.push(&segs[0]));
        assert!(!co.push(&bad));
        co.take();
        assert!(!co.push(&bad), "nor does it start a run");

        // Another flow (other port), another ACK number, SYN, no payload: refused.
        let mut other = segs[1].clone();
        other[20] ^= 1;
        let mut ack = segs[1].clone();
        ack[31] ^= 1;
        assert!(co.push(&segs[0]));
        assert!(!co.push(&other));
        assert!(!co.push(&ack));
        co.take();
        let mut syn = segs[0].clone();
        syn[33] |= 0x02;
        assert!(!co.push(&syn));
        let pure_ack = tcp4_super(0, 0x10, 0);
        assert!(!co.push(&pure_ack));
        assert!(!co.push(b"\x45not a packet"));

        // A short segment ends the run.
        let (_, segs) = wire_segments(1000 + 500 + 1000, 1000, 0);
        assert!(co.push(&segs[0]));
        let mut short = segs[1].clone();
        short.truncate(segs[1].len() - 500);
        // (re-checksummed by building it from a super-packet instead)
        let (_, s2) = wire_segments(1500, 1000, 0);
        assert!(!co.push(&short), "bad checksum after truncation");
        co.take();
        assert!(co.push(&s2[0]));
        assert!(co.push(&s2[1]), "short last segment joins");
        let (_, s3) = wire_segments(3000, 1000, 0);
        assert!(!co.push(&s3[2]), "nothing after a short segment");
    }
}
