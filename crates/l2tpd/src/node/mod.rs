//! The I/O shell around the sans-IO [`Core`]: it owns every syscall and the clock. UDP
//! sockets (batched `recvmmsg`/`sendmmsg`, GSO/GRO), the poller, the TUN table, rtnetlink,
//! the management socket's queue and the resolver thread; each turn it reads the clock once,
//! feeds the core what arrived, and carries out what the core queued.
//!
//! * [`tuns`]: the TUN table and the core's interface and route operations;
//! * [`tunif`]: opening and configuring TUN devices;
//! * [`netconf`]: rtnetlink (addresses, routes, route lookups);
//! * [`resolver`]: host names resolved on a thread of their own;
//! * `receive`: datagrams, TUN packets, kernel PPP frames, resolutions and management
//!   requests handed to the core;
//! * `send`: datagrams queued on their socket's `sendmmsg` batch, and batches sent;
//! * `pppoe`: a LAC's PPPoE interfaces (raw sockets);
//! * [`radius`]: RADIUS authentication, accounting and dynamic authorization sockets;
//! * [`kernel_backend`]: the kernel's PPPoL2TP datapath (`daemon.datapath = "kernel"`);
//! * [`pppd`]: its sessions handed to pppd (`ppp.mode = "pppd"`);
//! * [`tc`]: per-session rate limits on the kernel datapath's `pppN` with `tc`;
//! * [`handover`]: sockets, TUNs and the core's snapshot given to (or taken from) another
//!   process on a hitless upgrade.

pub mod handover;
mod journal;
pub use journal::Recovery;
pub mod kernel_backend;
pub mod netconf;
pub mod pppd;
mod pppoe;
pub mod radius;
mod receive;
pub mod resolver;
mod send;
pub mod tc;
pub mod tunif;
pub mod tuns;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use l2tp_io::offload::Segmenter;
use l2tp_io::poller::{Events, Interest, Poller, Token};
use l2tp_io::udp::{RecvBatch, SendBatch, UdpOptions, UdpSocket};
use l2tp_proto::control::Endpoint;

use crate::config::DatapathMode;
pub use crate::core::{
    ClientSettings, Core, DialPeer, Input, IpMode, LnsSettings, NodeConfig, NodeCounters, Output,
    RoleSettings, SessionSnapshot, TunTarget,
};
use crate::core::{DatapathBackend, IpOp};
use crate::ip::ipterm::IpApp;
use crate::mgmt_server::{MgmtServer, PendingRequest};
use crate::users::Users;
use kernel_backend::{choose_datapath, KernelBackend, KernelDp, KernelRx, KERNEL_TOKEN_BASE};
use send::{flush_socket, queue_datagram};

/// Most UDP sockets (listen addresses) a node binds; socket i polls with token i.
const MAX_SOCKETS: usize = 16;
/// Poll token of the management server's waker.
const TOKEN_MGMT: Token = Token(1 << 32);
/// Poll token of the resolver's waker.
const TOKEN_RESOLVER: Token = Token((1 << 32) + 1);
/// Datagrams (or TUN reads) handled per readiness event before other work gets a turn.
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
        // UDP GSO only for the segments of one TCP super-packet read from a TUN (queued
        // mergeable by the core): a GSO run crossing a veth reaches captures (tcpdump,
        // tshark) as one merged datagram, so control messages and every other data packet
        // are committed alone and leave as datagrams of their own.
        gso: true,
        // GRO: a GSO run from the peer stays one message up to our recvmmsg (split again by
        // `RecvBatch::datagrams`), not one socket-queue entry per datagram.
        gro: true,
        recv_buffer: Some(SOCKET_RCVBUF),
        send_buffer: Some(SOCKET_SNDBUF),
        // No SO_REUSEADDR at the bind: on UDP it would let a second daemon bind the same
        // port and take this one's traffic. A UDP port has no TIME_WAIT, so a restart
        // rebinds without it. The kernel datapath sets it after the bind (`Node::with_datapath`).
        reuse_address: false,
        reuse_port: false,
        v6_only: true,
    }
}

