//! Output of the management commands: blocks in the style of `ip l2tp show tunnel` /
//! `ip l2tp show session` for people, JSON for scripts.

use l2tp_mgmt::{
    format_debug_mask, DaemonStats, DatapathCounters, Response, SessionInfo, TunnelInfo,
};
use std::fmt::Write as _;

/// The payload of a response as pretty JSON (arrays for lists, objects otherwise).
pub fn json(resp: &Response) -> String {
    let v = match resp {
        Response::Tunnels(t) => serde_json::to_value(t),
        Response::Sessions(s) => serde_json::to_value(s),
        Response::Tunnel(t) => serde_json::to_value(t),
        Response::Session(s) => serde_json::to_value(s),
        Response::Stats(s) => serde_json::to_value(s),
        Response::Quality(q) => serde_json::to_value(q),
        other => serde_json::to_value(other),
    };
    match v.and_then(|v| serde_json::to_string_pretty(&v)) {
        Ok(s) => s + "\n",
        Err(e) => format!("{{\"error\":\"cannot encode: {e}\"}}\n"),
    }
}

/// `1d02h03m`, `1h02m03s`, `5m03s`, `42s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// The datapath counters as an aligned two-row table, indented by two spaces.
fn counters(out: &mut String, c: &DatapathCounters) {
    let w = [
        c.tx_packets,
        c.tx_bytes,
        c.rx_packets,
        c.rx_bytes,
        c.rx_seq_discards,
    ]
    .iter()
    .map(|v| v.to_string().len())
    .max()
    .unwrap_or(1)
    .max(7);
    let _ = writeln!(
        out,
        "  {:<4} {:>w$} {:>w$} {:>w$} {:>w$} {:>w$}",
        "", "packets", "bytes", "errors", "seqdisc", "oos"
    );
    let _ = writeln!(
        out,
        "  {:<4} {:>w$} {:>w$} {:>w$} {:>w$} {:>w$}",
        "tx", c.tx_packets, c.tx_bytes, c.tx_errors, "-", "-"
    );
    let _ = writeln!(
        out,
        "  {:<4} {:>w$} {:>w$} {:>w$} {:>w$} {:>w$}",
        "rx", c.rx_packets, c.rx_bytes, c.rx_errors, c.rx_seq_discards, c.rx_oos_packets
    );
}

/// One tunnel block.
pub fn tunnel(out: &mut String, t: &TunnelInfo) {
    let _ = writeln!(out, "Tunnel {}, encap UDP, state {}", t.local_id, t.state);
    let _ = writeln!(out, "  From {} to {}", t.local_addr, t.peer_addr);
    match &t.peer_host_name {
        Some(h) => {
            let _ = writeln!(out, "  Peer tunnel {}, host {h}", t.peer_id);
        }
        None => {
            let _ = writeln!(out, "  Peer tunnel {}", t.peer_id);
        }
    }
    let _ = writeln!(
        out,
        "  Sessions {}, uptime {}, debug {}",
        t.sessions,
        duration(t.uptime_s),
        format_debug_mask(t.debug)
    );
    let c = &t.control;
    let _ = writeln!(
        out,
        "  Control sent {}, retransmitted {}, received {}, duplicates {}",
        c.sent, c.retransmitted, c.received, c.duplicates
    );
    failover(out, &t.failover);
    counters(out, &t.stats);
}

/// A tunnel's RFC 4951 line: what the peer offered, recoveries, queries answered.
fn failover(out: &mut String, f: &l2tp_mgmt::TunnelFailover) {
    if !f.peer_offered {
        let _ = writeln!(out, "  Failover: not offered by the peer");
        return;
    }
    let bits = match (f.peer_control, f.peer_data) {
        (true, true) => "control+data",
        (true, false) => "control",
        (false, true) => "data",
        (false, false) => "none",
    };
    let _ = writeln!(
        out,
        "  Failover: peer offers {bits}, recovery time {} ms, {}; recoveries {}, session queries {}",
        f.peer_recovery_time_ms,
        if f.recoverable {
            "recoverable"
        } else {
            "not recoverable"
        },
        f.recoveries,
        f.session_queries
    );
}

