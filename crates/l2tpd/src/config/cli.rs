//! The quick-start command line (`l2tpd lns …`, `l2tpd client …`, `l2tpd run …`): clap
//! flags mapped onto the same [`Config`] a file gives, validated the same way.

use super::*;

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
    /// Log line format: text (default) or json (one object per line).
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
    /// Datapath: userspace, kernel (the kernel's PPPoL2TP driver) or auto.
    #[arg(long, value_name = "MODE")]
    pub datapath: Option<DatapathMode>,
    /// Keep a crash journal in this directory: after kill -9 a daemon started on it resumes
    /// the tunnels and sessions (daemon.state_dir).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{s:?}: expected text or json")),
    }
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
        if let Some(f) = self.log_format {
            cfg.daemon.log_format = f;
        }
        if let Some(d) = &self.state_dir {
            cfg.daemon.state_dir = Some(d.clone());
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
    /// UDP port to send from (1701 for L2TP/IPsec and LNSs that expect it); default random.
    #[arg(long, value_name = "PORT")]
    pub local_port: Option<u16>,
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `l2tpd lac --pppoe-interface IF --lns HOST[:PORT] [--secret S] [--realm REALM=HOST[:PORT]]`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct LacArgs {
    /// Ethernet interface whose PPPoE subscribers are relayed; repeat for several.
    #[arg(long, value_name = "IF", required = true)]
    pub pppoe_interface: Vec<String>,
    /// The LNS of every user whose realm has no --realm of its own, HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub lns: Option<String>,
    /// The LNS of one realm (what follows the last @ of the user name), REALM=HOST[:PORT];
    /// REALM=HOST1,HOST2,… tries them in that order (the next when one fails a call). Repeat
    /// for several realms.
    #[arg(long, value_name = "REALM=HOST[:PORT]")]
    pub realm: Vec<String>,
    /// Tunnel secret shared with the LNSs.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,
    /// AC-Name sent to subscribers.
    #[arg(long, value_name = "NAME", default_value = "l2tp-rs-lac")]
    pub ac_name: String,
    /// Authentication asked of subscribers: chap-md5 and/or pap, most preferred first.
    #[arg(
        long,
        value_name = "METHOD",
        value_delimiter = ',',
        default_value = "chap-md5,pap"
    )]
    pub auth: Vec<String>,
    /// The interfaces are VLAN trunks: serve 802.1Q/802.1ad-tagged subscribers too, each
    /// on its own tags.
    #[arg(long)]
    pub vlan_trunk: bool,
    /// Common flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Builds (and validates) the configuration of `l2tpd lac …`.
