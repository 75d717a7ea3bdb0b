//! The command line as an operator meets it: bad configuration gives one clear error that
//! names the field and a non-zero exit; the example configurations start.

use std::process::Command;

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
