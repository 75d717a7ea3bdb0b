//! The metrics endpoint's HTTP server: `GET /metrics` answered from the published
//! [`SharedSnapshot`], every connection non-blocking on one poller (idle or slow clients delay
//! no scraper; at most 64 open, the oldest closed first; each gets a few seconds). With the
//! daemon's management socket it also serves each session's line-quality graph,
//! `GET /sessions/TID/SID/quality.svg` (and `quality.json`), asked of the event loop the way
//! `l2tpctl` asks.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use l2tp_io::poller::{Events, Interest, Poller, Token, Waker};
use l2tp_mgmt::{quality_svg, Client, Request, Response};

use super::{render, SharedSnapshot};

/// The running HTTP endpoint; dropping it stops the thread.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<Waker>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The listening socket (a second handle: handed to a new process on upgrade).
    listener: TcpListener,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How long a connection may take to send its request and read the answer: a client that
/// stalls is closed then, and meanwhile costs nobody else anything.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections open at once; past this the one opened first is closed to make room.
const MAX_CONNECTIONS: usize = 64;
/// Largest request head accepted.
const MAX_HEAD: usize = 8192;
/// Poll tokens: the listener, the stop waker, then connections from `FIRST_CONN` on.
const TOKEN_LISTENER: u64 = 0;
const TOKEN_STOP: u64 = 1;
const FIRST_CONN: u64 = 2;

impl MetricsServer {
    /// Binds `addr` and serves `GET /metrics` from `snapshot`.
    pub fn start(addr: SocketAddr, snapshot: SharedSnapshot) -> io::Result<MetricsServer> {
        Self::start_with_sessions(addr, snapshot, None)
    }

    /// Like [`MetricsServer::start`], and serves the sessions' quality graphs from the daemon
    /// listening on the management socket `mgmt`.
    pub fn start_with_sessions(
        addr: SocketAddr,
        snapshot: SharedSnapshot,
        mgmt: Option<PathBuf>,
    ) -> io::Result<MetricsServer> {
        Self::serve(TcpListener::bind(addr)?, snapshot, mgmt)
    }

    /// Serves on a listening socket bound already (handed over by the daemon this process
    /// replaces).
    pub fn serve(
        listener: TcpListener,
        snapshot: SharedSnapshot,
        mgmt: Option<PathBuf>,
    ) -> io::Result<MetricsServer> {
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let handle = listener.try_clone()?;
        let stop = Arc::new(Waker::new()?);
        let stopping = Arc::new(AtomicBool::new(false));
        let poller = Poller::new()?;
        poller.register(
            listener.as_raw_fd(),
            Token(TOKEN_LISTENER),
            Interest::READABLE,
        )?;
        poller.register(stop.as_raw_fd(), Token(TOKEN_STOP), Interest::READABLE)?;
        let flag = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("l2tpd-metrics".into())
            .spawn(move || Server::new(listener, poller, snapshot, mgmt).run(&flag))?;
        Ok(MetricsServer {
            addr: local,
            stop,
            stopping,
            thread: Some(thread),
            listener: handle,
        })
    }

    /// The listening socket (for a hand-over).
    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One client connection: reading its request head, then writing the answer.
struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    /// The answer once the head is complete; `sent` bytes of it are written.
    answer: Option<Vec<u8>>,
    sent: usize,
    deadline: Instant,
}

/// The HTTP side: every connection non-blocking on one poller, so an idle or slow client
/// delays nobody; each is closed when answered or at its deadline.
struct Server {
    listener: TcpListener,
    poller: Poller,
    snap: SharedSnapshot,
    /// The daemon's management socket (for the quality graphs).
    mgmt: Option<PathBuf>,
    conns: HashMap<u64, Conn>,
    next_token: u64,
}

impl Server {
    fn new(
        listener: TcpListener,
        poller: Poller,
        snap: SharedSnapshot,
        mgmt: Option<PathBuf>,
    ) -> Self {
        Server {
            listener,
            poller,
            snap,
            mgmt,
            conns: HashMap::new(),
            next_token: FIRST_CONN,
        }
    }

    fn run(mut self, stopping: &AtomicBool) {
        let mut events = Events::with_capacity(64);
        while !stopping.load(Ordering::SeqCst) {
            let now = Instant::now();
            let wait = self
                .conns
                .values()
                .map(|c| c.deadline.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            if self.poller.wait(&mut events, Some(wait)).is_err() {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            let ready: Vec<u64> = events.iter().map(|e| e.token.0).collect();
            for token in ready {
                match token {
                    TOKEN_LISTENER => self.accept(),
                    TOKEN_STOP => {}
                    t => self.service(t),
                }
            }
            self.expire(Instant::now());
        }
    }

    fn accept(&mut self) {
        for _ in 0..64 {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.conns.len() >= MAX_CONNECTIONS {
                        self.close_oldest();
                    }
                    let token = self.next_token;
                    self.next_token += 1;
                    let registered = stream.set_nonblocking(true).and_then(|()| {
                        self.poller
                            .register(stream.as_raw_fd(), Token(token), Interest::READABLE)
                    });
                    if let Err(e) = registered {
                        tracing::debug!(error = %e, "metrics connection dropped");
                        continue;
                    }
                    self.conns.insert(
                        token,
                        Conn {
                            stream,
                            head: Vec::with_capacity(512),
                            answer: None,
                            sent: 0,
                            deadline: Instant::now() + IO_TIMEOUT,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    break;
                }
            }
        }
    }

    fn close_oldest(&mut self) {
        if let Some(&t) = self
            .conns
            .iter()
            .min_by_key(|(t, c)| (c.deadline, **t))
            .map(|(t, _)| t)
        {
            self.close(t);
        }
    }

    fn close(&mut self, token: u64) {
        if let Some(c) = self.conns.remove(&token) {
            let _ = self.poller.deregister(c.stream.as_raw_fd());
        }
    }

    fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            self.close(t);
        }
    }

