//! The kernel's L2TPv2 datapath (PPPoL2TP sockets), as a safe API.
//!
//! The sequence is the one the kernel's own documentation gives ("PPPoL2TP driver", sample
//! userspace code):
//!
//! 1. a UDP socket per tunnel, bound and **connected** to the peer (the kernel sends the
//!    tunnel's data through it and drops what it would send while it is not connected);
//! 2. one tunnel management socket per tunnel ([`TunnelSocket::connect`]):
//!    `socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP)` connected with the UDP fd, our tunnel id
//!    and session ids 0. "This is used only for communicating with the driver but must remain
//!    open while the tunnel is active"; it takes only the DEBUG option;
//! 3. one session socket per session ([`SessionSocket::connect`]), connected with both
//!    tunnel ids and both session ids; options SENDSEQ, RECVSEQ, LNSMODE, REORDERTO, DEBUG;
//!    `PPPIOCGL2TPSTATS` on either socket gives the eight counters ([`L2tpStats`]).
//!
//! Control messages still arrive on the UDP socket (the kernel passes every T=1 packet up);
//! data messages for the session go to its PPP channel: see [`crate::ppp_unit`] for the
//! `/dev/ppp` side. Closing the sockets removes the kernel's session and tunnel.
//!
//! [`probe`] says whether this kernel can do it at all, without loading anything itself.
//!
//! Needs `CAP_NET_ADMIN`; every error names what was attempted ([`KernelError`]).

mod probe;
mod socket;
pub mod sys;

pub use l2tp_proto::data::L2tpStats;
pub use probe::{probe, Missing, DEV_PPP};
pub use socket::{DebugMask, SessionIds, SessionSocket, TunnelSocket};

use std::io;

/// A failed kernel call, with what we were doing ("connect PPPoL2TP tunnel 5 to
/// 192.0.2.1:1701") and the system error.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct KernelError {
    /// What was attempted.
    pub what: String,
    /// The system's answer.
    #[source]
    pub source: io::Error,
}

impl KernelError {
    /// Wraps the current `errno` with a description.
    pub(crate) fn last(what: impl Into<String>) -> Self {
        Self::new(what, io::Error::last_os_error())
    }

    /// Wraps `source` with a description.
    pub(crate) fn new(what: impl Into<String>, source: io::Error) -> Self {
        Self {
            what: what.into(),
            source,
        }
    }

    /// The `errno` of the failure, when it came from the system.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl From<KernelError> for io::Error {
    fn from(e: KernelError) -> Self {
        io::Error::new(e.source.kind(), e)
    }
}
