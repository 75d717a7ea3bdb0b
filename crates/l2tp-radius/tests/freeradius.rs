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
    cfg.dead_time = Duration::from_secs(60);
    cfg.probe_interval = Some(Duration::from_millis(300));
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

fn session_record(event: SessionEvent) -> AcctRecord {
    AcctRecord::Session {
        session: session("alice", "acct-0001"),
        framed_ip: Some(Ipv4Addr::new(192, 0, 2, 10)),
        ipv6: Default::default(),
        class: vec![b"gold-plan".to_vec()],
        event,
    }
}

fn send_acct(c: &mut UdpClient<OsRng>, rec: &AcctRecord) -> Vec<ClientEvent> {
    let rid = c.core.account(Instant::now(), rec).unwrap();
    c.wait(rid, Duration::from_secs(10)).unwrap()
}

fn field<'a>(rec: &'a [(String, String)], k: &str) -> &'a str {
    rec.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{k} missing in {rec:?}"))
}

#[test]
fn accounting_start_interim_stop_reach_the_detail_file() {
    if !support::can_run("accounting_start_interim_stop_reach_the_detail_file") {
        return;
    }
    let fr = FreeRadius::start("acct");
    let mut c = client(vec![], vec![server(fr.acct, 1)]);
    let interim = Usage {
        input_octets: 1_000,
        output_octets: 2_000,
        input_packets: 10,
        output_packets: 20,
        session_time: Duration::from_secs(300),
    };
    let stop = Usage {
        input_octets: 3 * (1u64 << 32) + 12_345,
        output_octets: (1u64 << 32) + 7,
        input_packets: 5_000_000,
        output_packets: 6_000_000,
        session_time: Duration::from_secs(7_200),
    };
    for rec in [
        AcctRecord::AccountingOn,
        session_record(SessionEvent::Start),
        session_record(SessionEvent::Interim(interim)),
        session_record(SessionEvent::Stop(stop, TerminateCause::IdleTimeout)),
    ] {
        let ev = send_acct(&mut c, &rec);
        assert!(
            ev.iter()
                .any(|e| matches!(e, ClientEvent::AccountingDone { .. })),
            "{rec:?}: {ev:?}\n{}",
            fr.log_text()
        );
    }
    let recs = fr.detail_records();
    assert_eq!(recs.len(), 4, "{}", fr.detail());
    assert_eq!(field(&recs[0], "Acct-Status-Type"), "Accounting-On");
    assert_eq!(field(&recs[1], "Acct-Status-Type"), "Start");
    assert_eq!(field(&recs[1], "User-Name"), "alice");
    assert_eq!(field(&recs[1], "Acct-Session-Id"), "acct-0001");
    assert_eq!(field(&recs[1], "Framed-IP-Address"), "192.0.2.10");
    assert_eq!(field(&recs[1], "NAS-Port-Type"), "Virtual");
    assert_eq!(
        field(&recs[1], "Class"),
        "0x676f6c642d706c616e",
        "Class echoed unchanged"
    );
    assert_eq!(field(&recs[1], "Tunnel-Client-Endpoint:1"), "192.0.2.1");
    assert_eq!(field(&recs[2], "Acct-Status-Type"), "Interim-Update");
    assert_eq!(field(&recs[2], "Acct-Input-Octets"), "1000");
    assert_eq!(field(&recs[2], "Acct-Output-Octets"), "2000");
    assert_eq!(field(&recs[2], "Acct-Session-Time"), "300");
    let s = &recs[3];
    assert_eq!(field(s, "Acct-Status-Type"), "Stop");
    assert_eq!(field(s, "Acct-Input-Octets"), "12345");
    assert_eq!(field(s, "Acct-Input-Gigawords"), "3");
    assert_eq!(field(s, "Acct-Output-Octets"), "7");
    assert_eq!(field(s, "Acct-Output-Gigawords"), "1");
    assert_eq!(field(s, "Acct-Input-Packets"), "5000000");
    assert_eq!(field(s, "Acct-Session-Time"), "7200");
    assert_eq!(field(s, "Acct-Terminate-Cause"), "Idle-Timeout");
    assert_eq!(field(s, "Acct-Delay-Time"), "0");
    let k = c.core.server_counters()[0].2;
    assert_eq!(k.acct_responses, 4);
    assert_eq!(k.bad_authenticator + k.missing_message_authenticator, 0);
}

