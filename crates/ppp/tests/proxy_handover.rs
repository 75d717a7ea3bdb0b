//! The LNS's side of proxy LCP and proxy authentication (RFC 2661 §4.4.5): a LAC's server
//! `Link` runs LCP and authentication with a subscriber (a client `Link`) far enough to learn
//! the user, then hands the subscriber over; the LNS's `Link` starts with
//! `open_proxied(Last Sent, Last Received, the captured authentication)` and the subscriber,
//! which never saw a second LCP negotiation, must hear the authentication's answer from the
//! LNS and reach IPCP with it — or be refused when the password is wrong. Options the LNS
//! would not have negotiated make `open_proxied` refuse, so the LNS renegotiates.

use std::net::Ipv4Addr;
use std::time::Instant;

use ppp::proxy::{AuthCapture, ProxyCapture};
use ppp::{
    AuthDecision, AuthMethod, Credentials, Event, Link, LinkConfig, Phase, Protocol, ProxiedAuth,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn lns_config(methods: Vec<AuthMethod>) -> LinkConfig {
    let mut c = LinkConfig::server(methods, Ipv4Addr::new(192, 0, 2, 1), [None, None]);
    c.ipv4.peer = Some(Ipv4Addr::new(192, 0, 2, 10));
    c.ipv6 = false;
    c
}

/// LAC and subscriber until the LAC's link asks for a decision: the capture, and the
/// subscriber (waiting for the answer).
fn lac_phase(method: AuthMethod) -> (ProxyCapture, Link) {
    let now = Instant::now();
    let lac_cfg = LinkConfig::server(vec![method], Ipv4Addr::new(198, 51, 100, 1), [None, None]);
    let mut sub_cfg = LinkConfig::client("alice@isp.example", "secret");
    sub_cfg.auth.methods = vec![method];
    sub_cfg.ipv6 = false;
    let mut lac = Link::new(lac_cfg, ChaCha8Rng::seed_from_u64(1));
    let mut sub = Link::new(sub_cfg, ChaCha8Rng::seed_from_u64(2));
    let mut cap = ProxyCapture::new();
    lac.open(now);
    sub.open(now);
    for _ in 0..30 {
        while let Some(f) = lac.poll_transmit() {
            cap.sent(&f);
            sub.handle_frame(now, &f);
        }
        while let Some(f) = sub.poll_transmit() {
            cap.received(&f);
            lac.handle_frame(now, &f);
        }
        while sub.poll_event().is_some() {}
        while let Some(e) = lac.poll_event() {
            if matches!(e, Event::AuthRequest { .. }) {
                return (cap, sub);
            }
        }
    }
    panic!("the LAC never learnt the user");
}

fn proxied(cap: &ProxyCapture) -> ProxiedAuth {
    match cap.auth().cloned().expect("captured") {
        AuthCapture::Pap { id, name, password } => ProxiedAuth {
            method: AuthMethod::Pap,
            id,
            user: String::from_utf8(name).unwrap(),
            credentials: Credentials::Pap { password },
        },
        AuthCapture::Chap {
            id,
            challenge,
            response,
            name,
            ..
        } => ProxiedAuth {
            method: AuthMethod::ChapMd5,
            id,
            user: String::from_utf8(name).unwrap(),
            credentials: Credentials::ChapMd5 {
                id,
                challenge,
                response: response.try_into().unwrap(),
            },
        },
    }
}

/// The LNS takes over with `password` as the user's: what the subscriber reports.
fn hand_over(method: AuthMethod, password: &str) -> (Vec<Event>, Link, Link) {
    let now = Instant::now();
    let (cap, mut sub) = lac_phase(method);
    let lcp = cap.lcp().expect("LCP captured");
    let mut lns = Link::new(lns_config(vec![method]), ChaCha8Rng::seed_from_u64(3));
    lns.open_proxied(now, &lcp.last_sent, &lcp.last_received, Some(proxied(&cap)))
        .expect("acceptable proxy LCP");
    let mut seen = Vec::new();
    let mut lcp_frames = 0;
    for _ in 0..30 {
        while let Some(e) = lns.poll_event() {
            if let Event::AuthRequest { ticket, user, .. } = e {
                assert_eq!(user, "alice@isp.example");
                lns.auth_decision(now, ticket, AuthDecision::Password(password.into()))
                    .unwrap();
            }
        }
        while let Some(f) = lns.poll_transmit() {
            if ppp::classify(&f).unwrap().0 == Protocol::LCP {
                lcp_frames += 1;
            }
            sub.handle_frame(now, &f);
        }
        while let Some(f) = sub.poll_transmit() {
            lns.handle_frame(now, &f);
        }
        seen.extend(std::iter::from_fn(|| sub.poll_event()));
    }
    assert_eq!(lcp_frames, 0, "LCP is not renegotiated, nor terminated");
    (seen, sub, lns)
}

#[test]
fn pap_subscriber_reaches_ipcp_with_the_lns_that_accepted_the_proxied_request() {
    let (events, sub, lns) = hand_over(AuthMethod::Pap, "secret");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::NetworkUp { ipv4 } if ipv4.local == Ipv4Addr::new(192, 0, 2, 10))
        ),
        "{events:?}"
    );
    assert_eq!((sub.phase(), lns.phase()), (Phase::Network, Phase::Network));
}

