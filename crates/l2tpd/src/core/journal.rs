//! The core's side of the crash journal (`daemon.state_dir`): which tunnels and sessions an
//! input changed (dirty tracking), each as a record — a tunnel's control channel (ids, peer,
//! Ns/Nr, negotiated settings, its calls) with its datapath handle, or a session (PPP state,
//! addresses and lease, RADIUS accounting state) with its datapath handle — or that it is
//! gone; and a base snapshot plus such records replayed into a fresh core.
//!
//! Records are encoded with postcard like the snapshot (`super::snapshot`), whose format
//! version covers them: they carry the same types. The shell frames and writes them
//! (`crate::journal`) before it sends the outputs of the step that made them, so what a
//! peer saw acknowledged is on disk.
//!
//! After a replay the tunnels wait for [`Core::resume_restored`]: each is probed with a
//! HELLO and re-synchronised on its peer's answer; one whose peer no longer answers is
//! cleared when the HELLO's retransmissions run out, like any tunnel with a dead peer.

use std::collections::HashSet;
use std::time::Instant;

use l2tp_proto::control::{CallRecord, CallRef, TunnelRecord, TunnelRef};
use l2tp_proto::data::{DpSessionRecord, DpSessionRef, DpTunnelRecord, DpTunnelRef, SessionKey};
use l2tp_wire::TunnelId;

use super::session::{Interface, Session};
use super::snapshot::{Restored, SnapshotError};
use super::{Core, IpMode, RoleSettings};

/// A record, borrowed from the core for encoding.
#[derive(serde::Serialize)]
enum RecordRef<'a> {
    Tunnel(TunnelRef<'a>, Option<DpTunnelRef<'a>>),
    TunnelGone(TunnelId),
    Session(
        SessionKey,
        &'a Session,
        Option<DpSessionRef<'a>>,
        Option<CallRef<'a>>,
    ),
    SessionGone(SessionKey),
}

/// [`RecordRef`], decoded (the same variants in the same order: postcard is positional).
#[derive(serde::Deserialize)]
enum Record {
    Tunnel(Box<TunnelRecord>, Option<DpTunnelRecord>),
    TunnelGone(TunnelId),
    Session(
        SessionKey,
        Box<Session>,
        Option<DpSessionRecord>,
        Option<CallRecord>,
    ),
    SessionGone(SessionKey),
}

/// What changed since the journal last looked, and what the journal holds.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Sessions changed.
    sessions: HashSet<SessionKey>,
    /// Tunnels and sessions the journal has a live record of (a "gone" record is written
    /// for these only).
    tunnels_held: HashSet<TunnelId>,
    sessions_held: HashSet<SessionKey>,
    /// Tunnels replayed from the journal and not yet handed to [`Core::resume_restored`].
    restored: Vec<TunnelId>,
}

impl Core {
    /// Starts keeping the journal's dirty marks (set once, before the first input, when the
    /// daemon has a state directory).
    pub fn enable_journal(&mut self) {
        if self.journal.is_none() {
            self.journal = Some(Box::default());
        }
        self.endpoint.track_changes(true);
    }

    /// Notes that session `key` changed (or ended).
    pub(super) fn journal_mark(&mut self, key: SessionKey) {
        if let Some(j) = self.journal.as_deref_mut() {
            j.sessions.insert(key);
        }
    }

    /// The journal records of what changed since the last call, appended to `out` (one
    /// encoded record each); the shell frames and writes them before sending the outputs.
    pub fn journal_records(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let Some(mut j) = self.journal.take() else {
            return;
        };
        let mut tunnels = self.endpoint.take_touched();
        tunnels.sort_unstable();
        let mut sessions: Vec<SessionKey> = j.sessions.drain().collect();
        sessions.sort_unstable();
        for t in tunnels {
            let dp = self.datapath.as_userspace();
            let written = self.endpoint.with_tunnel_ref(t, |r| {
                let rec = RecordRef::Tunnel(r, dp.and_then(|d| d.tunnel_ref(t)));
                push(out, now, &rec)
            });
            if written.is_some() {
                j.tunnels_held.insert(t);
            } else if j.tunnels_held.remove(&t) {
                j.sessions_held.retain(|k| k.tunnel != t);
                push(out, now, &RecordRef::TunnelGone(t));
            }
        }
        let dp = self.datapath.as_userspace();
        for k in sessions {
            let rec = match self.sessions.get(&k) {
                Some(s) if j.tunnels_held.contains(&k.tunnel) => {
                    j.sessions_held.insert(k);
                    RecordRef::Session(
                        k,
                        s,
                        dp.and_then(|d| d.session_ref(k)),
                        self.endpoint.call_ref(k.tunnel, k.session),
                    )
                }
                _ if j.sessions_held.remove(&k) => RecordRef::SessionGone(k),
                _ => continue,
            };
            push(out, now, &rec);
        }
        self.journal = Some(j);
    }

