//! The management socket: accepts `l2tpctl` connections and hands their requests to the
//! event loop.
//!
//! The event loop owns all protocol state and never blocks, so it cannot serve sockets
//! itself in a blocking way. Instead:
//!
//! 1. [`MgmtServer::start`] binds the Unix stream socket (mode 0600; a stale socket left by a
//!    dead daemon is removed; if another daemon answers on it, start fails with
//!    `AddrInUse`), and starts an accept thread; each connection gets a small thread that
//!    reads newline-delimited JSON [`Request`]s (see [`l2tp_mgmt`]).
//! 2. Each request becomes a [`PendingRequest`] sent on a channel, and the server's
//!    [`Waker`] (an eventfd) is signalled. The event loop registers [`MgmtServer::waker_fd`]
//!    with its poller; when it is readable it calls [`MgmtServer::drain_waker`] and then
//!    `try_recv`s every pending request.
//! 3. The loop answers with [`PendingRequest::respond`]; the connection thread writes the
//!    [`Response`] line. A loop that does not answer within [`REPLY_TIMEOUT`] produces an
//!    error response instead of a hung client.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use l2tp_mgmt::{Request, Response};
//! let (server, requests) = l2tpd::mgmt_server::MgmtServer::start("/run/l2tpd.sock".as_ref())?;
//! // in the event loop, when server.waker_fd() is readable:
//! server.drain_waker();
//! while let Ok(p) = requests.try_recv() {
//!     let answer = match p.req { Request::Stats => Response::Ok, _ => Response::error("not yet") };
//!     p.respond(answer);
//! }
//! # Ok(()) }
//! ```

use l2tp_io::poller::{Events, Interest, Poller, Token, Waker};
use l2tp_mgmt::{decode_line, encode_line, read_line_bounded, Request, Response, MAX_REQUEST_LINE};
use std::io::{self, BufReader, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection waits for the event loop to answer a request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The same for an upgrade, answered once the new process took over (it may first wait
/// for the new process to start, for RADIUS requests in flight, and for the restore).
pub const UPGRADE_REPLY_TIMEOUT: Duration = Duration::from_secs(40);

/// How long an idle client connection is kept open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Most client connections served at once; more are answered with an error and closed.
pub const MAX_CONNECTIONS: usize = 32;

/// A request waiting for the event loop's answer.
#[derive(Debug)]
pub struct PendingRequest {
    /// What the client asked.
    pub req: Request,
    /// Where the answer goes (use [`PendingRequest::respond`]).
    pub reply: Sender<Response>,
}

impl PendingRequest {
    /// Sends the answer (a client that has gone away is not an error).
    pub fn respond(self, resp: Response) {
        let _ = self.reply.send(resp);
    }
}

struct Shared {
    tx: Sender<PendingRequest>,
    waker: Arc<Waker>,
    /// Wakes the accept thread to stop.
    stop: Waker,
    shutdown: AtomicBool,
    connections: AtomicUsize,
}

/// The running management server; dropping it stops accepting and removes the socket.
pub struct MgmtServer {
    path: PathBuf,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    /// The listening socket (a second handle: handed to a new process on upgrade).
    listener: UnixListener,
    /// Remove the socket file on drop (not while it may still be another process's).
    unlink: Arc<AtomicBool>,
}

impl std::fmt::Debug for MgmtServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgmtServer")
            .field("path", &self.path)
            .finish()
    }
}

/// Prepares `path` for binding: refuses when a daemon answers there, removes a stale socket.
fn clear_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not touching it",
                path.display()
            ),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "another daemon is answering on {}; stop it or use another socket path",
                path.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing stale management socket");
            std::fs::remove_file(path)
        }
        Err(e) => Err(e),
    }
}

impl MgmtServer {
    /// Binds the socket at `path` and starts serving. Requests arrive on the returned
    /// receiver; [`MgmtServer::waker_fd`] becomes readable whenever one is queued.
    pub fn start(path: &Path) -> io::Result<(MgmtServer, Receiver<PendingRequest>)> {
        clear_stale_socket(path)?;
        let listener = UnixListener::bind(path)?;
        // Only root (or the daemon's user) may manage the daemon.
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        let (server, rx) = Self::serve(listener, path)?;
        server.unlink.store(true, Ordering::SeqCst);
        Ok((server, rx))
    }

