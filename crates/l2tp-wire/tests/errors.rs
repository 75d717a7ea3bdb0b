//! One negative test per `DecodeError` / `EncodeError` variant, and the documented leniencies
//! (docs/wire-leniency.md), each asserting what a peer would see.

use l2tp_wire::*;

fn avp(flags: u16, vendor: u16, attr: u16, value: &[u8]) -> Vec<u8> {
    let mut v = (flags | (6 + value.len()) as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&vendor.to_be_bytes());
    v.extend_from_slice(&attr.to_be_bytes());
    v.extend_from_slice(value);
    v
}
const M: u16 = 0x8000;
const H: u16 = 0x4000;

fn mt(t: u16) -> Vec<u8> {
    avp(M, 0, 0, &t.to_be_bytes())
}

fn dec(parts: &[Vec<u8>]) -> Result<ControlMessage, DecodeError> {
    ControlMessage::decode(&parts.concat(), None)
}

// ---- header errors (through Packet::decode) ----

#[test]
fn truncated_header() {
    assert_eq!(
        Packet::decode(&[0xc8, 0x02, 0x00, 0x0c, 0, 1], None),
        Err(DecodeError::TruncatedHeader {
            needed: 12,
            have: 6
        })
    );
}

#[test]
fn unsupported_version() {
    // An L2TPv3 control header (version 3) is reported as such.
    assert_eq!(
        Packet::decode(&[0xc8, 0x03, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0], None),
        Err(DecodeError::UnsupportedVersion(3))
    );
}

#[test]
fn length_mismatch() {
    assert_eq!(
        Packet::decode(&[0xc8, 0x02, 0, 20, 0, 1, 0, 0, 0, 0, 0, 0], None),
        Err(DecodeError::LengthMismatch {
            field: 20,
            datagram: 12
        })
    );
}

#[test]
fn control_without_length() {
    assert_eq!(
        Packet::decode(&[0x88, 0x02, 0, 1, 0, 0, 0, 0, 0, 0], None),
        Err(DecodeError::ControlWithoutLength)
    );
}

#[test]
fn control_without_sequence() {
    assert_eq!(
        Packet::decode(&[0xc0, 0x02, 0, 8, 0, 1, 0, 0], None),
        Err(DecodeError::ControlWithoutSequence)
    );
}

#[test]
fn control_with_offset() {
    assert_eq!(
        Packet::decode(&[0xca, 0x02, 0, 14, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], None),
        Err(DecodeError::ControlWithOffset)
    );
}

#[test]
fn control_with_priority() {
    assert_eq!(
        Packet::decode(&[0xc9, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0], None),
        Err(DecodeError::ControlWithPriority)
    );
}

#[test]
fn offset_past_end() {
    assert_eq!(
        Packet::decode(&[0x02, 0x02, 0, 1, 0, 1, 0, 4, 0xff], None),
        Err(DecodeError::OffsetPastEnd { offset: 4, len: 1 })
    );
}

// ---- AVP framing ----

#[test]
fn avp_truncated() {
    assert_eq!(
        dec(&[mt(6), vec![0x80, 0x08, 0, 0]]),
        Err(DecodeError::AvpTruncated {
            offset: 8,
            remaining: 4
        })
    );
}

#[test]
fn avp_bad_length() {
    // Length 12 but only 8 bytes left; and length 4 (< 6).
    let mut long = avp(M, 0, 14, &[0, 1]);
    long[1] = 12;
    assert_eq!(
        dec(&[mt(11), long]),
        Err(DecodeError::AvpBadLength {
            offset: 8,
            length: 12,
            remaining: 8
        })
    );
    assert_eq!(
        dec(&[vec![0x80, 0x04, 0, 0, 0, 0]]),
        Err(DecodeError::AvpBadLength {
            offset: 0,
            length: 4,
            remaining: 6
        })
    );
}

#[test]
fn invalid_avp_value() {
    // Assigned Session ID of 3 bytes in an ICRP.
    let e = dec(&[mt(11), avp(M, 0, 14, &[0, 1, 2])]).unwrap_err();
    assert_eq!(
        e,
        DecodeError::InvalidAvpValue {
            avp: AvpType::ASSIGNED_SESSION_ID,
            len: 3
        }
    );
    assert_eq!(
        e.to_string(),
        "Assigned Session ID (14) AVP value of 3 bytes has the wrong length"
    );
}

// ---- message structure ----

#[test]
fn no_message_type() {
    assert_eq!(
        ControlMessage::decode(&[], None),
        Err(DecodeError::NoMessageType)
    );
}

#[test]
fn message_type_not_first() {
    assert_eq!(
        dec(&[avp(M, 0, 14, &[0, 1]), mt(11)]),
        Err(DecodeError::MessageTypeNotFirst {
            vendor: 0,
            attr: AvpType::ASSIGNED_SESSION_ID
        })
    );
    // A hidden Message Type is not acceptable either (§4.4.1: "may not be hidden").
    assert!(matches!(
        dec(&[avp(M | H, 0, 0, &[0, 6])]),
        Err(DecodeError::MessageTypeNotFirst { .. })
    ));
}

