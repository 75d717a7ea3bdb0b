//! What the core asks the world to do, queued until the shell drains it: datagrams to send,
//! IP packets to write to a TUN, interface and route operations, management replies, host
//! names to resolve and authentication requests for an asynchronous backend.
//!
//! Datagrams and TUN packets live in two byte arenas reused from one drain to the next (no
//! allocation per packet); the rare outputs are an ordered queue of [`Output`]s.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;

use l2tp_io::tun::VNET_HDR_LEN;
use l2tp_proto::data::SessionKey;
use ppp::Ipv4Params;

use super::aaa::AuthRequest;
use super::settings::TunTarget;
use crate::addr::IpCidr;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Index of the local socket (the order of the node's listen addresses).
    pub socket: usize,
    /// Destination.
    pub to: SocketAddr,
    /// Where its bytes are in the datagram arena.
    pub range: Range<usize>,
    /// May share a UDP GSO send with its neighbours (segments of one TCP super-packet);
    /// control messages and every other packet leave as datagrams of their own.
    pub mergeable: bool,
}

/// An IP packet to write to a TUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunWrite {
    /// Which TUN.
    pub target: TunTarget,
    /// A `virtio_net_hdr` for a coalesced run of TCP segments (one GSO write), or `None`
    /// for one plain packet.
    pub vnet_hdr: Option<[u8; VNET_HDR_LEN]>,
    /// Where the packet is in the TUN arena.
    pub range: Range<usize>,
}

/// An interface named by what the core knows of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Iface {
    /// The LNS's shared TUN.
    Shared,
    /// An interface by name (a session's TUN).
    Name(String),
}

/// Interface and route operations, applied in order by the shell over rtnetlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpOp {
    /// Open a session's own TUN: up, MTU, `local peer PEER/32`, extra routes; answered with
    /// [`super::Input::InterfaceUp`] or [`super::Input::InterfaceFailed`].
    OpenSessionTun {
        /// The session.
        key: SessionKey,
        /// Name or kernel pattern (`l2tp%d`).
        name: String,
        /// MTU.
        mtu: u32,
        /// What IPCP negotiated.
        ipv4: Ipv4Params,
        /// Extra prefixes routed into the session.
        routes: Vec<IpCidr>,
    },
    /// Remove the own interfaces of these sessions in one batch (closing a TUN removes its
    /// interface too, but one at a time, ≈ 20 ms each); what is queued for the peers is sent
    /// first. Their `CloseSessionTun`s follow.
    RemoveInterfaces {
        /// The sessions.
        keys: Vec<SessionKey>,
    },
    /// Close a session's own TUN (its addresses and routes go with it).
    CloseSessionTun {
        /// The session.
        key: SessionKey,
    },
    /// Add an address to an interface.
    AddAddress {
        /// Where.
        iface: Iface,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// An address already there is fine (advertisements repeat).
        exist_ok: bool,
    },
    /// Add the IPv6 link-local address IPv6CP negotiated (duplicate address detection off:
    /// the identifiers were negotiated collision-free, RFC 5072 §4.1).
    AddLinkLocal {
        /// Interface name.
        ifname: String,
        /// The address.
        addr: Ipv6Addr,
    },
    /// Add a route into an interface.
    AddRoute {
        /// Where.
        iface: Iface,
        /// The prefix.
        route: IpCidr,
        /// A route already there is fine.
        exist_ok: bool,
        /// The route's path MTU, if it has its own (a session's Framed-MTU on the shared
        /// interface).
        mtu: Option<u32>,
    },
    /// Remove a route from an interface.
    DelRoute {
        /// Where.
        iface: Iface,
        /// The prefix.
        route: IpCidr,
    },
    /// Client `dial.default_route`: a host route to the LNS through the current path, then
    /// the default route into the session's interface.
    DefaultRoute {
        /// The session.
        key: SessionKey,
        /// Its interface.
        ifname: String,
        /// The LNS.
        lns: IpAddr,
    },
    /// Tell the operator (stdout) the global IPv6 address formed on a session's interface.
    AnnounceIpv6 {
        /// The session.
        key: SessionKey,
        /// Interface name.
        ifname: String,
        /// The address.
        addr: Ipv6Addr,
    },
    /// Rate limits on a session's interface, for a datapath the core does not see the
    /// packets of (the kernel's `pppN`): the shell applies them with `tc`.
    SetRate {
        /// Interface name.
        ifname: String,
        /// The limits (down: towards the user, the interface's egress).
        limit: l2tp_radius::reply::RateLimit,
    },
}

