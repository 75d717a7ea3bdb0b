//! Two links (client and server) against each other in virtual time, through a tiny in-test
//! network that can lose and duplicate frames. No real clock, no sockets: every run is a
//! deterministic function of its seed.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ppp::{
    AuthDecision, AuthMethod, DownReason, Event, Ipv4Params, Link, LinkConfig, Phase, Protocol,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const POOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const DNS1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
const DNS2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 54);

/// What the server's "secrets file" answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// Look up the password and let the link verify.
    Secrets,
    /// Reject everyone.
    RejectAll,
    /// Claim MS-CHAPv2 success with a bogus authenticator response.
    BogusMsChapSuccess,
    /// Reject everyone with these words (a RADIUS server's).
    RejectWith(&'static str),
    /// As a RADIUS server checks MS-CHAPv2: a wrong password gets an MS-CHAP-Error that
    /// allows a retry with a fresh challenge (E=691 R=1 C=…).
    MsChapRetry,
}

struct Pair {
    start: Instant,
    now: Instant,
    server: Link,
    client: Link,
    /// Frames in flight: (delivery time, to_client, bytes).
    wire: Vec<(Instant, bool, Vec<u8>)>,
    net: ChaCha8Rng,
    loss: f64,
    dup: f64,
    /// Drop everything from the client to the server (peer vanished).
    client_mute: bool,
    backend: Backend,
    secrets: HashMap<String, String>,
    sev: Vec<Event>,
    cev: Vec<Event>,
    stale_decisions: u32,
    /// The MS-CHAPv2 authenticator challenges the backend was asked about.
    challenges: Vec<[u8; 16]>,
}

fn server_cfg(methods: Vec<AuthMethod>) -> LinkConfig {
    let mut c = LinkConfig::server(methods, SERVER_IP, [Some(DNS1), Some(DNS2)]);
    c.echo_interval = Some(Duration::from_secs(10));
    c
}

fn client_cfg(user: &str, pass: &str) -> LinkConfig {
    let mut c = LinkConfig::client(user, pass);
    c.echo_interval = None;
    c
}

