//! RFC 4951 failover AVPs and FSQ/FSR: exact bytes, round trips through whole datagrams,
//! and malformed input (bad lengths, hidden, wrong message, empty query) as typed errors.

use l2tp_wire::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn control(message: &ControlMessage) -> Vec<u8> {
    let header = Header::control(TunnelId(7), SessionId(0), SeqNum(3), SeqNum(4));
    encode_packet(&header, message, None).unwrap()
}

fn decode(bytes: &[u8]) -> ControlMessage {
    match Packet::decode(bytes, None).unwrap() {
        Packet::Control { message, .. } => message,
        other => panic!("not a control message: {other:?}"),
    }
}

fn sccrq_with(extra: Vec<UnknownAvp>) -> Sccrq {
    let mut m = Sccrq::new(
        ProtocolVersion::V1_0,
        b"lac".to_vec(),
        FramingCapabilities::SYNC,
        TunnelId(42),
    );
    m.unknown = extra;
    m
}

#[test]
fn failover_capability_bytes_are_the_rfc_layout() {
    let cap = FailoverCapability {
        control: true,
        data: true,
        recovery_time_ms: 0x0001_2345,
    };
    let bytes = control(&sccrq_with(vec![cap.to_avp()]).into());
    let avp = [
        0x00, 0x0c, // M = 0, H = 0, Length 12
        0x00, 0x00, // IETF
        0x00, 76, // Failover Capability
        0x00, 0x03, // reserved, D, C
        0x00, 0x01, 0x23, 0x45, // Recovery Time
    ];
    assert!(
        bytes.windows(avp.len()).any(|w| w == avp),
        "AVP bytes not found in {bytes:02x?}"
    );
    let only_c = FailoverCapability {
        control: true,
        data: false,
        recovery_time_ms: 0,
    };
    assert_eq!(only_c.to_value(), [0, 1, 0, 0, 0, 0]);
}

#[test]
fn tunnel_recovery_is_mandatory_and_round_trips_in_sccrq() {
    let tr = TunnelRecovery {
        recover_tunnel_id: TunnelId(0x1234),
        recover_remote_tunnel_id: TunnelId(0xabcd),
    };
    let avp = tr.to_avp();
    assert!(avp.mandatory);
    assert_eq!(avp.value, [0, 0, 0x12, 0x34, 0xab, 0xcd]);
    let m = decode(&control(&sccrq_with(vec![avp]).into()));
    let ControlMessage::Sccrq(sccrq) = m else {
        panic!("not an SCCRQ")
    };
    assert_eq!(TunnelRecovery::find(&sccrq.unknown), Some(Ok(tr)));
    assert_eq!(FailoverCapability::find(&sccrq.unknown), None);
}

#[test]
fn suggested_control_sequence_round_trips_in_sccrp() {
    let scs = SuggestedControlSequence {
        ns: SeqNum(65535),
        nr: SeqNum(1),
    };
    let mut sccrp = Sccrp::new(
        ProtocolVersion::V1_0,
        FramingCapabilities::SYNC,
        b"lns".to_vec(),
        TunnelId(9),
    );
    sccrp.unknown.push(scs.to_avp());
    let ControlMessage::Sccrp(back) = decode(&control(&sccrp.into())) else {
        panic!("not an SCCRP")
    };
    assert_eq!(SuggestedControlSequence::find(&back.unknown), Some(Ok(scs)));
}

#[test]
fn fsq_and_fsr_round_trip_and_are_named() {
    let fsq = Fsq {
        sessions: vec![
            FailoverSessionState {
                session_id: SessionId(5),
                remote_session_id: SessionId(6),
            },
            FailoverSessionState {
                session_id: SessionId(7),
                remote_session_id: SessionId(8),
            },
        ],
    };
    let msg = decode(&control(&fsq.to_message()));
    assert_eq!(msg.message_type(), MessageType::FSQ);
    assert_eq!(MessageType::FSQ.to_string(), "FSQ");
    assert_eq!(Fsq::from_message(&msg), Ok(fsq.clone()));
    let fsr = Fsr {
        sessions: vec![FailoverSessionState {
            session_id: SessionId(0),
            remote_session_id: SessionId(5),
        }],
    };
    let msg = decode(&control(&fsr.to_message()));
    assert_eq!(MessageType::FSR.to_string(), "FSR");
    assert_eq!(Fsr::from_message(&msg), Ok(fsr));
    assert_eq!(
        AvpType::FAILOVER_SESSION_STATE.to_string(),
        "Failover Session State (79)"
    );
}

