//! `[[peer]]`: per-peer profiles, for either role. A profile names its peers by address
//! (`ADDR` or `ADDR/LEN`) and/or by the Host Name of their SCCRQ, and sets for them the
//! tunnel secret (or none), AVP hiding, our Host Name as they see it, the Receive Window
//! Size we advertise and the HELLO interval toward them, and (on an LNS) what is done with
//! their proxy LCP and authentication and how many tunnels and sessions they may have. The first profile that matches a peer
//! applies; a peer no profile matches gets `[tunnel]` and `lns.proxy`.

use serde::{Deserialize, Serialize};

use crate::addr::IpCidr;
use crate::core::proxy_lns::ProxyMode;
use crate::secret::Secret;

/// One `[[peer]]` table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerProfile {
    /// Peers whose address is in this prefix (`ADDR` or `ADDR/LEN`); absent: any address.
    #[serde(default)]
    pub address: Option<IpCidr>,
    /// Peers whose SCCRQ carries this Host Name (ASCII case ignored); absent: any name.
    /// Tunnels we open match by address only.
    #[serde(default)]
    pub host_name: Option<String>,
    /// Their tunnel secret; `""`: none (no tunnel authentication: a Challenge from them is
    /// refused, none is sent). Absent: `tunnel.secret`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Hide AVPs toward them (needs a secret). Absent: `tunnel.hide_avps`.
    #[serde(default)]
    pub hide_avps: Option<bool>,
    /// Our Host Name as they see it. Absent: `tunnel.host_name`.
    #[serde(default)]
    pub our_host_name: Option<String>,
    /// LNS: their proxy LCP and authentication — `accept`, `renegotiate` or `ignore`.
    /// Absent: `lns.proxy`.
    #[serde(default)]
    pub proxy: Option<ProxyMode>,
    /// Receive Window Size we advertise to them (1-65535). Absent: `tunnel.receive_window`.
    #[serde(default)]
    pub receive_window: Option<u16>,
    /// Seconds of silence before a HELLO to them; 0: none. Absent: `tunnel.hello_interval`.
    #[serde(default)]
    pub hello_interval: Option<u64>,
    /// LAC: the proxy AVPs sent to them — `all` (proxy LCP and authentication), `lcp`
    /// (proxy LCP only) or `none`. Absent: `all`. Matched by address only.
    #[serde(default)]
    pub send_proxy: Option<crate::core::lac::SendProxy>,
    /// LNS: tunnels at once from this profile's peers together; 0 (the default): no limit
    /// of their own (`lns.max_tunnels` still applies).
    #[serde(default)]
    pub max_tunnels: u32,
    /// LNS: sessions at once from this profile's peers together; 0 (the default): no limit
    /// of their own (`lns.max_sessions` still applies).
    #[serde(default)]
    pub max_sessions: u32,
}

impl PeerProfile {
    /// Checks what can be checked without the network.
    pub(super) fn validate(&self, i: usize, bad: &mut impl FnMut(&str, String)) {
        if self.address.is_none() && self.host_name.is_none() {
            bad(
                &format!("peer[{i}]"),
                "names no peer: give `address` and/or `host_name`".into(),
            );
        }
        if self.receive_window == Some(0) {
            bad(
                &format!("peer[{i}].receive_window"),
                "between 1 and 65535".into(),
            );
        }
        let no_secret = self.secret.as_ref().is_some_and(Secret::is_empty);
        if no_secret && self.hide_avps == Some(true) {
            bad(
                &format!("peer[{i}].hide_avps"),
                "AVP hiding needs a secret".into(),
            );
        }
    }

    /// The endpoint's rule for this profile, over the `[tunnel]` settings `default`.
    pub fn rule(&self, default: &l2tp_proto::control::PeerAuth) -> l2tp_proto::control::PeerRule {
        let secret = match &self.secret {
            None => default.secret.clone(),
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s.expose().as_bytes().to_vec()),
        };
        let hide = self.hide_avps.unwrap_or(default.hide_avps);
        l2tp_proto::control::PeerRule {
            prefix: self.address.map(|c| match c {
                IpCidr::V4(c) => (c.network().into(), c.len()),
                IpCidr::V6(c) => (c.network().into(), c.len()),
            }),
            host_name: self.host_name.as_ref().map(|h| h.as_bytes().to_vec()),
            auth: l2tp_proto::control::PeerAuth {
                hide_avps: hide && secret.is_some(),
                // With a secret the peer must answer our Challenge (RFC 2661 §5.1.1).
                require_tunnel_auth: secret.is_some(),
                secret,
            },
            our_host_name: self.our_host_name.clone(),
            receive_window: self.receive_window,
            hello_interval: self.hello_interval.map(std::time::Duration::from_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use crate::core::proxy_lns::ProxyMode;
    use crate::core::RoleSettings;

    const LNS: &str = "role = \"lns\"\n[tunnel]\nsecret = \"default\"\n[lns]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\nlocal_ipv4 = \"198.51.100.1\"\n[[lns.users]]\nname = \"a\"\npassword = \"p\"\n";

    #[test]
    fn peer_tables_become_endpoint_rules_and_proxy_modes() {
        let text = format!(
            "{LNS}\
             [[peer]]\nhost_name = \"lac-1\"\nsecret = \"s1\"\nour_host_name = \"east\"\nproxy = \"renegotiate\"\n\
             [[peer]]\naddress = \"192.0.2.0/24\"\nsecret = \"\"\n"
        );
        let cfg = Config::from_toml_str(&text).expect("valid");
        assert!(cfg.has_secrets());
        let node = cfg.node_config().unwrap();
        let r = &node.endpoint.peer_rules;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].auth.secret.as_deref(), Some(&b"s1"[..]));
        assert!(r[0].auth.require_tunnel_auth);
        assert_eq!(r[0].our_host_name.as_deref(), Some("east"));
        // `""`: no secret, no tunnel authentication, for Windows-like peers.
        assert_eq!(r[1].auth.secret, None);
        assert!(!r[1].auth.require_tunnel_auth);
        let ip = "192.0.2.7".parse().unwrap();
        assert_eq!(node.endpoint.auth_for_peer(ip, b"pc").secret, None);
        assert_eq!(
            node.endpoint.auth_for_peer(ip, b"LAC-1").secret.as_deref(),
            Some(&b"s1"[..])
        );
        let other = "203.0.113.1".parse().unwrap();
        assert_eq!(
            node.endpoint.auth_for_peer(other, b"pc").secret.as_deref(),
            Some(&b"default"[..])
        );
        let RoleSettings::Lns(l) = node.role else {
            panic!("not an LNS");
        };
        assert_eq!(l.peer_policies.len(), 2);
        assert_eq!(l.peer_policies[0].proxy, Some(ProxyMode::Renegotiate));
        assert_eq!(l.peer_policies[1].proxy, None);
    }

    #[test]
    fn a_peer_table_must_name_its_peers() {
        let e = Config::from_toml_str(&format!("{LNS}[[peer]]\nsecret = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("peer[0]"), "{e}");
    }
}
