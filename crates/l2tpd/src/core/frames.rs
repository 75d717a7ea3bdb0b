//! PPP frames and IP packets between the datapath, the sessions' links and the TUNs: a
//! received datagram goes to the datapath (data) or the control plane; an in-order frame to
//! IP (a TUN write, or the in-process app) or to the session's link; an IP packet from a TUN
//! gets its PPP header and is encapsulated straight into the datagram output. Data frames
//! that overtake their session's ICCN are held briefly and replayed when it comes up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_io::offload::Coalescer;
use l2tp_proto::control::SessionStateKind;
use l2tp_proto::data::{ControlReason, RxResult, SessionKey, SocketId, ToControl};
use l2tp_wire::TunnelId;
use ppp::Protocol;

use super::output::Transmit;
use super::{Core, TunTarget, HEADROOM, MAX_DATAGRAM};

/// Frames held per session waiting for its ICCN.
const EARLY_FRAMES_PER_SESSION: usize = 4;
/// Frames held in all.
const EARLY_FRAMES_MAX: usize = 4096;
/// How long a session's early frames are kept.
const EARLY_FRAMES_TTL: Duration = Duration::from_secs(2);

/// Data frames that arrived before their session was up.
#[derive(serde::Serialize, serde::Deserialize)]
struct EarlyFrames {
    #[serde(with = "l2tp_snap::instant")]
    since: Instant,
    frames: Vec<(SocketId, SocketAddr, Vec<u8>)>,
}

/// The frame path's own state.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Frames {
    early: HashMap<SessionKey, EarlyFrames>,
    early_total: usize,
    /// The tunnel whose data was last reported to the control plane, and when.
    #[serde(with = "l2tp_snap::pair_last")]
    last_data_note: (TunnelId, Instant),
    /// While the segments of one TCP super-packet are sent: they may share a UDP GSO send.
    tx_mergeable: bool,
    /// TUN writes: in-order TCP segments of one flow held and written as one GSO packet,
    /// for the TUN `tuntx_target`; queued at the latest by `Core::end_batch`.
    #[serde(skip, default = "crate::core::frames::fresh_coalescer")]
    tuntx: Coalescer,
    #[serde(skip)]
    tuntx_target: Option<TunTarget>,
}

impl Frames {
    pub fn new(now: Instant) -> Frames {
        Frames {
            early: HashMap::new(),
            early_total: 0,
            last_data_note: (TunnelId(0), now),
            tx_mergeable: false,
            tuntx: Coalescer::new(),
            tuntx_target: None,
        }
    }

    /// A burst of set-ups is over: give the table's capacity back.
    pub fn shrink(&mut self) {
        if self.early.is_empty() && self.early.capacity() > 64 {
            self.early.shrink_to_fit();
        }
    }

    pub fn compact(&mut self) {
        self.early.shrink_to_fit();
    }

    /// Forgets what was held for `key`.
    pub fn forget(&mut self, key: SessionKey) {
        if let Some(h) = self.early.remove(&key) {
            self.early_total -= h.frames.len();
        }
    }
}

impl Core {
    pub(super) fn receive_datagram(
        &mut self,
        now: Instant,
        sock: usize,
        from: SocketAddr,
        datagram: &[u8],
    ) {
        let sock = sock.min(self.locals.len().saturating_sub(1));
        match self
            .datapath
            .receive_on(now, SocketId(sock as u32), from, datagram)
        {
            RxResult::Deliver { session, frame, .. } => {
                self.note_tunnel_data(now, session.tunnel);
                self.deliver_frame(now, session, &datagram[frame]);
            }
            RxResult::Queued { .. } => {}
            RxResult::ToControl(tc) => {
                if tc.reason == ControlReason::UnknownSession {
                    self.hold_early_frame(now, tc, from, datagram);
                } else if tc.tunnel.is_zero() && !self.admit_new_tunnel_datagram(now, from) {
                    // Over its source's rate: dropped before it is even decoded.
                } else {
                    self.endpoint
                        .handle_datagram(now, self.locals[sock], from, datagram);
                    // Act on what the message changed (a session coming up) before the
                    // next datagram, which may be that session's first data.
                    self.pump(now);
                }
            }
            RxResult::Dropped(reason) => {
                tracing::trace!(node = %self.name, %from, ?reason, "data dropped");
            }
        }
        self.drain_deliveries(now);
    }

    pub(super) fn drain_deliveries(&mut self, now: Instant) {
        while let Some(d) = self.datapath.poll_deliver() {
            self.deliver_frame(now, d.session, &d.frame);
            self.datapath.recycle(d.frame);
        }
    }

