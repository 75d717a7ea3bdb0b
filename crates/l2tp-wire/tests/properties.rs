//! Property tests: `decode(encode(m)) == m` for arbitrary messages of every type (with and
//! without hiding), `encode(decode(b)) == b` for canonical bytes, and "decoding arbitrary or
//! mutated bytes never panics".

use l2tp_wire::listing::list_avps;
use l2tp_wire::*;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn text(min: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{{min},24}}")).unwrap()
}

fn unknown_avp() -> impl Strategy<Value = UnknownAvp> {
    // Never a recognised AVP: a vendor id, or an IETF type RFC 2661 does not define.
    let who = prop_oneof![
        (1u16.., any::<u16>()).prop_map(|(v, a)| (v, a)),
        (40u16..).prop_map(|a| (0u16, a)),
    ];
    (who, any::<bool>(), any::<bool>(), bytes(20)).prop_map(
        |((vendor, attr), mandatory, hidden, value)| UnknownAvp {
            vendor,
            attr: AvpType(attr),
            mandatory,
            hidden,
            reserved: 0,
            value,
        },
    )
}

fn unknowns() -> impl Strategy<Value = Vec<UnknownAvp>> {
    vec(unknown_avp(), 0..3)
}

fn result_code() -> impl Strategy<Value = ResultCode> {
    (any::<u16>(), of((any::<u16>(), of(text(2))))).prop_map(|(result, e)| match e {
        None => ResultCode::new(result),
        Some((error, message)) => ResultCode {
            result,
            error: Some(error),
            message,
        },
    })
}

fn framing() -> impl Strategy<Value = FramingCapabilities> {
    any::<u32>().prop_map(FramingCapabilities)
}

fn bearer() -> impl Strategy<Value = BearerCapabilities> {
    any::<u32>().prop_map(BearerCapabilities)
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    (any::<u8>(), any::<u8>()).prop_map(|(version, revision)| ProtocolVersion { version, revision })
}

