//! RADIUS on the node's event loop: the sans-IO RADIUS client (`l2tp_radius::client`) and
//! dynamic authorization server (`l2tp_radius::dae`) on nonblocking UDP sockets registered
//! with the node's poller, so an Access-Request never blocks the loop and no thread waits
//! for a reply. The core's [`Output::Auth`](crate::core::Output::Auth) becomes an
//! Access-Request whose answer goes back as `Input::AuthDecision`; its accounting records
//! are sent to the accounting servers, and a Stop no server takes is spooled to disk and
//! sent again after a restart; Disconnect and CoA requests go to the core as `Input::Dae`
//! and its answers back to the client that asked.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use l2tp_io::poller::{Interest, Poller, Token};
use l2tp_radius::acct::AcctRecord;
use l2tp_radius::client::{Client, ClientConfig, ClientEvent, RequestId, Transmit};
use l2tp_radius::dae::{DaeConfig, DaeOutcome, DaeRequest, DaeServer, ErrorCause};
use l2tp_radius::packet::Attr;
use l2tp_radius::reply::AccessOutcome;
use l2tp_radius::request::{AccessRequest, SessionInfo};
use l2tp_radius::spool::Spool;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::core::radius::RadiusSettings;
use crate::core::{AuthAnswer, AuthRequest, Input};

/// Poll token of the RADIUS client's IPv4 socket (the IPv6 one is the next).
pub(super) const TOKEN_RADIUS: Token = Token((1 << 32) + 16);
/// Poll token of the IPv6 client socket.
pub(super) const TOKEN_RADIUS6: Token = Token((1 << 32) + 17);
/// Poll token of the dynamic authorization socket.
pub(super) const TOKEN_DAE: Token = Token((1 << 32) + 18);
/// Datagrams read per readiness event.
const RX_BUDGET: usize = 256;
/// Requests waiting for room in the client (a burst of logins beyond `max_outstanding`):
/// sent in order as replies free their slots. Beyond this, logins are refused and Stops
/// spooled.
const MAX_WAITING: usize = 65_536;

/// A request waiting for room in the client.
enum Waiting {
    Auth(AuthRequest),
    Acct(Box<AcctRecord>),
}

/// How the node speaks RADIUS.
#[derive(Debug, Clone)]
pub struct RadiusConfig {
    /// Servers, NAS identity, timeouts, the rate-limit attribute.
    pub client: ClientConfig,
    /// Dynamic authorization: where to listen, who may ask.
    pub dae: Option<(SocketAddr, DaeConfig)>,
    /// Where Stops no server took are kept (None: they are logged and lost).
    pub spool_dir: Option<PathBuf>,
    /// Most records in the spool.
    pub spool_max: usize,
    /// What the core needs (Acct-Session-Id prefix, default interim interval).
    pub sessions: RadiusSettings,
}

/// The RADIUS sockets another process handed over on an upgrade (bound, with whatever
/// the kernel queued meanwhile).
#[derive(Debug, Default)]
pub struct RadiusSockets {
    /// Client sockets: IPv4, IPv6.
    pub client: [Option<UdpSocket>; 2],
    /// The dynamic authorization listener.
    pub dae: Option<UdpSocket>,
}

/// What an accounting request in flight is.
enum Acct {
    /// A live record; a Stop (these attributes) is spooled if no server takes it.
    Live { stop: Option<Vec<Attr>> },
    /// A record replayed from the spool (this file).
    Spooled(String),
}

/// Counters of the RADIUS shell.
#[derive(Debug, Clone, Copy, Default)]
pub struct RadiusShellCounters {
    /// Access-Requests that found no server or too many outstanding: refused at once.
    pub auth_not_sent: u64,
    /// Stops written to the spool.
    pub stops_spooled: u64,
    /// Spooled Stops a server took after all.
    pub stops_replayed: u64,
    /// Stops lost (no spool, or the spool full or failing).
    pub stops_lost: u64,
}

