#!/usr/bin/env bash
# The crash journal's cost: session set-up rate and the LNS's CPU with daemon.state_dir off and
# on, in the same run. ROUNDS rounds (default 5), each one LNS without a state directory and
# one with, interleaved (off, on, off, on, ...: the machine's load falls on both alike); each
# is an `l2tpd loadgen` run of TUNNELS x SESSIONS sessions (CHAP-MD5 + IPCP, ended at once)
# against a fresh LNS on loopback. Prints each run, then the medians: sessions/s, LNS CPU
# seconds (user + system) per 1,000 sessions, and bytes the LNS wrote to files (its journal:
# /proc/PID/io wchar).
# Usage: scripts/bench-journal.sh [TUNNELS] [SESSIONS_PER_TUNNEL] [ROUNDS]
# FSYNC=1 turns daemon.state_fsync on; L2TPD_BIN=PATH measures another build. No root needed
# (interface_mode none); the pool is 198.18.0.0/15 (RFC 2544 benchmarking range).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-4}
S=${2:-2500}
ROUNDS=${3:-5}
PORT=${PORT:-27921}
if [ -n "${L2TPD_BIN:-}" ]; then
    BIN=$L2TPD_BIN
else
    cargo build --release -q -p l2tpd
    BIN=target/release/l2tpd
fi
dir=$(mktemp -d)
lns=
cleanup() {
    [ -n "$lns" ] && { kill "$lns" 2>/dev/null || true; wait "$lns" 2>/dev/null || true; }
    rm -rf "$dir"
}
trap cleanup EXIT

lns_config() {
    cat <<TOML
role = "lns"
[daemon]
management_socket = "$dir/lns.sock"
log_level = "warn"
TOML
    if [ "$1" = on ]; then
        printf 'state_dir = "%s/state"\n' "$dir"
        [ "${FSYNC:-0}" = 1 ] && printf 'state_fsync = true\n'
    fi
    cat <<TOML
[tunnel]
receive_window = 64
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
}

ticks() { awk '{print $14+$15}' "/proc/$lns/stat"; }
wchar() { awk '/^wchar/ {print $2}' "/proc/$lns/io"; }

# One run: prints "MODE RATE UP CPU_S WCHAR".
run() {
    lns_config "$1" >"$dir/lns.toml"
    chmod 600 "$dir/lns.toml"
    rm -rf "$dir/state"
    "$BIN" run --config "$dir/lns.toml" >"$dir/lns-$1.log" 2>&1 &
    lns=$!
    for _ in $(seq 50); do [ -S "$dir/lns.sock" ] && break; sleep 0.1; done
    local t0 w0 json t1 w1
    t0=$(ticks)
    w0=$(wchar)
    json=$("$BIN" loadgen --server "127.0.0.1:$PORT" --tunnels "$T" --sessions "$S" \
        --user load --password load-password --timeout 300 --json)
    t1=$(ticks)
    w1=$(wchar)
    kill "$lns"
    wait "$lns" 2>/dev/null || true
    lns=
    rm -f "$dir/lns.sock"
    python3 - "$1" "$json" "$((t1 - t0))" "$(getconf CLK_TCK)" "$((w1 - w0))" <<'EOF'
import json, sys
mode, j, ticks, hz, w = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(mode, f"{j['sessions_per_second']:.1f}", j['established'], f"{ticks / hz:.2f}", w)
EOF
}

: >"$dir/runs"
for _ in $(seq "$ROUNDS"); do
    for mode in off on; do
        line=$(run "$mode")
        echo "$line" | tee -a "$dir/runs"
    done
done
python3 - "$dir/runs" "$((T * S))" <<'EOF'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
med = {}
for mode in ("off", "on"):
    r = [x for x in runs if x[0] == mode]
    rate = statistics.median(float(x[1]) for x in r)
    up = min(int(x[2]) for x in r)
    cpu = statistics.median(float(x[3]) for x in r) / n * 1000
    wchar = statistics.median(int(x[4]) for x in r)
    med[mode] = (rate, cpu)
    print(f"state_dir {mode:3}: median {rate:,.0f} sessions/s, LNS CPU {cpu:.3f} s per 1,000 sessions, "
          f"{wchar / n:,.0f} bytes written per session (fewest up: {up}/{n}, {len(r)} runs)")
print(f"journal on/off: rate x{med['on'][0] / med['off'][0]:.2f}, CPU x{med['on'][1] / med['off'][1]:.2f}")
EOF
