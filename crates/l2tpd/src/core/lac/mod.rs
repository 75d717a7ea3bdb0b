//! The LAC relay: PPPoE subscribers (RFC 2516) relayed into L2TP sessions toward an LNS.
//!
//! One access concentrator per configured interface answers discovery. A subscriber's
//! session runs LCP and authentication with a server `Link` of ours, tapped by a
//! [`ppp::proxy::ProxyCapture`], only until the user name is known (the link asks for an
//! authentication decision, which never comes: the link is dropped). The user's realm picks
//! the LNS ([`steer`]); a tunnel to it is opened or reused, and the call is placed with the
//! proxy LCP and proxy authentication AVPs of RFC 2661 §4.4.5 ([`proxy`]). From the ICCN on,
//! PPP frames are relayed both ways without being parsed (`relay`), except that the
//! subscriber's LCP Terminate-Request ends the call.
//!
//! A CDN or StopCCN ends the PPPoE session with a PADT; a PADT (or the subscriber's LCP
//! Terminate-Request) ends the call with a CDN.

mod authorize;
mod carry;
pub mod proxy;
mod relay;
pub mod steer;
mod switch;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use l2tp_proto::data::SessionKey;
use l2tp_wire::TunnelId;
use ppp::proxy::ProxyCapture;
use ppp::{AuthMethod, Link, LinkConfig};
use pppoe::{AcConfig, AccessConcentrator, MacAddr};
use steer::{Lockouts, TunnelKey};

pub use authorize::steered_targets;
pub(crate) use authorize::LAC_AUTH_TUNNEL;
pub(crate) use carry::{LacState, LacStateRef};
pub use steer::{LnsTarget, RealmTable, SendProxy};

/// What a LAC relay is configured with.
#[derive(Debug, Clone)]
pub struct LacSettings {
    /// Interfaces the access concentrators listen on (the shell opens them, in this order).
    pub interfaces: Vec<String>,
    /// AC-Name in PADO and PADS.
    pub ac_name: String,
    /// Service names offered (empty: any).
    pub services: Vec<String>,
    /// Where calls go, by realm.
    pub steering: RealmTable,
    /// How long an LNS that failed a call is passed over.
    pub lockout: std::time::Duration,
    /// Ask the AAA backend (RADIUS) about each subscriber before placing its call: a reject
    /// refuses it, RFC 2868 tunnels in the accept steer it.
    pub radius: bool,
    /// Tunnel switching: calls arriving from other LACs are relayed into calls toward the
    /// LNS of their user's realm.
    pub switching: bool,
    /// Which proxy AVPs go to which LNS (per-peer profiles by address, first match wins;
    /// else all of them).
    pub send_proxy: Vec<(l2tp_proto::control::PeerRule, SendProxy)>,
    /// Authentication protocols asked of subscribers, in preference order (those RFC 2661
    /// can proxy: CHAP-MD5 and PAP).
    pub auth_methods: Vec<AuthMethod>,
    /// PPPoE sessions at once, per interface.
    pub max_sessions: usize,
    /// PPPoE sessions at once per subscriber MAC.
    pub max_sessions_per_mac: usize,
    /// RFC 4638: the largest PPP payload carried (interface MTU − 8); None: 1492.
    pub max_payload: Option<u16>,
    /// PADIs answered per second per interface (bursts of twice as many).
    pub padi_rate: u32,
    /// The interfaces are VLAN trunks: the shell reads tagged subscribers too.
    pub vlan_trunk: bool,
}

/// Where a subscriber is in its life.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum Stage {
    /// LCP and authentication with our link, until the user name is known.
    Negotiating {
        link: Box<Link>,
        capture: Box<ProxyCapture>,
        #[serde(with = "l2tp_snap::opt_instant")]
        timer: Option<Instant>,
    },
    /// The call is placed (ICRQ sent, or waiting for the tunnel); the LNSes left to try
    /// if this one fails.
    Calling {
        call: SessionKey,
        attempt: Box<Attempt>,
    },
    /// ICCN sent: frames are relayed.
    Relaying { call: SessionKey },
}

