//! The access concentrator's side of PPPoE discovery (RFC 2516 §5), sans-IO: frames in with
//! the time, frames out through [`AccessConcentrator::poll_transmit`], session changes out
//! through [`AccessConcentrator::poll_event`].
//!
//! - PADI (§5.1) → PADO (§5.2) when the Service-Name is one we offer, the PADI rate limit
//!   has a token and the sender is under its session limit: AC-Name, the requested
//!   Service-Name first then the others we offer, an AC-Cookie bound to the sender's MAC and
//!   VLAN tags, Host-Uniq and Relay-Session-Id echoed, PPP-Max-Payload (RFC 4638) when both
//!   sides support more than 1492.
//! - PADR (§5.3) → PADS (§5.4) with a fresh SESSION_ID, only with a valid cookie; a PADR
//!   repeating one already answered gets the same PADS again; refusals are PADSs with
//!   SESSION_ID 0 and Service-Name-Error or AC-System-Error.
//! - PADT (§5.5) in both directions: the peer's ends its session, [`terminate`] sends ours.
//! - Session frames (§6) of a known session from its own MAC and VLANs are handed back as
//!   PPP frames; nothing else is.
//!
//! Every dropped frame is counted under one [`DropReason`] and logged at most once per
//! interval per reason.
//!
//! [`terminate`]: AccessConcentrator::terminate

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::bucket::TokenBucket;
use crate::cookie::CookieJar;
use crate::eth::{EthHeader, MacAddr, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION};
use crate::packet::{session_header_into, Code, Discovery, Frame, Pppoe};
use crate::stats::{DropReason, Stats};
use crate::tag::{Tag, TagList};
use crate::tr101::AccessLine;

/// The PPP MRU over PPPoE without RFC 4638 (§7: "The Maximum-Receive-Unit (MRU) option MUST
/// NOT be negotiated to a larger size than 1492.").
pub const DEFAULT_MAX_PAYLOAD: u16 = 1492;

/// Most MACs with a PADI bucket of their own; more and the table starts over.
const MAX_PER_MAC_BUCKETS: usize = 16_384;

/// Configuration of one access concentrator (one interface). `Debug` does not show the
/// cookie secret.
#[derive(Clone)]
pub struct AcConfig {
    /// Our Ethernet address.
    pub mac: MacAddr,
    /// AC-Name sent in PADO and PADS.
    pub ac_name: String,
    /// Service names offered. Empty: any requested name is accepted.
    pub services: Vec<String>,
    /// Key of the AC-Cookie HMAC (keep it secret; random per start is fine).
    pub cookie_secret: Vec<u8>,
    /// Cookie time window: a cookie is accepted for one to two windows.
    pub cookie_window: Duration,
    /// Most sessions at once.
    pub max_sessions: usize,
    /// Most sessions at once per subscriber MAC.
    pub max_sessions_per_mac: usize,
    /// PADIs answered per second (token bucket rate), over all senders.
    pub padi_rate: u32,
    /// PADIs answered in a burst.
    pub padi_burst: u32,
    /// PADIs answered per second for one MAC (checked before the global bucket, so one
    /// flooding host cannot use up everybody's PADIs).
    pub padi_per_mac_rate: u32,
    /// PADIs answered in a burst for one MAC.
    pub padi_per_mac_burst: u32,
    /// Answer a session frame for a session we do not have (say, after a restart) with a
    /// PADT, so the host hangs up at once instead of after its keepalive timeout; at most
    /// `padi_rate` per second.
    pub padt_unknown_sessions: bool,
    /// RFC 4638: the largest PPP payload we carry (the interface MTU minus 8); `None` or at
    /// most 1492 disables PPP-Max-Payload.
    pub max_payload: Option<u16>,
    /// Interval of the rate-limited log lines about dropped frames.
    pub log_interval: Duration,
}

