//! Interface configuration over rtnetlink: link up and MTU, point-to-point IPv4 addresses,
//! IPv6 addresses, routes, and route lookups.
//!
//! What `ip link set up`, `ip addr add LOCAL peer PEER/32 dev IF` and `ip route add` do, done
//! with `NETLINK_ROUTE` messages built here (RFC 3549 describes the protocol; the layouts are
//! `linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_addr.h`). No `unsafe` and no external
//! `ip` command: the socket comes from `socket2`, and unconnected netlink sockets send to the
//! kernel by default. Every request asks for an acknowledgement and waits for it (bounded by
//! a 2 s receive timeout), so errors come back as `io::Error`s with the kernel's errno.
//!
//! Needs `CAP_NET_ADMIN` in the network namespace of the thread that calls [`NetConf::new`].

use crate::addr::IpCidr;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use thiserror::Error;

// linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h.
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_GROUP: u16 = 27;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_METRICS: u16 = 8;
/// Inside RTA_METRICS: the path MTU of the route (`ip route ... mtu N`).
const RTAX_MTU: u16 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 0x1;
const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

/// The device group [`NetConf::delete_links`] gathers interfaces in before deleting them: a
/// marker in the high byte and the process id below it, so two daemons on one host never
/// share one.
fn doomed_group() -> u32 {
    0x4c00_0000 | (std::process::id() & 0x00ff_ffff)
}

/// A netlink request that failed.
#[derive(Debug, Error)]
#[error("netlink {op}: {source}")]
pub struct NetconfError {
    /// What was being done (`add address 10.0.0.1 peer 10.0.0.2 on l2tp0`).
    pub op: String,
    /// The kernel's (or the socket's) error.
    #[source]
    pub source: io::Error,
}

/// The answer to a route lookup ([`NetConf::route_get`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Next hop, when the destination is not on a directly connected network.
    pub gateway: Option<IpAddr>,
    /// Outgoing interface.
    pub ifindex: Option<u32>,
}

/// A message under construction: header, fixed part, attributes.
struct Msg {
    buf: Vec<u8>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        Msg { buf }
    }
    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }
    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }
    fn finish(&mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        std::mem::take(&mut self.buf)
    }
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn ifaddrmsg(family: u8, prefix_len: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[0] = family;
    m[1] = prefix_len;
    m[3] = scope;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

fn rtmsg(family: u8, dst_len: u8, scope: u8) -> [u8; 12] {
    [
        family,
        dst_len,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_STATIC,
        scope,
        RTN_UNICAST,
        0,
        0,
        0,
        0,
    ]
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Iterates `(type, payload)` of the rtattrs in `data`, stopping at the first malformed one.
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([data[0], data[1]]));
        let kind = u16::from_ne_bytes([data[2], data[3]]);
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        data = &data[align4(len).min(data.len())..];
        Some((kind & 0x3fff, payload))
    })
}

/// An rtnetlink socket in the calling thread's network namespace.
#[derive(Debug)]
pub struct NetConf {
    sock: Socket,
    seq: u32,
}

/// Optional attributes of a route.
#[derive(Debug, Clone, Copy, Default)]
struct RouteAttrs {
    /// RTA_PRIORITY.
    metric: Option<u32>,
    /// RTAX_MTU.
    mtu: Option<u32>,
}

