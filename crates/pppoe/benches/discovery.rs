//! Access concentrator benchmarks: a whole discovery (PADI → PADO, PADR → PADS) per new
//! subscriber, the session-frame fast path (decode and check the owner), and the
//! encapsulation of a PPP frame for a subscriber.
//!
//! `cargo bench -p pppoe -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use pppoe::{
    AcConfig, AccessConcentrator, Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Received, Tag,
    TagList, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION,
};

const AC: MacAddr = MacAddr([2, 0xac, 0, 0, 0, 1]);

fn disc(src: MacAddr, dst: MacAddr, code: Code, tags: Vec<Tag>) -> Vec<u8> {
    Frame {
        eth: EthHeader {
            dst,
            src,
            vlans: vec![VlanTag::dot1q(100)],
            ethertype: ETHERTYPE_DISCOVERY,
        },
        pppoe: Pppoe::Discovery(Discovery {
            code,
            session_id: 0,
            tags,
        }),
    }
    .encode()
    .unwrap()
}

fn discovery(c: &mut Criterion) {
    let now = Instant::now();
    let mut cfg = AcConfig::new(AC, "bench-ac", b"key");
    cfg.max_sessions = 60_000;
    cfg.padi_rate = u32::MAX;
    cfg.padi_burst = u32::MAX;
    let mut ac = AccessConcentrator::new(cfg, now);
    let mut n: u32 = 0;
    c.bench_function("discovery_padi_to_pads", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let [_, x, y, z] = n.to_be_bytes();
            let host = MacAddr([2, 0, 0, x, y, z]);
            let uniq = Tag::HostUniq(n.to_be_bytes().to_vec());
            let padi = disc(
                host,
                MacAddr::BROADCAST,
                Code::PADI,
                vec![Tag::ServiceName(vec![]), uniq.clone()],
            );
            ac.handle_frame(now, &padi);
            let pado = ac.poll_transmit().expect("PADO");
            let Pppoe::Discovery(d) = Frame::decode(&pado).unwrap().pppoe else {
                unreachable!()
            };
            let cookie = Tag::AcCookie(d.tags.ac_cookie().unwrap().to_vec());
            let padr = disc(
                host,
                AC,
                Code::PADR,
                vec![Tag::ServiceName(vec![]), uniq, cookie],
            );
            ac.handle_frame(now, &padr);
            let pads = ac.poll_transmit().expect("PADS");
            let Some(pppoe::Event::SessionUp(s)) = ac.poll_event() else {
                unreachable!()
            };
            // Keep the table from filling: end the session at once.
            ac.terminate(s.id, None);
            while ac.poll_transmit().is_some() {}
            while ac.poll_event().is_some() {}
            black_box(pads)
        })
    });
}

fn session_path(c: &mut Criterion) {
    let now = Instant::now();
    let mut ac = AccessConcentrator::new(AcConfig::new(AC, "bench-ac", b"key"), now);
    let host = MacAddr([2, 0, 0, 0, 0, 9]);
    let padi = disc(
        host,
        MacAddr::BROADCAST,
        Code::PADI,
        vec![Tag::ServiceName(vec![])],
    );
    ac.handle_frame(now, &padi);
    let pado = ac.poll_transmit().unwrap();
    let Pppoe::Discovery(d) = Frame::decode(&pado).unwrap().pppoe else {
        unreachable!()
    };
    let cookie = Tag::AcCookie(d.tags.ac_cookie().unwrap().to_vec());
    ac.handle_frame(
        now,
        &disc(host, AC, Code::PADR, vec![Tag::ServiceName(vec![]), cookie]),
    );
    let Some(pppoe::Event::SessionUp(s)) = ac.poll_event() else {
        unreachable!()
    };
    let payload = vec![0x21u8; 1400];
    let frame = Frame {
        eth: EthHeader {
            dst: AC,
            src: host,
            vlans: vec![VlanTag::dot1q(100)],
            ethertype: ETHERTYPE_SESSION,
        },
        pppoe: Pppoe::Session {
            session_id: s.id,
            payload: &payload,
        },
    }
    .encode()
    .unwrap();
    c.bench_function("session_frame_in", |b| {
        b.iter(|| match ac.handle_frame(now, black_box(&frame)) {
            Received::Session { ppp, .. } => ppp.len(),
            other => panic!("{other:?}"),
        })
    });
    c.bench_function("session_frame_out_1400", |b| {
        b.iter(|| ac.encapsulate(s.id, black_box(&payload)).unwrap())
    });
    // The relay's way: appended to an output buffer that keeps its capacity.
    let mut out = Vec::with_capacity(64 * 1500);
    c.bench_function("session_frame_out_1400_in_place", |b| {
        b.iter(|| {
            if out.len() > 63 * 1500 {
                out.clear();
            }
            assert!(ac.encapsulate_into(s.id, black_box(&payload), &mut out));
        })
    });
}

criterion_group!(benches, discovery, session_path);
criterion_main!(benches);
