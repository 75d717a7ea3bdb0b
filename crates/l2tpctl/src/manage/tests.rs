use super::*;
use clap::{CommandFactory, Parser};
use l2tp_mgmt::{
    decode_line, encode_line, ControlCounters, DaemonStats, DatapathCounters, SessionInfo,
    SessionOptions, TunnelInfo,
};
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;

/// Mirrors how `main.rs` mounts the commands.
#[derive(Debug, Parser)]
#[command(name = "l2tpctl")]
struct TestCli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    cmd: TestCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TestCommand {
    #[command(flatten)]
    Manage(ManageCommand),
}

fn parse(args: &[&str]) -> Result<(GlobalArgs, ManageCommand), clap::Error> {
    let mut v = vec!["l2tpctl"];
    v.extend_from_slice(args);
    TestCli::try_parse_from(v).map(|c| {
        let TestCommand::Manage(m) = c.cmd;
        (c.global, m)
    })
}

fn req(args: &[&str]) -> Request {
    request_for(&parse(args).unwrap().1).unwrap().0
}

#[test]
fn command_lines_map_to_requests() {
    assert_eq!(req(&["tunnels"]), Request::ListTunnels);
    assert_eq!(req(&["sessions", "--tunnel", "3"]), Request::ListSessions);
    assert_eq!(
        req(&["show", "tunnel", "12"]),
        Request::ShowTunnel { id: 12 }
    );
    assert_eq!(
        req(&["show", "session", "12", "7", "--json"]),
        Request::ShowSession {
            tunnel: 12,
            session: 7
        }
    );
    let set = |opt| Request::SetSessionOption {
        tunnel: 12,
        session: 7,
        option: opt,
    };
    assert_eq!(
        req(&["set", "session", "12", "7", "sendseq", "on"]),
        set(SessionOption::SendSeq(true))
    );
    assert_eq!(
        req(&["set", "session", "12", "7", "recvseq", "off"]),
        set(SessionOption::RecvSeq(false))
    );
    assert_eq!(
        req(&["set", "session", "12", "7", "lnsmode", "on"]),
        set(SessionOption::LnsMode(true))
    );
    assert_eq!(
        req(&["set", "session", "12", "7", "reorderto", "250"]),
        set(SessionOption::ReorderTimeout(250))
    );
    assert_eq!(
        req(&["set", "session", "12", "7", "debug", "data,seq"]),
        set(SessionOption::Debug(0xc))
    );
    assert_eq!(
        req(&["set", "tunnel", "12", "debug", "0xf"]),
        Request::SetTunnelDebug {
            tunnel: 12,
            mask: 0xf
        }
    );
    assert_eq!(
        req(&["close", "session", "1", "2"]),
        Request::CloseSession {
            tunnel: 1,
            session: 2
        }
    );
    assert_eq!(
        req(&["close", "tunnel", "1"]),
        Request::CloseTunnel { tunnel: 1 }
    );
    assert_eq!(
        req(&["close", "user", "alice"]),
        Request::CloseMatching {
            selector: l2tp_mgmt::SessionSelector::User("alice".into())
        }
    );
    assert_eq!(
        req(&["close", "ip", "2001:db8::7"]),
        Request::CloseMatching {
            selector: l2tp_mgmt::SessionSelector::Address("2001:db8::7".parse().unwrap())
        }
    );
    assert_eq!(req(&["dial"]), Request::Dial { peer: None });
    assert_eq!(
        req(&["call", "out", "12", "5551234"]),
        Request::CallOut {
            tunnel: 12,
            number: "5551234".into()
        }
    );
    assert_eq!(
        req(&["dial", "lns:1701"]),
        Request::Dial {
            peer: Some("lns:1701".into())
        }
    );
    assert_eq!(
        req(&["hangup"]),
        Request::HangUp {
            tunnel: None,
            session: None
        }
    );
    assert_eq!(
        req(&["hangup", "4", "5"]),
        Request::HangUp {
            tunnel: Some(4),
            session: Some(5)
        }
    );
    assert_eq!(req(&["stats", "--json"]), Request::Stats);
    let (g, _) = parse(&["--socket", "/tmp/x.sock", "tunnels"]).unwrap();
    assert_eq!(g.socket, Some(PathBuf::from("/tmp/x.sock")));
    let (g, _) = parse(&["tunnels", "--socket", "/tmp/y.sock"]).unwrap();
    assert_eq!(
        g.socket,
        Some(PathBuf::from("/tmp/y.sock")),
        "--socket is global"
    );
}

