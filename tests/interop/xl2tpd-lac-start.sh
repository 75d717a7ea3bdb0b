#!/bin/bash
# xl2tpd as LAC (+ fake pppd as PPP client l2tptest/l2tptest) in netns iop-xlac-$IOP_ID
# (192.0.2.33). It dials the LNS under test at 192.0.2.34 udp/1701 (DUT_LNS_ADDR to change)
# with xl2tpd-dial.sh. Tunnel secret "secret".
# Knobs (env): XL2TPD_CHALLENGE=yes (xl2tpd challenges the LNS), XL2TPD_HIDDEN=yes,
#              XL2TPD_EXTRA='line' (more [lac dut] settings).   Stop: stop.sh xlac
source "$(dirname "$0")/xl2tpd-common.sh"
PEER_NS="iop-xlac-$IOP_ID"
RUN="$IOP_RUN/xlac"
HERE="$IOP_DIR/xl2tpd/lac"
mkdir -p "$RUN"
rm -f "$RUN"/*.log "$RUN"/*.pid "$RUN/l2tp-control"
make_peer_link "$PEER_NS" xlac0 192.0.2.33/28 to-xlac 192.0.2.34/28
subst "$HERE/xl2tpd.conf" "$RUN/xl2tpd.conf"
subst "$HERE/options.xl2tpd" "$RUN/options.xl2tpd"
cp "$HERE/l2tp-secrets" "$RUN/"
chmod 600 "$RUN/l2tp-secrets"
sed -i "s/^lns = .*/lns = ${DUT_LNS_ADDR:-192.0.2.34}/" "$RUN/xl2tpd.conf"
apply_knobs
start_xl2tpd "$PEER_NS"
