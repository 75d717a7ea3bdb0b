//! Accounting records (RFC 2866 §5, RFC 2869 §5.1–5.2): Start, Interim-Update, Stop with
//! usage (octets split into Gigawords), a typed Acct-Terminate-Cause, Accounting-On/Off.
//! Acct-Delay-Time is added per transmission by the client, not here.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::attr::AttrType;
use crate::packet::Attr;
use crate::request::{NasIdentity, SessionInfo};

/// Acct-Terminate-Cause (RFC 2866 §5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)] // the names are the RFC's
pub enum TerminateCause {
    UserRequest = 1,
    LostCarrier = 2,
    LostService = 3,
    IdleTimeout = 4,
    SessionTimeout = 5,
    AdminReset = 6,
    AdminReboot = 7,
    PortError = 8,
    NasError = 9,
    NasRequest = 10,
    NasReboot = 11,
    PortUnneeded = 12,
    PortPreempted = 13,
    PortSuspended = 14,
    ServiceUnavailable = 15,
    Callback = 16,
    UserError = 17,
    HostRequest = 18,
}

/// Counters of one session since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Octets received from the user (RFC 2866 §5.3: "from the port").
    pub input_octets: u64,
    /// Octets sent to the user.
    pub output_octets: u64,
    /// Packets received from the user (sent modulo 2^32).
    pub input_packets: u64,
    /// Packets sent to the user (sent modulo 2^32).
    pub output_packets: u64,
    /// Time since the session started.
    pub session_time: Duration,
}

/// What happened to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// Acct-Status-Type = Start.
    Start,
    /// Interim-Update with the usage so far.
    Interim(Usage),
    /// Stop with the final usage and why.
    Stop(Usage, TerminateCause),
}

/// One accounting record.
// Built once per event and sent, never stored in bulk: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcctRecord {
    /// A session's Start, Interim-Update or Stop.
    Session {
        /// The session.
        session: SessionInfo,
        /// The address it was given.
        framed_ip: Option<Ipv4Addr>,
        /// The IPv6 prefix advertised to it (Framed-IPv6-Prefix, RFC 3162 §2.3) and the
        /// one delegated to it (Delegated-IPv6-Prefix, RFC 4818).
        ipv6: Ipv6Prefixes,
        /// Class values from the Access-Accept, echoed (RFC 2865 §5.25).
        class: Vec<Vec<u8>>,
        /// What happened.
        event: SessionEvent,
    },
    /// Accounting-On: the NAS (re)started, every session it had is gone.
    AccountingOn,
    /// Accounting-Off: the NAS is going down on purpose.
    AccountingOff,
}

/// A session's IPv6 prefixes, for its accounting records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ipv6Prefixes {
    /// Framed-IPv6-Prefix.
    pub framed: Option<crate::reply::Ipv6Prefix>,
    /// Delegated-IPv6-Prefix.
    pub delegated: Option<crate::reply::Ipv6Prefix>,
}

/// Acct-Status-Type values (RFC 2866 §5.1).
pub mod status {
    /// Start.
    pub const START: u32 = 1;
    /// Stop.
    pub const STOP: u32 = 2;
    /// Interim-Update.
    pub const INTERIM_UPDATE: u32 = 3;
    /// Accounting-On.
    pub const ACCOUNTING_ON: u32 = 7;
    /// Accounting-Off.
    pub const ACCOUNTING_OFF: u32 = 8;
}

fn usage_attrs(u: &Usage, out: &mut Vec<Attr>) {
    // RFC 2869 §5.1–5.2: Gigawords count how many times the 32-bit octet counter wrapped.
    out.push(Attr::u32(
        AttrType::ACCT_INPUT_OCTETS,
        u.input_octets as u32,
    ));
    out.push(Attr::u32(
        AttrType::ACCT_INPUT_GIGAWORDS,
        (u.input_octets >> 32) as u32,
    ));
    out.push(Attr::u32(
        AttrType::ACCT_OUTPUT_OCTETS,
        u.output_octets as u32,
    ));
    out.push(Attr::u32(
        AttrType::ACCT_OUTPUT_GIGAWORDS,
        (u.output_octets >> 32) as u32,
    ));
    out.push(Attr::u32(
        AttrType::ACCT_INPUT_PACKETS,
        u.input_packets as u32,
    ));
    out.push(Attr::u32(
        AttrType::ACCT_OUTPUT_PACKETS,
        u.output_packets as u32,
    ));
    let secs = u32::try_from(u.session_time.as_secs()).unwrap_or(u32::MAX);
    out.push(Attr::u32(AttrType::ACCT_SESSION_TIME, secs));
}

