//! `l2tpd demo`: an LNS and a client in one process on loopback UDP, built-in defaults, no
//! files and no root. The client opens a tunnel and several sessions, PPP negotiates CHAP and
//! IPCP on each, ICMP echo requests cross every session and the LNS answers them for its
//! own address; the demo shows progress and ends with the session table and counters.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use l2tp_proto::control::EndpointConfig;
use l2tp_proto::data::{DatapathConfig, SessionOptions};
use ppp::AuthMethod;

use crate::core::{ClientSettings, DialPeer, LnsSettings, NodeConfig, RoleSettings};
use crate::ip::ipterm::{EchoResponder, Pinger};
use crate::leases::Ipv4Leases;
use crate::node::Node;
use crate::pool::{Ipv4Pool, Ipv4PoolSpec};
use crate::users::{User, Users};

/// Demo parameters (all have defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Sessions to open in the tunnel.
    #[arg(long, default_value_t = 4)]
    pub sessions: u32,
    /// ICMP echo requests per session.
    #[arg(long, default_value_t = 3)]
    pub pings: u16,
    /// PPP authentication: chap-md5, mschapv2 or pap.
    #[arg(long, default_value = "chap-md5")]
    pub auth: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
    /// Send data messages with sequence numbers (SENDSEQ on both sides).
    #[arg(long)]
    pub sequencing: bool,
    /// Root only: run an `l2tpd lns` and an `l2tpd client` process in two network namespaces
    /// it creates (and removes), with real TUN interfaces, and show the system's `ping`
    /// crossing each session.
    #[arg(long)]
    pub netns: bool,
    /// UDP address the demo LNS listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub lns_listen: SocketAddr,
}

const USER: &str = "demo";
const PASSWORD: &str = "demo-password";
const LNS_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn parse_auth(s: &str) -> Result<AuthMethod, String> {
    match s {
        "chap-md5" | "chap" => Ok(AuthMethod::ChapMd5),
        "mschapv2" | "ms-chapv2" => Ok(AuthMethod::MsChapV2),
        "pap" => Ok(AuthMethod::Pap),
        other => Err(format!(
            "--auth: unknown method {other:?} (chap-md5, mschapv2, pap)"
        )),
    }
}

