//! Wireshark as a judge of what we put on the wire: a capture holding one of every message
//! type (some with hidden AVPs), ZLBs, and data messages with every header option is written
//! as pcap, dissected by `tshark`, and tshark's view of every packet must match ours —
//! message types, ids, Ns/Nr, offset, priority, AVP flags and types, and AVP values — with no
//! malformed packet or error-level expert info.
//!
//! tshark 4.0 does not unhide hidden AVPs, so for those only the M/H flags are compared.
//! Without tshark the test is skipped loudly, and fails when `CI=true`.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

use l2tp_wire::listing::{list_avps, ListedAvp};
use l2tp_wire::testdata::{self, pcap, SECRET};
use l2tp_wire::*;

/// The tshark binary: `$TSHARK`, else `tshark` on the PATH.
fn tshark_bin() -> String {
    std::env::var("TSHARK").unwrap_or_else(|_| "tshark".to_owned())
}

/// tshark fields compared, in output order.
const FIELDS: &[&str] = &[
    "frame.number",
    "l2tp.type",
    "l2tp.length",
    "l2tp.tunnel",
    "l2tp.session",
    "l2tp.Ns",
    "l2tp.Nr",
    "l2tp.offset",
    "l2tp.priority",
    "l2tp.avp.message_type",
    "l2tp.avp.type",
    "l2tp.avp.hidden",
    "l2tp.avp.mandatory",
    "l2tp.avp.vendor_id",
    "l2tp.avp.host_name",
    "l2tp.avp.vendor_name",
    "l2tp.avp.assigned_tunnel_id",
    "l2tp.avp.assigned_session_id",
    "l2tp.avp.receive_window_size",
    "l2tp.avp.firmware_revision",
    "l2tp.avp.protocol_version",
    "l2tp.avp.protocol_revision",
    "l2tp.avp.sync_framing_supported",
    "l2tp.avp.async_framing_supported",
    "l2tp.avp.call_serial_number",
    "l2tp.avp.minimum_bps",
    "l2tp.avp.maximum_bps",
    "l2tp.avp.connect_speed",
    "l2tp.avp.rx_connect_speed",
    "l2tp.avp.physical_channel",
    "l2tp.avp.called_number",
    "l2tp.avp.calling_number",
    "l2tp.avp.sub_address",
    "l2tp.result_code",
    "l2tp.avp.error_code",
    "l2tp.avp.error_message",
    "l2tp.avp.cause_code",
    "l2tp.avp.cause_msg",
    "l2tp.avp.advisory_msg",
    "l2tp.avp.proxy_authen_type",
    "l2tp.avp.proxy_authen_name",
    "l2tp.avp.crc_errors",
    "l2tp.avp.alignment_errors",
    "l2tp.avp.send_accm",
    "l2tp.avp.receive_accm",
    "l2tp.avp.chap_challenge_response",
    "l2tp.avp.random_vector",
    "ppp.protocol",
];

fn datagrams() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let hide_all = Hiding::new(SECRET, &testdata::RANDOM_VECTOR);
    for (i, m) in testdata::every_message().into_iter().enumerate() {
        let i = i as u16;
        let session = if m.message_type().is_session_message() {
            100 + i
        } else {
            0
        };
        let h = Header::control(
            TunnelId(1000 + i),
            SessionId(session),
            SeqNum(i),
            SeqNum(65530u16.wrapping_add(i)),
        );
        out.push(encode_packet(&h, &m, None).unwrap());
        // The same message with every hideable AVP hidden.
        out.push(encode_packet(&h, &m, Some(hide_all)).unwrap());
    }
    out.push(encode_zlb(&Header::control(
        TunnelId(7),
        SessionId(0),
        SeqNum(3),
        SeqNum(9),
    )));
    out.extend(
        testdata::tunnel_setup_exchange()
            .into_iter()
            .map(|d| d.bytes),
    );
    out.push(testdata::data_with_all_options());
    // Minimal data header; PPP with address/control and protocol field compressed (Windows).
    out.push(
        Header::data(TunnelId(5), SessionId(6)).encode_with_payload(&[
            0x80, 0x21, 0x01, 0x01, 0x00, 0x0a, 0x03, 0x06, 0x00, 0x00, 0x00, 0x00,
        ]),
    );
    // Data with sequence numbers and an Offset Size of 0.
    let mut h = Header::data(TunnelId(5), SessionId(6));
    h.sequence = Some(Sequence {
        ns: SeqNum(4),
        nr: SeqNum(0),
    });
    h.offset = Some(0);
    out.push(h.encode_with_payload(&testdata::LCP_CONFREQ_FRAME));
    out
}

