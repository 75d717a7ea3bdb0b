//! The test kit shared by l2tpd's integration tests: the gate of tests that need root or
//! tools (SKIPPED loudly, a failure under CI), daemon processes (started, stopped by pid,
//! their logs), an LNS without TUN, a scripted L2TP peer, the one ICCN our peers send,
//! bounded waits, free ports, the management socket, a two-namespace lab for an LNS and its
//! peers (`lns_lab`), and daemon cores in virtual time
//! (`sim`: cores as `l2tp_sim` nodes; `sim_lns`: an LNS core for step-by-step scripted peers).
#![allow(dead_code)] // each test file uses a different subset

/// The kernel-vm guest and the gate, shared with l2tp-io's guest tests.
#[allow(unused_imports)] // each test file uses a different subset
pub use l2tp_guest::{self as guest, requires};
pub mod lns_lab;
pub mod segment;
pub mod sim;
pub mod sim_lns;

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

/// The daemon binary under test.
pub const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// Runs `args[0]` with the rest as arguments, and what it printed.
pub fn sh(args: &[&str]) -> std::process::Output {
    std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run command")
}

/// [`sh`] that must succeed: its standard output.
pub fn ok(args: &[&str]) -> String {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// True when `cmd -V` (or `--version`) runs: the tool is installed.
pub fn have_tool(cmd: &str) -> bool {
    Command::new(cmd).arg("-V").output().is_ok()
}

/// [`requires`] root only.
pub fn root_or_skip(test: &str) -> bool {
    requires(test, &[("root", l2tp_mgmt::is_root())])
}

/// A child process with its log file, killed (by pid) and reaped on drop.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Its stdout and stderr.
    pub log: std::path::PathBuf,
}

impl Proc {
    /// Starts `l2tpd ARGS` with stdout and stderr in `DIR/WHO.log`.
    pub fn l2tpd(dir: &Path, who: &str, args: &[&str]) -> Proc {
        Proc::spawn(L2TPD, dir, who, args)
    }

    /// Starts `BIN ARGS` with stdout and stderr in `DIR/WHO.log`.
    pub fn spawn(bin: &str, dir: &Path, who: &str, args: &[&str]) -> Proc {
        let log = dir.join(format!("{who}.log"));
        let f = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        Proc { child, log }
    }

