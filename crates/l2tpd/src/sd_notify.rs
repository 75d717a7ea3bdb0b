//! systemd's readiness protocol (`sd_notify(3)`), without libsystemd: one datagram per
//! state change to the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace). `READY=1` once the sockets are bound and the configuration applied,
//! `RELOADING=1` / `READY=1` around a reload, `STOPPING=1` on shutdown, and `WATCHDOG=1` at
//! half the interval systemd gives in `WATCHDOG_USEC` (for this process: `WATCHDOG_PID`).
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// The notification socket of the service manager, and the watchdog schedule.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    /// A failure was logged already (the next ones go to debug: no line every ping).
    warned: std::cell::Cell<bool>,
}

impl Notifier {
    /// From the environment systemd sets for a `Type=notify` service; `None` when the
    /// process was not started that way (or the socket name is unusable: said on stderr).
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = watchdog_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        match Self::connect(&path.to_string_lossy(), watchdog) {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("l2tpd: NOTIFY_SOCKET {}: {e}", path.to_string_lossy());
                None
            }
        }
    }

    /// A notifier for the socket `path` (`@name`: abstract namespace), pinging a watchdog
    /// every `watchdog` / 2 when one is given.
    pub fn connect(path: &str, watchdog: Option<Duration>) -> io::Result<Notifier> {
        let addr = match path.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name.as_bytes())?
            }
            None if path.starts_with('/') => SocketAddr::from_pathname(path)?,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "neither an absolute path nor @abstract",
                ))
            }
        };
        let sock = UnixDatagram::unbound()?;
        // Connected now, while the daemon may still be root: a connected datagram socket is
        // not checked again on send, so notifications still go out after the switch to
        // `daemon.user` whatever the notify socket's mode.
        sock.connect_addr(&addr)?;
        sock.set_nonblocking(true)?;
        Ok(Notifier {
            sock,
            addr,
            watchdog,
            last_ping: None,
            warned: std::cell::Cell::new(false),
        })
    }

    /// Sends one notification (`KEY=VALUE` lines).
    pub fn notify(&self, state: &str) -> io::Result<()> {
        match self.sock.send(state.as_bytes()) {
            Ok(_) => Ok(()),
            // The manager's socket was replaced (it re-executed): address it anew.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => self
                .sock
                .send_to_addr(state.as_bytes(), &self.addr)
                .map(|_| ()),
            Err(e) => Err(e),
        }
    }

    /// Sends `state`; a failure is logged, never fatal (the daemon works without systemd).
    fn send(&self, state: &str) {
        if let Err(e) = self.notify(state) {
            let what = state.lines().next().unwrap_or("");
            if self.warned.replace(true) {
                tracing::debug!("sd_notify {what:?}: {e}");
            } else {
                tracing::warn!("sd_notify {what:?}: {e} (further failures logged at debug level)");
            }
        }
    }

    /// The service is up: sockets bound, configuration applied.
    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nSTATUS={status}\nMAINPID={}",
            std::process::id()
        ));
    }

    /// A reload starts (`done` false) or is over (`done` true).
    pub fn reloading(&self, done: bool) {
        self.send(if done { "READY=1" } else { "RELOADING=1" });
    }

    /// Another process (`pid`, which a hitless upgrade handed the daemon to) is the main
    /// process from now on.
    pub fn main_pid(&self, pid: u32) {
        self.send(&format!(
            "MAINPID={pid}\nREADY=1\nSTATUS=upgraded: pid {pid}"
        ));
    }

    /// The service is shutting down.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// The watchdog interval systemd asked for, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Called from the event loop: sends `WATCHDOG=1` when half the interval has passed
    /// since the last ping (systemd restarts the service after a whole interval without one).
    pub fn tick(&mut self, now: Instant) {
        let Some(interval) = self.watchdog else {
            return;
        };
        if self
            .last_ping
            .is_some_and(|t| now.saturating_duration_since(t) < interval / 2)
        {
            return;
        }
        self.last_ping = Some(now);
        self.send("WATCHDOG=1");
    }
}

/// The watchdog interval from `WATCHDOG_USEC`, when `WATCHDOG_PID` is unset or names `pid`.
pub fn watchdog_interval(usec: Option<&str>, for_pid: Option<&str>, pid: u32) -> Option<Duration> {
    if for_pid.is_some_and(|p| p.trim().parse::<u32>().ok() != Some(pid)) {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_interval_only_for_this_process() {
        let d = Some(Duration::from_secs(30));
        assert_eq!(watchdog_interval(Some("30000000"), None, 7), d);
        assert_eq!(watchdog_interval(Some("30000000"), Some("7"), 7), d);
        assert_eq!(watchdog_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
    }

    #[test]
    fn datagrams_reach_a_path_and_an_abstract_socket_and_pings_are_paced() {
        let dir = std::env::temp_dir().join(format!("l2tpd-sdn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut n =
            Notifier::connect(path.to_str().unwrap(), Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        n.stopping();
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");

        let t0 = Instant::now();
        n.tick(t0);
        n.tick(t0 + Duration::from_secs(1)); // too soon: no second ping
        n.tick(t0 + Duration::from_secs(5)); // half the interval: a ping
        server.set_nonblocking(true).unwrap();
        let mut pings = 0;
        while let Ok(len) = server.recv(&mut buf) {
            assert_eq!(&buf[..len], b"WATCHDOG=1");
            pings += 1;
        }
        assert_eq!(pings, 2);
        let _ = std::fs::remove_dir_all(&dir);

        use std::os::linux::net::SocketAddrExt;
        let name = format!("l2tpd-sdn-test-{}", std::process::id());
        let abs =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        abs.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        Notifier::connect(&format!("@{name}"), None)
            .unwrap()
            .ready("up");
        let len = abs.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(text.starts_with("READY=1\nSTATUS=up\n"), "{text}");
        assert!(Notifier::connect("relative", None).is_err());
    }
}
