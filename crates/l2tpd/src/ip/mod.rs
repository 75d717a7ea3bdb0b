//! IP packets the daemon builds and reads itself, without a kernel stack behind it:
//!
//! * [`inet`]: the Internet checksum, ICMP echo (the demo's pings and answers);
//! * [`ra`]: Router Solicitation / Advertisement over PPP (RFC 4861, RFC 5072 §5);
//! * [`ipterm`]: IP terminated inside the process (an [`ipterm::IpApp`]: demo, tests).

pub mod inet;
pub mod ipterm;
pub mod ra;
