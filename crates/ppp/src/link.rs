//! One PPP link (one L2TP session): LCP, authentication and the NCPs composed into the
//! phases of RFC 1661 §3.2, driven sans-IO (DESIGN.md §3).

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::auth::{
    AuthDecision, AuthMethod, AuthOutput, AuthTicket, AuthTiming, Authenticatee, Authenticator,
    Credentials,
};
use crate::error::ApiError;
use crate::event::{DownReason, Event, Ipv4Params, Phase};
use crate::frame::{self, Protocol};
use crate::fsm::{Fsm, FsmConfig, LayerEvent, Output, State};
use crate::ipcp::IpcpPolicy;
use crate::ipv6cp::{self, Ipv6cpPolicy};
use crate::lcp::{LcpFailure, LcpPolicy, Role};
use crate::packet::{self, Code, Packet};

/// Default MRU: a 1500-octet path minus IPv4 (20), UDP (8), the largest L2TP data header
/// (16: flags, length, ids, Ns/Nr, offset size) and the uncompressed PPP header (4).
pub const DEFAULT_LINK_MRU: u16 = 1452;

/// An authentication a LAC performed with the peer before handing the link over (proxy
/// authentication, RFC 2661 §4.4.5), for [`Link::open_proxied`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedAuth {
    /// The method (it must be the one the proxied LCP negotiated).
    pub method: AuthMethod,
    /// Identifier of the exchange (PAP Authenticate-Request, CHAP Challenge and Response).
    pub id: u8,
    /// The user name the peer gave.
    pub user: String,
    /// What it presented.
    pub credentials: Credentials,
}

/// Authentication settings.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Server: methods to require, in preference order (empty: no authentication).
    /// Client: methods accepted, in preference order (what we Nak towards).
    pub methods: Vec<AuthMethod>,
    /// Our name in CHAP Challenges (server).
    pub name: String,
    /// Client: user name to present.
    pub username: String,
    /// Client: password.
    pub password: String,
    /// Client: a second password, tried once when an MS-CHAPv2 authenticator's Failure
    /// allows a retry (RFC 2759 §6 "R=1"): say, the old one during a password change.
    pub retry_password: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("methods", &self.methods)
            .field("name", &self.name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Authenticator requiring `methods` in this preference order.
    pub fn server(methods: Vec<AuthMethod>) -> Self {
        AuthConfig {
            methods,
            name: "l2tp-rs".into(),
            username: String::new(),
            password: String::new(),
            retry_password: None,
        }
    }

    /// Authenticatee with credentials, accepting MS-CHAPv2, CHAP-MD5 and PAP.
    pub fn client(username: &str, password: &str) -> Self {
        AuthConfig {
            methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            name: String::new(),
            username: username.into(),
            password: password.into(),
            retry_password: None,
        }
    }
}

/// IPv4 (IPCP) settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4Config {
    /// Server: our own address (required for a useful server). Client: address to ask for
    /// (None: 0.0.0.0, "assign me one").
    pub local: Option<Ipv4Addr>,
    /// Server: the address to assign to the peer, if known up front (else
    /// [`Link::set_peer_ipv4`]).
    pub peer: Option<Ipv4Addr>,
    /// Server: primary and secondary DNS to offer (RFC 1877).
    pub dns: [Option<Ipv4Addr>; 2],
    /// Client: ask for DNS servers.
    pub request_dns: bool,
}

/// Everything a link needs to know up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// Server (LNS) or client.
    pub role: Role,
    /// Authentication.
    pub auth: AuthConfig,
    /// Our MRU (default [`DEFAULT_LINK_MRU`]).
    pub mru: u16,
    /// LCP Echo-Request interval (None: no keepalive).
    pub echo_interval: Option<Duration>,
    /// Unanswered Echo-Requests in a row before the link is declared dead.
    pub echo_failures: u32,
    /// Line-quality probes (Echo-Requests at their own rate, timed; None: none).
    pub quality: Option<crate::probe::ProbeConfig>,
    /// RFC 1661 §4.6 Restart timer.
    pub restart_timer: Duration,
    /// RFC 1661 §4.6 Max-Configure.
    pub max_configure: u32,
    /// RFC 1661 §4.6 Max-Terminate.
    pub max_terminate: u32,
    /// RFC 1661 §4.6 Max-Failure.
    pub max_failure: u32,
    /// How long to wait for the peer to start authenticating.
    pub auth_timeout: Duration,
    /// IPCP.
    pub ipv4: Ipv4Config,
    /// Run IPv6CP (if false, IPv6CP from the peer is Protocol-Rejected).
    pub ipv6: bool,
    /// Server: CHAP re-challenge period (RFC 1994 §2), None for none.
    pub rechallenge_interval: Option<Duration>,
    /// Longest time from `open` to the network phase (LCP, authentication, first NCP up);
    /// past it the link goes down with [`DownReason::EstablishTimeout`]. RFC 1661's timers
    /// alone never end a negotiation with a peer that acknowledges our Configure-Request and
    /// never sends its own. None: no bound.
    pub establish_timeout: Option<Duration>,
}

