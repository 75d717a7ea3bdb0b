//! Replays the committed `pppoe_decode` fuzz corpus (fuzz/corpus/pppoe_decode) on stable
//! Rust, through the same function the fuzz target calls. `PPPOE_WRITE_CORPUS=1` regenerates
//! the seeds: real discovery frames and scripts that bring sessions up and down.

use std::path::PathBuf;

use pppoe::tr101::AccessLine;
use pppoe::{Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, VlanTag};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/pppoe_decode")
}

fn frame(code: Code, sid: u16, vlans: Vec<VlanTag>, tags: Vec<Tag>) -> Vec<u8> {
    Frame {
        eth: EthHeader {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0, 0, 0, 1, 1]),
            vlans,
            ethertype: 0,
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

fn write_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let line = AccessLine::new(Some(b"dslam 1/1/1:100.33"), Some(b"cust-1")).to_vendor_tag();
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "padi-plain",
            frame(
                Code::PADI,
                0,
                vec![],
                vec![Tag::ServiceName(vec![]), Tag::HostUniq(vec![1, 2, 3, 4])],
            ),
        ),
        (
            "padi-qinq-tr101",
            frame(
                Code::PADI,
                0,
                vec![
                    VlanTag {
                        tpid: 0x88a8,
                        tci: 10,
                    },
                    VlanTag::dot1q(20),
                ],
                vec![
                    Tag::ServiceName(b"isp".to_vec()),
                    Tag::VendorSpecific(line),
                    Tag::RelaySessionId(vec![9; 12]),
                    Tag::PppMaxPayload(1500),
                    Tag::EndOfList,
                ],
            ),
        ),
        (
            "pads-error",
            frame(
                Code::PADS,
                0,
                vec![],
                vec![
                    Tag::ServiceNameError(b"no".to_vec()),
                    Tag::AcName(b"ac".to_vec()),
                ],
            ),
        ),
        (
            "padt",
            frame(
                Code::PADT,
                7,
                vec![],
                vec![Tag::GenericError(b"bye".to_vec())],
            ),
        ),
        (
            "session-lcp",
            Frame {
                eth: EthHeader {
                    dst: MacAddr([2, 0, 0, 0, 0, 1]),
                    src: MacAddr([2, 0, 0, 0, 1, 1]),
                    vlans: vec![VlanTag::dot1q(5)],
                    ethertype: 0,
                },
                pppoe: Pppoe::Session {
                    session_id: 1,
                    payload: &[0xc0, 0x21, 1, 1, 0, 8, 1, 4, 5, 0xd4],
                },
            }
            .encode()
            .unwrap(),
        ),
        // Scripts (see pppoe::fuzzing): PADI, PADR with the cookie, data, PADT; on VLAN 7.
        (
            "script-session-up-down",
            vec![2, 0x31, 3, 0x11, 6, 0x11, 1, 4, 0x11, 1],
        ),
        // Two hosts to their limit, a flood of PADIs, time passing, local terminations.
        (
            "script-limits",
            vec![
                2, 1, 3, 1, 0, 0, 2, 5, 3, 5, 0, 0, // host 1: two sessions (its limit)
                2, 9, 0, 0, // host 1 again: no PADO (per-MAC limit)
                2, 2, 3, 2, 0, 0, 2, 3, 3, 3, 0, 0, 2, 6, 3, 6, 0,
                0, // hosts 2, 3, 2: 5 = max
                2, 7, // host 3: no PADO (global limit)
                5, 1, 5, 2, // local terminations
            ],
        ),
        ("script-raw-frame", {
            let f = frame(Code::PADI, 0, vec![], vec![Tag::ServiceName(vec![])]);
            let mut s = vec![1, f.len() as u8];
            s.extend_from_slice(&f);
            s
        }),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn replay_committed_corpus() {
    if std::env::var_os("PPPOE_WRITE_CORPUS").is_some() {
        write_corpus();
    }
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("corpus missing at {}", dir.display());
    };
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        pppoe::fuzzing::fuzz_decode(&data);
        n += 1;
    }
    assert!(n >= 8, "only {n} corpus files");
}

#[test]
fn script_seeds_reach_the_states_they_are_meant_to() {
    let dir = corpus_dir();
    let stats = |name: &str| {
        let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        pppoe::fuzzing::script_stats(&data)
    };
    let s = stats("script-session-up-down");
    assert_eq!(
        (s.sessions_up, s.session_rx, s.padt_rx, s.sessions_down),
        (1, 1, 1, 1),
        "{s:?}"
    );
    let s = stats("script-limits");
    assert_eq!(
        (s.sessions_up, s.padt_tx, s.sessions_down),
        (5, 2, 2),
        "{s:?}"
    );
    assert_eq!(s.dropped(pppoe::DropReason::MacLimit), 1, "{s:?}");
    assert_eq!(s.dropped(pppoe::DropReason::SessionLimit), 1, "{s:?}");
    let s = stats("script-raw-frame");
    assert_eq!(s.pado_tx, 1, "{s:?}");
}
