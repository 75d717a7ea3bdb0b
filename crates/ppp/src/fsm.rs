//! The RFC 1661 §4 option negotiation automaton, shared by LCP, IPCP and IPv6CP.
//!
//! [`Fsm`] implements the full state transition table of RFC 1661 §4.1 (ten states, events
//! Up/Down/Open/Close/TO±/RCR±/RCA/RCN/RTR/RTA/RUC/RXJ±/RXR) with the Restart timer and the
//! Max-Configure, Max-Terminate and Max-Failure counters of §4.6. Everything specific to one
//! protocol (which options to ask for, how to judge the peer's) lives behind [`Policy`].
//! The automaton never sends anything itself: it queues [`Output`]s that the link drains
//! after every input (the sans-IO drain rule).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::options::{self, RawOption, Verdict};
use crate::packet::{self, Code};

/// The ten states of RFC 1661 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// 0: lower layer down, no Open.
    Initial,
    /// 1: Open, waiting for the lower layer.
    Starting,
    /// 2: lower layer up, no Open.
    Closed,
    /// 3: waiting (passively) after termination or failure.
    Stopped,
    /// 4: Terminate-Request sent after Close.
    Closing,
    /// 5: Terminate-Request sent (or received) while going down.
    Stopping,
    /// 6: Configure-Request sent.
    ReqSent,
    /// 7: our Configure-Request acknowledged.
    AckRcvd,
    /// 8: peer's Configure-Request acknowledged.
    AckSent,
    /// 9: both acknowledged: the protocol is up.
    Opened,
}

impl State {
    /// States in which the Restart timer runs (those with TO events, RFC 1661 §4.1).
    fn timer_runs(self) -> bool {
        matches!(
            self,
            State::Closing | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent
        )
    }
}

/// Counters and timer of RFC 1661 §4.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FsmConfig {
    /// Restart timer (default 3 s).
    pub restart: Duration,
    /// Max-Terminate (default 2).
    pub max_terminate: u32,
    /// Max-Configure (default 10).
    pub max_configure: u32,
    /// Max-Failure (default 5): Configure-Naks sent before they become Configure-Rejects, and
    /// (our addition against endless Nak loops) Naks received before we give the option up.
    pub max_failure: u32,
}

impl Default for FsmConfig {
    fn default() -> Self {
        FsmConfig {
            restart: Duration::from_secs(3),
            max_terminate: 2,
            max_configure: 10,
            max_failure: 5,
        }
    }
}

/// The "this layer" actions of RFC 1661 §4.4, reported to the layer above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LayerEvent {
    /// tlu: the protocol is Opened.
    Up,
    /// tld: leaving Opened.
    Down,
    /// tls: the lower layer is needed.
    Started,
    /// tlf: the lower layer is no longer needed (negotiation failed or terminated).
    Finished,
}

/// What the automaton asks the link to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Output {
    /// Send this encoded control packet (Code, Identifier, Length, Data) on the protocol.
    Send(Vec<u8>),
    /// Report a layer event.
    Layer(LayerEvent),
}

