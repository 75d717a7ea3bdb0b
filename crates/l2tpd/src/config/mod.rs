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

pub use radius::{AuthSource, DaeClientConfig, RadiusConfig, RadiusServer};

use crate::addr::{IpCidr, Ipv6Cidr};
use crate::pool::Ipv4PoolSpec;
use crate::secret::Secret;
use crate::users::{User, Users, UsersError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use thiserror::Error;

mod cli;
pub mod failover;
pub mod lac;
pub mod profiles;
mod radius;
mod settings;
#[cfg(test)]
mod tests;
mod validate;
mod values;

pub use cli::*;
pub use values::{DebugMask, ListenAddr, PeerAddr};

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

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text lines (colour only on a terminal).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `message`, `target` and each field).
    Json,
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
    /// RADIUS authentication, accounting and dynamic authorization (LNS only).
    #[serde(default)]
    pub radius: Option<RadiusConfig>,
    /// The LAC relay (`role = "lac"`): PPPoE subscribers relayed to an LNS. Without it, a
    /// `lac` dials like a `client`.
    #[serde(default)]
    pub lac: Option<lac::LacConfig>,
    /// RFC 4951 failover (both roles; offered by default).
    #[serde(default)]
    pub failover: failover::FailoverConfig,
    /// `[[peer]]`: per-peer profiles (tunnel secret, AVP hiding, our Host Name, use of proxy
    /// AVPs), first match wins.
    #[serde(default, rename = "peer", skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<profiles::PeerProfile>,
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
    /// Log line format: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// Debug mask given to new tunnels and sessions (default 0).
    pub debug_mask: DebugMask,
    /// Unprivileged user to become once the sockets are bound (root only); none by default.
    pub user: Option<String>,
    /// Group to become with `user` (default: the user's primary group).
    pub group: Option<String>,
    /// Datapath: `userspace` (default), `kernel` or `auto`.
    pub datapath: DatapathMode,
    /// Directory of the crash journal (docs/upgrade.md, "Crash recovery"); none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// `fsync` the journal after every write (survives a power loss too, at a cost per
    /// control event). Default false: the journal is about the process dying.
    pub state_fsync: bool,
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
    /// Receive Window Size we advertise (RFC 2661 §4.4.3): how many control messages the
    /// peer may have outstanding. Default 16 (a peer that sends only on a timer gets 16
    /// messages a second through, not 4).
    pub receive_window: u16,
    /// Seconds a call may wait for the peer's next set-up message (ICRP, ICCN, OCRP/OCCN)
    /// before it is cleared with CDN result 10; counted from when our message went on the
    /// wire, and restarted while the peer is delivering other calls' set-up messages. 0 waits
    /// for ever. Default 60.
    pub connect_timeout: u64,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            host_name: None,
            secret: None,
            hide_avps: false,
            hello_interval: 60,
            retries: 5,
            receive_window: 16,
            connect_timeout: 60,
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
    /// Seconds between line-quality probes (timed LCP Echo-Requests apart from the keepalive,
    /// kept as 100-second periods for 24 hours: `l2tpctl quality`, `l2tpctl graph`); 0 turns
    /// them off. 1 to 100. Default 1.
    pub quality_interval: u64,
    /// Seconds PPP may take from the session coming up to the network phase (LCP,
    /// authentication and the first NCP); past it the session is cleared with a CDN (and a
    /// client redials with backoff). 0: no bound. Default 60.
    pub establish_timeout: u64,
    /// Who runs PPP on a session: `builtin` (default: the daemon's own PPP) or `pppd` (the
    /// kernel datapath hands each session's PPPoL2TP socket to pppd's `pppol2tp` plugin).
    pub mode: PppMode,
    /// `pppd` mode: the pppd to run. Default `/usr/sbin/pppd`.
    pub pppd_path: PathBuf,
    /// `pppd` mode: options given to every pppd after the daemon's own (authentication,
    /// addresses, `logfile`, further plugins…). Default none.
    pub pppd_options: Vec<String>,
}

/// Who runs PPP on a session (see docs/datapath.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PppMode {
    /// The daemon's own PPP (`ppp` crate), on either datapath.
    #[default]
    Builtin,
    /// The real pppd with its `pppol2tp` plugin, one per session; kernel datapath only.
    Pppd,
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
            quality_interval: 1,
            establish_timeout: 60,
            mode: PppMode::Builtin,
            pppd_path: PathBuf::from("/usr/sbin/pppd"),
            pppd_options: Vec::new(),
        }
    }
}

