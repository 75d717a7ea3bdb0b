//! Two kernel L2TP tunnels pointing at each other on loopback, driven through `l2tp_io`'s
//! PPPoL2TP API: the check the guest test (`tests/kernel_guest.rs`) runs in a kernel that has
//! `l2tp_ppp` and `ppp_generic`.
//!
//! ```text
//! pppol2tp_pair probe     # "probe: ok" (exit 0) or "probe: <what is missing>" (exit 2)
//! pppol2tp_pair pair      # the datapath checks below, over 127.0.0.1 and then ::1 (exit 0 = all passed)
//! ```
//!
//! `pair`, for each address family: two UDP sockets connected to each other, a tunnel
//! management socket on each, a session in each, PPP channels (`/dev/ppp` + PPPIOCATTCHAN)
//! and units (`pppN`); then
//! - LCP-like frames written on one channel are read, byte for byte, from the other (both ways);
//! - the sequencing options set live (LNSMODE, SENDSEQ, RECVSEQ, REORDERTO on one side) read
//!   back with getsockopt and appear in `/proc/net/pppol2tp` and `ip l2tp show session`; the
//!   kernel then drops the other side's unsequenced frame (`rx_seq_discards`) and switches the
//!   LAC side to sending sequence numbers itself when the LNS side sends them;
//! - PPPIOCGL2TPSTATS gives the number of frames sent and received, and the same figures as
//!   `/proc/net/pppol2tp`, per session and per tunnel;
//! - closing everything leaves no kernel tunnel, session or `pppN`.
//!
//! `wrap`: one kernel session with RECVSEQ and REORDERTO, fed hand-made L2TP data packets
//! with chosen Ns from a plain UDP socket: packets reordered away from the wrap are put back in
//! order at once; packets reordered across 65535 → 0 stall until REORDERTO expires and are
//! dropped (the kernel queues by plain `>`; the userspace datapath's serial order does not).
//!
//! Each passed check prints `ok: ...`; the first failure prints `FAIL: ...` and exits 1.
//! Needs root in a kernel with the modules loaded.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use l2tp_io::ppp_unit::{PppChannel, PppUnit};
use l2tp_io::pppol2tp::{self, DebugMask, L2tpStats, SessionIds, SessionSocket, TunnelSocket};
use l2tp_proto::data::SessionOption;
use l2tp_wire::{SessionId, TunnelId};

type Check = Result<(), String>;

/// The REORDERTO set on A. The kernel keeps it in jiffies, so it reads back rounded up to a
/// clock tick (HZ=250 on Debian: 4 ms).
const REORDER_MS: u32 = 200;

