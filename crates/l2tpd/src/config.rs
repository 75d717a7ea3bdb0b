//! The daemon's configuration: one TOML file, or quick-start command-line flags that build
//! the same [`Config`].
//!
//! Every field has a documented default (`docs/configuration.md` lists them all with
//! examples); unknown fields are rejected so a typo is an error, not a silently ignored
//! setting. [`Config::validate`] checks values at start and reports every problem, each
//! naming its field: `tunnel.hello_interval: must be ≥ 1 s, got 0`.
//!
//! ```
//! let cfg = l2tpd::config::Config::from_toml_str(r#"
//!     role = "client"
//!     [dial]
//!     peers = ["lns.example.net"]
//!     user = "alice"
//!     password = "secret"
//! "#).unwrap();
//! assert_eq!(cfg.tunnel.hello_interval, 60);
//! assert_eq!(cfg.dial.unwrap().peers[0].port, 1701);
//! ```

use crate::addr::{IpCidr, Ipv6Cidr};
use crate::pool::Ipv4PoolSpec;
use crate::secret::Secret;
use crate::users::{User, Users, UsersError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use thiserror::Error;

/// The L2TP port (RFC 2661 §8.1).
pub const L2TP_PORT: u16 = 1701;

/// A problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field (`tunnel.hello_interval`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid TOML, a wrong type, or an unknown field.
    #[error("{origin}: {message}")]
    Parse {
        /// The file (or `<string>`).
        origin: String,
        /// The parser's message (it names the line and the key).
        message: String,
    },
    /// Values that parse but are not acceptable; one line per problem.
    #[error("invalid configuration:\n  {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Invalid(Vec<FieldError>),
    /// The users file could not be loaded.
    #[error(transparent)]
    Users(#[from] UsersError),
}

impl ConfigError {
    /// The field errors, when this is [`ConfigError::Invalid`].
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ConfigError::Invalid(v) => v,
            _ => &[],
        }
    }
}

/// Something worth telling the operator that does not stop the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the daemon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// L2TP Network Server: accepts tunnels and calls, authenticates users, assigns addresses.
    Lns,
    /// L2TP Access Concentrator: dials an LNS and carries calls (`[dial]` section).
    Lac,
    /// A client: dials an LNS with a username and password and gets a TUN interface.
    Client,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Lns => "lns",
            Role::Lac => "lac",
            Role::Client => "client",
        })
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Normal operation (tunnels and sessions coming and going).
    #[default]
    Info,
    /// Protocol details.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name `tracing_subscriber::EnvFilter` understands.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A debug mask: a number or names (`"data,seq"`), see [`l2tp_mgmt::parse_debug_mask`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MaskRepr", into = "u32")]
pub struct DebugMask(pub u32);

#[derive(Deserialize)]
#[serde(untagged)]
enum MaskRepr {
    Num(u32),
    Text(String),
}

impl TryFrom<MaskRepr> for DebugMask {
    type Error = l2tp_mgmt::DebugMaskError;
    fn try_from(r: MaskRepr) -> Result<Self, Self::Error> {
        match r {
            MaskRepr::Num(n) => Ok(DebugMask(n)),
            MaskRepr::Text(s) => l2tp_mgmt::parse_debug_mask(&s).map(DebugMask),
        }
    }
}

impl From<DebugMask> for u32 {
    fn from(m: DebugMask) -> u32 {
        m.0
    }
}

/// PPP authentication protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMethod {
    /// MS-CHAPv2 (RFC 2759).
    #[serde(rename = "mschapv2")]
    MsChapV2,
    /// CHAP with MD5 (RFC 1994).
    #[serde(rename = "chap-md5")]
    ChapMd5,
    /// PAP (RFC 1334): the password crosses the tunnel in clear.
    #[serde(rename = "pap")]
    Pap,
}

/// Which datapath carries the sessions' data (see docs/datapath.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatapathMode {
    /// Our userspace datapath, IP on TUN devices: works on every Linux (containers too).
    #[default]
    Userspace,
    /// The kernel's PPPoL2TP driver (`l2tp_ppp`, `ppp_generic`), IP on `pppN`; refuses to
    /// start when the kernel has no L2TP.
    Kernel,
    /// The kernel datapath when this kernel has it, else userspace (one log line says which).
    Auto,
}

impl std::fmt::Display for DatapathMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatapathMode::Userspace => "userspace",
            DatapathMode::Kernel => "kernel",
            DatapathMode::Auto => "auto",
        })
    }
}

/// How the LNS maps sessions onto TUN interfaces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceMode {
    /// One TUN per session (`l2tp0`, `l2tp1`, …), like pppd's `pppN`.
    #[default]
    PerSession,
    /// One shared TUN for every session; each session's address gets a /32 route on it.
    Shared,
    /// No interface: IP is not handed to the host; ICMP echo to `local_ipv4` is answered by
    /// the daemon. For load tests and health checks; needs no root.
    None,
}

/// A peer to dial: `host[:port]`; the host is resolved when dialling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerAddr {
    /// Host name or address.
    pub host: String,
    /// UDP port (default 1701).
    pub port: u16,
}

