#!/usr/bin/env bash
# LNS failover at scale (root: network namespaces, a veth pair, raw sockets).
# `l2tpd loadgen --pppoe-interface` brings up SUBSCRIBERS emulated PPPoE subscribers at RATE
# a second through our LAC, whose default group holds two of our LNSes of equal preference
# (127.0.0.1 and 127.0.0.2 of the LAC namespace's loopback; pools 198.18.0.0/16 and
# 198.19.0.0/16, interface_mode none). Halfway through the arrivals LNS A is stopped by pid
# with SIG (KILL, the default: no StopCCN, the LAC finds out when its HELLO goes unanswered;
# or TERM: StopCCN). Then, per run:
#   recovery_s: from the kill until every subscriber is settled at the LAC (each call placed
#     has come up or failed, every subscriber left is relaying, and all of them to LNS B);
#   lost: subscribers up on A that heard a PADT; retried: calls placed again toward B after
#     A failed them; lockouts: the LAC's lns_lockouts; up_end: subscribers up at the end.
# Each run uses fresh daemons; medians over RUNS are printed as one JSON line.
# Usage: scripts/bench-lac-failover.sh [SUBSCRIBERS] [RUNS]   (defaults 3000 and 3)
# RATE=N PADIs a second (default 500); SIG=KILL|TERM; HELLO=S and RETRIES=N the LAC's
# tunnel.hello_interval and tunnel.retries (defaults 2 and 3); HOLD=S how long the
# loadgen holds the sessions once all are settled (default 10); L2TPD_BIN / L2TPCTL_BIN
# measure other builds; LAC_LOG=PATH keeps the LAC's log of run R as PATH.R (LAC_LOG_LEVEL=info
# for a line per subscriber).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}
RUNS=${2:-3}
RATE=${RATE:-500}
SIG=${SIG:-KILL}
HELLO=${HELLO:-2}
RETRIES=${RETRIES:-3}
HOLD=${HOLD:-10}
if [ "$(id -u)" != 0 ]; then
    echo "bench-lac-failover: needs root (network namespaces, raw sockets)" >&2
    exit 1
fi
if [ -n "${L2TPD_BIN:-}" ]; then
    BIN=$(realpath "$L2TPD_BIN")
    CTL=$(realpath "${L2TPCTL_BIN:-$(dirname "$BIN")/l2tpctl}")
else
    cargo build --release -q -p l2tpd -p l2tpctl
    BIN=$PWD/target/release/l2tpd
    CTL=$PWD/target/release/l2tpctl
fi
id=$$
NS=bfo-$id        # LAC and both LNSes
GEN=bfg-$id       # the PPPoE subscribers
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$GEN" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns add "$GEN"
ip link add "bfa$id" type veth peer name "bfh$id"
ip link set "bfa$id" netns "$NS"
ip link set "bfh$id" netns "$GEN"
ip -n "$NS" link set lo up
ip -n "$NS" link set "bfa$id" up
ip -n "$GEN" link set lo up
ip -n "$GEN" link set "bfh$id" up

lns_toml() { # NAME LISTEN POOL LOCAL
    cat >"$dir/$1.toml" <<TOML
role = "lns"
[daemon]
management_socket = "$dir/$1.sock"
log_level = "warn"
[tunnel]
hello_interval = 60
secret = "bench-secret"
[ppp]
auth = ["chap-md5"]
lcp_echo_interval = 30
quality_interval = 0
[lns]
listen = ["$2"]
ipv4_pool = "$3"
local_ipv4 = "$4"
interface_mode = "none"
max_sessions = 200000
[[lns.users]]
name = "load@isp.example"
password = "load-password"
TOML
    chmod 600 "$dir/$1.toml"
}
lns_toml lnsa 127.0.0.1:1701 198.18.0.0/16 198.51.100.1
lns_toml lnsb 127.0.0.2:1701 198.19.0.0/16 198.51.100.2
cat >"$dir/lac.toml" <<TOML
role = "lac"
[daemon]
management_socket = "$dir/lac.sock"
log_level = "${LAC_LOG_LEVEL:-warn}"
[tunnel]
hello_interval = $HELLO
retries = $RETRIES
secret = "bench-secret"
[lac]
pppoe_interfaces = ["bfa$id"]
lns = [{ address = "127.0.0.1:1701" }, { address = "127.0.0.2:1701" }]
auth = ["chap-md5"]
max_sessions = 65534
padi_rate = 100000
lockout = 600
TOML
chmod 600 "$dir/lac.toml"

