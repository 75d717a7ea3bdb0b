//! The kernel's PPPoL2TP ABI: constants and `#[repr(C)]` structures of `linux/if_pppox.h`,
//! `linux/if_pppol2tp.h` and `linux/ppp-ioctl.h` that the `libc` crate does not carry.
//!
//! Sizes (x86-64 and every other Linux ABI with a 4-byte `int`): `sockaddr_pppol2tp` 38 bytes,
//! `sockaddr_pppol2tpin6` 50 bytes (both `__packed` in the header), `pppol2tp_ioc_stats` 72
//! bytes. The layout tests below check them field by field against the header's declarations.

/// `AF_PPPOX` (`linux/socket.h`).
pub const AF_PPPOX: libc::c_int = 24;
/// `PX_PROTO_OL2TP` (`linux/if_pppox.h`): the L2TP flavour of PPPoX sockets.
pub const PX_PROTO_OL2TP: libc::c_int = 1;
/// `SOL_PPPOL2TP` (`linux/socket.h`): the level of the PPPoL2TP socket options.
pub const SOL_PPPOL2TP: libc::c_int = 273;

/// `PPPOL2TP_SO_DEBUG`.
pub const PPPOL2TP_SO_DEBUG: libc::c_int = 1;
/// `PPPOL2TP_SO_RECVSEQ`.
pub const PPPOL2TP_SO_RECVSEQ: libc::c_int = 2;
/// `PPPOL2TP_SO_SENDSEQ`.
pub const PPPOL2TP_SO_SENDSEQ: libc::c_int = 3;
/// `PPPOL2TP_SO_LNSMODE`.
pub const PPPOL2TP_SO_LNSMODE: libc::c_int = 4;
/// `PPPOL2TP_SO_REORDERTO` (milliseconds).
pub const PPPOL2TP_SO_REORDERTO: libc::c_int = 5;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;
/// `_IOC(dir, type, nr, size)` of `asm-generic/ioctl.h`.
const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> libc::c_ulong {
    ((dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32) as libc::c_ulong
}
const INT: usize = std::mem::size_of::<libc::c_int>();

/// `PPPIOCGL2TPSTATS`: `_IOR('t', 54, struct pppol2tp_ioc_stats)`.
pub const PPPIOCGL2TPSTATS: libc::c_ulong = ioc(
    IOC_READ,
    b't',
    54,
    std::mem::size_of::<pppol2tp_ioc_stats>(),
);
/// `PPPIOCGCHAN`: `_IOR('t', 55, int)`, the PPP channel index of a connected PPPoX socket.
pub const PPPIOCGCHAN: libc::c_ulong = ioc(IOC_READ, b't', 55, INT);
/// `PPPIOCATTCHAN`: `_IOW('t', 56, int)`, attach a `/dev/ppp` fd to a channel.
pub const PPPIOCATTCHAN: libc::c_ulong = ioc(IOC_WRITE, b't', 56, INT);
/// `PPPIOCDISCONN`: `_IO('t', 57)`, disconnect a channel from its unit.
pub const PPPIOCDISCONN: libc::c_ulong = ioc(0, b't', 57, 0);
/// `PPPIOCCONNECT`: `_IOW('t', 58, int)`, connect a channel to a unit.
pub const PPPIOCCONNECT: libc::c_ulong = ioc(IOC_WRITE, b't', 58, INT);
/// `PPPIOCNEWUNIT`: `_IOWR('t', 62, int)`, create a unit (`pppN`).
pub const PPPIOCNEWUNIT: libc::c_ulong = ioc(IOC_READ | IOC_WRITE, b't', 62, INT);
/// `PPPIOCSMRU`: `_IOW('t', 82, int)`.
pub const PPPIOCSMRU: libc::c_ulong = ioc(IOC_WRITE, b't', 82, INT);
/// `PPPIOCGMRU`: `_IOR('t', 83, int)`.
pub const PPPIOCGMRU: libc::c_ulong = ioc(IOC_READ, b't', 83, INT);
/// `PPPIOCGUNIT`: `_IOR('t', 86, int)`.
pub const PPPIOCGUNIT: libc::c_ulong = ioc(IOC_READ, b't', 86, INT);
/// `PPPIOCSFLAGS`: `_IOW('t', 89, int)`.
pub const PPPIOCSFLAGS: libc::c_ulong = ioc(IOC_WRITE, b't', 89, INT);
/// `PPPIOCGFLAGS`: `_IOR('t', 90, int)`.
pub const PPPIOCGFLAGS: libc::c_ulong = ioc(IOC_READ, b't', 90, INT);

/// `struct pppol2tp_addr`: the IPv4 part of a PPPoL2TP address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pppol2tp_addr {
    /// Pid that owns `fd`; 0 = the caller.
    pub pid: libc::pid_t,
    /// The tunnel's UDP socket.
    pub fd: libc::c_int,
    /// Peer address and port.
    pub addr: libc::sockaddr_in,
    /// Our tunnel id (matches incoming packets).
    pub s_tunnel: u16,
    /// Our session id; 0 on the tunnel management socket.
    pub s_session: u16,
    /// The peer's tunnel id (put in outgoing packets).
    pub d_tunnel: u16,
    /// The peer's session id; 0 on the tunnel management socket.
    pub d_session: u16,
}

/// `struct sockaddr_in6`, declared here because `libc`'s carries a `repr(align)` that a
/// packed structure cannot contain; same layout (28 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_in6 {
    /// `AF_INET6`.
    pub sin6_family: libc::sa_family_t,
    /// Port, network byte order.
    pub sin6_port: u16,
    /// Flow label, network byte order.
    pub sin6_flowinfo: u32,
    /// The address.
    pub sin6_addr: [u8; 16],
    /// Scope id.
    pub sin6_scope_id: u32,
}

