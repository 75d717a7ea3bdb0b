#!/usr/bin/env bash
# LAC relay scale benchmark (root: network namespaces, a veth pair, raw sockets).
# `l2tpd loadgen --pppoe-interface` brings up SUBSCRIBERS emulated PPPoE subscribers
# (discovery, LCP, CHAP-MD5, IPCP) over a veth pair toward our LAC (`role = "lac"`, [lac]),
# which relays each into an L2TP call to our LNS (interface_mode none) on the LAC
# namespace's loopback: userspace datapath everywhere. Baseline, in the same run: the
# same number of sessions straight from `l2tpd loadgen --server` (an L2TP LAC with a PPP
# client per call, one tunnel) to a fresh LNS. Each is run RUNS times (fresh daemons each
# time); the medians are printed with the ratios relay/direct.
#   sessions_per_second: subscribers up / seconds from the first PADI (or SCCRQ) to the
#     last IPCP up;
#   lac_rss_per_session_kib: (LAC peak RSS - LAC RSS before) / subscribers up;
#   lns_rss_per_session_kib: the same for the LNS (in both modes, for the ratio).
# Usage: scripts/bench-lac.sh [SUBSCRIBERS] [RUNS]     (defaults 2000 and 3)
# PADI_RATE=N sets the LAC's lac.padi_rate (default 5000: the relay, not the PADI limit, is
# measured); HOLD=S how long the sessions are held (default 2); L2TPD_BIN=PATH measures
# another build.
# Addresses: the pool is 198.18.0.0/15 (RFC 2544 benchmarking), which never leaves the LNS
# (interface_mode none); the access segment carries only PPPoE.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
RUNS=${2:-3}
HOLD=${HOLD:-2}
PADI_RATE=${PADI_RATE:-5000}
if [ "$(id -u)" != 0 ]; then
    echo "bench-lac: needs root (network namespaces, raw sockets)" >&2
    exit 1
fi
if [ -n "${L2TPD_BIN:-}" ]; then
    BIN=$(realpath "$L2TPD_BIN")
else
    cargo build --release -q -p l2tpd
    BIN=$PWD/target/release/l2tpd
fi
id=$$
NS=blac-$id       # LAC and LNS (and the direct loadgen)
GEN=bgen-$id      # the PPPoE subscribers
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$GEN" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns add "$GEN"
ip link add "bla$id" type veth peer name "blh$id"
ip link set "bla$id" netns "$NS"
ip link set "blh$id" netns "$GEN"
ip -n "$NS" link set lo up
ip -n "$NS" link set "bla$id" up
ip -n "$GEN" link set lo up
ip -n "$GEN" link set "blh$id" up

