//! Session and tunnel options: the driver's socket options (SENDSEQ, RECVSEQ, LNSMODE,
//! REORDERTO, DEBUG) as types.
//!
//! The seed document lists them; only DEBUG is accepted on a tunnel management handle.

use std::fmt;
use std::time::Duration;

/// Debug categories, with the driver's bit values (`PPPOL2TP_MSG_*`).
///
/// Messages go through `tracing` (target `l2tp::data`), rate-limited by the datapath so a busy
/// system is never swamped (the seed warns the kernel's are not).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct DebugMask(pub u32);

impl DebugMask {
    /// No debug messages.
    pub const NONE: DebugMask = DebugMask(0);
    /// `PPPOL2TP_MSG_DEBUG`: verbose debug.
    pub const DEBUG: DebugMask = DebugMask(1);
    /// `PPPOL2TP_MSG_CONTROL`: userspace - datapath interface (handles, options).
    pub const CONTROL: DebugMask = DebugMask(2);
    /// `PPPOL2TP_MSG_SEQ`: sequence number handling.
    pub const SEQ: DebugMask = DebugMask(4);
    /// `PPPOL2TP_MSG_DATA`: data packets.
    pub const DATA: DebugMask = DebugMask(8);
    /// All four categories.
    pub const ALL: DebugMask = DebugMask(15);

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: DebugMask) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Union of two masks.
    #[must_use]
    pub const fn union(self, other: DebugMask) -> DebugMask {
        DebugMask(self.0 | other.0)
    }

    /// True when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for DebugMask {
    type Output = DebugMask;
    fn bitor(self, rhs: DebugMask) -> DebugMask {
        self.union(rhs)
    }
}

/// The options of a session handle, as the driver keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionOptions {
    /// SENDSEQ: send data messages with Ns.
    pub send_seq: bool,
    /// RECVSEQ: drop received data messages without sequence numbers.
    pub recv_seq: bool,
    /// LNSMODE: act as the LNS (false: act as the LAC, which follows the LNS's sequencing).
    pub lns_mode: bool,
    /// REORDERTO: how long an out-of-order packet may wait for the gap to fill. Zero: no
    /// reordering (out-of-order packets are dropped).
    pub reorder_timeout: Duration,
    /// DEBUG: the session's debug mask (initialised from the tunnel's when the session is made).
    pub debug: DebugMask,
}

/// One option, as `setsockopt` on a PPPoL2TP socket would set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOption {
    /// SENDSEQ.
    SendSeq(bool),
    /// RECVSEQ.
    RecvSeq(bool),
    /// LNSMODE.
    LnsMode(bool),
    /// REORDERTO (the driver takes milliseconds; see [`SessionOption::reorder_timeout_ms`]).
    ReorderTimeout(Duration),
    /// DEBUG.
    Debug(DebugMask),
}

impl SessionOption {
    /// REORDERTO given in milliseconds, as the driver's socket option is.
    pub const fn reorder_timeout_ms(ms: u32) -> SessionOption {
        SessionOption::ReorderTimeout(Duration::from_millis(ms as u64))
    }

    /// The driver's name of the option (used in errors and logs).
    pub const fn name(&self) -> &'static str {
        match self {
            SessionOption::SendSeq(_) => "SENDSEQ",
            SessionOption::RecvSeq(_) => "RECVSEQ",
            SessionOption::LnsMode(_) => "LNSMODE",
            SessionOption::ReorderTimeout(_) => "REORDERTO",
            SessionOption::Debug(_) => "DEBUG",
        }
    }

    /// Applies the option to a set of session options.
    pub(crate) fn apply(self, opts: &mut SessionOptions) {
        match self {
            SessionOption::SendSeq(v) => opts.send_seq = v,
            SessionOption::RecvSeq(v) => opts.recv_seq = v,
            SessionOption::LnsMode(v) => opts.lns_mode = v,
            SessionOption::ReorderTimeout(d) => opts.reorder_timeout = d,
            SessionOption::Debug(m) => opts.debug = m,
        }
    }
}

impl fmt::Display for SessionOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
