//! Hostile input against a running `l2tpd` LNS: while a load generator keeps established
//! sessions up (LCP echoes every second, HELLOs), a separate UDP socket on 127.0.0.1 throws
//! malformed, out-of-state, spoofed and flooding traffic at the LNS. After each class of bad
//! input the test asserts that the daemon is alive, every established session is still there
//! and established, its datapath counters keep increasing (traffic still flows), and spoofed
//! data was not counted on the victim session. These run on real sockets: what they measure
//! (garbage per second while good sessions keep passing traffic, the kernel's receive
//! queue, the process's memory) only a process on real sockets has.
//!
//! Needs no root: the LNS runs with `interface_mode = "none"` and the load generator
//! terminates IP in its own process. Every loop is bounded; only processes started here are
//! killed (by pid, on drop). Figures are printed with `--nocapture` and recorded in
//! docs/robustness.md. The process tests of this file run one at a time.
//!
//! Four smaller tests pin the limits a flood runs into, against the daemon's core built from
//! the same configuration in virtual time (milliseconds; `L2TP_SIM_SEED=N` replays a run):
//! `lns.max_tunnels` against SCCRQs arriving together and against an SCCRQ flood, the
//! per-source limit on half-open tunnels, and `lns.max_sessions` against an ICRQ flood inside
//! one tunnel (calls waiting for their ICCN count).

mod support;
use support::sim_lns::{SimLns, SimSocket};
use support::{free_udp_port, Proc};

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, Request, Response, SessionInfo};
use l2tp_wire::message::Hiding;
use l2tp_wire::{
    encode_packet, ControlMessage, Header, MessageKind, ResultCode, SeqNum, SessionId, TunnelId,
};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");
const SECRET: &str = "hostile-secret";
const LOADGEN_TUNNELS: usize = 2;
const LOADGEN_SESSIONS: usize = 3;
/// A session whose L2TP call is established and whose PPP reached the network phase.
const UP: &str = "established/ppp-network";

// ----- processes -----

/// The LNS under attack, the load generator holding good sessions, and what they were at
/// the start.
struct Harness {
    dir: PathBuf,
    server: SocketAddr,
    lns: Proc,
    loadgen: Proc,
    /// (tunnel, session) of the load generator's sessions, as the LNS names them.
    victims: BTreeSet<(u16, u16)>,
    victim_tunnels: BTreeSet<u16>,
    /// Garbage sent so far and time spent sending it, per class.
    figures: Vec<(String, u64, Duration)>,
}

