//! What the control plane tells its caller: events drained with
//! [`super::Endpoint::poll_event`], and the reasons tunnels and sessions go down.

use std::net::SocketAddr;

use l2tp_wire::result::ResultCode;
use l2tp_wire::{FailoverCapability, SessionId, TunnelId};

use super::reliable::ControlCounters;

/// Why a tunnel went down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TunnelDownReason {
    /// We closed it (`close_tunnel`), with this result code in our StopCCN.
    Local(ResultCode),
    /// The peer sent StopCCN with this result code.
    Peer(ResultCode),
    /// The retry budget ran out: the peer stopped acknowledging (RFC 2661 §5.8).
    RetriesExhausted,
    /// Tunnel authentication failed: wrong Challenge Response, or a Challenge we cannot answer.
    AuthFailed,
    /// The caller (or the configuration) refused the incoming tunnel.
    Rejected,
    /// The peer refused or violated the protocol; we sent StopCCN with this result code.
    Protocol(ResultCode),
    /// A tie-breaker collision left no tunnel: equal Tie Breaker values (RFC 2661 §4.4.3).
    TieBreaker,
    /// Establishment did not complete within two retransmission cycles (the peer acknowledged
    /// but never answered, or the caller never decided); we sent StopCCN.
    SetupTimeout,
}

/// Why a session went down.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionDownReason {
    /// We closed it (`close_session` or `reject_call`) with this result code in our CDN.
    Local(ResultCode),
    /// The peer sent CDN with this result code (and Q.931 cause, if any).
    Peer {
        /// Result Code AVP of the CDN.
        result: ResultCode,
        /// Q.931 cause code, when present.
        q931_cause: Option<u16>,
    },
    /// The tunnel carrying it went down.
    TunnelDown,
    /// A protocol error; we sent CDN with this result code.
    Protocol(ResultCode),
    /// The caller did not decide on the incoming call within two retransmission cycles; we
    /// sent CDN (result 10).
    SetupTimeout,
}

impl std::fmt::Display for TunnelDownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunnelDownReason::Local(rc) => write!(f, "closed here: {}", rc.describe_stopccn()),
            TunnelDownReason::Peer(rc) => {
                write!(f, "closed by the peer: {}", rc.describe_stopccn())
            }
            TunnelDownReason::RetriesExhausted => {
                f.write_str("the peer stopped acknowledging (retransmissions exhausted)")
            }
            TunnelDownReason::AuthFailed => f.write_str("tunnel authentication failed"),
            TunnelDownReason::Rejected => f.write_str("incoming tunnel refused"),
            TunnelDownReason::Protocol(rc) => {
                write!(f, "protocol error: {}", rc.describe_stopccn())
            }
            TunnelDownReason::TieBreaker => f.write_str("tie-breaker collision (equal values)"),
            TunnelDownReason::SetupTimeout => f.write_str("tunnel establishment timed out"),
        }
    }
}

impl std::fmt::Display for SessionDownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionDownReason::Local(rc) => write!(f, "closed here: {}", rc.describe_cdn()),
            SessionDownReason::Peer { result, q931_cause } => {
                write!(f, "closed by the peer: {}", result.describe_cdn())?;
                if let Some(c) = q931_cause {
                    write!(f, ", Q.931 cause {c}")?;
                }
                Ok(())
            }
            SessionDownReason::TunnelDown => f.write_str("its tunnel went down"),
            SessionDownReason::Protocol(rc) => write!(f, "protocol error: {}", rc.describe_cdn()),
            SessionDownReason::SetupTimeout => f.write_str("call set-up timed out"),
        }
    }
}

/// The direction of a call, as the RFC's four call state machines name it (§7.4, §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CallKind {
    /// LAC side of an incoming call: we sent ICRQ.
    LacIncoming,
    /// LNS side of an incoming call: we received ICRQ.
    LnsIncoming,
    /// LNS side of an outgoing call: we sent OCRQ.
    LnsOutgoing,
    /// LAC side of an outgoing call: we received OCRQ.
    LacOutgoing,
}

