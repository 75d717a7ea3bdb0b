//! How a session's frames move: the datapath backend seam. The core creates and removes
//! tunnel and session handles, sets their options, reads their statistics, and (for a
//! userspace backend) hands it received data messages and PPP frames to encapsulate — the
//! operations of the kernel's PPPoL2TP socket API (DESIGN §4).
//!
//! Two backends: the userspace [`Datapath`] with IP on TUN devices, and the kernel's
//! PPPoL2TP driver (`crate::node::kernel_backend`), whose data frames never reach the core:
//! it [`carries_frames`](DatapathBackend::carries_frames) itself, so the PPP frames the
//! core's links send go to [`send_ppp_frame`](DatapathBackend::send_ppp_frame) and the
//! frames the kernel hands up come back as `Input::PppFrame`.

use std::net::SocketAddr;
use std::time::Instant;

use l2tp_proto::data::{
    ApiError, Datapath, DatapathCounters, DebugMask, Delivery, L2tpStats, RxResult, SessionConfig,
    SessionKey, SessionOption, SessionOptions, SocketId, Transmit,
};
use l2tp_wire::{SessionId, TunnelId};

/// A datapath the core drives.
pub trait DatapathBackend: Send {
    /// The tunnel's management handle, bound to its socket and peer.
    fn create_tunnel(
        &mut self,
        tunnel: TunnelId,
        socket: SocketId,
        peer: SocketAddr,
    ) -> Result<(), ApiError>;
    /// Removes a tunnel and its sessions.
    fn remove_tunnel(&mut self, tunnel: TunnelId);
    /// A session handle.
    fn create_session(&mut self, cfg: SessionConfig) -> Result<SessionKey, ApiError>;
    /// Removes a session handle.
    fn remove_session(&mut self, key: SessionKey);
    /// `setsockopt` on a session.
    fn set_option(&mut self, key: SessionKey, option: SessionOption) -> Result<(), ApiError>;
    /// The tunnel's debug mask.
    fn set_tunnel_debug(&mut self, tunnel: TunnelId, mask: DebugMask) -> Result<(), ApiError>;
    /// A session's options.
    fn session_options(&self, key: SessionKey) -> Result<SessionOptions, ApiError>;
    /// A tunnel's debug mask.
    fn tunnel_debug(&self, tunnel: TunnelId) -> Result<DebugMask, ApiError>;
    /// The eight counters of a tunnel (session 0) or a session.
    fn stats(&self, tunnel: TunnelId, session: SessionId) -> Result<L2tpStats, ApiError>;
    /// What tunnels already gone counted (totals never go down).
    fn closed_tunnel_stats(&self) -> L2tpStats;
    /// Datapath-wide counters.
    fn counters(&self) -> DatapathCounters;
    /// A received datagram (userspace backends).
    fn receive_on(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) -> RxResult;
    /// Frames released in order after waiting.
    fn poll_deliver(&mut self) -> Option<Delivery>;
    /// Gives a delivered frame's buffer back.
    fn recycle(&mut self, buf: Vec<u8>);
    /// Writes the L2TP header in front of the PPP frame at `buf[headroom..headroom + len]`.
    fn encapsulate(
        &mut self,
        key: SessionKey,
        buf: &mut [u8],
        headroom: usize,
        len: usize,
    ) -> Result<Transmit, ApiError>;
    /// The backend's soonest timer (reorder timeouts).
    fn poll_timeout(&self) -> Option<Instant>;
    /// Timers due at `now` fire.
    fn handle_timeout(&mut self, now: Instant);
    /// Gives spare capacity back.
    fn shrink_to_fit(&mut self);
    /// The userspace datapath, when this is it (its state goes into snapshots).
    fn as_userspace(&self) -> Option<&Datapath> {
        None
    }
    /// The same, to change (a journal replayed into it).
    fn as_userspace_mut(&mut self) -> Option<&mut Datapath> {
        None
    }

