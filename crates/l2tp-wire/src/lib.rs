//! L2TPv2 wire codec (RFC 2661 §3, §4): bytes to types and back, no I/O.
//!
//! This crate is the bottom layer of the stack: it knows the header, AVPs, hidden AVPs and
//! the control messages, and nothing about state. Decoding borrows from the datagram;
//! encoding writes into caller-provided buffers where it matters (the datapath).
//!
//! ```
//! use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};
//! let zlb = Header::control(TunnelId(7), SessionId(0), SeqNum(3), SeqNum(9));
//! let bytes = zlb.encode_with_payload(&[]);
//! let decoded = Header::decode(&bytes).unwrap();
//! assert_eq!(decoded.header.tunnel_id, TunnelId(7));
//! assert!(decoded.payload.is_empty()); // a ZLB acknowledgement
//! ```

pub mod error;
pub mod header;
pub mod ids;
pub mod seq;

pub use error::DecodeError;
pub use header::{Decoded, Header, MessageKind, Sequence};
pub use ids::{SessionId, TunnelId};
pub use seq::SeqNum;
