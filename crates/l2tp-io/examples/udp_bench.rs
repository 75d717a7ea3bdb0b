//! End-to-end datapath benchmark on real loopback UDP sockets.
//!
//! A sender thread pushes PPP frames through our encapsulation (`Datapath::encapsulate`,
//! header written in front of the frame in a `SendBatch` slot, `sendmmsg`) and a receiver
//! thread decapsulates them (`recvmmsg`, `Datapath::receive`: classify, peer check,
//! sequencing, deliver). The baseline is raw UDP with the same batching, the same buffers and
//! the same payload copy, measured in the same run, case by case, interleaved. Reported:
//! packets per second received, packets received per CPU-second used by the two threads
//! (steadier on a shared machine), and the ratios L2TP / raw UDP.
//!
//! Cases: PPP frame sizes 64 and 1400 bytes, with the kernel offloads off (plain
//! `sendmmsg`/`recvmmsg`) and on (UDP GSO on send, GRO on receive, when the kernel has them).
//! L2TP runs with sequencing off, and on (SENDSEQ on the sender; the receiver, a LAC,
//! follows, REORDERTO 0).
//!
//! ```text
//! cargo run --release -p l2tp-io --example udp_bench -- [--secs 2] [--runs 3] [--batch 64]
//! ```
//! Each case runs `--secs` seconds (after a short warm-up); the table shows the median of
//! `--runs` repetitions. Bounded: 12 cases x runs x (secs + 0.3 s).

use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use l2tp_io::udp::{RecvBatch, SendBatch, UdpOptions, UdpSocket};
use l2tp_proto::data::{
    Datapath, DatapathConfig, RxResult, SessionConfig, SessionOptions, SocketId,
};
use l2tp_wire::{SessionId, TunnelId};

const HEADROOM: usize = 16;
const WARM_UP: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Raw UDP: the same batching, buffers and payload copy, no L2TP.
    Raw,
    /// L2TP, sequencing off.
    L2tp,
    /// L2TP with SENDSEQ on the sender (the receiver, a LAC, follows; REORDERTO 0).
    L2tpSeq,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::L2tp => "l2tp",
            Mode::L2tpSeq => "l2tp+seq",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    size: usize,
    offload: bool,
    mode: Mode,
}

#[derive(Clone, Copy, Debug, Default)]
struct Outcome {
    rx_pps: f64,
    tx_pps: f64,
    /// Packets received per CPU-second used by both threads (user + system: on loopback the
    /// kernel's receive path runs in the sender's syscalls). Less sensitive than `rx_pps` to
    /// other load on the machine.
    rx_per_cpu_s: f64,
    /// Packets the datapath dropped. With sequencing, every packet the receiving socket
    /// lost (buffer overflow) makes the next ones out of order (REORDERTO 0 drops them until
    /// it resynchronises): these are counted here, not as failures.
    drops: u64,
}

struct Args {
    secs: f64,
    runs: usize,
    batch: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        secs: 2.0,
        runs: 3,
        batch: 64,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--secs" => a.secs = v[i + 1].parse().unwrap_or(a.secs),
            "--runs" => a.runs = v[i + 1].parse().unwrap_or(a.runs),
            "--batch" => a.batch = v[i + 1].parse().unwrap_or(a.batch),
            other => eprintln!("ignored argument {other}"),
        }
        i += 2;
    }
    a.secs = a.secs.clamp(0.1, 30.0);
    a.runs = a.runs.clamp(1, 15);
    a.batch = a.batch.clamp(1, 1024);
    a
}

