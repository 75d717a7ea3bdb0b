//! PPPoL2TP sockets: the tunnel management socket and the session sockets, their options
//! (`SOL_PPPOL2TP`) and statistics (`PPPIOCGL2TPSTATS`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use l2tp_proto::data::{L2tpStats, SessionOption, SessionOptions};
use l2tp_wire::{SessionId, TunnelId};

pub use l2tp_proto::data::DebugMask;

use super::sys;
use super::KernelError;

/// The four ids a session socket is connected with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionIds {
    /// Our tunnel id (what the peer puts in the packets it sends us).
    pub tunnel: TunnelId,
    /// Our session id.
    pub session: SessionId,
    /// The peer's tunnel id (what we put in the packets we send).
    pub peer_tunnel: TunnelId,
    /// The peer's session id.
    pub peer_session: SessionId,
}

/// The address `connect()` takes, IPv4 or IPv6 flavour.
enum PppoxAddr {
    V4(sys::sockaddr_pppol2tp),
    V6(sys::sockaddr_pppol2tpin6),
}

impl PppoxAddr {
    fn new(udp_fd: RawFd, peer: SocketAddr, ids: SessionIds) -> Self {
        match peer {
            SocketAddr::V4(p) => {
                // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
                let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = p.port().to_be();
                sin.sin_addr.s_addr = u32::from(*p.ip()).to_be();
                PppoxAddr::V4(sys::sockaddr_pppol2tp {
                    sa_family: sys::AF_PPPOX as libc::sa_family_t,
                    sa_protocol: sys::PX_PROTO_OL2TP as libc::c_uint,
                    pppol2tp: sys::pppol2tp_addr {
                        pid: 0,
                        fd: udp_fd,
                        addr: sin,
                        s_tunnel: ids.tunnel.0,
                        s_session: ids.session.0,
                        d_tunnel: ids.peer_tunnel.0,
                        d_session: ids.peer_session.0,
                    },
                })
            }
            SocketAddr::V6(p) => {
                let sin6 = sys::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: p.port().to_be(),
                    sin6_flowinfo: p.flowinfo(),
                    sin6_addr: p.ip().octets(),
                    sin6_scope_id: p.scope_id(),
                };
                PppoxAddr::V6(sys::sockaddr_pppol2tpin6 {
                    sa_family: sys::AF_PPPOX as libc::sa_family_t,
                    sa_protocol: sys::PX_PROTO_OL2TP as libc::c_uint,
                    pppol2tp: sys::pppol2tpin6_addr {
                        pid: 0,
                        fd: udp_fd,
                        s_tunnel: ids.tunnel.0,
                        s_session: ids.session.0,
                        d_tunnel: ids.peer_tunnel.0,
                        d_session: ids.peer_session.0,
                        addr: sin6,
                    },
                })
            }
        }
    }

    fn connect(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let (ptr, len) = match self {
            PppoxAddr::V4(a) => (
                a as *const sys::sockaddr_pppol2tp as *const libc::sockaddr,
                std::mem::size_of_val(a),
            ),
            PppoxAddr::V6(a) => (
                a as *const sys::sockaddr_pppol2tpin6 as *const libc::sockaddr,
                std::mem::size_of_val(a),
            ),
        };
        // SAFETY: `ptr` points to a live, initialised address of `len` bytes owned by `self`;
        // the kernel reads at most `len` bytes and keeps no reference after the call.
        let rc = unsafe { libc::connect(fd.as_raw_fd(), ptr, len as libc::socklen_t) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// A new, unconnected `socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP)` (close-on-exec).
pub(super) fn pppox_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; the result is checked below.
    let fd = unsafe {
        libc::socket(
            sys::AF_PPPOX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            sys::PX_PROTO_OL2TP,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The peer a tunnel's UDP socket is connected to (the kernel sends through it).
fn udp_peer(udp: BorrowedFd<'_>, tunnel: TunnelId) -> Result<SocketAddr, KernelError> {
    let sock = socket2::SockRef::from(&udp);
    let peer = sock.peer_addr().map_err(|e| {
        KernelError::new(
            format!("PPPoL2TP tunnel {tunnel}: its UDP socket must be connected to the peer"),
            e,
        )
    })?;
    peer.as_socket().ok_or_else(|| {
        KernelError::new(
            format!("PPPoL2TP tunnel {tunnel}: its socket is not a UDP/IP socket"),
            io::Error::from(io::ErrorKind::InvalidInput),
        )
    })
}

fn setsockopt_int(fd: BorrowedFd<'_>, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and its size is passed; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            sys::SOL_PPPOL2TP,
            opt,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn getsockopt_int(fd: BorrowedFd<'_>, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live and writable; `len` holds the buffer's size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            sys::SOL_PPPOL2TP,
            opt,
            &mut value as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

fn l2tp_stats(fd: BorrowedFd<'_>) -> io::Result<L2tpStats> {
    let mut s = sys::pppol2tp_ioc_stats::default();
    // SAFETY: PPPIOCGL2TPSTATS writes one `struct pppol2tp_ioc_stats`, which `s` is
    // (layout checked in `sys`), live and writable for the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            sys::PPPIOCGL2TPSTATS,
            &mut s as *mut sys::pppol2tp_ioc_stats,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(L2tpStats {
        tx_packets: s.tx_packets,
        tx_bytes: s.tx_bytes,
        tx_errors: s.tx_errors,
        rx_packets: s.rx_packets,
        rx_bytes: s.rx_bytes,
        rx_seq_discards: s.rx_seq_discards,
        rx_oos_packets: s.rx_oos_packets,
        rx_errors: s.rx_errors,
    })
}

/// A tunnel's management socket. While it is open the kernel knows the tunnel and decapsulates
/// its data messages; dropping it (after its sessions) removes the tunnel.
#[derive(Debug)]
pub struct TunnelSocket {
    fd: OwnedFd,
    tunnel: TunnelId,
    peer: SocketAddr,
}

impl TunnelSocket {
    /// Creates the tunnel in the kernel: a PPPoX socket connected with `udp` (bound, and
    /// connected to the peer), our tunnel id and session ids 0 (the seed's step 1).
    pub fn connect(udp: &impl AsFd, tunnel: TunnelId) -> Result<Self, KernelError> {
        let udp = udp.as_fd();
        let peer = udp_peer(udp, tunnel)?;
        let what = || format!("connect PPPoL2TP tunnel {tunnel} to {peer}");
        if tunnel.is_zero() {
            return Err(KernelError::new(
                what(),
                io::Error::new(io::ErrorKind::InvalidInput, "tunnel id 0 is reserved"),
            ));
        }
        let fd = pppox_socket().map_err(|e| KernelError::new(what(), e))?;
        let ids = SessionIds {
            tunnel,
            session: SessionId::NONE,
            peer_tunnel: TunnelId::NONE,
            peer_session: SessionId::NONE,
        };
        PppoxAddr::new(udp.as_raw_fd(), peer, ids)
            .connect(fd.as_fd())
            .map_err(|e| KernelError::new(what(), e))?;
        Ok(Self { fd, tunnel, peer })
    }

    /// The management socket of `tunnel`, open in another process that handed it over
    /// (hitless upgrade); `udp` is the tunnel's UDP socket, handed over with it. Nothing is
    /// created: the kernel's tunnel goes on as it was.
    pub fn from_fd(fd: OwnedFd, udp: &impl AsFd, tunnel: TunnelId) -> Result<Self, KernelError> {
        let peer = udp_peer(udp.as_fd(), tunnel)?;
        Ok(Self { fd, tunnel, peer })
    }

    /// Our tunnel id.
    pub fn tunnel_id(&self) -> TunnelId {
        self.tunnel
    }

    /// The peer the tunnel's UDP socket is connected to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Sets the tunnel's debug mask, the one option the management socket takes.
    pub fn set_debug(&self, mask: DebugMask) -> Result<(), KernelError> {
        setsockopt_int(
            self.fd.as_fd(),
            sys::PPPOL2TP_SO_DEBUG,
            mask.0 as libc::c_int,
        )
        .map_err(|e| KernelError::new(format!("set DEBUG on PPPoL2TP tunnel {}", self.tunnel), e))
    }

    /// The tunnel's debug mask.
    pub fn debug(&self) -> Result<DebugMask, KernelError> {
        getsockopt_int(self.fd.as_fd(), sys::PPPOL2TP_SO_DEBUG)
            .map(|v| DebugMask(v as u32))
            .map_err(|e| {
                KernelError::new(format!("get DEBUG of PPPoL2TP tunnel {}", self.tunnel), e)
            })
    }

    /// The tunnel's counters (all its sessions together).
    pub fn stats(&self) -> Result<L2tpStats, KernelError> {
        l2tp_stats(self.fd.as_fd()).map_err(|e| {
            KernelError::new(
                format!("PPPIOCGL2TPSTATS on PPPoL2TP tunnel {}", self.tunnel),
                e,
            )
        })
    }
}

impl AsFd for TunnelSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A session's PPPoX socket. Its PPP channel ([`SessionSocket::channel_index`]) carries the
/// session's PPP frames; dropping the socket removes the session from the kernel.
#[derive(Debug)]
pub struct SessionSocket {
    fd: OwnedFd,
    ids: SessionIds,
}

impl SessionSocket {
    /// Creates the session in the kernel (the seed's step 2). `tunnel` must be the open
    /// management socket of `ids.tunnel` and `udp` that tunnel's UDP socket.
    pub fn connect(
        tunnel: &TunnelSocket,
        udp: &impl AsFd,
        ids: SessionIds,
    ) -> Result<Self, KernelError> {
        let what = || {
            format!(
                "connect PPPoL2TP session {}/{} (peer {}/{}) to {}",
                ids.tunnel, ids.session, ids.peer_tunnel, ids.peer_session, tunnel.peer
            )
        };
        let invalid = |msg: &str| {
            KernelError::new(
                what(),
                io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()),
            )
        };
        if ids.tunnel != tunnel.tunnel {
            return Err(invalid("the tunnel socket is for another tunnel id"));
        }
        if ids.session.is_zero() || ids.peer_session.is_zero() || ids.peer_tunnel.is_zero() {
            return Err(invalid(
                "ids 0 are reserved for the tunnel management socket",
            ));
        }
        let fd = pppox_socket().map_err(|e| KernelError::new(what(), e))?;
        PppoxAddr::new(udp.as_fd().as_raw_fd(), tunnel.peer, ids)
            .connect(fd.as_fd())
            .map_err(|e| KernelError::new(what(), e))?;
        Ok(Self { fd, ids })
    }

    /// A session socket connected with `ids`, open in another process that handed it over
    /// (hitless upgrade). Nothing is created: the kernel's session goes on as it was.
    pub fn from_fd(fd: OwnedFd, ids: SessionIds) -> Self {
        Self { fd, ids }
    }

    /// The ids the session was connected with.
    pub fn ids(&self) -> SessionIds {
        self.ids
    }

    fn err(&self, what: &str, e: io::Error) -> KernelError {
        KernelError::new(
            format!(
                "{what} PPPoL2TP session {}/{}",
                self.ids.tunnel, self.ids.session
            ),
            e,
        )
    }

    /// Sets one option (`setsockopt(SOL_PPPOL2TP, …)`); REORDERTO is given to the kernel in
    /// milliseconds (saturating).
    pub fn set_option(&self, opt: SessionOption) -> Result<(), KernelError> {
        let (name, value) = match opt {
            SessionOption::SendSeq(v) => (sys::PPPOL2TP_SO_SENDSEQ, v as libc::c_int),
            SessionOption::RecvSeq(v) => (sys::PPPOL2TP_SO_RECVSEQ, v as libc::c_int),
            SessionOption::LnsMode(v) => (sys::PPPOL2TP_SO_LNSMODE, v as libc::c_int),
            SessionOption::ReorderTimeout(d) => (
                sys::PPPOL2TP_SO_REORDERTO,
                d.as_millis().min(libc::c_int::MAX as u128) as libc::c_int,
            ),
            SessionOption::Debug(m) => (sys::PPPOL2TP_SO_DEBUG, m.0 as libc::c_int),
        };
        setsockopt_int(self.fd.as_fd(), name, value)
            .map_err(|e| self.err(&format!("set {} on", opt.name()), e))
    }

    /// The session's options as the kernel holds them now (`getsockopt` of each).
    pub fn options(&self) -> Result<SessionOptions, KernelError> {
        let get = |opt: libc::c_int, name: &str| {
            getsockopt_int(self.fd.as_fd(), opt).map_err(|e| self.err(&format!("get {name} of"), e))
        };
        Ok(SessionOptions {
            send_seq: get(sys::PPPOL2TP_SO_SENDSEQ, "SENDSEQ")? != 0,
            recv_seq: get(sys::PPPOL2TP_SO_RECVSEQ, "RECVSEQ")? != 0,
            lns_mode: get(sys::PPPOL2TP_SO_LNSMODE, "LNSMODE")? != 0,
            reorder_timeout: Duration::from_millis(
                get(sys::PPPOL2TP_SO_REORDERTO, "REORDERTO")?.max(0) as u64,
            ),
            debug: DebugMask(get(sys::PPPOL2TP_SO_DEBUG, "DEBUG")? as u32),
        })
    }

    /// The session's counters.
    pub fn stats(&self) -> Result<L2tpStats, KernelError> {
        l2tp_stats(self.fd.as_fd()).map_err(|e| self.err("PPPIOCGL2TPSTATS on", e))
    }

    /// The index of the session's PPP channel (`PPPIOCGCHAN`), for
    /// [`crate::ppp_unit::PppChannel::attach`]. From this call on the kernel hands the
    /// session's frames to the PPP channel instead of this socket's receive queue.
    pub fn channel_index(&self) -> Result<u32, KernelError> {
        let mut index: libc::c_int = -1;
        // SAFETY: PPPIOCGCHAN writes one int into `index`, live and writable for the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), sys::PPPIOCGCHAN, &mut index) };
        if rc < 0 {
            return Err(self.err("PPPIOCGCHAN on", io::Error::last_os_error()));
        }
        u32::try_from(index).map_err(|_| {
            self.err(
                "PPPIOCGCHAN on",
                io::Error::from(io::ErrorKind::InvalidData),
            )
        })
    }
}

impl AsFd for SessionSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
