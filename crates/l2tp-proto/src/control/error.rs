//! Errors of the control plane, by who is at fault: [`ApiError`] for the caller,
//! [`ProtocolError`] for the peer (each maps to an RFC 2661 result and error code).

use thiserror::Error;

use l2tp_wire::result::ResultCode;
use l2tp_wire::{DecodeError, FailoverError, SessionId, TunnelId};

/// A command could not be carried out; the caller's mistake or a resource limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// No tunnel with this id.
    #[error("no tunnel {0}")]
    NoSuchTunnel(TunnelId),
    /// No session with this id in the tunnel.
    #[error("no session {1} in tunnel {0}")]
    NoSuchSession(TunnelId, SessionId),
    /// The session is not established yet (or any more).
    #[error("session {1} in tunnel {0} is not established")]
    SessionNotEstablished(TunnelId, SessionId),
    /// The tunnel is closing and takes no new work.
    #[error("tunnel {0} is closing")]
    TunnelClosing(TunnelId),
    /// The tunnel or session is not waiting for a decision.
    #[error("nothing to decide for {0}")]
    NoDecisionPending(&'static str),
    /// Every id is in use.
    #[error("no free {0} id")]
    IdsExhausted(&'static str),
    /// No RFC 4951 recovery is attempted for this tunnel (failover not offered by both
    /// sides, or the id is in use).
    #[error("tunnel not recoverable: {0}")]
    NotRecoverable(&'static str),
    /// A message could not be encoded (an over-long string in the configuration or params).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// The peer broke a rule; the tunnel or session is cleared with the mapped result code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The message could not be decoded (missing required AVP, bad length, hidden AVP without
    /// secret ...).
    #[error("undecodable message: {0}")]
    Decode(DecodeError),
    /// An unrecognised AVP with the M bit set (RFC 2661 §4.1).
    #[error("unknown mandatory AVP vendor {vendor} type {attr}")]
    UnknownMandatoryAvp {
        /// Vendor id.
        vendor: u16,
        /// Attribute type.
        attr: u16,
    },
    /// A message that is not valid in the current state (RFC 2661 §7).
    #[error("{message} not valid in state {state}")]
    UnexpectedMessage {
        /// The message name.
        message: String,
        /// The state name.
        state: &'static str,
    },
    /// Tunnel authentication failed (RFC 2661 §5.1.1).
    #[error("tunnel authentication failed: {0}")]
    AuthFailed(&'static str),
    /// Unsupported protocol version (RFC 2661 §4.4.3).
    #[error("unsupported protocol version")]
    BadVersion,
    /// A session message referring to an unknown session.
    #[error("no session {0}")]
    UnknownSession(SessionId),
    /// A malformed RFC 4951 (failover) AVP or message.
    #[error("bad failover AVP: {0}")]
    Failover(FailoverError),
    /// A recovery SCCRQ (RFC 4951 §5) for a tunnel we cannot recover.
    #[error("tunnel recovery refused: {0}")]
    RecoveryRefused(&'static str),
}

impl ProtocolError {
    /// The StopCCN result code that clears a tunnel for this error (RFC 2661 §4.4.2).
    pub fn stopccn_result(&self) -> ResultCode {
        match self {
            ProtocolError::UnknownMandatoryAvp { .. } => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_UNKNOWN_MANDATORY_AVP,
                Some("unknown mandatory AVP"),
            ),
            ProtocolError::Decode(DecodeError::InvalidAvpValue { .. }) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_LENGTH,
                Some("bad AVP length"),
            ),
            ProtocolError::Decode(_) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_VALUE,
                Some("malformed message"),
            ),
            ProtocolError::UnexpectedMessage { .. } => {
                ResultCode::new(ResultCode::STOPCCN_FSM_ERROR)
            }
            ProtocolError::AuthFailed(_) => ResultCode::new(ResultCode::STOPCCN_NOT_AUTHORIZED),
            ProtocolError::BadVersion => ResultCode::new(ResultCode::STOPCCN_BAD_PROTOCOL_VERSION),
            ProtocolError::UnknownSession(_) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_INVALID_SESSION_ID,
                None,
            ),
            ProtocolError::Failover(FailoverError::Length { .. }) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_LENGTH,
                Some("bad failover AVP length"),
            ),
            ProtocolError::Failover(_) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_VALUE,
                Some("bad failover AVP"),
            ),
            ProtocolError::RecoveryRefused(why) => ResultCode::with_error(
                ResultCode::STOPCCN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_VALUE,
                Some(why),
            ),
        }
    }

    /// The CDN result code that clears a session for this error (RFC 2661 §4.4.2).
    pub fn cdn_result(&self) -> ResultCode {
        match self {
            ProtocolError::UnknownMandatoryAvp { .. } => ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_UNKNOWN_MANDATORY_AVP,
                Some("unknown mandatory AVP"),
            ),
            ProtocolError::Decode(DecodeError::InvalidAvpValue { .. }) => ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_LENGTH,
                Some("bad AVP length"),
            ),
            ProtocolError::UnknownSession(_) => ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_INVALID_SESSION_ID,
                None,
            ),
            _ => ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_BAD_VALUE,
                Some("protocol error"),
            ),
        }
    }
}
