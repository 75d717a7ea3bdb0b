//! A LAC/client on the kernel datapath: the project's control plane
//! (`l2tp_proto::control::Endpoint`) and PPP (`ppp::Link`) with the session's data in the
//! kernel (PPPoL2TP sockets, a PPP channel and a `pppN` unit). It is the kernel backend minus
//! the daemon; the guest test runs it against xl2tpd + pppd (an LNS) in the same guest.
//!
//! ```text
//! kernel_lac LNS_ADDR:PORT USER PASSWORD     # exit 0 once a ping through pppN was answered
//! ```
//!
//! Steps: SCCRQ … SCCCN over a connected UDP socket; on TunnelUp the tunnel management socket;
//! ICRQ … ICCN; on SessionUp a `KernelSession` (the session socket and its PPP channel, whose
//! fd carries LCP, authentication and IPCP to and from `ppp::Link`); on NetworkUp its `pppN`
//! unit, connected to the channel, addressed and brought up with `ip`, and `ping` to the LNS's address through it;
//! then the session's kernel counters, and a clean close (CDN, StopCCN).
//! Prints `ok: ...` per step, `FAIL: ...` and exit 1 on the first failure. Bounded: 60 s.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use l2tp_io::kernel_session::KernelSession;
use l2tp_io::pppol2tp::{SessionIds, TunnelSocket};
use l2tp_proto::control::{CallParams, Endpoint, EndpointConfig, Event, TunnelOptions};
use l2tp_proto::data::SessionOptions;
use l2tp_wire::ResultCode;
use ppp::{Link, LinkConfig};
use rand::SeedableRng;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: kernel_lac LNS_ADDR:PORT USER PASSWORD");
        return ExitCode::from(64);
    }
    match run(&args[1], &args[2], &args[3]) {
        Ok(()) => {
            println!("ok: all steps passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL: {e}");
            ExitCode::from(1)
        }
    }
}

fn e2s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The kernel side: the session (dropped first) and its tunnel.
struct Kernel {
    session: Option<KernelSession>,
    tunnel: Option<TunnelSocket>,
}

