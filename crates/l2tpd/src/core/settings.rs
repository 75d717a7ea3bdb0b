//! What a core is built from: the role (LNS or client/LAC) with its policy, the PPP settings
//! every session shares, and how IP is terminated. Built by `Config::node_config` from the
//! validated configuration, or directly by tests, the demo and the load generator.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use l2tp_proto::control::EndpointConfig;
use l2tp_proto::data::{DatapathConfig, SessionKey, SessionOptions};
use ppp::{AuthMethod, LinkConfig};

use crate::addr::IpCidr;
use crate::leases::Ipv4Leases;
use crate::users::Users;

/// LNS settings: who may log in and what they get.
pub struct LnsSettings {
    /// PPP authentication methods required, in preference order.
    pub auth_methods: Vec<AuthMethod>,
    /// Our end of every PPP link.
    pub local_ipv4: Ipv4Addr,
    /// DNS servers offered through IPCP (RFC 1877).
    pub dns: [Option<Ipv4Addr>; 2],
    /// Users allowed to log in (the local authentication backend's table).
    pub users: Users,
    /// Addresses handed to clients: the pool, with fixed addresses and ours set aside.
    pub pool: Ipv4Leases,
    /// Sessions allowed at once (0: no limit).
    pub max_sessions: usize,
    /// Offer IPv6CP (RFC 5072).
    pub ipv6: bool,
    /// Global IPv6 prefixes for the sessions, announced by Router Advertisement.
    pub ipv6_pool: Option<crate::pool::Ipv6Pool>,
    /// Peers allowed to open tunnels (empty: everyone).
    pub allowed_peers: Vec<IpCidr>,
    /// Tunnels allowed at once (0: no limit).
    pub max_tunnels: usize,
    /// Close a session this long after it came up (None: never).
    pub session_timeout: Option<Duration>,
    /// Close a session after this long without data from the peer (None: never).
    pub idle_timeout: Option<Duration>,
    /// What to do with a LAC's proxy LCP and proxy authentication.
    pub proxy: super::proxy_lns::ProxyMode,
    /// Per-peer profiles' LNS settings, first match wins.
    pub peer_policies: Vec<PeerPolicy>,
}

/// What an LNS applies to the peers of one per-peer profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Which peers.
    pub rule: l2tp_proto::control::PeerRule,
    /// Their proxy LCP and authentication; `None`: `proxy`.
    pub proxy: Option<super::proxy_lns::ProxyMode>,
    /// Tunnels at once from the profile's peers together (0: no limit of their own).
    pub max_tunnels: usize,
    /// Sessions at once from the profile's peers together (0: no limit of their own).
    pub max_sessions: usize,
}

/// An LNS to dial: an address, or a host name resolved (off the event loop) at each dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialPeer {
    /// A literal address.
    Addr(SocketAddr),
    /// A host name and UDP port.
    Name {
        /// Host name.
        host: String,
        /// UDP port.
        port: u16,
    },
}

impl DialPeer {
    /// `host[:port]` (port 1701 by default); an IP literal becomes [`DialPeer::Addr`].
    pub fn parse(s: &str) -> Result<DialPeer, String> {
        let p: crate::config::PeerAddr = s.parse()?;
        Ok(match p.host.parse::<std::net::IpAddr>() {
            Ok(ip) => DialPeer::Addr(SocketAddr::new(ip, p.port)),
            Err(_) => DialPeer::Name {
                host: p.host,
                port: p.port,
            },
        })
    }
}

impl std::fmt::Display for DialPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialPeer::Addr(a) => write!(f, "{a}"),
            DialPeer::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// Client / LAC settings: where to dial and as whom.
#[derive(Clone)]
pub struct ClientSettings {
    /// The LNSs: the first, then the others in turn when a tunnel fails to come up.
    pub peers: Vec<DialPeer>,
    /// PPP user name.
    pub username: String,
    /// PPP password.
    pub password: String,
    /// A second password, tried once when an MS-CHAPv2 failure allows a retry.
    pub retry_password: Option<String>,
    /// Tunnels to open to the LNS (load generation; normally 1).
    pub tunnels: u32,
    /// Sessions to open in each tunnel.
    pub sessions: u32,
    /// First redial delay; doubles up to `redial_max`.
    pub redial_initial: Duration,
    /// Longest redial delay.
    pub redial_max: Duration,
    /// Dial again when the tunnel or a session goes down.
    pub redial: bool,
    /// PPP authentication methods we accept, in preference order.
    pub auth_methods: Vec<AuthMethod>,
    /// Route everything through the first session (keeping a host route to the LNS).
    pub default_route: bool,
    /// Send from this UDP port (the `listen` address's port) on a socket connected to the
    /// LNS dialled, bound with SO_REUSEPORT; None: a random port.
    pub local_port: Option<u16>,
    /// What to do with an outgoing call (OCRQ) the LNS places.
    pub outgoing_calls: super::outgoing::OutgoingCalls,
}

