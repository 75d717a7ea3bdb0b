//! The kernel's PPP side of a PPPoL2TP session: the channel fd and the `pppN` unit.
//!
//! A connected session socket ([`crate::pppol2tp::SessionSocket`]) registers a PPP channel.
//! [`PppChannel::attach`] opens `/dev/ppp` and attaches it to that channel
//! (`PPPIOCATTCHAN`): reads give the PPP frames the kernel does not forward itself (LCP,
//! authentication, and everything until the channel is connected to a unit), writes send a
//! frame on the session. Frames start with the PPP protocol field; the kernel adds and strips
//! the `FF 03` address/control bytes.
//!
//! [`PppUnit::new`] creates a network interface `pppN` (`PPPIOCNEWUNIT`); after
//! [`PppChannel::connect`] (`PPPIOCCONNECT`) IP packets of the session go through `pppN`, and
//! NCP frames (IPCP, IPV6CP: protocol 0x8000–0xBFFF) are read from and written to the unit's
//! fd. Bringing `pppN` up and addressing it is rtnetlink's job, not this module's.
//!
//! Both fds are blocking unless [`PppChannel::set_nonblocking`] / [`PppUnit::set_nonblocking`];
//! both are `AsFd` for [`crate::poller::Poller`]. Needs `CAP_NET_ADMIN`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::pppol2tp::{sys, KernelError, DEV_PPP};

fn open_dev_ppp(what: &dyn Fn() -> String) -> Result<File, KernelError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(DEV_PPP)
        .map_err(|e| KernelError::new(format!("{}: open {DEV_PPP}", what()), e))
}

/// `ioctl(fd, req, &mut int)`.
fn ioctl_int(fd: &File, req: libc::c_ulong, value: &mut libc::c_int) -> io::Result<()> {
    // SAFETY: every request used with this helper reads and/or writes exactly one int, and
    // `value` is a live, writable int for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req, value as *mut libc::c_int) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_nonblocking(fd: &File, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL on an fd we own; no pointers involved.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL with an int argument on an fd we own.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `/dev/ppp` attached to one PPP channel (a session's).
#[derive(Debug)]
pub struct PppChannel {
    file: File,
    index: u32,
}

impl PppChannel {
    /// Opens `/dev/ppp` and attaches it to channel `index`
    /// ([`crate::pppol2tp::SessionSocket::channel_index`]).
    pub fn attach(index: u32) -> Result<Self, KernelError> {
        let what = || format!("attach to PPP channel {index}");
        let file = open_dev_ppp(&what)?;
        let mut idx = index as libc::c_int;
        ioctl_int(&file, sys::PPPIOCATTCHAN, &mut idx).map_err(|e| KernelError::new(what(), e))?;
        Ok(Self { file, index })
    }

    /// `/dev/ppp` attached to channel `index` in another process that handed it over
    /// (hitless upgrade).
    pub fn from_fd(fd: OwnedFd, index: u32) -> Self {
        Self {
            file: File::from(fd),
            index,
        }
    }

    /// The channel's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Connects the channel to `unit`: from now on the session's network-protocol packets
    /// go through `pppN`.
    pub fn connect(&self, unit: &PppUnit) -> Result<(), KernelError> {
        let mut n = unit.number as libc::c_int;
        ioctl_int(&self.file, sys::PPPIOCCONNECT, &mut n).map_err(|e| {
            KernelError::new(
                format!("connect PPP channel {} to {}", self.index, unit.ifname()),
                e,
            )
        })
    }

    /// Disconnects the channel from its unit (`PPPIOCDISCONN`).
    pub fn disconnect(&self) -> Result<(), KernelError> {
        // SAFETY: PPPIOCDISCONN takes no argument.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), sys::PPPIOCDISCONN) };
        if rc < 0 {
            return Err(KernelError::last(format!(
                "disconnect PPP channel {}",
                self.index
            )));
        }
        Ok(())
    }

    /// Sets or clears `O_NONBLOCK` (reads then return `WouldBlock` when nothing is queued).
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        set_nonblocking(&self.file, on)
    }

    /// Sends one PPP frame (protocol field first) on the session.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        (&self.file).write(frame)
    }

    /// Receives one PPP frame (protocol field first).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }
}

