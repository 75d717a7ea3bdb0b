//! The kernel's PPPoL2TP datapath as the daemon's second backend (see docs/datapath.md).
//!
//! The sequence is the kernel documentation's ("PPPoL2TP driver"): "Use a UDP socket per
//! tunnel"; "Create a single PPPoL2TP socket per tunnel bound to a special null session id
//! ... must remain open while the tunnel is active"; "Create a PPPoL2TP socket per L2TP
//! session". So, per tunnel that comes up: a UDP socket bound to the node's local address and
//! port and connected to the peer (the kernel delivers the peer's datagrams to it, not to
//! the listening socket, and sends the tunnel's data through it), then the management socket
//! on it. Per session: its PPPoL2TP socket with both ids, its options, and `/dev/ppp`
//! attached to its PPP channel. When IPCP is up, a unit (`pppN`) is connected to the
//! channel; the shell addresses it (`local peer PEER/32`, MTU, up) as it would a TUN.
//!
//! From then on IP never reaches userspace. What does: control messages (and data for
//! sessions the kernel does not know) on the tunnel's UDP socket, and LCP, authentication
//! and NCP frames on the channel and unit fds. The shell polls those fds (tokens from
//! [`KERNEL_TOKEN_BASE`]) and reads them with [`KernelDp::read_ready`].
//!
//! With `ppp.mode = "pppd"` a session is its socket alone, handed to pppd (`super::pppd`):
//! the child's pidfd is watched instead of a channel; its exit is reported to the core
//! ([`KernelRx::PppdExited`]), and a session removed by the core has its pppd sent SIGTERM
//! and, after [`PPPD_GRACE`], SIGKILL (both reaped, without blocking the loop).
//!
//! The state is shared between the core (which drives it through [`DatapathBackend`]) and
//! the shell (which reads its fds): one mutex, taken on the control path only.
//!
//! On a hitless upgrade the table travels as descriptors ([`KernelDp::handed_over`],
//! [`KernelDp::adopt`]): the kernel keeps a tunnel while its sockets are open and a session
//! while its socket, channel and unit are, in whichever process; so the new process takes
//! the very same kernel objects (nothing is re-created, `pppN` with its addresses, routes
//! and qdiscs stays) and the kernel forwards data the whole time. Sessions handed to pppd
//! are not carried (their pppd is the old process's child): such a daemon refuses.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use l2tp_io::child::Child;
use l2tp_io::kernel_session::KernelSession;
use l2tp_io::poller::{Interest, Poller, Token};
use l2tp_io::ppp_unit::{PppChannel, PppUnit};
use l2tp_io::pppol2tp::{SessionIds, SessionSocket, TunnelSocket};
use l2tp_io::udp::{UdpOptions, UdpSocket};
use l2tp_proto::data::{
    ApiError, ControlReason, Datapath, DatapathConfig, DatapathCounters, DebugMask, Delivery,
    L2tpStats, RxResult, SessionConfig, SessionKey, SessionOption, SessionOptions, SocketId,
    Transmit,
};
use l2tp_wire::{SessionId, TunnelId};

use crate::config::DatapathMode;
use crate::core::{DatapathBackend, IpMode, NodeConfig, RoleSettings};

use super::pppd::{exit_result, exit_words, PppdSpec, PPPD_GRACE};

/// First poll token of the kernel backend's fds (below: sockets, wakers, TUNs).
pub const KERNEL_TOKEN_BASE: u64 = 1 << 41;
/// Reads per readiness event before other work gets a turn.
const READ_BUDGET: usize = 64;
/// Largest control message or PPP frame read.
const READ_BUF: usize = 65_536;

/// What a watched fd is.
#[derive(Debug, Clone, Copy)]
enum Watch {
    Udp(TunnelId),
    Channel(SessionKey),
    Unit(SessionKey),
    /// A session's pppd (its pidfd).
    Pppd(SessionKey),
    /// A pppd told to stop, until reaped (its pidfd).
    Dying(u32),
}

