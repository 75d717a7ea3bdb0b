//! Address pools for the LNS: IPv4 addresses for IPCP and IPv6 interface identifiers /
//! prefixes for IPv6CP.
//!
//! # IPv4
//! [`Ipv4Pool`] hands out addresses from a range (`203.0.113.10-203.0.113.200`) or a CIDR
//! block (`203.0.113.0/24`; the network and broadcast addresses are never handed out for
//! prefixes up to /30, RFC 3021 /31 and /32 use every address). Allocation is amortised O(1)
//! and memory is two bits per address plus a queue, so pools of 100,000+ addresses are cheap.
//! Freed addresses go to the back of a FIFO queue: an address just released is the last one
//! to be reused, which keeps stale routes and ARP-like caches of a previous user from
//! catching a new one. Fixed addresses (a user's static IPv4, the server's own address) are
//! taken with [`Ipv4Pool::reserve`]; addresses outside the range can be reserved too, so two
//! sessions can never hold the same static address.
//!
//! # IPv6
//! IPv6CP (RFC 5072) negotiates only a 64-bit interface identifier; [`Ipv6Pool`] gives each
//! session a unique one, and an address, in one of two modes chosen by the prefix length:
//! * **/64**: every session gets an interface identifier inside the one /64 (IIDs 2, 3, …;
//!   IID 1 is the server's), and its address is `prefix::IID` (a /128 route per session);
//! * **shorter than /64** (e.g. /48): every session gets its own /64 (the 2nd, 3rd, … /64
//!   of the prefix; the first is the server's), IID 2 in it, so a client can be routed a whole
//!   /64 (`delegated`).

use crate::addr::{Ipv4Cidr, Ipv6Cidr};
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use thiserror::Error;

/// Largest IPv4 pool accepted (a /8): keeps the bitmaps at 4 MiB at most.
pub const MAX_IPV4_POOL: u32 = 1 << 24;

/// Pool errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PoolError {
    /// Every address is in use.
    #[error("address pool exhausted ({capacity} addresses, all in use)")]
    Exhausted {
        /// Size of the pool.
        capacity: u64,
    },
    /// The address is already allocated or reserved.
    #[error("address {0} is already in use")]
    InUse(std::net::IpAddr),
    /// Freeing an address that is not allocated.
    #[error("address {0} is not allocated")]
    NotAllocated(std::net::IpAddr),
    /// A pool definition could not be parsed.
    #[error("invalid pool {input:?}: {reason}")]
    Invalid {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
}

/// The text form of an IPv4 pool: `FIRST-LAST` or `NETWORK/LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Ipv4PoolSpec {
    /// An inclusive range.
    Range {
        /// First address handed out.
        first: Ipv4Addr,
        /// Last address handed out.
        last: Ipv4Addr,
    },
    /// A CIDR block (network and broadcast excluded for len ≤ 30).
    Cidr(Ipv4Cidr),
}

impl Ipv4PoolSpec {
    /// First and last usable address (inclusive), as integers.
    fn bounds(&self) -> (u32, u32) {
        match *self {
            Ipv4PoolSpec::Range { first, last } => (u32::from(first), u32::from(last)),
            Ipv4PoolSpec::Cidr(c) => {
                let (n, b) = (u32::from(c.network()), u32::from(c.last()));
                if c.len() <= 30 {
                    (n + 1, b - 1)
                } else {
                    (n, b)
                }
            }
        }
    }

    /// First and last usable address (inclusive).
    pub fn first_last(&self) -> (Ipv4Addr, Ipv4Addr) {
        let (f, l) = self.bounds();
        (Ipv4Addr::from(f), Ipv4Addr::from(l))
    }

    /// Number of usable addresses.
    pub fn capacity(&self) -> u64 {
        let (f, l) = self.bounds();
        if l < f {
            return 0;
        }
        u64::from(l) - u64::from(f) + 1
    }

    /// Whether `ip` is one of the pool's usable addresses.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let (f, l) = self.bounds();
        (f..=l).contains(&u32::from(ip))
    }
}

