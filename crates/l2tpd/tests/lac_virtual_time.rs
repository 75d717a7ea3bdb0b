//! The LAC relay in virtual time: a PPPoE subscriber (a PPP client `Link` behind the PPPoE
//! codec, as a subscriber's router would be) discovers our LAC core, which learns its user,
//! steers the call by realm and relays it to an LNS core over `l2tp-sim`. The subscriber
//! must reach IPCP with the LNS's pool address; the LNS must use the proxy LCP and proxy
//! authentication when it offers the method, and renegotiate when it does not; a PADT must
//! clear the call, a StopCCN must bring a PADT, and a user of no known realm must get one;
//! an outgoing call (OCRQ) the LNS places in the relay's tunnel must be refused (CDN) and
//! leave the subscriber relayed.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tpd::core::proxy_lns::ProxyMode;
use l2tpd::core::Input;
use ppp::{AuthMethod, Event, Link, LinkConfig};
use pppoe::{Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, TagList, ETHERTYPE_DISCOVERY};
use rand::SeedableRng;
use support::sim::{
    lac_config, lac_core, lns_core_for_lac, SimCore, LAC_MAC, LNS_ADDR, POOL_FIRST,
};

const HOST: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

/// The subscriber: discovery by hand, then its PPP link inside PPPoE session frames.
struct Subscriber {
    link: Link,
    session: u16,
    events: Vec<Event>,
    padt_received: bool,
    /// LCP Configure-Requests received (one negotiation: 1).
    lcp_confreqs: usize,
    /// Waits for the LAC's LCP instead of starting its own (a passive CPE).
    passive: bool,
    /// When the session was confirmed (PADS), and when the LAC's first LCP frame came.
    pads_at: Option<Instant>,
    first_lcp_at: Option<Instant>,
}

impl Subscriber {
    fn new(user: &str) -> Subscriber {
        let mut cfg = LinkConfig::client(user, "secret");
        cfg.auth.methods = vec![AuthMethod::ChapMd5, AuthMethod::Pap, AuthMethod::MsChapV2];
        cfg.ipv6 = false;
        cfg.mru = 1492;
        Subscriber {
            link: Link::new(cfg, rand_chacha::ChaCha8Rng::seed_from_u64(9)),
            session: 0,
            events: Vec::new(),
            padt_received: false,
            lcp_confreqs: 0,
            passive: false,
            pads_at: None,
            first_lcp_at: None,
        }
    }

    fn discovery(dst: MacAddr, code: Code, session_id: u16, tags: Vec<Tag>) -> Vec<u8> {
        Frame {
            eth: EthHeader {
                dst,
                src: HOST,
                vlans: vec![],
                ethertype: ETHERTYPE_DISCOVERY,
            },
            pppoe: Pppoe::Discovery(Discovery {
                code,
                session_id,
                tags,
            }),
        }
        .encode()
        .unwrap()
    }

    /// What the LAC sent us: discovery answered, PPP into the link.
    fn receive(&mut self, now: Instant, lac: &mut SimCore) {
        let frames = std::mem::take(&mut lac.pppoe_out);
        for (_, f) in frames {
            let Ok(frame) = Frame::decode(&f) else {
                continue;
            };
            match frame.pppoe {
                Pppoe::Discovery(d) if d.code == Code::PADO => {
                    let cookie = d.tags.ac_cookie().unwrap().to_vec();
                    let padr = Self::discovery(
                        MacAddr(LAC_MAC),
                        Code::PADR,
                        0,
                        vec![Tag::ServiceName(vec![]), Tag::AcCookie(cookie)],
                    );
                    lac.input(
                        now,
                        Input::PppoeFrame {
                            interface: 0,
                            frame: &padr,
                        },
                    );
                }
                Pppoe::Discovery(d) if d.code == Code::PADS => {
                    self.session = d.session_id;
                    self.pads_at = Some(now);
                    if !self.passive {
                        self.link.open(now);
                    }
                }
                Pppoe::Discovery(d) if d.code == Code::PADT => self.padt_received = true,
                Pppoe::Session { payload, .. } => {
                    if payload.starts_with(&[0xc0, 0x21, 1]) {
                        self.lcp_confreqs += 1;
                    }
                    self.first_lcp_at.get_or_insert(now);
                    if self.link.phase() == ppp::Phase::Dead {
                        self.link.open(now);
                    }
                    self.link.handle_frame(now, payload)
                }
                _ => {}
            }
        }
    }