/// Protocol-specific option handling (LCP, IPCP, IPv6CP).
pub trait Policy {
    /// Reset what we ask for before a fresh negotiation (not on retransmissions).
    fn reset(&mut self);
    /// Encoded options for our next Configure-Request.
    fn request(&mut self) -> Vec<u8>;
    /// Judge the peer's Configure-Request (RCR+ when the verdict is Ack) and remember the
    /// values it carries. Peer-side values not present in the request return to defaults
    /// here; [`Policy::reset`] only touches our side.
    fn check_request(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]) -> Verdict;
    /// Our Configure-Request was acknowledged.
    fn ack_received(&mut self) {}
    /// Configure-Nak received for our request; adjust what we ask for.
    fn nak_received(&mut self, rng: &mut dyn RngCore, opts: &[RawOption<'_>]);
    /// Configure-Reject received for our request; stop asking for those options.
    fn reject_received(&mut self, opts: &[RawOption<'_>]);
}

/// The automaton for one protocol, owning that protocol's [`Policy`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Fsm<P> {
    /// Protocol-specific option handling.
    pub policy: P,
    cfg: FsmConfig,
    state: State,
    restart_count: u32,
    #[serde(with = "l2tp_snap::opt_instant")]
    deadline: Option<Instant>,
    next_id: u8,
    req_id: u8,
    last_request: Vec<u8>,
    /// Whether an Ack/Nak/Reject for `req_id` was already processed (duplicates are dropped).
    answered: bool,
    /// The peer's last Configure-Request we acknowledged (Identifier, options).
    last_acked: Option<(u8, Vec<u8>)>,
    naks_sent: u32,
    naks_received: u32,
    out: VecDeque<Output>,
}

impl<P: Policy> Fsm<P> {
    /// Gives back the spare capacity of the output queue and saved packets (they are sized
    /// for negotiation; an opened link rarely needs them again).
    pub fn shrink_to_fit(&mut self) {
        self.out.shrink_to_fit();
        self.last_request.shrink_to_fit();
        if let Some((_, options)) = self.last_acked.as_mut() {
            options.shrink_to_fit();
        }
    }

    /// A new automaton in the Initial state.
    pub fn new(policy: P, cfg: FsmConfig, first_id: u8) -> Self {
        Fsm {
            policy,
            cfg,
            state: State::Initial,
            restart_count: 0,
            deadline: None,
            next_id: first_id,
            req_id: 0,
            last_request: Vec::new(),
            answered: false,
            last_acked: None,
            naks_sent: 0,
            naks_received: 0,
            out: VecDeque::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// True when Opened.
    pub fn is_opened(&self) -> bool {
        self.state == State::Opened
    }

    /// When the Restart timer fires, if it runs.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Next queued output.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// A fresh Identifier for a packet this protocol originates (also used by LCP for Echo,
    /// Discard and Protocol-Reject).
    pub fn fresh_id(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn set_state(&mut self, s: State) {
        // RFC 1661 §4.1: the Restart timer stops when moving to a state where it does not run.
        if !s.timer_runs() {
            self.deadline = None;
        }
        self.state = s;
    }

    fn layer(&mut self, e: LayerEvent) {
        self.out.push_back(Output::Layer(e));
    }

    fn send(&mut self, code: Code, id: u8, data: &[u8]) {
        self.out
            .push_back(Output::Send(packet::encode(code, id, data)));
    }

    // --- RFC 1661 §4.4 actions -------------------------------------------------------------

    /// irc for a Configure-Request sequence.
    fn irc_configure(&mut self) {
        self.restart_count = self.cfg.max_configure;
    }

    /// irc for a Terminate-Request sequence.
    fn irc_terminate(&mut self) {
        self.restart_count = self.cfg.max_terminate;
    }

    /// zrc: zero the counter, start the timer (RFC 1661 §4.4 Zero-Restart-Count).
    fn zrc(&mut self, now: Instant) {
        self.restart_count = 0;
        self.deadline = Some(now + self.cfg.restart);
    }

    /// scr: Send-Configure-Request.
    fn scr(&mut self, now: Instant) {
        self.scr_inner(now, false)
    }

    /// scr on TO+: RFC 1661 §5.1 lets a retransmission keep its Identifier; we do when the
    /// options are unchanged, so a peer already Opened recognises it as a duplicate and
    /// re-Acks instead of renegotiating (see `rcr`).
    fn scr_retransmit(&mut self, now: Instant) {
        self.scr_inner(now, true)
    }

    fn scr_inner(&mut self, now: Instant, retransmit: bool) {
        // Like pppd: options are reset only when not already negotiating.
        if !matches!(self.state, State::ReqSent | State::AckRcvd | State::AckSent) {
            self.policy.reset();
            self.naks_sent = 0;
            self.naks_received = 0;
        }
        let req = self.policy.request();
        if !(retransmit && req == self.last_request) {
            self.req_id = self.fresh_id();
        }
        self.last_request = req;
        self.answered = false;
        let data = self.last_request.clone();
        self.send(Code::CONFIGURE_REQUEST, self.req_id, &data);
        self.restart_count = self.restart_count.saturating_sub(1);
        self.deadline = Some(now + self.cfg.restart);
    }

    /// str: Send-Terminate-Request.
    fn str(&mut self, now: Instant) {
        let id = self.fresh_id();
        self.send(Code::TERMINATE_REQUEST, id, &[]);
        self.restart_count = self.restart_count.saturating_sub(1);
        self.deadline = Some(now + self.cfg.restart);
    }

    /// sta: Send-Terminate-Ack.
    fn sta(&mut self, id: u8) {
        self.send(Code::TERMINATE_ACK, id, &[]);
    }

    // --- administrative and lower-layer events ---------------------------------------------

    /// Up: the lower layer is ready.
    pub fn up(&mut self, now: Instant) {
        match self.state {
            State::Initial => self.set_state(State::Closed),
            State::Starting => {
                self.irc_configure();
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            _ => {} // RFC 1661 §4.1: illegal, ignored.
        }
    }

    /// Opened without a negotiation of our own: another system negotiated `request` (our
    /// options, acknowledged) with the peer, and hands the link over (proxy LCP, RFC 2661
    /// §4.4.5). Reports no layer event; the caller acts as on This-Layer-Up. Only from the
    /// Starting state (after `open`, before `up`).
    pub fn opened_by_proxy(&mut self, request: Vec<u8>) -> bool {
        if self.state != State::Starting {
            return false;
        }
        self.req_id = self.fresh_id();
        self.last_request = request;
        self.answered = true;
        self.restart_count = 0;
        self.set_state(State::Opened);
        true
    }

    /// Down: the lower layer went away.
    pub fn down(&mut self) {
        match self.state {
            State::Closed | State::Closing => self.set_state(State::Initial),
            State::Stopped => {
                self.layer(LayerEvent::Started);
                self.set_state(State::Starting);
            }
            State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => {
                self.set_state(State::Starting)
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.set_state(State::Starting);
            }
            State::Initial | State::Starting => {}
        }
    }

    /// Open: administrative open.
    pub fn open(&mut self, now: Instant) {
        match self.state {
            State::Initial => {
                self.layer(LayerEvent::Started);
                self.set_state(State::Starting);
            }
            State::Closed => {
                self.irc_configure();
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            State::Closing => self.set_state(State::Stopping),
            _ => {}
        }
    }

    /// Close: administrative close.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Starting => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Initial);
            }
            State::Stopped => self.set_state(State::Closed),
            State::Stopping => self.set_state(State::Closing),
            State::ReqSent | State::AckRcvd | State::AckSent => {
                self.irc_terminate();
                self.str(now);
                self.set_state(State::Closing);
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.irc_terminate();
                self.str(now);
                self.set_state(State::Closing);
            }
            State::Initial | State::Closed | State::Closing => {}
        }
    }

    /// Restart timer expiry (TO+ while the counter is positive, TO- otherwise). Ignored if the
    /// timer is not running or not yet due.
    pub fn timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(d) if d <= now => {}
            _ => return,
        }
        self.deadline = None;
        let plus = self.restart_count > 0;
        match (self.state, plus) {
            (State::Closing, true) | (State::Stopping, true) => self.str(now),
            (State::Closing, false) => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Closed);
            }
            (State::Stopping, false) => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Stopped);
            }
            (State::ReqSent, true) | (State::AckRcvd, true) => {
                self.scr_retransmit(now);
                self.set_state(State::ReqSent);
            }
            (State::AckSent, true) => self.scr_retransmit(now),
            // RFC 1661 §4.1 TO- [p]: give up, passive Stopped.
            (State::ReqSent | State::AckRcvd | State::AckSent, false) => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Stopped);
            }
            _ => {}
        }
    }

    // --- receive events ---------------------------------------------------------------------

    /// A packet with one of codes 1–7 for this protocol. Other codes must go to
    /// [`Fsm::unknown_code`] (or be handled by the protocol, like LCP Echo).
    pub fn receive(
        &mut self,
        now: Instant,
        rng: &mut dyn RngCore,
        code: Code,
        id: u8,
        data: &[u8],
    ) -> Result<(), crate::DecodeError> {
        match code {
            Code::CONFIGURE_REQUEST => self.rcr(now, rng, id, data)?,
            Code::CONFIGURE_ACK => self.rca(now, id, data),
            Code::CONFIGURE_NAK | Code::CONFIGURE_REJECT => {
                self.rcn(now, rng, code == Code::CONFIGURE_REJECT, id, data)?
            }
            Code::TERMINATE_REQUEST => self.rtr(now, id),
            Code::TERMINATE_ACK => self.rta(now),
            Code::CODE_REJECT => {
                // RFC 1661 §5.6: rejected codes 1–7 are catastrophic (RXJ-), others not (RXJ+).
                let rejected = data.first().copied().unwrap_or(0);
                self.rxj(now, !(1..=7).contains(&rejected));
            }
            other => self.unknown_code(other, id, data),
        }
        Ok(())
    }

    fn rcr(
        &mut self,
        now: Instant,
        rng: &mut dyn RngCore,
        id: u8,
        data: &[u8],
    ) -> Result<(), crate::DecodeError> {
        match self.state {
            State::Closed => {
                self.sta(id);
                return Ok(());
            }
            State::Closing | State::Stopping | State::Initial | State::Starting => return Ok(()),
            // A byte-identical copy (same Identifier) of the request that opened us is a
            // network duplicate: re-Ack it instead of renegotiating (deviation, docs/ppp.md).
            State::Opened
                if self
                    .last_acked
                    .as_ref()
                    .is_some_and(|(i, d)| *i == id && d.as_slice() == data) =>
            {
                self.send(Code::CONFIGURE_ACK, id, data);
                return Ok(());
            }
            _ => {}
        }
        let opts = options::decode(data)?;
        let mut verdict = self.policy.check_request(rng, &opts);
        if let Verdict::Nak(nak) = &verdict {
            self.naks_sent += 1;
            // RFC 1661 §4.6 Max-Failure: after this many Naks, reject the options instead.
            if self.naks_sent > self.cfg.max_failure {
                let naked: Vec<u8> = options::decode(nak)
                    .map(|n| n.iter().map(|o| o.kind).collect())
                    .unwrap_or_default();
                let rej: Vec<RawOption<'_>> = opts
                    .iter()
                    .filter(|o| naked.contains(&o.kind))
                    .copied()
                    .collect();
                if !rej.is_empty() {
                    verdict = Verdict::Reject(options::encode(&rej));
                }
            }
        }
        let good = verdict == Verdict::Ack;
        let reply = |this: &mut Self| match &verdict {
            Verdict::Ack => this.send(Code::CONFIGURE_ACK, id, data),
            Verdict::Nak(n) => this.send(Code::CONFIGURE_NAK, id, n),
            Verdict::Reject(r) => this.send(Code::CONFIGURE_REJECT, id, r),
        };
        match (self.state, good) {
            (State::Stopped, _) => {
                self.irc_configure();
                self.scr(now);
                reply(self);
                self.set_state(if good { State::AckSent } else { State::ReqSent });
            }
            (State::ReqSent, _) | (State::AckSent, _) => {
                reply(self);
                self.set_state(if good { State::AckSent } else { State::ReqSent });
            }
            (State::AckRcvd, true) => {
                reply(self);
                self.set_state(State::Opened);
                self.layer(LayerEvent::Up);
            }
            (State::AckRcvd, false) => reply(self),
            (State::Opened, _) => {
                self.layer(LayerEvent::Down);
                self.scr(now);
                reply(self);
                self.set_state(if good { State::AckSent } else { State::ReqSent });
            }
            _ => {}
        }
        if good {
            self.naks_sent = 0;
            self.last_acked = Some((id, data.to_vec()));
        }
        Ok(())
    }

    fn rca(&mut self, now: Instant, id: u8, data: &[u8]) {
        // RFC 1661 §5.2: an Ack must match the last request's Identifier and options exactly;
        // otherwise it is invalid and silently discarded.
        // A second Ack for an answered request is a duplicate from the network (L2TP may
        // duplicate); acting on it would restart negotiation (deviation, docs/ppp.md).
        let valid = id == self.req_id && !self.answered && data == self.last_request.as_slice();
        match self.state {
            State::Closed | State::Stopped => {
                self.sta(id);
                return;
            }
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened if !valid => return,
            _ => {}
        }
        self.answered = true;
        match self.state {
            State::ReqSent => {
                self.irc_configure();
                self.naks_received = 0;
                self.policy.ack_received();
                self.set_state(State::AckRcvd);
            }
            State::AckRcvd => {
                // [x] crossed connection.
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            State::AckSent => {
                self.irc_configure();
                self.naks_received = 0;
                self.policy.ack_received();
                self.set_state(State::Opened);
                self.layer(LayerEvent::Up);
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            _ => {}
        }
    }

    fn rcn(
        &mut self,
        now: Instant,
        rng: &mut dyn RngCore,
        reject: bool,
        id: u8,
        data: &[u8],
    ) -> Result<(), crate::DecodeError> {
        match self.state {
            State::Closed | State::Stopped => {
                self.sta(id);
                return Ok(());
            }
            State::ReqSent | State::AckRcvd | State::AckSent | State::Opened => {}
            _ => return Ok(()),
        }
        if id != self.req_id || self.answered {
            return Ok(()); // RFC 1661 §5.3: not a reply to our last request (or a duplicate).
        }
        self.answered = true;
        let opts = options::decode(data)?;
        if matches!(self.state, State::ReqSent | State::AckSent) {
            self.naks_received += 1;
            // Against endless Nak loops: past Max-Failure a Nak counts as a Reject.
            if reject || self.naks_received > self.cfg.max_failure {
                self.policy.reject_received(&opts);
            } else {
                self.policy.nak_received(rng, &opts);
            }
        }
        match self.state {
            State::ReqSent | State::AckSent => {
                self.irc_configure();
                self.scr(now);
            }
            State::AckRcvd => {
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            _ => {}
        }
        Ok(())
    }

    fn rtr(&mut self, now: Instant, id: u8) {
        match self.state {
            State::Closed | State::Stopped | State::Closing | State::Stopping => self.sta(id),
            State::ReqSent | State::AckRcvd | State::AckSent => {
                self.sta(id);
                self.set_state(State::ReqSent);
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.zrc(now);
                self.sta(id);
                self.set_state(State::Stopping);
            }
            _ => {}
        }
    }

    fn rta(&mut self, now: Instant) {
        match self.state {
            State::Closing => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Closed);
            }
            State::Stopping => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Stopped);
            }
            State::AckRcvd => self.set_state(State::ReqSent),
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.scr(now);
                self.set_state(State::ReqSent);
            }
            _ => {}
        }
    }

    /// RUC: a packet with a code this protocol does not know; answered with Code-Reject
    /// (RFC 1661 §5.6) carrying the rejected packet.
    pub fn unknown_code(&mut self, code: Code, id: u8, data: &[u8]) {
        if matches!(self.state, State::Initial | State::Starting) {
            return;
        }
        let rejected = packet::encode(code, id, data);
        let cid = self.fresh_id();
        self.send(Code::CODE_REJECT, cid, &rejected);
    }

    /// RXJ+ (`acceptable`) or RXJ- (catastrophic): Code-Reject or Protocol-Reject received.
    pub fn rxj(&mut self, now: Instant, acceptable: bool) {
        if acceptable {
            if self.state == State::AckRcvd {
                self.set_state(State::ReqSent);
            }
            return;
        }
        match self.state {
            State::Closed | State::Closing => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Closed);
            }
            State::Stopped | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent => {
                self.layer(LayerEvent::Finished);
                self.set_state(State::Stopped);
            }
            State::Opened => {
                self.layer(LayerEvent::Down);
                self.irc_terminate();
                self.str(now);
                self.set_state(State::Stopping);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Reply;
    use rand::rngs::mock::StepRng;

    /// A policy asking for one option (type 1, 2 octets) and accepting anything but type 99.
    #[derive(Debug, Default)]
    struct Simple {
        value: u16,
        nak_forever: bool,
        rejected: bool,
    }

    impl Policy for Simple {
        fn reset(&mut self) {}
        fn request(&mut self) -> Vec<u8> {
            let mut v = Vec::new();
            if !self.rejected {
                options::push(&mut v, 1, &self.value.to_be_bytes());
            }
            v
        }
        fn check_request(&mut self, _: &mut dyn RngCore, opts: &[RawOption<'_>]) -> Verdict {
            let mut r = Reply::default();
            for o in opts {
                if o.kind == 99 {
                    r.reject(o);
                } else if self.nak_forever {
                    r.nak(o.kind, &[0, 0]);
                }
            }
            r.verdict()
        }
        fn nak_received(&mut self, _: &mut dyn RngCore, opts: &[RawOption<'_>]) {
            if let Some(v) = opts.first().and_then(|o| o.u16()) {
                self.value = v;
            }
        }
        fn reject_received(&mut self, _: &[RawOption<'_>]) {
            self.rejected = true;
        }
    }

    /// RFC 1661 §4.1, transcribed: for each event, the cell for states 0..=9.
    /// `-` is an illegal event (ignored, nothing happens).
    const TABLE: &[(&str, [&str; 10])] = &[
        (
            "Up",
            ["2", "irc,scr/6", "-", "-", "-", "-", "-", "-", "-", "-"],
        ),
        (
            "Down",
            ["-", "-", "0", "tls/1", "0", "1", "1", "1", "1", "tld/1"],
        ),
        (
            "Open",
            ["tls/1", "1", "irc,scr/6", "3", "5", "5", "6", "7", "8", "9"],
        ),
        (
            "Close",
            [
                "0",
                "tlf/0",
                "2",
                "2",
                "4",
                "4",
                "irc,str/4",
                "irc,str/4",
                "irc,str/4",
                "tld,irc,str/4",
            ],
        ),
        (
            "TO+",
            [
                "-", "-", "-", "-", "str/4", "str/5", "scr/6", "scr/6", "scr/8", "-",
            ],
        ),
        (
            "TO-",
            [
                "-", "-", "-", "-", "tlf/2", "tlf/3", "tlf/3", "tlf/3", "tlf/3", "-",
            ],
        ),
        (
            "RCR+",
            [
                "-",
                "-",
                "sta/2",
                "irc,scr,sca/8",
                "4",
                "5",
                "sca/8",
                "sca,tlu/9",
                "sca/8",
                "tld,scr,sca/8",
            ],
        ),
        (
            "RCR-",
            [
                "-",
                "-",
                "sta/2",
                "irc,scr,scn/6",
                "4",
                "5",
                "scn/6",
                "scn/7",
                "scn/6",
                "tld,scr,scn/6",
            ],
        ),
        (
            "RCA",
            [
                "-",
                "-",
                "sta/2",
                "sta/3",
                "4",
                "5",
                "irc/7",
                "scr/6",
                "irc,tlu/9",
                "tld,scr/6",
            ],
        ),
        (
            "RCN",
            [
                "-",
                "-",
                "sta/2",
                "sta/3",
                "4",
                "5",
                "irc,scr/6",
                "scr/6",
                "irc,scr/8",
                "tld,scr/6",
            ],
        ),
        (
            "RTR",
            [
                "-",
                "-",
                "sta/2",
                "sta/3",
                "sta/4",
                "sta/5",
                "sta/6",
                "sta/6",
                "sta/6",
                "tld,zrc,sta/5",
            ],
        ),
        (
            "RTA",
            [
                "-",
                "-",
                "2",
                "3",
                "tlf/2",
                "tlf/3",
                "6",
                "6",
                "8",
                "tld,scr/6",
            ],
        ),
        (
            "RUC",
            [
                "-", "-", "scj/2", "scj/3", "scj/4", "scj/5", "scj/6", "scj/7", "scj/8", "scj/9",
            ],
        ),
        ("RXJ+", ["-", "-", "2", "3", "4", "5", "6", "6", "8", "9"]),
        (
            "RXJ-",
            [
                "-",
                "-",
                "tlf/2",
                "tlf/3",
                "tlf/2",
                "tlf/3",
                "tlf/3",
                "tlf/3",
                "tlf/3",
                "tld,irc,str/5",
            ],
        ),
    ];

    const STATES: [State; 10] = [
        State::Initial,
        State::Starting,
        State::Closed,
        State::Stopped,
        State::Closing,
        State::Stopping,
        State::ReqSent,
        State::AckRcvd,
        State::AckSent,
        State::Opened,
    ];

    #[test]
    fn every_cell_of_the_rfc1661_state_table() {
        let mut checked = 0;
        for (event, row) in TABLE {
            for (si, cell) in row.iter().enumerate() {
                let now = Instant::now();
                let mut rng = StepRng::new(1, 1);
                let mut f = Fsm::new(Simple::default(), FsmConfig::default(), 1);
                let start = STATES[si];
                f.state = start;
                f.restart_count = if *event == "TO-" { 0 } else { 3 };
                f.deadline = start.timer_runs().then_some(now);
                // Our last request: Identifier 0, no options (what an Ack must echo).
                f.req_id = 0;
                f.last_request = vec![1, 4, 0, 0];
                let req = f.last_request.clone();
                match *event {
                    "Up" => f.up(now),
                    "Down" => f.down(),
                    "Open" => f.open(now),
                    "Close" => f.close(now),
                    "TO+" | "TO-" => f.timeout(now),
                    "RCR+" => f.receive(now, &mut rng, Code(1), 50, &[]).unwrap(),
                    "RCR-" => f.receive(now, &mut rng, Code(1), 50, &[99, 2]).unwrap(),
                    "RCA" => f.receive(now, &mut rng, Code(2), 0, &req).unwrap(),
                    "RCN" => f.receive(now, &mut rng, Code(3), 0, &[1, 4, 0, 7]).unwrap(),
                    "RTR" => f.receive(now, &mut rng, Code(5), 51, &[]).unwrap(),
                    "RTA" => f.receive(now, &mut rng, Code(6), 52, &[]).unwrap(),
                    "RUC" => f.receive(now, &mut rng, Code(42), 53, &[]).unwrap(),
                    "RXJ+" => f
                        .receive(now, &mut rng, Code(7), 54, &[42, 1, 0, 4])
                        .unwrap(),
                    "RXJ-" => f
                        .receive(now, &mut rng, Code(7), 55, &[1, 1, 0, 4])
                        .unwrap(),
                    other => panic!("{other}"),
                }
                let outs = drain(&mut f);
                let (actions, next) = match cell.split_once('/') {
                    Some((a, s)) => (a.split(',').collect::<Vec<_>>(), s),
                    None if *cell == "-" => (vec![], ""),
                    None => (vec![], *cell),
                };
                let expect_state = if next.is_empty() {
                    start
                } else {
                    STATES[next.parse::<usize>().unwrap()]
                };
                let ctx = format!("{event} in {start:?} ({cell})");
                assert_eq!(f.state(), expect_state, "{ctx}");
                // Observable actions: layer events and packets by code (order free, §4.1).
                let mut want: Vec<String> = actions
                    .iter()
                    .filter_map(|a| match *a {
                        "tlu" | "tld" | "tls" | "tlf" => Some(a.to_string()),
                        "scr" => Some("1".into()),
                        "sca" => Some("2".into()),
                        "scn" => Some("4".into()), // our RCR- is a Reject
                        "str" => Some("5".into()),
                        "sta" => Some("6".into()),
                        "scj" => Some("7".into()),
                        _ => None, // irc, zrc: counters
                    })
                    .collect();
                let mut got: Vec<String> = outs
                    .iter()
                    .map(|o| match o {
                        Output::Layer(LayerEvent::Up) => "tlu".into(),
                        Output::Layer(LayerEvent::Down) => "tld".into(),
                        Output::Layer(LayerEvent::Started) => "tls".into(),
                        Output::Layer(LayerEvent::Finished) => "tlf".into(),
                        Output::Send(b) => b[0].to_string(),
                    })
                    .collect();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{ctx}");
                // The Restart timer runs exactly in the states with TO events.
                if !expect_state.timer_runs() {
                    assert_eq!(f.deadline(), None, "{ctx}: timer must stop");
                } else if actions.iter().any(|a| ["scr", "str", "zrc"].contains(a)) {
                    assert!(
                        f.deadline().is_some_and(|d| d > now),
                        "{ctx}: timer restarted"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 150);
    }

    fn drain(f: &mut Fsm<Simple>) -> Vec<Output> {
        std::iter::from_fn(|| f.poll()).collect()
    }

    fn sent(outs: &[Output]) -> Vec<(u8, u8, Vec<u8>)> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Send(b) => {
                    let p = packet::Packet::decode(b).unwrap();
                    Some((p.code.0, p.id, p.data.to_vec()))
                }
                _ => None,
            })
            .collect()
    }

    fn opened() -> (Fsm<Simple>, Instant, StepRng) {
        let now = Instant::now();
        let mut rng = StepRng::new(1, 1);
        let mut f = Fsm::new(Simple::default(), FsmConfig::default(), 1);
        f.open(now);
        f.up(now);
        assert_eq!(f.state(), State::ReqSent);
        let out = sent(&drain(&mut f));
        assert_eq!(out, vec![(1, 1, vec![1, 4, 0, 0])]);
        f.receive(now, &mut rng, Code::CONFIGURE_ACK, 1, &[1, 4, 0, 0])
            .unwrap();
        assert_eq!(f.state(), State::AckRcvd);
        f.receive(now, &mut rng, Code::CONFIGURE_REQUEST, 5, &[])
            .unwrap();
        assert_eq!(f.state(), State::Opened);
        assert!(drain(&mut f).contains(&Output::Layer(LayerEvent::Up)));
        (f, now, rng)
    }

    #[test]
    fn open_and_terminate_by_peer() {
        let (mut f, now, mut rng) = opened();
        f.receive(now, &mut rng, Code::TERMINATE_REQUEST, 9, &[])
            .unwrap();
        assert_eq!(f.state(), State::Stopping);
        let out = drain(&mut f);
        assert_eq!(out[0], Output::Layer(LayerEvent::Down));
        assert_eq!(sent(&out), vec![(6, 9, vec![])]);
        // zrc: one restart period later TO- finishes.
        f.timeout(now + Duration::from_secs(3));
        assert_eq!(f.state(), State::Stopped);
        assert_eq!(drain(&mut f), vec![Output::Layer(LayerEvent::Finished)]);
    }

    #[test]
    fn max_configure_gives_up() {
        let now = Instant::now();
        let mut f = Fsm::new(Simple::default(), FsmConfig::default(), 1);
        f.open(now);
        f.up(now);
        let mut t = now;
        let mut reqs = 0;
        for _ in 0..20 {
            t += Duration::from_secs(3);
            f.timeout(t);
            reqs += sent(&drain(&mut f)).len();
            if f.state() == State::Stopped {
                break;
            }
        }
        assert_eq!(f.state(), State::Stopped);
        assert_eq!(reqs, 10, "Max-Configure requests then give up");
    }

    #[test]
    fn close_sends_terminate_and_max_terminate() {
        let (mut f, now, _) = opened();
        f.close(now);
        assert_eq!(f.state(), State::Closing);
        let n1 = sent(&drain(&mut f));
        assert_eq!(n1[0].0, 5);
        f.timeout(now + Duration::from_secs(3));
        assert_eq!(sent(&drain(&mut f))[0].0, 5);
        f.timeout(now + Duration::from_secs(6));
        assert_eq!(f.state(), State::Closed);
        assert_eq!(drain(&mut f), vec![Output::Layer(LayerEvent::Finished)]);
    }

    #[test]
    fn bad_ack_discarded_and_reject_and_unknown_code() {
        let now = Instant::now();
        let mut rng = StepRng::new(1, 1);
        let mut f = Fsm::new(Simple::default(), FsmConfig::default(), 1);
        f.open(now);
        f.up(now);
        drain(&mut f);
        f.receive(now, &mut rng, Code::CONFIGURE_ACK, 1, &[1, 4, 0, 1])
            .unwrap();
        assert_eq!(f.state(), State::ReqSent, "modified Ack is invalid");
        f.receive(now, &mut rng, Code::CONFIGURE_ACK, 7, &[1, 4, 0, 0])
            .unwrap();
        assert_eq!(f.state(), State::ReqSent, "wrong identifier");
        f.receive(now, &mut rng, Code::CONFIGURE_REJECT, 1, &[1, 4, 0, 0])
            .unwrap();
        let out = sent(&drain(&mut f));
        assert_eq!(
            out,
            vec![(1, 2, vec![])],
            "re-requests without the rejected option"
        );
        f.receive(now, &mut rng, Code::CONFIGURE_REQUEST, 3, &[99, 2, 1, 2])
            .unwrap();
        assert_eq!(sent(&drain(&mut f)), vec![(4, 3, vec![99, 2])]);
        f.receive(now, &mut rng, Code(42), 3, &[1]).unwrap();
        assert_eq!(sent(&drain(&mut f)), vec![(7, 3, vec![42, 3, 0, 5, 1])]);
        // Overrunning option list: typed error, state unchanged.
        assert!(f
            .receive(now, &mut rng, Code::CONFIGURE_REQUEST, 4, &[1, 9])
            .is_err());
        assert_eq!(f.state(), State::ReqSent);
    }

    #[test]
    fn max_failure_turns_naks_into_rejects() {
        let now = Instant::now();
        let mut rng = StepRng::new(1, 1);
        let mut f = Fsm::new(
            Simple {
                nak_forever: true,
                ..Default::default()
            },
            FsmConfig::default(),
            1,
        );
        f.open(now);
        f.up(now);
        drain(&mut f);
        let mut codes = Vec::new();
        for i in 0..8 {
            f.receive(now, &mut rng, Code::CONFIGURE_REQUEST, i, &[5, 4, 1, 1])
                .unwrap();
            codes.extend(sent(&drain(&mut f)).into_iter().map(|s| s.0));
        }
        assert_eq!(codes, [3, 3, 3, 3, 3, 4, 4, 4]);
        // And Naks received past Max-Failure count as Rejects.
        let mut f = Fsm::new(Simple::default(), FsmConfig::default(), 1);
        f.open(now);
        f.up(now);
        drain(&mut f);
        for _ in 0..7 {
            let id = f.req_id;
            f.receive(now, &mut rng, Code::CONFIGURE_NAK, id, &[1, 4, 0, 9])
                .unwrap();
            drain(&mut f);
        }
        assert!(f.policy.rejected);
    }
}
