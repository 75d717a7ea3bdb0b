//! The core's RADIUS view of its sessions (LNS with RADIUS): each session's NAS-Port and
//! Acct-Session-Id and the L2TP facts a RADIUS policy keys on (Calling/Called Number, tunnel
//! endpoints, the LAC's host name); what an Access-Accept authorized (address, DNS,
//! timeouts, interim interval, Class); accounting records (Start when IPCP or IPv6CP is up,
//! Interim-Update, Stop with the datapath's counters and a terminate cause) queued as
//! [`super::Output::Accounting`]; and dynamic authorization requests (RFC 5176 Disconnect
//! and CoA) matched against the sessions, answered with [`super::Output::DaeAnswer`] (a
//! retransmitted request gets its first answer again). The snapshot carries this state, and
//! for an upgrade the shell's RADIUS servers' failover state too.
//! The shell owns the RADIUS sockets; nothing here does I/O.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use l2tp_proto::data::{L2tpStats, SessionKey};
use l2tp_radius::acct::{AcctRecord, SessionEvent, TerminateCause, Usage};
use l2tp_radius::client::{Role, ServerCounters, ServerMark};
use l2tp_radius::dae::{DaeKind, DaeRequest, ErrorCause, SessionSelector};
use l2tp_radius::reply::{Authorization, FramedAddress};
use l2tp_radius::request::{SessionInfo, TunnelInfo};

use super::sessions::Session;
use super::shaper::Shaper;
use super::{Core, Iface, Output, RoleSettings};
use crate::addr::{IpCidr, Ipv4Cidr, Ipv6Cidr};

/// What the core needs to keep RADIUS session state.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RadiusSettings {
    /// Put in front of every Acct-Session-Id; different at each daemon start (the start
    /// time), so identifiers stay unique across restarts.
    pub session_id_prefix: String,
    /// Interim-Update interval when the Access-Accept names none (None: no interims).
    pub interim_interval: Option<Duration>,
}

/// RADIUS state of the node: settings, the next NAS-Port, calls waiting to come up.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RadiusState {
    settings: RadiusSettings,
    next_port: u32,
    /// Calling and Called Number of calls not yet up, by session.
    calls: HashMap<SessionKey, (Option<String>, Option<String>)>,
    /// Dynamic authorization requests answered lately, oldest first: a retransmission is
    /// answered the same without acting again.
    answered: VecDeque<Answered>,
    /// The RADIUS servers' failover state, handed from the shell to the snapshot (an
    /// upgrade) and back to the next process's shell; empty otherwise.
    servers: Vec<CarriedServer>,
}

/// [`ServerMark`] in the snapshot (times as offsets from the snapshot's).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CarriedServer {
    addr: SocketAddr,
    role: Role,
    #[serde(with = "l2tp_snap::opt_instant")]
    dead_until: Option<Instant>,
    #[serde(with = "l2tp_snap::opt_instant")]
    next_probe: Option<Instant>,
    counters: ServerCounters,
}

/// How long a dynamic authorization request's answer is kept for its retransmissions.
pub const DAE_DUPLICATE_WINDOW: Duration = Duration::from_secs(30);
/// At most this many answers are kept (the oldest go first).
const DAE_DUPLICATES_KEPT: usize = 1024;

/// A dynamic authorization request answered: its source, Identifier, Request Authenticator
/// and answer, kept until `until`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Answered {
    from: SocketAddr,
    id: u8,
    authenticator: [u8; 16],
    result: Result<(), ErrorCause>,
    #[serde(with = "l2tp_snap::instant")]
    until: Instant,
}

