#!/usr/bin/env python3
"""Starts a unit's ExecStart inside an unpacked package root, as systemd would start it:
chroot, a network namespace of its own (run this under `unshare --net --mount --fork`),
/run/<RuntimeDirectory> created, NOTIFY_SOCKET and WATCHDOG_USEC set. Waits for READY=1,
checks the daemon answers l2tpctl and has become the unprivileged user, then stops it with
SIGTERM and waits for STOPPING=1 and its exit. Used by scripts/check-package.sh.

Usage: start-in-root.py ROOT UNIT-FILE USER"""
import os
import shlex
import signal
import socket
import subprocess
import sys
import time


def run(*args):
    subprocess.run(args, check=True)


def main():
    root, unit, user = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = open(unit).read().splitlines()
    start = next(l.split("=", 1)[1] for l in lines if l.startswith("ExecStart="))
    rundir = next(l.split("=", 1)[1] for l in lines if l.startswith("RuntimeDirectory="))
    argv = shlex.split(start)
    sock = argv[argv.index("--socket") + 1]
    uid = next(
        int(l.split(":")[2]) for l in open(os.path.join(root, "etc/passwd")) if l.startswith(user + ":")
    )

    # What the host gives a service: its own lo, /proc, a /dev with the TUN clone device.
    run("ip", "link", "set", "lo", "up")
    run("mount", "--make-rprivate", "/")
    for d in ("dev", "proc", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "dev", os.path.join(root, "dev"))
    os.makedirs(os.path.join(root, "dev/net"))
    for path, minor_major in (("dev/net/tun", (10, 200)), ("dev/null", (1, 3)), ("dev/urandom", (1, 9))):
        os.mknod(os.path.join(root, path), 0o20666, os.makedev(*minor_major))
        os.chmod(os.path.join(root, path), 0o666)
    run("mount", "-t", "proc", "proc", os.path.join(root, "proc"))
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "run", os.path.join(root, "run"))
    os.makedirs(os.path.join(root, "run", rundir), mode=0o750)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(root, "run/notify"))
    notify.settimeout(1.0)
    env = {"NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "2000000", "PATH": "/usr/sbin:/usr/bin"}
    daemon = subprocess.Popen(["chroot", root] + argv, env=env, stdout=subprocess.DEVNULL)
    failures = []

    def until(prefix, limit=20):
        end = time.time() + limit
        while time.time() < end:
            try:
                msg = notify.recv(512).decode()
            except socket.timeout:
                if daemon.poll() is not None:
                    return None
                continue
            if msg.startswith(prefix):
                return msg
        return None

    try:
        ready = until("READY=1")
        if ready is None:
            failures.append("no READY=1 (exit status %s)" % daemon.poll())
        else:
            print("   started in the root: %s" % ready.replace("\n", " "))
            status = open("/proc/%d/status" % daemon.pid).read()
            uids = next(l.split()[1:] for l in status.splitlines() if l.startswith("Uid:"))
            capeff = next(l.split()[1] for l in status.splitlines() if l.startswith("CapEff:"))
            if uids != [str(uid)] * 4:
                failures.append("runs as uids %s, not %s (%d)" % (uids, user, uid))
            if int(capeff, 16) != 1 << 12:
                failures.append("CapEff %s, want CAP_NET_ADMIN only" % capeff)
            print("   as %s: Uid %s, CapEff %s" % (user, " ".join(uids), capeff))
            ctl = subprocess.run(
                ["chroot", root, "/usr/bin/l2tpctl", "--socket", sock, "stats"],
                capture_output=True, text=True, timeout=10,
            )
            if ctl.returncode != 0 or "Role" not in ctl.stdout:
                failures.append("l2tpctl stats: %s%s" % (ctl.stdout, ctl.stderr))
            if until("WATCHDOG=1", 10) is None:
                failures.append("no watchdog ping")
        daemon.send_signal(signal.SIGTERM)
        if ready is not None and until("STOPPING=1") is None:
            failures.append("no STOPPING=1 on SIGTERM")
        try:
            code = daemon.wait(timeout=15)
            if code != 0:
                failures.append("exit status %d after SIGTERM" % code)
        except subprocess.TimeoutExpired:
            failures.append("still running 15 s after SIGTERM")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    for f in failures:
        print("start-in-root: %s" % f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
