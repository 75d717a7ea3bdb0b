//! One PPPoE subscriber of the load generator, sans-IO: discovery as a host (RFC 2516 §5:
//! PADI, PADO, PADR, PADS), then a PPP client [`Link`] inside PPPoE session frames (§7),
//! up to IPCP. Frames in with the time, frames out into a caller's vector; nothing here reads
//! a clock or does I/O.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ppp::{AuthMethod, Event, Link, LinkConfig};
use pppoe::{
    Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, TagList, VlanTag, ETHERTYPE_DISCOVERY,
    ETHERTYPE_SESSION,
};
use rand::SeedableRng;

/// How long a PADI or PADR waits for its answer before it is sent again (§5: "If the Host
/// does not receive a PADO packet within a specified amount of time, it SHOULD resend its
/// PADI packet and double the waiting period.").
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait between two discovery retransmissions.
const DISCOVERY_TIMEOUT_MAX: Duration = Duration::from_secs(8);
/// Discovery attempts (PADIs, then PADRs) before the subscriber gives up.
const DISCOVERY_TRIES: u32 = 8;

/// Where the subscriber is.
#[derive(Debug)]
enum Stage {
    /// Not started.
    Idle,
    /// PADI sent; waiting for a PADO.
    Discovering,
    /// PADR sent to `ac` with its cookie; waiting for the PADS.
    Requesting { ac: MacAddr, cookie: Vec<u8> },
    /// PADS received: PPP runs on session `id` with `ac`.
    Session { ac: MacAddr, id: u16 },
    /// Finished: up and hung up, or failed.
    Done,
}

/// What the subscriber is, to an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Discovery or PPP negotiation running.
    Pending,
    /// IPCP up.
    Up,
    /// Gave up or went down.
    Failed,
}

/// One emulated PPPoE host.
pub struct Subscriber {
    /// Our Ethernet address.
    pub mac: MacAddr,
    /// The VLAN tags our frames carry; a frame to us on other tags is not ours.
    pub vlans: Vec<VlanTag>,
    stage: Stage,
    link: Option<Link>,
    cfg: std::sync::Arc<LinkConfig>,
    seed: u64,
    discovery_deadline: Option<Instant>,
    discovery_wait: Duration,
    tries: u32,
    /// The address IPCP gave us.
    pub address: Option<Ipv4Addr>,
    /// When IPCP came up.
    pub up_at: Option<Instant>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// Whether the session went down after it was up.
    pub lost: bool,
}

impl Subscriber {
    /// A subscriber with address `mac` that authenticates with `cfg` (a client config).
    pub fn new(
        mac: MacAddr,
        vlans: Vec<VlanTag>,
        cfg: std::sync::Arc<LinkConfig>,
        seed: u64,
    ) -> Subscriber {
        Subscriber {
            mac,
            vlans,
            stage: Stage::Idle,
            link: None,
            cfg,
            seed,
            discovery_deadline: None,
            discovery_wait: DISCOVERY_TIMEOUT,
            tries: 0,
            address: None,
            up_at: None,
            failure: None,
            lost: false,
        }
    }

    /// The client configuration subscribers share: PAP or CHAP-MD5 (what a LAC can proxy),
    /// IPv4 only, PPPoE's MRU, no keepalive of our own (the LNS's echoes are answered).
    pub fn link_config(user: &str, password: &str) -> LinkConfig {
        let mut cfg = LinkConfig::client(user, password);
        cfg.auth.methods = vec![AuthMethod::ChapMd5, AuthMethod::Pap];
        cfg.ipv4.request_dns = false;
        cfg.ipv6 = false;
        cfg.mru = pppoe::ac::DEFAULT_MAX_PAYLOAD;
        cfg.echo_interval = None;
        cfg.establish_timeout = Some(Duration::from_secs(60));
        cfg
    }

    /// Where the subscriber is.
    pub fn status(&self) -> Status {
        if self.failure.is_some() || self.lost {
            Status::Failed
        } else if self.up_at.is_some() {
            Status::Up
        } else {
            Status::Pending
        }
    }

