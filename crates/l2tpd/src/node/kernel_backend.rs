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
//! The state is shared between the core (which drives it through [`DatapathBackend`]) and
//! the shell (which reads its fds): one mutex, taken on the control path only.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use l2tp_io::kernel_session::KernelSession;
use l2tp_io::poller::{Interest, Poller, Token};
use l2tp_io::pppol2tp::{SessionIds, TunnelSocket};
use l2tp_io::udp::{UdpOptions, UdpSocket};
use l2tp_proto::data::{
    ApiError, ControlReason, Datapath, DatapathConfig, DatapathCounters, DebugMask, Delivery,
    L2tpStats, RxResult, SessionConfig, SessionKey, SessionOption, SessionOptions, SocketId,
    Transmit,
};
use l2tp_wire::{SessionId, TunnelId};

use crate::config::DatapathMode;
use crate::core::{DatapathBackend, IpMode, NodeConfig, RoleSettings};

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
}

struct KTunnel {
    /// Declared before `udp`: the management socket closes first.
    mgmt: TunnelSocket,
    udp: UdpSocket,
    socket: SocketId,
}

struct KSession {
    session: KernelSession,
    tokens: Vec<u64>,
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

    fn session(&self, key: SessionKey) -> Result<&KernelSession, ApiError> {
        self.sessions
            .get(&key)
            .map(|s| &s.session)
            .ok_or(ApiError::UnknownSession(key))
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
        let s = self
            .sessions
            .get_mut(&key)
            .ok_or_else(|| format!("no kernel session {key}"))?;
        let unit = s
            .session
            .attach_unit(None, mru)
            .map_err(|e| e.to_string())?;
        let (fd, ifname) = (unit.as_fd().as_raw_fd(), unit.ifname());
        let token = self
            .watch(fd, Watch::Unit(key))
            .map_err(|e| format!("poll {ifname}: {e}"))?;
        if let Some(s) = self.sessions.get_mut(&key) {
            s.tokens.push(token);
        }
        Ok(ifname)
    }

    /// Reads what the fd of `token` has (bounded); nothing for a token not ours (any more).
    pub fn read_ready(&mut self, token: u64, out: &mut Vec<KernelRx>) {
        let Some(&what) = self.watches.get(&token) else {
            return;
        };
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
                    let Some(s) = self.sessions.get(&key) else {
                        return;
                    };
                    let r = match what {
                        Watch::Unit(_) => match s.session.unit() {
                            Some(u) => u.recv(&mut self.buf),
                            None => return,
                        },
                        _ => s.session.channel().recv(&mut self.buf),
                    };
                    r.map(|n| KernelRx::Frame {
                        key,
                        bytes: self.buf[..n].to_vec(),
                    })
                }
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
        let session =
            KernelSession::open(&t.mgmt, &t.udp, ids, &cfg.options).map_err(backend_err)?;
        let token = dp
            .watch(session.channel().as_fd().as_raw_fd(), Watch::Channel(key))
            .map_err(|e| backend_err(format!("session {key}: poll: {e}")))?;
        dp.sessions.insert(
            key,
            KSession {
                session,
                tokens: vec![token],
            },
        );
        Ok(key)
    }

    fn remove_session(&mut self, key: SessionKey) {
        let mut dp = self.dp();
        if let Some(s) = dp.sessions.remove(&key) {
            for t in &s.tokens {
                dp.watches.remove(t);
            }
            // Closing the fds removes them from the poller; unit, channel, socket in turn.
            drop(s);
        }
    }

    fn set_option(&mut self, key: SessionKey, option: SessionOption) -> Result<(), ApiError> {
        self.dp()
            .session(key)?
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
        self.dp().session(key)?.options().map_err(backend_err)
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
                && dp.sessions.contains_key(&key)
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
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn shrink_to_fit(&mut self) {
        let mut dp = self.dp();
        dp.sessions.shrink_to_fit();
        dp.tunnels.shrink_to_fit();
        dp.watches.shrink_to_fit();
    }

    fn carries_frames(&self) -> bool {
        true
    }

    fn send_ppp_frame(&mut self, key: SessionKey, frame: &[u8]) -> Result<(), ApiError> {
        self.dp()
            .session(key)?
            .send_frame(frame)
            .map_err(|e| backend_err(format!("session {key}: PPP channel write: {e}")))
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
