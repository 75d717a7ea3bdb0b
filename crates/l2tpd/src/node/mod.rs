//! The daemon's core: one event loop composing the control plane ([`Endpoint`]), the
//! datapath ([`Datapath`]), one PPP [`Link`] per session and the IP termination.
//!
//! Data moves like this (the seed's split between daemon, driver and pppd, in one process):
//!
//! ```text
//!  UDP datagram ──► Datapath::receive ──► Deliver(frame) ──► ppp::classify
//!                        │                                     ├─ IPv4/IPv6 ─► IP termination (TUN / app)
//!                        │                                     └─ LCP/auth/NCP ─► Link::handle_frame
//!                        └─► ToControl ──► Endpoint::handle_datagram ──► events (tunnel/session up/down)
//!  IP termination ──► PPP header + Datapath::encapsulate (header written in front) ──► UDP
//! ```
//!
//! Everything is single-threaded and sans-IO below this module: after every input the loop
//! drains the engines' outputs (transmits, events, deliveries) until they are quiet, then
//! sleeps in `epoll` until the soonest timer of any engine.

pub mod inet;
pub mod ipterm;
pub mod manage;
pub mod ra;
mod session;
pub mod tunif;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use l2tp_io::udp::{RecvBatch, SendBatch, UdpOptions, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tp_io::poller::{Events, Interest, Poller, Token};
use l2tp_proto::control::{
    CallParams, Endpoint, EndpointConfig, Event as CtlEvent, SessionDownReason, SessionStateKind,
    TunnelOptions,
};
use l2tp_proto::data::{
    ControlReason, Datapath, DatapathConfig, RxResult, SessionConfig, SessionKey, SessionOptions,
    SocketId, ToControl,
};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};
use ppp::{AuthDecision, AuthMethod, Event as PppEvent, Link, LinkConfig, Protocol};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::leases::Ipv4Leases;
use crate::users::Users;
use ipterm::{IpApp, Outbox};
use session::SessionCtx;
pub use session::SessionSnapshot;

/// Most UDP sockets (listen addresses) a node binds; socket i polls with token i.
const MAX_SOCKETS: usize = 16;
/// Poll token of the management server's waker.
const TOKEN_MGMT: Token = Token(1 << 32);
/// Datagrams handled per readiness event before other work gets a turn.
const RX_BUDGET: usize = 256;
/// Datagrams per `recvmmsg`.
const RX_BATCH: usize = 32;
/// Largest datagram received (jumbo frames; larger ones are counted and dropped) when the
/// sockets have no UDP GRO; with GRO, receive buffers are `GRO_BUFFER` (64 KiB) each.
const RX_SLOT: usize = 9216;
/// Datagrams per `sendmmsg`.
const TX_BATCH: usize = 64;
/// Largest datagram that goes through the send batch (bigger ones are sent at once).
const TX_SLOT: usize = 2048;
/// Socket buffers: large enough that a burst of thousands of call setups is not dropped
/// by the kernel before the loop drains it.
const SOCKET_RCVBUF: usize = 8 << 20;
const SOCKET_SNDBUF: usize = 4 << 20;

fn socket_options() -> UdpOptions {
    UdpOptions {
        // UDP GSO only for the segments of one TCP super-packet read from a TUN (committed
        // mergeable in `send_frame`): a GSO run crossing a veth reaches captures (tcpdump,
        // tshark) as one merged datagram, so control messages and every other data packet
        // are committed alone and leave as datagrams of their own.
        gso: true,
        // GRO: a GSO run from the peer stays one message up to our recvmmsg (split again by
        // `RecvBatch::datagrams`), not one socket-queue entry per datagram.
        gro: true,
        recv_buffer: Some(SOCKET_RCVBUF),
        send_buffer: Some(SOCKET_SNDBUF),
        // No SO_REUSEADDR: on UDP it would let a second daemon bind the same port and take
        // this one's traffic. A UDP port has no TIME_WAIT, so a restart rebinds without it.
        reuse_address: false,
        reuse_port: false,
        v6_only: true,
    }
}

/// Room in front of a PPP frame for the largest data header we write.
const HEADROOM: usize = l2tp_proto::data::DATA_HEADER_MAX;
/// Largest UDP payload we receive.
const MAX_DATAGRAM: usize = 65_535;

/// LNS settings: who may log in and what they get.
pub struct LnsSettings {
    /// PPP authentication methods required, in preference order.
    pub auth_methods: Vec<AuthMethod>,
    /// Our end of every PPP link.
    pub local_ipv4: Ipv4Addr,
    /// DNS servers offered through IPCP (RFC 1877).
    pub dns: [Option<Ipv4Addr>; 2],
    /// Users allowed to log in.
    pub users: Users,
    /// Addresses handed to clients: the pool, with fixed addresses and ours set aside.
    pub pool: Ipv4Leases,
    /// Sessions allowed at once (0: no limit).
    pub max_sessions: usize,
    /// Offer IPv6CP (RFC 5072).
    pub ipv6: bool,
    /// Global IPv6 prefixes for the sessions, announced by Router Advertisement.
    pub ipv6_pool: Option<crate::pool::Ipv6Pool>,
    /// Peers allowed to open tunnels (empty: everyone).
    pub allowed_peers: Vec<crate::addr::IpCidr>,
    /// Tunnels allowed at once (0: no limit).
    pub max_tunnels: usize,
    /// Close a session this long after it came up (None: never).
    pub session_timeout: Option<Duration>,
    /// Close a session after this long without data from the peer (None: never).
    pub idle_timeout: Option<Duration>,
}

/// Client / LAC settings: where to dial and as whom.
#[derive(Clone)]
pub struct ClientSettings {
    /// The LNS.
    pub server: SocketAddr,
    /// Other LNSs, tried in turn when a tunnel to the current one fails to come up.
    pub fallback_servers: Vec<SocketAddr>,
    /// PPP user name.
    pub username: String,
    /// PPP password.
    pub password: String,
    /// Tunnels to open to the LNS (load generation; normally 1).
    pub tunnels: u32,
    /// Sessions to open in each tunnel.
    pub sessions: u32,
    /// First redial delay; doubles up to `redial_max`.
    pub redial_initial: Duration,
    /// Longest redial delay.
    pub redial_max: Duration,
    /// Dial again when the tunnel or a session goes down.
    pub redial: bool,
    /// PPP authentication methods we accept, in preference order.
    pub auth_methods: Vec<AuthMethod>,
    /// Route everything through the first session (keeping a host route to the LNS).
    pub default_route: bool,
    /// Send from this UDP port (the `listen` address's port) on a socket connected to the
    /// LNS dialled, bound with SO_REUSEPORT; None: a random port.
    pub local_port: Option<u16>,
}

/// The role of a node.
pub enum RoleSettings {
    /// Network server: accepts tunnels and calls, authenticates, assigns addresses.
    Lns(Box<LnsSettings>),
    /// Client/LAC: dials an LNS and places calls.
    Client(ClientSettings),
}

/// Everything a [`Node`] needs.
pub struct NodeConfig {
    /// Name used in log lines.
    pub name: String,
    /// UDP addresses to bind (LNS: `0.0.0.0:1701`; client: port 0 for an ephemeral port).
    pub listen: Vec<SocketAddr>,
    /// Control plane settings.
    pub endpoint: EndpointConfig,
    /// Datapath settings.
    pub datapath: DatapathConfig,
    /// Options given to every new session (SENDSEQ, RECVSEQ, REORDERTO, DEBUG; LNSMODE is
    /// set from the role).
    pub session_options: SessionOptions,
    /// PPP LCP keepalive interval.
    pub ppp_echo_interval: Option<Duration>,
    /// PPP MRU.
    pub ppp_mru: u16,
    /// Unanswered LCP echoes before a link is declared dead.
    pub ppp_echo_failures: u32,
    /// Longest PPP establishment (LCP, authentication, first NCP); None: unbounded.
    pub ppp_establish_timeout: Option<Duration>,
    /// Role.
    pub role: RoleSettings,
    /// Seed for every RNG (tests); `None` draws from the OS.
    pub seed: Option<u64>,
    /// How IP is terminated (TUN per session, shared TUN, or inside the process).
    pub ip_mode: tunif::IpMode,
}

/// Node-wide counters not kept by the engines.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeCounters {
    /// Authentications refused (unknown user, wrong password, pool exhausted).
    pub auth_failures: u64,
    /// Tunnels whose authentication failed (Challenge Response wrong or missing).
    pub tunnel_auth_failures: u64,
    /// Sessions that completed PPP (network up).
    pub sessions_up_total: u64,
    /// PPP frames that could not be classified.
    pub bad_frames: u64,
    /// IP packets dropped because the session's network phase was not up.
    pub ip_not_ready: u64,
    /// UDP send errors.
    pub send_errors: u64,
    /// Datagrams larger than the receive buffer slot (dropped).
    pub oversized_datagrams: u64,
    /// Tunnels refused (peer not allowed, tunnel limit).
    pub tunnels_refused: u64,
    /// Calls refused (session limit).
    pub sessions_refused: u64,
}