    /// Data from a tunnel's peer is a sign of life: RFC 2661 §5.5 sends HELLO only after a
    /// period with no message, "data or control", from the peer. Reported at most every
    /// 100 ms per tunnel (one comparison per packet in a burst).
    fn note_tunnel_data(&mut self, now: Instant, tunnel: TunnelId) {
        let (last, at) = self.frames.last_data_note;
        if last == tunnel && now.saturating_duration_since(at) < Duration::from_millis(100) {
            return;
        }
        self.frames.last_data_note = (tunnel, now);
        self.endpoint.note_data_received(now, tunnel);
    }

    /// A PPP frame for `key`, in order: IP takes the fast path, the rest goes to the link.
    pub(super) fn deliver_frame(&mut self, now: Instant, key: SessionKey, frame: &[u8]) {
        let Some(sess) = self.sessions.get_mut(&key) else {
            // A LAC's call: relayed to its PPPoE subscriber.
            self.lac_frame_from_lns(key, frame);
            return;
        };
        match ppp::classify(frame) {
            Ok((proto, payload)) if proto == Protocol::IPV4 || proto == Protocol::IPV6 => {
                if !sess.carries(proto) {
                    self.counters.ip_not_ready += 1;
                    return;
                }
                if let Some(sh) = sess.shaper_mut() {
                    if !sh.up.allow(now, payload.len()) {
                        self.counters.rate_limited += 1;
                        return;
                    }
                }
                // Idle-Timeout counts from the user's last IP packet.
                sess.last_activity = now;
                let own_tun = sess.own_tun().is_some();
                if proto == Protocol::IPV6
                    && (self.router_message(key, payload) || self.dhcpv6_message(now, key, payload))
                {
                    return;
                }
                if own_tun {
                    self.write_tun(TunTarget::Session(key), payload);
                } else if matches!(self.ip_mode, super::IpMode::Shared { .. }) {
                    self.write_tun(TunTarget::Shared, payload);
                } else if let Some(app) = self.app.as_mut() {
                    app.packet(now, key, payload, &mut self.outbox);
                }
            }
            Ok(_) => {
                sess.link.handle_frame(now, frame);
                self.dirty.push(key);
            }
            Err(e) => {
                self.counters.bad_frames += 1;
                tracing::debug!(node = %self.name, session = %key, "bad PPP frame: {e}");
            }
        }
    }

    /// An IP packet for a TUN: joins the held run of TCP segments when it can (one GSO
    /// write for the run), else the run is queued first and then this packet (held as a new
    /// run, or queued at once), so a TUN sees packets in order.
    fn write_tun(&mut self, target: TunTarget, packet: &[u8]) {
        let f = &mut self.frames;
        if f.tuntx_target == Some(target) && f.tuntx.push(packet) {
            return;
        }
        self.flush_tun();
        let f = &mut self.frames;
        if f.tuntx.push(packet) {
            f.tuntx_target = Some(target);
            return;
        }
        self.out.tun(target, None, packet);
    }

    /// Queues the held run of TCP segments (one write, a GSO packet when there are several).
    pub(super) fn flush_tun(&mut self) {
        let Some(target) = self.frames.tuntx_target.take() else {
            return;
        };
        if let Some((hdr, packet)) = self.frames.tuntx.take() {
            self.out.tun(target, Some(*hdr), packet);
        }
    }

