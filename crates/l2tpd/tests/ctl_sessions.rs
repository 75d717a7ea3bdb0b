//! `l2tpctl sessions` against a daemon holding 1,000 real sessions (loopback, PPP with CHAP
//! and IPCP in each, interface_mode none, no root): one line per session, filters by user,
//! address, peer, state and tunnel, numeric sort, counts.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod support;
use support::{free_udp_port, stop, wait_for};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// `l2tpctl` next to the `l2tpd` under test (built by `cargo test --workspace`).
fn l2tpctl() -> Option<PathBuf> {
    let p = Path::new(L2TPD).with_file_name("l2tpctl");
    let built = p.exists();
    support::requires(
        "ctl_sessions",
        &[(
            "l2tpctl built next to l2tpd (cargo build -p l2tpctl)",
            built,
        )],
    )
    .then_some(p)
}

/// A loadgen holding `tunnels` × `sessions` sessions as `user`, once all are up.
fn hold(port: u16, user: &str, tunnels: u32, sessions: u32) -> Proc {
    let mut gen = Proc(
        Command::new(L2TPD)
            .args(["loadgen", "--server", &format!("127.0.0.1:{port}")])
            .args([
                "--tunnels",
                &tunnels.to_string(),
                "--sessions",
                &sessions.to_string(),
            ])
            .args([
                "--user",
                user,
                "--password",
                "pw",
                "--hold",
                "120",
                "--timeout",
                "120",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn loadgen"),
    );
    let mut line = String::new();
    BufReader::new(gen.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("loadgen report");
    let report: serde_json::Value = serde_json::from_str(&line).expect("JSON report");
    assert_eq!(report["established"], tunnels * sessions, "{line}");
    gen
}

fn ctl(bin: &Path, sock: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .expect("run l2tpctl");
    assert!(
        out.status.success(),
        "l2tpctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// An LNS on loopback (users `load` and `vip`, CHAP, pool in 198.18.0.0/20, no interfaces)
/// in its own temp dir: (dir, management socket, UDP port, process).
fn start_lns(name: &str) -> (PathBuf, PathBuf, u16, Proc) {
    start_lns_with(name, "")
}

/// [`start_lns`] with more `[daemon]` lines.
fn start_lns_with(name: &str, daemon_extra: &str) -> (PathBuf, PathBuf, u16, Proc) {
    let dir =
        std::env::temp_dir().join(format!("l2tpd-ctl-sessions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let port = free_udp_port();
    let cfg = dir.join("lns.toml");
    std::fs::write(
        &cfg,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\nlog_level = \"warn\"\n{daemon_extra}\n\
             [tunnel]\nreceive_window = 64\n[ppp]\nauth = [\"chap-md5\"]\n[lns]\n\
             listen = [\"127.0.0.1:{port}\"]\nipv4_pool = \"198.18.0.0/20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\n\
             [[lns.users]]\nname = \"load\"\npassword = \"pw\"\n\
             [[lns.users]]\nname = \"vip\"\npassword = \"pw\"\n",
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
    wait_for(Duration::from_secs(10), "the LNS", || sock.exists());
    (dir, sock, port, lns)
}

#[test]
fn a_thousand_sessions_one_line_each_filtered_sorted_counted() {
    let Some(bin) = l2tpctl() else { return };
    let (dir, sock, port, _lns) = start_lns("list");
    let _load = hold(port, "load", 2, 495);
    let _vip = hold(port, "vip", 1, 10);

    // One line per session under one header.
    let started = std::time::Instant::now();
    let table = ctl(&bin, &sock, &["sessions"]);
    let took = started.elapsed();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1001, "header + 1000 lines");
    assert!(lines[0].starts_with("SESSION "), "{}", lines[0]);
    let mut addresses = std::collections::HashSet::new();
    for l in &lines[1..] {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(f.len(), 9, "{l}");
        assert!(
            f[0].contains('/') && (f[1] == "load" || f[1] == "vip"),
            "{l}"
        );
        assert!(
            addresses.insert(f[2].parse::<Ipv4Addr>().expect("address")),
            "{l}"
        );
        assert!(
            f[3].starts_with("127.0.0.1:") && f[4].starts_with("established"),
            "{l}"
        );
    }
    eprintln!("l2tpctl sessions: 1000 sessions listed in {took:?}");

    let count = |args: &[&str]| -> usize {
        let mut a = vec!["sessions", "--count"];
        a.extend_from_slice(args);
        ctl(&bin, &sock, &a).trim().parse().expect("a number")
    };
    assert_eq!(count(&[]), 1000);
    assert_eq!(count(&["state=established"]), 1000);
    assert_eq!(count(&["state=established/ppp-network"]), 1000);
    assert_eq!(count(&["state=idle"]), 0);
    assert_eq!(count(&["user=vip"]), 10);
    assert_eq!(count(&["user=lo*"]), 990);
    assert_eq!(count(&["peer=127.0.0.1"]), 1000);
    assert_eq!(count(&["peer=192.0.2.1"]), 0);
    assert_eq!(count(&["ip=198.18.0.0/20"]), 1000);

    // The vip tunnel holds exactly the vip sessions.
    let vip = ctl(
        &bin,
        &sock,
        &["sessions", "user=vip", "-o", "tunnel", "--no-header"],
    );
    let tids: std::collections::HashSet<&str> = vip.lines().map(str::trim).collect();
    assert_eq!(tids.len(), 1, "{vip}");
    let tid = tids.into_iter().next().unwrap();
    assert_eq!(count(&[&format!("tunnel={tid}")]), 10);
    assert_eq!(count(&["--tunnel", tid, "user=load"]), 0);

    // One address: one line, that session.
    let one = addresses.iter().next().unwrap().to_string();
    let hit = ctl(
        &bin,
        &sock,
        &[
            "sessions",
            &format!("ip={one}"),
            "-o",
            "ip,user",
            "--no-header",
        ],
    );
    assert_eq!(hit.lines().count(), 1, "{hit}");
    assert!(hit.starts_with(&format!("{one} ")), "{hit}");

    // Sorted by address, descending: numerically, not as text.
    let sorted = ctl(
        &bin,
        &sock,
        &["sessions", "--sort", "-ip", "-o", "ip", "--no-header"],
    );
    let got: Vec<Ipv4Addr> = sorted
        .lines()
        .map(|l| l.trim().parse().expect("ip"))
        .collect();
    let mut want: Vec<Ipv4Addr> = addresses.into_iter().collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `close user` closes exactly that user's sessions, `close address` exactly the one session
/// holding the address; nothing else goes down, and a name matching nothing is refused.
#[test]
fn closing_by_user_or_address_touches_exactly_those_sessions() {
    let Some(bin) = l2tpctl() else { return };
    let (dir, sock, port, _lns) = start_lns("close");
    let _load = hold(port, "load", 1, 5);
    let _vip = hold(port, "vip", 1, 3);
    let count = |filter: &str| -> usize {
        ctl(&bin, &sock, &["sessions", "--count", filter])
            .trim()
            .parse()
            .expect("a number")
    };
    assert_eq!((count("user=vip"), count("user=load")), (3, 5));
    // `top` on the live daemon: one frame, a summary, a header and every session.
    let frame = ctl(&bin, &sock, &["top", "-n", "1", "-l", "100"]);
    assert!(frame.starts_with("8 sessions, "), "{frame}");
    assert_eq!(frame.lines().count(), 10, "{frame}");

    let closed = ctl(&bin, &sock, &["close", "user", "vip"]);
    assert_eq!(closed.lines().count(), 3, "{closed}");
    assert!(
        closed
            .lines()
            .all(|l| l.starts_with("closed ") && l.contains(" vip ")),
        "{closed}"
    );
    wait_for(Duration::from_secs(10), "vip's sessions to go", || {
        count("user=vip") == 0
    });
    assert_eq!(count("user=load"), 5, "load's sessions are untouched");

    // One of load's addresses: that session only.
    let ips = ctl(&bin, &sock, &["sessions", "-o", "ip", "--no-header"]);
    let one = ips.lines().next().expect("an address").trim().to_string();
    let closed = ctl(&bin, &sock, &["close", "address", &one]);
    assert_eq!(closed.lines().count(), 1, "{closed}");
    assert!(
        closed.trim_end().ends_with(&format!(" load {one}")),
        "{closed}"
    );
    wait_for(Duration::from_secs(10), "the session to go", || {
        count("user=load") == 4
    });
    assert_eq!(count(&format!("ip={one}")), 0);

    // Names that match nothing are refused (exit 1) and close nothing: no wildcards, no prefix.
    for args in [
        &["close", "user", "nobody"][..],
        &["close", "user", "loa*"],
        &["close", "user", "loa"],
        &["close", "ip", "192.0.2.99"],
    ] {
        let out = Command::new(&bin)
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .output()
            .expect("run l2tpctl");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no session"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(count("user=load"), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A live session's line quality: `l2tpctl quality` (text and JSON), `l2tpctl graph`, and the
/// same graph over the metrics listener; unknown sessions are refused everywhere.
#[test]
fn quality_of_a_live_session_as_text_json_svg_and_over_http() {
    use std::io::{Read, Write};
    let Some(bin) = l2tpctl() else { return };
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port");
    let (dir, sock, port, _lns) = start_lns_with(
        "quality",
        &format!("metrics_listen = \"127.0.0.1:{http_port}\""),
    );
    let _load = hold(port, "load", 1, 1);
    let id = ctl(
        &bin,
        &sock,
        &["sessions", "-o", "tunnel,session", "--no-header"],
    );
    let ids: Vec<&str> = id.split_whitespace().collect();
    let (tid, sid) = (ids[0], ids[1]);
    // The LNS probes every second (the default): wait for a few answers.
    let json = || -> serde_json::Value {
        serde_json::from_str(&ctl(&bin, &sock, &["quality", tid, sid, "--json"])).expect("JSON")
    };
    wait_for(Duration::from_secs(20), "three answered probes", || {
        let q = json();
        let p = q["periods"].as_array().and_then(|p| p.last().cloned());
        p.is_some_and(|p| p["sent"].as_u64() >= Some(3) && p["rtt_avg_ms"].is_number())
    });
    let q = json();
    assert_eq!(q["probe_interval_ms"], 1000, "{q}");
    assert_eq!(q["user"], "load", "{q}");
    let now = q["periods"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(now["ended_s_ago"], 0, "{q}");
    assert!(
        now["rtt_avg_ms"].as_f64().unwrap() < 1000.0,
        "loopback: {q}"
    );
    assert!(
        now["rx_bytes"].as_u64().unwrap() > 0,
        "the echoes' bytes: {q}"
    );

    let text = ctl(&bin, &sock, &["quality", tid, sid]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "Session {tid}/{sid} (load): an LCP echo every 1000 ms"
        )),
        "{text}"
    );
    assert!(lines[1].starts_with("ENDED "), "{text}");
    assert!(lines.last().unwrap().starts_with("now "), "{text}");

    let svg = ctl(&bin, &sock, &["graph", tid, sid]);
    assert!(
        svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(
        svg.contains(&format!("session {tid}/{sid} (load)")),
        "{svg}"
    );

    let get = |path: &str| -> String {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", http_port)).expect("metrics");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(c, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).expect("answer");
        answer
    };
    let answer = get(&format!("/sessions/{tid}/{sid}/quality.svg"));
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Content-Type: image/svg+xml"), "{answer}");
    assert!(
        answer.contains("<svg ") && answer.contains("(load)"),
        "{answer}"
    );
    let answer = get(&format!("/sessions/{tid}/{sid}/quality.json"));
    assert!(answer.contains("\"probe_interval_ms\":1000"), "{answer}");
    assert!(get("/sessions/1/1/quality.svg").starts_with("HTTP/1.0 404 "));
    assert!(get(&format!("/sessions/{tid}/{sid}/other")).starts_with("HTTP/1.0 404 "));

    let out = Command::new(&bin)
        .arg("--socket")
        .arg(&sock)
        .args(["quality", "1", "1"])
        .output()
        .expect("run l2tpctl");
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}