#[test]
fn bad_values_are_usage_errors() {
    assert!(parse(&["set", "session", "1", "2", "bogus", "on"]).is_err());
    assert!(
        parse(&["set", "tunnel", "1", "sendseq", "on"]).is_err(),
        "tunnels take only debug"
    );
    assert!(
        parse(&["show", "tunnel", "70000"]).is_err(),
        "ids are 16 bits"
    );
    assert!(parse(&["show", "session", "1"]).is_err());
    let (_, cmd) = parse(&["set", "session", "1", "2", "sendseq", "maybe"]).unwrap();
    assert!(matches!(request_for(&cmd), Err(CtlError::Usage(_))));
    let (_, cmd) = parse(&["set", "session", "1", "2", "debug", "loud"]).unwrap();
    assert!(matches!(request_for(&cmd), Err(CtlError::Usage(_))));
    let (_, cmd) = parse(&["set", "session", "1", "2", "reorderto", "soon"]).unwrap();
    assert!(matches!(request_for(&cmd), Err(CtlError::Usage(_))));
}

#[test]
fn long_help_has_examples() {
    let mut cmd = TestCli::command();
    for sub in [
        "tunnels", "sessions", "show", "set", "close", "dial", "hangup", "stats", "top", "quality",
        "graph",
    ] {
        let help = cmd
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("EXAMPLES:"), "{sub}: {help}");
        assert!(help.contains(&format!("l2tpctl {sub}")), "{sub}: {help}");
    }
}

fn tunnel_info() -> TunnelInfo {
    TunnelInfo {
        local_id: 12,
        peer_id: 34,
        local_addr: "0.0.0.0:1701".into(),
        peer_addr: "198.51.100.7:1701".into(),
        peer_host_name: Some("lac1".into()),
        state: "established".into(),
        sessions: 2,
        uptime_s: 3723,
        debug: 0xc,
        control: ControlCounters {
            sent: 10,
            retransmitted: 1,
            received: 12,
            duplicates: 0,
        },
        stats: DatapathCounters {
            tx_packets: 100,
            tx_bytes: 1_234_567_890,
            rx_packets: 98,
            rx_bytes: 11000,
            rx_seq_discards: 2,
            ..Default::default()
        },
        failover: l2tp_mgmt::TunnelFailover {
            peer_offered: true,
            peer_control: true,
            peer_recovery_time_ms: 30000,
            recoverable: true,
            recoveries: 1,
            ..Default::default()
        },
    }
}

fn session_info(tunnel: u16, session: u16) -> SessionInfo {
    SessionInfo {
        tunnel,
        session,
        peer_tunnel: 34,
        peer_session: 9,
        state: "established".into(),
        user: Some("alice".into()),
        ipv4: Some("203.0.113.10".parse().unwrap()),
        ipv6: None,
        interface: Some("l2tp0".into()),
        uptime_s: 303,
        options: SessionOptions {
            send_seq: true,
            lns_mode: true,
            reorder_timeout_ms: 100,
            ..Default::default()
        },
        stats: DatapathCounters::default(),
        wan_errors: None,
        accm: None,
        ppp_mode: "builtin".into(),
        pppd_pid: None,
    }
}

/// A one-connection fake daemon answering each request from `answer`.
fn fake_daemon(
    name: &str,
    answer: fn(&Request) -> Response,
) -> (PathBuf, std::thread::JoinHandle<Vec<Request>>) {
    let path = std::env::temp_dir().join(format!("l2tpctl-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let t = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(s).lines() {
            let r: Request = decode_line(&line.unwrap()).unwrap();
            w.write_all(encode_line(&answer(&r)).unwrap().as_bytes())
                .unwrap();
            seen.push(r);
        }
        seen
    });
    (path, t)
}