start() { # NAME: starts a daemon in $NS, waits for its socket; prints its pid
    ip netns exec "$NS" "$BIN" run --config "$dir/$1.toml" >"$dir/$1.log" 2>&1 &
    local p=$!
    for _ in $(seq 600); do [ -S "$dir/$1.sock" ] && break; sleep 0.05; done
    [ -S "$dir/$1.sock" ] || { cat "$dir/$1.log" >&2; exit 1; }
    echo "$p"
}
stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}
stats() { "$CTL" --socket "$dir/$1.sock" stats --json; }
now() { date +%s.%N; }

rows=()
for run in $(seq "$RUNS"); do
    rm -f "$dir"/*.sock
    a=$(start lnsa); pids+=("$a")
    b=$(start lnsb); pids+=("$b")
    lac=$(start lac); pids+=("$lac")
    sleep 0.2
    ip netns exec "$GEN" "$BIN" loadgen --pppoe-interface "bfh$id" --subscribers "$N" \
        --user load@isp.example --password load-password --rate "$RATE" --window 1024 \
        --hold "$HOLD" --timeout 300 --json >"$dir/gen.json" &
    g=$!
    pids+=("$g")
    sleep "$(awk -v n="$N" -v r="$RATE" 'BEGIN{printf "%.2f", n/r/2}')"
    kill "-$SIG" "$a"
    t_kill=$(now)
    # Settled: every call placed came up or failed for good, every subscriber left relays,
    # all of them to B. Bounded.
    settled=""
    for _ in $(seq 1200); do
        lac_js=$(stats lac) b_js=$(stats lnsb) || true
        if python3 -c '
import json, sys
def body(t):
    j = json.loads(t)
    j = j.get("data", j)
    return j if "role" in j else next(iter(j.values()))
lac = body(sys.argv[1])["lac"]
b = body(sys.argv[2])
n = int(sys.argv[3])
ok = lac["calls_up"] + lac["calls_failed"] >= n and lac["subscribers"] == lac["relaying"] == b["sessions"]
sys.exit(0 if ok else 1)' "$lac_js" "$b_js" "$N" 2>/dev/null; then
            settled=$(now)
            break
        fi
        sleep 0.1
    done
    [ -n "$settled" ] || { echo "run $run: not settled after 120 s" >&2; tail -20 "$dir/lac.log" >&2; exit 1; }
    recovery=$(awk -v a="$t_kill" -v b="$settled" 'BEGIN{printf "%.2f", b-a}')
    lac_js=$(stats lac)
    wait "$g"
    row=$(python3 -c '
import json, sys
j = json.loads(sys.argv[1])
j = j.get("data", j)
lac = (j if "role" in j else next(iter(j.values())))["lac"]
g = json.load(open(sys.argv[2]))
print(sys.argv[3], g["lost"], lac["calls_retried"], lac["lns_lockouts"],
      g["established"] - g["lost"], g["established"], g["failed"])' "$lac_js" "$dir/gen.json" "$recovery")
    read -r rec lost retried lockouts up_end est failed <<<"$row"
    why=$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["failures"]))' "$dir/gen.json")
    echo "run $run: SIG$SIG at $(awk -v n="$N" -v r="$RATE" 'BEGIN{printf "%.1f", n/r/2}') s; $est/$N came up, $failed never $why; $lost up on A lost (PADT), $retried calls placed again toward B, $lockouts lockout(s); $up_end up on B at the end; settled ${rec} s after the kill"
    rows+=("$rec $lost $retried $lockouts $up_end $failed")
    stop "$lac"; stop "$b"; kill -9 "$a" 2>/dev/null || true
    if [ -n "${LAC_LOG:-}" ]; then cp "$dir/lac.log" "$LAC_LOG.$run"; fi
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { local i=$1; shift; for r in "$@"; do echo "$r" | awk -v i="$i" '{print $i}'; done; }
printf '{"subscribers": %d, "runs": %d, "rate": %d, "signal": "%s", "hello_interval": %d, "retries": %d, "recovery_s": %s, "lost": %s, "retried": %s, "lockouts": %s, "up_at_end": %s, "never_up": %s}\n' \
    "$N" "$RUNS" "$RATE" "$SIG" "$HELLO" "$RETRIES" \
    "$(col 1 "${rows[@]}" | median)" "$(col 2 "${rows[@]}" | median)" "$(col 3 "${rows[@]}" | median)" \
    "$(col 4 "${rows[@]}" | median)" "$(col 5 "${rows[@]}" | median)" "$(col 6 "${rows[@]}" | median)"