impl Pair {
    fn new(seed: u64, server: LinkConfig, client: LinkConfig) -> Self {
        let start = Instant::now();
        let mut secrets = HashMap::new();
        secrets.insert("alice".to_string(), "wonderland".to_string());
        secrets.insert("CORP\\bob".to_string(), "hunter2".to_string());
        Pair {
            start,
            now: start,
            server: Link::new(server, ChaCha8Rng::seed_from_u64(seed * 2 + 1)),
            client: Link::new(client, ChaCha8Rng::seed_from_u64(seed * 2 + 2)),
            wire: Vec::new(),
            net: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed),
            loss: 0.0,
            dup: 0.0,
            client_mute: false,
            backend: Backend::Secrets,
            secrets,
            sev: Vec::new(),
            cev: Vec::new(),
            stale_decisions: 0,
            challenges: Vec::new(),
        }
    }

    fn lossy(mut self, loss: f64, dup: f64) -> Self {
        self.loss = loss;
        self.dup = dup;
        self
    }

    fn open(&mut self) {
        self.server.open(self.now);
        self.client.open(self.now);
    }

    fn latency(&mut self) -> Duration {
        Duration::from_millis(self.net.gen_range(5..40))
    }

    fn collect(&mut self) {
        // Events first: a decision queues frames that must leave at this same instant.
        self.events();
        while let Some(f) = self.server.poll_transmit() {
            self.put(true, f);
        }
        while let Some(f) = self.client.poll_transmit() {
            if !self.client_mute {
                self.put(false, f);
            }
        }
    }

    fn events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            if let Event::AuthRequest { user, ticket, .. } = &e {
                let d = match self.backend {
                    Backend::Secrets => match self.secrets.get(user) {
                        Some(p) => AuthDecision::Password(p.clone()),
                        None => AuthDecision::Reject,
                    },
                    Backend::RejectAll => AuthDecision::Reject,
                    Backend::RejectWith(m) => AuthDecision::RejectWith(m.to_string()),
                    Backend::MsChapRetry => {
                        let Event::AuthRequest {
                            credentials:
                                ppp::Credentials::MsChapV2 {
                                    authenticator_challenge: ac,
                                    peer_challenge: pc,
                                    nt_response: nt,
                                },
                            ..
                        } = &e
                        else {
                            panic!("MS-CHAPv2 expected: {e:?}")
                        };
                        self.challenges.push(*ac);
                        let pw = self.secrets.get(user).cloned().unwrap_or_default();
                        if ppp::mschapv2::generate_nt_response(ac, pc, user, &pw) == *nt {
                            AuthDecision::Password(pw)
                        } else {
                            let c: String = (0..16u8).map(|i| format!("{:02X}", i * 17)).collect();
                            AuthDecision::RejectWith(format!("E=691 R=1 C={c} V=3 M=try again"))
                        }
                    }
                    Backend::BogusMsChapSuccess => AuthDecision::AcceptMsChapV2 {
                        authenticator_response: [0x11; 20],
                    },
                };
                self.server.set_peer_ipv4(POOL_IP);
                // A request overtaken by renegotiation is no longer pending; a daemon drops
                // its answer, and so do we.
                match self.server.auth_decision(self.now, *ticket, d) {
                    Ok(()) => {}
                    Err(ppp::ApiError::NoPendingAuth) => self.stale_decisions += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            self.sev.push(e);
        }
        while let Some(e) = self.client.poll_event() {
            self.cev.push(e);
        }
        // Invariant on every run, successful or not: IPv4 never comes up without addresses.
        for e in self.sev.iter().chain(&self.cev) {
            if let Event::NetworkUp { ipv4 } = e {
                assert!(
                    !ipv4.local.is_unspecified() && !ipv4.peer.is_unspecified(),
                    "{e:?}"
                );
            }
        }
    }

    /// Queue a frame: random latency but in order per direction (PPP assumes an in-order
    /// link, RFC 1661 §1); maybe lost, maybe duplicated.
    fn put(&mut self, to_client: bool, f: Vec<u8>) {
        let lost = self.net.gen_bool(self.loss);
        if std::env::var("PPP_TRACE").is_ok() {
            let dir = if to_client { "S>" } else { "C>" };
            let tag = if lost { " (lost)" } else { "" };
            eprintln!("{:?} {dir} {}{tag}", self.now - self.start, hex::encode(&f));
        }
        if lost {
            return;
        }
        let copies = if self.net.gen_bool(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let last = self
                .wire
                .iter()
                .filter(|w| w.1 == to_client)
                .map(|w| w.0)
                .max();
            let at = (self.now + self.latency()).max(last.unwrap_or(self.now));
            self.wire.push((at, to_client, f.clone()));
        }
    }

    /// Run until `done` holds or `limit` of virtual time passes. Bounded.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        for _ in 0..200_000 {
            self.collect();
            if done(self) {
                return true;
            }
            let next_wire = self.wire.iter().map(|w| w.0).min();
            let next = [
                next_wire,
                self.server.poll_timeout(),
                self.client.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { return done(self) };
            if next > end {
                return done(self);
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (mut due, later): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|w| w.0 <= now);
            due.sort_by_key(|w| w.0); // stable: equal times keep their queue order
            self.wire = later;
            for (_, to_client, f) in due {
                if std::env::var("PPP_TRACE").is_ok() {
                    let dir = if to_client { "s->c" } else { "c->s" };
                    eprintln!("{:?} {dir} {}", now - self.start, hex::encode(&f));
                }
                if to_client {
                    self.client.handle_frame(now, &f);
                } else {
                    self.server.handle_frame(now, &f);
                }
            }
            if self.server.poll_timeout().is_some_and(|t| t <= now) {
                self.server.handle_timeout(now);
            }
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.handle_timeout(now);
            }
        }
        panic!("pump loop bound reached");
    }

    fn both_up(&self) -> bool {
        net_up(&self.sev).is_some() && net_up(&self.cev).is_some()
    }

    fn both_down(&self) -> bool {
        down(&self.sev).is_some() && down(&self.cev).is_some()
    }
}