    /// What our link has to send, into the LAC.
    fn send(&mut self, now: Instant, lac: &mut SimCore) {
        if self.link.poll_timeout().is_some_and(|t| t <= now) {
            self.link.handle_timeout(now);
        }
        while let Some(ppp) = self.link.poll_transmit() {
            // PPPoE carries no Address and Control fields (RFC 2516 §7).
            let ppp = ppp.strip_prefix(&[0xff, 0x03]).unwrap_or(&ppp).to_vec();
            let mut f = Vec::new();
            EthHeader {
                dst: MacAddr(LAC_MAC),
                src: HOST,
                vlans: vec![],
                ethertype: pppoe::ETHERTYPE_SESSION,
            }
            .encode(&mut f)
            .unwrap();
            pppoe::packet::session_header_into(self.session, ppp.len(), &mut f).unwrap();
            f.extend_from_slice(&ppp);
            lac.input(
                now,
                Input::PppoeFrame {
                    interface: 0,
                    frame: &f,
                },
            );
        }
        self.events
            .extend(std::iter::from_fn(|| self.link.poll_event()));
    }

    fn up(&self) -> Option<std::net::Ipv4Addr> {
        self.events.iter().find_map(|e| match e {
            Event::NetworkUp { ipv4 } => Some(ipv4.local),
            _ => None,
        })
    }
}

/// Runs until `done` or `limit` of virtual time.
fn run(
    h: &mut Harness,
    lns: &mut SimCore,
    lac: &mut SimCore,
    sub: &mut Subscriber,
    limit: Duration,
    mut done: impl FnMut(&SimCore, &SimCore, &Subscriber) -> bool,
) -> bool {
    let deadline = h.now + limit;
    for _ in 0..100_000 {
        sub.receive(h.now, lac);
        sub.send(h.now, lac);
        if done(lns, lac, sub) {
            return true;
        }
        let step_to = sub
            .link
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline).max(h.now));
        let mut nodes: [&mut dyn Node; 2] = [lns, lac];
        if !h.step(&mut nodes, step_to) && h.now >= deadline {
            break;
        }
    }
    sub.receive(h.now, lac);
    sub.send(h.now, lac);
    done(lns, lac, sub)
}

fn lns_addr() -> SocketAddr {
    LNS_ADDR.parse().unwrap()
}

/// LNS asking for `lns_methods`, LAC asking for CHAP-MD5 then PAP; the subscriber dials
/// and reaches IPCP (or not).
fn dial(
    lns_methods: Vec<AuthMethod>,
    proxy: ProxyMode,
    user: &str,
) -> (Harness, SimCore, SimCore, Subscriber) {
    dial_as(lns_methods, proxy, Subscriber::new(user))
}

/// [`dial`] with a subscriber of the test's making.
fn dial_as(
    lns_methods: Vec<AuthMethod>,
    proxy: ProxyMode,
    mut sub: Subscriber,
) -> (Harness, SimCore, SimCore, Subscriber) {
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(1, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core_for_lac(1, t0, lns_methods, "alice@isp.example", proxy);
    let mut lac = lac_core(
        1,
        t0,
        None,
        vec![("isp.example".into(), lns_addr())],
        vec![AuthMethod::ChapMd5, AuthMethod::Pap],
    );
    let padi = Subscriber::discovery(
        MacAddr::BROADCAST,
        Code::PADI,
        0,
        vec![Tag::ServiceName(vec![])],
    );
    lac.input(
        t0,
        Input::PppoeFrame {
            interface: 0,
            frame: &padi,
        },
    );
    run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(30),
        |_, _, s| s.up().is_some() || s.padt_received,
    );
    (h, lns, lac, sub)
}

