//! A LAC's PPPoE interfaces, polled with the node's other fds: per interface either a pair
//! of raw `AF_PACKET` sockets (discovery and session: untagged subscribers), or, on a VLAN
//! trunk (`lac.vlan_trunk`), one socket that reads every PPPoE frame with its 802.1Q/802.1ad
//! tags put back, so that the access concentrator keeps each subscriber's tags and answers
//! on them. Frames read go to the core as [`Input::PppoeFrame`]; the frames the core queued
//! are written out after each turn. Frames the kernel drops for want of buffer room (a flood
//! outrunning us) are counted too: the sockets' `PACKET_STATISTICS` are read once a second
//! into the core.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use l2tp_io::packet::{PppoeSocket, TrunkSocket};
use l2tp_io::poller::{Interest, Poller, Token};

use crate::core::{Core, Input};

/// Poll tokens of the PPPoE sockets: interface i's discovery (or trunk) socket is
/// `BASE + 2i`, its session socket `BASE + 2i + 1`.
pub(super) const PPPOE_TOKEN_BASE: u64 = (1 << 32) + 64;
/// Most PPPoE interfaces.
pub(super) const MAX_INTERFACES: usize = 32;
/// Frames read per readiness event before other work gets a turn.
const RX_BUDGET: usize = 256;
/// Largest Ethernet frame read (jumbo frames for RFC 4638).
const FRAME_MAX: usize = 9216;
/// Receive buffers: discovery takes floods in bursts; session frames are every
/// subscriber's traffic (a trunk socket carries both).
const DISCOVERY_RCVBUF: usize = 2 << 20;
const SESSION_RCVBUF: usize = 8 << 20;
/// How often the kernel's drop counters are read.
const DROPS_EVERY: Duration = Duration::from_secs(1);

/// One interface's sockets.
enum Port {
    /// Untagged PPPoE: a socket per EtherType.
    Plain(PppoeSocket),
    /// A VLAN trunk: tagged and untagged PPPoE on one socket.
    Trunk(TrunkSocket),
}

impl Port {
    fn open(name: &str, trunk: bool) -> io::Result<Port> {
        Ok(if trunk {
            let s = TrunkSocket::open(name)?;
            let _ = s.set_recv_buffer(SESSION_RCVBUF);
            Port::Trunk(s)
        } else {
            let s = PppoeSocket::open(name)?;
            // Best effort: the defaults (about 200 KiB) hold under a thousand small frames.
            let _ = s.discovery.set_recv_buffer(DISCOVERY_RCVBUF);
            let _ = s.session.set_recv_buffer(SESSION_RCVBUF);
            Port::Plain(s)
        })
    }

    /// Interface `name`'s sockets from `fds` (the next one, or two) as another process
    /// handed them over.
    fn adopt(
        name: &str,
        trunk: bool,
        mac: [u8; 6],
        fds: &mut impl Iterator<Item = OwnedFd>,
    ) -> io::Result<Port> {
        let mut next = || {
            fds.next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "PPPoE socket missing"))
        };
        Ok(if trunk {
            Port::Trunk(TrunkSocket::from_fd(next()?, name, mac)?)
        } else {
            let discovery = next()?;
            Port::Plain(PppoeSocket::from_fds(discovery, next()?, name, mac)?)
        })
    }

    /// Its descriptors, in the order [`Port::adopt`] takes them.
    fn fds(&self) -> Vec<RawFd> {
        match self {
            Port::Plain(s) => vec![s.discovery.as_raw_fd(), s.session.as_raw_fd()],
            Port::Trunk(s) => vec![s.as_raw_fd()],
        }
    }

    fn mac(&self) -> [u8; 6] {
        match self {
            Port::Plain(s) => s.mac,
            Port::Trunk(s) => s.mac,
        }
    }

    fn name(&self) -> &str {
        match self {
            Port::Plain(s) => &s.name,
            Port::Trunk(s) => &s.name,
        }
    }

    fn register(&self, poller: &Poller, base: u64) -> io::Result<()> {
        match self {
            Port::Plain(s) => {
                poller.register(s.discovery.as_raw_fd(), Token(base), Interest::READABLE)?;
                poller.register(s.session.as_raw_fd(), Token(base + 1), Interest::READABLE)
            }
            Port::Trunk(s) => poller.register(s.as_raw_fd(), Token(base), Interest::READABLE),
        }
    }

    /// Socket `which` (0: discovery or trunk, 1: session) reads a frame.
    fn recv(&self, which: usize, buf: &mut [u8]) -> io::Result<usize> {
        match (self, which) {
            (Port::Plain(s), 0) => s.discovery.recv(buf),
            (Port::Plain(s), _) => s.session.recv(buf),
            (Port::Trunk(s), _) => s.recv(buf),
        }
    }

    fn send(&self, frame: &[u8]) -> io::Result<usize> {
        match self {
            Port::Plain(s) => s.send(frame),
            Port::Trunk(s) => s.send(frame),
        }
    }

    fn take_drops(&self) -> u64 {
        match self {
            Port::Plain(s) => {
                s.discovery.take_drops().unwrap_or(0) + s.session.take_drops().unwrap_or(0)
            }
            Port::Trunk(s) => s.take_drops().unwrap_or(0),
        }
    }
}

