//! Access-Request contents (RFC 2865 §5, RFC 2868 §3, RFC 2548 §2.3): who the NAS is, which
//! session and tunnel the user came in on, and the credentials exactly as `ppp` reports them
//! in its `AuthRequest` event.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ppp::Credentials;

use crate::attr::{self, ms, AttrType, VENDOR_MICROSOFT};
use crate::crypt::{hide_password, Secret};
use crate::error::ApiError;
use crate::packet::{Attr, Code, Packet};

/// How the NAS names itself (RFC 2865 §5.4, §5.32; RFC 3162 §2.1). RFC 2865 §5.4: an
/// Access-Request must carry NAS-IP-Address or NAS-Identifier (or NAS-IPv6-Address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NasIdentity {
    /// NAS-IP-Address.
    pub ip: Option<Ipv4Addr>,
    /// NAS-IPv6-Address.
    pub ipv6: Option<Ipv6Addr>,
    /// NAS-Identifier.
    pub identifier: Option<String>,
}

impl NasIdentity {
    pub(crate) fn attrs(&self, out: &mut Vec<Attr>) {
        if let Some(ip) = self.ip {
            out.push(Attr::ipv4(AttrType::NAS_IP_ADDRESS, ip));
        }
        if let Some(ip) = self.ipv6 {
            out.push(Attr::ipv6(AttrType::NAS_IPV6_ADDRESS, ip));
        }
        if let Some(id) = &self.identifier {
            out.push(Attr::new(AttrType::NAS_IDENTIFIER, truncate(id.as_bytes())));
        }
    }
}

/// The L2TP tunnel a session arrived on (RFC 2868 §3.1–3.3, §3.9): sent tagged (tag 1) with
/// Tunnel-Type = L2TP and the medium of the endpoints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelInfo {
    /// The LAC's address (Tunnel-Client-Endpoint).
    pub client_endpoint: IpAddr,
    /// Our address (Tunnel-Server-Endpoint).
    pub server_endpoint: IpAddr,
    /// The LAC's Host Name AVP (Tunnel-Client-Auth-ID).
    pub client_auth_id: Option<String>,
}

/// One PPP session as RADIUS sees it (shared by Access-Request and accounting).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    /// User-Name as the peer sent it.
    pub user_name: String,
    /// NAS-Port: our session number.
    pub nas_port: u32,
    /// Acct-Session-Id: unique per session, the key for accounting and Disconnect.
    pub acct_session_id: String,
    /// Calling-Station-Id (L2TP Calling Number AVP).
    pub calling_station_id: Option<String>,
    /// Called-Station-Id (L2TP Called Number AVP).
    pub called_station_id: Option<String>,
    /// The tunnel, when the session came over L2TP.
    pub tunnel: Option<TunnelInfo>,
}

const TUNNEL_TAG: u8 = 1;

fn truncate(b: &[u8]) -> &[u8] {
    &b[..b.len().min(crate::packet::MAX_VALUE_LEN)]
}