    /// `l2tpd loadgen` as alice (password `secret`): `tunnels × sessions` against `server`,
    /// held `hold` seconds.
    pub fn loadgen(
        dir: &Path,
        server: std::net::SocketAddr,
        tunnels: u32,
        sessions: u32,
        hold: u32,
    ) -> Proc {
        let (server, t, s, hold) = (
            server.to_string(),
            tunnels.to_string(),
            sessions.to_string(),
            hold.to_string(),
        );
        #[rustfmt::skip]
        let args = [
            "loadgen", "--server", &server, "--tunnels", &t, "--sessions", &s,
            "--user", "alice", "--password", "secret", "--hold", &hold, "--timeout", "30",
        ];
        Proc::l2tpd(dir, "loadgen", &args)
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        let s = self.log_text();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Sends SIGTERM (the daemon closes its tunnels and exits).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory for one test, removed on drop unless the test failed.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh directory named after `tag` and this process.
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("l2tpd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An LNS without TUN (`interface_mode = "none"`) on 127.0.0.1, user alice/secret, no
/// tunnel secret, `extra` appended to `[lns]`; returns the process, its UDP address and
/// its management socket, once the management socket answers.
pub fn start_lns(dir: &Path, extra: &str) -> (Proc, std::net::SocketAddr, std::path::PathBuf) {
    start_lns_with(dir, "", extra)
}

/// [`start_lns`] with `daemon_extra` appended to `[daemon]`.
pub fn start_lns_with(
    dir: &Path,
    daemon_extra: &str,
    extra: &str,
) -> (Proc, std::net::SocketAddr, std::path::PathBuf) {
    let port = free_udp_port();
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let sock = dir.join("lns.sock");
    let cfg = dir.join("lns.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"role = "lns"
[daemon]
management_socket = "{sock}"
{daemon_extra}
[tunnel]
hello_interval = 60
[ppp]
lcp_echo_interval = 1
[lns]
listen = ["{server}"]
ipv4_pool = "203.0.113.10-203.0.113.250"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
{extra}
[[lns.users]]
name = "alice"
password = "secret"
"#,
            sock = sock.display()
        ),
    )
    .expect("write config");
    let lns = Proc::l2tpd(
        dir,
        "lns",
        &["run", "--config", cfg.to_str().expect("utf-8")],
    );
    let t0 = Instant::now();
    while Client::connect(&sock).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "LNS did not start:\n{}",
            lns.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (lns, server, sock)
}

/// Waits (bounded) until the daemon behind `sock` has `n` sessions with PPP's network phase
/// up and data flowing.
pub fn wait_sessions_up(sock: &Path, n: usize, log: &dyn Fn() -> String) -> Vec<SessionInfo> {
    let t0 = Instant::now();
    loop {
        let s = sessions(sock);
        let up: Vec<SessionInfo> = s
            .iter()
            .filter(|s| s.state == "established/ppp-network" && s.ipv4.is_some())
            .cloned()
            .collect();
        if up.len() >= n {
            return up;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} of {n} sessions up: {s:?}\n{}",
            up.len(),
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The one ICCN our scripted peers send (synchronous framing, 100 Mb/s, nothing else).
pub fn iccn() -> l2tp_wire::Iccn {
    l2tp_wire::Iccn::new(100_000_000, l2tp_wire::FramingCapabilities::SYNC)
}

/// A minimal scripted L2TP peer on its own UDP socket: sends control messages with the
/// right Ns/Nr, receives and decodes what comes back. It acknowledges nothing unless told
/// to (`zlb`), so a test can hold a tunnel in a state a real peer would leave.
pub struct ScriptedPeer {
    /// Our socket.
    pub sock: std::net::UdpSocket,
    /// The daemon.
    pub server: std::net::SocketAddr,
    /// The daemon's tunnel id (0 before its SCCRP).
    pub peer_tid: u16,
    ns: u16,
    nr: u16,
}

impl ScriptedPeer {
    /// A peer on 127.0.0.1, an ephemeral port.
    pub fn new(server: std::net::SocketAddr) -> ScriptedPeer {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        ScriptedPeer {
            sock,
            server,
            peer_tid: 0,
            ns: 0,
            nr: 0,
        }
    }

    /// Sends `m` on session `sid` of the tunnel.
    pub fn send(&mut self, sid: u16, m: &l2tp_wire::ControlMessage) {
        use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};
        let h = Header::control(
            TunnelId(self.peer_tid),
            SessionId(sid),
            SeqNum(self.ns),
            SeqNum(self.nr),
        );
        let d = l2tp_wire::encode_packet(&h, m, None).expect("encode");
        self.ns = self.ns.wrapping_add(1);
        let _ = self.sock.send_to(&d, self.server);
    }

    /// (Ns of our next message, Nr: the daemon's next Ns we expect).
    pub fn seq(&self) -> (u16, u16) {
        (self.ns, self.nr)
    }

    /// Carries on at Ns `ns`, expecting `nr` (an RFC 4951 Suggested Control Sequence).
    pub fn resume_at(&mut self, ns: u16, nr: u16) {
        (self.ns, self.nr) = (ns, nr);
    }

    /// Acknowledges what was received so far (a ZLB).
    pub fn zlb(&self) {
        use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};
        let h = Header::control(
            TunnelId(self.peer_tid),
            SessionId(0),
            SeqNum(self.ns),
            SeqNum(self.nr),
        );
        let _ = self.sock.send_to(&h.encode_with_payload(&[]), self.server);
    }

    /// The next control message (not a ZLB, not data) within `wait`.
    pub fn recv(&mut self, wait: Duration) -> Option<l2tp_wire::ControlMessage> {
        let end = Instant::now() + wait;
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < end {
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            if let Ok(l2tp_wire::Packet::Control { header, message }) =
                l2tp_wire::Packet::decode(&buf[..n], None)
            {
                if let Some(seq) = header.sequence {
                    if seq.ns.0 == self.nr {
                        self.nr = self.nr.wrapping_add(1);
                    }
                }
                return Some(message);
            }
        }
        None
    }

    /// SCCRQ with assigned tunnel id `tid`, then (on SCCRP) SCCCN: the tunnel is up on the
    /// daemon's side. Returns the daemon's answer to the SCCRQ.
    pub fn open_tunnel(&mut self, tid: u16) -> Option<l2tp_wire::ControlMessage> {
        let mut rq = l2tp_wire::testdata::windows_sccrq();
        rq.assigned_tunnel_id = l2tp_wire::TunnelId(tid);
        self.send(0, &l2tp_wire::ControlMessage::Sccrq(rq));
        let answer = self.recv(Duration::from_secs(5))?;
        if let l2tp_wire::ControlMessage::Sccrp(rp) = &answer {
            self.peer_tid = rp.assigned_tunnel_id.0;
            let cn = l2tp_wire::Scccn {
                challenge_response: None,
                unknown: vec![],
            };
            self.send(0, &cn.into());
        }
        Some(answer)
    }
}
