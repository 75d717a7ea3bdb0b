//! The LNS's DHCPv6 server on each session's PPP link (RFC 8415), for prefix delegation: a
//! CPE behind the session asks with IA_PD and gets the Delegated-IPv6-Prefix its RADIUS
//! server granted (routed to the session already), and the DNS servers of the
//! Access-Accept (DNS-Server-IPv6-Address). Solicit (Advertise, or Reply with Rapid
//! Commit), Request, Renew, Rebind, Release and Information-request are answered from our
//! link-local address; a prefix no longer granted (a CoA changed it) is given back with
//! lifetimes of zero. Malformed messages are counted and logged at a bounded rate.

use std::net::Ipv6Addr;
use std::time::Instant;

use l2tp_proto::data::SessionKey;

use super::events::link_local;
use super::{Core, RoleSettings};
use crate::ip::dhcpv6::{
    self as wire, code, status, DhcpOption, Ia, IaPrefix, Message, MessageType,
};

/// Preferred lifetime of a delegated prefix, seconds: the prefix lives as long as the
/// session, the client renews at half of it (T1) and rebinds at 0.8 (T2).
const PREFERRED: u32 = 3600;
/// Valid lifetime, seconds.
const VALID: u32 = 7200;

/// What one session's server answers with.
struct Grant {
    /// Our DUID (RFC 8415 §11.4 DUID-LL, hardware type 27 (EUI-64): our IPv6CP identifier).
    server_id: Vec<u8>,
    /// Our link-local address.
    local: Ipv6Addr,
    /// The prefix delegated to the session.
    prefix: Option<(Ipv6Addr, u8)>,
    /// DNS servers for the session.
    dns: Vec<Ipv6Addr>,
}

/// Why a message got no answer.
enum Dropped {
    /// Malformed: counted and logged.
    Bad(String),
    /// Well formed, but not for us or not answered (RFC 8415 §16: "discard").
    Ignored,
}

impl Core {
    /// LNS: a DHCPv6 message from a session's link, answered here. Returns true when the
    /// packet was a DHCPv6 server message (taken, answered or dropped).
    pub(super) fn dhcpv6_message(&mut self, now: Instant, key: SessionKey, packet: &[u8]) -> bool {
        if !matches!(self.role, RoleSettings::Lns(_)) {
            return false;
        }
        let d = match wire::server_datagram(packet) {
            Ok(Some(d)) => d,
            Ok(None) => return false,
            Err(e) => {
                self.dhcpv6_bad(now, key, &e.to_string());
                return true;
            }
        };
        let Some(grant) = self.dhcpv6_grant(key) else {
            // No IPv6 on the session yet: nobody to answer from.
            self.counters.dhcpv6_dropped += 1;
            return true;
        };
        let answer = Message::decode(d.payload)
            .map_err(|e| Dropped::Bad(e.to_string()))
            .and_then(|m| answer(&m, &grant));
        match answer {
            Ok(reply) => {
                let bytes = reply.encode();
                let packet = wire::udp_packet(
                    grant.local,
                    d.src,
                    wire::SERVER_PORT,
                    wire::CLIENT_PORT,
                    &bytes,
                );
                self.counters.dhcpv6_answered += 1;
                tracing::debug!(node = %self.name, session = %key, kind = reply.msg_type.0, "DHCPv6 answer");
                self.outbox.push((key, packet));
            }
            Err(Dropped::Bad(why)) => self.dhcpv6_bad(now, key, &why),
            Err(Dropped::Ignored) => self.counters.dhcpv6_dropped += 1,
        }
        true
    }

    fn dhcpv6_bad(&mut self, now: Instant, key: SessionKey, why: &str) {
        self.counters.dhcpv6_dropped += 1;
        if let Some(suppressed) = self.log_limit.allow(now, "bad DHCPv6") {
            tracing::warn!(node = %self.name, session = %key, suppressed, "bad DHCPv6 message: {why}");
        }
    }

    fn dhcpv6_grant(&self, key: SessionKey) -> Option<Grant> {
        let s = self.sessions.get(&key)?;
        let (local_iid, _) = s.v6()?.iids;
        let r = s.radius.as_deref();
        let mut server_id = vec![0, 3, 0, 27];
        server_id.extend_from_slice(&local_iid);
        Some(Grant {
            server_id,
            local: link_local(local_iid),
            prefix: r.and_then(|r| r.delegated).map(|p| (p.network(), p.len())),
            dns: r.map(|r| r.ipv6_dns.clone()).unwrap_or_default(),
        })
    }
}

