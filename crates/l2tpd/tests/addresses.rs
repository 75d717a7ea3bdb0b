//! An address belongs to one session at a time: a user's fixed address inside the pool is
//! never handed to anyone else, a second session of that user is refused, and the server's
//! own address is never a client's. Real processes on loopback (no root: no interfaces).

mod support;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{sessions, stats, stop, wait_for};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

struct Daemon(Child);
impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

fn lns(dir: &Path, port: u16, pool: &str, local: &str, users: &str) -> (Daemon, PathBuf) {
    let sock = dir.join("lns.sock");
    let cfg = dir.join("lns.toml");
    std::fs::write(
        &cfg,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\n[lns]\n\
             listen = [\"127.0.0.1:{port}\"]\nipv4_pool = \"{pool}\"\nlocal_ipv4 = \"{local}\"\n\
             interface_mode = \"none\"\n{users}",
            sock.display()
        ),
    )
    .expect("write config");
    let child = Command::new(L2TPD)
        .args(["run", "--config", cfg.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the LNS");
    let d = Daemon(child);
    wait_for(Duration::from_secs(10), "the LNS", || sock.exists());
    (d, sock)
}

/// `l2tpd loadgen` as `user`: `n` sessions, held for `hold` seconds.
fn subscriber(port: u16, user: &str, n: u32, hold: u32) -> Daemon {
    let child = Command::new(L2TPD)
        .args(["loadgen", "--server", &format!("127.0.0.1:{port}")])
        .args(["--tunnels", "1", "--sessions", &n.to_string()])
        .args(["--user", user, "--password", &format!("{user}-pw")])
        .args(["--timeout", "6", "--hold", &hold.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start l2tpd loadgen");
    Daemon(child)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("l2tpd-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Addresses of the LNS's sessions with IPCP up, and who holds each.
fn holders(sock: &Path) -> HashMap<Ipv4Addr, Vec<String>> {
    let mut by_addr: HashMap<Ipv4Addr, Vec<String>> = HashMap::new();
    for s in sessions(sock) {
        if let Some(a) = s.ipv4 {
            by_addr
                .entry(a)
                .or_default()
                .push(s.user.unwrap_or_default());
        }
    }
    by_addr
}

#[test]
fn a_fixed_address_in_the_pool_is_one_sessions_and_never_anyone_elses() {
    let dir = temp_dir("fixed-addr");
    let port = support::free_udp_port();
    // The review's case: pool .50-.52 with alice fixed at .50.
    let users =
        "[[lns.users]]\nname = \"alice\"\npassword = \"alice-pw\"\nipv4 = \"203.0.113.50\"\n\
                 [[lns.users]]\nname = \"bob\"\npassword = \"bob-pw\"\n";
    let (_lns, sock) = lns(
        &dir,
        port,
        "203.0.113.50-203.0.113.52",
        "198.51.100.1",
        users,
    );
    let _alice = subscriber(port, "alice", 2, 10);
    let _bob = subscriber(port, "bob", 2, 10);
    // bob's two sessions and one of alice's come up; alice's second is refused.
    wait_for(
        Duration::from_secs(15),
        "three sessions with addresses",
        || holders(&sock).values().map(Vec::len).sum::<usize>() >= 3,
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = holders(&sock);
    for (addr, who) in &held {
        assert_eq!(who.len(), 1, "{addr} is held by {who:?}");
    }
    assert_eq!(
        held.get(&"203.0.113.50".parse().unwrap()),
        Some(&vec!["alice".to_string()]),
        "{held:?}"
    );
    let bobs: Vec<_> = held.iter().filter(|(_, w)| w[0] == "bob").collect();
    assert_eq!(bobs.len(), 2, "{held:?}");
    assert!(stats(&sock).sessions_refused >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_server_address_inside_the_pool_is_never_a_clients() {
    let dir = temp_dir("local-addr");
    let port = support::free_udp_port();
    let users = "[[lns.users]]\nname = \"bob\"\npassword = \"bob-pw\"\n";
    // Three addresses, one of them ours: two sessions fit, a third is refused.
    let (_lns, sock) = lns(&dir, port, "203.0.113.1-203.0.113.3", "203.0.113.1", users);
    let _bob = subscriber(port, "bob", 3, 10);
    wait_for(
        Duration::from_secs(15),
        "two sessions with addresses",
        || holders(&sock).len() >= 2,
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = holders(&sock);
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(
        !held.contains_key(&"203.0.113.1".parse().unwrap()),
        "{held:?}"
    );
    let s = stats(&sock);
    assert_eq!((s.pool_capacity, s.pool_in_use), (2, 2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `l2tpd run --config CFG`; a daemon that starts (accepting the configuration) is
/// stopped after 5 s and counts as success. Returns (success, stderr).
fn run_bounded(cfg: &Path) -> (bool, String) {
    let mut child = Command::new(L2TPD)
        .args(["run", "--config", cfg.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run l2tpd");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            stop(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (status.is_none_or(|s| s.success()), err)
}

#[test]
fn users_sharing_a_fixed_address_or_taking_ours_are_refused_at_start() {
    let dir = temp_dir("fixed-clash");
    let cases = [
        (
            "[[lns.users]]\nname = \"alice\"\npassword = \"a\"\nipv4 = \"203.0.113.50\"\n\
             [[lns.users]]\nname = \"bob\"\npassword = \"b\"\nipv4 = \"203.0.113.50\"\n",
            "lns.users[1].ipv4",
        ),
        (
            "[[lns.users]]\nname = \"alice\"\npassword = \"a\"\nipv4 = \"198.51.100.1\"\n",
            "lns.users[0].ipv4",
        ),
    ];
    for (users, field) in cases {
        let cfg = dir.join("clash.toml");
        std::fs::write(
            &cfg,
            format!(
                "role = \"lns\"\n[lns]\nlisten = [\"127.0.0.1:0\"]\n\
                 ipv4_pool = \"203.0.113.50-203.0.113.52\"\nlocal_ipv4 = \"198.51.100.1\"\n\
                 interface_mode = \"none\"\n{users}"
            ),
        )
        .expect("write");
        let (ok, err) = run_bounded(&cfg);
        assert!(!ok, "accepted:\n{users}");
        assert!(err.contains(field), "{field} not named: {err}");
    }
    // The same clashes in a users file.
    let file = dir.join("users");
    std::fs::write(&file, "alice a 203.0.113.51\nbob b 203.0.113.51\n").expect("write");
    let cfg = dir.join("file.toml");
    std::fs::write(
        &cfg,
        format!(
            "role = \"lns\"\n[lns]\nlisten = [\"127.0.0.1:0\"]\n\
             ipv4_pool = \"203.0.113.50-203.0.113.52\"\nlocal_ipv4 = \"198.51.100.1\"\n\
             interface_mode = \"none\"\nusers_file = \"{}\"\n",
            file.display()
        ),
    )
    .expect("write");
    let (ok, err) = run_bounded(&cfg);
    assert!(!ok, "accepted a users file with a clash");
    assert!(
        err.contains("203.0.113.51") && err.contains("alice, bob"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
