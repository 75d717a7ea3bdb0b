//! `l2tpctl`: the operator CLI. `l2tpctl decode` prints the L2TP packets of a capture (or of
//! hex on stdin); daemon-management subcommands join the [`Command`] enum in their own modules.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod decode;
// One generator for both binaries' man pages and completions: l2tpd's.
#[path = "../../l2tpd/src/gendocs.rs"]
mod gendocs;
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
    /// Write man pages and shell completions (packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// Output directory (man/ and completions/ are created in it).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Manage(cmd) => manage::run(&cli.manage, &cmd),
        Command::GenerateDocs { out } => match gendocs::write(Cli::command(), &out) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("l2tpctl: {}: {e}", out.display());
                ExitCode::FAILURE
            }
        },
    }
}
