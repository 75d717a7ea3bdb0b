//! Management subcommands: talk to a running `l2tpd` over its Unix socket
//! (protocol: the `l2tp-mgmt` crate).
//!
//! Read commands print blocks in the style of `ip l2tp show tunnel` / `ip l2tp show session`
//! (`tunnels`, `show`, `stats`), one line per session (`sessions`, with columns, filters,
//! sort and count: [`table`]), or JSON with `--json`. Write commands
//! (`set`, `close`, `dial`, `hangup`) print nothing on success. Errors go to stderr; the exit
//! status is 1 when the daemon refuses, 2 for usage errors (clap) and 3 when the daemon
//! cannot be reached.

mod format;
pub mod table;
pub mod top;

use clap::{Args, Subcommand, ValueEnum};
use l2tp_mgmt::{
    Client, MgmtError, Request, Response, SessionInfo, SessionOption, SessionSelector,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options shared by every management subcommand (mounted globally on `l2tpctl`).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Management socket of the daemon [default: $L2TPD_SOCKET, else /run/l2tpd.sock (or,
    /// when that does not exist, the packaged service's /run/l2tpd/l2tpd.sock), or
    /// $XDG_RUNTIME_DIR/l2tpd.sock when not root].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// Output format switch of read commands.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct OutputArgs {
    /// Print the daemon's answer as JSON (one document) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The management subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ManageCommand {
    /// List tunnels.
    #[command(
        long_about = "List every tunnel of the running daemon, one block per tunnel, like \
`ip l2tp show tunnel`: local and peer tunnel ids, addresses, state, session count, uptime, \
control channel counters and datapath statistics.",
        after_long_help = "EXAMPLES:\n    l2tpctl tunnels\n    l2tpctl tunnels --json | jq '.[].peer_addr'\n    l2tpctl --socket /run/user/1000/l2tpd.sock tunnels"
    )]
    Tunnels {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List sessions, one line each (filters, columns, sort, count).
    #[command(
        long_about = "List sessions, one line each: by default the session (TID/SID), user, \
address, the tunnel's peer, state, interface, uptime and bytes each way. FILTERs narrow the \
list and must all match: user=PATTERN (* and ? wildcards), ip=ADDR or ip=NET/LEN (IPv4 or \
IPv6), peer=ADDR[:PORT] (the LAC), state=STATE, tunnel=TID. -o picks the columns: id, tunnel, \
session, user, ip, ipv6, peer, state, iface, uptime, rx_bytes, tx_bytes, rx_pkts, tx_pkts, \
rx_errors. --sort orders by any column (numbers and addresses numerically; -COL or --reverse \
for descending). --count prints only how many sessions match. Every detail of one session \
(options, all counters) is behind `l2tpctl show session TID SID`.",
        after_long_help = "EXAMPLES:\n    l2tpctl sessions\n    l2tpctl sessions user='ali*' state=established\n    l2tpctl sessions ip=203.0.113.0/24 --sort -rx_bytes\n    l2tpctl sessions peer=192.0.2.1 --count\n    l2tpctl sessions -o user,ip,uptime --no-header\n    l2tpctl sessions --json"
    )]
    Sessions {
        /// Filters, all of which must match: user=, ip=, peer=, state=, tunnel=.
        #[arg(value_name = "FILTER")]
        filters: Vec<String>,
        /// Only the sessions of this local tunnel id (same as tunnel=TID).
        #[arg(long, value_name = "TID")]
        tunnel: Option<u16>,
        /// Columns to show, comma-separated [default: id,user,ip,peer,state,iface,uptime,rx_bytes,tx_bytes].
        #[arg(short = 'o', long = "columns", value_name = "COLS")]
        columns: Option<String>,
        /// Sort by this column (-COL: descending).
        #[arg(long, value_name = "COL", allow_hyphen_values = true)]
        sort: Option<String>,
        /// Reverse the order.
        #[arg(long)]
        reverse: bool,
        /// Print only the number of matching sessions.
        #[arg(long)]
        count: bool,
        /// No header line.
        #[arg(long)]
        no_header: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Live view of the busiest sessions (rates each way, refreshed).
    #[command(
        long_about = "A live table of the sessions carrying the most traffic: bytes per second \
each way since the previous refresh, totals, user, address, the tunnel's peer and uptime, \
heaviest first. On a terminal the screen is redrawn until interrupted (Ctrl-C); otherwise \
frames are printed one after another (2 unless -n says).",
        after_long_help = "EXAMPLES:\n    l2tpctl top\n    l2tpctl top -d 5 -l 50\n    l2tpctl top -n 3 -d 1 > busiest.txt"
    )]
    Top(top::TopArgs),
    /// A session's line quality: probe loss, round trip and traffic per 100-s period.
    #[command(
        long_about = "A session's line quality over the last 24 hours, one line per 100-second \
period (the last line is the period in progress): when it ended (UTC), LCP echo probes sent \
and lost, loss in percent, the shortest/mean/longest round trip in milliseconds, and the \
bytes received from and sent to the peer. The daemon probes every ppp.quality_interval \
seconds (default 1). --json gives the same figures to scripts; `l2tpctl graph` draws them.",
        after_long_help = "EXAMPLES:\n    l2tpctl quality 12 7\n    l2tpctl quality 12 7 --json | jq '.periods[-1]'"
    )]
    Quality {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// Local session id.
        #[arg(value_name = "SID")]
        session: u16,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// A session's line-quality graph as SVG (to open in a browser).
    #[command(
        long_about = "Writes a session's line-quality graph for the last 24 hours as an SVG \
document on standard output: round trip (band from shortest to longest, line for the mean) \
and lost probes in red in the top panel, traffic each way in the bottom one. The daemon's \
metrics listener serves the same graph at /sessions/TID/SID/quality.svg.",
        after_long_help = "EXAMPLES:\n    l2tpctl graph 12 7 > q.svg\n    l2tpctl graph 12 7 | rsvg-convert > q.png"
    )]
    Graph {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// Local session id.
        #[arg(value_name = "SID")]
        session: u16,
    },
    /// Show one tunnel or session.
    #[command(
        long_about = "Show one tunnel (by local tunnel id) or one session (by local tunnel \
and session ids) with all its counters.",
        after_long_help = "EXAMPLES:\n    l2tpctl show tunnel 12\n    l2tpctl show session 12 7\n    l2tpctl show session 12 7 --json"
    )]
    Show {
        #[command(subcommand)]
        what: ShowWhat,
    },
    /// Change a session or tunnel option.
    #[command(
        long_about = "Change a datapath option of a session, with the meaning of the PPPoL2TP \
socket options: sendseq (send sequence numbers), recvseq (require them), lnsmode (act as \
LNS for sequencing decisions), reorderto (reorder timeout in ms, 0 = drop out-of-order \
packets), debug (debug mask). A tunnel accepts only debug. Debug masks are numbers (12, \
0xc) or names from debug, control, seq, data, all, none, separated by commas.",
        after_long_help = "EXAMPLES:\n    l2tpctl set session 12 7 sendseq on\n    l2tpctl set session 12 7 reorderto 200\n    l2tpctl set session 12 7 debug data,seq\n    l2tpctl set tunnel 12 debug 0xf"
    )]
    Set {
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Close a session (CDN), a user's sessions, an address's session, or a tunnel (StopCCN).
    #[command(
        long_about = "Close a session (the daemon sends a CDN, RFC 2661 §6.13), every session \
of a user (the exact name), the session holding an address, or a whole tunnel with its \
sessions (StopCCN, RFC 2661 §6.3). Closing by user or address prints one line per session \
closed (TID/SID, user, address) and fails when no session matches.",
        after_long_help = "EXAMPLES:\n    l2tpctl close session 12 7\n    l2tpctl close user alice\n    l2tpctl close address 203.0.113.5\n    l2tpctl close tunnel 12"
    )]
    Close {
        #[command(subcommand)]
        what: CloseWhat,
    },
    /// LAC/client: place a call to a configured LNS.
    #[command(
        long_about = "LAC/client role: open a tunnel to a configured LNS when there is none \
and place a call. PEER picks one of the configured peers (host[:port]); without it the first \
one is used. Prints the local tunnel and session ids of the new call.",
        after_long_help = "EXAMPLES:\n    l2tpctl dial\n    l2tpctl dial lns2.example.net:1701"
    )]
    Dial {
        /// Which configured LNS to dial.
        #[arg(value_name = "PEER")]
        peer: Option<String>,
    },
    /// Place a call: `call out TID NUMBER` (LNS: an outgoing call to the LAC of a tunnel).
    #[command(
        long_about = "LNS role: `call out TID NUMBER` places an outgoing call (OCRQ, RFC 2661 \
§5.2) in tunnel TID, asking the LAC at its other end to dial NUMBER (sent as the Called \
Number AVP). Prints the local tunnel and session ids of the call. The LAC answers with OCRP \
and OCCN when it accepts the call (the session is then up on both sides and PPP starts, our \
end authenticating the far end as for any call) or with a CDN when it refuses: an l2tpd LAC \
refuses unless its [dial] section says `outgoing_calls = \"accept\"`.",
        after_long_help = "EXAMPLES:\n    l2tpctl call out 12 5551234"
    )]
    Call {
        #[command(subcommand)]
        what: CallWhat,
    },
    /// LAC/client: hang up calls.
    #[command(
        long_about = "LAC/client role: hang up one call (TID SID), every call of a tunnel \
(TID), or every call the daemon placed (no arguments). Redialling stops for calls hung up \
this way. An LNS refuses `hangup` without a tunnel (it would close every subscriber): name \
the tunnel or session, or use `close`.",
        after_long_help = "EXAMPLES:\n    l2tpctl hangup\n    l2tpctl hangup 12 7"
    )]
    Hangup {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: Option<u16>,
        /// Local session id.
        #[arg(value_name = "SID", requires = "tunnel")]
        session: Option<u16>,
    },
    /// Daemon-wide counters.
    #[command(
        long_about = "Daemon-wide figures: role, uptime, tunnels and sessions per state, \
control channel counters (retransmissions), datapath counters summed over all sessions, \
authentication failures and refusals. The same figures are exported as Prometheus metrics \
when daemon.metrics_listen is set.",
        after_long_help = "EXAMPLES:\n    l2tpctl stats\n    l2tpctl stats --json"
    )]
    Stats {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Re-read the daemon's configuration file (like SIGHUP) and say what changed.
    #[command(
        long_about = "Re-read the configuration file and apply what can change without \
touching established sessions: users (inline or the users file), a grown address pool, \
limits, allowed peers, session timeouts, the tunnel secret for new tunnels, the log level. \
Prints each change applied and each change that needs a restart. An invalid file is refused \
with its errors (exit status 1) and the running configuration is kept.",
        after_long_help = "EXAMPLES:\n    l2tpctl reload\n    l2tpctl reload --json"
    )]
    Reload {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Hitless upgrade: hand the daemon over to a new process of its binary; sessions stay up.
    #[command(
        long_about = "Hand the running daemon over to a new process (like SIGUSR2): the binary \
the daemon was started from (normally a newer build installed over it), or --binary. The new \
process receives the UDP sockets, TUN devices, management and metrics sockets and a snapshot \
of every tunnel, session, PPP link, address lease and counter; the old one stops reading, \
and exits once the new one confirms. Peers see a short pause in data and nothing else (no \
StopCCN, no CDN, no LCP renegotiation). Prints the new pid, what was carried over and how \
long nothing was read. If the new binary cannot take over (for example it does not read \
this snapshot format), the error is printed (exit status 1) and the running daemon carries \
on. Userspace datapath, LNS and client roles; see docs/upgrade.md.",
        after_long_help = "EXAMPLES:\n    l2tpctl upgrade\n    l2tpctl upgrade --binary /usr/local/sbin/l2tpd.new\n    systemctl kill -s USR2 l2tpd"
    )]
    Upgrade {
        /// The binary to start instead of the daemon's own.
        #[arg(long, value_name = "PATH")]
        binary: Option<std::path::PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// LAC: PPPoE subscribers beside the L2TP calls they are relayed into.
    #[command(
        long_about = "A relaying LAC's PPPoE subscribers, one line each: interface and PPPoE \
session id, the subscriber's MAC address (and Agent-Circuit-Id when an intermediate agent \
gave one), the user once known, the LNS, the state (negotiating: LCP and authentication \
with the LAC; calling: ICRQ sent; relaying), the L2TP call (TID/SID, as in `l2tpctl \
sessions`), uptime, and PPP frames and bytes relayed each way.",
        after_long_help = "EXAMPLES:\n    l2tpctl pppoe\n    l2tpctl pppoe --json | jq '.data[] | select(.state == \"relaying\")'"
    )]
    Pppoe {
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `show tunnel|session`.
#[derive(Debug, Clone, Subcommand)]
pub enum ShowWhat {
    /// One tunnel.
    Tunnel {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        id: u16,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// One session.
    Session {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// Local session id.
        #[arg(value_name = "SID")]
        session: u16,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// Session options settable with `set session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionOptName {
    /// Send sequence numbers: on|off.
    Sendseq,
    /// Require sequence numbers on receive: on|off.
    Recvseq,
    /// LNS mode for sequencing decisions: on|off.
    Lnsmode,
    /// Reorder timeout in milliseconds (0 = no reordering).
    Reorderto,
    /// Debug mask (number or names).
    Debug,
}

/// Tunnel options settable with `set tunnel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TunnelOptName {
    /// Debug mask (number or names).
    Debug,
}

/// `set session|tunnel`.
#[derive(Debug, Clone, Subcommand)]
pub enum SetWhat {
    /// Set a session option: sendseq on|off, recvseq on|off, lnsmode on|off, reorderto MS, debug MASK.
    Session {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// Local session id.
        #[arg(value_name = "SID")]
        session: u16,
        /// Option name.
        #[arg(value_enum, value_name = "OPTION")]
        option: SessionOptName,
        /// New value (on/off, milliseconds or a debug mask).
        #[arg(value_name = "VALUE")]
        value: String,
    },
    /// Set a tunnel option: debug MASK.
    Tunnel {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        id: u16,
        /// Option name (only debug).
        #[arg(value_enum, value_name = "OPTION")]
        option: TunnelOptName,
        /// Debug mask: a number or names (data,seq).
        #[arg(value_name = "MASK")]
        value: String,
    },
}

/// `call out`.
#[derive(Debug, Clone, Subcommand)]
pub enum CallWhat {
    /// An outgoing call (OCRQ) in a tunnel.
    Out {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// The number the LAC is to dial.
        #[arg(value_name = "NUMBER")]
        number: String,
    },
}

/// `close session|tunnel`.
#[derive(Debug, Clone, Subcommand)]
pub enum CloseWhat {
    /// Close one session.
    Session {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        tunnel: u16,
        /// Local session id.
        #[arg(value_name = "SID")]
        session: u16,
    },
    /// Close a tunnel and all its sessions.
    Tunnel {
        /// Local tunnel id.
        #[arg(value_name = "TID")]
        id: u16,
    },
    /// Close every session of a user (the exact name).
    User {
        /// The authenticated user name.
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Close the session holding an address (IPv4 or IPv6).
    #[command(alias = "ip")]
    Address {
        /// The session's address.
        #[arg(value_name = "ADDR")]
        addr: std::net::IpAddr,
    },
}

/// Why a management command failed.
#[derive(Debug)]
pub enum CtlError {
    /// The arguments are not acceptable (exit 2).
    Usage(String),
    /// The daemon could not be reached or the connection failed (exit 3).
    Connection(MgmtError),
    /// The daemon refused (exit 1).
    Daemon(String),
    /// Writing the output failed (exit 1).
    Output(std::io::Error),
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::Usage(m) => f.write_str(m),
            CtlError::Connection(e) => e.fmt(f),
            CtlError::Daemon(m) => write!(f, "l2tpd: {m}"),
            CtlError::Output(e) => write!(f, "output: {e}"),
        }
    }
}

fn on_off(v: &str) -> Result<bool, CtlError> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(CtlError::Usage(format!("expected on or off, got {v:?}"))),
    }
}

