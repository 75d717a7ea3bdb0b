//! The daemon's sans-IO core: every decision, no syscall, no clock, no DNS.
//!
//! `Core::handle(now, Input)` takes one input — a received datagram, an IP packet read from a
//! TUN, a management request, an authentication decision, a resolved host name, the result
//! of an interface operation, or a tick — and queues what must happen in [`Outputs`]:
//! datagrams to send, packets to write to TUNs, interface and route operations, replies. The
//! I/O shell (`crate::node`) owns sockets, TUNs, netlink and the clock, feeds the core and
//! drains its outputs after every batch of inputs. Tests drive two cores over `l2tp-sim` in
//! virtual time.
//!
//! Data moves like this:
//!
//! ```text
//!  UDP datagram ──► datapath backend ──► PPP frame ──► ppp::classify
//!                        │                              ├─ IPv4/IPv6 ─► TUN write / IpApp
//!                        │                              └─ LCP/auth/NCP ─► Link::handle_frame
//!                        └─► control ──► Endpoint::handle_datagram ──► events
//!  TUN packet ──► PPP header + encapsulate (header written in front) ──► datagram output
//! ```
//!
//! Rooms, one job each:
//! * [`sessions`]: the session table (one insert, one remove, every index in step);
//!   `session`: one session's state, shaped by its stage (establishing, admitted);
//! * `admission`: tunnel and call admission (limits, per-source rates, shutdown refusal);
//! * [`aaa`]: the authentication backend seam (local users; asynchronous backends);
//! * [`datapath`]: the datapath backend seam (userspace datapath, kernel PPPoL2TP);
//! * `frames`: PPP frames and IP packets between the datapath, the links and the TUNs;
//! * `events`: control-plane and PPP events turned into session life;
//! * `dialler`: tunnels and calls we place, redial with backoff, name resolution requests;
//! * `ip_policy`: addresses, routes, Router Advertisements, as operations for the shell;
//! * `lifecycle`, `loglimit`: the session-down and tunnel-down lines, and rate limits on
//!   the lines a peer can provoke;
//! * `manage`: management requests and replies; `reconfigure`: a reload applied;
//! * [`radius`]: RADIUS session state, accounting records, Disconnect and CoA;
//! * [`proxy_lns`]: an LNS's use of a LAC's proxy LCP and proxy authentication;
//! * `shaper`: per-session rate limits (a token bucket per direction);
//! * `deadlines`: Session-Timeout, Idle-Timeout and Interim-Updates in one heap;
//! * [`lac`]: the LAC relay (PPPoE subscribers relayed into L2TP calls, proxy LCP and
//!   authentication);
//! * `failover`: RFC 4951 failover, as the peer of a failing endpoint and as one;
//! * [`quality`]: line quality — probe loss, round trip and traffic per 100-s period, 24 h;
//! * [`settings`], [`output`]: what a core is built from, and what it emits.

pub mod aaa;
mod admission;
pub mod datapath;
mod deadlines;
mod dhcpv6;
mod dialler;
mod events;
mod failover;
mod frames;
mod ip_policy;
mod journal;
pub mod lac;
mod lifecycle;
mod loglimit;
mod manage;
mod outgoing;
pub mod output;
pub mod proxy_lns;
pub mod quality;
pub mod radius;
mod reconfigure;
mod session;
pub mod sessions;
pub mod settings;
mod shaper;
pub mod snapshot;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tp_proto::control::{Endpoint, EndpointConfig};
use l2tp_proto::data::{Datapath, SessionKey};
use l2tp_wire::result::ResultCode;
use l2tp_wire::TunnelId;
use ppp::LinkConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::ip::ipterm::{IpApp, Outbox};
use crate::users::Users;

pub use aaa::{AuthAnswer, AuthBackend, AuthRequest, LocalUsers};
pub use datapath::DatapathBackend;
pub use outgoing::OutgoingCalls;
pub use output::{Iface, IpOp, Output, Outputs, Transmit, TunWrite};
pub use sessions::SessionSnapshot;
pub use settings::{
    ClientSettings, DialPeer, IpMode, LnsSettings, NodeConfig, PeerPolicy, RoleSettings, TunTarget,
};