/// What we expect tshark to print for one packet, field by field ('|'-joined occurrences).
fn expected(n: usize, bytes: &[u8]) -> BTreeMap<&'static str, String> {
    let mut e: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut put = |k: &'static str, v: String| e.entry(k).or_default().push(v);
    put("frame.number", n.to_string());
    let d = Header::decode(bytes).unwrap();
    let h = d.header;
    put("l2tp.type", u8::from(h.is_control()).to_string());
    if h.has_length {
        put("l2tp.length", bytes.len().to_string());
    }
    put("l2tp.tunnel", h.tunnel_id.0.to_string());
    put("l2tp.session", h.session_id.0.to_string());
    if let Some(s) = h.sequence {
        put("l2tp.Ns", s.ns.0.to_string());
        put("l2tp.Nr", s.nr.0.to_string());
    }
    if let Some(o) = h.offset {
        put("l2tp.offset", o.to_string());
    }
    put("l2tp.priority", u8::from(h.priority).to_string());
    if !h.is_control() {
        let p = d.payload;
        let proto = if p.starts_with(&[0xff, 0x03]) {
            &p[2..]
        } else {
            p
        };
        let proto = if proto[0] & 1 == 1 {
            u16::from(proto[0])
        } else {
            u16::from_be_bytes([proto[0], proto[1]])
        };
        put("ppp.protocol", format!("{proto:#06x}"));
    }
    let avps = if h.is_control() {
        list_avps(d.payload, Some(SECRET)).unwrap()
    } else {
        vec![]
    };
    for a in avps {
        put("l2tp.avp.hidden", u8::from(a.hidden).to_string());
        put("l2tp.avp.mandatory", u8::from(a.mandatory).to_string());
        if a.hidden {
            continue; // tshark shows neither type nor value of a hidden AVP
        }
        put("l2tp.avp.vendor_id", a.vendor.to_string());
        put("l2tp.avp.type", a.attr.0.to_string());
        for (k, v) in value_fields(&a) {
            put(k, v);
        }
    }
    e.into_iter().map(|(k, v)| (k, v.join("|"))).collect()
}

fn be16(v: &[u8], i: usize) -> String {
    u16::from_be_bytes([v[i], v[i + 1]]).to_string()
}
fn be32(v: &[u8], i: usize) -> String {
    u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]).to_string()
}
fn s(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}
fn hex(v: &[u8]) -> String {
    l2tp_wire::listing::to_hex(v)
}

