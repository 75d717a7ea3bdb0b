//! `[lac]`: the LAC relay — PPPoE interfaces, where calls go (a default LNS and a realm
//! table), what subscribers are asked to authenticate with, and PPPoE limits.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};

use serde::{Deserialize, Serialize};

use super::{AuthMethod, PeerAddr};

/// `[lac]`: relay PPPoE subscribers into L2TP calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LacConfig {
    /// Ethernet interfaces the PPPoE access concentrator listens on. Required.
    pub pppoe_interfaces: Vec<String>,
    /// AC-Name sent in PADO and PADS. Default `l2tp-rs-lac`.
    pub ac_name: String,
    /// Service-Names offered; empty (the default): any.
    pub service_names: Vec<String>,
    /// The LNS of users whose realm is not in `realms`: `host[:port]`. A host name is
    /// resolved once, at start.
    pub lns: Option<PeerAddr>,
    /// Realm (what follows the last `@` of the user name) → LNS `host[:port]`.
    pub realms: BTreeMap<String, PeerAddr>,
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
}

impl Default for LacConfig {
    fn default() -> Self {
        LacConfig {
            pppoe_interfaces: Vec::new(),
            ac_name: "l2tp-rs-lac".into(),
            service_names: Vec::new(),
            lns: None,
            realms: BTreeMap::new(),
            auth: vec![AuthMethod::ChapMd5, AuthMethod::Pap],
            max_sessions: 8000,
            max_sessions_per_mac: 2,
            max_payload: 0,
        }
    }
}

impl LacConfig {
    /// Checks what can be checked without the network.
    pub(super) fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        if self.pppoe_interfaces.is_empty() {
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
        if self.max_payload != 0 && !(1493..=9000).contains(&self.max_payload) {
            bad("lac.max_payload", "0, or 1493 to 9000".into());
        }
    }
}

/// `host[:port]` resolved to its first address (done once, at start).
pub(super) fn resolve(p: &PeerAddr) -> Result<SocketAddr, String> {
    (p.host.as_str(), p.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", p.host))?
        .next()
        .ok_or_else(|| format!("{}: no address", p.host))
}
