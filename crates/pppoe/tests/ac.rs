//! The access concentrator against hosts built from the codec: the RFC 2516 discovery
//! exchange, what is echoed, what is refused, limits, rate limiting, PADT both ways, and the
//! counters hostile input lands in.

use std::time::{Duration, Instant};

use pppoe::tr101::{AccessLine, VENDOR_BROADBAND_FORUM};
use pppoe::{
    AcConfig, AccessConcentrator, Code, Discovery, DownReason, DropReason, EthHeader, Event, Frame,
    MacAddr, Pppoe, Received, Tag, TagList, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION,
};

const AC: MacAddr = MacAddr([0x02, 0xac, 0, 0, 0, 1]);
const H1: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x11]);
const H2: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x22]);

fn ac(now: Instant) -> AccessConcentrator {
    let mut cfg = AcConfig::new(AC, "lac-test", b"cookie key");
    cfg.services = vec!["isp-a".into(), "isp-b".into()];
    AccessConcentrator::new(cfg, now)
}

fn disc(
    src: MacAddr,
    dst: MacAddr,
    vlans: &[VlanTag],
    code: Code,
    sid: u16,
    tags: Vec<Tag>,
) -> Vec<u8> {
    Frame {
        eth: EthHeader {
            dst,
            src,
            vlans: vlans.to_vec(),
            ethertype: ETHERTYPE_DISCOVERY,
        },
        pppoe: Pppoe::Discovery(Discovery {
            code,
            session_id: sid,
            tags,
        }),
    }
    .encode()
    .unwrap()
}

fn padi(src: MacAddr, vlans: &[VlanTag], service: &[u8], extra: Vec<Tag>) -> Vec<u8> {
    let mut tags = vec![Tag::ServiceName(service.to_vec())];
    tags.extend(extra);
    disc(src, MacAddr::BROADCAST, vlans, Code::PADI, 0, tags)
}

fn padr(
    src: MacAddr,
    vlans: &[VlanTag],
    service: &[u8],
    cookie: Option<Vec<u8>>,
    extra: Vec<Tag>,
) -> Vec<u8> {
    let mut tags = vec![Tag::ServiceName(service.to_vec())];
    if let Some(c) = cookie {
        tags.push(Tag::AcCookie(c));
    }
    tags.extend(extra);
    disc(src, AC, vlans, Code::PADR, 0, tags)
}

/// The one frame the AC sent, decoded; panics if there is not exactly one.
fn one_reply(ac: &mut AccessConcentrator) -> (EthHeader, Discovery) {
    let b = ac.poll_transmit().expect("a reply");
    assert!(ac.poll_transmit().is_none(), "exactly one reply");
    let f = Frame::decode(&b).unwrap();
    match f.pppoe {
        Pppoe::Discovery(d) => (f.eth, d),
        other => panic!("not discovery: {other:?}"),
    }
}

/// PADI → PADO → cookie, for host `h`.
fn offer(ac: &mut AccessConcentrator, now: Instant, h: MacAddr, vlans: &[VlanTag]) -> Vec<u8> {
    assert_eq!(
        ac.handle_frame(now, &padi(h, vlans, b"", vec![])),
        Received::Discovery
    );
    let (_, pado) = one_reply(ac);
    assert_eq!(pado.code, Code::PADO);
    pado.tags.ac_cookie().unwrap().to_vec()
}

/// A full discovery for host `h`; the session id.
fn connect(
    ac: &mut AccessConcentrator,
    now: Instant,
    h: MacAddr,
    vlans: &[VlanTag],
    uniq: u8,
) -> u16 {
    let c = offer(ac, now, h, vlans);
    let req = padr(h, vlans, b"", Some(c), vec![Tag::HostUniq(vec![uniq])]);
    let r = ac.handle_frame(now, &req);
    assert_eq!(r, Received::Discovery);
    let (_, pads) = one_reply(ac);
    assert_eq!(pads.code, Code::PADS);
    assert_ne!(pads.session_id, 0, "{pads:?}");
    pads.session_id
}

