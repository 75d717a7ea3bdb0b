//! Access-Accept/Reject as a typed decision (RFC 2865 §5, RFC 3162, RFC 4818, RFC 2548):
//! the address and prefixes to give, DNS, timers, Class to echo in accounting, a rate limit,
//! and for MS-CHAPv2 the authenticator response or the parsed MS-CHAP-Error.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::attr::{ms, AttrType, VENDOR_MICROSOFT};
use crate::error::DecodeError;
use crate::packet::{Attr, Code, Packet};

/// Framed-IP-Address (RFC 2865 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramedAddress {
    /// 255.255.255.254: "the NAS should select an address" (from our pool).
    FromPool,
    /// 255.255.255.255: "the user may select an address".
    UserSelects,
    /// This address.
    Static(Ipv4Addr),
}

/// An IPv6 prefix (RFC 3162 §2.3 encoding: reserved, length, prefix octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Prefix {
    /// The prefix (bits past `len` zero).
    pub addr: Ipv6Addr,
    /// Prefix length, 0..=128.
    pub len: u8,
}

impl Ipv6Prefix {
    /// Decodes an attribute's value (RFC 3162 §2.3).
    pub fn decode(a: &Attr) -> Result<Ipv6Prefix, DecodeError> {
        let bad = |reason| DecodeError::BadValue {
            attr: a.typ.0,
            reason,
        };
        if a.value.len() < 2 || a.value.len() > 18 {
            return Err(bad("IPv6 prefix must be 2..=18 octets"));
        }
        let len = a.value[1];
        if len > 128 || a.value.len() - 2 < (len as usize).div_ceil(8) {
            return Err(bad("prefix length beyond the prefix octets"));
        }
        let mut o = [0u8; 16];
        o[..a.value.len() - 2].copy_from_slice(&a.value[2..]);
        Ok(Ipv6Prefix {
            addr: Ipv6Addr::from(o),
            len,
        })
    }
    /// RFC 3162 §2.3 encoding.
    pub fn encode(&self) -> Vec<u8> {
        let n = (self.len as usize).div_ceil(8);
        let mut v = vec![0, self.len];
        v.extend_from_slice(&self.addr.octets()[..n]);
        v
    }
}

/// Where the operator's policy puts a rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitAttr {
    /// A Filter-Id with this prefix, e.g. `rate=` for `Filter-Id = "rate=10M/2M"`.
    FilterId {
        /// Text before the rates.
        prefix: String,
    },
    /// A Vendor-Specific text sub-attribute holding `DOWN/UP`.
    Vendor {
        /// Vendor-Id.
        vendor: u32,
        /// Vendor type.
        vtype: u8,
    },
}

/// A rate limit in bits per second: `DOWN/UP`, each a number with an optional k/M/G suffix
/// (powers of 1000). Down is towards the user, up from the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateLimit {
    /// Towards the user.
    pub down_bps: u64,
    /// From the user.
    pub up_bps: u64,
}

impl RateLimit {
    /// Parses `10M/2M`, `512k/128k`, `1000000/500000`.
    pub fn parse(s: &str) -> Option<RateLimit> {
        let (d, u) = s.trim().split_once('/')?;
        Some(RateLimit {
            down_bps: parse_rate(d)?,
            up_bps: parse_rate(u)?,
        })
    }
}

