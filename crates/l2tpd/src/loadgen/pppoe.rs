//! `l2tpd loadgen --pppoe-interface IF`: N emulated PPPoE subscribers ([`Subscriber`]) on
//! one Ethernet interface (raw `AF_PACKET` sockets, one Ethernet address each), toward a
//! LAC that relays them to an LNS. Discovery is paced (`--rate` PADIs per second, at most
//! `--window` subscribers negotiating at once); each subscriber completes LCP, PAP or
//! CHAP-MD5 and IPCP. Reports how many came up, how fast, the addresses they were given,
//! and, while they are held, how many LCP echoes they sent through the relay and got back.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tp_io::packet::{PppoeSocket, TrunkSocket};
use l2tp_io::poller::{Events, Interest, Poller, Token};
use pppoe::{Frame, MacAddr, VlanTag};

use super::subscriber::{Status, Subscriber};
use super::LoadgenArgs;

/// Most subscribers (their addresses are 02:4c:47 and a 24-bit number).
pub const MAX_SUBSCRIBERS: u32 = 1 << 24;
/// Frames read per socket per turn.
const RX_BUDGET: usize = 512;
/// Largest frame read.
const FRAME_MAX: usize = 2048;

/// What a PPPoE run measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PppoeReport {
    /// Subscribers asked for.
    pub requested: u64,
    /// Subscribers whose IPCP came up.
    pub established: u64,
    /// Subscribers that gave up (discovery unanswered, refused, PPP failed).
    pub failed: u64,
    /// Seconds from the first PADI to the last subscriber up.
    pub seconds: f64,
    /// established / seconds.
    pub sessions_per_second: f64,
    /// The addresses IPCP gave, one per established subscriber, in subscriber order.
    pub addresses: Vec<String>,
    /// How many of them are different.
    pub distinct_addresses: u64,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
    /// LCP Echo-Requests the subscribers sent, and Echo-Replies they got back.
    pub echo_requests: u64,
    /// See `echo_requests`.
    pub echo_replies: u64,
    /// Subscribers whose session went down after it was up (PADT, LCP down).
    pub lost: u64,
}

/// The subscriber with Ethernet address `mac`, if it is one of ours.
fn index_of(mac: MacAddr) -> Option<usize> {
    let m = mac.0;
    (m[..3] == [0x02, 0x4c, 0x47])
        .then(|| usize::from(m[3]) << 16 | usize::from(m[4]) << 8 | usize::from(m[5]))
}

fn mac_of(i: usize) -> MacAddr {
    MacAddr([0x02, 0x4c, 0x47, (i >> 16) as u8, (i >> 8) as u8, i as u8])
}

/// The subscribers and their timers.
struct Fleet {
    subs: Vec<Subscriber>,
    /// (deadline, subscriber) soonest first; an entry whose subscriber's deadline moved is
    /// skipped when it comes due.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    scheduled: Vec<Option<Instant>>,
    out: Vec<Vec<u8>>,
}

impl Fleet {
    fn schedule(&mut self, i: usize) {
        if let Some(t) = self.subs[i].poll_timeout() {
            if self.scheduled[i] != Some(t) {
                self.scheduled[i] = Some(t);
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.scheduled[i] != Some(t) {
                continue;
            }
            self.scheduled[i] = None;
            self.subs[i].handle_timeout(now, &mut self.out);
            self.schedule(i);
        }
    }

    fn receive(&mut self, now: Instant, frame: &[u8]) {
        let Ok(f) = Frame::decode(frame) else {
            return;
        };
        let Some(i) = index_of(f.eth.dst).filter(|&i| i < self.subs.len()) else {
            return;
        };
        self.subs[i].handle_frame(now, &f, &mut self.out);
        self.schedule(i);
    }

    fn count(&self, s: Status) -> usize {
        self.subs.iter().filter(|x| x.status() == s).count()
    }
}

/// The generator's sockets: one per PPPoE EtherType for untagged subscribers; one that sees
/// tagged frames with their tags when subscribers have VLANs.
enum Sockets {
    Plain(PppoeSocket),
    Trunk(TrunkSocket),
}

impl Sockets {
    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        match self {
            Sockets::Plain(s) => vec![s.discovery.as_raw_fd(), s.session.as_raw_fd()],
            Sockets::Trunk(s) => vec![s.as_raw_fd()],
        }
    }

