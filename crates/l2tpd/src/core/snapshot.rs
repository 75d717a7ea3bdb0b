//! A versioned, serialisable snapshot of the core: every tunnel and session with its
//! control channel (Ns/Nr, windows, peer ids, retransmission queue), data channel, PPP link
//! (negotiated LCP/IPCP/IPv6CP options, magic numbers, authentication result), address
//! leases, RADIUS accounting state, shapers, deadlines and counters, a relaying LAC's PPPoE
//! subscribers and their calls (`lac::carry`) — what a new process
//! needs to carry on where this one stopped, the peers seeing nothing.
//!
//! The bytes are a fixed header then the state:
//!
//! ```text
//!  0      8        12        16                24          28
//!  magic  version  reserved  payload length    CRC-32      payload (postcard)
//! "L2TPSNAP" u32 LE   0       u64 LE           of payload
//! ```
//!
//! The state is encoded with `postcard`: a compact, documented, stable wire format (its
//! specification is frozen for 1.x) that serde types encode to without extra attributes,
//! including maps keyed by structs (which JSON cannot express); the snapshot of 100,000
//! sessions must cross a socket quickly. It is not self-describing, so the header's
//! version is bumped whenever a serialised type changes shape; a binary that does not know
//! the version refuses the snapshot ([`SnapshotError::Version`]) and the caller starts
//! clean or keeps the old process running. Restoring is all or nothing: the whole state is
//! decoded before any of it replaces the core's.
//!
//! Not carried: what the shell drained already (outputs), a random source (restored cores
//! draw a fresh one), the configuration (taken from the new process's), and requests
//! outstanding at an asynchronous backend (RADIUS): an upgrade waits for none to be left
//! before it snapshots (`crate::upgrade`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::Endpoint;
use l2tp_proto::data::{Datapath, SessionKey};
use l2tp_wire::TunnelId;

use super::{
    admission, deadlines, dialler, frames, lac, quality, radius, sessions, Core, NodeCounters,
    RoleSettings,
};
use crate::leases::Ipv4Leases;
use crate::pool::Ipv6Pool;

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"L2TPSNAP";
/// The snapshot format this binary writes and reads. Bump it whenever a carried type
/// changes shape (the test `the_snapshot_format_changes_only_with_its_version` trips then).
pub const VERSION: u32 = 5;
/// Header length.
pub const HEADER_LEN: usize = 28;

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// Fewer bytes than a header.
    #[error("snapshot too short for its header ({0} bytes)")]
    TooShort(usize),
    /// Not a snapshot.
    #[error("not an l2tpd snapshot (bad magic)")]
    Magic,
    /// Written by a binary with another format.
    #[error("snapshot format version {found}, this binary reads version {supported}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// The version this binary reads.
        supported: u32,
    },
    /// Fewer payload bytes than the header announces.
    #[error("snapshot truncated: {got} of {expected} payload bytes")]
    Truncated {
        /// Announced.
        expected: u64,
        /// Present.
        got: u64,
    },
    /// The payload does not match its checksum.
    #[error("snapshot corrupt: checksum mismatch")]
    Checksum,
    /// The payload did not decode (or did not encode).
    #[error("snapshot state does not decode: {0}")]
    Decode(String),
    /// The snapshot is of another kind of node.
    #[error("snapshot of a {found} node, this one is a {expected}")]
    Role {
        /// The snapshot's role.
        found: String,
        /// Ours.
        expected: String,
    },
    /// This node's state cannot be carried (yet).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// The kernel datapath's objects handed over do not match the snapshot.
    #[error("kernel datapath: {0}")]
    KernelTable(String),
}

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restored {
    /// Tunnels carried over.
    pub tunnels: usize,
    /// Sessions carried over.
    pub sessions: usize,
}

