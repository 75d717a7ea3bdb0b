//! The hot-path view of a data message header: parsed in place, in registers, for the common
//! case (T = 0, version 2), with exactly the acceptance rules of [`l2tp_wire::Header::decode`]
//! (RFC 2661 §3.1: the Length field, when present, equals the datagram length; the offset
//! padding fits). Anything else (control messages, errors) returns `None` and goes through
//! the full decoder, which says precisely what is wrong. A property test checks that both
//! agree on every input.

use l2tp_wire::header::{FLAG_LENGTH, FLAG_OFFSET, FLAG_PRIORITY, FLAG_SEQUENCE, FLAG_TYPE};
use l2tp_wire::{Decoded, SeqNum, Sequence};

/// Where things are in a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataView {
    /// Tunnel id << 16 | session id, as in the header (the table key).
    pub(crate) key: u32,
    /// Ns/Nr when the S bit is set.
    pub(crate) seq: Option<Sequence>,
    /// First byte of the PPP frame.
    pub(crate) start: usize,
    /// One past its last byte.
    pub(crate) end: usize,
    /// P bit.
    pub(crate) priority: bool,
}

impl DataView {
    /// The same view from a full decode.
    pub(crate) fn from_decoded(d: &Decoded<'_>) -> DataView {
        DataView {
            key: (u32::from(d.header.tunnel_id.0) << 16) | u32::from(d.header.session_id.0),
            seq: d.header.sequence,
            start: d.payload_start,
            end: d.payload_start + d.payload.len(),
            priority: d.header.priority,
        }
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Parses a well-formed L2TPv2 data message header; `None` for anything else.
#[inline]
pub(crate) fn parse_data(d: &[u8]) -> Option<DataView> {
    let flags = be16(d, 0)?;
    // T = 0 and Ver = 2.
    if flags & (FLAG_TYPE | 0x000f) != 2 {
        return None;
    }
    let mut pos = 2;
    if flags & FLAG_LENGTH != 0 {
        if usize::from(be16(d, 2)?) != d.len() {
            return None;
        }
        pos = 4;
    }
    let t = be16(d, pos)?;
    let s = be16(d, pos + 2)?;
    pos += 4;
    let seq = if flags & FLAG_SEQUENCE != 0 {
        let ns = be16(d, pos)?;
        let nr = be16(d, pos + 2)?;
        pos += 4;
        Some(Sequence {
            ns: SeqNum(ns),
            nr: SeqNum(nr),
        })
    } else {
        None
    };
    if flags & FLAG_OFFSET != 0 {
        let off = usize::from(be16(d, pos)?);
        pos += 2 + off;
        if pos > d.len() {
            return None;
        }
    }
    Some(DataView {
        key: (u32::from(t) << 16) | u32::from(s),
        seq,
        start: pos,
        end: d.len(),
        priority: flags & FLAG_PRIORITY != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_wire::Header;
    use proptest::prelude::*;

    fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
        let fast = parse_data(bytes);
        match Header::decode(bytes) {
            Ok(d) if !d.header.is_control() => {
                prop_assert_eq!(fast, Some(DataView::from_decoded(&d)));
            }
            _ => prop_assert_eq!(fast, None),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_the_full_decoder_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            agree(&bytes)?;
        }

        #[test]
        fn agrees_on_plausible_data_headers(
            flags in prop_oneof![Just(0x0002u16), Just(0x4002), Just(0x0802), Just(0x0202),
                Just(0x4b02), Just(0x4f02), Just(0x0b02), Just(0x0102), any::<u16>()],
            len_delta in -2i32..3,
            tail in prop::collection::vec(any::<u8>(), 0..30),
        ) {
            let mut v = flags.to_be_bytes().to_vec();
            let total = (2 + tail.len() as i32 + if flags & FLAG_LENGTH != 0 { 2 } else { 0 } + len_delta).max(0);
            if flags & FLAG_LENGTH != 0 {
                v.extend_from_slice(&(total as u16).to_be_bytes());
            }
            v.extend_from_slice(&tail);
            agree(&v)?;
        }
    }
}
