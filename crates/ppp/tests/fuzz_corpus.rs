//! Replays the committed `ppp_decode` fuzz corpus (fuzz/corpus/ppp_decode) on stable Rust,
//! through the same function the fuzz target calls. `PPP_WRITE_CORPUS=1` regenerates the
//! seeds from a recorded client/server exchange.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ppp::{AuthDecision, AuthMethod, Event, Link, LinkConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ppp_decode")
}

/// Frames of a full MS-CHAPv2 + IPCP + IPv6CP exchange: (to_server, frame).
fn recorded_exchange(method: AuthMethod) -> Vec<(bool, Vec<u8>)> {
    let now = Instant::now();
    let mut s = LinkConfig::server(
        vec![method],
        Ipv4Addr::new(10, 0, 0, 1),
        [Some(Ipv4Addr::new(10, 0, 0, 53)), None],
    );
    s.ipv6 = true;
    s.ipv4.peer = Some(Ipv4Addr::new(10, 0, 0, 2));
    let mut c = LinkConfig::client("user", "pass");
    c.ipv6 = true;
    let mut server = Link::new(s, ChaCha8Rng::seed_from_u64(1));
    let mut client = Link::new(c, ChaCha8Rng::seed_from_u64(2));
    server.open(now);
    client.open(now);
    let mut log = Vec::new();
    for _ in 0..20 {
        while let Some(f) = server.poll_transmit() {
            client.handle_frame(now, &f);
            log.push((false, f));
        }
        while let Some(f) = client.poll_transmit() {
            server.handle_frame(now, &f);
            log.push((true, f));
        }
        while let Some(e) = server.poll_event() {
            if let Event::AuthRequest { ticket, .. } = e {
                server
                    .auth_decision(now, ticket, AuthDecision::Password("pass".into()))
                    .unwrap();
            }
        }
        while client.poll_event().is_some() {}
    }
    let later = now + Duration::from_secs(30);
    server.handle_timeout(later); // an Echo-Request
    while let Some(f) = server.poll_transmit() {
        log.push((false, f));
    }
    log
}

fn write_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (m, tag) in [
        (AuthMethod::MsChapV2, "mschapv2"),
        (AuthMethod::ChapMd5, "chapmd5"),
        (AuthMethod::Pap, "pap"),
    ] {
        let log = recorded_exchange(m);
        for dir_to_server in [true, false] {
            // Length-prefixed frame sequence with a timer tick (0) after every frame.
            let mut seq = Vec::new();
            for (_, f) in log.iter().filter(|(t, _)| *t == dir_to_server) {
                seq.push(f.len().min(255) as u8);
                seq.extend_from_slice(&f[..f.len().min(255)]);
                seq.push(0);
            }
            let name = format!("seq-{tag}-{}", if dir_to_server { "c2s" } else { "s2c" });
            std::fs::write(dir.join(name), seq).unwrap();
        }
        if m == AuthMethod::MsChapV2 {
            for (i, (_, f)) in log.iter().enumerate() {
                std::fs::write(dir.join(format!("frame-{i:02}")), f).unwrap();
            }
        }
    }
    // Interop shapes: Windows LCP without FF 03, an l2tpns request with multilink options.
    let win = [
        0xc0, 0x21, 1, 0, 0, 21, 1, 4, 5, 0x78, 5, 6, 0x4a, 0x1f, 0x22, 5, 7, 2, 8, 2, 13, 3, 6,
    ];
    std::fs::write(dir.join("lcp-windows"), win).unwrap();
    let l2tpns = [
        0xff, 3, 0xc0, 0x21, 1, 1, 0, 32, 1, 4, 5, 0xdc, 3, 5, 0xc2, 0x23, 5, 5, 6, 9, 8, 7, 6, 17,
        4, 5, 0xdc, 19, 9, 1, 1, 2, 3, 4, 5, 6,
    ];
    std::fs::write(dir.join("lcp-l2tpns"), l2tpns).unwrap();
}

#[test]
fn replay_committed_corpus() {
    if std::env::var_os("PPP_WRITE_CORPUS").is_some() {
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
        ppp::fuzzing::fuzz_decode(&data);
        n += 1;
    }
    assert!(n >= 10, "only {n} corpus files");
}

#[test]
fn recorded_exchange_brings_both_links_up() {
    // The seeds are only useful if the recording is a complete exchange.
    let log = recorded_exchange(AuthMethod::MsChapV2);
    assert!(
        log.iter().any(|(to_s, f)| *to_s && f[2..4] == [0x80, 0x57]),
        "IPv6CP present"
    );
    assert!(log.len() > 12);
}