    /// A new base for the journal: the whole core as a snapshot. The records written
    /// before it are no longer needed; what changed since the last records is in it too.
    pub fn journal_base(&mut self, now: Instant) -> Result<Vec<u8>, SnapshotError> {
        if self.lac.is_some() {
            // The relay's PPPoE subscribers change with every frame of theirs: not journaled.
            return Err(SnapshotError::Unsupported(
                "crash recovery of the LAC relay's PPPoE subscribers",
            ));
        }
        let base = self.snapshot(now)?;
        if let Some(j) = self.journal.as_deref_mut() {
            self.endpoint.take_touched();
            j.sessions.clear();
            j.tunnels_held = self
                .endpoint
                .tunnels()
                .filter(|t| self.endpoint.is_journaled(t.tunnel))
                .map(|t| t.tunnel)
                .collect();
            j.sessions_held = self
                .sessions
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| j.tunnels_held.contains(&k.tunnel))
                .collect();
        }
        Ok(base)
    }

    /// Replaces this (freshly built) core's state with a journal's: its base snapshot, then
    /// its records in order. All or nothing: every record is decoded before anything is
    /// applied, and on error nothing of the core changed. The restored tunnels then wait for
    /// [`Core::resume_restored`].
    pub fn replay_journal(
        &mut self,
        base: &[u8],
        records: &[&[u8]],
        now: Instant,
    ) -> Result<Restored, SnapshotError> {
        let decoded = l2tp_snap::with_clock(now, || {
            records
                .iter()
                .enumerate()
                .map(|(i, r)| match postcard::take_from_bytes::<Record>(r) {
                    Ok((rec, [])) => Ok(rec),
                    Ok((_, rest)) => Err(SnapshotError::Decode(format!(
                        "journal record {i}: {} bytes left over",
                        rest.len()
                    ))),
                    Err(e) => Err(SnapshotError::Decode(format!("journal record {i}: {e}"))),
                })
                .collect::<Result<Vec<Record>, SnapshotError>>()
        })?;
        self.restore(base, now)?;
        let tracking = self.journal.is_some();
        self.endpoint.track_changes(false);
        for rec in decoded {
            self.apply(rec, now);
        }
        self.endpoint.track_changes(tracking);
        if let Some(c) = self.carried.as_deref_mut() {
            c.crash_recovery(&self.endpoint, &self.sessions);
        }
        let restored = Restored {
            tunnels: self.endpoint.tunnels().count(),
            sessions: self.sessions.len(),
        };
        let ids = self.endpoint.tunnels().map(|t| t.tunnel).collect();
        self.journal.get_or_insert_with(Box::default).restored = ids;
        if !tracking {
            self.journal = None;
        }
        tracing::info!(node = %self.name, tunnels = restored.tunnels, sessions = restored.sessions, records = records.len(), "state recovered from the journal");
        Ok(restored)
    }

    /// The tunnels a journal replay restored and nobody has resumed yet (taken: each is
    /// resumed once, by [`Core::resume_restored`] or by another recovery path).
    pub fn take_restored_tunnels(&mut self) -> Vec<TunnelId> {
        self.journal
            .as_deref_mut()
            .map(|j| std::mem::take(&mut j.restored))
            .unwrap_or_default()
    }

    /// Resumes the restored tunnels `tunnels` (see [`Core::take_restored_tunnels`]): each
    /// established one probes its peer with a HELLO now and re-synchronises Ns/Nr on the
    /// answer (RFC 2661 §5.8); a peer that no longer answers lets the tunnel go down when
    /// the HELLO's retransmissions run out, its sessions cleared (RADIUS Stop sent). Returns
    /// how many tunnels were probed.
    pub fn resume_restored(&mut self, now: Instant, tunnels: &[TunnelId]) -> usize {
        self.clock = now;
        let probed = self.endpoint.probe_restored(now, tunnels);
        if !probed.is_empty() {
            tracing::info!(node = %self.name, tunnels = probed.len(), "restored tunnels probed with a HELLO");
        }
        self.pump(now);
        probed.len()
    }

    /// Sessions with their own interface (TUN per session), by name: after a replay the
    /// shell reattaches each persistent TUN.
    pub fn own_interfaces(&self) -> Vec<(SessionKey, String)> {
        self.sessions
            .iter()
            .filter_map(|(k, s)| match s.interface() {
                Some(Interface::Own(n)) => Some((*k, n.clone())),
                _ => None,
            })
            .collect()
    }

    /// The name (or kernel pattern such as `l2tp%d`) of the sessions' own interfaces, when
    /// each session has one: what a killed process may have left behind.
    pub fn session_interface_pattern(&self) -> Option<&str> {
        match &self.ip_mode {
            IpMode::PerSession { name, .. } => Some(name),
            IpMode::App | IpMode::Shared { .. } => None,
        }
    }

    fn apply(&mut self, rec: Record, now: Instant) {
        match rec {
            Record::Tunnel(t, dp) => {
                self.endpoint.adopt_tunnel(*t);
                if let (Some(dp), Some(d)) = (dp, self.datapath.as_userspace_mut()) {
                    d.adopt_tunnel(dp);
                }
            }
            Record::TunnelGone(t) => {
                let _ = self.endpoint.forget_tunnel(t);
                for k in self.sessions.keys_of_tunnel(t) {
                    self.forget_session(k);
                }
                self.datapath.remove_tunnel(t);
            }
            Record::Session(key, mut s, dp, call) => {
                self.forget_session(key);
                if let Some(call) = call {
                    self.endpoint.adopt_call(key.tunnel, key.session, call);
                }
                if let (Some(dp), Some(d)) = (dp, self.datapath.as_userspace_mut()) {
                    if !d.adopt_session(dp) {
                        return;
                    }
                }
                s.link.reattach(self.link_config.clone());
                s.timer = None;
                let lease = s.lease();
                let v6_lease = s.v6().and_then(|v| v.lease);
                let shared = matches!(s.interface(), Some(Interface::Shared(_)));
                let peer = s.ipv4().map(|p| p.peer);
                let routes = s.radius.as_deref().map(|r| r.routes.clone());
                let interim = s.radius.as_deref().and_then(|r| r.next_interim);
                self.sessions.insert(key, *s);
                if let RoleSettings::Lns(l) = &mut self.role {
                    if let Some(a) = lease {
                        l.pool.relet(a);
                    }
                    if let (Some(v6), Some(p)) = (v6_lease, l.ipv6_pool.as_mut()) {
                        if let Err(e) = p.reserve(&v6) {
                            tracing::warn!(address = %v6.address, "replayed IPv6 lease: {e}");
                        }
                    }
                }
                if let (true, Some(p), IpMode::Shared { .. }) = (shared, peer, &self.ip_mode) {
                    self.sessions.route_v4(p, key);
                }
                for p in routes.unwrap_or_default() {
                    let _ = self.sessions.claim_prefix(p, key);
                }
                self.arm_timeouts(key);
                if let Some(t) = interim {
                    self.arm_interim(key, t.max(now));
                }
                self.dirty.push(key);
            }
            Record::SessionGone(key) => self.forget_session(key),
        }
    }

    /// Drops a session without a word to anyone (a journal replay: it was gone already).
    fn forget_session(&mut self, key: SessionKey) {
        self.endpoint.forget_call(key.tunnel, key.session);
        if let Some(s) = self.sessions.remove(key) {
            if let RoleSettings::Lns(l) = &mut self.role {
                if let Some(a) = s.lease() {
                    l.pool.release(a);
                }
                if let (Some(lease), Some(p)) = (s.v6().and_then(|v| v.lease), l.ipv6_pool.as_mut())
                {
                    let _ = p.free(&lease);
                }
            }
        }
        self.datapath.remove_session(key);
        self.frames.forget(key);
        self.deadlines.forget(key);
    }
}

fn push(out: &mut Vec<Vec<u8>>, now: Instant, rec: &RecordRef<'_>) {
    match l2tp_snap::with_clock(now, || postcard::to_allocvec(rec)) {
        Ok(b) => out.push(b),
        Err(e) => tracing::error!("journal record does not encode: {e}"),
    }
}
