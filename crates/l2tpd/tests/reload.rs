//! Reloading a running LNS (`l2tpctl reload`, the same request SIGHUP triggers): a new user
//! and a grown pool are applied while a session stays up with the same ids; the new user
//! connects and gets an address from the grown part; a broken file is refused with its
//! errors and the running configuration keeps working.
//!
//! No root: an LNS without TUN on 127.0.0.1, `l2tpd loadgen` as its clients.

mod support;

use std::path::Path;

use std::process::Command;

use support::{free_udp_port, sessions, wait_sessions_up, Proc, TempDir, L2TPD};

/// `l2tpctl --socket SOCK reload`: exit status, stdout and stderr.
fn l2tpctl_reload(bin: &Path, sock: &Path) -> (bool, String, String) {
    let out = Command::new(bin)
        .arg("--socket")
        .arg(sock)
        .arg("reload")
        .output()
        .expect("run l2tpctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(sock: &Path, port: u16, pool: &str, users: &str) -> String {
    format!(
        r#"role = "lns"
[daemon]
management_socket = "{sock}"
[ppp]
lcp_echo_interval = 1
[lns]
listen = ["127.0.0.1:{port}"]
ipv4_pool = "{pool}"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
{users}"#,
        sock = sock.display()
    )
}

const ALICE: &str = "[[lns.users]]\nname = \"alice\"\npassword = \"secret\"\n";
const BOB: &str = "[[lns.users]]\nname = \"bob\"\npassword = \"bobs-secret\"\n";

fn client(dir: &Path, who: &str, port: u16, password: &str) -> Proc {
    let server = format!("127.0.0.1:{port}");
    #[rustfmt::skip]
    let args = [
        "loadgen", "--server", &server, "--tunnels", "1", "--sessions", "1",
        "--user", who, "--password", password, "--hold", "60", "--timeout", "30",
    ];
    Proc::l2tpd(dir, who, &args)
}

#[test]
fn reload_applies_a_new_user_and_a_grown_pool_without_touching_the_session_up() {
    let ctl = Path::new(L2TPD).with_file_name("l2tpctl");
    if !support::requires(
        "reload_applies_a_new_user_and_a_grown_pool_without_touching_the_session_up",
        &[(
            "l2tpctl built next to l2tpd (cargo build -p l2tpctl)",
            ctl.exists(),
        )],
    ) {
        return;
    }
    let dir = TempDir::new("reload");
    let port = free_udp_port();
    let sock = dir.0.join("lns.sock");
    let file = dir.0.join("lns.toml");
    // One address: alice takes it.
    std::fs::write(
        &file,
        config(&sock, port, "203.0.113.10-203.0.113.10", ALICE),
    )
    .unwrap();
    let lns = Proc::l2tpd(&dir.0, "lns", &["run", "--config", file.to_str().unwrap()]);
    support::wait_for(std::time::Duration::from_secs(10), "the LNS", || {
        l2tp_mgmt::Client::connect(&sock).is_ok()
    });
    let _alice = client(&dir.0, "alice", port, "secret");
    let before = wait_sessions_up(&sock, 1, &|| lns.log_tail());
    assert_eq!(before[0].ipv4, Some("203.0.113.10".parse().unwrap()));

    // bob added, the pool grown by one address.
    std::fs::write(
        &file,
        config(
            &sock,
            port,
            "203.0.113.10-203.0.113.11",
            &format!("{ALICE}{BOB}"),
        ),
    )
    .unwrap();
    let (ok, out, err) = l2tpctl_reload(&ctl, &sock);
    assert!(ok, "l2tpctl reload: {out}{err}\n{}", lns.log_tail());
    assert!(out.contains("applied: users: 2 users (was 1)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("applied: lns.ipv4_pool")
                && l.contains("203.0.113.10-203.0.113.11")),
        "{out}"
    );
    assert!(!out.contains("not applied"), "{out}");
    assert!(!out.contains("bobs-secret"), "{out}");
    // The daemon's log says the same.
    assert!(
        lns.log_text().contains("reload: applied: users: 2 users"),
        "{}",
        lns.log_tail()
    );

    // bob gets in, with the address of the grown part; alice's session is the same one.
    let _bob = client(&dir.0, "bob", port, "bobs-secret");
    let up = wait_sessions_up(&sock, 2, &|| lns.log_tail());
    let alice = up
        .iter()
        .find(|s| s.user.as_deref() == Some("alice"))
        .expect("alice");
    assert_eq!(
        (alice.tunnel, alice.session),
        (before[0].tunnel, before[0].session)
    );
    assert_eq!(alice.ipv4, before[0].ipv4);
    let bob = up
        .iter()
        .find(|s| s.user.as_deref() == Some("bob"))
        .expect("bob");
    assert_eq!(bob.ipv4, Some("203.0.113.11".parse().unwrap()));

    // A broken file is refused with the validation error; nothing changes.
    std::fs::write(
        &file,
        config(
            &sock,
            port,
            "203.0.113.10-203.0.113.11",
            &format!("{ALICE}{BOB}max_sessions = \"many\"\n"),
        ),
    )
    .unwrap();
    let (ok, out, err) = l2tpctl_reload(&ctl, &sock);
    assert!(!ok, "a broken file was accepted: {out}");
    assert!(
        err.contains("refused") && err.contains("max_sessions"),
        "{out}{err}"
    );
    let after = sessions(&sock);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after
        .iter()
        .any(|s| (s.tunnel, s.session) == (before[0].tunnel, before[0].session)));
    assert!(
        lns.log_text().contains("configuration refused"),
        "{}",
        lns.log_tail()
    );
}