fn run_case(case: Case, secs: f64, batch: usize) -> io::Result<Outcome> {
    let rx_opts = UdpOptions {
        gso: case.offload,
        gro: case.offload,
        recv_buffer: Some(8 << 20),
        ..UdpOptions::default()
    };
    let tx_opts = UdpOptions {
        gso: case.offload,
        gro: false,
        send_buffer: Some(8 << 20),
        ..UdpOptions::default()
    };
    let rx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &rx_opts)?;
    let tx = UdpSocket::bind_with("127.0.0.1:0".parse().unwrap(), &tx_opts)?;
    let (rx_addr, tx_addr) = (rx.local_addr(), tx.local_addr());
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let rx_cpu = Arc::new(AtomicU64::new(0));
    let tx_cpu = Arc::new(AtomicU64::new(0));

    let receiver = {
        let (stop, received, cpu) = (stop.clone(), received.clone(), rx_cpu.clone());
        thread::spawn(move || receive_loop(rx, tx_addr, case, batch, &stop, &received, &cpu))
    };
    let sender = {
        let (stop, sent, cpu) = (stop.clone(), sent.clone(), tx_cpu.clone());
        thread::spawn(move || send_loop(tx, rx_addr, case, batch, &stop, &sent, &cpu))
    };

    thread::sleep(WARM_UP);
    let cpu = || rx_cpu.load(Ordering::Relaxed) + tx_cpu.load(Ordering::Relaxed);
    let (r0, s0, c0, t0) = (
        received.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed),
        cpu(),
        Instant::now(),
    );
    thread::sleep(Duration::from_secs_f64(secs));
    let (r1, s1, c1, dt) = (
        received.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed),
        cpu(),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    let drops = receiver.join().expect("receiver thread")?;
    sender.join().expect("sender thread")?;
    Ok(Outcome {
        rx_pps: (r1 - r0) as f64 / dt,
        tx_pps: (s1 - s0) as f64 / dt,
        rx_per_cpu_s: (r1 - r0) as f64 / ((c1.saturating_sub(c0)) as f64 / 1e9).max(1e-9),
        drops,
    })
}

/// Receives and (for L2TP) decapsulates until told to stop; returns datapath drops.
fn receive_loop(
    rx: UdpSocket,
    peer: SocketAddr,
    case: Case,
    batch: usize,
    stop: &AtomicBool,
    received: &AtomicU64,
    cpu: &AtomicU64,
) -> io::Result<u64> {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer)
        .map_err(io::Error::other)?;
    dp.create_session(SessionConfig::new(
        TunnelId(1),
        SessionId(1),
        TunnelId(2),
        SessionId(2),
        peer,
    ))
    .map_err(io::Error::other)?;
    let mut inb = RecvBatch::for_socket(&rx, batch, 2048);
    let mut errors = 0u64;
    let mut bytes = 0usize;
    while !stop.load(Ordering::Relaxed) {
        match rx.recv_batch(&mut inb) {
            Ok(_) => {
                let now = Instant::now();
                let mut n = 0;
                for (from, d) in inb.datagrams() {
                    if case.mode != Mode::Raw {
                        match dp.receive(now, from, d) {
                            RxResult::Deliver { frame, .. } => {
                                bytes += d[frame][0] as usize;
                                n += 1;
                            }
                            RxResult::Queued { .. } => {}
                            _ => errors += 1,
                        }
                        while let Some(x) = dp.poll_deliver() {
                            bytes += x.frame.len();
                            n += 1;
                            dp.recycle(x.frame);
                        }
                    } else {
                        bytes += d[0] as usize;
                        n += 1;
                    }
                }
                received.fetch_add(n, Ordering::Relaxed);
                cpu.store(thread_cpu_ns(), Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                rx.poll_readable(Some(Duration::from_millis(10)))?;
            }
            Err(e) => return Err(e),
        }
    }
    black_box(bytes);
    if case.mode != Mode::Raw {
        let s = dp
            .stats(TunnelId(1), SessionId(1))
            .map_err(io::Error::other)?;
        errors += s.rx_errors;
    }
    Ok(errors)
}

