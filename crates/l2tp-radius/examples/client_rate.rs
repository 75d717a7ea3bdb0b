//! How many Access-Request/Accept round trips per second the client core and codec handle on
//! one core, with an in-memory "server" (decode, verify the request's Message-Authenticator,
//! build and sign an Accept with the usual attributes). Both sides' MD5/HMAC work is in the
//! figure; no sockets.
//!
//! Run: `cargo run --release -p l2tp-radius --example client_rate [ROUND_TRIPS]`

use std::time::{Duration, Instant};

use l2tp_radius::attr::{ms, VENDOR_MICROSOFT};
use l2tp_radius::client::{Client, ClientConfig, ClientEvent, ServerConfig};
use l2tp_radius::crypt::{sign_reply, verify_access_request};
use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo};
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let addr = "192.0.2.5:1812".parse().unwrap();
    let secret = Secret::new("benchmark-secret");
    let mut cfg = ClientConfig::new(
        vec![ServerConfig {
            addr,
            secret: secret.clone(),
            priority: 1,
        }],
        vec![],
        NasIdentity {
            identifier: Some("lns".into()),
            ..Default::default()
        },
    );
    cfg.timeout = Duration::from_secs(3600);
    let mut c = Client::new(cfg, StdRng::seed_from_u64(1));
    let session = SessionInfo {
        user_name: "alice".into(),
        nas_port: 1,
        acct_session_id: "00000001".into(),
        calling_station_id: Some("lac".into()),
        called_station_id: None,
        tunnel: None,
    };
    let now = Instant::now();
    let start = Instant::now();
    let mut accepted = 0u32;
    for _ in 0..n {
        c.authenticate(
            now,
            AccessRequest {
                session: session.clone(),
                credentials: ppp::Credentials::Pap {
                    password: b"password".to_vec(),
                },
            },
        )
        .unwrap();
        let t = c.poll_transmit().unwrap();
        verify_access_request(&t.bytes, &secret, true).unwrap();
        let req = Packet::decode(&t.bytes).unwrap();
        let mut r = Packet::new(Code::ACCESS_ACCEPT, req.id, [0; 16]);
        r.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
        r.push(Attr::ipv4(
            AttrType::FRAMED_IP_ADDRESS,
            "192.0.2.10".parse().unwrap(),
        ));
        r.push(Attr::vendor(
            VENDOR_MICROSOFT,
            ms::PRIMARY_DNS_SERVER,
            &[192, 0, 2, 53],
        ));
        r.push(Attr::u32(AttrType::SESSION_TIMEOUT, 3600));
        r.push(Attr::new(AttrType::CLASS, "gold"));
        let mut b = r.encode().unwrap();
        sign_reply(&mut b, &secret, &req.authenticator);
        c.handle_datagram(now, addr, &b);
        if let Some(ClientEvent::Access { .. }) = c.poll_event() {
            accepted += 1;
        }
    }
    let el = start.elapsed();
    assert_eq!(accepted, n);
    println!(
        "{n} round trips in {:.2?}: {:.0} per second, {:.1} µs each",
        el,
        f64::from(n) / el.as_secs_f64(),
        el.as_secs_f64() * 1e6 / f64::from(n)
    );
}
