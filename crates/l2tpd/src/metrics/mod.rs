//! Prometheus metrics: a text exposition rendered from a snapshot, served over HTTP/1.0.
//!
//! **Mechanism**: the event loop owns the truth and must never block on a scrape, so it
//! publishes a [`l2tp_mgmt::DaemonStats`] into a shared [`SharedSnapshot`]
//! (`Arc<Mutex<Snapshot>>`) about once a second (and whenever it likes); the HTTP thread only
//! reads that copy. A scrape therefore sees figures at most about a second old and costs the
//! loop nothing. [`MetricsServer::start`] serves `GET /metrics` on the configured address
//! (`daemon.metrics_listen`): every connection non-blocking on one poller, so any number of
//! scrapers are served at once and an idle or slow client delays nobody; each connection
//! closes when answered or after a few seconds, at most 64 are open (the oldest goes first).
//! The same listener serves each session's line-quality graph
//! (`/sessions/TID/SID/quality.svg`), asked of the event loop over the management socket.
//!
//! Metric names follow Prometheus conventions: gauges for what exists now
//! (`l2tpd_tunnels`, `l2tpd_sessions{state=..}`), `_total` counters for what happened
//! (`l2tpd_rx_packets_total`, `l2tpd_control_retransmissions_total`,
//! `l2tpd_auth_failures_total`). Datapath counters carry the kernel's names.

mod http;

pub use http::MetricsServer;

use l2tp_mgmt::DaemonStats;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// What the event loop publishes for the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Daemon-wide figures (the same as `l2tpctl stats`).
    pub stats: DaemonStats,
    /// IPv4 pool size and addresses in use (LNS role), when a pool exists.
    pub pool: Option<PoolUsage>,
}

/// Address pool occupancy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Addresses the pool can hand out.
    pub capacity: u64,
    /// Addresses allocated or reserved.
    pub in_use: u64,
}

/// The snapshot shared between the event loop (writer) and the HTTP thread (reader).
pub type SharedSnapshot = Arc<Mutex<Snapshot>>;

/// Escapes a label value (Prometheus text format: `\`, `"` and newline).
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Control connection states, as the daemon names them.
const TUNNEL_STATES: [&str; 5] = [
    "wait-ctl-reply",
    "wait-decision",
    "wait-ctl-conn",
    "established",
    "closing",
];
/// Call states, as the daemon names them.
const SESSION_STATES: [&str; 5] = [
    "wait-tunnel",
    "wait-decision",
    "wait-reply",
    "wait-connect",
    "established",
];
/// PPP phases, as the daemon names them.
const PPP_PHASES: [&str; 5] = ["dead", "establish", "authenticate", "network", "terminate"];

/// Every known state with its count (0 when absent), then any other state reported.
fn with_every_state<'a>(
    known: &[&str],
    counts: impl Iterator<Item = (&'a String, &'a u64)>,
) -> Vec<(String, u64)> {
    let counts: BTreeMap<&str, u64> = counts.map(|(k, v)| (k.as_str(), *v)).collect();
    let mut out: Vec<(String, u64)> = known
        .iter()
        .map(|k| (k.to_string(), counts.get(k).copied().unwrap_or(0)))
        .collect();
    out.extend(
        counts
            .iter()
            .filter(|(k, _)| !known.contains(k))
            .map(|(k, v)| (k.to_string(), *v)),
    );
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, value: u64) {
    let _ = writeln!(out, "{name} {value}");
}

