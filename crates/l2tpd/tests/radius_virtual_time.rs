//! The LNS core's RADIUS state in virtual time (no sockets, no server): what an
//! Access-Request is told about the session, how an Access-Accept is applied (address,
//! MS-CHAP2-Success, interim interval, Session-Timeout, Class), the accounting records the
//! core emits (Start, Interim-Update, Stop with the datapath's counters and the right
//! Acct-Terminate-Cause), and Disconnect/CoA requests matched against the sessions. The
//! RADIUS sockets are the shell's and are tested against FreeRADIUS in `radius_lns`.

mod support;
use support::sim::{
    client_core, icmp_echo, lns_core, lns_core_with, run_until, up_sessions, SimCore, CLIENT_ADDR,
    LNS_IP,
};

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use l2tp_proto::data::SessionKey;
use l2tp_radius::acct::{AcctRecord, SessionEvent, TerminateCause};
use l2tp_radius::crypt::sign_request;
use l2tp_radius::dae::{DaeClient, DaeConfig, DaeOutcome, DaeServer, ErrorCause};
use l2tp_radius::reply::{Authorization, FramedAddress, RateLimit, RateLimitAttr};
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};
use l2tp_sim::{seeds, Harness, NetConfig, Network, Node};
use l2tpd::addr::IpCidr;
use l2tpd::core::radius::RadiusSettings;
use l2tpd::core::{AuthAnswer, Iface, Input, IpOp, TunTarget};
use l2tpd::ip::dhcpv6;

const DAE_SECRET: &str = "dae-secret";
const RADIUS_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 99);

/// An LNS core with RADIUS state and a client core, the session authenticated by a RADIUS
/// answer built here (as the shell builds it from an Access-Accept) and up.
fn radius_session(seed: u64, authz: Authorization) -> (Harness, SimCore, SimCore) {
    radius_session_on(seed, authz, None)
}

/// [`radius_session`] with IPv6 on the sessions (from `ipv6_prefix`) when given.
fn radius_session_on(
    seed: u64,
    authz: Authorization,
    ipv6_prefix: Option<&str>,
) -> (Harness, SimCore, SimCore) {
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(seed, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core_with(seed, t0, ipv6_prefix);
    lns.core.enable_radius(RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: None,
    });
    lns.core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    let mut client = client_core(seed, t0, 1);
    client.input(t0, Input::Tick);
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, _, _| !l.auth_requests.is_empty()
        ),
        "seed {seed}: no Access-Request"
    );
    let request = lns.auth_requests.remove(0);
    // What a RADIUS policy keys on.
    let info = request.radius.as_deref().expect("RADIUS session facts");
    assert_eq!(info.user_name, "alice");
    assert_eq!(info.nas_port, 1, "the first session's NAS-Port");
    assert_eq!(info.acct_session_id, "5EED00000001");
    let tunnel = info.tunnel.as_ref().expect("tunnel endpoints");
    let client_addr: SocketAddr = CLIENT_ADDR.parse().unwrap();
    assert_eq!(tunnel.client_endpoint, client_addr.ip());
    assert_eq!(tunnel.client_auth_id.as_deref(), Some("sim-client"));
    // The MS-CHAPv2 proof goes to the server, which answers with MS-CHAP2-Success.
    let ppp::Credentials::MsChapV2 {
        authenticator_challenge,
        peer_challenge,
        nt_response,
    } = request.credentials.clone()
    else {
        panic!("MS-CHAPv2 credentials expected");
    };
    let authenticator_response = ppp::mschapv2::generate_authenticator_response(
        "secret",
        &nt_response,
        &peer_challenge,
        &authenticator_challenge,
        "alice",
    );
    // An answer for an earlier session that had these ids (a late reply; PPP tickets restart
    // with every link) is not taken by this one.
    let mut stale = request.clone();
    if let Some(info) = stale.radius.as_deref_mut() {
        info.acct_session_id = "5EED0000FFFF".into();
    }
    let now = h.now;
    lns.input(
        now,
        Input::AuthDecision {
            request: stale,
            answer: AuthAnswer::Radius {
                decision: ppp::AuthDecision::AcceptMsChapV2 {
                    authenticator_response,
                },
                authz: Box::new(authz.clone()),
            },
        },
    );
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_millis(500),
        |_, _, _| false,
    );
    assert!(
        up_sessions(&lns, h.now).is_empty() && lns.accounting.is_empty(),
        "seed {seed}: a stale answer brought the session up"
    );
    let now = h.now;
    lns.input(
        now,
        Input::AuthDecision {
            request,
            answer: AuthAnswer::Radius {
                decision: ppp::AuthDecision::AcceptMsChapV2 {
                    authenticator_response,
                },
                authz: Box::new(authz),
            },
        },
    );
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, c, now| up_sessions(l, now).len() == 1 && up_sessions(c, now).len() == 1
        ),
        "seed {seed}: the session did not come up (the client refused MS-CHAP2-Success?)"
    );
    (h, lns, client)
}

fn events(lns: &SimCore) -> Vec<SessionEvent> {
    lns.accounting
        .iter()
        .filter_map(|r| match r {
            AcctRecord::Session { event, .. } => Some(*event),
            _ => None,
        })
        .collect()
}

fn dae_server(rate_limit: Option<RateLimitAttr>) -> DaeServer {
    DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: "127.0.0.1".parse().unwrap(),
            secret: Secret::new(DAE_SECRET),
        }],
        nas: Default::default(),
        require_message_authenticator: true,
        rate_limit,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: false,
    })
}

/// A signed Disconnect-Request or CoA-Request, authenticated by a DAE server as the shell
/// does, fed to the core.
fn dae(lns: &mut SimCore, now: Instant, code: Code, attrs: Vec<Attr>) {
    dae_with(lns, now, code, attrs, false)
}

