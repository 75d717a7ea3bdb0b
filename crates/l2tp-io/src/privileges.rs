//! Giving up root: look a user and group up, switch to them, and keep only the capabilities
//! named (for the daemon: `CAP_NET_ADMIN` for TUN devices, addresses and routes, or none).
//!
//! The switch (`setgroups`, `setresgid`, `setresuid` with `PR_SET_KEEPCAPS`, then `capset`)
//! is one-way: no saved set-user-id stays behind, so root cannot be taken back. glibc applies
//! the id changes to every thread; threads other than the caller lose all capabilities with
//! the change of uid (only the caller sets KEEPCAPS), the caller keeps exactly `keep`.

use std::ffi::CString;
use std::io;

/// A Linux capability, by its number in `linux/capability.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability(pub u32);

/// `CAP_NET_BIND_SERVICE`: bind ports below 1024.
pub const CAP_NET_BIND_SERVICE: Capability = Capability(10);
/// `CAP_NET_ADMIN`: TUN devices, interface addresses, routes.
pub const CAP_NET_ADMIN: Capability = Capability(12);

/// A user's ids from the user database (NSS: `/etc/passwd`, LDAP, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    /// User id.
    pub uid: u32,
    /// The user's primary group id.
    pub gid: u32,
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

fn not_found(what: &str, name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no {what} {name:?}"))
}

/// Looks a user up by name (a number is taken as a uid with gid = uid).
pub fn lookup_user(name: &str) -> io::Result<Ids> {
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(Ids { uid, gid: uid });
    }
    let cname = c_name(name)?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: `passwd` is plain old data; an all-zero value is valid (null pointers, zero ids).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `cname` is NUL-terminated; `pw`, `buf` (with its true length) and `result` are
    // valid for writes for the duration of the call; nothing keeps pointers into `buf` after.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    if result.is_null() {
        return Err(not_found("user", name));
    }
    Ok(Ids {
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// Looks a group up by name (a number is taken as a gid).
pub fn lookup_group(name: &str) -> io::Result<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let cname = c_name(name)?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `group` is plain old data; an all-zero value is valid.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `lookup_user`: valid NUL-terminated name and writable buffers.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    if result.is_null() {
        return Err(not_found("group", name));
    }
    Ok(gr.gr_gid)
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets as two 32-bit words.
const CAP_VERSION_3: u32 = 0x2008_0522;

fn set_caps(keep: &[Capability]) -> io::Result<()> {
    let mut data = [CapData::default(); 2];
    for c in keep {
        let (word, bit) = ((c.0 / 32) as usize, c.0 % 32);
        if word < 2 {
            data[word].effective |= 1 << bit;
            data[word].permitted |= 1 << bit;
        }
    }
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset(2) with a version-3 header reads the header and two data structs, which
    // both live on this stack frame for the duration of the call (pid 0: this thread).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    check(rc as libc::c_int, "capset")
}

/// The calling thread's effective capability set as a bit mask (bit n = capability n).
pub fn effective_caps() -> io::Result<u64> {
    let data = get_caps()?;
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

fn get_caps() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget(2) with a version-3 header writes two data structs into `data`, which is
    // exactly that large and writable.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    check(rc as libc::c_int, "capget")?;
    Ok(data)
}

/// The effective user id (`geteuid`).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc::geteuid() }
}

/// Runs `f` with the calling thread's filesystem ids set to `uid`:`gid` (`setfsuid`,
/// `setfsgid`), then puts the old ones back: root, under a bounding set without
/// `CAP_DAC_OVERRIDE`, reading and writing the files of the user it is about to become (a
/// state directory that user owns, left by an earlier process that had switched).
pub fn with_fs_ids<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: setfsgid and setfsuid take an id by value and return the previous one; they
    // change only this thread's filesystem ids.
    let (old_gid, old_uid) = unsafe { (libc::setfsgid(gid), libc::setfsuid(uid)) };
    let r = f();
    // SAFETY: as above, with the ids returned then (a change back to 0 re-enables the
    // filesystem capabilities that are permitted).
    unsafe {
        libc::setfsuid(old_uid as libc::uid_t);
        libc::setfsgid(old_gid as libc::gid_t);
    }
    r
}

