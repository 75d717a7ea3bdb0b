//! Against a real FreeRADIUS started by the test: PAP, CHAP-MD5 and MS-CHAPv2 accept and
//! reject, reply attributes, accounting into the detail file, failover and return, the
//! Stop spool replayed after an outage. Root and the freeradius package are required.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use l2tp_radius::acct::{AcctRecord, SessionEvent, TerminateCause, Usage};
use l2tp_radius::client::{Client, ClientConfig, ClientEvent, ServerConfig};
use l2tp_radius::reply::{
    AccessOutcome, FramedAddress, MsChapErrorCode, RateLimit, RateLimitAttr, RejectReason,
};
use l2tp_radius::request::{AccessRequest, NasIdentity, SessionInfo, TunnelInfo};
use l2tp_radius::shell::UdpClient;
use l2tp_radius::spool::Spool;
use l2tp_radius::Secret;
use ppp::Credentials;
use rand::rngs::OsRng;
use support::{FreeRadius, SECRET};

fn server(addr: SocketAddr, priority: u32) -> ServerConfig {
    ServerConfig {
        addr,
        secret: Secret::new(SECRET),
        priority,
    }
}

fn client(auth: Vec<ServerConfig>, acct: Vec<ServerConfig>) -> UdpClient<OsRng> {
    let mut cfg = ClientConfig::new(
        auth,
        acct,
        NasIdentity {
            ip: Some(Ipv4Addr::new(192, 0, 2, 2)),
            ipv6: None,
            identifier: Some("l2tp-radius-test".into()),
        },
    );
    cfg.timeout = Duration::from_millis(400);
    cfg.tries_per_server = 2;
    cfg.dead_time = Duration::from_secs(2);
    cfg.rate_limit = Some(RateLimitAttr::FilterId {
        prefix: "rate=".into(),
    });
    UdpClient::bind("127.0.0.1:0".parse().unwrap(), Client::new(cfg, OsRng)).unwrap()
}

fn session(user: &str, id: &str) -> SessionInfo {
    SessionInfo {
        user_name: user.into(),
        nas_port: 17,
        acct_session_id: id.into(),
        calling_station_id: Some("lac-a".into()),
        called_station_id: Some("lns".into()),
        tunnel: Some(TunnelInfo {
            client_endpoint: "192.0.2.1".parse().unwrap(),
            server_endpoint: "192.0.2.2".parse().unwrap(),
            client_auth_id: Some("lac-a".into()),
        }),
    }
}

