#!/usr/bin/env bash
# Forwarding through the whole daemon (issue 8, item 2). Root only.
#
# Two network namespaces joined by a veth pair (192.0.2.1/24 LNS side, 192.0.2.2/24 client
# side); `l2tpd lns` in one, `l2tpd client --sessions N` in the other, each with its TUNs.
# iperf3 (Debian's) sends from the client namespace to 198.51.100.1, the LNS's end of PPP
# session l2tp0, where the LNS namespace's kernel terminates it; the baseline is the same
# measurement over the plain veth (192.0.2.2 -> 192.0.2.1) in the same run, interleaved run by
# run with the tunnel so that machine load hits both alike. A second baseline, also interleaved:
# a raw TUN <-> UDP relay (crates/l2tp-io/examples/tun_udp_relay.rs, the same l2tp-io Tun,
# batched UdpSocket and Poller, no L2TP and no PPP) between a TUN `rly0` in each namespace
# (198.51.100.202 <-> 198.51.100.201, UDP 192.0.2.2:1702 <-> 192.0.2.1:1702), with the same MTU
# as l2tp0 and, like the daemon, TUN offloads (IFF_VNET_HDR, TSO) unless --relay-offload off.
# tunnel / relay is what L2TP + PPP cost; relay / veth what a userspace TUN path costs.
#
# Cases: UDP with 64- and 1400-byte payloads at an unlimited target rate (-b 0: saturating),
# the receiver's packet count and loss as reported back to the client; TCP (iperf3 default)
# client->LNS and LNS->client (-R). Each case RUNS times (default 3), medians printed. For the
# tunnel also: each daemon's CPU time (/proc/PID/stat) per packet it forwarded (l2tpctl stats),
# and where the kernel dropped packets (client l2tp0 queue, LNS L2TP socket, iperf3 socket,
# input backlog). Then, unless --no-perf: one extra 64-byte tunnel run (not in the medians)
# under `perf record -g` and `perf stat` (syscall tracepoints) on both daemons; printed: syscalls
# per second, time under each syscall (children), our functions, top symbols (self).
#
# Usage: scripts/bench-forward.sh [--sessions N]... [--runs R] [--secs S] [--no-perf]
#                                  [--relay-offload on|off]
#   --sessions N  sessions (and TUNs on each side) to bring up; repeat to compare (1 and 1000).
#                 Traffic goes through l2tp0 only; the other sessions are up and idle.
#   --relay-offload  TUN offloads in the relay baseline (default on, as in the daemon).
#   --perf-mode M    the case profiled under perf: udp64 (default), udp1400, tcp, tcp-rev.
#   --modes "M..."   the cases measured (default "udp64 udp1400 tcp tcp-rev").
#   --bin-dir DIR    use DIR/l2tpd and DIR/l2tpctl (e.g. an older build, for a before/after
#                    comparison on the same machine) instead of building them here.
# Addresses: documentation ranges (RFC 5737) for the links and pools up to 245 sessions; a pool
# of more than 245 addresses cannot fit in them, so larger N use 198.18.0.0/15 (RFC 2544's
# benchmarking range). Nothing leaves the two namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=()
RUNS=3
SECS=5
PERF=1
RELAY_OFFLOAD=on
PERF_MODE=udp64
MODES=(udp64 udp1400 tcp tcp-rev)
BIN_DIR=
while [ $# -gt 0 ]; do
    case "$1" in
    --sessions) SESSIONS+=("$2"); shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --no-perf) PERF=0; shift ;;
    --relay-offload) RELAY_OFFLOAD=$2; shift 2 ;;
    --perf-mode) PERF_MODE=$2; shift 2 ;;
    --modes) read -r -a MODES <<<"$2"; shift 2 ;;
    --bin-dir) BIN_DIR=$(cd "$2" && pwd); shift 2 ;;
    -h | --help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#SESSIONS[@]} -gt 0 ] || SESSIONS=(1)
