//! LCP option policy (RFC 1661 §6, RFC 1570) for both roles.
//!
//! What we ask for: MRU (when not 1500), Magic-Number, and — as authenticator — the
//! Authentication-Protocol in the configured preference order. What we accept from the peer:
//! MRU, ACCM (meaningless on L2TP: acknowledged and ignored, RFC 2661 §3.1/RFC 1662 §7.1),
//! Magic-Number (with loop detection), PFC, ACFC and, as authenticatee, an authentication
//! protocol we are willing to use. Everything else (Quality-Protocol, Callback, multilink
//! MRRU/SSNHF/Endpoint-Discriminator offered by l2tpns, …) is Configure-Rejected.

use rand::RngCore;

use crate::auth::AuthMethod;
use crate::fsm::Policy;
use crate::options::{self, RawOption, Reply, Verdict};

/// LCP option types (RFC 1661 §6, RFC 1570, RFC 1990).
pub mod opt {
    /// Maximum-Receive-Unit.
    pub const MRU: u8 = 1;
    /// Async-Control-Character-Map.
    pub const ACCM: u8 = 2;
    /// Authentication-Protocol.
    pub const AUTH: u8 = 3;
    /// Quality-Protocol.
    pub const QUALITY: u8 = 4;
    /// Magic-Number.
    pub const MAGIC: u8 = 5;
    /// Protocol-Field-Compression.
    pub const PFC: u8 = 7;
    /// Address-and-Control-Field-Compression.
    pub const ACFC: u8 = 8;
    /// Multilink MRRU (RFC 1990).
    pub const MRRU: u8 = 17;
    /// Multilink Endpoint Discriminator (RFC 1990).
    pub const ENDPOINT_DISCRIMINATOR: u8 = 19;
}

/// The PPP default MRU (RFC 1661 §6.1).
pub const DEFAULT_MRU: u16 = 1500;
/// Smallest MRU we agree to for the peer.
pub const MIN_MRU: u16 = 128;

/// Why LCP negotiation cannot succeed, noticed by the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LcpFailure {
    /// We require authentication and the peer refused every method we offer; or (client)
    /// the peer kept asking for a method we do not accept.
    AuthRefused,
    /// RFC 1661 §6.4: Magic-Number collisions kept happening; the link is looped back.
    LoopedBack,
}

/// Which side of authentication this end takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// The LNS: authenticator and address server.
    Server,
    /// The dialling client: authenticatee and address requester.
    Client,
}

/// LCP's [`Policy`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct LcpPolicy {
    role: Role,
    mru: u16,
    auth_prefs: Vec<AuthMethod>,
    max_failure: u32,
    // Our side.
    req_mru: Option<u16>,
    magic: u32,
    req_magic: bool,
    auth_idx: Option<usize>,
    acked: bool,
    // The peer's side (from its last Configure-Request).
    peer_mru: u16,
    peer_magic: Option<u32>,
    peer_auth: Option<AuthMethod>,
    peer_acfc: bool,
    peer_pfc: bool,
    collisions: u32,
    /// Client: Configure-Requests of the peer whose Authentication-Protocol we refused.
    auth_refusals: u32,
    /// Set when negotiation cannot succeed; the link closes with this.
    pub failure: Option<LcpFailure>,
}

impl LcpPolicy {
    /// A policy. `auth_prefs` is, for the server, the methods to require in preference order
    /// (empty: no authentication) and, for the client, the methods it accepts in preference
    /// order. `magic` is the first Magic-Number (drawn from the link's RNG).
    pub fn new(
        role: Role,
        mru: u16,
        auth_prefs: Vec<AuthMethod>,
        max_failure: u32,
        magic: u32,
    ) -> Self {
        let mut p = LcpPolicy {
            role,
            mru,
            auth_prefs,
            max_failure,
            req_mru: None,
            magic: magic.max(1),
            req_magic: true,
            auth_idx: None,
            acked: false,
            peer_mru: DEFAULT_MRU,
            peer_magic: None,
            peer_auth: None,
            peer_acfc: false,
            peer_pfc: false,
            collisions: 0,
            auth_refusals: 0,
            failure: None,
        };
        p.reset();
        p
    }

