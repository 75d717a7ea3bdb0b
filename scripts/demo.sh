#!/usr/bin/env bash
# The main job: a working demonstration on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "l2tp-rs: nothing to demonstrate yet" >&2
exit 1
