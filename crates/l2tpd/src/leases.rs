//! Who holds which IPv4 address on an LNS: one address belongs to one session at a time.
//!
//! [`Ipv4Leases`] wraps the dynamic [`Ipv4Pool`] and the addresses that are not the pool's
//! to hand out: the server's own address and users' fixed addresses. Those are set aside
//! in the pool when they fall inside its range, so a dynamic allocation never returns one,
//! and a fixed address is leased to at most one session: a second session of a user with a
//! fixed address is refused ([`LeaseError::FixedInUse`]) instead of getting a duplicate.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use thiserror::Error;

use crate::pool::{Ipv4Pool, PoolError};

/// Why a session got no address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeaseError {
    /// The dynamic pool has no free address.
    #[error("{0}")]
    Pool(#[from] PoolError),
    /// The user's fixed address is held by another session.
    #[error("fixed address {0} is already in use by another session")]
    FixedInUse(Ipv4Addr),
    /// The user's fixed address is the server's own address or a dynamic lease of another
    /// session (a users file reloaded with a new fixed address inside the pool).
    #[error("fixed address {0} is not available (server address or leased from the pool)")]
    FixedUnavailable(Ipv4Addr),
}

/// IPv4 leases of an LNS (see the module documentation).
#[derive(Debug, Clone)]
pub struct Ipv4Leases {
    pool: Ipv4Pool,
    /// The server's own address: never leased.
    local: Ipv4Addr,
    /// Users' fixed addresses, set aside in the pool when inside its range.
    fixed: HashSet<Ipv4Addr>,
    /// Fixed addresses currently leased to a session.
    fixed_leased: HashSet<Ipv4Addr>,
}

impl Ipv4Leases {
    /// Leases over `pool`, with the server's address and every fixed address set aside.
    pub fn new(pool: Ipv4Pool, local: Ipv4Addr, fixed: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        let mut leases = Ipv4Leases {
            pool,
            local,
            fixed: HashSet::new(),
            fixed_leased: HashSet::new(),
        };
        if leases.pool.contains(local) {
            let _ = leases.pool.reserve(local);
        }
        leases.set_fixed(fixed);
        leases
    }

    /// Replaces the set of fixed addresses (the users were reloaded). Sessions holding an
    /// address keep it; an address no longer fixed returns to the pool once free. Returns the
    /// new fixed addresses that could not be set aside because a session holds them as a
    /// dynamic lease (they become available when that session ends).
    pub fn set_fixed(&mut self, fixed: impl IntoIterator<Item = Ipv4Addr>) -> Vec<Ipv4Addr> {
        let new: HashSet<Ipv4Addr> = fixed.into_iter().filter(|a| *a != self.local).collect();
        for gone in self.fixed.difference(&new).copied().collect::<Vec<_>>() {
            self.fixed.remove(&gone);
            if !self.fixed_leased.contains(&gone) && self.pool.contains(gone) {
                let _ = self.pool.free(gone);
            }
        }
        let mut busy = Vec::new();
        for a in new {
            if self.fixed.contains(&a) {
                continue;
            }
            if self.pool.contains(a) && self.pool.reserve(a).is_err() {
                busy.push(a);
                continue;
            }
            self.fixed.insert(a);
        }
        busy.sort();
        busy
    }

    /// Leases an address to a new session: the user's fixed address when it has one (held by
    /// one session at a time), otherwise one from the pool.
    pub fn lease(&mut self, fixed: Option<Ipv4Addr>) -> Result<Ipv4Addr, LeaseError> {
        let Some(a) = fixed else {
            return Ok(self.pool.allocate()?);
        };
        if a == self.local {
            return Err(LeaseError::FixedUnavailable(a));
        }
        if !self.fixed.contains(&a) {
            // Not set aside (yet): take it from the pool now if it is free there.
            if self.pool.contains(a) && self.pool.reserve(a).is_err() {
                return Err(LeaseError::FixedUnavailable(a));
            }
            self.fixed.insert(a);
        }
        if !self.fixed_leased.insert(a) {
            return Err(LeaseError::FixedInUse(a));
        }
        Ok(a)
    }

    /// Moves onto a larger pool `spec` that includes the whole current range (a reload):
    /// every address held now stays held. False, and nothing changed, when `spec` does not
    /// include the current range.
    pub fn grow(&mut self, spec: crate::pool::Ipv4PoolSpec) -> bool {
        let (first, last) = self.pool.spec().first_last();
        if self.pool.capacity() > 0 && !(spec.contains(first) && spec.contains(last)) {
            return false;
        }
        let mut pool = Ipv4Pool::new(spec);
        for off in 0..self.pool.capacity() {
            let a = std::net::Ipv4Addr::from(u32::from(first) + off);
            if self.pool.is_used(a) {
                let _ = pool.reserve(a);
            }
        }
        for a in self.fixed.iter().chain(std::iter::once(&self.local)) {
            if pool.contains(*a) && !pool.is_used(*a) {
                let _ = pool.reserve(*a);
            }
        }
        self.pool = pool;
        true
    }

    /// The pool definition.
    pub fn spec(&self) -> crate::pool::Ipv4PoolSpec {
        self.pool.spec()
    }

