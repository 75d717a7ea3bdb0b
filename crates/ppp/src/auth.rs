//! Authentication phase (RFC 1661 §3.5): PAP (RFC 1334), CHAP-MD5 (RFC 1994) and MS-CHAPv2
//! (RFC 2759), in both roles.
//!
//! [`Authenticator`] is the server side: it challenges (or waits for PAP), reports the peer's
//! credentials as an [`Event::AuthRequest`] and applies the daemon's [`AuthDecision`].
//! [`Authenticatee`] is the client side. Both queue [`AuthOutput`]s that the link drains.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::chap::{self, ValueName};
use crate::error::DecodeError;
use crate::event::Event;
use crate::frame::Protocol;
use crate::mschapv2 as ms;
use crate::packet::{self, Code, Packet};
use crate::pap;

/// An authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AuthMethod {
    /// PAP (RFC 1334): cleartext password.
    Pap,
    /// CHAP with MD5 (RFC 1994).
    ChapMd5,
    /// MS-CHAPv2 (RFC 2759): what Windows clients use.
    MsChapV2,
}

impl AuthMethod {
    /// The Authentication-Protocol option data (RFC 1661 §6.2, RFC 1994 §3, RFC 2759 §2).
    pub fn lcp_option_data(self) -> &'static [u8] {
        match self {
            AuthMethod::Pap => &[0xc0, 0x23],
            AuthMethod::ChapMd5 => &[0xc2, 0x23, 0x05],
            AuthMethod::MsChapV2 => &[0xc2, 0x23, 0x81],
        }
    }

    /// Parse Authentication-Protocol option data; None for methods we do not implement
    /// (MS-CHAPv1, EAP, …).
    pub fn from_lcp_option(data: &[u8]) -> Option<Self> {
        match data {
            [0xc0, 0x23, ..] => Some(AuthMethod::Pap),
            [0xc2, 0x23, 0x05] => Some(AuthMethod::ChapMd5),
            [0xc2, 0x23, 0x81] => Some(AuthMethod::MsChapV2),
            _ => None,
        }
    }

    /// The PPP protocol carrying this method.
    pub fn protocol(self) -> Protocol {
        match self {
            AuthMethod::Pap => Protocol::PAP,
            _ => Protocol::CHAP,
        }
    }
}

/// What the peer presented, for a backend that verifies itself (RADIUS).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Credentials {
    /// PAP password (cleartext).
    Pap {
        /// Password as sent.
        password: Vec<u8>,
    },
    /// CHAP-MD5 (RFC 1994): the backend checks MD5(id | secret | challenge) == response.
    ChapMd5 {
        /// Identifier of the exchange.
        id: u8,
        /// Our challenge.
        challenge: Vec<u8>,
        /// The peer's response.
        response: [u8; 16],
    },
    /// MS-CHAPv2 (RFC 2759 §4).
    MsChapV2 {
        /// Our 16-octet challenge.
        authenticator_challenge: [u8; 16],
        /// The peer's challenge.
        peer_challenge: [u8; 16],
        /// The peer's NT-Response.
        nt_response: [u8; 24],
    },
}

impl std::fmt::Debug for Credentials {
    // Never print secrets in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Pap { .. } => f.write_str("Pap { password: <redacted> }"),
            Credentials::ChapMd5 { id, .. } => write!(f, "ChapMd5 {{ id: {id}, .. }}"),
            Credentials::MsChapV2 { .. } => f.write_str("MsChapV2 { .. }"),
        }
    }
}

/// Names one [`Event::AuthRequest`]; a decision must quote it, so an answer that arrives after
/// the link renegotiated (and challenged again) cannot approve the newer credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AuthTicket(pub u64);

