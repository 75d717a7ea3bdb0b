//! The node's typed settings from a configuration: the one step between the TOML schema and
//! the core ([`crate::core::NodeConfig`]), after [`Config::validate`]; its errors name the
//! field like validation's.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use l2tp_proto::control::{EndpointConfig, PeerAuth};
use l2tp_proto::data::{DatapathConfig, DebugMask, SessionOptions};

use super::{AuthMethod, Config, ConfigError, FieldError, InterfaceMode, Role};
use crate::core::{ClientSettings, DialPeer, IpMode, LnsSettings, NodeConfig, RoleSettings};
use crate::leases::Ipv4Leases;
use crate::pool::Ipv4Pool;

fn field(name: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(vec![FieldError {
        field: name.to_string(),
        message: message.to_string(),
    }])
}

fn auth_method(m: AuthMethod) -> ppp::AuthMethod {
    match m {
        AuthMethod::MsChapV2 => ppp::AuthMethod::MsChapV2,
        AuthMethod::ChapMd5 => ppp::AuthMethod::ChapMd5,
        AuthMethod::Pap => ppp::AuthMethod::Pap,
    }
}

impl Config {
    /// Validates the configuration and turns it into the node's typed settings; every
    /// error names its field.
    pub fn node_config(&self) -> Result<NodeConfig, ConfigError> {
        self.validate()?;
        let cfg = self;
        let secret = cfg
            .tunnel
            .secret
            .as_ref()
            .map(|s| s.expose().as_bytes().to_vec());
        let mut endpoint = EndpointConfig {
            host_name: cfg.tunnel.host_name(),
            receive_window: cfg.tunnel.receive_window,
            connect_timeout: (cfg.tunnel.connect_timeout > 0)
                .then(|| Duration::from_secs(cfg.tunnel.connect_timeout)),
            max_retries: cfg.tunnel.retries,
            hello_interval: (cfg.tunnel.hello_interval > 0)
                .then(|| Duration::from_secs(cfg.tunnel.hello_interval)),
            auth: PeerAuth {
                hide_avps: cfg.tunnel.hide_avps && secret.is_some(),
                // With a secret, both roles challenge the peer (RFC 2661 §5.1.1).
                require_tunnel_auth: secret.is_some(),
                secret,
            },
            // Half-open tunnels have their own table (a SYN cache): an SCCRQ flood (possibly
            // spoofed) evicts the oldest of them, never an established tunnel, and cannot
            // grow state beyond it.
            max_half_open_tunnels: cfg
                .lns
                .as_ref()
                .map(|l| (l.max_half_open_tunnels as usize).max(1))
                .unwrap_or(EndpointConfig::default().max_half_open_tunnels),
            failover: cfg.failover.capability(),
            ..EndpointConfig::default()
        };
        endpoint.peer_rules = cfg.peers.iter().map(|p| p.rule(&endpoint.auth)).collect();
        let session_options = SessionOptions {
            send_seq: cfg.session.send_seq,
            recv_seq: cfg.session.recv_seq,
            lns_mode: cfg.role == Role::Lns,
            reorder_timeout: Duration::from_millis(u64::from(cfg.session.reorder_timeout_ms)),
            debug: DebugMask(cfg.daemon.debug_mask.0),
        };
        let echo =
            (cfg.ppp.lcp_echo_interval > 0).then(|| Duration::from_secs(cfg.ppp.lcp_echo_interval));
        let (listen, role, ip_mode) = match cfg.role {
            Role::Lns => {
                let lns = cfg
                    .lns
                    .as_ref()
                    .ok_or_else(|| field("lns", "section missing"))?;
                let users = lns.load_users().map_err(|e| field("lns.users_file", e))?;
                let pool = lns
                    .ipv4_pool
                    .ok_or_else(|| field("lns.ipv4_pool", "required"))?;
                let local_ipv4 = lns
                    .local_ipv4
                    .ok_or_else(|| field("lns.local_ipv4", "required"))?;
                let mut dns = [None, None];
                for (slot, d) in dns.iter_mut().zip(&cfg.ppp.dns) {
                    *slot = Some(*d);
                }
                let ip_mode = match lns.interface_mode {
                    InterfaceMode::PerSession => IpMode::PerSession {
                        name: lns.interface_name(),
                        mtu: u32::from(cfg.ppp.mtu),
                        routes: Vec::new(),
                    },
                    InterfaceMode::None => IpMode::App,
                    InterfaceMode::Shared => IpMode::Shared {
                        name: lns.interface_name(),
                        mtu: u32::from(cfg.ppp.mtu),
                    },
                };
                let named = lns
                    .pools
                    .iter()
                    .map(|p| (p.name.clone(), Ipv4Pool::new(p.range)))
                    .collect();
                let leases = Ipv4Leases::with_named(
                    Ipv4Pool::new(pool),
                    named,
                    local_ipv4,
                    users.fixed_addresses(),
                );
                let settings = LnsSettings {
                    auth_methods: cfg.ppp.auth.iter().copied().map(auth_method).collect(),
                    local_ipv4,
                    dns,
                    users,
                    pool: leases,
                    max_sessions: lns.max_sessions as usize,
                    ipv6: lns.ipv6_prefix.is_some(),
                    ipv6_pool: lns
                        .ipv6_prefix
                        .map(crate::pool::Ipv6Pool::new)
                        .transpose()
                        .map_err(|e| field("lns.ipv6_prefix", e))?,
                    allowed_peers: lns.allowed_peers.clone(),
                    max_tunnels: lns.max_tunnels as usize,
                    session_timeout: (lns.session_timeout > 0)
                        .then(|| Duration::from_secs(lns.session_timeout)),
                    idle_timeout: (lns.idle_timeout > 0)
                        .then(|| Duration::from_secs(lns.idle_timeout)),
                    proxy: lns.proxy,
                    peer_policies: cfg
                        .peers
                        .iter()
                        .map(|p| crate::core::PeerPolicy {
                            rule: p.rule(&PeerAuth::default()),
                            proxy: p.proxy,
                            max_tunnels: p.max_tunnels as usize,
                            max_sessions: p.max_sessions as usize,
                        })
                        .collect(),
                };
                (
                    lns.listen.iter().map(|l| l.0).collect(),
                    RoleSettings::Lns(Box::new(settings)),
                    ip_mode,
                )
            }
            Role::Lac if cfg.lac.is_some() => {
                let lac = cfg.lac.as_ref().expect("checked by the guard");
                lac_role(lac, cfg.radius.is_some(), &cfg.peers)?
            }
            Role::Lac | Role::Client => {
                let dial = cfg
                    .dial
                    .as_ref()
                    .ok_or_else(|| field("dial", "section missing"))?;
                let peers = dial
                    .peers
                    .iter()
                    .map(|p| DialPeer::parse(&p.to_string()).map_err(|e| field("dial.peers", e)))
                    .collect::<Result<Vec<_>, _>>()?;
                if peers.is_empty() {
                    return Err(field("dial.peers", "at least one LNS needed"));
                }
                // Sockets for both families: a host name may resolve to either, and an IPv6
                // LNS may fall back to an IPv4 one. An IPv6 socket is optional (hosts without
                // IPv6); the first address of the first peer decides which one is required.
                let v6_first = matches!(peers[0], DialPeer::Addr(a) if a.is_ipv6());
                let port = dial.local_port.unwrap_or(0);
                let v4: SocketAddr = (Ipv4Addr::UNSPECIFIED, port).into();
                let v6: SocketAddr = (std::net::Ipv6Addr::UNSPECIFIED, port).into();
                let listen = if v6_first { vec![v6, v4] } else { vec![v4, v6] };
                let settings = ClientSettings {
                    peers,
                    username: dial.user.clone(),
                    password: dial.password.expose().to_string(),
                    retry_password: dial.retry_password.as_ref().map(|p| p.expose().to_string()),
                    tunnels: 1,
                    sessions: dial.sessions,
                    redial_initial: Duration::from_secs(dial.redial_initial.max(1)),
                    redial_max: Duration::from_secs(dial.redial_max.max(1)),
                    redial: dial.redial,
                    default_route: dial.default_route,
                    local_port: dial.local_port,
                    outgoing_calls: match dial.outgoing_calls {
                        super::OutgoingCallsConfig::Refuse => crate::core::OutgoingCalls::Refuse,
                        super::OutgoingCallsConfig::Accept => crate::core::OutgoingCalls::Accept,
                    },
                    auth_methods: cfg.ppp.auth.iter().copied().map(auth_method).collect(),
                };
                let ip_mode = IpMode::PerSession {
                    name: dial.interface.clone(),
                    mtu: u32::from(cfg.ppp.mtu),
                    routes: dial.routes.clone(),
                };
                (listen, RoleSettings::Client(settings), ip_mode)
            }
        };
        Ok(NodeConfig {
            name: cfg.role.to_string(),
            listen,
            endpoint,
            datapath: DatapathConfig::default(),
            session_options,
            ppp_echo_interval: echo,
            ppp_mru: cfg.ppp.mru,
            ppp_establish_timeout: (cfg.ppp.establish_timeout > 0)
                .then(|| Duration::from_secs(cfg.ppp.establish_timeout)),
            ppp_echo_failures: cfg.ppp.lcp_echo_failures,
            ppp_quality_interval: (cfg.ppp.quality_interval > 0)
                .then(|| Duration::from_secs(cfg.ppp.quality_interval)),
            role,
            seed: None,
            ip_mode,
        })
    }
}

