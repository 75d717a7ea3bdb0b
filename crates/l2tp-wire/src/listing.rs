//! A generic, best-effort listing of a control message's AVPs for tools (the `l2tpctl
//! decode` command, tests comparing with Wireshark): every AVP in order, unhidden when a
//! secret is given, with a human-readable value. The state machine uses
//! [`crate::ControlMessage`] instead.

use crate::access_line::{attr_name, VENDOR_BROADBAND_FORUM};
use crate::avp::{AvpIter, AvpType, VENDOR_IETF};
use crate::error::DecodeError;
use crate::hidden::unhide;
use crate::message::MessageType;
use crate::result::ResultCode;
use crate::values::{
    Accm, AvpValue, BearerCapabilities, CallErrors, FramingCapabilities, ProtocolVersion,
    ProxyAuthenType, Q931Cause,
};

/// One AVP of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAvp {
    /// M bit.
    pub mandatory: bool,
    /// H bit as received.
    pub hidden: bool,
    /// True when the AVP was hidden and could not be unhidden (no secret, no Random Vector,
    /// or a wrong secret): `value` is then the hidden bytes.
    pub still_hidden: bool,
    /// Vendor ID.
    pub vendor: u16,
    /// Attribute type.
    pub attr: AvpType,
    /// Value bytes (unhidden when possible).
    pub value: Vec<u8>,
}

