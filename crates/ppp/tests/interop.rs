//! Interop-shaped exchanges: byte sequences like those real clients and peers send
//! (CLIENTS.md), fed to one link by hand.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ppp::mschapv2;
use ppp::{
    classify, AuthDecision, AuthMethod, DownReason, Event, Link, LinkConfig, Phase, Protocol,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn drain_tx(l: &mut Link) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| l.poll_transmit()).collect()
}

fn drain_ev(l: &mut Link) -> Vec<Event> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

/// (protocol, code, id, data) of a frame we sent.
fn parse(f: &[u8]) -> (Protocol, u8, u8, Vec<u8>) {
    assert_eq!(&f[..2], &[0xff, 0x03], "we always send FF 03");
    let (p, payload) = classify(f).unwrap();
    let pkt = ppp::packet::Packet::decode(payload).unwrap();
    (p, pkt.code.0, pkt.id, pkt.data.to_vec())
}

fn find(frames: &[Vec<u8>], proto: Protocol, code: u8) -> (u8, Vec<u8>) {
    frames
        .iter()
        .map(|f| parse(f))
        .find(|(p, c, _, _)| *p == proto && *c == code)
        .map(|(_, _, id, d)| (id, d))
        .unwrap_or_else(|| panic!("no {proto:?} code {code} in {frames:?}"))
}

/// Build a control packet without FF 03, as Windows sends after ACFC.
fn win(proto: u16, code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let mut f = proto.to_be_bytes().to_vec();
    f.extend_from_slice(&ppp::packet::encode(ppp::packet::Code(code), id, data));
    f
}

