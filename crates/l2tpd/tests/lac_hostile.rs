//! Hostile PPPoE input against the LAC daemon, over real `AF_PACKET` sockets: our LAC
//! (`l2tpd lac`) and LNS (`l2tpd lns`) in a network namespace this test creates, the LAC on
//! one end of a veth pair; on the other end, an established subscriber (`l2tpd loadgen
//! --pppoe-interface`: discovery, LCP, CHAP, IPCP, then LCP echoes through the relay every
//! 50 ms) and this test, which sends what a hostile host on the access segment would: PADRs
//! without a cookie, with a forged one, with one issued to another address, with two
//! cookies; PADTs for the subscriber's session from another address, and with the wrong
//! session id; malformed TAGs (truncated, a length past the payload, duplicates); a PPPoE
//! LENGTH past the frame; session frames for sessions that do not exist or are not the
//! sender's; PADIs from one address faster than its own limit; and a PADI flood from
//! thousands of addresses.
//!
//! Each kind must be counted under its reason (`l2tpctl stats`), logged a bounded number of
//! times, create no session, and the subscriber must keep its session and pass its echoes
//! throughout. Needs root and iproute2; skipped loudly otherwise, a failure under `CI=true`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use l2tp_io::packet::{interface_index, PacketSocket};
use l2tp_mgmt::{LacStats, PppoeSessionInfo, Request, Response};
use pppoe::{
    Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, TagList, ETHERTYPE_DISCOVERY,
    ETHERTYPE_SESSION,
};
use support::segment::Segment;
use support::{request, requires, wait_for, Proc, TempDir, L2TPD};

const TEST: &str = "LAC hostile PPPoE input";

fn lac_stats(sock: &std::path::Path) -> LacStats {
    match request(sock, Request::Stats) {
        Response::Stats(s) => *s.lac.expect("a LAC reports its relay's figures"),
        other => panic!("stats: {other:?}"),
    }
}

fn subscribers(sock: &std::path::Path) -> Vec<PppoeSessionInfo> {
    match request(sock, Request::ListPppoe) {
        Response::PppoeSessions(v) => v,
        other => panic!("pppoe: {other:?}"),
    }
}

