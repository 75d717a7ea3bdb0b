//! The Vendor-Specific TAG (RFC 2516 Appendix A) and the Broadband Forum TR-101 sub-options
//! a PPPoE intermediate agent (the DSLAM or OLT) adds to PADI and PADR: Agent-Circuit-Id
//! (which port the subscriber is on) and Agent-Remote-Id (who the subscriber is), and line
//! characteristics.
//!
//! RFC 2516: "The first four octets of the TAG_VALUE contain the vendor id and the remaining
//! octets are unspecified. The high-order octet of the vendor id is 0 and the low-order 3
//! octets are the SMI Network Management Private Enterprise Code of the Vendor". TR-101 uses
//! the Broadband Forum's code 3561 followed by sub-options of one octet type, one octet
//! length, and the value.

use crate::error::DecodeError;

/// IANA enterprise number of the Broadband Forum (formerly ADSL / DSL Forum).
pub const VENDOR_BROADBAND_FORUM: u32 = 3561;
/// Sub-option 0x01: Agent-Circuit-Id.
pub const SUB_AGENT_CIRCUIT_ID: u8 = 0x01;
/// Sub-option 0x02: Agent-Remote-Id.
pub const SUB_AGENT_REMOTE_ID: u8 = 0x02;
/// Sub-option 0x81: Actual-Data-Rate-Upstream (4 octets).
pub const SUB_ACTUAL_DATA_RATE_UP: u8 = 0x81;
/// Sub-option 0x82: Actual-Data-Rate-Downstream (4 octets).
pub const SUB_ACTUAL_DATA_RATE_DOWN: u8 = 0x82;

/// A Vendor-Specific TAG: vendor id and the rest of the value, kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VendorTag {
    /// The 4-octet vendor id.
    pub vendor_id: u32,
    /// The octets after the vendor id.
    pub data: Vec<u8>,
}

impl VendorTag {
    /// Splits a TAG_VALUE; `None` when it is shorter than the vendor id.
    pub fn decode(value: &[u8]) -> Option<VendorTag> {
        let (id, data) = value.split_first_chunk::<4>()?;
        Some(VendorTag {
            vendor_id: u32::from_be_bytes(*id),
            data: data.to_vec(),
        })
    }

    /// Appends the TAG_VALUE.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.vendor_id.to_be_bytes());
        out.extend_from_slice(&self.data);
    }

    /// The TR-101 sub-options when this is the Broadband Forum's tag; `None` for other
    /// vendors.
    pub fn access_line(&self) -> Option<Result<AccessLine, DecodeError>> {
        (self.vendor_id == VENDOR_BROADBAND_FORUM).then(|| AccessLine::decode(&self.data))
    }
}

/// One TR-101 sub-option.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SubOption {
    /// Sub-option type.
    pub code: u8,
    /// Its value.
    pub value: Vec<u8>,
}

/// The TR-101 access-line information of one Vendor-Specific TAG, sub-options in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct AccessLine {
    /// Every sub-option, in the order received.
    pub sub_options: Vec<SubOption>,
}

impl AccessLine {
    /// Circuit and remote id (either may be absent).
    pub fn new(circuit_id: Option<&[u8]>, remote_id: Option<&[u8]>) -> AccessLine {
        let mut sub_options = Vec::new();
        for (code, v) in [
            (SUB_AGENT_CIRCUIT_ID, circuit_id),
            (SUB_AGENT_REMOTE_ID, remote_id),
        ] {
            if let Some(v) = v {
                sub_options.push(SubOption {
                    code,
                    value: v.to_vec(),
                });
            }
        }
        AccessLine { sub_options }
    }

    /// Parses the sub-options after the vendor id.
    pub fn decode(data: &[u8]) -> Result<AccessLine, DecodeError> {
        let mut sub_options = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let Some(&[code, len]) = data.get(pos..pos + 2) else {
                return Err(DecodeError::BadTagLength {
                    tag_type: 0x0105,
                    length: data.len() + 4,
                });
            };
            let Some(value) = data.get(pos + 2..pos + 2 + usize::from(len)) else {
                return Err(DecodeError::BadTagLength {
                    tag_type: 0x0105,
                    length: data.len() + 4,
                });
            };
            sub_options.push(SubOption {
                code,
                value: value.to_vec(),
            });
            pos += 2 + usize::from(len);
        }
        Ok(AccessLine { sub_options })
    }

    /// The Vendor-Specific TAG carrying these sub-options (values longer than 255 octets
    /// are cut: the length is one octet).
    pub fn to_vendor_tag(&self) -> VendorTag {
        let mut data = Vec::new();
        for s in &self.sub_options {
            let v = &s.value[..s.value.len().min(255)];
            data.push(s.code);
            data.push(v.len() as u8);
            data.extend_from_slice(v);
        }
        VendorTag {
            vendor_id: VENDOR_BROADBAND_FORUM,
            data,
        }
    }

    /// The value of the first sub-option `code`.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.sub_options
            .iter()
            .find(|s| s.code == code)
            .map(|s| &s.value[..])
    }

    /// Agent-Circuit-Id.
    pub fn circuit_id(&self) -> Option<&[u8]> {
        self.get(SUB_AGENT_CIRCUIT_ID)
    }

    /// Agent-Remote-Id.
    pub fn remote_id(&self) -> Option<&[u8]> {
        self.get(SUB_AGENT_REMOTE_ID)
    }

    /// A 4-octet rate sub-option (0x81..=0x8e) as sent by the agent.
    pub fn rate(&self, code: u8) -> Option<u32> {
        let v: [u8; 4] = self.get(code)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tr101_sub_options_parse_and_rebuild() {
        // A DSLAM's tag: circuit id, remote id, actual upstream rate.
        let mut v = 3561u32.to_be_bytes().to_vec();
        v.extend_from_slice(&[1, 11]);
        v.extend_from_slice(b"dslam1 1/12");
        v.extend_from_slice(&[2, 5]);
        v.extend_from_slice(b"cust7");
        v.extend_from_slice(&[0x81, 4, 0, 0, 0x03, 0xe8]);
        let t = VendorTag::decode(&v).unwrap();
        let al = t.access_line().unwrap().unwrap();
        assert_eq!(al.circuit_id(), Some(&b"dslam1 1/12"[..]));
        assert_eq!(al.remote_id(), Some(&b"cust7"[..]));
        assert_eq!(al.rate(SUB_ACTUAL_DATA_RATE_UP), Some(1000));
        assert_eq!(al.to_vendor_tag(), t);
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out, v);
    }

    #[test]
    fn other_vendors_and_broken_sub_options() {
        let t = VendorTag::decode(&[0, 0, 0, 9, 1, 2]).unwrap();
        assert!(t.access_line().is_none());
        assert!(VendorTag::decode(&[0, 0, 0]).is_none());
        let t = VendorTag::decode(&[0, 0, 0x0d, 0xe9, 1, 5, b'a']).unwrap();
        assert!(matches!(
            t.access_line(),
            Some(Err(DecodeError::BadTagLength { .. }))
        ));
    }
}