#[test]
fn subscriber_gets_the_lns_address_through_the_relay_with_proxy_authentication() {
    let (mut h, mut lns, mut lac, mut sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    let lns_sessions = lns.core.sessions(h.now);
    assert_eq!(lns_sessions.len(), 1);
    assert_eq!(lns_sessions[0].user.as_deref(), Some("alice@isp.example"));
    let pppoe = lac.core.pppoe_sessions(h.now);
    assert_eq!(pppoe.len(), 1);
    assert_eq!(pppoe[0].state, "relaying");
    assert_eq!(pppoe[0].lns, Some(lns_addr()));
    assert_eq!(pppoe[0].user.as_deref(), Some("alice@isp.example"));
    assert!(
        pppoe[0].up_frames > 0 && pppoe[0].down_frames > 0,
        "{pppoe:?}"
    );
    // One LCP negotiation, the LAC's: the LNS took it over (proxy LCP).
    assert_eq!(sub.lcp_confreqs, 1);
    // What `l2tpctl pppoe` and `l2tpctl sessions` show on the LAC.
    let Some(l2tp_mgmt::Response::PppoeSessions(listed)) =
        lac.manage(h.now, l2tp_mgmt::Request::ListPppoe)
    else {
        panic!("no PPPoE listing");
    };
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].mac, "02:00:00:00:00:02");
    assert_eq!(listed[0].state, "relaying");
    let call = (listed[0].tunnel.unwrap(), listed[0].session.unwrap());
    let Some(l2tp_mgmt::Response::Sessions(calls)) =
        lac.manage(h.now, l2tp_mgmt::Request::ListSessions)
    else {
        panic!("no session listing");
    };
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].tunnel, calls[0].session), call);
    assert_eq!(calls[0].user.as_deref(), Some("alice@isp.example"));
    let Some(l2tp_mgmt::Response::Stats(st)) = lac.manage(h.now, l2tp_mgmt::Request::Stats) else {
        panic!("no stats");
    };
    let l = st.lac.expect("a LAC's stats have a LAC block");
    assert_eq!(
        (l.subscribers, l.relaying, l.calls_placed, l.calls_up),
        (1, 1, 1, 1)
    );
    assert_eq!((l.padi_rx, l.pado_tx, l.padr_rx, l.pads_tx), (1, 1, 1, 1));
    assert!(l.dropped.is_empty(), "{:?}", l.dropped);

    // The subscriber hangs up with a PADT: the call is cleared on the LNS.
    let padt = Subscriber::discovery(MacAddr(LAC_MAC), Code::PADT, sub.session, vec![]);
    lac.input(
        h.now,
        Input::PppoeFrame {
            interface: 0,
            frame: &padt,
        },
    );
    let cleared = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(10),
        |l, c, _| {
            l.core.sessions(Instant::now()).is_empty()
                && c.core.pppoe_sessions(Instant::now()).is_empty()
        },
    );
    assert!(cleared, "LNS sessions {:?}", lns.core.sessions(h.now));
}

