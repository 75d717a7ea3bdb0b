//! `Type=notify` as systemd sees it: a fake NOTIFY_SOCKET receives READY=1 only once the
//! L2TP port and the management socket answer, watchdog pings while it runs, RELOADING=1 and
//! READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// Next notification, or None after `limit`.
fn next(sock: &UnixDatagram, limit: Duration) -> Option<String> {
    sock.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Notifications until one starts with `prefix` (bounded), returning the ones before it.
fn until(sock: &UnixDatagram, prefix: &str) -> (Option<String>, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut before = Vec::new();
    while Instant::now() < deadline {
        match next(sock, Duration::from_secs(1)) {
            Some(m) if m.starts_with(prefix) => return (Some(m), before),
            Some(m) => before.push(m),
            None => {}
        }
    }
    (None, before)
}

#[test]
fn ready_after_binding_watchdog_reload_and_stopping_reach_the_notify_socket() {
    let port = support::free_udp_port();
    let dir = std::env::temp_dir().join(format!("l2tpd-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let users = dir.join("users");
    std::fs::write(&users, "alice alice-pw\n").expect("users");
    std::fs::set_permissions(&users, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let config = dir.join("lns.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\n[lns]\n\
             listen = [\"127.0.0.1:{port}\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\nusers_file = \"{}\"\n",
            sock.display(),
            users.display()
        ),
    )
    .expect("config");
    let notify_path = dir.join("notify");
    let _ = std::fs::remove_file(&notify_path);
    let notify = UnixDatagram::bind(&notify_path).expect("bind the fake NOTIFY_SOCKET");

    let mut child = Command::new(L2TPD)
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start l2tpd");

    let (ready, _) = until(&notify, "READY=1");
    // At READY the port is taken and the management socket answers.
    let port_taken = std::net::UdpSocket::bind(("127.0.0.1", port)).is_err();
    let answers = ready.is_some() && support::stats(&sock).role == "lns";
    // Watchdog pings keep coming while it runs (every 200 ms for a 400 ms interval).
    let mut pings = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pings < 3 && Instant::now() < deadline {
        if next(&notify, Duration::from_secs(1)).is_some_and(|m| m == "WATCHDOG=1") {
            pings += 1;
        }
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-HUP", &pid]).status();
    let (reloading, _) = until(&notify, "RELOADING=1");
    let (ready_again, _) = until(&notify, "READY=1");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let (stopping, _) = until(&notify, "STOPPING=1");
    support::stop(&mut child);
    let _ = std::fs::remove_dir_all(&dir);

    let ready = ready.expect("no READY=1");
    assert!(
        ready.contains(&format!("STATUS=lns on 127.0.0.1:{port}")),
        "{ready}"
    );
    assert!(ready.contains(&format!("MAINPID={pid}")), "{ready}");
    assert!(port_taken, "READY=1 before the L2TP port was bound");
    assert!(answers, "READY=1 before the management socket answered");
    assert_eq!(pings, 3, "watchdog pings missing");
    assert!(reloading.is_some(), "no RELOADING=1 on SIGHUP");
    assert!(ready_again.is_some(), "no READY=1 after the reload");
    assert!(stopping.is_some(), "no STOPPING=1 on SIGTERM");
}
