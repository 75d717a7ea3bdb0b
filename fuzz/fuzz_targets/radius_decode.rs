//! Fuzz target: RADIUS packet decoding (with the codec round trip), reply parsing, the
//! client fed the input as replies and the DAE server fed it as requests
//! (`l2tp_radius::fuzzing::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    l2tp_radius::fuzzing::fuzz_decode(data);
});
