//! Outgoing calls (RFC 2661 §7.5) between our daemons over real UDP: an LNS (`l2tpd run`,
//! `role = "lns"`) and two dialling LACs (`role = "lac"` with `[dial]`, each keeping one call
//! of its own up) in a network namespace this test creates. `l2tpctl call out TID NUMBER` on
//! the LNS sends an OCRQ in a LAC's tunnel. The LAC with the default configuration refuses
//! it with a CDN, result code 3, which the LNS logs; the LAC with
//! `outgoing_calls = "accept"` answers with OCRP and OCCN, its PPP client authenticates, the
//! LNS gives it an address from its pool, and the session is listed on both sides.
//!
//! Needs root (TUN interfaces for the LACs' PPP) and iproute2; skipped loudly otherwise, a
//! failure under `CI=true`.

mod support;
use support::sh;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use l2tp_mgmt::{Request, Response, SessionInfo, TunnelInfo};
use support::{request, requires, wait_for, Proc, TempDir, L2TPD};

const TEST: &str = "outgoing calls";

/// A network namespace with its loopback up; deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let ns = Netns(format!("l2o-{}", std::process::id() % 100_000));
        assert!(sh(&["ip", "netns", "add", &ns.0]).status.success());
        assert!(sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"])
            .status
            .success());
        ns
    }

    fn run(&self, dir: &Path, who: &str, config: &Path) -> Proc {
        #[rustfmt::skip]
        let args = ["netns", "exec", &self.0, L2TPD, "run", "--config", config.to_str().unwrap()];
        Proc::spawn("ip", dir, who, &args)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.0]);
    }
}

fn write(dir: &Path, name: &str, text: String) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn lac_config(dir: &Path, who: &str, extra: &str) -> PathBuf {
    let sock = dir.join(format!("{who}.sock"));
    write(
        dir,
        &format!("{who}.toml"),
        format!(
            r#"role = "lac"
[daemon]
management_socket = "{}"
[tunnel]
hello_interval = 60
[dial]
peers = ["127.0.0.1:1701"]
user = "alice"
password = "secret"
sessions = 1
interface = "{who}%d"
{extra}
"#,
            sock.display()
        ),
    )
}

fn sessions(sock: &Path) -> Vec<SessionInfo> {
    support::sessions(sock)
}

fn tunnels(sock: &Path) -> Vec<TunnelInfo> {
    match request(sock, Request::ListTunnels) {
        Response::Tunnels(t) => t,
        other => panic!("tunnels: {other:?}"),
    }
}

