//! What the LAC tells the LNS in the ICCN (RFC 2661 §4.4.5) from what it captured of the
//! subscriber's LCP and authentication: the three LCP CONFREQ bodies, and the exchange as
//! Proxy Authen Type/Name/Challenge/ID/Response. "Proxy Authen ID ... the most significant
//! octet MUST be 0"; for PAP (type 3) the Response is the password and the ID the
//! Authenticate-Request's Identifier; for CHAP (type 2) the ID is the Challenge's.

use l2tp_proto::control::ProxyInfo;
use ppp::proxy::{AuthCapture, LcpCapture};

/// The proxy AVPs for a capture; an authentication RFC 2661 cannot proxy (MS-CHAPv2) is
/// left out (the LNS authenticates again).
pub fn proxy_info(lcp: Option<&LcpCapture>, auth: Option<&AuthCapture>) -> ProxyInfo {
    let mut p = ProxyInfo::default();
    if let Some(l) = lcp {
        p.initial_received_lcp_confreq = Some(l.initial_received.clone());
        p.last_sent_lcp_confreq = Some(l.last_sent.clone());
        p.last_received_lcp_confreq = Some(l.last_received.clone());
    }
    let Some(a) = auth else {
        return p;
    };
    let Some(t) = a.proxy_authen_type() else {
        return p;
    };
    p.authen_type = Some(t);
    p.authen_name = Some(a.user().to_vec());
    match a {
        AuthCapture::Pap { id, password, .. } => {
            p.authen_id = Some(u16::from(*id));
            p.authen_response = Some(password.clone());
        }
        AuthCapture::Chap {
            id,
            challenge,
            response,
            ..
        } => {
            p.authen_id = Some(u16::from(*id));
            p.authen_challenge = Some(challenge.clone());
            p.authen_response = Some(response.clone());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pap_and_chap_become_types_3_and_2_with_their_ids() {
        let pap = AuthCapture::Pap {
            id: 7,
            name: b"alice@isp.example".to_vec(),
            password: b"secret".to_vec(),
        };
        let p = proxy_info(None, Some(&pap));
        assert_eq!(p.authen_type, Some(3));
        assert_eq!(p.authen_id, Some(7));
        assert_eq!(p.authen_response.as_deref(), Some(&b"secret"[..]));
        assert_eq!(p.authen_challenge, None);
        let chap = AuthCapture::Chap {
            algorithm: 5,
            id: 9,
            challenge: vec![1; 16],
            response: vec![2; 16],
            name: b"bob".to_vec(),
        };
        let p = proxy_info(None, Some(&chap));
        assert_eq!(
            (p.authen_type, p.authen_id, p.authen_name.as_deref()),
            (Some(2), Some(9), Some(&b"bob"[..]))
        );
        let AuthCapture::Chap {
            id,
            challenge,
            response,
            name,
            ..
        } = chap
        else {
            unreachable!()
        };
        let v2 = AuthCapture::Chap {
            algorithm: 0x81,
            id,
            challenge,
            response,
            name,
        };
        assert_eq!(proxy_info(None, Some(&v2)).authen_type, None);
    }
}