impl SessionInfo {
    pub(crate) fn attrs(&self, out: &mut Vec<Attr>) {
        out.push(Attr::new(
            AttrType::USER_NAME,
            truncate(self.user_name.as_bytes()),
        ));
        out.push(Attr::u32(AttrType::NAS_PORT, self.nas_port));
        // RFC 2865 §5.41: Virtual = a connection to the NAS via some transport protocol.
        out.push(Attr::u32(
            AttrType::NAS_PORT_TYPE,
            attr::NAS_PORT_TYPE_VIRTUAL,
        ));
        out.push(Attr::u32(AttrType::SERVICE_TYPE, attr::SERVICE_TYPE_FRAMED));
        out.push(Attr::u32(
            AttrType::FRAMED_PROTOCOL,
            attr::FRAMED_PROTOCOL_PPP,
        ));
        out.push(Attr::new(
            AttrType::ACCT_SESSION_ID,
            truncate(self.acct_session_id.as_bytes()),
        ));
        if let Some(s) = &self.calling_station_id {
            out.push(Attr::new(
                AttrType::CALLING_STATION_ID,
                truncate(s.as_bytes()),
            ));
        }
        if let Some(s) = &self.called_station_id {
            out.push(Attr::new(
                AttrType::CALLED_STATION_ID,
                truncate(s.as_bytes()),
            ));
        }
        if let Some(t) = &self.tunnel {
            let medium = if t.client_endpoint.is_ipv4() {
                attr::TUNNEL_MEDIUM_IPV4
            } else {
                attr::TUNNEL_MEDIUM_IPV6
            };
            out.push(Attr::tagged_u24(
                AttrType::TUNNEL_TYPE,
                TUNNEL_TAG,
                attr::TUNNEL_TYPE_L2TP,
            ));
            out.push(Attr::tagged_u24(
                AttrType::TUNNEL_MEDIUM_TYPE,
                TUNNEL_TAG,
                medium,
            ));
            // RFC 2868 §3.3: endpoints are text, dotted decimal or RFC 2373 text.
            let c = t.client_endpoint.to_string();
            let s = t.server_endpoint.to_string();
            out.push(Attr::tagged(
                AttrType::TUNNEL_CLIENT_ENDPOINT,
                TUNNEL_TAG,
                c.as_bytes(),
            ));
            out.push(Attr::tagged(
                AttrType::TUNNEL_SERVER_ENDPOINT,
                TUNNEL_TAG,
                s.as_bytes(),
            ));
            if let Some(h) = &t.client_auth_id {
                let h = &h.as_bytes()[..h.len().min(252)];
                out.push(Attr::tagged(AttrType::TUNNEL_CLIENT_AUTH_ID, TUNNEL_TAG, h));
            }
        }
    }
}

/// What the LNS asks the server: this session, these credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The session (User-Name, port, tunnel, …).
    pub session: SessionInfo,
    /// The credentials from `ppp`'s `AuthRequest`.
    pub credentials: Credentials,
}

impl AccessRequest {
    /// Whether this is MS-CHAPv2 (the accept must carry MS-CHAP2-Success).
    pub fn is_mschapv2(&self) -> bool {
        matches!(self.credentials, Credentials::MsChapV2 { .. })
    }