/// Renders the Prometheus text exposition format (version 0.0.4) of a snapshot.
pub fn render(snap: &Snapshot) -> String {
    let s = &snap.stats;
    let mut out = String::with_capacity(4096);

    family(&mut out, "l2tpd_info", "gauge", "Daemon role and version.");
    let _ = writeln!(
        out,
        "l2tpd_info{{role=\"{}\",version=\"{}\"}} 1",
        escape_label(&s.role),
        env!("CARGO_PKG_VERSION")
    );
    family(
        &mut out,
        "l2tpd_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    sample(&mut out, "l2tpd_uptime_seconds", s.uptime_s);

    family(
        &mut out,
        "l2tpd_tunnels",
        "gauge",
        "Tunnels that exist now.",
    );
    sample(&mut out, "l2tpd_tunnels", s.tunnels);
    // State gauges list every state, 0 included, so a dashboard or an alert on
    // `l2tpd_sessions{state="established"}` has a series from the first scrape on.
    family(
        &mut out,
        "l2tpd_tunnels_by_state",
        "gauge",
        "Tunnels per control connection state.",
    );
    for (state, n) in with_every_state(&TUNNEL_STATES, s.tunnels_by_state.iter()) {
        let _ = writeln!(
            out,
            "l2tpd_tunnels_by_state{{state=\"{}\"}} {n}",
            escape_label(&state)
        );
    }
    // The daemon's session states read `established/ppp-network`: the call state, then the
    // PPP phase. Each part is a gauge family of its own.
    let split = |state: &str| -> (String, Option<String>) {
        match state.split_once("/ppp-") {
            Some((call, phase)) => (call.to_string(), Some(phase.to_string())),
            None => (state.to_string(), None),
        }
    };
    let mut by_call: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_phase: BTreeMap<String, u64> = BTreeMap::new();
    for (state, n) in &s.sessions_by_state {
        let (call, phase) = split(state);
        *by_call.entry(call).or_insert(0) += n;
        if let Some(p) = phase {
            *by_phase.entry(p).or_insert(0) += n;
        }
    }
    family(
        &mut out,
        "l2tpd_sessions",
        "gauge",
        "Sessions per call state (RFC 2661 section 7).",
    );
    for (state, n) in with_every_state(&SESSION_STATES, by_call.iter()) {
        let _ = writeln!(
            out,
            "l2tpd_sessions{{state=\"{}\"}} {n}",
            escape_label(&state)
        );
    }
    family(
        &mut out,
        "l2tpd_sessions_by_ppp_phase",
        "gauge",
        "Sessions per PPP phase (RFC 1661 section 3.2).",
    );
    for (phase, n) in with_every_state(&PPP_PHASES, by_phase.iter()) {
        let _ = writeln!(
            out,
            "l2tpd_sessions_by_ppp_phase{{phase=\"{}\"}} {n}",
            escape_label(&phase)
        );
    }

    let d = &s.datapath;
    for (name, help, v) in [
        ("tx_packets", "Data packets sent.", d.tx_packets),
        ("tx_bytes", "Data bytes sent.", d.tx_bytes),
        (
            "tx_errors",
            "Data packets that could not be sent.",
            d.tx_errors,
        ),
        ("rx_packets", "Data packets received.", d.rx_packets),
        ("rx_bytes", "Data bytes received.", d.rx_bytes),
        (
            "rx_seq_discards",
            "Data packets dropped by the sequence number rules.",
            d.rx_seq_discards,
        ),
        (
            "rx_oos_packets",
            "Data packets received out of order.",
            d.rx_oos_packets,
        ),
        (
            "rx_errors",
            "Data packets dropped as malformed or unroutable.",
            d.rx_errors,
        ),
    ] {
        let metric = format!("l2tpd_{name}_total");
        family(&mut out, &metric, "counter", help);
        sample(&mut out, &metric, v);
    }

    let c = &s.control;
    for (name, help, v) in [
        (
            "control_sent",
            "Control messages sent (first transmissions).",
            c.sent,
        ),
        (
            "control_retransmissions",
            "Control messages retransmitted (RFC 2661 section 5.8).",
            c.retransmitted,
        ),
        ("control_received", "Control messages received.", c.received),
        (
            "control_duplicates",
            "Duplicate control messages received.",
            c.duplicates,
        ),
        (
            "auth_failures",
            "PPP authentication failures.",
            s.auth_failures,
        ),
        (
            "tunnel_auth_failures",
            "Tunnel authentication failures: wrong or missing Challenge Response (RFC 2661 section 5.1.1).",
            s.tunnel_auth_failures,
        ),
        ("tunnels_refused", "Tunnels refused.", s.tunnels_refused),
        ("sessions_refused", "Sessions refused.", s.sessions_refused),
        (
            "half_open_evicted",
            "Half-open tunnels evicted to make room for a newer SCCRQ (table full).",
            s.half_open_evicted,
        ),
        (
            "half_open_silenced",
            "SCCRP retransmissions not sent under pressure: the peer never answered.",
            s.half_open_silenced,
        ),
        (
            "half_open_restored",
            "Evicted half-open tunnels rebuilt when their peer's late SCCCN arrived.",
            s.half_open_restored,
        ),
        (
            "sccrq_rejected",
            "SCCRQs refused on their content without creating tunnel state.",
            s.sccrq_rejected,
        ),
        (
            "control_wrong_peer",
            "Control messages for a tunnel from an address other than its peer's.",
            s.control_wrong_peer,
        ),
        (
            "control_unknown_tunnel",
            "Control messages for unknown tunnel ids.",
            s.control_unknown_tunnel,
        ),
        (
            "data_wrong_peer",
            "Data messages for a session from an address other than its tunnel's peer.",
            s.data_wrong_peer,
        ),
        (
            "ppp_bad_frames",
            "PPP frames that could not be classified, dropped.",
            s.ppp_bad_frames,
        ),
        (
            "rate_limited",
            "IP packets dropped by a session's rate limit (both directions).",
            s.rate_limited,
        ),
        (
            "dhcpv6_answered",
            "DHCPv6 messages answered on the sessions' links (prefix delegation).",
            s.dhcpv6_answered,
        ),
        (
            "dhcpv6_dropped",
            "DHCPv6 messages dropped: malformed, not for us, or before the session's IPv6.",
            s.dhcpv6_dropped,
        ),
    ] {
        let metric = format!("l2tpd_{name}_total");
        family(&mut out, &metric, "counter", help);
        sample(&mut out, &metric, v);
    }

    if let Some(p) = snap.pool {
        family(&mut out, "l2tpd_pool_addresses", "gauge", "IPv4 pool size.");
        sample(&mut out, "l2tpd_pool_addresses", p.capacity);
        family(
            &mut out,
            "l2tpd_pool_addresses_in_use",
            "gauge",
            "IPv4 pool addresses in use.",
        );
        sample(&mut out, "l2tpd_pool_addresses_in_use", p.in_use);
    }
    if let Some(r) = &s.radius {
        radius(&mut out, r);
    }
    if let Some(l) = &s.lac {
        lac(&mut out, l);
    }
    upgrade(&mut out, s.upgrade.as_deref());
    failover(&mut out, s.failover.as_deref());
    out
}

/// RFC 4951 failover (zeros when it is off or nothing happened).
fn failover(out: &mut String, f: Option<&l2tp_mgmt::FailoverStats>) {
    let d = l2tp_mgmt::FailoverStats::default();
    let f = f.unwrap_or(&d);
    family(
        out,
        "l2tpd_failover_tunnels",
        "gauge",
        "Tunnels this daemon set out to recover from its peers with RFC 4951 failover after \
         its state was lost or restored stale, by outcome.",
    );
    for (outcome, n) in [
        ("recovered", f.tunnels_recovered),
        ("lost", f.tunnels_lost),
        ("recovering", f.tunnels_recovering),
    ] {
        let _ = writeln!(out, "l2tpd_failover_tunnels{{outcome=\"{outcome}\"}} {n}");
    }
    for (name, help, v) in [
        (
            "l2tpd_failover_recoveries_answered_total",
            "Recovery tunnels our peers set up to recover one of our tunnels (RFC 4951).",
            f.recoveries_answered,
        ),
        (
            "l2tpd_failover_sessions_cleared_total",
            "Sessions of tunnels we recovered that the peer no longer had (its Failover \
             Session Response).",
            f.sessions_cleared,
        ),
        (
            "l2tpd_failover_sessions_dropped_total",
            "Sessions of tunnels we recovered whose set-up was in flight in the state we \
             restored, cleared.",
            f.sessions_dropped,
        ),
    ] {
        family(out, name, "counter", help);
        sample(out, name, v);
    }
}

/// What hitless upgrades carried over (zeros for a daemon that started afresh).
fn upgrade(out: &mut String, u: Option<&l2tp_mgmt::UpgradeStats>) {
    let d = l2tp_mgmt::UpgradeStats::default();
    let u = u.unwrap_or(&d);
    family(
        out,
        "l2tpd_upgrades_total",
        "counter",
        "Hitless upgrades the daemon's state went through since it last started afresh.",
    );
    sample(out, "l2tpd_upgrades_total", u.upgrades);
    family(
        out,
        "l2tpd_recoveries_total",
        "counter",
        "Crash recoveries (the state directory's journal replayed after a restart) the daemon's state went through since it last started afresh.",
    );
    sample(out, "l2tpd_recoveries_total", u.recoveries);
    for (what, n, lost) in [
        ("tunnels", u.tunnels_resumed, u.tunnels_lost),
        ("sessions", u.sessions_resumed, u.sessions_lost),
    ] {
        let metric = format!("l2tpd_recovery_{what}");
        let help = format!(
            "{what} the crash recovery brought back from the journal, by outcome (lost: gone \
             within a minute after it, e.g. its peer had given up)."
        );
        family(out, &metric, "gauge", &help);
        let (n, lost) = if u.recovery { (n, lost) } else { (0, 0) };
        let _ = writeln!(out, "{metric}{{outcome=\"recovered\"}} {n}");
        let _ = writeln!(out, "{metric}{{outcome=\"lost\"}} {lost}");
    }
    let (resumed_t, lost_t, resumed_s, lost_s) = if u.recovery {
        (0, 0, 0, 0)
    } else {
        (
            u.tunnels_resumed,
            u.tunnels_lost,
            u.sessions_resumed,
            u.sessions_lost,
        )
    };
    for (what, resumed, lost) in [
        ("tunnels", resumed_t, lost_t),
        ("sessions", resumed_s, lost_s),
    ] {
        let metric = format!("l2tpd_upgrade_{what}");
        let help = format!(
            "{what} the last hitless upgrade carried over, by outcome (lost: gone within a \
             minute after it)."
        );
        family(out, &metric, "gauge", &help);
        let _ = writeln!(out, "{metric}{{outcome=\"resumed\"}} {resumed}");
        let _ = writeln!(out, "{metric}{{outcome=\"lost\"}} {lost}");
    }
}

/// The relaying LAC: subscribers, calls, PPPoE discovery and drops by reason.
fn lac(out: &mut String, l: &l2tp_mgmt::LacStats) {
    family(
        out,
        "l2tpd_pppoe_sessions",
        "gauge",
        "PPPoE subscribers now.",
    );
    sample(out, "l2tpd_pppoe_sessions", l.subscribers);
    family(
        out,
        "l2tpd_pppoe_sessions_relaying",
        "gauge",
        "PPPoE subscribers relayed into an established L2TP call.",
    );
    sample(out, "l2tpd_pppoe_sessions_relaying", l.relaying);
    for (name, help, v) in [
        (
            "lac_calls_placed",
            "Calls placed for PPPoE subscribers.",
            l.calls_placed,
        ),
        (
            "lac_calls_up",
            "Calls that reached the relay stage.",
            l.calls_up,
        ),
        (
            "lac_calls_failed",
            "Subscribers gone before their call was up.",
            l.calls_failed,
        ),
        (
            "lac_no_lns",
            "Subscribers whose realm had no LNS.",
            l.no_lns,
        ),
        (
            "lac_calls_retried",
            "Calls placed again toward the next LNS of their group.",
            l.calls_retried,
        ),
        (
            "lac_lns_lockouts",
            "Times an LNS was locked out after failing a call.",
            l.lns_lockouts,
        ),
        ("pppoe_padi_received", "PADIs received.", l.padi_rx),
        ("pppoe_pado_sent", "PADOs sent.", l.pado_tx),
        ("pppoe_padr_received", "PADRs received.", l.padr_rx),
        (
            "pppoe_pads_sent",
            "PADSs sent confirming a session.",
            l.pads_tx,
        ),
        (
            "pppoe_pads_errors_sent",
            "PADSs sent with an error TAG.",
            l.pads_error_tx,
        ),
        ("pppoe_padt_received", "PADTs received.", l.padt_rx),
        ("pppoe_padt_sent", "PADTs sent.", l.padt_tx),
    ] {
        let metric = format!("l2tpd_{name}_total");
        family(out, &metric, "counter", help);
        sample(out, &metric, v);
    }
    family(
        out,
        "l2tpd_pppoe_dropped_total",
        "counter",
        "PPPoE frames dropped, by reason.",
    );
    for (reason, v) in &l.dropped {
        let _ = writeln!(
            out,
            "l2tpd_pppoe_dropped_total{{reason=\"{}\"}} {v}",
            escape_label(reason)
        );
    }
}

/// RADIUS: per-server counters and state, the spool and dynamic authorization.
fn radius(out: &mut String, r: &l2tp_mgmt::RadiusStats) {
    type Field = fn(&l2tp_mgmt::RadiusServerStats) -> u64;
    let per_server: [(&str, &str, Field); 7] = [
        (
            "requests",
            "RADIUS requests sent (first transmissions).",
            |s| s.requests,
        ),
        ("retransmissions", "RADIUS retransmissions.", |s| {
            s.retransmissions
        }),
        ("timeouts", "RADIUS requests given up on a server.", |s| {
            s.timeouts
        }),
        ("accepts", "Access-Accepts received.", |s| s.accepts),
        ("rejects", "Access-Rejects received.", |s| s.rejects),
        (
            "accounting_responses",
            "Accounting-Responses received.",
            |s| s.accounting_responses,
        ),
        (
            "bad_replies",
            "RADIUS replies dropped (authenticators, malformed, unknown id).",
            |s| s.bad_replies,
        ),
    ];
    for (name, help, get) in per_server {
        let metric = format!("l2tpd_radius_{name}_total");
        family(out, &metric, "counter", help);
        for sv in &r.servers {
            let _ = writeln!(
                out,
                "{metric}{{server=\"{}\",role=\"{}\"}} {}",
                escape_label(&sv.address),
                escape_label(&sv.role),
                get(sv)
            );
        }
    }
    family(
        out,
        "l2tpd_radius_server_up",
        "gauge",
        "1 while a RADIUS server answers, 0 while it is declared dead.",
    );
    for sv in &r.servers {
        let _ = writeln!(
            out,
            "l2tpd_radius_server_up{{server=\"{}\",role=\"{}\"}} {}",
            escape_label(&sv.address),
            escape_label(&sv.role),
            u8::from(!sv.dead)
        );
    }
    family(
        out,
        "l2tpd_radius_waiting",
        "gauge",
        "RADIUS requests waiting for room.",
    );
    sample(out, "l2tpd_radius_waiting", r.waiting);
    for (name, help, v) in [
        (
            "auth_not_sent",
            "Logins refused without a RADIUS answer (no server, queue full).",
            r.auth_not_sent,
        ),
        (
            "stops_spooled",
            "Accounting Stops written to the spool.",
            r.stops_spooled,
        ),
        (
            "stops_replayed",
            "Spooled accounting Stops delivered later.",
            r.stops_replayed,
        ),
        (
            "stops_lost",
            "Accounting Stops lost (no spool, spool full).",
            r.stops_lost,
        ),
        (
            "dae_requests",
            "Disconnect and CoA requests accepted.",
            r.dae_requests,
        ),
        ("dae_acks", "Disconnect/CoA ACKs sent.", r.dae_acks),
        ("dae_naks", "Disconnect/CoA NAKs sent.", r.dae_naks),
        (
            "dae_dropped",
            "Disconnect/CoA requests dropped (unknown client, bad authenticator, malformed).",
            r.dae_dropped,
        ),
    ] {
        let metric = format!("l2tpd_radius_{name}_total");
        family(out, &metric, "counter", help);
        sample(out, &metric, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_mgmt::{ControlCounters, DatapathCounters};

    fn snapshot() -> Snapshot {
        let mut s = DaemonStats {
            role: "lns".into(),
            uptime_s: 12,
            tunnels: 2,
            sessions: 3,
            auth_failures: 4,
            control: ControlCounters {
                sent: 10,
                retransmitted: 2,
                received: 11,
                duplicates: 1,
            },
            datapath: DatapathCounters {
                rx_packets: 1000,
                rx_bytes: 123_456,
                rx_seq_discards: 5,
                ..Default::default()
            },
            ..Default::default()
        };
        s.tunnels_by_state.insert("established".into(), 2);
        s.sessions_by_state.insert("established".into(), 2);
        s.sessions_by_state.insert("wait-connect".into(), 1);
        Snapshot {
            stats: s,
            pool: Some(PoolUsage {
                capacity: 191,
                in_use: 3,
            }),
        }
    }

    #[test]
    fn failover_recoveries_are_counted_by_outcome() {
        let mut snap = snapshot();
        let text = render(&snap);
        assert!(
            text.lines()
                .any(|l| l == "l2tpd_failover_tunnels{outcome=\"recovered\"} 0"),
            "{text}"
        );
        snap.stats.failover = Some(Box::new(l2tp_mgmt::FailoverStats {
            recoveries_answered: 4,
            tunnels_recovered: 2,
            tunnels_lost: 1,
            sessions_cleared: 3,
            ..Default::default()
        }));
        let text = render(&snap);
        for line in [
            "l2tpd_failover_tunnels{outcome=\"recovered\"} 2",
            "l2tpd_failover_tunnels{outcome=\"lost\"} 1",
            "l2tpd_failover_recoveries_answered_total 4",
            "l2tpd_failover_sessions_cleared_total 3",
            "# TYPE l2tpd_failover_tunnels gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn upgrades_are_counted_by_outcome() {
        let mut snap = snapshot();
        let text = render(&snap);
        assert!(
            text.lines().any(|l| l == "l2tpd_upgrades_total 0"),
            "{text}"
        );
        snap.stats.upgrade = Some(Box::new(l2tp_mgmt::UpgradeStats {
            upgrades: 3,
            tunnels_resumed: 2,
            tunnels_lost: 1,
            sessions_resumed: 50,
            sessions_lost: 4,
            ..Default::default()
        }));
        let text = render(&snap);
        for line in [
            "l2tpd_upgrades_total 3",
            "l2tpd_upgrade_tunnels{outcome=\"resumed\"} 2",
            "l2tpd_upgrade_tunnels{outcome=\"lost\"} 1",
            "l2tpd_upgrade_sessions{outcome=\"resumed\"} 50",
            "l2tpd_upgrade_sessions{outcome=\"lost\"} 4",
            "# TYPE l2tpd_upgrades_total counter",
            "l2tpd_recoveries_total 0",
            "l2tpd_recovery_tunnels{outcome=\"recovered\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn crash_recoveries_are_counted_by_outcome() {
        let mut snap = snapshot();
        snap.stats.upgrade = Some(Box::new(l2tp_mgmt::UpgradeStats {
            tunnels_resumed: 2,
            tunnels_lost: 1,
            sessions_resumed: 50,
            sessions_lost: 4,
            recovery: true,
            recoveries: 1,
            ..Default::default()
        }));
        let text = render(&snap);
        for line in [
            "l2tpd_recoveries_total 1",
            "l2tpd_recovery_tunnels{outcome=\"recovered\"} 2",
            "l2tpd_recovery_tunnels{outcome=\"lost\"} 1",
            "l2tpd_recovery_sessions{outcome=\"recovered\"} 50",
            "l2tpd_recovery_sessions{outcome=\"lost\"} 4",
            "l2tpd_upgrade_tunnels{outcome=\"resumed\"} 0",
            "# TYPE l2tpd_recoveries_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn exposition_has_the_documented_series() {
        let text = render(&snapshot());
        for line in [
            "l2tpd_tunnels 2",
            "l2tpd_sessions{state=\"established\"} 2",
            "l2tpd_sessions{state=\"wait-connect\"} 1",
            "l2tpd_tunnels_by_state{state=\"established\"} 2",
            "l2tpd_rx_packets_total 1000",
            "l2tpd_rx_bytes_total 123456",
            "l2tpd_rx_seq_discards_total 5",
            "l2tpd_tx_packets_total 0",
            "l2tpd_control_retransmissions_total 2",
            "l2tpd_auth_failures_total 4",
            "l2tpd_pool_addresses_in_use 3",
            "# TYPE l2tpd_rx_packets_total counter",
            "# TYPE l2tpd_sessions gauge",
            "l2tpd_info{role=\"lns\",version=\"0.1.0\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line is NAME[{labels}] VALUE with a TYPE declared before it.
        let mut typed = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(typed.contains(name), "{name} has no TYPE line");
                assert!(l.rsplit(' ').next().unwrap().parse::<u64>().is_ok(), "{l}");
            }
        }
    }

    #[test]
    fn state_gauges_are_always_present() {
        // An idle daemon: every state at 0, not missing.
        let text = render(&Snapshot::default());
        for state in TUNNEL_STATES {
            let line = format!("l2tpd_tunnels_by_state{{state=\"{state}\"}} 0");
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        for state in SESSION_STATES {
            let line = format!("l2tpd_sessions{{state=\"{state}\"}} 0");
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        for phase in PPP_PHASES {
            let line = format!("l2tpd_sessions_by_ppp_phase{{phase=\"{phase}\"}} 0");
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(
            text.contains("\nl2tpd_tunnel_auth_failures_total 0\n"),
            "{text}"
        );
        // Composite states split into the call state and the PPP phase.
        let mut snap = Snapshot::default();
        snap.stats
            .sessions_by_state
            .insert("established/ppp-network".into(), 7);
        snap.stats
            .sessions_by_state
            .insert("established/ppp-authenticate".into(), 2);
        snap.stats.tunnel_auth_failures = 3;
        let text = render(&snap);
        for line in [
            "l2tpd_sessions{state=\"established\"} 9",
            "l2tpd_sessions_by_ppp_phase{phase=\"network\"} 7",
            "l2tpd_sessions_by_ppp_phase{phase=\"authenticate\"} 2",
            "l2tpd_tunnel_auth_failures_total 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = Snapshot::default();
        s.stats.sessions_by_state.insert("we\"ird\\\n".into(), 1);
        let text = render(&s);
        assert!(
            text.contains("l2tpd_sessions{state=\"we\\\"ird\\\\\\n\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn a_relaying_lacs_series_appear_with_its_drops_by_reason() {
        let mut s = Snapshot::default();
        assert!(
            !render(&s).contains("l2tpd_pppoe"),
            "no LAC, no PPPoE series"
        );
        let mut lac = l2tp_mgmt::LacStats {
            subscribers: 3,
            relaying: 2,
            padi_rx: 7,
            ..Default::default()
        };
        lac.dropped.insert("cookie_invalid".into(), 4);
        s.stats.lac = Some(Box::new(lac));
        let text = render(&s);
        for line in [
            "l2tpd_pppoe_sessions 3",
            "l2tpd_pppoe_sessions_relaying 2",
            "l2tpd_pppoe_padi_received_total 7",
            "# TYPE l2tpd_pppoe_dropped_total counter",
            "l2tpd_pppoe_dropped_total{reason=\"cookie_invalid\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