#[test]
fn chap_subscriber_reaches_ipcp_with_the_lns_that_verified_the_proxied_response() {
    let (events, sub, _) = hand_over(AuthMethod::ChapMd5, "secret");
    assert!(
        events.iter().any(|e| matches!(e, Event::NetworkUp { .. })),
        "{events:?}"
    );
    assert_eq!(sub.phase(), Phase::Network);
}

#[test]
fn a_wrong_password_on_the_lns_refuses_the_proxied_subscriber() {
    let now = Instant::now();
    let (cap, mut sub) = lac_phase(AuthMethod::ChapMd5);
    let lcp = cap.lcp().unwrap();
    let mut lns = Link::new(
        lns_config(vec![AuthMethod::ChapMd5]),
        ChaCha8Rng::seed_from_u64(3),
    );
    lns.open_proxied(now, &lcp.last_sent, &lcp.last_received, Some(proxied(&cap)))
        .unwrap();
    let mut down = false;
    for _ in 0..30 {
        while let Some(e) = lns.poll_event() {
            if let Event::AuthRequest { ticket, .. } = e {
                lns.auth_decision(now, ticket, AuthDecision::Password("other".into()))
                    .unwrap();
            }
        }
        while let Some(f) = lns.poll_transmit() {
            sub.handle_frame(now, &f);
        }
        while let Some(f) = sub.poll_transmit() {
            lns.handle_frame(now, &f);
        }
        while let Some(e) = sub.poll_event() {
            down |= matches!(e, Event::Down { .. });
        }
    }
    assert!(down, "the subscriber hears the refusal");
    assert_ne!(sub.phase(), Phase::Network);
}

#[test]
fn options_the_lns_would_not_negotiate_are_refused_so_it_renegotiates() {
    let now = Instant::now();
    let (cap, _) = lac_phase(AuthMethod::Pap);
    let lcp = cap.lcp().unwrap();
    // The LAC asked for PAP; this LNS only offers CHAP.
    let mut lns = Link::new(
        lns_config(vec![AuthMethod::ChapMd5]),
        ChaCha8Rng::seed_from_u64(3),
    );
    let e = lns
        .open_proxied(now, &lcp.last_sent, &lcp.last_received, Some(proxied(&cap)))
        .unwrap_err();
    assert!(e.contains("authentication protocol"), "{e}");
    assert!(lns.poll_transmit().is_none(), "nothing sent");
    // An option LCP here never negotiates (Quality-Protocol) in the LAC's request.
    let mut odd = lcp.last_sent.clone();
    odd.extend_from_slice(&[4, 8, 0xc0, 0x25, 0, 0, 0, 10]);
    let mut lns = Link::new(
        lns_config(vec![AuthMethod::Pap]),
        ChaCha8Rng::seed_from_u64(3),
    );
    assert!(lns
        .open_proxied(now, &odd, &lcp.last_received, None)
        .is_err());
    // Renegotiation still works on the same link.
    lns.open(now);
    assert!(lns.poll_transmit().is_some(), "a fresh Configure-Request");
}
