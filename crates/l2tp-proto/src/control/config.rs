//! Configuration of the control plane: endpoint-wide defaults, per-peer overrides, and the
//! options of one tunnel or call opened by a command.

use std::net::IpAddr;
use std::time::Duration;

use l2tp_wire::{FailoverCapability, SeqNum};

use super::reliable::ReliableConfig;

/// Tunnel authentication and AVP hiding for one peer (RFC 2661 §4.3, §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PeerAuth {
    /// Shared tunnel secret. Without one, no Challenge is sent, a peer's Challenge is refused,
    /// and nothing is hidden.
    pub secret: Option<Vec<u8>>,
    /// Hide the AVPs that may be hidden (needs `secret`).
    pub hide_avps: bool,
    /// Demand that the peer authenticate: send a Challenge and refuse a peer that does not
    /// answer it (needs `secret`). Windows clients cannot: leave it off for them.
    pub require_tunnel_auth: bool,
}

/// Endpoint-wide configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointConfig {
    /// Host Name AVP we send (RFC 2661 §4.4.3, required in SCCRQ/SCCRP).
    pub host_name: String,
    /// Vendor Name AVP we send, if any.
    pub vendor_name: Option<String>,
    /// Firmware Revision AVP we send, if any.
    pub firmware_revision: Option<u16>,
    /// Receive Window Size we advertise (RFC 2661 §5.8: messages we hold ahead of order).
    pub receive_window: u16,
    /// First retransmission interval (RFC 2661 §5.8 recommends 1 s).
    pub retransmit_initial: Duration,
    /// Backoff cap (the RFC requires at least 8 s; smaller values are raised to 8 s).
    pub retransmit_cap: Duration,
    /// Retransmissions before the tunnel is cleared (RFC 2661 §5.8 recommends 5).
    pub max_retries: u32,
    /// HELLO after this long without a message from the peer (RFC 2661 §5.5); `None` disables.
    pub hello_interval: Option<Duration>,
    /// How long an acknowledgement waits for a message to ride on before a ZLB is sent.
    pub ack_delay: Duration,
    /// Default tunnel authentication (overridable per peer in `peers`).
    pub auth: PeerAuth,
    /// Per-peer overrides of `auth`, by peer IP address.
    pub peers: Vec<(IpAddr, PeerAuth)>,
    /// Per-peer profiles by address prefix and/or the Host Name of the peer's SCCRQ,
    /// first match wins, consulted after `peers` (see [`EndpointConfig::auth_for_peer`]).
    #[serde(default)]
    pub peer_rules: Vec<PeerRule>,
    /// Accept SCCRQs at all (false: every incoming tunnel is refused with StopCCN).
    pub accept_incoming_tunnels: bool,
    /// Ask the caller about each incoming tunnel ([`super::Event::IncomingTunnel`], then
    /// `accept_tunnel` / `reject_tunnel`); false accepts them automatically.
    pub decide_incoming_tunnels: bool,
    /// Ask the caller about each incoming call ([`super::Event::IncomingCall`], then
    /// `accept_call` / `reject_call`); false accepts them automatically.
    pub decide_incoming_calls: bool,
    /// Framing Capabilities we announce (bit 0 synchronous, bit 1 asynchronous).
    pub framing_capabilities: u32,
    /// Bearer Capabilities we announce (bit 0 digital, bit 1 analog).
    pub bearer_capabilities: u32,
    /// Size of the half-open table: incoming tunnels accepted (SCCRP sent) and waiting for
    /// the peer's SCCCN. When it is full, accepting another evicts the oldest, silently, and
    /// keeps a small record from which it is rebuilt if its peer's SCCCN comes late (like a
    /// TCP SYN cache): a flood of SCCRQs, spoofed or not, neither grows state beyond it nor
    /// locks real peers out. From a quarter full on, peers that never answered are sent
    /// nothing more than their SCCRP (no reflection). Incoming tunnels waiting for the
    /// caller's decision are bounded by the same number on their own (further SCCRQs are
    /// dropped, `half_open_refused`).
    pub max_half_open_tunnels: usize,
    /// First Ns of every tunnel, and the first Ns expected from the peer. The RFC says 0;
    /// tests set it near 65535 to exercise the wrap.
    pub initial_seq: SeqNum,
    /// How long a call may wait for the peer's next set-up message (ICRP after our ICRQ,
    /// ICCN after our ICRP, OCRP/OCCN after our OCRQ) before it is cleared with CDN (result
    /// 10). RFC 2661 leaves the wait unbounded. The time counts from when our message went on
    /// the wire, not from when it was queued behind the peer's receive window, and restarts
    /// whenever the peer delivers any call set-up message in the tunnel: a peer working
    /// through a queue of calls is busy, not silent. `None`: wait for ever.
    pub connect_timeout: Option<Duration>,
    /// RFC 4951 failover: the Failover Capability AVP we put in every SCCRQ and SCCRP (the C
    /// and D bits and our Recovery Time). With it, a tunnel whose peer offered failover too
    /// can be recovered by that peer after it fails (a recovery SCCRQ with a Tunnel Recovery
    /// AVP, RFC 4951 §5) and answers its Failover Session Queries (§6). `None` (the default):
    /// no AVP is sent, and a recovery SCCRQ is refused like any SCCRQ with an unknown
    /// mandatory AVP (RFC 2661 §4.1).
    pub failover: Option<FailoverCapability>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            host_name: "l2tp-rs".to_string(),
            vendor_name: Some("l2tp-rs".to_string()),
            firmware_revision: Some(0x0100),
            receive_window: 16,
            retransmit_initial: Duration::from_secs(1),
            retransmit_cap: Duration::from_secs(8),
            max_retries: 5,
            hello_interval: Some(Duration::from_secs(60)),
            ack_delay: Duration::from_millis(100),
            auth: PeerAuth::default(),
            peers: Vec::new(),
            peer_rules: Vec::new(),
            accept_incoming_tunnels: true,
            decide_incoming_tunnels: false,
            decide_incoming_calls: false,
            framing_capabilities: 0x3,
            bearer_capabilities: 0x3,
            max_half_open_tunnels: 4096,
            initial_seq: SeqNum(0),
            connect_timeout: Some(Duration::from_secs(60)),
            failover: None,
        }
    }
}

