#!/usr/bin/env bash
# Session-scale benchmark: an l2tpd LNS (interface_mode none, no root needed) on loopback and
# `l2tpd loadgen` opening TUNNELS x SESSIONS sessions, each completing PPP (CHAP-MD5 + IPCP).
# Prints the loadgen's JSON result, and the LNS's resident memory (idle, peak, while the
# sessions are held) and CPU (in all, and while the sessions are held).
# Usage: scripts/bench-sessions.sh [TUNNELS] [SESSIONS_PER_TUNNEL] [HOLD_SECONDS]
# RWS=N sets the LNS's receive window (default 64); QUALITY=SECS its line-quality probe
# interval (ppp.quality_interval, default 1; 0 turns probing off); L2TPD_BIN=PATH measures
# another build.
# The pool is 198.18.0.0/15, the range RFC 2544 reserves for benchmarking: no packet ever
# leaves the process with those addresses (interface_mode none).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-4}
S=${2:-2500}
HOLD=${3:-0}
PORT=${PORT:-27901}
# L2TPD_BIN=/path/to/l2tpd measures another build (for before/after figures) on this machine.
if [ -n "${L2TPD_BIN:-}" ]; then
    BIN=$L2TPD_BIN
else
    cargo build --release -q -p l2tpd
    BIN=target/release/l2tpd
fi
dir=$(mktemp -d)
trap 'kill "$lns" 2>/dev/null || true; wait "$lns" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat >"$dir/lns.toml" <<TOML
role = "lns"
[daemon]
management_socket = "$dir/lns.sock"
log_level = "warn"
[tunnel]
receive_window = ${RWS:-64}
hello_interval = 60
[ppp]
auth = ["chap-md5"]
lcp_echo_interval = 30
quality_interval = ${QUALITY:-1}
[lns]
listen = ["127.0.0.1:$PORT"]
ipv4_pool = "198.18.0.0/15"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
max_sessions = 200000
max_tunnels = 4096
[[lns.users]]
name = "load"
password = "load-password"
TOML
chmod 600 "$dir/lns.toml"
"$BIN" run --config "$dir/lns.toml" >"$dir/lns.log" 2>&1 &
lns=$!
for _ in $(seq 50); do [ -S "$dir/lns.sock" ] && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$lns/status"; }
ticks() { awk '{print $14+$15}' "/proc/$lns/stat"; }
now() { date +%s.%N; }
before=$(rss)
/usr/bin/time -f "loadgen cpu user %U sys %S wall %e" "$BIN" loadgen --server "127.0.0.1:$PORT" --tunnels "$T" --sessions "$S" \
    --user load --password load-password --hold "$HOLD" --json --timeout 300 >"$dir/gen.json" &
gen=$!
# Sample the LNS until the generator starts hanging up: peak RSS; and, once every session is
# up (the generator has printed its report), CPU and RSS over the hold (HELLOs and LCP echoes
# running, nothing else).
peak=$before
up_at="" up_ticks="" held_rss="" held_ticks="" held_at=""
while kill -0 "$gen" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    if [ -z "$up_at" ] && [ -s "$dir/gen.json" ]; then
        up_at=$(now); up_ticks=$(ticks)
    elif [ -n "$up_at" ] && awk -v a="$up_at" -v n="$(now)" -v h="$HOLD" 'BEGIN{exit !(n-a < h-0.5)}'; then
        held_rss=$r; held_ticks=$(ticks); held_at=$(now)
    fi
    sleep 0.2
done
wait "$gen"
cat "$dir/gen.json"
cpu=$(ticks)
hold_json=""
if [ -n "$held_at" ]; then
    hz=$(getconf CLK_TCK)
    idle=$(awk -v t0="$up_ticks" -v t1="$held_ticks" -v a="$up_at" -v b="$held_at" -v hz="$hz" \
        'BEGIN{printf "%.2f", 100*(t1-t0)/hz/(b-a)}')
    hold_json=", \"lns_rss_held_kib\": $held_rss, \"lns_cpu_percent_while_held\": $idle"
fi
echo "{\"lns_rss_idle_kib\": $before, \"lns_rss_peak_kib\": $peak, \"lns_cpu_ticks\": $cpu$hold_json, \"sessions\": $((T*S))}"
