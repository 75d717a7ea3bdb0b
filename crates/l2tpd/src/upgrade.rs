//! Hitless upgrade: the running daemon starts a binary (the one on disk, normally a newer
//! build) as a new process and hands it everything it needs to carry on — the UDP sockets,
//! TUN devices, management and metrics listeners (`SCM_RIGHTS` over a socket pair) and a
//! snapshot of the core ([`crate::core::snapshot`]) — then exits once the new process says
//! it took over. The peers see a short pause in data: no StopCCN, no CDN, no LCP
//! renegotiation; control Ns/Nr go on.
//!
//! The exchange, over a Unix stream socket pair whose child end the new process finds in
//! `L2TPD_UPGRADE_FD`:
//!
//! ```text
//!  new → old   ready  {pid, snapshot format version}   (the old one serves until then)
//!  old → new   manifest + descriptors                   (the old one stopped reading)
//!  old → new   snapshot bytes
//!  new → old   ok {tunnels, sessions} | error "why"    (error: the old one resumes)
//! ```
//!
//! Nothing is lost in between: the old process sends what it queued, snapshots, and never
//! reads again; datagrams and TUN packets arriving meanwhile wait in the kernel's queues of
//! the very same sockets and devices, which the new process reads next. Under systemd
//! (`NotifyAccess=main`) the old process tells the manager `MAINPID=` of the new one before
//! it exits, so the service stays up with the new main process.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use l2tp_io::{fdpass, privileges};

use crate::core::snapshot::VERSION;
use crate::node::handover::{Inherited, Manifest};
use crate::node::Node;

/// The environment variable naming the hand-over socket in a new process.
pub const ENV_FD: &str = "L2TPD_UPGRADE_FD";
/// How long the new process has to start and say it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(8);
/// Descriptors sent with one message.
const FDS_PER_FRAME: usize = 100;
/// How long the old process waits, once the new one is ready, for its RADIUS requests in
/// flight to be answered or time out (well under [`TAKEOVER_TIMEOUT`], which the new
/// process waits for the snapshot).
pub const RADIUS_DRAIN: Duration = Duration::from_secs(10);
/// How long the new process has to restore the snapshot and answer.
pub const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
enum Message {
    Ready { pid: u32, version: u32 },
    Manifest(Manifest),
    Ok { tunnels: u64, sessions: u64 },
    Error { message: String },
}

fn send(stream: &UnixStream, m: &Message, fds: &[RawFd]) -> io::Result<()> {
    let bytes = serde_json::to_vec(m).map_err(io::Error::other)?;
    fdpass::send_frame(stream, &bytes, fds)
}

fn recv(stream: &UnixStream) -> io::Result<(Message, Vec<OwnedFd>)> {
    let (bytes, fds) = fdpass::recv_frame(stream)?;
    let m = serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((m, fds))
}

/// What the old process learns from a successful hand-over.
#[derive(Debug, Clone, Copy)]
pub struct TakenOver {
    /// The new process.
    pub pid: u32,
    /// Tunnels and sessions it restored.
    pub tunnels: u64,
    /// Sessions it restored.
    pub sessions: u64,
    /// From the last read here to the new process being ready to read.
    pub pause: Duration,
    /// Snapshot size.
    pub snapshot_bytes: usize,
}

/// The binary this process was started from (resolved at start: after a package upgrade
/// replaced the file, `/proc/self/exe` names the deleted old one).
pub fn own_binary() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
}

