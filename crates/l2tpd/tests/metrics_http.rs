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

/// A scrape as Prometheus makes it: its own connection, a 5 s timeout for the whole answer.
fn scrape(addr: SocketAddr) -> Result<String, std::io::Error> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: l2tpd\r\nAccept: text/plain\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn scrapes_are_answered_while_idle_connections_are_held_open() {
    let shared = Arc::new(Mutex::new(Snapshot::default()));
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), shared).unwrap();
    let addr = server.local_addr();
    // Six clients that connect and say nothing, and two that stop halfway through a request.
    let mut idle: Vec<TcpStream> = (0..6).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metr").unwrap();
        idle.push(s);
    }
    // Several scrapers at once, each with its own deadline, while those are held open.
    let scrapers: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || scrape(addr)))
        .collect();
    for t in scrapers {
        let r = t
            .join()
            .unwrap()
            .expect("scrape timed out behind idle connections");
        assert!(r.starts_with("HTTP/1.0 200 OK\r\n"), "{r}");
        assert!(r.contains("\nl2tpd_tunnels 0\n"), "{r}");
    }
    // The idle ones are eventually closed by the server (bounded resources), not served.
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "an idle connection got an answer");
    }
}

#[test]
fn a_flood_of_idle_connections_does_not_lock_scrapers_out() {
    let shared = Arc::new(Mutex::new(Snapshot::default()));
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), shared).unwrap();
    let addr = server.local_addr();
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let r = scrape(addr).expect("scrape behind 200 idle connections");
    assert!(r.starts_with("HTTP/1.0 200 OK\r\n"), "{r}");
    drop(idle);
}