fn parse_rate(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1_000),
        (i, 'm' | 'M') => (&s[..i], 1_000_000),
        (i, 'g' | 'G') => (&s[..i], 1_000_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// What an Access-Accept authorizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Framed-IP-Address.
    pub address: Option<FramedAddress>,
    /// Framed-Pool: the pool to take an address from.
    pub pool: Option<String>,
    /// Framed-IP-Netmask.
    pub netmask: Option<Ipv4Addr>,
    /// Framed-Route (text, RFC 2865 §5.22), in order.
    pub routes: Vec<String>,
    /// Framed-IPv6-Prefix (RFC 3162 §2.3).
    pub ipv6_prefixes: Vec<Ipv6Prefix>,
    /// Delegated-IPv6-Prefix (RFC 4818).
    pub delegated_prefix: Option<Ipv6Prefix>,
    /// DNS-Server-IPv6-Address (RFC 6911 §3.1), in order.
    pub ipv6_dns: Vec<Ipv6Addr>,
    /// MS-Primary-DNS-Server (RFC 2548 §2.7.5).
    pub primary_dns: Option<Ipv4Addr>,
    /// MS-Secondary-DNS-Server.
    pub secondary_dns: Option<Ipv4Addr>,
    /// Session-Timeout.
    pub session_timeout: Option<Duration>,
    /// Idle-Timeout.
    pub idle_timeout: Option<Duration>,
    /// Acct-Interim-Interval.
    pub interim_interval: Option<Duration>,
    /// Class values, to echo unchanged in accounting (RFC 2865 §5.25).
    pub class: Vec<Vec<u8>>,
    /// Framed-MTU (64..=65535, RFC 2865 §5.12).
    pub mtu: Option<u16>,
    /// The rate limit found in the configured attribute.
    pub rate_limit: Option<RateLimit>,
    /// Filter-Id values other than the rate limit.
    pub filter_ids: Vec<String>,
    /// Reply-Message text.
    pub reply_message: Option<String>,
    /// MS-CHAPv2: the 20 octets behind "S=" of MS-CHAP2-Success, for `ppp`.
    pub mschapv2_authenticator_response: Option<[u8; 20]>,
    /// RFC 2868 tunnels the user is to be carried in (a LAC's steering), one per tag,
    /// only those of Tunnel-Type L2TP; filled by the client, which can decrypt
    /// Tunnel-Password ([`parse_tunnels`]).
    pub tunnels: Vec<TunnelAttrs>,
}

/// The RFC 2868 attributes of one tunnel (those sharing one tag).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TunnelAttrs {
    /// The tag (0: untagged).
    pub tag: u8,
    /// Tunnel-Medium-Type (1 IPv4, 2 IPv6), when given.
    pub medium: Option<u32>,
    /// Tunnel-Server-Endpoint: the LNS, as text (an address or host name, maybe
    /// `:port`).
    pub server_endpoint: Option<String>,
    /// Tunnel-Password, decrypted (RFC 2868 §3.5).
    pub password: Option<Vec<u8>>,
    /// Tunnel-Preference: lower first.
    pub preference: Option<u32>,
    /// Tunnel-Assignment-ID: calls with the same one share a tunnel.
    pub assignment_id: Option<String>,
    /// Tunnel-Client-Auth-ID: our name toward the LNS (the Host Name AVP).
    pub client_auth_id: Option<String>,
}

impl std::fmt::Debug for TunnelAttrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelAttrs")
            .field("tag", &self.tag)
            .field("medium", &self.medium)
            .field("server_endpoint", &self.server_endpoint)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("preference", &self.preference)
            .field("assignment_id", &self.assignment_id)
            .field("client_auth_id", &self.client_auth_id)
            .finish()
    }
}