impl NetConf {
    /// Opens a `NETLINK_ROUTE` socket.
    pub fn new() -> Result<Self, NetconfError> {
        let op = |source| NetconfError {
            op: "open socket".into(),
            source,
        };
        let sock = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::from(libc::SOCK_RAW),
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )
        .map_err(op)?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(op)?;
        Ok(NetConf { sock, seq: 1 })
    }

    /// Sends `msg`, then reads until the kernel acknowledges it. Returns the payloads of the
    /// data messages of type `want` received before the acknowledgement.
    fn transact(
        &mut self,
        mut msg: Msg,
        want: Option<u16>,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NetconfError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let bytes = msg.finish();
        let err = |source| NetconfError {
            op: op.to_string(),
            source,
        };
        self.sock.send(&bytes).map_err(err)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        // Bounded: the kernel answers one request with a few messages at most.
        for _ in 0..64 {
            let n = (&self.sock).read(&mut buf).map_err(err)?;
            let mut data = &buf[..n];
            while data.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
                let kind = u16::from_ne_bytes([data[4], data[5]]);
                let mseq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
                if len < NLMSG_HDRLEN || len > data.len() {
                    return Err(err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    )));
                }
                let payload = &data[NLMSG_HDRLEN..len];
                data = &data[align4(len).min(data.len())..];
                if mseq != seq {
                    continue; // an answer to an earlier, timed-out request
                }
                match kind {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EPROTO);
                        return if code == 0 {
                            Ok(out)
                        } else {
                            Err(err(io::Error::from_raw_os_error(-code)))
                        };
                    }
                    NLMSG_DONE => return Ok(out),
                    k if Some(k) == want => out.push(payload.to_vec()),
                    _ => {}
                }
            }
        }
        Err(err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no acknowledgement from the kernel",
        )))
    }

    /// The index of the interface called `name` (RTM_GETLINK by IFLA_IFNAME).
    pub fn link_index(&mut self, name: &str) -> Result<u32, NetconfError> {
        let mut m = Msg::new(RTM_GETLINK, 0, self.seq);
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        m.put(&ifinfomsg(0, 0, 0)).attr(IFLA_IFNAME, &n);
        let op = format!("look up interface {name}");
        let replies = self.transact(m, Some(RTM_NEWLINK), &op)?;
        replies
            .first()
            .and_then(|p| p.get(4..8))
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| NetconfError {
                op,
                source: io::Error::from_raw_os_error(libc::ENODEV),
            })
    }

    /// Sets the UP flag and optionally the MTU.
    pub fn set_link(
        &mut self,
        ifindex: u32,
        up: bool,
        mtu: Option<u32>,
    ) -> Result<(), NetconfError> {
        let mut m = Msg::new(RTM_NEWLINK, 0, self.seq);
        m.put(&ifinfomsg(ifindex, if up { IFF_UP } else { 0 }, IFF_UP));
        if let Some(mtu) = mtu {
            m.attr(IFLA_MTU, &mtu.to_ne_bytes());
        }
        self.transact(m, None, &format!("set link {ifindex} up={up} mtu={mtu:?}"))
            .map(drop)
    }

    /// Puts the interface in device group `group` (`ip link set IF group N`), so that
    /// [`NetConf::delete_group`] can remove many interfaces at once.
    pub fn set_group(&mut self, ifindex: u32, group: u32) -> Result<(), NetconfError> {
        let mut m = Msg::new(RTM_NEWLINK, 0, self.seq);
        m.put(&ifinfomsg(ifindex, 0, 0))
            .attr(IFLA_GROUP, &group.to_ne_bytes());
        self.transact(m, None, &format!("set link {ifindex} group {group}"))
            .map(drop)
    }

    /// Removes every interface of device group `group` in one request (`ip link delete
    /// group N`). The kernel unregisters them as one batch: one synchronisation for all of
    /// them instead of one per interface (≈ 20 ms each), which is what makes removing
    /// 1,000 session interfaces one by one take tens of seconds.
    pub fn delete_group(&mut self, group: u32) -> Result<(), NetconfError> {
        let mut m = Msg::new(RTM_DELLINK, 0, self.seq);
        m.put(&ifinfomsg(0, 0, 0))
            .attr(IFLA_GROUP, &group.to_ne_bytes());
        match self.transact(m, None, &format!("delete link group {group}")) {
            Ok(_) => Ok(()),
            // No interface in the group: nothing to do.
            Err(e) if e.source.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the interfaces `ifindexes` as one batch: each is moved into a device group of
    /// its own for this process (a cheap change), then the group is deleted in one request.
    /// Deleting them one request each costs the kernel a synchronisation per interface
    /// (≈ 20 ms: 1,000 session interfaces took over 20 s), even on one socket.
    pub fn delete_links(&mut self, ifindexes: &[u32]) -> Result<(), NetconfError> {
        if ifindexes.is_empty() {
            return Ok(());
        }
        let group = doomed_group();
        for &idx in ifindexes {
            match self.set_group(idx, group) {
                Ok(()) => {}
                // Already gone (its descriptor closed meanwhile): nothing to delete.
                Err(e) if e.source.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) => return Err(e),
            }
        }
        self.delete_group(group)
    }

    /// Adds `local` with point-to-point peer `peer` (`ip addr add LOCAL peer PEER/32`): the
    /// kernel then routes `peer` through the interface.
    pub fn add_address_v4_ptp(
        &mut self,
        ifindex: u32,
        local: Ipv4Addr,
        peer: Ipv4Addr,
    ) -> Result<(), NetconfError> {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, self.seq);
        m.put(&ifaddrmsg(AF_INET, 32, RT_SCOPE_UNIVERSE, ifindex))
            .attr(IFA_LOCAL, &local.octets())
            .attr(IFA_ADDRESS, &peer.octets());
        self.transact(
            m,
            None,
            &format!("add address {local} peer {peer} on {ifindex}"),
        )
        .map(drop)
    }

    /// Adds `addr/prefix_len` (IPv4 or IPv6) to the interface.
    pub fn add_address(
        &mut self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetconfError> {
        self.address(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            ifindex,
            addr,
            prefix_len,
        )
    }

    /// Removes `addr/prefix_len` from the interface.
    pub fn del_address(
        &mut self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetconfError> {
        self.address(RTM_DELADDR, 0, ifindex, addr, prefix_len)
    }

    fn address(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: u32,
        addr: IpAddr,
        len: u8,
    ) -> Result<(), NetconfError> {
        let family = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
        let mut m = Msg::new(kind, flags, self.seq);
        let b = ip_bytes(addr);
        m.put(&ifaddrmsg(family, len, RT_SCOPE_UNIVERSE, ifindex))
            .attr(IFA_LOCAL, &b)
            .attr(IFA_ADDRESS, &b);
        let verb = if kind == RTM_NEWADDR { "add" } else { "delete" };
        self.transact(
            m,
            None,
            &format!("{verb} address {addr}/{len} on {ifindex}"),
        )
        .map(drop)
    }

    /// Routes `dst` out of the interface (`ip route add DST dev IF [metric M]`).
    pub fn add_route(
        &mut self,
        ifindex: u32,
        dst: IpCidr,
        metric: Option<u32>,
    ) -> Result<(), NetconfError> {
        self.route(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            Some(ifindex),
            dst,
            None,
            RouteAttrs { metric, mtu: None },
        )
    }

    /// Routes `dst` to `ifindex` with a path MTU (`ip route add DST dev IF mtu N`).
    pub fn add_route_mtu(
        &mut self,
        ifindex: u32,
        dst: IpCidr,
        mtu: u32,
    ) -> Result<(), NetconfError> {
        self.route(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            Some(ifindex),
            dst,
            None,
            RouteAttrs {
                metric: None,
                mtu: Some(mtu),
            },
        )
    }

    /// Routes `dst` via `gateway` (`ip route add DST via GW [dev IF]`): the host route that
    /// keeps the LNS reachable when the default route moves into the tunnel.
    pub fn add_route_via(
        &mut self,
        dst: IpCidr,
        gateway: IpAddr,
        ifindex: Option<u32>,
    ) -> Result<(), NetconfError> {
        self.route(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            ifindex,
            dst,
            Some(gateway),
            RouteAttrs::default(),
        )
    }

    /// Removes a route added with [`NetConf::add_route`].
    pub fn del_route(&mut self, ifindex: u32, dst: IpCidr) -> Result<(), NetconfError> {
        self.route(
            RTM_DELROUTE,
            0,
            Some(ifindex),
            dst,
            None,
            RouteAttrs::default(),
        )
    }

    fn route(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: Option<u32>,
        dst: IpCidr,
        gateway: Option<IpAddr>,
        extra: RouteAttrs,
    ) -> Result<(), NetconfError> {
        let (family, net, len) = match dst {
            IpCidr::V4(c) => (AF_INET, IpAddr::V4(c.network()), c.len()),
            IpCidr::V6(c) => (AF_INET6, IpAddr::V6(c.network()), c.len()),
        };
        let scope = if gateway.is_none() && family == AF_INET {
            RT_SCOPE_LINK
        } else {
            RT_SCOPE_UNIVERSE
        };
        let mut m = Msg::new(kind, flags, self.seq);
        m.put(&rtmsg(family, len, scope));
        if len > 0 {
            m.attr(RTA_DST, &ip_bytes(net));
        }
        if let Some(gw) = gateway {
            m.attr(RTA_GATEWAY, &ip_bytes(gw));
        }
        if let Some(i) = ifindex {
            m.attr(RTA_OIF, &i.to_ne_bytes());
        }
        if let Some(p) = extra.metric {
            m.attr(RTA_PRIORITY, &p.to_ne_bytes());
        }
        if let Some(mtu) = extra.mtu {
            // A nested attribute: RTAX_MTU inside RTA_METRICS (header, then the value).
            let mut nested = Vec::with_capacity(8);
            nested.extend_from_slice(&8u16.to_ne_bytes());
            nested.extend_from_slice(&RTAX_MTU.to_ne_bytes());
            nested.extend_from_slice(&mtu.to_ne_bytes());
            m.attr(RTA_METRICS, &nested);
        }
        let verb = if kind == RTM_NEWROUTE {
            "add"
        } else {
            "delete"
        };
        self.transact(
            m,
            None,
            &format!("{verb} route {dst} gw {gateway:?} dev {ifindex:?}"),
        )
        .map(drop)
    }

    /// How the kernel would route to `dst` now (`ip route get DST`).
    pub fn route_get(&mut self, dst: IpAddr) -> Result<RouteInfo, NetconfError> {
        let (family, len) = match dst {
            IpAddr::V4(_) => (AF_INET, 32),
            IpAddr::V6(_) => (AF_INET6, 128),
        };
        let mut m = Msg::new(RTM_GETROUTE, 0, self.seq);
        let mut rt = rtmsg(family, len, 0);
        rt[4] = 0; // any table
        rt[5] = 0;
        rt[7] = 0;
        m.put(&rt).attr(RTA_DST, &ip_bytes(dst));
        let op = format!("route get {dst}");
        let replies = self.transact(m, Some(RTM_NEWROUTE), &op)?;
        let payload = replies.first().ok_or_else(|| NetconfError {
            op: op.clone(),
            source: io::Error::from_raw_os_error(libc::ENETUNREACH),
        })?;
        let mut info = RouteInfo {
            gateway: None,
            ifindex: None,
        };
        for (kind, data) in attrs(payload.get(12..).unwrap_or(&[])) {
            match (kind, data.len()) {
                (RTA_GATEWAY, 4) => {
                    info.gateway = Some(IpAddr::V4(Ipv4Addr::new(
                        data[0], data[1], data[2], data[3],
                    )))
                }
                (RTA_GATEWAY, 16) => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(data);
                    info.gateway = Some(IpAddr::V6(Ipv6Addr::from(o)));
                }
                (RTA_OIF, 4) => {
                    info.ifindex = Some(u32::from_ne_bytes([data[0], data[1], data[2], data[3]]))
                }
                _ => {}
            }
        }
        Ok(info)
    }
}