#[test]
fn an_lns_that_does_not_offer_the_method_renegotiates_and_the_subscriber_still_gets_up() {
    let (h, lns, _lac, sub) = dial(
        vec![AuthMethod::MsChapV2],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    assert_eq!(lns.core.sessions(h.now).len(), 1);
    assert!(sub.lcp_confreqs >= 2, "the LNS negotiated LCP again");
}

#[test]
fn renegotiate_mode_negotiates_lcp_again_even_when_the_proxy_is_acceptable() {
    let (_, _, _, sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Renegotiate,
        "alice@isp.example",
    );
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    assert!(sub.lcp_confreqs >= 2);
}

#[test]
fn a_stopccn_from_the_lns_ends_the_subscriber_with_a_padt() {
    let (mut h, mut lns, mut lac, mut sub) = dial(
        vec![AuthMethod::Pap, AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert!(sub.up().is_some(), "{:?}", sub.events);
    lns.input(h.now, Input::Shutdown);
    let padt = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(10),
        |_, _, s| s.padt_received,
    );
    assert!(padt, "no PADT after the StopCCN");
    assert!(lac.core.pppoe_sessions(h.now).is_empty());
}

#[test]
fn a_user_of_no_known_realm_gets_a_padt_and_no_call_is_placed() {
    let (h, lns, lac, sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "mallory@elsewhere.example",
    );
    assert!(sub.padt_received);
    assert!(sub.up().is_none());
    assert_eq!(
        lns.core.endpoint().tunnel_count(),
        0,
        "no tunnel was opened"
    );
    let (c, _) = lac.core.lac_counters().unwrap();
    assert_eq!((c.no_lns, c.calls_placed), (1, 0));
    assert!(lac.core.pppoe_sessions(h.now).is_empty());
}

#[test]
fn the_subscribers_lcp_terminate_clears_the_call_and_is_acknowledged() {
    let (mut h, mut lns, mut lac, mut sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert!(sub.up().is_some(), "{:?}", sub.events);
    sub.link.close(h.now, "user hung up");
    let done = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(10),
        |l, _, s| {
            l.core.sessions(Instant::now()).is_empty()
                && s.events.iter().any(|e| matches!(e, Event::Down { .. }))
        },
    );
    assert!(
        done,
        "LNS sessions {:?}, subscriber {:?}",
        lns.core.sessions(h.now),
        sub.events
    );
    assert!(sub.padt_received, "the PPPoE session ends too");
    assert!(lac.core.pppoe_sessions(h.now).is_empty());
}

#[test]
fn a_reloaded_realm_table_steers_the_next_call() {
    let (mut h, _, mut lac, sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "mallory@elsewhere.example",
    );
    assert!(sub.padt_received, "no LNS for elsewhere.example yet");
    // An LNS that knows mallory; the reload maps her realm to it.
    let mut lns = lns_core_for_lac(
        2,
        h.now,
        vec![AuthMethod::ChapMd5],
        "mallory@elsewhere.example",
        ProxyMode::Accept,
    );
    let new = lac_config(
        1,
        None,
        vec![("elsewhere.example".into(), lns_addr())],
        vec![AuthMethod::ChapMd5],
    );
    assert!(lac.core.reconfigure(&new, None));
    let mut sub = Subscriber::new("mallory@elsewhere.example");
    let padi = Subscriber::discovery(
        MacAddr::BROADCAST,
        Code::PADI,
        0,
        vec![Tag::ServiceName(vec![])],
    );
    // A second PADI from the same MAC within its PADI bucket's burst.
    lac.input(
        h.now,
        Input::PppoeFrame {
            interface: 0,
            frame: &padi,
        },
    );
    let up = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(30),
        |_, _, s| s.up().is_some(),
    );
    assert!(up, "{:?}", sub.events);
}

/// A subscriber that waits for the access concentrator to start LCP: the LAC's timer starts
/// it a second after the session was confirmed, and the subscriber gets up.
#[test]
fn a_passive_subscriber_gets_lcp_from_the_lac_after_a_second() {
    let mut sub = Subscriber::new("alice@isp.example");
    sub.passive = true;
    let (_h, _lns, _lac, sub) = dial_as(vec![AuthMethod::ChapMd5], ProxyMode::Accept, sub);
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    let waited = sub.first_lcp_at.unwrap() - sub.pads_at.unwrap();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "the LAC started LCP {waited:?} after PADS"
    );
}

