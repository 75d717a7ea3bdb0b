//! A raw TUN <-> UDP relay: the baseline of `scripts/bench-forward.sh`.
//!
//! Carries IP packets from a TUN device to a UDP peer and back, one IP packet per datagram,
//! with no L2TP and no PPP, through the same `l2tp-io` types the daemon uses (Tun, batched
//! UdpSocket, Poller). Two of these, one in each network namespace, give "raw UDP forwarding
//! between the same two points": comparing the daemon with them isolates what L2TP + PPP cost
//! from what a userspace TUN costs.
//!
//! ```text
//! tun_udp_relay --tun rly0 --mtu 1460 --local 192.0.2.2:1702 --peer 192.0.2.1:1702 [--offload]
//! ```
//!
//! The TUN is opened, given the MTU and brought up; addresses and routes are the caller's
//! (`ip addr add A peer B/32 dev rly0`). With `--offload` the TUN is opened with
//! `IFF_VNET_HDR` and TSO/checksum offloads, as the daemon does: TCP super-packets read from
//! it are segmented in software (`l2tp_io::offload`) and the segments sent with UDP GSO (the
//! socket has GSO and GRO on; every other packet is sent alone), and in-order TCP segments
//! received in one batch are written to the TUN as one GSO packet. Runs until killed.
//! Needs CAP_NET_ADMIN.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use l2tp_io::offload::{self, Coalescer, Segmenter};
use l2tp_io::poller::{Events, Interest, Poller, Token};
use l2tp_io::tun::{Tun, TunOptions};
use l2tp_io::udp::{RecvBatch, SendBatch, UdpOptions, UdpSocket};

/// TUN packets read per wake-up at most (then the UDP side gets its turn).
const TUN_BUDGET: usize = 256;
/// Datagrams per sendmmsg / recvmmsg.
const BATCH: usize = 64;
/// Datagrams received per wake-up at most.
const UDP_BUDGET: usize = 256;

fn main() -> io::Result<()> {
    let mut tun_name = String::from("rly%d");
    let mut mtu = 1460u32;
    let mut local: Option<SocketAddr> = None;
    let mut peer: Option<SocketAddr> = None;
    let mut use_offload = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{a}: value?")))
        };
        match a.as_str() {
            "--tun" => tun_name = val()?,
            "--mtu" => mtu = val()?.parse().map_err(io::Error::other)?,
            "--local" => local = Some(val()?.parse().map_err(io::Error::other)?),
            "--peer" => peer = Some(val()?.parse().map_err(io::Error::other)?),
            "--offload" => use_offload = true,
            _ => {
                eprintln!("usage: tun_udp_relay --tun NAME --mtu M --local ADDR:PORT --peer ADDR:PORT [--offload]");
                std::process::exit(2);
            }
        }
    }
    let (Some(local), Some(peer)) = (local, peer) else {
        eprintln!("--local and --peer are required");
        std::process::exit(2);
    };

    let tun = Tun::open_with(&TunOptions {
        name: Some(tun_name),
        vnet_hdr: use_offload,
        ..TunOptions::default()
    })?;
    if use_offload {
        tun.set_offload(offload::TUN_OFFLOADS)?;
    }
    tun.set_mtu(mtu)?;
    tun.set_up(true)?;
    let mut sock = UdpSocket::bind_with(
        local,
        &UdpOptions {
            gso: use_offload,
            gro: use_offload,
            recv_buffer: Some(8 << 20),
            send_buffer: Some(4 << 20),
            ..UdpOptions::default()
        },
    )?;
    sock.connect(peer)?;
    eprintln!(
        "relay {} <-> {local} -> {peer} (mtu {mtu}, offload {use_offload})",
        tun.name()
    );

    let poller = Poller::new()?;
    poller.register(tun.as_raw_fd(), Token(0), Interest::READABLE)?;
    poller.register(sock.as_raw_fd(), Token(1), Interest::READABLE)?;
    let mut events = Events::with_capacity(8);
    let slot = mtu as usize + 64;
    let mut tx = SendBatch::new(BATCH, slot);
    let mut rx = RecvBatch::for_socket(&sock, BATCH, slot);
    let mut seg = Segmenter::new();
    let mut co = Coalescer::new();
    loop {
        if let Err(e) = poller.wait(&mut events, Some(Duration::from_millis(500))) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for ev in events.iter() {
            match ev.token {
                Token(0) => tun_to_udp(&tun, &sock, &mut tx, &mut seg, use_offload),
                _ => udp_to_tun(&tun, &sock, &mut rx, &mut co, use_offload),
            }
        }
    }
}

/// Reads the TUN straight into the send batch's slots (no copy) and sends full batches.
fn tun_to_udp(tun: &Tun, sock: &UdpSocket, tx: &mut SendBatch, seg: &mut Segmenter, vnet: bool) {
    let peer = sock.peer_addr().expect("connected");
    for _ in 0..TUN_BUDGET {
        if vnet {
            // One read may be a TCP super-packet: segment it into the batch.
            match seg.read(tun) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => continue,
                Err(_) => break,
            }
            // Segments of one super-packet may share a GSO send; anything else goes alone.
            let mergeable = seg.is_segmenting();
            while let Some(p) = seg.next_segment() {
                let push = |tx: &mut SendBatch| {
                    if mergeable {
                        tx.push(peer, p)
                    } else {
                        tx.push_alone(peer, p)
                    }
                };
                if !push(tx) {
                    send(sock, tx);
                    let _ = push(tx);
                }
            }
        } else {
            if tx.is_full() {
                send(sock, tx);
            }
            let Some(buf) = tx.slot_mut() else { break };
            match tun.recv(buf) {
                Ok(n) => {
                    tx.commit(peer, 0..n);
                }
                Err(_) => break,
            }
        }
    }
    send(sock, tx);
}

fn send(sock: &UdpSocket, tx: &mut SendBatch) {
    if tx.pending() > 0 {
        let _ = sock.send_batch(tx);
    }
    tx.clear();
}

/// Writes each received datagram to the TUN; with offloads, runs of in-order TCP segments
/// of one flow within a received batch go as one GSO write.
fn udp_to_tun(tun: &Tun, sock: &UdpSocket, rx: &mut RecvBatch, co: &mut Coalescer, vnet: bool) {
    let mut handled = 0;
    while handled < UDP_BUDGET {
        match sock.recv_batch(rx) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        for (_, d) in rx.datagrams() {
            handled += 1;
            if vnet {
                if co.push(d) {
                    continue;
                }
                write_run(tun, co);
                if co.push(d) {
                    continue;
                }
            }
            let _ = tun.send(d);
        }
        write_run(tun, co);
    }
}

fn write_run(tun: &Tun, co: &mut Coalescer) {
    if let Some((hdr, p)) = co.take() {
        let _ = tun.send_with_header(hdr, p);
    }
}