fn mask(v: &str) -> Result<u32, CtlError> {
    l2tp_mgmt::parse_debug_mask(v).map_err(|e| CtlError::Usage(e.to_string()))
}

/// The request a command sends, and whether its answer is printed as JSON.
pub fn request_for(cmd: &ManageCommand) -> Result<(Request, bool), CtlError> {
    Ok(match cmd {
        ManageCommand::Tunnels { out } => (Request::ListTunnels, out.json),
        ManageCommand::Sessions { out, .. } => (Request::ListSessions, out.json),
        ManageCommand::Show {
            what: ShowWhat::Tunnel { id, out },
        } => (Request::ShowTunnel { id: *id }, out.json),
        ManageCommand::Show {
            what:
                ShowWhat::Session {
                    tunnel,
                    session,
                    out,
                },
        } => (
            Request::ShowSession {
                tunnel: *tunnel,
                session: *session,
            },
            out.json,
        ),
        ManageCommand::Set {
            what:
                SetWhat::Session {
                    tunnel,
                    session,
                    option,
                    value,
                },
        } => {
            let option = match option {
                SessionOptName::Sendseq => SessionOption::SendSeq(on_off(value)?),
                SessionOptName::Recvseq => SessionOption::RecvSeq(on_off(value)?),
                SessionOptName::Lnsmode => SessionOption::LnsMode(on_off(value)?),
                SessionOptName::Reorderto => {
                    SessionOption::ReorderTimeout(value.parse().map_err(|_| {
                        CtlError::Usage(format!(
                            "reorderto: expected milliseconds (0-4294967295), got {value:?}"
                        ))
                    })?)
                }
                SessionOptName::Debug => SessionOption::Debug(mask(value)?),
            };
            (
                Request::SetSessionOption {
                    tunnel: *tunnel,
                    session: *session,
                    option,
                },
                false,
            )
        }
        ManageCommand::Set {
            what: SetWhat::Tunnel { id, value, .. },
        } => (
            Request::SetTunnelDebug {
                tunnel: *id,
                mask: mask(value)?,
            },
            false,
        ),
        ManageCommand::Close {
            what: CloseWhat::Session { tunnel, session },
        } => (
            Request::CloseSession {
                tunnel: *tunnel,
                session: *session,
            },
            false,
        ),
        ManageCommand::Close {
            what: CloseWhat::Tunnel { id },
        } => (Request::CloseTunnel { tunnel: *id }, false),
        ManageCommand::Close {
            what: CloseWhat::User { name },
        } => (
            Request::CloseMatching {
                selector: SessionSelector::User(name.clone()),
            },
            false,
        ),
        ManageCommand::Close {
            what: CloseWhat::Address { addr },
        } => (
            Request::CloseMatching {
                selector: SessionSelector::Address(*addr),
            },
            false,
        ),
        ManageCommand::Dial { peer } => (Request::Dial { peer: peer.clone() }, false),
        ManageCommand::Call {
            what: CallWhat::Out { tunnel, number },
        } => (
            Request::CallOut {
                tunnel: *tunnel,
                number: number.clone(),
            },
            false,
        ),
        ManageCommand::Hangup { tunnel, session } => (
            Request::HangUp {
                tunnel: *tunnel,
                session: *session,
            },
            false,
        ),
        ManageCommand::Stats { out } => (Request::Stats, out.json),
        ManageCommand::Top(_) => (Request::ListSessions, false),
        ManageCommand::Quality {
            tunnel,
            session,
            out,
        } => (
            Request::Quality {
                tunnel: *tunnel,
                session: *session,
            },
            out.json,
        ),
        ManageCommand::Graph { tunnel, session } => (
            Request::Quality {
                tunnel: *tunnel,
                session: *session,
            },
            false,
        ),
        ManageCommand::Reload { out } => (Request::Reload, out.json),
        ManageCommand::Pppoe { out } => (Request::ListPppoe, out.json),
        ManageCommand::Upgrade { binary, out } => (
            Request::Upgrade {
                binary: binary.as_ref().map(|b| b.display().to_string()),
            },
            out.json,
        ),
    })
}

