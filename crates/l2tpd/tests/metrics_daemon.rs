//! The metrics endpoint of a running LNS, scraped over HTTP as Prometheus does: the state
//! gauges are there from the start, and a peer that answers the tunnel Challenge with the
//! wrong secret shows up in `l2tpd_tunnel_auth_failures_total` (and `l2tpctl stats`).
//! `promtool check metrics` finds nothing to say about either scrape. Loopback only, no root.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_wire::{ControlMessage, Header, MessageKind, TunnelId};

mod support;

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

fn scrape(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn ctl(tid: u16, ns: u16, nr: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xc8, 0x02];
    v.extend_from_slice(&((12 + body.len()) as u16).to_be_bytes());
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&0u16.to_be_bytes());
    v.extend_from_slice(&ns.to_be_bytes());
    v.extend_from_slice(&nr.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// SCCRQ, then an SCCCN whose Challenge Response is computed with the wrong secret.
fn wrong_secret_peer(server: SocketAddr) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut sccrq = l2tp_wire::testdata::windows_sccrq();
    sccrq.assigned_tunnel_id = TunnelId(4242);
    let mut body = Vec::new();
    ControlMessage::Sccrq(sccrq)
        .encode(&mut body, None)
        .unwrap();
    sock.send_to(&ctl(0, 0, 0, &body), server).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(d) = Header::decode(&buf[..n]) else {
            continue;
        };
        if d.header.kind != MessageKind::Control || d.payload.is_empty() {
            continue;
        }
        if let Ok(ControlMessage::Sccrp(m)) = ControlMessage::decode(d.payload, None) {
            let scccn = l2tp_wire::Scccn {
                challenge_response: m
                    .challenge
                    .map(|c| l2tp_wire::challenge_response(3, b"not-the-secret", &c)),
                unknown: vec![],
            };
            let mut body = Vec::new();
            ControlMessage::Scccn(scccn)
                .encode(&mut body, None)
                .unwrap();
            sock.send_to(&ctl(m.assigned_tunnel_id.0, 1, 1, &body), server)
                .unwrap();
            return true;
        }
    }
    false
}

#[test]
fn state_gauges_from_the_start_and_failed_tunnel_authentication_counted() {
    let port = support::free_udp_port();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port");
    let metrics: SocketAddr = ([127, 0, 0, 1], metrics_port).into();
    let dir = std::env::temp_dir().join(format!("l2tpd-metrics-daemon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let config = dir.join("lns.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\nmetrics_listen = \"{metrics}\"\n\
             [tunnel]\nsecret = \"the-secret\"\n[lns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             ipv4_pool = \"203.0.113.10-203.0.113.20\"\nlocal_ipv4 = \"198.51.100.1\"\n\
             interface_mode = \"none\"\n[[lns.users]]\nname = \"alice\"\npassword = \"pw\"\n",
            sock.display()
        ),
    )
    .expect("config");
    let mut child = Command::new(L2TPD)
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start l2tpd");
    support::wait_for(Duration::from_secs(10), "the metrics endpoint", || {
        scrape(metrics).starts_with("HTTP/1.0 200")
    });
    let idle = scrape(metrics);
    let sent = wrong_secret_peer(([127, 0, 0, 1], port).into());
    let mut counted = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        counted = scrape(metrics);
        if counted.contains("\nl2tpd_tunnel_auth_failures_total 1\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = support::stats(&sock);
    support::stop(&mut child);
    let _ = std::fs::remove_dir_all(&dir);

    for line in [
        "l2tpd_tunnels_by_state{state=\"established\"} 0",
        "l2tpd_sessions{state=\"established\"} 0",
        "l2tpd_sessions{state=\"wait-connect\"} 0",
        "l2tpd_sessions_by_ppp_phase{phase=\"network\"} 0",
        "l2tpd_tunnel_auth_failures_total 0",
    ] {
        assert!(
            idle.lines().any(|l| l == line),
            "idle daemon lacks {line:?}:\n{idle}"
        );
    }
    assert!(sent, "the LNS never answered the SCCRQ");
    assert!(
        counted.contains("\nl2tpd_tunnel_auth_failures_total 1\n"),
        "failed tunnel authentication not counted:\n{counted}"
    );
    assert_eq!(stats.tunnel_auth_failures, 1, "{stats:?}");
    assert_eq!(stats.auth_failures, 0, "a tunnel failure is not a PPP one");
    promtool_check(&idle);
    promtool_check(&counted);
}

/// `promtool check metrics` on the body of a scrape: no errors, no lint warnings.
fn promtool_check(response: &str) {
    let body = response.split("\r\n\r\n").nth(1).expect("an HTTP body");
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("promtool missing under CI=true (apt-get install prometheus)");
        }
        eprintln!(
            "\n*** SKIPPED promtool check: promtool missing (apt-get install prometheus) ***\n"
        );
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
