//! What a LAC records of the subscriber's LCP and authentication to hand the LNS as proxy
//! LCP and proxy authentication AVPs (RFC 2661 §4.4.5): the LAC "may have answered the call
//! and negotiated LCP with the remote system, perhaps in order to establish the system's
//! apparent identity" — the user name, whose realm picks the LNS.
//!
//! [`ProxyCapture`] is a passive tap: the LAC runs a server [`crate::Link`] with the
//! subscriber and shows the capture every frame in both directions ([`ProxyCapture::received`],
//! [`ProxyCapture::sent`]). It records the first and the last Configure-Request each way
//! (those the Configure-Acks completed), and the authentication exchange: PAP's
//! Authenticate-Request, or CHAP's Challenge and the Response to it. When the link reports
//! [`crate::Event::AuthRequest`] the capture holds what the ICCN needs ([`ProxyCapture::lcp`],
//! [`ProxyCapture::auth`]); the LAC then stops answering and relays.
//!
//! Nothing a peer sends makes it panic; frames it cannot parse are ignored (the link counts
//! them).

use crate::frame::{classify, Protocol};
use crate::packet::{Code, Packet};
use crate::{chap, options, pap};

/// LCP option 3, Authentication-Protocol (RFC 1661 §6.2).
const OPT_AUTH_PROTOCOL: u8 = 3;

/// The three LCP Configure-Request bodies (options only, "starting at the first option
/// within the body of the LCP message").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcpCapture {
    /// The first Configure-Request received from the peer.
    pub initial_received: Vec<u8>,
    /// The Configure-Request of ours the peer acknowledged.
    pub last_sent: Vec<u8>,
    /// The peer's Configure-Request we acknowledged.
    pub last_received: Vec<u8>,
}

/// An authentication exchange as the peer performed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthCapture {
    /// PAP Authenticate-Request (RFC 1334 §2.2.1).
    Pap {
        /// Identifier of the request.
        id: u8,
        /// Peer-ID.
        name: Vec<u8>,
        /// Password.
        password: Vec<u8>,
    },
    /// CHAP (RFC 1994) with the algorithm our acknowledged Configure-Request named: 5 MD5,
    /// 0x80 MS-CHAPv1, 0x81 MS-CHAPv2.
    Chap {
        /// CHAP algorithm.
        algorithm: u8,
        /// Identifier of our Challenge (and of the Response).
        id: u8,
        /// The challenge value we sent.
        challenge: Vec<u8>,
        /// The response value.
        response: Vec<u8>,
        /// The Name of the Response.
        name: Vec<u8>,
    },
}

impl AuthCapture {
    /// The user name the peer gave (`user@realm` for wholesale subscribers).
    pub fn user(&self) -> &[u8] {
        match self {
            AuthCapture::Pap { name, .. } | AuthCapture::Chap { name, .. } => name,
        }
    }

    /// The realm: what follows the last `@` of the user name.
    pub fn realm(&self) -> Option<&[u8]> {
        let u = self.user();
        let at = u.iter().rposition(|b| *b == b'@')?;
        Some(&u[at + 1..])
    }

    /// The RFC 2661 Proxy Authen Type: 3 PAP, 2 CHAP (MD5), 5 MS-CHAPv1; `None` for
    /// MS-CHAPv2 and other algorithms, which RFC 2661 cannot proxy (the LNS must
    /// authenticate again; the user name still steers the call).
    pub fn proxy_authen_type(&self) -> Option<u16> {
        match self {
            AuthCapture::Pap { .. } => Some(3),
            AuthCapture::Chap { algorithm: 5, .. } => Some(2),
            AuthCapture::Chap {
                algorithm: 0x80, ..
            } => Some(5),
            AuthCapture::Chap { .. } => None,
        }
    }
}

/// The tap. See the module documentation.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ProxyCapture {
    initial_received: Option<Vec<u8>>,
    /// Our Configure-Requests in flight: (id, options); the newest last.
    sent_requests: Vec<(u8, Vec<u8>)>,
    /// The peer's Configure-Requests: (id, options); the newest last.
    received_requests: Vec<(u8, Vec<u8>)>,
    acked_sent: Option<Vec<u8>>,
    acked_received: Option<Vec<u8>>,
    challenge: Option<(u8, Vec<u8>)>,
    auth: Option<AuthCapture>,
}