#[test]
fn full_discovery_echoes_tags_keeps_vlans_and_reports_the_access_line() {
    let now = Instant::now();
    let mut ac = ac(now);
    let vlans = [
        VlanTag {
            tpid: 0x88a8,
            tci: 100,
        },
        VlanTag::dot1q(42),
    ];
    let line = AccessLine::new(Some(b"olt1 pon 0/1/3:7"), Some(b"subscriber-99"));
    let relay = Tag::RelaySessionId(vec![0xaa; 12]);
    let extra = vec![
        Tag::HostUniq(vec![1, 2, 3, 4]),
        relay.clone(),
        Tag::VendorSpecific(line.to_vendor_tag()),
    ];
    ac.handle_frame(now, &padi(H1, &vlans, b"isp-b", extra.clone()));
    let (eth, pado) = one_reply(&mut ac);
    // The PADO goes back to the host, from us, on the same VLANs.
    assert_eq!((eth.dst, eth.src, &eth.vlans[..]), (H1, AC, &vlans[..]));
    assert_eq!((pado.code, pado.session_id), (Code::PADO, 0));
    assert_eq!(pado.tags.ac_name(), Some(&b"lac-test"[..]));
    // The Service-Name of the PADI first, then the other services offered.
    assert_eq!(
        pado.tags.service_names(),
        vec![&b"isp-b"[..], &b"isp-a"[..]]
    );
    assert_eq!(pado.tags.host_uniq(), Some(&[1, 2, 3, 4][..]));
    assert_eq!(pado.tags.relay_session_id(), Some(&[0xaa; 12][..]));
    let cookie = pado.tags.ac_cookie().expect("AC-Cookie").to_vec();

    let mut padr_tags = extra;
    padr_tags.push(Tag::AcCookie(cookie));
    ac.handle_frame(
        now,
        &disc(H1, AC, &vlans, Code::PADR, 0, {
            let mut t = vec![Tag::ServiceName(b"isp-b".to_vec())];
            t.extend(padr_tags);
            t
        }),
    );
    let (eth, pads) = one_reply(&mut ac);
    assert_eq!((eth.dst, &eth.vlans[..]), (H1, &vlans[..]));
    assert_eq!(pads.code, Code::PADS);
    assert_eq!(
        pads.tags.service_names(),
        vec![&b"isp-b"[..]],
        "exactly one Service-Name"
    );
    assert_eq!(pads.tags.host_uniq(), Some(&[1, 2, 3, 4][..]));
    assert_eq!(pads.tags.relay_session_id(), Some(&[0xaa; 12][..]));
    assert!(pads.tags.error().is_none());

    let Some(Event::SessionUp(s)) = ac.poll_event() else {
        panic!("no SessionUp")
    };
    assert_eq!(
        (s.id, s.peer, &s.vlans[..]),
        (pads.session_id, H1, &vlans[..])
    );
    assert_eq!(s.service, b"isp-b");
    assert_eq!(s.max_mru(), 1492);
    let al = s.access_line.expect("TR-101 tag passed on");
    assert_eq!(al.circuit_id(), Some(&b"olt1 pon 0/1/3:7"[..]));
    assert_eq!(al.remote_id(), Some(&b"subscriber-99"[..]));
    assert_eq!(line.to_vendor_tag().vendor_id, VENDOR_BROADBAND_FORUM);
}

#[test]
fn service_names_not_offered_get_no_pado_and_a_service_name_error_pads() {
    let now = Instant::now();
    let mut ac = ac(now);
    // PADI for another service: silence (§5.2 MUST NOT respond).
    assert_eq!(
        ac.handle_frame(now, &padi(H1, &[], b"isp-z", vec![])),
        Received::Dropped(DropReason::ServiceUnavailable)
    );
    assert!(ac.poll_transmit().is_none());
    // PADI with two Service-Names: not a valid PADI.
    let two = disc(
        H1,
        MacAddr::BROADCAST,
        &[],
        Code::PADI,
        0,
        vec![
            Tag::ServiceName(b"isp-a".to_vec()),
            Tag::ServiceName(b"isp-b".to_vec()),
        ],
    );
    assert_eq!(
        ac.handle_frame(now, &two),
        Received::Dropped(DropReason::ServiceNameCount)
    );
    // A valid cookie but a PADR for a service not offered: PADS, SESSION_ID 0, error TAG.
    let c = offer(&mut ac, now, H1, &[]);
    assert_eq!(
        ac.handle_frame(
            now,
            &padr(H1, &[], b"isp-z", Some(c), vec![Tag::HostUniq(vec![5])])
        ),
        Received::Dropped(DropReason::ServiceUnavailable)
    );
    let (_, pads) = one_reply(&mut ac);
    assert_eq!((pads.code, pads.session_id), (Code::PADS, 0));
    assert!(matches!(pads.tags.error(), Some(Tag::ServiceNameError(_))));
    assert_eq!(pads.tags.host_uniq(), Some(&[5][..]));
    assert_eq!(ac.sessions().count(), 0);
    assert_eq!(ac.stats().dropped(DropReason::ServiceUnavailable), 2);
    assert_eq!(ac.stats().pads_error_tx, 1);
}

