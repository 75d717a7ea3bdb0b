//! Shared body of the `radius_decode` fuzz target and of the stable corpus-replay test, so
//! the committed corpus is checked on every `cargo test` without a fuzzer.
//!
//! Every decoder runs on the raw bytes (with the codec round trip checked), then the bytes
//! go as replies to a client with requests outstanding (without the secret nothing may be
//! decided) and as requests to a DAE server (whose answers must verify). Nothing may panic.

use std::time::{Duration, Instant, SystemTime};

use rand::rngs::mock::StepRng;

use crate::client::{Client, ClientConfig, ServerConfig};
use crate::crypt::{decrypt_tunnel_password, unhide_password, verify_hashed_request, verify_reply};
use crate::dae::{DaeClient, DaeConfig, DaeOutcome, DaeServer};
use crate::packet::{frame, parse_vendor_specific, Packet};
use crate::reply::{parse_accept, AccessOutcome, MsChapError, RateLimitAttr};
use crate::request::{AccessRequest, NasIdentity, SessionInfo};
use crate::{AttrType, Secret};

/// Runs every decoder on `data` and feeds it to a client and a DAE server. Panics only on a
/// real bug (a codec round trip that does not hold, a forged decision, a panic inside).
pub fn fuzz_decode(data: &[u8]) {
    decoders(data);
    client(data);
    dae(data);
}

fn decoders(data: &[u8]) {
    let s = Secret::new("fuzz");
    let _ = verify_reply(data, &s, &[0; 16], true);
    let _ = verify_hashed_request(data, &s, false);
    let Ok(p) = Packet::decode(data) else {
        return;
    };
    let framed = frame(data).expect("decoded, so framed");
    assert_eq!(p.encode().as_deref(), Ok(framed), "codec round trip");
    let _ = AccessOutcome::from_reply(
        &p,
        true,
        Some(&RateLimitAttr::FilterId {
            prefix: "rate=".into(),
        }),
    );
    let _ = parse_accept(
        &p,
        Some(&RateLimitAttr::Vendor {
            vendor: 9,
            vtype: 1,
        }),
    );
    for a in &p.attrs {
        match a.typ {
            AttrType::VENDOR_SPECIFIC => {
                for v in parse_vendor_specific(&a.value).unwrap_or_default() {
                    let _ = MsChapError::parse(&v.data);
                }
            }
            AttrType::USER_PASSWORD => {
                let _ = unhide_password(&a.value, &s, &p.authenticator);
            }
            AttrType::TUNNEL_PASSWORD => {
                let _ = decrypt_tunnel_password(&a.value, &s, &p.authenticator);
            }
            _ => {
                let _ = (a.as_u32(), a.as_ipv4(), a.as_text(), a.as_tagged());
            }
        }
    }
}

fn client(data: &[u8]) {
    let server = "192.0.2.1:1812".parse().expect("address");
    let acct = "192.0.2.1:1813".parse().expect("address");
    let cfg = ClientConfig::new(
        vec![ServerConfig {
            addr: server,
            secret: Secret::new("fuzz"),
            priority: 1,
        }],
        vec![ServerConfig {
            addr: acct,
            secret: Secret::new("fuzz"),
            priority: 1,
        }],
        NasIdentity::default(),
    );
    let mut c = Client::new(cfg, StepRng::new(1, 1));
    let now = Instant::now();
    let session = SessionInfo {
        user_name: "u".into(),
        nas_port: 0,
        acct_session_id: "a".into(),
        calling_station_id: None,
        called_station_id: None,
        tunnel: None,
    };
    c.authenticate(
        now,
        AccessRequest {
            session,
            credentials: ppp::Credentials::Pap {
                password: b"p".to_vec(),
            },
        },
    )
    .expect("one request");
    c.account_attrs(now, Vec::new(), Duration::ZERO)
        .expect("one record");
    let sent: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    // Aim the input at the outstanding identifiers too, so it reaches the authenticator checks.
    let mut aimed = data.to_vec();
    for (i, t) in sent.iter().enumerate() {
        if aimed.len() > 1 {
            aimed[1] = t.bytes[1];
        }
        let to = if i == 0 { server } else { acct };
        c.handle_datagram(now, to, data);
        c.handle_datagram(now, to, &aimed);
    }
    assert!(
        c.poll_event().is_none(),
        "bytes without the secret decided something"
    );
    c.handle_timeout(now + Duration::from_secs(60));
}

fn dae(data: &[u8]) {
    let mut d = DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: "192.0.2.1".parse().expect("address"),
            secret: Secret::new("fuzz"),
        }],
        nas: NasIdentity::default(),
        require_message_authenticator: true,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: false,
        rate_limit: Some(RateLimitAttr::FilterId {
            prefix: "rate=".into(),
        }),
    });
    let from = "192.0.2.1:3799".parse().expect("address");
    // The committed corpus holds requests signed with this secret, so both the refusal and
    // the acceptance paths run; whatever we answer must verify at the client.
    let reply = match d.handle_datagram(Instant::now(), SystemTime::now(), from, data) {
        DaeOutcome::Request(r) => d.respond(&r, Ok(())),
        DaeOutcome::Reply(t) => t,
        DaeOutcome::Dropped => return,
    };
    let ra: [u8; 16] = data[4..20].try_into().expect("accepted, so a header");
    assert_eq!(
        verify_reply(&reply.bytes, &Secret::new("fuzz"), &ra, true),
        Ok(()),
        "our ACK/NAK verifies"
    );
}
