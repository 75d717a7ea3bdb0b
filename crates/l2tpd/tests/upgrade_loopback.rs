//! Hitless upgrade without root: an LNS on 127.0.0.1 with no TUN (`interface_mode =
//! "none"`) and `l2tpd loadgen` sessions; the management request hands the LNS over to a
//! second copy of the binary and every session is still there, same ids and addresses, in
//! the new process. An LNS whose RADIUS requests stay unanswered refuses and keeps running (the
//! FreeRADIUS upgrade is in `radius_lns`).
//! (With TUNs, a client daemon and a ping, as root: `upgrade_e2e`.)

mod support;
use support::{request, sessions, start_lns, wait_sessions_up, Proc, TempDir};

use std::path::Path;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// (tunnel, session, address, state) of every session, sorted.
fn session_set(sock: &Path) -> Vec<(u16, u16, Option<std::net::Ipv4Addr>, String)> {
    let mut v: Vec<_> = sessions(sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4, s.state))
        .collect();
    v.sort();
    v
}

/// Ends a process that is not our child (the new LNS), by pid, and waits (bounded).
struct Adopted(u32);

impl Drop for Adopted {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(8);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
        }
    }
}

#[test]
fn loadgen_sessions_survive_an_upgrade_on_loopback() {
    let dir = TempDir::new("upgrade-lo");
    let (mut lns, server, sock) = start_lns(&dir.0, "");
    let loadgen = Proc::loadgen(&dir.0, server, 2, 10, 120);
    wait_sessions_up(&sock, 20, &|| loadgen.log_tail());
    let before = session_set(&sock);
    assert_eq!(before.len(), 20);
    let second = dir.0.join("l2tpd-second");
    std::fs::copy(L2TPD, &second).expect("a second copy of the binary");

    let resp = request(
        &sock,
        Request::Upgrade {
            binary: Some(second.display().to_string()),
        },
    );
    let Response::Upgraded {
        old_pid,
        new_pid,
        tunnels,
        sessions: carried,
        ..
    } = resp
    else {
        panic!("upgrade refused: {resp:?}\n{}", lns.log_tail());
    };
    let _new = Adopted(new_pid);
    assert_eq!(old_pid, lns.child.id());
    assert_ne!(new_pid, old_pid);
    assert_eq!((tunnels, carried), (2, 20));
    let t0 = Instant::now();
    while lns.alive() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = lns
        .child
        .try_wait()
        .expect("wait")
        .expect("the old LNS exited");
    assert!(status.success(), "the old LNS exited with {status}");

    // LCP echoes every second: a few rounds through the new process.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(session_set(&sock), before, "{}", lns.log_tail());
    match request(&sock, Request::Stats) {
        Response::Stats(st) => {
            let u = st.upgrade.expect("what was carried over");
            assert_eq!(
                (u.upgrades, u.tunnels_resumed, u.sessions_resumed),
                (1, 2, 20)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_lns_whose_radius_requests_stay_unanswered_refuses_to_upgrade_and_keeps_running() {
    // An accounting server that never answers, with a timeout longer than the upgrade
    // waits: the Accounting-On stays in flight, so the upgrade is refused (the old
    // process carries on) rather than carrying a request whose answer nobody would take.
    let dir = TempDir::new("upgrade-radius");
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a silent server");
    let spool = dir.0.join("spool");
    let extra = format!(
        "auth = \"radius\"\n[radius]\nspool_dir = \"{}\"\ntimeout_ms = 60000\n\
         [[radius.auth_servers]]\naddress = \"{addr}\"\nsecret = \"s3cret\"\n\
         [[radius.acct_servers]]\naddress = \"{addr}\"\nsecret = \"s3cret\"\n",
        spool.display(),
        addr = silent.local_addr().expect("addr"),
    );
    let (mut lns, _, sock) = start_lns(&dir.0, &extra);
    // The daemon answers after waiting for the RADIUS requests (bounded): a longer timeout.
    let mut c = l2tp_mgmt::Client::connect(&sock).expect("connect management socket");
    c.set_timeout(Duration::from_secs(45)).expect("timeout");
    let resp = c
        .request(&Request::Upgrade { binary: None })
        .expect("an answer");
    match &resp {
        Response::Error { message } => {
            assert!(
                message.contains("RADIUS requests still unanswered"),
                "{message}"
            );
            assert!(message.contains("carries on"), "{message}");
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    assert!(lns.alive(), "the LNS keeps running");
    assert!(matches!(request(&sock, Request::Stats), Response::Stats(_)));
}