/// Something read from the kernel backend's fds, for the core.
#[derive(Debug)]
pub enum KernelRx {
    /// A datagram on a tunnel's UDP socket (control, or data the kernel passed up).
    Datagram {
        /// The node's socket index with the same local address.
        socket: usize,
        /// The sender.
        from: SocketAddr,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A PPP frame from a session's channel or unit.
    Frame {
        /// The session.
        key: SessionKey,
        /// The frame, protocol field first.
        bytes: Vec<u8>,
    },
    /// A session's pppd exited (reaped).
    PppdExited {
        /// The session.
        key: SessionKey,
        /// CDN result code.
        result: u16,
        /// What happened, in words.
        why: String,
    },
}

/// The kernel datapath's table in a hand-over manifest: what each of its descriptors is.
/// They travel in this order: per tunnel its UDP socket then its management socket; then
/// per session its PPPoL2TP socket, its `/dev/ppp` channel fd and, when attached, its unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelTable {
    /// The tunnels.
    pub tunnels: Vec<TunnelDesc>,
    /// The sessions (our own PPP on each).
    pub sessions: Vec<SessionDesc>,
}

/// One kernel tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelDesc {
    /// Our tunnel id.
    pub tunnel: u16,
    /// The node's socket index with the same local address.
    pub socket: u32,
}

/// One kernel session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionDesc {
    /// Our tunnel id.
    pub tunnel: u16,
    /// Our session id.
    pub session: u16,
    /// The peer's tunnel id.
    pub peer_tunnel: u16,
    /// The peer's session id.
    pub peer_session: u16,
    /// The PPP channel's index.
    pub channel: u32,
    /// Whether a unit (`pppN`) is attached (its fd follows the channel's).
    pub unit: bool,
}

impl KernelTable {
    /// How many descriptors the table stands for.
    pub fn fds(&self) -> usize {
        2 * self.tunnels.len()
            + self
                .sessions
                .iter()
                .map(|s| 2 + usize::from(s.unit))
                .sum::<usize>()
    }
}

struct KTunnel {
    /// Declared before `udp`: the management socket closes first.
    mgmt: TunnelSocket,
    udp: UdpSocket,
    socket: SocketId,
}

/// A session: our PPP on its channel, or its socket handed to pppd.
enum KSession {
    Builtin {
        session: KernelSession,
        tokens: Vec<u64>,
    },
    Pppd {
        /// Declared first: pppd is told to go before our copy of the socket closes.
        child: Option<Child>,
        socket: SessionSocket,
        token: u64,
    },
}

impl KSession {
    fn socket(&self) -> &SessionSocket {
        match self {
            KSession::Builtin { session, .. } => session.socket(),
            KSession::Pppd { socket, .. } => socket,
        }
    }
}

/// A pppd sent SIGTERM, watched until it exits (or `deadline`: SIGKILL).
struct Dying {
    child: Child,
    key: SessionKey,
    token: u64,
    deadline: Instant,
}

/// The kernel datapath's state: tunnels, sessions, the fds the shell polls.
pub struct KernelDp {
    locals: Vec<SocketAddr>,
    poller: Poller,
    /// Sessions first: dropped before the tunnels they belong to.
    sessions: HashMap<SessionKey, KSession>,
    tunnels: HashMap<TunnelId, (KTunnel, u64)>,
    watches: HashMap<u64, Watch>,
    next_token: u64,
    /// Classifies what reaches userspace (control, or data for an unknown session) and
    /// counts it, as on the userspace path; it never holds a session.
    classifier: Datapath,
    closed: L2tpStats,
    buf: Vec<u8>,
    /// `ppp.mode = "pppd"`: how each session's pppd is started.
    pppd: Option<PppdSpec>,
    /// pppds told to stop, by pid.
    dying: HashMap<u32, Dying>,
}

fn backend_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Backend(e.to_string())
}

impl KernelDp {
    /// A kernel datapath for a node bound to `locals`, registering its fds with `poller`.
    pub fn new(locals: Vec<SocketAddr>, poller: Poller) -> KernelDp {
        KernelDp {
            locals,
            poller,
            sessions: HashMap::new(),
            tunnels: HashMap::new(),
            watches: HashMap::new(),
            next_token: KERNEL_TOKEN_BASE,
            classifier: Datapath::new(DatapathConfig::default()),
            closed: L2tpStats::default(),
            buf: vec![0; READ_BUF],
            pppd: None,
            dying: HashMap::new(),
        }
    }

