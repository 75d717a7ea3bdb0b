//! IPCP option policy (RFC 1332) with the DNS extensions of RFC 1877, for both roles.
//!
//! Server: requests its own IP-Address; Naks the peer's IP-Address with the address assigned to
//! it (typically 0.0.0.0 → the pool address); Naks Primary/Secondary-DNS requests with the
//! configured servers. Client: asks for 0.0.0.0 (or a configured address) and the DNS servers,
//! and adopts what the server Naks back. IP-Compression-Protocol (Van Jacobson), NBNS and the
//! deprecated IP-Addresses option are Configure-Rejected.

use std::net::Ipv4Addr;

use rand::RngCore;

use crate::fsm::Policy;
use crate::lcp::Role;
use crate::options::{self, RawOption, Reply, Verdict};

/// IPCP option types.
pub mod opt {
    /// IP-Addresses (deprecated, RFC 1172).
    pub const IP_ADDRESSES: u8 = 1;
    /// IP-Compression-Protocol (RFC 1332 §3.2).
    pub const IP_COMPRESSION: u8 = 2;
    /// IP-Address (RFC 1332 §3.3).
    pub const IP_ADDRESS: u8 = 3;
    /// Primary-DNS-Address (RFC 1877 §1.1).
    pub const PRIMARY_DNS: u8 = 129;
    /// Primary-NBNS-Address (RFC 1877 §1.2).
    pub const PRIMARY_NBNS: u8 = 130;
    /// Secondary-DNS-Address (RFC 1877 §1.3).
    pub const SECONDARY_DNS: u8 = 131;
    /// Secondary-NBNS-Address (RFC 1877 §1.4).
    pub const SECONDARY_NBNS: u8 = 132;
}

/// IPCP's [`Policy`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct IpcpPolicy {
    role: Role,
    configured_local: Option<Ipv4Addr>,
    /// Server: the address to give the peer (set from the pool by the daemon).
    pub assigned_peer: Option<Ipv4Addr>,
    /// Server: the DNS servers offered to the peer (RFC 1877).
    pub dns_offer: [Option<Ipv4Addr>; 2],
    want_dns: bool,
    // Our request.
    local: Ipv4Addr,
    req_addr: bool,
    req_dns: [Option<Ipv4Addr>; 2],
    // Peer's request.
    peer: Option<Ipv4Addr>,
    peer_dns: [Option<Ipv4Addr>; 2],
}

const DNS_OPTS: [u8; 2] = [opt::PRIMARY_DNS, opt::SECONDARY_DNS];

fn addr(o: &RawOption<'_>) -> Option<Ipv4Addr> {
    o.u32().map(Ipv4Addr::from)
}

impl IpcpPolicy {
    /// A policy. Server: `local` is our address, `dns` what we offer. Client: `local` the
    /// address to ask for (None: 0.0.0.0, i.e. "assign me one"), `want_dns` whether to ask for DNS.
    pub fn new(
        role: Role,
        local: Option<Ipv4Addr>,
        assigned_peer: Option<Ipv4Addr>,
        dns: [Option<Ipv4Addr>; 2],
        want_dns: bool,
    ) -> Self {
        let mut p = IpcpPolicy {
            role,
            configured_local: local,
            assigned_peer,
            dns_offer: dns,
            want_dns,
            local: Ipv4Addr::UNSPECIFIED,
            req_addr: true,
            req_dns: [None; 2],
            peer: None,
            peer_dns: [None; 2],
        };
        p.reset();
        p
    }

    /// Our address (negotiated once Opened).
    pub fn local(&self) -> Ipv4Addr {
        self.local
    }

    /// The peer's address, if it stated one.
    pub fn peer(&self) -> Option<Ipv4Addr> {
        self.peer
    }

    /// DNS servers: server side, those the peer accepted; client side, those we were given.
    pub fn dns(&self) -> [Option<Ipv4Addr>; 2] {
        match self.role {
            Role::Server => self.peer_dns,
            Role::Client => self.req_dns.map(|d| d.filter(|a| !a.is_unspecified())),
        }
    }
}