    /// A backend whose tunnels and sessions live outside the core (the kernel's): a copy of
    /// its classifier of what reaches userspace, which a snapshot carries in the datapath's
    /// place (the kernel's objects travel as descriptors). None: not carried.
    fn classifier_snapshot(&self) -> Option<Datapath> {
        None
    }
    /// Takes back the classifier a snapshot carried; false when this backend cannot.
    fn restore_classifier(&mut self, _classifier: Datapath) -> bool {
        false
    }

    /// True when the backend moves PPP frames itself (the kernel's PPP channel): the core
    /// then sends its links' frames with [`DatapathBackend::send_ppp_frame`] instead of
    /// encapsulating them into datagrams.
    fn carries_frames(&self) -> bool {
        false
    }
    /// Sends one PPP frame (protocol field first, or `FF 03` first) on a session, for a
    /// backend that [`carries_frames`](DatapathBackend::carries_frames).
    fn send_ppp_frame(&mut self, key: SessionKey, _frame: &[u8]) -> Result<(), ApiError> {
        Err(ApiError::UnknownSession(key))
    }
    /// The pid of the process the backend handed the session's PPP to (pppd with its
    /// `pppol2tp` plugin), if it did: the core then runs no PPP link for the session.
    fn ppp_process(&self, _key: SessionKey) -> Option<u32> {
        None
    }
}

impl DatapathBackend for Datapath {
    fn as_userspace(&self) -> Option<&Datapath> {
        Some(self)
    }

    fn as_userspace_mut(&mut self) -> Option<&mut Datapath> {
        Some(self)
    }

    fn create_tunnel(
        &mut self,
        tunnel: TunnelId,
        socket: SocketId,
        peer: SocketAddr,
    ) -> Result<(), ApiError> {
        Datapath::create_tunnel(self, tunnel, socket, peer)
    }
    fn remove_tunnel(&mut self, tunnel: TunnelId) {
        let _ = Datapath::remove_tunnel(self, tunnel);
    }
    fn create_session(&mut self, cfg: SessionConfig) -> Result<SessionKey, ApiError> {
        Datapath::create_session(self, cfg)
    }
    fn remove_session(&mut self, key: SessionKey) {
        let _ = Datapath::remove_session(self, key);
    }
    fn set_option(&mut self, key: SessionKey, option: SessionOption) -> Result<(), ApiError> {
        Datapath::set_option(self, key, option)
    }
    fn set_tunnel_debug(&mut self, tunnel: TunnelId, mask: DebugMask) -> Result<(), ApiError> {
        Datapath::set_tunnel_debug(self, tunnel, mask)
    }
    fn session_options(&self, key: SessionKey) -> Result<SessionOptions, ApiError> {
        Datapath::session_options(self, key)
    }
    fn tunnel_debug(&self, tunnel: TunnelId) -> Result<DebugMask, ApiError> {
        Datapath::tunnel_debug(self, tunnel)
    }
    fn stats(&self, tunnel: TunnelId, session: SessionId) -> Result<L2tpStats, ApiError> {
        Datapath::stats(self, tunnel, session)
    }
    fn closed_tunnel_stats(&self) -> L2tpStats {
        Datapath::closed_tunnel_stats(self)
    }
    fn counters(&self) -> DatapathCounters {
        Datapath::counters(self)
    }
    #[inline]
    fn receive_on(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) -> RxResult {
        Datapath::receive_on(self, now, socket, from, datagram)
    }
    fn poll_deliver(&mut self) -> Option<Delivery> {
        Datapath::poll_deliver(self)
    }
    fn recycle(&mut self, buf: Vec<u8>) {
        Datapath::recycle(self, buf)
    }
    #[inline]
    fn encapsulate(
        &mut self,
        key: SessionKey,
        buf: &mut [u8],
        headroom: usize,
        len: usize,
    ) -> Result<Transmit, ApiError> {
        Datapath::encapsulate(self, key, buf, headroom, len)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Datapath::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Datapath::handle_timeout(self, now)
    }
    fn shrink_to_fit(&mut self) {
        Datapath::shrink_to_fit(self)
    }
}
