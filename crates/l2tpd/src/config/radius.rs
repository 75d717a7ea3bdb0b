//! `[radius]`: RADIUS servers for authentication and accounting, how the LNS names itself,
//! timers, the dynamic authorization (Disconnect/CoA) listener and the accounting spool;
//! validated with errors that name the field, and turned into the node's
//! [`crate::node::radius::RadiusConfig`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ListenAddr;
use crate::secret::Secret;

/// `lns.auth`: where authentication decisions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthSource {
    /// The users file and `[[lns.users]]`.
    Local,
    /// The `[radius]` servers.
    Radius,
}

/// One RADIUS server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusServer {
    /// `ADDRESS:PORT`.
    pub address: SocketAddr,
    /// The shared secret.
    pub secret: Secret,
    /// Lower is tried first. Default 1.
    #[serde(default = "one")]
    pub priority: u32,
}

fn one() -> u32 {
    1
}

/// A host allowed to send Disconnect and CoA requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaeClientConfig {
    /// Its source address.
    pub address: IpAddr,
    /// The shared secret.
    pub secret: Secret,
}

/// `[radius]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusConfig {
    /// Authentication servers (`[[radius.auth_servers]]`).
    pub auth_servers: Vec<RadiusServer>,
    /// Accounting servers (`[[radius.acct_servers]]`); none: no accounting.
    pub acct_servers: Vec<RadiusServer>,
    /// NAS-Identifier sent in every request. Default: the tunnel host name.
    pub nas_identifier: Option<String>,
    /// NAS-IP-Address sent in every request. Default none.
    pub nas_ip: Option<Ipv4Addr>,
    /// NAS-IPv6-Address sent in every request. Default none.
    pub nas_ipv6: Option<Ipv6Addr>,
    /// Milliseconds to wait for a reply before retransmitting. Default 3000.
    pub timeout_ms: u64,
    /// Transmissions to one server before the next one is tried. Default 3.
    pub retries: u32,
    /// Seconds a server that stopped answering is passed over. Default 30.
    pub dead_time: u64,
    /// Requests in flight at most. Default 1024.
    pub max_outstanding: u32,
    /// Seconds between Interim-Updates when the server sends no Acct-Interim-Interval;
    /// 0 = none. Default 0.
    pub interim_interval: u64,
    /// Where a rate limit is read: `Filter-Id:PREFIX` (e.g. `Filter-Id:rate=` for
    /// `Filter-Id = "rate=10M/2M"`) or `Vendor:VENDOR-ID:TYPE`. Default none.
    pub rate_limit_attribute: Option<String>,
    /// Listen for Disconnect and CoA requests (RFC 5176) here, e.g. `0.0.0.0:3799`.
    /// Default none.
    pub dae_listen: Option<ListenAddr>,
    /// Who may send them (`[[radius.dae_clients]]`).
    pub dae_clients: Vec<DaeClientConfig>,
    /// Directory where accounting Stops no server took are kept until one does. Default
    /// `/var/lib/l2tpd/radius-spool`.
    pub spool_dir: PathBuf,
    /// Most Stops kept there. Default 100000.
    pub spool_max: u32,
}

impl Default for RadiusConfig {
    fn default() -> Self {
        RadiusConfig {
            auth_servers: Vec::new(),
            acct_servers: Vec::new(),
            nas_identifier: None,
            nas_ip: None,
            nas_ipv6: None,
            timeout_ms: 3000,
            retries: 3,
            dead_time: 30,
            max_outstanding: 1024,
            interim_interval: 0,
            rate_limit_attribute: None,
            dae_listen: None,
            dae_clients: Vec::new(),
            spool_dir: PathBuf::from("/var/lib/l2tpd/radius-spool"),
            spool_max: 100_000,
        }
    }
}