impl std::fmt::Debug for AcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcConfig")
            .field("mac", &self.mac)
            .field("ac_name", &self.ac_name)
            .field("services", &self.services)
            .field("cookie_secret", &"<redacted>")
            .field("cookie_window", &self.cookie_window)
            .field("max_sessions", &self.max_sessions)
            .field("max_sessions_per_mac", &self.max_sessions_per_mac)
            .field("padi_rate", &self.padi_rate)
            .field("padi_burst", &self.padi_burst)
            .field("padi_per_mac_rate", &self.padi_per_mac_rate)
            .field("padi_per_mac_burst", &self.padi_per_mac_burst)
            .field("padt_unknown_sessions", &self.padt_unknown_sessions)
            .field("max_payload", &self.max_payload)
            .field("log_interval", &self.log_interval)
            .finish()
    }
}

impl AcConfig {
    /// Defaults: any service, 30 s cookie windows, 8000 sessions, 2 per MAC, 200 PADI/s
    /// with bursts of 400 and 1/s with bursts of 5 per MAC, PADT for unknown sessions, no
    /// PPP-Max-Payload.
    pub fn new(mac: MacAddr, ac_name: &str, cookie_secret: &[u8]) -> Self {
        AcConfig {
            mac,
            ac_name: ac_name.to_string(),
            services: Vec::new(),
            cookie_secret: cookie_secret.to_vec(),
            cookie_window: Duration::from_secs(30),
            max_sessions: 8000,
            max_sessions_per_mac: 2,
            padi_rate: 200,
            padi_burst: 400,
            padi_per_mac_rate: 1,
            padi_per_mac_burst: 5,
            padt_unknown_sessions: true,
            max_payload: None,
            log_interval: Duration::from_secs(10),
        }
    }
}

/// A PPPoE session as discovery established it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    /// SESSION_ID.
    pub id: u16,
    /// The subscriber's address.
    pub peer: MacAddr,
    /// VLAN tags the subscriber's frames carry (replies use the same).
    pub vlans: Vec<VlanTag>,
    /// The Service-Name the session was accepted under.
    pub service: Vec<u8>,
    /// The subscriber's Host-Uniq in its PADR.
    pub host_uniq: Option<Vec<u8>>,
    /// The relay's Relay-Session-Id in the PADR.
    pub relay_session_id: Option<Vec<u8>>,
    /// The PPP-Max-Payload agreed (RFC 4638), if any.
    pub max_payload: Option<u16>,
    /// TR-101 access-line information an intermediate agent put in the PADR.
    pub access_line: Option<AccessLine>,
    /// When the PADS was sent.
    #[serde(with = "l2tp_snap::instant")]
    pub started: Instant,
    /// Whether a session frame has arrived (a repeated PADR is answered only before).
    pub established: bool,
}

impl SessionInfo {
    /// The largest PPP MRU the session may negotiate.
    pub fn max_mru(&self) -> u16 {
        self.max_payload.unwrap_or(DEFAULT_MAX_PAYLOAD)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// The subscriber sent a PADT.
    PeerTerminated,
    /// We sent a PADT ([`AccessConcentrator::terminate`]).
    Local,
}

/// What the caller learns from the access concentrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A PADS confirmed a new session.
    SessionUp(SessionInfo),
    /// A session ended; no PPP frame may be sent on it any more (§5.5: "When a PADT is
    /// received, no further PPP traffic is allowed to be sent using that session.").
    SessionDown {
        /// SESSION_ID.
        id: u16,
        /// The subscriber's address.
        peer: MacAddr,
        /// Who ended it.
        reason: DownReason,
    },
}

/// What [`AccessConcentrator::handle_frame`] did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received<'a> {
    /// A discovery frame, handled: drain `poll_transmit` and `poll_event`.
    Discovery,
    /// A PPP frame (protocol field first) of an established session.
    Session {
        /// SESSION_ID.
        id: u16,
        /// The PPP frame, borrowed from the input.
        ppp: &'a [u8],
    },
    /// Dropped, and counted.
    Dropped(DropReason),
}

