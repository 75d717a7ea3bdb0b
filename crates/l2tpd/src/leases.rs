//! Who holds which IPv4 address on an LNS: one address belongs to one session at a time.
//!
//! [`Ipv4Leases`] wraps the dynamic [`Ipv4Pool`], the named pools a RADIUS server picks with
//! Framed-Pool, and the addresses that are not the pools' to hand out: the server's own
//! address, users' fixed addresses and addresses a RADIUS server grants (Framed-IP-Address).
//! Those are set aside in a pool when they fall inside its range, so a dynamic allocation
//! never returns one, and each is leased to at most one session: a second session given an
//! address already held is refused ([`LeaseError::FixedInUse`]) instead of getting a
//! duplicate. A granted address returns to its pool when its session ends; a user's fixed
//! address stays set aside for that user.

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
    /// No pool of that name is configured (a Framed-Pool the LNS does not know).
    #[error("no address pool named {0:?}")]
    UnknownPool(String),
}

/// IPv4 leases of an LNS (see the module documentation).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ipv4Leases {
    pool: Ipv4Pool,
    /// Named pools (`[[lns.pools]]`), for Framed-Pool.
    named: Vec<(String, Ipv4Pool)>,
    /// The server's own address: never leased.
    local: Ipv4Addr,
    /// Users' fixed addresses, set aside in the pool when inside its range.
    fixed: HashSet<Ipv4Addr>,
    /// Fixed addresses currently leased to a session.
    fixed_leased: HashSet<Ipv4Addr>,
    /// Addresses granted by a RADIUS server to a session now (taken from their pool while
    /// held, when inside one).
    granted: HashSet<Ipv4Addr>,
}

impl Ipv4Leases {
    /// Leases over `pool`, with the server's address and every fixed address set aside.
    pub fn new(pool: Ipv4Pool, local: Ipv4Addr, fixed: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        Self::with_named(pool, Vec::new(), local, fixed)
    }

    /// The same with named pools (their ranges do not overlap each other or `pool`).
    pub fn with_named(
        pool: Ipv4Pool,
        named: Vec<(String, Ipv4Pool)>,
        local: Ipv4Addr,
        fixed: impl IntoIterator<Item = Ipv4Addr>,
    ) -> Self {
        let mut leases = Ipv4Leases {
            pool,
            named,
            local,
            fixed: HashSet::new(),
            fixed_leased: HashSet::new(),
            granted: HashSet::new(),
        };
        if let Some(p) = leases.pool_of(local) {
            let _ = p.reserve(local);
        }
        leases.set_fixed(fixed);
        leases
    }

    /// The pool (main or named) whose range holds `a`.
    fn pool_of(&mut self, a: Ipv4Addr) -> Option<&mut Ipv4Pool> {
        if self.pool.contains(a) {
            return Some(&mut self.pool);
        }
        self.named
            .iter_mut()
            .map(|(_, p)| p)
            .find(|p| p.contains(a))
    }

    fn in_a_pool(&self, a: Ipv4Addr) -> bool {
        self.pool.contains(a) || self.named.iter().any(|(_, p)| p.contains(a))
    }

