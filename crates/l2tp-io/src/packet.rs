//! Raw Ethernet (`AF_PACKET`, `SOCK_RAW`) sockets bound to one interface and one EtherType:
//! the PPPoE access concentrator's link to its subscribers.
//!
//! [`PppoeSocket::open`] opens the pair PPPoE needs on an interface: ETH_P_PPP_DISC (0x8863,
//! discovery) and ETH_P_PPP_SES (0x8864, session). Each read or write is one whole Ethernet
//! frame, header included (no FCS); sockets are nonblocking and close-on-exec (register them
//! with [`crate::poller::Poller`]). Frames this host sends are not read back.
//!
//! VLANs: the kernel removes an 802.1Q tag before it looks for a socket bound to the inner
//! EtherType, so a [`PppoeSocket`] on a trunk sees only untagged subscribers (open one on each
//! VLAN interface instead). [`TrunkSocket`] serves a whole trunk: one `ETH_P_ALL` socket with
//! a BPF filter keeping PPPoE (tagged or not), which reads the tag the kernel took off from
//! `PACKET_AUXDATA` and puts it back into the frame, so the codec sees and replies on the
//! subscriber's VLANs.
//!
//! Needs `CAP_NET_RAW` in the interface's network namespace.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// EtherType of PPPoE discovery frames.
pub const ETH_P_PPP_DISC: u16 = 0x8863;
/// EtherType of PPPoE session frames.
pub const ETH_P_PPP_SES: u16 = 0x8864;

/// The index of interface `name` (`if_nametoindex`).
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(idx)
}

/// The Ethernet address of interface `name` (`SIOCGIFHWADDR`).
pub fn interface_mac(name: &str) -> io::Result<[u8; 6]> {
    if name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *d = *s as libc::c_char;
    }
    // SAFETY: socket takes no pointers; the result is checked.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is a fresh descriptor owned by nothing else; OwnedFd closes it.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: SIOCGIFHWADDR reads the name from and writes the address into `ifr`, a valid
    // ifreq that outlives the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member of the union.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(mac)
}

/// What an `AF_PACKET` socket is bound to (`getsockname`).
fn bound_address(fd: RawFd) -> io::Result<libc::sockaddr_ll> {
    // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: writes at most `len` bytes into `sll`, whose size `len` holds.
    let r = unsafe {
        libc::getsockname(
            fd,
            (&mut sll as *mut libc::sockaddr_ll).cast::<libc::sockaddr>(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if sll.sll_family != libc::AF_PACKET as u16 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an AF_PACKET socket",
        ));
    }
    Ok(sll)
}

/// One `AF_PACKET` raw socket bound to an interface and an EtherType.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    ethertype: u16,
}

impl PacketSocket {
    /// Opens a socket receiving and sending frames of `ethertype` on interface `ifindex`.
    pub fn open(ifindex: u32, ethertype: u16) -> io::Result<PacketSocket> {
        let proto = ethertype.to_be();
        // SAFETY: socket takes no pointers; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nothing else; OwnedFd closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex too large"))?;
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket {
            fd,
            ifindex,
            ethertype,
        })
    }

    /// A socket another process opened and handed over (a hitless upgrade): its interface
    /// and EtherType are what it is bound to (`getsockname`). Fails on a descriptor that is
    /// not a bound `AF_PACKET` socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<PacketSocket> {
        let sll = bound_address(fd.as_raw_fd())?;
        Ok(PacketSocket {
            ifindex: u32::try_from(sll.sll_ifindex).unwrap_or(0),
            ethertype: u16::from_be(sll.sll_protocol),
            fd,
        })
    }

    /// The interface index bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The EtherType bound to.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// Asks for a receive buffer of `bytes` (`SO_RCVBUFFORCE`, which root may use beyond
    /// `net.core.rmem_max`, else `SO_RCVBUF`): a PADI flood is read in bursts.
    pub fn set_recv_buffer(&self, bytes: usize) -> io::Result<()> {
        set_recv_buffer(self.fd.as_raw_fd(), bytes)
    }

    /// Frames the kernel dropped for want of room in this socket's receive buffer since the
    /// last call (`PACKET_STATISTICS`, which the kernel resets on each read).
    pub fn take_drops(&self) -> io::Result<u64> {
        take_drops(self.fd.as_raw_fd())
    }

    /// The receive buffer size the kernel granted (`SO_RCVBUF`; the kernel doubles requests).
    pub fn recv_buffer(&self) -> io::Result<usize> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: writes one c_int into `v` and its length into `len`, both live.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(v).unwrap_or(0))
    }

    /// Reads one frame into `buf` (cut to `buf.len()`); [`io::ErrorKind::WouldBlock`] when
    /// none is queued. Frames the host itself sent are skipped.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: writes at most `buf.len()` bytes into the live, writable `buf`, and at
            // most `len` bytes into `from`, whose size `len` holds.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_ll).cast::<libc::sockaddr>(),
                    &mut len,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            return Ok(n as usize);
        }
    }

    /// Sends one whole Ethernet frame (header included) out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        send_frame(self.fd.as_raw_fd(), frame)
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The two sockets of a PPPoE access concentrator on one interface.
#[derive(Debug)]
pub struct PppoeSocket {
    /// Discovery frames (0x8863).
    pub discovery: PacketSocket,
    /// Session frames (0x8864).
    pub session: PacketSocket,
    /// The interface's name.
    pub name: String,
    /// The interface's Ethernet address.
    pub mac: [u8; 6],
}