impl LinkConfig {
    /// Defaults common to both roles.
    fn base(role: Role, auth: AuthConfig) -> Self {
        LinkConfig {
            role,
            auth,
            mru: DEFAULT_LINK_MRU,
            echo_interval: Some(Duration::from_secs(20)),
            echo_failures: 3,
            quality: None,
            restart_timer: Duration::from_secs(3),
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
            auth_timeout: Duration::from_secs(30),
            ipv4: Ipv4Config::default(),
            ipv6: false,
            rechallenge_interval: None,
            establish_timeout: None,
        }
    }

    /// An LNS requiring `methods`, with our address `local` and DNS servers to offer.
    pub fn server(methods: Vec<AuthMethod>, local: Ipv4Addr, dns: [Option<Ipv4Addr>; 2]) -> Self {
        let mut c = Self::base(Role::Server, AuthConfig::server(methods));
        c.ipv4.local = Some(local);
        c.ipv4.dns = dns;
        c
    }

    /// A client dialling with these credentials, asking for an address and DNS.
    pub fn client(username: &str, password: &str) -> Self {
        let mut c = Self::base(Role::Client, AuthConfig::client(username, password));
        c.ipv4.request_dns = true;
        c
    }

    fn fsm(&self) -> FsmConfig {
        FsmConfig {
            restart: self.restart_timer,
            max_terminate: self.max_terminate,
            max_configure: self.max_configure,
            max_failure: self.max_failure,
        }
    }
}

/// Link counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LinkStats {
    /// Frames given to `handle_frame`.
    pub rx_frames: u64,
    /// Their octets.
    pub rx_bytes: u64,
    /// Frames produced (`poll_transmit` and `send_ipv4`/`send_ipv6`).
    pub tx_frames: u64,
    /// Their octets.
    pub tx_bytes: u64,
    /// Malformed frames or packets (bad protocol field, length, option list …).
    pub rx_errors: u64,
    /// Well-formed frames not acceptable now (wrong phase, protocol not open, link dead).
    pub rx_discards: u64,
    /// Frames of unknown protocols (Protocol-Rejected when LCP is Opened).
    pub rx_unknown_protocol: u64,
    /// LCP Echo-Requests sent.
    pub echo_requests: u64,
    /// LCP Echo-Replies received.
    pub echo_replies: u64,
    /// IPv4/IPv6 packets delivered through `handle_frame`.
    pub rx_ip_packets: u64,
    /// IPv4/IPv6 packets encapsulated by `send_ipv4`/`send_ipv6`.
    pub tx_ip_packets: u64,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Echo {
    #[serde(with = "l2tp_snap::instant")]
    deadline: Instant,
    outstanding: u32,
}