/// Old process: starts `binary` with this process's arguments and hands `node` (and the
/// listeners) over. The node keeps serving until the new process is ready. `Ok`: the new
/// process runs; this one must exit without touching the sockets (no StopCCN). `Err`: the
/// node is still this process's, and resumes.
pub fn hand_over(
    node: &mut Node,
    binary: &Path,
    mgmt: Option<&UnixListener>,
    metrics: Option<&std::net::TcpListener>,
) -> Result<TakenOver, String> {
    if let Some(why) = node.hand_over_refusal() {
        return Err(why.into());
    }
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
    let mut child = spawn(binary, &theirs).map_err(|e| format!("{}: {e}", binary.display()))?;
    drop(theirs);
    let r = converse(node, &ours, &mut child, mgmt, metrics);
    if r.is_err() {
        // A new process that failed exits by itself; reap it (bounded), or end it.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    r
}

fn spawn(binary: &Path, theirs: &UnixStream) -> io::Result<Child> {
    let fd = theirs.as_raw_fd();
    fdpass::set_cloexec(fd, false)?;
    // After the switch to `daemon.user` the capabilities kept (CAP_NET_ADMIN: TUNs of new
    // sessions) would not survive the exec of a process that is not root: made ambient for
    // it, and for it only.
    let kept = (privileges::effective_uid() != 0)
        .then(|| privileges::effective_caps().ok())
        .flatten()
        .filter(|caps| *caps != 0);
    if kept.is_some() {
        privileges::pass_on_exec()?;
    }
    let r = Command::new(binary)
        .args(std::env::args_os().skip(1))
        .env(ENV_FD, fd.to_string())
        // systemd's watchdog is for the main process: the new one is, once it took over.
        .env_remove("WATCHDOG_PID")
        .spawn();
    if let Some(caps) = kept {
        let keep: Vec<_> = (0..64)
            .filter(|b| caps & (1 << b) != 0)
            .map(privileges::Capability)
            .collect();
        privileges::keep_only(&keep)?;
    }
    fdpass::set_cloexec(fd, true)?;
    r
}

fn converse(
    node: &mut Node,
    ours: &UnixStream,
    child: &mut Child,
    mgmt: Option<&UnixListener>,
    metrics: Option<&std::net::TcpListener>,
) -> Result<TakenOver, String> {
    // Serve while the new process starts.
    ours.set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let pid = loop {
        match recv(ours) {
            Ok((Message::Ready { pid, version }, _)) => {
                if version != VERSION {
                    return Err(format!(
                        "the new binary reads snapshot format {version}, this one writes {VERSION}"
                    ));
                }
                break pid;
            }
            Ok((Message::Error { message }, _)) => return Err(message),
            Ok(_) => return Err("the new process said something unexpected".into()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                // The new process closed its end: it is exiting; its status says why.
                let deadline = Instant::now() + Duration::from_millis(500);
                let mut status = child.try_wait().ok().flatten();
                while status.is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                    status = child.try_wait().ok().flatten();
                }
                return Err(match status {
                    Some(s) => format!("the new process exited before taking over ({s})"),
                    None => format!("hand-over socket: {e}"),
                });
            }
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "the new process did not get ready within {} s",
                READY_TIMEOUT.as_secs()
            ));
        }
        node.step(Duration::from_millis(10))
            .map_err(|e| e.to_string())?;
    };
    // RADIUS requests in flight are not carried (their answers would reach a client that
    // never sent them): serve until every one is answered or timed out, bounded.
    let drain = Instant::now();
    while node.radius_requests_in_flight() > 0 {
        if drain.elapsed() > RADIUS_DRAIN {
            return Err(format!(
                "{} RADIUS requests still unanswered after {} s",
                node.radius_requests_in_flight(),
                RADIUS_DRAIN.as_secs()
            ));
        }
        node.step(Duration::from_millis(10))
            .map_err(|e| e.to_string())?;
    }
    // From here on nothing is read: what arrives waits for the new process.
    let paused = Instant::now();
    let out = node.hand_over()?;
    let mut manifest = out.manifest;
    let mut fds = out.fds;
    if let Some(l) = mgmt {
        manifest.mgmt = true;
        fds.push(l.as_raw_fd());
    }
    if let Some(l) = metrics {
        manifest.metrics = true;
        fds.push(l.as_raw_fd());
    }
    ours.set_read_timeout(Some(TAKEOVER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    // The manifest with the first descriptors, then frames of more (the kernel passes at
    // most 253 with one message).
    let mut chunks = fds.chunks(FDS_PER_FRAME);
    let first = chunks.next().unwrap_or(&[]);
    send(ours, &Message::Manifest(manifest), first).map_err(|e| format!("hand-over: {e}"))?;
    for chunk in chunks {
        fdpass::send_frame(ours, &[], chunk).map_err(|e| format!("hand-over: {e}"))?;
    }
    fdpass::send_frame(ours, &out.snapshot, &[]).map_err(|e| format!("hand-over: {e}"))?;
    match recv(ours) {
        Ok((Message::Ok { tunnels, sessions }, _)) => Ok(TakenOver {
            pid,
            tunnels,
            sessions,
            pause: paused.elapsed(),
            snapshot_bytes: out.snapshot.len(),
        }),
        Ok((Message::Error { message }, _)) => Err(format!("the new process refused: {message}")),
        Ok(_) => Err("the new process said something unexpected".into()),
        Err(e) => Err(format!("the new process did not confirm: {e}")),
    }
}

/// New process: the hand-over in progress, when this process was started for one.
pub struct Incoming {
    stream: UnixStream,
    /// What the old node handed over.
    pub inherited: Option<Inherited>,
    /// The management socket's listener.
    pub mgmt: Option<UnixListener>,
    /// The metrics endpoint's listener.
    pub metrics: Option<std::net::TcpListener>,
}

impl Incoming {
    /// When `L2TPD_UPGRADE_FD` is set: says ready, receives the descriptors and the snapshot.
    pub fn from_env() -> Result<Option<Incoming>, String> {
        let Some(v) = std::env::var_os(ENV_FD) else {
            return Ok(None);
        };
        std::env::remove_var(ENV_FD);
        let fd: RawFd = v
            .to_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{ENV_FD}: not a descriptor number"))?;
        let stream = fdpass::inherited_stream(fd).map_err(|e| format!("{ENV_FD}: {e}"))?;
        let ready = Message::Ready {
            pid: std::process::id(),
            version: VERSION,
        };
        send(&stream, &ready, &[]).map_err(|e| format!("hand-over: {e}"))?;
        stream
            .set_read_timeout(Some(TAKEOVER_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let (m, mut fds) = recv(&stream).map_err(|e| format!("hand-over: {e}"))?;
        let Message::Manifest(manifest) = m else {
            return Err("hand-over: no manifest".into());
        };
        let expected =
            manifest.node_fds() + usize::from(manifest.mgmt) + usize::from(manifest.metrics);
        while fds.len() < expected {
            let (_, more) = fdpass::recv_frame(&stream).map_err(|e| format!("hand-over: {e}"))?;
            if more.is_empty() {
                return Err("hand-over: descriptors missing".into());
            }
            fds.extend(more);
        }
        let (snapshot, _) = fdpass::recv_frame(&stream).map_err(|e| format!("hand-over: {e}"))?;
        let inherited = Inherited::take(&manifest, &mut fds, snapshot);
        let mut rest = fds.into_iter();
        let mgmt = manifest
            .mgmt
            .then(|| rest.next().map(UnixListener::from))
            .flatten();
        let metrics = manifest
            .metrics
            .then(|| rest.next().map(std::net::TcpListener::from))
            .flatten();
        let mut incoming = Incoming {
            stream,
            inherited: None,
            mgmt,
            metrics,
        };
        match inherited {
            Ok(i) => incoming.inherited = Some(i),
            Err(e) => {
                let msg = format!("hand-over: {e}");
                incoming.refuse(&msg);
                return Err(msg);
            }
        }
        Ok(Some(incoming))
    }

    /// Tells the old process this one took over.
    pub fn confirm(&self, tunnels: usize, sessions: usize) {
        let m = Message::Ok {
            tunnels: tunnels as u64,
            sessions: sessions as u64,
        };
        if let Err(e) = send(&self.stream, &m, &[]) {
            tracing::warn!("upgrade: could not confirm to the old process: {e}");
        }
    }

    /// Tells the old process this one cannot take over (it resumes).
    pub fn refuse(&self, why: &str) {
        let m = Message::Error {
            message: why.into(),
        };
        let _ = send(&self.stream, &m, &[]);
    }
}
