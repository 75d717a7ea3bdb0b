//! Datapath (issue 4): the PPPoL2TP driver's job in userspace.
//!
//! The driver's model as an API (seed `l2tp.txt`, DESIGN §4): a **tunnel management handle**
//! per tunnel, bound to the tunnel's UDP socket and peer, created before the tunnel's first
//! session; a **session handle** per session, created with (local tunnel id, local session id,
//! peer tunnel id, peer session id, peer address); options SENDSEQ, RECVSEQ, LNSMODE,
//! REORDERTO, DEBUG per session, only DEBUG on the management handle; the driver's eight
//! counters per session and per tunnel (session id 0).
//!
//! Sans-IO: [`Datapath`] reads no clock and does no I/O. The daemon feeds it every datagram
//! from its UDP socket(s) with [`Datapath::receive`] and gets back where the PPP frame is
//! (a range into the datagram: in-order frames are never copied), or that the datagram belongs
//! to the control plane, or why it was dropped. Frames that had to wait for reordering come
//! out of [`Datapath::poll_deliver`] (drain it after every input); reorder expiry is driven by
//! [`Datapath::poll_timeout`] / [`Datapath::handle_timeout`]. On transmit,
//! [`Datapath::encapsulate`] writes the L2TP header into the headroom in front of a PPP frame
//! the caller already placed in its buffer.
//!
//! Invariants: one hash lookup per received packet (keyed by our own ids); no allocation per
//! packet on the in-order path; data accepted only from the tunnel's peer address and port
//! (several NATed clients share source port 1701); frames are released to the consumer in Ns
//! order, never twice; the reorder queue is bounded.
//!
//! Tunnels are keyed by our own tunnel id, unique by construction, rather than by (peer
//! address, port, tunnel id) as DESIGN §4 puts it: the same separation of NATed clients that
//! share an address and port 1701, one lookup cheaper, with the peer's address and port still
//! checked on every packet.
//!
//! ```
//! use std::time::Instant;
//! use l2tp_proto::data::{Datapath, DatapathConfig, RxResult, SessionConfig, SocketId};
//! use l2tp_wire::{Header, SessionId, TunnelId};
//!
//! let peer = "192.0.2.7:1701".parse().unwrap();
//! let mut dp = Datapath::new(DatapathConfig::default());
//! dp.create_tunnel(TunnelId(10), SocketId::SHARED, peer).unwrap();
//! let key = dp
//!     .create_session(SessionConfig::new(TunnelId(10), SessionId(20), TunnelId(30), SessionId(40), peer))
//!     .unwrap();
//!
//! // Receive: a data message for our tunnel 10, session 20 carrying a PPP frame.
//! let datagram = Header::data(TunnelId(10), SessionId(20)).encode_with_payload(&[0xff, 0x03, 0xc0, 0x21]);
//! match dp.receive(Instant::now(), peer, &datagram) {
//!     RxResult::Deliver { session, frame, .. } => {
//!         assert_eq!(session, key);
//!         assert_eq!(&datagram[frame], &[0xff, 0x03, 0xc0, 0x21]);
//!     }
//!     other => panic!("{other:?}"),
//! }
//!
//! // Transmit: the PPP frame sits after `headroom` bytes; the header goes in front of it.
//! let mut buf = [0u8; 64];
//! let headroom = 16;
//! buf[headroom..headroom + 4].copy_from_slice(&[0xff, 0x03, 0xc0, 0x21]);
//! let tx = dp.encapsulate(key, &mut buf, headroom, 4).unwrap();
//! assert_eq!(tx.peer, peer);
//! let sent = Header::decode(&buf[tx.range]).unwrap();
//! assert_eq!((sent.header.tunnel_id, sent.header.session_id), (TunnelId(30), SessionId(40)));
//! assert_eq!(dp.stats(TunnelId(10), SessionId(0)).unwrap().tx_packets, 1);
//! ```

mod debug;
mod error;
mod fastpath;
mod journal;
mod options;
pub mod reorder;
mod session;
mod stats;
mod table;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use l2tp_wire::header::{FLAG_PRIORITY, FLAG_SEQUENCE, VERSION_2};
use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};

use debug::{l2tp_debug, RateLimiter};
use session::{Session, SessionRx, Shared, Tunnel};
use table::{canonical, IdMap, KeyedSlab};