if [ "$(id -u)" != 0 ]; then
    echo "bench-forward.sh needs root (network namespaces, TUN devices)" >&2
    exit 1
fi
for tool in iperf3 jq; do
    command -v "$tool" >/dev/null || {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >/dev/null
    }
done
PERF_BIN=/usr/bin/perf
[ -x "$PERF_BIN" ] || PERF=0

cargo build --release -q -p l2tp-io --example tun_udp_relay
RELAY=$PWD/target/release/examples/tun_udp_relay
if [ -n "$BIN_DIR" ]; then
    BIN=$BIN_DIR/l2tpd
    CTL=$BIN_DIR/l2tpctl
    BUILT="binaries in $BIN_DIR"
else
    cargo build --release -q -p l2tpd -p l2tpctl
    BIN=$PWD/target/release/l2tpd
    CTL=$PWD/target/release/l2tpctl
    BUILT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' + uncommitted changes')"
fi

id=$$
LNS_NS=l2b-lns-$id
CLI_NS=l2b-cli-$id
VA=vb${id}a
VB=vb${id}b
dir=$(mktemp -d /tmp/bench-forward.XXXXXX)
PIDS=()

# Stops a process we started: SIGTERM, bounded wait, SIGKILL.
stop_pid() {
    local p=$1
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
stop_all() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
}
cleanup() {
    stop_all
    ip netns del "$LNS_NS" 2>/dev/null || true
    ip netns del "$CLI_NS" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$LNS_NS"
ip netns add "$CLI_NS"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$LNS_NS"
ip link set "$VB" netns "$CLI_NS"
ip -n "$LNS_NS" addr add 192.0.2.1/24 dev "$VA"
ip -n "$CLI_NS" addr add 192.0.2.2/24 dev "$VB"
for nd in "$LNS_NS $VA" "$CLI_NS $VB"; do
    set -- $nd
    ip -n "$1" link set "$2" up
    ip -n "$1" link set lo up
done

# One iperf3 server in the LNS namespace for every case (it listens on every address).
ip netns exec "$LNS_NS" iperf3 -s -p 5201 >"$dir/iperf3-server.log" 2>&1 &
PIDS+=($!)

pool_for() {
    local n=$1
    if [ "$n" -le 11 ]; then echo 203.0.113.10-203.0.113.20
    elif [ "$n" -le 245 ]; then echo 203.0.113.10-203.0.113.254
    else echo 198.18.0.0/15
    fi
}

# Client-side l2tp interfaces holding an IPv4 address.
client_ifs_up() {
    ip -n "$CLI_NS" -o -4 addr show 2>/dev/null | awk '$2 ~ /^l2tp/' | wc -l
}

LNS_PID=
CLI_PID=
start_daemons() {
    local n=$1
    ip netns exec "$LNS_NS" "$BIN" lns --listen 192.0.2.1:1701 --pool "$(pool_for "$n")" \
        --local-ip 198.51.100.1 --user bench:bench-password --socket "$dir/lns.sock" \
        --log-level warn >"$dir/lns-$n.log" 2>&1 &
    LNS_PID=$! # `ip netns exec` execs: this is l2tpd's pid
    PIDS+=("$LNS_PID")
    for _ in $(seq 100); do [ -S "$dir/lns.sock" ] && break; sleep 0.1; done
    [ -S "$dir/lns.sock" ] || { echo "LNS did not start:"; cat "$dir/lns-$n.log"; exit 1; } >&2
    ip netns exec "$CLI_NS" "$BIN" client --server 192.0.2.1 --user bench \
        --password bench-password --sessions "$n" --socket "$dir/client.sock" \
        --log-level warn >"$dir/client-$n.log" 2>&1 &
    CLI_PID=$!
    PIDS+=("$CLI_PID")
    # Bounded wait: 60 s plus 0.3 s per session.
    local limit=$((600 + 3 * n)) t0=$SECONDS i=0 up=0
    while [ $i -lt $limit ]; do
        up=$(client_ifs_up)
        [ "$up" -ge "$n" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    if [ "$up" -lt "$n" ]; then
        echo "only $up of $n sessions up after $((limit / 10)) s" >&2
        tail -20 "$dir/client-$n.log" >&2
        exit 1
    fi
    echo "# $n session(s) up in $((SECONDS - t0)) s (client TUNs with addresses: $up)" >&2
    CLI_ADDR=$(ip -n "$CLI_NS" -o -4 addr show dev l2tp0 | awk '{print $4}' | cut -d/ -f1)
    # Let PPP settle (IPCP done on both sides) before loading the path.
    sleep 1
}

stop_daemons() {
    stop_pid "$CLI_PID"
    stop_pid "$LNS_PID"
    stop_pid "$RLNS_PID"
    stop_pid "$RCLI_PID"
    local keep=() p
    for p in "${PIDS[@]}"; do
        case " $CLI_PID $LNS_PID $RLNS_PID $RCLI_PID " in *" $p "*) ;; *) keep+=("$p") ;; esac
    done
    PIDS=("${keep[@]}")
    rm -f "$dir/lns.sock" "$dir/client.sock"
}

