//! The RADIUS client state machine, sans-IO: several authentication and accounting servers
//! by priority, an identifier space per server, per-request timeout and retransmission,
//! failover to the next server and return to a better one after its dead time, a bound on
//! outstanding requests, and replies matched by source address, identifier and
//! authenticator. Forged or stray replies are dropped and counted, never fatal.
//!
//! Inputs take `now` first; outputs are drained with [`Client::poll_transmit`],
//! [`Client::poll_event`] and [`Client::poll_timeout`] after every input.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::acct::AcctRecord;
use crate::attr::AttrType;
use crate::crypt::{sign_request, verify_reply, Secret};
use crate::error::{ApiError, AuthError};
use crate::packet::{Attr, Code, Packet};
use crate::ratelog::RateLimitedLog;
use crate::reply::{AccessOutcome, RateLimitAttr};
use crate::request::{AccessRequest, NasIdentity};

/// One server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address and port.
    pub addr: SocketAddr,
    /// Shared secret.
    pub secret: Secret,
    /// Lower is preferred.
    pub priority: u32,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Authentication servers.
    pub auth_servers: Vec<ServerConfig>,
    /// Accounting servers.
    pub acct_servers: Vec<ServerConfig>,
    /// How we name ourselves.
    pub nas: NasIdentity,
    /// Wait this long for a reply before retransmitting.
    pub timeout: Duration,
    /// Transmissions to one server before it is declared dead and the next one is tried.
    pub tries_per_server: u32,
    /// A dead server is not chosen again for this long (unless every server is dead).
    pub dead_time: Duration,
    /// Requests in flight at most.
    pub max_outstanding: usize,
    /// Refuse replies without a valid Message-Authenticator (BlastRADIUS; keep on).
    pub require_message_authenticator: bool,
    /// Where the rate limit is in an Access-Accept.
    pub rate_limit: Option<RateLimitAttr>,
    /// While a server is dead, send it a Status-Server (RFC 5997) this often; an answer
    /// brings it back at once. `None`: it comes back only when `dead_time` has passed.
    pub probe_interval: Option<Duration>,
}

impl ClientConfig {
    /// Defaults: 3 s timeout, 3 tries per server, 30 s dead time, a Status-Server probe
    /// every 5 s to a dead server, 1024 outstanding, Message-Authenticator required.
    pub fn new(
        auth_servers: Vec<ServerConfig>,
        acct_servers: Vec<ServerConfig>,
        nas: NasIdentity,
    ) -> Self {
        ClientConfig {
            auth_servers,
            acct_servers,
            nas,
            timeout: Duration::from_secs(3),
            tries_per_server: 3,
            dead_time: Duration::from_secs(30),
            max_outstanding: 1024,
            require_message_authenticator: true,
            rate_limit: None,
            probe_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// Names one request; events quote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Server address.
    pub to: SocketAddr,
    /// Signed packet.
    pub bytes: Vec<u8>,
}

/// Authentication or accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// Access-Request.
    Auth,
    /// Accounting-Request.
    Acct,
}

/// What the client tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The answer to an Access-Request.
    Access {
        /// Which request.
        request: RequestId,
        /// The decision.
        outcome: AccessOutcome,
    },
    /// An Accounting-Response arrived: the record is stored.
    AccountingDone {
        /// Which request.
        request: RequestId,
    },
    /// Every server was tried and none answered. For a Stop, spool `attrs`.
    Failed {
        /// Which request.
        request: RequestId,
        /// Which kind.
        role: Role,
        /// For accounting: the record's attributes (no Acct-Delay-Time), to spool.
        attrs: Option<Vec<Attr>>,
    },
    /// A server stopped answering.
    ServerDead {
        /// Its address.
        addr: SocketAddr,
    },
    /// A server declared dead answered again.
    ServerAlive {
        /// Its address.
        addr: SocketAddr,
    },
}

