//! Example messages and datagrams for tests, fuzz seeds, benchmarks and the sample capture
//! (`samples/tunnel-setup.pcap`), plus a minimal pcap writer (Ethernet/IPv4/UDP frames).
//!
//! The values are realistic (a Windows-like SCCRQ, an LCP Configure-Request in a data
//! message) but fixed, so every consumer sees the same bytes.

use crate::avp::{AvpType, UnknownAvp};
use crate::header::{Header, MessageKind, Sequence};
use crate::ids::{SessionId, TunnelId};
use crate::message::{
    Cdn, ControlMessage, Hello, Hiding, Iccn, Icrp, Icrq, Occn, Ocrp, Ocrq, Scccn, Sccrp, Sccrq,
    Sli, StopCcn, Wen,
};
use crate::packet::encode_packet;
use crate::result::ResultCode;
use crate::seq::SeqNum;
use crate::values::{
    Accm, BearerCapabilities, CallErrors, FramingCapabilities, ProtocolVersion, ProxyAuthenType,
    Q931Cause,
};

/// Tunnel secret used by the examples that hide AVPs or answer a Challenge.
pub const SECRET: &[u8] = b"tunnel-secret";
/// Random Vector used by the examples that hide AVPs.
pub const RANDOM_VECTOR: [u8; 16] = [
    0x3c, 0x1f, 0x92, 0x07, 0xa5, 0x44, 0x6e, 0xd1, 0x08, 0x7b, 0xc2, 0x5a, 0x19, 0xe0, 0x33, 0x8f,
];
/// Challenge the example LAC sends in its SCCRQ.
pub const LAC_CHALLENGE: [u8; 16] = *b"lac-challenge-16";
/// Challenge the example LNS sends in its SCCRP.
pub const LNS_CHALLENGE: [u8; 16] = *b"lns-challenge-16";

/// The SCCRQ of the Windows built-in client (`/work/shared/CLIENTS.md`): version 1.0, sync
/// framing, bearer 0, firmware 0x0600, host name, vendor "Microsoft", window 8.
pub fn windows_sccrq() -> Sccrq {
    Sccrq {
        protocol_version: ProtocolVersion::V1_0,
        host_name: b"DESKTOP-7Q2L4KE".to_vec(),
        framing_capabilities: FramingCapabilities::SYNC,
        assigned_tunnel_id: TunnelId(0x2a51),
        bearer_capabilities: Some(BearerCapabilities(0)),
        receive_window_size: Some(8),
        challenge: None,
        tie_breaker: None,
        firmware_revision: Some(0x0600),
        vendor_name: Some(b"Microsoft".to_vec()),
        unknown: vec![],
    }
}

