//! A datapath backend that cannot do what the core asks (the kernel datapath when `connect()`
//! on a PPPoL2TP socket fails: a module unloaded under the daemon, ids the kernel refuses)
//! refuses the tunnel or the call, in virtual time over `l2tp-sim`: a tunnel whose management
//! handle cannot be created is closed (StopCCN) at both ends rather than kept up without a
//! datapath, and a session whose handle cannot be created is refused (CDN) while its tunnel
//! stays up. The backend is the userspace datapath with one operation failing as the kernel
//! backend fails (`ApiError::Backend` with the system's error).

mod support;
use support::sim::{client_core, lns_core, up_sessions, SimCore};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use l2tp_proto::data::{
    ApiError, Datapath, DatapathConfig, DatapathCounters, DebugMask, Delivery, L2tpStats, RxResult,
    SessionConfig, SessionKey, SessionOption, SessionOptions, SocketId, Transmit,
};
use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tp_wire::{SessionId, TunnelId};
use l2tpd::core::{DatapathBackend, Input};

/// Which operation fails.
#[derive(Clone, Copy)]
enum Fail {
    Tunnel,
    Session,
}

struct Failing {
    inner: Datapath,
    fail: Fail,
}

fn refused(what: &str) -> ApiError {
    ApiError::Backend(format!("{what}: Protocol not supported (os error 93)"))
}

impl DatapathBackend for Failing {
    fn create_tunnel(&mut self, t: TunnelId, s: SocketId, p: SocketAddr) -> Result<(), ApiError> {
        match self.fail {
            Fail::Tunnel => Err(refused(&format!("connect PPPoL2TP tunnel {t} to {p}"))),
            Fail::Session => self.inner.create_tunnel(t, s, p),
        }
    }
    fn remove_tunnel(&mut self, t: TunnelId) {
        let _ = self.inner.remove_tunnel(t);
    }
    fn create_session(&mut self, cfg: SessionConfig) -> Result<SessionKey, ApiError> {
        match self.fail {
            Fail::Session => Err(refused("connect PPPoL2TP session")),
            Fail::Tunnel => self.inner.create_session(cfg),
        }
    }
    fn remove_session(&mut self, k: SessionKey) {
        let _ = self.inner.remove_session(k);
    }
    fn set_option(&mut self, k: SessionKey, o: SessionOption) -> Result<(), ApiError> {
        self.inner.set_option(k, o)
    }
    fn set_tunnel_debug(&mut self, t: TunnelId, m: DebugMask) -> Result<(), ApiError> {
        self.inner.set_tunnel_debug(t, m)
    }
    fn session_options(&self, k: SessionKey) -> Result<SessionOptions, ApiError> {
        self.inner.session_options(k)
    }
    fn tunnel_debug(&self, t: TunnelId) -> Result<DebugMask, ApiError> {
        self.inner.tunnel_debug(t)
    }
    fn stats(&self, t: TunnelId, s: SessionId) -> Result<L2tpStats, ApiError> {
        self.inner.stats(t, s)
    }
    fn closed_tunnel_stats(&self) -> L2tpStats {
        self.inner.closed_tunnel_stats()
    }
    fn counters(&self) -> DatapathCounters {
        self.inner.counters()
    }
    fn receive_on(&mut self, n: Instant, s: SocketId, f: SocketAddr, d: &[u8]) -> RxResult {
        self.inner.receive_on(n, s, f, d)
    }
    fn poll_deliver(&mut self) -> Option<Delivery> {
        self.inner.poll_deliver()
    }
    fn recycle(&mut self, b: Vec<u8>) {
        self.inner.recycle(b)
    }
    fn encapsulate(
        &mut self,
        k: SessionKey,
        b: &mut [u8],
        h: usize,
        l: usize,
    ) -> Result<Transmit, ApiError> {
        self.inner.encapsulate(k, b, h, l)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, n: Instant) {
        self.inner.handle_timeout(n)
    }
    fn shrink_to_fit(&mut self) {
        self.inner.shrink_to_fit()
    }
}

/// An LNS core whose backend fails as `fail` says, and a client dialling it with one session.
fn start(fail: Fail) -> (Harness, SimCore, SimCore) {
    let t0 = Instant::now();
    let h = Harness::new(
        Network::new(1, NetConfig::perfect(Duration::from_millis(5))),
        t0,
    );
    let mut lns = lns_core(1, t0);
    lns.core.set_datapath(Box::new(Failing {
        inner: Datapath::new(DatapathConfig::default()),
        fail,
    }));
    let mut client = client_core(1, t0, 1);
    client.input(t0, Input::Tick);
    (h, lns, client)
}

/// Runs both cores for `limit` of virtual time (or until nothing is left to do).
fn run_for(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, limit: Duration) {
    let deadline = h.now + limit;
    for _ in 0..200_000 {
        let mut nodes: [&mut dyn Node; 2] = [lns, client];
        if !h.step(&mut nodes, deadline) {
            return;
        }
    }
}

#[test]
fn a_tunnel_without_a_datapath_is_closed_at_both_ends() {
    let (mut h, mut lns, mut client) = start(Fail::Tunnel);
    run_for(&mut h, &mut lns, &mut client, Duration::from_secs(4));
    // Every tunnel that came up (SCCCN) was closed at once, at both ends: only "closing"
    // tunnels (StopCCN sent or received, RFC 2661 §5.7's wait) are left; the client dialled
    // again after each and was refused again. No call was ever placed into them.
    let (l, c) = (
        lns.core.daemon_stats(h.now),
        client.core.daemon_stats(h.now),
    );
    for (who, s) in [("LNS", &l), ("client", &c)] {
        assert!(s.tunnels >= 1, "{who}: no tunnel was ever set up: {s:?}");
        assert!(
            s.tunnels_by_state.keys().all(|k| k == "closing"),
            "{who}: a tunnel is still up: {:?}",
            s.tunnels_by_state
        );
        assert_eq!(s.sessions, 0, "{who}: {s:?}");
    }
    assert!(lns.core.sessions(h.now).is_empty());
}

#[test]
fn a_session_without_a_datapath_is_refused_and_its_tunnel_stays() {
    let (mut h, mut lns, mut client) = start(Fail::Session);
    run_for(&mut h, &mut lns, &mut client, Duration::from_secs(4));
    assert!(
        lns.core.sessions(h.now).is_empty(),
        "no PPP link on the LNS"
    );
    assert!(
        up_sessions(&client, h.now).is_empty(),
        "no session up on the client"
    );
    assert_eq!(lns.core.endpoint().tunnel_count(), 1, "the tunnel stays up");
    let sessions: usize = lns
        .core
        .endpoint()
        .tunnels()
        .map(|t| lns.core.endpoint().sessions(t.tunnel).count())
        .sum();
    assert_eq!(sessions, 0, "the call was closed (CDN)");
}
