//! Address prefixes (`203.0.113.0/24`, `2001:db8::/48`) as typed values.
//!
//! Parsed at the configuration boundary so the rest of the daemon never re-parses strings.
//! All types (de)serialise as their text form.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use thiserror::Error;

/// A prefix string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid prefix {input:?}: {reason}")]
pub struct PrefixError {
    /// What was given.
    pub input: String,
    /// Why it was refused.
    pub reason: &'static str,
}

fn split_prefix(s: &str, max: u8) -> Result<(&str, u8), PrefixError> {
    let err = |reason| PrefixError {
        input: s.to_string(),
        reason,
    };
    match s.split_once('/') {
        None => Ok((s, max)),
        Some((a, l)) => {
            let len: u8 = l
                .parse()
                .map_err(|_| err("prefix length is not a number"))?;
            if len > max {
                return Err(err("prefix length too long"));
            }
            Ok((a, len))
        }
    }
}

/// An IPv4 prefix; the address is stored with host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    len: u8,
}

impl Ipv4Cidr {
    /// A prefix; host bits of `addr` are cleared. `None` when `len > 32`.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then(|| Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(addr) & Self::mask_bits(len)),
            len,
        })
    }
    fn mask_bits(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        }
    }
    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }
    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }
    /// Whether this is `0.0.0.0/0`-style empty-length prefix.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The last address of the prefix (the broadcast address for len ≤ 30).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !Self::mask_bits(self.len))
    }
    /// Whether `ip` is inside the prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_bits(self.len) == u32::from(self.addr)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, len) = split_prefix(s.trim(), 32)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| PrefixError {
            input: s.to_string(),
            reason: "not an IPv4 address",
        })?;
        Ipv4Cidr::new(addr, len).ok_or(PrefixError {
            input: s.to_string(),
            reason: "prefix length too long",
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = PrefixError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4Cidr> for String {
    fn from(c: Ipv4Cidr) -> String {
        c.to_string()
    }
}

/// An IPv6 prefix; the address is stored with host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv6Cidr {
    addr: Ipv6Addr,
    len: u8,
}

impl Ipv6Cidr {
    /// A prefix; host bits of `addr` are cleared. `None` when `len > 128`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then(|| Ipv6Cidr {
            addr: Ipv6Addr::from(u128::from(addr) & Self::mask_bits(len)),
            len,
        })
    }
    fn mask_bits(len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        }
    }
    /// The network address.
    pub fn network(&self) -> Ipv6Addr {
        self.addr
    }
    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }
    /// Whether the prefix length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether `ip` is inside the prefix.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & Self::mask_bits(self.len) == u128::from(self.addr)
    }
}

impl FromStr for Ipv6Cidr {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, len) = split_prefix(s.trim(), 128)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| PrefixError {
            input: s.to_string(),
            reason: "not an IPv6 address",
        })?;
        Ipv6Cidr::new(addr, len).ok_or(PrefixError {
            input: s.to_string(),
            reason: "prefix length too long",
        })
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl TryFrom<String> for Ipv6Cidr {
    type Error = PrefixError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv6Cidr> for String {
    fn from(c: Ipv6Cidr) -> String {
        c.to_string()
    }
}

/// An IPv4 or IPv6 prefix (allowed-peer lists, routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum IpCidr {
    /// IPv4.
    V4(Ipv4Cidr),
    /// IPv6.
    V6(Ipv6Cidr),
}

impl IpCidr {
    /// Whether `ip` is inside the prefix (an IPv4-mapped IPv6 address matches IPv4 prefixes).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (IpCidr::V4(c), IpAddr::V4(a)) => c.contains(a),
            (IpCidr::V4(c), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| c.contains(a)),
            (IpCidr::V6(c), IpAddr::V6(a)) => c.contains(a),
            (IpCidr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

impl FromStr for IpCidr {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(IpCidr::V6)
        } else {
            s.parse().map(IpCidr::V4)
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpCidr::V4(c) => c.fmt(f),
            IpCidr::V6(c) => c.fmt(f),
        }
    }
}

impl TryFrom<String> for IpCidr {
    type Error = PrefixError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IpCidr> for String {
    fn from(c: IpCidr) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_clears_host_bits_and_checks_membership() {
        let c: Ipv4Cidr = "203.0.113.77/24".parse().unwrap();
        assert_eq!(c.to_string(), "203.0.113.0/24");
        assert_eq!(c.last(), Ipv4Addr::new(203, 0, 113, 255));
        assert!(c.contains(Ipv4Addr::new(203, 0, 113, 1)));
        assert!(!c.contains(Ipv4Addr::new(203, 0, 114, 1)));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(1, 2, 3, 4)));
        let host: Ipv4Cidr = "192.0.2.1".parse().unwrap();
        assert_eq!(host.len(), 32);
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("10.0.0/8".parse::<Ipv4Cidr>().is_err());
        let v6: IpCidr = "2001:db8::1/48".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/48");
        assert!(v6.contains("2001:db8:0:ffff::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let v4: IpCidr = "10.0.0.0/8".parse().unwrap();
        assert!(v4.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!("2001:db8::/129".parse::<IpCidr>().is_err());
    }
}