#[test]
fn a_relaying_lac_refuses_an_outgoing_call_and_keeps_its_subscriber() {
    let (mut h, mut lns, mut lac, mut sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    let before = lns.core.sessions(h.now);
    assert_eq!(before.len(), 1);
    let tunnel = before[0].key.tunnel.0;
    // The LNS dials out through the LAC's tunnel (l2tpctl call out).
    let Some(l2tp_mgmt::Response::Dialing { session, .. }) = lns.manage(
        h.now,
        l2tp_mgmt::Request::CallOut {
            tunnel,
            number: "5551234".into(),
        },
    ) else {
        panic!("the OCRQ was not placed");
    };
    let refused = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(5),
        |_, c, _| {
            matches!(
                c.core.daemon_stats(Instant::now()).sessions_refused, n if n >= 1
            )
        },
    );
    assert!(refused, "the LAC did not refuse the OCRQ");
    // Its CDN reaches the LNS.
    run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(1),
        |_, _, _| false,
    );
    // Nothing came up for it on either side; the subscriber is still relayed.
    let Some(l2tp_mgmt::Response::Sessions(at_lns)) =
        lns.manage(h.now, l2tp_mgmt::Request::ListSessions)
    else {
        panic!("no session listing");
    };
    assert!(
        at_lns.iter().all(|s| s.session != session),
        "the refused call is listed at the LNS: {at_lns:?}"
    );
    assert_eq!(lns.core.sessions(h.now).len(), 1);
    let pppoe = lac.core.pppoe_sessions(h.now);
    assert_eq!(pppoe.len(), 1);
    assert_eq!(pppoe[0].state, "relaying");
}

/// Replaces the LAC's core by a fresh one (another seed, as a new process would have)
/// restored from its snapshot: what `l2tpctl upgrade` does across processes.
fn upgrade_lac(lac: &mut SimCore, now: Instant) -> l2tpd::core::snapshot::Restored {
    let bytes = lac.core.snapshot(now).expect("a LAC's snapshot");
    let fresh = lac_core(
        0x5eed,
        now,
        None,
        vec![("isp.example".into(), lns_addr())],
        vec![AuthMethod::ChapMd5, AuthMethod::Pap],
    );
    let mut core = fresh.core;
    let restored = core
        .restore(&bytes, now)
        .expect("a LAC's snapshot restores");
    lac.core = core;
    restored
}

/// Control messages that end something (StopCCN, CDN) a node sent from `from` on.
fn teardowns_since(node: &SimCore, from: usize) -> Vec<l2tp_wire::ControlMessage> {
    node.wire[from..]
        .iter()
        .filter_map(|(_, _, b)| match l2tp_wire::Packet::decode(b, None) {
            Ok(l2tp_wire::Packet::Control { message, .. }) => Some(message),
            _ => None,
        })
        .filter(|m| {
            matches!(
                m,
                l2tp_wire::ControlMessage::StopCcn(_) | l2tp_wire::ControlMessage::Cdn(_)
            )
        })
        .collect()
}

