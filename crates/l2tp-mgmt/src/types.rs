//! The request and response types of the management protocol.
//!
//! Ids are the numbers an operator sees: local tunnel and session ids (RFC 2661 §3.1: the
//! receiver's ids, which is what `ip l2tp show` prints as "Tunnel N" / "Session N").

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One request from a client to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// List every tunnel (answered with [`Response::Tunnels`]).
    ListTunnels,
    /// List every session of every tunnel (answered with [`Response::Sessions`]).
    ListSessions,
    /// One tunnel by local id (answered with [`Response::Tunnel`]).
    ShowTunnel {
        /// Local tunnel id.
        id: u16,
    },
    /// One session by local ids (answered with [`Response::Session`]).
    ShowSession {
        /// Local tunnel id.
        tunnel: u16,
        /// Local session id.
        session: u16,
    },
    /// Change a datapath option of a session (the driver's SENDSEQ, RECVSEQ, LNSMODE,
    /// REORDERTO and DEBUG socket options). Answered with [`Response::Ok`].
    SetSessionOption {
        /// Local tunnel id.
        tunnel: u16,
        /// Local session id.
        session: u16,
        /// The option and its new value.
        option: SessionOption,
    },
    /// Change a tunnel's debug mask (the only option a tunnel handle accepts).
    SetTunnelDebug {
        /// Local tunnel id.
        tunnel: u16,
        /// New mask, see [`crate::DEBUG_MASK_NAMES`].
        mask: u32,
    },
    /// Close one session (CDN, RFC 2661 §6.13).
    CloseSession {
        /// Local tunnel id.
        tunnel: u16,
        /// Local session id.
        session: u16,
    },
    /// Close a tunnel and all its sessions (StopCCN, RFC 2661 §6.3).
    CloseTunnel {
        /// Local tunnel id.
        tunnel: u16,
    },
    /// Close every session of a user, or the session holding an address (a CDN each).
    /// Answered with [`Response::Sessions`] listing the sessions closed; an error when none
    /// matched.
    CloseMatching {
        /// What the sessions to close have in common.
        selector: SessionSelector,
    },
    /// LAC/client role: open a tunnel (when needed) and place a call. `peer` picks one of the
    /// configured peers (`host[:port]`); `None` means the first configured one.
    Dial {
        /// Which configured peer to dial.
        #[serde(default)]
        peer: Option<String>,
    },
    /// LNS role: place an outgoing call (OCRQ, RFC 2661 §5.2) to the LAC at the other end
    /// of tunnel `tunnel`, asking it to dial `number` (the Called Number AVP). Answered with
    /// [`Response::Dialing`]: the call placed (the LAC may still refuse it with a CDN).
    CallOut {
        /// Local tunnel id.
        tunnel: u16,
        /// The number the LAC is to dial.
        number: String,
    },
    /// LAC/client role: hang up a call. With no ids: every call the daemon placed.
    HangUp {
        /// Local tunnel id.
        #[serde(default)]
        tunnel: Option<u16>,
        /// Local session id (requires `tunnel`).
        #[serde(default)]
        session: Option<u16>,
    },
    /// Daemon-wide counters (answered with [`Response::Stats`]).
    Stats,
    /// A session's line-quality history (answered with [`Response::Quality`]).
    Quality {
        /// Local tunnel id.
        tunnel: u16,
        /// Local session id.
        session: u16,
    },
    /// Re-read the configuration file and apply what can change without touching
    /// established sessions (answered with [`Response::Reloaded`], or an error listing why
    /// the new file was refused; the running configuration is then kept).
    Reload,
    /// LAC: the PPPoE subscribers and the L2TP calls they are relayed into (answered with
    /// [`Response::PppoeSessions`]).
    ListPppoe,
    /// Hitless upgrade: start the daemon's binary (or `binary`) as a new process, hand it
    /// the sockets, TUN devices and a snapshot of every tunnel and session, and exit once it
    /// took over (answered with [`Response::Upgraded`], or an error: the daemon then keeps
    /// running).
    Upgrade {
        /// The binary to start (default: the one the daemon was started from).
        #[serde(default)]
        binary: Option<String>,
    },
}

