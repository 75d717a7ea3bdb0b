# Sourced by the xl2tpd scripts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_cmd xl2tpd xl2tpd-control ip python3

# start_xl2tpd NS : xl2tpd -D with $RUN/{xl2tpd.conf,l2tp-secrets}. xl2tpd always runs
# /usr/sbin/pppd on a pty, and the real pppd needs kernel PPP (/dev/ppp), so fake-pppd.py is
# bind-mounted over /usr/sbin/pppd inside xl2tpd's own mount namespace only (`ip netns exec`
# creates a private one per invocation; the host's pppd is untouched).
start_xl2tpd() {
    local ns=$1
    mkdir -p /var/run/xl2tpd   # xl2tpd-control puts its reply FIFO there
    chmod +x "$IOP_DIR/fake-pppd.py"
    start_bg xl2tpd "$ns" "$RUN/xl2tpd.log" sh -c \
        'mount --bind "$0" /usr/sbin/pppd && exec xl2tpd -D -c "$1/xl2tpd.conf" -s "$1/l2tp-secrets" -p "$1/xl2tpd.daemon-pid" -C "$1/l2tp-control"' \
        "$IOP_DIR/fake-pppd.py" "$RUN"
    wait_for_log "$RUN/xl2tpd.log" 'Listening on IP address' 10 "$(cat "$RUN/xl2tpd.pid")" || die "xl2tpd did not start"
    info "xl2tpd ready (pid $(cat "$RUN/xl2tpd.pid"), log $RUN/xl2tpd.log, PPP log $RUN/ppp.log)"
}

# apply_knobs : append optional settings to $RUN/xl2tpd.conf (its last section)
apply_knobs() {
    [ "${XL2TPD_CHALLENGE:-no}" = yes ] && echo "challenge = yes" >>"$RUN/xl2tpd.conf"
    [ "${XL2TPD_HIDDEN:-no}" = yes ] && echo "hidden bit = yes" >>"$RUN/xl2tpd.conf"
    [ -n "${XL2TPD_EXTRA:-}" ] && printf '%s\n' "$XL2TPD_EXTRA" >>"$RUN/xl2tpd.conf"
    return 0
}