fn ask(c: &mut UdpClient<OsRng>, req: AccessRequest) -> AccessOutcome {
    let rid = c.core.authenticate(Instant::now(), req).unwrap();
    let events = c.wait(rid, Duration::from_secs(10)).unwrap();
    events
        .into_iter()
        .find_map(|e| match e {
            ClientEvent::Access { request, outcome } if request == rid => Some(outcome),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no answer; counters {:?}", c.core.server_counters()))
}

fn pap(user: &str, pw: &str) -> AccessRequest {
    AccessRequest {
        session: session(user, "s-pap"),
        credentials: Credentials::Pap {
            password: pw.as_bytes().to_vec(),
        },
    }
}

fn chap(user: &str, pw: &str) -> AccessRequest {
    let challenge: Vec<u8> = (0u8..16).map(|i| i.wrapping_mul(37)).collect();
    AccessRequest {
        session: session(user, "s-chap"),
        credentials: Credentials::ChapMd5 {
            id: 0x42,
            response: ppp::chap::md5_response(0x42, pw.as_bytes(), &challenge),
            challenge,
        },
    }
}

const AUTH_CHALLENGE: [u8; 16] = [0x11; 16];
const PEER_CHALLENGE: [u8; 16] = [0x22; 16];

fn mschapv2(user: &str, pw: &str) -> AccessRequest {
    AccessRequest {
        session: session(user, "s-ms"),
        credentials: Credentials::MsChapV2 {
            authenticator_challenge: AUTH_CHALLENGE,
            peer_challenge: PEER_CHALLENGE,
            nt_response: ppp::mschapv2::generate_nt_response(
                &AUTH_CHALLENGE,
                &PEER_CHALLENGE,
                user,
                pw,
            ),
        },
    }
}

#[test]
fn pap_chap_and_mschapv2_accept_and_reject() {
    if !support::can_run("pap_chap_and_mschapv2_accept_and_reject") {
        return;
    }
    let fr = FreeRadius::start("auth");
    let mut c = client(vec![server(fr.auth, 1)], vec![]);

    // PAP accept: every authorization attribute the LNS uses, decoded.
    let AccessOutcome::Accept(a) = ask(&mut c, pap("alice", "alice-pw")) else {
        panic!("PAP alice rejected:\n{}", fr.log_text())
    };
    assert_eq!(
        a.address,
        Some(FramedAddress::Static(Ipv4Addr::new(192, 0, 2, 10)))
    );
    assert_eq!(a.netmask, Some(Ipv4Addr::new(255, 255, 255, 255)));
    assert_eq!(a.routes, vec!["198.51.100.0/24 0.0.0.0 1".to_string()]);
    assert_eq!(a.ipv6_prefixes.len(), 1);
    assert_eq!(
        (a.ipv6_prefixes[0].addr.to_string(), a.ipv6_prefixes[0].len),
        ("2001:db8:1::".into(), 64)
    );
    let d = a.delegated_prefix.expect("Delegated-IPv6-Prefix");
    assert_eq!((d.addr.to_string(), d.len), ("2001:db8:100::".into(), 56));
    assert_eq!(a.primary_dns, Some(Ipv4Addr::new(192, 0, 2, 53)));
    assert_eq!(a.secondary_dns, Some(Ipv4Addr::new(192, 0, 2, 54)));
    assert_eq!(a.session_timeout, Some(Duration::from_secs(3600)));
    assert_eq!(a.idle_timeout, Some(Duration::from_secs(600)));
    assert_eq!(a.interim_interval, Some(Duration::from_secs(300)));
    assert_eq!(a.class, vec![b"gold-plan".to_vec()]);
    assert_eq!(a.mtu, Some(1400));
    assert_eq!(
        a.rate_limit,
        Some(RateLimit {
            down_bps: 10_000_000,
            up_bps: 2_000_000
        })
    );
    assert_eq!(
        ask(&mut c, pap("alice", "alice-pw")).to_ppp_decision(),
        ppp::AuthDecision::Accept
    );

    // Pool address and Framed-Pool.
    let AccessOutcome::Accept(b) = ask(&mut c, pap("bob", "bob-pw")) else {
        panic!("PAP bob rejected")
    };
    assert_eq!(b.address, Some(FramedAddress::FromPool));
    assert_eq!(b.pool.as_deref(), Some("main"));

    // PAP reject: wrong password, unknown user.
    for req in [pap("alice", "wrong"), pap("mallory", "x")] {
        assert!(matches!(ask(&mut c, req), AccessOutcome::Reject { .. }));
    }

    // CHAP-MD5.
    assert!(
        matches!(
            ask(&mut c, chap("alice", "alice-pw")),
            AccessOutcome::Accept(_)
        ),
        "{}",
        fr.log_text()
    );
    assert!(matches!(
        ask(&mut c, chap("alice", "wrong")),
        AccessOutcome::Reject { .. }
    ));

    // MS-CHAPv2: the server's MS-CHAP2-Success is the authenticator response the client expects.
    let AccessOutcome::Accept(m) = ask(&mut c, mschapv2("alice", "alice-pw")) else {
        panic!("MS-CHAPv2 alice rejected:\n{}", fr.log_text())
    };
    let nt =
        ppp::mschapv2::generate_nt_response(&AUTH_CHALLENGE, &PEER_CHALLENGE, "alice", "alice-pw");
    let expect = ppp::mschapv2::generate_authenticator_response(
        "alice-pw",
        &nt,
        &PEER_CHALLENGE,
        &AUTH_CHALLENGE,
        "alice",
    );
    assert_eq!(m.mschapv2_authenticator_response, Some(expect));
    assert_eq!(
        AccessOutcome::Accept(m).to_ppp_decision(),
        ppp::AuthDecision::AcceptMsChapV2 {
            authenticator_response: expect
        }
    );
    match ask(&mut c, mschapv2("alice", "wrong")) {
        AccessOutcome::Reject {
            reason: RejectReason::Rejected { mschap: Some(e) },
            ..
        } => assert_eq!(e.code, MsChapErrorCode::AuthenticationFailure, "{e:?}"),
        o => panic!("MS-CHAPv2 with a wrong password: {o:?}"),
    }

    let k = c.core.server_counters()[0].2;
    assert_eq!((k.accepts, k.rejects), (5, 4), "{k:?}");
    assert_eq!(
        k.bad_authenticator + k.missing_message_authenticator + k.malformed,
        0
    );
}
