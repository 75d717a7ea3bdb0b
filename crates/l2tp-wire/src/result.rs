//! Result Code AVP (RFC 2661 §4.4.2): why a tunnel (StopCCN) or call (CDN) is being torn
//! down, with the defined result and general error codes as named constants.

use std::fmt;

use crate::avp::AvpType;
use crate::error::DecodeError;
use crate::values::AvpValue;

/// Result Code AVP value: result code, optional error code, optional human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ResultCode {
    /// Result code (meaning depends on StopCCN vs CDN, see the constants).
    pub result: u16,
    /// General error code (see `ERROR_*`), present when the AVP carries it.
    pub error: Option<u16>,
    /// Error message (UTF-8 per the RFC; invalid bytes are replaced on decode). Encoded only
    /// when `error` is present, as the format requires.
    pub message: Option<String>,
}

impl ResultCode {
    /// StopCCN 1: General request to clear control connection.
    pub const STOPCCN_GENERAL_REQUEST: u16 = 1;
    /// StopCCN 2: General error, Error Code indicates the problem.
    pub const STOPCCN_GENERAL_ERROR: u16 = 2;
    /// StopCCN 3: Control channel already exists.
    pub const STOPCCN_ALREADY_EXISTS: u16 = 3;
    /// StopCCN 4: Requester is not authorized to establish a control channel.
    pub const STOPCCN_NOT_AUTHORIZED: u16 = 4;
    /// StopCCN 5: Protocol version not supported (Error Code = highest version supported).
    pub const STOPCCN_BAD_PROTOCOL_VERSION: u16 = 5;
    /// StopCCN 6: Requester is being shut down.
    pub const STOPCCN_SHUTTING_DOWN: u16 = 6;
    /// StopCCN 7: Finite State Machine error.
    pub const STOPCCN_FSM_ERROR: u16 = 7;

    /// CDN 1: Call disconnected due to loss of carrier.
    pub const CDN_LOST_CARRIER: u16 = 1;
    /// CDN 2: Call disconnected for the reason indicated in error code.
    pub const CDN_GENERAL_ERROR: u16 = 2;
    /// CDN 3: Call disconnected for administrative reasons.
    pub const CDN_ADMINISTRATIVE: u16 = 3;
    /// CDN 4: Lack of appropriate facilities (temporary).
    pub const CDN_NO_FACILITIES_TEMPORARY: u16 = 4;
    /// CDN 5: Lack of appropriate facilities (permanent).
    pub const CDN_NO_FACILITIES_PERMANENT: u16 = 5;
    /// CDN 6: Invalid destination.
    pub const CDN_INVALID_DESTINATION: u16 = 6;
    /// CDN 7: No carrier detected.
    pub const CDN_NO_CARRIER: u16 = 7;
    /// CDN 8: Busy signal.
    pub const CDN_BUSY: u16 = 8;
    /// CDN 9: No dial tone.
    pub const CDN_NO_DIAL_TONE: u16 = 9;
    /// CDN 10: Call not established within the time allotted by the LAC.
    pub const CDN_TIMEOUT: u16 = 10;
    /// CDN 11: Connected but no appropriate framing detected.
    pub const CDN_NO_FRAMING: u16 = 11;

    /// General error 0: No general error.
    pub const ERROR_NONE: u16 = 0;
    /// General error 1: No control connection exists yet for this LAC-LNS pair.
    pub const ERROR_NO_CONTROL_CONNECTION: u16 = 1;
    /// General error 2: Length is wrong.
    pub const ERROR_BAD_LENGTH: u16 = 2;
    /// General error 3: A field value was out of range or a reserved field was non-zero.
    pub const ERROR_BAD_VALUE: u16 = 3;
    /// General error 4: Insufficient resources to handle this operation now.
    pub const ERROR_NO_RESOURCES: u16 = 4;
    /// General error 5: The Session ID is invalid in this context.
    pub const ERROR_INVALID_SESSION_ID: u16 = 5;
    /// General error 6: A generic vendor-specific error occurred in the LAC.
    pub const ERROR_VENDOR_SPECIFIC: u16 = 6;
    /// General error 7: Try another LNS.
    pub const ERROR_TRY_ANOTHER: u16 = 7;
    /// General error 8: Shut down due to an unknown AVP with the M bit set.
    pub const ERROR_UNKNOWN_MANDATORY_AVP: u16 = 8;

    /// A result code with neither error code nor message.
    pub const fn new(result: u16) -> Self {
        ResultCode {
            result,
            error: None,
            message: None,
        }
    }

    /// A result code with a general error code and an optional message.
    pub fn with_error(result: u16, error: u16, message: Option<&str>) -> Self {
        ResultCode {
            result,
            error: Some(error),
            message: message.map(str::to_owned),
        }
    }
}