    /// Hands every session from now on to pppd (`ppp.mode = "pppd"`).
    pub fn set_pppd(&mut self, spec: PppdSpec) {
        self.pppd = Some(spec);
    }

    /// Why this table cannot be handed to another process (None: it can).
    pub fn hand_over_refusal(&self) -> Option<&'static str> {
        if self.pppd.is_some() || !self.dying.is_empty() {
            return Some(
                "ppp.mode = \"pppd\": each session's PPP runs in a pppd process, a child of \
                 this daemon, which is not carried over (restart instead)",
            );
        }
        None
    }

    /// The table for a hand-over and its descriptors in [`KernelTable`] order (borrowed:
    /// they stay open here until the process exits).
    pub fn handed_over(&self) -> Result<(KernelTable, Vec<RawFd>), String> {
        if let Some(why) = self.hand_over_refusal() {
            return Err(why.into());
        }
        let mut table = KernelTable::default();
        let mut fds = Vec::new();
        let mut tunnels: Vec<_> = self.tunnels.iter().collect();
        tunnels.sort_by_key(|(t, _)| **t);
        for (tid, (t, _)) in tunnels {
            table.tunnels.push(TunnelDesc {
                tunnel: tid.0,
                socket: t.socket.0,
            });
            fds.push(t.udp.as_raw_fd());
            fds.push(t.mgmt.as_fd().as_raw_fd());
        }
        let mut sessions: Vec<_> = self.sessions.iter().collect();
        sessions.sort_by_key(|(k, _)| (k.tunnel, k.session));
        for (key, s) in sessions {
            let KSession::Builtin { session, .. } = s else {
                return Err(format!("session {key}: its PPP is pppd's"));
            };
            let ids = session.ids();
            table.sessions.push(SessionDesc {
                tunnel: ids.tunnel.0,
                session: ids.session.0,
                peer_tunnel: ids.peer_tunnel.0,
                peer_session: ids.peer_session.0,
                channel: session.channel().index(),
                unit: session.unit().is_some(),
            });
            fds.push(session.socket().as_fd().as_raw_fd());
            fds.push(session.channel().as_fd().as_raw_fd());
            if let Some(u) = session.unit() {
                fds.push(u.as_fd().as_raw_fd());
            }
        }
        Ok((table, fds))
    }

    /// Takes the kernel tunnels and sessions another process handed over (`fds` in
    /// `table` order) and watches their fds; nothing is created in the kernel. On error
    /// nothing is kept (the fds close here; the old process still has its own).
    pub fn adopt(&mut self, table: &KernelTable, fds: Vec<OwnedFd>) -> io::Result<()> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
        if fds.len() != table.fds() {
            return Err(invalid(format!(
                "kernel datapath: {} descriptors handed over, {} expected",
                fds.len(),
                table.fds()
            )));
        }
        let mut it = fds.into_iter();
        let mut next = || it.next().expect("counted");
        let mut tunnels = HashMap::new();
        for d in &table.tunnels {
            let tunnel = TunnelId(d.tunnel);
            if d.socket as usize >= self.locals.len() || tunnels.contains_key(&tunnel) {
                return Err(invalid(format!("kernel tunnel {tunnel}: bad entry {d:?}")));
            }
            let udp = UdpSocket::from_fd(next(), false, false)?;
            let mgmt = TunnelSocket::from_fd(next(), &udp, tunnel)?;
            tunnels.insert(
                tunnel,
                KTunnel {
                    mgmt,
                    udp,
                    socket: SocketId(d.socket),
                },
            );
        }
        let mut sessions = HashMap::new();
        for d in &table.sessions {
            let key = SessionKey::new(TunnelId(d.tunnel), SessionId(d.session));
            if !tunnels.contains_key(&key.tunnel) || sessions.contains_key(&key) {
                return Err(invalid(format!("kernel session {key}: bad entry {d:?}")));
            }
            let ids = SessionIds {
                tunnel: key.tunnel,
                session: key.session,
                peer_tunnel: TunnelId(d.peer_tunnel),
                peer_session: SessionId(d.peer_session),
            };
            let socket = SessionSocket::from_fd(next(), ids);
            let channel = PppChannel::from_fd(next(), d.channel);
            channel.set_nonblocking(true)?;
            let unit = if d.unit {
                let u = PppUnit::from_fd(next())?;
                u.set_nonblocking(true)?;
                Some(u)
            } else {
                None
            };
            sessions.insert(key, KernelSession::from_parts(socket, channel, unit));
        }
        // All taken: watched from now on.
        let (n_tunnels, n_sessions) = (tunnels.len(), sessions.len());
        for (tid, t) in tunnels {
            let token = self.watch(t.udp.as_raw_fd(), Watch::Udp(tid))?;
            self.tunnels.insert(tid, (t, token));
        }
        for (key, session) in sessions {
            let mut tokens =
                vec![self.watch(session.channel().as_fd().as_raw_fd(), Watch::Channel(key))?];
            if let Some(u) = session.unit() {
                tokens.push(self.watch(u.as_fd().as_raw_fd(), Watch::Unit(key))?);
            }
            self.sessions
                .insert(key, KSession::Builtin { session, tokens });
        }
        tracing::info!(
            tunnels = n_tunnels,
            sessions = n_sessions,
            "kernel datapath: tunnels and sessions taken over (nothing re-created)"
        );
        Ok(())
    }

    /// Reads a pppd's exit: the session's (reported to the core) or a dying one's (reaped).
    fn reap(&mut self, what: Watch, out: &mut Vec<KernelRx>) {
        match what {
            Watch::Pppd(key) => {
                let Some(KSession::Pppd { child, token, .. }) = self.sessions.get_mut(&key) else {
                    return;
                };
                let token = *token;
                let Some(c) = child.as_mut() else {
                    return;
                };
                let pid = c.id();
                let status = match c.try_wait() {
                    Ok(Some(st)) => st,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(session = %key, "pppd (pid {pid}): wait: {e}");
                        return;
                    }
                };
                let fd = c.as_fd().as_raw_fd();
                self.unwatch(token, fd);
                // The socket stays (the kernel session, its counters) until the core removes
                // the session after its CDN.
                if let Some(KSession::Pppd { child, .. }) = self.sessions.get_mut(&key) {
                    *child = None;
                }
                out.push(KernelRx::PppdExited {
                    key,
                    result: exit_result(status),
                    why: format!("pppd (pid {pid}) exited, {}", exit_words(status)),
                });
            }
            Watch::Dying(pid) => {
                let Some(d) = self.dying.get_mut(&pid) else {
                    return;
                };
                if let Ok(Some(st)) = d.child.try_wait() {
                    tracing::info!(session = %d.key, "pppd (pid {pid}) ended, {}", exit_words(st));
                    if let Some(d) = self.dying.remove(&pid) {
                        self.unwatch(d.token, d.child.as_fd().as_raw_fd());
                    }
                }
            }
            _ => {}
        }
    }

    /// Tells a session's pppd to stop (SIGTERM) and watches it until it does.
    fn stop_pppd(&mut self, key: SessionKey, child: Child, token: u64, now: Instant) {
        let pid = child.id();
        if let Err(e) = child.signal(libc::SIGTERM) {
            tracing::warn!(session = %key, "pppd (pid {pid}): SIGTERM: {e}");
        }
        self.watches.insert(token, Watch::Dying(pid));
        self.dying.insert(
            pid,
            Dying {
                child,
                key,
                token,
                deadline: now + PPPD_GRACE,
            },
        );
    }

    /// pppds past their grace: SIGKILL, reaped.
    fn kill_overdue(&mut self, now: Instant) {
        let overdue: Vec<u32> = self
            .dying
            .iter()
            .filter(|(_, d)| d.deadline <= now)
            .map(|(p, _)| *p)
            .collect();
        for pid in overdue {
            if let Some(mut d) = self.dying.remove(&pid) {
                self.unwatch(d.token, d.child.as_fd().as_raw_fd());
                match d.child.kill() {
                    Ok(st) => {
                        tracing::warn!(session = %d.key, "pppd (pid {pid}) still running {} s after SIGTERM: {}", PPPD_GRACE.as_secs(), exit_words(st))
                    }
                    Err(e) => tracing::warn!(session = %d.key, "pppd (pid {pid}): SIGKILL: {e}"),
                }
            }
        }
    }

    fn watch(&mut self, fd: i32, what: Watch) -> io::Result<u64> {
        let token = self.next_token;
        self.next_token += 1;
        self.poller.register(fd, Token(token), Interest::READABLE)?;
        self.watches.insert(token, what);
        Ok(token)
    }

    fn unwatch(&mut self, token: u64, fd: i32) {
        let _ = self.poller.deregister(fd);
        self.watches.remove(&token);
    }

    fn session(&self, key: SessionKey) -> Result<&KSession, ApiError> {
        self.sessions.get(&key).ok_or(ApiError::UnknownSession(key))
    }

    fn tunnel(&self, tunnel: TunnelId) -> Result<&KTunnel, ApiError> {
        self.tunnels
            .get(&tunnel)
            .map(|(t, _)| t)
            .ok_or(ApiError::UnknownTunnel(tunnel))
    }

    /// True when `key` is a session of this backend.
    pub fn has_session(&self, key: SessionKey) -> bool {
        self.sessions.contains_key(&key)
    }

    /// Creates the session's unit (`pppN`, MRU `mru`), connects its channel to it and
    /// watches the unit's fd (NCP frames); the interface's name.
    pub fn attach_unit(&mut self, key: SessionKey, mru: u16) -> Result<String, String> {
        let Some(KSession::Builtin { session, .. }) = self.sessions.get_mut(&key) else {
            return Err(format!("no kernel session {key} with our PPP"));
        };
        let unit = session.attach_unit(None, mru).map_err(|e| e.to_string())?;
        let (fd, ifname) = (unit.as_fd().as_raw_fd(), unit.ifname());
        let token = self
            .watch(fd, Watch::Unit(key))
            .map_err(|e| format!("poll {ifname}: {e}"))?;
        if let Some(KSession::Builtin { tokens, .. }) = self.sessions.get_mut(&key) {
            tokens.push(token);
        }
        Ok(ifname)
    }

    /// Reads what the fd of `token` has (bounded); nothing for a token not ours (any more).
    pub fn read_ready(&mut self, token: u64, out: &mut Vec<KernelRx>) {
        let Some(&what) = self.watches.get(&token) else {
            return;
        };
        if matches!(what, Watch::Pppd(_) | Watch::Dying(_)) {
            return self.reap(what, out);
        }
        for _ in 0..READ_BUDGET {
            let r = match what {
                Watch::Udp(t) => {
                    let Some((kt, _)) = self.tunnels.get(&t) else {
                        return;
                    };
                    kt.udp.recv_from(&mut self.buf).map(|(n, from)| {
                        let socket = kt.socket.0 as usize;
                        KernelRx::Datagram {
                            socket,
                            from,
                            bytes: self.buf[..n].to_vec(),
                        }
                    })
                }
                Watch::Channel(key) | Watch::Unit(key) => {
                    let Some(KSession::Builtin { session, .. }) = self.sessions.get(&key) else {
                        return;
                    };
                    let r = match what {
                        Watch::Unit(_) => match session.unit() {
                            Some(u) => u.recv(&mut self.buf),
                            None => return,
                        },
                        _ => session.channel().recv(&mut self.buf),
                    };
                    r.map(|n| KernelRx::Frame {
                        key,
                        bytes: self.buf[..n].to_vec(),
                    })
                }
                Watch::Pppd(_) | Watch::Dying(_) => return,
            };
            match r {
                Ok(rx) => out.push(rx),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::debug!(?what, "kernel datapath read: {e}");
                    return;
                }
            }
        }
    }
}

