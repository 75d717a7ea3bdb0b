//! A minimal epoll wrapper for the daemon's single-threaded event loop.
//!
//! * [`Poller`] registers file descriptors under a caller-chosen [`Token`] and waits for
//!   readiness with a timeout. Registrations are **level-triggered**: a socket that still has
//!   data is reported again on the next wait, so the loop may read in bounded batches.
//! * [`Waker`] is an `eventfd` another thread uses to interrupt a wait (the management
//!   server and the metrics server hand work to the loop this way). Register it with
//!   [`Poller::register`] like any fd; call [`Waker::drain`] when it is reported.
//!
//! ```no_run
//! use l2tp_io::poller::{Events, Interest, Poller, Token, Waker};
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//! let poller = Poller::new()?;
//! let waker = std::sync::Arc::new(Waker::new()?);
//! poller.register(waker.as_raw_fd(), Token(0), Interest::READABLE)?;
//! let w = waker.clone();
//! std::thread::spawn(move || w.wake());
//! let mut events = Events::with_capacity(64);
//! poller.wait(&mut events, Some(Duration::from_secs(1)))?;
//! for ev in events.iter() {
//!     if ev.token == Token(0) { waker.drain(); }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A caller-chosen number identifying a registered fd in [`Event`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// What readiness to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    readable: bool,
    writable: bool,
}

impl Interest {
    /// Readable only.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Both.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };

    fn epoll_bits(self) -> u32 {
        let mut bits = 0;
        if self.readable {
            bits |= libc::EPOLLIN as u32;
        }
        if self.writable {
            bits |= libc::EPOLLOUT as u32;
        }
        bits | libc::EPOLLRDHUP as u32
    }
}

/// One readiness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The token the fd was registered with.
    pub token: Token,
    /// Data can be read (or the peer hung up, which a read reports).
    pub readable: bool,
    /// Data can be written.
    pub writable: bool,
    /// An error or hang-up is pending on the fd.
    pub error: bool,
}

/// A reusable buffer of readiness reports filled by [`Poller::wait`].
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Events {
    /// A buffer for at most `cap` events per wait (at least 1).
    pub fn with_capacity(cap: usize) -> Self {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; cap.max(1)],
            len: 0,
        }
    }

    /// The events of the last wait.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| {
            let bits = e.events;
            Event {
                token: Token(e.u64),
                readable: bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0,
                writable: bits & libc::EPOLLOUT as u32 != 0,
                error: bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0,
            }
        })
    }

    /// Number of events of the last wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last wait timed out without events.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An epoll instance.
#[derive(Debug)]
pub struct Poller {
    epfd: OwnedFd,
}

impl Poller {
    /// Creates an epoll instance (close-on-exec).
    pub fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, valid descriptor that nothing else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Poller { epfd })
    }

    /// A second handle on the same epoll instance (`dup`): registrations made through
    /// either are seen by both.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Poller {
            epfd: self.epfd.try_clone()?,
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: interest.epoll_bits(),
            u64: token.0,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; epoll_ctl does not
        // keep the pointer. An invalid `fd` is reported as EBADF, not undefined behaviour.
        let r = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Starts watching `fd` (level-triggered). The caller keeps `fd` open while registered.
    pub fn register(&self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Changes the token or interest of a registered fd.
    pub fn modify(&self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    /// Stops watching `fd` (closing an fd also removes it).
    pub fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, Token(0), Interest::READABLE)
    }

    /// Waits until at least one registered fd is ready or `timeout` passes (`None`: forever).
    /// A signal interrupting the wait returns with no events rather than an error.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let ms: libc::c_int = match timeout {
            None => -1,
            // Round up so a 0.5 ms timer does not turn into a busy loop of 0 ms waits.
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let cap = libc::c_int::try_from(events.buf.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: the buffer holds `cap` initialised epoll_events and outlives the call.
        let n =
            unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), events.buf.as_mut_ptr(), cap, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            events.len = 0;
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        events.len = usize::try_from(n).unwrap_or(0);
        Ok(())
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.epfd.as_raw_fd()
    }
}

/// An eventfd that wakes a [`Poller`] from any thread. `Send + Sync`: share it in an `Arc`.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// Creates a nonblocking, close-on-exec eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Waker { fd })
    }

    /// Makes the eventfd readable (idempotent until [`Waker::drain`]).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. EAGAIN (counter saturated) means the fd is
        // already readable, which is all a wake needs, so the result is ignored.
        let _ = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&one as *const u64).cast::<libc::c_void>(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Resets the eventfd so it is no longer readable. Returns whether any wake was pending.
    pub fn drain(&self) -> bool {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut v as *mut u64).cast::<libc::c_void>(),
                std::mem::size_of::<u64>(),
            )
        };
        n == 8 && v > 0
    }
}

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn waker_from_another_thread_interrupts_wait() {
        let p = Poller::new().unwrap();
        let w = Arc::new(Waker::new().unwrap());
        p.register(w.as_raw_fd(), Token(7), Interest::READABLE)
            .unwrap();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.wake();
        });
        let mut ev = Events::with_capacity(4);
        let start = Instant::now();
        p.wait(&mut ev, Some(Duration::from_secs(5))).unwrap();
        assert!(start.elapsed() < Duration::from_secs(4));
        let got: Vec<Event> = ev.iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].token, Token(7));
        assert!(got[0].readable);
        assert!(w.drain());
        // Drained: the next wait times out with nothing.
        p.wait(&mut ev, Some(Duration::from_millis(10))).unwrap();
        assert!(ev.is_empty());
        assert!(!w.drain());
        t.join().unwrap();
    }

    #[test]
    fn level_triggered_socket_readiness_and_deregister() {
        let p = Poller::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        p.register(b.as_raw_fd(), Token(1), Interest::READABLE)
            .unwrap();
        let mut ev = Events::with_capacity(4);
        p.wait(&mut ev, Some(Duration::from_millis(0))).unwrap();
        assert!(ev.is_empty(), "nothing written yet");
        a.write_all(b"x").unwrap();
        for _ in 0..2 {
            // Not read: level-triggered reports it again.
            p.wait(&mut ev, Some(Duration::from_secs(1))).unwrap();
            assert_eq!(ev.iter().next().map(|e| e.token), Some(Token(1)));
        }
        p.modify(b.as_raw_fd(), Token(2), Interest::BOTH).unwrap();
        p.wait(&mut ev, Some(Duration::from_secs(1))).unwrap();
        let e = ev.iter().next().unwrap();
        assert_eq!(e.token, Token(2));
        assert!(e.readable && e.writable);
        p.deregister(b.as_raw_fd()).unwrap();
        p.wait(&mut ev, Some(Duration::from_millis(0))).unwrap();
        assert!(ev.is_empty());
        assert!(
            p.deregister(b.as_raw_fd()).is_err(),
            "not registered any more"
        );
    }

    #[test]
    fn timeout_is_honoured() {
        let p = Poller::new().unwrap();
        let mut ev = Events::with_capacity(1);
        let start = Instant::now();
        p.wait(&mut ev, Some(Duration::from_millis(30))).unwrap();
        assert!(ev.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(25));
    }
}
