//! PPP frames as carried in L2TP (RFC 2661 §3.1, RFC 1662 §3, RFC 1661 §2, §6.5–6.6).
//!
//! L2TP carries PPP frames without HDLC flags, FCS or byte stuffing, so ACCM does not apply;
//! what remains is the optional FF 03 address/control field (omitted by peers that negotiated
//! ACFC, e.g. Windows) and the protocol field (one octet when PFC was negotiated).
//! [`classify`] is the datapath's fast path: it never allocates and never touches state.

use crate::error::FrameError;

/// A PPP protocol number (open enum; RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Protocol(pub u16);

impl Protocol {
    /// Internet Protocol version 4.
    pub const IPV4: Protocol = Protocol(0x0021);
    /// Internet Protocol version 6.
    pub const IPV6: Protocol = Protocol(0x0057);
    /// IP Control Protocol (RFC 1332).
    pub const IPCP: Protocol = Protocol(0x8021);
    /// IPv6 Control Protocol (RFC 5072).
    pub const IPV6CP: Protocol = Protocol(0x8057);
    /// Link Control Protocol (RFC 1661).
    pub const LCP: Protocol = Protocol(0xc021);
    /// Password Authentication Protocol (RFC 1334).
    pub const PAP: Protocol = Protocol(0xc023);
    /// Challenge Handshake Authentication Protocol (RFC 1994; MS-CHAPv2 RFC 2759).
    pub const CHAP: Protocol = Protocol(0xc223);

    /// True for protocols the daemon must hand to [`crate::Link::handle_frame`] (everything
    /// except IPv4/IPv6 data).
    pub fn is_control(self) -> bool {
        self != Protocol::IPV4 && self != Protocol::IPV6
    }

    /// A short human name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::IPV4 => "IPv4",
            Protocol::IPV6 => "IPv6",
            Protocol::IPCP => "IPCP",
            Protocol::IPV6CP => "IPv6CP",
            Protocol::LCP => "LCP",
            Protocol::PAP => "PAP",
            Protocol::CHAP => "CHAP",
            _ => "unknown",
        }
    }
}

/// RFC 1662 §3.1: All-Stations address and Unnumbered Information control field.
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

/// Split one PPP frame into protocol and payload.
///
/// RFC 1662 §3.2 / RFC 1661 §6.6: if the first two octets are FF 03 they are the
/// address/control field and are skipped, otherwise they were compressed away (ACFC).
/// RFC 1661 §6.5: a protocol field whose first octet is odd is a single compressed octet.
///
/// ```
/// use ppp::{classify, Protocol};
/// let (p, payload) = classify(&[0xff, 0x03, 0x00, 0x21, 0x45]).unwrap();
/// assert_eq!((p, payload), (Protocol::IPV4, &[0x45][..]));
/// let (p, _) = classify(&[0x21, 0x45]).unwrap(); // ACFC + PFC, as Windows sends
/// assert_eq!(p, Protocol::IPV4);
/// ```
pub fn classify(frame: &[u8]) -> Result<(Protocol, &[u8]), FrameError> {
    let rest = match frame {
        [0xff, 0x03, rest @ ..] => rest,
        _ => frame,
    };
    match rest {
        [] => Err(FrameError::Truncated),
        // RFC 1661 §6.5: compressed (odd first octet) protocol field.
        [p, payload @ ..] if p & 1 == 1 => Ok((Protocol(u16::from(*p)), payload)),
        [_] => Err(FrameError::Truncated),
        [hi, lo, payload @ ..] => {
            let proto = u16::from_be_bytes([*hi, *lo]);
            // RFC 1661 §2: low octet odd (end of field), high octet even.
            if lo & 1 == 0 {
                Err(FrameError::BadProtocol(proto))
            } else {
                Ok((Protocol(proto), payload))
            }
        }
    }
}

/// The header bytes to put before a payload of `proto`, for zero-copy encapsulation.
///
/// With `acfc` false this is `FF 03 hi lo`; with `acfc` true (the peer agreed to ACFC) only
/// the two protocol octets. Protocols other than IPv4, IPv6 and the control protocols
/// known to this crate get an empty slice: use [`encapsulate`] for those.
pub fn ip_frame_header(proto: Protocol, acfc: bool) -> &'static [u8] {
    const V4: [u8; 4] = [0xff, 0x03, 0x00, 0x21];
    const V6: [u8; 4] = [0xff, 0x03, 0x00, 0x57];
    let full: &'static [u8; 4] = match proto {
        Protocol::IPV4 => &V4,
        Protocol::IPV6 => &V6,
        _ => return &[],
    };
    if acfc {
        &full[2..]
    } else {
        &full[..]
    }
}

/// Append a full uncompressed frame (`FF 03`, 2-octet protocol, payload) to `out`.
///
/// RFC 1661 §6.6: LCP packets are always sent uncompressed; we send every frame that way,
/// which a peer must always accept.
pub fn encapsulate(proto: Protocol, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(4 + payload.len());
    out.extend_from_slice(&ADDRESS_CONTROL);
    out.extend_from_slice(&proto.0.to_be_bytes());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_forms() {
        assert_eq!(
            classify(&[0xff, 0x03, 0xc0, 0x21, 1, 2]),
            Ok((Protocol::LCP, &[1u8, 2][..]))
        );
        assert_eq!(classify(&[0xc0, 0x21, 1]), Ok((Protocol::LCP, &[1u8][..])));
        assert_eq!(classify(&[0x57, 9]), Ok((Protocol::IPV6, &[9u8][..])));
        assert_eq!(classify(&[]), Err(FrameError::Truncated));
        assert_eq!(classify(&[0xff, 0x03]), Err(FrameError::Truncated));
        assert_eq!(classify(&[0xc0]), Err(FrameError::Truncated));
        assert_eq!(
            classify(&[0xc0, 0x20]),
            Err(FrameError::BadProtocol(0xc020))
        );
    }

    #[test]
    fn headers_round_trip() {
        for acfc in [false, true] {
            for p in [Protocol::IPV4, Protocol::IPV6] {
                let mut f = ip_frame_header(p, acfc).to_vec();
                f.push(0x45);
                assert_eq!(classify(&f), Ok((p, &[0x45u8][..])));
            }
        }
        let mut out = Vec::new();
        encapsulate(Protocol::IPCP, &[1], &mut out);
        assert_eq!(out, [0xff, 0x03, 0x80, 0x21, 1]);
    }
}
