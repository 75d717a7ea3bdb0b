//! File descriptors handed to another process over a Unix stream socket (`SCM_RIGHTS`),
//! for a hitless upgrade: the running daemon passes its UDP sockets, TUN devices and
//! listening sockets to the new one. Each message is a length-prefixed frame; descriptors
//! ride with a frame's first byte.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Most descriptors one frame carries.
pub const MAX_FDS: usize = 250;
/// Largest frame accepted.
pub const MAX_FRAME: usize = 1 << 30;

/// Sends one frame (`u32` length, big-endian, then `data`) with `fds` attached.
pub fn send_frame(stream: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds"));
    }
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let head = len.to_be_bytes();
    // The descriptors go with the length prefix, the rest is an ordinary write.
    let space = cmsg_space(fds.len());
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: head.as_ptr() as *mut libc::c_void,
        iov_len: head.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        // SAFETY: msg_control points at `space` bytes, enough for one cmsghdr carrying
        // `fds.len()` ints (CMSG_SPACE); CMSG_FIRSTHDR returns a pointer inside that buffer.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr() as *const u8,
                libc::CMSG_DATA(c),
                std::mem::size_of_val(fds),
            );
        }
    }
    loop {
        // SAFETY: `msg` points at a live iovec (4 bytes of `head`) and control buffer,
        // both outliving the call; the result is checked.
        let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n as usize != head.len() {
            // A stream socket takes at least the first bytes; the rest is written below.
            (&*stream).write_all(&head[n as usize..])?;
        }
        break;
    }
    (&*stream).write_all(data)
}

fn cmsg_space(n: usize) -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<RawFd>()) as u32) as usize }
}

/// Receives one frame sent by [`send_frame`]: its bytes and the descriptors that came with
/// it (owned: closed when dropped).
pub fn recv_frame(stream: &UnixStream) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut head = [0u8; 4];
    let space = cmsg_space(MAX_FDS);
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: head.as_mut_ptr() as *mut libc::c_void,
        iov_len: head.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: `msg` points at the live `head` buffer and `control` buffer, both outliving
        // the call; MSG_CMSG_CLOEXEC makes received descriptors close-on-exec.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break n as usize;
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg` (controllen updated); CMSG_FIRSTHDR/NXTHDR walk only
    // within it, and each SCM_RIGHTS payload holds `(cmsg_len - CMSG_LEN(0)) / 4` ints
    // that are new descriptors of this process, owned by nobody else yet.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = bytes / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(c) as *const RawFd;
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("descriptors truncated (MSG_CTRUNC)"));
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other process closed the hand-over socket",
        ));
    }
    if n < head.len() {
        (&*stream).read_exact(&mut head[n..])?;
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut data = vec![0u8; len];
    (&*stream).read_exact(&mut data)?;
    Ok((data, fds))
}

/// Clears or sets `FD_CLOEXEC` on `fd` (cleared: a child process started next inherits it).
pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFD/F_SETFD takes no pointers; the result is checked.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The stream socket inherited as descriptor `fd` (from the environment of a process started
/// for a hand-over). Fails unless `fd` is an open Unix stream socket.
pub fn inherited_stream(fd: RawFd) -> io::Result<UnixStream> {
    // SAFETY: fcntl F_GETFD takes no pointers; it only checks that `fd` is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one int into `ty`, `len` says how big it is.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            &mut ty as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 || ty != libc::SOCK_STREAM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not a stream socket"),
        ));
    }
    // SAFETY: `fd` is open, a stream socket, handed to this process to own (the parent
    // passed it for this purpose); nothing else in the process uses it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    set_cloexec(fd, true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek;

    #[test]
    fn frames_carry_bytes_and_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut f = tempfile_like();
        f.write_all(b"hello through a descriptor").unwrap();
        send_frame(&a, b"manifest", &[f.as_raw_fd()]).unwrap();
        // Larger than the socket buffer: written from another thread while this one reads.
        let writer = std::thread::spawn(move || {
            send_frame(&a, &vec![7u8; 300_000], &[]).unwrap();
            a
        });
        let (data, fds) = recv_frame(&b).unwrap();
        assert_eq!(data, b"manifest");
        assert_eq!(fds.len(), 1);
        let mut got = std::fs::File::from(fds.into_iter().next().unwrap());
        got.rewind().unwrap();
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello through a descriptor");
        let (big, none) = recv_frame(&b).unwrap();
        assert_eq!(big.len(), 300_000);
        assert!(none.is_empty());
        drop(writer.join().unwrap());
        assert_eq!(
            recv_frame(&b).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let _ = f.set_len(0);
    }

    fn tempfile_like() -> std::fs::File {
        let p = std::env::temp_dir().join(format!("l2tp-io-fdpass-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let _ = std::fs::remove_file(&p);
        f
    }
}
