//! Shared body of the `pppoe_decode` fuzz target and of the stable corpus-replay test, so the
//! committed corpus is checked on every `cargo test` without a fuzzer.
//!
//! Two halves: the codec on the raw bytes (decode, then re-encode and decode again to the
//! same value), then the bytes read as a script driving an [`AccessConcentrator`] with hosts
//! that play by the rules (echoing the cookies they were offered) and raw frames in between,
//! checking the session invariants after every step.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ac::{AcConfig, AccessConcentrator, Event};
use crate::eth::{EthHeader, MacAddr, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION};
use crate::packet::{Code, Discovery, Frame, Pppoe};
use crate::tag::{Tag, TagList};

/// Runs the codec and the access concentrator on `data`. Panics only on a real bug.
pub fn fuzz_decode(data: &[u8]) {
    codec(data);
    script(data);
}

/// The access concentrator's counters after running `data` as a script (for checking that
/// corpus seeds reach the states they are meant to).
pub fn script_stats(data: &[u8]) -> crate::Stats {
    script(data)
}

fn codec(data: &[u8]) {
    let Ok(f) = Frame::decode(data) else {
        return;
    };
    let bytes = f.encode().expect("a decoded frame encodes");
    let again = Frame::decode(&bytes).expect("an encoded frame decodes");
    assert_eq!(again, f, "codec round trip");
    if let Pppoe::Discovery(d) = &f.pppoe {
        for v in d.tags.vendor_tags() {
            if let Some(Ok(al)) = v.access_line() {
                assert_eq!(&al.to_vendor_tag(), v, "TR-101 round trip");
            }
        }
    }
}

const AC_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

fn host(i: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 1, i % 4])
}

fn discovery(
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
    .expect("small frame")
}

/// Op codes (one octet, then arguments): 0 time +1 s; 1 raw frame (length octet, bytes);
/// 2 PADI from host a; 3 PADR from host a with its last cookie; 4 PADT for session s from
/// host a; 5 terminate session s; 6 session frame from host a on session s; other: skip.
fn script(data: &[u8]) -> crate::Stats {
    let t0 = Instant::now();
    let mut cfg = AcConfig::new(AC_MAC, "fuzz-ac", b"k");
    cfg.max_sessions = 5;
    cfg.max_sessions_per_mac = 2;
    cfg.padi_rate = 2;
    cfg.padi_burst = 3;
    cfg.max_payload = Some(1500);
    cfg.services = vec!["isp".into(), "voip".into()];
    let mut ac = AccessConcentrator::new(cfg, t0);
    let mut now = t0;
    let mut cookies: HashMap<MacAddr, Vec<u8>> = HashMap::new();
    let mut live: HashMap<u16, MacAddr> = HashMap::new();
    let mut it = data.iter().copied();
    for _ in 0..512 {
        let Some(op) = it.next() else { break };
        let a = it.next().unwrap_or(0);
        let vlans = if a & 0x10 != 0 {
            vec![VlanTag::dot1q(7)]
        } else {
            vec![]
        };
        match op % 8 {
            0 => now += Duration::from_secs(1),
            1 => {
                let frame: Vec<u8> = it.by_ref().take(usize::from(a)).collect();
                ac.handle_frame(now, &frame);
            }
            2 => {
                let svc = if a & 0x20 != 0 {
                    b"isp".to_vec()
                } else {
                    vec![]
                };
                let tags = vec![
                    Tag::ServiceName(svc),
                    Tag::HostUniq(vec![a]),
                    Tag::PppMaxPayload(1500),
                ];
                ac.handle_frame(
                    now,
                    &discovery(host(a), MacAddr::BROADCAST, &vlans, Code::PADI, 0, tags),
                );
            }
            3 => {
                let mut tags = vec![Tag::ServiceName(vec![]), Tag::HostUniq(vec![a])];
                if let Some(c) = cookies.get(&host(a)) {
                    tags.push(Tag::AcCookie(c.clone()));
                }
                ac.handle_frame(
                    now,
                    &discovery(host(a), AC_MAC, &vlans, Code::PADR, 0, tags),
                );
            }
            4 => {
                let sid = u16::from(it.next().unwrap_or(0) % 8);
                ac.handle_frame(
                    now,
                    &discovery(host(a), AC_MAC, &vlans, Code::PADT, sid, vec![]),
                );
            }
            5 => {
                ac.terminate(u16::from(a % 8), Some("bye"));
            }
            6 => {
                let sid = u16::from(it.next().unwrap_or(0) % 8);
                let frame = Frame {
                    eth: EthHeader {
                        dst: AC_MAC,
                        src: host(a),
                        vlans,
                        ethertype: ETHERTYPE_SESSION,
                    },
                    pppoe: Pppoe::Session {
                        session_id: sid,
                        payload: &[0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0],
                    },
                };
                let bytes = frame.encode().expect("small");
                let r = ac.handle_frame(now, &bytes);
                if let crate::Received::Session { id, .. } = r {
                    assert_eq!(live.get(&id), Some(&host(a)), "data only from the owner");
                }
            }
            _ => {}
        }
        while let Some(out) = ac.poll_transmit() {
            let f = Frame::decode(&out).expect("we send what we decode");
            assert_eq!(f.eth.src, AC_MAC);
            if let Pppoe::Discovery(d) = f.pppoe {
                if d.code == Code::PADO {
                    cookies.insert(
                        f.eth.dst,
                        d.tags.ac_cookie().expect("PADO has a cookie").to_vec(),
                    );
                }
            }
        }
        while let Some(e) = ac.poll_event() {
            match e {
                Event::SessionUp(s) => {
                    assert!(
                        live.insert(s.id, s.peer).is_none(),
                        "session id reused while live"
                    );
                    assert!(s.id != 0 && s.id != 0xffff);
                }
                Event::SessionDown { id, peer, .. } => {
                    assert_eq!(live.remove(&id), Some(peer), "down only for a live session");
                }
            }
        }
        let n = ac.sessions().count();
        assert_eq!(n, live.len());
        assert!(n <= ac.config().max_sessions);
        for m in 0..4 {
            let per = ac.sessions().filter(|s| s.peer == host(m)).count();
            assert!(per <= ac.config().max_sessions_per_mac);
        }
        let st = ac.stats();
        assert_eq!(st.sessions_up - st.sessions_down, n as u64);
    }
    ac.stats().clone()
}