/// One session's RADIUS state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionAcct {
    /// How RADIUS names the session (User-Name set when it authenticates).
    pub info: SessionInfo,
    /// An Access-Accept authorized the session: it is accounted.
    pub accepted: bool,
    /// Class values to echo.
    pub class: Vec<Vec<u8>>,
    /// Interim-Update interval.
    pub interim: Option<Duration>,
    /// When the next Interim-Update is due.
    #[serde(with = "l2tp_snap::opt_instant")]
    pub next_interim: Option<Instant>,
    /// Start sent (a Stop follows).
    pub started: bool,
    /// Session-Timeout and Idle-Timeout from the server (override `[lns]`'s).
    pub session_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// Why the session ends, once known (the first reason wins).
    pub cause: Option<TerminateCause>,
    /// Prefixes routed to the session (Framed-Route, the Framed-IP-Netmask subnet,
    /// Framed-IPv6-Prefix, Delegated-IPv6-Prefix), claimed for it alone: what the latest
    /// authorization (Access-Accept or CoA) grants, once the address is leased.
    pub routes: Vec<IpCidr>,
    /// Of `routes`, the ones the shell was told to install, and where.
    pub installed: Vec<(Iface, IpCidr)>,
    /// Framed-Route prefixes granted.
    pub framed_routes: Vec<Ipv4Cidr>,
    /// Framed-IPv6-Prefix: the prefix advertised to the session (instead of one from
    /// `lns.ipv6_prefix`).
    pub ipv6_prefix: Option<Ipv6Cidr>,
    /// Delegated-IPv6-Prefix: routed to the session, offered to its DHCPv6 client.
    pub delegated: Option<Ipv6Cidr>,
    /// DNS-Server-IPv6-Address: offered to its DHCPv6 client.
    pub ipv6_dns: Vec<std::net::Ipv6Addr>,
    /// Framed-IP-Netmask (a subnet around the address, routed to the session).
    pub netmask: Option<Ipv4Addr>,
    /// Framed-MTU: the most the session's interface and advertisements may say.
    pub mtu: Option<u16>,
    /// The rate limit (Access-Accept or CoA), for a datapath that applies it outside the
    /// core (`tc` on the kernel's `pppN`).
    pub rate: Option<l2tp_radius::reply::RateLimit>,
}

impl SessionAcct {
    /// The IPv6 prefixes the server gave, for accounting records.
    fn ipv6_accounting(&self) -> l2tp_radius::acct::Ipv6Prefixes {
        let prefix = |c: &Ipv6Cidr| l2tp_radius::reply::Ipv6Prefix {
            addr: c.network(),
            len: c.len(),
        };
        l2tp_radius::acct::Ipv6Prefixes {
            framed: self.ipv6_prefix.as_ref().map(prefix),
            delegated: self.delegated.as_ref().map(prefix),
        }
    }

    /// Every prefix the granted attributes route to a session leased `addr`, once each.
    fn granted_routes(&self, addr: Option<Ipv4Addr>) -> Vec<IpCidr> {
        let mut want: Vec<IpCidr> = self.framed_routes.iter().map(|p| IpCidr::V4(*p)).collect();
        want.extend(
            self.netmask
                .zip(addr)
                .and_then(|(m, a)| netmask_subnet(a, m))
                .map(IpCidr::V4),
        );
        want.extend(self.ipv6_prefix.map(IpCidr::V6));
        want.extend(self.delegated.map(IpCidr::V6));
        let mut seen = std::collections::HashSet::new();
        want.retain(|p| seen.insert(*p));
        want
    }

    /// Records why the session ends, unless a reason is already known.
    pub fn ending(&mut self, cause: TerminateCause) {
        self.cause.get_or_insert(cause);
    }
}