/// One L2TP node (LNS or client): sockets, engines, sessions, and the loop that drives them.
pub struct Node {
    name: String,
    /// One UDP socket per listen address; index = `SocketId` = poll token.
    sockets: Vec<UdpSocket>,
    locals: Vec<SocketAddr>,
    poller: Poller,
    events: Events,
    endpoint: Endpoint,
    datapath: Datapath,
    session_options: SessionOptions,
    ppp_mru: u16,
    role: RoleSettings,
    /// Boxed: the map keeps spare capacity, which then costs a pointer, not a whole context.
    sessions: HashMap<SessionKey, Box<SessionCtx>>,
    link_timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
    dirty: Vec<SessionKey>,
    routes: HashMap<Ipv4Addr, SessionKey>,
    /// Shared TUN, IPv6: a session's /64 (per-session prefixes) or its /128, → session.
    routes6: HashMap<u128, SessionKey>,
    app: Option<Box<dyn IpApp>>,
    outbox: Outbox,
    /// TUN reads: the virtio header, checksum completion and TCP segmentation of offloaded
    /// super-packets (`l2tp_io::offload`). Taken while a TUN is drained.
    tunrx: Option<l2tp_io::offload::Segmenter>,
    /// While the segments of one TCP super-packet are sent: they may share a UDP GSO send.
    tx_mergeable: bool,
    /// TUN writes: in-order TCP segments of one flow held and written as one GSO packet
    /// (`l2tp_io::offload::Coalescer`), for the TUN `tuntx_target`; written at the latest
    /// by `flush` (after each received batch).
    tuntx: l2tp_io::offload::Coalescer,
    tuntx_target: Option<tunif::TunTarget>,
    rxbatch: Option<RecvBatch>,
    /// Per socket: datagrams waiting for the end of the turn (one `sendmmsg` for them all).
    txbatches: Vec<SendBatch>,
    txbuf: Vec<u8>,
    rng: StdRng,
    seeded: bool,
    counters: NodeCounters,
    client: ClientState,
    started: Instant,
    tunnel_since: HashMap<TunnelId, Instant>,
    /// The tunnel whose data was last reported to the control plane, and when.
    last_data_note: (TunnelId, Instant),
    mgmt: Option<(
        crate::mgmt_server::MgmtServer,
        std::sync::mpsc::Receiver<crate::mgmt_server::PendingRequest>,
    )>,
    ip_mode: tunif::IpMode,
    early_frames: HashMap<SessionKey, EarlyFrames>,
    new_tunnel_rate: TunnelRate,
    /// LNS: calls accepted and waiting for the peer's ICCN, since when.
    pending_calls: HashMap<SessionKey, Instant>,
    next_housekeeping: Instant,
    /// The session whose TUN carries the default route (client `dial.default_route`).
    default_route_session: Option<SessionKey>,
    early_frames_total: usize,
    /// PPP settings shared by every session's link.
    link_config: Arc<LinkConfig>,
    netconf: Option<crate::netconf::NetConf>,
    /// Poll token → session owning that TUN.
    tun_tokens: HashMap<u64, SessionKey>,
    next_tun_token: u64,
    /// The LNS's shared TUN and its interface index.
    shared_tun: Option<(l2tp_io::tun::Tun, u32)>,
}

/// Data frames that arrived before their session was up (see `Node::hold_early_frame`).
struct EarlyFrames {
    since: Instant,
    frames: Vec<(SocketId, SocketAddr, Vec<u8>)>,
}

/// New tunnels accepted per second from one source address.
const NEW_TUNNELS_PER_SOURCE: u32 = 50;

/// Fixed one-second windows counting SCCRQs per source address: a flood from one address
/// cannot churn the half-open table (every SCCRQ accepted may evict the oldest half-open
/// tunnel), and no address is sent more than this many SCCRPs a second (a reflector bound
/// for spoofed sources).
///
/// There is no global limit: it would refuse a real peer exactly as often as a flood from
/// many (spoofed) addresses exceeds it, the lock-out the half-open table's eviction exists
/// to prevent. State is bounded by `max_half_open_tunnels` instead.
#[derive(Debug)]
struct TunnelRate {
    window: Instant,
    per_source: HashMap<std::net::IpAddr, u32>,
}

impl TunnelRate {
    fn new(now: Instant) -> Self {
        TunnelRate {
            window: now,
            per_source: HashMap::new(),
        }
    }

    /// Counts one SCCRQ from `source`; `Some(why)` when it is over the limit.
    fn over(&mut self, now: Instant, source: std::net::IpAddr) -> Option<&'static str> {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.per_source.clear();
            if self.per_source.capacity() > 1024 {
                self.per_source.shrink_to_fit();
            }
        }
        let n = self.per_source.entry(source).or_insert(0);
        *n = n.saturating_add(1);
        (*n > NEW_TUNNELS_PER_SOURCE).then_some("too many new tunnels from this address")
    }
}

/// Frames held per session waiting for its ICCN.
const EARLY_FRAMES_PER_SESSION: usize = 4;
/// Frames held in all.
const EARLY_FRAMES_MAX: usize = 4096;
/// How long a session's early frames are kept.
const EARLY_FRAMES_TTL: Duration = Duration::from_secs(2);

/// Dialling state of a client node.
#[derive(Debug, Default)]
struct ClientState {
    /// Our tunnels to the LNS → established yet.
    tunnels: HashMap<TunnelId, bool>,
    redial_at: Option<Instant>,
    backoff: Duration,
    dials: u32,
    /// The operator hung up: no redial until the next `dial`.
    hung_up: bool,
    /// Which of the configured LNSs to dial (primary first, then the fallbacks).
    server_index: usize,
}

