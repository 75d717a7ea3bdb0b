//! A LAC that works on a one-second timer, over real UDP, against any LNS: it reads what
//! arrived and sends what its window allows only once a second (as some LACs do), places
//! CALLS calls at once, and reports how long they took to come up and how many the LNS
//! cleared. Measures how an LNS's receive window and call timers cope with such a peer.
//!
//! `cargo run --release -p l2tp-proto --example timer_lac -- 127.0.0.1:1701 1000`

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use l2tp_proto::control::{CallParams, Endpoint, EndpointConfig, Event, TunnelOptions};
use rand::SeedableRng;

fn main() {
    let mut args = std::env::args().skip(1);
    let lns: SocketAddr = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: timer_lac LNS_ADDR:PORT [CALLS] [LIMIT_SECONDS]");
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let limit = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(900));
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let me = sock.local_addr().expect("local address");
    let mut lac = Endpoint::new(
        EndpointConfig {
            host_name: "timer-lac".into(),
            receive_window: 16,
            ..EndpointConfig::default()
        },
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    );
    let t0 = Instant::now();
    let tid = lac
        .open_tunnel(t0, me, lns, TunnelOptions::default())
        .expect("open tunnel");
    // Calls up, calls cleared before they came up (a call the LNS clears later, when PPP that
    // this LAC never speaks gives up, does not count).
    let (mut up, mut cleared, mut placed) = (0usize, 0usize, false);
    let mut is_up = std::collections::HashSet::new();
    let mut inbox: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut next_tick = t0;
    let mut buf = vec![0u8; 65536];
    while up + cleared < calls && t0.elapsed() < limit {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            inbox.push((from, buf[..n].to_vec()));
        }
        let now = Instant::now();
        if now < next_tick {
            continue;
        }
        next_tick += Duration::from_secs(1);
        for (from, d) in inbox.drain(..) {
            lac.handle_datagram(now, me, from, &d);
        }
        lac.handle_timeout(now);
        while let Some(ev) = lac.poll_event() {
            match ev {
                Event::TunnelUp { .. } if !placed => {
                    placed = true;
                    for _ in 0..calls {
                        lac.place_incoming_call(now, tid, CallParams::default())
                            .expect("place call");
                    }
                }
                Event::SessionUp { session, .. } => {
                    up += 1;
                    is_up.insert(session);
                }
                Event::SessionDown { session, .. } if !is_up.contains(&session) => cleared += 1,
                Event::TunnelDown { reason, .. } => {
                    println!("tunnel down: {reason:?}");
                    return;
                }
                _ => {}
            }
        }
        while let Some(t) = lac.poll_transmit() {
            let _ = sock.send_to(&t.payload, t.to);
        }
    }
    println!(
        "timer LAC: {calls} calls, {up} up, {cleared} cleared by the LNS before coming up, after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