/// The tests of this file run one at a time: each measures a daemon under load.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Harness {
    fn start(tag: &str, extra_lns: &str) -> Harness {
        Harness::start_with(tag, extra_lns, 4)
    }

    /// `echo_failures`: unanswered LCP echoes (one a second) before the LNS drops a session.
    fn start_with(tag: &str, extra_lns: &str, echo_failures: u32) -> Harness {
        let dir = std::env::temp_dir().join(format!("l2tpd-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = free_udp_port();
        let server: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let sock = dir.join("lns.sock");
        let cfg = dir.join("lns.toml");
        std::fs::write(&cfg, lns_config(server, &sock, echo_failures, extra_lns))
            .expect("write config");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600));
        }
        let lns = spawn(
            &dir,
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
        let loadgen = spawn_loadgen(
            &dir,
            "loadgen",
            server,
            (LOADGEN_TUNNELS, LOADGEN_SESSIONS),
            300,
            30,
        );
        let mut h = Harness {
            dir,
            server,
            lns,
            loadgen,
            victims: BTreeSet::new(),
            victim_tunnels: BTreeSet::new(),
            figures: Vec::new(),
        };
        let want = LOADGEN_TUNNELS * LOADGEN_SESSIONS;
        let t0 = Instant::now();
        loop {
            let s = h.sessions();
            let up: Vec<_> = s
                .iter()
                .filter(|s| s.state == UP && s.ipv4.is_some() && s.stats.rx_packets > 0)
                .collect();
            if up.len() == want {
                h.victims = up.iter().map(|s| (s.tunnel, s.session)).collect();
                h.victim_tunnels = up.iter().map(|s| s.tunnel).collect();
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "loadgen sessions did not come up ({} of {want}): {s:?}\nLNS:\n{}\nloadgen:\n{}",
                up.len(),
                h.lns.log_tail(),
                h.loadgen.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        h
    }

    fn mgmt(&self) -> Client {
        let mut c = Client::connect(self.dir.join("lns.sock")).expect("management socket");
        c.set_timeout(Duration::from_secs(5)).expect("timeout");
        c
    }

    fn sessions(&self) -> Vec<SessionInfo> {
        match self.mgmt().request(&Request::ListSessions) {
            Ok(Response::Sessions(s)) => s,
            other => panic!("ListSessions: {other:?}"),
        }
    }

    fn stats(&self) -> l2tp_mgmt::DaemonStats {
        match self.mgmt().request(&Request::Stats) {
            Ok(Response::Stats(s)) => s,
            other => panic!("Stats: {other:?}"),
        }
    }

    fn victim_sessions(&self) -> Vec<SessionInfo> {
        self.sessions()
            .into_iter()
            .filter(|s| self.victim_tunnels.contains(&s.tunnel))
            .collect()
    }

    /// One victim session (the first).
    fn victim(&self) -> (u16, u16) {
        *self.victims.iter().next().expect("victims")
    }

    /// Runs one class of bad input and asserts the good sessions were unharmed.
    /// `attack` returns how many packets it sent; `spoofed` names a victim session whose
    /// rx/tx must not jump by what was sent at it.
    fn class(
        &mut self,
        name: &str,
        attack: impl FnOnce(&mut Harness) -> (u64, Option<(u16, u16)>),
    ) {
        let before = self.victim_sessions();
        let t0 = Instant::now();
        let (sent, spoofed) = attack(self);
        let spent = t0.elapsed();
        self.assert_unharmed(name, &before, t0, sent, spoofed);
        eprintln!(
            "hostile: {name:<40} {sent:>6} packets in {:>7.1} ms ({:>9.0} pkt/s), sessions unharmed",
            spent.as_secs_f64() * 1e3,
            sent as f64 / spent.as_secs_f64().max(1e-6)
        );
        self.figures.push((name.to_string(), sent, spent));
    }

    fn assert_unharmed(
        &mut self,
        name: &str,
        before: &[SessionInfo],
        t0: Instant,
        sent: u64,
        spoofed: Option<(u16, u16)>,
    ) {
        assert!(
            self.lns.alive(),
            "[{name}] the LNS died:\n{}",
            self.lns.log_tail()
        );
        assert!(
            self.loadgen.alive(),
            "[{name}] the loadgen died:\n{}",
            self.loadgen.log_tail()
        );
        // Traffic still flows: every good session's rx and tx move (LCP echoes, 1/s).
        let deadline = Instant::now() + Duration::from_secs(6);
        let now_sessions = loop {
            let now = self.victim_sessions();
            let keys: BTreeSet<_> = now.iter().map(|s| (s.tunnel, s.session)).collect();
            assert_eq!(
                keys,
                self.victims,
                "[{name}] good sessions lost or added:\nLNS:\n{}",
                self.lns.log_tail()
            );
            for s in &now {
                assert_eq!(
                    s.state, UP,
                    "[{name}] session {}/{} state",
                    s.tunnel, s.session
                );
                assert_eq!(s.user.as_deref(), Some("alice"), "[{name}] session user");
            }
            let moved = now.iter().all(|s| {
                before
                    .iter()
                    .find(|b| b.tunnel == s.tunnel && b.session == s.session)
                    .is_some_and(|b| {
                        s.stats.rx_packets > b.stats.rx_packets
                            && s.stats.tx_packets > b.stats.tx_packets
                    })
            });
            if moved {
                break now;
            }
            assert!(
                Instant::now() < deadline,
                "[{name}] traffic stopped on a good session: before {before:?}\nnow {now:?}\nLNS:\n{}",
                self.lns.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Some((t, s)) = spoofed {
            let b = before
                .iter()
                .find(|b| b.tunnel == t && b.session == s)
                .expect("victim before");
            let n = now_sessions
                .iter()
                .find(|x| x.tunnel == t && x.session == s)
                .expect("victim now");
            // The legitimate echoes: at most one per second each way, plus slack.
            let legit = t0.elapsed().as_secs() + 4;
            let rx = n.stats.rx_packets - b.stats.rx_packets;
            let tx = n.stats.tx_packets - b.stats.tx_packets;
            assert!(
                rx <= legit && tx <= legit,
                "[{name}] spoofed data counted on the victim {t}/{s}: rx +{rx}, tx +{tx} \
                 while {sent} spoofed packets were sent (legitimate at most {legit})"
            );
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Processes are killed by their own drops; keep the logs when the test failed (or
        // with L2TPD_HOSTILE_KEEP set).
        if !std::thread::panicking() && std::env::var_os("L2TPD_HOSTILE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("hostile: logs kept in {}", self.dir.display());
        }
    }
}

/// The LNS's configuration: tunnel secret, one user (alice), `interface_mode = "none"`.
fn lns_config(
    server: SocketAddr,
    sock: &std::path::Path,
    echo_failures: u32,
    extra_lns: &str,
) -> String {
    format!(
        r#"role = "lns"
[daemon]
management_socket = "{sock}"
log_level = "info"
[tunnel]
secret = "{SECRET}"
hello_interval = 2
retries = 3
[ppp]
lcp_echo_interval = 1
lcp_echo_failures = {echo_failures}
[lns]
listen = ["{server}"]
ipv4_pool = "203.0.113.10-203.0.113.250"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
{extra_lns}
[[lns.users]]
name = "alice"
password = "secret"
"#,
        sock = sock.display()
    )
}

/// `l2tpd loadgen` as user alice with the tunnel secret: `tunnels × sessions` against
/// `server`, held `hold` seconds, giving up after `timeout`; its JSON report goes to the log.
fn spawn_loadgen(
    dir: &std::path::Path,
    who: &str,
    server: SocketAddr,
    (tunnels, sessions): (usize, usize),
    hold: u32,
    timeout: u32,
) -> Proc {
    let (server, tunnels, sessions) = (
        server.to_string(),
        tunnels.to_string(),
        sessions.to_string(),
    );
    let (hold, timeout) = (hold.to_string(), timeout.to_string());
    #[rustfmt::skip]
    let args = [
        "loadgen", "--server", &server, "--tunnels", &tunnels, "--sessions", &sessions,
        "--user", "alice", "--password", "secret", "--secret", SECRET,
        "--hold", &hold, "--timeout", &timeout, "--json",
    ];
    spawn(dir, who, &args)
}

fn spawn(dir: &std::path::Path, who: &str, args: &[&str]) -> Proc {
    // L2TPD_HOSTILE_BIN runs the attack against another build (e.g. release, for figures).
    let bin = std::env::var("L2TPD_HOSTILE_BIN").unwrap_or_else(|_| L2TPD.to_string());
    Proc::spawn(&bin, dir, who, args)
}

// ----- packet crafting -----

fn send(sock: &UdpSocket, to: SocketAddr, d: &[u8]) -> u64 {
    // A refused send (ICMP unreachable from an earlier datagram) is not our concern.
    let _ = sock.send_to(d, to);
    1
}

fn garbage_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

/// Control header bytes (T, L, S) with an explicit Length value.
fn ctl_raw(length: u16, tid: u16, sid: u16, ns: u16, nr: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xc8, 0x02];
    v.extend_from_slice(&length.to_be_bytes());
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(&ns.to_be_bytes());
    v.extend_from_slice(&nr.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn ctl(tid: u16, sid: u16, ns: u16, nr: u16, body: &[u8]) -> Vec<u8> {
    ctl_raw((12 + body.len()) as u16, tid, sid, ns, nr, body)
}

fn data(tid: u16, sid: u16, ppp: &[u8]) -> Vec<u8> {
    Header::data(TunnelId(tid), SessionId(sid)).encode_with_payload(ppp)
}

/// One AVP with an explicit length field (which may lie).
fn avp_raw(flags: u16, len_field: u16, attr: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(flags | (len_field & 0x03ff)).to_be_bytes());
    v.extend_from_slice(&0u16.to_be_bytes());
    v.extend_from_slice(&attr.to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn avp(attr: u16, value: &[u8]) -> Vec<u8> {
    avp_raw(0x8000, (6 + value.len()) as u16, attr, value)
}

fn msg_type(t: u16) -> Vec<u8> {
    avp(0, &t.to_be_bytes())
}

/// A valid SCCRQ body (Windows-like) with a chosen assigned tunnel id.
fn sccrq_body(assigned: u16) -> Vec<u8> {
    let mut m = l2tp_wire::testdata::windows_sccrq();
    m.assigned_tunnel_id = TunnelId(assigned);
    let mut v = Vec::new();
    ControlMessage::Sccrq(m)
        .encode(&mut v, None)
        .expect("encode");
    v
}

fn every(name: &str) -> ControlMessage {
    l2tp_wire::testdata::every_message()
        .into_iter()
        .find(|m| m.message_type().name() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in testdata"))
}

/// Splits a message body into its AVPs (start, length, attribute).
fn avp_spans(body: &[u8]) -> Vec<(usize, usize, u16)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 6 <= body.len() {
        let len = usize::from(u16::from_be_bytes([body[pos], body[pos + 1]]) & 0x03ff);
        if len < 6 || pos + len > body.len() {
            break;
        }
        out.push((pos, len, u16::from_be_bytes([body[pos + 4], body[pos + 5]])));
        pos += len;
    }
    out
}

/// PPP frames whose LCP/IPCP/auth option or packet lengths overrun, or are too short.
fn bad_ppp_frames() -> Vec<Vec<u8>> {
    let mut f: Vec<Vec<u8>> = vec![
        // LCP Configure-Request, MRU option length 0xff past the end.
        vec![0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 10, 1, 0xff, 5, 0xdc, 0, 0],
        // Option length 0 and 1 (a naive parser loops forever).
        vec![0xff, 0x03, 0xc0, 0x21, 1, 2, 0, 8, 1, 0, 5, 0xdc],
        vec![0xff, 0x03, 0xc0, 0x21, 1, 3, 0, 8, 1, 1, 5, 0xdc],
        // LCP Length field beyond the frame, and below 4.
        vec![0xff, 0x03, 0xc0, 0x21, 1, 4, 0xff, 0xff, 1, 4, 5, 0xdc],
        vec![0xff, 0x03, 0xc0, 0x21, 1, 5, 0, 2],
        // Configure-Nak / Reject with an overrunning option.
        vec![
            0xff, 0x03, 0xc0, 0x21, 3, 6, 0, 10, 3, 0x40, 0xc2, 0x23, 5, 0,
        ],
        vec![0xff, 0x03, 0xc0, 0x21, 4, 7, 0, 9, 5, 0x20, 1, 2, 3],
        // Echo-Request shorter than its magic number; Protocol-Reject of nothing.
        vec![0xff, 0x03, 0xc0, 0x21, 9, 8, 0, 6, 1, 2],
        vec![0xff, 0x03, 0xc0, 0x21, 8, 9, 0, 4],
        // IPCP Configure-Request: IP-Address option length 0xff, 0, and an overrunning
        // DNS option; IPCP Length overflow.
        vec![0x80, 0x21, 1, 1, 0, 10, 3, 0xff, 10, 0, 0, 1],
        vec![0x80, 0x21, 1, 2, 0, 10, 3, 0, 10, 0, 0, 1],
        vec![0x80, 0x21, 1, 3, 0, 10, 0x81, 0x20, 8, 8],
        vec![0x80, 0x21, 1, 4, 0xff, 0xf0, 3, 6, 10, 0, 0, 1],
        vec![0x80, 0x21, 3, 5, 0, 10, 3, 200, 10, 0, 0, 1],
        // IPv6CP interface id option overrun.
        vec![0x80, 0x57, 1, 1, 0, 10, 1, 0x7f, 1, 2, 3, 4],
        // CHAP Response with a Value-Size past the end; PAP with a peer-id length overrun.
        vec![0xc2, 0x23, 2, 1, 0, 12, 0xff, 1, 2, 3, 4, 5, 6, 7],
        vec![0xc0, 0x23, 1, 1, 0, 8, 0xfe, b'a', b'b', b'c'],
        vec![0xc0, 0x23, 1, 2, 0, 8, 3, b'a', b'b', b'c'],
        // Truncated: address/control only, one protocol byte, nothing.
        vec![0xff, 0x03],
        vec![0xff, 0x03, 0xc0],
        vec![0xc0],
        vec![],
        // An IPv4 packet whose header says 60 bytes of options, to the LNS's own address.
        {
            let mut v = vec![0x00, 0x21, 0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0];
            v.extend_from_slice(&[203, 0, 113, 10, 198, 51, 100, 1]);
            v
        },
    ];
    // A well-formed Echo-Request (would be answered, and counted, if accepted).
    f.push(vec![0xff, 0x03, 0xc0, 0x21, 9, 0x42, 0, 8, 0, 0, 0, 0]);
    f
}

/// An ICMP echo request to the LNS's own address, in a PPP frame.
fn ppp_icmp_echo(src: [u8; 4]) -> Vec<u8> {
    let mut ip = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, src[0], src[1], src[2], src[3], 198, 51, 100, 1,
    ];
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = vec![0x00, 0x21];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

// ----- a scripted hostile peer with a real tunnel -----

/// A peer that opens a real tunnel (answering the LNS's Challenge) and then sends whatever
/// the test says with correct Ns/Nr, so malformed messages reach the message decoder and
/// the state machines, not just the reliable layer.
struct RawPeer {
    sock: PeerSock,
    server: SocketAddr,
    /// The LNS's id for our tunnel.
    tid: u16,
    ns: u16,
    nr: u16,
    stopped: bool,
    /// Data frames received from the LNS.
    data_rx: Vec<(u16, Vec<u8>)>,
}

/// A raw peer's socket: real UDP on 127.0.0.1, or an address in virtual time.
enum PeerSock {
    Udp(UdpSocket),
    Sim(SimSocket),
}

impl PeerSock {
    /// A UDP socket on 127.0.0.1 whose reads wait at most 50 ms.
    fn udp() -> PeerSock {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        PeerSock::Udp(sock)
    }

    fn now(&self) -> Instant {
        match self {
            PeerSock::Udp(_) => Instant::now(),
            PeerSock::Sim(s) => s.lns.now(),
        }
    }

    fn send_to(&self, d: &[u8], to: SocketAddr) {
        match self {
            // A refused send (ICMP unreachable from an earlier datagram) is not our concern.
            PeerSock::Udp(s) => {
                let _ = s.send_to(d, to);
            }
            PeerSock::Sim(s) => s.send_to(d, to),
        }
    }

    /// One datagram, waiting at most 50 ms.
    fn recv(&self) -> Option<Vec<u8>> {
        match self {
            PeerSock::Udp(s) => {
                let mut buf = vec![0u8; 65_536];
                let (n, _) = s.recv_from(&mut buf).ok()?;
                buf.truncate(n);
                Some(buf)
            }
            PeerSock::Sim(s) => s.recv(Duration::from_millis(50)),
        }
    }
}

impl RawPeer {
    fn connect(server: SocketAddr, assigned: u16) -> Option<RawPeer> {
        RawPeer::connect_on(PeerSock::udp(), server, assigned)
    }

    fn connect_on(sock: PeerSock, server: SocketAddr, assigned: u16) -> Option<RawPeer> {
        let (mut p, challenge) = RawPeer::begin_on(sock, server, assigned, Duration::from_secs(3))?;
        p.finish(challenge).then_some(p)
    }

    /// Sends SCCRQ and waits for the SCCRP; returns the peer and the LNS's Challenge.
    fn begin(
        server: SocketAddr,
        assigned: u16,
        wait: Duration,
    ) -> Option<(RawPeer, Option<Vec<u8>>)> {
        RawPeer::begin_on(PeerSock::udp(), server, assigned, wait)
    }

    /// [`RawPeer::begin`] from `sock`.
    fn begin_on(
        sock: PeerSock,
        server: SocketAddr,
        assigned: u16,
        wait: Duration,
    ) -> Option<(RawPeer, Option<Vec<u8>>)> {
        let mut p = RawPeer {
            sock,
            server,
            tid: 0,
            ns: 0,
            nr: 0,
            stopped: false,
            data_rx: Vec::new(),
        };
        let body = sccrq_body(assigned);
        p.send_body(0, &body);
        let mut challenge = None;
        for (_, m) in p.pump(wait, |m| matches!(m, ControlMessage::Sccrp(_))) {
            if let ControlMessage::Sccrp(m) = m {
                p.tid = m.assigned_tunnel_id.0;
                challenge = m.challenge.clone();
            }
        }
        if p.tid == 0 {
            eprintln!("hostile: raw peer {assigned}: no SCCRP");
            return None;
        }
        Some((p, challenge))
    }

    /// Sends SCCCN (answering the Challenge); true unless the LNS answered with StopCCN.
    fn finish(&mut self, challenge: Option<Vec<u8>>) -> bool {
        let scccn = l2tp_wire::Scccn {
            challenge_response: challenge
                .map(|c| l2tp_wire::challenge_response(3, SECRET.as_bytes(), &c)),
            unknown: vec![],
        };
        self.send(0, &scccn.into(), None);
        self.pump(Duration::from_millis(100), |_| false);
        !self.stopped
    }

    fn send_body(&mut self, sid: u16, body: &[u8]) {
        let d = ctl(self.tid, sid, self.ns, self.nr, body);
        self.ns = self.ns.wrapping_add(1);
        self.sock.send_to(&d, self.server);
    }

    fn send(&mut self, sid: u16, m: &ControlMessage, hiding: Option<Hiding<'_>>) {
        let mut body = Vec::new();
        m.encode(&mut body, hiding).expect("encode");
        self.send_body(sid, &body);
    }

    fn zlb(&mut self) {
        let d = ctl(self.tid, 0, self.ns, self.nr, &[]);
        self.sock.send_to(&d, self.server);
    }

    /// Receives for up to `dur` (or until `done` matches a message), acknowledging
    /// everything; returns the control messages that decoded.
    fn pump(
        &mut self,
        dur: Duration,
        mut done: impl FnMut(&ControlMessage) -> bool,
    ) -> Vec<(u16, ControlMessage)> {
        let end = self.sock.now() + dur;
        let mut out = Vec::new();
        let mut finished = false;
        while self.sock.now() < end && !finished {
            let Some(buf) = self.sock.recv() else {
                continue;
            };
            let Ok(d) = Header::decode(&buf) else {
                continue;
            };
            if d.header.kind == MessageKind::Data {
                if self.data_rx.len() < 10_000 {
                    self.data_rx
                        .push((d.header.session_id.0, d.payload.to_vec()));
                }
                continue;
            }
            let Some(seq) = d.header.sequence else {
                continue;
            };
            if d.payload.is_empty() {
                continue;
            }
            if seq.ns == SeqNum(self.nr) {
                self.nr = self.nr.wrapping_add(1);
                if let Ok(m) = ControlMessage::decode(d.payload, Some(SECRET.as_bytes())) {
                    if matches!(m, ControlMessage::StopCcn(_)) {
                        self.stopped = true;
                    }
                    finished = done(&m);
                    out.push((d.header.session_id.0, m));
                }
            }
            self.zlb();
        }
        out
    }

    /// Sends `n` ICRQs (never completed with ICCN), paced by the LNS's receive window
    /// (4 by default) and bounded in time; returns (ICRQs sent, ICRPs received).
    fn icrq_flood(&mut self, first_sid: u16, n: u16, within: Duration) -> (u64, u64) {
        let end = self.sock.now() + within;
        let (mut sent, mut icrps) = (0u64, 0u64);
        let mut i = 0u16;
        while i < n && self.sock.now() < end && !self.stopped {
            for _ in 0..4 {
                if i >= n {
                    break;
                }
                let sid = first_sid.wrapping_add(i);
                let icrq = l2tp_wire::Icrq {
                    assigned_session_id: SessionId(sid),
                    call_serial_number: u32::from(sid),
                    bearer_type: None,
                    physical_channel_id: None,
                    calling_number: Some(b"5550100".to_vec()),
                    called_number: None,
                    sub_address: None,
                    unknown: vec![],
                };
                self.send(0, &icrq.into(), None);
                sent += 1;
                i += 1;
            }
            let got = self.pump(Duration::from_millis(15), |_| false);
            icrps += got
                .iter()
                .filter(|(_, m)| matches!(m, ControlMessage::Icrp(_)))
                .count() as u64;
        }
        let got = self.pump(Duration::from_millis(100), |_| false);
        icrps += got
            .iter()
            .filter(|(_, m)| matches!(m, ControlMessage::Icrp(_)))
            .count() as u64;
        (sent, icrps)
    }

    /// Places a call (ICRQ → ICRP → ICCN); returns the LNS's session id.
    fn call(&mut self, our_sid: u16) -> Option<u16> {
        let icrq = l2tp_wire::Icrq {
            assigned_session_id: SessionId(our_sid),
            call_serial_number: u32::from(our_sid),
            bearer_type: None,
            physical_channel_id: None,
            calling_number: None,
            called_number: None,
            sub_address: None,
            unknown: vec![],
        };
        self.send(0, &icrq.into(), None);
        let mut sid = None;
        for (_, m) in self.pump(Duration::from_secs(2), |m| {
            matches!(m, ControlMessage::Icrp(_))
        }) {
            if let ControlMessage::Icrp(m) = m {
                sid = Some(m.assigned_session_id.0);
            }
        }
        let Some(sid) = sid else {
            eprintln!("hostile: raw peer: no ICRP for call {our_sid}");
            return None;
        };
        let iccn = l2tp_wire::Iccn::new(100_000_000, l2tp_wire::FramingCapabilities::SYNC);
        self.send(sid, &iccn.into(), None);
        self.pump(Duration::from_millis(100), |_| false);
        Some(sid)
    }
}

// ----- the classes -----

fn truncated_headers(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let full_ctl = ctl(vt, vs, 0, 0, &sccrq_body(1));
    let full_data = {
        let mut v = vec![0x4a, 0x02, 0, 20];
        v.extend_from_slice(&vt.to_be_bytes());
        v.extend_from_slice(&vs.to_be_bytes());
        v.extend_from_slice(&[0, 1, 0, 0, 0, 2, 0, 0, 0xff, 0x03, 0xc0, 0x21]);
        v
    };
    for full in [&full_ctl, &full_data] {
        for len in 0..full.len().min(40) {
            n += send(&g, h.server, &full[..len]);
        }
    }
    for b in 0..=255u8 {
        n += send(&g, h.server, &[b]);
        n += send(&g, h.server, &[b, 0x02]);
        n += send(&g, h.server, &[0xc8, b, 0, 12]);
    }
    (n, Some((vt, vs)))
}

fn length_overflow(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let body = sccrq_body(2);
    for length in [0u16, 1, 6, 11, 13, 100, 0x7fff, 0xfffe, 0xffff] {
        n += send(&g, h.server, &ctl_raw(length, 0, 0, 0, 0, &body));
        n += send(&g, h.server, &ctl_raw(length, vt, 0, 0, 0, &body));
        // Data with the L bit and a lying Length, for the victim's ids.
        let mut d = vec![0x40, 0x02];
        d.extend_from_slice(&length.to_be_bytes());
        d.extend_from_slice(&vt.to_be_bytes());
        d.extend_from_slice(&vs.to_be_bytes());
        d.extend_from_slice(&[0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0]);
        n += send(&g, h.server, &d);
    }
    // Data with the O bit: Offset Size past the end, and every combination of flags.
    for off in [1u16, 8, 0x100, 0xffff] {
        let mut d = vec![0x02, 0x02];
        d.extend_from_slice(&vt.to_be_bytes());
        d.extend_from_slice(&vs.to_be_bytes());
        d.extend_from_slice(&off.to_be_bytes());
        d.extend_from_slice(&[0xff, 0x03, 0xc0, 0x21]);
        n += send(&g, h.server, &d);
    }
    for flags in 0..=0xffu8 {
        let mut d = vec![flags, 0x02, 0xff, 0xff];
        d.extend_from_slice(&vt.to_be_bytes());
        d.extend_from_slice(&vs.to_be_bytes());
        d.extend_from_slice(&[0xff; 8]);
        n += send(&g, h.server, &d);
    }
    // Other versions (L2F, L2TPv3) with L2TPv2 ids.
    for ver in [0u8, 1, 3, 7, 0x0f] {
        n += send(&g, h.server, &[0xc8, ver, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    (n, Some((vt, vs)))
}

/// AVP bodies that lie about lengths, each as an SCCRQ on tunnel 0.
fn bad_avp_bodies() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for len in 0..6u16 {
        let mut b = msg_type(1);
        b.extend_from_slice(&avp_raw(0x8000, len, 7, b"host"));
        out.push(b);
        // The Message Type AVP itself too short.
        out.push(avp_raw(0x8000, len, 0, &[0, 1, 0, 0]));
    }
    for len in [7u16, 100, 1023] {
        let mut b = msg_type(1);
        b.extend_from_slice(&avp(2, &[1, 0]));
        b.extend_from_slice(&avp_raw(0x8000, len, 7, b"h"));
        out.push(b);
    }
    // Message Type AVP with a value of 0 or 1 byte, hidden, vendor-specific, or not first.
    out.push(avp_raw(0x8000, 6, 0, &[]));
    out.push(avp_raw(0x8000, 7, 0, &[1]));
    out.push(avp_raw(0xc000, 8, 0, &[0, 1]));
    {
        let mut b = avp(7, b"host");
        b.extend_from_slice(&msg_type(1));
        out.push(b);
    }
    // Reserved bits set in the AVP flags; an unknown mandatory AVP.
    {
        let mut b = msg_type(1);
        b.extend_from_slice(&avp_raw(0xbc00, 10, 7, b"host"));
        out.push(b);
    }
    {
        let mut b = sccrq_body(3);
        b.extend_from_slice(&avp(250, &[1, 2, 3]));
        out.push(b);
    }
    out
}

fn avp_lengths(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let mut n = 0;
    for b in bad_avp_bodies() {
        n += send(&g, h.server, &ctl(0, 0, 0, 0, &b));
    }
    // The same inside a real tunnel, with correct sequence numbers: each on a fresh tunnel
    // (a bad mandatory AVP may rightly close it).
    for (i, b) in bad_avp_bodies().into_iter().enumerate().take(12) {
        if let Some(mut p) = RawPeer::connect(h.server, 100 + i as u16) {
            let mut body = msg_type(10);
            body.extend_from_slice(&b[b.len().min(8)..]);
            p.send_body(0, &body);
            p.send_body(0, &b);
            n += 2;
            p.pump(Duration::from_millis(30), |_| false);
        }
    }
    (n, None)
}

fn max_length_avps(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let mut n = 0;
    let long = vec![b'x'; 1017];
    let mut m = l2tp_wire::testdata::windows_sccrq();
    m.assigned_tunnel_id = TunnelId(7);
    m.host_name = long.clone();
    m.vendor_name = Some(long.clone());
    let mut body = Vec::new();
    ControlMessage::Sccrq(m)
        .encode(&mut body, None)
        .expect("encode");
    n += send(&g, h.server, &ctl(0, 0, 0, 0, &body));
    // A real tunnel, then ICRQ with maximum Calling / Called Number and Sub-Address.
    if let Some(mut p) = RawPeer::connect(h.server, 200) {
        let icrq = l2tp_wire::Icrq {
            assigned_session_id: SessionId(9),
            call_serial_number: 9,
            bearer_type: None,
            physical_channel_id: Some(u32::MAX),
            calling_number: Some(long.clone()),
            called_number: Some(long.clone()),
            sub_address: Some(long.clone()),
            unknown: vec![],
        };
        p.send(0, &icrq.into(), None);
        n += 1;
        p.pump(Duration::from_millis(100), |_| false);
        // Host Name of 1017 bytes hidden (1015 is the most that fits once hidden).
        let icrq = l2tp_wire::Icrq {
            assigned_session_id: SessionId(10),
            call_serial_number: 10,
            bearer_type: None,
            physical_channel_id: None,
            calling_number: Some(vec![b'9'; 1015]),
            called_number: None,
            sub_address: None,
            unknown: vec![],
        };
        let rv = [7u8; 16];
        p.send(0, &icrq.into(), Some(Hiding::new(SECRET.as_bytes(), &rv)));
        n += 1;
        p.pump(Duration::from_millis(100), |_| false);
    }
    (n, None)
}

fn hidden_avps(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let mut n = 0;
    let rv = [0x5au8; 16];
    // On tunnel 0: an SCCRQ hiding what it may with the wrong secret.
    let mut m = l2tp_wire::testdata::windows_sccrq();
    m.assigned_tunnel_id = TunnelId(11);
    let h0 = Header::control(TunnelId(0), SessionId(0), SeqNum(0), SeqNum(0));
    if let Ok(d) = encode_packet(&h0, &m.into(), Some(Hiding::new(b"wrong", &rv))) {
        n += send(&g, h.server, &d);
    }
    if let Some(mut p) = RawPeer::connect(h.server, 300) {
        let icrq = |sid: u16| -> ControlMessage {
            l2tp_wire::Icrq {
                assigned_session_id: SessionId(sid),
                call_serial_number: u32::from(sid),
                bearer_type: None,
                physical_channel_id: None,
                calling_number: Some(b"5550100".to_vec()),
                called_number: None,
                sub_address: None,
                unknown: vec![],
            }
            .into()
        };
        // Wrong secret.
        p.send(0, &icrq(21), Some(Hiding::new(b"not-the-secret", &rv)));
        // Right secret but the Random Vector AVP removed.
        let mut body = Vec::new();
        icrq(22)
            .encode(&mut body, Some(Hiding::new(SECRET.as_bytes(), &rv)))
            .expect("encode");
        let mut stripped = Vec::new();
        for (start, len, attr) in avp_spans(&body) {
            if attr != 36 {
                stripped.extend_from_slice(&body[start..start + len]);
            }
        }
        p.send_body(0, &stripped);
        // A hidden AVP too short to hold the hidden length, and one whose hidden length
        // exceeds the AVP.
        let mut b = msg_type(10);
        b.extend_from_slice(&avp(36, &rv));
        b.extend_from_slice(&avp_raw(0xc000, 7, 14, &[1]));
        b.extend_from_slice(&avp(15, &[0, 0, 0, 1]));
        p.send_body(0, &b);
        let mut b = msg_type(10);
        b.extend_from_slice(&avp(36, &rv));
        b.extend_from_slice(&avp_raw(0xc000, 10, 14, &[0xff, 0xff, 0xff, 0xff]));
        b.extend_from_slice(&avp(15, &[0, 0, 0, 1]));
        p.send_body(0, &b);
        // A Random Vector of length 0, then a hidden AVP.
        let mut b = msg_type(10);
        b.extend_from_slice(&avp(36, &[]));
        b.extend_from_slice(&avp_raw(0xc000, 12, 14, &[1, 2, 3, 4, 5, 6]));
        b.extend_from_slice(&avp(15, &[0, 0, 0, 1]));
        p.send_body(0, &b);
        n += 5;
        p.pump(Duration::from_millis(100), |_| false);
    }
    (n, None)
}

fn control_without_l_s(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, _) = h.victim();
    let mut n = 0;
    let body = sccrq_body(12);
    for tid in [0u16, vt] {
        // T only; T|L; T|S with the Ns/Nr but no Length.
        let mut a = vec![0x80, 0x02];
        a.extend_from_slice(&tid.to_be_bytes());
        a.extend_from_slice(&[0, 0]);
        a.extend_from_slice(&body);
        n += send(&g, h.server, &a);
        let mut b = vec![0xc0, 0x02];
        b.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
        b.extend_from_slice(&tid.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&body);
        n += send(&g, h.server, &b);
        let mut c = vec![0x88, 0x02];
        c.extend_from_slice(&tid.to_be_bytes());
        c.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        c.extend_from_slice(&body);
        n += send(&g, h.server, &c);
        // T|L|S plus O and P bits (not allowed on control).
        let mut d = ctl(tid, 0, 0, 0, &body);
        d[0] |= 0x03;
        n += send(&g, h.server, &d);
    }
    (n, None)
}

fn oversized_ppp(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let mut big = vec![0xff, 0x03, 0xc0, 0x21, 9, 1, 0xff, 0xf0, 0, 0, 0, 0];
    big.resize(65_000, 0xab);
    let mut ip = vec![0x00, 0x21];
    ip.resize(65_000, 0x45);
    for _ in 0..20 {
        n += send(&g, h.server, &data(vt, vs, &big)); // spoofed, victim session
        n += send(&g, h.server, &data(vt, 0x7fff, &ip)); // unknown session
    }
    // From our own session, the right source: the real PPP receive path.
    if let Some(mut p) = RawPeer::connect(h.server, 400) {
        if let Some(sid) = p.call(1) {
            for _ in 0..20 {
                p.sock.send_to(&data(p.tid, sid, &big), h.server);
                p.sock.send_to(&data(p.tid, sid, &ip), h.server);
                n += 2;
            }
            p.pump(Duration::from_millis(50), |_| false);
        }
    }
    (n, Some((vt, vs)))
}

fn ppp_option_overrun(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let frames = bad_ppp_frames();
    for _ in 0..5 {
        for f in &frames {
            n += send(&g, h.server, &data(vt, vs, f)); // spoofed: victim ids, wrong port
            n += send(&g, h.server, &data(vt, 0, f)); // no session
            n += send(&g, h.server, &data(vt, 0x7ffe, f)); // unknown session
        }
    }
    if let Some(mut p) = RawPeer::connect(h.server, 500) {
        if let Some(sid) = p.call(2) {
            for _ in 0..5 {
                for f in &frames {
                    p.sock.send_to(&data(p.tid, sid, f), h.server);
                    n += 1;
                }
                p.pump(Duration::from_millis(20), |_| false);
            }
        }
    }
    (n, Some((vt, vs)))
}

fn unknown_sessions(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let echo = [0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    for i in 0..500u16 {
        let sid = i.wrapping_mul(131).wrapping_add(1);
        if h.victims.contains(&(vt, sid)) {
            continue;
        }
        n += send(&g, h.server, &data(vt, sid, &echo));
        n += send(&g, h.server, &data(i.wrapping_mul(257), sid, &echo));
    }
    (n, Some((vt, vs)))
}

fn spoofed_data(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let echo = [0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    let icmp = ppp_icmp_echo([203, 0, 113, 10]);
    for _ in 0..300 {
        n += send(&g, h.server, &data(vt, vs, &echo));
        n += send(&g, h.server, &data(vt, vs, &icmp));
        // Tunnel id 0 with the victim's session id (the D-Link leniency must not apply
        // to another source).
        n += send(&g, h.server, &data(0, vs, &icmp));
    }
    (n, Some((vt, vs)))
}

fn out_of_state(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut n = 0;
    let enc = |m: &ControlMessage| {
        let mut b = Vec::new();
        m.encode(&mut b, None).expect("encode");
        b
    };
    let names = [
        "SCCRP", "SCCCN", "StopCCN", "HELLO", "OCRQ", "OCRP", "OCCN", "ICRQ", "ICRP", "ICCN",
        "CDN", "WEN", "SLI",
    ];
    // To unknown tunnels and to tunnel 0, from a stranger.
    for name in names {
        let b = enc(&every(name));
        n += send(&g, h.server, &ctl(0, 0, 0, 0, &b));
        n += send(&g, h.server, &ctl(0x7a7a, 0, 0, 0, &b));
        n += send(&g, h.server, &ctl(0x7a7a, 5, 1, 0, &b));
    }
    // Spoofed teardown of a victim tunnel and session: StopCCN and CDN from the wrong port,
    // across a range of Ns values.
    let stop = enc(&every("StopCCN"));
    let mut cdn = every("CDN");
    if let ControlMessage::Cdn(c) = &mut cdn {
        c.result_code = ResultCode::new(3);
    }
    let cdn = enc(&cdn);
    for ns in 0..64u16 {
        n += send(&g, h.server, &ctl(vt, 0, ns, ns, &stop));
        n += send(&g, h.server, &ctl(vt, vs, ns, ns, &cdn));
        n += send(&g, h.server, &ctl(vt, 0, ns, ns, &[]));
    }
    // Inside a real tunnel: ICCN, CDN, ICRP for sessions that do not exist, SCCCN and
    // SCCRQ again on an established tunnel, OCRP/OCCN never asked for.
    if let Some(mut p) = RawPeer::connect(h.server, 600) {
        for (sid, name) in [
            (0x4444, "ICCN"),
            (0, "ICCN"),
            (0x4445, "CDN"),
            (0x4446, "ICRP"),
            (0, "SCCCN"),
            (0, "SCCRP"),
            (0x4447, "OCRP"),
            (0x4448, "OCCN"),
            (0x4449, "WEN"),
            (0x444a, "SLI"),
            (0, "HELLO"),
        ] {
            p.send(sid, &every(name), None);
            n += 1;
        }
        p.send_body(0, &sccrq_body(601));
        n += 1;
        p.pump(Duration::from_millis(100), |_| false);
    }
    (n, Some((vt, vs)))
}

/// A Nak loop: a peer that answers every LCP Configure-Request with a Configure-Nak asking
/// for an unacceptable MRU, for a bounded time.
fn nak_loop(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let mut n = 0;
    let mut rounds = 0;
    if let Some(mut p) = RawPeer::connect(h.server, 700) {
        if let Some(sid) = p.call(3) {
            let end = Instant::now() + Duration::from_secs(2);
            while Instant::now() < end && rounds < 500 {
                p.pump(Duration::from_millis(20), |_| false);
                let frames = std::mem::take(&mut p.data_rx);
                for (_, f) in frames {
                    let f = if f.starts_with(&[0xff, 0x03]) {
                        &f[2..]
                    } else {
                        &f[..]
                    };
                    if f.len() >= 6 && f[0..2] == [0xc0, 0x21] && f[2] == 1 {
                        let id = f[3];
                        let nak = [0xff, 0x03, 0xc0, 0x21, 3, id, 0, 8, 1, 4, 0, 10];
                        p.sock.send_to(&data(p.tid, sid, &nak), h.server);
                        // And a Configure-Request of our own that it must Nak in turn.
                        let req = [0xff, 0x03, 0xc0, 0x21, 1, id, 0, 8, 1, 4, 0, 10];
                        p.sock.send_to(&data(p.tid, sid, &req), h.server);
                        n += 2;
                        rounds += 1;
                    }
                }
            }
        }
    }
    eprintln!("hostile: nak loop: the LNS sent {rounds} LCP Configure-Requests in 2 s");
    (n, None)
}

fn sccrq_flood(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    const SOCKETS: usize = 200;
    const PER_SOCKET: usize = 10;
    let socks: Vec<UdpSocket> = (0..SOCKETS).map(|_| garbage_socket()).collect();
    let mut n = 0;
    let bodies: Vec<Vec<u8>> = (0..PER_SOCKET as u16)
        .map(|i| sccrq_body(1000 + i))
        .collect();
    let before = h.stats();
    let t0 = Instant::now();
    for body in &bodies {
        for s in &socks {
            n += send(s, h.server, &ctl(0, 0, 0, 0, body));
        }
    }
    let spent = t0.elapsed();
    // Watch the tunnel table fill (bounded: 1.5 s).
    let mut after = h.stats();
    let mut peak = after.tunnels;
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(100));
        after = h.stats();
        peak = peak.max(after.tunnels);
    }
    // Can a new, legitimate tunnel still be opened right after the flood?
    let fresh = RawPeer::begin(h.server, 0x0f0f, Duration::from_secs(1))
        .and_then(|(mut p, ch)| p.finish(ch).then_some(()))
        .is_some();
    eprintln!(
        "hostile: SCCRQ flood: {n} SCCRQs from {SOCKETS} ports in {:.1} ms ({:.0}/s); LNS tunnels \
         {} -> {} (peak {peak}, by state {:?}), tunnels_refused {} -> {}; a new legitimate \
         tunnel right after: {}",
        spent.as_secs_f64() * 1e3,
        n as f64 / spent.as_secs_f64().max(1e-6),
        before.tunnels,
        after.tunnels,
        after.tunnels_by_state,
        before.tunnels_refused,
        after.tunnels_refused,
        if fresh { "accepted" } else { "NOT accepted" }
    );
    drop(socks);
    (n, None)
}

/// ICRQs in a real tunnel, never completed: sessions held in wait-connect.
fn icrq_flood(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let mut n = 0;
    if let Some(mut p) = RawPeer::connect(h.server, 800) {
        let before = h.stats();
        let (sent, icrps) = p.icrq_flood(1, 300, Duration::from_secs(3));
        n += sent;
        let after = h.stats();
        eprintln!(
            "hostile: ICRQ flood: {sent} ICRQs in one tunnel, {icrps} ICRPs; LNS sessions {} -> {} \
             ({:?}), sessions_refused {} -> {}",
            before.sessions,
            after.sessions,
            after.sessions_by_state,
            before.sessions_refused,
            after.sessions_refused
        );
    }
    (n, None)
}

/// Mixed garbage at full speed for a bounded time and count.
fn sustained_garbage(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = garbage_socket();
    let (vt, vs) = h.victim();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    for f in bad_ppp_frames() {
        pool.push(data(vt, vs, &f));
        pool.push(data(vt, 0x6000, &f));
    }
    for b in bad_avp_bodies() {
        pool.push(ctl(0, 0, 0, 0, &b));
        pool.push(ctl(vt, 0, 3, 3, &b));
    }
    pool.push(vec![0xff; 3]);
    pool.push(vec![0xc8, 0x02, 0xff, 0xff]);
    let drops_before = udp_rcvbuf_errors();
    let end = Instant::now() + Duration::from_secs(2);
    let mut n = 0u64;
    'outer: while n < 400_000 {
        for p in &pool {
            n += send(&g, h.server, p);
            if n.is_multiple_of(256) && Instant::now() >= end {
                break 'outer;
            }
        }
    }
    if let (Some(a), Some(b)) = (drops_before, udp_rcvbuf_errors()) {
        eprintln!(
            "hostile: sustained garbage: {n} sent, {} dropped by the kernel (receive buffer full), \
             so about {} reached the daemon",
            b - a,
            n.saturating_sub(b - a)
        );
    }
    (n, Some((vt, vs)))
}

/// The host's UDP receive-buffer drops (/proc/net/snmp `Udp: RcvbufErrors`), if readable.
fn udp_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let i = names.iter().position(|n| *n == "RcvbufErrors")?;
    values.get(i)?.parse().ok()
}

fn report(h: &Harness) {
    let total: u64 = h.figures.iter().map(|f| f.1).sum();
    let spent: Duration = h.figures.iter().map(|f| f.2).sum();
    let st = h.stats();
    let log = std::fs::metadata(h.dir.join("lns.log"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "hostile: total {total} bad packets in {:.2} s of sending ({:.0} pkt/s overall); {} good \
         sessions kept passing traffic; LNS datapath rx_errors {}, tunnels_refused {}, log {} bytes",
        spent.as_secs_f64(),
        total as f64 / spent.as_secs_f64().max(1e-6),
        h.victims.len(),
        st.datapath.rx_errors,
        st.tunnels_refused,
        log
    );
}

#[test]
fn hostile_input_leaves_good_sessions_unharmed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::start("all", "");
    h.class("truncated headers", truncated_headers);
    h.class("length fields that overflow", length_overflow);
    h.class("AVP lengths < 6 or past the end", avp_lengths);
    h.class("maximum-length host/vendor/calling AVPs", max_length_avps);
    h.class("hidden AVPs: wrong secret, no RV", hidden_avps);
    h.class("control without L/S bits", control_without_l_s);
    h.class("oversized PPP frames", oversized_ppp);
    h.class("LCP/IPCP option lengths overrun", ppp_option_overrun);
    h.class("data for unknown sessions", unknown_sessions);
    h.class("spoofed data (valid ids, wrong port)", spoofed_data);
    h.class("control messages out of state", out_of_state);
    h.class("LCP Nak loop", nak_loop);
    h.class("ICRQ flood (300 in one tunnel)", icrq_flood);
    h.class("SCCRQ flood (2,000 from 200 ports)", sccrq_flood);
    h.class("sustained mixed garbage (2 s)", sustained_garbage);
    report(&h);
}

// ----- admission limits, in virtual time -----

/// The LNS's core with the configuration the daemon runs above (plus `extra_lns`), in
/// virtual time from `seed`: floods that take seconds on real sockets take milliseconds,
/// and a run replays from `L2TP_SIM_SEED`.
fn sim_lns(seed: u64, extra_lns: &str) -> Rc<SimLns> {
    let server: SocketAddr = "127.0.0.200:1701".parse().expect("addr");
    let sock = std::path::Path::new("/nonexistent/lns.sock");
    let cfg = lns_config(server, sock, 4, extra_lns);
    Rc::new(SimLns::new(seed, server, &cfg))
}

/// What a failure in virtual time says first.
fn replay(lns: &SimLns) -> String {
    format!(
        "seed {s} (replay: L2TP_SIM_SEED={s}); LNS log:\n{}",
        support::sim_lns::tail(&lns.log()),
        s = lns.seed
    )
}

/// Regression (found by this file, fixed in 48ea4cf): `lns.max_tunnels` was checked against
/// the tunnels already *established*, so SCCRQs that arrived together were all accepted and
/// could all be completed with SCCCN: more established tunnels than `max_tunnels`.
#[test]
fn max_tunnels_holds_when_sccrqs_arrive_together() {
    const MAX: u64 = 4;
    for seed in l2tp_sim::seeds(&[1, 2]) {
        let lns = sim_lns(seed, &format!("max_tunnels = {MAX}"));
        // Two tunnels already up (the good peers of the process tests), then eight SCCRQs
        // answered before any of their SCCCNs arrives.
        for i in 0..2u16 {
            let sock = PeerSock::Sim(SimSocket::any(&lns));
            assert!(
                RawPeer::connect_on(sock, lns.server(), 880 + i).is_some(),
                "good tunnel {i}: {}",
                replay(&lns)
            );
        }
        let mut begun = Vec::new();
        for i in 0..8u16 {
            let sock = PeerSock::Sim(SimSocket::any(&lns));
            let wait = Duration::from_millis(300);
            if let Some(b) = RawPeer::begin_on(sock, lns.server(), 900 + i, wait) {
                begun.push(b);
            }
        }
        let mut up = 0;
        for (p, ch) in &mut begun {
            if p.finish(ch.take()) {
                up += 1;
            }
        }
        let st = lns.stats();
        let established = st.tunnels_by_state.get("established").copied().unwrap_or(0);
        eprintln!(
            "hostile: max_tunnels {MAX}: {} SCCRPs, {up} SCCCNs accepted, {established} \
             established, tunnels_refused {}, {:?}",
            begun.len(),
            st.tunnels_refused,
            st.tunnels_by_state
        );
        assert!(
            (2..=MAX).contains(&established),
            "{established} established tunnels with lns.max_tunnels = {MAX} ({:?}); {}",
            st.tunnels_by_state,
            replay(&lns)
        );
    }
}

/// Regression (found by this file, fixed in 48ea4cf): an SCCRQ flood from many source ports
/// created one half-open tunnel per SCCRQ regardless of `lns.max_tunnels`, each
/// retransmitting its SCCRP to the (possibly spoofed) source.
#[test]
fn sccrq_flood_is_bounded_by_max_tunnels() {
    const MAX: u64 = 16;
    for seed in l2tp_sim::seeds(&[1, 2]) {
        let lns = sim_lns(
            seed,
            &format!("max_tunnels = {MAX}\nmax_half_open_tunnels = {MAX}"),
        );
        let socks: Vec<SimSocket> = (0..50).map(|_| SimSocket::any(&lns)).collect();
        for i in 0..6u16 {
            let body = sccrq_body(2000 + i);
            for s in &socks {
                s.send_to(&ctl(0, 0, 0, 0, &body), lns.server());
            }
        }
        lns.run_for(Duration::from_millis(500));
        let st = lns.stats();
        assert!(
            st.tunnels_refused > 0,
            "nothing counted as refused: {st:?}; {}",
            replay(&lns)
        );
        eprintln!(
            "hostile: 300 SCCRQs with max_tunnels {MAX}: tunnels {} {:?}, tunnels_refused {}",
            st.tunnels, st.tunnels_by_state, st.tunnels_refused
        );
        // Established tunnels within max_tunnels, half-open ones within their own table.
        let established = st.tunnels_by_state.get("established").copied().unwrap_or(0);
        assert!(
            established <= MAX && st.half_open_tunnels <= MAX && st.tunnels <= 2 * MAX,
            "{} tunnels ({} half-open) held after 300 SCCRQs with lns.max_tunnels = {MAX} and \
             lns.max_half_open_tunnels = {MAX}: {:?}; {}",
            st.tunnels,
            st.half_open_tunnels,
            st.tunnels_by_state,
            replay(&lns)
        );
    }
}

/// `lns.max_sessions` must bound the sessions a peer can hold, including calls it requested
/// (ICRQ) and never completed (no ICCN). Found by this file: the limit was checked against
/// sessions that reached SessionUp (ICCN), so one tunnel's ICRQs were all answered with ICRP
/// and held in wait-connect: 60 ICRQs with `max_sessions = 10` left 66 sessions.
#[test]
fn icrq_flood_is_bounded_by_max_sessions() {
    const MAX: u64 = 10;
    for seed in l2tp_sim::seeds(&[1, 2]) {
        let lns = sim_lns(seed, &format!("max_sessions = {MAX}"));
        let sock = PeerSock::Sim(SimSocket::any(&lns));
        let mut p = RawPeer::connect_on(sock, lns.server(), 850)
            .unwrap_or_else(|| panic!("own tunnel: {}", replay(&lns)));
        let (sent, icrps) = p.icrq_flood(1, 60, Duration::from_secs(3));
        let st = lns.stats();
        eprintln!(
            "hostile: {sent} ICRQs with max_sessions {MAX}: {icrps} ICRPs, sessions {} {:?}, \
             sessions_refused {}",
            st.sessions, st.sessions_by_state, st.sessions_refused
        );
        assert_eq!(sent, 60, "the flood was cut short; {}", replay(&lns));
        assert!(
            st.sessions <= MAX && st.sessions_refused > 0,
            "{} sessions held with lns.max_sessions = {MAX}: {:?}, refused {}; {}",
            st.sessions,
            st.sessions_by_state,
            st.sessions_refused,
            replay(&lns)
        );
    }
}

/// Per-source limit: an SCCRQ flood from one address (127.0.0.1, 50 ports) cannot take the
/// LNS's half-open slots from everyone else: right after it, a tunnel from another address
/// (127.0.0.2) is still answered at once.
#[test]
fn sccrq_flood_from_one_address_does_not_lock_out_others() {
    for seed in l2tp_sim::seeds(&[1, 2]) {
        let lns = sim_lns(seed, "max_tunnels = 1024");
        let socks: Vec<SimSocket> = (0..50).map(|_| SimSocket::any(&lns)).collect();
        for i in 0..40u16 {
            let body = sccrq_body(3000 + i);
            for s in &socks {
                s.send_to(&ctl(0, 0, 0, 0, &body), lns.server());
            }
        }
        lns.run_for(Duration::from_millis(300));
        let st = lns.stats();
        let half_open = st
            .tunnels_by_state
            .get("wait-ctl-conn")
            .copied()
            .unwrap_or(0);
        eprintln!(
            "hostile: 2000 SCCRQs from one address: {half_open} half-open tunnels, \
             tunnels_refused {}",
            st.tunnels_refused
        );
        assert!(
            half_open <= 50,
            "one address holds {half_open} half-open tunnels; {}",
            replay(&lns)
        );
        assert!(st.tunnels_refused >= 1900, "{st:?}; {}", replay(&lns));

        let other = SimSocket::bind(&lns, "127.0.0.2:40000".parse().expect("addr"));
        let deadline = lns.now() + Duration::from_secs(3);
        let mut answered = false;
        let mut next_send = lns.now();
        while lns.now() < deadline && !answered {
            // Like a real peer, retransmit the SCCRQ until it is answered.
            if lns.now() >= next_send {
                other.send_to(&ctl(0, 0, 0, 0, &sccrq_body(4242)), lns.server());
                next_send = lns.now() + Duration::from_millis(500);
            }
            if let Some(d) = other.recv(Duration::from_millis(200)) {
                answered = matches!(
                    l2tp_wire::Packet::decode(&d, None),
                    Ok(l2tp_wire::Packet::Control {
                        message: ControlMessage::Sccrp(_),
                        ..
                    })
                );
            }
        }
        assert!(
            answered,
            "a tunnel from another address got no SCCRP after the flood; {}",
            replay(&lns)
        );
    }
}

// ----- spoofing from other addresses, sequenced sessions, many-source SCCRQ floods -----

/// Resident memory of a process in kB (/proc/PID/status VmRSS).
fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A UDP socket bound to another loopback address (all of 127.0.0.0/8 is local on Linux).
fn socket_on(last_octet: u8) -> UdpSocket {
    let s = UdpSocket::bind((std::net::Ipv4Addr::new(127, 0, 0, last_octet), 0))
        .unwrap_or_else(|e| panic!("bind 127.0.0.{last_octet}: {e}"));
    s.set_nonblocking(true).expect("nonblocking");
    s
}

/// A data message with sequence numbers (S bit) and chosen Ns/Nr.
fn data_seq(tid: u16, sid: u16, ns: u16, nr: u16, ppp: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0x02];
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(&ns.to_be_bytes());
    v.extend_from_slice(&nr.to_be_bytes());
    v.extend_from_slice(ppp);
    v
}

/// Waits (bounded) until the LNS has worked through its receive queue: two stats readings
/// 300 ms apart with the same control and data drop counters.
fn settled(h: &Harness) -> l2tp_mgmt::DaemonStats {
    let mut last = h.stats();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        let now = h.stats();
        let same = now.control_wrong_peer == last.control_wrong_peer
            && now.control_unknown_tunnel == last.control_unknown_tunnel
            && now.data_wrong_peer == last.data_wrong_peer;
        last = now;
        if same {
            break;
        }
    }
    last
}

/// Polls the stats until `f` holds (bounded: 5 s); returns the last reading either way.
fn stats_until(h: &Harness, f: impl Fn(&l2tp_mgmt::DaemonStats) -> bool) -> l2tp_mgmt::DaemonStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = h.stats();
        if f(&s) || Instant::now() >= deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Data for the victim's tunnel and session from another address (127.0.0.77): LCP
/// Echo-Requests and ICMP echoes to the LNS. None may be counted on the victim, answered,
/// or reach PPP; each is counted exactly once as data from the wrong peer.
fn spoofed_data_other_address(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = socket_on(77);
    let (vt, vs) = h.victim();
    let before = settled(h);
    let echo = [0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    let icmp = ppp_icmp_echo([203, 0, 113, 10]);
    let mut n = 0;
    for i in 0..200u16 {
        n += send(&g, h.server, &data(vt, vs, &echo));
        n += send(&g, h.server, &data(vt, vs, &icmp));
        // With sequence numbers too (the session has none: still the wrong peer first).
        n += send(&g, h.server, &data_seq(vt, vs, i, 0, &echo));
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5)); // no kernel drops: exact counts
        }
    }
    let after = stats_until(h, |s| s.data_wrong_peer >= before.data_wrong_peer + n);
    assert_eq!(
        after.data_wrong_peer - before.data_wrong_peer,
        n,
        "every spoofed data message from 127.0.0.77 counted exactly once as wrong peer"
    );
    assert_eq!(after.control_wrong_peer, before.control_wrong_peer);
    (n, Some((vt, vs)))
}

/// Spoofed teardown from another address (127.0.0.78) with the victim's tunnel and session
/// ids and plausible Ns/Nr around the tunnel's real ones: StopCCN, CDN, HELLO and ZLBs.
/// The tunnel and session must survive and each datagram be counted once as a control
/// message from the wrong peer.
fn spoofed_control_other_address(h: &mut Harness) -> (u64, Option<(u16, u16)>) {
    let g = socket_on(78);
    let (vt, vs) = h.victim();
    let before = settled(h);
    let enc = |m: &ControlMessage| {
        let mut b = Vec::new();
        m.encode(&mut b, None).expect("encode");
        b
    };
    let stop = enc(&every("StopCCN"));
    let hello = enc(&every("HELLO"));
    let mut cdn = every("CDN");
    if let ControlMessage::Cdn(c) = &mut cdn {
        c.result_code = ResultCode::new(3);
    }
    let cdn = enc(&cdn);
    let tunnel_before = h
        .sessions()
        .into_iter()
        .find(|s| (s.tunnel, s.session) == (vt, vs))
        .expect("victim");
    let mut n = 0;
    // Every Ns a tunnel of this age can plausibly be at (the loadgen's HELLOs and calls
    // have used a few dozen), with Nr around ours.
    for ns in 0..128u16 {
        for nr in [ns, ns.wrapping_add(1), 0] {
            n += send(&g, h.server, &ctl(vt, 0, ns, nr, &stop));
            n += send(&g, h.server, &ctl(vt, vs, ns, nr, &cdn));
            n += send(&g, h.server, &ctl(vt, 0, ns, nr, &hello));
            n += send(&g, h.server, &ctl(vt, 0, ns, nr, &[]));
        }
        if ns % 16 == 15 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let after = stats_until(h, |s| s.control_wrong_peer >= before.control_wrong_peer + n);
    assert_eq!(
        after.control_wrong_peer - before.control_wrong_peer,
        n,
        "every spoofed control message from 127.0.0.78 counted exactly once as wrong peer"
    );
    assert_eq!(after.data_wrong_peer, before.data_wrong_peer);
    // Not one of them reached the tunnel's reliable channel (no duplicate, no message).
    let tunnel_after = h
        .sessions()
        .into_iter()
        .find(|s| (s.tunnel, s.session) == (vt, vs))
        .expect("victim survived");
    assert_eq!(tunnel_after.state, UP);
    eprintln!(
        "hostile: spoofed control from 127.0.0.78: {n} sent, control_wrong_peer +{}, victim \
         {vt}/{vs} uptime {} -> {} s",
        after.control_wrong_peer - before.control_wrong_peer,
        tunnel_before.uptime_s,
        tunnel_after.uptime_s
    );
    (n, Some((vt, vs)))
}

#[test]
fn spoofing_from_other_addresses_leaves_the_victim_unharmed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::start("spoofaddr", "");
    h.class(
        "spoofed data from another address",
        spoofed_data_other_address,
    );
    h.class(
        "spoofed StopCCN/CDN/HELLO/ZLB from another address",
        spoofed_control_other_address,
    );
    report(&h);
}

/// Issue 9 item 4: sessions with sequence numbers on (`send_seq`, `recv_seq`: the loadgen
/// follows the LNS's Ns) attacked with data carrying wild Ns — far ahead, half the space
/// away, just behind, the wrap — for the victim's ids from another address and from the
/// peer's address with another port. Had any reached the sequencing rules, the session's
/// expected Ns would jump and its real packets be discarded (`rx_seq_discards`) until LCP
/// echoes failed. None may: every one is counted as wrong peer, the victim's sequence
/// counters do not move, and traffic keeps flowing.
#[test]
fn spoofed_ns_does_not_desynchronise_a_sequenced_session() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::start("seq", "[session]\nsend_seq = true\nrecv_seq = true\n");
    let victim = h
        .sessions()
        .into_iter()
        .find(|s| h.victims.contains(&(s.tunnel, s.session)))
        .expect("victim");
    assert!(
        victim.options.send_seq && victim.options.recv_seq,
        "sequencing not on: {:?}",
        victim.options
    );
    h.class("spoofed data with wild Ns (sequenced)", |h| {
        let (vt, vs) = h.victim();
        let before = settled(h);
        let vbefore = h
            .sessions()
            .into_iter()
            .find(|s| (s.tunnel, s.session) == (vt, vs))
            .expect("victim");
        let other = socket_on(79);
        let same_ip = garbage_socket();
        let echo = [0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
        let icmp = ppp_icmp_echo([203, 0, 113, 10]);
        let mut n = 0;
        let mut wild: Vec<u16> = vec![0, 1, 2, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
        wild.extend((0..64u16).map(|i| i.wrapping_mul(1021)));
        wild.extend(0..300u16);
        for (i, ns) in wild.iter().enumerate() {
            for s in [&other, &same_ip] {
                n += send(s, h.server, &data_seq(vt, vs, *ns, *ns, &echo));
                n += send(
                    s,
                    h.server,
                    &data_seq(vt, vs, ns.wrapping_add(0x4000), 0, &icmp),
                );
            }
            if i % 50 == 49 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let after = stats_until(h, |s| s.data_wrong_peer >= before.data_wrong_peer + n);
        assert_eq!(after.data_wrong_peer - before.data_wrong_peer, n);
        // Give the real traffic (LCP echoes, 1/s) time to show a desynchronisation.
        std::thread::sleep(Duration::from_secs(3));
        let vafter = h
            .sessions()
            .into_iter()
            .find(|s| (s.tunnel, s.session) == (vt, vs))
            .expect("victim");
        assert_eq!(
            (vafter.stats.rx_seq_discards, vafter.stats.rx_oos_packets),
            (vbefore.stats.rx_seq_discards, vbefore.stats.rx_oos_packets),
            "the victim's sequencing moved: before {:?} after {:?}",
            vbefore.stats,
            vafter.stats
        );
        assert!(vafter.stats.rx_packets >= vbefore.stats.rx_packets + 2);
        eprintln!(
            "hostile: sequenced victim {vt}/{vs}: {n} spoofed data messages with wild Ns, \
             data_wrong_peer +{}, rx_seq_discards {} -> {}, rx_packets {} -> {}",
            after.data_wrong_peer - before.data_wrong_peer,
            vbefore.stats.rx_seq_discards,
            vafter.stats.rx_seq_discards,
            vbefore.stats.rx_packets,
            vafter.stats.rx_packets
        );
        (n, Some((vt, vs)))
    });
}

/// The scripted handshake of a real peer under a flood, from `bind`: SCCRQ (retransmitted
/// every second, as RFC 2661 peers do), SCCRP, SCCCN answering the Challenge, and the LNS's
/// acknowledgement of the SCCCN (Nr 2) — proof that the tunnel it answered was still there.
/// An unacknowledged SCCCN is retransmitted after 1 s and 2 s more (as RFC 2661 peers do);
/// then the peer starts again with a new tunnel id. Returns the time from the first SCCRQ
/// and the attempts used, or None by `deadline`.
fn handshake_under_flood(
    server: SocketAddr,
    bind: u8,
    deadline: Instant,
) -> Option<(Duration, u32)> {
    let sock = UdpSocket::bind((std::net::Ipv4Addr::new(127, 0, 0, bind), 0)).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let t0 = Instant::now();
    let mut buf = vec![0u8; 4096];
    let mut attempts = 0u32;
    while Instant::now() < deadline {
        attempts += 1;
        let assigned = 0x5000 + attempts as u16;
        let sccrq = ctl(0, 0, 0, 0, &sccrq_body(assigned));
        let mut next_sccrq = Instant::now();
        let mut scccn: Option<(Vec<u8>, Instant, u32)> = None;
        let attempt_end = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline.min(attempt_end) {
            match &mut scccn {
                None if Instant::now() >= next_sccrq => {
                    let _ = sock.send_to(&sccrq, server);
                    next_sccrq = Instant::now() + Duration::from_secs(1);
                }
                Some((dg, next, tries)) if Instant::now() >= *next => {
                    if *tries >= 3 {
                        break;
                    }
                    let _ = sock.send_to(dg, server);
                    *tries += 1;
                    *next = Instant::now() + Duration::from_secs(u64::from(*tries));
                }
                _ => {}
            }
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(d) = Header::decode(&buf[..n]) else {
                continue;
            };
            let Some(seq) = d.header.sequence else {
                continue;
            };
            if d.header.tunnel_id != TunnelId(assigned) {
                continue;
            }
            if scccn.is_some() {
                if seq.nr.0 >= 2 {
                    return Some((t0.elapsed(), attempts));
                }
                continue;
            }
            if let Ok(ControlMessage::Sccrp(m)) =
                ControlMessage::decode(d.payload, Some(SECRET.as_bytes()))
            {
                let reply = l2tp_wire::Scccn {
                    challenge_response: m
                        .challenge
                        .map(|c| l2tp_wire::challenge_response(3, SECRET.as_bytes(), &c)),
                    unknown: vec![],
                };
                let mut body = Vec::new();
                ControlMessage::from(reply)
                    .encode(&mut body, None)
                    .expect("encode");
                let dg = ctl(m.assigned_tunnel_id.0, 0, 1, 1, &body);
                let _ = sock.send_to(&dg, server);
                scccn = Some((dg, Instant::now() + Duration::from_secs(1), 1));
            }
        }
    }
    None
}

/// Issue 9 item 1: SCCRQs from 249 source addresses (127.0.0.2 … 127.0.0.250) at full
/// speed fill the half-open table, and a real peer from another address still gets in
/// during the flood: a scripted handshake from 127.0.0.251 (timed) and an `l2tpd loadgen`
/// tunnel + session with PPP (from 127.0.0.1). Before the half-open table evicted, such a
/// flood held every slot and new peers were refused until the half-open tunnels timed out.
/// The established sessions keep their traffic; the table never exceeds its size.
#[test]
fn sccrq_flood_from_many_addresses_does_not_lock_out_a_new_peer() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    /// `lns.max_half_open_tunnels`, the default.
    const CAP: u64 = 4096;
    /// The flood stops when the real peers are done, or by itself after this long or this
    /// many datagrams.
    const FLOOD_MAX: Duration = Duration::from_secs(60);
    const FLOOD_MAX_PACKETS: u64 = 10_000_000;
    // A flood at full speed from a process on the same 2 shared cores makes the kernel drop
    // part of *every* socket's traffic (the daemon cannot read that fast; 37-81 % in our
    // runs). That is CPU exhaustion, which no admission policy prevents; this test is about
    // the half-open table locking new peers out. So the good sessions' LCP keepalive
    // tolerates 15 lost echoes in a row here (4 in the other tests), and the real peers
    // retransmit as real peers do.
    let mut h = Harness::start_with("manysrc", "", 15);
    h.class("SCCRQ flood from 249 addresses", |h| {
        let socks: Vec<UdpSocket> = (2..=250u8).map(socket_on).collect();
        // The Assigned Tunnel ID AVP's value, patched per datagram so every SCCRQ is a new
        // tunnel (a repeated one would be taken as a retransmission).
        let template = ctl(0, 0, 0, 0, &sccrq_body(1));
        let (pos, _, _) = avp_spans(&template[12..])
            .into_iter()
            .find(|(_, _, attr)| *attr == 9)
            .expect("Assigned Tunnel ID AVP");
        let id_at = 12 + pos + 6;
        let stop = Arc::new(AtomicBool::new(false));
        let server = h.server;
        let flood_stop = stop.clone();
        let before = h.stats();
        let drops_before = udp_rcvbuf_errors();
        let rss_before = rss_kb(h.lns.child.id());
        let flooder = std::thread::spawn(move || {
            // A remote attacker does not take the daemon's CPU: on our 2 shared cores the
            // flooder runs at the lowest priority (it still sends as fast as the CPU the
            // daemon leaves allows).
            if let Some(tid) = std::fs::read_link("/proc/thread-self")
                .ok()
                .and_then(|p| p.file_name().map(|t| t.to_string_lossy().into_owned()))
            {
                // L2TPD_HOSTILE_FLOOD_NICE=0 lets the flooder compete with the daemon.
                let nice =
                    std::env::var("L2TPD_HOSTILE_FLOOD_NICE").unwrap_or_else(|_| "19".into());
                let _ = Command::new("renice")
                    .args(["-n", &nice, "-p", &tid])
                    .stdout(Stdio::null())
                    .status();
            }
            // Paced (L2TPD_HOSTILE_FLOOD_RATE SCCRQs a second, default 10,000; 0 for full
            // speed): far above what the half-open table holds (4,096: it turns over 2-3
            // times a second, which is what this test is about), below what a debug build
            // on 2 busy cores can read, which is packet-rate exhaustion, not admission.
            let rate: u64 = std::env::var("L2TPD_HOSTILE_FLOOD_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000);
            let mut d = template;
            let t0 = Instant::now();
            let mut n = 0u64;
            let mut id = 0u16;
            while !flood_stop.load(Ordering::Relaxed)
                && n < FLOOD_MAX_PACKETS
                && t0.elapsed() < FLOOD_MAX
            {
                id = id % 65_000 + 1;
                d[id_at..id_at + 2].copy_from_slice(&id.to_be_bytes());
                for s in &socks {
                    let _ = s.send_to(&d, server);
                }
                n += socks.len() as u64;
                if rate > 0 {
                    let due = Duration::from_secs_f64(n as f64 / rate as f64);
                    if let Some(ahead) = due.checked_sub(t0.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
            (n, t0.elapsed(), flood_stop.load(Ordering::Relaxed))
        });
        // Let the flood fill the table, then watch it.
        std::thread::sleep(Duration::from_secs(2));
        let full = stats_until(h, |s| s.half_open_evicted > before.half_open_evicted);
        let mut peak_half_open = full.half_open_tunnels;
        let rss_full = rss_kb(h.lns.child.id());
        // A real peer's handshake, timed (scripted, from 127.0.0.251).
        let hs = handshake_under_flood(h.server, 251, Instant::now() + Duration::from_secs(15));
        peak_half_open = peak_half_open.max(h.stats().half_open_tunnels);
        // A real client: tunnel, session, PPP (l2tpd loadgen from 127.0.0.1).
        // 25 s: within what a real client's retransmissions cover (RFC 2661's defaults give
        // up after about 30 s); on a loaded 2-core machine the flood's drops cost it
        // several retransmission rounds.
        let mut lg = spawn_loadgen(&h.dir, "loadgen-new", h.server, (1, 1), 0, 25);
        let lg_deadline = Instant::now() + Duration::from_secs(28);
        while lg.alive() && Instant::now() < lg_deadline {
            std::thread::sleep(Duration::from_millis(100));
            peak_half_open = peak_half_open.max(h.stats().half_open_tunnels);
        }
        let during = h.stats();
        stop.store(true, Ordering::Relaxed);
        let (sent, spent, stopped_by_us) = flooder.join().expect("flooder");
        let drops = match (drops_before, udp_rcvbuf_errors()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let log = std::fs::read_to_string(&lg.log).unwrap_or_default();
        let report: Option<serde_json::Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .next_back();
        eprintln!(
            "hostile: many-source SCCRQ flood: {sent} SCCRQs from 249 addresses in {:.1} s \
             ({:.0}/s, kernel dropped {drops:?}); half-open peak {peak_half_open} (table \
             {CAP}), evicted {}, restored {}, silenced {}, tunnels_refused +{}; scripted handshake from \
             127.0.0.251: {hs:?}; loadgen tunnel+session: {report:?}; LNS RSS {rss_before:?} \
             -> {rss_full:?} kB with the table full",
            spent.as_secs_f64(),
            sent as f64 / spent.as_secs_f64().max(1e-6),
            during.half_open_evicted - before.half_open_evicted,
            during.half_open_restored - before.half_open_restored,
            during.half_open_silenced - before.half_open_silenced,
            during.tunnels_refused - before.tunnels_refused,
        );
        assert!(
            stopped_by_us,
            "the flood ended (time or count bound) before the real peers were done: the test \
             did not measure them under the flood"
        );
        assert!(
            during.half_open_evicted > before.half_open_evicted,
            "the flood never filled the half-open table: nothing evicted"
        );
        assert!(
            peak_half_open <= CAP,
            "half-open {peak_half_open} > table {CAP}"
        );
        let (took, attempts) = hs.unwrap_or_else(|| {
            panic!(
                "a real peer could not open a tunnel during the flood\nLNS:\n{}",
                h.lns.log_tail()
            )
        });
        eprintln!(
            "hostile: real peer's handshake under the flood: {:.0} ms, {attempts} attempt(s)",
            took.as_secs_f64() * 1e3
        );
        let established = report
            .as_ref()
            .and_then(|r| r.get("established"))
            .and_then(|v| v.as_u64());
        assert_eq!(
            established,
            Some(1),
            "the loadgen's tunnel and session did not come up during the flood: {report:?}\n{}",
            lg.log_tail()
        );
        (sent, None)
    });
}
