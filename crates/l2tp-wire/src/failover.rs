//! RFC 4951 ("Fail Over Extensions for L2TP", "failover"): the four AVPs it adds and the
//! Failover Session Query / Response messages, for L2TPv2 (16-bit tunnel and session ids).
//!
//! These are extensions to RFC 2661, so they ride in the `unknown` list of the RFC 2661
//! message structs (SCCRQ, SCCRP) and in [`ControlMessage::Unknown`] (FSQ, FSR): a peer or a
//! configuration that does not use failover sees exactly what it saw before. The typed values
//! here convert to and from those raw AVPs ([`FailoverAvp::to_avp`], [`FailoverAvp::find`]).
//!
//! Numbers (IANA L2TP registry): AVP types 76 Failover Capability, 77 Tunnel
//! Recovery, 78 Suggested Control Sequence, 79 Failover Session State; message types 21 FSQ,
//! 22 FSR. Every value is 6 octets, a 16-bit field then two 16-bit fields (or one 32-bit):
//!
//! | AVP | first 16 bits | then |
//! | --- | --- | --- |
//! | 76 Failover Capability | reserved, D bit (0x0002), C bit (0x0001) | Recovery Time, 32 bits, ms |
//! | 77 Tunnel Recovery | reserved | Recover Tunnel ID, Recover Remote Tunnel ID |
//! | 78 Suggested Control Sequence | reserved | Suggested Ns, Suggested Nr |
//! | 79 Failover Session State | reserved | Session ID, Remote Session ID |
//!
//! Each AVP is therefore 12 octets long with its header; any other length is a typed error
//! ([`FailoverError::Length`]). The RFC says they are not hidden; a hidden one is refused
//! ([`FailoverError::Hidden`]) rather than guessed at.

use thiserror::Error;

use crate::avp::{AvpType, UnknownAvp, VENDOR_IETF};
use crate::ids::{SessionId, TunnelId};
use crate::message::{ControlMessage, MessageType};
use crate::seq::SeqNum;

impl AvpType {
    /// 76: Failover Capability (RFC 4951 §4.1; SCCRQ, SCCRP).
    pub const FAILOVER_CAPABILITY: AvpType = AvpType(76);
    /// 77: Tunnel Recovery (RFC 4951 §4.2; recovery SCCRQ).
    pub const TUNNEL_RECOVERY: AvpType = AvpType(77);
    /// 78: Suggested Control Sequence (RFC 4951 §4.3; SCCRP answering a recovery SCCRQ).
    pub const SUGGESTED_CONTROL_SEQUENCE: AvpType = AvpType(78);
    /// 79: Failover Session State (RFC 4951 §4.4; FSQ, FSR).
    pub const FAILOVER_SESSION_STATE: AvpType = AvpType(79);
}

impl MessageType {
    /// 21: Failover Session Query (RFC 4951 §6).
    pub const FSQ: MessageType = MessageType(21);
    /// 22: Failover Session Response (RFC 4951 §6).
    pub const FSR: MessageType = MessageType(22);
}

/// Length of every RFC 4951 AVP value for L2TPv2 (2 + 4 octets).
pub const FAILOVER_VALUE_LEN: usize = 6;

/// Why an RFC 4951 AVP or message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FailoverError {
    /// The value is not 6 octets long.
    #[error("{avp} AVP value of {len} bytes has the wrong length (expected 6)")]
    Length {
        /// Which AVP.
        avp: AvpType,
        /// Length received.
        len: usize,
    },
    /// The AVP arrived hidden (the RFC does not let these be hidden).
    #[error("{avp} AVP is hidden")]
    Hidden {
        /// Which AVP.
        avp: AvpType,
    },
    /// The message is not of the expected type.
    #[error("expected {expected}, got {got}")]
    WrongMessage {
        /// The type asked for.
        expected: MessageType,
        /// The type received.
        got: MessageType,
    },
    /// An FSQ or FSR without a single Failover Session State AVP.
    #[error("{message} carries no Failover Session State AVP")]
    NoSessionState {
        /// FSQ or FSR.
        message: MessageType,
    },
}

/// One of the RFC 4951 AVPs: its attribute type, M bit and 6-octet value.
pub trait FailoverAvp: Sized {
    /// The attribute type.
    const ATTR: AvpType;
    /// The M bit we send.
    const MANDATORY: bool;

    /// The 6 value octets.
    fn to_value(&self) -> [u8; FAILOVER_VALUE_LEN];
    /// Reads the 6 value octets.
    fn from_value(v: [u8; FAILOVER_VALUE_LEN]) -> Self;

    /// Decodes a value of any length, with a typed error for a wrong one.
    fn decode(value: &[u8]) -> Result<Self, FailoverError> {
        <[u8; FAILOVER_VALUE_LEN]>::try_from(value)
            .map(Self::from_value)
            .map_err(|_| FailoverError::Length {
                avp: Self::ATTR,
                len: value.len(),
            })
    }

