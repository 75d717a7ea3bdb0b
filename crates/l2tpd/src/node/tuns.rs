//! The shell's TUN table and interface side: the shared TUN and each session's own TUN with
//! its poll token, packets written to them, and the core's interface and route operations
//! applied over rtnetlink (opened on first use: only TUN modes need it).

use std::collections::HashMap;
use std::io;

use l2tp_io::poller::{Poller, Token};
use l2tp_io::tun::Tun;
use l2tp_proto::data::SessionKey;

use super::netconf::{NetConf, NetconfError};
use super::tunif;
use crate::core::{Iface, Input, IpOp, TunTarget};

/// Every TUN the node has open.
pub struct Tuns {
    /// The LNS's shared TUN and its interface index.
    pub shared: Option<(Tun, u32)>,
    by_session: HashMap<SessionKey, (Tun, u64)>,
    by_token: HashMap<u64, SessionKey>,
    next_token: u64,
    netconf: Option<NetConf>,
    /// Rate limits applied with `tc` (kernel datapath).
    pub tc: super::tc::Tc,
    /// Per-session TUNs are persistent (a state directory: they outlive a crash, and the
    /// next process reattaches them); made non-persistent when their session ends.
    pub persist: bool,
}

impl Default for Tuns {
    fn default() -> Self {
        Tuns::new()
    }
}

impl Tuns {
    /// No TUN open yet.
    pub fn new() -> Tuns {
        Tuns {
            tc: super::tc::Tc::default(),
            shared: None,
            by_session: HashMap::new(),
            by_token: HashMap::new(),
            next_token: tunif::TUN_TOKEN_BASE + 1,
            netconf: None,
            persist: false,
        }
    }

    fn netconf(&mut self) -> io::Result<&mut NetConf> {
        if self.netconf.is_none() {
            self.netconf = Some(NetConf::new().map_err(io::Error::other)?);
        }
        Ok(self.netconf.as_mut().expect("just set"))
    }

    /// Opens the LNS's shared TUN (our IPv4 address, and `server6` when IPv6 is offered).
    pub fn open_shared(
        &mut self,
        poller: &Poller,
        name: &str,
        mtu: u32,
        local: std::net::Ipv4Addr,
        server6: Option<std::net::Ipv6Addr>,
    ) -> io::Result<()> {
        let nc = self.netconf()?;
        let (tun, idx) =
            tunif::open_shared_tun(nc, poller, Token(tunif::TUN_TOKEN_BASE), name, mtu, local)
                .map_err(io::Error::other)?;
        if let Some(a) = server6 {
            nc.add_address(idx, a.into(), 128)
                .map_err(io::Error::other)?;
        }
        self.shared = Some((tun, idx));
        Ok(())
    }

    /// Every open TUN, for a hand-over: (None: the shared TUN, or the session's key).
    pub fn handed_over(&self) -> Vec<(Option<SessionKey>, &Tun)> {
        let shared = self.shared.as_ref().map(|(t, _)| (None, t));
        let mut v: Vec<_> = shared.into_iter().collect();
        v.extend(self.by_session.iter().map(|(k, (t, _))| (Some(*k), t)));
        v
    }