/// One PPPoE subscriber of a relaying LAC, beside its L2TP call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PppoeSessionInfo {
    /// Interface the subscriber is on.
    pub interface: String,
    /// PPPoE SESSION_ID.
    pub pppoe_session: u16,
    /// The subscriber's MAC address.
    pub mac: String,
    /// Agent-Circuit-Id from a PPPoE intermediate agent, if any.
    pub circuit_id: Option<String>,
    /// VLAN ids of the subscriber's frames, outermost first (empty: untagged).
    #[serde(default)]
    pub vlans: Vec<u16>,
    /// The user name, once the subscriber authenticated.
    pub user: Option<String>,
    /// The LNS the call goes to.
    pub lns: Option<String>,
    /// `negotiating` (LCP and authentication with the LAC), `calling` (ICRQ sent) or
    /// `relaying`.
    pub state: String,
    /// The call's local tunnel id.
    pub tunnel: Option<u16>,
    /// The call's local session id.
    pub session: Option<u16>,
    /// Seconds since discovery completed.
    pub uptime_s: u64,
    /// PPP frames relayed from the subscriber to the LNS.
    pub up_frames: u64,
    /// Their octets.
    pub up_bytes: u64,
    /// PPP frames relayed from the LNS to the subscriber.
    pub down_frames: u64,
    /// Their octets.
    pub down_bytes: u64,
}

/// Which sessions a [`Request::CloseMatching`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSelector {
    /// Every session authenticated as this user (the exact name, no wildcards).
    User(String),
    /// The session holding this IPv4 or IPv6 address.
    Address(std::net::IpAddr),
}

/// A session option, named after the PPPoL2TP socket option it mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOption {
    /// Send sequence numbers on data messages (PPPOL2TP_SO_SENDSEQ).
    SendSeq(bool),
    /// Require sequence numbers on received data messages (PPPOL2TP_SO_RECVSEQ).
    RecvSeq(bool),
    /// Act as LNS for sequencing decisions (PPPOL2TP_SO_LNSMODE).
    LnsMode(bool),
    /// Reorder timeout in milliseconds, 0 = no reordering (PPPOL2TP_SO_REORDERTO).
    ReorderTimeout(u32),
    /// Debug mask (PPPOL2TP_SO_DEBUG).
    Debug(u32),
}

/// The daemon's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", content = "data", rename_all = "snake_case")]
pub enum Response {
    /// The request was carried out.
    Ok,
    /// Answer to [`Request::ListTunnels`].
    Tunnels(Vec<TunnelInfo>),
    /// Answer to [`Request::ListSessions`].
    Sessions(Vec<SessionInfo>),
    /// Answer to [`Request::ShowTunnel`].
    Tunnel(TunnelInfo),
    /// Answer to [`Request::ShowSession`].
    Session(SessionInfo),
    /// Answer to [`Request::Dial`] and [`Request::CallOut`]: the call that was started (it may still be connecting).
    Dialing {
        /// Local tunnel id.
        tunnel: u16,
        /// Local session id.
        session: u16,
    },
    /// Answer to [`Request::Stats`].
    Stats(DaemonStats),
    /// Answer to [`Request::Quality`].
    Quality(QualityInfo),
    /// Answer to [`Request::ListPppoe`].
    PppoeSessions(Vec<PppoeSessionInfo>),
    /// Answer to [`Request::Reload`].
    Reloaded {
        /// What changed and was applied, one line each.
        applied: Vec<String>,
        /// What changed but needs a restart to take effect, one line each.
        restart_needed: Vec<String>,
    },
    /// Answer to [`Request::Upgrade`]: the new process took over.
    Upgraded {
        /// The process that answered (and exits now).
        old_pid: u32,
        /// The process that runs from now on.
        new_pid: u32,
        /// Tunnels carried over.
        tunnels: u64,
        /// Sessions carried over.
        sessions: u64,
        /// How long neither process read a packet, in microseconds (the snapshot's
        /// writing, transfer and restoring).
        pause_us: u64,
        /// Size of the snapshot in bytes.
        snapshot_bytes: u64,
    },
    /// The request failed; `message` says why, for a human.
    Error {
        /// Human-readable reason.
        message: String,
    },
}