use admission::Admission;
use dialler::Dialler;
use sessions::SessionTable;

/// Room in front of a PPP frame for the largest data header we write.
pub(crate) const HEADROOM: usize = l2tp_proto::data::DATA_HEADER_MAX;
/// Largest UDP payload.
pub(crate) const MAX_DATAGRAM: usize = 65_535;

/// One input to the core.
#[derive(Debug)]
pub enum Input<'a> {
    /// A UDP datagram received on local socket `socket` (index into the listen addresses).
    Datagram {
        /// Which local socket.
        socket: usize,
        /// Sender.
        from: SocketAddr,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// A PPP frame a kernel datapath handed up for a session (from its PPP channel or unit:
    /// LCP, authentication, NCPs).
    PppFrame {
        /// The session.
        key: SessionKey,
        /// The frame, protocol field first.
        frame: &'a [u8],
    },
    /// An IP packet read from a TUN.
    TunPacket {
        /// Which TUN.
        source: TunTarget,
        /// The packet.
        packet: &'a [u8],
        /// One segment of a TCP super-packet: it may share a UDP GSO send with the others.
        segment: bool,
    },
    /// A management request; the reply is [`Output::Reply`] with the same token.
    Manage {
        /// Quoted in the reply.
        token: u64,
        /// The request.
        request: l2tp_mgmt::Request,
    },
    /// An asynchronous authentication backend answered [`Output::Auth`].
    AuthDecision {
        /// The request answered.
        request: AuthRequest,
        /// The answer.
        answer: AuthAnswer,
    },
    /// A RADIUS Disconnect-Request or CoA-Request, authenticated by the shell; the answer
    /// is [`Output::DaeAnswer`].
    Dae(Box<l2tp_radius::dae::DaeRequest>),
    /// A host name asked for with [`Output::Resolve`] resolved (or not).
    Resolved {
        /// The request's id.
        id: u64,
        /// Its addresses, or why there are none.
        result: Result<Vec<SocketAddr>, String>,
    },
    /// [`IpOp::OpenSessionTun`] succeeded: the session's interface is up.
    InterfaceUp {
        /// The session.
        key: SessionKey,
        /// The interface's name.
        ifname: String,
    },
    /// [`IpOp::OpenSessionTun`] failed.
    InterfaceFailed {
        /// The session.
        key: SessionKey,
        /// Why.
        error: String,
    },
    /// The process running a session's PPP (pppd, `ppp.mode = "pppd"`) exited: the call is
    /// cleared with a CDN carrying `result` and `why`.
    PppProcessExited {
        /// The session.
        key: SessionKey,
        /// CDN result code (RFC 2661 §4.4.2).
        result: u16,
        /// What happened, in words (for the log and the CDN's error message).
        why: String,
    },
    /// An Ethernet frame read on PPPoE interface `interface` (LAC: the index in
    /// `lac.interfaces`).
    PppoeFrame {
        /// Which interface.
        interface: usize,
        /// The frame, Ethernet header first.
        frame: &'a [u8],
    },
    /// Time passed: timers due at `now` fire.
    Tick,
    /// SIGTERM: close every tunnel (StopCCN), refuse new ones, stop dialling.
    Shutdown,
}

/// Node-wide counters not kept by the engines.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
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
    /// UDP send errors (counted by the shell).
    pub send_errors: u64,
    /// Datagrams larger than the receive buffer slot (dropped by the shell).
    pub oversized_datagrams: u64,
    /// Tunnels refused (peer not allowed, tunnel limit, shutting down).
    pub tunnels_refused: u64,
    /// Calls refused (session limit, no address).
    pub sessions_refused: u64,
    /// IP packets dropped by a session's rate limit (both directions).
    pub rate_limited: u64,
    /// Session deadlines (Session-Timeout, Idle-Timeout, Interim-Update) that came due and
    /// were looked at: housekeeping's whole cost per session, whatever the session count.
    pub deadlines_due: u64,
    /// DHCPv6 messages answered on the sessions' links (prefix delegation).
    pub dhcpv6_answered: u64,
    /// DHCPv6 messages dropped: malformed, not for us, or before the session's IPv6.
    pub dhcpv6_dropped: u64,
}

