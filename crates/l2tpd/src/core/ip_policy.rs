//! IP on the sessions, decided here and carried out by the shell: per-session interfaces or
//! routes on the shared one, IPv6 link-local addresses, the LNS's prefix per session and its
//! Router Advertisements, the client's addresses and routes from the advertisements it
//! hears, and `dial.default_route`. Every change is an [`IpOp`] in the output queue.

use std::net::Ipv6Addr;
use std::time::Instant;

use l2tp_proto::data::SessionKey;
use l2tp_wire::result::ResultCode;

use super::events::link_local;
use super::output::host_route;
use super::session::{Interface, Session};
use super::{Core, Iface, IpMode, IpOp, RoleSettings};
use crate::addr::{IpCidr, Ipv6Cidr};
use crate::ip::ra;

impl Core {
    /// Connects a session whose IPCP came up to its interface (per-session or shared).
    pub(super) fn attach_ip(&mut self, key: SessionKey, ipv4: ppp::Ipv4Params) {
        match self.ip_mode.clone() {
            IpMode::App => {}
            IpMode::PerSession { name, mtu, routes } => {
                if let Some(a) = self.sessions.get_mut(&key).and_then(|s| s.admitted_mut()) {
                    a.interface.get_or_insert(Interface::Opening);
                }
                // What a RADIUS server routed to the session goes on once it is up.
                // Framed-MTU caps the session's interface.
                let mtu = self.radius_mtu(key).map_or(mtu, |m| mtu.min(u32::from(m)));
                self.out.ip(IpOp::OpenSessionTun {
                    key,
                    name,
                    mtu,
                    ipv4,
                    routes,
                });
            }
            IpMode::Shared { name, .. } => {
                if let Some(a) = self.sessions.get_mut(&key).and_then(|s| s.admitted_mut()) {
                    a.interface = Some(Interface::Shared(name));
                }
                if matches!(self.role, RoleSettings::Lns(_)) {
                    // Framed-MTU: the session's host route carries it (the shared
                    // interface's MTU is every session's).
                    let mtu = self.radius_mtu(key).map(u32::from);
                    self.out.ip(IpOp::AddRoute {
                        iface: Iface::Shared,
                        route: host_route(ipv4.peer),
                        exist_ok: false,
                        mtu,
                    });
                    // What a RADIUS server routed to the session (Framed-Route,
                    // Framed-IP-Netmask).
                    self.radius_install_routes(key);
                }
            }
        }
    }

    /// The session's own interface is up: the default route (client), then IPv6.
    pub(super) fn interface_up(&mut self, key: SessionKey, ifname: String) {
        let Some(s) = self.sessions.get_mut(&key) else {
            // The session ended while its interface was being opened.
            self.out.ip(IpOp::CloseSessionTun { key });
            return;
        };
        s.admit().interface = Some(Interface::Own(ifname.clone()));
        self.maybe_default_route(key, &ifname);
        // What a RADIUS server routed to the session, on its new interface.
        self.radius_interface_new(key);
        self.radius_install_routes(key);
        // Kernel datapath: the session's rate limit goes on its interface.
        self.radius_rate_on_interface(key);
        // IPv6CP may have finished before IPCP created the interface.
        self.setup_ipv6(key);
    }