/// Runs the demo, printing progress to stdout. Ok when every session passed its pings and the
/// LNS released everything after the hang-up.
pub fn run(args: &DemoArgs) -> Result<(), String> {
    if args.netns {
        return crate::demo_netns::run(args.sessions, args.pings);
    }
    let method = parse_auth(&args.auth)?;
    if args.sessions == 0 {
        return Err("--sessions: must be at least 1".into());
    }
    let session_opts = SessionOptions {
        send_seq: args.sequencing,
        ..SessionOptions::default()
    };

    // ---- the LNS, in its own thread -----------------------------------------------------
    let mut users = Users::new();
    users.insert(User {
        name: USER.into(),
        password: PASSWORD.into(),
        ipv4: None,
    });
    let pool_spec = Ipv4PoolSpec::Range {
        first: Ipv4Addr::new(203, 0, 113, 10),
        last: Ipv4Addr::new(203, 0, 113, 60),
    };
    let lns_cfg = NodeConfig {
        name: "lns".into(),
        listen: vec![args.lns_listen],
        endpoint: EndpointConfig {
            host_name: "demo-lns".into(),
            // As the daemon does by default: RFC 4951 failover offered.
            failover: crate::config::failover::FailoverConfig::default().capability(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: session_opts,
        ppp_echo_interval: Some(Duration::from_secs(10)),
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        role: RoleSettings::Lns(Box::new(LnsSettings {
            auth_methods: vec![method],
            local_ipv4: LNS_IP,
            dns: [Some(Ipv4Addr::new(198, 51, 100, 53)), None],
            users,
            pool: Ipv4Leases::new(Ipv4Pool::new(pool_spec), LNS_IP, []),
            max_sessions: 0,
            ipv6: false,
            ipv6_pool: None,
            allowed_peers: Vec::new(),
            max_tunnels: 0,
            session_timeout: None,
            idle_timeout: None,
            proxy: Default::default(),
            peer_policies: Vec::new(),
        })),
        seed: None,
        ip_mode: crate::core::IpMode::App,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = mpsc::channel::<Result<SocketAddr, String>>();
    let lns_stop = stop.clone();
    let responder = Arc::new(Mutex::new(EchoResponder::default()));
    let lns_responder = responder.clone();
    let lns_thread = std::thread::spawn(move || -> Result<(usize, u32), String> {
        let mut lns = match Node::new(lns_cfg) {
            Ok(n) => n,
            Err(e) => {
                let _ = addr_tx.send(Err(format!("LNS: cannot bind: {e}")));
                return Err(e.to_string());
            }
        };
        lns.set_ip_app(Box::new(lns_responder));
        let _ = addr_tx.send(Ok(lns.local_addr()));
        // Keep serving until told to stop, then a little longer so the client's StopCCN is
        // processed and acknowledged here.
        while !lns_stop.load(Ordering::Relaxed) {
            lns.step(Duration::from_millis(100))
                .map_err(|e| e.to_string())?;
        }
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            lns.step(Duration::from_millis(20))
                .map_err(|e| e.to_string())?;
        }
        Ok((lns.sessions().len(), lns.pool_in_use()))
    });
    let lns_addr = addr_rx
        .recv()
        .map_err(|_| "LNS thread ended before binding".to_string())??;
    println!("LNS     listening on {lns_addr} (UDP), local address {LNS_IP}, pool 203.0.113.10-203.0.113.60");
    println!("        user {USER:?}, PPP authentication {}", args.auth);

    // ---- the client, in this thread ------------------------------------------------------
    let pinger = Arc::new(Mutex::new(Pinger::new(
        args.pings,
        Duration::from_millis(200),
    )));
    let client_cfg = NodeConfig {
        name: "client".into(),
        listen: vec!["127.0.0.1:0".parse().expect("literal address")],
        endpoint: EndpointConfig {
            host_name: "demo-client".into(),
            // As the daemon does by default: RFC 4951 failover offered.
            failover: crate::config::failover::FailoverConfig::default().capability(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: session_opts,
        ppp_echo_interval: Some(Duration::from_secs(10)),
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        role: RoleSettings::Client(ClientSettings {
            peers: vec![DialPeer::Addr(lns_addr)],
            username: USER.into(),
            password: PASSWORD.into(),
            retry_password: None,
            tunnels: 1,
            sessions: args.sessions,
            redial_initial: Duration::from_secs(1),
            redial_max: Duration::from_secs(30),
            redial: true,
            auth_methods: Vec::new(),
            default_route: false,
            local_port: None,
            outgoing_calls: Default::default(),
        }),
        seed: None,
        ip_mode: crate::core::IpMode::App,
    };
    let mut client = Node::new(client_cfg).map_err(|e| format!("client: cannot bind: {e}"))?;
    client.set_ip_app(Box::new(pinger.clone()));
    println!(
        "client  {} dialing {lns_addr} with {} session(s)",
        client.local_addr(),
        args.sessions
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut shown_tunnel = false;
    let mut shown = std::collections::HashSet::new();
    let mut done = false;
    while Instant::now() < deadline {
        client
            .step(Duration::from_millis(50))
            .map_err(|e| e.to_string())?;
        if !shown_tunnel {
            if let Some(t) = client
                .endpoint()
                .tunnels()
                .find(|t| matches!(t.state, l2tp_proto::control::TunnelStateKind::Established))
            {
                println!(
                    "tunnel  {} up (peer tunnel {}, peer {})",
                    t.tunnel, t.peer_tunnel, t.peer
                );
                shown_tunnel = true;
            }
        }
        let sessions = client.sessions();
        for s in &sessions {
            let Some(ip) = s.ipv4 else { continue };
            if shown.insert(s.key) {
                println!(
                    "session {}: PPP up as {:?}, address {} (peer {}, DNS {})",
                    s.key,
                    s.user.as_deref().unwrap_or("?"),
                    ip.local,
                    ip.peer,
                    ip.dns[0]
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                );
            }
        }
        let p = pinger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shown.len() as u32 >= args.sessions && p.all_answered() {
            done = true;
            break;
        }
    }

    // ---- results -------------------------------------------------------------------------
    let sessions = client.sessions();
    let (mut sent, mut received) = (0u32, 0u32);
    println!();
    println!(
        "{:<12} {:<8} {:<15} {:<15} {:>6} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "SESSION",
        "USER",
        "ADDRESS",
        "PEER",
        "PINGS",
        "TX_PKTS",
        "TX_BYTES",
        "RX_PKTS",
        "RX_BYTES",
        "RX_ERR"
    );
    {
        let p = pinger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &sessions {
            let st = p.status().find(|(k, _)| **k == s.key).map(|(_, st)| *st);
            let (ps, pr) = st.map(|st| (st.sent, st.received)).unwrap_or((0, 0));
            sent += u32::from(ps);
            received += u32::from(pr);
            println!(
                "{:<12} {:<8} {:<15} {:<15} {:>6} {:>9} {:>9} {:>9} {:>9} {:>6}",
                s.key.to_string(),
                s.user.as_deref().unwrap_or("-"),
                s.ipv4
                    .map(|i| i.local.to_string())
                    .unwrap_or_else(|| "-".into()),
                s.ipv4
                    .map(|i| i.peer.to_string())
                    .unwrap_or_else(|| "-".into()),
                format!("{pr}/{ps}"),
                s.stats.tx_packets,
                s.stats.tx_bytes,
                s.stats.rx_packets,
                s.stats.rx_bytes,
                s.stats.rx_errors + s.stats.rx_seq_discards,
            );
        }
    }
    let sessions_up = sessions.iter().filter(|s| s.ipv4.is_some()).count();
    println!();
    println!("hanging up (StopCCN) ...");
    client
        .shutdown(Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    stop.store(true, Ordering::Relaxed);
    let (lns_left, pool_left) = lns_thread
        .join()
        .map_err(|_| "LNS thread panicked".to_string())??;
    let answered = responder
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .answered;
    println!("LNS     answered {answered} echo request(s); after hang-up: {lns_left} session(s), {pool_left} pool address(es) in use");
    if done && lns_left == 0 && pool_left == 0 {
        println!("demo OK: {sessions_up} session(s) up, {received}/{sent} echo replies");
        Ok(())
    } else {
        Err(format!(
            "demo FAILED: {sessions_up}/{} session(s) up, {received}/{sent} echo replies, LNS left with {lns_left} session(s) and {pool_left} address(es)",
            args.sessions
        ))
    }
}