impl Response {
    /// Shorthand for [`Response::Error`].
    pub fn error(message: impl Into<String>) -> Self {
        Response::Error {
            message: message.into(),
        }
    }
}

/// The driver's eight per-tunnel / per-session counters (same names as the kernel's
/// `L2TP_ATTR_*` statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatapathCounters {
    /// Data packets sent.
    pub tx_packets: u64,
    /// Data bytes sent (PPP frames, without L2TP/UDP headers).
    pub tx_bytes: u64,
    /// Data packets that could not be sent.
    pub tx_errors: u64,
    /// Data packets received and delivered.
    pub rx_packets: u64,
    /// Data bytes received and delivered.
    pub rx_bytes: u64,
    /// Packets dropped by the sequence number rules.
    pub rx_seq_discards: u64,
    /// Packets that arrived out of order.
    pub rx_oos_packets: u64,
    /// Packets dropped for other reasons (malformed, unknown session…).
    pub rx_errors: u64,
}

impl DatapathCounters {
    /// Adds `other` into `self` (saturating).
    pub fn accumulate(&mut self, other: &DatapathCounters) {
        self.tx_packets = self.tx_packets.saturating_add(other.tx_packets);
        self.tx_bytes = self.tx_bytes.saturating_add(other.tx_bytes);
        self.tx_errors = self.tx_errors.saturating_add(other.tx_errors);
        self.rx_packets = self.rx_packets.saturating_add(other.rx_packets);
        self.rx_bytes = self.rx_bytes.saturating_add(other.rx_bytes);
        self.rx_seq_discards = self.rx_seq_discards.saturating_add(other.rx_seq_discards);
        self.rx_oos_packets = self.rx_oos_packets.saturating_add(other.rx_oos_packets);
        self.rx_errors = self.rx_errors.saturating_add(other.rx_errors);
    }
}

/// Counters of a tunnel's reliable control channel (RFC 2661 §5.8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlCounters {
    /// Control messages sent (first transmissions, ZLB acks included).
    pub sent: u64,
    /// Control messages retransmitted.
    pub retransmitted: u64,
    /// Control messages received and accepted.
    pub received: u64,
    /// Duplicate control messages received (acknowledged and dropped).
    pub duplicates: u64,
}

impl ControlCounters {
    /// Adds `other` into `self` (saturating).
    pub fn accumulate(&mut self, other: &ControlCounters) {
        self.sent = self.sent.saturating_add(other.sent);
        self.retransmitted = self.retransmitted.saturating_add(other.retransmitted);
        self.received = self.received.saturating_add(other.received);
        self.duplicates = self.duplicates.saturating_add(other.duplicates);
    }
}

/// One tunnel as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelInfo {
    /// Our tunnel id.
    pub local_id: u16,
    /// The peer's tunnel id (0 until the peer told us, RFC 2661 §3.1).
    pub peer_id: u16,
    /// Our address and port (`ip:port`).
    pub local_addr: String,
    /// The peer's address and port (`ip:port`).
    pub peer_addr: String,
    /// The peer's Host Name AVP, when it sent one.
    #[serde(default)]
    pub peer_host_name: Option<String>,
    /// Tunnel state (`wait-ctl-reply`, `established`, …, as the control plane names it).
    pub state: String,
    /// Number of sessions in the tunnel.
    pub sessions: u32,
    /// Seconds since the tunnel was created.
    pub uptime_s: u64,
    /// Debug mask of the tunnel.
    #[serde(default)]
    pub debug: u32,
    /// Control channel counters.
    pub control: ControlCounters,
    /// Datapath counters of the tunnel (sum over its sessions plus data for unknown sessions).
    pub stats: DatapathCounters,
    /// RFC 4951 failover on this tunnel: what the peer offered, recoveries.
    #[serde(default)]
    pub failover: TunnelFailover,
}