#[test]
fn windows_client_against_our_lns() {
    let now = Instant::now();
    let mut cfg = LinkConfig::server(
        vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5],
        Ipv4Addr::new(10, 9, 0, 1),
        [Some(Ipv4Addr::new(10, 9, 0, 53)), None],
    );
    cfg.echo_interval = None;
    let mut lns = Link::new(cfg, ChaCha8Rng::seed_from_u64(42));
    lns.open(now);
    let out = drain_tx(&mut lns);
    let (our_id, our_req) = find(&out, Protocol::LCP, 1);
    // Our request: MRU 1452, MS-CHAPv2 (C2 23 81) first, Magic.
    assert_eq!(&our_req[..9], &[1, 4, 0x05, 0xac, 3, 5, 0xc2, 0x23, 0x81]);

    // Windows LCP Configure-Request, no FF 03: MRU 1400, Magic, PFC, ACFC, Callback (13).
    let wreq = [
        1, 4, 0x05, 0x78, 5, 6, 0x4a, 0x1f, 0x22, 0x05, 7, 2, 8, 2, 13, 3, 6,
    ];
    lns.handle_frame(now, &win(0xc021, 1, 0, &wreq));
    let (id, rej) = find(&drain_tx(&mut lns), Protocol::LCP, 4);
    assert_eq!((id, rej), (0, vec![13, 3, 6]), "Callback rejected");
    lns.handle_frame(now, &win(0xc021, 1, 1, &wreq[..14]));
    let (id, ack) = find(&drain_tx(&mut lns), Protocol::LCP, 2);
    assert_eq!((id, ack.as_slice()), (1, &wreq[..14]));
    // Windows acks our request (without FF 03).
    lns.handle_frame(now, &win(0xc021, 2, our_id, &our_req));
    assert_eq!(lns.phase(), Phase::Authenticate);
    assert!(lns.peer_accepts_acfc());
    assert_eq!(lns.peer_mru(), 1400);

    // MS-CHAPv2: our challenge, Windows' response computed as Windows would.
    let out = drain_tx(&mut lns);
    let (cid, chal) = find(&out, Protocol::CHAP, 1);
    assert_eq!(chal[0], 16, "16-octet MS-CHAPv2 challenge");
    let ac: [u8; 16] = chal[1..17].try_into().unwrap();
    let pc = [0x21u8; 16];
    let nt = mschapv2::generate_nt_response(&ac, &pc, "WORKGROUP\\carol", "P@ssw0rd");
    let mut value = pc.to_vec();
    value.extend_from_slice(&[0; 8]);
    value.extend_from_slice(&nt);
    value.push(0);
    let mut body = vec![49];
    body.extend_from_slice(&value);
    body.extend_from_slice(b"WORKGROUP\\carol");
    lns.handle_frame(now, &win(0xc223, 2, cid, &body));
    let ticket = match drain_ev(&mut lns).as_slice() {
        [Event::LinkUp, Event::AuthRequest {
            ticket,
            method: AuthMethod::MsChapV2,
            user,
            ..
        }] => {
            assert_eq!(user, "WORKGROUP\\carol");
            *ticket
        }
        other => panic!("{other:?}"),
    };
    lns.set_peer_ipv4(Ipv4Addr::new(10, 9, 0, 20));
    lns.auth_decision(now, ticket, AuthDecision::Password("P@ssw0rd".into()))
        .unwrap();
    let out = drain_tx(&mut lns);
    let (sid, msg) = find(&out, Protocol::CHAP, 3);
    let (lid, lreq) = find(&out, Protocol::IPCP, 1);
    assert_eq!(lreq, [3, 6, 10, 9, 0, 1], "our own address");
    assert_eq!(sid, cid);
    let expect =
        mschapv2::generate_authenticator_response("P@ssw0rd", &nt, &pc, &ac, "WORKGROUP\\carol");
    assert!(msg.starts_with(mschapv2::format_authenticator_response(&expect).as_bytes()));
    assert_eq!(lns.phase(), Phase::Network);

    // Windows IPCP: VJ compression, 0.0.0.0, DNS and NBNS zeros, protocol-compressed? No:
    // NCPs keep 2-octet protocols; only FF 03 is omitted.
    let ipcp = [
        2, 6, 0, 0x2d, 0x0f, 1, 3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 130, 6, 0, 0, 0, 0, 131, 6,
        0, 0, 0, 0, 132, 6, 0, 0, 0, 0,
    ];
    lns.handle_frame(now, &win(0x8021, 1, 5, &ipcp));
    let (_, rej) = find(&drain_tx(&mut lns), Protocol::IPCP, 4);
    assert_eq!(rej[0], 2, "VJ rejected first");
    assert!(rej.windows(2).any(|w| w == [130, 6]) && rej.windows(2).any(|w| w == [131, 6]));
    lns.handle_frame(
        now,
        &win(0x8021, 1, 6, &[3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0]),
    );
    let (_, nak) = find(&drain_tx(&mut lns), Protocol::IPCP, 3);
    assert_eq!(nak, [3, 6, 10, 9, 0, 20, 129, 6, 10, 9, 0, 53]);
    lns.handle_frame(now, &win(0x8021, 1, 7, &nak));
    assert_eq!(find(&drain_tx(&mut lns), Protocol::IPCP, 2).0, 7);
    lns.handle_frame(now, &win(0x8021, 2, lid, &lreq));
    let evs = drain_ev(&mut lns);
    assert!(evs.iter().any(|e| matches!(e, Event::NetworkUp { ipv4 }
        if ipv4.peer == Ipv4Addr::new(10, 9, 0, 20) && ipv4.dns[0] == Some(Ipv4Addr::new(10, 9, 0, 53)))));

    // Data with ACFC and PFC: one-octet protocol 0x21.
    let data = [0x21, 0x45, 0, 0, 20];
    assert_eq!(classify(&data), Ok((Protocol::IPV4, &data[1..])));
    lns.handle_frame(now, &data);
    assert_eq!(
        drain_ev(&mut lns),
        vec![Event::Ipv4Packet(data[1..].to_vec())]
    );
    // An LCP Echo-Request without FF 03 is answered (with FF 03).
    lns.handle_frame(now, &win(0xc021, 9, 77, &[0x4a, 0x1f, 0x22, 0x05, 1, 2]));
    let (eid, reply) = find(&drain_tx(&mut lns), Protocol::LCP, 10);
    assert_eq!((eid, &reply[4..]), (77, &[1u8, 2][..]));
    // Windows sends LCP Identification (RFC 1570 §2.1) once LCP is up, and Discard-Request
    // may appear: both are accepted silently.
    lns.handle_frame(now, &win(0xc021, 12, 78, b"\x4a\x1f\x22\x05MSRASV5.20"));
    lns.handle_frame(
        now,
        &win(0xc021, 12, 79, b"\x4a\x1f\x22\x05MSRAS-0-DESKTOP"),
    );
    lns.handle_frame(
        now,
        &win(0xc021, 11, 80, &[0x4a, 0x1f, 0x22, 0x05, 0xde, 0xad]),
    );
    assert!(drain_tx(&mut lns).is_empty(), "no reply, no Code-Reject");
    assert!(drain_ev(&mut lns).is_empty());
    assert_eq!(lns.phase(), Phase::Network);
    assert_eq!(lns.stats().rx_errors, 0);
}

