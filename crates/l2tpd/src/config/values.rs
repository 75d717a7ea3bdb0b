//! The configuration's small value types, parsed from their TOML text: a debug mask (a
//! number or names), a peer to dial (`host[:port]`) and a listen address (`ADDR[:PORT]`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::L2TP_PORT;

/// A debug mask: a number or names (`"data,seq"`), see [`l2tp_mgmt::parse_debug_mask`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MaskRepr", into = "u32")]
pub struct DebugMask(pub u32);

#[derive(Deserialize)]
#[serde(untagged)]
enum MaskRepr {
    Num(u32),
    Text(String),
}

impl TryFrom<MaskRepr> for DebugMask {
    type Error = l2tp_mgmt::DebugMaskError;
    fn try_from(r: MaskRepr) -> Result<Self, Self::Error> {
        match r {
            MaskRepr::Num(n) => Ok(DebugMask(n)),
            MaskRepr::Text(s) => l2tp_mgmt::parse_debug_mask(&s).map(DebugMask),
        }
    }
}

impl From<DebugMask> for u32 {
    fn from(m: DebugMask) -> u32 {
        m.0
    }
}

/// A peer to dial: `host[:port]`; the host is resolved when dialling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerAddr {
    /// Host name or address.
    pub host: String,
    /// UDP port (default 1701).
    pub port: u16,
}

impl FromStr for PeerAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(PeerAddr {
                host: sa.ip().to_string(),
                port: sa.port(),
            });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(PeerAddr {
                host: ip.to_string(),
                port: L2TP_PORT,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{s:?}: port {p:?} is not a number 1-65535"))?,
            ),
            None => (s, L2TP_PORT),
        };
        if host.is_empty()
            || host.contains(':')
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(format!("{s:?} is not HOST[:PORT]"));
        }
        if port == 0 {
            return Err(format!("{s:?}: port 0"));
        }
        Ok(PeerAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl TryFrom<String> for PeerAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<PeerAddr> for String {
    fn from(p: PeerAddr) -> String {
        p.to_string()
    }
}

/// A listen address: `ADDR[:PORT]` (`0.0.0.0`, `[::]:1701`, `::`), port 1701 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(ListenAddr(sa));
        }
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map(|ip| ListenAddr(SocketAddr::new(ip, L2TP_PORT)))
            .map_err(|_| format!("{s:?} is not ADDRESS[:PORT]"))
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ListenAddr> for String {
    fn from(a: ListenAddr) -> String {
        a.0.to_string()
    }
}