/// How long `upgrade` waits for the daemon's answer.
const UPGRADE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

/// Runs one command against the daemon at `socket`, writing the result to `out`.
pub fn execute(socket: &Path, cmd: &ManageCommand, out: &mut dyn Write) -> Result<(), CtlError> {
    let (req, json) = request_for(cmd)?;
    match cmd {
        ManageCommand::Sessions { .. } => return sessions(socket, cmd, out),
        ManageCommand::Top(args) => return top::run(socket, args, out),
        _ => {}
    }
    let mut client = Client::connect(socket).map_err(CtlError::Connection)?;
    if matches!(req, Request::Upgrade { .. }) {
        // The daemon answers once the new process took over: it may first wait for the new
        // process to start, for its RADIUS requests in flight, and for the restore.
        client
            .set_timeout(UPGRADE_TIMEOUT)
            .map_err(CtlError::Connection)?;
    }
    let resp = client.request(&req).map_err(CtlError::Connection)?;
    if let Response::Error { message } = &resp {
        return Err(CtlError::Daemon(message.clone()));
    }
    let text = match (&req, &resp) {
        (Request::CloseMatching { .. }, Response::Sessions(closed)) => format::closed(closed),
        (_, Response::Quality(q)) if matches!(cmd, ManageCommand::Graph { .. }) => {
            l2tp_mgmt::quality_svg::render(q, format::unix_now())
        }
        _ if json => format::json(&resp),
        _ => format::human(&resp, None),
    };
    out.write_all(text.as_bytes()).map_err(CtlError::Output)
}

