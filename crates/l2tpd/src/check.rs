//! `l2tpd check --config FILE`, like `nginx -t`: everything `run` would refuse, plus what it
//! tolerates but an operator should not ship: a users file with errors (each line reported),
//! duplicate users, empty passwords, a pool that includes a fixed address or the server's own
//! address, pools and addresses in reserved ranges (0/8, 127/8, multicast, 255.255.255.255),
//! and secret files anyone can write. Every problem at once, each with its file and line
//! where known; exit status 0 or 1.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::{Config, LnsConfig, Role};
use crate::users::Users;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file it is in.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong (starting with the field name for configuration values).
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What `check` found: refusals (exit 1) and advice (printed, exit unaffected).
#[derive(Debug, Default)]
pub struct Report {
    /// Problems that make the configuration unacceptable.
    pub errors: Vec<Finding>,
    /// Worth knowing, not fatal.
    pub warnings: Vec<String>,
    /// One line saying what the configuration is, when it parsed.
    pub summary: Option<String>,
}

/// Reserved IPv4 ranges no pool or subscriber address may touch: (first, last, name).
const RESERVED: [(Ipv4Addr, Ipv4Addr, &str); 4] = [
    (
        Ipv4Addr::new(0, 0, 0, 0),
        Ipv4Addr::new(0, 255, 255, 255),
        "0.0.0.0/8 (\"this network\")",
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        Ipv4Addr::new(127, 255, 255, 255),
        "127.0.0.0/8 (loopback)",
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        Ipv4Addr::new(239, 255, 255, 255),
        "224.0.0.0/4 (multicast)",
    ),
    (
        Ipv4Addr::BROADCAST,
        Ipv4Addr::BROADCAST,
        "255.255.255.255 (broadcast)",
    ),
];

/// The reserved range `[first, last]` overlaps, if any.
fn reserved_overlap(first: Ipv4Addr, last: Ipv4Addr) -> Option<&'static str> {
    RESERVED
        .iter()
        .find(|(a, b, _)| first <= *b && *a <= last)
        .map(|(_, _, name)| *name)
}

/// Checks the configuration file at `path` and everything it refers to.
pub fn check(path: &Path) -> Report {
    let mut r = Report::default();
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            r.errors.push(Finding {
                file,
                line: None,
                message: e.to_string(),
            });
            return r;
        }
    };
    let cfg: Config = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            r.errors.push(Finding {
                file,
                line,
                message: e.message().trim_end().to_string(),
            });
            return r;
        }
    };
    let at = |field: &str, message: String| Finding {
        file: file.clone(),
        line: locate(&text, field),
        message: format!("{field}: {message}"),
    };
    if let Err(e) = cfg.validate() {
        for fe in e.field_errors() {
            r.errors.push(at(&fe.field, fe.message.clone()));
        }
    }
    r.warnings.extend(cfg.warnings().into_iter().map(|w| w.0));
    if cfg.has_secrets() {
        secret_file(path, &mut r);
    }
    if let Some(user) = &cfg.daemon.user {
        if let Err(e) = l2tp_io::privileges::lookup_user(user) {
            r.errors.push(at("daemon.user", e.to_string()));
        }
    }
    if let Some(group) = &cfg.daemon.group {
        if let Err(e) = l2tp_io::privileges::lookup_group(group) {
            r.errors.push(at("daemon.group", e.to_string()));
        }
    }
    if let (Role::Lns, Some(lns)) = (cfg.role, &cfg.lns) {
        check_lns(lns, &at, &mut r);
    }
    r.summary = Some(summary(&cfg));
    r
}