/// One L2TP node (LNS or client): the core, and the sockets and devices it speaks through.
pub struct Node {
    name: String,
    /// One UDP socket per listen address; index = socket index = poll token.
    sockets: Vec<UdpSocket>,
    poller: Poller,
    events: Events,
    core: Core,
    tuns: tuns::Tuns,
    /// TUN reads: the virtio header, checksum completion and TCP segmentation of offloaded
    /// super-packets.
    segmenter: Segmenter,
    rxbatch: RecvBatch,
    /// Per socket: datagrams waiting for the end of the batch (one `sendmmsg` for them all).
    txbatches: Vec<SendBatch>,
    mgmt: Option<(MgmtServer, std::sync::mpsc::Receiver<PendingRequest>)>,
    /// `reload` requests waiting for the daemon.
    reload_requests: Vec<PendingRequest>,
    /// `upgrade` requests waiting for the daemon.
    upgrade_requests: Vec<PendingRequest>,
    /// Management requests waiting for the core's reply, by token.
    pending: HashMap<u64, PendingRequest>,
    next_token: u64,
    resolver: Option<resolver::Resolver>,
    /// RADIUS client and DAE sockets, when RADIUS is configured.
    radius: Option<radius::RadiusShell>,
    /// Counted here: send errors and oversized datagrams.
    io_counters: NodeCounters,
    /// The kernel datapath, when it runs (its fds are polled here).
    kernel: Option<Arc<Mutex<KernelDp>>>,
    /// What the kernel datapath's fds gave, for the core.
    kernel_rx: Vec<KernelRx>,
    /// The clock as read at the start of the last turn.
    now: Instant,
    /// A LAC's PPPoE interfaces.
    pppoe: Option<pppoe::PppoeLinks>,
    /// The crash journal (`daemon.state_dir`), written before each step's datagrams leave.
    journal: Option<crate::journal::Journal>,
    journal_records: Vec<Vec<u8>>,
}

impl Node {
    /// Binds the sockets, opens the shared TUN (if any) and builds the core. Nothing is sent
    /// until [`Node::step`] runs.
    pub fn new(config: NodeConfig) -> io::Result<Node> {
        Node::with_datapath(config, DatapathMode::Userspace)
    }

    /// [`Node::new`] with the datapath `mode` asks for: `kernel` fails when this kernel has
    /// no PPPoL2TP (the error says what is missing), `auto` falls back to userspace; one log
    /// line says which runs and why.
    pub fn with_datapath(config: NodeConfig, mode: DatapathMode) -> io::Result<Node> {
        Node::build(config, mode, None)
    }

