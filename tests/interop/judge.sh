#!/bin/bash
# Wire-format verdict on a capture, by Wireshark's L2TP/PPP dissectors.
#   judge.sh FILE [--port N]... [--list] [--control]
# --port N  : also decode UDP port N as L2TP (1701 is decoded by default)
# --list    : first print one line per L2TP packet (the conversation), then "----"
# --control : then print one line per L2TP control message, tab-separated, for the checks
#             tshark does not make (L and S bits, Message Type first, Ns/Nr progression):
#             CTRL frame ip.src udp.srcport ip.dst udp.dstport tunnel length_bit seq_bit Ns Nr avp_types msg_type
# Prints the problem packets (malformed, or expert info of severity warning and above), then
# a summary line "judge: N L2TP packets, E malformed/error, W warning" on stderr.
# Exit status: 0 = clean, 1 = malformed packets or error-level expert info, 2 = warnings only.
# Needs no IOP_ID.
set -u
command -v tshark >/dev/null || { echo "missing tshark" >&2; exit 3; }
f=${1:-}; [ -f "$f" ] || { echo "usage: $0 FILE [--port N]... [--list] [--control]" >&2; exit 3; }
shift
dec=(); list=0; control=0
while [ $# -gt 0 ]; do
    case "$1" in
    --port) dec+=(-d "udp.port==$2,l2tp"); shift 2 ;;
    --list) list=1; shift ;;
    --control) control=1; shift ;;
    *) echo "unknown option $1" >&2; exit 3 ;;
    esac
done
T=(timeout 60 tshark -n -r "$f" "${dec[@]}")
if [ $list = 1 ]; then
    "${T[@]}" -Y 'l2tp' -T fields -E separator=$'\t' \
        -e frame.number -e ip.src -e ip.dst -e udp.srcport -e udp.dstport \
        -e l2tp.tunnel -e l2tp.session -e l2tp.Ns -e l2tp.Nr -e _ws.col.Info 2>/dev/null
    echo "----"
fi
if [ $control = 1 ]; then
    "${T[@]}" -Y 'l2tp.type == 1' -T fields -E separator=$'\t' -E occurrence=a -E aggregator=',' \
        -e frame.number -e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e l2tp.tunnel \
        -e l2tp.length_bit -e l2tp.seq_bit -e l2tp.Ns -e l2tp.Nr -e l2tp.avp.type -e l2tp.avp.message_type 2>/dev/null \
        | sed 's/^/CTRL\t/'
fi
FILTER='_ws.malformed || _ws.expert.severity >= warning'
"${T[@]}" -Y "$FILTER" -T fields -E separator='|' -E occurrence=a -E aggregator=';' \
    -e frame.number -e _ws.col.Protocol -e _ws.expert.message -e _ws.col.Info 2>/dev/null
total=$("${T[@]}" -Y 'l2tp' 2>/dev/null | wc -l)
errs=$("${T[@]}" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
warns=$("${T[@]}" -Y '_ws.expert.severity == warning' 2>/dev/null | wc -l)
echo "judge: $total L2TP packets, $errs malformed/error, $warns warning" >&2
[ "$errs" -gt 0 ] && exit 1
[ "$warns" -gt 0 ] && exit 2
exit 0
