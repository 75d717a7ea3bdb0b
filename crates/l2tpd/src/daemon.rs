//! Running the daemon from a [`Config`]: builds the node (engines, sockets, TUN mode), the
//! management socket, the metrics endpoint and signal handling, then runs the event loop.
//!
//! Under systemd (`Type=notify`) it says READY once everything is bound, pings the watchdog
//! from the loop and says STOPPING on the way out ([`crate::sd_notify`]).
//!
//! Signals: SIGTERM / SIGINT close every tunnel (StopCCN) and wait, bounded (3 s), for the
//! acknowledgements; an SCCRQ arriving meanwhile is answered with a StopCCN "shutting down"
//! (RFC 2661 Result Code 6) and no tunnel is kept. SIGHUP and `l2tpctl reload` re-read the
//! configuration ([`crate::reload`]; sessions stay up). SIGUSR2 and `l2tpctl upgrade` hand
//! the daemon over to a new process ([`crate::upgrade`]; sessions stay up).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{AuthSource, Config, Role};
use crate::core::IpMode;
use crate::metrics::{MetricsServer, PoolUsage, SharedSnapshot, Snapshot};
use crate::mgmt_server::MgmtServer;
use crate::node::Node;

/// Runs the daemon until SIGTERM/SIGINT (or until a new process took over).
pub fn run(cfg: Config, source: crate::reload::Source) -> Result<(), String> {
    // Started by a daemon handing itself over: take what it gives, or say why not.
    let mut incoming = crate::upgrade::Incoming::from_env()?;
    let r = run_from(cfg, source, incoming.as_mut());
    if let (Err(e), Some(i)) = (&r, incoming.as_ref()) {
        i.refuse(e);
    }
    r
}

