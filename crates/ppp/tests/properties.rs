//! Property tests: codecs round-trip, and no byte sequence from a peer makes a link panic or
//! break its invariants (modest case counts: this runs in CI).

use proptest::prelude::*;

use ppp::{classify, encapsulate, ip_frame_header, options, packet, Protocol};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encapsulate_then_classify(proto in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Valid protocol numbers: low octet odd, high octet even (RFC 1661 §2).
        let proto = Protocol((proto & 0xfeff) | 1);
        let mut f = Vec::new();
        encapsulate(proto, &payload, &mut f);
        prop_assert_eq!(classify(&f), Ok((proto, &payload[..])));
        // Without FF 03 (ACFC) too.
        prop_assert_eq!(classify(&f[2..]), Ok((proto, &payload[..])));
    }

    #[test]
    fn ip_headers_classify(acfc in any::<bool>(), v6 in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 1..32)) {
        let proto = if v6 { Protocol::IPV6 } else { Protocol::IPV4 };
        let mut f = ip_frame_header(proto, acfc).to_vec();
        f.extend_from_slice(&payload);
        prop_assert_eq!(classify(&f), Ok((proto, &payload[..])));
    }

    #[test]
    fn options_round_trip(opts in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..8)) {
        let mut bytes = Vec::new();
        for (k, d) in &opts {
            options::push(&mut bytes, *k, d);
        }
        let decoded = options::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.len(), opts.len());
        for (o, (k, d)) in decoded.iter().zip(&opts) {
            prop_assert_eq!(o.kind, *k);
            prop_assert_eq!(o.data, &d[..]);
        }
        prop_assert_eq!(options::encode(&decoded), bytes);
    }

    #[test]
    fn packet_round_trip(code in any::<u8>(), id in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..64), pad in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut b = packet::encode(packet::Code(code), id, &data);
        b.extend_from_slice(&pad); // RFC 1661 §5: padding after Length is ignored
        let p = packet::Packet::decode(&b).unwrap();
        prop_assert_eq!((p.code.0, p.id, p.data), (code, id, &data[..]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        ppp::fuzzing::fuzz_decode(&data);
    }

    #[test]
    fn control_frames_with_valid_headers_never_panic(
        frames in proptest::collection::vec(
            (prop_oneof![Just(0xc021u16), Just(0xc023), Just(0xc223), Just(0x8021), Just(0x8057), Just(0x0021), Just(0x80fd)],
             1u8..14, any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
            0..24)
    ) {
        // Well-formed headers reach deeper than random bytes do.
        let mut seq = Vec::new();
        for (proto, code, id, data) in frames {
            let mut f = proto.to_be_bytes().to_vec();
            f.extend_from_slice(&packet::encode(packet::Code(code), id, &data));
            seq.push(f.len().min(255) as u8);
            seq.extend_from_slice(&f[..f.len().min(255)]);
            if id % 5 == 0 {
                seq.push(0); // a timer tick
            }
        }
        ppp::fuzzing::fuzz_decode(&seq);
    }
}