fn run(lns: &str, user: &str, password: &str) -> Result<(), String> {
    let lns: SocketAddr = lns.parse().map_err(e2s)?;
    let local_bind = if lns.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let udp = UdpSocket::bind(local_bind).map_err(e2s)?;
    udp.connect(lns).map_err(e2s)?;
    udp.set_nonblocking(true).map_err(e2s)?;
    let local = udp.local_addr().map_err(e2s)?;

    let rng = rand::rngs::StdRng::from_entropy();
    let mut ep = Endpoint::new(EndpointConfig::default(), Box::new(rng));
    let mut link = Link::new(
        LinkConfig::client(user, password),
        rand::rngs::StdRng::from_entropy(),
    );
    let mut k = Kernel {
        session: None,
        tunnel: None,
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let tid = ep
        .open_tunnel(start, local, lns, TunnelOptions::default())
        .map_err(e2s)?;
    let mut ids: Option<SessionIds> = None;
    let mut pinged = false;
    let mut closing_since: Option<Instant> = None;
    let mut buf = vec![0u8; 4096];

    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err("not done within 60 s".into());
        }
        // control plane in
        loop {
            match udp.recv(&mut buf) {
                Ok(n) => ep.handle_datagram(now, local, lns, &buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("recv on the tunnel socket: {e}")),
            }
        }
        // PPP frames in: from the channel, and from the unit once attached
        if let Some(ks) = &k.session {
            while let Some(n) = ks
                .recv_frame(&mut buf)
                .map_err(|e| format!("recv on the session's PPP fds: {e}"))?
            {
                link.handle_frame(now, &buf[..n]);
            }
        }
        if ep.poll_timeout().is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
        if link.poll_timeout().is_some_and(|t| t <= now) {
            link.handle_timeout(now);
        }
        while let Some(ev) = ep.poll_event() {
            match ev {
                Event::TunnelUp {
                    tunnel,
                    peer_tunnel,
                    peer,
                    ..
                } => {
                    println!("ok: tunnel up: ours {tunnel}, peer's {peer_tunnel}, peer {peer}");
                    k.tunnel = Some(TunnelSocket::connect(&udp, tunnel).map_err(e2s)?);
                    ep.place_incoming_call(now, tunnel, CallParams::default())
                        .map_err(e2s)?;
                }
                Event::SessionUp {
                    tunnel,
                    session,
                    peer_tunnel,
                    peer_session,
                    ..
                } => {
                    let s_ids = SessionIds {
                        tunnel,
                        session,
                        peer_tunnel,
                        peer_session,
                    };
                    let t = k.tunnel.as_ref().ok_or("session before tunnel socket")?;
                    let ks = KernelSession::open(t, &udp, s_ids, &SessionOptions::default())
                        .map_err(e2s)?;
                    println!(
                        "ok: session up: {tunnel}/{session} -> {peer_tunnel}/{peer_session}, PPP channel {}",
                        ks.channel().index()
                    );
                    k.session = Some(ks);
                    ids = Some(s_ids);
                    link.open(now);
                }
                Event::SessionDown { .. } | Event::TunnelDown { .. } if closing_since.is_none() => {
                    return Err(format!("the LNS closed: {ev:?}"));
                }
                _ => {}
            }
        }
        while let Some(ev) = link.poll_event() {
            match ev {
                ppp::Event::LinkUp => println!("ok: LCP opened"),
                ppp::Event::Authenticated { .. } => println!("ok: authenticated"),
                ppp::Event::NetworkUp { ipv4 } => {
                    println!("ok: IPCP opened: local {} peer {}", ipv4.local, ipv4.peer);
                    let ks = k.session.as_mut().ok_or("no session")?;
                    let dev = ks.attach_unit(None, 1400).map_err(e2s)?.ifname();
                    sh(&format!(
                        "ip addr add {} peer {}/32 dev {dev} && ip link set {dev} up",
                        ipv4.local, ipv4.peer
                    ))?;
                    // ping in the background: this loop keeps answering LCP meanwhile
                    let peer = ipv4.peer;
                    std::thread::spawn(move || {
                        let r = sh(&format!("ping -c 3 -W 2 -I {dev} {peer}"));
                        println!("ping: {r:?}");
                        std::fs::write(
                            "/tmp/kernel_lac.ping",
                            if r.is_ok() { "ok" } else { "fail" },
                        )
                        .ok();
                    });
                }
                ppp::Event::Down { .. } if closing_since.is_none() => {
                    return Err(format!("PPP went down: {ev:?}"));
                }
                _ => {}
            }
        }
        // PPP frames out: the kernel adds FF 03 itself
        while let Some(frame) = link.poll_transmit() {
            if let Some(ks) = &k.session {
                ks.send_frame(&frame)
                    .map_err(|e| format!("send on the PPP channel: {e}"))?;
            }
        }
        while let Some(t) = ep.poll_transmit() {
            udp.send(&t.payload)
                .map_err(|e| format!("send SCC/ICx: {e}"))?;
        }

        // ping done?
        if !pinged {
            if let Ok(r) = std::fs::read_to_string("/tmp/kernel_lac.ping") {
                let _ = std::fs::remove_file("/tmp/kernel_lac.ping");
                if r != "ok" {
                    return Err("no ping reply through the kernel session".into());
                }
                pinged = true;
                let s = k.session.as_ref().ok_or("no session")?;
                let st = s.stats().map_err(e2s)?;
                println!(
                    "ok: ping answered through {}; session counters {st:?}",
                    s.unit().map(|u| u.ifname()).unwrap_or_default()
                );
                if st.tx_packets < 3 || st.rx_packets < 3 {
                    return Err(format!("kernel counters do not show the pings: {st:?}"));
                }
                link.close(now, "test done");
                closing_since = Some(now);
            }
        }
        if let Some(since) = closing_since {
            // LCP Terminate went out with the loop above; then CDN and StopCCN
            if now.duration_since(since) > Duration::from_millis(500) && k.session.is_some() {
                if let Some(i) = ids {
                    let _ = ep.close_session(
                        now,
                        i.tunnel,
                        i.session,
                        ResultCode::with_error(ResultCode::CDN_ADMINISTRATIVE, 0, None),
                    );
                }
                k.session = None;
                let _ = ep.close_tunnel(
                    now,
                    tid,
                    ResultCode::with_error(ResultCode::STOPCCN_GENERAL_REQUEST, 0, None),
                );
            }
            if k.session.is_none() && now.duration_since(since) > Duration::from_millis(1500) {
                k.tunnel = None;
                println!("ok: closed");
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sh(cmd: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