/// One session block.
pub fn session(out: &mut String, s: &SessionInfo) {
    let _ = writeln!(out, "Session {} in tunnel {}", s.session, s.tunnel);
    let _ = writeln!(
        out,
        "  Peer session {}, tunnel {}",
        s.peer_session, s.peer_tunnel
    );
    let _ = writeln!(
        out,
        "  State {}, user {}, uptime {}",
        s.state,
        s.user.as_deref().unwrap_or("-"),
        duration(s.uptime_s)
    );
    let _ = writeln!(
        out,
        "  interface name: {}",
        s.interface.as_deref().unwrap_or("-")
    );
    let v4 = s.ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let v6 = s.ipv6.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "  IPv4 {v4}, IPv6 {v6}");
    let o = &s.options;
    let _ = writeln!(
        out,
        "  sendseq {}, recvseq {}, lnsmode {}, reorderto {} ms, debug {}",
        on(o.send_seq),
        on(o.recv_seq),
        on(o.lns_mode),
        o.reorder_timeout_ms,
        format_debug_mask(o.debug)
    );
    if let Some(pid) = s.pppd_pid {
        let _ = writeln!(out, "  PPP by {} (pid {pid})", s.ppp_mode);
    }
    if let Some((send, receive)) = s.accm {
        let _ = writeln!(out, "  ACCM send {send:#010x}, receive {receive:#010x}");
    }
    if let Some(w) = &s.wan_errors {
        let _ = writeln!(
            out,
            "  WAN errors ({} reports): crc {}, framing {}, hardware overruns {}, buffer overruns {}, timeouts {}, alignment {}",
            w.reports,
            w.crc_errors,
            w.framing_errors,
            w.hardware_overruns,
            w.buffer_overruns,
            w.timeout_errors,
            w.alignment_errors
        );
    }
    counters(out, &s.stats);
}

/// Daemon-wide statistics.
pub fn stats(out: &mut String, s: &DaemonStats) {
    let by_state = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
            format!(" ({})", parts.join(", "))
        }
    };
    let rows: Vec<(&str, String)> = vec![
        ("Role", s.role.clone()),
        ("Uptime", duration(s.uptime_s)),
        (
            "Tunnels",
            format!("{}{}", s.tunnels, by_state(&s.tunnels_by_state)),
        ),
        (
            "Sessions",
            format!("{}{}", s.sessions, by_state(&s.sessions_by_state)),
        ),
        (
            "Control",
            format!(
                "sent {}, retransmitted {}, received {}, duplicates {}",
                s.control.sent, s.control.retransmitted, s.control.received, s.control.duplicates
            ),
        ),
        (
            "Auth failures",
            format!("ppp {}, tunnel {}", s.auth_failures, s.tunnel_auth_failures),
        ),
        (
            "Refused",
            format!(
                "tunnels {}, sessions {}",
                s.tunnels_refused, s.sessions_refused
            ),
        ),
        (
            "Half-open",
            format!(
                "{} now, evicted {}, restored {}, silenced {}; SCCRQs rejected {}",
                s.half_open_tunnels,
                s.half_open_evicted,
                s.half_open_restored,
                s.half_open_silenced,
                s.sccrq_rejected
            ),
        ),
        (
            "Wrong peer",
            format!(
                "control {}, data {}; unknown tunnel {}",
                s.control_wrong_peer, s.data_wrong_peer, s.control_unknown_tunnel
            ),
        ),
        (
            "Dropped",
            format!(
                "bad PPP frames {}, over the rate limit {}",
                s.ppp_bad_frames, s.rate_limited
            ),
        ),
        (
            "DHCPv6",
            format!(
                "answered {}, dropped {}",
                s.dhcpv6_answered, s.dhcpv6_dropped
            ),
        ),
    ];
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<w$}  {v}");
    }
    if let Some(r) = &s.radius {
        radius(out, r);
    }
    if let Some(l) = &s.lac {
        lac(out, l);
    }
    if let Some(u) = &s.upgrade {
        upgrade(out, u);
    }
    if let Some(f) = &s.failover {
        failover_stats(out, f);
    }
    let _ = writeln!(out, "Data");
    counters(out, &s.datapath);
}

/// What hitless upgrades carried over: totals, then each tunnel resumed or lost.
fn upgrade(out: &mut String, u: &l2tp_mgmt::UpgradeStats) {
    if u.recovery {
        let _ = writeln!(
            out,
            "Recovery: restarted on the state journal {} ago: tunnels {} recovered, {} lost; \
             sessions {} recovered, {} lost",
            duration(u.since_s),
            u.tunnels_resumed,
            u.tunnels_lost,
            u.sessions_resumed,
            u.sessions_lost
        );
    } else {
        upgrade_line(out, u);
    }
    for t in &u.tunnels {
        let _ = writeln!(
            out,
            "  tunnel {:<5} {:<22} {:>6} sessions  {}",
            t.local_id, t.peer_addr, t.sessions, t.outcome
        );
    }
}

fn upgrade_line(out: &mut String, u: &l2tp_mgmt::UpgradeStats) {
    let _ = writeln!(
        out,
        "Upgrade: {} hand-over(s), the last {} ago: tunnels {} resumed, {} lost; sessions {} \
         resumed, {} lost",
        u.upgrades,
        duration(u.since_s),
        u.tunnels_resumed,
        u.tunnels_lost,
        u.sessions_resumed,
        u.sessions_lost
    );
}