impl Policy for IpcpPolicy {
    fn reset(&mut self) {
        // A client renegotiating (e.g. after a duplicated server request in Opened) asks
        // again for what the server assigned before rather than 0.0.0.0: one Nak round fewer.
        if self.role == Role::Server || self.local.is_unspecified() {
            self.local = self.configured_local.unwrap_or(Ipv4Addr::UNSPECIFIED);
        }
        self.req_addr = true;
        self.req_dns = match self.role {
            Role::Client if self.want_dns => {
                let keep = |d: Option<Ipv4Addr>| Some(d.unwrap_or(Ipv4Addr::UNSPECIFIED));
                [keep(self.req_dns[0]), keep(self.req_dns[1])]
            }
            _ => [None; 2],
        };
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        if self.req_addr {
            options::push(&mut v, opt::IP_ADDRESS, &self.local.octets());
        }
        for (kind, d) in DNS_OPTS.iter().zip(self.req_dns) {
            if let Some(d) = d {
                options::push(&mut v, *kind, &d.octets());
            }
        }
        v
    }

    fn check_request(&mut self, _rng: &mut dyn RngCore, opts: &[RawOption<'_>]) -> Verdict {
        self.peer = None;
        self.peer_dns = [None; 2];
        let mut r = Reply::default();
        for o in opts {
            match (o.kind, addr(o)) {
                // RFC 1332 §3.3.
                (opt::IP_ADDRESS, Some(a)) => match self.role {
                    Role::Server => match self.assigned_peer {
                        Some(p) if p == a => self.peer = Some(a),
                        Some(p) => r.nak(opt::IP_ADDRESS, &p.octets()),
                        // No address to give: the option cannot be agreed (the daemon sets
                        // the address with `Link::set_peer_ipv4` before the network phase).
                        None => r.reject(o),
                    },
                    Role::Client => {
                        if a.is_unspecified() {
                            // We cannot tell the server its own address.
                            r.reject(o)
                        } else {
                            self.peer = Some(a)
                        }
                    }
                },
                // RFC 1877 §1.1/§1.3: only a server hands out DNS addresses.
                (opt::PRIMARY_DNS | opt::SECONDARY_DNS, Some(a)) if self.role == Role::Server => {
                    let i = usize::from(o.kind == opt::SECONDARY_DNS);
                    match self.dns_offer[i] {
                        Some(d) if d == a => self.peer_dns[i] = Some(d),
                        Some(d) => r.nak(o.kind, &d.octets()),
                        None => r.reject(o),
                    }
                }
                // RFC 1332 §3.2: we do no VJ compression; NBNS and IP-Addresses unsupported.
                _ => r.reject(o),
            }
        }
        // RFC 1661 §5.3: a Nak may carry options the request lacked, as hints. A server with
        // an address for the peer does not open IPCP until the peer takes it (as pppd does).
        if let (Role::Server, Some(p)) = (self.role, self.assigned_peer) {
            if !opts.iter().any(|o| o.kind == opt::IP_ADDRESS) {
                r.nak(opt::IP_ADDRESS, &p.octets());
            }
        }
        r.verdict()
    }

    fn nak_received(&mut self, _rng: &mut dyn RngCore, opts: &[RawOption<'_>]) {
        for o in opts {
            match (o.kind, addr(o)) {
                // Client: the server assigns our address. Server: the peer disputes our own
                // address; keep a configured one, else take the suggestion.
                (opt::IP_ADDRESS, Some(a))
                    if !a.is_unspecified()
                        && (self.role == Role::Client || self.configured_local.is_none()) =>
                {
                    self.local = a;
                    self.req_addr = true;
                }
                (opt::PRIMARY_DNS | opt::SECONDARY_DNS, Some(a)) => {
                    let i = usize::from(o.kind == opt::SECONDARY_DNS);
                    if self.req_dns[i].is_some() {
                        self.req_dns[i] = Some(a);
                    }
                }
                _ => {}
            }
        }
    }

    fn reject_received(&mut self, opts: &[RawOption<'_>]) {
        for o in opts {
            match o.kind {
                // Stop asking. A client left without an address is caught when IPCP opens
                // (the link closes IPCP then); a server that can assign one Naks the missing
                // option back as a hint, which re-enables it (`nak_received`).
                opt::IP_ADDRESS => self.req_addr = false,
                opt::PRIMARY_DNS => self.req_dns[0] = None,
                opt::SECONDARY_DNS => self.req_dns[1] = None,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::mock::StepRng;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn server_naks_address_and_dns_rejects_vj() {
        let mut p = IpcpPolicy::new(
            Role::Server,
            Some(ip("10.0.0.1")),
            Some(ip("10.0.0.7")),
            [Some(ip("9.9.9.9")), None],
            false,
        );
        let mut rng = StepRng::new(0, 1);
        // Windows-like: VJ, address 0, DNS 0/0, NBNS 0/0.
        let req = [
            2, 6, 0, 0x2d, 0x0f, 1, 3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 130, 6, 0, 0, 0, 0, 131,
            6, 0, 0, 0, 0, 132, 6, 0, 0, 0, 0,
        ];
        let v = p.check_request(&mut rng, &options::decode(&req).unwrap());
        assert_eq!(
            v,
            Verdict::Reject(vec![
                2, 6, 0, 0x2d, 0x0f, 1, 130, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0, 132, 6, 0, 0, 0, 0
            ])
        );
        let v = p.check_request(&mut rng, &options::decode(&req[6..18]).unwrap());
        assert_eq!(v, Verdict::Nak(vec![3, 6, 10, 0, 0, 7, 129, 6, 9, 9, 9, 9]));
        let v = p.check_request(&mut rng, &options::decode(&[3, 6, 10, 0, 0, 7]).unwrap());
        assert_eq!(v, Verdict::Ack);
        // A request without IP-Address gets the assigned address as a hint.
        let v = p.check_request(&mut rng, &options::decode(&[]).unwrap());
        assert_eq!(v, Verdict::Nak(vec![3, 6, 10, 0, 0, 7]));
        let v = p.check_request(&mut rng, &options::decode(&[3, 6, 10, 0, 0, 7]).unwrap());
        assert_eq!(v, Verdict::Ack);
        assert_eq!(p.peer(), Some(ip("10.0.0.7")));
        assert_eq!(p.request(), [3, 6, 10, 0, 0, 1]);
    }

    #[test]
    fn client_adopts_naks_and_fails_without_address() {
        let mut p = IpcpPolicy::new(Role::Client, None, None, [None; 2], true);
        let mut rng = StepRng::new(0, 1);
        assert_eq!(
            p.request(),
            [3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0]
        );
        p.nak_received(
            &mut rng,
            &options::decode(&[3, 6, 10, 0, 0, 7, 129, 6, 1, 1, 1, 1]).unwrap(),
        );
        p.reject_received(&options::decode(&[131, 6, 0, 0, 0, 0]).unwrap());
        assert_eq!(p.request(), [3, 6, 10, 0, 0, 7, 129, 6, 1, 1, 1, 1]);
        assert_eq!(p.dns(), [Some(ip("1.1.1.1")), None]);
        // Renegotiation asks for the assigned address and the DNS server learnt so far.
        p.reset();
        assert_eq!(
            p.request(),
            [3, 6, 10, 0, 0, 7, 129, 6, 1, 1, 1, 1, 131, 6, 0, 0, 0, 0]
        );
        // Rejected, then hinted back by the server: asked for again.
        p.reject_received(&options::decode(&[3, 6, 10, 0, 0, 7]).unwrap());
        assert_eq!(p.request(), [129, 6, 1, 1, 1, 1, 131, 6, 0, 0, 0, 0]);
        p.nak_received(&mut rng, &options::decode(&[3, 6, 10, 0, 0, 8]).unwrap());
        assert_eq!(&p.request()[..6], [3, 6, 10, 0, 0, 8]);
    }
}