/// The core's handle on the kernel datapath.
pub struct KernelBackend(pub Arc<Mutex<KernelDp>>);

impl KernelBackend {
    fn dp(&self) -> MutexGuard<'_, KernelDp> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DatapathBackend for KernelBackend {
    fn create_tunnel(
        &mut self,
        tunnel: TunnelId,
        socket: SocketId,
        peer: SocketAddr,
    ) -> Result<(), ApiError> {
        let mut dp = self.dp();
        if dp.tunnels.contains_key(&tunnel) {
            return Err(ApiError::TunnelExists(tunnel));
        }
        let local = *dp
            .locals
            .get(socket.0 as usize)
            .ok_or(ApiError::UnknownTunnel(tunnel))?;
        // The node's own socket has this address and port too (both with SO_REUSEADDR);
        // this one, connected, is the one the kernel picks for the peer's datagrams.
        let opts = UdpOptions {
            gso: false,
            reuse_address: true,
            ..UdpOptions::default()
        };
        let mut udp = UdpSocket::bind_with(local, &opts)
            .map_err(|e| backend_err(format!("tunnel {tunnel}: bind UDP {local}: {e}")))?;
        udp.connect(peer)
            .map_err(|e| backend_err(format!("tunnel {tunnel}: connect UDP to {peer}: {e}")))?;
        let mgmt = TunnelSocket::connect(&udp, tunnel).map_err(backend_err)?;
        let token = dp
            .watch(udp.as_raw_fd(), Watch::Udp(tunnel))
            .map_err(|e| backend_err(format!("tunnel {tunnel}: poll: {e}")))?;
        tracing::debug!(%tunnel, %peer, "kernel tunnel: management socket connected");
        dp.tunnels
            .insert(tunnel, (KTunnel { mgmt, udp, socket }, token));
        Ok(())
    }

