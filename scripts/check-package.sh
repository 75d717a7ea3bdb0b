#!/usr/bin/env bash
# Builds the Debian package and checks what an operator gets from it, in a clean root
# directory (a chroot, no container): the files and their modes, the l2tpd user from
# sysusers.d, the units' command lines run inside the root, `systemd-analyze verify` on the
# units, every man page rendered by `man -l`, the completions parse.
#
# Usage: scripts/check-package.sh [--profile dev|release]   (default dev: reuses the test build)
# Needs root for the chroot; without it (or without systemd-analyze / man) it says so, and
# under CI=true that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev
[ "${1:-}" = --profile ] && profile="$2"

failures=0
fail() { echo "check-package: FAIL: $*" >&2; failures=$((failures + 1)); }
skip() {
    echo "check-package: SKIPPED: $*" >&2
    if [ "${CI:-}" = true ]; then fail "skipped under CI=true: $*"; fi
}

deb=$(scripts/package-deb.sh --profile "$profile" --out target/debian)
echo "== package $deb"
root=$(mktemp -d "${TMPDIR:-/tmp}/l2tpd-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
dpkg-deb -I "$deb" control | grep -q '^Package: l2tpd$' || fail "control: Package is not l2tpd"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/l2tpd/users || fail "/etc/l2tpd/users is not a conffile"
# Every shared library the binaries need comes from a package the control file depends on.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in $(ldd "$(pwd)/target/$( [ "$profile" = release ] && echo release || echo debug)/l2tpd" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || true
    [ -z "$pkg" ] && pkg=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) || true
    [ -n "$pkg" ] && ! grep -qw -- "$pkg" <<<"$depends" && fail "$lib is from $pkg, which Depends ($depends) lacks"
done

echo "== files and modes"
for f in usr/sbin/l2tpd usr/bin/l2tpctl lib/systemd/system/l2tpd.service \
    lib/systemd/system/l2tpd@.service usr/lib/sysusers.d/l2tpd.conf \
    usr/share/doc/l2tpd/examples/lns.toml usr/share/doc/l2tpd/examples/client.toml \
    usr/share/doc/l2tpd/examples/users usr/share/bash-completion/completions/l2tpd \
    usr/share/bash-completion/completions/l2tpctl usr/share/zsh/vendor-completions/_l2tpd \
    usr/share/fish/vendor_completions.d/l2tpctl.fish usr/share/man/man1/l2tpd.1.gz \
    usr/share/man/man1/l2tpctl.1.gz; do
    [ -e "$root/$f" ] || fail "missing /$f"
done
mode() { stat -c %a "$root/$1"; }
[ "$(mode etc/l2tpd)" = 700 ] || fail "/etc/l2tpd has mode $(mode etc/l2tpd), want 700"
for f in etc/l2tpd/l2tpd.toml etc/l2tpd/users; do
    [ "$(mode "$f")" = 600 ] || fail "/$f has mode $(mode "$f"), want 600"
done

echo "== sysusers.d creates the l2tpd user"
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$root/etc"
    touch "$root/etc/passwd" "$root/etc/group"
    systemd-sysusers --root="$root" >/dev/null 2>&1 || fail "systemd-sysusers --root failed"
    grep -q '^l2tpd:' "$root/etc/passwd" || fail "no l2tpd user after systemd-sysusers"
    grep -q '^l2tpd:' "$root/etc/group" || fail "no l2tpd group after systemd-sysusers"
else
    skip "systemd-sysusers missing (apt-get install systemd)"
fi

