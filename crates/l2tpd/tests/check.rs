//! `l2tpd check --config FILE` as an operator runs it before a restart: exit 0 and one OK
//! line for a good configuration; exit 1 and every problem, each as FILE:LINE: message, for
//! each refusal below (one test each).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// A good LNS configuration; `USERS` stands for the users file's path.
const GOOD: &str = "role = \"lns\"
[tunnel]
secret = \"tunnel-secret\"
[lns]
listen = [\"127.0.0.1:1701\"]
users_file = \"USERS\"
ipv4_pool = \"203.0.113.10-203.0.113.200\"
local_ipv4 = \"198.51.100.1\"
";
const GOOD_USERS: &str =
    "# name password [fixed address]\nalice alice-pw 203.0.113.240\nbob bob-pw\n";

struct Checked {
    ok: bool,
    stdout: String,
    stderr: String,
    config: String,
    users: String,
}

/// Writes the configuration and users file (modes 0600 unless given) and runs `l2tpd check`.
fn check_with(config: &str, users: &str, config_mode: u32, users_mode: u32) -> Checked {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "l2tpd-check-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let users_path = dir.join("users");
    let config_path = dir.join("l2tpd.toml");
    std::fs::write(&users_path, users).expect("users");
    std::fs::write(
        &config_path,
        config.replace("USERS", users_path.to_str().expect("utf-8")),
    )
    .expect("config");
    std::fs::set_permissions(&users_path, std::fs::Permissions::from_mode(users_mode)).unwrap();
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(config_mode)).unwrap();
    let out = Command::new(L2TPD)
        .args(["check", "--config"])
        .arg(&config_path)
        .output()
        .expect("run l2tpd check");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit status {:?}",
        out.status
    );
    Checked {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        config: config_path.display().to_string(),
        users: users_path.display().to_string(),
    }
}

fn check(config: &str, users: &str) -> Checked {
    check_with(config, users, 0o600, 0o600)
}

/// Asserts a refusal that reports `needle` at `file:line`.
fn refused(c: &Checked, file: &str, line: Option<usize>, needle: &str) {
    assert!(!c.ok, "accepted:\n{}{}", c.stdout, c.stderr);
    let at = match line {
        Some(l) => format!("{file}:{l}: "),
        None => format!("{file}: "),
    };
    assert!(
        c.stderr
            .lines()
            .any(|l| l.starts_with(&at) && l.contains(needle)),
        "no line starting {at:?} containing {needle:?} in:\n{}",
        c.stderr
    );
    assert!(c.stderr.contains("configuration refused"), "{}", c.stderr);
}

#[test]
fn a_good_configuration_passes_with_exit_zero() {
    let c = check(GOOD, GOOD_USERS);
    assert!(c.ok, "refused:\n{}", c.stderr);
    assert!(c.stdout.contains("configuration OK"), "{}", c.stdout);
    assert!(
        c.stdout.contains("203.0.113.10-203.0.113.200"),
        "{}",
        c.stdout
    );
}

#[test]
fn the_shipped_example_passes() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lns = std::fs::read_to_string(repo.join("examples/lns.toml")).unwrap();
    let users = std::fs::read_to_string(repo.join("examples/users")).unwrap();
    let c = check(&lns.replace("/etc/l2tpd/users", "USERS"), &users);
    assert!(
        c.ok,
        "examples/lns.toml with examples/users refused:\n{}",
        c.stderr
    );
}

#[test]
fn a_bad_value_is_reported_at_its_line() {
    let c = check(
        &GOOD.replace("[tunnel]\n", "[tunnel]\nhello_interval = 0\n"),
        GOOD_USERS,
    );
    refused(
        &c,
        &c.config,
        Some(3),
        "tunnel.hello_interval: must be ≥ 1 s",
    );
}

#[test]
fn toml_syntax_error_is_reported_at_its_line() {
    let c = check(&GOOD.replace("local_ipv4 = ", "local_ipv4 == "), GOOD_USERS);
    refused(&c, &c.config, Some(8), "");
}

#[test]
fn users_file_syntax_error_is_reported_at_its_line() {
    let c = check(GOOD, "alice alice-pw\nbob\ncarol pw not-an-address\n");
    refused(&c, &c.users, Some(2), "\"bob\" has no password");
    refused(&c, &c.users, Some(3), "not an IPv4 address");
}

#[test]
fn missing_users_file_is_refused() {
    let c = check(&GOOD.replace("USERS", "/nonexistent/users"), "");
    refused(&c, &c.config, Some(6), "lns.users_file: /nonexistent/users");
}

#[test]
fn duplicate_users_are_refused() {
    let c = check(GOOD, "alice a1\nbob b1\nalice a2\n");
    refused(
        &c,
        &c.users,
        Some(3),
        "user \"alice\": defined twice (first at line 1)",
    );
}

