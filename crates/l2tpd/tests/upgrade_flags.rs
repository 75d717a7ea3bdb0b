//! Hitless upgrade of a daemon started from command-line flags only (`l2tpd lns …`, no
//! configuration file): the new process is started with the old one's command line, so it
//! has the same settings. An LNS from flags (its user, pool, tunnel secret, management
//! socket all flags) in a namespace this test creates, with `l2tpd loadgen` sessions; after
//! the management request (what `l2tpctl upgrade` sends) every session is still there, and
//! new sessions authenticate with the flags' user and secret and get addresses of the flags'
//! pool from the new process. (A relaying LAC from flags: `lac_upgrade`.) Needs root and
//! iproute2 (the LNS's shared TUN); skipped loudly otherwise, a failure under `CI=true`.

mod support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response};
use support::segment::Segment;
use support::{requires, wait_for, Proc, TempDir, L2TPD};

/// Ends a process that is not our child (the new LNS), by pid, and waits (bounded).
struct Adopted(u32);

impl Drop for Adopted {
    fn drop(&mut self) {
        let pid = self.0.to_string();
        for sig in ["-TERM", "-KILL"] {
            let _ = Command::new("kill").args([sig, &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(8);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
    }
}

/// (tunnel, session, address) of every session with an address, sorted.
fn session_set(sock: &Path) -> Vec<(u16, u16, Ipv4Addr)> {
    let mut v: Vec<_> = support::sessions(sock)
        .into_iter()
        .filter_map(|s| s.ipv4.map(|a| (s.tunnel, s.session, a)))
        .collect();
    v.sort();
    v
}

/// `l2tpd loadgen` in the segment's namespace: `sessions` calls as `user`, held `hold` s.
fn loadgen(seg: &Segment, dir: &Path, who: &str, sessions: u32, user: &str, hold: u32) -> Proc {
    let (n, hold) = (sessions.to_string(), hold.to_string());
    #[rustfmt::skip]
    let args = [
        "netns", "exec", &seg.ns, L2TPD, "loadgen", "--server", "127.0.0.1:1701",
        "--tunnels", "1", "--sessions", &n, "--user", user, "--password", "flag-password",
        "--secret", "flag-secret", "--hold", &hold, "--timeout", "20",
    ];
    Proc::spawn("ip", dir, who, &args)
}

#[test]
fn an_lns_started_from_flags_upgrades_with_the_same_settings() {
    if !requires(
        "upgrade of a daemon started from flags",
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
        ],
    ) {
        return;
    }
    let seg = Segment::new("f");
    let dir = TempDir::new("upgrade-flags");
    let d = &dir.0;
    let sock = d.join("lns.sock");
    #[rustfmt::skip]
    let mut lns = seg.spawn(d, "lns", &[
        "lns", "--listen", "127.0.0.1:1701", "--pool", "192.0.2.100-192.0.2.150",
        "--local-ip", "192.0.2.1", "--user", "flagged:flag-password",
        "--secret", "flag-secret", "--socket", sock.to_str().unwrap(),
    ]);
    wait_for(Duration::from_secs(10), "the LNS", || sock.exists());
    let first = loadgen(&seg, d, "loadgen1", 5, "flagged", 60);
    let lns_log = lns.log.clone();
    let logs = || std::fs::read_to_string(&lns_log).unwrap_or_default();
    support::wait_sessions_up(&sock, 5, &|| first.log_tail());
    let before = session_set(&sock);
    assert_eq!(before.len(), 5);

    let second = d.join("l2tpd-second");
    std::fs::copy(L2TPD, &second).expect("a second copy of the binary");
    let resp = support::request(
        &sock,
        Request::Upgrade {
            binary: Some(second.display().to_string()),
        },
    );
    let Response::Upgraded {
        old_pid,
        new_pid,
        sessions,
        ..
    } = resp
    else {
        panic!("upgrade refused: {resp:?}\n{}", logs());
    };
    let _new = Adopted(new_pid);
    assert_eq!(old_pid, lns.child.id());
    assert_eq!(sessions, 5);
    wait_for(Duration::from_secs(5), "the old LNS to exit", || {
        !lns.alive()
    });
    // The new process runs with the old one's flags.
    let cmdline = std::fs::read(format!("/proc/{new_pid}/cmdline")).expect("new process");
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        args[1..4],
        ["lns", "--listen", "127.0.0.1:1701"],
        "{args:?}"
    );

    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(session_set(&sock), before, "{}", logs());
    // New calls: the flags' tunnel secret, user and pool, in the new process; a user the
    // flags do not name is refused there too.
    let more = loadgen(&seg, d, "loadgen2", 3, "flagged", 60);
    let after = support::wait_sessions_up(&sock, 8, &|| more.log_tail());
    let pool = 100..=150;
    for s in &after {
        let a = s.ipv4.expect("address").octets();
        assert!(
            a[..3] == [192, 0, 2] && pool.contains(&a[3]),
            "{s:?} is outside the flags' pool"
        );
    }
    let mut stranger = loadgen(&seg, d, "loadgen3", 1, "stranger", 0);
    wait_for(Duration::from_secs(40), "the stranger's loadgen", || {
        !stranger.alive()
    });
    assert_eq!(
        session_set(&sock).len(),
        8,
        "a user the flags do not name got a session"
    );
    match support::request(&sock, Request::Stats) {
        Response::Stats(st) => {
            let u = st.upgrade.expect("what was carried over");
            assert_eq!((u.upgrades, u.sessions_resumed, u.sessions_lost), (1, 5, 0));
        }
        other => panic!("{other:?}"),
    }
    drop(first);
    drop(more);
}