/// What one session's TUN interface should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSetup {
    /// Interface name.
    pub name: String,
    /// MTU to set.
    pub mtu: Option<u32>,
    /// Point-to-point IPv4: (our address, the peer's address).
    pub ipv4_ptp: Option<(Ipv4Addr, Ipv4Addr)>,
    /// IPv6 addresses with prefix lengths.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// Prefixes routed out of the interface.
    pub routes: Vec<IpCidr>,
}

impl NetConf {
    /// Brings an interface up and configures it as described; returns its index. Stops at
    /// the first failure (the error names the step).
    pub fn configure(&mut self, setup: &InterfaceSetup) -> Result<u32, NetconfError> {
        let idx = self.link_index(&setup.name)?;
        self.set_link(idx, true, setup.mtu)?;
        if let Some((local, peer)) = setup.ipv4_ptp {
            self.add_address_v4_ptp(idx, local, peer)?;
        }
        for (a, len) in &setup.ipv6 {
            self.add_address(idx, IpAddr::V6(*a), *len)?;
        }
        for r in &setup.routes {
            self.add_route(idx, *r, None)?;
        }
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_kernel_layout() {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, 7);
        m.put(&ifaddrmsg(AF_INET, 32, 0, 5))
            .attr(IFA_LOCAL, &[10, 0, 0, 1])
            .attr(IFA_ADDRESS, &[10, 0, 0, 2]);
        let b = m.finish();
        assert_eq!(b.len(), 16 + 8 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 40);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), RTM_NEWADDR);
        assert_eq!(
            u16::from_ne_bytes(b[6..8].try_into().unwrap()),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!(&b[16..18], &[AF_INET, 32]);
        assert_eq!(u32::from_ne_bytes(b[20..24].try_into().unwrap()), 5);
        // rtattr: len 8, type IFA_LOCAL, 10.0.0.1
        assert_eq!(u16::from_ne_bytes(b[24..26].try_into().unwrap()), 8);
        assert_eq!(u16::from_ne_bytes(b[26..28].try_into().unwrap()), IFA_LOCAL);
        assert_eq!(&b[28..32], &[10, 0, 0, 1]);
        assert_eq!(&b[36..40], &[10, 0, 0, 2]);
    }

    #[test]
    fn attributes_are_padded_and_parsed_back() {
        let mut m = Msg::new(RTM_GETLINK, 0, 1);
        m.attr(IFLA_IFNAME, b"l2tp0\0")
            .attr(IFLA_MTU, &1460u32.to_ne_bytes());
        let b = m.finish();
        let got: Vec<(u16, Vec<u8>)> = attrs(&b[16..]).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (IFLA_IFNAME, b"l2tp0\0".to_vec()),
                (IFLA_MTU, 1460u32.to_ne_bytes().to_vec())
            ]
        );
        // Truncated or bogus attributes end the walk instead of panicking.
        assert_eq!(attrs(&[0xff, 0x00, 1, 0, 1]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
    }
}
