//! Counters of an access concentrator: frames handled per kind, and every dropped frame
//! counted under exactly one [`DropReason`].

use std::fmt;

use crate::error::DecodeError;

macro_rules! reasons {
    ($( $(#[$doc:meta])* $v:ident = $name:literal, )*) => {
        /// Why a received frame was dropped (one counter each).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DropReason {
            $( $(#[$doc])* $v, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$v,)*];
            /// Number of reasons.
            pub const COUNT: usize = [$($name,)*].len();

            /// A short snake_case name, for metrics and logs.
            pub fn name(self) -> &'static str {
                match self {
                    $( DropReason::$v => $name, )*
                }
            }
        }
    };
}

reasons! {
    /// Shorter than its headers say.
    Truncated = "truncated",
    /// Not a PPPoE EtherType.
    NotPppoe = "not_pppoe",
    /// Too many VLAN tags.
    TooManyVlanTags = "too_many_vlan_tags",
    /// VER/TYPE not 1.
    BadVersion = "bad_version",
    /// LENGTH larger than the frame.
    BadLength = "bad_length",
    /// Session frame with a non-zero CODE.
    SessionCode = "session_code",
    /// Discovery CODE RFC 2516 does not define.
    UnknownCode = "unknown_code",
    /// A TAG running past the payload or of an impossible length.
    BadTag = "bad_tag",
    /// A unicast frame for another station, or a PADI to a unicast address not ours.
    NotForUs = "not_for_us",
    /// A multicast or broadcast source address.
    BadSourceMac = "bad_source_mac",
    /// PADI or PADR with a SESSION_ID other than 0.
    NonZeroSessionId = "nonzero_session_id",
    /// PADI or PADR without exactly one Service-Name TAG.
    ServiceNameCount = "service_name_count",
    /// A Service-Name we do not offer (PADI: no PADO; PADR: PADS with Service-Name-Error).
    ServiceUnavailable = "service_unavailable",
    /// PADI over the global rate limit.
    PadiRateLimited = "padi_rate_limited",
    /// PADI over its sender's rate limit.
    PadiMacRateLimited = "padi_mac_rate_limited",
    /// PADR without an AC-Cookie.
    CookieMissing = "cookie_missing",
    /// PADR whose AC-Cookie we did not issue to that address, or expired.
    CookieInvalid = "cookie_invalid",
    /// Global session limit reached.
    SessionLimit = "session_limit",
    /// Per-MAC session limit reached.
    MacLimit = "mac_limit",
    /// No session ids left.
    NoSessionId = "no_session_id",
    /// PADT for a session that does not exist or is not the sender's.
    PadtUnknownSession = "padt_unknown_session",
    /// Session frame for a session that does not exist or is not the sender's.
    SessionUnknown = "session_unknown",
    /// PADO or PADS sent to the access concentrator.
    UnexpectedCode = "unexpected_code",
    /// PADI or PADR with a Host-Uniq, AC-Cookie, Relay-Session-Id or PPP-Max-Payload TAG
    /// twice.
    DuplicateTag = "duplicate_tag",
}

impl DropReason {
    /// The counter a decode error falls under.
    pub fn from_decode(e: &DecodeError) -> DropReason {
        match e {
            DecodeError::Truncated { .. } => DropReason::Truncated,
            DecodeError::NotPppoe(_) => DropReason::NotPppoe,
            DecodeError::TooManyVlanTags(_) => DropReason::TooManyVlanTags,
            DecodeError::BadVersion { .. } => DropReason::BadVersion,
            DecodeError::BadLength { .. } => DropReason::BadLength,
            DecodeError::SessionCode(_) => DropReason::SessionCode,
            DecodeError::UnknownCode(_) => DropReason::UnknownCode,
            DecodeError::TagTruncated { .. } | DecodeError::BadTagLength { .. } => {
                DropReason::BadTag
            }
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Frame counters of one access concentrator.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Frames handed to `handle_frame`.
    pub rx_frames: u64,
    /// PADIs received (before any check but decoding).
    pub padi_rx: u64,
    /// PADOs sent.
    pub pado_tx: u64,
    /// PADRs received.
    pub padr_rx: u64,
    /// PADSs sent that confirm a session.
    pub pads_tx: u64,
    /// PADSs sent with an error TAG (SESSION_ID 0).
    pub pads_error_tx: u64,
    /// PADRs that repeated one already answered (the same PADS sent again).
    pub padr_repeated: u64,
    /// PADTs received for a session of the sender.
    pub padt_rx: u64,
    /// PADTs sent.
    pub padt_tx: u64,
    /// Session frames delivered.
    pub session_rx: u64,
    /// Sessions opened.
    pub sessions_up: u64,
    /// Sessions closed.
    pub sessions_down: u64,
    drops: [u64; DropReason::COUNT],
}

impl Stats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Frames dropped, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }
}
