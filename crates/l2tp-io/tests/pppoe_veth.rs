//! `l2tp_io::packet` on a real link: a veth pair in a network namespace this test creates,
//! our access concentrator (`pppoe::AccessConcentrator`) on one end behind a `PppoeSocket`,
//! and on the other end a raw client built from the `pppoe` codec on its own `AF_PACKET`
//! sockets. Discovery (PADI, PADO, PADR with the cookie, PADS), a session frame each way,
//! then PADT each way cross the kernel. On a `TrunkSocket` pair, untagged, 802.1Q and QinQ
//! PADIs keep their tags into the AC and the PADOs go back on the same VLANs. Under a hostile
//! run (2000 PADIs from 2000 MACs, PADRs without or with stolen and forged cookies, PADTs
//! for someone else's session, a malformed TAG) every frame lands in its counter, no attacker
//! gets a session, and an established subscriber's session still carries data both ways.
//!
//! Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW for the sockets) and iproute2:
//! without them the test says so loudly, and fails under `CI=true`.

use std::process::Command;
use std::time::{Duration, Instant};

use l2tp_io::packet::{interface_index, interface_mac, PacketSocket, PppoeSocket, TrunkSocket};
use pppoe::{
    AcConfig, AccessConcentrator, Code, Discovery, DownReason, EthHeader, Event, Frame, MacAddr,
    Pppoe, Received, Tag, TagList, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION,
};

fn can_run(test: &str) -> bool {
    let root = is_root();
    let have_ip = Command::new("ip").arg("-V").output().is_ok();
    if root && have_ip {
        return true;
    }
    let why = format!("root={root} ip={have_ip}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} cannot run under CI=true ({why}): it needs root and iproute2");
    }
    eprintln!("\n*** SKIPPED: {test} needs root and iproute2 ({why}) ***\n");
    false
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs `body` on a thread moved into a fresh network namespace (gone when the thread ends).
fn in_netns(body: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        l2tp_io::tun::unshare_network_namespace().expect("unshare(CLONE_NEWNET)");
        body();
    })
    .join()
    .expect("test body panicked");
}