/// The same, `rated`: the DAE server reads rate limits from `Filter-Id = "rate=…"`.
fn dae_with(lns: &mut SimCore, now: Instant, code: Code, attrs: Vec<Attr>, rated: bool) {
    let mut p = Packet::new(code, 7, [0; 16]);
    p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
    p.attrs.extend(attrs);
    let mut bytes = p.encode().unwrap();
    sign_request(&mut bytes, &Secret::new(DAE_SECRET));
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let rate = Some(RateLimitAttr::FilterId {
        prefix: "rate=".into(),
    });
    let server = if code == Code::COA_REQUEST && rated {
        dae_server(rate)
    } else {
        dae_server(None)
    };
    match { server }.handle_datagram(now, SystemTime::now(), from, &bytes) {
        DaeOutcome::Request(r) => lns.input(now, Input::Dae(Box::new(r))),
        other => panic!("the DAE server refused the request: {other:?}"),
    }
}

#[test]
fn an_access_accept_is_applied_and_the_session_accounted_until_its_timeout() {
    for seed in seeds(&[61, 62]) {
        let authz = Authorization {
            address: Some(FramedAddress::Static(RADIUS_IP)),
            interim_interval: Some(Duration::from_secs(30)),
            session_timeout: Some(Duration::from_secs(3600)),
            class: vec![b"gold".to_vec()],
            ..Default::default()
        };
        let (mut h, mut lns, mut client) = radius_session(seed, authz);
        let (key, p) = up_sessions(&lns, h.now)[0];
        assert_eq!(p.peer, RADIUS_IP, "seed {seed}: the RADIUS address");
        let start = lns.accounting.first().expect("a Start").clone();
        let AcctRecord::Session {
            framed_ip, class, ..
        } = &start
        else {
            panic!("{start:?}");
        };
        assert_eq!(*framed_ip, Some(RADIUS_IP));
        assert_eq!(class, &vec![b"gold".to_vec()]);
        assert_eq!(events(&lns), vec![SessionEvent::Start]);

        // Traffic from the user: 3 echo requests to the LNS's shared TUN.
        let (ckey, cp) = up_sessions(&client, h.now)[0];
        let now = h.now;
        for seq in 0..3 {
            let pkt = icmp_echo(cp.local, LNS_IP, seq);
            client.input(
                now,
                Input::TunPacket {
                    source: TunTarget::Session(ckey),
                    packet: &pkt,
                    segment: false,
                },
            );
        }
        // 65 s later: two Interim-Updates (at 30 s and 60 s), counting that traffic.
        let t = h.now + Duration::from_secs(65);
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(70),
            |_, _, now| now >= t,
        );
        let interims: Vec<_> = events(&lns)
            .into_iter()
            .filter_map(|e| match e {
                SessionEvent::Interim(u) => Some(u),
                _ => None,
            })
            .collect();
        assert_eq!(interims.len(), 2, "seed {seed}: {:?}", events(&lns));
        assert!(interims[1].input_packets >= 3 && interims[1].input_octets >= 3 * 40);

        // A CoA shortens the Session-Timeout: the session ends with Session-Timeout.
        let now = h.now;
        dae(
            &mut lns,
            now,
            Code::COA_REQUEST,
            vec![
                Attr::new(AttrType::ACCT_SESSION_ID, "5EED00000001"),
                Attr::u32(AttrType::SESSION_TIMEOUT, 90),
            ],
        );
        assert_eq!(lns.dae_answers.len(), 1);
        assert_eq!(
            lns.dae_answers[0].1,
            Ok(()),
            "seed {seed}: CoA acknowledged"
        );
        let stats = lns.core.datapath().stats(key.tunnel, key.session).unwrap();
        assert!(
            run_until(
                &mut h,
                &mut lns,
                &mut client,
                Duration::from_secs(60),
                |l, _, _| events(l)
                    .iter()
                    .any(|e| matches!(e, SessionEvent::Stop(..)))
            ),
            "seed {seed}: no Stop after the CoA's Session-Timeout"
        );
        let Some(SessionEvent::Stop(usage, cause)) = events(&lns).last().copied() else {
            panic!("seed {seed}: the Stop comes last: {:?}", events(&lns));
        };
        assert_eq!(cause, TerminateCause::SessionTimeout, "seed {seed}");
        assert!(usage.session_time >= Duration::from_secs(90));
        assert!(usage.input_octets >= stats.rx_bytes && usage.output_octets >= stats.tx_bytes);
    }
}

#[test]
fn disconnect_requests_close_the_named_session_or_are_refused() {
    let seed = seeds(&[71])[0];
    let authz = Authorization {
        address: Some(FramedAddress::FromPool),
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session(seed, authz);
    let (_, p) = up_sessions(&lns, h.now)[0];
    assert!(
        (u32::from(p.peer) >= u32::from(Ipv4Addr::new(203, 0, 113, 10))),
        "from the pool"
    );
    let now = h.now;
    // Nobody by that name: NAK 503, the session stays.
    dae(
        &mut lns,
        now,
        Code::DISCONNECT_REQUEST,
        vec![Attr::new(AttrType::USER_NAME, "mallory")],
    );
    // The right user, the wrong address: every attribute must match.
    dae(
        &mut lns,
        now,
        Code::DISCONNECT_REQUEST,
        vec![
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, Ipv4Addr::new(192, 0, 2, 99)),
        ],
    );
    // A filter (a Filter-Id that names no rate) is not supported: refused, not
    // acknowledged and ignored.
    dae(
        &mut lns,
        now,
        Code::COA_REQUEST,
        vec![
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::new(AttrType::FILTER_ID, "rate=1M/1M"),
        ],
    );
    let naks: Vec<_> = lns.dae_answers.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        naks,
        vec![
            Err(ErrorCause::SessionContextNotFound),
            Err(ErrorCause::SessionContextNotFound),
            Err(ErrorCause::UnsupportedAttribute),
        ]
    );
    assert_eq!(up_sessions(&lns, h.now).len(), 1);

    dae(
        &mut lns,
        now,
        Code::DISCONNECT_REQUEST,
        vec![Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, p.peer)],
    );
    assert_eq!(lns.dae_answers.last().unwrap().1, Ok(()));
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, _, _| events(l)
                .iter()
                .any(|e| matches!(e, SessionEvent::Stop(..)))
        ),
        "seed {seed}: no Stop after the Disconnect"
    );
    assert!(matches!(
        events(&lns).last(),
        Some(SessionEvent::Stop(_, TerminateCause::AdminReset))
    ));
}

