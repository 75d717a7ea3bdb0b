//! Debug messages through `tracing`: emitted only for the categories in the tunnel's or the
//! session's mask, and rate-limited so that a flood of packets cannot flood the log.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use l2tp_proto::data::{
    Datapath, DatapathConfig, DebugMask, SessionConfig, SessionKey, SessionOption, SessionOptions,
    SocketId,
};
use l2tp_wire::{Header, SeqNum, Sequence, SessionId, TunnelId};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Counts the events of target `l2tp::data`.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Subscriber for Counter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        if e.metadata().target() == "l2tp::data" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn peer() -> SocketAddr {
    "192.0.2.7:1701".parse().unwrap()
}

fn setup(config: DatapathConfig) -> (Datapath, SessionKey) {
    let mut dp = Datapath::new(config);
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    let key = dp
        .create_session(
            SessionConfig::new(TunnelId(1), SessionId(2), TunnelId(3), SessionId(4), peer())
                .with_options(SessionOptions {
                    send_seq: true,
                    lns_mode: true,
                    ..SessionOptions::default()
                }),
        )
        .unwrap();
    (dp, key)
}

/// A packet without Ns: the LNS (sending Ns) drops it, a SEQ-category event.
fn seqless() -> Vec<u8> {
    Header::data(TunnelId(1), SessionId(2)).encode_with_payload(&[1, 2])
}

#[test]
fn only_enabled_categories_are_logged() {
    let count = Counter::default();
    let n = count.0.clone();
    tracing::subscriber::with_default(count, || {
        let (mut dp, key) = setup(DatapathConfig::default());
        let now = Instant::now();
        dp.receive(now, peer(), &seqless());
        assert_eq!(n.load(Ordering::Relaxed), 0, "mask empty: silent");
        dp.set_option(key, SessionOption::Debug(DebugMask::DATA))
            .unwrap();
        dp.receive(now, peer(), &seqless());
        assert_eq!(n.load(Ordering::Relaxed), 0, "a drop is SEQ, not DATA");
        dp.set_option(key, SessionOption::Debug(DebugMask::SEQ))
            .unwrap();
        dp.receive(now, peer(), &seqless());
        assert_eq!(n.load(Ordering::Relaxed), 1);
        // A delivered frame is DATA.
        let mut h = Header::data(TunnelId(1), SessionId(2));
        h.sequence = Some(Sequence {
            ns: SeqNum(0),
            nr: SeqNum(0),
        });
        dp.set_option(key, SessionOption::Debug(DebugMask::DATA))
            .unwrap();
        dp.receive(now, peer(), &h.encode_with_payload(&[1]));
        assert_eq!(n.load(Ordering::Relaxed), 2);
        // The tunnel's mask covers tunnel-level events: data from a foreign address.
        let stranger: SocketAddr = "192.0.2.99:1701".parse().unwrap();
        dp.receive(now, stranger, &seqless());
        assert_eq!(n.load(Ordering::Relaxed), 2);
        dp.set_tunnel_debug(TunnelId(1), DebugMask::DATA).unwrap();
        dp.receive(now, stranger, &seqless());
        assert_eq!(n.load(Ordering::Relaxed), 3);
        // DEBUG (verbose): data for an unknown session of the tunnel, passed to the control plane.
        let unknown = Header::data(TunnelId(1), SessionId(99)).encode_with_payload(&[1]);
        dp.receive(now, peer(), &unknown);
        assert_eq!(n.load(Ordering::Relaxed), 3);
        dp.set_tunnel_debug(TunnelId(1), DebugMask::DEBUG).unwrap();
        dp.receive(now, peer(), &unknown);
        assert_eq!(n.load(Ordering::Relaxed), 4);
    });
}

#[test]
fn a_flood_is_rate_limited() {
    let count = Counter::default();
    let n = count.0.clone();
    tracing::subscriber::with_default(count, || {
        let (mut dp, key) = setup(DatapathConfig {
            debug_per_sec: 10,
            debug_burst: 20,
            ..DatapathConfig::default()
        });
        dp.set_option(key, SessionOption::Debug(DebugMask::ALL))
            .unwrap();
        // Setting the option is itself a CONTROL message.
        assert_eq!(n.load(Ordering::Relaxed), 1);
        n.store(0, Ordering::Relaxed);
        let t0 = Instant::now();
        let d = seqless();
        for _ in 0..10_000 {
            dp.receive(t0, peer(), &d);
        }
        assert_eq!(n.load(Ordering::Relaxed), 20, "the burst, then silence");
        // Ten seconds of flood at 1000 packets a second: 10 messages a second get through.
        for ms in 1..=10_000u64 {
            dp.receive(t0 + Duration::from_millis(ms), peer(), &d);
        }
        assert_eq!(n.load(Ordering::Relaxed), 20 + 100);
        let s = dp.stats(TunnelId(1), SessionId(2)).unwrap();
        assert_eq!(s.rx_seq_discards, 20_000, "every drop is still counted");
        assert_eq!(dp.counters().debug_suppressed, 20_000 - 120);
    });
}