impl FromStr for PeerAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(PeerAddr {
                host: sa.ip().to_string(),
                port: sa.port(),
            });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(PeerAddr {
                host: ip.to_string(),
                port: L2TP_PORT,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{s:?}: port {p:?} is not a number 1-65535"))?,
            ),
            None => (s, L2TP_PORT),
        };
        if host.is_empty()
            || host.contains(':')
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(format!("{s:?} is not HOST[:PORT]"));
        }
        if port == 0 {
            return Err(format!("{s:?}: port 0"));
        }
        Ok(PeerAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl TryFrom<String> for PeerAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<PeerAddr> for String {
    fn from(p: PeerAddr) -> String {
        p.to_string()
    }
}

/// A listen address: `ADDR[:PORT]` (`0.0.0.0`, `[::]:1701`, `::`), port 1701 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(ListenAddr(sa));
        }
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map(|ip| ListenAddr(SocketAddr::new(ip, L2TP_PORT)))
            .map_err(|_| format!("{s:?} is not ADDRESS[:PORT]"))
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ListenAddr> for String {
    fn from(a: ListenAddr) -> String {
        a.0.to_string()
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `lns`, `lac` or `client`. Required.
    pub role: Role,
    /// Process-wide settings.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// Tunnel (control connection) settings, both roles.
    #[serde(default)]
    pub tunnel: TunnelConfig,
    /// Session datapath defaults, both roles.
    #[serde(default)]
    pub session: SessionConfig,
    /// PPP settings, both roles.
    #[serde(default)]
    pub ppp: PppConfig,
    /// LNS settings; required for `role = "lns"`, refused otherwise.
    #[serde(default)]
    pub lns: Option<LnsConfig>,
    /// What to dial; required for `role = "lac"` and `"client"`, refused for `"lns"`.
    #[serde(default)]
    pub dial: Option<DialConfig>,
}

/// `[daemon]`: process-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Management socket path. Default: `/run/l2tpd.sock` as root, else
    /// `$XDG_RUNTIME_DIR/l2tpd.sock` (see [`l2tp_mgmt::default_socket_path`]).
    pub management_socket: Option<PathBuf>,
    /// Address for the Prometheus `/metrics` endpoint (`127.0.0.1:9701`); none by default.
    pub metrics_listen: Option<SocketAddr>,
    /// Log verbosity (default `info`); `RUST_LOG` overrides it.
    pub log_level: LogLevel,
    /// Debug mask given to new tunnels and sessions (default 0).
    pub debug_mask: DebugMask,
    /// Datapath: `userspace` (default), `kernel` or `auto`.
    pub datapath: DatapathMode,
}

impl DaemonConfig {
    /// The management socket path to use.
    pub fn management_socket_path(&self) -> PathBuf {
        self.management_socket
            .clone()
            .unwrap_or_else(l2tp_mgmt::default_socket_path)
    }
}

/// `[tunnel]`: control connection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TunnelConfig {
    /// Host Name AVP we send (RFC 2661 §4.4.3). Default: the system host name.
    pub host_name: Option<String>,
    /// Shared tunnel secret for tunnel authentication (RFC 2661 §5.1.1) and AVP hiding.
    pub secret: Option<Secret>,
    /// Hide sensitive AVPs with the secret (RFC 2661 §4.3). Requires `secret`.
    pub hide_avps: bool,
    /// Seconds of silence before a HELLO is sent (RFC 2661 §6.5). Default 60.
    pub hello_interval: u64,
    /// Retransmissions of a control message before the tunnel is given up
    /// (RFC 2661 §5.8). Default 5.
    pub retries: u32,
    /// Receive Window Size we advertise (RFC 2661 §4.4.3). Default 4.
    pub receive_window: u16,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            host_name: None,
            secret: None,
            hide_avps: false,
            hello_interval: 60,
            retries: 5,
            receive_window: 4,
        }
    }
}

impl TunnelConfig {
    /// The Host Name to send: configured, else the system's, else `l2tpd`.
    pub fn host_name(&self) -> String {
        if let Some(h) = &self.host_name {
            return h.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "l2tpd".into())
    }
}

/// `[session]`: datapath defaults for new sessions (changeable later with `l2tpctl set`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Send sequence numbers on data messages (RFC 2661 §5.4). Default false.
    pub send_seq: bool,
    /// Drop data messages without sequence numbers. Default false.
    pub recv_seq: bool,
    /// Hold out-of-order packets up to this many ms to reorder them; 0 drops them. Default 0.
    pub reorder_timeout_ms: u32,
}

/// `[ppp]`: PPP settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PppConfig {
    /// Authentication protocols, most preferred first. LNS: what it asks the peer for, in
    /// this order when the peer Naks. Client: what it accepts. Default
    /// `["mschapv2", "chap-md5", "pap"]`.
    pub auth: Vec<AuthMethod>,
    /// MTU of the PPP link / TUN interface. Default 1460: room for IP (20) + UDP (8) +
    /// L2TP (up to 12) + PPP (4) headers on a 1500-byte path.
    pub mtu: u16,
    /// MRU we ask the peer for (RFC 1661 §6.1). Default 1460.
    pub mru: u16,
    /// DNS servers (primary, secondary). LNS: offered in IPCP (RFC 1877). Client: unused
    /// (the client asks for the LNS's). At most two.
    pub dns: Vec<Ipv4Addr>,
    /// Seconds between LCP Echo-Requests; 0 disables them. Default 30.
    pub lcp_echo_interval: u64,
    /// Unanswered echoes before the link is declared dead. Default 4.
    pub lcp_echo_failures: u32,
}

