//! A thin I/O shell over the sans-IO cores: one UDP socket per [`UdpClient`] (all servers
//! answer to it) and per [`UdpDaeServer`], driven either blocking (`wait`, `serve`) or
//! nonblocking from the owner's event loop (`pump`). The daemon will use the cores directly
//! through its `AuthBackend`; this shell serves tools, tests and a simple integration.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::RngCore;

use crate::client::{Client, ClientEvent, RequestId};
use crate::dae::{DaeOutcome, DaeRequest, DaeServer, ErrorCause};
use crate::spool::Spool;

/// A RADIUS client on a UDP socket.
#[derive(Debug)]
pub struct UdpClient<R> {
    sock: UdpSocket,
    /// The core (commands, counters).
    pub core: Client<R>,
}

impl<R: RngCore> UdpClient<R> {
    /// Binds `local` (port 0 for any) for `core`.
    pub fn bind(local: SocketAddr, core: Client<R>) -> io::Result<Self> {
        Ok(UdpClient {
            sock: UdpSocket::bind(local)?,
            core,
        })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    fn flush(&mut self) -> io::Result<()> {
        while let Some(t) = self.core.poll_transmit() {
            if let Err(e) = self.sock.send_to(&t.bytes, t.to) {
                // A server that is down may refuse with ICMP: the core's timer handles it.
                tracing::debug!(to = %t.to, "RADIUS send failed: {e}");
            }
        }
        Ok(())
    }

    /// Nonblocking: sends what is queued, reads what arrived, runs due timers, returns the
    /// events. Call again at `core.poll_timeout()` or when the socket is readable.
    pub fn pump(&mut self, now: Instant) -> io::Result<Vec<ClientEvent>> {
        self.flush()?;
        self.sock.set_nonblocking(true)?;
        let mut buf = [0u8; 4096];
        for _ in 0..1024 {
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => self.core.handle_datagram(now, from, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            }
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        self.flush()?;
        Ok(std::iter::from_fn(|| self.core.poll_event()).collect())
    }

    /// Blocking: runs until the event about `request` (other events are returned too, in
    /// order) or until `limit` passes.
    pub fn wait(&mut self, request: RequestId, limit: Duration) -> io::Result<Vec<ClientEvent>> {
        self.run_until(limit, |e| {
            matches!(e,
                ClientEvent::Access { request: r, .. }
                | ClientEvent::AccountingDone { request: r }
                | ClientEvent::Failed { request: r, .. } if *r == request)
        })
    }

    /// Blocking: runs until an event satisfies `done` (returned with the ones before it) or
    /// until `limit` passes.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&ClientEvent) -> bool,
    ) -> io::Result<Vec<ClientEvent>> {
        let end = Instant::now() + limit;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        self.sock.set_nonblocking(false)?;
        loop {
            self.flush()?;
            while let Some(e) = self.core.poll_event() {
                let stop = done(&e);
                out.push(e);
                if stop {
                    return Ok(out);
                }
            }
            let now = Instant::now();
            if now >= end {
                return Ok(out);
            }
            let until = self.core.poll_timeout().unwrap_or(end).min(end);
            let wait = until
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            self.sock.set_read_timeout(Some(wait))?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => self.core.handle_datagram(Instant::now(), from, &buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
        }
    }

    /// Sends every spooled record (oldest first), each with Acct-Delay-Time counted from
    /// its event, and removes those a server acknowledged. Returns how many were delivered.
    pub fn replay_spool(&mut self, spool: &mut Spool, per_record: Duration) -> io::Result<usize> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut delivered = 0;
        for rec in spool.load()? {
            let delay = Duration::from_secs(wall.saturating_sub(rec.event_time));
            let Ok(rid) = self.core.account_attrs(Instant::now(), rec.attrs, delay) else {
                break;
            };
            let events = self.wait(rid, per_record)?;
            if events.contains(&ClientEvent::AccountingDone { request: rid }) {
                spool.remove(&rec.key)?;
                delivered += 1;
            } else {
                // Still nobody answers: keep it and the rest for the next attempt.
                break;
            }
        }
        Ok(delivered)
    }
}

/// The dynamic authorization server on a UDP socket.
#[derive(Debug)]
pub struct UdpDaeServer {
    sock: UdpSocket,
    /// The core (counters).
    pub core: DaeServer,
}

impl UdpDaeServer {
    /// Binds `local` (RFC 5176 §3 port 3799, or another).
    pub fn bind(local: SocketAddr, core: DaeServer) -> io::Result<Self> {
        Ok(UdpDaeServer {
            sock: UdpSocket::bind(local)?,
            core,
        })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Serves until `limit` passes or `handler` has been asked `max_requests` times; the
    /// handler acts on each request and says ACK (`Ok`) or NAK with a cause.
    pub fn serve(
        &mut self,
        limit: Duration,
        max_requests: usize,
        mut handler: impl FnMut(&DaeRequest) -> Result<(), ErrorCause>,
    ) -> io::Result<usize> {
        let end = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        let mut served = 0;
        while served < max_requests {
            let now = Instant::now();
            if now >= end {
                break;
            }
            self.sock.set_read_timeout(Some(end - now))?;
            let (n, from) = match self.sock.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                // An ICMP error for an earlier answer: not this socket's problem.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let t =
                match self
                    .core
                    .handle_datagram(Instant::now(), SystemTime::now(), from, &buf[..n])
                {
                    DaeOutcome::Request(r) => {
                        served += 1;
                        let result = handler(&r);
                        self.core.respond(&r, result)
                    }
                    DaeOutcome::Reply(t) => t,
                    DaeOutcome::Dropped => continue,
                };
            if let Err(e) = self.sock.send_to(&t.bytes, t.to) {
                // One client we cannot reach must not stop the listener.
                tracing::warn!(to = %t.to, "dynamic authorization answer not sent: {e}");
            }
        }
        Ok(served)
    }
}