fn net_up(ev: &[Event]) -> Option<Ipv4Params> {
    ev.iter().find_map(|e| match e {
        Event::NetworkUp { ipv4 } => Some(*ipv4),
        _ => None,
    })
}

fn down(ev: &[Event]) -> Option<DownReason> {
    ev.iter().find_map(|e| match e {
        Event::Down { reason } => Some(reason.clone()),
        _ => None,
    })
}

fn authenticated(ev: &[Event]) -> Option<(String, AuthMethod)> {
    ev.iter().find_map(|e| match e {
        Event::Authenticated { user, method } => Some((user.clone(), *method)),
        _ => None,
    })
}

const METHODS: [AuthMethod; 3] = [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2];

fn assert_up(p: &Pair, method: AuthMethod, user: &str) {
    assert_up_dns(p, method, user, true)
}

/// `strict_dns`: both DNS servers negotiated. Under heavy loss Max-Failure may turn the
/// server's DNS Naks into Rejects, and the link rightly comes up without them.
fn assert_up_dns(p: &Pair, method: AuthMethod, user: &str, strict_dns: bool) {
    let s = net_up(&p.sev).expect("server network up");
    let c = net_up(&p.cev).expect("client network up");
    assert_eq!((s.local, s.peer), (SERVER_IP, POOL_IP));
    assert_eq!((c.local, c.peer), (POOL_IP, SERVER_IP));
    if strict_dns {
        assert_eq!(c.dns, [Some(DNS1), Some(DNS2)]);
        assert_eq!(s.dns, [Some(DNS1), Some(DNS2)]);
    } else {
        for d in c.dns.iter().chain(&s.dns).flatten() {
            assert!(*d == DNS1 || *d == DNS2, "{d}");
        }
    }
    assert_eq!(authenticated(&p.sev), Some((user.to_string(), method)));
    assert_eq!(authenticated(&p.cev), Some((user.to_string(), method)));
    assert_eq!(p.server.phase(), Phase::Network);
    assert_eq!(p.client.phase(), Phase::Network);
    assert_eq!(down(&p.sev), None);
    assert_eq!(down(&p.cev), None);
}

#[test]
fn each_method_succeeds_on_a_clean_link() {
    for m in METHODS {
        let mut p = Pair::new(1, server_cfg(vec![m]), client_cfg("alice", "wonderland"));
        p.open();
        assert!(p.run_until(Duration::from_secs(10), Pair::both_up), "{m:?}");
        assert_up(&p, m, "alice");
        // Exactly one credentials check on a clean link.
        let asks = p
            .sev
            .iter()
            .filter(|e| matches!(e, Event::AuthRequest { .. }))
            .count();
        assert_eq!(asks, 1, "{m:?}");
    }
}

#[test]
fn server_preference_order_is_honoured() {
    // The server prefers MS-CHAPv2; a client accepting only CHAP-MD5 gets CHAP-MD5.
    let mut c = client_cfg("alice", "wonderland");
    c.auth.methods = vec![AuthMethod::ChapMd5];
    let mut p = Pair::new(
        2,
        server_cfg(vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5]),
        c,
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    assert_up(&p, AuthMethod::ChapMd5, "alice");
    // No common method at all: the server gives up with AuthRefused.
    let mut c = client_cfg("alice", "wonderland");
    c.auth.methods = vec![AuthMethod::Pap];
    let mut p = Pair::new(3, server_cfg(vec![AuthMethod::MsChapV2]), c);
    p.open();
    assert!(p.run_until(Duration::from_secs(60), Pair::both_down));
    assert_eq!(down(&p.sev), Some(DownReason::AuthRefused));
}

