//! TUN devices (issue 6).