/// Parses `rate_limit_attribute`.
fn rate_attr(s: &str) -> Result<l2tp_radius::reply::RateLimitAttr, String> {
    use l2tp_radius::reply::RateLimitAttr;
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [k, prefix] if k.eq_ignore_ascii_case("filter-id") => Ok(RateLimitAttr::FilterId {
            prefix: prefix.to_string(),
        }),
        [k, v, t] if k.eq_ignore_ascii_case("vendor") => {
            let vendor = v.parse().map_err(|_| format!("{v:?} is not a vendor id"))?;
            let vtype = t
                .parse()
                .map_err(|_| format!("{t:?} is not a type 0-255"))?;
            Ok(RateLimitAttr::Vendor { vendor, vtype })
        }
        _ => Err(format!(
            "{s:?}: expected \"Filter-Id:PREFIX\" or \"Vendor:VENDOR-ID:TYPE\""
        )),
    }
}

impl RadiusConfig {
    /// Checks every value, reporting each problem with its field.
    pub(super) fn validate(&self, auth: bool, bad: &mut impl FnMut(&str, String)) {
        if auth && self.auth_servers.is_empty() {
            bad(
                "radius.auth_servers",
                "needs at least one server when lns.auth = \"radius\"".into(),
            );
        }
        for (list, servers) in [
            ("auth_servers", &self.auth_servers),
            ("acct_servers", &self.acct_servers),
        ] {
            for (i, s) in servers.iter().enumerate() {
                if s.secret.is_empty() {
                    bad(
                        &format!("radius.{list}[{i}].secret"),
                        "must not be empty".into(),
                    );
                }
                if s.address.port() == 0 || s.address.ip().is_unspecified() {
                    bad(
                        &format!("radius.{list}[{i}].address"),
                        format!("{} is not a server address", s.address),
                    );
                }
            }
        }
        if self.nas_identifier.as_ref().is_some_and(|n| n.is_empty()) {
            bad("radius.nas_identifier", "must not be empty".into());
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            bad(
                "radius.timeout_ms",
                format!("must be 100-60000 ms, got {}", self.timeout_ms),
            );
        }
        if !(1..=10).contains(&self.retries) {
            bad(
                "radius.retries",
                format!("must be 1-10, got {}", self.retries),
            );
        }
        if self.max_outstanding < 1 {
            bad("radius.max_outstanding", "must be ≥ 1, got 0".into());
        }
        if self.interim_interval != 0 && self.interim_interval < 5 {
            bad(
                "radius.interim_interval",
                format!("must be 0 (none) or ≥ 5 s, got {}", self.interim_interval),
            );
        }
        if let Some(r) = &self.rate_limit_attribute {
            if let Err(e) = rate_attr(r) {
                bad("radius.rate_limit_attribute", e);
            }
        }
        match (&self.dae_listen, self.dae_clients.is_empty()) {
            (Some(_), true) => bad(
                "radius.dae_clients",
                "needed with radius.dae_listen (who may send Disconnect/CoA)".into(),
            ),
            (None, false) => bad(
                "radius.dae_listen",
                "needed with radius.dae_clients (where to listen)".into(),
            ),
            _ => {}
        }
        for (i, c) in self.dae_clients.iter().enumerate() {
            if c.secret.is_empty() {
                bad(
                    &format!("radius.dae_clients[{i}].secret"),
                    "must not be empty".into(),
                );
            }
        }
        if self.spool_max < 1 {
            bad("radius.spool_max", "must be ≥ 1, got 0".into());
        }
    }

