//! Authentication: the link asks (PPP's `AuthRequest`), a backend decides, the decision goes
//! back to the link, quoting the request's ticket. A backend answers at once (local users)
//! or later (RADIUS): then the core emits [`super::Output::Auth`] and the answer comes back
//! as [`super::Input::AuthDecision`], possibly after the session is gone (ignored then).

use std::net::Ipv4Addr;

use l2tp_proto::data::SessionKey;
use ppp::auth::AuthTicket;
use ppp::AuthMethod;

use crate::users::Users;

/// What a backend is asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthRequest {
    /// What the peer presented (PAP password, CHAP challenge and response), for a backend
    /// that verifies itself (RADIUS); its `Debug` never shows secrets.
    pub credentials: ppp::Credentials,
    /// The session whose link asks.
    pub key: SessionKey,
    /// Quote it in the answer.
    pub ticket: AuthTicket,
    /// The user name as the peer sent it (MS-CHAPv2 names may carry `DOMAIN\`).
    pub user: String,
    /// Which protocol carried the credentials.
    pub method: AuthMethod,
    /// The session as RADIUS sees it (port, Acct-Session-Id, numbers, tunnel), when the
    /// core keeps RADIUS session state ([`super::Core::enable_radius`]).
    pub radius: Option<Box<l2tp_radius::request::SessionInfo>>,
}

/// A backend's answer.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthAnswer {
    /// Known user: the link checks the credentials against this password; `ipv4` is the
    /// user's fixed address, if any (else one from the pool).
    Password {
        /// The user's password.
        password: String,
        /// A fixed address.
        ipv4: Option<Ipv4Addr>,
    },
    /// The backend verified the credentials itself (RADIUS).
    Accept {
        /// What the link needs to finish (`Accept` or `AcceptMsChapV2`).
        decision: ppp::AuthDecision,
        /// A fixed address.
        ipv4: Option<Ipv4Addr>,
    },
    /// A RADIUS Access-Accept: the decision for the link and what the server authorized
    /// (address, DNS, timeouts, interim interval, Class, rate limit).
    Radius {
        /// `Accept`, or `AcceptMsChapV2` with the server's MS-CHAP2-Success.
        decision: ppp::AuthDecision,
        /// The reply's authorization.
        authz: Box<l2tp_radius::reply::Authorization>,
    },
    /// Unknown user or bad credentials.
    Reject,
    /// Refused with the backend's words for the client (a RADIUS server's MS-CHAP-Error or
    /// Reply-Message), passed on in the PAP Nak or CHAP Failure.
    RejectWith(String),
}

impl std::fmt::Debug for AuthAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthAnswer::Password { ipv4, .. } => write!(f, "Password(<redacted>, {ipv4:?})"),
            AuthAnswer::Accept { decision, ipv4 } => write!(f, "Accept({decision:?}, {ipv4:?})"),
            AuthAnswer::Radius { decision, authz } => {
                write!(f, "Radius({decision:?}, {:?})", authz.address)
            }
            AuthAnswer::Reject => f.write_str("Reject"),
            AuthAnswer::RejectWith(m) => write!(f, "RejectWith({m:?})"),
        }
    }
}

/// Where authentication decisions come from.
pub trait AuthBackend: Send {
    /// `Some(answer)` now, or `None`: the answer arrives later as
    /// [`super::Input::AuthDecision`] (the core emits [`super::Output::Auth`]).
    fn authenticate(&mut self, req: &AuthRequest) -> Option<AuthAnswer>;
    /// New local users (SIGHUP); backends without a local table ignore them.
    fn replace_users(&mut self, _users: Users) {}
}

/// The users file and `[[lns.users]]`: answers at once.
#[derive(Debug, Default)]
pub struct LocalUsers(pub Users);

impl AuthBackend for LocalUsers {
    fn authenticate(&mut self, req: &AuthRequest) -> Option<AuthAnswer> {
        // MS-CHAPv2 names may arrive as DOMAIN\user.
        let name = req.user.rsplit('\\').next().unwrap_or(&req.user);
        Some(match self.0.get(name) {
            None => AuthAnswer::Reject,
            Some(u) => AuthAnswer::Password {
                password: u.password.clone(),
                ipv4: u.ipv4,
            },
        })
    }

    fn replace_users(&mut self, users: Users) {
        self.0 = users;
    }
}

/// A backend that never answers at once: every request becomes an [`super::Output::Auth`]
/// for someone outside the core to answer (a RADIUS client, a test).
#[derive(Debug, Default)]
pub struct Deferred;

impl AuthBackend for Deferred {
    fn authenticate(&mut self, _req: &AuthRequest) -> Option<AuthAnswer> {
        None
    }
}

impl super::Core {
    /// LNS: a link asks whether `user` may log in.
    pub(super) fn authenticate(
        &mut self,
        now: std::time::Instant,
        key: SessionKey,
        ticket: AuthTicket,
        user: String,
        method: AuthMethod,
        credentials: ppp::Credentials,
    ) {
        if !matches!(self.role, super::RoleSettings::Lns(_)) {
            return;
        }
        let radius = self.radius_session_info(key, &user);
        let req = AuthRequest {
            credentials,
            key,
            ticket,
            user,
            method,
            radius,
        };
        match self.auth.authenticate(&req) {
            Some(answer) => self.auth_decided(now, key, ticket, answer),
            None => {
                if let Some(s) = self.sessions.get_mut(&key) {
                    // A link asks again only after LCP renegotiated, with IPCP down.
                    if let Some(p) = s.await_auth(req.clone()) {
                        self.sessions.unroute_v4(p.peer);
                    }
                }
                self.out.push(super::Output::Auth(req))
            }
        }
    }

