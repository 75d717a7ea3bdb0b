//! Committed artefacts stay in sync with the code that generates them, and the fuzz corpus
//! replays without a panic or a failed round trip.
//!
//! Regenerate both with `L2TP_WRITE_SAMPLES=1 cargo test -p l2tp-wire --test samples`.

use std::path::{Path, PathBuf};

use l2tp_wire::testdata;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn writing() -> bool {
    std::env::var_os("L2TP_WRITE_SAMPLES").is_some()
}

#[test]
fn sample_capture_is_up_to_date() {
    let path = repo().join("samples/tunnel-setup.pcap");
    let generated = testdata::tunnel_setup_pcap();
    if writing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read(&path).expect("samples/tunnel-setup.pcap is committed");
    assert!(
        committed == generated,
        "samples/tunnel-setup.pcap is stale: regenerate with L2TP_WRITE_SAMPLES=1"
    );
}

#[test]
fn fuzz_corpus_replays() {
    let dir = repo().join("fuzz/corpus/wire_decode");
    if writing() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in testdata::fuzz_seeds() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/wire_decode exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        testdata::fuzz_wire_decode(&data);
        n += 1;
    }
    assert!(
        n >= testdata::fuzz_seeds().len(),
        "corpus has only {n} files"
    );
}
