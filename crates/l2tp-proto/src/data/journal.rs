//! One tunnel or session at a time out of and into the [`Datapath`], for a daemon's crash
//! journal: its state as a record (sequence numbers, options, counters) and the record
//! adopted back into a datapath whose slots and indexes are its own.

use l2tp_wire::TunnelId;

use super::session::{Session, Tunnel};
use super::{Datapath, SessionKey};

/// A datapath tunnel, borrowed for encoding (decode it as a [`DpTunnelRecord`]).
#[derive(serde::Serialize)]
pub struct DpTunnelRef<'a>(&'a Tunnel);

/// A datapath tunnel decoded from a journal.
#[derive(Debug, serde::Deserialize)]
pub struct DpTunnelRecord(Tunnel);

/// A datapath session, borrowed for encoding (decode it as a [`DpSessionRecord`]).
#[derive(serde::Serialize)]
pub struct DpSessionRef<'a>(&'a Session);

/// A datapath session decoded from a journal.
#[derive(Debug, serde::Deserialize)]
pub struct DpSessionRecord(Session);

impl DpSessionRecord {
    /// The session.
    pub fn key(&self) -> SessionKey {
        self.0.key
    }
}

impl Datapath {
    /// Tunnel `tunnel`'s datapath state for a journal.
    pub fn tunnel_ref(&self, tunnel: TunnelId) -> Option<DpTunnelRef<'_>> {
        let slot = *self.tunnel_slots.get(&u32::from(tunnel.0))?;
        self.tunnels.get(slot)?.as_ref().map(DpTunnelRef)
    }

    /// Session `key`'s datapath state for a journal.
    pub fn session_ref(&self, key: SessionKey) -> Option<DpSessionRef<'_>> {
        self.sessions.get(&key.raw()).map(DpSessionRef)
    }

    /// Puts a journaled tunnel back: created if missing (its sessions follow with
    /// [`Datapath::adopt_session`]), else its peer, socket, debug mask and counters replaced.
    pub fn adopt_tunnel(&mut self, rec: DpTunnelRecord) {
        let r = rec.0;
        if self.tunnel_mut(r.id).is_err() && self.create_tunnel(r.id, r.socket, r.peer).is_err() {
            return;
        }
        let _ = self.set_tunnel_peer(r.id, r.peer);
        if let Ok(t) = self.tunnel_mut(r.id) {
            t.socket = r.socket;
            t.debug = r.debug;
            t.stats = r.stats;
        }
    }

    /// Puts a journaled session back under its tunnel (which must be there), replacing one
    /// with its key. False when its tunnel is missing.
    pub fn adopt_session(&mut self, rec: DpSessionRecord) -> bool {
        let mut s = rec.0;
        let key = s.key;
        let _ = self.remove_session(key);
        let Some(&slot) = self.tunnel_slots.get(&u32::from(key.tunnel.0)) else {
            return false;
        };
        let Some(Some(t)) = self.tunnels.get_mut(slot) else {
            return false;
        };
        t.sessions += 1;
        let peer = t.peer;
        s.tunnel_slot = slot;
        self.index(peer, key);
        self.sessions.insert(key.raw(), s);
        true
    }
}