    /// Serves on a listening socket bound already (handed over by the daemon this process
    /// replaces) at `path`. The socket file is left in place on drop until
    /// [`MgmtServer::owner`] is set (once this process took over).
    pub fn serve(
        listener: UnixListener,
        path: &Path,
    ) -> io::Result<(MgmtServer, Receiver<PendingRequest>)> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            tx,
            waker: Arc::new(Waker::new()?),
            stop: Waker::new()?,
            shutdown: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
        });
        listener.set_nonblocking(true)?;
        let handle = listener.try_clone()?;
        let s2 = shared.clone();
        let accept = std::thread::Builder::new()
            .name("l2tpd-mgmt".into())
            .spawn(move || accept_loop(listener, s2))?;
        Ok((
            MgmtServer {
                path: path.to_path_buf(),
                shared,
                accept: Some(accept),
                listener: handle,
                unlink: Arc::new(AtomicBool::new(false)),
            },
            rx,
        ))
    }

    /// Set to make this server remove its socket file when dropped.
    pub fn owner(&self) -> Arc<AtomicBool> {
        self.unlink.clone()
    }

    /// The listening socket (for a hand-over).
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// The eventfd to register (readable) with the event loop's poller.
    pub fn waker_fd(&self) -> RawFd {
        self.shared.waker.as_raw_fd()
    }

    /// Resets the waker; call before draining the receiver so no wake-up is lost.
    pub fn drain_waker(&self) {
        self.shared.waker.drain();
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MgmtServer {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.stop.wake();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        if self.unlink.load(Ordering::SeqCst) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    const LISTENER: Token = Token(0);
    const STOP: Token = Token(1);
    let poller = match Poller::new().and_then(|p| {
        p.register(listener.as_raw_fd(), LISTENER, Interest::READABLE)?;
        p.register(shared.stop.as_raw_fd(), STOP, Interest::READABLE)?;
        Ok(p)
    }) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "management server cannot poll; not serving");
            return;
        }
    };
    let mut events = Events::with_capacity(4);
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = poller.wait(&mut events, Some(Duration::from_secs(1))) {
            tracing::warn!(error = %e, "management poll failed");
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        // Accept everything queued (bounded: the backlog is finite, and errors stop the round).
        for _ in 0..64 {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "management accept failed");
                    // Bounded back-off so a persistent error (EMFILE) does not spin.
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            };
            spawn_connection(stream, &shared);
        }
    }
}

fn spawn_connection(stream: UnixStream, shared: &Arc<Shared>) {
    // The listener is nonblocking; connections are served blocking, with timeouts.
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        shared.connections.fetch_sub(1, Ordering::SeqCst);
        let mut s = stream;
        let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
        if let Ok(line) = encode_line(&Response::error("too many management connections")) {
            let _ = s.write_all(line.as_bytes());
        }
        return;
    }
    let s2 = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("l2tpd-mgmt-conn".into())
        .spawn(move || {
            if let Err(e) = serve_connection(stream, &s2) {
                tracing::debug!(error = %e, "management connection ended");
            }
            s2.connections.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        shared.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve_connection(stream: UnixStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return Ok(());
        }
        let line = match read_line_bounded(&mut reader, MAX_REQUEST_LINE) {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let resp = Response::error(format!("malformed request: {e}"));
                writer.write_all(encode_line(&resp).map_err(io::Error::other)?.as_bytes())?;
                // The rest of an overlong line cannot be resynchronised: close.
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if line.trim().is_empty() {
            continue;
        }
        let resp = match decode_line::<Request>(&line) {
            Err(e) => Response::error(format!("malformed request: {e}")),
            Ok(req) => ask_event_loop(req, shared),
        };
        let out = encode_line(&resp).map_err(io::Error::other)?;
        writer.write_all(out.as_bytes())?;
    }
}

fn ask_event_loop(req: Request, shared: &Shared) -> Response {
    let (reply_tx, reply_rx) = mpsc::channel();
    let timeout = if matches!(req, Request::Upgrade { .. }) {
        UPGRADE_REPLY_TIMEOUT
    } else {
        REPLY_TIMEOUT
    };
    if shared
        .tx
        .send(PendingRequest {
            req,
            reply: reply_tx,
        })
        .is_err()
    {
        return Response::error("l2tpd is shutting down");
    }
    shared.waker.wake();
    match reply_rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => Response::error(format!(
            "l2tpd did not answer within {} s",
            timeout.as_secs()
        )),
        Err(RecvTimeoutError::Disconnected) => {
            Response::error("l2tpd dropped the request without answering")
        }
    }
}
