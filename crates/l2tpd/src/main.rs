//! `l2tpd`: the L2TP daemon (LNS, LAC, client) and its demo.

use clap::{Parser, Subcommand};

/// An L2TP (RFC 2661) LNS / LAC / client entirely in userspace.
#[derive(Debug, Parser)]
#[command(name = "l2tpd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an LNS and a client in one process on loopback: tunnel, sessions, PPP (CHAP, IPCP)
    /// and ICMP echo through every session. No files, no root.
    Demo(l2tpd::demo::DemoArgs),
}

fn main() {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Demo(args) => match l2tpd::demo::run(&args) {
            Ok(_) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
    };
    std::process::exit(code);
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("L2TPD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