fn run_from(
    cfg: Config,
    source: crate::reload::Source,
    mut incoming: Option<&mut crate::upgrade::Incoming>,
) -> Result<(), String> {
    let own_binary = crate::upgrade::own_binary();
    let users = match cfg.lns.as_ref() {
        Some(l) => Some(l.load_users().map_err(|e| e.to_string())?),
        None => None,
    };
    let mut running = crate::reload::Running {
        started: cfg.clone(),
        current: cfg.clone(),
        users,
    };
    let node_cfg = cfg.node_config().map_err(|e| e.to_string())?;
    let echo_only = node_cfg.ip_mode == IpMode::App;
    let tun_per_session = matches!(node_cfg.ip_mode, IpMode::PerSession { .. });
    let mut inherited = incoming.as_mut().and_then(|i| i.inherited.take());
    // The RADIUS sockets go to the RADIUS shell, not the node's datapath.
    let radius_given = inherited.as_mut().and_then(|i| i.radius.take());
    let mut node = match inherited {
        Some(i) => {
            Node::adopt(node_cfg, cfg.daemon.datapath, i).map_err(|e| format!("upgrade: {e}"))?
        }
        None => Node::with_datapath(node_cfg, cfg.daemon.datapath).map_err(|e| e.to_string())?,
    };
    // Crash recovery: the journal in daemon.state_dir, replayed unless a live process
    // handed its state over (fresher than any journal).
    let recovered = match &cfg.daemon.state_dir {
        Some(dir) => {
            let replay = incoming.is_none();
            let attach = |node: &mut Node| node.attach_journal(dir, cfg.daemon.state_fsync, replay);
            // A journal an earlier process wrote after its switch to daemon.user is that
            // user's: read and rewritten as that user (root here lacks CAP_DAC_OVERRIDE).
            let r = match journal_owner(&cfg.daemon, dir, replay)? {
                Some((uid, gid)) => {
                    l2tp_io::privileges::with_fs_ids(uid, gid, || attach(&mut node))
                }
                None => attach(&mut node),
            }
            .map_err(|e| format!("daemon.state_dir {}: {e}", dir.display()))?;
            if let crate::node::Recovery::Recovered(r) = r {
                println!(
                    "l2tpd {}: recovered {} tunnels and {} sessions from {}",
                    cfg.role,
                    r.tunnels,
                    r.sessions,
                    dir.display()
                );
                true
            } else {
                false
            }
        }
        None => false,
    };
    if cfg.ppp.mode == crate::config::PppMode::Pppd {
        node.set_pppd(crate::node::pppd::PppdSpec {
            path: cfg.ppp.pppd_path.clone(),
            options: cfg.ppp.pppd_options.clone(),
            lns: cfg.role == Role::Lns,
        })
        .map_err(|e| e.to_string())?;
    }
    if echo_only {
        node.set_ip_app(Box::new(crate::ip::ipterm::EchoResponder::default()));
    }
    // An LNS authenticating through RADIUS, or a relaying LAC steering by it.
    let radius_role = match cfg.role {
        Role::Lns => cfg.auth_source() == AuthSource::Radius,
        Role::Lac => cfg.lac.is_some(),
        Role::Client => false,
    };
    if let (true, Some(r)) = (radius_role, cfg.radius.as_ref()) {
        // Acct-Session-Id = start time (hex seconds) + NAS-Port: unique across restarts.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let rcfg = r.node_config(&cfg.tunnel.host_name(), format!("{started:08X}"));
        // After an upgrade the restored core keeps the old prefix and NAS-Port counter.
        // After a crash recovery likewise: the sessions go on, no Accounting-On.
        let given = (incoming.is_some() || recovered).then(|| radius_given.unwrap_or_default());
        node.attach_radius_on(rcfg, given)
            .map_err(|e| e.to_string())?;
        if let Some(dae) = node.radius().and_then(|r| r.dae_addr()) {
            println!(
                "l2tpd {}: RADIUS dynamic authorization on {dae} (UDP)",
                cfg.role
            );
        }
    }
    for a in node.local_addrs() {
        println!("l2tpd {}: listening on {a} (UDP)", cfg.role);
    }
    let sock_path = cfg.daemon.management_socket_path();
    let (server, requests) = match incoming.as_mut().and_then(|i| i.mgmt.take()) {
        Some(l) => MgmtServer::serve(l, &sock_path),
        None => MgmtServer::start(&sock_path),
    }
    .map_err(|e| format!("management socket {}: {e}", sock_path.display()))?;
    let mgmt_listener = server.listener().try_clone().map_err(|e| e.to_string())?;
    let mgmt_owner = server.owner();
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
            let mgmt = Some(sock_path.clone());
            let m = match incoming.as_mut().and_then(|i| i.metrics.take()) {
                Some(l) => MetricsServer::serve(l, snapshot.clone(), mgmt),
                None => MetricsServer::start_with_sessions(addr, snapshot.clone(), mgmt),
            }
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
    let upgrade = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR2, upgrade.clone())
        .map_err(|e| e.to_string())?;

    // The accounting spool and the crash journal stay writable after the switch to
    // daemon.user (new bases are written beside the journal, a clean stop removes it).
    // (The new process of an upgrade runs as that user already: the old one did it.)
    let radius_on = (cfg.role == Role::Lns && cfg.auth_source() == AuthSource::Radius)
        || (cfg.role == Role::Lac && cfg.lac.is_some() && cfg.radius.is_some());
    if let (Some(ids), None) = (crate::runas::target_ids(&cfg.daemon)?, incoming.as_ref()) {
        if let (Some(r), true) = (&cfg.radius, radius_on) {
            give_dir_to(ids, &r.spool_dir, "radius.spool_dir")?;
        }
        if let Some(dir) = &cfg.daemon.state_dir {
            give_dir_to(ids, dir, "daemon.state_dir")?;
        }
    }
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

    if let Some(i) = incoming.as_ref() {
        // The old process tells systemd about this one (MAINPID) once it hears this.
        let sessions = node.core().session_count();
        let tunnels = node.endpoint().tunnel_count();
        i.confirm(tunnels, sessions);
        mgmt_owner.store(true, Ordering::SeqCst);
        println!(
            "l2tpd {}: upgrade: took over {tunnels} tunnels and {sessions} sessions (pid {})",
            cfg.role,
            std::process::id()
        );
    } else if let Some(n) = &notifier {
        // Sockets bound, configuration applied: tell systemd (Type=notify) we are up.
        let addrs: Vec<String> = node.local_addrs().iter().map(|a| a.to_string()).collect();
        n.ready(&format!("{} on {}", cfg.role, addrs.join(", ")));
    }

    if recovered {
        // Everything is attached: probe each restored tunnel's peer now.
        node.resume_recovered();
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
        let upgrades = node.take_upgrade_requests();
        if upgrade.swap(false, Ordering::Relaxed) || !upgrades.is_empty() {
            let listeners = (&mgmt_listener, metrics.as_ref().map(|m| m.listener()));
            let origin = if upgrades.is_empty() {
                "SIGUSR2"
            } else {
                "upgrade"
            };
            upgrade_now(
                &mut node,
                &own_binary,
                listeners,
                upgrades,
                notifier.as_ref(),
                origin,
            );
        }
        let requests = node.take_reload_requests();
        let hup = reload.swap(false, Ordering::Relaxed);
        if hup || !requests.is_empty() {
            let origin = if hup { "SIGHUP" } else { "reload" };
            notifier.iter().for_each(|n| n.reloading(false));
            let result = crate::reload::reload(&mut node, &mut running, &source);
            let resp = match result {
                Ok(out) => {
                    if let Some(u) = running.users.as_ref() {
                        tracing::info!("{origin}: users reloaded ({} users)", u.len());
                    }
                    let file = running
                        .current
                        .lns
                        .as_ref()
                        .and_then(|l| l.users_file.as_deref());
                    if let Some(w) = file.and_then(crate::config::secret_file_warning) {
                        tracing::warn!("{}", w.0);
                    }
                    for l in &out.applied {
                        tracing::info!("{origin}: applied: {l}");
                    }
                    for l in &out.restart_needed {
                        tracing::warn!("{origin}: not applied: {l}");
                    }
                    if out.applied.is_empty() && out.restart_needed.is_empty() {
                        tracing::info!("{origin}: configuration reloaded, nothing changed");
                    }
                    l2tp_mgmt::Response::Reloaded {
                        applied: out.applied,
                        restart_needed: out.restart_needed,
                    }
                }
                Err(e) => {
                    tracing::error!(
                        "{origin}: configuration refused, the running one is kept: {e}"
                    );
                    l2tp_mgmt::Response::error(format!(
                        "configuration refused, the running one is kept:\n{e}"
                    ))
                }
            };
            for r in requests {
                r.respond(resp.clone());
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

/// Hands the daemon over to a new process: on success this process exits at once (no
/// StopCCN: the tunnels are the new process's now); otherwise it carries on and says why.
fn upgrade_now(
    node: &mut Node,
    own_binary: &std::path::Path,
    (mgmt, metrics): (
        &std::os::unix::net::UnixListener,
        Option<&std::net::TcpListener>,
    ),
    requests: Vec<crate::mgmt_server::PendingRequest>,
    notifier: Option<&crate::sd_notify::Notifier>,
    origin: &str,
) {
    let binary = requests
        .iter()
        .find_map(|p| match &p.req {
            l2tp_mgmt::Request::Upgrade { binary: Some(b) } => Some(std::path::PathBuf::from(b)),
            _ => None,
        })
        .unwrap_or_else(|| own_binary.to_path_buf());
    tracing::info!(
        "{origin}: handing over to a new process of {}",
        binary.display()
    );
    match crate::upgrade::hand_over(node, &binary, Some(mgmt), metrics) {
        Ok(t) => {
            tracing::info!(
                new_pid = t.pid,
                tunnels = t.tunnels,
                sessions = t.sessions,
                pause_us = t.pause.as_micros() as u64,
                snapshot_bytes = t.snapshot_bytes,
                "{origin}: the new process took over; exiting"
            );
            if let Some(n) = notifier {
                n.main_pid(t.pid);
            }
            let resp = l2tp_mgmt::Response::Upgraded {
                old_pid: std::process::id(),
                new_pid: t.pid,
                tunnels: t.tunnels,
                sessions: t.sessions,
                pause_us: t.pause.as_micros() as u64,
                snapshot_bytes: t.snapshot_bytes as u64,
            };
            for r in requests {
                r.respond(resp.clone());
            }
            // The replies are written by the management threads: a moment for them, then
            // out, without destructors (they would unlink the management socket the new
            // process serves on).
            std::thread::sleep(std::time::Duration::from_millis(200));
            std::process::exit(0);
        }
        Err(e) => {
            tracing::error!("{origin}: upgrade failed, this process keeps running: {e}");
            for r in requests {
                r.respond(l2tp_mgmt::Response::error(format!(
                    "upgrade failed, the running daemon carries on: {e}"
                )));
            }
        }
    }
}

/// The ids to act as on the state directory: `daemon.user`'s when a process of this one,
/// still root, finds the directory that user's (a restart after a crash); none otherwise.
fn journal_owner(
    daemon: &crate::config::DaemonConfig,
    dir: &std::path::Path,
    replay: bool,
) -> Result<Option<(u32, u32)>, String> {
    if !replay || l2tp_io::privileges::effective_uid() != 0 {
        return Ok(None);
    }
    Ok(crate::runas::target_ids(daemon)?
        .filter(|&(uid, _)| uid != 0 && owner(dir).is_some_and(|(u, _)| u == uid)))
}

/// The uid and gid owning `path`.
fn owner(path: &std::path::Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))
}

/// Hands a directory the daemon writes in (the RADIUS spool, the crash journal) and its
/// files to `uid`:`gid`, the user the daemon becomes (they were created by root at start).
/// `what` names the setting in errors.
fn give_dir_to((uid, gid): (u32, u32), dir: &std::path::Path, what: &str) -> Result<(), String> {
    let chown = |p: &std::path::Path| {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .map_err(|e| format!("{what} {}: {e}", p.display()))
    };
    // Already the user's (a restart: the files were written as that user).
    if owner(dir) == Some((uid, gid)) {
        return Ok(());
    }
    // The files first: once the directory is the user's (mode 0700), root without
    // CAP_DAC_OVERRIDE (the unit's bounding set) can no longer list it.
    for e in std::fs::read_dir(dir).map_err(|e| format!("{what}: {e}"))? {
        chown(&e.map_err(|e| format!("{what}: {e}"))?.path())?;
    }
    chown(dir)
}
