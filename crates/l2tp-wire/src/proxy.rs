//! Proxy LCP and proxy authentication (RFC 2661 §4.4.5) as typed values, and their place in
//! an ICCN: what a LAC that "answered the call and negotiated LCP with the remote system,
//! perhaps in order to establish the system's apparent identity" tells the LNS, so that
//! "PPP [can] continue without renegotiation of LCP".
//!
//! [`ProxyLcp`] holds the three CONFREQ bodies; [`ProxyAuth`] one authentication exchange,
//! whose variants carry exactly the AVPs §4.4.5 requires for its Authen Type. [`set_proxy`]
//! fills an [`Iccn`]; [`proxy_lcp`] and [`proxy_auth`] read one back, with a typed error
//! when a required AVP is missing or malformed.

use thiserror::Error;

use crate::message::Iccn;
use crate::values::ProxyAuthenType;

/// The three proxy LCP AVPs. Each is "a copy of the body of the ... CONFREQ ..., starting at
/// the first option within the body of the LCP message" (the options, without the LCP Code,
/// Identifier and Length).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyLcp {
    /// Initial Received LCP CONFREQ: "the Initial CONFREQ received by the LAC from the PPP
    /// Peer".
    pub initial_received: Vec<u8>,
    /// Last Sent LCP CONFREQ: "the final CONFREQ sent to the client to complete LCP
    /// negotiation".
    pub last_sent: Vec<u8>,
    /// Last Received LCP CONFREQ: "the final CONFREQ received from the client to complete
    /// LCP negotiation".
    pub last_received: Vec<u8>,
}

/// One proxied authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAuth {
    /// Authen Type 1, textual username/password exchange: Name and Response (the password).
    Textual {
        /// The user name.
        name: Vec<u8>,
        /// The cleartext password.
        password: Vec<u8>,
    },
    /// Authen Type 2, PPP CHAP: Name, Challenge, ID and Response.
    Chap {
        /// Name in the client's Response.
        name: Vec<u8>,
        /// Identifier of our Challenge.
        id: u8,
        /// The challenge value we sent.
        challenge: Vec<u8>,
        /// The response value the client sent.
        response: Vec<u8>,
    },
    /// Authen Type 3, PPP PAP: Name, ID and Response (the password). "For 3, [the ID] is the
    /// Identifier value of the Authenticate-Request."
    Pap {
        /// Peer-ID of the Authenticate-Request.
        name: Vec<u8>,
        /// Identifier of the Authenticate-Request.
        id: u8,
        /// Password of the Authenticate-Request.
        password: Vec<u8>,
    },
    /// Authen Type 4, no authentication.
    NoAuthentication,
    /// Authen Type 5, Microsoft CHAP version 1: like CHAP.
    MsChapV1 {
        /// Name in the client's Response.
        name: Vec<u8>,
        /// Identifier of our Challenge.
        id: u8,
        /// The challenge value we sent.
        challenge: Vec<u8>,
        /// The 49-octet response the client sent.
        response: Vec<u8>,
    },
}

impl ProxyAuth {
    /// The Authen Type value.
    pub fn authen_type(&self) -> ProxyAuthenType {
        match self {
            ProxyAuth::Textual { .. } => ProxyAuthenType::TEXTUAL,
            ProxyAuth::Chap { .. } => ProxyAuthenType::CHAP,
            ProxyAuth::Pap { .. } => ProxyAuthenType::PAP,
            ProxyAuth::NoAuthentication => ProxyAuthenType::NONE,
            ProxyAuth::MsChapV1 { .. } => ProxyAuthenType::MSCHAP_V1,
        }
    }

    /// The authenticating user's name, when the type has one.
    pub fn name(&self) -> Option<&[u8]> {
        match self {
            ProxyAuth::Textual { name, .. }
            | ProxyAuth::Chap { name, .. }
            | ProxyAuth::Pap { name, .. }
            | ProxyAuth::MsChapV1 { name, .. } => Some(name),
            ProxyAuth::NoAuthentication => None,
        }
    }
}

/// Why the proxy AVPs of an ICCN cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProxyError {
    /// Some but not all of the three proxy LCP AVPs.
    #[error("proxy LCP incomplete: only {present} of the three CONFREQ AVPs")]
    IncompleteLcp {
        /// How many were present.
        present: usize,
    },
    /// An AVP §4.4.5 requires for this Authen Type is absent.
    #[error("Proxy Authen Type {authen_type} without {missing}")]
    Missing {
        /// The Authen Type.
        authen_type: ProxyAuthenType,
        /// The name of the missing AVP.
        missing: &'static str,
    },
    /// Proxy Authen ID with a non-zero high octet ("the most significant octet MUST be 0").
    #[error("Proxy Authen ID {0:#06x}: the high octet must be 0")]
    BadId(u16),
    /// Proxy Authen Challenge present but empty ("a string of one or more octets").
    #[error("empty Proxy Authen Challenge")]
    EmptyChallenge,
    /// An Authen Type RFC 2661 does not define (0 is reserved).
    #[error("unsupported Proxy Authen Type {0}")]
    UnsupportedType(ProxyAuthenType),
    /// Authentication AVPs without a Proxy Authen Type ("This AVP MUST be present if proxy
    /// authentication is to be utilized").
    #[error("proxy authentication AVPs without a Proxy Authen Type")]
    NoType,
}

