#!/usr/bin/env bash
# Session set-up rate with RADIUS: the same `l2tpd loadgen` run (TUNNELS x SESSIONS, each
# session completing PPP with CHAP-MD5 and IPCP) against an l2tpd LNS authenticating from its
# local users, then against the same LNS authenticating every session with a FreeRADIUS on
# loopback (Access-Request; Accounting Start and Stop to the same server). Prints both JSON
# results and the ratio. Needs root (FreeRADIUS keeps root here) and the freeradius package.
# Usage: scripts/bench-radius.sh [TUNNELS] [SESSIONS_PER_TUNNEL]
# L2TPD_BIN=PATH measures another build. The pool is 198.18.0.0/15 (RFC 2544 benchmarking
# range; interface_mode none: no packet leaves the process).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-4}
S=${2:-250}
PORT=${PORT:-27911}
AUTH=${AUTH_PORT:-27912}
ACCT=$((AUTH + 1))
SECRET=bench-radius-secret
if [ -n "${L2TPD_BIN:-}" ]; then
    BIN=$L2TPD_BIN
else
    cargo build --release -q -p l2tpd
    BIN=target/release/l2tpd
fi
dir=$(mktemp -d)
lns=
fr=
cleanup() {
    [ -n "$lns" ] && { kill "$lns" 2>/dev/null || true; wait "$lns" 2>/dev/null || true; }
    [ -n "$fr" ] && { kill "$fr" 2>/dev/null || true; wait "$fr" 2>/dev/null || true; }
    rm -rf "$dir"
}
trap cleanup EXIT

# FreeRADIUS: a private copy of the system configuration with our site, client and user.
cp -a /etc/freeradius/3.0 "$dir/raddb"
rm -f "$dir"/raddb/sites-enabled/* "$dir/raddb/mods-enabled/eap"
cat >"$dir/raddb/sites-enabled/bench" <<EOF
server bench {
listen {
	type = auth
	ipaddr = 127.0.0.1
	port = $AUTH
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = $ACCT
}
authorize {
	preprocess
	chap
	files
	pap
}
authenticate {
	Auth-Type CHAP {
		chap
	}
	Auth-Type PAP {
		pap
	}
}
preacct {
	preprocess
}
accounting {
	update reply {
		&Message-Authenticator := 0x00
	}
	ok
}
post-auth {
	update reply {
		&Message-Authenticator := 0x00
	}
}
}
EOF
printf 'client loopback {\n\tipaddr = 127.0.0.1\n\tsecret = %s\n\trequire_message_authenticator = yes\n}\n' "$SECRET" >"$dir/raddb/clients.conf"
printf 'load\tCleartext-Password := "load-password"\n\tFramed-IP-Address = 255.255.255.254\n' >"$dir/raddb/mods-config/files/authorize"
sed -i -e 's/^\tuser = freerad/\t#user = freerad/' -e 's/^\tgroup = freerad/\t#group = freerad/' \
    -e "s|logdir = /var/log/freeradius|logdir = $dir|" \
    -e "s|run_dir = \${localstatedir}/run/\${name}|run_dir = $dir|" "$dir/raddb/radiusd.conf"
freeradius -f -d "$dir/raddb" >"$dir/freeradius.log" 2>&1 &
fr=$!
for _ in $(seq 100); do ss -Huln "sport = :$AUTH" | grep -q . && break; sleep 0.1; done

lns_config() {
    cat <<TOML
role = "lns"
[daemon]
management_socket = "$dir/lns.sock"
log_level = "warn"
[tunnel]
receive_window = 64
hello_interval = 60
[ppp]
auth = ["chap-md5"]
lcp_echo_interval = 30
[lns]
listen = ["127.0.0.1:$PORT"]
ipv4_pool = "198.18.0.0/15"
local_ipv4 = "198.51.100.1"
interface_mode = "none"
max_sessions = 200000
max_tunnels = 4096
TOML
    if [ "$1" = radius ]; then
        cat <<TOML
[radius]
spool_dir = "$dir/spool"
max_outstanding = 4096
[[radius.auth_servers]]
address = "127.0.0.1:$AUTH"
secret = "$SECRET"
[[radius.acct_servers]]
address = "127.0.0.1:$ACCT"
secret = "$SECRET"
TOML
    else
        printf '[[lns.users]]\nname = "load"\npassword = "load-password"\n'
    fi
}

run() {
    lns_config "$1" >"$dir/lns.toml"
    chmod 600 "$dir/lns.toml"
    "$BIN" run --config "$dir/lns.toml" >"$dir/lns-$1.log" 2>&1 &
    lns=$!
    for _ in $(seq 50); do [ -S "$dir/lns.sock" ] && break; sleep 0.1; done
    "$BIN" loadgen --server "127.0.0.1:$PORT" --tunnels "$T" --sessions "$S" \
        --user load --password load-password --timeout 120 --json
    kill "$lns"; wait "$lns" 2>/dev/null || true
    lns=
    rm -f "$dir/lns.sock"
}

local_json=$(run local)
radius_json=$(run radius)
echo "local:  $local_json"
echo "radius: $radius_json"
python3 - "$local_json" "$radius_json" <<'EOF'
import json, sys
l, r = (json.loads(a) for a in sys.argv[1:3])
print(f"sessions up: local {l['established']}/{l['requested']}, radius {r['established']}/{r['requested']}")
print(f"rate: local {l['sessions_per_second']:.0f}/s, radius {r['sessions_per_second']:.0f}/s, "
      f"ratio {r['sessions_per_second'] / l['sessions_per_second']:.2f}")
EOF