#[test]
fn macos_like_client_asks_dns_and_ipv6cp() {
    let now = Instant::now();
    let mut cfg = LinkConfig::server(
        vec![AuthMethod::ChapMd5],
        Ipv4Addr::new(10, 9, 0, 1),
        [
            Some(Ipv4Addr::new(1, 1, 1, 1)),
            Some(Ipv4Addr::new(1, 0, 0, 1)),
        ],
    );
    cfg.ipv6 = true;
    cfg.echo_interval = None;
    let mut lns = Link::new(cfg, ChaCha8Rng::seed_from_u64(7));
    lns.set_peer_ipv4(Ipv4Addr::new(10, 9, 0, 30));
    lns.open(now);
    let (our_id, our_req) = find(&drain_tx(&mut lns), Protocol::LCP, 1);
    let full = |proto: u16, code, id, data: &[u8]| {
        let mut f = vec![0xff, 0x03];
        f.extend_from_slice(&win(proto, code, id, data));
        f
    };
    // macOS: MRU 1500 with ACCM (meaningless on L2TP: acked and ignored), Magic.
    let req = [1, 4, 5, 0xdc, 2, 6, 0, 0, 0, 0, 5, 6, 1, 2, 3, 4];
    lns.handle_frame(now, &full(0xc021, 1, 1, &req));
    lns.handle_frame(now, &full(0xc021, 2, our_id, &our_req));
    let out = drain_tx(&mut lns);
    assert_eq!(find(&out, Protocol::LCP, 2).1, req);
    let (cid, chal) = find(&out, Protocol::CHAP, 1);
    let r = ppp::chap::md5_response(cid, b"mac-secret", &chal[1..1 + usize::from(chal[0])]);
    let mut body = vec![16];
    body.extend_from_slice(&r);
    body.extend_from_slice(b"dave");
    lns.handle_frame(now, &full(0xc223, 2, cid, &body));
    let Some(Event::AuthRequest { ticket, .. }) = drain_ev(&mut lns).pop() else {
        panic!("auth request expected")
    };
    lns.auth_decision(now, ticket, AuthDecision::Password("mac-secret".into()))
        .unwrap();
    let out = drain_tx(&mut lns);
    find(&out, Protocol::CHAP, 3);
    let (v4id, v4req) = find(&out, Protocol::IPCP, 1);
    let (v6id, v6req) = find(&out, Protocol::IPV6CP, 1);
    // IPCP: 0.0.0.0 plus both DNS.
    let ipcp = [3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0];
    lns.handle_frame(now, &full(0x8021, 1, 1, &ipcp));
    let (_, nak) = find(&drain_tx(&mut lns), Protocol::IPCP, 3);
    assert_eq!(
        nak,
        [3, 6, 10, 9, 0, 30, 129, 6, 1, 1, 1, 1, 131, 6, 1, 0, 0, 1]
    );
    lns.handle_frame(now, &full(0x8021, 1, 2, &nak));
    lns.handle_frame(now, &full(0x8021, 2, v4id, &v4req));
    // IPv6CP: first a colliding identifier (ours), then a fresh one.
    let mut v6 = vec![1, 10];
    v6.extend_from_slice(&v6req[2..10]);
    lns.handle_frame(now, &full(0x8057, 1, 1, &v6));
    let (_, v6nak) = find(&drain_tx(&mut lns), Protocol::IPV6CP, 3);
    assert_ne!(
        v6nak[2..],
        v6req[2..10],
        "collision answered with a different identifier"
    );
    lns.handle_frame(now, &full(0x8057, 1, 2, &v6nak));
    lns.handle_frame(now, &full(0x8057, 2, v6id, &v6req));
    let evs = drain_ev(&mut lns);
    assert!(evs.iter().any(|e| matches!(e, Event::NetworkUp { ipv4 }
        if ipv4.dns == [Some(Ipv4Addr::new(1, 1, 1, 1)), Some(Ipv4Addr::new(1, 0, 0, 1))])));
    assert!(evs
        .iter()
        .any(|e| matches!(e, Event::Ipv6Up { peer_iid, .. } if peer_iid[..] == v6nak[2..])));
}

