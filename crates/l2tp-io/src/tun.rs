//! TUN devices: layer-3 interfaces whose packets a process reads and writes.
//!
//! [`Tun::open`] opens `/dev/net/tun` with `IFF_TUN | IFF_NO_PI` (each read or write is exactly
//! one IP packet, no packet-information header), nonblocking, close-on-exec. The interface
//! name is chosen by the caller or by the kernel (a pattern such as `l2tp%d` picks the first
//! free number). Reads return [`std::io::ErrorKind::WouldBlock`] when no packet is queued:
//! register [`Tun`] (it is `AsRawFd`) with [`crate::poller::Poller`].
//!
//! Addresses and routes are the job of rtnetlink (`l2tpd`'s `netconf`); this module only
//! sets what the TUN ioctls and the classic interface ioctls do: the MTU and the UP flag.
//!
//! Needs `CAP_NET_ADMIN` in the network namespace.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME_LEN: usize = libc::IFNAMSIZ - 1;

/// Options for [`Tun::open_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunOptions {
    /// Interface name or pattern (`l2tp%d`); `None` lets the kernel pick (`tunN`).
    pub name: Option<String>,
    /// Open a queue of a multi-queue device (`IFF_MULTI_QUEUE`); open the same name several
    /// times to get several queues.
    pub multi_queue: bool,
    /// Prefix every packet with a `struct virtio_net_hdr` (`IFF_VNET_HDR`,
    /// [`VNET_HDR_LEN`] bytes): with [`Tun::set_offload`] the kernel then hands over
    /// unsegmented TCP/UDP super-packets and accepts packets with partial checksums — the
    /// path to kernel-like throughput (wireguard-go's). Reads and writes include the header.
    pub vnet_hdr: bool,
}

/// Size of the `virtio_net_hdr` prefix with [`TunOptions::vnet_hdr`] (the kernel default).
pub const VNET_HDR_LEN: usize = 10;

/// Offload bits for [`Tun::set_offload`] (`TUN_F_*` of `linux/if_tun.h`).
pub mod offload {
    /// The peer may send packets with partial checksums.
    pub const CSUM: u32 = 0x01;
    /// TCP segmentation offload, IPv4.
    pub const TSO4: u32 = 0x02;
    /// TCP segmentation offload, IPv6.
    pub const TSO6: u32 = 0x04;
    /// TSO with ECN bits.
    pub const TSO_ECN: u32 = 0x08;
    /// UDP segmentation offload, IPv4 (Linux 6.2+).
    pub const USO4: u32 = 0x20;
    /// UDP segmentation offload, IPv6 (Linux 6.2+).
    pub const USO6: u32 = 0x40;
}

/// An open TUN device (one queue).
#[derive(Debug)]
pub struct Tun {
    fd: OwnedFd,
    name: String,
    vnet_hdr: bool,
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    if name.len() > MAX_IFNAME_LEN || name.as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "interface name {name:?} is longer than {MAX_IFNAME_LEN} bytes or contains NUL"
            ),
        ));
    }
    // SAFETY: ifreq is plain old data (a name array and a union of integers/sockaddrs), for
    // which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(ifr)
}