pub use error::{ApiError, DropReason};
pub use journal::{DpSessionRecord, DpSessionRef, DpTunnelRecord, DpTunnelRef};
pub use options::{DebugMask, SessionOption, SessionOptions};
pub use session::OOS_RESYNC_RUN;
pub use stats::{DatapathCounters, L2tpStats};
pub use table::{SessionKey, SocketId};

/// Largest header [`Datapath::encapsulate`] writes: flags, tunnel and session ids, Ns and Nr
/// (no Length field, no offset, as the kernel sends data). Reserve at least this much headroom.
pub const DATA_HEADER_MAX: usize = 10;

/// Tunables of a [`Datapath`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DatapathConfig {
    /// Bound of each session's reorder queue (packets).
    pub reorder_queue_len: usize,
    /// Debug messages allowed per second after the burst, for the whole datapath.
    pub debug_per_sec: u32,
    /// Debug messages allowed at once.
    pub debug_burst: u32,
    /// Spare frame buffers kept for reuse.
    pub spare_buffers: usize,
    /// Accept data messages whose tunnel id is 0 when the source address and port and the
    /// session id name exactly one session (some D-Link routers send data so, see
    /// CLIENTS.md). Counted in [`DatapathCounters::zero_tunnel_id`].
    pub accept_zero_tunnel_id: bool,
}

impl Default for DatapathConfig {
    fn default() -> Self {
        DatapathConfig {
            reorder_queue_len: 64,
            debug_per_sec: 20,
            debug_burst: 100,
            spare_buffers: 1024,
            accept_zero_tunnel_id: true,
        }
    }
}

/// What is needed to create a session handle (the driver's `sockaddr_pppol2tp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our tunnel id (its management handle must exist).
    pub tunnel: TunnelId,
    /// Our session id.
    pub session: SessionId,
    /// The peer's tunnel id (written in the headers we send).
    pub peer_tunnel: TunnelId,
    /// The peer's session id.
    pub peer_session: SessionId,
    /// The peer's address: must be the tunnel's.
    pub peer: SocketAddr,
    /// Initial options. The session's debug mask starts as this one plus the tunnel's.
    pub options: SessionOptions,
}

impl SessionConfig {
    /// A session with default options (no sequencing, LAC mode, no reordering).
    pub fn new(
        tunnel: TunnelId,
        session: SessionId,
        peer_tunnel: TunnelId,
        peer_session: SessionId,
        peer: SocketAddr,
    ) -> Self {
        SessionConfig {
            tunnel,
            session,
            peer_tunnel,
            peer_session,
            peer,
            options: SessionOptions::default(),
        }
    }

    /// The same with these options.
    #[must_use]
    pub fn with_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }
}

/// Why a datagram goes to the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlReason {
    /// A control message (T = 1), including ZLB acknowledgements.
    Control,
    /// A data message for a (tunnel, session) with no session handle.
    UnknownSession,
}

/// A datagram for the control plane: pass the same `(from, datagram)` to its `Endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToControl {
    /// Why.
    pub reason: ControlReason,
    /// Tunnel id in the header.
    pub tunnel: TunnelId,
    /// Session id in the header.
    pub session: SessionId,
    /// Socket it arrived on.
    pub socket: SocketId,
}

/// What [`Datapath::receive`] did with a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxResult {
    /// An in-order PPP frame: `datagram[frame]`, not copied. Deliver it, then drain
    /// [`Datapath::poll_deliver`] (frames it released may follow it).
    Deliver {
        /// The session it belongs to.
        session: SessionKey,
        /// Where the PPP frame is in the datagram (after header and offset padding).
        frame: Range<usize>,
        /// The P bit (RFC 2661 §3.1: "preferential treatment"), passed through.
        priority: bool,
    },
    /// Copied and held (for reordering) or released: drain [`Datapath::poll_deliver`].
    Queued {
        /// The session it belongs to.
        session: SessionKey,
    },
    /// For the control plane (counted in [`DatapathCounters`]).
    ToControl(ToControl),
    /// Dropped and counted.
    Dropped(DropReason),
}

/// A frame released in order after waiting (owned; give the buffer back with
/// [`Datapath::recycle`] to avoid allocations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The session it belongs to.
    pub session: SessionKey,
    /// The PPP frame.
    pub frame: Vec<u8>,
    /// The P bit.
    pub priority: bool,
}