/// RFC 4951 failover as seen on one tunnel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelFailover {
    /// The peer sent a Failover Capability AVP in its SCCRQ or SCCRP.
    pub peer_offered: bool,
    /// It offered control channel failover (C bit).
    pub peer_control: bool,
    /// It offered data channel failover (D bit).
    pub peer_data: bool,
    /// Its Recovery Time, in ms.
    pub peer_recovery_time_ms: u32,
    /// Both sides offered control channel failover: either may recover the tunnel.
    pub recoverable: bool,
    /// Recoveries of this tunnel (by the peer, or by us after a restart).
    pub recoveries: u32,
    /// Failover Session Queries the peer sent on it that we answered.
    pub session_queries: u32,
}

/// The datapath options of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOptions {
    /// SENDSEQ.
    pub send_seq: bool,
    /// RECVSEQ.
    pub recv_seq: bool,
    /// LNSMODE.
    pub lns_mode: bool,
    /// REORDERTO in milliseconds.
    pub reorder_timeout_ms: u32,
    /// DEBUG mask.
    pub debug: u32,
}

/// One session as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Our tunnel id.
    pub tunnel: u16,
    /// Our session id.
    pub session: u16,
    /// The peer's tunnel id.
    pub peer_tunnel: u16,
    /// The peer's session id.
    pub peer_session: u16,
    /// Session state (`wait-connect`, `established`, …).
    pub state: String,
    /// Authenticated PPP user name, once known.
    #[serde(default)]
    pub user: Option<String>,
    /// IPv4 address of the PPP peer (LNS) or our own (client), once negotiated.
    #[serde(default)]
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address (or interface-id based address) once negotiated.
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// TUN interface carrying the session's IP traffic.
    #[serde(default)]
    pub interface: Option<String>,
    /// Seconds since the session was created.
    pub uptime_s: u64,
    /// Datapath options.
    pub options: SessionOptions,
    /// The eight datapath counters.
    pub stats: DatapathCounters,
    /// The LAC's WAN error reports for the call (WEN, RFC 2661 §6.13), once one arrived.
    #[serde(default)]
    pub wan_errors: Option<WanErrors>,
    /// The ACCM the peer set with SLI (RFC 2661 §6.14): (send, receive), once set.
    #[serde(default)]
    pub accm: Option<(u32, u32)>,
    /// Who runs the session's PPP: `builtin` (the daemon itself) or `pppd` (`ppp.mode =
    /// "pppd"`: the real pppd with its `pppol2tp` plugin, on the kernel datapath).
    #[serde(default = "builtin_ppp")]
    pub ppp_mode: String,
    /// The pid of the session's pppd (`ppp_mode` `pppd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pppd_pid: Option<u32>,
}

fn builtin_ppp() -> String {
    "builtin".into()
}

/// WAN error counters of a call, from the LAC's WAN-Error-Notify messages (cumulative: the
/// last report is the total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WanErrors {
    /// WEN messages received.
    pub reports: u32,
    /// CRC errors.
    pub crc_errors: u32,
    /// Framing errors.
    pub framing_errors: u32,
    /// Hardware overruns.
    pub hardware_overruns: u32,
    /// Buffer overruns.
    pub buffer_overruns: u32,
    /// Timeout errors.
    pub timeout_errors: u32,
    /// Alignment errors.
    pub alignment_errors: u32,
}