/// An access concentrator's sessions and counters, carried to a new process
/// ([`AccessConcentrator::carried`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Carried {
    /// The sessions, by SESSION_ID.
    pub sessions: Vec<SessionInfo>,
    /// The next SESSION_ID tried.
    pub next_id: u16,
    /// The counters.
    pub stats: Stats,
}

/// One access concentrator on one interface.
#[derive(Debug)]
pub struct AccessConcentrator {
    cfg: AcConfig,
    cookies: CookieJar,
    padi_bucket: TokenBucket,
    padi_per_mac: HashMap<MacAddr, TokenBucket>,
    padt_bucket: TokenBucket,
    sessions: HashMap<u16, SessionInfo>,
    /// Session ids per subscriber MAC (for the per-MAC limit and repeated PADRs).
    per_mac: HashMap<MacAddr, Vec<u16>>,
    next_id: u16,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    stats: Stats,
    last_log: [Option<Instant>; DropReason::COUNT],
    suppressed: [u64; DropReason::COUNT],
}

impl AccessConcentrator {
    /// A new access concentrator; `now` starts the cookie clock.
    pub fn new(cfg: AcConfig, now: Instant) -> Self {
        AccessConcentrator {
            cookies: CookieJar::new(&cfg.cookie_secret, cfg.cookie_window, now),
            padi_bucket: TokenBucket::new(cfg.padi_rate, cfg.padi_burst),
            padi_per_mac: HashMap::new(),
            padt_bucket: TokenBucket::new(cfg.padi_rate, cfg.padi_rate),
            cfg,
            sessions: HashMap::new(),
            per_mac: HashMap::new(),
            next_id: 1,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            last_log: [None; DropReason::COUNT],
            suppressed: [0; DropReason::COUNT],
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AcConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A session by id.
    pub fn session(&self, id: u16) -> Option<&SessionInfo> {
        self.sessions.get(&id)
    }

    /// Every session.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionInfo> {
        self.sessions.values()
    }

    /// What a new process needs to carry this access concentrator's sessions on (a hitless
    /// upgrade): the sessions, the next SESSION_ID and the counters. Not carried: the
    /// cookie secret and the rate limits (a PADR answering a PADO sent before is refused, and
    /// its subscriber starts discovery again), and frames or events not drained yet.
    pub fn carried(&self) -> Carried {
        let mut sessions: Vec<SessionInfo> = self.sessions.values().cloned().collect();
        sessions.sort_by_key(|s| s.id);
        Carried {
            sessions,
            next_id: self.next_id,
            stats: self.stats.clone(),
        }
    }

    /// Takes over what [`AccessConcentrator::carried`] gave (on a fresh access
    /// concentrator of the same interface): the sessions go on, no PADT, no new PADS.
    pub fn carry_on(&mut self, c: Carried) {
        self.sessions.clear();
        self.per_mac.clear();
        for s in c.sessions {
            self.per_mac.entry(s.peer).or_default().push(s.id);
            self.sessions.insert(s.id, s);
        }
        self.next_id = c.next_id;
        self.stats = c.stats;
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Handles one received Ethernet frame.
    pub fn handle_frame<'a>(&mut self, now: Instant, frame: &'a [u8]) -> Received<'a> {
        self.stats.rx_frames += 1;
        let f = match Frame::decode(frame) {
            Ok(f) => f,
            Err(e) => {
                let r = DropReason::from_decode(&e);
                return self.drop_frame(now, r, None, &e.to_string());
            }
        };
        if f.eth.src.is_multicast() {
            return self.drop_frame(now, DropReason::BadSourceMac, Some(f.eth.src), "");
        }
        match f.pppoe {
            Pppoe::Session {
                session_id,
                payload,
            } => match self.sessions.get_mut(&session_id) {
                Some(s)
                    if s.peer == f.eth.src
                        && s.vlans == f.eth.vlans
                        && f.eth.dst == self.cfg.mac =>
                {
                    s.established = true;
                    self.stats.session_rx += 1;
                    Received::Session {
                        id: session_id,
                        ppp: payload,
                    }
                }
                _ => {
                    self.padt_unknown(now, &f.eth, session_id);
                    self.drop_frame(now, DropReason::SessionUnknown, Some(f.eth.src), "")
                }
            },
            Pppoe::Discovery(d) => {
                let r = match d.code {
                    Code::PADI => self.on_padi(now, &f.eth, &d),
                    Code::PADR => self.on_padr(now, &f.eth, &d),
                    Code::PADT => self.on_padt(&f.eth, &d),
                    _ => Err(DropReason::UnexpectedCode),
                };
                match r {
                    Ok(()) => Received::Discovery,
                    Err(reason) => self.drop_frame(now, reason, Some(f.eth.src), ""),
                }
            }
        }
    }

