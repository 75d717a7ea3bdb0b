//! Datapath cost per packet, without I/O: encapsulation (header written in front of a PPP
//! frame) and decapsulation (classify, peer check, sequencing, deliver), with sequencing off
//! and on, and with 1 % of packets reordered (REORDERTO > 0: the late one is held and
//! released).
//!
//! `cargo bench -p l2tp-io --bench data_path`

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use l2tp_proto::data::{
    Datapath, DatapathConfig, RxResult, SessionConfig, SessionKey, SessionOptions, SocketId,
};
use l2tp_wire::{Header, SeqNum, Sequence, SessionId, TunnelId};

const HEADROOM: usize = 16;

fn peer() -> SocketAddr {
    "192.0.2.7:1701".parse().unwrap()
}

/// A datapath with `tunnels` tunnels of `sessions` sessions each; the measured session is the
/// last one created.
fn datapath(opts: SessionOptions, tunnels: u16, sessions: u16) -> (Datapath, SessionKey) {
    let mut dp = Datapath::new(DatapathConfig::default());
    let mut last = None;
    for t in 1..=tunnels {
        dp.create_tunnel(TunnelId(t), SocketId::SHARED, peer())
            .unwrap();
        for s in 1..=sessions {
            last = Some(
                dp.create_session(
                    SessionConfig::new(
                        TunnelId(t),
                        SessionId(s),
                        TunnelId(t),
                        SessionId(s),
                        peer(),
                    )
                    .with_options(opts),
                )
                .unwrap(),
            );
        }
    }
    (dp, last.unwrap())
}

fn seq_opts(on: bool, reorder_ms: u64) -> SessionOptions {
    SessionOptions {
        send_seq: on,
        recv_seq: on,
        lns_mode: true,
        reorder_timeout: Duration::from_millis(reorder_ms),
        ..SessionOptions::default()
    }
}

fn encap(c: &mut Criterion) {
    let mut g = c.benchmark_group("encap");
    g.throughput(Throughput::Elements(1));
    for (name, seq, len) in [
        ("64B/seq_off", false, 64),
        ("64B/seq_on", true, 64),
        ("1400B/seq_on", true, 1400),
    ] {
        let (mut dp, key) = datapath(seq_opts(seq, 0), 1, 1);
        let mut buf = vec![0x21u8; HEADROOM + len];
        g.bench_function(name, |b| {
            b.iter(|| {
                let tx = dp
                    .encapsulate(key, black_box(&mut buf), HEADROOM, len)
                    .unwrap();
                black_box(tx.range.start)
            })
        });
    }
    g.finish();
}

/// The Ns of the i-th arrival: in order, except that every 100th pair is swapped (1 %).
fn arrival_ns(i: u64, reorder: bool) -> u16 {
    let n = if reorder && i % 100 == 50 {
        i + 1
    } else if reorder && i % 100 == 51 {
        i - 1
    } else {
        i
    };
    n as u16
}

fn decap(c: &mut Criterion) {
    let mut g = c.benchmark_group("decap");
    g.throughput(Throughput::Elements(1));
    let now = Instant::now();
    for (name, seq, reorder, tunnels, sessions) in [
        ("64B/seq_off", false, false, 1, 1),
        ("64B/seq_on", true, false, 1, 1),
        ("64B/seq_on_1pct_reorder", true, true, 1, 1),
        ("64B/seq_on_1000x65_sessions", true, false, 1000, 65),
        ("64B/seq_on_1x65535_sessions", true, false, 1, 65535),
    ] {
        let (mut dp, key) = datapath(
            seq_opts(seq, if reorder { 100 } else { 0 }),
            tunnels,
            sessions,
        );
        let mut h = Header::data(key.tunnel, key.session);
        if seq {
            h.sequence = Some(Sequence {
                ns: SeqNum(0),
                nr: SeqNum(0),
            });
        }
        let mut d = h.encode_with_payload(&[0x21; 64]);
        let mut i = 0u64;
        let from = peer();
        g.bench_function(name, |b| {
            b.iter(|| {
                if seq {
                    d[6..8].copy_from_slice(&arrival_ns(i, reorder).to_be_bytes());
                }
                i += 1;
                let n = match dp.receive(now, from, black_box(&d)) {
                    RxResult::Deliver { frame, .. } => frame.len(),
                    RxResult::Queued { .. } => 0,
                    other => panic!("{other:?}"),
                };
                let mut m = 0;
                while let Some(x) = dp.poll_deliver() {
                    m += x.frame.len();
                    dp.recycle(x.frame);
                }
                black_box(n + m)
            })
        });
        let s = dp.stats(key.tunnel, key.session).unwrap();
        assert_eq!(s.rx_errors, 0, "{name}: {s:?}");
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = encap, decap
}
criterion_main!(benches);
