//! The dynamic authorization core without sockets: what is accepted, what is NAKed with
//! which Error-Cause, what is dropped and counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use l2tp_radius::crypt::{sign_request, verify_reply};
use l2tp_radius::dae::{DaeClient, DaeConfig, DaeKind, DaeOutcome, DaeServer, ErrorCause};
use l2tp_radius::reply::{RateLimit, RateLimitAttr};
use l2tp_radius::request::NasIdentity;
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};

const CLIENT: &str = "127.0.0.1:40000";

fn server() -> DaeServer {
    DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: "127.0.0.1".parse().unwrap(),
            secret: Secret::new("dae-secret"),
        }],
        nas: NasIdentity {
            ip: Some("192.0.2.2".parse().unwrap()),
            identifier: Some("lns-1".into()),
            ipv6: None,
        },
        require_message_authenticator: true,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: false,
        rate_limit: Some(RateLimitAttr::FilterId {
            prefix: "rate=".into(),
        }),
    })
}

fn request(code: Code, attrs: Vec<Attr>, secret: &str, with_ma: bool) -> Vec<u8> {
    let mut p = Packet::new(code, 42, [0; 16]);
    if with_ma {
        p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
    }
    p.attrs.extend(attrs);
    let mut b = p.encode().unwrap();
    sign_request(&mut b, &Secret::new(secret));
    b
}

fn from() -> SocketAddr {
    CLIENT.parse().unwrap()
}

/// The Error-Cause of a NAK, after checking the NAK is signed for this request.
fn nak_cause(s: &mut DaeServer, req: &[u8]) -> u32 {
    match s.handle_datagram(Instant::now(), SystemTime::now(), from(), req) {
        DaeOutcome::Reply(t) => {
            verify_reply(
                &t.bytes,
                &Secret::new("dae-secret"),
                req[4..20].try_into().unwrap(),
                true,
            )
            .unwrap();
            let p = Packet::decode(&t.bytes).unwrap();
            assert!(matches!(p.code, Code::DISCONNECT_NAK | Code::COA_NAK));
            p.get(AttrType::ERROR_CAUSE).unwrap().as_u32().unwrap()
        }
        o => panic!("expected a NAK, got {o:?}"),
    }
}

#[test]
fn disconnect_by_session_id_then_ack() {
    let mut s = server();
    let req = request(
        Code::DISCONNECT_REQUEST,
        vec![
            Attr::new(AttrType::ACCT_SESSION_ID, "sess-9"),
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::ipv4(AttrType::NAS_IP_ADDRESS, "192.0.2.2".parse().unwrap()),
            Attr::new(AttrType::PROXY_STATE, "ps1"),
        ],
        "dae-secret",
        true,
    );
    let DaeOutcome::Request(r) = s.handle_datagram(Instant::now(), SystemTime::now(), from(), &req)
    else {
        panic!("not accepted")
    };
    assert_eq!(r.kind, DaeKind::Disconnect);
    assert_eq!(r.selector.acct_session_id.as_deref(), Some("sess-9"));
    assert_eq!(r.selector.user_name.as_deref(), Some("alice"));
    let t = s.respond(&r, Ok(()));
    assert_eq!(t.to, from());
    verify_reply(
        &t.bytes,
        &Secret::new("dae-secret"),
        req[4..20].try_into().unwrap(),
        true,
    )
    .unwrap();
    let p = Packet::decode(&t.bytes).unwrap();
    assert_eq!(p.code, Code::DISCONNECT_ACK);
    assert_eq!(
        p.get(AttrType::PROXY_STATE).unwrap().value,
        b"ps1",
        "Proxy-State copied"
    );
    let t = s.respond(&r, Err(ErrorCause::SessionContextNotFound));
    let p = Packet::decode(&t.bytes).unwrap();
    assert_eq!(p.code, Code::DISCONNECT_NAK);
    assert_eq!(p.get(AttrType::ERROR_CAUSE).unwrap().as_u32().unwrap(), 503);
    assert_eq!(s.counters().disconnect_requests, 1);
    assert_eq!((s.counters().acks, s.counters().naks), (1, 1));
}