/// Writes proxy LCP and authentication into `iccn` (`None` clears that group).
pub fn set_proxy(iccn: &mut Iccn, lcp: Option<&ProxyLcp>, auth: Option<&ProxyAuth>) {
    iccn.initial_received_lcp_confreq = lcp.map(|l| l.initial_received.clone());
    iccn.last_sent_lcp_confreq = lcp.map(|l| l.last_sent.clone());
    iccn.last_received_lcp_confreq = lcp.map(|l| l.last_received.clone());
    iccn.proxy_authen_type = auth.map(ProxyAuth::authen_type);
    iccn.proxy_authen_name = auth.and_then(|a| a.name().map(<[u8]>::to_vec));
    let (id, challenge, response) = match auth {
        Some(ProxyAuth::Textual { password, .. }) => (None, None, Some(password)),
        Some(ProxyAuth::Pap { id, password, .. }) => (Some(*id), None, Some(password)),
        Some(
            ProxyAuth::Chap {
                id,
                challenge,
                response,
                ..
            }
            | ProxyAuth::MsChapV1 {
                id,
                challenge,
                response,
                ..
            },
        ) => (Some(*id), Some(challenge), Some(response)),
        Some(ProxyAuth::NoAuthentication) | None => (None, None, None),
    };
    // "ID is a 2 octet unsigned integer, the most significant octet MUST be 0."
    iccn.proxy_authen_id = id.map(u16::from);
    iccn.proxy_authen_challenge = challenge.cloned();
    iccn.proxy_authen_response = response.cloned();
}

/// The proxy LCP AVPs of `iccn`: `None` when there are none, an error when incomplete.
pub fn proxy_lcp(iccn: &Iccn) -> Result<Option<ProxyLcp>, ProxyError> {
    match (
        &iccn.initial_received_lcp_confreq,
        &iccn.last_sent_lcp_confreq,
        &iccn.last_received_lcp_confreq,
    ) {
        (None, None, None) => Ok(None),
        (Some(i), Some(s), Some(r)) => Ok(Some(ProxyLcp {
            initial_received: i.clone(),
            last_sent: s.clone(),
            last_received: r.clone(),
        })),
        (i, s, r) => Err(ProxyError::IncompleteLcp {
            present: [i.is_some(), s.is_some(), r.is_some()]
                .iter()
                .filter(|p| **p)
                .count(),
        }),
    }
}