/// The rare outputs, in the order they were emitted.
#[derive(Debug)]
pub enum Output {
    /// An interface or route operation.
    Ip(IpOp),
    /// The answer to [`super::Input::Manage`] with the same token.
    Reply {
        /// The request's token.
        token: u64,
        /// The answer.
        response: Box<l2tp_mgmt::Response>,
    },
    /// Resolve a host name (off the event loop); answer with [`super::Input::Resolved`].
    Resolve {
        /// Quoted in the answer.
        id: u64,
        /// Host name.
        host: String,
        /// UDP port.
        port: u16,
    },
    /// Ask an asynchronous authentication backend; answer with
    /// [`super::Input::AuthDecision`].
    Auth(AuthRequest),
    /// The session of an [`Output::Auth`] still unanswered went away: forget the request
    /// (free its slot; no answer is wanted).
    AuthCancel(AuthRequest),
    /// Send a RADIUS accounting record (Start, Interim-Update, Stop).
    Accounting(Box<l2tp_radius::acct::AcctRecord>),
    /// Answer a [`super::Input::Dae`] request: ACK (`Ok`) or NAK with an Error-Cause.
    DaeAnswer {
        /// The request answered.
        request: Box<l2tp_radius::dae::DaeRequest>,
        /// What came of it.
        result: Result<(), l2tp_radius::dae::ErrorCause>,
    },
}

/// Everything queued since the last drain.
#[derive(Debug, Default)]
pub struct Outputs {
    pub(super) datagrams: Vec<u8>,
    pub(super) transmits: Vec<Transmit>,
    pub(super) tun_bytes: Vec<u8>,
    pub(super) tun_writes: Vec<TunWrite>,
    pub(super) queue: VecDeque<Output>,
    pub(super) connects: Vec<(usize, SocketAddr)>,
}

impl Outputs {
    /// Queues a copy of `datagram` for `socket`.
    pub(super) fn datagram(&mut self, socket: usize, to: SocketAddr, datagram: &[u8]) {
        let start = self.datagrams.len();
        self.datagrams.extend_from_slice(datagram);
        self.transmits.push(Transmit {
            socket,
            to,
            range: start..self.datagrams.len(),
            mergeable: false,
        });
    }

    /// Queues an IP packet for a TUN.
    pub(super) fn tun(
        &mut self,
        target: TunTarget,
        vnet_hdr: Option<[u8; VNET_HDR_LEN]>,
        packet: &[u8],
    ) {
        let start = self.tun_bytes.len();
        self.tun_bytes.extend_from_slice(packet);
        self.tun_writes.push(TunWrite {
            target,
            vnet_hdr,
            range: start..self.tun_bytes.len(),
        });
    }

    /// Queues a rare output.
    pub(super) fn push(&mut self, o: Output) {
        self.queue.push_back(o);
    }

    /// Queues an interface or route operation.
    pub(super) fn ip(&mut self, op: IpOp) {
        self.queue.push_back(Output::Ip(op));
    }

    /// Datagrams queued: each with its bytes.
    pub fn transmits(&self) -> impl Iterator<Item = (&Transmit, &[u8])> + '_ {
        self.transmits
            .iter()
            .map(|t| (t, &self.datagrams[t.range.clone()]))
    }

    /// TUN writes queued: each with its bytes.
    pub fn tun_writes(&self) -> impl Iterator<Item = (&TunWrite, &[u8])> + '_ {
        self.tun_writes
            .iter()
            .map(|w| (w, &self.tun_bytes[w.range.clone()]))
    }

    /// Sockets to connect to a peer before anything is sent (`dial.local_port`: a socket
    /// sharing port 1701 with other clients is connected to its LNS, which the kernel
    /// matches first). Taken: the shell connects them.
    pub fn take_connects(&mut self) -> Vec<(usize, SocketAddr)> {
        std::mem::take(&mut self.connects)
    }

    /// Forgets the datagrams (after the shell queued them for sending); buffers are kept.
    pub fn clear_datagrams(&mut self) {
        self.datagrams.clear();
        self.transmits.clear();
    }

    /// Forgets the datagrams and TUN writes (after the shell sent them); buffers are kept.
    pub fn clear_packets(&mut self) {
        self.datagrams.clear();
        self.transmits.clear();
        self.tun_bytes.clear();
        self.tun_writes.clear();
    }

    /// The next rare output.
    pub fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.transmits.is_empty() && self.tun_writes.is_empty() && self.queue.is_empty()
    }

    /// Gives back arena capacity after a burst.
    pub(super) fn shrink(&mut self) {
        if self.datagrams.is_empty() && self.datagrams.capacity() > 1 << 20 {
            self.datagrams.shrink_to(1 << 16);
            self.transmits.shrink_to(64);
        }
        if self.tun_bytes.is_empty() && self.tun_bytes.capacity() > 1 << 20 {
            self.tun_bytes.shrink_to(1 << 16);
            self.tun_writes.shrink_to(64);
        }
        if self.queue.is_empty() {
            self.queue.shrink_to(64);
        }
    }
}

/// Shorthand: a /32 route for one client address.
pub fn host_route(addr: Ipv4Addr) -> IpCidr {
    IpCidr::V4(crate::addr::Ipv4Cidr::new(addr, 32).expect("a /32 is always valid"))
}

/// `0.0.0.0/0`.
pub fn default_v4() -> IpCidr {
    IpCidr::V4(crate::addr::Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("0.0.0.0/0"))
}