#[test]
fn duplicate_inline_users_are_refused() {
    let text = format!(
        "{GOOD}[[lns.users]]\nname = \"ops\"\npassword = \"x\"\n[[lns.users]]\nname = \"ops\"\npassword = \"y\"\n"
    );
    let c = check(&text, GOOD_USERS);
    refused(
        &c,
        &c.config,
        Some(13),
        "lns.users[1]: defined twice (first at line 10)",
    );
}

#[test]
fn empty_passwords_are_refused() {
    let c = check(GOOD, "alice \"\"\nbob b1\n");
    refused(&c, &c.users, Some(1), "user \"alice\": empty password");
    let inline = format!("{GOOD}[[lns.users]]\nname = \"ops\"\npassword = \"\"\n");
    let c = check(&inline, GOOD_USERS);
    refused(&c, &c.config, Some(10), "lns.users[0]: empty password");
}

#[test]
fn a_pool_including_local_ipv4_is_refused() {
    let c = check(&GOOD.replace("198.51.100.1", "203.0.113.100"), GOOD_USERS);
    refused(
        &c,
        &c.config,
        Some(7),
        "includes lns.local_ipv4 203.0.113.100",
    );
}

#[test]
fn a_pool_including_a_fixed_address_is_refused() {
    let c = check(GOOD, "alice a1\nbob b1 203.0.113.50\n");
    refused(
        &c,
        &c.users,
        Some(2),
        "fixed address 203.0.113.50 is inside lns.ipv4_pool",
    );
    let inline =
        format!("{GOOD}[[lns.users]]\nname = \"ops\"\npassword = \"p\"\nipv4 = \"203.0.113.11\"\n");
    let c = check(&inline, GOOD_USERS);
    refused(
        &c,
        &c.config,
        Some(10),
        "fixed address 203.0.113.11 is inside lns.ipv4_pool",
    );
}

#[test]
fn a_fixed_address_given_twice_is_refused() {
    let c = check(GOOD, "alice a1 192.0.2.7\nbob b1 192.0.2.7\n");
    refused(
        &c,
        &c.users,
        Some(2),
        "fixed address 192.0.2.7 is also given to user \"alice\"",
    );
}

#[test]
fn pools_in_reserved_ranges_are_refused() {
    for (pool, range) in [
        ("0.0.0.1-0.0.0.100", "0.0.0.0/8"),
        ("127.0.0.0/24", "127.0.0.0/8"),
        ("126.255.255.200-127.0.0.10", "127.0.0.0/8"),
        ("224.0.0.0/24", "224.0.0.0/4 (multicast)"),
        ("239.255.255.0/24", "224.0.0.0/4 (multicast)"),
        ("255.255.255.200-255.255.255.255", "255.255.255.255"),
    ] {
        let c = check(
            &GOOD.replace("203.0.113.10-203.0.113.200", pool),
            "alice a1\n",
        );
        refused(
            &c,
            &c.config,
            Some(7),
            &format!("overlaps the reserved range {range}"),
        );
    }
}

#[test]
fn world_writable_secret_files_are_refused() {
    let c = check_with(GOOD, GOOD_USERS, 0o666, 0o600);
    refused(&c, &c.config, None, "anyone can write it (mode 0666)");
    let c = check_with(GOOD, GOOD_USERS, 0o600, 0o602);
    refused(&c, &c.users, None, "anyone can write it (mode 0602)");
    // Readable by others: advice, not a refusal.
    let c = check_with(GOOD, GOOD_USERS, 0o600, 0o644);
    assert!(c.ok, "{}", c.stderr);
    assert!(
        c.stderr.contains("warning:") && c.stderr.contains("chmod 600"),
        "{}",
        c.stderr
    );
}

#[test]
fn an_unknown_daemon_user_is_refused() {
    let c = check(
        &GOOD.replace(
            "[tunnel]",
            "[daemon]\nuser = \"no-such-user-l2tpd\"\n[tunnel]",
        ),
        GOOD_USERS,
    );
    refused(
        &c,
        &c.config,
        Some(3),
        "daemon.user: no user \"no-such-user-l2tpd\"",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("[tunnel]\n", "[tunnel]\nretries = 0\n")
        .replace("198.51.100.1", "203.0.113.20");
    let c = check(&text, "alice \"\"\nalice a2\nbob\n");
    refused(&c, &c.config, Some(3), "tunnel.retries");
    refused(&c, &c.config, Some(8), "includes lns.local_ipv4");
    refused(&c, &c.users, Some(1), "empty password");
    refused(&c, &c.users, Some(2), "defined twice");
    refused(&c, &c.users, Some(3), "has no password");
    assert!(c.stderr.contains("5 problem(s)"), "{}", c.stderr);
}