/// tshark's value fields for one cleartext AVP, from our decoding of it.
fn value_fields(a: &ListedAvp) -> Vec<(&'static str, String)> {
    let v = &a.value[..];
    if a.vendor != 0 {
        return vec![];
    }
    match a.attr {
        AvpType::MESSAGE_TYPE => vec![("l2tp.avp.message_type", be16(v, 0))],
        AvpType::HOST_NAME => vec![("l2tp.avp.host_name", s(v))],
        AvpType::VENDOR_NAME => vec![("l2tp.avp.vendor_name", s(v))],
        AvpType::ASSIGNED_TUNNEL_ID => vec![("l2tp.avp.assigned_tunnel_id", be16(v, 0))],
        AvpType::ASSIGNED_SESSION_ID => vec![("l2tp.avp.assigned_session_id", be16(v, 0))],
        AvpType::RECEIVE_WINDOW_SIZE => vec![("l2tp.avp.receive_window_size", be16(v, 0))],
        AvpType::FIRMWARE_REVISION => vec![("l2tp.avp.firmware_revision", be16(v, 0))],
        AvpType::PROTOCOL_VERSION => vec![
            ("l2tp.avp.protocol_version", v[0].to_string()),
            ("l2tp.avp.protocol_revision", v[1].to_string()),
        ],
        AvpType::FRAMING_CAPABILITIES => vec![
            (
                "l2tp.avp.async_framing_supported",
                u8::from(v[3] & 2 != 0).to_string(),
            ),
            (
                "l2tp.avp.sync_framing_supported",
                u8::from(v[3] & 1 != 0).to_string(),
            ),
        ],
        AvpType::CALL_SERIAL_NUMBER => vec![("l2tp.avp.call_serial_number", be32(v, 0))],
        AvpType::MINIMUM_BPS => vec![("l2tp.avp.minimum_bps", be32(v, 0))],
        AvpType::MAXIMUM_BPS => vec![("l2tp.avp.maximum_bps", be32(v, 0))],
        AvpType::TX_CONNECT_SPEED => vec![("l2tp.avp.connect_speed", be32(v, 0))],
        AvpType::RX_CONNECT_SPEED => vec![("l2tp.avp.rx_connect_speed", be32(v, 0))],
        AvpType::PHYSICAL_CHANNEL_ID => vec![("l2tp.avp.physical_channel", be32(v, 0))],
        AvpType::CALLED_NUMBER => vec![("l2tp.avp.called_number", s(v))],
        AvpType::CALLING_NUMBER => vec![("l2tp.avp.calling_number", s(v))],
        AvpType::SUB_ADDRESS => vec![("l2tp.avp.sub_address", s(v))],
        AvpType::RESULT_CODE => {
            let r = ResultCode::decode_value(a.attr, v).unwrap();
            let mut f = vec![("l2tp.result_code", r.result.to_string())];
            if let Some(e) = r.error {
                f.push(("l2tp.avp.error_code", e.to_string()));
            }
            if let Some(m) = r.message {
                f.push(("l2tp.avp.error_message", m));
            }
            f
        }
        AvpType::Q931_CAUSE_CODE => {
            let q = Q931Cause::decode_value(a.attr, v).unwrap();
            let mut f = vec![
                ("l2tp.avp.cause_code", q.cause_code.to_string()),
                ("l2tp.avp.cause_msg", q.cause_msg.to_string()),
            ];
            if let Some(m) = q.advisory {
                f.push(("l2tp.avp.advisory_msg", m));
            }
            f
        }
        AvpType::PROXY_AUTHEN_TYPE => vec![("l2tp.avp.proxy_authen_type", be16(v, 0))],
        AvpType::PROXY_AUTHEN_NAME => vec![("l2tp.avp.proxy_authen_name", s(v))],
        AvpType::CALL_ERRORS => {
            let c = CallErrors::decode_value(a.attr, v).unwrap();
            vec![
                ("l2tp.avp.crc_errors", c.crc_errors.to_string()),
                ("l2tp.avp.alignment_errors", c.alignment_errors.to_string()),
            ]
        }
        AvpType::ACCM => {
            let c = Accm::decode_value(a.attr, v).unwrap();
            vec![
                ("l2tp.avp.send_accm", c.send_accm.to_string()),
                ("l2tp.avp.receive_accm", c.receive_accm.to_string()),
            ]
        }
        AvpType::CHALLENGE_RESPONSE => vec![("l2tp.avp.chap_challenge_response", hex(v))],
        AvpType::RANDOM_VECTOR => vec![("l2tp.avp.random_vector", hex(v))],
        _ => vec![],
    }
}

fn tshark_available() -> bool {
    let found = Command::new(tshark_bin())
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // Written to the stderr handle, not with eprintln!, so the harness does not capture it.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!! tshark ({}) not found: Wireshark agreement test SKIPPED !!!!!!!!!!\n",
        tshark_bin()
    );
    assert!(
        !ci,
        "tshark is required in CI (scripts/test.sh installs it)"
    );
    false
}

