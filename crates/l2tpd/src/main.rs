//! `l2tpd`: the L2TP daemon (LNS, LAC, client) and its demo.

use clap::{CommandFactory, Parser, Subcommand};
use l2tpd::config::{self, ClientArgs, LacArgs, LnsArgs, RunArgs};

mod gendocs;

/// An L2TP (RFC 2661) LNS / LAC / client entirely in userspace: control protocol, datapath
/// and PPP in one process, IP on TUN devices. No kernel L2TP or PPP needed.
#[derive(Debug, Parser)]
#[command(
    name = "l2tpd",
    version,
    about,
    after_help = "EXAMPLES:\n  \
  l2tpd demo                                   # LNS + client on loopback, no root\n  \
  l2tpd lns --listen 0.0.0.0:1701 --pool 203.0.113.10-203.0.113.200 \\\n          \
--local-ip 198.51.100.1 --user alice:secret\n  \
  l2tpd client --server 192.0.2.1 --user alice --password secret\n  \
  l2tpd run --config /etc/l2tpd.toml\n\n\
Manage a running daemon with l2tpctl (l2tpctl --help)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an LNS and a client in one process on loopback: tunnel, sessions, PPP (CHAP, IPCP)
    /// and ICMP echo through every session. No files, no root.
    Demo(l2tpd::demo::DemoArgs),
    /// Serve as an LNS from command-line flags (no config file).
    Lns(LnsArgs),
    /// Dial an LNS as a client from command-line flags; one TUN interface per session.
    Client(ClientArgs),
    /// Relay PPPoE subscribers to an LNS (chosen by realm) as a LAC, from command-line
    /// flags: proxy LCP and proxy authentication in each call.
    Lac(LacArgs),
    /// Run from a configuration file (see docs/configuration.md).
    #[command(
        long_about = "Run from a configuration file (see docs/configuration.md). Signals: \
SIGTERM and SIGINT close every tunnel (StopCCN) and exit; SIGHUP re-reads the configuration \
(like `l2tpctl reload`); SIGUSR2 hands the daemon over to a new process of its binary without \
dropping a session (like `l2tpctl upgrade`; docs/upgrade.md)."
    )]
    Run(RunArgs),
    /// Check a configuration file and its users file (like nginx -t); exit 0 or 1.
    #[command(
        long_about = "Check a configuration file and everything it refers to, like `nginx -t`, \
without starting anything: every value `run` would refuse, the users file line by line \
(syntax, duplicate users, empty passwords), a pool that includes a fixed address or \
lns.local_ipv4, pools and addresses in reserved ranges (0.0.0.0/8, 127.0.0.0/8, multicast, \
255.255.255.255), and files holding secrets that anyone can write. Every problem is printed \
at once as FILE:LINE: message. Exit status 0 when the configuration is fine, 1 otherwise.",
        after_long_help = "EXAMPLES:\n    l2tpd check --config /etc/l2tpd/l2tpd.toml\n    l2tpd check --config /etc/l2tpd/l2tpd.toml && systemctl reload l2tpd"
    )]
    Check {
        /// The configuration file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: std::path::PathBuf,
    },
    /// Load generator: open T tunnels × S sessions against an LNS (PPP with authentication
    /// and IPCP in each), report sessions per second, hold, hang up. No TUN, no root.
    Loadgen(l2tpd::loadgen::LoadgenArgs),
    /// Write man pages and shell completions (packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// Output directory (man/ and completions/ are created in it).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => {
            init_logging("warn");
            l2tpd::demo::run(&args)
        }
        Command::Loadgen(args) => {
            init_logging("warn");
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                let _ = signal_hook::flag::register(sig, stop.clone());
            }
            l2tpd::loadgen::run(&args, &stop)
        }
        Command::Check { config } => {
            let report = l2tpd::check::check(&config);
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            for e in &report.errors {
                eprintln!("{e}");
            }
            if report.errors.is_empty() {
                println!(
                    "{}: configuration OK ({})",
                    config.display(),
                    report.summary.unwrap_or_default()
                );
                return;
            }
            Err(format!(
                "{}: {} problem(s), configuration refused",
                config.display(),
                report.errors.len()
            ))
        }
        Command::GenerateDocs { out } => gendocs::write(Cli::command(), &out)
            .map(|files| {
                for f in files {
                    println!("{}", f.display());
                }
            })
            .map_err(|e| format!("{}: {e}", out.display())),
        Command::Lns(args) => config::config_from_lns_args(&args)
            .map_err(|e| e.to_string())
            .and_then(|(cfg, warnings)| start(cfg, warnings, flags())),
        Command::Client(args) => config::config_from_client_args(&args)
            .map_err(|e| e.to_string())
            .and_then(|(cfg, warnings)| start(cfg, warnings, flags())),
        Command::Lac(args) => config::config_from_lac_args(&args)
            .map_err(|e| e.to_string())
            .and_then(|(cfg, warnings)| start(cfg, warnings, flags())),
        Command::Run(args) => config::Config::load(&args.config)
            .map_err(|e| e.to_string())
            .and_then(|(mut cfg, warnings)| {
                args.common.apply(&mut cfg);
                let source = l2tpd::reload::Source {
                    path: Some(args.config.clone()),
                    common: args.common.clone(),
                };
                start(cfg, warnings, source)
            }),
    };
    if let Err(e) = result {
        eprintln!("l2tpd: {e}");
        std::process::exit(1);
    }
}

/// A daemon started from flags: a reload re-reads its users file only.
fn flags() -> l2tpd::reload::Source {
    l2tpd::reload::Source {
        path: None,
        common: Default::default(),
    }
}

fn start(
    cfg: config::Config,
    warnings: Vec<config::Warning>,
    source: l2tpd::reload::Source,
) -> Result<(), String> {
    l2tpd::logging::init(cfg.daemon.log_level.as_str(), cfg.daemon.log_format);
    for w in warnings {
        // JSON logs stay one object per line: configuration warnings are log lines there.
        match cfg.daemon.log_format {
            config::LogFormat::Json => tracing::warn!("{w}"),
            config::LogFormat::Text => eprintln!("warning: {w}"),
        }
    }
    l2tpd::daemon::run(cfg, source)
}

fn init_logging(default: &str) {
    l2tpd::logging::init(default, config::LogFormat::Text);
}
