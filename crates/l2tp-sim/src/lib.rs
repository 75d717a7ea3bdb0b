//! Seeded network simulator for tests, in virtual time.
//!
//! The simulator moves opaque datagrams between [`SocketAddr`]s. It knows nothing about L2TP
//! or PPP, so the control-plane tests, the PPP tests and the daemon tests can all reuse it.
//! Time is virtual: an [`Instant`] base plus offsets, advanced only by the caller, so a
//! simulated hour of retransmissions runs in milliseconds and every run is reproducible.
//!
//! Impairments, each drawn from one ChaCha stream seeded by the test:
//! - independent loss ([`NetConfig::loss`]) and bursts of loss (a Gilbert–Elliott two-state
//!   channel, [`BurstLoss`]);
//! - duplication ([`NetConfig::duplicate`]);
//! - delay with jitter, and reordering (a datagram held back by [`NetConfig::reorder_delay`]);
//! - blackholes: every datagram sent during a time window is dropped ([`Network::blackhole`]).
//!
//! Invariant: the same seed, configuration and sequence of calls yields the same deliveries.
//!
//! ```
//! use l2tp_sim::{NetConfig, Network};
//! use std::time::{Duration, Instant};
//! let t0 = Instant::now();
//! let a = "127.0.0.1:1701".parse().unwrap();
//! let b = "127.0.0.2:1701".parse().unwrap();
//! let mut net = Network::new(42, NetConfig::perfect(Duration::from_millis(10)));
//! net.send(t0, a, b, b"hello".to_vec());
//! let at = net.next_delivery().unwrap();
//! assert_eq!(at, t0 + Duration::from_millis(10));
//! let d = net.pop_due(at).unwrap();
//! assert_eq!((d.from, d.to, &d.payload[..]), (a, b, &b"hello"[..]));
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Environment variable that replaces a test's fixed seed list with one seed.
pub const SEED_ENV: &str = "L2TP_SIM_SEED";

/// The seeds a simulation test should run: the fixed CI list, or the single seed given in
/// `L2TP_SIM_SEED` (decimal or `0x` hex) so any failure can be replayed.
pub fn seeds(fixed: &[u64]) -> Vec<u64> {
    match std::env::var(SEED_ENV) {
        Ok(s) => {
            let s = s.trim();
            let parsed = if let Some(hex) = s.strip_prefix("0x") {
                u64::from_str_radix(hex, 16)
            } else {
                s.parse()
            };
            match parsed {
                Ok(seed) => vec![seed],
                Err(_) => panic!("{SEED_ENV}={s:?} is not a number"),
            }
        }
        Err(_) => fixed.to_vec(),
    }
}

/// Bursts of loss: a Gilbert–Elliott channel. In the good state datagrams follow
/// [`NetConfig::loss`]; in the bad state they are lost with probability `loss_in_burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstLoss {
    /// Probability, per datagram, of moving from the good to the bad state.
    pub enter: f64,
    /// Probability, per datagram, of moving from the bad back to the good state.
    pub exit: f64,
    /// Loss probability while in the bad state.
    pub loss_in_burst: f64,
}

/// Impairments applied to every datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// Base one-way delay.
    pub delay: Duration,
    /// Uniform extra delay in `[0, jitter]`.
    pub jitter: Duration,
    /// Independent loss probability (0.0..=1.0).
    pub loss: f64,
    /// Optional bursts of loss on top of `loss`.
    pub burst: Option<BurstLoss>,
    /// Probability that a delivered datagram is delivered twice (the copy with its own delay).
    pub duplicate: f64,
    /// Probability that a datagram is held back by an extra `reorder_delay`, so later ones
    /// overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
}