/// `l2tpctl --socket SOCK ARGS`: its stdout, asserting success.
fn l2tpctl(sock: &Path, args: &[&str]) -> String {
    let bin = support::guest::workspace_binary("l2tpctl", "l2tpctl");
    let o = Command::new(bin)
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .expect("l2tpctl");
    assert!(
        o.status.success(),
        "l2tpctl {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The LNS's tunnel to the LAC whose management socket is `lac`.
fn lns_tunnel_of(lns: &Path, lac: &Path) -> u16 {
    let theirs = tunnels(lac)[0].local_id;
    tunnels(lns)
        .into_iter()
        .find(|t| t.peer_id == theirs)
        .unwrap_or_else(|| panic!("no LNS tunnel to the LAC's tunnel {theirs}"))
        .local_id
}

/// `call out`'s "Dialing: tunnel T, session S" → S.
fn dialled_session(out: &str) -> u16 {
    out.trim()
        .rsplit("session ")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no session in {out:?}"))
}

#[test]
fn an_lns_places_outgoing_calls_refused_by_default_and_accepted_when_configured() {
    if !requires(
        TEST,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    ) {
        return;
    }
    let ns = Netns::new();
    let dir = TempDir::new("outgoing");
    let d = &dir.0;
    let (lns_sock, refuse_sock, accept_sock) =
        (d.join("lns.sock"), d.join("ocr.sock"), d.join("oca.sock"));
    let lns_cfg = write(
        d,
        "lns.toml",
        format!(
            r#"role = "lns"
[daemon]
management_socket = "{}"
[tunnel]
hello_interval = 60
[lns]
listen = ["127.0.0.1:1701"]
ipv4_pool = "203.0.113.10-203.0.113.20"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
[[lns.users]]
name = "alice"
password = "secret"
"#,
            lns_sock.display()
        ),
    );
    let lns = ns.run(d, "lns", &lns_cfg);
    wait_for(Duration::from_secs(10), "the LNS", || lns_sock.exists());
    let refuser = ns.run(d, "ocr", &lac_config(d, "ocr", ""));
    let acceptor = ns.run(
        d,
        "oca",
        &lac_config(d, "oca", r#"outgoing_calls = "accept""#),
    );
    let logs = || {
        format!(
            "LNS:\n{}\nrefusing LAC:\n{}\naccepting LAC:\n{}",
            lns.log_tail(),
            refuser.log_tail(),
            acceptor.log_tail()
        )
    };
    // Each LAC's own call up first: the tunnels exist.
    support::wait_sessions_up(&lns_sock, 2, &logs);
    support::wait_sessions_up(&refuse_sock, 1, &logs);
    support::wait_sessions_up(&accept_sock, 1, &logs);

    // Refused by default: a CDN with result code 3, logged by the LNS; nothing new on
    // either side.
    let t = lns_tunnel_of(&lns_sock, &refuse_sock);
    let out = l2tpctl(&lns_sock, &["call", "out", &t.to_string(), "5551234"]);
    let sid = dialled_session(&out);
    wait_for(Duration::from_secs(10), "the refusal at the LNS", || {
        lns.log_text()
            .contains("outgoing calls are not authorized here (result 3")
    });
    assert!(refuser.log_text().contains("call refused"), "{}", logs());
    assert!(
        !sessions(&lns_sock)
            .iter()
            .any(|s| s.tunnel == t && s.session == sid),
        "the refused call is gone at the LNS: {:?}",
        sessions(&lns_sock)
    );
    assert_eq!(sessions(&refuse_sock).len(), 1, "{}", logs());

    // Accepted when configured: the session comes up on both sides, PPP completes, and the
    // LAC's PPP client has an address from the LNS's pool.
    let t = lns_tunnel_of(&lns_sock, &accept_sock);
    let out = l2tpctl(&lns_sock, &["call", "out", &t.to_string(), "5551234"]);
    let sid = dialled_session(&out);
    let at_lns = support::wait_sessions_up(&lns_sock, 3, &logs);
    let call = at_lns
        .iter()
        .find(|s| s.tunnel == t && s.session == sid)
        .unwrap_or_else(|| panic!("the outgoing call {t}/{sid} is not up: {at_lns:?}"));
    assert_eq!(call.user.as_deref(), Some("alice"), "{call:?}");
    let at_lac = support::wait_sessions_up(&accept_sock, 2, &logs);
    let answered = at_lac
        .iter()
        .find(|s| s.peer_session == sid)
        .unwrap_or_else(|| panic!("the LAC does not list the call: {at_lac:?}"));
    assert_eq!(
        answered.ipv4, call.ipv4,
        "the LAC has the address the LNS gave"
    );
    let a = answered.ipv4.unwrap().octets();
    assert!(
        a[..3] == [203, 0, 113] && (10..=20).contains(&a[3]),
        "{a:?}"
    );
    // `l2tpctl sessions` shows it on both sides.
    let listing = l2tpctl(&lns_sock, &["sessions"]);
    assert!(
        listing.contains(&format!("{t}/{sid}")),
        "LNS `l2tpctl sessions`:\n{listing}"
    );
    let listing = l2tpctl(&accept_sock, &["sessions"]);
    assert!(
        listing.contains(&format!("{}/{}", answered.tunnel, answered.session)),
        "LAC `l2tpctl sessions`:\n{listing}"
    );
    // The LAC's own call is closed by the LNS: the LAC dials it again (the outgoing call
    // does not stand in for it), and the outgoing call stays up.
    let own = at_lac
        .iter()
        .find(|s| s.peer_session != sid)
        .expect("the LAC's own call")
        .clone();
    l2tpctl(
        &lns_sock,
        &[
            "close",
            "session",
            &t.to_string(),
            &own.peer_session.to_string(),
        ],
    );
    wait_for(
        Duration::from_secs(20),
        "the LAC's own call dialled again",
        || {
            let s = sessions(&accept_sock);
            let up = |s: &&SessionInfo| s.state == "established/ppp-network" && s.ipv4.is_some();
            s.iter().filter(up).any(|x| x.peer_session == sid)
                && s.iter()
                    .filter(up)
                    .any(|x| x.peer_session != sid && x.session != own.session)
        },
    );
    drop(refuser);
    drop(acceptor);
    drop(lns);
}
