//! LNS groups on the LAC relay, in virtual time: PPPoE subscribers (PPP client `Link`s
//! behind the PPPoE codec, each with its own MAC) dial our LAC core, which steers their calls
//! into a group of LNS cores over `l2tp-sim`. Calls must follow preference then weight, share
//! tunnels up to the per-tunnel limit, pass over an LNS that does not answer (lockout) and
//! come back to it after the lockout, and move to the other LNS when one is stopped mid-run,
//! with no subscriber left hanging. With RADIUS (a real FreeRADIUS answering the LAC's
//! Access-Requests), the RFC 2868 tunnel attributes of the accept must steer the call to the
//! LNS FreeRADIUS names with the Tunnel-Password it gives, and a reject must end the
//! subscriber with an authentication failure and a PADT.

#[path = "../../l2tp-radius/tests/support/mod.rs"]
mod freeradius;
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tpd::core::lac::{LnsTarget, RealmTable};
use l2tpd::core::proxy_lns::ProxyMode;
use l2tpd::core::{Input, RoleSettings};
use l2tpd::leases::Ipv4Leases;
use l2tpd::pool::{Ipv4Pool, Ipv4PoolSpec};
use l2tpd::users::User;
use ppp::{AuthMethod, Event, Link, LinkConfig};
use pppoe::{Code, Discovery, EthHeader, Frame, MacAddr, Pppoe, Tag, TagList, ETHERTYPE_DISCOVERY};
use rand::SeedableRng;
use support::sim::{lac_config, lns_config, SimCore, LAC_MAC, LNS_IP};

const USER: &str = "alice@wholesale.example";

/// One subscriber: discovery by hand, then its PPP link inside PPPoE session frames.
struct Sub {
    mac: MacAddr,
    link: Link,
    session: u16,
    up: Option<Ipv4Addr>,
    padts: usize,
    /// Dial again after a PADT (as a subscriber's router does).
    redial: bool,
    seed: u64,
    user: String,
    /// Authentication refused by the LAC (CHAP Failure / PAP Nak).
    auth_failed: bool,
    /// LCP Configure-Requests received (one negotiation, the LAC's: 1).
    lcp_confreqs: usize,
    /// CHAP Challenges received (one authentication, the LAC's: 1).
    chap_challenges: usize,
    /// LCP keepalive: Echo-Request interval and failures tolerated (None: the defaults).
    echo: Option<(Duration, u32)>,
    /// The link went down for want of Echo-Replies.
    keepalive_lost: bool,
}

impl Sub {
    fn new(i: u16) -> Sub {
        let mut s = Sub {
            mac: MacAddr([2, 0, 0, 1, (i >> 8) as u8, i as u8]),
            link: Link::new(
                LinkConfig::client("", ""),
                rand_chacha::ChaCha8Rng::seed_from_u64(0),
            ),
            session: 0,
            up: None,
            padts: 0,
            redial: false,
            seed: u64::from(i),
            user: USER.into(),
            auth_failed: false,
            lcp_confreqs: 0,
            chap_challenges: 0,
            echo: None,
            keepalive_lost: false,
        };
        s.reset();
        s
    }

    fn reset(&mut self) {
        let mut cfg = LinkConfig::client(&self.user, "secret");
        cfg.auth.methods = vec![AuthMethod::ChapMd5, AuthMethod::Pap];
        cfg.ipv6 = false;
        cfg.mru = 1492;
        if let Some((interval, failures)) = self.echo {
            cfg.echo_interval = Some(interval);
            cfg.echo_failures = failures;
        }
        self.seed += 1000;
        self.link = Link::new(cfg, rand_chacha::ChaCha8Rng::seed_from_u64(self.seed));
        self.session = 0;
        self.up = None;
    }