#[test]
fn each_method_fails_with_a_wrong_password() {
    for m in METHODS {
        let mut p = Pair::new(4, server_cfg(vec![m]), client_cfg("alice", "wrong"));
        p.open();
        assert!(
            p.run_until(Duration::from_secs(30), Pair::both_down),
            "{m:?}"
        );
        assert!(
            matches!(down(&p.sev), Some(DownReason::AuthFailed(_))),
            "{m:?}"
        );
        assert!(
            matches!(down(&p.cev), Some(DownReason::AuthFailed(_))),
            "{m:?}: {:?}",
            p.cev
        );
        assert!(net_up(&p.cev).is_none() && authenticated(&p.cev).is_none());
        assert_eq!(p.client.phase(), Phase::Dead);
    }
    // Unknown user, and a backend that rejects outright.
    let mut p = Pair::new(
        5,
        server_cfg(vec![AuthMethod::MsChapV2]),
        client_cfg("mallory", "x"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(30), Pair::both_down));
    let mut p = Pair::new(
        6,
        server_cfg(vec![AuthMethod::Pap]),
        client_cfg("alice", "wonderland"),
    );
    p.backend = Backend::RejectAll;
    p.open();
    assert!(p.run_until(Duration::from_secs(30), Pair::both_down));
    assert!(matches!(down(&p.cev), Some(DownReason::AuthFailed(_))));
}

#[test]
fn a_backends_words_reach_the_refused_client() {
    // RFC 2759 §6: the server's whole "E=… R=… C=… V=… M=…" text, as a RADIUS server sent
    // it in MS-CHAP-Error; a PAP or CHAP-MD5 refusal carries the Reply-Message.
    let server_text = "E=648 R=0 C=00112233445566778899AABBCCDDEEFF V=3 M=Password expired";
    for (seed, method, words, seen) in [
        (31, AuthMethod::MsChapV2, server_text, server_text),
        (
            32,
            AuthMethod::Pap,
            "Account suspended",
            "PAP Nak: Account suspended",
        ),
        (
            33,
            AuthMethod::ChapMd5,
            "Account suspended",
            "CHAP Failure: Account suspended",
        ),
        (
            34,
            AuthMethod::MsChapV2,
            "Account suspended",
            "M=Account suspended",
        ),
    ] {
        let mut p = Pair::new(seed, server_cfg(vec![method]), client_cfg("alice", "x"));
        p.backend = Backend::RejectWith(words);
        p.open();
        assert!(p.run_until(Duration::from_secs(30), |p| down(&p.cev).is_some()));
        match down(&p.cev) {
            Some(DownReason::AuthFailed(why)) => {
                assert!(why.contains(seen), "{method:?}: {why}");
                if words == "Account suspended" && method == AuthMethod::MsChapV2 {
                    assert!(why.contains("E=691"), "{why}");
                }
            }
            other => panic!("{method:?}: {other:?}"),
        }
    }
}