/// Where an encapsulated packet goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The tunnel's socket.
    pub socket: SocketId,
    /// The tunnel's peer.
    pub peer: SocketAddr,
    /// The L2TP packet in the caller's buffer (header + payload).
    pub range: Range<usize>,
}

/// The datapath: tunnels, sessions, sequencing, reordering and statistics, without I/O.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Datapath {
    config: DatapathConfig,
    tunnels: Vec<Option<Tunnel>>,
    tunnel_slots: IdMap<usize>,
    free_slots: Vec<usize>,
    sessions: KeyedSlab<Session>,
    /// Slot of the session the last received packet belonged to (see [`KeyedSlab`]).
    rx_hint: usize,
    /// Slot of the session the last transmitted packet belonged to.
    tx_hint: usize,
    /// Sessions by (peer, our session id), for peers that send tunnel id 0.
    by_peer_session: HashMap<(SocketAddr, u16), PeerSessionKeys>,
    shared: Shared,
    counters: DatapathCounters,
    /// Counters of every tunnel removed so far: with the live tunnels' counters they give
    /// totals that never go down.
    closed_tunnels: L2tpStats,
    /// Latest `now` seen, for rate-limiting messages of calls that take no time.
    #[serde(with = "l2tp_snap::opt_instant")]
    last_now: Option<Instant>,
}

impl Datapath {
    /// Gives back memory held for sessions and tunnels that are gone (call it after many
    /// sessions ended; it costs a pass over the tables).
    pub fn shrink_to_fit(&mut self) {
        self.sessions.shrink_to_fit();
        while matches!(self.tunnels.last(), Some(None)) {
            self.tunnels.pop();
        }
        let len = self.tunnels.len();
        self.free_slots.retain(|&i| i < len);
        self.tunnels.shrink_to_fit();
        self.free_slots.shrink_to_fit();
        self.tunnel_slots.shrink_to_fit();
        self.by_peer_session.shrink_to_fit();
    }

    /// An empty datapath.
    pub fn new(config: DatapathConfig) -> Self {
        let shared = Shared {
            ready: VecDeque::new(),
            pool: Vec::new(),
            pool_max: config.spare_buffers,
            limiter: RateLimiter::new(config.debug_per_sec, config.debug_burst),
            timers: BinaryHeap::new(),
        };
        Datapath {
            config,
            tunnels: Vec::new(),
            tunnel_slots: IdMap::default(),
            free_slots: Vec::new(),
            sessions: KeyedSlab::default(),
            rx_hint: 0,
            tx_hint: 0,
            by_peer_session: HashMap::new(),
            shared,
            counters: DatapathCounters::default(),
            closed_tunnels: L2tpStats::default(),
            last_now: None,
        }
    }

    // ---- handles -------------------------------------------------------------------------

