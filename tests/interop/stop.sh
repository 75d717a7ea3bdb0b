#!/bin/bash
# Stop one peer of this run (l2tpns | xlns | xlac), or everything (all): kill the pids the
# scripts recorded, then what still runs inside this run's namespaces, delete the namespaces
# and /etc/netns/<ns>. Captures of the run are stopped by `all` too.
#   IOP_ID=… stop.sh all [--keep-logs]
source "$(dirname "$0")/lib.sh"
need_root
case "${1:-all}" in
l2tpns) stop_peer l2tpns "iop-l2tpns-$IOP_ID" ;;
xlns) stop_peer xlns "iop-xlns-$IOP_ID" ;;
xlac) stop_peer xlac "iop-xlac-$IOP_ID" ;;
all)
    [ -d "$IOP_RUN/captures" ] && kill_pidfiles "$IOP_RUN/captures"
    stop_peer xlac "iop-xlac-$IOP_ID"
    stop_peer xlns "iop-xlns-$IOP_ID"
    stop_peer l2tpns "iop-l2tpns-$IOP_ID"
    [ -n "${IOP_DUT_NS:-}" ] || del_ns "$DUT_NS"
    if [ "${2:-}" != --keep-logs ]; then rm -rf "$IOP_RUN"; fi
    ;;
*) die "usage: $0 l2tpns|xlns|xlac|all [--keep-logs]" ;;
esac
exit 0