impl AsFd for PppChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// A PPP unit: the network interface `pppN`. Closing the fd removes the interface.
#[derive(Debug)]
pub struct PppUnit {
    file: File,
    number: u32,
}

impl PppUnit {
    /// Creates a unit; `number` asks for `pppN` with that N, `None` takes the first free one.
    pub fn new(number: Option<u32>) -> Result<Self, KernelError> {
        let what = || match number {
            Some(n) => format!("create PPP unit ppp{n}"),
            None => "create a PPP unit".to_string(),
        };
        let file = open_dev_ppp(&what)?;
        let mut n: libc::c_int = number.map_or(-1, |n| n as libc::c_int);
        ioctl_int(&file, sys::PPPIOCNEWUNIT, &mut n).map_err(|e| KernelError::new(what(), e))?;
        let number = u32::try_from(n)
            .map_err(|_| KernelError::new(what(), io::Error::from(io::ErrorKind::InvalidData)))?;
        Ok(Self { file, number })
    }

    /// A unit's fd handed over by another process (hitless upgrade): the interface and its
    /// addresses, routes and qdiscs stay. The kernel says which unit it is (`PPPIOCGUNIT`).
    pub fn from_fd(fd: OwnedFd) -> Result<Self, KernelError> {
        let file = File::from(fd);
        let mut n: libc::c_int = -1;
        ioctl_int(&file, sys::PPPIOCGUNIT, &mut n)
            .map_err(|e| KernelError::new("PPPIOCGUNIT on a handed-over PPP unit", e))?;
        let number = u32::try_from(n).map_err(|_| {
            KernelError::new(
                "PPPIOCGUNIT on a handed-over PPP unit",
                io::Error::from(io::ErrorKind::InvalidData),
            )
        })?;
        Ok(Self { file, number })
    }

    /// The unit's number N.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The interface's name, `pppN`.
    pub fn ifname(&self) -> String {
        format!("ppp{}", self.number)
    }

    fn err(&self, what: &str, e: io::Error) -> KernelError {
        KernelError::new(format!("{what} {}", self.ifname()), e)
    }

    /// Sets the MRU (`PPPIOCSMRU`): the largest frame the unit accepts.
    pub fn set_mru(&self, mru: u16) -> Result<(), KernelError> {
        let mut v = libc::c_int::from(mru);
        ioctl_int(&self.file, sys::PPPIOCSMRU, &mut v).map_err(|e| self.err("set MRU of", e))
    }

    /// The unit's flags (`PPPIOCGFLAGS`, the `SC_*` bits of `linux/ppp-ioctl.h`).
    pub fn flags(&self) -> Result<u32, KernelError> {
        let mut v: libc::c_int = 0;
        ioctl_int(&self.file, sys::PPPIOCGFLAGS, &mut v)
            .map_err(|e| self.err("get flags of", e))?;
        Ok(v as u32)
    }

    /// Sets the unit's flags (`PPPIOCSFLAGS`).
    pub fn set_flags(&self, flags: u32) -> Result<(), KernelError> {
        let mut v = flags as libc::c_int;
        ioctl_int(&self.file, sys::PPPIOCSFLAGS, &mut v).map_err(|e| self.err("set flags of", e))
    }

    /// Sets or clears `O_NONBLOCK`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        set_nonblocking(&self.file, on)
    }

    /// Sends one NCP frame (protocol field first), e.g. IPCP.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        (&self.file).write(frame)
    }

    /// Receives one NCP frame (protocol field first).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }
}

impl AsFd for PppUnit {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