/// The reply bytes the shell sends for `lns`'s latest DAE answer.
fn last_reply(lns: &SimCore) -> Vec<u8> {
    let (req, result) = lns.dae_answers.last().expect("an answer");
    dae_server(None).respond(req, *result).bytes
}

/// A Disconnect-Request acknowledged by one process and retransmitted by the server to the
/// next (its ACK was lost during a hitless upgrade) gets the same ACK and is not acted on
/// again (RFC 3576 §2.3: a duplicate has the same source, Identifier and authenticator).
#[test]
fn a_disconnect_retransmitted_across_an_upgrade_gets_the_same_ack_and_no_second_action() {
    let seed = seeds(&[73])[0];
    let authz = Authorization {
        address: Some(FramedAddress::FromPool),
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session(seed, authz);
    let (_, p) = up_sessions(&lns, h.now)[0];
    let disconnect = vec![Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, p.peer)];
    let now = h.now;
    dae(&mut lns, now, Code::DISCONNECT_REQUEST, disconnect.clone());
    assert_eq!(lns.dae_answers.last().unwrap().1, Ok(()));
    let ack = last_reply(&lns);
    assert_eq!(Code(ack[0]), Code::DISCONNECT_ACK);

    // The upgrade: a fresh core restored from the old one's snapshot.
    let bytes = lns.core.snapshot(now).expect("snapshot");
    let mut fresh = lns_core(seed ^ 0xdead, now).core;
    fresh.restore(&bytes, now).expect("restore");
    fresh.resume_radius(RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: None,
    });
    fresh.set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    lns.core = fresh;

    let later = now + Duration::from_secs(3);
    dae(
        &mut lns,
        later,
        Code::DISCONNECT_REQUEST,
        disconnect.clone(),
    );
    assert_eq!(lns.dae_answers.len(), 2);
    assert_eq!(lns.dae_answers[1].1, Ok(()), "the retransmission was NAKed");
    assert_eq!(last_reply(&lns), ack, "not the same ACK");
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(30),
        |_, _, _| false,
    );
    let stops = events(&lns)
        .iter()
        .filter(|e| matches!(e, SessionEvent::Stop(..)))
        .count();
    assert_eq!(stops, 1, "seed {seed}: {:?}", events(&lns));
    assert!(up_sessions(&lns, h.now).is_empty() && up_sessions(&client, h.now).is_empty());

    // Another request (other attributes, so another authenticator) is acted on afresh: the
    // session is gone, so 503; and so is the same request once its window has passed.
    let now = h.now;
    dae(
        &mut lns,
        now,
        Code::DISCONNECT_REQUEST,
        vec![Attr::new(AttrType::USER_NAME, "alice")],
    );
    assert_eq!(
        lns.dae_answers.last().unwrap().1,
        Err(ErrorCause::SessionContextNotFound)
    );
    let expired = now + l2tpd::core::radius::DAE_DUPLICATE_WINDOW;
    dae(&mut lns, expired, Code::DISCONNECT_REQUEST, disconnect);
    assert_eq!(
        lns.dae_answers.last().unwrap().1,
        Err(ErrorCause::SessionContextNotFound)
    );
}

/// An IPv4 packet of `len` octets (UDP, junk payload) from `src` to `dst`.
fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let mut sum: u32 = 0;
    for c in p[..20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p
}

/// Offers 4 packets of 1000 octets every 10 ms for one virtual second (400,000 octets)
/// from the LNS's shared TUN towards the user (`down`) or from the user's TUN towards the
/// LNS; returns the octets the LNS let through (its datapath's tx, or its TUN writes).
fn offer(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, down: bool) -> u64 {
    let (key, p) = up_sessions(lns, h.now)[0];
    let (ckey, _) = up_sessions(client, h.now)[0];
    let tx0 = lns
        .core
        .datapath()
        .stats(key.tunnel, key.session)
        .unwrap()
        .tx_bytes;
    lns.tun_writes.clear();
    let t0 = h.now;
    for _ in 0..100 {
        let now = h.now;
        for _ in 0..4 {
            if down {
                let pkt = ip_packet(LNS_IP, p.peer, 1000);
                lns.input(
                    now,
                    Input::TunPacket {
                        source: TunTarget::Shared,
                        packet: &pkt,
                        segment: false,
                    },
                );
            } else {
                let pkt = ip_packet(p.peer, LNS_IP, 1000);
                client.input(
                    now,
                    Input::TunPacket {
                        source: TunTarget::Session(ckey),
                        packet: &pkt,
                        segment: false,
                    },
                );
            }
        }
        let t = now + Duration::from_millis(10);
        run_until(h, lns, client, Duration::from_millis(10), |_, _, now| {
            now >= t
        });
    }
    assert_eq!(
        h.now - t0,
        Duration::from_secs(1),
        "one virtual second offered"
    );
    // What is still in flight arrives.
    let t = h.now + Duration::from_millis(50);
    run_until(h, lns, client, Duration::from_millis(60), |_, _, now| {
        now >= t
    });
    if down {
        lns.core
            .datapath()
            .stats(key.tunnel, key.session)
            .unwrap()
            .tx_bytes
            - tx0
    } else {
        lns.tun_writes
            .iter()
            .filter(|(t, b)| *t == TunTarget::Shared && b.len() == 1000)
            .map(|(_, b)| b.len() as u64)
            .sum()
    }
}