/// A call being placed: what to place it with again, where it went, and what is left.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Attempt {
    pub params: l2tp_proto::control::CallParams,
    pub target: LnsTarget,
    /// Candidates not tried yet, in order.
    pub rest: Vec<LnsTarget>,
    /// Our LCP Magic-Number with the subscriber (0: none), for its Echo-Requests meanwhile.
    pub magic: u32,
}

/// One PPPoE subscriber.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Subscriber {
    pub mac: MacAddr,
    pub user: Option<String>,
    /// The backend's answer awaited (RADIUS steering). Not carried by a snapshot: an
    /// upgrade waits until no backend request is in flight.
    #[serde(skip)]
    pub auth: Option<Box<authorize::PendingAuth>>,
    pub lns: Option<SocketAddr>,
    pub stage: Stage,
    #[serde(with = "l2tp_snap::instant")]
    pub since: Instant,
    /// Frames relayed subscriber → LNS, and LNS → subscriber.
    pub up_frames: u64,
    pub down_frames: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
}

impl Subscriber {
    pub fn call(&self) -> Option<SessionKey> {
        match self.stage {
            Stage::Calling { call, .. } | Stage::Relaying { call } => Some(call),
            Stage::Negotiating { .. } => None,
        }
    }

    fn state_name(&self) -> &'static str {
        match self.stage {
            Stage::Negotiating { .. } => "negotiating",
            Stage::Calling { .. } => "calling",
            Stage::Relaying { .. } => "relaying",
        }
    }
}

/// A subscriber: the interface's index and its PPPoE SESSION_ID.
pub(crate) type SubscriberId = (usize, u16);

/// Counters of the relay.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct LacCounters {
    /// Subscribers whose user name was learnt and whose call was placed.
    pub calls_placed: u64,
    /// Calls that reached the relay stage.
    pub calls_up: u64,
    /// Subscribers who hung up before their call was placed, or whose call failed.
    pub calls_failed: u64,
    /// Subscriber frames dropped while their call was being placed.
    pub dropped_while_calling: u64,
    /// Subscribers' LCP Echo-Requests answered while their call was being placed.
    pub echo_replied_while_calling: u64,
    /// Subscribers whose realm matched no LNS and who have no default.
    pub no_lns: u64,
    /// Frames the kernel dropped because a PPPoE socket's receive buffer was full (a flood
    /// faster than we read), as the shell reported them.
    pub socket_overflow: u64,
    /// Calls placed again toward the next LNS of their group after one failed them.
    pub calls_retried: u64,
    /// LNSes locked out after failing a call.
    pub lockouts: u64,
    /// Subscribers refused by RADIUS.
    pub auth_rejected: u64,
    /// Calls steered by RADIUS tunnel attributes.
    pub radius_steered: u64,
}

/// What an operator sees of a PPPoE subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PppoeSnapshot {
    /// Interface.
    pub interface: String,
    /// PPPoE SESSION_ID.
    pub pppoe_id: u16,
    /// Subscriber MAC.
    pub mac: String,
    /// Agent-Circuit-Id from a PPPoE intermediate agent.
    pub circuit_id: Option<String>,
    /// The VLAN ids the subscriber's frames carry, outermost first (none: untagged).
    pub vlans: Vec<u16>,
    /// User name, once known.
    pub user: Option<String>,
    /// LNS the call went to.
    pub lns: Option<SocketAddr>,
    /// `negotiating`, `calling` or `relaying`.
    pub state: &'static str,
    /// The L2TP call (local tunnel and session ids).
    pub call: Option<SessionKey>,
    /// Seconds since discovery completed.
    pub uptime_s: u64,
    /// Frames and bytes relayed subscriber → LNS and LNS → subscriber.
    pub up_frames: u64,
    /// See `up_frames`.
    pub down_frames: u64,
    /// See `up_frames`.
    pub up_bytes: u64,
    /// See `up_frames`.
    pub down_bytes: u64,
}