#[test]
fn failover_to_the_second_server_and_back() {
    if !support::can_run("failover_to_the_second_server_and_back") {
        return;
    }
    let mut primary = FreeRadius::start("primary");
    let secondary = FreeRadius::start("secondary");
    let mut c = client(
        vec![server(primary.auth, 1), server(secondary.auth, 2)],
        vec![],
    );
    assert!(matches!(
        ask(&mut c, pap("alice", "alice-pw")),
        AccessOutcome::Accept(_)
    ));
    let by = |c: &UdpClient<OsRng>, a: SocketAddr| {
        c.core
            .server_counters()
            .into_iter()
            .find(|(s, _, _)| *s == a)
            .unwrap()
            .2
    };
    assert_eq!(by(&c, primary.auth).accepts, 1);

    primary.stop();
    let rid = c
        .core
        .authenticate(Instant::now(), pap("alice", "alice-pw"))
        .unwrap();
    let ev = c.wait(rid, Duration::from_secs(10)).unwrap();
    assert!(
        ev.contains(&ClientEvent::ServerDead { addr: primary.auth }),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(
        e,
        ClientEvent::Access {
            outcome: AccessOutcome::Accept(_),
            ..
        }
    )));
    assert_eq!(
        by(&c, secondary.auth).accepts,
        1,
        "answered by the secondary"
    );
    // While the primary is dead, requests go straight to the secondary.
    assert!(matches!(
        ask(&mut c, pap("bob", "bob-pw")),
        AccessOutcome::Accept(_)
    ));
    assert_eq!(by(&c, secondary.auth).accepts, 2);
    assert_eq!(by(&c, primary.auth).timeouts, 1);

    // Back up: a Status-Server probe finds it, well before the 60 s dead time.
    primary.restart();
    let ev = c
        .run_until(Duration::from_secs(10), |e| {
            *e == ClientEvent::ServerAlive { addr: primary.auth }
        })
        .unwrap();
    assert!(
        ev.contains(&ClientEvent::ServerAlive { addr: primary.auth }),
        "{ev:?}\n{}",
        primary.log_text()
    );
    assert!(by(&c, primary.auth).probe_replies >= 1);
    assert!(matches!(
        ask(&mut c, pap("alice", "alice-pw")),
        AccessOutcome::Accept(_)
    ));
    assert_eq!(by(&c, primary.auth).accepts, 2, "back on the primary");
    assert_eq!(by(&c, secondary.auth).accepts, 2);
}

#[test]
fn stops_spooled_during_an_outage_are_replayed_after_restart() {
    if !support::can_run("stops_spooled_during_an_outage_are_replayed_after_restart") {
        return;
    }
    let mut fr = FreeRadius::start("spool");
    let spool_dir = fr.dir.join("spool");
    fr.stop();
    let stop = session_record(SessionEvent::Stop(
        Usage {
            input_octets: 99,
            output_octets: 77,
            ..Usage::default()
        },
        TerminateCause::LostCarrier,
    ));
    {
        let mut c = client(vec![], vec![server(fr.acct, 1)]);
        let ev = send_acct(&mut c, &stop);
        let attrs = ev
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::Failed { attrs, .. } => attrs,
                _ => None,
            })
            .expect("the Stop fails while the server is down");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut spool = Spool::open(&spool_dir, 100).unwrap();
        spool.push(now, &attrs).unwrap();
    } // the "daemon" exits

    std::thread::sleep(Duration::from_millis(1100)); // so the delay is at least a second
    fr.restart();
    let mut c = client(vec![], vec![server(fr.acct, 1)]);
    let mut spool = Spool::open(&spool_dir, 100).unwrap();
    assert_eq!(spool.len().unwrap(), 1);
    assert_eq!(
        c.replay_spool(&mut spool, Duration::from_secs(10)).unwrap(),
        1
    );
    assert_eq!(spool.len().unwrap(), 0, "delivered records leave the spool");
    let recs = fr.detail_records();
    assert_eq!(recs.len(), 1, "{}", fr.detail());
    assert_eq!(field(&recs[0], "Acct-Status-Type"), "Stop");
    assert_eq!(field(&recs[0], "Acct-Input-Octets"), "99");
    assert_eq!(field(&recs[0], "Acct-Terminate-Cause"), "Lost-Carrier");
    let delay: u32 = field(&recs[0], "Acct-Delay-Time").parse().unwrap();
    assert!(delay >= 1, "Acct-Delay-Time counts from the event: {delay}");
}
