//! Opening the TUN devices that terminate the sessions' IP, as the kernel's PPP interfaces
//! do in the seed.
//!
//! Two modes (see docs/interfaces.md for the trade-off):
//! - **per session**: one TUN per session (`l2tp0`, `l2tp1`, …) with a point-to-point
//!   address `local peer PEER/32`, like pppd's `ppp0`. The client default; also available on
//!   an LNS. Closing the TUN removes its addresses and routes with it.
//! - **shared** (LNS): one TUN for every session, our address on it and a `/32` route per
//!   client address; packets read from it are sent to the session that owns the destination
//!   address (one hash lookup). This is how l2tpns scales to tens of thousands of sessions:
//!   no interface per subscriber.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use l2tp_io::offload::TUN_OFFLOADS;
use l2tp_io::poller::{Interest, Poller, Token};
use l2tp_io::tun::{Tun, TunOptions};
use ppp::Ipv4Params;

use super::netconf::NetConf;
use crate::addr::IpCidr;

/// First poll token used for TUN devices (tokens below are sockets and the management waker).
pub const TUN_TOKEN_BASE: u64 = 1 << 40;

/// Opens a TUN with a `virtio_net_hdr` on every packet and TCP segmentation / checksum
/// offloads (`l2tp_io::offload`): the kernel hands over 64 KiB TCP super-packets, which the
/// node segments itself, one read for many wire packets. A kernel refusing the offloads
/// still gets correct packets (the header stays, with no GSO in it).
pub(crate) fn open_offloading(name: &str) -> Result<Tun, String> {
    let tun = Tun::open_with(&TunOptions {
        name: Some(name.to_string()),
        vnet_hdr: true,
        ..TunOptions::default()
    })
    .map_err(|e| format!("open TUN {name}: {e}"))?;
    if let Err(e) = tun.set_offload(TUN_OFFLOADS) {
        tracing::warn!(tun = %tun.name(), "TUN offloads refused, one packet per read: {e}");
    }
    Ok(tun)
}

/// Opens and configures a per-session TUN: up, MTU, `local peer PEER/32`, extra routes.
pub fn open_session_tun(
    netconf: &mut NetConf,
    poller: &Poller,
    token: Token,
    name: &str,
    mtu: u32,
    ipv4: &Ipv4Params,
    routes: &[IpCidr],
) -> Result<Tun, String> {
    let tun = open_offloading(name)?;
    let ifname = tun.name().to_string();
    let idx = netconf.link_index(&ifname).map_err(|e| e.to_string())?;
    netconf
        .set_link(idx, true, Some(mtu))
        .map_err(|e| e.to_string())?;
    netconf
        .add_address_v4_ptp(idx, ipv4.local, ipv4.peer)
        .map_err(|e| e.to_string())?;
    for r in routes {
        netconf
            .add_route(idx, *r, None)
            .map_err(|e| format!("route {r}: {e}"))?;
    }
    poller
        .register(tun.as_raw_fd(), token, Interest::READABLE)
        .map_err(|e| format!("poll {ifname}: {e}"))?;
    Ok(tun)
}

/// Adds the IPv6 link-local addresses negotiated by IPv6CP to a session's TUN.
pub fn add_ipv6_link_local(
    netconf: &mut NetConf,
    ifname: &str,
    local: Ipv6Addr,
) -> Result<(), String> {
    // The link is point-to-point and the identifiers were negotiated collision-free by
    // IPv6CP (RFC 5072 §4.1), so duplicate address detection would only delay traffic
    // (a tentative address drops packets for a second or more).
    let dad = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_dad");
    let _ = std::fs::write(dad, "0");
    let idx = netconf.link_index(ifname).map_err(|e| e.to_string())?;
    netconf
        .add_address(idx, local.into(), 64)
        .map_err(|e| e.to_string())
}

/// Opens the shared LNS TUN: up, MTU, our address as a /32.
pub fn open_shared_tun(
    netconf: &mut NetConf,
    poller: &Poller,
    token: Token,
    name: &str,
    mtu: u32,
    local: Ipv4Addr,
) -> Result<(Tun, u32), String> {
    let tun = open_offloading(name)?;
    let idx = netconf.link_index(tun.name()).map_err(|e| e.to_string())?;
    netconf
        .set_link(idx, true, Some(mtu))
        .map_err(|e| e.to_string())?;
    netconf
        .add_address(idx, local.into(), 32)
        .map_err(|e| e.to_string())?;
    poller
        .register(tun.as_raw_fd(), token, Interest::READABLE)
        .map_err(|e| format!("poll {name}: {e}"))?;
    Ok((tun, idx))
}