/// Lists the AVPs of a control message's AVP area. Fails only when the AVP framing is broken.
pub fn list_avps(avp_bytes: &[u8], secret: Option<&[u8]>) -> Result<Vec<ListedAvp>, DecodeError> {
    let mut out = Vec::new();
    let mut rv: Option<&[u8]> = None;
    for raw in AvpIter::new(avp_bytes) {
        let raw = raw?;
        let ietf = raw.vendor == VENDOR_IETF && raw.reserved == 0;
        if ietf && raw.attr == AvpType::RANDOM_VECTOR && !raw.hidden {
            rv = Some(raw.value);
        }
        let unhidden = match (raw.hidden && ietf, secret, rv) {
            (true, Some(s), Some(v)) => unhide(raw.attr, s, v, raw.value).ok(),
            _ => None,
        };
        out.push(ListedAvp {
            mandatory: raw.mandatory,
            hidden: raw.hidden,
            still_hidden: raw.hidden && unhidden.is_none(),
            vendor: raw.vendor,
            attr: raw.attr,
            value: unhidden.unwrap_or_else(|| raw.value.to_vec()),
        });
    }
    Ok(out)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn typed<T: AvpValue>(attr: AvpType, v: &[u8], show: impl Fn(T) -> String) -> String {
    match T::decode_value(attr, v) {
        Ok(t) => show(t),
        Err(_) => format!("<invalid {} bytes: {}>", v.len(), to_hex(v)),
    }
}

impl ListedAvp {
    /// The AVP's name: the RFC 2661 name for IETF attributes, `vendor V attr A` otherwise.
    pub fn name(&self) -> String {
        match (self.vendor, self.attr.name()) {
            (VENDOR_IETF, Some(n)) => n.to_owned(),
            (VENDOR_BROADBAND_FORUM, _) if attr_name(self.attr).is_some() => {
                format!("{} (BBF)", attr_name(self.attr).unwrap_or_default())
            }
            (v, _) => format!("vendor {v} attr {}", self.attr.0),
        }
    }

    /// The value rendered for people: numbers, quoted strings, flags, or hex.
    pub fn value_string(&self) -> String {
        let v = &self.value[..];
        let a = self.attr;
        if self.still_hidden {
            return format!("<hidden {} bytes>", v.len());
        }
        if self.vendor == VENDOR_BROADBAND_FORUM {
            return match a.0 {
                1 | 2 => text(v),
                129..=142 => match <[u8; 8]>::try_from(v) {
                    Ok(b) => u64::from_be_bytes(b).to_string(),
                    Err(_) => format!("<invalid {} bytes: {}>", v.len(), to_hex(v)),
                },
                _ => to_hex(v),
            };
        }
        if self.vendor != VENDOR_IETF || !a.is_known() {
            return to_hex(v);
        }
        match a {
            AvpType::MESSAGE_TYPE => typed(a, v, |m: MessageType| m.to_string()),
            AvpType::RESULT_CODE => typed(a, v, |r: ResultCode| r.to_string()),
            AvpType::PROTOCOL_VERSION => typed(a, v, |p: ProtocolVersion| p.to_string()),
            AvpType::FRAMING_CAPABILITIES | AvpType::FRAMING_TYPE => {
                typed(a, v, |f: FramingCapabilities| f.to_string())
            }
            AvpType::BEARER_CAPABILITIES | AvpType::BEARER_TYPE => {
                typed(a, v, |b: BearerCapabilities| b.to_string())
            }
            AvpType::FIRMWARE_REVISION => typed(a, v, |n: u16| format!("{n:#06x}")),
            AvpType::RECEIVE_WINDOW_SIZE
            | AvpType::ASSIGNED_TUNNEL_ID
            | AvpType::ASSIGNED_SESSION_ID
            | AvpType::PROXY_AUTHEN_ID => typed(a, v, |n: u16| n.to_string()),
            AvpType::CALL_SERIAL_NUMBER
            | AvpType::MINIMUM_BPS
            | AvpType::MAXIMUM_BPS
            | AvpType::TX_CONNECT_SPEED
            | AvpType::RX_CONNECT_SPEED
            | AvpType::PHYSICAL_CHANNEL_ID => typed(a, v, |n: u32| n.to_string()),
            AvpType::HOST_NAME
            | AvpType::VENDOR_NAME
            | AvpType::CALLED_NUMBER
            | AvpType::CALLING_NUMBER
            | AvpType::SUB_ADDRESS
            | AvpType::PROXY_AUTHEN_NAME => text(v),
            AvpType::Q931_CAUSE_CODE => typed(a, v, |q: Q931Cause| q.to_string()),
            AvpType::CALL_ERRORS => typed(a, v, |c: CallErrors| c.to_string()),
            AvpType::ACCM => typed(a, v, |c: Accm| c.to_string()),
            AvpType::PROXY_AUTHEN_TYPE => typed(a, v, |p: ProxyAuthenType| p.to_string()),
            AvpType::SEQUENCING_REQUIRED => String::new(),
            _ => to_hex(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_values_readably() {
        let bytes = [
            0x80, 0x08, 0, 0, 0, 0, 0, 1, // Message Type SCCRQ
            0x80, 0x09, 0, 0, 0, 7, b'l', b'a', b'c', // Host Name
            0x00, 0x08, 0, 0, 0, 6, 0x05, 0x00, // Firmware Revision
            0x00, 0x07, 0x01, 0x37, 0, 1, 0xab, // vendor 311
            0x00, 0x08, 0x0d, 0xe9, 0, 2, b'c', b'7', // Agent-Remote-Id
            0x00, 0x0e, 0x0d, 0xe9, 0, 130, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, // rate down
        ];
        let l = list_avps(&bytes, None).unwrap();
        let shown: Vec<_> = l.iter().map(|a| (a.name(), a.value_string())).collect();
        assert_eq!(
            shown,
            [
                ("Message Type".to_owned(), "SCCRQ".to_owned()),
                ("Host Name".to_owned(), "\"lac\"".to_owned()),
                ("Firmware Revision".to_owned(), "0x0500".to_owned()),
                ("vendor 311 attr 1".to_owned(), "ab".to_owned()),
                ("Agent-Remote-Id (BBF)".to_owned(), "\"c7\"".to_owned()),
                (
                    "Actual-Data-Rate-Downstream (BBF)".to_owned(),
                    "1000000".to_owned()
                ),
            ]
        );
    }
}