/// The sans-IO daemon core of one node (LNS or client/LAC).
pub struct Core {
    name: String,
    /// The shell's bound addresses; index = socket index = `SocketId`.
    locals: Vec<SocketAddr>,
    endpoint: Endpoint,
    datapath: Box<dyn DatapathBackend>,
    /// The backend sends PPP frames itself (kernel datapath).
    frames_via_backend: bool,
    /// A kernel backend's outgoing frame, assembled here.
    frame_scratch: Vec<u8>,
    session_options: l2tp_proto::data::SessionOptions,
    ppp_mru: u16,
    role: RoleSettings,
    ip_mode: IpMode,
    sessions: SessionTable,
    /// Sessions whose link has output or events to handle.
    dirty: Vec<SessionKey>,
    app: Option<Box<dyn IpApp>>,
    outbox: Outbox,
    out: Outputs,
    auth: Box<dyn AuthBackend>,
    admission: Admission,
    /// Rate limits on the log lines a peer can provoke.
    log_limit: loglimit::LogLimiter,
    dialler: Dialler,
    frames: frames::Frames,
    /// The session whose TUN carries the default route (client `dial.default_route`).
    default_route_session: Option<SessionKey>,
    rng: StdRng,
    seeded: bool,
    counters: NodeCounters,
    started: Instant,
    next_housekeeping: Instant,
    /// PPP settings shared by every session's link.
    link_config: Arc<LinkConfig>,
    /// RADIUS session state (None: no RADIUS).
    radius: Option<radius::RadiusState>,
    /// Session-Timeout, Idle-Timeout and Interim-Update deadlines.
    deadlines: deadlines::Deadlines,
    /// The `now` of the input being handled (for paths that are not handed it).
    clock: Instant,
    /// Tables were shrunk: the allocator may give memory back to the OS.
    trim_heap: bool,
    /// The LAC relay (LAC role).
    lac: Option<Box<lac::Lac>>,
    /// When the line-quality period in progress ends.
    quality: quality::QualityClock,
    /// What a hitless upgrade carried over into this core (None: started afresh).
    carried: Option<Box<snapshot::Carried>>,
    /// The crash journal's dirty marks (None: no state directory).
    journal: Option<Box<journal::Tracker>>,
    /// RFC 4951 failover: recoveries answered and attempted.
    failover: failover::FailoverState,
}

