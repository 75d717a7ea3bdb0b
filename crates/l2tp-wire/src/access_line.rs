//! RFC 5515 access-line AVPs: the subscriber's line identification and characteristics that
//! a LAC learnt from a PPPoE intermediate agent (the TR-101 Vendor-Specific TAG of the PADI
//! and PADR), passed on to the LNS in the ICRQ.
//!
//! These are vendor AVPs of the Broadband Forum (Vendor ID 3561, the enterprise number TR-101
//! uses) with the TR-101 sub-option numbers as Attribute Types: Agent-Circuit-Id (1),
//! Agent-Remote-Id (2), the data rates (129..=138, 64-bit bits per second), interleaving
//! delays (139..=142), Access-Loop-Encapsulation (144), ANCP Access Line Type (145),
//! IWF-Session (254). We send them with M = 0, so an LNS that does not know them ignores
//! them (RFC 2661 §4.1), and never hide them.
//!
//! The message structs keep vendor AVPs in their `unknown` list; [`AccessLine::to_avps`]
//! makes the entries to put there and [`AccessLine::from_avps`] reads them back.

use thiserror::Error;

use crate::avp::{AvpType, UnknownAvp};

/// The Broadband Forum's IANA enterprise number, the Vendor ID of these AVPs.
pub const VENDOR_BROADBAND_FORUM: u16 = 3561;

/// Attribute Types of the access-line AVPs (under [`VENDOR_BROADBAND_FORUM`]).
pub mod attr {
    use crate::avp::AvpType;
    /// Agent-Circuit-Id: the access node and port the subscriber is on.
    pub const AGENT_CIRCUIT_ID: AvpType = AvpType(1);
    /// Agent-Remote-Id: the subscriber as the access node knows it.
    pub const AGENT_REMOTE_ID: AvpType = AvpType(2);
    /// Actual-Data-Rate-Upstream (8 octets, bit/s).
    pub const ACTUAL_DATA_RATE_UPSTREAM: AvpType = AvpType(129);
    /// Actual-Data-Rate-Downstream (8 octets, bit/s).
    pub const ACTUAL_DATA_RATE_DOWNSTREAM: AvpType = AvpType(130);
    /// Access-Loop-Encapsulation (3 octets).
    pub const ACCESS_LOOP_ENCAPSULATION: AvpType = AvpType(144);
}

/// The name of an access-line Attribute Type, `None` for others.
pub fn attr_name(a: AvpType) -> Option<&'static str> {
    Some(match a.0 {
        1 => "Agent-Circuit-Id",
        2 => "Agent-Remote-Id",
        129 => "Actual-Data-Rate-Upstream",
        130 => "Actual-Data-Rate-Downstream",
        131 => "Minimum-Data-Rate-Upstream",
        132 => "Minimum-Data-Rate-Downstream",
        133 => "Attainable-Data-Rate-Upstream",
        134 => "Attainable-Data-Rate-Downstream",
        135 => "Maximum-Data-Rate-Upstream",
        136 => "Maximum-Data-Rate-Downstream",
        137 => "Minimum-Data-Rate-Upstream-Low-Power",
        138 => "Minimum-Data-Rate-Downstream-Low-Power",
        139 => "Maximum-Interleaving-Delay-Upstream",
        140 => "Actual-Interleaving-Delay-Upstream",
        141 => "Maximum-Interleaving-Delay-Downstream",
        142 => "Actual-Interleaving-Delay-Downstream",
        144 => "Access-Loop-Encapsulation",
        145 => "ANCP Access Line Type",
        254 => "IWF-Session",
        _ => return None,
    })
}

/// Why access-line AVPs could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessLineError {
    /// The AVP arrived hidden: vendor AVPs are kept as received, without the Random Vector
    /// needed to unhide them.
    #[error("access-line AVP {0} is hidden")]
    Hidden(&'static str),
    /// A data rate that is not 8 octets.
    #[error("{name} of {len} octets, 8 expected")]
    BadLength {
        /// The AVP's name.
        name: &'static str,
        /// Its length.
        len: usize,
    },
}

/// The access-line AVPs of one call.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AccessLine {
    /// Agent-Circuit-Id.
    pub agent_circuit_id: Option<Vec<u8>>,
    /// Agent-Remote-Id.
    pub agent_remote_id: Option<Vec<u8>>,
    /// Actual-Data-Rate-Upstream, bit/s.
    pub actual_data_rate_upstream: Option<u64>,
    /// Actual-Data-Rate-Downstream, bit/s.
    pub actual_data_rate_downstream: Option<u64>,
    /// Other Broadband Forum AVPs, kept as received.
    pub other: Vec<UnknownAvp>,
}

