#!/bin/bash
# Run l2tpns CLI commands (libcli over telnet on 127.0.0.1:23 inside the peer namespace) and
# print the output.  Example: l2tpns-cli.sh 'show session' 'show tunnels'
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || set -- 'show session'
timeout 20 ip netns exec "iop-l2tpns-$IOP_ID" python3 - "$@" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", 23), timeout=5)
def drain(t=0.5):
    out = b""; end = time.time() + t
    s.settimeout(0.1)
    while time.time() < end:
        try:
            d = s.recv(65536)
            if not d: break
            out += d; end = time.time() + t
        except socket.timeout:
            pass
    # strip telnet IAC negotiation (IAC cmd opt)
    clean = bytearray(); i = 0
    while i < len(out):
        if out[i] == 255 and i + 2 < len(out): i += 3; continue
        clean.append(out[i]); i += 1
    return clean.decode("latin-1")
drain()
for cmd in sys.argv[1:]:
    s.sendall(cmd.encode() + b"\r\n")
    print(drain().replace("\r", ""))
s.sendall(b"exit\r\n")
PY
