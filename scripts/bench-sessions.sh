#!/usr/bin/env bash
# Session-scale benchmark: an l2tpd LNS (interface_mode none, no root needed) on loopback and
# `l2tpd loadgen` opening TUNNELS x SESSIONS sessions, each completing PPP (CHAP-MD5 + IPCP).
# Prints the loadgen's JSON result and the LNS's resident memory before and after.
# Usage: scripts/bench-sessions.sh [TUNNELS] [SESSIONS_PER_TUNNEL] [HOLD_SECONDS]
# The pool is 198.18.0.0/15, the range RFC 2544 reserves for benchmarking: no packet ever
# leaves the process with those addresses (interface_mode none).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-4}
S=${2:-2500}
HOLD=${3:-0}
PORT=${PORT:-27901}
cargo build --release -q -p l2tpd
BIN=target/release/l2tpd
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
before=$(rss)
/usr/bin/time -f "loadgen cpu user %U sys %S wall %e" "$BIN" loadgen --server "127.0.0.1:$PORT" --tunnels "$T" --sessions "$S" \
    --user load --password load-password --hold "$HOLD" --json --timeout 300 &
gen=$!
# RSS while all sessions are up: sample until the generator starts hanging up.
peak=$before
while kill -0 "$gen" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.2
done
wait "$gen"
cpu=$(awk '{print $14+$15}' "/proc/$lns/stat")
echo "{\"lns_rss_idle_kib\": $before, \"lns_rss_peak_kib\": $peak, \"lns_cpu_ticks\": $cpu, \"sessions\": $((T*S))}"
