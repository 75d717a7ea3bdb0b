//! Raw Ethernet (`AF_PACKET`, `SOCK_RAW`) sockets bound to one interface and one EtherType:
//! the PPPoE access concentrator's link to its subscribers.
//!
//! [`PppoeSocket::open`] opens the pair PPPoE needs on an interface: ETH_P_PPP_DISC (0x8863,
//! discovery) and ETH_P_PPP_SES (0x8864, session). Each read or write is one whole Ethernet
//! frame, header included (no FCS); sockets are nonblocking and close-on-exec (register them
//! with [`crate::poller::Poller`]). Frames this host sends are not read back.
//!
//! VLANs: the kernel removes an 802.1Q tag before it looks for a socket bound to the inner
//! EtherType, so tagged subscribers are served by a socket on the VLAN interface.
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

    /// The interface index bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The EtherType bound to.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
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
        // SAFETY: reads `frame.len()` bytes from a live slice; the socket is bound, so no
        // destination address is needed.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
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

#[cfg(test)]
mod tests {
    use super::*;

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
