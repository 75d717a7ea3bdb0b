//! Client / LAC: the tunnels and calls we place, and redialling with exponential backoff.
//! The LNSs are tried in turn (the next one when a tunnel never came up); a host name is
//! resolved again at each dial, off the event loop: the core asks with
//! [`super::Output::Resolve`] and dials when [`super::Input::Resolved`] arrives, to the first
//! address of a family it has a socket for; a tunnel that never comes up moves on to the
//! name's next address (an IPv6 address falls back to an IPv4 one), then to the next LNS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::control::{CallParams, TunnelOptions};
use l2tp_wire::TunnelId;

use super::{Core, DialPeer, Output, RoleSettings};

/// Dialling state of a client node.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Dialler {
    /// Our tunnels to the LNS → established yet.
    tunnels: HashMap<TunnelId, bool>,
    #[serde(with = "l2tp_snap::opt_instant")]
    pub redial_at: Option<Instant>,
    pub backoff: Duration,
    dials: u32,
    /// The operator hung up: no redial until the next `dial`.
    hung_up: bool,
    /// Shutting down: nothing is dialled any more.
    stopped: bool,
    /// Which of the configured LNSs to dial (primary first, then the fallbacks).
    server_index: usize,
    /// The resolution in flight, by request id.
    resolving: Option<u64>,
    /// The current LNS name's addresses (of families we have a socket for), from its last
    /// resolution, and which one is dialled: a tunnel that never comes up moves to the
    /// next address, then to the next LNS (resolved again).
    addrs: Vec<SocketAddr>,
    addr_index: usize,
    next_resolve_id: u64,
    /// A management `dial` waiting for a host name to resolve (its reply token).
    dial_reply: Option<u64>,
}

impl Dialler {
    /// Our tunnel `t` came up; false when it is not one of ours.
    pub fn tunnel_up(&mut self, t: TunnelId) -> bool {
        match self.tunnels.get_mut(&t) {
            Some(up) => {
                *up = true;
                true
            }
            None => false,
        }
    }

    /// Our tunnel `t` is established.
    pub fn is_up(&self, t: TunnelId) -> bool {
        self.tunnels.get(&t) == Some(&true)
    }

    /// No more dialling (shutdown).
    pub fn stop(&mut self) {
        self.stopped = true;
        self.redial_at = None;
    }

    /// Our tunnels.
    pub fn first_tunnel(&self) -> Option<TunnelId> {
        self.tunnels.keys().next().copied()
    }
}

impl Core {
    /// The first dial of a client, on its first tick.
    pub(super) fn start_dialing(&mut self, now: Instant) {
        if self.dialler.dials == 0 && matches!(self.role, RoleSettings::Client(_)) {
            self.dial(now);
        }
    }

