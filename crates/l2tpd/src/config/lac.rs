//! `[lac]`: the LAC relay — PPPoE interfaces, where calls go (a default LNS group and a realm
//! table of LNS groups, each LNS with its secret, preference, weight and tunnel size), how
//! long an LNS that failed a call is passed over, what subscribers are asked to authenticate
//! with, and PPPoE limits.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};

use serde::{Deserialize, Serialize};

use super::{AuthMethod, PeerAddr};
use crate::secret::Secret;

/// Where calls go: one LNS (`"host[:port]"`), or a group of them (a list of
/// [`LnsEntry`] tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LnsGroup {
    /// One LNS, `host[:port]`.
    One(PeerAddr),
    /// Several, tried by preference then weight.
    Group(Vec<LnsEntry>),
}

/// One LNS of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LnsEntry {
    /// `host[:port]`, resolved once, at start. Required.
    pub address: PeerAddr,
    /// Tunnel secret toward this LNS; default: `tunnel.secret`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Lower is tried first. Default 0.
    #[serde(default)]
    pub preference: u32,
    /// Share of the calls among LNSes of equal preference. Default 1.
    #[serde(default = "one")]
    pub weight: u32,
    /// Calls in one tunnel before another tunnel to the same LNS is opened; 0 (the
    /// default): no limit.
    #[serde(default)]
    pub max_sessions_per_tunnel: u32,
}

impl std::str::FromStr for LnsGroup {
    type Err = String;
    /// One LNS, `host[:port]`.
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(LnsGroup::One)
    }
}

fn one() -> u32 {
    1
}

impl LnsGroup {
    /// The group's entries (one LNS: an entry with the defaults).
    pub fn entries(&self) -> Vec<LnsEntry> {
        match self {
            LnsGroup::One(p) => vec![LnsEntry {
                address: p.clone(),
                secret: None,
                preference: 0,
                weight: 1,
                max_sessions_per_tunnel: 0,
            }],
            LnsGroup::Group(v) => v.clone(),
        }
    }

    /// Whether a secret of its own is configured for one of its LNSes.
    pub fn has_secrets(&self) -> bool {
        matches!(self, LnsGroup::Group(v) if v.iter().any(|e| e.secret.is_some()))
    }
}

/// `[lac]`: relay PPPoE subscribers into L2TP calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LacConfig {
    /// Ethernet interfaces the PPPoE access concentrator listens on. Required, unless the
    /// LAC only switches calls.
    pub pppoe_interfaces: Vec<String>,
    /// AC-Name sent in PADO and PADS. Default `l2tp-rs-lac`.
    pub ac_name: String,
    /// Service-Names offered; empty (the default): any.
    pub service_names: Vec<String>,
    /// The LNS of users whose realm is not in `realms`: `host[:port]`, or a group (a list
    /// of `{ address, secret, preference, weight, max_sessions_per_tunnel }`). A host name
    /// is resolved once, at start.
    pub lns: Option<LnsGroup>,
    /// Realm (what follows the last `@` of the user name) → LNS `host[:port]`, or a group
    /// as for `lns`.
    pub realms: BTreeMap<String, LnsGroup>,
    /// Tunnel switching: take calls from other LACs (SCCRQ and ICRQ on `listen`) and relay
    /// each into a call toward the LNS of its user's realm (the Proxy Authen Name of its
    /// ICCN), passing its proxy AVPs on. Default false.
    pub switching: bool,
    /// Where a switching LAC listens. Default `["0.0.0.0:1701"]`.
    pub listen: Vec<SocketAddr>,
    /// Seconds an LNS that failed a call (no answer to SCCRQ, StopCCN, a CDN refusing the
    /// call) is passed over; the call goes to the next LNS of its group. Default 60.
    pub lockout: u64,
    /// Authentication asked of subscribers, most preferred first: `chap-md5` and/or `pap`
    /// (those RFC 2661 can proxy to the LNS). Default `["chap-md5", "pap"]`.
    pub auth: Vec<AuthMethod>,
    /// PPPoE sessions at once, per interface. Default 8000.
    pub max_sessions: u32,
    /// PPPoE sessions at once per subscriber MAC address. Default 2.
    pub max_sessions_per_mac: u32,
    /// RFC 4638 PPP-Max-Payload: the largest PPP payload offered to subscribers that ask
    /// for more than 1492 (the interface MTU minus 8); 0 (the default): 1492 for everyone.
    pub max_payload: u16,
    /// PADIs answered per second on each interface, all subscribers together (bursts of
    /// twice as many); above it PADIs are dropped (`padi_rate_limited`). One MAC address
    /// gets 1 per second (bursts of 5) whatever this is. Default 200.
    pub padi_rate: u32,
    /// Serve each interface as a VLAN trunk: subscribers with 802.1Q or 802.1ad (QinQ) tags
    /// as well as untagged ones, each answered on its own tags. Default false: untagged
    /// subscribers only (the kernel hides tagged frames from the plain PPPoE sockets).
    pub vlan_trunk: bool,
}

