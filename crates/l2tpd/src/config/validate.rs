//! Validation: every value of a parsed [`Config`] checked at start, all problems reported
//! together, each naming its field (`tunnel.hello_interval: must be ≥ 1 s, got 0`).

use super::*;

impl Config {
    /// Checks every value; all problems are reported together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errs = Vec::new();
        let mut bad = |field: &str, message: String| {
            errs.push(FieldError {
                field: field.to_string(),
                message,
            })
        };

        // [daemon]
        let d = &self.daemon;
        if d.user.as_deref() == Some("") {
            bad(
                "daemon.user",
                "must not be empty (omit it to stay root)".into(),
            );
        }
        if d.group.is_some() && d.user.is_none() {
            bad("daemon.group", "needs daemon.user".into());
        }
        if d.group.as_deref() == Some("") {
            bad("daemon.group", "must not be empty".into());
        }

        self.failover.validate(&mut bad);

        // [tunnel]
        let t = &self.tunnel;
        if t.hello_interval < 1 {
            bad(
                "tunnel.hello_interval",
                format!("must be ≥ 1 s, got {}", t.hello_interval),
            );
        }
        if t.hello_interval > 3600 {
            bad(
                "tunnel.hello_interval",
                format!("must be ≤ 3600 s, got {}", t.hello_interval),
            );
        }
        if !(1..=20).contains(&t.retries) {
            bad("tunnel.retries", format!("must be 1-20, got {}", t.retries));
        }
        if t.receive_window < 1 {
            bad("tunnel.receive_window", "must be ≥ 1, got 0".into());
        }
        if t.hide_avps && t.secret.is_none() {
            bad(
                "tunnel.hide_avps",
                "needs tunnel.secret (RFC 2661 §4.3 hides AVPs with the shared secret)".into(),
            );
        }
        if t.secret.as_ref().is_some_and(Secret::is_empty) {
            bad(
                "tunnel.secret",
                "must not be empty (omit it instead)".into(),
            );
        }
        if let Some(h) = &t.host_name {
            if h.is_empty() {
                bad("tunnel.host_name", "must not be empty".into());
            }
        }

        // [session]
        if self.session.reorder_timeout_ms > 60_000 {
            bad(
                "session.reorder_timeout_ms",
                format!(
                    "must be ≤ 60000 ms, got {}",
                    self.session.reorder_timeout_ms
                ),
            );
        }

        // [ppp]
        let p = &self.ppp;
        if p.auth.is_empty() {
            bad("ppp.auth", "needs at least one method".into());
        }
        for (i, m) in p.auth.iter().enumerate() {
            if p.auth[..i].contains(m) {
                bad("ppp.auth", format!("{m:?} listed twice"));
            }
        }
        for (name, v) in [("ppp.mtu", p.mtu), ("ppp.mru", p.mru)] {
            if !(576..=9000).contains(&v) {
                bad(name, format!("must be 576-9000, got {v}"));
            }
        }
        if p.dns.len() > 2 {
            bad(
                "ppp.dns",
                format!(
                    "at most 2 servers (primary, secondary), got {}",
                    p.dns.len()
                ),
            );
        }
        if p.mode == PppMode::Pppd {
            if self.daemon.datapath == DatapathMode::Userspace {
                bad(
                    "ppp.mode",
                    "\"pppd\" needs daemon.datapath = \"kernel\" (or \"auto\" on a host with \
                     L2TP in its kernel): pppd's pppol2tp plugin drives a kernel PPPoL2TP \
                     socket, which the userspace datapath does not have"
                        .into(),
                );
            }
            if !p.pppd_path.is_absolute() {
                bad(
                    "ppp.pppd_path",
                    format!("must be an absolute path, got {:?}", p.pppd_path),
                );
            }
        }
        if p.pppd_options
            .iter()
            .any(|o| o.is_empty() || o.contains('\0'))
        {
            bad(
                "ppp.pppd_options",
                "an option is empty or holds a NUL byte".into(),
            );
        }
        if p.quality_interval > 100 {
            bad(
                "ppp.quality_interval",
                format!(
                    "{} s: a 100-second period needs at least one probe; 1 to 100, or 0 for none",
                    p.quality_interval
                ),
            );
        }
        if p.lcp_echo_interval > 0 && p.lcp_echo_failures == 0 {
            bad(
                "ppp.lcp_echo_failures",
                "must be ≥ 1 when echoes are on".into(),
            );
        }