# The raw relay baseline: one relay per namespace, TUN rly0 with l2tp0's MTU.
RLNS_PID=
RCLI_PID=
start_relays() {
    local mtu flag=() ns
    mtu=$(ip -n "$CLI_NS" -o link show dev l2tp0 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)
    [ "$RELAY_OFFLOAD" = on ] && flag=(--offload)
    ip netns exec "$LNS_NS" "$RELAY" --tun rly0 --mtu "$mtu" --local 192.0.2.1:1702 \
        --peer 192.0.2.2:1702 "${flag[@]}" >"$dir/relay-lns.log" 2>&1 &
    RLNS_PID=$!
    PIDS+=("$RLNS_PID")
    ip netns exec "$CLI_NS" "$RELAY" --tun rly0 --mtu "$mtu" --local 192.0.2.2:1702 \
        --peer 192.0.2.1:1702 "${flag[@]}" >"$dir/relay-cli.log" 2>&1 &
    RCLI_PID=$!
    PIDS+=("$RCLI_PID")
    for ns in "$LNS_NS" "$CLI_NS"; do
        for _ in $(seq 50); do ip -n "$ns" link show rly0 >/dev/null 2>&1 && break; sleep 0.1; done
    done
    ip -n "$LNS_NS" addr add 198.51.100.201 peer 198.51.100.202/32 dev rly0
    ip -n "$CLI_NS" addr add 198.51.100.202 peer 198.51.100.201/32 dev rly0
    echo "# relay up (rly0, mtu $mtu, offload $RELAY_OFFLOAD)" >&2
}

# Packets a relay's TUN handled: client side read (tx), LNS side written (rx).
rly() { ip netns exec "$1" cat "/sys/class/net/rly0/statistics/$2_packets" 2>/dev/null || echo 0; }

# iperf3 client in the client namespace; prints the JSON result to stdout.
# path: veth | relay | tunnel; mode: udp64 | udp1400 | tcp | tcp-rev
iperf() {
    local path=$1 mode=$2 args=(-J -t "$SECS" -p 5201 --connect-timeout 3000)
    case "$path" in
    veth) args+=(-c 192.0.2.1 -B 192.0.2.2) ;;
    relay) args+=(-c 198.51.100.201 -B 198.51.100.202 --bind-dev rly0) ;;
    *) args+=(-c 198.51.100.1 -B "$CLI_ADDR" --bind-dev l2tp0) ;;
    esac
    case "$mode" in
    udp64) args+=(-u -b 0 -l 64) ;;
    udp1400) args+=(-u -b 0 -l 1400) ;;
    tcp) ;;
    tcp-rev) args+=(-R) ;;
    esac
    timeout $((SECS + 20)) ip netns exec "$CLI_NS" iperf3 "${args[@]}"
}

# CPU ticks (user + system) a process has used.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

