//! Errors of the datapath, saying who is at fault: [`ApiError`] for the caller (misuse of the
//! handles), [`DropReason`] for a received packet the rules refused (the peer or the network).

use std::net::SocketAddr;

use l2tp_wire::{DecodeError, SeqNum, TunnelId};
use thiserror::Error;

use super::table::SessionKey;

/// A call the datapath refuses: the caller's mistake, never the peer's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// Tunnel id 0 is never assigned (seed: "zero ids are never assigned").
    #[error("tunnel id 0 is reserved and never assigned")]
    ZeroTunnelId,
    /// Session id 0 is never assigned to a session (it names the tunnel management handle).
    #[error("session id 0 is reserved for the tunnel management handle")]
    ZeroSessionId,
    /// The peer's tunnel id must not be 0 for a session.
    #[error("peer tunnel id 0 is reserved and never assigned")]
    ZeroPeerTunnelId,
    /// The peer's session id must not be 0 for a session.
    #[error("peer session id 0 is reserved and never assigned")]
    ZeroPeerSessionId,
    /// A management handle for this tunnel already exists.
    #[error("tunnel {0} already has a management handle")]
    TunnelExists(TunnelId),
    /// A session was created before its tunnel's management handle (seed: the management
    /// socket "must be created before the first PPPoL2TP session socket").
    #[error("no management handle for tunnel {0}: create it before the tunnel's first session")]
    SessionBeforeTunnel(TunnelId),
    /// No management handle for this tunnel.
    #[error("unknown tunnel handle {0}")]
    UnknownTunnel(TunnelId),
    /// No such session.
    #[error("unknown session handle {0}")]
    UnknownSession(SessionKey),
    /// The session already exists.
    #[error("session {0} already exists")]
    SessionExists(SessionKey),
    /// Only DEBUG may be set on a tunnel management handle (seed: "Only the DEBUG option is
    /// supported by the special tunnel management PPPoX socket").
    #[error("option {option} is not supported on the management handle of tunnel {tunnel}: only DEBUG is")]
    TunnelOptionNotSupported {
        /// The tunnel.
        tunnel: TunnelId,
        /// The option's driver name.
        option: &'static str,
    },
    /// The session's peer address differs from its tunnel's.
    #[error("session peer {session_peer} differs from tunnel {tunnel}'s peer {tunnel_peer}")]
    PeerMismatch {
        /// The tunnel.
        tunnel: TunnelId,
        /// The tunnel's peer.
        tunnel_peer: SocketAddr,
        /// The address given for the session.
        session_peer: SocketAddr,
    },
    /// The backend's system call failed (a kernel datapath: `connect`, `setsockopt`, an
    /// ioctl), with what was attempted and the system's answer.
    #[error("{0}")]
    Backend(String),
    /// Not enough room in front of the payload for the L2TP header.
    #[error("headroom of {have} bytes is too small for a {need}-byte L2TP header")]
    HeadroomTooSmall {
        /// Bytes the header needs.
        need: usize,
        /// Headroom given.
        have: usize,
    },
    /// `headroom + payload_len` exceeds the buffer.
    #[error("payload of {payload_len} bytes after {headroom} bytes of headroom exceeds the {buf_len}-byte buffer")]
    PayloadOutOfBuffer {
        /// Headroom given.
        headroom: usize,
        /// Payload length given.
        payload_len: usize,
        /// Buffer length.
        buf_len: usize,
    },
}

/// Why a received datagram was dropped. Each one is counted (see [`super::L2tpStats`] and
/// [`super::DatapathCounters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The bytes are not an L2TPv2 message.
    Malformed(DecodeError),
    /// Data for a known session from an address or port other than its tunnel's peer, or on
    /// another socket than the tunnel's.
    WrongPeer {
        /// The tunnel the header named.
        tunnel: TunnelId,
        /// Where the datagram came from.
        from: SocketAddr,
    },
    /// RECVSEQ is set and the packet has no sequence numbers.
    SequenceRequired,
    /// LNS mode, we send sequence numbers and the LAC's packet has none.
    SequenceMissing,
    /// Ns is not within half the sequence space ahead of the expected Nr.
    OutsideWindow {
        /// The packet's Ns.
        ns: SeqNum,
        /// The expected Nr.
        expected: SeqNum,
    },
    /// REORDERTO is 0 and Ns is not the expected one.
    OutOfOrder {
        /// The packet's Ns.
        ns: SeqNum,
        /// The expected Nr.
        expected: SeqNum,
    },
    /// A packet with this Ns is already waiting in the reorder queue.
    Duplicate {
        /// The packet's Ns.
        ns: SeqNum,
    },
}

impl DropReason {
    /// True for drops that count as `rx_seq_discards`.
    pub const fn is_sequencing(&self) -> bool {
        matches!(
            self,
            DropReason::SequenceRequired
                | DropReason::SequenceMissing
                | DropReason::OutsideWindow { .. }
                | DropReason::OutOfOrder { .. }
                | DropReason::Duplicate { .. }
        )
    }
}