impl Default for PppConfig {
    fn default() -> Self {
        PppConfig {
            auth: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            mtu: 1460,
            mru: 1460,
            dns: Vec::new(),
            lcp_echo_interval: 30,
            lcp_echo_failures: 4,
        }
    }
}

/// A user defined inside the configuration (`[[lns.users]]`), besides the users file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineUser {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Fixed IPv4 address.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
}

impl fmt::Debug for InlineUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("ipv4", &self.ipv4)
            .finish()
    }
}

/// `[lns]`: the network server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LnsConfig {
    /// UDP addresses to listen on, IPv4 and/or IPv6. Default `["0.0.0.0:1701"]`.
    pub listen: Vec<ListenAddr>,
    /// Peers allowed to open tunnels (CIDR); empty allows everyone. Default empty.
    pub allowed_peers: Vec<IpCidr>,
    /// Users file (see [`crate::users`]). Optional when `users` is given.
    pub users_file: Option<PathBuf>,
    /// Users defined inline (`[[lns.users]]`).
    pub users: Vec<InlineUser>,
    /// Addresses handed to clients: `FIRST-LAST` or `NETWORK/LEN`. Required.
    pub ipv4_pool: Option<Ipv4PoolSpec>,
    /// The server's own address on the point-to-point links. Required.
    pub local_ipv4: Option<Ipv4Addr>,
    /// IPv6 prefix for IPv6CP: a /64 gives each session an interface id in it, a shorter
    /// prefix gives each session its own /64 (see [`crate::pool::Ipv6Pool`]). Default none
    /// (IPv6CP refused).
    pub ipv6_prefix: Option<Ipv6Cidr>,
    /// Seconds after which a session is closed regardless; 0 = never. Default 0.
    pub session_timeout: u64,
    /// Seconds without data after which a session is closed; 0 = never. Default 0.
    pub idle_timeout: u64,
    /// Most tunnels at once. Default 1024.
    pub max_tunnels: u32,
    /// Most incoming tunnels half-open (SCCRQ answered, SCCCN not yet) at once, on top of
    /// `max_tunnels`: when full, a new SCCRQ evicts the oldest. Default 4096.
    pub max_half_open_tunnels: u32,
    /// Most sessions at once, all tunnels together. Default 16384.
    pub max_sessions: u32,
    /// `per-session` (one TUN each) or `shared` (one TUN). Default `per-session`.
    pub interface_mode: InterfaceMode,
    /// Interface name prefix: `l2tp` gives `l2tp0`, `l2tp1`, … (per-session) or `l2tp0`
    /// (shared). Default `l2tp`, at most 10 characters.
    pub interface_prefix: String,
}

impl Default for LnsConfig {
    fn default() -> Self {
        LnsConfig {
            listen: vec![ListenAddr(SocketAddr::from(([0, 0, 0, 0], L2TP_PORT)))],
            allowed_peers: Vec::new(),
            users_file: None,
            users: Vec::new(),
            ipv4_pool: None,
            local_ipv4: None,
            ipv6_prefix: None,
            session_timeout: 0,
            idle_timeout: 0,
            max_tunnels: 1024,
            max_half_open_tunnels: 4096,
            max_sessions: 16384,
            interface_mode: InterfaceMode::PerSession,
            interface_prefix: "l2tp".into(),
        }
    }
}

impl LnsConfig {
    /// The TUN name to open: a kernel pattern (`l2tp%d`) per session, or `l2tp0` shared.
    pub fn interface_name(&self) -> String {
        match self.interface_mode {
            InterfaceMode::PerSession => format!("{}%d", self.interface_prefix),
            InterfaceMode::Shared | InterfaceMode::None => format!("{}0", self.interface_prefix),
        }
    }

    /// Whether `peer` may open a tunnel.
    pub fn peer_allowed(&self, peer: IpAddr) -> bool {
        self.allowed_peers.is_empty() || self.allowed_peers.iter().any(|c| c.contains(peer))
    }

    /// Loads the users file (when set) and adds the inline users (which win on a clash).
    pub fn load_users(&self) -> Result<Users, UsersError> {
        let mut users = match &self.users_file {
            Some(p) => Users::load(p)?,
            None => Users::new(),
        };
        for u in &self.users {
            users.insert(User {
                name: u.name.clone(),
                password: u.password.clone(),
                ipv4: u.ipv4,
            });
        }
        if let Some(local) = self.local_ipv4 {
            users.check_fixed_addresses(local)?;
        }
        Ok(users)
    }
}

/// `[dial]`: the LNS(es) a LAC or client connects to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialConfig {
    /// LNS addresses, `host[:port]` (port 1701 by default), tried in order. Required.
    pub peers: Vec<PeerAddr>,
    /// PPP user name. Required.
    pub user: String,
    /// PPP password. Required.
    pub password: Secret,
    /// Sessions (calls) to place in the tunnel. Default 1.
    pub sessions: u32,
    /// Dial again when the tunnel or session goes down. Default true.
    pub redial: bool,
    /// First redial delay in seconds; doubles after each failure. Default 1.
    pub redial_initial: u64,
    /// Longest redial delay in seconds. Default 300.
    pub redial_max: u64,
    /// TUN interface name or kernel pattern. Default `l2tp%d`.
    pub interface: String,
    /// Extra prefixes routed through the tunnel. The peer's own address is always reachable
    /// (point-to-point `local peer PEER/32`). Default none.
    pub routes: Vec<IpCidr>,
    /// Route everything (0.0.0.0/0) through the tunnel, keeping a host route to the LNS
    /// via the current gateway. Default false.
    pub default_route: bool,
}

