//! A node's sockets, TUN devices and core state given to another process, or taken from
//! one, on a hitless upgrade (the orchestration is `crate::upgrade`). The old node flushes
//! what it queued and stops reading; its state is the core's snapshot
//! ([`crate::core::snapshot`]); the descriptors travel with a [`Manifest`] saying what each
//! one is. What arrives meanwhile waits in the kernel's socket and TUN queues for the new
//! process. On the kernel datapath the kernel's tunnels, sessions and `pppN` units travel
//! the same way (`super::kernel_backend::KernelTable`): the kernel never stops forwarding.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use l2tp_io::tun::Tun;
use l2tp_io::udp::UdpSocket;
use l2tp_proto::data::SessionKey;

use super::kernel_backend::KernelTable;
use super::pppoe::PortDesc;
use super::radius::RadiusSockets;
use super::{Node, NodeConfig};
use crate::config::DatapathMode;

/// What each handed-over descriptor is, in the order they travel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The UDP sockets (first descriptors), in socket-index order.
    pub sockets: Vec<SocketDesc>,
    /// The TUN devices (next).
    pub tuns: Vec<TunDesc>,
    /// The RADIUS client's sockets that follow (IPv4, IPv6).
    #[serde(default)]
    pub radius: [bool; 2],
    /// Whether the RADIUS dynamic authorization listener follows.
    #[serde(default)]
    pub dae: bool,
    /// A relaying LAC's PPPoE interfaces, whose sockets follow.
    #[serde(default)]
    pub pppoe: Vec<PortDesc>,
    /// The kernel datapath's table, whose descriptors follow (None: userspace datapath).
    #[serde(default)]
    pub kernel: Option<KernelTable>,
    /// Whether the management socket's listener follows.
    pub mgmt: bool,
    /// Whether the metrics endpoint's listener follows (last).
    pub metrics: bool,
}

/// One UDP socket's offloads (the options stay with the socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketDesc {
    /// UDP GSO in use.
    pub gso: bool,
    /// UDP GRO turned on.
    pub gro: bool,
}

/// One TUN device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunDesc {
    /// Interface name.
    pub name: String,
    /// Opened with `IFF_VNET_HDR`.
    pub vnet_hdr: bool,
    /// The session it carries (None: the LNS's shared TUN).
    pub session: Option<SessionKey>,
}

/// What the old node gives: descriptors (borrowed: they stay open here until the process
/// exits), their manifest (without the listeners) and the snapshot.
#[derive(Debug)]
pub struct Outgoing {
    /// The manifest (`mgmt` and `metrics` for the caller to fill in).
    pub manifest: Manifest,
    /// The descriptors, in manifest order.
    pub fds: Vec<RawFd>,
    /// The core's snapshot.
    pub snapshot: Vec<u8>,
    /// Tunnels in it.
    pub tunnels: usize,
    /// Sessions in it.
    pub sessions: usize,
}

/// What the new node takes.
#[derive(Debug)]
pub struct Inherited {
    /// The UDP sockets, in socket-index order.
    pub sockets: Vec<UdpSocket>,
    /// The TUN devices.
    pub tuns: Vec<(Option<SessionKey>, Tun)>,
    /// The RADIUS client sockets and DAE listener (None: the old node had no RADIUS).
    pub radius: Option<RadiusSockets>,
    /// A relaying LAC's PPPoE interfaces and their sockets (None: not a relaying LAC).
    pub pppoe: Option<(Vec<PortDesc>, Vec<OwnedFd>)>,
    /// The kernel datapath's table and its descriptors (None: userspace datapath).
    pub kernel: Option<(KernelTable, Vec<OwnedFd>)>,
    /// The old core's snapshot.
    pub snapshot: Vec<u8>,
}

impl Manifest {
    /// Descriptors of the node (sockets, TUNs, RADIUS, PPPoE, kernel datapath), before the
    /// listeners.
    pub fn node_fds(&self) -> usize {
        self.sockets.len()
            + self.tuns.len()
            + self.radius.iter().filter(|b| **b).count()
            + usize::from(self.dae)
            + self.pppoe.iter().map(PortDesc::fds).sum::<usize>()
            + self.kernel.as_ref().map_or(0, KernelTable::fds)
    }
}