/// `role = "lac"` with `[lac]`: sockets for both families, no IP termination of our own.
fn lac_role(
    lac: &super::lac::LacConfig,
    radius: bool,
    peers: &[super::profiles::PeerProfile],
) -> Result<(Vec<SocketAddr>, RoleSettings, IpMode), ConfigError> {
    let default = lac
        .lns
        .as_ref()
        .map(|g| super::lac::resolve_group(g).map_err(|e| field("lac.lns", e)))
        .transpose()?
        .unwrap_or_default();
    let realms = lac
        .realms
        .iter()
        .map(|(realm, g)| {
            super::lac::resolve_group(g)
                .map(|a| (realm.clone(), a))
                .map_err(|e| field(&format!("lac.realms.{realm}"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = crate::core::lac::LacSettings {
        interfaces: lac.pppoe_interfaces.clone(),
        ac_name: lac.ac_name.clone(),
        services: lac.service_names.clone(),
        steering: crate::core::lac::RealmTable { realms, default },
        lockout: Duration::from_secs(lac.lockout),
        radius,
        switching: lac.switching,
        send_proxy: peers
            .iter()
            .filter_map(|p| {
                p.send_proxy
                    .map(|s| (p.rule(&l2tp_proto::control::PeerAuth::default()), s))
            })
            .collect(),
        auth_methods: lac.auth.iter().copied().map(auth_method).collect(),
        max_sessions: lac.max_sessions as usize,
        max_sessions_per_mac: lac.max_sessions_per_mac as usize,
        max_payload: (lac.max_payload > 0).then_some(lac.max_payload),
        padi_rate: lac.padi_rate,
        vlan_trunk: lac.vlan_trunk,
    };
    // A switching LAC answers SCCRQs from other LACs: on `lac.listen`.
    let listen = if lac.switching {
        lac.listen.clone()
    } else {
        vec![
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        ]
    };
    Ok((listen, RoleSettings::Lac(Box::new(settings)), IpMode::App))
}