/// Daemon-wide figures (answer to [`Request::Stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStats {
    /// `lns`, `lac` or `client`.
    pub role: String,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// Number of tunnels.
    pub tunnels: u64,
    /// Number of sessions.
    pub sessions: u64,
    /// Tunnels per state name.
    #[serde(default)]
    pub tunnels_by_state: std::collections::BTreeMap<String, u64>,
    /// Sessions per state name.
    #[serde(default)]
    pub sessions_by_state: std::collections::BTreeMap<String, u64>,
    /// Control channel counters summed over all tunnels, closed ones included.
    pub control: ControlCounters,
    /// Datapath counters summed over all tunnels, closed ones included.
    pub datapath: DatapathCounters,
    /// PPP authentication failures (LNS role).
    pub auth_failures: u64,
    /// Tunnel authentication failures: a wrong or missing Challenge Response (RFC 2661
    /// §5.1.1), a Challenge we cannot answer.
    #[serde(default)]
    pub tunnel_auth_failures: u64,
    /// Tunnels refused (limits, unknown peers, authentication of the tunnel).
    #[serde(default)]
    pub tunnels_refused: u64,
    /// Sessions refused (limits, pool exhausted).
    #[serde(default)]
    pub sessions_refused: u64,
    /// Incoming tunnels half-open now (SCCRQ answered or being decided, SCCCN not yet).
    #[serde(default)]
    pub half_open_tunnels: u64,
    /// Half-open tunnels evicted (oldest first, silently) to make room for a newer SCCRQ
    /// when `lns.max_half_open_tunnels` were half-open.
    #[serde(default)]
    pub half_open_evicted: u64,
    /// Datagrams not sent, under pressure, to half-open tunnels' peers that never answered
    /// their SCCRP (its retransmissions, the setup-timeout StopCCN): no reflection towards
    /// possibly spoofed sources.
    #[serde(default)]
    pub half_open_silenced: u64,
    /// Evicted half-open tunnels rebuilt from their compact record when their peer's late
    /// SCCCN arrived.
    #[serde(default)]
    pub half_open_restored: u64,
    /// SCCRQs refused on their content without creating state (unknown mandatory AVP,
    /// protocol version, ...): answered by one StopCCN (rate-limited), nothing kept.
    #[serde(default)]
    pub sccrq_rejected: u64,
    /// Control messages for one of our tunnels from an address other than its peer's
    /// (spoofed or stray), dropped.
    #[serde(default)]
    pub control_wrong_peer: u64,
    /// Control messages for tunnel ids we do not have, dropped.
    #[serde(default)]
    pub control_unknown_tunnel: u64,
    /// Data messages for one of our sessions from an address or port other than its
    /// tunnel's peer (spoofed or stray), dropped before sequence numbers are looked at.
    #[serde(default)]
    pub data_wrong_peer: u64,
    /// PPP frames that could not be classified, dropped.
    #[serde(default)]
    pub ppp_bad_frames: u64,
    /// IP packets dropped by a session's rate limit (both directions).
    #[serde(default)]
    pub rate_limited: u64,
    /// LNS: DHCPv6 messages answered on the sessions' links (prefix delegation).
    #[serde(default)]
    pub dhcpv6_answered: u64,
    /// LNS: DHCPv6 messages dropped (malformed, not for us, before the session's IPv6).
    #[serde(default)]
    pub dhcpv6_dropped: u64,
    /// LNS: addresses in the IPv4 pool (0 for a client).
    #[serde(default)]
    pub pool_capacity: u64,
    /// LNS: pool addresses allocated now.
    #[serde(default)]
    pub pool_in_use: u64,
    /// LNS with RADIUS: servers and counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<RadiusStats>,
    /// Relaying LAC: PPPoE subscribers, calls and discovery counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lac: Option<Box<LacStats>>,
    /// What the last hitless upgrade carried over (none: this process started afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Box<UpgradeStats>>,
    /// RFC 4951 failover (none: not offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Box<FailoverStats>>,
}

