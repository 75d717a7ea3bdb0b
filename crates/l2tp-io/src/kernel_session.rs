//! One L2TP session on the kernel datapath, as the daemon's kernel backend will hold it: the
//! session's PPPoL2TP socket, its PPP channel and, once the network layer is up, its `pppN`
//! unit, opened in the driver's order and closed in the reverse one (unit, channel, socket:
//! the field order below, which is Rust's drop order).
//!
//! PPP frames cross here as `ppp::Link` makes and takes them: [`KernelSession::send_frame`]
//! drops a leading `FF 03` (the kernel adds its own), [`KernelSession::recv_frame`] gives
//! frames protocol field first (the kernel strips `FF 03`), from the channel (LCP,
//! authentication, and everything before a unit is attached) or from the unit (NCPs after).
//! Both fds are nonblocking; register them with [`crate::poller::Poller`].

use std::io;
use std::os::fd::AsFd;

use l2tp_proto::data::{L2tpStats, SessionOption, SessionOptions};

use crate::ppp_unit::{PppChannel, PppUnit};
use crate::pppol2tp::{KernelError, SessionIds, SessionSocket, TunnelSocket};

/// The PPP HDLC address and control octets that start an uncompressed PPP frame.
const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

/// `frame` without a leading `FF 03`.
pub fn strip_address_control(frame: &[u8]) -> &[u8] {
    frame.strip_prefix(&ADDRESS_CONTROL[..]).unwrap_or(frame)
}

/// A session's kernel objects.
#[derive(Debug)]
pub struct KernelSession {
    unit: Option<PppUnit>,
    channel: PppChannel,
    socket: SessionSocket,
}

impl KernelSession {
    /// Creates the session in the kernel (`tunnel` is its tunnel's management socket, `udp`
    /// the tunnel's UDP socket), applies `options`, and attaches a `/dev/ppp` fd to its
    /// channel. A DEBUG mask of zero is not sent (it is the kernel's default).
    pub fn open(
        tunnel: &TunnelSocket,
        udp: &impl AsFd,
        ids: SessionIds,
        options: &SessionOptions,
    ) -> Result<Self, KernelError> {
        let socket = Self::open_socket(tunnel, udp, ids, options)?;
        let channel = PppChannel::attach(socket.channel_index()?)?;
        channel.set_nonblocking(true).map_err(|e| {
            KernelError::new(
                format!("set PPP channel {} nonblocking", channel.index()),
                e,
            )
        })?;
        Ok(Self {
            unit: None,
            channel,
            socket,
        })
    }

    /// The session's PPPoL2TP socket alone, connected and with `options` applied: for PPP
    /// run by another process (pppd's `pppol2tp` plugin attaches the channel itself).
    pub fn open_socket(
        tunnel: &TunnelSocket,
        udp: &impl AsFd,
        ids: SessionIds,
        options: &SessionOptions,
    ) -> Result<SessionSocket, KernelError> {
        let socket = SessionSocket::connect(tunnel, udp, ids)?;
        for opt in [
            SessionOption::LnsMode(options.lns_mode),
            SessionOption::SendSeq(options.send_seq),
            SessionOption::RecvSeq(options.recv_seq),
            SessionOption::ReorderTimeout(options.reorder_timeout),
        ] {
            socket.set_option(opt)?;
        }
        if options.debug.0 != 0 {
            socket.set_option(SessionOption::Debug(options.debug))?;
        }
        Ok(socket)
    }

    /// A session whose socket, channel and unit another process handed over (hitless
    /// upgrade): nothing is created or changed in the kernel.
    pub fn from_parts(socket: SessionSocket, channel: PppChannel, unit: Option<PppUnit>) -> Self {
        Self {
            unit,
            channel,
            socket,
        }
    }

    /// The session's ids.
    pub fn ids(&self) -> SessionIds {
        self.socket.ids()
    }

    /// The session's PPPoL2TP socket.
    pub fn socket(&self) -> &SessionSocket {
        &self.socket
    }

    /// The session's PPP channel.
    pub fn channel(&self) -> &PppChannel {
        &self.channel
    }

    /// The session's unit, once attached.
    pub fn unit(&self) -> Option<&PppUnit> {
        self.unit.as_ref()
    }

    /// Creates a unit (`pppN`; `number` asks for that N), sets its MRU and connects the
    /// channel to it: IP then goes through `pppN`, NCP frames through the unit's fd. A second
    /// call returns the unit already attached.
    pub fn attach_unit(&mut self, number: Option<u32>, mru: u16) -> Result<&PppUnit, KernelError> {
        match &mut self.unit {
            Some(unit) => Ok(unit),
            slot @ None => {
                let unit = PppUnit::new(number)?;
                unit.set_mru(mru)?;
                unit.set_nonblocking(true).map_err(|e| {
                    KernelError::new(format!("set {} nonblocking", unit.ifname()), e)
                })?;
                self.channel.connect(&unit)?;
                Ok(slot.insert(unit))
            }
        }
    }

    /// Sends one PPP frame on the session (a leading `FF 03` is dropped).
    pub fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let f = strip_address_control(frame);
        let n = self.channel.send(f)?;
        if n != f.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write on a PPP channel",
            ));
        }
        Ok(())
    }

    /// Receives one PPP frame (protocol field first) from the channel or the unit; `None`
    /// when neither has one queued.
    pub fn recv_frame(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.channel.recv(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if let Some(unit) = &self.unit {
            match unit.recv(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Sets one option live.
    pub fn set_option(&self, opt: SessionOption) -> Result<(), KernelError> {
        self.socket.set_option(opt)
    }

    /// The options as the kernel holds them.
    pub fn options(&self) -> Result<SessionOptions, KernelError> {
        self.socket.options()
    }

    /// The session's counters.
    pub fn stats(&self) -> Result<L2tpStats, KernelError> {
        self.socket.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_control_is_dropped_only_when_present() {
        assert_eq!(
            strip_address_control(&[0xff, 0x03, 0xc0, 0x21, 1]),
            [0xc0, 0x21, 1]
        );
        assert_eq!(strip_address_control(&[0xc0, 0x21, 1]), [0xc0, 0x21, 1]);
        assert_eq!(strip_address_control(&[0xff]), [0xff]);
        assert_eq!(strip_address_control(&[0xff, 0x04, 1]), [0xff, 0x04, 1]);
    }
}
