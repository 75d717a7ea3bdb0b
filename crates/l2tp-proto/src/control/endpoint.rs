//! The [`Endpoint`]: every tunnel of one L2TP node, demultiplexed, behind the sans-IO
//! contract (inputs take `now`, outputs are drained with `poll_*`).
//!
//! Tunnels are found by our tunnel id (the id in the header of every message after SCCRQ),
//! and a new SCCRQ (tunnel id 0) by (peer address, peer port, peer's tunnel id): several
//! clients behind one NAT use source port 1701, and a retransmitted SCCRQ must find the
//! tunnel its first copy created. Data messages (T=0) are the datapath's and ignored here.
//!
//! Admission of new tunnels (issue 9, docs/robustness.md §1b): an SCCRQ refused on its
//! content is answered statelessly; accepted incoming tunnels wait for their SCCCN in a
//! bounded half-open table that evicts its oldest entry when full (keeping a compact record
//! from which a late SCCCN rebuilds it), and under pressure nothing more than the SCCRP is
//! sent to peers that never answered.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use l2tp_wire::{
    ControlMessage, FailoverAvp, Header, ResultCode, SeqNum, SessionId, StopCcn, TunnelId,
    TunnelRecovery,
};
use rand::RngCore;

use super::config::{CallParams, EndpointConfig, TunnelOptions};
use super::error::{ApiError, ProtocolError};
use super::event::{CallKind, Event, SessionDownReason, SessionInfo, TunnelDownReason, TunnelInfo};
use super::ids;
use super::reliable::ControlCounters;
use super::tunnel::{check_unknown, Tunnel, TunnelState};

mod journal;
pub use journal::{CallRecord, CallRef, TunnelRecord, TunnelRef};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transmit {
    /// Our address to send from.
    pub local: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Endpoint-wide counters of what could not be attributed to a tunnel or was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointStats {
    /// Datagrams whose header did not decode.
    pub malformed: u64,
    /// Data messages handed to the control plane (the datapath's job).
    pub data_ignored: u64,
    /// Control messages for a tunnel id we do not have.
    pub unknown_tunnel: u64,
    /// Control messages for a tunnel from an address other than its peer's.
    pub wrong_peer: u64,
    /// Session messages for a session we do not have.
    pub unknown_sessions: u64,
    /// Messages not valid in the state they arrived in.
    pub unexpected_messages: u64,
    /// Messages of an unknown type.
    pub unknown_messages: u64,
    /// SCCRQs discarded by the tie breaker (RFC 2661 §4.4.3).
    pub tie_breaker_discards: u64,
    /// SCCRQs dropped because `max_half_open_tunnels` incoming tunnels were waiting for the
    /// caller's decision (only when the caller decides, `decide_incoming_tunnels`).
    pub half_open_refused: u64,
    /// Half-open tunnels forgotten, silently, to make room for a newer SCCRQ when
    /// `max_half_open_tunnels` were half-open (the oldest goes first, like a SYN cache).
    pub half_open_evicted: u64,
    /// Datagrams (SCCRP retransmissions, setup-timeout StopCCNs) not sent to half-open
    /// tunnels' peers that had sent nothing since their SCCRQ, while the half-open table was
    /// under pressure (a quarter full or more): a spoofed source never answers, so we are
    /// nobody's reflector; a real peer retransmits.
    pub half_open_silenced: u64,
    /// SCCRQs refused on their content before any state was created (unknown mandatory
    /// AVP, protocol version, a Challenge without a secret, incoming tunnels not accepted):
    /// answered with a StopCCN that is neither retransmitted nor remembered, at most
    /// [`STATELESS_REPLIES_PER_SECOND`] a second.
    pub sccrq_rejected: u64,
    /// Evicted half-open tunnels rebuilt from their compact record when their peer's SCCCN
    /// arrived after the eviction (see [`Endpoint`]'s eviction records).
    pub half_open_restored: u64,
    /// SCCRQs naming (peer address, Assigned Tunnel ID) of an *established* tunnel: a late
    /// copy, or the peer restarted and reused its tunnel id. Not acknowledged; the old tunnel
    /// is probed with a HELLO and cleared if the peer no longer answers for it.
    pub sccrq_for_established: u64,
}

/// What is kept of an evicted half-open tunnel (≈ 100 bytes instead of a tunnel's ≈ 2 KB):
/// enough to rebuild it when the peer's SCCCN arrives late, typically a retransmission
/// after the first one was lost while a flood turned the table over faster than the
/// retransmission interval. Its tunnel id stays reserved while the record lives.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Evicted {
    local: SocketAddr,
    peer: SocketAddr,
    peer_tunnel: TunnelId,
    /// The Ns expected next from the peer (its SCCCN's).
    expected: SeqNum,
    peer_window: u16,
    /// The Challenge our SCCRP carried, which the SCCCN must answer.
    challenge: Option<[u8; 16]>,
    /// The record is useless after this (the peer has given up).
    #[serde(with = "l2tp_snap::instant")]
    until: Instant,
}

/// Eviction records kept per half-open table slot.
const EVICTED_RECORDS_PER_SLOT: usize = 4;
/// Eviction records kept at most (their tunnel ids stay reserved).
const EVICTED_RECORDS_MAX: usize = 32_768;

/// Stateless StopCCN answers to refused SCCRQs allowed per second; beyond it the SCCRQ is
/// only counted (a spoofed flood must not make us a reflector).
pub const STATELESS_REPLIES_PER_SECOND: u32 = 50;

/// The half-open table is under pressure from this fraction of `max_half_open_tunnels`
/// (1/4) on: nothing more than the first SCCRP is then sent to peers that never answered.
const PRESSURE_DIVISOR: usize = 4;

/// What the tunnels share: configuration, RNG, output queues.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Ctx {
    pub config: EndpointConfig,
    #[serde(skip, default = "crate::control::endpoint::fresh_rng")]
    pub rng: Box<dyn RngCore + Send>,
    #[serde(skip)]
    pub events: VecDeque<Event>,
    #[serde(skip)]
    pub transmits: VecDeque<Transmit>,
    pub stats: EndpointStats,
    serial: u32,
    /// Rate limit for log lines about datagrams a peer (or an attacker) controls.
    pub log_limit: LogLimit,
    /// Rate limit for log lines about half-open tunnels evicted or dropped.
    evict_log: LogLimit,
    /// Stateless StopCCN answers sent in the current one-second window.
    #[serde(with = "l2tp_snap::pair_opt_first")]
    stateless_replies: (Option<Instant>, u32),
}

/// At most [`LogLimit::PER_SECOND`] log lines a second about bad or unexpected datagrams; the
/// rest are counted (in [`EndpointStats`] as always) and summarised when logging resumes, so
/// a flood of garbage cannot fill the disk through our log.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct LogLimit {
    #[serde(with = "l2tp_snap::opt_instant")]
    window: Option<Instant>,
    used: u32,
    suppressed: u64,
}

impl LogLimit {
    const PER_SECOND: u32 = 20;