/// Configure-Requests remembered per direction until one is acknowledged.
const KEEP_REQUESTS: usize = 8;

fn remember(list: &mut Vec<(u8, Vec<u8>)>, id: u8, opts: &[u8]) {
    if list.len() == KEEP_REQUESTS {
        list.remove(0);
    }
    list.push((id, opts.to_vec()));
}

impl ProxyCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame the peer sent (FF 03 optional, protocol field first).
    pub fn received(&mut self, frame: &[u8]) {
        let Ok((proto, payload)) = classify(frame) else {
            return;
        };
        let Ok(p) = Packet::decode(payload) else {
            return;
        };
        match (proto, p.code) {
            (Protocol::LCP, Code::CONFIGURE_REQUEST) => {
                if self.initial_received.is_none() {
                    self.initial_received = Some(p.data.to_vec());
                }
                remember(&mut self.received_requests, p.id, p.data);
            }
            (Protocol::LCP, Code::CONFIGURE_ACK) => {
                // RFC 1661 §5.2: the Ack echoes the request's Identifier and options.
                if let Some((_, o)) = self
                    .sent_requests
                    .iter()
                    .rev()
                    .find(|(id, o)| *id == p.id && o == p.data)
                {
                    self.acked_sent = Some(o.clone());
                }
            }
            (Protocol::PAP, Code(pap::code::REQUEST)) => {
                if let Ok(r) = pap::Request::decode(p.data) {
                    self.auth = Some(AuthCapture::Pap {
                        id: p.id,
                        name: r.peer_id.to_vec(),
                        password: r.password.to_vec(),
                    });
                }
            }
            (Protocol::CHAP, Code(chap::code::RESPONSE)) => {
                let Some((cid, challenge)) = &self.challenge else {
                    return;
                };
                if *cid != p.id {
                    return;
                }
                if let Ok(vn) = chap::ValueName::decode(p.data) {
                    self.auth = Some(AuthCapture::Chap {
                        algorithm: self.chap_algorithm().unwrap_or(5),
                        id: p.id,
                        challenge: challenge.clone(),
                        response: vn.value.to_vec(),
                        name: vn.name.to_vec(),
                    });
                }
            }
            _ => {}
        }
    }

    /// A frame we sent to the peer.
    pub fn sent(&mut self, frame: &[u8]) {
        let Ok((proto, payload)) = classify(frame) else {
            return;
        };
        let Ok(p) = Packet::decode(payload) else {
            return;
        };
        match (proto, p.code) {
            (Protocol::LCP, Code::CONFIGURE_REQUEST) => {
                remember(&mut self.sent_requests, p.id, p.data);
            }
            (Protocol::LCP, Code::CONFIGURE_ACK) => {
                if let Some((_, o)) = self
                    .received_requests
                    .iter()
                    .rev()
                    .find(|(id, o)| *id == p.id && o == p.data)
                {
                    self.acked_received = Some(o.clone());
                }
            }
            (Protocol::CHAP, Code(chap::code::CHALLENGE)) => {
                if let Ok(vn) = chap::ValueName::decode(p.data) {
                    self.challenge = Some((p.id, vn.value.to_vec()));
                }
            }
            _ => {}
        }
    }

    /// The proxy LCP once LCP completed (both Configure-Requests acknowledged).
    pub fn lcp(&self) -> Option<LcpCapture> {
        Some(LcpCapture {
            initial_received: self.initial_received.clone()?,
            last_sent: self.acked_sent.clone()?,
            last_received: self.acked_received.clone()?,
        })
    }

    /// The authentication exchange, once the peer answered.
    pub fn auth(&self) -> Option<&AuthCapture> {
        self.auth.as_ref()
    }

    /// The CHAP algorithm our acknowledged Configure-Request asked for.
    fn chap_algorithm(&self) -> Option<u8> {
        let opts = options::decode(self.acked_sent.as_deref()?).ok()?;
        opts.iter().find_map(|o| match (o.kind, o.data) {
            (OPT_AUTH_PROTOCOL, [0xc2, 0x23, alg]) => Some(*alg),
            _ => None,
        })
    }
}