    /// [`Node::with_datapath`], or, with `inherited`, a node on the sockets and TUNs another
    /// process handed over, its core restored from that process's snapshot.
    fn build(
        config: NodeConfig,
        mode: DatapathMode,
        mut inherited: Option<handover::Inherited>,
    ) -> io::Result<Node> {
        // A LAC relays frames between PPPoE and L2TP itself: the userspace datapath.
        let kernel = match inherited.as_ref() {
            // An upgrade: the datapath the old process ran.
            Some(i) => handover::inherited_datapath(&config, mode, i)?,
            None => choose_datapath(&config, mode)? && !matches!(config.role, RoleSettings::Lac(_)),
        };
        let poller = Poller::new()?;
        if config.listen.is_empty() || config.listen.len() > MAX_SOCKETS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("between 1 and {MAX_SOCKETS} listen addresses needed"),
            ));
        }
        // A client on a fixed port (1701) shares it with other clients of the host: each
        // socket is connected to its own LNS, which the kernel matches first.
        let shared_port = matches!(&config.role, RoleSettings::Client(c) if c.local_port.is_some());
        let opts = UdpOptions {
            reuse_port: shared_port,
            ..socket_options()
        };
        let mut sockets = Vec::new();
        for socket in inherited.iter_mut().flat_map(|i| i.sockets.drain(..)) {
            poller.register(
                socket.as_raw_fd(),
                Token(sockets.len() as u64),
                Interest::READABLE,
            )?;
            sockets.push(socket);
        }
        let bind = if inherited.is_some() {
            &[][..]
        } else {
            &config.listen[..]
        };
        for (i, addr) in bind.iter().enumerate() {
            let optional = i > 0 && addr.is_ipv6() && addr.ip().is_unspecified();
            let socket = match UdpSocket::bind_with(*addr, &opts) {
                Err(e) if optional => {
                    // A client's second family (hosts without IPv6): dial IPv4 only.
                    tracing::info!(node = %config.name, "no IPv6 socket ({e}): IPv4 LNSs only");
                    continue;
                }
                r => r,
            };
            let socket = socket.map_err(|e| {
                let hint = if e.kind() == io::ErrorKind::AddrInUse {
                    " (another l2tpd or L2TP daemon already has this port)"
                } else {
                    ""
                };
                io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}{hint}"))
            })?;
            if kernel {
                // The kernel datapath gives each tunnel a socket of its own, bound to the same
                // address and port and connected to the peer (kernel_backend): they need
                // SO_REUSEADDR on this one too. Set after the bind, it keeps the bind above
                // exclusive: a port another daemon has is refused as in userspace mode.
                socket.set_reuse_address(true)?;
            }
            poller.register(
                socket.as_raw_fd(),
                Token(sockets.len() as u64),
                Interest::READABLE,
            )?;
            sockets.push(socket);
        }
        let locals: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr()).collect();
        let mut tuns = tuns::Tuns::new();
        for (key, tun) in inherited.iter_mut().flat_map(|i| i.tuns.drain(..)) {
            tuns.adopt(&poller, key, tun)?;
        }
        if let (IpMode::Shared { name, mtu }, RoleSettings::Lns(lns), None) =
            (&config.ip_mode, &config.role, &inherited)
        {
            let server6 = lns.ipv6_pool.as_ref().map(|p| p.server_address());
            tuns.open_shared(&poller, name, *mtu, lns.local_ipv4, server6)?;
        }
        let rx_slot = if sockets.iter().any(|s| s.gro_enabled()) {
            l2tp_io::udp::GRO_BUFFER
        } else {
            RX_SLOT
        };
        let now = Instant::now();
        let name = config.name.clone();
        let pppoe_interfaces = match &config.role {
            RoleSettings::Lac(l) => Some((l.interfaces.clone(), l.vlan_trunk)),
            _ => None,
        };
        let mut core = Core::new(config, locals.clone(), now)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let kernel = if kernel {
            let mut kdp = KernelDp::new(locals, poller.try_clone()?);
            if let Some((table, fds)) = inherited.as_mut().and_then(|i| i.kernel.take()) {
                kdp.adopt(&table, fds)?;
            }
            let dp = Arc::new(Mutex::new(kdp));
            core.set_datapath(Box::new(KernelBackend(dp.clone())));
            Some(dp)
        } else {
            None
        };
        let given = inherited.as_mut().and_then(|i| i.pppoe.take());
        let pppoe = pppoe_interfaces
            .map(|(names, trunk)| {
                pppoe::PppoeLinks::open(&names, trunk, given, &poller, &mut core, now)
            })
            .transpose()?;
        if let Some(i) = &inherited {
            core.restore(&i.snapshot, now)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(Node {
            pppoe,
            name,
            txbatches: (0..sockets.len())
                .map(|_| SendBatch::new(TX_BATCH, TX_SLOT))
                .collect(),
            sockets,
            poller,
            events: Events::with_capacity(64),
            core,
            tuns,
            segmenter: Segmenter::new(),
            rxbatch: RecvBatch::new(RX_BATCH, rx_slot),
            mgmt: None,
            reload_requests: Vec::new(),
            upgrade_requests: Vec::new(),
            pending: HashMap::new(),
            next_token: 1,
            resolver: None,
            radius: None,
            io_counters: NodeCounters::default(),
            kernel,
            kernel_rx: Vec::new(),
            now,
            journal: None,
            journal_records: Vec::new(),
        })
    }

    /// Serves management requests from `server` in this loop.
    pub fn attach_mgmt(
        &mut self,
        server: MgmtServer,
        requests: std::sync::mpsc::Receiver<PendingRequest>,
    ) -> io::Result<()> {
        self.poller
            .register(server.waker_fd(), TOKEN_MGMT, Interest::READABLE)?;
        self.mgmt = Some((server, requests));
        Ok(())
    }

    /// Authenticates and accounts through RADIUS (and serves Disconnect/CoA requests when
    /// configured): binds the sockets on this loop, sends Accounting-On and the spooled
    /// Stops.
    pub fn attach_radius(&mut self, cfg: radius::RadiusConfig) -> io::Result<()> {
        self.attach_radius_on(cfg, None)
    }

    /// The same on the sockets a previous process handed over (`Some`: an upgrade): the
    /// restored core keeps its RADIUS state (Acct-Session-Id prefix, next NAS-Port) and no
    /// Accounting-On is sent, the sessions going on.
    pub fn attach_radius_on(
        &mut self,
        cfg: radius::RadiusConfig,
        given: Option<radius::RadiusSockets>,
    ) -> io::Result<()> {
        let settings = cfg.sessions.clone();
        let upgrade = given.is_some();
        let mut shell = radius::RadiusShell::with_sockets(cfg, given.unwrap_or_default())?;
        shell.register(&self.poller)?;
        if upgrade {
            self.core.resume_radius(settings);
            // Servers the old process had marked dead stay dead until their dead time ends.
            shell.carry_server_marks(&self.core.take_radius_servers());
        } else {
            self.core.enable_radius(settings);
        }
        self.core
            .set_auth_backend(Box::new(crate::core::aaa::Deferred));
        shell.start(Instant::now(), !upgrade);
        shell.flush();
        self.radius = Some(shell);
        Ok(())
    }

    /// The RADIUS shell, when attached.
    pub fn radius(&self) -> Option<&radius::RadiusShell> {
        self.radius.as_ref()
    }

    /// Terminates IP inside the process with `app` (demo, tests).
    pub fn set_ip_app(&mut self, app: Box<dyn IpApp>) {
        self.core.set_ip_app(app);
    }

    /// Hands every session's PPP to pppd (`ppp.mode = "pppd"`); refused unless the kernel
    /// datapath runs.
    pub fn set_pppd(&mut self, spec: pppd::PppdSpec) -> io::Result<()> {
        let Some(k) = &self.kernel else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "ppp.mode = \"pppd\" needs the kernel datapath, and the userspace one runs \
                 (see the datapath line above)",
            ));
        };
        k.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_pppd(spec);
        Ok(())
    }

    /// True when the kernel's PPPoL2TP datapath runs.
    pub fn kernel_datapath(&self) -> bool {
        self.kernel.is_some()
    }

    /// The first bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.core.local_addrs()[0]
    }

    /// Every bound UDP address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        self.core.local_addrs()
    }

    /// The control plane (read-only: tunnel and session state).
    pub fn endpoint(&self) -> &Endpoint {
        self.core.endpoint()
    }

    /// The datapath (read-only: statistics).
    pub fn datapath(&self) -> &dyn DatapathBackend {
        self.core.datapath()
    }

    /// The core (read-only).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// LNS: pool addresses in use (0 for a client).
    pub fn pool_in_use(&self) -> u32 {
        self.core.pool_usage().map(|p| p.1 as u32).unwrap_or(0)
    }

    /// Sessions whose IPCP is up.
    pub fn sessions_up(&self) -> usize {
        self.core.sessions_up()
    }

    /// LNS: (pool capacity, addresses in use).
    pub fn pool_usage(&self) -> Option<(u64, u64)> {
        self.core.pool_usage()
    }

    /// A reload: see [`Core::reconfigure`].
    pub fn reconfigure(&mut self, new: &NodeConfig, users: Option<Users>) -> bool {
        self.core.reconfigure(new, users)
    }

    /// Reload requests from the management socket, answered by the caller (the daemon reads
    /// the configuration file; the event loop does no file I/O).
    pub fn take_reload_requests(&mut self) -> Vec<PendingRequest> {
        std::mem::take(&mut self.reload_requests)
    }

    /// `upgrade` requests from the management socket, carried out by the daemon.
    pub fn take_upgrade_requests(&mut self) -> Vec<PendingRequest> {
        std::mem::take(&mut self.upgrade_requests)
    }

    /// LNS: replaces the users (SIGHUP); sessions already up are kept.
    pub fn replace_users(&mut self, users: Users) {
        self.core.replace_users(users);
    }

    /// Node-wide counters.
    pub fn counters(&self) -> NodeCounters {
        let mut c = self.core.counters();
        c.send_errors = self.io_counters.send_errors;
        c.oversized_datagrams = self.io_counters.oversized_datagrams;
        c
    }

    /// Snapshots of every session that has a PPP link (uptimes as of the last turn's clock).
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        self.core.sessions(self.now)
    }

    /// Daemon-wide statistics (also the source of the Prometheus metrics).
    pub fn daemon_stats(&self, now: Instant) -> l2tp_mgmt::DaemonStats {
        let mut s = self.core.daemon_stats(now);
        s.radius = self.radius.as_ref().map(|r| r.stats(now));
        s
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
    /// New tunnels meanwhile hear a StopCCN ("shutting down").
    ///
    /// The StopCCNs leave before anything slow (tearing sessions and their interfaces down):
    /// their retransmission timers run from the moment they are queued, and a StopCCN held
    /// back behind seconds of interface removal would be retransmitted as soon as it left.
    /// Per-session interfaces go in one netlink request (their device group), not one by one.
    pub fn shutdown(&mut self, grace: Duration) -> io::Result<()> {
        let now = Instant::now();
        self.now = now;
        self.core.handle(now, Input::Shutdown);
        self.send_datagrams();
        self.flush_sockets();
        self.tuns.remove_interfaces(None);
        self.drain();
        self.flush();
        let deadline = now + grace;
        while self.now < deadline && !self.core.endpoint().closing_settled() {
            self.step(Duration::from_millis(50))?;
        }
        self.flush();
        let r = self.radius_stop(grace);
        // A clean stop: nothing to resume, the journal and the kept interfaces go.
        if let Some(j) = self.journal.take() {
            j.remove();
        }
        r
    }

    /// Accounting-Off, then (bounded by `grace`) the accounting records in flight are
    /// waited for; Stops still unacknowledged are spooled.
    fn radius_stop(&mut self, grace: Duration) -> io::Result<()> {
        let Some(r) = self.radius.as_mut() else {
            return Ok(());
        };
        r.stop(Instant::now());
        r.flush();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline
            && self
                .radius
                .as_ref()
                .is_some_and(|r| r.accounting_in_flight() > 0)
        {
            self.step(Duration::from_millis(50))?;
        }
        if let Some(r) = self.radius.as_mut() {
            r.spool_in_flight();
        }
        Ok(())
    }

    /// One turn of the loop: wait for input or the next timer (at most `max_wait`), read the
    /// clock once, hand the core what arrived and a tick, carry out what it asks.
    pub fn step(&mut self, max_wait: Duration) -> io::Result<()> {
        let radius_timer = self.radius.as_ref().and_then(|r| r.poll_timeout());
        let wait = [self.core.poll_timeout(), radius_timer]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_duration_since(self.now))
            .unwrap_or(max_wait)
            .min(max_wait);
        if let Err(e) = self.poller.wait(&mut self.events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = Instant::now();
        self.now = now;
        let mut readable = [false; MAX_SOCKETS];
        let (mut mgmt_ready, mut resolver_ready) = (false, false);
        let (mut radius_ready, mut dae_ready) = ([false; 2], false);
        let mut tun_ready = [0u64; 64];
        let mut n_tun = 0;
        let mut kernel_ready = [0u64; 64];
        let mut n_kernel = 0;
        for e in self.events.iter() {
            match e.token {
                TOKEN_MGMT => mgmt_ready = true,
                TOKEN_RESOLVER => resolver_ready = true,
                radius::TOKEN_RADIUS => radius_ready[0] = true,
                radius::TOKEN_RADIUS6 => radius_ready[1] = true,
                radius::TOKEN_DAE => dae_ready = true,
                Token(t) if pppoe::PppoeLinks::owns(t) => {
                    if let Some(p) = self.pppoe.as_mut() {
                        p.receive(t, now, &mut self.core);
                    }
                }
                Token(t) if t >= KERNEL_TOKEN_BASE => {
                    if n_kernel < kernel_ready.len() {
                        kernel_ready[n_kernel] = t;
                        n_kernel += 1;
                    }
                }
                Token(t) if t >= tunif::TUN_TOKEN_BASE => {
                    if n_tun < tun_ready.len() {
                        tun_ready[n_tun] = t;
                        n_tun += 1;
                    }
                }
                Token(t) => {
                    if let Some(r) = readable.get_mut(t as usize) {
                        *r = true;
                    }
                }
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
        for &t in &kernel_ready[..n_kernel] {
            self.receive_kernel(now, t);
        }
        if resolver_ready {
            self.receive_resolutions(now);
        }
        if let Some(r) = self.radius.as_mut() {
            for input in r.service(now, radius_ready, dae_ready) {
                self.core.handle(now, input);
            }
        }
        self.core.handle(now, Input::Tick);
        if self.core.take_trim_request() {
            l2tp_io::mem::trim_heap();
        }
        self.tuns.tc.reap();
        if mgmt_ready {
            self.serve_mgmt(now);
        }
        self.drain();
        self.flush();
        Ok(())
    }

    /// Carries out what the core queued: datagrams into the send batches, TUN writes,
    /// interface operations (whose results go back to the core), replies, resolutions.
    fn drain(&mut self) {
        for _ in 0..16 {
            self.send_datagrams();
            if let Some(p) = self.pppoe.as_mut() {
                p.send(self.core.pppoe_frames());
                self.core.clear_pppoe_frames();
            }
            let out = self.core.outputs();
            for (w, bytes) in out.tun_writes() {
                self.tuns.write(w.target, w.vnet_hdr.as_ref(), bytes);
            }
            out.clear_packets();
            let mut feedback = Vec::new();
            while let Some(o) = self.core.outputs().pop() {
                match o {
                    Output::Ip(op) => {
                        if matches!(op, IpOp::RemoveInterfaces { .. }) {
                            // What is queued for the peers leaves before the slow teardown:
                            // a StopCCN's acknowledgement must not wait behind it.
                            self.send_datagrams();
                            self.flush_sockets();
                        }
                        if let Some(i) = self.apply(op) {
                            feedback.push(i);
                        }
                    }
                    Output::Reply {
                        token,
                        mut response,
                    } => {
                        // The RADIUS sockets are the shell's: their figures are added here.
                        if let (l2tp_mgmt::Response::Stats(st), Some(r)) =
                            (&mut *response, self.radius.as_ref())
                        {
                            st.radius = Some(r.stats(self.now));
                        }
                        if let Some(p) = self.pending.remove(&token) {
                            p.respond(*response);
                        }
                    }
                    Output::Resolve { id, host, port } => self.resolve(id, host, port),
                    Output::Auth(req) => match self.radius.as_mut() {
                        Some(r) => feedback.extend(r.authenticate(self.now, req)),
                        None => {
                            tracing::error!(node = %self.name, session = %req.key, "authentication request with no backend to answer it: refused");
                            feedback.push(Input::AuthDecision {
                                request: req,
                                answer: crate::core::AuthAnswer::Reject,
                            });
                        }
                    },
                    Output::AuthCancel(req) => {
                        if let Some(r) = self.radius.as_mut() {
                            r.cancel(&req);
                        }
                    }
                    Output::Accounting(rec) => {
                        if let Some(r) = self.radius.as_mut() {
                            r.account(self.now, &rec);
                        }
                    }
                    Output::DaeAnswer { request, result } => {
                        if let Some(r) = self.radius.as_mut() {
                            r.dae_answer(&request, result);
                        }
                    }
                }
            }
            if feedback.is_empty() {
                return;
            }
            for i in feedback {
                self.core.handle(self.now, i);
            }
        }
    }

    /// Moves the core's queued datagrams into the send batches (after connecting the
    /// sockets it asked to connect).
    fn send_datagrams(&mut self) {
        self.write_journal();
        let out = self.core.outputs();
        for (sock, peer) in out.take_connects() {
            if let Some(s) = self.sockets.get_mut(sock) {
                if let Err(e) = s.connect(peer) {
                    tracing::error!(node = %self.name, %peer, "cannot connect the UDP socket: {e}");
                }
            }
        }
        for (t, bytes) in out.transmits() {
            queue_datagram(
                &self.sockets,
                &mut self.txbatches,
                &mut self.io_counters,
                t,
                bytes,
            );
        }
        out.clear_datagrams();
    }

    fn apply(&mut self, op: IpOp) -> Option<Input<'static>> {
        if let (Some(k), IpOp::OpenSessionTun { key, .. }) = (&self.kernel, &op) {
            let mut dp = k.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if dp.has_session(*key) {
                let IpOp::OpenSessionTun {
                    key,
                    mtu,
                    ipv4,
                    routes,
                    ..
                } = op
                else {
                    unreachable!("matched above")
                };
                let mru = u16::try_from(mtu).unwrap_or(u16::MAX);
                let r = dp.attach_unit(key, mru);
                drop(dp);
                let r = r.and_then(|ifname| {
                    self.tuns
                        .configure_ptp(&ifname, mtu, &ipv4, &routes)
                        .map(|()| ifname)
                });
                return Some(match r {
                    Ok(ifname) => {
                        println!(
                            "session {key}: interface {ifname} up (kernel), local {} peer {}",
                            ipv4.local, ipv4.peer
                        );
                        Input::InterfaceUp { key, ifname }
                    }
                    Err(error) => Input::InterfaceFailed { key, error },
                });
            }
        }
        self.tuns.apply(&self.poller, op)
    }

    fn resolve(&mut self, id: u64, host: String, port: u16) {
        if self.resolver.is_none() {
            match resolver::Resolver::start() {
                Ok(r) => {
                    if let Err(e) =
                        self.poller
                            .register(r.waker_fd(), TOKEN_RESOLVER, Interest::READABLE)
                    {
                        tracing::error!(node = %self.name, "resolver: {e}");
                    }
                    self.resolver = Some(r);
                }
                Err(e) => {
                    let result = Err(format!("cannot start the resolver: {e}"));
                    self.core.handle(self.now, Input::Resolved { id, result });
                    return;
                }
            }
        }
        if let Some(r) = &self.resolver {
            r.resolve(id, host, port);
        }
    }

    /// Sends what every socket's batch holds.
    fn flush(&mut self) {
        self.core.end_batch();
        self.drain();
        if let Some(r) = self.radius.as_mut() {
            r.flush();
        }
        self.flush_sockets();
    }

    /// Sends what the send batches hold (`sendmmsg`).
    fn flush_sockets(&mut self) {
        for sock in 0..self.sockets.len() {
            flush_socket(
                &self.sockets[sock],
                &mut self.txbatches[sock],
                &mut self.io_counters,
            );
        }
    }
}
