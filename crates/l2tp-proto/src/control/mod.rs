//! Control plane (issue 3): reliable control channel, tunnel and call state machines.

pub mod reliable;