    /// Ends session `id` from our side: sends a PADT (with `message` in a Generic-Error TAG
    /// when given) and reports [`Event::SessionDown`]. False when there is no such session.
    pub fn terminate(&mut self, id: u16, message: Option<&str>) -> bool {
        let Some(s) = self.sessions.remove(&id) else {
            return false;
        };
        self.forget_mac(s.peer, s.id);
        let mut tags = Vec::new();
        if let Some(m) = message {
            tags.push(Tag::GenericError(m.as_bytes().to_vec()));
        }
        if let Some(r) = &s.relay_session_id {
            tags.push(Tag::RelaySessionId(r.clone()));
        }
        let eth = EthHeader {
            dst: s.peer,
            src: self.cfg.mac,
            vlans: s.vlans.clone(),
            ethertype: ETHERTYPE_DISCOVERY,
        };
        self.send(eth, Code::PADT, id, tags);
        self.stats.padt_tx += 1;
        self.stats.sessions_down += 1;
        self.events.push_back(Event::SessionDown {
            id,
            peer: s.peer,
            reason: DownReason::Local,
        });
        true
    }

    /// The Ethernet frame carrying `ppp` (protocol field first) on session `id`; `None`
    /// when there is no such session.
    pub fn encapsulate(&self, id: u16, ppp: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.encapsulate_into(id, ppp, &mut out).then_some(out)
    }

    /// Like [`Ac::encapsulate`], appending the frame to `out` (a relay's output buffer: no
    /// allocation per frame); false, with `out` as it was, for an unknown session.
    pub fn encapsulate_into(&self, id: u16, ppp: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        let start = out.len();
        let ok = crate::eth::encode_header(s.peer, self.cfg.mac, &s.vlans, ETHERTYPE_SESSION, out)
            .and_then(|()| session_header_into(id, ppp.len(), out))
            .is_ok();
        if ok {
            out.extend_from_slice(ppp);
        } else {
            out.truncate(start);
        }
        ok
    }