impl Node {
    /// Binds the socket and builds the engines. Nothing is sent until [`Node::step`] runs.
    pub fn new(config: NodeConfig) -> io::Result<Node> {
        let link_config = link_config_of(&config);
        let poller = Poller::new()?;
        let mut sockets = Vec::new();
        let mut locals = Vec::new();
        if config.listen.is_empty() || config.listen.len() > MAX_SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("between 1 and {MAX_SOCKETS} listen addresses needed"),
            ));
        }
        // A client on a fixed port (1701) shares it with other clients of the host: each
        // socket is connected to its own LNS, which the kernel matches first.
        let shared_port = matches!(&config.role, RoleSettings::Client(c) if c.local_port.is_some());
        for (i, addr) in config.listen.iter().enumerate() {
            let opts = UdpOptions {
                reuse_port: shared_port,
                ..socket_options()
            };
            let socket = UdpSocket::bind_with(*addr, &opts).map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::AddrInUse {
                    " (another l2tpd or L2TP daemon already has this port)"
                } else {
                    ""
                };
                io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}{hint}"))
            })?;
            locals.push(socket.local_addr());
            {
                use std::os::fd::AsRawFd;
                poller.register(socket.as_raw_fd(), Token(i as u64), Interest::READABLE)?;
            }
            sockets.push(socket);
        }
        let mut rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let ep_rng = StdRng::from_rng(&mut rng).map_err(io::Error::other)?;
        let mut endpoint_cfg = config.endpoint;
        match config.role {
            RoleSettings::Client(_) => endpoint_cfg.accept_incoming_tunnels = false,
            // The node decides (allowed peers, tunnel limit): IncomingTunnel events.
            RoleSettings::Lns(_) => {
                endpoint_cfg.decide_incoming_tunnels = true;
                endpoint_cfg.decide_incoming_calls = true;
            }
        }
        let sockets_len = sockets.len();
        let rx_slot = if sockets.iter().any(|s| s.gro_enabled()) {
            l2tp_io::udp::GRO_BUFFER
        } else {
            RX_SLOT
        };
        Ok(Node {
            name: config.name,
            sockets,
            locals,
            poller,
            events: Events::with_capacity(64),
            endpoint: Endpoint::new(endpoint_cfg, Box::new(ep_rng)),
            datapath: Datapath::new(config.datapath),
            session_options: config.session_options,
            ppp_mru: config.ppp_mru,
            role: config.role,
            sessions: HashMap::new(),
            link_timers: BinaryHeap::new(),
            dirty: Vec::new(),
            routes: HashMap::new(),
            routes6: HashMap::new(),
            app: None,
            outbox: Vec::new(),
            tunrx: Some(l2tp_io::offload::Segmenter::new()),
            tx_mergeable: false,
            tuntx: l2tp_io::offload::Coalescer::new(),
            tuntx_target: None,
            rxbatch: Some(RecvBatch::new(RX_BATCH, rx_slot)),
            txbatches: (0..sockets_len)
                .map(|_| SendBatch::new(TX_BATCH, TX_SLOT))
                .collect(),
            txbuf: vec![0; MAX_DATAGRAM + HEADROOM],
            rng,
            seeded: config.seed.is_some(),
            counters: NodeCounters::default(),
            client: ClientState::default(),
            started: Instant::now(),
            tunnel_since: HashMap::new(),
            last_data_note: (TunnelId(0), Instant::now()),
            mgmt: None,
            ip_mode: config.ip_mode,
            early_frames: HashMap::new(),
            new_tunnel_rate: TunnelRate::new(Instant::now()),
            pending_calls: HashMap::new(),
            next_housekeeping: Instant::now(),
            default_route_session: None,
            early_frames_total: 0,
            link_config,
            netconf: None,
            tun_tokens: HashMap::new(),
            next_tun_token: tunif::TUN_TOKEN_BASE + 1,
            shared_tun: None,
        })
        .and_then(Node::open_shared_tun)
    }

    fn open_shared_tun(mut self) -> io::Result<Node> {
        let tunif::IpMode::Shared { name, mtu } = self.ip_mode.clone() else {
            return Ok(self);
        };
        let RoleSettings::Lns(lns) = &self.role else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a shared TUN needs the LNS role",
            ));
        };
        let local = lns.local_ipv4;
        let server6 = lns.ipv6_pool.as_ref().map(|p| p.server_address());
        let nc = netconf_of(&mut self.netconf)?;
        let r = tunif::open_shared_tun(
            nc,
            &self.poller,
            Token(tunif::TUN_TOKEN_BASE),
            &name,
            mtu,
            local,
        );
        let (tun, idx) = r.map_err(io::Error::other)?;
        if let Some(a) = server6 {
            netconf_of(&mut self.netconf)?
                .add_address(idx, a.into(), 128)
                .map_err(io::Error::other)?;
        }
        self.shared_tun = Some((tun, idx));
        Ok(self)
    }

    fn netconf(&mut self) -> io::Result<&mut crate::netconf::NetConf> {
        netconf_of(&mut self.netconf)
    }

    /// Serves management requests from `server` in this loop.
    pub fn attach_mgmt(
        &mut self,
        server: crate::mgmt_server::MgmtServer,
        requests: std::sync::mpsc::Receiver<crate::mgmt_server::PendingRequest>,
    ) -> io::Result<()> {
        self.poller
            .register(server.waker_fd(), TOKEN_MGMT, Interest::READABLE)?;
        self.mgmt = Some((server, requests));
        Ok(())
    }

    fn serve_mgmt(&mut self, now: Instant) {
        let Some((server, rx)) = self.mgmt.take() else {
            return;
        };
        server.drain_waker();
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(p) => {
                    let resp = self.handle_request(now, p.req.clone());
                    p.respond(resp);
                    self.pump(now);
                }
                Err(_) => break,
            }
        }
        self.mgmt = Some((server, rx));
    }

    /// Terminates IP inside the process with `app` (demo, tests).
    pub fn set_ip_app(&mut self, app: Box<dyn IpApp>) {
        self.app = Some(app);
    }

    /// The first bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.locals[0]
    }

    /// Every bound UDP address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.locals
    }

    /// The control plane (read-only: tunnel and session state).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The datapath (read-only: statistics).
    pub fn datapath(&self) -> &Datapath {
        &self.datapath
    }

    /// LNS: pool addresses in use (0 for a client).
    pub fn pool_in_use(&self) -> u32 {
        match &self.role {
            RoleSettings::Lns(l) => l.pool.in_use(),
            RoleSettings::Client(_) => 0,
        }
    }

    /// Sessions whose IPCP is up.
    pub fn sessions_up(&self) -> usize {
        self.sessions.values().filter(|s| s.ipv4.is_some()).count()
    }

    /// LNS: (pool capacity, addresses in use).
    pub fn pool_usage(&self) -> Option<(u64, u64)> {
        match &self.role {
            RoleSettings::Lns(l) => {
                Some((u64::from(l.pool.capacity()), u64::from(l.pool.in_use())))
            }
            RoleSettings::Client(_) => None,
        }
    }

    /// LNS: replaces the users (SIGHUP); sessions already up are kept.
    pub fn replace_users(&mut self, users: Users) {
        if let RoleSettings::Lns(l) = &mut self.role {
            let busy = l.pool.set_fixed(users.fixed_addresses());
            if !busy.is_empty() {
                tracing::warn!(
                    "fixed addresses {busy:?} are leased to other sessions now: set aside when they end"
                );
            }
            l.users = users;
        }
    }

    /// Node-wide counters.
    pub fn counters(&self) -> NodeCounters {
        self.counters
    }

    /// Snapshots of every session that has a PPP link.
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let mut v: Vec<_> = self
            .sessions
            .iter()
            .map(|(k, s)| s.snapshot(*k, &self.datapath))
            .collect();
        v.sort_by_key(|s| s.key);
        v
    }

    /// Runs until `stop` is set, then closes every tunnel and waits (bounded) for the peer
    /// to acknowledge.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.step(Duration::from_millis(200))?;
        }
        self.shutdown(Duration::from_secs(3))
    }

    /// Sends StopCCN on every tunnel and runs the loop until closing has settled (every
    /// StopCCN acknowledged, the peers' own StopCCNs acknowledged at once) or `grace` passed.
    ///
    /// The StopCCNs leave before anything slow (tearing sessions and their interfaces down):
    /// their retransmission timers run from the moment they are queued, and a StopCCN held
    /// back behind seconds of interface removal would be retransmitted as soon as it left.
    /// Per-session interfaces go in one netlink request (their device group), not one by one.
    pub fn shutdown(&mut self, grace: Duration) -> io::Result<()> {
        let now = Instant::now();
        let ids: Vec<TunnelId> = self.endpoint.tunnels().map(|t| t.tunnel).collect();
        for t in ids {
            let _ = self.endpoint.close_tunnel(
                now,
                t,
                ResultCode::with_error(ResultCode::STOPCCN_SHUTTING_DOWN, 0, Some("shutting down")),
            );
        }
        self.client.redial_at = None;
        self.client.dials = u32::MAX;
        while let Some(t) = self.endpoint.poll_transmit() {
            let sock = self.locals.iter().position(|l| *l == t.local).unwrap_or(0);
            self.queue_datagram(sock, t.to, &t.payload);
        }
        self.flush();
        let all: Vec<SessionKey> = self.sessions.keys().copied().collect();
        self.remove_interfaces(&all);
        self.pump(now);
        self.flush();
        let deadline = now + grace;
        while Instant::now() < deadline && !self.endpoint.closing_settled() {
            self.step(Duration::from_millis(50))?;
        }
        self.flush();
        Ok(())
    }

    /// Removes the per-session interfaces of `keys` in one batch (closing a TUN removes its
    /// interface too, but one at a time, ≈ 20 ms each); the sessions' descriptors close
    /// later, cheaply. What is queued for the peers is sent first: the acknowledgement of a
    /// StopCCN must not wait behind the teardown.
    fn remove_interfaces(&mut self, keys: &[SessionKey]) {
        let names: Vec<String> = keys
            .iter()
            .filter_map(|k| self.sessions.get(k))
            .filter(|s| s.tun.is_some())
            .filter_map(|s| s.interface.clone())
            .collect();
        if names.len() < 2 {
            return;
        }
        self.flush();
        let Ok(nc) = self.netconf() else {
            return;
        };
        let idx: Vec<u32> = names.iter().filter_map(|n| nc.link_index(n).ok()).collect();
        if let Err(e) = nc.delete_links(&idx) {
            tracing::warn!(node = %self.name, "removing {} session interfaces: {e}", idx.len());
        }
    }

    /// One turn of the loop: wait for input or the next timer (at most `max_wait`), handle
    /// it, and drain every engine's output.
    pub fn step(&mut self, max_wait: Duration) -> io::Result<()> {
        let now = Instant::now();
        self.start_dialing(now);
        let wait = self
            .next_deadline()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(max_wait)
            .min(max_wait);
        if let Err(e) = self.poller.wait(&mut self.events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let mut readable = [false; MAX_SOCKETS];
        for e in self.events.iter() {
            if let Some(r) = readable.get_mut(e.token.0 as usize) {
                *r = true;
            }
        }
        let now = Instant::now();
        let mgmt_ready = self.events.iter().any(|e| e.token == TOKEN_MGMT);
        let mut tun_ready = [0u64; 64];
        let mut n_tun = 0;
        for e in self.events.iter() {
            if e.token.0 >= tunif::TUN_TOKEN_BASE && n_tun < tun_ready.len() {
                tun_ready[n_tun] = e.token.0;
                n_tun += 1;
            }
        }
        for (i, r) in readable.into_iter().enumerate() {
            if r {
                self.receive_datagrams(now, i);
            }
        }
        for &t in &tun_ready[..n_tun] {
            self.receive_tun(now, t);
        }
        self.handle_timers(now);
        self.housekeeping(now);
        self.pump(now);
        if mgmt_ready {
            self.serve_mgmt(now);
        }
        self.flush();
        Ok(())
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.endpoint.poll_timeout(),
            self.datapath.poll_timeout(),
            self.link_timers.peek().map(|Reverse((t, _))| *t),
            self.app.as_ref().and_then(|a| a.poll_timeout()),
            self.client.redial_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Drains a socket in batches (recvmmsg), at most `RX_BUDGET` datagrams per call.
    fn receive_datagrams(&mut self, now: Instant, sock: usize) {
        let Some(mut batch) = self.rxbatch.take() else {
            return;
        };
        let mut handled = 0;
        while handled < RX_BUDGET {
            match self.sockets[sock].recv_batch(&mut batch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(node = %self.name, "UDP receive error: {e}");
                    break;
                }
            }
            let truncated = batch.truncated();
            if truncated > 0 {
                self.counters.oversized_datagrams += truncated as u64;
            }
            for (from, datagram) in batch.datagrams() {
                handled += 1;
                self.receive_datagram(now, sock, from, datagram);
            }
            // Answers go out per received batch, not per turn: the peer's window (and so the
            // setup rate) is paced by how soon it hears back.
            self.pump(now);
            self.flush();
        }
        self.rxbatch = Some(batch);
    }

    fn receive_datagram(&mut self, now: Instant, sock: usize, from: SocketAddr, datagram: &[u8]) {
        {
            match self
                .datapath
                .receive_on(now, SocketId(sock as u32), from, datagram)
            {
                RxResult::Deliver { session, frame, .. } => {
                    self.note_tunnel_data(now, session.tunnel);
                    self.deliver_frame(now, session, &datagram[frame]);
                }
                RxResult::Queued { .. } => {}
                RxResult::ToControl(tc) => {
                    if tc.reason == ControlReason::UnknownSession {
                        self.hold_early_frame(now, tc, from, datagram);
                    } else if tc.tunnel.is_zero() && !self.admit_new_tunnel_datagram(now, from) {
                        // Over its source's rate: dropped before it is even decoded.
                    } else {
                        self.endpoint
                            .handle_datagram(now, self.locals[sock], from, datagram);
                        // Act on what the message changed (a session coming up) before
                        // the next datagram, which may be that session's first data.
                        self.pump(now);
                    }
                }
                RxResult::Dropped(reason) => {
                    tracing::trace!(node = %self.name, %from, ?reason, "data dropped");
                }
            }
            self.drain_deliveries(now);
        }
    }

    fn drain_deliveries(&mut self, now: Instant) {
        while let Some(d) = self.datapath.poll_deliver() {
            self.deliver_frame(now, d.session, &d.frame);
            self.datapath.recycle(d.frame);
        }
    }

    /// Data from a tunnel's peer is a sign of life: RFC 2661 §5.5 sends HELLO only after a
    /// period with no message, "data or control", from the peer. Reported at most every
    /// 100 ms per tunnel (one comparison per packet in a burst).
    fn note_tunnel_data(&mut self, now: Instant, tunnel: TunnelId) {
        let (last, at) = self.last_data_note;
        if last == tunnel && now.saturating_duration_since(at) < Duration::from_millis(100) {
            return;
        }
        self.last_data_note = (tunnel, now);
        self.endpoint.note_data_received(now, tunnel);
    }

    /// A PPP frame for `key`, in order: IP takes the fast path, the rest goes to the link.
    fn deliver_frame(&mut self, now: Instant, key: SessionKey, frame: &[u8]) {
        let Some(sess) = self.sessions.get_mut(&key) else {
            return;
        };
        match ppp::classify(frame) {
            Ok((proto, payload)) if proto == Protocol::IPV4 || proto == Protocol::IPV6 => {
                if !sess.carries(proto) {
                    self.counters.ip_not_ready += 1;
                    return;
                }
                if proto == Protocol::IPV6 && self.router_message(key, payload) {
                    return;
                }
                let Some(sess) = self.sessions.get(&key) else {
                    return;
                };
                if sess.tun.is_some() {
                    self.write_tun(tunif::TunTarget::Session(key), payload);
                } else if self.shared_tun.is_some() {
                    self.write_tun(tunif::TunTarget::Shared, payload);
                } else if let Some(app) = self.app.as_mut() {
                    app.packet(now, key, payload, &mut self.outbox);
                }
            }
            Ok(_) => {
                sess.link.handle_frame(now, frame);
                self.dirty.push(key);
            }
            Err(e) => {
                self.counters.bad_frames += 1;
                tracing::debug!(node = %self.name, session = %key, "bad PPP frame: {e}");
            }
        }
    }

    /// The TUN a target names, if it is still open.
    fn tun_of(&self, target: tunif::TunTarget) -> Option<&l2tp_io::tun::Tun> {
        match target {
            tunif::TunTarget::Shared => self.shared_tun.as_ref().map(|(t, _)| t),
            tunif::TunTarget::Session(k) => self.sessions.get(&k).and_then(|s| s.tun.as_ref()),
        }
    }

    /// An IP packet out of a TUN: joins the held run of TCP segments when it can (one GSO
    /// write for the run, see `flush_tun`), else the run is written first and then this
    /// packet (held as a new run, or written at once), so a TUN sees packets in order.
    fn write_tun(&mut self, target: tunif::TunTarget, packet: &[u8]) {
        if self.tuntx_target == Some(target) && self.tuntx.push(packet) {
            return;
        }
        self.flush_tun();
        let Some(vnet) = self.tun_of(target).map(|t| t.vnet_hdr()) else {
            return;
        };
        if vnet && self.tuntx.push(packet) {
            self.tuntx_target = Some(target);
            return;
        }
        let Some(tun) = self.tun_of(target) else {
            return;
        };
        if let Err(e) = tun.send(packet) {
            tracing::debug!(node = %self.name, "TUN write: {e}");
        }
    }

    /// Writes the held run of TCP segments (one write, a GSO packet when there are several).
    fn flush_tun(&mut self) {
        let Some(target) = self.tuntx_target.take() else {
            return;
        };
        let Some((hdr, packet)) = self.tuntx.take() else {
            return;
        };
        // Not `tun_of`: `packet` borrows `self.tuntx`, so only the TUN fields are borrowed here.
        let tun = match target {
            tunif::TunTarget::Shared => self.shared_tun.as_ref().map(|(t, _)| t),
            tunif::TunTarget::Session(k) => self.sessions.get(&k).and_then(|s| s.tun.as_ref()),
        };
        if let Some(tun) = tun {
            if let Err(e) = tun.send_with_header(hdr, packet) {
                tracing::debug!(node = %self.name, "TUN write: {e}");
            }
        }
    }

    fn handle_timers(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        if self.datapath.poll_timeout().is_some_and(|t| t <= now) {
            self.datapath.handle_timeout(now);
            self.drain_deliveries(now);
        }
        while let Some(&Reverse((t, key))) = self.link_timers.peek() {
            if t > now {
                break;
            }
            self.link_timers.pop();
            if let Some(sess) = self.sessions.get_mut(&key) {
                if sess.timer == Some(t) {
                    sess.timer = None;
                    sess.link.handle_timeout(now);
                    self.dirty.push(key);
                }
            }
        }
        if let Some(app) = self.app.as_mut() {
            if app.poll_timeout().is_some_and(|t| t <= now) {
                app.poll(now, &mut self.outbox);
            }
        }
        if self.client.redial_at.is_some_and(|t| t <= now) {
            self.client.redial_at = None;
            self.dial(now);
        }
    }

    /// Drains every engine until nothing moves.
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                moved = true;
                let sock = self.locals.iter().position(|l| *l == t.local).unwrap_or(0);
                self.queue_datagram(sock, t.to, &t.payload);
            }
            while let Some(ev) = self.endpoint.poll_event() {
                moved = true;
                self.on_control_event(now, ev);
            }
            self.drain_deliveries(now);
            while let Some(key) = self.dirty.pop() {
                moved = true;
                self.service_link(now, key);
            }
            if !self.outbox.is_empty() {
                moved = true;
                let out = std::mem::take(&mut self.outbox);
                for (key, pkt) in &out {
                    self.send_ip(*key, pkt);
                }
                self.outbox = out;
                self.outbox.clear();
            }
            if !moved {
                break;
            }
        }
    }

    /// Sends a link's frames, handles its events, re-arms its timer.
    fn service_link(&mut self, now: Instant, key: SessionKey) {
        loop {
            let Some(sess) = self.sessions.get_mut(&key) else {
                return;
            };
            if let Some(frame) = sess.link.poll_transmit() {
                self.send_frame(key, &[], &frame);
                continue;
            }
            if let Some(ev) = sess.link.poll_event() {
                self.on_ppp_event(now, key, ev);
                continue;
            }
            if sess.shrink_pending {
                // Negotiation is over: its queues' spare capacity is not needed again.
                sess.shrink_pending = false;
                sess.link.shrink_to_fit();
            }
            let t = sess.link.poll_timeout();
            if t != sess.timer {
                sess.timer = t;
                if let Some(t) = t {
                    self.link_timers.push(Reverse((t, key)));
                }
            }
            return;
        }
    }

    /// Queues a datagram on socket `sock`'s send batch (sent with `sendmmsg` at the end of
    /// the turn, or when the batch fills); too big for a batch slot: sent at once.
    fn queue_datagram(&mut self, sock: usize, to: SocketAddr, datagram: &[u8]) {
        if datagram.len() > TX_SLOT {
            if let Err(e) = self.sockets[sock].send_to(datagram, to) {
                self.counters.send_errors += 1;
                tracing::debug!(node = %self.name, %to, "send failed: {e}");
            }
            return;
        }
        // Alone: never merged into a GSO send (see `socket_options`).
        if !self.txbatches[sock].push_alone(to, datagram) {
            self.flush_socket(sock);
            let _ = self.txbatches[sock].push_alone(to, datagram);
        }
    }

    /// Sends what socket `sock`'s batch holds.
    fn flush_socket(&mut self, sock: usize) {
        let batch = &mut self.txbatches[sock];
        if batch.pending() > 0 {
            if let Err(e) = self.sockets[sock].send_batch(batch) {
                // The socket buffer is full (8 MiB): what is left is dropped, as UDP would.
                self.counters.send_errors += batch.pending() as u64;
                tracing::debug!(node = %self.name, "send batch: {e}");
            }
        }
        if batch.failed() > 0 {
            self.counters.send_errors += batch.failed() as u64;
            if let Some(e) = batch.last_error() {
                tracing::debug!(node = %self.name, "datagrams refused by the kernel: {e}");
            }
        }
        batch.clear();
    }

    /// Sends everything queued on every socket.
    fn flush(&mut self) {
        self.flush_tun();
        for sock in 0..self.sockets.len() {
            self.flush_socket(sock);
        }
    }

    /// Writes `prefix ‖ payload` after the headroom, encapsulates and sends it.
    fn send_frame(&mut self, key: SessionKey, prefix: &[u8], payload: &[u8]) {
        let len = prefix.len() + payload.len();
        // The common case: the frame is built straight in a slot of the first socket's send
        // batch (one copy of the payload, the header written in front of it).
        if HEADROOM + len <= TX_SLOT {
            if self.txbatches[0].is_full() {
                self.flush_socket(0);
            }
            if let Some(slot) = self.txbatches[0].slot_mut() {
                slot[HEADROOM..HEADROOM + prefix.len()].copy_from_slice(prefix);
                slot[HEADROOM + prefix.len()..HEADROOM + len].copy_from_slice(payload);
                match self.datapath.encapsulate(key, slot, HEADROOM, len) {
                    Ok(tx) if tx.socket.0 == 0 => {
                        if self.tx_mergeable {
                            self.txbatches[0].commit(tx.peer, tx.range);
                        } else {
                            self.txbatches[0].commit_alone(tx.peer, tx.range);
                        }
                    }
                    Ok(tx) => {
                        // The session's tunnel uses another socket: move it to that batch.
                        let datagram = slot[tx.range].to_vec();
                        let sock = (tx.socket.0 as usize).min(self.sockets.len() - 1);
                        self.queue_datagram(sock, tx.peer, &datagram);
                    }
                    Err(e) => {
                        tracing::debug!(node = %self.name, session = %key, "encapsulate: {e}")
                    }
                }
                return;
            }
        }
        if len > self.txbuf.len() - HEADROOM {
            return;
        }
        self.txbuf[HEADROOM..HEADROOM + prefix.len()].copy_from_slice(prefix);
        self.txbuf[HEADROOM + prefix.len()..HEADROOM + len].copy_from_slice(payload);
        match self
            .datapath
            .encapsulate(key, &mut self.txbuf, HEADROOM, len)
        {
            Ok(tx) => {
                let sock = (tx.socket.0 as usize).min(self.sockets.len() - 1);
                let txbuf = std::mem::take(&mut self.txbuf);
                self.queue_datagram(sock, tx.peer, &txbuf[tx.range]);
                self.txbuf = txbuf;
            }
            Err(e) => tracing::debug!(node = %self.name, session = %key, "encapsulate: {e}"),
        }
    }

    /// An IP packet into a session (fast path: PPP protocol prefix, then L2TP).
    fn send_ip(&mut self, key: SessionKey, packet: &[u8]) {
        let proto = match packet.first().map(|b| b >> 4) {
            Some(4) => Protocol::IPV4,
            Some(6) => Protocol::IPV6,
            _ => return,
        };
        let Some(sess) = self.sessions.get(&key) else {
            return;
        };
        if !sess.carries(proto) {
            self.counters.ip_not_ready += 1;
            return;
        }
        let prefix = ppp::ip_frame_header(proto, sess.link.peer_accepts_acfc());
        self.send_frame(key, prefix, packet);
    }

    fn on_control_event(&mut self, now: Instant, ev: CtlEvent) {
        match ev {
            CtlEvent::IncomingTunnel { tunnel, peer, .. } => {
                self.decide_tunnel(now, tunnel, peer);
            }
            CtlEvent::TunnelUp {
                tunnel,
                peer_tunnel,
                peer,
                local,
            } => {
                if self.enforce_tunnel_limit(now, tunnel, peer) {
                    return;
                }
                tracing::info!(node = %self.name, %tunnel, %peer_tunnel, %peer, "tunnel up");
                self.tunnel_since.insert(tunnel, now);
                if let Err(e) = self
                    .datapath
                    .create_tunnel(tunnel, self.socket_id(local), peer)
                {
                    tracing::error!(node = %self.name, %tunnel, "datapath tunnel: {e}");
                    return;
                }
                if let Some(up) = self.client.tunnels.get_mut(&tunnel) {
                    *up = true;
                    let n = match &self.role {
                        RoleSettings::Client(c) => c.sessions,
                        RoleSettings::Lns(_) => 0,
                    };
                    for _ in 0..n {
                        if let Err(e) =
                            self.endpoint
                                .place_incoming_call(now, tunnel, CallParams::default())
                        {
                            tracing::error!(node = %self.name, %tunnel, "placing call: {e}");
                        }
                    }
                }
            }
            CtlEvent::TunnelDown { tunnel, reason } => {
                tracing::info!(node = %self.name, %tunnel, ?reason, "tunnel down");
                if reason == l2tp_proto::control::TunnelDownReason::AuthFailed {
                    self.counters.tunnel_auth_failures += 1;
                }
                let keys: Vec<SessionKey> = self
                    .sessions
                    .keys()
                    .filter(|k| k.tunnel == tunnel)
                    .copied()
                    .collect();
                self.remove_interfaces(&keys);
                for k in keys {
                    self.remove_session(now, k);
                }
                let _ = self.datapath.remove_tunnel(tunnel);
                self.tunnel_since.remove(&tunnel);
                if let Some(was_up) = self.client.tunnels.remove(&tunnel) {
                    if !was_up {
                        // Never came up: try the next LNS of the list (if there are several).
                        self.client.server_index = self.client.server_index.wrapping_add(1);
                    }
                    self.schedule_redial(now);
                }
            }
            CtlEvent::IncomingCall {
                tunnel, session, ..
            } => {
                // Calls being set up count against the limit too, so a flood of ICRQs
                // cannot hold more state than the limit allows.
                let full = match &self.role {
                    RoleSettings::Lns(lns) => {
                        lns.max_sessions > 0
                            && self.sessions.len() + self.pending_calls.len() >= lns.max_sessions
                    }
                    RoleSettings::Client(_) => false,
                };
                let key = SessionKey::new(tunnel, session);
                if full {
                    self.counters.sessions_refused += 1;
                    let n = self.counters.sessions_refused;
                    if n == 1 || n.is_multiple_of(1000) {
                        tracing::warn!(node = %self.name, %tunnel, refused_total = n, "call refused: session limit reached");
                    }
                    let _ = self.endpoint.reject_call(
                        now,
                        tunnel,
                        session,
                        ResultCode::with_error(
                            ResultCode::CDN_NO_FACILITIES_TEMPORARY,
                            ResultCode::ERROR_NO_RESOURCES,
                            Some("session limit reached"),
                        ),
                    );
                } else if let Err(e) = self.endpoint.accept_call(now, tunnel, session) {
                    tracing::warn!(node = %self.name, %tunnel, %session, "accept call: {e}");
                } else {
                    self.pending_calls.insert(key, now);
                }
            }
            CtlEvent::SessionUp {
                tunnel,
                session,
                peer_tunnel,
                peer_session,
                peer,
                sequencing_required,
                ..
            } => {
                self.session_up(
                    now,
                    tunnel,
                    session,
                    peer_tunnel,
                    peer_session,
                    peer,
                    sequencing_required,
                );
            }
            CtlEvent::SessionDown {
                tunnel,
                session,
                reason,
            } => {
                tracing::info!(node = %self.name, %tunnel, %session, ?reason, "session down");
                // A tunnel going down reports each session, then itself: its sessions are
                // removed together at `TunnelDown` (their interfaces in one batch).
                if !matches!(reason, SessionDownReason::TunnelDown) {
                    self.remove_session(now, SessionKey::new(tunnel, session));
                }
                if self.client.tunnels.get(&tunnel) == Some(&true) {
                    // The LNS hung up one call: dial it again after a pause.
                    if !matches!(reason, SessionDownReason::TunnelDown) {
                        self.schedule_redial(now);
                    }
                }
            }
            CtlEvent::SetLinkInfo {
                tunnel,
                session,
                send_accm,
                receive_accm,
            } => {
                // RFC 2661 §6.14: the LNS sets "PPP-negotiated options" (the ACCM) on the
                // call: handed to the session's PPP link (established calls only).
                let key = SessionKey::new(tunnel, session);
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.link.set_accm(send_accm, receive_accm);
                }
                tracing::info!(node = %self.name, session = %key, send_accm = format_args!("{send_accm:#010x}"), receive_accm = format_args!("{receive_accm:#010x}"), "SLI: ACCM set");
            }
            CtlEvent::WanErrorNotify {
                tunnel,
                session,
                crc_errors,
                framing_errors,
                hardware_overruns,
                buffer_overruns,
                timeout_errors,
                alignment_errors,
            } => {
                // Kept per session by the control plane (`l2tpctl show session`).
                tracing::info!(node = %self.name, %tunnel, %session, crc_errors, framing_errors, hardware_overruns, buffer_overruns, timeout_errors, alignment_errors, "WAN error notify");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn session_up(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        peer_tunnel: TunnelId,
        peer_session: SessionId,
        peer: SocketAddr,
        sequencing_required: bool,
    ) {
        self.pending_calls.remove(&SessionKey::new(tunnel, session));
        let mut opts = self.session_options;
        opts.lns_mode = matches!(self.role, RoleSettings::Lns(_));
        if sequencing_required {
            // RFC 2661 §4.4.6 Sequencing Required: data messages must carry sequence numbers.
            opts.send_seq = true;
        }
        let cfg =
            SessionConfig::new(tunnel, session, peer_tunnel, peer_session, peer).with_options(opts);
        let key = match self.datapath.create_session(cfg) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(node = %self.name, %tunnel, %session, "datapath session: {e}");
                let _ = self.endpoint.close_session(
                    now,
                    tunnel,
                    session,
                    ResultCode::with_error(
                        ResultCode::CDN_GENERAL_ERROR,
                        ResultCode::ERROR_NO_RESOURCES,
                        None,
                    ),
                );
                return;
            }
        };
        let link_cfg = self.link_config.clone();
        // Each link draws its few random values (magic number, CHAP challenges) straight
        // from the OS: no per-session RNG state to keep. Seeded nodes (tests) stay
        // reproducible with a seeded generator.
        let mut link = if self.seeded {
            let rng = StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy());
            Link::new(link_cfg, rng)
        } else {
            Link::new(link_cfg, rand::rngs::OsRng)
        };
        link.open(now);
        tracing::info!(node = %self.name, session = %key, %peer, "session up, PPP starting");
        self.sessions
            .insert(key, Box::new(SessionCtx::new(link, now)));
        self.dirty.push(key);
        // Frames the peer sent before we saw its ICCN: replay them in order now.
        if let Some(held) = self.early_frames.remove(&key) {
            self.early_frames_total -= held.frames.len();
            for (sock, from, datagram) in held.frames {
                if let RxResult::Deliver { session, frame, .. } =
                    self.datapath.receive_on(now, sock, from, &datagram)
                {
                    self.deliver_frame(now, session, &datagram[frame]);
                }
                self.drain_deliveries(now);
            }
        }
    }

    /// A data message for a session we do not have (yet). A LAC starts PPP as soon as it
    /// sends its ICCN, so its first LCP frames can overtake the ICCN (held back by the
    /// control window) and would be lost, costing a 3 s LCP restart. Frames for a session
    /// the control plane knows as being set up are held (a few per session, bounded
    /// overall, briefly) and replayed when the session comes up; everything else goes to
    /// the control plane, which counts it.
    fn hold_early_frame(&mut self, now: Instant, tc: ToControl, from: SocketAddr, datagram: &[u8]) {
        // The datapath already read the ids from the header.
        let (tunnel, session, sock) = (tc.tunnel, tc.session, tc.socket);
        let pending = self
            .endpoint
            .session_info(tunnel, session)
            .is_some_and(|i| i.peer == from && !matches!(i.state, SessionStateKind::Established));
        let key = SessionKey::new(tunnel, session);
        if !pending || self.early_frames_total >= EARLY_FRAMES_MAX {
            let local = self.locals[sock.0 as usize];
            self.endpoint.handle_datagram(now, local, from, datagram);
            return;
        }
        let held = self.early_frames.entry(key).or_insert_with(|| EarlyFrames {
            since: now,
            frames: Vec::new(),
        });
        if held.frames.len() < EARLY_FRAMES_PER_SESSION
            && now.duration_since(held.since) < EARLY_FRAMES_TTL
        {
            held.frames.push((sock, from, datagram.to_vec()));
            self.early_frames_total += 1;
        }
    }

    fn on_ppp_event(&mut self, now: Instant, key: SessionKey, ev: PppEvent) {
        match ev {
            PppEvent::LinkUp => tracing::debug!(node = %self.name, session = %key, "LCP up"),
            PppEvent::AuthRequest {
                ticket,
                user,
                method,
                ..
            } => self.authenticate(now, key, ticket, user, method),
            PppEvent::Authenticated { user, method } => {
                tracing::info!(node = %self.name, session = %key, %user, ?method, "authenticated");
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.user = Some(user);
                }
            }
            PppEvent::NetworkUp { ipv4 } => {
                tracing::info!(node = %self.name, session = %key, local = %ipv4.local, peer = %ipv4.peer, "IPCP up");
                self.counters.sessions_up_total += 1;
                // A session that completed PPP proves the dial works: redial quickly next time.
                self.client.backoff = Duration::ZERO;
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.ipv4 = Some(ipv4);
                    s.shrink_pending = true;
                }
                if matches!(self.role, RoleSettings::Lns(_)) {
                    self.routes.insert(ipv4.peer, key);
                }
                if let Some(app) = self.app.as_mut() {
                    app.session_up(now, key, ipv4);
                }
                self.attach_ip(key, ipv4);
            }
            PppEvent::NetworkDown => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    if let Some(p) = s.ipv4.take() {
                        self.routes.remove(&p.peer);
                    }
                }
            }
            PppEvent::Ipv6Up {
                local_iid,
                peer_iid,
            } => {
                tracing::info!(node = %self.name, session = %key, local = %link_local(local_iid), peer = %link_local(peer_iid), "IPv6CP up");
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.ipv6_up = true;
                    let v6 = s.v6_mut();
                    v6.local = Some(link_local(local_iid));
                    v6.iids = Some((local_iid, peer_iid));
                    s.shrink_pending = true;
                }
                self.setup_ipv6(key);
                if let Some(app) = self.app.as_mut() {
                    app.session_up_v6(now, key, link_local(local_iid), link_local(peer_iid));
                }
            }
            PppEvent::Ipv6Down => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.ipv6_up = false;
                }
            }
            PppEvent::Ipv4Packet(p) | PppEvent::Ipv6Packet(p) => {
                if let Some(app) = self.app.as_mut() {
                    app.packet(now, key, &p, &mut self.outbox);
                }
            }
            PppEvent::Down { reason } => {
                let result = session::cdn_for_ppp_down(&reason);
                if session::is_auth_failure(&reason) {
                    self.counters.auth_failures += 1;
                    tracing::warn!(node = %self.name, session = %key, ?reason, "PPP authentication failed");
                } else {
                    tracing::info!(node = %self.name, session = %key, ?reason, "PPP down");
                }
                let _ = self
                    .endpoint
                    .close_session(now, key.tunnel, key.session, result);
            }
        }
    }

    /// LNS: checks the user and hands out an address.
    fn authenticate(
        &mut self,
        now: Instant,
        key: SessionKey,
        ticket: ppp::auth::AuthTicket,
        user: String,
        method: AuthMethod,
    ) {
        let RoleSettings::Lns(lns) = &mut self.role else {
            return;
        };
        let Some(sess) = self.sessions.get_mut(&key) else {
            return;
        };
        // MS-CHAPv2 names may arrive as DOMAIN\user.
        let name = user.rsplit('\\').next().unwrap_or(&user);
        let decision = match lns.users.get(name) {
            None => {
                tracing::warn!(node = %self.name, session = %key, user = %name, ?method, "authentication failed: unknown user");
                AuthDecision::Reject
            }
            Some(u) => {
                let addr = match sess.pool_addr {
                    Some(a) => Ok(a),
                    None => lns
                        .pool
                        .lease(u.ipv4)
                        .inspect(|a| sess.pool_addr = Some(*a)),
                };
                match addr {
                    Ok(a) => {
                        sess.link.set_peer_ipv4(a);
                        AuthDecision::Password(u.password.clone())
                    }
                    Err(e) => {
                        // RFC 2661 §4.4.2: CDN Result Code 4, "temporary lack of resources";
                        // the client sees why in the CDN's message, not as a bad password.
                        tracing::warn!(node = %self.name, session = %key, user = %name, "no address for the session: {e}");
                        self.counters.sessions_refused += 1;
                        let why = match e {
                            crate::leases::LeaseError::Pool(_) => "address pool exhausted",
                            _ => "the user's fixed address is in use by another session",
                        };
                        let _ = self.endpoint.close_session(
                            now,
                            key.tunnel,
                            key.session,
                            ResultCode::with_error(
                                ResultCode::CDN_NO_FACILITIES_TEMPORARY,
                                ResultCode::ERROR_NO_RESOURCES,
                                Some(why),
                            ),
                        );
                        return;
                    }
                }
            }
        };
        if let Err(e) = sess.link.auth_decision(now, ticket, decision) {
            tracing::warn!(node = %self.name, session = %key, "auth decision: {e}");
        }
        self.dirty.push(key);
    }

    fn remove_session(&mut self, now: Instant, key: SessionKey) {
        if let Some(mut s) = self.sessions.remove(&key) {
            s.link.lower_down(now);
            // The link may already know it failed authentication (a client that refused the
            // only protocol the LNS offers, and was hung up on): count it like any other.
            while let Some(ev) = s.link.poll_event() {
                if let PppEvent::Down { reason } = ev {
                    if session::is_auth_failure(&reason) {
                        self.counters.auth_failures += 1;
                        tracing::warn!(node = %self.name, session = %key, ?reason, "PPP authentication failed");
                    }
                }
            }
            if let Some(p) = s.ipv4 {
                self.routes.remove(&p.peer);
                if let (Some((_, idx)), RoleSettings::Lns(_)) = (&self.shared_tun, &self.role) {
                    let idx = *idx;
                    if let Some(nc) = self.netconf.as_mut() {
                        let _ = nc.del_route(idx, tunif::host_route(p.peer));
                    }
                }
            }
            if s.tun.is_some() {
                // Closing the TUN removes its addresses and routes with it.
                self.tun_tokens.retain(|_, k| *k != key);
                if self.default_route_session == Some(key) {
                    self.default_route_session = None;
                }
            }
            if let (Some(a), RoleSettings::Lns(lns)) = (s.pool_addr, &mut self.role) {
                lns.pool.release(a);
            }
            if let Some(lease) = s.v6().and_then(|v| v.lease) {
                self.routes6.retain(|_, k| *k != key);
                if let RoleSettings::Lns(lns) = &mut self.role {
                    if let Some(p) = lns.ipv6_pool.as_mut() {
                        let _ = p.free(&lease);
                    }
                }
            }
            if let Some(app) = self.app.as_mut() {
                app.session_down(key);
            }
        }
        let _ = self.datapath.remove_session(key);
        self.forget_early_frames(key);
        self.pending_calls.remove(&key);
    }

    fn forget_early_frames(&mut self, key: SessionKey) {
        if let Some(h) = self.early_frames.remove(&key) {
            self.early_frames_total -= h.frames.len();
        }
    }

    fn start_dialing(&mut self, now: Instant) {
        if self.client.dials == 0 && matches!(self.role, RoleSettings::Client(_)) {
            self.dial(now);
        }
    }

    fn dial(&mut self, now: Instant) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        let servers = 1 + c.fallback_servers.len();
        let server = match self.client.server_index % servers {
            0 => c.server,
            i => c.fallback_servers[i - 1],
        };
        let local = self
            .locals
            .iter()
            .copied()
            .find(|l| l.is_ipv4() == server.is_ipv4())
            .unwrap_or(self.locals[0]);
        if c.local_port.is_some() && self.client.tunnels.is_empty() {
            // Sending from a fixed port: the socket is connected to the LNS dialled, so the
            // kernel hands it that LNS's datagrams even when other clients share the port.
            let sock = self.locals.iter().position(|l| *l == local).unwrap_or(0);
            if let Err(e) = self.sockets[sock].connect(server) {
                tracing::error!(node = %self.name, %server, "cannot connect the UDP socket: {e}");
            }
        }
        self.client.dials = self.client.dials.saturating_add(1);
        let (want_tunnels, want_sessions) = (c.tunnels.max(1), c.sessions);
        // Tunnels still up: top their calls back up to the configured number.
        let up: Vec<TunnelId> = self
            .client
            .tunnels
            .iter()
            .filter(|(_, up)| **up)
            .map(|(t, _)| *t)
            .collect();
        for t in up {
            let have = self.endpoint.sessions(t).count() as u32;
            for _ in have..want_sessions {
                let _ = self
                    .endpoint
                    .place_incoming_call(now, t, CallParams::default());
            }
        }
        while (self.client.tunnels.len() as u32) < want_tunnels {
            match self
                .endpoint
                .open_tunnel(now, local, server, TunnelOptions::default())
            {
                Ok(t) => {
                    tracing::info!(node = %self.name, tunnel = %t, %server, "dialing");
                    self.client.tunnels.insert(t, false);
                }
                Err(e) => {
                    tracing::error!(node = %self.name, %server, "cannot open tunnel: {e}");
                    self.schedule_redial(now);
                    break;
                }
            }
        }
    }

    fn schedule_redial(&mut self, now: Instant) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        if self.client.dials == u32::MAX || self.client.hung_up || self.client.redial_at.is_some() {
            return;
        }
        if !c.redial {
            tracing::warn!(node = %self.name, "not redialing (dial.redial = false)");
            return;
        }
        let b = if self.client.backoff.is_zero() {
            c.redial_initial
        } else {
            (self.client.backoff * 2).min(c.redial_max)
        };
        self.client.backoff = b;
        self.client.redial_at = Some(now + b);
        tracing::info!(node = %self.name, "redial in {:?}", b);
    }
}