#[test]
fn a_rate_limit_polices_each_direction_and_a_coa_changes_it() {
    let seed = seeds(&[81])[0];
    let authz = Authorization {
        address: Some(FramedAddress::FromPool),
        // 800 kbit/s towards the user, 400 kbit/s from the user.
        rate_limit: Some(RateLimit {
            down_bps: 800_000,
            up_bps: 400_000,
        }),
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session(seed, authz);
    // 100,000 octets/s plus a 6,000-octet burst, each frame with a few octets of PPP header.
    let down = offer(&mut h, &mut lns, &mut client, true);
    assert!(
        (100_000..=112_000).contains(&down),
        "seed {seed}: {down} octets towards the user"
    );
    // 50,000 octets/s plus the burst.
    let up = offer(&mut h, &mut lns, &mut client, false);
    assert!(
        (50_000..=60_000).contains(&up),
        "seed {seed}: {up} octets from the user"
    );
    assert!(lns.core.counters().rate_limited > 500);

    // A CoA raises the limit: the same offer passes whole.
    let now = h.now;
    dae_with(
        &mut lns,
        now,
        Code::COA_REQUEST,
        vec![
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::new(AttrType::FILTER_ID, "rate=80M/80M"),
        ],
        true,
    );
    assert_eq!(lns.dae_answers.last().unwrap().1, Ok(()));
    let down = offer(&mut h, &mut lns, &mut client, true);
    assert!(down >= 400_000, "seed {seed}: {down} octets after the CoA");
}

#[test]
fn an_unanswered_request_is_withdrawn_when_its_session_goes() {
    let seed = seeds(&[91])[0];
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(seed, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core(seed, t0);
    lns.core.enable_radius(RadiusSettings::default());
    lns.core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    let mut client = client_core(seed, t0, 1);
    client.input(t0, Input::Tick);
    assert!(run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_secs(30),
        |l, _, _| !l.auth_requests.is_empty()
    ));
    // The LAC goes away before the RADIUS server answers.
    let now = h.now;
    client.input(now, Input::Shutdown);
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, _, _| !l.auth_cancelled.is_empty()
        ),
        "seed {seed}: the request was not withdrawn"
    );
    assert_eq!(lns.auth_cancelled, lns.auth_requests);
    assert!(lns.accounting.is_empty(), "nothing to account");
}

/// Distinct addresses for many sessions (the sim LNS's own pool holds 11): documentation
/// ranges, past the pool, the LNS and the tunnel endpoints.
fn framed_addresses() -> impl Iterator<Item = Ipv4Addr> {
    (30..=253)
        .map(|d| Ipv4Addr::new(203, 0, 113, d))
        .chain((2..=254).map(|d| Ipv4Addr::new(198, 51, 100, d)))
        .chain((10..=250).map(|d| Ipv4Addr::new(192, 0, 2, d)))
}

/// Answers every pending Access-Request of `lns` with an Access-Accept carrying `authz`
/// and the next of `addrs`.
fn accept_all(
    lns: &mut SimCore,
    now: Instant,
    authz: &Authorization,
    addrs: &mut impl Iterator<Item = Ipv4Addr>,
) {
    for request in std::mem::take(&mut lns.auth_requests) {
        let mut authz = authz.clone();
        authz.address = Some(FramedAddress::Static(addrs.next().expect("an address")));
        let ppp::Credentials::MsChapV2 {
            authenticator_challenge,
            peer_challenge,
            nt_response,
        } = request.credentials.clone()
        else {
            panic!("MS-CHAPv2 credentials expected");
        };
        let authenticator_response = ppp::mschapv2::generate_authenticator_response(
            "secret",
            &nt_response,
            &peer_challenge,
            &authenticator_challenge,
            "alice",
        );
        lns.input(
            now,
            Input::AuthDecision {
                request,
                answer: AuthAnswer::Radius {
                    decision: ppp::AuthDecision::AcceptMsChapV2 {
                        authenticator_response,
                    },
                    authz: Box::new(authz),
                },
            },
        );
    }
}