    /// An IP packet read from a TUN: into the session it belongs to.
    pub(super) fn receive_tun_packet(&mut self, source: TunTarget, packet: &[u8], segment: bool) {
        let key = match source {
            TunTarget::Session(k) => k,
            TunTarget::Shared => {
                let dst = (packet.len() >= 20 && packet[0] >> 4 == 4).then(|| {
                    std::net::Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19])
                });
                match dst
                    .and_then(|d| self.sessions.lookup_v4(d))
                    .or_else(|| self.sessions.lookup_v6(packet))
                {
                    Some(k) => k,
                    None => return,
                }
            }
        };
        self.frames.tx_mergeable = segment;
        self.send_ip(key, packet);
        self.frames.tx_mergeable = false;
    }

    /// Writes `prefix ‖ payload` after the headroom in the datagram output, encapsulates it
    /// there (the header written in front, no further copy) and queues it.
    pub(super) fn send_frame(&mut self, key: SessionKey, prefix: &[u8], payload: &[u8]) {
        let len = prefix.len() + payload.len();
        if len > MAX_DATAGRAM {
            return;
        }
        if self.frames_via_backend {
            return self.send_frame_via_backend(key, prefix, payload);
        }
        let buf = &mut self.out.datagrams;
        let start = buf.len();
        buf.extend_from_slice(&[0u8; HEADROOM]);
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(payload);
        match self
            .datapath
            .encapsulate(key, &mut buf[start..], HEADROOM, len)
        {
            Ok(tx) => {
                let socket = (tx.socket.0 as usize).min(self.locals.len().saturating_sub(1));
                self.out.transmits.push(Transmit {
                    socket,
                    to: tx.peer,
                    range: start + tx.range.start..start + tx.range.end,
                    mergeable: self.frames.tx_mergeable,
                });
            }
            Err(e) => {
                buf.truncate(start);
                tracing::debug!(node = %self.name, session = %key, "encapsulate: {e}");
            }
        }
    }

    /// A kernel datapath carries the frame: it goes to the session's PPP channel.
    #[cold]
    fn send_frame_via_backend(&mut self, key: SessionKey, prefix: &[u8], payload: &[u8]) {
        let mut frame = std::mem::take(&mut self.frame_scratch);
        frame.clear();
        frame.extend_from_slice(prefix);
        frame.extend_from_slice(payload);
        if let Err(e) = self.datapath.send_ppp_frame(key, &frame) {
            tracing::debug!(node = %self.name, session = %key, "PPP frame not sent: {e}");
        }
        self.frame_scratch = frame;
    }

    /// An IP packet into a session (fast path: PPP protocol prefix, then L2TP).
    pub(super) fn send_ip(&mut self, key: SessionKey, packet: &[u8]) {
        let proto = match packet.first().map(|b| b >> 4) {
            Some(4) => Protocol::IPV4,
            Some(6) => Protocol::IPV6,
            _ => return,
        };
        let Some(sess) = self.sessions.get_mut(&key) else {
            return;
        };
        if !sess.carries(proto) {
            self.counters.ip_not_ready += 1;
            return;
        }
        if let Some(sh) = sess.shaper_mut() {
            if !sh.down.allow(self.clock, packet.len()) {
                self.counters.rate_limited += 1;
                return;
            }
        }
        let prefix = ppp::ip_frame_header(proto, sess.link.peer_accepts_acfc());
        self.send_frame(key, prefix, packet);
    }

    /// A data message for a session we do not have (yet). A LAC starts PPP as soon as it
    /// sends its ICCN, so its first LCP frames can overtake the ICCN (held back by the
    /// control window) and would be lost, costing a 3 s LCP restart. Frames for a session
    /// the control plane knows as being set up are held (a few per session, bounded
    /// overall, briefly) and replayed when the session comes up; everything else goes to
    /// the control plane, which counts it.
    fn hold_early_frame(&mut self, now: Instant, tc: ToControl, from: SocketAddr, datagram: &[u8]) {
        // The datapath already read the ids from the header.
        let (tunnel, session, sock) = (tc.tunnel, tc.session, tc.socket);
        let pending = self
            .endpoint
            .session_info(tunnel, session)
            .is_some_and(|i| i.peer == from && !matches!(i.state, SessionStateKind::Established));
        let key = SessionKey::new(tunnel, session);
        if !pending || self.frames.early_total >= EARLY_FRAMES_MAX {
            let local = self.locals[(sock.0 as usize).min(self.locals.len() - 1)];
            self.endpoint.handle_datagram(now, local, from, datagram);
            return;
        }
        let f = &mut self.frames;
        let held = f.early.entry(key).or_insert_with(|| EarlyFrames {
            since: now,
            frames: Vec::new(),
        });
        if held.frames.len() < EARLY_FRAMES_PER_SESSION
            && now.duration_since(held.since) < EARLY_FRAMES_TTL
        {
            held.frames.push((sock, from, datagram.to_vec()));
            f.early_total += 1;
        }
    }

    /// Frames the peer sent before we saw its ICCN: replayed in order now.
    pub(super) fn replay_early_frames(&mut self, now: Instant, key: SessionKey) {
        let Some(held) = self.frames.early.remove(&key) else {
            return;
        };
        self.frames.early_total -= held.frames.len();
        for (sock, from, datagram) in held.frames {
            if let RxResult::Deliver { session, frame, .. } =
                self.datapath.receive_on(now, sock, from, &datagram)
            {
                self.deliver_frame(now, session, &datagram[frame]);
            }
            self.drain_deliveries(now);
        }
    }
}

/// A restored core's TUN write coalescer (empty: a snapshot is taken between batches).
pub(super) fn fresh_coalescer() -> Coalescer {
    Coalescer::new()
}
