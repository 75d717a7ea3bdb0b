//! `l2tpctl sessions`: one line per session, for a thousand of them. Selectable columns
//! (`-o user,ip,peer`), filters (`user=alice* ip=203.0.113.0/24 peer=192.0.2.1 state=established
//! tunnel=12`), sort by any column, and a count. The detailed block stays behind `show session`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use l2tp_mgmt::SessionInfo;

use super::format::duration;

/// A column of the session table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `TID/SID`.
    Id,
    /// Local tunnel id.
    Tunnel,
    /// Local session id.
    Session,
    /// PPP user name.
    User,
    /// IPv4 address.
    Ip,
    /// IPv6 address.
    Ipv6,
    /// The tunnel's peer (LAC) address.
    Peer,
    /// Session state.
    State,
    /// Interface.
    Iface,
    /// Time up.
    Uptime,
    /// Bytes received from the peer.
    RxBytes,
    /// Bytes sent to the peer.
    TxBytes,
    /// Packets received.
    RxPkts,
    /// Packets sent.
    TxPkts,
    /// Receive errors (and sequence discards).
    RxErrors,
}

/// Every column with its name (as typed after `-o`) and header.
pub const COLUMNS: [(Column, &str, &str); 15] = [
    (Column::Id, "id", "SESSION"),
    (Column::Tunnel, "tunnel", "TID"),
    (Column::Session, "session", "SID"),
    (Column::User, "user", "USER"),
    (Column::Ip, "ip", "ADDRESS"),
    (Column::Ipv6, "ipv6", "IPV6"),
    (Column::Peer, "peer", "PEER"),
    (Column::State, "state", "STATE"),
    (Column::Iface, "iface", "IFACE"),
    (Column::Uptime, "uptime", "UPTIME"),
    (Column::RxBytes, "rx_bytes", "RX_BYTES"),
    (Column::TxBytes, "tx_bytes", "TX_BYTES"),
    (Column::RxPkts, "rx_pkts", "RX_PKTS"),
    (Column::TxPkts, "tx_pkts", "TX_PKTS"),
    (Column::RxErrors, "rx_errors", "RX_ERR"),
];

/// The columns shown without `-o`.
pub const DEFAULT_COLUMNS: &str = "id,user,ip,peer,state,iface,uptime,rx_bytes,tx_bytes";

/// Parses `-o` names.
pub fn parse_columns(names: &[String]) -> Result<Vec<Column>, String> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .filter(|n| !n.is_empty())
        .map(|n| column(n.trim()))
        .collect()
}

fn column(name: &str) -> Result<Column, String> {
    COLUMNS
        .iter()
        .find(|(_, n, _)| *n == name.to_ascii_lowercase())
        .map(|(c, _, _)| *c)
        .ok_or_else(|| {
            let all: Vec<&str> = COLUMNS.iter().map(|(_, n, _)| *n).collect();
            format!("unknown column {name:?}; columns: {}", all.join(", "))
        })
}

/// A session with its tunnel's peer address (from the tunnel list).
pub struct Row<'a> {
    /// The session.
    pub s: &'a SessionInfo,
    /// Its tunnel's peer, `ADDR:PORT`.
    pub peer: Option<&'a str>,
}