impl Node {
    /// Connects a session whose IPCP came up to its TUN (per-session or shared).
    fn attach_ip(&mut self, key: SessionKey, ipv4: ppp::Ipv4Params) {
        match self.ip_mode.clone() {
            tunif::IpMode::App => {}
            tunif::IpMode::PerSession { name, mtu, routes } => {
                let token = self.next_tun_token;
                self.next_tun_token += 1;
                let poller = &self.poller;
                let r = netconf_of(&mut self.netconf)
                    .map_err(|e| e.to_string())
                    .and_then(|nc| {
                        tunif::open_session_tun(
                            nc,
                            poller,
                            Token(token),
                            &name,
                            mtu,
                            &ipv4,
                            &routes,
                        )
                    });
                match r {
                    Ok(tun) => {
                        let ifname = tun.name().to_string();
                        println!(
                            "session {key}: interface {ifname} up, local {} peer {}{}",
                            ipv4.local,
                            ipv4.peer,
                            ipv4.dns[0]
                                .map(|d| format!(", DNS {d}"))
                                .unwrap_or_default()
                        );
                        self.tun_tokens.insert(token, key);
                        self.maybe_default_route(key, &ifname);
                        if let Some(s) = self.sessions.get_mut(&key) {
                            s.interface = Some(ifname.clone());
                            s.tun = Some(tun);
                        }
                        // IPv6CP may have finished before IPCP created the interface.
                        self.setup_ipv6(key);
                    }
                    Err(e) => {
                        tracing::error!(node = %self.name, session = %key, "cannot set up the interface: {e}");
                        let now = Instant::now();
                        let _ = self.endpoint.close_session(
                            now,
                            key.tunnel,
                            key.session,
                            ResultCode::with_error(
                                ResultCode::CDN_GENERAL_ERROR,
                                ResultCode::ERROR_NO_RESOURCES,
                                Some("no interface"),
                            ),
                        );
                    }
                }
            }
            tunif::IpMode::Shared { name, .. } => {
                let Some((_, idx)) = self
                    .shared_tun
                    .as_ref()
                    .map(|(t, i)| (t.name().to_string(), *i))
                else {
                    return;
                };
                if let Some(s) = self.sessions.get_mut(&key) {
                    s.interface = Some(name);
                }
                if matches!(self.role, RoleSettings::Lns(_)) {
                    let r = self.netconf().map_err(|e| e.to_string()).and_then(|nc| {
                        nc.add_route(idx, tunif::host_route(ipv4.peer), None)
                            .map_err(|e| e.to_string())
                    });
                    if let Err(e) = r {
                        tracing::warn!(node = %self.name, session = %key, "route to {}: {e}", ipv4.peer);
                    }
                }
            }
        }
    }

