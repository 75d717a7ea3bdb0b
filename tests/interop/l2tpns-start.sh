#!/bin/bash
# Start l2tpns (LNS) + freeradius in netns iop-l2tpns-$IOP_ID, reachable from the DUT
# namespace at 192.0.2.1 udp/1701 (DUT side 192.0.2.2). Stop with stop.sh l2tpns.
#   PPP users (RADIUS): l2tptest/l2tptest -> pool 203.0.113.0/26; l2tpfixed/l2tpfixed -> 203.0.113.200
#   tunnel secret "secret" (used only to answer our Challenge; l2tpns never challenges)
#   ICMP echo to 198.51.100.1 is answered by the kernel behind l2tpns' tun0.
# Knob (env): L2TPNS_AUTHTYPES="pap" (default "chap,pap": CHAP-MD5 first, PAP after a Nak)
# Ready in about 3 s (cluster master election); every wait is bounded.
source "$(dirname "$0")/lib.sh"
need_root
need_cmd l2tpns freeradius radtest ip
PEER_NS="iop-l2tpns-$IOP_ID"
RUN="$IOP_RUN/l2tpns"
HERE="$IOP_DIR/l2tpns"
mkdir -p "$RUN"
rm -f "$RUN"/*.log "$RUN"/*.pid
make_peer_link "$PEER_NS" l2tpns0 192.0.2.1/28 to-l2tpns 192.0.2.2/28
chmod 755 "$RUN"

# freeradius: a private copy of the Debian config + the test users
rm -rf "$RUN/raddb"
cp -a /etc/freeradius/3.0 "$RUN/raddb"
authz="$RUN/raddb/mods-config/files/authorize"
{ cat "$HERE/radius-users"; cat "$authz"; } >"$authz.new"
mv "$authz.new" "$authz"
chown -R freerad:freerad "$RUN/raddb" 2>/dev/null || true
chmod 640 "$authz"
# the stock clients.conf has: client localhost { ipaddr = 127.0.0.1  secret = testing123 }
start_bg freeradius "$PEER_NS" "$RUN/freeradius.log" freeradius -X -d "$RUN/raddb"
wait_for_log "$RUN/freeradius.log" 'Ready to process requests' 20 "$(cat "$RUN/freeradius.pid")" \
    || die "freeradius did not start"
info "freeradius ready (pid $(cat "$RUN/freeradius.pid"))"
timeout 10 ip netns exec "$PEER_NS" radtest l2tptest l2tptest 127.0.0.1 0 testing123 | grep -q 'Access-Accept' \
    || die "radtest l2tptest failed (see $RUN/freeradius.log)"

# l2tpns: its config folder is fixed (/etc/l2tpns); `ip netns exec` bind-mounts
# /etc/netns/<ns>/l2tpns over it, so every run has its own.
mkdir -p "/etc/netns/$PEER_NS/l2tpns"
subst "$HERE/startup-config" "/etc/netns/$PEER_NS/l2tpns/startup-config"
cp "$HERE/ip_pool" "$HERE/users" "/etc/netns/$PEER_NS/l2tpns/"
# L2TPNS_AUTHTYPES="pap" (say): what l2tpns offers in LCP, most preferred first
[ -n "${L2TPNS_AUTHTYPES:-}" ] && sed -i "s/^set radius_authtypes .*/set radius_authtypes \"$L2TPNS_AUTHTYPES\"/" \
    "/etc/netns/$PEER_NS/l2tpns/startup-config"
start_bg l2tpns "$PEER_NS" "$RUN/l2tpns.stdout" l2tpns -c /etc/l2tpns/startup-config
wait_for_log "$RUN/l2tpns.log" 'I am declaring myself the master' 20 "$(cat "$RUN/l2tpns.pid")" \
    || die "l2tpns did not become ready"
info "l2tpns ready (pid $(cat "$RUN/l2tpns.pid"), log $RUN/l2tpns.log)"
