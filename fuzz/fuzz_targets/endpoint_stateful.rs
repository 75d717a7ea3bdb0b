//! Fuzz target: an `l2tp_proto::control::Endpoint` with an established tunnel and call, fed
//! arbitrary sequences of time advances, datagrams from four sources (the peer, a spoofed
//! port, other hosts), sequenced control messages with fuzzed bodies, typed messages out of
//! state, SCCRQs and peer commands, with invariants checked after every step. The logic is
//! shared with the stable replay test `crates/l2tp-proto/tests/fuzz_endpoint_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/l2tp-proto/tests/fuzz_endpoint_corpus.rs"]
mod logic;

fuzz_target!(|data: &[u8]| {
    logic::run(data);
});