    /// Counts a refused tunnel; returns the total when this refusal should be logged. One
    /// line per refusal would let a flood fill the log: the first, then every 1000th.
    fn count_refused_tunnel(&mut self) -> Option<u64> {
        self.counters.tunnels_refused += 1;
        let n = self.counters.tunnels_refused;
        (n == 1 || n.is_multiple_of(1000)).then_some(n)
    }

    /// A control datagram for tunnel 0 (an SCCRQ, normally) from `from`: false when its
    /// source address is over [`NEW_TUNNELS_PER_SOURCE`] this second. Checked before the
    /// datagram is decoded, so a flood from few addresses costs a hash lookup per datagram
    /// and never reaches the half-open table (where it would evict other peers' tunnels).
    /// Counted in `tunnels_refused`.
    fn admit_new_tunnel_datagram(&mut self, now: Instant, from: SocketAddr) -> bool {
        let Some(why) = self.new_tunnel_rate.over(now, from.ip()) else {
            return true;
        };
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %from, refused_total = n, "incoming tunnel refused: {why}");
        }
        false
    }

    /// LNS: accepts or refuses a new tunnel (allowed peers, tunnel limit; the rate per
    /// source was checked before the SCCRQ was decoded, `admit_new_tunnel_datagram`).
    ///
    /// A peer not allowed hears why (StopCCN, Result Code 4), statelessly: one StopCCN, not
    /// retransmitted, no tunnel held, at most 50 such answers a second
    /// (`Endpoint::refuse_tunnel`). When the tunnel limit is reached, the SCCRQ is dropped
    /// without an answer and without state. Half-open tunnels do not count against `max_tunnels`:
    /// they have their own table in the endpoint (`max_half_open_tunnels`), where an
    /// accepted tunnel evicts the oldest half-open one when it is full; the tunnel limit is
    /// enforced again when a tunnel comes up (`enforce_tunnel_limit`).
    fn decide_tunnel(&mut self, now: Instant, tunnel: TunnelId, peer: SocketAddr) {
        let established = self.tunnel_since.len();
        let refusal = match &self.role {
            RoleSettings::Lns(lns) => {
                if lns.max_tunnels > 0 && established >= lns.max_tunnels {
                    Some(("tunnel limit reached", false))
                } else if !lns.allowed_peers.is_empty()
                    && !lns.allowed_peers.iter().any(|c| c.contains(peer.ip()))
                {
                    Some(("peer not allowed", true))
                } else {
                    None
                }
            }
            RoleSettings::Client(_) => Some(("not accepting tunnels", false)),
        };
        let Some((why, answer)) = refusal else {
            // Per SCCRQ: debug (a flood of accepted SCCRQs must not fill the log; the
            // tunnel's coming up is logged at info).
            tracing::debug!(node = %self.name, %tunnel, %peer, "incoming tunnel accepted");
            if let Err(e) = self.endpoint.accept_tunnel(now, tunnel) {
                tracing::warn!(node = %self.name, %tunnel, "accept: {e}");
            }
            return;
        };
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %peer, refused_total = n, "incoming tunnel refused: {why}");
        }
        if answer {
            // RFC 2661 §4.4.2 StopCCN Result Code 4: not authorized.
            let result = ResultCode::with_error(ResultCode::STOPCCN_NOT_AUTHORIZED, 0, Some(why));
            let _ = self.endpoint.refuse_tunnel(now, tunnel, result);
        } else {
            let _ = self.endpoint.discard_tunnel(tunnel);
        }
    }

    /// LNS: a tunnel completed its handshake while `max_tunnels` were already established
    /// (SCCRQs accepted together, each within the limit when it arrived): it is closed with
    /// StopCCN (the peer answered our SCCRP, so it is not a spoofed source). True when the
    /// tunnel was refused.
    fn enforce_tunnel_limit(&mut self, now: Instant, tunnel: TunnelId, peer: SocketAddr) -> bool {
        let RoleSettings::Lns(lns) = &self.role else {
            return false;
        };
        if lns.max_tunnels == 0 || self.tunnel_since.len() < lns.max_tunnels {
            return false;
        }
        if let Some(n) = self.count_refused_tunnel() {
            tracing::warn!(node = %self.name, %tunnel, %peer, refused_total = n, "tunnel limit reached as the tunnel came up: StopCCN");
        }
        let result = ResultCode::with_error(
            ResultCode::STOPCCN_GENERAL_ERROR,
            ResultCode::ERROR_NO_RESOURCES,
            Some("tunnel limit reached"),
        );
        let _ = self.endpoint.close_tunnel(now, tunnel, result);
        true
    }

    /// Gives memory back after many sessions ended: stale timer entries dropped, tables
    /// shrunk, the allocator trimmed. Cheap to call; works only when it is worth it.
    fn compact(&mut self) {
        let live = self.sessions.len();
        let stale_timers = self.link_timers.len() > 2 * live + 1024;
        let oversized = self.sessions.capacity() > 4 * live + 1024;
        if !stale_timers && !oversized {
            return;
        }
        let sessions = &self.sessions;
        let timers: Vec<_> = self
            .link_timers
            .drain()
            .filter(|Reverse((t, k))| sessions.get(k).is_some_and(|s| s.timer == Some(*t)))
            .collect();
        self.link_timers = timers.into_iter().collect();
        if oversized {
            self.sessions.shrink_to_fit();
            self.routes.shrink_to_fit();
            self.tun_tokens.shrink_to_fit();
            self.early_frames.shrink_to_fit();
            self.tunnel_since.shrink_to_fit();
            self.dirty.shrink_to_fit();
            self.outbox.shrink_to_fit();
            self.endpoint.shrink_to_fit();
            self.datapath.shrink_to_fit();
            l2tp_io::mem::trim_heap();
            tracing::debug!(node = %self.name, sessions = live, "tables compacted");
        }
    }

    /// Once a second: session and idle timeouts, memory compaction.
    fn housekeeping(&mut self, now: Instant) {
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + Duration::from_secs(1);
        self.compact();
        // Tables that only a burst of set-ups fills: give their capacity back once it is over.
        if self.pending_calls.is_empty() && self.pending_calls.capacity() > 64 {
            self.pending_calls.shrink_to_fit();
        }
        if self.early_frames.is_empty() && self.early_frames.capacity() > 64 {
            self.early_frames.shrink_to_fit();
        }

        // A call that never completes is cleared by the control plane (`connect_timeout`,
        // counted from when our ICRP was on the wire).
        let RoleSettings::Lns(lns) = &self.role else {
            return;
        };
        let (session_timeout, idle_timeout) = (lns.session_timeout, lns.idle_timeout);
        if session_timeout.is_none() && idle_timeout.is_none() {
            return;
        }
        let mut expired = Vec::new();
        for (key, s) in self.sessions.iter_mut() {
            let rx = self
                .datapath
                .stats(key.tunnel, key.session)
                .map(|st| st.rx_packets)
                .unwrap_or(0);
            if rx != s.last_rx_packets {
                s.last_rx_packets = rx;
                s.last_activity = now;
            }
            if session_timeout.is_some_and(|t| now.duration_since(s.since) >= t) {
                expired.push((*key, "session timeout"));
            } else if idle_timeout.is_some_and(|t| now.duration_since(s.last_activity) >= t) {
                expired.push((*key, "idle timeout"));
            }
        }
        for (key, why) in expired {
            tracing::info!(node = %self.name, session = %key, "closing: {why}");
            if let Some(s) = self.sessions.get_mut(&key) {
                s.link.close(now, why);
            }
            self.dirty.push(key);
        }
    }

    /// IPv6 on a session once IPv6CP is up and (per-session mode) its TUN exists: the
    /// link-local address; on the LNS the session's prefix lease, routes and a Router
    /// Advertisement; on the client, an advertisement that arrived early. Idempotent.
    fn setup_ipv6(&mut self, key: SessionKey) {
        let per_session_tun = matches!(self.ip_mode, tunif::IpMode::PerSession { .. });
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let Some((local_iid, peer_iid)) = s.v6().and_then(|v| v.iids) else {
            return;
        };
        if s.v6().is_some_and(|v| v.configured) || (per_session_tun && s.tun.is_none()) {
            return;
        }
        let ifname = s.tun.as_ref().map(|t| t.name().to_string());
        if let Some(ifname) = &ifname {
            let r = netconf_of(&mut self.netconf)
                .map_err(|e| e.to_string())
                .and_then(|nc| tunif::add_ipv6_link_local(nc, ifname, link_local(local_iid)));
            if let Err(e) = r {
                tracing::warn!(node = %self.name, session = %key, "IPv6 address on {ifname}: {e}");
            }
        }
        if let Some(s) = self.sessions.get_mut(&key) {
            s.v6_mut().configured = true;
        }
        match &mut self.role {
            RoleSettings::Lns(lns) => {
                let Some(pool) = lns.ipv6_pool.as_mut() else {
                    return;
                };
                let lease = match pool.allocate() {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(node = %self.name, session = %key, "no IPv6 prefix: {e}");
                        return;
                    }
                };
                let pool_prefix = pool.prefix();
                let server = pool.server_address();
                let prefix = lease
                    .delegated
                    .map(|d| d.network())
                    .unwrap_or(pool_prefix.network());
                let peer_global = ra::with_iid(prefix, peer_iid);
                let (route, route_key) = match lease.delegated {
                    Some(d) => (crate::addr::IpCidr::V6(d), u128::from(d.network())),
                    None => (
                        crate::addr::IpCidr::V6(
                            crate::addr::Ipv6Cidr::new(peer_global, 128).expect("/128"),
                        ),
                        u128::from(peer_global),
                    ),
                };
                if let Some(s) = self.sessions.get_mut(&key) {
                    let v6 = s.v6_mut();
                    v6.lease = Some(lease);
                    v6.global = Some(peer_global);
                }
                let idx = match (&ifname, &self.shared_tun) {
                    (Some(n), _) => netconf_of(&mut self.netconf)
                        .ok()
                        .and_then(|nc| nc.link_index(n).ok()),
                    (None, Some((_, i))) => Some(*i),
                    (None, None) => None,
                };
                if let Some(idx) = idx {
                    let r = netconf_of(&mut self.netconf)
                        .map_err(|e| e.to_string())
                        .and_then(|nc| {
                            if ifname.is_some() {
                                // Our own address on each session's link, so the client can reach us.
                                nc.add_address(idx, server.into(), 128)
                                    .map_err(|e| e.to_string())?;
                            }
                            nc.add_route(idx, route, None).map_err(|e| e.to_string())
                        });
                    if let Err(e) = r {
                        tracing::warn!(node = %self.name, session = %key, "IPv6 routes: {e}");
                    }
                }
                if self.shared_tun.is_some() {
                    self.routes6.insert(route_key, key);
                }
                tracing::info!(node = %self.name, session = %key, prefix = %prefix, peer = %peer_global, "IPv6 prefix assigned");
                self.send_router_advertisement(key);
            }
            RoleSettings::Client(_) => {
                let pending = self
                    .sessions
                    .get_mut(&key)
                    .and_then(|s| s.ipv6.as_mut().and_then(|v| v.pending_ra.take()));
                if let Some(l) = pending {
                    self.apply_router_advertisement(key, l);
                }
            }
        }
    }

    /// LNS: announces the session's prefix (RFC 4861 §6.2.4 unsolicited, §6.2.6 solicited).
    fn send_router_advertisement(&mut self, key: SessionKey) {
        let RoleSettings::Lns(lns) = &self.role else {
            return;
        };
        let Some(pool) = &lns.ipv6_pool else {
            return;
        };
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let Some((Some((local_iid, _)), Some(lease))) = s.v6().map(|v| (v.iids, v.lease)) else {
            return;
        };
        let pool_prefix = pool.prefix();
        let ad = ra::Advertisement {
            prefix: lease
                .delegated
                .map(|d| d.network())
                .unwrap_or(pool_prefix.network()),
            route: Some((pool_prefix.network(), pool_prefix.len())),
            mtu: u32::from(self.ppp_mru),
            router_lifetime: 1800,
        };
        let packet = ra::router_advertisement(link_local(local_iid), ra::ALL_NODES, &ad);
        self.outbox.push((key, packet));
    }

    /// Router Solicitations (LNS) and Router Advertisements (client) on a session are
    /// handled here, not passed to the host. Returns true when the packet was consumed.
    fn router_message(&mut self, key: SessionKey, packet: &[u8]) -> bool {
        match self.role {
            RoleSettings::Lns(_) => {
                if !ra::is_router_solicitation(packet) {
                    return false;
                }
                self.send_router_advertisement(key);
                true
            }
            RoleSettings::Client(_) => {
                let Some(l) = ra::parse_router_advertisement(packet) else {
                    return false;
                };
                let ready = self
                    .sessions
                    .get(&key)
                    .is_some_and(|s| s.v6().is_some_and(|v| v.configured) && s.tun.is_some());
                if ready {
                    self.apply_router_advertisement(key, l);
                } else if let Some(s) = self.sessions.get_mut(&key) {
                    s.v6_mut().pending_ra = Some(l);
                }
                true
            }
        }
    }

    /// Client: forms our global address in each advertised prefix (prefix + our IPv6CP
    /// identifier, RFC 5072 §5), installs the advertised routes and, with
    /// `dial.default_route`, the IPv6 default route.
    fn apply_router_advertisement(&mut self, key: SessionKey, l: ra::Learned) {
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let (Some((local_iid, _)), Some(ifname)) = (
            s.v6().and_then(|v| v.iids),
            s.tun.as_ref().map(|t| t.name().to_string()),
        ) else {
            return;
        };
        let default = matches!(&self.role, RoleSettings::Client(c) if c.default_route)
            && l.router_lifetime > 0;
        let mut global = None;
        let r = netconf_of(&mut self.netconf)
            .map_err(|e| e.to_string())
            .and_then(|nc| {
                let idx = nc.link_index(&ifname).map_err(|e| e.to_string())?;
                // Advertisements repeat (unsolicited, then in answer to the kernel's
                // solicitation): what is already configured is fine.
                let added = |r: Result<(), crate::netconf::NetconfError>| match r {
                    Err(e) if e.source.kind() != io::ErrorKind::AlreadyExists => Err(e.to_string()),
                    _ => Ok(()),
                };
                for p in &l.prefixes {
                    let a = ra::with_iid(*p, local_iid);
                    added(nc.add_address(idx, a.into(), 64))?;
                    global.get_or_insert(a);
                }
                for (r, len) in &l.routes {
                    if let Some(c) = crate::addr::Ipv6Cidr::new(*r, *len) {
                        added(nc.add_route(idx, crate::addr::IpCidr::V6(c), None))?;
                    }
                }
                if default {
                    let any = crate::addr::Ipv6Cidr::new(std::net::Ipv6Addr::UNSPECIFIED, 0)
                        .expect("::/0");
                    added(nc.add_route(idx, crate::addr::IpCidr::V6(any), None))?;
                }
                Ok(())
            });
        match r {
            Ok(()) => {
                if let Some(a) = global {
                    println!("session {key}: IPv6 address {a} on {ifname}");
                }
                if let Some(s) = self.sessions.get_mut(&key) {
                    let v6 = s.v6_mut();
                    v6.global = global.or(v6.global);
                }
            }
            Err(e) => {
                tracing::warn!(node = %self.name, session = %key, "IPv6 autoconfiguration: {e}")
            }
        }
    }

    /// Shared TUN: the session owning an IPv6 destination (its /128, or its /64).
    fn route6_lookup(&self, packet: &[u8]) -> Option<SessionKey> {
        if packet.len() < 40 || packet[0] >> 4 != 6 {
            return None;
        }
        let dst = u128::from_be_bytes(packet[24..40].try_into().ok()?);
        self.routes6
            .get(&dst)
            .or_else(|| self.routes6.get(&(dst & !u128::from(u64::MAX))))
            .copied()
    }

    /// Client with `dial.default_route`: a host route to the LNS through the current path,
    /// then the default route into the tunnel (like pppd's `defaultroute` with a route to the
    /// server kept outside it).
    fn maybe_default_route(&mut self, key: SessionKey, ifname: &str) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        if !c.default_route || self.default_route_session.is_some() {
            return;
        }
        let Some(lns) = self.endpoint.tunnel_info(key.tunnel).map(|t| t.peer.ip()) else {
            return;
        };
        let r = netconf_of(&mut self.netconf)
            .map_err(|e| e.to_string())
            .and_then(|nc| {
                let path = nc.route_get(lns).map_err(|e| e.to_string())?;
                let host = match lns {
                    std::net::IpAddr::V4(a) => tunif::host_route(a),
                    std::net::IpAddr::V6(_) => {
                        return Err("IPv6 LNS: default route not supported".into())
                    }
                };
                if let Some(gw) = path.gateway {
                    nc.add_route_via(host, gw, path.ifindex)
                        .map_err(|e| e.to_string())?;
                }
                let idx = nc.link_index(ifname).map_err(|e| e.to_string())?;
                let default = crate::addr::IpCidr::V4(
                    crate::addr::Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("0.0.0.0/0"),
                );
                nc.add_route(idx, default, None).map_err(|e| e.to_string())
            });
        match r {
            Ok(()) => {
                self.default_route_session = Some(key);
                println!("session {key}: default route via {ifname}");
            }
            Err(e) => tracing::warn!(node = %self.name, session = %key, "default route: {e}"),
        }
    }

    /// Reads IP packets from a TUN and sends each into its session.
    fn receive_tun(&mut self, now: Instant, token: u64) {
        let Some(mut seg) = self.tunrx.take() else {
            return;
        };
        for _ in 0..RX_BUDGET {
            let shared = token == tunif::TUN_TOKEN_BASE;
            let tun = if shared {
                self.shared_tun.as_ref().map(|(t, _)| t)
            } else {
                self.tun_tokens
                    .get(&token)
                    .and_then(|k| self.sessions.get(k))
                    .and_then(|s| s.tun.as_ref())
            };
            let Some(tun) = tun else {
                break;
            };
            // One read: one IP packet, or (offloads on) a TCP super-packet of up to 64 KiB,
            // cut into wire-sized segments below.
            match seg.read(tun) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::debug!(node = %self.name, "TUN packet dropped: {e}");
                    continue;
                }
                Err(_) => break,
            }
            let key = if shared {
                let packet = seg.packet();
                let Some(key) = tunif::ipv4_destination(packet)
                    .and_then(|d| self.routes.get(&d).copied())
                    .or_else(|| self.route6_lookup(packet))
                else {
                    continue;
                };
                key
            } else {
                let Some(&key) = self.tun_tokens.get(&token) else {
                    break;
                };
                key
            };
            self.tx_mergeable = seg.is_segmenting();
            while let Some(packet) = seg.next_segment() {
                self.send_ip(key, packet);
            }
            self.tx_mergeable = false;
        }
        self.tunrx = Some(seg);
        let _ = now;
    }

    fn socket_id(&self, local: SocketAddr) -> SocketId {
        SocketId(self.locals.iter().position(|l| *l == local).unwrap_or(0) as u32)
    }
}