/// Proxy LCP and proxy authentication AVPs carried in ICCN (RFC 2661 §4.4.5), for an LNS
/// that wants to skip or check LCP and authentication the LAC already did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProxyInfo {
    /// Initial Received LCP CONFREQ.
    pub initial_received_lcp_confreq: Option<Vec<u8>>,
    /// Last Sent LCP CONFREQ.
    pub last_sent_lcp_confreq: Option<Vec<u8>>,
    /// Last Received LCP CONFREQ.
    pub last_received_lcp_confreq: Option<Vec<u8>>,
    /// Proxy Authen Type.
    pub authen_type: Option<u16>,
    /// Proxy Authen Name.
    pub authen_name: Option<Vec<u8>>,
    /// Proxy Authen Challenge.
    pub authen_challenge: Option<Vec<u8>>,
    /// Proxy Authen ID.
    pub authen_id: Option<u16>,
    /// Proxy Authen Response.
    pub authen_response: Option<Vec<u8>>,
}

impl ProxyInfo {
    /// True when no proxy AVP was present.
    pub fn is_empty(&self) -> bool {
        *self == ProxyInfo::default()
    }
}

/// Numbers a call request carried, for the caller's accept/refuse decision.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CallInfo {
    /// Call Serial Number.
    pub serial: u32,
    /// Called Number, if present.
    pub called_number: Option<Vec<u8>>,
    /// Calling Number, if present.
    pub calling_number: Option<Vec<u8>>,
    /// Sub-Address, if present.
    pub sub_address: Option<Vec<u8>>,
    /// RFC 5515 access-line AVPs of an ICRQ, when present and well-formed (they have M = 0:
    /// malformed ones are ignored, RFC 2661 §4.1).
    pub access_line: Option<l2tp_wire::access_line::AccessLine>,
}

/// Something the caller must know or decide.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// A peer asks for a tunnel; answer with `accept_tunnel` or `reject_tunnel`
    /// (only when `decide_incoming_tunnels` is set).
    IncomingTunnel {
        /// Our id for the tunnel.
        tunnel: TunnelId,
        /// The peer's id for it.
        peer_tunnel: TunnelId,
        /// Peer address.
        peer: SocketAddr,
        /// Our address it arrived on.
        local: SocketAddr,
        /// Host Name the peer announced.
        host_name: Vec<u8>,
    },
    /// The tunnel is established: sessions may be placed.
    TunnelUp {
        /// Our id.
        tunnel: TunnelId,
        /// The peer's id (the tunnel id to put in data messages we send).
        peer_tunnel: TunnelId,
        /// Peer address (data goes there).
        peer: SocketAddr,
        /// Our address.
        local: SocketAddr,
    },
    /// The tunnel is gone; every session in it got a `SessionDown` first.
    TunnelDown {
        /// Our id.
        tunnel: TunnelId,
        /// Why.
        reason: TunnelDownReason,
    },
    /// A peer asks for a call; answer with `accept_call` or `reject_call`
    /// (only when `decide_incoming_calls` is set).
    IncomingCall {
        /// Our tunnel id.
        tunnel: TunnelId,
        /// Our id for the new session.
        session: SessionId,
        /// LNS incoming (ICRQ) or LAC outgoing (OCRQ).
        kind: CallKind,
        /// What the request carried.
        info: CallInfo,
    },
    /// A session is established: everything the datapath needs to create its handle.
    SessionUp {
        /// Our tunnel id.
        tunnel: TunnelId,
        /// Our session id.
        session: SessionId,
        /// The peer's tunnel id.
        peer_tunnel: TunnelId,
        /// The peer's session id.
        peer_session: SessionId,
        /// Peer address.
        peer: SocketAddr,
        /// Our address.
        local: SocketAddr,
        /// Which call state machine brought it up.
        kind: CallKind,
        /// The peer asked for sequence numbers on data (Sequencing Required AVP).
        sequencing_required: bool,
        /// Proxy LCP / authentication AVPs from ICCN, when present.
        proxy: Option<Box<ProxyInfo>>,
        /// Connect speed announced (ICCN/OCCN Tx Connect Speed), bits per second.
        connect_speed: u32,
    },
    /// A session is gone.
    SessionDown {
        /// Our tunnel id.
        tunnel: TunnelId,
        /// Our session id.
        session: SessionId,
        /// Why.
        reason: SessionDownReason,
    },
    /// SLI received: the peer's ACCM for the PPP link (RFC 2661 §6.14).
    SetLinkInfo {
        /// Our tunnel id.
        tunnel: TunnelId,
        /// Our session id.
        session: SessionId,
        /// Send ACCM.
        send_accm: u32,
        /// Receive ACCM.
        receive_accm: u32,
    },
    /// WEN received: the LAC's error counters for the call (RFC 2661 §6.13).
    WanErrorNotify {
        /// Our tunnel id.
        tunnel: TunnelId,
        /// Our session id.
        session: SessionId,
        /// CRC errors.
        crc_errors: u32,
        /// Framing errors.
        framing_errors: u32,
        /// Hardware overruns.
        hardware_overruns: u32,
        /// Buffer overruns.
        buffer_overruns: u32,
        /// Timeout errors.
        timeout_errors: u32,
        /// Alignment errors.
        alignment_errors: u32,
    },
}