    fn discovery(&self, dst: MacAddr, code: Code, session_id: u16, tags: Vec<Tag>) -> Vec<u8> {
        Frame {
            eth: EthHeader {
                dst,
                src: self.mac,
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

    fn dial(&mut self, now: Instant, lac: &mut SimCore) {
        let padi = self.discovery(
            MacAddr::BROADCAST,
            Code::PADI,
            0,
            vec![Tag::ServiceName(vec![])],
        );
        lac.input(
            now,
            Input::PppoeFrame {
                interface: 0,
                frame: &padi,
            },
        );
    }

    /// One frame from the LAC to this subscriber.
    fn receive(&mut self, now: Instant, lac: &mut SimCore, frame: Frame) {
        match frame.pppoe {
            Pppoe::Discovery(d) if d.code == Code::PADO => {
                let cookie = d.tags.ac_cookie().unwrap().to_vec();
                let padr = self.discovery(
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
                self.link.open(now);
            }
            Pppoe::Discovery(d) if d.code == Code::PADT => {
                self.padts += 1;
                if self.redial {
                    self.reset();
                    self.dial(now, lac);
                }
            }
            Pppoe::Session { payload, .. } => {
                if payload.starts_with(&[0xc0, 0x21, 1]) {
                    self.lcp_confreqs += 1;
                }
                if payload.starts_with(&[0xc2, 0x23, 1]) {
                    self.chap_challenges += 1;
                }
                self.link.handle_frame(now, payload)
            }
            _ => {}
        }
    }

    fn send(&mut self, now: Instant, lac: &mut SimCore) {
        if self.link.poll_timeout().is_some_and(|t| t <= now) {
            self.link.handle_timeout(now);
        }
        while let Some(ppp) = self.link.poll_transmit() {
            let ppp = ppp.strip_prefix(&[0xff, 0x03]).unwrap_or(&ppp).to_vec();
            let mut f = Vec::new();
            EthHeader {
                dst: MacAddr(LAC_MAC),
                src: self.mac,
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
        while let Some(e) = self.link.poll_event() {
            match e {
                Event::NetworkUp { ipv4 } => self.up = Some(ipv4.local),
                Event::Down { reason } => {
                    self.up = None;
                    if matches!(reason, ppp::DownReason::AuthFailed(_)) {
                        self.auth_failed = true;
                    }
                    if matches!(reason, ppp::DownReason::KeepaliveTimeout) {
                        self.keepalive_lost = true;
                    }
                }
                _ => {}
            }
        }
    }
}

/// The test bed: LNS cores at their addresses, the LAC, the subscribers.
struct Bed {
    h: Harness,
    lnses: Vec<SimCore>,
    /// LNSes no longer run (stopped): their datagrams go nowhere.
    stopped: Vec<bool>,
    lac: SimCore,
    subs: Vec<Sub>,
}

fn lns_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1 + i as u8 * 10], 1701))
}

/// An LNS for the relay at `lns_addr(i)`: users [`USER`] and bob, CHAP-MD5 with proxy accepted, a
/// pool of 70 addresses, at most `max_sessions` calls (0: no limit).
fn lns(i: usize, now: Instant, max_sessions: u32) -> SimCore {
    lns_with_secret(i, now, max_sessions, None)
}

/// [`lns`], demanding tunnel authentication with `secret` when given.
fn lns_with_secret(i: usize, now: Instant, max_sessions: u32, secret: Option<&str>) -> SimCore {
    lns_tweaked(i, now, max_sessions, secret, |_| {})
}

/// [`lns_with_secret`], its settings changed by `tweak` last.
fn lns_tweaked(
    i: usize,
    now: Instant,
    max_sessions: u32,
    secret: Option<&str>,
    tweak: impl FnOnce(&mut l2tpd::core::LnsSettings),
) -> SimCore {
    let mut cfg = lns_config(i as u64 + 1, None);
    if let Some(s) = secret {
        cfg.endpoint.auth = l2tp_proto::control::PeerAuth {
            secret: Some(s.as_bytes().to_vec()),
            hide_avps: false,
            require_tunnel_auth: true,
        };
    }
    cfg.listen = vec![lns_addr(i)];
    cfg.endpoint.host_name = format!("lns-{i}");
    if let RoleSettings::Lns(l) = &mut cfg.role {
        l.auth_methods = vec![AuthMethod::ChapMd5];
        l.proxy = ProxyMode::Accept;
        l.max_sessions = max_sessions as usize;
        for name in [USER, "bob@wholesale.example"] {
            l.users.insert(User {
                name: name.into(),
                password: "secret".into(),
                ipv4: None,
            });
        }
        let pool = Ipv4PoolSpec::Range {
            first: Ipv4Addr::new(203, 0, 113, 10 + i as u8 * 80),
            last: Ipv4Addr::new(203, 0, 113, 79 + i as u8 * 80),
        };
        l.pool = Ipv4Leases::new(Ipv4Pool::new(pool), LNS_IP, []);
        tweak(l);
    }
    let addrs = cfg.listen.clone();
    SimCore::new(
        l2tpd::core::Core::new(cfg, addrs.clone(), now).expect("LNS core"),
        addrs,
    )
}

impl Bed {
    /// LNSes `0..n` (limits from `max_sessions`), and a LAC steering the realm to `group`
    /// with `lockout`.
    fn new(max_sessions: &[u32], group: Vec<LnsTarget>, lockout: Duration) -> Bed {
        let t0 = Instant::now();
        let lnses = max_sessions
            .iter()
            .enumerate()
            .map(|(i, m)| lns(i, t0, *m))
            .collect::<Vec<_>>();
        Bed::with(t0, lnses, group, lockout, false)
    }

    /// A LAC steering the realm to `group` (asking RADIUS first when `radius`) in front of
    /// `lnses`.
    fn with(
        t0: Instant,
        lnses: Vec<SimCore>,
        group: Vec<LnsTarget>,
        lockout: Duration,
        radius: bool,
    ) -> Bed {
        let h = Harness::new(
            Network::new(1, NetConfig::perfect(Duration::from_millis(5))),
            t0,
        );
        let mut cfg = lac_config(1, None, Vec::new(), vec![AuthMethod::ChapMd5]);
        // An LNS that does not answer is given up after 1 + 2 + 4 + 8 s (`tunnel.retries`).
        cfg.endpoint.max_retries = 3;
        if let RoleSettings::Lac(l) = &mut cfg.role {
            l.steering = RealmTable {
                realms: vec![("wholesale.example".into(), group)],
                default: Vec::new(),
            };
            l.lockout = lockout;
            l.radius = radius;
        }
        let addrs = cfg.listen.clone();
        let mut core = l2tpd::core::Core::new(cfg, addrs.clone(), t0).expect("LAC core");
        core.open_pppoe_interface(0, LAC_MAC, t0);
        Bed {
            h,
            stopped: vec![false; lnses.len()],
            lnses,
            lac: SimCore::new(core, addrs),
            subs: Vec::new(),
        }
    }

    /// Subscriber `i` dials as `user`.
    fn dial_as(&mut self, i: u16, user: &str) {
        let mut s = Sub::new(i);
        s.user = user.into();
        s.reset();
        s.dial(self.h.now, &mut self.lac);
        self.subs.push(s);
    }

    /// Subscribers `from..to` dial.
    fn dial(&mut self, from: u16, to: u16) {
        for i in from..to {
            let mut s = Sub::new(i);
            s.dial(self.h.now, &mut self.lac);
            self.subs.push(s);
        }
    }

    /// Runs until `done` or `limit` of virtual time; whether `done` held.
    fn run(&mut self, limit: Duration, mut done: impl FnMut(&Bed) -> bool) -> bool {
        let deadline = self.h.now + limit;
        for _ in 0..1_000_000 {
            self.subscribers();
            if done(self) {
                return true;
            }
            if self.h.now >= deadline {
                break;
            }
            let step_to = self
                .subs
                .iter()
                .filter_map(|s| s.link.poll_timeout())
                .min()
                .map_or(deadline, |t| t.min(deadline).max(self.h.now));
            let mut nodes: Vec<&mut dyn Node> = vec![&mut self.lac];
            for (l, stopped) in self.lnses.iter_mut().zip(&self.stopped) {
                if !stopped {
                    nodes.push(l);
                }
            }
            if !self.h.step(&mut nodes, step_to) && step_to >= deadline {
                break;
            }
        }
        self.subscribers();
        done(self)
    }

    /// Frames to and from the subscribers.
    fn subscribers(&mut self) {
        let now = self.h.now;
        for _ in 0..100 {
            // Timers first (a due timer must not hold time still), then what came in.
            for s in &mut self.subs {
                s.send(now, &mut self.lac);
            }
            let frames = std::mem::take(&mut self.lac.pppoe_out);
            if frames.is_empty() {
                break;
            }
            for (_, f) in frames {
                let Ok(frame) = Frame::decode(&f) else {
                    continue;
                };
                if let Some(s) = self.subs.iter_mut().find(|s| s.mac == frame.eth.dst) {
                    s.receive(now, &mut self.lac, frame);
                }
            }
        }
    }

    fn all_up(&self) -> bool {
        self.subs.iter().all(|s| s.up.is_some())
    }

    /// Sessions with an address on each LNS.
    fn up_per_lns(&self) -> Vec<usize> {
        self.lnses
            .iter()
            .map(|l| {
                l.core
                    .sessions(self.h.now)
                    .iter()
                    .filter(|s| s.ipv4.is_some())
                    .count()
            })
            .collect()
    }

    /// Which LNS each subscriber's address came from (pools are 80 apart).
    fn lns_of_subscribers(&self) -> Vec<Option<usize>> {
        self.subs
            .iter()
            .map(|s| s.up.map(|a| (a.octets()[3] as usize - 10) / 80))
            .collect()
    }

    fn lac_stats(&mut self) -> l2tp_mgmt::LacStats {
        let Some(l2tp_mgmt::Response::Stats(st)) =
            self.lac.manage(self.h.now, l2tp_mgmt::Request::Stats)
        else {
            panic!("no stats");
        };
        *st.lac.expect("a LAC block")
    }

    /// Datagrams the LAC sent to `addr` since `since`.
    fn sent_to(&self, addr: SocketAddr, since: Instant) -> usize {
        self.lac
            .wire
            .iter()
            .filter(|(t, to, _)| *t >= since && *to == addr)
            .count()
    }
}

fn target(i: usize, preference: u32, weight: u32) -> LnsTarget {
    LnsTarget {
        preference,
        weight,
        ..LnsTarget::new(lns_addr(i))
    }
}

#[test]
fn calls_go_by_preference_then_weight_and_share_one_tunnel_per_lns() {
    // LNS 0 weight 3, LNS 1 weight 1, both preference 10; LNS 2 preference 20 (a backup).
    let mut bed = Bed::new(
        &[0, 0, 0],
        vec![target(2, 20, 100), target(0, 10, 3), target(1, 10, 1)],
        Duration::from_secs(60),
    );
    bed.dial(0, 40);
    assert!(bed.run(Duration::from_secs(60), Bed::all_up), "not all up");
    let per = bed.up_per_lns();
    assert_eq!(per.iter().sum::<usize>(), 40, "{per:?}");
    assert_eq!(
        per[2], 0,
        "the backup LNS gets nothing while the others answer"
    );
    // Weight 3 to 1: about 30 and 10 (the core is seeded: this split is reproducible).
    assert!(per[0] > 2 * per[1] && per[1] >= 4, "{per:?}");
    // Calls share a tunnel per LNS: one tunnel on each of the two LNSes, none to the third.
    let tunnels: Vec<usize> = bed
        .lnses
        .iter()
        .map(|l| l.core.endpoint().tunnel_count())
        .collect();
    assert_eq!(tunnels, vec![1, 1, 0]);
    let st = bed.lac_stats();
    assert_eq!((st.calls_up, st.lns_lockouts, st.calls_retried), (40, 0, 0));
}

#[test]
fn a_full_tunnel_makes_the_next_call_open_another() {
    let mut bed = Bed::new(
        &[0],
        vec![LnsTarget {
            max_sessions_per_tunnel: 2,
            ..target(0, 0, 1)
        }],
        Duration::from_secs(60),
    );
    bed.dial(0, 5);
    assert!(bed.run(Duration::from_secs(60), Bed::all_up), "not all up");
    assert_eq!(bed.up_per_lns(), vec![5]);
    // Two, two and one calls: three tunnels.
    assert_eq!(bed.lnses[0].core.endpoint().tunnel_count(), 3);
}

#[test]
fn an_lns_that_does_not_answer_is_locked_out_and_taken_back_after_the_lockout() {
    let lockout = Duration::from_secs(300);
    let mut bed = Bed::new(&[0, 0], vec![target(0, 1, 1), target(1, 2, 1)], lockout);
    // LNS 0 is unreachable for the first 200 s.
    let t0 = bed.h.now;
    bed.h
        .net
        .blackhole_addr(lns_addr(0), t0, t0 + Duration::from_secs(200));
    bed.dial(0, 1);
    // Its SCCRQ goes unanswered until the retransmissions run out; then the call goes to
    // LNS 1 and the subscriber gets up, none the wiser but for the wait.
    let up = bed.run(Duration::from_secs(120), Bed::all_up);
    let st = bed.lac_stats();
    assert!(
        up,
        "not up: {st:?} {:?}",
        bed.lac.core.pppoe_sessions(bed.h.now)
    );
    assert_eq!(bed.lns_of_subscribers(), vec![Some(1)]);
    assert!(
        bed.sent_to(lns_addr(0), t0) >= 2,
        "the SCCRQ was retransmitted"
    );
    let st = bed.lac_stats();
    assert_eq!((st.lns_lockouts, st.calls_retried), (1, 1));
    assert_eq!(st.lns_locked_out, vec![lns_addr(0).to_string()]);
    assert_eq!(bed.subs[0].padts, 0);

    // While it is locked out, calls go straight to LNS 1: nothing is sent to LNS 0.
    let t1 = bed.h.now;
    bed.dial(1, 3);
    assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
    assert_eq!(bed.lns_of_subscribers(), vec![Some(1); 3]);
    assert_eq!(bed.sent_to(lns_addr(0), t1), 0);

    // After the lockout (and with LNS 0 reachable again) it gets the next call.
    let until = t0 + lockout + Duration::from_secs(60);
    bed.run(until - bed.h.now, |_| false);
    assert!(bed.lac_stats().lns_locked_out.is_empty());
    bed.dial(3, 4);
    assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
    assert_eq!(bed.lns_of_subscribers()[3], Some(0));
}

#[test]
fn an_lns_refusing_the_call_with_a_cdn_is_locked_out_and_the_call_goes_on() {
    // LNS 0 takes one call; it refuses the second with a CDN.
    let mut bed = Bed::new(
        &[1, 0],
        vec![target(0, 1, 1), target(1, 2, 1)],
        Duration::from_secs(60),
    );
    bed.dial(0, 1);
    assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
    bed.dial(1, 2);
    assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
    assert_eq!(bed.lns_of_subscribers(), vec![Some(0), Some(1)]);
    let st = bed.lac_stats();
    assert_eq!(
        (st.lns_lockouts, st.calls_retried, st.calls_failed),
        (1, 1, 0)
    );
    assert!(bed.subs.iter().all(|s| s.padts == 0));
}

#[test]
fn sessions_move_to_the_other_lns_when_one_is_stopped_mid_run_and_none_hang() {
    let mut bed = Bed::new(
        &[0, 0],
        vec![target(0, 0, 1), target(1, 0, 1)],
        Duration::from_secs(600),
    );
    bed.dial(0, 20);
    assert!(bed.run(Duration::from_secs(60), Bed::all_up), "not all up");
    let before = bed.up_per_lns();
    assert!(before[0] > 0 && before[1] > 0, "{before:?}");
    for s in &mut bed.subs {
        s.redial = true;
    }
    // LNS 0 stops: StopCCN, then silence.
    let now = bed.h.now;
    bed.lnses[0].input(now, Input::Shutdown);
    let mut nodes: [&mut dyn Node; 1] = [&mut bed.lnses[0]];
    bed.h.flush(&mut nodes);
    bed.stopped[0] = true;
    // Its subscribers hear a PADT, dial again and land on LNS 1; every one gets up.
    let moved = bed.run(Duration::from_secs(120), |b| {
        b.all_up() && b.lns_of_subscribers().iter().all(|l| *l == Some(1))
    });
    let on: Vec<_> = bed.lns_of_subscribers();
    assert!(moved, "subscribers' LNS: {on:?}");
    assert_eq!(bed.up_per_lns()[1], 20);
    let dropped: usize = bed.subs.iter().map(|s| s.padts).sum();
    assert_eq!(dropped, before[0], "exactly LNS 0's subscribers were cut");
    let st = bed.lac_stats();
    assert_eq!(st.lns_locked_out, vec![lns_addr(0).to_string()]);
    assert_eq!(st.subscribers, 20);
    assert_eq!(st.relaying, 20);
}

/// FreeRADIUS's users: alice is steered by two tagged tunnels (the one of lower preference
/// is LNS 1 with its own tunnel password); bob is accepted without tunnels (the realm table
/// sends him to LNS 0); mallory's password is wrong.
const RADIUS_USERS: &str = r#"
"alice@wholesale.example"	Cleartext-Password := "secret"
	Tunnel-Type:1 = L2TP,
	Tunnel-Medium-Type:1 = IPv4,
	Tunnel-Server-Endpoint:1 = "192.0.2.41",
	Tunnel-Preference:1 = 20,
	Tunnel-Type:2 = L2TP,
	Tunnel-Medium-Type:2 = IPv4,
	Tunnel-Server-Endpoint:2 = "192.0.2.11",
	Tunnel-Password:2 = "tunnel-pw-from-radius",
	Tunnel-Preference:2 = 10,
	Tunnel-Assignment-Id:2 = "wholesale-1",
	Tunnel-Client-Auth-Id:2 = "lac-east"

"bob@wholesale.example"	Cleartext-Password := "secret"

"mallory@wholesale.example"	Cleartext-Password := "not-her-password"
"#;

/// Answers the LAC's Access-Requests through the real FreeRADIUS (our RADIUS client over a
/// loopback socket; wall-clock waits, bounded).
fn answer_through(fr: &freeradius::FreeRadius, lac: &mut SimCore, now: Instant) {
    use l2tp_radius::client::{Client, ClientConfig, ClientEvent, ServerConfig};
    use l2tp_radius::reply::AccessOutcome;
    use l2tpd::core::AuthAnswer;
    let reqs = std::mem::take(&mut lac.auth_requests);
    for req in reqs {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let cfg = ClientConfig::new(
            vec![ServerConfig {
                addr: fr.auth,
                secret: l2tp_radius::crypt::Secret::new(freeradius::SECRET),
                priority: 0,
            }],
            Vec::new(),
            l2tp_radius::request::NasIdentity {
                ip: Some(Ipv4Addr::LOCALHOST),
                ipv6: None,
                identifier: Some("sim-lac".into()),
            },
        );
        let mut c = Client::new(cfg, rand::rngs::StdRng::seed_from_u64(5));
        let access = l2tp_radius::request::AccessRequest {
            session: *req
                .radius
                .clone()
                .expect("the LAC describes the subscriber"),
            credentials: req.credentials.clone(),
        };
        c.authenticate(Instant::now(), access).unwrap();
        let end = Instant::now() + Duration::from_secs(15);
        let outcome = loop {
            assert!(Instant::now() < end, "no answer from FreeRADIUS");
            while let Some(t) = c.poll_transmit() {
                sock.send_to(&t.bytes, t.to).unwrap();
            }
            let mut buf = [0u8; 4096];
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                c.handle_datagram(Instant::now(), from, &buf[..n]);
            }
            if c.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                c.handle_timeout(Instant::now());
            }
            if let Some(ClientEvent::Access { outcome, .. }) = c.poll_event() {
                break outcome;
            }
        };
        let answer = match outcome {
            AccessOutcome::Accept(authz) => AuthAnswer::Radius {
                decision: ppp::AuthDecision::Accept,
                authz,
            },
            AccessOutcome::Reject { .. } => AuthAnswer::Reject,
        };
        lac.input(
            now,
            Input::AuthDecision {
                request: req,
                answer,
            },
        );
    }
}