/// The answer to `m`, or why there is none.
fn answer(m: &Message, g: &Grant) -> Result<Message, Dropped> {
    let client_id = m.option(code::CLIENTID);
    let server_id = m.option(code::SERVERID);
    let ours = server_id.is_some_and(|s| s.data == g.server_id);
    let t = m.msg_type;
    // RFC 8415 §16.2-§16.12: which messages need which identifiers.
    let acceptable = match t {
        MessageType::SOLICIT | MessageType::REBIND => client_id.is_some() && server_id.is_none(),
        MessageType::REQUEST | MessageType::RENEW | MessageType::RELEASE => {
            client_id.is_some() && ours
        }
        // §16.12: "the server MUST discard any received Information-request message that
        // includes a Server Identifier option and the DUID in the option does not match".
        MessageType::INFORMATION_REQUEST => server_id.is_none() || ours,
        _ => false,
    };
    if !acceptable {
        return Err(Dropped::Ignored);
    }
    let requested = m.requested().map_err(|e| Dropped::Bad(e.to_string()))?;
    let rapid = t == MessageType::SOLICIT && m.option(code::RAPID_COMMIT).is_some();
    let reply_type = if t == MessageType::SOLICIT && !rapid {
        MessageType::ADVERTISE
    } else {
        MessageType::REPLY
    };
    let mut options = vec![DhcpOption::new(code::SERVERID, g.server_id.clone())];
    if let Some(c) = client_id {
        options.push(c.clone());
    }
    if rapid {
        options.push(DhcpOption::new(code::RAPID_COMMIT, Vec::new()));
    }
    match t {
        MessageType::INFORMATION_REQUEST => {}
        MessageType::RELEASE => {
            // §18.3.7: "the server ... MUST include a Status Code option with the value
            // Success". The prefix is the session's for as long as it lives.
            options.push(wire::status_code(status::SUCCESS, "released"));
        }
        _ => {
            for o in m.all(code::IA_PD) {
                let ia = Ia::decode(o).map_err(|e| Dropped::Bad(e.to_string()))?;
                options.push(ia_pd(&ia, g)?.to_option(code::IA_PD));
            }
            // Addresses are not ours to give (the session's address comes from IPv6CP and
            // its advertisements): §18.3.2 NoAddrsAvail inside each IA_NA.
            for o in m.all(code::IA_NA) {
                let ia = Ia::decode(o).map_err(|e| Dropped::Bad(e.to_string()))?;
                let none = Ia {
                    iaid: ia.iaid,
                    t1: 0,
                    t2: 0,
                    options: vec![wire::status_code(
                        status::NO_ADDRS_AVAIL,
                        "no addresses: use SLAAC",
                    )],
                };
                options.push(none.to_option(code::IA_NA));
            }
        }
    }
    // RFC 3646 §3: the DNS servers, when asked for (ORO) and known.
    if requested.contains(&code::DNS_SERVERS) && !g.dns.is_empty() {
        options.push(wire::dns_servers(&g.dns));
    }
    Ok(Message {
        msg_type: reply_type,
        transaction_id: m.transaction_id,
        options,
    })
}

