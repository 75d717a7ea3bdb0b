//! Property tests: decoding never panics on any bytes, encode→decode round-trips, the
//! password schemes invert, and no byte string from a server or DAE client without the
//! secret can decide anything.

use std::time::{Duration, Instant, SystemTime};

use l2tp_radius::client::{Client, ClientConfig, ClientEvent, ServerConfig};
use l2tp_radius::crypt::{
    decrypt_tunnel_password, encrypt_tunnel_password, hide_password, unhide_password,
    verify_hashed_request, verify_reply,
};
use l2tp_radius::dae::{DaeClient, DaeConfig, DaeOutcome, DaeServer};
use l2tp_radius::reply::{parse_accept, MsChapError, RateLimitAttr};
use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo};
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn attr() -> impl Strategy<Value = Attr> {
    (any::<u8>(), prop::collection::vec(any::<u8>(), 0..=253))
        .prop_map(|(t, v)| Attr::new(AttrType(t), v))
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<[u8; 16]>(),
        prop::collection::vec(attr(), 0..15),
    )
        .prop_map(|(c, id, auth, attrs)| Packet {
            code: Code(c),
            id,
            authenticator: auth,
            attrs,
        })
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..5000)) {
        let _ = Packet::decode(&bytes);
        let s = Secret::new("s");
        let _ = verify_reply(&bytes, &s, &[0; 16], true);
        let _ = verify_hashed_request(&bytes, &s, true);
        let _ = MsChapError::parse(&bytes);
    }

    #[test]
    fn encode_decode_round_trips(p in packet()) {
        match p.encode() {
            Ok(b) => {
                prop_assert!(b.len() <= 4096);
                prop_assert_eq!(Packet::decode(&b).unwrap(), p);
            }
            Err(_) => {
                let size: usize = 20 + p.attrs.iter().map(|a| a.value.len() + 2).sum::<usize>();
                prop_assert!(size > 4096);
            }
        }
    }

    #[test]
    fn decoded_attributes_never_panic_the_reply_parser(p in packet()) {
        let rate = RateLimitAttr::Vendor { vendor: 311, vtype: 200 };
        let _ = parse_accept(&p, Some(&rate));
        let _ = parse_accept(&p, Some(&RateLimitAttr::FilterId { prefix: "r".into() }));
    }

    #[test]
    fn passwords_invert(pw in prop::collection::vec(1u8..=255, 0..=128), ra in any::<[u8; 16]>(), salt in any::<u16>()) {
        let s = Secret::new("secret");
        let h = hide_password(&pw, &s, &ra).unwrap();
        prop_assert_eq!(unhide_password(&h, &s, &ra).unwrap(), pw.clone());
        let t = encrypt_tunnel_password(3, &pw, &s, &ra, salt).unwrap();
        prop_assert_eq!(decrypt_tunnel_password(&t, &s, &ra).unwrap(), (3, pw));
    }

    #[test]
    fn random_replies_from_the_server_address_decide_nothing(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..20),
        keep_id in any::<bool>(),
    ) {
        let server = "127.0.0.1:1812".parse().unwrap();
        let cfg = ClientConfig::new(
            vec![ServerConfig { addr: server, secret: Secret::new("s"), priority: 1 }],
            vec![],
            NasIdentity::default(),
        );
        let mut c = Client::new(cfg, ChaCha8Rng::seed_from_u64(1));
        let now = Instant::now();
        c.authenticate(now, AccessRequest {
            session: SessionInfo {
                user_name: "u".into(), nas_port: 0, acct_session_id: "a".into(),
                calling_station_id: None, called_station_id: None, tunnel: None,
            },
            credentials: ppp::Credentials::Pap { password: b"p".to_vec() },
        }).unwrap();
        let req = c.poll_transmit().unwrap().bytes;
        for mut d in datagrams {
            if keep_id && d.len() > 1 {
                d[1] = req[1]; // aim at the outstanding request
            }
            c.handle_datagram(now + Duration::from_millis(1), server, &d);
        }
        let events: Vec<ClientEvent> = std::iter::from_fn(|| c.poll_event()).collect();
        prop_assert!(events.is_empty(), "{:?}", events);
        prop_assert_eq!(c.outstanding(), 1);
    }

    #[test]
    fn random_dae_datagrams_are_dropped(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut s = DaeServer::new(DaeConfig {
            clients: vec![DaeClient { addr: "127.0.0.1".parse().unwrap(), secret: Secret::new("s") }],
            nas: NasIdentity::default(),
            require_message_authenticator: true,
            event_timestamp_window: Duration::from_secs(300),
            require_event_timestamp: false,
            rate_limit: None,
        });
        let out = s.handle_datagram(Instant::now(), SystemTime::now(), "127.0.0.1:5000".parse().unwrap(), &bytes);
        prop_assert_eq!(out, DaeOutcome::Dropped);
    }
}
