//! Host names resolved off the event loop: a thread runs the system resolver (which may
//! block for seconds) and hands results back through a channel, waking the poller. Started
//! on the first request; one request at a time is plenty for a client dialling its LNS.

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use l2tp_io::poller::Waker;

/// A finished resolution: (request id, addresses or why there are none).
pub type Resolution = (u64, Result<Vec<SocketAddr>, String>);

/// The resolver thread's handle.
pub struct Resolver {
    requests: Sender<(u64, String, u16)>,
    results: Receiver<Resolution>,
    waker: Arc<Waker>,
}

impl Resolver {
    /// Starts the thread.
    pub fn start() -> std::io::Result<Resolver> {
        let (req_tx, req_rx) = channel::<(u64, String, u16)>();
        let (res_tx, res_rx) = channel();
        let waker = Arc::new(Waker::new()?);
        let w = waker.clone();
        std::thread::Builder::new()
            .name("l2tpd-resolver".into())
            .spawn(move || {
                // Ends when the node (the request sender) is dropped.
                while let Ok((id, host, port)) = req_rx.recv() {
                    let r = (host.as_str(), port)
                        .to_socket_addrs()
                        .map(|a| a.collect::<Vec<_>>())
                        .map_err(|e| format!("{host}: {e}"))
                        .and_then(|v| {
                            if v.is_empty() {
                                Err(format!("{host}: no address"))
                            } else {
                                Ok(v)
                            }
                        });
                    if res_tx.send((id, r)).is_err() {
                        break;
                    }
                    w.wake();
                }
            })?;
        Ok(Resolver {
            requests: req_tx,
            results: res_rx,
            waker,
        })
    }

    /// Asks for `host:port`; the answer comes back from [`Resolver::poll`] with `id`.
    pub fn resolve(&self, id: u64, host: String, port: u16) {
        let _ = self.requests.send((id, host, port));
    }

    /// A finished resolution, if any.
    pub fn poll(&self) -> Option<Resolution> {
        self.waker.drain();
        self.results.try_recv().ok()
    }

    /// Readable when a result is waiting.
    pub fn waker_fd(&self) -> RawFd {
        self.waker.as_raw_fd()
    }
}
