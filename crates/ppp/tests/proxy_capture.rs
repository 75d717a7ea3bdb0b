//! The LAC's "learn the user name" step: a server `Link` (the LAC) runs LCP and
//! authentication with a client `Link` (the subscriber) while a `ProxyCapture` taps every
//! frame; when the LAC's link asks for an authentication decision, the capture must hold
//! the user, the exchange an LNS can verify, and the CONFREQs — and they must survive the
//! trip through an ICCN as RFC 2661 §4.4.5 proxy AVPs.

use std::net::Ipv4Addr;
use std::time::Instant;

use l2tp_wire::{proxy_auth, proxy_lcp, set_proxy, FramingCapabilities, Iccn, ProxyAuth, ProxyLcp};
use ppp::proxy::{AuthCapture, ProxyCapture};
use ppp::{chap, options, AuthMethod, Event, Link, LinkConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Runs LAC and subscriber until the LAC's link reports the peer's credentials; returns the
/// capture and the user the link reported.
fn learn(lac_methods: Vec<AuthMethod>, client_methods: Vec<AuthMethod>) -> (ProxyCapture, String) {
    let (cap, user, _) = learn_logged(lac_methods, client_methods);
    (cap, user)
}

/// Like `learn`, also returning every frame the LAC sent.
fn learn_logged(
    lac_methods: Vec<AuthMethod>,
    client_methods: Vec<AuthMethod>,
) -> (ProxyCapture, String, Vec<Vec<u8>>) {
    let mut log = Vec::new();
    let now = Instant::now();
    let lac_cfg = LinkConfig::server(lac_methods, Ipv4Addr::new(192, 0, 2, 1), [None, None]);
    let mut client_cfg = LinkConfig::client("alice@isp.example", "secret");
    client_cfg.auth.methods = client_methods;
    let mut lac = Link::new(lac_cfg, ChaCha8Rng::seed_from_u64(7));
    let mut sub = Link::new(client_cfg, ChaCha8Rng::seed_from_u64(8));
    let mut cap = ProxyCapture::new();
    lac.open(now);
    sub.open(now);
    for _ in 0..30 {
        while let Some(f) = lac.poll_transmit() {
            cap.sent(&f);
            log.push(f.clone());
            sub.handle_frame(now, &f);
        }
        while let Some(f) = sub.poll_transmit() {
            cap.received(&f);
            lac.handle_frame(now, &f);
        }
        while sub.poll_event().is_some() {}
        while let Some(e) = lac.poll_event() {
            if let Event::AuthRequest { user, .. } = e {
                return (cap, user, log);
            }
        }
    }
    panic!("the LAC never learnt the user");
}

fn auth_option(opts: &[u8]) -> Vec<u8> {
    options::decode(opts)
        .unwrap()
        .iter()
        .find(|o| o.kind == 3)
        .map(|o| o.data.to_vec())
        .unwrap_or_default()
}

#[test]
fn pap_user_and_password_are_captured_for_proxy_authentication() {
    let (cap, user) = learn(vec![AuthMethod::Pap], vec![AuthMethod::Pap]);
    assert_eq!(user, "alice@isp.example");
    let Some(AuthCapture::Pap { name, password, .. }) = cap.auth() else {
        panic!("{:?}", cap.auth())
    };
    assert_eq!(
        (&name[..], &password[..]),
        (&b"alice@isp.example"[..], &b"secret"[..])
    );
    assert_eq!(cap.auth().unwrap().realm(), Some(&b"isp.example"[..]));
    assert_eq!(cap.auth().unwrap().proxy_authen_type(), Some(3));
    let lcp = cap.lcp().expect("LCP completed before authentication");
    assert_eq!(auth_option(&lcp.last_sent), [0xc0, 0x23]);
}

#[test]
fn chap_md5_capture_is_verifiable_by_the_lns() {
    let (cap, user) = learn(vec![AuthMethod::ChapMd5], vec![AuthMethod::ChapMd5]);
    assert_eq!(user, "alice@isp.example");
    let Some(AuthCapture::Chap {
        algorithm,
        id,
        challenge,
        response,
        name,
    }) = cap.auth().cloned()
    else {
        panic!("{:?}", cap.auth())
    };
    assert_eq!(algorithm, 5);
    assert_eq!(name, b"alice@isp.example");
    // What an LNS holding the password computes (RFC 1994 §4.1).
    assert_eq!(response, chap::md5_response(id, b"secret", &challenge));
    assert_eq!(cap.auth().unwrap().proxy_authen_type(), Some(2));

    // Into an ICCN and back, hidden, as the LNS would receive it.
    let lcp = cap.lcp().unwrap();
    let mut iccn = Iccn::new(1_000_000, FramingCapabilities::SYNC);
    let wire_auth = ProxyAuth::Chap {
        name: name.clone(),
        id,
        challenge: challenge.clone(),
        response: response.clone(),
    };
    let wire_lcp = ProxyLcp {
        initial_received: lcp.initial_received.clone(),
        last_sent: lcp.last_sent.clone(),
        last_received: lcp.last_received.clone(),
    };
    set_proxy(&mut iccn, Some(&wire_lcp), Some(&wire_auth));
    let mut bytes = Vec::new();
    let hiding = l2tp_wire::Hiding::new(b"tunnel", &[3; 16]);
    l2tp_wire::ControlMessage::Iccn(iccn)
        .encode(&mut bytes, Some(hiding))
        .unwrap();
    let l2tp_wire::ControlMessage::Iccn(back) =
        l2tp_wire::ControlMessage::decode(&bytes, Some(b"tunnel")).unwrap()
    else {
        panic!()
    };
    let Ok(Some(ProxyAuth::Chap {
        id: id2,
        challenge: c2,
        response: r2,
        ..
    })) = proxy_auth(&back)
    else {
        panic!("{:?}", proxy_auth(&back))
    };
    assert_eq!(
        r2,
        chap::md5_response(id2, b"secret", &c2),
        "the LNS can verify"
    );
    assert_eq!(proxy_lcp(&back), Ok(Some(wire_lcp)));
}

#[test]
fn last_sent_confreq_is_the_one_the_subscriber_acknowledged() {
    // The LAC asks for CHAP first; the subscriber only does PAP and Naks; the LAC's second
    // Configure-Request (PAP) is the one acknowledged.
    let (cap, _) = learn(
        vec![AuthMethod::ChapMd5, AuthMethod::Pap],
        vec![AuthMethod::Pap],
    );
    let lcp = cap.lcp().unwrap();
    assert_eq!(auth_option(&lcp.last_sent), [0xc0, 0x23]);
    assert!(matches!(cap.auth(), Some(AuthCapture::Pap { .. })));
    // The subscriber's requests carry its magic number and MRU; the one we acked is in the
    // capture, and so is the very first.
    let first = options::decode(&lcp.initial_received).unwrap();
    assert!(first.iter().any(|o| o.kind == 5), "Magic-Number");
    assert!(!lcp.last_received.is_empty());
}

#[test]
fn ms_chap_v2_names_the_user_but_cannot_be_proxied() {
    let (cap, user) = learn(vec![AuthMethod::MsChapV2], vec![AuthMethod::MsChapV2]);
    assert_eq!(user, "alice@isp.example");
    let a = cap.auth().unwrap();
    assert!(matches!(
        a,
        AuthCapture::Chap {
            algorithm: 0x81,
            ..
        }
    ));
    assert_eq!(a.user(), b"alice@isp.example");
    assert_eq!(
        a.proxy_authen_type(),
        None,
        "RFC 2661 has no type for MS-CHAPv2"
    );
}

#[test]
fn responses_to_challenges_we_did_not_send_and_garbage_are_ignored() {
    let mut cap = ProxyCapture::new();
    // A CHAP Response (id 9) with no Challenge sent.
    let mut f = vec![0xff, 0x03, 0xc2, 0x23];
    f.extend(ppp::packet::encode(
        ppp::packet::Code(2),
        9,
        &chap::ValueName::encode(&[1; 16], b"mallory"),
    ));
    cap.received(&f);
    assert!(cap.auth().is_none());
    // A Challenge with id 1, then a Response with id 2.
    let mut ch = vec![0xff, 0x03, 0xc2, 0x23];
    ch.extend(ppp::packet::encode(
        ppp::packet::Code(1),
        1,
        &chap::ValueName::encode(&[5; 16], b"lac"),
    ));
    cap.sent(&ch);
    let mut r = vec![0xff, 0x03, 0xc2, 0x23];
    r.extend(ppp::packet::encode(
        ppp::packet::Code(2),
        2,
        &chap::ValueName::encode(&[1; 16], b"x"),
    ));
    cap.received(&r);
    assert!(cap.auth().is_none(), "id mismatch");
    for junk in [
        &[][..],
        &[0xc0],
        &[0xc0, 0x21, 1],
        &[0xc0, 0x21, 1, 1, 0, 200],
    ] {
        cap.received(junk);
        cap.sent(junk);
    }
    assert!(cap.lcp().is_none());
}
