//! Shutdown as a peer sees it (RFC 2661 §5.7): an LNS node told to stop sends one StopCCN
//! per tunnel, and when the peer answers with a StopCCN of its own (both sides closing, as
//! some LACs do), that StopCCN is acknowledged before the node is done: otherwise the peer
//! retransmits it into a closed port for a full retransmission cycle.
//!
//! In-process, no root: the LNS is a [`Node`] terminating IP itself, on 127.0.0.1; the LAC is
//! the control-plane engine over a UDP socket of the test, scripted at the end. Every wait is
//! bounded.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use l2tp_proto::control::{CallParams, Endpoint, EndpointConfig, Event, TunnelOptions};
use l2tp_proto::data::{DatapathConfig, SessionOptions};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{encode_packet, ControlMessage, Header, SeqNum, SessionId, StopCcn, TunnelId};
use l2tpd::leases::Ipv4Leases;
use l2tpd::node::{IpMode, LnsSettings, Node, NodeConfig, RoleSettings};
use l2tpd::pool::{Ipv4Pool, Ipv4PoolSpec};
use l2tpd::users::Users;
use rand::SeedableRng;

const CALLS: usize = 20;
const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn lns_config() -> NodeConfig {
    NodeConfig {
        name: "lns".into(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        endpoint: EndpointConfig {
            host_name: "lns".into(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: None,
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_establish_timeout: None,
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        role: RoleSettings::Lns(Box::new(LnsSettings {
            auth_methods: vec![ppp::AuthMethod::ChapMd5],
            local_ipv4: LOCAL,
            dns: [None, None],
            users: Users::new(),
            pool: Ipv4Leases::new(
                Ipv4Pool::new(Ipv4PoolSpec::Range {
                    first: Ipv4Addr::new(203, 0, 113, 10),
                    last: Ipv4Addr::new(203, 0, 113, 60),
                }),
                LOCAL,
                [],
            ),
            max_sessions: 0,
            ipv6: false,
            ipv6_pool: None,
            allowed_peers: Vec::new(),
            max_tunnels: 0,
            session_timeout: None,
            idle_timeout: None,
            proxy: Default::default(),
            peer_policies: Vec::new(),
        })),
        seed: Some(7),
        ip_mode: IpMode::App,
    }
}

fn message_type(d: &[u8]) -> Option<(SeqNum, SeqNum, Option<ControlMessage>)> {
    let h = Header::decode(d).ok()?;
    if !h.header.is_control() {
        return None;
    }
    let s = h.header.sequence?;
    let m = (!h.payload.is_empty())
        .then(|| ControlMessage::decode(h.payload, None).ok())
        .flatten();
    Some((s.ns, s.nr, m))
}

#[test]
fn the_peers_stopccn_is_acknowledged_and_ours_is_sent_once() {
    // The LNS runs in its own thread until told to stop, then shuts down.
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = mpsc::channel();
    let lns_stop = stop.clone();
    let lns = std::thread::spawn(move || {
        let mut node = Node::new(lns_config()).expect("LNS binds");
        addr_tx.send(node.local_addr()).unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        while !lns_stop.load(Ordering::Relaxed) && Instant::now() < end {
            node.step(Duration::from_millis(20)).unwrap();
        }
        node.shutdown(Duration::from_secs(3)).unwrap();
    });
    let lns_addr: SocketAddr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let me = sock.local_addr().unwrap();
    let mut lac = Endpoint::new(
        EndpointConfig {
            host_name: "lac".into(),
            ..EndpointConfig::default()
        },
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    );
    let t0 = Instant::now();
    let tid = lac
        .open_tunnel(t0, me, lns_addr, TunnelOptions::default())
        .unwrap();
    let mut lns_tunnel = TunnelId(0);
    let mut up = 0;
    let mut buf = vec![0u8; 4096];
    // Tunnel and calls up (PPP frames from the LNS are ignored: the calls are what counts).
    while up < CALLS && t0.elapsed() < Duration::from_secs(30) {
        let now = Instant::now();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            lac.handle_datagram(now, me, from, &buf[..n]);
        }
        lac.handle_timeout(Instant::now());
        while let Some(ev) = lac.poll_event() {
            match ev {
                Event::TunnelUp { peer_tunnel, .. } => {
                    lns_tunnel = peer_tunnel;
                    for _ in 0..CALLS {
                        lac.place_incoming_call(now, tid, CallParams::default())
                            .unwrap();
                    }
                }
                Event::SessionUp { .. } => up += 1,
                _ => {}
            }
        }
        while let Some(t) = lac.poll_transmit() {
            sock.send_to(&t.payload, t.to).unwrap();
        }
    }
    assert_eq!(up, CALLS, "calls up");
    // Let the last acknowledgements settle, then stop the LNS.
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        let now = Instant::now();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            lac.handle_datagram(now, me, from, &buf[..n]);
        }
        lac.handle_timeout(now);
        while let Some(t) = lac.poll_transmit() {
            sock.send_to(&t.payload, t.to).unwrap();
        }
    }
    let our_ns = SeqNum(lac.tunnel_info(tid).unwrap().counters.tx_messages as u16);
    stop.store(true, Ordering::Relaxed);

    // From now on the LAC is scripted: it answers the LNS's StopCCN with its own.
    let mut stopccns_from_lns = Vec::new();
    let mut acked_ours = false;
    let mut answered = false;
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            if lns.is_finished() && answered {
                break;
            }
            continue;
        };
        let Some((ns, nr, msg)) = message_type(&buf[..n]) else {
            continue;
        };
        if let Some(ControlMessage::StopCcn(_)) = msg {
            stopccns_from_lns.push(ns);
            if !answered {
                answered = true;
                let m: ControlMessage = StopCcn {
                    assigned_tunnel_id: tid,
                    result_code: ResultCode::with_error(
                        ResultCode::STOPCCN_SHUTTING_DOWN,
                        0,
                        Some("closing too"),
                    ),
                    unknown: vec![],
                }
                .into();
                let h = Header::control(lns_tunnel, SessionId::NONE, our_ns, ns.next());
                sock.send_to(&encode_packet(&h, &m, None).unwrap(), lns_addr)
                    .unwrap();
            }
        } else if answered && nr == our_ns.next() {
            acked_ours = true;
        }
    }
    lns.join().unwrap();
    assert_eq!(
        stopccns_from_lns.len(),
        1,
        "StopCCNs from the LNS: {stopccns_from_lns:?}"
    );
    assert!(acked_ours, "the LNS did not acknowledge our StopCCN");
}