cat >"$dir/lns.toml" <<TOML
role = "lns"
[daemon]
management_socket = "$dir/lns.sock"
log_level = "warn"
[tunnel]
hello_interval = 60
secret = "bench-secret"
[ppp]
auth = ["chap-md5"]
lcp_echo_interval = 30
quality_interval = 0
[lns]
listen = ["127.0.0.1:1701"]
ipv4_pool = "198.18.0.0/15"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
max_sessions = 200000
[[lns.users]]
name = "load@isp.example"
password = "load-password"
TOML
cat >"$dir/lac.toml" <<TOML
role = "lac"
[daemon]
management_socket = "$dir/lac.sock"
log_level = "warn"
[tunnel]
hello_interval = 60
secret = "bench-secret"
[lac]
pppoe_interfaces = ["bla$id"]
lns = "127.0.0.1:1701"
auth = ["chap-md5"]
max_sessions = 65534
padi_rate = $PADI_RATE
TOML
chmod 600 "$dir/lns.toml" "$dir/lac.toml"

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() { # NAME CONFIG: starts a daemon in $NS, waits for its socket; prints its pid
    ip netns exec "$NS" "$BIN" run --config "$2" >"$dir/$1.log" 2>&1 &
    local p=$!
    for _ in $(seq 600); do [ -S "$dir/$1.sock" ] && break; sleep 0.05; done
    [ -S "$dir/$1.sock" ] || { cat "$dir/$1.log" >&2; exit 1; }
    echo "$p"
}
# Daemons are started in a command substitution: not this shell's children, so no `wait`.
stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    rm -f "$dir"/*.sock
}
# Runs the generator ($@) to completion while sampling the peak RSS of pids $WATCH.
measure() {
    "$@" >"$dir/gen.json" &
    local g=$!
    pids+=("$g")
    declare -gA peak=()
    for p in $WATCH; do peak[$p]=$(rss "$p"); done
    while kill -0 "$g" 2>/dev/null; do
        for p in $WATCH; do
            r=$(rss "$p" 2>/dev/null || echo 0)
            [ "$r" -gt "${peak[$p]}" ] && peak[$p]=$r
        done
        sleep 0.1
    done
    wait "$g"
}
field() { python3 -c "import json,sys; print(json.load(open('$dir/gen.json'))['$1'])"; }

relay=() direct=()
for run in $(seq "$RUNS"); do
    # Through the LAC.
    lns=$(start lns "$dir/lns.toml"); pids+=("$lns")
    lac=$(start lac "$dir/lac.toml"); pids+=("$lac")
    sleep 0.2
    lac0=$(rss "$lac"); lns0=$(rss "$lns")
    WATCH="$lac $lns"
    measure ip netns exec "$GEN" "$BIN" loadgen --pppoe-interface "blh$id" --subscribers "$N" \
        --user load@isp.example --password load-password --rate "$PADI_RATE" --window 1024 \
        --hold "$HOLD" --timeout 300 --json
    up=$(field established); sps=$(field sessions_per_second); distinct=$(field distinct_addresses)
    lac_per=$(awk -v a="$lac0" -v b="${peak[$lac]}" -v n="$up" 'BEGIN{printf "%.2f", (b-a)/n}')
    lns_per=$(awk -v a="$lns0" -v b="${peak[$lns]}" -v n="$up" 'BEGIN{printf "%.2f", (b-a)/n}')
    echo "run $run relay:  $up/$N up ($distinct distinct addresses), $(printf %.0f "$sps") sessions/s, LAC RSS ${lac0}->${peak[$lac]} KiB ($lac_per KiB/session), LNS $lns_per KiB/session"
    relay+=("$sps $lac_per $lns_per $up")
    stop "$lac"; stop "$lns"

    # Direct: the same number of calls from an L2TP loadgen, one tunnel.
    lns=$(start lns "$dir/lns.toml"); pids+=("$lns")
    sleep 0.2
    lns0=$(rss "$lns")
    WATCH="$lns"
    measure ip netns exec "$NS" "$BIN" loadgen --server 127.0.0.1:1701 --tunnels 1 --sessions "$N" \
        --secret bench-secret --user load@isp.example --password load-password --hold "$HOLD" --timeout 300 --json
    up=$(field established); sps=$(field sessions_per_second)
    lns_per=$(awk -v a="$lns0" -v b="${peak[$lns]}" -v n="$up" 'BEGIN{printf "%.2f", (b-a)/n}')
    echo "run $run direct: $up/$N up, $(printf %.0f "$sps") sessions/s, LNS $lns_per KiB/session"
    direct+=("$sps $lns_per $up")
    stop "$lns"
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { local i=$1; shift; for r in "$@"; do echo "$r" | awk -v i="$i" '{print $i}'; done; }
r_sps=$(col 1 "${relay[@]}" | median)
r_lac=$(col 2 "${relay[@]}" | median)
r_lns=$(col 3 "${relay[@]}" | median)
d_sps=$(col 1 "${direct[@]}" | median)
d_lns=$(col 2 "${direct[@]}" | median)
awk -v n="$N" -v runs="$RUNS" -v rs="$r_sps" -v rl="$r_lac" -v rn="$r_lns" -v ds="$d_sps" -v dn="$d_lns" 'BEGIN{
    printf "{\"subscribers\": %d, \"runs\": %d, \"relay_sessions_per_second\": %.0f, \"lac_rss_per_session_kib\": %.2f, \"relay_lns_rss_per_session_kib\": %.2f, \"direct_sessions_per_second\": %.0f, \"direct_lns_rss_per_session_kib\": %.2f, \"relay_over_direct_rate\": %.2f, \"lac_over_lns_rss_per_session\": %.2f}\n",
        n, runs, rs, rl, rn, ds, dn, rs/ds, (dn > 0 ? rl/dn : 0)
}'
