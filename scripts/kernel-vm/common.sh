# Shared settings for the project's kernel-vm harness (sourced by the other scripts): a small
# Debian 12 guest whose kernel has L2TP (PPPoL2TP) and PPP, booted under qemu inside a network
# namespace. Every value can be overridden from the environment. Several guests can run at once
# from one image when each gets its own KVMPEER_RUN and KVMPEER_NETNS (the tests do that).

KVMPEER_DIR=${KVMPEER_DIR:-/var/tmp/l2tp-rs-kvm}   # build artefacts (+ runtime state by default)
KVMPEER_NETNS=${KVMPEER_NETNS:-l2tprs-kvm}          # host-side network namespace
KVMPEER_TAP=${KVMPEER_TAP:-tap0}                    # tap device inside that namespace
KVMPEER_HOST_IP=${KVMPEER_HOST_IP:-198.51.100.1}    # host end of the tap (/24)
KVMPEER_GUEST_IP=${KVMPEER_GUEST_IP:-198.51.100.2}  # guest eth0 (/24)
KVMPEER_HOST_IP6=${KVMPEER_HOST_IP6:-2001:db8:100::1}
KVMPEER_GUEST_IP6=${KVMPEER_GUEST_IP6:-2001:db8:100::2}
KVMPEER_GUEST_MAC=${KVMPEER_GUEST_MAC:-52:54:00:4c:32:02}
KVMPEER_MEM=${KVMPEER_MEM:-512}                     # MiB
KVMPEER_SMP=${KVMPEER_SMP:-2}
KVMPEER_BOOT_TIMEOUT=${KVMPEER_BOOT_TIMEOUT:-120}   # seconds up.sh waits for "ready"
KVMPEER_ACCEL=${KVMPEER_ACCEL:-auto}                # auto | kvm | tcg (see kvmpeer_accel)
KVMPEER_KERNEL_PKG=${KVMPEER_KERNEL_PKG:-}          # e.g. linux-image-6.1.0-56-amd64; empty = what linux-image-amd64 depends on
KVMPEER_APPEND=${KVMPEER_APPEND:-}                  # extra kernel command line
# Extras for build.sh: Debian packages to fetch (their lib* dependencies come along), binaries
# from them (paths inside the packages, e.g. usr/bin/iperf3), whole trees to copy as they are
# (e.g. usr/lib/ipsec), and more kernel modules (e.g. sch_tbf esp4).
KVMPEER_EXTRA_PKGS=${KVMPEER_EXTRA_PKGS:-}   # iperf3 is always in the image
KVMPEER_EXTRA_BINS=${KVMPEER_EXTRA_BINS:-}
KVMPEER_EXTRA_TREES=${KVMPEER_EXTRA_TREES:-}
KVMPEER_EXTRA_MODULES=${KVMPEER_EXTRA_MODULES:-}

KVMPEER_IMG=$KVMPEER_DIR/img        # vmlinuz, initrd.img, kernel.release, build-info
KVMPEER_RUN=${KVMPEER_RUN:-$KVMPEER_DIR/run}   # qemu.pid, console.log, console.sock, monitor.sock
KVMPEER_SHARE=$KVMPEER_RUN/share    # 9p-shared with the guest, mounted there at /host

kvmpeer_die() { echo "kernel-vm: $*" >&2; exit 1; }

# qemu's pid if it is running (and really is our qemu), else nothing.
kvmpeer_qemu_pid() {
    local pid
    [ -s "$KVMPEER_RUN/qemu.pid" ] || return 1
    pid=$(cat "$KVMPEER_RUN/qemu.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# Which qemu accelerator to use.  "auto" picks kvm only where /dev/kvm is
# backed by hardware virtualisation (vmx/svm in /proc/cpuinfo).  On hosts
# whose /dev/kvm is the software PVM hypervisor (module kvm_pvm, e.g. this
# Firecracker VM) an unmodified Debian kernel runs hundreds of times slower
# under "kvm" than under TCG (measured: still decompressing after 150 s), so
# auto picks tcg there.
kvmpeer_accel() {
    case "$KVMPEER_ACCEL" in
        kvm|tcg) echo "$KVMPEER_ACCEL"; return ;;
    esac
    if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
        echo kvm
    else
        echo tcg
    fi
}
