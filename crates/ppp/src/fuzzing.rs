//! Shared body of the `ppp_decode` fuzz target and of the stable corpus-replay test, so the
//! committed corpus is checked on every `cargo test` without a fuzzer.
//!
//! Two halves: every decoder on the raw bytes (with codec round-trip checks), then the bytes
//! cut into frames and fed to a server and a client [`Link`] interleaved with timer expiries,
//! to check the automata never panic and keep their invariants on arbitrary peer input.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::mock::StepRng;

use crate::{
    chap, classify, mschapv2, options, packet::Packet, pap, AuthDecision, AuthMethod, Event, Link,
    LinkConfig,
};

/// Run every decoder on `data` and feed it to two links. Panics only on a real bug (a codec
/// round trip that does not hold, or a panic inside the crate).
pub fn fuzz_decode(data: &[u8]) {
    decoders(data);
    for role in 0..2 {
        links(role, data);
    }
}

fn decoders(data: &[u8]) {
    // The LAC's proxy tap sees the same frames in both directions.
    let mut cap = crate::proxy::ProxyCapture::new();
    cap.sent(data);
    cap.received(data);
    let _ = (
        cap.lcp(),
        cap.auth().map(|a| (a.realm(), a.proxy_authen_type())),
    );
    let payload = match classify(data) {
        Ok((_, p)) => p,
        Err(_) => data,
    };
    for bytes in [data, payload] {
        if let Ok(pkt) = Packet::decode(bytes) {
            if let Ok(opts) = options::decode(pkt.data) {
                // Decoding consumed the whole list, so re-encoding gives it back exactly.
                assert_eq!(options::encode(&opts), pkt.data, "option codec round trip");
            }
            if let Ok(r) = pap::Request::decode(pkt.data) {
                let again = pap::Request::encode(r.peer_id, r.password);
                assert_eq!(pap::Request::decode(&again), Ok(r), "PAP round trip");
            }
            if let Ok(vn) = chap::ValueName::decode(pkt.data) {
                let again = chap::ValueName::encode(vn.value, vn.name);
                assert_eq!(chap::ValueName::decode(&again), Ok(vn), "CHAP round trip");
            }
            let _ = mschapv2::parse_success_message(pkt.data);
        }
    }
}

fn links(role: u8, data: &[u8]) {
    let t0 = Instant::now();
    let mut cfg = if role == 0 {
        let mut c = LinkConfig::server(
            vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            Ipv4Addr::new(10, 0, 0, 1),
            [Some(Ipv4Addr::new(10, 0, 0, 53)), None],
        );
        c.ipv4.peer = Some(Ipv4Addr::new(10, 0, 0, 2));
        c.rechallenge_interval = Some(Duration::from_secs(5));
        c
    } else {
        LinkConfig::client("user", "pass")
    };
    cfg.ipv6 = true;
    let mut link = Link::new(cfg, StepRng::new(0x1234_5678, 0x9e37_79b9));
    link.open(t0);
    let mut now = t0;
    let mut rest = data;
    let mut downs = 0;
    // Frame i: one length octet then that many bytes; a zero length means "let 2 s pass".
    for _ in 0..256 {
        let Some((&len, tail)) = rest.split_first() else {
            break;
        };
        if len == 0 {
            now += Duration::from_secs(2);
            link.handle_timeout(now);
            rest = tail;
        } else {
            let n = usize::from(len).min(tail.len());
            link.handle_frame(now, &tail[..n]);
            rest = &tail[n..];
        }
        while link.poll_transmit().is_some() {}
        while let Some(e) = link.poll_event() {
            match e {
                Event::AuthRequest { ticket, .. } => {
                    let _ = link.auth_decision(now, ticket, AuthDecision::Password("pass".into()));
                }
                Event::Down { .. } => downs += 1,
                _ => {}
            }
        }
        if let Some(t) = link.poll_timeout() {
            assert!(t + Duration::from_secs(3600) > now, "timer far in the past");
        }
    }
    assert!(downs <= 1, "Down is reported at most once");
    let _ = link.send_ipv4(&[0x45, 0, 0, 20]);
}