    /// The unsigned Access-Request for one server (the password is hidden with that
    /// server's secret and this Request Authenticator). Message-Authenticator comes first
    /// (the BlastRADIUS mitigation, RFC 3579 §3.2).
    pub fn to_packet(
        &self,
        nas: &NasIdentity,
        id: u8,
        ra: [u8; 16],
        secret: &Secret,
    ) -> Result<Packet, ApiError> {
        let mut p = Packet::new(Code::ACCESS_REQUEST, id, ra);
        p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
        let mut attrs = Vec::new();
        self.session.attrs(&mut attrs);
        nas.attrs(&mut attrs);
        p.attrs.extend(attrs);
        match &self.credentials {
            Credentials::Pap { password } => {
                p.push(Attr::new(
                    AttrType::USER_PASSWORD,
                    hide_password(password, secret, &ra)?,
                ));
            }
            Credentials::ChapMd5 {
                id: chap_id,
                challenge,
                response,
            } => {
                // RFC 2865 §5.3: CHAP Ident, then the 16-octet response.
                let mut v = vec![*chap_id];
                v.extend_from_slice(response);
                p.push(Attr::new(AttrType::CHAP_PASSWORD, v));
                // §5.40: the challenge goes in CHAP-Challenge (always sent, whatever its size).
                p.push(Attr::new(AttrType::CHAP_CHALLENGE, challenge.clone()));
            }
            Credentials::MsChapV2 {
                authenticator_challenge,
                peer_challenge,
                nt_response,
            } => {
                p.push(Attr::vendor(
                    VENDOR_MICROSOFT,
                    ms::CHAP_CHALLENGE,
                    authenticator_challenge,
                ));
                // RFC 2548 §2.3.2: Ident, Flags, Peer-Challenge(16), Reserved(8), Response(24).
                // The Ident only comes back in MS-CHAP2-Success; `ppp` builds its own Success
                // packet with its own Identifier, so 0 is sent.
                let mut v = Vec::with_capacity(50);
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(peer_challenge);
                v.extend_from_slice(&[0u8; 8]);
                v.extend_from_slice(nt_response);
                p.push(Attr::vendor(VENDOR_MICROSOFT, ms::CHAP2_RESPONSE, &v));
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::unhide_password;

    fn session() -> SessionInfo {
        SessionInfo {
            user_name: "alice".into(),
            nas_port: 7,
            acct_session_id: "0000000a".into(),
            calling_station_id: Some("lac-1".into()),
            called_station_id: None,
            tunnel: Some(TunnelInfo {
                client_endpoint: "192.0.2.1".parse().unwrap(),
                server_endpoint: "192.0.2.2".parse().unwrap(),
                client_auth_id: Some("lac".into()),
            }),
        }
    }

    #[test]
    fn pap_request_carries_what_policy_keys_on() {
        let s = Secret::new("sec");
        let req = AccessRequest {
            session: session(),
            credentials: Credentials::Pap {
                password: b"pw".to_vec(),
            },
        };
        let nas = NasIdentity {
            ip: Some("192.0.2.2".parse().unwrap()),
            ipv6: None,
            identifier: Some("lns".into()),
        };
        let p = req.to_packet(&nas, 3, [5; 16], &s).unwrap();
        assert_eq!(p.attrs[0].typ, AttrType::MESSAGE_AUTHENTICATOR);
        let txt = |t| p.get(t).unwrap().as_text().unwrap().to_string();
        assert_eq!(txt(AttrType::USER_NAME), "alice");
        assert_eq!(txt(AttrType::NAS_IDENTIFIER), "lns");
        assert_eq!(p.get(AttrType::NAS_PORT_TYPE).unwrap().as_u32().unwrap(), 5);
        assert_eq!(p.get(AttrType::SERVICE_TYPE).unwrap().as_u32().unwrap(), 2);
        assert_eq!(
            p.get(AttrType::FRAMED_PROTOCOL).unwrap().as_u32().unwrap(),
            1
        );
        assert_eq!(p.get(AttrType::TUNNEL_TYPE).unwrap().value, [1, 0, 0, 3]);
        assert_eq!(
            p.get(AttrType::TUNNEL_CLIENT_ENDPOINT).unwrap().as_tagged(),
            (1, &b"192.0.2.1"[..])
        );
        let hidden = &p.get(AttrType::USER_PASSWORD).unwrap().value;
        assert_eq!(unhide_password(hidden, &s, &[5; 16]).unwrap(), b"pw");
    }

    #[test]
    fn chap_and_mschapv2_fields() {
        let s = Secret::new("sec");
        let nas = NasIdentity::default();
        let chap = AccessRequest {
            session: session(),
            credentials: Credentials::ChapMd5 {
                id: 9,
                challenge: vec![1, 2, 3],
                response: [4; 16],
            },
        };
        let p = chap.to_packet(&nas, 0, [0; 16], &s).unwrap();
        let cp = &p.get(AttrType::CHAP_PASSWORD).unwrap().value;
        assert_eq!(cp[0], 9);
        assert_eq!(&cp[1..], &[4; 16]);
        assert_eq!(p.get(AttrType::CHAP_CHALLENGE).unwrap().value, [1, 2, 3]);

        let ms = AccessRequest {
            session: session(),
            credentials: Credentials::MsChapV2 {
                authenticator_challenge: [1; 16],
                peer_challenge: [2; 16],
                nt_response: [3; 24],
            },
        };
        let p = ms.to_packet(&nas, 0, [0; 16], &s).unwrap();
        let r = p
            .vendor_attrs(VENDOR_MICROSOFT, ms::CHAP2_RESPONSE)
            .unwrap();
        assert_eq!(r[0].len(), 50);
        assert_eq!(&r[0][2..18], &[2; 16]);
        assert_eq!(&r[0][26..], &[3; 24]);
        let c = p
            .vendor_attrs(VENDOR_MICROSOFT, ms::CHAP_CHALLENGE)
            .unwrap();
        assert_eq!(c, vec![vec![1u8; 16]]);
    }
}
