//! Batched UDP sockets (issue 4): the datapath's edge to the network.
//!
//! * [`UdpSocket`] wraps a nonblocking socket (socket2 + libc), IPv4 or IPv6, bound to one
//!   address, optionally connected to one peer (the seed's daemon uses one connected socket
//!   per tunnel; a server may serve every tunnel on one socket).
//! * [`UdpSocket::recv_batch`] reads many datagrams per syscall (`recvmmsg`) into a reusable
//!   [`RecvBatch`], with each source address; with UDP GRO (`UDP_GRO`) the kernel may hand
//!   several datagrams from one source as one buffer plus a segment size, which
//!   [`RecvBatch::datagrams`] splits again.
//! * [`UdpSocket::send_batch`] writes many datagrams per syscall (`sendmmsg`) from a reusable
//!   [`SendBatch`]; with UDP GSO (`UDP_SEGMENT`), consecutive datagrams to one destination of
//!   equal size (the last may be shorter) go as one message the kernel segments. Packets
//!   committed with [`SendBatch::commit_alone`] / [`SendBatch::push_alone`] never join such a
//!   run (a GSO run is seen by packet captures as one merged datagram).
//!
//! Capabilities are probed when the socket is made and dropped at run time if the kernel
//! refuses them (e.g. `EIO` from a device without checksum offload), falling back to plain
//! batches. Buffers live in the batches and are reused: no allocation per packet. The raw fd
//! is exposed for epoll ([`crate::poller`]); [`UdpSocket::poll_readable`] is a small helper.
//!
//! Zero-copy transmit: write the payload into [`SendBatch::slot_mut`] after some headroom,
//! let the datapath write its header in front, then [`SendBatch::commit`] the range.
//!
//! ```
//! use l2tp_io::udp::{RecvBatch, SendBatch, UdpSocket};
//! let rx = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
//! let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
//! let mut out = SendBatch::new(8, 2048);
//! for i in 0..3u8 {
//!     out.push(rx.local_addr(), &[i; 100]);
//! }
//! assert_eq!(tx.send_batch(&mut out)?, 3);
//! let mut inb = RecvBatch::new(8, 2048);
//! let mut got = 0;
//! while got < 3 && rx.poll_readable(Some(std::time::Duration::from_secs(2)))? {
//!     rx.recv_batch(&mut inb)?;
//!     for (from, data) in inb.datagrams() {
//!         assert_eq!(from, tx.local_addr());
//!         assert_eq!(data.len(), 100);
//!         got += 1;
//!     }
//! }
//! assert_eq!(got, 3);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// `UDP_SEGMENT` (linux/udp.h): GSO segment size, socket option and cmsg.
const UDP_SEGMENT: libc::c_int = 103;
/// `UDP_GRO` (linux/udp.h): receive coalesced datagrams, socket option and cmsg.
const UDP_GRO: libc::c_int = 104;
/// Most segments the kernel accepts in one GSO send (`UDP_MAX_SEGMENTS`).
pub const GSO_MAX_SEGMENTS: usize = 64;
/// Most payload bytes we put in one GSO send (under the 65,507-byte UDP/IPv4 limit).
pub const GSO_MAX_BYTES: usize = 65_000;
/// Segment sizes up to this are never blamed on the path MTU: a GSO refusal for them means
/// the socket cannot do GSO at all.
const GSO_MIN_ADAPT: usize = 512;
/// Buffer size a [`RecvBatch`] needs per message when GRO is on (a coalesced message).
pub const GRO_BUFFER: usize = 65_535;
/// Room for one cmsg carrying an int (GRO) or a u16 (GSO), 8-byte aligned.
const CMSG_WORDS: usize = 4;