fn run_cmd(path: &Path, args: &[&str]) -> Result<String, CtlError> {
    let (_, cmd) = parse(args).unwrap();
    let mut out = Vec::new();
    execute(path, &cmd, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn tunnels_print_in_ip_l2tp_style_and_as_json() {
    let (path, t) = fake_daemon("tunnels", |_| Response::Tunnels(vec![tunnel_info()]));
    let text = run_cmd(&path, &["tunnels"]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Tunnel 12, encap UDP, state established");
    assert_eq!(lines[1], "  From 0.0.0.0:1701 to 198.51.100.7:1701");
    assert_eq!(lines[2], "  Peer tunnel 34, host lac1");
    assert_eq!(lines[3], "  Sessions 2, uptime 1h02m03s, debug seq,data");
    assert_eq!(
        lines[4],
        "  Control sent 10, retransmitted 1, received 12, duplicates 0"
    );
    assert_eq!(
        lines[5],
        "  Failover: peer offers control, recovery time 30000 ms, recoverable; recoveries 1, session queries 0"
    );
    // The counters table: columns right-aligned to the same width on every row.
    let table = &lines[6..9];
    assert!(table[1].trim_start().starts_with("tx"));
    assert!(table[2].contains("1234567890") || table[1].contains("1234567890"));
    let width = table[0].len();
    assert!(table.iter().all(|l| l.len() == width), "{table:#?}");
    drop(t);

    let (path, t) = fake_daemon("tunnels-json", |_| Response::Tunnels(vec![tunnel_info()]));
    let json = run_cmd(&path, &["tunnels", "--json"]).unwrap();
    let back: Vec<TunnelInfo> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, vec![tunnel_info()]);
    drop(t);
}

/// Sessions of two tunnels (peers 198.51.100.7 and 192.0.2.9) for the table tests.
fn two_tunnels(r: &Request) -> Response {
    match r {
        Request::ListTunnels => {
            let mut t13 = tunnel_info();
            t13.local_id = 13;
            t13.peer_addr = "192.0.2.9:1701".into();
            Response::Tunnels(vec![tunnel_info(), t13])
        }
        _ => {
            let mut b = session_info(13, 8);
            b.user = Some("bob".into());
            b.ipv4 = Some("203.0.113.99".parse().unwrap());
            b.stats.rx_bytes = 5000;
            let mut c = session_info(12, 9);
            c.user = Some("carol".into());
            c.state = "wait-reply".into();
            c.ipv4 = None;
            c.interface = None;
            c.stats.rx_bytes = 70;
            Response::Sessions(vec![b, session_info(12, 7), c])
        }
    }
}

#[test]
fn sessions_print_one_line_each_with_the_tunnels_peer() {
    let (path, t) = fake_daemon("sessions", two_tunnels);
    let text = run_cmd(&path, &["sessions"]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "SESSION", "USER", "ADDRESS", "PEER", "STATE", "IFACE", "UPTIME", "RX_BYTES",
            "TX_BYTES"
        ]
    );
    // In id order; each field under its header.
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "12/7",
            "alice",
            "203.0.113.10",
            "198.51.100.7:1701",
            "established",
            "l2tp0",
            "5m03s",
            "0",
            "0"
        ]
    );
    assert!(
        lines[2].starts_with("12/9 ") && lines[2].contains(" - "),
        "{text}"
    );
    assert!(
        lines[3].starts_with("13/8 ") && lines[3].contains("192.0.2.9:1701"),
        "{text}"
    );
    let col = lines[0].find("ADDRESS").unwrap();
    assert_eq!(&lines[1][col..col + 12], "203.0.113.10");
    drop(t);
}

