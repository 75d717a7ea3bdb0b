//! L2TPv2 wire codec (RFC 2661 §3, §4, §6): bytes to types and back, no I/O.
//!
//! This crate is the bottom layer of the stack: it knows the header, AVPs, hidden AVPs and
//! the control messages, and nothing about state. Decoding borrows from the datagram where it
//! can; encoding writes into caller-provided buffers where it matters (the datapath).
//!
//! Invariants: no input panics the decoder; a decoded message has every AVP RFC 2661 §6
//! requires (they are plain struct fields); unrecognised AVPs are kept with their M bit.
//!
//! ```
//! use l2tp_wire::{
//!     encode_packet, ControlMessage, FramingCapabilities, Header, Packet, ProtocolVersion,
//!     Sccrq, SeqNum, SessionId, TunnelId,
//! };
//! let sccrq = Sccrq {
//!     protocol_version: ProtocolVersion::V1_0,
//!     host_name: b"lac".to_vec(),
//!     framing_capabilities: FramingCapabilities::SYNC,
//!     assigned_tunnel_id: TunnelId(42),
//!     bearer_capabilities: None,
//!     receive_window_size: Some(8),
//!     challenge: None,
//!     tie_breaker: None,
//!     firmware_revision: None,
//!     vendor_name: None,
//!     unknown: vec![],
//! };
//! let header = Header::control(TunnelId(0), SessionId(0), SeqNum(0), SeqNum(0));
//! let bytes = encode_packet(&header, &sccrq.clone().into(), None).unwrap();
//! match Packet::decode(&bytes, None).unwrap() {
//!     Packet::Control { message: ControlMessage::Sccrq(m), .. } => assert_eq!(m, sccrq),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

pub mod access_line;
pub mod avp;
pub mod error;
pub mod failover;
pub mod header;
pub mod hidden;
pub mod ids;
pub mod listing;
pub mod message;
pub mod packet;
pub mod proxy;
pub mod result;
pub mod seq;
pub mod testdata;
pub mod values;

pub use avp::{AvpIter, AvpType, RawAvp, UnknownAvp};
pub use error::{DecodeError, EncodeError};
pub use failover::{
    FailoverAvp, FailoverCapability, FailoverError, FailoverSessionState, Fsq, Fsr,
    SuggestedControlSequence, TunnelRecovery,
};
pub use header::{Decoded, Header, MessageKind, Sequence};
pub use hidden::challenge_response;
pub use ids::{SessionId, TunnelId};
pub use message::{
    Cdn, ControlMessage, Hello, Hiding, Iccn, Icrp, Icrq, MessageType, Occn, Ocrp, Ocrq, Scccn,
    Sccrp, Sccrq, Sli, StopCcn, Wen,
};
pub use packet::{encode_packet, encode_zlb, Packet};
pub use proxy::{proxy_auth, proxy_lcp, set_proxy, ProxyAuth, ProxyError, ProxyLcp};
pub use result::ResultCode;
pub use seq::SeqNum;
pub use values::{
    Accm, AvpValue, BearerCapabilities, BearerType, CallErrors, FramingCapabilities, FramingType,
    ProtocolVersion, ProxyAuthenType, Q931Cause,
};