/// RFC 4951 failover: recoveries answered, then our own per tunnel (recovered or lost).
fn failover_stats(out: &mut String, f: &l2tp_mgmt::FailoverStats) {
    let _ = writeln!(
        out,
        "Failover: {} recovery(ies) answered, {} session queries answered; tunnels {} \
         recovered, {} lost, {} recovering; sessions {} cleared by the peer's answer, {} \
         dropped (set-up lost)",
        f.recoveries_answered,
        f.session_queries_answered,
        f.tunnels_recovered,
        f.tunnels_lost,
        f.tunnels_recovering,
        f.sessions_cleared,
        f.sessions_dropped
    );
    for t in &f.tunnels {
        let _ = writeln!(
            out,
            "  tunnel {:<5} {:<22} {:>6} sessions  {}",
            t.local_id, t.peer_addr, t.sessions, t.outcome
        );
    }
}

/// Seconds since the Unix epoch now (for the time labels of quality periods).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `quality`: a line per period, the one in progress last.
pub fn quality(out: &mut String, q: &l2tp_mgmt::QualityInfo, now_unix: u64) {
    let _ = writeln!(
        out,
        "Session {}/{} ({}): an LCP echo every {} ms, {} s periods",
        q.tunnel,
        q.session,
        q.user.as_deref().unwrap_or("-"),
        q.probe_interval_ms,
        q.period_s
    );
    let _ = writeln!(
        out,
        "{:<9} {:>5} {:>5} {:>5} {:>6} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "ENDED",
        "SECS",
        "SENT",
        "LOST",
        "LOSS%",
        "RTT_MIN",
        "RTT_AVG",
        "RTT_MAX",
        "RX_BYTES",
        "TX_BYTES"
    );
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for p in &q.periods {
        let ended = now_unix.saturating_sub(p.ended_s_ago);
        let when = if p.ended_s_ago == 0 {
            "now".to_string()
        } else {
            format!(
                "{:02}:{:02}:{:02}",
                ended / 3600 % 24,
                ended / 60 % 60,
                ended % 60
            )
        };
        let _ = writeln!(
            out,
            "{:<9} {:>5} {:>5} {:>5} {:>6} {:>10} {:>10} {:>10} {:>12} {:>12}",
            when,
            p.seconds,
            p.sent,
            p.lost,
            p.loss()
                .map(|l| format!("{:.1}", l * 100.0))
                .unwrap_or_else(|| "-".into()),
            ms(p.rtt_min_ms),
            ms(p.rtt_avg_ms),
            ms(p.rtt_max_ms),
            p.rx_bytes,
            p.tx_bytes
        );
    }
}

/// What `close user|address` closed: one line per session, `closed TID/SID USER ADDRESS`.
pub fn closed(sessions: &[SessionInfo]) -> String {
    let mut out = String::new();
    for s in sessions {
        let addr = s
            .ipv4
            .map(|a| a.to_string())
            .or_else(|| s.ipv6.map(|a| a.to_string()));
        let _ = writeln!(
            out,
            "closed {}/{} {} {}",
            s.tunnel,
            s.session,
            s.user.as_deref().unwrap_or("-"),
            addr.as_deref().unwrap_or("-")
        );
    }
    out
}

/// Human-readable rendering of a successful response. `tunnel_filter` keeps only the
/// sessions of one tunnel in a session list.
pub fn human(resp: &Response, tunnel_filter: Option<u16>) -> String {
    let mut out = String::new();
    match resp {
        Response::Ok => {}
        Response::Tunnels(ts) => {
            if ts.is_empty() {
                out.push_str("No tunnels.\n");
            }
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                tunnel(&mut out, t);
            }
        }
        Response::Sessions(ss) => {
            let shown: Vec<&SessionInfo> = ss
                .iter()
                .filter(|s| tunnel_filter.is_none_or(|t| s.tunnel == t))
                .collect();
            if shown.is_empty() {
                out.push_str("No sessions.\n");
            }
            for (i, s) in shown.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                session(&mut out, s);
            }
        }
        Response::Tunnel(t) => tunnel(&mut out, t),
        Response::Session(s) => session(&mut out, s),
        Response::Dialing { tunnel, session } => {
            let _ = writeln!(out, "Dialing: tunnel {tunnel}, session {session}");
        }
        Response::Stats(s) => stats(&mut out, s),
        Response::Quality(q) => quality(&mut out, q, unix_now()),
        Response::Reloaded {
            applied,
            restart_needed,
        } => {
            if applied.is_empty() && restart_needed.is_empty() {
                let _ = writeln!(out, "Configuration reloaded: nothing changed.");
            } else {
                let _ = writeln!(out, "Configuration reloaded.");
            }
            for l in applied {
                let _ = writeln!(out, "applied: {l}");
            }
            for l in restart_needed {
                let _ = writeln!(out, "not applied: {l}");
            }
        }
        Response::PppoeSessions(v) => pppoe(&mut out, v),
        Response::Upgraded {
            old_pid,
            new_pid,
            tunnels,
            sessions,
            pause_us,
            snapshot_bytes,
        } => {
            let _ = writeln!(
                out,
                "Upgraded: pid {old_pid} -> {new_pid}; {tunnels} tunnels and {sessions} sessions \
                 carried over; nothing read for {:.1} ms; snapshot {snapshot_bytes} bytes.",
                *pause_us as f64 / 1000.0
            );
        }
        Response::Error { message } => {
            let _ = writeln!(out, "error: {message}");
        }
    }
    out
}

