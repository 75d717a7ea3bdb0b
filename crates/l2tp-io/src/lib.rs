//! The I/O edge: UDP sockets (batched), TUN devices, the system clock.
//!
//! This is the only crate allowed `unsafe`; every block carries a `// SAFETY:` comment.

pub mod mem;
pub mod offload;
pub mod poller;
pub mod ppp_unit;
pub mod pppol2tp;
pub mod tun;
pub mod udp;
