//! The I/O edge: UDP sockets (batched), TUN devices, the system clock, and the kernel's own
//! L2TP datapath (PPPoL2TP sockets, `/dev/ppp` channels and units) where the kernel has it,
//! and raw `AF_PACKET` sockets for PPPoE subscribers.
//!
//! This is the only crate allowed `unsafe`; every block carries a `// SAFETY:` comment.

pub mod child;
pub mod fdpass;
pub mod kernel_session;
pub mod mem;
pub mod offload;
pub mod packet;
pub mod poller;
pub mod ppp_unit;
pub mod pppol2tp;
pub mod privileges;
pub mod tun;
pub mod udp;
