//! Helpers shared by l2tpd's integration tests: stopping the daemons a test started (by
//! pid, SIGTERM first), bounded waits, free ports, and the management socket.
#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, DaemonStats, Request, Response, SessionInfo};

/// Stops a process this test started: SIGTERM (the daemon sends StopCCN and exits), then
/// SIGKILL if it is still there after 8 s. `ip netns exec` execs l2tpd, so the pid is the
/// daemon's own.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `f` every 100 ms until it holds; panics after `limit` naming `what`.
pub fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One request to a daemon's management socket (5 s timeout).
pub fn request(sock: &Path, req: Request) -> Response {
    let mut c = Client::connect(sock).expect("connect management socket");
    c.set_timeout(Duration::from_secs(5)).expect("timeout");
    c.request(&req).expect("management request")
}

/// The daemon's sessions.
pub fn sessions(sock: &Path) -> Vec<SessionInfo> {
    match request(sock, Request::ListSessions) {
        Response::Sessions(v) => v,
        other => panic!("unexpected {other:?}"),
    }
}

/// The daemon's statistics.
pub fn stats(sock: &Path) -> DaemonStats {
    match request(sock, Request::Stats) {
        Response::Stats(s) => s,
        other => panic!("unexpected {other:?}"),
    }
}