fn near_reorder(ms: u32) -> bool {
    (REORDER_MS..=REORDER_MS + 10).contains(&ms)
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn main() -> ExitCode {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    match cmd.as_str() {
        "probe" => match pppol2tp::probe() {
            Ok(()) => {
                println!("probe: ok");
                ExitCode::SUCCESS
            }
            Err(m) => {
                println!("probe: {m}");
                ExitCode::from(2)
            }
        },
        "wrap" => match wrap() {
            Ok(()) => {
                println!("ok: wrap checks passed");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("FAIL: {e}");
                ExitCode::from(1)
            }
        },
        "pair" => {
            let mut result = Ok(());
            for (family, local) in [("ipv4", "127.0.0.1:0"), ("ipv6", "[::1]:0")] {
                result = pair(family, local);
                if result.is_err() {
                    break;
                }
            }
            match result {
                Ok(()) => {
                    println!("ok: all checks passed");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("FAIL: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!("usage: pppol2tp_pair probe|pair|wrap");
            ExitCode::from(64)
        }
    }
}

/// One side: its UDP socket, tunnel, session, channel and unit.
struct Side {
    name: &'static str,
    udp: UdpSocket,
    tunnel: TunnelSocket,
    session: SessionSocket,
    channel: PppChannel,
    unit: PppUnit,
}

fn e2s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn open_side(
    name: &'static str,
    udp: UdpSocket,
    ids: SessionIds,
    mru: u16,
) -> Result<Side, String> {
    let tunnel = TunnelSocket::connect(&udp, ids.tunnel).map_err(e2s)?;
    let session = SessionSocket::connect(&tunnel, &udp, ids).map_err(e2s)?;
    let channel = PppChannel::attach(session.channel_index().map_err(e2s)?).map_err(e2s)?;
    let unit = PppUnit::new(None).map_err(e2s)?;
    channel.connect(&unit).map_err(e2s)?;
    unit.set_mru(mru).map_err(e2s)?;
    channel.set_nonblocking(true).map_err(e2s)?;
    Ok(Side {
        name,
        udp,
        tunnel,
        session,
        channel,
        unit,
    })
}

/// Reads one frame from `ch`, waiting at most `limit`.
fn recv_within(ch: &PppChannel, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 2048];
    loop {
        match ch.recv(&mut buf) {
            Ok(n) => return Some(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                println!("recv error on channel {}: {e}", ch.index());
                return None;
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An LCP Echo-Request-shaped frame (protocol 0xC021), distinct per `n`.
fn lcp_frame(n: u8) -> Vec<u8> {
    let mut f = vec![0xc0, 0x21, 0x09, n, 0x00, 0x0c];
    f.extend_from_slice(&[0x4c, 0x32, 0x54, 0x50]); // magic
    f.extend_from_slice(&[n, !n]);
    f
}

/// Sends `count` frames from `a` to `b` and checks each arrives unchanged.
fn exchange(a: &Side, b: &Side, first: u8, count: u8) -> Check {
    for n in first..first + count {
        let f = lcp_frame(n);
        let sent = a.channel.send(&f).map_err(e2s)?;
        ensure!(sent == f.len(), "{}: short write {sent}", a.name);
        let got = recv_within(&b.channel, Duration::from_secs(3));
        ensure!(
            got.as_deref() == Some(&f[..]),
            "{} -> {}: frame {n} sent {:02x?}, received {:02x?}",
            a.name,
            b.name,
            f,
            got
        );
    }
    Ok(())
}

fn pair(family: &str, local: &str) -> Check {
    println!("== {family}");
    let ua = UdpSocket::bind(local).map_err(e2s)?;
    let ub = UdpSocket::bind(local).map_err(e2s)?;
    let (aa, ab): (SocketAddr, SocketAddr) =
        (ua.local_addr().map_err(e2s)?, ub.local_addr().map_err(e2s)?);
    ua.connect(ab).map_err(e2s)?;
    ub.connect(aa).map_err(e2s)?;
    let base: u16 = if family == "ipv4" { 100 } else { 300 };
    let ids_a = SessionIds {
        tunnel: TunnelId(base + 1),
        session: SessionId(base + 11),
        peer_tunnel: TunnelId(base + 2),
        peer_session: SessionId(base + 22),
    };
    let ids_b = SessionIds {
        tunnel: ids_a.peer_tunnel,
        session: ids_a.peer_session,
        peer_tunnel: ids_a.tunnel,
        peer_session: ids_a.session,
    };

    // The API refuses what the kernel would misread, before any syscall.
    let err = TunnelSocket::connect(&ua, TunnelId(0)).unwrap_err();
    ensure!(err.to_string().contains("reserved"), "tunnel id 0: {err}");
    let stray = UdpSocket::bind(local).map_err(e2s)?;
    let err = TunnelSocket::connect(&stray, TunnelId(base + 9)).unwrap_err();
    ensure!(
        err.to_string().contains("must be connected"),
        "unconnected UDP socket: {err}"
    );
    println!("ok: {family}: refused id 0 and an unconnected UDP socket ({err})");

    let a = open_side("A", ua, ids_a, 1400)?;
    let b = open_side("B", ub, ids_b, 1400)?;
    println!(
        "ok: {family}: tunnels {}/{} sessions {}/{} channels {}/{} units {}/{}",
        a.tunnel.tunnel_id(),
        b.tunnel.tunnel_id(),
        ids_a.session,
        ids_b.session,
        a.channel.index(),
        b.channel.index(),
        a.unit.ifname(),
        b.unit.ifname()
    );
    ensure!(
        a.tunnel.peer() == ab,
        "tunnel A's peer {} != {ab}",
        a.tunnel.peer()
    );
    for side in [&a, &b] {
        let dev = format!("/sys/class/net/{}", side.unit.ifname());
        ensure!(Path::new(&dev).exists(), "{dev} missing");
    }

    // A second session socket with the same ids is refused, with what failed in the message.
    let dup = SessionSocket::connect(&a.tunnel, &a.udp, ids_a);
    ensure!(
        dup.is_err(),
        "a second session {} was accepted",
        ids_a.session
    );
    println!(
        "ok: {family}: duplicate session refused: {}",
        dup.unwrap_err()
    );

    // The management socket takes DEBUG only. Kernels since 5.13 accept the option and
    // ignore it (the debug flags were removed; getsockopt gives 0); older ones keep it.
    a.tunnel.set_debug(DebugMask::SEQ).map_err(e2s)?;
    let dbg = a.tunnel.debug().map_err(e2s)?;
    ensure!(
        dbg == DebugMask::SEQ || dbg == DebugMask::NONE,
        "tunnel debug read back {dbg:?}"
    );
    println!("ok: {family}: tunnel DEBUG accepted, reads back {}", dbg.0);

    // Frames both ways, no sequencing yet.
    exchange(&a, &b, 1, 3)?;
    exchange(&b, &a, 11, 2)?;
    println!("ok: {family}: 3 frames A->B and 2 frames B->A arrived unchanged");

    // Sequencing set live on A (the LNS side); B stays a LAC that does not send Ns.
    for opt in [
        SessionOption::LnsMode(true),
        SessionOption::SendSeq(true),
        SessionOption::RecvSeq(true),
        SessionOption::reorder_timeout_ms(REORDER_MS),
        SessionOption::Debug(DebugMask::DATA),
    ] {
        a.session.set_option(opt).map_err(e2s)?;
    }
    let oa = a.session.options().map_err(e2s)?;
    ensure!(
        oa.lns_mode
            && oa.send_seq
            && oa.recv_seq
            && near_reorder(oa.reorder_timeout.as_millis() as u32)
            && (oa.debug == DebugMask::DATA || oa.debug == DebugMask::NONE),
        "A's options read back {oa:?}"
    );
    let ob = b.session.options().map_err(e2s)?;
    ensure!(!ob.send_seq && !ob.lns_mode, "B's options {ob:?}");
    println!("ok: {family}: A's options read back: {oa:?}");

    let proc = read_proc()?;
    let sa = proc
        .session(ids_a)
        .ok_or_else(|| format!("session A not in /proc/net/pppol2tp:\n{}", proc.text))?;
    ensure!(
        sa.recv_seq && sa.send_seq && sa.lns && near_reorder(sa.reorder_ms),
        "/proc/net/pppol2tp shows A as {sa:?}"
    );
    ensure!(
        sa.interface.as_deref() == Some(a.unit.ifname().as_str()),
        "/proc/net/pppol2tp: A bound to {:?}, not {}",
        sa.interface,
        a.unit.ifname()
    );
    println!(
        "ok: {family}: /proc/net/pppol2tp shows A as R/S/LNS, reorder {} ms, on {}",
        sa.reorder_ms,
        a.unit.ifname()
    );
    let show = ip(&[
        "l2tp",
        "show",
        "session",
        "tunnel_id",
        &ids_a.tunnel.0.to_string(),
    ])?;
    println!("{}", show.trim_end());
    ensure!(
        show.contains(&format!(
            "Session {} in tunnel {}",
            ids_a.session, ids_a.tunnel
        )),
        "ip l2tp show session does not list A"
    );
    let shown = show
        .split("reorder timeout: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<u32>().ok());
    ensure!(
        shown.is_some_and(near_reorder),
        "ip l2tp show session shows reorder timeout {shown:?}"
    );
    println!("ok: {family}: ip l2tp show session lists A with reorder timeout {shown:?}");

    // B (LAC, not sequencing) -> A (RECVSEQ): dropped, counted as a sequencing discard.
    let before = a.session.stats().map_err(e2s)?;
    b.channel.send(&lcp_frame(21)).map_err(e2s)?;
    let got = recv_within(&a.channel, Duration::from_millis(500));
    ensure!(got.is_none(), "A accepted an unsequenced frame: {got:02x?}");
    let after = a.session.stats().map_err(e2s)?;
    ensure!(
        after.rx_seq_discards == before.rx_seq_discards + 1
            && after.rx_errors == before.rx_errors + 1,
        "A's counters after the unsequenced frame: {before:?} -> {after:?}"
    );
    println!(
        "ok: {family}: RECVSEQ: B's unsequenced frame dropped, rx_seq_discards {} -> {}",
        before.rx_seq_discards, after.rx_seq_discards
    );

    // A sends with Ns: B receives, and as a LAC starts sending Ns itself (the LNS asked).
    exchange(&a, &b, 31, 2)?;
    let ob = b.session.options().map_err(e2s)?;
    ensure!(
        ob.send_seq,
        "B did not start sending Ns after sequenced frames from the LNS: {ob:?}"
    );
    exchange(&b, &a, 41, 2)?;
    println!("ok: {family}: A's sequenced frames switched B to SENDSEQ; B's sequenced frames accepted by A");

    // Counters: what we sent and received, and the same figures as /proc/net/pppol2tp.
    let (st_a, st_b) = (
        a.session.stats().map_err(e2s)?,
        b.session.stats().map_err(e2s)?,
    );
    // A sent 3 + 2 frames; B sent 2 + 1 (dropped) + 2; A received 2 + 2, B received 3 + 2.
    ensure!(
        st_a.tx_packets == 5 && st_b.tx_packets == 5,
        "tx_packets A {} B {} (5 each sent)",
        st_a.tx_packets,
        st_b.tx_packets
    );
    ensure!(
        st_a.rx_packets == 4 && st_b.rx_packets == 5,
        "rx_packets A {} (4 delivered) B {} (5 delivered)",
        st_a.rx_packets,
        st_b.rx_packets
    );
    let proc = read_proc()?;
    for (side, ids, st) in [(&a, ids_a, st_a), (&b, ids_b, st_b)] {
        let ps = proc
            .session(ids)
            .ok_or_else(|| format!("session {} missing from /proc", side.name))?;
        ensure!(
            ps.counters == proc_view(&st),
            "session {}: PPPIOCGL2TPSTATS {st:?} vs /proc/net/pppol2tp {:?}",
            side.name,
            ps.counters
        );
        let ts = side.tunnel.stats().map_err(e2s)?;
        let pt = proc
            .tunnel(ids.tunnel)
            .ok_or_else(|| format!("tunnel {} missing from /proc", ids.tunnel))?;
        ensure!(
            pt.counters == proc_view(&ts),
            "tunnel {}: PPPIOCGL2TPSTATS {ts:?} vs /proc/net/pppol2tp {:?}",
            ids.tunnel,
            pt.counters
        );
        println!(
            "ok: {family}: {} session stats = /proc: {st:?}; tunnel stats = /proc: {ts:?}",
            side.name
        );
    }

    // Close: channels and units first, then sessions, then tunnels, as a daemon would.
    let units = [a.unit.ifname(), b.unit.ifname()];
    drop(a);
    drop(b);
    wait_gone(&units, &[ids_a.tunnel, ids_b.tunnel])?;
    println!("ok: {family}: after close no kernel tunnel, no session, no {units:?}");
    Ok(())
}

/// Polls (bounded) until no tunnel is left and the units are gone.
fn wait_gone(units: &[String], tunnels: &[TunnelId]) -> Check {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let proc = read_proc()?;
        let tunnels_left: Vec<_> = tunnels
            .iter()
            .filter(|t| proc.tunnel(**t).is_some())
            .collect();
        let ip_tunnels = ip(&["l2tp", "show", "tunnel"])?;
        let units_left: Vec<_> = units
            .iter()
            .filter(|u| Path::new(&format!("/sys/class/net/{u}")).exists())
            .collect();
        if tunnels_left.is_empty() && ip_tunnels.trim().is_empty() && units_left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "after close: tunnels in /proc {tunnels_left:?}, `ip l2tp show tunnel` {:?}, units {units_left:?}",
                ip_tunnels
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The six counters `/proc/net/pppol2tp` shows: tx packets/bytes/errors, rx packets/bytes/errors.
type ProcCounters = [u64; 6];

fn proc_view(s: &L2tpStats) -> ProcCounters {
    [
        s.tx_packets,
        s.tx_bytes,
        s.tx_errors,
        s.rx_packets,
        s.rx_bytes,
        s.rx_errors,
    ]
}

#[derive(Debug)]
struct ProcTunnel {
    id: u16,
    counters: ProcCounters,
}

#[derive(Debug)]
struct ProcSession {
    tunnel: u16,
    session: u16,
    peer_tunnel: u16,
    peer_session: u16,
    recv_seq: bool,
    send_seq: bool,
    lns: bool,
    reorder_ms: u32,
    counters: ProcCounters,
    interface: Option<String>,
}

struct Proc {
    text: String,
    tunnels: Vec<ProcTunnel>,
    sessions: Vec<ProcSession>,
}

impl Proc {
    fn session(&self, ids: SessionIds) -> Option<&ProcSession> {
        self.sessions.iter().find(|s| {
            s.tunnel == ids.tunnel.0
                && s.session == ids.session.0
                && s.peer_tunnel == ids.peer_tunnel.0
                && s.peer_session == ids.peer_session.0
        })
    }
    fn tunnel(&self, id: TunnelId) -> Option<&ProcTunnel> {
        self.tunnels.iter().find(|t| t.id == id.0)
    }
}

fn read_proc() -> Result<Proc, String> {
    let text = std::fs::read_to_string("/proc/net/pppol2tp")
        .map_err(|e| format!("/proc/net/pppol2tp: {e}"))?;
    parse_proc(&text).map_err(|e| format!("/proc/net/pppol2tp: {e}:\n{text}"))
}

/// "a/b/c" -> three numbers.
fn triple(s: &str) -> Option<[u64; 3]> {
    let mut it = s.split('/').map(|x| x.parse::<u64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Parses the kernel's format (net/l2tp/l2tp_ppp.c, pppol2tp_seq_show):
/// ```text
/// TUNNEL 'tunl 101', Y 2
///  00000000 5/130/0 4/104/0
///   SESSION 'sess 101/111' 7F000001/40000 0065/006F -> 0066/0078 3 Y
///    0/0/R/S/LNS 00000000 250
///    0/2 5/130/0 4/104/0
///    interface ppp0
/// ```
fn parse_proc(text: &str) -> Result<Proc, String> {
    let mut tunnels = Vec::new();
    let mut sessions: Vec<ProcSession> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let hex = |s: &str| u16::from_str_radix(s, 16).map_err(|e| format!("{s:?}: {e}"));
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        if let Some(rest) = l.strip_prefix("TUNNEL '") {
            let name = rest.split('\'').next().unwrap_or("");
            let id: u16 = name
                .rsplit(' ')
                .next()
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| format!("tunnel name {name:?}"))?;
            let next = lines.get(i + 1).ok_or("TUNNEL line without counters")?;
            let f: Vec<&str> = next.split_whitespace().collect();
            let (tx, rx) = match f.as_slice() {
                [_, tx, rx, ..] => (triple(tx), triple(rx)),
                _ => (None, None),
            };
            let (tx, rx) = tx
                .zip(rx)
                .ok_or_else(|| format!("tunnel counters {next:?}"))?;
            tunnels.push(ProcTunnel {
                id,
                counters: [tx[0], tx[1], tx[2], rx[0], rx[1], rx[2]],
            });
            i += 2;
        } else if l.starts_with("SESSION '") {
            let after = l.rsplit('\'').next().unwrap_or("");
            let f: Vec<&str> = after.split_whitespace().collect();
            // [ip/port, tid/sid, "->", ptid/psid, state, Y|N]
            if f.len() < 4 || f[2] != "->" {
                return Err(format!("session line {l:?}"));
            }
            let (t, s) = f[1].split_once('/').ok_or("session ids")?;
            let (pt, ps) = f[3].split_once('/').ok_or("peer ids")?;
            let opts = lines.get(i + 1).ok_or("SESSION without options")?;
            let o: Vec<&str> = opts.split_whitespace().collect();
            let flags: Vec<&str> = o
                .first()
                .map(|x| x.split('/').collect())
                .unwrap_or_default();
            if flags.len() < 5 || o.len() < 3 {
                return Err(format!("session options {opts:?}"));
            }
            let cnt = lines.get(i + 2).ok_or("SESSION without counters")?;
            let c: Vec<&str> = cnt.split_whitespace().collect();
            let (tx, rx) = match c.as_slice() {
                [_, tx, rx, ..] => (triple(tx), triple(rx)),
                _ => (None, None),
            };
            let (tx, rx) = tx
                .zip(rx)
                .ok_or_else(|| format!("session counters {cnt:?}"))?;
            let interface = lines
                .get(i + 3)
                .and_then(|x| x.trim().strip_prefix("interface "))
                .map(str::to_string);
            sessions.push(ProcSession {
                tunnel: hex(t)?,
                session: hex(s)?,
                peer_tunnel: hex(pt)?,
                peer_session: hex(ps)?,
                recv_seq: flags[2] == "R",
                send_seq: flags[3] == "S",
                lns: flags[4] == "LNS",
                reorder_ms: o[2].parse().map_err(|_| format!("reorder {:?}", o[2]))?,
                counters: [tx[0], tx[1], tx[2], rx[0], rx[1], rx[2]],
                interface,
            });
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(Proc {
        text: text.to_string(),
        tunnels,
        sessions,
    })
}

/// A hand-made L2TPv2 data message with Ns/Nr (S bit) carrying an LCP frame that names `ns`.
fn data_packet(tunnel: u16, session: u16, ns: u16) -> Vec<u8> {
    let mut p = vec![0x08, 0x02];
    p.extend_from_slice(&tunnel.to_be_bytes());
    p.extend_from_slice(&session.to_be_bytes());
    p.extend_from_slice(&ns.to_be_bytes());
    p.extend_from_slice(&0u16.to_be_bytes());
    p.extend_from_slice(&[0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x0a, 0, 0, 0, 0]);
    p.extend_from_slice(&ns.to_be_bytes());
    p
}

/// The Ns a received frame (from [`data_packet`]) names.
fn frame_ns(frame: &[u8]) -> Option<u16> {
    match frame {
        [0xc0, 0x21, .., a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Every frame that arrives on `ch` within `limit`, as the Ns they name.
fn drain_ns(ch: &PppChannel, limit: Duration) -> Vec<u16> {
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    while let Some(f) = recv_within(ch, deadline.saturating_duration_since(Instant::now())) {
        got.extend(frame_ns(&f));
    }
    got
}

fn wrap() -> Check {
    const REORDER: Duration = Duration::from_millis(200);
    let ua = UdpSocket::bind("127.0.0.1:0").map_err(e2s)?;
    let raw = UdpSocket::bind("127.0.0.1:0").map_err(e2s)?;
    ua.connect(raw.local_addr().map_err(e2s)?).map_err(e2s)?;
    raw.connect(ua.local_addr().map_err(e2s)?).map_err(e2s)?;
    let ids = SessionIds {
        tunnel: TunnelId(501),
        session: SessionId(511),
        peer_tunnel: TunnelId(502),
        peer_session: SessionId(522),
    };
    let tunnel = TunnelSocket::connect(&ua, ids.tunnel).map_err(e2s)?;
    let session = SessionSocket::connect(&tunnel, &ua, ids).map_err(e2s)?;
    session
        .set_option(SessionOption::RecvSeq(true))
        .map_err(e2s)?;
    session
        .set_option(SessionOption::ReorderTimeout(REORDER))
        .map_err(e2s)?;
    let ch = PppChannel::attach(session.channel_index().map_err(e2s)?).map_err(e2s)?;
    ch.set_nonblocking(true).map_err(e2s)?;
    let send = |ns: u16| -> Check {
        raw.send(&data_packet(ids.tunnel.0, ids.session.0, ns))
            .map(|_| ())
            .map_err(e2s)
    };
    let quick = REORDER / 2;

    send(0)?;
    let got = drain_ns(&ch, quick);
    ensure!(got == [0], "first packet: got {got:?}");
    // Reordered away from the wrap: 3 before 1 and 2, all delivered in order at once.
    for ns in [3, 1, 2] {
        send(ns)?;
    }
    let got = drain_ns(&ch, quick);
    ensure!(got == [1, 2, 3], "3,1,2 delivered as {got:?}");
    let st = session.stats().map_err(e2s)?;
    println!(
        "ok: wrap: 3,1,2 delivered in order at once as {got:?}; rx_oos_packets {}",
        st.rx_oos_packets
    );

    // Walk the expected Nr up to just below the wrap: a jump is held, expires after REORDERTO,
    // and the next packet resynchronises to itself.
    for jump in [20000u16, 40000, 60000, 65530] {
        send(jump)?;
        std::thread::sleep(REORDER + Duration::from_millis(60));
        send(jump + 1)?;
        let got = drain_ns(&ch, quick);
        ensure!(got == [jump + 1], "after the jump to {jump}: got {got:?}");
    }
    for ns in [65532, 65533] {
        send(ns)?;
    }
    let got = drain_ns(&ch, quick);
    ensure!(got == [65532, 65533], "before the wrap: got {got:?}");
    println!("ok: wrap: expected Nr walked to 65534");

    // Reordered across the wrap: 0 arrives before 65534 and 65535.
    let before = session.stats().map_err(e2s)?;
    for ns in [0, 65534, 65535] {
        send(ns)?;
    }
    let stalled = drain_ns(&ch, quick);
    ensure!(
        stalled.is_empty(),
        "across the wrap the kernel delivered {stalled:?} at once (expected a stall)"
    );
    std::thread::sleep(REORDER + Duration::from_millis(60));
    send(1)?;
    let after_timeout = drain_ns(&ch, quick);
    let after = session.stats().map_err(e2s)?;
    ensure!(
        after.rx_seq_discards > before.rx_seq_discards,
        "no discards after the wrap stall: {before:?} -> {after:?}"
    );
    println!(
        "ok: wrap: 0,65534,65535 stalled for REORDERTO ({} ms); then delivered {after_timeout:?}, rx_seq_discards {} -> {}",
        REORDER.as_millis(),
        before.rx_seq_discards,
        after.rx_seq_discards
    );
    Ok(())
}