/// The proxy authentication of `iccn`: `None` when there is none, an error when an AVP the
/// type requires is missing or malformed.
pub fn proxy_auth(iccn: &Iccn) -> Result<Option<ProxyAuth>, ProxyError> {
    let Some(t) = iccn.proxy_authen_type else {
        let any = iccn.proxy_authen_name.is_some()
            || iccn.proxy_authen_challenge.is_some()
            || iccn.proxy_authen_id.is_some()
            || iccn.proxy_authen_response.is_some();
        return if any {
            Err(ProxyError::NoType)
        } else {
            Ok(None)
        };
    };
    let missing = |missing| ProxyError::Missing {
        authen_type: t,
        missing,
    };
    // "This AVP MUST be present in messages containing a Proxy Authen Type AVP with an
    // Authen Type of 1, 2, 3 or 5."
    let name = || {
        iccn.proxy_authen_name
            .clone()
            .ok_or(missing("Proxy Authen Name"))
    };
    // "The Proxy Authen ID AVP MUST be present for Proxy authen types 2, 3 and 5."
    let id = || {
        let id = iccn.proxy_authen_id.ok_or(missing("Proxy Authen ID"))?;
        u8::try_from(id).map_err(|_| ProxyError::BadId(id))
    };
    // "This AVP MUST be present for Proxy authen types 1, 2, 3 and 5."
    let response = || {
        iccn.proxy_authen_response
            .clone()
            .ok_or(missing("Proxy Authen Response"))
    };
    // "This AVP MUST be present for Proxy Authen Types 2 and 5." "The Challenge is a string
    // of one or more octets."
    let challenge = || match &iccn.proxy_authen_challenge {
        None => Err(missing("Proxy Authen Challenge")),
        Some(c) if c.is_empty() => Err(ProxyError::EmptyChallenge),
        Some(c) => Ok(c.clone()),
    };
    Ok(Some(match t {
        ProxyAuthenType::TEXTUAL => ProxyAuth::Textual {
            name: name()?,
            password: response()?,
        },
        ProxyAuthenType::CHAP => ProxyAuth::Chap {
            name: name()?,
            id: id()?,
            challenge: challenge()?,
            response: response()?,
        },
        ProxyAuthenType::PAP => ProxyAuth::Pap {
            name: name()?,
            id: id()?,
            password: response()?,
        },
        ProxyAuthenType::NONE => ProxyAuth::NoAuthentication,
        ProxyAuthenType::MSCHAP_V1 => ProxyAuth::MsChapV1 {
            name: name()?,
            id: id()?,
            challenge: challenge()?,
            response: response()?,
        },
        other => return Err(ProxyError::UnsupportedType(other)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ControlMessage, FramingCapabilities};

    fn iccn() -> Iccn {
        Iccn::new(100_000_000, FramingCapabilities::SYNC)
    }

    fn through_the_wire(m: &Iccn, secret: Option<&[u8]>) -> Iccn {
        let mut out = Vec::new();
        let hiding = secret.map(|s| crate::Hiding::new(s, &[7; 16]));
        ControlMessage::Iccn(m.clone())
            .encode(&mut out, hiding)
            .unwrap();
        match ControlMessage::decode(&out, secret).unwrap() {
            ControlMessage::Iccn(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_authen_type_survives_the_wire_plain_and_hidden() {
        let lcp = ProxyLcp {
            initial_received: vec![1, 4, 5, 0xd4, 5, 6, 0x12, 0x34, 0x56, 0x78],
            last_sent: vec![1, 4, 5, 0xd4, 3, 5, 0xc2, 0x23, 5],
            last_received: vec![1, 4, 5, 0xd4, 5, 6, 0x12, 0x34, 0x56, 0x78],
        };
        let auths = [
            ProxyAuth::Pap {
                name: b"alice@isp.example".to_vec(),
                id: 7,
                password: b"s3cret".to_vec(),
            },
            ProxyAuth::Chap {
                name: b"bob@isp.example".to_vec(),
                id: 200,
                challenge: vec![0x55; 16],
                response: vec![0xaa; 16],
            },
            ProxyAuth::MsChapV1 {
                name: b"carol".to_vec(),
                id: 1,
                challenge: vec![1; 8],
                response: vec![2; 49],
            },
            ProxyAuth::Textual {
                name: b"dave".to_vec(),
                password: b"pw".to_vec(),
            },
            ProxyAuth::NoAuthentication,
        ];
        for auth in &auths {
            for secret in [None, Some(&b"tunnel secret"[..])] {
                let mut m = iccn();
                set_proxy(&mut m, Some(&lcp), Some(auth));
                let back = through_the_wire(&m, secret);
                assert_eq!(proxy_lcp(&back), Ok(Some(lcp.clone())));
                assert_eq!(proxy_auth(&back), Ok(Some(auth.clone())), "{auth:?}");
            }
        }
        let mut m = iccn();
        set_proxy(&mut m, Some(&lcp), Some(&auths[0]));
        set_proxy(&mut m, None, None);
        assert_eq!(m, iccn(), "None clears");
    }

    #[test]
    fn pap_fills_exactly_the_avps_the_rfc_names() {
        let mut m = iccn();
        let pap = ProxyAuth::Pap {
            name: b"u".to_vec(),
            id: 9,
            password: b"p".to_vec(),
        };
        set_proxy(&mut m, None, Some(&pap));
        assert_eq!(m.proxy_authen_type, Some(ProxyAuthenType::PAP));
        assert_eq!(m.proxy_authen_id, Some(9));
        assert_eq!(m.proxy_authen_response.as_deref(), Some(&b"p"[..]));
        assert_eq!(m.proxy_authen_challenge, None);
        assert!(m.initial_received_lcp_confreq.is_none());
    }

    #[test]
    fn incomplete_or_malformed_proxy_avps_are_typed_errors() {
        let mut m = iccn();
        m.last_sent_lcp_confreq = Some(vec![1, 4, 5, 0xd4]);
        assert_eq!(proxy_lcp(&m), Err(ProxyError::IncompleteLcp { present: 1 }));

        let mut m = iccn();
        m.proxy_authen_type = Some(ProxyAuthenType::CHAP);
        m.proxy_authen_name = Some(b"x".to_vec());
        m.proxy_authen_id = Some(1);
        m.proxy_authen_response = Some(vec![1; 16]);
        assert_eq!(
            proxy_auth(&m),
            Err(ProxyError::Missing {
                authen_type: ProxyAuthenType::CHAP,
                missing: "Proxy Authen Challenge"
            })
        );
        m.proxy_authen_challenge = Some(vec![]);
        assert_eq!(proxy_auth(&m), Err(ProxyError::EmptyChallenge));
        m.proxy_authen_challenge = Some(vec![3; 16]);
        m.proxy_authen_id = Some(0x0101);
        assert_eq!(proxy_auth(&m), Err(ProxyError::BadId(0x0101)));

        let mut m = iccn();
        m.proxy_authen_name = Some(b"orphan".to_vec());
        assert_eq!(proxy_auth(&m), Err(ProxyError::NoType));
        m.proxy_authen_type = Some(ProxyAuthenType(0));
        assert_eq!(
            proxy_auth(&m),
            Err(ProxyError::UnsupportedType(ProxyAuthenType(0)))
        );
        assert_eq!(proxy_auth(&iccn()), Ok(None));
        assert_eq!(proxy_lcp(&iccn()), Ok(None));
    }
}
