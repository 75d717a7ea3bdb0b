//! Scale (issue 8): an `l2tpd` LNS and the `l2tpd loadgen` LAC, separate processes on
//! loopback, bring up 10,000 sessions (2 tunnels × 5,000, each with PPP CHAP-MD5 and IPCP),
//! then the generator hangs up and the LNS must be back where it started: no tunnels, no
//! sessions, every pool address free, memory near the idle baseline. Not timed: figures
//! are in BENCHMARKS.md (scripts/bench-sessions.sh). Needs no root (interface_mode none).

mod support;
use support::{free_udp_port, stats, wait_for};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::Client;

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");
const TUNNELS: u64 = 2;
const SESSIONS: u64 = 5_000;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        support::stop(&mut self.0);
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
fn ten_thousand_sessions_up_and_down_with_nothing_leaked() {
    let dir = std::env::temp_dir().join(format!("l2tpd-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let port = free_udp_port();
    let cfg = dir.join("lns.toml");
    // 198.18.0.0/15: the range RFC 2544 reserves for benchmarking; with interface_mode
    // "none" these addresses never leave the process.
    std::fs::write(
        &cfg,
        format!(
            r#"role = "lns"
[daemon]
management_socket = "{}"
log_level = "warn"
[tunnel]
receive_window = 64
[ppp]
auth = ["chap-md5"]
[lns]
listen = ["127.0.0.1:{port}"]
ipv4_pool = "198.18.0.0/15"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
max_sessions = 20000
[[lns.users]]
name = "load"
password = "load-password"
"#,
            sock.display()
        ),
    )
    .expect("config");
    let lns = Proc(
        Command::new(L2TPD)
            .args(["run", "--config", cfg.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn LNS"),
    );
    wait_for(Duration::from_secs(10), "the LNS", || {
        Client::connect(&sock).is_ok()
    });
    let pid = lns.0.id();
    let idle_rss = rss_kib(pid);
    let before = stats(&sock);
    assert_eq!(
        (before.tunnels, before.sessions, before.pool_in_use),
        (0, 0, 0)
    );
    let capacity = before.pool_capacity;

    let mut gen = Proc(
        Command::new(L2TPD)
            .args([
                "loadgen",
                "--server",
                &format!("127.0.0.1:{port}"),
                "--tunnels",
                &TUNNELS.to_string(),
                "--sessions",
                &SESSIONS.to_string(),
                "--user",
                "load",
                "--password",
                "load-password",
                "--hold",
                "3",
                "--timeout",
                "240",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn loadgen"),
    );
    let out = gen.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("loadgen report");
    let report: serde_json::Value = serde_json::from_str(&line).expect("JSON report");
    assert_eq!(report["established"], TUNNELS * SESSIONS, "{line}");

    // While the generator holds them: the LNS has every session, each with a pool address.
    let up = stats(&sock);
    let up_rss = rss_kib(pid);
    assert_eq!(up.sessions, TUNNELS * SESSIONS, "{up:?}");
    assert_eq!(up.pool_in_use, TUNNELS * SESSIONS);
    assert_eq!(up.tunnels_by_state.get("established"), Some(&TUNNELS));
    eprintln!(
        "scale: {} sessions up at {:.0}/s; LNS RSS idle {idle_rss} KiB, with sessions {up_rss} KiB \
         ({:.2} KiB per session)",
        report["established"],
        report["sessions_per_second"].as_f64().unwrap_or(0.0),
        (up_rss.saturating_sub(idle_rss)) as f64 / (TUNNELS * SESSIONS) as f64
    );

    // The generator hangs up (StopCCN on each tunnel): everything is released.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = gen.0.try_wait() {
            assert!(status.success(), "loadgen exited with {status}");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for(
        Duration::from_secs(30),
        "the LNS to release everything",
        || {
            let s = stats(&sock);
            s.sessions == 0 && s.pool_in_use == 0 && !s.tunnels_by_state.contains_key("established")
        },
    );
    // Once the closed tunnels are forgotten too (after their StopCCN hold), the daemon's
    // totals still count what they carried: counters never go down.
    wait_for(
        Duration::from_secs(60),
        "the LNS to forget the closed tunnels",
        || stats(&sock).tunnels == 0,
    );
    let after = stats(&sock);
    assert_eq!(after.pool_capacity, capacity);
    for (what, was, now) in [
        (
            "rx_packets",
            up.datapath.rx_packets,
            after.datapath.rx_packets,
        ),
        (
            "tx_packets",
            up.datapath.tx_packets,
            after.datapath.tx_packets,
        ),
        ("rx_bytes", up.datapath.rx_bytes, after.datapath.rx_bytes),
        (
            "control received",
            up.control.received,
            after.control.received,
        ),
        ("control sent", up.control.sent, after.control.sent),
    ] {
        assert!(was > 0 && now >= was, "{what} went from {was} to {now}");
    }
    // Memory is given back (the daemon compacts its tables within a second or two): at
    // least half of what the sessions took.
    let limit = idle_rss + (up_rss.saturating_sub(idle_rss)) / 2;
    let mut after_rss = rss_kib(pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while after_rss > limit && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        after_rss = rss_kib(pid);
    }
    eprintln!("scale: after teardown LNS RSS {after_rss} KiB (idle {idle_rss}, peak {up_rss})");
    assert!(
        after_rss <= limit,
        "RSS after teardown {after_rss} KiB, idle {idle_rss} KiB, with sessions {up_rss} KiB"
    );
    drop(lns);
    let _ = std::fs::remove_dir_all(&dir);
}