/// The L2TP tunnels of an Access-Accept (RFC 2868), in tag order: attributes are grouped by
/// tag ("The Tag field ... provides a means of grouping attributes in the same packet which
/// refer to the same tunnel", §3.1); a group whose Tunnel-Type is not L2TP (3), or that has
/// no Tunnel-Server-Endpoint, is left out. Tunnel-Password is decrypted with the server's
/// `secret` and the Request Authenticator `ra` (§3.5); a value that does not decrypt leaves
/// the tunnel without a password.
pub fn parse_tunnels(p: &Packet, secret: &crate::crypt::Secret, ra: &[u8; 16]) -> Vec<TunnelAttrs> {
    // §3.1: Tunnel-Type and Tunnel-Medium-Type (and Tunnel-Preference) are a tag octet then
    // a 3-octet value.
    let u24 = |a: &Attr| -> Option<(u8, u32)> {
        match a.value.as_slice() {
            [t, x, y, z] => Some((*t, u32::from_be_bytes([0, *x, *y, *z]))),
            _ => None,
        }
    };
    let text = |a: &Attr| -> Option<(u8, String)> {
        let (tag, v) = a.as_tagged();
        std::str::from_utf8(v).ok().map(|s| (tag, s.to_string()))
    };
    type Group = (Option<u32>, TunnelAttrs);
    fn entry(m: &mut std::collections::BTreeMap<u8, Group>, tag: u8) -> Option<&mut Group> {
        // Tags above 0x1F are not tags (§3.1): such attributes are ignored.
        (tag <= 0x1f).then(|| {
            m.entry(tag).or_insert_with(|| {
                (
                    None,
                    TunnelAttrs {
                        tag,
                        ..TunnelAttrs::default()
                    },
                )
            })
        })
    }
    let mut by_tag: std::collections::BTreeMap<u8, Group> = std::collections::BTreeMap::new();
    for a in &p.attrs {
        match a.typ {
            AttrType::TUNNEL_TYPE => {
                if let Some((e, v)) =
                    u24(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.0 = Some(v);
                }
            }
            AttrType::TUNNEL_MEDIUM_TYPE => {
                if let Some((e, v)) =
                    u24(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.1.medium = Some(v);
                }
            }
            AttrType::TUNNEL_PREFERENCE => {
                if let Some((e, v)) =
                    u24(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.1.preference = Some(v);
                }
            }
            AttrType::TUNNEL_SERVER_ENDPOINT => {
                if let Some((e, v)) =
                    text(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.1.server_endpoint = Some(v);
                }
            }
            AttrType::TUNNEL_ASSIGNMENT_ID => {
                if let Some((e, v)) =
                    text(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.1.assignment_id = Some(v);
                }
            }
            AttrType::TUNNEL_CLIENT_AUTH_ID => {
                if let Some((e, v)) =
                    text(a).and_then(|(tag, v)| entry(&mut by_tag, tag).map(|e| (e, v)))
                {
                    e.1.client_auth_id = Some(v);
                }
            }
            AttrType::TUNNEL_PASSWORD => {
                if let Ok((tag, pw)) = crate::crypt::decrypt_tunnel_password(&a.value, secret, ra) {
                    if let Some(e) = entry(&mut by_tag, tag) {
                        e.1.password = Some(pw);
                    }
                }
            }
            _ => {}
        }
    }
    by_tag
        .into_values()
        .filter(|(typ, t)| {
            *typ == Some(crate::attr::TUNNEL_TYPE_L2TP) && t.server_endpoint.is_some()
        })
        .map(|(_, t)| t)
        .collect()
}

/// An MS-CHAP error code (RFC 2759 §6, as carried in MS-CHAP-Error, RFC 2548 §2.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsChapErrorCode {
    /// 646 ERROR_RESTRICTED_LOGON_HOURS.
    RestrictedLogonHours,
    /// 647 ERROR_ACCT_DISABLED.
    AccountDisabled,
    /// 648 ERROR_PASSWD_EXPIRED.
    PasswordExpired,
    /// 649 ERROR_NO_DIALIN_PERMISSION.
    NoDialinPermission,
    /// 691 ERROR_AUTHENTICATION_FAILURE.
    AuthenticationFailure,
    /// 709 ERROR_CHANGING_PASSWORD.
    ChangingPassword,
    /// Another code.
    Other(u32),
}

impl MsChapErrorCode {
    fn from_u32(v: u32) -> Self {
        match v {
            646 => Self::RestrictedLogonHours,
            647 => Self::AccountDisabled,
            648 => Self::PasswordExpired,
            649 => Self::NoDialinPermission,
            691 => Self::AuthenticationFailure,
            709 => Self::ChangingPassword,
            o => Self::Other(o),
        }
    }
}