/// The relay's state (the core's LAC room).
pub(crate) struct Lac {
    pub settings: LacSettings,
    /// One access concentrator per interface, once the shell opened it.
    pub acs: Vec<Option<AccessConcentrator>>,
    pub subscribers: HashMap<SubscriberId, Subscriber>,
    /// Our calls → their subscriber.
    pub by_call: HashMap<SessionKey, SubscriberId>,
    /// Tunnels we opened, by LNS and assignment; and what each one is.
    pub tunnels: HashMap<TunnelKey, Vec<TunnelId>>,
    pub tunnel_use: HashMap<TunnelId, TunnelUse>,
    /// LNSes passed over for a while after they failed a call.
    pub lockouts: Lockouts,
    /// The subscriber side's PPP settings, per interface (the MRU follows the PPPoE
    /// payload).
    pub link_config: Arc<LinkConfig>,
    /// PPPoE frames to send.
    pub out: PppoeOut,
    /// Negotiating subscribers' timers, soonest first (an entry whose subscriber's timer
    /// moved since is skipped when it comes due): the next deadline without a walk.
    pub timers: BinaryHeap<Reverse<(Instant, SubscriberId)>>,
    pub counters: LacCounters,
    /// Tickets of the relay's backend requests (unique among them).
    pub next_auth_ticket: u64,
    /// Switched calls: their incoming call by id, and the other way round.
    pub switched: HashMap<u16, SessionKey>,
    pub by_incoming: HashMap<SessionKey, SubscriberId>,
    pub next_switched: u16,
    /// Frames of switched calls that came before their call toward the LNS was up (a few
    /// each: the caller's first LCP Configure-Request is not lost).
    pub switch_early: HashMap<SubscriberId, Vec<Vec<u8>>>,
}

/// One of our tunnels: where it goes and how many calls it carries.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct TunnelUse {
    pub key: TunnelKey,
    pub calls: u32,
    /// The limit of calls in it (0: none).
    pub max_calls: u32,
}

/// PPPoE frames to send, back to back in one buffer that keeps its capacity from turn to
/// turn: a relayed frame is encapsulated in place, with no allocation of its own.
#[derive(Debug, Default)]
pub struct PppoeOut {
    bytes: Vec<u8>,
    /// Each frame's interface and end offset in `bytes`.
    frames: Vec<(usize, usize)>,
}

impl PppoeOut {
    /// Queues a frame built elsewhere (discovery, PADT).
    pub fn push(&mut self, iface: usize, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.frames.push((iface, self.bytes.len()));
    }

    /// Queues the frame `build` appends to the buffer; nothing when it returns false.
    pub fn build(&mut self, iface: usize, build: impl FnOnce(&mut Vec<u8>) -> bool) {
        let start = self.bytes.len();
        if build(&mut self.bytes) {
            self.frames.push((iface, self.bytes.len()));
        } else {
            self.bytes.truncate(start);
        }
    }

    /// The frames queued, in order: (interface, frame).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut start = 0;
        self.frames.iter().map(move |&(iface, end)| {
            let f = &self.bytes[start..end];
            start = end;
            (iface, f)
        })
    }

    /// Forgets the frames sent (the capacity stays).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }
}

impl Lac {
    pub fn new(settings: LacSettings) -> Lac {
        // Our end of the subscriber's PPP never reaches IPCP: no address of its own.
        let mut cfg = LinkConfig::server(
            settings.auth_methods.clone(),
            std::net::Ipv4Addr::UNSPECIFIED,
            [None, None],
        );
        cfg.mru = pppoe::ac::DEFAULT_MAX_PAYLOAD;
        cfg.ipv6 = false;
        cfg.auth.name = settings.ac_name.clone();
        Lac {
            acs: settings.interfaces.iter().map(|_| None).collect(),
            settings,
            subscribers: HashMap::new(),
            by_call: HashMap::new(),
            tunnels: HashMap::new(),
            tunnel_use: HashMap::new(),
            lockouts: Lockouts::default(),
            link_config: Arc::new(cfg),
            out: PppoeOut::default(),
            timers: BinaryHeap::new(),
            counters: LacCounters::default(),
            next_auth_ticket: 0,
            switched: HashMap::new(),
            by_incoming: HashMap::new(),
            next_switched: 0,
            switch_early: HashMap::new(),
        }
    }

