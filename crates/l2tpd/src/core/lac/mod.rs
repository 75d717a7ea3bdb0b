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

pub mod proxy;
mod relay;
pub mod steer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use l2tp_proto::data::SessionKey;
use l2tp_wire::TunnelId;
use ppp::proxy::ProxyCapture;
use ppp::{AuthMethod, Link, LinkConfig};
use pppoe::{AcConfig, AccessConcentrator, MacAddr};

pub use steer::RealmTable;

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
    /// Authentication protocols asked of subscribers, in preference order (those RFC 2661
    /// can proxy: CHAP-MD5 and PAP).
    pub auth_methods: Vec<AuthMethod>,
    /// PPPoE sessions at once, per interface.
    pub max_sessions: usize,
    /// PPPoE sessions at once per subscriber MAC.
    pub max_sessions_per_mac: usize,
    /// RFC 4638: the largest PPP payload carried (interface MTU − 8); None: 1492.
    pub max_payload: Option<u16>,
}

/// Where a subscriber is in its life.
pub(crate) enum Stage {
    /// LCP and authentication with our link, until the user name is known.
    Negotiating {
        link: Box<Link>,
        capture: Box<ProxyCapture>,
        timer: Option<Instant>,
    },
    /// The call is placed (ICRQ sent, or waiting for the tunnel).
    Calling { call: SessionKey },
    /// ICCN sent: frames are relayed.
    Relaying { call: SessionKey },
}

/// One PPPoE subscriber.
pub(crate) struct Subscriber {
    pub mac: MacAddr,
    pub user: Option<String>,
    pub lns: Option<SocketAddr>,
    pub stage: Stage,
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
            Stage::Calling { call } | Stage::Relaying { call } => Some(call),
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
#[derive(Debug, Clone, Copy, Default)]
pub struct LacCounters {
    /// Subscribers whose user name was learnt and whose call was placed.
    pub calls_placed: u64,
    /// Calls that reached the relay stage.
    pub calls_up: u64,
    /// Subscribers who hung up before their call was placed, or whose call failed.
    pub calls_failed: u64,
    /// Subscriber frames dropped while their call was being placed.
    pub dropped_while_calling: u64,
    /// Subscribers whose realm matched no LNS and who have no default.
    pub no_lns: u64,
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
    /// Tunnels we opened, by LNS; and their LNS by tunnel.
    pub tunnels: HashMap<SocketAddr, TunnelId>,
    pub tunnel_lns: HashMap<TunnelId, SocketAddr>,
    /// The subscriber side's PPP settings, per interface (the MRU follows the PPPoE
    /// payload).
    pub link_config: Arc<LinkConfig>,
    /// PPPoE frames to send: (interface, frame).
    pub out: Vec<(usize, Vec<u8>)>,
    pub counters: LacCounters,
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
            tunnel_lns: HashMap::new(),
            link_config: Arc::new(cfg),
            out: Vec::new(),
            counters: LacCounters::default(),
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
        if let Some(slot) = self.acs.get_mut(index) {
            *slot = Some(AccessConcentrator::new(cfg, now));
        }
    }

    /// The soonest subscriber link deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.subscribers
            .values()
            .filter_map(|s| match &s.stage {
                Stage::Negotiating { timer, .. } => *timer,
                _ => None,
            })
            .min()
    }

    /// Snapshots of every subscriber.
    pub fn snapshots(&self, now: Instant) -> Vec<PppoeSnapshot> {
        let mut v: Vec<_> = self
            .subscribers
            .iter()
            .map(|(&(iface, id), s)| PppoeSnapshot {
                interface: self.settings.interfaces[iface].clone(),
                pppoe_id: id,
                mac: s.mac.to_string(),
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

    /// PPPoE discovery counters summed over the interfaces.
    pub fn pppoe_stats(&self) -> Vec<(String, pppoe::Stats)> {
        self.acs
            .iter()
            .zip(&self.settings.interfaces)
            .filter_map(|(ac, name)| ac.as_ref().map(|a| (name.clone(), a.stats().clone())))
            .collect()
    }
}
