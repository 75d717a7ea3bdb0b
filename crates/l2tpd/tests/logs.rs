//! The daemon's log as an operator reads it: a session-down line says who (user, address,
//! peer), for how long, how many bytes each way and why, in words; with
//! `daemon.log_format = "json"` every log line is one JSON object carrying those fields.
//!
//! No root: an LNS without TUN on 127.0.0.1, `l2tpd loadgen` as its client, the session
//! closed with the management socket. Every wait is bounded.

mod support;

use std::time::Duration;

use l2tp_mgmt::{Request, Response};
use support::{request, start_lns_with, wait_for, wait_sessions_up, Proc, TempDir};

/// Brings one session up, lets LCP echoes count some bytes, closes it from the LNS and
/// returns the LNS's log once the session-down line is in it.
fn one_session_up_and_down(tag: &str, daemon_extra: &str) -> (String, u16, u16) {
    let dir = TempDir::new(tag);
    let (lns, server, sock) = start_lns_with(&dir.0, daemon_extra, "");
    let _client = Proc::loadgen(&dir.0, server, 1, 1, 60);
    let up = wait_sessions_up(&sock, 1, &|| lns.log_tail());
    let s = &up[0];
    // LCP echoes every second: bytes flow both ways.
    wait_for(Duration::from_secs(10), "bytes both ways", || {
        support::sessions(&sock)
            .iter()
            .any(|x| x.tunnel == s.tunnel && x.stats.rx_bytes > 0 && x.stats.tx_bytes > 0)
    });
    assert_eq!(
        request(
            &sock,
            Request::CloseSession {
                tunnel: s.tunnel,
                session: s.session
            }
        ),
        Response::Ok
    );
    wait_for(Duration::from_secs(10), "the session-down line", || {
        lns.log_text().contains("session down")
    });
    (lns.log_text(), s.tunnel, s.session)
}

/// The value after `key=` in a text log line, up to the next ` key=` (values may hold spaces
/// only when they are the last field before the message, as `reason` is not): here every
/// field but `reason` is one word.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    Some(rest.split(' ').next().unwrap_or(rest))
}

#[test]
fn session_down_line_says_who_how_long_how_many_bytes_and_why_in_words() {
    let (log, _, _) = one_session_up_and_down("log-down-text", "");
    let line = log
        .lines()
        .find(|l| l.contains("session down"))
        .unwrap_or_else(|| panic!("no session-down line:\n{log}"));
    assert_eq!(field(line, "user"), Some("alice"), "{line}");
    let address = field(line, "address").unwrap_or_default();
    assert!(address.starts_with("203.0.113."), "address: {line}");
    let peer = field(line, "peer").unwrap_or_default();
    assert!(peer.starts_with("127.0.0.1:"), "peer: {line}");
    let duration: u64 = field(line, "duration_s")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("duration_s: {line}"));
    assert!(duration < 120, "{line}");
    for k in ["bytes_in", "bytes_out"] {
        let n: u64 = field(line, k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k}: {line}"));
        assert!(n > 0, "{k} = 0: {line}");
    }
    // The reason in words, as the CDN said it: no Rust debug dump.
    let reason = &line[line.find(" reason=").expect("reason") + 8..];
    assert!(
        reason.contains("closed here") && reason.contains("administrative reasons"),
        "reason: {line}"
    );
    for dump in ["ResultCode", "Local(", "{ result", "Some("] {
        assert!(!line.contains(dump), "debug dump {dump:?} in: {line}");
    }
}

#[test]
fn json_log_lines_parse_and_carry_the_session_down_fields() {
    let (log, tunnel, session) = one_session_up_and_down("log-down-json", "log_format = \"json\"");
    let mut down = None;
    let mut json_lines = 0;
    for line in log.lines() {
        // The daemon's own start-up lines on stdout ("l2tpd lns: listening on …") are not
        // log lines; everything else must be one JSON object per line.
        if line.starts_with("l2tpd ") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{log}"));
        json_lines += 1;
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
        if v["message"] == "session down" {
            down = Some(v);
        }
    }
    assert!(json_lines >= 3, "{log}");
    let v = down.unwrap_or_else(|| panic!("no session-down object:\n{log}"));
    assert_eq!(v["user"], "alice", "{v}");
    assert_eq!(
        v["session"].as_str(),
        Some(format!("{tunnel}/{session}").as_str()),
        "{v}"
    );
    assert!(
        v["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("203.0.113.")),
        "{v}"
    );
    assert!(
        v["peer"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{v}"
    );
    assert!(v["duration_s"].as_u64().is_some(), "{v}");
    assert!(v["bytes_in"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert!(v["bytes_out"].as_u64().is_some_and(|n| n > 0), "{v}");
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("closed here"), "{v}");
}

#[test]
fn an_exhausted_pool_is_not_one_warning_per_refused_call() {
    let dir = TempDir::new("log-pool-flood");
    // One address in the pool: every call after the first is refused for want of one.
    let (lns, server, sock) = support::start_lns_with(&dir.0, "", "");
    let cfg = dir.0.join("lns.toml");
    drop(lns);
    let text = std::fs::read_to_string(&cfg).expect("config");
    let text = text.replace("203.0.113.10-203.0.113.250", "203.0.113.10-203.0.113.10");
    std::fs::write(&cfg, text).expect("config");
    let lns = Proc::l2tpd(&dir.0, "lns2", &["run", "--config", cfg.to_str().unwrap()]);
    wait_for(Duration::from_secs(10), "the LNS", || {
        l2tp_mgmt::Client::connect(&sock).is_ok()
    });
    let _client = Proc::loadgen(&dir.0, server, 2, 100, 5);
    let refusals = || support::stats(&sock).sessions_refused;
    wait_for(Duration::from_secs(30), "150 calls refused", || {
        refusals() >= 150
    });
    let refused = refusals();
    let log = lns.log_text();
    let lines = log.matches("no address for the session").count();
    assert!(lines >= 1, "the first refusal is logged:\n{log}");
    assert!(
        (lines as u64) < refused,
        "{lines} warnings for {refused} refusals: one per call"
    );
}