/// A parsed MS-CHAP-Error: "E=eeeeeeeeee R=r C=cccc… V=vvvvvvvvvv M=<msg>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsChapError {
    /// E=.
    pub code: MsChapErrorCode,
    /// R=1: the client may retry.
    pub retry: bool,
    /// The whole text after the Ident, to pass to the PPP client in its Failure packet.
    pub message: String,
}

impl MsChapError {
    /// Parses the sub-attribute data (Ident octet first).
    pub fn parse(data: &[u8]) -> Result<MsChapError, DecodeError> {
        let bad = |reason| DecodeError::BadValue {
            attr: AttrType::VENDOR_SPECIFIC.0,
            reason,
        };
        let text = std::str::from_utf8(data.get(1..).ok_or(bad("MS-CHAP-Error is empty"))?)
            .map_err(|_| bad("MS-CHAP-Error is not text"))?;
        let mut code = None;
        let mut retry = false;
        for field in text.split(' ') {
            if let Some(e) = field.strip_prefix("E=") {
                code = e.parse::<u32>().ok();
            } else if let Some(r) = field.strip_prefix("R=") {
                retry = r == "1";
            } else if field.starts_with("M=") {
                break;
            }
        }
        Ok(MsChapError {
            code: MsChapErrorCode::from_u32(code.ok_or(bad("MS-CHAP-Error without E="))?),
            retry,
            message: text.to_string(),
        })
    }
}

/// Why access was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Access-Reject.
    Rejected {
        /// MS-CHAP-Error, when the server sent one.
        mschap: Option<MsChapError>,
    },
    /// Access-Challenge: we do not run challenge/response (EAP) through RADIUS.
    ChallengeUnsupported,
    /// An Access-Accept for MS-CHAPv2 without a valid MS-CHAP2-Success: the client would
    /// refuse our Success anyway (and the server did not prove it knew the password).
    MissingMsChap2Success,
    /// An authenticated Access-Accept we cannot parse (a bad attribute value).
    MalformedAccept(DecodeError),
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Access-Accept.
    Accept(Box<Authorization>),
    /// Access-Reject or anything treated as one.
    Reject {
        /// Why.
        reason: RejectReason,
        /// Reply-Message.
        reply_message: Option<String>,
    },
}

impl AccessOutcome {
    /// The decision for `ppp` (`Link::auth_decision`).
    pub fn to_ppp_decision(&self) -> ppp::AuthDecision {
        match self {
            AccessOutcome::Accept(a) => match a.mschapv2_authenticator_response {
                Some(r) => ppp::AuthDecision::AcceptMsChapV2 {
                    authenticator_response: r,
                },
                None => ppp::AuthDecision::Accept,
            },
            // The server's words for the client: MS-CHAP-Error (RFC 2548 §2.1.5) as the
            // MS-CHAPv2 Failure's text, else the Reply-Message (RFC 2865 §5.18: "MAY
            // indicate ... the reason for the rejection") in the Nak or Failure.
            AccessOutcome::Reject {
                reason: RejectReason::Rejected { mschap: Some(e) },
                ..
            } => ppp::AuthDecision::RejectWith(e.message.clone()),
            AccessOutcome::Reject {
                reply_message: Some(m),
                ..
            } if !m.is_empty() => ppp::AuthDecision::RejectWith(m.clone()),
            AccessOutcome::Reject { .. } => ppp::AuthDecision::Reject,
        }
    }