#[test]
fn ms_chap_v2_client_verifies_the_authenticator_response() {
    let mut p = Pair::new(
        7,
        server_cfg(vec![AuthMethod::MsChapV2]),
        client_cfg("alice", "x"),
    );
    p.backend = Backend::BogusMsChapSuccess;
    p.open();
    assert!(p.run_until(Duration::from_secs(30), |p| down(&p.cev).is_some()));
    match down(&p.cev) {
        Some(DownReason::AuthFailed(why)) => assert!(why.contains("authenticator"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(net_up(&p.cev).is_none());
}

#[test]
fn domain_user_with_ms_chap_v2() {
    let mut p = Pair::new(
        8,
        server_cfg(vec![AuthMethod::MsChapV2]),
        client_cfg("CORP\\bob", "hunter2"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    assert_up(&p, AuthMethod::MsChapV2, "CORP\\bob");
}

#[test]
fn lossy_duplicating_network_converges_for_every_method_and_seed() {
    let mut retransmissions = 0;
    let mut failed = Vec::new();
    let mut runs = 0;
    for m in METHODS {
        for seed in seeds(12) {
            runs += 1;
            let mut p = Pair::new(
                100 + seed,
                server_cfg(vec![m]),
                client_cfg("alice", "wonderland"),
            )
            .lossy(0.2, 0.15);
            p.open();
            if !p.run_until(Duration::from_secs(120), Pair::both_up) {
                failed.push(format!(
                    "{m:?} seed {seed}: server {:?} client {:?}",
                    p.sev, p.cev
                ));
                continue;
            }
            assert_up_dns(&p, m, "alice", false);
            // A clean PAP/CHAP run takes about 10 frames from the server.
            retransmissions += p.server.stats().tx_frames.saturating_sub(12);
        }
    }
    eprintln!("lossy sweep: {} of {runs} runs failed", failed.len());
    assert!(
        failed.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(retransmissions > 0, "the network did lose frames");
}

/// Seeds to run: `PPP_SEEDS=n` runs n seeds, `PPP_SEED=s` replays one.
fn seeds(default: u64) -> Vec<u64> {
    if let Some(s) = std::env::var("PPP_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![s];
    }
    let n = std::env::var("PPP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (0..n).collect()
}

#[test]
fn lossy_network_still_fails_a_wrong_password() {
    for m in METHODS {
        for seed in seeds(6) {
            let mut p = Pair::new(200 + seed, server_cfg(vec![m]), client_cfg("alice", "nope"))
                .lossy(0.2, 0.15);
            p.open();
            assert!(
                p.run_until(Duration::from_secs(120), Pair::both_down),
                "{m:?} {seed}"
            );
            assert!(authenticated(&p.cev).is_none() && authenticated(&p.sev).is_none());
            assert!(net_up(&p.cev).is_none());
        }
    }
}

#[test]
fn ip_packets_flow_both_ways_once_up() {
    let mut p = Pair::new(
        9,
        server_cfg(vec![AuthMethod::Pap]),
        client_cfg("alice", "wonderland"),
    );
    assert_eq!(
        p.client.send_ipv4(&[0x45]),
        Err(ppp::ApiError::NetworkNotUp)
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    let pkt = [0x45, 0, 0, 20, 1, 2, 3, 4];
    let f = p.server.send_ipv4(&pkt).unwrap();
    assert_eq!(ppp::classify(&f), Ok((Protocol::IPV4, &pkt[..])));
    p.client.handle_frame(p.now, &f);
    let f = p.client.send_ipv4(&pkt[..4]).unwrap();
    p.server.handle_frame(p.now, &f);
    assert_eq!(p.client.poll_event(), Some(Event::Ipv4Packet(pkt.to_vec())));
    assert_eq!(
        p.server.poll_event(),
        Some(Event::Ipv4Packet(pkt[..4].to_vec()))
    );
    assert_eq!(p.client.stats().rx_ip_packets, 1);
    let big = vec![0x45; 1500];
    assert!(matches!(
        p.server.send_ipv4(&big),
        Err(ppp::ApiError::TooBig { .. })
    ));
    // IPv6 was not negotiated.
    assert_eq!(
        p.server.send_ipv6(&[0x60]),
        Err(ppp::ApiError::NetworkNotUp)
    );
}

#[test]
fn keepalive_detects_a_vanished_peer() {
    let mut p = Pair::new(
        10,
        server_cfg(vec![AuthMethod::ChapMd5]),
        client_cfg("alice", "wonderland"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    // Link stays up across many echo intervals while the client answers.
    let t0 = p.now;
    assert!(!p.run_until(Duration::from_secs(95), |p| down(&p.sev).is_some()));
    assert!(p.server.stats().echo_replies >= 8, "{:?}", p.server.stats());
    // iOS-style vanish: nothing comes back any more.
    p.client_mute = true;
    assert!(p.run_until(Duration::from_secs(120), |p| down(&p.sev).is_some()));
    assert_eq!(down(&p.sev), Some(DownReason::KeepaliveTimeout));
    // 3 unanswered echoes 10 s apart, then at most Max-Terminate restart periods.
    let took = p.now - t0;
    assert!(took < Duration::from_secs(95 + 50), "{took:?}");
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn data_path_activity_counts_as_keepalive() {
    let mut p = Pair::new(
        19,
        server_cfg(vec![AuthMethod::Pap]),
        client_cfg("alice", "wonderland"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    // Echo replies stop, but the daemon keeps seeing data from the peer.
    p.client_mute = true;
    for _ in 0..30 {
        p.server.note_peer_activity();
        p.run_until(Duration::from_secs(2), |_| false);
    }
    assert_eq!(down(&p.sev), None, "60 s of data traffic keep the link up");
    // Data stops too: dead-peer detection takes over.
    assert!(p.run_until(Duration::from_secs(90), |p| down(&p.sev).is_some()));
    assert_eq!(down(&p.sev), Some(DownReason::KeepaliveTimeout));
}

#[test]
fn admin_close_terminates_both_sides() {
    let mut p = Pair::new(
        11,
        server_cfg(vec![AuthMethod::MsChapV2]),
        client_cfg("alice", "wonderland"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    p.server.close(p.now, "admin says bye");
    assert_eq!(p.server.phase(), Phase::Terminate);
    assert!(p.run_until(Duration::from_secs(30), Pair::both_down));
    assert_eq!(
        down(&p.sev),
        Some(DownReason::AdminClose("admin says bye".into()))
    );
    assert_eq!(down(&p.cev), Some(DownReason::PeerTerminated));
    assert!(p.cev.contains(&Event::NetworkDown));
    // Down is reported exactly once, and the link is inert afterwards.
    assert_eq!(
        p.sev
            .iter()
            .filter(|e| matches!(e, Event::Down { .. }))
            .count(),
        1
    );
    let before = p.server.stats();
    p.server
        .handle_frame(p.now, &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    assert!(p.server.poll_transmit().is_none());
    assert_eq!(p.server.stats().rx_discards, before.rx_discards + 1);
}

#[test]
fn lower_layer_down_is_immediate() {
    let mut p = Pair::new(
        12,
        server_cfg(vec![AuthMethod::Pap]),
        client_cfg("alice", "wonderland"),
    );
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    p.client.lower_down(p.now);
    assert!(p.client.poll_transmit().is_none());
    let evs: Vec<Event> = std::iter::from_fn(|| p.client.poll_event()).collect();
    assert_eq!(
        evs,
        vec![
            Event::NetworkDown,
            Event::Down {
                reason: DownReason::LowerLayerDown
            }
        ]
    );
}

#[test]
fn periodic_rechallenge_keeps_the_link_up() {
    for m in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let mut s = server_cfg(vec![m]);
        s.rechallenge_interval = Some(Duration::from_secs(30));
        let mut p = Pair::new(13, s, client_cfg("alice", "wonderland")).lossy(0.1, 0.1);
        p.open();
        assert!(p.run_until(Duration::from_secs(60), Pair::both_up));
        assert!(!p.run_until(Duration::from_secs(100), |p| down(&p.sev).is_some()));
        let asks = p
            .sev
            .iter()
            .filter(|e| matches!(e, Event::AuthRequest { .. }))
            .count();
        assert!(asks >= 3, "{m:?}: {asks} credential checks");
        assert_eq!(
            p.cev
                .iter()
                .filter(|e| matches!(e, Event::Authenticated { .. }))
                .count(),
            1
        );
    }
    // A re-challenge the backend now rejects (password changed) takes the link down.
    let mut s = server_cfg(vec![AuthMethod::ChapMd5]);
    s.rechallenge_interval = Some(Duration::from_secs(30));
    let mut p = Pair::new(14, s, client_cfg("alice", "wonderland"));
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    p.backend = Backend::RejectAll;
    assert!(p.run_until(Duration::from_secs(60), Pair::both_down));
    assert!(matches!(down(&p.cev), Some(DownReason::AuthFailed(_))));
}

#[test]
fn ipv6cp_alongside_ipcp() {
    let mut s = server_cfg(vec![AuthMethod::MsChapV2]);
    s.ipv6 = true;
    let mut c = client_cfg("alice", "wonderland");
    c.ipv6 = true;
    let mut p = Pair::new(15, s, c).lossy(0.1, 0.1);
    p.open();
    let v6 = |ev: &[Event]| {
        ev.iter().find_map(|e| match e {
            Event::Ipv6Up {
                local_iid,
                peer_iid,
            } => Some((*local_iid, *peer_iid)),
            _ => None,
        })
    };
    assert!(p.run_until(Duration::from_secs(60), |p| p.both_up()
        && v6(&p.sev).is_some()
        && v6(&p.cev).is_some()));
    let (sl, sp) = v6(&p.sev).unwrap();
    let (cl, cp) = v6(&p.cev).unwrap();
    assert_eq!((sl, sp), (cp, cl));
    assert_ne!(sl, cl);
    assert_ne!(sl, [0; 8]);
    let f = p.client.send_ipv6(&[0x60, 0, 0, 0]).unwrap();
    assert_eq!(ppp::classify(&f).unwrap().0, Protocol::IPV6);
}

#[test]
fn ipv6cp_refused_by_server_leaves_ipv4_up() {
    let mut c = client_cfg("alice", "wonderland");
    c.ipv6 = true;
    let mut p = Pair::new(16, server_cfg(vec![AuthMethod::Pap]), c);
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    // The server Protocol-Rejected IPv6CP; the client's IPv6CP stops, IPv4 stays up.
    assert!(!p.run_until(Duration::from_secs(60), |p| down(&p.cev).is_some()));
    assert!(p.server.stats().rx_unknown_protocol >= 1);
    assert_eq!(p.client.fsm_states().2, ppp::State::Stopped);
    assert!(!p.cev.iter().any(|e| matches!(e, Event::Ipv6Up { .. })));
}

#[test]
fn silent_peer_exhausts_max_configure() {
    let mut p = Pair::new(
        17,
        server_cfg(vec![AuthMethod::Pap]),
        client_cfg("alice", "wonderland"),
    );
    p.client_mute = true;
    p.server.open(p.now);
    assert!(p.run_until(Duration::from_secs(120), |p| down(&p.sev).is_some()));
    assert!(matches!(
        down(&p.sev),
        Some(DownReason::NegotiationFailed(_))
    ));
    // 10 Configure-Requests, 3 s apart.
    assert!(p.server.stats().tx_frames == 10, "{:?}", p.server.stats());
}

#[test]
fn server_without_pool_address_refuses_ipcp() {
    let s = server_cfg(vec![]);
    let mut p = Pair::new(18, s, client_cfg("alice", "wonderland"));
    p.open();
    // No authentication and no address to give: the client cannot get an address.
    assert!(p.run_until(Duration::from_secs(120), Pair::both_down));
    assert_eq!(down(&p.cev), Some(DownReason::NoNetworkProtocol));
}

#[test]
fn looped_back_link_is_detected() {
    // RFC 1661 §6.4: our own frames come straight back (a looped circuit).
    let mut c = client_cfg("alice", "wonderland");
    c.max_configure = 50;
    let mut l = Link::new(c, ChaCha8Rng::seed_from_u64(77));
    let t0 = Instant::now();
    let mut now = t0;
    l.open(now);
    let mut down = None;
    for _ in 0..1000 {
        while let Some(f) = l.poll_transmit() {
            l.handle_frame(now, &f);
        }
        if let Some(Event::Down { reason }) = std::iter::from_fn(|| l.poll_event()).last() {
            down = Some(reason);
            break;
        }
        match l.poll_timeout() {
            Some(t) => {
                now = t;
                l.handle_timeout(now);
            }
            None => break,
        }
    }
    assert_eq!(down, Some(DownReason::LoopedBack));
    assert!(
        now - t0 < Duration::from_secs(60),
        "detected quickly: {:?}",
        now - t0
    );
}

/// Line-quality probes measure what the network does: over a link losing 10% of frames each
/// way with 5–40 ms latency each way, about 19% of probes go unanswered and every round trip
/// lies within the latencies the network drew.
#[test]
fn quality_probes_measure_the_networks_loss_and_round_trip() {
    let mut server = server_cfg(vec![AuthMethod::ChapMd5]);
    server.quality = Some(ppp::probe::ProbeConfig::every(Duration::from_secs(1)));
    let mut p = Pair::new(31, server, client_cfg("alice", "wonderland"));
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    let _ = p.server.take_probe_stats();
    p.loss = 0.10;
    p.run_until(Duration::from_secs(1000), |_| false);
    p.loss = 0.0;
    // Let the last probes be answered or time out.
    p.run_until(Duration::from_secs(6), |_| false);
    assert_eq!(down(&p.sev), None, "{:?}", p.sev);
    let q = p.server.take_probe_stats().expect("the server probes");
    assert!((1000..=1007).contains(&q.sent), "{q:?}");
    assert!(
        q.answered + q.lost >= q.sent - 6 && q.answered + q.lost <= q.sent,
        "{q:?}"
    );
    let loss = f64::from(q.lost) / f64::from(q.answered + q.lost);
    assert!((0.13..0.25).contains(&loss), "loss {loss:.3}: {q:?}");
    let (min, max) = (q.rtt_min.unwrap(), q.rtt_max.unwrap());
    assert!(
        min >= Duration::from_millis(10) && max < Duration::from_millis(160),
        "{q:?}"
    );
    let avg = q.rtt_avg().unwrap();
    assert!(
        avg > Duration::from_millis(30) && avg < Duration::from_millis(70),
        "{q:?}"
    );
    // The client was not asked to probe.
    assert_eq!(p.client.take_probe_stats(), None);
}

/// A probing link whose LCP leaves the Opened state (the peer renegotiates, then goes silent)
/// does not spin on a probe deadline it cannot serve: virtual time moves on and the link ends
/// when LCP gives up.
#[test]
fn probes_pause_while_lcp_renegotiates() {
    let mut server = server_cfg(vec![AuthMethod::ChapMd5]);
    server.quality = Some(ppp::probe::ProbeConfig::every(Duration::from_secs(1)));
    let mut p = Pair::new(32, server, client_cfg("alice", "wonderland"));
    p.open();
    assert!(p.run_until(Duration::from_secs(10), Pair::both_up));
    p.run_until(Duration::from_secs(5), |_| false);
    // The peer asks to renegotiate LCP (a Configure-Request with a new magic number), then
    // nothing more comes from it.
    let now = p.now;
    let conf_req = [
        0xff, 0x03, 0xc0, 0x21, 0x01, 0x77, 0x00, 0x0a, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78,
    ];
    p.server.handle_frame(now, &conf_req);
    p.client_mute = true;
    assert!(
        p.run_until(Duration::from_secs(120), |p| down(&p.sev).is_some()),
        "the link never ended; stuck at {:?}",
        p.now - p.start
    );
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn ms_chap_v2_retry_within_the_same_lcp_session() {
    // RFC 2759 §9.1.4: "Failure (E=691 R=1) ... Response (++ID) to challenge in failure
    // message ... Success".
    let retry_challenge: Vec<u8> = (0..16u8).map(|i| i * 17).collect();
    let mut c = client_cfg("alice", "not-the-password");
    c.auth.retry_password = Some("wonderland".into());
    let mut p = Pair::new(41, server_cfg(vec![AuthMethod::MsChapV2]), c);
    p.backend = Backend::MsChapRetry;
    p.open();
    assert!(p.run_until(Duration::from_secs(30), |p| net_up(&p.cev).is_some()));
    assert_up(&p, AuthMethod::MsChapV2, "alice");
    assert_eq!(p.challenges.len(), 2, "two attempts");
    assert_eq!(
        p.challenges[1].to_vec(),
        retry_challenge,
        "the Failure's C="
    );

    // A client with no other password gives up: both ends see an authentication failure.
    let mut p = Pair::new(
        42,
        server_cfg(vec![AuthMethod::MsChapV2]),
        client_cfg("alice", "not-the-password"),
    );
    p.backend = Backend::MsChapRetry;
    p.open();
    assert!(p.run_until(Duration::from_secs(60), |p| {
        down(&p.cev).is_some() && down(&p.sev).is_some()
    }));
    assert!(matches!(down(&p.cev), Some(DownReason::AuthFailed(w)) if w.contains("R=1")));
    assert!(
        matches!(down(&p.sev), Some(DownReason::AuthFailed(_))),
        "{:?}",
        down(&p.sev)
    );

    // The other password is wrong too: one retry, then the client gives up.
    let mut c = client_cfg("alice", "not-the-password");
    c.auth.retry_password = Some("nor-this-one".into());
    let mut p = Pair::new(43, server_cfg(vec![AuthMethod::MsChapV2]), c);
    p.backend = Backend::MsChapRetry;
    p.open();
    assert!(p.run_until(Duration::from_secs(60), |p| down(&p.cev).is_some()));
    assert_eq!(p.challenges.len(), 2);
}
