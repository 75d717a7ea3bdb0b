//! Golden byte vectors: for every message type, the exact AVP bytes RFC 2661 §4.4 / §6
//! prescribe (built here from literal values, independently of the encoder), checked both
//! ways: encode(message) == bytes and decode(bytes) == message.

use l2tp_wire::testdata::{every_message, SECRET};
use l2tp_wire::*;

/// One cleartext IETF AVP: M bit, attribute type, value.
fn avp(m: bool, attr: u16, value: &[u8]) -> Vec<u8> {
    let len = (6 + value.len()) as u16 | if m { 0x8000 } else { 0 };
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&attr.to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn mt(t: u16) -> Vec<u8> {
    avp(true, 0, &t.to_be_bytes())
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn golden() -> Vec<Vec<u8>> {
    let lcp = [0x01, 0x01, 0x00, 0x0a, 0x05, 0x06, 0x11, 0x22, 0x33, 0x44];
    vec![
        // SCCRQ: required in §6.1 order, then optional, then the vendor AVP.
        cat(&[
            mt(1),
            avp(true, 2, &[1, 0]),
            avp(true, 7, b"lac.example"),
            avp(true, 3, &[0, 0, 0, 3]),
            avp(true, 9, &[0x03, 0xe9]),
            avp(true, 4, &[0, 0, 0, 2]),
            avp(true, 10, &[0, 16]),
            avp(true, 11, b"lac-challenge-16"),
            avp(false, 5, &[1, 2, 3, 4, 5, 6, 7, 8]),
            avp(false, 6, &[1, 2]),
            avp(false, 8, b"l2tp-rs"),
            vec![0x00, 0x0a, 0x01, 0x37, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef],
        ]),
        // SCCRP
        cat(&[
            mt(2),
            avp(true, 2, &[1, 0]),
            avp(true, 3, &[0, 0, 0, 1]),
            avp(true, 7, b"lns.example"),
            avp(true, 9, &[0x07, 0xd2]),
            avp(true, 4, &[0, 0, 0, 0]),
            avp(false, 6, &[0, 1]),
            avp(false, 8, b"l2tp-rs"),
            avp(true, 10, &[0, 8]),
            avp(true, 11, b"lns-challenge-16"),
            avp(
                true,
                13,
                &challenge_response(2, SECRET, b"lac-challenge-16"),
            ),
        ]),
        // SCCCN
        cat(&[
            mt(3),
            avp(
                true,
                13,
                &challenge_response(3, SECRET, b"lns-challenge-16"),
            ),
        ]),
        // StopCCN
        cat(&[
            mt(4),
            avp(true, 9, &[0x03, 0xe9]),
            avp(true, 1, b"\x00\x02\x00\x06shutting down"),
        ]),
        // HELLO
        mt(6),
        // OCRQ
        cat(&[
            mt(7),
            avp(true, 14, &[0, 31]),
            avp(true, 15, &[1, 2, 3, 4]),
            avp(true, 16, &9600u32.to_be_bytes()),
            avp(true, 17, &64000u32.to_be_bytes()),
            avp(true, 18, &[0, 0, 0, 1]),
            avp(true, 19, &[0, 0, 0, 1]),
            avp(true, 21, b"5551234"),
            avp(true, 23, b"7"),
        ]),
        // OCRP
        cat(&[
            mt(8),
            avp(true, 14, &[0, 32]),
            avp(false, 25, &[0, 0, 0, 4]),
        ]),
        // OCCN
        cat(&[
            mt(9),
            avp(true, 24, &64000u32.to_be_bytes()),
            avp(true, 19, &[0, 0, 0, 1]),
            avp(false, 38, &56000u32.to_be_bytes()),
            avp(true, 39, &[]),
        ]),
        // ICRQ
        cat(&[
            mt(10),
            avp(true, 14, &[0, 11]),
            avp(true, 15, &[0, 0, 0, 1]),
            avp(true, 18, &[0, 0, 0, 2]),
            avp(false, 25, &[0, 0, 0, 2]),
            avp(true, 22, b"5550100"),
            avp(true, 21, b"5550199"),
            avp(true, 23, b"12"),
        ]),
        // ICRP
        cat(&[mt(11), avp(true, 14, &[0, 22])]),
        // ICCN
        cat(&[
            mt(12),
            avp(true, 24, &100_000_000u32.to_be_bytes()),
            avp(true, 19, &[0, 0, 0, 1]),
            avp(false, 26, &lcp),
            avp(false, 27, &lcp),
            avp(false, 28, &lcp),
            avp(false, 29, &[0, 2]),
            avp(false, 30, b"alice"),
            avp(false, 31, &[0x55; 16]),
            avp(false, 32, &[0, 7]),
            avp(false, 33, &[0xaa; 16]),
            avp(false, 37, b"group-1"),
            avp(false, 38, &50_000_000u32.to_be_bytes()),
            avp(true, 39, &[]),
        ]),
        // CDN
        cat(&[
            mt(14),
            avp(true, 1, b"\x00\x03\x00\x00admin reset"),
            avp(true, 14, &[0, 22]),
            avp(true, 12, b"\x00\x10\x45normal clearing"),
        ]),
        // WEN: reserved, then six counters.
        cat(&[
            mt(15),
            avp(
                true,
                34,
                &[
                    0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6,
                ],
            ),
        ]),
        // SLI: reserved, send ACCM, receive ACCM.
        cat(&[
            mt(16),
            avp(true, 35, &[0, 0, 0, 0, 0, 0, 0x00, 0x0a, 0x00, 0x00]),
        ]),
    ]
}

#[test]
fn every_message_type_matches_its_golden_bytes() {
    let msgs = every_message();
    let gold = golden();
    assert_eq!(msgs.len(), 14, "one example per RFC 2661 message type");
    assert_eq!(msgs.len(), gold.len());
    for (m, g) in msgs.iter().zip(&gold) {
        let mut out = Vec::new();
        m.encode(&mut out, None).unwrap();
        assert_eq!(out, *g, "encoding of {}", m.message_type());
        assert_eq!(
            ControlMessage::decode(g, None).unwrap(),
            *m,
            "decoding of {}",
            m.message_type()
        );
    }
}

#[test]
fn full_datagram_with_header() {
    // HELLO to tunnel 1001 with Ns 5, Nr 9: header length 12 + 8 = 20.
    let h = Header::control(TunnelId(1001), SessionId(0), SeqNum(5), SeqNum(9));
    let bytes = encode_packet(&h, &Hello { unknown: vec![] }.into(), None).unwrap();
    assert_eq!(
        bytes,
        [
            0xc8, 0x02, 0x00, 0x14, 0x03, 0xe9, 0x00, 0x00, 0x00, 0x05, 0x00, 0x09, //
            0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06
        ]
    );
    match Packet::decode(&bytes, None).unwrap() {
        Packet::Control { header, message } => {
            assert_eq!(header, h);
            assert_eq!(message.message_type(), MessageType::HELLO);
        }
        other => panic!("not a control packet: {other:?}"),
    }
    let zlb = encode_zlb(&Header::control(
        TunnelId(7),
        SessionId(0),
        SeqNum(3),
        SeqNum(9),
    ));
    assert!(matches!(Packet::decode(&zlb, None), Ok(Packet::Zlb { .. })));
}

#[test]
fn hidden_avp_golden_vector() {
    // ICRP with a hidden Assigned Session ID (22), secret "secret", RV 00..0f:
    // the value field is (len=2, 0x00 0x16) XOR MD5(00 0e ‖ "secret" ‖ RV)[0..4].
    let rv: Vec<u8> = (0..16).collect();
    let key = {
        use md5::{Digest, Md5};
        let mut h = Md5::new();
        h.update([0x00, 0x0e]);
        h.update(b"secret");
        h.update(&rv);
        h.finalize()
    };
    let hidden_value = [key[0], 2 ^ key[1], key[2], 22 ^ key[3]];
    let mut hidden_avp = avp(true, 14, &hidden_value);
    hidden_avp[0] |= 0x40; // H bit
    let gold = cat(&[mt(11), avp(true, 36, &rv), hidden_avp]);
    let msg: ControlMessage = Icrp {
        assigned_session_id: SessionId(22),
        unknown: vec![],
    }
    .into();
    let mut out = Vec::new();
    msg.encode(&mut out, Some(Hiding::new(b"secret", &rv)))
        .unwrap();
    assert_eq!(out, gold);
    assert_eq!(ControlMessage::decode(&gold, Some(b"secret")).unwrap(), msg);
}

#[test]
fn constructors_fill_required_avps_only() {
    let m = Cdn::new(
        ResultCode::new(ResultCode::CDN_ADMINISTRATIVE),
        SessionId(4),
    );
    let mut out = Vec::new();
    ControlMessage::from(m).encode(&mut out, None).unwrap();
    assert_eq!(
        out,
        cat(&[mt(14), avp(true, 1, &[0, 3]), avp(true, 14, &[0, 4])])
    );
    assert_eq!(Hello::new(), Hello { unknown: vec![] });
}

#[test]
fn windows_sccrq_bytes() {
    // The Windows client's SCCRQ (CLIENTS.md) decodes with its facts intact.
    let m: ControlMessage = testdata::windows_sccrq().into();
    let mut out = Vec::new();
    m.encode(&mut out, None).unwrap();
    let ControlMessage::Sccrq(s) = ControlMessage::decode(&out, None).unwrap() else {
        panic!("not an SCCRQ");
    };
    assert_eq!(s.receive_window_size, Some(8));
    assert_eq!(s.vendor_name.as_deref(), Some(&b"Microsoft"[..]));
    assert_eq!(s.firmware_revision, Some(0x0600));
    assert_eq!(s.framing_capabilities, FramingCapabilities::SYNC);
}
