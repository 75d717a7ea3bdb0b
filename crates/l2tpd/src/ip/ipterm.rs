//! Where a session's IP packets end up once PPP's network phase is up.
//!
//! In the seed, the kernel creates a PPP interface per session and IP goes through the
//! kernel stack. Here the daemon terminates IP itself, in one of these ways:
//!
//! - an [`IpApp`] inside the process: the no-root demo's pinger (client side) and echo
//!   responder (LNS side answering for its own address) — the same code path as a TUN up to
//!   the point where a packet is handed over;
//! - a TUN device per session (the client default, like pppd's `ppp0`);
//! - one shared TUN with a route per session (the LNS default at scale, as l2tpns does).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use l2tp_proto::data::SessionKey;
use ppp::Ipv4Params;

use super::inet;

/// IP packets to send into sessions: (session, packet).
pub type Outbox = Vec<(SessionKey, Vec<u8>)>;

/// An application terminating IP inside the daemon (no TUN device).
pub trait IpApp: Send {
    /// IPCP came up on `key` with these addresses.
    fn session_up(&mut self, now: Instant, key: SessionKey, ipv4: Ipv4Params);
    /// IPv6CP came up on `key` with these link-local addresses.
    fn session_up_v6(
        &mut self,
        _now: Instant,
        _key: SessionKey,
        _local: Ipv6Addr,
        _peer: Ipv6Addr,
    ) {
    }
    /// The session is gone.
    fn session_down(&mut self, key: SessionKey);
    /// An IP packet arrived from the peer on `key`; replies go to `out`.
    fn packet(&mut self, now: Instant, key: SessionKey, packet: &[u8], out: &mut Outbox);
    /// Time passed; packets to send go to `out`.
    fn poll(&mut self, now: Instant, out: &mut Outbox);
    /// When `poll` wants to run next.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// LNS side of the demo: answers ICMP echo requests addressed to the LNS's own address on
/// each session (what the kernel behind a TUN would do), and counts them.
#[derive(Debug, Default)]
pub struct EchoResponder {
    local: HashMap<SessionKey, (Ipv4Addr, Option<Ipv6Addr>)>,
    /// Echo requests answered.
    pub answered: u64,
}

impl IpApp for EchoResponder {
    fn session_up(&mut self, _now: Instant, key: SessionKey, ipv4: Ipv4Params) {
        self.local.entry(key).or_insert((ipv4.local, None)).0 = ipv4.local;
    }
    fn session_up_v6(&mut self, _now: Instant, key: SessionKey, local: Ipv6Addr, _peer: Ipv6Addr) {
        self.local
            .entry(key)
            .or_insert((Ipv4Addr::UNSPECIFIED, None))
            .1 = Some(local);
    }
    fn session_down(&mut self, key: SessionKey) {
        self.local.remove(&key);
    }
    fn packet(&mut self, _now: Instant, key: SessionKey, packet: &[u8], out: &mut Outbox) {
        let Some(&(v4, v6)) = self.local.get(&key) else {
            return;
        };
        if let Some(reply) = inet::answer_echo(packet, Some(v4), v6) {
            self.answered += 1;
            out.push((key, reply));
        }
    }
    fn poll(&mut self, _now: Instant, _out: &mut Outbox) {}
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Per-session ping state of the [`Pinger`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingStatus {
    /// Our address.
    pub local: Ipv4Addr,
    /// Address pinged (the LNS's end of the link).
    pub target: Ipv4Addr,
    /// Echo requests sent.
    pub sent: u16,
    /// Echo replies received (matching id and an outstanding sequence number).
    pub received: u16,
    /// Round-trip time of the last reply.
    pub last_rtt: Option<Duration>,
    next_at: Instant,
    sent_at: Instant,
}

/// Client side of the demo: sends `count` ICMP echo requests to the peer's address on each
/// session, one per `interval`, and records the replies.
#[derive(Debug)]
pub struct Pinger {
    count: u16,
    interval: Duration,
    id: u16,
    sessions: HashMap<SessionKey, PingStatus>,
}

impl Pinger {
    /// A pinger sending `count` echoes per session, `interval` apart.
    pub fn new(count: u16, interval: Duration) -> Self {
        Pinger {
            count,
            interval,
            id: 0x4c32,
            sessions: HashMap::new(),
        }
    }

    /// Status of every session that came up, by key.
    pub fn status(&self) -> impl Iterator<Item = (&SessionKey, &PingStatus)> {
        self.sessions.iter()
    }

    /// True when every session that came up has sent all its echoes and got every reply.
    pub fn all_answered(&self) -> bool {
        self.sessions.values().all(|s| s.received >= self.count)
    }
}

impl IpApp for Pinger {
    fn session_up(&mut self, now: Instant, key: SessionKey, ipv4: Ipv4Params) {
        self.sessions.insert(
            key,
            PingStatus {
                local: ipv4.local,
                target: ipv4.peer,
                sent: 0,
                received: 0,
                last_rtt: None,
                next_at: now,
                sent_at: now,
            },
        );
    }
    fn session_down(&mut self, key: SessionKey) {
        self.sessions.remove(&key);
    }
    fn packet(&mut self, now: Instant, key: SessionKey, packet: &[u8], _out: &mut Outbox) {
        let Some(st) = self.sessions.get_mut(&key) else {
            return;
        };
        if let Some(r) = inet::parse_echo_reply(packet) {
            if r.id == self.id && r.seq < st.sent && st.received < st.sent {
                st.received += 1;
                st.last_rtt = Some(now.saturating_duration_since(st.sent_at));
            }
        }
    }
    fn poll(&mut self, now: Instant, out: &mut Outbox) {
        for (key, st) in &mut self.sessions {
            if st.sent < self.count && st.next_at <= now {
                out.push((
                    *key,
                    inet::icmpv4_echo_request(st.local, st.target, self.id, st.sent, 56),
                ));
                st.sent += 1;
                st.sent_at = now;
                st.next_at = now + self.interval;
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter(|s| s.sent < self.count)
            .map(|s| s.next_at)
            .min()
    }
}

/// Shares an app with the code that started the node (the demo reads the pinger's results).
impl<T: IpApp> IpApp for std::sync::Arc<std::sync::Mutex<T>> {
    fn session_up(&mut self, now: Instant, key: SessionKey, ipv4: Ipv4Params) {
        lock(self).session_up(now, key, ipv4);
    }
    fn session_up_v6(&mut self, now: Instant, key: SessionKey, local: Ipv6Addr, peer: Ipv6Addr) {
        lock(self).session_up_v6(now, key, local, peer);
    }
    fn session_down(&mut self, key: SessionKey) {
        lock(self).session_down(key);
    }
    fn packet(&mut self, now: Instant, key: SessionKey, packet: &[u8], out: &mut Outbox) {
        lock(self).packet(now, key, packet, out);
    }
    fn poll(&mut self, now: Instant, out: &mut Outbox) {
        lock(self).poll(now, out);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        lock(self).poll_timeout()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