/// `struct pppol2tpin6_addr`: the IPv6 part of a PPPoL2TP address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pppol2tpin6_addr {
    /// Pid that owns `fd`; 0 = the caller.
    pub pid: libc::pid_t,
    /// The tunnel's UDP socket.
    pub fd: libc::c_int,
    /// Our tunnel id.
    pub s_tunnel: u16,
    /// Our session id.
    pub s_session: u16,
    /// The peer's tunnel id.
    pub d_tunnel: u16,
    /// The peer's session id.
    pub d_session: u16,
    /// Peer address and port.
    pub addr: sockaddr_in6,
}

/// `struct sockaddr_pppol2tp` (`__packed`): what `connect()` takes for an IPv4 tunnel.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct sockaddr_pppol2tp {
    /// `AF_PPPOX`.
    pub sa_family: libc::sa_family_t,
    /// `PX_PROTO_OL2TP`.
    pub sa_protocol: libc::c_uint,
    /// Ids, UDP fd, peer.
    pub pppol2tp: pppol2tp_addr,
}

/// `struct sockaddr_pppol2tpin6` (`__packed`): what `connect()` takes for an IPv6 tunnel.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct sockaddr_pppol2tpin6 {
    /// `AF_PPPOX`.
    pub sa_family: libc::sa_family_t,
    /// `PX_PROTO_OL2TP`.
    pub sa_protocol: libc::c_uint,
    /// Ids, UDP fd, peer.
    pub pppol2tp: pppol2tpin6_addr,
}

/// `struct pppol2tp_ioc_stats`, filled by `PPPIOCGL2TPSTATS`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pppol2tp_ioc_stats {
    /// Tunnel id (filled by the kernel).
    pub tunnel_id: u16,
    /// Session id; 0 for the tunnel's statistics.
    pub session_id: u16,
    /// Bit 0: `using_ipsec` (tunnel only); the other bits are unused.
    pub using_ipsec: u32,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Sequencing drops.
    pub rx_seq_discards: u64,
    /// Out-of-sequence arrivals.
    pub rx_oos_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn sockaddr_pppol2tp_matches_the_kernel_header() {
        // struct pppol2tp_addr { pid_t pid; int fd; struct sockaddr_in addr;
        //                        __u16 s_tunnel, s_session, d_tunnel, d_session; }
        assert_eq!(size_of::<pppol2tp_addr>(), 32);
        assert_eq!(offset_of!(pppol2tp_addr, fd), 4);
        assert_eq!(offset_of!(pppol2tp_addr, addr), 8);
        assert_eq!(offset_of!(pppol2tp_addr, s_tunnel), 24);
        assert_eq!(offset_of!(pppol2tp_addr, d_session), 30);
        // packed: sa_family (2) + sa_protocol (4) + the address
        assert_eq!(size_of::<sockaddr_pppol2tp>(), 38);
        assert_eq!(offset_of!(sockaddr_pppol2tp, sa_protocol), 2);
        assert_eq!(offset_of!(sockaddr_pppol2tp, pppol2tp), 6);
    }

    #[test]
    fn sockaddr_pppol2tpin6_matches_the_kernel_header() {
        // the ids come before the sockaddr_in6 in the v6 variant
        assert_eq!(size_of::<pppol2tpin6_addr>(), 44);
        assert_eq!(offset_of!(pppol2tpin6_addr, s_tunnel), 8);
        assert_eq!(offset_of!(pppol2tpin6_addr, d_session), 14);
        assert_eq!(offset_of!(pppol2tpin6_addr, addr), 16);
        assert_eq!(size_of::<sockaddr_pppol2tpin6>(), 50);
        assert_eq!(offset_of!(sockaddr_pppol2tpin6, pppol2tp), 6);
    }

    #[test]
    fn sockaddr_in6_matches_libc() {
        assert_eq!(size_of::<sockaddr_in6>(), size_of::<libc::sockaddr_in6>());
        assert_eq!(
            offset_of!(sockaddr_in6, sin6_addr),
            offset_of!(libc::sockaddr_in6, sin6_addr)
        );
        assert_eq!(
            offset_of!(sockaddr_in6, sin6_scope_id),
            offset_of!(libc::sockaddr_in6, sin6_scope_id)
        );
    }

    #[test]
    fn ioc_stats_matches_the_kernel_header() {
        assert_eq!(size_of::<pppol2tp_ioc_stats>(), 72);
        assert_eq!(offset_of!(pppol2tp_ioc_stats, tx_packets), 8);
        assert_eq!(offset_of!(pppol2tp_ioc_stats, rx_errors), 64);
    }

    #[test]
    fn ioctl_numbers_match_the_kernel_header() {
        // values as the C preprocessor computes them from linux/ppp-ioctl.h on x86-64
        assert_eq!(PPPIOCGL2TPSTATS, 0x8048_7436);
        assert_eq!(PPPIOCGCHAN, 0x8004_7437);
        assert_eq!(PPPIOCATTCHAN, 0x4004_7438);
        assert_eq!(PPPIOCDISCONN, 0x7439);
        assert_eq!(PPPIOCCONNECT, 0x4004_743a);
        assert_eq!(PPPIOCNEWUNIT, 0xc004_743e);
        assert_eq!(PPPIOCSMRU, 0x4004_7452);
        assert_eq!(PPPIOCGUNIT, 0x8004_7456);
        assert_eq!(PPPIOCSFLAGS, 0x4004_7459);
        assert_eq!(PPPIOCGFLAGS, 0x8004_745a);
    }
}
