//! `l2tpctl`: the operator CLI. `l2tpctl decode` prints the L2TP packets of a capture (or of
//! hex on stdin); daemon-management subcommands join the [`Command`] enum in their own modules.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;

/// Command line of `l2tpctl`.
#[derive(Debug, Parser)]
#[command(
    name = "l2tpctl",
    version,
    about = "L2TP operator tool: decode captures, manage l2tpd"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode L2TPv2 packets from a pcap/pcapng capture, or hex datagrams on stdin.
    Decode(decode::DecodeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode(args) => decode::run(&args),
    }
}