/// The role of a node.
pub enum RoleSettings {
    /// Network server: accepts tunnels and calls, authenticates, assigns addresses.
    Lns(Box<LnsSettings>),
    /// Client: dials an LNS and places calls, with a PPP client of its own on each.
    Client(ClientSettings),
    /// LAC: relays PPPoE subscribers into calls toward the LNS of their realm.
    Lac(Box<super::lac::LacSettings>),
}

/// How a node terminates IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpMode {
    /// Inside the process (an [`crate::ip::ipterm::IpApp`], or nothing).
    App,
    /// One TUN per session; `name` is a name or a kernel pattern such as `l2tp%d`.
    PerSession {
        /// Interface name or pattern.
        name: String,
        /// MTU of each interface.
        mtu: u32,
        /// Extra prefixes routed into the session (client: `dial.routes`).
        routes: Vec<IpCidr>,
    },
    /// One TUN for all sessions (LNS).
    Shared {
        /// Interface name.
        name: String,
        /// MTU.
        mtu: u32,
    },
}

/// Which TUN a packet is written to or was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TunTarget {
    /// The LNS's shared TUN.
    Shared,
    /// A session's own TUN.
    Session(SessionKey),
}

/// Everything a node needs (the core's settings and the addresses its shell binds).
pub struct NodeConfig {
    /// Name used in log lines.
    pub name: String,
    /// UDP addresses to bind (LNS: `0.0.0.0:1701`; client: port 0 for an ephemeral port).
    pub listen: Vec<SocketAddr>,
    /// Control plane settings.
    pub endpoint: EndpointConfig,
    /// Datapath settings.
    pub datapath: DatapathConfig,
    /// Options given to every new session (SENDSEQ, RECVSEQ, REORDERTO, DEBUG; LNSMODE is
    /// set from the role).
    pub session_options: SessionOptions,
    /// PPP LCP keepalive interval.
    pub ppp_echo_interval: Option<Duration>,
    /// PPP MRU.
    pub ppp_mru: u16,
    /// Unanswered LCP echoes before a link is declared dead.
    pub ppp_echo_failures: u32,
    /// Line-quality probe interval (None: no probes, no quality history).
    pub ppp_quality_interval: Option<Duration>,
    /// Longest PPP establishment (LCP, authentication, first NCP); None: unbounded.
    pub ppp_establish_timeout: Option<Duration>,
    /// Role.
    pub role: RoleSettings,
    /// Seed for every RNG (tests); `None` draws from the OS.
    pub seed: Option<u64>,
    /// How IP is terminated (TUN per session, shared TUN, or inside the process).
    pub ip_mode: IpMode,
}

/// The PPP settings every session of a node shares (built once).
pub(crate) fn link_config_of(config: &NodeConfig) -> Arc<LinkConfig> {
    let mut cfg = match &config.role {
        RoleSettings::Lns(lns) => {
            LinkConfig::server(lns.auth_methods.clone(), lns.local_ipv4, lns.dns)
        }
        RoleSettings::Client(c) => {
            let mut l = LinkConfig::client(&c.username, &c.password);
            l.auth.retry_password = c.retry_password.clone();
            if !c.auth_methods.is_empty() {
                l.auth.methods = c.auth_methods.clone();
            }
            l
        }
        // The relay's own subscriber links are configured by the LAC room.
        RoleSettings::Lac(_) => LinkConfig::client("", ""),
    };
    cfg.ipv6 = match &config.role {
        RoleSettings::Lns(lns) => lns.ipv6,
        RoleSettings::Client(_) | RoleSettings::Lac(_) => true,
    };
    cfg.echo_interval = config.ppp_echo_interval;
    cfg.mru = config.ppp_mru;
    cfg.echo_failures = config.ppp_echo_failures.max(1);
    cfg.quality = config
        .ppp_quality_interval
        .map(ppp::probe::ProbeConfig::every);
    cfg.establish_timeout = config.ppp_establish_timeout;
    Arc::new(cfg)
}