    fn on_padi(&mut self, now: Instant, eth: &EthHeader, d: &Discovery) -> Result<(), DropReason> {
        self.stats.padi_rx += 1;
        // §5.1: "The Host sends the PADI packet with the DESTINATION_ADDR set to the
        // broadcast address." A unicast PADI to us is accepted too.
        if !eth.dst.is_broadcast() && eth.dst != self.cfg.mac {
            return Err(DropReason::NotForUs);
        }
        if d.session_id != 0 {
            return Err(DropReason::NonZeroSessionId);
        }
        // §5.1: "The PADI packet MUST contain exactly one TAG of TAG_TYPE Service-Name".
        let [requested] = d.tags.service_names()[..] else {
            return Err(DropReason::ServiceNameCount);
        };
        if d.tags.has_duplicate_singleton() {
            return Err(DropReason::DuplicateTag);
        }
        // §5.2: "If the Access Concentrator can not serve the PADI it MUST NOT respond with
        // a PADO."
        if !self.offers(requested) {
            return Err(DropReason::ServiceUnavailable);
        }
        if self.sessions.len() >= self.cfg.max_sessions {
            return Err(DropReason::SessionLimit);
        }
        if self.mac_sessions(eth.src) >= self.cfg.max_sessions_per_mac {
            return Err(DropReason::MacLimit);
        }
        if self.padi_per_mac.len() >= MAX_PER_MAC_BUCKETS
            && !self.padi_per_mac.contains_key(&eth.src)
        {
            // Bounded memory under a flood from random MACs: start over (the global bucket
            // still limits the total).
            self.padi_per_mac.clear();
        }
        let (rate, burst) = (self.cfg.padi_per_mac_rate, self.cfg.padi_per_mac_burst);
        let mine = self
            .padi_per_mac
            .entry(eth.src)
            .or_insert_with(|| TokenBucket::new(rate, burst));
        if !mine.take(now) {
            return Err(DropReason::PadiMacRateLimited);
        }
        if !self.padi_bucket.take(now) {
            return Err(DropReason::PadiRateLimited);
        }
        // §5.2: "The PADO packet MUST contain one AC-Name TAG containing the Access
        // Concentrator's name, a Service-Name TAG identical to the one in the PADI, and any
        // number of other Service-Name TAGs indicating other services that the Access
        // Concentrator offers."
        let mut tags = vec![
            Tag::AcName(self.cfg.ac_name.as_bytes().to_vec()),
            Tag::ServiceName(requested.to_vec()),
        ];
        for s in &self.cfg.services {
            if s.as_bytes() != requested {
                tags.push(Tag::ServiceName(s.as_bytes().to_vec()));
            }
        }
        tags.push(Tag::AcCookie(self.cookies.issue(now, eth.src, &eth.vlans)));
        self.echo_tags(&d.tags, &mut tags);
        self.send(
            eth.reply(self.cfg.mac, ETHERTYPE_DISCOVERY),
            Code::PADO,
            0,
            tags,
        );
        self.stats.pado_tx += 1;
        Ok(())
    }

    fn on_padr(&mut self, now: Instant, eth: &EthHeader, d: &Discovery) -> Result<(), DropReason> {
        self.stats.padr_rx += 1;
        if eth.dst != self.cfg.mac {
            return Err(DropReason::NotForUs);
        }
        if d.session_id != 0 {
            return Err(DropReason::NonZeroSessionId);
        }
        // §5.3: "The PADR packet MUST contain exactly one TAG of TAG_TYPE Service-Name".
        let [requested] = d.tags.service_names()[..] else {
            return Err(DropReason::ServiceNameCount);
        };
        // Two cookies (or two Host-Uniqs …): which one was checked must not be a question.
        if d.tags.has_duplicate_singleton() {
            return Err(DropReason::DuplicateTag);
        }
        // No reply at all without a cookie we issued to this address: a spoofed PADR must
        // not cost a session nor make us send anything.
        let Some(cookie) = d.tags.ac_cookie() else {
            return Err(DropReason::CookieMissing);
        };
        if !self.cookies.verify(now, eth.src, &eth.vlans, cookie) {
            return Err(DropReason::CookieInvalid);
        }
        let host_uniq = d.tags.host_uniq().map(<[u8]>::to_vec);
        let relay = d.tags.relay_session_id().map(<[u8]>::to_vec);
        let reply = eth.reply(self.cfg.mac, ETHERTYPE_DISCOVERY);

        // A PADR repeated because our PADS was lost: the same session, the same PADS.
        let repeated = self
            .per_mac
            .get(&eth.src)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sessions.get(id))
            .find(|s| !s.established && s.vlans == eth.vlans && s.host_uniq == host_uniq);
        if let Some(s) = repeated {
            let (id, tags) = (s.id, self.pads_tags(s));
            self.send(reply, Code::PADS, id, tags);
            self.stats.padr_repeated += 1;
            self.stats.pads_tx += 1;
            return Ok(());
        }