#[derive(serde::Serialize)]
struct StateRef<'a> {
    role: &'static str,
    name: &'a str,
    endpoint: &'a Endpoint,
    datapath: &'a Datapath,
    sessions: &'a sessions::SessionTable,
    admission: &'a admission::Admission,
    dialler: &'a dialler::Dialler,
    frames: &'a frames::Frames,
    default_route_session: Option<SessionKey>,
    counters: NodeCounters,
    #[serde(with = "l2tp_snap::instant")]
    started: Instant,
    #[serde(with = "l2tp_snap::instant")]
    next_housekeeping: Instant,
    radius: &'a Option<radius::RadiusState>,
    deadlines: &'a deadlines::Deadlines,
    quality: &'a quality::QualityClock,
    pool: Option<&'a Ipv4Leases>,
    ipv6_pool: Option<&'a Ipv6Pool>,
    upgrades: u64,
    recoveries: u64,
    lac: Option<lac::LacStateRef<'a>>,
}

/// [`StateRef`], owned (the same fields in the same order: postcard is positional).
#[derive(serde::Deserialize)]
struct State {
    role: String,
    name: String,
    endpoint: Endpoint,
    datapath: Datapath,
    sessions: sessions::SessionTable,
    admission: admission::Admission,
    dialler: dialler::Dialler,
    frames: frames::Frames,
    default_route_session: Option<SessionKey>,
    counters: NodeCounters,
    #[serde(with = "l2tp_snap::instant")]
    started: Instant,
    #[serde(with = "l2tp_snap::instant")]
    next_housekeeping: Instant,
    radius: Option<radius::RadiusState>,
    deadlines: deadlines::Deadlines,
    quality: quality::QualityClock,
    pool: Option<Ipv4Leases>,
    ipv6_pool: Option<Ipv6Pool>,
    upgrades: u64,
    recoveries: u64,
    lac: Option<lac::LacState>,
}

/// How long after a restore a carried tunnel or session that goes away counts as lost.
pub const WATCH: Duration = Duration::from_secs(60);

/// What a restore carried over, watched for [`WATCH`]: per tunnel resumed or lost.
#[derive(Debug)]
pub(crate) struct Carried {
    /// Hand-overs this state went through (this one included).
    upgrades: u64,
    /// Crash recoveries this state went through (this one included when `recovered`).
    recoveries: u64,
    at: Instant,
    /// (tunnel, peer, sessions, lost).
    tunnels: Vec<(TunnelId, SocketAddr, u32, bool)>,
    sessions: usize,
    /// Carried sessions still watched.
    watched: HashSet<SessionKey>,
    sessions_lost: u64,
    /// Brought back from the crash journal (a restart), not handed over by a live process.
    recovered: bool,
}

impl Carried {
    /// The restore was a crash journal's replay: what it brought back, counted as recovered
    /// (not as an upgrade).
    pub(super) fn crash_recovery(
        &mut self,
        endpoint: &Endpoint,
        sessions: &sessions::SessionTable,
    ) {
        self.recovered = true;
        self.upgrades = self.upgrades.saturating_sub(1);
        self.recoveries += 1;
        self.tunnels = endpoint
            .tunnels()
            .map(|t| (t.tunnel, t.peer, t.sessions as u32, false))
            .collect();
        self.watched = sessions.iter().map(|(k, _)| *k).collect();
        self.sessions = self.watched.len();
        self.sessions_lost = 0;
    }
}

fn role_name(role: &RoleSettings) -> &'static str {
    match role {
        RoleSettings::Lns(_) => "lns",
        RoleSettings::Client(_) => "client",
        RoleSettings::Lac(_) => "lac",
    }
}

/// Wraps `payload` in the header.
fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks the header; the payload.
pub fn open(bytes: &[u8]) -> Result<&[u8], SnapshotError> {
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::TooShort(bytes.len()));
    }
    if bytes[..8] != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    if version != VERSION {
        return Err(SnapshotError::Version {
            found: version,
            supported: VERSION,
        });
    }
    let len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if (payload.len() as u64) < len {
        return Err(SnapshotError::Truncated {
            expected: len,
            got: payload.len() as u64,
        });
    }
    let payload = &payload[..len as usize];
    if crc32fast::hash(payload) != u32_at(24) {
        return Err(SnapshotError::Checksum);
    }
    Ok(payload)
}