    /// Client: whether we refused (Nak or Reject) the Authentication-Protocol the peer asked
    /// for in its last Configure-Request.
    pub fn refused_peer_auth(&self) -> bool {
        self.auth_refusals > 0
    }

    /// Our Magic-Number once negotiated, else 0 (RFC 1661 §5.8: zero when not negotiated).
    pub fn our_magic(&self) -> u32 {
        if self.req_magic && self.acked {
            self.magic
        } else {
            0
        }
    }

    /// The peer's Magic-Number, if it negotiated one.
    pub fn peer_magic(&self) -> Option<u32> {
        self.peer_magic
    }

    /// The MRU the peer announced (what we may send), default 1500.
    pub fn peer_mru(&self) -> u16 {
        self.peer_mru
    }

    /// The MRU we negotiated for ourselves.
    pub fn our_mru(&self) -> u16 {
        self.req_mru.unwrap_or(DEFAULT_MRU)
    }

    /// Server: the authentication method the peer agreed to (None: no authentication).
    pub fn auth_we_require(&self) -> Option<AuthMethod> {
        self.auth_idx.and_then(|i| self.auth_prefs.get(i).copied())
    }

    /// Client: the authentication method the peer requires of us (None: none).
    pub fn auth_peer_requires(&self) -> Option<AuthMethod> {
        self.peer_auth
    }

    /// Whether the peer may send us frames without FF 03 / with 1-octet protocols (we accept
    /// both regardless, RFC 1661 §6.5–6.6).
    pub fn peer_compression(&self) -> (bool, bool) {
        (self.peer_acfc, self.peer_pfc)
    }