impl AcctRecord {
    /// Whether losing this record loses billing (a Stop): such records are spooled to disk
    /// when no server takes them.
    pub fn is_stop(&self) -> bool {
        matches!(
            self,
            AcctRecord::Session {
                event: SessionEvent::Stop(..),
                ..
            }
        )
    }

    /// The record's attributes (no Acct-Delay-Time, no Message-Authenticator).
    pub fn attrs(&self, nas: &NasIdentity) -> Vec<Attr> {
        let mut out = Vec::new();
        match self {
            AcctRecord::Session {
                session,
                framed_ip,
                ipv6,
                class,
                event,
            } => {
                let st = match event {
                    SessionEvent::Start => status::START,
                    SessionEvent::Interim(_) => status::INTERIM_UPDATE,
                    SessionEvent::Stop(..) => status::STOP,
                };
                out.push(Attr::u32(AttrType::ACCT_STATUS_TYPE, st));
                session.attrs(&mut out);
                nas.attrs(&mut out);
                // RFC 2866 §5.6: Acct-Authentic = RADIUS.
                out.push(Attr::u32(AttrType::ACCT_AUTHENTIC, 1));
                if let Some(ip) = framed_ip {
                    out.push(Attr::ipv4(AttrType::FRAMED_IP_ADDRESS, *ip));
                }
                if let Some(p) = ipv6.framed {
                    out.push(Attr::new(AttrType::FRAMED_IPV6_PREFIX, p.encode()));
                }
                if let Some(p) = ipv6.delegated {
                    out.push(Attr::new(AttrType::DELEGATED_IPV6_PREFIX, p.encode()));
                }
                for c in class {
                    out.push(Attr::new(AttrType::CLASS, &c[..c.len().min(253)]));
                }
                match event {
                    SessionEvent::Start => {}
                    SessionEvent::Interim(u) => usage_attrs(u, &mut out),
                    SessionEvent::Stop(u, cause) => {
                        usage_attrs(u, &mut out);
                        out.push(Attr::u32(AttrType::ACCT_TERMINATE_CAUSE, *cause as u32));
                    }
                }
            }
            AcctRecord::AccountingOn | AcctRecord::AccountingOff => {
                let st = if matches!(self, AcctRecord::AccountingOn) {
                    status::ACCOUNTING_ON
                } else {
                    status::ACCOUNTING_OFF
                };
                out.push(Attr::u32(AttrType::ACCT_STATUS_TYPE, st));
                // RFC 2866 §5.5 requires an Acct-Session-Id in every Accounting-Request.
                out.push(Attr::new(AttrType::ACCT_SESSION_ID, "0"));
                nas.attrs(&mut out);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Packet;

    #[test]
    fn stop_splits_gigawords_and_carries_cause() {
        let rec = AcctRecord::Session {
            session: SessionInfo {
                user_name: "u".into(),
                nas_port: 1,
                acct_session_id: "s1".into(),
                calling_station_id: None,
                called_station_id: None,
                tunnel: None,
            },
            framed_ip: Some(Ipv4Addr::new(192, 0, 2, 10)),
            ipv6: Ipv6Prefixes {
                framed: None,
                delegated: Some(crate::reply::Ipv6Prefix {
                    addr: "2001:db8:7700::".parse().unwrap(),
                    len: 56,
                }),
            },
            class: vec![b"gold".to_vec()],
            event: SessionEvent::Stop(
                Usage {
                    input_octets: 5 * (1 << 32) + 7,
                    output_octets: 12,
                    input_packets: 3,
                    output_packets: 4,
                    session_time: Duration::from_secs(61),
                },
                TerminateCause::IdleTimeout,
            ),
        };
        assert!(rec.is_stop());
        let mut p = Packet::new(crate::Code::ACCOUNTING_REQUEST, 0, [0; 16]);
        p.attrs = rec.attrs(&NasIdentity::default());
        let u = |t| p.get(t).unwrap().as_u32().unwrap();
        assert_eq!(u(AttrType::ACCT_STATUS_TYPE), status::STOP);
        assert_eq!(u(AttrType::ACCT_INPUT_OCTETS), 7);
        assert_eq!(u(AttrType::ACCT_INPUT_GIGAWORDS), 5);
        assert_eq!(u(AttrType::ACCT_OUTPUT_GIGAWORDS), 0);
        assert_eq!(u(AttrType::ACCT_SESSION_TIME), 61);
        assert_eq!(u(AttrType::ACCT_TERMINATE_CAUSE), 4);
        assert_eq!(p.get(AttrType::CLASS).unwrap().value, b"gold");
        assert_eq!(
            p.get(AttrType::DELEGATED_IPV6_PREFIX).unwrap().value,
            [0, 56, 0x20, 0x01, 0x0d, 0xb8, 0x77, 0x00, 0x00]
        );
        assert!(p.get(AttrType::FRAMED_IPV6_PREFIX).is_none());
    }
}
