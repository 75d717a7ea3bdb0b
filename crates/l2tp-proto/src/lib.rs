//! Sans-IO L2TP engine: the control plane (reliable control channel, tunnel and call state
//! machines, the `Endpoint`) and the datapath (the PPPoL2TP driver's job: session lookup,
//! sequence numbers, reordering, statistics).
//!
//! Nothing here reads a clock, touches a socket or draws OS randomness: time comes in as
//! `now: Instant`, randomness from an injected RNG, and outputs are drained after every input.

pub mod control;
pub mod data;