    /// The AVP, ready to be pushed onto a message's `unknown` list.
    fn to_avp(&self) -> UnknownAvp {
        UnknownAvp {
            vendor: VENDOR_IETF,
            attr: Self::ATTR,
            mandatory: Self::MANDATORY,
            hidden: false,
            reserved: 0,
            value: self.to_value().to_vec(),
        }
    }

    /// Whether `avp` is one of these (IETF vendor, this type, no reserved bits).
    fn matches(avp: &UnknownAvp) -> bool {
        avp.vendor == VENDOR_IETF && avp.attr == Self::ATTR && avp.reserved == 0
    }

    /// Decodes one AVP of this type.
    fn from_avp(avp: &UnknownAvp) -> Result<Self, FailoverError> {
        if avp.hidden {
            return Err(FailoverError::Hidden { avp: Self::ATTR });
        }
        Self::decode(&avp.value)
    }

    /// The first AVP of this type in `avps` (the codec's leniency rule: a repeated AVP keeps
    /// its first value), `None` when there is none.
    fn find(avps: &[UnknownAvp]) -> Option<Result<Self, FailoverError>> {
        avps.iter()
            .find(|a| Self::matches(a))
            .map(|a| Self::from_avp(a))
    }
}

fn split(v: [u8; FAILOVER_VALUE_LEN]) -> (u16, u16, u16) {
    (
        u16::from_be_bytes([v[0], v[1]]),
        u16::from_be_bytes([v[2], v[3]]),
        u16::from_be_bytes([v[4], v[5]]),
    )
}

fn join(a: u16, b: u16, c: u16) -> [u8; FAILOVER_VALUE_LEN] {
    let (a, b, c) = (a.to_be_bytes(), b.to_be_bytes(), c.to_be_bytes());
    [a[0], a[1], b[0], b[1], c[0], c[1]]
}

/// Failover Capability AVP (RFC 4951 §4.1), sent in SCCRQ and SCCRP by an endpoint that
/// can take part in failover.
///
/// The C bit says the sender's control channel can fail over (recover with a recovery
/// tunnel, §5); the D bit that its data channel (sessions) survives a failover, so a peer
/// may query sessions in doubt (§6). The Recovery Time, in milliseconds, is how long the
/// peer should keep the old tunnel after it stops hearing from the sender, waiting for the
/// recovery tunnel. The M bit is not set: an endpoint that does not know the AVP ignores it
/// and the tunnel is set up without failover.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct FailoverCapability {
    /// C bit: control channel failover.
    pub control: bool,
    /// D bit: data channel (session) failover.
    pub data: bool,
    /// Recovery Time in milliseconds.
    pub recovery_time_ms: u32,
}

impl FailoverCapability {
    /// C bit (least significant bit of the first 16-bit field).
    pub const C_BIT: u16 = 0x0001;
    /// D bit.
    pub const D_BIT: u16 = 0x0002;
}

impl FailoverAvp for FailoverCapability {
    const ATTR: AvpType = AvpType::FAILOVER_CAPABILITY;
    const MANDATORY: bool = false;

    fn to_value(&self) -> [u8; FAILOVER_VALUE_LEN] {
        let mut flags = 0u16;
        if self.control {
            flags |= Self::C_BIT;
        }
        if self.data {
            flags |= Self::D_BIT;
        }
        let f = flags.to_be_bytes();
        let t = self.recovery_time_ms.to_be_bytes();
        [f[0], f[1], t[0], t[1], t[2], t[3]]
    }

    fn from_value(v: [u8; FAILOVER_VALUE_LEN]) -> Self {
        // Reserved bits are ignored on receipt.
        let flags = u16::from_be_bytes([v[0], v[1]]);
        FailoverCapability {
            control: flags & Self::C_BIT != 0,
            data: flags & Self::D_BIT != 0,
            recovery_time_ms: u32::from_be_bytes([v[2], v[3], v[4], v[5]]),
        }
    }
}

/// Tunnel Recovery AVP (RFC 4951 §4.2): in an SCCRQ, marks it as the start of a recovery
/// tunnel for an old tunnel, named by both of its ids. Mandatory (M bit set): a peer that
/// does not implement failover must refuse the recovery tunnel rather than set up a plain one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TunnelRecovery {
    /// Recover Tunnel ID: the old tunnel's id at the sender (the failing endpoint).
    pub recover_tunnel_id: TunnelId,
    /// Recover Remote Tunnel ID: the old tunnel's id at the receiver (the peer).
    pub recover_remote_tunnel_id: TunnelId,
}

impl FailoverAvp for TunnelRecovery {
    const ATTR: AvpType = AvpType::TUNNEL_RECOVERY;
    const MANDATORY: bool = true;

