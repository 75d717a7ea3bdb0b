//! Keys and the lookup table: one hash lookup per packet, keyed by the local
//! (tunnel id, session id) pair carried in every data header.
//!
//! Keys are ours (the ids we assigned), so only we insert into the table; a peer can only
//! look up. That is why a fast, non-keyed hash is safe here: lookups of absent keys probe the
//! layout our own keys made, which a peer cannot shape. 65,535 sessions per tunnel and
//! thousands of tunnels cost the same per packet as one.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;

use l2tp_wire::{SessionId, TunnelId};

/// A session handle: the local (tunnel id, session id) pair. Session id 0 names the tunnel
/// management handle, as in the driver.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SessionKey {
    /// Local tunnel id (ours).
    pub tunnel: TunnelId,
    /// Local session id (ours); 0 for the tunnel management handle.
    pub session: SessionId,
}

impl SessionKey {
    /// A key from the two local ids.
    pub const fn new(tunnel: TunnelId, session: SessionId) -> Self {
        SessionKey { tunnel, session }
    }

    /// The tunnel management handle of `tunnel` (session id 0).
    pub const fn tunnel(tunnel: TunnelId) -> Self {
        SessionKey {
            tunnel,
            session: SessionId(0),
        }
    }

    /// True when this names a tunnel management handle (session id 0).
    pub const fn is_tunnel(self) -> bool {
        self.session.0 == 0
    }

    /// Both ids packed in one integer (the table key).
    pub const fn raw(self) -> u32 {
        ((self.tunnel.0 as u32) << 16) | self.session.0 as u32
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tunnel, self.session)
    }
}

/// Which local UDP socket a tunnel is bound to. The daemon names its sockets; one shared
/// socket for every tunnel ([`SocketId::SHARED`]) or one connected socket per tunnel, as the
/// seed's daemon does. Data for a tunnel arriving on another socket is dropped.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SocketId(pub u32);

impl SocketId {
    /// The one socket shared by all tunnels (the default).
    pub const SHARED: SocketId = SocketId(0);
}

/// Folded 64x64→128 multiply of a `u32` key: every key bit reaches the low bits (bucket
/// index) and the top bits (control byte).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        let m = u128::from(self.0 ^ n ^ 0x243f_6a88_85a3_08d3) * 0x9e37_79b9_7f4a_7c15u128;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// Map from a packed [`SessionKey`] to a value.
pub(crate) type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// Values keyed by a packed id, stored in a slab: one hash lookup finds a slot, and a caller's
/// hint (the slot it found last time) skips even that when consecutive packets belong to the
/// same session, as bursts do. The hint is checked against the slot's key, so a stale hint is
/// merely a miss.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct KeyedSlab<V> {
    entries: Vec<Option<(u32, V)>>,
    free: Vec<usize>,
    index: IdMap<usize>,
}

impl<V> Default for KeyedSlab<V> {
    fn default() -> Self {
        KeyedSlab {
            entries: Vec::new(),
            free: Vec::new(),
            index: IdMap::default(),
        }
    }
}

impl<V> KeyedSlab<V> {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn contains_key(&self, k: &u32) -> bool {
        self.index.contains_key(k)
    }

    pub(crate) fn get(&self, k: &u32) -> Option<&V> {
        let i = *self.index.get(k)?;
        self.entries.get(i)?.as_ref().map(|e| &e.1)
    }

    pub(crate) fn get_mut(&mut self, k: &u32) -> Option<&mut V> {
        let i = *self.index.get(k)?;
        self.entries.get_mut(i)?.as_mut().map(|e| &mut e.1)
    }

    /// Like [`KeyedSlab::get_mut`], trying slot `*hint` first and updating it on a miss.
    #[inline]
    pub(crate) fn get_mut_hinted(&mut self, k: u32, hint: &mut usize) -> Option<&mut V> {
        let hit = matches!(self.entries.get(*hint), Some(Some((kk, _))) if *kk == k);
        let i = if hit {
            *hint
        } else {
            let i = *self.index.get(&k)?;
            *hint = i;
            i
        };
        self.entries.get_mut(i)?.as_mut().map(|e| &mut e.1)
    }

