//! Dynamic authorization (RFC 5176), server side, sans-IO: Disconnect-Request and
//! CoA-Request from configured clients are authenticated, checked and parsed into a
//! [`DaeRequest`] naming a session (Acct-Session-Id, User-Name, Framed-IP-Address,
//! NAS-Port) for the daemon to act on; [`DaeServer::respond`] builds the ACK or NAK with
//! Error-Cause. Unknown clients and bad authenticators are dropped silently and counted.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::attr::{AttrType, SERVICE_TYPE_AUTHORIZE_ONLY};
use crate::client::Transmit;
use crate::crypt::{sign_reply, verify_hashed_request, Secret};
use crate::error::{AuthError, DecodeError};
use crate::packet::{frame, Attr, Code, Packet};
use crate::ratelog::RateLimitedLog;
use crate::reply::{Ipv6Prefix, RateLimit, RateLimitAttr};
use crate::request::NasIdentity;

/// A client allowed to send us dynamic authorization requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaeClient {
    /// Its source address (any port: RFC 5176 does not fix the client's port).
    pub addr: IpAddr,
    /// Shared secret.
    pub secret: Secret,
}

/// Settings.
#[derive(Debug, Clone)]
pub struct DaeConfig {
    /// Who may send.
    pub clients: Vec<DaeClient>,
    /// Our identity: a request naming another NAS is refused (Error-Cause 403).
    pub nas: NasIdentity,
    /// Require a Message-Authenticator in requests (keep on).
    pub require_message_authenticator: bool,
    /// Where a CoA carries a new rate limit.
    pub rate_limit: Option<RateLimitAttr>,
    /// An Event-Timestamp further than this from our clock drops the request (replay
    /// protection; RFC 3576 §5.4 recommends 300 s).
    pub event_timestamp_window: Duration,
    /// Drop requests without an Event-Timestamp.
    pub require_event_timestamp: bool,
}

/// Disconnect or CoA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaeKind {
    /// Disconnect-Request: end the session.
    Disconnect,
    /// CoA-Request: change the session's authorization.
    Coa,
}

/// Which session(s) a request names (RFC 5176 §3 "session identification attributes").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSelector {
    /// Acct-Session-Id.
    pub acct_session_id: Option<String>,
    /// User-Name.
    pub user_name: Option<String>,
    /// Framed-IP-Address.
    pub framed_ip: Option<Ipv4Addr>,
    /// NAS-Port.
    pub nas_port: Option<u32>,
}

/// What a CoA-Request changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoaChanges {
    /// New Session-Timeout.
    pub session_timeout: Option<Duration>,
    /// New Idle-Timeout.
    pub idle_timeout: Option<Duration>,
    /// New Acct-Interim-Interval.
    pub interim_interval: Option<Duration>,
    /// New rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Other Filter-Id values.
    pub filter_ids: Vec<String>,
    /// What is routed to the session, when the request changes it.
    pub routes: Option<Box<CoaRoutes>>,
}

/// The routing attributes of a CoA-Request: each one present replaces the session's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoaRoutes {
    /// Framed-Route values (RFC 2865 §5.22 text form), when any are present.
    pub framed: Option<Vec<String>>,
    /// Framed-IPv6-Prefix.
    pub ipv6_prefix: Option<Ipv6Prefix>,
    /// Delegated-IPv6-Prefix.
    pub delegated_prefix: Option<Ipv6Prefix>,
}

/// An authenticated, checked request for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaeRequest {
    /// Disconnect or CoA.
    pub kind: DaeKind,
    /// Where to send the answer.
    pub from: SocketAddr,
    /// The session(s).
    pub selector: SessionSelector,
    /// For CoA: the changes.
    pub changes: CoaChanges,
    id: u8,
    authenticator: [u8; 16],
    client: usize,
    proxy_state: Vec<Vec<u8>>,
}

impl DaeRequest {
    /// What makes a retransmission of this request the same request: its source address
    /// and port, Identifier and Request Authenticator (a hash over its attributes).
    pub fn duplicate_key(&self) -> (SocketAddr, u8, [u8; 16]) {
        (self.from, self.id, self.authenticator)
    }
}