#[test]
fn missing_avp_names_message_and_avp() {
    // SCCRQ without Host Name.
    let e = dec(&[
        mt(1),
        avp(M, 0, 2, &[1, 0]),
        avp(M, 0, 3, &[0, 0, 0, 1]),
        avp(M, 0, 9, &[0, 5]),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        DecodeError::MissingAvp {
            message: MessageType::SCCRQ,
            avp: AvpType::HOST_NAME
        }
    );
    assert_eq!(
        e.to_string(),
        "SCCRQ is missing the required Host Name (7) AVP"
    );
}

// ---- hidden AVPs ----

fn hidden_icrp() -> Vec<u8> {
    let mut out = Vec::new();
    ControlMessage::from(Icrp {
        assigned_session_id: SessionId(9),
        unknown: vec![],
    })
    .encode(&mut out, Some(Hiding::new(b"right", &[1; 16])))
    .unwrap();
    out
}

#[test]
fn hidden_without_secret() {
    assert_eq!(
        ControlMessage::decode(&hidden_icrp(), None),
        Err(DecodeError::HiddenWithoutSecret {
            avp: AvpType::ASSIGNED_SESSION_ID
        })
    );
}

#[test]
fn hidden_without_random_vector() {
    let hidden = avp(M | H, 0, 14, &[1, 2, 3, 4]);
    assert_eq!(
        ControlMessage::decode(&[mt(11), hidden].concat(), Some(b"s")),
        Err(DecodeError::HiddenWithoutRandomVector {
            avp: AvpType::ASSIGNED_SESSION_ID
        })
    );
}

#[test]
fn hidden_bad_length_with_wrong_secret() {
    let bytes = hidden_icrp();
    assert_eq!(
        ControlMessage::decode(&bytes, Some(b"right")).unwrap(),
        ControlMessage::Icrp(Icrp {
            assigned_session_id: SessionId(9),
            unknown: vec![]
        })
    );
    // With a wrong secret the decrypted length prefix cannot be trusted: it is either
    // rejected as too long, or it yields a value that fails the AVP's own length check.
    let e = ControlMessage::decode(&bytes, Some(b"wrong")).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::HiddenBadLength { .. } | DecodeError::InvalidAvpValue { .. }
        ),
        "{e:?}"
    );
    // A hidden value too short to hold the length prefix.
    let short = [mt(11), avp(M, 0, 36, &[7; 16]), avp(M | H, 0, 14, &[1])].concat();
    assert_eq!(
        ControlMessage::decode(&short, Some(b"s")),
        Err(DecodeError::HiddenBadLength {
            avp: AvpType::ASSIGNED_SESSION_ID,
            declared: 0,
            available: 1
        })
    );
}

// ---- encode errors ----

#[test]
fn encode_avp_too_long() {
    let mut sccrq = testdata::windows_sccrq();
    sccrq.host_name = vec![b'h'; 1018];
    let mut out = Vec::new();
    assert_eq!(
        ControlMessage::from(sccrq).encode(&mut out, None),
        Err(EncodeError::AvpTooLong {
            avp: AvpType::HOST_NAME,
            len: 1018
        })
    );
}

#[test]
fn encode_message_too_long() {
    let mut sccrq = testdata::windows_sccrq();
    sccrq.unknown = (0..70)
        .map(|i| UnknownAvp {
            vendor: 9,
            attr: AvpType(i),
            mandatory: false,
            hidden: false,
            reserved: 0,
            value: vec![0; 1000],
        })
        .collect();
    let h = Header::control(TunnelId(1), SessionId(0), SeqNum(0), SeqNum(0));
    assert!(matches!(
        encode_packet(&h, &sccrq.into(), None),
        Err(EncodeError::MessageTooLong { .. })
    ));
}

// ---- leniency (docs/wire-leniency.md) ----

#[test]
fn mikrotik_result_code_with_stray_octet_in_cdn() {
    let m = dec(&[
        mt(14),
        avp(M, 0, 1, &[0, 2, 0, 6, 0x20]),
        avp(M, 0, 14, &[0, 3]),
    ])
    .unwrap();
    let ControlMessage::Cdn(cdn) = m else {
        panic!("not a CDN")
    };
    assert_eq!(cdn.result_code, ResultCode::with_error(2, 6, None));
    assert_eq!(cdn.assigned_session_id, SessionId(3));
}

#[test]
fn unknown_avps_are_kept_with_their_m_bit() {
    let m = dec(&[
        mt(6),
        avp(0, 311, 1, &[1, 2]),         // Microsoft vendor AVP, M = 0
        avp(M, 0, 99, &[3]),             // unknown IETF type, M = 1
        avp(M | 0x0400, 0, 14, &[0, 1]), // reserved bit set: unrecognised (§4.1)
    ])
    .unwrap();
    let u = m.unknown_avps();
    assert_eq!(u.len(), 3);
    assert!(!u[0].mandatory && u[0].vendor == 311);
    assert!(u[1].mandatory && u[1].attr == AvpType(99));
    assert_eq!(u[2].reserved, 1);
}

#[test]
fn duplicates_keep_the_first_and_unexpected_known_avps_are_ignored() {
    let m = dec(&[
        mt(11),
        avp(M, 0, 14, &[0, 5]),
        avp(M, 0, 14, &[0, 6]),
        avp(M, 0, 7, b"host"), // Host Name is not an ICRP AVP
    ])
    .unwrap();
    assert_eq!(
        m,
        ControlMessage::Icrp(Icrp {
            assigned_session_id: SessionId(5),
            unknown: vec![]
        })
    );
}

#[test]
fn random_vector_without_hidden_avps_is_accepted() {
    // xl2tpd's "hidden bit" option only adds Random Vector AVPs (CLIENTS.md).
    let m = dec(&[mt(6), avp(M, 0, 36, &[9; 16])]).unwrap();
    assert_eq!(m, ControlMessage::Hello(Hello { unknown: vec![] }));
}

#[test]
fn unknown_message_type_is_reported_not_rejected() {
    let m = dec(&[avp(0, 0, 0, &[0, 200]), avp(M, 0, 14, &[0, 1])]).unwrap();
    match m {
        ControlMessage::Unknown {
            message_type,
            mandatory,
            avps,
        } => {
            assert_eq!(message_type, MessageType(200));
            assert!(!mandatory);
            assert_eq!(avps.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}