/// RFC 4951 failover: tunnels our peers recovered from us, and tunnels we recovered from
/// our peers after our own state was lost or restored stale (per tunnel: recovered or lost).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverStats {
    /// Recovery tunnels our peers set up for one of our tunnels (we were the peer of a
    /// failing endpoint), since start.
    pub recoveries_answered: u64,
    /// Failover Session Queries answered on the tunnels up now.
    pub session_queries_answered: u64,
    /// Tunnels we recovered (as the failing endpoint) since start.
    pub tunnels_recovered: u64,
    /// Tunnels we tried to recover and lost (the peer refused or never answered).
    pub tunnels_lost: u64,
    /// Recoveries still in progress.
    pub tunnels_recovering: u64,
    /// Sessions of recovered tunnels cleared because the peer no longer had them (its
    /// Failover Session Response).
    pub sessions_cleared: u64,
    /// Sessions of recovered tunnels whose set-up was in flight in the state we restored:
    /// cleared (with a CDN when the peer's id for them was known).
    pub sessions_dropped: u64,
    /// Each tunnel we tried to recover: outcome `recovering`, `recovered` or `lost`.
    pub tunnels: Vec<CarriedTunnel>,
}

/// What hitless upgrades carried over: per tunnel, resumed (still up) or lost (gone within
/// the minute after the hand-over, whatever the reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeStats {
    /// Hand-overs the daemon's state went through since it last started afresh.
    pub upgrades: u64,
    /// Seconds since the last one.
    pub since_s: u64,
    /// Tunnels the last one carried that are still up.
    pub tunnels_resumed: u64,
    /// Tunnels it carried that went down within the minute after it.
    pub tunnels_lost: u64,
    /// Sessions it carried that are still up (or outlived that minute).
    pub sessions_resumed: u64,
    /// Sessions it carried that ended within the minute after it.
    pub sessions_lost: u64,
    /// Each tunnel it carried.
    pub tunnels: Vec<CarriedTunnel>,
    /// The last restore was a crash recovery (the state journal replayed after a restart),
    /// not a hand-over: the counts above are then recovered / lost.
    #[serde(default)]
    pub recovery: bool,
    /// Crash recoveries the daemon's state went through since it last started afresh
    /// (carried across upgrades like `upgrades`: it never goes down).
    #[serde(default)]
    pub recoveries: u64,
}

/// One tunnel a hitless upgrade carried over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedTunnel {
    /// Our tunnel id.
    pub local_id: u16,
    /// The peer's address and port.
    pub peer_addr: String,
    /// Its sessions at the hand-over.
    pub sessions: u32,
    /// `resumed` or `lost` (upgrade); `recovered` or `lost` (crash recovery);
    /// `recovering`, `recovered` or `lost` (failover).
    pub outcome: String,
}

/// A relaying LAC's counters, all interfaces together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LacStats {
    /// PPPoE subscribers now.
    pub subscribers: u64,
    /// Of which relayed into an established call.
    pub relaying: u64,
    /// Calls placed (user known, LNS chosen).
    pub calls_placed: u64,
    /// Calls that reached the relay stage.
    pub calls_up: u64,
    /// Subscribers gone before their call was up (hung up, refused, no LNS answer).
    pub calls_failed: u64,
    /// Subscribers whose realm had no LNS.
    pub no_lns: u64,
    /// Calls placed again toward the next LNS of their group after one failed them.
    #[serde(default)]
    pub calls_retried: u64,
    /// Times an LNS was locked out after failing a call or losing a tunnel (once per
    /// lockout: the other calls it fails meanwhile extend it without counting).
    #[serde(default)]
    pub lns_lockouts: u64,
    /// LNSes locked out now (`ADDR:PORT`, sorted).
    #[serde(default)]
    pub lns_locked_out: Vec<String>,
    /// Subscribers refused by RADIUS (Access-Reject).
    #[serde(default)]
    pub radius_rejected: u64,
    /// Calls steered by RADIUS tunnel attributes (RFC 2868).
    #[serde(default)]
    pub radius_steered: u64,
    /// Subscriber frames dropped while their call was being placed.
    pub dropped_while_calling: u64,
    /// PADIs received.
    pub padi_rx: u64,
    /// PADOs sent.
    pub pado_tx: u64,
    /// PADRs received.
    pub padr_rx: u64,
    /// PADSs sent confirming a session.
    pub pads_tx: u64,
    /// PADSs sent with an error TAG.
    pub pads_error_tx: u64,
    /// PADTs received.
    pub padt_rx: u64,
    /// PADTs sent.
    pub padt_tx: u64,
    /// PPPoE frames dropped, by reason (only the reasons that occurred).
    pub dropped: std::collections::BTreeMap<String, u64>,
}