/// The RADIUS sockets and state machines of a node.
pub struct RadiusShell {
    client: Client<StdRng>,
    /// Client sockets: IPv4, IPv6 (each only when a server of that family is configured).
    socks: [Option<UdpSocket>; 2],
    dae: Option<(DaeServer, UdpSocket)>,
    auth: HashMap<RequestId, AuthRequest>,
    acct: HashMap<RequestId, Acct>,
    spool: Option<Spool>,
    waiting: std::collections::VecDeque<Waiting>,
    max_outstanding: usize,
    /// Accounting servers are configured (else no record is sent).
    accounting: bool,
    nas: l2tp_radius::request::NasIdentity,
    counters: RadiusShellCounters,
    buf: Vec<u8>,
}

fn bind_any(v6: bool) -> io::Result<UdpSocket> {
    let s = if v6 {
        UdpSocket::bind("[::]:0")?
    } else {
        UdpSocket::bind("0.0.0.0:0")?
    };
    s.set_nonblocking(true)?;
    Ok(s)
}

fn wall_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl RadiusShell {
    /// Binds the client socket(s) and the DAE listener, opens the spool.
    pub fn new(cfg: RadiusConfig) -> io::Result<RadiusShell> {
        RadiusShell::with_sockets(cfg, RadiusSockets::default())
    }

    /// The same on the sockets a previous process handed over (binding only those it did
    /// not have).
    pub fn with_sockets(cfg: RadiusConfig, mut given: RadiusSockets) -> io::Result<RadiusShell> {
        let servers = cfg
            .client
            .auth_servers
            .iter()
            .chain(&cfg.client.acct_servers);
        let (mut v4, mut v6) = (false, false);
        for s in servers {
            if s.addr.is_ipv4() {
                v4 = true;
            } else {
                v6 = true;
            }
        }
        let mut take = |i: usize, want: bool| -> io::Result<Option<UdpSocket>> {
            match (want, given.client[i].take()) {
                (false, _) => Ok(None),
                (true, Some(s)) => {
                    s.set_nonblocking(true)?;
                    Ok(Some(s))
                }
                (true, None) => bind_any(i == 1).map(Some),
            }
        };
        let socks = [take(0, v4)?, take(1, v6)?];
        let dae = match cfg.dae {
            Some((addr, dcfg)) => {
                let s = match given.dae.take() {
                    Some(s) => s,
                    None => UdpSocket::bind(addr).map_err(|e| {
                        io::Error::new(e.kind(), format!("radius.dae_listen {addr}: {e}"))
                    })?,
                };
                s.set_nonblocking(true)?;
                Some((DaeServer::new(dcfg), s))
            }
            None => None,
        };
        let spool = match &cfg.spool_dir {
            Some(d) => Some(Spool::open(d, cfg.spool_max).map_err(|e| {
                io::Error::new(e.kind(), format!("radius.spool_dir {}: {e}", d.display()))
            })?),
            None => None,
        };
        Ok(RadiusShell {
            waiting: std::collections::VecDeque::new(),
            max_outstanding: cfg.client.max_outstanding,
            accounting: !cfg.client.acct_servers.is_empty(),
            nas: cfg.client.nas.clone(),
            client: Client::new(cfg.client, StdRng::from_entropy()),
            socks,
            dae,
            auth: HashMap::new(),
            acct: HashMap::new(),
            spool,
            counters: RadiusShellCounters::default(),
            buf: vec![0u8; 4096],
        })
    }

    /// The DAE listener's address.
    pub fn dae_addr(&self) -> Option<SocketAddr> {
        self.dae.as_ref().and_then(|(_, s)| s.local_addr().ok())
    }

    /// Registers the sockets with the node's poller.
    pub(super) fn register(&self, poller: &Poller) -> io::Result<()> {
        for (s, t) in self.socks.iter().zip([TOKEN_RADIUS, TOKEN_RADIUS6]) {
            if let Some(s) = s {
                poller.register(s.as_raw_fd(), t, Interest::READABLE)?;
            }
        }
        if let Some((_, s)) = &self.dae {
            poller.register(s.as_raw_fd(), TOKEN_DAE, Interest::READABLE)?;
        }
        Ok(())
    }

    /// Counters.
    pub fn counters(&self) -> RadiusShellCounters {
        self.counters
    }

    /// The RADIUS client (server states and counters).
    pub fn client(&self) -> &Client<StdRng> {
        &self.client
    }

    /// Takes over the servers' failover state and counters of a previous process.
    pub(super) fn carry_server_marks(&mut self, marks: &[l2tp_radius::client::ServerMark]) {
        self.client.carry_server_marks(marks);
    }

    /// Servers and counters, for `l2tpctl stats` and the metrics.
    pub fn stats(&self, now: Instant) -> l2tp_mgmt::RadiusStats {
        let servers = self
            .client
            .server_counters()
            .into_iter()
            .map(|(addr, role, c)| l2tp_mgmt::RadiusServerStats {
                address: addr.to_string(),
                role: match role {
                    l2tp_radius::client::Role::Auth => "auth".into(),
                    l2tp_radius::client::Role::Acct => "acct".into(),
                },
                dead: self.client.is_dead(addr, now),
                requests: c.requests,
                retransmissions: c.retransmissions,
                timeouts: c.timeouts,
                accepts: c.accepts,
                rejects: c.rejects,
                accounting_responses: c.acct_responses,
                bad_replies: c.malformed
                    + c.bad_authenticator
                    + c.missing_message_authenticator
                    + c.unknown_id
                    + c.unexpected_code,
            })
            .collect();
        let d = self
            .dae
            .as_ref()
            .map(|(s, _)| s.counters())
            .unwrap_or_default();
        l2tp_mgmt::RadiusStats {
            servers,
            waiting: self.waiting.len() as u64,
            auth_not_sent: self.counters.auth_not_sent,
            stops_spooled: self.counters.stops_spooled,
            stops_replayed: self.counters.stops_replayed,
            stops_lost: self.counters.stops_lost,
            dae_requests: d.disconnect_requests + d.coa_requests,
            dae_acks: d.acks,
            dae_naks: d.naks,
            dae_dropped: d.unknown_client
                + d.bad_authenticator
                + d.missing_message_authenticator
                + d.malformed
                + d.unexpected_code
                + d.stale_timestamp
                + d.missing_timestamp,
        }
    }

    /// Accounting-On (RFC 2866 §5.1: the NAS started, none of its old sessions remain),
    /// then every spooled Stop again. A process that took over from another (upgrade)
    /// sends no Accounting-On: the sessions of the NAS go on.
    pub(super) fn start(&mut self, now: Instant, accounting_on: bool) {
        if accounting_on {
            self.account(now, &AcctRecord::AccountingOn);
        }
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        let recs = match spool.load() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("RADIUS spool: {e}");
                return;
            }
        };
        let wall = wall_secs();
        for rec in recs {
            let delay = Duration::from_secs(wall.saturating_sub(rec.event_time));
            match self.client.account_attrs(now, rec.attrs, delay) {
                Ok(id) => {
                    self.acct.insert(id, Acct::Spooled(rec.key));
                }
                Err(e) => {
                    tracing::warn!("spooled accounting record not sent now: {e}");
                    break;
                }
            }
        }
    }

    /// Accounting-Off: the NAS stops on purpose.
    pub(super) fn stop(&mut self, now: Instant) {
        self.account(now, &AcctRecord::AccountingOff);
    }

    /// Accounting requests still in flight.
    pub(super) fn accounting_in_flight(&self) -> usize {
        self.acct.len() + self.waiting.len()
    }

    /// RADIUS requests not answered yet: Access-Requests and accounting records in flight
    /// or waiting for room. An upgrade waits for none to be left before it snapshots.
    pub(super) fn requests_in_flight(&self) -> usize {
        self.auth.len() + self.acct.len() + self.waiting.len()
    }

    /// The sockets to hand over on an upgrade: which client sockets (IPv4, IPv6) exist,
    /// whether a DAE listener does, and their descriptors in that order.
    pub(super) fn handed_over(&self) -> ([bool; 2], bool, Vec<RawFd>) {
        let mut fds = Vec::new();
        let mut client = [false; 2];
        for (i, s) in self.socks.iter().enumerate() {
            if let Some(s) = s {
                client[i] = true;
                fds.push(s.as_raw_fd());
            }
        }
        let dae = self.dae.as_ref().map(|(_, s)| fds.push(s.as_raw_fd()));
        (client, dae.is_some(), fds)
    }

    /// At exit: the Stops nobody acknowledged yet go to the spool.
    pub(super) fn spool_in_flight(&mut self) {
        for w in std::mem::take(&mut self.waiting) {
            if let Waiting::Acct(rec) = w {
                if rec.is_stop() {
                    let attrs = rec.attrs(&self.nas);
                    self.spool_stop(&attrs);
                }
            }
        }
        let ids: Vec<RequestId> = self.acct.keys().copied().collect();
        for id in ids {
            self.client.cancel(id);
            if let Some(Acct::Live { stop: Some(attrs) }) = self.acct.remove(&id) {
                self.spool_stop(&attrs);
            }
        }
    }

    /// Sends an Access-Request for the core's request; `Some` when it is refused at once.
    pub(super) fn authenticate(
        &mut self,
        now: Instant,
        req: AuthRequest,
    ) -> Option<Input<'static>> {
        if !self.waiting.is_empty() {
            // Keep the order: behind those already waiting.
            return self.wait_or_refuse(Waiting::Auth(req));
        }
        self.try_authenticate(now, req)
    }

    /// Queues a request the client has no room for; refuses it when the queue is full.
    fn wait_or_refuse(&mut self, w: Waiting) -> Option<Input<'static>> {
        if self.waiting.len() < MAX_WAITING {
            self.waiting.push_back(w);
            return None;
        }
        match w {
            Waiting::Auth(req) => {
                self.counters.auth_not_sent += 1;
                tracing::warn!(session = %req.key, "too many RADIUS requests waiting: login refused");
                Some(Input::AuthDecision {
                    request: req,
                    answer: AuthAnswer::Reject,
                })
            }
            Waiting::Acct(rec) => {
                tracing::warn!("too many RADIUS requests waiting: accounting record not sent");
                if rec.is_stop() {
                    let attrs = rec.attrs(&self.nas);
                    self.spool_stop(&attrs);
                }
                None
            }
        }
    }

    fn try_authenticate(&mut self, now: Instant, req: AuthRequest) -> Option<Input<'static>> {
        let session = req
            .radius
            .as_deref()
            .cloned()
            .unwrap_or_else(|| SessionInfo {
                user_name: req.user.clone(),
                nas_port: 0,
                acct_session_id: String::new(),
                calling_station_id: None,
                called_station_id: None,
                tunnel: None,
            });
        let access = AccessRequest {
            session: SessionInfo {
                user_name: req.user.clone(),
                ..session
            },
            credentials: req.credentials.clone(),
        };
        match self.client.authenticate(now, access) {
            Ok(id) => {
                self.auth.insert(id, req);
                None
            }
            Err(l2tp_radius::ApiError::TooManyOutstanding) => {
                self.wait_or_refuse(Waiting::Auth(req))
            }
            Err(e) => {
                self.counters.auth_not_sent += 1;
                tracing::warn!(session = %req.key, "Access-Request not sent ({e}): refused");
                Some(Input::AuthDecision {
                    request: req,
                    answer: AuthAnswer::Reject,
                })
            }
        }
    }

    /// Forgets the Access-Request of a session that went away (waiting or in flight).
    pub(super) fn cancel(&mut self, req: &AuthRequest) {
        let same =
            |r: &AuthRequest| r.key == req.key && r.ticket == req.ticket && r.radius == req.radius;
        self.waiting
            .retain(|w| !matches!(w, Waiting::Auth(r) if same(r)));
        let ids: Vec<RequestId> = self
            .auth
            .iter()
            .filter(|(_, r)| same(r))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.client.cancel(id);
            self.auth.remove(&id);
        }
    }

    /// Sends an accounting record; a Stop that cannot even be sent is spooled.
    pub(super) fn account(&mut self, now: Instant, rec: &AcctRecord) {
        if !self.accounting {
            return;
        }
        if !self.waiting.is_empty() {
            self.wait_or_refuse(Waiting::Acct(Box::new(rec.clone())));
            return;
        }
        self.send_record(now, rec);
    }

    fn send_record(&mut self, now: Instant, rec: &AcctRecord) {
        let stop = rec.is_stop().then(|| rec.attrs(&self.nas));
        match self.client.account(now, rec) {
            Ok(id) => {
                self.acct.insert(id, Acct::Live { stop });
            }
            Err(l2tp_radius::ApiError::TooManyOutstanding) => {
                self.wait_or_refuse(Waiting::Acct(Box::new(rec.clone())));
            }
            Err(e) => {
                tracing::warn!("accounting record not sent: {e}");
                if let Some(attrs) = stop {
                    self.spool_stop(&attrs);
                }
            }
        }
    }

    fn spool_stop(&mut self, attrs: &[Attr]) {
        let Some(spool) = self.spool.as_mut() else {
            self.counters.stops_lost += 1;
            tracing::error!("accounting Stop undeliverable and no spool: lost");
            return;
        };
        match spool.push(wall_secs(), attrs) {
            Ok(_) => {
                self.counters.stops_spooled += 1;
                tracing::warn!("accounting Stop undeliverable: spooled for later");
            }
            Err(e) => {
                self.counters.stops_lost += 1;
                tracing::error!("accounting Stop undeliverable and not spooled ({e}): lost");
            }
        }
    }

    /// Answers a Disconnect or CoA request.
    pub(super) fn dae_answer(&mut self, request: &DaeRequest, result: Result<(), ErrorCause>) {
        if let Some((server, sock)) = self.dae.as_mut() {
            let t = server.respond(request, result);
            if let Err(e) = sock.send_to(&t.bytes, t.to) {
                tracing::debug!(to = %t.to, "DAE answer not sent: {e}");
            }
        }
    }

    /// When the client's next timer is due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.client.poll_timeout()
    }

    /// Sends what the client queued.
    pub(super) fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.send(&t);
        }
    }

    fn send(&self, t: &Transmit) {
        let sock = if t.to.is_ipv4() {
            &self.socks[0]
        } else {
            &self.socks[1]
        };
        if let Some(s) = sock {
            if let Err(e) = s.send_to(&t.bytes, t.to) {
                // A server that is down may refuse with ICMP: the client's timer handles it.
                tracing::debug!(to = %t.to, "RADIUS send failed: {e}");
            }
        }
    }

    /// Reads what arrived (client replies when `client_ready`, DAE requests when
    /// `dae_ready`), runs due timers, and returns what the core must hear.
    pub(super) fn service(
        &mut self,
        now: Instant,
        client_ready: [bool; 2],
        dae_ready: bool,
    ) -> Vec<Input<'static>> {
        for (i, ready) in client_ready.into_iter().enumerate() {
            if !ready {
                continue;
            }
            for _ in 0..RX_BUDGET {
                let Some(sock) = &self.socks[i] else { break };
                match sock.recv_from(&mut self.buf) {
                    Ok((n, from)) => self.client.handle_datagram(now, from, &self.buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // ICMP port unreachable from a dead server: its timer handles it.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => {
                        tracing::warn!("RADIUS receive: {e}");
                        break;
                    }
                }
            }
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        let mut out = Vec::new();
        if dae_ready {
            self.receive_dae(now, &mut out);
        }
        while let Some(ev) = self.client.poll_event() {
            self.on_event(ev, &mut out);
        }
        self.send_waiting(now, &mut out);
        self.flush();
        out
    }

    /// Sends what waited, in order, while the client has room.
    fn send_waiting(&mut self, now: Instant, out: &mut Vec<Input<'static>>) {
        while self.client.outstanding() < self.max_outstanding {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            let before = self.waiting.len();
            match w {
                Waiting::Auth(req) => out.extend(self.try_authenticate(now, req)),
                Waiting::Acct(rec) => self.send_record(now, &rec),
            }
            if self.waiting.len() > before {
                // Not sent after all (no identifier free towards the server: 256 each):
                // back at the head of the queue until replies free some.
                if let Some(w) = self.waiting.pop_back() {
                    self.waiting.push_front(w);
                }
                break;
            }
        }
    }

    fn receive_dae(&mut self, now: Instant, out: &mut Vec<Input<'static>>) {
        let Some((server, sock)) = self.dae.as_mut() else {
            return;
        };
        let wall = SystemTime::now();
        for _ in 0..RX_BUDGET {
            let (n, from) = match sock.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            match server.handle_datagram(now, wall, from, &self.buf[..n]) {
                DaeOutcome::Request(r) => out.push(Input::Dae(Box::new(r))),
                DaeOutcome::Reply(t) => {
                    let _ = sock.send_to(&t.bytes, t.to);
                }
                DaeOutcome::Dropped => {}
            }
        }
    }

    fn on_event(&mut self, ev: ClientEvent, out: &mut Vec<Input<'static>>) {
        match ev {
            ClientEvent::Access { request, outcome } => {
                let Some(req) = self.auth.remove(&request) else {
                    return;
                };
                let answer = match outcome {
                    AccessOutcome::Accept(authz) => {
                        let decision = AccessOutcome::Accept(authz.clone()).to_ppp_decision();
                        AuthAnswer::Radius { decision, authz }
                    }
                    AccessOutcome::Reject {
                        reason,
                        reply_message,
                    } => {
                        tracing::info!(session = %req.key, user = %req.user, ?reason, ?reply_message, "Access-Reject");
                        let outcome = AccessOutcome::Reject {
                            reason,
                            reply_message,
                        };
                        match outcome.to_ppp_decision() {
                            ppp::AuthDecision::RejectWith(m) => AuthAnswer::RejectWith(m),
                            _ => AuthAnswer::Reject,
                        }
                    }
                };
                out.push(Input::AuthDecision {
                    request: req,
                    answer,
                });
            }
            ClientEvent::AccountingDone { request } => match self.acct.remove(&request) {
                Some(Acct::Spooled(key)) => {
                    if let Some(spool) = self.spool.as_mut() {
                        if let Err(e) = spool.remove(&key) {
                            tracing::error!("RADIUS spool: {e}");
                        }
                    }
                    self.counters.stops_replayed += 1;
                }
                Some(Acct::Live { .. }) | None => {}
            },
            ClientEvent::Failed {
                request,
                role: _,
                attrs,
            } => {
                if let Some(req) = self.auth.remove(&request) {
                    tracing::warn!(session = %req.key, "no RADIUS server answered: refused");
                    out.push(Input::AuthDecision {
                        request: req,
                        answer: AuthAnswer::Reject,
                    });
                    return;
                }
                match self.acct.remove(&request) {
                    Some(Acct::Live { stop: Some(ours) }) => {
                        self.spool_stop(attrs.as_deref().unwrap_or(&ours));
                    }
                    Some(Acct::Spooled(_)) => {
                        tracing::warn!("spooled accounting record still undeliverable: kept");
                    }
                    _ => tracing::warn!("accounting record undeliverable"),
                }
            }
            ClientEvent::ServerDead { addr } => {
                tracing::warn!(%addr, "RADIUS server not answering")
            }
            ClientEvent::ServerAlive { addr } => {
                tracing::info!(%addr, "RADIUS server answers again")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_radius::acct::{SessionEvent, TerminateCause, Usage};
    use l2tp_radius::client::ServerConfig;
    use l2tp_radius::request::NasIdentity;
    use l2tp_radius::Secret;

    #[test]
    fn more_records_than_identifiers_wait_without_spinning() {
        // A server that never answers (bound, silent, on loopback): 300 Stops at once, more
        // than the 256 identifiers one server has, fewer than `max_outstanding`.
        let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let server = ServerConfig {
            addr: silent.local_addr().expect("addr"),
            secret: Secret::new("s"),
            priority: 1,
        };
        let cfg = RadiusConfig {
            client: ClientConfig::new(vec![server.clone()], vec![server], NasIdentity::default()),
            dae: None,
            spool_dir: None,
            spool_max: 0,
            sessions: RadiusSettings::default(),
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut shell = RadiusShell::new(cfg).expect("shell");
            let now = Instant::now();
            for n in 0..300u32 {
                let rec = AcctRecord::Session {
                    session: SessionInfo {
                        user_name: "u".into(),
                        nas_port: n,
                        acct_session_id: format!("s{n}"),
                        calling_station_id: None,
                        called_station_id: None,
                        tunnel: None,
                    },
                    framed_ip: None,
                    ipv6: Default::default(),
                    class: Vec::new(),
                    event: SessionEvent::Stop(Usage::default(), TerminateCause::UserRequest),
                };
                shell.account(now, &rec);
            }
            // The event loop's next pass: it must come back, the rest still waiting.
            let _ = shell.service(now, [true, false], false);
            let _ = done_tx.send((shell.accounting_in_flight(), shell.waiting.len()));
        });
        let (in_flight, waiting) = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the RADIUS shell spun instead of waiting for identifiers");
        assert_eq!(in_flight, 300, "every record sent or waiting");
        assert_eq!(
            waiting,
            300 - 256,
            "one server's identifiers in flight, the rest wait"
        );
    }
}
