//! Simulation: a LAC that works on a one-second timer (it reads what arrived and sends what
//! its window allows only once a second, as some LACs do) places 1,000 calls at once on an
//! LNS with the default configuration. Every call must come up: a call whose answer waits in
//! a queue (the LAC's, or ours behind the LAC's window) is busy, not abandoned, and must not
//! be cleared by the LNS's connect timeout.
//!
//! `cargo test -p l2tp-proto --test sim_timer_lac -- --nocapture` prints how long the calls
//! take with receive windows of 4, 16 and 64 (virtual time).

mod control_support;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use control_support::*;
use l2tp_proto::control::{CallParams, EndpointConfig, Event, SessionDownReason, TunnelOptions};

const CALLS: usize = 1000;
/// The LAC's timer.
const TICK: Duration = Duration::from_secs(1);
/// One-way delay of the network.
const DELAY: Duration = Duration::from_millis(1);
/// How long the LAC's tick takes before its datagrams leave, varying from tick to tick
/// (0–19 ms, a fixed pseudo-random sequence): its acknowledgements come around a second after
/// what they acknowledge, sometimes a little more.
fn lac_work(tick: u64) -> Duration {
    Duration::from_millis(tick.wrapping_mul(7919) % 20)
}

#[derive(Debug, Default)]
struct Outcome {
    lns_up: usize,
    lns_down: Vec<SessionDownReason>,
    lac_up: usize,
    all_up_after: Option<Duration>,
    /// Control messages the LNS sent, and how many of those were retransmissions.
    lns_sent: u64,
    lns_retransmits: u64,
}

/// Queues a datagram by arrival time (after those arriving at the same time).
fn put(wire: &mut VecDeque<(Instant, bool, Vec<u8>)>, at: Instant, to_lns: bool, d: Vec<u8>) {
    let i = wire.partition_point(|(t, _, _)| *t <= at);
    wire.insert(i, (at, to_lns, d));
}