/// One PPPoE interface handed over (its sockets follow: two, or one on a VLAN trunk).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortDesc {
    /// Interface name.
    pub name: String,
    /// A VLAN trunk (one socket).
    pub trunk: bool,
    /// Its Ethernet address.
    pub mac: [u8; 6],
}

impl PortDesc {
    /// The descriptors that follow.
    pub fn fds(&self) -> usize {
        if self.trunk {
            1
        } else {
            2
        }
    }
}

/// The open PPPoE interfaces.
pub(super) struct PppoeLinks {
    ports: Vec<Port>,
    buf: Vec<u8>,
    /// Frames that could not be sent.
    pub send_errors: u64,
    /// When the kernel's drop counters were last read.
    drops_read: Instant,
    /// Frames the kernel dropped, all sockets.
    kernel_drops: u64,
}

impl PppoeLinks {
    /// What a hand-over passes: each interface and its sockets' descriptors.
    pub fn handed_over(&self) -> (Vec<PortDesc>, Vec<RawFd>) {
        let mut fds = Vec::new();
        let descs = self
            .ports
            .iter()
            .map(|p| {
                fds.extend(p.fds());
                PortDesc {
                    name: p.name().to_string(),
                    trunk: matches!(p, Port::Trunk(_)),
                    mac: p.mac(),
                }
            })
            .collect();
        (descs, fds)
    }

    /// Opens every interface (as a VLAN trunk when `trunk`), or takes the sockets another
    /// process handed over (`given`: the same interfaces in the same order, else an error),
    /// registers its sockets, and starts its access concentrator in the core.
    pub fn open(
        names: &[String],
        trunk: bool,
        given: Option<(Vec<PortDesc>, Vec<OwnedFd>)>,
        poller: &Poller,
        core: &mut Core,
        now: Instant,
    ) -> io::Result<PppoeLinks> {
        if names.len() > MAX_INTERFACES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("at most {MAX_INTERFACES} PPPoE interfaces"),
            ));
        }
        let mut given = match given {
            Some((descs, fds)) => {
                let same = descs.len() == names.len()
                    && descs
                        .iter()
                        .zip(names)
                        .all(|(d, n)| d.name == *n && d.trunk == trunk);
                if !same {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the PPPoE interfaces handed over are not the configured ones \
                         (lac.interfaces or lac.vlan_trunk changed: restart instead)",
                    ));
                }
                Some((descs, fds.into_iter()))
            }
            None => None,
        };
        let mut ports = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let p = match given.as_mut() {
                Some((descs, fds)) => Port::adopt(name, trunk, descs[i].mac, fds),
                None => Port::open(name, trunk),
            }
            .map_err(|e| io::Error::new(e.kind(), format!("PPPoE interface {name}: {e}")))?;
            p.register(poller, PPPOE_TOKEN_BASE + 2 * i as u64)?;
            core.open_pppoe_interface(i, p.mac(), now);
            tracing::info!(
                interface = %name, mac = %pppoe::MacAddr(p.mac()), vlan_trunk = trunk,
                "PPPoE access concentrator listening"
            );
            ports.push(p);
        }
        Ok(PppoeLinks {
            ports,
            buf: vec![0; FRAME_MAX],
            send_errors: 0,
            drops_read: now,
            kernel_drops: 0,
        })
    }

    /// Whether `token` is one of ours.
    pub fn owns(token: u64) -> bool {
        (PPPOE_TOKEN_BASE..PPPOE_TOKEN_BASE + 2 * MAX_INTERFACES as u64).contains(&token)
    }

    /// Reads what socket `token` has (bounded) into the core.
    pub fn receive(&mut self, token: u64, now: Instant, core: &mut Core) {
        let n = (token - PPPOE_TOKEN_BASE) as usize;
        let (iface, which) = (n / 2, n % 2);
        let Some(p) = self.ports.get(iface) else {
            return;
        };
        for _ in 0..RX_BUDGET {
            match p.recv(which, &mut self.buf) {
                Ok(len) => core.handle(
                    now,
                    Input::PppoeFrame {
                        interface: iface,
                        frame: &self.buf[..len],
                    },
                ),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if now.saturating_duration_since(self.drops_read) >= DROPS_EVERY {
            self.drops_read = now;
            self.read_kernel_drops(core);
        }
    }

    /// Adds what the kernel dropped since the last read to the core's counters, with a log
    /// line (at most one per `DROPS_EVERY`).
    fn read_kernel_drops(&mut self, core: &mut Core) {
        let n: u64 = self.ports.iter().map(Port::take_drops).sum();
        if n > 0 {
            self.kernel_drops += n;
            core.note_pppoe_socket_drops(n);
            tracing::warn!(
                dropped = n,
                total = self.kernel_drops,
                "PPPoE frames dropped by the kernel: receive buffer full (a flood?)"
            );
        }
    }

    /// Writes the frames the core queued.
    pub fn send<'a>(&mut self, frames: impl Iterator<Item = (usize, &'a [u8])>) {
        for (iface, f) in frames {
            let Some(p) = self.ports.get(iface) else {
                continue;
            };
            if let Err(e) = p.send(f) {
                self.send_errors += 1;
                if self.send_errors == 1 || self.send_errors.is_multiple_of(1000) {
                    tracing::warn!(interface = %p.name(), errors = self.send_errors, "PPPoE send: {e}");
                }
            }
        }
    }
}
