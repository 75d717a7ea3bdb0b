//! The session table: the sessions (each one's state is in `session`) and every index onto
//! them — the IPv4 and IPv6 routes of a shared TUN, the links' timer heap. One `SessionTable::insert`, one `SessionTable::remove`:
//! an index entry never outlives its session.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::Instant;

use l2tp_proto::data::{L2tpStats, SessionKey};

use crate::addr::IpCidr;
use ppp::{Ipv4Params, Phase};

pub(crate) use super::session::Session;

/// What an operator sees of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// Local tunnel and session ids.
    pub key: SessionKey,
    /// PPP phase.
    pub phase: Phase,
    /// Authenticated user.
    pub user: Option<String>,
    /// IPCP result.
    pub ipv4: Option<Ipv4Params>,
    /// IPv6CP up.
    pub ipv6_up: bool,
    /// Seconds since the session came up.
    pub uptime_s: u64,
    /// The driver's eight counters.
    pub stats: L2tpStats,
}

/// The sessions and their indexes.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionTable {
    /// Boxed: the map keeps spare capacity, which then costs a pointer, not a whole session.
    map: HashMap<SessionKey, Box<Session>>,
    /// Shared TUN, IPv4: client address → session.
    routes: HashMap<Ipv4Addr, SessionKey>,
    /// Shared TUN, IPv6: a session's /64 (per-session prefixes) or its /128 → session.
    routes6: HashMap<u128, SessionKey>,
    /// Prefixes routed to a session (RADIUS Framed-Route, Framed-IP-Netmask; IPv6:
    /// Framed-IPv6-Prefix, Delegated-IPv6-Prefix), by length (longest first when looking
    /// up), each held by one session; the network as an integer.
    prefixes: BTreeMap<Reverse<u8>, HashMap<u128, SessionKey>>,
    prefixes6: BTreeMap<Reverse<u8>, HashMap<u128, SessionKey>>,
    /// Link deadlines; entries whose session re-armed or left are skipped.
    #[serde(with = "l2tp_snap::heap")]
    timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
}

impl SessionTable {
    pub fn insert(&mut self, key: SessionKey, s: Session) {
        // A session id is never reused while its session lives (the datapath refused it).
        if let Some(old) = self.map.insert(key, Box::new(s)) {
            self.unindex(key, &old);
        }
    }

    /// Removes a session and every index entry that names it.
    pub fn remove(&mut self, key: SessionKey) -> Option<Box<Session>> {
        let s = self.map.remove(&key)?;
        self.unindex(key, &s);
        Some(s)
    }

    fn unindex(&mut self, key: SessionKey, s: &Session) {
        if let Some(p) = s.ipv4() {
            if self.routes.get(&p.peer) == Some(&key) {
                self.routes.remove(&p.peer);
            }
        }
        if s.v6().is_some_and(|v| v.lease.is_some()) {
            self.routes6.retain(|_, k| *k != key);
        }
        for p in s.radius.as_deref().map_or(&[][..], |r| &r.routes[..]) {
            self.release_prefix(*p, key);
        }
    }

    /// Routes `prefix` to `key`; the session already holding it, if another one does.
    pub fn claim_prefix(&mut self, prefix: IpCidr, key: SessionKey) -> Result<(), SessionKey> {
        let (len, net) = prefix_key(prefix);
        let map = if matches!(prefix, IpCidr::V6(_)) {
            &mut self.prefixes6
        } else {
            &mut self.prefixes
        };
        match map.entry(Reverse(len)).or_default().entry(net) {
            std::collections::hash_map::Entry::Occupied(o) if *o.get() != key => Err(*o.get()),
            e => {
                e.insert_entry(key);
                Ok(())
            }
        }
    }

    /// Stops routing `prefix` to `key` (if it holds it).
    pub fn release_prefix(&mut self, prefix: IpCidr, key: SessionKey) {
        let (len, net) = prefix_key(prefix);
        let map = if matches!(prefix, IpCidr::V6(_)) {
            &mut self.prefixes6
        } else {
            &mut self.prefixes
        };
        if let Some(by_len) = map.get_mut(&Reverse(len)) {
            if by_len.get(&net) == Some(&key) {
                by_len.remove(&net);
            }
            if by_len.is_empty() {
                map.remove(&Reverse(len));
            }
        }
    }

    pub fn get(&self, key: &SessionKey) -> Option<&Session> {
        self.map.get(key).map(|b| &**b)
    }

