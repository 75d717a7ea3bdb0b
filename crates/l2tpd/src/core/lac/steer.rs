//! Which LNS a subscriber's call goes to. The realm of its user name (what follows the last
//! `@`, compared without regard to ASCII case) names a group of LNSes in the realm table,
//! else the default group applies. A group is tried in order of preference (lowest first);
//! LNSes of equal preference are ordered at random in proportion to their weights (the
//! core's RNG: reproducible when the core is seeded). An LNS that failed a call is locked out
//! for a while ([`Lockouts`]) and tried only when every other candidate is locked out too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

/// One LNS a call may go to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LnsTarget {
    /// Its address.
    pub addr: SocketAddr,
    /// Tunnel secret toward it; `None`: the one configured for the peer (`[tunnel]`).
    pub secret: Option<Vec<u8>>,
    /// Lower is tried first.
    pub preference: u32,
    /// Share of the calls among LNSes of equal preference (0 counts as 1).
    pub weight: u32,
    /// Calls in one tunnel before another tunnel is opened to the same LNS; 0: no limit.
    pub max_sessions_per_tunnel: u32,
    /// Calls with the same assignment share tunnels (RFC 2868 Tunnel-Assignment-Id);
    /// calls with different ones never do.
    pub assignment: Option<String>,
    /// Our Host Name in the SCCRQ (RFC 2868 Tunnel-Client-Auth-Id); `None`: the configured
    /// one.
    pub client_name: Option<String>,
}

impl LnsTarget {
    /// An LNS at `addr` with the defaults: preference 0, weight 1, no limit, no secret of its
    /// own.
    pub fn new(addr: SocketAddr) -> LnsTarget {
        LnsTarget {
            addr,
            secret: None,
            preference: 0,
            weight: 1,
            max_sessions_per_tunnel: 0,
            assignment: None,
            client_name: None,
        }
    }

    /// Calls to this target share tunnels with calls of the same key.
    pub fn tunnel_key(&self) -> TunnelKey {
        (self.addr, self.assignment.clone())
    }
}

/// Which proxy AVPs (RFC 2661 §4.4.5) a LAC sends an LNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendProxy {
    /// Proxy LCP and proxy authentication (the default).
    #[default]
    All,
    /// Proxy LCP only: the LNS authenticates the user itself.
    Lcp,
    /// None: the LNS negotiates LCP and authenticates itself.
    None,
}

impl SendProxy {
    /// `proxy` cut down to what is to be sent.
    pub fn apply(
        self,
        proxy: Option<Box<l2tp_proto::control::ProxyInfo>>,
    ) -> Option<Box<l2tp_proto::control::ProxyInfo>> {
        match self {
            SendProxy::All => proxy,
            SendProxy::None => None,
            SendProxy::Lcp => proxy.map(|p| {
                Box::new(l2tp_proto::control::ProxyInfo {
                    initial_received_lcp_confreq: p.initial_received_lcp_confreq,
                    last_sent_lcp_confreq: p.last_sent_lcp_confreq,
                    last_received_lcp_confreq: p.last_received_lcp_confreq,
                    ..Default::default()
                })
            }),
        }
    }
}

/// Tunnels are shared by LNS address and assignment.
pub type TunnelKey = (SocketAddr, Option<String>);

/// Realm → LNS group, and the group for everyone else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealmTable {
    /// `(realm, group)`, first match wins.
    pub realms: Vec<(String, Vec<LnsTarget>)>,
    /// The group of users whose realm is not in the table (or who have none); empty: none.
    pub default: Vec<LnsTarget>,
}

impl RealmTable {
    /// A table of one LNS per realm (and one default LNS, if any).
    pub fn simple(realms: Vec<(String, SocketAddr)>, default: Option<SocketAddr>) -> Self {
        RealmTable {
            realms: realms
                .into_iter()
                .map(|(r, a)| (r, vec![LnsTarget::new(a)]))
                .collect(),
            default: default.map(LnsTarget::new).into_iter().collect(),
        }
    }

    /// The LNS group for `user` (empty: none).
    pub fn group(&self, user: &str) -> &[LnsTarget] {
        let realm = user.rsplit_once('@').map(|(_, r)| r);
        realm
            .and_then(|r| {
                self.realms
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(r))
                    .map(|(_, g)| g.as_slice())
            })
            .unwrap_or(&self.default)
    }
}