/// Sends batches of frames (encapsulated for L2TP) until told to stop.
fn send_loop(
    tx: UdpSocket,
    dest: SocketAddr,
    case: Case,
    batch: usize,
    stop: &AtomicBool,
    sent: &AtomicU64,
    cpu: &AtomicU64,
) -> io::Result<()> {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(2), SocketId::SHARED, dest)
        .map_err(io::Error::other)?;
    let key = dp
        .create_session(
            SessionConfig::new(TunnelId(2), SessionId(2), TunnelId(1), SessionId(1), dest)
                .with_options(SessionOptions {
                    send_seq: case.mode == Mode::L2tpSeq,
                    lns_mode: true,
                    ..SessionOptions::default()
                }),
        )
        .map_err(io::Error::other)?;
    let frame = vec![0x21u8; case.size];
    let mut out = SendBatch::new(batch, HEADROOM + case.size);
    while !stop.load(Ordering::Relaxed) {
        out.clear();
        while let Some(slot) = out.slot_mut() {
            // The frame arrives in the slot after the headroom (as a TUN read would put it).
            slot[HEADROOM..].copy_from_slice(&frame);
            let (to, range) = if case.mode != Mode::Raw {
                let t = dp
                    .encapsulate(key, slot, HEADROOM, case.size)
                    .map_err(io::Error::other)?;
                (t.peer, t.range)
            } else {
                (dest, HEADROOM..HEADROOM + case.size)
            };
            out.commit(to, range);
        }
        while out.pending() > 0 && !stop.load(Ordering::Relaxed) {
            match tx.send_batch(&mut out) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tx.poll_writable(Some(Duration::from_millis(10)))?;
                }
                Err(e) => return Err(e),
            }
        }
        sent.fetch_add((out.len() - out.pending()) as u64, Ordering::Relaxed);
        cpu.store(thread_cpu_ns(), Ordering::Relaxed);
    }
    Ok(())
}

/// CPU time (user + system) the calling thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always available
    // on Linux.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> io::Result<()> {
    let args = parse_args();
    let probe = UdpSocket::bind_with(
        "127.0.0.1:0".parse().unwrap(),
        &UdpOptions {
            gro: true,
            ..UdpOptions::default()
        },
    )?;
    println!(
        "udp_bench: {} run(s) x {:.1} s per case, batch {}, kernel GSO {}, GRO {}",
        args.runs,
        args.secs,
        args.batch,
        probe.gso_enabled(),
        probe.gro_enabled()
    );
    drop(probe);
    let mut cases = Vec::new();
    for offload in [false, true] {
        for size in [64, 1400] {
            for mode in [Mode::Raw, Mode::L2tp, Mode::L2tpSeq] {
                cases.push(Case {
                    size,
                    offload,
                    mode,
                });
            }
        }
    }
    let mut results: Vec<Vec<Outcome>> = vec![Vec::new(); cases.len()];
    for run in 0..args.runs {
        for (i, c) in cases.iter().enumerate() {
            let o = run_case(*c, args.secs, args.batch)?;
            eprintln!(
                "run {run} size {:>4} offload {:>5} {:>8}: rx {:>10.0} pps, tx {:>10.0} pps, {:>10.0} rx/CPU-s, drops {}",
                c.size,
                c.offload,
                c.mode.name(),
                o.rx_pps,
                o.tx_pps,
                o.rx_per_cpu_s,
                o.drops
            );
            results[i].push(o);
        }
    }
    let table = |title: &str, f: fn(&Outcome) -> f64| {
        println!("\n{title}\n");
        println!("| frame | offload | raw UDP | L2TP | L2TP / raw | L2TP+seq | L2TP+seq / raw |");
        println!("|---:|---|---:|---:|---:|---:|---:|");
        for (c, r) in cases.chunks(3).zip(results.chunks(3)) {
            let med = |k: usize| median(r[k].iter().map(f).collect());
            // Median of the per-run ratios (each run measures raw and L2TP back to back).
            let ratio = |k: usize| {
                median(
                    r[0].iter()
                        .zip(&r[k])
                        .map(|(a, b)| f(b) / f(a).max(1.0))
                        .collect(),
                )
            };
            println!(
                "| {} B | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |",
                c[0].size,
                if c[0].offload { "GSO+GRO" } else { "none" },
                med(0),
                med(1),
                ratio(1),
                med(2),
                ratio(2),
            );
        }
    };
    table("Received packets per second (wall clock):", |o| o.rx_pps);
    table(
        "Received packets per CPU-second of the sender and receiver threads:",
        |o| o.rx_per_cpu_s,
    );
    let drops: u64 = results.iter().flatten().map(|o| o.drops).sum();
    println!("\ndatapath drops (sequencing after socket-buffer losses): {drops}");
    Ok(())
}