    fn to_value(&self) -> [u8; FAILOVER_VALUE_LEN] {
        join(0, self.recover_tunnel_id.0, self.recover_remote_tunnel_id.0)
    }

    fn from_value(v: [u8; FAILOVER_VALUE_LEN]) -> Self {
        let (_, local, remote) = split(v);
        TunnelRecovery {
            recover_tunnel_id: TunnelId(local),
            recover_remote_tunnel_id: TunnelId(remote),
        }
    }
}

/// Suggested Control Sequence AVP (RFC 4951 §4.3): in the SCCRP that accepts a recovery
/// tunnel, the Ns and Nr the failing endpoint should use on the old (recovered) tunnel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct SuggestedControlSequence {
    /// Suggested Ns: the Ns of the failing endpoint's next control message.
    pub ns: SeqNum,
    /// Suggested Nr: the Ns it should next expect from the peer.
    pub nr: SeqNum,
}

impl FailoverAvp for SuggestedControlSequence {
    const ATTR: AvpType = AvpType::SUGGESTED_CONTROL_SEQUENCE;
    const MANDATORY: bool = true;

    fn to_value(&self) -> [u8; FAILOVER_VALUE_LEN] {
        join(0, self.ns.0, self.nr.0)
    }

    fn from_value(v: [u8; FAILOVER_VALUE_LEN]) -> Self {
        let (_, ns, nr) = split(v);
        SuggestedControlSequence {
            ns: SeqNum(ns),
            nr: SeqNum(nr),
        }
    }
}

/// Failover Session State AVP (RFC 4951 §4.4): one session in an FSQ or FSR.
///
/// `session_id` is the sender's id for the session, `remote_session_id` the id the sender
/// believes the receiver has for it. In an FSR, a `session_id` of 0 says the responder has no
/// such session (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FailoverSessionState {
    /// The sender's Session ID.
    pub session_id: SessionId,
    /// The Remote Session ID (the receiver's id, as the sender knows it).
    pub remote_session_id: SessionId,
}

impl FailoverAvp for FailoverSessionState {
    const ATTR: AvpType = AvpType::FAILOVER_SESSION_STATE;
    const MANDATORY: bool = true;

    fn to_value(&self) -> [u8; FAILOVER_VALUE_LEN] {
        join(0, self.session_id.0, self.remote_session_id.0)
    }

    fn from_value(v: [u8; FAILOVER_VALUE_LEN]) -> Self {
        let (_, sid, rsid) = split(v);
        FailoverSessionState {
            session_id: SessionId(sid),
            remote_session_id: SessionId(rsid),
        }
    }
}

fn session_states(
    message: &ControlMessage,
    expected: MessageType,
) -> Result<Vec<FailoverSessionState>, FailoverError> {
    let got = message.message_type();
    if got != expected {
        return Err(FailoverError::WrongMessage { expected, got });
    }
    let states = message
        .unknown_avps()
        .iter()
        .filter(|a| FailoverSessionState::matches(a))
        .map(FailoverSessionState::from_avp)
        .collect::<Result<Vec<_>, _>>()?;
    if states.is_empty() {
        return Err(FailoverError::NoSessionState { message: expected });
    }
    Ok(states)
}

fn session_message(message_type: MessageType, states: &[FailoverSessionState]) -> ControlMessage {
    ControlMessage::Unknown {
        message_type,
        mandatory: true,
        avps: states.iter().map(FailoverAvp::to_avp).collect(),
    }
}

/// Failover Session Query (RFC 4951 §6): the failing endpoint lists sessions whose state it
/// is unsure of, one Failover Session State AVP each; the peer answers with an [`Fsr`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fsq {
    /// The sessions queried (at least one on the wire).
    pub sessions: Vec<FailoverSessionState>,
}

impl Fsq {
    /// Reads an FSQ out of a decoded control message.
    pub fn from_message(message: &ControlMessage) -> Result<Self, FailoverError> {
        session_states(message, MessageType::FSQ).map(|sessions| Fsq { sessions })
    }

    /// The control message to encode.
    pub fn to_message(&self) -> ControlMessage {
        session_message(MessageType::FSQ, &self.sessions)
    }
}

/// Failover Session Response (RFC 4951 §6): the peer's answer to an [`Fsq`], one Failover
/// Session State AVP per session queried, with its own id or 0 when it has no such session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fsr {
    /// The answers, in query order.
    pub sessions: Vec<FailoverSessionState>,
}

impl Fsr {
    /// Reads an FSR out of a decoded control message.
    pub fn from_message(message: &ControlMessage) -> Result<Self, FailoverError> {
        session_states(message, MessageType::FSR).map(|sessions| Fsr { sessions })
    }

    /// The control message to encode.
    pub fn to_message(&self) -> ControlMessage {
        session_message(MessageType::FSR, &self.sessions)
    }
}