/// The daemon's answer to an [`Event::AuthRequest`].
#[derive(Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// The user's password (from a local secrets file): the link verifies the credentials
    /// itself (PAP compare, CHAP-MD5 hash, MS-CHAPv2 NT-Response) and, for MS-CHAPv2, builds
    /// the authenticator response.
    Password(String),
    /// The backend verified the credentials (PAP/CHAP-MD5). For MS-CHAPv2 prefer
    /// [`AuthDecision::AcceptMsChapV2`]: a Success without `S=` is refused by clients.
    Accept,
    /// The backend verified MS-CHAPv2 and supplies the authenticator response (RADIUS
    /// MS-CHAP2-Success, RFC 2548 §2.3.3).
    AcceptMsChapV2 {
        /// The 20 octets behind "S=".
        authenticator_response: [u8; 20],
    },
    /// Unknown user or bad credentials.
    Reject,
    /// Refused, with the backend's words for the peer (a RADIUS Access-Reject): the text of
    /// the PAP Authenticate-Nak or CHAP Failure message. For MS-CHAPv2 it is the whole
    /// failure text, "E=eeeeeeeeee R=r C=cccc… V=vvvvvvvvvv M=<msg>" (RFC 2759 §6, as the
    /// server sent it in MS-CHAP-Error); a text without "E=" is sent as the "M=" part of
    /// our own E=691 failure.
    RejectWith(String),
}

impl std::fmt::Debug for AuthDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthDecision::Password(_) => f.write_str("Password(<redacted>)"),
            AuthDecision::Accept => f.write_str("Accept"),
            AuthDecision::AcceptMsChapV2 { .. } => f.write_str("AcceptMsChapV2"),
            AuthDecision::Reject => f.write_str("Reject"),
            AuthDecision::RejectWith(m) => write!(f, "RejectWith({m:?})"),
        }
    }
}

/// What an authentication state machine asks the link to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum AuthOutput {
    /// Send this control packet on this protocol.
    Send(Protocol, Vec<u8>),
    /// Hand this event to the daemon.
    Event(Event),
    /// Authentication succeeded (first time only; re-challenges report nothing).
    Success { user: String, method: AuthMethod },
    /// Authentication failed: the link must go down.
    Failure(String),
}

/// Timer settings shared by both roles.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct AuthTiming {
    /// Retransmission interval (the LCP Restart timer).
    pub restart: Duration,
    /// Transmissions before giving up (Max-Configure).
    pub max_transmits: u32,
    /// Overall time to wait for the peer to start (PAP request / first challenge).
    pub timeout: Duration,
}

/// MS-CHAPv2 retries an authenticator allows after a Failure with "R=1" (RFC 2759 §9.1.5:
/// "Failed hack attack with 3 attempts allowed").
pub(crate) const MSCHAPV2_RETRIES: u32 = 2;

/// Whether `id` lies in the wrapping range `first..=last` of Identifiers.
fn in_range(id: u8, (first, last): (u8, u8)) -> bool {
    id.wrapping_sub(first) <= last.wrapping_sub(first)
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SrvState {
    WaitPap,
    Challenged {
        /// Identifier of the first transmission of this challenge value.
        first_id: u8,
        /// Identifier of the latest transmission.
        id: u8,
        challenge: [u8; 16],
        left: u32,
        /// An MS-CHAPv2 retry: the challenge came in our Failure (RFC 2759 §6).
        retry: bool,
    },
    Deciding {
        id: u8,
        /// Identifiers (first, last) under which the challenge was sent.
        ids: (u8, u8),
        user: String,
        /// Boxed: the state outlives the decision by the session's lifetime (`Done`), and
        /// the credentials are the largest variant.
        creds: Box<Credentials>,
        ticket: AuthTicket,
    },
    Done {
        ids: (u8, u8),
        reply: Vec<u8>,
    },
    Failed,
}

/// Server side: challenges the peer and verifies through the daemon's decision.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Authenticator {
    method: AuthMethod,
    name: String,
    t: AuthTiming,
    rechallenge: Option<Duration>,
    state: SrvState,
    next_id: u8,
    #[serde(with = "l2tp_snap::opt_instant")]
    deadline: Option<Instant>,
    succeeded: bool,
    epoch: u64,
    asked: u64,
    /// MS-CHAPv2 retries still allowed.
    retries: u32,
    pub(crate) out: VecDeque<AuthOutput>,
}