/// One RADIUS server as the daemon sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RadiusServerStats {
    /// `ADDR:PORT`.
    pub address: String,
    /// `auth` or `acct`.
    pub role: String,
    /// Declared dead (not answering) now.
    pub dead: bool,
    /// Requests sent (first transmissions).
    pub requests: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Requests given up on this server.
    pub timeouts: u64,
    /// Access-Accepts.
    pub accepts: u64,
    /// Access-Rejects.
    pub rejects: u64,
    /// Accounting-Responses.
    pub accounting_responses: u64,
    /// Replies dropped: bad or missing authenticators, malformed, unknown id, wrong code.
    pub bad_replies: u64,
}

/// RADIUS figures of an LNS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RadiusStats {
    /// Every configured server.
    pub servers: Vec<RadiusServerStats>,
    /// Requests waiting for room (beyond the outstanding bound).
    pub waiting: u64,
    /// Logins refused without an answer from a server (none reachable, queue full).
    pub auth_not_sent: u64,
    /// Accounting Stops written to the spool.
    pub stops_spooled: u64,
    /// Spooled Stops delivered later.
    pub stops_replayed: u64,
    /// Stops lost (no spool, or spool full).
    pub stops_lost: u64,
    /// Disconnect and CoA requests accepted for the daemon.
    pub dae_requests: u64,
    /// ACKs sent.
    pub dae_acks: u64,
    /// NAKs sent.
    pub dae_naks: u64,
    /// Requests dropped: unknown client, bad authenticator, malformed, stale.
    pub dae_dropped: u64,
}

/// A session's line quality: LCP Echo probes and traffic, per period (FireBrick-style "CQM").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityInfo {
    /// Local tunnel id.
    pub tunnel: u16,
    /// Local session id.
    pub session: u16,
    /// Authenticated user.
    #[serde(default)]
    pub user: Option<String>,
    /// Time between two probes, in milliseconds.
    pub probe_interval_ms: u32,
    /// Length of a full period, in seconds.
    pub period_s: u32,
    /// Periods, oldest first; the last one is the period in progress.
    pub periods: Vec<QualityPeriod>,
}

/// One period of a [`QualityInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityPeriod {
    /// Seconds from the end of this period to the answer (0 for the period in progress).
    pub ended_s_ago: u64,
    /// Seconds the period covers (shorter for the first and the current one).
    pub seconds: u32,
    /// Probes sent.
    pub sent: u32,
    /// Probes unanswered.
    pub lost: u32,
    /// Shortest, mean and longest round trip, in milliseconds (None: no answer).
    #[serde(default)]
    pub rtt_min_ms: Option<f64>,
    /// Mean round trip in milliseconds.
    #[serde(default)]
    pub rtt_avg_ms: Option<f64>,
    /// Longest round trip in milliseconds.
    #[serde(default)]
    pub rtt_max_ms: Option<f64>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
}

impl QualityPeriod {
    /// Lost probes as a share of those decided (answered or lost), 0 to 1.
    pub fn loss(&self) -> Option<f64> {
        (self.sent > 0).then(|| f64::from(self.lost.min(self.sent)) / f64::from(self.sent))
    }
}