impl FromStr for Ipv4PoolSpec {
    type Err = PoolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| PoolError::Invalid {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let t = s.trim();
        let spec = if let Some((a, b)) = t.split_once('-') {
            let first: Ipv4Addr = a
                .trim()
                .parse()
                .map_err(|_| invalid("first address is not IPv4"))?;
            let last: Ipv4Addr = b
                .trim()
                .parse()
                .map_err(|_| invalid("last address is not IPv4"))?;
            if first > last {
                return Err(invalid("first address is after the last"));
            }
            Ipv4PoolSpec::Range { first, last }
        } else if t.contains('/') {
            let c: Ipv4Cidr = t
                .parse()
                .map_err(|e: crate::addr::PrefixError| invalid(e.reason))?;
            Ipv4PoolSpec::Cidr(c)
        } else {
            return Err(invalid("expected FIRST-LAST or NETWORK/LEN"));
        };
        if spec.capacity() > u64::from(MAX_IPV4_POOL) {
            return Err(invalid("larger than a /8"));
        }
        Ok(spec)
    }
}

impl fmt::Display for Ipv4PoolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4PoolSpec::Range { first, last } => write!(f, "{first}-{last}"),
            Ipv4PoolSpec::Cidr(c) => c.fmt(f),
        }
    }
}

impl TryFrom<String> for Ipv4PoolSpec {
    type Error = PoolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4PoolSpec> for String {
    fn from(p: Ipv4PoolSpec) -> String {
        p.to_string()
    }
}

/// A fixed-size bitset.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u32) -> Self {
        Bits(vec![0; (n as usize).div_ceil(64)])
    }
    fn get(&self, i: u32) -> bool {
        self.0[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: u32, v: bool) {
        let w = &mut self.0[(i / 64) as usize];
        if v {
            *w |= 1 << (i % 64);
        } else {
            *w &= !(1 << (i % 64));
        }
    }
}

/// An IPv4 address allocator (see the module documentation).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ipv4Pool {
    spec: Ipv4PoolSpec,
    base: u32,
    size: u32,
    /// Allocated or reserved offsets.
    used: Bits,
    /// Offsets currently in `recycled` (so an offset is queued at most once).
    queued: Bits,
    /// Freed offsets, oldest first. May hold offsets reserved since they were queued
    /// (skipped lazily when popped).
    recycled: VecDeque<u32>,
    /// Offsets at or above this one have never been handed out.
    next_fresh: u32,
    in_use: u32,
    /// Reserved addresses outside the range.
    external: HashSet<Ipv4Addr>,
}

impl Ipv4Pool {
    /// An empty pool over `spec`.
    pub fn new(spec: Ipv4PoolSpec) -> Self {
        let (first, last) = spec.bounds();
        // Capacity is bounded by MAX_IPV4_POOL when parsed; clamp for hand-built specs (and
        // an inverted hand-built range is simply empty).
        let size = if last < first {
            0
        } else {
            (last - first).saturating_add(1).min(MAX_IPV4_POOL)
        };
        Ipv4Pool {
            spec,
            base: first,
            size,
            used: Bits::new(size),
            queued: Bits::new(size),
            recycled: VecDeque::new(),
            next_fresh: 0,
            in_use: 0,
            external: HashSet::new(),
        }
    }

    /// The pool definition.
    pub fn spec(&self) -> Ipv4PoolSpec {
        self.spec
    }

    /// Number of addresses the pool can hand out.
    pub fn capacity(&self) -> u32 {
        self.size
    }

    /// Addresses of the range currently allocated or reserved.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Addresses still available.
    pub fn available(&self) -> u32 {
        self.size - self.in_use
    }