    pub fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Session> {
        self.map.get_mut(key).map(|b| &mut **b)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SessionKey, &Session)> {
        self.map.iter().map(|(k, v)| (k, &**v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&SessionKey, &mut Session)> {
        self.map.iter_mut().map(|(k, v)| (k, &mut **v))
    }

    pub fn keys_of_tunnel(&self, tunnel: l2tp_wire::TunnelId) -> Vec<SessionKey> {
        self.map
            .keys()
            .filter(|k| k.tunnel == tunnel)
            .copied()
            .collect()
    }

    /// Shared TUN: packets for `addr` go to `key`.
    pub fn route_v4(&mut self, addr: Ipv4Addr, key: SessionKey) {
        self.routes.insert(addr, key);
    }

    /// Shared TUN: no more packets for `addr`.
    pub fn unroute_v4(&mut self, addr: Ipv4Addr) {
        self.routes.remove(&addr);
    }

    /// Shared TUN: packets for this /128 or /64 (as an integer) go to `key`.
    pub fn route_v6(&mut self, prefix: u128, key: SessionKey) {
        self.routes6.insert(prefix, key);
    }

    /// The session owning an IPv4 destination.
    pub fn lookup_v4(&self, addr: Ipv4Addr) -> Option<SessionKey> {
        self.routes
            .get(&addr)
            .copied()
            .or_else(|| longest_match(&self.prefixes, u128::from(u32::from(addr)), 32))
    }

    /// The session owning an IPv6 packet's destination (its /128, or its /64).
    pub fn lookup_v6(&self, packet: &[u8]) -> Option<SessionKey> {
        if packet.len() < 40 || packet[0] >> 4 != 6 {
            return None;
        }
        let dst = u128::from_be_bytes(packet[24..40].try_into().ok()?);
        self.routes6
            .get(&dst)
            .or_else(|| self.routes6.get(&(dst & !u128::from(u64::MAX))))
            .copied()
            .or_else(|| longest_match(&self.prefixes6, dst, 128))
    }

    /// Records a link's deadline.
    pub fn arm(&mut self, key: SessionKey, t: Instant) {
        self.timers.push(Reverse((t, key)));
    }

    /// The soonest link deadline.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// A session whose link deadline is due, if any (stale entries skipped).
    pub fn pop_due(&mut self, now: Instant) -> Option<SessionKey> {
        while let Some(&Reverse((t, key))) = self.timers.peek() {
            if t > now {
                return None;
            }
            self.timers.pop();
            if let Some(s) = self.map.get_mut(&key) {
                if s.timer == Some(t) {
                    s.timer = None;
                    return Some(key);
                }
            }
        }
        None
    }

    /// Drops stale timer entries and spare capacity after many sessions ended; true when
    /// the tables were shrunk.
    pub fn compact(&mut self) -> bool {
        let live = self.map.len();
        let stale_timers = self.timers.len() > 2 * live + 1024;
        let oversized = self.map.capacity() > 4 * live + 1024;
        if !stale_timers && !oversized {
            return false;
        }
        let map = &self.map;
        let timers: Vec<_> = self
            .timers
            .drain()
            .filter(|Reverse((t, k))| map.get(k).is_some_and(|s| s.timer == Some(*t)))
            .collect();
        self.timers = timers.into_iter().collect();
        if oversized {
            self.map.shrink_to_fit();
            self.routes.shrink_to_fit();
            self.routes6.shrink_to_fit();
        }
        oversized
    }
}

/// A prefix as (length, network as an integer in the low bits).
fn prefix_key(p: IpCidr) -> (u8, u128) {
    match p {
        IpCidr::V4(c) => (c.len(), u128::from(u32::from(c.network()))),
        IpCidr::V6(c) => (c.len(), u128::from(c.network())),
    }
}

/// The session holding the longest prefix of `map` that contains `addr` (`bits` wide).
fn longest_match(
    map: &BTreeMap<Reverse<u8>, HashMap<u128, SessionKey>>,
    addr: u128,
    bits: u32,
) -> Option<SessionKey> {
    // Few lengths in use: one hash lookup each, longest first.
    map.iter().find_map(|(len, by_len)| {
        let host_bits = bits - u32::from(len.0);
        let net = if host_bits >= 128 {
            0
        } else {
            addr >> host_bits << host_bits
        };
        by_len.get(&net).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_wire::{SessionId, TunnelId};
    use ppp::Link;
    use rand::SeedableRng;

    fn session(now: Instant) -> Session {
        let cfg = std::sync::Arc::new(ppp::LinkConfig::client("u", "p"));
        Session::new(Link::new(cfg, rand::rngs::StdRng::seed_from_u64(1)), now)
    }

    #[test]
    fn remove_takes_every_index_entry_with_it() {
        let now = Instant::now();
        let mut t = SessionTable::default();
        let k = SessionKey::new(TunnelId(1), SessionId(2));
        let mut s = session(now);
        let peer = Ipv4Addr::new(203, 0, 113, 9);
        s.set_ipv4(Some(Ipv4Params {
            local: Ipv4Addr::new(198, 51, 100, 1),
            peer,
            dns: [None, None],
        }));
        s.ipv6_opened(([1; 8], [2; 8]), std::net::Ipv6Addr::LOCALHOST);
        s.v6_mut().unwrap().lease = Some(crate::pool::Ipv6Lease {
            interface_id: 1,
            address: std::net::Ipv6Addr::LOCALHOST,
            delegated: None,
        });
        s.timer = Some(now);
        t.insert(k, s);
        t.route_v4(peer, k);
        t.route_v6(42, k);
        t.arm(k, now);
        assert_eq!(t.lookup_v4(peer), Some(k));
        assert!(t.remove(k).is_some());
        assert_eq!(t.lookup_v4(peer), None);
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[24..40].copy_from_slice(&42u128.to_be_bytes());
        assert_eq!(t.lookup_v6(&p), None);
        assert_eq!(
            t.pop_due(now),
            None,
            "a removed session's timer does not fire"
        );
        assert_eq!(t.len(), 0);
    }
}