#[test]
fn a_restored_lac_core_carries_on_relaying_the_subscriber() {
    let (mut h, mut lns, mut lac, mut sub) = dial(
        vec![AuthMethod::ChapMd5],
        ProxyMode::Accept,
        "alice@isp.example",
    );
    assert_eq!(sub.up(), Some(POOL_FIRST), "{:?}", sub.events);
    // Some life first: echoes both ways through the relay.
    run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(30),
        |_, _, _| false,
    );
    let before = lac.core.pppoe_sessions(h.now);
    assert_eq!(before.len(), 1);
    let lns_before = lns.core.sessions(h.now);
    let (mark_lns, mark_lac) = (lns.wire.len(), lac.wire.len());

    // The tripwire of `upgrade_virtual_time` for the relay's carried types: a LAC's snapshot
    // of this seeded life has a fixed length (bump snapshot::VERSION when it changes).
    let len = lac.core.snapshot(h.now).expect("snapshot").len();
    assert_eq!(
        (l2tpd::core::snapshot::VERSION, len),
        (5, 707),
        "pin the new length"
    );
    let now = h.now;
    let restored = upgrade_lac(&mut lac, now);
    assert_eq!((restored.tunnels, restored.sessions), (1, 1));
    // The same PPPoE session (id, MAC), user, LNS, call, state, counters.
    assert_eq!(lac.core.pppoe_sessions(h.now), before);

    // Two minutes through the restored relay: the LNS's echoes every 10 s and the
    // subscriber's every 20 s cross it; either side would drop the link without answers.
    run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(120),
        |_, _, _| false,
    );
    let after = lac.core.pppoe_sessions(h.now);
    assert_eq!(after.len(), 1, "the subscriber is still relayed");
    let (a, b) = (&after[0], &before[0]);
    assert_eq!(
        (a.pppoe_id, &a.mac, &a.user, a.lns, a.call, a.state),
        (b.pppoe_id, &b.mac, &b.user, b.lns, b.call, b.state)
    );
    assert!(
        a.up_frames > b.up_frames + 3 && a.down_frames > b.down_frames + 3,
        "frames relayed after the upgrade both ways: {a:?} vs {b:?}"
    );
    // The subscriber: no PADT, one LCP negotiation in all, its link still up.
    assert!(!sub.padt_received, "the subscriber got a PADT");
    assert_eq!(sub.lcp_confreqs, 1, "LCP renegotiated");
    assert_eq!(sub.link.phase(), ppp::Phase::Network);
    // The LNS: the same session, no teardown either way.
    assert_eq!(lns.core.sessions(h.now).len(), 1);
    assert_eq!(
        lns.core.sessions(h.now)[0].key,
        lns_before[0].key,
        "the LNS's session is the one from before"
    );
    assert_eq!(teardowns_since(&lac, mark_lac), vec![], "the LAC tore down");
    assert_eq!(teardowns_since(&lns, mark_lns), vec![], "the LNS tore down");
    // What the upgrade carried, as `l2tpctl stats` says it.
    let Some(l2tp_mgmt::Response::Stats(st)) = lac.manage(h.now, l2tp_mgmt::Request::Stats) else {
        panic!("no stats");
    };
    let u = st.upgrade.expect("what the upgrade carried");
    assert_eq!(
        (u.tunnels_resumed, u.tunnels_lost, u.sessions_lost),
        (1, 0, 0),
        "{u:?}"
    );
    let l = st.lac.expect("LAC stats");
    assert_eq!((l.subscribers, l.relaying, l.calls_up), (1, 1, 1));
    assert_eq!((l.padi_rx, l.pads_tx), (1, 1), "discovery counters carried");
}

