//! A child process handed some of our fds and watched through a pidfd: how the daemon runs
//! pppd on a session's PPPoL2TP socket (its `pppol2tp` plugin takes the socket's fd number
//! on the command line, so the fd must survive the `exec`).
//!
//! [`Child::spawn`] clears `FD_CLOEXEC` on the fds to pass, in the child only (between
//! `fork` and `exec`), and puts the child in a process group of its own (a Ctrl-C meant for
//! the daemon is not the child's). The pidfd ([`AsFd`]) becomes readable when the child
//! exits: register it with [`crate::poller::Poller`], then [`Child::try_wait`] reaps it.
//! [`Child::signal`] never reaches another process: a child is only reaped here, so its
//! pid cannot be reused while this handle holds it unreaped.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running (or exited, not yet reaped) child process.
#[derive(Debug)]
pub struct Child {
    child: std::process::Child,
    pidfd: OwnedFd,
    status: Option<ExitStatus>,
}

impl Child {
    /// Spawns `cmd` with `keep` inherited under the same numbers (the caller keeps its own
    /// copies). Fails with the OS error of `fork`/`exec`, or when this kernel has no pidfds
    /// (Linux < 5.3).
    pub fn spawn(cmd: &mut Command, keep: &[BorrowedFd<'_>]) -> io::Result<Child> {
        let fds: Vec<RawFd> = keep.iter().map(AsRawFd::as_raw_fd).collect();
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed: it calls fcntl(2) (async-signal-safe) on fd
        // numbers copied into `fds` beforehand, allocates nothing and takes no lock.
        // `io::Error::last_os_error` only reads errno.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &fds {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        let pid = child.id() as libc::pid_t;
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1; no memory
        // is passed. The pid is our unreaped child's, so it names that process.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(e.kind(), format!("pidfd_open: {e}")));
        }
        // SAFETY: `fd` was just returned by pidfd_open (a new fd, owned by nobody else);
        // pidfds are created close-on-exec.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Child {
            child,
            pidfd,
            status: None,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status once it exited (reaps it); `None` while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Sends `signal` (`libc::SIGTERM`, …) unless the child was already reaped.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill(2) with our own unreaped child's pid (it cannot have been reused) and
        // a signal number; no memory is passed.
        if unsafe { libc::kill(self.child.id() as libc::pid_t, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// SIGTERM, up to `grace` for the child to exit, then SIGKILL; reaps it. Blocks (up to
    /// `grace` and the moment SIGKILL takes).
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(s) = self.try_wait()? {
            return Ok(s);
        }
        self.signal(libc::SIGTERM)?;
        self.wait_until(Instant::now() + grace)?;
        self.kill()
    }

    /// Polls (every 10 ms) until the child exited or `deadline`; its status if it exited.
    pub fn wait_until(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }

    /// SIGKILL (unless it already exited) and reap.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.try_wait()? {
            return Ok(s);
        }
        self.signal(libc::SIGKILL)?;
        let s = self.child.wait()?;
        self.status = Some(s);
        Ok(s)
    }
}

impl AsFd for Child {
    /// The pidfd: readable once the child exited.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl Drop for Child {
    /// A child still running when its handle goes is killed and reaped: no process outlives
    /// the handle that watched it.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_passed_fd_is_usable_in_the_child_and_others_are_not() {
        let (r, w) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let (r2, w2) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let (wfd, w2fd) = (w.as_raw_fd(), w2.as_raw_fd());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "echo passed >&{wfd}; echo leaked 2>/dev/null >&{w2fd}; exit 7"
        ));
        let mut c = Child::spawn(&mut cmd, &[w.as_fd()]).expect("spawn");
        drop((w, w2));
        let out = std::io::read_to_string(r).expect("read");
        assert_eq!(out, "passed\n");
        assert_eq!(std::io::read_to_string(r2).expect("read"), "");
        let s = c
            .wait_until(Instant::now() + Duration::from_secs(10))
            .expect("wait")
            .expect("exited");
        assert_eq!(s.code(), Some(7));
    }

    #[test]
    fn the_pidfd_becomes_readable_at_exit_and_terminate_escalates() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("exit 3");
        let mut c = Child::spawn(&mut cmd, &[]).expect("spawn");
        let mut pfd = libc::pollfd {
            fd: c.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
        assert_eq!(n, 1, "the pidfd is readable once the child exited");
        assert_eq!(c.try_wait().expect("wait").and_then(|s| s.code()), Some(3));

        // A child that ignores SIGTERM is killed after the grace.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("trap '' TERM; while :; do sleep 0.1; done");
        let mut c = Child::spawn(&mut cmd, &[]).expect("spawn");
        std::thread::sleep(Duration::from_millis(200));
        let s = c.terminate(Duration::from_millis(300)).expect("terminate");
        assert_eq!(s.signal(), Some(libc::SIGKILL), "{s:?}");
        // And one that does not ignore it exits on SIGTERM.
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut c = Child::spawn(&mut cmd, &[]).expect("spawn");
        let s = c.terminate(Duration::from_secs(10)).expect("terminate");
        assert_eq!(s.signal(), Some(libc::SIGTERM), "{s:?}");
    }
}