impl NetConfig {
    /// A network with a fixed delay and no impairment.
    pub fn perfect(delay: Duration) -> Self {
        NetConfig {
            delay,
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    /// A lossy network: `loss` independent loss, plus 5 % duplication, 10 % reordering by up
    /// to 30 ms and 0–5 ms jitter on a 10 ms delay (the control-plane simulation profile).
    pub fn lossy(loss: f64) -> Self {
        NetConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            loss,
            burst: None,
            duplicate: 0.05,
            reorder: 0.10,
            reorder_delay: Duration::from_millis(30),
        }
    }
}

/// A datagram leaving the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Virtual time of arrival.
    pub at: Instant,
    /// Sender address.
    pub from: SocketAddr,
    /// Receiver address.
    pub to: SocketAddr,
    /// The bytes, unchanged.
    pub payload: Vec<u8>,
}

/// What the network did, for assertions and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to [`Network::send`].
    pub sent: u64,
    /// Datagrams delivered (copies included).
    pub delivered: u64,
    /// Datagrams lost to random loss or bursts.
    pub lost: u64,
    /// Datagrams dropped by a blackhole.
    pub blackholed: u64,
    /// Extra copies created.
    pub duplicated: u64,
    /// Datagrams held back to be reordered.
    pub reordered: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    // Tie-breaker: datagrams due at the same instant leave in the order they were queued.
    order: u64,
    from: SocketAddr,
    to: SocketAddr,
    payload: Vec<u8>,
}

/// A blackhole: datagrams sent in `[from, until)` matching `link` are dropped.
#[derive(Debug, Clone, Copy)]
struct Blackhole {
    from: Instant,
    until: Instant,
    // None: all traffic; Some(addr): traffic from or to this address.
    addr: Option<SocketAddr>,
}

/// The simulated network: a seeded random stream and a queue of datagrams in flight.
#[derive(Debug)]
pub struct Network {
    rng: ChaCha8Rng,
    config: NetConfig,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    in_burst: bool,
    blackholes: Vec<Blackhole>,
    stats: NetStats,
}

impl Network {
    /// A network whose every random choice is drawn from `seed`.
    pub fn new(seed: u64, config: NetConfig) -> Self {
        Network {
            rng: ChaCha8Rng::seed_from_u64(seed),
            config,
            queue: BinaryHeap::new(),
            order: 0,
            in_burst: false,
            blackholes: Vec::new(),
            stats: NetStats::default(),
        }
    }

    /// Replaces the impairments (datagrams already in flight keep their schedule).
    pub fn set_config(&mut self, config: NetConfig) {
        self.config = config;
    }

    /// The current impairments.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Drops every datagram sent during `[from, until)`, in both directions.
    pub fn blackhole(&mut self, from: Instant, until: Instant) {
        self.blackholes.push(Blackhole {
            from,
            until,
            addr: None,
        });
    }

    /// Drops every datagram sent from or to `addr` during `[from, until)`.
    pub fn blackhole_addr(&mut self, addr: SocketAddr, from: Instant, until: Instant) {
        self.blackholes.push(Blackhole {
            from,
            until,
            addr: Some(addr),
        });
    }