pub fn config_from_lac_args(a: &LacArgs) -> Result<(Config, Vec<Warning>), ConfigError> {
    let lns = a
        .lns
        .as_deref()
        .map(|s| s.parse::<PeerAddr>().map_err(|e| flag_error("--lns", e)))
        .transpose()?
        .map(lac::LnsGroup::One);
    let mut realms = std::collections::BTreeMap::new();
    for r in &a.realm {
        let Some((realm, host)) = r.split_once('=') else {
            return Err(flag_error(
                "--realm",
                format!("expected REALM=HOST[:PORT], got {r:?}"),
            ));
        };
        // REALM=HOST[,HOST…]: tried in the order given.
        let hosts = host
            .split(',')
            .map(|h| h.parse::<PeerAddr>().map_err(|e| flag_error("--realm", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let group = match <[_; 1]>::try_from(hosts) {
            Ok([one]) => lac::LnsGroup::One(one),
            Err(hosts) => lac::LnsGroup::Group(
                hosts
                    .into_iter()
                    .zip(0..)
                    .map(|(address, preference)| lac::LnsEntry {
                        address,
                        secret: None,
                        preference,
                        weight: 1,
                        max_sessions_per_tunnel: 0,
                    })
                    .collect(),
            ),
        };
        realms.insert(realm.to_string(), group);
    }
    let auth = a
        .auth
        .iter()
        .map(|m| match m.as_str() {
            "chap-md5" => Ok(AuthMethod::ChapMd5),
            "pap" => Ok(AuthMethod::Pap),
            _ => Err(flag_error(
                "--auth",
                format!("{m:?}: expected chap-md5 or pap"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cfg = Config {
        role: Role::Lac,
        daemon: DaemonConfig::default(),
        tunnel: TunnelConfig {
            secret: a.secret.clone().map(Secret::from),
            ..TunnelConfig::default()
        },
        session: SessionConfig::default(),
        ppp: PppConfig::default(),
        lns: None,
        dial: None,
        radius: None,
        lac: Some(lac::LacConfig {
            pppoe_interfaces: a.pppoe_interface.clone(),
            ac_name: a.ac_name.clone(),
            lns,
            realms,
            auth,
            vlan_trunk: a.vlan_trunk,
            ..lac::LacConfig::default()
        }),
        failover: Default::default(),
        peers: Vec::new(),
    };
    a.common.apply(&mut cfg);
    cfg.validate()?;
    let w = cfg.warnings();
    Ok((cfg, w))
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
    /// A RADIUS server, ADDR[:PORT] (port 1812; accounting on PORT+1); repeat for several,
    /// tried in order. Logins are then authenticated and accounted by RADIUS.
    #[arg(long = "radius", value_name = "ADDR[:PORT]")]
    pub radius: Vec<String>,
    /// The RADIUS shared secret (for --radius and --das-listen).
    #[arg(long, value_name = "SECRET")]
    pub radius_secret: Option<String>,
    /// Listen here for RADIUS Disconnect and CoA requests from the --radius servers.
    #[arg(long, value_name = "ADDR:PORT")]
    pub das_listen: Option<String>,
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
            local_port: a.local_port,
            ..DialConfig::default()
        }),
        radius: None,
        lac: None,
        failover: Default::default(),
        peers: Vec::new(),
    };
    a.common.apply(&mut cfg);
    cfg.validate()?;
    let mut w = cfg.warnings();
    w.push(Warning(
        "--password on the command line is visible to other local users (ps): prefer a config file with mode 0600".into(),
    ));
    Ok((cfg, w))
}

/// `[radius]` from `--radius`, `--radius-secret` and `--das-listen` (None without `--radius`).
fn radius_from_flags(a: &LnsArgs) -> Result<Option<RadiusConfig>, ConfigError> {
    if a.radius.is_empty() {
        if a.das_listen.is_some() {
            return Err(flag_error("--das-listen", "needs --radius".into()));
        }
        return Ok(None);
    }
    let secret = match &a.radius_secret {
        Some(s) => Secret::from(s.clone()),
        None => {
            return Err(flag_error(
                "--radius-secret",
                "required with --radius".into(),
            ))
        }
    };
    let mut r = RadiusConfig::default();
    for (i, s) in a.radius.iter().enumerate() {
        let auth = match s.parse::<SocketAddr>() {
            Ok(sa) => sa,
            Err(_) => match s
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                Ok(ip) => SocketAddr::new(ip, 1812),
                Err(_) => {
                    return Err(flag_error(
                        "--radius",
                        format!("{s:?} is not ADDRESS[:PORT]"),
                    ))
                }
            },
        };
        let priority = i as u32 + 1;
        let mut acct = auth;
        acct.set_port(auth.port().wrapping_add(1));
        r.auth_servers.push(RadiusServer {
            address: auth,
            secret: secret.clone(),
            priority,
        });
        r.acct_servers.push(RadiusServer {
            address: acct,
            secret: secret.clone(),
            priority,
        });
        if !r.dae_clients.iter().any(|c| c.address == auth.ip()) {
            r.dae_clients.push(DaeClientConfig {
                address: auth.ip(),
                secret: secret.clone(),
            });
        }
    }
    match &a.das_listen {
        Some(l) => {
            r.dae_listen = Some(
                l.parse::<ListenAddr>()
                    .map_err(|e| flag_error("--das-listen", e))?,
            )
        }
        None => r.dae_clients.clear(),
    }
    Ok(Some(r))
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
        radius: radius_from_flags(a)?,
        lac: None,
        failover: Default::default(),
        peers: Vec::new(),
    };
    a.common.apply(&mut cfg);
    cfg.validate()?;
    let mut w = cfg.warnings();
    if a.radius_secret.is_some() {
        w.push(Warning(
            "--radius-secret on the command line is visible to other local users (ps): prefer a config file with mode 0600".into(),
        ));
    }
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