impl Default for DialConfig {
    fn default() -> Self {
        DialConfig {
            peers: Vec::new(),
            user: String::new(),
            password: Secret::default(),
            sessions: 1,
            redial: true,
            redial_initial: 1,
            redial_max: 300,
            interface: "l2tp%d".into(),
            routes: Vec::new(),
            default_route: false,
        }
    }
}

impl DialConfig {
    /// Redial delay after `failures` consecutive failures (exponential, capped).
    pub fn redial_delay(&self, failures: u32) -> std::time::Duration {
        let secs = self
            .redial_initial
            .saturating_mul(1u64.checked_shl(failures.min(63)).unwrap_or(u64::MAX))
            .min(self.redial_max);
        std::time::Duration::from_secs(secs)
    }
}

fn valid_ifname(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!("at most {max} characters, got {:?}", name));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '%'))
    {
        return Err(format!("only letters, digits, - _ . allowed, got {name:?}"));
    }
    Ok(())
}

impl Config {
    /// Parses and validates a configuration from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::parse_with_origin(text, "<string>")
    }

    fn parse_with_origin(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a configuration file. The warnings say what deserves
    /// attention (secrets in a file others can read, …).
    pub fn load(path: &Path) -> Result<(Config, Vec<Warning>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let cfg = Self::parse_with_origin(&text, &path.display().to_string())?;
        let mut warnings = cfg.warnings();
        if cfg.has_secrets() {
            warnings.extend(secret_file_warning(path));
        }
        Ok((cfg, warnings))
    }

    /// Whether the configuration itself holds secrets (tunnel secret, passwords).
    pub fn has_secrets(&self) -> bool {
        self.tunnel.secret.is_some()
            || self.dial.as_ref().is_some_and(|d| !d.password.is_empty())
            || self.lns.as_ref().is_some_and(|l| !l.users.is_empty())
    }

    /// Advice that does not stop the daemon (permissions of the users file, PAP in use…).
    pub fn warnings(&self) -> Vec<Warning> {
        let mut w = Vec::new();
        if let Some(lns) = &self.lns {
            if let Some(p) = &lns.users_file {
                w.extend(secret_file_warning(p));
            }
            if lns.allowed_peers.is_empty() && self.tunnel.secret.is_none() {
                w.push(Warning(
                    "lns: no tunnel.secret and no lns.allowed_peers: any host can open tunnels"
                        .into(),
                ));
            }
        }
        if self.ppp.auth.first() == Some(&AuthMethod::Pap) {
            w.push(Warning(
                "ppp.auth: PAP is preferred; passwords cross the tunnel in clear".into(),
            ));
        }
        w
    }

    /// Checks every value; all problems are reported together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errs = Vec::new();
        let mut bad = |field: &str, message: String| {
            errs.push(FieldError {
                field: field.to_string(),
                message,
            })
        };

        // [tunnel]
        let t = &self.tunnel;
        if t.hello_interval < 1 {
            bad(
                "tunnel.hello_interval",
                format!("must be ≥ 1 s, got {}", t.hello_interval),
            );
        }
        if t.hello_interval > 3600 {
            bad(
                "tunnel.hello_interval",
                format!("must be ≤ 3600 s, got {}", t.hello_interval),
            );
        }
        if !(1..=20).contains(&t.retries) {
            bad("tunnel.retries", format!("must be 1-20, got {}", t.retries));
        }
        if t.receive_window < 1 {
            bad("tunnel.receive_window", "must be ≥ 1, got 0".into());
        }
        if t.hide_avps && t.secret.is_none() {
            bad(
                "tunnel.hide_avps",
                "needs tunnel.secret (RFC 2661 §4.3 hides AVPs with the shared secret)".into(),
            );
        }
        if t.secret.as_ref().is_some_and(Secret::is_empty) {
            bad(
                "tunnel.secret",
                "must not be empty (omit it instead)".into(),
            );
        }
        if let Some(h) = &t.host_name {
            if h.is_empty() {
                bad("tunnel.host_name", "must not be empty".into());
            }
        }

        // [session]
        if self.session.reorder_timeout_ms > 60_000 {
            bad(
                "session.reorder_timeout_ms",
                format!(
                    "must be ≤ 60000 ms, got {}",
                    self.session.reorder_timeout_ms
                ),
            );
        }

        // [ppp]
        let p = &self.ppp;
        if p.auth.is_empty() {
            bad("ppp.auth", "needs at least one method".into());
        }
        for (i, m) in p.auth.iter().enumerate() {
            if p.auth[..i].contains(m) {
                bad("ppp.auth", format!("{m:?} listed twice"));
            }
        }
        for (name, v) in [("ppp.mtu", p.mtu), ("ppp.mru", p.mru)] {
            if !(576..=9000).contains(&v) {
                bad(name, format!("must be 576-9000, got {v}"));
            }
        }
        if p.dns.len() > 2 {
            bad(
                "ppp.dns",
                format!(
                    "at most 2 servers (primary, secondary), got {}",
                    p.dns.len()
                ),
            );
        }
        if p.lcp_echo_interval > 0 && p.lcp_echo_failures == 0 {
            bad(
                "ppp.lcp_echo_failures",
                "must be ≥ 1 when echoes are on".into(),
            );
        }

        // Role-specific sections.
        match self.role {
            Role::Lns => {
                if self.dial.is_some() {
                    bad(
                        "dial",
                        "not used by role \"lns\" (remove the section)".into(),
                    );
                }
                match &self.lns {
                    None => bad("lns", "section required for role \"lns\"".into()),
                    Some(l) => validate_lns(l, &mut bad),
                }
            }
            Role::Lac | Role::Client => {
                if self.lns.is_some() {
                    bad(
                        "lns",
                        format!("not used by role \"{}\" (remove the section)", self.role),
                    );
                }
                match &self.dial {
                    None => bad(
                        "dial",
                        format!("section required for role \"{}\"", self.role),
                    ),
                    Some(d) => validate_dial(d, &mut bad),
                }
            }
        }

        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errs))
        }
    }
}

