#!/usr/bin/env bash
# Start-to-ready time of `latchkey serve` on an existing database: from spawning the process
# to the first 200 from /readyz (which needs the database). Prints one line per run.
#   scripts/ready-time.sh [runs]      (uses the release binary; builds it if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p latchkey
bin="${CARGO_TARGET_DIR:-target}/release/latchkey"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export LATCHKEY_DATA_DIR="$work" LATCHKEY_LOG_LEVEL=warn
"$bin" migrate >/dev/null 2>&1
"$bin" seed --users 1000 >/dev/null 2>&1
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
for _ in $(seq "${1:-5}"); do
  start=$(date +%s%N)
  "$bin" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.002; done
  echo "ready in $(( ($(date +%s%N) - start) / 1000000 )) ms"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