/// Runs the scenario with the LNS advertising `window` (None: the default configuration).
fn run(window: Option<u16>) -> Outcome {
    let t0 = Instant::now();
    let mut lns_cfg = EndpointConfig {
        host_name: "lns".into(),
        // Like the daemon: the LNS decides on every call (and accepts it at once).
        decide_incoming_calls: true,
        ..EndpointConfig::default()
    };
    if let Some(w) = window {
        lns_cfg.receive_window = w;
    }
    let lac_cfg = EndpointConfig {
        host_name: "timer-lac".into(),
        receive_window: 16,
        ..EndpointConfig::default()
    };
    let mut lac = Peer::new(lac_addr(), lac_cfg, 1);
    let mut lns = Peer::new(lns_addr(), lns_cfg, 2);
    // Datagrams in flight: (arrival, to the LNS?, payload).
    let mut wire: VecDeque<(Instant, bool, Vec<u8>)> = VecDeque::new();
    // What reached the LAC since its last tick.
    let mut lac_inbox: Vec<Vec<u8>> = Vec::new();
    let tunnel = lac
        .ep
        .open_tunnel(t0, lac_addr(), lns_addr(), TunnelOptions::default())
        .unwrap();
    let mut out = Outcome::default();
    let mut next_tick = t0;
    let mut now = t0;
    let mut calls_placed = false;
    let mut ticks = 0u64;
    for _ in 0..10_000_000 {
        if now.duration_since(t0) > Duration::from_secs(3600) || out.all_up_after.is_some() {
            break;
        }
        // The LAC's tick: read everything, fire timers, send what the window allows.
        if now >= next_tick {
            for d in lac_inbox.drain(..) {
                lac.ep.handle_datagram(now, lac_addr(), lns_addr(), &d);
            }
            lac.ep.handle_timeout(now);
            while let Some(ev) = lac.ep.poll_event() {
                match ev {
                    Event::TunnelUp { .. } if !calls_placed => {
                        calls_placed = true;
                        for _ in 0..CALLS {
                            lac.ep
                                .place_incoming_call(now, tunnel, CallParams::default())
                                .unwrap();
                        }
                    }
                    Event::SessionUp { .. } => out.lac_up += 1,
                    _ => {}
                }
            }
            let leave = now + lac_work(ticks);
            ticks += 1;
            while let Some(t) = lac.ep.poll_transmit() {
                put(&mut wire, leave + DELAY, true, t.payload);
            }
            next_tick += TICK;
        }
        // The LNS answers as soon as anything arrives, and on its own timers.
        while wire.front().is_some_and(|(at, _, _)| *at <= now) {
            let (_, to_lns, d) = wire.pop_front().unwrap();
            if to_lns {
                lns.ep.handle_datagram(now, lns_addr(), lac_addr(), &d);
            } else {
                lac_inbox.push(d);
            }
        }
        if lns.ep.poll_timeout().is_some_and(|t| t <= now) {
            lns.ep.handle_timeout(now);
        }
        while let Some(ev) = lns.ep.poll_event() {
            match ev {
                Event::IncomingCall {
                    tunnel, session, ..
                } => lns.ep.accept_call(now, tunnel, session).unwrap(),
                Event::SessionUp { .. } => {
                    out.lns_up += 1;
                    if out.lns_up == CALLS {
                        out.all_up_after = Some(now.duration_since(t0));
                    }
                }
                Event::SessionDown { reason, .. } => out.lns_down.push(reason),
                _ => {}
            }
        }
        while let Some(t) = lns.ep.poll_transmit() {
            put(&mut wire, now + DELAY, false, t.payload);
        }
        // Next event: a tick, an arrival or an LNS timer.
        now = [
            Some(next_tick),
            wire.front().map(|w| w.0),
            lns.ep.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap()
        .max(now);
    }
    let c = lns
        .ep
        .tunnels()
        .next()
        .map(|t| t.counters)
        .unwrap_or_default();
    out.lns_sent = c.tx_messages;
    out.lns_retransmits = c.tx_retransmits;
    out
}

#[test]
fn a_lac_on_a_one_second_timer_brings_1000_calls_up_on_the_defaults() {
    let o = run(None);
    assert!(
        o.lns_down.is_empty(),
        "{} calls cleared by the LNS, first: {:?}",
        o.lns_down.len(),
        o.lns_down.first()
    );
    assert_eq!(o.lns_up, CALLS, "calls up at the LNS");
    assert_eq!(o.lac_up, CALLS, "calls up at the LAC");
    // The LAC acknowledges a little over a second after each message: the LNS learns that
    // round trip and does not retransmit what is about to be acknowledged (each spurious
    // timeout would also close its congestion window to one message).
    assert!(
        o.lns_retransmits * 100 < o.lns_sent,
        "{} retransmissions for {} messages",
        o.lns_retransmits,
        o.lns_sent
    );
    println!(
        "default window: {CALLS} calls up after {:?} (virtual time), LNS sent {} messages, {} retransmissions",
        o.all_up_after.unwrap(),
        o.lns_sent,
        o.lns_retransmits
    );
}

#[test]
fn receive_windows_of_4_16_and_64_all_bring_the_calls_up() {
    for w in [4u16, 16, 64] {
        let o = run(Some(w));
        assert!(
            o.lns_down.is_empty(),
            "window {w}: {:?}",
            o.lns_down.first()
        );
        assert_eq!(o.lns_up, CALLS, "window {w}");
        println!(
            "receive_window {w:>2}: {CALLS} calls up after {:?} (virtual time), {} retransmissions",
            o.all_up_after.unwrap(),
            o.lns_retransmits
        );
    }
}

/// A peer that acknowledges our ICRP but never sends its ICCN (nor anything else about
/// calls) is still cleared: CDN result 10 once `connect_timeout` has passed since the ICRP.
#[test]
fn a_call_whose_peer_goes_silent_is_cleared_after_the_connect_timeout() {
    let t0 = Instant::now();
    let cfg = EndpointConfig {
        hello_interval: None,
        ack_delay: Duration::ZERO,
        ..EndpointConfig::default()
    };
    let timeout = cfg.connect_timeout.expect("a connect timeout by default");
    let mut lns = Peer::new(lns_addr(), cfg, 3);
    let mut raw = Raw::new(lac_addr());
    raw_tunnel(t0, &mut raw, &mut lns, 7);
    let icrq = l2tp_wire::Icrq {
        assigned_session_id: l2tp_wire::SessionId(61),
        call_serial_number: 1,
        bearer_type: None,
        physical_channel_id: None,
        calling_number: None,
        called_number: None,
        sub_address: None,
        unknown: vec![],
    };
    raw.send(t0, &mut lns, l2tp_wire::SessionId(0), icrq);
    assert_eq!(raw.recv(t0, &mut lns), vec!["ICRP"]);
    // Just before the timeout: still waiting.
    let almost = t0 + timeout - Duration::from_millis(1);
    raw.recv(almost, &mut lns);
    assert!(!lns
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::SessionDown { .. })));
    let after = t0 + timeout;
    assert_eq!(raw.recv(after, &mut lns), vec!["CDN"]);
    match raw.last() {
        Some(l2tp_wire::ControlMessage::Cdn(m)) => {
            assert_eq!(m.result_code.result, l2tp_wire::ResultCode::CDN_TIMEOUT);
        }
        other => panic!("expected CDN, got {other:?}"),
    }
    assert!(lns.take_events().iter().any(|e| matches!(
        e,
        Event::SessionDown {
            reason: SessionDownReason::SetupTimeout,
            ..
        }
    )));
}