#[test]
fn coa_changes_are_parsed() {
    let mut s = server();
    let req = request(
        Code::COA_REQUEST,
        vec![
            Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, "192.0.2.50".parse().unwrap()),
            Attr::u32(AttrType::SESSION_TIMEOUT, 60),
            Attr::u32(AttrType::IDLE_TIMEOUT, 30),
            Attr::new(AttrType::FILTER_ID, "rate=20M/5M"),
        ],
        "dae-secret",
        true,
    );
    let DaeOutcome::Request(r) = s.handle_datagram(Instant::now(), SystemTime::now(), from(), &req)
    else {
        panic!("not accepted")
    };
    assert_eq!(r.kind, DaeKind::Coa);
    assert_eq!(r.selector.framed_ip, Some("192.0.2.50".parse().unwrap()));
    assert_eq!(r.changes.session_timeout, Some(Duration::from_secs(60)));
    assert_eq!(r.changes.idle_timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        r.changes.rate_limit,
        Some(RateLimit {
            down_bps: 20_000_000,
            up_bps: 5_000_000
        })
    );
}

#[test]
fn refusals_carry_the_right_error_cause() {
    let mut s = server();
    let id = || Attr::new(AttrType::ACCT_SESSION_ID, "x");
    let cases = [
        (
            Code::DISCONNECT_REQUEST,
            vec![Attr::new(AttrType::NAS_IDENTIFIER, "other-nas"), id()],
            403,
        ),
        (
            Code::DISCONNECT_REQUEST,
            vec![Attr::new(AttrType::NAS_IDENTIFIER, "lns-1")],
            402,
        ),
        (
            Code::DISCONNECT_REQUEST,
            vec![id(), Attr::u32(AttrType::SESSION_TIMEOUT, 5)],
            401,
        ),
        (
            Code::COA_REQUEST,
            vec![id(), Attr::new(AttrType::FRAMED_POOL, "p")],
            401,
        ),
        (
            Code::COA_REQUEST,
            vec![id(), Attr::u32(AttrType::SERVICE_TYPE, 17)],
            405,
        ),
        (
            Code::COA_REQUEST,
            vec![id(), Attr::new(AttrType::SESSION_TIMEOUT, [1])],
            407,
        ),
        (
            Code::COA_REQUEST,
            vec![id(), Attr::new(AttrType::FILTER_ID, "rate=fast")],
            407,
        ),
    ];
    for (code, attrs, cause) in cases {
        let req = request(code, attrs.clone(), "dae-secret", true);
        assert_eq!(nak_cause(&mut s, &req), cause, "{attrs:?}");
    }
    assert_eq!(s.counters().naks, 7);
    assert_eq!(
        s.counters().disconnect_requests + s.counters().coa_requests,
        0
    );
}