/// `group` in the order its LNSes are to be tried: by preference, then a weighted random
/// order among equals (each next pick drawn in proportion to the weights of those left).
pub fn order(group: &[LnsTarget], rng: &mut impl Rng) -> Vec<LnsTarget> {
    let mut sorted = group.to_vec();
    sorted.sort_by_key(|t| t.preference);
    let mut out = Vec::with_capacity(sorted.len());
    for tier in sorted.chunk_by(|a, b| a.preference == b.preference) {
        let mut left: Vec<&LnsTarget> = tier.iter().collect();
        while !left.is_empty() {
            let total: u64 = left.iter().map(|t| u64::from(t.weight.max(1))).sum();
            let mut pick = rng.gen_range(0..total);
            let i = left
                .iter()
                .position(|t| {
                    let w = u64::from(t.weight.max(1));
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            out.push(left.remove(i).clone());
        }
    }
    out
}

/// LNSes that failed a call, and until when they are passed over.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Lockouts {
    #[serde(with = "l2tp_snap::map_values")]
    until: HashMap<SocketAddr, Instant>,
}

impl Lockouts {
    /// `lns` is passed over until `now + time` (a lockout running already is extended);
    /// true when it was not locked out at `now`, so that the many calls one dead LNS fails
    /// at once count (and log) one lockout.
    pub fn lock(&mut self, lns: SocketAddr, now: Instant, time: Duration) -> bool {
        let fresh = !self.is_locked(lns, now);
        self.until.insert(lns, now + time);
        fresh
    }

    /// Whether `lns` is locked out at `now` (a lockout past its time is forgotten).
    pub fn is_locked(&mut self, lns: SocketAddr, now: Instant) -> bool {
        match self.until.get(&lns) {
            Some(&t) if t > now => true,
            Some(_) => {
                self.until.remove(&lns);
                false
            }
            None => false,
        }
    }

    /// The LNSes locked out at `now`.
    pub fn locked(&self, now: Instant) -> impl Iterator<Item = SocketAddr> + '_ {
        self.until
            .iter()
            .filter(move |(_, &t)| t > now)
            .map(|(a, _)| *a)
    }

    /// `candidates` with the locked-out LNSes moved behind the others (in the order they
    /// had): they are tried only when nothing else is left.
    pub fn arrange(&mut self, candidates: Vec<LnsTarget>, now: Instant) -> Vec<LnsTarget> {
        let (open, locked): (Vec<_>, Vec<_>) = candidates
            .into_iter()
            .partition(|t| !self.is_locked(t.addr, now));
        open.into_iter().chain(locked).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn target(addr: &str, preference: u32, weight: u32) -> LnsTarget {
        LnsTarget {
            preference,
            weight,
            ..LnsTarget::new(addr.parse().unwrap())
        }
    }

    #[test]
    fn realm_picks_its_group_and_the_rest_go_to_the_default() {
        let a: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let b: SocketAddr = "198.51.100.7:1701".parse().unwrap();
        let t = RealmTable::simple(vec![("isp.example".into(), b)], Some(a));
        let first = |t: &RealmTable, u: &str| t.group(u).first().map(|x| x.addr);
        assert_eq!(first(&t, "alice@isp.example"), Some(b));
        assert_eq!(first(&t, "alice@ISP.Example"), Some(b));
        assert_eq!(first(&t, "bob@other.example"), Some(a));
        assert_eq!(first(&t, "carol"), Some(a));
        let no_default = RealmTable {
            default: Vec::new(),
            ..t
        };
        assert_eq!(first(&no_default, "bob@other.example"), None);
    }

    #[test]
    fn lower_preference_comes_first_and_weights_share_the_first_place() {
        let group = vec![
            target("203.0.113.9:1701", 2, 100),
            target("192.0.2.1:1701", 1, 3),
            target("192.0.2.2:1701", 1, 1),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut first_a = 0;
        for _ in 0..4000 {
            let o = order(&group, &mut rng);
            assert_eq!(o.len(), 3);
            // The preference-2 LNS is always last, whatever its weight.
            assert_eq!(o[2].addr, group[0].addr);
            if o[0].addr == group[1].addr {
                first_a += 1;
            }
        }
        // Weight 3 against 1: three calls in four (3000 of 4000, give or take).
        assert!((2800..3200).contains(&first_a), "{first_a} of 4000");
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let group: Vec<_> = (1..=5)
            .map(|i| target(&format!("192.0.2.{i}:1701"), 0, i))
            .collect();
        let run = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..20).map(|_| order(&group, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn a_locked_out_lns_goes_last_until_its_time_is_up() {
        let t0 = Instant::now();
        let a = target("192.0.2.1:1701", 1, 1);
        let b = target("192.0.2.2:1701", 2, 1);
        let mut l = Lockouts::default();
        assert!(l.lock(a.addr, t0, Duration::from_secs(60)), "a new lockout");
        let got = l.arrange(vec![a.clone(), b.clone()], t0 + Duration::from_secs(59));
        assert_eq!(got, vec![b.clone(), a.clone()]);
        assert_eq!(l.locked(t0).count(), 1);
        assert!(
            !l.lock(a.addr, t0, Duration::from_secs(60)),
            "locked out already: not a new lockout"
        );
        let got = l.arrange(vec![a.clone(), b.clone()], t0 + Duration::from_secs(60));
        assert_eq!(got, vec![a, b]);
        assert_eq!(l.locked(t0).count(), 0, "an expired lockout is forgotten");
    }
}