/// Error-Cause values (RFC 5176 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)] // the names are the RFC's
pub enum ErrorCause {
    UnsupportedAttribute = 401,
    MissingAttribute = 402,
    NasIdentificationMismatch = 403,
    InvalidRequest = 404,
    UnsupportedService = 405,
    InvalidAttributeValue = 407,
    AdministrativelyProhibited = 501,
    SessionContextNotFound = 503,
    SessionContextNotRemovable = 504,
    ResourcesUnavailable = 506,
}

/// What a datagram led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaeOutcome {
    /// A request for the daemon; answer it with [`DaeServer::respond`].
    Request(DaeRequest),
    /// An authenticated request refused at once (a NAK): send it.
    Reply(Transmit),
    /// Dropped (unknown client, bad authenticator, malformed) and counted.
    Dropped,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaeCounters {
    /// Disconnect-Requests accepted for the daemon.
    pub disconnect_requests: u64,
    /// CoA-Requests accepted for the daemon.
    pub coa_requests: u64,
    /// From an address that is no configured client.
    pub unknown_client: u64,
    /// Wrong Request Authenticator or Message-Authenticator.
    pub bad_authenticator: u64,
    /// Without the required Message-Authenticator.
    pub missing_message_authenticator: u64,
    /// Not a RADIUS packet.
    pub malformed: u64,
    /// Another code.
    pub unexpected_code: u64,
    /// Event-Timestamp outside the window (a replay, or clocks apart).
    pub stale_timestamp: u64,
    /// No Event-Timestamp where one is required.
    pub missing_timestamp: u64,
    /// ACKs sent.
    pub acks: u64,
    /// NAKs sent.
    pub naks: u64,
}

/// The dynamic authorization server core.
#[derive(Debug)]
pub struct DaeServer {
    cfg: DaeConfig,
    counters: DaeCounters,
    log: RateLimitedLog,
}

fn is_identification(t: AttrType) -> bool {
    matches!(
        t,
        AttrType::NAS_IP_ADDRESS
            | AttrType::NAS_IDENTIFIER
            | AttrType::NAS_IPV6_ADDRESS
            | AttrType::ACCT_SESSION_ID
            | AttrType::USER_NAME
            | AttrType::FRAMED_IP_ADDRESS
            | AttrType::NAS_PORT
            | AttrType::NAS_PORT_ID
            | AttrType::CALLING_STATION_ID
            | AttrType::CALLED_STATION_ID
            | AttrType::MESSAGE_AUTHENTICATOR
            | AttrType::EVENT_TIMESTAMP
            | AttrType::PROXY_STATE
            | AttrType::SERVICE_TYPE
            | AttrType::REPLY_MESSAGE
            | AttrType::CLASS
    )
}

impl DaeServer {
    /// A server with these clients.
    pub fn new(cfg: DaeConfig) -> Self {
        DaeServer {
            cfg,
            counters: DaeCounters::default(),
            log: RateLimitedLog::default(),
        }
    }

    /// Counters.
    pub fn counters(&self) -> DaeCounters {
        self.counters
    }

    fn drop_it(&mut self, now: Instant, from: SocketAddr, why: &'static str) -> DaeOutcome {
        if let Some(n) = self.log.allow(now) {
            tracing::warn!(%from, suppressed = n, "dynamic authorization request dropped: {why}");
        }
        DaeOutcome::Dropped
    }