#[test]
fn radius_tunnel_attributes_steer_the_call_to_the_lns_and_password_freeradius_names() {
    if !freeradius::can_run("radius_tunnel_attributes_steer_the_call") {
        return;
    }
    let fr = freeradius::FreeRadius::start_with("lac-steer", RADIUS_USERS, None);
    let t0 = Instant::now();
    // LNS 0: the realm's LNS, no tunnel secret. LNS 1: only FreeRADIUS names it, and it
    // demands tunnel authentication with the password FreeRADIUS gives (the LAC has no
    // tunnel secret of its own).
    let lnses = vec![
        lns(0, t0, 0),
        lns_with_secret(1, t0, 0, Some("tunnel-pw-from-radius")),
    ];
    let mut bed = Bed::with(
        t0,
        lnses,
        vec![target(0, 0, 1)],
        Duration::from_secs(60),
        true,
    );
    let run = |bed: &mut Bed, done: &dyn Fn(&Bed) -> bool| {
        for _ in 0..200 {
            let now = bed.h.now;
            answer_through(&fr, &mut bed.lac, now);
            if bed.run(Duration::from_millis(200), |b| {
                done(b) || !b.lac.auth_requests.is_empty()
            }) && done(bed)
            {
                return true;
            }
        }
        false
    };

    bed.dial_as(0, "alice@wholesale.example");
    assert!(run(&mut bed, &|b| b.subs[0].up.is_some()), "alice not up");
    // The preference-10 tunnel (tag 2): LNS 1, authenticated with its Tunnel-Password;
    // nothing was sent to the preference-20 one.
    assert_eq!(bed.lns_of_subscribers(), vec![Some(1)]);
    assert_eq!(bed.sent_to("192.0.2.41:1701".parse().unwrap(), t0), 0);
    let st = bed.lac_stats();
    assert_eq!((st.radius_steered, st.radius_rejected), (1, 0));
    let lns1 = bed.lnses[1].core.sessions(bed.h.now);
    assert_eq!(lns1[0].user.as_deref(), Some("alice@wholesale.example"));

    // Bob: accepted, no tunnel attributes: the realm table (LNS 0).
    bed.dial_as(1, "bob@wholesale.example");
    assert!(run(&mut bed, &|b| b.subs[1].up.is_some()), "bob not up");
    assert_eq!(bed.lns_of_subscribers()[1], Some(0));

    // Mallory: rejected: her authentication fails and her PPPoE session ends; no call.
    let calls = bed.lac_stats().calls_placed;
    bed.dial_as(2, "mallory@wholesale.example");
    let refused = run(&mut bed, &|b| b.subs[2].auth_failed && b.subs[2].padts > 0);
    let st = bed.lac_stats();
    assert!(refused, "mallory: {st:?}");
    assert_eq!((st.radius_rejected, st.calls_placed), (1, calls));
    assert_eq!(st.subscribers, 2);
}