fn message() -> impl Strategy<Value = ControlMessage> {
    let sccrq = (
        (version(), bytes(30), framing(), any::<u16>()),
        (
            of(bearer()),
            of(any::<u16>()),
            of(bytes(30)),
            of(any::<[u8; 8]>()),
            of(any::<u16>()),
            of(bytes(20)),
        ),
        unknowns(),
    )
        .prop_map(|((pv, hn, fc, t), (bc, rws, ch, tb, fw, vn), unknown)| {
            ControlMessage::from(Sccrq {
                protocol_version: pv,
                host_name: hn,
                framing_capabilities: fc,
                assigned_tunnel_id: TunnelId(t),
                bearer_capabilities: bc,
                receive_window_size: rws,
                challenge: ch,
                tie_breaker: tb,
                firmware_revision: fw,
                vendor_name: vn,
                unknown,
            })
        });
    let sccrp = (
        (version(), framing(), bytes(30), any::<u16>()),
        (
            of(bearer()),
            of(any::<u16>()),
            of(bytes(20)),
            of(any::<u16>()),
            of(bytes(30)),
            of(any::<[u8; 16]>()),
        ),
        unknowns(),
    )
        .prop_map(|((pv, fc, hn, t), (bc, fw, vn, rws, ch, cr), unknown)| {
            ControlMessage::from(Sccrp {
                protocol_version: pv,
                framing_capabilities: fc,
                host_name: hn,
                assigned_tunnel_id: TunnelId(t),
                bearer_capabilities: bc,
                firmware_revision: fw,
                vendor_name: vn,
                receive_window_size: rws,
                challenge: ch,
                challenge_response: cr,
                unknown,
            })
        });
    let scccn = (of(any::<[u8; 16]>()), unknowns()).prop_map(|(cr, unknown)| {
        ControlMessage::from(Scccn {
            challenge_response: cr,
            unknown,
        })
    });
    let stopccn = (any::<u16>(), result_code(), unknowns()).prop_map(|(t, rc, unknown)| {
        ControlMessage::from(StopCcn {
            assigned_tunnel_id: TunnelId(t),
            result_code: rc,
            unknown,
        })
    });
    let hello = unknowns().prop_map(|unknown| ControlMessage::from(Hello { unknown }));
    let ocrq = (
        (any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (bearer(), framing(), bytes(20), of(bytes(10))),
        unknowns(),
    )
        .prop_map(|((s, csn, min, max), (bt, ft, called, sub), unknown)| {
            ControlMessage::from(Ocrq {
                assigned_session_id: SessionId(s),
                call_serial_number: csn,
                minimum_bps: min,
                maximum_bps: max,
                bearer_type: bt,
                framing_type: ft,
                called_number: called,
                sub_address: sub,
                unknown,
            })
        });
    let ocrp = (any::<u16>(), of(any::<u32>()), unknowns()).prop_map(|(s, pc, unknown)| {
        ControlMessage::from(Ocrp {
            assigned_session_id: SessionId(s),
            physical_channel_id: pc,
            unknown,
        })
    });
    let occn = (
        any::<u32>(),
        framing(),
        of(any::<u32>()),
        any::<bool>(),
        unknowns(),
    )
        .prop_map(|(tx, ft, rx, seq, unknown)| {
            ControlMessage::from(Occn {
                tx_connect_speed: tx,
                framing_type: ft,
                rx_connect_speed: rx,
                sequencing_required: seq,
                unknown,
            })
        });
    let icrq = (
        (any::<u16>(), any::<u32>(), of(bearer()), of(any::<u32>())),
        (of(bytes(20)), of(bytes(20)), of(bytes(10))),
        unknowns(),
    )
        .prop_map(|((s, csn, bt, pc), (calling, called, sub), unknown)| {
            ControlMessage::from(Icrq {
                assigned_session_id: SessionId(s),
                call_serial_number: csn,
                bearer_type: bt,
                physical_channel_id: pc,
                calling_number: calling,
                called_number: called,
                sub_address: sub,
                unknown,
            })
        });
    let icrp = (any::<u16>(), unknowns()).prop_map(|(s, unknown)| {
        ControlMessage::from(Icrp {
            assigned_session_id: SessionId(s),
            unknown,
        })
    });
    let iccn = (
        (
            any::<u32>(),
            framing(),
            of(bytes(20)),
            of(bytes(20)),
            of(bytes(20)),
        ),
        (
            of(any::<u16>().prop_map(ProxyAuthenType)),
            of(bytes(10)),
            of(bytes(16)),
            of(any::<u16>()),
            of(bytes(16)),
        ),
        (of(bytes(10)), of(any::<u32>()), any::<bool>(), unknowns()),
    )
        .prop_map(
            |((tx, ft, irl, lsl, lrl), (pat, pan, pac, pai, par), (pg, rx, seq, unknown))| {
                ControlMessage::from(Iccn {
                    tx_connect_speed: tx,
                    framing_type: ft,
                    initial_received_lcp_confreq: irl,
                    last_sent_lcp_confreq: lsl,
                    last_received_lcp_confreq: lrl,
                    proxy_authen_type: pat,
                    proxy_authen_name: pan,
                    proxy_authen_challenge: pac,
                    proxy_authen_id: pai,
                    proxy_authen_response: par,
                    private_group_id: pg,
                    rx_connect_speed: rx,
                    sequencing_required: seq,
                    unknown,
                })
            },
        );
    let cdn = (
        result_code(),
        any::<u16>(),
        of((any::<u16>(), any::<u8>(), of(text(1)))),
        unknowns(),
    )
        .prop_map(|(rc, s, q, unknown)| {
            ControlMessage::from(Cdn {
                result_code: rc,
                assigned_session_id: SessionId(s),
                q931_cause: q.map(|(cause_code, cause_msg, advisory)| Q931Cause {
                    cause_code,
                    cause_msg,
                    advisory,
                }),
                unknown,
            })
        });
    let wen = (any::<[u32; 6]>(), unknowns()).prop_map(|(c, unknown)| {
        ControlMessage::from(Wen {
            call_errors: CallErrors {
                crc_errors: c[0],
                framing_errors: c[1],
                hardware_overruns: c[2],
                buffer_overruns: c[3],
                timeout_errors: c[4],
                alignment_errors: c[5],
            },
            unknown,
        })
    });
    let sli = (any::<u32>(), any::<u32>(), unknowns()).prop_map(|(s, r, unknown)| {
        ControlMessage::from(Sli {
            accm: Accm {
                send_accm: s,
                receive_accm: r,
            },
            unknown,
        })
    });
    prop_oneof![
        sccrq, sccrp, scccn, stopccn, hello, ocrq, ocrp, occn, icrq, icrp, iccn, cdn, wen, sli
    ]
}

fn unknown_message() -> impl Strategy<Value = ControlMessage> {
    let undefined = prop_oneof![Just(0u16), Just(5), Just(13), 17u16..];
    (undefined, any::<bool>(), vec(unknown_avp(), 0..4)).prop_map(|(t, mandatory, avps)| {
        ControlMessage::Unknown {
            message_type: MessageType(t),
            mandatory,
            avps,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn decode_encode_round_trip(m in prop_oneof![4 => message(), 1 => unknown_message()]) {
        let mut bytes = Vec::new();
        m.encode(&mut bytes, None).unwrap();
        let back = ControlMessage::decode(&bytes, None).unwrap();
        prop_assert_eq!(&back, &m);
        // Canonical bytes re-encode to themselves.
        let mut again = Vec::new();
        back.encode(&mut again, None).unwrap();
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn hidden_round_trip(m in prop_oneof![4 => message(), 1 => unknown_message()], secret in vec(any::<u8>(), 1..24), rv in vec(any::<u8>(), 1..24)) {
        let mut bytes = Vec::new();
        m.encode(&mut bytes, Some(Hiding::new(&secret, &rv))).unwrap();
        prop_assert_eq!(ControlMessage::decode(&bytes, Some(&secret)).unwrap(), m);
    }

    #[test]
    fn whole_packet_round_trip(m in message(), t in any::<u16>(), s in any::<u16>(), ns in any::<u16>(), nr in any::<u16>()) {
        let h = Header::control(TunnelId(t), SessionId(s), SeqNum(ns), SeqNum(nr));
        let bytes = encode_packet(&h, &m, None).unwrap();
        match Packet::decode(&bytes, None).unwrap() {
            Packet::Control { header, message } => {
                prop_assert_eq!(header, h);
                prop_assert_eq!(message, m);
            }
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in vec(any::<u8>(), 0..200), secret in of(vec(any::<u8>(), 0..8))) {
        let _ = Packet::decode(&b, secret.as_deref());
        let _ = ControlMessage::decode(&b, secret.as_deref());
        let _ = list_avps(&b, secret.as_deref());
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), hide in any::<bool>()) {
        let mut bytes = Vec::new();
        let hiding = hide.then(|| Hiding::new(b"k", b"rv"));
        m.encode(&mut bytes, hiding).unwrap();
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        let _ = ControlMessage::decode(&bytes, Some(b"k"));
        let _ = ControlMessage::decode(&bytes, None);
        for a in list_avps(&bytes, Some(b"k")).unwrap_or_default() {
            let _ = a.value_string();
        }
    }
}

proptest! {
    /// Padded hiding (§4.3): every hidden value fills whole 16-octet blocks, so its length
    /// says nothing finer, and the receiver recovers each value exactly.
    #[test]
    fn padded_hidden_values_fill_whole_blocks_and_round_trip(
        number in vec(any::<u8>(), 0..100),
        serial in any::<u32>(),
        pad in vec(any::<u8>(), 15..=15),
    ) {
        let msg = ControlMessage::from(Icrq {
            assigned_session_id: SessionId(7),
            call_serial_number: serial,
            bearer_type: None,
            physical_channel_id: None,
            calling_number: Some(number.clone()),
            called_number: None,
            sub_address: None,
            unknown: vec![],
        });
        let mut out = Vec::new();
        msg.encode(&mut out, Some(Hiding::new(b"secret", &[3; 16]).padded(&pad))).unwrap();
        let mut hidden = 0;
        for a in AvpIter::new(&out) {
            let a = a.unwrap();
            if a.hidden {
                hidden += 1;
                prop_assert_eq!(a.value.len() % 16, 0, "{:?}", a.attr);
            }
        }
        prop_assert_eq!(hidden, 3); // session id, serial number, calling number
        prop_assert_eq!(ControlMessage::decode(&out, Some(b"secret")).unwrap(), msg);
    }
}