# Datapath packets a daemon has handled: LNS received, client sent (summed over sessions).
dp() { "$CTL" --socket "$dir/$1.sock" stats --json 2>/dev/null | jq -r ".datapath.$2" || echo 0; }

# Where tunnel packets were lost, as the kernel counted it: "tun l2tp app backlog": the
# client's l2tp0 queue (packets the client daemon did not read in time), the LNS's L2TP
# socket (ss skmem d), the LNS namespace's other UDP receive-buffer drops (the iperf3 server's
# socket: Udp RcvbufErrors minus the L2TP socket's), and the per-CPU input backlog
# (/proc/net/softnet_stat, machine-wide: TUN writes and veth transmits queue there).
sockdrops() {
    ip netns exec "$LNS_NS" ss -uanm "sport = :$1" 2>/dev/null |
        grep -o 'd[0-9]*)' | tr -dc '0-9\n' | awk '{s += $1} END {print s + 0}'
}
drops() {
    local tun l2tp rcvbuf backlog
    tun=$(ip netns exec "$CLI_NS" cat /sys/class/net/l2tp0/statistics/tx_dropped 2>/dev/null || echo 0)
    l2tp=$(sockdrops 1701)
    rcvbuf=$(ip netns exec "$LNS_NS" awk '/^Udp:/ {if (h) {print $6; exit} h = 1}' /proc/net/snmp)
    backlog=0
    for v in $(awk '{print $2}' /proc/net/softnet_stat); do backlog=$((backlog + 16#$v)); done
    echo "$tun $l2tp $((rcvbuf - l2tp)) $backlog"
}

# One measurement -> "pps bps loss% lns_us cli_us": UDP: packets/s received by the server,
# their payload bits/s, the loss it saw, and (tunnel) each daemon's CPU time (user + system,
# from /proc) per packet it handled (LNS: L2TP data received; client: sent), in µs; for
# the relay the same from its TUNs' counters (LNS rly0 written, client rly0 read);
# TCP: "0 bps 0 0 0" with the receiver's rate.
measure() {
    local path=$1 mode=$2 out l0 c0 l1 c1 nl0=0 nc0=0 nl1=0 nc1=0 lp=$LNS_PID cp=$CLI_PID
    local d0 d1
    [ "$path" = relay ] && { lp=$RLNS_PID; cp=$RCLI_PID; }
    if [ "$path" = tunnel ]; then nl0=$(dp lns rx_packets); nc0=$(dp client tx_packets); fi
    if [ "$path" = relay ]; then nl0=$(rly "$LNS_NS" rx); nc0=$(rly "$CLI_NS" tx); fi
    d0=$(drops)
    l0=$(ticks "$lp"); c0=$(ticks "$cp")
    out=$(iperf "$path" "$mode") || { echo "iperf3 failed ($path $mode): $out" >&2; echo "0 0 100 0 0 0 0 0 0"; return; }
    l1=$(ticks "$lp"); c1=$(ticks "$cp")
    if [ "$path" = tunnel ]; then nl1=$(dp lns rx_packets); nc1=$(dp client tx_packets); fi
    if [ "$path" = relay ]; then nl1=$(rly "$LNS_NS" rx); nc1=$(rly "$CLI_NS" tx); fi
    d1=$(drops)
    case "$mode" in
    udp*)
        # end.sum: the server's counts (packets sent, lost at the receiver) over the test.
        jq -r --argjson len "${mode#udp}" --argjson hz "$HZ" \
            --argjson dl $((l1 - l0)) --argjson dc $((c1 - c0)) \
            --argjson nl $((nl1 - nl0)) --argjson nc $((nc1 - nc0)) '.end.sum as $s
            | ($s.packets - $s.lost_packets) as $rx
            | ($rx / $s.seconds) as $pps
            | "\($pps) \($pps * $len * 8) \($s.lost_percent) \(if $nl > 0 then $dl / $hz * 1e6 / $nl else 0 end) \(if $nc > 0 then $dc / $hz * 1e6 / $nc else 0 end)"' <<<"$out" | tr -d '\n'
        # lost per second where the kernel counted it: l2tp0 queue, L2TP socket, iperf3 socket
        set -- $d0 $d1
        echo " $((($5 - $1) / SECS)) $((($6 - $2) / SECS)) $((($7 - $3) / SECS)) $((($8 - $4) / SECS))"
        ;;
    *) jq -r '"0 \(.end.sum_received.bits_per_second) 0 0 0 0 0 0 0"' <<<"$out" ;;
    esac
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

RESULTS=$dir/results # lines: sessions mode path run pps bps loss lns_us cli_us drops/s: tun l2tp app backlog
: >"$RESULTS"

for n in "${SESSIONS[@]}"; do
    start_daemons "$n"
    start_relays
    for mode in "${MODES[@]}"; do
        for r in $(seq "$RUNS"); do
            for path in veth relay tunnel; do
                read -r pps bps loss lus cus dt du da db < <(measure "$path" "$mode")
                echo "$n $mode $path $r $pps $bps $loss $lus $cus $dt $du $da $db" | tee -a "$RESULTS" >&2
            done
        done
    done
    if [ "$PERF" = 1 ]; then
        # Profiled 64-byte tunnel run (not counted in the medians): call graphs of both
        # daemons, and their syscalls counted by tracepoint over the same window.
        psecs=$((SECS > 3 ? SECS - 2 : 1))
        iperf tunnel "$PERF_MODE" >"$dir/perf-iperf-$n.json" &
        ip_pid=$!
        sleep 1
        pp=()
        for who in lns cli; do
            pid=$LNS_PID; [ "$who" = cli ] && pid=$CLI_PID
            "$PERF_BIN" record -q -g -p "$pid" -o "$dir/perf-$who-$n.data" -- sleep "$psecs" \
                >/dev/null 2>&1 &
            pp+=($!)
            "$PERF_BIN" stat -x, -o "$dir/perf-stat-$who-$n.csv" -p "$pid" \
                -e syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg \
                -e syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev \
                -e syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom \
                -e syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait \
                -- sleep "$psecs" >/dev/null 2>&1 &
            pp+=($!)
        done
        wait "${pp[@]}" || true
        wait "$ip_pid" || true
        echo
        echo "== perf, $n session(s), $PERF_MODE through the tunnel, ${psecs} s window =="
        jq -r '.end.sum_received.bits_per_second // empty | "iperf3: \(. / 1e6 | floor) Mbit/s"' \
            "$dir/perf-iperf-$n.json" 2>/dev/null || true
        jq -r '.end.sum | select(.packets) | "iperf3: \((.packets - .lost_packets) / .seconds | floor) pkt/s received, \(.lost_percent | floor)% lost"' \
            "$dir/perf-iperf-$n.json" 2>/dev/null || true
        for who in lns cli; do
            echo "-- l2tpd $who: syscalls per second --"
            awk -F, -v s="$psecs" '$3 ~ /sys_enter/ && $1 > 0 {
                sub("syscalls:sys_enter_", "", $3); printf "   %-12s %10.0f/s\n", $3, $1 / s }' \
                "$dir/perf-stat-$who-$n.csv"
            echo "-- l2tpd $who: self time by DSO --"
            "$PERF_BIN" report -i "$dir/perf-$who-$n.data" --stdio --no-children -g none \
                --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -5
            echo "-- l2tpd $who: time under each syscall, in softirq, and in our code (children) --"
            "$PERF_BIN" report -i "$dir/perf-$who-$n.data" --stdio --children -g none \
                --sort sym 2>/dev/null | grep -E ' (do_recvmmsg|__sys_sendto|__sys_sendmmsg|tun_chr_write_iter|tun_chr_read_iter|do_epoll_wait|net_rx_action|l2tp[a-z_]*::.*)$' | head -16
            echo "-- l2tpd $who: top symbols, self time --"
            "$PERF_BIN" report -i "$dir/perf-$who-$n.data" --stdio --no-children -g none \
                --sort sym --percent-limit 1.5 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
        done
    fi
    stop_daemons