/// One message of every type RFC 2661 defines, each with all its optional AVPs present
/// (and an unknown vendor AVP on the SCCRQ), in message-type order.
pub fn every_message() -> Vec<ControlMessage> {
    let lcp_confreq = vec![0x01, 0x01, 0x00, 0x0a, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44];
    vec![
        Sccrq {
            protocol_version: ProtocolVersion::V1_0,
            host_name: b"lac.example".to_vec(),
            framing_capabilities: FramingCapabilities::BOTH,
            assigned_tunnel_id: TunnelId(1001),
            bearer_capabilities: Some(BearerCapabilities::ANALOG),
            receive_window_size: Some(16),
            challenge: Some(LAC_CHALLENGE.to_vec()),
            tie_breaker: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            firmware_revision: Some(0x0102),
            vendor_name: Some(b"l2tp-rs".to_vec()),
            unknown: vec![UnknownAvp {
                vendor: 311,
                attr: AvpType(1),
                mandatory: false,
                hidden: false,
                reserved: 0,
                value: vec![0xde, 0xad, 0xbe, 0xef],
            }],
        }
        .into(),
        Sccrp {
            protocol_version: ProtocolVersion::V1_0,
            framing_capabilities: FramingCapabilities::SYNC,
            host_name: b"lns.example".to_vec(),
            assigned_tunnel_id: TunnelId(2002),
            bearer_capabilities: Some(BearerCapabilities(0)),
            firmware_revision: Some(0x0001),
            vendor_name: Some(b"l2tp-rs".to_vec()),
            receive_window_size: Some(8),
            challenge: Some(LNS_CHALLENGE.to_vec()),
            challenge_response: Some(crate::hidden::challenge_response(2, SECRET, &LAC_CHALLENGE)),
            unknown: vec![],
        }
        .into(),
        Scccn {
            challenge_response: Some(crate::hidden::challenge_response(3, SECRET, &LNS_CHALLENGE)),
            unknown: vec![],
        }
        .into(),
        StopCcn {
            assigned_tunnel_id: TunnelId(1001),
            result_code: ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_VENDOR_SPECIFIC,
                Some("shutting down"),
            ),
            unknown: vec![],
        }
        .into(),
        Hello { unknown: vec![] }.into(),
        Ocrq {
            assigned_session_id: SessionId(31),
            call_serial_number: 0x0102_0304,
            minimum_bps: 9600,
            maximum_bps: 64000,
            bearer_type: BearerCapabilities::DIGITAL,
            framing_type: FramingCapabilities::SYNC,
            called_number: b"5551234".to_vec(),
            sub_address: Some(b"7".to_vec()),
            unknown: vec![],
        }
        .into(),
        Ocrp {
            assigned_session_id: SessionId(32),
            physical_channel_id: Some(4),
            unknown: vec![],
        }
        .into(),
        Occn {
            tx_connect_speed: 64000,
            framing_type: FramingCapabilities::SYNC,
            rx_connect_speed: Some(56000),
            sequencing_required: true,
            unknown: vec![],
        }
        .into(),
        Icrq {
            assigned_session_id: SessionId(11),
            call_serial_number: 1,
            bearer_type: Some(BearerCapabilities::ANALOG),
            physical_channel_id: Some(2),
            calling_number: Some(b"5550100".to_vec()),
            called_number: Some(b"5550199".to_vec()),
            sub_address: Some(b"12".to_vec()),
            unknown: vec![],
        }
        .into(),
        Icrp {
            assigned_session_id: SessionId(22),
            unknown: vec![],
        }
        .into(),
        Iccn {
            tx_connect_speed: 100_000_000,
            framing_type: FramingCapabilities::SYNC,
            initial_received_lcp_confreq: Some(lcp_confreq.clone()),
            last_sent_lcp_confreq: Some(lcp_confreq.clone()),
            last_received_lcp_confreq: Some(lcp_confreq),
            proxy_authen_type: Some(ProxyAuthenType::CHAP),
            proxy_authen_name: Some(b"alice".to_vec()),
            proxy_authen_challenge: Some(vec![0x55; 16]),
            proxy_authen_id: Some(7),
            proxy_authen_response: Some(vec![0xaa; 16]),
            private_group_id: Some(b"group-1".to_vec()),
            rx_connect_speed: Some(50_000_000),
            sequencing_required: true,
            unknown: vec![],
        }
        .into(),
        Cdn {
            result_code: ResultCode::with_error(
                ResultCode::CDN_ADMINISTRATIVE,
                ResultCode::ERROR_NONE,
                Some("admin reset"),
            ),
            assigned_session_id: SessionId(22),
            q931_cause: Some(Q931Cause {
                cause_code: 16,
                cause_msg: 0x45,
                advisory: Some("normal clearing".into()),
            }),
            unknown: vec![],
        }
        .into(),
        Wen {
            call_errors: CallErrors {
                crc_errors: 1,
                framing_errors: 2,
                hardware_overruns: 3,
                buffer_overruns: 4,
                timeout_errors: 5,
                alignment_errors: 6,
            },
            unknown: vec![],
        }
        .into(),
        Sli {
            accm: Accm {
                send_accm: 0,
                receive_accm: 0x000a_0000,
            },
            unknown: vec![],
        }
        .into(),
    ]
}

/// An LCP Configure-Request (MRU 1400, magic number) with the FF 03 address/control field.
pub const LCP_CONFREQ_FRAME: [u8; 18] = [
    0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0e, 0x01, 0x04, 0x05, 0x78, 0x05, 0x06, 0x1a, 0x2b,
    0x3c, 0x4d,
];

/// Which way a datagram of an exchange travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the LAC (client) to the LNS.
    LacToLns,
    /// From the LNS to the LAC.
    LnsToLac,
}

/// A datagram of an example exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleDatagram {
    /// Sender side.
    pub direction: Direction,
    /// UDP payload.
    pub bytes: Vec<u8>,
}

fn ctl(
    direction: Direction,
    tunnel: u16,
    session: u16,
    ns: u16,
    nr: u16,
    msg: Option<ControlMessage>,
    hiding: Option<Hiding<'_>>,
) -> ExampleDatagram {
    let header = Header::control(TunnelId(tunnel), SessionId(session), SeqNum(ns), SeqNum(nr));
    let bytes = match msg {
        Some(m) => match encode_packet(&header, &m, hiding) {
            Ok(b) => b,
            Err(e) => unreachable!("example message does not encode: {e}"),
        },
        None => header.encode_with_payload(&[]),
    };
    ExampleDatagram { direction, bytes }
}