/// The RADIUS block of `stats`: the shell's queues, the spool, dynamic authorization, and a
/// line per server.
fn radius(out: &mut String, r: &l2tp_mgmt::RadiusStats) {
    let _ = writeln!(
        out,
        "RADIUS  waiting {}, logins refused unsent {}; Stops spooled {}, replayed {}, lost {}; \
         DAE requests {} (ACK {}, NAK {}), dropped {}",
        r.waiting,
        r.auth_not_sent,
        r.stops_spooled,
        r.stops_replayed,
        r.stops_lost,
        r.dae_requests,
        r.dae_acks,
        r.dae_naks,
        r.dae_dropped
    );
    for sv in &r.servers {
        let _ = writeln!(
            out,
            "  {} {} {}: requests {}, retransmitted {}, timeouts {}, accepts {}, rejects {}, \
             accounting {}, bad replies {}",
            sv.role,
            sv.address,
            if sv.dead { "DEAD" } else { "up" },
            sv.requests,
            sv.retransmissions,
            sv.timeouts,
            sv.accepts,
            sv.rejects,
            sv.accounting_responses,
            sv.bad_replies
        );
    }
}

/// The LAC block of `stats`: subscribers, calls, discovery and drops.
fn lac(out: &mut String, l: &l2tp_mgmt::LacStats) {
    let _ = writeln!(out, "LAC");
    let _ = writeln!(
        out,
        "  PPPoE subscribers {}, relaying {}; calls placed {}, up {}, failed {}, no LNS for the realm {}",
        l.subscribers, l.relaying, l.calls_placed, l.calls_up, l.calls_failed, l.no_lns
    );
    let locked = if l.lns_locked_out.is_empty() {
        "none".to_string()
    } else {
        l.lns_locked_out.join(", ")
    };
    let _ = writeln!(
        out,
        "  LNS steering: calls retried {}, lockouts {}; locked out now: {locked}; RADIUS steered {}, rejected {}",
        l.calls_retried, l.lns_lockouts, l.radius_steered, l.radius_rejected
    );
    let _ = writeln!(
        out,
        "  Discovery: PADI {} PADO {} PADR {} PADS {} (errors {}) PADT in {} out {}",
        l.padi_rx, l.pado_tx, l.padr_rx, l.pads_tx, l.pads_error_tx, l.padt_rx, l.padt_tx
    );
    let dropped: Vec<String> = l.dropped.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "  Dropped: {}; while calling {}",
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        },
        l.dropped_while_calling
    );
}

/// `l2tpctl pppoe`: one line per PPPoE subscriber.
fn pppoe(out: &mut String, v: &[l2tp_mgmt::PppoeSessionInfo]) {
    if v.is_empty() {
        out.push_str("No PPPoE sessions.\n");
        return;
    }
    let _ = writeln!(
        out,
        "{:<16} {:<17} {:<24} {:<22} {:<12} {:<13} {:>9} {:>16} {:>16}",
        "IFACE/PPPOE",
        "MAC",
        "USER",
        "LNS",
        "STATE",
        "CALL",
        "UPTIME",
        "UP frames/bytes",
        "DOWN frames/bytes"
    );
    for p in v {
        let call = match (p.tunnel, p.session) {
            (Some(t), Some(s)) => format!("{t}/{s}"),
            _ => "-".into(),
        };
        let mut mac = p.mac.clone();
        if !p.vlans.is_empty() {
            let v: Vec<String> = p.vlans.iter().map(u16::to_string).collect();
            mac.push_str(&format!(" vlan {}", v.join(".")));
        }
        if let Some(c) = &p.circuit_id {
            mac.push_str(&format!(" ({c})"));
        }
        let _ = writeln!(
            out,
            "{:<16} {:<17} {:<24} {:<22} {:<12} {:<13} {:>9} {:>16} {:>16}",
            format!("{}/{}", p.interface, p.pppoe_session),
            mac,
            p.user.as_deref().unwrap_or("-"),
            p.lns.as_deref().unwrap_or("-"),
            p.state,
            call,
            duration(p.uptime_s),
            format!("{}/{}", p.up_frames, p.up_bytes),
            format!("{}/{}", p.down_frames, p.down_bytes),
        );
    }
}