#[test]
fn a_lac_restored_while_its_subscriber_negotiates_lcp_finishes_the_call() {
    let t0 = Instant::now();
    let mut h = Harness::new(
        Network::new(1, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core_for_lac(
        1,
        t0,
        vec![AuthMethod::ChapMd5],
        "alice@isp.example",
        ProxyMode::Accept,
    );
    let mut lac = lac_core(
        1,
        t0,
        None,
        vec![("isp.example".into(), lns_addr())],
        vec![AuthMethod::ChapMd5, AuthMethod::Pap],
    );
    let mut sub = Subscriber::new("alice@isp.example");
    // A passive subscriber: the LAC's link opens LCP on its timer, which must survive.
    sub.passive = true;
    let padi = Subscriber::discovery(
        MacAddr::BROADCAST,
        Code::PADI,
        0,
        vec![Tag::ServiceName(vec![])],
    );
    lac.input(
        t0,
        Input::PppoeFrame {
            interface: 0,
            frame: &padi,
        },
    );
    let pads = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(5),
        |_, _, s| s.pads_at.is_some(),
    );
    assert!(pads, "no PADS");
    assert_eq!(lac.core.pppoe_sessions(h.now)[0].state, "negotiating");
    let now = h.now;
    let restored = upgrade_lac(&mut lac, now);
    assert_eq!((restored.tunnels, restored.sessions), (0, 1));
    let up = run(
        &mut h,
        &mut lns,
        &mut lac,
        &mut sub,
        Duration::from_secs(30),
        |_, _, s| s.up().is_some() || s.padt_received,
    );
    assert!(up && !sub.padt_received, "{:?}", sub.events);
    assert_eq!(sub.up(), Some(POOL_FIRST));
    assert_eq!(lac.core.pppoe_sessions(h.now)[0].state, "relaying");
}

/// A PPPoE session frame from the subscriber carrying `ppp` (Address and Control stripped).
fn subscriber_frame(session: u16, ppp: &[u8]) -> Vec<u8> {
    let ppp = ppp.strip_prefix(&[0xff, 0x03]).unwrap_or(ppp);
    let mut f = Vec::new();
    EthHeader {
        dst: MacAddr(LAC_MAC),
        src: HOST,
        vlans: vec![],
        ethertype: pppoe::ETHERTYPE_SESSION,
    }
    .encode(&mut f)
    .unwrap();
    pppoe::packet::session_header_into(session, ppp.len(), &mut f).unwrap();
    f.extend_from_slice(ppp);
    f
}

/// A ping each way between the subscriber and the LNS's TUN (a few tries on a lossy
/// network); true when both arrived.
fn relayed_ping(
    h: &mut Harness,
    lns: &mut SimCore,
    lac: &mut SimCore,
    sub: &mut Subscriber,
    seq: u16,
) -> bool {
    let ip = sub.up().expect("subscriber up");
    let far: std::net::Ipv4Addr = "192.0.2.99".parse().unwrap();
    let out = support::sim::icmp_echo(ip, far, seq);
    let back = support::sim::icmp_echo(far, ip, seq);
    (0..6).any(|_| {
        let now = h.now;
        let ppp = sub.link.send_ipv4(&out).expect("IPCP open");
        let frame = subscriber_frame(sub.session, &ppp);
        lac.input(
            now,
            Input::PppoeFrame {
                interface: 0,
                frame: &frame,
            },
        );
        lns.input(
            now,
            Input::TunPacket {
                source: l2tpd::core::TunTarget::Shared,
                packet: &back,
                segment: false,
            },
        );
        run(h, lns, lac, sub, Duration::from_secs(3), |l, _, s| {
            l.tun_writes.iter().any(|(_, b)| *b == out)
                && s.events
                    .iter()
                    .any(|e| matches!(e, Event::Ipv4Packet(p) if *p == back))
        })
    })
}

#[test]
fn a_relaying_lac_keeps_its_subscriber_while_the_lns_recovers_from_a_stale_state() {
    // RFC 4951: the LNS fails and comes back with a state older than what the LAC saw; it
    // recovers the tunnel from the LAC (which offers failover by default in the daemon),
    // and the subscriber never notices. Four seeds, 5 % loss.
    let cap = Some(l2tp_wire::FailoverCapability {
        control: true,
        data: false,
        recovery_time_ms: 30_000,
    });
    let lns_cfg = |seed: u64| {
        let mut c = support::sim::lns_config(seed, None);
        if let l2tpd::core::RoleSettings::Lns(l) = &mut c.role {
            l.auth_methods = vec![AuthMethod::ChapMd5];
            l.proxy = ProxyMode::Accept;
            l.users.insert(l2tpd::users::User {
                name: "alice@isp.example".into(),
                password: "secret".into(),
                ipv4: None,
            });
        }
        // No LCP echo: the tunnel falls silent and HELLOs go, which the stale state misses.
        c.ppp_echo_interval = None;
        c.endpoint.failover = cap;
        c
    };
    for seed in l2tp_sim::seeds(&[51, 52, 53, 54]) {
        let ctx = format!("seed {seed} (replay: L2TP_SIM_SEED={seed})");
        let t0 = Instant::now();
        let mut h = Harness::new(Network::new(seed, NetConfig::lossy(0.05)), t0);
        let mut lns = support::sim::lns_core_from(lns_cfg(seed), t0);
        let mut lac_cfg = lac_config(
            seed,
            None,
            vec![("isp.example".into(), lns_addr())],
            vec![AuthMethod::ChapMd5, AuthMethod::Pap],
        );
        lac_cfg.endpoint.failover = cap;
        let addrs = lac_cfg.listen.clone();
        let mut core = l2tpd::core::Core::new(lac_cfg, addrs.clone(), t0).unwrap();
        core.open_pppoe_interface(0, LAC_MAC, t0);
        let mut lac = SimCore::new(core, addrs);
        let mut sub = Subscriber::new("alice@isp.example");
        let mut quiet = LinkConfig::client("alice@isp.example", "secret");
        quiet.auth.methods = vec![AuthMethod::ChapMd5, AuthMethod::Pap, AuthMethod::MsChapV2];
        quiet.ipv6 = false;
        quiet.mru = 1492;
        quiet.echo_interval = None;
        sub.link = Link::new(quiet, rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let padi = Subscriber::discovery(
            MacAddr::BROADCAST,
            Code::PADI,
            0,
            vec![Tag::ServiceName(vec![])],
        );
        lac.input(
            t0,
            Input::PppoeFrame {
                interface: 0,
                frame: &padi,
            },
        );
        let up = run(
            &mut h,
            &mut lns,
            &mut lac,
            &mut sub,
            Duration::from_secs(120),
            |_, _, s| s.up().is_some(),
        );
        assert!(up, "{ctx}: subscriber not up: {:?}", sub.events);
        assert!(
            relayed_ping(&mut h, &mut lns, &mut lac, &mut sub, 1),
            "{ctx}"
        );
        let keys: Vec<_> = lns.core.sessions(h.now).iter().map(|s| s.key).collect();
        let confreqs = sub.lcp_confreqs;
        let stale = lns.core.snapshot(h.now).expect("snapshot");
        let rx = |n: &SimCore| {
            n.core
                .endpoint()
                .tunnels()
                .next()
                .unwrap()
                .counters
                .rx_messages
        };
        let (rx_l, rx_c) = (rx(&lns), rx(&lac));
        run(
            &mut h,
            &mut lns,
            &mut lac,
            &mut sub,
            Duration::from_secs(150),
            |_, _, _| false,
        );
        assert!(
            rx(&lns) > rx_l || rx(&lac) > rx_c,
            "{ctx}: no control message after the snapshot"
        );

        // The LNS comes back from the stale snapshot and recovers its tunnel.
        let now = h.now;
        let old = lns.core.endpoint().tunnels().next().unwrap().tunnel;
        let mut core =
            l2tpd::core::Core::new(lns_cfg(seed ^ 0xdead), lns.addrs.clone(), now).unwrap();
        core.restore(&stale, now).expect("restore");
        lns.core = core;
        let left = lns.core.recover_restored_tunnels(now);
        assert!(left.is_empty(), "{ctx}: {left:?}");
        lns.input(now, Input::Tick);
        let recovered = run(
            &mut h,
            &mut lns,
            &mut lac,
            &mut sub,
            Duration::from_secs(60),
            |l, c, _| {
                l.core
                    .endpoint()
                    .tunnel_info(old)
                    .is_some_and(|t| t.failover.recoveries == 1)
                    && l.core.endpoint().tunnel_count() == 1
                    && c.core.endpoint().tunnel_count() == 1
            },
        );
        assert!(recovered, "{ctx}: the LNS did not recover its tunnel");
        assert!(
            relayed_ping(&mut h, &mut lns, &mut lac, &mut sub, 2),
            "{ctx}: after"
        );

        // The subscriber saw nothing; the call and the relay are as they were.
        assert!(!sub.padt_received, "{ctx}");
        assert_eq!(sub.lcp_confreqs, confreqs, "{ctx}: LCP renegotiated");
        let now = h.now;
        let after: Vec<_> = lns.core.sessions(now).iter().map(|s| s.key).collect();
        assert_eq!(after, keys, "{ctx}");
        let pppoe = lac.core.pppoe_sessions(now);
        assert_eq!(pppoe.len(), 1, "{ctx}");
        assert_eq!(pppoe[0].state, "relaying", "{ctx}");
        let t = lac.core.endpoint().tunnels().next().unwrap();
        assert_eq!(
            (t.failover.recoveries, t.failover.session_queries),
            (1, 1),
            "{ctx}"
        );
        let Some(l2tp_mgmt::Response::Stats(st)) = lac.manage(now, l2tp_mgmt::Request::Stats)
        else {
            panic!("no stats");
        };
        assert_eq!(st.failover.unwrap().recoveries_answered, 1, "{ctx}");
        let Some(l2tp_mgmt::Response::Stats(st)) = lns.manage(now, l2tp_mgmt::Request::Stats)
        else {
            panic!("no stats");
        };
        let f = st.failover.unwrap();
        assert_eq!(
            (f.tunnels_recovered, f.tunnels_lost),
            (1, 0),
            "{ctx}: {f:?}"
        );
    }
}