        // §5.4: "If the Access Concentrator does not like the Service-Name in the PADR, then
        // it MUST reply with a PADS containing a TAG of TAG_TYPE Service-Name-Error (and any
        // number of other TAG types). In this case the SESSION_ID MUST be set to 0x0000."
        let refusal = if !self.offers(requested) {
            Some((
                DropReason::ServiceUnavailable,
                Tag::ServiceNameError(Vec::new()),
            ))
        } else if self.sessions.len() >= self.cfg.max_sessions {
            let msg = b"session limit reached".to_vec();
            Some((DropReason::SessionLimit, Tag::AcSystemError(msg)))
        } else if self.mac_sessions(eth.src) >= self.cfg.max_sessions_per_mac {
            let msg = b"too many sessions for this address".to_vec();
            Some((DropReason::MacLimit, Tag::AcSystemError(msg)))
        } else {
            None
        };
        let id = match refusal {
            Some(r) => Err(r),
            None => self.allocate_id().ok_or((
                DropReason::NoSessionId,
                Tag::AcSystemError(b"no session id free".to_vec()),
            )),
        };
        let id = match id {
            Ok(id) => id,
            Err((reason, error_tag)) => {
                let mut tags = vec![Tag::ServiceName(requested.to_vec()), error_tag];
                self.echo_tags(&d.tags, &mut tags);
                self.send(reply, Code::PADS, 0, tags);
                self.stats.pads_error_tx += 1;
                return Err(reason);
            }
        };
        let access_line = d
            .tags
            .vendor_tags()
            .into_iter()
            .find_map(|v| v.access_line().and_then(Result::ok));
        let s = SessionInfo {
            id,
            peer: eth.src,
            vlans: eth.vlans.clone(),
            service: requested.to_vec(),
            host_uniq,
            relay_session_id: relay,
            max_payload: self.agreed_max_payload(&d.tags),
            access_line,
            started: now,
            established: false,
        };
        // §5.4: "The PADS packet contains exactly one TAG of TAG_TYPE Service-Name,
        // indicating the service under which Access Concentrator has accepted the PPPoE
        // session, and any number of other TAG types."
        let tags = self.pads_tags(&s);
        self.send(reply, Code::PADS, id, tags);
        self.per_mac.entry(s.peer).or_default().push(id);
        self.sessions.insert(id, s.clone());
        self.stats.pads_tx += 1;
        self.stats.sessions_up += 1;
        self.events.push_back(Event::SessionUp(s));
        Ok(())
    }

    fn on_padt(&mut self, eth: &EthHeader, d: &Discovery) -> Result<(), DropReason> {
        if eth.dst != self.cfg.mac {
            return Err(DropReason::NotForUs);
        }
        // Only the subscriber that owns a session may end it.
        match self.sessions.get(&d.session_id) {
            Some(s) if s.peer == eth.src && s.vlans == eth.vlans => {}
            _ => return Err(DropReason::PadtUnknownSession),
        }
        let s = self.sessions.remove(&d.session_id).expect("checked above");
        self.forget_mac(s.peer, s.id);
        self.stats.padt_rx += 1;
        self.stats.sessions_down += 1;
        self.events.push_back(Event::SessionDown {
            id: s.id,
            peer: s.peer,
            reason: DownReason::PeerTerminated,
        });
        Ok(())
    }

    /// A PADT for a session frame naming a session we do not have (only to a unicast sender
    /// that addressed us; rate-limited; the frame is counted as dropped either way).
    fn padt_unknown(&mut self, now: Instant, eth: &EthHeader, session_id: u16) {
        if !self.cfg.padt_unknown_sessions
            || eth.dst != self.cfg.mac
            || session_id == 0
            || self.sessions.contains_key(&session_id)
            || !self.padt_bucket.take(now)
        {
            return;
        }
        self.send(
            eth.reply(self.cfg.mac, ETHERTYPE_DISCOVERY),
            Code::PADT,
            session_id,
            vec![],
        );
        self.stats.padt_tx += 1;
    }

    fn pads_tags(&self, s: &SessionInfo) -> Vec<Tag> {
        let mut tags = vec![
            Tag::ServiceName(s.service.clone()),
            Tag::AcName(self.cfg.ac_name.as_bytes().to_vec()),
        ];
        if let Some(h) = &s.host_uniq {
            tags.push(Tag::HostUniq(h.clone()));
        }
        if let Some(r) = &s.relay_session_id {
            tags.push(Tag::RelaySessionId(r.clone()));
        }
        if let Some(m) = s.max_payload {
            tags.push(Tag::PppMaxPayload(m));
        }
        tags
    }

    /// Host-Uniq (Appendix A: "If the Access Concentrator receives this TAG, it MUST include
    /// the TAG unmodified in the associated PADO or PADS response."), Relay-Session-Id ("If
    /// either the Host or Access Concentrator receives this TAG they MUST include it
    /// unmodified in any discovery packet they send as a response.") and PPP-Max-Payload.
    fn echo_tags(&self, received: &[Tag], out: &mut Vec<Tag>) {
        if let Some(h) = received.host_uniq() {
            out.push(Tag::HostUniq(h.to_vec()));
        }
        if let Some(r) = received.relay_session_id() {
            out.push(Tag::RelaySessionId(r.to_vec()));
        }
        if let Some(m) = self.agreed_max_payload(received) {
            out.push(Tag::PppMaxPayload(m));
        }
    }

    /// RFC 4638: when the host offers a PPP-Max-Payload above 1492 and our interface carries
    /// more than 1492 too, we answer with the smaller of the two; otherwise no TAG (and the
    /// session stays at 1492).
    fn agreed_max_payload(&self, received: &[Tag]) -> Option<u16> {
        let theirs = received.ppp_max_payload()?;
        let ours = self.cfg.max_payload?;
        let m = theirs.min(ours);
        (m > DEFAULT_MAX_PAYLOAD).then_some(m)
    }

    fn offers(&self, requested: &[u8]) -> bool {
        // Appendix A: "When the TAG_LENGTH is zero this TAG is used to indicate that any
        // service is acceptable."
        requested.is_empty()
            || self.cfg.services.is_empty()
            || self.cfg.services.iter().any(|s| s.as_bytes() == requested)
    }

    fn mac_sessions(&self, mac: MacAddr) -> usize {
        self.per_mac.get(&mac).map_or(0, Vec::len)
    }

    fn forget_mac(&mut self, mac: MacAddr, id: u16) {
        if let Some(ids) = self.per_mac.get_mut(&mac) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.per_mac.remove(&mac);
            }
        }
    }

    /// §4: SESSION_ID "A value of 0xffff is reserved for future use and MUST NOT be used";
    /// 0 means "no session" in discovery. Ids are handed out round-robin.
    fn allocate_id(&mut self) -> Option<u16> {
        for _ in 0..0xfffe {
            let id = self.next_id;
            self.next_id = if id >= 0xfffe { 1 } else { id + 1 };
            if !self.sessions.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    fn send(&mut self, eth: EthHeader, code: Code, session_id: u16, tags: Vec<Tag>) {
        let f = Frame {
            eth,
            pppoe: Pppoe::Discovery(Discovery {
                code,
                session_id,
                tags,
            }),
        };
        // Our own TAGs are short; only a peer's huge Host-Uniq or Relay-Session-Id could make
        // a reply unencodable, and then no reply is right.
        if let Ok(b) = f.encode() {
            self.transmit.push_back(b);
        }
    }

    fn drop_frame<'a>(
        &mut self,
        now: Instant,
        reason: DropReason,
        src: Option<MacAddr>,
        detail: &str,
    ) -> Received<'a> {
        self.stats.count_drop(reason);
        let i = reason as usize;
        let due = self.last_log[i]
            .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.log_interval);
        if due {
            let suppressed = std::mem::take(&mut self.suppressed[i]);
            self.last_log[i] = Some(now);
            match src {
                Some(mac) => tracing::info!(
                    %reason, from = %mac, detail, suppressed, "PPPoE frame dropped"
                ),
                None => tracing::info!(%reason, detail, suppressed, "PPPoE frame dropped"),
            }
        } else {
            self.suppressed[i] += 1;
        }
        Received::Dropped(reason)
    }
}