impl Core {
    /// The core's state at `now`, as snapshot bytes (header and payload). Take it between
    /// inputs, once the shell drained the outputs.
    pub fn snapshot(&self, now: Instant) -> Result<Vec<u8>, SnapshotError> {
        // The kernel datapath's tunnels and sessions are the kernel's (handed over as
        // descriptors by the shell): its classifier goes in the datapath's place.
        let classifier;
        let datapath = match self.datapath.as_userspace() {
            Some(d) => d,
            None => {
                classifier = self
                    .datapath
                    .classifier_snapshot()
                    .ok_or(SnapshotError::Unsupported("this datapath"))?;
                &classifier
            }
        };
        let (pool, ipv6_pool) = match &self.role {
            RoleSettings::Lns(l) => (Some(&l.pool), l.ipv6_pool.as_ref()),
            RoleSettings::Client(_) | RoleSettings::Lac(_) => (None, None),
        };
        let state = StateRef {
            role: role_name(&self.role),
            name: &self.name,
            endpoint: &self.endpoint,
            datapath,
            sessions: &self.sessions,
            admission: &self.admission,
            dialler: &self.dialler,
            frames: &self.frames,
            default_route_session: self.default_route_session,
            counters: self.counters,
            started: self.started,
            next_housekeeping: self.next_housekeeping,
            radius: &self.radius,
            deadlines: &self.deadlines,
            quality: &self.quality,
            pool,
            ipv6_pool,
            upgrades: self.carried.as_ref().map_or(0, |c| c.upgrades),
            recoveries: self.carried.as_ref().map_or(0, |c| c.recoveries),
            lac: self.lac.as_deref().map(|l| l.carried()),
        };
        let payload = l2tp_snap::with_clock(now, || postcard::to_allocvec(&state))
            .map_err(|e| SnapshotError::Decode(e.to_string()))?;
        Ok(seal(&payload))
    }

    /// Replaces this (freshly built) core's state with the snapshot's, at `now`. On error
    /// nothing of the core changed.
    pub fn restore(&mut self, bytes: &[u8], now: Instant) -> Result<Restored, SnapshotError> {
        let payload = open(bytes)?;
        let expected = role_name(&self.role);
        let kernel = self.datapath.as_userspace().is_none();
        let (state, rest): (State, &[u8]) =
            l2tp_snap::with_clock(now, || postcard::take_from_bytes(payload))
                .map_err(|e| SnapshotError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            // Written by a build whose types differ from ours without a version bump.
            return Err(SnapshotError::Decode(format!(
                "{} bytes left over after the state",
                rest.len()
            )));
        }
        if state.role != expected {
            return Err(SnapshotError::Role {
                found: state.role,
                expected: expected.into(),
            });
        }
        if kernel {
            // Every session's kernel objects must have been handed over (the shell adopted
            // them into the backend before this restore).
            if let Some((k, _)) = state
                .sessions
                .iter()
                .find(|(k, _)| self.datapath.session_options(**k).is_err())
            {
                return Err(SnapshotError::KernelTable(format!(
                    "session {k} has no kernel session handed over"
                )));
            }
        }
        // A relaying LAC takes its subscribers back on the PPPoE interfaces handed over.
        match (self.lac.as_deref(), &state.lac) {
            (Some(l), Some(carried)) => l.check_carried(carried).map_err(SnapshotError::Decode)?,
            (None, None) => {}
            (Some(_), None) => {
                return Err(SnapshotError::Decode(
                    "a snapshot without the relay's subscribers (this LAC relays PPPoE)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(SnapshotError::Decode(
                    "a relaying LAC's snapshot (this LAC relays no PPPoE)".into(),
                ))
            }
        }
        match &mut self.role {
            RoleSettings::Lns(l) => {
                let (Some(pool), ipv6_pool) = (state.pool, state.ipv6_pool) else {
                    return Err(SnapshotError::Decode(
                        "an LNS snapshot without a pool".into(),
                    ));
                };
                l.pool = pool;
                l.ipv6_pool = ipv6_pool;
            }
            RoleSettings::Client(_) | RoleSettings::Lac(_) => {}
        }
        let relayed = state.lac.as_ref().map_or(0, |l| l.subscribers());
        let restored = Restored {
            tunnels: state.endpoint.tunnels().count(),
            sessions: state.sessions.len() + relayed,
        };
        tracing::info!(node = %state.name, tunnels = restored.tunnels, sessions = restored.sessions, "state restored from a snapshot");
        if !kernel {
            self.datapath = Box::new(state.datapath);
            self.frames_via_backend = false;
        } else if !self.datapath.restore_classifier(state.datapath) {
            return Err(SnapshotError::Unsupported("this datapath"));
        }
        self.endpoint = state.endpoint;
        self.sessions = state.sessions;
        for (_, s) in self.sessions.iter_mut() {
            s.link.reattach(self.link_config.clone());
        }
        self.admission = state.admission;
        self.dialler = state.dialler;
        self.frames = state.frames;
        self.default_route_session = state.default_route_session;
        self.counters = state.counters;
        self.started = state.started;
        self.next_housekeeping = state.next_housekeeping;
        self.radius = state.radius;
        self.deadlines = state.deadlines;
        self.quality = state.quality;
        if let (Some(l), Some(carried)) = (self.lac.as_deref_mut(), state.lac) {
            l.carry_on(carried);
        }
        self.clock = now;
        let tunnels = self
            .endpoint
            .tunnels()
            .map(|t| (t.tunnel, t.peer, t.sessions as u32, false))
            .collect();
        let mut watched: HashSet<SessionKey> = self.sessions.iter().map(|(k, _)| *k).collect();
        // A relaying LAC's calls (its subscribers' and the switched ones).
        if let Some(l) = self.lac.as_deref() {
            watched.extend(l.by_call.keys().copied());
        }
        self.carried = Some(Box::new(Carried {
            upgrades: state.upgrades + 1,
            recoveries: state.recoveries,
            at: now,
            tunnels,
            sessions: watched.len(),
            watched,
            sessions_lost: 0,
            recovered: false,
        }));
        Ok(restored)
    }