impl PppoeSocket {
    /// The sockets another process opened on interface `name` (with address `mac`) and handed
    /// over (a hitless upgrade): `discovery` must be bound to ETH_P_PPP_DISC and `session`
    /// to ETH_P_PPP_SES, on the same interface.
    pub fn from_fds(
        discovery: OwnedFd,
        session: OwnedFd,
        name: &str,
        mac: [u8; 6],
    ) -> io::Result<PppoeSocket> {
        let discovery = PacketSocket::from_fd(discovery)?;
        let session = PacketSocket::from_fd(session)?;
        if discovery.ethertype != ETH_P_PPP_DISC
            || session.ethertype != ETH_P_PPP_SES
            || discovery.ifindex != session.ifindex
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{name}: the PPPoE sockets handed over are not a discovery and session pair"
                ),
            ));
        }
        Ok(PppoeSocket {
            discovery,
            session,
            name: name.to_string(),
            mac,
        })
    }

    /// Opens both sockets on interface `name`.
    pub fn open(name: &str) -> io::Result<PppoeSocket> {
        let idx = interface_index(name)?;
        Ok(PppoeSocket {
            discovery: PacketSocket::open(idx, ETH_P_PPP_DISC)?,
            session: PacketSocket::open(idx, ETH_P_PPP_SES)?,
            name: name.to_string(),
            mac: interface_mac(name)?,
        })
    }

    /// Sends a frame on the socket matching its EtherType (the two octets after the
    /// addresses and any VLAN tags decide; unknown EtherTypes go out the discovery socket,
    /// which sends whatever it is given).
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        let mut pos = 12;
        while let Some(t) = frame.get(pos..pos + 2) {
            match u16::from_be_bytes([t[0], t[1]]) {
                0x8100 | 0x88a8 | 0x9100 => pos += 4,
                ETH_P_PPP_SES => return self.session.send(frame),
                _ => break,
            }
        }
        self.discovery.send(frame)
    }
}

/// `struct tpacket_auxdata` of `linux/if_packet.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

const PACKET_AUXDATA: libc::c_int = 8;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ETH_P_ALL: u16 = 0x0003;

/// Classic BPF: keep frames whose EtherType (after the tag the kernel took off, if any) is
/// PPPoE discovery or session, or a further VLAN tag (QinQ inner tag); drop the rest.
const PPPOE_FILTER: [libc::sock_filter; 7] = [
    bpf(0x28, 0, 0, 12),          // ldh [12]
    bpf(0x15, 4, 0, 0x8863),      // jeq #0x8863, accept
    bpf(0x15, 3, 0, 0x8864),      // jeq #0x8864, accept
    bpf(0x15, 2, 0, 0x8100),      // jeq #0x8100, accept
    bpf(0x15, 1, 0, 0x88a8),      // jeq #0x88a8, accept
    bpf(0x06, 0, 0, 0),           // ret #0
    bpf(0x06, 0, 0, 0x0004_0000), // accept: ret #262144
];

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn is_pppoe(frame: &[u8]) -> bool {
    let mut pos = 12;
    while let Some(t) = frame.get(pos..pos + 2) {
        match u16::from_be_bytes([t[0], t[1]]) {
            0x8100 | 0x88a8 | 0x9100 => pos += 4,
            ETH_P_PPP_DISC | ETH_P_PPP_SES => return true,
            _ => return false,
        }
    }
    false
}

/// Asks for a receive buffer of `bytes` (`SO_RCVBUFFORCE`, which root may use beyond
/// `net.core.rmem_max`, else `SO_RCVBUF`): a PADI flood is read in bursts.
fn set_recv_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: the option reads one c_int from `v`, which outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

/// Frames the kernel dropped for want of room in this socket's receive buffer since the
/// last call (`PACKET_STATISTICS`, which the kernel resets on each read).
fn take_drops(fd: RawFd) -> io::Result<u64> {
    /// `struct tpacket_stats` of `<linux/if_packet.h>`.
    #[repr(C)]
    #[derive(Default)]
    struct TpacketStats {
        #[allow(dead_code)] // written by the kernel, not needed here
        tp_packets: libc::c_uint,
        tp_drops: libc::c_uint,
    }
    const PACKET_STATISTICS: libc::c_int = 6;
    let mut st = TpacketStats::default();
    let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `st`, whose size `len` holds;
    // both outlive the call.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_STATISTICS,
            (&mut st as *mut TpacketStats).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(st.tp_drops))
}

/// PPPoE on a VLAN trunk: one `ETH_P_ALL` socket on the interface, filtered to PPPoE, with
/// the VLAN tag the kernel removed put back into each frame read. Frames to send carry their
/// tags in the bytes, as the codec writes them.
#[derive(Debug)]
pub struct TrunkSocket {
    fd: OwnedFd,
    /// The interface's name.
    pub name: String,
    /// The interface's Ethernet address.
    pub mac: [u8; 6],
}