fn avp(attr: AvpType, value: Vec<u8>) -> UnknownAvp {
    UnknownAvp {
        vendor: VENDOR_BROADBAND_FORUM,
        attr,
        mandatory: false,
        hidden: false,
        reserved: 0,
        value,
    }
}

impl AccessLine {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        *self == AccessLine::default()
    }

    /// The access line a PPPoE intermediate agent described in TR-101 sub-options (type,
    /// value), as RFC 5515 AVPs: each sub-option type is the AVP's Attribute Type; the data
    /// rates (129..=138), 4 octets in the PPPoE tag, are widened to the 8 octets of the AVP
    /// (the number itself is copied, no unit conversion); other values are copied.
    /// Rate sub-options of a wrong length are skipped.
    pub fn from_tr101<'a>(sub_options: impl IntoIterator<Item = (u8, &'a [u8])>) -> AccessLine {
        let mut al = AccessLine::default();
        for (code, value) in sub_options {
            let a = AvpType(u16::from(code));
            let widened = match (code, <[u8; 4]>::try_from(value)) {
                (129..=138, Ok(v)) => Some(u64::from(u32::from_be_bytes(v))),
                (129..=138, Err(_)) => continue,
                _ => None,
            };
            match (a, widened) {
                (attr::AGENT_CIRCUIT_ID, _) if al.agent_circuit_id.is_none() => {
                    al.agent_circuit_id = Some(value.to_vec())
                }
                (attr::AGENT_REMOTE_ID, _) if al.agent_remote_id.is_none() => {
                    al.agent_remote_id = Some(value.to_vec())
                }
                (attr::ACTUAL_DATA_RATE_UPSTREAM, Some(r)) => {
                    al.actual_data_rate_upstream = Some(r)
                }
                (attr::ACTUAL_DATA_RATE_DOWNSTREAM, Some(r)) => {
                    al.actual_data_rate_downstream = Some(r)
                }
                (_, Some(r)) => al.other.push(avp(a, r.to_be_bytes().to_vec())),
                (_, None) => al.other.push(avp(a, value.to_vec())),
            }
        }
        al
    }

    /// The AVPs to append to a message's `unknown` list (M = 0, not hidden).
    pub fn to_avps(&self) -> Vec<UnknownAvp> {
        let mut out = Vec::new();
        if let Some(v) = &self.agent_circuit_id {
            out.push(avp(attr::AGENT_CIRCUIT_ID, v.clone()));
        }
        if let Some(v) = &self.agent_remote_id {
            out.push(avp(attr::AGENT_REMOTE_ID, v.clone()));
        }
        if let Some(r) = self.actual_data_rate_upstream {
            out.push(avp(
                attr::ACTUAL_DATA_RATE_UPSTREAM,
                r.to_be_bytes().to_vec(),
            ));
        }
        if let Some(r) = self.actual_data_rate_downstream {
            out.push(avp(
                attr::ACTUAL_DATA_RATE_DOWNSTREAM,
                r.to_be_bytes().to_vec(),
            ));
        }
        out.extend(self.other.iter().cloned());
        out
    }

    /// Reads the Broadband Forum AVPs out of a message's `unknown` list (others are
    /// skipped; a repeated AVP keeps its first value).
    pub fn from_avps(avps: &[UnknownAvp]) -> Result<AccessLine, AccessLineError> {
        let mut al = AccessLine::default();
        for a in avps.iter().filter(|a| a.vendor == VENDOR_BROADBAND_FORUM) {
            let name = attr_name(a.attr).unwrap_or("Broadband Forum AVP");
            if a.hidden {
                return Err(AccessLineError::Hidden(name));
            }
            let rate = || -> Result<u64, AccessLineError> {
                let b: [u8; 8] =
                    a.value[..]
                        .try_into()
                        .map_err(|_| AccessLineError::BadLength {
                            name,
                            len: a.value.len(),
                        })?;
                Ok(u64::from_be_bytes(b))
            };
            match a.attr {
                attr::AGENT_CIRCUIT_ID if al.agent_circuit_id.is_none() => {
                    al.agent_circuit_id = Some(a.value.clone())
                }
                attr::AGENT_REMOTE_ID if al.agent_remote_id.is_none() => {
                    al.agent_remote_id = Some(a.value.clone())
                }
                attr::ACTUAL_DATA_RATE_UPSTREAM if al.actual_data_rate_upstream.is_none() => {
                    al.actual_data_rate_upstream = Some(rate()?)
                }
                attr::ACTUAL_DATA_RATE_DOWNSTREAM if al.actual_data_rate_downstream.is_none() => {
                    al.actual_data_rate_downstream = Some(rate()?)
                }
                attr::AGENT_CIRCUIT_ID
                | attr::AGENT_REMOTE_ID
                | attr::ACTUAL_DATA_RATE_UPSTREAM
                | attr::ACTUAL_DATA_RATE_DOWNSTREAM => {}
                _ => al.other.push(a.clone()),
            }
        }
        Ok(al)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ControlMessage, Icrq, SessionId};

    fn line() -> AccessLine {
        AccessLine {
            agent_circuit_id: Some(b"dslam7 atm 1/1/01/12:8.35".to_vec()),
            agent_remote_id: Some(b"customer-4711".to_vec()),
            actual_data_rate_upstream: Some(1_024_000),
            actual_data_rate_downstream: Some(16_384_000),
            other: vec![avp(attr::ACCESS_LOOP_ENCAPSULATION, vec![1, 1, 0])],
        }
    }

    #[test]
    fn icrq_carries_the_access_line_through_the_wire() {
        let mut icrq = Icrq::new(SessionId(5), 42);
        icrq.calling_number = Some(b"dslam7 atm 1/1/01/12:8.35".to_vec());
        icrq.unknown = line().to_avps();
        let mut out = Vec::new();
        ControlMessage::Icrq(icrq.clone())
            .encode(&mut out, None)
            .unwrap();
        // Vendor 3561 (0x0de9), type 1, M = 0, H = 0.
        let needle = [0x0d, 0xe9, 0x00, 0x01];
        let at = out
            .windows(4)
            .position(|w| w == needle)
            .expect("circuit id AVP");
        assert_eq!(out[at - 2] & 0xc0, 0, "M and H clear");
        let ControlMessage::Icrq(back) = ControlMessage::decode(&out, None).unwrap() else {
            panic!("not ICRQ")
        };
        assert_eq!(AccessLine::from_avps(&back.unknown), Ok(line()));
        // M = 0: the state machine's §4.1 check lets the message through.
        assert!(back.unknown.iter().all(|u| !u.mandatory));
    }

    #[test]
    fn tr101_sub_options_map_to_rfc_5515_avps() {
        let subs: Vec<(u8, &[u8])> = vec![
            (0x01, b"olt 1/1/1:7"),
            (0x02, b"cust"),
            (0x81, &[0, 0x0f, 0x42, 0x40]), // actual rate up
            (0x82, &[0, 0x98, 0x96, 0x80]), // actual rate down
            (0x85, &[0, 0, 0x03, 0xe8]),    // attainable rate up
            (0x8c, &[0, 0, 0, 9]),          // interleaving delay, kept as sent
            (0x90, &[1, 1, 0]),             // access loop encapsulation
            (0x83, &[1, 2, 3]),             // a rate of the wrong length: skipped
        ];
        let al = AccessLine::from_tr101(subs);
        assert_eq!(al.agent_circuit_id.as_deref(), Some(&b"olt 1/1/1:7"[..]));
        assert_eq!(al.agent_remote_id.as_deref(), Some(&b"cust"[..]));
        assert_eq!(al.actual_data_rate_upstream, Some(1_000_000));
        assert_eq!(al.actual_data_rate_downstream, Some(10_000_000));
        let others: Vec<_> = al
            .other
            .iter()
            .map(|a| (a.attr.0, a.value.clone()))
            .collect();
        assert_eq!(
            others,
            vec![
                (133, 1000u64.to_be_bytes().to_vec()),
                (140, vec![0, 0, 0, 9]),
                (144, vec![1, 1, 0]),
            ]
        );
        assert_eq!(AccessLine::from_avps(&al.to_avps()), Ok(al));
    }

    #[test]
    fn malformed_or_hidden_access_line_avps_are_errors() {
        let mut bad = line().to_avps();
        bad[2].value.pop();
        assert_eq!(
            AccessLine::from_avps(&bad),
            Err(AccessLineError::BadLength {
                name: "Actual-Data-Rate-Upstream",
                len: 7
            })
        );
        let mut hidden = line().to_avps();
        hidden[0].hidden = true;
        assert_eq!(
            AccessLine::from_avps(&hidden),
            Err(AccessLineError::Hidden("Agent-Circuit-Id"))
        );
        // Other vendors' AVPs are not ours to read.
        let mut other = avp(attr::AGENT_CIRCUIT_ID, b"x".to_vec());
        other.vendor = 9;
        assert!(AccessLine::from_avps(&[other]).unwrap().is_empty());
    }
}
