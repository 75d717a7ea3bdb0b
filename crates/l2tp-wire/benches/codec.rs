//! Codec benchmarks: decode and encode of a typical SCCRQ (the Windows client's AVP set) and
//! of a data-message header (the per-packet datapath cost).
//!
//! `cargo bench -p l2tp-wire -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use l2tp_wire::testdata::{windows_sccrq, LCP_CONFREQ_FRAME};
use l2tp_wire::{
    encode_packet, ControlMessage, Header, Packet, SeqNum, Sequence, SessionId, TunnelId,
};

fn sccrq(c: &mut Criterion) {
    let msg: ControlMessage = windows_sccrq().into();
    let header = Header::control(TunnelId(0), SessionId(0), SeqNum(0), SeqNum(0));
    let bytes = encode_packet(&header, &msg, None).expect("encodes");
    c.bench_function("sccrq_decode", |b| {
        b.iter(|| Packet::decode(black_box(&bytes), None).expect("decodes"))
    });
    c.bench_function("sccrq_encode", |b| {
        b.iter(|| encode_packet(black_box(&header), black_box(&msg), None).expect("encodes"))
    });
}

fn data_header(c: &mut Criterion) {
    // Data message with L and S bits (sequencing on), as the datapath sees it.
    let mut header = Header::data(TunnelId(2002), SessionId(22));
    header.has_length = true;
    header.sequence = Some(Sequence {
        ns: SeqNum(7),
        nr: SeqNum(0),
    });
    let mut datagram = vec![0u8; header.encoded_len() + 1400];
    let hlen = header.encoded_len();
    datagram[hlen..hlen + LCP_CONFREQ_FRAME.len()].copy_from_slice(&LCP_CONFREQ_FRAME);
    header.encode_into(&mut datagram, 1400);
    c.bench_function("data_header_decode", |b| {
        b.iter(|| Header::decode(black_box(&datagram)).expect("decodes"))
    });
    let mut buf = [0u8; 16];
    c.bench_function("data_header_encode", |b| {
        b.iter(|| black_box(&header).encode_into(black_box(&mut buf), black_box(1400)))
    });
}

criterion_group!(benches, sccrq, data_header);
criterion_main!(benches);