    /// Gives back a session's address.
    pub fn release(&mut self, a: Ipv4Addr) {
        if self.fixed_leased.remove(&a) {
            return; // stays set aside for its user
        }
        if self.fixed.contains(&a) || a == self.local {
            return;
        }
        let _ = self.pool.free(a);
    }

    /// Addresses the pool can hand out dynamically (its range less what is set aside).
    pub fn capacity(&self) -> u32 {
        self.pool.capacity() - self.set_aside_in_range()
    }

    /// Addresses of the pool's range held by sessions (dynamic and fixed leases).
    pub fn in_use(&self) -> u32 {
        let idle_set_aside = self.set_aside_in_range()
            - self
                .fixed_leased
                .iter()
                .filter(|a| self.pool.contains(**a))
                .count() as u32;
        self.pool.in_use() - idle_set_aside
    }

    /// Whether `a` is leased to a session now.
    pub fn is_leased(&self, a: Ipv4Addr) -> bool {
        self.fixed_leased.contains(&a)
            || (!self.fixed.contains(&a) && a != self.local && self.pool.is_used(a))
    }

    fn set_aside_in_range(&self) -> u32 {
        let fixed = self
            .fixed
            .iter()
            .filter(|a| self.pool.contains(**a))
            .count() as u32;
        fixed + u32::from(self.pool.contains(self.local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn leases(range: &str, local: &str, fixed: &[&str]) -> Ipv4Leases {
        Ipv4Leases::new(
            Ipv4Pool::new(range.parse().unwrap()),
            ip(local),
            fixed.iter().map(|a| ip(a)),
        )
    }

    #[test]
    fn a_fixed_address_inside_the_pool_is_never_handed_out_dynamically() {
        // The case seen in review: pool .50-.52, alice fixed at .50; two sessions of alice
        // and one of bob all got .50.
        let mut l = leases(
            "203.0.113.50-203.0.113.52",
            "198.51.100.1",
            &["203.0.113.50"],
        );
        assert_eq!(l.capacity(), 2);
        assert_eq!(l.lease(Some(ip("203.0.113.50"))), Ok(ip("203.0.113.50")));
        assert_eq!(
            l.lease(Some(ip("203.0.113.50"))),
            Err(LeaseError::FixedInUse(ip("203.0.113.50")))
        );
        let bob = l.lease(None).unwrap();
        let carol = l.lease(None).unwrap();
        assert_ne!(bob, ip("203.0.113.50"));
        assert_ne!(carol, ip("203.0.113.50"));
        assert_ne!(bob, carol);
        assert!(matches!(l.lease(None), Err(LeaseError::Pool(_))));
        assert_eq!(l.in_use(), 3);
        // alice hangs up: her address waits for her, not for anyone else.
        l.release(ip("203.0.113.50"));
        assert_eq!(l.in_use(), 2);
        assert!(matches!(l.lease(None), Err(LeaseError::Pool(_))));
        assert_eq!(l.lease(Some(ip("203.0.113.50"))), Ok(ip("203.0.113.50")));
    }

    #[test]
    fn the_server_address_inside_the_pool_is_never_leased() {
        let mut l = leases("203.0.113.1-203.0.113.3", "203.0.113.1", &[]);
        assert_eq!(l.capacity(), 2);
        let got = [l.lease(None).unwrap(), l.lease(None).unwrap()];
        assert!(!got.contains(&ip("203.0.113.1")));
        assert!(l.lease(None).is_err());
        assert_eq!(
            l.lease(Some(ip("203.0.113.1"))),
            Err(LeaseError::FixedUnavailable(ip("203.0.113.1")))
        );
        l.release(ip("203.0.113.1")); // a stray release frees nothing
        assert!(l.lease(None).is_err());
    }

    #[test]
    fn fixed_addresses_outside_the_pool_are_one_session_each() {
        let mut l = leases("203.0.113.10-203.0.113.20", "198.51.100.1", &["192.0.2.9"]);
        assert_eq!(l.lease(Some(ip("192.0.2.9"))), Ok(ip("192.0.2.9")));
        assert!(l.is_leased(ip("192.0.2.9")));
        assert_eq!(
            l.lease(Some(ip("192.0.2.9"))),
            Err(LeaseError::FixedInUse(ip("192.0.2.9")))
        );
        assert_eq!(l.in_use(), 0, "outside the range: not counted in the pool");
        l.release(ip("192.0.2.9"));
        assert!(!l.is_leased(ip("192.0.2.9")));
    }

    #[test]
    fn reloaded_users_move_fixed_addresses_without_touching_sessions() {
        let mut l = leases(
            "203.0.113.10-203.0.113.12",
            "198.51.100.1",
            &["203.0.113.10"],
        );
        let dynamic = l.lease(None).unwrap();
        assert_ne!(dynamic, ip("203.0.113.10"));
        // The reload fixes the address a session holds dynamically, and frees .10.
        assert_eq!(l.set_fixed([dynamic]), vec![dynamic]);
        assert_eq!(
            l.lease(Some(dynamic)),
            Err(LeaseError::FixedUnavailable(dynamic))
        );
        l.release(dynamic);
        assert_eq!(l.lease(Some(dynamic)), Ok(dynamic));
        // .10 went back to the pool.
        let next = l.lease(None).unwrap();
        let last = l.lease(None).unwrap();
        assert!([next, last].contains(&ip("203.0.113.10")));
        assert!(l.lease(None).is_err());
    }
}