#[test]
fn l2tpns_like_lns_against_our_client() {
    let now = Instant::now();
    let mut cfg = LinkConfig::client("erin", "pw");
    cfg.echo_interval = None;
    let mut cli = Link::new(cfg, ChaCha8Rng::seed_from_u64(9));
    cli.open(now);
    let (our_id, our_req) = find(&drain_tx(&mut cli), Protocol::LCP, 1);
    let full = |proto: u16, code, id, data: &[u8]| {
        let mut f = vec![0xff, 0x03];
        f.extend_from_slice(&win(proto, code, id, data));
        f
    };
    // l2tpns: MRU, CHAP-MD5, Magic, MRRU (17), Endpoint Discriminator (19).
    let req = [
        1, 4, 5, 0xdc, 3, 5, 0xc2, 0x23, 5, 5, 6, 9, 8, 7, 6, 17, 4, 5, 0xdc, 19, 9, 1, 1, 2, 3, 4,
        5, 6,
    ];
    cli.handle_frame(now, &full(0xc021, 1, 1, &req));
    let (_, rej) = find(&drain_tx(&mut cli), Protocol::LCP, 4);
    assert_eq!(rej, req[15..]);
    cli.handle_frame(now, &full(0xc021, 1, 2, &req[..15]));
    assert_eq!(find(&drain_tx(&mut cli), Protocol::LCP, 2).1, req[..15]);
    cli.handle_frame(now, &full(0xc021, 2, our_id, &our_req));
    assert_eq!(cli.phase(), Phase::Authenticate);
    // l2tpns never sends a CHAP Failure for a wrong password: the challenge is answered,
    // then the LNS terminates the link (the L2TP CDN is the tunnel's business).
    let chal = [
        16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, b'l', b'n', b's',
    ];
    cli.handle_frame(now, &full(0xc223, 1, 3, &chal));
    let (rid, resp) = find(&drain_tx(&mut cli), Protocol::CHAP, 2);
    assert_eq!(rid, 3);
    assert_eq!(resp[1..17], ppp::chap::md5_response(3, b"pw", &chal[1..17]));
    assert_eq!(&resp[17..], b"erin");
    cli.handle_frame(now, &full(0xc021, 5, 4, &[]));
    let out = drain_tx(&mut cli);
    assert_eq!(find(&out, Protocol::LCP, 6).0, 4, "Terminate-Ack");
    cli.handle_timeout(now + Duration::from_secs(3));
    let evs = drain_ev(&mut cli);
    assert!(
        matches!(
            evs.last(),
            Some(Event::Down {
                reason: DownReason::AuthFailed(_)
            })
        ),
        "{evs:?}"
    );
}

