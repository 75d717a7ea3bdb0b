//! The metrics endpoint over a real TCP connection on 127.0.0.1.

use l2tpd::metrics::{MetricsServer, Snapshot};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn get(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn scrape_sees_what_the_event_loop_published() {
    let shared = Arc::new(Mutex::new(Snapshot::default()));
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), shared.clone()).unwrap();
    let addr = server.local_addr();

    let r = get(addr, "GET /metrics HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.0 200 OK\r\n"), "{r}");
    assert!(r.contains("Content-Type: text/plain; version=0.0.4"), "{r}");
    assert!(r.contains("\nl2tpd_tunnels 0\n"), "{r}");

    // The loop publishes a new snapshot; the next scrape shows it.
    {
        let mut s = shared.lock().unwrap();
        s.stats.role = "lns".into();
        s.stats.tunnels = 3;
        s.stats.datapath.rx_packets = 77;
    }
    let r = get(addr, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.contains("\nl2tpd_tunnels 3\n"), "{r}");
    assert!(r.contains("\nl2tpd_rx_packets_total 77\n"), "{r}");
    let body = r.split("\r\n\r\n").nth(1).unwrap();
    let len: usize = r
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(body.len(), len);

    assert!(get(addr, "GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
    assert!(get(addr, "POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 405"));

    // A client that connects and says nothing does not block the next scrape for long.
    let idle = TcpStream::connect(addr).unwrap();
    let r = get(addr, "GET /metrics HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    drop(idle);

    drop(server);
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "stopped server no longer listens"
    );
}