#[test]
fn bad_lengths_are_typed_errors() {
    for len in [0usize, 1, 5, 7, 20] {
        let value = vec![0u8; len];
        assert_eq!(
            FailoverCapability::decode(&value),
            Err(FailoverError::Length {
                avp: AvpType::FAILOVER_CAPABILITY,
                len
            })
        );
        assert_eq!(
            TunnelRecovery::decode(&value),
            Err(FailoverError::Length {
                avp: AvpType::TUNNEL_RECOVERY,
                len
            })
        );
        assert_eq!(
            SuggestedControlSequence::decode(&value),
            Err(FailoverError::Length {
                avp: AvpType::SUGGESTED_CONTROL_SEQUENCE,
                len
            })
        );
        assert_eq!(
            FailoverSessionState::decode(&value),
            Err(FailoverError::Length {
                avp: AvpType::FAILOVER_SESSION_STATE,
                len
            })
        );
    }
    // A short Failover Session State inside a received FSR.
    let mut short = FailoverSessionState::default().to_avp();
    short.value.pop();
    let msg = decode(&control(&ControlMessage::Unknown {
        message_type: MessageType::FSR,
        mandatory: true,
        avps: vec![short],
    }));
    assert_eq!(
        Fsr::from_message(&msg),
        Err(FailoverError::Length {
            avp: AvpType::FAILOVER_SESSION_STATE,
            len: 5
        })
    );
}

#[test]
fn hidden_wrong_message_and_empty_query_are_refused() {
    let mut hidden = TunnelRecovery::default().to_avp();
    hidden.hidden = true;
    assert_eq!(
        TunnelRecovery::find(&[hidden]),
        Some(Err(FailoverError::Hidden {
            avp: AvpType::TUNNEL_RECOVERY
        }))
    );
    let fsq = Fsq {
        sessions: vec![FailoverSessionState::default()],
    }
    .to_message();
    assert_eq!(
        Fsr::from_message(&fsq),
        Err(FailoverError::WrongMessage {
            expected: MessageType::FSR,
            got: MessageType::FSQ
        })
    );
    let empty = decode(&control(&Fsq::default().to_message()));
    assert_eq!(
        Fsq::from_message(&empty),
        Err(FailoverError::NoSessionState {
            message: MessageType::FSQ
        })
    );
    // A vendor AVP with the same attribute number is not ours.
    let mut vendor = FailoverCapability::default().to_avp();
    vendor.vendor = 9;
    assert_eq!(FailoverCapability::find(&[vendor]), None);
}

fn state() -> impl Strategy<Value = FailoverSessionState> {
    (any::<u16>(), any::<u16>()).prop_map(|(a, b)| FailoverSessionState {
        session_id: SessionId(a),
        remote_session_id: SessionId(b),
    })
}

proptest! {
    #[test]
    fn every_failover_avp_round_trips(c: bool, d: bool, t: u32, a: u16, b: u16) {
        let cap = FailoverCapability { control: c, data: d, recovery_time_ms: t };
        prop_assert_eq!(FailoverCapability::find(&[cap.to_avp()]), Some(Ok(cap)));
        let tr = TunnelRecovery { recover_tunnel_id: TunnelId(a), recover_remote_tunnel_id: TunnelId(b) };
        prop_assert_eq!(TunnelRecovery::find(&[tr.to_avp()]), Some(Ok(tr)));
        let scs = SuggestedControlSequence { ns: SeqNum(a), nr: SeqNum(b) };
        prop_assert_eq!(SuggestedControlSequence::find(&[scs.to_avp()]), Some(Ok(scs)));
    }

    #[test]
    fn fsq_round_trips_through_a_datagram(sessions in vec(state(), 1..40)) {
        let fsq = Fsq { sessions };
        let msg = decode(&control(&fsq.to_message()));
        prop_assert_eq!(Fsq::from_message(&msg), Ok(fsq));
    }

    #[test]
    fn arbitrary_values_never_panic(value in vec(any::<u8>(), 0..16), hidden: bool) {
        let avp = UnknownAvp {
            vendor: 0,
            attr: AvpType::FAILOVER_SESSION_STATE,
            mandatory: true,
            hidden,
            reserved: 0,
            value: value.clone(),
        };
        let r = FailoverSessionState::find(std::slice::from_ref(&avp));
        prop_assert_eq!(r.unwrap().is_ok(), !hidden && value.len() == 6);
        let _ = FailoverCapability::decode(&value);
    }
}