impl ResultCode {
    /// What a CDN result code means, in RFC 2661 §4.4.2's words.
    pub fn cdn_meaning(result: u16) -> Option<&'static str> {
        Some(match result {
            0 => "reserved",
            1 => "loss of carrier",
            2 => "general error",
            3 => "administrative reasons",
            4 => "temporary lack of facilities",
            5 => "permanent lack of facilities",
            6 => "invalid destination",
            7 => "no carrier detected",
            8 => "busy signal",
            9 => "no dial tone",
            10 => "call not established in time",
            11 => "no framing detected",
            _ => return None,
        })
    }

    /// What a StopCCN result code means, in RFC 2661 §4.4.2's words.
    pub fn stopccn_meaning(result: u16) -> Option<&'static str> {
        Some(match result {
            0 => "reserved",
            1 => "general request to clear the control connection",
            2 => "general error",
            3 => "control channel already exists",
            4 => "requester not authorized",
            5 => "protocol version not supported",
            6 => "requester is being shut down",
            7 => "finite state machine error",
            _ => return None,
        })
    }

    /// What a general error code means, in RFC 2661 §4.4.2's words.
    pub fn error_meaning(error: u16) -> Option<&'static str> {
        Some(match error {
            0 => "no general error",
            1 => "no control connection yet",
            2 => "length is wrong",
            3 => "field value out of range",
            4 => "insufficient resources",
            5 => "invalid session id",
            6 => "vendor-specific error",
            7 => "try another LNS",
            8 => "unknown mandatory AVP",
            _ => return None,
        })
    }

    /// The Result Code of a CDN in words: the sender's message when it gave one, then what
    /// the codes mean, e.g. `PPP keepalive timed out (result 1: loss of carrier)`.
    pub fn describe_cdn(&self) -> String {
        self.describe(Self::cdn_meaning(self.result))
    }

    /// The Result Code of a StopCCN in words, like [`Self::describe_cdn`].
    pub fn describe_stopccn(&self) -> String {
        self.describe(Self::stopccn_meaning(self.result))
    }

    fn describe(&self, meaning: Option<&str>) -> String {
        let meaning = meaning.unwrap_or("unknown result code");
        let mut codes = format!("result {}: {meaning}", self.result);
        if let Some(e) = self.error.filter(|e| *e != Self::ERROR_NONE) {
            let em = Self::error_meaning(e).unwrap_or("unknown error code");
            codes.push_str(&format!(", error {e}: {em}"));
        }
        // The message comes from the peer: control characters never reach a log line.
        let message: Option<String> = self
            .message
            .as_deref()
            .map(|m| {
                m.trim()
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect()
            })
            .filter(|m: &String| !m.is_empty());
        match message {
            Some(m) => format!("{m} ({codes})"),
            None => codes,
        }
    }
}

impl AvpValue for ResultCode {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        // RFC 2661 §4.4.2: "The Length is 8 if there is no Error Code or Message, 10 if there
        // is an Error Code and no Error Message or 10 + the length of the Error Message".
        //
        // Leniency (docs/wire-leniency.md, "Result Code"): some MikroTik versions send one
        // octet too many or too few for that rule. A 3-byte value is read as result + one
        // stray octet, and a single octet after the error code is a stray octet too (a one-byte
        // "message" carries no text); the stray octet is ignored. Anything shorter than the
        // 2-byte result is rejected.
        let result = match value {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => {
                return Err(DecodeError::InvalidAvpValue {
                    avp: attr,
                    len: value.len(),
                })
            }
        };
        let error = (value.len() >= 4).then(|| u16::from_be_bytes([value[2], value[3]]));
        let message = (value.len() > 5).then(|| String::from_utf8_lossy(&value[4..]).into_owned());
        Ok(ResultCode {
            result,
            error,
            message,
        })
    }

    fn encode_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.result.to_be_bytes());
        if let Some(e) = self.error {
            out.extend_from_slice(&e.to_be_bytes());
            if let Some(m) = &self.message {
                out.extend_from_slice(m.as_bytes());
            }
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "result {}", self.result)?;
        if let Some(e) = self.error {
            write!(f, " error {e}")?;
        }
        if let Some(m) = &self.message {
            write!(f, " {m:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(v: &[u8]) -> Result<ResultCode, DecodeError> {
        ResultCode::decode_value(AvpType::RESULT_CODE, v)
    }

    #[test]
    fn codes_in_words() {
        let rc = ResultCode::with_error(1, 0, Some("PPP keepalive timed out"));
        assert_eq!(
            rc.describe_cdn(),
            "PPP keepalive timed out (result 1: loss of carrier)"
        );
        assert_eq!(
            ResultCode::new(6).describe_cdn(),
            "result 6: invalid destination"
        );
        assert_eq!(
            ResultCode::new(6).describe_stopccn(),
            "result 6: requester is being shut down"
        );
        let rc = ResultCode::with_error(2, 4, Some("bad\nline"));
        assert_eq!(
            rc.describe_cdn(),
            "bad?line (result 2: general error, error 4: insufficient resources)"
        );
    }

    #[test]
    fn rfc_lengths() {
        assert_eq!(dec(&[0, 1]).unwrap(), ResultCode::new(1));
        assert_eq!(
            dec(&[0, 2, 0, 6]).unwrap(),
            ResultCode::with_error(2, 6, None)
        );
        assert_eq!(
            dec(b"\x00\x02\x00\x06oops").unwrap(),
            ResultCode::with_error(2, 6, Some("oops"))
        );
        let mut out = Vec::new();
        ResultCode::with_error(2, 6, Some("oops")).encode_value(&mut out);
        assert_eq!(out, b"\x00\x02\x00\x06oops");
    }

    #[test]
    fn mikrotik_stray_octet_is_ignored() {
        // result 2, error 6 and one stray octet: result and error kept, the octet ignored.
        assert_eq!(
            dec(&[0, 2, 0, 6, 0x41]).unwrap(),
            ResultCode::with_error(2, 6, None)
        );
        // result and one stray octet.
        assert_eq!(dec(&[0, 1, 0]).unwrap(), ResultCode::new(1));
    }

    #[test]
    fn too_short_is_rejected() {
        assert_eq!(
            dec(&[1]),
            Err(DecodeError::InvalidAvpValue {
                avp: AvpType::RESULT_CODE,
                len: 1
            })
        );
    }
}
