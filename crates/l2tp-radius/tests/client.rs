//! The client state machine in virtual time against servers made of the codec: matching,
//! forged replies, retransmission, failover and return, accounting delay, bounds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_radius::acct::{AcctRecord, SessionEvent, TerminateCause, Usage};
use l2tp_radius::attr::{ms, VENDOR_MICROSOFT};
use l2tp_radius::client::{Client, ClientConfig, ClientEvent, RequestId, Role, ServerConfig};
use l2tp_radius::crypt::{
    sign_reply, unhide_password, verify_access_request, verify_hashed_request,
};
use l2tp_radius::reply::{AccessOutcome, FramedAddress};
use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo};
use l2tp_radius::{ApiError, Attr, AttrType, Code, Packet, Secret};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

const A: &str = "127.0.0.1:1812";
const B: &str = "127.0.0.2:1812";
const ACCT: &str = "127.0.0.1:1813";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn server(a: &str, prio: u32) -> ServerConfig {
    ServerConfig {
        addr: addr(a),
        secret: Secret::new(format!("secret-{a}")),
        priority: prio,
    }
}

fn client() -> Client<ChaCha8Rng> {
    let mut cfg = ClientConfig::new(
        vec![server(A, 1), server(B, 2)],
        vec![server(ACCT, 1)],
        NasIdentity {
            identifier: Some("lns-test".into()),
            ..Default::default()
        },
    );
    cfg.timeout = Duration::from_secs(1);
    cfg.tries_per_server = 2;
    cfg.dead_time = Duration::from_secs(10);
    cfg.max_outstanding = 4;
    // Return by dead time only here; probing has its own test.
    cfg.probe_interval = None;
    Client::new(cfg, ChaCha8Rng::seed_from_u64(7))
}

fn session(user: &str) -> SessionInfo {
    SessionInfo {
        user_name: user.into(),
        nas_port: 1,
        acct_session_id: format!("sess-{user}"),
        calling_station_id: None,
        called_station_id: None,
        tunnel: None,
    }
}

fn pap(user: &str) -> AccessRequest {
    AccessRequest {
        session: session(user),
        credentials: ppp::Credentials::Pap {
            password: b"pw".to_vec(),
        },
    }
}

/// A reply to `req` signed with `secret`, with a Message-Authenticator.
fn reply(req: &[u8], code: Code, attrs: Vec<Attr>, secret: &str) -> Vec<u8> {
    let mut p = Packet::new(code, req[1], [0; 16]);
    p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
    p.attrs.extend(attrs);
    let mut b = p.encode().unwrap();
    sign_reply(&mut b, &Secret::new(secret), req[4..20].try_into().unwrap());
    b
}

fn tx(c: &mut Client<ChaCha8Rng>) -> (SocketAddr, Vec<u8>) {
    let t = c.poll_transmit().expect("a transmission");
    (t.to, t.bytes)
}

fn events(c: &mut Client<ChaCha8Rng>) -> Vec<ClientEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn counters(c: &Client<ChaCha8Rng>, a: &str) -> l2tp_radius::client::ServerCounters {
    c.server_counters()
        .into_iter()
        .find(|(s, _, _)| *s == addr(a))
        .unwrap()
        .2
}