fn name_of(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs an interface ioctl (`SIOC*`) on a throwaway AF_INET datagram socket.
fn if_ioctl(request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: socket takes no pointers; the result is checked.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is a fresh descriptor owned by nothing else; OwnedFd closes it.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: `ifr` is a valid, initialised ifreq that outlives the call; the SIOC* requests
    // used here read/write only within the struct.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), request, ifr as *mut libc::ifreq) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Tun {
    /// Opens a TUN device named `name` (or a kernel-chosen name for `None`).
    pub fn open(name: Option<&str>) -> io::Result<Tun> {
        Tun::open_with(&TunOptions {
            name: name.map(str::to_string),
            ..TunOptions::default()
        })
    }

    /// Opens a TUN device with explicit options.
    pub fn open_with(opts: &TunOptions) -> io::Result<Tun> {
        let path = c"/dev/net/tun";
        let fd = open_cloexec_nonblock(path)?;
        let mut ifr = ifreq_for(opts.name.as_deref().unwrap_or(""))?;
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
        if opts.multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        if opts.vnet_hdr {
            flags |= libc::IFF_VNET_HDR;
        }
        ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `ifr` is; `fd` is open.
        let r = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::TUNSETIFF,
                &mut ifr as *mut libc::ifreq,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let name = name_of(&ifr);
        Ok(Tun {
            fd,
            name,
            vnet_hdr: opts.vnet_hdr,
        })
    }

    /// A device handed over by another process (hitless upgrade): its descriptor, the
    /// interface name, and whether it was opened with `IFF_VNET_HDR`.
    pub fn from_fd(fd: OwnedFd, name: String, vnet_hdr: bool) -> Tun {
        Tun { fd, name, vnet_hdr }
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when packets carry a `virtio_net_hdr` ([`TunOptions::vnet_hdr`]).
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// Reads one IP packet into `buf`. `WouldBlock` when none is queued. A packet longer than
    /// `buf` is truncated by the kernel: size `buf` to at least the MTU. With
    /// [`TunOptions::vnet_hdr`] the packet is preceded by its [`VNET_HDR_LEN`]-byte header
    /// (see [`crate::offload::Segmenter`], which reads and interprets it).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: writes at most `buf.len()` bytes into `buf`, which is live and writable.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs())
    }

    /// Writes one IP packet (the kernel routes it as if received on the interface). With
    /// [`TunOptions::vnet_hdr`], an all-zero header (no GSO, checksum complete) goes in front
    /// of it in the same `writev`; the length returned is the packet's.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        if self.vnet_hdr {
            return self.send_with_header(&[0; VNET_HDR_LEN], packet);
        }
        // SAFETY: reads `packet.len()` bytes from a live slice.
        let n = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast::<libc::c_void>(),
                packet.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs())
    }

    /// Writes `header ‖ packet` with one `writev` (a TUN opened with
    /// [`TunOptions::vnet_hdr`]: `header` is the `virtio_net_hdr`, e.g. a GSO write of
    /// coalesced TCP segments). Returns the bytes of `packet` written.
    pub fn send_with_header(
        &self,
        header: &[u8; VNET_HDR_LEN],
        packet: &[u8],
    ) -> io::Result<usize> {
        let iov = [
            libc::iovec {
                iov_base: header.as_ptr() as *mut libc::c_void,
                iov_len: header.len(),
            },
            libc::iovec {
                iov_base: packet.as_ptr() as *mut libc::c_void,
                iov_len: packet.len(),
            },
        ];
        // SAFETY: both iovecs point into live slices of the given lengths, which the kernel
        // only reads during the call (`writev` never writes through them).
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs().saturating_sub(VNET_HDR_LEN))
    }

    /// Sets the interface MTU (SIOCSIFMTU).
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mut ifr = ifreq_for(&self.name)?;
        ifr.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))?;
        if_ioctl(libc::SIOCSIFMTU as libc::Ioctl, &mut ifr)
    }

    /// Reads the interface MTU (SIOCGIFMTU).
    pub fn mtu(&self) -> io::Result<u32> {
        let mut ifr = ifreq_for(&self.name)?;
        if_ioctl(libc::SIOCGIFMTU as libc::Ioctl, &mut ifr)?;
        // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member of the union.
        let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
        u32::try_from(mtu).map_err(|_| io::Error::other("negative MTU"))
    }

    /// Brings the interface up (or down), keeping its other flags (SIOCGIFFLAGS/SIOCSIFFLAGS).
    pub fn set_up(&self, up: bool) -> io::Result<()> {
        let mut ifr = ifreq_for(&self.name)?;
        if_ioctl(libc::SIOCGIFFLAGS as libc::Ioctl, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
        let mut flags = unsafe { ifr.ifr_ifru.ifru_flags };
        let up_flag = libc::IFF_UP as libc::c_short;
        if up {
            flags |= up_flag;
        } else {
            flags &= !up_flag;
        }
        ifr.ifr_ifru.ifru_flags = flags;
        if_ioctl(libc::SIOCSIFFLAGS as libc::Ioctl, &mut ifr)
    }

    /// Enables offloads (`TUNSETOFFLOAD`, bits from [`offload`]); meaningful only with
    /// [`TunOptions::vnet_hdr`], since segmentation and checksum state travel in that header.
    /// `EINVAL` when the kernel does not know one of the bits.
    pub fn set_offload(&self, flags: u32) -> io::Result<()> {
        // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned int); `fd` is open.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                libc::c_ulong::from(flags),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Makes the device persistent (`TUNSETPERSIST` 1: it outlives this descriptor and the
    /// process, addresses and routes included, and the next open of its name attaches to
    /// it) or not (0: it goes when its last descriptor closes).
    pub fn set_persist(&self, persist: bool) -> io::Result<()> {
        // SAFETY: TUNSETPERSIST takes its argument by value (an int used as a flag); `fd` is
        // an open TUN descriptor.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETPERSIST,
                libc::c_ulong::from(persist),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The interface index (SIOCGIFINDEX), for rtnetlink requests.
    pub fn ifindex(&self) -> io::Result<u32> {
        let mut ifr = ifreq_for(&self.name)?;
        if_ioctl(libc::SIOCGIFINDEX as libc::Ioctl, &mut ifr)?;
        // SAFETY: SIOCGIFINDEX filled the `ifru_ifindex` member of the union.
        let idx = unsafe { ifr.ifr_ifru.ifru_ifindex };
        u32::try_from(idx).map_err(|_| io::Error::other("negative ifindex"))
    }
}

fn open_cloexec_nonblock(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string; the result is checked.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Moves the **calling thread** into a new, empty network namespace (`unshare(CLONE_NEWNET)`).
///
/// Sockets and devices the thread creates afterwards, and processes it spawns, live in that
/// namespace; it disappears when the last of them is gone. For tests and tools that must not
/// touch the host's interfaces. Needs `CAP_SYS_ADMIN`.
pub fn unshare_network_namespace() -> io::Result<()> {
    // SAFETY: unshare takes no pointers; on Linux it affects only the calling thread's
    // namespace set for CLONE_NEWNET.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `body` in a fresh network namespace when root; otherwise skips loudly (fails under CI).
    fn in_netns(test: &str, body: impl FnOnce() + Send + 'static) {
        use std::os::unix::fs::MetadataExt;
        let root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let have_tun = std::path::Path::new("/dev/net/tun").exists();
        if !root || !have_tun {
            let why = if root {
                "needs /dev/net/tun"
            } else {
                "needs root"
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: cannot run under CI: {why}");
            }
            eprintln!("==== {test}: SKIPPED ({why}) ====");
            return;
        }
        std::thread::spawn(move || {
            unshare_network_namespace().expect("unshare(CLONE_NEWNET)");
            body();
        })
        .join()
        .expect("test body panicked");
    }

    fn ip(args: &[&str]) -> String {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn rejects_overlong_names_without_a_syscall() {
        let e = Tun::open(Some("a-very-long-interface-name")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn tun_named_and_pattern_mtu_up_and_packet_io() {
        in_netns("tun_named_and_pattern_mtu_up_and_packet_io", || {
            let t = Tun::open(Some("l2tptest0")).unwrap();
            assert_eq!(t.name(), "l2tptest0");
            let p = Tun::open(Some("l2tpx%d")).unwrap();
            assert_eq!(p.name(), "l2tpx0", "kernel fills in the pattern");
            let k = Tun::open(None).unwrap();
            assert!(k.name().starts_with("tun"), "{}", k.name());

            // Nonblocking: nothing queued while the interface is down.
            let mut buf = [0u8; 2048];
            assert_eq!(
                t.recv(&mut buf).unwrap_err().kind(),
                io::ErrorKind::WouldBlock
            );

            t.set_mtu(1460).unwrap();
            assert_eq!(t.mtu().unwrap(), 1460);
            t.set_up(true).unwrap();
            let link = ip(&["link", "show", "dev", "l2tptest0"]);
            assert!(link.contains("mtu 1460"), "{link}");
            assert!(link.contains(",UP") || link.contains("<UP"), "{link}");
            assert!(t.ifindex().unwrap() > 0);

            // A packet the kernel routes out of the interface is read back from the fd.
            ip(&[
                "addr",
                "add",
                "10.77.0.1",
                "peer",
                "10.77.0.2/32",
                "dev",
                "l2tptest0",
            ]);
            let sock = std::net::UdpSocket::bind("10.77.0.1:0").unwrap();
            sock.send_to(b"hello-tun", "10.77.0.2:9").unwrap();
            let mut got = None;
            for _ in 0..200 {
                match t.recv(&mut buf) {
                    Ok(n) => {
                        // IPv4 header (version 4), UDP, payload at the end. Skip IPv6 noise.
                        if buf[0] >> 4 == 4 && buf[9] == 17 {
                            got = Some(n);
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let n = got.expect("packet routed to the TUN");
            assert!(buf[..n].ends_with(b"hello-tun"));
            assert_eq!(&buf[16..20], &[10, 77, 0, 2], "destination address");

            // Writing a packet: an IPv4/UDP packet to our own address is delivered locally.
            let rx = std::net::UdpSocket::bind("10.77.0.1:5555").unwrap();
            rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let pkt = ipv4_udp([10, 77, 0, 2], [10, 77, 0, 1], 4444, 5555, b"from-peer");
            assert_eq!(t.send(&pkt).unwrap(), pkt.len());
            let mut rbuf = [0u8; 64];
            let (n, from) = rx.recv_from(&mut rbuf).unwrap();
            assert_eq!(&rbuf[..n], b"from-peer");
            assert_eq!(from.to_string(), "10.77.0.2:4444");
        });
    }

    #[test]
    fn multi_queue_device_opens_two_queues() {
        in_netns("multi_queue_device_opens_two_queues", || {
            let opts = TunOptions {
                name: Some("mq0".into()),
                multi_queue: true,
                ..TunOptions::default()
            };
            let q0 = Tun::open_with(&opts).unwrap();
            let q1 = Tun::open_with(&opts).unwrap();
            assert_eq!(q0.name(), q1.name());
            assert_ne!(q0.as_raw_fd(), q1.as_raw_fd());
        });
    }

    #[test]
    fn vnet_header_prefixes_packets_and_offloads_are_accepted() {
        in_netns(
            "vnet_header_prefixes_packets_and_offloads_are_accepted",
            || {
                let t = Tun::open_with(&TunOptions {
                    name: Some("vnet0".into()),
                    vnet_hdr: true,
                    ..TunOptions::default()
                })
                .unwrap();
                t.set_offload(offload::CSUM | offload::TSO4 | offload::TSO6)
                    .unwrap();
                t.set_up(true).unwrap();
                ip(&[
                    "addr",
                    "add",
                    "10.78.0.1",
                    "peer",
                    "10.78.0.2/32",
                    "dev",
                    "vnet0",
                ]);
                let sock = std::net::UdpSocket::bind("10.78.0.1:0").unwrap();
                sock.send_to(b"hello-vnet", "10.78.0.2:9").unwrap();
                let mut buf = [0u8; 2048];
                let mut got = None;
                for _ in 0..200 {
                    match t.recv(&mut buf) {
                        Ok(n) if buf[VNET_HDR_LEN] >> 4 == 4 && buf[VNET_HDR_LEN + 9] == 17 => {
                            got = Some(n);
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(std::time::Duration::from_millis(5))
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                let n = got.expect("packet with a virtio_net_hdr in front");
                assert!(buf[..n].ends_with(b"hello-vnet"));
                // Bits the kernel does not know are refused.
                let e = t.set_offload(0x4000_0000).unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
            },
        );
    }

    fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let total = 20 + 8 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        let mut sum: u32 = 0;
        for c in p[..20].chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        // UDP checksum 0 = none (allowed for IPv4).
        p[28..].copy_from_slice(payload);
        p
    }
}