/// An address pool with a name (`[[lns.pools]]`), chosen by a RADIUS server's Framed-Pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPool {
    /// The name the server sends.
    pub name: String,
    /// Its addresses: `FIRST-LAST` or `NETWORK/LEN`.
    pub range: Ipv4PoolSpec,
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
    /// `local` (users file, `[[lns.users]]`) or `radius` (`[radius]`). Default `radius`
    /// when a `[radius]` section is present, else `local`.
    pub auth: Option<AuthSource>,
    /// Peers allowed to open tunnels (CIDR); empty allows everyone. Default empty.
    pub allowed_peers: Vec<IpCidr>,
    /// Users file (see [`crate::users`]). Optional when `users` is given.
    pub users_file: Option<PathBuf>,
    /// Users defined inline (`[[lns.users]]`).
    pub users: Vec<InlineUser>,
    /// Addresses handed to clients: `FIRST-LAST` or `NETWORK/LEN`. Required.
    pub ipv4_pool: Option<Ipv4PoolSpec>,
    /// Named pools a RADIUS server picks with Framed-Pool (`[[lns.pools]]`). Default none.
    pub pools: Vec<NamedPool>,
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
    /// A LAC's proxy LCP and proxy authentication (RFC 2661 §4.4.5): `accept` (use them
    /// when acceptable, checked against our own users or RADIUS), `renegotiate` (LCP and
    /// authentication again) or `ignore`. Default `accept`.
    pub proxy: crate::core::proxy_lns::ProxyMode,
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
            auth: None,
            allowed_peers: Vec::new(),
            users_file: None,
            users: Vec::new(),
            ipv4_pool: None,
            pools: Vec::new(),
            local_ipv4: None,
            ipv6_prefix: None,
            session_timeout: 0,
            idle_timeout: 0,
            proxy: Default::default(),
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
    /// A second PPP password, tried once when an MS-CHAPv2 server's failure allows a retry
    /// (RFC 2759 "R=1"), as during a password change. Default none.
    pub retry_password: Option<Secret>,
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
    /// UDP port to send from. Default: none, a random port (RFC 2661 allows it). Set 1701
    /// for LNSs, firewalls and L2TP/IPsec transport-mode policies that expect 1701 on both
    /// ends. The socket is connected to the LNS and bound with SO_REUSEPORT, so several
    /// clients on one host can each use 1701 towards different LNSs.
    pub local_port: Option<u16>,
    /// An outgoing call (OCRQ) the LNS places in our tunnel: `refuse` it (the default: a
    /// CDN with result code 3) or `accept` it, answered by our PPP client like the calls we
    /// place (RFC 2661 §7.5).
    pub outgoing_calls: OutgoingCallsConfig,
}

/// `dial.outgoing_calls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutgoingCallsConfig {
    /// Refuse every OCRQ.
    #[default]
    Refuse,
    /// Accept every OCRQ.
    Accept,
}

impl Default for DialConfig {
    fn default() -> Self {
        DialConfig {
            peers: Vec::new(),
            user: String::new(),
            password: Secret::default(),
            retry_password: None,
            sessions: 1,
            redial: true,
            redial_initial: 1,
            redial_max: 300,
            interface: "l2tp%d".into(),
            routes: Vec::new(),
            default_route: false,
            local_port: None,
            outgoing_calls: OutgoingCallsConfig::Refuse,
        }
    }
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

    /// Where an LNS's authentication decisions come from: `lns.auth`, else RADIUS when a
    /// `[radius]` section is present.
    pub fn auth_source(&self) -> AuthSource {
        match self.lns.as_ref().and_then(|l| l.auth) {
            Some(a) => a,
            None if self.radius.is_some() => AuthSource::Radius,
            None => AuthSource::Local,
        }
    }

    /// Whether the configuration itself holds secrets (tunnel secret, passwords).
    pub fn has_secrets(&self) -> bool {
        self.tunnel.secret.is_some()
            || self.radius.is_some()
            || self.dial.as_ref().is_some_and(|d| !d.password.is_empty())
            || self.lns.as_ref().is_some_and(|l| !l.users.is_empty())
            || self.lac.as_ref().is_some_and(lac::LacConfig::has_secrets)
            || self
                .peers
                .iter()
                .any(|p| p.secret.as_ref().is_some_and(|s| !s.is_empty()))
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