    /// The node's RADIUS settings; `host_name` is the NAS-Identifier by default, and
    /// `session_id_prefix` makes Acct-Session-Ids unique across restarts.
    pub fn node_config(
        &self,
        host_name: &str,
        session_id_prefix: String,
    ) -> crate::node::radius::RadiusConfig {
        use l2tp_radius::client::{ClientConfig, ServerConfig};
        use l2tp_radius::request::NasIdentity;
        let servers = |v: &[RadiusServer]| {
            v.iter()
                .map(|s| ServerConfig {
                    addr: s.address,
                    secret: l2tp_radius::Secret::new(s.secret.expose()),
                    priority: s.priority,
                })
                .collect::<Vec<_>>()
        };
        let nas = NasIdentity {
            ip: self.nas_ip,
            ipv6: self.nas_ipv6,
            identifier: Some(
                self.nas_identifier
                    .clone()
                    .unwrap_or_else(|| host_name.to_string()),
            ),
        };
        let rate = self
            .rate_limit_attribute
            .as_deref()
            .and_then(|r| rate_attr(r).ok());
        let mut client = ClientConfig::new(
            servers(&self.auth_servers),
            servers(&self.acct_servers),
            nas.clone(),
        );
        client.timeout = Duration::from_millis(self.timeout_ms);
        client.tries_per_server = self.retries;
        client.dead_time = Duration::from_secs(self.dead_time);
        client.max_outstanding = self.max_outstanding as usize;
        client.rate_limit = rate.clone();
        let dae = self.dae_listen.map(|l| {
            let cfg = l2tp_radius::dae::DaeConfig {
                clients: self
                    .dae_clients
                    .iter()
                    .map(|c| l2tp_radius::dae::DaeClient {
                        addr: c.address,
                        secret: l2tp_radius::Secret::new(c.secret.expose()),
                    })
                    .collect(),
                nas,
                require_message_authenticator: true,
                rate_limit: rate,
                event_timestamp_window: Duration::from_secs(300),
                require_event_timestamp: false,
            };
            (l.0, cfg)
        });
        crate::node::radius::RadiusConfig {
            client,
            dae,
            spool_dir: Some(self.spool_dir.clone()),
            spool_max: self.spool_max as usize,
            sessions: crate::core::radius::RadiusSettings {
                session_id_prefix,
                interim_interval: (self.interim_interval > 0)
                    .then(|| Duration::from_secs(self.interim_interval)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{AuthSource, Config, ConfigError};

    const BASE: &str = r#"
role = "lns"
[lns]
ipv4_pool = "203.0.113.10-203.0.113.20"
local_ipv4 = "198.51.100.1"
"#;

    fn fields(extra: &str) -> Vec<String> {
        match Config::from_toml_str(&format!("{BASE}{extra}")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid(errs)) => errs.into_iter().map(|e| e.field).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_radius_section_makes_radius_the_backend_and_needs_no_users_file() {
        let cfg = Config::from_toml_str(&format!(
            "{BASE}[radius]\n[[radius.auth_servers]]\naddress = \"127.0.0.1:1812\"\nsecret = \"s\"\n"
        ))
        .unwrap();
        assert_eq!(cfg.auth_source(), AuthSource::Radius);
        let r = cfg.radius.unwrap();
        assert_eq!(r.auth_servers[0].priority, 1);
        assert_eq!(format!("{:?}", r.auth_servers[0].secret), "<redacted>");
    }

    #[test]
    fn bad_values_are_reported_by_field() {
        assert_eq!(
            fields("auth = \"radius\"\n"),
            vec!["lns.auth".to_string()],
            "radius without [radius]"
        );
        assert_eq!(fields("[radius]\n"), vec!["radius.auth_servers"]);
        let bad = fields(
            "[radius]\ntimeout_ms = 5\nretries = 0\ninterim_interval = 2\n\
             rate_limit_attribute = \"Reply-Message\"\ndae_listen = \"127.0.0.1:3799\"\n\
             [[radius.auth_servers]]\naddress = \"127.0.0.1:1812\"\nsecret = \"\"\n",
        );
        for f in [
            "radius.auth_servers[0].secret",
            "radius.timeout_ms",
            "radius.retries",
            "radius.interim_interval",
            "radius.rate_limit_attribute",
            "radius.dae_clients",
        ] {
            assert!(bad.iter().any(|b| b == f), "{f} not reported: {bad:?}");
        }
        let client = "role = \"client\"\n[dial]\npeers = [\"192.0.2.1\"]\nuser = \"u\"\npassword = \"p\"\n[radius]\n";
        match Config::from_toml_str(client) {
            Err(ConfigError::Invalid(errs)) => assert_eq!(errs[0].field, "radius"),
            other => panic!("{other:?}"),
        }
    }
}
