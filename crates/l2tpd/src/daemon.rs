//! Running the daemon from a [`Config`]: builds the node (engines, sockets, TUN mode), the
//! management socket, the metrics endpoint and signal handling, then runs the event loop.
//!
//! Signals: SIGTERM / SIGINT close every tunnel (StopCCN) and wait, bounded, for the
//! acknowledgements; SIGHUP reloads the users file (sessions stay up).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tp_proto::control::{EndpointConfig, PeerAuth};
use l2tp_proto::data::{DatapathConfig, DebugMask, SessionOptions};

use crate::config::{self, Config, InterfaceMode, Role};
use crate::core::IpMode;
use crate::core::{ClientSettings, DialPeer, LnsSettings, NodeConfig, RoleSettings};
use crate::leases::Ipv4Leases;
use crate::metrics::{MetricsServer, PoolUsage, SharedSnapshot, Snapshot};
use crate::mgmt_server::MgmtServer;
use crate::node::Node;
use crate::pool::Ipv4Pool;

fn auth_method(m: config::AuthMethod) -> ppp::AuthMethod {
    match m {
        config::AuthMethod::MsChapV2 => ppp::AuthMethod::MsChapV2,
        config::AuthMethod::ChapMd5 => ppp::AuthMethod::ChapMd5,
        config::AuthMethod::Pap => ppp::AuthMethod::Pap,
    }
}

/// Translates a validated configuration into the node's settings.
pub fn node_config(cfg: &Config) -> Result<NodeConfig, String> {
    let secret = cfg
        .tunnel
        .secret
        .as_ref()
        .map(|s| s.expose().as_bytes().to_vec());
    let endpoint = EndpointConfig {
        host_name: cfg.tunnel.host_name(),
        receive_window: cfg.tunnel.receive_window,
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
        ..EndpointConfig::default()
    };
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
            let lns = cfg.lns.as_ref().ok_or("lns: section missing")?;
            let users = lns
                .load_users()
                .map_err(|e| format!("lns.users_file: {e}"))?;
            let pool = lns.ipv4_pool.ok_or("lns.ipv4_pool: required")?;
            let local_ipv4 = lns.local_ipv4.ok_or("lns.local_ipv4: required")?;
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
            let leases = Ipv4Leases::new(Ipv4Pool::new(pool), local_ipv4, users.fixed_addresses());
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
                    .map_err(|e| format!("lns.ipv6_prefix: {e}"))?,
                allowed_peers: lns.allowed_peers.clone(),
                max_tunnels: lns.max_tunnels as usize,
                session_timeout: (lns.session_timeout > 0)
                    .then(|| Duration::from_secs(lns.session_timeout)),
                idle_timeout: (lns.idle_timeout > 0).then(|| Duration::from_secs(lns.idle_timeout)),
            };
            (
                lns.listen.iter().map(|l| l.0).collect(),
                RoleSettings::Lns(Box::new(settings)),
                ip_mode,
            )
        }
        Role::Lac | Role::Client => {
            let dial = cfg.dial.as_ref().ok_or("dial: section missing")?;
            let peers = dial
                .peers
                .iter()
                .map(|p| DialPeer::parse(&p.to_string()).map_err(|e| format!("dial.peers: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            if peers.is_empty() {
                return Err("dial.peers: at least one LNS needed".into());
            }
            // Sockets for both families: a host name may resolve to either, and an IPv6
            // LNS may fall back to an IPv4 one. An IPv6 socket is optional (hosts without
            // IPv6); the first address of the first peer decides which one is required.
            let v6_first = matches!(peers[0], DialPeer::Addr(a) if a.is_ipv6());
            let v4: SocketAddr = (Ipv4Addr::UNSPECIFIED, 0).into();
            let v6: SocketAddr = (std::net::Ipv6Addr::UNSPECIFIED, 0).into();
            let listen = if v6_first { vec![v6, v4] } else { vec![v4, v6] };
            let settings = ClientSettings {
                peers,
                username: dial.user.clone(),
                password: dial.password.expose().to_string(),
                tunnels: 1,
                sessions: dial.sessions,
                redial_initial: Duration::from_secs(dial.redial_initial.max(1)),
                redial_max: Duration::from_secs(dial.redial_max.max(1)),
                redial: dial.redial,
                default_route: dial.default_route,
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
        ppp_echo_failures: cfg.ppp.lcp_echo_failures,
        role,
        seed: None,
        ip_mode,
    })
}

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(cfg: Config, users_file_reload: bool) -> Result<(), String> {
    let node_cfg = node_config(&cfg)?;
    let echo_only = node_cfg.ip_mode == IpMode::App;
    let mut node = Node::with_datapath(node_cfg, cfg.daemon.datapath).map_err(|e| e.to_string())?;
    if echo_only {
        node.set_ip_app(Box::new(crate::ip::ipterm::EchoResponder::default()));
    }
    for a in node.local_addrs() {
        println!("l2tpd {}: listening on {a} (UDP)", cfg.role);
    }
    let sock_path = cfg.daemon.management_socket_path();
    let (server, requests) = MgmtServer::start(&sock_path)
        .map_err(|e| format!("management socket {}: {e}", sock_path.display()))?;
    node.attach_mgmt(server, requests)
        .map_err(|e| e.to_string())?;
    println!(
        "l2tpd {}: management socket {}",
        cfg.role,
        sock_path.display()
    );

    let snapshot: SharedSnapshot = Arc::new(std::sync::Mutex::new(Snapshot::default()));
    let metrics = match cfg.daemon.metrics_listen {
        Some(addr) => {
            let m = MetricsServer::start(addr, snapshot.clone())
                .map_err(|e| format!("metrics {addr}: {e}"))?;
            println!(
                "l2tpd {}: metrics on http://{}/metrics",
                cfg.role,
                m.local_addr()
            );
            Some(m)
        }
        None => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
        .map_err(|e| e.to_string())?;

    let mut last_publish = Instant::now() - Duration::from_secs(10);
    while !stop.load(Ordering::Relaxed) {
        node.step(Duration::from_millis(250))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        // The snapshot walks every tunnel and session: only build it for a metrics endpoint.
        if metrics.is_some() && now.duration_since(last_publish) >= Duration::from_secs(1) {
            last_publish = now;
            let stats = node.daemon_stats(now);
            let pool = node
                .pool_usage()
                .map(|(capacity, in_use)| PoolUsage { capacity, in_use });
            let mut s = snapshot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *s = Snapshot { stats, pool };
        }
        if reload.swap(false, Ordering::Relaxed) && users_file_reload {
            match cfg.lns.as_ref().map(|l| l.load_users()) {
                Some(Ok(users)) => {
                    let n = users.len();
                    node.replace_users(users);
                    tracing::info!("SIGHUP: users reloaded ({n} users)");
                    let file = cfg.lns.as_ref().and_then(|l| l.users_file.as_deref());
                    if let Some(w) = file.and_then(crate::config::secret_file_warning) {
                        tracing::warn!("{}", w.0);
                    }
                }
                Some(Err(e)) => tracing::error!("SIGHUP: users file not reloaded: {e}"),
                None => {}
            }
        }
    }
    println!("l2tpd {}: shutting down (StopCCN to every peer)", cfg.role);
    node.shutdown(Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    Ok(())
}
