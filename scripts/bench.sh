#!/usr/bin/env bash
# Runs the load generator against a fresh Latchkey server and prints one line per scenario.
#
#   scripts/bench.sh                       # release build, SQLite, 1000 seeded users, 10 s per scenario
#   scripts/bench.sh --smoke               # debug build, 1 s per scenario (what CI runs)
#   scripts/bench.sh --database-url postgres://postgres@127.0.0.1:5432/latchkey_bench
#   scripts/bench.sh --users 100000 --scenarios "verify-totp signin-mfa"
#   scripts/bench.sh --sqlite-synchronous normal
#
# Server and load generator share this machine; see docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release duration=10s warmup=2s users=1000 challenges=4 concurrency=32 db="" scenarios=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) profile=debug duration=1s warmup=0s users=200 challenges=2 concurrency=8 ;;
    --database-url) db="$2"; shift ;;
    --users) users="$2"; shift ;;
    --challenges) challenges="$2"; shift ;;
    --concurrency) concurrency="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --scenarios) scenarios="$2"; shift ;;
    --sqlite-synchronous) export LATCHKEY_SQLITE_SYNCHRONOUS="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

flag=""; [ "$profile" = release ] && flag="--release"
cargo build -q $flag -p latchkey -p latchkey-bench
target="${CARGO_TARGET_DIR:-target}/$profile"

work=$(mktemp -d)
key="sk_live_benchmarkkey000000000000000000000000000000"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export LATCHKEY_BOOTSTRAP_SECRET_KEY="$key" LATCHKEY_DATA_DIR="$work/data" LATCHKEY_LOG_LEVEL=warn
if [ -n "$db" ]; then
  export DATABASE_URL="$db" LATCHKEY_MASTER_KEY="$(python3 -c 'import os;print(os.urandom(32).hex())')"
  # A clean database each run.
  psql "$db" -qc 'drop schema public cascade; create schema public' >/dev/null 2>&1 || true
fi
# The load generator's many users come from one address: lift the send limits it would hit.
"$target/latchkey" migrate >/dev/null
seed_out=$("$target/latchkey" seed --users "$users" --challenges "$challenges" --manifest "$work/manifest.jsonl")
echo "# $seed_out"
"$target/latchkey" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "# $(uname -m), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; $profile build; $( [ -n "$db" ] && echo PostgreSQL || echo SQLite ); $users users; $(date -u +%Y-%m-%dT%H:%MZ)"
# shellcheck disable=SC2086
"$target/latchkey-bench" --url "http://127.0.0.1:$port" --key "$key" --server-pid "$pid" \
  --concurrency "$concurrency" --duration "$duration" --warmup "$warmup" \
  --manifest "$work/manifest.jsonl" $scenarios