#[test]
fn accept_is_matched_and_decoded() {
    let mut c = client();
    let t0 = Instant::now();
    let rid = c.authenticate(t0, pap("alice")).unwrap();
    let (to, req) = tx(&mut c);
    assert_eq!(to, addr(A), "the priority-1 server first");
    // The request is signed: a server with the secret verifies its Message-Authenticator.
    let secret = Secret::new(format!("secret-{A}"));
    verify_access_request(&req, &secret, true).unwrap();
    let p = Packet::decode(&req).unwrap();
    let ra: [u8; 16] = req[4..20].try_into().unwrap();
    assert_eq!(
        unhide_password(&p.get(AttrType::USER_PASSWORD).unwrap().value, &secret, &ra).unwrap(),
        b"pw"
    );

    let r = reply(
        &req,
        Code::ACCESS_ACCEPT,
        vec![
            Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, "192.0.2.7".parse().unwrap()),
            Attr::vendor(VENDOR_MICROSOFT, ms::PRIMARY_DNS_SERVER, &[192, 0, 2, 53]),
        ],
        &format!("secret-{A}"),
    );
    c.handle_datagram(t0, addr(A), &r);
    match &events(&mut c)[..] {
        [ClientEvent::Access {
            request,
            outcome: AccessOutcome::Accept(a),
        }] => {
            assert_eq!(*request, rid);
            assert_eq!(
                a.address,
                Some(FramedAddress::Static("192.0.2.7".parse().unwrap()))
            );
            assert_eq!(a.primary_dns, Some("192.0.2.53".parse().unwrap()));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(c.outstanding(), 0);
    assert_eq!(counters(&c, A).accepts, 1);
    // The same reply again is a duplicate: counted, no second event.
    c.handle_datagram(t0, addr(A), &r);
    assert!(events(&mut c).is_empty());
    assert_eq!(counters(&c, A).unknown_id, 1);
}

#[test]
fn forged_and_stray_replies_are_dropped_and_counted() {
    let mut c = client();
    let t0 = Instant::now();
    c.authenticate(t0, pap("bob")).unwrap();
    let (_, req) = tx(&mut c);
    let sa = format!("secret-{A}");

    // Wrong secret: bad Response Authenticator.
    c.handle_datagram(
        t0,
        addr(A),
        &reply(&req, Code::ACCESS_ACCEPT, vec![], "guess"),
    );
    // Right secret, wrong id.
    let mut other = req.clone();
    other[1] = req[1].wrapping_add(1);
    c.handle_datagram(
        t0,
        addr(A),
        &reply(&other, Code::ACCESS_ACCEPT, vec![], &sa),
    );
    // Right everything, wrong source.
    c.handle_datagram(
        t0,
        addr("192.0.2.99:1812"),
        &reply(&req, Code::ACCESS_ACCEPT, vec![], &sa),
    );
    // No Message-Authenticator (a pre-BlastRADIUS reply, or a forger who cannot make one).
    let mut bare = Packet::new(Code::ACCESS_ACCEPT, req[1], [0; 16])
        .encode()
        .unwrap();
    sign_reply(
        &mut bare,
        &Secret::new(sa.clone()),
        req[4..20].try_into().unwrap(),
    );
    c.handle_datagram(t0, addr(A), &bare);
    // Garbage.
    c.handle_datagram(t0, addr(A), &[1, 2, 3]);
    // An Accounting-Response code to an Access-Request.
    c.handle_datagram(
        t0,
        addr(A),
        &reply(&req, Code::ACCOUNTING_RESPONSE, vec![], &sa),
    );

    assert!(events(&mut c).is_empty(), "none of these decides anything");
    assert_eq!(c.outstanding(), 1);
    let k = counters(&c, A);
    assert_eq!(k.bad_authenticator, 1);
    assert_eq!(k.unknown_id, 1);
    assert_eq!(k.missing_message_authenticator, 1);
    assert_eq!(k.malformed, 1);
    assert_eq!(k.unexpected_code, 1);
    assert_eq!(c.counters().unknown_source, 1);

    // The genuine reply still gets through.
    c.handle_datagram(t0, addr(A), &reply(&req, Code::ACCESS_REJECT, vec![], &sa));
    assert!(matches!(
        &events(&mut c)[..],
        [ClientEvent::Access {
            outcome: AccessOutcome::Reject { .. },
            ..
        }]
    ));
}

#[test]
fn retransmits_fails_over_and_returns() {
    let mut c = client();
    let t0 = Instant::now();
    c.authenticate(t0, pap("carol")).unwrap();
    let (_, first) = tx(&mut c);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));

    let t1 = t0 + Duration::from_secs(1);
    c.handle_timeout(t1);
    let (to, again) = tx(&mut c);
    assert_eq!(
        (to, &again),
        (addr(A), &first),
        "an Access-Request is retransmitted unchanged"
    );
    assert_eq!(counters(&c, A).retransmissions, 1);

    let t2 = t1 + Duration::from_secs(1);
    c.handle_timeout(t2);
    let (to, second) = tx(&mut c);
    assert_eq!(to, addr(B), "after 2 tries, the next server");
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::ServerDead { addr: addr(A) }]
    );
    assert!(c.is_dead(addr(A), t2));
    c.handle_datagram(
        t2,
        addr(B),
        &reply(&second, Code::ACCESS_ACCEPT, vec![], &format!("secret-{B}")),
    );
    assert!(matches!(events(&mut c)[..], [ClientEvent::Access { .. }]));

    // While A is dead, new requests go straight to B.
    c.authenticate(t2, pap("dave")).unwrap();
    assert_eq!(tx(&mut c).0, addr(B));
    c.handle_datagram(t2, addr(A), b"late noise");

    // After the dead time, A is preferred again; it answers and is alive.
    let t3 = t2 + Duration::from_secs(11);
    let _ = events(&mut c);
    let _ = std::iter::from_fn(|| c.poll_transmit()).count();
    c.handle_timeout(t3); // dave's request times out on B in the meantime
    let _ = std::iter::from_fn(|| c.poll_transmit()).count();
    c.authenticate(t3, pap("erin")).unwrap();
    let (to, req) = tx(&mut c);
    assert_eq!(to, addr(A));
    c.handle_datagram(
        t3,
        addr(A),
        &reply(&req, Code::ACCESS_ACCEPT, vec![], &format!("secret-{A}")),
    );
    let ev = events(&mut c);
    assert!(
        ev.contains(&ClientEvent::ServerAlive { addr: addr(A) }),
        "{ev:?}"
    );
    assert!(!c.is_dead(addr(A), t3));
}

