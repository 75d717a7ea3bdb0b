//! The example configurations and the configuration guide stay valid: every example file and
//! every TOML block of docs/configuration.md parses and validates, and every field of the
//! configuration is documented.

use l2tpd::config::{
    AuthSource, Config, DaemonConfig, DebugMask, DialConfig, InlineUser, LnsConfig, RadiusConfig,
    Role, TunnelConfig,
};
use l2tpd::users::Users;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn example_configs_parse_and_validate() {
    for (file, role) in [
        ("lns.toml", Role::Lns),
        ("client.toml", Role::Client),
        ("lac.toml", Role::Lac),
        ("ipsec/lns.toml", Role::Lns),
        ("ipsec/client.toml", Role::Client),
    ] {
        let path = repo().join("examples").join(file);
        let (cfg, _warnings) =
            Config::load(&path).unwrap_or_else(|e| panic!("examples/{file}: {e}"));
        assert_eq!(cfg.role, role, "examples/{file}");
    }
    let (lns, _) = Config::load(&repo().join("examples/lns.toml")).unwrap();
    let l = lns.lns.unwrap();
    assert_eq!(l.listen.len(), 2, "IPv4 and IPv6 listeners");
    assert_eq!(l.ipv4_pool.unwrap().capacity(), 191);
}

#[test]
fn example_users_file_parses() {
    let users = Users::load(&repo().join("examples/users")).unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(
        users.get("carol smith").unwrap().password,
        "p#ss \"quoted\""
    );
    assert!(users.get("alice").unwrap().ipv4.is_some());
}

fn doc() -> String {
    std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap()
}

#[test]
fn toml_blocks_in_the_guide_are_valid_configs() {
    let doc = doc();
    let mut blocks = 0;
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("unterminated block");
        Config::from_toml_str(&body[..end])
            .unwrap_or_else(|e| panic!("docs block #{blocks}:\n{}\n{e}", &body[..end]));
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks >= 2, "the guide shows at least an LNS and a client");
}

/// Dotted names (`tunnel.hello_interval`) of every field, from a configuration with every
/// optional field set, serialised back to TOML.
fn all_field_names() -> Vec<String> {
    let full = Config {
        role: Role::Lns,
        daemon: DaemonConfig {
            management_socket: Some("/run/x.sock".into()),
            metrics_listen: Some("127.0.0.1:9701".parse().unwrap()),
            debug_mask: DebugMask(1),
            user: Some("l2tpd".into()),
            group: Some("l2tpd".into()),
            ..Default::default()
        },
        tunnel: TunnelConfig {
            host_name: Some("h".into()),
            secret: Some("s".into()),
            ..Default::default()
        },
        session: Default::default(),
        ppp: Default::default(),
        lns: Some(LnsConfig {
            users_file: Some("/u".into()),
            users: vec![InlineUser {
                name: "n".into(),
                password: "p".into(),
                ipv4: None,
            }],
            ipv4_pool: Some("10.0.0.1-10.0.0.2".parse().unwrap()),
            local_ipv4: Some("10.0.0.9".parse().unwrap()),
            ipv6_prefix: Some("2001:db8::/64".parse().unwrap()),
            auth: Some(AuthSource::Radius),
            ..Default::default()
        }),
        dial: Some(DialConfig::default()),
        radius: Some(RadiusConfig {
            nas_identifier: Some("lns-1".into()),
            nas_ip: Some("192.0.2.1".parse().unwrap()),
            nas_ipv6: Some("2001:db8::1".parse().unwrap()),
            rate_limit_attribute: Some("Filter-Id:rate=".into()),
            dae_listen: Some("127.0.0.1:3799".parse().unwrap()),
            ..Default::default()
        }),
        lac: Some(l2tpd::config::lac::LacConfig {
            lns: Some("192.0.2.1".parse().unwrap()),
            ..Default::default()
        }),
        failover: Default::default(),
        peers: vec![l2tpd::config::profiles::PeerProfile {
            address: Some("192.0.2.0/24".parse().unwrap()),
            host_name: Some("lac-1".into()),
            secret: Some("s".into()),
            hide_avps: Some(true),
            our_host_name: Some("lns".into()),
            proxy: Some(Default::default()),
            receive_window: Some(8),
            hello_interval: Some(30),
            max_tunnels: 1,
            max_sessions: 100,
            send_proxy: Some(Default::default()),
        }],
    };
    let value = toml::Value::try_from(&full).unwrap();
    let mut names = Vec::new();
    for (k, v) in value.as_table().unwrap() {
        match v {
            toml::Value::Table(t) => names.extend(t.keys().map(|f| format!("{k}.{f}"))),
            // An array of tables (`[[peer]]`): its fields.
            toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table) => {
                let t = a[0].as_table().unwrap();
                names.extend(t.keys().map(|f| format!("{k}.{f}")))
            }
            _ => names.push(k.clone()),
        }
    }
    names
}

#[test]
fn every_field_is_documented() {
    let doc = doc();
    let names = all_field_names();
    assert!(names.len() > 40, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented fields: {missing:?}");
}

#[test]
fn readme_deployment_configs_pass_l2tpd_check() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let dir = std::env::temp_dir().join(format!("l2tpd-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    std::fs::write(&users, "alice alice-pw\n").unwrap();
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("unterminated block");
        // The files and the user a package install has, here in a temporary directory.
        let text = body[..end]
            .replace("/etc/l2tpd/users", users.to_str().unwrap())
            .replace("user = \"l2tpd\"", "user = \"root\"");
        let path = dir.join(format!("block{blocks}.toml"));
        std::fs::write(&path, &text).unwrap();
        for p in [&path, &users] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let report = l2tpd::check::check(&path);
        assert!(
            report.errors.is_empty(),
            "README block #{blocks}:\n{text}\n{:#?}",
            report.errors
        );
        blocks += 1;
        rest = &body[end + 3..];
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The VPN server's configuration is examples/ipsec/lns.toml (checked above and run by
    // tests/ipsec_guest.rs).
    assert!(blocks >= 2, "LNS behind LACs, client");
}