    /// Counters so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Number of datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.gen_bool(p.min(1.0))
    }

    fn lost(&mut self) -> bool {
        if let Some(b) = self.config.burst {
            let flip = if self.in_burst { b.exit } else { b.enter };
            if self.chance(flip) {
                self.in_burst = !self.in_burst;
            }
            if self.in_burst {
                return self.chance(b.loss_in_burst);
            }
        }
        let p = self.config.loss;
        self.chance(p)
    }

    fn arrival(&mut self, now: Instant) -> Instant {
        let mut at = now + self.config.delay;
        let j = self.config.jitter.as_micros() as u64;
        if j > 0 {
            at += Duration::from_micros(self.rng.gen_range(0..=j));
        }
        if self.chance(self.config.reorder) {
            self.stats.reordered += 1;
            at += self.config.reorder_delay;
        }
        at
    }

    fn enqueue(&mut self, at: Instant, from: SocketAddr, to: SocketAddr, payload: Vec<u8>) {
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
            from,
            to,
            payload,
        }));
    }

    /// Hands a datagram to the network at virtual time `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, payload: Vec<u8>) {
        self.stats.sent += 1;
        let holed = self
            .blackholes
            .iter()
            .any(|b| now >= b.from && now < b.until && b.addr.is_none_or(|a| a == from || a == to));
        if holed {
            self.stats.blackholed += 1;
            return;
        }
        if self.lost() {
            self.stats.lost += 1;
            return;
        }
        if self.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            let at = self.arrival(now);
            self.enqueue(at, from, to, payload.clone());
        }
        let at = self.arrival(now);
        self.enqueue(at, from, to, payload);
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// The next datagram due at or before `now`, in arrival order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Delivery> {
        if self.next_delivery()? > now {
            return None;
        }
        let Reverse(f) = self.queue.pop()?;
        self.stats.delivered += 1;
        Some(Delivery {
            at: f.at,
            from: f.from,
            to: f.to,
            payload: f.payload,
        })
    }
}

/// A sans-IO protocol node the [`Harness`] can drive (an L2TP endpoint, a PPP link, a daemon
/// core). Addresses are the node's own; a node may own several.
pub trait Node {
    /// True when this node owns `addr` (datagrams to it are handed to this node).
    fn owns(&self, addr: SocketAddr) -> bool;
    /// A datagram arrived at `local` from `from`.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]);
    /// Timers due at or before `now` fire.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send: `(local, to, payload)`.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)>;
    /// The soonest timer.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Drives a set of [`Node`]s through a [`Network`] in virtual time.
#[derive(Debug)]
pub struct Harness {
    /// The network between the nodes.
    pub net: Network,
    /// Current virtual time.
    pub now: Instant,
    /// Datagrams addressed to nobody.
    pub undeliverable: u64,
}

impl Harness {
    /// A harness starting at virtual time `start`.
    pub fn new(net: Network, start: Instant) -> Self {
        Harness {
            net,
            now: start,
            undeliverable: 0,
        }
    }

    /// Moves every pending transmit of every node into the network.
    pub fn flush(&mut self, nodes: &mut [&mut dyn Node]) {
        for n in nodes.iter_mut() {
            while let Some((local, to, payload)) = n.poll_transmit() {
                self.net.send(self.now, local, to, payload);
            }
        }
    }

