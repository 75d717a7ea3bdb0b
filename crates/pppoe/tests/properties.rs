//! Property tests: no byte sequence panics the decoder or the access concentrator, and every
//! frame the encoder can build decodes back to itself (modest case counts: this runs in CI).

use proptest::prelude::*;

use pppoe::tr101::AccessLine;
use pppoe::{Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, TagType, VlanTag};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        bytes(40).prop_map(Tag::ServiceName),
        bytes(40).prop_map(Tag::AcName),
        bytes(40).prop_map(Tag::HostUniq),
        bytes(40).prop_map(Tag::AcCookie),
        bytes(20).prop_map(Tag::RelaySessionId),
        any::<u16>().prop_map(Tag::PppMaxPayload),
        bytes(20).prop_map(Tag::ServiceNameError),
        bytes(20).prop_map(Tag::AcSystemError),
        bytes(20).prop_map(Tag::GenericError),
        (any::<u32>(), bytes(30)).prop_map(|(vendor_id, data)| Tag::VendorSpecific(
            pppoe::VendorTag { vendor_id, data }
        )),
        (
            proptest::option::of(bytes(63)),
            proptest::option::of(bytes(63))
        )
            .prop_map(|(c, r)| {
                Tag::VendorSpecific(AccessLine::new(c.as_deref(), r.as_deref()).to_vendor_tag())
            }),
        // Unknown types: anything but the ones with a variant of their own.
        (0x0300u16..0xffff, bytes(20)).prop_map(|(t, value)| Tag::Unknown {
            tag_type: TagType(t),
            value
        }),
    ]
}

fn eth() -> impl Strategy<Value = EthHeader> {
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        proptest::collection::vec(
            (
                prop_oneof![Just(0x8100u16), Just(0x88a8), Just(0x9100)],
                any::<u16>(),
            ),
            0..3,
        ),
    )
        .prop_map(|(d, s, v)| EthHeader {
            dst: MacAddr(d),
            src: MacAddr(s),
            vlans: v
                .into_iter()
                .map(|(tpid, tci)| VlanTag { tpid, tci })
                .collect(),
            ethertype: 0,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(300)) {
        let _ = Frame::decode(&data);
        pppoe::fuzzing::fuzz_decode(&data);
    }

    #[test]
    fn pppoe_ethertype_with_arbitrary_rest_never_panics(
        session in any::<bool>(), rest in bytes(120)
    ) {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(if session { &[0x88, 0x64] } else { &[0x88, 0x63] });
        f.push(0x11);
        f.extend_from_slice(&rest);
        let _ = Frame::decode(&f);
        pppoe::fuzzing::fuzz_decode(&f);
    }

    #[test]
    fn discovery_round_trip(
        eth in eth(),
        code in prop_oneof![Just(Code::PADI), Just(Code::PADO), Just(Code::PADR),
                            Just(Code::PADS), Just(Code::PADT)],
        session_id in any::<u16>(),
        mut tags in proptest::collection::vec(tag(), 0..8),
        end in any::<bool>(),
        pad in bytes(20),
    ) {
        if end {
            tags.push(Tag::EndOfList);
        }
        let f = Frame { eth, pppoe: Pppoe::Discovery(Discovery { code, session_id, tags }) };
        let mut b = f.encode().unwrap();
        b.extend_from_slice(&pad); // Ethernet padding after LENGTH
        let back = Frame::decode(&b).unwrap();
        let mut want = f.clone();
        want.eth.ethertype = pppoe::ETHERTYPE_DISCOVERY;
        prop_assert_eq!(back, want);
    }

    #[test]
    fn session_round_trip(eth in eth(), session_id in any::<u16>(), payload in bytes(200)) {
        let f = Frame { eth, pppoe: Pppoe::Session { session_id, payload: &payload } };
        let b = f.encode().unwrap();
        let back = Frame::decode(&b).unwrap();
        prop_assert_eq!(back.pppoe, f.pppoe);
        prop_assert_eq!(back.eth.vlans, f.eth.vlans);
    }

    #[test]
    fn truncating_a_valid_frame_is_an_error_not_a_panic(
        eth in eth(), tags in proptest::collection::vec(tag(), 1..6), cut in any::<prop::sample::Index>()
    ) {
        let f = Frame { eth, pppoe: Pppoe::Discovery(Discovery { code: Code::PADI, session_id: 0, tags }) };
        let b = f.encode().unwrap();
        let n = cut.index(b.len());
        prop_assert!(Frame::decode(&b[..n]).is_err());
    }
}