fn validate_lns(l: &LnsConfig, bad: &mut impl FnMut(&str, String)) {
    if l.listen.is_empty() {
        bad("lns.listen", "needs at least one address".into());
    }
    for (i, a) in l.listen.iter().enumerate() {
        if l.listen[..i].contains(a) {
            bad("lns.listen", format!("{} listed twice", a.0));
        }
    }
    match (&l.ipv4_pool, l.local_ipv4) {
        (None, _) => bad(
            "lns.ipv4_pool",
            "required (e.g. \"203.0.113.10-203.0.113.200\" or \"203.0.113.0/24\")".into(),
        ),
        (Some(pool), Some(local)) if pool.contains(local) && pool.capacity() == 1 => bad(
            "lns.local_ipv4",
            format!("{local} is the only address of lns.ipv4_pool"),
        ),
        _ => {}
    }
    match l.local_ipv4 {
        None => bad(
            "lns.local_ipv4",
            "required (the server's own address)".into(),
        ),
        Some(ip) if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() => {
            bad("lns.local_ipv4", format!("{ip} is not a unicast address"))
        }
        Some(_) => {}
    }
    if let Some(p6) = &l.ipv6_prefix {
        if p6.len() > 64 {
            bad(
                "lns.ipv6_prefix",
                format!("must be /64 or shorter for IPv6CP, got /{}", p6.len()),
            );
        }
    }
    if l.users_file.is_none() && l.users.is_empty() {
        bad(
            "lns.users_file",
            "required unless users are given inline ([[lns.users]])".into(),
        );
    }
    for (i, u) in l.users.iter().enumerate() {
        if u.name.is_empty() {
            bad(&format!("lns.users[{i}].name"), "must not be empty".into());
        }
        let Some(a) = u.ipv4 else { continue };
        if Some(a) == l.local_ipv4 {
            bad(
                &format!("lns.users[{i}].ipv4"),
                format!("{a} is the server's own address (lns.local_ipv4)"),
            );
        }
        if let Some(j) = l.users[..i].iter().position(|o| o.ipv4 == Some(a)) {
            bad(
                &format!("lns.users[{i}].ipv4"),
                format!("{a} is already the fixed address of lns.users[{j}]"),
            );
        }
    }
    if l.max_tunnels < 1 || l.max_tunnels > 65535 {
        bad(
            "lns.max_tunnels",
            format!(
                "must be 1-65535 (tunnel ids are 16 bits), got {}",
                l.max_tunnels
            ),
        );
    }
    if l.max_half_open_tunnels < 1 || l.max_half_open_tunnels > 65535 {
        bad(
            "lns.max_half_open_tunnels",
            format!(
                "must be 1-65535 (tunnel ids are 16 bits), got {}",
                l.max_half_open_tunnels
            ),
        );
    }
    if l.max_sessions < 1 {
        bad("lns.max_sessions", "must be ≥ 1, got 0".into());
    }
    if let Err(e) = valid_ifname(&l.interface_prefix, 10) {
        bad("lns.interface_prefix", e);
    }
    if l.interface_prefix.contains('%') {
        bad("lns.interface_prefix", "must not contain %".into());
    }
}

fn validate_dial(d: &DialConfig, bad: &mut impl FnMut(&str, String)) {
    if d.peers.is_empty() {
        bad(
            "dial.peers",
            "needs at least one LNS (\"host[:port]\")".into(),
        );
    }
    if d.user.is_empty() {
        bad("dial.user", "required".into());
    }
    if d.password.is_empty() {
        bad("dial.password", "required".into());
    }
    if !(1..=1000).contains(&d.sessions) {
        bad(
            "dial.sessions",
            format!("must be 1-1000, got {}", d.sessions),
        );
    }
    if d.redial_initial < 1 {
        bad("dial.redial_initial", "must be ≥ 1 s, got 0".into());
    }
    if d.redial_max < d.redial_initial {
        bad(
            "dial.redial_max",
            format!(
                "must be ≥ dial.redial_initial ({} s), got {}",
                d.redial_initial, d.redial_max
            ),
        );
    }
    if let Err(e) = valid_ifname(&d.interface, 15) {
        bad("dial.interface", e);
    }
}