    /// Whether a line may be logged now.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= std::time::Duration::from_secs(1))
        {
            if self.suppressed > 0 {
                tracing::warn!(
                    suppressed = self.suppressed,
                    "log lines about bad datagrams suppressed in the last interval"
                );
            }
            self.window = Some(now);
            self.used = 0;
            self.suppressed = 0;
        }
        if self.used < Self::PER_SECOND {
            self.used += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

impl Ctx {
    /// The next Call Serial Number (RFC 2661 §4.4.5: unique per call on this endpoint).
    pub(crate) fn next_serial(&mut self) -> u32 {
        self.serial = self.serial.wrapping_add(1);
        self.serial
    }
}

/// An L2TP control-plane node: LAC, LNS or both.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    ctx: Ctx,
    tunnels: BTreeMap<TunnelId, Tunnel>,
    /// (peer address, peer's tunnel id) → our tunnel id.
    by_peer: HashMap<(SocketAddr, TunnelId), TunnelId>,
    /// Tunnels we opened, by the address we opened them to (tie-breaker lookups).
    originated: HashMap<SocketAddr, Vec<TunnelId>>,
    #[serde(with = "l2tp_snap::heap")]
    timers: BinaryHeap<Reverse<(Instant, TunnelId)>>,
    /// Incoming tunnels accepted (SCCRP sent) and waiting for SCCCN, oldest first: the
    /// eviction order. Keyed by a serial number given when the tunnel entered the table.
    half_open_order: BTreeMap<u64, TunnelId>,
    /// The same tunnels → their serial in `half_open_order`.
    half_open_serial: HashMap<TunnelId, u64>,
    next_half_open_serial: u64,
    /// Incoming tunnels waiting for the caller's decision (`IncomingTunnel`).
    undecided: HashSet<TunnelId>,
    /// Records of evicted half-open tunnels, by our tunnel id, and their order (oldest
    /// first; entries whose record is gone or newer are skipped).
    evicted: HashMap<TunnelId, Evicted>,
    #[serde(with = "l2tp_snap::deque_last")]
    evicted_order: VecDeque<(TunnelId, Instant)>,
    /// Control-channel counters of every tunnel removed so far: with the live tunnels'
    /// counters they give totals that never go down.
    closed_tunnels: ControlCounters,
    /// Tunnels changed since [`Endpoint::take_touched`] last ran (`None`: not tracked).
    #[serde(skip)]
    touched: Option<HashSet<TunnelId>>,
    /// Tunnels restored from a journal, probed and re-synchronised on the peer's answer.
    #[serde(skip)]
    resync: HashSet<TunnelId>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("tunnels", &self.tunnels.len())
            .field("stats", &self.ctx.stats)
            .finish()
    }
}

impl Endpoint {
    /// An endpoint with no tunnels. `rng` supplies ids, Challenges, Random Vectors and Tie
    /// Breakers (seeded in tests, from the OS in the daemon).
    pub fn new(config: EndpointConfig, rng: Box<dyn RngCore + Send>) -> Self {
        Endpoint {
            ctx: Ctx {
                config,
                rng,
                events: VecDeque::new(),
                transmits: VecDeque::new(),
                stats: EndpointStats::default(),
                serial: 0,
                log_limit: LogLimit::default(),
                evict_log: LogLimit::default(),
                stateless_replies: (None, 0),
            },
            tunnels: BTreeMap::new(),
            by_peer: HashMap::new(),
            originated: HashMap::new(),
            timers: BinaryHeap::new(),
            half_open_order: BTreeMap::new(),
            half_open_serial: HashMap::new(),
            next_half_open_serial: 0,
            undecided: HashSet::new(),
            evicted: HashMap::new(),
            evicted_order: VecDeque::new(),
            closed_tunnels: ControlCounters::default(),
            touched: None,
            resync: HashSet::new(),
        }
    }

    /// Control-channel counters summed over every tunnel removed so far (add the live
    /// tunnels' [`TunnelInfo::counters`] for daemon-wide totals).
    pub fn closed_tunnel_counters(&self) -> ControlCounters {
        self.closed_tunnels
    }

    /// Replaces the tunnel authentication settings (secret, AVP hiding, per-peer settings)
    /// for tunnels set up from now on; established tunnels keep the ones they started with.
    pub fn set_tunnel_auth(
        &mut self,
        auth: super::PeerAuth,
        peers: Vec<(std::net::IpAddr, super::PeerAuth)>,
    ) {
        self.ctx.config.auth = auth;
        self.ctx.config.peers = peers;
    }

    /// Replaces the per-peer profiles (by prefix and Host Name) for tunnels set up from now
    /// on.
    pub fn set_peer_rules(&mut self, rules: Vec<super::PeerRule>) {
        self.ctx.config.peer_rules = rules;
    }

    /// The configuration in force.
    pub fn config(&self) -> &EndpointConfig {
        &self.ctx.config
    }

    /// Endpoint-wide counters.
    pub fn stats(&self) -> EndpointStats {
        self.ctx.stats
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ctx.transmits.pop_front()
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.ctx.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn reschedule(&mut self, tid: TunnelId) {
        if let Some(touched) = self.touched.as_mut() {
            touched.insert(tid);
        }
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        // Keep the half-open tables in step with the tunnel's state.
        let undecided = t.is_half_open() && matches!(t.state, TunnelState::WaitDecision { .. });
        let accepted = t.is_half_open() && !undecided;
        t.counted_half_open = undecided || accepted;
        if undecided {
            self.undecided.insert(tid);
        } else {
            self.undecided.remove(&tid);
        }
        match (accepted, self.half_open_serial.get(&tid).copied()) {
            (true, None) => {
                let n = self.next_half_open_serial;
                self.next_half_open_serial += 1;
                self.half_open_serial.insert(tid, n);
                self.half_open_order.insert(n, tid);
            }
            (false, Some(n)) => {
                self.half_open_serial.remove(&tid);
                self.half_open_order.remove(&n);
            }
            _ => {}
        }
        t.flush(&mut self.ctx);
        let next = t.next_timeout(&self.ctx.config);
        if let Some(n) = next {
            // Keep at most one live entry per tunnel; a later deadline keeps the earlier
            // entry (a spurious wake-up is harmless).
            if t.scheduled.is_none_or(|s| n < s) {
                t.scheduled = Some(n);
                self.timers.push(Reverse((n, tid)));
            }
        }
    }

    fn remove_tunnel(&mut self, tid: TunnelId) {
        if let Some(touched) = self.touched.as_mut() {
            touched.insert(tid);
        }
        self.resync.remove(&tid);
        if let Some(t) = self.tunnels.remove(&tid) {
            self.closed_tunnels.accumulate(&t.channel.counters());
            if t.counted_half_open {
                self.undecided.remove(&tid);
                if let Some(n) = self.half_open_serial.remove(&tid) {
                    self.half_open_order.remove(&n);
                }
            }
            if let Some(to) = t.opened_to {
                if let Some(v) = self.originated.get_mut(&to) {
                    v.retain(|x| *x != tid);
                    if v.is_empty() {
                        self.originated.remove(&to);
                    }
                }
            }
            let key = (t.peer, t.peer_id());
            if self.by_peer.get(&key) == Some(&tid) {
                self.by_peer.remove(&key);
            }
        }
    }

    /// Fires every timer due at `now`: retransmissions, delayed acknowledgements, HELLOs,
    /// the end of closing holds.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.purge_evicted(now);
        while let Some(Reverse((t, tid))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(tunnel) = self.tunnels.get_mut(&tid) else {
                continue;
            };
            if tunnel.scheduled != Some(t) {
                continue; // stale entry
            }
            tunnel.scheduled = None;
            // Under pressure, a half-open tunnel whose peer has sent nothing since its SCCRQ
            // is not sent anything more (a spoofed source never answers): its SCCRP
            // retransmissions, and the StopCCN of its setup timeout, go nowhere. The entry
            // stays until evicted or timed out, so a real peer whose SCCCN was lost still
            // gets in with its retransmitted SCCCN (or its retransmitted SCCRQ, which is
            // acknowledged).
            let silence = self.half_open_serial.contains_key(&tid)
                && self.half_open_serial.len() * PRESSURE_DIVISOR
                    >= self.ctx.config.max_half_open_tunnels
                && never_answered(tunnel);
            let forget = tunnel.handle_timeout(&mut self.ctx, now);
            if silence {
                let mut n = 0u64;
                while tunnel.channel.poll_transmit().is_some() {
                    n += 1;
                }
                if n > 0 {
                    self.ctx.stats.half_open_silenced += n;
                    if self.ctx.evict_log.allow(now) {
                        tracing::info!(tunnel = %tid, peer = %tunnel.peer, half_open = self.half_open_serial.len(), "half-open tunnel never answered: SCCRP not retransmitted (half-open table under pressure)");
                    }
                }
            }
            // A silenced tunnel that timed out is not held either: its hold would only
            // retransmit a StopCCN to the silent source.
            let forget = forget || (silence && tunnel.is_closing());
            tunnel.flush(&mut self.ctx);
            if forget {
                self.remove_tunnel(tid);
            } else {
                self.reschedule(tid);
            }
        }
    }