#[test]
fn hostile_input_is_dropped_and_counted() {
    let mut s = server();
    let now = Instant::now();
    let good = || vec![Attr::new(AttrType::ACCT_SESSION_ID, "x")];
    // A flood from an unconfigured client, even with the right secret.
    let stranger: SocketAddr = "192.0.2.66:3799".parse().unwrap();
    let req = request(Code::DISCONNECT_REQUEST, good(), "dae-secret", true);
    for _ in 0..1000 {
        assert_eq!(
            s.handle_datagram(now, SystemTime::now(), stranger, &req),
            DaeOutcome::Dropped
        );
    }
    // The wrong secret, no Message-Authenticator, garbage, a wrong code.
    let wrong = request(Code::DISCONNECT_REQUEST, good(), "guess", true);
    assert_eq!(
        s.handle_datagram(now, SystemTime::now(), from(), &wrong),
        DaeOutcome::Dropped
    );
    let no_ma = request(Code::DISCONNECT_REQUEST, good(), "dae-secret", false);
    assert_eq!(
        s.handle_datagram(now, SystemTime::now(), from(), &no_ma),
        DaeOutcome::Dropped
    );
    assert_eq!(
        s.handle_datagram(now, SystemTime::now(), from(), &[40, 1, 0]),
        DaeOutcome::Dropped
    );
    let acct = request(Code::ACCOUNTING_REQUEST, good(), "dae-secret", true);
    assert_eq!(
        s.handle_datagram(now, SystemTime::now(), from(), &acct),
        DaeOutcome::Dropped
    );
    let c = s.counters();
    assert_eq!(c.unknown_client, 1000);
    assert_eq!(c.bad_authenticator, 1);
    assert_eq!(c.missing_message_authenticator, 1);
    assert_eq!(c.malformed, 1);
    assert_eq!(c.unexpected_code, 1);
    assert_eq!(
        (c.disconnect_requests, c.acks, c.naks),
        (0, 0, 0),
        "no effect"
    );
}

#[test]
fn many_proxy_states_without_message_authenticator_still_get_an_answer() {
    let mut s = DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: "127.0.0.1".parse().unwrap(),
            secret: Secret::new("dae-secret"),
        }],
        nas: NasIdentity::default(),
        require_message_authenticator: false,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: false,
        rate_limit: None,
    });
    let mut attrs = vec![Attr::new(AttrType::ACCT_SESSION_ID, "x")];
    while attrs.len() < 16 {
        attrs.push(Attr::new(AttrType::PROXY_STATE, vec![7u8; 253]));
    }
    attrs.push(Attr::new(
        AttrType::PROXY_STATE,
        vec![7u8; 4096 - 20 - 3 - 15 * 255 - 2],
    ));
    let req = request(Code::DISCONNECT_REQUEST, attrs, "dae-secret", false);
    assert_eq!(req.len(), 4096);
    let DaeOutcome::Request(r) = s.handle_datagram(Instant::now(), SystemTime::now(), from(), &req)
    else {
        panic!("not accepted")
    };
    let t = s.respond(&r, Ok(()));
    verify_reply(
        &t.bytes,
        &Secret::new("dae-secret"),
        req[4..20].try_into().unwrap(),
        true,
    )
    .unwrap();
}

#[test]
fn event_timestamp_outside_the_window_is_a_replay() {
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let ts = |offset: i64| Attr::u32(AttrType::EVENT_TIMESTAMP, (1_700_000_000 + offset) as u32);
    let id = || Attr::new(AttrType::ACCT_SESSION_ID, "x");
    let mut s = server();
    let now = Instant::now();
    for (offset, accepted) in [
        (0, true),
        (-300, true),
        (299, true),
        (-301, false),
        (3600, false),
    ] {
        let req = request(
            Code::DISCONNECT_REQUEST,
            vec![id(), ts(offset)],
            "dae-secret",
            true,
        );
        let out = s.handle_datagram(now, wall, from(), &req);
        assert_eq!(
            matches!(out, DaeOutcome::Request(_)),
            accepted,
            "offset {offset}: {out:?}"
        );
    }
    assert_eq!(s.counters().stale_timestamp, 2);

    // Without one: accepted unless required.
    let bare = request(Code::DISCONNECT_REQUEST, vec![id()], "dae-secret", true);
    assert!(matches!(
        s.handle_datagram(now, wall, from(), &bare),
        DaeOutcome::Request(_)
    ));
    let mut strict = DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: "127.0.0.1".parse().unwrap(),
            secret: Secret::new("dae-secret"),
        }],
        nas: NasIdentity::default(),
        require_message_authenticator: true,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: true,
        rate_limit: None,
    });
    assert_eq!(
        strict.handle_datagram(now, wall, from(), &bare),
        DaeOutcome::Dropped
    );
    assert_eq!(strict.counters().missing_timestamp, 1);
}