/// Options for [`UdpSocket::bind_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    /// Use UDP GSO on send when the kernel has it.
    pub gso: bool,
    /// Ask for UDP GRO on receive when the kernel has it. Receive batches must then have
    /// [`GRO_BUFFER`]-byte buffers ([`RecvBatch::for_socket`] does this).
    pub gro: bool,
    /// `SO_RCVBUF` in bytes, if set.
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` in bytes, if set.
    pub send_buffer: Option<usize>,
    /// `SO_REUSEADDR` (rebinding a fixed port, e.g. 1701, after a restart).
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: several sockets (of one user) may bind the same address and port.
    /// Meant for sockets each then [`UdpSocket::connect`]ed to a different peer: the kernel
    /// delivers a datagram to the socket connected to its source before any unconnected
    /// one, so several L2TP clients on one host can each talk 1701 ↔ 1701 to their LNS.
    /// Unconnected sockets sharing a port split the incoming datagrams between them.
    pub reuse_port: bool,
    /// For IPv6 sockets: `IPV6_V6ONLY` (false: dual-stack, IPv4 peers appear as `::ffff:a.b.c.d`).
    pub v6_only: bool,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            gso: true,
            gro: false,
            recv_buffer: None,
            send_buffer: None,
            reuse_address: false,
            reuse_port: false,
            v6_only: true,
        }
    }
}

/// A nonblocking UDP socket with batched, offloaded I/O. `Send + Sync`: one thread may
/// receive while another sends.
#[derive(Debug)]
pub struct UdpSocket {
    socket: Socket,
    local: SocketAddr,
    v6: bool,
    peer: Option<SocketAddr>,
    gso: AtomicBool,
    /// Largest segment size GSO is used for (lowered when the kernel refuses a size, e.g.
    /// above the path MTU).
    gso_max_segment: AtomicUsize,
    gro: bool,
}

impl UdpSocket {
    /// Binds a nonblocking socket to `addr` with default options (GSO if available, no GRO).
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        UdpSocket::bind_with(addr, &UdpOptions::default())
    }

    /// Binds a nonblocking socket to `addr` and probes the offloads asked for.
    pub fn bind_with(addr: SocketAddr, opts: &UdpOptions) -> io::Result<UdpSocket> {
        let v6 = addr.is_ipv6();
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(domain, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
        socket.set_nonblocking(true)?;
        if v6 {
            socket.set_only_v6(opts.v6_only)?;
        }
        if opts.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if opts.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if let Some(n) = opts.recv_buffer {
            socket.set_recv_buffer_size(n)?;
        }
        if let Some(n) = opts.send_buffer {
            socket.set_send_buffer_size(n)?;
        }
        socket.bind(&addr.into())?;
        let local = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "non-IP local address"))?;
        let fd = socket.as_raw_fd();
        let gso = opts.gso && probe_gso(fd);
        let gro = opts.gro && set_int_opt(fd, libc::SOL_UDP, UDP_GRO, 1).is_ok();
        Ok(UdpSocket {
            socket,
            local,
            v6,
            peer: None,
            gso: AtomicBool::new(gso),
            gso_max_segment: AtomicUsize::new(usize::MAX),
            gro,
        })
    }

    /// A bound socket handed over by another process (hitless upgrade), with the offloads
    /// that process had turned on (`gso`, `gro`: the options stay with the socket).
    pub fn from_fd(fd: std::os::fd::OwnedFd, gso: bool, gro: bool) -> io::Result<UdpSocket> {
        let socket = Socket::from(fd);
        let local = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a UDP/IP socket"))?;
        if socket.r#type()? != Type::DGRAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a datagram socket",
            ));
        }
        socket.set_nonblocking(true)?;
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        Ok(UdpSocket {
            v6: local.is_ipv6(),
            local,
            peer,
            gso: AtomicBool::new(gso && probe_gso(socket.as_raw_fd())),
            gso_max_segment: AtomicUsize::new(usize::MAX),
            gro,
            socket,
        })
    }

    /// Sets `SO_REUSEADDR` on a bound socket. The kernel checks it when another socket binds
    /// the same address and port, so a socket bound without it and given it afterwards took
    /// the port exclusively (its own bind fails when anyone has the port) and lets later
    /// sockets with `SO_REUSEADDR` share it.
    pub fn set_reuse_address(&self, on: bool) -> io::Result<()> {
        self.socket.set_reuse_address(on)
    }

    /// Connects the socket to `peer`: only its datagrams are received, and sends go to it.
    pub fn connect(&mut self, peer: SocketAddr) -> io::Result<()> {
        let peer = self.family_addr(peer);
        self.socket.connect(&peer.into())?;
        self.peer = Some(peer);
        if let Some(local) = self.socket.local_addr()?.as_socket() {
            self.local = local;
        }
        Ok(())
    }

    /// The bound address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The connected peer, if any.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// True while sends use UDP GSO (probed, and dropped if the kernel refused it).
    pub fn gso_enabled(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    /// Stops using UDP GSO on this socket (plain batches from now on).
    pub fn disable_gso(&self) {
        self.gso.store(false, Ordering::Relaxed);
    }

    /// True when UDP GRO is on for receive.
    pub fn gro_enabled(&self) -> bool {
        self.gro
    }

    /// Waits until a datagram can be read, up to `timeout` (`None`: forever). Returns false on
    /// timeout.
    pub fn poll_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        poll_fd(self.socket.as_raw_fd(), libc::POLLIN, timeout)
    }

    /// Waits until a datagram can be sent, up to `timeout`. Returns false on timeout.
    pub fn poll_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        poll_fd(self.socket.as_raw_fd(), libc::POLLOUT, timeout)
    }

    /// Sends one datagram (convenience; the datapath uses [`UdpSocket::send_batch`]).
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(data, &self.family_addr(to).into())
    }

    /// Receives one datagram (convenience for control traffic and tests: it allocates; the
    /// datapath uses [`UdpSocket::recv_batch`]).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut one = RecvBatch::new(1, buf.len());
        self.recv_batch(&mut one)?;
        let (from, data) = one
            .datagrams()
            .next()
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))?;
        buf[..data.len()].copy_from_slice(data);
        Ok((data.len(), from))
    }

    /// Receives up to `batch.capacity()` messages in one `recvmmsg` call (nonblocking).
    /// Returns the number of messages (with GRO a message may hold several datagrams: iterate
    /// [`RecvBatch::datagrams`]). `WouldBlock` when nothing is queued.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        if self.gro && batch.slot < GRO_BUFFER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "GRO is on: receive buffers must be GRO_BUFFER bytes (use RecvBatch::for_socket)",
            ));
        }
        batch.prepare();
        let n = loop {
            // SAFETY: `batch.hdrs` holds `batch.hdrs.len()` headers whose pointers (iovecs,
            // names, control buffers) were just set by `prepare` to the batch's own heap
            // buffers, which outlive the call and are not otherwise borrowed; the kernel writes
            // at most the lengths given in them. A null timeout is allowed.
            let r = unsafe {
                libc::recvmmsg(
                    self.socket.as_raw_fd(),
                    batch.hdrs.as_mut_ptr(),
                    batch.hdrs.len() as libc::c_uint,
                    0,
                    ptr::null_mut(),
                )
            };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                batch.count = 0;
                return Err(e);
            }
        };
        batch.finish(n);
        Ok(n)
    }

    /// Sends the batch's unsent datagrams with as few `sendmmsg` calls as the kernel allows,
    /// coalescing runs for GSO when enabled. Returns how many datagrams this call sent; when
    /// the socket buffer fills part-way, returns the partial count and the rest stays pending
    /// ([`SendBatch::pending`]) for the next call. `WouldBlock` if nothing could be sent.
    ///
    /// A datagram the kernel refuses for itself (too big, ICMP-refused peer of a connected
    /// socket, unroutable) is dropped as UDP would drop it, counted in
    /// [`SendBatch::failed`] with the error kept in [`SendBatch::last_error`], and the rest of
    /// the batch goes on. On a connected socket every datagram goes to the peer.
    pub fn send_batch(&self, batch: &mut SendBatch) -> io::Result<usize> {
        let mut sent = 0;
        while batch.pending() > 0 {
            let gso = self.gso.load(Ordering::Relaxed);
            let limit = if gso {
                self.gso_max_segment.load(Ordering::Relaxed)
            } else {
                0
            };
            let msgs = batch.build(limit, self.v6, self.peer.is_some());
            // SAFETY: `batch.hdrs[..msgs]` were just built by `build`: their iovecs point into
            // the batch's packet buffer, names and control buffers into the batch's own
            // vectors, all alive and unaliased for the duration of the call; the kernel only
            // reads them (and writes `msg_len`).
            let r = unsafe {
                libc::sendmmsg(
                    self.socket.as_raw_fd(),
                    batch.hdrs.as_mut_ptr(),
                    msgs as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // EINVAL for a segment size: above what the path allows (MTU); use GSO
                    // only below it. Small sizes refused, or EIO (a device that cannot
                    // checksum), or EOPNOTSUPP: no GSO on this socket at all.
                    Some(code @ (libc::EIO | libc::EINVAL | libc::EOPNOTSUPP))
                        if batch.msg_packets[0] > 1 =>
                    {
                        let seg = batch.ranges[batch.sent].len();
                        if code == libc::EINVAL && seg > GSO_MIN_ADAPT {
                            self.gso_max_segment.fetch_min(seg - 1, Ordering::Relaxed);
                        } else {
                            self.gso.store(false, Ordering::Relaxed);
                        }
                        tracing::debug!(error = %e, seg, "UDP GSO refused; sending plain");
                        continue;
                    }
                    _ => {}
                }
                if e.kind() == io::ErrorKind::WouldBlock {
                    return if sent > 0 { Ok(sent) } else { Err(e) };
                }
                // This datagram (or GSO run) cannot be sent: drop it as UDP would, go on.
                let n = batch.msg_packets[0];
                batch.sent += n;
                batch.failed += n;
                batch.last_error = Some(e);
                continue;
            }
            // Fewer than `msgs` means the kernel stopped at a message: the next call says why
            // (WouldBlock ends this call; a refused datagram is dropped).
            let done: usize = batch.msg_packets[..r as usize].iter().sum();
            batch.sent += done;
            sent += done;
        }
        Ok(sent)
    }

    /// The address in this socket's family (IPv4 peers of an IPv6 socket become mapped).
    fn family_addr(&self, addr: SocketAddr) -> SocketAddr {
        match (self.v6, addr) {
            (true, SocketAddr::V4(a)) => {
                SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
            }
            _ => addr,
        }
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// Reusable buffers for [`UdpSocket::recv_batch`].
pub struct RecvBatch {
    slot: usize,
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    cmsgs: Vec<[u64; CMSG_WORDS]>,
    hdrs: Vec<libc::mmsghdr>,
    lens: Vec<usize>,
    segs: Vec<usize>,
    froms: Vec<Option<SocketAddr>>,
    truncated: Vec<bool>,
    count: usize,
}

// SAFETY: the raw pointers inside `iovs` and `hdrs` only ever point into this batch's own heap
// buffers and are rebuilt before every use; nothing is shared with another thread.
unsafe impl Send for RecvBatch {}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("capacity", &self.hdrs.len())
            .field("slot", &self.slot)
            .field("count", &self.count)
            .finish()
    }
}

impl RecvBatch {
    /// `capacity` messages of up to `slot` bytes each.
    pub fn new(capacity: usize, slot: usize) -> RecvBatch {
        let capacity = capacity.max(1);
        let slot = slot.max(1);
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which all-zero
        // bytes are a valid value (null pointers, zero lengths).
        let zero_name: libc::sockaddr_storage = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let zero_iov: libc::iovec = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let zero_hdr: libc::mmsghdr = unsafe { mem::zeroed() };
        RecvBatch {
            slot,
            bufs: vec![0; capacity * slot],
            names: vec![zero_name; capacity],
            iovs: vec![zero_iov; capacity],
            cmsgs: vec![[0; CMSG_WORDS]; capacity],
            hdrs: vec![zero_hdr; capacity],
            lens: vec![0; capacity],
            segs: vec![0; capacity],
            froms: vec![None; capacity],
            truncated: vec![false; capacity],
            count: 0,
        }
    }

    /// A batch sized for `socket`: [`GRO_BUFFER`]-byte buffers when GRO is on, else `mtu`.
    pub fn for_socket(socket: &UdpSocket, capacity: usize, mtu: usize) -> RecvBatch {
        let slot = if socket.gro_enabled() {
            GRO_BUFFER
        } else {
            mtu
        };
        RecvBatch::new(capacity, slot)
    }

    /// Messages the batch can take in one call.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Messages received by the last call.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the last call received nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Messages of the last call that did not fit their buffer (and were cut).
    pub fn truncated(&self) -> usize {
        self.truncated[..self.count].iter().filter(|t| **t).count()
    }

    /// Message `i` of the last call: source, bytes, and the GRO segment size if the kernel
    /// coalesced several datagrams into it.
    pub fn message(&self, i: usize) -> Option<(SocketAddr, &[u8], Option<usize>)> {
        if i >= self.count {
            return None;
        }
        let from = self.froms[i]?;
        let start = i * self.slot;
        let data = &self.bufs[start..start + self.lens[i]];
        let seg = (self.segs[i] > 0 && self.segs[i] < data.len()).then_some(self.segs[i]);
        Some((from, data, seg))
    }

    /// Every datagram of the last call, GRO messages split into their segments.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        (0..self.count)
            .filter(|&i| !self.truncated[i])
            .filter_map(|i| self.message(i))
            .flat_map(|(from, data, seg)| {
                data.chunks(seg.unwrap_or(data.len()).max(1))
                    .map(move |d| (from, d))
            })
    }

    fn prepare(&mut self) {
        self.count = 0;
        for i in 0..self.hdrs.len() {
            self.iovs[i] = libc::iovec {
                // In bounds: bufs has capacity * slot bytes.
                iov_base: self.bufs[i * self.slot..].as_mut_ptr().cast(),
                iov_len: self.slot,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = ptr::addr_of_mut!(self.names[i]).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = ptr::addr_of_mut!(self.iovs[i]);
            h.msg_iovlen = 1;
            h.msg_control = self.cmsgs[i].as_mut_ptr().cast();
            h.msg_controllen = mem::size_of::<[u64; CMSG_WORDS]>() as _;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
    }

    fn finish(&mut self, n: usize) {
        self.count = n;
        for i in 0..n {
            let hdr = &self.hdrs[i];
            self.lens[i] = (hdr.msg_len as usize).min(self.slot);
            self.truncated[i] = hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.froms[i] = sockaddr_to_std(&self.names[i], hdr.msg_hdr.msg_namelen);
            self.segs[i] = gro_segment(&hdr.msg_hdr).unwrap_or(0);
        }
    }
}

/// Reusable buffers for [`UdpSocket::send_batch`]: fixed-size packet slots, each with its
/// destination.
pub struct SendBatch {
    slot: usize,
    bufs: Vec<u8>,
    ranges: Vec<Range<usize>>,
    dests: Vec<SocketAddr>,
    /// Per packet: may share a GSO send with its neighbours (see [`SendBatch::commit_alone`]).
    mergeable: Vec<bool>,
    count: usize,
    sent: usize,
    failed: usize,
    last_error: Option<io::Error>,
    // Scratch for sendmmsg, rebuilt on every call.
    names: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    cmsgs: Vec<[u64; CMSG_WORDS]>,
    hdrs: Vec<libc::mmsghdr>,
    msg_packets: Vec<usize>,
}

// SAFETY: the raw pointers inside `iovs` and `hdrs` only ever point into this batch's own heap
// buffers and are rebuilt before every use; nothing is shared with another thread.
unsafe impl Send for SendBatch {}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatch")
            .field("capacity", &self.ranges.len())
            .field("slot", &self.slot)
            .field("count", &self.count)
            .field("sent", &self.sent)
            .field("failed", &self.failed)
            .finish()
    }
}

impl SendBatch {
    /// `capacity` packets of up to `slot` bytes each.
    pub fn new(capacity: usize, slot: usize) -> SendBatch {
        let capacity = capacity.max(1);
        let slot = slot.max(1);
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which all-zero
        // bytes are a valid value.
        let zero_name: libc::sockaddr_storage = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let zero_iov: libc::iovec = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let zero_hdr: libc::mmsghdr = unsafe { mem::zeroed() };
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        SendBatch {
            slot,
            bufs: vec![0; capacity * slot],
            ranges: vec![0..0; capacity],
            dests: vec![unspecified; capacity],
            mergeable: vec![true; capacity],
            count: 0,
            sent: 0,
            failed: 0,
            last_error: None,
            names: vec![zero_name; capacity],
            iovs: vec![zero_iov; capacity],
            cmsgs: vec![[0; CMSG_WORDS]; capacity],
            hdrs: vec![zero_hdr; capacity],
            msg_packets: vec![0; capacity],
        }
    }

    /// Packets the batch holds at most.
    pub fn capacity(&self) -> usize {
        self.ranges.len()
    }

    /// Packets committed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no packet is committed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.count == self.ranges.len()
    }

    /// Committed packets not yet sent.
    pub fn pending(&self) -> usize {
        self.count - self.sent
    }

    /// Datagrams the kernel refused since the last [`SendBatch::clear`] (dropped, not
    /// pending).
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// The error of the last refused datagram, if any.
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    /// Forgets every packet (sent or not) and the failure count; the buffers are kept.
    pub fn clear(&mut self) {
        self.count = 0;
        self.sent = 0;
        self.failed = 0;
        self.last_error = None;
    }

    /// The next free slot (its whole buffer), to write a packet into; `None` when full.
    /// Commit it with [`SendBatch::commit`].
    pub fn slot_mut(&mut self) -> Option<&mut [u8]> {
        if self.is_full() {
            return None;
        }
        let start = self.count * self.slot;
        Some(&mut self.bufs[start..start + self.slot])
    }

    /// Commits the packet at `range` of the slot last returned by [`SendBatch::slot_mut`],
    /// to `dest`. Returns false (and commits nothing) when full or `range` is out of the slot.
    pub fn commit(&mut self, dest: SocketAddr, range: Range<usize>) -> bool {
        self.commit_as(dest, range, true)
    }

    /// As [`SendBatch::commit`], but the packet never shares a GSO send with another: it
    /// leaves the host (and reaches a capture) as a datagram of its own even when the socket
    /// uses GSO. For messages an operator must see one by one (control messages).
    pub fn commit_alone(&mut self, dest: SocketAddr, range: Range<usize>) -> bool {
        self.commit_as(dest, range, false)
    }

    fn commit_as(&mut self, dest: SocketAddr, range: Range<usize>, mergeable: bool) -> bool {
        if self.is_full() || range.start > range.end || range.end > self.slot {
            return false;
        }
        self.ranges[self.count] = range;
        self.dests[self.count] = dest;
        self.mergeable[self.count] = mergeable;
        self.count += 1;
        true
    }

    /// Copies `data` into the next slot and commits it (convenience).
    pub fn push(&mut self, dest: SocketAddr, data: &[u8]) -> bool {
        self.push_as(dest, data, true)
    }

    /// Copies `data` into the next slot and commits it alone ([`SendBatch::commit_alone`]).
    pub fn push_alone(&mut self, dest: SocketAddr, data: &[u8]) -> bool {
        self.push_as(dest, data, false)
    }

    fn push_as(&mut self, dest: SocketAddr, data: &[u8], mergeable: bool) -> bool {
        let Some(slot) = self.slot_mut() else {
            return false;
        };
        if data.len() > slot.len() {
            return false;
        }
        slot[..data.len()].copy_from_slice(data);
        self.commit_as(dest, 0..data.len(), mergeable)
    }

    /// Builds mmsghdrs for the pending packets, coalescing runs of segments up to
    /// `gso_limit` bytes (0: no GSO); returns the number of messages.
    fn build(&mut self, gso_limit: usize, v6: bool, connected: bool) -> usize {
        let mut msgs = 0;
        let mut i = self.sent;
        while i < self.count {
            let first = i;
            let seg = self.ranges[i].len();
            let mut total = seg;
            i += 1;
            if seg > 0 && seg <= gso_limit && self.mergeable[first] {
                // The kernel's rule: all segments of one GSO send have the segment size
                // except the last, which may be shorter; one destination; bounded count/bytes.
                while i < self.count
                    && i - first < GSO_MAX_SEGMENTS
                    && self.mergeable[i]
                    && self.dests[i] == self.dests[first]
                    && self.ranges[i - 1].len() == seg
                    && self.ranges[i].len() <= seg
                    && !self.ranges[i].is_empty()
                    && total + self.ranges[i].len() <= GSO_MAX_BYTES
                {
                    total += self.ranges[i].len();
                    i += 1;
                }
            }
            for p in first..i {
                let base = p * self.slot + self.ranges[p].start;
                self.iovs[p] = libc::iovec {
                    iov_base: self.bufs[base..].as_mut_ptr().cast(),
                    iov_len: self.ranges[p].len(),
                };
            }
            let packets = i - first;
            let namelen = if connected {
                0
            } else {
                std_to_sockaddr(self.dests[first], v6, &mut self.names[msgs])
            };
            let cmsg_len = if packets > 1 {
                write_gso_cmsg(&mut self.cmsgs[msgs], seg as u16)
            } else {
                0
            };
            let h = &mut self.hdrs[msgs].msg_hdr;
            h.msg_name = if connected {
                ptr::null_mut()
            } else {
                ptr::addr_of_mut!(self.names[msgs]).cast()
            };
            h.msg_namelen = namelen;
            h.msg_iov = ptr::addr_of_mut!(self.iovs[first]);
            h.msg_iovlen = packets as _;
            h.msg_control = if cmsg_len > 0 {
                self.cmsgs[msgs].as_mut_ptr().cast()
            } else {
                ptr::null_mut()
            };
            h.msg_controllen = cmsg_len as _;
            h.msg_flags = 0;
            self.hdrs[msgs].msg_len = 0;
            self.msg_packets[msgs] = packets;
            msgs += 1;
        }
        msgs
    }
}

/// Writes a `UDP_SEGMENT` cmsg with segment size `seg`; returns the control length.
fn write_gso_cmsg(buf: &mut [u64; CMSG_WORDS], seg: u16) -> usize {
    *buf = [0; CMSG_WORDS];
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;
    debug_assert!(space <= mem::size_of::<[u64; CMSG_WORDS]>());
    // SAFETY: a msghdr whose control buffer is `buf` (8-byte aligned, `space` bytes, checked
    // above) lets CMSG_FIRSTHDR return a pointer to its start; we write the header fields and
    // CMSG_DATA's u16 within those `space` bytes (unaligned write for the data).
    unsafe {
        let mut mh: libc::msghdr = mem::zeroed();
        mh.msg_control = buf.as_mut_ptr().cast();
        mh.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&mh);
        if c.is_null() {
            return 0;
        }
        (*c).cmsg_level = libc::SOL_UDP;
        (*c).cmsg_type = UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as _;
        ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
    }
    space
}

/// The `UDP_GRO` segment size in a received message's control data, if any.
fn gro_segment(h: &libc::msghdr) -> Option<usize> {
    if h.msg_controllen == 0 || h.msg_control.is_null() {
        return None;
    }
    // SAFETY: `h` was filled by the kernel: its control buffer (ours, alive) holds
    // `msg_controllen` bytes of well-formed cmsgs, which the CMSG_* macros walk within bounds;
    // the int payload is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == UDP_GRO {
                let v = ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// Encodes `addr` for a socket of the given family; returns the length.
fn std_to_sockaddr(
    addr: SocketAddr,
    v6: bool,
    out: &mut libc::sockaddr_storage,
) -> libc::socklen_t {
    let addr = match (v6, addr) {
        (true, SocketAddr::V4(a)) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        _ => addr,
    };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { ptr::write(ptr::from_mut(out).cast::<libc::sockaddr_in>(), sin) };
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { ptr::write(ptr::from_mut(out).cast::<libc::sockaddr_in6>(), sin6) };
            mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Decodes a kernel-filled address.
fn sockaddr_to_std(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match s.ss_family as libc::c_int {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is long enough.
            let sin = unsafe { &*ptr::from_ref(s).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a sockaddr_in6, and it is long enough.
            let sin6 = unsafe { &*ptr::from_ref(s).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// GSO is available when the kernel knows the `UDP_SEGMENT` option.
fn probe_gso(fd: RawFd) -> bool {
    let mut v: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes given; fd is an open socket.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_UDP,
            UDP_SEGMENT,
            ptr::addr_of_mut!(v).cast(),
            &mut len,
        )
    };
    r == 0
}

fn set_int_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a valid int for the duration of the call; fd is an open socket.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            ptr::addr_of!(v).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn poll_fd(fd: RawFd, events: libc::c_short, timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        Some(d) => libc::c_int::try_from(d.as_millis().max(u128::from(!d.is_zero())))
            .unwrap_or(libc::c_int::MAX),
    };
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const WAIT: Duration = Duration::from_secs(2);

    /// Receives until `n` datagrams arrived or nothing came for `WAIT`; returns them.
    fn recv_n(sock: &UdpSocket, batch: &mut RecvBatch, n: usize) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.len() < n && Instant::now() < deadline {
            if !sock.poll_readable(Some(WAIT)).unwrap() {
                break;
            }
            match sock.recv_batch(batch) {
                Ok(_) => out.extend(batch.datagrams().map(|(f, d)| (f, d.to_vec()))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    fn pkt(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|j| (i * 31 + j) as u8).collect()
    }

    fn big_buffers() -> UdpOptions {
        UdpOptions {
            recv_buffer: Some(4 << 20),
            ..UdpOptions::default()
        }
    }

    #[test]
    fn batch_round_trip_with_varied_sizes_ipv4() {
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut out = SendBatch::new(64, 2048);
        let sizes: Vec<usize> = (0..64).map(|i| 1 + (i * 37) % 1500).collect();
        for (i, &len) in sizes.iter().enumerate() {
            assert!(out.push(rx.local_addr(), &pkt(i, len)));
        }
        assert!(!out.push(rx.local_addr(), &[0]), "full");
        assert_eq!(tx.send_batch(&mut out).unwrap(), 64);
        assert_eq!(out.pending(), 0);
        let mut inb = RecvBatch::new(16, 2048);
        let got = recv_n(&rx, &mut inb, 64);
        assert_eq!(got.len(), 64);
        for (i, (from, data)) in got.iter().enumerate() {
            assert_eq!(*from, tx.local_addr());
            assert_eq!(*data, pkt(i, sizes[i]));
        }
    }

    #[test]
    fn gso_runs_arrive_as_separate_datagrams() {
        // Equal-size runs (last shorter) to one destination go as GSO sends when available;
        // a receiver without GRO must see every datagram, in order, intact.
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut out = SendBatch::new(200, 1500);
        let mut expect = Vec::new();
        for i in 0..200 {
            let len = if i % 50 == 49 { 300 } else { 1200 };
            let p = pkt(i, len);
            out.push(rx.local_addr(), &p);
            expect.push(p);
        }
        let mut sent = 0;
        while out.pending() > 0 {
            match tx.send_batch(&mut out) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tx.poll_writable(Some(WAIT)).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(sent, 200);
        let mut inb = RecvBatch::new(64, 2048);
        let got = recv_n(&rx, &mut inb, 200);
        let data: Vec<Vec<u8>> = got.into_iter().map(|(_, d)| d).collect();
        assert_eq!(data, expect);
    }

    #[test]
    fn packets_committed_alone_never_join_a_gso_run() {
        let to: SocketAddr = "192.0.2.1:1701".parse().unwrap();
        let mut out = SendBatch::new(16, 256);
        for i in 0..4 {
            assert!(out.push(to, &pkt(i, 100)));
        }
        assert!(out.push_alone(to, &pkt(4, 100)));
        let slot = out.slot_mut().unwrap();
        slot[..100].copy_from_slice(&pkt(5, 100));
        assert!(out.commit_alone(to, 0..100));
        for i in 6..10 {
            assert!(out.push(to, &pkt(i, 100)));
        }
        // Runs: 0-3 (GSO), 4 alone, 5 alone, 6-9 (GSO).
        assert_eq!(out.build(usize::MAX, false, false), 4);
        assert_eq!(&out.msg_packets[..4], &[4, 1, 1, 4]);
        // Without GSO every packet is a message of its own.
        assert_eq!(out.build(0, false, false), 10);
        // Sent for real, they all arrive, in order.
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut out = SendBatch::new(16, 256);
        for i in 0..10 {
            if i % 3 == 0 {
                out.push_alone(rx.local_addr(), &pkt(i, 100));
            } else {
                out.push(rx.local_addr(), &pkt(i, 100));
            }
        }
        assert_eq!(tx.send_batch(&mut out).unwrap(), 10);
        let mut inb = RecvBatch::new(16, 256);
        let got = recv_n(&rx, &mut inb, 10);
        let data: Vec<Vec<u8>> = got.into_iter().map(|(_, d)| d).collect();
        assert_eq!(data, (0..10).map(|i| pkt(i, 100)).collect::<Vec<_>>());
    }

    #[test]
    fn gro_receiver_splits_coalesced_messages() {
        let opts = UdpOptions {
            gro: true,
            ..big_buffers()
        };
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut small = RecvBatch::new(4, 2048);
        if rx.gro_enabled() {
            assert_eq!(
                rx.recv_batch(&mut small).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
        let mut out = SendBatch::new(64, 2048);
        let expect: Vec<Vec<u8>> = (0..64).map(|i| pkt(i, 1000)).collect();
        for p in &expect {
            out.push(rx.local_addr(), p);
        }
        assert_eq!(tx.send_batch(&mut out).unwrap(), 64);
        let mut inb = RecvBatch::for_socket(&rx, 8, 2048);
        let mut coalesced = 0;
        let mut data = Vec::new();
        while data.len() < 64 && rx.poll_readable(Some(WAIT)).unwrap() {
            let n = rx.recv_batch(&mut inb).unwrap();
            coalesced += (0..n)
                .filter(|&i| inb.message(i).is_some_and(|m| m.2 == Some(1000)))
                .count();
            data.extend(inb.datagrams().map(|(_, d)| d.to_vec()));
        }
        assert_eq!(data, expect);
        if tx.gso_enabled() && rx.gro_enabled() {
            // On loopback a GSO send reaches a GRO socket as one coalesced message.
            assert!(coalesced > 0, "GSO + GRO on loopback should coalesce");
        }
    }

    #[test]
    fn gso_refused_by_the_kernel_falls_back_to_plain_batches() {
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        if !tx.gso_enabled() {
            eprintln!("no UDP GSO in this kernel: nothing to fall back from");
            return;
        }
        // SO_NO_CHECK (no UDP checksum) makes the kernel refuse GSO sends with EINVAL.
        const SO_NO_CHECK: libc::c_int = 11;
        set_int_opt(tx.as_raw_fd(), libc::SOL_SOCKET, SO_NO_CHECK, 1).unwrap();
        let mut out = SendBatch::new(10, 256);
        for i in 0..10 {
            out.push(rx.local_addr(), &pkt(i, 200));
        }
        assert_eq!(tx.send_batch(&mut out).unwrap(), 10);
        assert!(!tx.gso_enabled(), "GSO dropped after the kernel refused it");
        let mut inb = RecvBatch::new(16, 256);
        let got = recv_n(&rx, &mut inb, 10);
        let data: Vec<Vec<u8>> = got.into_iter().map(|(_, d)| d).collect();
        assert_eq!(data, (0..10).map(|i| pkt(i, 200)).collect::<Vec<_>>());
    }

    #[test]
    fn a_datagram_the_kernel_refuses_is_dropped_and_the_rest_sent() {
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut out = SendBatch::new(4, 70_000);
        out.push(rx.local_addr(), &pkt(0, 100));
        out.push(rx.local_addr(), &vec![0; 66_000]); // larger than any UDP datagram
        out.push(rx.local_addr(), &pkt(2, 100));
        out.push(rx.local_addr(), &pkt(3, 100));
        let mut sent = 0;
        for _ in 0..10 {
            if out.pending() == 0 {
                break;
            }
            sent += tx.send_batch(&mut out).unwrap();
        }
        assert_eq!((sent, out.failed(), out.pending()), (3, 1, 0));
        assert_eq!(
            out.last_error().and_then(io::Error::raw_os_error),
            Some(libc::EMSGSIZE)
        );
        let mut inb = RecvBatch::new(8, 256);
        let got: Vec<Vec<u8>> = recv_n(&rx, &mut inb, 3)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        assert_eq!(got, vec![pkt(0, 100), pkt(2, 100), pkt(3, 100)]);
        out.clear();
        assert_eq!(out.failed(), 0);
    }

    #[test]
    fn connected_sockets_share_a_port_with_reuse_port_each_hearing_its_own_peer() {
        let shared = UdpOptions {
            reuse_port: true,
            ..UdpOptions::default()
        };
        let mut a = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &shared).unwrap();
        let port = a.local_addr();
        let mut b = UdpSocket::bind_with(port, &shared).unwrap();
        // Without the option the port is taken.
        assert_eq!(
            UdpSocket::bind(port).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        let peer_a = UdpSocket::bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let peer_b = UdpSocket::bind("127.0.0.3:0".parse().unwrap()).unwrap();
        a.connect(peer_a.local_addr()).unwrap();
        b.connect(peer_b.local_addr()).unwrap();
        for i in 0..8 {
            peer_a.send_to(&pkt(i, 20), port).unwrap();
            peer_b.send_to(&pkt(100 + i, 20), port).unwrap();
        }
        let mut inb = RecvBatch::new(16, 256);
        let got_a = recv_n(&a, &mut inb, 8);
        let got_b = recv_n(&b, &mut inb, 8);
        assert_eq!(got_a.len(), 8);
        assert_eq!(got_b.len(), 8);
        assert!(got_a.iter().all(|(f, _)| *f == peer_a.local_addr()));
        assert!(got_b.iter().all(|(f, _)| *f == peer_b.local_addr()));
    }

    #[test]
    fn plain_batches_without_gso() {
        let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind_with(
            "127.0.0.1:0".parse().unwrap(),
            &UdpOptions {
                gso: false,
                ..UdpOptions::default()
            },
        )
        .unwrap();
        assert!(!tx.gso_enabled());
        let mut out = SendBatch::new(32, 256);
        for i in 0..32 {
            out.push(rx.local_addr(), &pkt(i, 200));
        }
        assert_eq!(tx.send_batch(&mut out).unwrap(), 32);
        let mut inb = RecvBatch::new(32, 256);
        assert_eq!(recv_n(&rx, &mut inb, 32).len(), 32);
    }

    #[test]
    fn zero_copy_slots_and_several_destinations() {
        let a = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let b = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &big_buffers()).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut out = SendBatch::new(10, 128);
        for i in 0..10u8 {
            let slot = out.slot_mut().unwrap();
            // A "header" written in front of a payload placed at headroom 16.
            slot[16..20].copy_from_slice(&[i; 4]);
            slot[12..16].copy_from_slice(b"HDR:");
            let dest = if i % 3 == 0 {
                a.local_addr()
            } else {
                b.local_addr()
            };
            assert!(out.commit(dest, 12..20));
        }
        assert!(out.slot_mut().is_none());
        assert_eq!(tx.send_batch(&mut out).unwrap(), 10);
        let mut inb = RecvBatch::new(16, 128);
        let ga = recv_n(&a, &mut inb, 4);
        let gb = recv_n(&b, &mut inb, 6);
        assert_eq!(ga.len(), 4);
        assert_eq!(gb.len(), 6);
        assert!(ga
            .iter()
            .all(|(_, d)| d.len() == 8 && &d[..4] == b"HDR:" && d[4] % 3 == 0));
        out.clear();
        assert!(out.is_empty());
    }

    #[test]
    fn connected_socket_only_hears_its_peer() {
        let mut tunnel = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        tunnel.connect(peer.local_addr()).unwrap();
        assert_eq!(tunnel.peer_addr(), Some(peer.local_addr()));
        stranger.send_to(b"spoof", tunnel.local_addr()).unwrap();
        peer.send_to(b"hello", tunnel.local_addr()).unwrap();
        let mut inb = RecvBatch::new(4, 64);
        let got = recv_n(&tunnel, &mut inb, 1);
        assert_eq!(got, vec![(peer.local_addr(), b"hello".to_vec())]);
        // Sends from a connected socket go to the peer.
        let mut out = SendBatch::new(2, 64);
        out.push(peer.local_addr(), b"one");
        out.push(peer.local_addr(), b"two");
        assert_eq!(tunnel.send_batch(&mut out).unwrap(), 2);
        let got = recv_n(&peer, &mut inb, 2);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(f, _)| *f == tunnel.local_addr()));
    }

    #[test]
    fn ipv6_and_dual_stack() {
        let Ok(rx) = UdpSocket::bind_with(
            "[::]:0".parse().unwrap(),
            &UdpOptions {
                v6_only: false,
                ..UdpOptions::default()
            },
        ) else {
            eprintln!("no IPv6 on this host: skipped");
            return;
        };
        let port = rx.local_addr().port();
        let mut inb = RecvBatch::new(4, 64);
        if let Ok(tx6) = UdpSocket::bind("[::1]:0".parse().unwrap()) {
            let mut out = SendBatch::new(2, 64);
            out.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)), b"v6");
            assert_eq!(tx6.send_batch(&mut out).unwrap(), 1);
            assert_eq!(
                recv_n(&rx, &mut inb, 1),
                vec![(tx6.local_addr(), b"v6".to_vec())]
            );
        }
        // An IPv4 peer on a dual-stack socket appears as an IPv4-mapped address.
        let tx4 = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        tx4.send_to(b"v4", SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .unwrap();
        let got = recv_n(&rx, &mut inb, 1);
        let from = got[0].0;
        assert_eq!(
            from,
            SocketAddr::V6(SocketAddrV6::new(
                Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
                tx4.local_addr().port(),
                0,
                0
            ))
        );
        // And replying to the plain IPv4 address works through the mapping.
        let mut out = SendBatch::new(1, 64);
        out.push(tx4.local_addr(), b"back");
        assert_eq!(rx.send_batch(&mut out).unwrap(), 1);
        assert_eq!(recv_n(&tx4, &mut inb, 1)[0].1, b"back");
    }

    #[test]
    fn sockets_and_batches_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<UdpSocket>();
        send::<RecvBatch>();
        send::<SendBatch>();
    }

    #[test]
    fn nothing_to_read_is_would_block_and_poll_times_out() {
        let s = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut inb = RecvBatch::new(4, 64);
        assert_eq!(
            s.recv_batch(&mut inb).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(inb.is_empty());
        assert!(!s.poll_readable(Some(Duration::from_millis(10))).unwrap());
        assert!(s.poll_writable(Some(Duration::from_millis(10))).unwrap());
    }
}

/// The datapath over real loopback sockets, in both socket layouts: one shared socket for
/// every tunnel, and one connected socket per tunnel (the seed's daemon).
#[cfg(test)]
mod datapath_tests {
    use super::*;
    use l2tp_proto::data::{
        Datapath, DatapathConfig, DropReason, RxResult, SessionConfig, SessionKey, SocketId,
    };
    use l2tp_wire::{Header, SeqNum, SessionId, TunnelId};
    use std::time::Instant;

    const HEADROOM: usize = 16;

    /// A client: its socket and a datapath with one session toward `server`.
    fn client(
        server: SocketAddr,
        local_tunnel: u16,
        server_tunnel: u16,
    ) -> (UdpSocket, Datapath, SessionKey) {
        let sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut dp = Datapath::new(DatapathConfig::default());
        dp.create_tunnel(TunnelId(local_tunnel), SocketId::SHARED, server)
            .unwrap();
        let key = dp
            .create_session(SessionConfig::new(
                TunnelId(local_tunnel),
                SessionId(1),
                TunnelId(server_tunnel),
                SessionId(7),
                server,
            ))
            .unwrap();
        (sock, dp, key)
    }

    /// Sends `n` frames tagged `tag` through the client's encapsulation.
    fn send_frames(sock: &UdpSocket, dp: &mut Datapath, key: SessionKey, tag: u8, n: usize) {
        let mut out = SendBatch::new(n, 256);
        for i in 0..n {
            let slot = out.slot_mut().unwrap();
            slot[HEADROOM..HEADROOM + 3].copy_from_slice(&[0x21, tag, i as u8]);
            let tx = dp.encapsulate(key, slot, HEADROOM, 3).unwrap();
            assert!(out.commit(tx.peer, tx.range));
        }
        assert_eq!(sock.send_batch(&mut out).unwrap(), n);
    }

    /// Receives on `sock` (as `id`) until `want` datagrams were classified; returns the
    /// delivered (session, frame) pairs and the other results.
    fn serve(
        sock: &UdpSocket,
        id: SocketId,
        dp: &mut Datapath,
        want: usize,
    ) -> (Vec<(SessionKey, Vec<u8>)>, Vec<RxResult>) {
        let mut inb = RecvBatch::new(16, 256);
        let (mut frames, mut other) = (Vec::new(), Vec::new());
        while frames.len() + other.len() < want
            && sock.poll_readable(Some(Duration::from_secs(2))).unwrap()
        {
            sock.recv_batch(&mut inb).unwrap();
            for (from, d) in inb.datagrams() {
                match dp.receive_on(Instant::now(), id, from, d) {
                    RxResult::Deliver { session, frame, .. } => {
                        frames.push((session, d[frame].to_vec()))
                    }
                    r => other.push(r),
                }
            }
        }
        (frames, other)
    }

    #[test]
    fn one_shared_socket_serves_many_tunnels() {
        let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (a, mut dpa, ka) = client(server.local_addr(), 50, 1);
        let (b, mut dpb, kb) = client(server.local_addr(), 60, 2);
        let mut dp = Datapath::new(DatapathConfig::default());
        for (t, peer) in [(1, a.local_addr()), (2, b.local_addr())] {
            dp.create_tunnel(TunnelId(t), SocketId::SHARED, peer)
                .unwrap();
            dp.create_session(SessionConfig::new(
                TunnelId(t),
                SessionId(7),
                TunnelId(t * 10 + 40),
                SessionId(1),
                peer,
            ))
            .unwrap();
        }
        send_frames(&a, &mut dpa, ka, 0xa, 5);
        send_frames(&b, &mut dpb, kb, 0xb, 3);
        // A third host using tunnel 1's ids: refused by the peer check.
        let (spoofer, mut dps, ks) = client(server.local_addr(), 50, 1);
        send_frames(&spoofer, &mut dps, ks, 0xc, 1);
        let (frames, other) = serve(&server, SocketId::SHARED, &mut dp, 9);
        let to = |t: u16| SessionKey::new(TunnelId(t), SessionId(7));
        assert_eq!(
            frames
                .iter()
                .filter(|(k, f)| *k == to(1) && f[1] == 0xa)
                .count(),
            5
        );
        assert_eq!(
            frames
                .iter()
                .filter(|(k, f)| *k == to(2) && f[1] == 0xb)
                .count(),
            3
        );
        assert!(matches!(
            other.as_slice(),
            [RxResult::Dropped(DropReason::WrongPeer { .. })]
        ));
        assert_eq!(dp.stats(TunnelId(1), SessionId(7)).unwrap().rx_packets, 5);
        assert_eq!(dp.stats(TunnelId(1), SessionId(0)).unwrap().rx_errors, 1);
        assert_eq!(dp.counters().wrong_peer, 1);
    }

    #[test]
    fn one_connected_socket_per_tunnel() {
        let mut s1 = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut s2 = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (a, mut dpa, ka) = client(s1.local_addr(), 50, 1);
        let (b, mut dpb, kb) = client(s2.local_addr(), 60, 2);
        s1.connect(a.local_addr()).unwrap();
        s2.connect(b.local_addr()).unwrap();
        let mut dp = Datapath::new(DatapathConfig::default());
        for (t, sid, peer) in [
            (1, SocketId(1), a.local_addr()),
            (2, SocketId(2), b.local_addr()),
        ] {
            dp.create_tunnel(TunnelId(t), sid, peer).unwrap();
            dp.create_session(SessionConfig::new(
                TunnelId(t),
                SessionId(7),
                TunnelId(t * 10 + 40),
                SessionId(1),
                peer,
            ))
            .unwrap();
        }
        send_frames(&a, &mut dpa, ka, 0xa, 4);
        send_frames(&b, &mut dpb, kb, 0xb, 2);
        // A control message on tunnel 1's socket goes to the control plane, naming the socket.
        let hello = Header::control(TunnelId(1), SessionId(0), SeqNum(0), SeqNum(0))
            .encode_with_payload(&[0, 8, 0, 0, 0, 0, 0, 6]);
        a.send_to(&hello, s1.local_addr()).unwrap();
        let (f1, o1) = serve(&s1, SocketId(1), &mut dp, 5);
        let (f2, o2) = serve(&s2, SocketId(2), &mut dp, 2);
        assert_eq!(f1.len(), 4);
        assert!(f1
            .iter()
            .all(|(k, f)| k.tunnel == TunnelId(1) && f[1] == 0xa));
        assert!(matches!(o1.as_slice(), [RxResult::ToControl(tc)] if tc.socket == SocketId(1)));
        assert_eq!(f2.len(), 2);
        assert!(o2.is_empty());
        // Replies leave on the tunnel's own socket, to its peer.
        let mut buf = [0u8; 64];
        let tx = dp
            .encapsulate(
                SessionKey::new(TunnelId(2), SessionId(7)),
                &mut buf,
                HEADROOM,
                3,
            )
            .unwrap();
        assert_eq!((tx.socket, tx.peer), (SocketId(2), b.local_addr()));
    }
}