        for (i, p) in self.peers.iter().enumerate() {
            p.validate(i, &mut bad);
        }

        // Role-specific sections.
        match self.role {
            Role::Lns => {
                if self.lac.is_some() {
                    bad(
                        "lac",
                        "not used by role \"lns\" (remove the section)".into(),
                    );
                }
                if self.dial.is_some() {
                    bad(
                        "dial",
                        "not used by role \"lns\" (remove the section)".into(),
                    );
                }
                match &self.lns {
                    None => bad("lns", "section required for role \"lns\"".into()),
                    Some(l) => {
                        let radius_auth = self.auth_source() == AuthSource::Radius;
                        validate_lns(l, radius_auth, &mut bad);
                        match &self.radius {
                            Some(r) => r.validate(radius_auth, &mut bad),
                            None if radius_auth => {
                                bad("lns.auth", "\"radius\" needs a [radius] section".into())
                            }
                            None => {}
                        }
                    }
                }
            }
            Role::Lac | Role::Client => {
                if self.lns.is_some() {
                    bad(
                        "lns",
                        format!("not used by role \"{}\" (remove the section)", self.role),
                    );
                }
                match (&self.radius, &self.lac) {
                    // A relaying LAC asks RADIUS about each subscriber (steering).
                    (Some(r), Some(_)) if self.role == Role::Lac => r.validate(true, &mut bad),
                    (Some(_), _) => bad(
                        "radius",
                        format!(
                            "not used by role \"{}\" without [lac] (remove the section)",
                            self.role
                        ),
                    ),
                    (None, _) => {}
                }
                match (&self.dial, &self.lac) {
                    (_, Some(_)) if self.role != Role::Lac => bad(
                        "lac",
                        format!("not used by role \"{}\" (remove the section)", self.role),
                    ),
                    (Some(_), Some(_)) => bad(
                        "dial",
                        "not used by a relaying LAC ([lac] section): remove it".into(),
                    ),
                    (None, Some(l)) => l.validate(&mut bad),
                    (None, None) => bad(
                        "dial",
                        format!("section required for role \"{}\"", self.role),
                    ),
                    (Some(d), None) => validate_dial(d, &mut bad),
                }
            }
        }

        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errs))
        }
    }
}

fn validate_lns(l: &LnsConfig, radius_auth: bool, bad: &mut impl FnMut(&str, String)) {
    if l.listen.is_empty() {
        bad("lns.listen", "needs at least one address".into());
    }
    for (i, a) in l.listen.iter().enumerate() {
        if l.listen[..i].contains(a) {
            bad("lns.listen", format!("{} listed twice", a.0));
        }
    }
    match (&l.ipv4_pool, l.local_ipv4) {
        (None, _) => bad(
            "lns.ipv4_pool",
            "required (e.g. \"203.0.113.10-203.0.113.200\" or \"203.0.113.0/24\")".into(),
        ),
        (Some(pool), Some(local)) if pool.contains(local) && pool.capacity() == 1 => bad(
            "lns.local_ipv4",
            format!("{local} is the only address of lns.ipv4_pool"),
        ),
        _ => {}
    }
    validate_named_pools(l, bad);
    match l.local_ipv4 {
        None => bad(
            "lns.local_ipv4",
            "required (the server's own address)".into(),
        ),
        Some(ip) if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() => {
            bad("lns.local_ipv4", format!("{ip} is not a unicast address"))
        }
        Some(_) => {}
    }
    if let Some(p6) = &l.ipv6_prefix {
        if p6.len() > 64 {
            bad(
                "lns.ipv6_prefix",
                format!("must be /64 or shorter for IPv6CP, got /{}", p6.len()),
            );
        }
    }
    if l.users_file.is_none() && l.users.is_empty() && !radius_auth {
        bad(
            "lns.users_file",
            "required unless users are given inline ([[lns.users]])".into(),
        );
    }
    for (i, u) in l.users.iter().enumerate() {
        if u.name.is_empty() {
            bad(&format!("lns.users[{i}].name"), "must not be empty".into());
        }
        let Some(a) = u.ipv4 else { continue };
        if Some(a) == l.local_ipv4 {
            bad(
                &format!("lns.users[{i}].ipv4"),
                format!("{a} is the server's own address (lns.local_ipv4)"),
            );
        }
        if let Some(j) = l.users[..i].iter().position(|o| o.ipv4 == Some(a)) {
            bad(
                &format!("lns.users[{i}].ipv4"),
                format!("{a} is already the fixed address of lns.users[{j}]"),
            );
        }
    }
    if l.max_tunnels < 1 || l.max_tunnels > 65535 {
        bad(
            "lns.max_tunnels",
            format!(
                "must be 1-65535 (tunnel ids are 16 bits), got {}",
                l.max_tunnels
            ),
        );
    }
    if l.max_half_open_tunnels < 1 || l.max_half_open_tunnels > 65535 {
        bad(
            "lns.max_half_open_tunnels",
            format!(
                "must be 1-65535 (tunnel ids are 16 bits), got {}",
                l.max_half_open_tunnels
            ),
        );
    }
    if l.max_sessions < 1 {
        bad("lns.max_sessions", "must be ≥ 1, got 0".into());
    }
    if let Err(e) = valid_ifname(&l.interface_prefix, 10) {
        bad("lns.interface_prefix", e);
    }
    if l.interface_prefix.contains('%') {
        bad("lns.interface_prefix", "must not contain %".into());
    }
}