    /// Advances to the next event (a delivery or a timer) no later than `deadline` and
    /// processes it. Returns false when nothing is left to do before `deadline` (time then
    /// stands at `deadline`).
    pub fn step(&mut self, nodes: &mut [&mut dyn Node], deadline: Instant) -> bool {
        self.flush(nodes);
        let timer = nodes.iter().filter_map(|n| n.poll_timeout()).min();
        let next = match (timer, self.net.next_delivery()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => {
                    self.now = self.now.max(deadline);
                    return false;
                }
            },
        };
        if next > deadline {
            self.now = self.now.max(deadline);
            return false;
        }
        self.now = self.now.max(next);
        while let Some(d) = self.net.pop_due(self.now) {
            match nodes.iter_mut().find(|n| n.owns(d.to)) {
                Some(n) => n.handle_datagram(self.now, d.to, d.from, &d.payload),
                None => self.undeliverable += 1,
            }
        }
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|t| t <= self.now) {
                n.handle_timeout(self.now);
            }
        }
        self.flush(nodes);
        true
    }

    /// Runs until `done` returns true (checked after every step), the deadline passes, or
    /// `max_steps` steps have run. Returns whether `done` became true.
    pub fn run_until(
        &mut self,
        nodes: &mut [&mut dyn Node],
        deadline: Instant,
        max_steps: usize,
        mut done: impl FnMut(&mut [&mut dyn Node]) -> bool,
    ) -> bool {
        for _ in 0..max_steps {
            if done(nodes) {
                return true;
            }
            if !self.step(nodes, deadline) {
                return done(nodes);
            }
        }
        done(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "127.0.0.1:1701".parse().unwrap(),
            "127.0.0.2:1701".parse().unwrap(),
        )
    }

    fn run(seed: u64, cfg: NetConfig, n: usize) -> Vec<(Duration, u8)> {
        let t0 = Instant::now();
        let (a, b) = addrs();
        let mut net = Network::new(seed, cfg);
        for i in 0..n {
            net.send(t0 + Duration::from_millis(i as u64), a, b, vec![i as u8]);
        }
        let mut out = Vec::new();
        while let Some(at) = net.next_delivery() {
            let d = net.pop_due(at).unwrap();
            out.push((d.at - t0, d.payload[0]));
        }
        out
    }

    #[test]
    fn same_seed_same_deliveries() {
        let cfg = NetConfig::lossy(0.3);
        let x = run(7, cfg, 200);
        let y = run(7, cfg, 200);
        assert!(x == y, "same seed, different run");
        let z = run(8, cfg, 200);
        assert!(x != z, "a different seed should give a different run");
    }

    #[test]
    fn loss_duplication_and_reordering_happen_at_about_the_configured_rates() {
        let t0 = Instant::now();
        let (a, b) = addrs();
        let mut net = Network::new(1, NetConfig::lossy(0.3));
        for i in 0..10_000u32 {
            net.send(
                t0 + Duration::from_millis(i as u64),
                a,
                b,
                i.to_be_bytes().to_vec(),
            );
        }
        let s = net.stats();
        assert!((2700..3300).contains(&s.lost), "lost {}", s.lost);
        assert!((200..500).contains(&s.duplicated), "dup {}", s.duplicated);
        let mut last = 0u32;
        let mut out_of_order = 0;
        while let Some(at) = net.next_delivery() {
            let d = net.pop_due(at).unwrap();
            let i = u32::from_be_bytes(d.payload.try_into().unwrap());
            if i < last {
                out_of_order += 1;
            }
            last = last.max(i);
        }
        assert!(out_of_order > 100, "reordered {out_of_order}");
        assert_eq!(net.stats().delivered, 10_000 - s.lost + s.duplicated);
    }

    #[test]
    fn blackhole_drops_only_inside_its_window() {
        let t0 = Instant::now();
        let (a, b) = addrs();
        let mut net = Network::new(3, NetConfig::perfect(Duration::from_millis(1)));
        net.blackhole(t0 + Duration::from_secs(1), t0 + Duration::from_secs(2));
        for ms in [0u64, 999, 1000, 1500, 1999, 2000] {
            net.send(t0 + Duration::from_millis(ms), a, b, vec![]);
        }
        assert_eq!(net.stats().blackholed, 3);
        assert_eq!(net.in_flight(), 3);
    }

    #[test]
    fn bursts_lose_consecutive_datagrams() {
        let cfg = NetConfig {
            burst: Some(BurstLoss {
                enter: 0.02,
                exit: 0.2,
                loss_in_burst: 1.0,
            }),
            ..NetConfig::perfect(Duration::from_millis(1))
        };
        let got = run(11, cfg, 5000);
        let ids: Vec<u8> = got.iter().map(|d| d.1).collect();
        // Count gaps of more than one consecutive datagram.
        let mut long_gaps = 0;
        for w in ids.windows(2) {
            if w[1].wrapping_sub(w[0]) > 2 {
                long_gaps += 1;
            }
        }
        assert!(got.len() < 5000 && got.len() > 3500, "{}", got.len());
        assert!(long_gaps > 10, "long gaps {long_gaps}");
    }

    #[test]
    fn seeds_default_to_the_fixed_list() {
        if std::env::var(SEED_ENV).is_err() {
            assert_eq!(seeds(&[1, 2, 3]), vec![1, 2, 3]);
        }
    }
}
