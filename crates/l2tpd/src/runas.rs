//! `daemon.user` / `daemon.group`: once every socket is bound, the daemon stops being root,
//! keeping `CAP_NET_ADMIN` when it still creates TUN devices and routes, and nothing when IP
//! stays inside the process (`interface_mode = "none"`). The new process of a hitless upgrade
//! starts as that user already, with what the old one kept: it only checks it.

use l2tp_io::privileges::{self, Capability, CAP_NET_ADMIN};

use crate::config::DaemonConfig;

/// The TUN clone device.
const TUN_DEVICE: &str = "/dev/net/tun";

/// What the switch did, for the start-up line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The user (as configured) and its uid.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// The gid taken.
    pub gid: u32,
    /// Capabilities kept.
    pub kept: Vec<&'static str>,
}

/// The uid and gid `daemon.user` / `daemon.group` name (the user's primary group without
/// `daemon.group`); none without `daemon.user`.
pub fn target_ids(daemon: &DaemonConfig) -> Result<Option<(u32, u32)>, String> {
    let Some(user) = &daemon.user else {
        return Ok(None);
    };
    let ids = privileges::lookup_user(user).map_err(|e| format!("daemon.user: {e}"))?;
    let gid = match &daemon.group {
        Some(g) => privileges::lookup_group(g).map_err(|e| format!("daemon.group: {e}"))?,
        None => ids.gid,
    };
    Ok(Some((ids.uid, gid)))
}

/// Switches to `daemon.user` (if set). `net_admin`: the daemon still needs CAP_NET_ADMIN;
/// `opens_tuns`: it opens `/dev/net/tun` for every new session, so the user must be able to
/// (mode 0666, the usual one): checked now rather than at the first subscriber.
pub fn apply(
    daemon: &DaemonConfig,
    net_admin: bool,
    opens_tuns: bool,
) -> Result<Option<Switched>, String> {
    let (Some(user), Some((uid, gid))) = (&daemon.user, target_ids(daemon)?) else {
        return Ok(None);
    };
    let ids = privileges::Ids { uid, gid };
    let keep: &[Capability] = if net_admin { &[CAP_NET_ADMIN] } else { &[] };
    if privileges::running_as(ids.uid, gid) {
        // Started as that user already: the new process of a hitless upgrade, which the old
        // one started after its switch (with what it kept), or a daemon started so. Nothing
        // to switch; what is needed must be there, and nothing more stays.
        let have = privileges::effective_caps().unwrap_or(0);
        if net_admin && have & (1 << CAP_NET_ADMIN.0) == 0 {
            return Err(format!(
                "daemon.user {user}: running as it already, but without CAP_NET_ADMIN \
                 (TUN devices and routes need it): start as root"
            ));
        }
        privileges::keep_only(keep).map_err(|e| format!("daemon.user {user}: {e}"))?;
    } else {
        privileges::drop_to(ids.uid, gid, keep)
            .map_err(|e| format!("daemon.user {user}: cannot switch (start as root?): {e}"))?;
    }
    if opens_tuns {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(TUN_DEVICE)
            .map_err(|e| {
                format!(
                    "daemon.user {user}: cannot open {TUN_DEVICE} ({e}); a TUN per session needs \
                     it readable and writable by that user (mode 0666)"
                )
            })?;
    }
    Ok(Some(Switched {
        user: user.clone(),
        uid: ids.uid,
        gid,
        kept: if net_admin {
            vec!["CAP_NET_ADMIN"]
        } else {
            vec![]
        },
    }))
}