fn validate_dial(d: &DialConfig, bad: &mut impl FnMut(&str, String)) {
    if d.peers.is_empty() {
        bad(
            "dial.peers",
            "needs at least one LNS (\"host[:port]\")".into(),
        );
    }
    if d.user.is_empty() {
        bad("dial.user", "required".into());
    }
    if d.password.is_empty() {
        bad("dial.password", "required".into());
    }
    if !(1..=1000).contains(&d.sessions) {
        bad(
            "dial.sessions",
            format!("must be 1-1000, got {}", d.sessions),
        );
    }
    if d.redial_initial < 1 {
        bad("dial.redial_initial", "must be ≥ 1 s, got 0".into());
    }
    if d.redial_max < d.redial_initial {
        bad(
            "dial.redial_max",
            format!(
                "must be ≥ dial.redial_initial ({} s), got {}",
                d.redial_initial, d.redial_max
            ),
        );
    }
    if let Err(e) = valid_ifname(&d.interface, 15) {
        bad("dial.interface", e);
    }
}

fn valid_ifname(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!("at most {max} characters, got {:?}", name));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '%'))
    {
        return Err(format!("only letters, digits, - _ . allowed, got {name:?}"));
    }
    Ok(())
}

/// `[[lns.pools]]`: named, each name once, no range overlapping `lns.ipv4_pool` or
/// another pool (an address belongs to one pool).
fn validate_named_pools(l: &LnsConfig, bad: &mut impl FnMut(&str, String)) {
    let span = |p: &crate::pool::Ipv4PoolSpec| {
        let (f, t) = p.first_last();
        (u32::from(f), u32::from(t))
    };
    let overlap = |a: (u32, u32), b: (u32, u32)| a.0 <= b.1 && b.0 <= a.1;
    for (i, p) in l.pools.iter().enumerate() {
        let field = format!("lns.pools[{i}]");
        if p.name.is_empty() {
            bad(&format!("{field}.name"), "must not be empty".into());
        }
        if let Some(j) = l.pools[..i].iter().position(|o| o.name == p.name) {
            bad(
                &format!("{field}.name"),
                format!("{:?} is already the name of lns.pools[{j}]", p.name),
            );
        }
        if p.range.capacity() == 0 {
            bad(&format!("{field}.range"), "holds no address".into());
        }
        if let Some(main) = &l.ipv4_pool {
            if overlap(span(&p.range), span(main)) {
                bad(
                    &format!("{field}.range"),
                    "overlaps lns.ipv4_pool (an address belongs to one pool)".into(),
                );
            }
        }
        if let Some(j) = l.pools[..i]
            .iter()
            .position(|o| overlap(span(&p.range), span(&o.range)))
        {
            bad(
                &format!("{field}.range"),
                format!("overlaps lns.pools[{j}] (an address belongs to one pool)"),
            );
        }
    }
}