fn summary(cfg: &Config) -> String {
    match (&cfg.lns, &cfg.dial) {
        (Some(l), _) => format!(
            "role lns, listen {}, pool {}",
            l.listen
                .iter()
                .map(|a| a.0.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            l.ipv4_pool
                .map(|p| {
                    let (a, b) = p.first_last();
                    format!("{a}-{b}")
                })
                .unwrap_or_else(|| "none".into())
        ),
        (None, Some(d)) => format!(
            "role {}, dialing {}",
            cfg.role,
            d.peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        (None, None) => format!("role {}", cfg.role),
    }
}

/// Refuses a file holding secrets that anyone can write; advises on one others can read
/// (that advice is already among the configuration's warnings).
fn secret_file(path: &Path, r: &mut Report) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        r.errors.push(Finding {
            file: path.display().to_string(),
            line: None,
            message: format!(
                "holds secrets and anyone can write it (mode {mode:04o}): chmod 600 {}",
                path.display()
            ),
        });
    }
}

/// A user and where it is defined.
struct Defined {
    name: String,
    password_empty: bool,
    ipv4: Option<Ipv4Addr>,
    file: String,
    line: Option<usize>,
    /// How to name it in a message (`lns.users[2]` or `user "alice"`).
    label: String,
}

fn check_lns(lns: &LnsConfig, at: &dyn Fn(&str, String) -> Finding, r: &mut Report) {
    let mut users: Vec<Defined> = Vec::new();
    if let Some(path) = &lns.users_file {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Err(e) => r.errors.push(at("lns.users_file", format!("{file}: {e}"))),
            Ok(text) => {
                secret_file(path, r);
                for (line, parsed) in Users::parse_lines(&text) {
                    match parsed {
                        Ok(u) => users.push(Defined {
                            label: format!("user {:?}", u.name),
                            password_empty: u.password.is_empty(),
                            name: u.name,
                            ipv4: u.ipv4,
                            file: file.clone(),
                            line: Some(line),
                        }),
                        Err(message) => r.errors.push(Finding {
                            file: file.clone(),
                            line: Some(line),
                            message,
                        }),
                    }
                }
            }
        }
    }
    let from_file = users.len();
    for (i, u) in lns.users.iter().enumerate() {
        let f = at(&format!("lns.users[{i}].name"), String::new());
        users.push(Defined {
            name: u.name.clone(),
            password_empty: u.password.is_empty(),
            ipv4: u.ipv4,
            file: f.file,
            line: f.line,
            label: format!("lns.users[{i}]"),
        });
    }
    let err = |u: &Defined, message: String| Finding {
        file: u.file.clone(),
        line: u.line,
        message: format!("{}: {message}", u.label),
    };

    // Duplicates (within the file, within the inline users; inline over file is documented).
    let mut seen: HashMap<(&str, bool), &Defined> = HashMap::new();
    for (i, u) in users.iter().enumerate() {
        let inline = i >= from_file;
        if let Some(first) = seen.get(&(u.name.as_str(), inline)) {
            let where_ = first
                .line
                .map(|l| format!(" (first at line {l})"))
                .unwrap_or_default();
            r.errors.push(err(u, format!("defined twice{where_}")));
        } else {
            seen.insert((u.name.as_str(), inline), u);
        }
        if inline && seen.contains_key(&(u.name.as_str(), false)) {
            r.warnings.push(format!(
                "{}: user {:?} is also in the users file; this definition wins",
                u.label, u.name
            ));
        }
        if u.password_empty {
            r.errors.push(err(u, "empty password".into()));
        }
    }

    // Addresses: the pool, our own, every fixed one.
    let pool = lns.ipv4_pool;
    if let Some(p) = pool {
        let (first, last) = p.first_last();
        if let Some(range) = reserved_overlap(first, last) {
            r.errors.push(at(
                "lns.ipv4_pool",
                format!("{first}-{last} overlaps the reserved range {range}"),
            ));
        }
        if let Some(local) = lns.local_ipv4.filter(|l| p.contains(*l)) {
            r.errors.push(at(
                "lns.ipv4_pool",
                format!(
                    "includes lns.local_ipv4 {local}: take the server's own address out of the pool"
                ),
            ));
        }
    }
    if let Some(local) = lns.local_ipv4 {
        if let Some(range) = reserved_overlap(local, local) {
            r.errors.push(at(
                "lns.local_ipv4",
                format!("{local} is in the reserved range {range}"),
            ));
        }
    }
    let mut owners: HashMap<Ipv4Addr, &Defined> = HashMap::new();
    for u in &users {
        let Some(a) = u.ipv4 else { continue };
        if pool.is_some_and(|p| p.contains(a)) {
            r.errors.push(err(
                u,
                format!("fixed address {a} is inside lns.ipv4_pool: give fixed addresses from outside the pool"),
            ));
        }
        if let Some(range) = reserved_overlap(a, a) {
            r.errors.push(err(
                u,
                format!("fixed address {a} is in the reserved range {range}"),
            ));
        }
        if Some(a) == lns.local_ipv4 {
            r.errors.push(err(
                u,
                format!("fixed address {a} is the server's own address (lns.local_ipv4)"),
            ));
        }
        match owners.get(&a) {
            Some(o) if o.name != u.name => r.errors.push(err(
                u,
                format!("fixed address {a} is also given to {}", o.label),
            )),
            Some(_) => {}
            None => {
                owners.insert(a, u);
            }
        }
    }
}

