//! Fuzz target: L2TPv2 header and control-message decoding, with and without a secret, plus
//! the re-encode round trip of every message that decodes (`testdata::fuzz_wire_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    l2tp_wire::testdata::fuzz_wire_decode(data);
});