    /// Whether `ip` is in the pool's range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some()
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u32::from(ip);
        (v >= self.base && v - self.base < self.size).then(|| v - self.base)
    }

    fn addr(&self, off: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base + off)
    }

    /// Hands out a free address: never-used addresses first, then the longest-free one.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, PoolError> {
        while self.next_fresh < self.size {
            let off = self.next_fresh;
            self.next_fresh += 1;
            if !self.used.get(off) {
                self.used.set(off, true);
                self.in_use += 1;
                return Ok(self.addr(off));
            }
        }
        while let Some(off) = self.recycled.pop_front() {
            self.queued.set(off, false);
            if !self.used.get(off) {
                self.used.set(off, true);
                self.in_use += 1;
                return Ok(self.addr(off));
            }
        }
        Err(PoolError::Exhausted {
            capacity: u64::from(self.size),
        })
    }

    /// Takes a specific address (a user's fixed address, the server's own address). Addresses
    /// outside the range are tracked too, so they cannot be reserved twice.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), PoolError> {
        match self.offset(ip) {
            Some(off) => {
                if self.used.get(off) {
                    return Err(PoolError::InUse(ip.into()));
                }
                self.used.set(off, true);
                self.in_use += 1;
                Ok(())
            }
            None => {
                if !self.external.insert(ip) {
                    return Err(PoolError::InUse(ip.into()));
                }
                Ok(())
            }
        }
    }

    /// Returns an allocated or reserved address.
    pub fn free(&mut self, ip: Ipv4Addr) -> Result<(), PoolError> {
        match self.offset(ip) {
            Some(off) => {
                if !self.used.get(off) {
                    return Err(PoolError::NotAllocated(ip.into()));
                }
                self.used.set(off, false);
                self.in_use -= 1;
                // Offsets at or above next_fresh are found by the fresh scan; others queue.
                if off < self.next_fresh && !self.queued.get(off) {
                    self.queued.set(off, true);
                    self.recycled.push_back(off);
                }
                Ok(())
            }
            None => {
                if self.external.remove(&ip) {
                    Ok(())
                } else {
                    Err(PoolError::NotAllocated(ip.into()))
                }
            }
        }
    }

    /// Whether `ip` is currently allocated or reserved.
    pub fn is_used(&self, ip: Ipv4Addr) -> bool {
        match self.offset(ip) {
            Some(off) => self.used.get(off),
            None => self.external.contains(&ip),
        }
    }
}

/// What [`Ipv6Pool`] hands a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ipv6Lease {
    /// Interface identifier to offer the peer in IPv6CP (RFC 5072 §4.1), never 0.
    pub interface_id: u64,
    /// The peer's global address (`/64 prefix` + `interface_id`).
    pub address: Ipv6Addr,
    /// The /64 routed to the session, in per-session-/64 mode.
    pub delegated: Option<Ipv6Cidr>,
}

/// Interface identifier of the server's own end in both modes.
pub const SERVER_INTERFACE_ID: u64 = 1;

/// Allocator of IPv6 interface identifiers and prefixes (see the module documentation).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ipv6Pool {
    prefix: Ipv6Cidr,
    /// Next never-used index (IID in /64 mode, /64 number otherwise).
    next: u64,
    /// Largest index, inclusive.
    max: u64,
    recycled: VecDeque<u64>,
    used: HashSet<u64>,
}

