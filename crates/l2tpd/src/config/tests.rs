//! Configuration tests: parsing, defaults, validation messages, command-line flags.

use super::*;

const LNS: &str = r#"
role = "lns"
[lns]
ipv4_pool = "203.0.113.10-203.0.113.200"
local_ipv4 = "203.0.113.1"
users_file = "/etc/l2tpd/users"
"#;

fn errors_of(text: &str) -> Vec<String> {
    match Config::from_toml_str(text) {
        Err(ConfigError::Invalid(v)) => v.iter().map(|e| e.to_string()).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[test]
fn minimal_lns_gets_documented_defaults() {
    let c = Config::from_toml_str(LNS).unwrap();
    assert_eq!(c.role, Role::Lns);
    let l = c.lns.as_ref().unwrap();
    assert_eq!(l.listen, vec![ListenAddr("0.0.0.0:1701".parse().unwrap())]);
    assert_eq!(c.ppp.mtu, 1460);
    assert_eq!(c.ppp.mru, 1460);
    assert_eq!(
        c.ppp.auth,
        vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap]
    );
    assert_eq!(c.tunnel.hello_interval, 60);
    assert_eq!(c.tunnel.retries, 5);
    assert_eq!(c.tunnel.receive_window, 16);
    assert!(!c.session.send_seq && !c.session.recv_seq);
    assert_eq!(c.session.reorder_timeout_ms, 0);
    assert_eq!(l.interface_mode, InterfaceMode::PerSession);
    assert_eq!(l.interface_name(), "l2tp%d");
    assert_eq!(c.daemon.log_level, LogLevel::Info);
    assert_eq!(c.daemon.metrics_listen, None);
    assert!(
        l.allowed_peers.is_empty(),
        "everyone may open tunnels by default"
    );
}

#[test]
fn errors_name_the_field() {
    let errs = errors_of(&format!("{LNS}\n[tunnel]\nhello_interval = 0\n"));
    assert_eq!(errs, vec!["tunnel.hello_interval: must be ≥ 1 s, got 0"]);
    let errs = errors_of(
        "role = \"lns\"\n[tunnel]\nhide_avps = true\nretries = 0\n[ppp]\nmtu = 100\ndns = [\"1.1.1.1\",\"8.8.8.8\",\"9.9.9.9\"]\n[lns]\n",
    );
    let fields: Vec<&str> = errs.iter().map(|e| e.split(':').next().unwrap()).collect();
    assert_eq!(
        fields,
        vec![
            "tunnel.retries",
            "tunnel.hide_avps",
            "ppp.mtu",
            "ppp.dns",
            "lns.ipv4_pool",
            "lns.local_ipv4",
            "lns.users_file"
        ],
        "{errs:#?}"
    );
}

#[test]
fn unknown_fields_and_bad_values_are_parse_errors_with_the_key() {
    let e = Config::from_toml_str(&format!("{LNS}\n[tunnel]\nhelo_interval = 5\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("helo_interval"), "{e}");
    let e = Config::from_toml_str("role = \"lns\"\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus"), "{e}");
    let e = Config::from_toml_str("role = \"server\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server"), "{e}");
    let e = Config::from_toml_str(&LNS.replace("203.0.113.10-", "203.0.113.250-"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ipv4_pool") && e.contains("after the last"),
        "{e}"
    );
    let e = Config::from_toml_str(&format!("{LNS}\n[ppp]\nauth = [\"chap-sha1\"]\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("chap-sha1"), "{e}");
}

#[test]
fn role_sections_must_match() {
    let errs = errors_of("role = \"client\"\n");
    assert_eq!(errs, vec!["dial: section required for role \"client\""]);
    let errs = errors_of(&format!(
        "{LNS}\n[dial]\npeers=[\"x\"]\nuser=\"u\"\npassword=\"p\"\n"
    ));
    assert_eq!(
        errs,
        vec!["dial: not used by role \"lns\" (remove the section)"]
    );
}

#[test]
fn client_peers_default_port_and_redial_backoff() {
    let c = Config::from_toml_str(
        r#"
role = "client"
[daemon]
debug_mask = "data,seq"
[dial]
peers = ["lns.example.net", "192.0.2.1:1702", "[2001:db8::1]:1701"]
user = "alice"
password = "pw"
redial_initial = 2
redial_max = 30
routes = ["10.0.0.0/8", "2001:db8:1::/48"]
"#,
    )
    .unwrap();
    assert_eq!(c.daemon.debug_mask, DebugMask(0xc));
    let d = c.dial.unwrap();
    assert_eq!(d.peers[0].to_string(), "lns.example.net:1701");
    assert_eq!(d.peers[1].port, 1702);
    assert_eq!(d.peers[2].host, "2001:db8::1");
    assert_eq!(d.peers[2].to_string(), "[2001:db8::1]:1701");
    assert_eq!((d.redial_initial, d.redial_max), (2, 30));
    assert!(Config::from_toml_str(
        "role=\"client\"\n[dial]\npeers=[\"bad host:1\"]\nuser=\"u\"\npassword=\"p\"\n"
    )
    .is_err());
}

#[test]
fn quick_start_flags_build_the_same_config() {
    use clap::Parser;
    #[derive(Parser)]
    enum Cli {
        Client(ClientArgs),
        Lns(LnsArgs),
    }
    let Cli::Client(a) = Cli::try_parse_from([
        "l2tpd",
        "client",
        "--server",
        "192.0.2.1",
        "--user",
        "alice",
        "--password",
        "pw",
        "--sessions",
        "2",
        "--secret",
        "s",
    ])
    .unwrap() else {
        panic!()
    };
    let (c, w) = config_from_client_args(&a).unwrap();
    let d = c.dial.as_ref().unwrap();
    assert_eq!(d.peers[0].to_string(), "192.0.2.1:1701");
    assert_eq!(d.sessions, 2);
    assert_eq!(c.tunnel.secret.as_ref().map(Secret::expose), Some("s"));
    assert!(w.iter().any(|w| w.0.contains("--password")));

    let Cli::Lns(a) = Cli::try_parse_from([
        "l2tpd",
        "lns",
        "--listen",
        "127.0.0.1:1702",
        "--listen",
        "::1",
        "--pool",
        "10.1.0.10-10.1.0.20",
        "--local-ip",
        "10.1.0.1",
        "--user",
        "alice:pw",
        "--user",
        "bob:pw2",
        "--socket",
        "/tmp/x.sock",
    ])
    .unwrap() else {
        panic!()
    };
    let (c, _) = config_from_lns_args(&a).unwrap();
    let l = c.lns.as_ref().unwrap();
    assert_eq!(l.listen[1].0, "[::1]:1701".parse().unwrap());
    assert_eq!(l.ipv4_pool.unwrap().capacity(), 11);
    let users = l.load_users().unwrap();
    assert_eq!(users.get("bob").unwrap().password, "pw2");
    assert_eq!(
        c.daemon.management_socket_path(),
        PathBuf::from("/tmp/x.sock")
    );

    let Cli::Lns(bad) = Cli::try_parse_from([
        "l2tpd",
        "lns",
        "--pool",
        "10.1.0.10-10.1.0.20",
        "--local-ip",
        "10.1.0.1",
        "--user",
        "alice",
    ])
    .unwrap() else {
        panic!()
    };
    let e = config_from_lns_args(&bad).unwrap_err().to_string();
    assert!(e.contains("--user: expected NAME:PASS"), "{e}");
}

#[test]
fn debug_output_of_a_configuration_holds_no_secret() {
    let c = Config::from_toml_str(
        "role = \"client\"\n[tunnel]\nsecret = \"tunnel-s3cr3t\"\n[dial]\n\
         peers = [\"192.0.2.1\"]\nuser = \"alice\"\npassword = \"ppp-p4ss\"\n",
    )
    .unwrap();
    let dump = format!("{c:?} {c:#?}");
    assert!(
        !dump.contains("tunnel-s3cr3t") && !dump.contains("ppp-p4ss"),
        "{dump}"
    );
    assert!(dump.contains("<redacted>"));
    assert_eq!(c.dial.unwrap().password.expose(), "ppp-p4ss");
}

#[test]
fn readable_secret_files_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("l2tpd-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    std::fs::write(&users, "alice pw\n").unwrap();
    let cfg_path = dir.join("lns.toml");
    let text = LNS.replace("/etc/l2tpd/users", &users.display().to_string())
        + "[tunnel]\nsecret = \"s\"\n";
    std::fs::write(&cfg_path, text).unwrap();
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&cfg_path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (c, w) = Config::load(&cfg_path).unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w
        .iter()
        .any(|w| w.0.contains("users") && w.0.contains("0644")));
    assert!(w
        .iter()
        .any(|w| w.0.contains("lns.toml") && w.0.contains("0640")));
    assert_eq!(c.lns.unwrap().load_users().unwrap().len(), 1);
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&cfg_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, w) = Config::load(&cfg_path).unwrap();
    assert!(w.is_empty(), "{w:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn radius_quick_start_flags_build_a_radius_section() {
    use clap::Parser;
    #[derive(Parser)]
    enum Cli {
        Lns(LnsArgs),
    }
    let parse = |extra: &[&str]| {
        let mut args = vec![
            "l2tpd",
            "lns",
            "--pool",
            "203.0.113.10-203.0.113.20",
            "--local-ip",
            "198.51.100.1",
        ];
        args.extend_from_slice(extra);
        let Cli::Lns(a) = Cli::try_parse_from(args).unwrap();
        config_from_lns_args(&a)
    };
    #[rustfmt::skip]
    let (c, w) = parse(&[
        "--radius", "192.0.2.10", "--radius", "192.0.2.11:1645", "--radius-secret", "s3",
        "--das-listen", "192.0.2.1:3799",
    ])
    .unwrap();
    assert_eq!(c.auth_source(), AuthSource::Radius);
    let r = c.radius.as_ref().unwrap();
    let addrs = |v: &[RadiusServer]| v.iter().map(|s| s.address.to_string()).collect::<Vec<_>>();
    assert_eq!(
        addrs(&r.auth_servers),
        ["192.0.2.10:1812", "192.0.2.11:1645"]
    );
    assert_eq!(
        addrs(&r.acct_servers),
        ["192.0.2.10:1813", "192.0.2.11:1646"]
    );
    assert_eq!(r.auth_servers[1].priority, 2);
    assert_eq!(r.dae_clients.len(), 2);
    assert_eq!(r.dae_listen.unwrap().0.to_string(), "192.0.2.1:3799");
    assert!(w.iter().any(|w| w.0.contains("--radius-secret")));
    let field = |e: ConfigError| match e {
        ConfigError::Invalid(v) => v[0].field.clone(),
        other => panic!("{other}"),
    };
    assert_eq!(
        field(parse(&["--radius", "192.0.2.10"]).unwrap_err()),
        "--radius-secret"
    );
    assert_eq!(
        field(parse(&["--radius", "nowhere", "--radius-secret", "s"]).unwrap_err()),
        "--radius"
    );
    assert_eq!(
        field(parse(&["--das-listen", "192.0.2.1:3799"]).unwrap_err()),
        "--das-listen"
    );
}

#[test]
fn pppd_mode_needs_the_kernel_datapath() {
    let c = Config::from_toml_str(LNS).unwrap();
    assert_eq!(c.ppp.mode, PppMode::Builtin);
    assert_eq!(c.ppp.pppd_path, PathBuf::from("/usr/sbin/pppd"));
    assert!(c.ppp.pppd_options.is_empty());

    let errs = errors_of(&format!("{LNS}\n[ppp]\nmode = \"pppd\"\n"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("ppp.mode: \"pppd\" needs daemon.datapath = \"kernel\""),
        "{errs:?}"
    );
    let errs = errors_of(&format!(
        "{LNS}\n[daemon]\ndatapath = \"kernel\"\n[ppp]\nmode = \"pppd\"\npppd_path = \"pppd\"\n"
    ));
    assert_eq!(
        errs,
        vec!["ppp.pppd_path: must be an absolute path, got \"pppd\""]
    );
    for datapath in ["kernel", "auto"] {
        let c = Config::from_toml_str(&format!(
            "{LNS}\n[daemon]\ndatapath = \"{datapath}\"\n[ppp]\nmode = \"pppd\"\n\
             pppd_options = [\"require-mschap-v2\", \"logfile\", \"/var/log/pppd.log\"]\n"
        ))
        .unwrap();
        assert_eq!(c.ppp.mode, PppMode::Pppd);
        assert_eq!(c.ppp.pppd_options.len(), 3);
    }
    // The command line's --datapath wins over the file, and is checked too.
    let mut c = Config::from_toml_str(&format!(
        "{LNS}\n[daemon]\ndatapath = \"kernel\"\n[ppp]\nmode = \"pppd\"\n"
    ))
    .unwrap();
    c.daemon.datapath = DatapathMode::Userspace;
    assert!(c.validate().is_err());
}

#[test]
fn named_pools_are_unique_and_never_overlap() {
    let ok = format!(
        "{LNS}\n[[lns.pools]]\nname = \"business\"\nrange = \"198.51.100.0/28\"\n\
         [[lns.pools]]\nname = \"trial\"\nrange = \"198.51.100.100-198.51.100.120\"\n"
    );
    let c = Config::from_toml_str(&ok).unwrap();
    let pools = &c.lns.as_ref().unwrap().pools;
    assert_eq!(pools.len(), 2);
    assert_eq!(
        (pools[1].name.as_str(), pools[1].range.capacity()),
        ("trial", 21)
    );
    let errs = errors_of(&format!(
        "{LNS}\n[[lns.pools]]\nname = \"a\"\nrange = \"203.0.113.150-203.0.113.250\"\n\
         [[lns.pools]]\nname = \"b\"\nrange = \"198.51.100.0/24\"\n\
         [[lns.pools]]\nname = \"b\"\nrange = \"198.51.100.128/25\"\n\
         [[lns.pools]]\nname = \"\"\nrange = \"192.0.2.1-192.0.2.2\"\n"
    ));
    assert_eq!(
        errs,
        vec![
            "lns.pools[0].range: overlaps lns.ipv4_pool (an address belongs to one pool)",
            "lns.pools[2].name: \"b\" is already the name of lns.pools[1]",
            "lns.pools[2].range: overlaps lns.pools[1] (an address belongs to one pool)",
            "lns.pools[3].name: must not be empty",
        ],
        "{errs:#?}"
    );
}