impl EndpointConfig {
    /// The authentication settings that apply to `peer` (before its Host Name is known).
    pub fn auth_for(&self, peer: IpAddr) -> &PeerAuth {
        self.rule_for(peer, None)
            .map(|r| &r.auth)
            .or_else(|| {
                self.peers
                    .iter()
                    .find(|(ip, _)| *ip == peer)
                    .map(|(_, a)| a)
            })
            .unwrap_or(&self.auth)
    }

    /// The authentication settings that apply to `peer` naming itself `host_name` in its
    /// SCCRQ: an exact address in `peers`, else the first of `peer_rules` that matches, else
    /// `auth`.
    pub fn auth_for_peer(&self, peer: IpAddr, host_name: &[u8]) -> &PeerAuth {
        if let Some((_, a)) = self.peers.iter().find(|(ip, _)| *ip == peer) {
            return a;
        }
        self.rule_for(peer, Some(host_name))
            .map(|r| &r.auth)
            .unwrap_or(&self.auth)
    }

    /// The first rule matching `peer` (and `host_name`, when known; a rule that names a
    /// Host Name matches only a known one).
    pub fn rule_for(&self, peer: IpAddr, host_name: Option<&[u8]>) -> Option<&PeerRule> {
        if self.peers.iter().any(|(ip, _)| *ip == peer) {
            return None;
        }
        self.peer_rules.iter().find(|r| r.matches(peer, host_name))
    }

    /// The reliable-channel parameters derived from this configuration.
    pub fn reliable(&self) -> ReliableConfig {
        ReliableConfig {
            receive_window: self.receive_window.max(1),
            retransmit_initial: self.retransmit_initial,
            // RFC 2661 §5.8: the cap "MUST be no less than 8 seconds".
            retransmit_cap: self.retransmit_cap.max(Duration::from_secs(8)),
            max_retries: self.max_retries,
            ack_delay: self.ack_delay,
            initial_seq: self.initial_seq,
        }
    }
}

/// A per-peer profile: which peers (an address prefix, a Host Name, or both) and what
/// applies to them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PeerRule {
    /// Peers whose address is in this prefix (address, length); `None`: any address.
    pub prefix: Option<(IpAddr, u8)>,
    /// Peers whose SCCRQ names this Host Name (ASCII case ignored); `None`: any.
    pub host_name: Option<Vec<u8>>,
    /// Their tunnel authentication and AVP hiding.
    pub auth: PeerAuth,
    /// Our Host Name toward them; `None`: the configured one.
    pub our_host_name: Option<String>,
    /// Receive Window Size we advertise to them; `None`: the configured one.
    #[serde(default)]
    pub receive_window: Option<u16>,
    /// HELLO interval toward them (zero: none); `None`: the configured one.
    #[serde(default)]
    pub hello_interval: Option<std::time::Duration>,
}

impl PeerRule {
    /// Whether `peer`, naming itself `host_name` (when known), is one of this rule's.
    pub fn matches(&self, peer: IpAddr, host_name: Option<&[u8]>) -> bool {
        let addr_ok = self
            .prefix
            .is_none_or(|(net, len)| in_prefix(peer, net, len));
        let name_ok = match (&self.host_name, host_name) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        addr_ok && name_ok
    }
}

/// Whether `ip` is in `net`/`len` (families must agree; IPv4-mapped IPv6 peers are seen as
/// IPv4).
fn in_prefix(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Options of a tunnel opened by [`super::Endpoint::open_tunnel`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TunnelOptions {
    /// Authentication for this tunnel instead of the configured one for the peer.
    pub auth: Option<PeerAuth>,
    /// Send a Tie Breaker AVP (RFC 2661 §4.4.3) so a collision with the peer's own SCCRQ
    /// leaves one tunnel.
    pub tie_breaker: bool,
    /// Our Host Name in this tunnel's SCCRQ instead of the configured one.
    pub host_name: Option<String>,
}

/// Parameters of a call placed by a command (ICRQ from a LAC, OCRQ from an LNS).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CallParams {
    /// Called Number AVP (the number dialled), if any.
    pub called_number: Option<String>,
    /// Calling Number AVP (the caller), if any.
    pub calling_number: Option<String>,
    /// Sub-Address AVP, if any.
    pub sub_address: Option<String>,
    /// Bearer Type (bit 0 digital, bit 1 analog).
    pub bearer_type: u32,
    /// Framing Type (bit 0 synchronous, bit 1 asynchronous).
    pub framing_type: u32,
    /// Connect speed in bits per second for ICCN/OCCN.
    pub connect_speed: u32,
    /// Ask the peer to send data with sequence numbers (Sequencing Required AVP).
    pub sequencing_required: bool,
    /// Proxy LCP and authentication AVPs to send in ICCN (a LAC that already ran LCP and
    /// authenticated the user, RFC 2661 §4.4.5).
    pub proxy: Option<Box<super::event::ProxyInfo>>,
    /// RFC 5515 access-line AVPs to send in ICRQ (the subscriber's Agent-Circuit-Id,
    /// Agent-Remote-Id and line rates, as a PPPoE intermediate agent gave them).
    pub access_line: Option<Box<l2tp_wire::access_line::AccessLine>>,
}