#[test]
fn accounting_retries_carry_delay_and_new_ids_then_fail_with_the_record() {
    let mut c = client();
    let t0 = Instant::now();
    let stop = AcctRecord::Session {
        session: session("frank"),
        framed_ip: None,
        ipv6: Default::default(),
        class: vec![],
        event: SessionEvent::Stop(Usage::default(), TerminateCause::LostCarrier),
    };
    let rid = c.account(t0, &stop).unwrap();
    let (to, a) = tx(&mut c);
    assert_eq!(to, addr(ACCT));
    let secret = Secret::new(format!("secret-{ACCT}"));
    verify_hashed_request(&a, &secret, true).unwrap();
    let delay = |b: &[u8]| {
        Packet::decode(b)
            .unwrap()
            .get(AttrType::ACCT_DELAY_TIME)
            .unwrap()
            .as_u32()
            .unwrap()
    };
    assert_eq!(delay(&a), 0);

    c.handle_timeout(t0 + Duration::from_secs(1));
    let (_, b) = tx(&mut c);
    verify_hashed_request(&b, &secret, true).unwrap();
    assert_eq!(delay(&b), 1);
    assert_ne!(
        a[1], b[1],
        "a changed Acct-Delay-Time needs a new identifier"
    );
    // A late answer to the first transmission matches nothing.
    c.handle_datagram(
        t0,
        addr(ACCT),
        &reply(
            &a,
            Code::ACCOUNTING_RESPONSE,
            vec![],
            &format!("secret-{ACCT}"),
        ),
    );
    assert_eq!(counters(&c, ACCT).unknown_id, 1);

    c.handle_timeout(t0 + Duration::from_secs(2));
    let ev = events(&mut c);
    let failed = ev.iter().find_map(|e| match e {
        ClientEvent::Failed {
            request,
            role,
            attrs,
        } => Some((*request, *role, attrs.clone())),
        _ => None,
    });
    let (r, role, attrs) = failed.expect("a Failed event");
    assert_eq!((r, role), (rid, Role::Acct));
    assert_eq!(
        attrs.unwrap(),
        stop.attrs(&NasIdentity {
            identifier: Some("lns-test".into()),
            ..Default::default()
        })
    );
    assert_eq!(c.outstanding(), 0);
}

#[test]
fn outstanding_requests_are_bounded() {
    let mut c = client();
    let t0 = Instant::now();
    let ids: Vec<RequestId> = (0..4)
        .map(|i| c.authenticate(t0, pap(&format!("u{i}"))).unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        c.authenticate(t0, pap("one-too-many")),
        Err(ApiError::TooManyOutstanding)
    );
    assert_eq!(c.counters().refused_outstanding, 1);
    // Four requests to one server use four different identifiers.
    let mut seen: Vec<u8> = std::iter::from_fn(|| c.poll_transmit())
        .map(|t| t.bytes[1])
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = client();
    let dbg = format!("{c:?} {:?}", server(A, 1));
    assert!(!dbg.contains("secret-"), "{dbg}");
}