/// Tunnel switching: subscriber → our PPPoE LAC → a switching LAC (LTS) → the LNS. The LTS
/// learns the user from the incoming call's proxy authentication, steers by its realm, and
/// passes the proxy AVPs on; the subscriber gets the LNS's address, and its PADT clears the
/// calls on every hop.
#[test]
fn a_switching_lac_relays_incoming_calls_to_the_lns_of_their_realm() {
    let t0 = Instant::now();
    let lts_addr: SocketAddr = "192.0.2.50:1701".parse().unwrap();
    let mut cfg = lac_config(5, None, Vec::new(), vec![AuthMethod::ChapMd5]);
    cfg.listen = vec![lts_addr];
    cfg.endpoint.host_name = "sim-lts".into();
    if let RoleSettings::Lac(l) = &mut cfg.role {
        l.switching = true;
        l.interfaces.clear();
        l.steering = RealmTable {
            realms: vec![("wholesale.example".into(), vec![target(0, 0, 1)])],
            default: Vec::new(),
        };
    }
    let lts = SimCore::new(
        l2tpd::core::Core::new(cfg, vec![lts_addr], t0).expect("LTS core"),
        vec![lts_addr],
    );
    // The PPPoE LAC sends the realm to the LTS.
    let mut bed = Bed::with(
        t0,
        vec![lns(0, t0, 0), lts],
        vec![LnsTarget::new(lts_addr)],
        Duration::from_secs(60),
        false,
    );
    bed.dial(0, 2);
    let up = bed.run(Duration::from_secs(60), Bed::all_up);
    let now = bed.h.now;
    assert!(
        up,
        "LAC {:?} {:?}\nLTS {:?}\nLNS {:?}",
        bed.lac.core.pppoe_sessions(now),
        bed.lac_stats(),
        bed.lnses[1].core.pppoe_sessions(now),
        bed.lnses[0].core.sessions(now)
    );
    assert_eq!(bed.lns_of_subscribers(), vec![Some(0), Some(0)]);
    let lns_sessions = bed.lnses[0].core.sessions(bed.h.now);
    assert_eq!(lns_sessions.len(), 2);
    assert!(lns_sessions.iter().all(|s| s.user.as_deref() == Some(USER)));
    // One LCP negotiation each, the PPPoE LAC's: the proxy AVPs reached the LNS through the
    // LTS and it took them over.
    let confreqs: Vec<usize> = bed.subs.iter().map(|s| s.lcp_confreqs).collect();
    assert_eq!(confreqs, vec![1, 1]);
    // The LNS's tunnel is the LTS's, not the PPPoE LAC's.
    let peers: Vec<SocketAddr> = bed.lnses[0]
        .core
        .endpoint()
        .tunnels()
        .map(|t| t.peer)
        .collect();
    assert_eq!(peers, vec![lts_addr]);
    let switched = bed.lnses[1].core.pppoe_sessions(bed.h.now);
    assert_eq!(switched.len(), 2);
    assert!(switched.iter().all(|s| s.state == "relaying"
        && s.user.as_deref() == Some(USER)
        && s.up_frames > 0
        && s.down_frames > 0));

    // The first subscriber hangs up: both hops clear its calls; the other stays up.
    let padt = bed.subs[0].discovery(MacAddr(LAC_MAC), Code::PADT, bed.subs[0].session, vec![]);
    let now = bed.h.now;
    bed.lac.input(
        now,
        Input::PppoeFrame {
            interface: 0,
            frame: &padt,
        },
    );
    let cleared = bed.run(Duration::from_secs(30), |b| {
        b.lnses[0].core.sessions(b.h.now).len() == 1
            && b.lnses[1].core.pppoe_sessions(b.h.now).len() == 1
    });
    assert!(cleared, "LNS {:?}", bed.lnses[0].core.sessions(bed.h.now));
    assert!(bed.subs[1].up.is_some());
}