    /// The session's own interface could not be set up: the session closes.
    pub(super) fn interface_failed(&mut self, now: Instant, key: SessionKey, error: &str) {
        tracing::error!(node = %self.name, session = %key, "cannot set up the interface: {error}");
        let _ = self.endpoint.close_session(
            now,
            key.tunnel,
            key.session,
            ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_NO_RESOURCES,
                Some("no interface"),
            ),
        );
    }

    /// The own interfaces of `keys` (sessions of a tunnel going down) removed in one batch
    /// when there are several.
    pub(super) fn remove_interfaces(&mut self, keys: &[SessionKey]) {
        let own: Vec<SessionKey> = keys
            .iter()
            .copied()
            .filter(|k| self.sessions.get(k).is_some_and(|s| s.own_tun().is_some()))
            .collect();
        if own.len() >= 2 {
            self.out.ip(IpOp::RemoveInterfaces { keys: own });
        }
    }

    /// What a session that ended held: its route on the shared interface, its own
    /// interface, its addresses in the pools.
    pub(super) fn release_ip(&mut self, key: SessionKey, s: &Session) {
        let lns = matches!(self.role, RoleSettings::Lns(_));
        if let Some(p) = s.ipv4() {
            if lns && matches!(self.ip_mode, IpMode::Shared { .. }) {
                self.out.ip(IpOp::DelRoute {
                    iface: Iface::Shared,
                    route: host_route(p.peer),
                });
            }
        }
        if lns && matches!(self.ip_mode, IpMode::Shared { .. }) {
            // The session's route from the IPv6 pool (its own /64, or its address).
            if let Some(v) = s.v6().filter(|v| v.configured) {
                let route = v.lease.and_then(|l| match l.delegated {
                    Some(d) => Some(IpCidr::V6(d)),
                    None => v.global.and_then(|g| Ipv6Cidr::new(g, 128)).map(IpCidr::V6),
                });
                if let Some(route) = route {
                    self.out.ip(IpOp::DelRoute {
                        iface: Iface::Shared,
                        route,
                    });
                }
            }
            // What a RADIUS server routed to the session, as installed.
            for route in Self::radius_shared_routes(s) {
                self.out.ip(IpOp::DelRoute {
                    iface: Iface::Shared,
                    route,
                });
            }
        }
        if matches!(s.interface(), Some(Interface::Own(_) | Interface::Opening)) {
            // Closing the TUN removes its addresses and routes with it (also one still
            // being opened: the shell closes what it has for the session).
            self.out.ip(IpOp::CloseSessionTun { key });
            if self.default_route_session == Some(key) {
                self.default_route_session = None;
            }
        }
        if let RoleSettings::Lns(lns) = &mut self.role {
            if let Some(a) = s.lease() {
                lns.pool.release(a);
            }
            if let (Some(lease), Some(p)) = (s.v6().and_then(|v| v.lease), lns.ipv6_pool.as_mut()) {
                let _ = p.free(&lease);
            }
        }
    }

    /// IPv6 on a session once IPv6CP is up and (per-session mode) its interface exists: the
    /// link-local address; on the LNS the session's prefix lease, routes and a Router
    /// Advertisement; on the client, an advertisement that arrived early. Idempotent.
    pub(super) fn setup_ipv6(&mut self, key: SessionKey) {
        let per_session_tun = matches!(self.ip_mode, IpMode::PerSession { .. });
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let Some(v6) = s.v6() else {
            return;
        };
        let (local_iid, peer_iid) = v6.iids;
        let ifname = s.own_tun().map(str::to_string);
        if v6.configured || (per_session_tun && ifname.is_none()) {
            return;
        }
        if let Some(ifname) = &ifname {
            self.out.ip(IpOp::AddLinkLocal {
                ifname: ifname.clone(),
                addr: link_local(local_iid),
            });
        }
        if let Some(v6) = self.sessions.get_mut(&key).and_then(|s| s.v6_mut()) {
            v6.configured = true;
        }
        // The IPv6 prefixes a RADIUS server routes to the session (claimed for it at
        // authentication); its Framed-IPv6-Prefix is advertised instead of one from the pool.
        self.radius_install_routes(key);
        let framed = self.radius_ipv6_prefix(key);
        match &mut self.role {
            RoleSettings::Lns(lns) => {
                let Some(pool) = lns.ipv6_pool.as_mut() else {
                    return;
                };
                let lease = match framed {
                    Some(_) => None,
                    None => match pool.allocate() {
                        Ok(l) => Some(l),
                        Err(e) => {
                            tracing::warn!(node = %self.name, session = %key, "no IPv6 prefix: {e}");
                            return;
                        }
                    },
                };
                let pool_prefix = pool.prefix();
                let server = pool.server_address();
                let prefix = match (framed, lease) {
                    (Some(p), _) => p.network(),
                    (None, Some(l)) => l
                        .delegated
                        .map(|d| d.network())
                        .unwrap_or(pool_prefix.network()),
                    (None, None) => return,
                };
                let peer_global = ra::with_iid(prefix, peer_iid);
                // The pool's route to the session (RADIUS prefixes are installed above).
                let pool_route = lease.map(|l| match l.delegated {
                    Some(d) => (IpCidr::V6(d), u128::from(d.network())),
                    None => (
                        IpCidr::V6(Ipv6Cidr::new(peer_global, 128).expect("/128")),
                        u128::from(peer_global),
                    ),
                });
                if let Some(v6) = self.sessions.get_mut(&key).and_then(|s| s.v6_mut()) {
                    v6.lease = lease;
                    v6.global = Some(peer_global);
                }
                let shared = matches!(self.ip_mode, IpMode::Shared { .. });
                let iface = match (&ifname, shared) {
                    (Some(n), _) => Some(Iface::Name(n.clone())),
                    (None, true) => Some(Iface::Shared),
                    (None, false) => None,
                };
                if let Some(iface) = iface {
                    if ifname.is_some() {
                        // Our own address on each session's link, so the client can reach us.
                        self.out.ip(IpOp::AddAddress {
                            iface: iface.clone(),
                            addr: server.into(),
                            prefix_len: 128,
                            exist_ok: false,
                        });
                    }
                    for route in pool_route.iter().map(|r| r.0) {
                        self.out.ip(IpOp::AddRoute {
                            iface: iface.clone(),
                            route,
                            exist_ok: false,
                            mtu: None,
                        });
                    }
                }
                if let (true, Some((_, route_key))) = (shared, pool_route) {
                    self.sessions.route_v6(route_key, key);
                }
                tracing::info!(node = %self.name, session = %key, prefix = %prefix, peer = %peer_global, "IPv6 prefix assigned");
                self.send_router_advertisement(key);
            }
            RoleSettings::Client(_) => {
                let pending = self
                    .sessions
                    .get_mut(&key)
                    .and_then(|s| s.v6_mut())
                    .and_then(|v| v.pending_ra.take());
                if let Some(l) = pending {
                    self.apply_router_advertisement(key, l);
                }
            }
            RoleSettings::Lac(_) => {}
        }
    }

    /// LNS: announces the session's prefix (RFC 4861 §6.2.4 unsolicited, §6.2.6 solicited).
    pub(super) fn send_router_advertisement(&mut self, key: SessionKey) {
        let RoleSettings::Lns(lns) = &self.role else {
            return;
        };
        let Some(pool) = &lns.ipv6_pool else {
            return;
        };
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let Some(((local_iid, _), lease)) = s.v6().map(|v| (v.iids, v.lease)) else {
            return;
        };
        let pool_prefix = pool.prefix();
        let prefix = match (self.radius_ipv6_prefix(key), lease) {
            (Some(p), _) => p.network(),
            (None, Some(l)) => l
                .delegated
                .map(|d| d.network())
                .unwrap_or(pool_prefix.network()),
            (None, None) => return,
        };
        let ad = ra::Advertisement {
            prefix,
            route: Some((pool_prefix.network(), pool_prefix.len())),
            // Framed-MTU caps what the session is told.
            mtu: u32::from(
                self.radius_mtu(key)
                    .map_or(self.ppp_mru, |m| m.min(self.ppp_mru)),
            ),
            router_lifetime: 1800,
        };
        let packet = ra::router_advertisement(link_local(local_iid), ra::ALL_NODES, &ad);
        self.outbox.push((key, packet));
    }

    /// Router Solicitations (LNS) and Router Advertisements (client) on a session are
    /// handled here, not passed to the host. Returns true when the packet was consumed.
    pub(super) fn router_message(&mut self, key: SessionKey, packet: &[u8]) -> bool {
        match self.role {
            RoleSettings::Lns(_) => {
                if !ra::is_router_solicitation(packet) {
                    return false;
                }
                self.send_router_advertisement(key);
                true
            }
            RoleSettings::Lac(_) => false,
            RoleSettings::Client(_) => {
                let Some(l) = ra::parse_router_advertisement(packet) else {
                    return false;
                };
                let ready = self
                    .sessions
                    .get(&key)
                    .is_some_and(|s| s.v6().is_some_and(|v| v.configured) && s.own_tun().is_some());
                if ready {
                    self.apply_router_advertisement(key, l);
                } else if let Some(v6) = self.sessions.get_mut(&key).and_then(|s| s.v6_mut()) {
                    v6.pending_ra = Some(l);
                }
                true
            }
        }
    }

    /// Client: forms our global address in each advertised prefix (prefix + our IPv6CP
    /// identifier, RFC 5072 §5), installs the advertised routes and, with
    /// `dial.default_route`, the IPv6 default route. Advertisements repeat (unsolicited,
    /// then in answer to the kernel's solicitation): what is already configured is fine.
    fn apply_router_advertisement(&mut self, key: SessionKey, l: ra::Learned) {
        let Some(s) = self.sessions.get(&key) else {
            return;
        };
        let (Some((local_iid, _)), Some(ifname)) =
            (s.v6().map(|v| v.iids), s.own_tun().map(str::to_string))
        else {
            return;
        };
        let default = matches!(&self.role, RoleSettings::Client(c) if c.default_route)
            && l.router_lifetime > 0;
        let iface = Iface::Name(ifname.clone());
        let mut global = None;
        for p in &l.prefixes {
            let a = ra::with_iid(*p, local_iid);
            self.out.ip(IpOp::AddAddress {
                iface: iface.clone(),
                addr: a.into(),
                prefix_len: 64,
                exist_ok: true,
            });
            global.get_or_insert(a);
        }
        for (r, len) in &l.routes {
            if let Some(c) = Ipv6Cidr::new(*r, *len) {
                self.out.ip(IpOp::AddRoute {
                    iface: iface.clone(),
                    route: IpCidr::V6(c),
                    exist_ok: true,
                    mtu: None,
                });
            }
        }
        if default {
            let any = Ipv6Cidr::new(Ipv6Addr::UNSPECIFIED, 0).expect("::/0");
            self.out.ip(IpOp::AddRoute {
                iface,
                route: IpCidr::V6(any),
                exist_ok: true,
                mtu: None,
            });
        }
        if let Some(a) = global {
            self.out.ip(IpOp::AnnounceIpv6 {
                key,
                ifname,
                addr: a,
            });
        }
        if let Some(v6) = self.sessions.get_mut(&key).and_then(|s| s.v6_mut()) {
            v6.global = global.or(v6.global);
        }
    }

    /// Client with `dial.default_route`: a host route to the LNS through the current path,
    /// then the default route into the tunnel (like pppd's `defaultroute` with a route to the
    /// server kept outside it). The first session that comes up carries it.
    fn maybe_default_route(&mut self, key: SessionKey, ifname: &str) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        if !c.default_route || self.default_route_session.is_some() {
            return;
        }
        let Some(lns) = self.endpoint.tunnel_info(key.tunnel).map(|t| t.peer.ip()) else {
            return;
        };
        if lns.is_ipv6() {
            tracing::warn!(node = %self.name, session = %key, "default route: IPv6 LNS: default route not supported");
            return;
        }
        self.default_route_session = Some(key);
        self.out.ip(IpOp::DefaultRoute {
            key,
            ifname: ifname.to_string(),
            lns,
        });
    }
}
