//! Daemon bugs found in review, each pinned against a running `l2tpd` (no root: the LNS runs
//! with `interface_mode = "none"`, the load generator terminates IP in its own process):
//!
//! - `l2tpctl hangup` without a tunnel on an LNS is refused, like `dial`, and closes nothing;
//! - a debug mask set with `l2tpctl set … debug data` reaches the log at the default level;
//! - during SIGTERM's grace period a new SCCRQ is answered with a StopCCN, not accepted.

mod support;
use support::{start_lns, wait_sessions_up, Proc, ScriptedPeer, TempDir};

use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response, SessionOption};
use l2tp_wire::ControlMessage;

#[test]
fn hangup_without_a_tunnel_is_refused_on_an_lns() {
    let dir = TempDir::new("hangup-lns");
    let (lns, server, sock) = start_lns(&dir.0, "");
    let _loadgen = Proc::loadgen(&dir.0, server, 1, 2, 60);
    let before = wait_sessions_up(&sock, 2, &|| lns.log_tail());
    let r = support::request(
        &sock,
        Request::HangUp {
            tunnel: None,
            session: None,
        },
    );
    let Response::Error { message } = &r else {
        panic!("hangup on an LNS answered {r:?}, not an error");
    };
    assert!(message.contains("LNS"), "the refusal says why: {message}");
    // Nothing was closed: the same sessions are still up a moment later.
    std::thread::sleep(Duration::from_millis(500));
    let after = wait_sessions_up(&sock, 2, &|| lns.log_tail());
    let keys = |v: &[l2tp_mgmt::SessionInfo]| {
        let mut k: Vec<_> = v.iter().map(|s| (s.tunnel, s.session)).collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&before),
        keys(&after),
        "sessions after a refused hangup"
    );
}

#[test]
fn debug_mask_output_reaches_the_log_at_the_default_level() {
    let dir = TempDir::new("debug-mask");
    let (lns, server, sock) = start_lns(&dir.0, "");
    let _loadgen = Proc::loadgen(&dir.0, server, 1, 1, 60);
    let up = wait_sessions_up(&sock, 1, &|| lns.log_tail());
    let s = &up[0];
    // DATA (0x08) | SEQ (0x04): what `l2tpctl set session T S debug data,seq` sends.
    let r = support::request(
        &sock,
        Request::SetSessionOption {
            tunnel: s.tunnel,
            session: s.session,
            option: SessionOption::Debug(0x0c),
        },
    );
    assert_eq!(r, Response::Ok);
    // LCP echoes cross the session every second: "frame sent" / "frame delivered" lines.
    support::wait_for(
        Duration::from_secs(10),
        "a DATA debug line in the log",
        || {
            let log = lns.log_text();
            log.contains("frame sent") || log.contains("frame delivered")
        },
    );
}

#[test]
fn sccrq_during_the_shutdown_grace_period_gets_a_stopccn() {
    let dir = TempDir::new("grace-sccrq");
    let (mut lns, server, _sock) = start_lns(&dir.0, "");
    // A tunnel whose peer never acknowledges the StopCCN keeps the daemon in its grace
    // period (3 s) after SIGTERM.
    let mut silent = ScriptedPeer::new(server);
    let answer = silent.open_tunnel(7);
    assert!(
        matches!(answer, Some(ControlMessage::Sccrp(_))),
        "SCCRQ before shutdown: {answer:?}\n{}",
        lns.log_tail()
    );
    // Let the SCCCN land (the daemon acknowledges it).
    std::thread::sleep(Duration::from_millis(300));
    lns.terminate();
    // The StopCCN to the silent peer shows the grace period has begun.
    let t0 = Instant::now();
    loop {
        match silent.recv(Duration::from_millis(200)) {
            Some(ControlMessage::StopCcn(_)) => break,
            _ => assert!(
                t0.elapsed() < Duration::from_secs(5),
                "no StopCCN after SIGTERM\n{}",
                lns.log_tail()
            ),
        }
    }
    let mut late = ScriptedPeer::new(server);
    let answer = late.open_tunnel(9);
    assert!(
        matches!(answer, Some(ControlMessage::StopCcn(_))),
        "an SCCRQ during the grace period was answered with {answer:?}, not a StopCCN\n{}",
        lns.log_tail()
    );
    let t0 = Instant::now();
    while lns.alive() {
        assert!(t0.elapsed() < Duration::from_secs(10), "LNS did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
