//! Real UDP on loopback against a tiny fake RADIUS server: a reply without a valid
//! Message-Authenticator is refused, and forged replies (wrong authenticator, wrong id,
//! wrong source) change nothing while the genuine reply still gets through.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use l2tp_radius::client::{Client, ClientConfig, ClientEvent, Role, ServerConfig};
use l2tp_radius::crypt::sign_reply;
use l2tp_radius::reply::AccessOutcome;
use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo};
use l2tp_radius::shell::UdpClient;
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};
use rand::rngs::OsRng;

const SECRET: &str = "fake-server-secret";

fn reply(req: &[u8], id: u8, with_ma: bool, secret: &str) -> Vec<u8> {
    let mut p = Packet::new(Code::ACCESS_ACCEPT, id, [0; 16]);
    if with_ma {
        p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
    }
    p.push(Attr::u32(AttrType::SESSION_TIMEOUT, 60));
    let mut b = p.encode().unwrap();
    sign_reply(&mut b, &Secret::new(secret), req[4..20].try_into().unwrap());
    b
}

/// Runs a fake server that answers the first request with every forgery, then (when
/// `genuine`) with the real reply. Returns the client's events and the client.
fn run(genuine: bool) -> (Vec<ClientEvent>, UdpClient<OsRng>) {
    let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let srv_addr = srv.local_addr().unwrap();
    let mut cfg = ClientConfig::new(
        vec![ServerConfig {
            addr: srv_addr,
            secret: Secret::new(SECRET),
            priority: 1,
        }],
        vec![],
        NasIdentity {
            identifier: Some("fake-test".into()),
            ..Default::default()
        },
    );
    cfg.timeout = Duration::from_millis(500);
    cfg.tries_per_server = 1;
    let mut c = UdpClient::bind("127.0.0.1:0".parse().unwrap(), Client::new(cfg, OsRng)).unwrap();
    let req = AccessRequest {
        session: SessionInfo {
            user_name: "victim".into(),
            nas_port: 1,
            acct_session_id: "s".into(),
            calling_station_id: None,
            called_station_id: None,
            tunnel: None,
        },
        credentials: ppp::Credentials::Pap {
            password: b"pw".to_vec(),
        },
    };
    let fake = thread::spawn(move || {
        srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let (n, client): (usize, SocketAddr) = srv.recv_from(&mut buf).unwrap();
        let req = &buf[..n];
        let id = req[1];
        // The genuine reply, but from another port: not the server's address.
        forger
            .send_to(&reply(req, id, true, SECRET), client)
            .unwrap();
        // A forger without the secret.
        srv.send_to(&reply(req, id, true, "guessed"), client)
            .unwrap();
        // The right secret on another id.
        srv.send_to(&reply(req, id.wrapping_add(1), true, SECRET), client)
            .unwrap();
        // A valid Response Authenticator without Message-Authenticator: what a BlastRADIUS
        // forger produces with an MD5 collision, and what an old server sends.
        srv.send_to(&reply(req, id, false, SECRET), client).unwrap();
        if genuine {
            srv.send_to(&reply(req, id, true, SECRET), client).unwrap();
        }
    });
    let rid = c.core.authenticate(Instant::now(), req).unwrap();
    let events = c.wait(rid, Duration::from_secs(5)).unwrap();
    fake.join().unwrap();
    (events, c)
}

#[test]
fn forged_replies_and_a_reply_without_message_authenticator_are_refused() {
    let (events, c) = run(false);
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Failed {
                role: Role::Auth,
                ..
            }
        )),
        "no forged reply may decide: {events:?}"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, ClientEvent::Access { .. })));
    let k = c.core.server_counters()[0].2;
    assert_eq!(k.bad_authenticator, 1, "{k:?}");
    assert_eq!(k.unknown_id, 1, "{k:?}");
    assert_eq!(k.missing_message_authenticator, 1, "{k:?}");
    assert_eq!(k.accepts, 0);
    assert_eq!(c.core.counters().unknown_source, 1);
}

#[test]
fn the_genuine_reply_after_forgeries_is_accepted() {
    let (events, c) = run(true);
    let outcome = events.iter().find_map(|e| match e {
        ClientEvent::Access { outcome, .. } => Some(outcome.clone()),
        _ => None,
    });
    match outcome {
        Some(AccessOutcome::Accept(a)) => {
            assert_eq!(a.session_timeout, Some(Duration::from_secs(60)))
        }
        o => panic!("{o:?} / {events:?}"),
    }
    let k = c.core.server_counters()[0].2;
    assert_eq!(
        (
            k.accepts,
            k.bad_authenticator,
            k.missing_message_authenticator
        ),
        (1, 1, 1)
    );
}

#[test]
fn nonblocking_pump_drives_an_exchange() {
    let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cfg = ClientConfig::new(
        vec![ServerConfig {
            addr: srv.local_addr().unwrap(),
            secret: Secret::new(SECRET),
            priority: 1,
        }],
        vec![],
        NasIdentity::default(),
    );
    cfg.timeout = Duration::from_millis(200);
    let mut c = UdpClient::bind("127.0.0.1:0".parse().unwrap(), Client::new(cfg, OsRng)).unwrap();
    let req = AccessRequest {
        session: SessionInfo {
            user_name: "pump".into(),
            nas_port: 1,
            acct_session_id: "s".into(),
            calling_station_id: None,
            called_station_id: None,
            tunnel: None,
        },
        credentials: ppp::Credentials::Pap {
            password: b"pw".to_vec(),
        },
    };
    let rid = c.core.authenticate(Instant::now(), req).unwrap();
    assert!(c.pump(Instant::now()).unwrap().is_empty());
    srv.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    // Drop the first transmission: the pump's timer retransmits it unchanged.
    let (n, client) = srv.recv_from(&mut buf).unwrap();
    let first = buf[..n].to_vec();
    let end = Instant::now() + Duration::from_secs(2);
    let mut events = Vec::new();
    let mut answered = false;
    while events.is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        if !answered {
            srv.set_nonblocking(true).unwrap();
            if let Ok((n, _)) = srv.recv_from(&mut buf) {
                assert_eq!(&buf[..n], &first[..], "retransmitted unchanged");
                srv.send_to(&reply(&first, first[1], true, SECRET), client)
                    .unwrap();
                answered = true;
            }
        }
        events = c.pump(Instant::now()).unwrap();
    }
    assert!(answered, "a retransmission arrived");
    assert!(
        matches!(&events[..], [ClientEvent::Access { request, outcome: AccessOutcome::Accept(_) }] if *request == rid),
        "{events:?}"
    );
}