/// A per-peer profile on the LNS decides what it does with one LAC's proxy AVPs: the same
/// subscriber through the same LAC negotiates LCP once when the LAC's profile accepts them,
/// twice when it says `renegotiate` (while `lns.proxy` stays `accept`).
#[test]
fn the_lns_honours_proxy_avps_per_peer_profile() {
    let confreqs = |mode: Option<ProxyMode>| {
        let t0 = Instant::now();
        let lns = lns_tweaked(0, t0, 0, None, |l| {
            if let Some(m) = mode {
                let p = l2tpd::config::profiles::PeerProfile {
                    address: Some("192.0.2.3".parse().unwrap()),
                    proxy: Some(m),
                    ..Default::default()
                };
                l.peer_policies = vec![l2tpd::core::PeerPolicy {
                    rule: p.rule(&Default::default()),
                    proxy: Some(m),
                    max_tunnels: 0,
                    max_sessions: 0,
                }];
            }
        });
        let mut bed = Bed::with(
            t0,
            vec![lns],
            vec![target(0, 0, 1)],
            Duration::from_secs(60),
            false,
        );
        bed.dial(0, 1);
        assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
        bed.subs[0].lcp_confreqs
    };
    assert_eq!(confreqs(None), 1);
    assert_eq!(confreqs(Some(ProxyMode::Accept)), 1);
    assert!(confreqs(Some(ProxyMode::Renegotiate)) >= 2);
}