    fn remove_tunnel(&mut self, tunnel: TunnelId) {
        let dp = self.dp();
        let keys: Vec<SessionKey> = dp
            .sessions
            .keys()
            .filter(|k| k.tunnel == tunnel)
            .copied()
            .collect();
        drop(dp);
        for k in keys {
            self.remove_session(k);
        }
        let mut dp = self.dp();
        if let Some((t, token)) = dp.tunnels.remove(&tunnel) {
            if let Ok(s) = t.mgmt.stats() {
                dp.closed.accumulate(&s);
            }
            dp.unwatch(token, t.udp.as_raw_fd());
        }
    }

    fn create_session(&mut self, cfg: SessionConfig) -> Result<SessionKey, ApiError> {
        let mut dp = self.dp();
        let key = SessionKey::new(cfg.tunnel, cfg.session);
        if dp.sessions.contains_key(&key) {
            return Err(ApiError::SessionExists(key));
        }
        let t = dp
            .tunnels
            .get(&cfg.tunnel)
            .map(|(t, _)| t)
            .ok_or(ApiError::SessionBeforeTunnel(cfg.tunnel))?;
        let ids = SessionIds {
            tunnel: cfg.tunnel,
            session: cfg.session,
            peer_tunnel: cfg.peer_tunnel,
            peer_session: cfg.peer_session,
        };
        if let Some(spec) = dp.pppd.clone() {
            let socket = KernelSession::open_socket(&t.mgmt, &t.udp, ids, &cfg.options)
                .map_err(backend_err)?;
            let child = spec
                .spawn(&socket, ids)
                .map_err(|e| backend_err(format!("session {key}: {e}")))?;
            let pid = child.id();
            let token = match dp.watch(child.as_fd().as_raw_fd(), Watch::Pppd(key)) {
                Ok(t) => t,
                Err(e) => {
                    // Not watched, so not kept: stopped at once (Child's drop kills it).
                    drop(child);
                    return Err(backend_err(format!("session {key}: poll pppd: {e}")));
                }
            };
            tracing::info!(session = %key, "pppd started (pid {pid}): {} {}", spec.path.display(), spec.args(socket.as_fd().as_raw_fd(), ids).join(" "));
            dp.sessions.insert(
                key,
                KSession::Pppd {
                    child: Some(child),
                    socket,
                    token,
                },
            );
            return Ok(key);
        }
        let session =
            KernelSession::open(&t.mgmt, &t.udp, ids, &cfg.options).map_err(backend_err)?;
        let token = dp
            .watch(session.channel().as_fd().as_raw_fd(), Watch::Channel(key))
            .map_err(|e| backend_err(format!("session {key}: poll: {e}")))?;
        dp.sessions.insert(
            key,
            KSession::Builtin {
                session,
                tokens: vec![token],
            },
        );
        Ok(key)
    }