    /// Interface `index` is open with address `mac`: its access concentrator starts.
    pub fn open_interface(&mut self, index: usize, mac: [u8; 6], secret: &[u8], now: Instant) {
        let s = &self.settings;
        let mut cfg = AcConfig::new(MacAddr(mac), &s.ac_name, secret);
        cfg.services = s.services.clone();
        cfg.max_sessions = s.max_sessions;
        cfg.max_sessions_per_mac = s.max_sessions_per_mac;
        cfg.max_payload = s.max_payload;
        cfg.padi_rate = s.padi_rate;
        cfg.padi_burst = s.padi_rate.saturating_mul(2);
        if let Some(slot) = self.acs.get_mut(index) {
            *slot = Some(AccessConcentrator::new(cfg, now));
        }
    }

    /// The soonest subscriber link deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Snapshots of every subscriber.
    pub fn snapshots(&self, now: Instant) -> Vec<PppoeSnapshot> {
        let mut v: Vec<_> = self
            .subscribers
            .iter()
            .map(|(&(iface, id), s)| PppoeSnapshot {
                interface: self
                    .settings
                    .interfaces
                    .get(iface)
                    .cloned()
                    .unwrap_or_else(|| "l2tp".into()),
                pppoe_id: id,
                mac: s.mac.to_string(),
                circuit_id: self
                    .acs
                    .get(iface)
                    .and_then(Option::as_ref)
                    .and_then(|ac| ac.session(id))
                    .and_then(|i| i.access_line.as_ref())
                    .and_then(|a| a.circuit_id())
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
                vlans: self
                    .acs
                    .get(iface)
                    .and_then(Option::as_ref)
                    .and_then(|ac| ac.session(id))
                    .map(|i| i.vlans.iter().map(|v| v.vid()).collect())
                    .unwrap_or_default(),
                user: s.user.clone(),
                lns: s.lns,
                state: s.state_name(),
                call: s.call(),
                uptime_s: now.saturating_duration_since(s.since).as_secs(),
                up_frames: s.up_frames,
                down_frames: s.down_frames,
                up_bytes: s.up_bytes,
                down_bytes: s.down_bytes,
            })
            .collect();
        v.sort_by(|a, b| (&a.interface, a.pppoe_id).cmp(&(&b.interface, b.pppoe_id)));
        v
    }

    /// What `l2tpctl pppoe` shows.
    pub fn pppoe_infos(&self, now: Instant) -> Vec<l2tp_mgmt::PppoeSessionInfo> {
        self.snapshots(now)
            .into_iter()
            .map(|s| l2tp_mgmt::PppoeSessionInfo {
                interface: s.interface,
                pppoe_session: s.pppoe_id,
                mac: s.mac,
                circuit_id: s.circuit_id,
                vlans: s.vlans,
                user: s.user,
                lns: s.lns.map(|a| a.to_string()),
                state: s.state.to_string(),
                tunnel: s.call.map(|c| c.tunnel.0),
                session: s.call.map(|c| c.session.0),
                uptime_s: s.uptime_s,
                up_frames: s.up_frames,
                up_bytes: s.up_bytes,
                down_frames: s.down_frames,
                down_bytes: s.down_bytes,
            })
            .collect()
    }

