//! Replays the committed corpus of the `radius_decode` fuzz target (fuzz/corpus/radius_decode)
//! on stable Rust, through the same function the fuzz target calls.

use std::path::PathBuf;

#[test]
fn corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/radius_decode");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("the committed corpus") {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        l2tp_radius::fuzzing::fuzz_decode(&data);
        n += 1;
    }
    assert!(n >= 7, "corpus has {n} files");
}

#[test]
fn the_signed_corpus_requests_reach_the_dae_acceptance_path() {
    // The seeds are signed with the fuzzing secret: a DAE server must accept them, or the
    // corpus would only ever exercise the refusal paths.
    use l2tp_radius::dae::{DaeClient, DaeConfig, DaeOutcome, DaeServer};
    use l2tp_radius::request::NasIdentity;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/radius_decode");
    for name in ["disconnect-request", "coa-request"] {
        let data = std::fs::read(dir.join(name)).unwrap();
        let mut d = DaeServer::new(DaeConfig {
            clients: vec![DaeClient {
                addr: "192.0.2.1".parse().unwrap(),
                secret: l2tp_radius::Secret::new("fuzz"),
            }],
            nas: NasIdentity::default(),
            require_message_authenticator: true,
            event_timestamp_window: std::time::Duration::from_secs(300),
            require_event_timestamp: false,
            rate_limit: Some(l2tp_radius::reply::RateLimitAttr::FilterId {
                prefix: "rate=".into(),
            }),
        });
        let out = d.handle_datagram(
            std::time::Instant::now(),
            std::time::SystemTime::now(),
            "192.0.2.1:3799".parse().unwrap(),
            &data,
        );
        assert!(matches!(out, DaeOutcome::Request(_)), "{name}: {out:?}");
    }
}