/// A realistic tunnel and call setup and teardown between a LAC (tunnel 1001, session 11)
/// and an LNS (tunnel 2002, session 22) with tunnel authentication and a hidden Assigned
/// Session ID: SCCRQ, SCCRP, SCCCN, ZLB, ICRQ, ICRP, ICCN, ZLB, LCP data both ways, HELLO,
/// ZLB, CDN, ZLB, StopCCN, ZLB.
pub fn tunnel_setup_exchange() -> Vec<ExampleDatagram> {
    use Direction::{LacToLns as Up, LnsToLac as Down};
    let mut sccrq = windows_sccrq();
    sccrq.assigned_tunnel_id = TunnelId(1001);
    sccrq.challenge = Some(LAC_CHALLENGE.to_vec());
    let sccrp = Sccrp {
        protocol_version: ProtocolVersion::V1_0,
        framing_capabilities: FramingCapabilities::SYNC,
        host_name: b"lns.example".to_vec(),
        assigned_tunnel_id: TunnelId(2002),
        bearer_capabilities: None,
        firmware_revision: Some(0x0001),
        vendor_name: Some(b"l2tp-rs".to_vec()),
        receive_window_size: Some(16),
        challenge: Some(LNS_CHALLENGE.to_vec()),
        challenge_response: Some(crate::hidden::challenge_response(2, SECRET, &LAC_CHALLENGE)),
        unknown: vec![],
    };
    let scccn = Scccn {
        challenge_response: Some(crate::hidden::challenge_response(3, SECRET, &LNS_CHALLENGE)),
        unknown: vec![],
    };
    let hide_session = Hiding::new(SECRET, &RANDOM_VECTOR).only(&[AvpType::ASSIGNED_SESSION_ID]);
    let icrq = Icrq {
        assigned_session_id: SessionId(11),
        call_serial_number: 1,
        bearer_type: Some(BearerCapabilities(0)),
        physical_channel_id: None,
        calling_number: None,
        called_number: None,
        sub_address: None,
        unknown: vec![],
    };
    let icrp = Icrp {
        assigned_session_id: SessionId(22),
        unknown: vec![],
    };
    let iccn = Iccn {
        tx_connect_speed: 100_000_000,
        framing_type: FramingCapabilities::SYNC,
        initial_received_lcp_confreq: None,
        last_sent_lcp_confreq: None,
        last_received_lcp_confreq: None,
        proxy_authen_type: None,
        proxy_authen_name: None,
        proxy_authen_challenge: None,
        proxy_authen_id: None,
        proxy_authen_response: None,
        private_group_id: None,
        rx_connect_speed: None,
        sequencing_required: false,
        unknown: vec![],
    };
    let cdn = Cdn {
        result_code: ResultCode::new(ResultCode::CDN_ADMINISTRATIVE),
        assigned_session_id: SessionId(11),
        q931_cause: None,
        unknown: vec![],
    };
    let stop = StopCcn {
        assigned_tunnel_id: TunnelId(1001),
        result_code: ResultCode::new(ResultCode::STOPCCN_GENERAL_REQUEST),
        unknown: vec![],
    };
    let data = |direction, tunnel: u16, session: u16| ExampleDatagram {
        direction,
        bytes: Header {
            kind: MessageKind::Data,
            has_length: true,
            tunnel_id: TunnelId(tunnel),
            session_id: SessionId(session),
            sequence: None,
            offset: None,
            priority: false,
        }
        .encode_with_payload(&LCP_CONFREQ_FRAME),
    };
    vec![
        ctl(Up, 0, 0, 0, 0, Some(sccrq.into()), None),
        ctl(Down, 1001, 0, 0, 1, Some(sccrp.into()), None),
        ctl(Up, 2002, 0, 1, 1, Some(scccn.into()), None),
        ctl(Down, 1001, 0, 1, 2, None, None),
        ctl(Up, 2002, 0, 2, 1, Some(icrq.into()), Some(hide_session)),
        ctl(Down, 1001, 11, 1, 3, Some(icrp.into()), Some(hide_session)),
        ctl(Up, 2002, 22, 3, 2, Some(iccn.into()), None),
        ctl(Down, 1001, 0, 2, 4, None, None),
        data(Up, 2002, 22),
        data(Down, 1001, 11),
        ctl(
            Down,
            1001,
            0,
            2,
            4,
            Some(Hello { unknown: vec![] }.into()),
            None,
        ),
        ctl(Up, 2002, 0, 4, 3, None, None),
        ctl(Up, 2002, 22, 4, 3, Some(cdn.into()), None),
        ctl(Down, 1001, 0, 3, 5, None, None),
        ctl(Up, 2002, 0, 5, 3, Some(stop.into()), None),
        ctl(Down, 1001, 0, 3, 6, None, None),
    ]
}

