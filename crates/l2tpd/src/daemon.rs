//! Running the daemon from a [`Config`]: builds the node (engines, sockets, TUN mode), the
//! management socket, the metrics endpoint and signal handling, then runs the event loop.
//!
//! Under systemd (`Type=notify`) it says READY once everything is bound, pings the watchdog
//! from the loop and says STOPPING on the way out ([`crate::sd_notify`]).
//!
//! Signals: SIGTERM / SIGINT close every tunnel (StopCCN) and wait, bounded (3 s), for the
//! acknowledgements; an SCCRQ arriving meanwhile is answered with a StopCCN "shutting down"
//! (RFC 2661 Result Code 6) and no tunnel is kept. SIGHUP reloads the users file (sessions
//! stay up).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::core::IpMode;
use crate::metrics::{MetricsServer, PoolUsage, SharedSnapshot, Snapshot};
use crate::mgmt_server::MgmtServer;
use crate::node::Node;

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(cfg: Config, users_file_reload: bool) -> Result<(), String> {
    let node_cfg = cfg.node_config().map_err(|e| e.to_string())?;
    let echo_only = node_cfg.ip_mode == IpMode::App;
    let tun_per_session = matches!(node_cfg.ip_mode, IpMode::PerSession { .. });
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

    if node.kernel_datapath() && cfg.daemon.user.is_some() {
        return Err(
            "daemon.user: the kernel datapath opens /dev/ppp (root only) for every \
                    session; run it as root, or use datapath = \"userspace\""
                .into(),
        );
    }
    // systemd's notify socket, connected while still root.
    let mut notifier = crate::sd_notify::Notifier::from_env();
    // Every socket is bound: stop being root (daemon.user), keeping CAP_NET_ADMIN for TUNs.
    if let Some(s) = crate::runas::apply(&cfg.daemon, !echo_only, tun_per_session)? {
        let kept = if s.kept.is_empty() {
            "none".into()
        } else {
            s.kept.join(",")
        };
        println!(
            "l2tpd {}: running as {} (uid {}, gid {}), capabilities kept: {kept}",
            cfg.role, s.user, s.uid, s.gid
        );
    }

    // Sockets bound, configuration applied: tell systemd (Type=notify) we are up.
    if let Some(n) = &notifier {
        let addrs: Vec<String> = node.local_addrs().iter().map(|a| a.to_string()).collect();
        n.ready(&format!("{} on {}", cfg.role, addrs.join(", ")));
    }

    let mut last_publish = Instant::now() - Duration::from_secs(10);
    while !stop.load(Ordering::Relaxed) {
        node.step(Duration::from_millis(250))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        if let Some(n) = notifier.as_mut() {
            n.tick(now);
        }
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
            notifier.iter().for_each(|n| n.reloading(false));
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
            notifier.iter().for_each(|n| n.reloading(true));
        }
    }
    println!("l2tpd {}: shutting down (StopCCN to every peer)", cfg.role);
    notifier.iter().for_each(|n| n.stopping());
    node.shutdown(Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    Ok(())
}