/// Counters of one server (what an operator graphs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerCounters {
    /// Requests sent (first transmissions).
    pub requests: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Requests given up on this server.
    pub timeouts: u64,
    /// Access-Accept.
    pub accepts: u64,
    /// Access-Reject (and Challenge).
    pub rejects: u64,
    /// Accounting-Response.
    pub acct_responses: u64,
    /// Datagrams from the server that do not parse.
    pub malformed: u64,
    /// Replies with a wrong Response Authenticator or Message-Authenticator.
    pub bad_authenticator: u64,
    /// Replies without a Message-Authenticator.
    pub missing_message_authenticator: u64,
    /// Replies to no outstanding request (late, duplicate or forged id).
    pub unknown_id: u64,
    /// Replies whose code does not answer the request.
    pub unexpected_code: u64,
    /// Times it was declared dead.
    pub marked_dead: u64,
    /// Status-Server probes sent while it was dead.
    pub probes: u64,
    /// Probes it answered.
    pub probe_replies: u64,
}

/// Counters of the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounters {
    /// Datagrams from an address that is no configured server.
    pub unknown_source: u64,
    /// Requests refused because too many were outstanding.
    pub refused_outstanding: u64,
}

/// A server's failover state, what a new process (a hitless upgrade) needs to go on where
/// this one stopped: whether it is dead and until when, when to probe it next, its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerMark {
    /// Its address.
    pub addr: SocketAddr,
    /// Authentication or accounting.
    pub role: Role,
    /// Dead until then (not chosen while another server is alive).
    pub dead_until: Option<Instant>,
    /// While dead: when to probe it next.
    pub next_probe: Option<Instant>,
    /// Its counters.
    pub counters: ServerCounters,
}

struct Server {
    cfg: ServerConfig,
    role: Role,
    dead_until: Option<Instant>,
    /// While dead: when to probe next.
    next_probe: Option<Instant>,
    /// A probe is outstanding.
    probing: bool,
    next_id: u8,
    counters: ServerCounters,
}

enum Body {
    Access(Box<AccessRequest>),
    Acct {
        attrs: Vec<Attr>,
        delay: Duration,
    },
    /// Status-Server (RFC 5997) to a dead server; never surfaces as an event.
    Probe,
}

struct Pending {
    body: Body,
    server: usize,
    id: u8,
    authenticator: [u8; 16],
    bytes: Vec<u8>,
    tries: u32,
    deadline: Instant,
    first_sent: Instant,
    tried: Vec<usize>,
}

/// The client.
pub struct Client<R> {
    cfg: ClientConfig,
    rng: R,
    servers: Vec<Server>,
    pending: BTreeMap<RequestId, Pending>,
    by_server_id: HashMap<(usize, u8), RequestId>,
    next_request: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    counters: ClientCounters,
    log_bad_input: RateLimitedLog,
}

