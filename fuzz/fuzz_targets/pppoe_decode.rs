//! Fuzz target: the PPPoE codec (with its round trip) and an access concentrator driven by
//! the input as a script of hosts and raw frames (`pppoe::fuzzing::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pppoe::fuzzing::fuzz_decode(data);
});