fn text(b: &Option<Vec<u8>>) -> Option<String> {
    b.as_ref()
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A session's usage from the datapath's counters: input is what the user sent (received
/// here), output what we sent the user.
fn usage(stats: L2tpStats, since: Instant, now: Instant) -> Usage {
    Usage {
        input_octets: stats.rx_bytes,
        output_octets: stats.tx_bytes,
        input_packets: stats.rx_packets,
        output_packets: stats.tx_packets,
        session_time: now.saturating_duration_since(since),
    }
}

/// Where a session's IPv4 address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressFrom {
    /// The main pool (`lns.ipv4_pool`).
    Pool,
    /// A user's fixed address (users file).
    Fixed(Ipv4Addr),
    /// A RADIUS server's Framed-IP-Address: held by this session alone while it lives.
    Granted(Ipv4Addr),
    /// A named pool (Framed-Pool, `[[lns.pools]]`).
    Named(String),
}

impl AddressFrom {
    /// A users-file answer: the fixed address, or one from the pool.
    pub fn fixed(a: Option<Ipv4Addr>) -> AddressFrom {
        a.map_or(AddressFrom::Pool, AddressFrom::Fixed)
    }

    /// Leases the address.
    pub fn lease(
        &self,
        leases: &mut crate::leases::Ipv4Leases,
    ) -> Result<Ipv4Addr, crate::leases::LeaseError> {
        match self {
            AddressFrom::Pool => leases.lease(None),
            AddressFrom::Fixed(a) => leases.lease(Some(*a)),
            AddressFrom::Granted(a) => leases.lease_granted(*a),
            AddressFrom::Named(n) => leases.lease_named(n),
        }
    }
}

/// What an Access-Accept changes on the session before the link accepts: its DNS servers
/// and its RADIUS state. Returns where its address comes from.
pub(super) fn apply_authorization(
    sess: &mut Session,
    authz: &Authorization,
    now: Instant,
) -> AddressFrom {
    if let Some(limit) = authz.rate_limit {
        sess.limit_rate(Shaper::new(limit, now));
    }
    if authz.primary_dns.is_some() || authz.secondary_dns.is_some() {
        sess.link
            .set_peer_dns([authz.primary_dns, authz.secondary_dns]);
    }
    if let Some(r) = sess.radius.as_deref_mut() {
        r.accepted = true;
        r.class = authz.class.clone();
        if authz.interim_interval.is_some() {
            r.interim = authz.interim_interval;
        }
        r.session_timeout = authz.session_timeout.filter(|d| !d.is_zero());
        r.idle_timeout = authz.idle_timeout.filter(|d| !d.is_zero());
        // What is routed to the session changes when the routes are claimed (after the
        // address is leased): the ones no longer granted are withdrawn then.
        r.framed_routes = framed_routes(&authz.routes);
        // RFC 3162 §2.3 Framed-IPv6-Prefix: "an IPv6 prefix (and corresponding route) to
        // be configured for the user"; one a /64 or shorter can be advertised for SLAAC.
        r.ipv6_prefix = authz.ipv6_prefixes.iter().find_map(framed_ipv6_prefix);
        // RFC 4818 Delegated-IPv6-Prefix: routed to the session.
        r.delegated = authz.delegated_prefix.as_ref().and_then(cidr6);
        r.ipv6_dns = authz.ipv6_dns.clone();
        r.netmask = authz.netmask;
        r.mtu = authz.mtu;
        r.rate = authz.rate_limit;
    }
    match (authz.address, &authz.pool) {
        (Some(FramedAddress::Static(a)), _) => AddressFrom::Granted(a),
        // RFC 2869 §5.18 Framed-Pool: "the name of an assigned address pool that SHOULD be
        // used to assign an address for the user".
        (_, Some(name)) => AddressFrom::Named(name.clone()),
        // RFC 2865 §5.8: 0xFFFFFFFE "the NAS should select an address for the user".
        (Some(FramedAddress::FromPool | FramedAddress::UserSelects) | None, None) => {
            AddressFrom::Pool
        }
    }
}

/// The IPv4 prefixes of Framed-Route values (the others are ignored).
fn framed_routes(texts: &[String]) -> Vec<Ipv4Cidr> {
    texts.iter().filter_map(|t| framed_route(t)).collect()
}

fn cidr6(p: &l2tp_radius::reply::Ipv6Prefix) -> Option<Ipv6Cidr> {
    Ipv6Cidr::new(p.addr, p.len)
}

/// A Framed-IPv6-Prefix that can be advertised (a /64 or shorter, for SLAAC).
fn framed_ipv6_prefix(p: &l2tp_radius::reply::Ipv6Prefix) -> Option<Ipv6Cidr> {
    (p.len <= 64).then(|| cidr6(p)).flatten()
}

/// The prefix of a Framed-Route (RFC 2865 §5.22): "a destination prefix in dotted quad
/// form optionally followed by a slash and a decimal length specifier ... followed by a
/// space, a gateway address in dotted quad form, a space, and one or more metric numbers".
/// The prefix is routed to the session whatever the gateway (a route through the user);
/// without a length it is a host route. None: not an IPv4 prefix (the route is ignored).
pub(crate) fn framed_route(text: &str) -> Option<Ipv4Cidr> {
    let first = text.split_whitespace().next()?;
    let (addr, len) = match first.split_once('/') {
        Some((a, l)) => (a.parse::<Ipv4Addr>().ok()?, l.parse::<u8>().ok()?),
        None => (first.parse::<Ipv4Addr>().ok()?, 32),
    };
    let p = Ipv4Cidr::new(addr, len)?;
    // Not the default route, nor a prefix with host bits set (a typo, not a policy).
    (len > 0 && p.network() == addr).then_some(p)
}

/// The subnet Framed-IP-Netmask makes of the session's address (None for a /32 or a mask
/// that is not contiguous).
pub(crate) fn netmask_subnet(addr: Ipv4Addr, mask: Ipv4Addr) -> Option<Ipv4Cidr> {
    let m = u32::from(mask);
    let len = m.leading_ones() as u8;
    (m.count_ones() == u32::from(len) && (1..32).contains(&len))
        .then(|| Ipv4Cidr::new(addr, len))
        .flatten()
}

/// Acct-Terminate-Cause for a PPP link that went down (RFC 2866 §5.10).
pub(super) fn ppp_cause(reason: &ppp::DownReason) -> TerminateCause {
    use ppp::DownReason as D;
    match reason {
        D::PeerTerminated => TerminateCause::UserRequest,
        D::KeepaliveTimeout => TerminateCause::LostCarrier,
        D::LowerLayerDown => TerminateCause::LostCarrier,
        D::AdminClose(_) => TerminateCause::AdminReset,
        D::AuthFailed(_) | D::AuthRefused => TerminateCause::UserError,
        D::NegotiationFailed(_) | D::LoopedBack | D::NoNetworkProtocol | D::EstablishTimeout => {
            TerminateCause::ServiceUnavailable
        }
    }
}

/// Acct-Terminate-Cause for an L2TP session that went down.
pub(super) fn l2tp_cause(reason: &l2tp_proto::control::SessionDownReason) -> TerminateCause {
    use l2tp_proto::control::SessionDownReason as R;
    match reason {
        // The LAC hung up: its subscriber (or the LAC for it) ended the call.
        R::Peer { .. } => TerminateCause::UserRequest,
        R::TunnelDown => TerminateCause::LostService,
        R::Local(_) => TerminateCause::NasRequest,
        R::Protocol(_) | R::SetupTimeout => TerminateCause::NasError,
    }
}

/// Acct-Terminate-Cause for the sessions of a tunnel that went down.
pub(super) fn tunnel_cause(reason: &l2tp_proto::control::TunnelDownReason) -> TerminateCause {
    use l2tp_proto::control::TunnelDownReason as R;
    match reason {
        // The LAC stopped answering: its line to us is gone.
        R::RetriesExhausted => TerminateCause::LostCarrier,
        R::Local(_) => TerminateCause::NasRequest,
        _ => TerminateCause::LostService,
    }
}

impl Core {
    /// Keeps RADIUS session state from now on: NAS-Port and Acct-Session-Id per session,
    /// the session's facts in every [`super::AuthRequest`], accounting records as
    /// [`Output::Accounting`], dynamic authorization through [`super::Input::Dae`].
    pub fn enable_radius(&mut self, settings: RadiusSettings) {
        self.radius = Some(RadiusState {
            settings,
            next_port: 0,
            calls: HashMap::new(),
            answered: VecDeque::new(),
            servers: Vec::new(),
        });
    }

    /// After a restore (upgrade): keeps the snapshot's RADIUS state — its Acct-Session-Id
    /// prefix and next NAS-Port, so identifiers stay unique — taking only the interim
    /// interval from `settings`; without restored state, the same as [`Core::enable_radius`].
    pub fn resume_radius(&mut self, settings: RadiusSettings) {
        match self.radius.as_mut() {
            Some(r) => r.settings.interim_interval = settings.interim_interval,
            None => self.enable_radius(settings),
        }
    }

    /// The RADIUS servers' failover state (the shell's client's), to go with the next
    /// snapshot; an empty list clears it.
    pub fn carry_radius_servers(&mut self, marks: &[ServerMark]) {
        if let Some(r) = self.radius.as_mut() {
            r.servers = marks
                .iter()
                .map(|m| CarriedServer {
                    addr: m.addr,
                    role: m.role,
                    dead_until: m.dead_until,
                    next_probe: m.next_probe,
                    counters: m.counters,
                })
                .collect();
        }
    }

    /// The RADIUS servers' failover state a restored snapshot carried, for the shell's
    /// client (taken: the core keeps none).
    pub fn take_radius_servers(&mut self) -> Vec<ServerMark> {
        let Some(r) = self.radius.as_mut() else {
            return Vec::new();
        };
        std::mem::take(&mut r.servers)
            .into_iter()
            .map(|c| ServerMark {
                addr: c.addr,
                role: c.role,
                dead_until: c.dead_until,
                next_probe: c.next_probe,
                counters: c.counters,
            })
            .collect()
    }

    /// An incoming call's Calling and Called Number, kept until the call is up.
    pub(super) fn radius_call(&mut self, key: SessionKey, info: &l2tp_proto::control::CallInfo) {
        if let Some(r) = self.radius.as_mut() {
            r.calls
                .insert(key, (text(&info.calling_number), text(&info.called_number)));
        }
    }

    /// A call is up: its RADIUS state (a new NAS-Port, an Acct-Session-Id).
    pub(super) fn radius_session_up(&mut self, key: SessionKey) -> Option<Box<SessionAcct>> {
        let r = self.radius.as_mut()?;
        let (calling, called) = r.calls.remove(&key).unwrap_or_default();
        // NAS-Port: unique among the daemon's sessions (a counter, 1 first).
        r.next_port = r.next_port.wrapping_add(1).max(1);
        let port = r.next_port;
        let tunnel = self.endpoint.tunnel_info(key.tunnel).map(|t| TunnelInfo {
            client_endpoint: t.peer.ip(),
            server_endpoint: t.local.ip(),
            client_auth_id: (!t.peer_host_name.is_empty())
                .then(|| String::from_utf8_lossy(&t.peer_host_name).into_owned()),
        });
        Some(Box::new(SessionAcct {
            info: SessionInfo {
                user_name: String::new(),
                nas_port: port,
                acct_session_id: format!("{}{:08X}", r.settings.session_id_prefix, port),
                calling_station_id: calling,
                called_station_id: called,
                tunnel,
            },
            accepted: false,
            class: Vec::new(),
            interim: r.settings.interim_interval,
            next_interim: None,
            started: false,
            session_timeout: None,
            idle_timeout: None,
            cause: None,
            routes: Vec::new(),
            installed: Vec::new(),
            framed_routes: Vec::new(),
            ipv6_prefix: None,
            delegated: None,
            ipv6_dns: Vec::new(),
            netmask: None,
            mtu: None,
            rate: None,
        }))
    }

    /// The prefixes the server routes to a session that was leased `addr` (Framed-Route,
    /// the Framed-IP-Netmask subnet, Framed-IPv6-Prefix, Delegated-IPv6-Prefix), claimed
    /// for it alone. Err: one is routed to another session already (nothing changes then).
    pub(super) fn radius_claim_routes(
        &mut self,
        key: SessionKey,
        addr: Ipv4Addr,
    ) -> Result<(), IpCidr> {
        let Some(r) = self.sessions.get(&key).and_then(|s| s.radius.as_deref()) else {
            return Ok(());
        };
        let want = r.granted_routes(Some(addr));
        self.radius_set_routes(key, want)
    }

    /// Makes `want` the session's routes: the ones it no longer holds are released and
    /// withdrawn from the interface they were installed on, the new ones claimed and, when
    /// the session's network is up, installed. A route has one owner and outlives neither
    /// its grant nor its session. Err: one is held by another session (nothing changes).
    fn radius_set_routes(&mut self, key: SessionKey, want: Vec<IpCidr>) -> Result<(), IpCidr> {
        let Some(old) = self
            .sessions
            .get(&key)
            .and_then(|s| s.radius.as_deref())
            .map(|r| r.routes.clone())
        else {
            return Ok(());
        };
        let mut claimed = Vec::new();
        for p in want.iter().filter(|p| !old.contains(p)) {
            if self.sessions.claim_prefix(*p, key).is_err() {
                for c in claimed {
                    self.sessions.release_prefix(c, key);
                }
                return Err(*p);
            }
            claimed.push(*p);
        }
        for p in old.iter().filter(|p| !want.contains(p)) {
            self.sessions.release_prefix(*p, key);
        }
        let Some(r) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.radius.as_deref_mut())
        else {
            return Ok(());
        };
        let mut withdrawn = Vec::new();
        r.installed.retain(|(iface, route)| {
            let keep = want.contains(route);
            if !keep {
                withdrawn.push((iface.clone(), *route));
            }
            keep
        });
        r.routes = want;
        for (iface, route) in withdrawn {
            self.out.ip(super::IpOp::DelRoute { iface, route });
        }
        self.radius_install_routes(key);
        Ok(())
    }

    /// Installs the session's routes not yet installed whose network is up: the IPv4 ones
    /// once IPCP is, the IPv6 ones once the session's IPv6 is set up; on the session's own
    /// interface, or the shared one.
    pub(super) fn radius_install_routes(&mut self, key: SessionKey) {
        let shared = matches!(self.ip_mode, super::IpMode::Shared { .. })
            && matches!(self.role, RoleSettings::Lns(_));
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        let iface = match s.own_tun() {
            Some(n) => Iface::Name(n.to_string()),
            None if shared => Iface::Shared,
            None => return,
        };
        let (v4_up, v6_up) = (s.ipv4().is_some(), s.v6().is_some_and(|v| v.configured));
        let Some(r) = s.radius.as_deref_mut() else {
            return;
        };
        let mut add = Vec::new();
        for route in &r.routes {
            let up = match route {
                IpCidr::V4(_) => v4_up,
                IpCidr::V6(_) => v6_up,
            };
            if up && !r.installed.iter().any(|(_, p)| p == route) {
                add.push(*route);
            }
        }
        for route in add {
            r.installed.push((iface.clone(), route));
            self.out.ip(super::IpOp::AddRoute {
                iface: iface.clone(),
                route,
                // Held by this session alone (claimed): one there already is ours.
                exist_ok: true,
                mtu: None,
            });
        }
    }

    /// The session's own interface is new: what was installed on an earlier one went
    /// with it.
    pub(super) fn radius_interface_new(&mut self, key: SessionKey) {
        if let Some(r) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.radius.as_deref_mut())
        {
            r.installed.retain(|(i, _)| *i == Iface::Shared);
        }
    }

    /// What the session installed on the shared interface (its own interfaces take their
    /// routes with them when they close).
    pub(super) fn radius_shared_routes(s: &Session) -> Vec<IpCidr> {
        s.radius.as_deref().map_or_else(Vec::new, |r| {
            r.installed
                .iter()
                .filter(|(i, _)| *i == Iface::Shared)
                .map(|(_, p)| *p)
                .collect()
        })
    }

    /// The session's Framed-IPv6-Prefix, if the server sent one.
    pub(super) fn radius_ipv6_prefix(&self, key: SessionKey) -> Option<Ipv6Cidr> {
        self.sessions
            .get(&key)
            .and_then(|s| s.radius.as_deref())
            .and_then(|r| r.ipv6_prefix)
    }

    /// Kernel datapath (packets never reach the core's token buckets): the session's rate
    /// limit, if it has one and its own interface is up, goes to the shell for `tc`.
    pub(super) fn radius_rate_on_interface(&mut self, key: SessionKey) {
        if !self.frames_via_backend {
            return;
        }
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let (Some(limit), Some(ifname)) = (
            s.radius.as_deref().and_then(|r| r.rate),
            s.own_tun().map(str::to_string),
        ) else {
            return;
        };
        self.out.ip(super::IpOp::SetRate { ifname, limit });
    }

    /// The session's Framed-MTU, if the server sent one.
    pub(super) fn radius_mtu(&self, key: SessionKey) -> Option<u16> {
        self.sessions
            .get(&key)
            .and_then(|s| s.radius.as_deref())
            .and_then(|r| r.mtu)
    }

    /// The session as RADIUS sees it, for an Access-Request by `user`.
    pub(super) fn radius_session_info(
        &mut self,
        key: SessionKey,
        user: &str,
    ) -> Option<Box<SessionInfo>> {
        let r = self.sessions.get_mut(&key)?.radius.as_deref_mut()?;
        r.info.user_name = user.to_string();
        Some(Box::new(r.info.clone()))
    }

    /// IPCP or IPv6CP is up (the first of them): Accounting Start.
    pub(super) fn radius_network_up(&mut self, now: Instant, key: SessionKey) {
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        let framed_ip = s.ipv4().map(|p| p.peer);
        let Some(r) = s.radius.as_deref_mut().filter(|r| r.accepted && !r.started) else {
            return;
        };
        r.started = true;
        // The first Interim-Update comes up to a tenth of the interval late, so sessions
        // that came up together (after a LAC restart) do not report together forever.
        let interim = r.interim.filter(|d| !d.is_zero());
        let jitter = interim.map(|d| {
            let tenth = (d.as_millis() / 10).max(1) as u64;
            Duration::from_millis(rand::Rng::gen_range(&mut self.rng, 0..tenth))
        });
        r.next_interim = interim.map(|d| now + d + jitter.unwrap_or_default());
        let next = r.next_interim;
        let rec = AcctRecord::Session {
            session: r.info.clone(),
            framed_ip,
            ipv6: r.ipv6_accounting(),
            class: r.class.clone(),
            event: SessionEvent::Start,
        };
        self.out.push(Output::Accounting(Box::new(rec)));
        if let Some(t) = next {
            self.arm_interim(key, t);
        }
    }

    /// The session is being removed: Accounting Stop with its final counters.
    pub(super) fn radius_session_gone(&mut self, now: Instant, key: SessionKey, s: &Session) {
        if let Some(r) = self.radius.as_mut() {
            r.calls.remove(&key);
        }
        let Some(r) = s.radius.as_deref().filter(|r| r.started) else {
            return;
        };
        let stats = self
            .datapath
            .stats(key.tunnel, key.session)
            .unwrap_or_default();
        let cause = r.cause.unwrap_or(TerminateCause::LostService);
        let rec = AcctRecord::Session {
            session: r.info.clone(),
            framed_ip: s.ipv4().map(|p| p.peer).or(s.lease()),
            ipv6: r.ipv6_accounting(),
            class: r.class.clone(),
            event: SessionEvent::Stop(usage(stats, s.since, now), cause),
        };
        self.out.push(Output::Accounting(Box::new(rec)));
    }

    /// The Interim-Update of `key` armed for `due` (from the deadline heap): sent when it
    /// is still the one the session waits for. Returns when the next one is due.
    pub(super) fn radius_interim(
        &mut self,
        now: Instant,
        key: SessionKey,
        due: Instant,
    ) -> Option<Instant> {
        let s = self.sessions.get_mut(&key)?;
        let framed_ip = s.ipv4().map(|p| p.peer);
        let since = s.since;
        let r = s.radius.as_deref_mut()?;
        let every = r.interim?;
        if r.next_interim != Some(due) {
            return None; // re-armed since (a CoA): another entry holds it
        }
        let next = now + every;
        r.next_interim = Some(next);
        let stats = self
            .datapath
            .stats(key.tunnel, key.session)
            .unwrap_or_default();
        let rec = AcctRecord::Session {
            session: r.info.clone(),
            framed_ip,
            ipv6: r.ipv6_accounting(),
            class: r.class.clone(),
            event: SessionEvent::Interim(usage(stats, since, now)),
        };
        self.out.push(Output::Accounting(Box::new(rec)));
        Some(next)
    }

    /// Records why a session ends (no effect without RADIUS state).
    pub(super) fn radius_cause(&mut self, key: SessionKey, cause: TerminateCause) {
        if let Some(r) = self
            .sessions
            .get_mut(&key)
            .and_then(|s| s.radius.as_deref_mut())
        {
            r.ending(cause);
        }
    }

    /// The sessions a Disconnect or CoA names: every attribute given must match.
    fn dae_matches(&self, sel: &SessionSelector) -> Vec<SessionKey> {
        if sel.acct_session_id.is_none()
            && sel.user_name.is_none()
            && sel.framed_ip.is_none()
            && sel.nas_port.is_none()
        {
            return Vec::new();
        }
        self.sessions
            .iter()
            .filter(|(_, s)| {
                let Some(r) = s.radius.as_deref().filter(|r| r.accepted) else {
                    return false;
                };
                sel.acct_session_id
                    .as_ref()
                    .is_none_or(|id| *id == r.info.acct_session_id)
                    && sel
                        .user_name
                        .as_ref()
                        .is_none_or(|u| *u == r.info.user_name)
                    && sel.nas_port.is_none_or(|p| p == r.info.nas_port)
                    && sel
                        .framed_ip
                        .is_none_or(|ip| s.ipv4().map(|p| p.peer) == Some(ip))
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// A Disconnect-Request or CoA-Request (RFC 5176): acted on, answered with
    /// [`Output::DaeAnswer`].
    pub(super) fn dae_request(&mut self, now: Instant, request: Box<DaeRequest>) {
        // RFC 3576 §2.3: "The RADIUS client can detect a duplicate request if it has the
        // same server source IP address and source UDP port and Identifier within a short
        // span of time." A retransmission (its answer was lost) gets the first answer again
        // and is not acted on twice: a second Disconnect would find no session and NAK.
        let (from, id, authenticator) = request.duplicate_key();
        if let Some(r) = self.radius.as_mut() {
            while r.answered.front().is_some_and(|a| a.until <= now) {
                r.answered.pop_front();
            }
            if let Some(a) = r
                .answered
                .iter()
                .find(|a| a.from == from && a.id == id && a.authenticator == authenticator)
            {
                tracing::info!(node = %self.name, %from, id, "dynamic authorization request retransmitted: answered again");
                let result = a.result;
                self.out.push(Output::DaeAnswer { request, result });
                return;
            }
        }
        let keys = self.dae_matches(&request.selector);
        let result = if keys.is_empty() || !matches!(self.role, RoleSettings::Lns(_)) {
            // RFC 5176 §3.5: 503 "Session Context Not Found".
            Err(ErrorCause::SessionContextNotFound)
        } else {
            match request.kind {
                DaeKind::Disconnect => {
                    for key in &keys {
                        tracing::info!(node = %self.name, session = %key, "closing: Disconnect-Request");
                        if let Some(s) = self.sessions.get_mut(key) {
                            if let Some(r) = s.radius.as_deref_mut() {
                                // RFC 2866 §5.10: Admin-Reset, "administratively terminated".
                                r.ending(TerminateCause::AdminReset);
                            }
                            s.link.close(now, "disconnected by the RADIUS server");
                        }
                        self.dirty.push(*key);
                    }
                    Ok(())
                }
                DaeKind::Coa => self.coa(now, &keys, &request),
            }
        };
        if let Some(r) = self.radius.as_mut() {
            // The same Identifier and source with another authenticator is a new request
            // (RFC 3576 §2.3: the Identifier changes with the attributes): it replaces the
            // old answer.
            r.answered.retain(|a| !(a.from == from && a.id == id));
            if r.answered.len() >= DAE_DUPLICATES_KEPT {
                r.answered.pop_front();
            }
            r.answered.push_back(Answered {
                from,
                id,
                authenticator,
                result,
                until: now + DAE_DUPLICATE_WINDOW,
            });
        }
        self.out.push(Output::DaeAnswer { request, result });
    }

    fn coa(
        &mut self,
        now: Instant,
        keys: &[SessionKey],
        request: &DaeRequest,
    ) -> Result<(), ErrorCause> {
        let c = &request.changes;
        if !c.filter_ids.is_empty() {
            // No filters in the datapath: refused rather than acknowledged and ignored.
            return Err(ErrorCause::UnsupportedAttribute);
        }
        for key in keys {
            self.coa_routes(*key, c)?;
            let Some(r) = self
                .sessions
                .get_mut(key)
                .and_then(|s| s.radius.as_deref_mut())
            else {
                continue;
            };
            if let Some(t) = c.session_timeout {
                r.session_timeout = Some(t).filter(|d| !d.is_zero());
            }
            if let Some(t) = c.idle_timeout {
                r.idle_timeout = Some(t).filter(|d| !d.is_zero());
            }
            if let Some(i) = c.interim_interval {
                r.interim = Some(i).filter(|d| !d.is_zero());
                r.next_interim = r.interim.filter(|_| r.started).map(|d| now + d);
            }
            let next_interim = r.next_interim.filter(|_| c.interim_interval.is_some());
            if let Some(t) = next_interim {
                self.arm_interim(*key, t);
            }
            if c.session_timeout.is_some() || c.idle_timeout.is_some() {
                self.arm_timeouts(*key);
            }
            if let Some(limit) = c.rate_limit {
                if let Some(s) = self.sessions.get_mut(key) {
                    s.limit_rate(Shaper::new(limit, now));
                    if let Some(r) = s.radius.as_deref_mut() {
                        r.rate = Some(limit);
                    }
                }
                self.radius_rate_on_interface(*key);
            }
            tracing::info!(node = %self.name, session = %key, "CoA applied");
        }
        Ok(())
    }

    /// A CoA's Framed-Route, Framed-IPv6-Prefix and Delegated-IPv6-Prefix replace the
    /// session's: the routes no longer granted are withdrawn, the new ones installed.
    /// Err: a new one is routed to another session (nothing changes then).
    fn coa_routes(
        &mut self,
        key: SessionKey,
        c: &l2tp_radius::dae::CoaChanges,
    ) -> Result<(), ErrorCause> {
        let Some(c) = c.routes.as_deref() else {
            return Ok(());
        };
        let Some(s) = self.sessions.get_mut(&key) else {
            return Ok(());
        };
        let lease = s.lease();
        let Some(r) = s.radius.as_deref_mut() else {
            return Ok(());
        };
        let bad = ErrorCause::InvalidAttributeValue;
        let ipv6_prefix = match &c.ipv6_prefix {
            Some(p) => Some(framed_ipv6_prefix(p).ok_or(bad)?),
            None => r.ipv6_prefix,
        };
        let delegated = match &c.delegated_prefix {
            Some(p) => Some(cidr6(p).ok_or(bad)?),
            None => r.delegated,
        };
        let before = (r.framed_routes.clone(), r.ipv6_prefix, r.delegated);
        if let Some(t) = &c.framed {
            r.framed_routes = framed_routes(t);
        }
        (r.ipv6_prefix, r.delegated) = (ipv6_prefix, delegated);
        let advertise = r.ipv6_prefix != before.1;
        let want = r.granted_routes(lease);
        if let Err(p) = self.radius_set_routes(key, want) {
            if let Some(r) = self
                .sessions
                .get_mut(&key)
                .and_then(|s| s.radius.as_deref_mut())
            {
                (r.framed_routes, r.ipv6_prefix, r.delegated) = before;
            }
            tracing::warn!(node = %self.name, session = %key, "CoA refused: {p} is routed to another session");
            // RFC 5176 §3.5: 506 "Resources Unavailable".
            return Err(ErrorCause::ResourcesUnavailable);
        }
        if advertise {
            // The session hears of its new prefix at once.
            self.send_router_advertisement(key);
        }
        Ok(())
    }
}
