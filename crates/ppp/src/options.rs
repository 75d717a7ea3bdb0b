//! Configuration option codec (RFC 1661 §6): Type, Length, Data triples.
//!
//! Decoding validates the whole list first, so a Configure-Request with an option length that
//! overruns the packet is discarded as a unit (counted, no reply) rather than half-processed.

use crate::error::DecodeError;

/// One option as received, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Option type.
    pub kind: u8,
    /// Data after Type and Length.
    pub data: &'a [u8],
}

impl RawOption<'_> {
    /// The data as a big-endian u16 when it is exactly 2 octets.
    pub fn u16(&self) -> Option<u16> {
        <[u8; 2]>::try_from(self.data).ok().map(u16::from_be_bytes)
    }

    /// The data as a big-endian u32 when it is exactly 4 octets.
    pub fn u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.data).ok().map(u32::from_be_bytes)
    }

    /// Append this option, re-encoded, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        push(out, self.kind, self.data);
    }
}

/// Decode a full option list. Errors if any option has Length < 2 or runs past the end.
pub fn decode(mut buf: &[u8]) -> Result<Vec<RawOption<'_>>, DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let [kind, len, ..] = *buf else {
            return Err(DecodeError::BadOptionLength {
                kind: buf[0],
                len: 0,
            });
        };
        if len < 2 {
            return Err(DecodeError::BadOptionLength { kind, len });
        }
        let Some(data) = buf.get(2..usize::from(len)) else {
            return Err(DecodeError::OptionOverrun { kind, len });
        };
        out.push(RawOption { kind, data });
        buf = &buf[usize::from(len)..];
    }
    Ok(out)
}

/// Append one option. Data longer than 253 octets is truncated (never built by this crate).
pub fn push(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    let data = &data[..data.len().min(253)];
    out.push(kind);
    out.push(data.len() as u8 + 2);
    out.extend_from_slice(data);
}

/// Encode a list of options.
pub fn encode(opts: &[RawOption<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in opts {
        o.encode_into(&mut out);
    }
    out
}

/// The response a protocol's policy builds for a peer's Configure-Request (RFC 1661 §5.1–5.4):
/// options are sorted into reject (unrecognised/unacceptable), nak (acceptable with other
/// values) and ack; Reject wins over Nak, Nak over Ack.
#[derive(Debug, Default)]
pub struct Reply {
    /// Options to Configure-Reject, verbatim.
    pub reject: Vec<u8>,
    /// Options to Configure-Nak, with our suggested values.
    pub nak: Vec<u8>,
}

impl Reply {
    /// Reject this option (copied verbatim, RFC 1661 §5.4).
    pub fn reject(&mut self, opt: &RawOption<'_>) {
        opt.encode_into(&mut self.reject);
    }

    /// Nak this option, suggesting `data`.
    pub fn nak(&mut self, kind: u8, data: &[u8]) {
        push(&mut self.nak, kind, data);
    }

    /// The verdict.
    pub fn verdict(self) -> Verdict {
        if !self.reject.is_empty() {
            Verdict::Reject(self.reject)
        } else if !self.nak.is_empty() {
            Verdict::Nak(self.nak)
        } else {
            Verdict::Ack
        }
    }
}

/// How to answer a Configure-Request (RCR+ is `Ack`, RCR- the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every option acceptable: Configure-Ack echoing the request.
    Ack,
    /// Configure-Nak with these options.
    Nak(Vec<u8>),
    /// Configure-Reject with these options.
    Reject(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_errors() {
        let opts = decode(&[1, 4, 5, 0xdc, 7, 2]).unwrap();
        assert_eq!(opts.len(), 2);
        assert_eq!(opts[0].u16(), Some(1500));
        assert_eq!(opts[1].data, &[] as &[u8]);
        assert_eq!(encode(&opts), [1, 4, 5, 0xdc, 7, 2]);
        assert_eq!(
            decode(&[1]),
            Err(DecodeError::BadOptionLength { kind: 1, len: 0 })
        );
        assert_eq!(
            decode(&[1, 1]),
            Err(DecodeError::BadOptionLength { kind: 1, len: 1 })
        );
        assert_eq!(
            decode(&[1, 9, 0]),
            Err(DecodeError::OptionOverrun { kind: 1, len: 9 })
        );
    }
}
