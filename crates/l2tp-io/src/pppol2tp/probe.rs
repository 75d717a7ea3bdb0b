//! Can this kernel run the PPPoL2TP datapath? Asks by doing the first step of each part (an
//! `AF_PPPOX`/`PX_PROTO_OL2TP` socket, an open of `/dev/ppp`) and loading nothing itself
//! (the kernel may still autoload a module through its own `modprobe` hook).

use std::io;

use super::socket::pppox_socket;

/// What is missing for the kernel datapath, one clear reason.
#[derive(Debug, thiserror::Error)]
pub enum Missing {
    /// `AF_PPPOX` is not registered: no `pppox` module (nor `l2tp_ppp`, which needs it).
    #[error(
        "missing module pppox (and l2tp_ppp): no AF_PPPOX sockets ({0}); try `modprobe l2tp_ppp`"
    )]
    Pppox(#[source] io::Error),
    /// `AF_PPPOX` exists but has no L2TP protocol: no `l2tp_ppp` module.
    #[error(
        "missing module l2tp_ppp: AF_PPPOX has no PX_PROTO_OL2TP ({0}); try `modprobe l2tp_ppp`"
    )]
    L2tpPpp(#[source] io::Error),
    /// There is no `/dev/ppp` node.
    #[error("/dev/ppp absent ({0}); load ppp_generic (`modprobe ppp_generic`) or create the node (c 108 0)")]
    DevPppAbsent(#[source] io::Error),
    /// `/dev/ppp` exists but has no driver behind it: no `ppp_generic` module.
    #[error(
        "missing module ppp_generic: /dev/ppp does not open ({0}); try `modprobe ppp_generic`"
    )]
    PppGeneric(#[source] io::Error),
    /// The caller lacks `CAP_NET_ADMIN`.
    #[error("not permitted: {what} needs CAP_NET_ADMIN ({source})")]
    NotPermitted {
        /// What was refused.
        what: &'static str,
        /// The system's answer.
        #[source]
        source: io::Error,
    },
    /// Any other failure.
    #[error("{what}: {source}")]
    Other {
        /// What failed.
        what: &'static str,
        /// The system's answer.
        #[source]
        source: io::Error,
    },
}

/// The path of the PPP multiplexer device.
pub const DEV_PPP: &str = "/dev/ppp";

/// Checks both parts the kernel datapath needs: PPPoL2TP sockets and `/dev/ppp`.
pub fn probe() -> Result<(), Missing> {
    pppox_socket().map_err(classify_socket_error)?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEV_PPP)
        .map_err(classify_dev_ppp_error)?;
    Ok(())
}

/// What a failed `socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP)` means.
fn classify_socket_error(e: io::Error) -> Missing {
    match e.raw_os_error() {
        Some(libc::EAFNOSUPPORT) => Missing::Pppox(e),
        Some(libc::EPROTONOSUPPORT) => Missing::L2tpPpp(e),
        Some(libc::EPERM) | Some(libc::EACCES) => Missing::NotPermitted {
            what: "an AF_PPPOX socket",
            source: e,
        },
        _ => Missing::Other {
            what: "socket(AF_PPPOX, SOCK_DGRAM, PX_PROTO_OL2TP)",
            source: e,
        },
    }
}

/// What a failed open of `/dev/ppp` means.
fn classify_dev_ppp_error(e: io::Error) -> Missing {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Missing::DevPppAbsent(e),
        Some(libc::ENODEV) | Some(libc::ENXIO) => Missing::PppGeneric(e),
        Some(libc::EPERM) | Some(libc::EACCES) => Missing::NotPermitted {
            what: "opening /dev/ppp",
            source: e,
        },
        _ => Missing::Other {
            what: "open /dev/ppp",
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn socket_errors_name_the_missing_module() {
        let m = classify_socket_error(os(libc::EAFNOSUPPORT));
        assert!(matches!(m, Missing::Pppox(_)));
        assert!(m.to_string().starts_with("missing module pppox"), "{m}");
        let m = classify_socket_error(os(libc::EPROTONOSUPPORT));
        assert!(matches!(m, Missing::L2tpPpp(_)));
        assert!(m.to_string().starts_with("missing module l2tp_ppp"), "{m}");
        assert!(matches!(
            classify_socket_error(os(libc::EPERM)),
            Missing::NotPermitted { .. }
        ));
        assert!(matches!(
            classify_socket_error(os(libc::ENOMEM)),
            Missing::Other { .. }
        ));
    }

    #[test]
    fn dev_ppp_errors_say_absent_or_missing_module() {
        let m = classify_dev_ppp_error(os(libc::ENOENT));
        assert!(m.to_string().starts_with("/dev/ppp absent"), "{m}");
        let m = classify_dev_ppp_error(os(libc::ENODEV));
        assert!(
            m.to_string().starts_with("missing module ppp_generic"),
            "{m}"
        );
        assert!(matches!(
            classify_dev_ppp_error(os(libc::EACCES)),
            Missing::NotPermitted { .. }
        ));
    }
}