    /// Interprets an authenticated reply to an Access-Request.
    pub fn from_reply(p: &Packet, mschapv2: bool, rate: Option<&RateLimitAttr>) -> AccessOutcome {
        let reply_message = p
            .get(AttrType::REPLY_MESSAGE)
            .and_then(|a| a.as_text().ok())
            .map(str::to_string);
        match p.code {
            Code::ACCESS_ACCEPT => match parse_accept(p, rate) {
                Ok(a) if mschapv2 && a.mschapv2_authenticator_response.is_none() => {
                    AccessOutcome::Reject {
                        reason: RejectReason::MissingMsChap2Success,
                        reply_message,
                    }
                }
                Ok(a) => AccessOutcome::Accept(Box::new(a)),
                Err(e) => AccessOutcome::Reject {
                    reason: RejectReason::MalformedAccept(e),
                    reply_message,
                },
            },
            Code::ACCESS_CHALLENGE => AccessOutcome::Reject {
                reason: RejectReason::ChallengeUnsupported,
                reply_message,
            },
            _ => {
                let mschap = p
                    .vendor_attrs(VENDOR_MICROSOFT, ms::CHAP_ERROR)
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .and_then(|d| MsChapError::parse(&d).ok());
                AccessOutcome::Reject {
                    reason: RejectReason::Rejected { mschap },
                    reply_message,
                }
            }
        }
    }
}

fn secs(a: &Attr) -> Result<Duration, DecodeError> {
    Ok(Duration::from_secs(a.as_u32()?.into()))
}

