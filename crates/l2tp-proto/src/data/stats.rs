//! Statistics: the driver's eight counters (`struct pppol2tp_ioc_stats`, read with
//! `PPPIOCGL2TPSTATS`) per session and per tunnel, plus datapath-wide classification counters.
//!
//! Counting rules (as `net/l2tp/l2tp_core.c`): every received data packet for a known session
//! that is dropped counts `rx_errors`; drops for a sequencing reason also count
//! `rx_seq_discards`. `rx_packets`/`rx_bytes` count frames delivered to the session's consumer
//! (bytes are PPP frame bytes, after the L2TP header and offset padding). `rx_oos_packets`
//! counts packets that arrived after a later one and were put in order by the reorder queue.
//! `tx_packets`/`tx_bytes` count frames encapsulated; `tx_errors` counts frames the datapath
//! refused or the I/O layer reported it could not send. A tunnel's counters (session id 0)
//! aggregate all of its sessions, plus tunnel-level drops (data from the wrong peer).

/// The driver's eight counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct L2tpStats {
    /// Frames sent.
    pub tx_packets: u64,
    /// PPP bytes sent.
    pub tx_bytes: u64,
    /// Frames that could not be sent.
    pub tx_errors: u64,
    /// Frames delivered to the consumer.
    pub rx_packets: u64,
    /// PPP bytes delivered.
    pub rx_bytes: u64,
    /// Packets dropped by the sequencing rules (missing Ns, out of order, outside the window,
    /// expired in the reorder queue, duplicate).
    pub rx_seq_discards: u64,
    /// Packets that arrived out of order and were reordered.
    pub rx_oos_packets: u64,
    /// Packets dropped for any reason.
    pub rx_errors: u64,
}

impl L2tpStats {
    /// Adds `other` into `self` (saturating): totals that outlive the tunnels they count.
    pub fn accumulate(&mut self, other: &L2tpStats) {
        self.tx_packets = self.tx_packets.saturating_add(other.tx_packets);
        self.tx_bytes = self.tx_bytes.saturating_add(other.tx_bytes);
        self.tx_errors = self.tx_errors.saturating_add(other.tx_errors);
        self.rx_packets = self.rx_packets.saturating_add(other.rx_packets);
        self.rx_bytes = self.rx_bytes.saturating_add(other.rx_bytes);
        self.rx_seq_discards = self.rx_seq_discards.saturating_add(other.rx_seq_discards);
        self.rx_oos_packets = self.rx_oos_packets.saturating_add(other.rx_oos_packets);
        self.rx_errors = self.rx_errors.saturating_add(other.rx_errors);
    }
}

/// Datapath-wide counters: how datagrams were classified before any session was involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DatapathCounters {
    /// Control messages (T = 1) passed to the control plane.
    pub control: u64,
    /// Data messages for an unknown (tunnel, session) passed to the control plane.
    pub unknown_session: u64,
    /// Datagrams that did not decode as an L2TPv2 header.
    pub malformed: u64,
    /// Data for a known session from an address/port (or socket) other than the tunnel's peer.
    pub wrong_peer: u64,
    /// Data messages with tunnel id 0 matched to a session by source and session id.
    pub zero_tunnel_id: u64,
    /// Debug messages suppressed by the rate limiter.
    pub debug_suppressed: u64,
}