    fn remove_session(&mut self, key: SessionKey) {
        let mut dp = self.dp();
        match dp.sessions.remove(&key) {
            Some(KSession::Builtin { session, tokens }) => {
                for t in &tokens {
                    dp.watches.remove(t);
                }
                // Closing the fds removes them from the poller; unit, channel, socket in turn.
                drop(session);
            }
            Some(KSession::Pppd {
                child,
                socket,
                token,
            }) => {
                if let Some(child) = child {
                    dp.stop_pppd(key, child, token, Instant::now());
                }
                drop(socket);
            }
            None => {}
        }
    }

    fn set_option(&mut self, key: SessionKey, option: SessionOption) -> Result<(), ApiError> {
        self.dp()
            .session(key)?
            .socket()
            .set_option(option)
            .map_err(backend_err)
    }

    fn set_tunnel_debug(&mut self, tunnel: TunnelId, mask: DebugMask) -> Result<(), ApiError> {
        self.dp()
            .tunnel(tunnel)?
            .mgmt
            .set_debug(mask)
            .map_err(backend_err)
    }

    fn session_options(&self, key: SessionKey) -> Result<SessionOptions, ApiError> {
        self.dp()
            .session(key)?
            .socket()
            .options()
            .map_err(backend_err)
    }

    fn tunnel_debug(&self, tunnel: TunnelId) -> Result<DebugMask, ApiError> {
        self.dp().tunnel(tunnel)?.mgmt.debug().map_err(backend_err)
    }

