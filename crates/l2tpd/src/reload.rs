//! Reloading a running daemon (SIGHUP, `l2tpctl reload`): the configuration file is read
//! and validated again; an invalid file is refused with its errors and the running
//! configuration kept. Otherwise what can change without touching an established session
//! is applied — users (inline or the users file), a grown address pool, limits, allowed
//! peers, session timeouts, the use of proxy AVPs, a LAC's LNS and realm table (for calls
//! placed from then on), the tunnel secret for new tunnels, the log level — and every
//! other change is reported as needing a restart.

use std::path::PathBuf;

use crate::config::{CommonArgs, Config};
use crate::node::Node;
use crate::users::Users;

/// Fields applied by a reload (dotted paths of the configuration, or their prefixes).
const RELOADABLE: &[&str] = &[
    "lns.users",
    "lns.users_file",
    "lns.ipv4_pool",
    "lns.max_tunnels",
    "lns.max_sessions",
    "lns.allowed_peers",
    "lns.session_timeout",
    "lns.idle_timeout",
    "lns.proxy",
    "lac.lns",
    "lac.realms",
    "lac.lockout",
    "peer",
    "tunnel.secret",
    "tunnel.hide_avps",
    "daemon.log_level",
];

/// Fields whose values are never printed.
fn secret(path: &str) -> bool {
    path.contains("secret") || path.contains("password") || path == "lns.users"
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file (`l2tpd run`); `None` for a daemon started from flags (only its users file
    /// is re-read).
    pub path: Option<PathBuf>,
    /// Command-line flags, applied over the file again.
    pub common: CommonArgs,
}

/// The running configuration, as a reload sees it.
pub struct Running {
    /// As the daemon started (what needs a restart is measured from here).
    pub started: Config,
    /// As last applied.
    pub current: Config,
    /// Users as last loaded.
    pub users: Option<Users>,
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Changes applied, one line each.
    pub applied: Vec<String>,
    /// Changes that need a restart, one line each.
    pub restart_needed: Vec<String>,
}

/// Re-reads the configuration and applies it to `node`; `Err` (with every validation
/// error) leaves everything as it was.
pub fn reload(node: &mut Node, running: &mut Running, source: &Source) -> Result<Outcome, String> {
    let mut new = match &source.path {
        Some(p) => {
            let (mut c, warnings) = Config::load(p).map_err(|e| e.to_string())?;
            source.common.apply(&mut c);
            for w in warnings {
                tracing::warn!("reload: {w}");
            }
            c
        }
        None => running.current.clone(),
    };
    let node_cfg = new.node_config().map_err(|e| e.to_string())?;
    let users = match new.lns.as_ref() {
        Some(l) => Some(l.load_users().map_err(|e| e.to_string())?),
        None => None,
    };
    let mut out = classify(running, &new);
    if let Some(u) = &users {
        let was = running.users.as_ref().map_or(0, Users::len);
        if running.users.as_ref() != Some(u) {
            out.applied
                .insert(0, format!("users: {} users (was {was})", u.len()));
        }
    }
    if !node.reconfigure(&node_cfg, users.clone()) {
        out.applied.retain(|l| !l.starts_with("lns.ipv4_pool"));
        out.restart_needed.push(
            "lns.ipv4_pool (needs a restart: only a pool that includes the current one is applied live)"
                .into(),
        );
        // The pool in use stays the running one.
        if let (Some(l), Some(c)) = (new.lns.as_mut(), running.current.lns.as_ref()) {
            l.ipv4_pool = c.ipv4_pool;
        }
    }
    if new.daemon.log_level != running.current.daemon.log_level
        && !crate::logging::set_level(new.daemon.log_level.as_str())
    {
        out.applied.retain(|l| !l.starts_with("daemon.log_level"));
        out.restart_needed
            .push("daemon.log_level (RUST_LOG sets the log filter)".into());
    }
    running.current = new;
    running.users = users;
    Ok(out)
}

/// What changed from the running configuration to `new`: applied (reloadable fields changed
/// since the last reload) and needing a restart (other fields changed since the start).
fn classify(running: &Running, new: &Config) -> Outcome {
    let reloadable = |path: &str| {
        RELOADABLE
            .iter()
            .any(|r| path == *r || path.starts_with(&format!("{r}.")))
    };
    let mut out = Outcome::default();
    for (path, old, newv) in diff(&running.current, new) {
        if reloadable(&path) {
            out.applied.push(if secret(&path) {
                format!("{path} changed")
            } else {
                format!("{path}: {old} -> {newv}")
            });
        }
    }
    for (path, _, _) in diff(&running.started, new) {
        if !reloadable(&path) {
            out.restart_needed.push(format!("{path} (needs a restart)"));
        }
    }
    out
}

/// Paths whose values differ, with both values (JSON text).
fn diff(a: &Config, b: &Config) -> Vec<(String, String, String)> {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let mut out = Vec::new();
    walk("", &a, &b, &mut out);
    out
}

fn walk(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    if a == b {
        return;
    }
    if let (Value::Object(x), Value::Object(y)) = (a, b) {
        let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            walk(
                &p,
                x.get(k).unwrap_or(&Value::Null),
                y.get(k).unwrap_or(&Value::Null),
                out,
            );
        }
        return;
    }
    out.push((path.to_string(), a.to_string(), b.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        Config::from_toml_str(&format!(
            "role = \"lns\"\n[tunnel]\nsecret = \"s3cret-one\"\n[lns]\n\
             listen = [\"127.0.0.1:1701\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\n{extra}\
             [[lns.users]]\nname = \"alice\"\npassword = \"pw\"\n"
        ))
        .expect("valid")
    }

    #[test]
    fn reloadable_changes_are_applied_the_rest_needs_a_restart_and_secrets_never_print() {
        let running = Running {
            started: cfg(""),
            current: cfg(""),
            users: None,
        };
        let mut new = cfg("max_sessions = 50\ninterface_prefix = \"sub\"\n");
        new.tunnel.secret = Some("s3cret-two".into());
        let out = classify(&running, &new);
        assert!(
            out.applied
                .contains(&"lns.max_sessions: 16384 -> 50".to_string()),
            "{out:?}"
        );
        assert!(
            out.applied.contains(&"tunnel.secret changed".to_string()),
            "{out:?}"
        );
        assert_eq!(
            out.restart_needed,
            vec!["lns.interface_prefix (needs a restart)".to_string()]
        );
        let all = format!("{out:?}");
        assert!(!all.contains("s3cret"), "{all}");
        // Nothing changed: nothing to say.
        let out = classify(&running, &cfg(""));
        assert!(
            out.applied.is_empty() && out.restart_needed.is_empty(),
            "{out:?}"
        );
    }
}
