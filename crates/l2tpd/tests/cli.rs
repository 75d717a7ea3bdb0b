//! The command line as an operator meets it: bad configuration gives one clear error that
//! names the field and a non-zero exit; the example configurations start.

use std::process::Command;

mod support;

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

fn run_config(text: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("l2tpd-cli-{}-{}", std::process::id(), text.len()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).expect("write");
    let out = Command::new(L2TPD)
        .args(["run", "--config", path.to_str().expect("utf-8")])
        .output()
        .expect("run l2tpd");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn bad_configuration_names_the_field_and_exits_non_zero() {
    let cases = [
        (
            "role = \"lns\"\n[tunnel]\nhello_interval = 0\n[lns]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\nlocal_ipv4 = \"198.51.100.1\"\n",
            "tunnel.hello_interval",
        ),
        ("role = \"lns\"\n[lns]\nlocal_ipv4 = \"198.51.100.1\"\n", "lns.ipv4_pool"),
        ("role = \"client\"\n[dial]\nuser = \"a\"\npassword = \"b\"\n", "dial.peers"),
        ("role = \"lns\"\n[lns]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\nlocal_ipv4 = \"198.51.100.1\"\nbogus = 1\n", "bogus"),
        ("role = \"bridge\"\n", "role"),
    ];
    for (text, field) in cases {
        let out = run_config(text);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted:\n{text}");
        assert!(
            err.contains(field),
            "error for {field:?} does not name it: {err}"
        );
        assert!(
            err.lines().count() <= 8,
            "one clear error, not a dump: {err}"
        );
    }
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = Command::new(L2TPD)
        .args(["run", "--config", "/nonexistent/l2tpd.toml"])
        .output()
        .expect("run l2tpd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/l2tpd.toml"), "{err}");
}

#[test]
fn quick_start_flags_are_validated() {
    let out = Command::new(L2TPD)
        .args([
            "lns",
            "--pool",
            "203.0.113.20-203.0.113.10",
            "--local-ip",
            "198.51.100.1",
            "--user",
            "a:b",
        ])
        .output()
        .expect("run l2tpd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pool"), "{err}");
}

#[test]
fn the_demo_brings_up_sessions_and_pings_through_each() {
    let out = Command::new(L2TPD)
        .args(["demo", "--sessions", "3", "--pings", "2"])
        .output()
        .expect("run the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("demo OK: 3 session(s) up, 6/6 echo replies"),
        "{text}"
    );
    assert!(
        text.contains("after hang-up: 0 session(s), 0 pool address(es) in use"),
        "{text}"
    );
}

#[test]
fn a_second_daemon_on_a_port_in_use_is_refused_and_the_first_keeps_it() {
    use std::time::{Duration, Instant};
    let port = support::free_udp_port();
    let dir = std::env::temp_dir().join(format!("l2tpd-cli-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = |name: &str| {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\n[lns]\n\
                 listen = [\"127.0.0.1:{port}\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
                 local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\n\
                 [[lns.users]]\nname = \"alice\"\npassword = \"alice-pw\"\n",
                dir.join(format!("{name}.sock")).display()
            ),
        )
        .expect("write config");
        path
    };
    let (first_cfg, second_cfg) = (config("first"), config("second"));
    let mut first = Command::new(L2TPD)
        .args(["run", "--config", first_cfg.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the first daemon");
    let first_sock = dir.join("first.sock");
    support::wait_for(Duration::from_secs(10), "the first daemon", || {
        first_sock.exists()
    });
    // The second one must not start: it would share the port and take the first's traffic.
    let started = Instant::now();
    let mut second = Command::new(L2TPD)
        .args(["run", "--config", second_cfg.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the second daemon");
    let status = loop {
        if let Some(s) = second.try_wait().expect("wait") {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(10) {
            support::stop(&mut second);
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = second.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let first_alive = first.try_wait().expect("wait").is_none();
    let first_stats = first_alive.then(|| support::stats(&first_sock));
    support::stop(&mut first);
    let _ = std::fs::remove_dir_all(&dir);
    let status = status.expect("the second daemon started on a port in use");
    assert!(!status.success());
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("in use"),
        "error does not say which port is taken: {err}"
    );
    assert!(
        first_stats.is_some_and(|s| s.role == "lns"),
        "the first daemon died"
    );
}

#[test]
fn log_lines_to_a_pipe_carry_no_colour_escapes() {
    // The daemon's log goes to a pipe here, as to a file or the journal.
    let port = support::free_udp_port();
    let dir = std::env::temp_dir().join(format!("l2tpd-cli-ansi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("lns.toml");
    let sock = dir.join("lns.sock");
    std::fs::write(
        &path,
        format!(
            "role = \"lns\"\n[daemon]\nmanagement_socket = \"{}\"\nlog_level = \"debug\"\n[lns]\n\
             listen = [\"127.0.0.1:{port}\"]\nipv4_pool = \"203.0.113.10-203.0.113.20\"\n\
             local_ipv4 = \"198.51.100.1\"\ninterface_mode = \"none\"\n\
             [[lns.users]]\nname = \"alice\"\npassword = \"alice-pw\"\n",
            sock.display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(L2TPD)
        .args(["run", "--config", path.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start l2tpd");
    support::wait_for(std::time::Duration::from_secs(10), "l2tpd", || {
        sock.exists()
    });
    // A subscriber comes and goes: the daemon logs its tunnel and session at INFO.
    let gen = Command::new(L2TPD)
        .args([
            "loadgen",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--tunnels",
            "1",
        ])
        .args([
            "--sessions",
            "1",
            "--user",
            "alice",
            "--password",
            "alice-pw",
        ])
        .args(["--hold", "0", "--timeout", "20"])
        .output()
        .expect("run l2tpd loadgen");
    assert!(gen.status.success(), "{gen:?}");
    support::stop(&mut child);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("INFO"), "no INFO line logged: {err:?}");
    assert!(
        !err.contains('\u{1b}'),
        "escape bytes in a log written to a pipe: {err:?}"
    );
}