fn ms_success(data: &[u8]) -> Option<[u8; 20]> {
    // Ident, then "S=" and 40 hex digits (RFC 2548 §2.3.3, RFC 2759 §5).
    let hexs = data.get(1..)?.strip_prefix(b"S=")?;
    if hexs.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in hexs.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Parses the authorization attributes of an Access-Accept (unknown attributes ignored).
pub fn parse_accept(
    p: &Packet,
    rate: Option<&RateLimitAttr>,
) -> Result<Authorization, DecodeError> {
    let mut a = Authorization::default();
    for at in &p.attrs {
        match at.typ {
            AttrType::FRAMED_IP_ADDRESS => {
                let ip = at.as_ipv4()?;
                a.address = Some(match ip.octets() {
                    [255, 255, 255, 254] => FramedAddress::FromPool,
                    [255, 255, 255, 255] => FramedAddress::UserSelects,
                    _ => FramedAddress::Static(ip),
                });
            }
            AttrType::FRAMED_POOL => a.pool = Some(at.as_text()?.to_string()),
            AttrType::FRAMED_IP_NETMASK => a.netmask = Some(at.as_ipv4()?),
            AttrType::FRAMED_ROUTE => a.routes.push(at.as_text()?.to_string()),
            AttrType::FRAMED_IPV6_PREFIX => a.ipv6_prefixes.push(Ipv6Prefix::decode(at)?),
            AttrType::DELEGATED_IPV6_PREFIX => a.delegated_prefix = Some(Ipv6Prefix::decode(at)?),
            AttrType::DNS_SERVER_IPV6_ADDRESS => {
                let o: [u8; 16] =
                    at.value
                        .as_slice()
                        .try_into()
                        .map_err(|_| DecodeError::BadValue {
                            attr: at.typ.0,
                            reason: "an IPv6 address is 16 octets",
                        })?;
                a.ipv6_dns.push(Ipv6Addr::from(o));
            }
            AttrType::SESSION_TIMEOUT => a.session_timeout = Some(secs(at)?),
            AttrType::IDLE_TIMEOUT => a.idle_timeout = Some(secs(at)?),
            AttrType::ACCT_INTERIM_INTERVAL => a.interim_interval = Some(secs(at)?),
            AttrType::CLASS => a.class.push(at.value.clone()),
            AttrType::FRAMED_MTU => {
                let v = at.as_u32()?;
                if !(64..=65535).contains(&v) {
                    return Err(DecodeError::BadValue {
                        attr: at.typ.0,
                        reason: "Framed-MTU outside 64..=65535",
                    });
                }
                a.mtu = Some(v as u16);
            }
            AttrType::FILTER_ID => {
                let t = at.as_text()?;
                match rate {
                    Some(RateLimitAttr::FilterId { prefix }) if t.starts_with(prefix.as_str()) => {
                        a.rate_limit = Some(RateLimit::parse(&t[prefix.len()..]).ok_or(
                            DecodeError::BadValue {
                                attr: at.typ.0,
                                reason: "rate limit is not DOWN/UP",
                            },
                        )?);
                    }
                    _ => a.filter_ids.push(t.to_string()),
                }
            }
            AttrType::REPLY_MESSAGE => a.reply_message = Some(at.as_text()?.to_string()),
            _ => {}
        }
    }
    let ms = |t| -> Result<Option<Vec<u8>>, DecodeError> {
        Ok(p.vendor_attrs(VENDOR_MICROSOFT, t)?.into_iter().next())
    };
    let dns = |d: Vec<u8>| {
        <[u8; 4]>::try_from(d.as_slice())
            .map(Ipv4Addr::from)
            .map_err(|_| DecodeError::BadValue {
                attr: AttrType::VENDOR_SPECIFIC.0,
                reason: "MS DNS server must be 4 octets",
            })
    };
    a.primary_dns = ms(ms::PRIMARY_DNS_SERVER)?.map(dns).transpose()?;
    a.secondary_dns = ms(ms::SECONDARY_DNS_SERVER)?.map(dns).transpose()?;
    a.mschapv2_authenticator_response = ms(ms::CHAP2_SUCCESS)?.and_then(|d| ms_success(&d));
    if let Some(RateLimitAttr::Vendor { vendor, vtype }) = rate {
        if let Some(d) = p.vendor_attrs(*vendor, *vtype)?.into_iter().next() {
            let t = std::str::from_utf8(&d).ok().and_then(RateLimit::parse);
            a.rate_limit = Some(t.ok_or(DecodeError::BadValue {
                attr: AttrType::VENDOR_SPECIFIC.0,
                reason: "rate limit is not DOWN/UP",
            })?);
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(attrs: Vec<Attr>) -> Packet {
        let mut p = Packet::new(Code::ACCESS_ACCEPT, 1, [0; 16]);
        p.attrs = attrs;
        p
    }

    #[test]
    fn accept_attributes_decode() {
        let p = accept(vec![
            Attr::ipv4(
                AttrType::FRAMED_IP_ADDRESS,
                Ipv4Addr::new(255, 255, 255, 254),
            ),
            Attr::new(AttrType::FRAMED_POOL, "main"),
            Attr::ipv4(
                AttrType::FRAMED_IP_NETMASK,
                Ipv4Addr::new(255, 255, 255, 255),
            ),
            Attr::new(AttrType::FRAMED_ROUTE, "198.51.100.0/24 0.0.0.0 1"),
            Attr::new(
                AttrType::FRAMED_IPV6_PREFIX,
                [0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0],
            ),
            Attr::new(
                AttrType::DELEGATED_IPV6_PREFIX,
                [0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0],
            ),
            Attr::vendor(VENDOR_MICROSOFT, ms::PRIMARY_DNS_SERVER, &[192, 0, 2, 53]),
            Attr::vendor(VENDOR_MICROSOFT, ms::SECONDARY_DNS_SERVER, &[192, 0, 2, 54]),
            Attr::u32(AttrType::SESSION_TIMEOUT, 3600),
            Attr::u32(AttrType::IDLE_TIMEOUT, 600),
            Attr::u32(AttrType::ACCT_INTERIM_INTERVAL, 300),
            Attr::new(AttrType::CLASS, "c1"),
            Attr::new(AttrType::CLASS, "c2"),
            Attr::u32(AttrType::FRAMED_MTU, 1400),
            Attr::new(AttrType::FILTER_ID, "rate=10M/2M"),
            Attr::new(AttrType::FILTER_ID, "web-only"),
        ]);
        let rate = RateLimitAttr::FilterId {
            prefix: "rate=".into(),
        };
        let a = parse_accept(&p, Some(&rate)).unwrap();
        assert_eq!(a.address, Some(FramedAddress::FromPool));
        assert_eq!(a.pool.as_deref(), Some("main"));
        assert_eq!(a.routes, vec!["198.51.100.0/24 0.0.0.0 1".to_string()]);
        assert_eq!(a.ipv6_prefixes[0].len, 64);
        assert_eq!(
            a.ipv6_prefixes[0].addr,
            "2001:db8:1::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            a.delegated_prefix.unwrap().addr,
            "2001:db8:2::".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(a.primary_dns, Some(Ipv4Addr::new(192, 0, 2, 53)));
        assert_eq!(a.secondary_dns, Some(Ipv4Addr::new(192, 0, 2, 54)));
        assert_eq!(a.session_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(a.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(a.interim_interval, Some(Duration::from_secs(300)));
        assert_eq!(a.class, vec![b"c1".to_vec(), b"c2".to_vec()]);
        assert_eq!(a.mtu, Some(1400));
        assert_eq!(
            a.rate_limit,
            Some(RateLimit {
                down_bps: 10_000_000,
                up_bps: 2_000_000
            })
        );
        assert_eq!(a.filter_ids, vec!["web-only".to_string()]);
    }

    #[test]
    fn bad_values_are_typed_errors() {
        for bad in [
            Attr::new(AttrType::FRAMED_IP_ADDRESS, [1, 2, 3]),
            Attr::new(AttrType::SESSION_TIMEOUT, [1]),
            Attr::u32(AttrType::FRAMED_MTU, 10),
            Attr::new(AttrType::FRAMED_IPV6_PREFIX, [0, 129]),
            Attr::new(AttrType::FRAMED_IPV6_PREFIX, [0, 64, 1]),
            Attr::new(AttrType::VENDOR_SPECIFIC, [0, 0, 1]),
            Attr::vendor(VENDOR_MICROSOFT, ms::PRIMARY_DNS_SERVER, &[1, 2]),
        ] {
            assert!(
                parse_accept(&accept(vec![bad.clone()]), None).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mschapv2_success_and_error() {
        let hexs = "0123456789ABCDEF0123456789ABCDEF01234567";
        let mut d = vec![0u8];
        d.extend_from_slice(format!("S={hexs}").as_bytes());
        let p = accept(vec![Attr::vendor(VENDOR_MICROSOFT, ms::CHAP2_SUCCESS, &d)]);
        match AccessOutcome::from_reply(&p, true, None) {
            AccessOutcome::Accept(a) => {
                assert_eq!(
                    a.mschapv2_authenticator_response.unwrap().to_vec(),
                    hex::decode(hexs).unwrap()
                )
            }
            o => panic!("{o:?}"),
        }
        // An accept without it is no accept for MS-CHAPv2.
        let bare = accept(vec![]);
        assert!(matches!(
            AccessOutcome::from_reply(&bare, true, None),
            AccessOutcome::Reject {
                reason: RejectReason::MissingMsChap2Success,
                ..
            }
        ));
        let mut rej = Packet::new(Code::ACCESS_REJECT, 1, [0; 16]);
        rej.push(Attr::vendor(
            VENDOR_MICROSOFT,
            ms::CHAP_ERROR,
            b"\x00E=648 R=0 C=00112233445566778899aabbccddeeff V=3 M=expired",
        ));
        match AccessOutcome::from_reply(&rej, true, None) {
            AccessOutcome::Reject {
                reason: RejectReason::Rejected { mschap: Some(e) },
                ..
            } => {
                assert_eq!(e.code, MsChapErrorCode::PasswordExpired);
                assert!(!e.retry);
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn rate_limit_from_a_vendor_attribute() {
        let rate = RateLimitAttr::Vendor {
            vendor: 9,
            vtype: 1,
        };
        let p = accept(vec![Attr::vendor(9, 1, b"1G/100M")]);
        let a = parse_accept(&p, Some(&rate)).unwrap();
        assert_eq!(
            a.rate_limit,
            Some(RateLimit {
                down_bps: 1_000_000_000,
                up_bps: 100_000_000
            })
        );
        // The same vendor attribute is ignored when not configured, refused when garbled.
        assert_eq!(parse_accept(&p, None).unwrap().rate_limit, None);
        let bad = accept(vec![Attr::vendor(9, 1, b"lots")]);
        assert!(parse_accept(&bad, Some(&rate)).is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(
            RateLimit::parse("512k/128K"),
            Some(RateLimit {
                down_bps: 512_000,
                up_bps: 128_000
            })
        );
        assert_eq!(RateLimit::parse("10M"), None);
        assert_eq!(RateLimit::parse("x/1"), None);
        assert_eq!(RateLimit::parse("99999999999999999999G/1"), None);
    }
}

#[cfg(test)]
mod tunnel_tests {
    use super::*;
    use crate::attr::TUNNEL_TYPE_L2TP;
    use crate::crypt::{encrypt_tunnel_password, Secret};

    #[test]
    fn tagged_tunnel_attributes_group_into_tunnels_with_their_password_decrypted() {
        let secret = Secret::new("s3cret");
        let ra = [7u8; 16];
        let mut p = Packet::new(Code::ACCESS_ACCEPT, 1, [0; 16]);
        for (tag, lns, pw, pref) in [
            (1, "192.0.2.1", "pw-one", 10),
            (2, "192.0.2.2:1702", "pw-two", 5),
        ] {
            p.push(Attr::tagged_u24(
                AttrType::TUNNEL_TYPE,
                tag,
                TUNNEL_TYPE_L2TP,
            ));
            p.push(Attr::tagged_u24(AttrType::TUNNEL_MEDIUM_TYPE, tag, 1));
            p.push(Attr::tagged(
                AttrType::TUNNEL_SERVER_ENDPOINT,
                tag,
                lns.as_bytes(),
            ));
            let v = encrypt_tunnel_password(tag, pw.as_bytes(), &secret, &ra, 0x1234).unwrap();
            p.push(Attr::new(AttrType::TUNNEL_PASSWORD, v));
            p.push(Attr::tagged_u24(AttrType::TUNNEL_PREFERENCE, tag, pref));
        }
        p.push(Attr::tagged(
            AttrType::TUNNEL_ASSIGNMENT_ID,
            2,
            b"wholesale",
        ));
        p.push(Attr::tagged(AttrType::TUNNEL_CLIENT_AUTH_ID, 2, b"lac-7"));
        // Tag 3 is PPTP (1): not ours.
        p.push(Attr::tagged_u24(AttrType::TUNNEL_TYPE, 3, 1));
        p.push(Attr::tagged(
            AttrType::TUNNEL_SERVER_ENDPOINT,
            3,
            b"192.0.2.3",
        ));
        let t = parse_tunnels(&p, &secret, &ra);
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].server_endpoint.as_deref(), Some("192.0.2.1"));
        assert_eq!(t[0].password.as_deref(), Some(&b"pw-one"[..]));
        assert_eq!((t[0].preference, t[0].medium), (Some(10), Some(1)));
        assert_eq!(t[1].tag, 2);
        assert_eq!(t[1].password.as_deref(), Some(&b"pw-two"[..]));
        assert_eq!(t[1].assignment_id.as_deref(), Some("wholesale"));
        assert_eq!(t[1].client_auth_id.as_deref(), Some("lac-7"));
        // The wrong secret does not give the passwords.
        let t = parse_tunnels(&p, &Secret::new("other"), &ra);
        assert!(t
            .iter()
            .all(|x| x.password.as_deref() != Some(&b"pw-one"[..])));
        assert!(!format!("{t:?}").contains("pw-"), "passwords never print");
    }
}
