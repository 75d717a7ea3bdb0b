#!/usr/bin/env bash
# The main job: an LNS and a client in one process on loopback UDP, built-in defaults, no root.
# A tunnel, several sessions, PPP with CHAP and IPCP, ICMP echo through every session.
# Extra arguments go to `l2tpd demo` (see `l2tpd demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p l2tpd
exec target/release/l2tpd demo "$@"
