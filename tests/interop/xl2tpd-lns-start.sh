#!/bin/bash
# xl2tpd as LNS (+ fake pppd as PPP authenticator / address server) in netns iop-xlns-$IOP_ID,
# reachable from the DUT namespace at 192.0.2.17 udp/1701 (DUT side 192.0.2.18).
#   tunnel secret "secret"; PPP: CHAP-MD5 required, l2tptest/l2tptest, pool 203.0.113.10-20,
#   LNS PPP address 198.51.100.1 (the fake pppd answers ICMP echo to it), DNS 198.51.100.53.
# Knobs (env): XL2TPD_CHALLENGE=yes (xl2tpd challenges the LAC too), XL2TPD_HIDDEN=yes,
#              XL2TPD_EXTRA='line' (more [lns default] settings).   Stop: stop.sh xlns
source "$(dirname "$0")/xl2tpd-common.sh"
PEER_NS="iop-xlns-$IOP_ID"
RUN="$IOP_RUN/xlns"
HERE="$IOP_DIR/xl2tpd/lns"
mkdir -p "$RUN"
rm -f "$RUN"/*.log "$RUN"/*.pid "$RUN/l2tp-control"
make_peer_link "$PEER_NS" xlns0 192.0.2.17/28 to-xlns 192.0.2.18/28
subst "$HERE/xl2tpd.conf" "$RUN/xl2tpd.conf"
subst "$HERE/options.xl2tpd" "$RUN/options.xl2tpd"
cp "$HERE/l2tp-secrets" "$RUN/"
chmod 600 "$RUN/l2tp-secrets"
apply_knobs
# /etc/ppp of the namespace (bind-mounted by ip netns exec): the fake pppd's PPP secrets
mkdir -p "/etc/netns/$PEER_NS/ppp"
cp "$HERE/chap-secrets" "/etc/netns/$PEER_NS/ppp/chap-secrets"
cp "$HERE/chap-secrets" "/etc/netns/$PEER_NS/ppp/pap-secrets"
start_xl2tpd "$PEER_NS"
