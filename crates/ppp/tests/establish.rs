//! Establishment that cannot complete ends, visibly: a peer that acknowledges our LCP
//! Configure-Request but never sends its own (the link would otherwise retransmit every
//! 3 s for ever), and authentication methods that do not overlap (an authenticator asking
//! only for PAP, a peer accepting only CHAP) fail as authentication failures on both sides.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ppp::{AuthMethod, DownReason, Event, Link, LinkConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn down(ev: &[Event]) -> Option<DownReason> {
    ev.iter().find_map(|e| match e {
        Event::Down { reason } => Some(reason.clone()),
        _ => None,
    })
}

/// Runs two links against each other (lossless, 10 ms each way) for at most `limit` of
/// virtual time or until both went down. Returns their events.
fn pair(mut a: Link, mut b: Link, limit: Duration) -> (Vec<Event>, Vec<Event>) {
    let t0 = Instant::now();
    let mut now = t0;
    a.open(now);
    b.open(now);
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    // (arrival, to b?, frame)
    let mut wire: Vec<(Instant, bool, Vec<u8>)> = Vec::new();
    for _ in 0..100_000 {
        while let Some(f) = a.poll_transmit() {
            wire.push((now + Duration::from_millis(10), true, f));
        }
        while let Some(f) = b.poll_transmit() {
            wire.push((now + Duration::from_millis(10), false, f));
        }
        while let Some(e) = a.poll_event() {
            ea.push(e);
        }
        while let Some(e) = b.poll_event() {
            eb.push(e);
        }
        if down(&ea).is_some() && down(&eb).is_some() {
            break;
        }
        let next = [
            wire.iter().map(|w| w.0).min(),
            a.poll_timeout(),
            b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        if next > t0 + limit {
            break;
        }
        now = now.max(next);
        let (due, later): (Vec<_>, Vec<_>) = wire.drain(..).partition(|w| w.0 <= now);
        wire = later;
        for (_, to_b, f) in due {
            if to_b {
                b.handle_frame(now, &f);
            } else {
                a.handle_frame(now, &f);
            }
        }
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
    }
    (ea, eb)
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn server(methods: Vec<AuthMethod>) -> LinkConfig {
    let mut c = LinkConfig::server(methods, Ipv4Addr::new(192, 0, 2, 1), [None, None]);
    c.echo_interval = None;
    c
}

fn client(methods: Vec<AuthMethod>) -> LinkConfig {
    let mut c = LinkConfig::client("alice", "wonderland");
    c.auth.methods = methods;
    c.echo_interval = None;
    c
}

#[test]
fn pap_only_authenticator_and_chap_only_peer_fail_authentication_on_both_sides() {
    let (es, ec) = pair(
        Link::new(server(vec![AuthMethod::Pap]), rng(1)),
        Link::new(client(vec![AuthMethod::ChapMd5]), rng(2)),
        Duration::from_secs(300),
    );
    let (s, c) = (down(&es), down(&ec));
    assert!(
        matches!(s, Some(DownReason::AuthRefused)),
        "authenticator: {s:?}"
    );
    assert!(matches!(c, Some(DownReason::AuthRefused)), "peer: {c:?}");
}

/// A scripted authenticator that insists on PAP whatever we Nak: the client must give up
/// (authentication refused), not Nak for ever.
#[test]
fn chap_only_client_gives_up_on_an_authenticator_that_insists_on_pap() {
    let mut c = Link::new(client(vec![AuthMethod::ChapMd5]), rng(3));
    let t0 = Instant::now();
    let mut now = t0;
    c.open(now);
    let mut events = Vec::new();
    // LCP Configure-Request id i: Authentication-Protocol PAP (c0 23), Magic 0x01020304.
    let req = |id: u8| {
        vec![
            0xff, 0x03, 0xc0, 0x21, 0x01, id, 0x00, 0x0e, 0x03, 0x04, 0xc0, 0x23, 0x05, 0x06, 0x01,
            0x02, 0x03, 0x04,
        ]
    };
    for i in 0..40u8 {
        // Acknowledge whatever the client asked for, then ask for PAP again.
        while let Some(f) = c.poll_transmit() {
            if f.len() > 5 && f[2..4] == [0xc0, 0x21] && f[4] == 1 {
                let mut ack = f.clone();
                ack[4] = 2;
                c.handle_frame(now, &ack);
            }
        }
        c.handle_frame(now, &req(i));
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        if down(&events).is_some() {
            break;
        }
        now += Duration::from_secs(1);
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
        }
    }
    // Terminate-Ack whatever Terminate-Request went out, and let the timers run.
    for _ in 0..20 {
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        if down(&events).is_some() {
            break;
        }
        now += Duration::from_secs(3);
        c.handle_timeout(now);
    }
    assert_eq!(down(&events), Some(DownReason::AuthRefused));
}

/// A peer that acknowledges our Configure-Request and never sends its own: without a bound
/// the link would stay in Establish for ever. With `establish_timeout` it goes down.
#[test]
fn establishment_is_bounded_by_establish_timeout() {
    let mut cfg = client(vec![AuthMethod::ChapMd5]);
    cfg.establish_timeout = Some(Duration::from_secs(60));
    let mut c = Link::new(cfg, rng(4));
    let t0 = Instant::now();
    let mut now = t0;
    c.open(now);
    let mut events = Vec::new();
    for _ in 0..1000 {
        while let Some(f) = c.poll_transmit() {
            if f.len() > 5 && f[2..4] == [0xc0, 0x21] && f[4] == 1 {
                let mut ack = f.clone();
                ack[4] = 2;
                c.handle_frame(now, &ack);
            }
        }
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        if down(&events).is_some() {
            break;
        }
        let Some(next) = c.poll_timeout() else { break };
        now = next;
        c.handle_timeout(now);
    }
    assert_eq!(down(&events), Some(DownReason::EstablishTimeout));
    let took = now.duration_since(t0);
    assert!(took < Duration::from_secs(120), "went down after {took:?}");
}