    /// Sessions in the table (what a snapshot carries), without building their snapshots.
    pub fn session_count(&self) -> usize {
        self.sessions.len() + self.lac.as_deref().map_or(0, |l| l.subscribers.len())
    }

    /// Housekeeping: carried tunnels and sessions gone within [`WATCH`] of the restore are
    /// lost; after it, the watch ends.
    pub(super) fn watch_carried(&mut self, now: Instant) {
        let Some(c) = self.carried.as_deref_mut() else {
            return;
        };
        if c.watched.is_empty() && c.tunnels.iter().all(|t| t.3) {
            return;
        }
        if now.saturating_duration_since(c.at) > WATCH {
            c.watched = HashSet::new();
            return;
        }
        // Looked at afresh each time: a tunnel an RFC 4951 recovery takes is away under its
        // id until the peer answers, and back after.
        for t in c.tunnels.iter_mut() {
            t.3 = self.endpoint.tunnel_info(t.0).is_none();
        }
        let before = c.watched.len();
        let lac = self.lac.as_deref();
        c.watched.retain(|k| {
            self.sessions.get(k).is_some() || lac.is_some_and(|l| l.by_call.contains_key(k))
        });
        c.sessions_lost += (before - c.watched.len()) as u64;
    }

    /// What the last restore carried over (None: this core started afresh).
    pub(super) fn upgrade_stats(&self, now: Instant) -> Option<l2tp_mgmt::UpgradeStats> {
        let c = self.carried.as_deref()?;
        let lost = c.tunnels.iter().filter(|t| t.3).count() as u64;
        Some(l2tp_mgmt::UpgradeStats {
            upgrades: c.upgrades,
            since_s: now.saturating_duration_since(c.at).as_secs(),
            tunnels_resumed: c.tunnels.len() as u64 - lost,
            tunnels_lost: lost,
            sessions_resumed: c.sessions as u64 - c.sessions_lost,
            sessions_lost: c.sessions_lost,
            tunnels: c
                .tunnels
                .iter()
                .map(|t| l2tp_mgmt::CarriedTunnel {
                    local_id: t.0 .0,
                    peer_addr: t.1.to_string(),
                    sessions: t.2,
                    outcome: match (t.3, c.recovered) {
                        (true, _) => "lost",
                        (false, true) => "recovered",
                        (false, false) => "resumed",
                    }
                    .into(),
                })
                .collect(),
            recovery: c.recovered,
            recoveries: c.recoveries,
        })
    }
}
