//! `daemon.user`: a running daemon is no longer root. Read from `/proc/PID/status` as an
//! operator would: every id is the configured user's, the effective and permitted
//! capabilities are `CAP_NET_ADMIN` alone (TUN per session) or nothing
//! (`interface_mode = "none"`), every thread included, and a subscriber still gets a session
//! (with a TUN created after the switch). The daemon runs with the packaged unit's capability
//! bounding set and no-new-privileges (`setpriv`), so the unit's hardening is what is tested
//! to bind port 1701 and create TUNs. And such a daemon upgrades (`l2tpctl upgrade`): its new
//! process, started by nobody, runs as nobody with CAP_NET_ADMIN alone, keeps the session
//! and creates the TUN of the next one. Needs root and iproute2 (runs in a network
//! namespace it creates); says so loudly otherwise, and fails under CI=true.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");
const CAP_NET_ADMIN: u64 = 1 << 12;

fn privileged() -> bool {
    support::requires(
        "privileges",
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", support::have_tool("ip")),
            (
                "user nobody",
                l2tp_io::privileges::lookup_user("nobody").is_ok(),
            ),
        ],
    )
}

/// A field of /proc/PID/status (or /proc/PID/task/TID/status) as its words.
fn status_field(status: &str, key: &str) -> Vec<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in status"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn caps(status: &str, key: &str) -> u64 {
    u64::from_str_radix(&status_field(status, key)[0], 16).expect("hex capability set")
}

/// The packaged unit's `CapabilityBoundingSet=` as `setpriv --bounding-set` wants it
/// (`-all,+net_admin,…`): the daemon runs here with no more than systemd would give it, and
/// with `NoNewPrivileges`, as in the unit.
fn unit_bounding_set() -> String {
    let unit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/l2tpd.service");
    let text = std::fs::read_to_string(&unit).expect("dist/l2tpd.service");
    let caps = text
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet= in the unit");
    let mut set = String::from("-all");
    for c in caps.split_whitespace() {
        set.push_str(",+");
        set.push_str(&c.trim_start_matches("CAP_").to_ascii_lowercase());
    }
    set
}

struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A subscriber from `l2tpd loadgen` in namespace `ns` holding one session for `hold` s.
fn subscriber(ns: &str, hold: u32) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", ns, L2TPD, "loadgen", "--server"])
        .args(["127.0.0.1:1701", "--tunnels", "1", "--sessions", "1"])
        .args(["--user", "alice", "--password", "alice-pw"])
        .args(["--hold", &hold.to_string(), "--timeout", "20"])
        .stdout(Stdio::null())
        .spawn()
        .expect("run loadgen")
}