/// The LAC's figures once `done` holds (10 s at most; a panic shows the last ones).
fn wait_stats(sock: &std::path::Path, what: &str, done: impl Fn(&LacStats) -> bool) -> LacStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = lac_stats(sock);
        if done(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {st:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dropped(s: &LacStats, reason: &str) -> u64 {
    s.dropped.get(reason).copied().unwrap_or(0)
}

/// The hostile host: one raw socket per PPPoE EtherType on the subscribers' end.
struct Attacker {
    disc: PacketSocket,
    sess: PacketSocket,
}

const EVIL: MacAddr = MacAddr([0x02, 0x66, 0, 0, 0, 1]);
const EVIL2: MacAddr = MacAddr([0x02, 0x66, 0, 0, 0, 2]);

impl Attacker {
    fn discovery(
        src: MacAddr,
        dst: MacAddr,
        code: Code,
        session_id: u16,
        tags: Vec<Tag>,
    ) -> Vec<u8> {
        Frame {
            eth: EthHeader {
                dst,
                src,
                vlans: vec![],
                ethertype: ETHERTYPE_DISCOVERY,
            },
            pppoe: Pppoe::Discovery(Discovery {
                code,
                session_id,
                tags,
            }),
        }
        .encode()
        .unwrap()
    }

    fn send(&self, f: &[u8]) {
        let s = if f[12..14] == ETHERTYPE_SESSION.to_be_bytes() {
            &self.sess
        } else {
            &self.disc
        };
        s.send(f).expect("send a frame");
    }

    /// A PADI from `mac`, and the cookie of the PADO that answers it.
    fn cookie_for(&self, mac: MacAddr) -> (MacAddr, Vec<u8>) {
        let padi = Self::discovery(
            mac,
            MacAddr::BROADCAST,
            Code::PADI,
            0,
            vec![Tag::ServiceName(vec![])],
        );
        self.send(&padi);
        let mut buf = vec![0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.disc.recv(&mut buf) {
                Ok(n) => {
                    let Ok(f) = Frame::decode(&buf[..n]) else {
                        continue;
                    };
                    if let Pppoe::Discovery(d) = &f.pppoe {
                        if d.code == Code::PADO && f.eth.dst == mac {
                            return (f.eth.src, d.tags.ac_cookie().unwrap().to_vec());
                        }
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        panic!("no PADO for {mac}");
    }
}

/// Raw discovery frame: Ethernet header, VER/TYPE, CODE, SESSION_ID, LENGTH as given,
/// then `payload` as is.
fn raw_discovery(src: MacAddr, dst: MacAddr, code: u8, length: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ETHERTYPE_DISCOVERY.to_be_bytes());
    f.extend_from_slice(&[0x11, code, 0, 0]);
    f.extend_from_slice(&length.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn session_frame(src: MacAddr, dst: MacAddr, id: u16) -> Vec<u8> {
    // An LCP Echo-Request.
    let ppp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef];
    let mut f = Vec::new();
    EthHeader {
        dst,
        src,
        vlans: vec![],
        ethertype: ETHERTYPE_SESSION,
    }
    .encode(&mut f)
    .unwrap();
    pppoe::packet::session_header_into(id, ppp.len(), &mut f).unwrap();
    f.extend_from_slice(&ppp);
    f
}

#[test]
fn hostile_pppoe_input_is_counted_and_the_established_subscriber_keeps_passing_traffic() {
    if !requires(
        TEST,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    ) {
        return;
    }
    let seg = Segment::new("h");
    let dir = TempDir::new("lac-hostile");
    let d = &dir.0;
    let (lns_sock, lac_sock) = (d.join("lns.sock"), d.join("lac.sock"));
    #[rustfmt::skip]
    let lns = seg.spawn(d, "lns", &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.10-192.0.2.20",
        "--local-ip", "192.0.2.1", "--user", "alice@isp.example:secret",
        "--secret", "wholesale", "--socket", lns_sock.to_str().unwrap(),
    ]);
    #[rustfmt::skip]
    let lac = seg.spawn(d, "lac", &[
        "lac", "--pppoe-interface", &seg.ac_if, "--lns", "127.0.0.1:1701",
        "--secret", "wholesale", "--socket", lac_sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "the LAC's PPPoE interface", || {
        lac.log_text()
            .contains("PPPoE access concentrator listening")
            && lns_sock.exists()
    });

    // The established subscriber, echoing through the relay until told to stop.
    #[rustfmt::skip]
    let mut sub = Proc::spawn(L2TPD, d, "subscriber", &[
        "loadgen", "--pppoe-interface", &seg.host_if, "--subscribers", "1",
        "--user", "alice@isp.example", "--password", "secret", "--hold", "300",
        "--echo-interval-ms", "50", "--timeout", "30", "--json",
    ]);
    let sub_log = sub.log.clone();
    let report = |what: &str| {
        format!(
            "{what}\nLAC:\n{}\nLNS:\n{}\nsubscriber:\n{}",
            lac.log_tail(),
            lns.log_tail(),
            std::fs::read_to_string(&sub_log).unwrap_or_default()
        )
    };
    let mut before = None;
    wait_for(Duration::from_secs(30), "the subscriber relaying", || {
        before = subscribers(&lac_sock)
            .into_iter()
            .find(|s| s.state == "relaying" && s.down_frames > 0);
        before.is_some()
    });
    let before = before.unwrap();
    let sub_mac = MacAddr(
        before
            .mac
            .split(':')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    let victim = before.pppoe_session;

    let idx = interface_index(&seg.host_if).unwrap();
    let evil = Attacker {
        disc: PacketSocket::open(idx, ETHERTYPE_DISCOVERY).unwrap(),
        sess: PacketSocket::open(idx, ETHERTYPE_SESSION).unwrap(),
    };
    let (ac, good_cookie) = evil.cookie_for(EVIL);
    let sn = || Tag::ServiceName(vec![]);
    let padr = |src, tags| Attacker::discovery(src, ac, Code::PADR, 0, tags);

    // PADRs: no cookie; a forged one; EVIL's cookie from another address; two cookies of
    // which only the first is ours to check.
    evil.send(&padr(EVIL, vec![sn()]));
    evil.send(&padr(EVIL, vec![sn(), Tag::AcCookie(vec![0x5a; 20])]));
    evil.send(&padr(EVIL2, vec![sn(), Tag::AcCookie(good_cookie.clone())]));
    evil.send(&padr(
        EVIL,
        vec![
            sn(),
            Tag::AcCookie(good_cookie.clone()),
            Tag::AcCookie(vec![1; 20]),
        ],
    ));
    // PADTs for the subscriber's session: from another address; from its address with
    // another session id.
    evil.send(&Attacker::discovery(EVIL, ac, Code::PADT, victim, vec![]));
    evil.send(&Attacker::discovery(
        sub_mac,
        ac,
        Code::PADT,
        victim ^ 0x100,
        vec![],
    ));
    // Malformed TAGs: a TAG header cut short; a TAG_LENGTH past the payload; two
    // Service-Names; two Host-Uniqs. A PPPoE LENGTH past the frame; VER 2.
    evil.send(&raw_discovery(
        EVIL,
        MacAddr::BROADCAST,
        0x09,
        2,
        &[0x01, 0x01],
    ));
    evil.send(&raw_discovery(
        EVIL,
        MacAddr::BROADCAST,
        0x09,
        8,
        &[0x01, 0x01, 0x00, 0x00, 0x01, 0x03, 0x40, 0x00],
    ));
    evil.send(&Attacker::discovery(
        EVIL2,
        MacAddr::BROADCAST,
        Code::PADI,
        0,
        vec![sn(), sn()],
    ));
    evil.send(&Attacker::discovery(
        EVIL2,
        MacAddr::BROADCAST,
        Code::PADI,
        0,
        vec![sn(), Tag::HostUniq(vec![1]), Tag::HostUniq(vec![2])],
    ));
    evil.send(&raw_discovery(
        EVIL,
        MacAddr::BROADCAST,
        0x09,
        1000,
        &[0x01, 0x01, 0, 0],
    ));
    let mut v2 = raw_discovery(EVIL, MacAddr::BROADCAST, 0x09, 4, &[0x01, 0x01, 0, 0]);
    v2[14] = 0x21;
    evil.send(&v2);
    // Session frames: an unknown session; the subscriber's session from another address.
    evil.send(&session_frame(EVIL, ac, 0x4242));
    evil.send(&session_frame(EVIL, ac, victim));

    let s = wait_stats(&lac_sock, "every hostile frame counted", |st| {
        dropped(st, "cookie_missing") >= 1
            && dropped(st, "cookie_invalid") >= 2
            && dropped(st, "duplicate_tag") >= 2
            && dropped(st, "padt_unknown_session") >= 2
            && dropped(st, "bad_tag") >= 2
            && dropped(st, "service_name_count") >= 1
            && dropped(st, "bad_length") >= 1
            && dropped(st, "bad_version") >= 1
            && dropped(st, "session_unknown") >= 2
    });
    assert_eq!(s.pads_tx, 1, "only the subscriber got a session: {s:?}");

    // 20 PADIs from one address: its own bucket (5 in a burst) stops it before the global one.
    for _ in 0..20 {
        evil.send(&Attacker::discovery(
            EVIL2,
            MacAddr::BROADCAST,
            Code::PADI,
            0,
            vec![sn()],
        ));
    }
    let s = wait_stats(&lac_sock, "the PADIs from one address counted", |st| {
        dropped(st, "padi_mac_rate_limited") >= 14
    });

    // A PADI flood from 3000 addresses, in bursts across the subscriber's echoes.
    let flood_from = subscribers(&lac_sock)[0].down_frames;
    for i in 0..3000u32 {
        if i % 500 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let b = i.to_be_bytes();
        let mac = MacAddr([0x02, 0x77, b[0], b[1], b[2], b[3]]);
        evil.send(&Attacker::discovery(
            mac,
            MacAddr::BROADCAST,
            Code::PADI,
            0,
            vec![sn()],
        ));
    }
    // Every PADI is either read and counted, or counted as dropped by the kernel.
    let after = wait_stats(&lac_sock, "the flood counted", |st| {
        st.padi_rx - s.padi_rx + dropped(st, "socket_overflow") >= 3000
    });
    assert!(
        dropped(&after, "padi_rate_limited") > 0 && after.pado_tx < after.padi_rx,
        "the PADI flood is rate-limited: {after:?}"
    );
    assert_eq!(after.pads_tx, 1, "no session from the flood: {after:?}");

    // The subscriber kept its session, and its echoes kept flowing through the relay.
    let pre = subscribers(&lac_sock)
        .into_iter()
        .find(|x| x.pppoe_session == victim)
        .unwrap_or_else(|| panic!("{}", report("the subscriber's session is gone")));
    wait_for(
        Duration::from_secs(10),
        "echoes relayed after the attack",
        || {
            subscribers(&lac_sock)
                .iter()
                .any(|x| x.pppoe_session == victim && x.down_frames > pre.down_frames + 5)
        },
    );
    let now = subscribers(&lac_sock);
    assert!(
        now[0].down_frames > flood_from,
        "frames relayed to the subscriber during the flood: {now:?}"
    );
    assert_eq!(now.len(), 1, "one subscriber, still: {now:?}");
    assert_eq!(now[0].state, "relaying");
    assert!(now[0].up_frames > before.up_frames);

    sub.terminate();
    wait_for(Duration::from_secs(10), "the subscriber's report", || {
        !sub.alive()
    });
    let out = sub.log_text();
    let json: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{}", report("no report from the subscriber")));
    let (req, rep) = (
        json["echo_requests"].as_u64().unwrap(),
        json["echo_replies"].as_u64().unwrap(),
    );
    assert_eq!(json["lost"], 0, "{json}");
    assert_eq!(json["established"], 1, "{json}");
    assert!(
        req >= 5 && rep + 2 >= req,
        "echoes answered throughout: {json}"
    );

    // Rate-limited log lines: thousands of drops, a handful of lines.
    let drops: u64 = after.dropped.values().sum();
    let lines = lac.log_text().matches("PPPoE frame dropped").count();
    assert!(drops >= 2000, "{after:?}");
    assert!(
        lines <= 40,
        "{lines} log lines for {drops} drops:\n{}",
        lac.log_tail()
    );

    // `l2tpctl stats` shows the reasons.
    let l2tpctl = support::guest::workspace_binary("l2tpctl", "l2tpctl");
    let o = Command::new(&l2tpctl)
        .args(["--socket", lac_sock.to_str().unwrap(), "stats"])
        .output()
        .expect("l2tpctl stats");
    let text = String::from_utf8_lossy(&o.stdout);
    for r in ["cookie_invalid 2", "padi_rate_limited", "duplicate_tag 2"] {
        assert!(text.contains(r), "`l2tpctl stats` lacks {r}:\n{text}");
    }
    drop(lac);
    drop(lns);
}