/// While its call waits for an LNS that does not answer (15 s of SCCRQ retransmissions,
/// then the next LNS), a subscriber whose keepalive gives up after 2 unanswered
/// Echo-Requests 2 s apart stays up: the LAC answers its Echo-Requests meanwhile.
#[test]
fn a_subscriber_waiting_for_failover_has_its_lcp_echoes_answered() {
    let mut bed = Bed::new(
        &[0, 0],
        vec![target(0, 1, 1), target(1, 2, 1)],
        Duration::from_secs(60),
    );
    let t0 = bed.h.now;
    bed.h
        .net
        .blackhole_addr(lns_addr(0), t0, t0 + Duration::from_secs(600));
    let mut s = Sub::new(0);
    s.echo = Some((Duration::from_secs(2), 2));
    s.reset();
    s.dial(t0, &mut bed.lac);
    bed.subs.push(s);
    let up = bed.run(Duration::from_secs(60), Bed::all_up);
    let s = &bed.subs[0];
    assert!(
        up && !s.keepalive_lost && s.padts == 0,
        "keepalive lost: {}",
        s.keepalive_lost
    );
    assert_eq!(bed.lns_of_subscribers(), vec![Some(1)]);
    assert!(
        bed.h.now - t0 >= Duration::from_secs(10),
        "the failover took its time"
    );
}

