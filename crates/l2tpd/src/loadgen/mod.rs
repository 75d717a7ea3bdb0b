//! `l2tpd loadgen`: a LAC that opens T tunnels × S sessions against an LNS, each session
//! completing PPP (authentication and IPCP), and reports how fast they came up. IP is
//! terminated inside the process (no TUN), so it needs no root and measures the LNS, not
//! the host's interfaces. Used by the scale benchmark and the 10,000-session test.
//!
//! With `--pppoe-interface`, it is N PPPoE subscribers instead ([`pppoe`]), toward a LAC
//! on that Ethernet link (root: raw sockets).

pub mod pppoe;
pub mod subscriber;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use l2tp_proto::control::EndpointConfig;
use l2tp_proto::data::{DatapathConfig, SessionOptions};

use crate::core::IpMode;
use crate::core::{ClientSettings, DialPeer, NodeConfig, RoleSettings};
use crate::node::Node;

/// Load generator parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// The LNS, ADDR:PORT (L2TP mode).
    #[arg(
        long,
        value_name = "ADDR:PORT",
        required_unless_present = "pppoe_interface"
    )]
    pub server: Option<SocketAddr>,
    /// PPPoE mode: emulate `--subscribers` PPPoE hosts on this Ethernet interface, toward a
    /// LAC on the same link (needs CAP_NET_RAW).
    #[arg(long, value_name = "IF", conflicts_with = "server")]
    pub pppoe_interface: Option<String>,
    /// PPPoE mode: subscribers to bring up.
    #[arg(long, default_value_t = 100)]
    pub subscribers: u32,
    /// PPPoE mode: new subscribers (PADIs) per second.
    #[arg(long, default_value_t = 150)]
    pub rate: u32,
    /// PPPoE mode: most subscribers negotiating at once.
    #[arg(long, default_value_t = 256)]
    pub window: u32,
    /// PPPoE mode: while held, every subscriber sends an LCP Echo-Request through the relay
    /// this often (milliseconds; 0: none) and the report counts the replies.
    #[arg(long, default_value_t = 0)]
    pub echo_interval_ms: u64,
    /// PPPoE mode: subscribers on 802.1Q VLANs FIRST[-LAST], in turn (subscriber i on the
    /// i-th, modulo their number), toward a LAC serving the interface as a VLAN trunk. Each
    /// subscriber takes only frames on its own VLAN.
    #[arg(long, value_name = "FIRST[-LAST]")]
    pub vlans: Option<String>,
    /// Tunnels to open.
    #[arg(long, default_value_t = 1)]
    pub tunnels: u32,
    /// Sessions per tunnel (at most 65,535).
    #[arg(long, default_value_t = 100)]
    pub sessions: u32,
    /// PPP user name.
    #[arg(long)]
    pub user: String,
    /// PPP password.
    #[arg(long)]
    pub password: String,
    /// Tunnel secret.
    #[arg(long)]
    pub secret: Option<String>,
    /// Seconds to keep the sessions up once all are established (hellos and LCP echoes run).
    #[arg(long, default_value_t = 0)]
    pub hold: u64,
    /// Give up establishing after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What a run measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LoadgenReport {
    /// Sessions asked for (tunnels × sessions).
    pub requested: u64,
    /// Sessions whose IPCP came up.
    pub established: u64,
    /// Seconds from the first SCCRQ to the last session up.
    pub seconds: f64,
    /// established / seconds.
    pub sessions_per_second: f64,
}

/// Runs the generator; returns the report (also printed).
pub fn run(args: &LoadgenArgs, stop: &AtomicBool) -> Result<(), String> {
    match (&args.pppoe_interface, args.server) {
        (Some(iface), _) => pppoe::run(iface, args, stop).map(|_| ()),
        (None, Some(server)) => run_l2tp(server, args, stop).map(|_| ()),
        (None, None) => Err("--server or --pppoe-interface".into()),
    }
}

/// L2TP mode: T tunnels × S sessions against `server`.
pub fn run_l2tp(
    server: SocketAddr,
    args: &LoadgenArgs,
    stop: &AtomicBool,
) -> Result<LoadgenReport, String> {
    if args.sessions == 0 || args.sessions > 65_535 || args.tunnels == 0 {
        return Err("--tunnels ≥ 1 and 1 ≤ --sessions ≤ 65535".into());
    }
    let secret = args.secret.as_ref().map(|s| s.as_bytes().to_vec());
    let listen: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let cfg = NodeConfig {
        name: "loadgen".into(),
        listen: vec![listen],
        endpoint: EndpointConfig {
            host_name: "l2tpd-loadgen".into(),
            receive_window: 64,
            ack_delay: Duration::from_millis(5),
            auth: l2tp_proto::control::PeerAuth {
                secret,
                ..Default::default()
            },
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: Some(Duration::from_secs(30)),
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        role: RoleSettings::Client(ClientSettings {
            peers: vec![DialPeer::Addr(server)],
            username: args.user.clone(),
            password: args.password.clone(),
            retry_password: None,
            tunnels: args.tunnels,
            sessions: args.sessions,
            redial_initial: Duration::from_secs(1),
            redial_max: Duration::from_secs(10),
            redial: true,
            auth_methods: Vec::new(),
            default_route: false,
            local_port: None,
            outgoing_calls: Default::default(),
        }),
        seed: None,
        ip_mode: IpMode::App,
    };
    let mut node = Node::new(cfg).map_err(|e| e.to_string())?;
    let requested = u64::from(args.tunnels) * u64::from(args.sessions);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout);
    let mut last_check = start;
    let mut established = 0;
    let mut last_up = start;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        node.step(Duration::from_millis(20))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        if now.duration_since(last_check) >= Duration::from_millis(100) {
            last_check = now;
            let up = node.sessions_up() as u64;
            if up > established {
                established = up;
                last_up = now;
            }
            if established >= requested {
                break;
            }
        }
    }
    let seconds = last_up.duration_since(start).as_secs_f64().max(1e-6);
    let report = LoadgenReport {
        requested,
        established,
        seconds,
        sessions_per_second: established as f64 / seconds,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "loadgen: {established}/{requested} sessions up in {seconds:.2} s ({:.0} sessions/s)",
            report.sessions_per_second
        );
    }
    let hold_until = Instant::now() + Duration::from_secs(args.hold);
    while Instant::now() < hold_until && !stop.load(Ordering::Relaxed) {
        node.step(Duration::from_millis(200))
            .map_err(|e| e.to_string())?;
    }
    node.shutdown(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    Ok(report)
}