fn write_capture(name: &str, dgrams: &[Vec<u8>]) -> std::path::PathBuf {
    let a = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1701);
    let b = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 1701);
    let list: Vec<_> = dgrams.iter().map(|d| (a, b, d.clone())).collect();
    let path = std::env::temp_dir().join(format!("{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, pcap::capture(1_000_000, &list)).unwrap();
    path
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new(tshark_bin())
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark output is UTF-8")
}

#[test]
fn tshark_agrees_with_our_codec() {
    if !tshark_available() {
        return;
    }
    let dgrams = datagrams();
    let path = write_capture("l2tp-wire-tshark", &dgrams);
    let file = path.to_str().unwrap();
    let mut args = vec![
        "-r",
        file,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
    ];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    let out = tshark(&args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), dgrams.len(), "tshark saw every packet");
    let mut mismatches = Vec::new();
    for (i, (line, bytes)) in lines.iter().zip(&dgrams).enumerate() {
        let got: Vec<&str> = line.split('\t').collect();
        assert_eq!(got.len(), FIELDS.len(), "frame {}: {line}", i + 1);
        let want = expected(i + 1, bytes);
        for (f, g) in FIELDS.iter().zip(&got) {
            let w = want.get(f).map(String::as_str).unwrap_or("");
            if w != *g {
                mismatches.push(format!("frame {}: {f}: tshark {g:?}, ours {w:?}", i + 1));
            }
        }
    }
    // Nothing malformed, no error-level expert info.
    let bad = tshark(&[
        "-r",
        file,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= error",
    ]);
    if std::env::var_os("KEEP_TSHARK_CAPTURE").is_none() {
        let _ = std::fs::remove_file(&path);
    } else {
        eprintln!("capture kept at {file}");
    }
    assert!(
        mismatches.is_empty(),
        "tshark disagrees:\n{}",
        mismatches.join("\n")
    );
    assert!(bad.trim().is_empty(), "tshark flags packets:\n{bad}");
}

/// What Wireshark makes of the LAC's proxy AVPs (ICCN) and RFC 5515 access-line AVPs (ICRQ):
/// it must read the same user, CHAP exchange, CONFREQs, circuit and remote ids and rates.
#[test]
fn tshark_reads_proxy_and_access_line_avps_as_we_wrote_them() {
    if !tshark_available() {
        return;
    }
    use l2tp_wire::access_line::AccessLine;
    let mut icrq = Icrq::new(SessionId(9), 77);
    icrq.calling_number = Some(b"olt-3 pon 1/2/5:17".to_vec());
    icrq.unknown = AccessLine {
        agent_circuit_id: Some(b"olt-3 pon 1/2/5:17".to_vec()),
        agent_remote_id: Some(b"cust-0042".to_vec()),
        actual_data_rate_upstream: Some(50_000_000),
        actual_data_rate_downstream: Some(250_000_000),
        other: vec![],
    }
    .to_avps();
    let mut iccn = Iccn::new(250_000_000, FramingCapabilities::SYNC);
    let lcp = ProxyLcp {
        initial_received: vec![1, 4, 5, 0xd4, 5, 6, 0xde, 0xad, 0xbe, 0xef],
        last_sent: vec![1, 4, 5, 0xd4, 3, 5, 0xc2, 0x23, 5],
        last_received: vec![1, 4, 5, 0xd4, 5, 6, 0xde, 0xad, 0xbe, 0xef],
    };
    let auth = ProxyAuth::Chap {
        name: b"alice@isp.example".to_vec(),
        id: 42,
        challenge: vec![0x11; 16],
        response: vec![0x22; 16],
    };
    set_proxy(&mut iccn, Some(&lcp), Some(&auth));
    let header = Header::control(TunnelId(1), SessionId(2), SeqNum(0), SeqNum(0));
    let dgrams = vec![
        encode_packet(&header, &icrq.into(), None).unwrap(),
        encode_packet(&header, &iccn.into(), None).unwrap(),
    ];
    let path = write_capture("l2tp-wire-tshark-proxy", &dgrams);
    let fields = [
        "l2tp.broadband.agent_circuit_id",
        "l2tp.broadband.agent_remote_id",
        "l2tp.broadband.actual_dr_up",
        "l2tp.broadband.actual_dr_down",
        "l2tp.avp.proxy_authen_type",
        "l2tp.avp.proxy_authen_name",
        "l2tp.avp.proxy_authen_id",
        "l2tp.avp.proxy_authen_challenge",
        "l2tp.avp.proxy_authen_response",
        "l2tp.avp.initial_received_lcp_confreq",
        "l2tp.avp.last_sent_lcp_confreq",
        "_ws.malformed",
    ];
    let mut args = vec![
        "-r",
        path.to_str().unwrap(),
        "-T",
        "fields",
        "-E",
        "separator=/t",
    ];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let out = tshark(&args);
    let _ = std::fs::remove_file(&path);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    let (icrq_row, iccn_row) = (&rows[0], &rows[1]);
    assert_eq!(
        icrq_row[..4],
        ["olt-3 pon 1/2/5:17", "cust-0042", "50000000", "250000000"],
        "{out}"
    );
    let h = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let norm = |s: &str| s.replace(':', "");
    assert_eq!(iccn_row[4], "2", "CHAP: {out}");
    assert_eq!(iccn_row[5], "alice@isp.example");
    assert_eq!(iccn_row[6], "42");
    assert_eq!(norm(iccn_row[7]), h(&[0x11; 16]));
    assert_eq!(norm(iccn_row[8]), h(&[0x22; 16]));
    assert_eq!(norm(iccn_row[9]), h(&lcp.initial_received));
    assert_eq!(norm(iccn_row[10]), h(&lcp.last_sent));
    assert!(rows.iter().all(|r| r[11].is_empty()), "malformed: {out}");
}

