//! Fuzz target: PPP frame, packet and option decoders (with codec round trips) and a server
//! and a client `ppp::Link` fed the input as a frame sequence (`ppp::fuzzing::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ppp::fuzzing::fuzz_decode(data);
});