    /// Whether an asynchronous answer is for the request the session is waiting on: a PPP
    /// ticket restarts with every link, so a late answer for an earlier session whose ids
    /// were reused, or for a request the link has since replaced, is not taken.
    pub(super) fn auth_answer_is_current(&self, request: &AuthRequest) -> bool {
        let current = self
            .sessions
            .get(&request.key)
            .and_then(|s| s.pending_auth())
            .is_some_and(|p| p == request);
        if !current {
            tracing::debug!(node = %self.name, session = %request.key, "authentication answer for no pending request: ignored");
        }
        current
    }

    /// LNS: the backend answered: an address for the session, then the decision to its link.
    /// An answer for a session that is gone is ignored.
    pub(super) fn auth_decided(
        &mut self,
        now: std::time::Instant,
        key: SessionKey,
        ticket: AuthTicket,
        answer: AuthAnswer,
    ) {
        let super::RoleSettings::Lns(lns) = &mut self.role else {
            return;
        };
        let Some(sess) = self.sessions.get_mut(&key) else {
            return;
        };
        let radius = matches!(answer, AuthAnswer::Radius { .. });
        // Where the session's address comes from (None: it gets none, it is refused).
        let (decision, fixed) = match answer {
            AuthAnswer::Reject | AuthAnswer::RejectWith(_) => {
                sess.take_pending_auth();
                if let Some(suppressed) = self.log_limit.allow(now, "authentication refused") {
                    tracing::warn!(node = %self.name, session = %key, suppressed, "authentication failed: unknown user or refused");
                }
                match answer {
                    AuthAnswer::RejectWith(m) => (ppp::AuthDecision::RejectWith(m), None),
                    _ => (ppp::AuthDecision::Reject, None),
                }
            }
            AuthAnswer::Password { password, ipv4 } => (
                ppp::AuthDecision::Password(password),
                Some(super::radius::AddressFrom::fixed(ipv4)),
            ),
            AuthAnswer::Accept { decision, ipv4 } => {
                (decision, Some(super::radius::AddressFrom::fixed(ipv4)))
            }
            AuthAnswer::Radius { decision, authz } => {
                // Admitted first: the authorization's rate limits are held there.
                sess.admit();
                let from = super::radius::apply_authorization(sess, &authz, now);
                (decision, Some(from))
            }
        };
        if let Some(fixed) = fixed {
            let admitted = sess.admit();
            let addr = match admitted.lease {
                Some(a) => Ok(a),
                None => fixed
                    .lease(&mut lns.pool)
                    .inspect(|a| admitted.lease = Some(*a)),
            };
            let refused = match addr {
                Ok(a) => {
                    sess.link.set_peer_ipv4(a);
                    // Prefixes routed to the session: one session each, like addresses.
                    match self.radius_claim_routes(key, a) {
                        Ok(()) => None,
                        Err(p) => Some(format!("route {p} is routed to another session")),
                    }
                }
                Err(e) => {
                    let why = match e {
                        crate::leases::LeaseError::Pool(_) => "address pool exhausted",
                        crate::leases::LeaseError::UnknownPool(_) => "no such address pool",
                        _ => "the user's fixed address is in use by another session",
                    };
                    Some(format!("{why} ({e})"))
                }
            };
            if let Some(why) = refused {
                // RFC 2661 §4.4.2: CDN Result Code 4, "temporary lack of resources";
                // the client sees why in the CDN's message, not as a bad password. The
                // address, if one was leased, is given back when the session is removed.
                if let Some(suppressed) = self.log_limit.allow(now, "no address") {
                    tracing::warn!(node = %self.name, session = %key, suppressed, "no address for the session: {why}");
                }
                self.counters.sessions_refused += 1;
                let short = why.split(" (").next().unwrap_or(&why).to_string();
                let _ = self.endpoint.close_session(
                    now,
                    key.tunnel,
                    key.session,
                    l2tp_wire::result::ResultCode::with_error(
                        l2tp_wire::result::ResultCode::CDN_NO_FACILITIES_TEMPORARY,
                        l2tp_wire::result::ResultCode::ERROR_NO_RESOURCES,
                        Some(&short),
                    ),
                );
                return;
            }
        }
        let Some(sess) = self.sessions.get_mut(&key) else {
            return;
        };
        if let Err(e) = sess.link.auth_decision(now, ticket, decision) {
            if let Some(suppressed) = self.log_limit.allow(now, "auth decision") {
                tracing::warn!(node = %self.name, session = %key, suppressed, "auth decision: {e}");
            }
        }
        // A RADIUS server's Session-Timeout and Idle-Timeout.
        if radius {
            self.arm_timeouts(key);
        }
        self.dirty.push(key);
    }
}