#[test]
fn sessions_filters_sort_columns_and_count() {
    let cases: [(&[&str], &str); 10] = [
        (
            &["sessions", "--tunnel", "12", "-o", "id", "--no-header"],
            "12/7\n12/9\n",
        ),
        (
            &["sessions", "tunnel=13", "-o", "id", "--no-header"],
            "13/8\n",
        ),
        (
            &["sessions", "user=b*", "-o", "user", "--no-header"],
            "bob\n",
        ),
        (
            &[
                "sessions",
                "ip=203.0.113.64/26",
                "-o",
                "id,ip",
                "--no-header",
            ],
            "13/8  203.0.113.99\n",
        ),
        (
            &["sessions", "peer=192.0.2.9", "-o", "id", "--no-header"],
            "13/8\n",
        ),
        (&["sessions", "peer=198.51.100.7:1701", "--count"], "2\n"),
        (&["sessions", "state=established", "--count"], "2\n"),
        (
            &[
                "sessions",
                "--sort",
                "-rx_bytes",
                "-o",
                "user,rx_bytes",
                "--no-header",
            ],
            "bob    5000\ncarol    70\nalice     0\n",
        ),
        (
            &["sessions", "--sort", "ip", "-o", "ip", "--no-header"],
            "203.0.113.10\n203.0.113.99\n-\n",
        ),
        (&["sessions", "user=nobody"], "No sessions.\n"),
    ];
    for (args, want) in cases {
        let (path, t) = fake_daemon("table", two_tunnels);
        let got = run_cmd(&path, args).unwrap();
        assert_eq!(got, want, "{args:?}");
        drop(t);
    }
    let (path, t) = fake_daemon("table-json", two_tunnels);
    let json = run_cmd(&path, &["sessions", "user=alice", "--json"]).unwrap();
    let back: Vec<SessionInfo> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, vec![session_info(12, 7)]);
    drop(t);
}

#[test]
fn bad_filters_and_columns_are_usage_errors() {
    for args in [
        &["sessions", "colour=red"][..],
        &["sessions", "ip=300.1.1.1"],
        &["sessions", "-o", "id,bogus"],
        &["sessions", "--sort", "nope"],
    ] {
        let e = run_cmd(Path::new("/nonexistent/l2tpd.sock"), args).unwrap_err();
        assert!(matches!(e, CtlError::Usage(_)), "{args:?}: {e}");
    }
}

#[test]
fn show_session_keeps_the_detailed_block() {
    let (path, t) = fake_daemon("show", |_| Response::Session(session_info(12, 7)));
    let text = run_cmd(&path, &["show", "session", "12", "7"]).unwrap();
    assert!(
        text.starts_with("Session 7 in tunnel 12\n  Peer session 9, tunnel 34\n"),
        "{text}"
    );
    assert!(
        text.contains("  State established, user alice, uptime 5m03s\n"),
        "{text}"
    );
    assert!(text.contains("  interface name: l2tp0\n"), "{text}");
    assert!(text.contains("  IPv4 203.0.113.10, IPv6 -\n"), "{text}");
    assert!(
        text.contains("  sendseq on, recvseq off, lnsmode on, reorderto 100 ms, debug none\n"),
        "{text}"
    );
    t.join().unwrap();
}

#[test]
fn a_session_shows_its_wan_error_counters_and_accm() {
    let (path, t) = fake_daemon("session-wen", |_| {
        let mut s = session_info(12, 7);
        s.wan_errors = Some(l2tp_mgmt::WanErrors {
            reports: 2,
            crc_errors: 5,
            framing_errors: 1,
            alignment_errors: 3,
            ..Default::default()
        });
        s.accm = Some((0, 0x000a_0000));
        Response::Session(s)
    });
    let text = run_cmd(&path, &["show", "session", "12", "7"]).unwrap();
    assert!(
        text.contains("  WAN errors (2 reports): crc 5, framing 1, hardware overruns 0, buffer overruns 0, timeouts 0, alignment 3\n"),
        "{text}"
    );
    assert!(
        text.contains("  ACCM send 0x00000000, receive 0x000a0000\n"),
        "{text}"
    );
    t.join().unwrap();
}

#[test]
fn a_session_run_by_pppd_shows_its_mode_and_pid() {
    let (path, t) = fake_daemon("session-pppd", |_| {
        let mut s = session_info(12, 7);
        s.state = "established/pppd".into();
        s.ppp_mode = "pppd".into();
        s.pppd_pid = Some(4242);
        Response::Session(s)
    });
    let text = run_cmd(&path, &["show", "session", "12", "7"]).unwrap();
    assert!(text.contains("  State established/pppd,"), "{text}");
    assert!(text.contains("  PPP by pppd (pid 4242)\n"), "{text}");
    t.join().unwrap();
    // A builtin session says nothing of it; JSON from an older daemon reads as builtin.
    let mut out = String::new();
    crate::manage::format::session(&mut out, &session_info(12, 7));
    assert!(!out.contains("PPP by"), "{out}");
    let mut v = serde_json::to_value(session_info(12, 7)).unwrap();
    assert!(v.get("pppd_pid").is_none(), "{v}");
    v.as_object_mut().unwrap().remove("ppp_mode");
    let s: SessionInfo = serde_json::from_value(v).unwrap();
    assert_eq!(s.ppp_mode, "builtin");
}