#[test]
fn a_padr_or_padi_with_a_singleton_tag_twice_is_dropped() {
    let t0 = Instant::now();
    let mut ac = ac(t0);
    let c1 = offer(&mut ac, t0, H1, &[]);
    // A valid cookie first and a second one after it: which was checked must not matter.
    for extra in [
        vec![Tag::AcCookie(vec![7; 20])],
        vec![Tag::HostUniq(vec![1]), Tag::HostUniq(vec![2])],
        vec![Tag::RelaySessionId(vec![1]), Tag::RelaySessionId(vec![1])],
    ] {
        assert_eq!(
            ac.handle_frame(t0, &padr(H1, &[], b"", Some(c1.clone()), extra)),
            Received::Dropped(DropReason::DuplicateTag)
        );
    }
    assert_eq!(
        ac.handle_frame(
            t0,
            &padi(
                H2,
                &[],
                b"",
                vec![Tag::PppMaxPayload(1500), Tag::PppMaxPayload(9000)]
            )
        ),
        Received::Dropped(DropReason::DuplicateTag)
    );
    assert!(ac.poll_transmit().is_none(), "no reply to any of them");
    assert_eq!(ac.sessions().count(), 0);
    assert_eq!(ac.stats().dropped(DropReason::DuplicateTag), 4);
}

#[test]
fn padr_without_a_valid_cookie_is_refused_silently() {
    let t0 = Instant::now();
    let mut ac = ac(t0);
    assert_eq!(
        ac.handle_frame(t0, &padr(H1, &[], b"", None, vec![])),
        Received::Dropped(DropReason::CookieMissing)
    );
    let c1 = offer(&mut ac, t0, H1, &[]);
    // H1's cookie replayed by H2, or by H1 on another VLAN.
    for (h, v) in [(H2, vec![]), (H1, vec![VlanTag::dot1q(5)])] {
        assert_eq!(
            ac.handle_frame(t0, &padr(h, &v, b"", Some(c1.clone()), vec![])),
            Received::Dropped(DropReason::CookieInvalid)
        );
    }
    // A forged one.
    let mut forged = c1.clone();
    *forged.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        ac.handle_frame(t0, &padr(H1, &[], b"", Some(forged), vec![])),
        Received::Dropped(DropReason::CookieInvalid)
    );
    // Too old: more than two 30 s windows later.
    let late = t0 + Duration::from_secs(61);
    assert_eq!(
        ac.handle_frame(late, &padr(H1, &[], b"", Some(c1.clone()), vec![])),
        Received::Dropped(DropReason::CookieInvalid)
    );
    assert!(ac.poll_transmit().is_none(), "no reply to any of them");
    assert_eq!(ac.sessions().count(), 0);
    assert_eq!(ac.stats().dropped(DropReason::CookieInvalid), 4);
    assert_eq!(ac.stats().dropped(DropReason::CookieMissing), 1);
    // The genuine one, in time, works.
    ac.handle_frame(
        t0 + Duration::from_secs(20),
        &padr(H1, &[], b"", Some(c1), vec![]),
    );
    assert_eq!(one_reply(&mut ac).1.code, Code::PADS);
    assert_eq!(ac.sessions().count(), 1);
}

