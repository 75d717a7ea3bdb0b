//! `l2tpctl`: the operator CLI. `l2tpctl decode` prints the L2TP packets of a capture (or of
//! hex on stdin); daemon-management subcommands join the [`Command`] enum in their own modules.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;
mod manage;

/// Command line of `l2tpctl`.
#[derive(Debug, Parser)]
#[command(
    name = "l2tpctl",
    version,
    about = "L2TP operator tool: decode captures, manage l2tpd"
)]
struct Cli {
    #[command(flatten)]
    manage: manage::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode L2TPv2 packets from a pcap/pcapng capture, or hex datagrams on stdin.
    Decode(decode::DecodeArgs),
    /// Manage a running l2tpd (tunnels, sessions, show, set, close, dial, hangup, stats).
    #[command(flatten)]
    Manage(manage::ManageCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Manage(cmd) => manage::run(&cli.manage, &cmd),
    }
}
