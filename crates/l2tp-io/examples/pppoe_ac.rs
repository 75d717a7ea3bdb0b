//! A PPPoE access concentrator on one interface that learns who the subscriber is, as a LAC
//! does before it picks an LNS: discovery with `pppoe::AccessConcentrator` over
//! `l2tp_io::packet::PppoeSocket`, then per session a server `ppp::Link` (PAP or CHAP-MD5)
//! with a `ppp::proxy::ProxyCapture` tapping LCP and authentication. When the subscriber has
//! presented its credentials the session is ended with a PADT (there is no LNS to relay to
//! here). The guest test runs it against the real pppd and its PPPoE plugin.
//!
//! ```text
//! pppoe_ac IFACE [SECONDS] [SESSIONS] [--max-payload N] [--chap] [--check-password PW]
//! ```
//!
//! Runs at most SECONDS (default 30) and exits after SESSIONS sessions ended (default 1).
//! `--max-payload` above 1492 offers RFC 4638 PPP-Max-Payload (the interface MTU must be 8
//! more); `--chap` asks for CHAP-MD5 instead of PAP; `--check-password` checks the captured
//! CHAP response against that password, as an LNS given the proxy AVPs would.
//!
//! Prints `ok: ...` per step: `ok: listening`, `ok: session up`, `ok: user U realm R proxy
//! type T lcp captured`, `ok: CHAP response verifies`, `ok: PADT sent`, then the counters.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use l2tp_io::packet::PppoeSocket;
use ppp::proxy::{AuthCapture, ProxyCapture};
use ppp::{chap, AuthMethod, Event as PppEvent, Link, LinkConfig};
use pppoe::{AcConfig, AccessConcentrator, Event, MacAddr, Received};
use rand::{RngCore, SeedableRng};

#[derive(Default)]
struct Opts {
    max_payload: Option<u16>,
    chap: bool,
    check_password: Option<String>,
}

struct Sub {
    link: Link,
    cap: ProxyCapture,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(ifname) = args.get(1) else {
        eprintln!(
            "usage: pppoe_ac IFACE [SECONDS] [SESSIONS] [--max-payload N] [--chap] [--check-password PW]"
        );
        return ExitCode::from(64);
    };
    let mut opts = Opts::default();
    let mut positional = Vec::new();
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max-payload" => opts.max_payload = it.next().and_then(|s| s.parse().ok()),
            "--chap" => opts.chap = true,
            "--check-password" => opts.check_password = it.next().cloned(),
            other => positional.push(other.to_string()),
        }
    }
    let secs: u64 = positional
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let want: u64 = positional.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    match run(ifname, Duration::from_secs(secs), want, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("FAIL: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(ifname: &str, limit: Duration, want: u64, opts: &Opts) -> Result<(), String> {
    let sock = PppoeSocket::open(ifname).map_err(|e| format!("open {ifname}: {e}"))?;
    let start = Instant::now();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let mut cfg = AcConfig::new(MacAddr(sock.mac), "l2tp-rs-lac", &secret);
    cfg.services = vec!["internet".into()];
    cfg.max_payload = opts.max_payload;
    let mut ac = AccessConcentrator::new(cfg, start);
    let mut subs: HashMap<u16, Sub> = HashMap::new();
    println!("ok: listening on {ifname} ({})", MacAddr(sock.mac));
    let mut buf = vec![0u8; 2048];
    let mut ended = 0;
    while start.elapsed() < limit && ended < want {
        let now = Instant::now();
        let mut idle = true;
        for s in [&sock.discovery, &sock.session] {
            let n = match s.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("recv: {e}")),
            };
            idle = false;
            if let Received::Session { id, ppp } = ac.handle_frame(now, &buf[..n]) {
                if let Some(sub) = subs.get_mut(&id) {
                    sub.cap.received(ppp);
                    sub.link.handle_frame(now, ppp);
                }
            }
        }
        for sub in subs.values_mut() {
            if sub.link.poll_timeout().is_some_and(|t| t <= now) {
                sub.link.handle_timeout(now);
            }
        }
        // PPP out, and what the links learnt.
        let mut learnt = Vec::new();
        for (id, sub) in subs.iter_mut() {
            while let Some(f) = sub.link.poll_transmit() {
                sub.cap.sent(&f);
                // RFC 2516 §7: over PPPoE the frame starts with the Protocol field.
                let ppp = f.strip_prefix(&[0xff, 0x03]).unwrap_or(&f);
                if let Some(frame) = ac.encapsulate(*id, ppp) {
                    sock.send(&frame).map_err(|e| format!("send: {e}"))?;
                }
            }
            while let Some(e) = sub.link.poll_event() {
                if let PppEvent::AuthRequest { user, .. } = e {
                    learnt.push((*id, user));
                }
            }
        }
        for (id, user) in learnt {
            let sub = &subs[&id];
            let a = sub.cap.auth();
            println!(
                "ok: user {user} realm {} proxy type {} lcp {}",
                a.and_then(|a| a.realm())
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .unwrap_or_default(),
                a.and_then(|a| a.proxy_authen_type())
                    .map_or("none".to_string(), |t| t.to_string()),
                if sub.cap.lcp().is_some() {
                    "captured"
                } else {
                    "missing"
                },
            );
            if let (
                Some(pw),
                Some(AuthCapture::Chap {
                    id,
                    challenge,
                    response,
                    ..
                }),
            ) = (&opts.check_password, a)
            {
                if response[..] != chap::md5_response(*id, pw.as_bytes(), challenge) {
                    return Err("the captured CHAP response does not verify".into());
                }
                println!(
                    "ok: CHAP response verifies (id {id}, {} octet challenge)",
                    challenge.len()
                );
            }
            ac.terminate(id, Some("l2tp-rs example: no LNS to relay to"));
        }
        while let Some(f) = ac.poll_transmit() {
            sock.send(&f).map_err(|e| format!("send: {e}"))?;
        }
        while let Some(e) = ac.poll_event() {
            match e {
                Event::SessionUp(s) => {
                    println!(
                        "ok: session up id {} peer {} service {:?} max mru {}",
                        s.id,
                        s.peer,
                        String::from_utf8_lossy(&s.service),
                        s.max_mru()
                    );
                    let method = if opts.chap {
                        AuthMethod::ChapMd5
                    } else {
                        AuthMethod::Pap
                    };
                    let mut lc =
                        LinkConfig::server(vec![method], [192, 0, 2, 1].into(), [None, None]);
                    lc.mru = s.max_mru();
                    let mut link = Link::new(lc, rand::rngs::StdRng::from_entropy());
                    link.open(now);
                    subs.insert(
                        s.id,
                        Sub {
                            link,
                            cap: ProxyCapture::new(),
                        },
                    );
                }
                Event::SessionDown { id, peer, reason } => {
                    let how = match reason {
                        pppoe::DownReason::Local => "PADT sent",
                        pppoe::DownReason::PeerTerminated => "PADT received",
                    };
                    println!("ok: {how} for session {id} of {peer}");
                    subs.remove(&id);
                    ended += 1;
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let st = ac.stats();
    println!(
        "stats: padi {} pado {} padr {} pads {} padt rx {} tx {} session frames {} dropped {}",
        st.padi_rx,
        st.pado_tx,
        st.padr_rx,
        st.pads_tx,
        st.padt_rx,
        st.padt_tx,
        st.session_rx,
        st.dropped_total()
    );
    if ended < want {
        return Err(format!("{ended} of {want} sessions ended within {limit:?}"));
    }
    Ok(())
}
