//! Sans-IO PPPoE (RFC 2516) for the access side of a LAC: the Ethernet/PPPoE codec
//! ([`Frame`], [`Tag`], with VLAN tags kept and the TR-101 access-line sub-options of the
//! Vendor-Specific TAG) and an access concentrator's discovery state machine
//! ([`AccessConcentrator`]).
//!
//! Like the `ppp` crate, nothing here reads a clock or does I/O: every input takes `now`,
//! and the caller drains [`AccessConcentrator::poll_transmit`] and
//! [`AccessConcentrator::poll_event`] after each. The raw socket lives in `l2tp-io`.
//!
//! # Invariants
//! - No input panics the decoder or the access concentrator; a malformed frame is a typed
//!   [`DecodeError`] and one [`DropReason`] counter.
//! - A session exists only after a PADR carrying a cookie we issued to that MAC on those
//!   VLANs, and within the global and per-MAC limits.
//! - Only the owner (MAC and VLANs) of a session can end it with a PADT or send on it.
//!
//! ```
//! use std::time::Instant;
//! use pppoe::{AcConfig, AccessConcentrator, Code, Discovery, EthHeader, Event, Frame, MacAddr,
//!     Pppoe, Tag, TagList, ETHERTYPE_DISCOVERY};
//!
//! let now = Instant::now();
//! let ac_mac = MacAddr([2, 0, 0, 0, 0, 1]);
//! let host = MacAddr([2, 0, 0, 0, 0, 2]);
//! let mut ac = AccessConcentrator::new(AcConfig::new(ac_mac, "lac1", b"key"), now);
//! let discovery = |dst, code, tags| Frame {
//!     eth: EthHeader { dst, src: host, vlans: vec![], ethertype: ETHERTYPE_DISCOVERY },
//!     pppoe: Pppoe::Discovery(Discovery { code, session_id: 0, tags }),
//! }.encode().unwrap();
//!
//! ac.handle_frame(now, &discovery(MacAddr::BROADCAST, Code::PADI, vec![Tag::ServiceName(vec![])]));
//! let pado = ac.poll_transmit().unwrap();
//! let Pppoe::Discovery(offer) = Frame::decode(&pado).unwrap().pppoe else { unreachable!() };
//! let cookie = offer.tags.ac_cookie().unwrap().to_vec();
//!
//! let padr = discovery(ac_mac, Code::PADR, vec![Tag::ServiceName(vec![]), Tag::AcCookie(cookie)]);
//! ac.handle_frame(now, &padr);
//! let Some(Event::SessionUp(s)) = ac.poll_event() else { panic!("no session") };
//! assert_eq!(s.peer, host);
//! ```

pub mod ac;
pub mod bucket;
pub mod cookie;
pub mod error;
pub mod eth;
pub mod fuzzing;
pub mod packet;
pub mod stats;
pub mod tag;
pub mod tr101;

pub use ac::{AcConfig, AccessConcentrator, DownReason, Event, Received, SessionInfo};
pub use error::{DecodeError, EncodeError};
pub use eth::{
    EthHeader, MacAddr, VlanTag, ETHERTYPE_DISCOVERY, ETHERTYPE_SESSION, TPID_8021AD, TPID_8021Q,
};
pub use packet::{Code, Discovery, Frame, Pppoe};
pub use stats::{DropReason, Stats};
pub use tag::{Tag, TagList, TagType};
pub use tr101::{AccessLine, VendorTag};