    /// Proxy LCP (RFC 2661 §4.4.5): takes the options of the Configure-Request a LAC sent
    /// and the peer acknowledged ("Last Sent LCP CONFREQ") as our own, acknowledged. Fails,
    /// changing nothing the next negotiation relies on, when an option is one we would not
    /// ask for (the caller then renegotiates LCP).
    pub fn adopt_sent(&mut self, opts: &[RawOption<'_>]) -> Result<(), &'static str> {
        let (mut mru, mut magic, mut auth) = (None, None, None);
        for o in opts {
            match o.kind {
                opt::MRU => match o.u16() {
                    Some(v) if v >= MIN_MRU => mru = Some(v),
                    _ => return Err("bad MRU"),
                },
                opt::MAGIC => match o.u32() {
                    Some(m) if m != 0 => magic = Some(m),
                    _ => return Err("bad Magic-Number"),
                },
                opt::AUTH => {
                    let m = AuthMethod::from_lcp_option(o.data)
                        .ok_or("an authentication protocol we do not support")?;
                    let i = self
                        .auth_prefs
                        .iter()
                        .position(|p| *p == m)
                        .ok_or("an authentication protocol we do not offer")?;
                    auth = Some(i);
                }
                // Options that change nothing we send (L2TP carries no HDLC framing; we
                // accept compressed frames regardless).
                opt::ACCM if o.data.len() == 4 => {}
                opt::PFC | opt::ACFC if o.data.is_empty() => {}
                _ => return Err("an option we do not negotiate"),
            }
        }
        if self.role == Role::Server && !self.auth_prefs.is_empty() && auth.is_none() {
            return Err("no authentication, which we require");
        }
        self.req_mru = mru;
        self.req_magic = magic.is_some();
        if let Some(m) = magic {
            self.magic = m;
        }
        self.auth_idx = auth;
        self.acked = true;
        Ok(())
    }

    fn new_magic(&mut self, rng: &mut dyn RngCore) {
        let old = self.magic;
        while self.magic == old || self.magic == 0 {
            self.magic = rng.next_u32();
        }
    }
}

impl Policy for LcpPolicy {
    fn reset(&mut self) {
        self.req_mru = (self.mru != DEFAULT_MRU).then_some(self.mru);
        self.req_magic = true;
        self.acked = false;
        self.auth_idx = match self.role {
            Role::Server if !self.auth_prefs.is_empty() => Some(0),
            _ => None,
        };
        self.collisions = 0;
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        if let Some(mru) = self.req_mru {
            options::push(&mut v, opt::MRU, &mru.to_be_bytes());
        }
        if let Some(m) = self.auth_we_require() {
            options::push(&mut v, opt::AUTH, m.lcp_option_data());
        }
        if self.req_magic {
            options::push(&mut v, opt::MAGIC, &self.magic.to_be_bytes());
        }
        v
    }

    fn check_request(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]) -> Verdict {
        self.peer_mru = DEFAULT_MRU;
        self.peer_magic = None;
        self.peer_auth = None;
        self.peer_acfc = false;
        self.peer_pfc = false;
        let mut r = Reply::default();
        for o in opts {
            match o.kind {
                // RFC 1661 §6.1.
                opt::MRU => match o.u16() {
                    Some(v) if v >= MIN_MRU => self.peer_mru = v,
                    Some(_) => r.nak(opt::MRU, &MIN_MRU.to_be_bytes()),
                    None => r.reject(o),
                },
                // RFC 1662 §7.1: ACCM only matters for async HDLC; L2TP carries no HDLC
                // framing, so any value is acknowledged and has no effect.
                opt::ACCM if o.data.len() == 4 => {}
                // RFC 1661 §6.2.
                opt::AUTH => match self.role {
                    Role::Client => match AuthMethod::from_lcp_option(o.data) {
                        Some(m) if self.auth_prefs.contains(&m) => {
                            self.peer_auth = Some(m);
                            self.auth_refusals = 0;
                        }
                        _ => {
                            // An authenticator that keeps asking for a method we do not
                            // accept (after Max-Failure Naks, RFC 1661 §4.6) will not agree:
                            // authentication is refused, not negotiated for ever.
                            self.auth_refusals += 1;
                            if self.auth_refusals > self.max_failure {
                                self.failure = Some(LcpFailure::AuthRefused);
                            }
                            match self.auth_prefs.first() {
                                Some(pref) => r.nak(opt::AUTH, pref.lcp_option_data()),
                                None => r.reject(o),
                            }
                        }
                    },
                    // We hold no credentials of our own to present.
                    Role::Server => r.reject(o),
                },
                // RFC 1661 §6.4.
                opt::MAGIC => match o.u32() {
                    Some(m) if m != 0 && !(self.req_magic && m == self.magic) => {
                        self.peer_magic = Some(m)
                    }
                    Some(m) => {
                        // Zero is invalid; equal to ours means possibly looped back: Nak with a
                        // different value and pick a new one of our own.
                        if m != 0 {
                            self.collisions += 1;
                            if self.collisions > self.max_failure {
                                self.failure = Some(LcpFailure::LoopedBack);
                            }
                            self.new_magic(rng);
                        }
                        let mut suggest = rng.next_u32();
                        while suggest == 0 || suggest == self.magic {
                            suggest = rng.next_u32();
                        }
                        r.nak(opt::MAGIC, &suggest.to_be_bytes());
                    }
                    None => r.reject(o),
                },
                // RFC 1661 §6.5–6.6.
                opt::PFC if o.data.is_empty() => self.peer_pfc = true,
                opt::ACFC if o.data.is_empty() => self.peer_acfc = true,
                _ => r.reject(o),
            }
        }
        r.verdict()
    }

    fn ack_received(&mut self) {
        self.acked = true;
    }

    fn nak_received(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]) {
        for o in opts {
            match o.kind {
                opt::MRU => match o.u16() {
                    Some(v) if (MIN_MRU..=DEFAULT_MRU).contains(&v) => self.req_mru = Some(v),
                    _ => self.req_mru = None,
                },
                // RFC 1661 §6.4: in either case choose a new Magic-Number.
                opt::MAGIC if self.req_magic => {
                    self.collisions += 1;
                    if self.collisions > self.max_failure {
                        self.failure = Some(LcpFailure::LoopedBack);
                    }
                    self.new_magic(rng);
                }
                opt::AUTH if self.auth_idx.is_some() => {
                    // The peer suggests a method; take it if we allow it, else try our next.
                    let suggested = AuthMethod::from_lcp_option(o.data)
                        .and_then(|m| self.auth_prefs.iter().position(|p| *p == m));
                    let next = match (suggested, self.auth_idx) {
                        (Some(i), Some(cur)) if i != cur => Some(i),
                        (_, Some(cur)) => Some(cur + 1),
                        _ => None,
                    };
                    match next.filter(|i| *i < self.auth_prefs.len()) {
                        Some(i) => self.auth_idx = Some(i),
                        None => self.failure = Some(LcpFailure::AuthRefused),
                    }
                }
                _ => {}
            }
        }
    }