    /// Inserts or replaces.
    pub(crate) fn insert(&mut self, k: u32, v: V) {
        if let Some(&i) = self.index.get(&k) {
            self.entries[i] = Some((k, v));
            return;
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some((k, v));
                i
            }
            None => {
                self.entries.push(Some((k, v)));
                self.entries.len() - 1
            }
        };
        self.index.insert(k, i);
    }

    /// Gives back memory after many removals: trailing free slots are dropped (occupied
    /// slots never move, so hints stay valid) and the index and free list shrink.
    pub(crate) fn shrink_to_fit(&mut self) {
        while matches!(self.entries.last(), Some(None)) {
            self.entries.pop();
        }
        let len = self.entries.len();
        self.free.retain(|&i| i < len);
        self.entries.shrink_to_fit();
        self.free.shrink_to_fit();
        self.index.shrink_to_fit();
    }

    pub(crate) fn remove(&mut self, k: &u32) -> Option<V> {
        let i = self.index.remove(k)?;
        let v = self.entries.get_mut(i)?.take().map(|e| e.1);
        self.free.push(i);
        v
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u32, &V)> + '_ {
        self.entries.iter().flatten().map(|(k, v)| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.iter().flatten().map(|(_, v)| v)
    }
}

/// The form a peer address is compared in: IPv4-mapped IPv6 addresses become their IPv4
/// form (a dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`), and the IPv6 flow label
/// is ignored (it is per packet, not part of who the peer is).
#[inline]
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(mut v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => {
                v6.set_flowinfo(0);
                SocketAddr::V6(v6)
            }
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn keys_pack_both_ids() {
        let k = SessionKey::new(TunnelId(0x1234), SessionId(0xabcd));
        assert_eq!(k.raw(), 0x1234_abcd);
        assert!(SessionKey::tunnel(TunnelId(1)).is_tunnel());
    }

    #[test]
    fn hash_spreads_sequential_keys_over_low_bits() {
        let b = BuildHasherDefault::<IdHasher>::default();
        let mut buckets = [0u32; 64];
        for s in 1..=4096u32 {
            buckets[(b.hash_one((7u32 << 16) | s) & 63) as usize] += 1;
        }
        // 4096 keys over 64 buckets: 64 each on average; none starved, none hoarding.
        assert!(
            buckets.iter().all(|&n| (32..=128).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn slab_hints_are_checked_and_slots_reused() {
        let mut t = KeyedSlab::default();
        t.insert(1, 'a');
        t.insert(2, 'b');
        let mut hint = 0;
        assert_eq!(t.get_mut_hinted(2, &mut hint).copied(), Some('b'));
        assert_eq!(hint, 1);
        assert_eq!(t.get_mut_hinted(2, &mut hint).copied(), Some('b'));
        assert_eq!(t.remove(&2), Some('b'));
        // Stale hint: slot 1 is empty, then reused by another key.
        assert_eq!(t.get_mut_hinted(2, &mut hint), None);
        t.insert(3, 'c');
        assert_eq!(t.get_mut_hinted(2, &mut hint), None);
        assert_eq!(t.get_mut_hinted(3, &mut hint).copied(), Some('c'));
        assert_eq!(t.len(), 2);
        assert_eq!(t.iter().count(), 2);
        t.insert(3, 'd');
        assert_eq!(t.get(&3), Some(&'d'));
        assert_eq!(t.len(), 2);
        assert!(!t.contains_key(&2));
    }

    #[test]
    fn mapped_v6_is_v4() {
        let a: SocketAddr = "[::ffff:192.0.2.1]:1701".parse().unwrap();
        assert_eq!(
            canonical(a),
            "192.0.2.1:1701".parse::<SocketAddr>().unwrap()
        );
        let labelled = SocketAddr::V6(std::net::SocketAddrV6::new(
            "2001:db8::1".parse().unwrap(),
            1701,
            0xbeef,
            0,
        ));
        assert_eq!(
            canonical(labelled),
            "[2001:db8::1]:1701".parse::<SocketAddr>().unwrap()
        );
    }
}
