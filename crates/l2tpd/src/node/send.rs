//! The send side of the shell's UDP sockets: datagrams the core emits queued on their
//! socket's `sendmmsg` batch, and a batch sent with its failures counted.

use l2tp_io::udp::{SendBatch, UdpSocket};

use super::{NodeCounters, TX_SLOT};

/// Queues a datagram on its socket's send batch (sent with `sendmmsg` at the end of the
/// batch, or when the batch fills); too big for a batch slot: sent at once.
pub(super) fn queue_datagram(
    sockets: &[UdpSocket],
    batches: &mut [SendBatch],
    counters: &mut NodeCounters,
    t: &crate::core::Transmit,
    datagram: &[u8],
) {
    let sock = t.socket.min(sockets.len() - 1);
    if datagram.len() > TX_SLOT {
        if let Err(e) = sockets[sock].send_to(datagram, t.to) {
            counters.send_errors += 1;
            tracing::debug!(to = %t.to, "send failed: {e}");
        }
        return;
    }
    let push = |b: &mut SendBatch| {
        if t.mergeable {
            b.push(t.to, datagram)
        } else {
            b.push_alone(t.to, datagram)
        }
    };
    if !push(&mut batches[sock]) {
        flush_socket(&sockets[sock], &mut batches[sock], counters);
        let _ = push(&mut batches[sock]);
    }
}

/// Sends what one socket's batch holds.
pub(super) fn flush_socket(socket: &UdpSocket, batch: &mut SendBatch, counters: &mut NodeCounters) {
    if batch.pending() > 0 {
        if let Err(e) = socket.send_batch(batch) {
            // The socket buffer is full (8 MiB): what is left is dropped, as UDP would.
            counters.send_errors += batch.pending() as u64;
            tracing::debug!("send batch: {e}");
        }
    }
    if batch.failed() > 0 {
        counters.send_errors += batch.failed() as u64;
        if let Some(e) = batch.last_error() {
            tracing::debug!("datagrams refused by the kernel: {e}");
        }
    }
    batch.clear();
}
