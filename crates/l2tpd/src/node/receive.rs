//! The shell's receiving side: UDP datagrams in batches, packets from the TUNs, frames from
//! the kernel datapath's PPP channels, finished name resolutions and management requests, each
//! handed to the core as an `Input`.

use super::*;

impl Node {
    /// Drains a socket in batches (recvmmsg), at most `RX_BUDGET` datagrams per call.
    pub(super) fn receive_datagrams(&mut self, now: Instant, sock: usize) {
        let mut handled = 0;
        while handled < RX_BUDGET {
            match self.sockets[sock].recv_batch(&mut self.rxbatch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(node = %self.name, "UDP receive error: {e}");
                    break;
                }
            }
            self.io_counters.oversized_datagrams += self.rxbatch.truncated() as u64;
            for (from, bytes) in self.rxbatch.datagrams() {
                handled += 1;
                let input = Input::Datagram {
                    socket: sock,
                    from,
                    bytes,
                };
                self.core.handle(now, input);
            }
            // Answers go out per received batch, not per turn: the peer's window (and so the
            // setup rate) is paced by how soon it hears back.
            self.core.end_batch();
            self.drain();
            self.flush();
        }
    }

    /// Reads IP packets from a TUN (a TCP super-packet is cut into segments) into the core.
    pub(super) fn receive_tun(&mut self, now: Instant, token: u64) {
        for _ in 0..RX_BUDGET {
            let Some((tun, source)) = self.tuns.by_token(token) else {
                break;
            };
            // One read: one IP packet, or (offloads on) a TCP super-packet of up to 64 KiB.
            match self.segmenter.read(tun) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::debug!(node = %self.name, "TUN packet dropped: {e}");
                    continue;
                }
                Err(_) => break,
            }
            let segment = self.segmenter.is_segmenting();
            while let Some(packet) = self.segmenter.next_segment() {
                let input = Input::TunPacket {
                    source,
                    packet,
                    segment,
                };
                self.core.handle(now, input);
            }
            self.drain();
        }
    }

    /// What a kernel datapath fd has: control datagrams and PPP frames, into the core.
    pub(super) fn receive_kernel(&mut self, now: Instant, token: u64) {
        let Some(k) = &self.kernel else {
            return;
        };
        let mut rx = std::mem::take(&mut self.kernel_rx);
        k.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .read_ready(token, &mut rx);
        for r in rx.drain(..) {
            let input = match &r {
                KernelRx::Datagram {
                    socket,
                    from,
                    bytes,
                } => Input::Datagram {
                    socket: *socket,
                    from: *from,
                    bytes,
                },
                KernelRx::Frame { key, bytes } => Input::PppFrame {
                    key: *key,
                    frame: bytes,
                },
                KernelRx::PppdExited { key, result, why } => Input::PppProcessExited {
                    key: *key,
                    result: *result,
                    why: why.clone(),
                },
            };
            self.core.handle(now, input);
            self.drain();
        }
        self.kernel_rx = rx;
    }

    pub(super) fn receive_resolutions(&mut self, now: Instant) {
        while let Some((id, result)) = self.resolver.as_ref().and_then(|r| r.poll()) {
            self.core.handle(now, Input::Resolved { id, result });
        }
    }

    pub(super) fn serve_mgmt(&mut self, now: Instant) {
        let Some((server, rx)) = self.mgmt.take() else {
            return;
        };
        server.drain_waker();
        for _ in 0..64 {
            let Ok(p) = rx.try_recv() else {
                break;
            };
            let token = self.next_token;
            self.next_token += 1;
            if matches!(p.req, l2tp_mgmt::Request::Reload) {
                self.reload_requests.push(p);
                continue;
            }
            if matches!(p.req, l2tp_mgmt::Request::Upgrade { .. }) {
                self.upgrade_requests.push(p);
                continue;
            }
            let request = p.req.clone();
            self.pending.insert(token, p);
            self.core.handle(now, Input::Manage { token, request });
            self.drain();
        }
        self.mgmt = Some((server, rx));
    }
}