/// Waits (bounded) for one frame on `sock`.
fn recv_one(sock: &PacketSocket, what: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 2048];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => return buf[..n].to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("recv {what}: {e}"),
        }
        assert!(Instant::now() < deadline, "no {what} within 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Feeds the AC whatever arrived on its discovery socket (bounded), sends its replies.
fn ac_turn(ac: &mut AccessConcentrator, sock: &PppoeSocket, what: &str) {
    let f = recv_one(&sock.discovery, what);
    assert_eq!(
        ac.handle_frame(Instant::now(), &f),
        Received::Discovery,
        "{what}"
    );
    while let Some(out) = ac.poll_transmit() {
        sock.send(&out).expect("AC send");
    }
}

fn discovery(dst: MacAddr, src: MacAddr, code: Code, sid: u16, tags: Vec<Tag>) -> Vec<u8> {
    tagged(dst, src, &[], code, sid, tags)
}

fn tagged(
    dst: MacAddr,
    src: MacAddr,
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

fn decode_discovery(b: &[u8]) -> (EthHeader, Discovery) {
    let f = Frame::decode(b).expect("decodes");
    match f.pppoe {
        Pppoe::Discovery(d) => (f.eth, d),
        other => panic!("expected discovery, got {other:?}"),
    }
}

#[test]
fn discovery_session_and_padt_cross_a_veth_pair() {
    if !can_run("discovery_session_and_padt_cross_a_veth_pair") {
        return;
    }
    in_netns(|| {
        ip(&[
            "link",
            "add",
            "pppoe-ac",
            "type",
            "veth",
            "peer",
            "name",
            "pppoe-host",
        ]);
        ip(&["link", "set", "pppoe-ac", "up"]);
        ip(&["link", "set", "pppoe-host", "up"]);

        let sock = PppoeSocket::open("pppoe-ac").expect("AC sockets");
        let ac_mac = MacAddr(sock.mac);
        assert_eq!(sock.mac, interface_mac("pppoe-ac").unwrap());
        let mut cfg = AcConfig::new(ac_mac, "veth-ac", b"test secret");
        cfg.services = vec!["internet".into()];
        let mut ac = AccessConcentrator::new(cfg, Instant::now());

        let hidx = interface_index("pppoe-host").unwrap();
        let host_disc = PacketSocket::open(hidx, 0x8863).expect("host discovery socket");
        let host_ses = PacketSocket::open(hidx, 0x8864).expect("host session socket");
        let host = MacAddr(interface_mac("pppoe-host").unwrap());

        // PADI (broadcast) → PADO.
        let uniq = Tag::HostUniq(b"veth-client".to_vec());
        let padi = discovery(
            MacAddr::BROADCAST,
            host,
            Code::PADI,
            0,
            vec![Tag::ServiceName(b"internet".to_vec()), uniq.clone()],
        );
        host_disc.send(&padi).expect("send PADI");
        ac_turn(&mut ac, &sock, "PADI");
        let (eth, pado) = decode_discovery(&recv_one(&host_disc, "PADO"));
        assert_eq!((eth.src, eth.dst, pado.code), (ac_mac, host, Code::PADO));
        assert_eq!(pado.tags.ac_name(), Some(&b"veth-ac"[..]));
        assert_eq!(pado.tags.host_uniq(), Some(&b"veth-client"[..]));
        let cookie = pado.tags.ac_cookie().expect("cookie").to_vec();

        // PADR (unicast, cookie echoed) → PADS.
        let padr = discovery(
            ac_mac,
            host,
            Code::PADR,
            0,
            vec![
                Tag::ServiceName(b"internet".to_vec()),
                uniq,
                Tag::AcCookie(cookie),
            ],
        );
        host_disc.send(&padr).expect("send PADR");
        ac_turn(&mut ac, &sock, "PADR");
        let (_, pads) = decode_discovery(&recv_one(&host_disc, "PADS"));
        assert_eq!(pads.code, Code::PADS);
        let sid = pads.session_id;
        assert_ne!(sid, 0);
        let Some(Event::SessionUp(s)) = ac.poll_event() else {
            panic!("no SessionUp")
        };
        assert_eq!((s.id, s.peer), (sid, host));

        // A session frame each way.
        let lcp = [0xc0, 0x21, 1, 1, 0, 8, 1, 4, 5, 0xd4];
        let up = Frame {
            eth: EthHeader {
                dst: ac_mac,
                src: host,
                vlans: vec![],
                ethertype: ETHERTYPE_SESSION,
            },
            pppoe: Pppoe::Session {
                session_id: sid,
                payload: &lcp,
            },
        }
        .encode()
        .unwrap();
        host_ses.send(&up).expect("send session frame");
        let got = recv_one(&sock.session, "session frame at the AC");
        assert_eq!(
            ac.handle_frame(Instant::now(), &got),
            Received::Session { id: sid, ppp: &lcp }
        );
        let down = ac.encapsulate(sid, &[0xc0, 0x21, 2, 1, 0, 4]).unwrap();
        sock.send(&down).expect("AC session send");
        let got = recv_one(&host_ses, "session frame at the host");
        assert_eq!(
            Frame::decode(&got).unwrap().pppoe,
            Pppoe::Session {
                session_id: sid,
                payload: &[0xc0, 0x21, 2, 1, 0, 4]
            }
        );

        // PADT from the host ends the session.
        host_disc
            .send(&discovery(ac_mac, host, Code::PADT, sid, vec![]))
            .expect("send PADT");
        ac_turn(&mut ac, &sock, "PADT from the host");
        assert_eq!(
            ac.poll_event(),
            Some(Event::SessionDown {
                id: sid,
                peer: host,
                reason: DownReason::PeerTerminated
            })
        );

        // A second session, ended by the AC: the host gets the PADT.
        host_disc.send(&padi).expect("send PADI again");
        ac_turn(&mut ac, &sock, "second PADI");
        let (_, pado) = decode_discovery(&recv_one(&host_disc, "second PADO"));
        let cookie = pado.tags.ac_cookie().unwrap().to_vec();
        let padr = discovery(
            ac_mac,
            host,
            Code::PADR,
            0,
            vec![
                Tag::ServiceName(b"internet".to_vec()),
                Tag::AcCookie(cookie),
            ],
        );
        host_disc.send(&padr).expect("send PADR again");
        ac_turn(&mut ac, &sock, "second PADR");
        let (_, pads) = decode_discovery(&recv_one(&host_disc, "second PADS"));
        assert!(ac.terminate(pads.session_id, Some("administratively closed")));
        while let Some(out) = ac.poll_transmit() {
            sock.send(&out).expect("AC send PADT");
        }
        let (eth, padt) = decode_discovery(&recv_one(&host_disc, "PADT from the AC"));
        assert_eq!(
            (eth.dst, padt.code, padt.session_id),
            (host, Code::PADT, pads.session_id)
        );
        assert_eq!(ac.stats().dropped_total(), 0, "{:?}", ac.stats());
    });
}

/// Waits (bounded) for one frame on a trunk socket.
fn trunk_recv(sock: &TrunkSocket, what: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 2048];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => return buf[..n].to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("recv {what}: {e}"),
        }
        assert!(Instant::now() < deadline, "no {what} within 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_trunk_socket_keeps_subscribers_vlan_tags_both_ways() {
    if !can_run("a_trunk_socket_keeps_subscribers_vlan_tags_both_ways") {
        return;
    }
    in_netns(|| {
        ip(&[
            "link",
            "add",
            "trunk-ac",
            "type",
            "veth",
            "peer",
            "name",
            "trunk-host",
        ]);
        ip(&["link", "set", "trunk-ac", "up"]);
        ip(&["link", "set", "trunk-host", "up"]);
        let sock = TrunkSocket::open("trunk-ac").expect("AC trunk socket");
        let ac_mac = MacAddr(sock.mac);
        let mut ac =
            AccessConcentrator::new(AcConfig::new(ac_mac, "trunk-ac", b"k"), Instant::now());
        let host_sock = TrunkSocket::open("trunk-host").expect("host trunk socket");
        let host = MacAddr(host_sock.mac);

        // Not PPPoE: filtered out, never read.
        let mut ipv4 = vec![0xff; 6];
        ipv4.extend_from_slice(&host.0);
        ipv4.extend_from_slice(&[0x08, 0x00]);
        ipv4.extend_from_slice(&[0x45; 46]);
        host_sock.send(&ipv4).expect("send IPv4");

        let cases: [&[VlanTag]; 3] = [
            &[],
            &[VlanTag::dot1q(100)],
            &[
                VlanTag {
                    tpid: 0x88a8,
                    tci: 10,
                },
                VlanTag::dot1q(20),
            ],
        ];
        for vlans in cases {
            let padi = tagged(
                MacAddr::BROADCAST,
                host,
                vlans,
                Code::PADI,
                0,
                vec![Tag::ServiceName(vec![])],
            );
            host_sock.send(&padi).expect("send PADI");
            let got = trunk_recv(&sock, "PADI at the AC");
            assert_eq!(got, padi, "the AC reads the PADI as sent, tags included");
            assert_eq!(ac.handle_frame(Instant::now(), &got), Received::Discovery);
            let pado = ac.poll_transmit().expect("PADO");
            sock.send(&pado).expect("send PADO");
            let back = trunk_recv(&host_sock, "PADO at the host");
            let f = Frame::decode(&back).expect("decodes");
            assert_eq!(f.eth.vlans, vlans, "PADO on the subscriber's VLANs");
            assert_eq!(f.eth.dst, host);
            assert!(matches!(f.pppoe, Pppoe::Discovery(ref d) if d.code == Code::PADO));
        }
        assert_eq!(ac.stats().dropped_total(), 0);
    });
}

/// Drains whatever the AC's sockets hold (bounded in count and time), feeding the AC; returns
/// how many frames it read.
fn ac_drain(ac: &mut AccessConcentrator, sock: &PppoeSocket, quiet_for: Duration) -> usize {
    let mut buf = vec![0u8; 2048];
    let mut n = 0;
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    while last.elapsed() < quiet_for && Instant::now() < deadline && n < 100_000 {
        let mut got = false;
        for s in [&sock.discovery, &sock.session] {
            if let Ok(len) = s.recv(&mut buf) {
                ac.handle_frame(Instant::now(), &buf[..len]);
                n += 1;
                got = true;
                last = Instant::now();
            }
        }
        while let Some(out) = ac.poll_transmit() {
            let _ = sock.send(&out);
        }
        if !got {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    n
}

#[test]
fn hostile_discovery_through_the_kernel_leaves_an_established_subscriber_alone() {
    if !can_run("hostile_discovery_through_the_kernel_leaves_an_established_subscriber_alone") {
        return;
    }
    in_netns(|| {
        ip(&[
            "link",
            "add",
            "hostile-ac",
            "type",
            "veth",
            "peer",
            "name",
            "hostile-h",
        ]);
        ip(&["link", "set", "hostile-ac", "up"]);
        ip(&["link", "set", "hostile-h", "up"]);
        let sock = PppoeSocket::open("hostile-ac").expect("AC sockets");
        sock.discovery.set_recv_buffer(4 << 20).expect("SO_RCVBUF");
        assert!(sock.discovery.recv_buffer().unwrap() >= 4 << 20);
        let ac_mac = MacAddr(sock.mac);
        let mut cfg = AcConfig::new(ac_mac, "hostile-ac", b"k");
        cfg.padi_rate = 50;
        cfg.padi_burst = 100;
        let mut ac = AccessConcentrator::new(cfg, Instant::now());
        let hidx = interface_index("hostile-h").unwrap();
        let disc = PacketSocket::open(hidx, 0x8863).unwrap();
        let ses = PacketSocket::open(hidx, 0x8864).unwrap();
        let good = MacAddr(interface_mac("hostile-h").unwrap());

        // The subscriber that must not be harmed.
        disc.send(&discovery(
            MacAddr::BROADCAST,
            good,
            Code::PADI,
            0,
            vec![Tag::ServiceName(vec![])],
        ))
        .unwrap();
        ac_turn(&mut ac, &sock, "PADI");
        let (_, pado) = decode_discovery(&recv_one(&disc, "PADO"));
        let cookie = pado.tags.ac_cookie().unwrap().to_vec();
        disc.send(&discovery(
            ac_mac,
            good,
            Code::PADR,
            0,
            vec![Tag::ServiceName(vec![]), Tag::AcCookie(cookie.clone())],
        ))
        .unwrap();
        ac_turn(&mut ac, &sock, "PADR");
        let (_, pads) = decode_discovery(&recv_one(&disc, "PADS"));
        let sid = pads.session_id;

        // The attack, all from the same wire: 2000 PADIs from 2000 MACs, PADRs with no, a
        // stolen and a forged cookie, PADTs for the subscriber's session from others, and
        // malformed discovery frames.
        let rogue = |i: u32| MacAddr([0x02, 0xee, (i >> 16) as u8, (i >> 8) as u8, i as u8, 1]);
        let mut sent = 0u64;
        let mut read = 0;
        let flood_start = Instant::now();
        for i in 0..2000u32 {
            // The AC reads while the flood arrives (in batches here: one thread plays both).
            if i % 50 == 0 {
                read += ac_drain(&mut ac, &sock, Duration::from_millis(20));
            }
            disc.send(&discovery(
                MacAddr::BROADCAST,
                rogue(i),
                Code::PADI,
                0,
                vec![Tag::ServiceName(vec![])],
            ))
            .unwrap();
            sent += 1;
        }
        let mut forged = cookie.clone();
        forged[5] ^= 1;
        for (i, c) in [None, Some(cookie.clone()), Some(forged)]
            .into_iter()
            .enumerate()
        {
            let mut tags = vec![Tag::ServiceName(vec![])];
            tags.extend(c.map(Tag::AcCookie));
            disc.send(&discovery(
                ac_mac,
                rogue(5000 + i as u32),
                Code::PADR,
                0,
                tags,
            ))
            .unwrap();
            sent += 1;
        }
        for i in 0..10 {
            disc.send(&discovery(ac_mac, rogue(6000 + i), Code::PADT, sid, vec![]))
                .unwrap();
            sent += 1;
        }
        let mut bad = discovery(
            ac_mac,
            rogue(7000),
            Code::PADR,
            0,
            vec![Tag::ServiceName(vec![])],
        );
        bad.extend_from_slice(&[0x01, 0x03, 0x00, 0x40, 1]); // a Host-Uniq running off the end
        bad[19] += 5;
        disc.send(&bad).unwrap();
        sent += 1;
        read += ac_drain(&mut ac, &sock, Duration::from_millis(300));
        let st = ac.stats().clone();
        eprintln!("hostile run: sent {sent}, AC read {read}: {st:?}");
        assert_eq!(read as u64, sent, "every frame read");
        assert_eq!(st.rx_frames, sent + 2);
        // PADOs bounded by the bucket (burst 100, 50/s over however long this took: no
        // timing is asserted, the bound follows the elapsed time).
        let secs = flood_start.elapsed().as_secs_f64();
        let bound = 1 + 100 + (50.0 * secs).ceil() as u64 + 1;
        assert!(st.pado_tx <= bound, "{} PADOs in {secs:.1} s", st.pado_tx);
        assert_eq!(
            st.pado_tx + st.dropped(pppoe::DropReason::PadiRateLimited),
            2001
        );
        assert_eq!(st.dropped(pppoe::DropReason::CookieMissing), 1);
        assert_eq!(st.dropped(pppoe::DropReason::CookieInvalid), 2);
        assert_eq!(st.dropped(pppoe::DropReason::PadtUnknownSession), 10);
        assert_eq!(st.dropped(pppoe::DropReason::BadTag), 1);
        assert_eq!(ac.sessions().count(), 1, "no session for any attacker");

        // The subscriber's session still carries data both ways.
        let lcp = [0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
        let up = Frame {
            eth: EthHeader {
                dst: ac_mac,
                src: good,
                vlans: vec![],
                ethertype: ETHERTYPE_SESSION,
            },
            pppoe: Pppoe::Session {
                session_id: sid,
                payload: &lcp,
            },
        }
        .encode()
        .unwrap();
        ses.send(&up).unwrap();
        let got = recv_one(&sock.session, "session frame after the attack");
        assert_eq!(
            ac.handle_frame(Instant::now(), &got),
            Received::Session { id: sid, ppp: &lcp }
        );
        sock.send(
            &ac.encapsulate(sid, &[0xc0, 0x21, 10, 1, 0, 8, 0, 0, 0, 0])
                .unwrap(),
        )
        .unwrap();
        let back = recv_one(&ses, "session frame to the subscriber");
        assert!(
            matches!(Frame::decode(&back).unwrap().pppoe, Pppoe::Session { session_id, .. } if session_id == sid)
        );
    });
}