/// RFC 4951's numbers as Wireshark knows them (from the IANA registry): the failover AVPs
/// (76–79) carried in SCCRQ/SCCRP and the FSQ/FSR message types (21, 22), nothing malformed.
#[test]
fn tshark_names_the_failover_avps_and_messages() {
    if !tshark_available() {
        return;
    }
    let sccrq = |extra: UnknownAvp| {
        let mut m = Sccrq::new(
            ProtocolVersion::V1_0,
            b"lac".to_vec(),
            FramingCapabilities::SYNC,
            TunnelId(42),
        );
        m.unknown = vec![extra];
        ControlMessage::from(m)
    };
    let capability = FailoverCapability {
        control: true,
        data: false,
        recovery_time_ms: 3000,
    };
    let recovery = TunnelRecovery {
        recover_tunnel_id: TunnelId(0x1234),
        recover_remote_tunnel_id: TunnelId(0xabcd),
    };
    let mut sccrp = Sccrp::new(
        ProtocolVersion::V1_0,
        FramingCapabilities::SYNC,
        b"lns".to_vec(),
        TunnelId(9),
    );
    sccrp.unknown.push(
        SuggestedControlSequence {
            ns: SeqNum(100),
            nr: SeqNum(200),
        }
        .to_avp(),
    );
    let state = FailoverSessionState {
        session_id: SessionId(5),
        remote_session_id: SessionId(6),
    };
    let messages = [
        sccrq(capability.to_avp()),
        sccrq(recovery.to_avp()),
        sccrp.into(),
        Fsq {
            sessions: vec![state],
        }
        .to_message(),
        Fsr {
            sessions: vec![state],
        }
        .to_message(),
    ];
    let header = Header::control(TunnelId(1), SessionId(0), SeqNum(0), SeqNum(0));
    let dgrams: Vec<_> = messages
        .iter()
        .map(|m| encode_packet(&header, m, None).unwrap())
        .collect();
    let path = write_capture("l2tp-wire-tshark-failover", &dgrams);
    let file = path.to_str().unwrap();
    let out = tshark(&["-r", file, "-V"]);
    let bad = tshark(&[
        "-r",
        file,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= error",
    ]);
    let _ = std::fs::remove_file(&path);
    let frames: Vec<&str> = out.split("\nFrame ").collect();
    assert_eq!(frames.len(), 5, "{out}");
    let expect = [
        "Failover Capability",
        "Tunnel Recovery",
        "Suggested Control Sequence",
        "Failover_Session_Query",
        "Failover_Session_Response",
    ];
    for (frame, name) in frames.iter().zip(expect) {
        assert!(frame.contains(name), "tshark does not see {name}:\n{frame}");
    }
    for frame in &frames[3..] {
        assert!(
            frame.contains("Failover Session State"),
            "FSQ/FSR carry Failover Session State:\n{frame}"
        );
    }
    assert!(bad.trim().is_empty(), "tshark flags packets:\n{bad}");
}