/// What an IA_PD the client sent gets: the delegated prefix, and any other prefix it
/// names back with lifetimes of zero (RFC 8415 §18.3.4: "the server ... sets the preferred
/// and valid lifetimes to 0 for prefixes that are no longer appropriate").
fn ia_pd(ia: &Ia, g: &Grant) -> Result<Ia, Dropped> {
    let Some((prefix, len)) = g.prefix else {
        // §18.3.9: an IA_PD the server cannot serve carries NoPrefixAvail.
        return Ok(Ia {
            iaid: ia.iaid,
            t1: 0,
            t2: 0,
            options: vec![wire::status_code(
                status::NO_PREFIX_AVAIL,
                "no prefix delegated to this session",
            )],
        });
    };
    let mut options = vec![IaPrefix {
        preferred: PREFERRED,
        valid: VALID,
        len,
        prefix,
    }
    .to_option()];
    for o in ia.options.iter().filter(|o| o.code == code::IAPREFIX) {
        let p = IaPrefix::decode(o).map_err(|e| Dropped::Bad(e.to_string()))?;
        if (p.prefix, p.len) != (prefix, len) && !p.prefix.is_unspecified() {
            options.push(
                IaPrefix {
                    preferred: 0,
                    valid: 0,
                    ..p
                }
                .to_option(),
            );
        }
    }
    Ok(Ia {
        iaid: ia.iaid,
        t1: PREFERRED / 2,
        t2: PREFERRED * 4 / 5,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(prefix: Option<(&str, u8)>) -> Grant {
        Grant {
            server_id: vec![0, 3, 0, 27, 1, 2, 3, 4, 5, 6, 7, 8],
            local: "fe80::1".parse().unwrap(),
            prefix: prefix.map(|(p, l)| (p.parse().unwrap(), l)),
            dns: vec!["2001:db8::53".parse().unwrap()],
        }
    }

    fn msg(t: MessageType, mut options: Vec<DhcpOption>) -> Message {
        options.insert(
            0,
            DhcpOption::new(code::CLIENTID, vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]),
        );
        Message {
            msg_type: t,
            transaction_id: [1, 2, 3],
            options,
        }
    }

    fn pd(prefixes: Vec<DhcpOption>) -> DhcpOption {
        Ia {
            iaid: 42,
            t1: 0,
            t2: 0,
            options: prefixes,
        }
        .to_option(code::IA_PD)
    }

    fn prefixes_of(m: &Message) -> Vec<IaPrefix> {
        let ia = Ia::decode(m.option(code::IA_PD).unwrap()).unwrap();
        assert_eq!(ia.iaid, 42);
        ia.options
            .iter()
            .filter(|o| o.code == code::IAPREFIX)
            .map(|o| IaPrefix::decode(o).unwrap())
            .collect()
    }

    #[test]
    fn a_solicit_is_advertised_the_delegated_prefix_and_dns() {
        let g = grant(Some(("2001:db8:100::", 56)));
        let m = msg(
            MessageType::SOLICIT,
            vec![pd(vec![]), DhcpOption::new(code::ORO, vec![0, 23])],
        );
        let a = answer(&m, &g).ok().unwrap();
        assert_eq!(a.msg_type, MessageType::ADVERTISE);
        assert_eq!(a.transaction_id, [1, 2, 3]);
        assert_eq!(a.option(code::SERVERID).unwrap().data, g.server_id);
        assert_eq!(a.option(code::CLIENTID), m.option(code::CLIENTID));
        let p = prefixes_of(&a);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].prefix, p[0].len),
            ("2001:db8:100::".parse().unwrap(), 56)
        );
        assert_eq!(
            a.option(code::DNS_SERVERS).unwrap().data,
            "2001:db8::53".parse::<Ipv6Addr>().unwrap().octets()
        );
        // With Rapid Commit: a Reply at once.
        let mut rapid = m.clone();
        rapid
            .options
            .push(DhcpOption::new(code::RAPID_COMMIT, Vec::new()));
        let r = answer(&rapid, &g).ok().unwrap();
        assert_eq!(r.msg_type, MessageType::REPLY);
        assert!(r.option(code::RAPID_COMMIT).is_some());
    }

    #[test]
    fn requests_need_our_server_id_and_a_changed_prefix_is_given_back_at_zero() {
        let g = grant(Some(("2001:db8:200::", 56)));
        let old = IaPrefix {
            preferred: 3600,
            valid: 7200,
            len: 56,
            prefix: "2001:db8:100::".parse().unwrap(),
        };
        let ours = DhcpOption::new(code::SERVERID, g.server_id.clone());
        let renew = msg(
            MessageType::RENEW,
            vec![ours.clone(), pd(vec![old.to_option()])],
        );
        let r = answer(&renew, &g).ok().unwrap();
        assert_eq!(r.msg_type, MessageType::REPLY);
        let p = prefixes_of(&r);
        assert_eq!(p[0].prefix, "2001:db8:200::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            (p[1].prefix, p[1].valid, p[1].preferred),
            (old.prefix, 0, 0)
        );
        // Another server's id, or none: not ours to answer.
        let theirs = DhcpOption::new(code::SERVERID, vec![0, 3, 0, 1, 1, 1, 1, 1, 1, 1]);
        assert!(answer(&msg(MessageType::REQUEST, vec![theirs, pd(vec![])]), &g).is_err());
        assert!(answer(&msg(MessageType::RENEW, vec![pd(vec![])]), &g).is_err());
        // A Rebind carries none.
        assert!(answer(&msg(MessageType::REBIND, vec![pd(vec![])]), &g).is_ok());
        // A Release is acknowledged.
        let rel = answer(&msg(MessageType::RELEASE, vec![ours, pd(vec![])]), &g)
            .ok()
            .unwrap();
        assert_eq!(
            rel.option(code::STATUS_CODE).unwrap().data[..2],
            status::SUCCESS.to_be_bytes()
        );
        // Server messages are not answered.
        assert!(answer(&msg(MessageType::ADVERTISE, vec![]), &g).is_err());
    }

    #[test]
    fn without_a_prefix_an_ia_pd_says_no_prefix_available() {
        let g = grant(None);
        let a = answer(&msg(MessageType::SOLICIT, vec![pd(vec![])]), &g)
            .ok()
            .unwrap();
        let ia = Ia::decode(a.option(code::IA_PD).unwrap()).unwrap();
        assert_eq!(
            ia.options[0].data[..2],
            status::NO_PREFIX_AVAIL.to_be_bytes()
        );
        // Information-request: DNS only.
        let info = Message {
            msg_type: MessageType::INFORMATION_REQUEST,
            transaction_id: [0; 3],
            options: vec![DhcpOption::new(code::ORO, vec![0, 23])],
        };
        let r = answer(&info, &g).ok().unwrap();
        assert!(r.option(code::DNS_SERVERS).is_some() && r.option(code::IA_PD).is_none());
    }
}