impl TrunkSocket {
    /// See [`PacketSocket::set_recv_buffer`].
    pub fn set_recv_buffer(&self, bytes: usize) -> io::Result<()> {
        set_recv_buffer(self.fd.as_raw_fd(), bytes)
    }

    /// See [`PacketSocket::take_drops`].
    pub fn take_drops(&self) -> io::Result<u64> {
        take_drops(self.fd.as_raw_fd())
    }

    /// The socket another process opened on interface `name` (with address `mac`) and
    /// handed over (a hitless upgrade); its filter and options stay with it. Fails on a
    /// descriptor that is not an `AF_PACKET` socket bound to all EtherTypes.
    pub fn from_fd(fd: OwnedFd, name: &str, mac: [u8; 6]) -> io::Result<TrunkSocket> {
        let sll = bound_address(fd.as_raw_fd())?;
        if u16::from_be(sll.sll_protocol) != ETH_P_ALL {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: the trunk socket handed over is not bound to every EtherType"),
            ));
        }
        Ok(TrunkSocket {
            fd,
            name: name.to_string(),
            mac,
        })
    }

    /// Opens the socket on interface `name`.
    pub fn open(name: &str) -> io::Result<TrunkSocket> {
        let ifindex = interface_index(name)?;
        let proto = ETH_P_ALL.to_be();
        // SAFETY: socket takes no pointers; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nothing else; OwnedFd closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: PACKET_AUXDATA reads one c_int from `one`, which outlives the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_AUXDATA,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let prog = libc::sock_fprog {
            len: PPPOE_FILTER.len() as u16,
            filter: PPPOE_FILTER.as_ptr().cast_mut(),
        };
        // SAFETY: SO_ATTACH_FILTER reads a sock_fprog whose `filter` points at
        // `PPPOE_FILTER` (a static of `len` instructions); the kernel copies the program.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex too large"))?;
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TrunkSocket {
            fd,
            name: name.to_string(),
            mac: interface_mac(name)?,
        })
    }

    /// Reads one PPPoE frame into `buf` with its VLAN tag restored; `buf` needs 4 octets more
    /// than the largest frame. [`io::ErrorKind::WouldBlock`] when none is queued. Our own
    /// transmissions and anything that is not PPPoE are skipped.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() < 4 + 14 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer too small",
            ));
        }
        loop {
            // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            // Room for one cmsghdr carrying a tpacket_auxdata, 8-aligned.
            let mut control = [0u64; 8];
            let mut iov = libc::iovec {
                iov_base: buf[4..].as_mut_ptr().cast(),
                iov_len: buf.len() - 4,
            };
            // SAFETY: msghdr is plain old data; all-zero bytes are a valid value.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            // SAFETY: every pointer in `msg` points at live, writable memory of the length
            // given next to it (`buf` after its first 4 octets, `from`, `control`).
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let mut aux = None;
            // SAFETY: `msg` was filled by recvmsg; CMSG_FIRSTHDR/CMSG_NXTHDR stay within
            // `msg_controllen` of `control`.
            let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
            while !c.is_null() {
                // SAFETY: `c` is a valid cmsghdr inside `control` (see above).
                let h = unsafe { &*c };
                if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == PACKET_AUXDATA {
                    // SAFETY: a PACKET_AUXDATA message carries a tpacket_auxdata; the read is
                    // unaligned-safe.
                    aux = Some(unsafe {
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<TpacketAuxdata>())
                    });
                }
                // SAFETY: as for CMSG_FIRSTHDR.
                c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
            }
            let len = match aux {
                Some(a) if a.tp_status & TP_STATUS_VLAN_VALID != 0 && n >= 12 => {
                    let tpid = if a.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                        a.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    buf.copy_within(4..16, 0);
                    buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                    buf[14..16].copy_from_slice(&a.tp_vlan_tci.to_be_bytes());
                    n + 4
                }
                _ => {
                    buf.copy_within(4..4 + n, 0);
                    n
                }
            };
            if is_pppoe(&buf[..len]) {
                return Ok(len);
            }
        }
    }

    /// Sends one whole Ethernet frame (tags included).
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        send_frame(self.fd.as_raw_fd(), frame)
    }
}

impl AsRawFd for TrunkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TrunkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `send(2)` of one whole frame on a bound packet socket.
fn send_frame(fd: RawFd, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: reads `frame.len()` bytes from a live slice; the socket is bound, so no
    // destination address is needed.
    let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pppoe_check_walks_vlan_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0, 0, 5, 0x88, 0x63]);
        assert!(is_pppoe(&f));
        f[16] = 0x08;
        f[17] = 0x00;
        assert!(!is_pppoe(&f));
        assert!(!is_pppoe(&f[..13]));
    }

    #[test]
    fn unknown_interfaces_are_errors() {
        assert!(interface_index("no-such-if-x").is_err());
        assert!(interface_mac("no-such-if-x").is_err());
        assert_eq!(
            interface_index("a\0b").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