#[test]
fn a_dead_server_is_probed_with_status_server_and_returns_when_it_answers() {
    let mut cfg = ClientConfig::new(
        vec![server(A, 1), server(B, 2)],
        vec![],
        NasIdentity::default(),
    );
    cfg.timeout = Duration::from_secs(1);
    cfg.tries_per_server = 1;
    cfg.dead_time = Duration::from_secs(300);
    cfg.probe_interval = Some(Duration::from_secs(5));
    let mut c = Client::new(cfg, ChaCha8Rng::seed_from_u64(9));
    let t0 = Instant::now();
    c.authenticate(t0, pap("gina")).unwrap();
    let _ = tx(&mut c);
    let t1 = t0 + Duration::from_secs(1);
    c.handle_timeout(t1); // A dead, on to B
    let (to, _) = tx(&mut c);
    assert_eq!(to, addr(B));
    assert_eq!(
        c.poll_timeout(),
        Some(t1 + Duration::from_secs(1)),
        "B's deadline first"
    );

    // B never answers either: the request fails; the probe timer of A remains.
    let t2 = t1 + Duration::from_secs(1);
    c.handle_timeout(t2);
    assert!(events(&mut c)
        .iter()
        .any(|e| matches!(e, ClientEvent::Failed { .. })));
    assert_eq!(
        c.poll_timeout(),
        Some(t1 + Duration::from_secs(5)),
        "A's probe"
    );

    // The probe: a Status-Server with a Message-Authenticator, not an outstanding request.
    let t3 = t1 + Duration::from_secs(5);
    c.handle_timeout(t3);
    let probe = std::iter::from_fn(|| c.poll_transmit())
        .find(|t| t.to == addr(A))
        .expect("a probe to A");
    assert_eq!(probe.bytes[0], Code::STATUS_SERVER.0);
    verify_access_request(&probe.bytes, &Secret::new(format!("secret-{A}")), true).unwrap();
    assert_eq!(c.outstanding(), 0);
    // Unanswered: no event, and another probe later.
    c.handle_timeout(t3 + Duration::from_secs(1));
    assert!(events(&mut c)
        .iter()
        .all(|e| matches!(e, ClientEvent::ServerDead { .. })));
    let t4 = t3 + Duration::from_secs(5);
    c.handle_timeout(t4);
    let probe = std::iter::from_fn(|| c.poll_transmit())
        .find(|t| t.to == addr(A))
        .expect("a second probe");
    assert_eq!(counters(&c, A).probes, 2);

    // It answers (RFC 5997: Access-Accept): alive at once, long before the dead time.
    c.handle_datagram(
        t4,
        addr(A),
        &reply(
            &probe.bytes,
            Code::ACCESS_ACCEPT,
            vec![],
            &format!("secret-{A}"),
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![ClientEvent::ServerAlive { addr: addr(A) }]
    );
    assert_eq!(counters(&c, A).probe_replies, 1);
    assert_eq!(counters(&c, A).requests, 1, "probes are not requests");
    c.authenticate(t4, pap("hank")).unwrap();
    assert_eq!(tx(&mut c).0, addr(A), "back on the primary");
}

#[test]
fn auth_and_acct_on_one_address_share_one_identifier_space() {
    let mut cfg = ClientConfig::new(
        vec![server(A, 1)],
        vec![server(A, 1)],
        NasIdentity::default(),
    );
    cfg.probe_interval = None;
    let mut c = Client::new(cfg, ChaCha8Rng::seed_from_u64(3));
    let t0 = Instant::now();
    let mut ids = std::collections::HashSet::new();
    let mut sent = Vec::new();
    for i in 0..100 {
        let rid = if i % 2 == 0 {
            c.authenticate(t0, pap("x")).unwrap()
        } else {
            c.account(t0, &AcctRecord::AccountingOn).unwrap()
        };
        let (_, b) = tx(&mut c);
        assert!(
            ids.insert(b[1]),
            "identifier {} used twice towards one address",
            b[1]
        );
        sent.push((rid, b));
    }
    // Every reply reaches its own request.
    for (rid, b) in sent {
        let code = if b[0] == Code::ACCESS_REQUEST.0 {
            Code::ACCESS_REJECT
        } else {
            Code::ACCOUNTING_RESPONSE
        };
        c.handle_datagram(
            t0,
            addr(A),
            &reply(&b, code, vec![], &format!("secret-{A}")),
        );
        let ev = events(&mut c);
        assert!(
            matches!(&ev[..], [ClientEvent::Access { request, .. }] | [ClientEvent::AccountingDone { request }] if *request == rid),
            "{ev:?}"
        );
    }
}

#[test]
fn a_cancelled_request_never_answers() {
    let mut c = client();
    let t0 = Instant::now();
    let rid = c.authenticate(t0, pap("ivan")).unwrap();
    let (_, req) = tx(&mut c);
    assert!(c.cancel(rid));
    assert!(!c.cancel(rid), "only once");
    assert_eq!((c.outstanding(), c.poll_timeout()), (0, None));
    c.handle_datagram(
        t0,
        addr(A),
        &reply(&req, Code::ACCESS_ACCEPT, vec![], &format!("secret-{A}")),
    );
    c.handle_timeout(t0 + Duration::from_secs(60));
    assert!(events(&mut c).is_empty());
    assert!(c.poll_transmit().is_none(), "no retransmission");
    assert_eq!(counters(&c, A).unknown_id, 1);
}