impl Core {
    /// A core for `config`, whose shell bound `locals` (in the order of `config.listen`).
    pub fn new(
        mut config: NodeConfig,
        locals: Vec<SocketAddr>,
        now: Instant,
    ) -> Result<Core, String> {
        let link_config = settings::link_config_of(&config);
        let mut rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let ep_rng = StdRng::from_rng(&mut rng).map_err(|e| e.to_string())?;
        let mut endpoint_cfg: EndpointConfig = config.endpoint;
        // Every call request is decided here: its direction (`outgoing`), then admission.
        endpoint_cfg.decide_incoming_calls = true;
        let users = match &mut config.role {
            // A switching LAC takes tunnels from other LACs (decided like an LNS's).
            RoleSettings::Lac(l) if l.switching => {
                endpoint_cfg.decide_incoming_tunnels = true;
                Users::default()
            }
            RoleSettings::Client(_) | RoleSettings::Lac(_) => {
                endpoint_cfg.accept_incoming_tunnels = false;
                Users::default()
            }
            // The core decides (allowed peers, tunnel limit): IncomingTunnel events.
            RoleSettings::Lns(lns) => {
                endpoint_cfg.decide_incoming_tunnels = true;
                endpoint_cfg.decide_incoming_calls = true;
                std::mem::take(&mut lns.users)
            }
        };
        if matches!(config.ip_mode, IpMode::Shared { .. })
            && !matches!(config.role, RoleSettings::Lns(_))
        {
            return Err("a shared TUN needs the LNS role".into());
        }
        let lac = match &config.role {
            RoleSettings::Lac(l) => Some(Box::new(lac::Lac::new((**l).clone()))),
            _ => None,
        };
        Ok(Core {
            lac,
            name: config.name,
            locals,
            endpoint: Endpoint::new(endpoint_cfg, Box::new(ep_rng)),
            datapath: Box::new(Datapath::new(config.datapath)),
            frames_via_backend: false,
            frame_scratch: Vec::new(),
            session_options: config.session_options,
            ppp_mru: config.ppp_mru,
            role: config.role,
            ip_mode: config.ip_mode,
            sessions: SessionTable::default(),
            dirty: Vec::new(),
            app: None,
            outbox: Vec::new(),
            out: Outputs::default(),
            auth: Box::new(LocalUsers(users)),
            admission: Admission::new(now),
            log_limit: loglimit::LogLimiter::default(),
            dialler: Dialler::default(),
            frames: frames::Frames::new(now),
            default_route_session: None,
            rng,
            seeded: config.seed.is_some(),
            counters: NodeCounters::default(),
            started: now,
            next_housekeeping: now,
            link_config,
            radius: None,
            deadlines: deadlines::Deadlines::default(),
            clock: now,
            trim_heap: false,
            quality: quality::QualityClock::new(config.ppp_quality_interval, now),
            carried: None,
            journal: None,
            failover: Default::default(),
        })
    }

    /// Replaces the datapath backend (the userspace datapath by default); before the first
    /// input.
    pub fn set_datapath(&mut self, backend: Box<dyn DatapathBackend>) {
        self.frames_via_backend = backend.carries_frames();
        self.datapath = backend;
    }

    /// Replaces the authentication backend (the local users by default).
    pub fn set_auth_backend(&mut self, backend: Box<dyn AuthBackend>) {
        self.auth = backend;
    }

    /// Terminates IP inside the process with `app` (demo, tests).
    pub fn set_ip_app(&mut self, app: Box<dyn IpApp>) {
        self.app = Some(app);
    }