#[test]
fn write_commands_send_the_request_and_daemon_errors_surface() {
    let (path, t) = fake_daemon("set", |r| match r {
        Request::SetSessionOption { tunnel: 12, .. } => Response::Ok,
        _ => Response::error("no such session 99/1"),
    });
    // One connection per command; the fake daemon serves one, so run two daemons.
    assert_eq!(
        run_cmd(&path, &["set", "session", "12", "7", "reorderto", "200"]).unwrap(),
        ""
    );
    let seen = t.join().unwrap();
    assert_eq!(
        seen,
        vec![Request::SetSessionOption {
            tunnel: 12,
            session: 7,
            option: SessionOption::ReorderTimeout(200)
        }]
    );
    let (path, t) = fake_daemon("set-err", |_| Response::error("no such session 99/1"));
    match run_cmd(&path, &["close", "session", "99", "1"]) {
        Err(CtlError::Daemon(m)) => assert_eq!(m, "no such session 99/1"),
        other => panic!("{other:?}"),
    }
    t.join().unwrap();
}

#[test]
fn stats_and_unreachable_daemon() {
    let (path, t) = fake_daemon("stats", |_| {
        let mut s = DaemonStats {
            role: "lns".into(),
            uptime_s: 90061,
            tunnels: 1,
            sessions: 2,
            auth_failures: 3,
            ..Default::default()
        };
        s.sessions_by_state.insert("established".into(), 2);
        Response::Stats(s)
    });
    let text = run_cmd(&path, &["stats"]).unwrap();
    assert!(text.contains("Role           lns\n"), "{text}");
    assert!(text.contains("Uptime         1d01h01m\n"), "{text}");
    assert!(
        text.contains("Sessions       2 (established 2)\n"),
        "{text}"
    );
    assert!(text.contains("Auth failures  ppp 3, tunnel 0\n"), "{text}");
    assert!(
        !text.contains("RADIUS"),
        "no RADIUS block without RADIUS: {text}"
    );
    t.join().unwrap();

    let missing = std::env::temp_dir().join("l2tpctl-no-such-daemon.sock");
    match run_cmd(&missing, &["tunnels"]) {
        Err(CtlError::Connection(e)) => {
            assert!(e.to_string().contains("l2tpctl-no-such-daemon.sock"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn durations_read_like_uptime() {
    assert_eq!(format::duration(42), "42s");
    assert_eq!(format::duration(303), "5m03s");
    assert_eq!(format::duration(3723), "1h02m03s");
    assert_eq!(format::duration(90061), "1d01h01m");
}

#[test]
fn stats_show_each_radius_server() {
    let (path, t) = fake_daemon("stats-radius", |_| {
        Response::Stats(DaemonStats {
            role: "lns".into(),
            radius: Some(l2tp_mgmt::RadiusStats {
                servers: vec![l2tp_mgmt::RadiusServerStats {
                    address: "192.0.2.10:1812".into(),
                    role: "auth".into(),
                    dead: true,
                    requests: 7,
                    timeouts: 2,
                    ..Default::default()
                }],
                stops_spooled: 1,
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let text = run_cmd(&path, &["stats"]).unwrap();
    assert!(text.contains("Stops spooled 1"), "{text}");
    assert!(
        text.contains("  auth 192.0.2.10:1812 DEAD: requests 7, retransmitted 0, timeouts 2"),
        "{text}"
    );
    t.join().unwrap();
}

/// `top`: the session carrying traffic since the last frame is listed first with its rate;
/// a session whose counters went back (its ids now name a new session) shows no rate.
#[test]
fn top_ranks_sessions_by_traffic_since_the_previous_frame() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LISTS: AtomicU64 = AtomicU64::new(0);
    let (path, t) = fake_daemon("top", |r| match r {
        Request::ListSessions => {
            let n = LISTS.fetch_add(1, Ordering::SeqCst);
            let mut quiet = session_info(12, 7);
            quiet.user = Some("quiet".into());
            quiet.stats.rx_bytes = 5_000_000; // a big total, but nothing new
            let mut busy = session_info(12, 8);
            busy.user = Some("busy".into());
            busy.ipv4 = Some("203.0.113.11".parse().unwrap());
            busy.stats.rx_bytes = 1_000 + n * 400_000;
            busy.stats.tx_bytes = 2_000 + n * 100_000;
            let mut reborn = session_info(13, 1);
            reborn.user = Some("reborn".into());
            reborn.stats.tx_bytes = if n == 0 { 9_000_000 } else { 10 };
            Response::Sessions(vec![quiet, busy, reborn])
        }
        _ => Response::Tunnels(vec![tunnel_info()]),
    });
    let text = run_cmd(&path, &["top", "-n", "2", "-d", "0.2"]).unwrap();
    let frames: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(frames.len(), 2, "{text}");
    // First frame: no rates yet, ordered by total bytes.
    let first: Vec<&str> = frames[0].lines().collect();
    assert_eq!(
        first[0], "3 sessions, receiving 0B/s, sending 0B/s",
        "{text}"
    );
    assert!(first[1].starts_with("SESSION "), "{text}");
    assert!(
        first[2].starts_with("13/1 ") && first[2].contains(" - "),
        "{text}"
    );
    // Second frame: busy first with its rate, quiet at 0 B/s, reborn without a rate.
    let second: Vec<&str> = frames[1].lines().collect();
    assert_eq!(second.len(), 5, "{text}");
    let busy: Vec<&str> = second[2].split_whitespace().collect();
    assert_eq!(
        &busy[..4],
        ["12/8", "busy", "203.0.113.11", "198.51.100.7:1701"],
        "{text}"
    );
    assert!(
        busy[4].ends_with('k') || busy[4].ends_with('M'),
        "rx rate {text}"
    );
    assert!(
        second[3].starts_with("12/7 ") && second[3].contains(" quiet "),
        "{text}"
    );
    let quiet: Vec<&str> = second[3].split_whitespace().collect();
    assert_eq!((quiet[4], quiet[5]), ("0", "0"), "{text}");
    let reborn: Vec<&str> = second[4].split_whitespace().collect();
    assert_eq!(
        (reborn[0], reborn[4], reborn[5]),
        ("13/1", "-", "-"),
        "{text}"
    );
    drop(std::fs::remove_file(&path));
    assert_eq!(t.join().unwrap().len(), 4, "two frames, one connection");
}

#[test]
fn top_rates_are_bytes_per_second_between_samples() {
    let mut s = top::Sampler::default();
    let t0 = std::time::Instant::now();
    let mut a = session_info(1, 1);
    assert_eq!(s.sample(t0, std::slice::from_ref(&a)), vec![None]);
    a.stats.rx_bytes = 2_000;
    a.stats.tx_bytes = 500;
    let r = s.sample(
        t0 + std::time::Duration::from_secs(2),
        std::slice::from_ref(&a),
    );
    assert_eq!(
        r,
        vec![Some(top::Rate {
            rx: 1000.0,
            tx: 250.0
        })]
    );
    // A session that went away and came back under the same ids starts over.
    a.uptime_s = 1;
    let r = s.sample(
        t0 + std::time::Duration::from_secs(3),
        std::slice::from_ref(&a),
    );
    assert_eq!(r, vec![None]);
}

#[test]
fn stats_say_which_tunnels_failover_recovered_and_lost() {
    let (path, t) = fake_daemon("stats-failover", |_| {
        Response::Stats(DaemonStats {
            role: "client".into(),
            failover: Some(Box::new(l2tp_mgmt::FailoverStats {
                recoveries_answered: 3,
                tunnels_recovered: 1,
                tunnels_lost: 1,
                sessions_cleared: 2,
                sessions_dropped: 1,
                tunnels: vec![
                    l2tp_mgmt::CarriedTunnel {
                        local_id: 7,
                        peer_addr: "192.0.2.2:1701".into(),
                        sessions: 4,
                        outcome: "recovered".into(),
                    },
                    l2tp_mgmt::CarriedTunnel {
                        local_id: 9,
                        peer_addr: "192.0.2.3:1701".into(),
                        sessions: 2,
                        outcome: "lost".into(),
                    },
                ],
                ..Default::default()
            })),
            ..Default::default()
        })
    });
    let text = run_cmd(&path, &["stats"]).unwrap();
    assert!(
        text.contains("Failover: 3 recovery(ies) answered, 0 session queries answered; tunnels 1 recovered, 1 lost, 0 recovering; sessions 2 cleared by the peer's answer, 1 dropped (set-up lost)"),
        "{text}"
    );
    assert!(
        text.contains("tunnel 7     192.0.2.2:1701              4 sessions  recovered\n"),
        "{text}"
    );
    t.join().unwrap();
}

#[test]
fn stats_say_what_an_upgrade_carried_over_and_upgrade_reports_the_new_pid() {
    let (path, t) = fake_daemon("stats-upgrade", |_| {
        Response::Stats(DaemonStats {
            role: "lns".into(),
            upgrade: Some(Box::new(l2tp_mgmt::UpgradeStats {
                upgrades: 2,
                since_s: 61,
                tunnels_resumed: 1,
                tunnels_lost: 1,
                sessions_resumed: 40,
                sessions_lost: 2,
                tunnels: vec![
                    l2tp_mgmt::CarriedTunnel {
                        local_id: 7,
                        peer_addr: "192.0.2.2:1701".into(),
                        sessions: 40,
                        outcome: "resumed".into(),
                    },
                    l2tp_mgmt::CarriedTunnel {
                        local_id: 9,
                        peer_addr: "192.0.2.3:1701".into(),
                        sessions: 2,
                        outcome: "lost".into(),
                    },
                ],
                recovery: false,
                recoveries: 0,
            })),
            ..Default::default()
        })
    });
    let text = run_cmd(&path, &["stats"]).unwrap();
    assert!(
        text.contains("Upgrade: 2 hand-over(s), the last 1m01s ago: tunnels 1 resumed, 1 lost; sessions 40 resumed, 2 lost"),
        "{text}"
    );
    assert!(
        text.contains("192.0.2.3:1701") && text.contains("lost\n"),
        "{text}"
    );
    t.join().unwrap();

    // After a crash recovery: the same figures, said as recovered / lost.
    let (path, t) = fake_daemon("stats-recovery", |_| {
        Response::Stats(DaemonStats {
            role: "lns".into(),
            upgrade: Some(Box::new(l2tp_mgmt::UpgradeStats {
                since_s: 5,
                tunnels_resumed: 1,
                tunnels_lost: 1,
                sessions_resumed: 40,
                sessions_lost: 2,
                tunnels: vec![l2tp_mgmt::CarriedTunnel {
                    local_id: 7,
                    peer_addr: "192.0.2.2:1701".into(),
                    sessions: 40,
                    outcome: "recovered".into(),
                }],
                recovery: true,
                ..Default::default()
            })),
            ..Default::default()
        })
    });
    let text = run_cmd(&path, &["stats"]).unwrap();
    assert!(
        text.contains("Recovery: restarted on the state journal 5s ago: tunnels 1 recovered, 1 lost; sessions 40 recovered, 2 lost"),
        "{text}"
    );
    assert!(text.contains("recovered\n"), "{text}");
    t.join().unwrap();

    let (path, t) = fake_daemon("upgrade", |req| match req {
        Request::Upgrade { binary } => {
            assert_eq!(binary.as_deref(), Some("/usr/sbin/l2tpd.new"));
            Response::Upgraded {
                old_pid: 100,
                new_pid: 200,
                tunnels: 3,
                sessions: 121,
                pause_us: 2500,
                snapshot_bytes: 4096,
            }
        }
        other => panic!("{other:?}"),
    });
    let text = run_cmd(&path, &["upgrade", "--binary", "/usr/sbin/l2tpd.new"]).unwrap();
    assert!(text.contains("pid 100 -> 200"), "{text}");
    assert!(text.contains("121 sessions carried over"), "{text}");
    assert!(text.contains("2.5 ms"), "{text}");
    t.join().unwrap();
}
