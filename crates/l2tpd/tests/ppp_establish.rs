//! A client whose PPP cannot complete does not hang: against an LNS that acknowledges our LCP
//! Configure-Request but never sends its own, the session is cleared after
//! `ppp.establish_timeout` with a CDN that says so (result 10), and the client dials again.
//!
//! In-process, no root: the client is a [`Node`] terminating IP itself on 127.0.0.1; the LNS
//! is the control-plane engine over a UDP socket of the test plus a few lines of scripted PPP.
//! Every wait is bounded.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use l2tp_proto::control::{Endpoint, EndpointConfig, Event, SessionDownReason};
use l2tp_proto::data::{DatapathConfig, SessionOptions};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{Header, SessionId, TunnelId};
use l2tpd::node::{ClientSettings, DialPeer, IpMode, Node, NodeConfig, RoleSettings};
use rand::SeedableRng;

fn client_config(server: SocketAddr) -> NodeConfig {
    NodeConfig {
        name: "client".into(),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        endpoint: EndpointConfig {
            host_name: "client".into(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: None,
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_establish_timeout: Some(Duration::from_secs(2)),
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        role: RoleSettings::Client(ClientSettings {
            peers: vec![DialPeer::Addr(server)],
            username: "alice".into(),
            password: "secret".into(),
            retry_password: None,
            tunnels: 1,
            sessions: 1,
            redial_initial: Duration::from_secs(1),
            redial_max: Duration::from_secs(4),
            redial: true,
            auth_methods: Vec::new(),
            default_route: false,
            local_port: None,
            outgoing_calls: Default::default(),
        }),
        seed: Some(3),
        ip_mode: IpMode::App,
    }
}

#[test]
fn ppp_that_never_completes_is_cleared_and_redialled() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let me = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = mpsc::channel();
    let client_stop = stop.clone();
    let client = std::thread::spawn(move || {
        let mut node = Node::new(client_config(me)).expect("client binds");
        addr_tx.send(node.local_addr()).unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        while !client_stop.load(Ordering::Relaxed) && Instant::now() < end {
            node.step(Duration::from_millis(20)).unwrap();
        }
        node.counters()
    });
    let client_addr: SocketAddr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let mut lns = Endpoint::new(
        EndpointConfig {
            host_name: "mute-lns".into(),
            ..EndpointConfig::default()
        },
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(9)),
    );
    // Our session id → (peer tunnel, peer session), for the data messages we answer.
    let mut calls: std::collections::HashMap<(TunnelId, SessionId), (TunnelId, SessionId)> =
        Default::default();
    let mut cleared = Vec::new();
    let mut calls_placed = 0;
    let mut lcp_acks = 0;
    let mut buf = vec![0u8; 4096];
    let t0 = Instant::now();
    while (cleared.is_empty() || calls_placed < 2) && t0.elapsed() < Duration::from_secs(25) {
        let now = Instant::now();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let d = &buf[..n];
            match Header::decode(d) {
                Ok(h) if !h.header.is_control() => {
                    // PPP from the client: acknowledge its LCP Configure-Request, send nothing
                    // of our own.
                    let key = (h.header.tunnel_id, h.header.session_id);
                    let p = h.payload;
                    let lcp = if p.starts_with(&[0xff, 0x03]) {
                        &p[2..]
                    } else {
                        p
                    };
                    if lcp.len() > 2 && lcp[..2] == [0xc0, 0x21] && lcp[2] == 1 {
                        if let Some(&(pt, ps)) = calls.get(&key) {
                            let mut ack = vec![0xff, 0x03];
                            ack.extend_from_slice(lcp);
                            ack[4] = 2;
                            let out = Header::data(pt, ps).encode_with_payload(&ack);
                            sock.send_to(&out, from).unwrap();
                            lcp_acks += 1;
                        }
                    }
                }
                Ok(_) => lns.handle_datagram(now, me, from, d),
                Err(_) => {}
            }
        }
        lns.handle_timeout(Instant::now());
        while let Some(ev) = lns.poll_event() {
            match ev {
                Event::SessionUp {
                    tunnel,
                    session,
                    peer_tunnel,
                    peer_session,
                    ..
                } => {
                    calls_placed += 1;
                    calls.insert((tunnel, session), (peer_tunnel, peer_session));
                }
                Event::SessionDown {
                    reason: SessionDownReason::Peer { result, .. },
                    ..
                } => cleared.push(result),
                _ => {}
            }
        }
        while let Some(t) = lns.poll_transmit() {
            sock.send_to(&t.payload, t.to).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let _ = client_addr;
    assert!(
        lcp_acks >= 1,
        "the client's LCP Configure-Request was acknowledged"
    );
    let first = cleared
        .first()
        .expect("the client cleared the call whose PPP never completed");
    assert_eq!(first.result, ResultCode::CDN_TIMEOUT, "{first:?}");
    assert_eq!(
        first.message.as_deref(),
        Some("PPP establishment timed out"),
        "{first:?}"
    );
    assert!(
        calls_placed >= 2,
        "the client dialled again: {calls_placed} calls"
    );
}
