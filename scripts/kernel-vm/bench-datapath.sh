#!/bin/bash
# Forwarding through l2tpd's two datapaths in the kernel-vm guest, in one run: an LNS in the
# guest's root namespace and a client in a guest namespace behind a veth pair, both on the
# same datapath, and iperf3 (TCP, client -> LNS) through the session; kernel and userspace
# runs interleaved, ROUNDS of each, medians and their ratio printed at the end.
#
#   scripts/kernel-vm/bench-datapath.sh [L2TPD_BINARY] [ROUNDS] [SECONDS]
#     default: target/release/l2tpd, 3 rounds, 5 s per iperf3 run
#
# The guest's CPU is emulated (TCG) where there is no hardware virtualisation: the figures
# compare the two datapaths on the same emulated machine, they are not line rates.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${1:-$ROOT/target/release/l2tpd}
ROUNDS=${2:-3}
SECS=${3:-5}
export KVMPEER_RUN=${KVMPEER_RUN:-/var/tmp/l2tp-rs-kvm/run-bench-$$}
export KVMPEER_NETNS=${KVMPEER_NETNS:-l2tprs-bench$$}
. "$HERE/common.sh"
[ -x "$BIN" ] || kvmpeer_die "no l2tpd binary at $BIN (cargo build --release -p l2tpd)"

"$HERE/build.sh" --if-needed >/dev/null
"$HERE/up.sh" >&2
trap '"$HERE/down.sh" >/dev/null 2>&1; rm -rf "$KVMPEER_RUN"' EXIT
cp "$BIN" "$KVMPEER_SHARE/l2tpd"
g() { "$HERE/guest-run.sh" -t 120 "$@"; }

# The userspace datapath's TUNs need the device node (the guest's /dev has none).
g 'mkdir -p /dev/net && { [ -c /dev/net/tun ] || mknod /dev/net/tun c 10 200; } && ip netns add c && ip link add vlns type veth peer name vc && ip link set vc netns c \
   && ip addr add 203.0.113.1/24 dev vlns && ip link set vlns up \
   && ip -n c addr add 203.0.113.2/24 dev vc && ip -n c link set vc up && ip -n c link set lo up' >&2

# One round: LNS and client on datapath $1, iperf3 through the session; prints Mbit/s.
round() {
    g "mode=$1; secs=$SECS"'
    /host/l2tpd lns --listen 203.0.113.1:1701 --pool 192.0.2.10-192.0.2.20 --local-ip 192.0.2.1 \
        --user alice:secret --socket /run/lns.sock --datapath $mode >/tmp/lns.log 2>&1 &
    sleep 1
    ip netns exec c /host/l2tpd client --server 203.0.113.1 --user alice --password secret \
        --socket /run/c.sock --datapath $mode >/tmp/c.log 2>&1 &
    i=0; while ! ip netns exec c ip -o addr 2>/dev/null | grep -q "inet 192.0.2.1[0-9] peer 192.0.2.1/32"; do
        i=$((i+1)); [ $i -gt 600 ] && { echo "no session up ($mode)" >&2; cat /tmp/lns.log /tmp/c.log >&2; exit 1; }
        sleep 0.1
    done
    iperf3 -s -B 192.0.2.1 -1 -D >/dev/null 2>&1; sleep 0.5
    ip netns exec c iperf3 -c 192.0.2.1 -t $secs -f m 2>&1 | awk "/receiver/ {print \$7}"
    kill $(pidof l2tpd) 2>/dev/null; sleep 1; kill -9 $(pidof l2tpd) 2>/dev/null; true'
}

kernel=() userspace=()
for r in $(seq 1 "$ROUNDS"); do
    for mode in kernel userspace; do
        v=$(round $mode | tail -1)
        echo "round $r $mode: $v Mbit/s" >&2
        if [ $mode = kernel ]; then kernel+=("$v"); else userspace+=("$v"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mk=$(median "${kernel[@]}") mu=$(median "${userspace[@]}")
echo "kernel datapath:    ${kernel[*]} Mbit/s, median $mk"
echo "userspace datapath: ${userspace[*]} Mbit/s, median $mu"
awk -v k="$mk" -v u="$mu" 'BEGIN {printf "ratio kernel/userspace: %.2f\n", k/u}'