    /// Tops up the calls of tunnels that are up, and opens the tunnels missing (resolving
    /// the LNS's name first when it has one).
    pub(super) fn dial(&mut self, now: Instant) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        if self.dialler.stopped {
            return;
        }
        self.dialler.dials = self.dialler.dials.saturating_add(1);
        let (want_tunnels, want_sessions) = (c.tunnels.max(1), c.sessions);
        let peer = match c.peers.len() {
            0 => None,
            n => Some(c.peers[self.dialler.server_index % n].clone()),
        };
        // Tunnels still up: top their calls back up to the configured number.
        let up: Vec<TunnelId> = self
            .dialler
            .tunnels
            .iter()
            .filter(|(_, up)| **up)
            .map(|(t, _)| *t)
            .collect();
        for t in up {
            // Our own calls only: an outgoing call the LNS placed (accepted by
            // `dial.outgoing_calls`) does not stand in for one of ours.
            let have = self
                .endpoint
                .sessions(t)
                .filter(|s| s.kind == l2tp_proto::control::CallKind::LacIncoming)
                .count() as u32;
            for _ in have..want_sessions {
                let _ = self
                    .endpoint
                    .place_incoming_call(now, t, CallParams::default());
            }
        }
        if self.dialler.tunnels.len() as u32 >= want_tunnels || self.dialler.resolving.is_some() {
            return;
        }
        match peer {
            None => tracing::error!(node = %self.name, "no LNS to dial"),
            Some(DialPeer::Addr(a)) => self.open_tunnels(now, a),
            Some(DialPeer::Name { .. }) if self.dialler.addr_index < self.dialler.addrs.len() => {
                let a = self.dialler.addrs[self.dialler.addr_index];
                self.open_tunnels(now, a);
            }
            Some(DialPeer::Name { host, port }) => {
                let id = self.dialler.next_resolve_id;
                self.dialler.next_resolve_id += 1;
                self.dialler.resolving = Some(id);
                tracing::debug!(node = %self.name, %host, "resolving");
                self.out.push(Output::Resolve { id, host, port });
            }
        }
    }

    /// A host name resolved (or not): dial the first address we have a socket for.
    pub(super) fn resolved(
        &mut self,
        now: Instant,
        id: u64,
        result: Result<Vec<SocketAddr>, String>,
    ) {
        if self.dialler.resolving != Some(id) {
            return;
        }
        self.dialler.resolving = None;
        if self.dialler.stopped {
            return;
        }
        let usable: Result<Vec<SocketAddr>, String> = result.and_then(|addrs| {
            let v: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| self.locals.iter().any(|l| l.is_ipv4() == a.is_ipv4()))
                .collect();
            if v.is_empty() {
                Err(format!(
                    "no address of a family we have a socket for in {addrs:?}"
                ))
            } else {
                Ok(v)
            }
        });
        match usable {
            Ok(addrs) => {
                let server = addrs[0];
                self.dialler.addrs = addrs;
                self.dialler.addr_index = 0;
                self.open_tunnels(now, server);
            }
            Err(e) => {
                tracing::warn!(node = %self.name, "cannot dial: {e}");
                self.dialler.server_index = self.dialler.server_index.wrapping_add(1);
                if let Some(token) = self.dialler.dial_reply.take() {
                    let response = l2tp_mgmt::Response::error(format!("dial: {e}"));
                    self.out.push(Output::Reply {
                        token,
                        response: Box::new(response),
                    });
                }
                self.schedule_redial(now);
            }
        }
    }

    fn open_tunnels(&mut self, now: Instant, server: SocketAddr) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        let want = c.tunnels.max(1);
        let local = self
            .locals
            .iter()
            .copied()
            .find(|l| l.is_ipv4() == server.is_ipv4())
            .unwrap_or(self.locals[0]);
        if c.local_port.is_some() && self.dialler.tunnels.is_empty() {
            // Sending from a fixed port: the socket is connected to the LNS dialled, so the
            // kernel hands it that LNS's datagrams even when other clients share the port.
            let sock = self.socket_index(local);
            self.out.connects.push((sock, server));
        }
        while (self.dialler.tunnels.len() as u32) < want {
            match self
                .endpoint
                .open_tunnel(now, local, server, TunnelOptions::default())
            {
                Ok(t) => {
                    tracing::info!(node = %self.name, tunnel = %t, %server, "dialing");
                    self.dialler.tunnels.insert(t, false);
                }
                Err(e) => {
                    tracing::error!(node = %self.name, %server, "cannot open tunnel: {e}");
                    self.schedule_redial(now);
                    break;
                }
            }
        }
        if let Some(token) = self.dialler.dial_reply.take() {
            let response = self.dial_response();
            self.out.push(Output::Reply {
                token,
                response: Box::new(response),
            });
        }
    }

    /// What `l2tpctl dial` hears: the tunnel being dialled, or why there is none.
    fn dial_response(&self) -> l2tp_mgmt::Response {
        match self.dialler.first_tunnel() {
            Some(t) => l2tp_mgmt::Response::Dialing {
                tunnel: t.0,
                session: 0,
            },
            None => l2tp_mgmt::Response::error("dial: could not open a tunnel (see the log)"),
        }
    }

    pub(super) fn schedule_redial(&mut self, now: Instant) {
        let RoleSettings::Client(c) = &self.role else {
            return;
        };
        let d = &mut self.dialler;
        if d.stopped || d.hung_up || d.redial_at.is_some() {
            return;
        }
        if !c.redial {
            tracing::warn!(node = %self.name, "not redialing (dial.redial = false)");
            return;
        }
        let b = if d.backoff.is_zero() {
            c.redial_initial
        } else {
            (d.backoff * 2).min(c.redial_max)
        };
        d.backoff = b;
        d.redial_at = Some(now + b);
        tracing::info!(node = %self.name, "redial in {:?}", b);
    }

    /// One of our tunnels is gone: the next LNS if it never came up, and a redial.
    pub(super) fn tunnel_gone(&mut self, now: Instant, tunnel: TunnelId) {
        if let Some(was_up) = self.dialler.tunnels.remove(&tunnel) {
            let d = &mut self.dialler;
            if was_up {
                // A name is resolved again at the next dial.
                d.addrs.clear();
                d.addr_index = 0;
            } else if d.addr_index + 1 < d.addrs.len() {
                // Never came up: the LNS name's next address.
                d.addr_index += 1;
            } else {
                // Never came up: try the next LNS of the list (if there are several).
                d.addrs.clear();
                d.addr_index = 0;
                d.server_index = d.server_index.wrapping_add(1);
            }
            self.schedule_redial(now);
        }
    }

    /// `l2tpctl dial [PEER]`: dial now (to PEER from now on); `None` when the reply waits
    /// for a name to resolve.
    pub(super) fn dial_cmd(
        &mut self,
        now: Instant,
        token: u64,
        peer: Option<String>,
    ) -> Option<l2tp_mgmt::Response> {
        let RoleSettings::Client(c) = &mut self.role else {
            return Some(l2tp_mgmt::Response::error("dial: this daemon is an LNS"));
        };
        if let Some(p) = peer {
            match DialPeer::parse(&p) {
                Ok(p) => {
                    if c.peers.is_empty() {
                        c.peers.push(p);
                    } else {
                        c.peers[0] = p;
                    }
                    self.dialler.server_index = 0;
                    self.dialler.addrs.clear();
                    self.dialler.addr_index = 0;
                }
                Err(e) => return Some(l2tp_mgmt::Response::error(format!("dial: {e}"))),
            }
        }
        self.dialler.hung_up = false;
        self.dialler.redial_at = None;
        self.dial(now);
        if self.dialler.resolving.is_some() && self.dialler.tunnels.is_empty() {
            self.dialler.dial_reply = Some(token);
            return None;
        }
        Some(self.dial_response())
    }

    /// `l2tpctl hangup` on a client: close every tunnel, no redial until the next `dial`.
    pub(super) fn hang_up_all(&mut self) -> Vec<TunnelId> {
        self.dialler.redial_at = None;
        self.dialler.hung_up = true;
        self.endpoint.tunnels().map(|t| t.tunnel).collect()
    }
}