#[test]
fn bad_input_is_counted_and_the_link_stays_consistent() {
    let now = Instant::now();
    let mut cfg = LinkConfig::server(vec![AuthMethod::Pap], Ipv4Addr::new(10, 0, 0, 1), [None; 2]);
    cfg.echo_interval = None;
    let mut lns = Link::new(cfg, ChaCha8Rng::seed_from_u64(1));
    lns.open(now);
    let (our_id, our_req) = find(&drain_tx(&mut lns), Protocol::LCP, 1);
    let bad: &[&[u8]] = &[
        &[],
        &[0xff, 0x03],
        &[0xc0],
        &[0xc0, 0x20, 1, 1, 0, 4],          // even low protocol octet
        &[0xc0, 0x21, 1, 1, 0],             // truncated header
        &[0xc0, 0x21, 1, 1, 0, 3],          // length below header
        &[0xc0, 0x21, 1, 1, 0, 40, 1, 4],   // length overruns
        &[0xc0, 0x21, 1, 1, 0, 7, 1, 9, 0], // option overruns
        &[0xc0, 0x21, 1, 1, 0, 6, 1, 1],    // option length 1
        &[0xc0, 0x21, 1, 1, 0, 5, 1],       // option cut after type
    ];
    for f in bad {
        lns.handle_frame(now, f);
    }
    assert_eq!(lns.stats().rx_errors, bad.len() as u64);
    assert!(drain_tx(&mut lns).is_empty(), "no reply to malformed input");
    // Unknown option → Configure-Reject; unknown code → Code-Reject.
    lns.handle_frame(now, &[0xc0, 0x21, 1, 2, 0, 8, 99, 4, 1, 2]);
    assert_eq!(
        find(&drain_tx(&mut lns), Protocol::LCP, 4),
        (2, vec![99, 4, 1, 2])
    );
    lns.handle_frame(now, &[0xc0, 0x21, 42, 3, 0, 4]);
    assert_eq!(find(&drain_tx(&mut lns), Protocol::LCP, 7).1, [42, 3, 0, 4]);
    // Negotiation still completes afterwards.
    lns.handle_frame(now, &[0xc0, 0x21, 1, 4, 0, 4]);
    assert_eq!(find(&drain_tx(&mut lns), Protocol::LCP, 2).0, 4);
    lns.handle_frame(now, &win(0xc021, 2, our_id, &our_req));
    assert_eq!(lns.phase(), Phase::Authenticate);
    // Unknown protocol once Opened → Protocol-Reject carrying the protocol number.
    lns.handle_frame(now, &[0x80, 0x2b, 1, 1, 0, 4]);
    let (_, pr) = find(&drain_tx(&mut lns), Protocol::LCP, 8);
    assert_eq!(pr, [0x80, 0x2b, 1, 1, 0, 4]);
    assert_eq!(lns.stats().rx_unknown_protocol, 1);
    // Malformed PAP and an NCP packet in the wrong phase: counted, ignored.
    lns.handle_frame(now, &[0xc0, 0x23, 1, 1, 0, 6, 9, 1]);
    lns.handle_frame(now, &[0x80, 0x21, 1, 1, 0, 4]);
    assert!(drain_tx(&mut lns).is_empty());
    assert_eq!(lns.stats().rx_errors, bad.len() as u64 + 1);
    assert_eq!(lns.stats().rx_discards, 1);
    assert_eq!(lns.phase(), Phase::Authenticate);
}

#[test]
fn link_is_send_and_close_before_open_reports_down() {
    fn assert_send<T: Send>() {}
    assert_send::<Link>();
    let now = Instant::now();
    let mut l = Link::new(LinkConfig::client("a", "b"), ChaCha8Rng::seed_from_u64(3));
    l.close(now, "never mind");
    assert_eq!(
        drain_ev(&mut l),
        vec![Event::Down {
            reason: DownReason::AdminClose("never mind".into())
        }]
    );
    assert!(drain_tx(&mut l).is_empty());
    l.open(now);
    assert!(drain_tx(&mut l).is_empty(), "a finished link stays inert");
}