done

echo
echo "Medians of $RUNS runs, $SECS s each; UDP: packets/s received by the server and its payload"
echo "bit rate (loss at the receiver in brackets), and CPU time per packet forwarded of the"
echo "relays and of the daemons (LNS side + client side); TCP: the receiver's rate."
echo "Ratios: tunnel / relay (what L2TP + PPP cost), tunnel / veth (the whole userspace path)."
echo "Drops/s are the tunnel's. $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
echo "kernel $(uname -r), l2tpd built from $BUILT; relay offload $RELAY_OFFLOAD."
echo
row() { printf '| %8s | %-22s | %20s | %20s | %20s | %6s | %6s | %13s | %13s | %24s |\n' "$@"; }
row sessions case "veth" "relay (rly0)" "tunnel (l2tp0)" "t/relay" "t/veth" "µs/pkt relay" "µs/pkt l2tpd" "drops/s tun,l2tp,app,backlog"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------: ------------------------ ---------------------: ---------------------: ---------------------: -------: -------: --------------: --------------: -------------------------:
label() {
    case "$1" in
    udp64) echo "UDP 64 B" ;; udp1400) echo "UDP 1400 B" ;;
    tcp) echo "TCP client->LNS" ;; tcp-rev) echo "TCP LNS->client" ;;
    esac
}
col() { awk -v n="$1" -v m="$2" -v p="$3" -v c="$4" '$1==n && $2==m && $3==p {print $c}' "$RESULTS" | median; }
mbit() { awk -v x="$1" 'BEGIN {printf "%.0f", x / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {printf f, b ? a / b : 0}'; }
for n in "${SESSIONS[@]}"; do
    for mode in "${MODES[@]}"; do
        bv=$(col "$n" "$mode" veth 6); br=$(col "$n" "$mode" relay 6); bt=$(col "$n" "$mode" tunnel 6)
        if [ "${mode#udp}" != "$mode" ]; then
            pv=$(col "$n" "$mode" veth 5); pr=$(col "$n" "$mode" relay 5); pt=$(col "$n" "$mode" tunnel 5)
            lv=$(col "$n" "$mode" veth 7); lr=$(col "$n" "$mode" relay 7); lt=$(col "$n" "$mode" tunnel 7)
            row "$n" "$(label "$mode") pkt/s" "$(printf '%.0f (%.0f%% lost)' "$pv" "$lv")" \
                "$(printf '%.0f (%.0f%% lost)' "$pr" "$lr")" \
                "$(printf '%.0f (%.0f%% lost)' "$pt" "$lt")" "$(ratio "$pt" "$pr" %.2f)" "$(ratio "$pt" "$pv" %.2f)" \
                "$(printf '%.1f + %.1f' "$(col "$n" "$mode" relay 8)" "$(col "$n" "$mode" relay 9)")" \
                "$(printf '%.1f + %.1f' "$(col "$n" "$mode" tunnel 8)" "$(col "$n" "$mode" tunnel 9)")" \
                "$(col "$n" "$mode" tunnel 10), $(col "$n" "$mode" tunnel 11), $(col "$n" "$mode" tunnel 12), $(col "$n" "$mode" tunnel 13)"
            row "$n" "$(label "$mode") Mbit/s" "$(mbit "$bv")" "$(mbit "$br")" "$(mbit "$bt")" "$(ratio "$bt" "$br" %.2f)" "$(ratio "$bt" "$bv" %.2f)" "" "" ""
        else
            row "$n" "$(label "$mode") Mbit/s" "$(mbit "$bv")" "$(mbit "$br")" "$(mbit "$bt")" "$(ratio "$bt" "$br" %.3f)" "$(ratio "$bt" "$bv" %.3f)" "" "" ""
        fi
    done
done
