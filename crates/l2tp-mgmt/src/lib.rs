//! Management protocol shared by `l2tpd` (server) and `l2tpctl` (client).
//!
//! The daemon listens on a Unix stream socket (default [`DEFAULT_SOCKET_PATH`]). A client
//! writes one [`Request`] as a single line of JSON and reads one [`Response`] line back;
//! several requests may be sent over the same connection, one at a time. Lines are bounded
//! ([`MAX_REQUEST_LINE`], [`MAX_RESPONSE_LINE`]) so a misbehaving peer cannot make either side
//! buffer without limit.
//!
//! Counters use the names operators know from the kernel's PPPoL2TP driver
//! (`tx_packets`, `rx_seq_discards`, …), see [`DatapathCounters`].
//!
//! ```
//! use l2tp_mgmt::{Request, Response, encode_line, decode_line};
//! let line = encode_line(&Request::ShowTunnel { id: 7 }).unwrap();
//! assert_eq!(line, "{\"request\":\"show_tunnel\",\"id\":7}\n");
//! let back: Request = decode_line(&line).unwrap();
//! assert_eq!(back, Request::ShowTunnel { id: 7 });
//! # let _ = Response::Ok;
//! ```

mod client;
mod debug;
pub mod quality_svg;
mod types;

pub use client::{Client, MgmtError};
pub use debug::{format_debug_mask, parse_debug_mask, DebugMaskError, DEBUG_MASK_NAMES};
pub use types::*;

use std::path::PathBuf;

/// Where the daemon listens when nothing else is configured and it runs as root.
pub const DEFAULT_SOCKET_PATH: &str = "/run/l2tpd.sock";

/// Longest request line a server accepts (bytes, newline included).
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// Longest response line a client accepts (bytes, newline included): a list of 100,000
/// sessions is about 60 MB of JSON, so this is generous.
pub const MAX_RESPONSE_LINE: usize = 256 * 1024 * 1024;

/// The management socket path to use when none is given explicitly.
///
/// Order: the `L2TPD_SOCKET` environment variable; [`DEFAULT_SOCKET_PATH`] when running as
/// root; `$XDG_RUNTIME_DIR/l2tpd.sock` when not root and that variable is set; otherwise
/// [`DEFAULT_SOCKET_PATH`].
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os("L2TPD_SOCKET") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    if !is_root() {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
            if !dir.is_empty() {
                return PathBuf::from(dir).join("l2tpd.sock");
            }
        }
    }
    PathBuf::from(DEFAULT_SOCKET_PATH)
}

/// Whether this process runs with effective uid 0 (read from the owner of `/proc/self`,
/// which is the effective uid, without any `unsafe`).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Serialises a message as one JSON line (with the trailing `\n`).
pub fn encode_line<T: serde::Serialize>(msg: &T) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string(msg)?;
    s.push('\n');
    Ok(s)
}

/// Parses one JSON line (a trailing `\n` or `\r\n` is ignored).
pub fn decode_line<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(line.trim_end_matches(['\n', '\r']))
}

/// Reads one line of at most `max` bytes from `r`.
///
/// Returns `Ok(None)` at a clean end of stream, an `InvalidData` error when the line is
/// longer than `max` or not UTF-8.
pub fn read_line_bounded<R: std::io::BufRead>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<String>> {
    use std::io::{BufRead, Error, ErrorKind, Read};
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    let n = r.take(limit).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if n >= max {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("line longer than {max} bytes"),
            ));
        }
        return Err(Error::new(
            ErrorKind::UnexpectedEof,
            "connection closed in the middle of a line",
        ));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "line is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips_through_json() {
        let reqs = vec![
            Request::ListTunnels,
            Request::ListSessions,
            Request::ShowTunnel { id: 1 },
            Request::ShowSession {
                tunnel: 1,
                session: 2,
            },
            Request::SetSessionOption {
                tunnel: 1,
                session: 2,
                option: SessionOption::SendSeq(true),
            },
            Request::SetSessionOption {
                tunnel: 1,
                session: 2,
                option: SessionOption::ReorderTimeout(150),
            },
            Request::SetSessionOption {
                tunnel: 1,
                session: 2,
                option: SessionOption::Debug(0x0c),
            },
            Request::SetTunnelDebug {
                tunnel: 3,
                mask: 0xf,
            },
            Request::CloseSession {
                tunnel: 1,
                session: 2,
            },
            Request::CloseTunnel { tunnel: 9 },
            Request::CloseMatching {
                selector: SessionSelector::User("alice".into()),
            },
            Request::CloseMatching {
                selector: SessionSelector::Address("2001:db8::5".parse().unwrap()),
            },
            Request::Dial { peer: None },
            Request::CallOut {
                tunnel: 3,
                number: "5551234".into(),
            },
            Request::Dial {
                peer: Some("lns.example:1701".into()),
            },
            Request::HangUp {
                tunnel: Some(1),
                session: Some(2),
            },
            Request::Stats,
        ];
        for r in reqs {
            let line = encode_line(&r).unwrap();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            let back: Request = decode_line(&line).unwrap();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn responses_round_trip_and_use_kernel_counter_names() {
        let s = SessionInfo {
            tunnel: 1,
            session: 2,
            peer_tunnel: 3,
            peer_session: 4,
            state: "established".into(),
            user: Some("alice".into()),
            ipv4: Some("203.0.113.10".parse().unwrap()),
            ipv6: None,
            interface: Some("l2tp0".into()),
            uptime_s: 5,
            options: SessionOptions::default(),
            stats: DatapathCounters {
                rx_seq_discards: 7,
                ..Default::default()
            },
            wan_errors: None,
            accm: None,
            ppp_mode: "pppd".into(),
            pppd_pid: Some(4242),
        };
        let r = Response::Sessions(vec![s.clone()]);
        let line = encode_line(&r).unwrap();
        assert!(line.contains("\"rx_seq_discards\":7"), "{line}");
        assert!(line.contains("\"tx_packets\":0"), "{line}");
        let back: Response = decode_line(&line).unwrap();
        assert_eq!(back, r);
        let e = Response::Error {
            message: "no such tunnel 5".into(),
        };
        assert_eq!(
            decode_line::<Response>(&encode_line(&e).unwrap()).unwrap(),
            e
        );
    }

    #[test]
    fn unknown_request_is_a_decode_error_not_a_panic() {
        assert!(decode_line::<Request>("{\"request\":\"reboot\"}").is_err());
        assert!(decode_line::<Request>("not json").is_err());
        assert!(decode_line::<Request>("{\"request\":\"show_tunnel\"}").is_err());
    }

    #[test]
    fn bounded_reader_rejects_long_lines_and_reports_eof() {
        let data = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".to_vec();
        let mut r = std::io::BufReader::new(&data[..]);
        assert_eq!(
            read_line_bounded(&mut r, 16).unwrap().as_deref(),
            Some("{\"a\":1}\n")
        );
        let e = read_line_bounded(&mut r, 16).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let mut empty = std::io::BufReader::new(&b""[..]);
        assert!(read_line_bounded(&mut empty, 16).unwrap().is_none());
        let mut partial = std::io::BufReader::new(&b"abc"[..]);
        assert_eq!(
            read_line_bounded(&mut partial, 16).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn socket_path_honours_environment_override() {
        // Only the override branch is deterministic across machines.
        std::env::set_var("L2TPD_SOCKET", "/tmp/x/l2tpd-test.sock");
        assert_eq!(
            default_socket_path(),
            PathBuf::from("/tmp/x/l2tpd-test.sock")
        );
        std::env::remove_var("L2TPD_SOCKET");
    }
}
