//! Names of PPP protocols and control-protocol codes, for the one-line summary of a data
//! message (RFC 1661 §2, §5; RFC 1334; RFC 1994; RFC 1332; RFC 5072).

/// Splits a PPP frame as carried in L2TP: optional FF 03 address/control (ACFC may drop
/// it), then a 1- or 2-byte protocol field (PFC). Returns the protocol and the information.
pub fn split(frame: &[u8]) -> Option<(u16, &[u8])> {
    let f = frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame);
    let first = *f.first()?;
    if first & 1 == 1 {
        Some((u16::from(first), &f[1..]))
    } else {
        Some((u16::from_be_bytes([first, *f.get(1)?]), f.get(2..)?))
    }
}

/// Protocol name.
pub fn protocol_name(p: u16) -> Option<&'static str> {
    Some(match p {
        0x0021 => "IPv4",
        0x0057 => "IPv6",
        0x003d => "MP",
        0x00fd => "CCP-data",
        0x8021 => "IPCP",
        0x8057 => "IPv6CP",
        0x80fd => "CCP",
        0xc021 => "LCP",
        0xc023 => "PAP",
        0xc025 => "LQR",
        0xc223 => "CHAP",
        0xc227 => "EAP",
        _ => return None,
    })
}

/// Name of the code of a control/authentication packet of protocol `p`.
pub fn code_name(p: u16, code: u8) -> Option<&'static str> {
    match p {
        0xc023 => [
            "Authenticate-Request",
            "Authenticate-Ack",
            "Authenticate-Nak",
        ]
        .get(usize::from(code).checked_sub(1)?)
        .copied(),
        0xc223 => ["Challenge", "Response", "Success", "Failure"]
            .get(usize::from(code).checked_sub(1)?)
            .copied(),
        0xc021 | 0x8021 | 0x8057 | 0x80fd => [
            "Configure-Request",
            "Configure-Ack",
            "Configure-Nak",
            "Configure-Reject",
            "Terminate-Request",
            "Terminate-Ack",
            "Code-Reject",
            "Protocol-Reject",
            "Echo-Request",
            "Echo-Reply",
            "Discard-Request",
        ]
        .get(usize::from(code).checked_sub(1)?)
        .copied()
        // Protocol-Reject and the Echo/Discard codes exist only in LCP; CCP adds 14/15.
        .filter(|_| p == 0xc021 || code <= 7),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_and_without_compression() {
        assert_eq!(
            split(&[0xff, 0x03, 0xc0, 0x21, 1]),
            Some((0xc021, &[1u8][..]))
        );
        assert_eq!(split(&[0x80, 0x21, 1]), Some((0x8021, &[1u8][..])));
        assert_eq!(split(&[0x21, 0x45]), Some((0x0021, &[0x45u8][..])));
        assert_eq!(split(&[0xff, 0x03]), None);
        assert_eq!(code_name(0xc021, 9), Some("Echo-Request"));
        assert_eq!(code_name(0x8021, 9), None);
        assert_eq!(code_name(0xc223, 2), Some("Response"));
        assert_eq!(code_name(0xc021, 0), None);
    }
}