    fn stats(&self, tunnel: TunnelId, session: SessionId) -> Result<L2tpStats, ApiError> {
        let dp = self.dp();
        if session.is_zero() {
            return dp.tunnel(tunnel)?.mgmt.stats().map_err(backend_err);
        }
        dp.session(SessionKey::new(tunnel, session))?
            .socket()
            .stats()
            .map_err(backend_err)
    }

    fn closed_tunnel_stats(&self) -> L2tpStats {
        self.dp().closed
    }

    fn counters(&self) -> DatapathCounters {
        self.dp().classifier.counters()
    }

    fn receive_on(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) -> RxResult {
        let mut dp = self.dp();
        let r = dp.classifier.receive_on(now, socket, from, datagram);
        // A data message the kernel passed up because it arrived before the session's
        // socket was connected (a LAC's first LCP frame right behind its ICCN): it is the
        // session's now, from its tunnel's peer; delivered here rather than lost.
        if let RxResult::ToControl(tc) = &r {
            let key = SessionKey::new(tc.tunnel, tc.session);
            let from_peer = dp
                .tunnels
                .get(&tc.tunnel)
                .is_some_and(|(t, _)| t.mgmt.peer() == from && t.socket == socket);
            if tc.reason == ControlReason::UnknownSession
                && from_peer
                && matches!(dp.sessions.get(&key), Some(KSession::Builtin { .. }))
            {
                if let Ok(d) = l2tp_wire::Header::decode(datagram) {
                    tracing::debug!(session = %key, "data message passed up before the kernel session existed: delivered");
                    return RxResult::Deliver {
                        session: key,
                        frame: d.payload_start..d.payload_start + d.payload.len(),
                        priority: d.header.priority,
                    };
                }
            }
        }
        r
    }

    fn poll_deliver(&mut self) -> Option<Delivery> {
        None
    }

    fn recycle(&mut self, _buf: Vec<u8>) {}

    fn encapsulate(
        &mut self,
        key: SessionKey,
        _buf: &mut [u8],
        _headroom: usize,
        _len: usize,
    ) -> Result<Transmit, ApiError> {
        // Frames go through the PPP channel (`carries_frames`).
        Err(ApiError::UnknownSession(key))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.dp().dying.values().map(|d| d.deadline).min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.dp().kill_overdue(now);
    }

    fn shrink_to_fit(&mut self) {
        let mut dp = self.dp();
        dp.sessions.shrink_to_fit();
        dp.tunnels.shrink_to_fit();
        dp.watches.shrink_to_fit();
    }

    fn carries_frames(&self) -> bool {
        true
    }