/// One PPP link. See the crate documentation for the driving loop.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Link {
    /// Shared by every link of a daemon (it holds 100,000 of them).
    #[serde(skip, default = "crate::link::placeholder_config")]
    cfg: Arc<LinkConfig>,
    #[serde(skip, default = "crate::link::fresh_rng")]
    rng: Box<dyn RngCore + Send>,
    phase: Phase,
    lcp: Fsm<LcpPolicy>,
    ipcp: Fsm<IpcpPolicy>,
    /// Present when IPv6CP is enabled (`LinkConfig::ipv6`); boxed, like the authentication
    /// state, so a link that does not use it does not carry it inline.
    ipv6cp: Option<Box<Fsm<Ipv6cpPolicy>>>,
    server_auth: Option<Box<Authenticator>>,
    client_auth: Option<Box<Authenticatee>>,
    echo: Option<Echo>,
    /// Line-quality probes, once LCP is up (boxed: off on most links of a test, and the
    /// daemon holds 100,000 links).
    probe: Option<Box<crate::probe::Prober>>,
    /// Until the network phase: when `establish_timeout` runs out.
    #[serde(with = "l2tp_snap::opt_instant")]
    establish_deadline: Option<Instant>,
    /// ACCM from the L2TP peer's SLI (send, receive).
    accm: Option<(u32, u32)>,
    auth_epoch: u64,
    down_reason: Option<DownReason>,
    finished: bool,
    #[serde(skip)]
    tx: VecDeque<Vec<u8>>,
    #[serde(skip)]
    events: VecDeque<Event>,
    stats: LinkStats,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("role", &self.cfg.role)
            .field("phase", &self.phase)
            .field("lcp", &self.lcp.state())
            .field("ipcp", &self.ipcp.state())
            .field("ipv6cp", &self.ipv6cp_state())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link restored from a snapshot takes the daemon's shared configuration back (a
    /// snapshot carries the negotiated state, not the configuration).
    pub fn reattach(&mut self, config: Arc<LinkConfig>) {
        self.cfg = config;
    }

    /// A new link in the Dead phase. `rng` supplies magic numbers, challenges and identifiers
    /// (seeded in tests, from the OS in the daemon).
    /// `config` may be shared (`Arc<LinkConfig>`) by many links.
    pub fn new(config: impl Into<Arc<LinkConfig>>, mut rng: impl RngCore + Send + 'static) -> Self {
        let config: Arc<LinkConfig> = config.into();
        let fsm = config.fsm();
        let lcp = LcpPolicy::new(
            config.role,
            config.mru,
            config.auth.methods.clone(),
            config.max_failure,
            rng.next_u32(),
        );
        let ipcp = IpcpPolicy::new(
            config.role,
            config.ipv4.local,
            config.ipv4.peer,
            config.ipv4.dns,
            config.ipv4.request_dns,
        );
        let iid = ipv6cp::random_iid(&mut rng, &[]);
        let mut ids = [0u8; 3];
        rng.fill_bytes(&mut ids);
        Link {
            lcp: Fsm::new(lcp, fsm, ids[0]),
            ipcp: Fsm::new(ipcp, fsm, ids[1]),
            ipv6cp: config
                .ipv6
                .then(|| Box::new(Fsm::new(Ipv6cpPolicy::new(iid), fsm, ids[2]))),
            cfg: config,
            rng: Box::new(rng),
            phase: Phase::Dead,
            server_auth: None,
            client_auth: None,
            echo: None,
            probe: None,
            establish_deadline: None,
            accm: None,
            auth_epoch: 0,
            down_reason: None,
            finished: false,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            stats: LinkStats::default(),
        }
    }

    /// The lower layer (L2TP session) is up: start LCP (RFC 1661 Open + Up events).
    pub fn open(&mut self, now: Instant) {
        if self.finished || self.phase != Phase::Dead {
            return;
        }
        self.phase = Phase::Establish;
        self.establish_deadline = self.cfg.establish_timeout.map(|t| now + t);
        self.lcp.open(now);
        self.lcp.up(now);
        self.ipcp.open(now);
        if let Some(f) = self.ipv6cp.as_deref_mut() {
            f.open(now);
        }
        self.pump(now);
    }

    /// Server: the lower layer is up and a LAC already negotiated LCP with the peer (proxy
    /// LCP, RFC 2661 §4.4.5): LCP starts Opened with the options of `last_sent` (the
    /// Configure-Request the LAC sent and the peer acknowledged, taken as ours) and
    /// `last_received` (the peer's, which the LAC acknowledged). With `auth`, the
    /// authentication the LAC captured is put to the daemon at once
    /// ([`Event::AuthRequest`]) and its answer goes to the peer as ours would.
    ///
    /// Fails, without sending anything, when the options are not acceptable to us (an option
    /// we would not negotiate, an authentication protocol we do not offer, a Configure-Request
    /// of the peer we would not Ack): the caller then renegotiates with [`Link::open`].
    pub fn open_proxied(
        &mut self,
        now: Instant,
        last_sent: &[u8],
        last_received: &[u8],
        auth: Option<ProxiedAuth>,
    ) -> Result<(), String> {
        if self.finished || self.phase != Phase::Dead || self.cfg.role != Role::Server {
            return Err("not a fresh server link".into());
        }
        let ours =
            crate::options::decode(last_sent).map_err(|e| format!("Last Sent LCP CONFREQ: {e}"))?;
        let theirs = crate::options::decode(last_received)
            .map_err(|e| format!("Last Received LCP CONFREQ: {e}"))?;
        self.lcp
            .policy
            .adopt_sent(&ours)
            .map_err(|e| format!("Last Sent LCP CONFREQ has {e}"))?;
        let verdict =
            crate::fsm::Policy::check_request(&mut self.lcp.policy, &mut *self.rng, &theirs);
        if verdict != crate::options::Verdict::Ack {
            return Err("we would not acknowledge the peer's LCP Configure-Request".into());
        }
        self.phase = Phase::Establish;
        self.establish_deadline = self.cfg.establish_timeout.map(|t| now + t);
        self.lcp.open(now);
        while self.lcp.poll().is_some() {}
        self.lcp.opened_by_proxy(last_sent.to_vec());
        self.ipcp.open(now);
        if let Some(f) = self.ipv6cp.as_deref_mut() {
            f.open(now);
        }
        self.lcp_up(now, auth);
        self.pump(now);
        Ok(())
    }

    /// Administrative close: LCP Terminate-Request, then `Event::Down{AdminClose}`.
    pub fn close(&mut self, now: Instant, reason: &str) {
        if self.finished {
            return;
        }
        self.fail(now, DownReason::AdminClose(reason.to_string()));
        self.pump(now);
        if self.phase == Phase::Dead {
            // Never opened: nothing to terminate.
            self.finish();
        }
    }

    fn awaiting_auth_retry(&self) -> bool {
        self.server_auth
            .as_ref()
            .is_some_and(|a| a.awaiting_retry())
    }

    /// The L2TP session went away: the link is down at once, nothing more is sent.
    pub fn lower_down(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        let reason = if self.awaiting_auth_retry() {
            DownReason::AuthFailed("peer left after a failed MS-CHAPv2 attempt".into())
        } else {
            DownReason::LowerLayerDown
        };
        self.down_reason.get_or_insert(reason);
        self.lcp.down();
        self.pump(now);
        self.tx.clear();
        self.finish();
    }

    /// The ACCM the L2TP peer announced for this call (SLI, RFC 2661 §6.14: "sent by the LNS
    /// to the LAC to set PPP-negotiated options"): (send, receive). L2TP carries PPP frames
    /// without HDLC framing, so the map changes no octet we send; it is kept for a LAC that
    /// frames the call on an asynchronous line, and shown to operators.
    pub fn set_accm(&mut self, send_accm: u32, receive_accm: u32) {
        self.accm = Some((send_accm, receive_accm));
    }

    /// The ACCM last set with [`Link::set_accm`], if any: (send, receive).
    pub fn accm(&self) -> Option<(u32, u32)> {
        self.accm
    }

    /// Server: the address to assign the peer (from the daemon's pool). Takes effect for the
    /// next IPCP Configure-Request from the peer; call it before `auth_decision` accepts.
    pub fn set_peer_ipv4(&mut self, addr: Ipv4Addr) {
        self.ipcp.policy.assigned_peer = Some(addr);
    }

    /// Server: the DNS servers to offer this peer (RFC 1877) instead of the configured ones
    /// (a RADIUS reply's MS-Primary/Secondary-DNS-Server). Call it before `auth_decision`.
    pub fn set_peer_dns(&mut self, dns: [Option<Ipv4Addr>; 2]) {
        self.ipcp.policy.dns_offer = dns;
    }

    /// Answer the [`Event::AuthRequest`] carrying `ticket`. Fails with
    /// [`ApiError::NoPendingAuth`] if that request is no longer pending (the link renegotiated
    /// or went down meanwhile): the daemon just drops its answer.
    pub fn auth_decision(
        &mut self,
        now: Instant,
        ticket: AuthTicket,
        decision: AuthDecision,
    ) -> Result<(), ApiError> {
        let decided = match self.server_auth.as_mut() {
            Some(a) if !self.finished => a.decide(now, ticket, decision),
            _ => false,
        };
        self.pump(now);
        if decided {
            Ok(())
        } else {
            Err(ApiError::NoPendingAuth)
        }
    }

    /// One PPP frame as carried in L2TP (with or without FF 03, with or without PFC).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += frame.len() as u64;
        if self.finished || self.phase == Phase::Dead {
            self.stats.rx_discards += 1;
            return;
        }
        let (proto, payload) = match frame::classify(frame) {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "bad PPP frame");
                self.stats.rx_errors += 1;
                return;
            }
        };
        if let Err(e) = self.dispatch(now, proto, payload) {
            tracing::debug!(protocol = proto.name(), error = %e, "bad PPP packet");
            self.stats.rx_errors += 1;
        }
        self.pump(now);
    }

    fn dispatch(
        &mut self,
        now: Instant,
        proto: Protocol,
        payload: &[u8],
    ) -> Result<(), crate::DecodeError> {
        let lcp_open = self.lcp.is_opened();
        if matches!(proto, Protocol::IPCP | Protocol::IPV6CP) && self.phase == Phase::Authenticate {
            // Deviation (docs/ppp.md): a lost PAP Ack / CHAP-MD5 Success would otherwise leave
            // us discarding the authenticator's NCP until its Max-Configure runs out.
            if self
                .client_auth
                .as_mut()
                .is_some_and(|a| a.implicit_success())
            {
                self.pump(now);
            }
        }
        match proto {
            Protocol::LCP => return self.handle_lcp(now, payload),
            Protocol::PAP | Protocol::CHAP if lcp_open => {
                let pkt = Packet::decode(payload)?;
                if let Some(a) = self.server_auth.as_mut() {
                    a.handle(proto, pkt)?;
                } else if let Some(a) = self.client_auth.as_mut() {
                    a.handle(now, &mut *self.rng, proto, pkt)?;
                } else {
                    self.stats.rx_discards += 1;
                }
            }
            Protocol::IPCP if self.phase == Phase::Network => {
                let pkt = Packet::decode(payload)?;
                Self::ncp_receive(&mut self.ipcp, now, &mut *self.rng, pkt)?;
            }
            Protocol::IPV6CP if self.ipv6cp.is_some() && self.phase == Phase::Network => {
                let pkt = Packet::decode(payload)?;
                if let Some(f) = self.ipv6cp.as_deref_mut() {
                    Self::ncp_receive(f, now, &mut *self.rng, pkt)?;
                }
            }
            Protocol::IPV4 if self.ipcp.is_opened() => {
                self.stats.rx_ip_packets += 1;
                self.events.push_back(Event::Ipv4Packet(payload.to_vec()));
            }
            Protocol::IPV6 if self.ipv6_open() => {
                self.stats.rx_ip_packets += 1;
                self.events.push_back(Event::Ipv6Packet(payload.to_vec()));
            }
            // Known protocols at the wrong time: RFC 1661 §3.x, silently discarded.
            Protocol::PAP | Protocol::CHAP | Protocol::IPCP | Protocol::IPV4 => {
                self.stats.rx_discards += 1
            }
            Protocol::IPV6CP | Protocol::IPV6 if self.cfg.ipv6 => self.stats.rx_discards += 1,
            _ => {
                self.stats.rx_unknown_protocol += 1;
                // RFC 1661 §5.7: Protocol-Reject only in the Opened state, with as much of the
                // rejected packet as fits the peer's MRU.
                if lcp_open {
                    let room = usize::from(self.lcp.policy.peer_mru()).saturating_sub(6);
                    let mut data = proto.0.to_be_bytes().to_vec();
                    data.extend_from_slice(&payload[..payload.len().min(room)]);
                    let id = self.lcp.fresh_id();
                    self.send(
                        Protocol::LCP,
                        packet::encode(Code::PROTOCOL_REJECT, id, &data),
                    );
                }
            }
        }
        Ok(())
    }

    fn ncp_receive<P: crate::fsm::Policy>(
        fsm: &mut Fsm<P>,
        now: Instant,
        rng: &mut dyn RngCore,
        pkt: Packet<'_>,
    ) -> Result<(), crate::DecodeError> {
        if (1..=7).contains(&pkt.code.0) {
            fsm.receive(now, rng, pkt.code, pkt.id, pkt.data)
        } else {
            // RFC 1332 §2 / RFC 5072 §2: codes 1–7 only; others are Code-Rejected.
            fsm.unknown_code(pkt.code, pkt.id, pkt.data);
            Ok(())
        }
    }

    fn handle_lcp(&mut self, now: Instant, payload: &[u8]) -> Result<(), crate::DecodeError> {
        let pkt = Packet::decode(payload)?;
        let opened = self.lcp.is_opened();
        match pkt.code {
            Code::TERMINATE_REQUEST => {
                if !matches!(self.lcp.state(), State::Closing | State::Stopping) {
                    // A peer that tears down while authenticating us has refused our
                    // credentials (l2tpns does this instead of sending a CHAP Failure).
                    let r = if self.phase == Phase::Authenticate && self.client_auth.is_some() {
                        DownReason::AuthFailed("peer terminated during authentication".into())
                    } else if self.awaiting_auth_retry() {
                        DownReason::AuthFailed("peer left after a failed MS-CHAPv2 attempt".into())
                    } else if self.cfg.role == Role::Client
                        && self.phase == Phase::Establish
                        && self.lcp.policy.refused_peer_auth()
                    {
                        // We refused the only protocol it asks for, and it gave up.
                        DownReason::AuthRefused
                    } else {
                        DownReason::PeerTerminated
                    };
                    self.down_reason.get_or_insert(r);
                }
                self.lcp
                    .receive(now, &mut *self.rng, pkt.code, pkt.id, pkt.data)?;
            }
            Code::CODE_REJECT => {
                // The peer does not know Echo-Request: stop the keepalive rather than fail.
                if pkt.data.first() == Some(&Code::ECHO_REQUEST.0) {
                    self.echo = None;
                }
                self.lcp
                    .receive(now, &mut *self.rng, pkt.code, pkt.id, pkt.data)?;
            }
            c if (1..=7).contains(&c.0) => {
                self.lcp
                    .receive(now, &mut *self.rng, pkt.code, pkt.id, pkt.data)?
            }
            Code::PROTOCOL_REJECT if opened => {
                let [hi, lo, ..] = *pkt.data else {
                    return Err(crate::DecodeError::Malformed("Protocol-Reject"));
                };
                match Protocol(u16::from_be_bytes([hi, lo])) {
                    Protocol::IPCP | Protocol::IPV4 => self.ipcp.rxj(now, false),
                    Protocol::IPV6CP | Protocol::IPV6 => {
                        if let Some(f) = self.ipv6cp.as_deref_mut() {
                            f.rxj(now, false);
                        }
                    }
                    Protocol::LCP => self.lcp.rxj(now, false),
                    _ => {}
                }
            }
            // RFC 1661 §5.8: Echo-Request answered only in the Opened state, with our magic.
            Code::ECHO_REQUEST if opened => {
                if pkt.data.len() < 4 {
                    return Err(crate::DecodeError::Malformed("Echo-Request"));
                }
                let ours = self.lcp.policy.our_magic();
                if ours != 0 && pkt.data[..4] == ours.to_be_bytes() {
                    // Our own request came back: looped back (RFC 1661 §6.4); do not answer.
                    self.stats.rx_discards += 1;
                    return Ok(());
                }
                let mut data = ours.to_be_bytes().to_vec();
                data.extend_from_slice(&pkt.data[4..]);
                self.send(
                    Protocol::LCP,
                    packet::encode(Code::ECHO_REPLY, pkt.id, &data),
                );
            }
            Code::ECHO_REPLY if opened => {
                self.stats.echo_replies += 1;
                if let Some(p) = self.probe.as_deref_mut() {
                    p.replied(pkt.id, now);
                }
                if let Some(e) = self.echo.as_mut() {
                    e.outstanding = 0;
                }
            }
            // RFC 1661 §5.9 Discard-Request; RFC 1570 §2.1–2.2 Identification and
            // Time-Remaining: accepted and ignored.
            Code::DISCARD_REQUEST | Code::IDENTIFICATION | Code::TIME_REMAINING => {}
            Code::PROTOCOL_REJECT | Code::ECHO_REQUEST | Code::ECHO_REPLY => {
                self.stats.rx_discards += 1
            }
            other => self.lcp.unknown_code(other, pkt.id, pkt.data),
        }
        Ok(())
    }

    /// Drive timers. Call when `poll_timeout()` has passed (extra calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        self.lcp.timeout(now);
        self.ipcp.timeout(now);
        if let Some(f) = self.ipv6cp.as_deref_mut() {
            f.timeout(now);
        }
        if let Some(a) = self.server_auth.as_mut() {
            a.timeout(now, &mut *self.rng);
        }
        if let Some(a) = self.client_auth.as_mut() {
            a.timeout(now);
        }
        if let Some(d) = self.establish_deadline {
            if d <= now {
                self.establish_deadline = None;
                if !self.network_up() {
                    self.fail(now, DownReason::EstablishTimeout);
                }
            }
        }
        if let Some(e) = self.echo {
            if e.deadline <= now {
                if e.outstanding >= self.cfg.echo_failures {
                    self.echo = None;
                    self.fail(now, DownReason::KeepaliveTimeout);
                } else if let Some(iv) = self.cfg.echo_interval {
                    self.echo = Some(Echo {
                        deadline: now + iv,
                        outstanding: e.outstanding + 1,
                    });
                    self.queue_echo_request();
                }
            }
        }
        let lcp_open = self.lcp.state() == State::Opened;
        if lcp_open && self.probe.as_deref_mut().is_some_and(|p| p.due(now)) {
            let id = self.queue_echo_request();
            if let Some(p) = self.probe.as_deref_mut() {
                p.sent(id, now);
            }
        }
        self.pump(now);
    }

    /// The earliest instant at which `handle_timeout` must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        [
            self.lcp.deadline(),
            self.ipcp.deadline(),
            self.ipv6cp.as_ref().and_then(|f| f.deadline()),
            self.server_auth.as_ref().and_then(|a| a.deadline()),
            self.client_auth.as_ref().and_then(|a| a.deadline()),
            self.echo.map(|e| e.deadline),
            // Probes run only while LCP is opened (a deadline kept while it is not would be
            // due for ever).
            self.probe
                .as_deref()
                .filter(|_| self.lcp.state() == State::Opened)
                .map(|p| p.deadline()),
            self.establish_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Next frame to send (FF 03, 2-octet protocol, payload), in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// Next event for the daemon.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Encapsulate an IPv4 packet for sending (IPCP must be Opened).
    pub fn send_ipv4(&mut self, packet: &[u8]) -> Result<Vec<u8>, ApiError> {
        let open = self.ipcp.is_opened();
        self.send_ip(open, Protocol::IPV4, packet)
    }

    /// Encapsulate an IPv6 packet for sending (IPv6CP must be Opened).
    pub fn send_ipv6(&mut self, packet: &[u8]) -> Result<Vec<u8>, ApiError> {
        let open = self.ipv6_open();
        self.send_ip(open, Protocol::IPV6, packet)
    }

    fn send_ip(&mut self, open: bool, proto: Protocol, packet: &[u8]) -> Result<Vec<u8>, ApiError> {
        if !open || self.finished {
            return Err(ApiError::NetworkNotUp);
        }
        let mru = self.lcp.policy.peer_mru();
        if packet.len() > usize::from(mru) {
            return Err(ApiError::TooBig {
                len: packet.len(),
                mru,
            });
        }
        let mut out = Vec::new();
        frame::encapsulate(proto, packet, &mut out);
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += out.len() as u64;
        self.stats.tx_ip_packets += 1;
        Ok(out)
    }

    /// The daemon saw traffic from the peer on the data path (frames it classified itself):
    /// counts as an answer for the LCP keepalive, so a peer that is busy sending data but slow
    /// to answer Echo-Requests (CLIENTS.md: some Android phones) is not declared dead.
    pub fn note_peer_activity(&mut self) {
        if let Some(e) = self.echo.as_mut() {
            e.outstanding = 0;
        }
    }

    /// Sends one LCP Echo-Request now, outside the keepalive schedule (it does not count as
    /// a missed echo). The daemon uses it to put a frame on the wire at once, for example so
    /// that a LAC sees the sequence numbers an LNS just started sending (RFC 2661 §5.4).
    /// Returns false when LCP is not open.
    pub fn send_echo_request(&mut self) -> bool {
        if self.lcp.state() != State::Opened {
            return false;
        }
        self.queue_echo_request();
        true
    }

    /// Queues an LCP Echo-Request carrying our magic number (RFC 1661 §5.8); returns its
    /// Identifier.
    fn queue_echo_request(&mut self) -> u8 {
        let id = self.lcp.fresh_id();
        let magic = self.lcp.policy.our_magic().to_be_bytes();
        self.stats.echo_requests += 1;
        self.send(
            Protocol::LCP,
            packet::encode(Code::ECHO_REQUEST, id, &magic),
        );
        id
    }

    /// What the line-quality probes measured since the last [`Link::take_probe_stats`],
    /// without resetting it (None when the link does not probe, or LCP never came up).
    pub fn probe_stats(&self) -> Option<crate::probe::ProbeStats> {
        self.probe.as_deref().map(crate::probe::Prober::stats)
    }

    /// What the line-quality probes measured since the last call (None when the link does
    /// not probe, or LCP never came up).
    pub fn take_probe_stats(&mut self) -> Option<crate::probe::ProbeStats> {
        self.probe.as_deref_mut().map(crate::probe::Prober::take)
    }

    /// Gives back the spare capacity of the link's queues (they grow during negotiation and
    /// are nearly always empty afterwards). The daemon calls it once a link is up, which
    /// matters when it holds 100,000 of them.
    pub fn shrink_to_fit(&mut self) {
        self.tx.shrink_to_fit();
        self.events.shrink_to_fit();
        self.lcp.shrink_to_fit();
        self.ipcp.shrink_to_fit();
        if let Some(f) = self.ipv6cp.as_deref_mut() {
            f.shrink_to_fit();
        }
        if let Some(a) = self.server_auth.as_mut() {
            a.out.shrink_to_fit();
        }
        if let Some(a) = self.client_auth.as_mut() {
            a.out.shrink_to_fit();
        }
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Our LCP Magic-Number once negotiated, else 0 (RFC 1661 §5.8). A LAC that drops the
    /// link answers the peer's Echo-Requests with it while the call is being placed.
    pub fn our_magic(&self) -> u32 {
        self.lcp.policy.our_magic()
    }

    /// The MTU for the interface: the peer's MRU once LCP is up (what we may send).
    pub fn peer_mru(&self) -> u16 {
        self.lcp.policy.peer_mru()
    }

    /// Whether the peer asked for (and we acknowledged) ACFC, i.e. it accepts frames without
    /// FF 03 (RFC 1661 §6.6): the daemon may then use `ip_frame_header(proto, true)` for data.
    /// LCP packets are always sent with FF 03.
    pub fn peer_accepts_acfc(&self) -> bool {
        self.lcp.is_opened() && self.lcp.policy.peer_compression().0
    }

    /// RFC 1661 automaton states (LCP, IPCP, IPv6CP), for diagnostics.
    pub fn fsm_states(&self) -> (State, State, State) {
        (self.lcp.state(), self.ipcp.state(), self.ipv6cp_state())
    }

    // --- internals ---------------------------------------------------------------------------

    /// Whether a network protocol is up (IPCP or IPv6CP Opened).
    fn network_up(&self) -> bool {
        self.ipcp.is_opened() || self.ipv6_open()
    }

    fn ipv6_open(&self) -> bool {
        self.ipv6cp.as_ref().is_some_and(|f| f.is_opened())
    }

    /// IPv6CP's state; Initial when IPv6CP is not enabled.
    fn ipv6cp_state(&self) -> State {
        self.ipv6cp.as_ref().map_or(State::Initial, |f| f.state())
    }

    fn send(&mut self, proto: Protocol, pkt: Vec<u8>) {
        let mut out = Vec::with_capacity(pkt.len() + 4);
        frame::encapsulate(proto, &pkt, &mut out);
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += out.len() as u64;
        self.tx.push_back(out);
    }

    fn timing(&self) -> AuthTiming {
        AuthTiming {
            restart: self.cfg.restart_timer,
            max_transmits: self.cfg.max_configure,
            timeout: self.cfg.auth_timeout,
        }
    }

    /// Record why and start LCP termination.
    fn fail(&mut self, now: Instant, reason: DownReason) {
        tracing::debug!(?reason, "closing PPP link");
        self.down_reason.get_or_insert(reason);
        self.lcp.close(now);
        if matches!(self.lcp.state(), State::Closing) {
            self.phase = Phase::Terminate;
        }
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.phase = Phase::Dead;
        self.establish_deadline = None;
        self.server_auth = None;
        self.client_auth = None;
        self.echo = None;
        let reason = self
            .down_reason
            .take()
            .unwrap_or_else(|| DownReason::NegotiationFailed("LCP did not converge".into()));
        self.events.push_back(Event::Down { reason });
    }

    /// Route every queued output until nothing moves (bounded).
    fn pump(&mut self, now: Instant) {
        for _ in 0..64 {
            let mut moved = false;
            while let Some(o) = self.lcp.poll() {
                moved = true;
                self.on_lcp(now, o);
            }
            while let Some(o) = self.ipcp.poll() {
                moved = true;
                self.on_ncp(now, Protocol::IPCP, o);
            }
            while let Some(o) = self.ipv6cp.as_deref_mut().and_then(|f| f.poll()) {
                moved = true;
                self.on_ncp(now, Protocol::IPV6CP, o);
            }
            let mut auth_out = Vec::new();
            if let Some(a) = self.server_auth.as_mut() {
                auth_out.extend(a.out.drain(..));
            }
            if let Some(a) = self.client_auth.as_mut() {
                auth_out.extend(a.out.drain(..));
            }
            for o in auth_out {
                moved = true;
                self.on_auth(now, o);
            }
            if let Some(f) = self.lcp.policy.failure.take() {
                moved = true;
                self.fail(
                    now,
                    match f {
                        LcpFailure::AuthRefused => DownReason::AuthRefused,
                        LcpFailure::LoopedBack => DownReason::LoopedBack,
                    },
                );
            }
            if !moved {
                break;
            }
        }
    }

    fn on_lcp(&mut self, now: Instant, o: Output) {
        match o {
            Output::Send(p) => self.send(Protocol::LCP, p),
            Output::Layer(LayerEvent::Up) => self.lcp_up(now, None),
            Output::Layer(LayerEvent::Down) => {
                // RFC 1661 §3.7: leaving Opened takes the upper layers down.
                self.server_auth = None;
                self.client_auth = None;
                self.echo = None;
                self.ipcp.down();
                if let Some(f) = self.ipv6cp.as_deref_mut() {
                    f.down();
                }
                self.phase = if self.down_reason.is_some() {
                    Phase::Terminate
                } else {
                    Phase::Establish
                };
            }
            Output::Layer(LayerEvent::Started) => {}
            Output::Layer(LayerEvent::Finished) => self.finish(),
        }
    }

    /// LCP is Opened (This-Layer-Up): authentication, or the network phase. `proxied` is an
    /// authentication a LAC already performed with the peer (proxy authentication).
    fn lcp_up(&mut self, now: Instant, proxied: Option<ProxiedAuth>) {
        self.events.push_back(Event::LinkUp);
        self.phase = Phase::Authenticate;
        self.echo = self.cfg.echo_interval.map(|iv| Echo {
            deadline: now + iv,
            outstanding: 0,
        });
        self.probe = self
            .cfg
            .quality
            .map(|q| Box::new(crate::probe::Prober::new(q, now)));
        let t = self.timing();
        let rng = &mut *self.rng;
        match self.cfg.role {
            Role::Server => {
                if let Some(m) = self.lcp.policy.auth_we_require() {
                    let rc = self.cfg.rechallenge_interval;
                    let name = self.cfg.auth.name.clone();
                    self.auth_epoch += 1;
                    let a = match proxied {
                        Some(p) if p.method == m => Authenticator::proxied(
                            rng,
                            m,
                            &name,
                            t,
                            rc,
                            self.auth_epoch,
                            p.id,
                            p.user,
                            p.credentials,
                        ),
                        _ => Authenticator::start(now, rng, m, &name, t, rc, self.auth_epoch),
                    };
                    self.server_auth = Some(Box::new(a));
                }
            }
            Role::Client => {
                if let Some(m) = self.lcp.policy.auth_peer_requires() {
                    let a = &self.cfg.auth;
                    self.client_auth = Some(Box::new(Authenticatee::start(
                        now,
                        rng,
                        m,
                        &a.username,
                        &a.password,
                        a.retry_password.as_deref(),
                        t,
                    )));
                }
            }
        }
        if self.server_auth.is_none() && self.client_auth.is_none() {
            self.enter_network(now);
        }
    }

    fn enter_network(&mut self, now: Instant) {
        self.phase = Phase::Network;
        self.ipcp.up(now);
        if let Some(f) = self.ipv6cp.as_deref_mut() {
            f.up(now);
        }
    }

    fn on_auth(&mut self, now: Instant, o: AuthOutput) {
        match o {
            AuthOutput::Send(proto, p) => self.send(proto, p),
            AuthOutput::Event(e) => self.events.push_back(e),
            AuthOutput::Success { user, method } => {
                self.events.push_back(Event::Authenticated { user, method });
                if self.phase == Phase::Authenticate {
                    self.enter_network(now);
                }
            }
            AuthOutput::Failure(why) => self.fail(now, DownReason::AuthFailed(why)),
        }
    }

    fn on_ncp(&mut self, now: Instant, proto: Protocol, o: Output) {
        match o {
            Output::Send(p) => self.send(proto, p),
            Output::Layer(LayerEvent::Up) if proto == Protocol::IPCP => {
                self.establish_deadline = None;
                let p = &self.ipcp.policy;
                let ipv4 = Ipv4Params {
                    local: p.local(),
                    peer: p.peer().unwrap_or(Ipv4Addr::UNSPECIFIED),
                    dns: p.dns(),
                };
                let server = self.cfg.role == Role::Server;
                if ipv4.local.is_unspecified() || (server && ipv4.peer.is_unspecified()) {
                    // No usable address for us (client), or none given to the peer (server:
                    // no pool address was set): IPv4 cannot run.
                    self.ipcp.close(now);
                } else {
                    self.events.push_back(Event::NetworkUp { ipv4 });
                }
            }
            Output::Layer(LayerEvent::Up) => {
                self.establish_deadline = None;
                if let Some(f) = self.ipv6cp.as_deref() {
                    self.events.push_back(Event::Ipv6Up {
                        local_iid: f.policy.local(),
                        peer_iid: f.policy.peer(),
                    });
                }
            }
            Output::Layer(LayerEvent::Down) if proto == Protocol::IPCP => {
                self.events.push_back(Event::NetworkDown)
            }
            Output::Layer(LayerEvent::Down) => self.events.push_back(Event::Ipv6Down),
            Output::Layer(LayerEvent::Started) => {}
            Output::Layer(LayerEvent::Finished) => {
                // pppd's rule: with no network protocol left, the link is useless.
                let alive = |s: State| {
                    matches!(
                        s,
                        State::ReqSent | State::AckRcvd | State::AckSent | State::Opened
                    )
                };
                let v4 = alive(self.ipcp.state());
                let v6 = self.ipv6cp.is_some() && alive(self.ipv6cp_state());
                if !v4 && !v6 && self.phase == Phase::Network {
                    self.fail(now, DownReason::NoNetworkProtocol);
                }
            }
        }
    }
}

/// A restored link's configuration until [`Link::reattach`] gives it the daemon's (a
/// snapshot does not carry the shared configuration).
fn placeholder_config() -> Arc<LinkConfig> {
    Arc::new(LinkConfig::client("", ""))
}

/// A restored link's random source (a snapshot does not carry one).
fn fresh_rng() -> Box<dyn RngCore + Send> {
    use rand::SeedableRng;
    Box::new(rand::rngs::StdRng::from_entropy())
}