impl Inherited {
    /// The node's part of `fds` (in `manifest` order; the listeners are left in `fds`).
    pub fn take(
        manifest: &Manifest,
        fds: &mut Vec<OwnedFd>,
        snapshot: Vec<u8>,
    ) -> io::Result<Inherited> {
        let needed = manifest.node_fds();
        if fds.len() < needed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} descriptors handed over, {needed} expected", fds.len()),
            ));
        }
        let mut it = fds.drain(..needed);
        let mut sockets = Vec::new();
        for d in &manifest.sockets {
            let fd = it.next().expect("counted");
            sockets.push(UdpSocket::from_fd(fd, d.gso, d.gro)?);
        }
        let mut tuns = Vec::new();
        for d in &manifest.tuns {
            let fd = it.next().expect("counted");
            tuns.push((d.session, Tun::from_fd(fd, d.name.clone(), d.vnet_hdr)));
        }
        let mut radius = RadiusSockets::default();
        for (i, present) in manifest.radius.iter().enumerate() {
            if *present {
                radius.client[i] = Some(std::net::UdpSocket::from(it.next().expect("counted")));
            }
        }
        if manifest.dae {
            radius.dae = Some(std::net::UdpSocket::from(it.next().expect("counted")));
        }
        let pppoe = (!manifest.pppoe.is_empty()).then(|| {
            let n = manifest.pppoe.iter().map(PortDesc::fds).sum();
            (manifest.pppoe.clone(), it.by_ref().take(n).collect())
        });
        let kernel = manifest
            .kernel
            .as_ref()
            .map(|t| (t.clone(), it.by_ref().take(t.fds()).collect()));
        let had_radius = manifest.radius.iter().any(|b| *b) || manifest.dae;
        Ok(Inherited {
            sockets,
            tuns,
            radius: had_radius.then_some(radius),
            pppoe,
            kernel,
            snapshot,
        })
    }
}

impl Node {
    /// Why this node cannot be handed over (None: it can).
    pub fn hand_over_refusal(&self) -> Option<&'static str> {
        if let Some(why) = self.kernel.as_ref().and_then(|k| {
            k.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .hand_over_refusal()
        }) {
            return Some(why);
        }
        None
    }

    /// RADIUS requests not answered yet (an upgrade waits for none to be left).
    pub fn radius_requests_in_flight(&self) -> usize {
        self.radius.as_ref().map_or(0, |r| r.requests_in_flight())
    }

    /// Sends what is queued, then snapshots the core: from here on this node must not read
    /// again (what arrives stays queued in the kernel for the new process) unless the
    /// hand-over fails.
    pub fn hand_over(&mut self) -> Result<Outgoing, String> {
        if let Some(why) = self.hand_over_refusal() {
            return Err(why.into());
        }
        let busy = self.radius_requests_in_flight();
        if busy > 0 {
            return Err(format!("{busy} RADIUS requests are still unanswered"));
        }
        self.flush();
        let now = Instant::now();
        // The RADIUS servers' alive/dead marks go with the snapshot (and only with it).
        if let Some(r) = self.radius.as_ref() {
            self.core.carry_radius_servers(&r.client().server_marks());
        }
        let snapshot = self.core.snapshot(now);
        self.core.carry_radius_servers(&[]);
        let snapshot = snapshot.map_err(|e| e.to_string())?;
        let mut fds = Vec::new();
        let sockets = self
            .sockets
            .iter()
            .map(|s| {
                fds.push(s.as_raw_fd());
                SocketDesc {
                    gso: s.gso_enabled(),
                    gro: s.gro_enabled(),
                }
            })
            .collect();
        let tuns = self
            .tuns
            .handed_over()
            .into_iter()
            .map(|(key, t)| {
                fds.push(t.as_raw_fd());
                TunDesc {
                    name: t.name().to_string(),
                    vnet_hdr: t.vnet_hdr(),
                    session: key,
                }
            })
            .collect();
        let (radius, dae) = match &self.radius {
            Some(r) => {
                let (client, dae, more) = r.handed_over();
                fds.extend(more);
                (client, dae)
            }
            None => ([false; 2], false),
        };
        let pppoe = match &self.pppoe {
            Some(p) => {
                let (descs, more) = p.handed_over();
                fds.extend(more);
                descs
            }
            None => Vec::new(),
        };
        let kernel = match &self.kernel {
            Some(k) => {
                let (table, more) = k
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .handed_over()?;
                fds.extend(more);
                Some(table)
            }
            None => None,
        };
        Ok(Outgoing {
            manifest: Manifest {
                sockets,
                tuns,
                radius,
                dae,
                pppoe,
                kernel,
                mgmt: false,
                metrics: false,
            },
            fds,
            snapshot,
            tunnels: self.core.endpoint().tunnel_count(),
            sessions: self.core.session_count(),
        })
    }

    /// A node on what another process handed over, its core restored from the snapshot, on
    /// the datapath that process ran (`mode`, the configured one, must allow it). Fails,
    /// with nothing taken over, when the snapshot is refused.
    pub fn adopt(config: NodeConfig, mode: DatapathMode, inherited: Inherited) -> io::Result<Node> {
        Node::build(config, mode, Some(inherited))
    }
}