    fn recv(&self, which: usize, buf: &mut [u8]) -> io::Result<usize> {
        match (self, which) {
            (Sockets::Plain(s), 0) => s.discovery.recv(buf),
            (Sockets::Plain(s), _) => s.session.recv(buf),
            (Sockets::Trunk(s), _) => s.recv(buf),
        }
    }

    fn send(&self, f: &[u8]) -> io::Result<usize> {
        match self {
            Sockets::Plain(s) => s.send(f),
            Sockets::Trunk(s) => s.send(f),
        }
    }
}

/// `--vlans FIRST[-LAST]`: the VLAN ids, in order.
fn parse_vlans(spec: &str) -> Result<Vec<u16>, String> {
    let bad = || format!("--vlans {spec:?}: FIRST or FIRST-LAST, VLAN ids 1 to 4094");
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || b > 4094 || a > b {
        return Err(bad());
    }
    Ok((a..=b).collect())
}

fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Runs the PPPoE generator on `iface`; returns the report (also printed).
pub fn run(iface: &str, args: &LoadgenArgs, stop: &AtomicBool) -> Result<PppoeReport, String> {
    let n = args.subscribers;
    if n == 0 || n >= MAX_SUBSCRIBERS || args.rate == 0 || args.window == 0 {
        return Err(format!(
            "1 ≤ --subscribers < {MAX_SUBSCRIBERS}, --rate ≥ 1, --window ≥ 1"
        ));
    }
    let vids = args.vlans.as_deref().map(parse_vlans).transpose()?;
    // Thousands of subscribers answered in bursts: room for them between two reads.
    let sock = if vids.is_some() {
        let s = TrunkSocket::open(iface).map_err(io_err(iface))?;
        let _ = s.set_recv_buffer(8 << 20);
        Sockets::Trunk(s)
    } else {
        let s = PppoeSocket::open(iface).map_err(io_err(iface))?;
        let _ = s.discovery.set_recv_buffer(8 << 20);
        let _ = s.session.set_recv_buffer(8 << 20);
        Sockets::Plain(s)
    };
    let poller = Poller::new().map_err(io_err("poller"))?;
    for (i, fd) in sock.fds().into_iter().enumerate() {
        poller
            .register(fd, Token(i as u64), Interest::READABLE)
            .map_err(io_err("poller"))?;
    }
    let nsock = sock.fds().len();
    let cfg = Arc::new(Subscriber::link_config(&args.user, &args.password));
    let n = n as usize;
    let mut fleet = Fleet {
        subs: (0..n)
            .map(|i| {
                let vlans = vids
                    .as_ref()
                    .map(|v| vec![VlanTag::dot1q(v[i % v.len()])])
                    .unwrap_or_default();
                Subscriber::new(mac_of(i), vlans, cfg.clone(), i as u64 + 1)
            })
            .collect(),
        timers: BinaryHeap::new(),
        scheduled: vec![None; n],
        out: Vec::new(),
    };
    let mut buf = vec![0u8; FRAME_MAX];
    let mut events = Events::with_capacity(4);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout);
    let mut started = 0usize;
    let (mut up, mut failed) = (0usize, 0usize);
    let mut last_count = start;
    let mut last_up = start;
    let mut send_errors = 0u64;
    let mut step = |fleet: &mut Fleet, now: Instant, wait: Duration| -> Result<(), String> {
        for which in 0..nsock {
            for _ in 0..RX_BUDGET {
                match sock.recv(which, &mut buf) {
                    Ok(len) => fleet.receive(now, &buf[..len]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        fleet.run_timers(now);
        for f in fleet.out.drain(..) {
            if sock.send(&f).is_err() {
                send_errors += 1;
            }
        }
        let next = fleet
            .timers
            .peek()
            .map(|Reverse((t, _))| t.saturating_duration_since(Instant::now()));
        let wait = next.map_or(wait, |t| t.min(wait));
        poller.wait(&mut events, Some(wait)).map_err(io_err("poll"))
    };
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        // Pacing: PADIs at `rate` per second, and no more than `window` subscribers
        // negotiating at once.
        let due = ((now - start).as_secs_f64() * f64::from(args.rate)) as usize + 1;
        while started < n.min(due) && started - (up + failed) < args.window as usize {
            fleet.subs[started].start(now, &mut fleet.out);
            fleet.schedule(started);
            started += 1;
        }
        step(&mut fleet, now, Duration::from_millis(5))?;
        if now.duration_since(last_count) >= Duration::from_millis(50) || started == n {
            last_count = now;
            let u = fleet.count(Status::Up);
            if u > up {
                last_up = now;
            }
            up = u;
            failed = fleet.count(Status::Failed);
            if up + failed >= n {
                break;
            }
        }
    }
    let seconds = last_up.duration_since(start).as_secs_f64().max(1e-6);
    let established = fleet.subs.iter().filter(|s| s.up_at.is_some()).count() as u64;
    if !args.json {
        println!(
            "loadgen: {established}/{n} PPPoE subscribers up in {seconds:.2} s ({:.0} sessions/s)",
            established as f64 / seconds
        );
    }

    // Hold: the LNS's echoes are answered; ours, every `echo_interval`, go through the relay.
    let hold_until = Instant::now() + Duration::from_secs(args.hold);
    let echo_every =
        (args.echo_interval_ms > 0).then(|| Duration::from_millis(args.echo_interval_ms));
    let mut next_echo = Instant::now();
    while Instant::now() < hold_until && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Some(every) = echo_every {
            if now >= next_echo {
                next_echo = now + every;
                for i in 0..n {
                    if fleet.subs[i].status() == Status::Up {
                        fleet.subs[i].send_echo(now, &mut fleet.out);
                        fleet.schedule(i);
                    }
                }
            }
        }
        let wait = echo_every.map_or(Duration::from_millis(100), |e| {
            e.min(Duration::from_millis(100))
        });
        step(&mut fleet, now, wait)?;
    }
    // A last read for the replies in flight, then everyone hangs up.
    let settle = Instant::now() + Duration::from_millis(200);
    while echo_every.is_some() && Instant::now() < settle {
        step(&mut fleet, Instant::now(), Duration::from_millis(20))?;
    }
    let (mut echo_requests, mut echo_replies) = (0, 0);
    for s in &fleet.subs {
        if let Some(st) = s.link_stats() {
            echo_requests += st.echo_requests;
            echo_replies += st.echo_replies;
        }
    }
    let lost = fleet.subs.iter().filter(|s| s.lost).count() as u64;
    let mut failures = BTreeMap::new();
    for s in &fleet.subs {
        if let (Some(why), None) = (&s.failure, s.up_at) {
            *failures.entry(why.clone()).or_insert(0) += 1;
        }
    }
    let never_up = fleet.subs.iter().filter(|s| s.up_at.is_none()).count() as u64;
    if never_up > failures.values().sum::<u64>() {
        failures.insert(
            "still negotiating at the timeout".into(),
            never_up - failures.values().sum::<u64>(),
        );
    }
    for i in 0..n {
        fleet.subs[i].hang_up(&mut fleet.out);
        for f in fleet.out.drain(..) {
            let _ = sock.send(&f);
        }
    }
    let addresses: Vec<String> = fleet
        .subs
        .iter()
        .filter_map(|s| s.address.map(|a| a.to_string()))
        .collect();
    let distinct = addresses.iter().collect::<HashSet<_>>().len() as u64;
    let report = PppoeReport {
        requested: n as u64,
        established,
        failed: never_up,
        seconds,
        sessions_per_second: established as f64 / seconds,
        addresses,
        distinct_addresses: distinct,
        failures,
        echo_requests,
        echo_replies,
        lost,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "loadgen: {} distinct addresses; {echo_replies}/{echo_requests} echoes answered; {lost} lost while held; failures {:?}",
            report.distinct_addresses, report.failures
        );
    }
    if send_errors > 0 {
        tracing::warn!(send_errors, "frames could not be sent");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_addresses_round_trip_and_foreign_ones_are_not_ours() {
        for i in [0, 1, 255, 256, 65_535, 1 << 20, (1 << 24) - 1] {
            assert_eq!(index_of(mac_of(i)), Some(i));
        }
        assert_eq!(index_of(MacAddr([0x02, 0x4c, 0x48, 0, 0, 1])), None);
        assert_eq!(index_of(MacAddr::BROADCAST), None);
    }

    #[test]
    fn vlan_ranges_parse_and_nonsense_is_refused() {
        assert_eq!(parse_vlans("100-103"), Ok(vec![100, 101, 102, 103]));
        assert_eq!(parse_vlans("7"), Ok(vec![7]));
        for bad in ["0", "5-4", "4095", "a-b", "", "1-"] {
            assert!(parse_vlans(bad).is_err(), "{bad}");
        }
    }
}