    /// Reads what the client sent, answers once its head is complete, writes what the
    /// socket takes; closes the connection when done or broken.
    fn service(&mut self, token: u64) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let done = match c.answer {
            None => match read_head(c) {
                Ok(Some(head)) => {
                    c.answer = Some(answer(&head, &self.snap, self.mgmt.as_deref()));
                    let _ =
                        self.poller
                            .modify(c.stream.as_raw_fd(), Token(token), Interest::WRITABLE);
                    write_answer(c)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            },
            Some(_) => write_answer(c),
        };
        match done {
            Ok(false) => {}
            Ok(true) => self.close(token),
            Err(e) => {
                tracing::debug!(error = %e, "metrics request failed");
                self.close(token);
            }
        }
    }
}

/// Reads what is available; the request head once it is complete (or the client closed).
fn read_head(c: &mut Conn) -> io::Result<Option<String>> {
    let mut buf = [0u8; 1024];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) if c.head.is_empty() => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"))
            }
            Ok(0) => break,
            Ok(n) => {
                c.head.extend_from_slice(&buf[..n]);
                if c.head.len() > MAX_HEAD {
                    return Ok(Some(String::new()));
                }
                if head_complete(&c.head) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(String::from_utf8_lossy(&c.head).into_owned()))
}

fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// Writes what the socket takes; true once the whole answer is out.
fn write_answer(c: &mut Conn) -> io::Result<bool> {
    let Some(answer) = &c.answer else {
        return Ok(false);
    };
    while c.sent < answer.len() {
        match c.stream.write(&answer[c.sent..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "closed")),
            Ok(n) => c.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The whole HTTP/1.0 answer to a request head (empty head: too large).
fn answer(head: &str, snap: &SharedSnapshot, mgmt: Option<&Path>) -> Vec<u8> {
    if head.is_empty() {
        return respond("431 Request Header Fields Too Large", "text/plain", "");
    }
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = {
                let guard = snap.lock().unwrap_or_else(|e| e.into_inner());
                render(&guard)
            };
            let body = if method == "HEAD" {
                String::new()
            } else {
                body
            };
            respond("200 OK", "text/plain; version=0.0.4; charset=utf-8", &body)
        }
        ("GET" | "HEAD", "/") => respond(
            "200 OK",
            "text/plain; charset=utf-8",
            "l2tpd: metrics at /metrics\n",
        ),
        ("GET" | "HEAD", p) if p.starts_with("/sessions/") => match (mgmt, quality_path(p)) {
            (Some(mgmt), Some((tunnel, session, svg))) => quality(mgmt, tunnel, session, svg),
            _ => respond("404 Not Found", "text/plain", "not found\n"),
        },
        ("GET" | "HEAD", _) => respond("404 Not Found", "text/plain", "not found\n"),
        _ => respond("405 Method Not Allowed", "text/plain", "only GET\n"),
    }
}

/// `/sessions/TID/SID/quality.svg` or `.json`: (TID, SID, whether SVG).
fn quality_path(path: &str) -> Option<(u16, u16, bool)> {
    let mut parts = path.strip_prefix("/sessions/")?.split('/');
    let (tid, sid, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let svg = match file {
        "quality.svg" => true,
        "quality.json" => false,
        _ => return None,
    };
    Some((tid.parse().ok()?, sid.parse().ok()?, svg))
}

/// How long the HTTP thread waits for the event loop's answer.
const MGMT_TIMEOUT: Duration = Duration::from_secs(2);

/// A session's quality, asked of the event loop over the management socket.
fn quality(mgmt: &Path, tunnel: u16, session: u16, svg: bool) -> Vec<u8> {
    let asked = Client::connect(mgmt).and_then(|mut c| {
        c.set_timeout(MGMT_TIMEOUT)?;
        c.request(&Request::Quality { tunnel, session })
    });
    match asked {
        Ok(Response::Quality(q)) if svg => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            respond("200 OK", "image/svg+xml", &quality_svg::render(&q, now))
        }
        Ok(Response::Quality(q)) => respond(
            "200 OK",
            "application/json",
            &serde_json::to_string(&q).unwrap_or_default(),
        ),
        Ok(Response::Error { message }) => {
            respond("404 Not Found", "text/plain", &format!("{message}\n"))
        }
        Ok(_) => respond("502 Bad Gateway", "text/plain", "unexpected answer\n"),
        Err(e) => {
            tracing::debug!(error = %e, "quality graph: management request failed");
            respond("503 Service Unavailable", "text/plain", "daemon busy\n")
        }
    }
}

fn respond(status: &str, ctype: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