    /// Replaces the set of fixed addresses (the users were reloaded). Sessions holding an
    /// address keep it; an address no longer fixed returns to the pool once free. Returns the
    /// new fixed addresses that could not be set aside because a session holds them as a
    /// dynamic lease (they become available when that session ends).
    pub fn set_fixed(&mut self, fixed: impl IntoIterator<Item = Ipv4Addr>) -> Vec<Ipv4Addr> {
        let new: HashSet<Ipv4Addr> = fixed.into_iter().filter(|a| *a != self.local).collect();
        for gone in self.fixed.difference(&new).copied().collect::<Vec<_>>() {
            self.fixed.remove(&gone);
            if !self.fixed_leased.contains(&gone) && !self.granted.contains(&gone) {
                if let Some(p) = self.pool_of(gone) {
                    let _ = p.free(gone);
                }
            }
        }
        let mut busy = Vec::new();
        for a in new {
            if self.fixed.contains(&a) {
                continue;
            }
            if self.pool_of(a).is_some_and(|p| p.reserve(a).is_err()) {
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
        if self.granted.contains(&a) {
            return Err(LeaseError::FixedInUse(a));
        }
        if !self.fixed.contains(&a) {
            // Not set aside (yet): take it from the pool now if it is free there.
            if self.pool_of(a).is_some_and(|p| p.reserve(a).is_err()) {
                return Err(LeaseError::FixedUnavailable(a));
            }
            self.fixed.insert(a);
        }
        if !self.fixed_leased.insert(a) {
            return Err(LeaseError::FixedInUse(a));
        }
        Ok(a)
    }

    /// Leases an address a RADIUS server granted (Framed-IP-Address) to a new session: held
    /// by that session alone, taken from its pool while held (when inside one), given back
    /// when the session ends.
    pub fn lease_granted(&mut self, a: Ipv4Addr) -> Result<Ipv4Addr, LeaseError> {
        if self.fixed.contains(&a) {
            // A users-file fixed address: one session at a time, like its user's.
            return self.lease(Some(a));
        }
        if a == self.local {
            return Err(LeaseError::FixedUnavailable(a));
        }
        if self.granted.contains(&a) {
            return Err(LeaseError::FixedInUse(a));
        }
        if self.pool_of(a).is_some_and(|p| p.reserve(a).is_err()) {
            // Leased dynamically to another session.
            return Err(LeaseError::FixedInUse(a));
        }
        self.granted.insert(a);
        Ok(a)
    }

    /// Leases an address from the pool named `name` (Framed-Pool).
    pub fn lease_named(&mut self, name: &str) -> Result<Ipv4Addr, LeaseError> {
        let Some((_, p)) = self.named.iter_mut().find(|(n, _)| n == name) else {
            return Err(LeaseError::UnknownPool(name.to_string()));
        };
        Ok(p.allocate()?)
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
        for a in self
            .fixed
            .iter()
            .chain(&self.granted)
            .chain(std::iter::once(&self.local))
        {
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

    /// Marks `a` leased again to a session restored from a crash journal (a fixed address
    /// to its user, any other taken from its pool); nothing if it is taken already.
    pub fn relet(&mut self, a: Ipv4Addr) {
        if self.fixed.contains(&a) {
            self.fixed_leased.insert(a);
        } else if let Some(p) = self.pool_of(a) {
            if p.reserve(a).is_err() {
                tracing::warn!(address = %a, "restored lease already taken in its pool");
            }
        } else if a != self.local {
            self.granted.insert(a);
        }
    }

    /// Gives back a session's address.
    pub fn release(&mut self, a: Ipv4Addr) {
        if self.fixed_leased.remove(&a) {
            return; // stays set aside for its user
        }
        if self.fixed.contains(&a) || a == self.local {
            return;
        }
        self.granted.remove(&a);
        if let Some(p) = self.pool_of(a) {
            let _ = p.free(a);
        }
    }

    /// Addresses the pools can hand out dynamically (their ranges less what is set aside).
    pub fn capacity(&self) -> u32 {
        self.pools().map(Ipv4Pool::capacity).sum::<u32>() - self.set_aside_in_range()
    }

    /// Addresses of the pools' ranges held by sessions (dynamic, granted and fixed leases).
    pub fn in_use(&self) -> u32 {
        let idle_set_aside = self.set_aside_in_range()
            - self
                .fixed_leased
                .iter()
                .filter(|a| self.in_a_pool(**a))
                .count() as u32;
        self.pools().map(Ipv4Pool::in_use).sum::<u32>() - idle_set_aside
    }

    /// Whether `a` is leased to a session now.
    pub fn is_leased(&self, a: Ipv4Addr) -> bool {
        self.fixed_leased.contains(&a)
            || self.granted.contains(&a)
            || (!self.fixed.contains(&a)
                && a != self.local
                && self.pools().any(|p| p.contains(a) && p.is_used(a)))
    }

    fn pools(&self) -> impl Iterator<Item = &Ipv4Pool> {
        std::iter::once(&self.pool).chain(self.named.iter().map(|(_, p)| p))
    }

    fn set_aside_in_range(&self) -> u32 {
        let fixed = self.fixed.iter().filter(|a| self.in_a_pool(**a)).count() as u32;
        fixed + u32::from(self.in_a_pool(self.local))
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

    #[test]
    fn a_granted_address_is_one_sessions_and_goes_back_to_its_pool() {
        let mut l = leases("203.0.113.10-203.0.113.11", "198.51.100.1", &[]);
        // Inside the pool: taken from it while held, refused to a second session.
        assert_eq!(l.lease_granted(ip("203.0.113.10")), Ok(ip("203.0.113.10")));
        assert_eq!(
            l.lease_granted(ip("203.0.113.10")),
            Err(LeaseError::FixedInUse(ip("203.0.113.10")))
        );
        assert_eq!(l.lease(None), Ok(ip("203.0.113.11")));
        assert!(l.lease(None).is_err());
        // A dynamic lease is not granted to anyone else either.
        assert_eq!(
            l.lease_granted(ip("203.0.113.11")),
            Err(LeaseError::FixedInUse(ip("203.0.113.11")))
        );
        // Its session ends: the address is the pool's again.
        l.release(ip("203.0.113.10"));
        assert_eq!(l.lease(None), Ok(ip("203.0.113.10")));
        // Outside every pool: still one session at a time.
        assert_eq!(l.lease_granted(ip("192.0.2.77")), Ok(ip("192.0.2.77")));
        assert!(l.lease_granted(ip("192.0.2.77")).is_err());
        l.release(ip("192.0.2.77"));
        assert_eq!(l.lease_granted(ip("192.0.2.77")), Ok(ip("192.0.2.77")));
    }

    #[test]
    fn named_pools_lease_their_own_range() {
        let mut l = Ipv4Leases::with_named(
            Ipv4Pool::new("203.0.113.10-203.0.113.10".parse().unwrap()),
            vec![(
                "biz".into(),
                Ipv4Pool::new("198.51.100.10-198.51.100.11".parse().unwrap()),
            )],
            ip("198.51.100.11"),
            [],
        );
        assert_eq!(l.lease_named("biz"), Ok(ip("198.51.100.10")));
        assert!(
            l.lease_named("biz").is_err(),
            "the server's address is set aside"
        );
        assert_eq!(
            l.lease_named("other"),
            Err(LeaseError::UnknownPool("other".into()))
        );
        assert_eq!(l.lease(None), Ok(ip("203.0.113.10")));
        assert_eq!(l.in_use(), 2);
        l.release(ip("198.51.100.10"));
        assert_eq!(l.lease_named("biz"), Ok(ip("198.51.100.10")));
    }
}
