//! `l2tpctl decode`: read a capture (pcap or pcapng) or hex datagrams from stdin, and print
//! every L2TPv2 packet on one line (message type, ids, Ns/Nr, AVPs by name with values; PPP
//! protocol and code for data), or as one JSON object per line with `--json`.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod capture;
mod ppp;
mod render;

pub use capture::Datagram;

/// Arguments of `l2tpctl decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Capture file: pcap or pcapng (Ethernet, Linux cooked SLL/SLL2, raw IP, loopback).
    #[arg(required_unless_present = "hex", conflicts_with = "hex")]
    pub file: Option<PathBuf>,
    /// Read hex-encoded L2TP datagrams (UDP payloads) from stdin, one per line.
    #[arg(long)]
    pub hex: bool,
    /// Also treat this UDP port as L2TP (1701 is always included). Repeatable.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,
    /// Tunnel shared secret, to show the values of hidden AVPs.
    #[arg(long)]
    pub secret: Option<String>,
    /// Print one JSON object per packet instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; exit status 0 on success, 1 when the input cannot be read.
pub fn run(args: &DecodeArgs) -> ExitCode {
    let datagrams = match read_input(args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("l2tpctl decode: {e}");
            return ExitCode::from(1);
        }
    };
    let secret = args.secret.as_deref().map(str::as_bytes);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &datagrams {
        let line = if args.json {
            render::json_line(d, secret)
        } else {
            render::text_line(d, secret)
        };
        if writeln!(out, "{line}").is_err() {
            return ExitCode::SUCCESS; // stdout closed (e.g. piped into `head`)
        }
    }
    if out.flush().is_err() {
        return ExitCode::SUCCESS;
    }
    ExitCode::SUCCESS
}

fn read_input(args: &DecodeArgs) -> Result<Vec<Datagram>, String> {
    if args.hex {
        return read_hex(std::io::stdin().lock());
    }
    let Some(path) = &args.file else {
        return Err("no capture file given (or use --hex)".into());
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ports: BTreeSet<u16> = args.ports.iter().copied().collect();
    ports.insert(l2tp_wire::header::L2TP_PORT);
    capture::l2tp_datagrams(&bytes, &ports).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses hex datagrams, one per line; blank lines and `#` comments are skipped, and
/// whitespace, `:` and `-` separators inside a line are ignored.
fn read_hex(input: impl BufRead) -> Result<Vec<Datagram>, String> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        let cleaned: String = line
            .chars()
            .take_while(|c| *c != '#')
            .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
            .collect();
        if cleaned.is_empty() {
            continue;
        }
        let payload = hex::decode(&cleaned).map_err(|e| format!("stdin line {}: {e}", i + 1))?;
        out.push(Datagram {
            frame: i + 1,
            time: None,
            src: None,
            dst: None,
            payload,
        });
    }
    Ok(out)
}