/// The netlink connection, opened on first use (only TUN modes need it).
/// The PPP settings every session of a node shares (built once, in `Node::new`).
fn link_config_of(config: &NodeConfig) -> Arc<LinkConfig> {
    let mut cfg = match &config.role {
        RoleSettings::Lns(lns) => {
            LinkConfig::server(lns.auth_methods.clone(), lns.local_ipv4, lns.dns)
        }
        RoleSettings::Client(c) => {
            let mut l = LinkConfig::client(&c.username, &c.password);
            if !c.auth_methods.is_empty() {
                l.auth.methods = c.auth_methods.clone();
            }
            l
        }
    };
    cfg.ipv6 = match &config.role {
        RoleSettings::Lns(lns) => lns.ipv6,
        RoleSettings::Client(_) => true,
    };
    cfg.echo_interval = config.ppp_echo_interval;
    cfg.mru = config.ppp_mru;
    cfg.echo_failures = config.ppp_echo_failures.max(1);
    cfg.establish_timeout = config.ppp_establish_timeout;
    Arc::new(cfg)
}

fn netconf_of(
    slot: &mut Option<crate::netconf::NetConf>,
) -> io::Result<&mut crate::netconf::NetConf> {
    if slot.is_none() {
        *slot = Some(crate::netconf::NetConf::new().map_err(io::Error::other)?);
    }
    Ok(slot.as_mut().expect("just set"))
}

/// The link-local IPv6 address fe80::/64 + interface identifier.
fn link_local(iid: [u8; 8]) -> std::net::Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&iid);
    o.into()
}