impl Default for LacConfig {
    fn default() -> Self {
        LacConfig {
            pppoe_interfaces: Vec::new(),
            ac_name: "l2tp-rs-lac".into(),
            service_names: Vec::new(),
            lns: None,
            realms: BTreeMap::new(),
            lockout: 60,
            switching: false,
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 1701))],
            auth: vec![AuthMethod::ChapMd5, AuthMethod::Pap],
            max_sessions: 8000,
            max_sessions_per_mac: 2,
            max_payload: 0,
            padi_rate: 200,
            vlan_trunk: false,
        }
    }
}

impl LacConfig {
    /// Whether an LNS of its own secret is configured.
    pub fn has_secrets(&self) -> bool {
        self.lns
            .iter()
            .chain(self.realms.values())
            .any(LnsGroup::has_secrets)
    }

    /// Checks what can be checked without the network.
    pub(super) fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        if self.pppoe_interfaces.is_empty() && !self.switching {
            bad(
                "lac.pppoe_interfaces",
                "at least one interface needed".into(),
            );
        }
        for i in &self.pppoe_interfaces {
            if i.is_empty() || i.len() >= 16 {
                bad(
                    "lac.pppoe_interfaces",
                    format!("{i:?} is not an interface name"),
                );
            }
        }
        if self.lns.is_none() && self.realms.is_empty() {
            bad("lac.lns", "an LNS (or a realm table) is needed".into());
        }
        let groups = self.lns.iter().map(|g| ("lac.lns".to_string(), g)).chain(
            self.realms
                .iter()
                .map(|(r, g)| (format!("lac.realms.{r}"), g)),
        );
        for (name, g) in groups {
            if let LnsGroup::Group(v) = g {
                if v.is_empty() {
                    bad(&name, "an empty group: at least one LNS".into());
                }
                if v.iter()
                    .any(|e| e.secret.as_ref().is_some_and(|s| s.is_empty()))
                {
                    bad(&name, "an empty secret: leave it out instead".into());
                }
            }
        }
        if self.auth.is_empty() || self.auth.contains(&AuthMethod::MsChapV2) {
            bad(
                "lac.auth",
                "`chap-md5` and/or `pap`: MS-CHAPv2 cannot be proxied (RFC 2661 §4.4.5)".into(),
            );
        }
        if self.max_sessions == 0 || self.max_sessions > 65_534 {
            bad("lac.max_sessions", "between 1 and 65534".into());
        }
        if self.max_sessions_per_mac == 0 {
            bad("lac.max_sessions_per_mac", "must be ≥ 1".into());
        }
        if self.switching && self.listen.is_empty() {
            bad(
                "lac.listen",
                "a switching LAC needs an address to listen on".into(),
            );
        }
        if self.padi_rate == 0 || self.padi_rate > 1_000_000 {
            bad("lac.padi_rate", "between 1 and 1000000".into());
        }
        if self.max_payload != 0 && !(1493..=9000).contains(&self.max_payload) {
            bad("lac.max_payload", "0, or 1493 to 9000".into());
        }
    }
}

/// `group` with its addresses resolved (once, at start).
pub(super) fn resolve_group(group: &LnsGroup) -> Result<Vec<crate::core::lac::LnsTarget>, String> {
    group
        .entries()
        .iter()
        .map(|e| {
            Ok(crate::core::lac::LnsTarget {
                secret: e.secret.as_ref().map(|s| s.expose().as_bytes().to_vec()),
                preference: e.preference,
                weight: e.weight,
                max_sessions_per_tunnel: e.max_sessions_per_tunnel,
                ..crate::core::lac::LnsTarget::new(resolve(&e.address)?)
            })
        })
        .collect()
}