#[test]
fn per_mac_and_global_limits() {
    let now = Instant::now();
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.max_sessions = 3;
    cfg.max_sessions_per_mac = 2;
    let mut ac = AccessConcentrator::new(cfg, now);
    connect(&mut ac, now, H1, &[], 1);
    // A cookie obtained while under the limit, used once the limit is reached.
    let spare = offer(&mut ac, now, H1, &[]);
    connect(&mut ac, now, H1, &[], 2);
    // H1 is at its limit: no PADO, and a PADR gets an AC-System-Error PADS.
    assert_eq!(
        ac.handle_frame(now, &padi(H1, &[], b"", vec![])),
        Received::Dropped(DropReason::MacLimit)
    );
    assert!(ac.poll_transmit().is_none());
    assert_eq!(
        ac.handle_frame(
            now,
            &padr(H1, &[], b"", Some(spare), vec![Tag::HostUniq(vec![3])])
        ),
        Received::Dropped(DropReason::MacLimit)
    );
    let (_, pads) = one_reply(&mut ac);
    assert_eq!(pads.session_id, 0);
    assert!(matches!(pads.tags.error(), Some(Tag::AcSystemError(_))));
    // H2 takes the last global slot, then the AC is full for everyone.
    let spare2 = offer(&mut ac, now, H2, &[]);
    connect(&mut ac, now, H2, &[], 1);
    assert_eq!(
        ac.handle_frame(now, &padi(H2, &[], b"", vec![])),
        Received::Dropped(DropReason::SessionLimit)
    );
    assert_eq!(
        ac.handle_frame(
            now,
            &padr(H2, &[], b"", Some(spare2), vec![Tag::HostUniq(vec![9])])
        ),
        Received::Dropped(DropReason::SessionLimit)
    );
    assert_eq!(one_reply(&mut ac).1.session_id, 0);
    assert_eq!(ac.sessions().count(), 3);
}

#[test]
fn padi_floods_are_rate_limited_on_caller_time() {
    let t0 = Instant::now();
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.padi_rate = 10;
    cfg.padi_burst = 5;
    let mut ac = AccessConcentrator::new(cfg, t0);
    // 100 PADIs from 100 MACs at the same instant: the burst is answered.
    let answered = (0..100u8)
        .filter(|i| {
            let m = MacAddr([2, 1, 0, 0, 0, *i]);
            ac.handle_frame(t0, &padi(m, &[], b"", vec![])) == Received::Discovery
        })
        .count();
    assert_eq!(answered, 5);
    assert_eq!(ac.stats().dropped(DropReason::PadiRateLimited), 95);
    assert_eq!(ac.stats().pado_tx, 5);
    // Half a second later, 5 more tokens.
    let t1 = t0 + Duration::from_millis(500);
    let later = (0..20u8)
        .filter(|i| {
            let m = MacAddr([2, 2, 0, 0, 0, *i]);
            ac.handle_frame(t1, &padi(m, &[], b"", vec![])) == Received::Discovery
        })
        .count();
    assert_eq!(later, 5);
}

#[test]
fn one_flooding_mac_does_not_use_up_everybodys_padis() {
    let t0 = Instant::now();
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.padi_rate = 100;
    cfg.padi_burst = 10;
    cfg.padi_per_mac_rate = 1;
    cfg.padi_per_mac_burst = 3;
    let mut ac = AccessConcentrator::new(cfg, t0);
    let answered = (0..50)
        .filter(|_| ac.handle_frame(t0, &padi(H1, &[], b"", vec![])) == Received::Discovery)
        .count();
    assert_eq!(answered, 3, "H1's own burst");
    assert_eq!(ac.stats().dropped(DropReason::PadiMacRateLimited), 47);
    // The global bucket still has room for others.
    assert_eq!(
        ac.handle_frame(t0, &padi(H2, &[], b"", vec![])),
        Received::Discovery
    );
    // A second later H1 has one more.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(
        ac.handle_frame(t1, &padi(H1, &[], b"", vec![])),
        Received::Discovery
    );
    assert_eq!(
        ac.handle_frame(t1, &padi(H1, &[], b"", vec![])),
        Received::Dropped(DropReason::PadiMacRateLimited)
    );
}