/// A data message with every optional header field: L, S (Ns 65535), O (offset 4), P.
pub fn data_with_all_options() -> Vec<u8> {
    Header {
        kind: MessageKind::Data,
        has_length: true,
        tunnel_id: TunnelId(2002),
        session_id: SessionId(22),
        sequence: Some(Sequence {
            ns: SeqNum(65535),
            nr: SeqNum(0),
        }),
        offset: Some(4),
        priority: true,
    }
    .encode_with_payload(&LCP_CONFREQ_FRAME)
}

/// Minimal classic-pcap writer: Ethernet + IPv4 + UDP frames (no I/O; returns the bytes).
pub mod pcap {
    use std::net::SocketAddrV4;

    /// Pcap global header for link type Ethernet (1), microsecond timestamps.
    pub fn global_header() -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        v.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        v.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        v.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        v
    }

    /// Ethernet/IPv4/UDP frame carrying `payload` from `src` to `dst`.
    pub fn udp_frame(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // dst MAC
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // src MAC
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64; // TTL
        ip[9] = 17; // UDP
        ip[12..16].copy_from_slice(&src.ip().octets());
        ip[16..20].copy_from_slice(&dst.ip().octets());
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&0u16.to_be_bytes()); // no UDP checksum (allowed for IPv4)
        f.extend_from_slice(payload);
        f
    }

    /// Appends a record holding `frame`, captured at `ts_us` microseconds.
    pub fn push_record(out: &mut Vec<u8>, ts_us: u64, frame: &[u8]) {
        out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }

    /// A whole capture of UDP datagrams `(src, dst, payload)`, 10 ms apart from `start_us`.
    pub fn capture(start_us: u64, datagrams: &[(SocketAddrV4, SocketAddrV4, Vec<u8>)]) -> Vec<u8> {
        let mut out = global_header();
        for (i, (s, d, p)) in datagrams.iter().enumerate() {
            push_record(
                &mut out,
                start_us + 10_000 * i as u64,
                &udp_frame(*s, *d, p),
            );
        }
        out
    }
}

/// The example exchange as a pcap capture: LAC 192.0.2.1:1701, LNS 198.51.100.1:1701.
pub fn tunnel_setup_pcap() -> Vec<u8> {
    use std::net::{Ipv4Addr, SocketAddrV4};
    let lac = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1701);
    let lns = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 1701);
    let dgrams: Vec<_> = tunnel_setup_exchange()
        .into_iter()
        .map(|d| match d.direction {
            Direction::LacToLns => (lac, lns, d.bytes),
            Direction::LnsToLac => (lns, lac, d.bytes),
        })
        .collect();
    // 2026-01-01T00:00:00Z, fixed so the committed sample is reproducible.
    pcap::capture(1_767_225_600_000_000, &dgrams)
}

/// The fuzz oracle shared by the `wire_decode` fuzz target and the corpus replay test: runs
/// every decoder on `data` (with and without [`SECRET`]) and, for each control message that
/// decodes, checks that re-encoding and decoding it again gives the same message.
///
/// # Panics
/// Panics when a decoded message does not survive the round trip (that is the bug the fuzzer
/// looks for); never on malformed input.
pub fn fuzz_wire_decode(data: &[u8]) {
    for secret in [None, Some(SECRET)] {
        if let Ok(crate::packet::Packet::Control { header, message }) =
            crate::packet::Packet::decode(data, secret)
        {
            let hiding = secret.map(|s| Hiding::new(s, &RANDOM_VECTOR));
            if let Ok(bytes) = encode_packet(&header, &message, hiding) {
                let again = crate::packet::Packet::decode(&bytes, secret);
                assert!(
                    matches!(&again, Ok(crate::packet::Packet::Control { message: m, .. }) if *m == message),
                    "round trip changed {message:?} into {again:?}"
                );
            }
        }
        let _ = ControlMessage::decode(data, secret);
        if let Ok(avps) = crate::listing::list_avps(data, secret) {
            for a in avps {
                let _ = a.value_string();
            }
        }
    }
}

/// Seed inputs for the fuzzer: every example message (plain and hidden) as a datagram, a
/// ZLB, the example exchange and data messages, with a file name for each.
pub fn fuzz_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (i, m) in every_message().into_iter().enumerate() {
        let h = Header::control(TunnelId(1), SessionId(0), SeqNum(i as u16), SeqNum(0));
        let name = m.message_type().to_string().to_lowercase();
        if let Ok(b) = encode_packet(&h, &m, None) {
            seeds.push((format!("{i:02}-{name}"), b));
        }
        if let Ok(b) = encode_packet(&h, &m, Some(Hiding::new(SECRET, &RANDOM_VECTOR))) {
            seeds.push((format!("{i:02}-{name}-hidden"), b));
        }
    }
    for (i, d) in tunnel_setup_exchange().into_iter().enumerate() {
        seeds.push((format!("exchange-{i:02}"), d.bytes));
    }
    seeds.push(("data-all-options".into(), data_with_all_options()));
    seeds
}
