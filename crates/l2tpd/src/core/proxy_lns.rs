//! The LNS's side of proxy LCP and proxy authentication (RFC 2661 §4.4.5): a LAC that
//! "answered the call and negotiated LCP with the remote system" passes the CONFREQs and the
//! authentication exchange in its ICCN, so that "PPP [can] continue without renegotiation of
//! LCP". What the LNS does with them is its choice, as the RFC allows ("The LNS may choose
//! to ... renegotiate LCP"), and `lns.proxy` sets it:
//!
//! * `accept`: LCP starts Opened with the LAC's negotiated options when we would have
//!   accepted them; the proxied authentication is checked against our own AAA (local users
//!   or RADIUS, like any other) and answered to the subscriber under the exchange's
//!   Identifier. Options we would not have negotiated: LCP is renegotiated.
//! * `renegotiate`: LCP is always negotiated afresh (and the user authenticated again).
//! * `ignore`: the proxy AVPs are not looked at.

use std::time::Instant;

use l2tp_proto::control::ProxyInfo;
use l2tp_proto::data::SessionKey;
use ppp::{AuthMethod, Credentials, Link, ProxiedAuth};
use serde::{Deserialize, Serialize};

use super::{Core, RoleSettings};

/// What an LNS does with a LAC's proxy LCP and proxy authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// Use them when acceptable (the default).
    #[default]
    Accept,
    /// Renegotiate LCP and authenticate again.
    Renegotiate,
    /// Do not look at them.
    Ignore,
}

impl Core {
    /// Starts a new session's PPP: from the LAC's proxy LCP and authentication when
    /// `lns.proxy` accepts them, else with a negotiation of our own.
    pub(super) fn open_link(
        &mut self,
        now: Instant,
        key: SessionKey,
        link: &mut Link,
        proxy: Option<Box<ProxyInfo>>,
    ) {
        let mode = match &self.role {
            RoleSettings::Lns(l) => {
                // A per-peer profile, by the tunnel's peer address and Host Name.
                let peer = self.endpoint.tunnel_info(key.tunnel);
                l.peer_policies
                    .iter()
                    .find(|p| {
                        peer.as_ref()
                            .is_some_and(|t| p.rule.matches(t.peer.ip(), Some(&t.peer_host_name)))
                    })
                    .and_then(|p| p.proxy)
                    .unwrap_or(l.proxy)
            }
            _ => ProxyMode::Ignore,
        };
        let Some(p) = proxy.filter(|_| mode != ProxyMode::Ignore) else {
            return link.open(now);
        };
        if mode == ProxyMode::Renegotiate {
            tracing::info!(node = %self.name, session = %key, "proxy LCP and authentication from the LAC not used (lns.proxy = renegotiate)");
            return link.open(now);
        }
        let (Some(sent), Some(received)) = (&p.last_sent_lcp_confreq, &p.last_received_lcp_confreq)
        else {
            tracing::info!(node = %self.name, session = %key, "no proxy LCP from the LAC: negotiating LCP");
            return link.open(now);
        };
        let auth = match proxied_auth(&p) {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(node = %self.name, session = %key, "proxy authentication not usable ({e}): authenticating again");
                None
            }
        };
        let user = auth.as_ref().map(|a| (a.user.clone(), a.method));
        match link.open_proxied(now, sent, received, auth) {
            Ok(()) => match user {
                Some((user, method)) => {
                    tracing::info!(node = %self.name, session = %key, %user, ?method, "using the LAC's proxy LCP and proxy authentication")
                }
                None => {
                    tracing::info!(node = %self.name, session = %key, "using the LAC's proxy LCP; authenticating the user")
                }
            },
            Err(e) => {
                tracing::info!(node = %self.name, session = %key, "proxy LCP not acceptable ({e}): renegotiating LCP");
                link.open(now);
            }
        }
    }
}

/// The proxied authentication as the PPP link takes it: PAP (Authen Type 3) and CHAP-MD5
/// (type 2). `Ok(None)` for no authentication (type 4) or none proxied; an error for what we
/// cannot use (textual, MS-CHAPv1, AVPs missing).
fn proxied_auth(p: &ProxyInfo) -> Result<Option<ProxiedAuth>, String> {
    let Some(t) = p.authen_type else {
        return Ok(None);
    };
    let name = || {
        p.authen_name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .ok_or("no Proxy Authen Name")
    };
    // "ID is a 2 octet unsigned integer, the most significant octet MUST be 0."
    let id = || {
        p.authen_id
            .and_then(|i| u8::try_from(i).ok())
            .ok_or("no usable Proxy Authen ID")
    };
    let response = || p.authen_response.clone().ok_or("no Proxy Authen Response");
    match t {
        3 => Ok(Some(ProxiedAuth {
            method: AuthMethod::Pap,
            id: id()?,
            user: name()?,
            credentials: Credentials::Pap {
                password: response()?,
            },
        })),
        2 => {
            let id = id()?;
            let challenge = p
                .authen_challenge
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or("no Proxy Authen Challenge")?;
            let response: [u8; 16] = response()?
                .try_into()
                .map_err(|_| "a CHAP-MD5 response is 16 octets")?;
            Ok(Some(ProxiedAuth {
                method: AuthMethod::ChapMd5,
                id,
                user: name()?,
                credentials: Credentials::ChapMd5 {
                    id,
                    challenge,
                    response,
                },
            }))
        }
        4 => Ok(None),
        other => Err(format!("Proxy Authen Type {other} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pap_and_chap_proxy_avps_become_the_links_credentials() {
        let pap = ProxyInfo {
            authen_type: Some(3),
            authen_name: Some(b"alice@isp.example".to_vec()),
            authen_id: Some(4),
            authen_response: Some(b"secret".to_vec()),
            ..ProxyInfo::default()
        };
        let a = proxied_auth(&pap).unwrap().unwrap();
        assert_eq!(
            (a.method, a.id, a.user.as_str()),
            (AuthMethod::Pap, 4, "alice@isp.example")
        );
        let chap = ProxyInfo {
            authen_type: Some(2),
            authen_challenge: Some(vec![1; 16]),
            authen_response: Some(vec![2; 16]),
            ..pap.clone()
        };
        assert_eq!(
            proxied_auth(&chap).unwrap().unwrap().method,
            AuthMethod::ChapMd5
        );
        let short = ProxyInfo {
            authen_response: Some(vec![2; 15]),
            ..chap
        };
        assert!(proxied_auth(&short).is_err());
        let bad_id = ProxyInfo {
            authen_id: Some(0x104),
            ..pap
        };
        assert!(proxied_auth(&bad_id).is_err());
        let ms = ProxyInfo {
            authen_type: Some(5),
            ..ProxyInfo::default()
        };
        assert!(proxied_auth(&ms).is_err());
    }
}
