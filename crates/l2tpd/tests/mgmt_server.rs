//! The management server against a fake event loop, through the real client.

use l2tp_io::poller::{Events, Interest, Poller, Token};
use l2tp_mgmt::{
    Client, ControlCounters, DatapathCounters, Request, Response, SessionOption, TunnelInfo,
};
use l2tpd::mgmt_server::{MgmtServer, PendingRequest};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Duration;

fn sock_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("l2tpd-mgmt-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn tunnel(id: u16) -> TunnelInfo {
    TunnelInfo {
        local_id: id,
        peer_id: 100 + id,
        local_addr: "127.0.0.1:1701".into(),
        peer_addr: "127.0.0.1:40000".into(),
        peer_host_name: Some("lac".into()),
        state: "established".into(),
        sessions: 1,
        uptime_s: 42,
        debug: 0,
        control: ControlCounters {
            sent: 5,
            ..Default::default()
        },
        stats: DatapathCounters::default(),
        failover: Default::default(),
    }
}

/// A stand-in for the daemon's event loop: waits on the waker with a real poller and answers
/// from a fixed table. Stops after `max_requests` requests or 10 s.
fn fake_event_loop(
    server: MgmtServer,
    rx: Receiver<PendingRequest>,
    max_requests: usize,
) -> std::thread::JoinHandle<Vec<Request>> {
    std::thread::spawn(move || {
        let poller = Poller::new().unwrap();
        poller
            .register(server.waker_fd(), Token(9), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(8);
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.len() < max_requests && std::time::Instant::now() < deadline {
            poller
                .wait(&mut events, Some(Duration::from_millis(200)))
                .unwrap();
            if events.iter().any(|e| e.token == Token(9)) {
                server.drain_waker();
            }
            while let Ok(p) = rx.try_recv() {
                seen.push(p.req.clone());
                let answer = match &p.req {
                    Request::ListTunnels => Response::Tunnels(vec![tunnel(1), tunnel(2)]),
                    Request::ShowTunnel { id: 1 } => Response::Tunnel(tunnel(1)),
                    Request::ShowTunnel { id } => Response::error(format!("no tunnel {id}")),
                    Request::SetSessionOption { .. } => Response::Ok,
                    Request::Stats => {
                        // Simulate a loop that drops a request without answering.
                        drop(p);
                        continue;
                    }
                    _ => Response::error("unsupported"),
                };
                p.respond(answer);
            }
        }
        drop(server);
        seen
    })
}

#[test]
fn requests_reach_the_event_loop_and_answers_come_back() {
    let path = sock_path("roundtrip");
    let (server, rx) = MgmtServer::start(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket must be owner-only");
    let lp = fake_event_loop(server, rx, 6);

    let mut c = Client::connect(&path).unwrap();
    match c.request(&Request::ListTunnels).unwrap() {
        Response::Tunnels(t) => {
            assert_eq!(t.iter().map(|t| t.local_id).collect::<Vec<_>>(), [1, 2])
        }
        other => panic!("{other:?}"),
    }
    // Same connection, more requests.
    assert_eq!(
        c.request(&Request::ShowTunnel { id: 1 }).unwrap(),
        Response::Tunnel(tunnel(1))
    );
    assert_eq!(
        c.request(&Request::ShowTunnel { id: 7 }).unwrap(),
        Response::error("no tunnel 7")
    );
    // A second client at the same time.
    let mut c2 = Client::connect(&path).unwrap();
    let opt = Request::SetSessionOption {
        tunnel: 1,
        session: 2,
        option: SessionOption::ReorderTimeout(100),
    };
    assert_eq!(c2.request(&opt).unwrap(), Response::Ok);
    // A request the loop drops gets an error, not a hang.
    match c2.request(&Request::Stats).unwrap() {
        Response::Error { message } => assert!(message.contains("without answering"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.request(&Request::ListSessions).unwrap(),
        Response::error("unsupported")
    );

    let seen = lp.join().unwrap();
    assert_eq!(seen.len(), 6);
    assert!(seen.contains(&opt));
    assert!(!path.exists(), "dropping the server removes the socket");
}

#[test]
fn malformed_lines_get_an_error_and_the_connection_survives() {
    let path = sock_path("malformed");
    let (server, rx) = MgmtServer::start(&path).unwrap();
    let lp = fake_event_loop(server, rx, 1);
    let s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(b"this is not json\n{\"request\":\"reboot\"}\n")
        .unwrap();
    for _ in 0..2 {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.contains("malformed request"), "{line}");
    }
    w.write_all(b"{\"request\":\"show_tunnel\",\"id\":1}\n")
        .unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"local_id\":1"), "{line}");
    lp.join().unwrap();
}

#[test]
fn stale_socket_is_replaced_and_a_live_daemon_is_not() {
    let path = sock_path("stale");
    // A socket file left behind by a dead daemon: bound, then the listener dropped.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (server, _rx) = MgmtServer::start(&path).expect("stale socket replaced");

    // A second daemon on the same path must refuse to start and leave the first alone.
    let e = MgmtServer::start(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    assert!(
        UnixStream::connect(&path).is_ok(),
        "first daemon still reachable"
    );
    drop(server);
    assert!(!path.exists());
}

#[test]
fn a_regular_file_at_the_socket_path_is_not_deleted() {
    let path = sock_path("regular");
    std::fs::write(&path, "precious").unwrap();
    let e = MgmtServer::start(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_stopped_event_loop_yields_errors_not_hangs() {
    let path = sock_path("stopped");
    let (server, rx) = MgmtServer::start(&path).unwrap();
    drop(rx);
    let mut c = Client::connect(&path).unwrap();
    match c.request(&Request::ListTunnels).unwrap() {
        Response::Error { message } => assert!(message.contains("shutting down"), "{message}"),
        other => panic!("{other:?}"),
    }
    drop(server);
}

#[test]
fn connections_beyond_the_limit_are_refused_politely() {
    use l2tpd::mgmt_server::MAX_CONNECTIONS;
    let path = sock_path("limit");
    let (server, _rx) = MgmtServer::start(&path).unwrap();
    // Idle connections up to the limit are held open by their serving threads.
    let held: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    // The accept thread counts them as it accepts; give it a bounded moment.
    let mut refused = None;
    for _ in 0..100 {
        let s = UnixStream::connect(&path).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut line = String::new();
        if BufReader::new(&s).read_line(&mut line).is_ok() && !line.is_empty() {
            refused = Some(line);
            break;
        }
    }
    let line = refused.expect("connection over the limit gets an answer");
    assert!(line.contains("too many management connections"), "{line}");
    drop(held);
    drop(server);
}