    fn classifier_snapshot(&self) -> Option<Datapath> {
        // A copy (the old process keeps its own if the hand-over fails): a serde round
        // trip, the datapath not being `Clone`.
        let dp = self.dp();
        l2tp_snap::with_clock(Instant::now(), || {
            postcard::to_allocvec(&dp.classifier)
                .ok()
                .and_then(|b| postcard::from_bytes(&b).ok())
        })
    }

    fn restore_classifier(&mut self, classifier: Datapath) -> bool {
        self.dp().classifier = classifier;
        true
    }

    fn send_ppp_frame(&mut self, key: SessionKey, frame: &[u8]) -> Result<(), ApiError> {
        let dp = self.dp();
        let KSession::Builtin { session, .. } = dp.session(key)? else {
            // pppd's: the core runs no link for it.
            return Err(ApiError::UnknownSession(key));
        };
        session
            .send_frame(frame)
            .map_err(|e| backend_err(format!("session {key}: PPP channel write: {e}")))
    }

    fn ppp_process(&self, key: SessionKey) -> Option<u32> {
        match self.dp().sessions.get(&key) {
            Some(KSession::Pppd { child: Some(c), .. }) => Some(c.id()),
            _ => None,
        }
    }
}

impl Drop for KernelDp {
    /// The daemon is stopping: every pppd still running is told to stop (SIGTERM), given
    /// [`PPPD_GRACE`] in all, then killed; all are reaped.
    fn drop(&mut self) {
        let now = Instant::now();
        let keys: Vec<SessionKey> = self.sessions.keys().copied().collect();
        for key in keys {
            if let Some(KSession::Pppd {
                child: Some(child),
                token,
                ..
            }) = self.sessions.remove(&key)
            {
                self.stop_pppd(key, child, token, now);
            }
        }
        // Our own sockets close now; each pppd holds its session's until it exits.
        self.sessions.clear();
        self.tunnels.clear();
        let deadline = now + PPPD_GRACE;
        for (pid, mut d) in self.dying.drain() {
            match d.child.wait_until(deadline) {
                Ok(Some(st)) => {
                    tracing::info!(session = %d.key, "pppd (pid {pid}) ended, {}", exit_words(st))
                }
                _ => {
                    let st = d.child.kill();
                    tracing::warn!(session = %d.key, "pppd (pid {pid}) killed at exit: {st:?}");
                }
            }
        }
    }
}

/// Whether the kernel datapath runs, from the configured `mode` and what this kernel has;
/// says so in one log line.
pub(super) fn choose_datapath(config: &NodeConfig, mode: DatapathMode) -> io::Result<bool> {
    let node = &config.name;
    let per_session = matches!(config.ip_mode, IpMode::PerSession { .. })
        // A fixed local port is shared by connecting the node's socket to the LNS: the
        // tunnel's own connected socket (kernel_backend) would be a second one.
        && !matches!(&config.role, RoleSettings::Client(c) if c.local_port.is_some());
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("datapath = \"kernel\": {why}"),
        )
    };
    match mode {
        DatapathMode::Userspace => {
            tracing::info!(node = %node, "datapath: userspace (configured)");
            Ok(false)
        }
        DatapathMode::Kernel => {
            if !per_session {
                return Err(refuse(
                    "needs an interface per session (lns.interface_mode = \"per-session\") and no dial.local_port".into(),
                ));
            }
            l2tp_io::pppol2tp::probe().map_err(|m| refuse(m.to_string()))?;
            tracing::info!(node = %node, "datapath: kernel (configured; PPPoL2TP and /dev/ppp present)");
            Ok(true)
        }
        DatapathMode::Auto => match l2tp_io::pppol2tp::probe() {
            Ok(()) if per_session => {
                tracing::info!(node = %node, "datapath: kernel (auto: PPPoL2TP and /dev/ppp present)");
                Ok(true)
            }
            Ok(()) => {
                tracing::info!(node = %node, "datapath: userspace (auto: the kernel datapath needs an interface per session and no dial.local_port)");
                Ok(false)
            }
            Err(m) => {
                tracing::info!(node = %node, "datapath: userspace (auto: {m})");
                Ok(false)
            }
        },
    }
}
