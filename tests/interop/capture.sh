#!/bin/bash
# Packet capture inside a namespace of this run (dumpcap, pcapng).
#   capture.sh start NAME [NS] [IFACE]   default NS = the DUT namespace, IFACE = any
#   capture.sh stop NAME                 -> prints the pcapng path
# Files: $IOP_RUN/captures/NAME.pcapng. Every wait is bounded.
source "$(dirname "$0")/lib.sh"
need_root
need_cmd dumpcap
RUN="$IOP_RUN/captures"
mkdir -p "$RUN"
cmd=${1:-}; name=${2:-}
[ -n "$cmd" ] && [ -n "$name" ] || die "usage: $0 start|stop NAME [NS] [IFACE]"
case "$cmd" in
start)
    ns=${3:-$DUT_NS}; ifc=${4:-any}
    rm -f "$RUN/$name.pcapng"
    setsid ip netns exec "$ns" dumpcap -q -i "$ifc" -w "$RUN/$name.pcapng" >"$RUN/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    # wait until dumpcap has the interface open (it writes the pcapng header then)
    for i in $(seq 50); do [ -s "$RUN/$name.pcapng" ] && break; sleep 0.1; done
    [ -s "$RUN/$name.pcapng" ] || die "dumpcap did not start: $(cat "$RUN/$name.log")"
    info "capturing $ns/$ifc -> $RUN/$name.pcapng (pid $(cat "$RUN/$name.pid"))"
    ;;
stop)
    [ -f "$RUN/$name.pid" ] || die "no capture named $name"
    pid=$(cat "$RUN/$name.pid")
    sleep 0.3   # let the last packets reach the file
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$RUN/$name.pid"
    echo "$RUN/$name.pcapng"
    ;;
*) die "usage: $0 start|stop NAME [NS] [IFACE]" ;;
esac