    /// Takes a TUN handed over by the process this one replaces (open, configured, up):
    /// the shared TUN (`key` None) or a session's.
    pub fn adopt(&mut self, poller: &Poller, key: Option<SessionKey>, tun: Tun) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let interest = l2tp_io::poller::Interest::READABLE;
        match key {
            None => {
                let idx = tun.ifindex()?;
                poller.register(tun.as_raw_fd(), Token(tunif::TUN_TOKEN_BASE), interest)?;
                self.shared = Some((tun, idx));
            }
            Some(key) => {
                let token = self.next_token;
                self.next_token += 1;
                poller.register(tun.as_raw_fd(), Token(token), interest)?;
                self.by_token.insert(token, key);
                self.by_session.insert(key, (tun, token));
            }
        }
        Ok(())
    }

    /// Reattaches a session's persistent TUN `name` left by a process that died (its
    /// addresses and routes are still on it). Fails if the interface is gone.
    pub fn reattach(&mut self, poller: &Poller, key: SessionKey, name: &str) -> Result<(), String> {
        self.netconf()
            .map_err(|e| e.to_string())?
            .link_index(name)
            .map_err(|e| format!("interface {name}: {e}"))?;
        let tun = tunif::open_offloading(name)?;
        self.adopt(poller, Some(key), tun)
            .map_err(|e| format!("poll {name}: {e}"))
    }

    /// Removes the persistent TUNs named after `pattern` (`l2tp%d`, or one name) that no
    /// process holds: what a killed daemon left behind for sessions no journal brought back
    /// (a journal refused as corrupt, a session's last record torn). A TUN that a live
    /// process holds cannot be attached again (the kernel answers EBUSY) and is left alone,
    /// as are the ones this node reattached. Returns the names removed.
    pub fn remove_orphans(&self, pattern: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !matches_pattern(&name, pattern) || !entry.path().join("tun_flags").exists() {
                continue;
            }
            if let Ok(tun) = tunif::open_offloading(&name) {
                if tun.set_persist(false).is_ok() {
                    removed.push(name);
                }
            }
        }
        removed
    }

    /// The TUN a poll token names, and which TUN that is for the core.
    pub fn by_token(&self, token: u64) -> Option<(&Tun, TunTarget)> {
        if token == tunif::TUN_TOKEN_BASE {
            return self.shared.as_ref().map(|(t, _)| (t, TunTarget::Shared));
        }
        let key = self.by_token.get(&token)?;
        self.by_session
            .get(key)
            .map(|(t, _)| (t, TunTarget::Session(*key)))
    }

    /// Writes one packet (`vnet_hdr`: a coalesced GSO run's header).
    pub fn write(&self, target: TunTarget, vnet_hdr: Option<&[u8; 10]>, packet: &[u8]) {
        let tun = match target {
            TunTarget::Shared => self.shared.as_ref().map(|(t, _)| t),
            TunTarget::Session(k) => self.by_session.get(&k).map(|(t, _)| t),
        };
        let Some(tun) = tun else {
            return;
        };
        let r = match vnet_hdr {
            Some(h) => tun.send_with_header(h, packet),
            None => tun.send(packet),
        };
        if let Err(e) = r {
            tracing::debug!("TUN write: {e}");
        }
    }

    /// Applies one operation; returns what the core must hear about it.
    pub fn apply(&mut self, poller: &Poller, op: IpOp) -> Option<Input<'static>> {
        match op {
            IpOp::OpenSessionTun {
                key,
                name,
                mtu,
                ipv4,
                routes,
            } => {
                let token = self.next_token;
                self.next_token += 1;
                let r = self.netconf().map_err(|e| e.to_string()).and_then(|nc| {
                    tunif::open_session_tun(nc, poller, Token(token), &name, mtu, &ipv4, &routes)
                });
                Some(match r {
                    Ok(tun) => {
                        if self.persist {
                            if let Err(e) = tun.set_persist(true) {
                                tracing::warn!(session = %key, "TUN {}: not persistent ({e}): it will not outlive a crash", tun.name());
                            }
                        }
                        let ifname = tun.name().to_string();
                        println!(
                            "session {key}: interface {ifname} up, local {} peer {}{}",
                            ipv4.local,
                            ipv4.peer,
                            ipv4.dns[0]
                                .map(|d| format!(", DNS {d}"))
                                .unwrap_or_default()
                        );
                        self.by_token.insert(token, key);
                        self.by_session.insert(key, (tun, token));
                        Input::InterfaceUp { key, ifname }
                    }
                    Err(error) => Input::InterfaceFailed { key, error },
                })
            }
            IpOp::RemoveInterfaces { keys } => {
                self.remove_interfaces(Some(&keys));
                None
            }
            IpOp::CloseSessionTun { key } => {
                if let Some((tun, token)) = self.by_session.remove(&key) {
                    self.by_token.remove(&token);
                    if self.persist {
                        // The session ended: its interface goes with the descriptor.
                        let _ = tun.set_persist(false);
                    }
                }
                if self.by_session.is_empty() && self.by_session.capacity() > 1024 {
                    self.by_session.shrink_to_fit();
                    self.by_token.shrink_to_fit();
                }
                None
            }
            IpOp::AddAddress {
                iface,
                addr,
                prefix_len,
                exist_ok,
            } => {
                let r = self
                    .index(&iface)
                    .and_then(|(nc, i)| ok_if(exist_ok, nc.add_address(i, addr, prefix_len)));
                if let Err(e) = r {
                    tracing::warn!("address {addr}/{prefix_len} on {iface:?}: {e}");
                }
                None
            }
            IpOp::AddLinkLocal { ifname, addr } => {
                let r = self
                    .netconf()
                    .map_err(|e| e.to_string())
                    .and_then(|nc| tunif::add_ipv6_link_local(nc, &ifname, addr));
                if let Err(e) = r {
                    tracing::warn!("IPv6 address on {ifname}: {e}");
                }
                None
            }
            IpOp::AddRoute {
                iface,
                route,
                exist_ok,
                mtu,
            } => {
                let r = self.index(&iface).and_then(|(nc, i)| {
                    let added = match mtu {
                        Some(m) => nc.add_route_mtu(i, route, m),
                        None => nc.add_route(i, route, None),
                    };
                    ok_if(exist_ok, added)
                });
                if let Err(e) = r {
                    tracing::warn!("route {route} on {iface:?}: {e}");
                }
                None
            }
            IpOp::DelRoute { iface, route } => {
                if let Ok((nc, i)) = self.index(&iface) {
                    let _ = nc.del_route(i, route);
                }
                None
            }
            IpOp::DefaultRoute { key, ifname, lns } => {
                let r = self.netconf().map_err(|e| e.to_string()).and_then(|nc| {
                    let path = nc.route_get(lns).map_err(|e| e.to_string())?;
                    if let (Some(gw), std::net::IpAddr::V4(a)) = (path.gateway, lns) {
                        nc.add_route_via(crate::core::output::host_route(a), gw, path.ifindex)
                            .map_err(|e| e.to_string())?;
                    }
                    let idx = nc.link_index(&ifname).map_err(|e| e.to_string())?;
                    nc.add_route(idx, crate::core::output::default_v4(), None)
                        .map_err(|e| e.to_string())
                });
                match r {
                    Ok(()) => println!("session {key}: default route via {ifname}"),
                    Err(e) => tracing::warn!(session = %key, "default route: {e}"),
                }
                None
            }
            IpOp::AnnounceIpv6 { key, ifname, addr } => {
                println!("session {key}: IPv6 address {addr} on {ifname}");
                None
            }
            IpOp::SetRate { ifname, limit } => {
                self.tc.apply(&ifname, limit);
                None
            }
        }
    }

    /// Configures an interface someone else created (a kernel session's `pppN`) as a
    /// session's TUN is: up, MTU, `local peer PEER/32`, extra routes.
    pub fn configure_ptp(
        &mut self,
        ifname: &str,
        mtu: u32,
        ipv4: &ppp::Ipv4Params,
        routes: &[crate::addr::IpCidr],
    ) -> Result<(), String> {
        let nc = self.netconf().map_err(|e| e.to_string())?;
        let idx = nc.link_index(ifname).map_err(|e| e.to_string())?;
        nc.set_link(idx, true, Some(mtu))
            .map_err(|e| e.to_string())?;
        nc.add_address_v4_ptp(idx, ipv4.local, ipv4.peer)
            .map_err(|e| e.to_string())?;
        for r in routes {
            nc.add_route(idx, *r, None)
                .map_err(|e| format!("route {r}: {e}"))?;
        }
        Ok(())
    }

    /// Removes the own interfaces of `keys` (every session's with `None`) in one batch:
    /// closing a TUN removes its interface too, but one at a time (≈ 20 ms each); the
    /// descriptors close later, cheaply.
    pub fn remove_interfaces(&mut self, keys: Option<&[SessionKey]>) {
        let names: Vec<String> = match keys {
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.by_session.get(k))
                .map(|(t, _)| t.name().to_string())
                .collect(),
            None => self
                .by_session
                .values()
                .map(|(t, _)| t.name().to_string())
                .collect(),
        };
        if names.len() < 2 {
            return;
        }
        let Ok(nc) = self.netconf() else {
            return;
        };
        let idx: Vec<u32> = names.iter().filter_map(|n| nc.link_index(n).ok()).collect();
        if let Err(e) = nc.delete_links(&idx) {
            tracing::warn!("removing {} session interfaces: {e}", idx.len());
        }
    }

    fn index(&mut self, iface: &Iface) -> Result<(&mut NetConf, u32), String> {
        let shared = self.shared.as_ref().map(|(_, i)| *i);
        let nc = self.netconf().map_err(|e| e.to_string())?;
        let idx = match iface {
            Iface::Shared => shared.ok_or("no shared interface")?,
            Iface::Name(n) => nc.link_index(n).map_err(|e| e.to_string())?,
        };
        Ok((nc, idx))
    }
}

/// An operation's result; an address or route already there counts as done when
/// `exist_ok` (advertisements repeat).
fn ok_if(exist_ok: bool, r: Result<(), NetconfError>) -> Result<(), String> {
    match r {
        Err(e) if exist_ok && e.source.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.to_string()),
        Ok(()) => Ok(()),
    }
}

/// Whether `name` is one `pattern` makes: the pattern itself, or with `%d` a number there.
fn matches_pattern(name: &str, pattern: &str) -> bool {
    match pattern.split_once("%d") {
        None => name == pattern,
        Some((prefix, suffix)) => name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::matches_pattern;

    #[test]
    fn only_the_names_a_pattern_makes_match_it() {
        assert!(matches_pattern("l2tp0", "l2tp%d"));
        assert!(matches_pattern("l2tp123", "l2tp%d"));
        assert!(!matches_pattern("l2tp", "l2tp%d"));
        assert!(!matches_pattern("l2tp1a", "l2tp%d"));
        assert!(!matches_pattern("xl2tp1", "l2tp%d"));
        assert!(matches_pattern("sub7-v", "sub%d-v"));
        assert!(matches_pattern("vpn", "vpn"));
        assert!(!matches_pattern("vpn0", "vpn"));
    }
}