    /// One datagram on the DAE port; `wall` is the wall clock, for Event-Timestamp.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: SocketAddr,
        bytes: &[u8],
    ) -> DaeOutcome {
        // RFC 5176 §5.1 / RFC 2865 §3: requests from unknown clients are silently discarded.
        let Some(ci) = self.cfg.clients.iter().position(|c| c.addr == from.ip()) else {
            self.counters.unknown_client += 1;
            return self.drop_it(now, from, "unknown client");
        };
        if frame(bytes).is_err() {
            self.counters.malformed += 1;
            return self.drop_it(now, from, "malformed");
        }
        let kind = match Code(bytes[0]) {
            Code::DISCONNECT_REQUEST => DaeKind::Disconnect,
            Code::COA_REQUEST => DaeKind::Coa,
            _ => {
                self.counters.unexpected_code += 1;
                return self.drop_it(now, from, "not a Disconnect/CoA-Request");
            }
        };
        let secret = &self.cfg.clients[ci].secret;
        if let Err(e) = verify_hashed_request(bytes, secret, self.cfg.require_message_authenticator)
        {
            match e {
                AuthError::MissingMessageAuthenticator => {
                    self.counters.missing_message_authenticator += 1
                }
                _ => self.counters.bad_authenticator += 1,
            }
            return self.drop_it(now, from, "authentication failed");
        }
        let pkt = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.counters.malformed += 1;
                return self.drop_it(now, from, "malformed attributes");
            }
        };
        // RFC 3576 §5.4: "When this attribute is present, both the NAS and the RADIUS server
        // MUST check that the Event-Timestamp Attribute is current within an acceptable time
        // window. If the Event-Timestamp Attribute is not current, then the message MUST be
        // silently discarded."
        match pkt.get(AttrType::EVENT_TIMESTAMP).map(Attr::as_u32) {
            Some(Ok(ts)) => {
                let ours = wall
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                if ours.abs_diff(u64::from(ts)) > self.cfg.event_timestamp_window.as_secs() {
                    self.counters.stale_timestamp += 1;
                    return self.drop_it(now, from, "Event-Timestamp not current");
                }
            }
            Some(Err(_)) => {
                self.counters.malformed += 1;
                return self.drop_it(now, from, "malformed Event-Timestamp");
            }
            None if self.cfg.require_event_timestamp => {
                self.counters.missing_timestamp += 1;
                return self.drop_it(now, from, "no Event-Timestamp");
            }
            None => {}
        }
        let mut req = DaeRequest {
            kind,
            from,
            selector: SessionSelector::default(),
            changes: CoaChanges::default(),
            id: pkt.id,
            authenticator: pkt.authenticator,
            client: ci,
            proxy_state: pkt
                .all(AttrType::PROXY_STATE)
                .map(|a| a.value.clone())
                .collect(),
        };
        match self.check(&pkt, &mut req) {
            Ok(()) => {
                match kind {
                    DaeKind::Disconnect => self.counters.disconnect_requests += 1,
                    DaeKind::Coa => self.counters.coa_requests += 1,
                }
                DaeOutcome::Request(req)
            }
            Err(cause) => DaeOutcome::Reply(self.respond(&req, Err(cause))),
        }
    }

    fn check(&self, p: &Packet, req: &mut DaeRequest) -> Result<(), ErrorCause> {
        let invalid = |_: DecodeError| ErrorCause::InvalidAttributeValue;
        let nas = &self.cfg.nas;
        // RFC 5176 §3: a request for another NAS gets Error-Cause 403.
        if let Some(a) = p.get(AttrType::NAS_IP_ADDRESS) {
            if Some(a.as_ipv4().map_err(invalid)?) != nas.ip {
                return Err(ErrorCause::NasIdentificationMismatch);
            }
        }
        if let Some(a) = p.get(AttrType::NAS_IDENTIFIER) {
            if Some(a.as_text().map_err(invalid)?) != nas.identifier.as_deref() {
                return Err(ErrorCause::NasIdentificationMismatch);
            }
        }
        if let Some(a) = p.get(AttrType::NAS_IPV6_ADDRESS) {
            let ours = nas.ipv6.map(|i| i.octets().to_vec());
            if Some(a.value.clone()) != ours {
                return Err(ErrorCause::NasIdentificationMismatch);
            }
        }
        if let Some(a) = p.get(AttrType::SERVICE_TYPE) {
            // §3.2: Authorize-Only needs a follow-up Access-Request: not supported here.
            if a.as_u32().map_err(invalid)? == SERVICE_TYPE_AUTHORIZE_ONLY {
                return Err(ErrorCause::UnsupportedService);
            }
        }
        let s = &mut req.selector;
        s.acct_session_id = p
            .get(AttrType::ACCT_SESSION_ID)
            .map(|a| a.as_text().map(str::to_string))
            .transpose()
            .map_err(invalid)?;
        s.user_name = p
            .get(AttrType::USER_NAME)
            .map(|a| a.as_text().map(str::to_string))
            .transpose()
            .map_err(invalid)?;
        s.framed_ip = p
            .get(AttrType::FRAMED_IP_ADDRESS)
            .map(Attr::as_ipv4)
            .transpose()
            .map_err(invalid)?;
        s.nas_port = p
            .get(AttrType::NAS_PORT)
            .map(Attr::as_u32)
            .transpose()
            .map_err(invalid)?;
        if *s == SessionSelector::default() {
            return Err(ErrorCause::MissingAttribute);
        }
        for a in &p.attrs {
            if is_identification(a.typ) {
                continue;
            }
            if req.kind == DaeKind::Disconnect {
                return Err(ErrorCause::UnsupportedAttribute);
            }
            let secs = |a: &Attr| {
                a.as_u32()
                    .map(|v| Duration::from_secs(v.into()))
                    .map_err(invalid)
            };
            let c = &mut req.changes;
            match (a.typ, &self.cfg.rate_limit) {
                (AttrType::SESSION_TIMEOUT, _) => c.session_timeout = Some(secs(a)?),
                (AttrType::IDLE_TIMEOUT, _) => c.idle_timeout = Some(secs(a)?),
                (AttrType::ACCT_INTERIM_INTERVAL, _) => c.interim_interval = Some(secs(a)?),
                (AttrType::FILTER_ID, Some(RateLimitAttr::FilterId { prefix })) => {
                    let t = a.as_text().map_err(invalid)?;
                    match t.strip_prefix(prefix.as_str()) {
                        Some(r) => {
                            c.rate_limit =
                                Some(RateLimit::parse(r).ok_or(ErrorCause::InvalidAttributeValue)?)
                        }
                        None => c.filter_ids.push(t.to_string()),
                    }
                }
                (AttrType::FILTER_ID, _) => {
                    c.filter_ids.push(a.as_text().map_err(invalid)?.to_string())
                }
                (AttrType::FRAMED_ROUTE, _) => c
                    .routes
                    .get_or_insert_with(Box::default)
                    .framed
                    .get_or_insert_with(Vec::new)
                    .push(a.as_text().map_err(invalid)?.to_string()),
                (AttrType::FRAMED_IPV6_PREFIX, _) => {
                    c.routes.get_or_insert_with(Box::default).ipv6_prefix =
                        Some(Ipv6Prefix::decode(a).map_err(invalid)?)
                }
                (AttrType::DELEGATED_IPV6_PREFIX, _) => {
                    c.routes.get_or_insert_with(Box::default).delegated_prefix =
                        Some(Ipv6Prefix::decode(a).map_err(invalid)?)
                }
                (AttrType::VENDOR_SPECIFIC, Some(RateLimitAttr::Vendor { vendor, vtype })) => {
                    let subs = crate::packet::parse_vendor_specific(&a.value).map_err(invalid)?;
                    for v in subs {
                        if v.vendor != *vendor || v.vtype != *vtype {
                            return Err(ErrorCause::UnsupportedAttribute);
                        }
                        let t = std::str::from_utf8(&v.data).ok().and_then(RateLimit::parse);
                        c.rate_limit = Some(t.ok_or(ErrorCause::InvalidAttributeValue)?);
                    }
                }
                _ => return Err(ErrorCause::UnsupportedAttribute),
            }
        }
        Ok(())
    }

    /// The ACK (`Ok`) or NAK with Error-Cause (`Err`) for a request, signed with its
    /// client's secret, Proxy-State copied (RFC 5176 §3).
    pub fn respond(&mut self, req: &DaeRequest, result: Result<(), ErrorCause>) -> Transmit {
        let code = match (req.kind, result.is_ok()) {
            (DaeKind::Disconnect, true) => Code::DISCONNECT_ACK,
            (DaeKind::Disconnect, false) => Code::DISCONNECT_NAK,
            (DaeKind::Coa, true) => Code::COA_ACK,
            (DaeKind::Coa, false) => Code::COA_NAK,
        };
        let mut p = Packet::new(code, req.id, [0; 16]);
        p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
        match result {
            Ok(()) => self.counters.acks += 1,
            Err(cause) => {
                self.counters.naks += 1;
                p.push(Attr::u32(AttrType::ERROR_CAUSE, cause as u32));
            }
        }
        let bare = p.clone();
        for ps in &req.proxy_state {
            p.push(Attr::new(AttrType::PROXY_STATE, ps.clone()));
        }
        // Copied Proxy-States can push a reply past 4096 octets when the request had no
        // Message-Authenticator: then answer without them rather than not at all.
        let mut bytes = match p.encode() {
            Ok(b) => b,
            Err(_) => bare.encode().unwrap_or_default(),
        };
        if bytes.is_empty() {
            return Transmit {
                to: req.from,
                bytes,
            };
        }
        sign_reply(
            &mut bytes,
            &self.cfg.clients[req.client].secret,
            &req.authenticator,
        );
        Transmit {
            to: req.from,
            bytes,
        }
    }
}