    /// The PPPoE SESSION_ID, once discovery finished.
    pub fn session_id(&self) -> Option<u16> {
        match self.stage {
            Stage::Session { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The link's counters (LCP echoes sent and answered among them).
    pub fn link_stats(&self) -> Option<ppp::LinkStats> {
        self.link.as_ref().map(Link::stats)
    }

    /// Starts discovery: a PADI to the broadcast address.
    pub fn start(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        self.stage = Stage::Discovering;
        self.tries = 0;
        self.discovery_wait = DISCOVERY_TIMEOUT;
        self.send_discovery(now, out);
    }

    /// The next time [`Subscriber::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.stage {
            Stage::Discovering | Stage::Requesting { .. } => self.discovery_deadline,
            Stage::Session { .. } => self.link.as_ref().and_then(Link::poll_timeout),
            Stage::Idle | Stage::Done => None,
        }
    }

    /// Retransmits discovery, or runs the link's timers.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        match self.stage {
            Stage::Discovering | Stage::Requesting { .. } => {
                if self.discovery_deadline.is_some_and(|t| t <= now) {
                    if self.tries >= DISCOVERY_TRIES {
                        self.fail("discovery: no answer");
                        return;
                    }
                    self.discovery_wait = (self.discovery_wait * 2).min(DISCOVERY_TIMEOUT_MAX);
                    self.send_discovery(now, out);
                }
            }
            Stage::Session { .. } => {
                if let Some(l) = self.link.as_mut() {
                    l.handle_timeout(now);
                }
                self.drain(now, out);
            }
            Stage::Idle | Stage::Done => {}
        }
    }

    /// A frame addressed to us (ignored unless on our VLAN tags).
    pub fn handle_frame(&mut self, now: Instant, frame: &Frame<'_>, out: &mut Vec<Vec<u8>>) {
        if frame.eth.vlans != self.vlans {
            return;
        }
        match (&frame.pppoe, &self.stage) {
            (Pppoe::Discovery(d), Stage::Discovering) if d.code == Code::PADO => {
                // §5.3: the PADR goes to the unicast address of the AC that sent the PADO,
                // with the AC-Cookie it gave us.
                let Some(cookie) = d.tags.ac_cookie() else {
                    return;
                };
                self.stage = Stage::Requesting {
                    ac: frame.eth.src,
                    cookie: cookie.to_vec(),
                };
                self.tries = 0;
                self.discovery_wait = DISCOVERY_TIMEOUT;
                self.send_discovery(now, out);
            }
            (Pppoe::Discovery(d), Stage::Requesting { ac, .. })
                if d.code == Code::PADS && frame.eth.src == *ac =>
            {
                if d.session_id == 0 {
                    self.fail("PADS refused the session");
                    return;
                }
                self.stage = Stage::Session {
                    ac: *ac,
                    id: d.session_id,
                };
                self.discovery_deadline = None;
                let rng = rand::rngs::StdRng::seed_from_u64(self.seed);
                let mut link = Link::new(self.cfg.clone(), rng);
                link.open(now);
                self.link = Some(link);
                self.drain(now, out);
            }
            (Pppoe::Discovery(d), Stage::Session { ac, id })
                if d.code == Code::PADT && d.session_id == *id && frame.eth.src == *ac =>
            {
                // §5.5: "When a PADT is received, no further PPP traffic is allowed to be
                // sent using that session."
                self.end("PADT received");
            }
            (
                Pppoe::Session {
                    session_id,
                    payload,
                },
                Stage::Session { ac, id },
            ) if *session_id == *id && frame.eth.src == *ac => {
                if let Some(l) = self.link.as_mut() {
                    l.handle_frame(now, payload);
                }
                self.drain(now, out);
            }
            _ => {}
        }
    }

    /// Sends one LCP Echo-Request through the session (false when LCP is not open).
    pub fn send_echo(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> bool {
        let sent = self.link.as_mut().is_some_and(Link::send_echo_request);
        self.drain(now, out);
        sent
    }

    /// Hangs up: a PADT to the access concentrator.
    pub fn hang_up(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Stage::Session { ac, id } = self.stage {
            out.extend(self.discovery_frame(ac, Code::PADT, id, Vec::new()));
        }
        self.stage = Stage::Done;
        self.link = None;
    }

    fn send_discovery(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        self.tries += 1;
        self.discovery_deadline = Some(now + self.discovery_wait);
        // §5.1: "The PADI packet MUST contain exactly one TAG of TAG_TYPE Service-Name";
        // Host-Uniq lets a host tell its answers apart.
        let mut tags = vec![
            Tag::ServiceName(Vec::new()),
            Tag::HostUniq(self.mac.0.to_vec()),
        ];
        let (dst, code) = match &self.stage {
            Stage::Requesting { ac, cookie } => {
                tags.push(Tag::AcCookie(cookie.clone()));
                (*ac, Code::PADR)
            }
            _ => (MacAddr::BROADCAST, Code::PADI),
        };
        out.extend(self.discovery_frame(dst, code, 0, tags));
    }

    fn discovery_frame(
        &self,
        dst: MacAddr,
        code: Code,
        id: u16,
        tags: Vec<Tag>,
    ) -> Option<Vec<u8>> {
        Frame {
            eth: EthHeader {
                dst,
                src: self.mac,
                vlans: self.vlans.clone(),
                ethertype: ETHERTYPE_DISCOVERY,
            },
            pppoe: Pppoe::Discovery(Discovery {
                code,
                session_id: id,
                tags,
            }),
        }
        .encode()
        .ok()
    }

    /// The link's frames into session frames; its events into our state.
    fn drain(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let Stage::Session { ac, id } = self.stage else {
            return;
        };
        let Some(link) = self.link.as_mut() else {
            return;
        };
        while let Some(ppp) = link.poll_transmit() {
            // §7: no Address and Control fields in PPPoE.
            let ppp = ppp.strip_prefix(&[0xff, 0x03]).unwrap_or(&ppp);
            let mut f = Vec::with_capacity(ppp.len() + 22);
            let eth = EthHeader {
                dst: ac,
                src: self.mac,
                vlans: self.vlans.clone(),
                ethertype: ETHERTYPE_SESSION,
            };
            if eth.encode(&mut f).is_ok()
                && pppoe::packet::session_header_into(id, ppp.len(), &mut f).is_ok()
            {
                f.extend_from_slice(ppp);
                out.push(f);
            }
        }
        let mut down = None;
        while let Some(e) = link.poll_event() {
            match e {
                Event::NetworkUp { ipv4 } => {
                    self.address = Some(ipv4.local);
                    self.up_at.get_or_insert(now);
                }
                Event::Down { reason } => down = Some(reason.to_string()),
                _ => {}
            }
        }
        if let Some(why) = down {
            self.end(&why);
        }
    }

    fn end(&mut self, why: &str) {
        if self.up_at.is_some() {
            self.lost = true;
        }
        self.fail(why);
    }

    fn fail(&mut self, why: &str) {
        self.failure.get_or_insert_with(|| why.to_string());
        self.stage = Stage::Done;
        self.link = None;
        self.discovery_deadline = None;
    }
}