    fn reject_received(&mut self, opts: &[RawOption<'_>]) {
        for o in opts {
            match o.kind {
                opt::MRU => self.req_mru = None,
                opt::MAGIC => self.req_magic = false,
                // RFC 1661 §6.2: an authenticator that requires authentication and has it
                // rejected must terminate the link.
                opt::AUTH if self.auth_idx.is_some() => {
                    self.failure = Some(LcpFailure::AuthRefused)
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    #[test]
    fn windows_style_request_acked_by_client_policy_rejects_multilink() {
        let mut p = LcpPolicy::new(Role::Server, 1460, vec![AuthMethod::MsChapV2], 5, 7);
        let mut rng = StepRng::new(3, 1);
        // MRU 1400, Magic, PFC, ACFC, plus l2tpns-style MRRU and Endpoint Discriminator.
        let req = [
            1, 4, 5, 0x78, 5, 6, 1, 2, 3, 4, 7, 2, 8, 2, 17, 4, 5, 0xd4, 19, 3, 0,
        ];
        let opts = options::decode(&req).unwrap();
        assert_eq!(
            p.check_request(&mut rng, &opts),
            Verdict::Reject(vec![17, 4, 5, 0xd4, 19, 3, 0])
        );
        let opts = options::decode(&req[..14]).unwrap();
        assert_eq!(p.check_request(&mut rng, &opts), Verdict::Ack);
        assert_eq!(p.peer_mru(), 1400);
        assert_eq!(p.peer_compression(), (true, true));
        assert_eq!(
            p.request(),
            [1, 4, 5, 0xb4, 3, 5, 0xc2, 0x23, 0x81, 5, 6, 0, 0, 0, 7]
        );
    }

    #[test]
    fn server_walks_auth_preferences_then_gives_up() {
        let prefs = vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap];
        let mut p = LcpPolicy::new(Role::Server, 1500, prefs, 5, 7);
        let mut rng = StepRng::new(3, 1);
        // Nak suggesting PAP: jump straight to it.
        p.nak_received(&mut rng, &options::decode(&[3, 4, 0xc0, 0x23]).unwrap());
        assert_eq!(p.auth_we_require(), Some(AuthMethod::Pap));
        // Nak suggesting EAP (unsupported) while at the last preference: refused.
        p.nak_received(&mut rng, &options::decode(&[3, 4, 0xc2, 0x27]).unwrap());
        assert_eq!(p.failure, Some(LcpFailure::AuthRefused));
    }

    #[test]
    fn client_naks_unwanted_auth_and_detects_loop() {
        let mut p = LcpPolicy::new(Role::Client, 1500, vec![AuthMethod::ChapMd5], 2, 7);
        let mut rng = StepRng::new(3, 1);
        let v = p.check_request(&mut rng, &options::decode(&[3, 4, 0xc0, 0x23]).unwrap());
        assert_eq!(v, Verdict::Nak(vec![3, 5, 0xc2, 0x23, 5]));
        // Our own magic coming back, repeatedly: looped back.
        for _ in 0..3 {
            let mine = p.magic.to_be_bytes();
            let req = [5, 6, mine[0], mine[1], mine[2], mine[3]];
            assert!(matches!(
                p.check_request(&mut rng, &options::decode(&req).unwrap()),
                Verdict::Nak(_)
            ));
        }
        assert_eq!(p.failure, Some(LcpFailure::LoopedBack));
    }
}