#[test]
fn housekeeping_looks_only_at_sessions_whose_deadline_is_due() {
    // Many sessions with a Session-Timeout, an Idle-Timeout and an interim interval: each
    // second's housekeeping looks at the sessions whose deadline came due, not at all of
    // them (a walk would look at N sessions every second).
    const N: usize = 600;
    let seed = 11;
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(seed, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core(seed, t0);
    lns.core.enable_radius(RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: None,
    });
    lns.core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    let mut client = client_core(seed, t0, N as u32);
    client.input(t0, Input::Tick);
    let authz = Authorization {
        session_timeout: Some(Duration::from_secs(3600)),
        idle_timeout: Some(Duration::from_secs(600)),
        interim_interval: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let setup_deadline = t0 + Duration::from_secs(120);
    let mut addrs = framed_addresses();
    while up_sessions(&lns, h.now).len() < N {
        let now = h.now;
        accept_all(&mut lns, now, &authz, &mut addrs);
        let mut nodes: [&mut dyn Node; 2] = [&mut lns, &mut client];
        assert!(
            h.step(&mut nodes, setup_deadline),
            "{} of {N} sessions up",
            up_sessions(&lns, h.now).len()
        );
    }
    let up_at = h.now;
    let starts = || {
        lns.accounting
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    AcctRecord::Session {
                        event: SessionEvent::Start,
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(starts(), N);
    let due = |lns: &SimCore| lns.core.counters().deadlines_due;
    assert_eq!(due(&lns), 0);
    // One session keeps sending: it is not idle.
    let (ckey, cp) = up_sessions(&client, h.now)[0];
    let ping = |client: &mut SimCore, now: Instant, seq: u16| {
        let pkt = icmp_echo(cp.local, LNS_IP, seq);
        client.input(
            now,
            Input::TunPacket {
                source: TunTarget::Session(ckey),
                packet: &pkt,
                segment: false,
            },
        );
    };

    // Almost 300 s of housekeeping (one pass a second): no deadline is due, nothing is
    // looked at.
    let mut seq = 0;
    let mut run_to = |h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, t: Instant| {
        while h.now < t {
            let next = (h.now + Duration::from_secs(100)).min(t);
            seq += 1;
            ping(client, h.now, seq);
            run_until(h, lns, client, next - h.now, |_, _, _| false);
        }
    };
    run_to(&mut h, &mut lns, &mut client, t0 + Duration::from_secs(295));
    assert_eq!(
        due(&lns),
        0,
        "295 s of housekeeping over {N} sessions looked at none of them"
    );
    // The interims come due between 300 s and 330 s (jittered): one visit each.
    run_to(
        &mut h,
        &mut lns,
        &mut client,
        up_at + Duration::from_secs(331),
    );
    let interims = lns
        .accounting
        .iter()
        .filter(|r| {
            matches!(
                r,
                AcctRecord::Session {
                    event: SessionEvent::Interim(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(interims, N);
    assert_eq!(due(&lns), N as u64, "one look per Interim-Update due");
    // Past the Idle-Timeout: every session but the one sending is closed as idle, with
    // a visit each (and the busy one's re-armed check, and the second interims).
    run_to(
        &mut h,
        &mut lns,
        &mut client,
        up_at + Duration::from_secs(700),
    );
    let idle_stops = lns
        .accounting
        .iter()
        .filter(|r| {
            matches!(
                r,
                AcctRecord::Session {
                    event: SessionEvent::Stop(_, TerminateCause::IdleTimeout),
                    ..
                }
            )
        })
        .count();
    assert_eq!(idle_stops, N - 1, "every silent session closed as idle");
    assert_eq!(up_sessions(&lns, h.now).len(), 1, "the busy one stays");
    assert!(
        due(&lns) <= 3 * N as u64 + 10,
        "{} looks for {N} sessions over 700 s (a walk: {})",
        due(&lns),
        700 * N
    );
}

/// A client whose IPCP frames never leave it (as if it refused IPv4): only IPv6CP can open.
struct NoIpcp(SimCore);

/// Whether an L2TP data message (RFC 2661 §3.1) carries an IPCP frame.
fn carries_ipcp(d: &[u8]) -> bool {
    if d.len() < 6 || d[0] & 0x80 != 0 {
        return false; // control message
    }
    let flags = u16::from_be_bytes([d[0], d[1]]);
    let mut at = 2 + if flags & 0x4000 != 0 { 2 } else { 0 } + 4;
    if flags & 0x0800 != 0 {
        at += 4;
    }
    if flags & 0x0200 != 0 {
        let Some(o) = d.get(at..at + 2) else {
            return false;
        };
        at += 2 + usize::from(u16::from_be_bytes([o[0], o[1]]));
    }
    let mut ppp = d.get(at..).unwrap_or_default();
    if ppp.starts_with(&[0xff, 0x03]) {
        ppp = &ppp[2..];
    }
    ppp.starts_with(&[0x80, 0x21])
}

impl Node for NoIpcp {
    fn owns(&self, addr: SocketAddr) -> bool {
        self.0.owns(addr)
    }
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        self.0.handle_datagram(now, local, from, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        loop {
            let d = self.0.poll_transmit()?;
            if !carries_ipcp(&d.2) {
                return Some(d);
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

#[test]
fn accounting_starts_when_only_ipv6cp_comes_up() {
    let seed = 12;
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(seed, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core_with(seed, t0, Some("2001:db8:1::/64"));
    lns.core.enable_radius(RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: None,
    });
    lns.core
        .set_auth_backend(Box::new(l2tpd::core::aaa::Deferred));
    let mut client = client_core(seed, t0, 1);
    client.input(t0, Input::Tick);
    let mut client = NoIpcp(client);
    let authz = Authorization::default();
    let mut addrs = framed_addresses();
    let start = |lns: &SimCore| {
        lns.accounting.iter().find_map(|r| match r {
            AcctRecord::Session {
                event: SessionEvent::Start,
                framed_ip,
                session,
                ..
            } => Some((*framed_ip, session.acct_session_id.clone())),
            _ => None,
        })
    };
    let deadline = t0 + Duration::from_secs(60);
    while start(&lns).is_none() {
        let now = h.now;
        accept_all(&mut lns, now, &authz, &mut addrs);
        let mut nodes: [&mut dyn Node; 2] = [&mut lns, &mut client];
        assert!(
            h.step(&mut nodes, deadline),
            "no accounting Start: {:?}",
            lns.core.sessions(h.now)
        );
    }
    let sessions = lns.core.sessions(h.now);
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].ipv6_up && sessions[0].ipv4.is_none(),
        "IPv6CP up, IPCP not: {sessions:?}"
    );
    assert_eq!(start(&lns), Some((None, "5EED00000001".into())));
    // IPCP gives up later; the session stays on IPv6 and gets no second Start.
    run_until(
        &mut h,
        &mut lns,
        &mut client.0,
        Duration::from_secs(1),
        |_, _, _| false,
    );
    let mut nodes: [&mut dyn Node; 2] = [&mut lns, &mut client];
    h.run_until(
        &mut nodes,
        h.now + Duration::from_secs(90),
        1_000_000,
        |_| false,
    );
    let starts = lns
        .accounting
        .iter()
        .filter(|r| {
            matches!(
                r,
                AcctRecord::Session {
                    event: SessionEvent::Start,
                    ..
                }
            )
        })
        .count();
    assert_eq!(starts, 1);
    assert!(lns.core.sessions(h.now)[0].ipv6_up);
}

/// The routes the shell holds after `ops` (added, not deleted since), in order of addition.
fn installed_routes(ops: &[IpOp]) -> Vec<(Iface, IpCidr)> {
    let mut held: Vec<(Iface, IpCidr)> = Vec::new();
    for op in ops {
        match op {
            IpOp::AddRoute { iface, route, .. } if !held.contains(&(iface.clone(), *route)) => {
                held.push((iface.clone(), *route));
            }
            IpOp::DelRoute { iface, route } => held.retain(|h| *h != (iface.clone(), *route)),
            _ => {}
        }
    }
    held
}

fn v4(s: &str) -> IpCidr {
    IpCidr::V4(s.parse().unwrap())
}

/// The RADIUS routes (not the session's host route) the shared interface holds.
fn framed_on_shared(lns: &SimCore) -> Vec<IpCidr> {
    installed_routes(&lns.ops)
        .into_iter()
        .filter(|(i, r)| *i == Iface::Shared && !matches!(r, IpCidr::V4(c) if c.len() == 32))
        .map(|(_, r)| r)
        .collect()
}

/// Runs until the client's session is down, then a little more.
fn close_client(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore) {
    let now = h.now;
    client.input(now, Input::Shutdown);
    assert!(
        run_until(h, lns, client, Duration::from_secs(30), |l, _, now| {
            l.core.sessions(now).is_empty()
        }),
        "the session did not end"
    );
}

#[test]
fn a_coa_replaces_the_routes_it_changes_and_none_outlives_the_session() {
    let seed = seeds(&[17])[0];
    let authz = Authorization {
        address: Some(FramedAddress::FromPool),
        routes: vec![
            "198.51.100.128/25 0.0.0.0 1".into(),
            "192.0.2.64/26 0.0.0.0 1".into(),
        ],
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session(seed, authz);
    assert_eq!(
        framed_on_shared(&lns),
        vec![v4("198.51.100.128/25"), v4("192.0.2.64/26")]
    );
    // The server moves one of the routes: the other stays, the old one goes.
    let now = h.now;
    dae(
        &mut lns,
        now,
        Code::COA_REQUEST,
        vec![
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::new(AttrType::FRAMED_ROUTE, "198.51.100.128/25 0.0.0.0 1"),
            Attr::new(AttrType::FRAMED_ROUTE, "198.51.100.64/26 0.0.0.0 1"),
        ],
    );
    assert_eq!(lns.dae_answers.last().unwrap().1, Ok(()));
    assert_eq!(
        framed_on_shared(&lns),
        vec![v4("198.51.100.128/25"), v4("198.51.100.64/26")],
        "seed {seed}: {:?}",
        lns.ops
    );
    close_client(&mut h, &mut lns, &mut client);
    assert_eq!(
        installed_routes(&lns.ops),
        vec![],
        "seed {seed}: routes left behind"
    );
}

/// How many of one packet to `dst`, sent into the LNS's shared TUN, the client's TUN got.
fn delivered(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, dst: Ipv4Addr) -> usize {
    client.tun_writes.clear();
    let pkt = ip_packet(LNS_IP, dst, 200);
    let now = h.now;
    lns.input(
        now,
        Input::TunPacket {
            source: TunTarget::Shared,
            packet: &pkt,
            segment: false,
        },
    );
    run_until(h, lns, client, Duration::from_millis(100), |_, _, _| false);
    client.tun_writes.iter().filter(|(_, b)| *b == pkt).count()
}

/// The MS-CHAPv2 acceptance of `request` (password "secret") with `authz`.
fn accept_mschap(request: &l2tpd::core::AuthRequest, authz: &Authorization) -> AuthAnswer {
    let ppp::Credentials::MsChapV2 {
        authenticator_challenge,
        peer_challenge,
        nt_response,
    } = request.credentials.clone()
    else {
        panic!("MS-CHAPv2 credentials expected");
    };
    let authenticator_response = ppp::mschapv2::generate_authenticator_response(
        "secret",
        &nt_response,
        &peer_challenge,
        &authenticator_challenge,
        &request.user,
    );
    AuthAnswer::Radius {
        decision: ppp::AuthDecision::AcceptMsChapV2 {
            authenticator_response,
        },
        authz: Box::new(authz.clone()),
    }
}

#[test]
fn a_reauthentication_that_changes_the_routes_withdraws_the_old_ones() {
    let seed = seeds(&[23])[0];
    let first = Authorization {
        address: Some(FramedAddress::FromPool),
        routes: vec!["198.51.100.128/25 0.0.0.0 1".into()],
        netmask: Some(Ipv4Addr::new(255, 255, 255, 252)),
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session(seed, first);
    let key = lns.core.sessions(h.now)[0].key;
    let addr = up_sessions(&lns, h.now)[0].1.peer;
    let subnet = IpCidr::V4(l2tpd::addr::Ipv4Cidr::new(addr, 30).unwrap());
    assert_eq!(
        framed_on_shared(&lns),
        vec![v4("198.51.100.128/25"), subnet]
    );
    // The peer renegotiates LCP (RFC 1661 §3.7: a Configure-Request in the Opened state):
    // it authenticates again, and this time the server routes another prefix.
    let now = h.now;
    let renegotiate = [
        0xff, 0x03, 0xc0, 0x21, 0x01, 0x77, 0x00, 0x0a, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78,
    ];
    lns.input(
        now,
        Input::PppFrame {
            key,
            frame: &renegotiate,
        },
    );
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, _, _| !l.auth_requests.is_empty()
        ),
        "seed {seed}: no second Access-Request"
    );
    let request = lns.auth_requests.remove(0);
    let second = Authorization {
        address: Some(FramedAddress::FromPool),
        routes: vec!["192.0.2.64/26 0.0.0.0 1".into()],
        ..Default::default()
    };
    let answer = accept_mschap(&request, &second);
    let now = h.now;
    lns.input(now, Input::AuthDecision { request, answer });
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(30),
            |l, c, now| up_sessions(l, now).len() == 1 && up_sessions(c, now).len() == 1
        ),
        "seed {seed}: the session did not come up again"
    );
    assert_eq!(
        framed_on_shared(&lns),
        vec![v4("192.0.2.64/26")],
        "seed {seed}: the first grant's routes outlived it: {:?}",
        lns.ops
    );
    // Traffic follows the grant: to the new prefix it reaches the user, to the old one not.
    assert_eq!(
        delivered(&mut h, &mut lns, &mut client, Ipv4Addr::new(192, 0, 2, 70)),
        1
    );
    assert_eq!(
        delivered(
            &mut h,
            &mut lns,
            &mut client,
            Ipv4Addr::new(198, 51, 100, 130)
        ),
        0,
        "seed {seed}: the withdrawn prefix still reaches the session"
    );
    close_client(&mut h, &mut lns, &mut client);
    assert_eq!(
        installed_routes(&lns.ops),
        vec![],
        "seed {seed}: routes left behind"
    );
}

/// A DHCPv6 message from the client's link-local address to the servers, into the LNS's
/// side of the session as the client's PPP would carry it.
fn dhcpv6_to_lns(lns: &mut SimCore, now: Instant, key: SessionKey, m: &dhcpv6::Message) {
    let packet = dhcpv6::udp_packet(
        "fe80::2".parse().unwrap(),
        dhcpv6::ALL_SERVERS,
        dhcpv6::CLIENT_PORT,
        dhcpv6::SERVER_PORT,
        &m.encode(),
    );
    let mut frame = vec![0x00, 0x57];
    frame.extend_from_slice(&packet);
    lns.input(now, Input::PppFrame { key, frame: &frame });
}

/// The DHCPv6 answers the client's TUN received since `from`.
fn dhcpv6_answers(client: &SimCore) -> Vec<dhcpv6::Message> {
    client
        .tun_writes
        .iter()
        .filter_map(|(_, p)| {
            // Client-bound: UDP from port 547 to 546.
            (p.len() > 48 && p[6] == 17 && p[40..44] == [2, 35, 2, 34])
                .then(|| dhcpv6::Message::decode(&p[48..]).ok())
                .flatten()
        })
        .collect()
}

fn ia_prefixes(m: &dhcpv6::Message) -> Vec<dhcpv6::IaPrefix> {
    let ia = dhcpv6::Ia::decode(m.option(dhcpv6::code::IA_PD).expect("IA_PD")).unwrap();
    ia.options
        .iter()
        .filter(|o| o.code == dhcpv6::code::IAPREFIX)
        .map(|o| dhcpv6::IaPrefix::decode(o).unwrap())
        .collect()
}

#[test]
fn a_coa_moves_the_delegated_prefix_its_route_and_what_dhcpv6_hands_out() {
    let seed = seeds(&[29])[0];
    let p56 = |s: &str| l2tp_radius::reply::Ipv6Prefix {
        addr: s.parse().unwrap(),
        len: 56,
    };
    let authz = Authorization {
        address: Some(FramedAddress::FromPool),
        delegated_prefix: Some(p56("2001:db8:7700::")),
        ipv6_dns: vec!["2001:db8::53".parse().unwrap()],
        ..Default::default()
    };
    let (mut h, mut lns, mut client) = radius_session_on(seed, authz, Some("2001:db8:1::/48"));
    let v6 = |s: &str| IpCidr::V6(s.parse().unwrap());
    assert!(
        run_until(
            &mut h,
            &mut lns,
            &mut client,
            Duration::from_secs(10),
            |l, _, now| l.core.sessions(now)[0].ipv6_up
                && framed_on_shared(l).contains(&v6("2001:db8:7700::/56"))
        ),
        "seed {seed}: IPv6 with the delegated route: {:?}",
        lns.ops
    );
    let key = lns.core.sessions(h.now)[0].key;

    // A CPE asks for a prefix: it is offered the server's, and its DNS server.
    let client_id =
        dhcpv6::DhcpOption::new(dhcpv6::code::CLIENTID, vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 2]);
    let ia_pd = |prefixes: Vec<dhcpv6::DhcpOption>| {
        dhcpv6::Ia {
            iaid: 1,
            t1: 0,
            t2: 0,
            options: prefixes,
        }
        .to_option(dhcpv6::code::IA_PD)
    };
    let solicit = dhcpv6::Message {
        msg_type: dhcpv6::MessageType::SOLICIT,
        transaction_id: [1, 1, 1],
        options: vec![
            client_id.clone(),
            ia_pd(vec![]),
            dhcpv6::DhcpOption::new(dhcpv6::code::ORO, vec![0, 23]),
        ],
    };
    client.tun_writes.clear();
    let now = h.now;
    dhcpv6_to_lns(&mut lns, now, key, &solicit);
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_millis(100),
        |_, _, _| false,
    );
    let answers = dhcpv6_answers(&client);
    assert_eq!(answers.len(), 1, "seed {seed}: one Advertise");
    let adv = &answers[0];
    assert_eq!(adv.msg_type, dhcpv6::MessageType::ADVERTISE);
    let offered = ia_prefixes(adv);
    assert_eq!(
        offered
            .iter()
            .map(|p| (p.prefix, p.len))
            .collect::<Vec<_>>(),
        vec![("2001:db8:7700::".parse().unwrap(), 56)]
    );
    assert!(adv.option(dhcpv6::code::DNS_SERVERS).is_some());
    let server_id = adv.option(dhcpv6::code::SERVERID).unwrap().clone();

    // The server moves the prefix: the old route goes, the new one comes.
    let now = h.now;
    dae(
        &mut lns,
        now,
        Code::COA_REQUEST,
        vec![
            Attr::new(AttrType::USER_NAME, "alice"),
            Attr::new(
                AttrType::DELEGATED_IPV6_PREFIX,
                p56("2001:db8:7800::").encode(),
            ),
        ],
    );
    assert_eq!(lns.dae_answers.last().unwrap().1, Ok(()));
    let six: Vec<IpCidr> = framed_on_shared(&lns)
        .into_iter()
        .filter(|r| matches!(r, IpCidr::V6(_)))
        .collect();
    // (Besides the session's /64 from the pool.)
    assert_eq!(
        six,
        vec![v6("2001:db8:1:1::/64"), v6("2001:db8:7800::/56")],
        "seed {seed}: {:?}",
        lns.ops
    );

    // The CPE renews what it has: it is given the new prefix, the old one at lifetime 0.
    let renew = dhcpv6::Message {
        msg_type: dhcpv6::MessageType::RENEW,
        transaction_id: [2, 2, 2],
        options: vec![client_id, server_id, ia_pd(vec![offered[0].to_option()])],
    };
    client.tun_writes.clear();
    let now = h.now;
    dhcpv6_to_lns(&mut lns, now, key, &renew);
    run_until(
        &mut h,
        &mut lns,
        &mut client,
        Duration::from_millis(100),
        |_, _, _| false,
    );
    let answers = dhcpv6_answers(&client);
    assert_eq!(answers.len(), 1, "seed {seed}: one Reply");
    let got: Vec<_> = ia_prefixes(&answers[0])
        .iter()
        .map(|p| (p.prefix.to_string(), p.valid > 0))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2001:db8:7800::".to_string(), true),
            ("2001:db8:7700::".to_string(), false)
        ]
    );
    // Garbage on the server port is dropped and counted, the session unharmed.
    let before = lns.core.counters().dhcpv6_dropped;
    let mut bad = dhcpv6::udp_packet(
        "fe80::2".parse().unwrap(),
        dhcpv6::ALL_SERVERS,
        dhcpv6::CLIENT_PORT,
        dhcpv6::SERVER_PORT,
        &[3, 0, 0, 0, 0, 1, 0xff, 0xff],
    );
    bad.splice(0..0, [0x00, 0x57]);
    let now = h.now;
    lns.input(now, Input::PppFrame { key, frame: &bad });
    assert_eq!(lns.core.counters().dhcpv6_dropped, before + 1);
    let stats = lns.core.daemon_stats(now);
    assert_eq!(
        (stats.dhcpv6_answered, stats.dhcpv6_dropped),
        (
            lns.core.counters().dhcpv6_answered,
            lns.core.counters().dhcpv6_dropped
        ),
        "l2tpctl stats shows the DHCPv6 counters"
    );
    assert!(stats.dhcpv6_answered >= 2, "{stats:?}");
    close_client(&mut h, &mut lns, &mut client);
    assert_eq!(
        installed_routes(&lns.ops),
        vec![],
        "seed {seed}: routes left behind"
    );
}

/// A RADIUS client with two authentication servers: `A` preferred, `B` the fallback;
/// a server is dead after two unanswered transmissions, for 10 s (no probes).
fn failover_client(seed: u64) -> l2tp_radius::client::Client<rand_chacha::ChaCha8Rng> {
    use l2tp_radius::client::{Client, ClientConfig, ServerConfig};
    use rand_chacha::rand_core::SeedableRng;
    let server = |a: &str, priority| ServerConfig {
        addr: a.parse().unwrap(),
        secret: Secret::new("radius-secret"),
        priority,
    };
    let mut cfg = ClientConfig::new(
        vec![server(RADIUS_A, 1), server(RADIUS_B, 2)],
        Vec::new(),
        Default::default(),
    );
    cfg.timeout = Duration::from_secs(1);
    cfg.tries_per_server = 2;
    cfg.dead_time = Duration::from_secs(10);
    cfg.probe_interval = None;
    Client::new(cfg, rand_chacha::ChaCha8Rng::seed_from_u64(seed))
}

const RADIUS_A: &str = "127.0.0.1:18120";
const RADIUS_B: &str = "127.0.0.2:18120";

fn pap_request() -> l2tp_radius::request::AccessRequest {
    l2tp_radius::request::AccessRequest {
        session: l2tp_radius::request::SessionInfo {
            user_name: "alice".into(),
            nas_port: 1,
            acct_session_id: "5EED00000001".into(),
            calling_station_id: None,
            called_station_id: None,
            tunnel: None,
        },
        credentials: ppp::Credentials::Pap {
            password: b"pw".to_vec(),
        },
    }
}

/// Where `client` sends a new Access-Request at `now` (the request is then withdrawn).
fn first_choice(
    client: &mut l2tp_radius::client::Client<rand_chacha::ChaCha8Rng>,
    now: Instant,
) -> SocketAddr {
    let id = client.authenticate(now, pap_request()).expect("room");
    let to = client.poll_transmit().expect("sent").to;
    while client.poll_transmit().is_some() {}
    client.cancel(id);
    to
}

/// A server the old process marked dead stays dead in the new one (a hitless upgrade) until
/// its dead time ends: the new process does not try it once more first; its counters go on.
#[test]
fn a_server_marked_dead_stays_dead_across_an_upgrade_until_its_dead_time_ends() {
    let a: SocketAddr = RADIUS_A.parse().unwrap();
    let b: SocketAddr = RADIUS_B.parse().unwrap();
    let t0 = Instant::now();
    let mut old = failover_client(1);
    // A does not answer: two transmissions, then it is dead and B is tried.
    let id = old.authenticate(t0, pap_request()).expect("room");
    let mut sent = Vec::new();
    let mut now = t0;
    for _ in 0..10 {
        while let Some(t) = old.poll_transmit() {
            sent.push(t.to);
        }
        if sent.contains(&b) {
            break;
        }
        now = old.poll_timeout().expect("a retransmission due");
        old.handle_timeout(now);
    }
    assert_eq!(sent, vec![a, a, b]);
    let dead_at = now;
    assert!(old.is_dead(a, now));
    // The upgrade waits for no request to be left.
    old.cancel(id);
    let marks = old.server_marks();

    let mut lns = lns_core(7, t0);
    let settings = RadiusSettings {
        session_id_prefix: "5EED".into(),
        interim_interval: None,
    };
    lns.core.enable_radius(settings.clone());
    lns.core.carry_radius_servers(&marks);
    let now = now + Duration::from_secs(1);
    let bytes = lns.core.snapshot(now).expect("snapshot");
    let mut fresh = lns_core(8, now).core;
    fresh.restore(&bytes, now).expect("restore");
    fresh.resume_radius(settings);
    let mut new = failover_client(2);
    new.carry_server_marks(&fresh.take_radius_servers());

    assert_eq!(
        first_choice(&mut new, now),
        b,
        "the new process tried the dead server again"
    );
    assert!(new.is_dead(a, now));
    let counters = |c: &l2tp_radius::client::Client<_>| {
        c.server_counters()
            .into_iter()
            .find(|(addr, _, _)| *addr == a)
            .map(|(_, _, c)| (c.requests, c.retransmissions, c.timeouts, c.marked_dead))
    };
    assert_eq!(counters(&new), Some((1, 1, 1, 1)), "A's counters go on");
    // Once its dead time has passed, A is preferred again.
    let later = dead_at + Duration::from_secs(10);
    assert_eq!(first_choice(&mut new, later), a);
}