/// The state of a tunnel, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelStateKind {
    /// We sent SCCRQ (RFC 2661 §7.2.1 wait-ctl-reply).
    WaitCtlReply,
    /// An SCCRQ arrived and the caller has not decided yet.
    WaitDecision,
    /// We sent SCCRP (wait-ctl-conn).
    WaitCtlConn,
    /// Established.
    Established,
    /// StopCCN sent or received; state kept for a retransmission cycle (RFC 2661 §5.7).
    Closing,
}

/// The state of a session, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SessionStateKind {
    /// Placed before the tunnel was up (wait-tunnel).
    WaitTunnel,
    /// A request arrived and the caller has not decided yet.
    WaitDecision,
    /// We sent ICRQ/OCRQ (wait-reply).
    WaitReply,
    /// We sent ICRP, or got OCRP (wait-connect).
    WaitConnect,
    /// Established.
    Established,
}

/// A snapshot of one tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Our id.
    pub tunnel: TunnelId,
    /// The peer's id (0 until known).
    pub peer_tunnel: TunnelId,
    /// Peer address.
    pub peer: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
    /// State.
    pub state: TunnelStateKind,
    /// Peer's Host Name, once known.
    pub peer_host_name: Vec<u8>,
    /// Sessions in the tunnel.
    pub sessions: usize,
    /// Control message counters.
    pub counters: ControlCounters,
    /// RFC 4951 failover on this tunnel.
    pub failover: FailoverInfo,
}

/// RFC 4951 failover as seen on one tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FailoverInfo {
    /// The Failover Capability AVP the peer sent in its SCCRQ or SCCRP (`None`: it did not
    /// offer failover).
    pub peer: Option<FailoverCapability>,
    /// Both sides offered control channel failover (C bit): the peer may recover this
    /// tunnel with a recovery tunnel (RFC 4951 §5).
    pub recoverable: bool,
    /// On a recovery tunnel: the old tunnel it recovers.
    pub recovery_of: Option<TunnelId>,
    /// How many times the peer recovered this tunnel (recovery tunnel up).
    pub recoveries: u32,
    /// Failover Session Queries answered on this tunnel (RFC 4951 §6).
    pub session_queries: u32,
}

/// A snapshot of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Our tunnel id.
    pub tunnel: TunnelId,
    /// Our session id.
    pub session: SessionId,
    /// The peer's tunnel id.
    pub peer_tunnel: TunnelId,
    /// The peer's session id (0 until known).
    pub peer_session: SessionId,
    /// Peer address.
    pub peer: SocketAddr,
    /// Which call state machine.
    pub kind: CallKind,
    /// State.
    pub state: SessionStateKind,
    /// Control messages we sent for this session.
    pub tx_messages: u32,
    /// Control messages received for this session.
    pub rx_messages: u32,
    /// WEN messages received (RFC 2661 §6.13) and the last Call Errors they carried (the
    /// counters are cumulative for the call); None before the first.
    pub wan_errors: Option<(u32, l2tp_wire::CallErrors)>,
}