#[test]
fn session_frames_for_sessions_we_do_not_have_get_a_padt() {
    let now = Instant::now();
    let mut ac = ac(now);
    let stray = |sid| {
        Frame {
            eth: EthHeader {
                dst: AC,
                src: H1,
                vlans: vec![VlanTag::dot1q(4)],
                ethertype: ETHERTYPE_SESSION,
            },
            pppoe: Pppoe::Session {
                session_id: sid,
                payload: &[0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0],
            },
        }
        .encode()
        .unwrap()
    };
    // An LCP Echo-Request on a session from before our restart.
    assert_eq!(
        ac.handle_frame(now, &stray(0x4242)),
        Received::Dropped(DropReason::SessionUnknown)
    );
    let (eth, padt) = one_reply(&mut ac);
    assert_eq!((eth.dst, &eth.vlans[..]), (H1, &[VlanTag::dot1q(4)][..]));
    assert_eq!((padt.code, padt.session_id), (Code::PADT, 0x4242));
    // Not for a frame addressed to someone else, nor when turned off.
    let mut other = stray(0x4243);
    other[0..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
    ac.handle_frame(now, &other);
    assert!(ac.poll_transmit().is_none());
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.padt_unknown_sessions = false;
    let mut quiet = AccessConcentrator::new(cfg, now);
    quiet.handle_frame(now, &stray(0x4242));
    assert!(quiet.poll_transmit().is_none());
}

#[test]
fn padt_from_the_owner_ends_the_session_and_from_anyone_else_does_not() {
    let now = Instant::now();
    let mut ac = ac(now);
    let v = [VlanTag::dot1q(9)];
    let sid = connect(&mut ac, now, H1, &v, 1);
    assert!(matches!(ac.poll_event(), Some(Event::SessionUp(_))));
    // Someone else's PADT, and the owner's on the wrong VLAN: counted, no effect.
    for (h, vl) in [(H2, &v[..]), (H1, &[][..])] {
        assert_eq!(
            ac.handle_frame(now, &disc(h, AC, vl, Code::PADT, sid, vec![])),
            Received::Dropped(DropReason::PadtUnknownSession)
        );
    }
    assert!(ac.session(sid).is_some());
    assert_eq!(
        ac.handle_frame(now, &disc(H1, AC, &v, Code::PADT, sid, vec![])),
        Received::Discovery
    );
    assert_eq!(
        ac.poll_event(),
        Some(Event::SessionDown {
            id: sid,
            peer: H1,
            reason: DownReason::PeerTerminated
        })
    );
    assert!(ac.session(sid).is_none());
    assert!(ac.poll_transmit().is_none(), "no answer to a PADT");
    assert_eq!(ac.stats().dropped(DropReason::PadtUnknownSession), 2);
}

#[test]
fn terminate_sends_a_padt_to_the_subscriber() {
    let now = Instant::now();
    let mut ac = ac(now);
    let v = [VlanTag::dot1q(3)];
    let c = offer(&mut ac, now, H1, &v);
    let relay = Tag::RelaySessionId(b"relay-1".to_vec());
    ac.handle_frame(now, &padr(H1, &v, b"", Some(c), vec![relay]));
    let sid = one_reply(&mut ac).1.session_id;
    assert!(ac.terminate(sid, Some("LNS closed the call")));
    let (eth, padt) = one_reply(&mut ac);
    assert_eq!((eth.dst, &eth.vlans[..]), (H1, &v[..]));
    assert_eq!((padt.code, padt.session_id), (Code::PADT, sid));
    assert_eq!(padt.tags.relay_session_id(), Some(&b"relay-1"[..]));
    assert!(matches!(padt.tags.error(), Some(Tag::GenericError(m)) if m == b"LNS closed the call"));
    let _up = ac.poll_event();
    assert_eq!(
        ac.poll_event(),
        Some(Event::SessionDown {
            id: sid,
            peer: H1,
            reason: DownReason::Local
        })
    );
    assert!(!ac.terminate(sid, None), "already gone");
    assert!(ac.encapsulate(sid, &[0xc0, 0x21]).is_none());
}

#[test]
fn a_repeated_padr_gets_the_same_pads_not_a_second_session() {
    let now = Instant::now();
    let mut ac = ac(now);
    let c = offer(&mut ac, now, H1, &[]);
    let req = padr(H1, &[], b"", Some(c), vec![Tag::HostUniq(vec![7])]);
    ac.handle_frame(now, &req);
    let first = one_reply(&mut ac).1;
    ac.handle_frame(now, &req);
    let second = one_reply(&mut ac).1;
    assert_eq!(first, second);
    assert_eq!(ac.sessions().count(), 1);
    assert_eq!(ac.stats().padr_repeated, 1);
    // Once PPP traffic flowed, the same PADR is a new session request.
    let data = Frame {
        eth: EthHeader {
            dst: AC,
            src: H1,
            vlans: vec![],
            ethertype: ETHERTYPE_SESSION,
        },
        pppoe: Pppoe::Session {
            session_id: first.session_id,
            payload: &[0xc0, 0x21, 1, 1, 0, 4],
        },
    }
    .encode()
    .unwrap();
    assert!(matches!(
        ac.handle_frame(now, &data),
        Received::Session { .. }
    ));
    ac.handle_frame(now, &req);
    let third = one_reply(&mut ac).1;
    assert_ne!(third.session_id, first.session_id);
    assert_eq!(ac.sessions().count(), 2);
}

#[test]
fn session_frames_only_from_the_owner_and_encapsulation_keeps_vlans() {
    let now = Instant::now();
    let mut ac = ac(now);
    let v = [VlanTag::dot1q(77)];
    let sid = connect(&mut ac, now, H1, &v, 1);
    let frame = |src, vlans: &[VlanTag], sid| {
        Frame {
            eth: EthHeader {
                dst: AC,
                src,
                vlans: vlans.to_vec(),
                ethertype: ETHERTYPE_SESSION,
            },
            pppoe: Pppoe::Session {
                session_id: sid,
                payload: &[0xc0, 0x21, 1, 1, 0, 4],
            },
        }
        .encode()
        .unwrap()
    };
    let own = frame(H1, &v, sid);
    assert_eq!(
        ac.handle_frame(now, &own),
        Received::Session {
            id: sid,
            ppp: &[0xc0, 0x21, 1, 1, 0, 4]
        }
    );
    for bad in [
        frame(H2, &v, sid),
        frame(H1, &[], sid),
        frame(H1, &v, sid + 1),
    ] {
        assert_eq!(
            ac.handle_frame(now, &bad),
            Received::Dropped(DropReason::SessionUnknown)
        );
    }
    let out = ac.encapsulate(sid, &[0x80, 0x21, 1]).unwrap();
    let f = Frame::decode(&out).unwrap();
    assert_eq!((f.eth.dst, f.eth.src, &f.eth.vlans[..]), (H1, AC, &v[..]));
    assert_eq!(
        f.pppoe,
        Pppoe::Session {
            session_id: sid,
            payload: &[0x80, 0x21, 1]
        }
    );
    // In place, behind frames already queued: the same bytes; an unknown session appends
    // nothing.
    let mut buf = vec![0xaa; 5];
    assert!(ac.encapsulate_into(sid, &[0x80, 0x21, 1], &mut buf));
    assert_eq!((&buf[..5], &buf[5..]), (&[0xaa; 5][..], &out[..]));
    assert!(!ac.encapsulate_into(sid + 1, &[0x80, 0x21, 1], &mut buf));
    assert_eq!(buf.len(), 5 + out.len());
}

#[test]
fn ppp_max_payload_is_the_smaller_of_both_sides_and_only_above_1492() {
    let now = Instant::now();
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.max_payload = Some(1500);
    let mut ac = AccessConcentrator::new(cfg, now);
    for (theirs, agreed) in [(1500u16, Some(1500u16)), (9000, Some(1500)), (1492, None)] {
        let h = MacAddr([2, 0, 0, 0, 9, (theirs % 251) as u8]);
        ac.handle_frame(now, &padi(h, &[], b"", vec![Tag::PppMaxPayload(theirs)]));
        let pado = one_reply(&mut ac).1;
        assert_eq!(pado.tags.ppp_max_payload(), agreed, "PADO for {theirs}");
        let c = pado.tags.ac_cookie().unwrap().to_vec();
        ac.handle_frame(
            now,
            &padr(h, &[], b"", Some(c), vec![Tag::PppMaxPayload(theirs)]),
        );
        let pads = one_reply(&mut ac).1;
        assert_eq!(pads.tags.ppp_max_payload(), agreed, "PADS for {theirs}");
        let Some(Event::SessionUp(s)) = ac.poll_event() else {
            panic!()
        };
        assert_eq!(s.max_mru(), agreed.unwrap_or(1492));
    }
    // Without RFC 4638 support configured, no TAG even when the host asks.
    let mut plain = AccessConcentrator::new(AcConfig::new(AC, "lac", b"k"), now);
    plain.handle_frame(now, &padi(H1, &[], b"", vec![Tag::PppMaxPayload(1500)]));
    assert_eq!(one_reply(&mut plain).1.tags.ppp_max_payload(), None);
}

#[test]
fn hostile_frames_land_in_their_own_counters() {
    let now = Instant::now();
    let mut ac = ac(now);
    let good = padi(H1, &[], b"", vec![]);
    let mut cases: Vec<(Vec<u8>, DropReason)> = Vec::new();
    cases.push((good[..10].to_vec(), DropReason::Truncated));
    let mut b = good.clone();
    b[14] = 0x12;
    cases.push((b, DropReason::BadVersion));
    let mut b = good.clone();
    b[19] = 0xff;
    cases.push((b, DropReason::BadLength));
    let mut b = good.clone();
    b.extend_from_slice(&[0x01, 0x03, 0x00, 0x09]); // Host-Uniq running off the end
    b[19] += 4;
    cases.push((b, DropReason::BadTag));
    let mut b = good.clone();
    b[15] = 0x33;
    cases.push((b, DropReason::UnknownCode));
    cases.push((
        disc(H1, AC, &[], Code::PADO, 0, vec![]),
        DropReason::UnexpectedCode,
    ));
    cases.push((
        disc(H1, AC, &[], Code::PADS, 1, vec![]),
        DropReason::UnexpectedCode,
    ));
    let mut b = good.clone();
    b[6] = 0x03; // multicast source
    cases.push((b, DropReason::BadSourceMac));
    cases.push((
        disc(
            H1,
            MacAddr::BROADCAST,
            &[],
            Code::PADI,
            5,
            vec![Tag::ServiceName(vec![])],
        ),
        DropReason::NonZeroSessionId,
    ));
    cases.push((
        disc(
            H1,
            MacAddr([2, 9, 9, 9, 9, 9]),
            &[],
            Code::PADR,
            0,
            vec![Tag::ServiceName(vec![])],
        ),
        DropReason::NotForUs,
    ));
    cases.push((
        disc(H1, AC, &[], Code::PADI, 0, vec![]),
        DropReason::ServiceNameCount,
    ));
    for (frame, reason) in &cases {
        assert_eq!(
            ac.handle_frame(now, frame),
            Received::Dropped(*reason),
            "{reason}"
        );
    }
    assert!(ac.poll_transmit().is_none());
    for (_, reason) in &cases {
        let expected = cases.iter().filter(|(_, r)| r == reason).count() as u64;
        assert_eq!(ac.stats().dropped(*reason), expected, "{reason}");
    }
    assert_eq!(ac.stats().dropped_total(), cases.len() as u64);
    // Established subscribers are unaffected by all that.
    let sid = connect(&mut ac, now, H2, &[], 1);
    assert!(ac.session(sid).is_some());
}

#[test]
fn session_ids_skip_zero_0xffff_and_ids_in_use() {
    let now = Instant::now();
    let mut cfg = AcConfig::new(AC, "lac", b"k");
    cfg.max_sessions_per_mac = 100_000;
    cfg.padi_burst = 100_000;
    cfg.padi_per_mac_burst = 100_000;
    let mut ac = AccessConcentrator::new(cfg, now);
    let first = connect(&mut ac, now, H1, &[], 0);
    assert_eq!(first, 1);
    // Walk the allocator round: end every session but the first, so the next round must
    // skip id 1 (still in use) and never hand out 0xffff or 0.
    let mut last = first;
    for i in 1..0xfffeu32 {
        let id = connect(&mut ac, now, H1, &[], (i % 250 + 1) as u8);
        assert!(id != 0 && id != 0xffff);
        last = id;
        assert!(ac.terminate(id, None));
        while ac.poll_transmit().is_some() {}
    }
    assert_eq!(last, 0xfffe);
    let wrapped = connect(&mut ac, now, H1, &[], 3);
    assert_eq!(wrapped, 2, "1 is still in use");
}

#[test]
fn the_cookie_secret_never_prints() {
    let now = Instant::now();
    let ac = AccessConcentrator::new(AcConfig::new(AC, "lac", b"hunter2-cookie-key"), now);
    let shown = format!("{ac:?} {:?}", ac.config());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        !shown.contains(&format!("{:?}", b"hunter2-cookie-key")),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"));
}