    /// A UDP datagram arrived on `local` from `from`. Control messages are processed; data
    /// messages are counted and ignored (they are the datapath's).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        datagram: &[u8],
    ) {
        let d = match Header::decode(datagram) {
            Ok(d) => d,
            Err(e) => {
                self.ctx.stats.malformed += 1;
                tracing::debug!(%from, "undecodable datagram: {e}");
                return;
            }
        };
        if !d.header.is_control() {
            self.ctx.stats.data_ignored += 1;
            return;
        }
        let Some(seq) = d.header.sequence else {
            self.ctx.stats.malformed += 1;
            return;
        };
        let tid = d.header.tunnel_id;
        if tid.is_zero() {
            self.handle_new_tunnel(now, local, from, d.header, d.payload);
            return;
        }
        if !self.tunnels.contains_key(&tid) && !d.payload.is_empty() {
            self.restore_evicted(now, tid, from);
        }
        let Some(t) = self.tunnels.get_mut(&tid) else {
            self.ctx.stats.unknown_tunnel += 1;
            if self.ctx.log_limit.allow(now) {
                tracing::info!(%from, tunnel = %tid, "control message for unknown tunnel {tid} from {from}: dropped");
            }
            return;
        };
        if t.peer != from {
            // RFC 2661 §8.1: the responder may answer from another port; adopt it while we
            // wait for the SCCRP. Otherwise data from anyone but the peer is refused.
            if matches!(t.state, TunnelState::WaitCtlReply { .. }) && t.peer.ip() == from.ip() {
                t.peer = from;
            } else {
                self.ctx.stats.wrong_peer += 1;
                if self.ctx.log_limit.allow(now) {
                    tracing::info!(%from, tunnel = %tid, peer = %t.peer, "control message from the wrong peer: dropped");
                }
                return;
            }
        }
        self.deliver(now, tid, seq.ns, seq.nr, d.header.session_id, d.payload);
    }

    fn deliver(
        &mut self,
        now: Instant,
        tid: TunnelId,
        ns: l2tp_wire::SeqNum,
        nr: l2tp_wire::SeqNum,
        session: SessionId,
        payload: &[u8],
    ) {
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        let before = t.peer_id();
        t.quiet_since = now;
        // A restored tunnel: re-synchronised on the peer's datagrams until its first
        // message (a ZLB carries an Nr, not an Ns).
        let resync = self.resync.contains(&tid);
        if resync && !payload.is_empty() {
            self.resync.remove(&tid);
        }
        if resync && t.channel.resync(ns, nr, !payload.is_empty()) {
            tracing::info!(tunnel = %tid, peer = %t.peer, "control channel re-synchronised after a restart: Ns {} Nr {}", t.channel.next_ns(), t.channel.expected_ns());
        }
        if matches!(t.state, TunnelState::WaitCtlReply { .. }) && !payload.is_empty() {
            // The peer's first message (its SCCRP) fixes where its Ns starts.
            t.channel.start_receive_at(ns);
        }
        let r = t.channel.receive(now, ns, nr, session, payload);
        // RFC 4951 §5: a recovery tunnel counts from the message that established it, even
        // when a message delivered with it closes it again (the failing endpoint's SCCCN
        // and StopCCN arriving together after a loss).
        let mut recovered = None;
        let mut resumed = None;
        for (sid, body) in r.delivered {
            let msg = ControlMessage::decode(&body, t.secret());
            t.on_message(&mut self.ctx, now, sid, msg);
            if matches!(t.state, TunnelState::Established) {
                if t.recovery_pending {
                    t.recovery_pending = false;
                    recovered = t.failover.recovery_of;
                }
                if resumed.is_none() {
                    resumed = t.recovering.plan.take().zip(t.suggest.take());
                }
            }
        }
        // The acknowledgement may have let queued messages out: their calls' waits start.
        t.note_connects_sent(now);
        // The SCCRP taught us the peer's id: index the tunnel by it.
        let after = t.peer_id();
        let peer = t.peer;
        if before != after && !after.is_zero() {
            self.by_peer.insert((peer, after), tid);
        }
        self.reschedule(tid);
        if let Some(old) = recovered {
            self.complete_recovery(now, tid, old);
        }
        if let Some((plan, suggest)) = resumed {
            self.resume_recovered(now, tid, &plan, suggest);
        }
    }

    /// RFC 4951 §5, as the failing endpoint: our recovery tunnel `via` is up. The old tunnel
    /// resumes with the peer's Suggested Control Sequence, the recovery tunnel is closed and
    /// the sessions in doubt are queried (§6).
    fn resume_recovered(
        &mut self,
        now: Instant,
        via: TunnelId,
        plan: &super::recover::TunnelToRecover,
        suggest: l2tp_wire::SuggestedControlSequence,
    ) {
        let Some(v) = self.tunnels.get_mut(&via) else {
            return;
        };
        let mut t = Tunnel::resumed(plan, v, suggest, &self.ctx.config, now);
        let clear = ResultCode {
            result: ResultCode::STOPCCN_GENERAL_REQUEST,
            error: None,
            message: None,
        };
        v.stop(
            &mut self.ctx,
            now,
            clear.clone(),
            TunnelDownReason::Local(clear),
        );
        v.flush(&mut self.ctx);
        self.reschedule(via);
        if self.tunnels.contains_key(&plan.tunnel) {
            // Taken while the recovery tunnel was being set up: leave both alone.
            tracing::warn!(tunnel = %plan.tunnel, "recovered tunnel id in use: not resumed");
            return;
        }
        tracing::info!(tunnel = %plan.tunnel, recovery = %via, peer = %plan.peer, "tunnel recovered (RFC 4951): resuming at Ns {} Nr {}", suggest.ns, suggest.nr);
        t.query_sessions(&mut self.ctx, now);
        t.flush(&mut self.ctx);
        self.by_peer
            .insert((plan.peer, plan.peer_tunnel), plan.tunnel);
        self.tunnels.insert(plan.tunnel, t);
        self.reschedule(plan.tunnel);
    }

    /// RFC 4951 §5: the recovery tunnel `via` is up; the old tunnel carries on with the
    /// control sequence we suggested, and is probed so that a failing endpoint that did not
    /// take it up is found out by the retry budget.
    fn complete_recovery(&mut self, now: Instant, via: TunnelId, old: TunnelId) {
        let Some(t) = self.tunnels.get_mut(&old) else {
            return;
        };
        t.recovered(now);
        tracing::info!(tunnel = %old, recovery = %via, peer = %t.peer, "tunnel recovered by its peer (RFC 4951)");
        t.probe_peer(&mut self.ctx, now);
        t.flush(&mut self.ctx);
        self.reschedule(old);
    }

    fn handle_new_tunnel(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        header: Header,
        payload: &[u8],
    ) {
        let Some(seq) = header.sequence else {
            return;
        };
        self.purge_evicted(now);
        if payload.is_empty() {
            // A ZLB for tunnel 0 acknowledges nothing we can find.
            self.ctx.stats.unknown_tunnel += 1;
            return;
        }
        let auth = self.ctx.config.auth_for(from.ip()).clone();
        let mut m = match ControlMessage::decode(payload, auth.secret.as_deref()) {
            Ok(ControlMessage::Sccrq(m)) => m,
            Ok(other) => {
                self.ctx.stats.unknown_tunnel += 1;
                if self.ctx.log_limit.allow(now) {
                    tracing::info!(%from, "{other} for tunnel 0 from {from}: dropped");
                }
                return;
            }
            Err(e) => {
                self.ctx.stats.malformed += 1;
                if self.ctx.log_limit.allow(now) {
                    tracing::info!(%from, "undecodable message for tunnel 0: {e}");
                }
                return;
            }
        };
        // A retransmitted SCCRQ finds the tunnel its first copy created; the channel sees a
        // duplicate and acknowledges it again.
        if let Some(&tid) = self.by_peer.get(&(from, m.assigned_tunnel_id)) {
            let (closing, established) = match self.tunnels.get(&tid) {
                Some(t) => (t.is_closing(), matches!(t.state, TunnelState::Established)),
                None => (true, false),
            };
            if established {
                // The peer completed this tunnel (SCCCN), so it has no reason to send its
                // SCCRQ again: a copy delayed in the network, or the peer restarted and
                // reused its tunnel id. Acknowledging it would tell a restarted peer its new
                // SCCRQ arrived (it would then wait for an SCCRP that never comes), and
                // counting it as a sign of life would keep the stale tunnel up as long as the
                // peer retries. Probe instead: a live peer answers the HELLO; a restarted one
                // does not, the retries run out, the old tunnel and its sessions are cleared,
                // and the peer's next SCCRQ opens a new tunnel.
                self.ctx.stats.sccrq_for_established += 1;
                if self.ctx.log_limit.allow(now) {
                    tracing::info!(%from, tunnel = %tid, "SCCRQ for an established tunnel (peer restarted?): probing it with a HELLO");
                }
                if let Some(t) = self.tunnels.get_mut(&tid) {
                    t.probe_peer(&mut self.ctx, now);
                }
                self.reschedule(tid);
                return;
            }
            if !closing {
                self.deliver(now, tid, seq.ns, seq.nr, header.session_id, payload);
                return;
            }
            // The peer restarted and reused its tunnel id while we still hold the old
            // tunnel's state (RFC 2661 §5.7): this is a new tunnel.
            self.by_peer.remove(&(from, m.assigned_tunnel_id));
        }
        // RFC 4951 §5: a recovery SCCRQ names an old tunnel of ours. Without failover
        // configured, its Tunnel Recovery AVP (M bit set) refuses it below, as RFC 2661 says.
        let mut recovery = None;
        if self.ctx.config.failover.is_some() {
            if let Some(tr) = TunnelRecovery::find(&m.unknown) {
                let target = tr.map_err(ProtocolError::Failover).and_then(|tr| {
                    super::failover::recovery_target(|id| self.tunnels.get(&id), from, tr)
                });
                match target {
                    Ok(t) => {
                        m.unknown.retain(|a| !TunnelRecovery::matches(a));
                        recovery = Some(t);
                    }
                    Err(err) => {
                        self.reject_statelessly(
                            now,
                            local,
                            from,
                            m.assigned_tunnel_id,
                            seq.ns,
                            err,
                        );
                        return;
                    }
                }
            }
        }
        // A per-peer profile may name the peer's Host Name: known now. (Hidden AVPs of the
        // SCCRQ itself were read with the secret chosen by address.)
        let rule = self
            .ctx
            .config
            .rule_for(from.ip(), Some(&m.host_name))
            .cloned();
        let auth = self
            .ctx
            .config
            .auth_for_peer(from.ip(), &m.host_name)
            .clone();
        // Refused on its content: answered (RFC 2661 §4.2: an unknown mandatory AVP shuts
        // the tunnel down) without creating any state, as a single spoofed datagram could.
        if let Some(err) = sccrq_refusal(&m, auth.secret.is_some()) {
            self.reject_statelessly(now, local, from, m.assigned_tunnel_id, seq.ns, err);
            return;
        }
        // RFC 2661 §4.4.3: tie breaker against an SCCRQ of ours to the same peer.
        let mut reuse: Option<TunnelId> = None;
        let ours = self
            .originated
            .get(&from)
            .into_iter()
            .flatten()
            .filter_map(|tid| self.tunnels.get(tid))
            .find(|t| t.peer == from && matches!(t.state, TunnelState::WaitCtlReply { .. }))
            .map(|t| (t.id, t.tie_breaker));
        if let Some((ours, mine)) = ours {
            match (mine, m.tie_breaker) {
                // Neither sent one: two tunnels.
                (None, None) => {}
                // Lower value wins; the side that sent a Tie Breaker wins over one that did not.
                (Some(_), None) => {
                    self.ctx.stats.tie_breaker_discards += 1;
                    tracing::info!(%from, "tie breaker won: discarding the peer's SCCRQ");
                    return;
                }
                (Some(a), Some(b)) if a < b => {
                    self.ctx.stats.tie_breaker_discards += 1;
                    tracing::info!(%from, "tie breaker won: discarding the peer's SCCRQ");
                    return;
                }
                // Equal values: both sides discard their tunnels.
                (Some(a), Some(b)) if a == b => {
                    self.ctx.stats.tie_breaker_discards += 1;
                    if let Some(t) = self.tunnels.get_mut(&ours) {
                        let sessions = std::mem::take(&mut t.sessions);
                        for sid in sessions.keys() {
                            self.ctx.events.push_back(Event::SessionDown {
                                tunnel: ours,
                                session: *sid,
                                reason: SessionDownReason::TunnelDown,
                            });
                        }
                    }
                    self.ctx.events.push_back(Event::TunnelDown {
                        tunnel: ours,
                        reason: TunnelDownReason::TieBreaker,
                    });
                    self.remove_tunnel(ours);
                    return;
                }
                // We lose: drop our SCCRQ and answer theirs with the same local tunnel,
                // keeping the caller's id and its waiting sessions.
                _ => reuse = Some(ours),
            }
        }
        let tid = match reuse {
            Some(tid) => {
                self.ctx.stats.tie_breaker_discards += 1;
                tracing::info!(%from, tunnel = %tid, "tie breaker lost: answering the peer's SCCRQ instead");
                let cfg = self.ctx.config.clone();
                let Some(t) = self.tunnels.get_mut(&tid) else {
                    return;
                };
                let sessions = std::mem::take(&mut t.sessions);
                let mut fresh = Tunnel::new(
                    tid,
                    t.local,
                    from,
                    t.auth.clone(),
                    &cfg,
                    TunnelState::WaitDecision {
                        peer_challenge: None,
                    },
                    now,
                );
                fresh.sessions = sessions;
                fresh.opened_to = t.opened_to;
                *t = fresh;
                tid
            }
            None => {
                // A node that takes no tunnels (a client, a LAC) still takes a recovery
                // tunnel for one of its own tunnels (RFC 4951 §5), checked above.
                if !self.ctx.config.accept_incoming_tunnels && recovery.is_none() {
                    let err = ProtocolError::AuthFailed("incoming tunnels not accepted");
                    self.reject_statelessly(now, local, from, m.assigned_tunnel_id, seq.ns, err);
                    return;
                }
                let cap = self.ctx.config.max_half_open_tunnels;
                if self.ctx.config.decide_incoming_tunnels {
                    // The caller decides; the table makes room when it accepts. Undecided
                    // tunnels are bounded on their own (a caller that never decides).
                    if self.undecided.len() >= cap.max(1) {
                        self.ctx.stats.half_open_refused += 1;
                        if self.ctx.log_limit.allow(now) {
                            tracing::warn!(%from, undecided = self.undecided.len(), "too many incoming tunnels waiting for a decision: SCCRQ dropped");
                        }
                        return;
                    }
                } else {
                    self.make_half_open_room(now);
                }
                let Some(id) = ids::allocate(&mut *self.ctx.rng, |i| {
                    self.tunnels.contains_key(&TunnelId(i))
                        || self.evicted.contains_key(&TunnelId(i))
                }) else {
                    tracing::warn!(%from, "no free tunnel id: SCCRQ dropped");
                    return;
                };
                let tid = TunnelId(id);
                let t = Tunnel::new(
                    tid,
                    local,
                    from,
                    auth,
                    &self.ctx.config,
                    TunnelState::WaitDecision {
                        peer_challenge: None,
                    },
                    now,
                );
                self.tunnels.insert(tid, t);
                tid
            }
        };
        self.by_peer.insert((from, m.assigned_tunnel_id), tid);
        let Some(t) = self.tunnels.get_mut(&tid) else {
            return;
        };
        t.channel.peer_tunnel = m.assigned_tunnel_id;
        t.channel.start_receive_at(seq.ns);
        if let (None, Some(r)) = (reuse, &rule) {
            t.apply_rule(r);
        }
        if let Some((old, suggest)) = recovery {
            tracing::info!(%from, tunnel = %tid, old = %old, "recovery SCCRQ (RFC 4951): suggesting Ns {} Nr {}", suggest.ns, suggest.nr);
            t.failover.recovery_of = Some(old);
            t.suggest = Some(suggest);
            t.recovery_pending = true;
        }
        let r = t
            .channel
            .receive(now, seq.ns, seq.nr, header.session_id, payload);
        if !r.delivered.is_empty() {
            // Incoming tunnels not accepted were refused above, statelessly; an SCCRQ that
            // won over ours (tie breaker) is answered regardless, and so is a recovery
            // SCCRQ (the caller accepted the tunnel it recovers).
            let ask =
                self.ctx.config.decide_incoming_tunnels && reuse.is_none() && recovery.is_none();
            t.on_sccrq(&mut self.ctx, now, m, ask);
        }
        self.reschedule(tid);
    }

    /// Evicts the oldest accepted half-open tunnel when `max_half_open_tunnels` are: a
    /// newer SCCRQ takes its place instead of being refused, so a flood (possibly from
    /// spoofed sources) cannot lock out a real peer, whose handshake completes within one
    /// round trip. Silent: no StopCCN to a possibly spoofed source, no event.
    fn make_half_open_room(&mut self, now: Instant) {
        let cap = self.ctx.config.max_half_open_tunnels.max(1);
        while self.half_open_serial.len() >= cap {
            let Some((_, tid)) = self.half_open_order.pop_first() else {
                break;
            };
            self.half_open_serial.remove(&tid);
            self.ctx.stats.half_open_evicted += 1;
            if self.ctx.evict_log.allow(now) {
                let peer = self.tunnels.get(&tid).map(|t| t.peer);
                tracing::warn!(tunnel = %tid, ?peer, half_open = cap, evicted_total = self.ctx.stats.half_open_evicted, "half-open tunnel table full: oldest half-open tunnel evicted");
            }
            if let Some(t) = self.tunnels.get(&tid) {
                if let TunnelState::WaitCtlConn { challenge } = t.state {
                    let rec = Evicted {
                        local: t.local,
                        peer: t.peer,
                        peer_tunnel: t.peer_id(),
                        expected: t.channel.expected_ns(),
                        peer_window: t.channel.peer_window(),
                        challenge,
                        until: t.setup_deadline,
                    };
                    self.remove_tunnel(tid);
                    self.record_evicted(now, tid, rec);
                    continue;
                }
            }
            self.remove_tunnel(tid);
        }
    }

    /// Keeps the record of an evicted tunnel, dropping the oldest records beyond the bound.
    fn record_evicted(&mut self, now: Instant, tid: TunnelId, rec: Evicted) {
        let max = (self.ctx.config.max_half_open_tunnels.max(1))
            .saturating_mul(EVICTED_RECORDS_PER_SLOT)
            .min(EVICTED_RECORDS_MAX);
        let until = rec.until;
        self.evicted.insert(tid, rec);
        self.evicted_order.push_back((tid, until));
        while self.evicted.len() > max {
            let Some((old, until)) = self.evicted_order.pop_front() else {
                break;
            };
            if self.evicted.get(&old).is_some_and(|r| r.until == until) {
                self.evicted.remove(&old);
            }
        }
        self.purge_evicted(now);
    }

    /// Drops the eviction records whose peer has given up (oldest first; the order is by
    /// eviction, close enough to the order of their deadlines), which frees their ids.
    fn purge_evicted(&mut self, now: Instant) {
        while self
            .evicted_order
            .front()
            .is_some_and(|(_, until)| *until <= now)
        {
            let Some((old, until)) = self.evicted_order.pop_front() else {
                break;
            };
            if self.evicted.get(&old).is_some_and(|r| r.until == until) {
                self.evicted.remove(&old);
            }
        }
        if self.evicted_order.len() > 2 * self.evicted.len() + 64 {
            let live = &self.evicted;
            self.evicted_order
                .retain(|(t, until)| live.get(t).is_some_and(|r| r.until == *until));
        }
    }

    /// A control message (not a ZLB) for tunnel `tid`, which we do not have: when it is an
    /// evicted half-open tunnel and the message comes from its peer, the tunnel is rebuilt
    /// in wait-ctl-conn (making room in the table as for a new one) so the message — the
    /// peer's late SCCCN — is delivered as if the tunnel had never left.
    fn restore_evicted(&mut self, now: Instant, tid: TunnelId, from: SocketAddr) {
        let Some(rec) = self.evicted.get(&tid) else {
            return;
        };
        if rec.peer != from || rec.until <= now {
            return;
        }
        let Some(rec) = self.evicted.remove(&tid) else {
            return;
        };
        self.make_half_open_room(now);
        let auth = self.ctx.config.auth_for(rec.peer.ip()).clone();
        let mut t = Tunnel::new(
            tid,
            rec.local,
            rec.peer,
            auth,
            &self.ctx.config,
            TunnelState::WaitDecision {
                peer_challenge: None,
            },
            now,
        );
        t.setup_deadline = rec.until;
        t.channel.peer_tunnel = rec.peer_tunnel;
        t.channel.set_peer_window(rec.peer_window);
        t.channel.start_receive_at(rec.expected);
        // Our SCCRP took the first Ns: send one again so the channel's numbering continues
        // after it (the peer's SCCCN acknowledges it), but not on the wire — the peer has it.
        t.accept(&mut self.ctx, now);
        while t.channel.poll_transmit().is_some() {}
        t.state = TunnelState::WaitCtlConn {
            challenge: rec.challenge,
        };
        self.ctx.stats.half_open_restored += 1;
        if self.ctx.evict_log.allow(now) {
            tracing::info!(tunnel = %tid, peer = %from, "evicted half-open tunnel restored for its peer's late message");
        }
        self.by_peer.insert((rec.peer, rec.peer_tunnel), tid);
        self.tunnels.insert(tid, t);
        self.reschedule(tid);
    }

    /// Answers a refused SCCRQ with a StopCCN built from the SCCRQ alone (Ns 0, Nr one past
    /// the SCCRQ's Ns, to the peer's tunnel id) and keeps nothing: no tunnel, no
    /// retransmission. At most [`STATELESS_REPLIES_PER_SECOND`] answers a second.
    fn reject_statelessly(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        peer_tunnel: TunnelId,
        ns: SeqNum,
        err: ProtocolError,
    ) {
        self.ctx.stats.sccrq_rejected += 1;
        if self.ctx.log_limit.allow(now) {
            tracing::info!(%from, "SCCRQ refused: {err}: StopCCN, no tunnel state");
        }
        self.send_stateless_stopccn(
            now,
            local,
            from,
            peer_tunnel,
            ns.next(),
            err.stopccn_result(),
        );
    }

    /// One StopCCN that nothing remembers (Ns 0, never retransmitted), at most
    /// [`STATELESS_REPLIES_PER_SECOND`] a second in all.
    fn send_stateless_stopccn(
        &mut self,
        now: Instant,
        local: SocketAddr,
        to: SocketAddr,
        peer_tunnel: TunnelId,
        nr: SeqNum,
        result_code: ResultCode,
    ) {
        let (window, used) = &mut self.ctx.stateless_replies;
        if window.is_none_or(|w| now.duration_since(w) >= std::time::Duration::from_secs(1)) {
            *window = Some(now);
            *used = 0;
        }
        if *used >= STATELESS_REPLIES_PER_SECOND {
            return;
        }
        *used += 1;
        let m = StopCcn {
            // We hold no tunnel for it: no id of ours to give.
            assigned_tunnel_id: TunnelId::NONE,
            result_code,
            unknown: Vec::new(),
        };
        let mut body = Vec::with_capacity(48);
        if ControlMessage::from(m).encode(&mut body, None).is_err() {
            return;
        }
        let payload = Header::control(
            peer_tunnel,
            SessionId::NONE,
            self.ctx.config.initial_seq,
            nr,
        )
        .encode_with_payload(&body);
        self.ctx
            .transmits
            .push_back(Transmit { local, to, payload });
    }

    // ----- commands -----

    /// Opens a tunnel to `peer` from `local` (sends SCCRQ). The tunnel id is ours, valid
    /// until `TunnelDown`.
    pub fn open_tunnel(
        &mut self,
        now: Instant,
        local: SocketAddr,
        peer: SocketAddr,
        opts: TunnelOptions,
    ) -> Result<TunnelId, ApiError> {
        self.open_tunnel_with(now, local, peer, opts, None)
    }

    /// RFC 4951, as the failing endpoint: recovers an old tunnel whose control channel state
    /// was lost (see [`super::recover`]). Opens a recovery tunnel to the old tunnel's peer
    /// and returns its id; when it is up, the old tunnel is back under its old id (events:
    /// `TunnelUp` and then `TunnelDown` of the recovery tunnel, `SessionDown` of each session
    /// the peer does not have). Refused, without sending anything, unless both sides offered
    /// control channel failover.
    pub fn recover_tunnel(
        &mut self,
        now: Instant,
        old: super::recover::TunnelToRecover,
    ) -> Result<TunnelId, ApiError> {
        if let Some(why) = super::recover::refusal(self.ctx.config.failover, &old) {
            return Err(ApiError::NotRecoverable(why));
        }
        if self.tunnels.contains_key(&old.tunnel)
            || self.by_peer.contains_key(&(old.peer, old.peer_tunnel))
        {
            return Err(ApiError::NotRecoverable("the tunnel exists"));
        }
        let (local, peer) = (old.local, old.peer);
        self.open_tunnel_with(
            now,
            local,
            peer,
            TunnelOptions::default(),
            Some(Box::new(old)),
        )
    }

    fn open_tunnel_with(
        &mut self,
        now: Instant,
        local: SocketAddr,
        peer: SocketAddr,
        opts: TunnelOptions,
        recovering: Option<Box<super::recover::TunnelToRecover>>,
    ) -> Result<TunnelId, ApiError> {
        self.purge_evicted(now);
        let reserved = recovering.as_ref().map(|r| r.tunnel);
        let id = ids::allocate(&mut *self.ctx.rng, |i| {
            self.tunnels.contains_key(&TunnelId(i))
                || self.evicted.contains_key(&TunnelId(i))
                || reserved == Some(TunnelId(i))
        })
        .ok_or(ApiError::IdsExhausted("tunnel"))?;
        let tid = TunnelId(id);
        let auth = opts
            .auth
            .unwrap_or_else(|| self.ctx.config.auth_for(peer.ip()).clone());
        let mut t = Tunnel::new(
            tid,
            local,
            peer,
            auth,
            &self.ctx.config,
            TunnelState::WaitCtlReply { challenge: None },
            now,
        );
        if opts.tie_breaker {
            let mut tb = [0u8; 8];
            self.ctx.rng.fill_bytes(&mut tb);
            t.tie_breaker = Some(tb);
        }
        t.opened_to = Some(peer);
        if let Some(r) = self.ctx.config.rule_for(peer.ip(), None) {
            t.apply_rule(r);
        }
        if opts.host_name.is_some() {
            t.our_host_name = opts.host_name;
        }
        t.recovering.plan = recovering;
        t.open(&mut self.ctx, now);
        self.tunnels.insert(tid, t);
        self.originated.entry(peer).or_default().push(tid);
        self.reschedule(tid);
        Ok(tid)
    }

    fn split(&mut self, tid: TunnelId) -> Result<(&mut Tunnel, &mut Ctx), ApiError> {
        let t = self
            .tunnels
            .get_mut(&tid)
            .ok_or(ApiError::NoSuchTunnel(tid))?;
        if t.is_closing() {
            return Err(ApiError::TunnelClosing(tid));
        }
        Ok((t, &mut self.ctx))
    }

    /// Accepts a tunnel announced by [`Event::IncomingTunnel`] (sends SCCRP).
    pub fn accept_tunnel(&mut self, now: Instant, tunnel: TunnelId) -> Result<(), ApiError> {
        if self.undecided_tunnel(tunnel)?.opened_to.is_none() {
            self.make_half_open_room(now);
        }
        let (t, ctx) = self.split(tunnel)?;
        t.accept(ctx, now);
        self.reschedule(tunnel);
        Ok(())
    }

    /// Refuses a tunnel announced by [`Event::IncomingTunnel`] (sends StopCCN with `result`).
    pub fn reject_tunnel(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        result: ResultCode,
    ) -> Result<(), ApiError> {
        self.undecided_tunnel(tunnel)?;
        let (t, ctx) = self.split(tunnel)?;
        t.stop(ctx, now, result, TunnelDownReason::Rejected);
        self.reschedule(tunnel);
        Ok(())
    }

    /// Data arrived from the tunnel's peer: RFC 2661 §5.5 sends HELLO only after "a period
    /// of time ... without receiving any message (data or control) from the peer", so data
    /// postpones the next HELLO (some phones answer HELLO badly while their data flows).
    pub fn note_data_received(&mut self, now: Instant, tunnel: TunnelId) {
        if let Some(t) = self.tunnels.get_mut(&tunnel) {
            t.note_activity(now);
        }
    }

    /// A tunnel announced by [`Event::IncomingTunnel`] and still waiting for the decision.
    fn undecided_tunnel(&self, tunnel: TunnelId) -> Result<&Tunnel, ApiError> {
        let t = self
            .tunnels
            .get(&tunnel)
            .ok_or(ApiError::NoSuchTunnel(tunnel))?;
        if !matches!(t.state, TunnelState::WaitDecision { .. }) {
            return Err(ApiError::NoDecisionPending("tunnel"));
        }
        Ok(t)
    }

    /// Forgets a tunnel announced by [`Event::IncomingTunnel`] without answering it, as if
    /// its SCCRQ had never arrived (a flood of SCCRQs, possibly spoofed, must neither grow
    /// state nor make us send anything). No event follows.
    pub fn discard_tunnel(&mut self, tunnel: TunnelId) -> Result<(), ApiError> {
        self.undecided_tunnel(tunnel)?;
        self.remove_tunnel(tunnel);
        Ok(())
    }

    /// Refuses a tunnel announced by [`Event::IncomingTunnel`] statelessly: one StopCCN with
    /// `result`, built from what its SCCRQ said, neither retransmitted nor held (RFC 2661
    /// §5.7's hold protects a tunnel that existed; this one never did), and the tunnel is
    /// forgotten at once. Answers are limited to [`STATELESS_REPLIES_PER_SECOND`] a second
    /// (beyond it the tunnel is only forgotten), so refusing a flood of SCCRQs from spoofed
    /// sources neither holds state nor reflects much. No event follows.
    pub fn refuse_tunnel(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        result: ResultCode,
    ) -> Result<(), ApiError> {
        let t = self.undecided_tunnel(tunnel)?;
        let (local, to, peer_tunnel, nr) = (t.local, t.peer, t.peer_id(), t.channel.expected_ns());
        self.remove_tunnel(tunnel);
        self.send_stateless_stopccn(now, local, to, peer_tunnel, nr, result);
        Ok(())
    }

    /// Forgets a tunnel without a word to its peer and without events: for a state restored
    /// after a failure, whose control channel is stale, before [`Endpoint::recover_tunnel`]
    /// takes its id again (RFC 4951). Control messages for it are dropped until then.
    pub fn forget_tunnel(&mut self, tunnel: TunnelId) -> Result<(), ApiError> {
        if !self.tunnels.contains_key(&tunnel) {
            return Err(ApiError::NoSuchTunnel(tunnel));
        }
        self.remove_tunnel(tunnel);
        Ok(())
    }

    /// Closes a tunnel (sends StopCCN with `result`; every session goes down).
    pub fn close_tunnel(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        result: ResultCode,
    ) -> Result<(), ApiError> {
        let (t, ctx) = self.split(tunnel)?;
        t.stop(ctx, now, result.clone(), TunnelDownReason::Local(result));
        self.reschedule(tunnel);
        Ok(())
    }

    fn place(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        kind: CallKind,
        params: CallParams,
    ) -> Result<SessionId, ApiError> {
        // RFC 2661 §4.1: an AVP holds at most 1023 octets with its 6-byte header (and 2 more
        // are taken when hidden).
        for (name, v) in [
            ("called number", &params.called_number),
            ("calling number", &params.calling_number),
            ("sub-address", &params.sub_address),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > 1015) {
                return Err(ApiError::Encode(format!("{name} longer than 1015 bytes")));
            }
        }
        let Endpoint { ctx, tunnels, .. } = self;
        let t = tunnels
            .get_mut(&tunnel)
            .ok_or(ApiError::NoSuchTunnel(tunnel))?;
        if t.is_closing() {
            return Err(ApiError::TunnelClosing(tunnel));
        }
        let sid = t
            .allocate_session(ctx)
            .ok_or(ApiError::IdsExhausted("session"))?;
        t.place_call(ctx, now, sid, kind, params);
        self.reschedule(tunnel);
        Ok(sid)
    }

    /// LAC: places an incoming call (ICRQ). If the tunnel is not up yet, the ICRQ goes when
    /// it is.
    pub fn place_incoming_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        params: CallParams,
    ) -> Result<SessionId, ApiError> {
        self.place(now, tunnel, CallKind::LacIncoming, params)
    }

    /// LNS: places an outgoing call (OCRQ).
    pub fn place_outgoing_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        params: CallParams,
    ) -> Result<SessionId, ApiError> {
        self.place(now, tunnel, CallKind::LnsOutgoing, params)
    }

    /// Accepts a call announced by [`Event::IncomingCall`].
    pub fn accept_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
    ) -> Result<(), ApiError> {
        let Endpoint { ctx, tunnels, .. } = self;
        let t = tunnels
            .get_mut(&tunnel)
            .ok_or(ApiError::NoSuchTunnel(tunnel))?;
        if !t.sessions.contains_key(&session) {
            return Err(ApiError::NoSuchSession(tunnel, session));
        }
        if !t.accept_call(ctx, now, session) {
            return Err(ApiError::NoDecisionPending("session"));
        }
        self.reschedule(tunnel);
        Ok(())
    }

    /// Refuses a call announced by [`Event::IncomingCall`] (sends CDN with `result`).
    pub fn reject_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        result: ResultCode,
    ) -> Result<(), ApiError> {
        self.close_session(now, tunnel, session, result)
    }

    /// Closes a session in any state (sends CDN with `result`).
    pub fn close_session(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        result: ResultCode,
    ) -> Result<(), ApiError> {
        let Endpoint { ctx, tunnels, .. } = self;
        let t = tunnels
            .get_mut(&tunnel)
            .ok_or(ApiError::NoSuchTunnel(tunnel))?;
        let reason = SessionDownReason::Local(result.clone());
        if !t.close_session(ctx, now, session, result, reason) {
            return Err(ApiError::NoSuchSession(tunnel, session));
        }
        self.reschedule(tunnel);
        Ok(())
    }

    /// Releases spare capacity of internal queues grown by a burst (a flood of calls, a
    /// retransmission storm). Idle state is then what the tunnels and sessions need.
    pub fn shrink_to_fit(&mut self) {
        self.ctx.events.shrink_to_fit();
        self.ctx.transmits.shrink_to_fit();
        // Drop stale timer entries, then the spare capacity.
        let live: Vec<_> = self
            .timers
            .drain()
            .filter(|Reverse((t, tid))| {
                self.tunnels
                    .get(tid)
                    .is_some_and(|tu| tu.scheduled == Some(*t))
            })
            .collect();
        self.timers = live.into_iter().collect();
        self.timers.shrink_to_fit();
        self.by_peer.shrink_to_fit();
        self.originated.shrink_to_fit();
        self.evicted.shrink_to_fit();
        self.evicted_order.shrink_to_fit();
        for t in self.tunnels.values_mut() {
            t.channel.shrink_to_fit();
            t.call_deadlines.shrink_to_fit();
        }
    }

    /// Sends SLI for an established session (RFC 2661 §6.14: the LNS tells the LAC the ACCM
    /// PPP negotiated).
    pub fn set_link_info(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        send_accm: u32,
        receive_accm: u32,
    ) -> Result<(), ApiError> {
        let m = l2tp_wire::Sli {
            accm: l2tp_wire::Accm {
                send_accm,
                receive_accm,
            },
            unknown: Vec::new(),
        };
        self.send_on_session(now, tunnel, session, m.into())
    }

    /// Sends WEN for an established session (RFC 2661 §6.13: the LAC reports line errors).
    pub fn wan_error_notify(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        errors: l2tp_wire::CallErrors,
    ) -> Result<(), ApiError> {
        let m = l2tp_wire::Wen {
            call_errors: errors,
            unknown: Vec::new(),
        };
        self.send_on_session(now, tunnel, session, m.into())
    }

    fn send_on_session(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        msg: ControlMessage,
    ) -> Result<(), ApiError> {
        let (t, ctx) = self.split(tunnel)?;
        let s = t
            .sessions
            .get_mut(&session)
            .ok_or(ApiError::NoSuchSession(tunnel, session))?;
        if s.state != super::event::SessionStateKind::Established {
            return Err(ApiError::SessionNotEstablished(tunnel, session));
        }
        s.tx = s.tx.saturating_add(1);
        let peer = s.peer_id;
        t.send(ctx, now, peer, msg);
        self.reschedule(tunnel);
        Ok(())
    }

    // ----- introspection -----

    /// A snapshot of one tunnel.
    pub fn tunnel_info(&self, tunnel: TunnelId) -> Option<TunnelInfo> {
        self.tunnels.get(&tunnel).map(info)
    }

    /// Snapshots of every tunnel, by id.
    pub fn tunnels(&self) -> impl Iterator<Item = TunnelInfo> + '_ {
        self.tunnels.values().map(info)
    }

    /// Incoming tunnels between SCCRQ and SCCCN: accepted (SCCRP sent) and waiting for the
    /// caller's decision.
    pub fn half_open_tunnels(&self) -> usize {
        self.half_open_serial.len() + self.undecided.len()
    }

    /// True when every tunnel is closing and nothing is left to exchange: every message we
    /// sent (our StopCCN) acknowledged and no acknowledgement owed to the peer (its StopCCN
    /// acknowledged). A daemon shutting down may exit then without leaving a peer to
    /// retransmit into the void (RFC 2661 §5.7).
    pub fn closing_settled(&self) -> bool {
        self.tunnels.values().all(|t| {
            t.is_closing()
                && t.channel.is_idle()
                && !t.channel.ack_pending()
                && t.channel.failure().is_none()
        })
    }

    /// Number of tunnels (closing ones included).
    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    /// A snapshot of one session.
    pub fn session_info(&self, tunnel: TunnelId, session: SessionId) -> Option<SessionInfo> {
        let t = self.tunnels.get(&tunnel)?;
        let s = t.sessions.get(&session)?;
        Some(session_info(t, session, s))
    }

    /// Snapshots of every session of a tunnel.
    pub fn sessions(&self, tunnel: TunnelId) -> impl Iterator<Item = SessionInfo> + '_ {
        self.tunnels
            .get(&tunnel)
            .into_iter()
            .flat_map(|t| t.sessions.iter().map(move |(k, s)| session_info(t, *k, s)))
    }
}