# The root gets what a real system has under the package: the C library the binaries link,
# /bin/kill (ExecReload) and systemd's own targets (the units' dependencies).
for lib in $(ldd "$root/usr/sbin/l2tpd" "$root/usr/bin/l2tpctl" /bin/kill | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"

unit_line() { sed -n "s/^$2=//p" "$root/lib/systemd/system/$1" | head -n1; }
echo "== the units' command lines inside the root"
if [ "$(id -u)" = 0 ]; then
    for unit in l2tpd.service l2tpd@.service; do
        start=$(unit_line "$unit" ExecStart | sed 's/%i/l2tpd/g')
        # shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
        if ! out=$(chroot "$root" $start --help 2>&1); then
            fail "$unit: '$start --help' in the root failed: $out"
        elif ! grep -q -- '--config' <<<"$out"; then
            fail "$unit: '$start --help' printed no usage: $out"
        else
            echo "   $unit: chroot: $start --help: usage printed"
        fi
        pre=$(unit_line "$unit" ExecStartPre | sed 's/%i/l2tpd/g')
        if [ -n "$pre" ]; then
            # shellcheck disable=SC2086
            if out=$(chroot "$root" $pre 2>&1); then
                echo "   $unit: chroot: $pre: $out"
            else
                fail "$unit: '$pre' in the root refused the packaged configuration: $out"
            fi
        fi
    done
    chroot "$root" /usr/bin/l2tpctl --help >/dev/null || fail "l2tpctl --help in the root failed"
    # The unit's command line for real: chroot, its own network namespace, NOTIFY_SOCKET.
    if command -v unshare >/dev/null && command -v python3 >/dev/null && grep -q '^l2tpd:' "$root/etc/passwd"; then
        unshare --net --mount --fork python3 scripts/start-in-root.py "$root" \
            "$root/lib/systemd/system/l2tpd.service" l2tpd || fail "l2tpd.service did not start in the root"
    else
        skip "unshare, python3 or the l2tpd user missing: the unit was not started in the root"
    fi
else
    skip "not root: the units' command lines were not run in a chroot"
fi

echo "== the units let a relaying LAC open its PPPoE sockets"
# CAP_NET_RAW in the bounding set and AF_PACKET among the address families, and nothing else
# beyond what the daemon needs (CAP_CHOWN: the state directory and spool given to daemon.user).
for unit in l2tpd.service l2tpd@.service; do
    caps=$(unit_line "$unit" CapabilityBoundingSet)
    fams=$(unit_line "$unit" RestrictAddressFamilies)
    [ "$caps" = "CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_NET_RAW CAP_CHOWN" ] ||
        fail "$unit: CapabilityBoundingSet=$caps"
    [ "$fams" = "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET" ] ||
        fail "$unit: RestrictAddressFamilies=$fams"
done
# For real, under the unit's bounding set (setpriv; the address-family filter needs systemd's
# seccomp and is checked above as text): `l2tpd lac` on a veth in a namespace of its own opens
# its PPPoE interface; without CAP_NET_RAW it cannot, which shows the check can fail.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v unshare >/dev/null; then
    bounding=$(unit_line l2tpd.service CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd,)
    lac_in_sandbox() { # BOUNDING-SET: prints the LAC's log after 3 s
        unshare --net --fork bash -c '
            ip link set lo up
            ip link add pk0 type veth peer name pk1 && ip link set pk0 up && ip link set pk1 up
            setpriv --bounding-set "-all,$1" --inh-caps=-all "$2/usr/sbin/l2tpd" lac \
                --pppoe-interface pk0 --lns 127.0.0.1:1701 --socket "$3/lac.sock" >"$3/lac.log" 2>&1 &
            pid=$!
            for _ in $(seq 30); do grep -q "access concentrator listening" "$3/lac.log" && break; sleep 0.1; done
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            cat "$3/lac.log"' _ "$1" "$root" "$root"
    }
    out=$(lac_in_sandbox "$bounding")
    if grep -q "PPPoE access concentrator listening" <<<"$out"; then
        echo "   l2tpd lac under the bounding set ($bounding): PPPoE interface open"
    else
        fail "l2tpd lac under the units' bounding set ($bounding) did not open its PPPoE interface: $out"
    fi
    out=$(lac_in_sandbox "$(sed 's/,+net_raw//' <<<"$bounding")")
    grep -q "PPPoE access concentrator listening" <<<"$out" &&
        fail "l2tpd lac opened its PPPoE interface without CAP_NET_RAW: the check above proves nothing"
else
    skip "not root, or setpriv/unshare missing: the LAC was not started under the units' bounding set"
fi

echo "== systemd-analyze verify"
if command -v systemd-analyze >/dev/null && [ -d /lib/systemd/system ]; then
    cp -n /lib/systemd/system/*.target /lib/systemd/system/*.slice "$root/lib/systemd/system/" 2>/dev/null || true
    for unit in l2tpd.service l2tpd@test.service; do
        # A parse warning leaves the status at 0: anything on stderr is a failure too.
        if ! err=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1) || [ -n "$err" ]; then
            fail "systemd-analyze verify $unit: $err"
        fi
    done
else
    skip "systemd-analyze missing (apt-get install systemd)"
fi

echo "== man pages render"
if command -v man >/dev/null && command -v groff >/dev/null; then
    pages=0
    for page in "$root"/usr/share/man/man1/*.1.gz; do
        pages=$((pages + 1))
        err=$(MANPAGER=cat MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$root/render.txt") || fail "man -l $(basename "$page"): $err"
        [ -z "$err" ] || fail "man -l $(basename "$page") warns: $err"
        grep -q '^NAME' "$root/render.txt" || fail "man -l $(basename "$page"): no NAME section"
    done
    [ "$pages" -ge 10 ] || fail "only $pages man pages"
else
    skip "man or groff missing (apt-get install man-db groff-base)"
fi

echo "== completions parse"
for b in l2tpd l2tpctl; do
    bash -n "$root/usr/share/bash-completion/completions/$b" || fail "bash completion of $b"
done

if [ "$failures" -gt 0 ]; then
    echo "check-package: $failures failure(s)" >&2
    exit 1
fi
echo "check-package: OK ($deb)"
