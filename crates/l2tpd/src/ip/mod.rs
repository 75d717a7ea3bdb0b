//! IP packets the daemon builds and reads itself, without a kernel stack behind it:
//!
//! * [`inet`]: the Internet checksum, ICMP echo (the demo's pings and answers);
//! * [`dhcpv6`]: DHCPv6 messages (RFC 8415) for the LNS's prefix delegation;
//! * [`ra`]: Router Solicitation / Advertisement over PPP (RFC 4861, RFC 5072 §5);
//! * [`ipterm`]: IP terminated inside the process (an [`ipterm::IpApp`]: demo, tests).

pub mod dhcpv6;
pub mod inet;
pub mod ipterm;
pub mod ra;