/// `sessions`: the session list joined with the tunnels' peers, filtered, sorted, as a
/// one-line-per-session table, a count, or JSON.
fn sessions(socket: &Path, cmd: &ManageCommand, out: &mut dyn Write) -> Result<(), CtlError> {
    let ManageCommand::Sessions {
        filters,
        tunnel,
        columns,
        sort,
        reverse,
        count,
        no_header,
        out: fmt,
    } = cmd
    else {
        return Ok(());
    };
    let mut parsed = filters
        .iter()
        .map(|f| table::parse_filter(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CtlError::Usage)?;
    parsed.extend(tunnel.map(table::Filter::Tunnel));
    let columns = table::parse_columns(&[columns
        .clone()
        .unwrap_or_else(|| table::DEFAULT_COLUMNS.to_string())])
    .map_err(CtlError::Usage)?;
    let sort = sort
        .as_deref()
        .map(table::parse_sort)
        .transpose()
        .map_err(CtlError::Usage)?
        .map(|(c, desc)| (c, desc != *reverse));

    let mut client = Client::connect(socket).map_err(CtlError::Connection)?;
    let list = match client
        .request(&Request::ListSessions)
        .map_err(CtlError::Connection)?
    {
        Response::Sessions(v) => v,
        Response::Error { message } => return Err(CtlError::Daemon(message)),
        other => return Err(CtlError::Daemon(format!("unexpected answer {other:?}"))),
    };
    // The peer of each session is its tunnel's: one more request, answered from the same loop.
    let peers: std::collections::HashMap<u16, String> = match client.request(&Request::ListTunnels)
    {
        Ok(Response::Tunnels(ts)) => ts.into_iter().map(|t| (t.local_id, t.peer_addr)).collect(),
        _ => Default::default(),
    };
    let mut rows = table::select(&list, &peers, &parsed, sort);
    if sort.is_none() && *reverse {
        rows.reverse();
    }
    let text = match (*count, fmt.json) {
        (true, false) => format!("{}\n", rows.len()),
        (true, true) => format!("{{\"count\": {}}}\n", rows.len()),
        (false, true) => {
            let shown: Vec<SessionInfo> = rows.iter().map(|r| r.s.clone()).collect();
            format::json(&Response::Sessions(shown))
        }
        (false, false) if rows.is_empty() => "No sessions.\n".to_string(),
        (false, false) => table::render(&rows, &columns, !*no_header),
    };
    out.write_all(text.as_bytes()).map_err(CtlError::Output)
}

/// Where the packaged `l2tpd.service` puts its management socket (its RuntimeDirectory).
pub const PACKAGED_SOCKET: &str = "/run/l2tpd/l2tpd.sock";

/// The daemon's default socket; when nothing is there but the packaged service's socket
/// is, that one (so `l2tpctl sessions` needs no `--socket` on a packaged install).
fn default_socket() -> PathBuf {
    let default = l2tp_mgmt::default_socket_path();
    let explicit = std::env::var_os("L2TPD_SOCKET").is_some_and(|v| !v.is_empty());
    if !explicit && !default.exists() && Path::new(PACKAGED_SOCKET).exists() {
        return PathBuf::from(PACKAGED_SOCKET);
    }
    default
}

/// Entry point for `main`: runs the command, prints errors, returns the exit status.
pub fn run(global: &GlobalArgs, cmd: &ManageCommand) -> ExitCode {
    let socket = global.socket.clone().unwrap_or_else(default_socket);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match execute(&socket, cmd, &mut lock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = lock.flush();
            eprintln!("l2tpctl: {e}");
            ExitCode::from(match e {
                CtlError::Usage(_) => 2,
                CtlError::Connection(_) => 3,
                CtlError::Daemon(_) | CtlError::Output(_) => 1,
            })
        }
    }
}

#[cfg(test)]
mod tests;
