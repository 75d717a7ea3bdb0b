#!/bin/bash
# Make the xl2tpd LAC (xl2tpd-lac-start.sh) place or drop its call.
#   xl2tpd-dial.sh [connect]  -> exit 0 once the fake pppd logs "IPCP up" (bounded: DIAL_TIMEOUT, 30 s)
#   xl2tpd-dial.sh hangup     -> xl2tpd-control disconnect-lac (xl2tpd sends StopCCN, no CDN)
source "$(dirname "$0")/xl2tpd-common.sh"
RUN="$IOP_RUN/xlac"
[ -p "$RUN/l2tp-control" ] || die "xl2tpd LAC not running (xl2tpd-lac-start.sh)"
ctl() { timeout 10 xl2tpd-control -c "$RUN/l2tp-control" "$@"; }
case "${1:-connect}" in
connect)
    before=$(grep -c 'IPCP up' "$RUN/ppp.log" 2>/dev/null || true)
    ctl connect-lac dut || die "xl2tpd-control failed"
    for i in $(seq $(( ${DIAL_TIMEOUT:-30} * 10 ))); do
        n=$(grep -c 'IPCP up' "$RUN/ppp.log" 2>/dev/null || true)
        if [ "${n:-0}" -gt "${before:-0}" ]; then
            grep 'IPCP up' "$RUN/ppp.log" | tail -1
            exit 0
        fi
        sleep 0.1
    done
    echo "no 'IPCP up' within ${DIAL_TIMEOUT:-30}s; last lines of $RUN/xl2tpd.log:" >&2
    tail -25 "$RUN/xl2tpd.log" >&2
    exit 1
    ;;
hangup | disconnect)
    ctl disconnect-lac dut
    ;;
*) die "usage: $0 [connect|hangup]" ;;
esac