impl Row<'_> {
    fn peer_ip(&self) -> Option<IpAddr> {
        let p = self.peer?;
        p.parse::<std::net::SocketAddr>()
            .map(|a| a.ip())
            .ok()
            .or_else(|| p.parse().ok())
    }

    fn cell(&self, c: Column) -> String {
        let s = self.s;
        let dash = || "-".to_string();
        match c {
            Column::Id => format!("{}/{}", s.tunnel, s.session),
            Column::Tunnel => s.tunnel.to_string(),
            Column::Session => s.session.to_string(),
            Column::User => s.user.clone().unwrap_or_else(dash),
            Column::Ip => s.ipv4.map(|a| a.to_string()).unwrap_or_else(dash),
            Column::Ipv6 => s.ipv6.map(|a| a.to_string()).unwrap_or_else(dash),
            Column::Peer => self.peer.map(str::to_string).unwrap_or_else(dash),
            Column::State => s.state.clone(),
            Column::Iface => s.interface.clone().unwrap_or_else(dash),
            Column::Uptime => duration(s.uptime_s),
            Column::RxBytes => s.stats.rx_bytes.to_string(),
            Column::TxBytes => s.stats.tx_bytes.to_string(),
            Column::RxPkts => s.stats.rx_packets.to_string(),
            Column::TxPkts => s.stats.tx_packets.to_string(),
            Column::RxErrors => (s.stats.rx_errors + s.stats.rx_seq_discards).to_string(),
        }
    }

    /// Sort key: numbers and addresses compare as numbers, the rest as text.
    fn key(&self, c: Column) -> (u128, String) {
        let s = self.s;
        let n = |v: u64| (u128::from(v), String::new());
        match c {
            Column::Id => n((u64::from(s.tunnel) << 16) | u64::from(s.session)),
            Column::Tunnel => n(u64::from(s.tunnel)),
            Column::Session => n(u64::from(s.session)),
            Column::Ip => n(s.ipv4.map(|a| u64::from(u32::from(a))).unwrap_or(u64::MAX)),
            Column::Ipv6 => (s.ipv6.map(u128::from).unwrap_or(u128::MAX), String::new()),
            Column::Peer => match self.peer_ip() {
                Some(IpAddr::V4(a)) => n(u64::from(u32::from(a))),
                Some(IpAddr::V6(a)) => (u128::from(a), String::new()),
                None => (u128::MAX, String::new()),
            },
            Column::Uptime => n(s.uptime_s),
            Column::RxBytes => n(s.stats.rx_bytes),
            Column::TxBytes => n(s.stats.tx_bytes),
            Column::RxPkts => n(s.stats.rx_packets),
            Column::TxPkts => n(s.stats.tx_packets),
            Column::RxErrors => n(s.stats.rx_errors + s.stats.rx_seq_discards),
            Column::User | Column::State | Column::Iface => (0, self.cell(c)),
        }
    }
}

/// One `KEY=VALUE` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `user=PATTERN` (`*` and `?` wildcards).
    User(String),
    /// `ip=ADDR` or `ip=NET/LEN` (IPv4 or IPv6).
    Ip(IpAddr, u8),
    /// `peer=ADDR` or `peer=ADDR:PORT`.
    Peer(String),
    /// `state=STATE`: the whole state (`established/ppp-network`), one part, or a pattern.
    State(String),
    /// `tunnel=TID`.
    Tunnel(u16),
}

/// Parses a filter argument.
pub fn parse_filter(arg: &str) -> Result<Filter, String> {
    let (k, v) = arg.split_once('=').ok_or_else(|| {
        format!("filter {arg:?}: expected KEY=VALUE (user=, ip=, peer=, state=, tunnel=)")
    })?;
    match k {
        "user" => Ok(Filter::User(v.to_string())),
        "ip" => {
            let (addr, len) = match v.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (v, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("ip={v}: expected an address or NET/LEN"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("ip={v}: prefix length 0-{max}"))?,
            };
            Ok(Filter::Ip(addr, len))
        }
        "peer" => Ok(Filter::Peer(v.to_string())),
        "state" => Ok(Filter::State(v.to_string())),
        "tunnel" => v
            .parse()
            .map(Filter::Tunnel)
            .map_err(|_| format!("tunnel={v}: expected a tunnel id (0-65535)")),
        _ => Err(format!(
            "filter {arg:?}: unknown key {k:?} (user=, ip=, peer=, state=, tunnel=)"
        )),
    }
}