impl Authenticator {
    /// Start authenticating with `method` (negotiated by LCP).
    pub(crate) fn start(
        now: Instant,
        rng: &mut dyn RngCore,
        method: AuthMethod,
        name: &str,
        t: AuthTiming,
        rechallenge: Option<Duration>,
        epoch: u64,
    ) -> Self {
        let mut a = Authenticator {
            method,
            name: name.to_string(),
            t,
            rechallenge: rechallenge.filter(|_| method != AuthMethod::Pap),
            state: SrvState::WaitPap,
            next_id: (rng.next_u32() & 0xff) as u8,
            deadline: Some(now + t.timeout),
            succeeded: false,
            epoch,
            asked: 0,
            retries: MSCHAPV2_RETRIES,
            out: VecDeque::new(),
        };
        if method != AuthMethod::Pap {
            let mut challenge = [0u8; 16];
            rng.fill_bytes(&mut challenge);
            a.challenge(now, challenge, t.max_transmits.saturating_sub(1), None);
        }
        a
    }

    /// Authentication another system (a LAC) already performed with the peer: the
    /// credentials it captured are put to the daemon at once, and the decision is answered
    /// to the peer under the exchange's Identifier `id`, as if we had asked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn proxied(
        rng: &mut dyn RngCore,
        method: AuthMethod,
        name: &str,
        t: AuthTiming,
        rechallenge: Option<Duration>,
        epoch: u64,
        id: u8,
        user: String,
        credentials: Credentials,
    ) -> Self {
        let mut a = Authenticator {
            method,
            name: name.to_string(),
            t,
            rechallenge: rechallenge.filter(|_| method != AuthMethod::Pap),
            state: SrvState::WaitPap,
            next_id: id.wrapping_add(1 + (rng.next_u32() & 0x7f) as u8),
            deadline: None,
            succeeded: false,
            epoch,
            asked: 0,
            retries: MSCHAPV2_RETRIES,
            out: VecDeque::new(),
        };
        a.ask(id, (id, id), user, credentials);
        a
    }

    /// When a timer of this machine fires.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// An MS-CHAPv2 Failure allowed a retry that the peer has not made yet: a peer that
    /// leaves now has failed to authenticate.
    pub(crate) fn awaiting_retry(&self) -> bool {
        matches!(self.state, SrvState::Challenged { retry: true, .. })
    }

    /// Send `challenge`; `first_id` is set when this retransmits an earlier one.
    fn challenge(&mut self, now: Instant, challenge: [u8; 16], left: u32, first_id: Option<u8>) {
        // RFC 1994 §4.1: the Identifier changes with every Challenge sent.
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let first_id = first_id.unwrap_or(id);
        let body = ValueName::encode(&challenge, self.name.as_bytes());
        let pkt = packet::encode(Code(chap::code::CHALLENGE), id, &body);
        self.out.push_back(AuthOutput::Send(Protocol::CHAP, pkt));
        self.state = SrvState::Challenged {
            first_id,
            id,
            challenge,
            left,
            retry: false,
        };
        self.deadline = Some(now + self.t.restart);
    }

    fn fail(&mut self, why: &str) {
        self.state = SrvState::Failed;
        self.deadline = None;
        self.out.push_back(AuthOutput::Failure(why.to_string()));
    }

    /// Restart-timer / rechallenge-timer expiry.
    pub(crate) fn timeout(&mut self, now: Instant, rng: &mut dyn RngCore) {
        match self.deadline {
            Some(d) if d <= now => self.deadline = None,
            _ => return,
        }
        match &self.state {
            SrvState::WaitPap => self.fail("no PAP Authenticate-Request"),
            SrvState::Challenged {
                first_id,
                challenge,
                left,
                retry,
                ..
            } => {
                if *retry {
                    self.fail("no new MS-CHAPv2 Response after a failure allowing a retry");
                } else if *left == 0 {
                    self.fail("no response to CHAP challenge");
                } else {
                    let (c, l, f) = (*challenge, left - 1, *first_id);
                    self.challenge(now, c, l, Some(f));
                }
            }
            // RFC 1994 §2: periodic re-challenge with a fresh value.
            SrvState::Done { .. } if self.rechallenge.is_some() => {
                let mut challenge = [0u8; 16];
                rng.fill_bytes(&mut challenge);
                self.challenge(now, challenge, self.t.max_transmits.saturating_sub(1), None);
            }
            _ => {}
        }
    }

    /// A PAP or CHAP packet from the peer.
    pub(crate) fn handle(&mut self, proto: Protocol, pkt: Packet<'_>) -> Result<(), DecodeError> {
        if proto != self.method.protocol() {
            return Ok(());
        }
        match self.method {
            AuthMethod::Pap => {
                if pkt.code.0 != pap::code::REQUEST {
                    return Ok(());
                }
                let req = pap::Request::decode(pkt.data)?;
                match &self.state {
                    SrvState::WaitPap => {
                        let user = String::from_utf8_lossy(req.peer_id).into_owned();
                        let creds = Credentials::Pap {
                            password: req.password.to_vec(),
                        };
                        self.ask(pkt.id, (pkt.id, pkt.id), user, creds);
                    }
                    // RFC 1334 §2.2.1: a retransmitted request gets the same answer.
                    SrvState::Done { reply, .. } => {
                        let mut r = reply.clone();
                        if let Some(b) = r.get_mut(1) {
                            *b = pkt.id;
                        }
                        self.out.push_back(AuthOutput::Send(Protocol::PAP, r));
                    }
                    _ => {}
                }
            }
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => {
                if pkt.code.0 != chap::code::RESPONSE {
                    return Ok(());
                }
                let vn = ValueName::decode(pkt.data)?;
                match &self.state {
                    // A Response to any transmission of the current challenge value counts:
                    // retransmissions change the Identifier (RFC 1994 §4.1) and a late Response
                    // to an earlier one is still valid (MD5 binds the Identifier it carries).
                    SrvState::Challenged {
                        first_id,
                        id,
                        challenge,
                        ..
                    } if in_range(pkt.id, (*first_id, *id)) => {
                        let user = String::from_utf8_lossy(vn.name).into_owned();
                        let creds = match self.method {
                            AuthMethod::MsChapV2 => {
                                // RFC 2759 §4: Peer-Challenge 16, Reserved 8, NT-Response 24, Flags.
                                let v = vn.value;
                                if v.len() != ms::RESPONSE_LEN {
                                    return Err(DecodeError::Malformed("MS-CHAPv2 Response"));
                                }
                                let mut pc = [0u8; 16];
                                pc.copy_from_slice(&v[..16]);
                                let mut nt = [0u8; 24];
                                nt.copy_from_slice(&v[24..48]);
                                Credentials::MsChapV2 {
                                    authenticator_challenge: *challenge,
                                    peer_challenge: pc,
                                    nt_response: nt,
                                }
                            }
                            _ => {
                                let response: [u8; 16] = vn
                                    .value
                                    .try_into()
                                    .map_err(|_| DecodeError::Malformed("CHAP-MD5 Response"))?;
                                Credentials::ChapMd5 {
                                    id: pkt.id,
                                    challenge: challenge.to_vec(),
                                    response,
                                }
                            }
                        };
                        let ids = (*first_id, *id);
                        self.ask(pkt.id, ids, user, creds);
                    }
                    // RFC 1994 §4.2: a Response for an answered challenge gets the same reply
                    // (under the Identifier of that Response).
                    SrvState::Done { ids, reply } if in_range(pkt.id, *ids) => {
                        let mut r = reply.clone();
                        if let Some(b) = r.get_mut(1) {
                            *b = pkt.id;
                        }
                        self.out.push_back(AuthOutput::Send(Protocol::CHAP, r));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn ask(&mut self, id: u8, ids: (u8, u8), user: String, creds: Credentials) {
        self.deadline = None;
        self.asked += 1;
        let ticket = AuthTicket((self.epoch << 32) | (self.asked & 0xffff_ffff));
        self.out.push_back(AuthOutput::Event(Event::AuthRequest {
            ticket,
            method: self.method,
            user: user.clone(),
            credentials: creds.clone(),
        }));
        self.state = SrvState::Deciding {
            id,
            ids,
            user,
            creds: Box::new(creds),
            ticket,
        };
    }

    /// Apply the daemon's decision. Returns false if `ticket` is not the pending request.
    pub(crate) fn decide(&mut self, now: Instant, ticket: AuthTicket, d: AuthDecision) -> bool {
        if !matches!(&self.state, SrvState::Deciding { ticket: t, .. } if *t == ticket) {
            return false;
        }
        let SrvState::Deciding {
            id,
            ids,
            user,
            creds,
            ..
        } = std::mem::replace(&mut self.state, SrvState::Failed)
        else {
            return false;
        };
        // Some(message) on success.
        let ok: Option<String> = match (&d, &*creds) {
            (AuthDecision::Reject | AuthDecision::RejectWith(_), _) => None,
            (AuthDecision::Accept, Credentials::MsChapV2 { .. }) => Some("M=Access granted".into()),
            (AuthDecision::Accept, _) => Some("Access granted".into()),
            (
                AuthDecision::AcceptMsChapV2 {
                    authenticator_response,
                },
                _,
            ) => Some(format!(
                "{} M=Access granted",
                ms::format_authenticator_response(authenticator_response)
            )),
            (AuthDecision::Password(pw), Credentials::Pap { password }) => {
                ms::ct_eq(pw.as_bytes(), password).then(|| "Access granted".into())
            }
            (
                AuthDecision::Password(pw),
                Credentials::ChapMd5 {
                    id,
                    challenge,
                    response,
                },
            ) => ms::ct_eq(&chap::md5_response(*id, pw.as_bytes(), challenge), response)
                .then(|| "Access granted".into()),
            (
                AuthDecision::Password(pw),
                Credentials::MsChapV2 {
                    authenticator_challenge: ac,
                    peer_challenge: pc,
                    nt_response: nt,
                },
            ) => {
                let expect = ms::generate_nt_response(ac, pc, &user, pw);
                ms::ct_eq(&expect, nt).then(|| {
                    let ar = ms::generate_authenticator_response(pw, nt, pc, ac, &user);
                    format!(
                        "{} M=Access granted",
                        ms::format_authenticator_response(&ar)
                    )
                })
            }
        };
        let proto = self.method.protocol();
        match ok {
            Some(msg) => {
                let reply = match self.method {
                    AuthMethod::Pap => packet::encode(
                        Code(pap::code::ACK),
                        id,
                        &pap::encode_message(msg.as_bytes()),
                    ),
                    _ => packet::encode(Code(chap::code::SUCCESS), id, msg.as_bytes()),
                };
                self.out.push_back(AuthOutput::Send(proto, reply.clone()));
                self.state = SrvState::Done { ids, reply };
                if !self.succeeded {
                    self.succeeded = true;
                    self.out.push_back(AuthOutput::Success {
                        user,
                        method: self.method,
                    });
                }
                self.deadline = self.rechallenge.map(|r| now + r);
            }
            None => {
                let mut retry = None;
                let given = match &d {
                    AuthDecision::RejectWith(m) if !m.is_empty() => Some(m.as_str()),
                    _ => None,
                };
                let text = given.unwrap_or("Authentication failed");
                let reply = match (&self.method, &*creds) {
                    (AuthMethod::Pap, _) => packet::encode(
                        Code(pap::code::NAK),
                        id,
                        &pap::encode_message(text.as_bytes()),
                    ),
                    (
                        _,
                        Credentials::MsChapV2 {
                            authenticator_challenge,
                            ..
                        },
                    ) => {
                        // RFC 2759 §6: the Failure packet's message is "E=… R=… C=… V=…
                        // M=…"; a server's complete text is passed on as it is, but for the
                        // retry flag: "R=1" only while we allow another attempt.
                        let msg = match given {
                            Some(m) if m.starts_with("E=") => m.to_string(),
                            Some(m) => ms::failure_message_with(authenticator_challenge, m),
                            None => ms::failure_message(authenticator_challenge),
                        };
                        retry = (self.retries > 0)
                            .then(|| ms::retry_challenge(&msg))
                            .flatten();
                        let msg = match retry {
                            Some(_) => msg,
                            None => ms::without_retry(&msg),
                        };
                        packet::encode(Code(chap::code::FAILURE), id, msg.as_bytes())
                    }
                    _ => packet::encode(Code(chap::code::FAILURE), id, text.as_bytes()),
                };
                self.out.push_back(AuthOutput::Send(proto, reply));
                match retry {
                    // RFC 2759 §9.1.4: "Response (++ID) to challenge in failure message";
                    // §6: "it disables short timeouts, expecting the peer to prompt the user
                    // for new credentials and resubmit the response".
                    Some(challenge) => {
                        self.retries -= 1;
                        let next = id.wrapping_add(1);
                        self.next_id = next.wrapping_add(1);
                        self.state = SrvState::Challenged {
                            first_id: next,
                            id: next,
                            challenge,
                            left: 0,
                            retry: true,
                        };
                        self.deadline = Some(now + self.t.timeout);
                    }
                    None => self.fail(&format!("credentials rejected for {user:?}")),
                }
            }
        }
        true
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum CliState {
    PapSent {
        id: u8,
        left: u32,
    },
    WaitChallenge,
    Responded {
        /// Identifiers (first, last) of the challenges with this value we answered.
        ids: (u8, u8),
        challenge: Vec<u8>,
        /// MS-CHAPv2: our Peer-Challenge for this challenge value.
        peer_challenge: [u8; 16],
        packet: Vec<u8>,
        left: u32,
        expect: Option<[u8; 20]>,
    },
    Done,
    Failed,
}

/// Client side: answers challenges / sends PAP with our credentials.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Authenticatee {
    method: AuthMethod,
    user: String,
    password: String,
    /// Tried once when an MS-CHAPv2 Failure allows a retry.
    retry_password: Option<String>,
    t: AuthTiming,
    state: CliState,
    next_id: u8,
    #[serde(with = "l2tp_snap::opt_instant")]
    deadline: Option<Instant>,
    succeeded: bool,
    pub(crate) out: VecDeque<AuthOutput>,
}

impl Authenticatee {
    /// Start authenticating ourselves with `method` (the peer's LCP request).
    pub(crate) fn start(
        now: Instant,
        rng: &mut dyn RngCore,
        method: AuthMethod,
        user: &str,
        password: &str,
        retry_password: Option<&str>,
        t: AuthTiming,
    ) -> Self {
        let mut a = Authenticatee {
            method,
            user: user.to_string(),
            password: password.to_string(),
            retry_password: retry_password.map(str::to_string),
            t,
            state: CliState::WaitChallenge,
            next_id: (rng.next_u32() & 0xff) as u8,
            deadline: Some(now + t.timeout),
            succeeded: false,
            out: VecDeque::new(),
        };
        if method == AuthMethod::Pap {
            a.send_pap(now, t.max_transmits.saturating_sub(1));
        }
        a
    }

    /// When a timer of this machine fires.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn send_pap(&mut self, now: Instant, left: u32) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let body = pap::Request::encode(self.user.as_bytes(), self.password.as_bytes());
        let pkt = packet::encode(Code(pap::code::REQUEST), id, &body);
        self.out.push_back(AuthOutput::Send(Protocol::PAP, pkt));
        self.state = CliState::PapSent { id, left };
        self.deadline = Some(now + self.t.restart);
    }

    fn fail(&mut self, why: String) {
        self.state = CliState::Failed;
        self.deadline = None;
        self.out.push_back(AuthOutput::Failure(why));
    }

    fn succeed(&mut self) {
        self.state = CliState::Done;
        self.deadline = None;
        if !self.succeeded {
            self.succeeded = true;
            self.out.push_back(AuthOutput::Success {
                user: self.user.clone(),
                method: self.method,
            });
        }
    }

    /// The authenticator started an NCP, which it does only after accepting us (RFC 1661
    /// §3.5): treat our lost PAP Ack / CHAP Success as received. Not for MS-CHAPv2, whose
    /// Success carries the authenticator response we must verify. Returns true if applied.
    pub(crate) fn implicit_success(&mut self) -> bool {
        let waiting = matches!(
            self.state,
            CliState::PapSent { .. } | CliState::Responded { .. }
        );
        if waiting && self.method != AuthMethod::MsChapV2 && !self.succeeded {
            self.succeed();
            true
        } else {
            false
        }
    }

    /// Timer expiry: retransmit or give up.
    pub(crate) fn timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(d) if d <= now => self.deadline = None,
            _ => return,
        }
        match &mut self.state {
            CliState::PapSent { left, .. } if *left > 0 => {
                let l = *left - 1;
                self.send_pap(now, l);
            }
            CliState::PapSent { .. } => self.fail("no reply to PAP request".into()),
            CliState::WaitChallenge => self.fail("no CHAP challenge received".into()),
            // Our Response (or the peer's Success) was lost: resend; the authenticator answers
            // a repeated Response with its earlier reply (RFC 1994 §4.2).
            CliState::Responded { packet, left, .. } if *left > 0 => {
                *left -= 1;
                let p = packet.clone();
                self.out.push_back(AuthOutput::Send(Protocol::CHAP, p));
                self.deadline = Some(now + self.t.restart);
            }
            CliState::Responded { .. } => self.fail("no reply to CHAP response".into()),
            CliState::Done | CliState::Failed => {}
        }
    }

    /// Answers `challenge` under Identifier `id` (`first`: the first Identifier this
    /// value came under), with Peer-Challenge `pc` (MS-CHAPv2).
    fn respond(
        &mut self,
        now: Instant,
        id: u8,
        first: u8,
        pc: [u8; 16],
        left: u32,
        challenge: &[u8],
    ) -> Result<(), DecodeError> {
        let (answer, expect) = match self.method {
            AuthMethod::MsChapV2 => {
                let ac: [u8; 16] = challenge
                    .try_into()
                    .map_err(|_| DecodeError::Malformed("MS-CHAPv2 Challenge"))?;
                let nt = ms::generate_nt_response(&ac, &pc, &self.user, &self.password);
                let ar =
                    ms::generate_authenticator_response(&self.password, &nt, &pc, &ac, &self.user);
                let mut v = Vec::with_capacity(ms::RESPONSE_LEN);
                v.extend_from_slice(&pc);
                v.extend_from_slice(&[0u8; 8]);
                v.extend_from_slice(&nt);
                v.push(0);
                (v, Some(ar))
            }
            _ => (
                chap::md5_response(id, self.password.as_bytes(), challenge).to_vec(),
                None,
            ),
        };
        let body = ValueName::encode(&answer, self.user.as_bytes());
        let packet = packet::encode(Code(chap::code::RESPONSE), id, &body);
        self.out
            .push_back(AuthOutput::Send(Protocol::CHAP, packet.clone()));
        self.state = CliState::Responded {
            ids: (first, id),
            challenge: challenge.to_vec(),
            peer_challenge: pc,
            packet,
            left,
            expect,
        };
        self.deadline = Some(now + self.t.restart);
        Ok(())
    }

    /// A PAP or CHAP packet from the peer.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        rng: &mut dyn RngCore,
        proto: Protocol,
        pkt: Packet<'_>,
    ) -> Result<(), DecodeError> {
        if proto != self.method.protocol() || matches!(self.state, CliState::Failed) {
            return Ok(());
        }
        if self.method == AuthMethod::Pap {
            let CliState::PapSent { id, .. } = self.state else {
                return Ok(());
            };
            if pkt.id != id {
                return Ok(());
            }
            match pkt.code.0 {
                pap::code::ACK => self.succeed(),
                pap::code::NAK => {
                    let msg = pkt.data.get(1..).unwrap_or_default();
                    self.fail(format!("PAP Nak: {}", String::from_utf8_lossy(msg)));
                }
                _ => {}
            }
            return Ok(());
        }
        match pkt.code.0 {
            chap::code::CHALLENGE => {
                let vn = ValueName::decode(pkt.data)?;
                // The same challenge value again (a retransmission, under a new Identifier per
                // RFC 1994 §4.1): answer consistently, so that whichever of our Responses the
                // authenticator accepts, its Success matches what we expect.
                let mut first = pkt.id;
                let mut pc = [0u8; 16];
                let mut left = self.t.max_transmits.saturating_sub(1);
                match &self.state {
                    CliState::Responded {
                        ids,
                        challenge,
                        packet,
                        ..
                    } if challenge == vn.value && ids.1 == pkt.id => {
                        let p = packet.clone();
                        self.out.push_back(AuthOutput::Send(Protocol::CHAP, p));
                        return Ok(());
                    }
                    CliState::Responded {
                        ids,
                        challenge,
                        peer_challenge,
                        left: l,
                        ..
                    } if challenge == vn.value => {
                        first = ids.0;
                        pc = *peer_challenge;
                        left = *l;
                    }
                    _ => rng.fill_bytes(&mut pc),
                }
                self.respond(now, pkt.id, first, pc, left, vn.value)?;
            }
            chap::code::SUCCESS => {
                let CliState::Responded { ids, expect, .. } = &self.state else {
                    return Ok(());
                };
                if !in_range(pkt.id, *ids) {
                    return Ok(());
                }
                match expect {
                    // RFC 2759 §5: the peer MUST verify the authenticator response and end
                    // the session if it is missing or wrong.
                    Some(e) => match ms::parse_success_message(pkt.data) {
                        Some(got) if ms::ct_eq(&got, e) => self.succeed(),
                        _ => self.fail("MS-CHAPv2 authenticator response missing or wrong".into()),
                    },
                    None => self.succeed(),
                }
            }
            chap::code::FAILURE => {
                if let CliState::Responded { ids, .. } = self.state {
                    if in_range(pkt.id, ids) {
                        let msg = String::from_utf8_lossy(pkt.data).into_owned();
                        // RFC 2759 §9.1.4: a Failure allowing a retry is answered with a
                        // new Response (++ID) to the challenge it carries, when we have
                        // another password to try.
                        let retry = (self.method == AuthMethod::MsChapV2)
                            .then(|| ms::retry_challenge(&msg))
                            .flatten();
                        match (retry, self.retry_password.take()) {
                            (Some(challenge), Some(pw)) => {
                                self.password = pw;
                                let mut pc = [0u8; 16];
                                rng.fill_bytes(&mut pc);
                                let id = pkt.id.wrapping_add(1);
                                let left = self.t.max_transmits.saturating_sub(1);
                                self.respond(now, id, id, pc, left, &challenge)?;
                            }
                            _ => self.fail(format!("CHAP Failure: {msg}")),
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