    /// Handles one input; what it causes is queued in [`Core::outputs`].
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.clock = now;
        match input {
            Input::Datagram {
                socket,
                from,
                bytes,
            } => self.receive_datagram(now, socket, from, bytes),
            Input::PppFrame { key, frame } => self.deliver_frame(now, key, frame),
            Input::TunPacket {
                source,
                packet,
                segment,
            } => self.receive_tun_packet(source, packet, segment),
            Input::Manage { token, request } => {
                if let Some(response) = self.handle_request(now, token, request) {
                    self.out.push(Output::Reply {
                        token,
                        response: Box::new(response),
                    });
                }
            }
            Input::AuthDecision { request, answer }
                if request.key.tunnel == lac::LAC_AUTH_TUNNEL =>
            {
                self.lac_auth_decided(now, request, answer)
            }
            Input::AuthDecision { request, answer } => {
                if self.auth_answer_is_current(&request) {
                    self.auth_decided(now, request.key, request.ticket, answer)
                }
            }
            Input::Dae(request) => self.dae_request(now, request),
            Input::Resolved { id, result } => self.resolved(now, id, result),
            Input::InterfaceUp { key, ifname } => {
                self.journal_mark(key);
                self.interface_up(key, ifname)
            }
            Input::InterfaceFailed { key, error } => self.interface_failed(now, key, &error),
            Input::PppProcessExited { key, result, why } => {
                self.ppp_process_exited(now, key, result, &why)
            }
            Input::PppoeFrame { interface, frame } => self.pppoe_frame(now, interface, frame),
            Input::Tick => {
                self.start_dialing(now);
                self.handle_timers(now);
                self.housekeeping(now);
            }
            Input::Shutdown => self.shutdown(now),
        }
        self.pump(now);
    }

    /// Ends a batch of inputs: a run of TCP segments held for one TUN write is queued.
    pub fn end_batch(&mut self) {
        self.flush_tun();
    }

    /// True (once) when the core shrank its tables after many sessions ended: the shell
    /// asks the allocator to give memory back to the OS.
    pub fn take_trim_request(&mut self) -> bool {
        std::mem::take(&mut self.trim_heap)
    }

    /// What the core asks for; the shell drains it after every batch of inputs.
    pub fn outputs(&mut self) -> &mut Outputs {
        &mut self.out
    }

    /// The soonest timer of every engine (the shell sleeps until then at most).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.endpoint.poll_timeout(),
            self.datapath.poll_timeout(),
            self.sessions.next_timer(),
            self.app.as_ref().and_then(|a| a.poll_timeout()),
            self.dialler.redial_at,
            self.lac.as_ref().and_then(|l| l.poll_timeout()),
            Some(self.next_housekeeping),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.locals
    }

    /// The control plane (read-only: tunnel and session state).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The datapath backend (read-only: statistics).
    pub fn datapath(&self) -> &dyn DatapathBackend {
        &*self.datapath
    }

    /// Sessions whose IPCP is up.
    pub fn sessions_up(&self) -> usize {
        self.sessions
            .iter()
            .filter(|(_, s)| s.ipv4().is_some())
            .count()
    }

    /// LNS: (pool capacity, addresses in use).
    pub fn pool_usage(&self) -> Option<(u64, u64)> {
        match &self.role {
            RoleSettings::Lns(l) => {
                Some((u64::from(l.pool.capacity()), u64::from(l.pool.in_use())))
            }
            RoleSettings::Client(_) | RoleSettings::Lac(_) => None,
        }
    }

    /// LNS with an IPv6 pool: how many of its leases are handed out.
    pub fn ipv6_pool_in_use(&self) -> Option<usize> {
        match &self.role {
            RoleSettings::Lns(l) => l.ipv6_pool.as_ref().map(|p| p.in_use()),
            RoleSettings::Client(_) | RoleSettings::Lac(_) => None,
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
            self.auth.replace_users(users);
        }
    }

    /// LAC: PPPoE interface `index` (of `lac.interfaces`) is open with Ethernet address
    /// `mac`; its access concentrator starts answering discovery.
    pub fn open_pppoe_interface(&mut self, index: usize, mac: [u8; 6], now: Instant) {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        self.rng.fill_bytes(&mut secret);
        if let Some(l) = self.lac.as_deref_mut() {
            l.open_interface(index, mac, &secret, now);
        }
    }

    /// LAC: `n` PPPoE frames the kernel dropped, its sockets' receive buffers full.
    pub fn note_pppoe_socket_drops(&mut self, n: u64) {
        if let Some(l) = self.lac.as_deref_mut() {
            l.counters.socket_overflow += n;
        }
    }

    /// LAC: the PPPoE frames to send, as (interface index, Ethernet frame); the shell clears
    /// them with [`Core::clear_pppoe_frames`] once sent.
    pub fn pppoe_frames(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.lac.as_deref().into_iter().flat_map(|l| l.out.iter())
    }

    /// LAC: the queued PPPoE frames were sent.
    pub fn clear_pppoe_frames(&mut self) {
        if let Some(l) = self.lac.as_deref_mut() {
            l.out.clear();
        }
    }

    /// LAC: the PPPoE subscribers.
    pub fn pppoe_sessions(&self, now: Instant) -> Vec<lac::PppoeSnapshot> {
        self.lac
            .as_deref()
            .map(|l| l.snapshots(now))
            .unwrap_or_default()
    }

    /// LAC: the relay's counters and each interface's PPPoE counters.
    pub fn lac_counters(&self) -> Option<(lac::LacCounters, Vec<(String, pppoe::Stats)>)> {
        self.lac.as_deref().map(|l| (l.counters, l.pppoe_stats()))
    }

    /// Node-wide counters.
    pub fn counters(&self) -> NodeCounters {
        NodeCounters {
            deadlines_due: self.deadlines.visits,
            ..self.counters
        }
    }

    /// Snapshots of every session that has a PPP link.
    pub fn sessions(&self, now: Instant) -> Vec<SessionSnapshot> {
        let mut v: Vec<_> = self
            .sessions
            .iter()
            .map(|(k, s)| {
                let stats = self.datapath.stats(k.tunnel, k.session).unwrap_or_default();
                s.snapshot(*k, now, stats)
            })
            .collect();
        v.sort_by_key(|s| s.key);
        v
    }

    /// Sends StopCCN on every tunnel; from now on new tunnels are refused with a StopCCN
    /// ("shutting down") and nothing is redialled.
    fn shutdown(&mut self, now: Instant) {
        self.admission.draining = true;
        self.dialler.stop();
        self.lac_shutdown(now);
        for (_, s) in self.sessions.iter_mut() {
            if let Some(r) = s.radius.as_deref_mut() {
                // RFC 2866 §5.10: Admin-Reboot, "the NAS was shut down for administrative reasons".
                r.ending(l2tp_radius::acct::TerminateCause::AdminReboot);
            }
        }
        let ids: Vec<TunnelId> = self.endpoint.tunnels().map(|t| t.tunnel).collect();
        for t in ids {
            let _ = self.endpoint.close_tunnel(
                now,
                t,
                ResultCode::with_error(ResultCode::STOPCCN_SHUTTING_DOWN, 0, Some("shutting down")),
            );
        }
    }

    fn socket_index(&self, local: SocketAddr) -> usize {
        self.locals.iter().position(|l| *l == local).unwrap_or(0)
    }

    fn handle_timers(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        if self.datapath.poll_timeout().is_some_and(|t| t <= now) {
            self.datapath.handle_timeout(now);
            self.drain_deliveries(now);
        }
        while let Some(key) = self.sessions.pop_due(now) {
            if let Some(s) = self.sessions.get_mut(&key) {
                s.link.handle_timeout(now);
                self.dirty.push(key);
            }
        }
        if let Some(app) = self.app.as_mut() {
            if app.poll_timeout().is_some_and(|t| t <= now) {
                app.poll(now, &mut self.outbox);
            }
        }
        if self.dialler.redial_at.is_some_and(|t| t <= now) {
            self.dialler.redial_at = None;
            self.dial(now);
        }
        self.lac_timers(now);
    }

    /// Drains every engine until nothing moves.
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                moved = true;
                let sock = self.socket_index(t.local);
                self.out.datagram(sock, t.to, &t.payload);
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
                    self.sessions.arm(key, t);
                }
            }
            return;
        }
    }

    /// Once a second: session and idle timeouts, memory compaction.
    fn housekeeping(&mut self, now: Instant) {
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + Duration::from_secs(1);
        self.close_quality_periods(now);
        self.compact();
        self.admission.shrink();
        self.frames.shrink();
        // A call that never completes is cleared by the control plane (`connect_timeout`,
        // counted from when our ICRP was on the wire). Timeouts and interims: only the
        // sessions whose deadline is due are looked at.
        self.fire_deadlines(now);
        self.watch_carried(now);
    }

    /// Gives memory back after many sessions ended: stale timer entries dropped, tables
    /// shrunk, and the shell asked to trim the allocator. Cheap to call; works only when it
    /// is worth it.
    fn compact(&mut self) {
        self.compact_deadlines();
        if !self.sessions.compact() {
            return;
        }
        self.dirty.shrink_to_fit();
        self.outbox.shrink_to_fit();
        self.out.shrink();
        self.admission.compact();
        self.frames.compact();
        self.endpoint.shrink_to_fit();
        self.datapath.shrink_to_fit();
        self.trim_heap = true;
        tracing::debug!(node = %self.name, sessions = self.sessions.len(), "tables compacted");
    }
}