fn in_prefix(a: IpAddr, net: IpAddr, len: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `*` any run, `?` one character; everything else literal.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Filter {
    fn matches(&self, r: &Row) -> bool {
        let s = r.s;
        match self {
            Filter::User(p) => s.user.as_deref().is_some_and(|u| glob(p, u)),
            Filter::Ip(net, len) => {
                s.ipv4.is_some_and(|a| in_prefix(IpAddr::V4(a), *net, *len))
                    || s.ipv6.is_some_and(|a| in_prefix(IpAddr::V6(a), *net, *len))
            }
            Filter::Peer(p) => match (r.peer, p.parse::<IpAddr>()) {
                (Some(peer), _) if peer == p => true,
                (Some(_), Ok(ip)) => r.peer_ip() == Some(ip),
                _ => false,
            },
            // `established/ppp-network`: the whole state, or either part, or a pattern.
            Filter::State(st) => {
                let st = st.to_ascii_lowercase();
                let state = s.state.to_ascii_lowercase();
                glob(&st, &state) || state.split('/').any(|part| glob(&st, part))
            }
            Filter::Tunnel(t) => s.tunnel == *t,
        }
    }
}

/// The rows left by `filters`, sorted by `sort` (then by id).
pub fn select<'a>(
    sessions: &'a [SessionInfo],
    peers: &'a HashMap<u16, String>,
    filters: &[Filter],
    sort: Option<(Column, bool)>,
) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = sessions
        .iter()
        .map(|s| Row {
            s,
            peer: peers.get(&s.tunnel).map(String::as_str),
        })
        .filter(|r| filters.iter().all(|f| f.matches(r)))
        .collect();
    rows.sort_by_key(|r| r.key(Column::Id));
    if let Some((c, reverse)) = sort {
        rows.sort_by_key(|r| r.key(c)); // stable: ties stay in id order
        if reverse {
            rows.reverse();
        }
    }
    rows
}

/// Parses `--sort COL` (a leading `-` sorts in reverse).
pub fn parse_sort(arg: &str) -> Result<(Column, bool), String> {
    match arg.strip_prefix('-') {
        Some(c) => Ok((column(c)?, true)),
        None => Ok((column(arg)?, false)),
    }
}

/// The table: a header (unless `header` is false), one line per row, columns aligned;
/// numbers right-aligned, text left-aligned, the last column unpadded.
pub fn render(rows: &[Row], columns: &[Column], header: bool) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| r.cell(*c)).collect())
        .collect();
    let title = |c: Column| {
        COLUMNS
            .iter()
            .find(|(x, _, _)| *x == c)
            .map(|t| t.2)
            .unwrap_or("")
    };
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(if header { title(*c).len() } else { 0 }))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric = |c: Column| {
        matches!(
            c,
            Column::Tunnel
                | Column::Session
                | Column::RxBytes
                | Column::TxBytes
                | Column::RxPkts
                | Column::TxPkts
                | Column::RxErrors
        )
    };
    let mut out = String::new();
    let mut line = |values: Vec<&str>| {
        let mut l = String::new();
        for (i, (v, c)) in values.iter().zip(columns).enumerate() {
            let w = widths[i];
            if i > 0 {
                l.push_str("  ");
            }
            if numeric(*c) {
                let _ = write!(l, "{v:>w$}");
            } else if i + 1 == columns.len() {
                l.push_str(v);
            } else {
                let _ = write!(l, "{v:<w$}");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    if header {
        line(columns.iter().map(|c| title(*c)).collect());
    }
    for r in &cells {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn globs() {
        assert!(glob("alice", "alice"));
        assert!(!glob("alice", "alice2"));
        assert!(glob("ali*", "alice"));
        assert!(glob("*@isp.example", "bob@isp.example"));
        assert!(glob("user?", "user7"));
        assert!(!glob("user?", "user77"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    fn ipv4_in(a: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
        in_prefix(IpAddr::V4(a), IpAddr::V4(net), len)
    }

    #[test]
    fn prefixes() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(ipv4_in(ip("203.0.113.77"), ip("203.0.113.0"), 24));
        assert!(!ipv4_in(ip("203.0.114.1"), ip("203.0.113.0"), 24));
        assert!(ipv4_in(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(parse_filter("ip=203.0.113.0/33").is_err());
        assert!(parse_filter("colour=red").is_err());
        assert!(parse_filter("user").is_err());
    }
}