/// The LAC sends each LNS the proxy AVPs its profile allows: all of them (the LNS takes the
/// subscriber's LCP and authentication over: one LCP negotiation, one CHAP challenge), the
/// proxy LCP only (the LNS challenges again), or none (the LNS negotiates LCP again).
#[test]
fn the_lac_sends_each_lns_the_proxy_avps_its_profile_allows() {
    use l2tpd::core::lac::SendProxy;
    let seen = |send: Option<SendProxy>| {
        let mut bed = Bed::new(&[0], vec![target(0, 0, 1)], Duration::from_secs(60));
        let t0 = bed.h.now;
        if let Some(s) = send {
            let p = l2tpd::config::profiles::PeerProfile {
                address: Some("192.0.2.1".parse().unwrap()),
                send_proxy: Some(s),
                ..Default::default()
            };
            let mut cfg = lac_config(1, None, Vec::new(), vec![AuthMethod::ChapMd5]);
            if let RoleSettings::Lac(l) = &mut cfg.role {
                l.steering = RealmTable {
                    realms: vec![("wholesale.example".into(), vec![target(0, 0, 1)])],
                    default: Vec::new(),
                };
                l.send_proxy = vec![(p.rule(&Default::default()), s)];
            }
            let addrs = cfg.listen.clone();
            let mut core = l2tpd::core::Core::new(cfg, addrs.clone(), t0).expect("LAC core");
            core.open_pppoe_interface(0, LAC_MAC, t0);
            bed.lac = SimCore::new(core, addrs);
        }
        bed.dial(0, 1);
        assert!(bed.run(Duration::from_secs(30), Bed::all_up), "not up");
        (bed.subs[0].lcp_confreqs, bed.subs[0].chap_challenges)
    };
    assert_eq!(seen(None), (1, 1));
    assert_eq!(seen(Some(SendProxy::All)), (1, 1));
    let (lcp, chap) = seen(Some(SendProxy::Lcp));
    assert_eq!(
        (lcp, chap >= 2),
        (1, true),
        "proxy LCP only: challenged again"
    );
    let (lcp, _) = seen(Some(SendProxy::None));
    assert!(lcp >= 2, "no proxy: LCP negotiated again ({lcp})");
}