    /// The relay's figures for `l2tpctl stats` and the metrics.
    pub fn stats(&self, now: Instant) -> l2tp_mgmt::LacStats {
        let c = &self.counters;
        let mut locked: Vec<String> = self.lockouts.locked(now).map(|a| a.to_string()).collect();
        locked.sort();
        let mut st = l2tp_mgmt::LacStats {
            subscribers: self.subscribers.len() as u64,
            relaying: self
                .subscribers
                .values()
                .filter(|s| matches!(s.stage, Stage::Relaying { .. }))
                .count() as u64,
            calls_placed: c.calls_placed,
            calls_up: c.calls_up,
            calls_failed: c.calls_failed,
            no_lns: c.no_lns,
            calls_retried: c.calls_retried,
            lns_lockouts: c.lockouts,
            lns_locked_out: locked,
            radius_rejected: c.auth_rejected,
            radius_steered: c.radius_steered,
            dropped_while_calling: c.dropped_while_calling,
            ..Default::default()
        };
        if c.socket_overflow > 0 {
            st.dropped
                .insert("socket_overflow".to_string(), c.socket_overflow);
        }
        for ac in self.acs.iter().flatten() {
            let a = ac.stats();
            st.padi_rx += a.padi_rx;
            st.pado_tx += a.pado_tx;
            st.padr_rx += a.padr_rx;
            st.pads_tx += a.pads_tx;
            st.pads_error_tx += a.pads_error_tx;
            st.padt_rx += a.padt_rx;
            st.padt_tx += a.padt_tx;
            for r in pppoe::DropReason::ALL {
                let n = a.dropped(*r);
                if n > 0 {
                    *st.dropped.entry(r.name().to_string()).or_insert(0) += n;
                }
            }
        }
        st
    }

    /// The user relayed in call `key`, if it is one of ours.
    pub fn user_of_call(&self, key: SessionKey) -> Option<&str> {
        let sid = self.by_call.get(&key)?;
        self.subscribers.get(sid)?.user.as_deref()
    }

    /// Records call `call` (in one of our tunnels) as subscriber `sid`'s.
    pub fn add_call(&mut self, call: SessionKey, sid: SubscriberId) {
        self.by_call.insert(call, sid);
        if let Some(u) = self.tunnel_use.get_mut(&call.tunnel) {
            u.calls += 1;
        }
    }

    /// Forgets call `call`; its subscriber, if it was one of ours.
    pub fn remove_call(&mut self, call: SessionKey) -> Option<SubscriberId> {
        let sid = self.by_call.remove(&call)?;
        if let Some(u) = self.tunnel_use.get_mut(&call.tunnel) {
            u.calls = u.calls.saturating_sub(1);
        }
        Some(sid)
    }

    /// A tunnel toward `key` with room for one more call, if one is open.
    pub fn tunnel_with_room(&self, key: &TunnelKey) -> Option<TunnelId> {
        self.tunnels.get(key)?.iter().copied().find(|t| {
            self.tunnel_use
                .get(t)
                .is_some_and(|u| u.max_calls == 0 || u.calls < u.max_calls)
        })
    }

    /// Forgets tunnel `t`; the LNS it went to.
    pub fn remove_tunnel(&mut self, t: TunnelId) -> Option<SocketAddr> {
        let u = self.tunnel_use.remove(&t)?;
        if let Some(v) = self.tunnels.get_mut(&u.key) {
            v.retain(|x| *x != t);
            if v.is_empty() {
                self.tunnels.remove(&u.key);
            }
        }
        Some(u.key.0)
    }

    /// PPPoE discovery counters summed over the interfaces.
    pub fn pppoe_stats(&self) -> Vec<(String, pppoe::Stats)> {
        self.acs
            .iter()
            .zip(&self.settings.interfaces)
            .filter_map(|(ac, name)| ac.as_ref().map(|a| (name.clone(), a.stats().clone())))
            .collect()
    }
}

#[cfg(test)]
mod out_tests {
    use super::PppoeOut;

    #[test]
    fn frames_come_out_in_order_and_a_failed_build_leaves_nothing() {
        let mut out = PppoeOut::default();
        out.push(0, &[1, 2]);
        out.build(1, |b| {
            b.extend_from_slice(&[9, 9, 9]);
            false
        });
        out.build(1, |b| {
            b.extend_from_slice(&[3]);
            true
        });
        let got: Vec<(usize, Vec<u8>)> = out.iter().map(|(i, f)| (i, f.to_vec())).collect();
        assert_eq!(got, vec![(0, vec![1, 2]), (1, vec![3])]);
        out.clear();
        assert_eq!(out.iter().count(), 0);
    }
}