    /// Creates the management handle of tunnel `tunnel` (ours), bound to `socket` and `peer`
    /// (the seed's step 2). It must exist before the tunnel's sessions.
    pub fn create_tunnel(
        &mut self,
        tunnel: TunnelId,
        socket: SocketId,
        peer: SocketAddr,
    ) -> Result<(), ApiError> {
        if tunnel.is_zero() {
            return Err(ApiError::ZeroTunnelId);
        }
        let k = u32::from(tunnel.0);
        if self.tunnel_slots.contains_key(&k) {
            return Err(ApiError::TunnelExists(tunnel));
        }
        let t = Tunnel {
            id: tunnel,
            socket,
            peer: canonical(peer),
            debug: DebugMask::NONE,
            stats: L2tpStats::default(),
            sessions: 0,
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.tunnels[s] = Some(t);
                s
            }
            None => {
                self.tunnels.push(Some(t));
                self.tunnels.len() - 1
            }
        };
        self.tunnel_slots.insert(k, slot);
        Ok(())
    }

    /// Closes a tunnel management handle, and with it the tunnel's sessions (their held frames
    /// are discarded). Returns how many sessions were closed.
    pub fn remove_tunnel(&mut self, tunnel: TunnelId) -> Result<usize, ApiError> {
        let slot = self
            .tunnel_slots
            .remove(&u32::from(tunnel.0))
            .ok_or(ApiError::UnknownTunnel(tunnel))?;
        let keys: Vec<u32> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.tunnel_slot == slot)
            .map(|(k, _)| *k)
            .collect();
        let peer = self
            .tunnels
            .get(slot)
            .and_then(Option::as_ref)
            .map(|t| t.peer);
        for k in &keys {
            if let Some(mut s) = self.sessions.remove(k) {
                for h in s.queue.drain() {
                    self.shared.recycle(h.item.buf);
                }
                if let Some(peer) = peer {
                    self.unindex(peer, s.key);
                }
            }
        }
        if let Some(t) = self.tunnels.get_mut(slot) {
            if let Some(old) = t.take() {
                self.closed_tunnels.accumulate(&old.stats);
                self.debug_control(old.debug, format_args!("tunnel {} closed", old.id));
            }
        }
        self.free_slots.push(slot);
        Ok(keys.len())
    }

    /// Changes the tunnel's peer address (the control plane saw it move, e.g. a NAT rebinding).
    pub fn set_tunnel_peer(&mut self, tunnel: TunnelId, peer: SocketAddr) -> Result<(), ApiError> {
        let t = self.tunnel_mut(tunnel)?;
        let old = std::mem::replace(&mut t.peer, canonical(peer));
        let new = t.peer;
        let keys: Vec<SessionKey> = self
            .sessions
            .values()
            .filter(|s| s.key.tunnel == tunnel)
            .map(|s| s.key)
            .collect();
        for key in keys {
            self.unindex(old, key);
            self.index(new, key);
        }
        Ok(())
    }

    /// Creates a session handle (the seed's step 3). Refuses zero ids, a missing tunnel
    /// management handle, a duplicate, and a peer address other than the tunnel's.
    pub fn create_session(&mut self, cfg: SessionConfig) -> Result<SessionKey, ApiError> {
        if cfg.tunnel.is_zero() {
            return Err(ApiError::ZeroTunnelId);
        }
        if cfg.session.is_zero() {
            return Err(ApiError::ZeroSessionId);
        }
        if cfg.peer_tunnel.is_zero() {
            return Err(ApiError::ZeroPeerTunnelId);
        }
        if cfg.peer_session.is_zero() {
            return Err(ApiError::ZeroPeerSessionId);
        }
        let slot = *self
            .tunnel_slots
            .get(&u32::from(cfg.tunnel.0))
            .ok_or(ApiError::SessionBeforeTunnel(cfg.tunnel))?;
        let key = SessionKey::new(cfg.tunnel, cfg.session);
        if self.sessions.contains_key(&key.raw()) {
            return Err(ApiError::SessionExists(key));
        }
        let Some(Some(tun)) = self.tunnels.get_mut(slot) else {
            return Err(ApiError::SessionBeforeTunnel(cfg.tunnel));
        };
        if canonical(cfg.peer) != tun.peer {
            return Err(ApiError::PeerMismatch {
                tunnel: cfg.tunnel,
                tunnel_peer: tun.peer,
                session_peer: cfg.peer,
            });
        }
        tun.sessions += 1;
        let mut opts = cfg.options;
        opts.debug = opts.debug | tun.debug;
        let tdebug = tun.debug;
        let tpeer = tun.peer;
        self.index(tpeer, key);
        self.sessions.insert(
            key.raw(),
            Session {
                key,
                tunnel_slot: slot,
                peer_tunnel: cfg.peer_tunnel,
                peer_session: cfg.peer_session,
                opts,
                ns: SeqNum(0),
                nr: None,
                skip: false,
                oos_last: None,
                oos_run: 0,
                queue: reorder::ReorderQueue::new(self.config.reorder_queue_len),
                stats: L2tpStats::default(),
            },
        );
        self.debug_control(
            opts.debug | tdebug,
            format_args!(
                "session {key} created (peer {}/{})",
                cfg.peer_tunnel, cfg.peer_session
            ),
        );
        Ok(key)
    }

    /// Closes a session handle; its held frames are discarded.
    pub fn remove_session(&mut self, key: SessionKey) -> Result<(), ApiError> {
        let mut s = self
            .sessions
            .remove(&key.raw())
            .ok_or(ApiError::UnknownSession(key))?;
        for h in s.queue.drain() {
            self.shared.recycle(h.item.buf);
        }
        if let Some(Some(t)) = self.tunnels.get_mut(s.tunnel_slot) {
            t.sessions = t.sessions.saturating_sub(1);
            let peer = t.peer;
            self.unindex(peer, key);
        }
        self.debug_control(s.opts.debug, format_args!("session {key} closed"));
        Ok(())
    }

    /// Sets an option on a handle, as `setsockopt` does: on a session handle any option; on a
    /// tunnel management handle (session id 0) only DEBUG.
    pub fn set_option(&mut self, key: SessionKey, option: SessionOption) -> Result<(), ApiError> {
        if key.is_tunnel() {
            return match option {
                SessionOption::Debug(mask) => self.set_tunnel_debug(key.tunnel, mask),
                other => {
                    // Make "unknown tunnel" win over "unsupported option" for a clearer error.
                    self.tunnel_mut(key.tunnel)?;
                    Err(ApiError::TunnelOptionNotSupported {
                        tunnel: key.tunnel,
                        option: other.name(),
                    })
                }
            };
        }
        let s = self
            .sessions
            .get_mut(&key.raw())
            .ok_or(ApiError::UnknownSession(key))?;
        option.apply(&mut s.opts);
        let mask = s.opts.debug;
        self.debug_control(mask, format_args!("session {key}: {option:?}"));
        Ok(())
    }

    /// Sets the tunnel management handle's debug mask (the only tunnel option).
    pub fn set_tunnel_debug(&mut self, tunnel: TunnelId, mask: DebugMask) -> Result<(), ApiError> {
        let t = self.tunnel_mut(tunnel)?;
        t.debug = mask;
        self.debug_control(mask, format_args!("tunnel {tunnel}: DEBUG {:#x}", mask.0));
        Ok(())
    }

    /// A session's current options (SENDSEQ may have been changed by the peer, rule 1).
    pub fn session_options(&self, key: SessionKey) -> Result<SessionOptions, ApiError> {
        self.sessions
            .get(&key.raw())
            .map(|s| s.opts)
            .ok_or(ApiError::UnknownSession(key))
    }

    /// A tunnel management handle's debug mask.
    pub fn tunnel_debug(&self, tunnel: TunnelId) -> Result<DebugMask, ApiError> {
        self.tunnel(tunnel).map(|t| t.debug)
    }

    /// The driver's eight counters (`PPPIOCGL2TPSTATS`): of the session, or of the tunnel
    /// when `session` is 0 (aggregate of its sessions plus tunnel-level drops).
    pub fn stats(&self, tunnel: TunnelId, session: SessionId) -> Result<L2tpStats, ApiError> {
        if session.is_zero() {
            return self.tunnel(tunnel).map(|t| t.stats);
        }
        let key = SessionKey::new(tunnel, session);
        self.sessions
            .get(&key.raw())
            .map(|s| s.stats)
            .ok_or(ApiError::UnknownSession(key))
    }

    /// The eight counters summed over every tunnel removed so far (add the live tunnels'
    /// [`Datapath::stats`] for daemon-wide totals).
    pub fn closed_tunnel_stats(&self) -> L2tpStats {
        self.closed_tunnels
    }

    /// Datapath-wide classification counters.
    pub fn counters(&self) -> DatapathCounters {
        let mut c = self.counters;
        c.debug_suppressed = self.shared.limiter.total_suppressed;
        c
    }

    /// Frames of this session held in its reorder queue (0 for unknown handles).
    pub fn queued_len(&self, key: SessionKey) -> usize {
        self.sessions.get(&key.raw()).map_or(0, |s| s.queue.len())
    }

    /// Every tunnel management handle (in no particular order).
    pub fn tunnels(&self) -> impl Iterator<Item = TunnelId> + '_ {
        self.tunnel_slots.keys().map(|&k| TunnelId(k as u16))
    }

    /// Every session handle (in no particular order).
    pub fn sessions(&self) -> impl Iterator<Item = SessionKey> + '_ {
        self.sessions.values().map(|s| s.key)
    }

    /// Number of session handles.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of tunnel management handles.
    pub fn tunnel_count(&self) -> usize {
        self.tunnel_slots.len()
    }

    // ---- receive -------------------------------------------------------------------------

    /// Classifies and processes one datagram received on the shared socket
    /// ([`SocketId::SHARED`]). See [`Datapath::receive_on`].
    #[inline]
    pub fn receive(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> RxResult {
        self.receive_on(now, SocketId::SHARED, from, datagram)
    }

    /// Classifies and processes one datagram received on `socket` from `from`.
    ///
    /// Control messages and data for unknown sessions go to the control plane (counted).
    /// Data for a known session must come from the tunnel's peer address and port, on the
    /// tunnel's socket; then the sequencing rules apply, the Offset field is honoured, and the
    /// frame is delivered in order. After it, drain [`Datapath::poll_deliver`].
    pub fn receive_on(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) -> RxResult {
        self.last_now = Some(now);
        let v = match fastpath::parse_data(datagram) {
            Some(v) => v,
            None => match self.classify_slow(socket, datagram) {
                Ok(v) => v,
                Err(r) => return r,
            },
        };
        let mut key = SessionKey::new(TunnelId((v.key >> 16) as u16), SessionId(v.key as u16));
        if key.tunnel.is_zero() {
            key = self.zero_tunnel_id(from, key);
        }
        let Some(sess) = self
            .sessions
            .get_mut_hinted(key.raw(), &mut self.rx_hint)
            .filter(|_| !key.is_tunnel())
        else {
            return self.unknown_session(now, socket, from, key);
        };
        let Some(Some(tun)) = self.tunnels.get_mut(sess.tunnel_slot) else {
            // A session always has its tunnel; treat an inconsistency as unknown.
            return self.unknown_session(now, socket, from, key);
        };
        // Security: data only from the tunnel's peer (address and port) on its socket.
        if socket != tun.socket || canonical(from) != tun.peer {
            return Self::wrong_peer(tun, &mut self.counters, &mut self.shared.limiter, now, from);
        }
        let frame = v.start..v.end;
        let payload = datagram.get(frame.clone()).unwrap_or_default();
        match sess.receive(tun, &mut self.shared, now, v.seq, payload, v.priority) {
            SessionRx::Deliver => RxResult::Deliver {
                session: key,
                frame,
                priority: v.priority,
            },
            SessionRx::Queued => RxResult::Queued { session: key },
            SessionRx::Dropped(r) => RxResult::Dropped(r),
        }
    }

    /// Datagrams the fast parser does not take: control messages and malformed ones (and, in
    /// principle, any data message it missed: then its view from the full decoder).
    #[cold]
    #[inline(never)]
    fn classify_slow(
        &mut self,
        socket: SocketId,
        datagram: &[u8],
    ) -> Result<fastpath::DataView, RxResult> {
        match Header::decode(datagram) {
            Err(e) => {
                self.counters.malformed += 1;
                Err(RxResult::Dropped(DropReason::Malformed(e)))
            }
            Ok(d) if d.header.is_control() => {
                self.counters.control += 1;
                Err(RxResult::ToControl(ToControl {
                    reason: ControlReason::Control,
                    tunnel: d.header.tunnel_id,
                    session: d.header.session_id,
                    socket,
                }))
            }
            Ok(d) => Ok(fastpath::DataView::from_decoded(&d)),
        }
    }

    /// Lenient: a peer that sends tunnel id 0 (CLIENTS.md: some D-Link routers) is understood
    /// when its address, port and our session id name exactly one session.
    #[cold]
    #[inline(never)]
    fn zero_tunnel_id(&mut self, from: SocketAddr, key: SessionKey) -> SessionKey {
        if key.session.is_zero() || !self.config.accept_zero_tunnel_id {
            return key;
        }
        match self
            .by_peer_session
            .get(&(canonical(from), key.session.0))
            .and_then(PeerSessionKeys::single)
        {
            Some(k) => {
                self.counters.zero_tunnel_id += 1;
                k
            }
            _ => key,
        }
    }

    #[cold]
    #[inline(never)]
    fn unknown_session(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        key: SessionKey,
    ) -> RxResult {
        if let Ok(t) = self.tunnel(key.tunnel) {
            let mask = t.debug;
            l2tp_debug!(self.shared.limiter, now, mask, DEBUG,
                tunnel = %key.tunnel, session = %key.session, %from,
                "data for an unknown session: to the control plane");
        }
        self.counters.unknown_session += 1;
        RxResult::ToControl(ToControl {
            reason: ControlReason::UnknownSession,
            tunnel: key.tunnel,
            session: key.session,
            socket,
        })
    }

    #[cold]
    #[inline(never)]
    fn wrong_peer(
        tun: &mut Tunnel,
        counters: &mut DatapathCounters,
        limiter: &mut RateLimiter,
        now: Instant,
        from: SocketAddr,
    ) -> RxResult {
        tun.stats.rx_errors += 1;
        counters.wrong_peer += 1;
        l2tp_debug!(limiter, now, tun.debug, DATA,
            tunnel = %tun.id, %from, expected = %tun.peer, "data from a foreign address dropped");
        RxResult::Dropped(DropReason::WrongPeer {
            tunnel: tun.id,
            from,
        })
    }

    /// The next frame released in order after waiting, if any. Drain after every input.
    pub fn poll_deliver(&mut self) -> Option<Delivery> {
        self.shared.ready.pop_front()
    }

    /// Gives a delivered frame's buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.shared.recycle(buf);
    }

    /// When [`Datapath::handle_timeout`] should next run (a held packet's deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.shared.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Expires held packets whose REORDERTO passed and releases what is then in order.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        while let Some(Reverse((t, raw))) = self.shared.timers.peek().copied() {
            if t > now {
                break;
            }
            self.shared.timers.pop();
            let Some(sess) = self.sessions.get_mut(&raw) else {
                continue;
            };
            if sess.queue.is_empty() {
                continue;
            }
            if let Some(Some(tun)) = self.tunnels.get_mut(sess.tunnel_slot) {
                sess.service(tun, &mut self.shared, now);
            }
        }
    }

    // ---- transmit ------------------------------------------------------------------------

    /// The header length [`Datapath::encapsulate`] would write now for this session (6, or
    /// 10 with SENDSEQ).
    pub fn header_len(&self, key: SessionKey) -> Result<usize, ApiError> {
        self.sessions
            .get(&key.raw())
            .map(|s| if s.opts.send_seq { 10 } else { 6 })
            .ok_or(ApiError::UnknownSession(key))
    }

    /// Turns a PPP frame at `buf[headroom..headroom + payload_len]` into an L2TP data message
    /// by writing the header just in front of it (no copy of the payload). With SENDSEQ the
    /// header carries Ns (RFC 2661 §5.4; Nr is reserved in data messages and sent as 0).
    pub fn encapsulate(
        &mut self,
        key: SessionKey,
        buf: &mut [u8],
        headroom: usize,
        payload_len: usize,
    ) -> Result<Transmit, ApiError> {
        self.encapsulate_with(key, buf, headroom, payload_len, false)
    }

    /// [`Datapath::encapsulate`] with the P bit: RFC 2661 §3.1, the frame "should receive
    /// preferential treatment" (e.g. LCP Echo keepalives, so congestion cannot kill the link).
    pub fn encapsulate_priority(
        &mut self,
        key: SessionKey,
        buf: &mut [u8],
        headroom: usize,
        payload_len: usize,
    ) -> Result<Transmit, ApiError> {
        self.encapsulate_with(key, buf, headroom, payload_len, true)
    }

    #[inline(always)]
    fn encapsulate_with(
        &mut self,
        key: SessionKey,
        buf: &mut [u8],
        headroom: usize,
        payload_len: usize,
        priority: bool,
    ) -> Result<Transmit, ApiError> {
        let s = self
            .sessions
            .get_mut_hinted(key.raw(), &mut self.tx_hint)
            .ok_or(ApiError::UnknownSession(key))?;
        let Some(Some(tun)) = self.tunnels.get_mut(s.tunnel_slot) else {
            return Err(ApiError::UnknownTunnel(key.tunnel));
        };
        let seq = s.opts.send_seq;
        let hlen = if seq { 10 } else { 6 };
        let err = if headroom < hlen {
            Some(ApiError::HeadroomTooSmall {
                need: hlen,
                have: headroom,
            })
        } else if headroom
            .checked_add(payload_len)
            .is_none_or(|end| end > buf.len())
        {
            Some(ApiError::PayloadOutOfBuffer {
                headroom,
                payload_len,
                buf_len: buf.len(),
            })
        } else {
            None
        };
        if let Some(e) = err {
            s.stats.tx_errors += 1;
            tun.stats.tx_errors += 1;
            return Err(e);
        }
        let start = headroom - hlen;
        // RFC 2661 §3.1 data header, as the kernel sends it: no Length, no Offset; with
        // SENDSEQ the S bit, Ns, and Nr (reserved in data messages) as 0.
        let flags = u16::from(VERSION_2)
            | if seq { FLAG_SEQUENCE } else { 0 }
            | if priority { FLAG_PRIORITY } else { 0 };
        let hdr = &mut buf[start..headroom];
        hdr[0..2].copy_from_slice(&flags.to_be_bytes());
        hdr[2..4].copy_from_slice(&s.peer_tunnel.0.to_be_bytes());
        hdr[4..6].copy_from_slice(&s.peer_session.0.to_be_bytes());
        let ns = s.ns;
        if seq {
            hdr[6..8].copy_from_slice(&ns.0.to_be_bytes());
            hdr[8..10].copy_from_slice(&[0, 0]);
            s.ns = ns.next();
        }
        s.stats.tx_packets += 1;
        s.stats.tx_bytes += payload_len as u64;
        tun.stats.tx_packets += 1;
        tun.stats.tx_bytes += payload_len as u64;
        if let Some(now) = self.last_now {
            l2tp_debug!(self.shared.limiter, now, s.opts.debug, DATA,
                session = %key, len = payload_len, ns = ?seq.then_some(ns.0), "frame sent");
        }
        Ok(Transmit {
            socket: tun.socket,
            peer: tun.peer,
            range: start..headroom + payload_len,
        })
    }

    /// Records `n` frames of this session that the I/O layer could not send (`tx_errors`).
    pub fn record_tx_errors(&mut self, key: SessionKey, n: u64) -> Result<(), ApiError> {
        let s = self
            .sessions
            .get_mut(&key.raw())
            .ok_or(ApiError::UnknownSession(key))?;
        s.stats.tx_errors += n;
        if let Some(Some(t)) = self.tunnels.get_mut(s.tunnel_slot) {
            t.stats.tx_errors += n;
        }
        Ok(())
    }

    // ---- helpers -------------------------------------------------------------------------

    fn tunnel(&self, tunnel: TunnelId) -> Result<&Tunnel, ApiError> {
        self.tunnel_slots
            .get(&u32::from(tunnel.0))
            .and_then(|&s| self.tunnels.get(s))
            .and_then(Option::as_ref)
            .ok_or(ApiError::UnknownTunnel(tunnel))
    }

    fn tunnel_mut(&mut self, tunnel: TunnelId) -> Result<&mut Tunnel, ApiError> {
        self.tunnel_slots
            .get(&u32::from(tunnel.0))
            .and_then(|&s| self.tunnels.get_mut(s))
            .and_then(Option::as_mut)
            .ok_or(ApiError::UnknownTunnel(tunnel))
    }

    fn index(&mut self, peer: SocketAddr, key: SessionKey) {
        match self.by_peer_session.entry((peer, key.session.0)) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(key),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(PeerSessionKeys::One(key));
            }
        }
    }

    fn unindex(&mut self, peer: SocketAddr, key: SessionKey) {
        let k = (peer, key.session.0);
        if let Some(v) = self.by_peer_session.get_mut(&k) {
            if v.remove(key) {
                self.by_peer_session.remove(&k);
            }
        }
    }

    /// A CONTROL-category message (handles and options), rate-limited on the latest `now`.
    fn debug_control(&mut self, mask: DebugMask, msg: std::fmt::Arguments<'_>) {
        if !mask.contains(DebugMask::CONTROL) {
            return;
        }
        let allowed = match self.last_now {
            Some(now) => self.shared.limiter.allow(now),
            None => Some(0),
        };
        if let Some(suppressed) = allowed {
            tracing::debug!(target: "l2tp::data", category = "CONTROL", suppressed, "{msg}");
        }
    }
}

/// The sessions one peer address knows under one of our session ids: nearly always one, so
/// that case takes no allocation (the index holds an entry per session).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum PeerSessionKeys {
    One(SessionKey),
    Many(Vec<SessionKey>),
}

impl PeerSessionKeys {
    fn push(&mut self, key: SessionKey) {
        match self {
            PeerSessionKeys::One(k) => *self = PeerSessionKeys::Many(vec![*k, key]),
            PeerSessionKeys::Many(v) => v.push(key),
        }
    }

    /// Removes `key`; true when none is left.
    fn remove(&mut self, key: SessionKey) -> bool {
        match self {
            PeerSessionKeys::One(k) => *k == key,
            PeerSessionKeys::Many(v) => {
                v.retain(|x| *x != key);
                match v[..] {
                    [] => true,
                    [k] => {
                        *self = PeerSessionKeys::One(k);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    /// The session, when exactly one matches.
    fn single(&self) -> Option<SessionKey> {
        match self {
            PeerSessionKeys::One(k) => Some(*k),
            PeerSessionKeys::Many(v) => match v[..] {
                [k] => Some(k),
                _ => None,
            },
        }
    }
}