/// A warning when `path` (holding secrets) can be read by its group or others.
pub fn secret_file_warning(path: &Path) -> Option<Warning> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        Warning(format!(
            "{} holds secrets but has mode {:04o}: run chmod 600 {}",
            path.display(),
            mode & 0o7777,
            path.display()
        ))
    })
}

/// Flags every mode accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct CommonArgs {
    /// Management socket path [default: /run/l2tpd.sock, or $XDG_RUNTIME_DIR/l2tpd.sock when not root].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9701).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<LogLevel>,
    /// Datapath: userspace, kernel (the kernel's PPPoL2TP driver) or auto.
    #[arg(long, value_name = "MODE")]
    pub datapath: Option<DatapathMode>,
}

fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    match s {
        "error" => Ok(LogLevel::Error),
        "warn" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        "trace" => Ok(LogLevel::Trace),
        _ => Err(format!("{s:?}: expected error, warn, info, debug or trace")),
    }
}

impl CommonArgs {
    /// Applies the flags over a configuration (flags win).
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(s) = &self.socket {
            cfg.daemon.management_socket = Some(s.clone());
        }
        if let Some(m) = self.metrics {
            cfg.daemon.metrics_listen = Some(m);
        }
        if let Some(l) = self.log_level {
            cfg.daemon.log_level = l;
        }
        if let Some(d) = self.datapath {
            cfg.daemon.datapath = d;
        }
    }
}

