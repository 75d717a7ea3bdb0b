# Shared helpers of the interop scripts. Source it; do not run it.
#
# Adapted from the peer recipes (l2tpns + freeradius, xl2tpd + a pppd stand-in, tshark), but
# every run is isolated: IOP_ID (required, unique per run, e.g. "t1234a") names the network
# namespaces and IOP_RUN (default /tmp/l2tpd-interop-$IOP_ID) holds configs, logs, pids and
# captures. Nothing outside $IOP_RUN, the namespaces iop-*-$IOP_ID and /etc/netns/iop-*-$IOP_ID
# is touched, and only processes these scripts started (or that run inside those namespaces)
# are ever stopped.
#
# Topology (documentation address ranges, veth pairs between namespaces):
#
#   netns iop-dut-ID   (the l2tpd under test; the Rust tests run it with ip netns exec)
#     to-l2tpns 192.0.2.2/28  <-> l2tpns0 192.0.2.1/28   netns iop-l2tpns-ID (l2tpns LNS + freeradius)
#     to-xlns   192.0.2.18/28 <-> xlns0   192.0.2.17/28  netns iop-xlns-ID   (xl2tpd LNS + fake pppd)
#     to-xlac   192.0.2.34/28 <-> xlac0   192.0.2.33/28  netns iop-xlac-ID   (xl2tpd LAC + fake pppd)
#
# Inside the tunnels: LNS side 198.51.100.1; pools in 203.0.113.0/24.

set -u
IOP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${IOP_ID:?IOP_ID must be set (unique per run)}"
case "$IOP_ID" in *[!A-Za-z0-9]*) echo "IOP_ID must be alphanumeric" >&2; exit 1 ;; esac
IOP_RUN="${IOP_RUN:-/tmp/l2tpd-interop-$IOP_ID}"
# IOP_DUT_NS: an existing namespace (a kernel-vm guest's, say) to use as the DUT namespace;
# it is the caller's, and stop.sh leaves it alone.
DUT_NS="${IOP_DUT_NS:-iop-dut-$IOP_ID}"

die() { echo "ERROR: $*" >&2; exit 1; }
info() { echo "[$(date +%H:%M:%S)] $*"; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"; }

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "missing '$c' (apt-get install l2tpns xl2tpd freeradius freeradius-utils ppp tcpdump tshark)"
    done
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

ensure_dut_ns() {
    mkdir -p "$IOP_RUN"
    chmod 755 "$IOP_RUN"   # freeradius drops to user freerad and reads its config below
    if ! ns_exists "$DUT_NS"; then
        ip netns add "$DUT_NS"
        ip -n "$DUT_NS" link set lo up
        echo "$DUT_NS" >>"$IOP_RUN/namespaces"
        info "created netns $DUT_NS"
    fi
}

# make_peer_link PEER_NS PEER_IF PEER_CIDR DUT_IF DUT_CIDR
make_peer_link() {
    local pns=$1 pif=$2 paddr=$3 dif=$4 daddr=$5
    ensure_dut_ns
    ns_exists "$pns" && die "netns $pns already exists"
    ip netns add "$pns"
    echo "$pns" >>"$IOP_RUN/namespaces"
    ip -n "$pns" link set lo up
    # created directly inside the namespaces: the names never clash with other runs
    ip link add "$dif" netns "$DUT_NS" type veth peer name "$pif" netns "$pns"
    # no IPv6 on the veths: keeps router solicitations etc. off the link (and the captures)
    ip netns exec "$pns" sysctl -qw "net.ipv6.conf.$pif.disable_ipv6=1"
    ip netns exec "$DUT_NS" sysctl -qw "net.ipv6.conf.$dif.disable_ipv6=1"
    ip -n "$pns" addr add "$paddr" dev "$pif"
    ip -n "$DUT_NS" addr add "$daddr" dev "$dif"
    ip -n "$pns" link set "$pif" up
    ip -n "$DUT_NS" link set "$dif" up
    info "netns $pns: $pif $paddr <-> $DUT_NS: $dif $daddr"
}

# start_bg NAME NS LOGFILE CMD... : runs CMD in NS, detached; its pid goes to $RUN/NAME.pid
# (setsid and `ip netns exec` both exec, so the pid is the command's own).
start_bg() {
    local name=$1 ns=$2 log=$3
    shift 3
    setsid ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

# wait_for_log FILE REGEX TIMEOUT_S [PID]
wait_for_log() {
    local f=$1 re=$2 t=$3 pid=${4:-} i=0
    while [ $i -lt $((t * 10)) ]; do
        grep -qE "$re" "$f" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "process $pid exited; last lines of $f:" >&2
            tail -20 "$f" >&2
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "timeout (${t}s) waiting for /$re/ in $f; last lines:" >&2
    tail -20 "$f" >&2
    return 1
}

# subst SRC DST : copy a template, replacing @RUN@ with the run directory
subst() { sed "s#@RUN@#$IOP_RUN#g" "$1" >"$2"; }

# kill_pidfiles DIR : TERM every pid recorded in DIR/*.pid (bounded wait, then KILL)
kill_pidfiles() {
    local dir=$1 f p i pids=()
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        case "$p" in '' | *[!0-9]*) rm -f "$f"; continue ;; esac
        kill "$p" 2>/dev/null && pids+=("$p")
        rm -f "$f"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    for i in $(seq 30); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && return 0
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    return 0
}

# del_ns NS : stop what still runs inside NS (only our runs' namespaces reach here), delete it
del_ns() {
    local ns=$1 p i
    ns_exists "$ns" || return 0
    for i in $(seq 30); do
        [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
        [ "$i" = 1 ] && for p in $(ip netns pids "$ns"); do kill "$p" 2>/dev/null; done
        sleep 0.1
    done
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || { sleep 0.3; ip netns del "$ns"; }
    rm -rf "/etc/netns/$ns"
    info "deleted netns $ns"
}

# stop_peer NAME PEER_NS : kill the peer's recorded pids, then its namespace
stop_peer() {
    local name=$1 pns=$2
    [ -d "$IOP_RUN/$name" ] && kill_pidfiles "$IOP_RUN/$name"
    del_ns "$pns"
}