impl<R> std::fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "servers",
                &self.servers.iter().map(|s| s.cfg.addr).collect::<Vec<_>>(),
            )
            .field("outstanding", &self.pending.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl<R: RngCore> Client<R> {
    /// A client with these servers; `rng` draws Request Authenticators and salts.
    pub fn new(cfg: ClientConfig, rng: R) -> Self {
        let mut servers = Vec::new();
        for (role, list) in [
            (Role::Auth, &cfg.auth_servers),
            (Role::Acct, &cfg.acct_servers),
        ] {
            for s in list {
                servers.push(Server {
                    cfg: s.clone(),
                    role,
                    dead_until: None,
                    next_probe: None,
                    probing: false,
                    next_id: 0,
                    counters: ServerCounters::default(),
                });
            }
        }
        let mut c = Client {
            cfg,
            rng,
            servers,
            pending: BTreeMap::new(),
            by_server_id: HashMap::new(),
            next_request: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: ClientCounters::default(),
            log_bad_input: RateLimitedLog::default(),
        };
        // Spread the first identifiers so a restarted client does not reuse the last ones.
        for s in &mut c.servers {
            s.next_id = (c.rng.next_u32() & 0xff) as u8;
        }
        c
    }

    /// Sends an Access-Request.
    pub fn authenticate(
        &mut self,
        now: Instant,
        req: AccessRequest,
    ) -> Result<RequestId, ApiError> {
        self.start(now, Role::Auth, Body::Access(Box::new(req)))
    }

    /// Sends an accounting record.
    pub fn account(&mut self, now: Instant, rec: &AcctRecord) -> Result<RequestId, ApiError> {
        let attrs = rec.attrs(&self.cfg.nas);
        self.account_attrs(now, attrs, Duration::ZERO)
    }

    /// Sends a record's attributes that already waited `delay` (a spooled Stop: the time
    /// since its event), so Acct-Delay-Time tells the server when it happened.
    pub fn account_attrs(
        &mut self,
        now: Instant,
        attrs: Vec<Attr>,
        delay: Duration,
    ) -> Result<RequestId, ApiError> {
        self.start(now, Role::Acct, Body::Acct { attrs, delay })
    }

    /// Forgets a request whose answer nobody wants any more (the session went away): no
    /// event will come for it, and a late reply counts as `unknown_id`. False when it was
    /// not outstanding.
    pub fn cancel(&mut self, request: RequestId) -> bool {
        match self.pending.get(&request) {
            Some(p) if !matches!(p.body, Body::Probe) => {
                let p = self.pending.remove(&request).expect("present");
                self.by_server_id.remove(&(p.server, p.id));
                true
            }
            _ => false,
        }
    }

    /// Counters of every server, with its address and role.
    pub fn server_counters(&self) -> Vec<(SocketAddr, Role, ServerCounters)> {
        self.servers
            .iter()
            .map(|s| (s.cfg.addr, s.role, s.counters))
            .collect()
    }

    /// Every server's failover state and counters, to carry to a new process.
    pub fn server_marks(&self) -> Vec<ServerMark> {
        self.servers
            .iter()
            .map(|s| ServerMark {
                addr: s.cfg.addr,
                role: s.role,
                dead_until: s.dead_until,
                next_probe: s.next_probe,
                counters: s.counters,
            })
            .collect()
    }

    /// Takes over the failover state and counters a previous process had for its servers
    /// ([`Client::server_marks`]): a server it had marked dead stays dead until its dead
    /// time ends. Servers no longer configured are ignored; new ones start alive.
    pub fn carry_server_marks(&mut self, marks: &[ServerMark]) {
        for m in marks {
            if let Some(s) = self
                .servers
                .iter_mut()
                .find(|s| s.cfg.addr == m.addr && s.role == m.role)
            {
                s.dead_until = m.dead_until;
                s.next_probe = m.next_probe;
                s.counters = m.counters;
            }
        }
    }

    /// The client's own counters.
    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// Requests in flight (probes not counted).
    pub fn outstanding(&self) -> usize {
        self.pending.len() - self.servers.iter().filter(|s| s.probing).count()
    }

    /// Whether a server is currently considered dead.
    pub fn is_dead(&self, addr: SocketAddr, now: Instant) -> bool {
        self.servers
            .iter()
            .any(|s| s.cfg.addr == addr && s.dead_until.is_some_and(|u| now < u))
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probes = self
            .servers
            .iter()
            .filter(|s| !s.probing)
            .filter_map(|s| s.next_probe);
        self.pending
            .values()
            .map(|p| p.deadline)
            .chain(probes)
            .min()
    }

    fn start(&mut self, now: Instant, role: Role, body: Body) -> Result<RequestId, ApiError> {
        if self.outstanding() >= self.cfg.max_outstanding {
            self.counters.refused_outstanding += 1;
            return Err(ApiError::TooManyOutstanding);
        }
        let Some(server) = self.pick(now, role, &[]) else {
            return Err(ApiError::NoServer);
        };
        let rid = RequestId(self.next_request);
        self.next_request += 1;
        let mut p = Pending {
            body,
            server,
            id: 0,
            authenticator: [0; 16],
            bytes: Vec::new(),
            tries: 0,
            deadline: now,
            first_sent: now,
            tried: Vec::new(),
        };
        if let Err(e) = self.send_to(now, rid, &mut p, server, true) {
            if e == ApiError::TooManyOutstanding {
                self.counters.refused_outstanding += 1;
            }
            return Err(e);
        }
        self.pending.insert(rid, p);
        Ok(rid)
    }

    /// The best server of a role not yet tried: alive ones by priority; when all are
    /// dead, the best dead one (trying beats failing without a try).
    fn pick(&self, now: Instant, role: Role, exclude: &[usize]) -> Option<usize> {
        self.servers
            .iter()
            .enumerate()
            .filter(|(i, s)| s.role == role && !exclude.contains(i))
            .min_by_key(|(i, s)| (s.dead_until.is_some_and(|u| now < u), s.cfg.priority, *i))
            .map(|(i, _)| i)
    }

    /// A free identifier towards this server's address (an address listed twice, e.g. for
    /// auth and acct on one port, shares one identifier space, so replies stay unambiguous).
    fn alloc_id(&mut self, server: usize) -> Option<u8> {
        let addr = self.servers[server].cfg.addr;
        let same: Vec<usize> = (0..self.servers.len())
            .filter(|&j| self.servers[j].cfg.addr == addr)
            .collect();
        for _ in 0..256 {
            let s = &mut self.servers[server];
            let id = s.next_id;
            s.next_id = s.next_id.wrapping_add(1);
            if !same
                .iter()
                .any(|&j| self.by_server_id.contains_key(&(j, id)))
            {
                return Some(id);
            }
        }
        None
    }

    /// Builds, signs and queues a transmission of `p` to `server` under a new identifier:
    /// the first to that server (`first`: counted as a request, tries reset) or an
    /// accounting retransmission whose Acct-Delay-Time changed.
    fn send_to(
        &mut self,
        now: Instant,
        rid: RequestId,
        p: &mut Pending,
        server: usize,
        first: bool,
    ) -> Result<(), ApiError> {
        let id = self.alloc_id(server).ok_or(ApiError::TooManyOutstanding)?;
        let (bytes, authenticator) = self.build(now, p, server, id)?;
        if !p.bytes.is_empty() {
            // Not the first transmission: release the identifier it had.
            self.by_server_id.remove(&(p.server, p.id));
        }
        self.by_server_id.insert((server, id), rid);
        p.server = server;
        p.id = id;
        p.bytes = bytes;
        p.authenticator = authenticator;
        p.deadline = now + self.cfg.timeout;
        if first {
            p.tries = 1;
            self.servers[server].counters.requests += 1;
        }
        self.transmits.push_back(Transmit {
            to: self.servers[server].cfg.addr,
            bytes: p.bytes.clone(),
        });
        Ok(())
    }

    fn build(
        &mut self,
        now: Instant,
        p: &Pending,
        server: usize,
        id: u8,
    ) -> Result<(Vec<u8>, [u8; 16]), ApiError> {
        let secret = self.servers[server].cfg.secret.clone();
        let mut bytes = match &p.body {
            Body::Access(req) => {
                let mut ra = [0u8; 16];
                self.rng.fill_bytes(&mut ra);
                req.to_packet(&self.cfg.nas, id, ra, &secret)?.encode()?
            }
            Body::Acct { attrs, delay } => {
                let mut pk = Packet::new(Code::ACCOUNTING_REQUEST, id, [0; 16]);
                pk.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
                pk.attrs.extend(attrs.iter().cloned());
                // RFC 2866 §5.2: how long we have been trying to send this record.
                let waited = *delay + now.saturating_duration_since(p.first_sent);
                let secs = u32::try_from(waited.as_secs()).unwrap_or(u32::MAX);
                pk.push(Attr::u32(AttrType::ACCT_DELAY_TIME, secs));
                pk.encode()?
            }
            Body::Probe => {
                // RFC 5997 §3: "Status-Server packets MUST contain a Message-Authenticator".
                let mut ra = [0u8; 16];
                self.rng.fill_bytes(&mut ra);
                let mut pk = Packet::new(Code::STATUS_SERVER, id, ra);
                pk.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
                self.cfg.nas.attrs(&mut pk.attrs);
                pk.encode()?
            }
        };
        sign_request(&mut bytes, &secret);
        let mut auth = [0u8; 16];
        auth.copy_from_slice(&bytes[4..20]);
        Ok((bytes, auth))
    }

    /// Time passes: retransmit, fail over, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(r, _)| *r)
            .collect();
        for rid in due {
            let Some(mut p) = self.pending.remove(&rid) else {
                continue;
            };
            let server = p.server;
            if let Body::Probe = p.body {
                // Unanswered: the server stays dead; the next probe is already scheduled.
                self.by_server_id.remove(&(server, p.id));
                self.servers[server].probing = false;
                continue;
            }
            if p.tries < self.cfg.tries_per_server {
                p.tries += 1;
                p.deadline = now + self.cfg.timeout;
                self.servers[server].counters.retransmissions += 1;
                if let Body::Acct { .. } = p.body {
                    // RFC 2866 §4.1: "if Acct-Delay-Time is included in the attributes of an
                    // Accounting-Request then the Acct-Delay-Time value will be updated when
                    // the packet is retransmitted, changing the content of the Attributes
                    // field and requiring a new Identifier and Request Authenticator."
                    if self.send_to(now, rid, &mut p, server, false).is_err() {
                        self.fail(rid, p);
                        continue;
                    }
                } else {
                    // RFC 2865 §3: "For retransmissions where the contents are identical,
                    // the Identifier MUST remain unchanged" (and so does the packet).
                    self.transmits.push_back(Transmit {
                        to: self.servers[server].cfg.addr,
                        bytes: p.bytes.clone(),
                    });
                }
                self.pending.insert(rid, p);
                continue;
            }
            // This server had its chances.
            let s = &mut self.servers[server];
            s.counters.timeouts += 1;
            if s.dead_until.is_none_or(|u| now >= u) {
                s.counters.marked_dead += 1;
                tracing::warn!(server = %s.cfg.addr, "RADIUS server not answering; failing over");
                self.events
                    .push_back(ClientEvent::ServerDead { addr: s.cfg.addr });
            }
            s.dead_until = Some(now + self.cfg.dead_time);
            if s.next_probe.is_none() {
                s.next_probe = self.cfg.probe_interval.map(|i| now + i);
            }
            p.tried.push(server);
            let role = s.role;
            let next = self.pick(now, role, &p.tried);
            match next {
                Some(n) if self.send_to(now, rid, &mut p, n, true).is_ok() => {
                    self.pending.insert(rid, p);
                }
                _ => self.fail(rid, p),
            }
        }
        self.probe_dead_servers(now);
    }

    fn probe_dead_servers(&mut self, now: Instant) {
        let Some(interval) = self.cfg.probe_interval else {
            return;
        };
        for server in 0..self.servers.len() {
            let s = &self.servers[server];
            if s.probing || s.dead_until.is_none() || s.next_probe.is_none_or(|t| t > now) {
                continue;
            }
            self.servers[server].next_probe = Some(now + interval);
            let rid = RequestId(self.next_request);
            self.next_request += 1;
            let mut p = Pending {
                body: Body::Probe,
                server,
                id: 0,
                authenticator: [0; 16],
                bytes: Vec::new(),
                tries: 0,
                deadline: now,
                first_sent: now,
                tried: Vec::new(),
            };
            if self.send_to(now, rid, &mut p, server, true).is_ok() {
                let s = &mut self.servers[server];
                s.counters.requests -= 1; // a probe is no request
                s.counters.probes += 1;
                s.probing = true;
                self.pending.insert(rid, p);
            }
        }
    }

    fn fail(&mut self, rid: RequestId, p: Pending) {
        self.by_server_id.remove(&(p.server, p.id));
        let (role, attrs) = match p.body {
            Body::Access(_) => (Role::Auth, None),
            Body::Acct { attrs, .. } => (Role::Acct, Some(attrs)),
            Body::Probe => {
                self.servers[p.server].probing = false;
                return;
            }
        };
        self.events.push_back(ClientEvent::Failed {
            request: rid,
            role,
            attrs,
        });
    }

    /// A datagram arrived on the client's socket.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let Some(si) = self.servers.iter().position(|s| s.cfg.addr == from) else {
            self.counters.unknown_source += 1;
            if let Some(n) = self.log_bad_input.allow(now) {
                tracing::warn!(%from, suppressed = n, "RADIUS reply from an unknown address dropped");
            }
            return;
        };
        // Several entries may share an address (auth and acct on one server): the id picks.
        let id = match bytes.get(1) {
            Some(&id) if bytes.len() >= crate::packet::HEADER_LEN => id,
            _ => {
                self.servers[si].counters.malformed += 1;
                return self.log_drop(now, from, "short datagram");
            }
        };
        let found = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.cfg.addr == from)
            .find_map(|(i, _)| self.by_server_id.get(&(i, id)).map(|r| (i, *r)));
        let Some((si, rid)) = found else {
            self.servers[si].counters.unknown_id += 1;
            return self.log_drop(now, from, "reply to no outstanding request");
        };
        let p = &self.pending[&rid];
        let secret = &self.servers[si].cfg.secret;
        // RFC 2869 §5.14: "A RADIUS Client receiving an Access-Accept, Access-Reject or
        // Access-Challenge with a Message-Authenticator Attribute present MUST calculate the
        // correct value of the Message-Authenticator and silently discard the packet if it
        // does not match the value sent." Beyond the RFC, a reply without one is discarded
        // too (BlastRADIUS, CVE-2024-3596).
        if let Err(e) = verify_reply(
            bytes,
            secret,
            &p.authenticator,
            self.cfg.require_message_authenticator,
        ) {
            let c = &mut self.servers[si].counters;
            match e {
                AuthError::MissingMessageAuthenticator => c.missing_message_authenticator += 1,
                _ => c.bad_authenticator += 1,
            }
            return self.log_drop(now, from, "reply fails authentication");
        }
        let pkt = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.servers[si].counters.malformed += 1;
                return self.log_drop(now, from, "malformed reply");
            }
        };
        let ok_code = match p.body {
            Body::Access(_) => matches!(
                pkt.code,
                Code::ACCESS_ACCEPT | Code::ACCESS_REJECT | Code::ACCESS_CHALLENGE
            ),
            Body::Acct { .. } => pkt.code == Code::ACCOUNTING_RESPONSE,
            // RFC 5997 §3: Access-Accept on an authentication port, Accounting-Response on
            // an accounting port.
            Body::Probe => match self.servers[si].role {
                Role::Auth => pkt.code == Code::ACCESS_ACCEPT,
                Role::Acct => pkt.code == Code::ACCOUNTING_RESPONSE,
            },
        };
        if !ok_code {
            self.servers[si].counters.unexpected_code += 1;
            return self.log_drop(now, from, "reply code does not answer the request");
        }
        let p = self.pending.remove(&rid).expect("found above");
        self.by_server_id.remove(&(si, p.id));
        let s = &mut self.servers[si];
        s.next_probe = None;
        if s.dead_until.take().is_some() {
            tracing::info!(server = %s.cfg.addr, "RADIUS server answers again");
            self.events
                .push_back(ClientEvent::ServerAlive { addr: s.cfg.addr });
        }
        match p.body {
            Body::Access(req) => {
                let mut outcome = AccessOutcome::from_reply(
                    &pkt,
                    req.is_mschapv2(),
                    self.cfg.rate_limit.as_ref(),
                );
                if let AccessOutcome::Accept(a) = &mut outcome {
                    a.tunnels = crate::reply::parse_tunnels(&pkt, &s.cfg.secret, &p.authenticator);
                }
                match outcome {
                    AccessOutcome::Accept(_) => s.counters.accepts += 1,
                    AccessOutcome::Reject { .. } => s.counters.rejects += 1,
                }
                self.events.push_back(ClientEvent::Access {
                    request: rid,
                    outcome,
                });
            }
            Body::Acct { .. } => {
                s.counters.acct_responses += 1;
                self.events
                    .push_back(ClientEvent::AccountingDone { request: rid });
            }
            Body::Probe => {
                s.probing = false;
                s.counters.probe_replies += 1;
            }
        }
    }

    fn log_drop(&mut self, now: Instant, from: SocketAddr, why: &'static str) {
        if let Some(n) = self.log_bad_input.allow(now) {
            tracing::warn!(%from, suppressed = n, "RADIUS datagram dropped: {why}");
        }
    }
}