/// `l2tpd run --config FILE`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML), see docs/configuration.md.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Common flags (override the file).
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `l2tpd client --server HOST[:PORT] --user NAME --password PASS [--secret S] [--sessions N]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ClientArgs {
    /// The LNS to dial, HOST[:PORT] (port 1701 by default). Repeat for fallbacks.
    #[arg(long, value_name = "HOST[:PORT]", required = true)]
    pub server: Vec<String>,
    /// PPP user name.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// PPP password (visible in `ps`: prefer a config file with mode 0600).
    #[arg(long, value_name = "PASS")]
    pub password: String,
    /// Tunnel secret shared with the LNS.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,
    /// Number of sessions to open.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub sessions: u32,
    /// TUN interface name or pattern.
    #[arg(long, value_name = "NAME", default_value = "l2tp%d")]
    pub interface: String,
    /// Route everything through the tunnel.
    #[arg(long)]
    pub default_route: bool,
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `l2tpd lns --listen ADDR[:PORT] --pool FIRST-LAST --local-ip IP --user NAME:PASS [--secret S]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct LnsArgs {
    /// Address to listen on, ADDR[:PORT]; repeat for several (IPv4 and IPv6).
    #[arg(long, value_name = "ADDR[:PORT]", default_value = "0.0.0.0:1701")]
    pub listen: Vec<String>,
    /// Client addresses, FIRST-LAST or NETWORK/LEN.
    #[arg(long, value_name = "FIRST-LAST")]
    pub pool: String,
    /// The server's own address on the point-to-point links.
    #[arg(long, value_name = "IP")]
    pub local_ip: Ipv4Addr,
    /// A user, NAME:PASS; repeat for several.
    #[arg(long = "user", value_name = "NAME:PASS")]
    pub users: Vec<String>,
    /// A users file instead of (or besides) --user.
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// Tunnel secret.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,
    /// DNS server offered to clients (repeat for a secondary).
    #[arg(long, value_name = "IP")]
    pub dns: Vec<Ipv4Addr>,
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

fn flag_error(field: &str, message: String) -> ConfigError {
    ConfigError::Invalid(vec![FieldError {
        field: field.to_string(),
        message,
    }])
}

/// Builds (and validates) the configuration of `l2tpd client …`.
pub fn config_from_client_args(a: &ClientArgs) -> Result<(Config, Vec<Warning>), ConfigError> {
    let peers = a
        .server
        .iter()
        .map(|s| s.parse::<PeerAddr>().map_err(|e| flag_error("--server", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cfg = Config {
        role: Role::Client,
        daemon: DaemonConfig::default(),
        tunnel: TunnelConfig {
            secret: a.secret.clone().map(Secret::from),
            ..TunnelConfig::default()
        },
        session: SessionConfig::default(),
        ppp: PppConfig::default(),
        lns: None,
        dial: Some(DialConfig {
            peers,
            user: a.user.clone(),
            password: Secret::from(a.password.clone()),
            sessions: a.sessions,
            interface: a.interface.clone(),
            default_route: a.default_route,
            ..DialConfig::default()
        }),
    };
    a.common.apply(&mut cfg);
    cfg.validate()?;
    let mut w = cfg.warnings();
    w.push(Warning(
        "--password on the command line is visible to other local users (ps): prefer a config file with mode 0600".into(),
    ));
    Ok((cfg, w))
}

/// Builds (and validates) the configuration of `l2tpd lns …`.
pub fn config_from_lns_args(a: &LnsArgs) -> Result<(Config, Vec<Warning>), ConfigError> {
    let listen = a
        .listen
        .iter()
        .map(|s| {
            s.parse::<ListenAddr>()
                .map_err(|e| flag_error("--listen", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pool: Ipv4PoolSpec = a
        .pool
        .parse()
        .map_err(|e: crate::pool::PoolError| flag_error("--pool", e.to_string()))?;
    let users = a
        .users
        .iter()
        .map(|u| match u.split_once(':') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => Ok(InlineUser {
                name: n.to_string(),
                password: p.to_string(),
                ipv4: None,
            }),
            _ => Err(flag_error(
                "--user",
                format!(
                    "expected NAME:PASS, got {:?}",
                    u.split(':').next().unwrap_or("")
                ),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cfg = Config {
        role: Role::Lns,
        daemon: DaemonConfig::default(),
        tunnel: TunnelConfig {
            secret: a.secret.clone().map(Secret::from),
            ..TunnelConfig::default()
        },
        session: SessionConfig::default(),
        ppp: PppConfig {
            dns: a.dns.clone(),
            ..PppConfig::default()
        },
        lns: Some(LnsConfig {
            listen,
            users_file: a.users_file.clone(),
            users,
            ipv4_pool: Some(pool),
            local_ipv4: Some(a.local_ip),
            ..LnsConfig::default()
        }),
        dial: None,
    };
    a.common.apply(&mut cfg);
    cfg.validate()?;
    let mut w = cfg.warnings();
    if !a.users.is_empty() {
        w.push(Warning(
            "--user NAME:PASS on the command line is visible to other local users (ps): prefer a users file with mode 0600".into(),
        ));
    }
    Ok((cfg, w))
}

/// Loads the configuration of `l2tpd run --config FILE` and applies the common flags.
pub fn config_from_run_args(a: &RunArgs) -> Result<(Config, Vec<Warning>), ConfigError> {
    let (mut cfg, w) = Config::load(&a.config)?;
    a.common.apply(&mut cfg);
    Ok((cfg, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LNS: &str = r#"
role = "lns"
[lns]
ipv4_pool = "203.0.113.10-203.0.113.200"
local_ipv4 = "203.0.113.1"
users_file = "/etc/l2tpd/users"
"#;

    fn errors_of(text: &str) -> Vec<String> {
        match Config::from_toml_str(text) {
            Err(ConfigError::Invalid(v)) => v.iter().map(|e| e.to_string()).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn minimal_lns_gets_documented_defaults() {
        let c = Config::from_toml_str(LNS).unwrap();
        assert_eq!(c.role, Role::Lns);
        let l = c.lns.as_ref().unwrap();
        assert_eq!(l.listen, vec![ListenAddr("0.0.0.0:1701".parse().unwrap())]);
        assert_eq!(c.ppp.mtu, 1460);
        assert_eq!(c.ppp.mru, 1460);
        assert_eq!(
            c.ppp.auth,
            vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap]
        );
        assert_eq!(c.tunnel.hello_interval, 60);
        assert_eq!(c.tunnel.retries, 5);
        assert_eq!(c.tunnel.receive_window, 4);
        assert!(!c.session.send_seq && !c.session.recv_seq);
        assert_eq!(c.session.reorder_timeout_ms, 0);
        assert_eq!(l.interface_mode, InterfaceMode::PerSession);
        assert_eq!(l.interface_name(), "l2tp%d");
        assert_eq!(c.daemon.log_level, LogLevel::Info);
        assert_eq!(c.daemon.metrics_listen, None);
        assert!(l.peer_allowed("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_field() {
        let errs = errors_of(&format!("{LNS}\n[tunnel]\nhello_interval = 0\n"));
        assert_eq!(errs, vec!["tunnel.hello_interval: must be ≥ 1 s, got 0"]);
        let errs = errors_of(
            "role = \"lns\"\n[tunnel]\nhide_avps = true\nretries = 0\n[ppp]\nmtu = 100\ndns = [\"1.1.1.1\",\"8.8.8.8\",\"9.9.9.9\"]\n[lns]\n",
        );
        let fields: Vec<&str> = errs.iter().map(|e| e.split(':').next().unwrap()).collect();
        assert_eq!(
            fields,
            vec![
                "tunnel.retries",
                "tunnel.hide_avps",
                "ppp.mtu",
                "ppp.dns",
                "lns.ipv4_pool",
                "lns.local_ipv4",
                "lns.users_file"
            ],
            "{errs:#?}"
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_parse_errors_with_the_key() {
        let e = Config::from_toml_str(&format!("{LNS}\n[tunnel]\nhelo_interval = 5\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("helo_interval"), "{e}");
        let e = Config::from_toml_str("role = \"lns\"\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = Config::from_toml_str("role = \"server\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server"), "{e}");
        let e = Config::from_toml_str(&LNS.replace("203.0.113.10-", "203.0.113.250-"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ipv4_pool") && e.contains("after the last"),
            "{e}"
        );
        let e = Config::from_toml_str(&format!("{LNS}\n[ppp]\nauth = [\"chap-sha1\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("chap-sha1"), "{e}");
    }

    #[test]
    fn role_sections_must_match() {
        let errs = errors_of("role = \"client\"\n");
        assert_eq!(errs, vec!["dial: section required for role \"client\""]);
        let errs = errors_of(&format!(
            "{LNS}\n[dial]\npeers=[\"x\"]\nuser=\"u\"\npassword=\"p\"\n"
        ));
        assert_eq!(
            errs,
            vec!["dial: not used by role \"lns\" (remove the section)"]
        );
    }

    #[test]
    fn client_peers_default_port_and_redial_backoff() {
        let c = Config::from_toml_str(
            r#"
role = "client"
[daemon]
debug_mask = "data,seq"
[dial]
peers = ["lns.example.net", "192.0.2.1:1702", "[2001:db8::1]:1701"]
user = "alice"
password = "pw"
redial_initial = 2
redial_max = 30
routes = ["10.0.0.0/8", "2001:db8:1::/48"]
"#,
        )
        .unwrap();
        assert_eq!(c.daemon.debug_mask, DebugMask(0xc));
        let d = c.dial.unwrap();
        assert_eq!(d.peers[0].to_string(), "lns.example.net:1701");
        assert_eq!(d.peers[1].port, 1702);
        assert_eq!(d.peers[2].host, "2001:db8::1");
        assert_eq!(d.peers[2].to_string(), "[2001:db8::1]:1701");
        let secs: Vec<u64> = (0..6).map(|n| d.redial_delay(n).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 30, 30]);
        assert_eq!(d.redial_delay(200).as_secs(), 30, "no overflow");
        assert!(Config::from_toml_str(
            "role=\"client\"\n[dial]\npeers=[\"bad host:1\"]\nuser=\"u\"\npassword=\"p\"\n"
        )
        .is_err());
    }

    #[test]
    fn quick_start_flags_build_the_same_config() {
        use clap::Parser;
        #[derive(Parser)]
        enum Cli {
            Client(ClientArgs),
            Lns(LnsArgs),
        }
        let Cli::Client(a) = Cli::try_parse_from([
            "l2tpd",
            "client",
            "--server",
            "192.0.2.1",
            "--user",
            "alice",
            "--password",
            "pw",
            "--sessions",
            "2",
            "--secret",
            "s",
        ])
        .unwrap() else {
            panic!()
        };
        let (c, w) = config_from_client_args(&a).unwrap();
        let d = c.dial.as_ref().unwrap();
        assert_eq!(d.peers[0].to_string(), "192.0.2.1:1701");
        assert_eq!(d.sessions, 2);
        assert_eq!(c.tunnel.secret.as_ref().map(Secret::expose), Some("s"));
        assert!(w.iter().any(|w| w.0.contains("--password")));

        let Cli::Lns(a) = Cli::try_parse_from([
            "l2tpd",
            "lns",
            "--listen",
            "127.0.0.1:1702",
            "--listen",
            "::1",
            "--pool",
            "10.1.0.10-10.1.0.20",
            "--local-ip",
            "10.1.0.1",
            "--user",
            "alice:pw",
            "--user",
            "bob:pw2",
            "--socket",
            "/tmp/x.sock",
        ])
        .unwrap() else {
            panic!()
        };
        let (c, _) = config_from_lns_args(&a).unwrap();
        let l = c.lns.as_ref().unwrap();
        assert_eq!(l.listen[1].0, "[::1]:1701".parse().unwrap());
        assert_eq!(l.ipv4_pool.unwrap().capacity(), 11);
        let users = l.load_users().unwrap();
        assert_eq!(users.get("bob").unwrap().password, "pw2");
        assert_eq!(
            c.daemon.management_socket_path(),
            PathBuf::from("/tmp/x.sock")
        );

        let Cli::Lns(bad) = Cli::try_parse_from([
            "l2tpd",
            "lns",
            "--pool",
            "10.1.0.10-10.1.0.20",
            "--local-ip",
            "10.1.0.1",
            "--user",
            "alice",
        ])
        .unwrap() else {
            panic!()
        };
        let e = config_from_lns_args(&bad).unwrap_err().to_string();
        assert!(e.contains("--user: expected NAME:PASS"), "{e}");
    }

    #[test]
    fn debug_output_of_a_configuration_holds_no_secret() {
        let c = Config::from_toml_str(
            "role = \"client\"\n[tunnel]\nsecret = \"tunnel-s3cr3t\"\n[dial]\n\
             peers = [\"192.0.2.1\"]\nuser = \"alice\"\npassword = \"ppp-p4ss\"\n",
        )
        .unwrap();
        let dump = format!("{c:?} {c:#?}");
        assert!(
            !dump.contains("tunnel-s3cr3t") && !dump.contains("ppp-p4ss"),
            "{dump}"
        );
        assert!(dump.contains("<redacted>"));
        assert_eq!(c.dial.unwrap().password.expose(), "ppp-p4ss");
    }

    #[test]
    fn readable_secret_files_are_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("l2tpd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("users");
        std::fs::write(&users, "alice pw\n").unwrap();
        let cfg_path = dir.join("lns.toml");
        let text = LNS.replace("/etc/l2tpd/users", &users.display().to_string())
            + "[tunnel]\nsecret = \"s\"\n";
        std::fs::write(&cfg_path, text).unwrap();
        std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&cfg_path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (c, w) = Config::load(&cfg_path).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w
            .iter()
            .any(|w| w.0.contains("users") && w.0.contains("0644")));
        assert!(w
            .iter()
            .any(|w| w.0.contains("lns.toml") && w.0.contains("0640")));
        assert_eq!(c.lns.unwrap().load_users().unwrap().len(), 1);
        std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&cfg_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (_, w) = Config::load(&cfg_path).unwrap();
        assert!(w.is_empty(), "{w:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