/// Whether the process runs as `uid`:`gid` already (real, effective and saved ids): a process
/// started by a daemon that switched to them (a hitless upgrade), which cannot switch again
/// and need not.
pub fn running_as(uid: u32, gid: u32) -> bool {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes three uid_t into the live locals passed.
    let u = unsafe { libc::getresuid(&mut r, &mut e, &mut s) } == 0 && [r, e, s] == [uid; 3];
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresgid writes three gid_t into the live locals passed.
    let g = unsafe { libc::getresgid(&mut r, &mut e, &mut s) } == 0 && [r, e, s] == [gid; 3];
    u && g
}

/// Keeps exactly `keep` as the calling thread's effective and permitted capabilities, with
/// nothing inheritable or ambient (what [`drop_to`] leaves; undoes [`pass_on_exec`]).
pub fn keep_only(keep: &[Capability]) -> io::Result<()> {
    set_caps(keep)?;
    // SAFETY: prctl with integer arguments only. Fails harmlessly on kernels before 4.3,
    // which have no ambient set (and then nothing to clear).
    let _ = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Ok(())
}

/// Makes the calling thread's effective capabilities survive an `execve` by a non-root user
/// (inheritable and ambient, Linux 4.3+): a program it starts now runs with them. For the
/// new process of a hitless upgrade, after a switch to an unprivileged user; undo with
/// [`keep_only`] once it is started.
pub fn pass_on_exec() -> io::Result<()> {
    let mut data = get_caps()?;
    for d in &mut data {
        d.inheritable = d.effective;
    }
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset(2) with a version-3 header reads the header and two data structs, which
    // both live on this stack frame for the duration of the call (pid 0: this thread).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    check(rc as libc::c_int, "capset")?;
    for (word, d) in data.iter().enumerate() {
        for bit in 0..32 {
            if d.effective & (1 << bit) != 0 {
                let cap = (word * 32 + bit) as libc::c_ulong;
                // SAFETY: prctl with integer arguments only.
                let rc = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap,
                        0,
                        0,
                    )
                };
                check(rc, "prctl(PR_CAP_AMBIENT_RAISE)")?;
            }
        }
    }
    Ok(())
}

/// Becomes `uid`:`gid` (no supplementary groups) for good, keeping exactly `keep` as the
/// effective and permitted capabilities of the calling thread. Needs CAP_SETUID and
/// CAP_SETGID (root); fails, changing nothing that matters, otherwise.
pub fn drop_to(uid: u32, gid: u32, keep: &[Capability]) -> io::Result<()> {
    let groups = [gid as libc::gid_t];
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    check(rc, "prctl(PR_SET_KEEPCAPS)")?;
    // SAFETY: `groups` is a valid array of one gid_t for the duration of the call.
    let rc = unsafe { libc::setgroups(groups.len(), groups.as_ptr()) };
    check(rc, "setgroups")?;
    // SAFETY: plain integer arguments.
    check(unsafe { libc::setresgid(gid, gid, gid) }, "setresgid")?;
    // SAFETY: plain integer arguments.
    check(unsafe { libc::setresuid(uid, uid, uid) }, "setresuid")?;
    set_caps(keep)?;
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    check(rc, "prctl(PR_SET_KEEPCAPS)")?;
    // Root must be gone for good: taking uid 0 back has to fail now.
    // SAFETY: plain integer arguments.
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(io::Error::other(
            "setuid(0) still succeeds after the switch",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(lookup_user("root").unwrap(), Ids { uid: 0, gid: 0 });
        assert_eq!(lookup_group("root").unwrap(), 0);
        assert_eq!(
            lookup_user("4242").unwrap(),
            Ids {
                uid: 4242,
                gid: 4242
            }
        );
        assert_eq!(
            lookup_user("no-such-user-here").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(lookup_group("no-such-group-here").is_err());
        assert!(lookup_user("a\0b").is_err());
    }

    #[test]
    fn effective_caps_match_proc_status() {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
        let want = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(effective_caps().unwrap(), want);
    }
}
