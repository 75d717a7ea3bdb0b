//! `ppp.mode = "pppd"` on the kernel datapath: each session's PPPoL2TP socket handed to the
//! real pppd and its `pppol2tp` plugin — the kernel documentation's step 3, "Create a
//! PPPoL2TP socket per L2TP session. This is typically done by starting pppd with the
//! pppol2tp plugin and appropriate arguments."
//!
//! The daemon creates and connects the session's socket (with SENDSEQ, RECVSEQ, LNSMODE and
//! REORDERTO already set), and pppd inherits it: `plugin pppol2tp.so pppol2tp FD
//! pppol2tp_tunnel_id T pppol2tp_session_id S` (+ `pppol2tp_lns_mode` on an LNS), `nodetach`
//! so it stays our child, then the operator's `ppp.pppd_options`. pppd then runs LCP,
//! authentication and the NCPs, creates its `pppN` and configures it. How its exit reads
//! ([`exit_words`]) and which CDN result it becomes ([`exit_result`]) are here too.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use l2tp_io::child::Child;
use l2tp_io::pppol2tp::{SessionIds, SessionSocket};
use l2tp_wire::result::ResultCode;

/// How long pppd gets to exit after SIGTERM before SIGKILL. pppd answers SIGTERM by taking
/// its network layers down (its `ip-down` script runs) and sending an LCP Terminate-Request,
/// then waits for the Ack: 3 s, twice, by default (`lcp-restart`, `lcp-max-terminate`). A
/// peer whose session is gone never acks, and the kernel does not hang up pppd's channel
/// when the session's tunnel goes, so pppd leaves after those 6 s; the grace lets it, and
/// with the daemon's own 3 s for StopCCNs stays within the unit's `TimeoutStopSec` (15 s).
pub const PPPD_GRACE: Duration = Duration::from_secs(8);

/// What every session's pppd is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PppdSpec {
    /// The pppd binary.
    pub path: PathBuf,
    /// Options after the daemon's own.
    pub options: Vec<String>,
    /// An LNS (`pppol2tp_lns_mode`).
    pub lns: bool,
}

impl PppdSpec {
    /// pppd's arguments for a session whose socket is fd `fd`.
    pub fn args(&self, fd: i32, ids: SessionIds) -> Vec<String> {
        let mut a: Vec<String> = [
            "plugin",
            "pppol2tp.so",
            "pppol2tp",
            &fd.to_string(),
            "pppol2tp_tunnel_id",
            &ids.tunnel.0.to_string(),
            "pppol2tp_session_id",
            &ids.session.0.to_string(),
        ]
        .map(String::from)
        .to_vec();
        if self.lns {
            a.push("pppol2tp_lns_mode".into());
        }
        a.push("nodetach".into());
        a.extend(self.options.iter().cloned());
        a
    }

    /// Starts pppd on `socket` (the session's connected PPPoL2TP socket, passed as an
    /// inherited fd). Its output goes where the daemon's does.
    pub fn spawn(&self, socket: &SessionSocket, ids: SessionIds) -> std::io::Result<Child> {
        let fd = socket.as_fd();
        let mut cmd = Command::new(&self.path);
        cmd.args(self.args(fd.as_raw_fd(), ids))
            .stdin(Stdio::null());
        Child::spawn(&mut cmd, &[fd]).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot run {}: {e}", self.path.display()))
        })
    }
}

/// pppd's exit status in words (its manual's EXIT STATUS list).
pub fn exit_words(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        return format!("killed by signal {sig}");
    }
    let code = status.code().unwrap_or(-1);
    let what = match code {
        0 => "the link ended at the peer's request",
        1 => "a fatal error",
        2 => "an error in its options",
        3 => "not run as root",
        4 => "no PPP support in the kernel",
        5 => "terminated by a signal (SIGINT, SIGTERM or SIGHUP)",
        10 => "PPP negotiation failed",
        11 => "the peer failed to authenticate itself",
        12 => "idle timeout",
        13 => "connect time limit reached",
        15 => "the peer stopped answering LCP echoes",
        16 => "the channel hung up",
        17 => "loopback detected",
        19 => "authentication to the peer failed",
        _ => "see pppd's EXIT STATUS",
    };
    format!("exit status {code}: {what}")
}

/// The CDN result code (RFC 2661 §4.4.2) for a session whose pppd exited with `status`.
pub fn exit_result(status: ExitStatus) -> u16 {
    match status.code() {
        Some(15 | 16) => ResultCode::CDN_LOST_CARRIER,
        Some(0 | 5 | 12 | 13) => ResultCode::CDN_ADMINISTRATIVE,
        _ => ResultCode::CDN_GENERAL_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2tp_wire::{SessionId, TunnelId};

    #[test]
    fn the_command_line_is_the_plugins_then_the_operators() {
        let spec = PppdSpec {
            path: "/usr/sbin/pppd".into(),
            options: vec!["require-mschap-v2".into(), "192.0.2.1:192.0.2.10".into()],
            lns: true,
        };
        let ids = SessionIds {
            tunnel: TunnelId(7),
            session: SessionId(9),
            peer_tunnel: TunnelId(70),
            peer_session: SessionId(90),
        };
        assert_eq!(
            spec.args(12, ids).join(" "),
            "plugin pppol2tp.so pppol2tp 12 pppol2tp_tunnel_id 7 pppol2tp_session_id 9 \
             pppol2tp_lns_mode nodetach require-mschap-v2 192.0.2.1:192.0.2.10"
        );
        let lac = PppdSpec { lns: false, ..spec };
        assert!(!lac.args(12, ids).contains(&"pppol2tp_lns_mode".to_string()));
    }

    #[test]
    fn exits_read_in_words_with_a_result_code() {
        let st = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(
            exit_words(st(19)),
            "exit status 19: authentication to the peer failed"
        );
        assert_eq!(exit_result(st(19)), ResultCode::CDN_GENERAL_ERROR);
        assert_eq!(exit_result(st(16)), ResultCode::CDN_LOST_CARRIER);
        assert_eq!(exit_result(st(5)), ResultCode::CDN_ADMINISTRATIVE);
        assert_eq!(exit_words(ExitStatus::from_raw(9)), "killed by signal 9");
        assert_eq!(
            exit_result(ExitStatus::from_raw(9)),
            ResultCode::CDN_GENERAL_ERROR
        );
    }
}