impl Ipv6Pool {
    /// A pool over `prefix`, which must be /64 or shorter.
    pub fn new(prefix: Ipv6Cidr) -> Result<Self, PoolError> {
        if prefix.len() > 64 {
            return Err(PoolError::Invalid {
                input: prefix.to_string(),
                reason: "IPv6CP needs a /64 or a shorter prefix".into(),
            });
        }
        let max = if prefix.len() == 64 {
            // IIDs 2..=u64::MAX-1 (all-ones avoided as a sentinel-like value).
            u64::MAX - 1
        } else {
            // /64 number 1 ..= 2^(64-len) - 1.
            let bits = 64 - u32::from(prefix.len());
            if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            }
        };
        let first = if prefix.len() == 64 { 2 } else { 1 };
        Ok(Ipv6Pool {
            prefix,
            next: first,
            max,
            recycled: VecDeque::new(),
            used: HashSet::new(),
        })
    }

    /// The prefix the pool hands out of.
    pub fn prefix(&self) -> Ipv6Cidr {
        self.prefix
    }

    /// Whether each session gets its own /64.
    pub fn per_session_prefix(&self) -> bool {
        self.prefix.len() < 64
    }

    /// The server's own address: IID 1 in the first /64.
    pub fn server_address(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.prefix.network()) | u128::from(SERVER_INTERFACE_ID))
    }

    fn lease(&self, index: u64) -> Ipv6Lease {
        let net = u128::from(self.prefix.network());
        if self.per_session_prefix() {
            let p64 = net | (u128::from(index) << 64);
            let iid = 2;
            Ipv6Lease {
                interface_id: iid,
                address: Ipv6Addr::from(p64 | u128::from(iid)),
                delegated: Ipv6Cidr::new(Ipv6Addr::from(p64), 64),
            }
        } else {
            Ipv6Lease {
                interface_id: index,
                address: Ipv6Addr::from(net | u128::from(index)),
                delegated: None,
            }
        }
    }

    fn index_of(&self, lease: &Ipv6Lease) -> u64 {
        if self.per_session_prefix() {
            // The /64 number: the bits of the upper half below the prefix length.
            ((u128::from(lease.address) >> 64) as u64) & (u64::MAX >> self.prefix.len())
        } else {
            lease.interface_id
        }
    }

    /// Hands out a lease.
    pub fn allocate(&mut self) -> Result<Ipv6Lease, PoolError> {
        let index = if self.next <= self.max {
            self.next += 1;
            self.next - 1
        } else if let Some(i) = self.recycled.pop_front() {
            i
        } else {
            let first = if self.per_session_prefix() { 1 } else { 2 };
            return Err(PoolError::Exhausted {
                capacity: self.max - first + 1,
            });
        };
        self.used.insert(index);
        Ok(self.lease(index))
    }

    /// Returns a lease.
    pub fn free(&mut self, lease: &Ipv6Lease) -> Result<(), PoolError> {
        let index = self.index_of(lease);
        if !self.used.remove(&index) {
            return Err(PoolError::NotAllocated(lease.address.into()));
        }
        self.recycled.push_back(index);
        Ok(())
    }

    /// Marks a lease handed out before (a journal replay): the pool will not hand it out
    /// again until it is freed. Indices skipped on the way are kept for later.
    pub fn reserve(&mut self, lease: &Ipv6Lease) -> Result<(), PoolError> {
        let index = self.index_of(lease);
        let first = if self.per_session_prefix() { 1 } else { 2 };
        if index < first || index > self.max || self.lease(index) != *lease {
            return Err(PoolError::Invalid {
                input: lease.address.to_string(),
                reason: "not a lease of this pool".into(),
            });
        }
        if !self.used.insert(index) {
            return Err(PoolError::Invalid {
                input: lease.address.to_string(),
                reason: "already leased".into(),
            });
        }
        if index >= self.next {
            // Allocation is sequential, so a replayed lease lies just past `next`.
            self.recycled.extend(self.next..index);
            self.next = index + 1;
        } else {
            self.recycled.retain(|&i| i != index);
        }
        Ok(())
    }

    /// Leases currently handed out.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pool(s: &str) -> Ipv4Pool {
        Ipv4Pool::new(s.parse().unwrap())
    }

    #[test]
    fn a_reserved_ipv6_lease_is_never_handed_out_again() {
        for prefix in ["2001:db8:1::/64", "2001:db8:100::/56"] {
            let mut original = Ipv6Pool::new(prefix.parse().unwrap()).unwrap();
            let leases: Vec<_> = (0..4).map(|_| original.allocate().unwrap()).collect();
            original.free(&leases[1]).unwrap();
            // A fresh pool told of leases 0, 2 and 3 (a replay) hands out none of them.
            let mut replayed = Ipv6Pool::new(prefix.parse().unwrap()).unwrap();
            for l in [&leases[3], &leases[0], &leases[2]] {
                replayed.reserve(l).unwrap();
            }
            assert!(
                replayed.reserve(&leases[0]).is_err(),
                "{prefix}: leased twice"
            );
            let next: Vec<_> = (0..3).map(|_| replayed.allocate().unwrap()).collect();
            for l in &next {
                assert!(
                    ![leases[0], leases[2], leases[3]].contains(l),
                    "{prefix}: {l:?} handed out twice"
                );
            }
            assert!(
                replayed.free(&leases[1]).is_err(),
                "{prefix}: a lease never replayed is not held"
            );
            assert_eq!(replayed.in_use(), 6);
        }
    }

    #[test]
    fn range_hands_out_every_address_once_then_exhausts() {
        let mut p = pool("203.0.113.10-203.0.113.12");
        let got: Vec<_> = (0..3).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(
            got,
            ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
                .map(|s| s.parse::<Ipv4Addr>().unwrap())
        );
        assert_eq!(p.allocate(), Err(PoolError::Exhausted { capacity: 3 }));
        p.free(got[1]).unwrap();
        assert_eq!(p.allocate().unwrap(), got[1]);
    }

    #[test]
    fn cidr_never_hands_out_network_or_broadcast() {
        let mut p = pool("192.0.2.0/29");
        assert_eq!(p.capacity(), 6);
        let mut all = Vec::new();
        while let Ok(a) = p.allocate() {
            all.push(a);
        }
        assert_eq!(all.len(), 6);
        assert!(!all.contains(&"192.0.2.0".parse().unwrap()));
        assert!(!all.contains(&"192.0.2.7".parse().unwrap()));
        assert_eq!(pool("192.0.2.0/31").capacity(), 2, "RFC 3021");
        assert_eq!(pool("192.0.2.9/32").capacity(), 1);
    }

    #[test]
    fn freed_addresses_are_reused_oldest_first() {
        let mut p = pool("10.0.0.1-10.0.0.4");
        let a: Vec<_> = (0..4).map(|_| p.allocate().unwrap()).collect();
        p.free(a[2]).unwrap();
        p.free(a[0]).unwrap();
        assert_eq!(p.allocate().unwrap(), a[2]);
        assert_eq!(p.allocate().unwrap(), a[0]);
    }

    #[test]
    fn reserve_fixed_addresses_inside_and_outside_the_range() {
        let mut p = pool("10.0.0.1-10.0.0.3");
        p.reserve("10.0.0.2".parse().unwrap()).unwrap();
        assert_eq!(
            p.reserve("10.0.0.2".parse().unwrap()),
            Err(PoolError::InUse("10.0.0.2".parse().unwrap()))
        );
        let outside: Ipv4Addr = "198.51.100.1".parse().unwrap();
        p.reserve(outside).unwrap();
        assert!(p.reserve(outside).is_err());
        assert_eq!(
            p.allocate().unwrap(),
            "10.0.0.1".parse::<Ipv4Addr>().unwrap()
        );
        assert_eq!(
            p.allocate().unwrap(),
            "10.0.0.3".parse::<Ipv4Addr>().unwrap()
        );
        assert!(p.allocate().is_err());
        p.free(outside).unwrap();
        assert!(p.free(outside).is_err());
        assert!(p.free("10.0.0.9".parse().unwrap()).is_err());
    }

    #[test]
    fn pool_of_100k_addresses_allocates_and_recycles_quickly() {
        // 10.0.0.0/15 has 131,070 usable addresses.
        let mut p = pool("10.0.0.0/15");
        assert_eq!(p.capacity(), 131_070);
        let mut addrs = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            addrs.push(p.allocate().unwrap());
        }
        for a in addrs.iter().step_by(2) {
            p.free(*a).unwrap();
        }
        assert_eq!(p.in_use(), 50_000);
        for _ in 0..81_070 {
            p.allocate().unwrap();
        }
        assert!(p.allocate().is_err());
    }

    #[test]
    fn hand_built_odd_specs_do_not_panic() {
        let inverted = Ipv4PoolSpec::Range {
            first: Ipv4Addr::new(10, 0, 0, 9),
            last: Ipv4Addr::new(10, 0, 0, 1),
        };
        assert_eq!(inverted.capacity(), 0);
        let mut p = Ipv4Pool::new(inverted);
        assert_eq!(p.allocate(), Err(PoolError::Exhausted { capacity: 0 }));
        assert!(p.free(Ipv4Addr::new(10, 0, 0, 5)).is_err());
        let huge = Ipv4Pool::new(Ipv4PoolSpec::Cidr("0.0.0.0/0".parse().unwrap()));
        assert_eq!(huge.capacity(), MAX_IPV4_POOL, "clamped to a /8");
    }

    #[test]
    fn parse_errors_are_typed() {
        assert!("10.0.0.5-10.0.0.1".parse::<Ipv4PoolSpec>().is_err());
        assert!(
            "10.0.0.0/4".parse::<Ipv4PoolSpec>().is_err(),
            "larger than a /8"
        );
        assert!("10.0.0.1".parse::<Ipv4PoolSpec>().is_err());
        assert!("10.0.0.x-10.0.0.2".parse::<Ipv4PoolSpec>().is_err());
        let s: Ipv4PoolSpec = " 10.0.0.1 - 10.0.0.9 ".parse().unwrap();
        assert_eq!(s.to_string(), "10.0.0.1-10.0.0.9");
    }

    #[test]
    fn ipv6_iids_in_one_slash64() {
        let mut p = Ipv6Pool::new("2001:db8:1:2::/64".parse().unwrap()).unwrap();
        assert_eq!(
            p.server_address(),
            "2001:db8:1:2::1".parse::<Ipv6Addr>().unwrap()
        );
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        assert_eq!(a.interface_id, 2);
        assert_eq!(a.address, "2001:db8:1:2::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(b.interface_id, 3);
        assert_eq!(a.delegated, None);
        p.free(&a).unwrap();
        assert!(p.free(&a).is_err());
        assert_eq!(p.in_use(), 1);
    }

    #[test]
    fn ipv6_per_session_slash64_and_exhaustion() {
        let mut p = Ipv6Pool::new("2001:db8:ff00::/62".parse().unwrap()).unwrap();
        let leases: Vec<_> = (0..3).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(
            leases[0].delegated.unwrap().to_string(),
            "2001:db8:ff00:1::/64"
        );
        assert_eq!(
            leases[0].address,
            "2001:db8:ff00:1::2".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            leases[2].delegated.unwrap().to_string(),
            "2001:db8:ff00:3::/64"
        );
        assert_eq!(p.allocate(), Err(PoolError::Exhausted { capacity: 3 }));
        p.free(&leases[1]).unwrap();
        assert_eq!(p.allocate().unwrap(), leases[1]);
        assert!(Ipv6Pool::new("2001:db8::/96".parse().unwrap()).is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Alloc,
        Free(usize),
        Reserve(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Alloc),
            2 => any::<usize>().prop_map(Op::Free),
            1 => any::<u8>().prop_map(Op::Reserve),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn ipv4_pool_never_double_allocates(ops in proptest::collection::vec(op(), 1..300)) {
            // 10.9.0.0/26: 62 usable addresses, plus reservations that fall outside.
            let mut p = pool("10.9.0.0/26");
            let mut held: Vec<Ipv4Addr> = Vec::new();
            let mut model: HashSet<Ipv4Addr> = HashSet::new();
            for op in ops {
                match op {
                    Op::Alloc => match p.allocate() {
                        Ok(a) => {
                            prop_assert!(model.insert(a), "{a} handed out twice");
                            prop_assert!(p.spec().contains(a));
                            held.push(a);
                        }
                        Err(PoolError::Exhausted { .. }) => {
                            prop_assert_eq!(model.iter().filter(|a| p.spec().contains(**a)).count(), 62);
                        }
                        Err(e) => prop_assert!(false, "{e}"),
                    },
                    Op::Free(i) if !held.is_empty() => {
                        let a = held.swap_remove(i % held.len());
                        prop_assert!(model.remove(&a));
                        p.free(a).unwrap();
                        prop_assert!(p.free(a).is_err());
                    }
                    Op::Free(_) => {}
                    Op::Reserve(b) => {
                        // Offsets 0..=79 from the network: inside and just outside the range.
                        let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 9, 0, 0)) + u32::from(b % 80));
                        let r = p.reserve(a);
                        prop_assert_eq!(r.is_ok(), !model.contains(&a));
                        if r.is_ok() {
                            model.insert(a);
                            held.push(a);
                        }
                    }
                }
                let inside = model.iter().filter(|a| p.spec().contains(**a)).count();
                prop_assert_eq!(p.in_use() as usize, inside);
            }
        }
    }
}