/// The datapath of a node taking over: the one the old process ran (the kernel's when it
/// handed a kernel table over). A configuration asking explicitly for the other one is
/// refused: changing datapath drops every session, so it takes a restart.
pub(super) fn inherited_datapath(
    config: &NodeConfig,
    mode: DatapathMode,
    inherited: &Inherited,
) -> io::Result<bool> {
    let kernel = inherited.kernel.is_some();
    let refuse = |running: &str, asked: &str| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the running daemon's sessions are on the {running} datapath and this \
                 configuration asks for the {asked} one (daemon.datapath): a restart changes it"
            ),
        )
    };
    match (kernel, mode) {
        (true, DatapathMode::Userspace) => Err(refuse("kernel", "userspace")),
        (false, DatapathMode::Kernel) => Err(refuse("userspace", "kernel")),
        _ => {
            let which = if kernel { "kernel" } else { "userspace" };
            tracing::info!(node = %config.name, "datapath: {which} (carried over)");
            Ok(kernel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernel_backend::{SessionDesc, TunnelDesc};
    use super::*;

    #[test]
    fn a_manifest_without_a_kernel_table_is_a_userspace_nodes() {
        let json =
            r#"{"sockets":[{"gso":true,"gro":false}],"tuns":[],"mgmt":true,"metrics":false}"#;
        let m: Manifest = serde_json::from_str(json).expect("manifest");
        assert_eq!(m.kernel, None);
        assert_eq!(m.node_fds(), 1);
    }

    #[test]
    fn the_kernel_table_counts_two_descriptors_a_tunnel_and_two_or_three_a_session() {
        let session = |session, unit| SessionDesc {
            tunnel: 7,
            session,
            peer_tunnel: 9,
            peer_session: session + 100,
            channel: u32::from(session),
            unit,
        };
        let table = KernelTable {
            tunnels: vec![
                TunnelDesc {
                    tunnel: 7,
                    socket: 0,
                },
                TunnelDesc {
                    tunnel: 8,
                    socket: 1,
                },
            ],
            sessions: vec![session(1, true), session(2, false)],
        };
        assert_eq!(table.fds(), 2 * 2 + 3 + 2);
        let m = Manifest {
            sockets: vec![SocketDesc {
                gso: false,
                gro: false,
            }],
            tuns: Vec::new(),
            radius: [false; 2],
            dae: false,
            pppoe: Vec::new(),
            kernel: Some(table),
            mgmt: true,
            metrics: false,
        };
        assert_eq!(m.node_fds(), 1 + 9);
        let back: Manifest =
            serde_json::from_slice(&serde_json::to_vec(&m).expect("json")).expect("manifest");
        assert_eq!(back, m);
    }
}