/// `host[:port]` resolved to its first address (done once, at start).
pub(super) fn resolve(p: &PeerAddr) -> Result<SocketAddr, String> {
    (p.host.as_str(), p.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", p.host))?
        .next()
        .ok_or_else(|| format!("{}: no address", p.host))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use crate::core::lac::{LnsTarget, RealmTable};
    use crate::core::RoleSettings;

    fn steering(text: &str) -> (RealmTable, std::time::Duration) {
        let cfg = Config::from_toml_str(text).expect("valid");
        let node = cfg.node_config().expect("node config");
        let RoleSettings::Lac(l) = node.role else {
            panic!("not a relaying LAC");
        };
        (l.steering, l.lockout)
    }

    const BASE: &str = "role = \"lac\"\n[lac]\npppoe_interfaces = [\"eth1\"]\n";

    #[test]
    fn one_host_and_groups_both_read() {
        let text = format!(
            "{BASE}lns = \"192.0.2.1\"\nlockout = 90\n[lac.realms]\n\
             \"isp.example\" = \"198.51.100.7:1702\"\n\
             \"wholesale.example\" = [\n\
               {{ address = \"203.0.113.1\", preference = 10, weight = 3, secret = \"a\" }},\n\
               {{ address = \"203.0.113.2:1701\", max_sessions_per_tunnel = 1000 }},\n]\n"
        );
        let (t, lockout) = steering(&text);
        assert_eq!(lockout.as_secs(), 90);
        let one = |a: &str| vec![LnsTarget::new(a.parse().unwrap())];
        assert_eq!(t.default, one("192.0.2.1:1701"));
        assert_eq!(t.group("bob@isp.example"), one("198.51.100.7:1702"));
        let g = t.group("carol@wholesale.example");
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0],
            LnsTarget {
                secret: Some(b"a".to_vec()),
                preference: 10,
                weight: 3,
                ..LnsTarget::new("203.0.113.1:1701".parse().unwrap())
            }
        );
        assert_eq!(
            g[1],
            LnsTarget {
                max_sessions_per_tunnel: 1000,
                ..LnsTarget::new("203.0.113.2:1701".parse().unwrap())
            }
        );
        assert!(Config::from_toml_str(&text).unwrap().has_secrets());
    }

    #[test]
    fn an_empty_group_or_an_lns_without_address_is_refused() {
        let e = Config::from_toml_str(&format!("{BASE}[lac.realms]\n\"x.example\" = []\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lac.realms.x.example"), "{e}");
        let e = Config::from_toml_str(&format!(
            "{BASE}[lac.realms]\n\"x.example\" = [{{ weight = 2 }}]\n"
        ));
        assert!(e.is_err());
    }

    #[test]
    fn a_radius_section_makes_the_lac_ask_radius_and_needs_an_auth_server() {
        let radius =
            "[radius]\n[[radius.auth_servers]]\naddress = \"192.0.2.10:1812\"\nsecret = \"s\"\n";
        let text = format!("{BASE}lns = \"192.0.2.1\"\n{radius}");
        let cfg = Config::from_toml_str(&text).expect("valid");
        let RoleSettings::Lac(l) = cfg.node_config().unwrap().role else {
            panic!("not a relaying LAC");
        };
        assert!(l.radius);
        let (plain, _) = steering(&format!("{BASE}lns = \"192.0.2.1\"\n"));
        assert_eq!(plain.default.len(), 1);
        let e = Config::from_toml_str(&format!("{BASE}lns = \"192.0.2.1\"\n[radius]\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("radius.auth_servers"), "{e}");
    }

    #[test]
    fn realm_flag_with_several_hosts_tries_them_in_order() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: super::super::cli::LacArgs,
        }
        let t = T::try_parse_from([
            "lac",
            "--pppoe-interface",
            "eth1",
            "--realm",
            "isp.example=192.0.2.1,192.0.2.2:1702",
        ])
        .unwrap();
        let (cfg, _) = super::super::cli::config_from_lac_args(&t.a).unwrap();
        let node = cfg.node_config().unwrap();
        let RoleSettings::Lac(l) = node.role else {
            panic!("not a relaying LAC");
        };
        let g = l.steering.group("a@isp.example");
        let got: Vec<_> = g
            .iter()
            .map(|t| (t.addr.to_string(), t.preference))
            .collect();
        assert_eq!(
            got,
            vec![("192.0.2.1:1701".into(), 0), ("192.0.2.2:1702".into(), 1)]
        );
    }
}

#[cfg(test)]
mod switching_tests {
    use super::super::Config;
    use crate::core::RoleSettings;

    #[test]
    fn a_switching_lac_listens_and_needs_no_pppoe_interface() {
        let text = "role = \"lac\"\n[lac]\nswitching = true\nlisten = [\"192.0.2.50:1701\"]\nlns = \"192.0.2.1\"\n";
        let cfg = Config::from_toml_str(text).expect("valid");
        let node = cfg.node_config().unwrap();
        assert_eq!(node.listen, vec!["192.0.2.50:1701".parse().unwrap()]);
        let RoleSettings::Lac(l) = node.role else {
            panic!("not a relaying LAC");
        };
        assert!(l.switching && l.interfaces.is_empty());
        let e = Config::from_toml_str("role = \"lac\"\n[lac]\nlns = \"192.0.2.1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lac.pppoe_interfaces"), "{e}");
    }
}