/// Waits (bounded) until `n` sessions have an address (and a TUN of the daemon's prefix,
/// unless `mode` is "none"), while `alive` holds.
fn sessions_up(
    sock: &std::path::Path,
    mode: &str,
    n: usize,
    mut alive: impl FnMut() -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let up = support::sessions(sock)
            .iter()
            .filter(|s| {
                s.ipv4.is_some()
                    && (mode == "none"
                        || s.interface
                            .as_deref()
                            .is_some_and(|i| i.starts_with("priv")))
            })
            .count();
        if !alive() {
            return false;
        }
        if up >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Ends the process `pid` (not our child: the new daemon of an upgrade) and waits, bounded.
fn end_pid(pid: u32) {
    let proc_dir = format!("/proc/{pid}");
    for sig in ["-TERM", "-KILL"] {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        while std::path::Path::new(&proc_dir).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !std::path::Path::new(&proc_dir).exists() {
            return;
        }
    }
}

/// What [`run_as_nobody`] saw.
struct Seen {
    /// The (last) daemon's main thread status, and every thread's.
    main: String,
    threads: Vec<String>,
    /// The session came up and systemd was told READY=1 (and, after an upgrade: the
    /// first session is still there and a second one, with a TUN the new process created,
    /// came up too).
    session_up: bool,
}

/// Starts an LNS as `nobody` in its own namespace with `mode`, brings one session up with
/// loadgen; with `upgrade`, then hands the daemon over to a new process (a second copy of
/// the binary) and brings a second session up through it. The statuses are the last
/// daemon's.
fn run_as_nobody(mode: &str, upgrade: bool) -> Seen {
    let up = if upgrade { "-up" } else { "" };
    let tag = format!("l2tpd-priv-{}-{mode}{up}", std::process::id());
    let ns = Netns(tag.clone());
    let ok = Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip netns add {}", ns.0);
    let up = Command::new("ip")
        .args(["-n", &ns.0, "link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(up, "lo up in {}", ns.0);
    let dir = std::env::temp_dir().join(&tag);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let config = dir.join("lns.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\nuser = \"nobody\"\n[lns]\n\
             listen = [\"127.0.0.1:1701\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"{mode}\"\n\
             interface_prefix = \"priv\"\n\
             [[lns.users]]\nname = \"alice\"\npassword = \"alice-pw\"\n",
            sock.display()
        ),
    )
    .expect("config");
    // What udev gives /dev/net/tun on a normal system (0666), in the daemon's own mount
    // namespace (`ip netns exec` makes one; nothing of it reaches the host): some containers
    // have it 0600. The node lives on a tmpfs mounted there, as /tmp may be nodev.
    let devs = dir.join("devs");
    std::fs::create_dir_all(&devs).expect("devs dir");
    // systemd's notify socket, here owned by root and not writable by others (mode 0755):
    // the daemon connects to it before the switch, so READY=1 still arrives after it.
    let notify_path = dir.join("notify");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket");
    std::fs::set_permissions(&notify_path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod notify");
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut child = Command::new("ip")
        .env("NOTIFY_SOCKET", &notify_path)
        .args(["netns", "exec", &ns.0, "sh", "-c"])
        .arg(format!(
            "set -e; mount -t tmpfs -o mode=0755 l2tpd-test '{d}'; mknod -m 0666 '{d}/tun' c 10 200; \
             mount --bind '{d}/tun' /dev/net/tun; \
             exec setpriv --no-new-privs --bounding-set {} '{L2TPD}' run --config '{}'",
            unit_bounding_set(),
            config.display(),
            d = devs.display(),
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start l2tpd");
    let mut pid = child.id();
    // The switch happens after the management socket is bound: wait for the uid to change.
    let mut status_path = format!("/proc/{pid}/status");
    support::wait_for(Duration::from_secs(10), "l2tpd running as nobody", || {
        std::fs::read_to_string(&status_path).is_ok_and(|s| status_field(&s, "Uid")[0] == "65534")
            || child.try_wait().ok().flatten().is_some()
    });
    // A subscriber logs in and holds the session while we look.
    let mut gen = subscriber(&ns.0, if upgrade { 30 } else { 4 });
    let mut session_up = sessions_up(&sock, mode, 1, || child.try_wait().ok().flatten().is_none());
    let mut new_daemon = None;
    let mut more = None;
    if upgrade && session_up {
        // The binary the unprivileged daemon starts (it must be able to run it).
        let second = dir.join("l2tpd-second");
        std::fs::copy(L2TPD, &second).expect("a second copy of the binary");
        let resp = support::request(
            &sock,
            l2tp_mgmt::Request::Upgrade {
                binary: Some(second.display().to_string()),
            },
        );
        match resp {
            l2tp_mgmt::Response::Upgraded { new_pid, .. } => {
                new_daemon = Some(new_pid);
                pid = new_pid;
                status_path = format!("/proc/{pid}/status");
                support::wait_for(Duration::from_secs(5), "the old daemon to exit", || {
                    child.try_wait().ok().flatten().is_some()
                });
                // A second subscriber: its TUN is the new process's to create.
                more = Some(subscriber(&ns.0, 4));
                let alive = std::path::Path::new(&status_path);
                session_up = sessions_up(&sock, mode, 2, || alive.exists());
            }
            other => {
                eprintln!("upgrade refused: {other:?}");
                session_up = false;
            }
        }
    }
    support::stop(&mut gen);
    if let Some(g) = more.as_mut() {
        support::stop(g);
    }
    let mut ready = false;
    let mut buf = [0u8; 256];
    while let Ok(n) = notify.recv(&mut buf) {
        ready |= buf[..n].starts_with(b"READY=1");
    }
    let main = std::fs::read_to_string(&status_path).unwrap_or_default();
    let mut threads = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.flatten() {
            threads.extend(std::fs::read_to_string(t.path().join("status")).ok());
        }
    }
    let answered = !main.is_empty() && support::stats(&sock).role == "lns";
    support::stop(&mut child);
    if let Some(p) = new_daemon {
        end_pid(p);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(answered, "the daemon does not answer after the switch");
    Seen {
        main,
        threads,
        session_up: session_up && ready,
    }
}

/// CAP_CHOWN (the state directory and RADIUS spool handed to daemon.user), CAP_SETGID,
/// CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW (the LAC's PPPoE sockets): the
/// unit's bounding set.
const UNIT_BOUNDING_SET: u64 = (1 << 0) | (1 << 6) | (1 << 7) | (1 << 10) | (1 << 12) | (1 << 13);

fn assert_nobody(status: &str) {
    assert_eq!(
        caps(status, "CapBnd"),
        UNIT_BOUNDING_SET,
        "not run under the unit's bounding set"
    );
    for key in ["Uid", "Gid"] {
        assert_eq!(
            status_field(status, key),
            vec!["65534"; 4],
            "{key} (real, effective, saved, filesystem)"
        );
    }
    assert_eq!(
        status_field(status, "Groups"),
        vec!["65534"],
        "supplementary groups"
    );
}

#[test]
fn userspace_datapath_runs_as_nobody_without_any_capability() {
    if !privileged() {
        return;
    }
    let Seen {
        main,
        threads,
        session_up,
    } = run_as_nobody("none", false);
    assert_nobody(&main);
    assert_eq!(caps(&main, "CapEff"), 0, "CapEff");
    assert_eq!(caps(&main, "CapPrm"), 0, "CapPrm");
    assert!(!threads.is_empty());
    for t in &threads {
        assert_nobody(t);
        assert_eq!(
            caps(t, "CapEff") | caps(t, "CapPrm"),
            0,
            "a thread kept capabilities"
        );
    }
    assert!(
        session_up,
        "no session, or no READY=1, from a daemon without privileges"
    );
}

#[test]
fn tun_per_session_runs_as_nobody_with_net_admin_only() {
    if !privileged() {
        return;
    }
    let Seen {
        main,
        threads,
        session_up,
    } = run_as_nobody("per-session", false);
    assert_nobody(&main);
    assert_eq!(caps(&main, "CapEff"), CAP_NET_ADMIN, "CapEff");
    assert_eq!(caps(&main, "CapPrm"), CAP_NET_ADMIN, "CapPrm");
    for t in &threads {
        assert_nobody(t);
        assert_eq!(
            caps(t, "CapEff") & !CAP_NET_ADMIN,
            0,
            "a thread has more than CAP_NET_ADMIN"
        );
    }
    // The session's TUN is created after the switch: CAP_NET_ADMIN is really usable.
    assert!(
        session_up,
        "no session (TUN creation after the switch), or no READY=1"
    );
}

#[test]
fn a_daemon_running_as_nobody_upgrades_and_its_new_process_still_creates_tuns() {
    if !privileged() {
        return;
    }
    let Seen {
        main,
        threads,
        session_up,
    } = run_as_nobody("per-session", true);
    // The new process: nobody, CAP_NET_ADMIN alone (nothing left inheritable or ambient).
    assert_nobody(&main);
    assert_eq!(caps(&main, "CapEff"), CAP_NET_ADMIN, "CapEff");
    assert_eq!(caps(&main, "CapPrm"), CAP_NET_ADMIN, "CapPrm");
    assert_eq!(caps(&main, "CapInh"), 0, "CapInh");
    assert_eq!(caps(&main, "CapAmb"), 0, "CapAmb");
    for t in &threads {
        assert_nobody(t);
        assert_eq!(
            caps(t, "CapEff") & !CAP_NET_ADMIN,
            0,
            "a thread has more than CAP_NET_ADMIN"
        );
    }
    assert!(
        session_up,
        "the upgrade failed, the first session was lost, or a session opened after it got no TUN"
    );
}

/// The crash journal stays the daemon's after the switch to nobody: it is written while
/// sessions come and go; after a `kill -9` the daemon, started again as root under the
/// unit's bounding set (no CAP_DAC_OVERRIDE), reads nobody's journal and resumes the
/// session; and a clean stop removes the journal (one left behind would bring back, at the
/// next start, tunnels that had ended).
#[test]
fn a_daemon_running_as_nobody_keeps_its_state_journal_and_removes_it_on_a_clean_stop() {
    if !privileged() {
        return;
    }
    let tag = format!("l2tpd-priv-{}-state", std::process::id());
    let ns = Netns(tag.clone());
    for args in [
        vec!["netns", "add", &ns.0],
        vec!["-n", &ns.0, "link", "set", "lo", "up"],
    ] {
        let ok = Command::new("ip").args(&args).status();
        assert!(ok.is_ok_and(|s| s.success()), "ip {args:?}");
    }
    let dir = std::env::temp_dir().join(&tag);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sock = dir.join("lns.sock");
    let state = dir.join("state");
    let config = dir.join("lns.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\nuser = \"nobody\"\n\
             state_dir = \"{}\"\n[lns]\n\
             listen = [\"127.0.0.1:1701\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\n\
             [[lns.users]]\nname = \"alice\"\npassword = \"alice-pw\"\n",
            sock.display(),
            state.display()
        ),
    )
    .expect("config");
    let start = |log: &str| {
        let out = std::fs::File::create(dir.join(log)).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.0, "setpriv", "--no-new-privs"])
            .args([
                "--bounding-set",
                &unit_bounding_set(),
                L2TPD,
                "run",
                "--config",
            ])
            .arg(&config)
            .stdout(out)
            .spawn()
            .expect("start l2tpd");
        let status_path = format!("/proc/{}/status", child.id());
        support::wait_for(Duration::from_secs(10), "l2tpd running as nobody", || {
            std::fs::read_to_string(&status_path)
                .is_ok_and(|s| status_field(&s, "Uid")[0] == "65534")
                || !std::path::Path::new(&status_path).exists()
        });
        child
    };
    let mut first = start("first.log");
    let mut gen = subscriber(&ns.0, 20);
    let up = sessions_up(&sock, "none", 1, || {
        first.try_wait().ok().flatten().is_none()
    });
    let journaled = std::fs::metadata(state.join("state.log")).map_or(0, |m| m.len());
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let mut second = start("second.log");
    let second_log = std::fs::read_to_string(dir.join("second.log")).unwrap_or_default();
    let resumed = sessions_up(&sock, "none", 1, || {
        second.try_wait().ok().flatten().is_none()
    });
    support::stop(&mut gen);
    support::stop(&mut second);
    let left: Vec<_> = std::fs::read_dir(&state)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(up, "no session from the daemon running as nobody");
    assert!(
        journaled > 16,
        "the session was journaled ({journaled} bytes)"
    );
    assert!(
        second_log.contains("recovered 1 tunnels and 1 sessions"),
        "the restarted daemon did not recover nobody's journal: {second_log}"
    );
    assert!(resumed, "the session is not back after the restart");
    assert!(
        left.is_empty(),
        "a clean stop leaves no journal behind: {left:?}"
    );
}
