//! Dynamic authorization against FreeRADIUS's `radclient`: Disconnect-Request and
//! CoA-Request to a listener running our DAE core; radclient must see the ACK/NAK (it
//! verifies our authenticators), we must see the parsed request; wrong secrets, foreign
//! NAS names and a flood from an unconfigured client have no effect but counters.

mod support;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use l2tp_radius::crypt::sign_request;
use l2tp_radius::dae::{DaeClient, DaeConfig, DaeKind, DaeRequest, DaeServer, ErrorCause};
use l2tp_radius::reply::{RateLimit, RateLimitAttr};
use l2tp_radius::request::NasIdentity;
use l2tp_radius::shell::UdpDaeServer;
use l2tp_radius::{Attr, AttrType, Code, Packet, Secret};

const DAE_SECRET: &str = "dae-test-secret";

fn listener(client: &str) -> UdpDaeServer {
    let core = DaeServer::new(DaeConfig {
        clients: vec![DaeClient {
            addr: client.parse().unwrap(),
            secret: Secret::new(DAE_SECRET),
        }],
        nas: NasIdentity {
            ip: Some("192.0.2.2".parse().unwrap()),
            ipv6: None,
            identifier: Some("lns-dae".into()),
        },
        require_message_authenticator: true,
        event_timestamp_window: Duration::from_secs(300),
        require_event_timestamp: false,
        rate_limit: Some(RateLimitAttr::FilterId {
            prefix: "rate=".into(),
        }),
    });
    UdpDaeServer::bind("127.0.0.1:0".parse().unwrap(), core).unwrap()
}

/// Runs radclient with `input` (attribute lines; blank line between packets); its stdout.
fn radclient(to: SocketAddr, command: &str, secret: &str, input: &str, extra: &[&str]) -> String {
    let mut child = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "1"])
        .args(extra)
        .arg(to.to_string())
        .arg(command)
        .arg(secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn radclient");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn radclient_disconnect_and_coa() {
    if !support::can_run("radclient_disconnect_and_coa") {
        return;
    }
    let mut srv = listener("127.0.0.1");
    let addr = srv.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<DaeRequest>();
    let serving = thread::spawn(move || {
        let n = srv
            .serve(Duration::from_secs(30), 3, |r| {
                tx.send(r.clone()).unwrap();
                match (r.kind, r.selector.acct_session_id.as_deref()) {
                    (DaeKind::Disconnect, Some("sess-1")) => Ok(()),
                    (DaeKind::Coa, _) if r.selector.framed_ip.is_some() => Ok(()),
                    _ => Err(ErrorCause::SessionContextNotFound),
                }
            })
            .unwrap();
        (n, srv)
    });

    let ma = "Message-Authenticator = 0x00";
    let out = radclient(
        addr,
        "disconnect",
        DAE_SECRET,
        &format!("Acct-Session-Id = \"sess-1\"\nUser-Name = \"alice\"\n{ma}\n"),
        &[],
    );
    assert!(out.contains("Received Disconnect-ACK"), "{out}");
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (r.kind, r.selector.user_name.as_deref()),
        (DaeKind::Disconnect, Some("alice"))
    );

    let out = radclient(
        addr,
        "disconnect",
        DAE_SECRET,
        &format!("Acct-Session-Id = \"sess-404\"\n{ma}\n"),
        &[],
    );
    assert!(out.contains("Received Disconnect-NAK"), "{out}");
    assert!(out.contains("Session-Context-Not-Found"), "{out}");
    rx.recv_timeout(Duration::from_secs(5)).unwrap();

    // Refused by the core before the daemon sees them.
    let out = radclient(
        addr,
        "disconnect",
        DAE_SECRET,
        &format!("Acct-Session-Id = \"sess-1\"\nNAS-Identifier = \"another-nas\"\n{ma}\n"),
        &[],
    );
    assert!(
        out.contains("Received Disconnect-NAK") && out.contains("NAS-Identification-Mismatch"),
        "{out}"
    );
    let out = radclient(
        addr,
        "disconnect",
        "wrong-secret",
        &format!("Acct-Session-Id = \"sess-1\"\n{ma}\n"),
        &[],
    );
    assert!(
        !out.contains("Received Disconnect"),
        "a request with the wrong secret gets no answer: {out}"
    );

    let out =
        radclient(
            addr,
            "coa",
            DAE_SECRET,
            &format!(
            "Framed-IP-Address = 192.0.2.10\nSession-Timeout = 120\nFilter-Id = \"rate=20M/5M\"\n\
             Event-Timestamp = {}\n{ma}\n",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        ),
            &[],
        );
    assert!(out.contains("Received CoA-ACK"), "{out}");
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(r.kind, DaeKind::Coa);
    assert_eq!(r.selector.framed_ip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(r.changes.session_timeout, Some(Duration::from_secs(120)));
    assert_eq!(
        r.changes.rate_limit,
        Some(RateLimit {
            down_bps: 20_000_000,
            up_bps: 5_000_000
        })
    );

    let (served, srv) = serving.join().unwrap();
    assert_eq!(served, 3);
    let k = srv.core.counters();
    assert_eq!((k.disconnect_requests, k.coa_requests), (2, 1), "{k:?}");
    assert_eq!((k.acks, k.naks), (2, 2), "{k:?}");
    assert!(k.bad_authenticator >= 1, "{k:?}");
}

#[test]
fn a_flood_from_an_unconfigured_client_has_no_effect() {
    // Only 192.0.2.9 may send; the flood comes from 127.0.0.1, correctly signed with the
    // right secret even, so only the source address gives it away.
    let mut srv = listener("192.0.2.9");
    let addr = srv.local_addr().unwrap();
    let serving = thread::spawn(move || {
        let n = srv
            .serve(Duration::from_secs(2), 1000, |_| {
                panic!("no request may reach the daemon")
            })
            .unwrap();
        (n, srv)
    });
    let mut p = Packet::new(Code::DISCONNECT_REQUEST, 0, [0; 16]);
    p.push(Attr::new(AttrType::MESSAGE_AUTHENTICATOR, [0u8; 16]));
    p.push(Attr::new(AttrType::ACCT_SESSION_ID, "sess-1"));
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for i in 0..1000u32 {
        p.id = i as u8;
        let mut b = p.encode().unwrap();
        sign_request(&mut b, &Secret::new(DAE_SECRET));
        flood.send_to(&b, addr).unwrap();
        if i % 50 == 49 {
            // Let the listener keep up so the socket buffer drops nothing.
            thread::sleep(Duration::from_millis(20));
        }
    }
    let mut buf = [0u8; 100];
    assert!(
        flood.recv_from(&mut buf).is_err(),
        "no answer to an unknown client"
    );
    let (served, srv) = serving.join().unwrap();
    assert_eq!(served, 0);
    let k = srv.core.counters();
    assert_eq!(k.unknown_client, 1000, "{k:?}");
    assert_eq!((k.acks, k.naks, k.disconnect_requests), (0, 0, 0));
}