/// The line of a field (`lns.ipv4_pool`, `lns.users[2].ipv4`, `tunnel`) in TOML text: the
/// line of its key in its table, else the table's header. Tables are `[a.b]` headers and
/// `[[a.b]]` arrays (counted); keys are plain `key = …` lines.
pub fn locate(text: &str, field: &str) -> Option<usize> {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (t.to_string(), k),
        None => (String::new(), field),
    };
    let key = key.split('[').next().unwrap_or(key);
    let mut current = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut header_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            current = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = name.trim().to_string();
        } else {
            if current == table {
                let k = line.split('=').next().unwrap_or("").trim();
                if line.contains('=') && k.trim_matches('"') == key {
                    return Some(i + 1);
                }
            }
            continue;
        }
        if current == table && header_line.is_none() {
            header_line = Some(i + 1);
        }
        // A whole-section field (`lns`, `dial`) is its header.
        if table.is_empty() && current == key {
            return Some(i + 1);
        }
    }
    header_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_keys_tables_and_array_entries() {
        let text = "role = \"lns\"\n[tunnel]\nhello_interval = 0\n[lns]\nipv4_pool = \"x\"\n\
                    [[lns.users]]\nname = \"a\"\n[[lns.users]]\nname = \"b\"\nipv4 = \"1.2.3.4\"\n";
        assert_eq!(locate(text, "role"), Some(1));
        assert_eq!(locate(text, "tunnel.hello_interval"), Some(3));
        assert_eq!(locate(text, "lns.ipv4_pool"), Some(5));
        assert_eq!(locate(text, "lns.users[1].ipv4"), Some(10));
        assert_eq!(locate(text, "lns.users[0].name"), Some(7));
        assert_eq!(
            locate(text, "lns.local_ipv4"),
            Some(4),
            "missing key: the table"
        );
        assert_eq!(locate(text, "lns"), Some(4));
        assert_eq!(locate(text, "dial"), None);
    }

    #[test]
    fn reserved_ranges() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(reserved_overlap(ip("126.255.255.250"), ip("127.0.0.1")).is_some());
        assert!(reserved_overlap(ip("0.0.0.1"), ip("0.0.0.9")).is_some());
        assert!(reserved_overlap(ip("239.0.0.1"), ip("239.0.0.1")).is_some());
        assert!(reserved_overlap(ip("255.255.255.255"), ip("255.255.255.255")).is_some());
        assert!(reserved_overlap(ip("203.0.113.1"), ip("203.0.113.254")).is_none());
        assert!(reserved_overlap(ip("1.0.0.0"), ip("126.255.255.255")).is_none());
    }
}