/// Why an SCCRQ is refused on its content alone (checked before any state is created; the
/// same checks as [`Tunnel::on_sccrq`]).
fn sccrq_refusal(m: &l2tp_wire::Sccrq, have_secret: bool) -> Option<ProtocolError> {
    if let Some(err) = check_unknown(&m.unknown) {
        return Some(err);
    }
    if m.protocol_version.version != 1 {
        return Some(ProtocolError::BadVersion);
    }
    if m.challenge.is_some() && !have_secret {
        // RFC 2661 §5.1.1: we cannot answer a Challenge without a shared secret.
        return Some(ProtocolError::AuthFailed(
            "peer sent a Challenge and no secret is configured",
        ));
    }
    None
}

/// True while the peer of a half-open tunnel has sent nothing since its SCCRQ (no SCCCN, no
/// acknowledgement, no retransmitted SCCRQ).
fn never_answered(t: &Tunnel) -> bool {
    let c = t.channel.counters();
    c.rx_messages <= 1 && c.rx_zlbs == 0 && c.rx_duplicates == 0 && c.rx_out_of_order == 0
}

fn info(t: &Tunnel) -> TunnelInfo {
    TunnelInfo {
        tunnel: t.id,
        peer_tunnel: t.peer_id(),
        peer: t.peer,
        local: t.local,
        state: t.state.kind(),
        peer_host_name: t.peer_host_name.clone(),
        sessions: t.sessions.len(),
        counters: t.channel.counters(),
        failover: t.failover,
    }
}

fn session_info(t: &Tunnel, sid: SessionId, s: &super::session::Session) -> SessionInfo {
    SessionInfo {
        tunnel: t.id,
        session: sid,
        peer_tunnel: t.peer_id(),
        peer_session: s.peer_id,
        peer: t.peer,
        kind: s.kind,
        state: s.state,
        tx_messages: s.tx,
        rx_messages: s.rx,
        wan_errors: s.wan_errors.as_deref().copied(),
    }
}

/// A restored endpoint's random source (a snapshot does not carry one).
pub(crate) fn fresh_rng() -> Box<dyn RngCore + Send> {
    use rand::SeedableRng;
    Box::new(rand::rngs::StdRng::from_entropy())
}
